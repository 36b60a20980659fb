//! Signatures: the rules that decide what a reviewer should see, from the
//! `[[signature]]` tables that describe them to the rules a run holds.
//!
//! A signature looks at one frame's confirmed tracks and answers with the
//! groups that meet its condition in that frame: a container holding people,
//! a vessel over its limit, a zone with enough objects in it. Rules are pure
//! per-frame functions; time (how long a condition must hold before an event
//! opens, and how long a gap it survives) lives in [`crate::event`], so every
//! kind gets the same hysteresis.
//!
//! This module owns building: [`build`] turns the configured tables (or the
//! built-in defaults of `src/lookout.default.toml`, trimmed to the model's
//! classes) into [`BuiltSignature`]s, resolving class names once, at
//! start-up, and failing with a [`SignatureError`] that names the table.
//!
//! **Adding a kind** takes one file and one line:
//!
//! 1. `src/signature/KIND.rs` with a `KindConfig` serde struct
//!    (`#[serde(deny_unknown_fields)]`, holding the common settings `name`,
//!    `min_duration`, `grace`, `min_score` and `scores` next to its own),
//!    an `impl SignatureKind for KindConfig`, and the rule, an
//!    `impl Signature` whose `kind()` is the tag below;
//! 2. `pub mod KIND;` and one line `"KIND" => Kind(KIND::KindConfig),` in
//!    the [`signature_kinds!`] list below, which generates the `kind`-tagged
//!    [`SignatureConfig`] enum and its dispatch.
//!
//! The pipeline, the config and the feeds do not change. Describe the
//! kind's keys in `src/lookout.default.toml`.

pub mod containment;
pub mod overcrowding;
pub mod presence;
pub mod zone;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::frame::FrameMeta;
use crate::geom::BBox;
use crate::track::Track;

/// The commented default config, whose `[[signature]]` tables are the
/// built-in signatures.
const DEFAULT_TOML: &str = include_str!("../lookout.default.toml");

/// A signature table that is wrong, or that does not fit the model.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("invalid setting {key}: {message}")]
    Invalid { key: String, message: String },
    #[error("unknown class {name:?} in {key}; the model's classes are: {known}")]
    UnknownClass {
        key: String,
        name: String,
        known: String,
    },
}

impl SignatureError {
    /// An [`SignatureError::Invalid`] for the setting `key`.
    pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> SignatureError {
        SignatureError::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

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
    /// Length of the anchor on the ground in metres, when known.
    pub length_m: Option<f64>,
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
    /// The classes whose tracks this rule counts (persons, not the
    /// containers or vessels they are in): while one is alive the stream
    /// is busy, and adaptive sampling infers every frame.
    fn subjects(&self) -> &[usize];
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

/// What each kind's `*Config` provides, so that [`SignatureConfig`] can
/// dispatch to it. `key` names the table in errors, e.g.
/// `signature[0] (beds)`; a kind appends its setting: `{key}.containers`.
pub trait SignatureKind {
    /// The settings every kind has.
    fn common(&self) -> Common<'_>;
    /// Checks this kind's own settings; the common ones are checked by
    /// [`SignatureConfig::validate`].
    fn validate(&self, key: &str) -> Result<(), SignatureError>;
    /// Resolves this kind's class names against the model's `labels` (see
    /// [`resolve_classes`]) and builds the rule, named `name`, with the
    /// score gate already built from the common settings.
    fn build(
        &self,
        key: &str,
        name: String,
        labels: &[String],
        gate: ScoreGate,
    ) -> Result<Arc<dyn Signature>, SignatureError>;
    /// The class names of this kind's own lists, each with the list's key
    /// (`scores` is added by [`SignatureConfig::class_names`]).
    fn class_names(&self) -> Vec<(&'static str, &String)>;
    /// Drops class names the model lacks from this kind's lists (see
    /// [`keep_known`]); false when a list the rule needs is left empty.
    fn keep_known_classes(&mut self, labels: &[String]) -> bool;
}

/// The registry of kinds: generates [`SignatureConfig`], tagged by `kind`,
/// with one variant per `"tag" => Variant(Config)` line, and its dispatch to
/// each config's [`SignatureKind`].
macro_rules! signature_kinds {
    ($($tag:tt => $variant:ident($config:ty)),+ $(,)?) => {
        /// A `[[signature]]` table of `lookout.toml`, tagged by `kind`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum SignatureConfig {
            $(
                #[serde(rename = $tag)]
                $variant($config),
            )+
        }

        impl SignatureConfig {
            /// Every kind's `kind` tag, in registry order.
            pub const KINDS: &'static [&'static str] = &[$($tag),+];

            /// The kind: `containment`, `overcrowding`, `zone`, ...
            pub fn kind(&self) -> &'static str {
                match self {
                    $(SignatureConfig::$variant(_) => $tag,)+
                }
            }

            fn as_kind(&self) -> &dyn SignatureKind {
                match self {
                    $(SignatureConfig::$variant(c) => c,)+
                }
            }

            fn as_kind_mut(&mut self) -> &mut dyn SignatureKind {
                match self {
                    $(SignatureConfig::$variant(c) => c,)+
                }
            }
        }

        $(
            impl From<$config> for SignatureConfig {
                fn from(c: $config) -> SignatureConfig {
                    SignatureConfig::$variant(c)
                }
            }
        )+
    };
}

signature_kinds! {
    "containment" => Containment(containment::ContainmentConfig),
    "overcrowding" => Overcrowding(overcrowding::OvercrowdingConfig),
    "zone" => Zone(zone::ZoneConfig),
    "presence" => Presence(presence::PresenceConfig),
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

/// A kind's [`Common`] settings, from the fields every `*Config` spells
/// out under the same names: `fn common(&self) -> Common<'_> {
/// common_settings!(self) }`.
macro_rules! common_settings {
    ($config:expr) => {
        $crate::signature::Common {
            name: &$config.name,
            min_duration: $config.min_duration,
            grace: $config.grace,
            min_score: $config.min_score,
            scores: &$config.scores,
        }
    };
}
pub(crate) use common_settings;

impl SignatureConfig {
    /// The settings every kind has.
    pub fn common(&self) -> Common<'_> {
        self.as_kind().common()
    }

    /// The name events carry: `name`, or the kind when unnamed.
    pub fn name(&self) -> String {
        self.common()
            .name
            .clone()
            .unwrap_or_else(|| self.kind().to_owned())
    }

    /// How errors name the `index`th `[[signature]]` table:
    /// `signature[0] (people-in-container)`.
    pub fn table_key(&self, index: usize) -> String {
        format!("signature[{index}] ({})", self.name())
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

    /// Checks ranges that serde cannot express, naming the table `key`.
    pub fn validate(&self, key: &str) -> Result<(), SignatureError> {
        let c = self.common();
        let invalid =
            |what: &str, message: String| SignatureError::invalid(format!("{key}.{what}"), message);
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
        self.as_kind().validate(key)
    }

    /// Resolves class names against the model's labels and builds the rule.
    /// `default_min_score` applies where neither `scores` nor `min_score`
    /// says otherwise.
    pub fn build(
        &self,
        key: &str,
        labels: &[String],
        default_min_score: f64,
    ) -> Result<Arc<dyn Signature>, SignatureError> {
        self.validate(key)?;
        let gate = ScoreGate::build(key, &self.common(), labels, default_min_score)?;
        self.as_kind().build(key, self.name(), labels, gate)
    }

    /// Every class name the config mentions, with the key it sits under.
    pub fn class_names(&self) -> Vec<(String, &String)> {
        let mut out: Vec<(String, &String)> = self
            .as_kind()
            .class_names()
            .into_iter()
            .map(|(k, n)| (k.to_owned(), n))
            .collect();
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
        let mut c = self.clone();
        c.as_kind_mut().keep_known_classes(labels).then_some(c)
    }
}

/// Keeps the names of `list` that are among `labels`; true when any is left.
pub fn keep_known(list: &mut Vec<String>, labels: &[String]) -> bool {
    list.retain(|n| labels.contains(n));
    !list.is_empty()
}

/// Keeps the `scores` entries of classes among `labels`.
pub fn keep_known_scores(scores: &mut BTreeMap<String, f64>, labels: &[String]) {
    scores.retain(|k, _| labels.contains(k));
}

/// Checks every configured table and that their names are unique.
pub fn validate_all(configs: &[SignatureConfig]) -> Result<(), SignatureError> {
    let mut names = std::collections::BTreeSet::new();
    for (i, sig) in configs.iter().enumerate() {
        let key = sig.table_key(i);
        sig.validate(&key)?;
        if !names.insert(sig.name()) {
            return Err(SignatureError::invalid(
                key,
                format!(
                    "two signatures are named {:?}; give each a unique name",
                    sig.name()
                ),
            ));
        }
    }
    Ok(())
}

/// The built-in signatures: the `[[signature]]` tables of
/// `src/lookout.default.toml`.
pub fn builtin_configs() -> Vec<SignatureConfig> {
    #[derive(Deserialize)]
    struct Tables {
        signature: Vec<SignatureConfig>,
    }
    let tables: Tables = toml::from_str(DEFAULT_TOML).expect("the default config parses");
    tables.signature
}

/// A built signature with its timing and the config it came from.
#[derive(Clone)]
pub struct BuiltSignature {
    pub signature: Arc<dyn Signature>,
    pub timing: Timing,
    pub config: SignatureConfig,
    /// sha256 of the config's canonical JSON.
    pub config_hash: String,
}

/// Builds a run's signatures against the model's class names.
///
/// `configured` is the `[[signature]]` tables, `None` when the config has
/// none (see [`applicable_configs`]); `default_min_score` applies where a
/// table sets neither `scores` nor `min_score`. Configured signatures must
/// name only classes the model has; each error names its table.
pub fn build(
    configured: Option<&[SignatureConfig]>,
    labels: &[String],
    default_min_score: f64,
) -> Result<Vec<BuiltSignature>, SignatureError> {
    let keyed = applicable_configs(configured, labels)?
        .into_iter()
        .enumerate()
        .map(|(i, config)| (config.table_key(i), config))
        .collect();
    build_list(keyed, labels, default_min_score)
}

/// The signature configs that apply: the `configured` tables, or (for
/// `None`) the built-in defaults trimmed to the model's classes. The
/// defaults are lenient: names the model lacks are dropped with a warning,
/// and a rule left without classes is skipped; if nothing is left, that is
/// an error saying how to choose.
pub fn applicable_configs(
    configured: Option<&[SignatureConfig]>,
    labels: &[String],
) -> Result<Vec<SignatureConfig>, SignatureError> {
    if let Some(list) = configured {
        return Ok(list.to_vec());
    }
    let kept: Vec<SignatureConfig> = builtin_configs()
        .iter()
        .filter_map(|s| {
            let kept = s.keep_known_classes(labels);
            if kept.as_ref() != Some(s) {
                let missing: Vec<&String> = s
                    .class_names()
                    .into_iter()
                    .map(|(_, n)| n)
                    .filter(|n| !labels.contains(n))
                    .collect();
                tracing::warn!(
                    signature = %s.name(),
                    ?missing,
                    "{}",
                    if kept.is_some() {
                        "default signature: classes not in the model are left out"
                    } else {
                        "default signature skipped: the model lacks its classes"
                    }
                );
            }
            kept
        })
        .collect();
    if kept.is_empty() {
        return Err(SignatureError::invalid(
            "signature",
            format!(
                "the model has none of the classes the default signatures use; \
                 choose classes with --classes, or write signatures for this model \
                 (`lookout config init` writes a commented example). The model's classes are: {}",
                labels.join(", ")
            ),
        ));
    }
    Ok(kept)
}

/// Builds signature configs, each named in errors by its key.
pub fn build_list(
    configs: Vec<(String, SignatureConfig)>,
    labels: &[String],
    default_min_score: f64,
) -> Result<Vec<BuiltSignature>, SignatureError> {
    configs
        .into_iter()
        .map(|(key, config)| {
            let signature = config.build(&key, labels, default_min_score)?;
            let (_, config_hash) = config.fingerprint();
            Ok(BuiltSignature {
                signature,
                timing: config.timing(),
                config,
                config_hash,
            })
        })
        .collect()
}

/// Resolves class names to model class ids, naming the config key and the
/// model's classes when a name is unknown.
pub fn resolve_classes(
    key: &str,
    names: &[String],
    labels: &[String],
) -> Result<Vec<usize>, SignatureError> {
    names
        .iter()
        .map(|name| {
            labels
                .iter()
                .position(|l| l == name)
                .ok_or_else(|| SignatureError::UnknownClass {
                    key: key.to_owned(),
                    name: name.clone(),
                    known: labels.join(", "),
                })
        })
        .collect()
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
    ) -> Result<ScoreGate, SignatureError> {
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

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn resolving_unknown_class_lists_known_ones() {
        let labels = vec!["person".to_string(), "boat".to_string()];
        assert_eq!(
            resolve_classes("k", &["boat".into()], &labels).unwrap(),
            vec![1]
        );
        let err = resolve_classes("flag.classes", &["vessel".into()], &labels)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("vessel") && err.contains("person, boat"),
            "{err}"
        );
    }

    #[test]
    fn builtin_signatures_adapt_to_the_model_or_say_what_to_do() {
        let built = build(None, &names(&["person", "vessel"]), 0.3).unwrap();
        let kinds: Vec<&str> = built.iter().map(|b| b.signature.kind()).collect();
        assert_eq!(kinds, vec!["overcrowding"], "containment needs containers");
        let built = build(None, &names(&["person", "car", "vehicle"]), 0.3).unwrap();
        assert_eq!(built[0].signature.kind(), "containment");
        assert_eq!(
            built[0]
                .config
                .class_names()
                .iter()
                .filter(|(k, _)| k == "containers")
                .count(),
            1,
            "container dropped, vehicle kept"
        );
        let err = build(None, &names(&["cat", "dog"]), 0.3)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("--classes") && err.contains("cat, dog"),
            "{err}"
        );
    }

    #[test]
    fn every_registered_kind_is_its_serde_tag() {
        for kind in SignatureConfig::KINDS {
            match serde_json::from_value::<SignatureConfig>(serde_json::json!({ "kind": kind })) {
                Ok(config) => assert_eq!(config.kind(), *kind),
                Err(e) => assert!(!e.to_string().contains("unknown variant"), "{kind}: {e}"),
            }
        }
        for config in builtin_configs() {
            let (value, _) = config.fingerprint();
            assert_eq!(value["kind"], config.kind());
            let built = config.build(
                "k",
                &names(&["person", "vessel", "container", "vehicle"]),
                0.3,
            );
            assert_eq!(built.unwrap().kind(), config.kind());
        }
        let presence = SignatureConfig::from(presence::PresenceConfig::of(names(&["person"])));
        assert_eq!(presence.kind(), "presence");
    }

    /// The first built-in signature as events recorded it before the
    /// registry existed, and its hash.
    const GOLDEN_JSON: &str = "{\"containers\":[\"container\",\"vehicle\"],\"grace\":1.0,\"kind\":\"containment\",\"min_count\":1,\"min_duration\":1.0,\"min_overlap\":0.6,\"min_score\":null,\"name\":\"people-in-container\",\"scores\":{},\"subjects\":[\"person\"]}";
    const GOLDEN_HASH: &str = "a43e04c90a797877c80e66dc679889882dc47a5b590cface883f493b2d1e3648";

    #[test]
    fn config_hashes_are_those_events_recorded_before() {
        let (value, hash) = builtin_configs()[0].fingerprint();
        assert_eq!(value.to_string(), GOLDEN_JSON);
        assert_eq!(hash, GOLDEN_HASH);
    }

    #[test]
    fn trimming_to_the_model_keeps_or_skips_whole_rules() {
        let containment = &builtin_configs()[0];
        let kept = containment
            .keep_known_classes(&names(&["person", "vehicle"]))
            .unwrap();
        let classes: Vec<(String, &String)> = kept.class_names();
        assert!(
            classes
                .iter()
                .all(|(_, n)| *n == "person" || *n == "vehicle"),
            "{classes:?}"
        );
        assert!(containment
            .keep_known_classes(&names(&["person"]))
            .is_none());
    }

    #[test]
    fn duplicate_names_are_rejected_with_the_table_key() {
        let p = SignatureConfig::from(presence::PresenceConfig::of(names(&["person"])));
        let err = validate_all(&[p.clone(), p]).unwrap_err().to_string();
        assert!(
            err.contains("signature[1] (presence)") && err.contains("unique"),
            "{err}"
        );
    }
}
