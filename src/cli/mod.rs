//! Command-line interface: one file per subcommand.

pub mod args;
pub mod config;
pub mod eval;
pub mod export;
pub mod inspect;
pub mod screen;
pub mod serve;
pub mod telemetry;
pub mod verify;
pub mod watch;

use clap::{Parser, Subcommand};

/// lookout screens drone video and imagery for signatures of human
/// trafficking, and keeps every flag as evidence for human review.
#[derive(Debug, Parser)]
#[command(name = "lookout", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Log more (repeat for more detail). RUST_LOG overrides this.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bars and no log lines below errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Screen recorded video, images and folders; write a run folder of evidence.
    Screen(Box<screen::ScreenArgs>),
    /// Watch live feeds (RTSP, UDP, SRT, HLS) or files in real time: alerts within a second.
    Watch(Box<watch::WatchArgs>),
    /// Describe a model: family and why, inputs/outputs, classes, preprocessing, providers.
    Inspect(inspect::InspectArgs),
    /// Score a detector against labelled data (COCO metrics equal to pycocotools).
    Eval(Box<eval::EvalArgs>),
    /// Write a commented default lookout.toml (`lookout config init`).
    Config(config::ConfigArgs),
    /// Check run folders: every file, the manifest's hash chain, and its signature.
    Verify(verify::VerifyArgs),
    /// Review events in a local web UI: confirm, reject, escalate, with an audit log.
    Serve(serve::ServeArgs),
    /// Export reviewed events: a verifiable bundle, COCO, CVAT, Label Studio or GeoJSON.
    Export(export::ExportArgs),
    /// Show the drone telemetry lookout reads (ST 0601 KLV, EG 0104, DJI SRT/EXIF, CSV, GPX).
    Telemetry(telemetry::TelemetryArgs),
}

/// What a command tells `main` for the exit code: inputs that failed
/// (exit 2), and whether to exit 1 (events found with `--fail-on-flag`,
/// runs that do not verify).
#[derive(Debug, Clone, Copy, Default)]
pub struct Exit {
    pub errors: usize,
    pub one: bool,
}
