//! Model families: how a detector's raw output tensors become detections.
//!
//! Each family is one file with two pure functions: a `matches` test on the
//! model's declared inputs, outputs and metadata (which also explains itself,
//! for `lookout inspect`), and a `decode` from raw output to candidate boxes
//! in model-input pixels. Mapping back to source pixels, thresholds and NMS
//! are shared and live in [`decode_outputs`].

pub mod yolov8;
pub mod yolox;

use serde::Serialize;

use super::{nms::nms_class_aware, ChannelOrder, Detection, Preprocess, Tensorised};
use crate::geom::PadAlign;

/// The model families lookout can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Ultralytics YOLOv8 / YOLO11 layout: `[batch, 4 + nc, anchors]`.
    Yolov8,
    /// YOLOX raw grid output: `[batch, anchors, 5 + nc]`, strides 8/16/32.
    Yolox,
}

/// What a model declares, as far as family detection needs it. Unknown
/// (dynamic) dimensions are `-1`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSignature {
    pub input_shape: Vec<i64>,
    pub outputs: Vec<(String, Vec<i64>)>,
    /// Number of classes named in the metadata, when it names any.
    pub metadata_classes: Option<usize>,
}

/// A detected family and the evidence for it.
#[derive(Debug, Clone, Serialize)]
pub struct FamilyMatch {
    pub family: Family,
    pub num_classes: usize,
    pub reason: String,
}

/// Candidate box before NMS, in model-input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub class_id: usize,
    pub score: f32,
    pub cx: f32,
    pub cy: f32,
    pub w: f32,
    pub h: f32,
}

/// Identifies the family from the model's declared shapes and metadata, or
/// explains why none fits.
pub fn detect_family(sig: &ModelSignature, input_w: u32, input_h: u32) -> Result<FamilyMatch, String> {
    if let Some(m) = yolov8::matches(sig) {
        return Ok(m);
    }
    if let Some(m) = yolox::matches(sig, input_w, input_h) {
        return Ok(m);
    }
    let shapes: Vec<String> = sig.outputs.iter().map(|(n, s)| format!("{n} {s:?}")).collect();
    Err(format!(
        "its outputs ({}) fit no known family (YOLOv8/YOLO11 expects one output [batch, 4+classes, anchors]; \
         YOLOX expects one output [batch, anchors, 5+classes] with anchors for strides 8, 16 and 32)",
        shapes.join(", ")
    ))
}

impl Family {
    /// The preprocessing the family's reference exporter uses.
    pub fn default_preprocess(self, input_w: u32, input_h: u32) -> Preprocess {
        match self {
            Family::Yolov8 => Preprocess {
                input_w,
                input_h,
                channels: ChannelOrder::Rgb,
                scale: 1.0 / 255.0,
                mean: [0.0; 3],
                std: [1.0; 3],
                pad_align: PadAlign::Center,
                pad_value: 114,
            },
            // The official YOLOX exporter feeds BGR 0–255 without
            // normalisation, image at the top-left corner.
            Family::Yolox => Preprocess {
                input_w,
                input_h,
                channels: ChannelOrder::Bgr,
                scale: 1.0,
                mean: [0.0; 3],
                std: [1.0; 3],
                pad_align: PadAlign::TopLeft,
                pad_value: 114,
            },
        }
    }

    /// Candidates above `conf` for one image of the batch. `data` is that
    /// image's slice of the single output tensor, with `dims` the output's
    /// dimensions after the batch axis.
    pub fn candidates(self, data: &[f32], dims: &[usize], input_w: u32, input_h: u32, conf: f32) -> Vec<Candidate> {
        match self {
            Family::Yolov8 => yolov8::decode(data, dims, conf),
            Family::Yolox => yolox::decode(data, dims, input_w, input_h, conf),
        }
    }
}

/// Thresholds applied after decoding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PostProcess {
    pub conf: f32,
    pub iou: f32,
    pub max_det: usize,
}

/// Turns candidates into final detections for one input: maps boxes back to
/// source pixels, clips them to the frame, drops empty ones, and runs
/// class-aware NMS.
pub fn finish(cands: Vec<Candidate>, t: &Tensorised, post: &PostProcess) -> Vec<Detection> {
    let dets = cands
        .into_iter()
        .filter(|c| c.score >= post.conf)
        .map(|c| {
            let input_box = crate::geom::BBox::from_cxcywh(c.cx, c.cy, c.w, c.h);
            let bbox = t.letterbox.box_to_source(&input_box).clip(t.src_w as f32, t.src_h as f32);
            Detection { class_id: c.class_id, score: c.score, bbox }
        })
        .filter(|d| d.bbox.area() > 0.0)
        .collect();
    nms_class_aware(dets, post.iou, post.max_det)
}

/// Decodes a batch output tensor of shape `shape` into per-input detections.
pub fn decode_outputs(
    family: Family,
    data: &[f32],
    shape: &[usize],
    batch: &[Tensorised],
    post: &PostProcess,
) -> Vec<Vec<Detection>> {
    let per_image: usize = shape[1..].iter().product();
    batch
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let slice = &data[i * per_image..(i + 1) * per_image];
            let cands = family.candidates(slice, &shape[1..], t.letterbox.input_w, t.letterbox.input_h, post.conf);
            finish(cands, t, post)
        })
        .collect()
}

/// Number of anchors a stride-8/16/32 grid head produces for an input size.
pub fn grid_anchor_count(input_w: u32, input_h: u32) -> usize {
    [8u32, 16, 32].iter().map(|s| ((input_w / s) * (input_h / s)) as usize).sum()
}
