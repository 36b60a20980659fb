//! The detections sink (`--save-detections`): `detections.jsonl` in the run
//! folder, one line per screened frame (or tile-merged raster scene) with
//! every detection, as Ultralytics' `save_txt` and supervision's
//! `CSVSink`/`JSONSink` users expect. `lookout eval --detections RUN`
//! scores these lines against ground truth without running the model again.
//!
//! A line ([`FrameDetections`]):
//! `{"source": 0, "path": "clip.mp4", "frame_index": 12, "pts_s": 0.48,
//!   "width": 1280, "height": 720, "detections": [{"box": [x1, y1, x2, y2],
//!   "score": 0.91, "class_id": 0, "class": "person", "track": 3}]}`.
//! Boxes are in source pixels (a raster's scene pixels). `track` is the
//! confirmed track the detection belongs to, when there is one. Frames
//! placed on the map (georeferenced rasters, drone frames with telemetry)
//! add each box centre's `lon`, `lat` and the ground sample distance there
//! (`gsd_m`), and the line says how it was placed (`placement`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Screened, SharedRun, Sink, SinkError};
use crate::detect::class_name;

/// The file's name in the run folder.
pub const FILE: &str = "detections.jsonl";

/// One detection of a saved frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedDetection {
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub score: f32,
    pub class_id: usize,
    pub class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<u64>,
    /// Where the box's centre is on the ground (WGS84), for placed frames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// Ground sample distance at the box's centre, metres per pixel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsd_m: Option<f64>,
}

/// One line of `detections.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameDetections {
    /// The input's index in the run.
    pub source: usize,
    /// The input's path, or the feed's address.
    pub path: PathBuf,
    pub frame_index: u64,
    pub pts_s: Option<f64>,
    pub width: u32,
    pub height: u32,
    /// `georef`, `corners`, `pointing` or `frame_center`; absent when the
    /// frame is not placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<String>,
    pub detections: Vec<SavedDetection>,
}

impl FrameDetections {
    /// The line for one frame of stream `source` (`path`): `tracks[i]`,
    /// when given, is the confirmed track of detection `i`.
    pub fn of(
        source: usize,
        path: &Path,
        frame: &crate::frame::Frame,
        detections: &[crate::detect::Detection],
        tracks: &[Option<u64>],
        labels: &[String],
    ) -> FrameDetections {
        let meta = &frame.meta;
        let placement = frame.placement();
        let boxes: Vec<crate::geom::BBox> = detections.iter().map(|d| d.bbox).collect();
        let prints = placement
            .and_then(|p| p.footprints(&boxes).ok())
            .unwrap_or_default();
        let round7 = |v: f64| (v * 1e7).round() / 1e7;
        FrameDetections {
            source,
            path: path.to_owned(),
            frame_index: meta.frame_index,
            pts_s: crate::evidence::record::round_s(meta.pts_s),
            width: meta.width,
            height: meta.height,
            placement: placement.map(|p| p.method().to_owned()),
            detections: detections
                .iter()
                .enumerate()
                .map(|(i, d)| SavedDetection {
                    bbox: d.bbox.to_array(),
                    score: d.score,
                    class_id: d.class_id,
                    class: class_name(labels, d.class_id),
                    track: tracks.get(i).copied().flatten(),
                    lon: prints
                        .get(i)
                        .and_then(Option::as_ref)
                        .map(|f| round7(f.lon)),
                    lat: prints
                        .get(i)
                        .and_then(Option::as_ref)
                        .map(|f| round7(f.lat)),
                    gsd_m: placement.and_then(|p| {
                        let b = d.bbox;
                        let (x, y) = ((b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0);
                        p.gsd_at(f64::from(x), f64::from(y))
                            .map(|g| (g * 1e4).round() / 1e4)
                    }),
                })
                .collect(),
        }
    }
}

/// Why `detections.jsonl` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source} (was the run screened with --save-detections?)")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: line {line} is not a saved frame: {source}")]
    Line {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
}

/// Reads the `detections.jsonl` of the run folder `run_dir`.
pub fn read(run_dir: &Path) -> Result<Vec<FrameDetections>, ReadError> {
    let path = run_dir.join(FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| ReadError::Io {
        path: path.clone(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|source| ReadError::Line {
                path: path.clone(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

/// Writes `detections.jsonl`.
pub struct DetectionsSink {
    run: SharedRun,
    labels: Vec<String>,
    line: Vec<u8>,
}

impl DetectionsSink {
    /// `labels`: the model's class names.
    pub fn new(run: SharedRun, labels: Vec<String>) -> DetectionsSink {
        DetectionsSink {
            run,
            labels,
            line: Vec::with_capacity(4096),
        }
    }
}

impl Sink<Screened<'_>> for DetectionsSink {
    fn accept(&mut self, item: &Screened<'_>) -> Result<(), SinkError> {
        let Screened::Frame {
            stream,
            frame,
            detections,
            tracks,
        } = item
        else {
            return Ok(());
        };
        let record = FrameDetections::of(
            stream.id,
            &stream.path,
            frame,
            detections,
            tracks,
            &self.labels,
        );
        self.line.clear();
        serde_json::to_writer(&mut self.line, &record).expect("records always serialise");
        self.run.lock().append_line(FILE, &self.line)?;
        Ok(())
    }
}
