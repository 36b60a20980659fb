//! The typed records of a run folder: `run.json` ([`RunRecord`]), each
//! line of `events.jsonl` ([`EventLine`]) and each `event.json`
//! ([`EventRecord`]). Writers build these types and readers parse them, so
//! a misspelled key is a compile error, not a silent `null`.
//!
//! Each record carries a `schema` number. Readers accept every earlier
//! layout that lookout has written: fields added later are `Option`s or
//! have defaults, and nothing here rejects unknown keys, so a newer writer's
//! additions do not break an older reader. Blobs that only describe (the
//! effective config, the model's tensors, a source's codec details) stay
//! JSON values: they are recorded for people, and typed where they are
//! used (the layers above parse `RunRecord::config` as a `Config`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Layout of `run.json`. 1: the first typed layout (adds `schema` and
/// `mode` to every run; runs written before it read as schema 0).
pub const RUN_SCHEMA: u32 = 1;

/// Layout of the `events.jsonl` lines and `event.json`.
/// 3 added `geo` (position and footprint) and, for rasters, `best_frame.crop`.
pub const EVENT_SCHEMA: u32 = 3;

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a lookout {what}: {source}")]
    Parse {
        path: PathBuf,
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("{path}: line {line} is not a lookout event line: {source}")]
    Line {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, RecordError> {
    std::fs::read(path).map_err(|source| RecordError::Io {
        path: path.to_owned(),
        source,
    })
}

fn parse<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &'static str,
    bytes: &[u8],
) -> Result<T, RecordError> {
    serde_json::from_slice(bytes).map_err(|source| RecordError::Parse {
        path: path.to_owned(),
        what,
        source,
    })
}

/// Which driver wrote the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    /// Runs written before `mode` was recorded were all `screen` runs.
    #[default]
    Screen,
    Watch,
}

impl RunMode {
    /// As `run.json` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Screen => "screen",
            RunMode::Watch => "watch",
        }
    }
}

/// Where a run stands. `run.json` says `running` until the run ends; a run
/// that still says so while no process holds its [`lock`](super::lock)
/// was killed, and [`RunRecord::status_now`] reads it as `interrupted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Finished,
    /// Stopped by an error; `summary.error` says which.
    Failed,
    /// Stopped by SIGINT or SIGTERM, or killed.
    Interrupted,
}

impl RunStatus {
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRecord {
    pub name: String,
    pub version: String,
}

impl ToolRecord {
    /// This build of lookout.
    pub fn this() -> ToolRecord {
        ToolRecord {
            name: "lookout".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The detector and tracker thresholds, as every event repeats them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub conf: f64,
    pub iou: f64,
    pub max_det: usize,
    /// The tracker's settings (`[track]`).
    pub track: Value,
}

/// A signature as the run used it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureRecord {
    pub name: String,
    pub kind: String,
    pub config: Value,
    pub config_sha256: String,
}

/// The detection model as the run loaded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub path: PathBuf,
    pub sha256: String,
    #[serde(default)]
    pub family: Value,
    #[serde(default)]
    pub family_reason: Option<String>,
    #[serde(default)]
    pub inputs: Value,
    #[serde(default)]
    pub outputs: Value,
    #[serde(default)]
    pub metadata: Value,
    #[serde(default)]
    pub device: Value,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub labels_source: Option<String>,
    #[serde(default)]
    pub preprocess: Value,
    /// Class name → role, for the classes that have one (see
    /// `crate::detect::roles`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, String>,
    /// The run used lookout's demo model, trained on synthetic scenes only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
}

/// One input of a `screen` run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceRecord {
    pub path: PathBuf,
    /// `video`, `image` or `raster`; `None` when it could not be told.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    /// Size, rate, codec, CRS, duration: see `source::SourceInfo`.
    #[serde(default)]
    pub info: Option<Value>,
    #[serde(default)]
    pub frames_screened: u64,
    #[serde(default)]
    pub events: u64,
    /// A raster's window counts, once its scene is done.
    #[serde(default)]
    pub tiles: Option<Value>,
    /// Detections placed on the map (a raster's, or a drone frame's).
    #[serde(default)]
    pub detections_placed: u64,
    /// Drone video and stills: frames placed on the ground, by method, and
    /// frames not placed, by reason. The input's `info.telemetry` says
    /// where the telemetry came from, or why there was none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<crate::geo::PlacementCounts>,
    #[serde(default)]
    pub error: Option<String>,
    /// Stretches of a damaged video that could not be decoded: decoding
    /// resynchronised after each, and screening went on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<crate::frame::Gap>,
    /// Video: frames decoded, skipped by the decoder, looked at and
    /// inferred, and why the others were not (see `source::adaptive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<crate::source::adaptive::SamplingCounts>,
    /// Screened to its end (or to its error), with its events closed and
    /// written: `--resume` skips it while its sha256 holds.
    #[serde(default)]
    pub finished: bool,
    /// A sharded run: the input's index in the whole list, which its
    /// events and detections name it by (in an unsharded run, its index
    /// in `sources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

impl SourceRecord {
    /// The input's duration in seconds, when its decoder knew it.
    pub fn duration_s(&self) -> Option<f64> {
        self.info.as_ref()?.get("duration_s")?.as_f64()
    }
}

/// A signature as one feed of a `watch` run applies it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedSignatureRecord {
    pub name: String,
    pub config_sha256: String,
}

/// One feed of a `watch` run, with its counters at the time of writing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedRecord {
    pub name: String,
    pub url: String,
    pub file: bool,
    pub rtsp_transport: Value,
    pub signatures: Vec<FeedSignatureRecord>,
    pub state: String,
    pub frames_in: u64,
    pub frames_processed: u64,
    pub dropped: u64,
    pub reconnects: u64,
    pub events: u64,
    pub alert_latency_p99_s: Option<f64>,
    pub frame_latency_p50_s: Option<f64>,
    pub frame_latency_p99_s: Option<f64>,
    /// Frames placed on the ground from the feed's telemetry, by method,
    /// and frames not placed, by reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<crate::geo::PlacementCounts>,
    /// Why a file feed stopped before its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A damaged file feed's stretches that could not be decoded (each
    /// pass, for a feed that loops).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<crate::frame::Gap>,
}

/// One webhook of a `watch` run, with its delivery counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookRecord {
    pub url: String,
    pub sent: u64,
    pub failed: u64,
    pub dropped: u64,
}

/// The public key that seals the run (see [`super::seal`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SigningRecord {
    pub algorithm: String,
    pub public_key: String,
    pub seal: String,
}

/// What a finished (or failed) run adds up to. Fields a driver does not
/// measure are left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_failed: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feeds: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames_screened: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_fps: Option<f64>,
    /// Seconds spent in inference calls, summed over the inference workers
    /// (with two, up to twice the wall time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_s: Option<f64>,
    /// Inference workers, each with its own copy of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_workers: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_calls: Option<u64>,
    /// Frames (or tiles) per inference call, on average.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_batch_mean: Option<f64>,
    /// Frames (or tiles) whose model outputs held NaN or infinite values,
    /// which give no detections; absent when there were none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_finite_outputs: Option<u64>,
    /// Video frames lost in damaged stretches (each source's `gaps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames_lost: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiles_detected: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiles_per_s: Option<f64>,
    /// Why the run failed, or what interrupted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `signal`: SIGINT or SIGTERM ended the run (for `watch`, its usual
    /// end; for `screen`, an interruption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
}

/// One resume of a run, as `run.json` lists it; `record` is the sealed
/// `resumes/<n>.json` with everything the resume found and did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeNote {
    pub resume: u32,
    pub at: String,
    pub record: String,
    /// How the attempt before it ended.
    pub previous_status: RunStatus,
    /// Inputs skipped as finished, and screened (again).
    pub skipped: usize,
    pub screened: usize,
}

/// The part of a batch that a sharded run (`screen --shard K/N`) screened.
/// The shards of one batch record the same `n`, `by`, `root`,
/// `inputs_total` and `inputs_sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Part `k` (from 0) of `n`.
    pub k: usize,
    pub n: usize,
    /// `hash` (rendezvous hashing of the input keys) or `index` (position
    /// in the whole list, round-robin).
    pub by: String,
    /// `--shard-root`, which the keys are relative to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// Inputs in the whole list, every shard's.
    pub inputs_total: usize,
    /// sha256 of the whole list's keys, in the list's order, each followed
    /// by a 0 byte.
    pub inputs_sha256: String,
    /// Inputs of this shard.
    pub inputs: usize,
}

/// `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// 0 for runs written before the layout was numbered.
    #[serde(default)]
    pub schema: u32,
    pub tool: ToolRecord,
    #[serde(default)]
    pub mode: RunMode,
    pub run_id: String,
    pub status: RunStatus,
    pub started_at: String,
    pub finished_at: Option<String>,
    #[serde(default)]
    pub command: Vec<String>,
    /// The effective config, as `crate::config::Config` serialises it.
    pub config: Value,
    pub thresholds: Thresholds,
    #[serde(default)]
    pub signatures: Vec<SignatureRecord>,
    pub model: ModelRecord,
    pub event_schema: u32,
    /// `screen --shard`: which part of the batch this run is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    /// `screen`: one record per input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceRecord>,
    /// `screen`: inputs that could not even be listed (missing paths).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// `watch`: one record per feed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feeds: Vec<FeedRecord>,
    /// `watch`: where `/metrics` was served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookRecord>,
    /// Artefacts beside the evidence that this run wrote, relative to the
    /// run folder (for example `detections.jsonl`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
    /// Each time the run was continued with `screen --resume`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resumes: Vec<ResumeNote>,
    /// `None` while the run is running.
    #[serde(default)]
    pub summary: Option<Summary>,
    /// Added by the run writer; absent only in a run that never started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningRecord>,
}

impl RunRecord {
    /// The status of the run in folder `dir` as it stands now: `running`
    /// only while a live process holds the run's lock; a run that says
    /// `running` without one was killed, and is `interrupted`.
    pub fn status_now(&self, dir: &Path) -> RunStatus {
        match self.status {
            RunStatus::Running => match super::lock::holder(dir) {
                super::lock::Holder::Alive(_) => RunStatus::Running,
                super::lock::Holder::Gone => RunStatus::Interrupted,
            },
            other => other,
        }
    }

    /// One line for people: the status now, and why a run did not finish.
    pub fn status_line(&self, dir: &Path) -> String {
        let why = self.summary.as_ref().and_then(|s| s.error.as_deref());
        match self.status {
            RunStatus::Running => match super::lock::holder(dir) {
                super::lock::Holder::Alive(Some(who)) => format!(
                    "running (process {} on {}, since {})",
                    who.pid, who.host, who.since
                ),
                super::lock::Holder::Alive(None) => "running".into(),
                super::lock::Holder::Gone => {
                    "interrupted (its process is gone: killed or crashed before it could say so)"
                        .into()
                }
            },
            RunStatus::Interrupted => {
                format!("interrupted ({})", why.unwrap_or("stopped by a signal"))
            }
            RunStatus::Failed => format!("failed ({})", why.unwrap_or("no reason recorded")),
            RunStatus::Finished => "finished".into(),
        }
    }

    /// Reads `run.json` of the run folder `dir`.
    pub fn read(dir: &Path) -> Result<RunRecord, RecordError> {
        let path = dir.join("run.json");
        parse(&path, "run.json", &read(&path)?)
    }

    /// Parses `run.json` from its bytes; `path` names it in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<RunRecord, RecordError> {
        parse(path, "run.json", bytes)
    }

    /// A run as it starts (`running`, no summary yet), written by this
    /// build of lookout with this process's command line.
    pub fn new(
        mode: RunMode,
        run_id: &str,
        started_at: String,
        config: Value,
        thresholds: Thresholds,
        model: ModelRecord,
        signatures: Vec<SignatureRecord>,
    ) -> RunRecord {
        RunRecord {
            schema: RUN_SCHEMA,
            tool: ToolRecord::this(),
            mode,
            run_id: run_id.into(),
            status: RunStatus::Running,
            started_at,
            finished_at: None,
            resumes: Vec::new(),
            command: std::env::args()
                .map(|a| crate::config::hide_password(&a))
                .collect(),
            config,
            thresholds,
            signatures,
            model,
            event_schema: EVENT_SCHEMA,
            shard: None,
            sources: Vec::new(),
            errors: Vec::new(),
            feeds: Vec::new(),
            metrics: None,
            webhooks: Vec::new(),
            outputs: Vec::new(),
            summary: None,
            signing: None,
        }
    }

    /// A record with nothing but its run id, for tests of the writer.
    #[cfg(test)]
    pub(crate) fn stub(run_id: &str) -> RunRecord {
        let model = ModelRecord {
            path: PathBuf::new(),
            sha256: String::new(),
            family: Value::Null,
            family_reason: None,
            inputs: Value::Null,
            outputs: Value::Null,
            metadata: Value::Null,
            device: Value::Null,
            labels: Vec::new(),
            labels_source: None,
            preprocess: Value::Null,
            roles: BTreeMap::new(),
            demo: false,
        };
        let thresholds = Thresholds {
            conf: 0.3,
            iou: 0.5,
            max_det: 300,
            track: Value::Null,
        };
        let config = Value::Null;
        RunRecord::new(
            RunMode::Screen,
            run_id,
            String::new(),
            config,
            thresholds,
            model,
            Vec::new(),
        )
    }
}

pub use crate::event::Step;

/// The input an event was found in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSource {
    /// The input's index in the run (a feed's, for `watch`).
    pub id: usize,
    /// The input's path, or a feed's address.
    pub path: PathBuf,
}

/// The track that anchors an event (the container or vessel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnchorRecord {
    pub track: u64,
    pub class: Option<String>,
}

/// A position and footprint on the map (WGS84).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeoRecord {
    pub lon: f64,
    pub lat: f64,
    /// Closed counter-clockwise ring of `[lon, lat]` (RFC 7946 exterior
    /// ring); empty when only the position is known.
    pub footprint: Vec<[f64; 2]>,
    /// How a drone frame's position was found, best first: `corners` (the
    /// telemetry's frame corners), `pointing` (sensor position, attitude and
    /// field of view over flat ground) or `frame_center` (the frame centre
    /// only, no footprint). Absent for rasters and older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

impl GeoRecord {
    /// The footprint as a GeoJSON Polygon geometry, or the position as a
    /// Point when there is no footprint.
    pub fn geometry(&self) -> Value {
        if self.footprint.is_empty() {
            serde_json::json!({"type": "Point", "coordinates": [self.lon, self.lat]})
        } else {
            serde_json::json!({"type": "Polygon", "coordinates": [self.footprint]})
        }
    }
}

/// Where an event's evidence lies, relative to the run folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artefacts {
    pub frame: String,
    pub annotated: String,
    pub event: String,
}

/// The fields every event line and `event.json` share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSummary {
    pub schema: u32,
    pub event_id: String,
    pub signature: String,
    pub kind: String,
    pub group: String,
    pub source: EventSource,
    pub anchor: Option<AnchorRecord>,
    pub start_s: Option<f64>,
    pub start_frame: u64,
    pub last_s: Option<f64>,
    pub last_frame: u64,
    pub count: u64,
    pub peak_count: u64,
    pub density_per_m2: Option<f64>,
    pub peak_density_per_m2: Option<f64>,
    pub reason: String,
    /// Where the event is, for georeferenced inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<GeoRecord>,
}

/// The frame a step happened at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepAt {
    pub frame_index: u64,
    pub pts_s: Option<f64>,
}

/// One line of `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    #[serde(flatten)]
    pub event: EventSummary,
    pub step: Step,
    pub at: StepAt,
    /// Close steps: the end of the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<String>,
    /// Close steps: the evidence written for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artefacts: Option<Artefacts>,
}

impl EventLine {
    /// Reads every line of `events.jsonl` in the run folder `dir`, naming
    /// the first bad line.
    pub fn read_all(dir: &Path) -> Result<Vec<EventLine>, RecordError> {
        let path = dir.join("events.jsonl");
        let bytes = read(&path)?;
        Self::parse_all(&path, &bytes)
    }

    /// Parses `events.jsonl` from its bytes; `path` names it in errors.
    /// A last line cut short by a kill is ignored, as it was never
    /// finished; any other bad line is an error.
    pub fn parse_all(path: &Path, bytes: &[u8]) -> Result<Vec<EventLine>, RecordError> {
        let text = String::from_utf8_lossy(bytes);
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        let mut out = Vec::with_capacity(lines.len());
        for (i, l) in lines.iter().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(l) {
                Ok(line) => out.push(line),
                Err(_) if i + 1 == lines.len() && !complete => break,
                Err(source) => {
                    return Err(RecordError::Line {
                        path: path.to_owned(),
                        line: i + 1,
                        source,
                    })
                }
            }
        }
        Ok(out)
    }
}

/// A track drawn on the best frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestTrack {
    pub track: u64,
    pub class: String,
    pub class_id: usize,
    /// `anchor` or `subject`.
    pub role: String,
    pub score: f32,
    /// `[x1, y1, x2, y2]` in the frame's (or scene's) pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    #[serde(default)]
    pub geo: Option<GeoRecord>,
}

/// The region of a raster scene that the evidence frame shows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CropRecord {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    /// Scene pixels per evidence pixel.
    pub scale: f64,
}

/// The frame kept for the reviewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestFrameRecord {
    pub rule: String,
    pub frame_index: u64,
    pub pts_s: Option<f64>,
    pub width: u32,
    pub height: u32,
    pub count: u64,
    pub mean_score: f32,
    pub density_per_m2: Option<f64>,
    pub area_m2: Option<f64>,
    /// The anchor's length on the ground (drone frames with a camera model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length_m: Option<f64>,
    pub gsd_m_per_px: Option<f64>,
    pub density_note: Option<String>,
    pub reason: String,
    /// Rasters: the part of the scene in `frame.jpg`.
    #[serde(default)]
    pub crop: Option<CropRecord>,
    pub tracks: Vec<BestTrack>,
}

/// A track's part in an event, over the event's life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackRecord {
    pub track: u64,
    pub class: String,
    pub role: String,
    pub first_s: Option<f64>,
    pub last_s: Option<f64>,
    pub frames: u64,
}

/// The model an event was found with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventModel {
    pub path: PathBuf,
    pub sha256: String,
}

/// `events/<id>/event.json`, written when the event closes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    #[serde(flatten)]
    pub event: EventSummary,
    pub end_s: Option<f64>,
    pub close_reason: Option<String>,
    pub best_frame: BestFrameRecord,
    /// The raster's CRS and geotransform, for georeferenced inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub georef: Option<Value>,
    /// For drone frames placed by telemetry: how (`method`), the pose at
    /// the best frame, the camera it gave, and the frame's footprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground: Option<Value>,
    /// Where the event was on the ground while it held, `[t_s, lon, lat]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ground_track: Vec<[f64; 3]>,
    pub tracks: Vec<TrackRecord>,
    pub signature_config: Value,
    pub signature_config_sha256: String,
    pub model: EventModel,
    pub thresholds: Thresholds,
    pub artefacts: Artefacts,
}

impl EventRecord {
    /// Reads an `event.json`.
    pub fn read(path: &Path) -> Result<EventRecord, RecordError> {
        parse(path, "event.json", &read(path)?)
    }

    /// Parses an `event.json` from its bytes; `path` names it in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<EventRecord, RecordError> {
        parse(path, "event.json", bytes)
    }
}

/// Rounds a time to the microsecond, as every record stores it.
pub fn round_s(v: Option<f64>) -> Option<f64> {
    v.map(|t| (t * 1e6).round() / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run folders written by lookout before the records were typed (the
    /// JSON files only), from `screen` on the sample sortie, `screen` on a
    /// georeferenced GeoTIFF, and `watch` on the sortie played as a feed.
    fn written_before(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/records-v0")
            .join(name)
    }

    fn events_of(dir: &Path) -> Vec<EventRecord> {
        let events = dir.join("events");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&events).unwrap() {
            let path = e.unwrap().path().join("event.json");
            out.push(EventRecord::read(&path).unwrap_or_else(|e| panic!("{e}")));
        }
        assert!(!out.is_empty(), "{}", events.display());
        out
    }

    /// Every record parses, and writes back to what it read (no field is
    /// lost on the way through the types).
    fn round_trips<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
        v: &T,
    ) {
        let back: T = serde_json::from_slice(&serde_json::to_vec(v).unwrap()).unwrap();
        assert_eq!(&back, v);
    }

    #[test]
    fn the_records_of_a_screen_run_written_before_read() {
        let dir = written_before("screen");
        let run = RunRecord::read(&dir).unwrap();
        assert_eq!(run.schema, 0, "written before schemas were numbered");
        assert_eq!(run.mode, RunMode::Screen, "no mode then: screen");
        assert_eq!(run.status, RunStatus::Finished);
        assert_eq!(run.sources.len(), 1);
        assert!(run.sources[0].path.ends_with("sample-sortie.mp4"));
        assert_eq!(run.sources[0].frames_screened, 265);
        assert!(run.sources[0].duration_s().unwrap() > 26.0);
        assert_eq!(run.model.sha256.len(), 64);
        assert_eq!(run.signing.as_ref().unwrap().algorithm, "ed25519");
        assert_eq!(run.summary.as_ref().unwrap().events, Some(2));
        let config: crate::config::Config = serde_json::from_value(run.config.clone()).unwrap();
        assert_eq!(config.detect.conf, run.thresholds.conf);
        round_trips(&run);

        let lines = EventLine::read_all(&dir).unwrap();
        assert_eq!(lines.iter().filter(|l| l.step == Step::Open).count(), 2);
        let closes: Vec<&EventLine> = lines.iter().filter(|l| l.step == Step::Close).collect();
        assert_eq!(closes.len(), 2);
        for c in &closes {
            let a = c.artefacts.as_ref().unwrap();
            assert_eq!(a.event, format!("events/{}/event.json", c.event.event_id));
            assert!(c.end_s.is_some() && c.close_reason.is_some());
        }
        lines.iter().for_each(round_trips);

        for e in events_of(&dir) {
            assert_eq!(e.event.schema, EVENT_SCHEMA);
            assert!(!e.best_frame.tracks.is_empty());
            assert_eq!(e.model.sha256, run.model.sha256);
            assert_eq!(e.signature_config_sha256.len(), 64);
            assert!(e.best_frame.crop.is_none() && e.event.geo.is_none());
            round_trips(&e);
        }
    }

    #[test]
    fn the_records_of_a_raster_run_written_before_read_with_their_places() {
        let dir = written_before("raster");
        let run = RunRecord::read(&dir).unwrap();
        assert_eq!(run.sources[0].kind.as_deref(), Some("raster"));
        assert!(run.sources[0].tiles.is_some());
        round_trips(&run);
        for line in EventLine::read_all(&dir).unwrap() {
            let geo = line.event.geo.as_ref().expect("a georeferenced event");
            assert!((14.0..16.0).contains(&geo.lon) && (37.0..38.0).contains(&geo.lat));
            assert_eq!(geo.footprint.first(), geo.footprint.last(), "a closed ring");
        }
        for e in events_of(&dir) {
            assert!(e.best_frame.crop.is_some());
            assert!(e.georef.is_some());
            assert!(e.best_frame.tracks.iter().all(|t| t.geo.is_some()));
            round_trips(&e);
        }
    }

    #[test]
    fn the_records_of_a_watch_run_written_before_read() {
        let dir = written_before("watch");
        let run = RunRecord::read(&dir).unwrap();
        assert_eq!(run.mode, RunMode::Watch);
        assert!(run.sources.is_empty());
        assert_eq!(run.feeds.len(), 1);
        assert_eq!(run.feeds[0].name, "sample-sortie.mp4");
        assert!(run.feeds[0].frames_processed > 0);
        assert!(!run.feeds[0].signatures.is_empty());
        round_trips(&run);
        EventLine::read_all(&dir)
            .unwrap()
            .iter()
            .for_each(round_trips);
        events_of(&dir).iter().for_each(round_trips);
    }

    #[test]
    fn a_line_cut_by_a_kill_is_ignored_and_any_other_bad_line_is_named() {
        let dir = written_before("screen");
        let bytes = std::fs::read(dir.join("events.jsonl")).unwrap();
        let all = EventLine::parse_all(Path::new("events.jsonl"), &bytes).unwrap();
        let cut = &bytes[..bytes.len() - 40];
        let read = EventLine::parse_all(Path::new("events.jsonl"), cut).unwrap();
        assert_eq!(read.len(), all.len() - 1);
        let mut bad = b"{\"step\": 1}\n".to_vec();
        bad.extend_from_slice(&bytes);
        let err = EventLine::parse_all(Path::new("x/events.jsonl"), &bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("x/events.jsonl: line 1"), "{err}");
    }
}
