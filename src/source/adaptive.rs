//! Adaptive sampling: spend inference only where something can be.
//!
//! Most of a night's drone footage is empty sea or empty road. With
//! `--sample adaptive` a video source decides, frame by frame, whether the
//! detector needs to see the frame:
//!
//! - **busy**: while the stream has a track of a class some signature
//!   counts, or an event open or pending, every frame goes to the detector
//!   (the consumer says so through a [`Feedback`] board);
//! - **motion**: a few times a second (`look_fps`) a 320-pixel grey
//!   thumbnail is compared with the previous one by a [`MotionDetector`]:
//!   the camera's own motion is measured and taken out first, then what
//!   moved against the background is measured. Wave glitter and lighting
//!   changes are learnt and discounted. Something that moved, a cut, or
//!   ground not seen at the last inference sends the frame to the detector;
//! - **base rate**: quiet footage is still inferred `base_fps` times a
//!   second, and never with a gap longer than `max_gap_s`.
//!
//! While a stream is quiet, the decoder also skips the frames no other
//! frame refers to (`skip_frame`), which no look or inference needs.
//!
//! **Keyframe steps.** On a quiet stretch of a file whose keyframes are at
//! most `max_gap_s` apart, a batch source decodes keyframes only, on a
//! decoder of their own, and sends each to the detector as a *probe*. The
//! consumer judges a probe before it screens it: a probe that shows a
//! class some signature counts (or comes while the stream is busy) is
//! *rejected* unscreened, and so are the accepted probe the consumer holds
//! and those sent after it. An accepted probe is held until the next frame
//! of its input comes, then screened. After a rejection the source decodes
//! the stretch from the last probe screened again, every frame from the
//! held probe to the rejected one inferred, so that an object one probe
//! missed and the next saw is still seen from its first frame. Up to
//! [`PROBES_IN_FLIGHT`] probes are out at once. What is screened depends on
//! the video alone, as with the news below.
//!
//! Tracker and signatures are driven by timestamps, not frame counts, so
//! uneven sampling changes nothing in how they decide (see
//! [`crate::track`] and [`crate::event`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a video's frames are chosen for the detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleMode {
    /// Every frame kept by `stride` and `fps` is inferred.
    #[default]
    Full,
    /// Frames are inferred where something can be (see the module).
    Adaptive,
}

impl SampleMode {
    pub fn name(self) -> &'static str {
        match self {
            SampleMode::Full => "full",
            SampleMode::Adaptive => "adaptive",
        }
    }
}

/// `[sampling.adaptive]` in `lookout.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdaptiveParams {
    /// Inferences per second of video on quiet footage.
    pub base_fps: f64,
    /// The longest stretch of video, in seconds, without an inference,
    /// whatever the other settings say.
    pub max_gap_s: f64,
    /// Thumbnails compared per second of video to look for motion.
    pub look_fps: f64,
    /// Share of the frame the camera may travel over new ground, since the
    /// last inference, before the next frame is inferred.
    pub new_ground: f64,
    /// Grey levels (0–255) a pixel must change by, against the camera's
    /// motion and beyond what it usually flickers, to count as moved.
    pub motion_threshold: f64,
    /// Thumbnail pixels (320 wide) a moving blob needs to count.
    pub min_blob_px: usize,
    /// Let the decoder skip frames no other frame refers to while quiet.
    pub skip_nonref: bool,
    /// On quiet stretches of files whose keyframes are at most
    /// `max_gap_s` apart, decode keyframes only (see the module).
    pub keyframe_steps: bool,
}

impl Default for AdaptiveParams {
    fn default() -> Self {
        AdaptiveParams {
            // At 1 an event on the long generated sortie opened 1.04 s
            // later than at full rate; at 2 the worst was 0.36 s.
            base_fps: 2.0,
            max_gap_s: 1.0,
            look_fps: 5.0,
            new_ground: 0.15,
            motion_threshold: 14.0,
            min_blob_px: 4,
            skip_nonref: true,
            keyframe_steps: true,
        }
    }
}

impl AdaptiveParams {
    /// The first setting out of range, as `(key, what it must be)`.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.base_fps) {
            return Some(("base_fps", "a positive number of frames per second"));
        }
        if !positive(self.max_gap_s) {
            return Some(("max_gap_s", "a positive number of seconds"));
        }
        if !positive(self.look_fps) {
            return Some(("look_fps", "a positive number of looks per second"));
        }
        if !(self.new_ground.is_finite() && self.new_ground > 0.0 && self.new_ground <= 1.0) {
            return Some(("new_ground", "a share of the frame in (0, 1]"));
        }
        if !(self.motion_threshold.is_finite() && (1.0..=255.0).contains(&self.motion_threshold)) {
            return Some(("motion_threshold", "a number of grey levels from 1 to 255"));
        }
        if self.min_blob_px == 0 {
            return Some(("min_blob_px", "at least 1"));
        }
        None
    }

    /// Seconds between inferences on quiet footage.
    fn interval_s(&self) -> f64 {
        (1.0 / self.base_fps).min(self.max_gap_s)
    }
}

/// Why a frame was sent to the detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InferReason {
    /// The first frame of the input.
    Start,
    /// A track or event was alive at the last frame the consumer saw.
    Busy,
    /// Something moved against the background.
    Motion,
    /// A cut, or a view too different to compare.
    SceneChange,
    /// The camera reached ground not seen at the last inference.
    NewGround,
    /// The base rate, or the longest gap allowed, came due.
    BaseRate,
    /// No timestamp to decide by: every such frame is inferred.
    Untimed,
    /// A keyframe probe the consumer accepted (keyframe steps).
    Keyframe,
}

impl InferReason {
    pub fn name(self) -> &'static str {
        match self {
            InferReason::Start => "start",
            InferReason::Busy => "busy",
            InferReason::Motion => "motion",
            InferReason::SceneChange => "scene_change",
            InferReason::NewGround => "new_ground",
            InferReason::BaseRate => "base_rate",
            InferReason::Untimed => "untimed",
            InferReason::Keyframe => "keyframe",
        }
    }
}

/// What sampling did to one input, as `run.json` records it per source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SamplingCounts {
    /// `full` or `adaptive`.
    pub mode: String,
    /// Frames the decoder produced.
    pub decoded: u64,
    /// Frames the decoder was told to skip (they no other frame refers to).
    pub not_decoded: u64,
    /// Frames whose thumbnail was compared for motion.
    pub looked: u64,
    /// Frames sent to the detector and screened.
    pub inferred: u64,
    /// Keyframe probes sent to the detector that were not screened: the
    /// consumer rejected them, or they followed a rejected one. Their
    /// frames were decoded again with the stretch before them.
    #[serde(default)]
    pub probes_discarded: u64,
    /// Inferred frames by reason.
    #[serde(default)]
    pub inferred_because: BTreeMap<String, u64>,
    /// Decoded frames not inferred, by reason: `stride_or_fps` (the
    /// `stride` and `fps` settings), `quiet` (looked at, nothing there),
    /// `between_looks` (not due for a look).
    #[serde(default)]
    pub skipped_because: BTreeMap<String, u64>,
}

impl SamplingCounts {
    pub fn new(mode: SampleMode) -> SamplingCounts {
        SamplingCounts {
            mode: mode.name().into(),
            ..Default::default()
        }
    }

    /// Notes why a frame was inferred (`inferred` itself is the source's
    /// count of frames sent).
    pub fn infer(&mut self, reason: InferReason) {
        *self
            .inferred_because
            .entry(reason.name().into())
            .or_default() += 1;
    }

    pub fn skip(&mut self, reason: &str) {
        *self.skipped_because.entry(reason.into()).or_default() += 1;
    }
}

/// The consumer's news for the sources: per source, whether the stream was
/// busy after each frame it screened (its `seq`).
///
/// A batch source decides on the frame at `t` with the news of the last
/// frame it sent at least [`Feedback::LEAD_S`] seconds of video before
/// `t`, waiting for that news if it has not come; so decoding runs ahead
/// of inference by up to that lead, and a person found at one frame sends
/// the frames from `LEAD_S` later to the detector. Fresher news is
/// not used even when it has come: which frames are inferred depends on
/// the video alone, not on how fast this machine ran, and a run screened
/// again finds the same frames and events. A live board
/// ([`Feedback::live`]) never makes a feed wait and gives the latest news.
#[derive(Debug)]
pub struct Feedback {
    news: Mutex<Board>,
    changed: Condvar,
    live: bool,
}

#[derive(Debug, Default)]
struct Board {
    /// Per source, the news not yet read, oldest first. A live board
    /// keeps only the latest.
    seen: HashMap<usize, VecDeque<(u64, News)>>,
    closed: bool,
}

/// What the consumer made of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct News {
    /// The stream is busy after the frame.
    pub busy: bool,
    /// The frame was a keyframe probe the consumer rejected unscreened.
    pub rejected: bool,
}

/// Keyframe probes a batch source may have sent before it waits for the
/// verdict on the oldest: two inferring while it decodes the next. On the
/// generated 1 s-GOP 1080p sortie, three gave 27.3–28.6 s of wall time
/// where two gave 28.0–30.4 s, for five more probes discarded.
pub const PROBES_IN_FLIGHT: usize = 3;

impl Feedback {
    /// Seconds of video a batch source may decode past its news. A person
    /// found at one frame has every frame from 0.3 s later inferred, well
    /// before an event could open (the default signatures'
    /// `min_duration` is 1 s). On the generated 3-minute 1080p sortie,
    /// 0.5 s made an event open 0.84 s after the full-rate run's; 0.3 s
    /// made it 0.48 s, and decoding still seldom waits for inference.
    pub const LEAD_S: f64 = 0.3;

    pub fn batch() -> Feedback {
        Feedback {
            news: Mutex::default(),
            changed: Condvar::new(),
            live: false,
        }
    }

    pub fn live() -> Feedback {
        Feedback {
            live: true,
            ..Feedback::batch()
        }
    }

    /// Whether this board serves live feeds, which never wait.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// The consumer has screened frame `seq` of `source`; the stream is
    /// `busy` after it.
    pub fn report(&self, source: usize, seq: u64, busy: bool) {
        self.post(
            source,
            seq,
            News {
                busy,
                rejected: false,
            },
        );
    }

    /// The consumer rejected keyframe probe `seq` of `source` unscreened:
    /// something may be there, and the source must decode the stretch
    /// before it again, every frame.
    pub fn reject(&self, source: usize, seq: u64) {
        self.post(
            source,
            seq,
            News {
                busy: true,
                rejected: true,
            },
        );
    }

    fn post(&self, source: usize, seq: u64, news: News) {
        let mut board = self.news.lock().expect("feedback lock");
        let seen = board.seen.entry(source).or_default();
        if self.live {
            // A live feed that reconnects counts its frames from 0 again.
            seen.clear();
            seen.push_back((seq, news));
        } else if seen.back().is_none_or(|&(s, _)| seq > s) {
            seen.push_back((seq, news));
        }
        drop(board);
        self.changed.notify_all();
    }

    /// Whether `source` was busy after its frame `seq`, once that frame's
    /// news has come (waiting for it); the news of earlier frames is
    /// dropped. `None` once the board is closed. For batch boards.
    pub fn busy_after(&self, source: usize, seq: u64) -> Option<bool> {
        self.news_of(source, seq).map(|n| n.busy)
    }

    /// The news of `source`'s frame `seq`, or of the last frame before it
    /// that has news, once news of `seq` or a later frame has come
    /// (waiting for it); the news of earlier frames is dropped. `None`
    /// once the board is closed. For batch boards.
    pub fn news_of(&self, source: usize, seq: u64) -> Option<News> {
        let mut board = self.news.lock().expect("feedback lock");
        loop {
            let news = board.seen.entry(source).or_default();
            if news.back().is_some_and(|&(s, _)| s >= seq) {
                while news.len() > 1 && news[1].0 <= seq {
                    news.pop_front();
                }
                return news.front().map(|&(_, n)| n);
            }
            if board.closed {
                return None;
            }
            board = self
                .changed
                .wait_timeout(board, Duration::from_millis(100))
                .expect("feedback lock")
                .0;
        }
    }

    /// Whether `source` is busy after the latest frame of it screened, if
    /// any was: for live boards, which never wait.
    pub fn latest_busy(&self, source: usize) -> Option<bool> {
        let board = self.news.lock().expect("feedback lock");
        board
            .seen
            .get(&source)
            .and_then(|n| n.back())
            .map(|&(_, n)| n.busy)
    }

    /// No more news will come (the consumer stopped): nobody waits again.
    pub fn close(&self) {
        self.news.lock().expect("feedback lock").closed = true;
        self.changed.notify_all();
    }

    /// Forgets a finished source.
    pub fn forget(&self, source: usize) {
        self.news
            .lock()
            .expect("feedback lock")
            .seen
            .remove(&source);
    }
}

/// Width of the grey thumbnails the motion detector compares.
pub const THUMB_WIDTH: u32 = 320;

/// The thumbnail size for a `width × height` picture: 320 wide (or the
/// picture's own width, if smaller), the picture's shape, even sizes.
pub fn thumb_size(width: u32, height: u32) -> (u32, u32) {
    let w = THUMB_WIDTH.min(width).max(16) & !1;
    let h = ((u64::from(height) * u64::from(w)) / u64::from(width.max(1))).max(16) as u32 & !1;
    (w, h)
}

/// A grey picture, row-major, one byte per pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct Gray {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl Gray {
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Gray {
        assert_eq!(pixels.len(), width * height, "grey picture size");
        Gray {
            width,
            height,
            pixels,
        }
    }

    fn at(&self, x: usize, y: usize) -> u8 {
        self.pixels[y * self.width + x]
    }

    /// Half the size, each pixel the mean of a 2×2 block.
    fn half(&self) -> Gray {
        let (w, h) = (self.width / 2, self.height / 2);
        let mut pixels = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let s = u32::from(self.at(2 * x, 2 * y))
                    + u32::from(self.at(2 * x + 1, 2 * y))
                    + u32::from(self.at(2 * x, 2 * y + 1))
                    + u32::from(self.at(2 * x + 1, 2 * y + 1));
                pixels.push(((s + 2) / 4) as u8);
            }
        }
        Gray::new(w, h, pixels)
    }

    fn mean(&self) -> f64 {
        self.pixels.iter().map(|&p| u64::from(p)).sum::<u64>() as f64
            / self.pixels.len().max(1) as f64
    }

    /// The minimum and the maximum of each pixel's 3×3 neighbourhood
    /// (separably: rows, then columns).
    fn range3(&self) -> (Vec<u8>, Vec<u8>) {
        let (w, h) = (self.width, self.height);
        let mut lo = vec![0u8; w * h];
        let mut hi = vec![0u8; w * h];
        for y in 0..h {
            let row = &self.pixels[y * w..(y + 1) * w];
            for x in 0..w {
                let (a, b) = (x.saturating_sub(1), (x + 1).min(w - 1));
                let s = &row[a..=b];
                lo[y * w + x] = s.iter().copied().fold(u8::MAX, u8::min);
                hi[y * w + x] = s.iter().copied().fold(u8::MIN, u8::max);
            }
        }
        let (mut lo2, mut hi2) = (lo.clone(), hi.clone());
        for y in 0..h {
            let (a, b) = (y.saturating_sub(1), (y + 1).min(h - 1));
            for x in 0..w {
                let (mut l, mut m) = (u8::MAX, u8::MIN);
                for yy in a..=b {
                    l = l.min(lo[yy * w + x]);
                    m = m.max(hi[yy * w + x]);
                }
                lo2[y * w + x] = l;
                hi2[y * w + x] = m;
            }
        }
        (lo2, hi2)
    }
}

/// A `w × h` thumbnail of an 8-bit plane (`width × height`, rows `stride`
/// bytes apart), each pixel the mean of its box. Boxes wider than four
/// pixels are sampled on every other row and column: the result is still
/// smooth, at a quarter of the reads.
pub fn box_thumbnail(
    plane: &[u8],
    stride: usize,
    width: usize,
    height: usize,
    w: usize,
    h: usize,
) -> Gray {
    let step = if width >= 4 * w && height >= 4 * h {
        2
    } else {
        1
    };
    let mut pixels = Vec::with_capacity(w * h);
    let mut sums = vec![0u32; w];
    let mut counts = vec![0u32; w];
    let x_bounds: Vec<(usize, usize)> = (0..w)
        .map(|tx| {
            let a = tx * width / w;
            (a, ((tx + 1) * width / w).max(a + 1))
        })
        .collect();
    for ty in 0..h {
        let y0 = ty * height / h;
        let y1 = ((ty + 1) * height / h).max(y0 + 1);
        sums.iter_mut().for_each(|v| *v = 0);
        counts.iter_mut().for_each(|v| *v = 0);
        for y in (y0..y1).step_by(step) {
            let row = &plane[y * stride..y * stride + width];
            for (tx, &(a, b)) in x_bounds.iter().enumerate() {
                let mut sum = 0u32;
                let mut n = 0u32;
                for &v in row[a..b].iter().step_by(step) {
                    sum += u32::from(v);
                    n += 1;
                }
                sums[tx] += sum;
                counts[tx] += n;
            }
        }
        pixels.extend(
            sums.iter()
                .zip(&counts)
                .map(|(&s, &n)| ((s + n / 2) / n.max(1)) as u8),
        );
    }
    Gray::new(w, h, pixels)
}

/// What one look found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    /// The camera's motion since the previous look, in thumbnail pixels:
    /// a point at `(x, y)` in the previous thumbnail is at `(x + dx, y + dy)`
    /// now.
    pub shift: (i32, i32),
    /// Pixels of the largest blob that moved against the background.
    pub blob_px: usize,
    /// Share of compared pixels that changed: near 1 at a cut.
    pub changed_share: f64,
    /// The view cannot be compared with the previous one (a cut).
    pub scene_change: bool,
}

/// Finds what moved between two looks of a moving camera.
///
/// 1. **Camera motion**: a global shift found by a coarse-to-fine search
///    (an eighth, a quarter, half and full thumbnail size) that minimises the mean
///    absolute difference of the brightness-centred pictures over their
///    overlap. Aerial footage between looks 0.2 s apart is, to first
///    order, a translation; rotation and zoom leave residue at the edges
///    that the next steps absorb.
/// 2. **Residue**: each pixel against the 3×3 neighbourhood of its place
///    in the previous look, after the mean brightness change is taken out.
///    Only what lies outside the neighbourhood's range counts, so a
///    sub-pixel misregistration or a soft edge does not.
/// 3. **Flicker**: a per-pixel estimate of how much the residue usually is
///    (fast up, slow down: it fades over some 20 s of looks), carried
///    along with the camera and spread to a 7×7 neighbourhood. Wave glitter and swaying trees raise their own
///    bar; a person walking onto empty ground does not.
/// 4. **Blobs**: pixels over `threshold + 2.5 × flicker` are joined into
///    8-connected blobs; the largest is reported.
#[derive(Debug, Clone)]
pub struct MotionDetector {
    threshold: f64,
    previous: Option<Gray>,
    flicker: Vec<f32>,
    /// The camera's shift at the last look, to search around first.
    last_shift: (i32, i32),
}

/// Largest camera shift searched for, as a share of the thumbnail width.
const MAX_SHIFT_SHARE: f64 = 0.15;
/// Changed share above which a look counts as a cut.
const SCENE_CHANGE_SHARE: f64 = 0.2;
/// Mean absolute difference (grey levels) at the best shift above which
/// the views are too different to compare.
const SCENE_CHANGE_MAD: f64 = 40.0;

impl MotionDetector {
    pub fn new(threshold: f64) -> MotionDetector {
        MotionDetector {
            threshold,
            previous: None,
            flicker: Vec::new(),
            last_shift: (0, 0),
        }
    }

    /// Forgets the previous look (after a gap, or a cut).
    pub fn reset(&mut self) {
        self.previous = None;
        self.flicker.clear();
        self.last_shift = (0, 0);
    }

    /// Compares `current` with the previous look; `None` at the first.
    pub fn look(&mut self, current: Gray) -> Option<Look> {
        let Some(previous) = self.previous.take() else {
            self.flicker = vec![0.0; current.pixels.len()];
            self.previous = Some(current);
            return None;
        };
        if (previous.width, previous.height) != (current.width, current.height) {
            self.reset();
            return self.look(current);
        }
        let (shift, mad) = global_shift(&previous, &current, self.last_shift);
        self.last_shift = shift;
        let look = if mad > SCENE_CHANGE_MAD {
            self.flicker.iter_mut().for_each(|f| *f = 0.0);
            Look {
                shift,
                blob_px: 0,
                changed_share: 1.0,
                scene_change: true,
            }
        } else {
            self.residue(&previous, &current, shift)
        };
        self.previous = Some(current);
        Some(look)
    }

    fn residue(&mut self, prev: &Gray, cur: &Gray, (dx, dy): (i32, i32)) -> Look {
        let (w, h) = (cur.width, cur.height);
        let offset = cur.mean() - prev.mean();
        // The flicker map follows the camera: pixel (x, y) now was at
        // (x - dx, y - dy) before. Ground the camera had not seen starts
        // from the map's mean.
        let carried = {
            let mean = self.flicker.iter().sum::<f32>() / self.flicker.len().max(1) as f32;
            let mut map = vec![mean; w * h];
            for y in 0..h {
                let py = y as i32 - dy;
                if py < 0 || py >= h as i32 {
                    continue;
                }
                for x in 0..w {
                    let px = x as i32 - dx;
                    if px >= 0 && px < w as i32 {
                        map[y * w + x] = self.flicker[py as usize * w + px as usize];
                    }
                }
            }
            map
        };
        let spread = box_max(&carried, w, h, 3);
        let (lows, highs) = prev.range3();
        let mut residue = vec![0f32; w * h];
        let mut mask = vec![false; w * h];
        let (mut compared, mut changed) = (0usize, 0usize);
        for y in 0..h {
            let py = y as i32 - dy;
            if py < 1 || py >= h as i32 - 1 {
                continue;
            }
            for x in 0..w {
                let px = x as i32 - dx;
                if px < 1 || px >= w as i32 - 1 {
                    continue;
                }
                let j = py as usize * w + px as usize;
                let (lo, hi) = (lows[j], highs[j]);
                let c = f64::from(cur.at(x, y)) - offset;
                let r = (c - f64::from(hi)).max(f64::from(lo) - c).max(0.0) as f32;
                let i = y * w + x;
                residue[i] = r;
                compared += 1;
                if f64::from(r) > self.threshold + 2.5 * f64::from(spread[i]) {
                    mask[i] = true;
                    changed += 1;
                }
            }
        }
        // Fast up, slow down: a pixel that glitters keeps a raised bar for
        // some 20 s of looks.
        for (f, (&c, &r)) in self
            .flicker
            .iter_mut()
            .zip(carried.iter().zip(residue.iter()))
        {
            let rate = if r > c { 0.5 } else { 0.01 };
            *f = c + rate * (r - c);
        }
        let changed_share = changed as f64 / compared.max(1) as f64;
        let scene_change = changed_share > SCENE_CHANGE_SHARE;
        if scene_change {
            self.flicker.iter_mut().for_each(|f| *f = 0.0);
        }
        Look {
            shift: (dx, dy),
            blob_px: if scene_change {
                0
            } else {
                largest_blob(&mask, w, h)
            },
            changed_share,
            scene_change,
        }
    }
}

/// Mean absolute difference of two brightness-centred pictures with `cur`
/// shifted by `(dx, dy)` against `prev`, over their overlap less a margin;
/// `None` when the overlap is too small.
fn mad_at(prev: &Gray, cur: &Gray, pm: f64, cm: f64, dx: i32, dy: i32) -> Option<f64> {
    let (w, h) = (cur.width as i32, cur.height as i32);
    let margin = 1;
    let x0 = margin.max(dx + margin);
    let x1 = (w - margin).min(w + dx - margin);
    let y0 = margin.max(dy + margin);
    let y1 = (h - margin).min(h + dy - margin);
    if x1 - x0 < w / 3 || y1 - y0 < h / 3 {
        return None;
    }
    let offset = (cm - pm).round() as i32;
    let mut sum = 0u64;
    for y in y0..y1 {
        let crow = &cur.pixels[(y * w) as usize..((y + 1) * w) as usize];
        let prow = &prev.pixels[((y - dy) * w) as usize..((y - dy + 1) * w) as usize];
        for x in x0..x1 {
            let d = i32::from(crow[x as usize]) - i32::from(prow[(x - dx) as usize]) - offset;
            sum += d.unsigned_abs() as u64;
        }
    }
    Some(sum as f64 / ((x1 - x0) * (y1 - y0)) as f64)
}

/// The best shift within `±radius` of `around`.
fn search(prev: &Gray, cur: &Gray, around: (i32, i32), radius: i32) -> ((i32, i32), f64) {
    let (pm, cm) = (prev.mean(), cur.mean());
    let mut best = (around, f64::INFINITY);
    for dy in around.1 - radius..=around.1 + radius {
        for dx in around.0 - radius..=around.0 + radius {
            if let Some(m) = mad_at(prev, cur, pm, cm, dx, dy) {
                // Ties go to the smaller shift, so flat pictures stay put.
                let better = m < best.1 - 1e-9
                    || ((m - best.1).abs() <= 1e-9
                        && dx.abs() + dy.abs() < best.0 .0.abs() + best.0 .1.abs());
                if better {
                    best = ((dx, dy), m);
                }
            }
        }
    }
    best
}

/// The camera's shift from `prev` to `cur`, with the mean absolute
/// difference left at it. The whole range is searched at an eighth of the
/// size; at a quarter, around that and around the last look's shift
/// (cameras move smoothly), whichever fits better; then refined at half
/// and full size.
fn global_shift(prev: &Gray, cur: &Gray, last: (i32, i32)) -> ((i32, i32), f64) {
    let (p2, c2) = (prev.half(), cur.half());
    let (p4, c4) = (p2.half(), c2.half());
    let (p8, c8) = (p4.half(), c4.half());
    let radius = ((c8.width as f64 * MAX_SHIFT_SHARE).ceil() as i32).max(2);
    let ((x8, y8), _) = search(&p8, &c8, (0, 0), radius);
    let coarse = search(&p4, &c4, (2 * x8, 2 * y8), 2);
    let predicted = search(&p4, &c4, (last.0 / 4, last.1 / 4), 2);
    let ((x4, y4), _) = if predicted.1 < coarse.1 {
        predicted
    } else {
        coarse
    };
    let ((x2, y2), _) = search(&p2, &c2, (2 * x4, 2 * y4), 1);
    search(prev, cur, (2 * x2, 2 * y2), 1)
}

/// The maximum of `map` over a `(2r+1)²` box around each pixel.
fn box_max(map: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let mut rows = vec![0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let (a, b) = (x.saturating_sub(r), (x + r).min(w - 1));
            rows[y * w + x] = map[y * w + a..=y * w + b]
                .iter()
                .copied()
                .fold(0.0, f32::max);
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        let (a, b) = (y.saturating_sub(r), (y + r).min(h - 1));
        for x in 0..w {
            out[y * w + x] = (a..=b).map(|yy| rows[yy * w + x]).fold(0.0, f32::max);
        }
    }
    out
}

/// Pixels in the largest 8-connected blob of `mask`.
fn largest_blob(mask: &[bool], w: usize, h: usize) -> usize {
    let mut seen = vec![false; mask.len()];
    let mut stack = Vec::new();
    let mut largest = 0;
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut size = 0;
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            for (ddx, ddy) in [
                (-1, -1),
                (0, -1),
                (1, -1),
                (-1, 0),
                (1, 0),
                (-1, 1),
                (0, 1),
                (1, 1),
            ] {
                let (nx, ny) = (x + ddx, y + ddy);
                if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                    continue;
                }
                let j = ny as usize * w + nx as usize;
                if mask[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        largest = largest.max(size);
    }
    largest
}

/// What the policy wants done with a decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Infer(InferReason),
    /// Not inferred: `quiet` or `between_looks`.
    Skip(&'static str),
}

/// The adaptive policy of one video: given each decoded frame's time, the
/// stream's news and (when a look is due) the frame's thumbnail, decides
/// whether it goes to the detector.
#[derive(Debug, Clone)]
pub struct Adaptive {
    params: AdaptiveParams,
    motion: MotionDetector,
    /// Time of the last inferred frame.
    last_inferred: Option<f64>,
    /// Time of the last look.
    last_look: Option<f64>,
    /// Camera travel since the last inferred frame, thumbnail pixels.
    travel: (i32, i32),
    /// Thumbnail size, for `new_ground`.
    thumb: (u32, u32),
}

impl Adaptive {
    pub fn new(params: AdaptiveParams, thumb: (u32, u32)) -> Adaptive {
        Adaptive {
            motion: MotionDetector::new(params.motion_threshold),
            params,
            last_inferred: None,
            last_look: None,
            travel: (0, 0),
            thumb,
        }
    }

    pub fn params(&self) -> &AdaptiveParams {
        &self.params
    }

    /// The size of the thumbnails it looks at.
    pub fn thumb(&self) -> (u32, u32) {
        self.thumb
    }

    /// Whether the frame at `t` must be inferred whatever it shows: the
    /// first, a busy stream, or the base rate due. `None` when a look (or
    /// a skip) decides.
    pub fn must_infer(&self, t: Option<f64>, busy: bool) -> Option<InferReason> {
        let Some(t) = t else {
            return Some(InferReason::Untimed);
        };
        let Some(last) = self.last_inferred else {
            return Some(InferReason::Start);
        };
        if busy {
            return Some(InferReason::Busy);
        }
        // A little early rather than late: the next decoded frame may be a
        // few periods away while the decoder skips.
        if t - last >= self.params.interval_s() - 0.02 {
            return Some(InferReason::BaseRate);
        }
        None
    }

    /// Whether the frame at `t` should be looked at.
    pub fn look_due(&self, t: f64) -> bool {
        self.last_look
            .is_none_or(|l| t - l >= 1.0 / self.params.look_fps - 0.01)
    }

    /// Decides on the frame at `t`. `busy` is the latest news; `thumb`
    /// makes the frame's thumbnail, called only when a look is due (or for
    /// an inferred frame, to keep the motion detector's reference fresh).
    pub fn decide(
        &mut self,
        t: Option<f64>,
        busy: bool,
        thumb: impl FnOnce() -> Option<Gray>,
        looked: &mut bool,
    ) -> Decision {
        *looked = false;
        let forced = self.must_infer(t, busy);
        let Some(t) = t else {
            return self.inferred(None, InferReason::Untimed);
        };
        if forced.is_none() && !self.look_due(t) {
            return Decision::Skip("between_looks");
        }
        // Busy streams are inferred at every frame: no look is needed
        // until the stream is quiet again, and then the motion detector
        // starts afresh.
        if forced == Some(InferReason::Busy) {
            self.motion.reset();
            self.last_look = None;
            return self.inferred(Some(t), InferReason::Busy);
        }
        let look = match thumb() {
            Some(g) => {
                *looked = true;
                self.last_look = Some(t);
                self.motion.look(g)
            }
            None => None,
        };
        if let Some(l) = look {
            self.travel.0 += l.shift.0;
            self.travel.1 += l.shift.1;
        }
        if let Some(reason) = forced {
            return self.inferred(Some(t), reason);
        }
        match look {
            Some(l) if l.scene_change => self.inferred(Some(t), InferReason::SceneChange),
            Some(l) if l.blob_px >= self.params.min_blob_px => {
                self.inferred(Some(t), InferReason::Motion)
            }
            Some(_) if self.new_ground() => self.inferred(Some(t), InferReason::NewGround),
            _ => Decision::Skip("quiet"),
        }
    }

    /// Share of the thumbnail the camera has travelled since the last
    /// inference reached `new_ground`.
    fn new_ground(&self) -> bool {
        let (w, h) = (f64::from(self.thumb.0), f64::from(self.thumb.1));
        let (dx, dy) = (
            f64::from(self.travel.0.abs()),
            f64::from(self.travel.1.abs()),
        );
        // Area of the view outside the last inferred view.
        let unseen = 1.0 - ((w - dx).max(0.0) * (h - dy).max(0.0)) / (w * h);
        unseen >= self.params.new_ground
    }

    /// A keyframe probe at `t` was accepted and screened: the base rate
    /// counts from it, and the next look starts afresh (the frames between
    /// were never decoded).
    pub fn probed(&mut self, t: f64) {
        self.last_inferred = Some(t);
        self.travel = (0, 0);
        self.motion.reset();
        self.last_look = None;
    }

    fn inferred(&mut self, t: Option<f64>, reason: InferReason) -> Decision {
        if t.is_some() {
            self.last_inferred = t;
        }
        self.travel = (0, 0);
        Decision::Infer(reason)
    }
}

/// Frames a source sent to the detector whose news it has not read yet.
#[derive(Debug, Default, Clone)]
pub struct Unanswered {
    sent: VecDeque<(u64, Option<f64>)>,
}

impl Unanswered {
    pub fn sent(&mut self, seq: u64, t: Option<f64>) {
        self.sent.push_back((seq, t));
    }

    /// The last frame sent at least `lead_s` before `t` (every frame sent,
    /// when either is untimed), whose news the source reads now; it and
    /// the frames before it are forgotten.
    pub fn due(&mut self, t: Option<f64>, lead_s: f64) -> Option<u64> {
        let mut last = None;
        while let Some(&(seq, sent_t)) = self.sent.front() {
            match (sent_t, t) {
                (Some(s), Some(t)) if t - s < lead_s => break,
                _ => {
                    last = Some(seq);
                    self.sent.pop_front();
                }
            }
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A textured ground, like tarmac or land seen from above: smooth
    /// random blobs at several scales, from a fixed seed.
    fn ground(w: usize, h: usize, seed: u64) -> Vec<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut rnd = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f64 / (1u64 << 31) as f64) as f32
        };
        let mut out = vec![100.0f32; w * h];
        for (cell, amp) in [(32usize, 50.0f32), (8, 30.0), (3, 15.0)] {
            let (gw, gh) = (w / cell + 2, h / cell + 2);
            let grid: Vec<f32> = (0..gw * gh).map(|_| rnd() - 0.5).collect();
            for y in 0..h {
                for x in 0..w {
                    let (fx, fy) = (x as f32 / cell as f32, y as f32 / cell as f32);
                    let (ix, iy) = (fx as usize, fy as usize);
                    let (tx, ty) = (fx - ix as f32, fy - iy as f32);
                    let g = |i: usize, j: usize| grid[j * gw + i];
                    let v = g(ix, iy) * (1.0 - tx) * (1.0 - ty)
                        + g(ix + 1, iy) * tx * (1.0 - ty)
                        + g(ix, iy + 1) * (1.0 - tx) * ty
                        + g(ix + 1, iy + 1) * tx * ty;
                    out[y * w + x] += amp * v;
                }
            }
        }
        out
    }

    /// The view `w × h` at `(ox, oy)` of a large `world`, plus `extra`.
    fn view(world: &[f32], ww: usize, ox: usize, oy: usize, w: usize, h: usize) -> Gray {
        let pixels = (0..h)
            .flat_map(|y| (0..w).map(move |x| (y, x)))
            .map(|(y, x)| world[(oy + y) * ww + ox + x].clamp(0.0, 255.0) as u8)
            .collect();
        Gray::new(w, h, pixels)
    }

    fn paint(g: &mut Gray, x: usize, y: usize, size: usize, value: u8) {
        for yy in y..y + size {
            for xx in x..x + size {
                g.pixels[yy * g.width + xx] = value;
            }
        }
    }

    #[test]
    fn the_camera_shift_is_found_and_a_still_view_is_quiet() {
        let (ww, wh) = (600, 400);
        let world = ground(ww, wh, 7);
        let mut m = MotionDetector::new(14.0);
        assert!(m.look(view(&world, ww, 100, 100, 320, 180)).is_none());
        // The camera moves right and down: the ground moves left and up.
        let l = m.look(view(&world, ww, 109, 104, 320, 180)).unwrap();
        assert_eq!(l.shift, (-9, -4));
        assert_eq!(l.blob_px, 0, "{l:?}");
        assert!(!l.scene_change);
        let l = m.look(view(&world, ww, 109, 104, 320, 180)).unwrap();
        assert_eq!(l.shift, (0, 0));
        assert_eq!(l.blob_px, 0);
    }

    #[test]
    fn a_small_mover_is_found_during_a_pan() {
        let (ww, wh) = (800, 400);
        let world = ground(ww, wh, 11);
        let mut m = MotionDetector::new(14.0);
        let mut a = view(&world, ww, 100, 100, 320, 180);
        paint(&mut a, 150, 90, 3, 250);
        m.look(a);
        // 12 px of pan; the 3×3 bright object moved 5 px against the ground.
        let mut b = view(&world, ww, 112, 100, 320, 180);
        paint(&mut b, 150 - 12 + 5, 90, 3, 250);
        let l = m.look(b).unwrap();
        assert_eq!(l.shift, (-12, 0));
        assert!(l.blob_px >= 4, "{l:?}");
        assert!(!l.scene_change);
    }

    #[test]
    fn flicker_raises_the_bar_but_lighting_does_not_count() {
        let (w, h) = (320, 180);
        let world = ground(w, h, 3);
        let mut m = MotionDetector::new(14.0);
        let mut state = 99u64;
        let mut rnd = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        // Glitter: random bright specks in the left third, new each look.
        let glitter = |g: &mut Gray, rnd: &mut dyn FnMut() -> usize| {
            for _ in 0..60 {
                let (x, y) = (5 + rnd() % 90, 5 + rnd() % 160);
                paint(g, x, y, 2, 255);
            }
        };
        let mut blobs = Vec::new();
        for i in 0..40 {
            let mut g = view(&world, w, 0, 0, w, h);
            // Slow lighting drift: the whole view brightens.
            for p in g.pixels.iter_mut() {
                *p = p.saturating_add((i / 4) as u8);
            }
            glitter(&mut g, &mut rnd);
            if let Some(l) = m.look(g) {
                assert!(!l.scene_change);
                blobs.push(l.blob_px);
            }
        }
        // After a few seconds of looks the glitter is learnt.
        let late = &blobs[25..];
        assert!(late.iter().all(|&b| b < 4), "{blobs:?}");
        // A person appearing on the quiet right side is still found.
        let mut g = view(&world, w, 0, 0, w, h);
        for p in g.pixels.iter_mut() {
            *p = p.saturating_add(10);
        }
        glitter(&mut g, &mut rnd);
        paint(&mut g, 250, 100, 3, 255);
        let l = m.look(g).unwrap();
        assert!(l.blob_px >= 4, "{l:?}");
    }

    #[test]
    fn a_cut_is_a_scene_change() {
        let (ww, wh) = (400, 400);
        let a = ground(ww, wh, 1);
        let b: Vec<f32> = ground(ww, wh, 2).iter().map(|v| v * 1.3 - 20.0).collect();
        let mut m = MotionDetector::new(14.0);
        m.look(view(&a, ww, 0, 0, 320, 180));
        let l = m.look(view(&b, ww, 40, 100, 320, 180)).unwrap();
        assert!(l.scene_change, "{l:?}");
    }

    fn still_thumb() -> Option<Gray> {
        Some(Gray::new(32, 18, vec![80; 32 * 18]))
    }

    #[test]
    fn quiet_footage_is_inferred_at_the_base_rate_with_looks_between() {
        let params = AdaptiveParams {
            base_fps: 1.0,
            look_fps: 5.0,
            ..Default::default()
        };
        let mut a = Adaptive::new(params, (32, 18));
        let mut looked = false;
        let mut inferred = Vec::new();
        let mut looks = 0;
        for i in 0..100 {
            let t = i as f64 / 25.0;
            if let Decision::Infer(r) = a.decide(Some(t), false, still_thumb, &mut looked) {
                inferred.push((i, r));
            }
            looks += usize::from(looked);
        }
        assert_eq!(
            inferred,
            vec![
                (0, InferReason::Start),
                (25, InferReason::BaseRate),
                (50, InferReason::BaseRate),
                (75, InferReason::BaseRate)
            ]
        );
        // 5 looks a second over 4 s.
        assert_eq!(looks, 20);
    }

    #[test]
    fn a_busy_stream_is_inferred_at_every_frame() {
        let mut a = Adaptive::new(AdaptiveParams::default(), (32, 18));
        let mut looked = false;
        for i in 0..30 {
            let d = a.decide(Some(i as f64 / 25.0), i > 0, still_thumb, &mut looked);
            assert!(matches!(d, Decision::Infer(_)), "{i}: {d:?}");
            assert!(i == 0 || !looked);
        }
    }

    #[test]
    fn the_longest_gap_holds_whatever_the_base_rate() {
        let params = AdaptiveParams {
            base_fps: 0.1,
            max_gap_s: 0.5,
            ..Default::default()
        };
        let mut a = Adaptive::new(params, (32, 18));
        let mut looked = false;
        let times: Vec<f64> = (0..50)
            .map(|i| i as f64 / 25.0)
            .filter(|&t| {
                matches!(
                    a.decide(Some(t), false, still_thumb, &mut looked),
                    Decision::Infer(_)
                )
            })
            .collect();
        // Due a little early (the next decoded frame may be a few periods
        // away while the decoder skips): 0, 0.48, 0.96, ...
        assert_eq!(times.len(), 5, "{times:?}");
        assert!(times.windows(2).all(|w| w[1] - w[0] <= 0.5 + 1e-9));
    }

    #[test]
    fn a_camera_travelling_over_new_ground_is_inferred() {
        let params = AdaptiveParams {
            base_fps: 0.1,
            max_gap_s: 100.0,
            new_ground: 0.15,
            ..Default::default()
        };
        let (ww, wh) = (2000, 300);
        let world = ground(ww, wh, 5);
        let mut a = Adaptive::new(params, (320, 180));
        let mut looked = false;
        let mut reasons = Vec::new();
        // 10 px per look: 0.15 of 320 is 48 px, so every fifth look.
        for i in 0..16 {
            let g = view(&world, ww, 10 * i, 50, 320, 180);
            if let Decision::Infer(r) =
                a.decide(Some(i as f64 * 0.2), false, || Some(g), &mut looked)
            {
                reasons.push((i, r));
            }
        }
        assert_eq!(
            reasons,
            vec![
                (0, InferReason::Start),
                (5, InferReason::NewGround),
                (10, InferReason::NewGround),
                (15, InferReason::NewGround)
            ]
        );
    }

    #[test]
    fn a_batch_source_reads_the_news_of_frames_past_its_lead_and_a_live_one_the_latest() {
        let lead = Feedback::LEAD_S;
        let mut u = Unanswered::default();
        u.sent(3, Some(1.0));
        u.sent(4, Some(1.1));
        assert_eq!(u.due(Some(1.0 + lead - 0.05), lead), None);
        assert_eq!(u.due(Some(1.0 + lead + 0.05), lead), Some(3));
        assert_eq!(u.due(Some(1.0 + lead + 0.05), lead), None);
        assert_eq!(u.due(Some(1.1 + lead + 0.2), lead), Some(4));
        u.sent(5, Some(2.0));
        u.sent(6, Some(2.1));
        assert_eq!(u.due(None, lead), Some(6), "untimed: every frame sent");

        let board = std::sync::Arc::new(Feedback::batch());
        let b = board.clone();
        let waiter = std::thread::spawn(move || b.busy_after(0, 5));
        std::thread::sleep(Duration::from_millis(30));
        board.report(0, 4, false);
        std::thread::sleep(Duration::from_millis(30));
        assert!(!waiter.is_finished());
        board.report(0, 5, true);
        assert_eq!(waiter.join().unwrap(), Some(true));
        // News of later frames has come, but frame 4's is what is asked:
        // the answer does not depend on how far the consumer got.
        let board = Feedback::batch();
        board.report(0, 4, false);
        board.report(0, 5, true);
        board.report(0, 6, true);
        assert_eq!(board.busy_after(0, 4), Some(false));
        assert_eq!(board.busy_after(0, 6), Some(true));
        // Closed: nobody waits.
        board.close();
        assert_eq!(board.busy_after(1, 9), None);
        let live = Feedback::live();
        assert_eq!(live.latest_busy(0), None);
        live.report(0, 7, true);
        live.report(0, 0, false);
        assert_eq!(live.latest_busy(0), Some(false));
    }

    #[test]
    fn a_rejected_probe_is_news_of_its_own_and_busy() {
        let board = Feedback::batch();
        board.report(0, 10, false);
        board.reject(0, 11);
        // The probe after a rejected one is dropped unscreened: no news.
        board.report(0, 13, true);
        let quiet = News {
            busy: false,
            rejected: false,
        };
        assert_eq!(board.news_of(0, 10), Some(quiet));
        assert_eq!(
            board.news_of(0, 11),
            Some(News {
                busy: true,
                rejected: true
            })
        );
        // Asked of the dropped probe, the board answers with the last
        // frame before it; news of a frame already read is not given twice
        // over a later one.
        assert_eq!(board.news_of(0, 12).map(|n| n.rejected), Some(true));
        assert_eq!(board.busy_after(0, 13), Some(true));
        board.report(0, 13, false);
        assert_eq!(board.busy_after(0, 13), Some(true), "the first news stands");
    }

    #[test]
    fn settings_out_of_range_are_named() {
        let ok = AdaptiveParams::default();
        assert_eq!(ok.problem(), None);
        let bad = AdaptiveParams {
            new_ground: 0.0,
            ..ok
        };
        assert_eq!(bad.problem().unwrap().0, "new_ground");
        let bad = AdaptiveParams {
            base_fps: f64::NAN,
            ..ok
        };
        assert_eq!(bad.problem().unwrap().0, "base_fps");
    }

    #[test]
    fn box_thumbnails_average_their_boxes() {
        // A 12×6 plane in a 16-byte stride: left half 0, right half 240.
        let mut plane = vec![7u8; 16 * 6];
        for y in 0..6 {
            for x in 0..12 {
                plane[y * 16 + x] = if x < 6 { 0 } else { 240 };
            }
        }
        let g = box_thumbnail(&plane, 16, 12, 6, 4, 2);
        assert_eq!(g.pixels, vec![0, 0, 240, 240, 0, 0, 240, 240]);
        // Every other row and column, where boxes are wide.
        let g = box_thumbnail(&plane, 16, 12, 6, 2, 1);
        assert_eq!(g.pixels, vec![0, 240]);
        let big: Vec<u8> = (0..64 * 32).map(|i| (i % 64) as u8).collect();
        let g = box_thumbnail(&big, 64, 64, 32, 8, 4);
        // Columns 0..8 sampled at 0, 2, 4, 6: a mean of 3.
        assert_eq!(g.pixels[0], 3);
        assert_eq!(g.pixels[7], 59);
    }

    #[test]
    fn thumbnails_keep_the_shape() {
        assert_eq!(thumb_size(1920, 1080), (320, 180));
        assert_eq!(thumb_size(1280, 720), (320, 180));
        assert_eq!(thumb_size(200, 100), (200, 100));
    }
}
