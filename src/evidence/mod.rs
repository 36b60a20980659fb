//! The evidence store: what a run leaves on disk for reviewers and courts.
//!
//! ```text
//! <out>/<run-id>/
//!   run.json              tool version, effective config, model sha256, sources with sha256
//!   events.jsonl          one line per event step: open, update, close (schema-versioned), flushed as it happens
//!   events/<event-id>/    best frame: frame.jpg (untouched pixels), annotated.jpg, event.json (written at close)
//!   detections.geojson    georeferenced rasters only: every detection's footprint (RFC 7946, WGS84)
//!   events.geojson        georeferenced rasters only: every event's footprint
//!   manifest.jsonl        {seq, path, sha256, bytes, prev_hash, hash} per artefact: a hash chain
//!   manifest.sig          the chain's head signed with this machine's Ed25519 key (see `seal`)
//! ```
//!
//! Artefacts are written to a temporary name in their final folder and
//! renamed into place, so a reader never sees half a file. The two
//! append-only logs (`events.jsonl`, `manifest.jsonl`) are flushed line by
//! line instead, so a killed run keeps every line it finished. The GeoJSON
//! files are streamed and get their closing brackets at the end of the run.

pub mod annotate;
pub mod bundle;
pub mod events;
pub mod manifest;
pub mod record;
pub mod redact;
pub mod seal;
pub mod verify;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use image::RgbImage;

pub use crate::digest::{sha256_file, sha256_hex};
pub use manifest::Manifest;

pub use record::EVENT_SCHEMA;

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode {path}: {message}")]
    Encode { path: PathBuf, message: String },
    #[error("run folder {path} already exists; pick another --run-id")]
    Exists { path: PathBuf },
    #[error("cannot read evidence pixels: {0}")]
    Source(#[from] crate::source::SourceError),
    #[error("cannot place {what} on the map: {source}")]
    Geo {
        what: String,
        source: crate::geo::GeoError,
    },
    #[error("signing key {path}: {message}")]
    Key { path: PathBuf, message: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EvidenceError + '_ {
    move |source| EvidenceError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and
/// a rename, so `path` is either absent or complete.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("artefact");
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Encodes an RGB image as JPEG, with SIMD where the CPU has it: a flagged
/// 720p frame costs two encodes on the writer's thread. Chroma is 4:2:0
/// at every quality: video arrives as 4:2:0, so full-resolution chroma
/// would store detail the source never had, at twice the encoding cost.
pub fn encode_jpeg(
    img: &RgbImage,
    quality: u8,
    path_for_errors: &Path,
) -> Result<Vec<u8>, EvidenceError> {
    let encode_err = |message: String| EvidenceError::Encode {
        path: path_for_errors.to_owned(),
        message,
    };
    let (w, h) = (
        u16::try_from(img.width())
            .map_err(|_| encode_err(format!("width {} exceeds JPEG's 65535", img.width())))?,
        u16::try_from(img.height())
            .map_err(|_| encode_err(format!("height {} exceeds JPEG's 65535", img.height())))?,
    );
    let mut out = Vec::with_capacity(img.as_raw().len() / 8);
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    encoder
        .encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| encode_err(e.to_string()))?;
    Ok(out)
}

/// An open run folder.
pub struct RunWriter {
    dir: PathBuf,
    manifest: Manifest,
    signer: seal::RunSigner,
    events: File,
    /// Open GeoJSON collections by file name, created on first use.
    geojson: std::collections::BTreeMap<String, crate::geo::GeoJsonLog>,
    /// Other append-only logs (`detections.jsonl`), created on first use.
    logs: std::collections::BTreeMap<String, File>,
}

impl RunWriter {
    /// Creates `<out>/<run_id>/`, which must not exist yet.
    /// The run is sealed with this machine's key (see [`seal`]).
    pub fn create(out: &Path, run_id: &str) -> Result<RunWriter, EvidenceError> {
        // The key first: without it the run could not be sealed.
        Self::create_with_signer(out, run_id, seal::RunSigner::load_or_create()?)
    }

    /// Creates the run folder, to be sealed with `signer`.
    pub fn create_with_signer(
        out: &Path,
        run_id: &str,
        signer: seal::RunSigner,
    ) -> Result<RunWriter, EvidenceError> {
        std::fs::create_dir_all(out).map_err(io_err(out))?;
        let dir = out.join(run_id);
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(EvidenceError::Exists { path: dir })
            }
            Err(e) => return Err(io_err(&dir)(e)),
        }
        let events_path = dir.join("events.jsonl");
        let events = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&events_path)
            .map_err(io_err(&events_path))?;
        let manifest = Manifest::create(&dir.join("manifest.jsonl"))?;
        Ok(RunWriter {
            dir,
            manifest,
            signer,
            events,
            geojson: Default::default(),
            logs: Default::default(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes an artefact at `rel` (relative to the run folder) atomically
    /// and records it in the manifest.
    pub fn put(&mut self, rel: &str, bytes: &[u8]) -> Result<(), EvidenceError> {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        write_atomic(&path, bytes)?;
        self.manifest
            .append(rel, &sha256_hex(bytes), bytes.len() as u64)
    }

    /// Appends one line to `events.jsonl` and flushes it.
    pub fn append_event(&mut self, line: &record::EventLine) -> Result<(), EvidenceError> {
        let path = self.dir.join("events.jsonl");
        let mut line = serde_json::to_vec(line).expect("records always serialise");
        line.push(b'\n');
        self.events.write_all(&line).map_err(io_err(&path))?;
        self.events.flush().map_err(io_err(&path))
    }

    /// Appends one line to the log `file` (relative to the run folder),
    /// creating it on first use, and flushes it: a killed run keeps every
    /// line it finished. Logs are recorded in the manifest when the run is
    /// sealed.
    pub fn append_line(&mut self, file: &str, line: &[u8]) -> Result<(), EvidenceError> {
        let path = self.dir.join(file);
        let log = match self.logs.entry(file.to_owned()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(
                OpenOptions::new()
                    .create_new(true)
                    .append(true)
                    .open(&path)
                    .map_err(io_err(&path))?,
            ),
        };
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        log.write_all(&bytes).map_err(io_err(&path))
    }

    /// Appends a feature to the GeoJSON collection `file` (e.g.
    /// `detections.geojson`), creating it on first use.
    pub fn push_feature(
        &mut self,
        file: &str,
        geometry: serde_json::Value,
        properties: serde_json::Value,
    ) -> Result<(), EvidenceError> {
        let path = self.dir.join(file);
        let log = match self.geojson.entry(file.to_owned()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(crate::geo::GeoJsonLog::create(&path).map_err(io_err(&path))?)
            }
        };
        log.push(geometry, properties).map_err(io_err(&path))
    }

    /// Writes `run.json` without recording it; used at start and while
    /// the run goes on, so that an interrupted run still says what it was.
    /// `signing` (the public key that seals the run) is filled in.
    pub fn write_run_json(&self, run: &record::RunRecord) -> Result<(), EvidenceError> {
        let mut run = run.clone();
        run.signing = Some(record::SigningRecord {
            algorithm: "ed25519".into(),
            public_key: self.signer.public_hex(),
            seal: seal::SEAL_FILE.into(),
        });
        let bytes = serde_json::to_vec_pretty(&run).expect("records always serialise");
        write_atomic(&self.dir.join("run.json"), &bytes)
    }

    /// Seals the run: writes the final `run.json`, then records it and
    /// `events.jsonl` in the manifest, which ends the chain, and signs the
    /// chain's head into `manifest.sig`.
    pub fn finish(mut self, run: &record::RunRecord) -> Result<PathBuf, EvidenceError> {
        self.write_run_json(run)?;
        let events_path = self.dir.join("events.jsonl");
        self.events.sync_all().map_err(io_err(&events_path))?;
        let mut closing: Vec<String> = Vec::new();
        for (rel, log) in std::mem::take(&mut self.geojson) {
            let path = self.dir.join(&rel);
            log.finish().map_err(io_err(&path))?;
            closing.push(rel);
        }
        for (rel, log) in std::mem::take(&mut self.logs) {
            let path = self.dir.join(&rel);
            log.sync_all().map_err(io_err(&path))?;
            closing.push(rel);
        }
        closing.extend(["events.jsonl".to_owned(), "run.json".to_owned()]);
        for rel in &closing {
            let path = self.dir.join(rel);
            let sha = sha256_file(&path).map_err(io_err(&path))?;
            let len = std::fs::metadata(&path).map_err(io_err(&path))?.len();
            self.manifest.append(rel, &sha, len)?;
        }
        self.manifest.sync()?;
        let (entries, head) = self.manifest.head();
        let sealed = self.signer.seal(entries, head);
        let bytes = serde_json::to_vec_pretty(&sealed).expect("seals serialise");
        write_atomic(&self.dir.join(seal::SEAL_FILE), &bytes)?;
        Ok(self.dir)
    }
}
