//! `lookout screen`: batch-screen recorded video, images, rasters and
//! folders into a run folder of evidence (see [`crate::run::batch`]).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::ModelArgs;
use super::Exit;
use crate::config::Config;
use crate::run::batch::{self, BatchOptions};
use crate::run::shard::{Shard, ShardBy, ShardSpec};
use crate::run::{RunFolder, Session};

#[derive(Debug, Args)]
pub struct ScreenArgs {
    /// Video files, images, rasters (GeoTIFF, NITF, JPEG 2000, images with
    /// world files), or folders (walked recursively). With --resume, inputs
    /// to add to the run.
    #[arg(required_unless_present = "resume", value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Continue the run folder RUN, which stopped before it finished
    /// (killed, out of disk, interrupted, failed): inputs that finished are
    /// skipped (by sha256), the others are screened again from their start,
    /// in place of what the stopped attempt wrote. The run's own config and
    /// model are used; the resume is recorded in its manifest.
    #[arg(long, value_name = "RUN")]
    pub resume: Option<PathBuf>,
    /// Folder that receives the run folder.
    #[arg(short, long, default_value = "runs", value_name = "DIR")]
    pub out: PathBuf,
    /// Name of the run folder [default: UTC start time, e.g. 20261128T130501Z].
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Screen every Nth frame of video.
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub stride: Option<u64>,
    /// Screen at most F frames per second of video time.
    #[arg(long, allow_negative_numbers = true, value_name = "F")]
    pub fps: Option<f64>,
    /// Which video frames go to the detector: `full`, every frame kept by
    /// --stride and --fps; `adaptive`, every frame while something is
    /// tracked or an event is open, otherwise only where a cheap look
    /// (after taking out the camera's motion) sees something move, a cut
    /// or new ground, and at a base rate (see [sampling.adaptive])
    /// [default: the config's sampling.mode, else "adaptive"].
    #[arg(long, value_enum, value_name = "MODE")]
    pub sample: Option<SampleArg>,
    /// Inputs decoded at the same time.
    #[arg(
        long,
        allow_negative_numbers = true,
        default_value_t = 1,
        value_name = "N"
    )]
    pub jobs: usize,
    /// Raster bands read as red, green, blue (1-based), or one band for
    /// grey, e.g. `--bands 3,2,1` [default: the bands labelled RGB, else
    /// 1,2,3].
    #[arg(long, value_delimiter = ',', value_name = "B,G,R")]
    pub bands: Option<Vec<usize>>,
    /// Also write every detection of every screened frame to
    /// detections.jsonl in the run folder (`lookout eval --detections`
    /// scores it).
    #[arg(long)]
    pub save_detections: bool,
    /// The drone's telemetry for the one video or still screened: a DJI
    /// .SRT, a raw .klv file, an MPEG-TS with KLV, or a CSV or GPX flight
    /// log (aligned by UTC against the video's creation time). Without it,
    /// KLV in the video and a .SRT beside it (same name) are found.
    #[arg(long, value_name = "FILE")]
    pub telemetry: Option<PathBuf>,
    /// Exit with code 1 when any event opened (and nothing failed).
    #[arg(long)]
    pub fail_on_flag: bool,
    /// Screen only part K of N of the inputs (K from 0 to N-1, as Slurm's
    /// SLURM_ARRAY_TASK_ID and Kubernetes' JOB_COMPLETION_INDEX count),
    /// e.g. `--shard 2/8`. Every shard lists the whole batch and keeps its
    /// part (see --shard-by); each input keeps its index in the whole list
    /// as its source id, so the N shard runs together hold the events,
    /// evidence and detections of one unsharded run. A shard with no
    /// inputs writes a finished run with no sources. With --run-id, the
    /// same command again resumes the shard's run if it stopped, and
    /// exits 0 leaving it as it is if it finished.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// How --shard splits the inputs: `hash`, rendezvous hashing of each
    /// input's key (its path relative to --shard-root; without it,
    /// relative to the folder argument it was found in, or, for a file
    /// named directly, its file name), so that adding inputs moves none of
    /// the others and changing N moves few; `index`, round-robin on the
    /// input's position in the whole list (position i goes to shard
    /// i mod N).
    #[arg(long, value_enum, default_value_t = ShardBy::Hash, value_name = "HOW", requires = "shard")]
    pub shard_by: ShardBy,
    /// The folder that --shard's hash keys are relative to; every input
    /// must be under it. Use it when inputs come from several folders
    /// whose files could have the same relative paths.
    #[arg(long, value_name = "DIR", requires = "shard")]
    pub shard_root: Option<PathBuf>,
    /// The Ed25519 key file that seals the run, made on first use
    /// [default: [output] signing_key of the config, else
    /// $LOOKOUT_SIGNING_KEY, else ~/.config/lookout/signing.key].
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<std::path::PathBuf>,
}

pub fn run(args: &ScreenArgs, quiet: bool) -> Result<Exit> {
    if args.jobs == 0 {
        anyhow::bail!("--jobs 0: at least one input must be decoded at a time");
    }
    let config = match &args.resume {
        Some(dir) => resumed_config(args, dir)?,
        None => config(args)?,
    };
    crate::evidence::seal::choose_key_path(
        args.signing_key.as_deref(),
        config.output.signing_key.as_deref(),
    );
    let session = Session::load(config)?;
    let options = BatchOptions {
        inputs: args.inputs.clone(),
        folder: RunFolder {
            out: args.out.clone(),
            run_id: args.run_id.clone(),
            save_detections: args.save_detections,
        },
        jobs: args.jobs,
        progress: !quiet,
        telemetry: args.telemetry.clone(),
        shard: args.shard.map(|shard| ShardSpec {
            shard,
            by: args.shard_by,
            root: args.shard_root.clone(),
        }),
    };
    let outcome = match &args.resume {
        Some(dir) => batch::resume(session, dir, &options)?,
        None => batch::screen(session, &options)?,
    };
    println!("{}", outcome.dir.display());
    Ok(Exit {
        errors: outcome.errors,
        one: args.fail_on_flag && outcome.events > 0,
    })
}

/// The config of a new run: the model flags over the config file.
fn config(args: &ScreenArgs) -> Result<Config> {
    if let Some(t) = &args.telemetry {
        if args.inputs.len() != 1 || !args.inputs[0].is_file() {
            anyhow::bail!(
                "--telemetry {} belongs to one video: give it with a single video or image \
                 (a .SRT beside each video, with the same name, is found without it)",
                t.display()
            );
        }
        if !t.is_file() {
            anyhow::bail!("--telemetry {}: no such file", t.display());
        }
    }
    let mut config = args.model.config()?;
    config.sampling.stride = args.stride.unwrap_or(config.sampling.stride);
    config.sampling.fps = args.fps.or(config.sampling.fps);
    if let Some(mode) = args.sample {
        config.sampling.mode = Some(mode.into());
    }
    config.raster.bands = args.bands.clone().or(config.raster.bands.take());
    Ok(config)
}

/// `screen --resume RUN`: the run's recorded config, with only the flags
/// that do not change what is found (where the model runs, how fast).
fn resumed_config(args: &ScreenArgs, dir: &std::path::Path) -> Result<Config> {
    let m = &args.model;
    let changed: Vec<&str> = [
        (m.config.is_some(), "--config"),
        (m.model.is_some(), "--model"),
        (m.labels.is_some(), "--labels"),
        (m.conf.is_some(), "--conf"),
        (m.iou.is_some(), "--iou"),
        (m.classes.is_some(), "--classes"),
        (m.family.is_some(), "--family"),
        (m.imgsz.is_some(), "--imgsz"),
        (m.tile.is_some(), "--tile"),
        (m.overlap.is_some(), "--overlap"),
        (m.full_frame, "--full-frame"),
        (args.stride.is_some(), "--stride"),
        (args.fps.is_some(), "--fps"),
        (args.sample.is_some(), "--sample"),
        (args.bands.is_some(), "--bands"),
        (args.save_detections, "--save-detections"),
        (args.telemetry.is_some(), "--telemetry"),
        (args.run_id.is_some(), "--run-id"),
        (args.shard.is_some(), "--shard"),
    ]
    .into_iter()
    .filter_map(|(set, flag)| set.then_some(flag))
    .collect();
    if !changed.is_empty() {
        anyhow::bail!(
            "--resume {} screens with the run's own config and model, so that every input is screened alike; \
             leave out {}",
            dir.display(),
            changed.join(", ")
        );
    }
    if !dir.join("run.json").is_file() {
        anyhow::bail!("--resume {}: not a run folder (no run.json)", dir.display());
    }
    let record = crate::evidence::record::RunRecord::read(dir)?;
    let mut config: Config = serde_json::from_value(record.config).map_err(|e| {
        anyhow::anyhow!(
            "{}: its config cannot be read back: {e}",
            dir.join("run.json").display()
        )
    })?;
    // Where and how fast the model runs may change; what it finds may not.
    if let Some(t) = m.threads {
        config.model.threads = t;
    }
    if let Some(w) = m.workers {
        config.model.workers = Some(w);
    }
    if let Some(b) = m.batch {
        config.model.batch = b;
    }
    if let Some(lib) = &m.ort_lib {
        config.model.ort_lib = Some(lib.clone());
    }
    if let Some(d) = &m.device {
        config.model.device = d.clone();
    }
    Ok(config)
}

/// `--sample`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleArg {
    Full,
    Adaptive,
}

impl From<SampleArg> for crate::source::adaptive::SampleMode {
    fn from(a: SampleArg) -> Self {
        match a {
            SampleArg::Full => Self::Full,
            SampleArg::Adaptive => Self::Adaptive,
        }
    }
}
