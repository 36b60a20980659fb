//! The shared PostgreSQL review store (`--store postgres://…`).
//!
//! One database holds the events and review records of many runs: workers
//! (`screen`, `watch`) write each event as it closes, `serve` processes
//! list events and record verdicts, and `verify` checks a run folder
//! against it. The schema is the migrations in `migrations/`, applied in
//! order into the `lookout` schema and recorded in `lookout.migrations`.
//!
//! Each run keeps its own audit chain and signed head, made exactly as in
//! `review.sqlite` ([`NewVerdict::next_entry`]), so `verify` checks both
//! alike. Writers of one run are serialised by a row lock on its
//! `lookout.runs` row: the chain gets one next entry at a time, whichever
//! `serve` process records it, and a verdict on a status the reviewer did
//! not see is refused as a conflict.
//!
//! The connection is plain TCP (no TLS): keep the database on a private
//! network or loopback, or tunnel it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use postgres::{Client, NoTls, Row};

use super::db::{AuditEntry, NewVerdict, ReviewError, ReviewExport, Verdict};
use super::list::{EventRow, ListQuery, RunState};
use super::store::StoredEvent;
use crate::config::hide_password;
use crate::evidence::seal::{RunSigner, Seal};

/// The migrations, in order. Never edit one that was released: add one.
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "review store",
    include_str!("migrations/0001_review_store.sql"),
)];

/// The schema version this lookout reads and writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

/// The advisory lock that serialises migrations across processes.
const MIGRATE_LOCK: i64 = 0x006c_6f6f_6b6f_7574; // "lookout" in ASCII

/// A run as the store knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRun {
    pub run_id: String,
    pub started_at: String,
    pub mode: String,
    pub dir: String,
}

impl StoredRun {
    /// The run of `record`, whose folder is `dir`.
    pub fn of(record: &crate::evidence::record::RunRecord, dir: &std::path::Path) -> StoredRun {
        StoredRun {
            run_id: record.run_id.clone(),
            started_at: record.started_at.clone(),
            mode: record.mode.as_str().to_owned(),
            dir: dir.display().to_string(),
        }
    }
}

/// The review list's choices, in byte order, and how many events there
/// are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facets {
    pub signatures: Vec<String>,
    pub sources: Vec<String>,
    pub runs: Vec<String>,
    pub events: usize,
}

/// What `lookout store import` did with one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imported {
    /// Events written (new or changed).
    pub events: usize,
    /// Rows of the store's event list that the run folder does not have,
    /// removed.
    pub removed: usize,
    /// Audit entries copied from `review.sqlite`.
    pub audit: usize,
    /// The run's review record was already in the store, the same.
    pub review_present: bool,
}

pub struct PgStore {
    /// The URL as the driver takes it (see [`super::pgtls`]).
    url: String,
    /// The TLS connector, when the URL asks for TLS.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// The URL as given, without its password, for messages.
    shown: String,
    client: Mutex<Option<Client>>,
}

/// A PostgreSQL error with what the server said, when it said something.
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut m = format!("{}: {}", db.severity(), db.message());
        if let Some(d) = db.detail() {
            m.push_str(&format!(" ({d})"));
        }
        return m;
    }
    match std::error::Error::source(e) {
        Some(s) => format!("{e}: {s}"),
        None => e.to_string(),
    }
}

impl PgStore {
    /// Connects to `url`, and brings an older schema up to date (a newer
    /// one is refused: this lookout would not know its tables).
    pub fn connect(url: &str) -> Result<PgStore, ReviewError> {
        let store = Self::open(url)?;
        let version = store.with(schema_version)?;
        if version < SCHEMA_VERSION {
            store.migrate()?;
        } else if version > SCHEMA_VERSION {
            return Err(store.newer(version));
        }
        Ok(store)
    }

    /// Connects to `url` and leaves the schema as it is (for
    /// [`PgStore::migrate`]).
    pub fn open(url: &str) -> Result<PgStore, ReviewError> {
        let shown = hide_password(url);
        let target = super::pgtls::target(url).map_err(|message| ReviewError::Store {
            url: shown.clone(),
            message,
        })?;
        let store = PgStore {
            url: target.url,
            tls: target.tls,
            shown,
            client: Mutex::new(None),
        };
        store.with(|_| Ok(()))?;
        Ok(store)
    }

    /// Whether this connection to the store is encrypted (the server's
    /// own view, `pg_stat_ssl`).
    pub fn encrypted(&self) -> Result<bool, ReviewError> {
        self.with(|c| {
            Ok(c.query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )?
            .get(0))
        })
    }

    /// The URL without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn fail(&self, message: String) -> ReviewError {
        ReviewError::Store {
            url: self.shown.clone(),
            message,
        }
    }

    fn newer(&self, version: i32) -> ReviewError {
        self.fail(format!(
            "its schema is version {version}, newer than this lookout's ({SCHEMA_VERSION}): \
             use a lookout at least as new as the one that migrated it"
        ))
    }

    /// Runs `f` on the connection, connecting first when there is none
    /// (or the last one was lost).
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, ReviewError> {
        let mut guard = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            let client = match &self.tls {
                Some(tls) => Client::connect(&self.url, tls.clone()),
                None => Client::connect(&self.url, NoTls),
            }
            .map_err(|e| {
                let mut m = format!("cannot connect: {}", describe(&e));
                if let Some(h) = super::pgtls::hint(&m, self.tls.is_some()) {
                    m.push_str(&format!(" ({h})"));
                }
                self.fail(m)
            })?;
            *guard = Some(client);
        }
        let client = guard.as_mut().expect("connected above");
        f(client).map_err(|e| self.fail(describe(&e)))
    }

    /// Applies the migrations the database lacks, in one transaction, under
    /// a lock that other lookouts wait on. Returns those applied.
    pub fn migrate(&self) -> Result<Vec<(i32, &'static str)>, ReviewError> {
        let outcome = self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
            tx.batch_execute(
                "CREATE SCHEMA IF NOT EXISTS lookout;
                 CREATE TABLE IF NOT EXISTS lookout.migrations (
                     version INTEGER PRIMARY KEY, name TEXT NOT NULL,
                     applied TIMESTAMPTZ NOT NULL DEFAULT now())",
            )?;
            let have: i32 = tx
                .query_one(
                    "SELECT COALESCE(max(version), 0) FROM lookout.migrations",
                    &[],
                )?
                .get(0);
            if have > SCHEMA_VERSION {
                return Ok(Err(have));
            }
            let mut applied = Vec::new();
            for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > have) {
                tx.batch_execute(sql)?;
                tx.execute(
                    "INSERT INTO lookout.migrations (version, name) VALUES ($1, $2)",
                    &[&version, &name],
                )?;
                applied.push((version, name));
            }
            tx.commit()?;
            Ok(Ok(applied))
        })?;
        outcome.map_err(|v| self.newer(v))
    }

    /// Registers a run before its events are written. A run id the store
    /// already has for another run (another start time) is refused.
    pub fn register_run(&self, run: &StoredRun) -> Result<(), ReviewError> {
        let known = self.with(|c| {
            c.execute(
                "INSERT INTO lookout.runs (run_id, started_at, mode, dir) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (run_id) DO NOTHING",
                &[&run.run_id, &run.started_at, &run.mode, &run.dir],
            )?;
            let r = c.query_one(
                "SELECT started_at, dir FROM lookout.runs WHERE run_id = $1",
                &[&run.run_id],
            )?;
            Ok((r.get::<_, String>(0), r.get::<_, String>(1)))
        })?;
        if known.0 != run.started_at {
            return Err(ReviewError::Invalid(format!(
                "the review store {} already has a run {} (started {}, folder {}): \
                 runs that share a store need distinct run ids (--run-id)",
                self.shown, run.run_id, known.0, known.1
            )));
        }
        Ok(())
    }

    /// The runs in the store, by id.
    pub fn runs(&self) -> Result<Vec<StoredRun>, ReviewError> {
        self.with(|c| {
            Ok(c.query(
                "SELECT run_id, started_at, mode, dir FROM lookout.runs ORDER BY run_id",
                &[],
            )?
            .iter()
            .map(|r| StoredRun {
                run_id: r.get(0),
                started_at: r.get(1),
                mode: r.get(2),
                dir: r.get(3),
            })
            .collect())
        })
    }

    /// Writes (or rewrites) one closed event of `run_id`.
    pub fn publish(&self, run_id: &str, e: &StoredEvent) -> Result<(), ReviewError> {
        self.with(|c| upsert_event(c, run_id, e).map(drop))
    }

    /// Removes events of `run_id` that a resume withdrew.
    pub fn withdraw(&self, run_id: &str, event_ids: &[String]) -> Result<u64, ReviewError> {
        if event_ids.is_empty() {
            return Ok(0);
        }
        self.with(|c| {
            c.execute(
                "DELETE FROM lookout.events WHERE run_id = $1 AND event_id = ANY($2)",
                &[&run_id, &event_ids],
            )
        })
    }

    /// The events of `run_id`: event id → sha256 of its `event.json`.
    pub fn run_events(&self, run_id: &str) -> Result<BTreeMap<String, String>, ReviewError> {
        self.with(|c| {
            Ok(c.query(
                "SELECT event_id, sha256 FROM lookout.events WHERE run_id = $1",
                &[&run_id],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })
    }

    /// The event list, filtered, sorted and paged as
    /// [`super::server::list`] does it in memory. Rows come with the run
    /// state `Verified`: the server knows the runs' states.
    pub fn list(&self, q: &ListQuery) -> Result<(usize, Vec<EventRow>), ReviewError> {
        let some = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let (status, signature, source, run, kind) = (
            some(&q.status),
            some(&q.signature),
            some(&q.source),
            some(&q.run),
            some(&q.kind),
        );
        let min_count = q.min_count.map(|m| m as i64);
        let key = match q.sort.as_deref().unwrap_or("time") {
            "signature" => "e.signature COLLATE \"C\"",
            "count" => "e.peak_count",
            "score" => "e.score",
            "source" => "e.source COLLATE \"C\"",
            "status" => "COALESCE(v.status, 'new') COLLATE \"C\"",
            "run" => "e.run_id COLLATE \"C\"",
            _ => "COALESCE(e.start_s, 0)",
        };
        let dir = if q.desc.unwrap_or(false) {
            "DESC"
        } else {
            "ASC"
        };
        let limit = q.limit.unwrap_or(50).clamp(1, 500) as i64;
        let offset = q.offset.unwrap_or(0) as i64;
        let filter = "FROM lookout.events e LEFT JOIN lookout.verdicts v USING (run_id, event_id)
             WHERE ($1::text IS NULL OR COALESCE(v.status, 'new') = $1)
               AND ($2::text IS NULL OR e.signature = $2)
               AND ($3::text IS NULL OR e.source = $3)
               AND ($4::text IS NULL OR e.run_id = $4)
               AND ($5::text IS NULL OR e.kind = $5)
               AND ($6::bigint IS NULL OR e.peak_count >= $6)
               AND ($7::float8 IS NULL OR e.score >= $7)";
        let sql = format!(
            "SELECT e.run_id, e.event_id, e.signature, e.kind, e.count, e.peak_count, e.score,
                    e.source, e.start_s, e.end_s, e.annotated,
                    COALESCE(v.status, 'new'), COALESCE(v.reviewer, ''), count(*) OVER ()
             {filter}
             ORDER BY {key} {dir}, e.run_id COLLATE \"C\" {dir}, e.event_id COLLATE \"C\" {dir}
             OFFSET $8 LIMIT $9"
        );
        self.with(|c| {
            let rows = c.query(
                &sql,
                &[
                    &status,
                    &signature,
                    &source,
                    &run,
                    &kind,
                    &min_count,
                    &q.min_score,
                    &offset,
                    &limit,
                ],
            )?;
            let total = match rows.first() {
                Some(r) => r.get::<_, i64>(13) as usize,
                // Past the end: the count alone.
                None => c
                    .query_one(
                        &format!("SELECT count(*) {filter}"),
                        &[
                            &status,
                            &signature,
                            &source,
                            &run,
                            &kind,
                            &min_count,
                            &q.min_score,
                        ],
                    )?
                    .get::<_, i64>(0) as usize,
            };
            Ok((total, rows.iter().map(event_row).collect()))
        })
    }

    /// One event's row.
    pub fn row(&self, run_id: &str, event_id: &str) -> Result<Option<EventRow>, ReviewError> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT e.run_id, e.event_id, e.signature, e.kind, e.count, e.peak_count, e.score,
                        e.source, e.start_s, e.end_s, e.annotated,
                        COALESCE(v.status, 'new'), COALESCE(v.reviewer, '')
                 FROM lookout.events e LEFT JOIN lookout.verdicts v USING (run_id, event_id)
                 WHERE e.run_id = $1 AND e.event_id = $2",
                &[&run_id, &event_id],
            )?
            .as_ref()
            .map(event_row))
        })
    }

    /// The list's choices: signatures, sources and runs, and how many
    /// events there are.
    pub fn facets(&self) -> Result<Facets, ReviewError> {
        self.with(|c| {
            let column = |c: &mut Client, sql: &str| -> Result<Vec<String>, postgres::Error> {
                Ok(c.query(sql, &[])?.iter().map(|r| r.get(0)).collect())
            };
            let signatures = column(
                c,
                "SELECT DISTINCT signature COLLATE \"C\" FROM lookout.events ORDER BY 1",
            )?;
            let sources = column(
                c,
                "SELECT DISTINCT source COLLATE \"C\" FROM lookout.events ORDER BY 1",
            )?;
            let runs = column(
                c,
                "SELECT run_id FROM lookout.runs ORDER BY run_id COLLATE \"C\"",
            )?;
            let n: i64 = c
                .query_one("SELECT count(*) FROM lookout.events", &[])?
                .get(0);
            Ok(Facets {
                signatures,
                sources,
                runs,
                events: n as usize,
            })
        })
    }

    /// Every verdict of `run_id`, by event id.
    pub fn verdicts(&self, run_id: &str) -> Result<Vec<(String, Verdict)>, ReviewError> {
        self.with(|c| {
            Ok(c.query(
                "SELECT event_id, status, reviewer, at, note FROM lookout.verdicts WHERE run_id = $1",
                &[&run_id],
            )?
            .iter()
            .map(|r| (r.get(0), verdict_at(r, 1)))
            .collect())
        })
    }

    /// The audit log of `run_id`, oldest first; only `event_id`'s rows
    /// when given.
    pub fn audit(
        &self,
        run_id: &str,
        event_id: Option<&str>,
    ) -> Result<Vec<AuditEntry>, ReviewError> {
        self.with(|c| {
            Ok(c.query(
                "SELECT seq, event_id, reviewer, at, from_status, to_status, note, prev_hash, hash
                 FROM lookout.audit WHERE run_id = $1 AND ($2::text IS NULL OR event_id = $2)
                 ORDER BY seq",
                &[&run_id, &event_id],
            )?
            .iter()
            .map(audit_entry)
            .collect())
        })
    }

    /// The signed head of `run_id`'s audit log, once there is a verdict.
    pub fn seal(&self, run_id: &str) -> Result<Option<Seal>, ReviewError> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT entries, head, public_key, signature FROM lookout.seals WHERE run_id = $1",
                &[&run_id],
            )?
            .map(|r| Seal {
                algorithm: "ed25519".into(),
                entries: r.get::<_, i64>(0) as u64,
                head: r.get(1),
                public_key: r.get(2),
                signature: r.get(3),
            }))
        })
    }

    /// The whole review record of `run_id`, as `review.sqlite` would give it.
    pub fn export(&self, run_id: &str) -> Result<ReviewExport, ReviewError> {
        Ok(ReviewExport {
            audit: self.audit(run_id, None)?,
            verdicts: self.verdicts(run_id)?.into_iter().collect(),
            seal: self.seal(run_id)?,
        })
    }

    /// Records a verdict on an event of `run_id`: the audit row, the
    /// verdict and the run's new signed head, in one transaction that holds
    /// the run's row lock (see the module's notes).
    pub fn record(
        &self,
        run_id: &str,
        verdict: &NewVerdict<'_>,
        signer: &RunSigner,
    ) -> Result<AuditEntry, ReviewError> {
        verdict.validate()?;
        let outcome = self.with(|c| {
            let mut tx = c.transaction()?;
            let locked = tx.query_opt(
                "SELECT 1 FROM lookout.runs WHERE run_id = $1 FOR UPDATE",
                &[&run_id],
            )?;
            if locked.is_none() {
                return Ok(Err(ReviewError::Invalid(format!(
                    "run {run_id} is not in the review store"
                ))));
            }
            let last = tx
                .query_opt(
                    "SELECT seq, hash FROM lookout.audit WHERE run_id = $1 ORDER BY seq DESC LIMIT 1",
                    &[&run_id],
                )?
                .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)));
            let current = tx
                .query_opt(
                    "SELECT status, reviewer, at, note FROM lookout.verdicts
                     WHERE run_id = $1 AND event_id = $2",
                    &[&run_id, &verdict.event_id],
                )?
                .map(|r| verdict_at(&r, 0));
            let (entry, sealed) = match verdict.next_entry(last, current.as_ref(), signer) {
                Ok(next) => next,
                Err(refused) => return Ok(Err(refused)),
            };
            insert_audit(&mut tx, run_id, &entry)?;
            let decided = Verdict {
                status: entry.to_status.clone(),
                reviewer: entry.reviewer.clone(),
                at: entry.at.clone(),
                note: entry.note.clone(),
            };
            upsert_verdict(&mut tx, run_id, &entry.event_id, &decided, entry.seq)?;
            upsert_seal(&mut tx, run_id, &sealed)?;
            tx.commit()?;
            Ok(Ok(entry))
        })?;
        outcome
    }

    /// Brings one run folder's events, and its `review.sqlite` record when
    /// `review` has one, into the store, in one transaction. The folder is
    /// the truth for events: rows it does not have are removed. A review
    /// record is copied only into a run with none in the store yet; the
    /// same record again is left as it is; two different ones are refused,
    /// as two chains cannot be merged.
    pub fn import(
        &self,
        run: &StoredRun,
        events: &[StoredEvent],
        review: &ReviewExport,
    ) -> Result<Imported, ReviewError> {
        let present = self.export(&run.run_id).ok();
        self.register_run(run)?;
        if let Some(present) = present.filter(|p| !p.audit.is_empty()) {
            if !review.audit.is_empty() && present != *review {
                return Err(ReviewError::Conflict(format!(
                    "run {} has a review record in the store ({} audit entries) and another in \
                     its review.sqlite ({}): two audit chains cannot be merged; nothing was imported",
                    run.run_id,
                    present.audit.len(),
                    review.audit.len()
                )));
            }
        }
        let run_id = run.run_id.as_str();
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.query_one(
                "SELECT 1 FROM lookout.runs WHERE run_id = $1 FOR UPDATE",
                &[&run_id],
            )?;
            let mut out = Imported::default();
            let ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
            out.removed = tx.execute(
                "DELETE FROM lookout.events WHERE run_id = $1 AND NOT (event_id = ANY($2))",
                &[&run_id, &ids],
            )? as usize;
            for e in events {
                out.events += upsert_event(&mut tx, run_id, e)? as usize;
            }
            let have: i64 = tx
                .query_one(
                    "SELECT count(*) FROM lookout.audit WHERE run_id = $1",
                    &[&run_id],
                )?
                .get(0);
            if have > 0 {
                out.review_present = !review.audit.is_empty();
            } else {
                for entry in &review.audit {
                    insert_audit(&mut tx, run_id, entry)?;
                }
                for (event_id, v) in &review.verdicts {
                    let seq = review
                        .audit
                        .iter()
                        .rev()
                        .find(|a| &a.event_id == event_id)
                        .map_or(-1, |a| a.seq);
                    upsert_verdict(&mut tx, run_id, event_id, v, seq)?;
                }
                if let Some(s) = &review.seal {
                    upsert_seal(&mut tx, run_id, s)?;
                }
                out.audit = review.audit.len();
            }
            tx.commit()?;
            Ok(out)
        })
    }
}

fn schema_version(c: &mut Client) -> Result<i32, postgres::Error> {
    let exists: bool = c
        .query_one("SELECT to_regclass('lookout.migrations') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(c.query_one(
        "SELECT COALESCE(max(version), 0) FROM lookout.migrations",
        &[],
    )?
    .get(0))
}

/// Inserts or rewrites an event; the rows changed (0 when it was there,
/// the same).
fn upsert_event(
    c: &mut impl postgres::GenericClient,
    run_id: &str,
    e: &StoredEvent,
) -> Result<u64, postgres::Error> {
    c.execute(
        "INSERT INTO lookout.events (run_id, event_id, signature, kind, count, peak_count, score,
                                     source, start_s, end_s, annotated, sha256, record)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (run_id, event_id) DO UPDATE SET signature = EXCLUDED.signature,
           kind = EXCLUDED.kind, count = EXCLUDED.count, peak_count = EXCLUDED.peak_count,
           score = EXCLUDED.score, source = EXCLUDED.source, start_s = EXCLUDED.start_s,
           end_s = EXCLUDED.end_s, annotated = EXCLUDED.annotated, sha256 = EXCLUDED.sha256,
           record = EXCLUDED.record
         WHERE lookout.events.sha256 IS DISTINCT FROM EXCLUDED.sha256",
        &[
            &run_id,
            &e.event_id,
            &e.signature,
            &e.kind,
            &(e.count as i64),
            &(e.peak_count as i64),
            &e.score,
            &e.source,
            &e.start_s,
            &e.end_s,
            &e.annotated,
            &e.sha256,
            &e.record,
        ],
    )
}

/// The verdict in the columns status, reviewer, at, note of `r`, from
/// column `first` on.
fn verdict_at(r: &Row, first: usize) -> Verdict {
    Verdict {
        status: r.get(first),
        reviewer: r.get(first + 1),
        at: r.get(first + 2),
        note: r.get(first + 3),
    }
}

/// Writes (or rewrites) the verdict on `event_id`, the audit entry `seq`
/// recorded it.
fn upsert_verdict(
    tx: &mut postgres::Transaction<'_>,
    run_id: &str,
    event_id: &str,
    v: &Verdict,
    seq: i64,
) -> Result<u64, postgres::Error> {
    tx.execute(
        "INSERT INTO lookout.verdicts VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (run_id, event_id) DO UPDATE SET status = EXCLUDED.status,
           reviewer = EXCLUDED.reviewer, at = EXCLUDED.at, note = EXCLUDED.note,
           audit_seq = EXCLUDED.audit_seq",
        &[
            &run_id,
            &event_id,
            &v.status,
            &v.reviewer,
            &v.at,
            &v.note,
            &seq,
        ],
    )
}

fn insert_audit(
    tx: &mut postgres::Transaction<'_>,
    run_id: &str,
    e: &AuditEntry,
) -> Result<u64, postgres::Error> {
    tx.execute(
        "INSERT INTO lookout.audit VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &run_id,
            &e.seq,
            &e.event_id,
            &e.reviewer,
            &e.at,
            &e.from_status,
            &e.to_status,
            &e.note,
            &e.prev_hash,
            &e.hash,
        ],
    )
}

fn upsert_seal(
    tx: &mut postgres::Transaction<'_>,
    run_id: &str,
    s: &Seal,
) -> Result<u64, postgres::Error> {
    tx.execute(
        "INSERT INTO lookout.seals VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (run_id) DO UPDATE SET entries = EXCLUDED.entries, head = EXCLUDED.head,
           public_key = EXCLUDED.public_key, signature = EXCLUDED.signature",
        &[
            &run_id,
            &(s.entries as i64),
            &s.head,
            &s.public_key,
            &s.signature,
        ],
    )
}

fn audit_entry(r: &Row) -> AuditEntry {
    AuditEntry {
        seq: r.get(0),
        event_id: r.get(1),
        reviewer: r.get(2),
        at: r.get(3),
        from_status: r.get(4),
        to_status: r.get(5),
        note: r.get(6),
        prev_hash: r.get(7),
        hash: r.get(8),
    }
}

fn event_row(r: &Row) -> EventRow {
    let run: String = r.get(0);
    let annotated: String = r.get(10);
    EventRow {
        thumb: format!("/thumbs/{run}/{annotated}"),
        run,
        id: r.get(1),
        signature: r.get(2),
        kind: r.get(3),
        count: r.get::<_, i64>(4) as u64,
        peak_count: r.get::<_, i64>(5) as u64,
        score: r.get(6),
        source: r.get(7),
        start_s: r.get(8),
        end_s: r.get(9),
        status: r.get(11),
        reviewer: r.get(12),
        run_state: RunState::Verified,
        run_problem: String::new(),
    }
}
