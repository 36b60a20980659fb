//! What the annotation formats (COCO, CVAT, Label Studio) share: the
//! frames in `images/`, untouched or blurred, each event's boxes in its
//! frame's pixels, the class names in order of first use, and, for a
//! redacted export, `redaction.json`.

use std::path::{Path, PathBuf};

use crate::evidence::record::EventRecord;
use crate::evidence::redact::{RedactedFile, Redaction};

use super::{write, ExportError, ReviewedEvent};

/// One box of an exported image, in that image's pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportBox {
    pub class: String,
    /// `anchor` or `subject`.
    pub role: String,
    pub score: f64,
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

/// An event's untouched frame: its size and its boxes.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBoxes {
    pub width: u32,
    pub height: u32,
    pub boxes: Vec<ExportBox>,
}

/// A number as `event.json` writes it: the shortest decimal of the `f32`,
/// not its binary widening, so that exported boxes equal the recorded ones.
fn decimal(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

/// The event's frame size and boxes. A raster event's frame is a crop of
/// the scene, possibly reduced: boxes are moved into it.
pub fn image_boxes(event: &EventRecord) -> ImageBoxes {
    let best = &event.best_frame;
    let (dx, dy, s) = match &best.crop {
        None => (0.0, 0.0, 1.0),
        Some(c) => (f64::from(c.x), f64::from(c.y), c.scale),
    };
    let (w, h) = match &best.crop {
        None => (best.width, best.height),
        Some(c) => {
            let side = |v: u32| (f64::from(v) / s).round().max(1.0) as u32;
            (side(c.width), side(c.height))
        }
    };
    let boxes = best
        .tracks
        .iter()
        .map(|t| {
            let v = |i: usize| decimal(t.bbox[i]);
            ExportBox {
                class: t.class.clone(),
                role: t.role.clone(),
                score: decimal(t.score),
                x1: ((v(0) - dx) / s).clamp(0.0, f64::from(w)),
                y1: ((v(1) - dy) / s).clamp(0.0, f64::from(h)),
                x2: ((v(2) - dx) / s).clamp(0.0, f64::from(w)),
                y2: ((v(3) - dy) / s).clamp(0.0, f64::from(h)),
            }
        })
        .collect();
    ImageBoxes {
        width: w,
        height: h,
        boxes,
    }
}

/// One exported image.
pub struct Image {
    /// The event it shows.
    pub event_id: String,
    /// Relative to the export: `images/<event>.jpg`, or `.png` when blurred.
    pub name: String,
    pub boxes: ImageBoxes,
}

/// The images of an annotation export, as they are written.
pub struct ImageSet {
    out: PathBuf,
    pub images: Vec<Image>,
    /// Class names in order of first use; category ids follow it.
    pub labels: Vec<String>,
    /// The model the events were found with (the first event's).
    pub model_sha256: String,
    redaction: Option<Redaction>,
}

impl ImageSet {
    /// Creates `out/images/`. With `redaction` (the redactor's record),
    /// events carry blurred frames and `redaction.json` is written.
    pub fn create(out: &Path, redaction: Option<Redaction>) -> Result<ImageSet, ExportError> {
        let images = out.join("images");
        std::fs::create_dir_all(&images).map_err(|source| ExportError::Create {
            path: images,
            source,
        })?;
        Ok(ImageSet {
            out: out.to_owned(),
            images: Vec::new(),
            labels: Vec::new(),
            model_sha256: String::new(),
            redaction,
        })
    }

    /// Writes the event's frame (its blurred copy, when redacting) into
    /// `images/` and keeps its boxes.
    pub fn add(&mut self, e: &ReviewedEvent) -> Result<(), ExportError> {
        let name = match (&mut self.redaction, e.redacted.first()) {
            (None, _) => {
                let name = format!("images/{}.jpg", e.id());
                let from = e.run.join(e.frame());
                std::fs::copy(&from, self.out.join(&name))
                    .map_err(|source| ExportError::Copy { path: from, source })?;
                name
            }
            (Some(redaction), Some(copy)) => {
                let name = format!("images/{}.png", e.id());
                write(&self.out.join(&name), &copy.png)?;
                let from = e.run.join(&copy.from);
                let from_sha256 = crate::digest::sha256_file(&from)
                    .map_err(|source| ExportError::Read { path: from, source })?;
                redaction.files.push(RedactedFile {
                    path: name.clone(),
                    sha256: crate::digest::sha256_hex(&copy.png),
                    from: copy.from.clone(),
                    from_sha256,
                    regions: copy.regions.clone(),
                });
                name
            }
            (Some(_), None) => unreachable!("a redacted export blurs every event's frame"),
        };
        let boxes = image_boxes(&e.event);
        for b in &boxes.boxes {
            if !self.labels.contains(&b.class) {
                self.labels.push(b.class.clone());
            }
        }
        if self.images.is_empty() {
            self.model_sha256 = e.event.model.sha256.clone();
        }
        self.images.push(Image {
            event_id: e.id().to_owned(),
            name,
            boxes,
        });
        Ok(())
    }

    /// Writes `redaction.json` (for a redacted export), then the format's
    /// document `file` with `bytes`.
    pub fn finish(&mut self, file: &str, bytes: &[u8]) -> Result<(), ExportError> {
        if let Some(redaction) = &self.redaction {
            let record = serde_json::to_vec_pretty(redaction).expect("records always serialise");
            write(&self.out.join("redaction.json"), &record)?;
        }
        write(&self.out.join(file), bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event of the raster run written before records were typed: its
    /// frame is a reduced crop of the scene.
    fn raster_event() -> EventRecord {
        let events =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/records-v0/raster/events");
        let dir = std::fs::read_dir(&events).unwrap().next().unwrap().unwrap();
        EventRecord::read(&dir.path().join("event.json")).unwrap()
    }

    #[test]
    fn boxes_of_a_raster_event_are_moved_into_its_crop() {
        let e = raster_event();
        let crop = e.best_frame.crop.unwrap();
        let b = image_boxes(&e);
        assert_eq!(b.width, (f64::from(crop.width) / crop.scale).round() as u32);
        assert_eq!(b.boxes.len(), e.best_frame.tracks.len());
        for (x, t) in b.boxes.iter().zip(&e.best_frame.tracks) {
            let want = (decimal(t.bbox[0]) - f64::from(crop.x)) / crop.scale;
            assert!((x.x1 - want.clamp(0.0, f64::from(b.width))).abs() < 1e-9);
            assert!(x.x1 <= x.x2 && x.x2 <= f64::from(b.width));
            assert!(x.y1 <= x.y2 && x.y2 <= f64::from(b.height));
        }
    }

    #[test]
    fn numbers_are_the_recorded_decimals() {
        assert_eq!(decimal(0.1), 0.1);
        assert_eq!(decimal(1234.567), 1234.567);
    }
}
