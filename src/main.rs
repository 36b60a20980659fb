//! The `lookout` binary: parse the command line, run the command, map the
//! result to an exit code. 0 = ok, 1 = flags found (with `--fail-on-flag`),
//! 2 = an error (printed with its whole cause chain, each cause once),
//! 130 = stopped by SIGINT or SIGTERM (the run sealed as interrupted).

use std::process::ExitCode;

use clap::Parser;
use lookout::cli::{self, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_logging(cli.quiet, cli.verbose);

    let done = cli::Exit::default();
    let result = match &cli.command {
        Command::Screen(args) => cli::screen::run(args, cli.quiet),
        Command::Watch(args) => cli::watch::run(args, cli.quiet),
        Command::Inspect(args) => cli::inspect::run(args).map(|()| done),
        Command::Eval(args) => cli::eval::run(args, cli.quiet).map(|()| done),
        Command::Config(args) => cli::config::run(args).map(|()| done),
        Command::Verify(args) => cli::verify::run(args),
        Command::Serve(args) => cli::serve::run(args).map(|()| done),
        Command::Store(command) => cli::store::run(command),
        Command::Export(args) => cli::export::run(args).map(|()| done),
        Command::Telemetry(args) => cli::telemetry::run(args),
    };
    match result {
        Ok(exit) if exit.errors > 0 => {
            eprintln!(
                "lookout: {} input(s) failed; see the messages above",
                exit.errors
            );
            ExitCode::from(2)
        }
        Ok(exit) if exit.one => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lookout: error: {}", cli::error_chain(&e));
            // 128 + SIGINT, as shells report a program a signal stopped.
            let interrupted = matches!(
                e.downcast_ref::<lookout::run::RunError>(),
                Some(lookout::run::RunError::Interrupted { .. })
            );
            ExitCode::from(if interrupted { 130 } else { 2 })
        }
    }
}
