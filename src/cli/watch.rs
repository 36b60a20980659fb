//! `lookout watch`: screen live feeds (and files played in real time) with
//! the same signatures, events and evidence as `screen`, and alert within
//! a second (see [`crate::run::live`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::ModelArgs;
use super::Exit;
use crate::live::feeds::RtspTransport;
use crate::run::live::{self, LiveOptions};
use crate::run::{RunFolder, Session};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Feeds: rtsp://, udp://@:PORT, tcp://, srt://, https://…/index.m3u8,
    /// video files (played at their native rate), or names of the config's
    /// [[feed]] tables. With none, every [[feed]] of the config.
    #[arg(value_name = "FEED")]
    pub feeds: Vec<String>,
    /// How RTSP feeds carry their media, unless their [[feed]] table says:
    /// tcp (interleaved; no loss) or udp (RTP over UDP, for servers that
    /// offer nothing else).
    #[arg(long, value_enum, default_value_t = RtspTransport::Tcp, value_name = "HOW")]
    pub rtsp_transport: RtspTransport,
    /// Folder that receives the run folder.
    #[arg(short, long, default_value = "runs", value_name = "DIR")]
    pub out: PathBuf,
    /// Name of the run folder [default: UTC start time].
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Where alerts go, as JSON lines: `-` for stdout, or a file (appended).
    /// Repeat for several.
    #[arg(long, value_name = "DEST")]
    pub alerts: Vec<String>,
    /// POST each alert as JSON to this URL (http:// or https://); a slow
    /// or dead receiver never slows detection. Repeat for several.
    #[arg(long, value_name = "URL")]
    pub webhook: Vec<String>,
    /// Also alert when an open event's count changes.
    #[arg(long)]
    pub alert_updates: bool,
    /// Serve Prometheus /metrics and /healthz on this address.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Screen every frame instead of only the newest (a feed waits for
    /// detection; latency grows if detection is slower than the feed).
    #[arg(long)]
    pub no_drop: bool,
    /// Seconds a live feed may go without a frame before it counts as
    /// stalled and reconnects (connecting may take up to 10 s, or this
    /// long if longer: a stream decodes only from its first keyframe).
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = 10.0,
        value_name = "S"
    )]
    pub timeout: f64,
    /// Seconds open events survive a lost feed before they close.
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = 10.0,
        value_name = "S"
    )]
    pub lost_grace: f64,
    /// Stop after this many seconds (for drills and tests).
    #[arg(long, allow_negative_numbers = true, value_name = "S")]
    pub duration: Option<f64>,
    /// Also write every detection of every screened frame to
    /// detections.jsonl in the run folder.
    #[arg(long)]
    pub save_detections: bool,
    /// Play file feeds again from the start when they end (drills). Without
    /// it, a file feed that ends is finished. A [[feed]] table says
    /// `loop = true`.
    #[arg(long = "loop")]
    pub replay: bool,
    /// Which frames go to the detector: `full`, the newest of each feed
    /// whenever the detector is free; `adaptive`, every frame of a busy
    /// feed (something tracked, an event open), otherwise only where a
    /// cheap look sees motion, a cut or new ground, and at a base rate, so
    /// that one machine holds more feeds [default: the config's
    /// sampling.mode, else "full": a feed's sampling follows the news as
    /// it comes, so what it infers depends on timing].
    #[arg(long, value_enum, value_name = "MODE")]
    pub sample: Option<super::screen::SampleArg>,
    /// The Ed25519 key file that seals the run, made on first use
    /// [default: [output] signing_key of the config, else
    /// $LOOKOUT_SIGNING_KEY, else ~/.config/lookout/signing.key].
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub store: super::args::StoreArg,
}

pub fn run(args: &WatchArgs, quiet: bool) -> Result<Exit> {
    let mut config = args.model.config()?;
    config.store.url = args.store.url(config.store.url.as_deref())?;
    if let Some(mode) = args.sample {
        config.sampling.mode = Some(mode.into());
    }
    crate::evidence::seal::choose_key_path(
        args.signing_key.as_deref(),
        config.output.signing_key.as_deref(),
    );
    let session = Session::load(config)?;
    let outcome = live::watch(
        session,
        &LiveOptions {
            feeds: args.feeds.clone(),
            rtsp_transport: args.rtsp_transport,
            folder: RunFolder {
                out: args.out.clone(),
                run_id: args.run_id.clone(),
                save_detections: args.save_detections,
            },
            alerts: args.alerts.clone(),
            webhooks: args.webhook.clone(),
            alert_updates: args.alert_updates,
            metrics: args.metrics,
            no_drop: args.no_drop,
            replay: args.replay,
            timeout: args.timeout,
            lost_grace: args.lost_grace,
            duration: args.duration,
            verbose: !quiet,
        },
    )?;
    println!("{}", outcome.dir.display());
    Ok(Exit {
        errors: outcome.errors,
        one: false,
    })
}
