//! A run's review record: `review.sqlite` in the run folder.
//!
//! ```text
//! audit    seq, event_id, reviewer, at, from_status, to_status, note, prev_hash, hash
//! verdict  event_id → status, reviewer, at, note, audit_seq   (the latest audit row per event)
//! seal     entries, head, public_key, signature               (one row: the audit chain's head, signed)
//! ```
//!
//! The audit log is append-only and chained like the manifest: each row's
//! `hash` is the sha256 of `"{seq}\n{event_id}\n{reviewer}\n{at}\n{from}\n{to}\n{note}\n{prev_hash}"`.
//! A verdict is the last audit row of its event, kept in its own table so
//! that listing 20,000 events stays one query; `verify` checks that every
//! verdict equals its audit row, so an edited verdict is caught, and that
//! the signed head covers the whole log, so a rewritten log is caught.
//!
//! WAL journaling and a busy timeout let several reviewers (and a `verify`)
//! use the file at once; each verdict is one `BEGIN IMMEDIATE` transaction.

use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::digest::sha256_hex;
use crate::evidence::manifest::GENESIS;
use crate::evidence::seal::{self, RunSigner, Seal};

pub const DB_FILE: &str = "review.sqlite";

/// The statuses an event can have. `new` is the status before any verdict.
pub const STATUSES: &[&str] = &["new", "confirmed", "rejected", "escalated"];

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("review database {path}: {source}")]
    Db {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Invalid(String),
    /// The event's status changed while the reviewer looked at it.
    #[error("{0}")]
    Conflict(String),
    /// The PostgreSQL review store (`--store postgres://…`).
    #[error("review store {url}: {message}")]
    Store { url: String, message: String },
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub event_id: String,
    pub reviewer: String,
    pub at: String,
    pub from_status: String,
    pub to_status: String,
    pub note: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    fn chain_hash(&self) -> String {
        sha256_hex(
            format!(
                "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
                self.seq,
                self.event_id,
                self.reviewer,
                self.at,
                self.from_status,
                self.to_status,
                self.note,
                self.prev_hash
            )
            .as_bytes(),
        )
    }
}

/// An event's current verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: String,
    pub reviewer: String,
    pub at: String,
    pub note: String,
}

/// A verdict to record, as a reviewer gave it.
#[derive(Debug, Clone, Copy)]
pub struct NewVerdict<'a> {
    pub event_id: &'a str,
    pub status: &'a str,
    pub reviewer: &'a str,
    pub note: &'a str,
    /// When it was given (RFC 3339).
    pub at: &'a str,
    /// The status the reviewer saw; `None` records over any.
    pub expect: Option<&'a str>,
}

impl NewVerdict<'_> {
    pub(crate) fn validate(&self) -> Result<(), ReviewError> {
        if !STATUSES.contains(&self.status) || self.status == "new" {
            return Err(ReviewError::Invalid(format!(
                "status {:?}: a verdict is confirmed, rejected or escalated",
                self.status
            )));
        }
        if self.reviewer.trim().is_empty() {
            return Err(ReviewError::Invalid(
                "a verdict needs the reviewer's name".into(),
            ));
        }
        if let Some(e) = self.expect {
            if !STATUSES.contains(&e) {
                return Err(ReviewError::Invalid(format!(
                    "expect {e:?}: not a status (one of {})",
                    STATUSES.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The audit row that follows the log's `last` (seq, hash), given the
    /// event's `current` verdict, and the log's new signed head. Every
    /// store records through this, so their chains are made alike.
    pub(crate) fn next_entry(
        &self,
        last: Option<(i64, String)>,
        current: Option<&Verdict>,
        signer: &RunSigner,
    ) -> Result<(AuditEntry, Seal), ReviewError> {
        let from_status = current.map_or("new", |v| v.status.as_str());
        if let Some(expect) = self.expect {
            if expect != from_status {
                let by =
                    current.map_or(String::new(), |v| format!(" by {} at {}", v.reviewer, v.at));
                return Err(ReviewError::Conflict(format!(
                    "event {} is {from_status} now{by}, not {expect} as you saw it: \
                     another reviewer decided first; reload it and decide again",
                    self.event_id
                )));
            }
        }
        let (seq, prev_hash) = match last {
            Some((s, h)) => (s + 1, h),
            None => (0, GENESIS.to_owned()),
        };
        let mut entry = AuditEntry {
            seq,
            event_id: self.event_id.to_owned(),
            reviewer: self.reviewer.trim().to_owned(),
            at: self.at.to_owned(),
            from_status: from_status.to_owned(),
            to_status: self.status.to_owned(),
            note: self.note.to_owned(),
            prev_hash,
            hash: String::new(),
        };
        entry.hash = entry.chain_hash();
        let sealed = signer.seal(seq as u64 + 1, &entry.hash);
        Ok((entry, sealed))
    }
}

pub struct ReviewDb {
    path: PathBuf,
    conn: Connection,
}

impl ReviewDb {
    /// Opens (creating when missing) the review database of `run_dir`.
    pub fn open(run_dir: &Path) -> Result<ReviewDb, ReviewError> {
        let path = run_dir.join(DB_FILE);
        let err = |source| ReviewError::Db {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS audit (
                 seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL, reviewer TEXT NOT NULL,
                 at TEXT NOT NULL, from_status TEXT NOT NULL, to_status TEXT NOT NULL,
                 note TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS verdict (
                 event_id TEXT PRIMARY KEY, status TEXT NOT NULL, reviewer TEXT NOT NULL,
                 at TEXT NOT NULL, note TEXT NOT NULL, audit_seq INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS seal (
                 id INTEGER PRIMARY KEY CHECK (id = 1), entries INTEGER NOT NULL,
                 head TEXT NOT NULL, public_key TEXT NOT NULL, signature TEXT NOT NULL);",
        )
        .map_err(err)?;
        Ok(ReviewDb { path, conn })
    }

    /// Opens the database only if the run has one (for `verify`).
    pub fn open_existing(run_dir: &Path) -> Result<Option<ReviewDb>, ReviewError> {
        if run_dir.join(DB_FILE).is_file() {
            Self::open(run_dir).map(Some)
        } else {
            Ok(None)
        }
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> ReviewError + '_ {
        move |source| ReviewError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// Every event's verdict, by event id.
    pub fn verdicts(&self) -> Result<Vec<(String, Verdict)>, ReviewError> {
        let mut stmt = self
            .conn
            .prepare("SELECT event_id, status, reviewer, at, note FROM verdict")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    Verdict {
                        status: r.get(1)?,
                        reviewer: r.get(2)?,
                        at: r.get(3)?,
                        note: r.get(4)?,
                    },
                ))
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// The audit log, oldest first; only `event_id`'s rows when given.
    pub fn audit(&self, event_id: Option<&str>) -> Result<Vec<AuditEntry>, ReviewError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, event_id, reviewer, at, from_status, to_status, note, prev_hash, hash
                 FROM audit WHERE ?1 IS NULL OR event_id = ?1 ORDER BY seq",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([event_id], |r| {
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    event_id: r.get(1)?,
                    reviewer: r.get(2)?,
                    at: r.get(3)?,
                    from_status: r.get(4)?,
                    to_status: r.get(5)?,
                    note: r.get(6)?,
                    prev_hash: r.get(7)?,
                    hash: r.get(8)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Records a verdict: one audit row, the verdict, and a new signed
    /// head, in one transaction. Returns the audit row. With `expect`, the
    /// verdict is refused ([`ReviewError::Conflict`]) unless the event's
    /// status is still `expect`, the one the reviewer saw.
    pub fn record(
        &mut self,
        verdict: &NewVerdict<'_>,
        signer: &RunSigner,
    ) -> Result<AuditEntry, ReviewError> {
        verdict.validate()?;
        let path = self.path.clone();
        let err = |source| ReviewError::Db {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err)?;
        let current: Option<Verdict> = tx
            .query_row(
                "SELECT status, reviewer, at, note FROM verdict WHERE event_id = ?1",
                [verdict.event_id],
                |r| {
                    Ok(Verdict {
                        status: r.get(0)?,
                        reviewer: r.get(1)?,
                        at: r.get(2)?,
                        note: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(err)?;
        let (entry, sealed) = verdict.next_entry(last, current.as_ref(), signer)?;
        tx.execute(
            "INSERT INTO audit VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                entry.seq,
                entry.event_id,
                entry.reviewer,
                entry.at,
                entry.from_status,
                entry.to_status,
                entry.note,
                entry.prev_hash,
                entry.hash
            ],
        )
        .map_err(err)?;
        tx.execute(
            "INSERT OR REPLACE INTO verdict VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                entry.event_id,
                entry.to_status,
                entry.reviewer,
                entry.at,
                entry.note,
                entry.seq
            ],
        )
        .map_err(err)?;
        tx.execute(
            "INSERT OR REPLACE INTO seal VALUES (1, ?1, ?2, ?3, ?4)",
            params![
                sealed.entries as i64,
                sealed.head,
                sealed.public_key,
                sealed.signature
            ],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(entry)
    }

    /// The audit log's signed head, once there is a verdict.
    pub fn seal(&self) -> Result<Option<Seal>, ReviewError> {
        self.conn
            .query_row(
                "SELECT entries, head, public_key, signature FROM seal",
                [],
                |r| {
                    Ok(Seal {
                        algorithm: "ed25519".into(),
                        entries: r.get::<_, i64>(0)? as u64,
                        head: r.get(1)?,
                        public_key: r.get(2)?,
                        signature: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Checks the record: see [`verify_record`].
    pub fn verify(&self, trusted: &[VerifyingKey]) -> Result<Vec<String>, ReviewError> {
        Ok(verify_record(
            DB_FILE,
            &self.audit(None)?,
            &self.verdicts()?,
            self.seal()?.as_ref(),
            trusted,
        ))
    }
}

/// `review.json`: a run's review record, whole, as bundles carry it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReviewExport {
    pub audit: Vec<AuditEntry>,
    pub verdicts: std::collections::BTreeMap<String, Verdict>,
    pub seal: Option<Seal>,
}

impl ReviewExport {
    /// The review record of `run_dir`; empty when nobody reviewed it yet.
    pub fn read(run_dir: &Path) -> Result<ReviewExport, ReviewError> {
        Ok(match ReviewDb::open_existing(run_dir)? {
            Some(db) => ReviewExport {
                audit: db.audit(None)?,
                verdicts: db.verdicts()?.into_iter().collect(),
                seal: db.seal()?,
            },
            None => ReviewExport::default(),
        })
    }

    /// The status of `event_id`: its verdict's, else `new`.
    pub fn status(&self, event_id: &str) -> &str {
        self.verdicts
            .get(event_id)
            .map_or("new", |v| v.status.as_str())
    }

    /// Checks the record: see [`verify_record`].
    pub fn verify(&self, trusted: &[VerifyingKey]) -> Vec<String> {
        let verdicts: Vec<(String, Verdict)> = self
            .verdicts
            .iter()
            .map(|(id, v)| (id.clone(), v.clone()))
            .collect();
        verify_record(DB_FILE, &self.audit, &verdicts, self.seal.as_ref(), trusted)
    }
}

/// Checks a review record: the audit chain, that each verdict is its
/// event's last audit row (and none is missing), and the signed head,
/// which must be by a `trusted` key. One message per problem, each
/// starting with `what` (the record's name: its file, or the store).
pub fn verify_record(
    what: &str,
    log: &[AuditEntry],
    verdicts: &[(String, Verdict)],
    sealed: Option<&Seal>,
    trusted: &[VerifyingKey],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut head = GENESIS.to_owned();
    let mut last_of: std::collections::BTreeMap<&str, &AuditEntry> = Default::default();
    for (i, e) in log.iter().enumerate() {
        let at = format!(
            "{what}: audit entry {} ({} → {} by {})",
            e.seq, e.event_id, e.to_status, e.reviewer
        );
        if e.seq != i as i64 {
            problems.push(format!("{at}: out of sequence (expected {i})"));
        }
        if e.hash != e.chain_hash() {
            problems.push(format!(
                "{at} was edited: its hash does not match its fields"
            ));
        } else if e.prev_hash != head {
            problems.push(format!(
                "{at} does not follow the entry before it: the chain is broken"
            ));
        }
        head = e.hash.clone();
        last_of.insert(&e.event_id, e);
    }
    let mut with_verdict = std::collections::BTreeSet::new();
    for (event_id, v) in verdicts {
        with_verdict.insert(event_id.as_str());
        match last_of.get(event_id.as_str()) {
            Some(e)
                if e.to_status == v.status
                    && e.reviewer == v.reviewer
                    && e.at == v.at
                    && e.note == v.note => {}
            Some(_) => problems.push(format!(
                "{what}: the verdict on {event_id} ({}) was edited: it differs from the audit log",
                v.status
            )),
            None => problems.push(format!(
                "{what}: the verdict on {event_id} ({}) has no audit entry",
                v.status
            )),
        }
    }
    for event_id in last_of.keys() {
        if !with_verdict.contains(event_id) {
            problems.push(format!("{what}: the verdict on {event_id} was deleted"));
        }
    }
    match sealed {
        None if log.is_empty() => {}
        None => problems.push(format!("{what}: the audit log's signed head is missing")),
        Some(s) => {
            if let Err(e) = seal::check_trusted(s, trusted) {
                problems.push(format!("{what}: audit log seal: {e}"));
            }
            if s.entries != log.len() as u64 || s.head != head {
                problems.push(format!(
                    "{what}: the signed head covers {} audit entries, and the log has {}{}",
                    s.entries,
                    log.len(),
                    if s.entries == log.len() as u64 {
                        " (a different chain)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nv<'a>(
        event_id: &'a str,
        status: &'a str,
        reviewer: &'a str,
        note: &'a str,
        at: &'a str,
    ) -> NewVerdict<'a> {
        NewVerdict {
            event_id,
            status,
            reviewer,
            note,
            at,
            expect: None,
        }
    }

    #[test]
    fn a_verdict_on_a_status_the_reviewer_did_not_see_is_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let signer = RunSigner::from_seed([5u8; 32]);
        let mut db = ReviewDb::open(dir.path()).unwrap();
        let first = NewVerdict {
            expect: Some("new"),
            ..nv("e1", "confirmed", "ana", "", "t1")
        };
        db.record(&first, &signer).unwrap();
        // Ben saw the event as new too, and decides second.
        let second = NewVerdict {
            expect: Some("new"),
            ..nv("e1", "rejected", "ben", "", "t2")
        };
        match db.record(&second, &signer) {
            Err(ReviewError::Conflict(m)) => {
                assert!(
                    m.contains("e1 is confirmed now by ana at t1, not new"),
                    "{m}"
                )
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        // Nothing of the refused verdict was written, and the chain holds.
        assert_eq!(db.audit(None).unwrap().len(), 1);
        assert!(db.verify(&[signer.verifying_key()]).unwrap().is_empty());
        // Having seen the verdict, he may change it.
        let third = NewVerdict {
            expect: Some("confirmed"),
            ..second
        };
        assert_eq!(db.record(&third, &signer).unwrap().from_status, "confirmed");
        let bad = NewVerdict {
            expect: Some("maybe"),
            ..second
        };
        assert!(matches!(
            db.record(&bad, &signer),
            Err(ReviewError::Invalid(_))
        ));
    }

    #[test]
    fn verdicts_chain_and_tampering_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let signer = RunSigner::from_seed([5u8; 32]);
        let trusted = [signer.verifying_key()];
        let mut db = ReviewDb::open(dir.path()).unwrap();
        db.record(
            &nv("e1", "confirmed", "ana", "", "2026-11-28T10:00:00Z"),
            &signer,
        )
        .unwrap();
        db.record(
            &nv("e2", "rejected", "ben", "a shadow", "2026-11-28T10:01:00Z"),
            &signer,
        )
        .unwrap();
        let e = db
            .record(
                &nv(
                    "e1",
                    "escalated",
                    "ana",
                    "second look",
                    "2026-11-28T10:02:00Z",
                ),
                &signer,
            )
            .unwrap();
        assert_eq!((e.seq, e.from_status.as_str()), (2, "confirmed"));
        assert!(db
            .record(&nv("e3", "maybe", "ana", "", "t"), &signer)
            .is_err());
        assert!(db
            .record(&nv("e3", "confirmed", " ", "", "t"), &signer)
            .is_err());
        assert!(db.verify(&trusted).unwrap().is_empty());
        let v: std::collections::BTreeMap<_, _> = db.verdicts().unwrap().into_iter().collect();
        assert_eq!(v["e1"].status, "escalated");
        assert_eq!(db.audit(Some("e1")).unwrap().len(), 2);

        // Someone changes a verdict behind the UI's back.
        db.conn
            .execute(
                "UPDATE verdict SET status = 'confirmed' WHERE event_id = 'e2'",
                [],
            )
            .unwrap();
        let p = db.verify(&trusted).unwrap();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("verdict on e2 (confirmed) was edited"),
            "{p:?}"
        );
        // ...and the audit row too, to match.
        db.conn
            .execute("UPDATE audit SET to_status = 'confirmed' WHERE seq = 1", [])
            .unwrap();
        let p = db.verify(&trusted).unwrap();
        assert!(
            p.iter()
                .any(|m| m.contains("audit entry 1 (e2 → confirmed by ben) was edited")),
            "{p:?}"
        );
        // ...and its hash, and every hash after it: the signed head differs.
        let mut log = db.audit(None).unwrap();
        let mut prev = log[0].hash.clone();
        for e in log.iter_mut().skip(1) {
            e.prev_hash = prev.clone();
            e.hash = e.chain_hash();
            prev = e.hash.clone();
            db.conn
                .execute(
                    "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
                    params![e.prev_hash, e.hash, e.seq],
                )
                .unwrap();
        }
        let p = db.verify(&trusted).unwrap();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("a different chain"), "{p:?}");
        // Signed again with another key: not trusted.
        let forger = RunSigner::from_seed([6u8; 32]);
        let s = forger.seal(3, &prev);
        db.conn
            .execute(
                "UPDATE seal SET head = ?1, public_key = ?2, signature = ?3",
                params![s.head, s.public_key, s.signature],
            )
            .unwrap();
        let p = db.verify(&trusted).unwrap();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("not trusted here"), "{p:?}");
    }
}
