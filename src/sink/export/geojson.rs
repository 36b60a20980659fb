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
