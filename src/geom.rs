//! Plane geometry shared by every stage: axis-aligned boxes, IoU, and the
//! letterbox transform that maps source pixels into a model's input and back.
//!
//! Everything here is pure and cheap; coordinates are `f32` pixels with the
//! origin at the top-left corner and `x2 > x1`, `y2 > y1` for a non-empty box.

use serde::{Deserialize, Serialize};

/// An axis-aligned box in pixel coordinates, corners `(x1, y1)`–`(x2, y2)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        BBox { x1, y1, x2, y2 }
    }

    /// Builds a box from its centre and size, as YOLO-style heads emit them.
    pub fn from_cxcywh(cx: f32, cy: f32, w: f32, h: f32) -> Self {
        BBox::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
    }

    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    /// The smallest box holding all of `boxes`; `None` when there are none.
    pub fn union_all(boxes: impl IntoIterator<Item = BBox>) -> Option<BBox> {
        boxes.into_iter().reduce(|a, b| {
            BBox::new(
                a.x1.min(b.x1),
                a.y1.min(b.y1),
                a.x2.max(b.x2),
                a.y2.max(b.y2),
            )
        })
    }

    /// Area, zero for an empty or inverted box.
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Area of the overlap of two boxes, zero when they do not touch.
    pub fn intersection(&self, other: &BBox) -> f32 {
        let w = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let h = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        w * h
    }

    /// Intersection over union; 0 when both boxes are empty.
    pub fn iou(&self, other: &BBox) -> f32 {
        let inter = self.intersection(other);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    /// Clips the box to an image of `width` x `height` pixels.
    pub fn clip(&self, width: f32, height: f32) -> BBox {
        BBox::new(
            self.x1.clamp(0.0, width),
            self.y1.clamp(0.0, height),
            self.x2.clamp(0.0, width),
            self.y2.clamp(0.0, height),
        )
    }

    /// `[x1, y1, x2, y2]`, the form written to JSON artefacts.
    pub fn to_array(&self) -> [f32; 4] {
        [self.x1, self.y1, self.x2, self.y2]
    }
}

/// Where the scaled source sits inside the model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PadAlign {
    /// Padding split evenly on both sides (Ultralytics YOLOv5/v8/11).
    Center,
    /// Image at the top-left corner, padding right and bottom (YOLOX).
    TopLeft,
}

/// The affine map between source pixels and a letterboxed model input:
/// `input = source * scale + pad`.
///
/// The source is scaled by one factor on both axes so that it fits inside
/// the input, then padded; `resized_w`/`resized_h` is the scaled image size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Letterbox {
    pub scale: f32,
    pub pad_x: f32,
    pub pad_y: f32,
    pub resized_w: u32,
    pub resized_h: u32,
    pub input_w: u32,
    pub input_h: u32,
}

impl Letterbox {
    /// Computes the letterbox that fits a `src_w` x `src_h` image into a
    /// `input_w` x `input_h` model input.
    pub fn fit(src_w: u32, src_h: u32, input_w: u32, input_h: u32, align: PadAlign) -> Letterbox {
        let scale = (input_w as f32 / src_w as f32).min(input_h as f32 / src_h as f32);
        // Rounding (not truncation) matches Ultralytics' `round(w * r)`.
        let resized_w = ((src_w as f32 * scale).round() as u32).clamp(1, input_w);
        let resized_h = ((src_h as f32 * scale).round() as u32).clamp(1, input_h);
        let (pad_x, pad_y) = match align {
            // Integer padding so that the resized image lands on whole pixels.
            PadAlign::Center => (
                ((input_w - resized_w) / 2) as f32,
                ((input_h - resized_h) / 2) as f32,
            ),
            PadAlign::TopLeft => (0.0, 0.0),
        };
        Letterbox {
            scale,
            pad_x,
            pad_y,
            resized_w,
            resized_h,
            input_w,
            input_h,
        }
    }

    /// Maps a point from source pixels to model-input pixels.
    pub fn to_input(&self, x: f32, y: f32) -> (f32, f32) {
        (x * self.scale + self.pad_x, y * self.scale + self.pad_y)
    }

    /// Maps a point from model-input pixels back to source pixels.
    pub fn to_source(&self, x: f32, y: f32) -> (f32, f32) {
        ((x - self.pad_x) / self.scale, (y - self.pad_y) / self.scale)
    }

    /// Maps a box from model-input pixels back to source pixels.
    pub fn box_to_source(&self, b: &BBox) -> BBox {
        let (x1, y1) = self.to_source(b.x1, b.y1);
        let (x2, y2) = self.to_source(b.x2, b.y2);
        BBox::new(x1, y1, x2, y2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn iou_of_known_boxes() {
        let a = BBox::new(0.0, 0.0, 10.0, 10.0);
        let b = BBox::new(5.0, 0.0, 15.0, 10.0);
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&BBox::new(20.0, 20.0, 30.0, 30.0)), 0.0);
        assert_eq!(a.iou(&a), 1.0);
    }

    #[test]
    fn letterbox_of_720p_into_640_is_centered() {
        let lb = Letterbox::fit(1280, 720, 640, 640, PadAlign::Center);
        assert_eq!((lb.resized_w, lb.resized_h), (640, 360));
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 140.0));
        assert_eq!(lb.to_input(1280.0, 720.0), (640.0, 500.0));
        let yolox = Letterbox::fit(1280, 720, 640, 640, PadAlign::TopLeft);
        assert_eq!((yolox.pad_x, yolox.pad_y), (0.0, 0.0));
    }

    proptest! {
        #[test]
        fn letterbox_round_trip_is_exact(
            src_w in 16u32..8000, src_h in 16u32..8000,
            input in prop::sample::select(vec![320u32, 416, 512, 640, 1024, 1280]),
            fx in 0.0f32..1.0, fy in 0.0f32..1.0,
            top_left in any::<bool>(),
        ) {
            let align = if top_left { PadAlign::TopLeft } else { PadAlign::Center };
            let lb = Letterbox::fit(src_w, src_h, input, input, align);
            prop_assert!(lb.resized_w <= input && lb.resized_h <= input);
            let (x, y) = (fx * src_w as f32, fy * src_h as f32);
            let (ix, iy) = lb.to_input(x, y);
            prop_assert!(ix >= 0.0 && ix <= input as f32 + 1e-3);
            prop_assert!(iy >= 0.0 && iy <= input as f32 + 1e-3);
            let (sx, sy) = lb.to_source(ix, iy);
            // Round trip error stays far below one source pixel.
            prop_assert!((sx - x).abs() <= 1e-3 * src_w as f32 / 100.0 + 1e-2, "x {x} -> {sx}");
            prop_assert!((sy - y).abs() <= 1e-3 * src_h as f32 / 100.0 + 1e-2, "y {y} -> {sy}");
        }
    }
}
