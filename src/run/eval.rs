//! The evaluation driver's detection half: the session's model over a
//! labelled set (`lookout eval --model`), through the same pipeline,
//! detection step and settings as `screen`, or a screen run's saved
//! detections read back (`lookout eval --detections RUN`). Both give
//! [`FrameDetections`], the lines of `detections.jsonl`, so a run screened
//! with `--save-detections` scores exactly as the model run here would.
//!
//! Which ground-truth image a frame is: the image file of that path, or,
//! for a video, the image whose `frame_index` (or id) is the frame's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Session;
use crate::eval::{Dataset, Prediction};
use crate::pipeline::{self, Detected, Item, PipelineError, PipelineOptions};
use crate::sink::detections::{FrameDetections, SavedDetection};
use crate::source::{self, raster::RasterOptions, OpenOptions, Sampling};

/// Why the labelled set could not be detected or matched.
#[derive(Debug, thiserror::Error)]
pub enum EvalRunError {
    #[error("the ground truth does not say where its images are; pass --images DIR")]
    NoImageRoot,
    #[error("{first} ({count} input(s) of the ground truth cannot be read)")]
    Unreadable { first: String, count: usize },
    #[error("{first} ({count} image(s) failed)")]
    Failed { first: String, count: usize },
    #[error("--video: images have no frame_index and their ids are not frame indices")]
    NoFrameIndex,
    #[error("cannot read the ground truth {path}: {message}")]
    GroundTruth { path: PathBuf, message: String },
    #[error(transparent)]
    Detect(#[from] crate::detect::DetectError),
    #[error(transparent)]
    Saved(#[from] crate::sink::detections::ReadError),
}

/// How frames are matched to ground-truth images.
#[derive(Debug, Clone)]
pub enum ImageKey {
    /// Still images, by file.
    Files(HashMap<PathBuf, i64>),
    /// The frames of one video, by frame index.
    Frames(HashMap<u64, i64>),
}

impl ImageKey {
    /// Still images: each ground-truth image's file under `root`.
    pub fn files(gt: &Dataset, root: &Path) -> ImageKey {
        ImageKey::Files(
            gt.images
                .iter()
                .map(|i| (root.join(&i.file_name), i.id))
                .collect(),
        )
    }

    /// A video's frames: by the COCO file's `frame_index` fields (as
    /// `scripts/make_sample_sortie.py` writes them), else by image id.
    pub fn frames(gt: &Dataset, gt_path: &Path) -> Result<ImageKey, EvalRunError> {
        let mut map = HashMap::new();
        if gt_path.extension().is_some_and(|e| e == "json") {
            let read_err = |message: String| EvalRunError::GroundTruth {
                path: gt_path.to_owned(),
                message,
            };
            let text = std::fs::read_to_string(gt_path).map_err(|e| read_err(e.to_string()))?;
            let raw: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| read_err(e.to_string()))?;
            for img in raw["images"].as_array().into_iter().flatten() {
                if let (Some(f), Some(id)) = (img["frame_index"].as_u64(), img["id"].as_i64()) {
                    map.insert(f, id);
                }
            }
        }
        if map.is_empty() {
            for img in &gt.images {
                let f = u64::try_from(img.id).map_err(|_| EvalRunError::NoFrameIndex)?;
                map.insert(f, img.id);
            }
        }
        Ok(ImageKey::Frames(map))
    }

    /// The inputs to screen for these images.
    fn inputs(&self, video: Option<&Path>) -> Vec<PathBuf> {
        match (self, video) {
            (ImageKey::Frames(_), Some(v)) => vec![v.to_owned()],
            (ImageKey::Files(by_path), _) => {
                let mut by_id: Vec<(&i64, &PathBuf)> =
                    by_path.iter().map(|(p, id)| (id, p)).collect();
                by_id.sort();
                by_id.into_iter().map(|(_, p)| p.clone()).collect()
            }
            (ImageKey::Frames(_), None) => Vec::new(),
        }
    }

    /// The image a saved frame is, if any. Saved paths are matched as
    /// given, then by their trailing components (a run screened from
    /// another folder).
    fn image_of(&self, frame: &FrameDetections) -> Option<i64> {
        match self {
            ImageKey::Frames(map) => map.get(&frame.frame_index).copied(),
            ImageKey::Files(map) => map.get(&frame.path).copied().or_else(|| {
                map.iter()
                    .find(|(p, _)| p.ends_with(&frame.path) || frame.path.ends_with(p))
                    .map(|(_, &id)| id)
            }),
        }
    }
}

/// Runs the session's model over the images of `key` (the frames of
/// `video` for [`ImageKey::Frames`]), with the session's detection
/// settings and tiling, and returns each frame's detections.
pub fn detect(
    mut session: Session,
    key: &ImageKey,
    video: Option<&Path>,
    progress: bool,
) -> Result<Vec<FrameDetections>, EvalRunError> {
    let paths = key.inputs(video);
    let (inputs, errors) = source::discover(&paths);
    if let Some(e) = errors.first() {
        return Err(EvalRunError::Unreadable {
            first: e.to_string(),
            count: errors.len(),
        });
    }
    let expected = match key {
        ImageKey::Files(m) => m.len(),
        ImageKey::Frames(m) => m.len(),
    };
    let bar = ProgressBar::with_draw_target(
        Some(expected as u64),
        if progress && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    )
    .with_style(
        ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} images {per_sec} ETA {eta}")
            .expect("valid template"),
    )
    .with_prefix("eval");
    let options = PipelineOptions {
        open: OpenOptions {
            sampling: Sampling {
                stride: 1,
                max_fps: None,
            },
            decode_threads: session.config.sampling.decode_threads,
            raster: RasterOptions {
                config: session.config.raster.clone(),
                tiling: session.raster_tiling(),
            },
        },
        decode_workers: 1,
        batch: session.config.model.batch,
        hash_sources: false,
        tiling: session.tiling(),
    };
    let labels = session.labels().to_vec();
    let detector = session.take_detector();
    let mut frames = Vec::new();
    let mut failures = Vec::new();
    let result = pipeline::run(&inputs, detector, &options, |item| {
        match item {
            Item::Frame(Detected { frame, detections }) => {
                bar.inc(1);
                let meta = &frame.meta;
                frames.push(FrameDetections {
                    source: meta.source_id,
                    path: inputs[meta.source_id].path.clone(),
                    frame_index: meta.frame_index,
                    pts_s: crate::evidence::record::round_s(meta.pts_s),
                    width: meta.width,
                    height: meta.height,
                    detections: detections
                        .iter()
                        .map(|d| SavedDetection {
                            bbox: d.bbox.to_array(),
                            score: d.score,
                            class_id: d.class_id,
                            class: crate::detect::class_name(&labels, d.class_id),
                            track: None,
                        })
                        .collect(),
                });
            }
            Item::Finished { error: Some(e), .. } => failures.push(e.to_string()),
            _ => {}
        }
        Ok::<(), std::convert::Infallible>(())
    });
    bar.finish_and_clear();
    match result {
        Ok(_) => {}
        Err(PipelineError::Detect(e)) => return Err(e.into()),
        Err(PipelineError::Consumer(never)) => match never {},
    }
    if let Some(first) = failures.first() {
        return Err(EvalRunError::Failed {
            first: first.clone(),
            count: failures.len(),
        });
    }
    Ok(frames)
}

/// The COCO predictions of `frames` (category ids are the model's class
/// ids), and how many frames matched no ground-truth image.
pub fn predictions(frames: &[FrameDetections], key: &ImageKey) -> (Vec<Prediction>, usize) {
    let mut preds = Vec::new();
    let mut unmatched = 0;
    for f in frames {
        let Some(image_id) = key.image_of(f) else {
            unmatched += 1;
            continue;
        };
        for d in &f.detections {
            let [x1, y1, x2, y2] = d.bbox.map(f64::from);
            preds.push(Prediction {
                image_id,
                category_id: d.class_id as i64,
                bbox: [x1, y1, x2 - x1, y2 - y1],
                score: f64::from(d.score),
            });
        }
    }
    (preds, unmatched)
}
