//! The GeoJSON sink: for georeferenced inputs, every detection's footprint
//! into `detections.geojson` and every closed event's into
//! `events.geojson` (RFC 7946, WGS84), streamed into the run folder.

use serde_json::{json, Value};

use super::{Screened, SharedRun, Sink, SinkError};
use crate::detect::class_name;
use crate::event::Step;
use crate::evidence::events::{event_geo, summary};
use crate::evidence::EvidenceError;

pub struct GeoJsonSink {
    run: SharedRun,
    labels: Vec<String>,
}

impl GeoJsonSink {
    /// `labels`: the model's class names, for the features' properties.
    pub fn new(run: SharedRun, labels: Vec<String>) -> GeoJsonSink {
        GeoJsonSink { run, labels }
    }
}

fn score(v: f32) -> f64 {
    (f64::from(v) * 1e4).round() / 1e4
}

impl Sink<Screened<'_>> for GeoJsonSink {
    fn accept(&mut self, item: &Screened<'_>) -> Result<(), SinkError> {
        match item {
            Screened::Frame {
                stream,
                frame,
                detections,
                ..
            } => {
                let Some(georef) = frame.scene.as_ref().and_then(|s| s.georef.as_ref()) else {
                    return Ok(());
                };
                let boxes: Vec<_> = detections.iter().map(|d| d.bbox).collect();
                let prints = georef
                    .footprints(&boxes)
                    .map_err(|source| EvidenceError::Geo {
                        what: format!("the detections of {}", stream.path.display()),
                        source,
                    })?;
                let mut run = self.run.lock();
                for (d, f) in detections.iter().zip(&prints) {
                    let props = json!({
                        "source": stream.path,
                        "class": class_name(&self.labels, d.class_id),
                        "class_id": d.class_id,
                        "score": score(d.score),
                        "box": d.bbox.to_array(),
                        "lon": f.lon,
                        "lat": f.lat,
                    });
                    run.push_feature("detections.geojson", f.geometry(), props)?;
                }
                Ok(())
            }
            Screened::Events {
                stream, updates, ..
            } => {
                for u in updates.iter().filter(|u| u.step == Step::Close) {
                    let Some((whole, _)) = event_geo(&u.event)? else {
                        continue;
                    };
                    let mut props =
                        serde_json::to_value(summary(&u.event, &stream.path, &self.labels, None))
                            .expect("records always serialise");
                    props["end_s"] = json!(crate::evidence::record::round_s(u.event.last_s));
                    props["lon"] = json!(whole.lon);
                    props["lat"] = json!(whole.lat);
                    props["event_json"] =
                        Value::String(format!("events/{}/event.json", u.event.id));
                    self.run
                        .lock()
                        .push_feature("events.geojson", whole.geometry(), props)?;
                }
                Ok(())
            }
        }
    }
}
