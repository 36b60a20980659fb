//! `lookout.toml`: the run configuration.
//!
//! Configs only describe. Class names stay strings here and are resolved
//! against the model's labels by each component's `build()`, once, at
//! start-up. Unknown keys are errors, so a typo never silently falls back to
//! a default. Command-line flags override the file; the effective config is
//! recorded in `run.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::detect::family::Family;
use crate::detect::onnx::{Device, DeviceError, PreprocessOverride};
use crate::detect::roles::RoleTable;
use crate::live::feeds::{FeedConfig, FeedError};
use crate::signature::{SignatureConfig, SignatureError};
use crate::source::raster::{RasterConfig, RasterConfigError};
use crate::track::TrackerConfig;

/// The commented default `lookout.toml` (`lookout config init` writes it).
/// The built-in defaults are parsed from it, so the two cannot disagree.
pub const DEFAULT_TOML: &str = include_str!("lookout.default.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid setting {key}: {message}")]
    Invalid { key: String, message: String },
    #[error("config {path}: {source}")]
    InFile {
        path: PathBuf,
        source: Box<ConfigError>,
    },
    #[error("invalid setting model.device: {0}")]
    Device(DeviceError),
    #[error("invalid setting raster: {0}")]
    Raster(RasterConfigError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Feed(#[from] FeedError),
}

/// The smallest tile `[tile] size` / `--tile` accepts, in pixels.
pub const MIN_TILE: u32 = 64;
/// The largest model input size `--imgsz` accepts, in pixels.
pub const MAX_IMGSZ: u32 = 8192;
/// The most inference or decoder threads the config accepts.
pub const MAX_THREADS: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub model: ModelConfig,
    pub detect: DetectConfig,
    pub sampling: SamplingConfig,
    pub track: TrackerConfig,
    pub tile: TileConfig,
    pub raster: RasterConfig,
    /// How drone frames are placed on the ground from their telemetry.
    pub geo: crate::geo::camera::GeoSettings,
    pub output: OutputConfig,
    /// `[roles]`: class name → role (`person`, `vessel`, `vehicle`,
    /// `container`, or `none`), on top of the built-in table of
    /// [`crate::detect::roles`].
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, String>,
    /// The `[[signature]]` tables. `None` (no table in the file) means the
    /// built-in defaults of [`DEFAULT_TOML`].
    pub signature: Option<Vec<SignatureConfig>>,
    /// The `[[feed]]` tables: live feeds for `lookout watch`.
    pub feed: Vec<FeedConfig>,
    pub serve: ServeConfig,
    /// `[store]`: where review records go. Never serialised (see
    /// [`StoreConfig`]).
    #[serde(skip_serializing)]
    pub store: StoreConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// ONNX model; `None` means the bundled demo model.
    pub path: Option<PathBuf>,
    /// Class names file (one per line, or a YOLO data.yaml); overrides the
    /// model's metadata.
    pub labels: Option<PathBuf>,
    /// ONNX Runtime shared library; see `detect::onnx` for the search order.
    pub ort_lib: Option<PathBuf>,
    /// Intra-op threads for inference, per worker; 0 lets ONNX Runtime
    /// decide (with several workers: the cores shared among them).
    pub threads: usize,
    /// Inference workers for `screen` and `eval`, each with its own copy
    /// of the model, taking batches in turn. Unset, the run chooses (see
    /// [`ModelConfig::workers`]); `watch` always runs one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// Frames per inference call, for models with a dynamic batch axis.
    pub batch: usize,
    /// Input size for models whose height and width are dynamic
    /// (default 640); ignored for fixed-size models.
    pub imgsz: Option<u32>,
    /// Model family, when the automatic guess is wrong: yolov8, yolov5,
    /// end2end, yolox, ssd, detr, detrlogits, nanodet.
    pub family: Option<Family>,
    /// Overrides of the family's preprocessing.
    pub preprocess: PreprocessOverride,
    /// Where inference runs: `cpu`, `cuda[:N]` or `tensorrt[:N]`.
    pub device: String,
}

impl ModelConfig {
    pub fn device(&self) -> Result<Device, ConfigError> {
        self.device.parse().map_err(ConfigError::Device)
    }

    /// Inference workers, as set or else as the device suggests: on a CPU
    /// with two cores or more, two (on 2 cores, two one-thread sessions
    /// beside decoding screened the sample sortie 1.16x as fast as one
    /// two-thread session: see the README), else one.
    pub fn workers(&self) -> usize {
        self.workers.unwrap_or(match self.device() {
            Ok(Device::Cpu) => cores().min(2),
            _ => 1,
        })
    }

    /// Intra-op threads for each of `workers` sessions: as set, or with
    /// several workers the cores shared among them (ONNX Runtime's own
    /// choice is every core, for each session); 0 lets ONNX Runtime
    /// decide.
    pub fn threads_per_worker(&self, workers: usize) -> usize {
        match (self.threads, workers) {
            (0, 0 | 1) => 0,
            (0, n) => (cores() / n).max(1),
            (t, _) => t,
        }
    }
}

/// This machine's cores, as the OS offers them to the process.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            path: None,
            labels: None,
            ort_lib: None,
            threads: 0,
            workers: None,
            batch: 1,
            imgsz: None,
            family: None,
            preprocess: PreprocessOverride::default(),
            device: "cpu".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Minimum score for a detection to be kept at all.
    pub conf: f64,
    /// IoU above which NMS merges two boxes of one class.
    pub iou: f64,
    /// Most detections kept per frame.
    pub max_det: usize,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            conf: 0.3,
            iou: 0.5,
            max_det: 300,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplingConfig {
    /// Screen every Nth decoded frame.
    pub stride: u64,
    /// Screen at most this many frames per second of video time.
    pub fps: Option<f64>,
    /// `full` infers every frame `stride` and `fps` keep; `adaptive` only
    /// those where something can be (see `source::adaptive`). Unset, the
    /// run chooses: `run::batch::screen` adaptive, `run::live::watch` full
    /// (a feed's sampling follows the news as it comes, so what it infers
    /// depends on timing). A run records the mode it used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<crate::source::adaptive::SampleMode>,
    pub adaptive: crate::source::adaptive::AdaptiveParams,
    /// FFmpeg decoder threads per video; 0 lets FFmpeg decide. Unset: 1
    /// at full rate (inference needs the other cores); with adaptive
    /// sampling, which leaves inference idle most of the time, every core
    /// but one, up to 4 (on 2 cores, 1: two threads measured slower).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_threads: Option<usize>,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig {
            stride: 1,
            fps: None,
            mode: Default::default(),
            adaptive: Default::default(),
            decode_threads: None,
        }
    }
}

impl SamplingConfig {
    /// The sampling mode: as set, or else full.
    pub fn mode(&self) -> crate::source::adaptive::SampleMode {
        self.mode.unwrap_or_default()
    }

    /// Decoder threads per video, as set or as the mode suggests.
    pub fn decode_threads(&self) -> usize {
        use crate::source::adaptive::SampleMode;
        self.decode_threads.unwrap_or(match self.mode() {
            SampleMode::Full => 1,
            SampleMode::Adaptive => std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1))
                .clamp(1, 4),
        })
    }

    /// The source's sampling settings.
    pub fn sampling(&self) -> crate::source::Sampling {
        crate::source::Sampling {
            stride: self.stride,
            max_fps: self.fps,
            mode: self.mode(),
            adaptive: self.adaptive,
        }
    }
}

/// Sliced inference for frames larger than the model's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TileConfig {
    /// Tile side in pixels; 0 means the model's input size; unset: no tiling.
    pub size: Option<u32>,
    /// Share of a tile that overlaps its neighbour.
    pub overlap: f32,
    /// Also detect on the whole frame shrunk to the model's input.
    pub full_frame: bool,
    /// How boxes from neighbouring tiles are joined: nmm or nms.
    pub merge: crate::detect::tile::MergeMethod,
    /// Overlap measure for merging: ios (intersection over the smaller box) or iou.
    pub metric: crate::detect::tile::MatchMetric,
    /// Overlap at which two boxes are one object.
    pub threshold: f32,
}

impl Default for TileConfig {
    fn default() -> Self {
        TileConfig {
            size: None,
            overlap: 0.2,
            full_frame: false,
            merge: crate::detect::tile::MergeMethod::Nmm,
            metric: crate::detect::tile::MatchMetric::Ios,
            threshold: 0.5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// JPEG quality (1–100) of the evidence frames.
    pub jpeg_quality: u8,
    /// The Ed25519 key file that seals runs (made on first use), for
    /// `screen` and `watch`; `--signing-key` wins over it, and it wins
    /// over `$LOOKOUT_SIGNING_KEY` (see `crate::evidence::seal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<PathBuf>,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            jpeg_quality: 92,
            signing_key: None,
        }
    }
}

/// `[serve]`: the review server of `lookout serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Address to listen on. Anything but loopback exposes the evidence to
    /// the network: put TLS and the token in front of it.
    pub listen: String,
    /// The access token; a fresh one is made at each start when unset.
    /// Never serialised: the effective config goes into every run.json,
    /// and a run can be shared.
    #[serde(skip_serializing)]
    pub token: Option<String>,
}

/// `text` with the password of a URL's user part replaced by `***`:
/// `postgres://ana:pw@db/x` becomes `postgres://ana:***@db/x`, and
/// `--store=rtsp://cam:pw@10.0.0.5/live` keeps all but `pw`. Applied to
/// what run.json records (the command line, the config, live feeds) and
/// to every store URL lookout shows: run folders travel as evidence.
pub fn hide_password(text: &str) -> String {
    let Some(scheme_end) = text.find("://").map(|i| i + 3) else {
        return text.to_owned();
    };
    let rest = &text[scheme_end..];
    // The authority ends at the path, query or fragment.
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    let Some(at) = authority.rfind('@') else {
        return text.to_owned();
    };
    match authority[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &text[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => text.to_owned(),
    }
}

/// Every string in `value` through [`hide_password`].
fn hide_passwords(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => *s = hide_password(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(hide_passwords),
        serde_json::Value::Object(o) => o.values_mut().for_each(hide_passwords),
        _ => {}
    }
}

impl Config {
    /// The config as run.json records it: every setting, less the two
    /// kept out because they are secrets (`[serve] token`, `[store] url`)
    /// and the passwords of URLs (a feed's `rtsp://user:password@…`).
    pub fn recorded(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("configs serialise");
        hide_passwords(&mut value);
        value
    }
}

/// `[store]`: the review store shared by workers and reviewers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `postgres://user:password@host:port/database`: a shared PostgreSQL
    /// review store (see `lookout store`). Unset, each run folder keeps
    /// its own `review.sqlite`. `--store` and `$LOOKOUT_STORE` override it.
    /// Not written into run.json, since it may hold a password.
    pub url: Option<String>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: "127.0.0.1:8600".into(),
            token: None,
        }
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.validate().map_err(|e| ConfigError::InFile {
            path: path.to_owned(),
            source: Box::new(e),
        })?;
        Ok(config)
    }

    /// Sizes and counts that would make no sense, or exhaust the machine:
    /// a tile smaller than [`MIN_TILE`] (a 1-pixel tile of an 810×1080
    /// photo is close to a million model calls), an input size of 0 or
    /// beyond [`MAX_IMGSZ`], and thread counts beyond [`MAX_THREADS`].
    fn validate_sizes(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| {
            Err(ConfigError::Invalid {
                key: key.to_owned(),
                message,
            })
        };
        if let Some(size) = self.tile.size {
            // 0 is the model's input size.
            if size != 0 && size < MIN_TILE {
                return invalid(
                    "tile.size",
                    format!("{size} px is below the smallest tile, {MIN_TILE} px"),
                );
            }
        }
        if let Some(px) = self.model.imgsz {
            if px == 0 || px > MAX_IMGSZ {
                return invalid(
                    "model.imgsz",
                    format!("{px} px is not an input size between 1 and {MAX_IMGSZ}"),
                );
            }
        }
        if self.model.workers == Some(0) {
            return invalid(
                "model.workers",
                "0 workers would run no inference; give 1 or more, or leave it unset".into(),
            );
        }
        for (key, n) in [
            ("model.threads", self.model.threads),
            ("model.workers", self.model.workers.unwrap_or(0)),
            (
                "sampling.decode_threads",
                self.sampling.decode_threads.unwrap_or(0),
            ),
        ] {
            if n > MAX_THREADS {
                return invalid(
                    key,
                    format!(
                        "{n} threads is more than {MAX_THREADS}; this machine has {} cores \
                         (0 lets the library choose)",
                        cores()
                    ),
                );
            }
        }
        Ok(())
    }

    /// `[model.preprocess]` numbers: finite (a value beyond f32, such as
    /// `scale = 1e39`, is read as infinity), and no `std` of 0, which
    /// would divide every pixel by zero.
    fn validate_preprocess(&self) -> Result<(), ConfigError> {
        let p = &self.model.preprocess;
        let invalid = |key: &str, message: String| {
            Err(ConfigError::Invalid {
                key: format!("model.preprocess.{key}"),
                message,
            })
        };
        if let Some(v) = p.scale.filter(|v| !v.is_finite()) {
            return invalid("scale", format!("{v} is not a finite multiplier"));
        }
        for (key, values) in [("mean", p.mean), ("std", p.std)] {
            if let Some(v) = values.filter(|v| v.iter().any(|x| !x.is_finite())) {
                return invalid(key, format!("{v:?} holds a number that is not finite"));
            }
        }
        if let Some(v) = p.std.filter(|v| v.contains(&0.0)) {
            return invalid("std", format!("{v:?} would divide by 0"));
        }
        Ok(())
    }

    /// Checks ranges that serde cannot express.
    /// The built-in class roles with `[roles]` on top.
    pub fn role_table(&self) -> Result<RoleTable, ConfigError> {
        RoleTable::with_overrides(&self.roles).map_err(|e| ConfigError::Invalid {
            key: "roles".into(),
            message: e.to_string(),
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let unit = |key: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(ConfigError::Invalid {
                    key: key.to_owned(),
                    message: format!("{v} is not between 0 and 1"),
                })
            }
        };
        self.validate_sizes()?;
        unit("detect.conf", self.detect.conf)?;
        unit("detect.iou", self.detect.iou)?;
        unit("track.high_score", f64::from(self.track.high_score))?;
        unit("track.low_score", f64::from(self.track.low_score))?;
        unit("track.match_iou", f64::from(self.track.match_iou))?;
        if !(self.track.max_lost_s >= 0.0 && self.track.max_lost_s.is_finite()) {
            return Err(ConfigError::Invalid {
                key: "track.max_lost_s".into(),
                message: format!("{} is not a duration in seconds", self.track.max_lost_s),
            });
        }
        if !(0.0..0.95).contains(&self.tile.overlap) {
            return Err(ConfigError::Invalid {
                key: "tile.overlap".into(),
                message: format!("{} is not in [0, 0.95)", self.tile.overlap),
            });
        }
        unit("tile.threshold", f64::from(self.tile.threshold))?;
        self.raster.validate().map_err(ConfigError::Raster)?;
        self.geo
            .validate()
            .map_err(|(key, message)| ConfigError::Invalid { key, message })?;
        self.role_table()?;
        if let Some(list) = &self.signature {
            crate::signature::validate_all(list)?;
        }
        crate::live::feeds::validate(&self.feed)?;
        if self.sampling.stride == 0 {
            return Err(ConfigError::Invalid {
                key: "sampling.stride".into(),
                message: "must be at least 1".into(),
            });
        }
        if let Some(f) = self.sampling.fps {
            if !(f > 0.0 && f.is_finite()) {
                return Err(ConfigError::Invalid {
                    key: "sampling.fps".into(),
                    message: format!("{f} is not a positive rate"),
                });
            }
        }
        if let Some((key, what)) = self.sampling.adaptive.problem() {
            return Err(ConfigError::Invalid {
                key: format!("sampling.adaptive.{key}"),
                message: format!("must be {what}"),
            });
        }
        if self.model.batch == 0 {
            return Err(ConfigError::Invalid {
                key: "model.batch".into(),
                message: "must be at least 1".into(),
            });
        }
        if !(1..=100).contains(&self.output.jpeg_quality) {
            return Err(ConfigError::Invalid {
                key: "output.jpeg_quality".into(),
                message: "must be between 1 and 100".into(),
            });
        }
        self.model.device()?;
        self.validate_preprocess()?;
        if self.detect.max_det == 0 {
            return Err(ConfigError::Invalid {
                key: "detect.max_det".into(),
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_hidden_and_nothing_else_is() {
        for (text, shown) in [
            (
                "postgres://ana:s3cr@t@db:5432/x",
                "postgres://ana:***@db:5432/x",
            ),
            (
                "--store=postgres://ana:pw@db/x",
                "--store=postgres://ana:***@db/x",
            ),
            (
                "rtsp://cam:pw@10.0.0.5:554/live",
                "rtsp://cam:***@10.0.0.5:554/live",
            ),
            // No user part: an '@' in the path or a port is not one.
            (
                "rtsp://10.0.0.5:554/stream@1",
                "rtsp://10.0.0.5:554/stream@1",
            ),
            ("udp://@:5600", "udp://@:5600"),
            ("postgres://ana@db/x", "postgres://ana@db/x"),
            ("runs/a:b@c", "runs/a:b@c"),
        ] {
            assert_eq!(hide_password(text), shown, "{text}");
        }
    }

    #[test]
    fn the_recorded_config_hides_a_feeds_password() {
        let config: Config =
            toml::from_str("[[feed]]\nname = \"cam\"\nurl = \"rtsp://op:hunter2@10.1.1.1/live\"\n")
                .unwrap();
        let recorded = config.recorded().to_string();
        assert!(!recorded.contains("hunter2"), "{recorded}");
        assert!(
            recorded.contains("rtsp://op:***@10.1.1.1/live"),
            "{recorded}"
        );
    }

    #[test]
    fn inference_workers_share_the_cores_unless_told() {
        let cpu = |workers: Option<usize>, threads: usize, device: &str| ModelConfig {
            workers,
            threads,
            device: device.into(),
            ..ModelConfig::default()
        };
        let cores = cores();
        let auto = cpu(None, 0, "cpu");
        assert_eq!(auto.workers(), cores.min(2));
        assert_eq!(
            auto.threads_per_worker(auto.workers()),
            if cores >= 2 { cores / 2 } else { 0 }
        );
        assert_eq!(cpu(None, 0, "cuda:0").workers(), 1);
        // One worker leaves the threads to ONNX Runtime; a set number is
        // per worker, whatever the workers.
        assert_eq!(cpu(Some(1), 0, "cpu").threads_per_worker(1), 0);
        assert_eq!(
            cpu(Some(3), 0, "cpu").threads_per_worker(3),
            (cores / 3).max(1)
        );
        assert_eq!(cpu(Some(3), 2, "cpu").threads_per_worker(3), 2);
        let mut c = Config::default();
        c.model.workers = Some(0);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("model.workers"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lookout.toml");
        std::fs::write(&path, "[detect]\nconff = 0.4\n").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("lookout.toml") && err.contains("conff"),
            "{err}"
        );
    }

    #[test]
    fn the_review_token_never_reaches_a_recorded_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lookout.toml");
        std::fs::write(&path, "[serve]\ntoken = \"s3cret-token-value\"\n").unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.serve.token.as_deref(), Some("s3cret-token-value"));
        // What run.json records, and what export --redact reads back.
        let recorded = serde_json::to_value(&c).unwrap();
        assert!(!recorded.to_string().contains("s3cret"), "{recorded}");
        let back: Config = serde_json::from_value(recorded).unwrap();
        assert_eq!(back.serve.token, None);
        assert_eq!(back.detect, c.detect);
    }

    #[test]
    fn partial_file_keeps_defaults_and_validates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lookout.toml");
        std::fs::write(
            &path,
            "[detect]\nconf = 0.4\n[[signature]]\nkind = \"presence\"\nclasses = [\"person\"]\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!((c.detect.conf, c.detect.iou), (0.4, 0.5));
        assert_eq!(c.signature.as_ref().map(Vec::len), Some(1));
        std::fs::write(&path, "[detect]\nconf = 1.5\n").unwrap();
        assert!(Config::load(&path)
            .unwrap_err()
            .to_string()
            .contains("detect.conf"));
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_commented_default_file_is_the_builtin_default() {
        let parsed: Config = toml::from_str(DEFAULT_TOML).unwrap();
        let expected = Config {
            signature: Some(crate::signature::builtin_configs()),
            ..Config::default()
        };
        assert_eq!(parsed, expected);
        parsed.validate().unwrap();
        let kinds: Vec<&str> = crate::signature::builtin_configs()
            .iter()
            .map(|s| s.kind())
            .collect();
        assert_eq!(kinds, vec!["containment", "overcrowding"]);
    }

    #[test]
    fn configured_signatures_must_use_the_models_classes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lookout.toml");
        std::fs::write(
            &path,
            "[[signature]]\nkind = \"containment\"\nname = \"beds\"\nsubjects = [\"person\"]\ncontainers = [\"truck\"]\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        let build = |labels: &[String]| {
            let roles = crate::detect::roles::ClassRoles::new(labels, &c.role_table().unwrap());
            crate::signature::build(c.signature.as_deref(), &roles, c.detect.conf)
        };
        let err = build(&names(&["person", "vessel", "container", "vehicle"]))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("signature[0] (beds).containers") && err.contains("\"truck\""),
            "{err}"
        );
        let ok = build(&names(&["person", "truck"])).unwrap();
        assert_eq!(ok[0].signature.name(), "beds");
    }

    #[test]
    fn unknown_keys_and_duplicate_names_in_signatures_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lookout.toml");
        std::fs::write(
            &path,
            "[[signature]]\nkind = \"zone\"\npolygon = [[0,0],[1,0],[1,1]]\nclasses = [\"person\"]\nmin_cnt = 2\n",
        )
        .unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("min_cnt"), "{err}");
        std::fs::write(
            &path,
            "[[signature]]\nkind = \"presence\"\nclasses = [\"person\"]\n[[signature]]\nkind = \"presence\"\nclasses = [\"vessel\"]\n",
        )
        .unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("signature[1] (presence)") && err.contains("unique"),
            "{err}"
        );
        std::fs::write(&path, "[[signature]]\nkind = \"overcrowding\"\n").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("max_persons, max_density or both"), "{err}");
    }

    #[test]
    fn feed_mistakes_surface_when_the_config_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lookout.toml");
        std::fs::write(&path, "[[feed]]\nname = \"a b\"\nurl = \"x\"").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("feed[0] (a b).name"), "{err}");
        std::fs::write(
            &path,
            "[[feed]]\nname = \"cam\"\nurl = \"x\"\n[[feed.zone]]\npolygon = [[0,0],[1,0]]\nclasses = [\"person\"]",
        )
        .unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("feed[0] (cam).zone[0].polygon"), "{err}");
    }

    mod props {
        use super::*;
        use crate::telemetry::fuzz;
        use proptest::prelude::*;
        use proptest::sample::Index;

        /// Values a setting may be given, right or wrong.
        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(fuzz::NUMBERS)
                    .prop_filter("a TOML value", |n| !n.trim().is_empty())
                    .prop_map(str::to_owned),
                Just("true".to_owned()),
                Just("\"\"".to_owned()),
                Just("\"cuda:99\"".to_owned()),
                Just("\"person\"".to_owned()),
                Just("[]".to_owned()),
                Just("[0, 1, 2]".to_owned()),
                Just("[1.0, nan]".to_owned()),
                Just("[[0, 0], [1, 0], [1, 1]]".to_owned()),
                Just("{}".to_owned()),
                any::<i64>().prop_map(|n| n.to_string()),
                any::<f64>().prop_map(|f| format!("{f:?}")),
            ]
        }

        /// Lines of the default file that set a key (some commented out).
        fn setting_lines() -> Vec<usize> {
            DEFAULT_TOML
                .lines()
                .enumerate()
                .filter(|(_, l)| {
                    let l = l.trim_start_matches("# ");
                    l.split_once(" = ").is_some_and(|(k, _)| {
                        !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    })
                })
                .map(|(i, _)| i)
                .collect()
        }

        /// The default file with one to three settings set to `value()`s.
        fn odd_settings() -> impl Strategy<Value = String> {
            let lines = setting_lines();
            prop::collection::vec((any::<Index>(), value()), 1..4).prop_map(move |edits| {
                let mut text: Vec<String> = DEFAULT_TOML.lines().map(str::to_owned).collect();
                for (at, v) in edits {
                    let i = lines[at.index(lines.len())];
                    let key = text[i]
                        .trim_start_matches("# ")
                        .split(" = ")
                        .next()
                        .unwrap()
                        .to_owned();
                    text[i] = format!("{key} = {v}");
                }
                text.join("\n")
            })
        }

        /// Whatever a config says, loading it either fails or gives a
        /// config that validates and that run.json records faithfully
        /// (a NaN would not survive the JSON: such a value must be refused).
        fn loads_or_is_refused(text: &str) -> Result<(), TestCaseError> {
            let Ok(config) = toml::from_str::<Config>(text) else {
                return Ok(());
            };
            if config.validate().is_err() {
                return Ok(());
            }
            let recorded = serde_json::to_value(&config).unwrap();
            let back: Result<Config, _> = serde_json::from_value(recorded.clone());
            prop_assert!(
                back.is_ok(),
                "run.json cannot be read back: {:?}\n{}",
                back.err(),
                text
            );
            let mut back = back.unwrap();
            // The two settings kept out of run.json: they may hold secrets.
            back.serve.token = config.serve.token.clone();
            back.store.url = config.store.url.clone();
            prop_assert_eq!(back, config, "{}", text);
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn any_setting_set_to_anything_is_refused_or_recorded(text in odd_settings()) {
                loads_or_is_refused(&text)?;
            }

            #[test]
            fn a_damaged_default_file_is_refused_or_recorded(text in fuzz::mutated_text(DEFAULT_TOML)) {
                loads_or_is_refused(&text)?;
            }

            #[test]
            fn the_errors_of_a_file_name_it(text in fuzz::mutated_text("[detect]\nconf = 0.4\n[tile]\nsize = 640\n")) {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("odd.toml");
                std::fs::write(&path, &text).unwrap();
                if let Err(e @ (ConfigError::Io { .. } | ConfigError::Parse { .. })) = Config::load(&path) {
                    prop_assert!(e.to_string().contains("odd.toml"), "{}", e);
                }
            }
        }
    }
}
