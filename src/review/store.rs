//! Where review records live: SQLite in each run folder (the default), or
//! one shared PostgreSQL database ([`super::pg`]) that many workers write
//! events into and many `serve` processes review from.

use std::path::Path;

use serde::Serialize;

use crate::digest::sha256_hex;
use crate::evidence::record::{EventLine, EventRecord, RecordError, Step};

/// The environment variable that names the store when `--store` does not.
pub const STORE_ENV: &str = "LOOKOUT_STORE";

/// Which review store a command uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// `review.sqlite` in each run folder.
    Sqlite,
    /// A shared PostgreSQL database, by its URL.
    Postgres(String),
}

impl StoreSpec {
    /// The store from, in order: the `--store` flag, `$LOOKOUT_STORE`, the
    /// config's `[store] url`; SQLite when none is set. `sqlite` (or an
    /// empty value) names the default explicitly.
    pub fn choose(flag: Option<&str>, config: Option<&str>) -> Result<StoreSpec, String> {
        let env = std::env::var(STORE_ENV).ok();
        let (from, value) = match (flag, env.as_deref(), config) {
            (Some(f), _, _) => ("--store", f),
            (None, Some(e), _) => ("$LOOKOUT_STORE", e),
            (None, None, Some(c)) => ("[store] url", c),
            (None, None, None) => return Ok(StoreSpec::Sqlite),
        };
        StoreSpec::parse(value).map_err(|e| format!("{from}: {e}"))
    }

    pub fn parse(value: &str) -> Result<StoreSpec, String> {
        let v = value.trim();
        if v.is_empty() || v == "sqlite" {
            Ok(StoreSpec::Sqlite)
        } else if v.starts_with("postgres://") || v.starts_with("postgresql://") {
            Ok(StoreSpec::Postgres(v.to_owned()))
        } else {
            Err(format!(
                "{:?} is not a review store: give postgres://user:password@host:port/database, \
                 or sqlite (review.sqlite in each run folder, the default)",
                crate::config::hide_password(v)
            ))
        }
    }
}

/// How the review list names an event's input: its file name (a path
/// that has none, as it is).
pub fn source_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// A closed event as the review list shows it, read from its `event.json`
/// (the same fields whichever store holds them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    pub event_id: String,
    pub signature: String,
    pub kind: String,
    pub count: u64,
    pub peak_count: u64,
    /// The best frame's mean score.
    pub score: f64,
    /// The input's file name.
    pub source: String,
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    /// The annotated frame, relative to the run folder.
    pub annotated: String,
    /// sha256 of `event.json`, as its run's manifest has it.
    pub sha256: String,
    /// `event.json` itself.
    pub record: serde_json::Value,
}

impl StoredEvent {
    /// The event of `event.json`'s bytes.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<StoredEvent, RecordError> {
        let record = EventRecord::parse(path, bytes)?;
        let s = &record.event;
        let source = &s.source.path;
        Ok(StoredEvent {
            event_id: s.event_id.clone(),
            signature: s.signature.clone(),
            kind: s.kind.clone(),
            count: s.count,
            peak_count: s.peak_count,
            score: f64::from(record.best_frame.mean_score),
            source: source_name(source),
            start_s: s.start_s,
            end_s: record.end_s,
            annotated: record.artefacts.annotated.clone(),
            sha256: sha256_hex(bytes),
            record: serde_json::to_value(&record).expect("records serialise"),
        })
    }

    /// The event `event_id` of the run folder `run_dir`.
    pub fn read(run_dir: &Path, event_id: &str) -> Result<StoredEvent, RecordError> {
        let path = run_dir.join("events").join(event_id).join("event.json");
        let bytes = std::fs::read(&path).map_err(|source| RecordError::Io {
            path: path.clone(),
            source,
        })?;
        Self::from_bytes(&path, &bytes)
    }
}

/// The closed events of the run folder `dir`, in `events.jsonl`'s order,
/// as the review list shows them.
pub fn closed_events(dir: &Path) -> Result<Vec<StoredEvent>, RecordError> {
    EventLine::read_all(dir)?
        .iter()
        .filter(|e| e.step == Step::Close)
        .map(|e| StoredEvent::read(dir, &e.event.event_id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_kept_out_of_what_is_shown() {
        assert_eq!(
            crate::config::hide_password("postgres://ana:s3cr@t@db:5432/lookout"),
            "postgres://ana:***@db:5432/lookout"
        );
        assert_eq!(
            crate::config::hide_password("postgres://ana@db/lookout"),
            "postgres://ana@db/lookout"
        );
        assert_eq!(
            crate::config::hide_password("postgres://db/lookout"),
            "postgres://db/lookout"
        );
        let e = StoreSpec::parse("mysql://ana:pw@db/x").unwrap_err();
        assert!(
            e.contains("mysql://ana:***@db/x") && !e.contains("pw"),
            "{e}"
        );
        assert_eq!(StoreSpec::parse("sqlite").unwrap(), StoreSpec::Sqlite);
        assert_eq!(
            StoreSpec::parse("postgresql://db/x").unwrap(),
            StoreSpec::Postgres("postgresql://db/x".into())
        );
    }
}
