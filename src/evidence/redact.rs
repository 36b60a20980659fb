//! Redacted copies of evidence frames, for sharing outside the team.
//!
//! Two kinds of region are blurred: every face the face detector finds
//! (victims' faces too: the event does not need them), and every person the
//! run's own detector finds who is not part of the event. A person is part
//! of it when the detection is one of the event's tracks, or lies mostly
//! inside the event's anchor (the container, truck bed or vessel): those
//! people stay visible, because they are what the event shows.
//!
//! Each region's shape is recorded with the export: an ellipse for a face
//! (its box scaled by [`FACE_MASK_SCALE`] about its centre, as deface does)
//! and a rectangle for a person (the box grown by [`PERSON_MARGIN`] on each
//! side). A pixel belongs to a region when its centre lies inside the shape;
//! no pixel outside every region changes. Inside, the pixels are replaced by
//! a coarse mosaic of the region, then smoothed: the mosaic throws the detail
//! away, so the blur cannot be undone.

use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use crate::geom::BBox;

/// A face box is scaled by this about its centre before blurring.
pub const FACE_MASK_SCALE: f32 = 1.3;
/// A person box is grown by this share of its width and height on each side.
pub const PERSON_MARGIN: f32 = 0.1;
/// A detected person whose box overlaps an event track's box by at least
/// this IoU is that track, and stays visible.
pub const SAME_PERSON_IOU: f32 = 0.5;
/// A detected person with at least this share of its box inside the
/// event's anchor is aboard it, and stays visible.
pub const ABOARD_SHARE: f32 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    Ellipse,
    Rectangle,
}

/// One blurred region, in the image's pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// `face`, or the class name of a person who is not in the event.
    pub kind: String,
    pub shape: Shape,
    /// The blurred shape's bounding box: x1, y1, x2, y2.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// The detector's box and score that led to it.
    pub detected: [f32; 4],
    pub score: f32,
}

impl Region {
    /// A face: an ellipse around the detected box, scaled.
    pub fn face(detected: BBox, score: f32) -> Region {
        let (cx, cy) = (
            (detected.x1 + detected.x2) / 2.0,
            (detected.y1 + detected.y2) / 2.0,
        );
        let (hw, hh) = (
            detected.width() * FACE_MASK_SCALE / 2.0,
            detected.height() * FACE_MASK_SCALE / 2.0,
        );
        Region {
            kind: "face".into(),
            shape: Shape::Ellipse,
            bbox: [cx - hw, cy - hh, cx + hw, cy + hh],
            detected: detected.to_array(),
            score,
        }
    }

    /// A bystander: the detected box, grown.
    pub fn person(class: &str, detected: BBox, score: f32) -> Region {
        let (mx, my) = (
            detected.width() * PERSON_MARGIN,
            detected.height() * PERSON_MARGIN,
        );
        Region {
            kind: class.to_owned(),
            shape: Shape::Rectangle,
            bbox: [
                detected.x1 - mx,
                detected.y1 - my,
                detected.x2 + mx,
                detected.y2 + my,
            ],
            detected: detected.to_array(),
            score,
        }
    }

    /// Whether pixel (x, y) belongs to the region: its centre is inside.
    pub fn contains(&self, x: u32, y: u32) -> bool {
        let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
        let [x1, y1, x2, y2] = self.bbox;
        if px < x1 || px >= x2 || py < y1 || py >= y2 {
            return false;
        }
        match self.shape {
            Shape::Rectangle => true,
            Shape::Ellipse => {
                let (rx, ry) = ((x2 - x1) / 2.0, (y2 - y1) / 2.0);
                if rx <= 0.0 || ry <= 0.0 {
                    return false;
                }
                let (dx, dy) = ((px - (x1 + rx)) / rx, (py - (y1 + ry)) / ry);
                dx * dx + dy * dy <= 1.0
            }
        }
    }

    /// The pixels that may belong to the region, clipped to the image:
    /// x0..x1, y0..y1.
    fn pixel_bounds(&self, width: u32, height: u32) -> Option<(u32, u32, u32, u32)> {
        let [x1, y1, x2, y2] = self.bbox;
        let lo = |v: f32, max: u32| (v.floor().max(0.0) as u32).min(max);
        let hi = |v: f32, max: u32| (v.ceil().max(0.0) as u32).min(max);
        let b = (lo(x1, width), lo(y1, height), hi(x2, width), hi(y2, height));
        (b.0 < b.2 && b.1 < b.3).then_some(b)
    }
}

/// A copy of `image` with every region blurred; every other pixel is as it
/// was.
pub fn apply(image: &RgbImage, regions: &[Region]) -> RgbImage {
    let mut out = image.clone();
    for region in regions {
        let Some((x0, y0, x1, y1)) = region.pixel_bounds(image.width(), image.height()) else {
            continue;
        };
        let (w, h) = (x1 - x0, y1 - y0);
        // Blocks about an eighth of the region's longer side, at least 2 px.
        let block = (w.max(h).div_ceil(8)).max(2);
        let mut mosaic = RgbImage::new(w, h);
        for by in (0..h).step_by(block as usize) {
            for bx in (0..w).step_by(block as usize) {
                let (bw, bh) = (block.min(w - bx), block.min(h - by));
                let mut sum = [0u64; 3];
                for y in by..by + bh {
                    for x in bx..bx + bw {
                        let p = out.get_pixel(x0 + x, y0 + y).0;
                        for c in 0..3 {
                            sum[c] += u64::from(p[c]);
                        }
                    }
                }
                let n = u64::from(bw * bh);
                let mean = Rgb(sum.map(|s| ((s + n / 2) / n) as u8));
                for y in by..by + bh {
                    for x in bx..bx + bw {
                        mosaic.put_pixel(x, y, mean);
                    }
                }
            }
        }
        let smooth = image::imageops::blur(&mosaic, block as f32 / 2.0);
        for y in 0..h {
            for x in 0..w {
                if region.contains(x0 + x, y0 + y) {
                    out.put_pixel(x0 + x, y0 + y, *smooth.get_pixel(x, y));
                }
            }
        }
    }
    out
}

/// A model that took part in a redaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRef {
    pub path: String,
    pub sha256: String,
}

/// What an export records about its redaction (`bundle.json`'s
/// `redaction`, or `redaction.json` beside annotations): how, with which
/// models, and, for each redacted copy, its sha256, the original it was
/// made from, and the regions blurred.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Redaction {
    pub method: String,
    pub face_model: ModelRef,
    pub face_threshold: f32,
    /// The run's detector, run again on each frame to find bystanders.
    pub detector: ModelRef,
    pub classes: Vec<String>,
    pub files: Vec<RedactedFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactedFile {
    /// The copy, relative to the export.
    pub path: String,
    pub sha256: String,
    /// The original, as the run's manifest names it, and its sha256 there.
    pub from: String,
    pub from_sha256: String,
    pub regions: Vec<Region>,
}

/// How [`apply`] blurs, for the record.
pub const METHOD: &str = "faces: an ellipse of the detected box scaled 1.3; bystanders: the detected box grown 10% each side; \
inside, a mosaic of blocks 1/8 of the region's longer side, then a Gaussian blur of half a block; pixels outside every region unchanged";

/// Whether a person detected at `b` is part of the event: one of its
/// tracks, or aboard one of its anchors.
pub fn is_part_of_event(b: &BBox, tracks: &[BBox], anchors: &[BBox]) -> bool {
    tracks.iter().any(|t| t.iou(b) >= SAME_PERSON_IOU)
        || (b.area() > 0.0
            && anchors
                .iter()
                .any(|a| a.intersection(b) / b.area() >= ABOARD_SHARE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textured(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb([
                (x * 37 % 251) as u8,
                (y * 53 % 241) as u8,
                ((x * y) % 239) as u8,
            ])
        })
    }

    #[test]
    fn only_pixels_inside_the_regions_change_and_those_do() {
        let image = textured(120, 90);
        let regions = vec![
            Region::face(BBox::new(10.0, 10.0, 40.0, 50.0), 0.9),
            Region::person("person", BBox::new(70.3, 20.6, 95.2, 80.1), 0.8),
            // Partly outside the image: clipped, not a panic.
            Region::person("person", BBox::new(110.0, -5.0, 130.0, 20.0), 0.7),
        ];
        let out = apply(&image, &regions);
        let mut changed_inside = vec![0usize; regions.len()];
        let mut inside_total = vec![0usize; regions.len()];
        for (x, y, p) in image.enumerate_pixels() {
            let same = out.get_pixel(x, y) == p;
            let owners: Vec<usize> = (0..regions.len())
                .filter(|&i| regions[i].contains(x, y))
                .collect();
            if owners.is_empty() {
                assert!(same, "pixel ({x}, {y}) outside every region changed");
            }
            for i in owners {
                inside_total[i] += 1;
                changed_inside[i] += usize::from(!same);
            }
        }
        for i in 0..regions.len() {
            assert!(inside_total[i] > 0);
            // A textured region is scrambled almost everywhere.
            assert!(
                changed_inside[i] * 10 >= inside_total[i] * 9,
                "region {i}: {} of {} pixels changed",
                changed_inside[i],
                inside_total[i]
            );
        }
    }

    #[test]
    fn a_face_region_is_an_ellipse_around_the_scaled_box() {
        let r = Region::face(BBox::new(0.0, 0.0, 20.0, 10.0), 0.5);
        assert_eq!(r.bbox, [-3.0, -1.5, 23.0, 11.5]);
        assert!(r.contains(9, 4), "centre");
        assert!(
            !r.contains(0, 0),
            "corner of the box lies outside the ellipse"
        );
        assert!(r.contains(0, 4), "left edge at mid-height");
    }

    #[test]
    fn a_person_is_part_of_the_event_as_one_of_its_tracks_or_aboard_its_anchor() {
        let track = BBox::new(10.0, 10.0, 20.0, 30.0);
        let vessel = BBox::new(100.0, 100.0, 200.0, 150.0);
        let part = |b: BBox| is_part_of_event(&b, &[track], &[vessel]);
        assert!(part(BBox::new(11.0, 10.0, 21.0, 30.0)), "the track");
        assert!(!part(BBox::new(18.0, 10.0, 28.0, 30.0)), "beside the track");
        assert!(part(BBox::new(150.0, 120.0, 160.0, 130.0)), "aboard");
        assert!(part(BBox::new(195.0, 120.0, 205.0, 130.0)), "half aboard");
        assert!(
            !part(BBox::new(197.0, 120.0, 207.0, 130.0)),
            "mostly in the water"
        );
    }
}
