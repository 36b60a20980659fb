//! `lookout verify`: checks run folders and bundles against their manifest
//! and seal, with their review record.

use std::path::PathBuf;

use std::io::Write;

use anyhow::Result;
use clap::Args;

use super::Exit;
use crate::evidence::record::RunRecord;
use crate::evidence::seal;
use crate::review::verify::{verify_bundle, verify_run, verify_run_in_store};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Run folders, or bundles (.zip) made by `lookout export`, to check.
    #[arg(required = true, value_name = "RUN_DIR_OR_BUNDLE")]
    pub runs: Vec<PathBuf>,
    /// Also trust seals by this public key: 64 hex digits, or a file holding
    /// them (e.g. another machine's signing.pub). This machine's own key is
    /// always trusted. Repeat for several.
    #[arg(long, value_name = "KEY")]
    pub trust: Vec<String>,
    /// With a PostgreSQL store, each run folder is also checked against
    /// what the store holds of it: its events and its review record.
    #[command(flatten)]
    pub store: super::args::StoreArg,
}

/// Prints every problem of every run, and a line per run. Exit status: 0
/// when every run holds, 1 when any does not, 2 when a folder is not a run.
pub fn run(args: &VerifyArgs) -> Result<Exit> {
    match check(args) {
        // A reader that stops early (`| head`) is not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(Exit::default())
        }
        other => other,
    }
}

fn check(args: &VerifyArgs) -> Result<Exit> {
    let mut out = std::io::stdout().lock();
    let mut trusted = Vec::new();
    for t in &args.trust {
        trusted.push(seal::parse_public_key(t)?);
    }
    if let Some(own) = seal::own_public_key() {
        trusted.push(own);
    }
    let store = args.store.connect(None)?;
    let mut outcome = Exit::default();
    for dir in &args.runs {
        let bundle = dir.is_file();
        if !bundle && !dir.join("manifest.jsonl").is_file() {
            eprintln!(
                "{}: not a run folder (no manifest.jsonl) nor a bundle",
                dir.display()
            );
            outcome.errors += 1;
            continue;
        }
        let report = match &store {
            _ if bundle => verify_bundle(dir, &trusted),
            Some(store) => verify_run_in_store(dir, store, &trusted),
            None => verify_run(dir, &trusted),
        };
        // What the run says of itself, beside whether its files hold.
        if !bundle {
            match RunRecord::read(dir) {
                Ok(record) => writeln!(out, "{}: run {}", dir.display(), record.status_line(dir))?,
                Err(e) => writeln!(out, "{}: run status unknown: {e}", dir.display())?,
            }
        }
        for p in &report.problems {
            writeln!(out, "{}: {p}", dir.display())?;
        }
        if report.holds() {
            let copies = match report.redacted {
                0 => String::new(),
                n => format!("; {n} redacted copies as the exporter signed them"),
            };
            writeln!(
                out,
                "{}: OK: {} manifest entries, every file as sealed, signed by {}{copies}",
                dir.display(),
                report.entries,
                report.signed_by.as_deref().unwrap_or("?")
            )?;
        } else {
            writeln!(
                out,
                "{}: FAILED: {} problem(s)",
                dir.display(),
                report.problems.len()
            )?;
            outcome.one = true;
        }
    }
    Ok(outcome)
}
