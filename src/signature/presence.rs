//! Presence: a class seen above a score. The simplest rule, kept for plain
//! "show me every person" use (`lookout screen --classes person`). Each
//! class is its own group, so a sortie with people in view for two minutes
//! is one event, not a frame per detection.

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
pub struct PresenceConfig {
    pub name: Option<String>,
    pub classes: Vec<String>,
    #[serde(default = "defaults::min_duration")]
    pub min_duration: f64,
    #[serde(default = "defaults::grace")]
    pub grace: f64,
    pub min_score: Option<f64>,
    #[serde(default)]
    pub scores: BTreeMap<String, f64>,
}

impl PresenceConfig {
    /// Presence of `classes`, opening at the first sighting: what
    /// `--classes` asks for.
    pub fn of(classes: Vec<String>) -> PresenceConfig {
        PresenceConfig {
            name: None,
            classes,
            min_duration: 0.0,
            grace: defaults::grace(),
            min_score: None,
            scores: BTreeMap::new(),
        }
    }
}

impl SignatureKind for PresenceConfig {
    fn common(&self) -> Common<'_> {
        super::common_settings!(self)
    }

    fn validate(&self, key: &str) -> Result<(), SignatureError> {
        if self.classes.is_empty() {
            return Err(SignatureError::invalid(
                format!("{key}.classes"),
                "name at least one class",
            ));
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
        Ok(Arc::new(Presence {
            name,
            classes: resolve_classes(&format!("{key}.classes"), &self.classes, roles)?,
            labels: roles.labels().to_vec(),
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
pub struct Presence {
    name: String,
    classes: Vec<usize>,
    labels: Vec<String>,
    gate: ScoreGate,
}

impl Signature for Presence {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "presence"
    }

    fn subjects(&self) -> &[usize] {
        &self.classes
    }

    fn observe(&self, _frame: &FrameMeta, tracks: &[Track]) -> Vec<Hit> {
        let seen = self.gate.select(tracks, &self.classes);
        self.classes
            .iter()
            .filter_map(|&c| {
                let mut ids: Vec<u64> = seen
                    .iter()
                    .filter(|t| t.class_id == c)
                    .map(|t| t.id)
                    .collect();
                if ids.is_empty() {
                    return None;
                }
                ids.sort_unstable();
                let class = crate::detect::class_name(&self.labels, c);
                Some(Hit {
                    group: format!("class:{class}"),
                    anchor: None,
                    reason: format!("{} {class} >= {:.2}", ids.len(), self.gate.min_score(c)),
                    subjects: ids,
                    density: None,
                    area_m2: None,
                    length_m: None,
                })
            })
            .collect()
    }
}
