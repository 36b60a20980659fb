//! CSV and GPX flight logs.

use std::path::Path;

use super::{Telemetry, TelemetryError};

pub fn read_csv(path: &Path) -> Result<Telemetry, TelemetryError> {
    Err(TelemetryError::format(path, "CSV reading is not written yet"))
}

pub fn read_gpx(path: &Path) -> Result<Telemetry, TelemetryError> {
    Err(TelemetryError::format(path, "GPX reading is not written yet"))
}
