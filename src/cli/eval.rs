//! `lookout eval`: score a detector against a labelled set, with COCO
//! metrics equal to pycocotools', per-class figures, a confusion matrix and
//! precision–recall curves, written as `report.json`, `report.md` and a
//! self-contained `report.html`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use crate::detect::family::PostProcess;
use crate::detect::onnx::{OnnxConfig, OnnxDetector};
use crate::detect::Detector;
use crate::eval::classes::{confusion, per_class};
use crate::eval::coco::{evaluate, Params, Stats};
use crate::eval::mapping::ClassMap;
use crate::eval::report::{self, fmt, DetectorReport, EventsReport, GroundTruthSummary, Report};
use crate::eval::{gt, plot, Dataset, Prediction};
use crate::pipeline::{self, Detected, Item, PipelineOptions};
use crate::source::{self, raster::RasterOptions, OpenOptions, Sampling};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Ground truth: COCO JSON, a YOLO data.yaml or folder, or a VisDrone folder.
    #[arg(long, value_name = "PATH", required_unless_present_any = ["compare", "events"])]
    pub gt: Option<PathBuf>,
    /// Ground-truth format, when the guess is wrong: coco, yolo, visdrone.
    #[arg(long, value_name = "FORMAT")]
    pub gt_format: Option<String>,
    /// Predictions as a COCO results JSON (category ids of the ground truth).
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    pub predictions: Option<PathBuf>,
    /// Run this ONNX model over the images instead of reading predictions.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// Image folder for --model [default: the ground truth's image folder].
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// With --model: take the frames of this video as the images, matched by
    /// the ground truth images' `frame_index` (COCO) or else their id.
    #[arg(long, value_name = "FILE", requires = "model")]
    pub video: Option<PathBuf>,
    /// Class names for --model (one per line, or a YOLO data.yaml).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// ONNX Runtime library (libonnxruntime.so).
    #[arg(long, value_name = "FILE")]
    pub ort_lib: Option<PathBuf>,
    /// Input size for models with dynamic height and width [default: 640].
    #[arg(long, value_name = "PX")]
    pub imgsz: Option<u32>,
    /// With --model: sliced inference, tiles of PX pixels [default when given
    /// without a value: the model's input size]; see `lookout screen --tile`.
    #[arg(long, value_name = "PX", num_args = 0..=1, default_missing_value = "0", requires = "model")]
    pub tile: Option<u32>,
    /// Share of a tile that overlaps its neighbour.
    #[arg(long, default_value_t = 0.2, value_name = "F")]
    pub overlap: f32,
    /// Least detection score kept when running --model.
    #[arg(long, default_value_t = 0.001, value_name = "SCORE")]
    pub model_conf: f64,
    /// Class mapping MODEL=DATASET, comma-separated; several dataset
    /// classes may map to one model class; `NAME=` drops a model class and
    /// `=NAME` a dataset class. E.g. "person=pedestrian,person=people,vessel=boat".
    #[arg(long, value_name = "PAIRS")]
    pub map: Option<String>,
    /// Detections per image per class that count (pycocotools: 100).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub max_dets: usize,
    /// Score threshold for per-class precision, recall, F1 and the confusion matrix.
    #[arg(long, default_value_t = 0.3, value_name = "SCORE")]
    pub conf: f64,
    /// Score the events of this `lookout screen` run folder...
    #[arg(long, value_name = "RUN_DIR", requires = "events_gt")]
    pub events: Option<PathBuf>,
    /// ...against this event ground truth (as the scene generator writes it).
    #[arg(long, value_name = "FILE", requires = "events")]
    pub events_gt: Option<PathBuf>,
    /// Folder for report.json, report.md, report.html and the plots.
    #[arg(long, value_name = "DIR", required_unless_present = "compare")]
    pub out: Option<PathBuf>,
    /// Compare two report folders (or report.json files) side by side.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    pub compare: Option<Vec<PathBuf>>,
}

fn read_predictions(path: &Path) -> Result<Vec<Prediction>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let preds: Vec<Prediction> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a COCO results list ([{{image_id, category_id, bbox, score}}, ...])",
            path.display()
        )
    })?;
    if let Some(bad) = preds
        .iter()
        .position(|p| p.bbox.iter().any(|v| !v.is_finite()) || !p.score.is_finite())
    {
        bail!(
            "{}: prediction {bad} has a non-finite number",
            path.display()
        );
    }
    Ok(preds)
}

/// Runs `model` over the ground truth's images. Returns predictions with
/// the model's class ids as category ids, and the model's class names.
fn run_model(
    args: &EvalArgs,
    model: &Path,
    gt: &Dataset,
    quiet: bool,
) -> Result<(Vec<Prediction>, Vec<String>, Value)> {
    let mut config = OnnxConfig::new(model);
    config.labels = args.labels.clone();
    config.ort_lib = args.ort_lib.clone();
    config.imgsz = args.imgsz;
    config.post = PostProcess {
        conf: args.model_conf as f32,
        iou: 0.7,
        max_det: args.max_dets.max(100),
    };
    let detector = OnnxDetector::load(&config)?;
    let info = detector.info().clone();
    let labels = detector.labels().to_vec();
    // Which ground-truth image each decoded frame is: by file for images,
    // by frame index for a video.
    let (paths, by_frame): (Vec<PathBuf>, Option<HashMap<u64, i64>>) = match &args.video {
        Some(video) => (vec![video.clone()], Some(frame_index_map(args, gt)?)),
        None => {
            let root = args
                .images
                .clone()
                .or_else(|| gt.image_root.clone())
                .context("the ground truth does not say where its images are; pass --images DIR")?;
            (
                gt.images.iter().map(|i| root.join(&i.file_name)).collect(),
                None,
            )
        }
    };
    let (inputs, errors) = source::discover(&paths);
    if let Some(e) = errors.first() {
        bail!(
            "{e} ({} input(s) of the ground truth cannot be read)",
            errors.len()
        );
    }
    let by_path: HashMap<PathBuf, i64> = paths
        .iter()
        .zip(&gt.images)
        .map(|(p, i)| (p.clone(), i.id))
        .collect();
    let bar = ProgressBar::with_draw_target(
        Some(gt.images.len() as u64),
        if !quiet && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    )
    .with_style(
        ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} images {per_sec} ETA {eta}")
            .expect("valid template"),
    )
    .with_prefix("eval");
    let tile = crate::config::TileConfig {
        size: args.tile,
        overlap: args.overlap,
        ..Default::default()
    };
    let options = PipelineOptions {
        open: OpenOptions {
            sampling: Sampling {
                stride: 1,
                max_fps: None,
            },
            decode_threads: 1,
            raster: RasterOptions {
                config: Default::default(),
                tiling: tile.raster_tiling(&info.preprocess),
            },
        },
        decode_workers: 1,
        batch: 1,
        hash_sources: false,
        tiling: tile.tiling(&info.preprocess),
    };
    let mut preds = Vec::new();
    let mut failures = Vec::new();
    pipeline::run(&inputs, detector, &options, |item| {
        match item {
            Item::Frame(Detected { frame, detections }) => {
                bar.inc(1);
                let image_id = match &by_frame {
                    Some(map) => match map.get(&frame.meta.frame_index) {
                        Some(&id) => id,
                        None => return Ok(()),
                    },
                    None => by_path[&inputs[frame.meta.source_id].path],
                };
                for d in detections {
                    let b = d.bbox;
                    preds.push(Prediction {
                        image_id,
                        category_id: d.class_id as i64,
                        bbox: [
                            f64::from(b.x1),
                            f64::from(b.y1),
                            f64::from(b.x2 - b.x1),
                            f64::from(b.y2 - b.y1),
                        ],
                        score: f64::from(d.score),
                    });
                }
            }
            Item::Finished { error: Some(e), .. } => failures.push(e.to_string()),
            _ => {}
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    if let Some(e) = failures.first() {
        bail!("{e} ({} image(s) failed)", failures.len());
    }
    let model_json =
        json!({"path": model, "sha256": info.sha256, "family": info.family, "labels": labels});
    Ok((preds, labels, model_json))
}

/// Frame index to image id, from the COCO file's `frame_index` fields
/// (as `scripts/make_sample_sortie.py` writes them), or the image ids.
fn frame_index_map(args: &EvalArgs, gt: &Dataset) -> Result<HashMap<u64, i64>> {
    let mut map = HashMap::new();
    if let Some(path) = args
        .gt
        .as_ref()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        for img in raw["images"].as_array().into_iter().flatten() {
            if let (Some(f), Some(id)) = (img["frame_index"].as_u64(), img["id"].as_i64()) {
                map.insert(f, id);
            }
        }
    }
    if map.is_empty() {
        for img in &gt.images {
            let f = u64::try_from(img.id).context(
                "--video: images have no frame_index and their ids are not frame indices",
            )?;
            map.insert(f, img.id);
        }
    }
    Ok(map)
}

pub fn run(args: &EvalArgs, quiet: bool) -> Result<()> {
    if let Some(pair) = &args.compare {
        return compare(&pair[0], &pair[1]);
    }
    let Some(out) = &args.out else {
        bail!("--out DIR is needed (or --compare A B)");
    };
    if args.max_dets == 0 {
        bail!("--max-dets must be at least 1");
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut report = Report::default();
    let mut svg = String::new();
    if let Some(gt_path) = &args.gt {
        let (detector, chart) = detector_report(args, gt_path, out, quiet)?;
        report.detector = Some(detector);
        svg = chart;
    }
    if let (Some(run_dir), Some(truth)) = (&args.events, &args.events_gt) {
        report.events = Some(event_report(run_dir, truth, quiet)?);
    }
    report::write(out, &report, &svg)?;
    println!("{}", out.display());
    Ok(())
}

fn event_report(run_dir: &Path, truth_path: &Path, quiet: bool) -> Result<EventsReport> {
    use crate::eval::events::{load_run, load_truth, score};
    let (truth, video) = load_truth(truth_path)?;
    let (found, video_s) = load_run(run_dir, video.as_deref())?;
    let video_s = if video_s > 0.0 {
        video_s
    } else {
        truth.iter().map(|t| t.end_s).fold(0.0, f64::max)
    };
    let s = score(&truth, &found, video_s);
    if !quiet {
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

fn detector_report(
    args: &EvalArgs,
    gt_path: &Path,
    out: &Path,
    quiet: bool,
) -> Result<(DetectorReport, String)> {
    let t0 = std::time::Instant::now();
    let gt = gt::load(gt_path, args.gt_format.as_deref())?;
    let map = args.map.as_deref().map(ClassMap::parse).transpose()?;
    let (gt, preds, mapping, model_json) = match (&args.predictions, &args.model) {
        (Some(p), None) => {
            let preds = read_predictions(p)?;
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
        (None, Some(model)) => {
            let (preds, labels, model_json) = run_model(args, model, &gt, quiet)?;
            let names: Vec<(i64, String)> = labels
                .iter()
                .enumerate()
                .map(|(i, n)| (i as i64, n.clone()))
                .collect();
            let m = map.unwrap_or_default();
            let (gt, preds, mapping) = m.apply(&gt, &names, preds)?;
            (gt, preds, mapping, model_json)
        }
        _ => bail!("with --gt, pass either --predictions RESULTS.json or --model MODEL.onnx"),
    };
    let params = Params::new(args.max_dets);
    let ev = evaluate(&gt, &preds, &params)?;
    let stats = ev.stats();
    let eval_s = t0.elapsed().as_secs_f64();
    let classes = per_class(&ev, &gt, args.conf);
    let matrix = confusion(&gt, &preds, args.conf, 0.5);

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
    plot::pr_chart(
        title,
        &curves,
        &out.join("pr_curves.png"),
        &out.join("pr_curves.svg"),
    )?;
    let svg = plot::pr_chart_svg(title, &curves)?;

    let report = DetectorReport {
        ground_truth: GroundTruthSummary {
            path: gt_path.to_owned(),
            images: gt.images.len(),
            annotations: gt.annotations.len(),
            categories: gt.categories.len(),
            notes: gt.notes.clone(),
        },
        source: model_json,
        predictions: preds.len(),
        class_mapping: mapping,
        max_dets: params.max_dets,
        coco: stats,
        coco_note: (args.max_dets != 100).then(|| format!("AP is -1 as in pycocotools, whose summarize() asks for a cap of 100; AP at the cap of {} is ap_at_max_dets", args.max_dets)),
        ap_at_max_dets: ev.ap_at_cap(),
        per_class: classes,
        confusion: matrix,
        score_threshold: args.conf,
        seconds: eval_s,
    };
    if !quiet {
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

fn load_report(path: &Path) -> Result<Value> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_owned()
    };
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a report.json", file.display()))
}

/// Prints two reports' COCO stats and per-class AP side by side with deltas.
fn compare(a: &Path, b: &Path) -> Result<()> {
    let (ra, rb) = (load_report(a)?, load_report(b)?);
    println!("{:<10} {:>10} {:>10} {:>10}", "stat", "A", "B", "B-A");
    let row = |name: &str, x: f64, y: f64| {
        let delta = if x < 0.0 || y < 0.0 {
            "-".to_string()
        } else {
            format!("{:+.4}", y - x)
        };
        println!("{name:<10} {:>10} {:>10} {delta:>10}", fmt(x), fmt(y));
    };
    for name in Stats::NAMES {
        let x = ra["coco"][name].as_f64().unwrap_or(-1.0);
        let y = rb["coco"][name].as_f64().unwrap_or(-1.0);
        row(name, x, y);
    }
    println!("\nper-class AP50");
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
    for c in ra["per_class"].as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or("");
        let x = c["ap50"].as_f64().unwrap_or(-1.0);
        let y = classes_b.get(name).copied().unwrap_or(-1.0);
        row(name, x, y);
    }
    Ok(())
}
