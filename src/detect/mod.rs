//! Object detection: turning frames into scored, labelled boxes.
//!
//! The stage has three parts, each replaceable on its own:
//! - [`Preprocess`] letterboxes an RGB frame into a model's input tensor and
//!   remembers the [`Letterbox`] needed to map boxes back;
//! - [`onnx::OnnxDetector`] runs an ONNX model through ONNX Runtime (the only
//!   module that touches `ort`);
//! - [`family`] holds one file per model family that turns raw output tensors
//!   into [`Detection`]s in source pixels, followed by [`nms`].

pub mod describe;
pub mod face;
pub mod family;
pub mod labels;
pub mod nms;
pub mod onnx;
pub mod roles;
pub mod step;
pub mod tile;

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

/// The name of class `id`: its label, or `class_N` for a model whose
/// names are unknown.
pub fn class_name(labels: &[String], id: usize) -> String {
    labels
        .get(id)
        .cloned()
        .unwrap_or_else(|| format!("class_{id}"))
}

/// Errors from loading or running a detector.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("cannot find the ONNX Runtime library: {0}")]
    RuntimeMissing(crate::bundled::LocateError),
    #[error("cannot load the ONNX Runtime library {path}: {problem}")]
    RuntimeLoad {
        path: PathBuf,
        problem: onnx::RuntimeLoadError,
    },
    #[error("cannot read model {path}: {source}")]
    ModelIo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot load model {path}: {error}")]
    ModelLoad { path: PathBuf, error: ort::Error },
    #[error("cannot load model {path}: {problem}")]
    Device {
        path: PathBuf,
        problem: onnx::DeviceStartError,
    },
    #[error("model {path} is not a supported detector: {reason}")]
    Unsupported { path: PathBuf, reason: String },
    #[error("model {path} is not a supported detector: {problem}")]
    Family {
        path: PathBuf,
        problem: family::FamilyError,
    },
    #[error("cannot read labels {path}: {message}")]
    Labels { path: PathBuf, message: String },
    #[error("inference failed on model {path}: {problem}")]
    Inference {
        path: PathBuf,
        problem: onnx::InferenceError,
    },
    #[error("face model {0}")]
    FaceModelMissing(crate::bundled::LocateError),
}

/// Channel order of the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

/// How a frame is fitted into the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resize {
    /// Keep the aspect ratio, pad evenly on both sides (Ultralytics).
    LetterboxCenter,
    /// Keep the aspect ratio, image at the top-left corner (YOLOX).
    LetterboxTopLeft,
    /// Stretch to the input size (SSD, DETR family, NanoDet).
    Stretch,
}

/// Memory layout of the input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Nchw,
    Nhwc,
}

/// How a frame becomes an input tensor. Declared per model family; the
/// config may override any part of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    pub input_w: u32,
    pub input_h: u32,
    pub resize: Resize,
    pub layout: Layout,
    pub channels: ChannelOrder,
    /// Multiply 0–255 pixel values by this (1/255 for 0–1 models, 1 for 0–255).
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Grey level of the letterbox padding, in 0–255 pixel units.
    pub pad_value: u8,
}

/// The map from model-input pixels back to source pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputMap {
    Letterbox(Letterbox),
    Stretch { sx: f32, sy: f32 },
}

impl InputMap {
    pub fn box_to_source(&self, b: &BBox) -> BBox {
        match self {
            InputMap::Letterbox(lb) => lb.box_to_source(b),
            InputMap::Stretch { sx, sy } => BBox::new(b.x1 / sx, b.y1 / sy, b.x2 / sx, b.y2 / sy),
        }
    }
}

/// A frame ready for inference: one image as a flat tensor in the model's
/// layout (values before any dtype conversion), plus the map back to
/// source pixels. Its buffer goes back to [`buffers`] when it is dropped.
#[derive(Debug, Clone)]
pub struct Tensorised {
    pub data: Vec<f32>,
    pub map: InputMap,
    pub input_w: u32,
    pub input_h: u32,
    pub src_w: u32,
    pub src_h: u32,
}

impl Drop for Tensorised {
    fn drop(&mut self) {
        buffers::give(std::mem::take(&mut self.data));
    }
}

/// Tensor buffers for reuse. A model input is megabytes (2 MB at 416 px, 4.9
/// MB at 640), and a buffer fresh from the allocator each frame is zeroed
/// and faulted in page by page: measured, 7% of a full-rate run's processor
/// time on 2 cores. Dropped tensors hand their buffers back here and the
/// next frames take them; at most [`buffers::KEPT_BYTES`] are kept.
pub mod buffers {
    use std::sync::Mutex;

    /// Most bytes of buffers kept for reuse.
    pub const KEPT_BYTES: usize = 96 << 20;

    static KEPT: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

    fn kept() -> std::sync::MutexGuard<'static, Vec<Vec<f32>>> {
        // A panic while the lock is held leaves a list of buffers, still
        // whole.
        KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// An empty buffer with room for `len` values: a kept one if one is
    /// large enough, else a new one.
    pub fn take(len: usize) -> Vec<f32> {
        let mut kept = kept();
        match kept.iter().position(|b| b.capacity() >= len) {
            Some(i) => kept.swap_remove(i),
            None => Vec::with_capacity(len),
        }
    }

    /// Keeps `buffer` for a later [`take`], unless the kept buffers would
    /// pass [`KEPT_BYTES`].
    pub fn give(mut buffer: Vec<f32>) {
        if buffer.capacity() == 0 {
            return;
        }
        buffer.clear();
        let mut kept = kept();
        let bytes: usize = kept.iter().map(|b| b.capacity() * 4).sum();
        if bytes + buffer.capacity() * 4 <= KEPT_BYTES {
            kept.push(buffer);
        }
    }
}

impl Preprocess {
    /// The size a `src_w × src_h` picture is resized to inside the model
    /// input.
    pub fn resized_size(&self, src_w: u32, src_h: u32) -> (u32, u32) {
        let (_, rw, rh, _, _) = self.place(src_w, src_h);
        (rw, rh)
    }

    /// Where a `src_w × src_h` picture goes in the model input: the map
    /// back, the resized size, and the padding before it (x, y).
    fn place(&self, src_w: u32, src_h: u32) -> (InputMap, u32, u32, usize, usize) {
        match self.resize {
            Resize::Stretch => {
                let map = InputMap::Stretch {
                    sx: self.input_w as f32 / src_w as f32,
                    sy: self.input_h as f32 / src_h as f32,
                };
                (map, self.input_w, self.input_h, 0, 0)
            }
            Resize::LetterboxCenter | Resize::LetterboxTopLeft => {
                let align = if self.resize == Resize::LetterboxCenter {
                    PadAlign::Center
                } else {
                    PadAlign::TopLeft
                };
                let lb = Letterbox::fit(src_w, src_h, self.input_w, self.input_h, align);
                (
                    InputMap::Letterbox(lb),
                    lb.resized_w,
                    lb.resized_h,
                    lb.pad_x as usize,
                    lb.pad_y as usize,
                )
            }
        }
    }

    /// Resizes `image` into the model input (letterbox or stretch, bilinear)
    /// and lays it out as the model wants it.
    pub fn run(&self, image: &RgbImage) -> Tensorised {
        self.run_for(image, image.dimensions())
    }

    /// The tensor of a picture `(src_w, src_h)` pixels large, made from
    /// `image`, a copy of it scaled down (same shape): boxes map back to
    /// the full picture's pixels. An `image` already at the size the
    /// model's input takes is used as it is.
    pub fn run_for(&self, image: &RgbImage, (src_w, src_h): (u32, u32)) -> Tensorised {
        let (iw, ih) = (self.input_w as usize, self.input_h as usize);
        let (map, rw, rh, px, py) = self.place(src_w, src_h);
        let resized = resize_rgb(image, rw, rh);
        let plane = iw * ih;
        // Output channel c takes source channel src_c[c].
        let src_c = match self.channels {
            ChannelOrder::Rgb => [0usize, 1, 2],
            ChannelOrder::Bgr => [2usize, 1, 0],
        };
        let mut lut = [[0f32; 256]; 3];
        for (c, table) in lut.iter_mut().enumerate() {
            let (m, s) = (self.mean[c], self.std[c]);
            for (v, out) in table.iter_mut().enumerate() {
                *out = (v as f32 * self.scale - m) / s;
            }
        }
        // The padding first, written once into a reused buffer.
        let pad = [0, 1, 2].map(|c| lut[c][self.pad_value as usize]);
        let mut data = buffers::take(3 * plane);
        let rw = rw as usize;
        match self.layout {
            Layout::Nchw => {
                for value in pad {
                    data.extend(std::iter::repeat_n(value, plane));
                }
                // One pass over each source row, writing the three planes.
                let (p0, rest) = data.split_at_mut(plane);
                let (p1, p2) = rest.split_at_mut(plane);
                let [l0, l1, l2] = &lut;
                let [s0, s1, s2] = src_c;
                for (y, row) in resized.chunks_exact(rw * 3).enumerate() {
                    let base = (y + py) * iw + px;
                    let (d0, d1, d2) = (
                        &mut p0[base..base + rw],
                        &mut p1[base..base + rw],
                        &mut p2[base..base + rw],
                    );
                    for (x, rgb) in row.chunks_exact(3).enumerate() {
                        d0[x] = l0[rgb[s0] as usize];
                        d1[x] = l1[rgb[s1] as usize];
                        d2[x] = l2[rgb[s2] as usize];
                    }
                }
            }
            Layout::Nhwc => {
                data.extend(std::iter::repeat_n(pad, plane).flatten());
                for (y, row) in resized.chunks_exact(rw * 3).enumerate() {
                    let base = ((y + py) * iw + px) * 3;
                    for x in 0..rw {
                        for c in 0..3 {
                            data[base + x * 3 + c] = lut[c][row[x * 3 + src_c[c]] as usize];
                        }
                    }
                }
            }
        }
        Tensorised {
            data,
            map,
            input_w: self.input_w,
            input_h: self.input_h,
            src_w,
            src_h,
        }
    }
}

/// Bilinear resize of packed RGB8 pixels with SIMD where the CPU has it.
/// Each thread keeps its resizer (and the scratch buffers inside it) from
/// one frame to the next.
fn resize_rgb(image: &RgbImage, w: u32, h: u32) -> Vec<u8> {
    thread_local! {
        static RESIZER: std::cell::RefCell<fr::Resizer> = std::cell::RefCell::new(fr::Resizer::new());
    }
    let (sw, sh) = image.dimensions();
    if (sw, sh) == (w, h) {
        return image.as_raw().clone();
    }
    let src = fr::images::ImageRef::new(sw, sh, image.as_raw(), fr::PixelType::U8x3)
        .expect("an RgbImage buffer always matches its dimensions");
    let mut dst = fr::images::Image::new(w, h, fr::PixelType::U8x3);
    let options =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
    RESIZER.with_borrow_mut(|resizer| {
        resizer
            .resize(&src, &mut dst, &options)
            .expect("source and destination are both U8x3")
    });
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
    /// Tensors whose outputs held NaN or infinite values so far.
    fn non_finite_frames(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(channels: ChannelOrder, resize: Resize, scale: f32) -> Preprocess {
        Preprocess {
            input_w: 8,
            input_h: 8,
            resize,
            layout: Layout::Nchw,
            channels,
            scale,
            mean: [0.0; 3],
            std: [1.0; 3],
            pad_value: 114,
        }
    }

    #[test]
    fn a_scaled_down_copy_gives_the_tensor_and_the_map_of_the_full_picture() {
        // A 32x16 picture of 2x2 blocks, and its 8x4 copy (each pixel one
        // 4x4 block's colour): into an 8x8 input both fill rows 2..6.
        let full = RgbImage::from_fn(32, 16, |x, y| {
            image::Rgb([(x / 4 * 30) as u8, (y / 4 * 60) as u8, 7])
        });
        let small = RgbImage::from_fn(8, 4, |x, y| image::Rgb([(x * 30) as u8, (y * 60) as u8, 7]));
        for resize in [Resize::LetterboxCenter, Resize::Stretch] {
            let p = spec(ChannelOrder::Rgb, resize, 1.0);
            let a = p.run(&full);
            let b = p.run_for(&small, (32, 16));
            assert_eq!(a.map, b.map, "{resize:?}");
            assert_eq!((b.src_w, b.src_h), (32, 16));
            let worst = a
                .data
                .iter()
                .zip(&b.data)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
            assert!(worst <= 16.0, "{resize:?}: {worst}");
            // Boxes come back in the full picture's pixels.
            let back = b.map.box_to_source(&BBox::new(0.0, 2.0, 8.0, 6.0));
            if resize == Resize::LetterboxCenter {
                assert_eq!(back, BBox::new(0.0, 0.0, 32.0, 16.0));
            }
        }
    }

    #[test]
    fn letterbox_places_pixels_and_padding() {
        // 8x4 image of one colour into 8x8: rows 2..6 hold it, the rest is pad.
        let img = RgbImage::from_pixel(8, 4, image::Rgb([10, 20, 30]));
        let t = spec(ChannelOrder::Rgb, Resize::LetterboxCenter, 1.0).run(&img);
        assert_eq!(
            t.map,
            InputMap::Letterbox(Letterbox::fit(8, 4, 8, 8, PadAlign::Center))
        );
        let px = |c: usize, y: usize, x: usize| t.data[c * 64 + y * 8 + x];
        assert_eq!(px(0, 0, 0), 114.0);
        assert_eq!((px(0, 2, 0), px(1, 2, 0), px(2, 5, 7)), (10.0, 20.0, 30.0));
        assert_eq!(px(2, 6, 3), 114.0);

        let t = spec(ChannelOrder::Bgr, Resize::LetterboxTopLeft, 1.0 / 255.0).run(&img);
        let px = |c: usize, y: usize, x: usize| t.data[c * 64 + y * 8 + x];
        let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
        assert!(close(px(0, 0, 0), 30.0 / 255.0), "blue first in BGR");
        assert!(close(px(2, 3, 0), 10.0 / 255.0));
        assert!(
            close(px(0, 4, 0), 114.0 / 255.0),
            "top-left alignment pads below"
        );
    }

    #[test]
    fn stretch_to_nhwc_with_mean_std() {
        let img = RgbImage::from_pixel(16, 4, image::Rgb([10, 20, 30]));
        let mut p = spec(ChannelOrder::Rgb, Resize::Stretch, 1.0);
        p.layout = Layout::Nhwc;
        p.mean = [10.0, 0.0, 0.0];
        p.std = [1.0, 2.0, 3.0];
        let t = p.run(&img);
        assert_eq!(t.map, InputMap::Stretch { sx: 0.5, sy: 2.0 });
        assert_eq!(&t.data[..6], &[0.0, 10.0, 10.0, 0.0, 10.0, 10.0]);
        let b = t.map.box_to_source(&BBox::new(1.0, 1.0, 2.0, 2.0));
        assert_eq!(b, BBox::new(2.0, 0.5, 4.0, 1.0));
    }
}
