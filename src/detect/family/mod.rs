//! Model families: how a detector's raw output tensors become detections.
//!
//! Each family is one file with pure functions: `matches`, a test on the
//! model's declared inputs, outputs and metadata that also explains itself
//! (for `lookout inspect`), and `decode`, from raw outputs to candidate
//! boxes. Mapping back to source pixels, thresholds and NMS are shared and
//! live here, in [`decode_outputs`]. Adding a family touches only this
//! folder: a file, a variant of [`Family`], and a line in each `match`.

pub mod detr;
pub mod end2end;
pub mod nanodet;
pub mod ssd;
pub mod yolov5;
pub mod yolov7;
pub mod yolov8;
pub mod yolox;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    nms::nms_class_aware, ChannelOrder, Detection, Layout, Preprocess, Resize, Tensorised,
};
use crate::geom::BBox;

/// The model families lookout can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Ultralytics YOLOv8 / YOLO11 / YOLO12: `[batch, 4 + nc, anchors]`.
    Yolov8,
    /// YOLOv8 / YOLO11 head transposed by deploy forks: `[batch, anchors, 4 + nc]`.
    Yolov8Transposed,
    /// YOLOv5 and relatives: `[batch, anchors, 5 + nc]` with objectness, 3 anchors per cell.
    Yolov5,
    /// NMS-free exports (YOLOv10, YOLO26): `[batch, K, 6]` = x1, y1, x2, y2, score, class.
    End2end,
    /// YOLOv7 `--end2end` for ONNX Runtime: `[N, 7]` = batch_id, x1, y1, x2, y2, class, score.
    Yolov7End2end,
    /// YOLOX raw grid output: `[batch, anchors, 5 + nc]`, one anchor per cell.
    Yolox,
    /// TensorFlow Object Detection API: `detection_boxes/scores/classes`, `num_detections`.
    Ssd,
    /// DETR family with `labels`, `boxes`, `scores` outputs (RT-DETR, D-FINE, DEIM).
    Detr,
    /// DETR family with class `logits` and normalised cxcywh `boxes` (RF-DETR, DETR heads).
    DetrLogits,
    /// Ultralytics RT-DETR: `[batch, Q, 4 + nc]`, normalised cxcywh and class scores.
    Rtdetr,
    /// Per-stride heads with class scores and distribution box regression (NanoDet).
    Nanodet,
}

impl Family {
    pub const ALL: [Family; 11] = [
        Family::Yolov8,
        Family::Yolov8Transposed,
        Family::Yolov5,
        Family::End2end,
        Family::Yolov7End2end,
        Family::Yolox,
        Family::Ssd,
        Family::Detr,
        Family::DetrLogits,
        Family::Rtdetr,
        Family::Nanodet,
    ];
}

/// One declared input or output of a model. Dynamic dimensions are `-1`,
/// with their symbolic name in `symbols` when the model gives one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorDecl {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<i64>,
    pub symbols: Vec<String>,
}

/// What a model declares, as far as family detection needs it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelSignature {
    pub inputs: Vec<TensorDecl>,
    pub outputs: Vec<TensorDecl>,
    /// Custom metadata entries (Ultralytics: `names`, `stride`, `imgsz`, `task`, `end2end`).
    pub metadata: BTreeMap<String, String>,
    /// Number of classes the metadata names, when it names any.
    pub metadata_classes: Option<usize>,
}

impl ModelSignature {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    pub fn output(&self, name: &str) -> Option<&TensorDecl> {
        self.outputs.iter().find(|o| o.name == name)
    }

    fn describe_outputs(&self) -> String {
        self.outputs
            .iter()
            .map(|o| format!("{} {:?}", o.name, o.shape))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A family name that is none of lookout's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown family {name:?}; choose from {known}")]
pub struct UnknownFamily {
    pub name: String,
    pub known: String,
}

impl Family {
    /// Parses a family name as the config writes it (`yolov8`,
    /// `detrlogits`, ...), in any case.
    pub fn parse(name: &str) -> Result<Family, UnknownFamily> {
        let as_written = |f: &Family| {
            serde_json::to_value(f)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let lower = name.to_ascii_lowercase();
        Family::ALL
            .iter()
            .copied()
            .find(|f| as_written(f) == lower)
            .ok_or_else(|| UnknownFamily {
                name: name.to_owned(),
                known: Family::ALL
                    .iter()
                    .map(as_written)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// Why a model's outputs fit no family. Each holds the outputs as
/// `name [shape]` pairs, comma-separated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FamilyError {
    #[error("its metadata says task `{task}`, not `detect` (outputs: {outputs}); lookout needs an object detector")]
    NotADetector { task: String, outputs: String },
    #[error(
        "the config forces family {family:?}, but its outputs ({outputs}) do not fit that family"
    )]
    ForcedMismatch { family: Family, outputs: String },
    #[error(
        "its outputs ({outputs}) fit no known detector family (YOLOv8/11 [batch, 4+nc, anchors], or [batch, anchors, 4+nc] with `names` metadata; \
         YOLOv5/YOLOX [batch, anchors, 5+nc]; end-to-end [batch, K, 6]; YOLOv7 end-to-end [N, 7]; SSD detection_*; DETR labels/boxes/scores or logits/boxes; \
         NanoDet [batch, cells, nc] and [batch, cells, 4 x bins] per stride, or [batch, cells, nc + 32]). \
         If it is a detector, set `family` in the config"
    )]
    Unknown { outputs: String },
}

/// Why a batch's outputs do not decode as their family.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("missing output {0}")]
    MissingOutput(String),
    #[error("output {name} {shape:?} has no image {image}")]
    NoImage {
        name: String,
        shape: Vec<usize>,
        image: usize,
    },
    #[error("output {name} has shape {shape:?}; expected {rank} dimensions per image")]
    Rank {
        name: String,
        shape: Vec<usize>,
        rank: usize,
    },
    #[error("outputs do not pair up by stride")]
    Unpaired,
}

/// A detected family and the evidence for it.
#[derive(Debug, Clone, Serialize)]
pub struct FamilyMatch {
    pub family: Family,
    /// Class count implied by the output shapes, when they imply one.
    pub num_classes: Option<usize>,
    pub reason: String,
}

/// Identifies the family from the model's declared shapes, names and
/// metadata, or explains why none fits. `forced` (the config's `family`)
/// skips the guess but still checks that the outputs fit.
pub fn detect_family(
    sig: &ModelSignature,
    input_w: u32,
    input_h: u32,
    forced: Option<Family>,
) -> Result<FamilyMatch, FamilyError> {
    if let Some(task) = sig.meta("task").filter(|t| *t != "detect") {
        return Err(FamilyError::NotADetector {
            task: task.to_owned(),
            outputs: sig.describe_outputs(),
        });
    }
    let try_one = |f: Family| -> Option<FamilyMatch> {
        match f {
            // Forcing `yolov8` also accepts the transposed head.
            Family::Yolov8 => yolov8::matches(sig).or_else(|| {
                forced
                    .is_some()
                    .then(|| yolov8::matches_transposed(sig, input_w, input_h, true))
                    .flatten()
            }),
            Family::Yolov8Transposed => {
                yolov8::matches_transposed(sig, input_w, input_h, forced.is_some())
            }
            Family::Yolov5 => yolov5::matches(sig, input_w, input_h),
            Family::End2end => end2end::matches(sig, input_w, input_h),
            Family::Yolov7End2end => yolov7::matches(sig, forced.is_some()),
            Family::Yolox => yolox::matches(sig, input_w, input_h),
            Family::Ssd => ssd::matches(sig),
            Family::Detr => detr::matches_labels_boxes_scores(sig),
            Family::DetrLogits => detr::matches_logits(sig),
            Family::Rtdetr => detr::matches_ultralytics(sig),
            Family::Nanodet => nanodet::matches(sig, input_w, input_h, forced.is_some()),
        }
    };
    if let Some(f) = forced {
        return try_one(f)
            .map(|mut m| {
                m.reason = format!("forced by config (family = {f:?}); {}", m.reason);
                m
            })
            .ok_or_else(|| FamilyError::ForcedMismatch {
                family: f,
                outputs: sig.describe_outputs(),
            });
    }
    // Order matters only where layouts overlap: metadata-confirmed and
    // name-based families first, then shape-only guesses.
    for f in [
        // A transposed YOLOv8 head needs `names` metadata and one row per
        // grid cell; RT-DETR's shape is the same with fewer rows (queries).
        Family::Yolov8Transposed,
        Family::Rtdetr,
        Family::End2end,
        Family::Yolov7End2end,
        Family::Ssd,
        Family::Detr,
        Family::DetrLogits,
        Family::Nanodet,
        Family::Yolov8,
        Family::Yolov5,
        Family::Yolox,
    ] {
        if let Some(m) = try_one(f) {
            return Ok(m);
        }
    }
    Err(FamilyError::Unknown {
        outputs: sig.describe_outputs(),
    })
}

impl Family {
    /// The preprocessing the family's reference exporter uses.
    pub fn default_preprocess(self, input_w: u32, input_h: u32) -> Preprocess {
        let base = Preprocess {
            input_w,
            input_h,
            resize: Resize::LetterboxCenter,
            layout: Layout::Nchw,
            channels: ChannelOrder::Rgb,
            scale: 1.0 / 255.0,
            mean: [0.0; 3],
            std: [1.0; 3],
            pad_value: 114,
        };
        match self {
            Family::Yolov8
            | Family::Yolov8Transposed
            | Family::Yolov5
            | Family::End2end
            | Family::Yolov7End2end => base,
            // The official YOLOX exporter feeds BGR 0–255 without
            // normalisation, image at the top-left corner.
            Family::Yolox => Preprocess {
                resize: Resize::LetterboxTopLeft,
                channels: ChannelOrder::Bgr,
                scale: 1.0,
                ..base
            },
            // TF OD API graphs take uint8 RGB and resize internally.
            Family::Ssd => Preprocess {
                resize: Resize::Stretch,
                layout: Layout::Nhwc,
                scale: 1.0,
                ..base
            },
            Family::Detr | Family::Rtdetr => Preprocess {
                resize: Resize::Stretch,
                ..base
            },
            Family::DetrLogits => Preprocess {
                resize: Resize::Stretch,
                mean: [0.485, 0.456, 0.406],
                std: [0.229, 0.224, 0.225],
                ..base
            },
            Family::Nanodet => Preprocess {
                resize: Resize::Stretch,
                channels: ChannelOrder::Bgr,
                scale: 1.0,
                mean: [103.53, 116.28, 123.675],
                std: [57.375, 57.12, 58.395],
                ..base
            },
        }
    }

    /// Whether the model's output still needs NMS (end-to-end, SSD and DETR
    /// models have done their own suppression).
    pub fn needs_nms(self) -> bool {
        matches!(
            self,
            Family::Yolov8
                | Family::Yolov8Transposed
                | Family::Yolov5
                | Family::Yolox
                | Family::Nanodet
        )
    }

    /// Decodes image `b` of a batch's outputs.
    fn decode_image(
        self,
        outs: &[RawOutput],
        b: usize,
        input_w: u32,
        input_h: u32,
        conf: f32,
        source_sized: bool,
    ) -> Result<Decoded, DecodeError> {
        match self {
            Family::Yolov8 => yolov8::decode(outs, b, conf),
            Family::Yolov8Transposed => yolov8::decode_transposed(outs, b, conf),
            Family::Yolov5 => yolov5::decode(outs, b, conf),
            Family::End2end => end2end::decode(outs, b, conf),
            Family::Yolov7End2end => yolov7::decode(outs, b, conf),
            Family::Yolox => yolox::decode(outs, b, input_w, input_h, conf),
            Family::Ssd => ssd::decode(outs, b, conf),
            Family::Detr => detr::decode_labels_boxes_scores(outs, b, conf, source_sized),
            Family::DetrLogits => detr::decode_logits(outs, b, conf),
            Family::Rtdetr => detr::decode_ultralytics(outs, b, conf),
            Family::Nanodet => nanodet::decode(outs, b, input_w, input_h, conf),
        }
    }
}

/// One output tensor of a batch, converted to f32.
#[derive(Debug, Clone)]
pub struct RawOutput {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// One image's part of an output.
#[derive(Debug, Clone, Copy)]
pub struct ImageView<'a> {
    pub dims: &'a [usize],
    pub data: &'a [f32],
}

impl RawOutput {
    /// The slice of image `b` when the output has `rank` dimensions per
    /// image: a leading batch axis is sliced, and a squeezed one (exactly
    /// `rank` dimensions) is accepted for image 0 only.
    pub fn image(&self, b: usize, rank: usize) -> Result<ImageView<'_>, DecodeError> {
        if self.shape.len() == rank + 1 {
            let per: usize = self.shape[1..].iter().product();
            let data =
                self.data
                    .get(b * per..(b + 1) * per)
                    .ok_or_else(|| DecodeError::NoImage {
                        name: self.name.clone(),
                        shape: self.shape.clone(),
                        image: b,
                    })?;
            Ok(ImageView {
                dims: &self.shape[1..],
                data,
            })
        } else if self.shape.len() == rank && b == 0 {
            Ok(ImageView {
                dims: &self.shape,
                data: &self.data,
            })
        } else {
            Err(DecodeError::Rank {
                name: self.name.clone(),
                shape: self.shape.clone(),
                rank,
            })
        }
    }
}

/// Finds an output by name, or the `index`th one.
pub fn output<'a>(
    outs: &'a [RawOutput],
    name: &str,
    index: usize,
) -> Result<&'a RawOutput, DecodeError> {
    outs.iter()
        .find(|o| o.name == name)
        .or_else(|| outs.get(index))
        .ok_or_else(|| DecodeError::MissingOutput(name.to_owned()))
}

/// Candidate box before NMS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub class_id: usize,
    pub score: f32,
    pub bbox: BBox,
}

/// The coordinate space a family's boxes come out in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// Pixels of the (letterboxed or stretched) model input.
    Input,
    /// 0–1 fractions of the model input's width and height.
    Normalised,
    /// Pixels of the source frame (models that take its size as an input).
    Source,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub candidates: Vec<Candidate>,
    pub space: Space,
}

/// Thresholds applied after decoding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PostProcess {
    pub conf: f32,
    pub iou: f32,
    pub max_det: usize,
}

/// Turns candidates into final detections for one input: maps boxes to
/// source pixels, clips them to the frame, drops empty ones, and runs
/// class-aware NMS when the family needs it.
pub fn finish(decoded: Decoded, t: &Tensorised, post: &PostProcess, nms: bool) -> Vec<Detection> {
    let (iw, ih) = (t.input_w as f32, t.input_h as f32);
    let mut dets: Vec<Detection> = decoded
        .candidates
        .into_iter()
        .filter(|c| c.score >= post.conf && c.score.is_finite())
        .map(|c| {
            let b = c.bbox;
            let bbox = match decoded.space {
                Space::Source => b,
                Space::Input => t.map.box_to_source(&b),
                Space::Normalised => {
                    t.map
                        .box_to_source(&BBox::new(b.x1 * iw, b.y1 * ih, b.x2 * iw, b.y2 * ih))
                }
            };
            Detection {
                class_id: c.class_id,
                score: c.score,
                bbox: bbox.clip(t.src_w as f32, t.src_h as f32),
            }
        })
        .filter(|d| d.bbox.area() > 0.0)
        .collect();
    if nms {
        nms_class_aware(dets, post.iou, post.max_det)
    } else {
        dets.sort_by(|a, b| b.score.total_cmp(&a.score));
        dets.truncate(post.max_det);
        dets
    }
}

/// Decodes a batch's outputs into per-input detections. `source_sized`
/// says the model was given each frame's size (`orig_target_sizes`).
pub fn decode_outputs(
    family: Family,
    outs: &[RawOutput],
    batch: &[Tensorised],
    post: &PostProcess,
    source_sized: bool,
) -> Result<Vec<Vec<Detection>>, DecodeError> {
    batch
        .iter()
        .enumerate()
        .map(|(b, t)| {
            let decoded =
                family.decode_image(outs, b, t.input_w, t.input_h, post.conf, source_sized)?;
            Ok(finish(decoded, t, post, family.needs_nms()))
        })
        .collect()
}

/// Number of cells of a grid head at `strides` for an input size.
pub fn grid_cells(input_w: u32, input_h: u32, strides: &[u32]) -> usize {
    strides
        .iter()
        .map(|s| ((input_w / s) * (input_h / s)) as usize)
        .sum()
}

/// Index and value of the largest element.
pub fn argmax(values: &[f32]) -> (usize, f32) {
    values
        .iter()
        .copied()
        .enumerate()
        .fold(
            (0, f32::NEG_INFINITY),
            |b, (i, v)| if v > b.1 { (i, v) } else { b },
        )
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}
