//! MISB ST 0601 UAS Datalink Local Set: decoding and encoding.
//!
//! A packet is the 16-byte UAS Datalink LS key ([`klv::UAS_LS_KEY`]), a BER
//! length, and Local Set items (BER-OID tag, BER length, value). The last
//! item must be the checksum, tag 1, two bytes: the [`klv::checksum`] of
//! the packet from the first key byte through that item's length byte.
//!
//! Most values are integers mapped linearly onto a range (MISB's
//! "IMAPA-style" mappings of ST 0601 before IMAPB). For an unsigned
//! integer of `n` bits, `value = min + int * (max - min) / (2^n - 1)`; for
//! a signed one, `value = int * max / (2^(n-1) - 1)`, symmetric about 0,
//! and the most negative integer (`0x80…00`) is reserved: ST 0601 calls it
//! "error" or "out of range", and it decodes to *absent*, never to a
//! number. Every tag's type, length and range is in [`TAGS`], the one table
//! both directions use.
//!
//! Versions: ST 0601 has only ever added tags, kept every mapping, and
//! deprecated a few (e.g. tag 66 target location covariance). Mapped
//! values must have their table length (a different length is an encoder
//! error, and the item is reported in `extra.invalid_tags` instead of being
//! guessed at); plain integers (time stamps, version, flags, enumerations)
//! are read from any length 1–8, since encoders have written shortened
//! forms of them. Where both the short and the "full" form of an angle are
//! present (tag 6 and 90 pitch, 7 and 91 roll), the full form wins; full
//! corner points (82–89) win over frame-centre offsets (26–33).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::klv::{self, LocalSet};
use super::{Format, Record, Utc};

/// Why a packet was not decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PacketError {
    #[error("{0}")]
    Malformed(String),
    #[error("checksum mismatch")]
    Checksum,
}

/// How a tag's value is laid out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ty {
    /// Unsigned integer of `len` bytes mapped onto `min..=max`.
    U { len: usize, min: f64, max: f64 },
    /// Signed integer of `len` bytes mapped onto `-max..=max`; `0x80…00`
    /// is the reserved error value.
    S { len: usize, max: f64 },
    /// Unsigned integer, nominally `len` bytes (1–8 accepted).
    Int { len: usize },
    /// Signed integer of `len` bytes, unmapped.
    SInt { len: usize },
    /// Text (ISO 646 / UTF-8).
    Text,
    /// Bytes kept as lower-case hex (nested sets, identifiers).
    Hex,
}

/// One row of the ST 0601 tag table.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub tag: u8,
    /// The [`Record`] field it fills, or its key in `Record::extra`.
    pub name: &'static str,
    pub ty: Ty,
}

const fn u(tag: u8, name: &'static str, len: usize, min: f64, max: f64) -> Spec {
    Spec {
        tag,
        name,
        ty: Ty::U { len, min, max },
    }
}
const fn s(tag: u8, name: &'static str, len: usize, max: f64) -> Spec {
    Spec {
        tag,
        name,
        ty: Ty::S { len, max },
    }
}
const fn int(tag: u8, name: &'static str, len: usize) -> Spec {
    Spec {
        tag,
        name,
        ty: Ty::Int { len },
    }
}
const fn text(tag: u8, name: &'static str) -> Spec {
    Spec {
        tag,
        name,
        ty: Ty::Text,
    }
}
const fn raw(tag: u8, name: &'static str) -> Spec {
    Spec {
        tag,
        name,
        ty: Ty::Hex,
    }
}

/// Altitude-style range of ST 0601: uint16 over -900..19000 m.
const ALT: (f64, f64) = (-900.0, 19000.0);

/// Every tag decoded, in tag order. Names without a `Record` field of the
/// same name go to `extra`. Tag 1 (checksum) is handled by the framing.
pub const TAGS: &[Spec] = &[
    int(2, "precision_time_stamp", 8),
    text(3, "mission_id"),
    text(4, "platform_tail_number"),
    u(5, "heading_deg", 2, 0.0, 360.0),
    s(6, "pitch_deg", 2, 20.0),
    s(7, "roll_deg", 2, 50.0),
    u(8, "platform_true_airspeed_mps", 1, 0.0, 255.0),
    u(9, "platform_indicated_airspeed_mps", 1, 0.0, 255.0),
    text(10, "platform_designation"),
    text(11, "image_source_sensor"),
    text(12, "image_coordinate_system"),
    s(13, "lat", 4, 90.0),
    s(14, "lon", 4, 180.0),
    u(15, "alt_m", 2, ALT.0, ALT.1),
    u(16, "hfov_deg", 2, 0.0, 180.0),
    u(17, "vfov_deg", 2, 0.0, 180.0),
    u(18, "sensor_rel_azimuth_deg", 4, 0.0, 360.0),
    s(19, "sensor_rel_elevation_deg", 4, 180.0),
    u(20, "sensor_rel_roll_deg", 4, 0.0, 360.0),
    u(21, "slant_range_m", 4, 0.0, 5_000_000.0),
    u(22, "target_width_m", 2, 0.0, 10_000.0),
    s(23, "frame_center_lat", 4, 90.0),
    s(24, "frame_center_lon", 4, 180.0),
    u(25, "frame_center_elev_m", 2, ALT.0, ALT.1),
    s(26, "offset_corner_lat_1", 2, 0.075),
    s(27, "offset_corner_lon_1", 2, 0.075),
    s(28, "offset_corner_lat_2", 2, 0.075),
    s(29, "offset_corner_lon_2", 2, 0.075),
    s(30, "offset_corner_lat_3", 2, 0.075),
    s(31, "offset_corner_lon_3", 2, 0.075),
    s(32, "offset_corner_lat_4", 2, 0.075),
    s(33, "offset_corner_lon_4", 2, 0.075),
    int(34, "icing_detected", 1),
    u(35, "wind_direction_deg", 2, 0.0, 360.0),
    u(36, "wind_speed_mps", 1, 0.0, 100.0),
    u(37, "static_pressure_mbar", 2, 0.0, 5000.0),
    u(38, "density_altitude_m", 2, ALT.0, ALT.1),
    Spec {
        tag: 39,
        name: "outside_air_temperature_c",
        ty: Ty::SInt { len: 1 },
    },
    s(40, "target_location_lat", 4, 90.0),
    s(41, "target_location_lon", 4, 180.0),
    u(42, "target_location_elevation_m", 2, ALT.0, ALT.1),
    // Track gate sizes: one unit is two pixels.
    u(43, "target_track_gate_width_px", 1, 0.0, 510.0),
    u(44, "target_track_gate_height_px", 1, 0.0, 510.0),
    u(45, "target_error_estimate_ce90_m", 2, 0.0, 4095.0),
    u(46, "target_error_estimate_le90_m", 2, 0.0, 4095.0),
    int(47, "generic_flag_data", 1),
    raw(48, "security_local_set"),
    u(49, "differential_pressure_mbar", 2, 0.0, 5000.0),
    s(50, "platform_angle_of_attack_deg", 2, 20.0),
    s(51, "platform_vertical_speed_mps", 2, 180.0),
    s(52, "platform_sideslip_angle_deg", 2, 20.0),
    u(53, "airfield_barometric_pressure_mbar", 2, 0.0, 5000.0),
    u(54, "airfield_elevation_m", 2, ALT.0, ALT.1),
    u(55, "relative_humidity_pct", 1, 0.0, 100.0),
    u(56, "platform_ground_speed_mps", 1, 0.0, 255.0),
    u(57, "ground_range_m", 4, 0.0, 5_000_000.0),
    u(58, "platform_fuel_remaining_kg", 2, 0.0, 10_000.0),
    text(59, "platform_call_sign"),
    int(60, "weapon_load", 2),
    int(61, "weapon_fired", 1),
    int(62, "laser_prf_code", 2),
    int(63, "sensor_field_of_view_name", 1),
    u(64, "platform_magnetic_heading_deg", 2, 0.0, 360.0),
    int(65, "ls_version", 1),
    s(67, "alternate_platform_lat", 4, 90.0),
    s(68, "alternate_platform_lon", 4, 180.0),
    u(69, "alternate_platform_altitude_m", 2, ALT.0, ALT.1),
    text(70, "alternate_platform_name"),
    u(71, "alternate_platform_heading_deg", 2, 0.0, 360.0),
    int(72, "event_start_time_us", 8),
    raw(73, "rvt_local_set"),
    raw(74, "vmti_local_set"),
    u(75, "sensor_ellipsoid_height_m", 2, ALT.0, ALT.1),
    u(76, "alternate_platform_ellipsoid_height_m", 2, ALT.0, ALT.1),
    int(77, "operational_mode", 1),
    u(78, "frame_center_height_above_ellipsoid_m", 2, ALT.0, ALT.1),
    s(79, "sensor_north_velocity_mps", 2, 327.0),
    s(80, "sensor_east_velocity_mps", 2, 327.0),
    raw(81, "image_horizon_pixel_pack"),
    s(82, "corner_lat_1", 4, 90.0),
    s(83, "corner_lon_1", 4, 180.0),
    s(84, "corner_lat_2", 4, 90.0),
    s(85, "corner_lon_2", 4, 180.0),
    s(86, "corner_lat_3", 4, 90.0),
    s(87, "corner_lon_3", 4, 180.0),
    s(88, "corner_lat_4", 4, 90.0),
    s(89, "corner_lon_4", 4, 180.0),
    s(90, "pitch_deg", 4, 90.0),
    s(91, "roll_deg", 4, 90.0),
    s(92, "platform_angle_of_attack_full_deg", 4, 90.0),
    s(93, "platform_sideslip_angle_full_deg", 4, 180.0),
    raw(94, "miis_core_identifier"),
    raw(95, "sar_motion_imagery_local_set"),
];

/// The table row of `tag`.
pub fn spec(tag: u64) -> Option<&'static Spec> {
    TAGS.iter().find(|s| s.tag as u64 == tag)
}

/// The typed `Record` field a table name stands for.
fn slot<'a>(r: &'a mut Record, name: &str) -> Option<&'a mut Option<f64>> {
    Some(match name {
        "heading_deg" => &mut r.heading_deg,
        "pitch_deg" => &mut r.pitch_deg,
        "roll_deg" => &mut r.roll_deg,
        "lat" => &mut r.lat,
        "lon" => &mut r.lon,
        "alt_m" => &mut r.alt_m,
        "hfov_deg" => &mut r.hfov_deg,
        "vfov_deg" => &mut r.vfov_deg,
        "sensor_rel_azimuth_deg" => &mut r.sensor_rel_azimuth_deg,
        "sensor_rel_elevation_deg" => &mut r.sensor_rel_elevation_deg,
        "sensor_rel_roll_deg" => &mut r.sensor_rel_roll_deg,
        "slant_range_m" => &mut r.slant_range_m,
        "frame_center_lat" => &mut r.frame_center_lat,
        "frame_center_lon" => &mut r.frame_center_lon,
        "frame_center_elev_m" => &mut r.frame_center_elev_m,
        _ => return None,
    })
}

/// Tags of the full corner points 1–4 as (lat, lon) pairs, and of the
/// offsets from frame centre. Point 1 is upper left, then upper right,
/// lower right, lower left.
const FULL_CORNERS: [(u8, u8); 4] = [(82, 83), (84, 85), (86, 87), (88, 89)];
const OFFSET_CORNERS: [(u8, u8); 4] = [(26, 27), (28, 29), (30, 31), (32, 33)];

/// The size of one quantisation step of a mapped tag (for tests and for
/// anyone judging a value's precision).
pub fn step(ty: Ty) -> Option<f64> {
    match ty {
        Ty::U { len, min, max } => Some((max - min) / (2f64.powi(8 * len as i32) - 1.0)),
        Ty::S { len, max } => Some(max / (2f64.powi(8 * len as i32 - 1) - 1.0)),
        _ => None,
    }
}

/// Decodes one value. `Err(())` when its length is wrong for the type;
/// `Ok(None)` for the reserved error value.
fn decode_value(ty: Ty, b: &[u8]) -> Result<Option<Value>, ()> {
    match ty {
        Ty::U { len, min, max } => {
            if b.len() != len {
                return Err(());
            }
            let q = klv::be_uint(b).ok_or(())? as f64;
            debug_assert!(max > min);
            Ok(Some(Value::from(min + q * step(ty).unwrap_or(0.0))))
        }
        Ty::S { len, .. } => {
            if b.len() != len {
                return Err(());
            }
            let q = klv::be_int(b).ok_or(())?;
            if q == -(1i64 << (8 * len - 1)) {
                return Ok(None);
            }
            Ok(Some(Value::from(q as f64 * step(ty).unwrap_or(0.0))))
        }
        Ty::Int { .. } => Ok(Some(Value::from(klv::be_uint(b).ok_or(())?))),
        Ty::SInt { len } => {
            if b.len() != len {
                return Err(());
            }
            Ok(Some(Value::from(klv::be_int(b).ok_or(())?)))
        }
        Ty::Text => Ok(Some(Value::from(
            String::from_utf8_lossy(b)
                .trim_end_matches('\0')
                .to_string(),
        ))),
        Ty::Hex => Ok(Some(Value::from(klv::hex(b)))),
    }
}

/// Encodes one value, or `None` when it is missing, of the wrong kind, or
/// outside what the tag can represent (never clamped: a clamped number
/// would be a false one).
fn encode_value(ty: Ty, v: &Value) -> Option<Vec<u8>> {
    let be = |q: u64, len: usize| q.to_be_bytes()[8 - len..].to_vec();
    match ty {
        Ty::U { len, min, max } => {
            let x = v.as_f64()?;
            if !(min..=max).contains(&x) {
                return None;
            }
            Some(be(((x - min) / step(ty)?).round() as u64, len))
        }
        Ty::S { len, max } => {
            let x = v.as_f64()?;
            if !(-max..=max).contains(&x) {
                return None;
            }
            Some(be((x / step(ty)?).round() as i64 as u64, len))
        }
        Ty::Int { len } => {
            let q = v.as_u64()?;
            (len >= 8 || q < 1u64 << (8 * len)).then(|| be(q, len))
        }
        Ty::SInt { len } => {
            let q = v.as_i64()?;
            let lim = 1i64 << (8 * len - 1);
            (-lim..lim).contains(&q).then(|| be(q as u64, len))
        }
        Ty::Text => Some(v.as_str()?.as_bytes().to_vec()),
        Ty::Hex => hex::decode(v.as_str()?).ok(),
    }
}

/// Decodes one packet that starts with the UAS Datalink Local Set key.
///
/// The checksum is checked first: a packet whose last item is not a
/// two-byte tag 1 is [`PacketError::Malformed`] (ST 0601 requires it, and
/// a packet that cannot be verified is not used), a wrong one
/// [`PacketError::Checksum`]. Bytes after the packet's declared length are
/// ignored. Unknown tags are skipped and listed in `extra.unknown_tags`.
pub fn decode(packet: &[u8]) -> Result<Record, PacketError> {
    let whole = verified(packet)?;
    let value = klv::split_packet(whole).map(|t| t.value).unwrap_or(&[]);
    let mut vals: BTreeMap<u8, Value> = BTreeMap::new();
    let (mut unknown, mut invalid) = (Vec::new(), Vec::new());
    for item in LocalSet::new(&value[..value.len().saturating_sub(4)]) {
        let item =
            item.map_err(|at| PacketError::Malformed(format!("bad item at value byte {at}")))?;
        match spec(item.tag) {
            Some(sp) => match decode_value(sp.ty, item.value) {
                Ok(Some(v)) => {
                    vals.insert(sp.tag, v);
                }
                Ok(None) => {}
                Err(()) => invalid.push(item.tag),
            },
            None if item.tag == 1 => {}
            None => unknown.push(item.tag),
        }
    }
    let mut rec = assemble(vals);
    rec.checksum_ok = Some(true);
    if !unknown.is_empty() {
        rec.extra
            .insert("unknown_tags".into(), Value::from(unknown));
    }
    if !invalid.is_empty() {
        rec.extra
            .insert("invalid_tags".into(), Value::from(invalid));
    }
    Ok(rec)
}

/// The packet (key through checksum), once its framing and checksum hold.
fn verified(packet: &[u8]) -> Result<&[u8], PacketError> {
    let t = klv::split_packet(packet)
        .ok_or_else(|| PacketError::Malformed("packet cut short or bad BER length".into()))?;
    if !klv::key_matches(t.key, &klv::UAS_LS_KEY) {
        return Err(PacketError::Malformed(
            "not a UAS Datalink Local Set key".into(),
        ));
    }
    let w = t.whole;
    let n = t.value.len();
    if n < 4 || t.value[n - 4..n - 2] != [0x01, 0x02] {
        return Err(PacketError::Malformed(
            "no checksum as the last item".into(),
        ));
    }
    let stated = u16::from_be_bytes([w[w.len() - 2], w[w.len() - 1]]);
    if klv::checksum(&w[..w.len() - 2]) != stated {
        return Err(PacketError::Checksum);
    }
    Ok(w)
}

/// Builds the record from decoded values, in tag order, so that the full
/// forms (90, 91) overwrite the short ones (6, 7).
fn assemble(vals: BTreeMap<u8, Value>) -> Record {
    let mut rec = Record::new(Format::St0601);
    let corners = corners(&vals);
    let is_corner = |t: u8| (26..=33).contains(&t) || (82..=89).contains(&t);
    for (tag, v) in &vals {
        let Some(sp) = spec(*tag as u64) else {
            continue;
        };
        match (*tag, slot(&mut rec, sp.name)) {
            (_, Some(f)) => *f = v.as_f64(),
            (2, _) => {
                rec.utc = v
                    .as_u64()
                    .and_then(|us| i64::try_from(us).ok())
                    .map(|us| Utc::from_unix_us(us, 6))
            }
            (65, _) => rec.ls_version = v.as_u64().and_then(|x| u32::try_from(x).ok()),
            (t, _) if is_corner(t) && corners.is_some() => {}
            _ => {
                rec.extra.insert(sp.name.to_string(), v.clone());
            }
        }
    }
    rec.corners = corners;
    rec
}

/// Corners as `[lon, lat]` UL, UR, LR, LL: from the full points when all
/// eight are there, else from frame centre plus the eight offsets.
fn corners(vals: &BTreeMap<u8, Value>) -> Option<[[f64; 2]; 4]> {
    let get = |t: u8| vals.get(&t).and_then(Value::as_f64);
    let build = |pairs: [(u8, u8); 4], base: (f64, f64)| -> Option<[[f64; 2]; 4]> {
        let mut out = [[0.0; 2]; 4];
        for (o, (la, lo)) in out.iter_mut().zip(pairs) {
            *o = [base.1 + get(lo)?, base.0 + get(la)?];
        }
        Some(out)
    };
    build(FULL_CORNERS, (0.0, 0.0)).or_else(|| build(OFFSET_CORNERS, (get(23)?, get(24)?)))
}

/// Encodes a record as one packet, checksum included: tag 2 first (from
/// `utc`), every table tag the record has (typed fields, `ls_version`,
/// corners, and `extra` entries by their table names), then the checksum.
/// Angles with a short and a full form are written in both where the
/// short form's range allows; corners as full points, and as offsets too
/// when the frame centre is known and they fit ±0.075°.
pub fn encode(record: &Record) -> Vec<u8> {
    let mut items: Vec<(u64, Vec<u8>)> = Vec::new();
    for sp in TAGS {
        if let Some(v) = value_for(record, sp) {
            if let Some(b) = encode_value(sp.ty, &v) {
                items.push((sp.tag as u64, b));
            }
        }
    }
    encode_items(&items)
}

/// The value a record has for a table tag.
fn value_for(record: &Record, sp: &Spec) -> Option<Value> {
    let mut r = record.clone();
    if let Some(f) = slot(&mut r, sp.name) {
        return f.map(Value::from);
    }
    let corner = |i: usize, lat: bool| record.corners.map(|c| c[i][usize::from(lat)]);
    let t = sp.tag;
    match t {
        2 => record
            .utc
            .and_then(|u| u64::try_from(u.unix_us).ok())
            .map(Value::from),
        65 => record.ls_version.map(Value::from),
        82..=89 => corner(((t - 82) / 2) as usize, t.is_multiple_of(2)).map(Value::from),
        26..=33 => {
            let base = if t.is_multiple_of(2) {
                record.frame_center_lat
            } else {
                record.frame_center_lon
            }?;
            corner(((t - 26) / 2) as usize, t.is_multiple_of(2)).map(|c| Value::from(c - base))
        }
        _ => record.extra.get(sp.name).cloned(),
    }
}

/// Builds a packet from raw `(tag, value)` items in the order given,
/// appending the checksum item. For encoders and for tests that need
/// packets [`encode`] would not write (offset-only corners, odd lengths,
/// unknown tags).
pub fn encode_items(items: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut value = Vec::new();
    for (tag, v) in items {
        klv::push_local_item(*tag, v, &mut value);
    }
    let mut out = klv::UAS_LS_KEY.to_vec();
    klv::encode_ber_length(value.len() + 4, &mut out);
    out.extend_from_slice(&value);
    out.extend_from_slice(&[0x01, 0x02]);
    let sum = klv::checksum(&out);
    out.extend_from_slice(&sum.to_be_bytes());
    out
}

/// A map of `extra` entries, for callers building records to encode.
pub fn extra_of(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_record() -> Record {
        let mut r = Record::new(Format::St0601);
        r.utc = Some(Utc::from_unix_us(1_630_672_421_123_456, 6));
        r.heading_deg = Some(159.97);
        r.pitch_deg = Some(-0.43);
        r.roll_deg = Some(3.41);
        r.lat = Some(60.176_822_966);
        r.lon = Some(128.426_759_042);
        r.alt_m = Some(14190.7);
        r.hfov_deg = Some(144.57);
        r.vfov_deg = Some(152.64);
        r.sensor_rel_azimuth_deg = Some(160.719_211);
        r.sensor_rel_elevation_deg = Some(-168.792_6);
        r.sensor_rel_roll_deg = Some(176.865_437);
        r.slant_range_m = Some(68_590.98);
        r.frame_center_lat = Some(-10.542_388);
        r.frame_center_lon = Some(29.157_890);
        r.frame_center_elev_m = Some(3216.04);
        r.corners = Some([
            [29.15, -10.53],
            [29.17, -10.53],
            [29.17, -10.55],
            [29.15, -10.55],
        ]);
        r.ls_version = Some(19);
        r.extra = extra_of(&[
            ("mission_id", "MISSION01".into()),
            ("platform_tail_number", "AF-101".into()),
            ("platform_true_airspeed_mps", 147.0.into()),
            ("platform_indicated_airspeed_mps", 159.0.into()),
            ("platform_designation", "MQ1-B".into()),
            ("image_source_sensor", "EO".into()),
            ("image_coordinate_system", "WGS-84".into()),
            ("target_width_m", 722.82.into()),
            ("icing_detected", 2.into()),
            ("wind_direction_deg", 235.92.into()),
            ("wind_speed_mps", 69.8.into()),
            ("static_pressure_mbar", 3725.19.into()),
            ("density_altitude_m", 14818.68.into()),
            ("outside_air_temperature_c", (-40).into()),
            ("target_location_lat", (-79.163_850).into()),
            ("target_location_lon", 166.400_811.into()),
            ("target_location_elevation_m", 18389.05.into()),
            ("target_track_gate_width_px", 6.0.into()),
            ("target_track_gate_height_px", 30.0.into()),
            ("target_error_estimate_ce90_m", 425.32.into()),
            ("target_error_estimate_le90_m", 608.92.into()),
            ("generic_flag_data", 49.into()),
            ("security_local_set", "0101010201030400".into()),
            ("differential_pressure_mbar", 1191.96.into()),
            ("platform_angle_of_attack_deg", (-8.67).into()),
            ("platform_vertical_speed_mps", (-61.89).into()),
            ("platform_sideslip_angle_deg", (-5.08).into()),
            ("airfield_barometric_pressure_mbar", 2088.96.into()),
            ("airfield_elevation_m", 8306.81.into()),
            ("relative_humidity_pct", 81.18.into()),
            ("platform_ground_speed_mps", 140.0.into()),
            ("ground_range_m", 3_506_979.0.into()),
            ("platform_fuel_remaining_kg", 6420.54.into()),
            ("platform_call_sign", "TOP GUN".into()),
            ("weapon_load", 45016.into()),
            ("weapon_fired", 186.into()),
            ("laser_prf_code", 1111.into()),
            ("sensor_field_of_view_name", 2.into()),
            ("platform_magnetic_heading_deg", 311.87.into()),
            ("alternate_platform_lat", (-86.041_207).into()),
            ("alternate_platform_lon", 0.155_226.into()),
            ("alternate_platform_altitude_m", 9.45.into()),
            ("alternate_platform_name", "APACHE".into()),
            ("alternate_platform_heading_deg", 32.6.into()),
            ("event_start_time_us", 1_630_672_000_000_000u64.into()),
            ("rvt_local_set", "0102".into()),
            ("vmti_local_set", "0a0b".into()),
            ("sensor_ellipsoid_height_m", 14190.72.into()),
            ("alternate_platform_ellipsoid_height_m", 9.6.into()),
            ("operational_mode", 0.into()),
            ("frame_center_height_above_ellipsoid_m", 9.0.into()),
            ("sensor_north_velocity_mps", 25.5.into()),
            ("sensor_east_velocity_mps", 25.5.into()),
            ("image_horizon_pixel_pack", "00".into()),
            ("platform_angle_of_attack_full_deg", (-8.67).into()),
            ("platform_sideslip_angle_full_deg", (-5.08).into()),
            (
                "miis_core_identifier",
                "0170f592f0237cc6a5e24cd1b3cbbd7b7d".into(),
            ),
            ("sar_motion_imagery_local_set", "01".into()),
        ]);
        r
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * 0.5 + 1e-9
    }

    #[test]
    fn every_tag_round_trips_within_its_step() {
        let r = full_record();
        let pkt = encode(&r);
        let d = decode(&pkt).expect("decodes");
        assert_eq!(d.checksum_ok, Some(true));
        assert_eq!(d.utc, r.utc);
        assert_eq!(d.ls_version, Some(19));
        for sp in TAGS {
            if sp.tag == 2
                || sp.tag == 65
                || (26..=33).contains(&sp.tag)
                || (82..=89).contains(&sp.tag)
            {
                continue;
            }
            let want = value_for(&r, sp).unwrap_or_else(|| panic!("test record lacks {}", sp.name));
            let got = value_for(&d, sp).unwrap_or_else(|| panic!("{} lost", sp.name));
            match step(sp.ty) {
                Some(st) => assert!(
                    close(want.as_f64().unwrap(), got.as_f64().unwrap(), st),
                    "{}: {want} vs {got}",
                    sp.name
                ),
                None => assert_eq!(want, got, "{}", sp.name),
            }
        }
        let c = d.corners.unwrap();
        let want = r.corners.unwrap();
        for i in 0..4 {
            assert!(close(c[i][0], want[i][0], 360.0 / 4294967294.0));
            assert!(close(c[i][1], want[i][1], 180.0 / 4294967294.0));
        }
        assert!(!d.extra.contains_key("corner_lat_1"));
        assert!(!d.extra.contains_key("unknown_tags"));
    }

    #[test]
    fn known_values_decode_to_the_specs_numbers() {
        // Worked examples from the mappings: tag 13 0x5595B66D, tag 15
        // 0xC221, tag 5 0x71C2, tag 6 0xFD3D.
        let pkt = encode_items(&[
            (5, vec![0x71, 0xC2]),
            (6, vec![0xFD, 0x3D]),
            (13, vec![0x55, 0x95, 0xB6, 0x6D]),
            (15, vec![0xC2, 0x21]),
        ]);
        let d = decode(&pkt).unwrap();
        assert!((d.heading_deg.unwrap() - 159.974_364).abs() < 1e-5);
        assert!((d.pitch_deg.unwrap() - -0.431_532).abs() < 1e-5);
        assert!((d.lat.unwrap() - 60.176_822_966).abs() < 1e-8);
        assert!((d.alt_m.unwrap() - 14_190.72).abs() < 0.01);
    }

    #[test]
    fn error_values_decode_to_none() {
        let pkt = encode_items(&[
            (6, vec![0x80, 0x00]),
            (13, vec![0x80, 0, 0, 0]),
            (14, vec![0x80, 0, 0, 0]),
            (26, vec![0x80, 0x00]),
            (90, vec![0x80, 0, 0, 0]),
        ]);
        let d = decode(&pkt).unwrap();
        assert_eq!((d.lat, d.lon, d.pitch_deg), (None, None, None));
        assert!(d.extra.get("offset_corner_lat_1").is_none());
    }

    #[test]
    fn full_forms_win_over_short_ones() {
        let pkt = encode_items(&[(6, vec![0x40, 0x00]), (90, vec![0xC0, 0, 0, 1])]);
        let d = decode(&pkt).unwrap();
        assert!((d.pitch_deg.unwrap() + 45.0).abs() < 1e-6);
        // An error in the full form leaves the short one standing.
        let pkt = encode_items(&[(6, vec![0x40, 0x00]), (90, vec![0x80, 0, 0, 0])]);
        assert!((decode(&pkt).unwrap().pitch_deg.unwrap() - 10.0).abs() < 1e-3);
    }

    #[test]
    fn corners_from_offsets_when_there_are_no_full_points() {
        let mut items = vec![
            (
                23,
                encode_value(Ty::S { len: 4, max: 90.0 }, &Value::from(10.0)).unwrap(),
            ),
            (
                24,
                encode_value(Ty::S { len: 4, max: 180.0 }, &Value::from(20.0)).unwrap(),
            ),
        ];
        let offs = [(0.01, -0.01), (0.01, 0.01), (-0.01, 0.01), (-0.01, -0.01)];
        for (i, (dlat, dlon)) in offs.iter().enumerate() {
            let t = 26 + 2 * i as u64;
            let ty = Ty::S { len: 2, max: 0.075 };
            items.push((t, encode_value(ty, &Value::from(*dlat)).unwrap()));
            items.push((t + 1, encode_value(ty, &Value::from(*dlon)).unwrap()));
        }
        let d = decode(&encode_items(&items)).unwrap();
        let c = d.corners.unwrap();
        assert!(
            (c[0][0] - 19.99).abs() < 3e-6 && (c[0][1] - 10.01).abs() < 3e-6,
            "{c:?}"
        );
        assert!((c[2][0] - 20.01).abs() < 3e-6 && (c[2][1] - 9.99).abs() < 3e-6);
        // Without all eight, the offsets stay in extra and there are no corners.
        let d = decode(&encode_items(&items[..5])).unwrap();
        assert!(d.corners.is_none());
        assert!(d.extra.contains_key("offset_corner_lat_1"));
    }

    #[test]
    fn a_corrupted_packet_fails_its_checksum() {
        let mut pkt = encode(&full_record());
        pkt[40] ^= 0x10;
        assert_eq!(decode(&pkt), Err(PacketError::Checksum));
        let mut pkt = encode(&full_record());
        let n = pkt.len();
        pkt[n - 1] ^= 1;
        assert_eq!(decode(&pkt), Err(PacketError::Checksum));
    }

    #[test]
    fn a_packet_without_checksum_is_malformed() {
        let mut v = Vec::new();
        klv::push_local_item(5, &[0, 0], &mut v);
        let mut pkt = Vec::new();
        klv::push_universal(&klv::UAS_LS_KEY, &v, &mut pkt);
        assert!(matches!(decode(&pkt), Err(PacketError::Malformed(_))));
    }

    #[test]
    fn unknown_tags_are_skipped_and_long_tags_and_lengths_parse() {
        let pkt = encode_items(&[
            (200, vec![1, 2, 3]),
            (66, vec![0; 4]),
            (5, vec![0x80, 0x00]),
            (3, vec![b'M'; 300]),
        ]);
        // Value longer than 127: BER long form for the packet and tag 3.
        assert_eq!(pkt[16], 0x82);
        let d = decode(&pkt).unwrap();
        assert!((d.heading_deg.unwrap() - 180.0).abs() < 0.01);
        assert_eq!(d.extra["mission_id"].as_str().unwrap().len(), 300);
        assert_eq!(d.extra["unknown_tags"], serde_json::json!([200, 66]));
    }

    #[test]
    fn wrong_lengths_are_reported_and_short_integers_accepted() {
        let pkt = encode_items(&[
            (13, vec![1, 2]),
            (2, vec![0x01, 0x00]),
            (65, vec![0, 0, 0, 6]),
        ]);
        let d = decode(&pkt).unwrap();
        assert_eq!(d.lat, None);
        assert_eq!(d.extra["invalid_tags"], serde_json::json!([13]));
        assert_eq!(d.utc.unwrap().unix_us, 256);
        assert_eq!(d.ls_version, Some(6));
    }

    #[test]
    fn out_of_range_values_are_not_written() {
        let mut r = Record::new(Format::St0601);
        r.pitch_deg = Some(45.0);
        r.lat = Some(95.0);
        let d = decode(&encode(&r)).unwrap();
        assert!((d.pitch_deg.unwrap() - 45.0).abs() < 1e-6, "from tag 90");
        assert_eq!(d.lat, None);
    }

    #[test]
    fn truncated_and_random_packets_never_panic() {
        let pkt = encode(&full_record());
        for n in 0..pkt.len() {
            assert!(decode(&pkt[..n]).is_err());
        }
        let mut x: u32 = 12345;
        for _ in 0..3000 {
            let mut p = pkt.clone();
            for _ in 0..4 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let i = 16 + (x as usize >> 8) % (p.len() - 16);
                p[i] = (x >> 3) as u8;
            }
            // Re-sign so that the body parser, not the checksum, meets the damage.
            let n = p.len();
            let sum = klv::checksum(&p[..n - 2]);
            p[n - 2..].copy_from_slice(&sum.to_be_bytes());
            let _ = decode(&p);
        }
    }

    mod props {
        use super::*;
        use crate::telemetry::fuzz;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Packets of random items with a valid checksum: every value
            /// of every length reaches the value decoders, which return
            /// finite numbers or nothing.
            #[test]
            fn packets_of_random_items_decode_to_finite_values(
                items in prop::collection::vec((1u64..150, prop::collection::vec(any::<u8>(), 0..12)), 0..20)
            ) {
                let packet = encode_items(&items);
                if let Ok(r) = decode(&packet) {
                    prop_assert_eq!(fuzz::non_finite(&r), None, "{:?}", r);
                }
            }

            #[test]
            fn damaged_packets_never_panic(p in fuzz::mutated(encode(&full_record()))) {
                if let Ok(r) = decode(&p) {
                    prop_assert_eq!(fuzz::non_finite(&r), None, "{:?}", r);
                }
            }
        }
    }
}
