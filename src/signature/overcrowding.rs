//! Overcrowding: a vessel carrying more people than its size allows.
//!
//! Persons count as aboard when `area(person ∩ vessel) / area(person) >=
//! min_overlap`. The rule holds for a vessel track when the count reaches
//! `max_persons`, or when the density (persons per square metre of the
//! vessel's box on the ground) reaches `max_density`.
//!
//! Density needs the vessel's size on the ground. From, first found:
//! `gsd_m_per_px` in the config (a fixed scale); a drone frame's camera
//! model, which maps the vessel's box to the ground (so an oblique view's
//! perspective is accounted for) and also gives its length in metres; or
//! the frame's ground sample distance (a raster's geotransform). Without
//! any, only the count applies, and each hit says so. Each hit says which
//! limit tripped it. The box is axis-aligned, so for a vessel lying
//! diagonally the area is overestimated and the density is a lower bound.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    contents, defaults, resolve_classes, ClassLists, ClassRoles, Common, Hit, ScoreGate, Signature,
    SignatureError, SignatureKind,
};
use crate::frame::FrameMeta;
use crate::track::Track;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OvercrowdingConfig {
    pub name: Option<String>,
    /// Classes counted as people aboard.
    #[serde(default = "default_persons")]
    pub persons: Vec<String>,
    /// Classes of vessels.
    #[serde(default = "default_vessels")]
    pub vessels: Vec<String>,
    /// Persons aboard at which the rule holds.
    pub max_persons: Option<usize>,
    /// Persons per square metre at which the rule holds (needs the ground
    /// sample distance).
    pub max_density: Option<f64>,
    /// Metres per pixel on the ground; overrides what the frame reports.
    pub gsd_m_per_px: Option<f64>,
    #[serde(default = "defaults::min_overlap")]
    pub min_overlap: f64,
    #[serde(default = "defaults::min_duration")]
    pub min_duration: f64,
    #[serde(default = "defaults::grace")]
    pub grace: f64,
    pub min_score: Option<f64>,
    #[serde(default)]
    pub scores: BTreeMap<String, f64>,
}

fn default_persons() -> Vec<String> {
    vec!["person".into()]
}

fn default_vessels() -> Vec<String> {
    vec!["vessel".into()]
}

impl SignatureKind for OvercrowdingConfig {
    fn common(&self) -> Common<'_> {
        super::common_settings!(self)
    }

    fn validate(&self, key: &str) -> Result<(), SignatureError> {
        let invalid =
            |what: &str, message: &str| SignatureError::invalid(format!("{key}.{what}"), message);
        if self.persons.is_empty() {
            return Err(invalid("persons", "name at least one class"));
        }
        if self.vessels.is_empty() {
            return Err(invalid("vessels", "name at least one class"));
        }
        match (self.max_persons, self.max_density) {
            (None, None) => {
                return Err(invalid(
                    "max_persons",
                    "set max_persons, max_density or both",
                ))
            }
            (Some(0), _) => return Err(invalid("max_persons", "must be at least 1")),
            (_, Some(d)) if !(d > 0.0 && d.is_finite()) => {
                return Err(invalid("max_density", "must be a positive number"))
            }
            _ => {}
        }
        if let Some(g) = self.gsd_m_per_px {
            if !(g > 0.0 && g.is_finite()) {
                return Err(invalid("gsd_m_per_px", "must be a positive number"));
            }
        }
        if !(self.min_overlap > 0.0 && self.min_overlap <= 1.0) {
            return Err(invalid("min_overlap", "must be above 0 and at most 1"));
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
        Ok(Arc::new(Overcrowding {
            name,
            persons: resolve_classes(&format!("{key}.persons"), &self.persons, roles)?,
            vessels: resolve_classes(&format!("{key}.vessels"), &self.vessels, roles)?,
            labels: roles.labels().to_vec(),
            max_persons: self.max_persons,
            max_density: self.max_density,
            gsd_m_per_px: self.gsd_m_per_px,
            min_overlap: self.min_overlap as f32,
            gate,
        }))
    }

    fn class_lists(&self) -> Vec<(&'static str, &Vec<String>)> {
        vec![("persons", &self.persons), ("vessels", &self.vessels)]
    }

    fn class_lists_mut(&mut self) -> ClassLists<'_> {
        ClassLists {
            lists: vec![
                ("persons", &mut self.persons),
                ("vessels", &mut self.vessels),
            ],
            scores: &mut self.scores,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Overcrowding {
    name: String,
    persons: Vec<usize>,
    vessels: Vec<usize>,
    labels: Vec<String>,
    max_persons: Option<usize>,
    max_density: Option<f64>,
    gsd_m_per_px: Option<f64>,
    min_overlap: f32,
    gate: ScoreGate,
}

impl Signature for Overcrowding {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "overcrowding"
    }

    fn subjects(&self) -> &[usize] {
        &self.persons
    }

    fn observe(&self, frame: &FrameMeta, tracks: &[Track]) -> Vec<Hit> {
        let aboard = contents(
            tracks,
            &self.gate,
            &self.vessels,
            &self.persons,
            self.min_overlap,
        );
        let mut hits = Vec::new();
        for (v, ids) in aboard {
            let count = ids.len();
            let (area_m2, length_m) = match (self.gsd_m_per_px, &frame.ground) {
                (Some(g), _) => (Some(f64::from(v.bbox.area()) * g * g), None),
                (None, Some(ground)) => match ground.model.box_size(&v.bbox) {
                    Some(s) => (Some(s.area_m2), Some(s.length_m)),
                    None => (None, None),
                },
                (None, None) => (
                    frame.gsd_m_per_px.map(|g| f64::from(v.bbox.area()) * g * g),
                    None,
                ),
            };
            let density = area_m2.filter(|&a| a > 0.0).map(|a| count as f64 / a);
            let by_count = self.max_persons.is_some_and(|m| count >= m);
            let by_density = matches!((density, self.max_density), (Some(d), Some(m)) if d >= m);
            if count == 0 || !(by_count || by_density) {
                continue;
            }
            let class = crate::detect::class_name(&self.labels, v.class_id);
            let mut reason = format!("{count} person(s) on {class} #{}", v.id);
            if let Some(m) = self.max_persons {
                reason.push_str(&format!(", limit {m}"));
            }
            match (length_m, area_m2) {
                (Some(l), Some(a)) => reason.push_str(&format!(" ({l:.1} m long, {a:.1} m²)")),
                (None, Some(a)) => reason.push_str(&format!(" ({a:.1} m²)")),
                _ => {}
            }
            match (density, self.max_density) {
                (Some(d), Some(m)) => {
                    reason.push_str(&format!(", {d:.3} per m² (limit {m})"));
                }
                (Some(d), None) => reason.push_str(&format!(", {d:.3} per m²")),
                (None, _) => reason.push_str("; density unknown: no ground sample distance"),
            }
            reason.push_str(match (by_count, by_density) {
                (true, true) => "; tripped by count and density",
                (true, false) => "; tripped by count",
                _ => "; tripped by density",
            });
            hits.push(Hit {
                group: format!("track:{}", v.id),
                anchor: Some(v.id),
                subjects: ids,
                density,
                area_m2,
                length_m,
                reason,
            });
        }
        hits
    }
}
