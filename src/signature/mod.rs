//! Signatures: the rules that decide what a reviewer should see.
//!
//! A signature looks at one frame's confirmed tracks and answers with the
//! groups that meet its condition in that frame: a container holding people,
//! a vessel over its limit, a zone with enough objects in it. Rules are pure
//! per-frame functions; time (how long a condition must hold before an event
//! opens, and how long a gap it survives) lives in [`crate::event`], so every
//! kind gets the same hysteresis. A new kind is one file here plus one
//! variant of [`SignatureConfig`]; the pipeline does not change.
//!
//! Configured in `lookout.toml` as `[[signature]]` tables; see
//! `src/lookout.default.toml` for every key with comments.

pub mod containment;
pub mod overcrowding;
pub mod presence;
pub mod zone;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::{resolve_classes, ConfigError};
use crate::frame::FrameMeta;
use crate::geom::BBox;
use crate::track::Track;

/// One group that meets a signature's condition in one frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// Stable key of the group across frames: `track:12` for the container
    /// or vessel track 12, `zone:dock`, `class:person`.
    pub group: String,
    /// The track that anchors the group (the container or vessel), if any.
    pub anchor: Option<u64>,
    /// The tracks counted (people inside, objects in the zone).
    pub subjects: Vec<u64>,
    /// Persons per square metre of vessel area, when the ground sample
    /// distance is known.
    pub density: Option<f64>,
    /// Area of the anchor on the ground in square metres, when known.
    pub area_m2: Option<f64>,
    /// One line for humans, e.g. `6 person on vessel #3 (limit 6)`.
    pub reason: String,
}

impl Hit {
    pub fn count(&self) -> usize {
        self.subjects.len()
    }
}

/// A rule over one frame's tracks. Built once per run by
/// [`SignatureConfig::build`], shared by every stream.
pub trait Signature: Send + Sync {
    /// The configured name, unique in a run (event ids start with it).
    fn name(&self) -> &str;
    /// The kind: `containment`, `overcrowding`, `zone` or `presence`.
    fn kind(&self) -> &'static str;
    /// The groups meeting the condition in this frame. `tracks` are the
    /// confirmed tracks matched in this frame.
    fn observe(&self, frame: &FrameMeta, tracks: &[Track]) -> Vec<Hit>;
}

/// How long a condition must hold before its event opens, and how long it
/// may lapse before the event closes. Shared by every kind.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timing {
    /// Seconds the condition must hold (with gaps no longer than `grace`)
    /// before the event opens. Streams without timestamps (still images,
    /// rasters) open on the first frame that meets the condition.
    pub min_duration: f64,
    /// Seconds the condition may lapse before the event closes.
    pub grace: f64,
}

/// A `[[signature]]` table of `lookout.toml`, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SignatureConfig {
    Containment(containment::ContainmentConfig),
    Overcrowding(overcrowding::OvercrowdingConfig),
    Zone(zone::ZoneConfig),
    Presence(presence::PresenceConfig),
}

/// Settings every kind has. They are spelled out in each kind's struct
/// (serde cannot flatten and reject unknown keys at once) and gathered here.
#[derive(Debug, Clone, PartialEq)]
pub struct Common<'a> {
    pub name: &'a Option<String>,
    pub min_duration: f64,
    pub grace: f64,
    pub min_score: Option<f64>,
    pub scores: &'a BTreeMap<String, f64>,
}

impl SignatureConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            SignatureConfig::Containment(_) => "containment",
            SignatureConfig::Overcrowding(_) => "overcrowding",
            SignatureConfig::Zone(_) => "zone",
            SignatureConfig::Presence(_) => "presence",
        }
    }

    pub fn common(&self) -> Common<'_> {
        macro_rules! common {
            ($c:expr) => {
                Common {
                    name: &$c.name,
                    min_duration: $c.min_duration,
                    grace: $c.grace,
                    min_score: $c.min_score,
                    scores: &$c.scores,
                }
            };
        }
        match self {
            SignatureConfig::Containment(c) => common!(c),
            SignatureConfig::Overcrowding(c) => common!(c),
            SignatureConfig::Zone(c) => common!(c),
            SignatureConfig::Presence(c) => common!(c),
        }
    }

    /// The name events carry: `name`, or the kind when unnamed.
    pub fn name(&self) -> String {
        self.common()
            .name
            .clone()
            .unwrap_or_else(|| self.kind().to_owned())
    }

    pub fn timing(&self) -> Timing {
        let c = self.common();
        Timing {
            min_duration: c.min_duration,
            grace: c.grace,
        }
    }

    /// The config as events record it, and its hash: sha256 of its
    /// canonical JSON (keys sorted, no whitespace).
    pub fn fingerprint(&self) -> (serde_json::Value, String) {
        // serde_json's map is sorted (no `preserve_order` feature), so this
        // serialisation is canonical.
        let value = serde_json::to_value(self).expect("configs serialise");
        let hash = crate::digest::sha256_hex(value.to_string().as_bytes());
        (value, hash)
    }

    /// Checks ranges that serde cannot express.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let c = self.common();
        let invalid = |what: &str, message: String| ConfigError::Invalid {
            key: format!("{key}.{what}"),
            message,
        };
        for (what, v) in [("min_duration", c.min_duration), ("grace", c.grace)] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(invalid(what, format!("{v} is not a duration in seconds")));
            }
        }
        let unit = |what: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(invalid(what, format!("{v} is not between 0 and 1")))
            }
        };
        if let Some(s) = c.min_score {
            unit("min_score", s)?;
        }
        for (class, &s) in c.scores {
            unit(&format!("scores.{class}"), s)?;
        }
        if let Some(name) = c.name {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            {
                return Err(invalid(
                    "name",
                    format!("{name:?}: use letters, digits, '-' and '_' (it names event folders)"),
                ));
            }
        }
        match self {
            SignatureConfig::Containment(c) => c.validate(key),
            SignatureConfig::Overcrowding(c) => c.validate(key),
            SignatureConfig::Zone(c) => c.validate(key),
            SignatureConfig::Presence(c) => c.validate(key),
        }
    }

    /// Resolves class names against the model's labels and builds the rule.
    /// `default_min_score` applies where neither `scores` nor `min_score`
    /// says otherwise.
    pub fn build(
        &self,
        key: &str,
        labels: &[String],
        default_min_score: f64,
    ) -> Result<Arc<dyn Signature>, ConfigError> {
        self.validate(key)?;
        let name = self.name();
        let gate = ScoreGate::build(key, &self.common(), labels, default_min_score)?;
        Ok(match self {
            SignatureConfig::Containment(c) => Arc::new(c.build(key, name, labels, gate)?),
            SignatureConfig::Overcrowding(c) => Arc::new(c.build(key, name, labels, gate)?),
            SignatureConfig::Zone(c) => Arc::new(c.build(key, name, labels, gate)?),
            SignatureConfig::Presence(c) => Arc::new(c.build(key, name, labels, gate)?),
        })
    }

    /// Every class name the config mentions, with the key it sits under.
    pub fn class_names(&self) -> Vec<(String, &String)> {
        let mut out: Vec<(String, &String)> = Vec::new();
        match self {
            SignatureConfig::Containment(c) => {
                out.extend(c.subjects.iter().map(|n| ("subjects".to_owned(), n)));
                out.extend(c.containers.iter().map(|n| ("containers".to_owned(), n)));
            }
            SignatureConfig::Overcrowding(c) => {
                out.extend(c.persons.iter().map(|n| ("persons".to_owned(), n)));
                out.extend(c.vessels.iter().map(|n| ("vessels".to_owned(), n)));
            }
            SignatureConfig::Zone(c) => {
                out.extend(c.classes.iter().map(|n| ("classes".to_owned(), n)))
            }
            SignatureConfig::Presence(c) => {
                out.extend(c.classes.iter().map(|n| ("classes".to_owned(), n)))
            }
        }
        out.extend(
            self.common()
                .scores
                .keys()
                .map(|n| ("scores".to_owned(), n)),
        );
        out
    }

    /// For the built-in default only: drops class names the model lacks
    /// (a COCO model has no `vessel`). Returns `None` when a list the rule
    /// needs is left empty, so the whole rule is skipped.
    pub fn keep_known_classes(&self, labels: &[String]) -> Option<SignatureConfig> {
        let keep = |v: &[String]| -> Vec<String> {
            v.iter().filter(|n| labels.contains(n)).cloned().collect()
        };
        let mut c = self.clone();
        let non_empty = match &mut c {
            SignatureConfig::Containment(c) => {
                c.subjects = keep(&c.subjects);
                c.containers = keep(&c.containers);
                c.scores.retain(|k, _| labels.contains(k));
                !c.subjects.is_empty() && !c.containers.is_empty()
            }
            SignatureConfig::Overcrowding(c) => {
                c.persons = keep(&c.persons);
                c.vessels = keep(&c.vessels);
                c.scores.retain(|k, _| labels.contains(k));
                !c.persons.is_empty() && !c.vessels.is_empty()
            }
            SignatureConfig::Zone(c) => {
                c.classes = keep(&c.classes);
                c.scores.retain(|k, _| labels.contains(k));
                !c.classes.is_empty()
            }
            SignatureConfig::Presence(c) => {
                c.classes = keep(&c.classes);
                c.scores.retain(|k, _| labels.contains(k));
                !c.classes.is_empty()
            }
        };
        non_empty.then_some(c)
    }
}

/// Per-class minimum scores of one signature, resolved to class ids.
#[derive(Debug, Clone)]
pub struct ScoreGate {
    default: f32,
    per_class: Vec<(usize, f32)>,
}

impl ScoreGate {
    pub fn build(
        key: &str,
        common: &Common<'_>,
        labels: &[String],
        default_min_score: f64,
    ) -> Result<ScoreGate, ConfigError> {
        let names: Vec<String> = common.scores.keys().cloned().collect();
        let ids = resolve_classes(&format!("{key}.scores"), &names, labels)?;
        Ok(ScoreGate {
            default: common.min_score.unwrap_or(default_min_score) as f32,
            per_class: ids
                .into_iter()
                .zip(common.scores.values())
                .map(|(id, &s)| (id, s as f32))
                .collect(),
        })
    }

    pub fn min_score(&self, class_id: usize) -> f32 {
        self.per_class
            .iter()
            .find(|(id, _)| *id == class_id)
            .map_or(self.default, |&(_, s)| s)
    }

    /// Tracks of `classes` whose current score passes the gate.
    pub fn select<'t>(&self, tracks: &'t [Track], classes: &[usize]) -> Vec<&'t Track> {
        tracks
            .iter()
            .filter(|t| classes.contains(&t.class_id) && t.score >= self.min_score(t.class_id))
            .collect()
    }
}

/// Assigns each subject to the anchor box that holds the largest share of
/// it, when that share (`area(subject ∩ anchor) / area(subject)`) is at
/// least `min_overlap`. A subject counts for one anchor only. Returns, per
/// anchor (in order), the indices of its subjects.
pub fn assign_inside(subjects: &[&Track], anchors: &[&Track], min_overlap: f32) -> Vec<Vec<usize>> {
    let mut inside = vec![Vec::new(); anchors.len()];
    for (si, s) in subjects.iter().enumerate() {
        let best = anchors
            .iter()
            .enumerate()
            .filter(|(_, a)| a.id != s.id)
            .map(|(ai, a)| (ai, overlap_share(&s.bbox, &a.bbox)))
            .filter(|&(_, share)| share >= min_overlap)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        if let Some((ai, _)) = best {
            inside[ai].push(si);
        }
    }
    inside
}

/// The anchors (containers, vessels) among `tracks` that pass the gate,
/// each with the sorted ids of the subjects inside it (see
/// [`assign_inside`]).
pub fn contents<'t>(
    tracks: &'t [Track],
    gate: &ScoreGate,
    anchors: &[usize],
    subjects: &[usize],
    min_overlap: f32,
) -> Vec<(&'t Track, Vec<u64>)> {
    let anchors = gate.select(tracks, anchors);
    if anchors.is_empty() {
        return Vec::new();
    }
    let subjects = gate.select(tracks, subjects);
    let inside = assign_inside(&subjects, &anchors, min_overlap);
    anchors
        .into_iter()
        .zip(inside)
        .map(|(a, held)| {
            let mut ids: Vec<u64> = held.iter().map(|&i| subjects[i].id).collect();
            ids.sort_unstable();
            (a, ids)
        })
        .collect()
}

/// `area(a ∩ b) / area(a)`: the share of `a` that lies inside `b`.
pub fn overlap_share(a: &BBox, b: &BBox) -> f32 {
    let area = a.area();
    if area <= 0.0 {
        return 0.0;
    }
    let w = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let h = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    w * h / area
}

/// Serde default helpers shared by the kinds.
pub(crate) mod defaults {
    pub fn min_overlap() -> f64 {
        0.6
    }
    pub fn one() -> usize {
        1
    }
    pub fn min_duration() -> f64 {
        1.0
    }
    pub fn grace() -> f64 {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_share_is_relative_to_the_subject() {
        let person = BBox::new(0.0, 0.0, 10.0, 10.0);
        let container = BBox::new(5.0, 0.0, 100.0, 100.0);
        assert!((overlap_share(&person, &container) - 0.5).abs() < 1e-6);
        assert!(overlap_share(&container, &person) < 0.06);
    }
}
