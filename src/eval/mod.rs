//! Evaluation: score detectors and signatures against labelled sets.
//!
//! Ground truth in any supported format (COCO JSON, YOLO txt folders,
//! VisDrone txt) is read by [`gt`] into one COCO-shaped [`Dataset`];
//! predictions are COCO results ([`Prediction`]). [`coco`] computes the
//! twelve COCO stats exactly as pycocotools does; [`classes`] adds per-class
//! precision, recall, F1 and a confusion matrix; [`events`] scores signature
//! events against event ground truth; [`tide`] breaks down what costs AP
//! by error type (TIDE); [`report`] renders and writes the report.

pub mod classes;
pub mod coco;
pub mod events;
pub mod gt;
pub mod mapping;
pub mod plot;
pub mod report;
pub mod tide;

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A hasher for integer ids: one multiply per id, against SipHash's
/// rounds, which showed in the profile of a 5,000-image evaluation (several
/// lookups per annotation and detection). Ids come from the user's own
/// files, so SipHash's protection against chosen keys buys nothing here.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        // The multiply leaves the high bits mixed and the low ones not (ids
        // that are multiples of 1024 share their low bits); the table picks
        // buckets with the low bits.
        self.0.rotate_left(26)
    }
}

/// A map keyed by image, category or annotation id.
pub(crate) type IdMap<V> = HashMap<i64, V, BuildHasherDefault<IdHasher>>;
/// A set of image, category or annotation ids.
pub(crate) type IdSet = HashSet<i64, BuildHasherDefault<IdHasher>>;

/// One image of a labelled set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub id: i64,
    /// Path relative to the dataset's image folder (COCO `file_name`).
    pub file_name: String,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    pub id: i64,
    pub name: String,
}

/// One ground-truth box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub id: i64,
    pub image_id: i64,
    pub category_id: i64,
    /// `[x, y, width, height]` in pixels, as COCO stores it.
    pub bbox: [f64; 4],
    /// COCO's `area` field: what the area ranges (small, medium, large)
    /// test. For formats without one it is the box area.
    pub area: f64,
    /// A crowd region: matches any number of detections, never a miss.
    pub iscrowd: bool,
}

/// A labelled set in COCO shape, whatever format it was read from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    pub images: Vec<Image>,
    pub categories: Vec<Category>,
    pub annotations: Vec<Annotation>,
    /// Folder the images' `file_name`s are relative to, when known.
    #[serde(skip)]
    pub image_root: Option<PathBuf>,
    /// Notes about how the source format was mapped (e.g. VisDrone's
    /// ignored regions), for the report.
    #[serde(skip)]
    pub notes: Vec<String>,
}

/// One detection in COCO results format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub image_id: i64,
    pub category_id: i64,
    /// `[x, y, width, height]` in pixels.
    pub bbox: [f64; 4],
    pub score: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl From<crate::detect::labels::DataYamlError> for EvalError {
    fn from(e: crate::detect::labels::DataYamlError) -> Self {
        use crate::detect::labels::DataYamlError;
        match e {
            DataYamlError::Read { path, source } => EvalError::Io { path, source },
            DataYamlError::Invalid { path, problem } => EvalError::Format {
                path,
                message: problem.to_string(),
            },
        }
    }
}
