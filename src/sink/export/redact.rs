//! What `export --redact` blurs in each event's frames, and the blurred
//! copies: faces, found with CenterFace, and people who are not the
//! event's, found by running the run's own detector again on the frame.
//! The pixel work and the rules (which person is part of the event) are
//! [`crate::evidence::redact`]'s.
//!
//! The run's detector is loaded by the caller from the config that
//! [`RedactConfig::detector_config`] gives (with `run::Session`), so that
//! sinks do not depend on the run layer that builds them.

use std::path::{Path, PathBuf};

use image::RgbImage;

use super::images::{image_boxes, ExportBox};
use super::ReviewedEvent;
use crate::config::Config;
use crate::detect::face::FaceDetector;
use crate::detect::onnx::OnnxDetector;
use crate::detect::{DetectError, Detector};
use crate::evidence::record::RunRecord;
use crate::evidence::redact::{self, ModelRef, RedactedFile, Redaction, Region};
use crate::geom::BBox;

/// Why redaction could not start or could not blur a frame.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    #[error("{path}: cannot read the run's config")]
    RunConfig {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "--redact runs the run's detector again to find bystanders, but {model} is not there; \
         pass --model with the run's model (sha256 {sha256})"
    )]
    ModelMissing { model: String, sha256: String },
    #[error(
        "{path}: sha256 {found} is not the run's model ({sha256}); pass --model with the model the run used"
    )]
    ModelMismatch {
        path: PathBuf,
        found: String,
        sha256: String,
    },
    #[error("--redact-classes: the run's model has no class {name:?}; its classes: {classes}")]
    NoClass { name: String, classes: String },
    #[error("{0}")]
    FaceModel(String),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error("cannot read {path}")]
    Decode {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error("{path}: not the size of the event's frame")]
    AnnotatedSize { path: PathBuf },
    #[error("cannot encode the blurred copy of {from}")]
    Encode {
        from: String,
        #[source]
        source: image::ImageError,
    },
}

/// How to redact (the `--redact` options of `lookout export`).
#[derive(Debug, Clone)]
pub struct RedactConfig {
    /// The CenterFace model; else `$LOOKOUT_FACE_MODEL`, else the one
    /// setup fetched (see `detect::face::find_model`).
    pub face_model: Option<PathBuf>,
    /// Least face score blurred, 0–1.
    pub face_threshold: f32,
    /// Classes blurred when they are not part of the event.
    pub classes: Vec<String>,
    /// The run's detector, when it is no longer where `run.json` says.
    pub model: Option<PathBuf>,
}

impl RedactConfig {
    /// The config to load the run's detector with: the run's own, on the
    /// CPU (one frame per event: the CPU does, wherever the run ran), with
    /// the model `--model` names or the one `run.json` records, which
    /// must be there.
    pub fn detector_config(&self, run_dir: &Path, run: &RunRecord) -> Result<Config, RedactError> {
        let mut config: Config = serde_json::from_value(run.config.clone()).map_err(|source| {
            RedactError::RunConfig {
                path: run_dir.join("run.json"),
                source,
            }
        })?;
        config.model.device = "cpu".into();
        // A runtime library recorded on another machine may not exist here.
        if config.model.ort_lib.as_ref().is_some_and(|p| !p.is_file()) {
            config.model.ort_lib = None;
        }
        let recorded = Some(&run.model.path).filter(|p| !p.as_os_str().is_empty());
        let path = match (&self.model, recorded) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) if p.is_file() => p.clone(),
            (None, p) => {
                return Err(RedactError::ModelMissing {
                    model: p.map_or("its model".into(), |p| p.display().to_string()),
                    sha256: run.model.sha256.clone(),
                })
            }
        };
        config.model.path = Some(path);
        Ok(config)
    }
}

/// Finds and blurs what `--redact` hides, event by event, and counts it.
pub struct Redactor {
    faces: FaceDetector,
    face_threshold: f32,
    detector: OnnxDetector,
    detector_path: PathBuf,
    /// Class ids and names blurred when not in the event.
    classes: Vec<(usize, String)>,
    pub faces_blurred: usize,
    pub persons_blurred: usize,
}

impl Redactor {
    /// A redactor with the run's `detector`, loaded from `loaded_with`
    /// (see [`RedactConfig::detector_config`]); it must be the model the
    /// run used. Loads the face model with the same runtime.
    pub fn new(
        config: &RedactConfig,
        run: &RunRecord,
        loaded_with: &Config,
        detector: OnnxDetector,
    ) -> Result<Redactor, RedactError> {
        let detector_path = loaded_with.model.path.clone().unwrap_or_default();
        let found = &detector.info().sha256;
        if *found != run.model.sha256 {
            return Err(RedactError::ModelMismatch {
                path: detector_path,
                found: found.clone(),
                sha256: run.model.sha256.clone(),
            });
        }
        let labels = detector.labels();
        let mut classes = Vec::new();
        for name in config
            .classes
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
        {
            match labels.iter().position(|l| l == name) {
                Some(id) => classes.push((id, name.to_owned())),
                None => {
                    return Err(RedactError::NoClass {
                        name: name.to_owned(),
                        classes: labels.join(", "),
                    })
                }
            }
        }
        let face_path = crate::detect::face::find_model(config.face_model.as_deref())
            .map_err(|e| RedactError::FaceModel(e.to_string()))?;
        let faces = FaceDetector::load(&face_path, loaded_with.model.ort_lib.as_deref())?;
        Ok(Redactor {
            faces,
            face_threshold: config.face_threshold,
            detector,
            detector_path,
            classes,
            faces_blurred: 0,
            persons_blurred: 0,
        })
    }

    /// The regions to blur in an event's frame.
    fn regions(
        &mut self,
        image: &RgbImage,
        event: &crate::evidence::record::EventRecord,
    ) -> Result<Vec<Region>, RedactError> {
        let mut regions: Vec<Region> = self
            .faces
            .detect(image, self.face_threshold)?
            .into_iter()
            .map(|f| Region::face(f.bbox, f.score))
            .collect();
        let faces = regions.len();
        let boxes = image_boxes(event).boxes;
        let as_bbox = |b: &ExportBox| BBox::new(b.x1 as f32, b.y1 as f32, b.x2 as f32, b.y2 as f32);
        let tracks: Vec<BBox> = boxes.iter().map(as_bbox).collect();
        let anchors: Vec<BBox> = boxes
            .iter()
            .filter(|b| b.role == "anchor")
            .map(as_bbox)
            .collect();
        let input = self.detector.preprocess().run(image);
        let found = self.detector.detect(&[input])?.pop().unwrap_or_default();
        for d in found {
            if let Some((_, name)) = self.classes.iter().find(|(id, _)| *id == d.class_id) {
                if !redact::is_part_of_event(&d.bbox, &tracks, &anchors) {
                    regions.push(Region::person(name, d.bbox, d.score));
                }
            }
        }
        self.faces_blurred += faces;
        self.persons_blurred += regions.len() - faces;
        Ok(regions)
    }

    /// Blurred copies of an event's frame and, with `with_annotated`, of
    /// its annotated frame; the frame comes first. The regions are found
    /// on the untouched frame.
    pub fn redact_event(
        &mut self,
        e: &ReviewedEvent,
        with_annotated: bool,
    ) -> Result<Vec<RedactedCopy>, RedactError> {
        let decode = |rel: &str| -> Result<RgbImage, RedactError> {
            let path = e.run.join(rel);
            image::open(&path)
                .map(|i| i.to_rgb8())
                .map_err(|source| RedactError::Decode { path, source })
        };
        let frame_rel = e.frame();
        let frame = decode(frame_rel)?;
        let regions = self.regions(&frame, &e.event)?;
        let mut out = vec![RedactedCopy {
            from: frame_rel.to_owned(),
            png: png(&redact::apply(&frame, &regions), frame_rel)?,
            regions: regions.clone(),
        }];
        if with_annotated {
            let rel = &e.event.artefacts.annotated;
            let annotated = decode(rel)?;
            if annotated.dimensions() != frame.dimensions() {
                return Err(RedactError::AnnotatedSize {
                    path: e.run.join(rel),
                });
            }
            out.push(RedactedCopy {
                from: rel.clone(),
                png: png(&redact::apply(&annotated, &regions), rel)?,
                regions,
            });
        }
        Ok(out)
    }

    /// What the export records about its redaction, with `files`.
    pub fn record(&self, files: Vec<RedactedFile>) -> Redaction {
        Redaction {
            method: redact::METHOD.to_owned(),
            face_model: ModelRef {
                path: self.faces.path.display().to_string(),
                sha256: self.faces.sha256().to_owned(),
            },
            face_threshold: self.face_threshold,
            detector: ModelRef {
                path: self.detector_path.display().to_string(),
                sha256: self.detector.info().sha256.clone(),
            },
            classes: self.classes.iter().map(|(_, n)| n.clone()).collect(),
            files,
        }
    }
}

/// A blurred copy of one of the run's frames, before it is written.
#[derive(Debug, Clone)]
pub struct RedactedCopy {
    /// The original, relative to the run folder.
    pub from: String,
    pub png: Vec<u8>,
    pub regions: Vec<Region>,
}

/// Lossless, so that a copy differs from its original only where it was
/// blurred.
fn png(image: &RgbImage, from: &str) -> Result<Vec<u8>, RedactError> {
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|source| RedactError::Encode {
            from: from.to_owned(),
            source,
        })?;
    Ok(bytes)
}
