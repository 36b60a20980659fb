//! The live driver (`lookout watch`): live feeds (and files played in real
//! time) through the same detection step, streams and sinks as `screen`.
//!
//! One thread per feed connects and decodes ([`crate::live`]). This thread
//! takes the newest frame of every feed that has one, in round-robin order
//! (so a fast feed cannot starve the others), and detects them together:
//! with a dynamic batch axis, frames of different feeds share one
//! inference call, and `[tile]` slices each frame as `screen` does. Then
//! each feed's stream tracks, applies its signatures and records events,
//! and alerts go out as events open and close.
//!
//! SIGINT or SIGTERM stops the watch cleanly: feeds disconnect, open events
//! close with the reason `shutdown`, and the run folder is sealed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::session::{checkpoint, seal};
use super::{Outcome, RunError, RunFolder, Session};
use crate::config::Config;
use crate::detect::step::DetectStep;
use crate::event::{EventUpdate, Step};
use crate::evidence::record::{
    FeedRecord, FeedSignatureRecord, RunMode, RunRecord, RunStatus, Summary, WebhookRecord,
};
use crate::live::feeds::{FeedConfig, RtspTransport};
use crate::live::{self, Bell, Feed, FeedOptions, FeedSpec, FeedState, InferenceCounters};
use crate::signature::BuiltSignature;
use crate::sink::alerts::{AlertSink, Alerts, WebhookStats};
use crate::sink::evidence::EvidenceSink;
use crate::sink::{emit, ScreenSink, Screened, SinkError, StreamRef};
use crate::source::adaptive::{Feedback, SampleMode};
use crate::source::raster::RasterOptions;
use crate::source::{OpenOptions, Sampling};

/// How to watch.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Feed addresses, files, or names of the config's `[[feed]]` tables;
    /// every table when empty.
    pub feeds: Vec<String>,
    /// How RTSP feeds carry their media, unless their table says.
    pub rtsp_transport: RtspTransport,
    pub folder: RunFolder,
    /// JSON-lines alert destinations: `-` or files.
    pub alerts: Vec<String>,
    pub webhooks: Vec<String>,
    /// Also alert when an open event's count changes.
    pub alert_updates: bool,
    /// Serve `/metrics` and `/healthz` here.
    pub metrics: Option<std::net::SocketAddr>,
    /// Screen every frame instead of only the newest.
    /// Play every file feed again when it ends (`--loop`).
    pub replay: bool,
    pub no_drop: bool,
    /// Seconds without a frame before a feed counts as stalled.
    pub timeout: f64,
    /// Seconds open events survive a lost feed.
    pub lost_grace: f64,
    /// Stop after this many seconds.
    pub duration: Option<f64>,
    /// Say where metrics are served and what the watch did, on stderr.
    pub verbose: bool,
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
pub fn resolve_feeds(
    args: &[String],
    config: &Config,
) -> Result<Vec<(FeedConfig, Option<usize>)>, RunError> {
    let mut feeds: Vec<(FeedConfig, Option<usize>)> = if args.is_empty() {
        if config.feed.is_empty() {
            return Err(RunError::NoFeeds);
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
    // A feed with no scheme is a file, and must be one now: otherwise it
    // would be retried as a stream forever.
    for (f, _) in &feeds {
        if f.url.contains("://") {
            continue;
        }
        let path = std::path::Path::new(&f.url);
        let why = match std::fs::metadata(path) {
            Err(_) => Some("a file that exists"),
            Ok(m) if !m.is_file() => Some("a regular file"),
            Ok(_) => None,
        };
        if let Some(why) = why {
            return Err(RunError::FeedFile {
                name: f.name.clone(),
                url: f.url.clone(),
                why,
            });
        }
    }
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

fn feed_records(feeds: &[Arc<Feed>], signatures: &[Vec<BuiltSignature>]) -> Vec<FeedRecord> {
    let q = |h: &std::sync::Mutex<live::Histogram>, p: f64| {
        h.lock().unwrap_or_else(|e| e.into_inner()).quantile(p)
    };
    feeds
        .iter()
        .zip(signatures)
        .map(|(f, sigs)| FeedRecord {
            name: f.spec.name.clone(),
            url: crate::config::hide_password(&f.spec.url),
            file: f.spec.file,
            rtsp_transport: serde_json::to_value(f.spec.rtsp_transport).unwrap_or_default(),
            signatures: sigs
                .iter()
                .map(|s| FeedSignatureRecord {
                    name: s.signature.name().to_owned(),
                    config_sha256: s.config_hash.clone(),
                })
                .collect(),
            state: f.state().name().to_owned(),
            frames_in: f.frames_in.load(Ordering::Relaxed),
            frames_processed: f.frames_processed.load(Ordering::Relaxed),
            dropped: f.dropped.load(Ordering::Relaxed),
            reconnects: f.reconnects.load(Ordering::Relaxed),
            events: f.events_opened.load(Ordering::Relaxed),
            alert_latency_p99_s: q(&f.latency, 0.99),
            frame_latency_p50_s: q(&f.frame_latency, 0.5),
            frame_latency_p99_s: q(&f.frame_latency, 0.99),
            placement: {
                let p = f
                    .placement
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                (!p.is_empty()).then_some(p)
            },
            error: f.error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            gaps: f.gaps.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        })
        .collect()
}

fn webhook_records(webhooks: &[(String, Arc<WebhookStats>)]) -> Vec<WebhookRecord> {
    webhooks
        .iter()
        .map(|(url, s)| WebhookRecord {
            url: url.clone(),
            sent: s.sent.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
        })
        .collect()
}

fn seconds(flag: &'static str, v: f64, positive: bool) -> Result<Duration, RunError> {
    let ok = v.is_finite() && if positive { v > 0.0 } else { v >= 0.0 };
    Duration::try_from_secs_f64(v)
        .ok()
        .filter(|_| ok && v < 1e9)
        .ok_or_else(|| RunError::Option {
            flag,
            message: format!(
                "{v} is not a {}number of seconds",
                if positive { "positive " } else { "" }
            ),
        })
}

/// The event steps of one feed into the sinks, with the feed's counters.
fn handle(
    sinks: &mut [ScreenSink],
    feed: &Feed,
    stream: &StreamRef,
    updates: &[EventUpdate],
    arrived: Option<Instant>,
) -> Result<(), SinkError> {
    if updates.is_empty() {
        return Ok(());
    }
    feed.events_opened.fetch_add(
        updates.iter().filter(|u| u.step == Step::Open).count() as u64,
        Ordering::Relaxed,
    );
    emit(
        sinks,
        &Screened::Events {
            stream,
            updates,
            arrived,
        },
    )?;
    if let Some(t) = arrived {
        if updates.iter().any(|u| u.step == Step::Open) {
            feed.latency
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .observe(t.elapsed().as_secs_f64());
        }
    }
    Ok(())
}

/// Watches the feeds until they end, `duration` passes, or a signal, and
/// seals the run folder.
pub fn watch(mut session: Session, options: &LiveOptions) -> Result<Outcome, RunError> {
    let started = session.started;
    // A feed's adaptive sampling follows the news as it comes, so what it
    // infers depends on timing: feeds are inferred at full rate unless
    // told otherwise.
    session.config.sampling.mode.get_or_insert(SampleMode::Full);
    let stall_timeout = seconds("--timeout", options.timeout, true)?;
    let lost_grace = seconds("--lost-grace", options.lost_grace, false)?;
    let deadline = match options.duration {
        Some(d) => Some(started + seconds("--duration", d, true)?),
        None => None,
    };
    let configs = resolve_feeds(&options.feeds, &session.config)?;
    // Each feed's signatures, built now so that a mistake in any feed
    // stops the watch before it starts.
    let feed_signatures: Vec<Vec<BuiltSignature>> = configs
        .iter()
        .map(|(f, index)| match index {
            Some(i) => f.build_signatures(
                *i,
                session.config.signature.as_deref(),
                session.config.detect.conf,
                &session.roles,
            ),
            None => Ok(session.signatures.clone()),
        })
        .collect::<Result<_, _>>()?;
    let alerts = AlertSink::new(
        Alerts::open(&options.alerts, &options.webhooks)?,
        options.alert_updates,
    );
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
                    replay: f.replay || options.replay,
                    rtsp_transport: f.rtsp_transport.unwrap_or(options.rtsp_transport),
                },
                i,
            ))
        })
        .collect();
    let inference = Arc::new(InferenceCounters::default());
    let metrics_addr = match options.metrics {
        Some(addr) => {
            let bound = live::metrics::serve(
                addr,
                feeds.clone(),
                webhooks.clone(),
                inference.clone(),
                started,
            )?;
            if options.verbose {
                eprintln!("metrics on http://{bound}/metrics");
            }
            Some(bound)
        }
        None => None,
    };

    let (run, mut record, mut sinks) = session.open_run(&options.folder, RunMode::Watch)?;
    // Feeds may differ in signatures: their events record their own.
    let mut evidence = EvidenceSink::new(run.clone(), session.event_context(&session.signatures));
    for (i, sigs) in feed_signatures.iter().enumerate() {
        evidence = evidence.with_stream_context(i, session.event_context(sigs));
    }
    sinks[0] = Box::new(evidence);
    sinks.push(Box::new(alerts));
    let refresh = |record: &mut RunRecord| {
        record.feeds = feed_records(&feeds, &feed_signatures);
        record.webhooks = webhook_records(&webhooks);
        record.metrics = metrics_addr.map(|a| a.to_string());
    };
    refresh(&mut record);
    checkpoint(&run, &record)?;

    // SIGINT and SIGTERM stop the watch; a second one exits at once.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let feeds = feeds.clone();
        super::signal::arm(move || {
            stop.store(true, Ordering::SeqCst);
            for f in &feeds {
                f.watchdog.stop.store(true, Ordering::SeqCst);
            }
        })?;
    }

    let bell = Arc::new(Bell::default());
    let config = &session.config;
    // Adaptive sampling of a feed: its reader reads the news of the
    // frames screened, and never waits for it.
    let adaptive = config.sampling.mode() == SampleMode::Adaptive;
    let feedback = adaptive.then(|| Arc::new(Feedback::live()));
    let feed_options = FeedOptions {
        open: OpenOptions {
            // A feed is screened as fast as it comes (the newest frame of
            // each whenever the detector is free): stride and fps are for
            // recorded video.
            sampling: Sampling {
                mode: config.sampling.mode(),
                adaptive: config.sampling.adaptive,
                ..Sampling::default()
            },
            decode_threads: config.sampling.decode_threads.unwrap_or(1),
            feedback: feedback.clone(),
            probe_for: None,
            raster: RasterOptions {
                config: config.raster.clone(),
                tiling: session.raster_tiling(),
            },
            telemetry: None,
            geo: config.geo.clone(),
        },
        drop_frames: !options.no_drop,
        // A stream can only be decoded from a keyframe on, so connecting
        // gets at least 10 s whatever the stall timeout.
        open_timeout: stall_timeout.max(Duration::from_secs(10)),
        stall_timeout,
        backoff_min: Duration::from_millis(500),
        backoff_max: Duration::from_secs(30),
    };
    let threads: Vec<_> = feeds
        .iter()
        .map(|f| {
            let (f, o, bell, stop) = (f.clone(), feed_options.clone(), bell.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("feed-{}", f.source_id))
                .spawn(move || live::run_feed(&f, &o, started, &bell, &stop))
                .expect("spawning a thread")
        })
        .collect();

    let stream_refs: Vec<StreamRef> = feeds
        .iter()
        .map(|f| StreamRef {
            id: f.source_id,
            name: f.spec.name.clone(),
            path: f.spec.url.clone().into(),
        })
        .collect();
    let mut streams: Vec<_> = feed_signatures
        .iter()
        .enumerate()
        .map(|(i, sigs)| session.stream(i, sigs))
        .collect();
    // The newest frames of up to this many feeds share one detection call.
    let batch = config.model.batch.max(feeds.len());
    let detector = session.take_detector();
    let mut step = DetectStep::new(session.prepare(), session.infer(detector, batch));
    // Whether a feed's open events were closed because it was lost.
    let mut lost_closed = vec![false; feeds.len()];

    let mut next = 0usize;
    let result: Result<(), RunError> = (|| loop {
        if stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(());
        }
        // The newest frame of every feed that has one, round-robin from
        // `next`, up to a batch.
        let mut taken = Vec::new();
        let mut frames = Vec::new();
        for k in 0..feeds.len() {
            let i = (next + k) % feeds.len();
            if taken.len() >= step.batch() {
                break;
            }
            if let Some(arrived) = feeds[i].take() {
                taken.push((i, arrived.at));
                frames.push(arrived.frame);
                next = i + 1;
            }
        }
        let worked = !taken.is_empty();
        if worked {
            let calls_before = step.stats().calls;
            let detected = step.detect(frames)?;
            inference
                .calls
                .fetch_add(step.stats().calls - calls_before, Ordering::Relaxed);
            inference
                .frames
                .fetch_add(detected.len() as u64, Ordering::Relaxed);
            for ((i, at), (frame, detections)) in taken.into_iter().zip(detected) {
                let feed = &feeds[i];
                let observed = streams[i].observe(&frame, &detections);
                if let Some(board) = &feedback {
                    board.report(frame.meta.source_id, frame.meta.seq, streams[i].busy());
                }
                feed.frames_processed.fetch_add(1, Ordering::Relaxed);
                feed.placement
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .note(
                        frame.meta.ground.as_ref().map(|g| g.model.method.name()),
                        frame.meta.unplaced.as_deref(),
                    );
                lost_closed[i] = false;
                emit(
                    &mut sinks,
                    &Screened::Frame {
                        stream: &stream_refs[i],
                        frame: &frame,
                        detections: &detections,
                        tracks: &observed.tracks,
                    },
                )?;
                handle(
                    &mut sinks,
                    feed,
                    &stream_refs[i],
                    &observed.updates,
                    Some(at),
                )?;
                feed.frame_latency
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .observe(at.elapsed().as_secs_f64());
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
                handle(&mut sinks, feed, &stream_refs[i], &updates, None)?;
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
        if let Err(e) = handle(&mut sinks, &feeds[i], &stream_refs[i], &updates, None) {
            tracing::error!("{e:#}");
        }
    }
    for s in &mut sinks {
        if let Err(e) = s.finish() {
            tracing::error!("{e:#}");
        }
    }
    drop(sinks);
    let events: u64 = feeds
        .iter()
        .map(|f| f.events_opened.load(Ordering::Relaxed))
        .sum();
    let frames: u64 = feeds
        .iter()
        .map(|f| f.frames_processed.load(Ordering::Relaxed))
        .sum();
    let stats = step.stats();
    refresh(&mut record);
    record.summary = Some(Summary {
        feeds: Some(feeds.len()),
        frames_screened: Some(frames),
        events: Some(events),
        wall_s: Some(started.elapsed().as_secs_f64()),
        inference_calls: Some(stats.calls),
        inference_batch_mean: (stats.calls > 0).then(|| stats.tensors as f64 / stats.calls as f64),
        non_finite_outputs: (stats.non_finite > 0).then_some(stats.non_finite),
        frames_lost: {
            let lost: u64 = record
                .feeds
                .iter()
                .flat_map(|f| &f.gaps)
                .map(|g| g.frames)
                .sum();
            (lost > 0).then_some(lost)
        },
        error: result.as_ref().err().map(|e| format!("{e:#}")),
        stopped_by: super::signal::requested().then(|| "signal".into()),
        ..Default::default()
    });
    super::signal::disarm();
    record.status = if result.is_err() {
        RunStatus::Failed
    } else {
        RunStatus::Finished
    };
    record.finished_at = Some(crate::clock::now_rfc3339());
    let dir = seal(run, &record)?;
    result?;
    if options.verbose {
        eprintln!(
            "watched {} feed(s) for {:.1} s: {frames} frames, {events} event(s)",
            feeds.len(),
            started.elapsed().as_secs_f64()
        );
    }
    // A file feed that failed is a failed input, as in `screen`.
    let errors = feeds
        .iter()
        .filter(|f| f.error.lock().unwrap_or_else(|e| e.into_inner()).is_some())
        .count();
    Ok(Outcome {
        errors,
        events,
        dir,
    })
}
