//! Events with their positions as one GeoJSON FeatureCollection, for
//! georeferenced runs: each event's footprint, with its id, signature,
//! counts and reason. Events without a position are left out (and
//! counted in a warning); none at all is an error.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{create_parent, write, ExportError, ReviewedEvent};
use crate::sink::{Sink, SinkError};

pub struct GeoJsonSink {
    out: PathBuf,
    features: Vec<Value>,
    unplaced: usize,
}

impl GeoJsonSink {
    /// Writes the file `out`.
    pub fn new(out: &Path) -> GeoJsonSink {
        GeoJsonSink {
            out: out.to_owned(),
            features: Vec::new(),
            unplaced: 0,
        }
    }
}

/// The event's feature, or `None` when it has no position.
pub fn feature(e: &ReviewedEvent) -> Option<Value> {
    let s = &e.event.event;
    let geo = s.geo.as_ref()?;
    Some(json!({
        "type": "Feature",
        "geometry": geo.geometry(),
        "properties": {
            "event_id": s.event_id,
            "signature": s.signature,
            "kind": s.kind,
            "count": s.count,
            "peak_count": s.peak_count,
            "reason": s.reason,
            "lon": geo.lon,
            "lat": geo.lat,
        },
    }))
}

impl Sink<ReviewedEvent> for GeoJsonSink {
    fn accept(&mut self, e: &ReviewedEvent) -> Result<(), SinkError> {
        match feature(e) {
            Some(f) => self.features.push(f),
            None => self.unplaced += 1,
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        if self.features.is_empty() {
            return Err(ExportError::NoPositions {
                chosen: self.unplaced,
            }
            .into());
        }
        if self.unplaced > 0 {
            tracing::warn!(
                "{} event(s) without a position left out of the GeoJSON",
                self.unplaced
            );
        }
        create_parent(&self.out)?;
        let features = std::mem::take(&mut self.features);
        let doc = json!({"type": "FeatureCollection", "features": features});
        let bytes = serde_json::to_vec_pretty(&doc).expect("JSON serialises");
        Ok(write(&self.out, &bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::record::EventRecord;

    /// The events of a run written before records were typed.
    fn events_of(run: &str) -> Vec<ReviewedEvent> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/records-v0")
            .join(run);
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir.join("events")).unwrap() {
            out.push(ReviewedEvent {
                run: dir.clone(),
                event: EventRecord::read(&e.unwrap().path().join("event.json")).unwrap(),
                verdict: None,
                redacted: Vec::new(),
            });
        }
        out
    }

    #[test]
    fn a_placed_event_is_a_polygon_feature_of_its_footprint() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("x/events.geojson");
        let mut sink = GeoJsonSink::new(&out);
        let events = events_of("raster");
        for e in &events {
            sink.accept(e).unwrap();
        }
        sink.finish().unwrap();
        let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let features = doc["features"].as_array().unwrap();
        assert_eq!(features.len(), events.len());
        let geo = events[0].event.event.geo.as_ref().unwrap();
        let f = &features[0];
        assert_eq!(f["geometry"]["type"], "Polygon");
        assert_eq!(f["geometry"]["coordinates"][0], json!(geo.footprint));
        assert_eq!(f["properties"]["event_id"], events[0].id());
        assert_eq!(f["properties"]["lon"], geo.lon);
    }

    #[test]
    fn events_without_positions_are_an_error_that_says_why() {
        let tmp = tempfile::tempdir().unwrap();
        let mut sink = GeoJsonSink::new(&tmp.path().join("e.geojson"));
        let events = events_of("screen");
        for e in &events {
            sink.accept(e).unwrap();
        }
        let err = sink.finish().unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "none of the {} chosen events has a position (only georeferenced rasters and drone video with telemetry place events)",
                events.len()
            )
        );
    }
}
