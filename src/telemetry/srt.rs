//! DJI `.SRT` subtitle sidecars.
//!
//! DJI aircraft write one subtitle cue per video frame (or per second on
//! older models) whose text is the aircraft's telemetry. The text layout has
//! changed many times between models and firmware; this reader does not
//! match whole layouts but reads the pieces they are built from, so a new
//! mixture of known pieces still reads:
//!
//! - the cue frame: an index line, a timing line
//!   `hh:mm:ss,mmm --> hh:mm:ss,mmm`, then text lines (which may contain
//!   blank lines, as the Matrice 300 H20T/H20N writes);
//! - HTML-like tags (`<font size="28">`, `< /font >`), ignored;
//! - a date-time anywhere in the text: `2021-09-03 12:33:41,123,456`
//!   (milliseconds, microseconds), `2021-09-03 12:33:41.123`,
//!   `2017.08.05 14:11:51`;
//! - bracketed pairs, one or several per bracket, spacing free:
//!   `[iso : 100]`, `[rel_alt: 5.300 abs_alt: 23.000]`,
//!   `[dzoom_ratio: 10000, delta:0]`, and grouped pairs
//!   `[Drone: Yaw:-62.1, Pitch: 2.7, Roll: 1.6]` (read as `drone_yaw`…);
//! - call-style groups `GPS(lon,lat,sats)`, `GPS (lon, lat, sats)`,
//!   `GPS(lat,lon,altM)`, `HOME(lon,lat)`;
//! - loose pairs `BAROMETER:1.9`, `FrameCnt : 1, DiffTime : 33ms`,
//!   `ISO:100 Shutter:60 EV: Fnum:2.2`, and the Phantom 4 / Mavic Pro
//!   comma list `F/3.5, SS 1000, ISO 100, EV 0, D 24.56m, H 10.20m,
//!   HS 0.00m/s, VS 0.00m/s`.
//!
//! Every value the reader does not map onto a [`Record`] field goes to
//! `extra` under its snake_case name (`iso`, `shutter`, `color_md`,
//! `drone_speedx`…), as a number when it is one.
//!
//! Conventions decided here, each with its reason beside the code:
//! [`normalise_fnum`], [`normalise_focal_len`], [`normalise_dzoom`],
//! [`gps_group`] (which order a `GPS(…)` triple is in), the 0,0 "no fix"
//! rule, and [`cut_last_cue`] (what is kept of a file cut short).

use std::path::Path;

use serde_json::{Map, Value};

use super::{Format, Record, Telemetry, TelemetryError, Utc};

/// Reads a DJI `.SRT` file: one [`Record`] per cue.
///
/// Bytes that are not UTF-8 are replaced (with a warning) rather than
/// refused: DJI writes ASCII, and a damaged byte should not cost the file.
pub fn read(path: &Path) -> Result<Telemetry, TelemetryError> {
    let bytes = std::fs::read(path).map_err(|e| TelemetryError::io(path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut telemetry = parse(&text, path)?;
    if matches!(text, std::borrow::Cow::Owned(_)) {
        telemetry.warnings.insert(
            0,
            "the file is not valid UTF-8; bad bytes were replaced".into(),
        );
    }
    Ok(telemetry)
}

/// Parses SRT text; `path` only names the file in errors.
///
/// Returns [`TelemetryError::Empty`] when the text has no cue, or has cues
/// but none of them carries telemetry (an ordinary film subtitle).
pub fn parse(text: &str, path: &Path) -> Result<Telemetry, TelemetryError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let ends_cleanly = text.is_empty() || text.ends_with('\n') || text.ends_with('\r');
    let cues = split_cues(&lines);
    if cues.is_empty() {
        return Err(TelemetryError::Empty {
            path: path.to_owned(),
            reason: "no SRT cue (no 'hh:mm:ss,mmm --> hh:mm:ss,mmm' timing line)".into(),
        });
    }
    let mut out = Telemetry::default();
    let mut issues = Issues::default();
    let last = cues.len() - 1;
    for (i, cue) in cues.iter().enumerate() {
        out.packets += 1;
        let cut = i == last && cut_last_cue(cue, ends_cleanly);
        let kept = match read_cue(cue, cut, &mut issues) {
            Some(record) => {
                out.records.push(record);
                true
            }
            None => {
                out.skipped += 1;
                false
            }
        };
        if cut {
            issues.cut = Some((cue.number, kept));
        }
    }
    if !out.records.iter().any(carries_telemetry) {
        return Err(TelemetryError::Empty {
            path: path.to_owned(),
            reason: format!(
                "{} SRT cue(s) but none carries DJI telemetry (no position, time or camera field)",
                cues.len()
            ),
        });
    }
    issues.warn_radians(&out.records);
    out.warnings.extend(issues.into_warnings());
    Ok(out)
}

/// One cue as cut from the file: its number (the index line, or its
/// position in the file when the index line is missing), its timing line
/// and its text lines.
#[derive(Debug)]
struct Cue<'a> {
    number: u64,
    timing: Option<&'a str>,
    body: Vec<&'a str>,
}

/// Whether a line is an SRT timing line.
fn is_timing_line(line: &str) -> bool {
    line.contains("-->")
}

/// Whether a line is only digits (an SRT index line, or DJI's stray `0`).
fn is_digits(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

/// Splits lines into cues, anchored on timing lines rather than blank
/// lines: the Matrice 300 writes blank lines inside a cue, and a stray
/// digits-only line inside it, so a digits-only line counts as an index
/// only when the next non-blank line is a timing line (or it is the last
/// line of the file: a file cut just after an index line).
fn split_cues<'a>(lines: &[&'a str]) -> Vec<Cue<'a>> {
    let next_nonblank = |from: usize| lines[from..].iter().find(|l| !l.trim().is_empty());
    let mut cues: Vec<Cue<'a>> = Vec::new();
    let mut pending_index: Option<u64> = None;
    for (i, line) in lines.iter().enumerate() {
        let starts_cue = is_digits(line)
            && match next_nonblank(i + 1) {
                Some(next) => is_timing_line(next),
                None => !cues.is_empty() || i == 0,
            };
        if starts_cue {
            pending_index = line.trim().parse().ok().or(Some(cues.len() as u64 + 1));
            if next_nonblank(i + 1).is_none() {
                cues.push(Cue {
                    number: pending_index.unwrap_or(0),
                    timing: None,
                    body: vec![],
                });
            }
        } else if is_timing_line(line) {
            let number = pending_index.take().unwrap_or(cues.len() as u64 + 1);
            cues.push(Cue {
                number,
                timing: Some(line),
                body: Vec::new(),
            });
        } else if let Some(cue) = cues.last_mut() {
            if !line.trim().is_empty() {
                cue.body.push(line);
            }
        }
    }
    cues
}

/// Whether the last cue of the file was cut short: it has no timing line,
/// its `<font>` tag is never closed, a bracket or parenthesis is left
/// open, or the file ends in the middle of a line that does not end in a
/// closing character.
fn cut_last_cue(cue: &Cue, ends_cleanly: bool) -> bool {
    let Some(timing) = cue.timing else {
        return true;
    };
    let body = cue.body.join("\n");
    let lower = body.to_ascii_lowercase();
    let opens = lower.matches("<font").count() + lower.matches("< font").count();
    let closes = lower.matches("/font").count();
    let unbalanced = |open: char, close: char| {
        body.chars().filter(|c| *c == open).count() > body.chars().filter(|c| *c == close).count()
    };
    let last_line = cue.body.last().copied().unwrap_or(timing).trim_end();
    let line_closed = last_line.ends_with([']', ')', '>']);
    opens > closes
        || unbalanced('[', ']')
        || unbalanced('(', ')')
        || parse_timing(timing).is_none()
        || (!ends_cleanly && !line_closed)
}

/// Turns one cue into a record; `None` when it cannot be read (no timing,
/// or, for a cut cue, no complete position).
///
/// A cut cue is kept only when its timing line and both coordinates are
/// complete: a cut line may end inside a number (`-75.7` of `-75.7512`),
/// so the cut cue's last line is dropped when the file ends inside it,
/// and only closed brackets and parentheses are read.
fn read_cue(cue: &Cue, cut: bool, issues: &mut Issues) -> Option<Record> {
    let Some((start, end)) = cue.timing.and_then(parse_timing) else {
        if !cut {
            issues.note_bad_cue(
                cue.number,
                "timing line is not 'hh:mm:ss,mmm --> hh:mm:ss,mmm'",
            );
        }
        return None;
    };
    let mut body: Vec<&str> = cue.body.clone();
    if cut
        && body
            .last()
            .is_some_and(|l| !l.trim_end().ends_with([']', ')', '>']))
    {
        body.pop();
    }
    let mut record = Record::new(Format::Srt);
    record.t_s = Some(start);
    record.extra.insert("cue".into(), Value::from(cue.number));
    insert_number(&mut record.extra, "cue_end_s", end);
    let text = strip_tags(&body.join("\n"));
    read_text(&text, &mut record, cue.number, issues);
    if record.lat == Some(0.0) && record.lon == Some(0.0) {
        record.lat = None;
        record.lon = None;
        issues.no_fix += 1;
    }
    if cut && (record.lat.is_none() || record.lon.is_none()) {
        return None;
    }
    Some(record)
}

/// Whether a record has anything beyond its cue's own timing and number.
fn carries_telemetry(r: &Record) -> bool {
    let mut bare = r.clone();
    bare.t_s = None;
    bare.extra
        .retain(|k, _| !matches!(k.as_str(), "cue" | "cue_end_s"));
    bare != Record::new(Format::Srt)
}

/// Parses `hh:mm:ss,mmm --> hh:mm:ss,mmm` (`.` accepted for `,`) into
/// start and end seconds.
fn parse_timing(line: &str) -> Option<(f64, f64)> {
    let (a, b) = line.split_once("-->")?;
    Some((parse_clock(a)?, parse_clock(b)?))
}

/// Parses `hh:mm:ss,mmm` into seconds.
fn parse_clock(s: &str) -> Option<f64> {
    let s = s.trim();
    let (hms, frac) = match s.find([',', '.']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let mut parts = hms.split(':');
    let h: u32 = parts.next()?.trim().parse().ok()?;
    let m: u32 = parts.next()?.trim().parse().ok()?;
    let sec: u32 = parts.next()?.trim().parse().ok()?;
    if parts.next().is_some() || m > 59 || sec > 60 {
        return None;
    }
    let frac = frac.trim();
    let frac_s = if frac.is_empty() {
        0.0
    } else if frac.len() <= 9 && frac.bytes().all(|b| b.is_ascii_digit()) {
        frac.parse::<f64>().ok()? / 10f64.powi(frac.len() as i32)
    } else {
        return None;
    };
    Some(f64::from(h) * 3600.0 + f64::from(m) * 60.0 + f64::from(sec) + frac_s)
}

/// Removes `<…>` tags (DJI's `<font size="28">`, `< /font >`).
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Reads all the pieces of one cue's text into `record`.
fn read_text(text: &str, record: &mut Record, cue: u64, issues: &mut Issues) {
    let (text, utc) = take_datetime(text);
    // DJI writes the aircraft's local time, not UTC, on some models (the
    // clock is set from the phone or controller). It is taken as UTC here
    // because the file does not say which; alignment against UTC logs must
    // allow for a whole-hour offset.
    record.utc = utc;
    let (rest, brackets) = take_groups(&text, '[', ']');
    for inner in brackets {
        for (key, value) in bracket_pairs(&inner) {
            apply(record, &key, &value, cue, issues);
        }
    }
    let (rest, calls) = take_calls(&rest);
    for (name, values) in calls {
        apply_call(record, &name, &values);
    }
    for (key, value) in loose_pairs(&rest) {
        apply(record, &key, &value, cue, issues);
    }
}

/// Finds the first DJI date-time in `text`; returns the text with it
/// blanked out, and the instant.
///
/// Accepted: `YYYY-MM-DD hh:mm:ss`, with `-`, `.` or `/` between the date
/// parts, followed by `.fff`, `,fff` or DJI's `,mmm,uuu` (milliseconds
/// then microseconds).
fn take_datetime(text: &str) -> (String, Option<Utc>) {
    let b = text.as_bytes();
    for start in 0..b.len() {
        if start > 0 && b[start - 1].is_ascii_digit() {
            continue;
        }
        if let Some((end, utc)) = datetime_at(b, start) {
            let mut out = String::with_capacity(text.len());
            out.push_str(&text[..start]);
            out.push(' ');
            out.push_str(&text[end..]);
            return (out, Some(utc));
        }
    }
    (text.to_owned(), None)
}

/// Reads a run of ASCII digits at `*i`, at most `max` long; advances `*i`.
fn digits(b: &[u8], i: &mut usize, max: usize) -> Option<(u32, usize)> {
    let start = *i;
    while *i < b.len() && *i - start < max && b[*i].is_ascii_digit() {
        *i += 1;
    }
    if *i == start {
        return None;
    }
    let s = std::str::from_utf8(&b[start..*i]).ok()?;
    Some((s.parse().ok()?, *i - start))
}

/// A date-time starting exactly at `start`: its end and value.
fn datetime_at(b: &[u8], start: usize) -> Option<(usize, Utc)> {
    let mut i = start;
    let (year, n) = digits(b, &mut i, 4)?;
    if n != 4 {
        return None;
    }
    let sep = *b.get(i)?;
    if !matches!(sep, b'-' | b'.' | b'/') {
        return None;
    }
    i += 1;
    let (month, _) = digits(b, &mut i, 2)?;
    (b.get(i) == Some(&sep)).then_some(())?;
    i += 1;
    let (day, _) = digits(b, &mut i, 2)?;
    let spaces = b[i..]
        .iter()
        .take_while(|c| **c == b' ' || **c == b'T')
        .count();
    if spaces == 0 {
        return None;
    }
    i += spaces;
    let (hour, _) = digits(b, &mut i, 2)?;
    (b.get(i) == Some(&b':')).then_some(())?;
    i += 1;
    let (minute, _) = digits(b, &mut i, 2)?;
    (b.get(i) == Some(&b':')).then_some(())?;
    i += 1;
    let (second, _) = digits(b, &mut i, 2)?;
    let (micros, places, end) = fraction(b, i);
    let utc = Utc::from_fields(
        (year as i32, month as u8, day as u8),
        (hour as u8, minute as u8, second as u8),
        micros,
        places,
    )?;
    Some((end, utc))
}

/// The fraction after the seconds: `.fff…`, `,fff…`, or DJI's `,mmm,uuu`.
/// Returns microseconds, the number of digits given (at most 6) and where
/// the fraction ends.
fn fraction(b: &[u8], mut i: usize) -> (u32, u8, usize) {
    let mut frac = String::new();
    if matches!(b.get(i), Some(b'.' | b',')) && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        let mut j = i + 1;
        let Some((_, n)) = digits(b, &mut j, 9) else {
            return (0, 0, i);
        };
        frac.push_str(std::str::from_utf8(&b[i + 1..i + 1 + n]).unwrap_or(""));
        i = j;
        // `,123,456`: milliseconds then microseconds, exactly three each.
        if n == 3 && b.get(i) == Some(&b',') {
            let mut k = i + 1;
            if let Some((_, 3)) = digits(b, &mut k, 3) {
                frac.push_str(std::str::from_utf8(&b[i + 1..k]).unwrap_or(""));
                i = k;
            }
        }
    }
    let places = frac.len().min(6);
    let mut padded: String = frac.chars().take(6).collect();
    while padded.len() < 6 {
        padded.push('0');
    }
    (padded.parse().unwrap_or(0), places as u8, i)
}

/// Cuts every complete `open…close` group out of `text`; returns the rest
/// (each group replaced by a space) and the groups' insides. An open
/// without a close is dropped with everything after it: it can only be
/// the cut end of a file.
fn take_groups(text: &str, open: char, close: char) -> (String, Vec<String>) {
    let mut rest = String::with_capacity(text.len());
    let mut groups = Vec::new();
    let mut s = text;
    while let Some(i) = s.find(open) {
        rest.push_str(&s[..i]);
        rest.push(' ');
        match s[i + 1..].find(close) {
            Some(j) => {
                groups.push(s[i + 1..i + 1 + j].to_owned());
                s = &s[i + 1 + j + 1..];
            }
            None => return (rest, groups),
        }
    }
    rest.push_str(s);
    (rest, groups)
}

/// Cuts call-style groups `NAME(a,b,c)` / `NAME (a, b, c)` out of `text`.
fn take_calls(text: &str) -> (String, Vec<(String, Vec<String>)>) {
    let (mut rest, mut calls) = (String::new(), Vec::new());
    let mut s = text;
    while let Some(i) = s.find('(') {
        let before = &s[..i];
        let name_end = before.trim_end().len();
        // After the last character that cannot be part of a name, which
        // may be more than one byte long (`°(`, `…(`).
        let name_start = before[..name_end]
            .char_indices()
            .rfind(|(_, c)| !c.is_ascii_alphanumeric() && *c != '_')
            .map_or(0, |(p, c)| p + c.len_utf8());
        let name = &before[name_start..name_end];
        let Some(j) = s[i + 1..].find(')') else {
            rest.push_str(before);
            return (rest, calls);
        };
        rest.push_str(&before[..name_start]);
        rest.push(' ');
        if !name.is_empty() {
            let values = s[i + 1..i + 1 + j]
                .split(',')
                .map(|v| v.trim().to_owned())
                .collect();
            calls.push((name.to_owned(), values));
        }
        s = &s[i + 1 + j + 1..];
    }
    rest.push_str(s);
    (rest, calls)
}

/// Positions of every `ident\s*:` in `s`: (ident start, ident end, colon
/// end). An identifier starts with a letter and holds letters, digits and
/// `_`; it must not follow another identifier character.
fn key_positions(s: &str) -> Vec<(usize, usize, usize)> {
    let b = s.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic() && (i == 0 || !is_ident(b[i - 1])) {
            let start = i;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            let end = i;
            let mut j = i;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            if b.get(j) == Some(&b':') {
                out.push((start, end, j + 1));
                i = j + 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// `key: value` pairs in `s`, each value running to the next key. Values
/// are trimmed of spaces and commas; empty values are kept (as `""`).
fn colon_pairs(s: &str) -> Vec<(String, String)> {
    let keys = key_positions(s);
    let mut out = Vec::new();
    for (n, &(start, end, colon)) in keys.iter().enumerate() {
        let value_end = keys.get(n + 1).map_or(s.len(), |k| k.0);
        let value = s[colon..value_end].trim().trim_matches(',').trim();
        out.push((s[start..end].to_owned(), value.to_owned()));
    }
    out
}

/// The pairs of one bracket. A key with no value followed by more pairs
/// names a group (`[Drone: Yaw:-62.1, Pitch: 2.7]` → `drone_yaw`,
/// `drone_pitch`).
fn bracket_pairs(inner: &str) -> Vec<(String, String)> {
    let pairs = colon_pairs(inner);
    let mut out = Vec::new();
    let mut group: Option<String> = None;
    for (n, (key, value)) in pairs.iter().enumerate() {
        if value.is_empty() && n + 1 < pairs.len() {
            group = Some(snake_case(key));
            continue;
        }
        let key = match &group {
            Some(g) => format!("{g}_{}", snake_case(key)),
            None => key.clone(),
        };
        out.push((key, value.clone()));
    }
    out
}

/// Pairs outside brackets and calls: colon pairs (`BAROMETER:1.9`,
/// `FrameCnt : 1`, `ISO:100 Shutter:60`) and the comma list of the
/// Phantom 4 / Mavic Pro (`F/3.5, SS 1000, D 24.56m`).
fn loose_pairs(rest: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for segment in rest.split([',', '\n']) {
        let segment = segment.trim();
        if segment.is_empty() {
            continue;
        }
        if !key_positions(segment).is_empty() {
            out.extend(
                colon_pairs(segment)
                    .into_iter()
                    .filter(|(_, v)| !v.is_empty()),
            );
        } else if let Some(f) = segment
            .strip_prefix("F/")
            .or_else(|| segment.strip_prefix("f/"))
        {
            out.push(("fnum".into(), f.trim().to_owned()));
        } else if let Some((key, value)) = segment.split_once(char::is_whitespace) {
            // Only `KEY number[unit]` (`SS 1000`, `D 24.56m`): a looser rule
            // would read ordinary subtitle text as fields.
            let key_ok = key.bytes().all(|c| c.is_ascii_alphabetic() || c == b'_');
            if key_ok && number_unit(value).is_some() {
                out.push((key.to_owned(), value.trim().to_owned()));
            }
        }
    }
    out
}

/// `FrameCnt` → `frame_cnt`, `BAROMETER` → `barometer`, `color_md`
/// unchanged; spaces and `-` become `_`.
pub(crate) fn snake_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let chars: Vec<char> = key.trim().chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' || c == '-' || c == '_' {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary =
                prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower);
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// A number with an optional unit suffix: `10.20m`, `0.00m/s`, `33ms`,
/// `310.5M`, `-90.0`. Returns the number and the unit (possibly empty);
/// `None` when the text is not a number (`1/1000.0`, `default`).
pub(crate) fn number_unit(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut has_digits = i > int_start;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        has_digits |= i > f;
    }
    if !has_digits {
        return None;
    }
    // A unit is short and one word (`m`, `m/s`, `km/h`, `ms`): `5 friends`
    // is text, not a number.
    let unit = s[i..].trim();
    if unit.chars().count() > 4
        || !unit
            .chars()
            .all(|c| c.is_alphabetic() || c == '/' || c == '°' || c == '%')
    {
        return None;
    }
    let v: f64 = s[..i].parse().ok()?;
    v.is_finite().then_some((v, unit))
}

/// Inserts a finite number into `extra`.
pub(crate) fn insert_number(extra: &mut Map<String, Value>, key: &str, v: f64) {
    if let Some(n) = serde_json::Number::from_f64(v) {
        extra.insert(key.to_owned(), Value::Number(n));
    }
}

/// A value for `extra`: an integer or a number when the text is one
/// (units dropped: the key names them), else the text.
pub(crate) fn extra_value(text: &str) -> Value {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Value::from(i);
    }
    match number_unit(t) {
        Some((v, _)) => serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        None => Value::String(t.to_owned()),
    }
}

/// F-number. DJI writes hundredths as a bare integer on the Mavic 2, Air 2
/// and Mini (`[fnum : 280]` = f/2.8) and plain f-numbers elsewhere
/// (`[fnum: 2.8]`, `F/3.5`, `Fnum:2.2`). Rule: an integer above 32 is
/// hundredths. No DJI lens stops down past f/22, and hundredths of 32 or
/// less would be an aperture wider than f/0.33, which no lens has.
pub fn normalise_fnum(text: &str, v: f64) -> f64 {
    if !text.contains('.') && v > 32.0 {
        v / 100.0
    } else {
        v
    }
}

/// 35mm-equivalent focal length in mm. The Mavic 2, Air 2(S) and Mini
/// write tenths as a bare integer (`[focal_len : 240]` = 24.0 mm); the
/// Mavic 3 and enterprise cameras write millimetres with a decimal point
/// (`[focal_len: 24.00]`). Rule: an integer of 100 or more is tenths (no
/// DJI camera is wider than a 10 mm equivalent, so tenths never read as
/// a plausible millimetre value below that); anything with a decimal
/// point, or a smaller integer, is millimetres.
pub fn normalise_focal_len(text: &str, v: f64) -> f64 {
    if !text.contains('.') && v >= 100.0 {
        v / 10.0
    } else {
        v
    }
}

/// Digital zoom factor. `[dzoom_ratio: 10000, delta:0]` is ten-thousandths
/// (10000 = 1.0×, 17871 = 1.79×, matching the same cue's `[dzoom: 1.79]`
/// on the H20N); `[dzoom_ratio: 1.00]` and `DZOOM 1.000` are the factor.
/// Rule: an integer of 100 or more is ten-thousandths.
pub fn normalise_dzoom(text: &str, v: f64) -> f64 {
    if !text.contains('.') && v >= 100.0 {
        v / 10000.0
    } else {
        v
    }
}

/// Puts one `key: value` pair where it belongs.
fn apply(record: &mut Record, key: &str, value: &str, cue: u64, issues: &mut Issues) {
    let name = snake_case(key);
    if value.is_empty() {
        return;
    }
    let number = number_unit(value);
    let mut set = |field: &mut Option<f64>| match number {
        Some((v, _)) => *field = Some(v),
        None => issues.note_bad_value(cue, &name, value),
    };
    match name.as_str() {
        "latitude" | "lat" => set(&mut record.lat),
        "longitude" | "longtitude" | "lon" | "lng" => set(&mut record.lon),
        "rel_alt" | "barometer" | "h" => set(&mut record.rel_alt_m),
        "abs_alt" | "altitude" => set(&mut record.alt_m),
        "gb_yaw" | "gimbal_yaw" => set(&mut record.gimbal_yaw_deg),
        "gb_pitch" | "gimbal_pitch" => set(&mut record.gimbal_pitch_deg),
        "gb_roll" | "gimbal_roll" => set(&mut record.gimbal_roll_deg),
        "drone_yaw" => set(&mut record.heading_deg),
        "drone_pitch" => set(&mut record.pitch_deg),
        "drone_roll" => set(&mut record.roll_deg),
        "focal_len" => {
            let mut f = None;
            set(&mut f);
            if let Some(f) = f {
                record.camera.focal_length_35mm = Some(normalise_focal_len(value, f));
            }
        }
        "dzoom_ratio" | "dzoom" => {
            let mut z = None;
            set(&mut z);
            if let Some(z) = z {
                record.camera.digital_zoom = Some(normalise_dzoom(value, z));
            }
        }
        "fnum" | "f" => match number {
            Some((v, _)) => insert_number(&mut record.extra, "fnum", normalise_fnum(value, v)),
            None => issues.note_bad_value(cue, &name, value),
        },
        "frame_cnt" | "srt_cnt" => {
            record.extra.insert("frame_cnt".into(), extra_value(value));
        }
        "diff_time" => match number {
            Some((v, "s")) => insert_number(&mut record.extra, "diff_time_ms", v * 1000.0),
            Some((v, _)) => insert_number(&mut record.extra, "diff_time_ms", v),
            None => issues.note_bad_value(cue, &name, value),
        },
        "d" => store_number(
            record,
            "distance_from_home_m",
            number,
            cue,
            &name,
            value,
            issues,
        ),
        "hs" => store_number(
            record,
            "horizontal_speed_mps",
            number,
            cue,
            &name,
            value,
            issues,
        ),
        "vs" => store_number(
            record,
            "vertical_speed_mps",
            number,
            cue,
            &name,
            value,
            issues,
        ),
        _ => {
            record.extra.insert(name.clone(), extra_value(value));
        }
    }
}

/// Stores a number under a renamed `extra` key, noting a bad value.
fn store_number(
    record: &mut Record,
    key: &str,
    number: Option<(f64, &str)>,
    cue: u64,
    name: &str,
    value: &str,
    issues: &mut Issues,
) {
    match number {
        Some((v, _)) => insert_number(&mut record.extra, key, v),
        None => issues.note_bad_value(cue, name, value),
    }
}

/// Applies a call-style group: `GPS(…)` or `HOME(…)`; other names go to
/// `extra` as arrays.
fn apply_call(record: &mut Record, name: &str, values: &[String]) {
    match snake_case(name).as_str() {
        "gps" => gps_group(record, values),
        "home" => {
            let nums: Vec<f64> = values
                .iter()
                .filter_map(|v| number_unit(v).map(|n| n.0))
                .collect();
            if let [a, b, ..] = nums[..] {
                let (lat, lon) = if a.abs() > 90.0 || b.abs() <= 90.0 && a.abs() <= 90.0 {
                    (b, a)
                } else {
                    (a, b)
                };
                if !(lat == 0.0 && lon == 0.0) {
                    insert_number(&mut record.extra, "home_lat", lat);
                    insert_number(&mut record.extra, "home_lon", lon);
                }
            }
        }
        other => {
            let arr = values.iter().map(|v| extra_value(v)).collect();
            record.extra.insert(other.to_owned(), Value::Array(arr));
        }
    }
}

/// Reads a `GPS(…)` triple, whose order differs by model:
///
/// - Phantom 3/4, Inspire 1, Mavic Pro: `GPS(lon, lat, n)`, the third
///   value a small integer (the satellite count, going 14 → 16 at one
///   spot in real files while BAROMETER reads 0.0), stored as
///   `extra.gps_satellites` (as `extra.gps_third` when not an integer);
/// - Matrice 300 / M30 / Mavic 3 Enterprise: `GPS(lat, lon, altM)`, the
///   altitude suffixed `M`; it goes to `alt_m` unless it is exactly 0.0,
///   which the M300 writes throughout a flight that climbs to 80 m
///   (kept as `extra.gps_alt_m`).
///
/// Rule: a coordinate beyond ±90 can only be the longitude and decides;
/// otherwise an `M` on the third value means (lat, lon, alt), and no `M`
/// means (lon, lat, n).
fn gps_group(record: &mut Record, values: &[String]) {
    let parsed: Vec<Option<(f64, &str)>> = values.iter().map(|v| number_unit(v)).collect();
    let (Some(Some((a, _))), Some(Some((b, _)))) = (parsed.first(), parsed.get(1)) else {
        return;
    };
    let (a, b) = (*a, *b);
    let third = parsed.get(2).copied().flatten();
    let metres = third.is_some_and(|(_, u)| u.eq_ignore_ascii_case("m"));
    let lat_first = if a.abs() > 90.0 && b.abs() <= 90.0 {
        false
    } else if b.abs() > 90.0 && a.abs() <= 90.0 {
        true
    } else {
        metres
    };
    let (lat, lon) = if lat_first { (a, b) } else { (b, a) };
    record.lat = Some(lat);
    record.lon = Some(lon);
    match third {
        Some((alt, _)) if metres && alt != 0.0 => record.alt_m = Some(alt),
        Some((alt, _)) if metres => insert_number(&mut record.extra, "gps_alt_m", alt),
        Some(_) => {
            let raw = values.get(2).map_or("", |s| s.as_str());
            let key = if raw.parse::<u32>().is_ok() {
                "gps_satellites"
            } else {
                "gps_third"
            };
            record.extra.insert(key.into(), extra_value(raw));
        }
        None => {}
    }
}

/// What went wrong across a file, reported once each.
#[derive(Debug, Default)]
struct Issues {
    /// Cues whose position was 0,0.
    no_fix: u64,
    /// Cues that could not be read: count, and the first one's number and
    /// reason.
    bad_cues: u64,
    first_bad_cue: Option<(u64, String)>,
    /// Values that were not numbers where a number was needed.
    bad_values: u64,
    first_bad_value: Option<(u64, String, String)>,
    /// The file was cut in the middle of this cue; whether it was kept.
    cut: Option<(u64, bool)>,
    radians: bool,
}

impl Issues {
    fn note_bad_cue(&mut self, cue: u64, reason: &str) {
        self.bad_cues += 1;
        self.first_bad_cue.get_or_insert((cue, reason.to_owned()));
    }

    fn note_bad_value(&mut self, cue: u64, key: &str, value: &str) {
        self.bad_values += 1;
        self.first_bad_value
            .get_or_insert((cue, key.to_owned(), value.to_owned()));
    }

    /// Some Mavic 2 Enterprise firmware has been reported to write
    /// positions in radians (`[latitude: 0.608553] [longtitude:
    /// -1.963763]`). That cannot be told from a real place near 0°N 0°E,
    /// so it is only a warning: when every position in the file lies
    /// within ±π/2, ±π of 0,0.
    fn warn_radians(&mut self, records: &[Record]) {
        let mut positions = records
            .iter()
            .filter_map(|r| Some((r.lat?, r.lon?)))
            .peekable();
        if positions.peek().is_none() {
            return;
        }
        self.radians = positions.all(|(lat, lon)| {
            lat.abs() <= std::f64::consts::FRAC_PI_2 && lon.abs() <= std::f64::consts::PI
        });
    }

    fn into_warnings(self) -> Vec<String> {
        let mut w = Vec::new();
        if let Some((cue, kept)) = self.cut {
            let what = if kept {
                "its complete fields were kept"
            } else {
                "it was dropped (timing or position incomplete)"
            };
            w.push(format!(
                "the file is cut in the middle of cue {cue}; {what}"
            ));
        }
        if let Some((cue, reason)) = self.first_bad_cue {
            w.push(format!(
                "{} cue(s) could not be read; the first is cue {cue}: {reason}",
                self.bad_cues
            ));
        }
        if let Some((cue, key, value)) = self.first_bad_value {
            w.push(format!(
                "{} value(s) are not numbers; the first is {key} '{value}' in cue {cue}",
                self.bad_values
            ));
        }
        if self.no_fix > 0 {
            w.push(format!(
                "{} cue(s) give the position 0,0, read as no GPS fix (position left empty)",
                self.no_fix
            ));
        }
        if self.radians {
            w.push(
                "every position lies within 1.571 / 3.142 degrees of 0,0: some DJI firmware \
                 writes radians; check before use"
                    .into(),
            );
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Telemetry {
        parse(text, Path::new("test.SRT")).expect("parses")
    }

    fn x<'a>(r: &'a Record, key: &str) -> &'a Value {
        r.extra.get(key).unwrap_or(&Value::Null)
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    const OLD: &str = "1\n00:00:01,000 --> 00:00:02,000\n\
        HOME(149.0251,-20.2532) 2017.08.05 14:11:51\n\
        GPS(149.0251,-20.2533,16) BAROMETER:1.9\n\
        ISO:100 Shutter:60 EV: Fnum:2.2 \n\n";

    #[test]
    fn old_phantom_home_gps_barometer() {
        let t = parse_ok(OLD);
        assert_eq!((t.packets, t.skipped, t.records.len()), (1, 0, 1));
        let r = &t.records[0];
        assert_eq!(r.source, Some(Format::Srt));
        assert_eq!(r.t_s, Some(1.0));
        assert_eq!(x(r, "cue_end_s"), 2.0);
        assert_eq!(x(r, "cue"), 1);
        assert_eq!(r.utc.unwrap().iso(), "2017-08-05T14:11:51Z");
        assert_eq!((r.lat, r.lon), (Some(-20.2533), Some(149.0251)));
        assert_eq!(r.rel_alt_m, Some(1.9));
        assert_eq!(r.alt_m, None);
        assert_eq!(x(r, "home_lat"), -20.2532);
        assert_eq!(x(r, "home_lon"), 149.0251);
        assert_eq!(x(r, "gps_satellites"), 16);
        assert_eq!(x(r, "iso"), 100);
        assert_eq!(x(r, "shutter"), 60);
        assert_eq!(x(r, "fnum"), 2.2);
        assert!(r.extra.get("ev").is_none(), "an empty EV is absent");
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    }

    #[test]
    fn phantom4_comma_list() {
        let text = "1\n00:00:00,000 --> 00:00:01,000\n\
            F/3.5, SS 1000, ISO 100, EV 0, GPS (-71.1345, 42.3615, 19), D 24.56m, H 10.20m, HS 0.00m/s, VS -1.50m/s\n\n\
            2\n00:00:01,000 --> 00:00:02,000\n\
            F/5.6, SS 1000.0, ISO 200, EV -0.7, DZOOM 2.000, GPS (-71.1346, 42.3616, 18), D 25.00m, H 11.00m, HS 3.20m/s, VS 0.00m/s\n";
        let t = parse_ok(text);
        assert_eq!(t.records.len(), 2);
        let r = &t.records[0];
        assert_eq!((r.lat, r.lon), (Some(42.3615), Some(-71.1345)));
        assert_eq!(r.rel_alt_m, Some(10.2));
        assert_eq!(x(r, "distance_from_home_m"), 24.56);
        assert_eq!(x(r, "horizontal_speed_mps"), 0.0);
        assert_eq!(x(r, "vertical_speed_mps"), -1.5);
        assert_eq!(x(r, "fnum"), 3.5);
        assert_eq!(x(r, "ss"), 1000);
        assert_eq!(x(r, "iso"), 100);
        assert_eq!(x(r, "ev"), 0);
        assert_eq!(x(r, "gps_satellites"), 19);
        assert_eq!(r.utc, None);
        assert_eq!(r.camera.digital_zoom, None);
        let r = &t.records[1];
        assert_eq!(r.t_s, Some(1.0));
        assert_eq!(r.camera.digital_zoom, Some(2.0));
        assert_eq!(x(r, "ev"), -0.7);
        assert_eq!(x(r, "fnum"), 5.6);
        assert_eq!(x(r, "horizontal_speed_mps"), 3.2);
    }

    #[test]
    fn matrice_300_lat_lon_alt_m() {
        let text = "1\n00:00:00,000 --> 00:00:01,000\n2022.06.21 16:06:17\n\
            GPS(34.1234,-117.1234,310.5M) BAROMETER:12.3M\n\
            [zoom_ratio: 1.00] [gb_yaw: 12.3 gb_pitch: -45.0 gb_roll: 0.1]\n\n\
            2\n00:00:01,000 --> 00:00:02,000\n2022.06.21 16:06:18\n\
            GPS(36.6146,-6.1120,0.0M) BAROMETER:0.3M\n\n";
        let t = parse_ok(text);
        let r = &t.records[0];
        assert_eq!(
            (r.lat, r.lon, r.alt_m),
            (Some(34.1234), Some(-117.1234), Some(310.5))
        );
        assert_eq!(r.rel_alt_m, Some(12.3));
        assert_eq!(r.utc.unwrap().iso(), "2022-06-21T16:06:17Z");
        assert_eq!(x(r, "zoom_ratio"), 1.0);
        assert_eq!(
            r.camera.digital_zoom, None,
            "zoom_ratio is not taken as digital zoom"
        );
        assert_eq!(r.gimbal_yaw_deg, Some(12.3));
        assert_eq!(r.gimbal_pitch_deg, Some(-45.0));
        assert_eq!(r.gimbal_roll_deg, Some(0.1));
        // Both coordinates within ±90: the M decides (lat, lon).
        let r = &t.records[1];
        assert_eq!((r.lat, r.lon), (Some(36.6146), Some(-6.112)));
        assert_eq!(r.alt_m, None, "0.0M is the M300's placeholder");
        assert_eq!(x(r, "gps_alt_m"), 0.0);
        assert_eq!(r.rel_alt_m, Some(0.3));
    }

    const BRACKETED: &str = "1\n00:00:00,000 --> 00:00:00,033\n\
        <font size=\"28\">FrameCnt: 1, DiffTime: 33ms\n\
        2021-09-03 12:33:41,123,456\n\
        [iso : 100] [shutter : 1/1000.0] [fnum : 280] [ev : 0] [ct : 5500] [color_md : default] [focal_len : 240] [dzoom_ratio: 10000, delta:0],[latitude: 36.17] [longitude: -75.75] [rel_alt: 5.300 abs_alt: 23.000] [gb_yaw: 12.3 gb_pitch: -90.0 gb_roll: 0.0] </font>\n\n\
        2\n00:00:00,033 --> 00:00:00,066\n\
        <font size=\"28\">FrameCnt: 2, DiffTime: 33ms\n\
        2021-09-03 12:33:41,156,789\n\
        [iso : 100] [shutter : 1/1000.0] [fnum : 280] [ev : 0] [ct : 5500] [color_md : default] [focal_len : 240] [dzoom_ratio: 20000, delta:0],[latitude: 36.171] [longitude: -75.751] [rel_alt: 5.400 abs_alt: 23.100] [gb_yaw: 12.4 gb_pitch: -89.9 gb_roll: 0.0] </font>\n\n";

    fn check_bracketed(t: &Telemetry) {
        assert_eq!((t.packets, t.skipped, t.records.len()), (2, 0, 2));
        let r = &t.records[0];
        assert_eq!(r.t_s, Some(0.0));
        assert_eq!(x(r, "cue_end_s"), 0.033);
        assert_eq!(x(r, "frame_cnt"), 1);
        assert_eq!(x(r, "diff_time_ms"), 33.0);
        let utc = r.utc.unwrap();
        assert_eq!(utc.iso(), "2021-09-03T12:33:41.123456Z");
        assert_eq!(utc.digits, 6);
        assert_eq!(x(r, "iso"), 100);
        assert_eq!(x(r, "shutter"), "1/1000.0");
        assert_eq!(x(r, "fnum"), 2.8);
        assert_eq!(x(r, "ev"), 0);
        assert_eq!(x(r, "ct"), 5500);
        assert_eq!(x(r, "color_md"), "default");
        assert_eq!(x(r, "delta"), 0);
        assert_eq!(r.camera.focal_length_35mm, Some(24.0));
        assert_eq!(r.camera.digital_zoom, Some(1.0));
        assert_eq!((r.lat, r.lon), (Some(36.17), Some(-75.75)));
        assert_eq!((r.rel_alt_m, r.alt_m), (Some(5.3), Some(23.0)));
        assert_eq!(r.gimbal_yaw_deg, Some(12.3));
        assert_eq!(r.gimbal_pitch_deg, Some(-90.0));
        assert_eq!(r.gimbal_roll_deg, Some(0.0));
        assert!(r
            .extra
            .keys()
            .all(|k| !k.contains("font") && !k.contains("size")));
        let r = &t.records[1];
        assert!(close(r.t_s, 0.033));
        assert_eq!(r.camera.digital_zoom, Some(2.0));
        assert_eq!(r.utc.unwrap().iso(), "2021-09-03T12:33:41.156789Z");
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    }

    #[test]
    fn bracketed_with_font_tags() {
        check_bracketed(&parse_ok(BRACKETED));
    }

    #[test]
    fn crlf_and_bom() {
        let text = format!("\u{feff}{}", BRACKETED.replace('\n', "\r\n"));
        check_bracketed(&parse_ok(&text));
    }

    #[test]
    fn spaced_brackets_decimal_forms_and_groups() {
        let text = "7\n00:00:06,000 --> 00:00:06,033\n\
            <font size=\"36\">SrtCnt : 7, DiffTime : 33ms\n\
            2021-09-03 12:33:41.123\n\
            [iso: 400] [fnum: 2.8] [focal_len: 24.00] [dzoom_ratio: 1.50] [latitude : 36.17] [longtitude : -75.75] [altitude: 117.000000] \
            [Drone: Yaw:-62.1, Pitch: 2.7, Roll: 1.6] [Gimbal: Yaw:10.0, Pitch:-45.0, Roll:0.0] [mystery_field: abc] [ae_meter_md : 1] </font>\n";
        let t = parse_ok(text);
        let r = &t.records[0];
        assert_eq!(x(r, "cue"), 7);
        assert_eq!(r.t_s, Some(6.0));
        assert_eq!(x(r, "frame_cnt"), 7);
        assert_eq!(r.utc.unwrap().iso(), "2021-09-03T12:33:41.123Z");
        assert_eq!(x(r, "fnum"), 2.8);
        assert_eq!(r.camera.focal_length_35mm, Some(24.0));
        assert_eq!(r.camera.digital_zoom, Some(1.5));
        assert_eq!(
            (r.lat, r.lon, r.alt_m),
            (Some(36.17), Some(-75.75), Some(117.0))
        );
        assert_eq!(
            (r.heading_deg, r.pitch_deg, r.roll_deg),
            (Some(-62.1), Some(2.7), Some(1.6))
        );
        assert_eq!(
            (r.gimbal_yaw_deg, r.gimbal_pitch_deg, r.gimbal_roll_deg),
            (Some(10.0), Some(-45.0), Some(0.0))
        );
        assert_eq!(x(r, "mystery_field"), "abc");
        assert_eq!(x(r, "ae_meter_md"), 1);
    }

    #[test]
    fn multi_line_cue_with_blank_line_and_stray_zero() {
        // The Matrice 300 H20T writes a blank line and a lone `0` inside a cue.
        let text = "1\n00:00:00,000 --> 00:00:00,033\n\
            < font size=\"28\" >FrameCnt: 1, DiffTime: 33ms\n\
            2024-02-27 22:30:45.395\n\
            [fnum: 1.0] [focal_len: 58.00] [dzoom: 1.79] \n\
            [latitude: -44.228828] [longitude: 171.193516] [rel_alt: 40.162 abs_alt: 97.829] \n\
            [drone_speedx: 0.2 drone_speedy: 0.0 drone_speedz: -0.1] \n\
            [drone_yaw: -20.4 drone_pitch: 2.4 drone_roll: -2.1] \n\
            [gb_yaw: -30.0 gb_pitch: -29.9 gb_roll: 0.0] \n\n\
            0\n\
            [dzoom_ratio: 17871, delta:0] [color_md : default] \n\
            < /font >\n\n\
            2\n00:00:00,033 --> 00:00:00,066\n\
            < font size=\"28\" >FrameCnt: 2, DiffTime: 33ms\n\
            2024-02-27 22:30:45.428\n\
            [latitude: -44.228829] [longitude: 171.193517] [rel_alt: 40.2 abs_alt: 97.9] \n\
            < /font >\n";
        let t = parse_ok(text);
        assert_eq!((t.packets, t.records.len(), t.skipped), (2, 2, 0));
        let r = &t.records[0];
        assert_eq!(x(r, "fnum"), 1.0);
        assert_eq!(r.camera.focal_length_35mm, Some(58.0));
        // dzoom 1.79 then dzoom_ratio 17871: the later, finer one stands.
        assert!(close(r.camera.digital_zoom, 1.7871));
        assert_eq!((r.lat, r.lon), (Some(-44.228828), Some(171.193516)));
        assert_eq!((r.rel_alt_m, r.alt_m), (Some(40.162), Some(97.829)));
        assert_eq!(x(r, "drone_speedz"), -0.1);
        assert_eq!(
            (r.heading_deg, r.pitch_deg, r.roll_deg),
            (Some(-20.4), Some(2.4), Some(-2.1))
        );
        assert_eq!(r.gimbal_pitch_deg, Some(-29.9));
        assert_eq!(x(r, "color_md"), "default");
        assert_eq!(t.records[1].lat, Some(-44.228829));
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    }

    #[test]
    fn zero_zero_is_no_fix() {
        let cue = |n: u32, lat: &str| {
            format!(
                "{n}\n00:00:0{n},000 --> 00:00:0{n},033\n<font size=\"28\">FrameCnt: {n}, DiffTime: 33ms\n\
                 2021-09-03 12:33:4{n}.000\n[latitude: {lat}] [longitude: 0.000000] [rel_alt: 1.0 abs_alt: 20.0] </font>\n\n"
            )
        };
        let text = format!(
            "{}{}{}",
            cue(1, "0.000000"),
            cue(2, "0.000000"),
            cue(3, "36.17")
        );
        let t = parse_ok(&text);
        assert_eq!(t.records.len(), 3);
        assert_eq!((t.records[0].lat, t.records[0].lon), (None, None));
        assert_eq!(
            t.records[0].rel_alt_m,
            Some(1.0),
            "the rest of the cue is kept"
        );
        assert_eq!((t.records[1].lat, t.records[1].lon), (None, None));
        assert_eq!(
            (t.records[2].lat, t.records[2].lon),
            (Some(36.17), Some(0.0))
        );
        assert!(
            t.warnings
                .iter()
                .any(|w| w.starts_with("2 cue(s) give the position 0,0")),
            "{:?}",
            t.warnings
        );
    }

    #[test]
    fn truncated_in_a_number_drops_the_cut_cue() {
        let cut = BRACKETED.find("[longitude: -75.751").unwrap() + "[longitude: -75.7".len();
        let t = parse_ok(&BRACKETED[..cut]);
        assert_eq!((t.packets, t.records.len(), t.skipped), (2, 1, 1));
        assert!(
            t.warnings
                .iter()
                .any(|w| w.contains("cut in the middle of cue 2") && w.contains("dropped")),
            "{:?}",
            t.warnings
        );
    }

    #[test]
    fn truncated_after_the_position_keeps_the_cue() {
        let text = BRACKETED.trim_end().trim_end_matches("</font>").trim_end();
        let t = parse_ok(text);
        assert_eq!((t.packets, t.records.len(), t.skipped), (2, 2, 0));
        assert_eq!(t.records[1].gimbal_yaw_deg, Some(12.4));
        assert!(
            t.warnings
                .iter()
                .any(|w| w.contains("cut in the middle of cue 2") && w.contains("kept")),
            "{:?}",
            t.warnings
        );
    }

    #[test]
    fn truncated_after_an_index_line() {
        let text = format!("{BRACKETED}3\n");
        let t = parse_ok(&text);
        assert_eq!((t.packets, t.records.len(), t.skipped), (3, 2, 1));
        assert!(
            t.warnings.iter().any(|w| w.contains("cue 3")),
            "{:?}",
            t.warnings
        );
    }

    #[test]
    fn bad_timing_and_bad_numbers_are_counted() {
        let text = "1\n00:00:xx,000 --> 00:00:01,000\n[latitude: 1.5] [longitude: 2.5]\n\n\
            2\n00:00:01,000 --> 00:00:02,000\n[latitude: north] [longitude: 2.5] [rel_alt: 3.0 abs_alt: 4.0]\n\n";
        let t = parse_ok(text);
        assert_eq!((t.packets, t.records.len(), t.skipped), (2, 1, 1));
        assert_eq!(t.records[0].lat, None);
        assert!(
            t.warnings
                .iter()
                .any(|w| w.contains("cue 1") && w.contains("timing")),
            "{:?}",
            t.warnings
        );
        assert!(
            t.warnings
                .iter()
                .any(|w| w.contains("latitude 'north' in cue 2")),
            "{:?}",
            t.warnings
        );
    }

    #[test]
    fn no_cues_or_no_telemetry_is_empty() {
        for text in [
            "",
            "\u{feff}",
            "hello\nworld\n",
            "1\n00:00:01,000 --> 00:00:02,000\nHello there.\n\n",
            "1\n00:00:01,000 --> 00:00:02,000\nHello 5 friends, nice to meet you.\n\n",
        ] {
            match parse(text, Path::new("film.srt")) {
                Err(TelemetryError::Empty { path, reason }) => {
                    assert_eq!(path, Path::new("film.srt"));
                    assert!(!reason.is_empty());
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn radian_positions_are_flagged() {
        let text = "1\n00:00:00,000 --> 00:00:00,114\n<font size=\"36\">FrameCnt : 4, DiffTime : 114ms\n\
            2022-09-08 06:26:55,549,370\n[color_md : default] [latitude: 0.608553] [longtitude: -1.963763] [altitude: 28.736000] </font>\n";
        let t = parse_ok(text);
        assert_eq!(x(&t.records[0], "diff_time_ms"), 114.0);
        assert!(
            t.warnings.iter().any(|w| w.contains("radians")),
            "{:?}",
            t.warnings
        );
    }

    #[test]
    fn read_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("DJI_0001.SRT");
        std::fs::write(&path, OLD).unwrap();
        assert_eq!(read(&path).unwrap().records.len(), 1);
        let missing = dir.path().join("missing.SRT");
        let err = read(&missing).unwrap_err().to_string();
        assert!(err.contains("missing.SRT"), "{err}");
        std::fs::write(
            &path,
            b"1\n00:00:00,000 --> 00:00:01,000\n[latitude: 1.5\xff] [longitude: 2.5]\n",
        )
        .unwrap();
        let t = read(&path).unwrap();
        assert!(t.warnings[0].contains("UTF-8"));
    }

    #[test]
    fn a_call_after_a_multibyte_character_is_read() {
        // A name that follows a character of several bytes once cut the
        // text inside that character, and panicked.
        let text = "1\n00:00:00,000 --> 00:00:01,000\n°GPS(149.0251,-20.2533,16) \u{fffd}(x)\n\n";
        let t = parse_ok(text);
        assert_eq!(
            (t.records[0].lat, t.records[0].lon),
            (Some(-20.2533), Some(149.0251))
        );
    }

    #[test]
    fn never_panics_on_truncated_or_random_input() {
        let samples = [OLD, BRACKETED];
        for s in samples {
            for cut in 0..s.len() {
                let _ = parse(&s[..cut], Path::new("cut.srt"));
            }
        }
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b"0123456789:,.-> []()<>/MmGPSHOME\n\r latitude";
        for _ in 0..300 {
            let len = (seed % 400) as usize;
            let mut bytes = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(if seed.is_multiple_of(3) {
                    (seed >> 8) as u8
                } else {
                    alphabet[(seed >> 8) as usize % alphabet.len()]
                });
            }
            let _ = parse(&String::from_utf8_lossy(&bytes), Path::new("random.srt"));
        }
    }

    #[test]
    fn normalisation_rules() {
        assert_eq!(normalise_fnum("280", 280.0), 2.8);
        assert_eq!(normalise_fnum("2.8", 2.8), 2.8);
        assert_eq!(normalise_fnum("11", 11.0), 11.0);
        assert_eq!(normalise_focal_len("240", 240.0), 24.0);
        assert_eq!(normalise_focal_len("24.00", 24.0), 24.0);
        assert_eq!(normalise_focal_len("162.0", 162.0), 162.0);
        assert_eq!(normalise_dzoom("10000", 10000.0), 1.0);
        assert_eq!(normalise_dzoom("1.00", 1.0), 1.0);
        assert_eq!(snake_case("FrameCnt"), "frame_cnt");
        assert_eq!(snake_case("BAROMETER"), "barometer");
        assert_eq!(snake_case("GpsLongtitude"), "gps_longtitude");
        assert_eq!(snake_case("LRFTargetLat"), "lrf_target_lat");
        assert_eq!(snake_case("color_md"), "color_md");
    }

    mod props {
        use super::*;
        use crate::telemetry::fuzz;
        use proptest::prelude::*;

        /// The pieces DJI SRT files are made of.
        const PIECES: &[&str] = &[
            "\n",
            "\n\n",
            "1\n",
            "2\n",
            "00:00:00,000 --> 00:00:00,033\n",
            "00:00:01,000",
            " --> ",
            "99:99:99,999",
            "[",
            "]",
            "(",
            ")",
            ": ",
            ",",
            " ",
            "latitude",
            "longitude",
            "rel_alt",
            "abs_alt",
            "altitude",
            "iso",
            "shutter",
            "fnum",
            "ev",
            "focal_len",
            "dzoom_ratio",
            "gb_yaw",
            "gb_pitch",
            "gb_roll",
            "GPS",
            "HOME",
            "BAROMETER:",
            "F/",
            "SS ",
            "ISO ",
            "H ",
            "D ",
            "HS ",
            "VS ",
            "m",
            "m/s",
            "<font size=\"28\">",
            "</font>",
            "FrameCnt: ",
            "DiffTime: ",
            "ms",
            "2021-09-03 12:33:41,123,456",
            "2017.08.05 14:11:51",
            "1/1000.0",
        ];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Cues made of SRT pieces and odd numbers: parsed or refused,
            /// never a panic, and no NaN or infinity in a record.
            #[test]
            fn srt_like_text_parses_to_finite_records(text in fuzz::text_of(PIECES)) {
                if let Ok(t) = parse(&text, Path::new("fuzz.srt")) {
                    for r in &t.records {
                        prop_assert_eq!(fuzz::non_finite(r), None, "{:?}", r);
                    }
                }
            }

            #[test]
            fn damaged_srt_files_never_panic(text in fuzz::mutated_text(BRACKETED)) {
                if let Ok(t) = parse(&text, Path::new("damaged.srt")) {
                    for r in &t.records {
                        prop_assert_eq!(fuzz::non_finite(r), None, "{:?}", r);
                    }
                }
            }
        }
    }
}
