//! Writes KLV into MPEG-TS, to make test data.
//!
//! Nothing here is used on real evidence: these functions build the
//! streams that the readers in [`super::ts`] are tested against, by this
//! module's unit tests and by integration tests elsewhere. They follow the
//! carriage rules of MISB ST 1402 closely enough that FFmpeg and
//! `ffprobe` accept the result:
//!
//! - [`mux_klv`] adds a KLV stream to a transport stream such as
//!   `ffmpeg -i in.mp4 -c copy -f mpegts out.ts` writes (PAT on PID 0, PMT
//!   on 0x1000, video on 0x100): it rewrites the PMT (new CRC), and
//!   interleaves one PES per KLV packet on [`KLV_PID`];
//! - [`tiny_video_ts`] makes a small stand-in for such a stream without
//!   FFmpeg (the "video" is not decodable, only well-framed);
//! - [`klv_file`] makes a raw `.klv` byte stream.

use super::ts::{crc32_mpeg2, TS_PACKET};

/// The PID [`mux_klv`] puts KLV on.
pub const KLV_PID: u16 = 0x1F1;
/// The PIDs [`tiny_video_ts`] uses, as FFmpeg does.
pub const PMT_PID: u16 = 0x1000;
pub const VIDEO_PID: u16 = 0x100;

/// How [`mux_klv`] carries KLV (MISB ST 1402).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KlvCarriage {
    /// `stream_type` 0x06, registration descriptor `KLVA`, PES stream id
    /// 0xBD, raw KLV payload.
    Async,
    /// `stream_type` 0x15 with metadata pointer and metadata descriptors,
    /// PES stream id 0xFC, one metadata AU cell per packet.
    Sync,
}

/// Concatenates KLV packets into a raw `.klv` byte stream.
pub fn klv_file(packets: &[Vec<u8>]) -> Vec<u8> {
    packets.concat()
}

/// Adds a KLV stream to `video_ts`. Each KLV packet becomes one PES with
/// its PTS, placed just before the first video PES whose PTS is at least
/// its own (those left over go at the end). `with_psi = false` drops the
/// PAT and PMT, making a PAT-less stream.
pub fn mux_klv(
    video_ts: &[u8],
    klv: &[(u64, Vec<u8>)],
    carriage: KlvCarriage,
    with_psi: bool,
) -> Vec<u8> {
    let items: Vec<(Option<u64>, Vec<u8>)> =
        klv.iter().map(|(p, k)| (Some(*p), k.clone())).collect();
    mux_klv_with(video_ts, &items, carriage, with_psi)
}

/// [`mux_klv`] where a packet's PTS may be absent (`None`): such a packet
/// goes right after the one before it.
pub fn mux_klv_with(
    video_ts: &[u8],
    klv: &[(Option<u64>, Vec<u8>)],
    carriage: KlvCarriage,
    with_psi: bool,
) -> Vec<u8> {
    let pmt_pid = find_pmt_pid(video_ts).unwrap_or(PMT_PID);
    let mut out = Vec::with_capacity(video_ts.len() + klv.len() * 2 * TS_PACKET);
    let mut next = 0;
    let mut cc = 0u8;
    let mut last_pts = 0u64;
    for p in video_ts.chunks_exact(TS_PACKET) {
        let pid = pid_of(p);
        if pid == 0 || pid == pmt_pid {
            if with_psi {
                out.extend_from_slice(&if pid == pmt_pid {
                    rewrite_pmt(p, carriage)
                } else {
                    p.to_vec()
                });
            }
            continue;
        }
        if let Some(vpts) = video_pes_pts(p) {
            while let Some((pts, data)) = klv.get(next) {
                let at = pts.unwrap_or(last_pts);
                if at > vpts {
                    break;
                }
                last_pts = at;
                out.extend(klv_pes(*pts, data, carriage, next as u8, &mut cc));
                next += 1;
            }
        }
        out.extend_from_slice(p);
    }
    for (i, (pts, data)) in klv.iter().enumerate().skip(next) {
        out.extend(klv_pes(*pts, data, carriage, i as u8, &mut cc));
    }
    out
}

fn pid_of(p: &[u8]) -> u16 {
    (((p[1] & 0x1F) as u16) << 8) | p[2] as u16
}

fn payload_of(p: &[u8]) -> &[u8] {
    let afc = (p[3] >> 4) & 3;
    let start = if afc & 2 != 0 { 5 + p[4] as usize } else { 4 };
    if afc & 1 == 0 {
        return &[];
    }
    p.get(start..).unwrap_or(&[])
}

/// The PMT PID from the stream's first PAT.
fn find_pmt_pid(ts: &[u8]) -> Option<u16> {
    let p = ts.chunks_exact(TS_PACKET).find(|p| pid_of(p) == 0)?;
    let pl = payload_of(p);
    let s = pl.get(1 + *pl.first()? as usize..)?;
    let e = s.get(8..12)?;
    Some((((e[2] & 0x1F) as u16) << 8) | e[3] as u16)
}

/// The PTS of a packet that starts a video PES (stream id 0xE0–0xEF).
fn video_pes_pts(p: &[u8]) -> Option<u64> {
    if p[1] & 0x40 == 0 {
        return None;
    }
    let pes = super::ts::parse_pes(payload_of(p))?;
    (0xE0..=0xEF)
        .contains(&pes.stream_id)
        .then_some(pes.pts)
        .flatten()
}

/// Rewrites a single-packet PMT to list the KLV stream too.
fn rewrite_pmt(p: &[u8], carriage: KlvCarriage) -> Vec<u8> {
    let pl = payload_of(p);
    let Some(section) = pl.get(1 + pl[0] as usize..) else {
        return p.to_vec();
    };
    let len = 3 + ((((section[1] & 0x0F) as usize) << 8) | section[2] as usize);
    let Some(section) = section.get(..len) else {
        return p.to_vec();
    };
    let new = pmt_with_klv(section, carriage);
    psi_packet(pid_of(p), p[3] & 0x0F, &new)
}

/// A PMT section with the KLV stream added (and, for synchronous carriage,
/// a metadata pointer descriptor in the program info), new CRC included.
pub fn pmt_with_klv(section: &[u8], carriage: KlvCarriage) -> Vec<u8> {
    let body = &section[..section.len() - 4];
    let prog_info_len = (((body[10] & 0x0F) as usize) << 8) | body[11] as usize;
    let mut prog_info = body[12..12 + prog_info_len].to_vec();
    let (stream_type, es_info) = match carriage {
        KlvCarriage::Async => (0x06, vec![0x05, 0x04, b'K', b'L', b'V', b'A']),
        KlvCarriage::Sync => {
            prog_info.extend_from_slice(&metadata_pointer_descriptor(u16::from_be_bytes([
                body[3], body[4],
            ])));
            (0x15, metadata_descriptor())
        }
    };
    let mut s = body[..10].to_vec();
    s.extend_from_slice(&[0xF0 | (prog_info.len() >> 8) as u8, prog_info.len() as u8]);
    s.extend_from_slice(&prog_info);
    s.extend_from_slice(&body[12 + prog_info_len..]);
    s.push(stream_type);
    s.extend_from_slice(&[0xE0 | (KLV_PID >> 8) as u8, KLV_PID as u8]);
    s.extend_from_slice(&[0xF0 | (es_info.len() >> 8) as u8, es_info.len() as u8]);
    s.extend_from_slice(&es_info);
    finish_section(s)
}

/// Sets a section's length field and appends its CRC.
fn finish_section(mut s: Vec<u8>) -> Vec<u8> {
    let len = s.len() + 4 - 3;
    s[1] = (s[1] & 0xF0) | (len >> 8) as u8 & 0x0F;
    s[2] = len as u8;
    let crc = crc32_mpeg2(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    s
}

/// ISO 13818-1 metadata_pointer_descriptor (tag 0x25) for KLV in this
/// program, service 0, carried in this TS (MPEG_carriage_flags 0).
fn metadata_pointer_descriptor(program: u16) -> Vec<u8> {
    let mut d = vec![0x25, 0, 0xFF, 0xFF];
    d.extend_from_slice(b"KLVA");
    d.push(0xFF);
    d.extend_from_slice(b"KLVA");
    d.push(0x00); // metadata_service_id
    d.push(0x1F); // locator flag 0, carriage flags 00, reserved 11111
    d.extend_from_slice(&program.to_be_bytes());
    d[1] = (d.len() - 2) as u8;
    d
}

/// ISO 13818-1 metadata_descriptor (tag 0x26): format `KLVA`, service 0,
/// no decoder config, no DSM-CC.
fn metadata_descriptor() -> Vec<u8> {
    let mut d = vec![0x26, 0, 0xFF, 0xFF];
    d.extend_from_slice(b"KLVA");
    d.push(0xFF);
    d.extend_from_slice(b"KLVA");
    d.push(0x00); // metadata_service_id
    d.push(0x0F); // decoder_config_flags 000, DSM-CC flag 0, reserved 1111
    d[1] = (d.len() - 2) as u8;
    d
}

/// One PSI section in one TS packet (pointer field 0, 0xFF fill).
fn psi_packet(pid: u16, cc: u8, section: &[u8]) -> Vec<u8> {
    let mut p = vec![
        0x47,
        0x40 | (pid >> 8) as u8,
        pid as u8,
        0x10 | (cc & 0x0F),
        0x00,
    ];
    p.extend_from_slice(section);
    p.resize(TS_PACKET, 0xFF);
    p.truncate(TS_PACKET);
    p
}

/// The TS packets of one KLV PES.
fn klv_pes(pts: Option<u64>, klv: &[u8], carriage: KlvCarriage, seq: u8, cc: &mut u8) -> Vec<u8> {
    let (stream_id, payload) = match carriage {
        KlvCarriage::Async => (0xBD, klv.to_vec()),
        KlvCarriage::Sync => {
            let mut c = vec![0x00, seq, 0xC0 | 0x10 | 0x0F];
            c.extend_from_slice(&(klv.len() as u16).to_be_bytes());
            c.extend_from_slice(klv);
            (0xFC, c)
        }
    };
    packetize(KLV_PID, &pes(stream_id, pts, &payload), cc)
}

/// A PES packet with the optional header and, when given, a PTS.
pub fn pes(stream_id: u8, pts: Option<u64>, payload: &[u8]) -> Vec<u8> {
    let hdr: Vec<u8> = match pts {
        Some(p) => vec![
            0x80,
            0x80,
            5,
            0x21 | ((p >> 29) & 0x0E) as u8,
            (p >> 22) as u8,
            0x01 | ((p >> 14) & 0xFE) as u8,
            (p >> 7) as u8,
            0x01 | ((p << 1) & 0xFE) as u8,
        ],
        None => vec![0x80, 0x00, 0],
    };
    let len = hdr.len() + payload.len();
    let len = if len > 0xFFFF { 0 } else { len as u16 };
    let mut out = vec![0, 0, 1, stream_id];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&hdr);
    out.extend_from_slice(payload);
    out
}

/// Splits a PES into TS packets on `pid`, the first with
/// payload_unit_start_indicator, the last padded by adaptation-field
/// stuffing.
pub fn packetize(pid: u16, pes: &[u8], cc: &mut u8) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, chunk) in pes.chunks(TS_PACKET - 4).enumerate() {
        let pusi = if i == 0 { 0x40 } else { 0 };
        let stuff = TS_PACKET - 4 - chunk.len();
        let afc = if stuff > 0 { 0x30 } else { 0x10 };
        out.extend_from_slice(&[0x47, pusi | (pid >> 8) as u8 & 0x1F, pid as u8, afc | *cc]);
        if stuff > 0 {
            out.push((stuff - 1) as u8);
            if stuff > 1 {
                out.push(0x00);
                out.extend(std::iter::repeat_n(0xFF, stuff - 2));
            }
        }
        out.extend_from_slice(chunk);
        *cc = (*cc + 1) & 0x0F;
    }
    out
}

/// A small transport stream shaped like FFmpeg's: PAT, PMT (H.264 video on
/// [`VIDEO_PID`]), then one video PES per PTS, each spanning two TS
/// packets. The payload is filler, not decodable video.
pub fn tiny_video_ts(pts: &[u64]) -> Vec<u8> {
    let mut pat = vec![0x00, 0xB0, 0, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01];
    pat.extend_from_slice(&[0xE0 | (PMT_PID >> 8) as u8, PMT_PID as u8]);
    let pat = finish_section(pat);
    let mut pmt = vec![0x02, 0xB0, 0, 0x00, 0x01, 0xC1, 0x00, 0x00];
    pmt.extend_from_slice(&[0xE0 | (VIDEO_PID >> 8) as u8, VIDEO_PID as u8, 0xF0, 0x00]);
    pmt.extend_from_slice(&[
        0x1B,
        0xE0 | (VIDEO_PID >> 8) as u8,
        VIDEO_PID as u8,
        0xF0,
        0x00,
    ]);
    let pmt = finish_section(pmt);
    let mut out = psi_packet(0, 0, &pat);
    out.extend(psi_packet(PMT_PID, 0, &pmt));
    let mut cc = 0;
    for &p in pts {
        let mut es = vec![0, 0, 0, 1, 0x09, 0xF0];
        es.resize(250, 0xAB);
        out.extend(packetize(VIDEO_PID, &pes(0xE0, Some(p), &es), &mut cc));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_check_to_zero_and_packets_are_framed() {
        let ts = tiny_video_ts(&[0, 3000]);
        assert_eq!(ts.len() % TS_PACKET, 0);
        for p in ts.chunks(TS_PACKET) {
            assert_eq!(p[0], 0x47);
        }
        let pmt = &ts[TS_PACKET + 5..];
        let len = 3 + (((pmt[1] & 0x0F) as usize) << 8 | pmt[2] as usize);
        assert_eq!(crc32_mpeg2(&pmt[..len]), 0);
        let added = pmt_with_klv(&pmt[..len], KlvCarriage::Sync);
        assert_eq!(crc32_mpeg2(&added), 0);
    }

    #[test]
    fn pes_pts_round_trips_through_the_parser() {
        for p in [0u64, 1, 90_000, (1 << 33) - 1, 0x1_2345_6789] {
            let d = pes(0xBD, Some(p), b"x");
            let parsed = super::super::ts::parse_pes(&d).unwrap();
            assert_eq!(parsed.pts, Some(p));
            assert_eq!(parsed.payload, b"x");
        }
    }

    #[test]
    fn continuity_counters_run_on_and_stuffing_fills_packets() {
        let mut cc = 14;
        let out = packetize(0x1F1, &[7u8; 400], &mut cc);
        assert_eq!(out.len(), 3 * TS_PACKET);
        let ccs: Vec<u8> = out.chunks(TS_PACKET).map(|p| p[3] & 0x0F).collect();
        assert_eq!(ccs, vec![14, 15, 0]);
        assert_eq!(cc, 1);
        // 400 = 184 + 184 + 32: the last packet has 152 bytes of adaptation field.
        assert_eq!(out[2 * TS_PACKET + 4], 151);
        // One byte short of a full packet: a zero-length adaptation field.
        let out = packetize(0x1F1, &[7u8; 183], &mut cc);
        assert_eq!((out[3] & 0x30, out[4]), (0x30, 0));
    }
}
