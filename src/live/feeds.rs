//! `[[feed]]` tables: the feeds an operations centre watches, each with its
//! own name, address, zones and signature settings.
//!
//! ```toml
//! [[feed]]
//! name = "quay-east"                 # names the feed in alerts, metrics, events
//! url = "rtsp://10.0.0.5/stream1"
//! rtsp_transport = "udp"             # tcp (default) or udp, for rtsp:// only
//! signatures = ["overcrowding"]      # only these [[signature]] tables (default: all)
//!
//! [[feed.zone]]                      # a zone signature for this feed only,
//! name = "slipway"                   # in this feed's pixels
//! polygon = [[0, 400], [1280, 400], [1280, 720], [0, 720]]
//! classes = ["person"]
//!
//! [feed.override.overcrowding]       # this feed's values for a signature's settings
//! max_persons = 6
//! ```
//!
//! A feed's signatures are built once at start-up against the model's
//! classes, so a mistake in any feed stops the watch before it starts, with
//! the key that is wrong.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::signature::zone::ZoneConfig;
use crate::signature::{BuiltSignature, ClassRoles, SignatureConfig, SignatureError};

/// A `[[feed]]` table that is wrong, or whose signatures do not fit the
/// model.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("invalid setting {key}: {message}")]
    Invalid { key: String, message: String },
    #[error("invalid setting {key}: {problem}")]
    Override { key: String, problem: OverrideError },
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// Why a `[feed.override.NAME]` table cannot apply to its signature.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    #[error("{0} cannot be overridden; write another [[signature]] table")]
    Fixed(String),
    #[error("{key}: {error}")]
    Value {
        key: String,
        error: serde_json::Error,
    },
    #[error(transparent)]
    Settings(serde_json::Error),
}

/// How RTSP carries the media: interleaved in the TCP connection (the
/// default: no loss, works through NAT) or as RTP over UDP, which some
/// cameras and servers offer alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RtspTransport {
    #[default]
    Tcp,
    Udp,
}

impl RtspTransport {
    /// The value of FFmpeg's `rtsp_transport` option.
    pub fn ffmpeg_name(self) -> &'static str {
        match self {
            RtspTransport::Tcp => "tcp",
            RtspTransport::Udp => "udp",
        }
    }
}

/// One `[[feed]]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Letters, digits, '-' and '_'; unique among the feeds.
    pub name: String,
    /// rtsp://, udp://@:PORT, tcp://, srt://, http(s)://…m3u8, or a file.
    pub url: String,
    /// For rtsp:// feeds; the command line's `--rtsp-transport` otherwise.
    pub rtsp_transport: Option<RtspTransport>,
    /// For a file: play it again from the start when it ends (a drill).
    /// Without it, a file feed that ends is finished.
    #[serde(default, rename = "loop")]
    pub replay: bool,
    /// The `[[signature]]` tables that apply to this feed, by name
    /// (default: all of them).
    pub signatures: Option<Vec<String>>,
    /// Zone signatures of this feed alone (`kind` is implied).
    #[serde(default)]
    pub zone: Vec<ZoneConfig>,
    /// This feed's values for settings of the `[[signature]]` tables, by
    /// signature name: `[feed.override.NAME]`.
    #[serde(default, rename = "override")]
    pub overrides: BTreeMap<String, toml::Table>,
}

impl FeedConfig {
    /// A feed named on the command line: nothing but its address.
    pub fn from_url(name: String, url: String) -> FeedConfig {
        FeedConfig {
            name,
            url,
            rtsp_transport: None,
            replay: false,
            signatures: None,
            zone: Vec::new(),
            overrides: BTreeMap::new(),
        }
    }

    fn key(&self, index: usize) -> String {
        format!("feed[{index}] ({})", self.name)
    }

    /// The signature configs of this feed: the chosen `[[signature]]`
    /// tables with this feed's overrides applied, then its zones. Each comes
    /// with the key that names it in errors.
    pub fn signature_configs(
        &self,
        index: usize,
        global: &[SignatureConfig],
    ) -> Result<Vec<(String, SignatureConfig)>, FeedError> {
        let key = self.key(index);
        let invalid = |what: String, message: String| FeedError::Invalid {
            key: format!("{key}.{what}"),
            message,
        };
        let names: Vec<String> = global.iter().map(|s| s.name()).collect();
        if let Some(chosen) = &self.signatures {
            for n in chosen {
                if !names.contains(n) {
                    return Err(invalid(
                        "signatures".into(),
                        format!(
                            "no signature is named {n:?}; the signatures are: {}",
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
        for n in self.overrides.keys() {
            if !names.contains(n) {
                return Err(invalid(
                    format!("override.{n}"),
                    format!(
                        "no signature is named {n:?}; the signatures are: {}",
                        names.join(", ")
                    ),
                ));
            }
        }
        let mut out = Vec::new();
        for sig in global {
            let name = sig.name();
            if self.signatures.as_ref().is_some_and(|c| !c.contains(&name)) {
                continue;
            }
            let sig_key = format!("{key}.override.{name}");
            let sig = match self.overrides.get(&name) {
                Some(table) => {
                    apply_override(sig, table).map_err(|problem| FeedError::Override {
                        key: sig_key.clone(),
                        problem,
                    })?
                }
                None => sig.clone(),
            };
            out.push((sig_key, sig));
        }
        for (i, z) in self.zone.iter().enumerate() {
            let sig = SignatureConfig::Zone(z.clone());
            out.push((format!("{key}.zone[{i}] ({})", sig.name()), sig));
        }
        let mut seen = BTreeSet::new();
        for (k, sig) in &out {
            sig.validate(k)?;
            if !seen.insert(sig.name()) {
                return Err(FeedError::Invalid {
                    key: k.clone(),
                    message: format!(
                        "two of this feed's signatures are named {:?}; give each zone a unique name",
                        sig.name()
                    ),
                });
            }
        }
        Ok(out)
    }

    /// Builds this feed's signatures against the model's classes.
    /// `configured` is the config's `[[signature]]` tables (`None`: the
    /// built-in defaults, see [`crate::signature::applicable_configs`]) and
    /// `default_min_score` the score a table without its own applies.
    pub fn build_signatures(
        &self,
        index: usize,
        configured: Option<&[SignatureConfig]>,
        default_min_score: f64,
        roles: &ClassRoles,
    ) -> Result<Vec<BuiltSignature>, FeedError> {
        let global = crate::signature::applicable_configs(configured, roles)?;
        let configs = self.signature_configs(index, &global)?;
        Ok(crate::signature::build_list(
            configs,
            roles,
            default_min_score,
        )?)
    }
}

/// Replaces settings of `sig` with those of `table`. The kind and name
/// cannot change; an unknown setting is an error, as it is in the table.
fn apply_override(
    sig: &SignatureConfig,
    table: &toml::Table,
) -> Result<SignatureConfig, OverrideError> {
    let mut value = serde_json::to_value(sig).expect("configs serialise");
    let object = value
        .as_object_mut()
        .expect("a signature serialises to a map");
    for (k, v) in table {
        if k == "kind" || k == "name" {
            return Err(OverrideError::Fixed(k.clone()));
        }
        let v = serde_json::to_value(v).map_err(|error| OverrideError::Value {
            key: k.clone(),
            error,
        })?;
        object.insert(k.clone(), v);
    }
    serde_json::from_value(value).map_err(OverrideError::Settings)
}

/// Checks what can be checked without the model: names and addresses.
pub fn validate(feeds: &[FeedConfig]) -> Result<(), FeedError> {
    let mut names = BTreeSet::new();
    for (i, f) in feeds.iter().enumerate() {
        let key = f.key(i);
        if f.name.is_empty()
            || !f
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(FeedError::Invalid {
                key: format!("{key}.name"),
                message: format!("{:?}: use letters, digits, '-' and '_'", f.name),
            });
        }
        if !names.insert(f.name.as_str()) {
            return Err(FeedError::Invalid {
                key,
                message: format!("two feeds are named {:?}", f.name),
            });
        }
        if f.url.trim().is_empty() {
            return Err(FeedError::Invalid {
                key: format!("{key}.url"),
                message: "is empty".into(),
            });
        }
        for (j, z) in f.zone.iter().enumerate() {
            SignatureConfig::Zone(z.clone()).validate(&format!("{key}.zone[{j}]"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parts of `lookout.toml` that feeds read, checked as the config
    /// checks them.
    #[derive(Debug, Deserialize, Default)]
    #[serde(default)]
    struct Doc {
        signature: Option<Vec<SignatureConfig>>,
        feed: Vec<FeedConfig>,
    }

    impl Doc {
        fn build(&self, index: usize, labels: &[String]) -> Result<Vec<BuiltSignature>, FeedError> {
            let roles = ClassRoles::new(labels, &crate::detect::roles::RoleTable::builtin());
            self.feed[index].build_signatures(index, self.signature.as_deref(), 0.3, &roles)
        }
    }

    fn parse(toml: &str) -> Result<Doc, Box<dyn std::error::Error>> {
        let c: Doc = toml::from_str(toml)?;
        if let Some(list) = &c.signature {
            crate::signature::validate_all(list)?;
        }
        validate(&c.feed)?;
        Ok(c)
    }

    const SIGNATURES: &str = r#"
[[signature]]
kind = "overcrowding"
persons = ["person"]
vessels = ["vessel"]
max_persons = 10

[[signature]]
kind = "presence"
classes = ["person"]
"#;

    fn labels() -> Vec<String> {
        ["person", "vessel"].map(String::from).to_vec()
    }

    #[test]
    fn a_feed_chooses_overrides_and_adds_zones() {
        let c = parse(&format!(
            "{SIGNATURES}
[[feed]]
name = \"quay-east\"
url = \"rtsp://10.0.0.5/s1\"
rtsp_transport = \"udp\"
signatures = [\"overcrowding\"]
[[feed.zone]]
name = \"slipway\"
polygon = [[0, 0], [10, 0], [10, 10]]
classes = [\"person\"]
[feed.override.overcrowding]
max_persons = 6
min_duration = 0.5

[[feed]]
name = \"north\"
url = \"udp://@:5000\"
"
        ))
        .unwrap();
        assert_eq!(c.feed[0].rtsp_transport, Some(RtspTransport::Udp));
        let east = c.build(0, &labels()).unwrap();
        let names: Vec<_> = east.iter().map(|s| s.signature.name().to_owned()).collect();
        assert_eq!(names, ["overcrowding", "slipway"]);
        match &east[0].config {
            SignatureConfig::Overcrowding(o) => {
                assert_eq!(o.max_persons, Some(6));
                assert_eq!(o.min_duration, 0.5);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(east[0].timing.min_duration, 0.5);
        // The other feed keeps every table as written.
        let north = c.build(1, &labels()).unwrap();
        assert_eq!(north.len(), 2);
        assert_ne!(north[0].config_hash, east[0].config_hash);
        match &north[0].config {
            SignatureConfig::Overcrowding(o) => assert_eq!(o.max_persons, Some(10)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_commented_example_in_the_default_config_works() {
        let toml = include_str!("../lookout.default.toml");
        let at = toml
            .find("# [[feed]]")
            .expect("the default config shows a feed");
        let example: String = toml[at..]
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let c = parse(&format!("{}{example}", &toml[..at])).unwrap();
        let labels: Vec<String> = ["person", "vessel", "container"].map(String::from).to_vec();
        let sigs = c.build(0, &labels).unwrap();
        let names: Vec<_> = sigs.iter().map(|s| s.signature.name().to_owned()).collect();
        assert_eq!(names, ["overcrowded-vessel", "slipway"]);
    }

    #[test]
    fn mistakes_name_the_feed_and_the_key() {
        let err = |extra: &str| {
            let c = parse(&format!(
                "{SIGNATURES}\n[[feed]]\nname = \"cam\"\nurl = \"udp://@:5000\"\n{extra}"
            ));
            match c {
                Err(e) => e.to_string(),
                Ok(c) => c
                    .build(0, &labels())
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default(),
            }
        };
        let e = err("signatures = [\"overcrowd\"]");
        assert!(
            e.contains("feed[0] (cam).signatures") && e.contains("overcrowd"),
            "{e}"
        );
        let e = err("[feed.override.overcrowding]\nmax_person = 3");
        assert!(
            e.contains("feed[0] (cam).override.overcrowding") && e.contains("max_person"),
            "{e}"
        );
        let e = err("[feed.override.presence]\nkind = \"zone\"");
        assert!(e.contains("kind cannot be overridden"), "{e}");
        let e = err("[feed.override.overcrowding]\nmin_duration = -1");
        assert!(e.contains("min_duration"), "{e}");
        let e = err("[[feed.zone]]\nname = \"presence\"\npolygon = [[0,0],[1,0],[1,1]]\nclasses = [\"person\"]");
        assert!(e.contains("two of this feed's signatures"), "{e}");
        let e = err("[[feed.zone]]\npolygon = [[0,0],[1,0]]\nclasses = [\"person\"]");
        assert!(e.contains("feed[0] (cam).zone[0].polygon"), "{e}");
        let e =
            err("[[feed.zone]]\nname = \"z\"\npolygon = [[0,0],[1,0],[1,1]]\nclasses = [\"boat\"]");
        assert!(e.contains("\"boat\"") && e.contains("zone[0]"), "{e}");
        let e = err("[[feed]]\nname = \"cam\"\nurl = \"udp://@:5001\"");
        assert!(e.contains("two feeds are named"), "{e}");
        let e = err("rtsp_transport = \"http\"");
        assert!(e.contains("http"), "{e}");
        let c = parse("[[feed]]\nname = \"a b\"\nurl = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(c.contains("feed[0] (a b).name"), "{c}");
    }
}
