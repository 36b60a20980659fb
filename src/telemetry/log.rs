//! CSV and GPX flight logs.
//!
//! For aircraft that write neither KLV nor an SRT sidecar, the flight log
//! (the controller app's CSV, an AirData export, a GPX track) is the only
//! record of where the aircraft was. Logs have no media time, so every
//! record's `t_s` is `None`: records are aligned to the video elsewhere,
//! by UTC, and a row or point without a time is of no use and is skipped.

use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use serde_json::Value;

use super::srt::{extra_value, number_unit, snake_case};
use super::{Format, Record, Telemetry, TelemetryError, Utc};

/// Metres in an international foot.
const FOOT_M: f64 = 0.3048;

/// Reads a CSV flight log: one [`Record`] per row with a time.
pub fn read_csv(path: &Path) -> Result<Telemetry, TelemetryError> {
    let text = read_text(path)?;
    parse_csv(&text, path)
}

/// Reads a GPX 1.0 or 1.1 file: one [`Record`] per `trkpt`, `rtept` or
/// `wpt` with a time.
pub fn read_gpx(path: &Path) -> Result<Telemetry, TelemetryError> {
    let text = read_text(path)?;
    parse_gpx(&text, path)
}

/// The file as text; bytes that are not UTF-8 are replaced.
fn read_text(path: &Path) -> Result<String, TelemetryError> {
    let bytes = std::fs::read(path).map_err(|e| TelemetryError::io(path, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// What a CSV column means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Time,
    Lat,
    Lon,
    Alt,
    RelAlt,
    Heading,
    Pitch,
    Roll,
    GimbalPitch,
    GimbalYaw,
    GimbalRoll,
    Hfov,
    Vfov,
    /// Any other column: `extra`, under this key.
    Extra,
}

/// A CSV column: its role, its `extra` key, and the factor to metres when
/// its header names feet.
#[derive(Debug, Clone)]
struct Column {
    role: Role,
    key: String,
    header: String,
    to_metres: f64,
}

/// Splits a header into its normalised name and its unit: lower case, the
/// part in parentheses or brackets taken as the unit, and spaces, `_` and
/// `-` removed from the name. `altitude_above_seaLevel(feet)` →
/// (`altitudeabovesealevel`, `feet`).
fn normalise_header(h: &str) -> (String, String) {
    let h = h.trim().trim_start_matches('\u{feff}').to_lowercase();
    let (name, unit) = match h.find(['(', '[']) {
        Some(i) => (&h[..i], h[i + 1..].trim_end_matches([')', ']']).trim()),
        None => (h.as_str(), ""),
    };
    let name: String = name.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).collect();
    (name, unit.to_owned())
}

/// The role a normalised header name plays, and how strongly it claims
/// to be the time column (lower wins: `datetime(utc)` over `time`).
fn role_of(name: &str, unit: &str) -> (Role, u8) {
    let role = match name {
        "datetime" | "utc" | "timestamp" | "gpstime" | "datetimeutc" | "utctime" => {
            return (Role::Time, 0)
        }
        // AirData's `time(millisecond)` is time since take-off, not a clock.
        "time" if unit.is_empty() || unit == "utc" => return (Role::Time, 1),
        "lat" | "latitude" => Role::Lat,
        "lon" | "lng" | "long" | "longitude" => Role::Lon,
        "alt" | "altitude" | "altitudeabovesealevel" | "absalt" | "absolutealtitude" => Role::Alt,
        "relalt" | "heightabovetakeoff" | "height" | "relativealtitude" => Role::RelAlt,
        "heading" | "yaw" | "compassheading" => Role::Heading,
        "pitch" => Role::Pitch,
        "roll" => Role::Roll,
        "gimbalpitch" => Role::GimbalPitch,
        "gimbalyaw" | "gimbalheading" => Role::GimbalYaw,
        "gimbalroll" => Role::GimbalRoll,
        "hfov" => Role::Hfov,
        "vfov" => Role::Vfov,
        _ => Role::Extra,
    };
    (role, u8::MAX)
}

/// Chooses each header's role; only the best time column (and the first
/// of every other role) is used as such, the rest go to `extra`.
fn columns(headers: &[String]) -> Vec<Column> {
    let parsed: Vec<(String, String, Role, u8)> = headers
        .iter()
        .map(|h| {
            let (name, unit) = normalise_header(h);
            let (role, rank) = role_of(&name, &unit);
            (name, unit, role, rank)
        })
        .collect();
    let best_time = parsed
        .iter()
        .enumerate()
        .filter(|(_, p)| p.2 == Role::Time)
        .min_by_key(|(_, p)| p.3)
        .map(|(i, _)| i);
    let mut taken: Vec<Role> = Vec::new();
    parsed
        .into_iter()
        .enumerate()
        .map(|(i, (_, unit, mut role, _))| {
            if (role == Role::Time && Some(i) != best_time) || (role != Role::Extra && taken.contains(&role)) {
                role = Role::Extra;
            }
            taken.push(role);
            let feet = matches!(unit.as_str(), "feet" | "ft" | "foot");
            let base = headers[i].split(['(', '[']).next().unwrap_or("");
            let mut key = snake_case(base);
            if !unit.is_empty() {
                key = format!("{key}_{}", snake_case(&unit));
            }
            Column {
                role,
                key,
                header: headers[i].trim().to_owned(),
                to_metres: if feet { FOOT_M } else { 1.0 },
            }
        })
        .collect()
}

/// The delimiter: `;` when the header line has more of them than commas,
/// a tab when it has only tabs, else `,`.
fn delimiter(header_line: &str) -> u8 {
    let count = |c: char| header_line.matches(c).count();
    if count(';') > count(',') {
        b';'
    } else if count(',') == 0 && count('\t') > 0 {
        b'\t'
    } else {
        b','
    }
}

/// Parses CSV text; `path` only names the file in errors.
pub fn parse_csv(text: &str, path: &Path) -> Result<Telemetry, TelemetryError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter(header_line))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_owned).collect(),
        Err(e) => return Err(TelemetryError::format(path, format!("cannot read the CSV header: {e}"))),
    };
    let columns = columns(&headers);
    if !columns.iter().any(|c| c.role == Role::Time) {
        return Err(TelemetryError::Empty {
            path: path.to_owned(),
            reason: format!(
                "no time column (one of time, utc, datetime, datetime(utc), timestamp, gps_time) among: {}",
                headers.join(", ")
            ),
        });
    }
    let mut out = Telemetry::default();
    let mut first_bad: Option<String> = None;
    for row in reader.records() {
        out.packets += 1;
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                out.skipped += 1;
                first_bad.get_or_insert_with(|| format!("a row cannot be read: {e}"));
                continue;
            }
        };
        let line = row.position().map_or(0, |p| p.line());
        match csv_row(&row, &columns) {
            Ok(record) => out.records.push(record),
            Err(why) => {
                out.skipped += 1;
                first_bad.get_or_insert_with(|| format!("line {line}: {why}"));
            }
        }
    }
    if let Some(first) = first_bad {
        out.warnings.push(format!("{} row(s) skipped; the first: {first}", out.skipped));
    }
    csv_no_fix(&mut out);
    if out.records.is_empty() {
        return Err(TelemetryError::Empty {
            path: path.to_owned(),
            reason: format!("{} row(s), none with a readable time and values", out.packets),
        });
    }
    Ok(out)
}

/// One CSV row as a record, or why it cannot be one.
fn csv_row(row: &csv::StringRecord, columns: &[Column]) -> Result<Record, String> {
    let mut r = Record::new(Format::Csv);
    for (cell, col) in row.iter().zip(columns) {
        if cell.is_empty() {
            continue;
        }
        if col.role == Role::Time {
            r.utc = Some(parse_time(cell).ok_or_else(|| format!("column '{}': '{cell}' is not a time", col.header))?);
            continue;
        }
        if col.role == Role::Extra {
            r.extra.insert(col.key.clone(), extra_value(cell));
            continue;
        }
        let v = number_unit(cell)
            .map(|n| n.0 * col.to_metres)
            .ok_or_else(|| format!("column '{}': '{cell}' is not a number", col.header))?;
        *role_field(&mut r, col.role) = Some(v);
    }
    if r.utc.is_none() {
        return Err("no time".into());
    }
    check_position(&r)?;
    Ok(r)
}

/// The record field a role fills.
fn role_field(r: &mut Record, role: Role) -> &mut Option<f64> {
    match role {
        Role::Lat => &mut r.lat,
        Role::Lon => &mut r.lon,
        Role::Alt => &mut r.alt_m,
        Role::RelAlt => &mut r.rel_alt_m,
        Role::Heading => &mut r.heading_deg,
        Role::Pitch => &mut r.pitch_deg,
        Role::Roll => &mut r.roll_deg,
        Role::GimbalPitch => &mut r.gimbal_pitch_deg,
        Role::GimbalYaw => &mut r.gimbal_yaw_deg,
        Role::GimbalRoll => &mut r.gimbal_roll_deg,
        Role::Hfov => &mut r.hfov_deg,
        Role::Vfov | Role::Time | Role::Extra => &mut r.vfov_deg,
    }
}

/// Refuses a position out of range. A 0,0 position is not refused but
/// emptied by the caller's no-fix rule ([`no_fix`]).
fn check_position(r: &Record) -> Result<(), String> {
    if r.lat.is_some_and(|v| v.abs() > 90.0) || r.lon.is_some_and(|v| v.abs() > 180.0) {
        return Err(format!("position {:?},{:?} is out of range", r.lat, r.lon));
    }
    Ok(())
}

/// A time cell: ISO 8601 (`2021-09-03T12:33:41.5Z`, `2021-09-03
/// 12:33:41`, `2021/09/03 12:33:41`), or Unix time as a number, whose unit
/// is told by its size: at least 1e14 is microseconds, at least 1e11
/// milliseconds (1e11 seconds would be the year 5138), else seconds. A
/// number below 1e8 (March 1973) is refused: it is an elapsed time, not a
/// clock.
pub fn parse_time(cell: &str) -> Option<Utc> {
    let s = cell.trim();
    if let Some(utc) = Utc::parse(s) {
        return Some(utc);
    }
    if s.len() >= 10 && s.as_bytes()[4] == b'/' && s.as_bytes().get(7) == Some(&b'/') {
        let fixed = format!("{}-{}-{}", &s[..4], &s[5..7], &s[8..]);
        if let Some(utc) = Utc::parse(&fixed) {
            return Some(utc);
        }
    }
    let v: f64 = s.parse().ok().filter(|v: &f64| v.is_finite())?;
    let places = s.split_once('.').map_or(0, |(_, f)| f.len());
    let (us, digits) = if v >= 1e14 {
        (v, 6)
    } else if v >= 1e11 {
        (v * 1e3, (3 + places).min(6))
    } else if v >= 1e8 {
        (v * 1e6, places.min(6))
    } else {
        return None;
    };
    (us < 1e17).then(|| Utc::from_unix_us(us.round() as i64, digits as u8))
}

/// Empties 0,0 positions (no GPS fix) and returns how many there were.
fn no_fix(records: &mut [Record]) -> usize {
    let mut n = 0;
    for r in records.iter_mut().filter(|r| r.lat == Some(0.0) && r.lon == Some(0.0)) {
        r.lat = None;
        r.lon = None;
        n += 1;
    }
    n
}

/// Parses GPX text; `path` only names the file in errors.
pub fn parse_gpx(text: &str, path: &Path) -> Result<Telemetry, TelemetryError> {
    let mut reader = quick_xml::Reader::from_str(text.strip_prefix('\u{feff}').unwrap_or(text));
    let mut out = Telemetry::default();
    let mut point: Option<GpxPoint> = None;
    let mut first_bad: Option<String> = None;
    let mut saw_gpx = false;
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                let at = reader.buffer_position();
                out.warnings.push(format!("the GPX is damaged at byte {at} ({e}); read up to there"));
                break;
            }
        };
        match event {
            Event::Start(e) | Event::Empty(e) if local(&e) == "gpx" => saw_gpx = true,
            Event::Start(e) if is_point(&e) => point = Some(GpxPoint::start(&e)),
            Event::Empty(e) if is_point(&e) => {
                finish_point(GpxPoint::start(&e), &mut out, &mut first_bad);
            }
            Event::Start(e) => {
                if let Some(p) = point.as_mut() {
                    p.open = Some(local(&e));
                    p.text.clear();
                }
            }
            Event::Text(t) => {
                if let Some(p) = point.as_mut() {
                    p.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(p) = point.as_mut() {
                    p.text.push_str(&format!("&{};", &*r));
                }
            }
            Event::End(e) => {
                let name = e.local_name().as_ref().to_owned();
                if matches!(name.as_str(), "trkpt" | "rtept" | "wpt") {
                    if let Some(p) = point.take() {
                        finish_point(p, &mut out, &mut first_bad);
                    }
                } else if let Some(p) = point.as_mut() {
                    p.child(&name);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if point.is_some() {
        out.warnings.push("the GPX ends inside a point; that point was dropped".into());
    }
    if let Some(first) = first_bad {
        out.warnings.push(format!("{} point(s) skipped; the first: {first}", out.skipped));
    }
    let n = no_fix(&mut out.records);
    if n > 0 {
        out.warnings.push(format!("{n} point(s) at 0,0, read as no GPS fix (position left empty)"));
    }
    if out.records.is_empty() {
        let reason = if saw_gpx {
            format!("{} point(s), none with a time and a valid position", out.packets)
        } else {
            "no <gpx> element".to_owned()
        };
        return Err(TelemetryError::Empty { path: path.to_owned(), reason });
    }
    Ok(out)
}

/// An element's local name (prefix dropped).
fn local(e: &BytesStart) -> String {
    e.local_name().as_ref().to_owned()
}

/// Whether an element is a GPX point.
fn is_point(e: &BytesStart) -> bool {
    matches!(local(e).as_str(), "trkpt" | "rtept" | "wpt")
}

/// A GPX point being read.
#[derive(Debug)]
struct GpxPoint {
    kind: String,
    lat: Option<String>,
    lon: Option<String>,
    record: Record,
    /// The innermost child element open, and its text so far.
    open: Option<String>,
    text: String,
    /// The first child that did not read, as `name 'value'`.
    bad: Option<String>,
}

impl GpxPoint {
    fn start(e: &BytesStart) -> GpxPoint {
        let mut p = GpxPoint {
            kind: local(e),
            lat: None,
            lon: None,
            record: Record::new(Format::Gpx),
            open: None,
            text: String::new(),
            bad: None,
        };
        for a in e.attributes().flatten() {
            let v = a.value.trim().to_owned();
            match a.key.local_name().as_ref() {
                "lat" => p.lat = Some(v),
                "lon" => p.lon = Some(v),
                _ => {}
            }
        }
        p
    }

    /// A child element (of the point or of its extensions) has closed.
    /// Common extension names are mapped: `course`/`heading`/`yaw`,
    /// `pitch`, `roll`, gimbal angles (Litchi and DJI exports write
    /// `gimbalPitch`, `gimbal_pitch`…), `height`/`altitude` above
    /// take-off; anything else goes to `extra` by snake_case name.
    fn child(&mut self, name: &str) {
        if self.open.as_deref() != Some(name) {
            return;
        }
        self.open = None;
        let value = std::mem::take(&mut self.text);
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        let key = snake_case(name);
        let r = &mut self.record;
        if key == "time" {
            r.utc = parse_time(value);
            if r.utc.is_none() {
                self.bad.get_or_insert(format!("time '{value}' is not a time"));
            }
            return;
        }
        let target = match key.replace('_', "").as_str() {
            "ele" => Some(&mut r.alt_m),
            "course" | "heading" | "yaw" | "bearing" | "compassheading" => Some(&mut r.heading_deg),
            "pitch" => Some(&mut r.pitch_deg),
            "roll" => Some(&mut r.roll_deg),
            "gimbalpitch" => Some(&mut r.gimbal_pitch_deg),
            "gimbalyaw" | "gimbalheading" => Some(&mut r.gimbal_yaw_deg),
            "gimbalroll" => Some(&mut r.gimbal_roll_deg),
            "height" | "relalt" | "relativealtitude" | "heightabovetakeoff" => Some(&mut r.rel_alt_m),
            _ => None,
        };
        match (target, number_unit(value)) {
            (Some(field), Some((v, _))) => *field = Some(v),
            (Some(_), None) => {
                self.bad.get_or_insert(format!("{name} '{value}' is not a number"));
            }
            (None, _) => {
                let v = extra_value(value);
                if key == "speed" {
                    if let Value::Number(_) = v {
                        r.extra.insert("speed_mps".into(), v);
                        return;
                    }
                }
                r.extra.insert(key, v);
            }
        }
    }
}

/// Ends a point: a record if it has a time and a valid position.
fn finish_point(p: GpxPoint, out: &mut Telemetry, first_bad: &mut Option<String>) {
    out.packets += 1;
    let n = out.packets;
    let coord = |s: &Option<String>, limit: f64| {
        s.as_deref().and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite() && v.abs() <= limit)
    };
    let (lat, lon) = (coord(&p.lat, 90.0), coord(&p.lon, 180.0));
    let why = if let Some(bad) = &p.bad {
        Some(bad.clone())
    } else if lat.is_none() || lon.is_none() {
        Some(format!("lat '{}' lon '{}' is not a position", p.lat.as_deref().unwrap_or(""), p.lon.as_deref().unwrap_or("")))
    } else if p.record.utc.is_none() {
        Some("no time".into())
    } else {
        None
    };
    if let Some(why) = why {
        out.skipped += 1;
        first_bad.get_or_insert_with(|| format!("{} {n}: {why}", p.kind));
        return;
    }
    let mut r = p.record;
    r.lat = lat;
    r.lon = lon;
    r.extra.insert("gpx_kind".into(), Value::String(p.kind));
    out.records.push(r);
}

/// Applies the no-fix rule to CSV records (kept separate from parsing so
/// both readers share it) and reports it.
fn csv_no_fix(out: &mut Telemetry) {
    let n = no_fix(&mut out.records);
    if n > 0 {
        out.warnings.push(format!("{n} row(s) at 0,0, read as no GPS fix (position left empty)"));
    }
}
