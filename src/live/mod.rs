//! Live feeds for `lookout watch`: one thread per feed that connects,
//! decodes and hands over only its newest frame, reconnecting for ever
//! when the feed is lost.
//!
//! ```text
//! feed thread ──▶ newest-frame slot ──▶ detection loop (round-robin over feeds)
//! (connect, decode,   (drop-oldest,       ──▶ tracker, signatures, events,
//!  reconnect)          drops counted)          evidence, alerts, metrics
//! ```
//!
//! **Staying up.** Opening and every read run under a [`Watchdog`]
//! deadline (plus FFmpeg's own socket timeouts), so nothing blocks for
//! ever: a feed that stops sending is `stalled` after `stall_timeout` and
//! reconnects. Reconnection backs off exponentially (0.5 s doubling to 30 s)
//! with ±25% jitter, without limit. Each feed's state (`connecting`, `live`,
//! `stalled`, `reconnecting`, `ended`) is logged once per change and
//! exported as a metric.
//!
//! **Bounded latency.** The slot holds one frame: a new frame replaces an
//! unprocessed one, and the replaced frame is counted as dropped. With
//! dropping off (`--no-drop`), the feed waits for the slot to empty instead,
//! so every frame is screened, as `screen` does.
//!
//! **Time.** A file played with `--realtime` keeps its own timestamps, so
//! its events match `screen`'s. A network feed's frames are stamped with
//! their arrival time since the watch started, which keeps time running
//! forward across reconnects.

pub mod feeds;
pub mod metrics;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::frame::Frame;
use crate::source::video::VideoSource;
pub use crate::source::video::Watchdog;
use crate::source::{OpenOptions, Source};

/// One feed to watch.
#[derive(Debug, Clone, Serialize)]
pub struct FeedSpec {
    pub name: String,
    pub url: String,
    /// A file played at its native rate; it ends at its end instead of
    /// reconnecting.
    pub file: bool,
    /// A file that is played again when it ends (`loop = true`).
    pub replay: bool,
    pub rtsp_transport: feeds::RtspTransport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum FeedState {
    Connecting = 0,
    Live = 1,
    Stalled = 2,
    Reconnecting = 3,
    Ended = 4,
}

impl FeedState {
    pub const ALL: [FeedState; 5] = [
        FeedState::Connecting,
        FeedState::Live,
        FeedState::Stalled,
        FeedState::Reconnecting,
        FeedState::Ended,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FeedState::Connecting => "connecting",
            FeedState::Live => "live",
            FeedState::Stalled => "stalled",
            FeedState::Reconnecting => "reconnecting",
            FeedState::Ended => "ended",
        }
    }

    fn from_u8(v: u8) -> FeedState {
        FeedState::ALL
            .get(v as usize)
            .copied()
            .unwrap_or(FeedState::Ended)
    }
}

/// What the detector did for the watch, for `/metrics`.
#[derive(Debug, Default)]
pub struct InferenceCounters {
    /// Calls into the model.
    pub calls: AtomicU64,
    /// Feed frames detected; above `calls` when feeds share calls.
    pub frames: AtomicU64,
}

/// A frame as it arrived from its feed.
pub struct Arrived {
    pub frame: Frame,
    pub at: Instant,
}

/// A latency histogram in Prometheus buckets (seconds): bounded memory
/// however long the watch runs.
#[derive(Debug, Clone)]
pub struct Histogram {
    pub bounds: &'static [f64],
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

const LATENCY_BOUNDS: &[f64] = &[
    0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0,
    3.0, 5.0, 10.0,
];

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            bounds: LATENCY_BOUNDS,
            counts: vec![0; LATENCY_BOUNDS.len()],
            sum: 0.0,
            count: 0,
        }
    }
}

impl Histogram {
    pub fn observe(&mut self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|&b| v <= b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    /// Quantile `q`, interpolated linearly within its bucket as
    /// Prometheus's `histogram_quantile` does (so its error is under one
    /// bucket's width); `None` when empty or beyond the last bucket.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = q * self.count as f64;
        let mut seen = 0u64;
        let mut lower = 0.0;
        for (&upper, &c) in self.bounds.iter().zip(&self.counts) {
            if c > 0 && (seen + c) as f64 >= rank {
                let within = ((rank - seen as f64) / c as f64).clamp(0.0, 1.0);
                return Some(lower + (upper - lower) * within);
            }
            seen += c;
            lower = upper;
        }
        None
    }
}

/// Everything shared about one feed: its newest frame, state and counters.
pub struct Feed {
    pub spec: FeedSpec,
    pub source_id: usize,
    state: AtomicU8,
    pub frames_in: AtomicU64,
    pub frames_processed: AtomicU64,
    pub dropped: AtomicU64,
    pub reconnects: AtomicU64,
    pub events_opened: AtomicU64,
    /// From a frame's arrival to the alert it raised (event opens only).
    pub latency: Mutex<Histogram>,
    /// From each frame's arrival to the end of its screening: the latency
    /// an alert on that frame would have had.
    pub frame_latency: Mutex<Histogram>,
    /// How its frames were placed on the ground from telemetry.
    pub placement: Mutex<crate::geo::PlacementCounts>,
    /// Why a file feed stopped before its end (it is not retried).
    pub error: Mutex<Option<String>>,
    /// Stretches of a damaged file feed that could not be decoded.
    pub gaps: Mutex<Vec<crate::frame::Gap>>,
    slot: Mutex<Option<Arrived>>,
    slot_emptied: Condvar,
    last_frame: Mutex<Option<Instant>>,
    pub watchdog: Arc<Watchdog>,
}

impl Feed {
    pub fn new(spec: FeedSpec, source_id: usize) -> Feed {
        Feed {
            spec,
            source_id,
            state: AtomicU8::new(FeedState::Connecting as u8),
            frames_in: AtomicU64::new(0),
            frames_processed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            events_opened: AtomicU64::new(0),
            placement: Mutex::new(Default::default()),
            error: Mutex::new(None),
            gaps: Mutex::new(Vec::new()),
            latency: Mutex::new(Histogram::default()),
            frame_latency: Mutex::new(Histogram::default()),
            slot: Mutex::new(None),
            slot_emptied: Condvar::new(),
            last_frame: Mutex::new(None),
            watchdog: Arc::new(Watchdog::default()),
        }
    }

    pub fn state(&self) -> FeedState {
        FeedState::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// Sets the state, logging the change once.
    fn set_state(&self, state: FeedState, why: &str) {
        let old = self.state.swap(state as u8, Ordering::Relaxed);
        if old != state as u8 {
            let name = &self.spec.name;
            match state {
                FeedState::Live | FeedState::Connecting | FeedState::Ended => {
                    tracing::info!(feed = %name, "{} → {}{why}", FeedState::from_u8(old).name(), state.name())
                }
                FeedState::Stalled | FeedState::Reconnecting => {
                    tracing::warn!(feed = %name, "{} → {}{why}", FeedState::from_u8(old).name(), state.name())
                }
            }
        }
    }

    /// Records why a file feed stopped; it is not retried.
    pub fn fail(&self, why: String) {
        *self.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }

    /// Takes the newest frame, if one is waiting.
    pub fn take(&self) -> Option<Arrived> {
        let got = self.slot.lock().expect("slot lock").take();
        if got.is_some() {
            self.slot_emptied.notify_all();
        }
        got
    }

    /// Frames waiting (0 or 1).
    pub fn queue_depth(&self) -> u64 {
        u64::from(self.slot.lock().expect("slot lock").is_some())
    }

    /// When the last frame arrived.
    pub fn last_frame(&self) -> Option<Instant> {
        *self.last_frame.lock().expect("lock")
    }

    fn put(&self, arrived: Arrived, drop_frames: bool, stop: &AtomicBool) {
        *self.last_frame.lock().expect("lock") = Some(arrived.at);
        self.frames_in.fetch_add(1, Ordering::Relaxed);
        let mut slot = self.slot.lock().expect("slot lock");
        if !drop_frames {
            while slot.is_some() && !stop.load(Ordering::Relaxed) {
                slot = self
                    .slot_emptied
                    .wait_timeout(slot, Duration::from_millis(100))
                    .expect("slot lock")
                    .0;
            }
        }
        if slot.replace(arrived).is_some() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Wakes the detection loop when any feed has a frame or changes state.
#[derive(Default)]
pub struct Bell {
    rung: Mutex<bool>,
    cv: Condvar,
}

impl Bell {
    pub fn ring(&self) {
        *self.rung.lock().expect("bell lock") = true;
        self.cv.notify_all();
    }

    /// Waits until rung or `timeout`, and resets.
    pub fn wait(&self, timeout: Duration) {
        let mut rung = self.rung.lock().expect("bell lock");
        if !*rung {
            rung = self.cv.wait_timeout(rung, timeout).expect("bell lock").0;
        }
        *rung = false;
    }
}

/// How feeds connect and hand over frames.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    pub open: OpenOptions,
    /// Replace an unprocessed frame (true) or wait for it to be taken.
    pub drop_frames: bool,
    pub open_timeout: Duration,
    pub stall_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

/// A little jitter without a random-number crate: the clock's low bits.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    let f = 0.75 + (nanos % 1000) as f64 / 2000.0; // 0.75 .. 1.25
    d.mul_f64(f)
}

/// Sleeps up to `d`, waking early when `stop` is set.
fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// Runs one feed until `stop` is set or (for a file) its end.
pub fn run_feed(
    feed: &Feed,
    options: &FeedOptions,
    started: Instant,
    bell: &Bell,
    stop: &AtomicBool,
) {
    let mut backoff = options.backoff_min;
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        if !first {
            feed.set_state(FeedState::Reconnecting, "");
            sleep_unless(stop, jitter(backoff));
            backoff = (backoff * 2).min(options.backoff_max);
            if stop.load(Ordering::Relaxed) {
                break;
            }
            feed.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        first = false;
        feed.set_state(FeedState::Connecting, "");
        bell.ring();
        feed.watchdog.arm(options.open_timeout);
        let mut src = match VideoSource::open_live(
            &feed.spec.url,
            feed.source_id,
            &options.open,
            feed.watchdog.clone(),
            feed.spec.rtsp_transport.ffmpeg_name(),
        ) {
            Ok(s) => s,
            Err(e) => {
                if feed.spec.file {
                    // A file that cannot be opened will not open on a
                    // retry: the feed has failed.
                    tracing::error!(feed = %feed.spec.name, "{e}");
                    feed.fail(e.to_string());
                    break;
                }
                tracing::warn!(feed = %feed.spec.name, "cannot connect: {e}");
                continue;
            }
        };
        let info = src.info().clone();
        feed.set_state(
            FeedState::Live,
            &format!(
                " ({}x{}, {})",
                info.width,
                info.height,
                info.codec.unwrap_or_default()
            ),
        );
        bell.ring();
        // A file plays at its own rate from its first frame.
        let mut clock: Option<Instant> = None;
        let ended = loop {
            feed.watchdog.arm(options.stall_timeout);
            match src.next_frame() {
                Ok(Some(mut frame)) => {
                    if feed.spec.file {
                        let pts = frame.meta.pts_s.unwrap_or(0.0);
                        let t0 = *clock
                            .get_or_insert_with(|| Instant::now() - Duration::from_secs_f64(pts));
                        let due = t0 + Duration::from_secs_f64(pts);
                        sleep_unless(stop, due.saturating_duration_since(Instant::now()));
                    } else {
                        frame.meta.pts_s = Some(started.elapsed().as_secs_f64());
                    }
                    if stop.load(Ordering::Relaxed) {
                        break false;
                    }
                    backoff = options.backoff_min;
                    feed.put(
                        Arrived {
                            frame,
                            at: Instant::now(),
                        },
                        options.drop_frames,
                        stop,
                    );
                    bell.ring();
                }
                Ok(None) => break true,
                Err(e) if feed.spec.file => {
                    // A damaged file would fail again at the same place, and
                    // replaying it would repeat its events.
                    tracing::error!(feed = %feed.spec.name, "{e}");
                    feed.fail(e.to_string());
                    break true;
                }
                Err(e) => {
                    if !stop.load(Ordering::Relaxed) {
                        let why = if feed.watchdog.expired() {
                            format!(
                                ": no frame for {:.1} s",
                                options.stall_timeout.as_secs_f64()
                            )
                        } else {
                            format!(": {e}")
                        };
                        feed.set_state(FeedState::Stalled, &why);
                    }
                    break false;
                }
            }
        };
        if feed.spec.file {
            let gaps = crate::source::Source::gaps(&src);
            feed.gaps
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(gaps);
        }
        if ended && feed.spec.file {
            let failed = feed
                .error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some();
            if !feed.spec.replay || failed {
                break;
            }
            tracing::info!(feed = %feed.spec.name, "the file ended; playing it again (loop = true)");
            backoff = Duration::ZERO;
        }
        if ended && !stop.load(Ordering::Relaxed) {
            feed.set_state(FeedState::Stalled, ": the stream ended");
        }
    }
    feed.set_state(FeedState::Ended, "");
    bell.ring();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_bucket_upper_bounds() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.99), None);
        for _ in 0..98 {
            h.observe(0.025);
        }
        h.observe(0.45);
        h.observe(0.45);
        // Rank 50 of 98 in (0.02, 0.03]; rank 99 is the first of two in
        // (0.4, 0.5].
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert!(
            close(h.quantile(0.5), 0.02 + 0.01 * 50.0 / 98.0),
            "{:?}",
            h.quantile(0.5)
        );
        assert!(close(h.quantile(0.99), 0.45), "{:?}", h.quantile(0.99));
        assert!(close(h.quantile(1.0), 0.5));
        h.observe(60.0);
        assert_eq!(h.count, 101);
        assert_eq!(h.quantile(1.0), None, "beyond the last bucket");
    }

    #[test]
    fn the_slot_keeps_the_newest_frame_and_counts_drops() {
        let feed = Feed::new(
            FeedSpec {
                name: "a".into(),
                url: "x".into(),
                file: false,
                replay: false,
                rtsp_transport: Default::default(),
            },
            0,
        );
        let stop = AtomicBool::new(false);
        let frame = |seq: u64| {
            let meta = crate::frame::FrameMeta {
                source_id: 0,
                seq,
                frame_index: seq,
                pts_s: Some(seq as f64),
                width: 1,
                height: 1,
                gsd_m_per_px: None,
                ground: None,
                unplaced: None,
                probe: false,
            };
            Arrived {
                frame: Frame::whole(meta, image::RgbImage::new(1, 1)),
                at: Instant::now(),
            }
        };
        for i in 0..3 {
            feed.put(frame(i), true, &stop);
        }
        assert_eq!(feed.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(feed.take().unwrap().frame.meta.seq, 2);
        assert!(feed.take().is_none());
    }

    #[test]
    fn jitter_stays_within_a_quarter() {
        for _ in 0..100 {
            let d = jitter(Duration::from_secs(4));
            assert!(
                d >= Duration::from_secs(3) && d <= Duration::from_secs(5),
                "{d:?}"
            );
        }
    }
}
