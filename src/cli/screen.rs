//! `lookout screen`: batch-screen recorded video, images, rasters and
//! folders.
//!
//! Builds the config (file, then flags), loads the model, runs the
//! [`pipeline`](crate::pipeline), tracks and applies the signatures per
//! input ([`Stream`]), and writes each event's lifecycle and best frame into
//! the run folder. A bad input is reported with its path, counted, and
//! skipped; the rest of the batch goes on.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use super::Outcome;
use crate::config::Config;
use crate::detect::family::PostProcess;
use crate::detect::onnx::{OnnxConfig, OnnxDetector};
use crate::detect::Detector;
use crate::event::Step;
use crate::evidence::events::EventContext;
use crate::evidence::{RunWriter, EVENT_SCHEMA};
use crate::pipeline::{self, Detected, Item, PipelineOptions};
use crate::signature::{presence::PresenceConfig, SignatureConfig};
use crate::source::{self, raster::RasterOptions, OpenOptions, Sampling};
use crate::stream::Stream;

pub const DEMO_MODEL: &str = "models/lookout-demo.onnx";

#[derive(Debug, Args)]
pub struct ScreenArgs {
    /// Video files, images, rasters (GeoTIFF, NITF, JPEG 2000, images with
    /// world files), or folders (walked recursively).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Folder that receives the run folder.
    #[arg(short, long, default_value = "runs", value_name = "DIR")]
    pub out: PathBuf,
    /// Name of the run folder [default: UTC start time, e.g. 20261128T130501Z].
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Screen every Nth frame of video.
    #[arg(long, value_name = "N")]
    pub stride: Option<u64>,
    /// Screen at most F frames per second of video time.
    #[arg(long, value_name = "F")]
    pub fps: Option<f64>,
    /// Inputs decoded at the same time.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub jobs: usize,
    /// Sliced inference: cut frames into tiles of PX pixels [default when
    /// given without a value: the model's input size].
    #[arg(long, value_name = "PX", num_args = 0..=1, default_missing_value = "0")]
    pub tile: Option<u32>,
    /// Share of a tile that overlaps its neighbour [default: 0.2].
    #[arg(long, value_name = "F")]
    pub overlap: Option<f32>,
    /// With tiling, also detect on the whole frame or scene shrunk to one
    /// tile, for objects larger than a tile.
    #[arg(long)]
    pub full_frame: bool,
    /// Raster bands read as red, green, blue (1-based), or one band for
    /// grey, e.g. `--bands 3,2,1` [default: the bands labelled RGB, else
    /// 1,2,3].
    #[arg(long, value_delimiter = ',', value_name = "B,G,R")]
    pub bands: Option<Vec<usize>>,
    /// Exit with code 1 when any event opened (and nothing failed).
    #[arg(long)]
    pub fail_on_flag: bool,
}

/// The model, detection and signature flags `screen` and `watch` share.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Config file (lookout.toml); flags override it.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// ONNX detection model [default: the bundled demo model].
    #[arg(short, long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// Class names, one per line or a YOLO data.yaml (overrides the model's).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// ONNX Runtime library (libonnxruntime.so).
    #[arg(long, value_name = "FILE")]
    pub ort_lib: Option<PathBuf>,
    /// Minimum detection score [default: 0.3].
    #[arg(long, value_name = "SCORE")]
    pub conf: Option<f64>,
    /// NMS IoU threshold [default: 0.5].
    #[arg(long, value_name = "IOU")]
    pub iou: Option<f64>,
    /// Replace the configured signatures with one: presence of these classes
    /// (comma-separated), e.g. `--classes person`.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub classes: Option<Vec<String>>,
    /// Inference threads [default: ONNX Runtime's choice].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Frames per inference call, for models with a dynamic batch axis.
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
    /// Decode the model as this family instead of guessing (see `lookout inspect`).
    #[arg(long, value_name = "FAMILY")]
    pub family: Option<String>,
    /// Where inference runs: cpu, cuda[:N] or tensorrt[:N] (GPU builds only).
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
    /// Input size for models with dynamic height and width [default: 640].
    #[arg(long, value_name = "PX")]
    pub imgsz: Option<u32>,
}

impl ModelArgs {
    /// The config file (or the defaults) with these flags applied, and the
    /// bundled demo model when none is named. Not yet validated.
    pub fn config(&self) -> Result<Config> {
        let mut c = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        if let Some(m) = &self.model {
            c.model.path = Some(m.clone());
        }
        if let Some(l) = &self.labels {
            c.model.labels = Some(l.clone());
        }
        if let Some(l) = &self.ort_lib {
            c.model.ort_lib = Some(l.clone());
        }
        if let Some(v) = self.threads {
            c.model.threads = v;
        }
        if let Some(v) = self.batch {
            c.model.batch = v;
        }
        if let Some(v) = &self.family {
            c.model.family = Some(super::inspect::parse_family(v)?);
        }
        if let Some(v) = &self.device {
            c.model.device = v.clone();
        }
        if let Some(v) = self.imgsz {
            c.model.imgsz = Some(v);
        }
        if let Some(v) = self.conf {
            c.detect.conf = v;
        }
        if let Some(v) = self.iou {
            c.detect.iou = v;
        }
        if let Some(v) = &self.classes {
            let classes = v
                .iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            c.signature = Some(vec![SignatureConfig::Presence(PresenceConfig::of(classes))]);
        }
        if c.model.path.is_none() {
            let demo = crate::bundled::find(DEMO_MODEL).with_context(|| {
                format!("the bundled demo model {DEMO_MODEL} is missing; pass --model MODEL.onnx")
            })?;
            c.model.path = Some(demo);
        }
        Ok(c)
    }
}

impl ScreenArgs {
    /// The effective config: defaults, then the file, then flags.
    fn config(&self) -> Result<Config> {
        let mut c = self.model.config()?;
        if let Some(v) = self.stride {
            c.sampling.stride = v;
        }
        if let Some(v) = self.fps {
            c.sampling.fps = Some(v);
        }
        if let Some(v) = self.tile {
            c.tile.size = Some(v);
        }
        if let Some(v) = self.overlap {
            c.tile.overlap = v;
        }
        if self.full_frame {
            c.tile.full_frame = true;
        }
        if let Some(v) = &self.bands {
            c.raster.bands = Some(v.clone());
        }
        c.validate()?;
        Ok(c)
    }
}

/// Adds a scene's detections to `detections.geojson`, each with its
/// position and footprint; returns how many.
fn place_detections(
    writer: &mut RunWriter,
    georef: &crate::geo::Georef,
    detections: &[crate::detect::Detection],
    labels: &[String],
    path: &std::path::Path,
) -> Result<u64> {
    let boxes: Vec<_> = detections.iter().map(|d| d.bbox).collect();
    let prints = georef
        .footprints(&boxes)
        .with_context(|| format!("placing the detections of {} on the map", path.display()))?;
    for (d, f) in detections.iter().zip(&prints) {
        let props = json!({
            "source": path,
            "class": crate::detect::class_name(labels, d.class_id),
            "class_id": d.class_id,
            "score": (d.score as f64 * 1e4).round() / 1e4,
            "box": d.bbox.to_array(),
            "lon": f.lon,
            "lat": f.lat,
        });
        writer.push_feature("detections.geojson", f.geometry(), props)?;
    }
    Ok(prints.len() as u64)
}

/// A loaded model and the signatures built for its classes, with what run
/// records say about them.
pub(crate) struct Loaded {
    pub detector: OnnxDetector,
    pub info: crate::detect::onnx::ModelInfo,
    pub signatures: Vec<crate::signature::BuiltSignature>,
    /// Detector and tracker thresholds, as recorded with every event.
    pub thresholds: serde_json::Value,
    pub signatures_json: Vec<serde_json::Value>,
    pub model_json: serde_json::Value,
}

/// Loads the model of `config` and builds its signatures.
pub(crate) fn load(config: &Config, model_path: &std::path::Path) -> Result<Loaded> {
    let post = PostProcess {
        conf: config.detect.conf as f32,
        iou: config.detect.iou as f32,
        max_det: config.detect.max_det,
    };
    let onnx_config = OnnxConfig {
        model: model_path.to_owned(),
        labels: config.model.labels.clone(),
        ort_lib: config.model.ort_lib.clone(),
        threads: config.model.threads,
        imgsz: config.model.imgsz,
        post,
        family: config.model.family,
        preprocess: config.model.preprocess.clone(),
        device: config.model.device()?,
    };
    let detector = OnnxDetector::load(&onnx_config)?;
    let info = detector.info().clone();
    let signatures = crate::signature::build(
        config.signature.as_deref(),
        detector.labels(),
        config.detect.conf,
    )?;
    tracing::info!(model = %model_path.display(), family = ?info.family, classes = info.labels.len(), "model loaded");
    let thresholds = json!({
        "conf": config.detect.conf,
        "iou": config.detect.iou,
        "max_det": config.detect.max_det,
        "track": config.track,
    });
    let signatures_json: Vec<serde_json::Value> = signatures
        .iter()
        .map(|s| {
            let (config, hash) = s.config.fingerprint();
            json!({"name": s.signature.name(), "kind": s.signature.kind(), "config": config, "config_sha256": hash})
        })
        .collect();
    let model_json = json!({
        "path": model_path,
        "sha256": info.sha256,
        "family": info.family,
        "family_reason": info.family_reason,
        "inputs": info.inputs,
        "outputs": info.outputs,
        "metadata": info.metadata,
        "device": info.device,
        "labels": info.labels,
        "labels_source": info.labels_source,
        "preprocess": info.preprocess,
    });
    Ok(Loaded {
        detector,
        info,
        signatures,
        thresholds,
        signatures_json,
        model_json,
    })
}

/// What the run folder records about each input.
#[derive(Debug, Default)]
struct SourceRecord {
    path: PathBuf,
    kind: Option<source::InputKind>,
    sha256: Option<String>,
    info: Option<source::SourceInfo>,
    frames: u64,
    events: u64,
    /// Detections written to `detections.geojson`.
    placed: u64,
    /// A raster's window counts, once its scene is done.
    tiles: Option<serde_json::Value>,
    error: Option<String>,
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(crate) fn default_run_id(out: &std::path::Path) -> String {
    let base = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "run".into());
    (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|id| !out.join(id).exists())
        .expect("some suffix is free")
}

pub fn run(args: &ScreenArgs, quiet: bool) -> Result<Outcome> {
    let started_at = now_rfc3339();
    let t0 = Instant::now();
    let config = args.config()?;
    let model_path = config
        .model
        .path
        .clone()
        .expect("config() always sets the model");

    let (inputs, discover_errors) = source::discover(&args.inputs);
    for e in &discover_errors {
        tracing::error!("{e}");
    }
    if inputs.is_empty() {
        bail!(
            "no images or videos to screen in {}",
            args.inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    let Loaded {
        detector,
        info,
        signatures,
        thresholds,
        signatures_json,
        model_json,
    } = load(&config, &model_path)?;
    let model_sha256 = info.sha256.clone();

    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| default_run_id(&args.out));
    let mut writer = RunWriter::create(&args.out, &run_id)?;
    let run_json = |status: &str,
                    sources: &[SourceRecord],
                    finished_at: Option<String>,
                    summary: serde_json::Value| {
        json!({
            "tool": {"name": "lookout", "version": env!("CARGO_PKG_VERSION")},
            "run_id": run_id,
            "status": status,
            "started_at": started_at,
            "finished_at": finished_at,
            "command": std::env::args().collect::<Vec<_>>(),
            "config": config,
            "thresholds": thresholds,
            "signatures": signatures_json,
            "model": model_json,
            "event_schema": EVENT_SCHEMA,
            "sources": sources.iter().map(|s| json!({
                "path": s.path,
                "kind": s.kind,
                "sha256": s.sha256,
                "info": s.info,
                "frames_screened": s.frames,
                "events": s.events,
                "tiles": s.tiles,
                "detections_placed": s.placed,
                "error": s.error,
            })).collect::<Vec<_>>(),
            "errors": discover_errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            "summary": summary,
        })
    };
    let mut sources: Vec<SourceRecord> = inputs
        .iter()
        .map(|i| SourceRecord {
            path: i.path.clone(),
            kind: Some(i.kind),
            ..Default::default()
        })
        .collect();
    writer.write_run_json(&run_json("running", &sources, None, json!(null)))?;

    let show_progress = !quiet && std::io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(if show_progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style = ProgressStyle::with_template(
        "{prefix:30!} {bar:30} {pos}/{len} frames {per_sec:>10} ETA {eta}",
    )
    .expect("valid template");
    let mut bars: HashMap<usize, ProgressBar> = HashMap::new();
    let mut streams: HashMap<usize, Stream> = HashMap::new();
    let recorder = EventContext {
        labels: info.labels.clone(),
        model_path: model_path.clone(),
        model_sha256: model_sha256.clone(),
        thresholds: thresholds.clone(),
        jpeg_quality: config.output.jpeg_quality,
        signatures: EventContext::signature_table(&signatures),
    };
    let timed_signatures: Vec<_> = signatures
        .iter()
        .map(|s| (s.signature.clone(), s.timing))
        .collect();
    let options = PipelineOptions {
        open: OpenOptions {
            sampling: Sampling {
                stride: config.sampling.stride,
                max_fps: config.sampling.fps,
            },
            decode_threads: config.sampling.decode_threads,
            raster: RasterOptions {
                config: config.raster.clone(),
                tiling: config.tile.raster_tiling(&info.preprocess),
            },
        },
        decode_workers: args.jobs.max(1),
        batch: config.model.batch,
        hash_sources: true,
        tiling: config.tile.tiling(&info.preprocess),
    };

    let result = pipeline::run(&inputs, detector, &options, |item| {
        match item {
            Item::Started {
                source_id,
                path,
                info,
                sha256,
            } => {
                let rec = &mut sources[source_id];
                rec.sha256 = sha256;
                let expected = info
                    .frames_hint
                    .map(|n| n.div_ceil(config.sampling.stride))
                    .unwrap_or(0);
                rec.info = Some(info);
                let bar = multi.add(ProgressBar::new(expected).with_style(style.clone()));
                bar.set_prefix(
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
                bars.insert(source_id, bar);
                streams.insert(
                    source_id,
                    Stream::new(source_id, &config.track, timed_signatures.clone()),
                );
            }
            Item::Frame(Detected { frame, detections }) => {
                let meta = &frame.meta;
                let rec = &mut sources[meta.source_id];
                rec.frames += 1;
                if let Some(bar) = bars.get(&meta.source_id) {
                    bar.inc(1);
                }
                if let Some(scene) = &frame.scene {
                    rec.tiles = Some(scene.tile_counts());
                    if let Some(georef) = &scene.georef {
                        rec.placed += place_detections(
                            &mut writer,
                            georef,
                            &detections,
                            &info.labels,
                            &rec.path,
                        )?;
                    }
                }
                let stream = streams
                    .get_mut(&meta.source_id)
                    .expect("Started precedes frames");
                let updates = stream.observe(&frame, &detections);
                rec.events += updates.iter().filter(|u| u.step == Step::Open).count() as u64;
                recorder.record_all(&mut writer, &updates, &rec.path)?;
            }
            Item::Finished {
                source_id,
                path,
                error,
            } => {
                if let Some(bar) = bars.remove(&source_id) {
                    bar.finish();
                }
                if let Some(mut stream) = streams.remove(&source_id) {
                    let reason = if error.is_some() {
                        "input failed"
                    } else {
                        "end of input"
                    };
                    let updates = stream.finish(reason);
                    recorder.record_all(&mut writer, &updates, &sources[source_id].path)?;
                }
                if let Some(e) = error {
                    tracing::error!("{e}");
                    sources[source_id].error = Some(e.to_string());
                } else {
                    tracing::debug!(path = %path.display(), frames = sources[source_id].frames, "input done");
                }
            }
        }
        Ok(())
    });

    let stats = match result {
        Ok((_, stats)) => stats,
        Err(e) => {
            // Close the events still open, so their evidence is kept, then
            // seal what was written; the run is marked failed.
            let mut open: Vec<usize> = streams.keys().copied().collect();
            open.sort_unstable();
            for source_id in open {
                if let Some(mut stream) = streams.remove(&source_id) {
                    for update in stream.finish("run failed") {
                        if let Err(w) =
                            recorder.record(&mut writer, &update, &sources[source_id].path)
                        {
                            tracing::error!("{w}");
                        }
                    }
                }
            }
            let summary = json!({"error": format!("{e:#}")});
            let _ = writer.finish(&run_json("failed", &sources, Some(now_rfc3339()), summary));
            return Err(e.into());
        }
    };

    let errors = discover_errors.len() + sources.iter().filter(|s| s.error.is_some()).count();
    let frames: u64 = sources.iter().map(|s| s.frames).sum();
    let events: u64 = sources.iter().map(|s| s.events).sum();
    let wall = t0.elapsed().as_secs_f64();
    let summary = json!({
        "inputs": inputs.len() + discover_errors.len(),
        "inputs_failed": errors,
        "frames_screened": frames,
        "events": events,
        "wall_s": wall,
        "pipeline_fps": frames as f64 / stats.wall_time.as_secs_f64().max(1e-9),
        "inference_s": stats.inference_time.as_secs_f64(),
        "inference_calls": stats.inference_calls,
        "tiles_detected": stats.windows,
        "tiles_per_s": stats.windows as f64 / stats.wall_time.as_secs_f64().max(1e-9),
    });
    let dir = writer.finish(&run_json(
        "finished",
        &sources,
        Some(now_rfc3339()),
        summary,
    ))?;
    if !quiet {
        eprintln!(
            "screened {} input(s): {frames} frames, {events} event(s), {errors} error(s) in {wall:.1} s ({:.1} frames/s)",
            inputs.len() + discover_errors.len(),
            frames as f64 / wall.max(1e-9)
        );
    }
    println!("{}", dir.display());
    Ok(Outcome {
        errors,
        flagged: events,
    })
}
