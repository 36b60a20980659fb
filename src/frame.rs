//! Frames: decoded pixels plus where and when they came from.

use std::sync::Arc;

use image::RgbImage;
use serde::Serialize;

/// Facts about a frame that later stages need without its pixels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameMeta {
    /// Index of the input in this run's list of sources.
    pub source_id: usize,
    /// Position among the frames this source emitted (after sampling).
    pub seq: u64,
    /// Position among all frames the decoder produced (before sampling);
    /// for a still image, 0.
    pub frame_index: u64,
    /// Presentation time in seconds from the start of the stream, from the
    /// container's timestamps. `None` for stills.
    pub pts_s: Option<f64>,
    pub width: u32,
    pub height: u32,
    /// Ground sample distance in metres per pixel, when the source knows it
    /// (a raster's geotransform, drone telemetry).
    pub gsd_m_per_px: Option<f64>,
}

/// One decoded RGB frame. Pixels are shared so that detection and the
/// evidence writer can hold the same frame without copying it.
#[derive(Debug, Clone)]
pub struct Frame {
    pub meta: FrameMeta,
    pub image: Arc<RgbImage>,
}
