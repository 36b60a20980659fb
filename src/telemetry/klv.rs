//! KLV (SMPTE ST 336) building blocks: BER lengths, BER-OID tags, the
//! 16-bit running checksum of MISB ST 0601, and the universal keys.
//!
//! A KLV packet is a 16-byte Universal Label key, a BER length, and that
//! many value bytes. MISB ST 0601 packets are a *Local Set*: their value is
//! a run of `tag, length, value` items with BER-OID tags and BER lengths.
//! MISB EG 0104 packets are a *Universal Set*: their items are themselves
//! full 16-byte keys with BER lengths.
//!
//! Every function here is total: malformed or truncated input gives `None`
//! (or is skipped by the scanner), never a panic.

/// Key of the MISB ST 0601 UAS Datalink Local Set.
pub const UAS_LS_KEY: [u8; 16] = [
    0x06, 0x0E, 0x2B, 0x34, 0x02, 0x0B, 0x01, 0x01, 0x0E, 0x01, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00,
];

/// Key of the MISB EG 0104 Predator UAV Basic Universal Metadata Set.
pub const EG0104_KEY: [u8; 16] = [
    0x06, 0x0E, 0x2B, 0x34, 0x02, 0x01, 0x01, 0x01, 0x0E, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x00,
];

/// The four bytes every SMPTE Universal Label starts with (ISO OID
/// 1.3.52, SMPTE).
pub const UL_PREFIX: [u8; 4] = [0x06, 0x0E, 0x2B, 0x34];

/// Which MISB set a packet's key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    /// MISB ST 0601 UAS Datalink Local Set.
    St0601,
    /// MISB EG 0104 Predator universal set.
    Eg0104,
}

/// Whether `a` is the universal label `key`. Byte 7 of a SMPTE UL is the
/// registry *version* byte, which encoders set differently for one and the
/// same item (SMPTE ST 336 says to ignore it when matching), so it is not
/// compared.
pub fn key_matches(a: &[u8], key: &[u8; 16]) -> bool {
    a.len() >= 16 && a[..7] == key[..7] && a[8..16] == key[8..16]
}

/// Which known set `buf` starts with, if any.
pub fn set_kind(buf: &[u8]) -> Option<SetKind> {
    if key_matches(buf, &UAS_LS_KEY) {
        Some(SetKind::St0601)
    } else if key_matches(buf, &EG0104_KEY) {
        Some(SetKind::Eg0104)
    } else {
        None
    }
}

/// Decodes a BER length at the start of `buf`: `(length, bytes used)`.
///
/// Short form: one byte below 0x80 is the length. Long form: `0x80 | n`
/// then `n` big-endian bytes (1 ≤ n ≤ 8). The indefinite form (0x80 alone)
/// is not allowed in KLV and gives `None`, as do lengths that do not fit a
/// `usize`.
pub fn decode_ber_length(buf: &[u8]) -> Option<(usize, usize)> {
    let first = *buf.first()?;
    if first < 0x80 {
        return Some((first as usize, 1));
    }
    let n = (first & 0x7F) as usize;
    if n == 0 || n > 8 || buf.len() < 1 + n {
        return None;
    }
    let mut len: u64 = 0;
    for &b in &buf[1..=n] {
        len = (len << 8) | b as u64;
    }
    Some((usize::try_from(len).ok()?, 1 + n))
}

/// Appends `len` as a BER length: short form below 128, else the shortest
/// long form.
pub fn encode_ber_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = (len as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(0x80 | (8 - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// Decodes a BER-OID tag at the start of `buf`: `(tag, bytes used)`.
///
/// Each byte carries seven bits, most significant first; a set top bit
/// means another byte follows. ST 0601 tags are below 128 today (one
/// byte), but the set allows more. Tags longer than 9 bytes or overflowing
/// 64 bits give `None`.
pub fn decode_ber_oid(buf: &[u8]) -> Option<(u64, usize)> {
    let mut tag: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(9) {
        if tag > (u64::MAX >> 7) {
            return None;
        }
        tag = (tag << 7) | (b & 0x7F) as u64;
        if b & 0x80 == 0 {
            return Some((tag, i + 1));
        }
    }
    None
}

/// Appends `tag` as a BER-OID.
pub fn encode_ber_oid(tag: u64, out: &mut Vec<u8>) {
    let mut groups = [0u8; 10];
    let mut n = 0;
    let mut t = tag;
    loop {
        groups[n] = (t & 0x7F) as u8;
        n += 1;
        t >>= 7;
        if t == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        let more = if i > 0 { 0x80 } else { 0 };
        out.push(groups[i] | more);
    }
}

/// The ST 0601 checksum: a 16-bit running sum in which even-indexed bytes
/// count as the high byte and odd-indexed ones as the low byte
/// (`bcc += b << (8 * ((i + 1) % 2))`). ST 0601 computes it from the first
/// key byte through the checksum item's length byte.
pub fn checksum(bytes: &[u8]) -> u16 {
    bytes.iter().enumerate().fold(0u16, |bcc, (i, &b)| {
        bcc.wrapping_add((b as u16) << (8 * ((i + 1) % 2)))
    })
}

/// One KLV triplet found in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triplet<'a> {
    /// The key (16 bytes for universal keys, the BER-OID bytes for local
    /// tags).
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// The whole triplet: key, length and value.
    pub whole: &'a [u8],
}

/// Splits one universal-key packet (16-byte key, BER length, value) off
/// the front of `buf`. `None` when the length is malformed or the value is
/// cut short.
pub fn split_packet(buf: &[u8]) -> Option<Triplet<'_>> {
    let key = buf.get(..16)?;
    let (len, used) = decode_ber_length(&buf[16..])?;
    let start = 16 + used;
    let end = start.checked_add(len)?;
    let value = buf.get(start..end)?;
    Some(Triplet {
        key,
        value,
        whole: &buf[..end],
    })
}

/// A packet found by [`find_packets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found<'a> {
    pub kind: SetKind,
    /// Offset of the key in the scanned buffer.
    pub offset: usize,
    /// Key through the end of the value; for a packet cut short, the rest
    /// of the buffer.
    pub bytes: &'a [u8],
    /// Whether the whole packet was there (`false`: cut short or a bad
    /// BER length behind a known key).
    pub complete: bool,
}

/// Finds ST 0601 and EG 0104 packets anywhere in `buf` by scanning for
/// their keys, for payloads whose layout is unknown (PES payloads of an
/// undeclared stream, raw captures with junk between packets). After a
/// complete packet the scan resumes behind it; a known key whose packet is
/// cut short is reported with `complete: false` and the scan moves on one
/// byte.
pub fn find_packets(buf: &[u8]) -> Vec<Found<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 16 <= buf.len() {
        let rest = &buf[i..];
        if rest[..4] != UL_PREFIX {
            i += 1;
            continue;
        }
        match (set_kind(rest), split_packet(rest)) {
            (Some(kind), Some(t)) => {
                out.push(Found {
                    kind,
                    offset: i,
                    bytes: t.whole,
                    complete: true,
                });
                i += t.whole.len();
            }
            (Some(kind), None) => {
                out.push(Found {
                    kind,
                    offset: i,
                    bytes: rest,
                    complete: false,
                });
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// Iterates a Local Set's value as `(tag, value)` items with BER-OID tags
/// and BER lengths. Yields `Err(offset)` once, at the first item that is
/// malformed or runs past the end, and then stops.
pub struct LocalSet<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

/// One Local Set item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item<'a> {
    pub tag: u64,
    pub value: &'a [u8],
    /// Offset of the item's tag within the set's value.
    pub offset: usize,
    /// Offset of the item's value within the set's value.
    pub value_offset: usize,
}

impl<'a> LocalSet<'a> {
    pub fn new(value: &'a [u8]) -> LocalSet<'a> {
        LocalSet {
            buf: value,
            pos: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for LocalSet<'a> {
    type Item = Result<Item<'a>, usize>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let buf: &'a [u8] = self.buf;
        let item = (|| {
            let (tag, t) = decode_ber_oid(&buf[start..])?;
            let (len, l) = decode_ber_length(buf.get(start + t..)?)?;
            let value_offset = start + t + l;
            let end = value_offset.checked_add(len)?;
            let value = buf.get(value_offset..end)?;
            Some((
                Item {
                    tag,
                    value,
                    offset: start,
                    value_offset,
                },
                end,
            ))
        })();
        match item {
            Some((item, end)) => {
                self.pos = end;
                Some(Ok(item))
            }
            None => {
                self.failed = true;
                Some(Err(start))
            }
        }
    }
}

/// Iterates a Universal Set's value as `(16-byte key, value)` items.
/// Yields `Err(offset)` once at the first malformed item, then stops.
pub struct UniversalSet<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> UniversalSet<'a> {
    pub fn new(value: &'a [u8]) -> UniversalSet<'a> {
        UniversalSet {
            buf: value,
            pos: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for UniversalSet<'a> {
    type Item = Result<Triplet<'a>, usize>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let buf: &'a [u8] = self.buf;
        match split_packet(&buf[self.pos..]) {
            Some(t) => {
                self.pos += t.whole.len();
                Some(Ok(t))
            }
            None => {
                self.failed = true;
                Some(Err(self.pos))
            }
        }
    }
}

/// Appends one Local Set item: BER-OID tag, BER length, value.
pub fn push_local_item(tag: u64, value: &[u8], out: &mut Vec<u8>) {
    encode_ber_oid(tag, out);
    encode_ber_length(value.len(), out);
    out.extend_from_slice(value);
}

/// Appends one universal-key item or packet: key, BER length, value.
pub fn push_universal(key: &[u8; 16], value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(key);
    encode_ber_length(value.len(), out);
    out.extend_from_slice(value);
}

/// Big-endian unsigned integer of 1 to 8 bytes.
pub fn be_uint(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 8 {
        return None;
    }
    Some(b.iter().fold(0u64, |v, &x| (v << 8) | x as u64))
}

/// Big-endian two's-complement integer of 1 to 8 bytes.
pub fn be_int(b: &[u8]) -> Option<i64> {
    let u = be_uint(b)?;
    let bits = 8 * b.len() as u32;
    if bits == 64 {
        return Some(u as i64);
    }
    let sign = 1u64 << (bits - 1);
    Some(if u & sign != 0 {
        (u as i64) - (1i64 << bits)
    } else {
        u as i64
    })
}

/// Lower-case hex of `b`, for raw values kept in `extra`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ber_lengths_round_trip_in_short_and_long_form() {
        for len in [0usize, 1, 127, 128, 255, 256, 65535, 65536, 1 << 30] {
            let mut b = Vec::new();
            encode_ber_length(len, &mut b);
            assert_eq!(decode_ber_length(&b), Some((len, b.len())), "{len}");
            assert_eq!(b.len() == 1, len < 128);
        }
        assert_eq!(decode_ber_length(&[0x81, 0x05]), Some((5, 2)));
        assert_eq!(decode_ber_length(&[0x82, 0x01, 0x00]), Some((256, 3)));
        assert_eq!(decode_ber_length(&[0x80]), None, "indefinite");
        assert_eq!(decode_ber_length(&[0x82, 0x01]), None, "cut short");
        assert_eq!(decode_ber_length(&[0x89; 10]), None, "too long");
        assert_eq!(decode_ber_length(&[]), None);
    }

    #[test]
    fn ber_oid_tags_round_trip() {
        for tag in [0u64, 1, 65, 127, 128, 143, 16383, 16384, u32::MAX as u64] {
            let mut b = Vec::new();
            encode_ber_oid(tag, &mut b);
            assert_eq!(decode_ber_oid(&b), Some((tag, b.len())), "{tag}");
        }
        assert_eq!(decode_ber_oid(&[0x81, 0x00]), Some((128, 2)));
        assert_eq!(decode_ber_oid(&[0x81]), None);
        assert_eq!(decode_ber_oid(&[0xFF; 12]), None);
    }

    #[test]
    fn checksum_weights_even_bytes_high() {
        assert_eq!(checksum(&[0x01, 0x02]), 0x0102);
        assert_eq!(checksum(&[0x01, 0x02, 0x03]), 0x0402);
        assert_eq!(checksum(&[0xFF, 0xFF, 0xFF, 0xFF]), 0xFFFE);
    }

    #[test]
    fn keys_match_whatever_the_version_byte() {
        let mut k = UAS_LS_KEY;
        k[7] = 0x0A;
        assert_eq!(set_kind(&k), Some(SetKind::St0601));
        let mut k = EG0104_KEY;
        k[7] = 0x03;
        assert_eq!(set_kind(&k), Some(SetKind::Eg0104));
        k[12] = 0x09;
        assert_eq!(set_kind(&k), None);
        assert_eq!(set_kind(&UAS_LS_KEY[..15]), None);
    }

    #[test]
    fn scanner_finds_packets_between_junk() {
        let mut buf = vec![0x47, 0x06, 0x0E, 0x2B];
        push_universal(&UAS_LS_KEY, &[1, 2, 3], &mut buf);
        buf.extend_from_slice(&[0x06, 0x0E, 0x2B, 0x34, 9, 9]);
        push_universal(&EG0104_KEY, &[0; 200], &mut buf);
        // A key with a cut-short packet at the end is reported as such.
        push_universal(&UAS_LS_KEY, &[0; 10], &mut buf);
        buf.truncate(buf.len() - 3);
        let found = find_packets(&buf);
        assert_eq!(found.len(), 3);
        assert!(found[0].complete && found[1].complete && !found[2].complete);
        assert_eq!(found[0].kind, SetKind::St0601);
        assert_eq!(found[0].offset, 4);
        assert_eq!(found[0].bytes.len(), 20);
        assert_eq!(found[1].kind, SetKind::Eg0104);
        assert_eq!(found[1].bytes.len(), 16 + 2 + 200);
    }

    #[test]
    fn local_set_iteration_stops_at_a_bad_item() {
        let mut v = Vec::new();
        push_local_item(2, &[0; 8], &mut v);
        push_local_item(200, &[7], &mut v);
        v.extend_from_slice(&[5, 9, 1]);
        let items: Vec<_> = LocalSet::new(&v).collect();
        assert_eq!(items.len(), 3);
        assert_eq!(items[1].unwrap().tag, 200);
        assert_eq!(items[2], Err(14));
    }

    #[test]
    fn integers_are_big_endian() {
        assert_eq!(be_uint(&[1, 0]), Some(256));
        assert_eq!(be_int(&[0xFF, 0xFE]), Some(-2));
        assert_eq!(be_int(&[0x80, 0, 0, 0]), Some(i32::MIN as i64));
        assert_eq!(be_int(&[0xFF; 8]), Some(-1));
        assert_eq!(be_uint(&[]), None);
        assert_eq!(be_uint(&[0; 9]), None);
    }

    #[test]
    fn nothing_panics_on_random_bytes() {
        let mut x: u64 = 0x9E3779B97F4A7C15;
        for n in 0..2000 {
            let buf: Vec<u8> = (0..n % 97)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    if x.is_multiple_of(5) {
                        UAS_LS_KEY[(x % 16) as usize]
                    } else {
                        x as u8
                    }
                })
                .collect();
            let _ = decode_ber_length(&buf);
            let _ = decode_ber_oid(&buf);
            let _ = find_packets(&buf);
            let _ = LocalSet::new(&buf).count();
            let _ = UniversalSet::new(&buf).count();
            let _ = checksum(&buf);
        }
    }

    mod props {
        use super::*;
        use crate::telemetry::fuzz;
        use proptest::prelude::*;

        /// Bytes with the two known keys planted here and there.
        fn with_keys() -> impl Strategy<Value = Vec<u8>> {
            prop::collection::vec(
                prop_oneof![
                    3 => prop::collection::vec(any::<u8>(), 0..40),
                    1 => Just(UAS_LS_KEY.to_vec()),
                    1 => Just(EG0104_KEY.to_vec()),
                    1 => Just(UL_PREFIX.to_vec()),
                ],
                0..8,
            )
            .prop_map(|parts| parts.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Tags of up to 63 bits: nine BER-OID bytes, the most
            /// [`decode_ber_oid`] reads.
            #[test]
            fn ber_lengths_and_tags_round_trip(len in any::<usize>(), tag in 0..=(u64::MAX >> 1)) {
                let mut b = Vec::new();
                encode_ber_length(len, &mut b);
                prop_assert_eq!(decode_ber_length(&b), Some((len, b.len())));
                let mut b = Vec::new();
                encode_ber_oid(tag, &mut b);
                prop_assert_eq!(decode_ber_oid(&b), Some((tag, b.len())));
            }

            /// Whatever the bytes, what the readers return lies inside them.
            #[test]
            fn readers_stay_inside_the_buffer(buf in with_keys()) {
                if let Some((_, used)) = decode_ber_length(&buf) {
                    prop_assert!(used <= buf.len());
                }
                if let Some((_, used)) = decode_ber_oid(&buf) {
                    prop_assert!(used <= buf.len());
                }
                if let Some(t) = split_packet(&buf) {
                    prop_assert!(t.whole.len() <= buf.len());
                    prop_assert!(t.whole.len() >= t.key.len() + t.value.len());
                }
                let mut last = None;
                for f in find_packets(&buf) {
                    prop_assert!(f.offset + f.bytes.len() <= buf.len());
                    prop_assert!(set_kind(f.bytes) == Some(f.kind));
                    prop_assert!(last < Some(f.offset), "offsets go forward");
                    last = Some(f.offset);
                }
                let _ = LocalSet::new(&buf).count();
                let _ = UniversalSet::new(&buf).count();
            }

            #[test]
            fn damaged_local_sets_end(buf in fuzz::mutated(vec![1, 2, 0x10, 0x20, 2, 1, 5, 65, 3, 1, 2, 3])) {
                // Each item takes at least a byte, and an error ends the set.
                prop_assert!(LocalSet::new(&buf).count() <= buf.len());
            }
        }
    }
}
