//! Video files through FFmpeg (`ffmpeg-next`): any container and codec that
//! the system's libavformat/libavcodec decode.
//!
//! Frames are decoded in presentation order, sampled by [`Sampler`] and,
//! with `--sample adaptive`, by the [`Adaptive`] policy before colour
//! conversion (so skipped frames cost no conversion), converted to RGB24 at
//! full resolution, and timestamped from the stream's pts, counted from the
//! first frame the stream presents. At the end of the stream the decoder is
//! drained so the last frames are not lost.
//!
//! A frame's `frame_index` is its position in the stream, also while the
//! decoder skips frames (counted from the timestamps), so that evidence
//! names the same frame whichever sampling found it.
//!
//! With keyframe steps (see [`super::adaptive`]) the source runs in one of
//! three states: every packet to the main decoder; draining the main
//! decoder before steps begin at a keyframe; or stepping, where only
//! keyframes are decoded, each alone on a decoder of its own, and the
//! packets between are kept (compressed) until the probe after them is
//! judged. A rejected probe sends the kept packets, from the keyframe
//! before it, back through the main decoder; the frames already screened
//! among them are not shown again.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Once;

use ffmpeg_next as ff;
use image::RgbImage;

use super::adaptive::{
    thumb_size, Adaptive, Decision, Feedback, Gray, InferReason, SampleMode, SamplingCounts,
    Unanswered, PROBES_IN_FLIGHT,
};
use super::telemetry::{Placed, Placer};
use super::{InputKind, OpenOptions, Sampler, Source, SourceError, SourceInfo};
use crate::frame::{Frame, FrameMeta};

static INIT: Once = Once::new();

/// Initialises FFmpeg once per process. FFmpeg's own log is kept to fatal
/// messages: lookout reports every failure itself, with the file's path,
/// and a damaged stream would otherwise print a line per broken macroblock.
pub fn init() {
    INIT.call_once(|| {
        if ff::init().is_ok() {
            ff::util::log::set_level(ff::util::log::Level::Fatal);
        }
    });
}

/// The swscale context, owned by exactly one source and only used from the
/// thread that currently owns that source.
struct Scaler(ff::software::scaling::Context);

// SAFETY: an SwsContext holds no thread-local state; it is never shared,
// only moved together with the source that owns it.
unsafe impl Send for Scaler {}

pub struct VideoSource {
    info: SourceInfo,
    path: PathBuf,
    source_id: usize,
    input: ff::format::context::Input,
    stream_index: usize,
    decoder: ff::decoder::Video,
    scaler: Option<Scaler>,
    /// Converts keyframe probes straight to the detector's input size.
    probe_scaler: Option<Scaler>,
    probe_for: Option<crate::detect::Preprocess>,
    time_base: f64,
    start_pts: Option<i64>,
    sampler: Sampler,
    decoded: u64,
    emitted: u64,
    draining: bool,
    finished: bool,
    finished_with_error: Option<SourceError>,
    truncation_reported: bool,
    /// Whether the container's frame count can be trusted to detect a cut
    /// file: MP4/MOV index every sample; AVI, for one, may count packets.
    exact_frame_count: bool,
    /// Places frames on the ground from the video's telemetry.
    placer: Placer,
    /// KLV data streams FFmpeg demuxes, with their time bases in seconds.
    klv_streams: Vec<(usize, f64)>,
    /// The last frame decoded: its index and time, to notice gaps.
    last_shown: Option<(u64, f64)>,
    /// Stretches the decoder could not show (damaged packets).
    gaps: Vec<crate::frame::Gap>,
    /// Reads that failed in a row; the demuxer skips damage on its own,
    /// so a few are retried before the file counts as unreadable.
    read_errors: u32,
    /// With `--sample adaptive`: the policy and its thumbnails.
    adaptive: Option<AdaptiveState>,
    counts: SamplingCounts,
    /// Keyframe steps: off, draining, or stepping.
    steps: Stepping,
    /// Packets to decode before reading on: a stretch kept while stepping.
    replay: VecDeque<ff::Packet>,
    /// Frames shown at or before this time were screened already (they
    /// come again when a stretch is decoded a second time).
    drop_until: Option<f64>,
    /// Time of the last keyframe packet read, and the interval before it.
    last_key: Option<f64>,
    key_interval: Option<f64>,
    /// The last frame sent that was not a probe.
    last_sent: Option<u64>,
    /// Steps ended with a probe the consumer holds until the next frame:
    /// they do not begin again before a frame is sent (a probe rejected
    /// first would discard it).
    consumer_holds: bool,
}

/// Where a video is with keyframe steps.
enum Stepping {
    /// Every packet goes to the main decoder.
    Off,
    /// The main decoder is drained; steps begin at this keyframe packet.
    Draining(ff::Packet),
    /// Keyframes only.
    On(Steps),
}

/// A keyframe and the packets after it, up to the next keyframe.
struct Gop {
    t: f64,
    packets: Vec<ff::Packet>,
}

/// The counters a rejected probe winds back.
#[derive(Clone, Copy)]
struct Snapshot {
    last_shown: Option<(u64, f64)>,
    decoded: u64,
    not_decoded: u64,
}

struct Steps {
    /// The last probe screened (or sure to be), with its stretch: a
    /// replay starts from its keyframe. `None`: the frames before steps
    /// began.
    screened: Option<Gop>,
    /// The last accepted probe, which the consumer holds until the next
    /// frame of this input comes: the next probe's rejection discards it.
    accepted: Option<(Gop, Snapshot)>,
    /// Probes sent, oldest first: their `seq`, stretch, and the counters
    /// as they were before each.
    pending: VecDeque<(u64, Gop, Snapshot)>,
    /// A keyframe packet read while the most probes were out.
    key: Option<ff::Packet>,
    /// No more probes (end of input, or keyframes too far apart): these
    /// packets follow the last stretch.
    tail: Option<Vec<ff::Packet>>,
}

impl Steps {
    /// The latest stretch, which packets read now belong to.
    fn latest(&mut self) -> Option<&mut Gop> {
        if let Some((_, gop, _)) = self.pending.back_mut() {
            return Some(gop);
        }
        if let Some((gop, _)) = self.accepted.as_mut() {
            return Some(gop);
        }
        self.screened.as_mut()
    }
}

/// A video's adaptive sampling: the policy, the consumer's news, and the
/// grey thumbnails the policy looks at.
struct AdaptiveState {
    policy: Adaptive,
    feedback: Option<std::sync::Arc<Feedback>>,
    unanswered: Unanswered,
    /// Busy after the latest frame the consumer reported.
    busy: bool,
    scaler: Option<Scaler>,
    grey: ff::frame::Video,
    /// The decoder is skipping frames no other frame refers to.
    skipping: bool,
    /// Frames still to come that the decoder may have skipped before
    /// them: a jump in time there is sampling, not damage. (A frame-
    /// threaded decoder applies a new `skip_frame` only to the packets it
    /// is given after it.)
    skip_tail: u32,
    /// Decodes keyframe probes, one at a time; `None` where keyframe steps
    /// are off (live feeds, `stride` or `fps` set, or turned off).
    probe_decoder: Option<ff::decoder::Video>,
    /// After a rejected probe: from the probe the consumer held before it
    /// (or from the start of the replay) to the rejected one's time, every
    /// frame is inferred.
    busy_window: Option<(f64, f64)>,
}

/// Decoded frames after the decoder stops skipping during which a jump in
/// time still counts as skipped frames.
const SKIP_TAIL: u32 = 16;

/// Failed reads in a row after which a video counts as unreadable.
const MAX_READ_ERRORS: u32 = 64;

/// Bytes allocated past an RGB image's end for swscale's vector stores.
const SCALE_SLACK: usize = 64;

/// Lets another thread abort a live source's blocking I/O: FFmpeg polls it
/// while connecting and reading, and gives up once the deadline passes or
/// `stop` is set. Nothing then blocks for longer than the deadline.
#[derive(Debug, Default)]
pub struct Watchdog {
    /// Milliseconds since `epoch` after which I/O is abandoned; 0 = none.
    deadline_ms: std::sync::atomic::AtomicU64,
    pub stop: std::sync::atomic::AtomicBool,
    epoch: std::sync::OnceLock<std::time::Instant>,
}

impl Watchdog {
    fn now_ms(&self) -> u64 {
        self.epoch
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_millis() as u64
    }

    /// Allows the next I/O `within` from now.
    pub fn arm(&self, within: std::time::Duration) {
        let at = self.now_ms() + within.as_millis() as u64;
        self.deadline_ms
            .store(at.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether FFmpeg should abandon what it is doing.
    pub fn expired(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if self.stop.load(Relaxed) {
            return true;
        }
        let d = self.deadline_ms.load(Relaxed);
        d != 0 && self.now_ms() > d
    }
}

impl VideoSource {
    pub fn open(
        path: &Path,
        source_id: usize,
        options: &OpenOptions,
    ) -> Result<VideoSource, SourceError> {
        init();
        Self::open_with(path, source_id, options, None)
    }

    /// Opens a live feed (`rtsp://`, `udp://`, `srt://`, `tcp://`, HLS, or
    /// a file): FFmpeg's own socket timeouts are set, and `watchdog` aborts
    /// any open or read that outlives its deadline. `rtsp_transport` is
    /// FFmpeg's name for how RTSP carries the media (`tcp` or `udp`).
    pub fn open_live(
        url: &str,
        source_id: usize,
        options: &OpenOptions,
        watchdog: std::sync::Arc<Watchdog>,
        rtsp_transport: &str,
    ) -> Result<VideoSource, SourceError> {
        init();
        Self::open_with(
            Path::new(url),
            source_id,
            options,
            Some((watchdog, rtsp_transport)),
        )
    }

    fn open_with(
        path: &Path,
        source_id: usize,
        options: &OpenOptions,
        live: Option<(std::sync::Arc<Watchdog>, &str)>,
    ) -> Result<VideoSource, SourceError> {
        // A file named like a video that FFmpeg cannot open is most likely
        // damaged; anything else is simply not media.
        let named_video =
            super::extension(path).is_some_and(|e| super::VIDEO_EXTENSIONS.contains(&e.as_str()));
        let not_media = |e: ff::Error| {
            if named_video {
                SourceError::OpenVideo {
                    path: path.to_owned(),
                    message: format!("{e} (damaged or truncated file?)"),
                }
            } else {
                SourceError::NotMedia {
                    path: path.to_owned(),
                    message: e.to_string(),
                }
            }
        };
        let open_err = |message: String| SourceError::OpenVideo {
            path: path.to_owned(),
            message,
        };
        let input = match live {
            None => ff::format::input(&path).map_err(not_media)?,
            Some((dog, rtsp_transport)) => {
                let mut opts = ff::Dictionary::new();
                let url = path.to_string_lossy();
                // Socket timeouts in microseconds, as each protocol names
                // them; the watchdog covers whatever they miss.
                let rtsp = url.starts_with("rtsp");
                if rtsp {
                    opts.set("rtsp_transport", rtsp_transport);
                    opts.set("timeout", "5000000");
                } else if url.starts_with("udp") || url.starts_with("srt") {
                    opts.set("timeout", "5000000");
                } else if url.contains("://") {
                    opts.set("rw_timeout", "5000000");
                }
                if url.contains("://") {
                    // Live: probe for at most 2 s. (`fflags nobuffer` is
                    // not set: it discards the packets read while probing,
                    // and with them the keyframe decoding must start from.)
                    opts.set("analyzeduration", "2000000");
                }
                ff::format::input_with_interrupt_and_dictionary(&path, move || dog.expired(), opts)
                    .map_err(|e| {
                        let mut message = e.to_string();
                        // Servers that only send RTP over UDP refuse an
                        // interleaved SETUP with 400 or 461.
                        if rtsp
                            && rtsp_transport == "tcp"
                            && (message.contains("400") || message.contains("461"))
                        {
                            message.push_str(
                                " (if the server sends RTP over UDP only, use \
                                 --rtsp-transport udp or rtsp_transport = \"udp\")",
                            );
                        }
                        SourceError::OpenVideo {
                            path: path.to_owned(),
                            message,
                        }
                    })?
            }
        };
        let stream = input
            .streams()
            .best(ff::media::Type::Video)
            .ok_or_else(|| SourceError::NotMedia {
                path: path.to_owned(),
                message: "it has no video stream".into(),
            })?;
        let stream_index = stream.index();
        let tb = stream.time_base();
        let time_base = f64::from(tb.numerator()) / f64::from(tb.denominator()).max(1.0);
        // Set from the first decoded frame: containers disagree on where a
        // stream starts (AVI with B-frames reports the first frame late),
        // so times count from the first frame shown, as players do.
        let start_pts: Option<i64> = None;
        let rate = stream.avg_frame_rate();
        let fps = (rate.numerator() > 0 && rate.denominator() > 0)
            .then(|| f64::from(rate.numerator()) / f64::from(rate.denominator()));
        let frames_hint = (stream.frames() > 0).then_some(stream.frames() as u64);
        let duration_s = (stream.duration() > 0).then(|| stream.duration() as f64 * time_base);

        let mut context = ff::codec::context::Context::from_parameters(stream.parameters())
            .map_err(|e| open_err(e.to_string()))?;
        context.set_threading(ff::threading::Config {
            kind: ff::threading::Type::Frame,
            count: options.decode_threads,
            ..Default::default()
        });
        let decoder = context
            .decoder()
            .video()
            .map_err(|e| open_err(format!("no decoder for its video stream: {e}")))?;
        if decoder.width() == 0 || decoder.height() == 0 {
            return Err(open_err("its video stream has no frame size".into()));
        }
        let codec = decoder.codec().map(|c| c.name().to_owned());
        let live_url = path.to_string_lossy().contains("://");
        let start_utc = input
            .metadata()
            .get("creation_time")
            .and_then(crate::telemetry::Utc::parse);
        let placer = Placer::for_video(
            path,
            options.telemetry.as_deref(),
            &options.geo,
            start_utc,
            live_url,
        )?;
        // Data streams FFmpeg knows as KLV (ST 0601 or EG 0104, from a
        // `KLVA` registration or a 0x15 metadata stream).
        let klv_streams: Vec<(usize, f64)> = input
            .streams()
            .filter(|s| {
                s.parameters().medium() == ff::media::Type::Data
                    && matches!(
                        s.parameters().id(),
                        ff::codec::Id::SMPTE_KLV | ff::codec::Id::BIN_DATA | ff::codec::Id::None
                    )
            })
            .map(|s| {
                let tb = s.time_base();
                (
                    s.index(),
                    f64::from(tb.numerator()) / f64::from(tb.denominator()).max(1.0),
                )
            })
            .collect();
        let steps_allowed = options.sampling.mode == SampleMode::Adaptive
            && options.sampling.adaptive.keyframe_steps
            && options.sampling.stride <= 1
            && options.sampling.max_fps.is_none()
            && options.feedback.as_ref().is_some_and(|b| !b.is_live())
            && !live_url;
        let probe_decoder = if steps_allowed {
            // One frame at a time, drained after each: threads would only
            // add latency.
            let mut context = ff::codec::context::Context::from_parameters(stream.parameters())
                .map_err(|e| open_err(e.to_string()))?;
            context.set_threading(ff::threading::Config {
                kind: ff::threading::Type::Slice,
                count: 1,
                ..Default::default()
            });
            // No deblocking: a probe only has to show the detector whether
            // something is there (a probe that shows something is decoded
            // again in full), and 1080p H.264 keyframes decode some 12 %
            // faster without it.
            // SAFETY: the context is not opened yet, and `skip_loop_filter`
            // is a plain field of it.
            unsafe {
                (*context.as_mut_ptr()).skip_loop_filter = ff::ffi::AVDiscard::AVDISCARD_ALL;
            }
            context.decoder().video().ok()
        } else {
            None
        };
        let adaptive = (options.sampling.mode == SampleMode::Adaptive).then(|| {
            let thumb = thumb_size(decoder.width(), decoder.height());
            AdaptiveState {
                policy: Adaptive::new(options.sampling.adaptive, thumb),
                feedback: options.feedback.clone(),
                unanswered: Unanswered::default(),
                busy: false,
                scaler: None,
                grey: ff::frame::Video::empty(),
                skipping: false,
                skip_tail: 0,
                probe_decoder,
                busy_window: None,
            }
        });
        let exact_frame_count = input
            .format()
            .name()
            .split(',')
            .any(|n| n == "mp4" || n == "mov");
        let info = SourceInfo {
            uri: path.display().to_string(),
            kind: InputKind::Video,
            width: decoder.width(),
            height: decoder.height(),
            fps,
            frames_hint,
            duration_s,
            codec,
            raster: None,
            telemetry: serde_json::to_value(&placer.info).ok(),
        };
        Ok(VideoSource {
            info,
            path: path.to_owned(),
            source_id,
            input,
            stream_index,
            decoder,
            scaler: None,
            probe_scaler: None,
            probe_for: options.probe_for.clone(),
            time_base,
            start_pts,
            sampler: Sampler::new(options.sampling),
            decoded: 0,
            emitted: 0,
            draining: false,
            finished: false,
            finished_with_error: None,
            truncation_reported: false,
            exact_frame_count,
            placer,
            klv_streams,
            last_shown: None,
            gaps: Vec::new(),
            read_errors: 0,
            adaptive,
            counts: SamplingCounts::new(options.sampling.mode),
            steps: Stepping::Off,
            replay: VecDeque::new(),
            drop_until: None,
            last_key: None,
            key_interval: None,
            last_sent: None,
            consumer_holds: false,
        })
    }

    fn decode_error(&self, message: String) -> SourceError {
        SourceError::Decode {
            path: self.path.clone(),
            frames: self.decoded,
            message,
        }
    }

    /// The conversion context for full-size frames, or for probes scaled
    /// down.
    fn scaler_for(&mut self, scaled: bool) -> &mut Option<Scaler> {
        if scaled {
            &mut self.probe_scaler
        } else {
            &mut self.scaler
        }
    }

    /// Converts a decoded frame to packed RGB24 at its own size, or for a
    /// keyframe probe at the size the detector takes it.
    fn convert_rgb(
        &mut self,
        frame: &ff::frame::Video,
        probe: bool,
    ) -> Result<RgbImage, SourceError> {
        let (w, h, fmt) = (frame.width(), frame.height(), frame.format());
        // A probe goes to the size the detector resizes it to, if smaller.
        let (ow, oh) = match &self.probe_for {
            Some(p) if probe => {
                let (rw, rh) = p.resized_size(w, h);
                if rw > 0 && rh > 0 && rw <= w && rh <= h {
                    (rw, rh)
                } else {
                    (w, h)
                }
            }
            _ => (w, h),
        };
        let scaled = (ow, oh) != (w, h);
        let stale = self.scaler_for(scaled).as_ref().is_none_or(|s| {
            let (i, o) = (s.0.input(), s.0.output());
            (i.width, i.height, i.format, o.width, o.height) != (w, h, fmt, ow, oh)
        });
        if stale {
            let ctx = ff::software::scaling::Context::get(
                fmt,
                w,
                h,
                ff::format::Pixel::RGB24,
                ow,
                oh,
                ff::software::scaling::Flags::BILINEAR,
            )
            .map_err(|e| {
                self.decode_error(format!(
                    "cannot convert {fmt:?} {w}x{h} to RGB {ow}x{oh}: {e}"
                ))
            })?;
            *self.scaler_for(scaled) = Some(Scaler(ctx));
        }
        let scaler = self
            .scaler_for(scaled)
            .as_mut()
            .expect("scaler was just created");
        // swscale writes straight into the image's own buffer, rows packed,
        // instead of into a padded frame that would then be copied. The
        // slack past the end covers any SIMD store that runs over a row.
        let row = ow as usize * 3;
        let len = row * oh as usize;
        let mut packed: Vec<u8> = Vec::with_capacity(len + SCALE_SLACK);
        let dst: [*mut u8; 4] = [
            packed.as_mut_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        ];
        let dst_stride: [i32; 4] = [row as i32, 0, 0, 0];
        // SAFETY: the context was made for this frame's size and format
        // (checked above) and RGB24 output at `ow × oh`, whose one plane of
        // `oh` rows of `row` bytes fits in `packed`; the source pointers and
        // strides are the decoded frame's own, all `h` rows of them.
        let rows = unsafe {
            let src = frame.as_ptr();
            ff::ffi::sws_scale(
                scaler.0.as_mut_ptr(),
                (*src).data.as_ptr() as *const *const u8,
                (*src).linesize.as_ptr(),
                0,
                h as i32,
                dst.as_ptr(),
                dst_stride.as_ptr(),
            )
        };
        if rows != oh as i32 {
            return Err(self.decode_error(format!(
                "colour conversion failed: {rows} of {oh} rows converted"
            )));
        }
        // SAFETY: sws_scale wrote all `oh` rows of `row` bytes.
        unsafe { packed.set_len(len) };
        Ok(RgbImage::from_raw(ow, oh, packed).expect("buffer holds exactly ow*oh*3 bytes"))
    }

    /// The stream position of the frame decoded at `pts_s`: one after the
    /// last, or, when the decoder skipped frames since, as many more as
    /// the time that passed holds.
    fn place_in_stream(&self, pts_s: Option<f64>) -> u64 {
        let skipped = self.adaptive.as_ref().is_some_and(|a| a.skip_tail > 0);
        match (skipped, self.last_shown, pts_s, self.info.fps) {
            (true, Some((index, prev)), Some(t), Some(fps)) if fps > 0.0 => {
                index + (((t - prev) * fps).round() as u64).max(1)
            }
            (_, Some((index, _)), _, _) if skipped => index + 1,
            _ => self.decoded + self.counts.not_decoded,
        }
    }

    /// Whether the adaptive policy sends the frame at `pts_s` to the
    /// detector; counts why not. Always true without adaptive sampling.
    fn adaptive_keeps(
        &mut self,
        frame: &ff::frame::Video,
        pts_s: Option<f64>,
    ) -> Result<bool, SourceError> {
        let Some(a) = self.adaptive.as_mut() else {
            return Ok(true);
        };
        if let Some(board) = &a.feedback {
            // See [`Feedback`]: a batch source reads the news of the last
            // frame it sent `LEAD_S` of video ago (waiting for it if need
            // be), so that what is inferred does not depend on timing; a
            // live one reads the latest news, whatever frame it is of.
            let news = if board.is_live() {
                board.latest_busy(self.source_id)
            } else {
                a.unanswered
                    .due(pts_s, Feedback::LEAD_S)
                    .and_then(|seq| board.busy_after(self.source_id, seq))
            };
            if let Some(busy) = news {
                a.busy = busy;
            }
        }
        // Frames of the window before a rejected probe are all inferred,
        // whatever the news of the first of them says.
        let replaying = match (a.busy_window, pts_s) {
            (Some((from, until)), Some(t)) if t <= until + 1e-6 => t >= from - 1e-6,
            _ => {
                a.busy_window = None;
                false
            }
        };
        let busy = a.busy || replaying;
        let (tw, th) = a.policy.thumb();
        let path = &self.path;
        let frames = self.decoded;
        let mut thumb_error = None;
        let mut looked = false;
        let decision = {
            let (scaler, grey) = (&mut a.scaler, &mut a.grey);
            let thumb = || match grey_thumbnail(scaler, grey, frame, tw, th) {
                Ok(g) => Some(g),
                Err(message) => {
                    thumb_error = Some(SourceError::Decode {
                        path: path.clone(),
                        frames,
                        message,
                    });
                    None
                }
            };
            a.policy.decide(pts_s, busy, thumb, &mut looked)
        };
        if let Some(e) = thumb_error {
            return Err(e);
        }
        self.counts.looked += u64::from(looked);
        let keep = match decision {
            Decision::Infer(reason) => {
                self.counts.infer(reason);
                if a.feedback.as_ref().is_some_and(|b| !b.is_live()) {
                    a.unanswered.sent(self.emitted, pts_s);
                }
                true
            }
            Decision::Skip(reason) => {
                self.counts.skip(reason);
                false
            }
        };
        // Quiet: frames no other frame refers to are not needed by any
        // look or inference. Busy: every frame is.
        let skip = a.policy.params().skip_nonref && !busy;
        if skip {
            a.skip_tail = SKIP_TAIL;
        }
        if skip != a.skipping {
            a.skipping = skip;
            self.decoder.skip_frame(if skip {
                ff::Discard::NonReference
            } else {
                ff::Discard::Default
            });
        }
        Ok(keep)
    }

    /// Records a gap when the frame decoded as `index` at `pts_s` comes
    /// more than one and a half frame periods after the one before it.
    fn note_gap(&mut self, index: u64, pts_s: Option<f64>) {
        let (Some(t), Some(fps)) = (pts_s, self.info.fps.filter(|f| *f > 0.0)) else {
            return;
        };
        if let Some((prev_index, prev)) = self.last_shown {
            let missing = ((t - prev) * fps).round() as i64 - 1;
            if t - prev > 1.5 / fps && missing > 0 {
                tracing::warn!(
                    path = %self.path.display(),
                    "damaged from {prev:.2} s to {t:.2} s: {missing} frame(s) could not be decoded; going on"
                );
                self.gaps.push(crate::frame::Gap {
                    after_frame: prev_index,
                    from_s: (prev * 1e3).round() / 1e3,
                    to_s: (t * 1e3).round() / 1e3,
                    frames: missing as u64,
                });
            }
        }
        if self.last_shown.is_none_or(|(_, p)| t > p) {
            self.last_shown = Some((index, t));
        }
    }

    /// Hands a KLV data packet to the placer, when it wants them.
    fn take_klv(&mut self, packet: &ff::Packet) {
        if !self.placer.wants_stream_klv() {
            return;
        }
        let Some(&(_, tb)) = self.klv_streams.iter().find(|(i, _)| *i == packet.stream()) else {
            return;
        };
        if let Some(data) = packet.data() {
            let pts = packet
                .pts()
                .map(|p| (p as f64 * tb * 90_000.0).round() as i64);
            self.placer.push_klv(data, pts);
        }
    }

    /// Reads the next packet of our stream (KLV packets go to the placer
    /// on the way); `None` at the end of the input.
    fn read_packet(&mut self) -> Result<Option<ff::Packet>, SourceError> {
        loop {
            let mut packet = ff::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) if packet.stream() != self.stream_index => {
                    self.take_klv(&packet);
                }
                Ok(()) => {
                    self.read_errors = 0;
                    if packet.is_key() {
                        if let Some(t) = self.packet_time(&packet) {
                            if let Some(prev) = self.last_key {
                                self.key_interval = Some(t - prev);
                            }
                            self.last_key = Some(t);
                        }
                    }
                    return Ok(Some(packet));
                }
                Err(ff::Error::Eof) => return Ok(None),
                Err(e) if self.read_errors + 1 < MAX_READ_ERRORS => {
                    // Damage inside the file: the demuxer moves on to the
                    // next packet it can find; the frames lost show as a
                    // gap.
                    self.read_errors += 1;
                    tracing::debug!(path = %self.path.display(), error = %e, "skipping an unreadable packet");
                }
                Err(e) => {
                    return Err(self.decode_error(format!(
                        "read failed {MAX_READ_ERRORS} times in a row: {e}"
                    )))
                }
            }
        }
    }

    /// A packet's presentation time, on the frames' clock.
    fn packet_time(&self, packet: &ff::Packet) -> Option<f64> {
        let start = self.start_pts?;
        packet.pts().map(|p| (p - start) as f64 * self.time_base)
    }

    /// Feeds the decoder one packet of our stream, or signals end of
    /// stream; at a keyframe where steps may begin, drains the decoder
    /// instead (see [`Stepping`]).
    fn feed(&mut self) -> Result<(), SourceError> {
        let (packet, replayed) = match self.replay.pop_front() {
            Some(p) => (Some(p), true),
            None => match self.read_packet() {
                Ok(p) => (p, false),
                Err(e) => {
                    self.draining = true;
                    let _ = self.decoder.send_eof();
                    return Err(e);
                }
            },
        };
        let Some(packet) = packet else {
            self.draining = true;
            // Errors here only mean the decoder was already flushed.
            let _ = self.decoder.send_eof();
            return Ok(());
        };
        if !replayed && packet.is_key() && self.may_step() {
            self.steps = Stepping::Draining(packet);
            let _ = self.decoder.send_eof();
            return Ok(());
        }
        // A damaged packet is skipped; the decoder resynchronises on the
        // next keyframe.
        if let Err(e) = self.decoder.send_packet(&packet) {
            tracing::debug!(path = %self.path.display(), error = %e, "skipping undecodable packet");
        }
        Ok(())
    }

    /// Whether keyframe steps may begin at the keyframe just read: the
    /// stream is quiet as far as the news goes, and the keyframes are at
    /// most `max_gap_s` apart.
    fn may_step(&self) -> bool {
        let Some(a) = &self.adaptive else {
            return false;
        };
        a.probe_decoder.is_some()
            && !a.busy
            && !self.consumer_holds
            && self.start_pts.is_some()
            && self.last_shown.is_some()
            && self.key_interval.is_some_and(|i| self.steps_span(i))
    }

    /// Whether keyframes `interval` seconds apart are near enough for
    /// keyframe steps: at most `max_gap_s`.
    fn steps_span(&self, interval: f64) -> bool {
        let max_gap = self
            .adaptive
            .as_ref()
            .map_or(0.0, |a| a.policy.params().max_gap_s);
        interval > 0.0 && interval <= max_gap + 1e-3
    }

    /// The main decoder has drained: steps begin at `key` if every frame
    /// sent is answered and the stream is quiet after them all; otherwise
    /// `key` goes to the main decoder as usual.
    fn begin_steps(&mut self, key: ff::Packet) {
        self.decoder.flush();
        let a = self
            .adaptive
            .as_mut()
            .expect("steps need adaptive sampling");
        let board = a.feedback.clone().expect("steps need a batch board");
        let quiet = match self.last_sent {
            Some(seq) => board.news_of(self.source_id, seq).is_some_and(|n| !n.busy),
            None => true,
        };
        tracing::debug!(path = %self.path.display(), quiet, "keyframe steps may begin");
        if !quiet {
            a.busy = true;
            self.replay.push_front(key);
            self.steps = Stepping::Off;
            return;
        }
        a.unanswered = Unanswered::default();
        a.skip_tail = SKIP_TAIL;
        self.steps = Stepping::On(Steps {
            screened: None,
            accepted: None,
            pending: VecDeque::new(),
            key: Some(key),
            tail: None,
        });
    }

    /// One move of keyframe steps: a probe to send, or `None` once steps
    /// have ended (the main decoder takes over).
    fn step(&mut self) -> Result<Option<Frame>, SourceError> {
        let Stepping::On(mut steps) = std::mem::replace(&mut self.steps, Stepping::Off) else {
            return Ok(None);
        };
        loop {
            if steps.pending.len() < PROBES_IN_FLIGHT && steps.tail.is_none() {
                let key = match steps.key.take() {
                    Some(k) => Some(k),
                    None => self.read_to_keyframe(&mut steps)?,
                };
                let Some(key) = key else {
                    steps.tail = Some(Vec::new());
                    continue;
                };
                let t = self.packet_time(&key);
                let last = steps.latest().map(|g| g.t);
                let near = match (t, last) {
                    (Some(t), Some(l)) => self.steps_span(t - l),
                    (Some(_), None) => true,
                    _ => false,
                };
                if !near {
                    steps.tail = Some(vec![key]);
                    continue;
                }
                let t = t.expect("checked above");
                let before = Snapshot {
                    last_shown: self.last_shown,
                    decoded: self.decoded,
                    not_decoded: self.counts.not_decoded,
                };
                match self.decode_probe(&key)? {
                    Some(frame) => {
                        let gop = Gop {
                            t,
                            packets: vec![key],
                        };
                        steps.pending.push_back((frame.meta.seq, gop, before));
                        self.steps = Stepping::On(steps);
                        return Ok(Some(frame));
                    }
                    // A keyframe that does not decode alone: the main
                    // decoder takes the stretch, damage and all.
                    None => {
                        steps.tail = Some(vec![key]);
                        continue;
                    }
                }
            }
            let Some(&(seq, _, _)) = steps.pending.front() else {
                // Nothing out and nothing more to probe: the consumer
                // screens the probe it holds with the next frame, and the
                // main decoder goes on from it.
                if let Some((gop, _)) = steps.accepted.take() {
                    self.screened_probe(&gop);
                    steps.screened = Some(gop);
                    self.consumer_holds = true;
                }
                self.end_steps(steps, None);
                return Ok(None);
            };
            let board = self
                .adaptive
                .as_ref()
                .and_then(|a| a.feedback.clone())
                .expect("steps need a batch board");
            let Some(news) = board.news_of(self.source_id, seq) else {
                // The consumer has stopped.
                self.finished = true;
                return Ok(None);
            };
            if news.rejected {
                // The probe the consumer held, this one and those after it
                // are gone: wind back to before the first of them.
                let before = match &steps.accepted {
                    Some((_, before)) => *before,
                    None => steps.pending[0].2,
                };
                tracing::debug!(path = %self.path.display(), t = steps.pending[0].1.t, "keyframe probe rejected: decoding the stretches before it");
                self.counts.probes_discarded +=
                    (steps.pending.len() + usize::from(steps.accepted.is_some())) as u64;
                self.last_shown = before.last_shown;
                self.decoded = before.decoded;
                self.counts.not_decoded = before.not_decoded;
                // Every frame from the probe the consumer held to the
                // rejected one is inferred; the stretch before the held
                // probe is sampled as usual (motion, base rate), which
                // finds what the held probe missed.
                let from = steps
                    .accepted
                    .as_ref()
                    .map_or(f64::NEG_INFINITY, |(g, _)| g.t);
                let until = steps.pending[0].1.t;
                self.end_steps(steps, Some((from, until)));
                return Ok(None);
            }
            let (_, gop, before) = steps.pending.pop_front().expect("front exists");
            // The consumer screened the probe it held, and holds this one.
            if let Some((previous, _)) = steps.accepted.replace((gop, before)) {
                self.screened_probe(&previous);
                steps.screened = Some(previous);
            }
        }
    }

    /// Counts a probe the consumer screened.
    fn screened_probe(&mut self, gop: &Gop) {
        self.counts.infer(InferReason::Keyframe);
        if let Some(a) = self.adaptive.as_mut() {
            a.policy.probed(gop.t);
        }
    }

    /// Reads packets up to the next keyframe, keeping them with the
    /// latest stretch; `None` at the end of the input.
    fn read_to_keyframe(&mut self, steps: &mut Steps) -> Result<Option<ff::Packet>, SourceError> {
        loop {
            let Some(packet) = self.read_packet()? else {
                return Ok(None);
            };
            if packet.is_key() {
                return Ok(Some(packet));
            }
            // Steps begin with a keyframe to probe, so there is always a
            // stretch to keep the packet with.
            if let Some(gop) = steps.latest() {
                gop.packets.push(packet);
            }
        }
    }

    /// Ends keyframe steps: the kept packets go back through the main
    /// decoder from the last probe screened, whose frame and those before
    /// it are not shown again. `rejected`: after a rejected probe, the
    /// stretch whose every frame is inferred (see the caller).
    fn end_steps(&mut self, steps: Steps, rejected: Option<(f64, f64)>) {
        let Steps {
            screened,
            accepted,
            pending,
            key,
            tail,
        } = steps;
        self.drop_until = screened.as_ref().map(|g| g.t);
        let packets = screened
            .into_iter()
            .chain(accepted.map(|(g, _)| g))
            .chain(pending.into_iter().map(|(_, g, _)| g))
            .flat_map(|g| g.packets)
            .chain(key)
            .chain(tail.into_iter().flatten());
        self.replay.extend(packets);
        self.decoder.flush();
        if let Some(a) = self.adaptive.as_mut() {
            // The news of the frames replayed says when the stream is busy;
            // the window forces every frame of the last stretch.
            a.busy = false;
            a.busy_window = rejected;
            a.skip_tail = SKIP_TAIL;
        }
        self.steps = Stepping::Off;
    }

    /// Decodes a keyframe alone into a probe frame; `None` if it does not
    /// decode.
    fn decode_probe(&mut self, key: &ff::Packet) -> Result<Option<Frame>, SourceError> {
        let Some(dec) = self
            .adaptive
            .as_mut()
            .and_then(|a| a.probe_decoder.as_mut())
        else {
            return Ok(None);
        };
        let mut decoded = ff::frame::Video::empty();
        let mut got = false;
        if dec.send_packet(key).is_ok() {
            let _ = dec.send_eof();
            let mut spare = ff::frame::Video::empty();
            while dec
                .receive_frame(if got { &mut spare } else { &mut decoded })
                .is_ok()
            {
                got = true;
            }
        }
        dec.flush();
        if !got {
            return Ok(None);
        }
        let Some(pts_s) = self.frame_time(&decoded) else {
            return Ok(None);
        };
        if let Some(a) = self.adaptive.as_mut() {
            a.skip_tail = SKIP_TAIL;
        }
        let index = self.shown(Some(pts_s));
        self.make_frame(&decoded, index, Some(pts_s), true)
            .map(Some)
    }

    /// A decoded frame's time from the stream's first frame.
    fn frame_time(&mut self, decoded: &ff::frame::Video) -> Option<f64> {
        decoded
            .timestamp()
            .or(decoded.pts())
            .map(|t| (t - *self.start_pts.get_or_insert(t)) as f64 * self.time_base)
    }

    /// Counts a frame the decoder produced at `pts_s` and places it in the
    /// stream: its index.
    fn shown(&mut self, pts_s: Option<f64>) -> u64 {
        let index = self.place_in_stream(pts_s);
        self.decoded += 1;
        if let Some(a) = self.adaptive.as_mut().filter(|a| a.skip_tail > 0) {
            let before = self.last_shown.map_or(0, |(i, _)| i + 1);
            self.counts.not_decoded += index.saturating_sub(before);
            if let Some(t) = pts_s {
                self.last_shown = Some((index, t));
            }
            if !a.skipping && matches!(self.steps, Stepping::Off) {
                a.skip_tail -= 1;
            }
        }
        self.note_gap(index, pts_s);
        index
    }

    /// Converts and places a frame chosen for the detector.
    fn make_frame(
        &mut self,
        decoded: &ff::frame::Video,
        index: u64,
        pts_s: Option<f64>,
        probe: bool,
    ) -> Result<Frame, SourceError> {
        let image = self.convert_rgb(decoded, probe)?;
        let raw_90k = decoded
            .timestamp()
            .or(decoded.pts())
            .map(|t| (t as f64 * self.time_base * 90_000.0).round() as i64);
        let Placed {
            ground,
            unplaced,
            gsd_m_per_px,
        } = self
            .placer
            .place_frame(pts_s, raw_90k, decoded.width(), decoded.height());
        let meta = FrameMeta {
            source_id: self.source_id,
            seq: self.emitted,
            frame_index: index,
            pts_s,
            // The frame's own size: a probe's image may be smaller.
            width: decoded.width(),
            height: decoded.height(),
            gsd_m_per_px,
            ground,
            unplaced,
            probe,
        };
        if !probe {
            self.last_sent = Some(self.emitted);
            self.consumer_holds = false;
        }
        self.emitted += 1;
        Ok(Frame::whole(meta, image))
    }
}

impl Source for VideoSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn gaps(&self) -> Vec<crate::frame::Gap> {
        self.gaps.clone()
    }

    fn sampling(&self) -> Option<SamplingCounts> {
        Some(SamplingCounts {
            decoded: self.decoded,
            inferred: self.emitted - self.counts.probes_discarded,
            ..self.counts.clone()
        })
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        let mut decoded = ff::frame::Video::empty();
        while !self.finished {
            if matches!(self.steps, Stepping::On(_)) {
                match self.step()? {
                    Some(probe) => return Ok(Some(probe)),
                    None => continue,
                }
            }
            match self.decoder.receive_frame(&mut decoded) {
                Ok(()) => {
                    let pts_s = self.frame_time(&decoded);
                    if let (Some(until), Some(t)) = (self.drop_until, pts_s) {
                        if t <= until + 1e-6 {
                            // Screened already, before the stretch was
                            // decoded again.
                            continue;
                        }
                        self.drop_until = None;
                    }
                    let index = self.shown(pts_s);
                    if !self.sampler.keep(index, pts_s) {
                        self.counts.skip("stride_or_fps");
                        continue;
                    }
                    if !self.adaptive_keeps(&decoded, pts_s)? {
                        continue;
                    }
                    return self.make_frame(&decoded, index, pts_s, false).map(Some);
                }
                Err(ff::Error::Eof) => match std::mem::replace(&mut self.steps, Stepping::Off) {
                    Stepping::Draining(key) => self.begin_steps(key),
                    _ => self.finished = true,
                },
                Err(ff::Error::Other { errno })
                    if errno == ff::util::error::EAGAIN && !self.draining =>
                {
                    if let Err(e) = self.feed() {
                        // Frames already queued in the decoder are still
                        // delivered before the error on the next call.
                        tracing::debug!(path = %self.path.display(), error = %e, "read error; draining decoder");
                        self.finished_with_error = Some(e);
                    }
                }
                Err(e) => {
                    self.finished = true;
                    return Err(self.decode_error(e.to_string()));
                }
            }
        }
        if let Some(e) = self.finished_with_error.take() {
            return Err(e);
        }
        // A container that indexes its frames lets us notice a file cut
        // short: the demuxer simply reports end of file early.
        if let Some(expected) = self.info.frames_hint.filter(|_| self.exact_frame_count) {
            // Frames lost in gaps inside the file are damage, already
            // recorded; only a shortfall beyond them is a cut-off end.
            // Frames the decoder was told to skip were in the file too.
            let lost: u64 = self.gaps.iter().map(|g| g.frames).sum();
            let seen = self.decoded + self.counts.not_decoded;
            if seen + lost + 1 < expected && !self.truncation_reported {
                self.truncation_reported = true;
                return Err(self.decode_error(format!(
                    "the stream ended after {seen} of the {expected} frames its container lists (file truncated?)"
                )));
            }
        }
        Ok(None)
    }
}

/// Scales `frame` to a `w × h` grey thumbnail (luma only, by area); other
/// formats than 8-bit YUV go through `scaler` into `out`, reused.
fn grey_thumbnail(
    scaler: &mut Option<Scaler>,
    out: &mut ff::frame::Video,
    frame: &ff::frame::Video,
    w: u32,
    h: u32,
) -> Result<Gray, String> {
    let (fw, fh, fmt) = (frame.width(), frame.height(), frame.format());
    // 8-bit formats whose first plane is luma: averaged by hand, which
    // costs a fraction of a general scaler's pass over the picture.
    use ff::format::Pixel as P;
    if matches!(
        fmt,
        P::YUV420P
            | P::YUVJ420P
            | P::YUV422P
            | P::YUVJ422P
            | P::YUV444P
            | P::YUVJ444P
            | P::NV12
            | P::NV21
            | P::GRAY8
    ) {
        return Ok(super::adaptive::box_thumbnail(
            frame.data(0),
            frame.stride(0),
            fw as usize,
            fh as usize,
            w as usize,
            h as usize,
        ));
    }
    let stale = scaler.as_ref().is_none_or(|s| {
        let i = s.0.input();
        (i.width, i.height, i.format) != (fw, fh, fmt)
    });
    if stale {
        let ctx = ff::software::scaling::Context::get(
            fmt,
            fw,
            fh,
            ff::format::Pixel::GRAY8,
            w,
            h,
            ff::software::scaling::Flags::AREA,
        )
        .map_err(|e| format!("cannot make a {w}x{h} thumbnail of {fmt:?} {fw}x{fh}: {e}"))?;
        *scaler = Some(Scaler(ctx));
    }
    let s = scaler.as_mut().expect("scaler was just created");
    s.0.run(frame, out)
        .map_err(|e| format!("thumbnail scaling failed: {e}"))?;
    let stride = out.stride(0);
    let data = out.data(0);
    let mut pixels = Vec::with_capacity((w * h) as usize);
    for y in 0..h as usize {
        pixels.extend_from_slice(&data[y * stride..y * stride + w as usize]);
    }
    Ok(Gray::new(w as usize, h as usize, pixels))
}
