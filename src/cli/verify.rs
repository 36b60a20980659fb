//! `lookout verify`: checks run folders and bundles against their manifest
//! and seal, with their review record.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Exit;
use crate::evidence::seal;
use crate::review::verify::{verify_bundle, verify_run};

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
}

/// Prints every problem of every run, and a line per run. Exit status: 0
/// when every run holds, 1 when any does not, 2 when a folder is not a run.
pub fn run(args: &VerifyArgs) -> Result<Exit> {
    let mut trusted = Vec::new();
    for t in &args.trust {
        trusted.push(seal::parse_public_key(t)?);
    }
    if let Some(own) = seal::own_public_key() {
        trusted.push(own);
    }
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
        let report = if bundle {
            verify_bundle(dir, &trusted)
        } else {
            verify_run(dir, &trusted)
        };
        for p in &report.problems {
            println!("{}: {p}", dir.display());
        }
        if report.holds() {
            let copies = match report.redacted {
                0 => String::new(),
                n => format!("; {n} redacted copies as the exporter signed them"),
            };
            println!(
                "{}: OK: {} manifest entries, every file as sealed, signed by {}{copies}",
                dir.display(),
                report.entries,
                report.signed_by.as_deref().unwrap_or("?")
            );
        } else {
            println!(
                "{}: FAILED: {} problem(s)",
                dir.display(),
                report.problems.len()
            );
            outcome.one = true;
        }
    }
    Ok(outcome)
}
