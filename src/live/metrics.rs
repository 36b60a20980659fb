//! Prometheus metrics for `lookout watch --metrics ADDR`: `GET /metrics`
//! (text exposition format) and `GET /healthz`, served by axum on its own
//! small runtime thread, so a slow scraper never touches detection.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::{Feed, FeedState, Histogram, InferenceCounters};

/// Counters of one webhook (see `sink::alerts`), for metrics and
/// `run.json`.
#[derive(Debug, Default)]
pub struct WebhookStats {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
    /// Queued or being sent.
    pub pending: AtomicU64,
}

/// Each webhook's address and delivery counters.
pub type Webhooks = Vec<(String, Arc<WebhookStats>)>;

/// A metric read from each of a set of things: name, help, and how to read
/// it. Names ending in `_total` are counters, the rest gauges.
type Family<T> = (&'static str, &'static str, fn(&T) -> u64);

/// Writes one histogram family with a set of lines per labelled thing.
fn write_histogram<T>(
    out: &mut String,
    name: &str,
    help: &str,
    rows: &[(String, &T)],
    get: impl Fn(&T) -> Histogram,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (label, t) in rows {
        let h = get(t);
        let mut cumulative = 0;
        for (b, c) in h.bounds.iter().zip(&h.counts) {
            cumulative += c;
            let _ = writeln!(out, "{name}_bucket{{{label},le=\"{b}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{label},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{{label}}} {:.6}", h.sum);
        let _ = writeln!(out, "{name}_count{{{label}}} {}", h.count);
    }
}

/// Writes one family with a line per labelled thing.
fn write_family<T>(out: &mut String, (name, help, get): Family<T>, rows: &[(String, &T)]) {
    let kind = if name.ends_with("_total") {
        "counter"
    } else {
        "gauge"
    };
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (label, t) in rows {
        if label.is_empty() {
            let _ = writeln!(out, "{name} {}", get(t));
        } else {
            let _ = writeln!(out, "{name}{{{label}}} {}", get(t));
        }
    }
}

/// Renders every feed's metrics in the Prometheus text format.
pub fn render(
    feeds: &[Arc<Feed>],
    webhooks: &Webhooks,
    inference: &InferenceCounters,
    started: Instant,
) -> String {
    let mut out = String::new();
    let up = started.elapsed().as_secs_f64();
    let _ = writeln!(
        out,
        "# HELP lookout_uptime_seconds Seconds since the watch started."
    );
    let _ = writeln!(out, "# TYPE lookout_uptime_seconds gauge");
    let _ = writeln!(out, "lookout_uptime_seconds {up:.3}");
    let whole: [Family<InferenceCounters>; 2] = [
        (
            "lookout_inference_calls_total",
            "Calls into the detection model.",
            |c| c.calls.load(Ordering::Relaxed),
        ),
        (
            "lookout_inference_frames_total",
            "Feed frames detected; more than the calls when feeds share calls.",
            |c| c.frames.load(Ordering::Relaxed),
        ),
    ];
    for family in whole {
        write_family(&mut out, family, &[(String::new(), inference)]);
    }
    let label = |f: &Feed| format!("feed=\"{}\"", escape(&f.spec.name));
    let counters: [Family<Feed>; 6] = [
        (
            "lookout_feed_frames_in_total",
            "Frames decoded from the feed.",
            |f| f.frames_in.load(Ordering::Relaxed),
        ),
        (
            "lookout_feed_frames_processed_total",
            "Frames detected and applied to the signatures.",
            |f| f.frames_processed.load(Ordering::Relaxed),
        ),
        (
            "lookout_feed_frames_dropped_total",
            "Frames replaced by a newer one before detection.",
            |f| f.dropped.load(Ordering::Relaxed),
        ),
        (
            "lookout_feed_reconnects_total",
            "Reconnection attempts after the feed was lost.",
            |f| f.reconnects.load(Ordering::Relaxed),
        ),
        (
            "lookout_feed_events_opened_total",
            "Events opened on the feed.",
            |f| f.events_opened.load(Ordering::Relaxed),
        ),
        (
            "lookout_feed_queue_depth",
            "Frames waiting for detection (0 or 1).",
            |f| f.queue_depth(),
        ),
    ];
    let rows: Vec<(String, &Feed)> = feeds.iter().map(|f| (label(f), &**f)).collect();
    for family in counters {
        write_family(&mut out, family, &rows);
    }
    let _ = writeln!(
        out,
        "# HELP lookout_feed_fps_in Frames decoded per second since the watch started."
    );
    let _ = writeln!(out, "# TYPE lookout_feed_fps_in gauge");
    for f in feeds {
        let v = f.frames_in.load(Ordering::Relaxed) as f64 / up.max(1e-9);
        let _ = writeln!(out, "lookout_feed_fps_in{{{}}} {v:.3}", label(f));
    }
    let _ = writeln!(
        out,
        "# HELP lookout_feed_fps_processed Frames detected per second since the watch started."
    );
    let _ = writeln!(out, "# TYPE lookout_feed_fps_processed gauge");
    for f in feeds {
        let v = f.frames_processed.load(Ordering::Relaxed) as f64 / up.max(1e-9);
        let _ = writeln!(out, "lookout_feed_fps_processed{{{}}} {v:.3}", label(f));
    }
    let _ = writeln!(
        out,
        "# HELP lookout_feed_state 1 for the feed's current state."
    );
    let _ = writeln!(out, "# TYPE lookout_feed_state gauge");
    for f in feeds {
        let now = f.state();
        for s in FeedState::ALL {
            let _ = writeln!(
                out,
                "lookout_feed_state{{{},state=\"{}\"}} {}",
                label(f),
                s.name(),
                u8::from(s == now)
            );
        }
    }
    write_histogram(
        &mut out,
        "lookout_feed_alert_latency_seconds",
        "From a frame's arrival to the alert of the event it opened.",
        &rows,
        |f| f.latency.lock().expect("latency lock").clone(),
    );
    write_histogram(
        &mut out,
        "lookout_feed_frame_latency_seconds",
        "From a frame's arrival to the end of its screening.",
        &rows,
        |f| f.frame_latency.lock().expect("latency lock").clone(),
    );
    let hooks: [Family<WebhookStats>; 4] = [
        (
            "lookout_webhook_sent_total",
            "Alerts the receiver accepted (2xx).",
            |s| s.sent.load(Ordering::Relaxed),
        ),
        (
            "lookout_webhook_failed_total",
            "Alerts given up after every retry.",
            |s| s.failed.load(Ordering::Relaxed),
        ),
        (
            "lookout_webhook_dropped_total",
            "Alerts dropped because the webhook's queue was full.",
            |s| s.dropped.load(Ordering::Relaxed),
        ),
        (
            "lookout_webhook_pending",
            "Alerts queued or being sent.",
            |s| s.pending.load(Ordering::Relaxed),
        ),
    ];
    let rows: Vec<(String, &WebhookStats)> = webhooks
        .iter()
        .map(|(url, s)| (format!("url=\"{}\"", escape(url)), &**s))
        .collect();
    if !rows.is_empty() {
        for family in hooks {
            write_family(&mut out, family, &rows);
        }
    }
    out
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics endpoint could not start: its runtime, its port or its
/// thread.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve metrics on {addr}: {error}")]
pub struct MetricsError {
    pub addr: SocketAddr,
    pub error: std::io::Error,
}

/// Binds `addr` and serves the metrics from a thread of its own. Binding
/// happens before this returns, so a taken port is an error here.
pub fn serve(
    addr: SocketAddr,
    feeds: Vec<Arc<Feed>>,
    webhooks: Webhooks,
    inference: Arc<InferenceCounters>,
    started: Instant,
) -> Result<SocketAddr, MetricsError> {
    use axum::routing::get;
    let fail = |error| MetricsError { addr, error };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(fail)?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(fail)?;
    let bound = listener.local_addr().map_err(fail)?;
    let state = Arc::new((feeds, webhooks, inference));
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let state = state.clone();
                async move {
                    (
                        [("content-type", "text/plain; version=0.0.4")],
                        render(&state.0, &state.1, &state.2, started),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }));
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            if let Err(e) = runtime.block_on(async { axum::serve(listener, app).await }) {
                tracing::error!("metrics server stopped: {e}");
            }
        })
        .map_err(fail)?;
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::FeedSpec;

    #[test]
    fn renders_every_family_per_feed() {
        let feed = Arc::new(Feed::new(
            FeedSpec {
                name: "quay \"north\"".into(),
                url: "udp://@:5000".into(),
                file: false,
                replay: false,
                rtsp_transport: Default::default(),
            },
            0,
        ));
        feed.reconnects.store(3, Ordering::Relaxed);
        feed.latency.lock().unwrap().observe(0.12);
        let stats = Arc::new(WebhookStats::default());
        stats.sent.store(4, Ordering::Relaxed);
        let hooks = vec![("http://127.0.0.1:9/hook".to_owned(), stats)];
        let text = render(
            &[feed],
            &hooks,
            &InferenceCounters::default(),
            Instant::now(),
        );
        assert!(
            text.contains("lookout_webhook_sent_total{url=\"http://127.0.0.1:9/hook\"} 4"),
            "{text}"
        );
        assert!(
            text.contains("lookout_feed_reconnects_total{feed=\"quay \\\"north\\\"\"} 3"),
            "{text}"
        );
        assert!(text.contains("state=\"connecting\"} 1"));
        assert!(text.contains("state=\"live\"} 0"));
        assert!(text.contains(
            "lookout_feed_alert_latency_seconds_bucket{feed=\"quay \\\"north\\\"\",le=\"0.15\"} 1"
        ));
        assert!(text
            .contains("lookout_feed_alert_latency_seconds_count{feed=\"quay \\\"north\\\"\"} 1"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn a_taken_port_is_an_error_naming_the_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let err = serve(
            addr,
            Vec::new(),
            Vec::new(),
            Default::default(),
            Instant::now(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(&format!("cannot serve metrics on {addr}: ")),
            "{err}"
        );
    }
}
