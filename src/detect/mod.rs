//! Object detection: turning frames into scored, labelled boxes.
//!
//! The stage has three parts, each replaceable on its own:
//! - [`Preprocess`] letterboxes an RGB frame into a model's input tensor and
//!   remembers the [`Letterbox`] needed to map boxes back;
//! - [`onnx::OnnxDetector`] runs an ONNX model through ONNX Runtime (the only
//!   module that touches `ort`);
//! - [`family`] holds one file per model family that turns raw output tensors
//!   into [`Detection`]s in source pixels, followed by [`nms`].

pub mod family;
pub mod labels;
pub mod nms;
pub mod onnx;

use std::path::PathBuf;

use fast_image_resize as fr;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::geom::{BBox, Letterbox, PadAlign};

/// One detected object, in source-pixel coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub class_id: usize,
    pub score: f32,
    pub bbox: BBox,
}

/// Errors from loading or running a detector.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("cannot find the ONNX Runtime library: {0}")]
    RuntimeMissing(String),
    #[error("cannot load the ONNX Runtime library {path}: {message}")]
    RuntimeLoad { path: PathBuf, message: String },
    #[error("cannot read model {path}: {source}")]
    ModelIo { path: PathBuf, source: std::io::Error },
    #[error("cannot load model {path}: {message}")]
    ModelLoad { path: PathBuf, message: String },
    #[error("model {path} is not a supported detector: {reason}")]
    Unsupported { path: PathBuf, reason: String },
    #[error("cannot read labels {path}: {message}")]
    Labels { path: PathBuf, message: String },
    #[error("inference failed on model {path}: {message}")]
    Inference { path: PathBuf, message: String },
}

/// Channel order of the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

/// How a frame becomes an input tensor. Declared per model family; a config
/// may override it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    pub input_w: u32,
    pub input_h: u32,
    pub channels: ChannelOrder,
    /// Multiply 0–255 pixel values by this (1/255 for 0–1 models, 1 for 0–255).
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub pad_align: PadAlign,
    /// Grey level of the letterbox padding, in 0–255 pixel units.
    pub pad_value: u8,
}

/// A frame ready for inference: one image in CHW float layout, plus the map
/// back to source pixels.
#[derive(Debug, Clone)]
pub struct Tensorised {
    pub chw: Vec<f32>,
    pub letterbox: Letterbox,
    pub src_w: u32,
    pub src_h: u32,
}

impl Preprocess {
    /// Letterboxes `image` into a CHW tensor. Bilinear resize, then padding.
    pub fn run(&self, image: &RgbImage) -> Tensorised {
        let (src_w, src_h) = image.dimensions();
        let lb = Letterbox::fit(src_w, src_h, self.input_w, self.input_h, self.pad_align);
        let resized = resize_rgb(image, lb.resized_w, lb.resized_h);
        let (iw, ih) = (self.input_w as usize, self.input_h as usize);
        let plane = iw * ih;
        let mut chw = vec![0f32; 3 * plane];
        // Output channel c takes source channel src_c[c].
        let src_c = match self.channels {
            ChannelOrder::Rgb => [0usize, 1, 2],
            ChannelOrder::Bgr => [2usize, 1, 0],
        };
        let mut lut = [[0f32; 256]; 3];
        for c in 0..3 {
            let (m, s) = (self.mean[src_c[c]], self.std[src_c[c]]);
            for (v, out) in lut[c].iter_mut().enumerate() {
                *out = (v as f32 * self.scale - m) / s;
            }
        }
        for c in 0..3 {
            chw[c * plane..(c + 1) * plane].fill(lut[c][self.pad_value as usize]);
        }
        let (px, py) = (lb.pad_x as usize, lb.pad_y as usize);
        let rw = lb.resized_w as usize;
        let rows = resized.chunks_exact(rw * 3).enumerate();
        for (y, row) in rows {
            let base = (y + py) * iw + px;
            for c in 0..3 {
                let dst = &mut chw[c * plane + base..c * plane + base + rw];
                let sc = src_c[c];
                for (x, d) in dst.iter_mut().enumerate() {
                    *d = lut[c][row[x * 3 + sc] as usize];
                }
            }
        }
        Tensorised { chw, letterbox: lb, src_w, src_h }
    }
}

/// Bilinear resize of packed RGB8 pixels with SIMD where the CPU has it.
fn resize_rgb(image: &RgbImage, w: u32, h: u32) -> Vec<u8> {
    let (sw, sh) = image.dimensions();
    if (sw, sh) == (w, h) {
        return image.as_raw().clone();
    }
    let src = fr::images::ImageRef::new(sw, sh, image.as_raw(), fr::PixelType::U8x3)
        .expect("an RgbImage buffer always matches its dimensions");
    let mut dst = fr::images::Image::new(w, h, fr::PixelType::U8x3);
    let options = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
    fr::Resizer::new()
        .resize(&src, &mut dst, &options)
        .expect("source and destination are both U8x3");
    dst.into_vec()
}

/// Anything that turns a batch of tensorised frames into detections.
///
/// Implementations map boxes back to source pixels with each input's
/// letterbox, apply the confidence threshold and NMS, and return one list per
/// input, in input order.
pub trait Detector: Send {
    fn preprocess(&self) -> &Preprocess;
    fn labels(&self) -> &[String];
    /// Largest batch the model accepts in one call (1 for a fixed batch).
    fn max_batch(&self) -> usize;
    fn detect(&mut self, batch: &[Tensorised]) -> Result<Vec<Vec<Detection>>, DetectError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(channels: ChannelOrder, align: PadAlign, scale: f32) -> Preprocess {
        Preprocess {
            input_w: 8,
            input_h: 8,
            channels,
            scale,
            mean: [0.0; 3],
            std: [1.0; 3],
            pad_align: align,
            pad_value: 114,
        }
    }

    #[test]
    fn letterbox_places_pixels_and_padding() {
        // 8x4 image of one colour into 8x8: rows 2..6 hold it, the rest is pad.
        let img = RgbImage::from_pixel(8, 4, image::Rgb([10, 20, 30]));
        let t = spec(ChannelOrder::Rgb, PadAlign::Center, 1.0).run(&img);
        assert_eq!(t.letterbox.pad_y, 2.0);
        let px = |c: usize, y: usize, x: usize| t.chw[c * 64 + y * 8 + x];
        assert_eq!(px(0, 0, 0), 114.0);
        assert_eq!((px(0, 2, 0), px(1, 2, 0), px(2, 5, 7)), (10.0, 20.0, 30.0));
        assert_eq!(px(2, 6, 3), 114.0);

        let t = spec(ChannelOrder::Bgr, PadAlign::TopLeft, 1.0 / 255.0).run(&img);
        let px = |c: usize, y: usize, x: usize| t.chw[c * 64 + y * 8 + x];
        let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
        assert!(close(px(0, 0, 0), 30.0 / 255.0), "blue first in BGR");
        assert!(close(px(2, 3, 0), 10.0 / 255.0));
        assert!(close(px(0, 4, 0), 114.0 / 255.0), "top-left alignment pads below");
    }
}
