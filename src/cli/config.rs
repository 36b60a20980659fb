//! `lookout config init [FILE]`: writes the commented default `lookout.toml`
//! (every key, with the two trafficking signatures tuned for the demo
//! model) as a starting point for a deployment's own settings.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use crate::config::DEFAULT_TOML;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Write the commented default config to FILE (`-` for stdout).
    Init {
        #[arg(default_value = "lookout.toml", value_name = "FILE")]
        file: PathBuf,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(args: &ConfigArgs) -> Result<()> {
    match &args.command {
        ConfigCommand::Init { file, force } => {
            if file.as_os_str() == "-" {
                print!("{DEFAULT_TOML}");
                return Ok(());
            }
            if file.exists() && !force {
                bail!(
                    "{} already exists; pass --force to overwrite it",
                    file.display()
                );
            }
            crate::evidence::write_atomic(file, DEFAULT_TOML.as_bytes())
                .with_context(|| format!("writing {}", file.display()))?;
            eprintln!(
                "wrote {}; use it with `lookout screen --config {} ...`",
                file.display(),
                file.display()
            );
            Ok(())
        }
    }
}
