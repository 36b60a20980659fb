//! `lookout watch`: screen live feeds (and files played in real time) with
//! the same signatures, events and evidence store as `screen`.
//!
//! One thread per feed connects and decodes ([`crate::live`]); this thread
//! takes the newest frame of each feed in turn (round-robin, so a fast feed
//! cannot starve the others), detects, tracks, applies the signatures and
//! records events. Alerts go out as JSON lines when events open and close.
//! SIGINT or SIGTERM stops the watch cleanly: feeds disconnect, open events
//! close with the reason `shutdown`, and the run folder is sealed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use super::screen::{load, Loaded, ModelArgs};
use super::Outcome;
use crate::config::Config;
use crate::detect::Detector;
use crate::event::{EventUpdate, Step};
use crate::evidence::events::EventContext;
use crate::evidence::{RunWriter, EVENT_SCHEMA};
use crate::live::alerts::Alerts;
use crate::live::feeds::{FeedConfig, RtspTransport};
use crate::live::{self, Bell, Feed, FeedOptions, FeedSpec, FeedState};
use crate::signature::BuiltSignature;
use crate::source::raster::RasterOptions;
use crate::source::{OpenOptions, Sampling};
use crate::stream::Stream;

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
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub timeout: f64,
    /// Seconds open events survive a lost feed before they close.
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub lost_grace: f64,
    /// Stop after this many seconds (for drills and tests).
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
}

fn alert(feed: &Feed, update: &EventUpdate, latency_s: Option<f64>) -> serde_json::Value {
    let e = &update.event;
    json!({
        "alert": update.step,
        "time": super::screen::now_rfc3339(),
        "feed": feed.spec.name,
        "url": feed.spec.url,
        "event_id": e.id,
        "signature": e.signature,
        "kind": e.kind,
        "count": e.count,
        "reason": e.reason,
        "start_s": e.start_s,
        "at_s": update.at.pts_s,
        "close_reason": e.close_reason,
        "latency_ms": latency_s.map(|s| (s * 1000.0).round()),
    })
}

fn feed_name(url: &str, i: usize) -> String {
    let path = std::path::Path::new(url);
    if !url.contains("://") {
        if let Some(stem) = path.file_name() {
            return stem.to_string_lossy().into_owned();
        }
    }
    format!("feed{i}")
}

/// The feeds to watch, each with its index among the config's `[[feed]]`
/// tables when it comes from one. A FEED argument that names a table
/// selects it; any other is an address. With no argument, every table.
fn resolve_feeds(args: &[String], config: &Config) -> Result<Vec<(FeedConfig, Option<usize>)>> {
    let mut feeds: Vec<(FeedConfig, Option<usize>)> = if args.is_empty() {
        if config.feed.is_empty() {
            bail!(
                "no feeds: name them on the command line (rtsp://…, udp://@:PORT, a file), \
                 or as [[feed]] tables in the config (--config)"
            );
        }
        config
            .feed
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), Some(i)))
            .collect()
    } else {
        args.iter()
            .enumerate()
            .map(
                |(i, arg)| match config.feed.iter().position(|f| &f.name == arg) {
                    Some(k) => (config.feed[k].clone(), Some(k)),
                    None => (FeedConfig::from_url(feed_name(arg, i), arg.clone()), None),
                },
            )
            .collect()
    };
    // Two files of the same name, or a file named like a configured feed,
    // would be indistinguishable in alerts and metrics.
    let mut seen = std::collections::BTreeSet::new();
    for (i, (f, _)) in feeds.iter_mut().enumerate() {
        if !seen.insert(f.name.clone()) {
            f.name = format!("{}-{i}", f.name);
            seen.insert(f.name.clone());
        }
    }
    Ok(feeds)
}

pub fn run(args: &WatchArgs, quiet: bool) -> Result<Outcome> {
    let started_at = super::screen::now_rfc3339();
    let started = Instant::now();
    let config = {
        let c = args.model.config()?;
        c.validate()?;
        c
    };
    let model_path = config.model.path.clone().expect("config() sets the model");
    if !(args.timeout > 0.0 && args.lost_grace >= 0.0) {
        bail!("--timeout must be positive and --lost-grace not negative");
    }
    let Loaded {
        mut detector,
        info,
        signatures,
        thresholds,
        signatures_json,
        model_json,
    } = load(&config, &model_path)?;
    let configs = resolve_feeds(&args.feeds, &config)?;
    // Each feed's signatures, built now so that a mistake in any feed
    // stops the watch before it starts.
    let feed_signatures: Vec<Vec<BuiltSignature>> = configs
        .iter()
        .map(|(f, index)| match index {
            Some(i) => f.build_signatures(
                *i,
                config.signature.as_deref(),
                config.detect.conf,
                &info.labels,
            ),
            None => Ok(signatures.clone()),
        })
        .collect::<Result<_, _>>()?;
    let mut alerts = Alerts::open(&args.alerts, &args.webhook)?;
    let webhooks = alerts.webhooks();

    let feeds: Vec<Arc<Feed>> = configs
        .iter()
        .enumerate()
        .map(|(i, (f, _))| {
            Arc::new(Feed::new(
                FeedSpec {
                    name: f.name.clone(),
                    url: f.url.clone(),
                    file: std::path::Path::new(&f.url).is_file(),
                    rtsp_transport: f.rtsp_transport.unwrap_or(args.rtsp_transport),
                },
                i,
            ))
        })
        .collect();
    let metrics_addr = match args.metrics {
        Some(addr) => {
            let bound = live::metrics::serve(addr, feeds.clone(), webhooks.clone(), started)?;
            if !quiet {
                eprintln!("metrics on http://{bound}/metrics");
            }
            Some(bound)
        }
        None => None,
    };

    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| super::screen::default_run_id(&args.out));
    let mut writer = RunWriter::create(&args.out, &run_id)?;
    let run_json = |status: &str, finished_at: Option<String>, summary: serde_json::Value| {
        json!({
            "tool": {"name": "lookout", "version": env!("CARGO_PKG_VERSION")},
            "mode": "watch",
            "run_id": run_id,
            "status": status,
            "started_at": started_at,
            "finished_at": finished_at,
            "command": std::env::args().collect::<Vec<_>>(),
            "config": config,
            "thresholds": thresholds,
            "signatures": signatures_json,
            "model": model_json,
            "event_schema": EVENT_SCHEMA,
            "feeds": feeds.iter().zip(&feed_signatures).map(|(f, sigs)| json!({
                "name": f.spec.name,
                "url": f.spec.url,
                "file": f.spec.file,
                "rtsp_transport": f.spec.rtsp_transport,
                "signatures": sigs.iter().map(|s| json!({
                    "name": s.signature.name(),
                    "config_sha256": s.config_hash,
                })).collect::<Vec<_>>(),
                "state": f.state(),
                "frames_in": f.frames_in.load(Ordering::Relaxed),
                "frames_processed": f.frames_processed.load(Ordering::Relaxed),
                "dropped": f.dropped.load(Ordering::Relaxed),
                "reconnects": f.reconnects.load(Ordering::Relaxed),
                "events": f.events_opened.load(Ordering::Relaxed),
                "alert_latency_p99_s": f.latency.lock().expect("lock").quantile(0.99),
                "frame_latency_p50_s": f.frame_latency.lock().expect("lock").quantile(0.5),
                "frame_latency_p99_s": f.frame_latency.lock().expect("lock").quantile(0.99),
            })).collect::<Vec<_>>(),
            "metrics": metrics_addr.map(|a| a.to_string()),
            "webhooks": webhooks.iter().map(|(url, s)| json!({
                "url": url,
                "sent": s.sent.load(Ordering::Relaxed),
                "failed": s.failed.load(Ordering::Relaxed),
                "dropped": s.dropped.load(Ordering::Relaxed),
            })).collect::<Vec<_>>(),
            "summary": summary,
        })
    };
    writer.write_run_json(&run_json("running", None, json!(null)))?;

    // SIGINT and SIGTERM stop the watch; a second one exits at once.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let feeds = feeds.clone();
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            for f in &feeds {
                f.watchdog.stop.store(true, Ordering::SeqCst);
            }
        })
        .context("cannot install the signal handler")?;
    }

    let bell = Arc::new(Bell::default());
    let options = FeedOptions {
        open: OpenOptions {
            sampling: Sampling::default(),
            decode_threads: config.sampling.decode_threads,
            raster: RasterOptions {
                config: config.raster.clone(),
                tiling: config.tile.raster_tiling(&info.preprocess),
            },
        },
        drop_frames: !args.no_drop,
        // A stream can only be decoded from a keyframe on, so connecting
        // gets at least 10 s whatever the stall timeout.
        open_timeout: Duration::from_secs_f64(args.timeout.max(10.0)),
        stall_timeout: Duration::from_secs_f64(args.timeout),
        backoff_min: Duration::from_millis(500),
        backoff_max: Duration::from_secs(30),
    };
    let threads: Vec<_> = feeds
        .iter()
        .map(|f| {
            let (f, options, bell, stop) = (f.clone(), options.clone(), bell.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("feed-{}", f.source_id))
                .spawn(move || live::run_feed(&f, &options, started, &bell, &stop))
                .expect("spawning a thread")
        })
        .collect();

    // One recorder and one stream per feed: feeds may differ in signatures.
    let recorders: Vec<EventContext> = feed_signatures
        .iter()
        .map(|sigs| EventContext {
            labels: info.labels.clone(),
            model_path: model_path.clone(),
            model_sha256: info.sha256.clone(),
            thresholds: thresholds.clone(),
            jpeg_quality: config.output.jpeg_quality,
            signatures: EventContext::signature_table(sigs),
        })
        .collect();
    let mut streams: Vec<Stream> = feed_signatures
        .iter()
        .enumerate()
        .map(|(i, sigs)| {
            let timed = sigs
                .iter()
                .map(|s| (s.signature.clone(), s.timing))
                .collect();
            Stream::new(i, &config.track, timed)
        })
        .collect();
    // Whether a feed's open events were closed because it was lost.
    let mut lost_closed = vec![false; feeds.len()];
    let spec = detector.preprocess().clone();
    let lost_grace = Duration::from_secs_f64(args.lost_grace);
    let deadline = args.duration.map(|d| started + Duration::from_secs_f64(d));

    let handle = |writer: &mut RunWriter,
                  alerts: &mut Alerts,
                  feed: &Feed,
                  updates: Vec<EventUpdate>,
                  arrived: Option<Instant>|
     -> Result<()> {
        feed.events_opened.fetch_add(
            updates.iter().filter(|u| u.step == Step::Open).count() as u64,
            Ordering::Relaxed,
        );
        recorders[feed.source_id].record_all(
            writer,
            &updates,
            std::path::Path::new(&feed.spec.url),
        )?;
        for u in &updates {
            if u.step == Step::Update && !args.alert_updates {
                continue;
            }
            let latency = arrived.map(|t| t.elapsed().as_secs_f64());
            if let (Some(l), Step::Open) = (latency, u.step) {
                feed.latency.lock().expect("lock").observe(l);
            }
            alerts.send(&alert(feed, u, latency));
        }
        Ok(())
    };

    let mut next = 0usize;
    let result: Result<()> = (|| {
        loop {
            if stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(());
            }
            let mut worked = false;
            for k in 0..feeds.len() {
                let i = (next + k) % feeds.len();
                let feed = &feeds[i];
                if let Some(arrived) = feed.take() {
                    let tensor = spec.run(&arrived.frame.image);
                    let detections = detector
                        .detect(std::slice::from_ref(&tensor))?
                        .pop()
                        .unwrap_or_default();
                    let updates = streams[i].observe(&arrived.frame, &detections);
                    feed.frames_processed.fetch_add(1, Ordering::Relaxed);
                    lost_closed[i] = false;
                    handle(&mut writer, &mut alerts, feed, updates, Some(arrived.at))?;
                    feed.frame_latency
                        .lock()
                        .expect("lock")
                        .observe(arrived.at.elapsed().as_secs_f64());
                    worked = true;
                    next = i + 1;
                    break;
                }
            }
            // A feed lost for longer than the grace period closes its events.
            for (i, feed) in feeds.iter().enumerate() {
                let lost = feed.state() != FeedState::Live;
                let quiet_for = feed.last_frame().map(|t| t.elapsed());
                if lost && !lost_closed[i] && quiet_for.is_none_or(|q| q >= lost_grace) {
                    let reason = if feed.state() == FeedState::Ended {
                        "end of input"
                    } else {
                        "feed lost"
                    };
                    let updates = streams[i].interrupt(reason);
                    handle(&mut writer, &mut alerts, feed, updates, None)?;
                    lost_closed[i] = true;
                }
            }
            if feeds
                .iter()
                .all(|f| f.state() == FeedState::Ended && f.queue_depth() == 0)
            {
                return Ok(());
            }
            if !worked {
                bell.wait(Duration::from_millis(100));
            }
        }
    })();

    // Stop the feeds, close what is open, seal the run.
    stop.store(true, Ordering::SeqCst);
    for f in &feeds {
        f.watchdog.stop.store(true, Ordering::SeqCst);
    }
    for t in threads {
        let _ = t.join();
    }
    let reason = if result.is_err() {
        "run failed"
    } else {
        "shutdown"
    };
    for (i, mut stream) in streams.into_iter().enumerate() {
        let updates = stream.finish(reason);
        if let Err(e) = handle(&mut writer, &mut alerts, &feeds[i], updates, None) {
            tracing::error!("{e:#}");
        }
    }
    // Give healthy webhooks a moment to deliver the last alerts.
    alerts.flush(Duration::from_secs(5));
    let events: u64 = feeds
        .iter()
        .map(|f| f.events_opened.load(Ordering::Relaxed))
        .sum();
    let frames: u64 = feeds
        .iter()
        .map(|f| f.frames_processed.load(Ordering::Relaxed))
        .sum();
    let summary = json!({
        "feeds": feeds.len(),
        "frames_screened": frames,
        "events": events,
        "wall_s": started.elapsed().as_secs_f64(),
        "error": result.as_ref().err().map(|e| format!("{e:#}")),
    });
    let status = if result.is_err() {
        "failed"
    } else {
        "finished"
    };
    let dir = writer.finish(&run_json(
        status,
        Some(super::screen::now_rfc3339()),
        summary,
    ))?;
    result?;
    if !quiet {
        eprintln!(
            "watched {} feed(s) for {:.1} s: {frames} frames, {events} event(s)",
            feeds.len(),
            started.elapsed().as_secs_f64()
        );
    }
    println!("{}", dir.display());
    Ok(Outcome {
        errors: 0,
        flagged: events,
    })
}
