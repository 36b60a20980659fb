//! DJI stills: EXIF GPS and the `drone-dji` XMP attributes.
//!
//! A DJI photo says where it was taken twice: in the standard EXIF GPS
//! IFD, and in DJI's own XMP namespace (`drone-dji`,
//! `http://www.dji.com/drone-dji/1.0/`), which also carries the gimbal and
//! aircraft attitude, the height above take-off and, on enterprise models,
//! the laser rangefinder target and the lens calibration. This reader
//! takes both and makes one [`Record`] of them:
//!
//! - EXIF (through kamadak-exif): GPS position, altitude and time stamp,
//!   `DateTimeOriginal` (+ `SubSecTimeOriginal`, `OffsetTimeOriginal`)
//!   when there is no GPS time, focal lengths, make and model, image size,
//!   sensor size from the focal-plane resolution, digital zoom, exposure;
//! - XMP (through quick-xml): every `drone-dji` property, written as
//!   attributes of `rdf:Description` or as child elements (both occur),
//!   mapped onto the record where a field exists and into `extra` by
//!   snake_case name otherwise.
//!
//! JPEG is read segment by segment (APP1 `Exif\0\0` and APP1
//! `http://ns.adobe.com/xap/1.0/\0`); TIFF-based files (DNG) are handed to
//! kamadak-exif whole, and their XMP packet is found by its
//! `<x:xmpmeta` … `</x:xmpmeta>` markers. Extended XMP (split over several
//! APP1 segments) is not read: DJI does not write it.

use std::path::Path;

use exif::{Field, In, Tag, Value as ExifValue};
use quick_xml::events::{BytesStart, Event};
use serde_json::Value;

use super::srt::{extra_value, insert_number, number_unit, snake_case};
use super::{Format, Record, Telemetry, TelemetryError, Utc};

/// The APP1 signature of an EXIF segment.
const EXIF_SIG: &[u8] = b"Exif\0\0";
/// The APP1 signature of a standard XMP segment.
const XMP_SIG: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
/// DJI's XMP namespace.
const DJI_NS: &str = "http://www.dji.com/drone-dji/1.0/";

/// Reads one DJI still (JPEG, or DNG/TIFF): one [`Record`].
pub fn read(path: &Path) -> Result<Telemetry, TelemetryError> {
    let bytes = std::fs::read(path).map_err(|e| TelemetryError::io(path, e))?;
    parse(&bytes, path)
}

/// Parses an image held in memory; `path` only names the file in errors.
///
/// Errors: [`TelemetryError::Format`] when the bytes are neither JPEG nor
/// TIFF; [`TelemetryError::Empty`] when the image has neither EXIF nor a
/// `drone-dji` XMP packet.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Telemetry, TelemetryError> {
    let mut out = Telemetry::default();
    let (exif_tiff, xmp) = if bytes.starts_with(&[0xFF, 0xD8]) {
        jpeg_metadata(bytes, &mut out.warnings)
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        (Some(bytes), find_xmp_packet(bytes))
    } else {
        return Err(TelemetryError::format(
            path,
            "not a JPEG, DNG or TIFF image",
        ));
    };
    out.packets = 1;
    let mut record = Record::new(Format::Exif);
    let mut exif_found = false;
    if let Some(tiff) = exif_tiff {
        if let Some(exif) = read_exif(tiff, &mut out.warnings) {
            exif_found = true;
            apply_exif(&exif, &mut record, &mut out.warnings);
        }
    }
    let xmp_found = match xmp {
        Some(packet) => apply_xmp(packet, &mut record, &mut out.warnings),
        None => false,
    };
    if !exif_found && !xmp_found {
        return Err(TelemetryError::Empty {
            path: path.to_owned(),
            reason: "the image has no readable EXIF and no drone-dji XMP".into(),
        });
    }
    finish(&mut record, &mut out.warnings);
    out.records.push(record);
    Ok(out)
}

/// Walks a JPEG's marker segments up to the image data; returns the TIFF
/// body of the first EXIF APP1 and the first XMP APP1 packet.
fn jpeg_metadata<'a>(
    b: &'a [u8],
    warnings: &mut Vec<String>,
) -> (Option<&'a [u8]>, Option<&'a [u8]>) {
    let (mut exif, mut xmp) = (None, None);
    let mut i = 2;
    loop {
        while b.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&marker) = b.get(i) else { break };
        i += 1;
        match marker {
            0x01 | 0xD0..=0xD7 => continue,
            0xD9 | 0xDA => break,
            _ => {}
        }
        let Some(len) = b
            .get(i..i + 2)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
        else {
            warnings.push("the JPEG ends inside a segment header".into());
            break;
        };
        let Some(payload) = (len >= 2).then(|| b.get(i + 2..i + len)).flatten() else {
            warnings.push(format!(
                "the JPEG's segment 0xFF{marker:02X} at byte {} is cut short",
                i - 2
            ));
            break;
        };
        if marker == 0xE1 {
            if let Some(tiff) = payload.strip_prefix(EXIF_SIG) {
                exif.get_or_insert(tiff);
            } else if let Some(packet) = payload.strip_prefix(XMP_SIG) {
                xmp.get_or_insert(packet);
            }
        }
        i += len;
    }
    (exif, xmp)
}

/// Finds an XMP packet anywhere in the bytes (for TIFF/DNG, where it sits
/// in tag 700).
fn find_xmp_packet(b: &[u8]) -> Option<&[u8]> {
    let start = find(b, b"<x:xmpmeta")?;
    let end_tag = b"</x:xmpmeta>";
    let end = find(&b[start..], end_tag)? + start + end_tag.len();
    Some(&b[start..end])
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses EXIF TIFF data, keeping what it can of damaged data.
fn read_exif(tiff: &[u8], warnings: &mut Vec<String>) -> Option<exif::Exif> {
    let mut reader = exif::Reader::new();
    reader.continue_on_error(true);
    match reader.read_raw(tiff.to_vec()) {
        Ok(exif) => Some(exif),
        Err(exif::Error::PartialResult(partial)) => {
            let (exif, errors) = partial.into_inner();
            warnings.push(format!(
                "the EXIF data is damaged; {} field(s) read, first error: {}",
                exif.fields().len(),
                errors.first().map_or(String::new(), |e| e.to_string())
            ));
            Some(exif)
        }
        Err(e) => {
            warnings.push(format!("the EXIF data cannot be read: {e}"));
            None
        }
    }
}

/// A field of the primary image.
fn field(exif: &exif::Exif, tag: Tag) -> Option<&Field> {
    exif.get_field(tag, In::PRIMARY)
}

/// The `n`th value of a numeric field as f64 (rationals divided; a zero
/// denominator is no value).
fn num(exif: &exif::Exif, tag: Tag, n: usize) -> Option<f64> {
    let v = match &field(exif, tag)?.value {
        ExifValue::Rational(r) => r.get(n)?.to_f64(),
        ExifValue::SRational(r) => r.get(n)?.to_f64(),
        ExifValue::Short(v) => f64::from(*v.get(n)?),
        ExifValue::Long(v) => f64::from(*v.get(n)?),
        ExifValue::Byte(v) => f64::from(*v.get(n)?),
        ExifValue::Float(v) => f64::from(*v.get(n)?),
        ExifValue::Double(v) => *v.get(n)?,
        _ => return None,
    };
    v.is_finite().then_some(v)
}

/// An ASCII field as trimmed text.
fn text(exif: &exif::Exif, tag: Tag) -> Option<String> {
    match &field(exif, tag)?.value {
        ExifValue::Ascii(parts) => {
            let s = String::from_utf8_lossy(parts.first()?)
                .trim()
                .trim_matches('\0')
                .to_owned();
            (!s.is_empty()).then_some(s)
        }
        _ => None,
    }
}

/// Degrees from an EXIF degrees/minutes/seconds triple and its N/S/E/W
/// reference; `None` if the reference is missing or not one of those.
fn dms(exif: &exif::Exif, tag: Tag, reference: Tag, negative: char) -> Option<f64> {
    let d = num(exif, tag, 0)?;
    let m = num(exif, tag, 1).unwrap_or(0.0);
    let s = num(exif, tag, 2).unwrap_or(0.0);
    let r = text(exif, reference)?.to_ascii_uppercase();
    let sign = if r.starts_with(negative) { -1.0 } else { 1.0 };
    Some(sign * (d + m / 60.0 + s / 3600.0))
}

/// Copies the EXIF facts onto the record.
fn apply_exif(exif: &exif::Exif, r: &mut Record, warnings: &mut Vec<String>) {
    r.lat = dms(exif, Tag::GPSLatitude, Tag::GPSLatitudeRef, 'S');
    r.lon = dms(exif, Tag::GPSLongitude, Tag::GPSLongitudeRef, 'W');
    if let Some(alt) = num(exif, Tag::GPSAltitude, 0) {
        // Reference 1 (and Exif 3.0's 3) is below the datum.
        let below = matches!(num(exif, Tag::GPSAltitudeRef, 0), Some(v) if v == 1.0 || v == 3.0);
        let alt = if below { -alt } else { alt };
        r.alt_m = Some(alt);
        insert_number(&mut r.extra, "exif_gps_altitude_m", alt);
    }
    r.utc = gps_time(exif).or_else(|| original_time(exif, r, warnings));
    r.camera.focal_length_mm = num(exif, Tag::FocalLength, 0).filter(|f| *f > 0.0);
    r.camera.focal_length_35mm = num(exif, Tag::FocalLengthIn35mmFilm, 0).filter(|f| *f > 0.0);
    // DigitalZoomRatio 0 means "not used" (Exif 2.3 §4.6.5).
    r.camera.digital_zoom = num(exif, Tag::DigitalZoomRatio, 0).filter(|z| *z > 0.0);
    let make = text(exif, Tag::Make);
    r.camera.model = text(exif, Tag::Model).or_else(|| make.clone());
    if let Some(make) = make {
        r.extra.insert("make".into(), Value::String(make));
    }
    r.camera.image_size = image_size(exif);
    sensor_size(exif, r);
    if let Some(t) = num(exif, Tag::ExposureTime, 0) {
        insert_number(&mut r.extra, "exposure_time_s", t);
    }
    if let Some(f) = num(exif, Tag::FNumber, 0) {
        insert_number(&mut r.extra, "fnum", f);
    }
    if let Some(iso) = num(exif, Tag::PhotographicSensitivity, 0) {
        insert_number(&mut r.extra, "iso", iso);
    }
}

/// GPSDateStamp + GPSTimeStamp, which are UTC by definition.
fn gps_time(exif: &exif::Exif) -> Option<Utc> {
    let date = text(exif, Tag::GPSDateStamp)?;
    let (h, m) = (
        num(exif, Tag::GPSTimeStamp, 0)?,
        num(exif, Tag::GPSTimeStamp, 1)?,
    );
    let s = num(exif, Tag::GPSTimeStamp, 2)?;
    let digits = match &field(exif, Tag::GPSTimeStamp)?.value {
        ExifValue::Rational(r) => r.get(2).map_or(0, |x| decimal_places(x.denom)),
        _ => 0,
    };
    let mut parts = date.split([':', '-']);
    let year: i32 = parts.next()?.trim().parse().ok()?;
    let month: u8 = parts.next()?.trim().parse().ok()?;
    let day: u8 = parts.next()?.trim().parse().ok()?;
    if !(0.0..24.0).contains(&h) || !(0.0..60.0).contains(&m) || !(0.0..61.0).contains(&s) {
        return None;
    }
    let micros = ((s.fract()) * 1e6).round().min(999_999.0) as u32;
    Utc::from_fields(
        (year, month, day),
        (h as u8, m as u8, s as u8),
        micros,
        digits,
    )
}

/// How many decimal places a rational's denominator gives (1 → 0,
/// 1000 → 3), at most 6.
fn decimal_places(denom: u32) -> u8 {
    let mut d = denom.max(1);
    let mut n = 0;
    while d > 1 && n < 6 {
        d = d.div_ceil(10);
        n += 1;
    }
    n
}

/// DateTimeOriginal (+ sub-seconds, + offset). Without OffsetTimeOriginal
/// the camera's clock zone is unknown; DJI sets it from the phone's local
/// time, so the value is taken as UTC with a warning.
fn original_time(exif: &exif::Exif, r: &mut Record, warnings: &mut Vec<String>) -> Option<Utc> {
    let dt = text(exif, Tag::DateTimeOriginal)?;
    r.extra
        .insert("datetime_original".into(), Value::String(dt.clone()));
    let mut s = dt.replacen(':', "-", 2);
    if let Some(sub) =
        text(exif, Tag::SubSecTimeOriginal).filter(|x| x.bytes().all(|c| c.is_ascii_digit()))
    {
        s = format!("{s}.{sub}");
    }
    match text(exif, Tag::OffsetTimeOriginal) {
        Some(offset) => {
            r.extra
                .insert("offset_time_original".into(), Value::String(offset.clone()));
            Utc::parse(&format!("{s}{offset}"))
        }
        None => {
            let utc = Utc::parse(&s)?;
            warnings.push(
                "no GPS time and no OffsetTimeOriginal: DateTimeOriginal (the camera's local \
                 clock) is taken as UTC"
                    .into(),
            );
            Some(utc)
        }
    }
}

/// PixelXDimension × PixelYDimension, else ImageWidth × ImageLength.
fn image_size(exif: &exif::Exif) -> Option<(u32, u32)> {
    let pair = |a: Tag, b: Tag| Some((num(exif, a, 0)? as u32, num(exif, b, 0)? as u32));
    pair(Tag::PixelXDimension, Tag::PixelYDimension)
        .or_else(|| pair(Tag::ImageWidth, Tag::ImageLength))
        .filter(|(w, h)| *w > 0 && *h > 0)
}

/// Sensor size from the focal-plane resolution: pixels per unit across the
/// image width and height, the unit from FocalPlaneResolutionUnit (2 inch
/// — the default, 3 cm, 4 mm, 5 µm).
fn sensor_size(exif: &exif::Exif, r: &mut Record) {
    let Some((w, h)) = r.camera.image_size else {
        return;
    };
    let unit_mm = match num(exif, Tag::FocalPlaneResolutionUnit, 0).unwrap_or(2.0) as u32 {
        3 => 10.0,
        4 => 1.0,
        5 => 0.001,
        _ => 25.4,
    };
    let size = |res: Option<f64>, px: u32| {
        res.filter(|v| *v > 0.0)
            .map(|v| f64::from(px) / v * unit_mm)
    };
    r.camera.sensor_width_mm = size(num(exif, Tag::FocalPlaneXResolution, 0), w);
    r.camera.sensor_height_mm = size(num(exif, Tag::FocalPlaneYResolution, 0), h);
}

/// Reads the XMP packet's `drone-dji` properties onto the record; returns
/// whether there were any (other XMP, e.g. from an editor, does not count
/// as telemetry).
fn apply_xmp(packet: &[u8], r: &mut Record, warnings: &mut Vec<String>) -> bool {
    let text = String::from_utf8_lossy(packet);
    let mut props = XmpProps::default();
    if let Err(e) = props.read(&text) {
        warnings.push(format!(
            "the XMP packet is damaged ({e}); read up to the damage"
        ));
    }
    let mut any = false;
    let mut xmp_position = (None, None);
    for (name, value) in &props.dji {
        any = true;
        apply_dji(r, name, value, &mut xmp_position);
    }
    if r.camera.model.is_none() {
        r.camera.model = props.tiff_model;
    }
    // EXIF GPS first; the XMP copy is the fallback (DJI writes both the
    // same, but the EXIF one is standard and what other tools show).
    if r.lat.is_none() || r.lon.is_none() {
        if let (Some(lat), Some(lon)) = xmp_position {
            r.lat = Some(lat);
            r.lon = Some(lon);
        }
    }
    any
}

/// Places one `drone-dji` property.
fn apply_dji(r: &mut Record, name: &str, value: &str, position: &mut (Option<f64>, Option<f64>)) {
    let number = number_unit(value).map(|n| n.0);
    let key = snake_case(name);
    let field = match name {
        "RelativeAltitude" => &mut r.rel_alt_m,
        // Preferred over EXIF GPSAltitude: it is DJI's own, signed value at
        // full precision, documented by DJI as the geodetic altitude,
        // whereas GPSAltitude is an unsigned rational with a separate
        // reference byte and an unstated datum. The EXIF value stays in
        // `extra.exif_gps_altitude_m`.
        "AbsoluteAltitude" => &mut r.alt_m,
        "GimbalPitchDegree" => &mut r.gimbal_pitch_deg,
        "GimbalYawDegree" => &mut r.gimbal_yaw_deg,
        "GimbalRollDegree" => &mut r.gimbal_roll_deg,
        "FlightYawDegree" => &mut r.heading_deg,
        "FlightPitchDegree" => &mut r.pitch_deg,
        "FlightRollDegree" => &mut r.roll_deg,
        "GpsLatitude" | "Latitude" => {
            position.0 = number;
            r.extra.insert(key, extra_value(value));
            return;
        }
        // `GpsLongtitude` is DJI's own misspelling, in some firmware.
        "GpsLongitude" | "GpsLongtitude" | "Longitude" => {
            position.1 = number;
            r.extra.insert(key, extra_value(value));
            return;
        }
        _ => {
            r.extra.insert(key, extra_value(value));
            return;
        }
    };
    match number {
        Some(v) => *field = Some(v),
        None => {
            r.extra.insert(key, Value::String(value.to_owned()));
        }
    }
}

/// Applies the 0,0 "no fix" rule, and says when there is no position.
fn finish(r: &mut Record, warnings: &mut Vec<String>) {
    if r.lat == Some(0.0) && r.lon == Some(0.0) {
        r.lat = None;
        r.lon = None;
        warnings.push("the position is 0,0, read as no GPS fix (position left empty)".into());
    } else if r.lat.is_some_and(|v| v.abs() > 90.0) || r.lon.is_some_and(|v| v.abs() > 180.0) {
        warnings.push(format!(
            "the position {:?},{:?} is out of range; left empty",
            r.lat, r.lon
        ));
        r.lat = None;
        r.lon = None;
    } else if r.lat.is_none() || r.lon.is_none() {
        warnings.push("the image has no GPS position".into());
    }
}

/// The properties found in an XMP packet.
#[derive(Debug, Default)]
struct XmpProps {
    /// `drone-dji` properties by local name, in document order.
    dji: Vec<(String, String)>,
    /// `tiff:Model`, a fallback for the camera model.
    tiff_model: Option<String>,
}

impl XmpProps {
    /// Reads attributes of every element and simple child elements whose
    /// prefix is bound to DJI's namespace (or is `drone-dji`, for packets
    /// that forget the `xmlns`).
    fn read(&mut self, text: &str) -> Result<(), quick_xml::Error> {
        let mut reader = quick_xml::Reader::from_str(text);
        let mut dji_prefixes: Vec<String> = vec!["drone-dji".into()];
        let mut open: Option<(String, String)> = None;
        loop {
            match reader.read_event()? {
                Event::Start(e) => {
                    self.attributes(&e, &mut dji_prefixes);
                    open = Some((qname(&e), String::new()));
                }
                Event::Empty(e) => {
                    self.attributes(&e, &mut dji_prefixes);
                    open = None;
                }
                Event::Text(t) => {
                    if let Some((_, buf)) = open.as_mut() {
                        buf.push_str(&t);
                    }
                }
                Event::GeneralRef(r) => {
                    if let Some((_, buf)) = open.as_mut() {
                        buf.push_str(&format!("&{};", &*r));
                    }
                }
                Event::CData(t) => {
                    if let Some((_, buf)) = open.as_mut() {
                        buf.push_str(&t);
                    }
                }
                Event::End(_) => {
                    if let Some((name, value)) = open.take() {
                        self.property(&name, unescape(value.trim()), &dji_prefixes);
                    }
                }
                Event::Eof => return Ok(()),
                _ => {}
            }
        }
    }

    /// Records the DJI (and `tiff:Model`) attributes of one element, and
    /// any `xmlns:` binding of DJI's namespace.
    fn attributes(&mut self, e: &BytesStart, dji_prefixes: &mut Vec<String>) {
        let attrs: Vec<(String, String)> = e
            .attributes()
            .flatten()
            .map(|a| {
                let k = a.key.as_ref().to_owned();
                let v = unescape(&a.value);
                (k, v)
            })
            .collect();
        for (k, v) in &attrs {
            if let Some(prefix) = k.strip_prefix("xmlns:") {
                if v.trim_end_matches('/') == DJI_NS.trim_end_matches('/') {
                    dji_prefixes.push(prefix.to_owned());
                }
            }
        }
        for (k, v) in attrs {
            self.property(&k, v, dji_prefixes);
        }
    }

    /// Keeps a `prefix:Name` property if it is DJI's or `tiff:Model`.
    fn property(&mut self, qname: &str, value: String, dji_prefixes: &[String]) {
        let Some((prefix, local)) = qname.split_once(':') else {
            return;
        };
        if dji_prefixes.iter().any(|p| p == prefix) {
            self.dji.push((local.to_owned(), value));
        } else if qname == "tiff:Model" && !value.is_empty() {
            self.tiff_model = Some(value);
        }
    }
}

/// An element's qualified name.
fn qname(e: &BytesStart) -> String {
    e.name().as_ref().to_owned()
}

/// Replaces XML's predefined entities and numeric character references;
/// anything else is left as written.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use exif::experimental::Writer;
    use exif::Rational;

    fn ascii(tag: Tag, s: &str) -> Field {
        Field {
            tag,
            ifd_num: In::PRIMARY,
            value: ExifValue::Ascii(vec![s.as_bytes().to_vec()]),
        }
    }

    fn rationals(tag: Tag, v: &[(u32, u32)]) -> Field {
        let value = ExifValue::Rational(
            v.iter()
                .map(|&(num, denom)| Rational { num, denom })
                .collect(),
        );
        Field {
            tag,
            ifd_num: In::PRIMARY,
            value,
        }
    }

    fn short(tag: Tag, v: u16) -> Field {
        Field {
            tag,
            ifd_num: In::PRIMARY,
            value: ExifValue::Short(vec![v]),
        }
    }

    fn long(tag: Tag, v: u32) -> Field {
        Field {
            tag,
            ifd_num: In::PRIMARY,
            value: ExifValue::Long(vec![v]),
        }
    }

    /// Little-endian TIFF data holding the fields.
    fn tiff(fields: &[Field]) -> Vec<u8> {
        let mut w = Writer::new();
        for f in fields {
            w.push_field(f);
        }
        let mut buf = std::io::Cursor::new(Vec::new());
        w.write(&mut buf, true).expect("EXIF writes");
        buf.into_inner()
    }

    /// A DJI-like set of EXIF fields: GPS at 36°10'12.34"N 75°45'W,
    /// 23.456 m, 2021-09-03 12:33:41.500 UTC.
    fn dji_fields() -> Vec<Field> {
        vec![
            ascii(Tag::Make, "DJI"),
            ascii(Tag::Model, "FC3170"),
            ascii(Tag::DateTimeOriginal, "2021:09:03 14:33:41"),
            rationals(Tag::FocalLength, &[(45, 10)]),
            short(Tag::FocalLengthIn35mmFilm, 24),
            long(Tag::PixelXDimension, 4000),
            long(Tag::PixelYDimension, 3000),
            rationals(Tag::FocalPlaneXResolution, &[(625, 1)]),
            rationals(Tag::FocalPlaneYResolution, &[(625, 1)]),
            short(Tag::FocalPlaneResolutionUnit, 4),
            rationals(Tag::DigitalZoomRatio, &[(2, 1)]),
            rationals(Tag::ExposureTime, &[(1, 1000)]),
            rationals(Tag::FNumber, &[(28, 10)]),
            short(Tag::PhotographicSensitivity, 100),
            ascii(Tag::GPSLatitudeRef, "N"),
            rationals(Tag::GPSLatitude, &[(36, 1), (10, 1), (1234, 100)]),
            ascii(Tag::GPSLongitudeRef, "W"),
            rationals(Tag::GPSLongitude, &[(75, 1), (45, 1), (0, 1)]),
            Field {
                tag: Tag::GPSAltitudeRef,
                ifd_num: In::PRIMARY,
                value: ExifValue::Byte(vec![0]),
            },
            rationals(Tag::GPSAltitude, &[(23456, 1000)]),
            ascii(Tag::GPSDateStamp, "2021:09:03"),
            rationals(Tag::GPSTimeStamp, &[(12, 1), (33, 1), (41500, 1000)]),
        ]
    }

    const XMP_ATTRIBUTES: &str = r#"<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="DJI Meta Data"
    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
    xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"
    tiff:Model="FC3170"
    drone-dji:AbsoluteAltitude="+23.50"
    drone-dji:RelativeAltitude="+5.30"
    drone-dji:GimbalRollDegree="+0.00"
    drone-dji:GimbalYawDegree="-12.30"
    drone-dji:GimbalPitchDegree="-90.00"
    drone-dji:FlightRollDegree="+1.10"
    drone-dji:FlightYawDegree="-10.50"
    drone-dji:FlightPitchDegree="-2.20"
    drone-dji:GpsLatitude="36.17009"
    drone-dji:GpsLongtitude="-75.75"
    drone-dji:CalibratedFocalLength="3666.666504"
    drone-dji:CalibratedOpticalCenterX="2000.000000"
    drone-dji:CalibratedOpticalCenterY="1500.000000"
    drone-dji:DewarpData="2021-09-01;3678.0,3677.0,10.0,-12.0,-0.27,0.11,0.0001,-0.0002,-0.02"
    drone-dji:LRFTargetLat="36.1710"
    drone-dji:LRFTargetLon="-75.7510"
    drone-dji:LRFTargetDistance="120.5"
    drone-dji:RtkFlag="50"
    drone-dji:SelfData="Undefined &amp; more">
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"#;

    const XMP_ELEMENTS: &str = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dji="http://www.dji.com/drone-dji/1.0/">
   <dji:GpsLatitude>36.5</dji:GpsLatitude>
   <dji:GpsLongitude>-75.5</dji:GpsLongitude>
   <dji:AbsoluteAltitude>+120.25</dji:AbsoluteAltitude>
   <dji:RelativeAltitude>+10.00</dji:RelativeAltitude>
   <dji:GimbalPitchDegree>-45.0</dji:GimbalPitchDegree>
   <dji:GimbalYawDegree>100.5</dji:GimbalYawDegree>
   <dji:FlightYawDegree>99.0</dji:FlightYawDegree>
   <dji:CamReverse>0</dji:CamReverse>
   <dji:ImageSource>WideCamera</dji:ImageSource>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>"#;

    /// A real (tiny) JPEG from the image crate, with APP1 segments put
    /// right after its SOI.
    fn jpeg(exif_tiff: Option<&[u8]>, xmp: Option<&str>) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(8, 8, image::Rgb([90, 120, 200]));
        let mut plain = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut plain)
            .encode_image(&img)
            .unwrap();
        let mut out = plain[..2].to_vec();
        let mut app1 = |sig: &[u8], body: &[u8]| {
            let len = (2 + sig.len() + body.len()) as u16;
            out.extend_from_slice(&[0xFF, 0xE1]);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(sig);
            out.extend_from_slice(body);
        };
        if let Some(t) = exif_tiff {
            app1(EXIF_SIG, t);
        }
        if let Some(x) = xmp {
            app1(XMP_SIG, x.as_bytes());
        }
        out.extend_from_slice(&plain[2..]);
        out
    }

    fn x<'a>(r: &'a Record, key: &str) -> &'a Value {
        r.extra.get(key).unwrap_or(&Value::Null)
    }

    fn near(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-6)
    }

    #[test]
    fn exif_and_xmp_attributes() {
        let bytes = jpeg(Some(&tiff(&dji_fields())), Some(XMP_ATTRIBUTES));
        let t = parse(&bytes, Path::new("DJI_0001.JPG")).unwrap();
        assert_eq!((t.packets, t.records.len()), (1, 1));
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        let r = &t.records[0];
        assert_eq!(r.source, Some(Format::Exif));
        assert_eq!(r.t_s, None);
        assert!(near(r.lat, 36.0 + 10.0 / 60.0 + 12.34 / 3600.0));
        assert!(near(r.lon, -75.75));
        assert_eq!(r.alt_m, Some(23.5), "XMP AbsoluteAltitude wins");
        assert_eq!(x(r, "exif_gps_altitude_m"), 23.456);
        assert_eq!(r.rel_alt_m, Some(5.3));
        assert_eq!(r.utc.unwrap().iso(), "2021-09-03T12:33:41.500Z");
        assert_eq!(
            (r.gimbal_pitch_deg, r.gimbal_yaw_deg, r.gimbal_roll_deg),
            (Some(-90.0), Some(-12.3), Some(0.0))
        );
        assert_eq!(
            (r.heading_deg, r.pitch_deg, r.roll_deg),
            (Some(-10.5), Some(-2.2), Some(1.1))
        );
        assert_eq!(r.camera.model.as_deref(), Some("FC3170"));
        assert_eq!(x(r, "make"), "DJI");
        assert_eq!(r.camera.focal_length_mm, Some(4.5));
        assert_eq!(r.camera.focal_length_35mm, Some(24.0));
        assert_eq!(r.camera.digital_zoom, Some(2.0));
        assert_eq!(r.camera.image_size, Some((4000, 3000)));
        assert!(near(r.camera.sensor_width_mm, 6.4));
        assert!(near(r.camera.sensor_height_mm, 4.8));
        assert_eq!(x(r, "exposure_time_s"), 0.001);
        assert_eq!(x(r, "fnum"), 2.8);
        assert_eq!(x(r, "iso"), 100.0);
        assert_eq!(x(r, "gps_latitude"), 36.17009);
        assert_eq!(x(r, "gps_longtitude"), -75.75);
        assert_eq!(x(r, "calibrated_focal_length"), 3666.666504);
        assert_eq!(x(r, "calibrated_optical_center_x"), 2000.0);
        assert_eq!(x(r, "calibrated_optical_center_y"), 1500.0);
        assert_eq!(
            x(r, "dewarp_data"),
            "2021-09-01;3678.0,3677.0,10.0,-12.0,-0.27,0.11,0.0001,-0.0002,-0.02"
        );
        assert_eq!(x(r, "lrf_target_lat"), 36.171);
        assert_eq!(x(r, "lrf_target_lon"), -75.751);
        assert_eq!(x(r, "lrf_target_distance"), 120.5);
        assert_eq!(x(r, "rtk_flag"), 50);
        assert_eq!(x(r, "self_data"), "Undefined & more");
        assert!(
            r.extra.get("absolute_altitude").is_none(),
            "mapped fields are not repeated"
        );
    }

    #[test]
    fn xmp_elements_and_a_bound_prefix() {
        let fields = vec![
            ascii(Tag::DateTimeOriginal, "2021:09:03 14:33:41"),
            ascii(Tag::SubSecTimeOriginal, "25"),
            ascii(Tag::OffsetTimeOriginal, "+02:00"),
        ];
        let bytes = jpeg(Some(&tiff(&fields)), Some(XMP_ELEMENTS));
        let t = parse(&bytes, Path::new("DJI_0002.JPG")).unwrap();
        let r = &t.records[0];
        assert_eq!(
            (r.lat, r.lon),
            (Some(36.5), Some(-75.5)),
            "XMP position as fallback"
        );
        assert_eq!(r.alt_m, Some(120.25));
        assert_eq!(r.rel_alt_m, Some(10.0));
        assert_eq!(r.gimbal_pitch_deg, Some(-45.0));
        assert_eq!(r.gimbal_yaw_deg, Some(100.5));
        assert_eq!(r.heading_deg, Some(99.0));
        assert_eq!(x(r, "cam_reverse"), 0);
        assert_eq!(x(r, "image_source"), "WideCamera");
        assert_eq!(r.utc.unwrap().iso(), "2021-09-03T12:33:41.25Z");
        assert_eq!(x(r, "offset_time_original"), "+02:00");
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    }

    #[test]
    fn only_exif() {
        let mut fields = dji_fields();
        fields.retain(|f| !matches!(f.tag, Tag::GPSDateStamp | Tag::GPSTimeStamp));
        let bytes = jpeg(Some(&tiff(&fields)), None);
        let t = parse(&bytes, Path::new("DJI_0003.JPG")).unwrap();
        let r = &t.records[0];
        assert!(near(r.lon, -75.75));
        assert_eq!(r.alt_m, Some(23.456), "EXIF altitude when there is no XMP");
        assert_eq!(r.rel_alt_m, None);
        assert_eq!(r.utc.unwrap().iso(), "2021-09-03T14:33:41Z");
        assert_eq!(x(r, "datetime_original"), "2021:09:03 14:33:41");
        assert!(
            t.warnings.iter().any(|w| w.contains("taken as UTC")),
            "{:?}",
            t.warnings
        );
    }

    #[test]
    fn zero_zero_is_no_fix_and_south_west_is_negative() {
        let fields = vec![
            ascii(Tag::GPSLatitudeRef, "N"),
            rationals(Tag::GPSLatitude, &[(0, 1), (0, 1), (0, 1)]),
            ascii(Tag::GPSLongitudeRef, "E"),
            rationals(Tag::GPSLongitude, &[(0, 1), (0, 1), (0, 1)]),
        ];
        let t = parse(&jpeg(Some(&tiff(&fields)), None), Path::new("a.jpg")).unwrap();
        assert_eq!((t.records[0].lat, t.records[0].lon), (None, None));
        assert!(t.warnings.iter().any(|w| w.contains("no GPS fix")));
        let fields = vec![
            ascii(Tag::GPSLatitudeRef, "S"),
            rationals(Tag::GPSLatitude, &[(33, 1), (30, 1), (0, 1)]),
            ascii(Tag::GPSLongitudeRef, "E"),
            rationals(Tag::GPSLongitude, &[(151, 1), (12, 1), (0, 1)]),
            Field {
                tag: Tag::GPSAltitudeRef,
                ifd_num: In::PRIMARY,
                value: ExifValue::Byte(vec![1]),
            },
            rationals(Tag::GPSAltitude, &[(5, 1)]),
        ];
        let t = parse(&jpeg(Some(&tiff(&fields)), None), Path::new("b.jpg")).unwrap();
        assert!(near(t.records[0].lat, -33.5));
        assert!(near(t.records[0].lon, 151.2));
        assert_eq!(t.records[0].alt_m, Some(-5.0));
    }

    #[test]
    fn tiff_container_with_xmp() {
        let mut bytes = tiff(&dji_fields());
        bytes.extend_from_slice(XMP_ATTRIBUTES.as_bytes());
        let t = parse(&bytes, Path::new("DJI_0004.DNG")).unwrap();
        let r = &t.records[0];
        assert!(near(r.lon, -75.75));
        assert_eq!(r.rel_alt_m, Some(5.3));
    }

    #[test]
    fn neither_is_empty_and_non_images_are_refused() {
        let bytes = jpeg(None, None);
        match parse(&bytes, Path::new("plain.jpg")) {
            Err(TelemetryError::Empty { path, reason }) => {
                assert_eq!(path, Path::new("plain.jpg"));
                assert!(reason.contains("EXIF"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let err = parse(b"GIF89a....", Path::new("x.gif"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.gif") && err.contains("not a JPEG"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = read(&dir.path().join("missing.jpg"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.jpg"), "{err}");
        let path = dir.path().join("DJI_0005.JPG");
        std::fs::write(
            &path,
            jpeg(Some(&tiff(&dji_fields())), Some(XMP_ATTRIBUTES)),
        )
        .unwrap();
        assert_eq!(read(&path).unwrap().records.len(), 1);
    }

    #[test]
    fn never_panics_on_truncated_or_random_input() {
        let full = jpeg(Some(&tiff(&dji_fields())), Some(XMP_ATTRIBUTES));
        for cut in 0..full.len() {
            let _ = parse(&full[..cut], Path::new("cut.jpg"));
        }
        let tiff_bytes = tiff(&dji_fields());
        for cut in 0..tiff_bytes.len() {
            let _ = parse(&tiff_bytes[..cut], Path::new("cut.dng"));
        }
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for round in 0..400 {
            let len = 4 + (seed % 600) as usize;
            let mut bytes: Vec<u8> = match round % 3 {
                0 => vec![0xFF, 0xD8],
                1 => b"II*\0".to_vec(),
                _ => full[..full.len().min(200)].to_vec(),
            };
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push((seed >> 24) as u8);
            }
            let _ = parse(&bytes, Path::new("random.jpg"));
        }
        // Damaged XMP inside a good JPEG.
        let broken = &XMP_ATTRIBUTES[..XMP_ATTRIBUTES.len() / 2];
        let _ = parse(&jpeg(None, Some(broken)), Path::new("broken.jpg"));
    }

    mod props {
        use super::*;
        use crate::telemetry::fuzz;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            #[test]
            fn damaged_dji_stills_never_panic(
                bytes in fuzz::mutated(jpeg(Some(&tiff(&dji_fields())), Some(XMP_ATTRIBUTES)))
            ) {
                if let Ok(t) = parse(&bytes, Path::new("damaged.jpg")) {
                    for r in &t.records {
                        prop_assert_eq!(fuzz::non_finite(r), None, "{:?}", r);
                    }
                }
            }

            /// A JPEG whose EXIF block is random bytes.
            #[test]
            fn random_exif_never_panics(tiff_bytes in prop::collection::vec(any::<u8>(), 0..300)) {
                let mut b = b"II*\x00\x08\x00\x00\x00".to_vec();
                b.extend_from_slice(&tiff_bytes);
                let _ = parse(&jpeg(Some(&b), None), Path::new("random.jpg"));
            }
        }
    }
}
