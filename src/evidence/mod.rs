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
//!   resumes/<n>.json      each `screen --resume`: what it found and did (see `RunWriter::resume`)
//!   run.lock, .reserve    while the run is written: its writer (see `lock`), and space kept
//!                         for the end of the run; both gone once it is sealed
//! ```
//!
//! Artefacts are written to a temporary name in their final folder and
//! renamed into place, so a reader never sees half a file. The
//! append-only logs (`events.jsonl`, `manifest.jsonl`, `detections.jsonl`)
//! grow by whole lines ([`AppendLog`]), flushed as they are written, so a
//! killed run keeps every line it finished and a full disk leaves no half
//! line. The GeoJSON files are streamed and get their closing brackets at
//! the end of the run.

pub mod annotate;
pub mod bundle;
pub mod events;
pub mod lock;
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
    #[error("cannot write {path}: {source}{}", full_disk_hint(source))]
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
    #[error("run folder {path} is being written by {who}")]
    Locked { path: PathBuf, who: String },
    #[error("cannot resume {path}: {message}")]
    Resume { path: PathBuf, message: String },
}

/// What to do when the disk is full.
fn full_disk_hint(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::StorageFull {
        " (the disk is full: free space, then `lookout screen --resume RUN` finishes the run)"
    } else {
        ""
    }
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
    // Errors name the artefact, not its temporary name.
    let written = File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(io_err(path));
    if written.is_err() {
        // A full disk or a failing device: leave no half-written file.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A file that only grows by whole lines: a write that fails part-way (a
/// full disk) is cut back off, so the file never holds half a line that
/// later lines would follow.
pub struct AppendLog {
    path: PathBuf,
    file: File,
    len: u64,
}

impl AppendLog {
    /// Creates `path`, which must not exist yet.
    pub fn create(path: &Path) -> Result<AppendLog, EvidenceError> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(path)
            .map_err(io_err(path))?;
        Ok(AppendLog {
            path: path.to_owned(),
            file,
            len: 0,
        })
    }

    /// Opens `path` to go on appending, first cutting off a last line that
    /// a killed writer left unfinished. Returns the log and its whole
    /// lines.
    pub fn reopen(path: &Path) -> Result<(AppendLog, Vec<u8>), EvidenceError> {
        let mut bytes = std::fs::read(path).map_err(io_err(path))?;
        let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(keep);
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io_err(path))?;
        file.set_len(keep as u64).map_err(io_err(path))?;
        Ok((
            AppendLog {
                path: path.to_owned(),
                file,
                len: keep as u64,
            },
            bytes,
        ))
    }

    /// Opens `path`, which holds whole lines only, to go on appending.
    fn append_to(path: &Path) -> Result<AppendLog, EvidenceError> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(io_err(path))?;
        let len = file.metadata().map_err(io_err(path))?.len();
        Ok(AppendLog {
            path: path.to_owned(),
            file,
            len,
        })
    }

    /// Appends `line` and a newline, whole or not at all.
    pub fn append(&mut self, line: &[u8]) -> Result<(), EvidenceError> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
        match self.file.write_all(&bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
                Err(io_err(&self.path)(e))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn sync(&self) -> Result<(), EvidenceError> {
        self.file.sync_all().map_err(io_err(&self.path))
    }
}

/// Space kept free in every run folder while it is written (`.reserve`),
/// and given back just before the run is sealed, so that a run that filled
/// its disk can still write its final `run.json`, its manifest and its
/// seal.
pub const RESERVE_BYTES: usize = 1 << 20;
pub const RESERVE_FILE: &str = ".reserve";

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
    events: AppendLog,
    /// Open GeoJSON collections by file name, created on first use.
    geojson: std::collections::BTreeMap<String, crate::geo::GeoJsonLog>,
    /// Other append-only logs (`detections.jsonl`), created on first use.
    logs: std::collections::BTreeMap<String, AppendLog>,
    /// Held until the run is sealed (see [`lock`]).
    lock: Option<lock::RunLock>,
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
        let lock = lock::RunLock::acquire(&dir)?;
        reserve(&dir)?;
        let events = AppendLog::create(&dir.join("events.jsonl"))?;
        let manifest = Manifest::create(&dir.join("manifest.jsonl"))?;
        Ok(RunWriter {
            dir,
            manifest,
            signer,
            events,
            geojson: Default::default(),
            logs: Default::default(),
            lock: Some(lock),
        })
    }

    /// Reopens the run folder `dir` of a run that stopped before it
    /// finished (killed, failed, interrupted), to go on writing it, as
    /// `lookout screen --resume` does:
    ///
    /// - its lock is taken (a live writer is refused) and the manifest's
    ///   chain is checked, as is every file it lists: a changed folder is
    ///   refused;
    /// - files the manifest does not list (a kill between writing an
    ///   artefact and listing it) are removed, and named in what is
    ///   returned;
    /// - lines and features of the inputs in `withdraw`, which are screened
    ///   again, are taken out of the logs and kept, sealed, under
    ///   `resumes/<n>/withdrawn/`;
    /// - the old seal is removed (it is returned, to be recorded): the new
    ///   one will cover the whole chain.
    ///
    /// The caller writes `resumes/<n>.json` next, which lets the files of
    /// the withdrawn events be listed again (see [`verify`]).
    pub fn resume(
        dir: &Path,
        signer: seal::RunSigner,
        withdraw: &Withdraw,
    ) -> Result<(RunWriter, Resumed), EvidenceError> {
        let refuse = |message: String| EvidenceError::Resume {
            path: dir.to_owned(),
            message,
        };
        let lock = lock::RunLock::acquire(dir)?;
        let (manifest, entries) = Manifest::reopen(&dir.join("manifest.jsonl"))?;
        let mut latest: std::collections::BTreeMap<&str, &manifest::ManifestEntry> =
            Default::default();
        for e in &entries {
            latest.insert(&e.path, e);
        }
        for (rel, e) in &latest {
            match sha256_file(&dir.join(rel)) {
                Ok(sha) if sha == e.sha256 => {}
                Ok(_) => return Err(refuse(format!("{rel} was changed after it was written"))),
                Err(err) => return Err(refuse(format!("{rel}, which the manifest lists: {err}"))),
            }
        }
        // The next number after any resume's files, even those of a resume
        // that was itself killed before it wrote its record.
        let resume = 1 + entries
            .iter()
            .filter_map(|e| {
                let rest = e.path.strip_prefix("resumes/")?;
                let n = rest.split(['/', '.']).next()?;
                n.parse::<u32>().ok()
            })
            .max()
            .unwrap_or(0);
        let seal_path = dir.join(seal::SEAL_FILE);
        let previous_seal = match std::fs::read(&seal_path) {
            Ok(bytes) => {
                std::fs::remove_file(&seal_path).map_err(io_err(&seal_path))?;
                Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
                }))
            }
            Err(_) => None,
        };
        let _ = std::fs::remove_file(dir.join(RESERVE_FILE));
        let mut discarded = Vec::new();
        for f in walkdir::WalkDir::new(dir).sort_by_file_name() {
            let Ok(f) = f else { continue };
            if !f.file_type().is_file() {
                continue;
            }
            let rel = f
                .path()
                .strip_prefix(dir)
                .map(|r| r.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            if latest.contains_key(rel.as_str())
                || verify::UNLISTED.contains(&rel.as_str())
                || LOGS.contains(&rel.as_str())
            {
                continue;
            }
            let bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
            let sha256 = sha256_file(f.path()).unwrap_or_default();
            std::fs::remove_file(f.path()).map_err(io_err(f.path()))?;
            discarded.push(Discarded {
                path: rel,
                bytes,
                sha256,
            });
        }

        let mut resumed = Resumed {
            resume,
            previous_entries: entries.len() as u64,
            previous_head: manifest.head().1.to_owned(),
            previous_seal,
            discarded,
            ..Default::default()
        };
        let by_source = |v: &serde_json::Value| -> bool {
            // A line or feature names its input by index, by path, or as
            // an event's `source: {id, path}`.
            let source = &v["source"];
            let source = if source.is_object() {
                &source["id"]
            } else {
                source
            };
            let gone = match source {
                serde_json::Value::Number(n) => n
                    .as_u64()
                    .is_some_and(|id| withdraw.sources.contains_key(&(id as usize))),
                serde_json::Value::String(p) => withdraw
                    .sources
                    .values()
                    .any(|w| w.as_os_str() == p.as_str()),
                _ => false,
            };
            !gone
        };
        // events.jsonl first: it says which events are withdrawn.
        let events_path = dir.join("events.jsonl");
        let (kept, withdrawn, cut) = filter_lines(&events_path, |v| by_source(v))?;
        let mut withdrawn_ids = std::collections::BTreeSet::new();
        for line in &withdrawn {
            if let Some(id) = serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v["event_id"].as_str().map(str::to_owned))
            {
                withdrawn_ids.insert(id);
            }
        }
        let mut takeouts: Vec<(String, Vec<String>)> = Vec::new();
        note_cut(&mut resumed, "events.jsonl", cut);
        rewrite_lines(&events_path, &kept)?;
        takeouts.push(("events.jsonl".into(), withdrawn));
        let events = AppendLog::append_to(&events_path)?;

        let mut logs = std::collections::BTreeMap::new();
        for rel in [crate::sink::detections::FILE] {
            let path = dir.join(rel);
            if !path.is_file() {
                continue;
            }
            let (kept, withdrawn, cut) = filter_lines(&path, |v| by_source(v))?;
            note_cut(&mut resumed, rel, cut);
            rewrite_lines(&path, &kept)?;
            takeouts.push((rel.to_owned(), withdrawn));
            logs.insert(rel.to_owned(), AppendLog::append_to(&path)?);
        }
        let mut geojson = std::collections::BTreeMap::new();
        for rel in ["detections.geojson", "events.geojson"] {
            let path = dir.join(rel);
            if !path.is_file() {
                continue;
            }
            let (log, dropped) = crate::geo::GeoJsonLog::resume(&path, |f| {
                let props = &f["properties"];
                by_source(props)
                    && !props["event_id"]
                        .as_str()
                        .is_some_and(|id| withdrawn_ids.contains(id))
            })
            .map_err(io_err(&path))?;
            takeouts.push((
                rel.to_owned(),
                dropped.iter().map(|f| f.to_string()).collect(),
            ));
            geojson.insert(rel.to_owned(), log);
        }
        resumed.withdrawn_events = withdrawn_ids.into_iter().collect();

        reserve(dir)?;
        let mut writer = RunWriter {
            dir: dir.to_owned(),
            manifest,
            signer,
            events,
            geojson,
            logs,
            lock: Some(lock),
        };
        for (rel, lines) in takeouts {
            if lines.is_empty() {
                continue;
            }
            let kept_as = format!("resumes/{resume}/withdrawn/{rel}.lines");
            let mut bytes = lines.join("\n").into_bytes();
            bytes.push(b'\n');
            writer.put(&kept_as, &bytes)?;
            resumed.withdrawn_lines.insert(rel, lines.len() as u64);
        }
        Ok((writer, resumed))
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
        let line = serde_json::to_vec(line).expect("records always serialise");
        self.events.append(&line)
    }

    /// Appends one line to the log `file` (relative to the run folder),
    /// creating it on first use, and flushes it: a killed run keeps every
    /// line it finished. Logs are recorded in the manifest when the run is
    /// sealed.
    pub fn append_line(&mut self, file: &str, line: &[u8]) -> Result<(), EvidenceError> {
        let path = self.dir.join(file);
        let log = match self.logs.entry(file.to_owned()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(AppendLog::create(&path)?),
        };
        log.append(line)
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
        // The space kept for this moment.
        let _ = std::fs::remove_file(self.dir.join(RESERVE_FILE));
        self.write_run_json(run)?;
        self.events.sync()?;
        let mut closing: Vec<String> = Vec::new();
        for (rel, log) in std::mem::take(&mut self.geojson) {
            let path = self.dir.join(&rel);
            log.finish().map_err(io_err(&path))?;
            closing.push(rel);
        }
        for (rel, log) in std::mem::take(&mut self.logs) {
            log.sync()?;
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
        if let Some(lock) = self.lock.take() {
            lock.release();
        }
        Ok(self.dir)
    }
}

/// The logs a run folder grows line by line, listed in the manifest only
/// when the run is sealed.
pub const LOGS: &[&str] = &[
    "events.jsonl",
    "run.json",
    crate::sink::detections::FILE,
    "detections.geojson",
    "events.geojson",
];

/// What a resumed run takes back from its earlier attempt: the inputs
/// screened again, by index in the run and path.
#[derive(Debug, Default)]
pub struct Withdraw {
    pub sources: std::collections::BTreeMap<usize, PathBuf>,
}

/// A file a stopped run left that its manifest did not list, removed on
/// resume.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Discarded {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// What [`RunWriter::resume`] found and did, for `resumes/<n>.json`.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Resumed {
    /// 1 for the first resume of a run.
    pub resume: u32,
    /// The chain as the stopped attempt left it.
    pub previous_entries: u64,
    pub previous_head: String,
    /// The stopped attempt's seal, when it sealed (a run that failed or
    /// was interrupted); the new seal covers the whole chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_seal: Option<serde_json::Value>,
    /// Files it left unlisted, removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discarded: Vec<Discarded>,
    /// Bytes of a last line cut short, by log.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub cut_bytes: std::collections::BTreeMap<String, u64>,
    /// Events of inputs screened again, taken out of `events.jsonl`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withdrawn_events: Vec<String>,
    /// Lines (features, for GeoJSON) taken out, by log; they are kept in
    /// `resumes/<n>/withdrawn/<log>.lines`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub withdrawn_lines: std::collections::BTreeMap<String, u64>,
}

fn note_cut(resumed: &mut Resumed, rel: &str, cut: u64) {
    if cut > 0 {
        resumed.cut_bytes.insert(rel.to_owned(), cut);
    }
}

/// The whole lines of the log `path` (missing: none), split by `keep`,
/// and the bytes of a last line cut short.
fn filter_lines(
    path: &Path,
    keep: impl Fn(&serde_json::Value) -> bool,
) -> Result<(Vec<String>, Vec<String>, u64), EvidenceError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_err(path)(e)),
    };
    let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let text = String::from_utf8_lossy(&bytes[..whole]);
    let (mut kept, mut gone) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        if keep(&value) {
            kept.push(line.to_owned());
        } else {
            gone.push(line.to_owned());
        }
    }
    Ok((kept, gone, (bytes.len() - whole) as u64))
}

fn rewrite_lines(path: &Path, lines: &[String]) -> Result<(), EvidenceError> {
    let mut bytes = Vec::new();
    for l in lines {
        bytes.extend_from_slice(l.as_bytes());
        bytes.push(b'\n');
    }
    write_atomic(path, &bytes)
}

/// Writes the run folder's [`RESERVE_FILE`]: real blocks, not a sparse
/// file, so the space is truly taken.
fn reserve(dir: &Path) -> Result<(), EvidenceError> {
    let path = dir.join(RESERVE_FILE);
    std::fs::write(&path, vec![0u8; RESERVE_BYTES]).map_err(|source| {
        let _ = std::fs::remove_file(&path);
        EvidenceError::Io { path, source }
    })
}
