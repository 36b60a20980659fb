//! `lookout eval`: score a detector against a labelled set (COCO metrics
//! equal to pycocotools'), or a screen run's events against event ground
//! truth, into `report.json`, `report.md` and `report.html` (see
//! [`crate::run::eval`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::ModelArgs;
use crate::run::eval::{self, Detections, EvalOptions};
use crate::run::Session;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Ground truth: COCO JSON, a YOLO data.yaml or folder, or a VisDrone folder.
    #[arg(long, value_name = "PATH", required_unless_present_any = ["compare", "events"])]
    pub gt: Option<PathBuf>,
    /// Ground-truth format, when the guess is wrong: coco, yolo, visdrone.
    #[arg(long, value_name = "FORMAT")]
    pub gt_format: Option<String>,
    /// Predictions as a COCO results JSON (category ids of the ground truth).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["model", "detections"])]
    pub predictions: Option<PathBuf>,
    /// Score the detections a `screen --save-detections` run saved
    /// (its detections.jsonl), without running the model again.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "model")]
    pub detections: Option<PathBuf>,
    /// The model (-m/--model) and detection flags are screen's: with
    /// --model, the model runs over the images with them. The detection
    /// threshold --conf defaults to 0.001 here unless a config file is given.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Image folder [default: the ground truth's image folder].
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// The images are this video's frames, matched by the ground truth
    /// images' `frame_index` (COCO) or else their id.
    #[arg(long, value_name = "FILE")]
    pub video: Option<PathBuf>,
    /// Class mapping MODEL=DATASET, comma-separated; several dataset
    /// classes may map to one model class; `NAME=` drops a model class and
    /// `=NAME` a dataset class. E.g. "person=pedestrian,person=people,vessel=boat".
    #[arg(long, value_name = "PAIRS")]
    pub map: Option<String>,
    /// Detections per image per class that count (pycocotools: 100).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub max_dets: usize,
    /// Operating point of the per-class precision, recall, F1 and confusion
    /// matrix: detections scoring below it count as not found. (Not the
    /// detection threshold, which is --conf.)
    #[arg(long, default_value_t = 0.3, value_name = "SCORE")]
    pub pr_threshold: f64,
    /// Score the events of this `lookout screen` run folder...
    #[arg(long, value_name = "RUN_DIR", requires = "events_gt")]
    pub events: Option<PathBuf>,
    /// ...against this event ground truth (as the scene generator writes it).
    #[arg(long, value_name = "FILE", requires = "events")]
    pub events_gt: Option<PathBuf>,
    /// Folder for report.json, report.md, report.html and the plots
    /// [default: runs/eval-<UTC start time>].
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Compare two report folders (or report.json files) side by side.
    #[arg(long, num_args = 2, value_names = ["A", "B"])]
    pub compare: Option<Vec<PathBuf>>,
}

pub fn run(args: &EvalArgs, quiet: bool) -> Result<()> {
    // NaN compares false with everything: it would count every detection
    // as below the operating point, silently.
    let t = args.pr_threshold;
    if !(0.0..=1.0).contains(&t) {
        anyhow::bail!("--pr-threshold {t} is not a score between 0 and 1");
    }
    if let Some(pair) = &args.compare {
        print!("{}", eval::compare(&pair[0], &pair[1])?);
        return Ok(());
    }
    let detections = match (&args.predictions, &args.detections, &args.model.model) {
        (Some(p), _, _) => Some(Detections::Results(p.clone())),
        (None, Some(run), _) => Some(Detections::Saved(run.clone())),
        (None, None, Some(_)) => {
            let mut config = args.model.config()?;
            if args.model.conf.is_none() && args.model.config.is_none() {
                config.detect.conf = 0.001;
            }
            Some(Detections::Model(Box::new(Session::load_model(config)?)))
        }
        (None, None, None) => None,
    };
    let out = args.out.clone().unwrap_or_else(|| {
        let runs = PathBuf::from("runs");
        runs.join(format!("eval-{}", crate::clock::run_id_now(&runs)))
    });
    let out = eval::run(EvalOptions {
        gt: args.gt.clone().map(|g| (g, args.gt_format.clone())),
        detections,
        images: args.images.clone(),
        video: args.video.clone(),
        map: args.map.clone(),
        max_dets: args.max_dets,
        pr_threshold: args.pr_threshold,
        events: args.events.clone().zip(args.events_gt.clone()),
        out,
        progress: !quiet,
    })?;
    println!("{}", out.display());
    Ok(())
}
