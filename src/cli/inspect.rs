//! `lookout inspect MODEL.onnx`: what lookout makes of a model, before a run
//! depends on it. The detected family and why, inputs and outputs with
//! dtypes and dynamic dimensions, class names and where they came from,
//! the preprocessing that will be used, and the execution providers this
//! machine's ONNX Runtime offers.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::detect::family::{Family, TensorDecl};
use crate::detect::onnx::{available_providers, ModelInfo, OnnxConfig, OnnxDetector};

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
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Parses a family name as the config writes it (`yolov8`, `detrlogits`, ...).
pub fn parse_family(name: &str) -> Result<Family> {
    serde_json::from_value(serde_json::Value::String(name.to_ascii_lowercase())).map_err(|_| {
        let names: Vec<String> = Family::ALL
            .iter()
            .map(|f| {
                serde_json::to_value(f)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        anyhow::anyhow!("unknown family {name:?}; choose from {}", names.join(", "))
    })
}

fn dims(d: &TensorDecl) -> String {
    let parts: Vec<String> = d
        .shape
        .iter()
        .enumerate()
        .map(
            |(i, &n)| match (n, d.symbols.get(i).filter(|s| !s.is_empty())) {
                (-1, Some(sym)) => sym.clone(),
                (-1, None) => "?".into(),
                (n, _) => n.to_string(),
            },
        )
        .collect();
    format!("[{}]", parts.join(", "))
}

/// The text report.
pub fn render(info: &ModelInfo, providers: &[String]) -> String {
    let mut s = String::new();
    let p = &info.preprocess;
    let _ = writeln!(s, "model      {}", info.path.display());
    let _ = writeln!(s, "family     {:?}", info.family);
    let _ = writeln!(s, "  because  {}", info.family_reason);
    let _ = writeln!(s, "inputs");
    for i in &info.inputs {
        let _ = writeln!(s, "  {:<20} {:<8} {}", i.name, i.dtype, dims(i));
    }
    let _ = writeln!(s, "outputs");
    for o in &info.outputs {
        let _ = writeln!(s, "  {:<20} {:<8} {}", o.name, o.dtype, dims(o));
    }
    let _ = writeln!(
        s,
        "classes    {} (from {})",
        info.labels.len(),
        info.labels_source
    );
    for (i, l) in info.labels.iter().enumerate() {
        let _ = writeln!(s, "  {i:>4} {l}");
    }
    let _ = writeln!(
        s,
        "preprocess {}x{} {:?} {:?} {:?}, scale {}, mean {:?}, std {:?}, pad {}",
        p.input_w, p.input_h, p.resize, p.layout, p.channels, p.scale, p.mean, p.std, p.pad_value
    );
    let _ = writeln!(s, "batch      up to {} frame(s) per call", info.max_batch);
    if !info.metadata.is_empty() {
        let _ = writeln!(s, "metadata");
        for (k, v) in &info.metadata {
            let v = if v.len() > 100 {
                format!("{}…", &v[..v.floor_char_boundary(100)])
            } else {
                v.clone()
            };
            let _ = writeln!(s, "  {k:<12} {v}");
        }
    }
    let _ = writeln!(s, "providers  {}", providers.join(", "));
    s
}

pub fn run(args: &InspectArgs) -> Result<()> {
    let mut config = OnnxConfig::new(&args.model);
    config.labels = args.labels.clone();
    config.ort_lib = args.ort_lib.clone();
    config.imgsz = args.imgsz;
    config.family = args.family.as_deref().map(parse_family).transpose()?;
    let detector = OnnxDetector::load(&config)?;
    let providers = available_providers(args.ort_lib.as_deref())?;
    let info = detector.info();
    if args.json {
        let mut v = serde_json::to_value(info)?;
        v["providers"] = serde_json::json!(providers);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render(info, &providers));
    }
    Ok(())
}
