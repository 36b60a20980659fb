//! `lookout store`: prepares a shared PostgreSQL review store and brings
//! run folders into it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::args::StoreArg;
use super::Exit;
use crate::evidence::record::RunRecord;
use crate::review::db::ReviewExport;
use crate::review::pg::{PgStore, StoredRun, SCHEMA_VERSION};
use crate::review::store::closed_events;

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Create or upgrade the store's tables (in the schema `lookout`).
    /// Workers and servers do this themselves when they connect; run it
    /// ahead, as the database's owner, when they connect with fewer rights.
    Migrate(MigrateArgs),
    /// Bring run folders into the store: their events, and the verdicts
    /// and audit log of their review.sqlite. Safe to repeat: a run already
    /// there is brought up to date, and its review record is kept.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub store: StoreArg,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Run folders to import.
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<PathBuf>,
    #[command(flatten)]
    pub store: StoreArg,
}

pub fn run(command: &StoreCommand) -> Result<Exit> {
    match command {
        StoreCommand::Migrate(args) => {
            let store = PgStore::open(&url(&args.store)?)?;
            let applied = store.migrate()?;
            if applied.is_empty() {
                println!(
                    "{}: schema version {SCHEMA_VERSION}, up to date",
                    store.shown()
                );
            }
            for (version, name) in applied {
                println!("{}: applied migration {version} ({name})", store.shown());
            }
            println!(
                "{}: {}",
                store.shown(),
                if store.encrypted()? {
                    "connected with TLS, the server's certificate checked"
                } else {
                    "connected without TLS (add ?sslmode=require to the URL to encrypt)"
                }
            );
            Ok(Exit::default())
        }
        StoreCommand::Import(args) => {
            let store = connect(&args.store)?;
            let mut exit = Exit::default();
            for dir in &args.runs {
                match import(&store, dir) {
                    Ok(line) => println!("{}: {line}", dir.display()),
                    Err(e) => {
                        eprintln!(
                            "{}: not imported: {}",
                            dir.display(),
                            super::error_chain(&e)
                        );
                        exit.errors += 1;
                    }
                }
            }
            Ok(exit)
        }
    }
}

/// The PostgreSQL store's URL, from the flag or the environment.
fn url(arg: &StoreArg) -> Result<String> {
    arg.url(None)?.context(
        "no PostgreSQL store given: pass --store postgres://user:password@host:port/database \
         or set $LOOKOUT_STORE",
    )
}

fn connect(arg: &StoreArg) -> Result<PgStore> {
    Ok(PgStore::connect(&url(arg)?)?)
}

fn import(store: &PgStore, dir: &std::path::Path) -> Result<String> {
    if !dir.join("run.json").is_file() {
        anyhow::bail!("not a run folder (no run.json)");
    }
    let record = RunRecord::read(dir)?;
    let events = closed_events(dir)?;
    let review = ReviewExport::read(dir)?;
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let run = StoredRun::of(&record, &canonical);
    let done = store.import(&run, &events, &review)?;
    let review_line = if done.review_present {
        "its review record was already there".to_owned()
    } else {
        format!("{} audit entries", done.audit)
    };
    Ok(format!(
        "run {}: {} event(s), {} new or changed, {} removed; {review_line}",
        run.run_id,
        events.len(),
        done.events,
        done.removed
    ))
}
