//! Drawing detections onto a copy of a frame for reviewers: a coloured box
//! per detection and a label with class and score. The untouched frame is
//! always stored beside the annotated one.

use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};

use crate::detect::Detection;

/// Distinct, colour-blind-friendly colours (Okabe–Ito), one per class id.
const PALETTE: [[u8; 3]; 8] = [
    [230, 159, 0],
    [86, 180, 233],
    [0, 158, 115],
    [240, 228, 66],
    [0, 114, 178],
    [213, 94, 0],
    [204, 121, 167],
    [255, 255, 255],
];

pub fn class_colour(class_id: usize) -> Rgb<u8> {
    Rgb(PALETTE[class_id % PALETTE.len()])
}

fn fill_rect(img: &mut RgbImage, x0: i64, y0: i64, x1: i64, y1: i64, colour: Rgb<u8>) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    for y in y0.max(0)..y1.min(h) {
        for x in x0.max(0)..x1.min(w) {
            img.put_pixel(x as u32, y as u32, colour);
        }
    }
}

/// Draws `text` with its top-left corner at (x, y), each font pixel
/// `scale` x `scale` image pixels. Characters outside ASCII draw as `?`.
fn draw_text(img: &mut RgbImage, x: i64, y: i64, scale: i64, text: &str, colour: Rgb<u8>) {
    for (i, ch) in text.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS
            .get(ch)
            .or_else(|| font8x8::BASIC_FONTS.get('?'))
            .unwrap_or([0; 8]);
        let gx = x + i as i64 * 8 * scale;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) != 0 {
                    let px = gx + col * scale;
                    let py = y + row as i64 * scale;
                    fill_rect(img, px, py, px + scale, py + scale, colour);
                }
            }
        }
    }
}

/// Returns a copy of `frame` with every detection drawn on it. Every box is
/// drawn; labels are placed best score first and skipped where they would
/// cover an earlier label, so a dense crowd stays readable.
pub fn annotate(frame: &RgbImage, detections: &[Detection], labels: &[String]) -> RgbImage {
    let mut img = frame.clone();
    let long_side = img.width().max(img.height()) as i64;
    let thickness = (long_side / 640).max(1);
    let scale = (long_side / 1280).max(1);
    for d in detections {
        let colour = class_colour(d.class_id);
        let b = d.bbox;
        let (x1, y1, x2, y2) = (
            b.x1.floor() as i64,
            b.y1.floor() as i64,
            b.x2.ceil() as i64,
            b.y2.ceil() as i64,
        );
        // Box outline drawn outside the object so it hides no pixels of it.
        fill_rect(
            &mut img,
            x1 - thickness,
            y1 - thickness,
            x2 + thickness,
            y1,
            colour,
        );
        fill_rect(
            &mut img,
            x1 - thickness,
            y2,
            x2 + thickness,
            y2 + thickness,
            colour,
        );
        fill_rect(&mut img, x1 - thickness, y1, x1, y2, colour);
        fill_rect(&mut img, x2, y1, x2 + thickness, y2, colour);
    }
    let mut order: Vec<&Detection> = detections.iter().collect();
    order.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut placed: Vec<(i64, i64, i64, i64)> = Vec::new();
    for d in order {
        let (x1, y1) = (d.bbox.x1.floor() as i64, d.bbox.y1.floor() as i64);
        let text = format!(
            "{} {:.2}",
            crate::detect::class_name(labels, d.class_id),
            d.score
        );
        let (tw, th) = (text.len() as i64 * 8 * scale + 2, 8 * scale + 2);
        // Label above the box, or inside it when the box touches the top.
        let ty = if y1 - thickness - th >= 0 {
            y1 - thickness - th
        } else {
            y1
        };
        let tx = x1 - thickness;
        let rect = (tx, ty, tx + tw, ty + th);
        if placed
            .iter()
            .any(|p| rect.0 < p.2 && p.0 < rect.2 && rect.1 < p.3 && p.1 < rect.3)
        {
            continue;
        }
        placed.push(rect);
        fill_rect(
            &mut img,
            rect.0,
            rect.1,
            rect.2,
            rect.3,
            class_colour(d.class_id),
        );
        draw_text(&mut img, tx + 1, ty + 1, scale, &text, Rgb([0, 0, 0]));
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::BBox;

    #[test]
    fn draws_outline_and_keeps_the_original() {
        let frame = RgbImage::from_pixel(100, 60, Rgb([0, 0, 0]));
        let det = Detection {
            class_id: 1,
            score: 0.5,
            bbox: BBox::new(20.0, 30.0, 40.0, 50.0),
        };
        let out = annotate(&frame, &[det], &["a".into(), "b".into()]);
        assert_eq!(*out.get_pixel(19, 40), class_colour(1), "left edge");
        assert_eq!(*out.get_pixel(30, 40), Rgb([0, 0, 0]), "inside stays clear");
        assert_eq!(*frame.get_pixel(19, 40), Rgb([0, 0, 0]), "source untouched");
    }

    #[test]
    fn overlapping_labels_keep_the_best_score() {
        let frame = RgbImage::from_pixel(200, 100, Rgb([0, 0, 0]));
        let labels = ["a".to_string()];
        let best = Detection {
            class_id: 0,
            score: 0.9,
            bbox: BBox::new(50.0, 40.0, 60.0, 50.0),
        };
        let worse = Detection {
            score: 0.5,
            bbox: BBox::new(51.0, 40.0, 59.0, 50.0),
            ..best.clone()
        };
        let both = annotate(&frame, &[worse, best.clone()], &labels);
        // Only the 0.9 label is drawn: its strip above the boxes matches a
        // frame annotated with the 0.9 detection alone.
        let label_row = (40 - 1 - 10)..(40 - 1);
        let solo = annotate(&frame, &[best], &labels);
        for y in label_row {
            for x in 49..80 {
                assert_eq!(
                    both.get_pixel(x, y as u32),
                    solo.get_pixel(x, y as u32),
                    "({x},{y})"
                );
            }
        }
    }
}
