//! `lookout inspect MODEL.onnx`: what lookout makes of a model, before a run
//! depends on it. The detected family and why, inputs and outputs with
//! dtypes and dynamic dimensions, class names and where they came from,
//! the role of each class and the signatures the model can drive, the
//! preprocessing that will be used, and the execution providers this
//! machine's ONNX Runtime offers.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::config::Config;
use crate::detect::describe::{describe, describe_rejected};
use crate::detect::family::Family;
use crate::detect::onnx::{available_providers, read_signature, OnnxConfig, OnnxDetector};
use crate::detect::roles::ClassRoles;
use crate::detect::DetectError;
use crate::run::{is_demo_model, DEMO_WARNING};
use crate::signature::drivable;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The ONNX model to describe.
    #[arg(value_name = "MODEL")]
    pub model: PathBuf,
    /// Class names file (one per line, or a YOLO data.yaml).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Decode as this family instead of guessing.
    #[arg(long, value_name = "FAMILY")]
    pub family: Option<String>,
    /// Input size for models with dynamic height and width [default: 640].
    #[arg(long, value_name = "PX")]
    pub imgsz: Option<u32>,
    /// ONNX Runtime library (libonnxruntime.so).
    #[arg(long, value_name = "FILE")]
    pub ort_lib: Option<PathBuf>,
    /// Config file (lookout.toml) whose `[roles]` and `[[signature]]`
    /// tables to check the model against [default: the built-in ones].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &InspectArgs) -> Result<()> {
    // The same bounds as `screen --imgsz` (the config's model.imgsz).
    if let Some(px) = args.imgsz {
        let max = crate::config::MAX_IMGSZ;
        if px == 0 || px > max {
            anyhow::bail!("--imgsz {px} px is not an input size between 1 and {max}");
        }
    }
    let mut config = OnnxConfig::new(&args.model);
    config.labels = args.labels.clone();
    config.ort_lib = args.ort_lib.clone();
    config.imgsz = args.imgsz;
    config.family = args.family.as_deref().map(Family::parse).transpose()?;
    let settings = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let detector = match OnnxDetector::load(&config) {
        Ok(d) => d,
        Err(e @ (DetectError::Family { .. } | DetectError::Unsupported { .. })) => {
            // Show what the model declares before the refusal, so the
            // refusal can be read against it.
            if let Ok(sig) = read_signature(&args.model, args.ort_lib.as_deref()) {
                if args.json {
                    let v = serde_json::json!({
                        "path": args.model,
                        "family": null,
                        "inputs": sig.inputs,
                        "outputs": sig.outputs,
                        "metadata": sig.metadata,
                        "error": e.to_string(),
                    });
                    println!("{}", serde_json::to_string_pretty(&v)?);
                } else {
                    print!("{}", describe_rejected(&args.model, &sig));
                }
            }
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let providers = available_providers(args.ort_lib.as_deref())?;
    let info = detector.info();
    let roles = ClassRoles::new(&info.labels, &settings.role_table()?);
    let signatures = drivable(settings.signature.as_deref(), &roles);
    if is_demo_model(info) {
        eprintln!("note: {DEMO_WARNING}");
    }
    if args.json {
        let mut v = serde_json::to_value(info)?;
        v["roles"] = serde_json::json!(roles.record());
        v["signatures"] = serde_json::json!(signatures);
        v["providers"] = serde_json::json!(providers);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", describe(info, &roles, &signatures, &providers));
    }
    Ok(())
}
