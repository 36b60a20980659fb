//! MISB ST 0601 UAS Datalink Local Set: decoding and encoding.

use super::Record;

/// Why a packet was not decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PacketError {
    #[error("{0}")]
    Malformed(String),
    #[error("checksum mismatch")]
    Checksum,
}

/// Decodes one packet that starts with the UAS Datalink Local Set key.
pub fn decode(packet: &[u8]) -> Result<Record, PacketError> {
    let _ = packet;
    Err(PacketError::Malformed("not written yet".into()))
}

/// Encodes a record as one packet, checksum included.
pub fn encode(record: &Record) -> Vec<u8> {
    let _ = record;
    Vec::new()
}
