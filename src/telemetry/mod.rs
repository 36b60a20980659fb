//! Drone telemetry: where the platform and its camera were when each frame
//! was taken.
//!
//! Readers, one module each, turn a source's own layout into [`Record`]s:
//!
//! - [`st0601`]: MISB ST 0601 UAS Datalink Local Set, the KLV of STANAG 4609
//!   video, over [`klv`]'s BER and checksum rules;
//! - [`eg0104`]: the older MISB EG 0104 Predator universal set;
//! - [`ts`]: finds KLV in MPEG-TS (asynchronous `KLVA` private data,
//!   synchronous `0x15` metadata access units, or by scanning PES payloads
//!   when the PAT/PMT is missing), and in raw `.klv` files;
//! - [`srt`]: DJI's `.SRT` subtitle sidecars, in every layout DJI has
//!   written;
//! - [`exif`]: DJI stills' EXIF GPS and `drone-dji` XMP;
//! - [`log`]: CSV and GPX flight logs, aligned by UTC.
//!
//! [`read`] picks the reader for a file. [`Track`] holds one source's
//! records in media time and answers "what was the pose at time t", with
//! interpolation between records. [`crate::geo::camera`] turns a pose into
//! a place on the ground for every pixel.

pub mod eg0104;
pub mod exif;
pub mod klv;
pub mod log;
pub mod srt;
pub mod st0601;
pub mod synth;
pub mod track;
pub mod ts;

use std::path::{Path, PathBuf};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

pub use track::{Pose, Track};

/// Errors from reading telemetry. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot read telemetry {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: no telemetry found ({reason})")]
    Empty { path: PathBuf, reason: String },
}

impl TelemetryError {
    pub fn format(path: &Path, message: impl Into<String>) -> TelemetryError {
        TelemetryError::Format {
            path: path.to_owned(),
            message: message.into(),
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> TelemetryError {
        TelemetryError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Which reader produced a record; the `source` key of `lookout telemetry
/// --json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    St0601,
    Eg0104,
    Srt,
    Exif,
    Csv,
    Gpx,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::St0601 => "st0601",
            Format::Eg0104 => "eg0104",
            Format::Srt => "srt",
            Format::Exif => "exif",
            Format::Csv => "csv",
            Format::Gpx => "gpx",
        }
    }
}

/// A UTC instant as precise as its source: microseconds since the Unix
/// epoch, and how many fractional digits of a second the source gave
/// (0 for whole seconds, 3 for milliseconds, 6 for microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Utc {
    pub unix_us: i64,
    pub digits: u8,
}

impl Utc {
    pub fn from_unix_us(unix_us: i64, digits: u8) -> Utc {
        Utc {
            unix_us,
            digits: digits.min(6),
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_s(self) -> f64 {
        self.unix_us as f64 / 1e6
    }

    /// From calendar fields in UTC, `(year, month, day)` and `(hour,
    /// minute, second)`; `None` when they are not a real date.
    pub fn from_fields(
        (year, month, day): (i32, u8, u8),
        (hour, minute, second): (u8, u8, u8),
        micros: u32,
        digits: u8,
    ) -> Option<Utc> {
        let month = time::Month::try_from(month).ok()?;
        let date = time::Date::from_calendar_date(year, month, day).ok()?;
        let t = time::Time::from_hms_micro(hour, minute, second, micros).ok()?;
        let dt = time::PrimitiveDateTime::new(date, t).assume_utc();
        Some(Utc::from_unix_us(
            (dt.unix_timestamp_nanos() / 1000) as i64,
            digits,
        ))
    }

    /// ISO 8601 with `Z`, with as many fractional digits as the source had.
    pub fn iso(self) -> String {
        let secs = self.unix_us.div_euclid(1_000_000);
        let micros = self.unix_us.rem_euclid(1_000_000);
        let Ok(dt) = time::OffsetDateTime::from_unix_timestamp(secs) else {
            return format!("@{}", self.unix_us);
        };
        let base = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        );
        if self.digits == 0 {
            format!("{base}Z")
        } else {
            let frac = format!("{micros:06}");
            format!("{base}.{}Z", &frac[..self.digits as usize])
        }
    }

    /// Parses `YYYY-MM-DD[T ]hh:mm:ss[.fff…][Z|±hh:mm]`, and the `:`-dated
    /// EXIF form `YYYY:MM:DD hh:mm:ss`. A time with no zone is taken as UTC.
    pub fn parse(text: &str) -> Option<Utc> {
        let s = text.trim();
        let b = s.as_bytes();
        if b.len() < 19 {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> { s.get(r)?.parse().ok() };
        let (year, month, day) = (num(0..4)? as i32, num(5..7)? as u8, num(8..10)? as u8);
        if !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let (hour, minute, second) = (num(11..13)? as u8, num(14..16)? as u8, num(17..19)? as u8);
        let mut rest = &s[19..];
        let (mut micros, mut digits) = (0u32, 0u8);
        if let Some(frac) = rest.strip_prefix(['.', ',']) {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            let d = &frac[..n];
            digits = n.min(6) as u8;
            let mut padded: String = d.chars().take(6).collect();
            while padded.len() < 6 {
                padded.push('0');
            }
            micros = padded.parse().ok()?;
            rest = &frac[n..];
        }
        let rest = rest.trim();
        let offset_s: i64 = match rest {
            "" | "Z" | "z" => 0,
            _ => {
                let sign = match rest.as_bytes()[0] {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let hm: String = rest[1..].chars().filter(|c| *c != ':').collect();
                // Four ASCII digits: a damaged offset of multi-byte
                // characters must not be sliced inside one.
                if hm.len() != 4 || !hm.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let h: i64 = hm[..2].parse().ok()?;
                let m: i64 = hm[2..].parse().ok()?;
                sign * (h * 3600 + m * 60)
            }
        };
        let utc = Utc::from_fields((year, month, day), (hour, minute, second), micros, digits)?;
        Some(Utc::from_unix_us(
            utc.unix_us - offset_s * 1_000_000,
            digits,
        ))
    }
}

impl Serialize for Utc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.iso())
    }
}

/// What one telemetry record says. Every field is optional: sources carry
/// different subsets, and an ST 0601 "error" value is absent, not zero.
/// Angles are degrees, positions WGS84 degrees, lengths metres.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub source: Option<Format>,
    /// MPEG-TS PID the record came in.
    pub pid: Option<u16>,
    /// Raw PES presentation time stamp, 90 kHz, 33 bits.
    pub pts_90k: Option<u64>,
    /// Media time in seconds: for KLV in MPEG-TS, from the first video PTS
    /// (33-bit wrap handled); for SRT, the cue's start; `None` for flight
    /// logs, which are aligned by UTC.
    pub t_s: Option<f64>,
    pub utc: Option<Utc>,
    /// Sensor (camera) or platform position.
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Sensor altitude above the WGS84 ellipsoid or MSL, as the source has it.
    pub alt_m: Option<f64>,
    /// Height above the take-off point (DJI).
    pub rel_alt_m: Option<f64>,
    pub heading_deg: Option<f64>,
    pub pitch_deg: Option<f64>,
    pub roll_deg: Option<f64>,
    /// DJI gimbal attitude: pitch -90 looks straight down; yaw is a
    /// compass heading.
    pub gimbal_pitch_deg: Option<f64>,
    pub gimbal_yaw_deg: Option<f64>,
    pub gimbal_roll_deg: Option<f64>,
    /// ST 0601 sensor angles relative to the platform.
    pub sensor_rel_azimuth_deg: Option<f64>,
    pub sensor_rel_elevation_deg: Option<f64>,
    pub sensor_rel_roll_deg: Option<f64>,
    pub hfov_deg: Option<f64>,
    pub vfov_deg: Option<f64>,
    pub slant_range_m: Option<f64>,
    pub frame_center_lat: Option<f64>,
    pub frame_center_lon: Option<f64>,
    pub frame_center_elev_m: Option<f64>,
    /// The frame's corners on the ground as `[lon, lat]`: upper left, upper
    /// right, lower right, lower left (ST 0601's order).
    pub corners: Option<[[f64; 2]; 4]>,
    pub ls_version: Option<u32>,
    /// Whether the packet's checksum matched; `None` where there is none.
    pub checksum_ok: Option<bool>,
    /// Camera facts that the ground model uses when the source has them.
    pub camera: Camera,
    /// Everything else decoded, by name.
    pub extra: Map<String, Value>,
}

/// Camera facts a source may carry (DJI SRT and EXIF), used to find the
/// field of view when the source does not state it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Camera {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focal_length_mm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focal_length_35mm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensor_width_mm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensor_height_mm: Option<f64>,
    /// Digital zoom factor (DJI `dzoom_ratio`); narrows the field of view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digital_zoom: Option<f64>,
    /// Camera or aircraft model as the source names it (EXIF `Model`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Image size the focal length refers to (stills).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_size: Option<(u32, u32)>,
}

impl Camera {
    fn is_empty(&self) -> bool {
        *self == Camera::default()
    }
}

impl Record {
    pub fn new(source: Format) -> Record {
        Record {
            source: Some(source),
            ..Record::default()
        }
    }

    /// Whether the record places the platform or the frame at all.
    pub fn has_position(&self) -> bool {
        (self.lat.is_some() && self.lon.is_some())
            || (self.frame_center_lat.is_some() && self.frame_center_lon.is_some())
            || self.corners.is_some()
    }

    /// Names of the fields this record has, for summaries.
    pub fn fields(&self) -> Vec<&'static str> {
        let v = serde_json::to_value(self).unwrap_or(Value::Null);
        let mut out = Vec::new();
        if let Value::Object(map) = v {
            for (k, val) in map {
                if !val.is_null() && !matches!(k.as_str(), "source" | "extra") {
                    if let Some(name) = FIELD_NAMES.iter().find(|n| **n == k) {
                        out.push(*name);
                    }
                }
            }
        }
        out
    }
}

/// The keys of `lookout telemetry --json`, in order.
pub const FIELD_NAMES: &[&str] = &[
    "source",
    "pid",
    "pts_90k",
    "t_s",
    "utc",
    "lat",
    "lon",
    "alt_m",
    "rel_alt_m",
    "heading_deg",
    "pitch_deg",
    "roll_deg",
    "gimbal_pitch_deg",
    "gimbal_yaw_deg",
    "gimbal_roll_deg",
    "sensor_rel_azimuth_deg",
    "sensor_rel_elevation_deg",
    "sensor_rel_roll_deg",
    "hfov_deg",
    "vfov_deg",
    "slant_range_m",
    "frame_center_lat",
    "frame_center_lon",
    "frame_center_elev_m",
    "corners",
    "ls_version",
    "checksum_ok",
    "extra",
];

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(FIELD_NAMES.len()))?;
        m.serialize_entry("source", &self.source)?;
        m.serialize_entry("pid", &self.pid)?;
        m.serialize_entry("pts_90k", &self.pts_90k)?;
        m.serialize_entry("t_s", &self.t_s)?;
        m.serialize_entry("utc", &self.utc)?;
        m.serialize_entry("lat", &self.lat)?;
        m.serialize_entry("lon", &self.lon)?;
        m.serialize_entry("alt_m", &self.alt_m)?;
        m.serialize_entry("rel_alt_m", &self.rel_alt_m)?;
        m.serialize_entry("heading_deg", &self.heading_deg)?;
        m.serialize_entry("pitch_deg", &self.pitch_deg)?;
        m.serialize_entry("roll_deg", &self.roll_deg)?;
        m.serialize_entry("gimbal_pitch_deg", &self.gimbal_pitch_deg)?;
        m.serialize_entry("gimbal_yaw_deg", &self.gimbal_yaw_deg)?;
        m.serialize_entry("gimbal_roll_deg", &self.gimbal_roll_deg)?;
        m.serialize_entry("sensor_rel_azimuth_deg", &self.sensor_rel_azimuth_deg)?;
        m.serialize_entry("sensor_rel_elevation_deg", &self.sensor_rel_elevation_deg)?;
        m.serialize_entry("sensor_rel_roll_deg", &self.sensor_rel_roll_deg)?;
        m.serialize_entry("hfov_deg", &self.hfov_deg)?;
        m.serialize_entry("vfov_deg", &self.vfov_deg)?;
        m.serialize_entry("slant_range_m", &self.slant_range_m)?;
        m.serialize_entry("frame_center_lat", &self.frame_center_lat)?;
        m.serialize_entry("frame_center_lon", &self.frame_center_lon)?;
        m.serialize_entry("frame_center_elev_m", &self.frame_center_elev_m)?;
        m.serialize_entry("corners", &self.corners)?;
        m.serialize_entry("ls_version", &self.ls_version)?;
        m.serialize_entry("checksum_ok", &self.checksum_ok)?;
        let mut extra = self.extra.clone();
        if !self.camera.is_empty() {
            if let Ok(Value::Object(cam)) = serde_json::to_value(&self.camera) {
                extra.extend(cam);
            }
        }
        m.serialize_entry("extra", &extra)?;
        m.end()
    }
}

/// What a reader found in one file: its records in file order, and what
/// it had to skip.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Telemetry {
    #[serde(skip)]
    pub records: Vec<Record>,
    /// KLV packets (or cues, or rows) seen, good or bad.
    pub packets: u64,
    /// Packets whose checksum did not match: counted, skipped, never used.
    pub checksum_failures: u64,
    /// Packets or cues that could not be decoded for another reason.
    pub skipped: u64,
    /// Things a person should know, e.g. "cut in the middle of cue 812".
    pub warnings: Vec<String>,
}

impl Telemetry {
    /// Adds another reader's findings (several streams in one file).
    pub fn extend(&mut self, other: Telemetry) {
        self.records.extend(other.records);
        self.packets += other.packets;
        self.checksum_failures += other.checksum_failures;
        self.skipped += other.skipped;
        self.warnings.extend(other.warnings);
    }
}

/// How a file's telemetry is laid out, from its name and first bytes.
pub fn sniff(path: &Path) -> Result<Option<Format>, TelemetryError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    Ok(match ext.as_deref() {
        Some("srt") => Some(Format::Srt),
        Some("csv") => Some(Format::Csv),
        Some("gpx") => Some(Format::Gpx),
        Some("jpg" | "jpeg" | "dng") => Some(Format::Exif),
        _ => None,
    })
}

/// Reads any telemetry file lookout knows: `.srt`, `.csv`, `.gpx`, DJI
/// stills, raw `.klv`/`.bin` KLV, and MPEG-TS (by extension or by its sync
/// bytes), where KLV may hold ST 0601 or EG 0104.
pub fn read(path: &Path) -> Result<Telemetry, TelemetryError> {
    if path.is_dir() {
        return Err(TelemetryError::format(
            path,
            "is a folder, not a telemetry file",
        ));
    }
    if !path.exists() {
        return Err(TelemetryError::io(
            path,
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let telemetry = match sniff(path)? {
        Some(Format::Srt) => srt::read(path)?,
        Some(Format::Csv) => log::read_csv(path)?,
        Some(Format::Gpx) => log::read_gpx(path)?,
        Some(Format::Exif) => exif::read(path)?,
        _ => {
            if ts::looks_like_ts(path)? {
                ts::read(path)?
            } else {
                ts::read_klv_file(path)?
            }
        }
    };
    Ok(telemetry)
}

/// Strategies shared by the parsers' property tests (the telemetry
/// readers here, and `config`, `detect::labels` and `eval::gt`): inputs
/// damaged the ways files are, which a parser must take without panicking.
#[cfg(test)]
pub(crate) mod fuzz {
    use proptest::prelude::*;
    use proptest::sample::Index;

    /// `base` damaged by one to three edits, each a cut, random bytes
    /// written over it, random bytes inserted, or a stretch repeated.
    pub fn mutated(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
        let edit = (
            0..4u8,
            any::<Index>(),
            any::<Index>(),
            prop::collection::vec(any::<u8>(), 1..24),
        );
        prop::collection::vec(edit, 1..4).prop_map(move |edits| {
            let mut out = base.clone();
            for (how, at, len, noise) in edits {
                if out.is_empty() {
                    out = noise;
                    continue;
                }
                let at = at.index(out.len());
                match how {
                    0 => out.truncate(at),
                    1 => {
                        for (b, n) in out[at..].iter_mut().zip(&noise) {
                            *b = *n;
                        }
                    }
                    2 => {
                        out.splice(at..at, noise);
                    }
                    _ => {
                        let end = at + len.index(out.len() - at + 1).min(256);
                        let copy = out[at..end].to_vec();
                        out.splice(at..at, copy);
                    }
                }
            }
            out
        })
    }

    /// [`mutated`] text, invalid UTF-8 replaced (the readers take `&str`).
    pub fn mutated_text(base: &str) -> impl Strategy<Value = String> {
        mutated(base.as_bytes().to_vec()).prop_map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// Text made of the given pieces (keys, punctuation, numbers, words a
    /// format uses) in random order: closer to real files than random
    /// characters, so the parsers get past their first check.
    pub fn text_of(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                4 => prop::sample::select(pieces).prop_map(str::to_owned),
                1 => "[ -~]{0,6}",
                1 => prop::sample::select(NUMBERS).prop_map(str::to_owned),
            ],
            0..40,
        )
        .prop_map(|parts| parts.concat())
    }

    /// The first number of `r` that is not finite, by name: a reader must
    /// drop a NaN or an infinity rather than hand it on to be placed on
    /// the map.
    pub fn non_finite(r: &super::Record) -> Option<&'static str> {
        let c = &r.camera;
        let fields = [
            ("t_s", r.t_s),
            ("lat", r.lat),
            ("lon", r.lon),
            ("alt_m", r.alt_m),
            ("rel_alt_m", r.rel_alt_m),
            ("heading_deg", r.heading_deg),
            ("pitch_deg", r.pitch_deg),
            ("roll_deg", r.roll_deg),
            ("gimbal_pitch_deg", r.gimbal_pitch_deg),
            ("gimbal_yaw_deg", r.gimbal_yaw_deg),
            ("gimbal_roll_deg", r.gimbal_roll_deg),
            ("sensor_rel_azimuth_deg", r.sensor_rel_azimuth_deg),
            ("sensor_rel_elevation_deg", r.sensor_rel_elevation_deg),
            ("sensor_rel_roll_deg", r.sensor_rel_roll_deg),
            ("hfov_deg", r.hfov_deg),
            ("vfov_deg", r.vfov_deg),
            ("slant_range_m", r.slant_range_m),
            ("frame_center_lat", r.frame_center_lat),
            ("frame_center_lon", r.frame_center_lon),
            ("frame_center_elev_m", r.frame_center_elev_m),
            ("focal_length_mm", c.focal_length_mm),
            ("focal_length_35mm", c.focal_length_35mm),
            ("sensor_width_mm", c.sensor_width_mm),
            ("sensor_height_mm", c.sensor_height_mm),
        ];
        let corners = r.corners.iter().flatten().flatten();
        fields
            .into_iter()
            .find(|(_, v)| v.is_some_and(|v| !v.is_finite()))
            .map(|(name, _)| name)
            .or_else(|| {
                corners
                    .into_iter()
                    .any(|v| !v.is_finite())
                    .then_some("corners")
            })
    }

    /// Numbers as files write them, and as they should not.
    pub const NUMBERS: &[&str] = &[
        "0",
        "1",
        "-1",
        "0.5",
        "-0.0",
        "1e308",
        "-1e308",
        "1e-320",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "+inf",
        "infinity",
        "18446744073709551616",
        "-9223372036854775809",
        "4294967296",
        "65536",
        "1.7976931348623157e309",
        "0x10",
        "1_000",
        ".",
        "-",
        "",
        " ",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_keeps_the_precision_of_its_source() {
        let t = Utc::parse("2021-09-03 12:33:41.123").unwrap();
        assert_eq!(t.iso(), "2021-09-03T12:33:41.123Z");
        let t = Utc::parse("2021:09:03 12:33:41").unwrap();
        assert_eq!(t.iso(), "2021-09-03T12:33:41Z");
        let t = Utc::parse("2021-09-03T14:33:41.5+02:00").unwrap();
        assert_eq!(t.iso(), "2021-09-03T12:33:41.5Z");
        assert_eq!(
            Utc::from_unix_us(1_630_672_421_123_456, 6).iso(),
            "2021-09-03T12:33:41.123456Z"
        );
        assert!(Utc::parse("2021-13-03 12:33:41").is_none());
        assert!(Utc::parse("yesterday").is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Times in any form, or none: parsed or refused, never a panic,
        /// and a parsed one prints.
        #[test]
        fn utc_parse_takes_any_text(text in fuzz::text_of(&[
            "2021", "-", ":", "09", "03", "13", "31", "00", "99", " ", "T", "12", "33", "41", ".",
            "123456789", "Z", "+02:00", "-12:00", "+99:99", "9999", "0000",
        ])) {
            if let Some(t) = Utc::parse(&text) {
                let _ = t.iso();
            }
        }

        #[test]
        fn utc_parse_takes_damaged_times(text in fuzz::mutated_text("2021-09-03T14:33:41.5+02:00")) {
            if let Some(t) = Utc::parse(&text) {
                let _ = t.iso();
            }
        }
    }

    #[test]
    fn json_has_every_key_and_puts_camera_facts_in_extra() {
        let mut r = Record::new(Format::Srt);
        r.lat = Some(36.17);
        r.camera.focal_length_35mm = Some(24.0);
        let v = serde_json::to_value(&r).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        for k in FIELD_NAMES {
            assert!(keys.contains(k), "{k} missing from {keys:?}");
        }
        assert_eq!(v["source"], "srt");
        assert_eq!(v["lon"], Value::Null);
        assert_eq!(v["extra"]["focal_length_35mm"], 24.0);
        assert_eq!(r.fields(), vec!["lat"]);
    }
}
