//! DJI `.SRT` subtitle sidecars.

use std::path::Path;

use super::{Telemetry, TelemetryError};

pub fn read(path: &Path) -> Result<Telemetry, TelemetryError> {
    Err(TelemetryError::format(path, "SRT reading is not written yet"))
}
