//! The `lookout` binary: parse the command line, run the command, map the
//! result to an exit code. 0 = ok, 1 = flags found (with `--fail-on-flag`),
//! 2 = an error (printed with its whole cause chain).

use std::process::ExitCode;

use clap::Parser;
use lookout::cli::{self, Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("lookout={level},ort=error")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();

    let result = match &cli.command {
        Command::Screen(args) => cli::screen::run(args, cli.quiet).map(|o| (o, args.fail_on_flag)),
        Command::Watch(args) => cli::watch::run(args, cli.quiet).map(|o| (o, false)),
        Command::Inspect(args) => {
            cli::inspect::run(args).map(|()| (cli::Outcome::default(), false))
        }
        Command::Eval(args) => {
            cli::eval::run(args, cli.quiet).map(|()| (cli::Outcome::default(), false))
        }
        Command::Config(args) => cli::config::run(args).map(|()| (cli::Outcome::default(), false)),
        Command::Verify(args) => cli::verify::run(args).map(|o| (o, true)),
        Command::Serve(args) => cli::serve::run(args).map(|()| (cli::Outcome::default(), false)),
        Command::Export(args) => cli::export::run(args).map(|()| (cli::Outcome::default(), false)),
    };
    match result {
        Ok((outcome, _)) if outcome.errors > 0 => {
            eprintln!(
                "lookout: {} input(s) failed; see the messages above",
                outcome.errors
            );
            ExitCode::from(2)
        }
        Ok((outcome, true)) if outcome.flagged > 0 => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lookout: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
