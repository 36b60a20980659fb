//! Containment: subjects (people) inside containers (shipping containers,
//! truck beds).
//!
//! A subject counts as inside a container when
//! `area(subject ∩ container) / area(subject) >= min_overlap`; a subject
//! inside two overlapping containers counts for the one that holds more of
//! it. The rule holds for a container track while it holds at least
//! `min_count` subjects; each container track is its own group, so two
//! containers give two events.

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
pub struct ContainmentConfig {
    pub name: Option<String>,
    /// Classes counted when inside, e.g. `["person"]`.
    pub subjects: Vec<String>,
    /// Classes that hold them, e.g. `["container", "vehicle"]`.
    pub containers: Vec<String>,
    /// Share of a subject's box that must lie inside the container.
    #[serde(default = "defaults::min_overlap")]
    pub min_overlap: f64,
    /// Subjects a container must hold.
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

impl SignatureKind for ContainmentConfig {
    fn common(&self) -> Common<'_> {
        super::common_settings!(self)
    }

    fn validate(&self, key: &str) -> Result<(), SignatureError> {
        let invalid =
            |what: &str, message: &str| SignatureError::invalid(format!("{key}.{what}"), message);
        if self.subjects.is_empty() {
            return Err(invalid("subjects", "name at least one class"));
        }
        if self.containers.is_empty() {
            return Err(invalid("containers", "name at least one class"));
        }
        if !(self.min_overlap > 0.0 && self.min_overlap <= 1.0) {
            return Err(invalid("min_overlap", "must be above 0 and at most 1"));
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
        Ok(Arc::new(Containment {
            name,
            subjects: resolve_classes(&format!("{key}.subjects"), &self.subjects, roles)?,
            containers: resolve_classes(&format!("{key}.containers"), &self.containers, roles)?,
            labels: roles.labels().to_vec(),
            min_overlap: self.min_overlap as f32,
            min_count: self.min_count,
            gate,
        }))
    }

    fn class_lists(&self) -> Vec<(&'static str, &Vec<String>)> {
        vec![
            ("subjects", &self.subjects),
            ("containers", &self.containers),
        ]
    }

    fn class_lists_mut(&mut self) -> ClassLists<'_> {
        ClassLists {
            lists: vec![
                ("subjects", &mut self.subjects),
                ("containers", &mut self.containers),
            ],
            scores: &mut self.scores,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Containment {
    name: String,
    subjects: Vec<usize>,
    containers: Vec<usize>,
    labels: Vec<String>,
    min_overlap: f32,
    min_count: usize,
    gate: ScoreGate,
}

impl Signature for Containment {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "containment"
    }

    fn subjects(&self) -> &[usize] {
        &self.subjects
    }

    fn observe(&self, _frame: &FrameMeta, tracks: &[Track]) -> Vec<Hit> {
        contents(
            tracks,
            &self.gate,
            &self.containers,
            &self.subjects,
            self.min_overlap,
        )
        .into_iter()
        .filter(|(_, ids)| ids.len() >= self.min_count)
        .map(|(c, ids)| {
            let class = crate::detect::class_name(&self.labels, c.class_id);
            Hit {
                group: format!("track:{}", c.id),
                anchor: Some(c.id),
                reason: format!("{} inside {class} #{}", ids.len(), c.id),
                subjects: ids,
                density: None,
                area_m2: None,
                length_m: None,
            }
        })
        .collect()
    }
}
