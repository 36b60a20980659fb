//! DJI stills: EXIF GPS and the `drone-dji` XMP attributes.

use std::path::Path;

use super::{Telemetry, TelemetryError};

pub fn read(path: &Path) -> Result<Telemetry, TelemetryError> {
    Err(TelemetryError::format(path, "EXIF reading is not written yet"))
}
