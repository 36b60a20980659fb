//! Label Studio tasks with predictions (`tasks.json`) and the frames in
//! `images/`, for retraining on reviewed events.

use std::path::Path;

use serde_json::{json, Value};

use super::images::ImageSet;
use super::{ExportError, ReviewedEvent};
use crate::evidence::redact::Redaction;
use crate::sink::{Sink, SinkError};

pub const FILE: &str = "tasks.json";

pub struct LabelStudioSink {
    images: ImageSet,
}

impl LabelStudioSink {
    /// Writes into the folder `out`; see [`ImageSet::create`].
    pub fn new(out: &Path, redaction: Option<Redaction>) -> Result<LabelStudioSink, ExportError> {
        Ok(LabelStudioSink {
            images: ImageSet::create(out, redaction)?,
        })
    }
}

/// The tasks of `set`: one per event, its boxes as one prediction in
/// percent of the image, scored by their mean.
pub fn document(set: &ImageSet) -> Value {
    let tasks: Vec<Value> = set
        .images
        .iter()
        .map(|img| {
            let (w, h, boxes) = (img.boxes.width, img.boxes.height, &img.boxes.boxes);
            let (wf, hf) = (f64::from(w.max(1)), f64::from(h.max(1)));
            let result: Vec<Value> = boxes
                .iter()
                .enumerate()
                .map(|(k, b)| json!({
                    "id": format!("{}-{k}", img.event_id),
                    "type": "rectanglelabels", "from_name": "label", "to_name": "image",
                    "original_width": w, "original_height": h, "image_rotation": 0,
                    "value": {
                        "x": b.x1 / wf * 100.0, "y": b.y1 / hf * 100.0,
                        "width": (b.x2 - b.x1) / wf * 100.0, "height": (b.y2 - b.y1) / hf * 100.0,
                        "rotation": 0, "rectanglelabels": [b.class],
                    },
                    "score": b.score,
                }))
                .collect();
            let mean = boxes.iter().map(|b| b.score).sum::<f64>() / boxes.len().max(1) as f64;
            json!({
                "data": {"image": img.name, "lookout_event": img.event_id},
                "predictions": [{"model_version": set.model_sha256, "score": mean, "result": result}],
            })
        })
        .collect();
    Value::Array(tasks)
}

impl Sink<ReviewedEvent> for LabelStudioSink {
    fn accept(&mut self, e: &ReviewedEvent) -> Result<(), SinkError> {
        Ok(self.images.add(e)?)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        let doc = serde_json::to_vec_pretty(&document(&self.images)).expect("JSON serialises");
        Ok(self.images.finish(FILE, &doc)?)
    }
}
