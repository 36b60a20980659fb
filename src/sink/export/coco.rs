//! COCO detection JSON (`annotations.json`) and the frames in `images/`,
//! for retraining on reviewed events.

use std::path::Path;

use serde_json::{json, Value};

use super::images::ImageSet;
use super::{ExportError, ReviewedEvent};
use crate::evidence::redact::Redaction;
use crate::sink::{Sink, SinkError};

pub const FILE: &str = "annotations.json";

pub struct CocoSink {
    images: ImageSet,
}

impl CocoSink {
    /// Writes into the folder `out`; see [`ImageSet::create`].
    pub fn new(out: &Path, redaction: Option<Redaction>) -> Result<CocoSink, ExportError> {
        Ok(CocoSink {
            images: ImageSet::create(out, redaction)?,
        })
    }
}

/// The COCO document of `set`: one image per event, one annotation per
/// box, categories in order of first use.
pub fn document(set: &ImageSet) -> Value {
    let labels = &set.labels;
    let mut annotations = Vec::new();
    let mut imgs = Vec::new();
    for (i, img) in set.images.iter().enumerate() {
        let b = &img.boxes;
        imgs.push(json!({"id": i + 1, "file_name": img.name, "width": b.width, "height": b.height, "lookout_event": img.event_id}));
        for b in &b.boxes {
            let (bw, bh) = (b.x2 - b.x1, b.y2 - b.y1);
            annotations.push(json!({
                "id": annotations.len() + 1,
                "image_id": i + 1,
                "category_id": labels.iter().position(|l| *l == b.class).unwrap_or(0) + 1,
                "bbox": [b.x1, b.y1, bw, bh],
                "area": bw * bh,
                "iscrowd": 0,
                "score": b.score,
            }));
        }
    }
    let categories: Vec<Value> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| json!({"id": i + 1, "name": l}))
        .collect();
    json!({
        "info": {"description": "lookout export: reviewed events", "model_sha256": set.model_sha256},
        "images": imgs, "annotations": annotations, "categories": categories,
    })
}

impl Sink<ReviewedEvent> for CocoSink {
    fn accept(&mut self, e: &ReviewedEvent) -> Result<(), SinkError> {
        Ok(self.images.add(e)?)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        let doc = serde_json::to_vec_pretty(&document(&self.images)).expect("JSON serialises");
        Ok(self.images.finish(FILE, &doc)?)
    }
}
