//! Telemetry on frames: finds a source's telemetry, aligns it to the
//! frames' media time, and gives each frame its place on the ground
//! ([`FrameGround`]).
//!
//! Where a video's telemetry comes from, first found wins:
//!
//! 1. `--telemetry FILE` (SRT, KLV, MPEG-TS, CSV or GPX);
//! 2. a DJI sidecar beside the video, same name with `.SRT` or `.srt`;
//! 3. the video itself, when it is an MPEG-TS file carrying KLV (read in a
//!    first pass by [`crate::telemetry::ts`], so that frames between two
//!    packets are interpolated, and PAT-less streams are found too);
//! 4. KLV data streams that FFmpeg demuxes as the video plays (live
//!    MPEG-TS over UDP, RTP or SRT, or any container FFmpeg reads):
//!    packets are decoded as they arrive, and a frame takes the latest pose
//!    (held at most `[geo] hold_s`).
//!
//! Media time: records with a PES PTS are aligned by it against the
//! video's own first PTS (33-bit wrap-around handled); SRT cues by their
//! start; flight logs by UTC against the video's `creation_time`.
//!
//! Nothing is guessed: a frame with no pose near enough, or a pose that
//! cannot be turned into a ground model, is not placed, and the reason is
//! counted for `run.json`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::frame::FrameGround;
use crate::geo::camera::{ground_model, GeoSettings};
use crate::telemetry::ts::KlvStream;
use crate::telemetry::{self, Format, Record, Telemetry, TelemetryError, Track, Utc};

/// What `run.json` says about one input's telemetry.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TelemetryInfo {
    /// Where it was read from: a file, or `klv-stream` for KLV demuxed
    /// with the video.
    pub from: Option<String>,
    pub format: Option<Format>,
    pub records: u64,
    pub packets: u64,
    pub checksum_failures: u64,
    pub skipped: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why the frames of this input have no place, when none was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub none: Option<String>,
}

/// Finds and aligns a video's telemetry, and places its frames.
pub struct Placer {
    settings: GeoSettings,
    /// Records read before the first frame, waiting for its PTS to align
    /// them; `None` once aligned.
    pending: Option<Pending>,
    track: Track,
    live: Option<KlvStream>,
    /// The first frame's raw timestamp, in 90 kHz ticks.
    start_90k: Option<i64>,
    /// The media time of the latest frame placed, for stream KLV that has
    /// no PTS.
    last_frame_t: Option<f64>,
    /// Stream KLV without PTS but with a precision time stamp: the first
    /// such record's UTC and the media time it was given.
    utc_anchor: Option<(Utc, f64)>,
    pub info: TelemetryInfo,
}

struct Pending {
    records: Vec<Record>,
    /// The first video PTS the TS reader saw (90 kHz), against which its
    /// `t_s` counts.
    video_start_90k: Option<u64>,
    /// Flight logs: aligned by UTC against the video's start.
    by_utc: bool,
    start_utc: Option<Utc>,
}

/// Why a telemetry file given by the user could not be used.
pub type PlacerError = TelemetryError;

impl Placer {
    /// A placer with no telemetry (yet): frames stay unplaced unless KLV
    /// arrives in the stream.
    fn empty(settings: &GeoSettings, why: &str) -> Placer {
        let mut track = Track::default();
        track.max_gap_s = settings.max_gap_s;
        track.hold_s = settings.hold_s;
        Placer {
            settings: settings.clone(),
            pending: None,
            track,
            live: None,
            start_90k: None,
            last_frame_t: None,
            utc_anchor: None,
            info: TelemetryInfo {
                none: Some(why.to_owned()),
                ..TelemetryInfo::default()
            },
        }
    }

    /// Finds the telemetry of the video at `path`: `explicit` first, then a
    /// sidecar, then KLV inside an MPEG-TS file. `start_utc` is the video's
    /// `creation_time`, for flight logs. A file named explicitly that cannot
    /// be read is an error; the others only leave the frames unplaced.
    pub fn for_video(
        path: &Path,
        explicit: Option<&Path>,
        settings: &GeoSettings,
        start_utc: Option<Utc>,
        live: bool,
    ) -> Result<Placer, PlacerError> {
        let mut placer = Placer::empty(
            settings,
            "no telemetry: no KLV in the video, no .SRT beside it, and no --telemetry",
        );
        if let Some(file) = explicit {
            let t = telemetry::read(file)?;
            placer.load(file, t, None, start_utc)?;
            return Ok(placer);
        }
        if let Some(srt) = sidecar(path) {
            match telemetry::srt::read(&srt) {
                Ok(t) => {
                    placer.load(&srt, t, None, start_utc)?;
                    return Ok(placer);
                }
                Err(e) => placer.info.warnings.push(e.to_string()),
            }
        }
        if !live && path.is_file() && telemetry::ts::looks_like_ts(path).unwrap_or(false) {
            match telemetry::ts::read_with_video_start(path) {
                Ok((t, video_start)) => {
                    placer.load(path, t, video_start, start_utc)?;
                    return Ok(placer);
                }
                Err(TelemetryError::Empty { .. }) => {}
                Err(e) => placer.info.warnings.push(e.to_string()),
            }
        }
        // Whatever FFmpeg demuxes as KLV is decoded as it comes.
        placer.live = Some(KlvStream::new());
        Ok(placer)
    }

    /// For a still: its own EXIF/XMP, or `explicit`. As for video, a file
    /// named explicitly that holds no telemetry, or cannot be read, is an
    /// error; a still without GPS of its own only stays unplaced.
    pub fn for_still(
        path: &Path,
        explicit: Option<&Path>,
        settings: &GeoSettings,
    ) -> Result<Placer, PlacerError> {
        let mut placer = Placer::empty(settings, "no telemetry: no GPS in the image's EXIF or XMP");
        let read = match explicit {
            Some(file) => Ok(telemetry::read(file)?),
            None => telemetry::exif::read(path),
        };
        match read {
            Ok(t) => {
                placer.note(explicit.unwrap_or(path), &t);
                if let Some(mut r) = t.records.into_iter().next() {
                    r.t_s = Some(0.0);
                    placer.track = Track::new([r]);
                    placer.info.none = None;
                }
            }
            Err(TelemetryError::Empty { reason, .. }) => {
                placer.info.none = Some(format!("no telemetry: {reason}"));
            }
            Err(e) => placer.info.warnings.push(e.to_string()),
        }
        Ok(placer)
    }

    fn note(&mut self, file: &Path, t: &Telemetry) {
        self.info.from = Some(file.display().to_string());
        self.info.format = t.records.first().and_then(|r| r.source);
        self.info.records = t.records.len() as u64;
        self.info.packets = t.packets;
        self.info.checksum_failures = t.checksum_failures;
        self.info.skipped = t.skipped;
        self.info.warnings.extend(t.warnings.iter().cloned());
    }

    fn load(
        &mut self,
        file: &Path,
        t: Telemetry,
        video_start_90k: Option<u64>,
        start_utc: Option<Utc>,
    ) -> Result<(), PlacerError> {
        self.note(file, &t);
        let by_utc = matches!(self.info.format, Some(Format::Csv | Format::Gpx));
        if by_utc && start_utc.is_none() {
            return Err(TelemetryError::format(
                file,
                "a flight log is aligned by UTC, but the video states no start time \
                 (creation_time); use a sidecar or KLV instead",
            ));
        }
        self.info.none = None;
        self.pending = Some(Pending {
            records: t.records,
            video_start_90k,
            by_utc,
            start_utc,
        });
        Ok(())
    }

    /// Whether KLV demuxed with the video should be handed to [`push_klv`](Self::push_klv).
    pub fn wants_stream_klv(&self) -> bool {
        self.live.is_some()
    }

    /// A KLV data packet demuxed with the video: `pts_90k` is its PTS in
    /// 90 kHz ticks.
    pub fn push_klv(&mut self, payload: &[u8], pts_90k: Option<i64>) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let raw = pts_90k.map(|p| p.rem_euclid(1 << 33) as u64);
        let records = live.push(payload, raw);
        let totals = live.totals();
        if !records.is_empty() && self.info.from.is_none() {
            self.info.from = Some("klv-stream".into());
            self.info.format = records[0].source;
            self.info.none = None;
        }
        self.info.packets = totals.packets;
        self.info.checksum_failures = totals.checksum_failures;
        self.info.skipped = totals.skipped;
        for mut r in records {
            self.info.records += 1;
            r.t_s = Some(self.stream_time(&r));
            self.track.push(r);
        }
    }

    /// The media time of a KLV record demuxed with the video: by its PTS;
    /// without one (FFmpeg writes asynchronous KLV without PTS), by its
    /// precision time stamp counted from the first such record, which is
    /// put at the latest frame; without either, at the latest frame (by
    /// order of arrival).
    fn stream_time(&mut self, r: &Record) -> f64 {
        if let (Some(p), Some(start)) = (r.pts_90k, self.start_90k) {
            return ticks_between(start, p as i64) as f64 / 90_000.0;
        }
        let now = self.last_frame_t.unwrap_or(0.0);
        match (r.utc, self.utc_anchor) {
            (Some(u), Some((u0, t0))) => t0 + (u.unix_us - u0.unix_us) as f64 / 1e6,
            (Some(u), None) => {
                self.utc_anchor = Some((u, now));
                now
            }
            (None, _) => now,
        }
    }

    /// Aligns pending records once the first frame's timestamp is known.
    fn align(&mut self) {
        let Some(p) = self.pending.take() else {
            return;
        };
        let records = p.records;
        self.track = if p.by_utc {
            let start = p.start_utc.expect("checked in load");
            Track::by_utc(records, start)
        } else {
            // ST 0601 in our own file: by PTS against the first frame FFmpeg
            // presents; others by their own t_s.
            let shift = match (p.video_start_90k, self.start_90k) {
                (Some(v), Some(s)) => ticks_between(s, v as i64) as f64 / 90_000.0,
                _ => 0.0,
            };
            let start = self.start_90k;
            Track::new(records.into_iter().map(|mut r| {
                r.t_s = match (r.pts_90k, start) {
                    (Some(pts), Some(s)) => Some(ticks_between(s, pts as i64) as f64 / 90_000.0),
                    _ => r.t_s.map(|t| t + shift),
                };
                r
            }))
        };
        self.track.max_gap_s = self.settings.max_gap_s;
        self.track.hold_s = self.settings.hold_s;
    }

    /// Places a frame shown at media time `t_s` (seconds from the first
    /// frame) whose raw timestamp is `raw_90k`. `Err` says why it is not
    /// placed; `Ok(None)` when the input has no telemetry at all.
    pub fn place(
        &mut self,
        t_s: Option<f64>,
        raw_90k: Option<i64>,
        width: u32,
        height: u32,
    ) -> Result<Option<Arc<FrameGround>>, String> {
        if self.start_90k.is_none() {
            self.start_90k = raw_90k;
        }
        self.last_frame_t = t_s.or(self.last_frame_t);
        self.align();
        if self.track.is_empty() {
            return if self.live.is_some() && self.info.from.is_some() {
                Err("no telemetry yet".into())
            } else {
                Ok(None)
            };
        }
        let Some(pose) = self.track.at(t_s.unwrap_or(0.0)) else {
            return Err("no telemetry record near this frame's time".into());
        };
        let model = ground_model(&pose, width, height, &self.settings)?;
        Ok(Some(Arc::new(FrameGround { model, pose })))
    }

    /// [`place`](Self::place), in the shape frames carry it.
    pub fn place_frame(
        &mut self,
        t_s: Option<f64>,
        raw_90k: Option<i64>,
        width: u32,
        height: u32,
    ) -> Placed {
        match self.place(t_s, raw_90k, width, height) {
            Ok(ground) => Placed {
                gsd_m_per_px: ground.as_ref().and_then(|g| {
                    g.model
                        .gsd_at(f64::from(width) / 2.0, f64::from(height) / 2.0)
                }),
                ground,
                unplaced: None,
            },
            Err(why) => Placed {
                ground: None,
                unplaced: Some(Arc::from(why)),
                gsd_m_per_px: None,
            },
        }
    }

    /// The records, aligned (for inspection and tests).
    pub fn track(&mut self) -> &Track {
        self.align();
        &self.track
    }
}

/// A frame's place, as [`crate::frame::FrameMeta`] carries it.
pub struct Placed {
    pub ground: Option<Arc<FrameGround>>,
    /// Why it has none, when its input has telemetry.
    pub unplaced: Option<Arc<str>>,
    /// Ground sample distance at the frame's centre.
    pub gsd_m_per_px: Option<f64>,
}

/// Signed ticks from `a` to `b` on the 33-bit PTS clock, taking the short
/// way round a wrap.
fn ticks_between(a: i64, b: i64) -> i64 {
    const WRAP: i64 = 1 << 33;
    let d = (b - a).rem_euclid(WRAP);
    if d >= WRAP / 2 {
        d - WRAP
    } else {
        d
    }
}

/// `DJI_0001.MP4` → `DJI_0001.SRT` (or `.srt`), if it exists.
pub fn sidecar(video: &Path) -> Option<PathBuf> {
    ["SRT", "srt"]
        .iter()
        .map(|ext| video.with_extension(ext))
        .find(|p| p.is_file() && p != video)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pts_differences_take_the_short_way_round_the_wrap() {
        assert_eq!(ticks_between(100, 190), 90);
        assert_eq!(ticks_between((1 << 33) - 10, 20), 30);
        assert_eq!(ticks_between(20, (1 << 33) - 10), -30);
    }

    #[test]
    fn sidecars_are_found_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let video = dir.path().join("DJI_0001.MP4");
        std::fs::write(&video, b"x").unwrap();
        assert_eq!(sidecar(&video), None);
        std::fs::write(dir.path().join("DJI_0001.SRT"), b"1").unwrap();
        assert_eq!(sidecar(&video), Some(dir.path().join("DJI_0001.SRT")));
    }

    #[test]
    fn srt_cues_place_frames_at_their_times() {
        let dir = tempfile::tempdir().unwrap();
        let video = dir.path().join("clip.mp4");
        let mut cues = String::new();
        for i in 0..3 {
            cues.push_str(&format!(
                "{n}\n00:00:0{i},000 --> 00:00:0{i},033\n[latitude: {lat}] [longitude: 12.6] \
                 [rel_alt: 50.0 abs_alt: 60.0] [gb_yaw: 0.0 gb_pitch: -90.0 gb_roll: 0.0] \
                 [focal_len: 24.00]\n\n",
                n = i + 1,
                lat = 35.5 + f64::from(i) * 1e-4
            ));
        }
        std::fs::write(dir.path().join("clip.SRT"), cues).unwrap();
        let mut p = Placer::for_video(&video, None, &GeoSettings::default(), None, false).unwrap();
        let g = p.place(Some(0.5), Some(900), 1920, 1080).unwrap().unwrap();
        assert_eq!(g.model.method, crate::geo::camera::Method::Pointing);
        let (_, lat) = g.model.centre().unwrap();
        assert!((lat - 35.50005).abs() < 1e-7, "{lat}");
        assert_eq!(p.info.records, 3);
        // Long after the last cue: not placed, and the reason says why.
        let e = p.place(Some(30.0), None, 1920, 1080).unwrap_err();
        assert!(e.contains("no telemetry record near"), "{e}");
    }
}
