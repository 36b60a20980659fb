//! `lookout.toml`: the run configuration.
//!
//! Configs only describe. Class names stay strings here and are resolved
//! against the model's labels by each component's `build()`, once, at
//! start-up. Unknown keys are errors, so a typo never silently falls back to
//! a default. Command-line flags override the file; the effective config is
//! recorded in `run.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::detect::family::Family;
use crate::detect::onnx::{Device, PreprocessOverride};

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
    Invalid { key: &'static str, message: String },
    #[error("unknown class {name:?} in {key}; the model's classes are: {known}")]
    UnknownClass {
        key: String,
        name: String,
        known: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub model: ModelConfig,
    pub detect: DetectConfig,
    pub sampling: SamplingConfig,
    pub flag: PresenceConfig,
    pub output: OutputConfig,
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
    /// Intra-op threads for inference; 0 lets ONNX Runtime decide.
    pub threads: usize,
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
        self.device.parse().map_err(|message| ConfigError::Invalid {
            key: "model.device",
            message,
        })
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            path: None,
            labels: None,
            ort_lib: None,
            threads: 0,
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
    /// FFmpeg decoder threads per video; 0 lets FFmpeg decide.
    pub decode_threads: usize,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig {
            stride: 1,
            fps: None,
            decode_threads: 1,
        }
    }
}

/// The presence rule: flag a frame when a detection of one of `classes`
/// scores at least `min_score`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PresenceConfig {
    pub classes: Vec<String>,
    /// Defaults to `detect.conf`.
    pub min_score: Option<f64>,
    /// True when `classes` is the built-in default: names the model lacks
    /// are then skipped with a warning instead of failing the run.
    #[serde(skip)]
    pub classes_are_default: bool,
}

pub const DEFAULT_FLAG_CLASSES: [&str; 3] = ["person", "vessel", "container"];

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig {
            classes: DEFAULT_FLAG_CLASSES.iter().map(|s| s.to_string()).collect(),
            min_score: None,
            classes_are_default: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// JPEG quality (1–100) of the evidence frames.
    pub jpeg_quality: u8,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig { jpeg_quality: 92 }
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.flag.classes_are_default = config.flag
            == PresenceConfig {
                classes_are_default: false,
                ..Default::default()
            };
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges that serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let unit = |key: &'static str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(ConfigError::Invalid {
                    key,
                    message: format!("{v} is not between 0 and 1"),
                })
            }
        };
        unit("detect.conf", self.detect.conf)?;
        unit("detect.iou", self.detect.iou)?;
        if let Some(s) = self.flag.min_score {
            unit("flag.min_score", s)?;
        }
        if self.sampling.stride == 0 {
            return Err(ConfigError::Invalid {
                key: "sampling.stride",
                message: "must be at least 1".into(),
            });
        }
        if let Some(f) = self.sampling.fps {
            if !(f > 0.0 && f.is_finite()) {
                return Err(ConfigError::Invalid {
                    key: "sampling.fps",
                    message: format!("{f} is not a positive rate"),
                });
            }
        }
        if self.model.batch == 0 {
            return Err(ConfigError::Invalid {
                key: "model.batch",
                message: "must be at least 1".into(),
            });
        }
        if !(1..=100).contains(&self.output.jpeg_quality) {
            return Err(ConfigError::Invalid {
                key: "output.jpeg_quality",
                message: "must be between 1 and 100".into(),
            });
        }
        self.model.device()?;
        if self.detect.max_det == 0 {
            return Err(ConfigError::Invalid {
                key: "detect.max_det",
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// Resolves class names to model class ids, naming the config key and the
/// model's classes when a name is unknown.
pub fn resolve_classes(
    key: &str,
    names: &[String],
    labels: &[String],
) -> Result<Vec<usize>, ConfigError> {
    names
        .iter()
        .map(|name| {
            labels
                .iter()
                .position(|l| l == name)
                .ok_or_else(|| ConfigError::UnknownClass {
                    key: key.to_owned(),
                    name: name.clone(),
                    known: labels.join(", "),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn partial_file_keeps_defaults_and_validates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lookout.toml");
        std::fs::write(
            &path,
            "[detect]\nconf = 0.4\n[flag]\nclasses = [\"person\"]\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!((c.detect.conf, c.detect.iou), (0.4, 0.5));
        assert!(!c.flag.classes_are_default);
        std::fs::write(&path, "[detect]\nconf = 1.5\n").unwrap();
        assert!(Config::load(&path)
            .unwrap_err()
            .to_string()
            .contains("detect.conf"));
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
}
