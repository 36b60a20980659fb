//! The evaluation driver (`lookout eval`): detections against a labelled
//! set, scored as pycocotools scores them, and a screen run's events
//! against event ground truth, into `report.json`, `report.md` and
//! `report.html` (see [`crate::eval::report`]).
//!
//! The detections come from one of three places: a COCO results file; the
//! session's model run over the labelled images (`--model`), through the
//! same pipeline, detection step and settings as `screen`; or a screen
//! run's saved detections (`--detections RUN`). The last two both give
//! [`FrameDetections`], the lines of `detections.jsonl`, so a run screened
//! with `--save-detections` scores exactly as the model run here would.
//!
//! Which ground-truth image a frame is: the image file of that path, or,
//! for a video, the image whose `frame_index` (or id) is the frame's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget};

use serde_json::{json, Value};

use super::Session;
use crate::eval::classes::{confusion, per_class};
use crate::eval::coco::{evaluate, Params, Stats};
use crate::eval::mapping::ClassMap;
use crate::eval::report::{self, fmt, DetectorReport, EventsReport, GroundTruthSummary, Report};
use crate::eval::{gt, plot, tide, Dataset, EvalError, Prediction};
use crate::pipeline::{self, Detected, Item, PipelineError, PipelineOptions};
use crate::sink::detections::FrameDetections;
use crate::source::{self, raster::RasterOptions, OpenOptions, Sampling};

/// Why the labelled set could not be detected or matched.
#[derive(Debug, thiserror::Error)]
pub enum EvalRunError {
    #[error("the ground truth does not say where its images are; pass --images DIR")]
    NoImageRoot,
    #[error("{first} ({count} input(s) of the ground truth cannot be read)")]
    Unreadable { first: String, count: usize },
    #[error("{first} ({count} image(s) failed)")]
    Failed { first: String, count: usize },
    #[error("--video: images have no frame_index and their ids are not frame indices")]
    NoFrameIndex,
    #[error("cannot read the ground truth {path}: {message}")]
    GroundTruth { path: PathBuf, message: String },
    #[error(transparent)]
    Detect(#[from] crate::detect::DetectError),
    #[error(transparent)]
    Saved(#[from] crate::sink::detections::ReadError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Plot(#[from] plot::PlotError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
    #[error(transparent)]
    Run(#[from] Box<super::RunError>),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: not a COCO results list ([{{image_id, category_id, bbox, score}}, ...]): {source}"
    )]
    NotResults {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: prediction {index} has a non-finite number")]
    NonFinite { path: PathBuf, index: usize },
    #[error("{path}: not a report.json: {source}")]
    NotReport {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("--max-dets must be at least 1")]
    MaxDets,
    #[error("nothing to score: pass --gt with --predictions, --model or --detections, or --events with --events-gt")]
    Nothing,
}

/// How frames are matched to ground-truth images.
#[derive(Debug, Clone)]
pub enum ImageKey {
    /// Still images, by file.
    Files(HashMap<PathBuf, i64>),
    /// The frames of one video, by frame index.
    Frames(HashMap<u64, i64>),
}

impl ImageKey {
    /// Still images: each ground-truth image's file under `root`.
    pub fn files(gt: &Dataset, root: &Path) -> ImageKey {
        ImageKey::Files(
            gt.images
                .iter()
                .map(|i| (root.join(&i.file_name), i.id))
                .collect(),
        )
    }

    /// A video's frames: by the COCO file's `frame_index` fields (as
    /// `scripts/make_sample_sortie.py` writes them), else by image id.
    pub fn frames(gt: &Dataset, gt_path: &Path) -> Result<ImageKey, EvalRunError> {
        let mut map = HashMap::new();
        if gt_path.extension().is_some_and(|e| e == "json") {
            let read_err = |message: String| EvalRunError::GroundTruth {
                path: gt_path.to_owned(),
                message,
            };
            let text = std::fs::read_to_string(gt_path).map_err(|e| read_err(e.to_string()))?;
            let raw: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| read_err(e.to_string()))?;
            for img in raw["images"].as_array().into_iter().flatten() {
                if let (Some(f), Some(id)) = (img["frame_index"].as_u64(), img["id"].as_i64()) {
                    map.insert(f, id);
                }
            }
        }
        if map.is_empty() {
            for img in &gt.images {
                let f = u64::try_from(img.id).map_err(|_| EvalRunError::NoFrameIndex)?;
                map.insert(f, img.id);
            }
        }
        Ok(ImageKey::Frames(map))
    }

    /// The inputs to screen for these images.
    fn inputs(&self, video: Option<&Path>) -> Vec<PathBuf> {
        match (self, video) {
            (ImageKey::Frames(_), Some(v)) => vec![v.to_owned()],
            (ImageKey::Files(by_path), _) => {
                let mut by_id: Vec<(&i64, &PathBuf)> =
                    by_path.iter().map(|(p, id)| (id, p)).collect();
                by_id.sort();
                by_id.into_iter().map(|(_, p)| p.clone()).collect()
            }
            (ImageKey::Frames(_), None) => Vec::new(),
        }
    }

    /// The image a saved frame is, if any. Saved paths are matched as
    /// given, then by their trailing components (a run screened from
    /// another folder).
    fn image_of(&self, frame: &FrameDetections) -> Option<i64> {
        match self {
            ImageKey::Frames(map) => map.get(&frame.frame_index).copied(),
            ImageKey::Files(map) => map.get(&frame.path).copied().or_else(|| {
                map.iter()
                    .find(|(p, _)| p.ends_with(&frame.path) || frame.path.ends_with(p))
                    .map(|(_, &id)| id)
            }),
        }
    }
}

/// Runs the session's model over the images of `key` (the frames of
/// `video` for [`ImageKey::Frames`]), with the session's detection
/// settings and tiling, and returns each frame's detections.
pub fn detect(
    mut session: Session,
    key: &ImageKey,
    video: Option<&Path>,
    progress: bool,
) -> Result<Vec<FrameDetections>, EvalRunError> {
    let paths = key.inputs(video);
    let (inputs, errors) = source::discover(&paths);
    if let Some(e) = errors.first() {
        return Err(EvalRunError::Unreadable {
            first: e.to_string(),
            count: errors.len(),
        });
    }
    let expected = match key {
        ImageKey::Files(m) => m.len(),
        ImageKey::Frames(m) => m.len(),
    };
    let bar = ProgressBar::with_draw_target(
        Some(expected as u64),
        if progress && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    )
    .with_style(super::batch::progress_style(
        "{prefix} {bar:30} {pos}/{len} images {rate} ETA {eta}",
    ))
    .with_prefix("eval");
    let options = PipelineOptions {
        open: OpenOptions {
            // Every labelled frame is scored: eval never samples.
            sampling: Sampling::default(),
            decode_threads: session.config.sampling.decode_threads.unwrap_or(1),
            feedback: None,
            probe_for: None,
            raster: RasterOptions {
                config: session.config.raster.clone(),
                tiling: session.raster_tiling(),
            },
            telemetry: None,
            geo: session.config.geo.clone(),
        },
        decode_workers: 1,
        batch: session.config.model.batch,
        hash_sources: false,
        tiling: session.tiling(),
        batch_wait: None,
    };
    let labels = session.labels().to_vec();
    let detectors = session.take_detectors().map_err(Box::new)?;
    let mut frames = Vec::new();
    let mut failures = Vec::new();
    let result = pipeline::run(&inputs, detectors, &options, |item| {
        match item {
            Item::Frame(Detected { frame, detections }) => {
                bar.inc(1);
                frames.push(FrameDetections::of(
                    frame.meta.source_id,
                    &inputs[frame.meta.source_id].path,
                    &frame,
                    &detections,
                    &[],
                    &labels,
                ));
            }
            Item::Finished { error: Some(e), .. } => failures.push(e.to_string()),
            _ => {}
        }
        Ok::<(), std::convert::Infallible>(())
    });
    bar.finish_and_clear();
    match result {
        Ok(_) => {}
        Err(PipelineError::Detect(e)) => return Err(e.into()),
        Err(PipelineError::Consumer(never)) => match never {},
    }
    if let Some(first) = failures.first() {
        return Err(EvalRunError::Failed {
            first: first.clone(),
            count: failures.len(),
        });
    }
    Ok(frames)
}

/// The COCO predictions of `frames` (category ids are the model's class
/// ids), and how many frames matched no ground-truth image.
pub fn predictions(frames: &[FrameDetections], key: &ImageKey) -> (Vec<Prediction>, usize) {
    let mut preds = Vec::new();
    let mut unmatched = 0;
    for f in frames {
        let Some(image_id) = key.image_of(f) else {
            unmatched += 1;
            continue;
        };
        for d in &f.detections {
            let [x1, y1, x2, y2] = d.bbox.map(f64::from);
            preds.push(Prediction {
                image_id,
                category_id: d.class_id as i64,
                bbox: [x1, y1, x2 - x1, y2 - y1],
                score: f64::from(d.score),
            });
        }
    }
    (preds, unmatched)
}

/// How many ground-truth images no screened frame stands for (a video
/// shorter than its labels, frames that failed to decode): their objects
/// count as misses, so the count is reported and warned about.
fn images_without_frame(
    frames: &[FrameDetections],
    key: &ImageKey,
    gt: &crate::eval::Dataset,
) -> usize {
    let seen: std::collections::BTreeSet<i64> =
        frames.iter().filter_map(|f| key.image_of(f)).collect();
    let missing = gt.images.iter().filter(|i| !seen.contains(&i.id)).count();
    if missing > 0 {
        tracing::warn!(
            "{missing} of the {} ground-truth images had no screened frame; their objects count as misses \
             (a video screened with adaptive sampling, the default, infers only some frames: \
             screen it with --sample full to score every frame)",
            gt.images.len()
        );
    }
    missing
}

/// Where the scored detections come from.
pub enum Detections {
    /// A COCO results file (category ids of the ground truth).
    Results(PathBuf),
    /// The session's model over the labelled images.
    Model(Box<Session>),
    /// The `detections.jsonl` of a screen run.
    Saved(PathBuf),
}

/// What `lookout eval` scores, and where the report goes.
pub struct EvalOptions {
    /// Detection ground truth, with its format when the guess is wrong.
    pub gt: Option<(PathBuf, Option<String>)>,
    pub detections: Option<Detections>,
    /// The images' folder [default: the ground truth's].
    pub images: Option<PathBuf>,
    /// The labelled images are this video's frames.
    pub video: Option<PathBuf>,
    /// Class mapping `MODEL=DATASET,...` (see [`ClassMap::parse`]).
    pub map: Option<String>,
    /// Detections per image per class that count.
    pub max_dets: usize,
    /// The operating point of per-class precision, recall, F1 and the
    /// confusion matrix.
    pub pr_threshold: f64,
    /// A screen run folder and its event ground truth.
    pub events: Option<(PathBuf, PathBuf)>,
    pub out: PathBuf,
    /// Progress bar and one-line results on stderr.
    pub progress: bool,
}

/// Scores what `options` names and writes the report into `options.out`.
pub fn run(options: EvalOptions) -> Result<PathBuf, EvalRunError> {
    if options.max_dets == 0 {
        return Err(EvalRunError::MaxDets);
    }
    let mut report = Report::default();
    let mut svg = String::new();
    let mut options = options;
    let source = options.detections.take();
    match (&options.gt, source) {
        (Some(_), Some(source)) => {
            std::fs::create_dir_all(&options.out).map_err(|e| EvalRunError::Read {
                path: options.out.clone(),
                source: e,
            })?;
            let (detector, chart) = detector_report(&options, source)?;
            report.detector = Some(detector);
            svg = chart;
        }
        (None, None) if options.events.is_some() => {}
        _ => return Err(EvalRunError::Nothing),
    }
    if let Some((run_dir, truth)) = &options.events {
        report.events = Some(event_report(run_dir, truth, options.progress)?);
    }
    report::write(&options.out, &report, &svg)?;
    Ok(options.out)
}

fn read_predictions(path: &Path) -> Result<Vec<Prediction>, EvalRunError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalRunError::Read {
        path: path.to_owned(),
        source,
    })?;
    let preds: Vec<Prediction> =
        serde_json::from_str(&text).map_err(|source| EvalRunError::NotResults {
            path: path.to_owned(),
            source,
        })?;
    if let Some(index) = preds
        .iter()
        .position(|p| p.bbox.iter().any(|v| !v.is_finite()) || !p.score.is_finite())
    {
        return Err(EvalRunError::NonFinite {
            path: path.to_owned(),
            index,
        });
    }
    Ok(preds)
}

fn event_report(
    run_dir: &Path,
    truth_path: &Path,
    progress: bool,
) -> Result<EventsReport, EvalRunError> {
    use crate::eval::events::{load_run, load_truth, score};
    let (truth, video) = load_truth(truth_path)?;
    let (found, video_s) = load_run(run_dir, video.as_deref())?;
    let video_s = if video_s > 0.0 {
        video_s
    } else {
        truth.iter().map(|t| t.end_s).fold(0.0, f64::max)
    };
    let s = score(&truth, &found, video_s);
    if progress {
        eprintln!(
            "events: precision {:.3} recall {:.3} ({} of {} true, {} found), {:.1} false events per hour",
            s.precision, s.recall, s.matched, s.truth, s.found, s.false_events_per_hour
        );
    }
    Ok(EventsReport {
        run: run_dir.to_owned(),
        ground_truth: truth_path.to_owned(),
        score: s,
    })
}

/// How the frames of `options` map to its ground truth's images.
fn image_key(
    options: &EvalOptions,
    gt_path: &Path,
    gt: &Dataset,
) -> Result<ImageKey, EvalRunError> {
    match &options.video {
        Some(_) => ImageKey::frames(gt, gt_path),
        None => {
            let root = options
                .images
                .clone()
                .or_else(|| gt.image_root.clone())
                .ok_or(EvalRunError::NoImageRoot)?;
            Ok(ImageKey::files(gt, &root))
        }
    }
}

/// Class names as `(id, name)` for the class mapping.
fn numbered(labels: &[String]) -> Vec<(i64, String)> {
    labels
        .iter()
        .enumerate()
        .map(|(i, n)| (i as i64, n.clone()))
        .collect()
}

fn detector_report(
    options: &EvalOptions,
    source: Detections,
) -> Result<(DetectorReport, String), EvalRunError> {
    let t0 = std::time::Instant::now();
    let (gt_path, gt_format) = options.gt.as_ref().expect("checked by run()");
    let load_gt = || gt::load(gt_path, gt_format.as_deref());
    // A results file is parsed beside the ground truth: each parse runs on
    // one core, and together they were a third of the bench set's time.
    let (gt, results) = match &source {
        Detections::Results(p) => {
            let (gt, preds) = rayon::join(load_gt, || read_predictions(p));
            (gt?, Some(preds?))
        }
        _ => (load_gt()?, None),
    };
    let map = options.map.as_deref().map(ClassMap::parse).transpose()?;
    let mut unscreened = 0;
    let (gt, preds, mapping, model_json) = match source {
        Detections::Results(p) => {
            let preds = results.expect("read beside the ground truth");
            let names: Vec<(i64, String)> = gt
                .categories
                .iter()
                .map(|c| (c.id, c.name.clone()))
                .collect();
            let (gt, preds, mapping) = match &map {
                Some(m) => m.apply(&gt, &names, preds)?,
                None => (gt, preds, json!(null)),
            };
            (gt, preds, mapping, json!({"predictions": p}))
        }
        Detections::Model(session) => {
            let key = image_key(options, gt_path, &gt)?;
            let labels = session.labels().to_vec();
            let model_json = json!({
                "path": session.model_path,
                "sha256": session.info.sha256,
                "family": session.info.family,
                "labels": labels,
                "thresholds": session.thresholds(),
            });
            let frames = detect(*session, &key, options.video.as_deref(), options.progress)?;
            unscreened = images_without_frame(&frames, &key, &gt);
            let (preds, _) = predictions(&frames, &key);
            let (gt, preds, mapping) =
                map.unwrap_or_default()
                    .apply(&gt, &numbered(&labels), preds)?;
            (gt, preds, mapping, model_json)
        }
        Detections::Saved(run_dir) => {
            let key = image_key(options, gt_path, &gt)?;
            let frames = crate::sink::detections::read(&run_dir)?;
            let run = crate::evidence::record::RunRecord::read(&run_dir).ok();
            let labels = run
                .as_ref()
                .map(|r| r.model.labels.clone())
                .unwrap_or_default();
            unscreened = images_without_frame(&frames, &key, &gt);
            let (preds, unmatched) = predictions(&frames, &key);
            if unmatched > 0 {
                tracing::warn!(run = %run_dir.display(), unmatched, "saved frames that are no image of the ground truth were left out");
            }
            let model_json = json!({
                "detections": run_dir,
                "model": run.as_ref().map(|r| json!({"path": r.model.path, "sha256": r.model.sha256})),
                "thresholds": run.as_ref().map(|r| &r.thresholds),
                "labels": labels,
            });
            let (gt, preds, mapping) =
                map.unwrap_or_default()
                    .apply(&gt, &numbered(&labels), preds)?;
            (gt, preds, mapping, model_json)
        }
    };
    let params = Params::new(options.max_dets);
    let ev = evaluate(&gt, &preds, &params)?;
    let stats = ev.stats();
    let eval_s = t0.elapsed().as_secs_f64();
    let classes = per_class(&ev, &gt, options.pr_threshold);
    let matrix = confusion(&gt, &preds, options.pr_threshold, 0.5);
    let errors = tide::analyse(&gt, &preds, params.max_dets[2]);

    let curves: Vec<plot::Curve> = (0..ev.cat_ids.len())
        .filter(|&k| ev.sweeps[k].1 > 0)
        .map(|k| {
            let (recall, precision) = ev.pr_curve(k, 0);
            plot::Curve {
                label: classes[k].name.clone(),
                recall,
                precision,
            }
        })
        .collect();
    let title = "Precision-recall at IoU 0.5";
    let out = &options.out;
    plot::pr_chart(
        title,
        &curves,
        &out.join("pr_curves.png"),
        &out.join("pr_curves.svg"),
    )?;
    let svg = plot::pr_chart_svg(title, &curves)?;
    let root = options.images.clone().or_else(|| gt.image_root.clone());
    let images = match (&options.video, &root) {
        (Some(_), _) => tide::Images::Unavailable("the images are a video's frames"),
        (None, Some(root)) => tide::Images::Folder(root),
        (None, None) => tide::Images::Unavailable(
            "the ground truth does not say where its images are (pass --images DIR)",
        ),
    };
    tide::write_page(out, &errors, &gt, images)?;
    let max_dets = options.max_dets;
    let report = DetectorReport {
        ground_truth: GroundTruthSummary {
            path: gt_path.to_owned(),
            images: gt.images.len(),
            annotations: gt.annotations.len(),
            categories: gt.categories.len(),
            notes: gt.notes.clone(),
            images_without_frame: unscreened,
        },
        source: model_json,
        predictions: preds.len(),
        class_mapping: mapping,
        max_dets: params.max_dets,
        coco: stats,
        coco_note: (max_dets != 100).then(|| format!("AP is -1 as in pycocotools, whose summarize() asks for a cap of 100; AP at the cap of {max_dets} is ap_at_max_dets")),
        ap_at_max_dets: ev.ap_at_cap(),
        per_class: classes,
        confusion: matrix,
        score_threshold: options.pr_threshold,
        seconds: eval_s,
        errors: Some(errors),
    };
    if options.progress {
        eprintln!(
            "AP {} AP50 {} AP75 {} AR{} {} ({} images, {} predictions, {:.2} s)",
            fmt(stats.ap),
            fmt(stats.ap50),
            fmt(stats.ap75),
            params.max_dets[2],
            fmt(stats.ar100),
            gt.images.len(),
            preds.len(),
            eval_s
        );
    }
    Ok((report, svg))
}

fn load_report(path: &Path) -> Result<Value, EvalRunError> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_owned()
    };
    let text = std::fs::read_to_string(&file).map_err(|source| EvalRunError::Read {
        path: file.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| EvalRunError::NotReport { path: file, source })
}

/// Two reports' COCO stats and per-class AP50 side by side, with deltas,
/// as a table of text.
pub fn compare(a: &Path, b: &Path) -> Result<String, EvalRunError> {
    use std::fmt::Write as _;
    let (ra, rb) = (load_report(a)?, load_report(b)?);
    let mut out = String::new();
    let _ = writeln!(out, "{:<10} {:>10} {:>10} {:>10}", "stat", "A", "B", "B-A");
    for name in Stats::NAMES {
        let x = ra["coco"][name].as_f64().unwrap_or(-1.0);
        let y = rb["coco"][name].as_f64().unwrap_or(-1.0);
        row(&mut out, name, x, y);
    }
    let classes_b: HashMap<String, f64> = rb["per_class"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_owned(),
                c["ap50"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    let _ = writeln!(out, "\nper-class AP50");
    for c in ra["per_class"].as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or("");
        let x = c["ap50"].as_f64().unwrap_or(-1.0);
        let y = classes_b.get(name).copied().unwrap_or(-1.0);
        row(&mut out, name, x, y);
    }
    Ok(out)
}

/// One line of [`compare`]'s table.
fn row(out: &mut String, name: &str, x: f64, y: f64) {
    use std::fmt::Write as _;
    let delta = if x < 0.0 || y < 0.0 {
        "-".to_string()
    } else {
        format!("{:+.4}", y - x)
    };
    let _ = writeln!(out, "{name:<10} {:>10} {:>10} {delta:>10}", fmt(x), fmt(y));
}
