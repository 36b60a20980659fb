//! The model and detection flags that `screen`, `watch` and `eval` share,
//! and how they override the config file.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::config::Config;
use crate::signature::{presence::PresenceConfig, SignatureConfig};

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
    /// Minimum detection score [default: 0.3; for eval 0.001, as COCO mAP
    /// ranks every detection].
    #[arg(long, allow_negative_numbers = true, value_name = "SCORE")]
    pub conf: Option<f64>,
    /// NMS IoU threshold [default: 0.5].
    #[arg(long, allow_negative_numbers = true, value_name = "IOU")]
    pub iou: Option<f64>,
    /// Replace the configured signatures with one: presence of these classes
    /// or roles (comma-separated), e.g. `--classes person` or `--classes vessel`.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub classes: Option<Vec<String>>,
    /// Inference threads, per worker [default: ONNX Runtime's choice; with
    /// several workers, the cores shared among them].
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub threads: Option<usize>,
    /// Inference workers for screen and eval, each with its own copy of the
    /// model [default: 2 on a CPU with 2 cores or more, 1 on a GPU].
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub workers: Option<usize>,
    /// Frames (or tiles) per inference call, for models with a dynamic batch axis.
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
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
    /// Sliced inference: cut frames into tiles of PX pixels, at least 64
    /// [default when given without a value: the model's input size].
    #[arg(long, value_name = "PX", num_args = 0..=1, default_missing_value = "model",
          value_parser = parse_tile)]
    pub tile: Option<u32>,
    /// Share of a tile that overlaps its neighbour [default: 0.2].
    #[arg(long, allow_negative_numbers = true, value_name = "F")]
    pub overlap: Option<f32>,
    /// With tiling, also detect on the whole frame or scene shrunk to one
    /// tile, for objects larger than a tile.
    #[arg(long)]
    pub full_frame: bool,
}

impl ModelArgs {
    /// The config file (or the defaults) with these flags applied. Not yet
    /// validated: the run layer does that.
    pub fn config(&self) -> Result<Config> {
        let mut c = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        let m = &mut c.model;
        m.path = self.model.clone().or(m.path.take());
        m.labels = self.labels.clone().or(m.labels.take());
        m.ort_lib = self.ort_lib.clone().or(m.ort_lib.take());
        m.threads = self.threads.unwrap_or(m.threads);
        m.workers = self.workers.or(m.workers);
        m.batch = self.batch.unwrap_or(m.batch);
        if let Some(v) = &self.family {
            m.family = Some(crate::detect::family::Family::parse(v)?);
        }
        if let Some(v) = &self.device {
            m.device = v.clone();
        }
        m.imgsz = self.imgsz.or(m.imgsz);
        c.detect.conf = self.conf.unwrap_or(c.detect.conf);
        c.detect.iou = self.iou.unwrap_or(c.detect.iou);
        c.tile.size = self.tile.or(c.tile.size);
        c.tile.overlap = self.overlap.unwrap_or(c.tile.overlap);
        c.tile.full_frame |= self.full_frame;
        if let Some(v) = &self.classes {
            let classes = v
                .iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect();
            c.signature = Some(vec![SignatureConfig::Presence(PresenceConfig::of(classes))]);
        }
        Ok(c)
    }
}

/// `--tile PX`: a size of at least [`crate::config::MIN_TILE`], or `model`
/// (what a bare `--tile` means) for the model's input size, kept as 0 as
/// `[tile] size = 0` is.
fn parse_tile(v: &str) -> Result<u32, String> {
    if v == "model" {
        return Ok(0);
    }
    let min = crate::config::MIN_TILE;
    match v.parse::<u32>() {
        Ok(px) if px >= min => Ok(px),
        Ok(px) => Err(format!(
            "{px} px is below the smallest tile, {min} px (give --tile alone for the model's input size)"
        )),
        Err(_) => Err(format!("{v:?} is not a number of pixels")),
    }
}

/// `--store`, for the commands that write or read review records.
#[derive(Debug, Clone, Args)]
pub struct StoreArg {
    /// Review store: postgres://user:password@host:port/database for one
    /// PostgreSQL database shared by workers and reviewers (TLS with
    /// ?sslmode=verify-full&sslrootcert=CA.pem), or `sqlite` for
    /// review.sqlite in each run folder [default: $LOOKOUT_STORE, else the
    /// config's [store] url, else sqlite].
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

impl StoreArg {
    /// The store chosen by the flag, the environment, then `config`.
    pub fn spec(&self, config: Option<&str>) -> Result<crate::review::store::StoreSpec> {
        crate::review::store::StoreSpec::choose(self.store.as_deref(), config)
            .map_err(anyhow::Error::msg)
    }

    /// The PostgreSQL URL chosen, if the store is PostgreSQL (for
    /// `[store] url` of a run's config).
    pub fn url(&self, config: Option<&str>) -> Result<Option<String>> {
        Ok(match self.spec(config)? {
            crate::review::store::StoreSpec::Postgres(url) => Some(url),
            crate::review::store::StoreSpec::Sqlite => None,
        })
    }

    /// Connects to the chosen store when it is PostgreSQL.
    pub fn connect(
        &self,
        config: Option<&str>,
    ) -> Result<Option<std::sync::Arc<crate::review::pg::PgStore>>> {
        Ok(match self.url(config)? {
            Some(url) => Some(std::sync::Arc::new(crate::review::pg::PgStore::connect(
                &url,
            )?)),
            None => None,
        })
    }
}
