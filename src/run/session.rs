//! The session: everything a run is built from, made once from a
//! [`Config`]. It loads the detector, builds the signatures against the
//! model's classes, keeps the run's clock, and writes the run's record.
//! Every driver ([`super::batch`], [`super::live`], [`super::eval`]) starts
//! from one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::config::{Config, TileConfig};
use crate::detect::family::PostProcess;
use crate::detect::onnx::{ModelInfo, OnnxConfig, OnnxDetector};
use crate::detect::roles::ClassRoles;
use crate::detect::step::{Infer, Prepare};
use crate::detect::tile::{MergeConfig, Tiling};
use crate::detect::{Detector, Preprocess};
use crate::evidence::events::EventContext;
use crate::evidence::record::{ModelRecord, RunMode, RunRecord, SignatureRecord, Thresholds};
use crate::evidence::RunWriter;
use crate::review::pg::{PgStore, StoredRun};
use crate::review::store::StoreSpec;
use crate::signature::BuiltSignature;
use crate::sink::detections::DetectionsSink;
use crate::sink::evidence::EvidenceSink;
use crate::sink::geojson::{GeoJsonOptions, GeoJsonSink};
use crate::sink::store::StoreSink;
use crate::sink::{ScreenSink, SharedRun};
use crate::stream::Stream;

use super::RunError;

/// The bundled demo model, used when no model is named.
pub const DEMO_MODEL: &str = "models/lookout-demo.onnx";

/// What a run with the demo model warns, at start.
pub const DEMO_WARNING: &str = "this is lookout's demo model, trained on synthetic scenes only \
(drawn shapes, as in the sample sortie): on real imagery its detections and flags mean nothing. \
Screen real footage with a real detector: --model MODEL.onnx";

/// Whether `info` is the demo model (bundled, or a copy of it anywhere):
/// it says so in its metadata, which its training script writes.
pub fn is_demo_model(info: &ModelInfo) -> bool {
    info.metadata.get("author").map(String::as_str) == Some("lookout project")
        && info
            .metadata
            .get("description")
            .is_some_and(|d| d.starts_with("lookout demo detector"))
}

/// A loaded model, its signatures, and the run's clock.
pub struct Session {
    pub config: Config,
    pub model_path: PathBuf,
    /// How the detector was loaded, for [`Session::take_detectors`].
    onnx: OnnxConfig,
    detector: Option<OnnxDetector>,
    pub info: ModelInfo,
    /// The model's classes with their roles (built-in table and `[roles]`).
    pub roles: ClassRoles,
    /// The run's signatures (a `watch` feed may build its own).
    pub signatures: Vec<BuiltSignature>,
    pub started_at: String,
    pub started: Instant,
    /// The shared review store (`[store] url`), when there is one.
    pub store: Option<Arc<PgStore>>,
}

/// Where the run folder goes.
#[derive(Debug, Clone)]
pub struct RunFolder {
    /// The folder that receives the run folder.
    pub out: PathBuf,
    /// The run folder's name; the UTC start time when `None`.
    pub run_id: Option<String>,
    /// Write `detections.jsonl` (every detection of every screened frame).
    pub save_detections: bool,
}

impl Session {
    /// Validates `config`, loads its model (the bundled demo model when it
    /// names none) and builds its signatures.
    pub fn load(config: Config) -> Result<Session, RunError> {
        let mut session = Self::load_model(config)?;
        session.signatures = crate::signature::build(
            session.config.signature.as_deref(),
            &session.roles,
            session.config.detect.conf,
        )?;
        if let Some(url) = &session.config.store.url {
            match StoreSpec::parse(url).map_err(|m| RunError::Option {
                flag: "--store",
                message: m,
            })? {
                StoreSpec::Sqlite => {}
                StoreSpec::Postgres(url) => {
                    let store = PgStore::connect(&url)?;
                    tracing::info!("events go into the review store {}", store.shown());
                    session.store = Some(Arc::new(store));
                }
            }
        }
        Ok(session)
    }

    /// As [`Session::load`], without signatures: for drivers that only
    /// detect (`eval --model`, the bystander detector of `export --redact`).
    pub fn load_model(mut config: Config) -> Result<Session, RunError> {
        let started_at = crate::clock::now_rfc3339();
        let started = Instant::now();
        config.validate()?;
        let model_path = match &config.model.path {
            Some(p) => p.clone(),
            None => {
                let demo = crate::bundled::find(DEMO_MODEL).ok_or(RunError::NoDemoModel)?;
                config.model.path = Some(demo.clone());
                demo
            }
        };
        let onnx = OnnxConfig {
            model: model_path.clone(),
            labels: config.model.labels.clone(),
            ort_lib: config.model.ort_lib.clone(),
            threads: config.model.threads,
            imgsz: config.model.imgsz,
            post: post_process(&config),
            family: config.model.family,
            preprocess: config.model.preprocess.clone(),
            device: config.model.device()?,
        };
        let detector = OnnxDetector::load(&onnx)?;
        let info = detector.info().clone();
        tracing::info!(model = %model_path.display(), family = ?info.family, classes = info.labels.len(), "model loaded");
        if is_demo_model(&info) {
            tracing::warn!("{DEMO_WARNING}");
        }
        let roles = ClassRoles::new(&info.labels, &config.role_table()?);
        Ok(Session {
            config,
            model_path,
            onnx,
            detector: Some(detector),
            info,
            roles,
            signatures: Vec::new(),
            started_at,
            started,
            store: None,
        })
    }

    /// The detector, once: the driver that runs it owns it. It is warmed
    /// up (see [`OnnxDetector::warm_up`]).
    pub fn take_detector(&mut self) -> OnnxDetector {
        let mut detector = self.detector.take().expect("the detector is taken once");
        detector.warm_up();
        detector
    }

    /// One detector per inference worker, `[model] workers` of them (see
    /// [`crate::config::ModelConfig::workers`]), warmed up, once. Several
    /// workers share the cores: unless `[model] threads` is set, each
    /// session gets its share, and the one loaded to read the model is
    /// loaded again with it.
    pub fn take_detectors(&mut self) -> Result<Vec<OnnxDetector>, RunError> {
        let workers = self.config.model.workers();
        let threads = self.config.model.threads_per_worker(workers);
        let first = self.detector.take().expect("the detector is taken once");
        let mut detectors = Vec::with_capacity(workers);
        let onnx = OnnxConfig {
            threads,
            ..self.onnx.clone()
        };
        if threads == self.onnx.threads {
            detectors.push(first);
        } else {
            drop(first);
        }
        while detectors.len() < workers {
            detectors.push(OnnxDetector::load(&onnx)?);
        }
        for d in &mut detectors {
            d.warm_up();
        }
        if workers > 1 {
            tracing::info!(workers, threads, "inference workers");
        }
        Ok(detectors)
    }

    pub fn labels(&self) -> &[String] {
        &self.info.labels
    }

    pub fn preprocess(&self) -> &Preprocess {
        &self.info.preprocess
    }

    /// Sliced inference for frames, or `None` when `[tile]` is off.
    pub fn tiling(&self) -> Option<Tiling> {
        tiling(&self.config.tile, &self.info.preprocess)
    }

    /// How rasters are cut into windows: always, at the configured tile
    /// size or else the model's input size.
    pub fn raster_tiling(&self) -> Tiling {
        with_size(
            &self.config.tile,
            self.config.tile.size.unwrap_or(0),
            &self.info.preprocess,
        )
    }

    /// The first half of the detection step.
    pub fn prepare(&self) -> Prepare {
        Prepare::new(self.info.preprocess.clone(), self.tiling())
    }

    /// The second half of the detection step, with at most `batch`
    /// tensors per call.
    pub fn infer<D: Detector>(&self, detector: D, batch: usize) -> Infer<D> {
        Infer::new(detector, batch, self.tiling().map(|t| t.merge))
    }

    /// The detector and tracker thresholds, as every event records them.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            conf: self.config.detect.conf,
            iou: self.config.detect.iou,
            max_det: self.config.detect.max_det,
            track: serde_json::to_value(&self.config.track).expect("configs serialise"),
        }
    }

    /// The signatures as `run.json` records them.
    pub fn signature_records(signatures: &[BuiltSignature]) -> Vec<SignatureRecord> {
        signatures
            .iter()
            .map(|s| {
                let (config, config_sha256) = s.config.fingerprint();
                SignatureRecord {
                    name: s.signature.name().to_owned(),
                    kind: s.signature.kind().to_owned(),
                    config,
                    config_sha256,
                }
            })
            .collect()
    }

    /// What every event record of a stream with `signatures` repeats.
    pub fn event_context(&self, signatures: &[BuiltSignature]) -> EventContext {
        EventContext {
            labels: self.info.labels.clone(),
            model_path: self.model_path.clone(),
            model_sha256: self.info.sha256.clone(),
            thresholds: self.thresholds(),
            jpeg_quality: self.config.output.jpeg_quality,
            signatures: EventContext::signature_table(&Self::signature_records(signatures)),
        }
    }

    /// The per-stream state (tracker, signatures, events) of stream `id`.
    pub fn stream(&self, id: usize, signatures: &[BuiltSignature]) -> Stream {
        let timed = signatures
            .iter()
            .map(|s| (s.signature.clone(), s.timing))
            .collect();
        Stream::new(id, &self.config.track, timed)
    }

    /// The run's record as it starts.
    pub fn record(&self, mode: RunMode, run_id: &str) -> RunRecord {
        let info = &self.info;
        RunRecord::new(
            mode,
            run_id,
            self.started_at.clone(),
            self.config.recorded(),
            self.thresholds(),
            ModelRecord {
                path: self.model_path.clone(),
                sha256: info.sha256.clone(),
                family: json(&info.family),
                family_reason: Some(info.family_reason.clone()),
                inputs: json(&info.inputs),
                outputs: json(&info.outputs),
                metadata: json(&info.metadata),
                device: json(&info.device),
                labels: info.labels.clone(),
                labels_source: Some(info.labels_source.clone()),
                preprocess: json(&info.preprocess),
                roles: self.roles.record(),
                demo: is_demo_model(info),
            },
            Self::signature_records(&self.signatures),
        )
    }

    /// Creates the run folder and the sinks that write into it: evidence,
    /// GeoJSON, and `detections.jsonl` when asked for. `record` gets the
    /// run id and the list of outputs.
    pub fn open_run(
        &self,
        folder: &RunFolder,
        mode: RunMode,
    ) -> Result<(SharedRun, RunRecord, Vec<ScreenSink>), RunError> {
        let run_id = folder
            .run_id
            .clone()
            .unwrap_or_else(|| crate::clock::run_id_now(&folder.out));
        let writer = RunWriter::create(&folder.out, &run_id)?;
        let run = SharedRun::new(writer);
        let mut record = self.record(mode, &run_id);
        let mut sinks = self.sinks(&run, folder.save_detections);
        sinks.extend(self.store_sink(&run, &record, &[])?);
        if folder.save_detections {
            record
                .outputs
                .push(crate::sink::detections::FILE.to_owned());
        }
        run.lock().write_run_json(&record)?;
        Ok((run, record, sinks))
    }

    /// With a shared review store: registers the run of `record` in it,
    /// removes the events a resume `withdrew`, and gives the sink that
    /// writes each event into it. It goes after the evidence sink, whose
    /// `event.json` it reads back.
    pub fn store_sink(
        &self,
        run: &SharedRun,
        record: &RunRecord,
        withdrawn: &[String],
    ) -> Result<Option<ScreenSink>, RunError> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let dir = run.lock().dir().to_owned();
        store.register_run(&StoredRun::of(record, &dir))?;
        store.withdraw(&record.run_id, withdrawn)?;
        Ok(Some(Box::new(StoreSink::new(
            run.clone(),
            record.run_id.clone(),
            store.clone(),
        ))))
    }

    /// The sinks that write into the run folder `run`.
    pub fn sinks(&self, run: &SharedRun, save_detections: bool) -> Vec<ScreenSink> {
        let mut sinks: Vec<ScreenSink> = vec![
            Box::new(EvidenceSink::new(
                run.clone(),
                self.event_context(&self.signatures),
            )),
            Box::new(GeoJsonSink::new(
                run.clone(),
                self.info.labels.clone(),
                GeoJsonOptions {
                    video_detections: save_detections,
                    frame_footprints: self.config.geo.frame_footprints,
                },
            )),
        ];
        if save_detections {
            sinks.push(Box::new(DetectionsSink::new(
                run.clone(),
                self.info.labels.clone(),
            )));
        }
        sinks
    }
}

fn post_process(config: &Config) -> PostProcess {
    PostProcess {
        conf: config.detect.conf as f32,
        iou: config.detect.iou as f32,
        max_det: config.detect.max_det,
    }
}

/// The frame tiling of `[tile]`, or `None` when it is off.
pub fn tiling(tile: &TileConfig, preprocess: &Preprocess) -> Option<Tiling> {
    tile.size.map(|size| with_size(tile, size, preprocess))
}

/// `[tile]` at `size` pixels (0: the model's input size).
fn with_size(tile: &TileConfig, size: u32, preprocess: &Preprocess) -> Tiling {
    Tiling {
        size: if size == 0 {
            preprocess.input_w.max(preprocess.input_h)
        } else {
            size
        },
        overlap: tile.overlap,
        full_frame: tile.full_frame,
        merge: MergeConfig {
            method: tile.merge,
            metric: tile.metric,
            threshold: tile.threshold,
            class_agnostic: false,
        },
    }
}

/// Seals the run: the record's final state, then the manifest's head.
pub fn seal(run: SharedRun, record: &RunRecord) -> Result<PathBuf, RunError> {
    let dir = run.lock().dir().to_owned();
    let writer = run.into_inner().ok_or(RunError::RunStillShared(dir))?;
    Ok(writer.finish(record)?)
}

/// Rewrites `run.json` while the run goes on.
pub fn checkpoint(run: &SharedRun, record: &RunRecord) -> Result<(), RunError> {
    Ok(run.lock().write_run_json(record)?)
}

/// A descriptive value as records hold it.
fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("model descriptions serialise")
}
