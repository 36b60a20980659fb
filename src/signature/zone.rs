//! Zone: objects of chosen classes inside a polygon, such as a quay, a
//! fence line or a stretch of beach.
//!
//! The polygon is in the frame's pixel coordinates. An object is in the
//! zone when its box centre is (nadir imagery has no "feet" to test). The
//! rule holds while at least `min_count` objects are in the zone; the dwell
//! time is the shared `min_duration`. One zone is one group.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    defaults, resolve_classes, ClassLists, ClassRoles, Common, Hit, ScoreGate, Signature,
    SignatureError, SignatureKind,
};
use crate::frame::FrameMeta;
use crate::track::Track;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    pub name: Option<String>,
    /// Polygon vertices `[[x, y], ...]` in pixels, at least three.
    pub polygon: Vec<[f64; 2]>,
    /// Classes that count.
    pub classes: Vec<String>,
    #[serde(default = "defaults::one")]
    pub min_count: usize,
    #[serde(default = "defaults::min_duration")]
    pub min_duration: f64,
    #[serde(default = "defaults::grace")]
    pub grace: f64,
    pub min_score: Option<f64>,
    #[serde(default)]
    pub scores: BTreeMap<String, f64>,
}

impl SignatureKind for ZoneConfig {
    fn common(&self) -> Common<'_> {
        super::common_settings!(self)
    }

    fn validate(&self, key: &str) -> Result<(), SignatureError> {
        let invalid =
            |what: &str, message: &str| SignatureError::invalid(format!("{key}.{what}"), message);
        if self.polygon.len() < 3 {
            return Err(invalid("polygon", "needs at least three [x, y] vertices"));
        }
        if self.polygon.iter().flatten().any(|v| !v.is_finite()) {
            return Err(invalid("polygon", "vertices must be finite numbers"));
        }
        if self.classes.is_empty() {
            return Err(invalid("classes", "name at least one class"));
        }
        if self.min_count == 0 {
            return Err(invalid("min_count", "must be at least 1"));
        }
        Ok(())
    }

    fn build(
        &self,
        key: &str,
        name: String,
        roles: &ClassRoles,
        gate: ScoreGate,
    ) -> Result<Arc<dyn Signature>, SignatureError> {
        Ok(Arc::new(Zone {
            group: format!("zone:{name}"),
            name,
            polygon: self.polygon.clone(),
            classes: resolve_classes(&format!("{key}.classes"), &self.classes, roles)?,
            min_count: self.min_count,
            gate,
        }))
    }

    fn class_lists(&self) -> Vec<(&'static str, &Vec<String>)> {
        vec![("classes", &self.classes)]
    }

    fn class_lists_mut(&mut self) -> ClassLists<'_> {
        ClassLists {
            lists: vec![("classes", &mut self.classes)],
            scores: &mut self.scores,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    group: String,
    polygon: Vec<[f64; 2]>,
    classes: Vec<usize>,
    min_count: usize,
    gate: ScoreGate,
}

/// Even-odd rule point-in-polygon test.
pub fn contains(polygon: &[[f64; 2]], x: f64, y: f64) -> bool {
    let mut inside = false;
    let mut j = polygon.len() - 1;
    for i in 0..polygon.len() {
        let ([xi, yi], [xj, yj]) = (polygon[i], polygon[j]);
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

impl Signature for Zone {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "zone"
    }

    fn subjects(&self) -> &[usize] {
        &self.classes
    }

    fn observe(&self, _frame: &FrameMeta, tracks: &[Track]) -> Vec<Hit> {
        let mut ids: Vec<u64> = self
            .gate
            .select(tracks, &self.classes)
            .into_iter()
            .filter(|t| {
                let b = t.bbox;
                contains(
                    &self.polygon,
                    f64::from(b.x1 + b.x2) / 2.0,
                    f64::from(b.y1 + b.y2) / 2.0,
                )
            })
            .map(|t| t.id)
            .collect();
        if ids.len() < self.min_count {
            return Vec::new();
        }
        ids.sort_unstable();
        vec![Hit {
            group: self.group.clone(),
            anchor: None,
            reason: format!("{} in zone {}", ids.len(), self.name),
            subjects: ids,
            density: None,
            area_m2: None,
            length_m: None,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_in_polygon_handles_concave_shapes() {
        // An L shape.
        let l = [
            [0.0, 0.0],
            [10.0, 0.0],
            [10.0, 4.0],
            [4.0, 4.0],
            [4.0, 10.0],
            [0.0, 10.0],
        ];
        assert!(contains(&l, 2.0, 2.0));
        assert!(contains(&l, 8.0, 2.0));
        assert!(contains(&l, 2.0, 8.0));
        assert!(!contains(&l, 8.0, 8.0), "the notch is outside");
        assert!(!contains(&l, -1.0, 2.0));
    }
}
