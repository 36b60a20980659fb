//! The alerts sink: where `lookout watch` sends alerts as events open and
//! close, as JSON lines to stdout or files, and as JSON POSTs to webhooks.
//!
//! An alert: `{"alert": "open", "time": RFC 3339, "feed", "url",
//! "event_id", "signature", "kind", "count", "reason", "start_s", "at_s",
//! "close_reason", "latency_ms", "lon", "lat", "placement"}`;
//! `latency_ms` runs from the frame's arrival to the alert. `lon` and `lat`
//! are the event's latest position on the ground (WGS84), and `placement`
//! how it was found (`corners`, `pointing`, `frame_center`), when the
//! feed's frames are placed by telemetry; otherwise they are `null`.
//!
//! A webhook never slows detection: alerts wait in a bounded queue (256)
//! served by a thread of its own. When the queue is full, the alert is
//! dropped and counted. Each POST has a 5 s timeout and is retried twice,
//! after 0.5 s and 1 s; after that it is counted as failed.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, Sender, TrySendError};
use serde_json::json;

use super::{Screened, Sink, SinkError};
use crate::event::{EventUpdate, Step};
pub use crate::live::metrics::WebhookStats;

const QUEUE: usize = 256;
const TIMEOUT: Duration = Duration::from_secs(5);
const RETRIES: &[Duration] = &[Duration::from_millis(500), Duration::from_secs(1)];

struct Webhook {
    url: String,
    queue: Sender<Vec<u8>>,
    stats: Arc<WebhookStats>,
}

/// Every destination of a watch's alerts.
pub struct Alerts {
    lines: Vec<(String, Box<dyn Write + Send>)>,
    hooks: Vec<Webhook>,
}

impl Alerts {
    /// `lines`: `-` for stdout, or files to append to; `webhooks`: URLs.
    pub fn open(lines: &[String], webhooks: &[String]) -> Result<Alerts, SinkError> {
        let mut out: Vec<(String, Box<dyn Write + Send>)> = Vec::new();
        for d in lines {
            if d == "-" {
                out.push((d.clone(), Box::new(std::io::stdout())));
            } else {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(d)
                    .map_err(|source| SinkError::AlertsFile {
                        path: d.clone(),
                        source,
                    })?;
                out.push((d.clone(), Box::new(f)));
            }
        }
        let hooks = webhooks
            .iter()
            .map(|u| start_webhook(u))
            .collect::<Result<_, _>>()?;
        Ok(Alerts { lines: out, hooks })
    }

    /// Sends one alert everywhere. A failing destination is logged, never
    /// fatal; webhooks only queue it.
    pub fn send(&mut self, alert: &serde_json::Value) {
        let body = serde_json::to_vec(alert).expect("JSON values always serialise");
        for (name, sink) in &mut self.lines {
            let written = sink
                .write_all(&body)
                .and_then(|_| sink.write_all(b"\n"))
                .and_then(|_| sink.flush());
            if let Err(e) = written {
                tracing::error!("cannot write an alert to {name}: {e}");
            }
        }
        for hook in &self.hooks {
            hook.stats.pending.fetch_add(1, Ordering::Relaxed);
            match hook.queue.try_send(body.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    hook.stats.pending.fetch_sub(1, Ordering::Relaxed);
                    let n = hook.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_power_of_two() {
                        tracing::warn!(webhook = %hook.url, dropped = n, "webhook queue full: alert dropped");
                    }
                }
            }
        }
    }

    /// Waits, at most `limit`, for the webhooks to deliver what is queued
    /// (at shutdown, so the last alerts are not lost to a healthy
    /// receiver).
    pub fn flush(&self, limit: Duration) {
        let end = std::time::Instant::now() + limit;
        while self
            .hooks
            .iter()
            .any(|h| h.stats.pending.load(Ordering::Relaxed) > 0)
            && std::time::Instant::now() < end
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Each webhook's URL and counters.
    pub fn webhooks(&self) -> Vec<(String, Arc<WebhookStats>)> {
        self.hooks
            .iter()
            .map(|h| (h.url.clone(), h.stats.clone()))
            .collect()
    }
}

fn start_webhook(url: &str) -> Result<Webhook, SinkError> {
    let webhook_error = |message: String| SinkError::Webhook {
        url: url.to_owned(),
        message,
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(webhook_error(
            "only http:// and https:// URLs are supported".into(),
        ));
    }
    let (tx, rx) = bounded::<Vec<u8>>(QUEUE);
    let stats = Arc::new(WebhookStats::default());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(true)
        .build()
        .into();
    let (thread_url, thread_stats) = (url.to_owned(), stats.clone());
    std::thread::Builder::new()
        .name("webhook".into())
        .spawn(move || {
            for body in rx {
                let mut tries = std::iter::once(Duration::ZERO).chain(RETRIES.iter().copied());
                let outcome = loop {
                    let Some(wait) = tries.next() else {
                        break None;
                    };
                    std::thread::sleep(wait);
                    match agent
                        .post(&thread_url)
                        .header("content-type", "application/json")
                        .send(&body[..])
                    {
                        Ok(_) => break Some(()),
                        Err(e) => tracing::debug!(webhook = %thread_url, "POST failed: {e}"),
                    }
                };
                match outcome {
                    Some(()) => thread_stats.sent.fetch_add(1, Ordering::Relaxed),
                    None => {
                        tracing::warn!(webhook = %thread_url, "alert not delivered after {} tries", RETRIES.len() + 1);
                        thread_stats.failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
                thread_stats.pending.fetch_sub(1, Ordering::Relaxed);
            }
        })
        .map_err(|e| webhook_error(format!("cannot start its thread: {e}")))?;
    Ok(Webhook {
        url: url.to_owned(),
        queue: tx,
        stats,
    })
}

/// The alert for one event step.
pub fn alert(
    feed: &str,
    url: &std::path::Path,
    update: &EventUpdate,
    latency_s: Option<f64>,
) -> serde_json::Value {
    let e = &update.event;
    let here = e.ground_track.last();
    let placement = e.best.frame.placement().map(|p| p.method());
    json!({
        "alert": update.step,
        "time": crate::clock::now_rfc3339(),
        "feed": feed,
        "url": url,
        "event_id": e.id,
        "signature": e.signature,
        "kind": e.kind,
        "count": e.count,
        "reason": e.reason,
        "start_s": e.start_s,
        "at_s": update.at.pts_s,
        "close_reason": e.close_reason,
        "latency_ms": latency_s.map(|s| (s * 1000.0).round()),
        "lon": here.map(|p| (p[1] * 1e7).round() / 1e7),
        "lat": here.map(|p| (p[2] * 1e7).round() / 1e7),
        "placement": here.and(placement),
    })
}

/// Alerts on opens and closes (and count changes, with `updates`).
pub struct AlertSink {
    alerts: Alerts,
    updates: bool,
}

impl AlertSink {
    /// `updates`: also alert when an open event's count changes.
    pub fn new(alerts: Alerts, updates: bool) -> AlertSink {
        AlertSink { alerts, updates }
    }

    /// Each webhook's URL and counters.
    pub fn webhooks(&self) -> Vec<(String, Arc<WebhookStats>)> {
        self.alerts.webhooks()
    }
}

impl Sink<Screened<'_>> for AlertSink {
    fn accept(&mut self, item: &Screened<'_>) -> Result<(), SinkError> {
        let Screened::Events {
            stream,
            updates,
            arrived,
        } = item
        else {
            return Ok(());
        };
        for u in updates.iter() {
            if u.step == Step::Update && !self.updates {
                continue;
            }
            let latency = arrived.map(|t| t.elapsed().as_secs_f64());
            self.alerts
                .send(&alert(&stream.name, &stream.path, u, latency));
        }
        Ok(())
    }

    /// Gives healthy webhooks a moment (5 s at most) to deliver the last
    /// alerts.
    fn finish(&mut self) -> Result<(), SinkError> {
        self.alerts.flush(Duration::from_secs(5));
        Ok(())
    }
}
