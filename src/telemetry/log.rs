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
    let name: String = name
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .collect();
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
            if (role == Role::Time && Some(i) != best_time)
                || (role != Role::Extra && taken.contains(&role))
            {
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
        Err(e) => {
            return Err(TelemetryError::format(
                path,
                format!("cannot read the CSV header: {e}"),
            ))
        }
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
        out.warnings.push(format!(
            "{} row(s) skipped; the first: {first}",
            out.skipped
        ));
    }
    csv_no_fix(&mut out);
    if out.records.is_empty() {
        return Err(TelemetryError::Empty {
            path: path.to_owned(),
            reason: format!(
                "{} row(s), none with a readable time and values",
                out.packets
            ),
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
            r.utc = Some(
                parse_time(cell)
                    .ok_or_else(|| format!("column '{}': '{cell}' is not a time", col.header))?,
            );
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
    for r in records
        .iter_mut()
        .filter(|r| r.lat == Some(0.0) && r.lon == Some(0.0))
    {
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
                out.warnings.push(format!(
                    "the GPX is damaged at byte {at} ({e}); read up to there"
                ));
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
                    p.text.push_str(match &*r {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "\u{fffd}",
                    });
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
        out.warnings
            .push("the GPX ends inside a point; that point was dropped".into());
    }
    if let Some(first) = first_bad {
        out.warnings.push(format!(
            "{} point(s) skipped; the first: {first}",
            out.skipped
        ));
    }
    let n = no_fix(&mut out.records);
    if n > 0 {
        out.warnings.push(format!(
            "{n} point(s) at 0,0, read as no GPS fix (position left empty)"
        ));
    }
    if out.records.is_empty() {
        let reason = if saw_gpx {
            format!(
                "{} point(s), none with a time and a valid position",
                out.packets
            )
        } else {
            "no <gpx> element".to_owned()
        };
        return Err(TelemetryError::Empty {
            path: path.to_owned(),
            reason,
        });
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
                self.bad
                    .get_or_insert(format!("time '{value}' is not a time"));
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
            "height" | "relalt" | "relativealtitude" | "heightabovetakeoff" => {
                Some(&mut r.rel_alt_m)
            }
            _ => None,
        };
        match (target, number_unit(value)) {
            (Some(field), Some((v, _))) => *field = Some(v),
            (Some(_), None) => {
                self.bad
                    .get_or_insert(format!("{name} '{value}' is not a number"));
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
        s.as_deref()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && v.abs() <= limit)
    };
    let (lat, lon) = (coord(&p.lat, 90.0), coord(&p.lon, 180.0));
    let why = if let Some(bad) = &p.bad {
        Some(bad.clone())
    } else if lat.is_none() || lon.is_none() {
        Some(format!(
            "lat '{}' lon '{}' is not a position",
            p.lat.as_deref().unwrap_or(""),
            p.lon.as_deref().unwrap_or("")
        ))
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
        out.warnings.push(format!(
            "{n} row(s) at 0,0, read as no GPS fix (position left empty)"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x<'a>(r: &'a Record, key: &str) -> &'a Value {
        r.extra.get(key).unwrap_or(&Value::Null)
    }

    fn near(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn airdata_headers_in_feet() {
        let text = "time(millisecond),datetime(utc),latitude,longitude,height_above_takeoff(feet),\
            altitude_above_seaLevel(feet),speed(mph),compass_heading(degrees),pitch(degrees),roll(degrees),\
            gimbal_heading(degrees),gimbal_pitch(degrees),gimbal_roll(degrees),isVideo,message\n\
            0,2021-09-03 12:33:41,36.17,-75.75,10,100,0.0,90.5,-2.1,0.5,91.0,-90.0,0.0,1,\n\
            100,2021-09-03 12:33:41.100,36.1701,-75.7501,10.5,100.5,1.2,91,-2,0.4,92,-89.5,0.1,1,Low battery\n";
        let t = parse_csv(text, Path::new("airdata.csv")).unwrap();
        assert_eq!((t.packets, t.records.len(), t.skipped), (2, 2, 0));
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        let r = &t.records[0];
        assert_eq!(r.source, Some(Format::Csv));
        assert_eq!(r.t_s, None);
        assert_eq!(r.utc.unwrap().iso(), "2021-09-03T12:33:41Z");
        assert_eq!((r.lat, r.lon), (Some(36.17), Some(-75.75)));
        assert!(near(r.rel_alt_m, 3.048));
        assert!(near(r.alt_m, 30.48));
        assert_eq!(
            (r.heading_deg, r.pitch_deg, r.roll_deg),
            (Some(90.5), Some(-2.1), Some(0.5))
        );
        assert_eq!(
            (r.gimbal_yaw_deg, r.gimbal_pitch_deg, r.gimbal_roll_deg),
            (Some(91.0), Some(-90.0), Some(0.0))
        );
        assert_eq!(x(r, "time_millisecond"), 0, "elapsed time is not the clock");
        assert_eq!(x(r, "speed_mph"), 0.0);
        assert_eq!(x(r, "is_video"), 1);
        let r = &t.records[1];
        assert_eq!(r.utc.unwrap().iso(), "2021-09-03T12:33:41.100Z");
        assert_eq!(x(r, "message"), "Low battery");
    }

    #[test]
    fn semicolon_csv_with_unix_milliseconds() {
        let text = "Timestamp;Lat;Lng;Alt;Rel_Alt;Yaw;HFOV;VFOV;Battery\n\
            1630672421123;36,5;-75,5;30;10;45;70;52;99\n\
            1630672421623;36.6;-75.6;31;11;46;70;52;98\n";
        let t = parse_csv(text, Path::new("log.csv")).unwrap();
        // `36,5` is not a number in this reader (no decimal commas): the
        // first row is skipped and named.
        assert_eq!((t.packets, t.records.len(), t.skipped), (2, 1, 1));
        assert!(
            t.warnings[0].contains("line 2") && t.warnings[0].contains("'Lat'"),
            "{:?}",
            t.warnings
        );
        let r = &t.records[0];
        assert_eq!(r.utc.unwrap().iso(), "2021-09-03T12:33:41.623Z");
        assert_eq!(r.utc.unwrap().digits, 3);
        assert_eq!(
            (r.lat, r.lon, r.alt_m, r.rel_alt_m),
            (Some(36.6), Some(-75.6), Some(31.0), Some(11.0))
        );
        assert_eq!(
            (r.heading_deg, r.hfov_deg, r.vfov_deg),
            (Some(46.0), Some(70.0), Some(52.0))
        );
        assert_eq!(x(r, "battery"), 98);
    }

    #[test]
    fn unix_seconds_iso_and_bad_rows() {
        let text = "gps_time,lat,lon,altitude\n\
            1630672421,36.1,-75.1,5\n\
            1630672421.5,36.2,-75.2,6\n\
            2021-09-03T12:33:43Z,36.3,-75.3,7\n\
            ,36.4,-75.4,8\n\
            12.5,36.5,-75.5,9\n\
            2021-09-03T12:33:44Z,north,-75.6,10\n\
            2021-09-03T12:33:45Z,0,0,11\n\
            2021/09/03 12:33:46,95,-75.7,12\n";
        let t = parse_csv(text, Path::new("log.csv")).unwrap();
        assert_eq!((t.packets, t.records.len(), t.skipped), (8, 4, 4));
        assert_eq!(t.records[0].utc.unwrap().iso(), "2021-09-03T12:33:41Z");
        assert_eq!(t.records[1].utc.unwrap().iso(), "2021-09-03T12:33:41.5Z");
        assert_eq!(t.records[2].utc.unwrap().iso(), "2021-09-03T12:33:43Z");
        assert_eq!(
            (t.records[3].lat, t.records[3].lon),
            (None, None),
            "0,0 is no fix"
        );
        assert_eq!(t.records[3].alt_m, Some(11.0));
        assert!(
            t.warnings
                .iter()
                .any(|w| w.starts_with("4 row(s) skipped; the first: line 5: no time")),
            "{:?}",
            t.warnings
        );
        assert!(
            t.warnings.iter().any(|w| w.contains("no GPS fix")),
            "{:?}",
            t.warnings
        );
        assert!(parse_time("2021/09/03 12:33:46").is_some());
        assert_eq!(
            parse_time("1630672421123456").unwrap().iso(),
            "2021-09-03T12:33:41.123456Z"
        );
    }

    #[test]
    fn csv_without_time_or_rows_is_empty() {
        for text in [
            "lat,lon\n1,2\n",
            "",
            "time,lat,lon\n",
            "time,lat,lon\nsoon,1,2\n",
        ] {
            match parse_csv(text, Path::new("x.csv")) {
                Err(TelemetryError::Empty { path, .. }) => assert_eq!(path, Path::new("x.csv")),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    const GPX11: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"
     xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v2"
     xmlns:litchi="http://litchi.example/ns">
  <trk><name>Flight &amp; more</name><trkseg>
    <trkpt lat="36.17" lon="-75.75">
      <ele>23.5</ele>
      <time>2021-09-03T12:33:41.250Z</time>
      <extensions>
        <gpxtpx:TrackPointExtension><gpxtpx:course>92.5</gpxtpx:course><gpxtpx:speed>4.2</gpxtpx:speed></gpxtpx:TrackPointExtension>
        <litchi:gimbalPitch>-90</litchi:gimbalPitch>
        <litchi:height>10.5</litchi:height>
        <litchi:battery>88</litchi:battery>
      </extensions>
    </trkpt>
    <trkpt lat="36.171" lon="-75.751"><ele>24</ele><time>2021-09-03T12:33:42Z</time></trkpt>
    <trkpt lat="36.172" lon="-75.752"><ele>25</ele></trkpt>
    <trkpt lat="abc" lon="-75.752"><time>2021-09-03T12:33:44Z</time></trkpt>
  </trkseg></trk>
  <wpt lat="36.2" lon="-75.8"><time>2021-09-03T12:40:00Z</time><name>Landing &amp; stop</name></wpt>
</gpx>"#;

    #[test]
    fn gpx_1_1_with_extensions() {
        let t = parse_gpx(GPX11, Path::new("flight.gpx")).unwrap();
        assert_eq!((t.packets, t.records.len(), t.skipped), (5, 3, 2));
        let r = &t.records[0];
        assert_eq!(r.source, Some(Format::Gpx));
        assert_eq!(r.t_s, None);
        assert_eq!(
            (r.lat, r.lon, r.alt_m),
            (Some(36.17), Some(-75.75), Some(23.5))
        );
        assert_eq!(r.utc.unwrap().iso(), "2021-09-03T12:33:41.250Z");
        assert_eq!(r.heading_deg, Some(92.5));
        assert_eq!(r.gimbal_pitch_deg, Some(-90.0));
        assert_eq!(r.rel_alt_m, Some(10.5));
        assert_eq!(x(r, "speed_mps"), 4.2);
        assert_eq!(x(r, "battery"), 88);
        assert_eq!(x(r, "gpx_kind"), "trkpt");
        assert_eq!(t.records[1].alt_m, Some(24.0));
        assert_eq!(x(&t.records[2], "gpx_kind"), "wpt");
        assert_eq!(x(&t.records[2], "name"), "Landing & stop");
        assert!(
            t.warnings
                .iter()
                .any(|w| w.contains("2 point(s) skipped") && w.contains("trkpt 3: no time")),
            "{:?}",
            t.warnings
        );
    }

    #[test]
    fn gpx_1_0_course_speed_and_empty_points() {
        let text = r#"<?xml version="1.0"?>
<gpx version="1.0" xmlns="http://www.topografix.com/GPX/1/0">
 <rte><rtept lat="-33.5" lon="151.2"><ele>5</ele><time>2021-09-03T12:33:41Z</time><course>180.0</course><speed>3.5</speed><sat>9</sat></rtept></rte>
 <trk><trkseg><trkpt lat="0" lon="0"><time>2021-09-03T12:33:42Z</time></trkpt><trkpt lat="1" lon="2"/></trkseg></trk>
</gpx>"#;
        let t = parse_gpx(text, Path::new("old.gpx")).unwrap();
        assert_eq!((t.packets, t.records.len(), t.skipped), (3, 2, 1));
        let r = &t.records[0];
        assert_eq!(
            (r.lat, r.lon, r.alt_m, r.heading_deg),
            (Some(-33.5), Some(151.2), Some(5.0), Some(180.0))
        );
        assert_eq!(x(r, "speed_mps"), 3.5);
        assert_eq!(x(r, "sat"), 9);
        assert_eq!(x(r, "gpx_kind"), "rtept");
        assert_eq!((t.records[1].lat, t.records[1].lon), (None, None));
        assert!(
            t.warnings.iter().any(|w| w.contains("no GPS fix")),
            "{:?}",
            t.warnings
        );
    }

    #[test]
    fn gpx_without_points_is_empty() {
        for text in [
            "",
            "<gpx version=\"1.1\"></gpx>",
            "<html><body/></html>",
            "not xml at all <<<",
        ] {
            match parse_gpx(text, Path::new("x.gpx")) {
                Err(TelemetryError::Empty { path, .. }) => assert_eq!(path, Path::new("x.gpx")),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn files_are_read_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("log.csv");
        std::fs::write(
            &csv_path,
            "\u{feff}time,lat,lon\r\n2021-09-03T12:33:41Z,1,2\r\n",
        )
        .unwrap();
        let t = read_csv(&csv_path).unwrap();
        assert_eq!(t.records[0].lon, Some(2.0));
        let gpx_path = dir.path().join("f.gpx");
        std::fs::write(&gpx_path, GPX11).unwrap();
        assert_eq!(read_gpx(&gpx_path).unwrap().records.len(), 3);
        let err = read_csv(&dir.path().join("none.csv"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("none.csv"), "{err}");
        let err = read_gpx(&dir.path().join("none.gpx"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("none.gpx"), "{err}");
    }

    #[test]
    fn never_panics_on_truncated_or_random_input() {
        let csv = "datetime(utc);latitude;longitude;altitude(feet)\n2021-09-03 12:33:41;36.1;-75.1;10\n\"2021\";\"x\n";
        for cut in 0..csv.len() {
            let _ = parse_csv(&csv[..cut], Path::new("cut.csv"));
        }
        for cut in 0..GPX11.len() {
            let _ = parse_gpx(&GPX11[..cut], Path::new("cut.gpx"));
        }
        let mut seed: u64 = 0x5851_f42d_4c95_7f2d;
        let alphabet = b"<>/=\"' trkptlatlon0123456789.-:;,\nTZ&";
        for _ in 0..300 {
            let len = (seed % 500) as usize;
            let mut bytes = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(if seed.is_multiple_of(4) {
                    (seed >> 8) as u8
                } else {
                    alphabet[(seed >> 8) as usize % alphabet.len()]
                });
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_csv(&text, Path::new("random.csv"));
            let _ = parse_gpx(&text, Path::new("random.gpx"));
        }
    }

    mod props {
        use super::*;
        use crate::telemetry::fuzz;
        use proptest::prelude::*;

        const CSV: &str =
            "time(millisecond),datetime(utc),latitude,longitude,height_above_takeoff(feet),\
            altitude_above_seaLevel(feet),speed(mph),compass_heading(degrees),pitch(degrees)\n\
            0,2021-09-03 12:33:41,36.17,-75.75,10,100,0.0,90.5,-2.1\n\
            100,2021-09-03 12:33:41.100,36.1701,-75.7501,10.5,100.5,1.2,91,-2\n";

        /// Headers and cells of flight logs, and odd numbers.
        const CSV_PIECES: &[&str] = &[
            ",",
            ";",
            "\t",
            "\n",
            "\"",
            "datetime(utc)",
            "latitude",
            "longitude",
            "lat",
            "lon",
            "altitude(feet)",
            "altitude(m)",
            "height_above_takeoff(feet)",
            "time(millisecond)",
            "compass_heading(degrees)",
            "gimbal_pitch(degrees)",
            "2021-09-03 12:33:41",
            "2021-09-03T12:33:41.5Z",
            "1630672421",
            "36.17",
            "-75.75",
            "91",
            "-90",
        ];

        fn finite(t: &Telemetry) -> Result<(), TestCaseError> {
            for r in &t.records {
                prop_assert_eq!(fuzz::non_finite(r), None, "{:?}", r);
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn csv_like_text_parses_to_finite_records(text in fuzz::text_of(CSV_PIECES)) {
                if let Ok(t) = parse_csv(&text, Path::new("fuzz.csv")) {
                    finite(&t)?;
                }
            }

            #[test]
            fn damaged_csv_logs_never_panic(text in fuzz::mutated_text(CSV)) {
                if let Ok(t) = parse_csv(&text, Path::new("damaged.csv")) {
                    finite(&t)?;
                }
            }

            #[test]
            fn damaged_gpx_tracks_never_panic(text in fuzz::mutated_text(GPX11)) {
                if let Ok(t) = parse_gpx(&text, Path::new("damaged.gpx")) {
                    finite(&t)?;
                }
            }

            #[test]
            fn any_cell_is_a_time_or_not(cell in fuzz::text_of(&[
                "2021", "-", ":", "09", "03", " ", "T", "12", "33", "41", ".", "5", "Z", "/", "1630672421",
                "1630672421000", "e", "PM", "AM",
            ])) {
                if let Some(t) = parse_time(&cell) {
                    let _ = t.iso();
                }
            }
        }
    }
}
