//! `lookout export`: reviewed events out of a run, as a verifiable bundle,
//! as training annotations (COCO, CVAT, Label Studio), or as GeoJSON. The
//! writers are `crate::sink::export`'s.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::evidence::record::RunRecord;
use crate::evidence::seal;
use crate::sink::export::redact::{RedactConfig, Redactor};
use crate::sink::export::{self, Format};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The run folder.
    #[arg(value_name = "RUN_DIR")]
    pub run: PathBuf,
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Format,
    /// Which events: a status (confirmed, escalated, rejected, new), `all`,
    /// or event ids separated by commas.
    #[arg(long, default_value = "confirmed", value_name = "WHICH")]
    pub events: String,
    /// Where to write: a .zip for bundles, a .geojson file, a folder for the
    /// annotation formats [default: exports/<run>-<format> in the current folder].
    #[arg(short, long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Blur, in the exported frames, every face and every person who is
    /// not part of the event. The run keeps its untouched, sealed frames;
    /// the export records what was blurred.
    #[arg(long)]
    pub redact: bool,
    /// The CenterFace model for --redact [default: $LOOKOUT_FACE_MODEL, else
    /// .deps/centerface.onnx from scripts/setup.sh].
    #[arg(long, value_name = "ONNX")]
    pub face_model: Option<PathBuf>,
    /// Least face score blurred by --redact, 0–1: lower blurs more.
    #[arg(long, default_value_t = 0.3, value_name = "SCORE")]
    pub face_threshold: f32,
    /// Classes that --redact blurs when they are not part of the event,
    /// separated by commas.
    #[arg(long, default_value = "person", value_name = "CLASSES")]
    pub redact_classes: String,
    /// The run's detector, for --redact, when it is no longer where
    /// run.json says; its sha256 must be the run's.
    #[arg(long, value_name = "ONNX")]
    pub model: Option<PathBuf>,
    /// Also trust seals by this public key when checking the run before
    /// export (64 hex digits, or a file holding them, e.g. another
    /// machine's signing.pub); this machine's own key is always trusted.
    /// Repeat for several.
    #[arg(long, value_name = "KEY")]
    pub trust: Vec<String>,
    /// With a PostgreSQL store, the verdicts and audit log come from it,
    /// and the run is checked against it before export.
    #[command(flatten)]
    pub store: super::args::StoreArg,
}

pub fn run(args: &ExportArgs) -> Result<()> {
    if args.redact && !args.format.has_frames() {
        bail!("--redact applies to exports that carry frames (bundle, coco, cvat, labelstudio); GeoJSON has none");
    }
    if !(0.0..=1.0).contains(&args.face_threshold) {
        let t = args.face_threshold;
        bail!("--face-threshold {t} is not between 0 and 1");
    }
    let mut trusted = Vec::new();
    for t in &args.trust {
        trusted.push(seal::parse_public_key(t)?);
    }
    if let Some(own) = seal::own_public_key() {
        trusted.push(own);
    }
    // Nothing is read for the export, nor written, before the run is known
    // to hold and the place to write is known to be outside it.
    if !args.run.join("manifest.jsonl").is_file() {
        bail!(
            "{}: not a run folder (no manifest.jsonl)",
            args.run.display()
        );
    }
    let out =
        (args.out.clone()).unwrap_or_else(|| args.format.default_out(&export::run_id(&args.run)));
    export::check_out(&args.run, &out)?;
    let store = args.store.connect(None)?;
    export::check_run(&args.run, &trusted, store.as_deref())?;
    let chosen = export::choose(&args.run, &args.events, store.as_deref())?;
    let mut redactor = if args.redact {
        Some(redactor(args)?)
    } else {
        None
    };
    let done = export::export(chosen, args.format, redactor.as_mut(), &out)?;
    if redactor.is_some() {
        eprintln!(
            "redacted: {} face(s) and {} bystander(s) blurred in {} event(s)",
            done.faces_blurred, done.persons_blurred, done.events
        );
    }
    eprintln!("exported {} event(s) to {}", done.events, out.display());
    println!("{}", out.display());
    Ok(())
}

/// The redactor of `--redact`, with the run's own detector.
fn redactor(args: &ExportArgs) -> Result<Redactor> {
    let config = RedactConfig {
        face_model: args.face_model.clone(),
        face_threshold: args.face_threshold,
        classes: args.redact_classes.split(',').map(str::to_owned).collect(),
        model: args.model.clone(),
    };
    let run = RunRecord::read(&args.run)?;
    let detector = config.detector_config(&args.run, &run)?;
    let path = detector.model.path.clone().unwrap_or_default();
    let mut session = crate::run::Session::load_model(detector.clone())
        .with_context(|| format!("cannot load the run's detector {}", path.display()))?;
    Ok(Redactor::new(
        &config,
        &run,
        &detector,
        session.take_detector(),
    )?)
}
