//! The exports of `lookout export`: reviewed events out of a sealed run
//! folder, as a verifiable bundle, as training annotations (COCO, CVAT,
//! Label Studio) or as GeoJSON. One file per format, each a
//! [`Sink`]`<`[`ReviewedEvent`]`>`: `accept` takes one chosen event, `finish`
//! writes the output.
//!
//! [`choose`] reads the run's closed events and review record and picks
//! the events to export; [`export`] hands them to the format's sink, with
//! blurred copies of their frames when a [`redact::Redactor`] is given.
//! The run folder is never written to: it stays as sealed. Before
//! anything is read or written, [`check_run`] verifies the run as
//! `lookout verify` does, and [`check_out`] refuses a place inside it.
//!
//! **Adding a format** is one new file here with a sink, one [`Format`]
//! variant and one arm in [`Format::sink`].

pub mod bundle;
pub mod coco;
pub mod cvat;
pub mod geojson;
pub mod images;
pub mod label_studio;
pub mod redact;

use std::path::{Path, PathBuf};

use crate::evidence::record::{EventLine, EventRecord, RecordError, RunStatus, Step};
use crate::review::db::{ReviewError, ReviewExport, Verdict, STATUSES};
use crate::review::pg::PgStore;

use super::{Sink, SinkError};
use redact::{RedactedCopy, Redactor};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A zip of the events with their manifest, seal and review record,
    /// which `lookout verify` accepts.
    Bundle,
    /// COCO detection JSON and the frames.
    Coco,
    /// CVAT for images 1.1 XML and the frames.
    Cvat,
    /// Label Studio tasks with predictions, and the frames.
    #[value(name = "labelstudio")]
    LabelStudio,
    /// Events with their positions (georeferenced runs only).
    Geojson,
}

impl Format {
    /// The name on the command line and in default file names.
    pub fn name(self) -> &'static str {
        match self {
            Format::Bundle => "bundle",
            Format::Coco => "coco",
            Format::Cvat => "cvat",
            Format::LabelStudio => "labelstudio",
            Format::Geojson => "geojson",
        }
    }

    /// Whether the export carries frames (and so can be redacted).
    pub fn has_frames(self) -> bool {
        self != Format::Geojson
    }

    /// Where an export of `run_id` goes when no place is given:
    /// `exports/<run>-<format>` (a `.zip` or `.geojson` file, or a folder).
    pub fn default_out(self, run_id: &str) -> PathBuf {
        let ext = match self {
            Format::Bundle => ".zip",
            Format::Geojson => ".geojson",
            _ => "",
        };
        PathBuf::from("exports").join(format!("{run_id}-{}{ext}", self.name()))
    }

    /// The sink that writes this format to `out`. `redaction` is the
    /// redactor's record ([`Redactor::record`]) when frames are blurred.
    pub fn sink(
        self,
        chosen: &Chosen,
        redaction: Option<crate::evidence::redact::Redaction>,
        out: &Path,
    ) -> Result<Box<dyn Sink<ReviewedEvent>>, ExportError> {
        Ok(match self {
            Format::Bundle => Box::new(bundle::BundleSink::new(chosen, redaction, out)?),
            Format::Coco => Box::new(coco::CocoSink::new(out, redaction)?),
            Format::Cvat => Box::new(cvat::CvatSink::new(out, redaction)?),
            Format::LabelStudio => Box::new(label_studio::LabelStudioSink::new(out, redaction)?),
            Format::Geojson => Box::new(geojson::GeoJsonSink::new(out)),
        })
    }
}

/// Why an export failed. Each names the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{dir}: not a run folder (no manifest.jsonl)")]
    NoRun { dir: PathBuf },
    #[error(
        "{dir}: the run does not verify, so nothing was exported; what failed:\n  {}\n\
         (`lookout verify` reports the same; a run sealed on another machine needs \
         --trust with that machine's signing.pub)",
        problems.join("\n  ")
    )]
    Unverified { dir: PathBuf, problems: Vec<String> },
    #[error(
        "{out}: inside the run folder {dir}; writing there would break the run's seal, \
         so nothing was exported; choose a place outside the run folder"
    )]
    InsideRun { out: PathBuf, dir: PathBuf },
    #[error("{dir}: not a run folder")]
    NotARun {
        dir: PathBuf,
        #[source]
        source: RecordError,
    },
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Review(#[from] ReviewError),
    #[error("{dir}: no closed event {id:?}")]
    NoSuchEvent { dir: PathBuf, id: String },
    #[error(
        "{dir}: no events are {which}; review them with `lookout serve`, or choose --events all"
    )]
    NoneChosen { dir: PathBuf, which: String },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot copy {path}")]
    Copy {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{dir}: no manifest")]
    NoManifest {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{dir}: the run is not sealed (interrupted?), so it cannot be bundled")]
    NotSealed {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{dir}: {rel} is not in the run's manifest")]
    NotInManifest { dir: PathBuf, rel: String },
    #[error(transparent)]
    Evidence(#[from] crate::evidence::EvidenceError),
    #[error(
        "none of the {chosen} chosen events has a position (only georeferenced rasters and drone video with telemetry place events)"
    )]
    NoPositions { chosen: usize },
    #[error(transparent)]
    Redact(#[from] redact::RedactError),
    #[error(transparent)]
    Sink(Box<SinkError>),
}

impl From<ExportError> for SinkError {
    fn from(e: ExportError) -> SinkError {
        match e {
            ExportError::Sink(e) => *e,
            e => SinkError::Export(Box::new(e)),
        }
    }
}

impl From<SinkError> for ExportError {
    fn from(e: SinkError) -> ExportError {
        match e {
            SinkError::Export(e) => *e,
            e => ExportError::Sink(Box::new(e)),
        }
    }
}

/// One chosen event, as the export sinks take it.
pub struct ReviewedEvent {
    /// The run folder it was read from.
    pub run: PathBuf,
    /// Its `event.json`.
    pub event: EventRecord,
    /// Its verdict; `None` when nobody has reviewed it.
    pub verdict: Option<Verdict>,
    /// With a redactor: blurred copies of its frame and, for formats that
    /// carry it, its annotated frame; the frame comes first.
    pub redacted: Vec<RedactedCopy>,
}

impl ReviewedEvent {
    pub fn id(&self) -> &str {
        &self.event.event.event_id
    }

    /// The event's untouched frame, relative to the run folder.
    pub fn frame(&self) -> &str {
        &self.event.artefacts.frame
    }
}

/// The events chosen from a run, with its review record.
pub struct Chosen {
    /// The run folder.
    pub run: PathBuf,
    /// The run folder's name.
    pub run_id: String,
    /// What chose them, as given (`confirmed`, `all`, ids).
    pub selection: String,
    pub events: Vec<ReviewedEvent>,
    pub review: ReviewExport,
}

/// Checks the run folder `run` as `lookout verify` does (every file, the
/// manifest chain, the seal by one of `trusted`, and the review record):
/// an export vouches for the run, so a run that does not hold is refused
/// with every problem named.
pub fn check_run(
    run: &Path,
    trusted: &[ed25519_dalek::VerifyingKey],
    store: Option<&PgStore>,
) -> Result<(), ExportError> {
    if !run.join("manifest.jsonl").is_file() {
        return Err(ExportError::NoRun {
            dir: run.to_owned(),
        });
    }
    let report = match store {
        Some(store) => crate::review::verify::verify_run_in_store(run, store, trusted),
        None => crate::review::verify::verify_run(run, trusted),
    };
    let status = crate::evidence::record::RunRecord::read(run)
        .ok()
        .map(|r| (r.status_now(run), r.status_line(run)));
    if report.holds() {
        if let Some((s, line)) = status.filter(|(s, _)| *s != RunStatus::Finished) {
            tracing::warn!(
                "{}: the run is {line}; the export holds what it found before it stopped{}",
                run.display(),
                if s == RunStatus::Interrupted || s == RunStatus::Failed {
                    " (`lookout screen --resume` can finish it)"
                } else {
                    ""
                }
            );
        }
        Ok(())
    } else {
        let mut problems = report.problems;
        if let Some((_, line)) = status {
            problems.push(format!("the run is {line}"));
        }
        Err(ExportError::Unverified {
            dir: run.to_owned(),
            problems,
        })
    }
}

/// Refuses to write `out` inside the run folder `run` (or as the folder
/// itself), which would add files the seal does not cover. Both are
/// compared as canonical paths; `out` need not exist yet, so its nearest
/// existing ancestor is canonicalized and the rest appended.
pub fn check_out(run: &Path, out: &Path) -> Result<(), ExportError> {
    fn read(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
        move |source| ExportError::Read {
            path: path.to_owned(),
            source,
        }
    }
    let dir = run.canonicalize().map_err(read(run))?;
    let target = resolve(out).map_err(read(out))?;
    if target.starts_with(&dir) {
        return Err(ExportError::InsideRun {
            out: out.to_owned(),
            dir: run.to_owned(),
        });
    }
    Ok(())
}

/// `path` made absolute with every link resolved, though its last parts
/// may not exist yet: the longest existing prefix is canonicalized, and
/// the rest is applied to it part by part (`..` going up).
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    use std::path::Component;
    let absolute = std::path::absolute(path)?;
    let parts: Vec<Component> = absolute.components().collect();
    for n in (1..=parts.len()).rev() {
        let prefix: PathBuf = parts[..n].iter().collect();
        let Ok(mut resolved) = prefix.canonicalize() else {
            continue;
        };
        for part in &parts[n..] {
            match part {
                Component::Normal(p) => resolved.push(p),
                Component::ParentDir => {
                    resolved.pop();
                }
                _ => {}
            }
        }
        return Ok(resolved);
    }
    Ok(absolute)
}

/// The name exports give the run folder `run`: its folder name.
pub fn run_id(run: &Path) -> String {
    // `lookout export .` names the folder it is in.
    let named = std::path::absolute(run).unwrap_or_else(|_| run.to_owned());
    named
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into())
}

/// Chooses the closed events of the run folder `run` by `which`: a status
/// (`confirmed`, `escalated`, `rejected`, `new`), `all`, or event ids
/// separated by commas. An empty choice is an error that says how to
/// make one. The verdicts come from `store` when the run is reviewed in
/// the shared PostgreSQL store, else from the run's `review.sqlite`.
pub fn choose(run: &Path, which: &str, store: Option<&PgStore>) -> Result<Chosen, ExportError> {
    let review = match store {
        Some(store) => store.export(&crate::evidence::record::RunRecord::read(run)?.run_id)?,
        None => ReviewExport::read(run)?,
    };
    let lines = EventLine::read_all(run).map_err(|source| ExportError::NotARun {
        dir: run.to_owned(),
        source,
    })?;
    let ids: Vec<String> = lines
        .into_iter()
        .filter(|l| l.step == Step::Close)
        .map(|l| l.event.event_id)
        .collect();
    let chosen_ids: Vec<String> = match which {
        "all" => ids,
        s if STATUSES.contains(&s) => ids
            .into_iter()
            .filter(|id| review.status(id) == s)
            .collect(),
        list => {
            let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
            if let Some(w) = wanted.iter().find(|w| !ids.iter().any(|i| i == *w)) {
                return Err(ExportError::NoSuchEvent {
                    dir: run.to_owned(),
                    id: (*w).to_owned(),
                });
            }
            ids.into_iter()
                .filter(|i| wanted.contains(&i.as_str()))
                .collect()
        }
    };
    if chosen_ids.is_empty() {
        return Err(ExportError::NoneChosen {
            dir: run.to_owned(),
            which: which.to_owned(),
        });
    }
    let events = chosen_ids
        .into_iter()
        .map(|id| {
            let path = run.join("events").join(&id).join("event.json");
            Ok(ReviewedEvent {
                run: run.to_owned(),
                event: EventRecord::read(&path)?,
                verdict: review.verdicts.get(&id).cloned(),
                redacted: Vec::new(),
            })
        })
        .collect::<Result<_, ExportError>>()?;
    Ok(Chosen {
        run: run.to_owned(),
        run_id: run_id(run),
        selection: which.to_owned(),
        events,
        review,
    })
}

/// What [`export`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exported {
    pub events: usize,
    /// What the redactor blurred, when there was one.
    pub faces_blurred: usize,
    pub persons_blurred: usize,
}

/// Writes the `chosen` events as `format` to `out`. With `redactor`,
/// frames are blurred first (see [`redact`]); a format without frames
/// ignores it.
pub fn export(
    chosen: Chosen,
    format: Format,
    redactor: Option<&mut Redactor>,
    out: &Path,
) -> Result<Exported, ExportError> {
    let mut redactor = redactor.filter(|_| format.has_frames());
    let redaction = redactor.as_ref().map(|r| r.record(Vec::new()));
    let mut sink = format.sink(&chosen, redaction, out)?;
    let mut exported = Exported {
        events: chosen.events.len(),
        ..Exported::default()
    };
    for mut event in chosen.events {
        if let Some(r) = redactor.as_deref_mut() {
            // Training needs the plain frame only, not the annotated one.
            event.redacted = r.redact_event(&event, format == Format::Bundle)?;
        }
        sink.accept(&event)?;
    }
    sink.finish()?;
    if let Some(r) = redactor {
        exported.faces_blurred = r.faces_blurred;
        exported.persons_blurred = r.persons_blurred;
    }
    Ok(exported)
}

/// Creates the folder `path` goes in.
pub(crate) fn create_parent(path: &Path) -> Result<(), ExportError> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => std::fs::create_dir_all(p).map_err(|source| ExportError::Create {
            path: p.to_owned(),
            source,
        }),
        None => Ok(()),
    }
}

/// Writes `bytes` to `path`.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    std::fs::write(path, bytes).map_err(|source| ExportError::Write {
        path: path.to_owned(),
        source,
    })
}
