//! Frames: decoded pixels plus where and when they came from.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use image::RgbImage;
use serde::Serialize;
use serde_json::json;

use crate::geo::camera::GroundModel;
use crate::geo::{Georef, Placement};
use crate::telemetry::Pose;

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
    /// Where a drone frame lies on the ground, from its telemetry; `None`
    /// for rasters (placed through [`Scene::georef`]) and for frames
    /// without usable telemetry.
    #[serde(skip)]
    pub ground: Option<Arc<FrameGround>>,
    /// Why a frame whose input has telemetry is not placed.
    #[serde(skip)]
    pub unplaced: Option<Arc<str>>,
    /// A keyframe probe of adaptive sampling, which the consumer judges
    /// before it screens it (see [`crate::source::adaptive`]).
    #[serde(skip)]
    pub probe: bool,
}

/// A stretch of a video that could not be decoded: the decoder lost the
/// frames between two it could show (damaged packets), and resynchronised
/// on the next keyframe.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Gap {
    /// The last frame decoded before the gap (its decoded index).
    pub after_frame: u64,
    /// Presentation times of the frames on either side, seconds.
    pub from_s: f64,
    pub to_s: f64,
    /// Frames missing, estimated from the times either side and the
    /// stream's frame rate (a decoder concealing damage may show a frame
    /// or two with odd times, so the sum over gaps can be off by one or
    /// two).
    pub frames: u64,
}

/// A drone frame's place on the ground: the camera model and the pose it
/// was built from.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameGround {
    pub model: GroundModel,
    /// The telemetry at this frame's time (interpolated).
    pub pose: Pose,
}

impl FrameGround {
    /// What records say about it: the method, the pose, the camera, the
    /// scale at the frame centre, and the frame's footprint.
    pub fn describe(&self) -> serde_json::Value {
        let (w, h) = (f64::from(self.model.width), f64::from(self.model.height));
        json!({
            "method": self.model.method,
            "pose": self.pose,
            "camera": self.model.pointing,
            "gsd_m_per_px": self.model.gsd_at(w / 2.0, h / 2.0),
            "frame_footprint": self.model.frame_footprint(),
        })
    }
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
    /// How this frame's pixels are placed on the map, if they are.
    pub fn placement(&self) -> Option<Placement<'_>> {
        if let Some(georef) = self.scene.as_ref().and_then(|s| s.georef.as_ref()) {
            return Some(Placement::Raster(georef));
        }
        self.meta
            .ground
            .as_ref()
            .map(|g| Placement::Camera(&g.model))
    }

    /// The size, in pixels, that detections on `image` are given in: the
    /// frame's own for a whole frame, whose `image` may be a scaled-down
    /// copy (a keyframe probe's); the image's for a raster window.
    pub fn source_size(&self) -> (u32, u32) {
        if self.window.is_none() && self.scene.is_none() {
            (self.meta.width, self.meta.height)
        } else {
            self.image.dimensions()
        }
    }

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

/// How one output channel is made from a band.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandPlan {
    /// 1-based band number.
    pub band: usize,
    pub data_type: String,
    pub nodata: Option<f64>,
    /// The values mapped to 0 and 255; `None` for 8-bit bands used as
    /// they are.
    pub stretch: Option<(f64, f64)>,
}

/// A raster scene: what the pipeline and the evidence writer need to read
/// and place its pixels. `Send + Sync`; reads open the file anew.
#[derive(Debug)]
pub struct Scene {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    pub georef: Option<Georef>,
    /// One plan per distinct band read; channels index into it.
    pub bands: Vec<BandPlan>,
    /// Which entry of `bands` feeds red, green and blue.
    pub(crate) channels: [usize; 3],
    /// The mask is not all-valid (nodata, alpha or an internal mask).
    pub(crate) masked: bool,
    pub tiles_planned: u64,
    pub tiles_read: AtomicU64,
    pub tiles_nodata: AtomicU64,
}

impl Scene {
    /// Counts of the windows: planned, read, skipped as nodata.
    pub fn tile_counts(&self) -> serde_json::Value {
        json!({
            "planned": self.tiles_planned,
            "read": self.tiles_read.load(Ordering::Relaxed),
            "nodata": self.tiles_nodata.load(Ordering::Relaxed),
        })
    }
}
