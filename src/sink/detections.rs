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
//! confirmed track the detection belongs to, when there is one.

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
    pub detections: Vec<SavedDetection>,
}

impl FrameDetections {
    /// The line for one frame of stream `source` (`path`): `tracks[i]`,
    /// when given, is the confirmed track of detection `i`.
    pub fn of(
        source: usize,
        path: &Path,
        meta: &crate::frame::FrameMeta,
        detections: &[crate::detect::Detection],
        tracks: &[Option<u64>],
        labels: &[String],
    ) -> FrameDetections {
        FrameDetections {
            source,
            path: path.to_owned(),
            frame_index: meta.frame_index,
            pts_s: crate::evidence::record::round_s(meta.pts_s),
            width: meta.width,
            height: meta.height,
            detections: detections
                .iter()
                .enumerate()
                .map(|(i, d)| SavedDetection {
                    bbox: d.bbox.to_array(),
                    score: d.score,
                    class_id: d.class_id,
                    class: class_name(labels, d.class_id),
                    track: tracks.get(i).copied().flatten(),
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
            &frame.meta,
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
