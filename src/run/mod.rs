//! The run layer: one assembly of the library for every driver.
//!
//! ```text
//! cli/*  ──Config──▶  Session (detector, signatures, clock, run record)
//!                        │
//!        ┌───────────────┼────────────────────┐
//!     batch (screen)   live (watch)        eval (eval --model)
//!     pipeline threads  newest frame/feed   the labelled images
//!        └──────────── detect::step ───────────┘   (preprocess, tiles,
//!                        │                          batches, merge)
//!                 Stream per input/feed (tracker, signatures, events)
//!                        │
//!                  sinks (evidence, GeoJSON, detections.jsonl, alerts)
//! ```
//!
//! A driver takes a [`Session`] and its own options, and returns what the
//! command reports. Everything a run writes goes through the sinks, and
//! `run.json` is one [`RunRecord`](crate::evidence::record::RunRecord).

pub mod batch;
pub mod eval;
pub mod live;
pub mod session;
pub mod shard;
pub mod signal;

pub use session::{is_demo_model, RunFolder, Session, DEMO_MODEL, DEMO_WARNING};

use std::path::PathBuf;

/// Why a run could not start or go on. A bad input is not one of these:
/// it is reported, counted and skipped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Detect(#[from] crate::detect::DetectError),
    #[error(transparent)]
    Evidence(#[from] crate::evidence::EvidenceError),
    #[error(transparent)]
    Sink(#[from] crate::sink::SinkError),
    #[error("the bundled demo model {DEMO_MODEL} is missing; pass --model MODEL.onnx")]
    NoDemoModel,
    #[error("no images or videos to screen in {0}")]
    NoInputs(String),
    #[error(
        "no feeds: name them on the command line (rtsp://…, udp://@:PORT, a file), \
         or as [[feed]] tables in the config (--config)"
    )]
    NoFeeds,
    #[error("invalid option {flag}: {message}")]
    Option { flag: &'static str, message: String },
    #[error(transparent)]
    Signature(#[from] crate::signature::SignatureError),
    #[error(transparent)]
    Feed(#[from] crate::live::feeds::FeedError),
    #[error(transparent)]
    Metrics(#[from] crate::live::metrics::MetricsError),
    #[error("cannot install the signal handler: {0}")]
    Signal(String),
    #[error(transparent)]
    Eval(#[from] eval::EvalRunError),
    #[error("feed {name}: {url} is neither a stream address (rtsp://, udp://, srt://, tcp://, http(s)://) nor {why}")]
    FeedFile {
        name: String,
        url: String,
        why: &'static str,
    },
    #[error(
        "interrupted by a signal; {} is sealed as interrupted, and \
         `lookout screen --resume {}` finishes it",
        dir.display(),
        dir.display()
    )]
    Interrupted { dir: PathBuf },
    /// `screen --shard` with a `--run-id` whose folder holds another run.
    #[error(
        "run folder {} exists and {why}; a shard is resumed by the same command, \
         with the same inputs, --shard, --shard-by, --shard-root and config; \
         pick another --run-id or --out for another run",
        dir.display()
    )]
    Retry { dir: PathBuf, why: String },
    #[error("a sink still holds the run folder {0}; it cannot be sealed")]
    RunStillShared(PathBuf),
}

/// What a driver reports back for the exit code.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Inputs that failed (missing, unreadable, damaged).
    pub errors: usize,
    /// Events opened.
    pub events: u64,
    /// The sealed run folder.
    pub dir: PathBuf,
}
