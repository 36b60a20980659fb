//! Presence: flag a frame when a detection of a chosen class scores at least
//! a threshold. The simplest rule, kept for plain "show me every person" use.

use super::{Flag, Signature};
use crate::config::{resolve_classes, ConfigError, PresenceConfig};
use crate::detect::Detection;
use crate::frame::FrameMeta;

#[derive(Debug, Clone)]
pub struct Presence {
    class_ids: Vec<usize>,
    labels: Vec<String>,
    min_score: f32,
}

impl PresenceConfig {
    /// Resolves class names against the model's labels. Unknown names are an
    /// error, except in the built-in default list, where they are skipped
    /// with a warning (a COCO model has no `vessel`); a default list that
    /// matches nothing is still an error.
    pub fn build(
        &self,
        labels: &[String],
        default_min_score: f64,
    ) -> Result<Presence, ConfigError> {
        let names: Vec<String> = if self.classes_are_default {
            let (known, unknown): (Vec<_>, Vec<_>) = self
                .classes
                .iter()
                .cloned()
                .partition(|c| labels.contains(c));
            if !unknown.is_empty() {
                tracing::warn!(classes = ?unknown, "default flag classes not in the model; skipping them");
            }
            if known.is_empty() {
                return Err(ConfigError::Invalid {
                    key: "flag.classes",
                    message: format!(
                        "none of the default classes ({}) is in the model; choose some with --classes from: {}",
                        self.classes.join(", "),
                        labels.join(", ")
                    ),
                });
            }
            known
        } else {
            self.classes.clone()
        };
        let class_ids = resolve_classes("flag.classes", &names, labels)?;
        Ok(Presence {
            class_ids,
            labels: labels.to_vec(),
            min_score: self.min_score.unwrap_or(default_min_score) as f32,
        })
    }
}

impl Presence {
    pub fn class_names(&self) -> Vec<String> {
        self.class_ids
            .iter()
            .map(|&i| self.labels[i].clone())
            .collect()
    }
}

impl Signature for Presence {
    fn id(&self) -> &str {
        "presence"
    }

    fn observe(&mut self, _frame: &FrameMeta, detections: &[Detection]) -> Vec<Flag> {
        let hits: Vec<usize> = detections
            .iter()
            .enumerate()
            .filter(|(_, d)| d.score >= self.min_score && self.class_ids.contains(&d.class_id))
            .map(|(i, _)| i)
            .collect();
        if hits.is_empty() {
            return Vec::new();
        }
        let mut counts: Vec<(usize, usize)> = Vec::new();
        for &i in &hits {
            let c = detections[i].class_id;
            match counts.iter_mut().find(|(id, _)| *id == c) {
                Some((_, n)) => *n += 1,
                None => counts.push((c, 1)),
            }
        }
        let reason = counts
            .iter()
            .map(|(c, n)| format!("{n} {}", crate::detect::class_name(&self.labels, *c)))
            .collect::<Vec<_>>()
            .join(", ");
        vec![Flag {
            signature: "presence".into(),
            detections: hits,
            reason: format!("{reason} >= {:.2}", self.min_score),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::BBox;

    fn labels() -> Vec<String> {
        ["person", "boat", "car"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn flags_only_configured_classes_above_score() {
        let cfg = PresenceConfig {
            classes: vec!["person".into()],
            min_score: Some(0.5),
            classes_are_default: false,
        };
        let mut p = cfg.build(&labels(), 0.3).unwrap();
        let d = |class_id, score| Detection {
            class_id,
            score,
            bbox: BBox::new(0.0, 0.0, 1.0, 1.0),
        };
        let meta = FrameMeta {
            source_id: 0,
            seq: 0,
            frame_index: 0,
            pts_s: None,
            width: 1,
            height: 1,
        };
        assert!(p.observe(&meta, &[d(0, 0.4), d(1, 0.9)]).is_empty());
        let flags = p.observe(&meta, &[d(0, 0.6), d(1, 0.9), d(0, 0.7)]);
        assert_eq!(flags.len(), 1);
        assert_eq!(flags[0].detections, vec![0, 2]);
        assert_eq!(flags[0].reason, "2 person >= 0.50");
    }

    #[test]
    fn explicit_unknown_class_fails_but_default_is_lenient() {
        let explicit = PresenceConfig {
            classes: vec!["vessel".into()],
            min_score: None,
            classes_are_default: false,
        };
        assert!(explicit.build(&labels(), 0.3).is_err());
        let p = PresenceConfig::default().build(&labels(), 0.3).unwrap();
        assert_eq!(p.class_names(), vec!["person"]);
    }
}
