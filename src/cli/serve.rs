//! `lookout serve`: the review UI over run folders.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::config::Config;
use crate::evidence::seal::RunSigner;
use crate::review::server;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A run folder, or a folder of run folders (which need not exist
    /// yet: runs are listed as they appear).
    #[arg(default_value = "runs", value_name = "RUNS")]
    pub runs: PathBuf,
    /// Address to listen on [default: 127.0.0.1:8600, or [serve] listen].
    /// Port 0 picks a free one.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// Access token [default: [serve] token, else a fresh one printed at start].
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Also trust seals by this public key (64 hex digits, or a file
    /// holding them, e.g. another machine's signing.pub) when checking
    /// runs; this machine's own key is always trusted. Repeat for several.
    #[arg(long, value_name = "KEY")]
    pub trust: Vec<String>,
    /// Config file (for its [serve] and [store] tables).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// With a PostgreSQL store, the event list and every verdict are
    /// shared with the other `serve` processes on it; RUNS gives the
    /// evidence files.
    #[command(flatten)]
    pub store: super::args::StoreArg,
}

pub fn run(args: &ServeArgs) -> Result<()> {
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let listen: SocketAddr = match args.listen {
        Some(a) => a,
        None => config
            .serve
            .listen
            .parse()
            .with_context(|| format!("invalid [serve] listen {:?}", config.serve.listen))?,
    };
    let token = args
        .token
        .clone()
        .or(config.serve.token.clone())
        .unwrap_or_else(server::new_token);
    if token.len() < 16 {
        anyhow::bail!("the access token must be at least 16 characters");
    }
    if !listen.ip().is_loopback() {
        tracing::warn!(
            "listening on {listen}: the evidence is reachable from the network; \
             use a long token and put TLS in front"
        );
    }
    // Verdicts are sealed with this machine's key, like runs.
    let signer = RunSigner::load_or_create()?;
    let mut trusted = Vec::new();
    for t in &args.trust {
        trusted.push(crate::evidence::seal::parse_public_key(t)?);
    }
    let store = args.store.connect(config.store.url.as_deref())?;
    if let Some(s) = &store {
        eprintln!("review store: {}", s.shown());
    }
    let app = server::load(&args.runs, token.clone(), signer, trusted, store)?;
    Ok(server::serve(app, listen, |bound| {
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "http://{bound}/?token={token}");
        let _ = out.flush();
        eprintln!("review server on http://{bound}/ (open the address above; Ctrl-C stops it)");
    })?)
}
