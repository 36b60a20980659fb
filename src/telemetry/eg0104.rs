//! MISB EG 0104, the Predator UAV Basic Universal Metadata Set.
//!
//! EG 0104 (superseded by ST 0601, but still in older Predator-era
//! archives) is a SMPTE *Universal Set*: the packet key
//! [`klv::EG0104_KEY`], a BER length, then items that are each a full
//! 16-byte SMPTE RP 210 universal label, a BER length and a value. Values
//! are IEEE 754 floats (4 or 8 bytes, read by their length), ISO 646 text,
//! or, for the time stamp, an unsigned 64-bit count of microseconds since
//! the Unix epoch. There is no checksum, so `checksum_ok` stays `None`.
//!
//! The item keys below are the RP 210 labels of EG 0104.4 (the same ones
//! ST 0601 lists as its tags' "UDS keys"), taken from the EG 0104 tables as
//! reproduced in the `klvdata` reference implementation and cross-checked
//! against ST 0601's key column. Keys are matched ignoring byte 7, the
//! registry version, which differs between encoders (e.g. `…01 01 02 04
//! 00 00` and `…01 03 … 02 04 02 00` both occur for sensor latitude, so
//! both are listed).

use serde_json::Value;

use super::klv::{self, UniversalSet};
use super::st0601::PacketError;
use super::{Format, Record, Utc};

/// How an item's value is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// uint64 microseconds since 1970 (the "User Defined Time Stamp").
    Time,
    /// IEEE 754 float32 or float64, by length.
    Float,
    Text,
}

/// One EG 0104 item: its universal label, the [`Record`] field or `extra`
/// name it fills, and its kind.
struct Item {
    key: [u8; 16],
    name: &'static str,
    kind: Kind,
}

const fn ul(tail: [u8; 9]) -> [u8; 16] {
    // 06 0E 2B 34 01 01 01 <version> then the 8 item bytes; the version
    // byte given here is what encoders usually write, and is ignored when
    // matching.
    [
        0x06, 0x0E, 0x2B, 0x34, 0x01, 0x01, 0x01, tail[0], tail[1], tail[2], tail[3], tail[4],
        tail[5], tail[6], tail[7], tail[8],
    ]
}

const ITEMS: &[Item] = &[
    Item {
        key: ul([0x03, 0x07, 0x02, 0x01, 0x01, 0x01, 0x05, 0x00, 0x00]),
        name: "utc",
        kind: Kind::Time,
    },
    Item {
        key: ul([0x01, 0x01, 0x05, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00]),
        name: "mission_id",
        kind: Kind::Text,
    },
    Item {
        key: ul([0x01, 0x01, 0x01, 0x20, 0x01, 0x00, 0x00, 0x00, 0x00]),
        name: "platform_designation",
        kind: Kind::Text,
    },
    Item {
        key: ul([0x01, 0x04, 0x20, 0x01, 0x02, 0x01, 0x01, 0x00, 0x00]),
        name: "image_source_sensor",
        kind: Kind::Text,
    },
    Item {
        key: ul([0x01, 0x07, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00]),
        name: "image_coordinate_system",
        kind: Kind::Text,
    },
    Item {
        key: ul([0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x04, 0x02, 0x00]),
        name: "lat",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x01, 0x07, 0x01, 0x02, 0x01, 0x02, 0x04, 0x00, 0x00]),
        name: "lat",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x03, 0x07, 0x01, 0x02, 0x01, 0x02, 0x06, 0x02, 0x00]),
        name: "lon",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x01, 0x07, 0x01, 0x02, 0x01, 0x02, 0x06, 0x00, 0x00]),
        name: "lon",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x01, 0x07, 0x01, 0x02, 0x01, 0x02, 0x02, 0x00, 0x00]),
        name: "alt_m",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x01, 0x07, 0x01, 0x02, 0x01, 0x03, 0x02, 0x00, 0x00]),
        name: "frame_center_lat",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x01, 0x07, 0x01, 0x02, 0x01, 0x03, 0x04, 0x00, 0x00]),
        name: "frame_center_lon",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x0A, 0x07, 0x01, 0x02, 0x01, 0x03, 0x16, 0x00, 0x00]),
        name: "frame_center_elev_m",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x07, 0x07, 0x01, 0x10, 0x01, 0x06, 0x00, 0x00, 0x00]),
        name: "heading_deg",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x07, 0x07, 0x01, 0x10, 0x01, 0x05, 0x00, 0x00, 0x00]),
        name: "pitch_deg",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x07, 0x07, 0x01, 0x10, 0x01, 0x04, 0x00, 0x00, 0x00]),
        name: "roll_deg",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x01, 0x07, 0x01, 0x10, 0x01, 0x02, 0x00, 0x00, 0x00]),
        name: "sensor_rel_azimuth_deg",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x01, 0x07, 0x01, 0x10, 0x01, 0x03, 0x00, 0x00, 0x00]),
        name: "sensor_rel_elevation_deg",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x02, 0x04, 0x20, 0x02, 0x01, 0x01, 0x08, 0x00, 0x00]),
        name: "hfov_deg",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x07, 0x04, 0x20, 0x02, 0x01, 0x01, 0x0A, 0x01, 0x00]),
        name: "vfov_deg",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x01, 0x07, 0x01, 0x08, 0x01, 0x01, 0x00, 0x00, 0x00]),
        name: "slant_range_m",
        kind: Kind::Float,
    },
    Item {
        key: ul([0x01, 0x07, 0x01, 0x09, 0x02, 0x01, 0x00, 0x00, 0x00]),
        name: "target_width_m",
        kind: Kind::Float,
    },
    corner(0x07, "corner_lat_1"),
    corner(0x0B, "corner_lon_1"),
    corner(0x08, "corner_lat_2"),
    corner(0x0C, "corner_lon_2"),
    corner(0x09, "corner_lat_3"),
    corner(0x0D, "corner_lon_3"),
    corner(0x0A, "corner_lat_4"),
    corner(0x0E, "corner_lon_4"),
];

/// Corner point labels `07 01 02 01 03 <n> 01 00`: 07–0A latitudes of
/// points 1–4, 0B–0E longitudes (decimal degrees, upper left first).
const fn corner(n: u8, name: &'static str) -> Item {
    Item {
        key: ul([0x03, 0x07, 0x01, 0x02, 0x01, 0x03, n, 0x01, 0x00]),
        name,
        kind: Kind::Float,
    }
}

const CORNER_NAMES: [(&str, &str); 4] = [
    ("corner_lat_1", "corner_lon_1"),
    ("corner_lat_2", "corner_lon_2"),
    ("corner_lat_3", "corner_lon_3"),
    ("corner_lat_4", "corner_lon_4"),
];

fn item_for(key: &[u8]) -> Option<&'static Item> {
    ITEMS.iter().find(|i| klv::key_matches(key, &i.key))
}

fn slot<'a>(r: &'a mut Record, name: &str) -> Option<&'a mut Option<f64>> {
    Some(match name {
        "lat" => &mut r.lat,
        "lon" => &mut r.lon,
        "alt_m" => &mut r.alt_m,
        "frame_center_lat" => &mut r.frame_center_lat,
        "frame_center_lon" => &mut r.frame_center_lon,
        "frame_center_elev_m" => &mut r.frame_center_elev_m,
        "heading_deg" => &mut r.heading_deg,
        "pitch_deg" => &mut r.pitch_deg,
        "roll_deg" => &mut r.roll_deg,
        "sensor_rel_azimuth_deg" => &mut r.sensor_rel_azimuth_deg,
        "sensor_rel_elevation_deg" => &mut r.sensor_rel_elevation_deg,
        "hfov_deg" => &mut r.hfov_deg,
        "vfov_deg" => &mut r.vfov_deg,
        "slant_range_m" => &mut r.slant_range_m,
        _ => return None,
    })
}

fn float(b: &[u8]) -> Option<f64> {
    let x = match b.len() {
        4 => f32::from_be_bytes(b.try_into().ok()?) as f64,
        8 => f64::from_be_bytes(b.try_into().ok()?),
        _ => return None,
    };
    x.is_finite().then_some(x)
}

/// Decodes one packet that starts with the EG 0104 universal set key.
/// Unknown labels are skipped (counted in `extra.unknown_items`); values of
/// the wrong size are left out and listed in `extra.invalid_items` by
/// name.
pub fn decode(packet: &[u8]) -> Result<Record, PacketError> {
    let t = klv::split_packet(packet)
        .ok_or_else(|| PacketError::Malformed("packet cut short or bad BER length".into()))?;
    if !klv::key_matches(t.key, &klv::EG0104_KEY) {
        return Err(PacketError::Malformed(
            "not an EG 0104 universal set key".into(),
        ));
    }
    let mut rec = Record::new(Format::Eg0104);
    let (mut unknown, mut invalid) = (0u64, Vec::<&str>::new());
    for item in UniversalSet::new(t.value) {
        let item =
            item.map_err(|at| PacketError::Malformed(format!("bad item at value byte {at}")))?;
        let Some(spec) = item_for(item.key) else {
            unknown += 1;
            continue;
        };
        if !apply(&mut rec, spec, item.value) {
            invalid.push(spec.name);
        }
    }
    finish_corners(&mut rec);
    if unknown > 0 {
        rec.extra
            .insert("unknown_items".into(), Value::from(unknown));
    }
    if !invalid.is_empty() {
        rec.extra
            .insert("invalid_items".into(), Value::from(invalid));
    }
    Ok(rec)
}

/// Puts one value into the record; `false` when it does not parse.
fn apply(rec: &mut Record, spec: &Item, v: &[u8]) -> bool {
    match spec.kind {
        Kind::Time => match v.try_into().ok().map(u64::from_be_bytes) {
            Some(us) => {
                rec.utc = i64::try_from(us).ok().map(|us| Utc::from_unix_us(us, 6));
                rec.utc.is_some()
            }
            None => false,
        },
        Kind::Text => {
            let s = String::from_utf8_lossy(v)
                .trim_end_matches('\0')
                .to_string();
            rec.extra.insert(spec.name.into(), Value::from(s));
            true
        }
        Kind::Float => {
            let Some(x) = float(v) else { return false };
            match slot(rec, spec.name) {
                Some(f) => *f = Some(x),
                None => {
                    rec.extra.insert(spec.name.into(), Value::from(x));
                }
            }
            true
        }
    }
}

/// Moves the eight corner values into `corners` when all are there.
fn finish_corners(rec: &mut Record) {
    let get = |n: &str| rec.extra.get(n).and_then(Value::as_f64);
    let mut c = [[0.0; 2]; 4];
    for (o, (la, lo)) in c.iter_mut().zip(CORNER_NAMES) {
        match (get(lo), get(la)) {
            (Some(lon), Some(lat)) => *o = [lon, lat],
            _ => return,
        }
    }
    rec.corners = Some(c);
    for (la, lo) in CORNER_NAMES {
        rec.extra.remove(la);
        rec.extra.remove(lo);
    }
}

/// Encodes a record as one EG 0104 packet: the time stamp, every float
/// field the table has (as float64), corners, and the text items from
/// `extra`. Each name is written once, under the first (newest) key the
/// table lists for it.
pub fn encode(record: &Record) -> Vec<u8> {
    let mut value = Vec::new();
    let mut done: Vec<&str> = Vec::new();
    for item in ITEMS {
        if done.contains(&item.name) {
            continue;
        }
        if let Some(bytes) = value_bytes(record, item) {
            klv::push_universal(&item.key, &bytes, &mut value);
            done.push(item.name);
        }
    }
    let mut out = Vec::new();
    klv::push_universal(&klv::EG0104_KEY, &value, &mut out);
    out
}

fn value_bytes(record: &Record, item: &Item) -> Option<Vec<u8>> {
    match item.kind {
        Kind::Time => Some(
            u64::try_from(record.utc?.unix_us)
                .ok()?
                .to_be_bytes()
                .to_vec(),
        ),
        Kind::Text => Some(record.extra.get(item.name)?.as_str()?.as_bytes().to_vec()),
        Kind::Float => {
            let mut r = record.clone();
            let x = match slot(&mut r, item.name) {
                Some(f) => (*f)?,
                None => corner_value(record, item.name)
                    .or_else(|| record.extra.get(item.name).and_then(Value::as_f64))?,
            };
            Some(x.to_be_bytes().to_vec())
        }
    }
}

fn corner_value(record: &Record, name: &str) -> Option<f64> {
    let i = CORNER_NAMES
        .iter()
        .position(|(la, lo)| *la == name || *lo == name)?;
    let c = record.corners?[i];
    Some(if name.contains("lat") { c[1] } else { c[0] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        let mut r = Record::new(Format::Eg0104);
        r.utc = Some(Utc::from_unix_us(1_200_000_000_000_001, 6));
        r.lat = Some(33.1);
        r.lon = Some(-117.2);
        r.alt_m = Some(3000.5);
        r.frame_center_lat = Some(33.2);
        r.frame_center_lon = Some(-117.3);
        r.frame_center_elev_m = Some(120.0);
        r.heading_deg = Some(271.0);
        r.pitch_deg = Some(-2.5);
        r.roll_deg = Some(4.0);
        r.sensor_rel_azimuth_deg = Some(10.0);
        r.sensor_rel_elevation_deg = Some(-30.0);
        r.hfov_deg = Some(20.0);
        r.vfov_deg = Some(15.0);
        r.slant_range_m = Some(5000.0);
        r.corners = Some([
            [-117.31, 33.21],
            [-117.29, 33.21],
            [-117.29, 33.19],
            [-117.31, 33.19],
        ]);
        r.extra.insert("mission_id".into(), "M1".into());
        r.extra.insert("target_width_m".into(), 300.0.into());
        r
    }

    #[test]
    fn round_trips_every_item() {
        let r = sample();
        assert_eq!(decode(&encode(&r)).unwrap(), r);
    }

    #[test]
    fn reads_float32_values_old_keys_and_ignores_the_version_byte() {
        let mut v = Vec::new();
        let mut lat_key = ul([0x01, 0x07, 0x01, 0x02, 0x01, 0x02, 0x04, 0x00, 0x00]);
        lat_key[7] = 0x05;
        klv::push_universal(&lat_key, &12.5f32.to_be_bytes(), &mut v);
        klv::push_universal(
            &[0x06, 0x0E, 0x2B, 0x34, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9],
            &[1],
            &mut v,
        );
        klv::push_universal(&ITEMS[13].key, &[1, 2, 3], &mut v);
        let mut pkt = Vec::new();
        let mut key = klv::EG0104_KEY;
        key[7] = 0x03;
        klv::push_universal(&key, &v, &mut pkt);
        let d = decode(&pkt).unwrap();
        assert_eq!(d.lat, Some(12.5));
        assert_eq!(d.heading_deg, None);
        assert_eq!(d.extra["unknown_items"], 1);
        assert_eq!(d.extra["invalid_items"], serde_json::json!(["heading_deg"]));
        assert_eq!(d.source, Some(Format::Eg0104));
    }

    #[test]
    fn truncated_packets_are_errors_not_panics() {
        let pkt = encode(&sample());
        for n in 0..pkt.len() {
            assert!(decode(&pkt[..n]).is_err(), "{n}");
        }
    }

    mod props {
        use super::*;
        use crate::telemetry::fuzz;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn damaged_packets_never_panic(p in fuzz::mutated(encode(&sample()))) {
                if let Ok(r) = decode(&p) {
                    prop_assert_eq!(fuzz::non_finite(&r), None, "{:?}", r);
                }
            }

            /// The key, then anything.
            #[test]
            fn any_body_after_the_key_never_panics(body in prop::collection::vec(any::<u8>(), 0..200)) {
                let mut p = klv::EG0104_KEY.to_vec();
                p.extend_from_slice(&body);
                if let Ok(r) = decode(&p) {
                    prop_assert_eq!(fuzz::non_finite(&r), None, "{:?}", r);
                }
            }
        }
    }
}
