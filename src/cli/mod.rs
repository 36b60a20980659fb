//! Command-line interface: one file per subcommand.

pub mod args;
pub mod config;
pub mod eval;
pub mod export;
pub mod inspect;
pub mod screen;
pub mod serve;
pub mod store;
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
    /// Prepare a shared PostgreSQL review store, and bring runs' events and reviews into it.
    #[command(subcommand)]
    Store(store::StoreCommand),
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

/// Sets up log lines on stderr: at `warn` by default, `error` with
/// `--quiet`, `info` with `-v`, `debug` with `-vv`; `RUST_LOG` overrides.
/// Colour is used only when stderr is a terminal and `NO_COLOR` is unset
/// (<https://no-color.org>), so piped or captured logs carry no escape
/// codes; [`LogWriter`] keeps one event to one line block, without blanks.
pub fn init_logging(quiet: bool, verbose: u8) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("lookout={level},ort=error")));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter::default)
        .with_ansi(std::io::stderr().is_terminal() && !no_color)
        .with_target(false)
        .init();
}

/// Writes one formatted log event to stderr when dropped, with empty lines
/// removed and exactly one newline at the end. Messages from libraries
/// (GDAL, FFmpeg, ONNX Runtime) often end in a newline of their own, which
/// the formatter's newline would turn into a blank line.
#[derive(Default)]
pub struct LogWriter {
    buf: Vec<u8>,
}

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = without_blank_lines(&String::from_utf8_lossy(&self.buf));
        self.buf.clear();
        std::io::stderr().lock().write_all(text.as_bytes())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        // Logging has nowhere to report its own failure.
        let _ = std::io::Write::flush(self);
    }
}

/// `text` without lines that are empty or only whitespace, each remaining
/// line ended by one newline.
fn without_blank_lines(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .flat_map(|l| [l, "\n"])
        .collect()
}

/// An error and its causes on one line, joined by ": ", leaving out a
/// cause whose text is already part of the message (many errors embed
/// their source in their own text and also return it as `source()`, which
/// would otherwise print it twice).
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_events_lose_blank_lines() {
        assert_eq!(without_blank_lines("a\n\n"), "a\n");
        assert_eq!(without_blank_lines("a\r\n  \nb\n"), "a\nb\n");
        assert_eq!(without_blank_lines("\n"), "");
    }

    #[test]
    fn each_cause_is_printed_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot read config x.toml: {source}")]
        struct Embeds {
            source: std::io::Error,
        }
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = anyhow::Error::new(Embeds { source: io }).context("screening");
        let text = error_chain(&e);
        assert_eq!(text.matches("entity not found").count(), 1, "{text}");
        assert!(text.starts_with("screening: cannot read config x.toml"));
        // Causes that are not embedded are still given.
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_chain(&e), "outer: inner");
    }
}
