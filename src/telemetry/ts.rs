//! KLV in MPEG-TS, and raw KLV files.

use std::path::Path;

use super::{Telemetry, TelemetryError};

/// Whether the file starts like an MPEG-TS (sync bytes every 188 bytes).
pub fn looks_like_ts(path: &Path) -> Result<bool, TelemetryError> {
    let _ = path;
    Ok(false)
}

/// Every KLV record in an MPEG-TS file.
pub fn read(path: &Path) -> Result<Telemetry, TelemetryError> {
    Err(TelemetryError::format(path, "MPEG-TS reading is not written yet"))
}

/// Every packet in a raw file of concatenated KLV packets.
pub fn read_klv_file(path: &Path) -> Result<Telemetry, TelemetryError> {
    Err(TelemetryError::format(path, "raw KLV reading is not written yet"))
}
