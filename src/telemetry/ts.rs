//! KLV in MPEG-TS, and raw KLV files.
//!
//! MISB ST 1402 (after SMPTE RP 217) carries KLV in an MPEG-2 transport
//! stream two ways:
//!
//! - **asynchronous**: PMT `stream_type` 0x06 (private PES) with a
//!   registration descriptor (tag 0x05) whose format identifier is `KLVA`;
//!   PES `stream_id` 0xBD (private stream 1); the PES payload is whole KLV
//!   packets, with a PTS when the encoder could give one;
//! - **synchronous**: `stream_type` 0x15 (metadata in PES, ISO/IEC 13818-1
//!   §2.12), with metadata descriptors (tag 0x26) naming format `KLVA`; PES
//!   `stream_id` 0xFC; the PES payload is metadata access-unit *cells*,
//!   each a 5-byte header (`metadata_service_id`, `sequence_number`,
//!   `cell_fragment_indication`(2) `decoder_config_flag`(1)
//!   `random_access_indicator`(1) reserved(4), `AU_cell_data_length`(16))
//!   and that many bytes of KLV.
//!
//! Files cut from a recorder often lack the PAT/PMT. Then (and whenever the
//! PMT declares no KLV stream) every non-audio, non-video PES payload is
//! scanned for the UAS Datalink and EG 0104 keys.
//!
//! Media time: `t_s` is seconds from the first video PTS, with the 33-bit
//! PTS unwrapped across wrap-arounds in multiplex order. A packet with no
//! PTS is placed by its precision time stamp (tag 2) relative to the first
//! packet that has both, or failing that by the most recent video PTS seen
//! before it in the multiplex.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use super::klv::{self, SetKind};
use super::st0601::PacketError;
use super::{eg0104, st0601, Record, Telemetry, TelemetryError};

/// Size of one transport stream packet.
pub const TS_PACKET: usize = 188;
const SYNC: u8 = 0x47;
/// PTS ticks per second.
const HZ: f64 = 90_000.0;
/// PTS values are 33 bits.
const PTS_MOD: i64 = 1 << 33;
/// A PES larger than this on a non-video PID is dropped (no KLV stream is
/// anywhere near it; a damaged length could otherwise grow without bound).
const MAX_PES: usize = 16 << 20;

/// PMT stream types that carry video: MPEG-1/2, MPEG-4 part 2, H.264,
/// HEVC, CAVS, and VC-1 (0xEA).
const VIDEO_STREAM_TYPES: [u8; 7] = [0x01, 0x02, 0x10, 0x1B, 0x24, 0x42, 0xEA];

/// CRC-32/MPEG-2 (polynomial 0x04C11DB7, initial 0xFFFFFFFF, no
/// reflection, no final xor), the CRC of PSI sections. A section followed
/// by its CRC checks to 0.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc: u32 = 0xFFFF_FFFF;
    for &b in data {
        crc ^= (b as u32) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Whether the file starts like an MPEG-TS: sync bytes 0x47 at three
/// consecutive 188-byte strides, starting within the first 188 bytes (a
/// capture may begin with a few junk bytes).
pub fn looks_like_ts(path: &Path) -> Result<bool, TelemetryError> {
    let mut f = std::fs::File::open(path).map_err(|e| TelemetryError::io(path, e))?;
    let mut head = Vec::with_capacity(4 * TS_PACKET);
    f.by_ref()
        .take(4 * TS_PACKET as u64)
        .read_to_end(&mut head)
        .map_err(|e| TelemetryError::io(path, e))?;
    Ok(sync_offset(&head, 0).is_some_and(|o| o < TS_PACKET))
}

/// First offset at or after `from` where three sync bytes line up, or
/// where one does and the buffer ends before the next stride could be
/// checked.
fn sync_offset(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len()).find(|&o| {
        (0..3).all(|k| match buf.get(o + k * TS_PACKET) {
            Some(&b) => b == SYNC,
            None => k > 0 && buf.len() - o < 3 * TS_PACKET,
        })
    })
}

/// The fields of one TS packet header that matter here.
struct TsHeader<'a> {
    pid: u16,
    pusi: bool,
    cc: u8,
    payload: &'a [u8],
}

fn parse_ts(p: &[u8]) -> Option<TsHeader<'_>> {
    if p.len() != TS_PACKET || p[0] != SYNC {
        return None;
    }
    let pid = (((p[1] & 0x1F) as u16) << 8) | p[2] as u16;
    let afc = (p[3] >> 4) & 0x03;
    let start = if afc & 0x02 != 0 {
        5 + p[4] as usize
    } else {
        4
    };
    let payload = if afc & 0x01 != 0 {
        p.get(start..)?
    } else {
        &[]
    };
    Some(TsHeader {
        pid,
        pusi: p[1] & 0x40 != 0,
        cc: p[3] & 0x0F,
        payload,
    })
}

/// A PES header: stream id, PTS if present, and the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pes<'a> {
    pub stream_id: u8,
    pub pts: Option<u64>,
    pub payload: &'a [u8],
}

/// Parses a PES packet (start code, stream id, length, optional header).
/// A PES length of 0 (allowed for video) means "to the end".
pub fn parse_pes(d: &[u8]) -> Option<Pes<'_>> {
    if d.len() < 6 || d[..3] != [0, 0, 1] {
        return None;
    }
    let stream_id = d[3];
    let len = u16::from_be_bytes([d[4], d[5]]) as usize;
    let end = if len == 0 {
        d.len()
    } else {
        (6 + len).min(d.len())
    };
    // Stream ids without the optional PES header: program stream map,
    // padding, private stream 2, ECM, EMM, directory, DSM-CC, H.222 E.
    if matches!(
        stream_id,
        0xBC | 0xBE | 0xBF | 0xF0 | 0xF1 | 0xFF | 0xF2 | 0xF8
    ) {
        return Some(Pes {
            stream_id,
            pts: None,
            payload: &d[6..end],
        });
    }
    if d.len() < 9 || d[6] & 0xC0 != 0x80 {
        return None;
    }
    let start = 9 + d[8] as usize;
    let pts = if d[7] & 0x80 != 0 && d[8] >= 5 {
        d.get(9..14).map(parse_pts)
    } else {
        None
    };
    Some(Pes {
        stream_id,
        pts,
        payload: d.get(start..end.max(start))?,
    })
}

/// The 33-bit time stamp of a PES header's 5 PTS bytes.
pub fn parse_pts(b: &[u8]) -> u64 {
    (((b[0] >> 1) & 0x07) as u64) << 30
        | (b[1] as u64) << 22
        | ((b[2] >> 1) as u64) << 15
        | (b[3] as u64) << 7
        | (b[4] >> 1) as u64
}

/// One metadata access-unit cell of synchronous carriage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell<'a> {
    pub service_id: u8,
    pub sequence: u8,
    /// `0b11` a whole AU, `0b10` its first fragment, `0b00` a middle one,
    /// `0b01` the last.
    pub fragment: u8,
    pub data: &'a [u8],
}

/// Splits a synchronous-carriage PES payload into its cells; `None` unless
/// the cells cover the payload exactly (so that raw KLV is not mistaken
/// for cells).
pub fn parse_cells(mut p: &[u8]) -> Option<Vec<Cell<'_>>> {
    let mut out = Vec::new();
    while !p.is_empty() {
        let h = p.get(..5)?;
        let len = u16::from_be_bytes([h[3], h[4]]) as usize;
        let data = p.get(5..5 + len)?;
        out.push(Cell {
            service_id: h[0],
            sequence: h[1],
            fragment: h[2] >> 6,
            data,
        });
        p = &p[5 + len..];
    }
    (!out.is_empty()).then_some(out)
}

/// Reassembles fragmented access units per metadata service.
#[derive(Debug, Default)]
struct CellJoiner {
    partial: HashMap<u8, Vec<u8>>,
}

impl CellJoiner {
    /// Whole access units completed by these cells. A fragment without its
    /// first part is dropped (the decoder would only see half a packet).
    fn push(&mut self, cells: &[Cell<'_>]) -> Vec<Vec<u8>> {
        let mut done = Vec::new();
        for c in cells {
            match c.fragment {
                0b11 => {
                    self.partial.remove(&c.service_id);
                    done.push(c.data.to_vec());
                }
                0b10 => {
                    self.partial.insert(c.service_id, c.data.to_vec());
                }
                frag => {
                    if let Some(buf) = self.partial.get_mut(&c.service_id) {
                        buf.extend_from_slice(c.data);
                        if frag == 0b01 {
                            done.extend(self.partial.remove(&c.service_id));
                        }
                    }
                }
            }
        }
        done
    }
}

/// Decodes every KLV packet in a payload and counts what it could not.
#[derive(Debug, Default)]
struct Sink {
    totals: Telemetry,
}

impl Sink {
    /// Records of the packets in `payload`; bytes that belong to no known
    /// packet are ignored (other MISB sets, stuffing).
    fn decode_payload(&mut self, payload: &[u8]) -> Vec<Record> {
        let mut out = Vec::new();
        for found in klv::find_packets(payload) {
            if let Some(r) = self.decode_packet(found) {
                out.push(r);
            }
        }
        out
    }

    fn decode_packet(&mut self, found: klv::Found<'_>) -> Option<Record> {
        self.totals.packets += 1;
        if !found.complete {
            self.totals.skipped += 1;
            return None;
        }
        let result = match found.kind {
            SetKind::St0601 => st0601::decode(found.bytes),
            SetKind::Eg0104 => eg0104::decode(found.bytes),
        };
        match result {
            Ok(r) => Some(r),
            Err(PacketError::Checksum) => {
                self.totals.checksum_failures += 1;
                None
            }
            Err(PacketError::Malformed(_)) => {
                self.totals.skipped += 1;
                None
            }
        }
    }
}

/// Unwraps 33-bit time stamps seen in order into a continuous count: each
/// value is placed within ±2^32 ticks (±13.25 h) of the previous one.
#[derive(Debug, Default, Clone, Copy)]
struct Unwrapper {
    last: Option<i64>,
}

impl Unwrapper {
    fn unwrap(&mut self, pts: u64) -> i64 {
        let raw = (pts as i64) & (PTS_MOD - 1);
        let v = match self.last {
            None => raw,
            Some(last) => {
                let base = last - last.rem_euclid(PTS_MOD);
                [base - PTS_MOD, base, base + PTS_MOD]
                    .iter()
                    .map(|b| b + raw)
                    .min_by_key(|v| (v - last).abs())
                    .unwrap_or(raw)
            }
        };
        self.last = Some(v);
        v
    }
}

/// How a PID carries KLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carriage {
    Async,
    Sync,
}

/// A record waiting for media-time alignment.
struct Pending {
    rec: Record,
    /// Unwrapped PTS of its PES.
    pts: Option<i64>,
    /// Unwrapped PTS of the last video PES that started before it.
    video_before: Option<i64>,
}

/// A PES being collected on one PID.
struct PesBuf {
    data: Vec<u8>,
    video_before: Option<i64>,
    /// Whether to keep collecting (false for video and audio, of which
    /// only the header matters).
    keep: bool,
}

/// The demultiplexer's state over a whole file.
#[derive(Default)]
struct Demux {
    pmt_pids: HashSet<u16>,
    klv_pids: HashMap<u16, Carriage>,
    video_pids: HashSet<u16>,
    saw_pmt: bool,
    sections: HashMap<u16, Vec<u8>>,
    pes: HashMap<u16, PesBuf>,
    last_cc: HashMap<u16, u8>,
    joiners: HashMap<u16, CellJoiner>,
    unwrap: Unwrapper,
    first_video: Option<i64>,
    last_video: Option<i64>,
    /// Records and counts from declared KLV PIDs, and from scanning other
    /// PES payloads; the scan is used only when nothing is declared.
    declared: Sink,
    declared_recs: Vec<Pending>,
    scanned: Sink,
    scanned_recs: Vec<Pending>,
    cc_gaps: u64,
}

impl Demux {
    fn packet(&mut self, p: &[u8]) {
        let Some(h) = parse_ts(p) else { return };
        if h.pid == 0x1FFF || h.payload.is_empty() {
            return;
        }
        if self.duplicate(&h) {
            return;
        }
        if h.pid == 0 || self.pmt_pids.contains(&h.pid) {
            self.psi(&h);
        } else {
            self.pes_packet(&h);
        }
    }

    /// ISO 13818-1 lets a packet be sent twice in a row (same CC); the copy
    /// is dropped. A gap is counted (the checksum catches the damage).
    fn duplicate(&mut self, h: &TsHeader<'_>) -> bool {
        let prev = self.last_cc.insert(h.pid, h.cc);
        match prev {
            Some(c) if c == h.cc => true,
            Some(c) => {
                if (c + 1) & 0x0F != h.cc && self.klv_pids.contains_key(&h.pid) {
                    self.cc_gaps += 1;
                }
                false
            }
            None => false,
        }
    }

    fn psi(&mut self, h: &TsHeader<'_>) {
        let buf = self.sections.entry(h.pid).or_default();
        if h.pusi {
            let ptr = h.payload[0] as usize;
            if let Some(rest) = h.payload.get(1 + ptr..) {
                buf.clear();
                buf.extend_from_slice(rest);
            }
        } else if !buf.is_empty() {
            buf.extend_from_slice(h.payload);
        }
        let Some(len) = buf
            .get(1..3)
            .map(|b| 3 + ((((b[0] & 0x0F) as usize) << 8) | b[1] as usize))
        else {
            return;
        };
        if buf.len() < len {
            return;
        }
        let section = buf[..len].to_vec();
        buf.clear();
        if crc32_mpeg2(&section) != 0 {
            return;
        }
        match section[0] {
            0x00 if h.pid == 0 => self.pat(&section),
            0x02 => self.pmt(&section),
            _ => {}
        }
    }

    fn pat(&mut self, s: &[u8]) {
        if s.len() < 12 {
            return;
        }
        for e in s[8..s.len() - 4].chunks_exact(4) {
            let program = u16::from_be_bytes([e[0], e[1]]);
            if program != 0 {
                self.pmt_pids
                    .insert((((e[2] & 0x1F) as u16) << 8) | e[3] as u16);
            }
        }
    }

    fn pmt(&mut self, s: &[u8]) {
        self.saw_pmt = true;
        for es in pmt_streams(s) {
            if let Some(c) = es.carriage() {
                self.klv_pids.insert(es.pid, c);
            } else if VIDEO_STREAM_TYPES.contains(&es.stream_type) {
                self.video_pids.insert(es.pid);
            }
        }
    }

    fn pes_packet(&mut self, h: &TsHeader<'_>) {
        if h.pusi {
            self.flush(h.pid);
            self.start_pes(h);
        } else if let Some(b) = self.pes.get_mut(&h.pid) {
            if b.keep {
                b.data.extend_from_slice(h.payload);
                if b.data.len() > MAX_PES {
                    self.pes.remove(&h.pid);
                }
            }
        }
        if self.pes_complete(h.pid) {
            self.flush(h.pid);
        }
    }

    fn start_pes(&mut self, h: &TsHeader<'_>) {
        let Some(pes) = parse_pes(h.payload) else {
            return;
        };
        let is_video = self.video_pids.contains(&h.pid)
            || (!self.saw_pmt && (0xE0..=0xEF).contains(&pes.stream_id));
        if is_video {
            if let Some(pts) = pes.pts {
                let v = self.unwrap.unwrap(pts);
                self.first_video.get_or_insert(v);
                self.last_video = Some(v);
            }
            return;
        }
        let audio = (0xC0..=0xDF).contains(&pes.stream_id);
        self.pes.insert(
            h.pid,
            PesBuf {
                data: h.payload.to_vec(),
                video_before: self.last_video,
                keep: !audio,
            },
        );
    }

    /// Whether a PES with a stated length has all its bytes.
    fn pes_complete(&self, pid: u16) -> bool {
        self.pes.get(&pid).is_some_and(|b| {
            let d = &b.data;
            d.len() >= 6 && {
                let len = u16::from_be_bytes([d[4], d[5]]) as usize;
                len != 0 && d.len() >= 6 + len
            }
        })
    }

    fn flush(&mut self, pid: u16) {
        let Some(buf) = self.pes.remove(&pid) else {
            return;
        };
        if !buf.keep {
            return;
        }
        let Some(pes) = parse_pes(&buf.data) else {
            return;
        };
        let pts = pes.pts.map(|p| self.unwrap.unwrap(p));
        let declared = self.klv_pids.get(&pid).copied();
        let sync =
            declared == Some(Carriage::Sync) || (declared.is_none() && pes.stream_id == 0xFC);
        let payloads = match parse_cells(pes.payload).filter(|_| sync) {
            Some(cells) => self.joiners.entry(pid).or_default().push(&cells),
            None => vec![pes.payload.to_vec()],
        };
        let (sink, recs) = if declared.is_some() {
            (&mut self.declared, &mut self.declared_recs)
        } else {
            (&mut self.scanned, &mut self.scanned_recs)
        };
        for payload in payloads {
            for mut rec in sink.decode_payload(&payload) {
                rec.pid = Some(pid);
                rec.pts_90k = pes.pts;
                recs.push(Pending {
                    rec,
                    pts,
                    video_before: buf.video_before,
                });
            }
        }
    }

    fn finish(mut self) -> (Telemetry, Option<u64>, bool) {
        let pids: Vec<u16> = self.pes.keys().copied().collect();
        for pid in pids {
            self.flush(pid);
        }
        let first_video = self.first_video;
        let declared = !self.klv_pids.is_empty();
        let (sink, recs) = if declared {
            (self.declared, self.declared_recs)
        } else {
            (self.scanned, self.scanned_recs)
        };
        let mut t = sink.totals;
        if self.cc_gaps > 0 {
            t.warnings.push(format!(
                "{} continuity-counter gaps on KLV PIDs (TS packets lost)",
                self.cc_gaps
            ));
        }
        t.records = align(recs, first_video);
        let raw_first = first_video.map(|v| v.rem_euclid(PTS_MOD) as u64);
        (t, raw_first, declared)
    }
}

/// One elementary stream of a PMT.
struct EsInfo<'a> {
    stream_type: u8,
    pid: u16,
    descriptors: &'a [u8],
}

impl EsInfo<'_> {
    /// How this stream carries KLV, if it does.
    fn carriage(&self) -> Option<Carriage> {
        let descs = descriptors(self.descriptors);
        match self.stream_type {
            0x06 if descs
                .iter()
                .any(|(t, d)| *t == 0x05 && d.starts_with(b"KLVA")) =>
            {
                Some(Carriage::Async)
            }
            0x15 => {
                // A metadata stream is KLV unless its metadata descriptor
                // names another format (ID3 in HLS, for one).
                let meta: Vec<&[u8]> = descs
                    .iter()
                    .filter(|(t, _)| *t == 0x26)
                    .map(|(_, d)| *d)
                    .collect();
                let klva = |d: &&[u8]| d.windows(4).any(|w| w == b"KLVA");
                (meta.is_empty() || meta.iter().any(klva)).then_some(Carriage::Sync)
            }
            _ => None,
        }
    }
}

/// The descriptors of a descriptor loop as (tag, body).
fn descriptors(mut d: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while d.len() >= 2 {
        let len = d[1] as usize;
        let Some(body) = d.get(2..2 + len) else { break };
        out.push((d[0], body));
        d = &d[2 + len..];
    }
    out
}

/// The elementary streams listed in a (CRC-checked) PMT section.
fn pmt_streams(s: &[u8]) -> Vec<EsInfo<'_>> {
    let mut out = Vec::new();
    if s.len() < 16 {
        return out;
    }
    let body = &s[..s.len() - 4];
    let prog_info = (((body[10] & 0x0F) as usize) << 8) | body[11] as usize;
    let mut p = 12 + prog_info;
    while p + 5 <= body.len() {
        let e = &body[p..];
        let info = (((e[3] & 0x0F) as usize) << 8) | e[4] as usize;
        let Some(descriptors) = e.get(5..5 + info) else {
            break;
        };
        out.push(EsInfo {
            stream_type: e[0],
            pid: (((e[1] & 0x1F) as u16) << 8) | e[2] as u16,
            descriptors,
        });
        p += 5 + info;
    }
    out
}

/// Gives each record its media time `t_s` (see the module docs), in
/// place, and returns the records in multiplex order.
fn align(recs: Vec<Pending>, first_video: Option<i64>) -> Vec<Record> {
    let origin = first_video.or_else(|| recs.iter().find_map(|p| p.pts));
    let secs = |ticks: i64| origin.map(|o| (ticks - o) as f64 / HZ);
    // The first packet with both a PTS and a precision time stamp ties UTC
    // to media time; without one, the first time stamp is media time 0.
    let anchor = recs
        .iter()
        .find_map(|p| Some((secs(p.pts?)?, p.rec.utc?)))
        .or_else(|| recs.iter().find_map(|p| p.rec.utc).map(|u| (0.0, u)));
    recs.into_iter()
        .map(|p| {
            let mut rec = p.rec;
            rec.t_s = match (p.pts, rec.utc, anchor) {
                (Some(pts), _, _) => secs(pts),
                (None, Some(u), Some((t0, u0))) => Some(t0 + (u.unix_us - u0.unix_us) as f64 / 1e6),
                (None, _, _) => p.video_before.and_then(secs),
            };
            rec
        })
        .collect()
}

/// Every KLV record in an MPEG-TS file.
pub fn read(path: &Path) -> Result<Telemetry, TelemetryError> {
    read_with_video_start(path).map(|(t, _)| t)
}

/// Every KLV record in an MPEG-TS file, and the first video PTS (raw 90 kHz
/// ticks) that the records' `t_s` counts from (`None` when the file has no
/// video, in which case `t_s` counts from the first KLV PTS).
pub fn read_with_video_start(path: &Path) -> Result<(Telemetry, Option<u64>), TelemetryError> {
    let f = std::fs::File::open(path).map_err(|e| TelemetryError::io(path, e))?;
    let mut demux = Demux::default();
    let mut warnings = feed_file(path, f, &mut demux)?;
    let saw_pmt = demux.saw_pmt;
    let (mut t, first_video, declared) = demux.finish();
    warnings.append(&mut t.warnings);
    t.warnings = warnings;
    if t.packets == 0 {
        let reason = match (declared, saw_pmt) {
            (true, _) => {
                "its PMT declares a KLV stream, but no UAS Datalink or EG 0104 packet arrived on it"
            }
            (false, true) => "no KLV stream in its PMT and no UAS Datalink key in any PES payload",
            (false, false) => "no PAT/PMT and no UAS Datalink key in any PES payload",
        };
        return Err(TelemetryError::Empty {
            path: path.to_owned(),
            reason: reason.into(),
        });
    }
    Ok((t, first_video))
}

/// Reads the file in chunks and hands the demuxer whole packets, resyncing
/// after lost sync. Returns warnings about the framing.
fn feed_file(
    path: &Path,
    mut f: impl Read,
    demux: &mut Demux,
) -> Result<Vec<String>, TelemetryError> {
    let mut warnings = Vec::new();
    let (mut buf, mut offset, mut resyncs, mut any) = (Vec::new(), 0u64, 0u64, false);
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut chunk)
            .map_err(|e| TelemetryError::io(path, e))?;
        buf.extend_from_slice(&chunk[..n]);
        let eof = n == 0;
        let mut pos = 0;
        while buf.len() - pos >= TS_PACKET {
            if buf[pos] == SYNC && buf.get(pos + TS_PACKET).is_none_or(|b| *b == SYNC) {
                any = true;
                demux.packet(&buf[pos..pos + TS_PACKET]);
                pos += TS_PACKET;
                continue;
            }
            if !eof && buf.len() - pos < 3 * TS_PACKET {
                break; // need more bytes to judge
            }
            match sync_offset(&buf, pos + 1) {
                Some(o) => {
                    resyncs += 1;
                    pos = o;
                }
                None => pos = buf.len(),
            }
        }
        offset += pos as u64;
        buf.drain(..pos);
        if eof {
            break;
        }
    }
    if !any {
        return Err(TelemetryError::format(path, "no MPEG-TS sync bytes found"));
    }
    if resyncs > 0 {
        warnings.push(format!(
            "lost TS sync {resyncs} times; skipped to the next sync byte"
        ));
    }
    if !buf.is_empty() {
        warnings.push(format!(
            "ends in a partial TS packet ({} bytes at byte {offset})",
            buf.len()
        ));
    }
    Ok(warnings)
}

/// Every packet in a raw file of concatenated KLV packets (ST 0601 and/or
/// EG 0104). `t_s` counts from the first packet's precision time stamp;
/// without time stamps it is `None`. Junk between packets and a cut-off
/// tail are warnings, not errors.
pub fn read_klv_file(path: &Path) -> Result<Telemetry, TelemetryError> {
    let bytes = std::fs::read(path).map_err(|e| TelemetryError::io(path, e))?;
    let found = klv::find_packets(&bytes);
    if found.is_empty() {
        return Err(TelemetryError::Empty {
            path: path.to_owned(),
            reason: "no UAS Datalink or EG 0104 key in the file".into(),
        });
    }
    let mut sink = Sink::default();
    let mut recs = Vec::new();
    let (mut expected, mut junk) = (0usize, 0usize);
    for f in &found {
        if f.offset < expected {
            continue; // a key inside a cut-short packet's claimed span
        }
        junk += f.offset - expected;
        if f.complete {
            expected = f.offset + f.bytes.len();
        }
        recs.extend(sink.decode_packet(*f));
    }
    let mut t = sink.totals;
    if junk > 0 {
        t.warnings.push(format!(
            "{junk} bytes between packets belong to no known KLV set"
        ));
    }
    if expected < bytes.len() {
        t.warnings.push(format!(
            "{} trailing bytes after the last whole packet (cut off?)",
            bytes.len() - expected
        ));
    }
    let t0 = recs.iter().find_map(|r: &Record| r.utc);
    for r in &mut recs {
        r.t_s = match (r.utc, t0) {
            (Some(u), Some(u0)) => Some((u.unix_us - u0.unix_us) as f64 / 1e6),
            _ => None,
        };
    }
    t.records = recs;
    Ok(t)
}

/// Decodes a live feed's KLV data stream packet by packet, as FFmpeg's
/// demuxer hands them over. Each payload may be raw KLV (a key at byte 0),
/// synchronous metadata AU cells, or unknown, in which case it is scanned
/// for keys. `t_s` counts from the first PTS pushed.
#[derive(Debug, Default)]
pub struct KlvStream {
    sink: SinkState,
}

#[derive(Debug, Default)]
struct SinkState {
    sink: Sink,
    cells: CellJoiner,
    unwrap: Unwrapper,
    first: Option<i64>,
}

impl KlvStream {
    pub fn new() -> KlvStream {
        KlvStream::default()
    }

    /// Records decoded from one data-stream packet. Checksum failures and
    /// undecodable packets are counted, not returned.
    pub fn push(&mut self, payload: &[u8], pts_90k: Option<u64>) -> Vec<Record> {
        let s = &mut self.sink;
        let payloads = if klv::set_kind(payload).is_some() {
            vec![payload.to_vec()]
        } else if let Some(cells) = parse_cells(payload) {
            s.cells.push(&cells)
        } else {
            vec![payload.to_vec()]
        };
        let t_s = pts_90k.map(|p| {
            let v = s.unwrap.unwrap(p);
            (v - *s.first.get_or_insert(v)) as f64 / HZ
        });
        let mut out = Vec::new();
        for p in payloads {
            for mut r in s.sink.decode_payload(&p) {
                r.pts_90k = pts_90k;
                r.t_s = t_s;
                out.push(r);
            }
        }
        out
    }

    /// The counts so far (packets, checksum failures, skipped), without
    /// records.
    pub fn totals(&self) -> Telemetry {
        let t = &self.sink.sink.totals;
        Telemetry {
            records: Vec::new(),
            packets: t.packets,
            checksum_failures: t.checksum_failures,
            skipped: t.skipped,
            warnings: t.warnings.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::synth::{self, KlvCarriage, KLV_PID};
    use crate::telemetry::{Format, Utc};

    const T0: u64 = 1_700_000_000_000_000;

    fn klv(i: u64, lat: f64) -> Vec<u8> {
        let mut r = Record::new(Format::St0601);
        r.utc = Some(Utc::from_unix_us((T0 + i * 100_000) as i64, 6));
        r.lat = Some(lat);
        r.lon = Some(10.0);
        r.ls_version = Some(17);
        st0601::encode(&r)
    }

    fn write(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("clip.ts");
        std::fs::write(&p, bytes).unwrap();
        (dir, p)
    }

    /// Ten frames 0.1 s apart from PTS 126000 (1.4 s), and a KLV packet
    /// per frame at the same PTS.
    fn clip(carriage: KlvCarriage, with_psi: bool) -> Vec<u8> {
        let pts: Vec<u64> = (0..10).map(|i| 126_000 + 9000 * i).collect();
        let items: Vec<(u64, Vec<u8>)> = pts
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, klv(i as u64, 40.0 + i as f64 * 0.001)))
            .collect();
        synth::mux_klv(&synth::tiny_video_ts(&pts), &items, carriage, with_psi)
    }

    fn check_clip(t: &Telemetry) {
        assert_eq!(t.records.len(), 10, "{t:?}");
        assert_eq!((t.packets, t.checksum_failures, t.skipped), (10, 0, 0));
        for (i, r) in t.records.iter().enumerate() {
            assert_eq!(r.pid, Some(KLV_PID));
            assert_eq!(r.source, Some(Format::St0601));
            assert_eq!(r.checksum_ok, Some(true));
            assert_eq!(r.pts_90k, Some(126_000 + 9000 * i as u64));
            assert!((r.t_s.unwrap() - 0.1 * i as f64).abs() < 1e-9);
            assert!((r.lat.unwrap() - (40.0 + i as f64 * 0.001)).abs() < 1e-7);
        }
    }

    #[test]
    fn asynchronous_klv_is_read_from_its_pmt_stream() {
        let (_d, p) = write(&clip(KlvCarriage::Async, true));
        assert!(looks_like_ts(&p).unwrap());
        let (t, first) = read_with_video_start(&p).unwrap();
        check_clip(&t);
        assert_eq!(first, Some(126_000));
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    }

    #[test]
    fn synchronous_metadata_cells_are_stripped() {
        let (_d, p) = write(&clip(KlvCarriage::Sync, true));
        check_clip(&read(&p).unwrap());
    }

    #[test]
    fn pat_less_streams_are_scanned() {
        for c in [KlvCarriage::Async, KlvCarriage::Sync] {
            let (_d, p) = write(&clip(c, false));
            check_clip(&read(&p).unwrap());
        }
    }

    #[test]
    fn a_corrupted_packet_is_counted_not_returned() {
        let pts: Vec<u64> = (0..3).map(|i| 9000 * i).collect();
        let mut bad = klv(1, 41.0);
        bad[30] ^= 0x55;
        let items = vec![(0, klv(0, 40.0)), (9000, bad), (18000, klv(2, 42.0))];
        let ts = synth::mux_klv(
            &synth::tiny_video_ts(&pts),
            &items,
            KlvCarriage::Async,
            true,
        );
        let (_d, p) = write(&ts);
        let t = read(&p).unwrap();
        assert_eq!((t.records.len(), t.packets, t.checksum_failures), (2, 3, 1));
        assert_eq!(t.records[1].lat.map(|l| l.round()), Some(42.0));
    }

    #[test]
    fn pts_wrap_around_keeps_media_time_running() {
        let start = (1u64 << 33) - 18_000;
        let pts: Vec<u64> = (0..5)
            .map(|i| (start + 9000 * i) & ((1 << 33) - 1))
            .collect();
        let items: Vec<(u64, Vec<u8>)> = pts
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, klv(i as u64, 40.0)))
            .collect();
        let ts = synth::mux_klv(
            &synth::tiny_video_ts(&pts),
            &items,
            KlvCarriage::Async,
            true,
        );
        let (_d, p) = write(&ts);
        let (t, first) = read_with_video_start(&p).unwrap();
        assert_eq!(first, Some(start));
        let ts: Vec<f64> = t.records.iter().map(|r| r.t_s.unwrap()).collect();
        for (i, x) in ts.iter().enumerate() {
            assert!((x - 0.1 * i as f64).abs() < 1e-9, "{ts:?}");
        }
    }

    #[test]
    fn packets_without_pts_align_by_time_stamp_or_by_order() {
        let pts: Vec<u64> = (0..4).map(|i| 90_000 + 9000 * i).collect();
        let mut no_utc = Record::new(Format::St0601);
        no_utc.lat = Some(1.0);
        let items = vec![
            (Some(90_000), klv(0, 40.0)),
            // 0.2 s after the first by its time stamp.
            (None, klv(2, 40.0)),
            (Some(117_000), klv(3, 40.0)),
            // Nothing but its place in the multiplex: it follows the
            // previous packet, before video PTS 117000, after 108000.
            (None, st0601::encode(&no_utc)),
        ];
        let ts = synth::mux_klv_with(
            &synth::tiny_video_ts(&pts),
            &items,
            KlvCarriage::Async,
            true,
        );
        let (_d, p) = write(&ts);
        let t = read(&p).unwrap();
        let got: Vec<Option<f64>> = t.records.iter().map(|r| r.t_s).collect();
        let want = [0.0, 0.2, 0.3, 0.2];
        for (g, w) in got.iter().zip(want) {
            assert!((g.unwrap() - w).abs() < 1e-9, "{got:?}");
        }
        assert_eq!(t.records[1].pts_90k, None);
    }

    #[test]
    fn lost_sync_and_a_cut_tail_are_warnings() {
        let mut ts = clip(KlvCarriage::Async, true);
        let at = 5 * TS_PACKET;
        ts.splice(at..at, [0x12, 0x47, 0x00]);
        ts.truncate(ts.len() - 100);
        let (_d, p) = write(&ts);
        let t = read(&p).unwrap();
        assert!(t.records.len() >= 8, "{}", t.records.len());
        assert_eq!(t.warnings.len(), 2, "{:?}", t.warnings);
    }

    #[test]
    fn a_stream_without_klv_is_empty_and_names_the_file() {
        let (_d, p) = write(&synth::tiny_video_ts(&[0, 3000]));
        let e = read(&p).unwrap_err();
        assert!(matches!(e, TelemetryError::Empty { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("clip.ts") && msg.contains("no KLV stream in its PMT"),
            "{msg}"
        );
        let (_d, p) = write(b"hello");
        assert!(!looks_like_ts(&p).unwrap());
        assert!(read(&p).unwrap_err().to_string().contains("clip.ts"));
    }

    #[test]
    fn raw_klv_files_with_a_bad_tail() {
        let mut eg = Record::new(Format::Eg0104);
        eg.utc = Some(Utc::from_unix_us((T0 + 500_000) as i64, 6));
        eg.lat = Some(5.0);
        let mut bytes = synth::klv_file(&[klv(0, 40.0), eg0104::encode(&eg), klv(1, 40.0)]);
        bytes.extend_from_slice(&klv(2, 40.0)[..20]);
        let (_d, p) = write(&bytes);
        let t = read_klv_file(&p).unwrap();
        assert_eq!(t.records.len(), 3);
        assert_eq!(t.records[1].source, Some(Format::Eg0104));
        let ts: Vec<f64> = t.records.iter().map(|r| r.t_s.unwrap()).collect();
        assert_eq!(ts, vec![0.0, 0.5, 0.1]);
        assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
        assert_eq!((t.packets, t.skipped), (4, 1));
        let (_d, p) = write(b"no klv here");
        assert!(matches!(
            read_klv_file(&p),
            Err(TelemetryError::Empty { .. })
        ));
    }

    #[test]
    fn live_stream_takes_raw_cells_and_unknown_payloads() {
        let mut s = KlvStream::new();
        assert_eq!(s.push(&klv(0, 40.0), Some(1000)).len(), 1);
        let k = klv(1, 40.0);
        let (a, b) = k.split_at(30);
        let cell = |frag: u8, d: &[u8]| {
            let mut c = vec![0, 0, frag << 6];
            c.extend_from_slice(&(d.len() as u16).to_be_bytes());
            c.extend_from_slice(d);
            c
        };
        assert!(s.push(&cell(0b10, a), Some(10_000)).is_empty());
        let r = s.push(&cell(0b01, b), Some(10_000));
        assert_eq!(r.len(), 1);
        assert!((r[0].t_s.unwrap() - 0.1).abs() < 1e-9);
        let mut junk = vec![9, 9, 9];
        junk.extend(klv(2, 40.0));
        assert_eq!(s.push(&junk, None).len(), 1);
        let mut bad = klv(3, 40.0);
        bad[20] ^= 1;
        assert!(s.push(&bad, None).is_empty());
        let t = s.totals();
        assert_eq!((t.packets, t.checksum_failures, t.skipped), (4, 1, 0));
    }

    #[test]
    fn random_and_truncated_streams_never_panic() {
        let ts = clip(KlvCarriage::Sync, true);
        let mut x: u64 = 0xDEADBEEF;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fuzz.ts");
        for round in 0..60 {
            let mut b = ts.clone();
            for _ in 0..(round % 7) * 5 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize >> 4) % b.len();
                b[i] = x as u8;
            }
            b.truncate(b.len() - (x as usize % 500));
            std::fs::write(&p, &b).unwrap();
            let _ = read(&p);
            let _ = read_klv_file(&p);
            let mut s = KlvStream::new();
            for chunk in b.chunks(97) {
                let _ = s.push(chunk, Some(x & 0xFFFF));
            }
        }
    }

    /// Muxes KLV into a real FFmpeg transport stream and checks that FFmpeg
    /// still decodes the video and sees the data stream. Skipped when
    /// `ffmpeg`/`ffprobe` are not on PATH.
    #[test]
    fn ffmpeg_accepts_the_muxed_stream() {
        use std::process::Command;
        let have = |c: &str| {
            Command::new(c)
                .arg("-version")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !have("ffmpeg") || !have("ffprobe") {
            eprintln!("note: ffmpeg/ffprobe not on PATH; skipping the FFmpeg mux check");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.ts");
        let ok = Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=64x48:rate=10:duration=1",
            ])
            .args(["-c:v", "mpeg2video", "-f", "mpegts"])
            .arg(&src)
            .status()
            .unwrap();
        assert!(ok.success());
        let video = std::fs::read(&src).unwrap();
        for c in [KlvCarriage::Async, KlvCarriage::Sync] {
            let items: Vec<(u64, Vec<u8>)> = (0..10)
                .map(|i| (126_000 + 9000 * i, klv(i, 40.0)))
                .collect();
            let out = dir.path().join("out.ts");
            std::fs::write(&out, synth::mux_klv(&video, &items, c, true)).unwrap();
            let dec = Command::new("ffmpeg")
                .args(["-v", "error", "-i"])
                .arg(&out)
                .args(["-map", "0:v", "-f", "null", "-"])
                .output()
                .unwrap();
            assert!(
                dec.status.success() && dec.stderr.is_empty(),
                "{}",
                String::from_utf8_lossy(&dec.stderr)
            );
            let probe = Command::new("ffprobe")
                .args([
                    "-v",
                    "error",
                    "-show_entries",
                    "stream=codec_type,codec_name",
                    "-of",
                    "csv",
                ])
                .arg(&out)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&probe.stdout);
            assert!(text.contains("data"), "{c:?}: {text}");
            let t = read(&out).unwrap();
            assert_eq!(t.records.len(), 10, "{c:?}");
            assert!(t.records[0].t_s.is_some());
        }
    }

    mod props {
        use super::*;
        use crate::telemetry::fuzz;
        use proptest::prelude::*;

        /// Feeds `bytes` to the demuxer as a file's reader would.
        fn demux(bytes: &[u8]) -> Result<Telemetry, TelemetryError> {
            let mut d = Demux::default();
            feed_file(Path::new("fuzz.ts"), bytes, &mut d)?;
            Ok(d.finish().0)
        }

        /// TS packets: a sync byte, then anything, with now and then a
        /// packet of the synthetic clip.
        fn packets() -> impl Strategy<Value = Vec<u8>> {
            let clip = clip(KlvCarriage::Async, true);
            let n = clip.len() / TS_PACKET;
            prop::collection::vec(
                prop_oneof![
                    2 => prop::collection::vec(any::<u8>(), TS_PACKET - 1)
                        .prop_map(|rest| [vec![0x47], rest].concat()),
                    1 => (0..n).prop_map(move |i| clip[i * TS_PACKET..(i + 1) * TS_PACKET].to_vec()),
                ],
                0..24,
            )
            .prop_map(|p| p.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            #[test]
            fn damaged_streams_demux_to_finite_records(
                bytes in fuzz::mutated(clip(KlvCarriage::Sync, true))
            ) {
                if let Ok(t) = demux(&bytes) {
                    for r in &t.records {
                        prop_assert_eq!(fuzz::non_finite(r), None, "{:?}", r);
                    }
                }
            }

            #[test]
            fn random_and_spliced_packets_never_panic(bytes in packets()) {
                let _ = demux(&bytes);
            }

            /// A live data stream's payloads, whatever they hold.
            #[test]
            fn any_live_payload_never_panics(
                payloads in prop::collection::vec(
                    (prop::collection::vec(any::<u8>(), 0..120), proptest::option::of(any::<u64>())),
                    0..12,
                ),
                with_key in any::<bool>(),
            ) {
                let mut s = KlvStream::new();
                for (mut p, pts) in payloads {
                    if with_key {
                        p.splice(0..0, klv::UAS_LS_KEY);
                    }
                    for r in s.push(&p, pts) {
                        prop_assert_eq!(fuzz::non_finite(&r), None, "{:?}", r);
                    }
                }
            }

            #[test]
            fn pes_and_cells_stay_inside_their_bytes(d in prop::collection::vec(any::<u8>(), 0..64)) {
                if let Some(p) = parse_pes(&d) {
                    prop_assert!(p.payload.len() <= d.len());
                }
                if let Some(cells) = parse_cells(&d) {
                    let covered: usize = cells.iter().map(|c| 5 + c.data.len()).sum();
                    prop_assert_eq!(covered, d.len());
                }
            }
        }
    }
}
