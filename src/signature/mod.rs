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

pub use crate::detect::roles::ClassRoles;
use crate::detect::roles::Role;
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
    #[error("unknown class {name:?} in {key}: it is neither a role (person, vessel, vehicle, container) nor a class of the model, whose classes are: {known}")]
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
    /// Resolves this kind's class lists against the model's classes and
    /// their roles (see [`resolve_classes`]) and builds the rule, named
    /// `name`, with the score gate already built from the common settings.
    fn build(
        &self,
        key: &str,
        name: String,
        roles: &ClassRoles,
        gate: ScoreGate,
    ) -> Result<Arc<dyn Signature>, SignatureError>;
    /// This kind's class lists (roles or class names), each with its key,
    /// in the order the table spells them. Every list is required: a rule
    /// with an empty one cannot run.
    fn class_lists(&self) -> Vec<(&'static str, &Vec<String>)>;
    /// The same lists, and the `scores` map, to trim to the model.
    fn class_lists_mut(&mut self) -> ClassLists<'_>;
}

/// A kind's class lists and its `scores` map, borrowed for trimming (see
/// [`SignatureConfig::fit_to_model`]).
pub struct ClassLists<'a> {
    pub lists: Vec<(&'static str, &'a mut Vec<String>)>,
    pub scores: &'a mut BTreeMap<String, f64>,
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

    /// Resolves class lists against the model's classes and their roles,
    /// and builds the rule. `default_min_score` applies where neither
    /// `scores` nor `min_score` says otherwise.
    pub fn build(
        &self,
        key: &str,
        roles: &ClassRoles,
        default_min_score: f64,
    ) -> Result<Arc<dyn Signature>, SignatureError> {
        self.validate(key)?;
        let gate = ScoreGate::build(key, &self.common(), roles, default_min_score)?;
        self.as_kind().build(key, self.name(), roles, gate)
    }

    /// Every class name or role the config mentions, with the key it sits
    /// under.
    pub fn class_names(&self) -> Vec<(String, &String)> {
        let mut out: Vec<(String, &String)> = self
            .as_kind()
            .class_lists()
            .into_iter()
            .flat_map(|(k, list)| list.iter().map(move |n| (k.to_owned(), n)))
            .collect();
        out.extend(
            self.common()
                .scores
                .keys()
                .map(|n| ("scores".to_owned(), n)),
        );
        out
    }

    /// Fits the rule to the model: drops the roles no class of the model
    /// has (a COCO model has no `container`), from the class lists and
    /// from `scores`. Class names the model lacks are kept, so that
    /// building names the typo. Returns the rule that is left, or, when a
    /// list is left empty, why it cannot run; and the roles dropped.
    pub fn fit_to_model(&self, roles: &ClassRoles) -> Fitted {
        let mut c = self.clone();
        let lists = c.as_kind_mut().class_lists_mut();
        let unmapped = |n: &String| Role::parse(n).is_some() && roles.resolve(n).is_empty();
        let mut dropped = Vec::new();
        let mut empty = None;
        for (key, list) in lists.lists {
            let before = list.clone();
            list.retain(|n| !unmapped(n));
            for n in before.iter().filter(|n| unmapped(n)) {
                if !dropped.contains(n) {
                    dropped.push(n.clone());
                }
            }
            if list.is_empty() && empty.is_none() {
                empty = Some((key, before));
            }
        }
        lists.scores.retain(|n, _| !unmapped(n));

        let outcome = match empty {
            None => Ok(c),
            Some((key, names)) => Err(format!(
                "no class of the model maps to {} (its {key})",
                names.join(" or ")
            )),
        };
        Fitted { outcome, dropped }
    }
}

/// A signature fitted to a model (see [`SignatureConfig::fit_to_model`]).
pub struct Fitted {
    /// The rule that runs, or why it cannot.
    pub outcome: Result<SignatureConfig, String>,
    /// The roles dropped from its lists because no class maps to them.
    pub dropped: Vec<String>,
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

/// Builds a run's signatures against the model's classes and their roles.
///
/// `configured` is the `[[signature]]` tables, `None` when the config has
/// none (see [`applicable_configs`]); `default_min_score` applies where a
/// table sets neither `scores` nor `min_score`. A class name the model
/// lacks is an error that names its table.
pub fn build(
    configured: Option<&[SignatureConfig]>,
    roles: &ClassRoles,
    default_min_score: f64,
) -> Result<Vec<BuiltSignature>, SignatureError> {
    let keyed = applicable_configs(configured, roles)?
        .into_iter()
        .enumerate()
        .map(|(i, config)| (config.table_key(i), config))
        .collect();
    build_list(keyed, roles, default_min_score)
}

/// What each signature of `configured` (the built-in defaults for `None`)
/// can do with the model, one line each: the classes it will count, or
/// why it cannot run. `lookout inspect` prints these.
pub fn drivable(configured: Option<&[SignatureConfig]>, roles: &ClassRoles) -> Vec<String> {
    let all = configured.map_or_else(builtin_configs, <[_]>::to_vec);
    all.iter()
        .map(|s| match s.fit_to_model(roles).outcome {
            Err(why) => format!("{}: cannot run: {why}", s.name()),
            Ok(fitted) => {
                let lists: Vec<String> = fitted
                    .as_kind()
                    .class_lists()
                    .into_iter()
                    .map(|(key, list)| {
                        let classes: Vec<&str> = list
                            .iter()
                            .flat_map(|n| roles.resolve(n))
                            .map(|id| roles.labels()[id].as_str())
                            .collect();
                        format!("{key} {}", classes.join(", "))
                    })
                    .collect();
                format!("{}: runs with {}", s.name(), lists.join("; "))
            }
        })
        .collect()
}

/// The signature configs that apply: the `configured` tables, or (for
/// `None`) the built-in defaults, each fitted to the model's classes (see
/// [`SignatureConfig::fit_to_model`]). Roles no class maps to are left
/// out, and a rule left without classes is skipped; each with a warning
/// saying why. Only a model that drives no signature at all is an error,
/// which says how to choose.
pub fn applicable_configs(
    configured: Option<&[SignatureConfig]>,
    roles: &ClassRoles,
) -> Result<Vec<SignatureConfig>, SignatureError> {
    let all = configured.map_or_else(builtin_configs, <[_]>::to_vec);
    let mut kept = Vec::new();
    let mut cannot = Vec::new();
    for s in &all {
        let fitted = s.fit_to_model(roles);
        match fitted.outcome {
            Ok(c) => {
                if !fitted.dropped.is_empty() {
                    tracing::warn!(
                        "signature {} runs without {}: no class of the model maps to {}",
                        s.name(),
                        fitted.dropped.join(" or "),
                        if fitted.dropped.len() == 1 {
                            "it"
                        } else {
                            "them"
                        }
                    );
                }
                kept.push(c);
            }
            Err(why) => {
                let why = format!("{}: {why}", s.name());
                tracing::warn!("signature cannot run: {why}");
                cannot.push(why);
            }
        }
    }
    if kept.is_empty() {
        return Err(SignatureError::invalid(
            "signature",
            format!(
                "the model drives no signature ({}). Its classes are: {}. \
                 Map its classes to roles (person, vessel, vehicle, container) with [roles] \
                 in lookout.toml, choose classes with --classes, or write signatures for it \
                 (`lookout config init` writes a commented example)",
                cannot.join("; "),
                roles.labels().join(", ")
            ),
        ));
    }
    Ok(kept)
}

/// Builds signature configs, each named in errors by its key.
pub fn build_list(
    configs: Vec<(String, SignatureConfig)>,
    roles: &ClassRoles,
    default_min_score: f64,
) -> Result<Vec<BuiltSignature>, SignatureError> {
    configs
        .into_iter()
        .map(|(key, config)| {
            let signature = config.build(&key, roles, default_min_score)?;
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

/// Resolves a signature's list of roles and class names to the model's
/// class ids (see [`ClassRoles::resolve`]), naming the config key and the
/// model's classes when a name is neither.
pub fn resolve_classes(
    key: &str,
    names: &[String],
    roles: &ClassRoles,
) -> Result<Vec<usize>, SignatureError> {
    let mut ids = Vec::new();
    for name in names {
        let found = roles.resolve(name);
        if found.is_empty() {
            return Err(SignatureError::UnknownClass {
                key: key.to_owned(),
                name: name.clone(),
                known: roles.labels().join(", "),
            });
        }
        ids.extend(found);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
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
        roles: &ClassRoles,
        default_min_score: f64,
    ) -> Result<ScoreGate, SignatureError> {
        // A role's score applies to each class it maps; a class named
        // itself wins over its role (its entries come last, and the last
        // entry of a class is the one that counts).
        let mut per_class = Vec::new();
        for by_role in [true, false] {
            for (name, &s) in common.scores {
                if Role::parse(name).is_some() == by_role {
                    let key = format!("{key}.scores");
                    let ids = resolve_classes(&key, std::slice::from_ref(name), roles)?;
                    per_class.extend(ids.into_iter().map(|id| (id, s as f32)));
                }
            }
        }
        Ok(ScoreGate {
            default: common.min_score.unwrap_or(default_min_score) as f32,
            per_class,
        })
    }

    pub fn min_score(&self, class_id: usize) -> f32 {
        self.per_class
            .iter()
            .rfind(|(id, _)| *id == class_id)
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

    fn roles_of(labels: &[&str]) -> ClassRoles {
        ClassRoles::new(&names(labels), &crate::detect::roles::RoleTable::builtin())
    }

    #[test]
    fn resolving_unknown_class_lists_known_ones() {
        let roles = roles_of(&["person", "boat"]);
        assert_eq!(
            resolve_classes("k", &["boat".into()], &roles).unwrap(),
            vec![1]
        );
        assert_eq!(
            resolve_classes("k", &["vessel".into()], &roles).unwrap(),
            vec![1]
        );
        let err = resolve_classes("flag.classes", &["bicycle".into()], &roles)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"bicycle\"")
                && err.contains("neither a role")
                && err.contains("person, boat"),
            "{err}"
        );
    }

    fn kinds(built: &[BuiltSignature]) -> Vec<&'static str> {
        built.iter().map(|b| b.signature.kind()).collect()
    }

    #[test]
    fn builtin_signatures_adapt_to_the_model_or_say_what_to_do() {
        let built = build(None, &roles_of(&["person", "vessel"]), 0.3).unwrap();
        assert_eq!(
            kinds(&built),
            vec!["overcrowding"],
            "containment needs containers"
        );
        let built = build(None, &roles_of(&["person", "car", "vehicle"]), 0.3).unwrap();
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
        let err = build(None, &roles_of(&["cat", "dog"]), 0.3)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("--classes")
                && err.contains("[roles]")
                && err.contains("cat, dog")
                && err.contains("people-in-container: no class of the model maps to person")
                && err.contains("overcrowded-vessel: no class of the model maps to person"),
            "{err}"
        );
    }

    #[test]
    fn default_signatures_run_on_models_of_the_common_datasets() {
        let coco = roles_of(&["person", "bicycle", "car", "bus", "truck", "boat"]);
        let built = build(None, &coco, 0.3).unwrap();
        assert_eq!(kinds(&built), vec!["containment", "overcrowding"]);
        let lines = drivable(None, &coco);
        assert_eq!(
            lines,
            vec![
                "people-in-container: runs with subjects person; containers truck",
                "overcrowded-vessel: runs with persons person; vessels boat",
            ]
        );
        // VisDrone: two person classes, no vessel.
        let visdrone = roles_of(&crate::eval::gt::VISDRONE_CATEGORIES);
        let built = build(None, &visdrone, 0.3).unwrap();
        assert_eq!(kinds(&built), vec!["containment"]);
        assert_eq!(
            drivable(None, &visdrone)[1],
            "overcrowded-vessel: cannot run: no class of the model maps to vessel (its vessels)"
        );
        // SeaDronesSee: swimmers and boats.
        let sds = roles_of(&[
            "ignored",
            "swimmer",
            "boat",
            "jetski",
            "life_saving_appliances",
            "buoy",
        ]);
        assert_eq!(
            kinds(&build(None, &sds, 0.3).unwrap()),
            vec!["overcrowding"]
        );
        // DOTA has no person: it drives nothing, and says why.
        let dota = roles_of(&[
            "plane",
            "ship",
            "storage-tank",
            "large-vehicle",
            "small-vehicle",
        ]);
        let err = build(None, &dota, 0.3).err().unwrap().to_string();
        assert!(err.contains("drives no signature"), "{err}");
    }

    #[test]
    fn configured_roles_are_fitted_and_class_names_stay_strict() {
        let coco = roles_of(&["person", "truck", "boat"]);
        let configured: Vec<SignatureConfig> = builtin_configs();
        // The defaults written out (what `lookout config init` gives) run
        // as the built-in ones do: `container` is dropped.
        let built = build(Some(&configured), &coco, 0.3).unwrap();
        assert_eq!(kinds(&built), vec!["containment", "overcrowding"]);
        // A class name the model lacks is a typo, not a missing role.
        let typo = SignatureConfig::from(presence::PresenceConfig::of(names(&["persn"])));
        let err = build(Some(&[typo]), &coco, 0.3).err().unwrap().to_string();
        assert!(
            err.contains("signature[0] (presence).classes") && err.contains("\"persn\""),
            "{err}"
        );
        // Scores by role reach each class of the role; a class's own wins.
        let mut p = presence::PresenceConfig::of(names(&["vessel", "person"]));
        p.scores = [
            ("vessel".to_owned(), 0.7),
            ("boat".to_owned(), 0.6),
            ("person".to_owned(), 0.2),
        ]
        .into_iter()
        .collect();
        let gate = ScoreGate::build("k", &SignatureConfig::from(p).common(), &coco, 0.3).unwrap();
        assert_eq!(gate.min_score(2), 0.6);
        assert_eq!(gate.min_score(0), 0.2);
        assert_eq!(gate.min_score(1), 0.3);
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
                &roles_of(&["person", "vessel", "container", "vehicle"]),
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
        let fitted = containment.fit_to_model(&roles_of(&["person", "vehicle"]));
        assert_eq!(fitted.dropped, vec!["container"]);
        let kept = fitted.outcome.unwrap();
        let classes: Vec<(String, &String)> = kept.class_names();
        assert!(
            classes
                .iter()
                .all(|(_, n)| *n == "person" || *n == "vehicle"),
            "{classes:?}"
        );
        let why = containment
            .fit_to_model(&roles_of(&["person"]))
            .outcome
            .unwrap_err();
        assert_eq!(
            why,
            "no class of the model maps to container or vehicle (its containers)"
        );
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
