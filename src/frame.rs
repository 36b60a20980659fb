//! Frames: decoded pixels plus where and when they came from.

use std::sync::Arc;

use image::RgbImage;
use serde::Serialize;

pub use crate::source::raster::Scene;

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
///
/// A raster scene is too large to hold whole, so it travels in two shapes.
/// Its source emits *windows*: `image` holds one window's pixels and
/// `window` says where they sit in the scene, while `meta` describes the
/// whole scene. Once the pipeline has merged the windows' detections it
/// emits the scene itself: `window` is `None`, `image` is empty, and pixels
/// are read back through `scene` (for evidence crops) when needed.
#[derive(Debug, Clone)]
pub struct Frame {
    pub meta: FrameMeta,
    pub image: Arc<RgbImage>,
    /// The raster this frame belongs to; `None` for video and still images.
    pub scene: Option<Arc<Scene>>,
    /// Which part of the scene `image` holds; `None` for a whole frame.
    pub window: Option<Window>,
}

impl Frame {
    /// A whole video frame or still image.
    pub fn whole(meta: FrameMeta, image: RgbImage) -> Frame {
        Frame {
            meta,
            image: Arc::new(image),
            scene: None,
            window: None,
        }
    }
}

/// A window of a raster scene: the scene pixels it covers, and how many
/// scene pixels each of its image's pixels spans (1 at full resolution;
/// more for the low-resolution pass over the whole scene).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Window {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub scale: f64,
}
