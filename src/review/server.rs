//! The review server behind `lookout serve`: a static UI and a small JSON
//! API over one or many run folders.
//!
//! Security, in the order a request meets it:
//! - it listens on 127.0.0.1 unless told otherwise;
//! - every request needs the access token: as the `lookout_token` cookie,
//!   which `GET /?token=…` sets (HttpOnly, SameSite=Strict), or as
//!   `Authorization: Bearer …`; without it, 401;
//! - requests that change state are POSTs that must carry the CSRF token
//!   (`X-CSRF-Token`, from `GET /api/session`) and, when the browser sends
//!   an `Origin`, come from this server's own origin;
//! - files are served only when the run's manifest lists them, so nothing
//!   outside the run folders (nor the review database) can be read;
//! - every response has a strict CSP, `nosniff`, `DENY` framing and no
//!   referrer.
//!
//! Each run is checked as `lookout verify` checks it when it is read (and
//! again whenever its manifest, seal, `run.json` or events change), and
//! its events carry the outcome as [`RunState`]: verified, tampered (with
//! what failed) or unfinished (killed or failed). Verdicts on the events of
//! a tampered run are refused (409): a verdict would vouch for evidence
//! that is no longer what was sealed.
//!
//! The runs folder need not exist at start: runs are picked up as they
//! appear.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::db::{NewVerdict, ReviewDb, ReviewError, Verdict, STATUSES};
use super::list::{list, EventRow, ListQuery, RunState};
use super::pg::PgStore;
use crate::evidence::manifest::ManifestEntry;
use crate::evidence::record::{EventLine, EventRecord, RecordError, RunRecord, RunStatus, Step};
use crate::evidence::seal::{RunSigner, SEAL_FILE};
use ed25519_dalek::VerifyingKey;

/// Why the server could not start, or a run folder could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Review(#[from] ReviewError),
    #[error("cannot start the server: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

const INDEX_HTML: &str = include_str!("ui/index.html");
const APP_JS: &str = include_str!("ui/app.js");
const STYLE_CSS: &str = include_str!("ui/style.css");

/// A run's state and, unless verified, why.
#[derive(Debug, Clone)]
pub struct RunCheck {
    pub state: RunState,
    pub problem: String,
}

/// Checks the run folder `dir` with its `record`: a run still running,
/// or one that failed or was interrupted before it was sealed, is
/// unfinished and is not hashed (a live run grows all the time); any
/// other is verified as `lookout verify` does, by the keys `trusted`. A
/// sealed run that failed or was interrupted verifies, and is still
/// unfinished: its events are what it found before it stopped.
pub fn check_run(dir: &Path, record: &RunRecord, trusted: &[VerifyingKey]) -> RunCheck {
    let status = record.status_now(dir);
    let unfinished = || RunCheck {
        state: RunState::Unfinished,
        problem: format!("the run is {}", record.status_line(dir)),
    };
    if !dir.join(SEAL_FILE).is_file() && status != RunStatus::Finished {
        return RunCheck {
            problem: format!("{}; not sealed", unfinished().problem),
            ..unfinished()
        };
    }
    let report = super::verify::verify_run(dir, trusted);
    if !report.holds() {
        RunCheck {
            state: RunState::Tampered,
            problem: first_problems(&report.problems, dir),
        }
    } else if status != RunStatus::Finished {
        unfinished()
    } else {
        RunCheck {
            state: RunState::Verified,
            problem: String::new(),
        }
    }
}

/// How many of a tampered run's problems its state names: every row of
/// the run carries the text, and a run whose manifest is gone has one
/// problem per file (20,000 events: megabytes per row).
const PROBLEMS_SHOWN: usize = 8;

/// The first [`PROBLEMS_SHOWN`] problems, and how many more there are.
fn first_problems(problems: &[String], dir: &Path) -> String {
    let mut text = problems
        .iter()
        .take(PROBLEMS_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if problems.len() > PROBLEMS_SHOWN {
        text.push_str(&format!(
            "; and {} more (lookout verify {} lists them all)",
            problems.len() - PROBLEMS_SHOWN,
            dir.display()
        ));
    }
    text
}

/// One run folder being reviewed.
pub struct ReviewRun {
    pub id: String,
    pub dir: PathBuf,
    /// The files its manifest lists: the only ones served.
    files: std::collections::BTreeSet<String>,
    /// Its `review.sqlite`; `None` with a shared store, which holds the
    /// review records of every run.
    db: Option<Mutex<ReviewDb>>,
    record: RunRecord,
    /// What its checks found when it was read.
    pub check: RunCheck,
    /// See [`stamp`].
    stamp: Stamp,
}

pub struct AppState {
    root: PathBuf,
    runs: RwLock<BTreeMap<String, Arc<ReviewRun>>>,
    events: RwLock<Vec<EventRow>>,
    /// When the run folders were last looked at.
    looked: Mutex<std::time::Instant>,
    /// Thumbnails by `run/path`.
    thumbs: Mutex<std::collections::HashMap<String, Vec<u8>>>,
    token: String,
    csrf: String,
    signer: RunSigner,
    /// The keys whose seals are trusted: this machine's and `--trust`'s.
    trusted: Vec<VerifyingKey>,
    /// The shared review store, when there is one: the event list and
    /// every verdict come from it, and the run folders give the evidence.
    store: Option<Arc<PgStore>>,
}

/// Sizes and change times of the files that tell whether a run has grown
/// or was sealed since it was read.
type Stamp = [(u64, Option<std::time::SystemTime>); 4];

fn stamp(dir: &Path) -> Stamp {
    let look = |name: &str| {
        std::fs::metadata(dir.join(name)).map_or((0, None), |m| (m.len(), m.modified().ok()))
    };
    [
        look("events.jsonl"),
        look("manifest.jsonl"),
        look(SEAL_FILE),
        look("run.json"),
    ]
}

impl AppState {
    fn run(&self, id: &str) -> Option<Arc<ReviewRun>> {
        self.runs.read().expect("runs lock").get(id).cloned()
    }

    /// Picks up runs that appeared or grew since they were read (a `screen`
    /// that finished, a `watch` still running), at most once a second.
    fn refresh(&self) {
        {
            let mut looked = self.looked.lock().expect("lock");
            if looked.elapsed() < std::time::Duration::from_secs(1) {
                return;
            }
            *looked = std::time::Instant::now();
        }
        let Ok(dirs) = find_runs(&self.root) else {
            return;
        };
        for dir in dirs {
            let id = run_id(&dir);
            let known = self.run(&id).map(|r| r.stamp);
            if known == Some(stamp(&dir)) {
                continue;
            }
            match load_run(&dir, &self.trusted, self.store.is_none()) {
                Ok((run, rows)) => {
                    let mut events = self.events.write().expect("events lock");
                    events.retain(|e| e.run != id);
                    events.extend(rows);
                    self.runs
                        .write()
                        .expect("runs lock")
                        .insert(id, Arc::new(run));
                }
                Err(e) => tracing::warn!("{}: cannot read it yet: {e:#}", dir.display()),
            }
        }
    }
}

fn run_id(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The run folders under `root`: `root` itself when it is one, else its
/// subfolders that are.
pub fn find_runs(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    if root.join("manifest.jsonl").is_file() {
        return Ok(vec![root.to_owned()]);
    }
    let mut runs: Vec<PathBuf> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("manifest.jsonl").is_file())
        .collect();
    runs.sort();
    Ok(runs)
}

/// The event list's row of a close step.
fn row(
    run: &str,
    dir: &Path,
    e: &EventLine,
    verdict: Option<&Verdict>,
    check: &RunCheck,
) -> EventRow {
    let s = &e.event;
    // The score of the best frame is only in event.json.
    let score = EventRecord::read(&dir.join("events").join(&s.event_id).join("event.json"))
        .map_or(0.0, |r| f64::from(r.best_frame.mean_score));
    let source = &s.source.path;
    EventRow {
        run: run.to_owned(),
        id: s.event_id.clone(),
        signature: s.signature.clone(),
        kind: s.kind.clone(),
        count: s.count,
        peak_count: s.peak_count,
        score,
        source: super::store::source_name(source),
        start_s: s.start_s,
        end_s: e.end_s,
        status: verdict.map_or("new", |v| &v.status).to_owned(),
        reviewer: verdict.map(|v| v.reviewer.clone()).unwrap_or_default(),
        thumb: e
            .artefacts
            .as_ref()
            .map(|a| format!("/thumbs/{run}/{}", a.annotated))
            .unwrap_or_default(),
        run_state: check.state,
        run_problem: check.problem.clone(),
    }
}

/// Reads the run folder `dir`; with `sqlite`, its review database and
/// event rows too (a shared store has those).
fn load_run(
    dir: &Path,
    trusted: &[VerifyingKey],
    sqlite: bool,
) -> Result<(ReviewRun, Vec<EventRow>), ServerError> {
    let id = run_id(dir);
    let stamp = stamp(dir);
    let manifest = dir.join("manifest.jsonl");
    let files = std::fs::read_to_string(&manifest)
        .map_err(|source| ServerError::Read {
            path: manifest,
            source,
        })?
        .lines()
        .filter_map(|l| serde_json::from_str::<ManifestEntry>(l).ok())
        .map(|e| e.path)
        .collect();
    let record = RunRecord::read(dir)?;
    // Checked before the review database is opened (and made, if new).
    let check = check_run(dir, &record, trusted);
    if check.state != RunState::Verified {
        tracing::warn!("{}: {:?}: {}", dir.display(), check.state, check.problem);
    }
    let (db, rows) = if sqlite {
        let db = ReviewDb::open(dir)?;
        let verdicts: BTreeMap<String, Verdict> = db.verdicts()?.into_iter().collect();
        let rows = EventLine::read_all(dir)?
            .iter()
            .filter(|e| e.step == Step::Close)
            .map(|e| row(&id, dir, e, verdicts.get(&e.event.event_id), &check))
            .collect();
        (Some(Mutex::new(db)), rows)
    } else {
        (None, Vec::new())
    };
    Ok((
        ReviewRun {
            id,
            dir: dir.to_owned(),
            files,
            db,
            record,
            check,
            stamp,
        },
        rows,
    ))
}

/// Loads every run under `root`, checking each by the keys `trusted` (the
/// signer's key is trusted too). A run that cannot be read is reported and
/// left out; the others are served. A `root` that does not exist yet, or
/// holds no runs yet, is served empty, and runs are picked up as they
/// appear. With a shared `store`, events and verdicts are read from it and
/// recorded into it, and the run folders give the evidence.
pub fn load(
    root: &Path,
    token: String,
    signer: RunSigner,
    mut trusted: Vec<VerifyingKey>,
    store: Option<Arc<PgStore>>,
) -> Result<Arc<AppState>, ServerError> {
    trusted.push(signer.verifying_key());
    let dirs = match find_runs(root) {
        Ok(dirs) => dirs,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(ServerError::Read {
                path: root.to_owned(),
                source,
            })
        }
    };
    if dirs.is_empty() {
        tracing::warn!(
            "{}: no run folders (folders with a manifest.jsonl) yet; they are listed as they appear",
            root.display()
        );
    }
    let mut runs = BTreeMap::new();
    let mut events = Vec::new();
    for dir in dirs {
        match load_run(&dir, &trusted, store.is_none()) {
            Ok((run, rows)) => {
                events.extend(rows);
                runs.insert(run.id.clone(), Arc::new(run));
            }
            Err(e) => tracing::error!("{}: left out: {e:#}", dir.display()),
        }
    }
    let csrf = crate::digest::sha256_hex(format!("lookout csrf\n{token}").as_bytes());
    Ok(Arc::new(AppState {
        root: root.to_owned(),
        runs: RwLock::new(runs),
        events: RwLock::new(events),
        looked: Mutex::new(std::time::Instant::now()),
        thumbs: Mutex::new(Default::default()),
        token,
        csrf,
        signer,
        trusted,
        store,
    }))
}

/// A fresh random token.
pub fn new_token() -> String {
    let mut b = [0u8; 24];
    getrandom::fill(&mut b).expect("the OS has randomness");
    hex::encode(b)
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("lookout_token=").map(str::to_owned))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_owned(),
    )
        .into_response()
}

/// Token, CSRF and origin checks, and the security headers.
async fn guard(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let query_token = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")))
        .map(str::to_owned);
    let mut response = if req.uri().path() == "/"
        && query_token.as_deref().is_some_and(|t| same(t, &app.token))
    {
        // The address printed at start: set the cookie, and drop the token
        // from the address bar and history.
        let cookie = format!(
            "lookout_token={}; HttpOnly; SameSite=Strict; Path=/",
            app.token
        );
        Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, "/")
            .header(header::SET_COOKIE, cookie)
            .body(Body::empty())
            .expect("a valid response")
    } else if !cookie_token(headers)
        .or_else(|| bearer(headers))
        .is_some_and(|t| same(&t, &app.token))
    {
        plain(
            StatusCode::UNAUTHORIZED,
            "lookout: this review server needs its access token; open the address it printed at start (…/?token=…)\n",
        )
    } else if req.method() != Method::GET && req.method() != Method::HEAD {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let origin_ok = headers
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .is_none_or(|o| o == format!("http://{host}") || o == format!("https://{host}"));
        let csrf_ok = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| same(t, &app.csrf));
        if origin_ok && csrf_ok {
            next.run(req).await
        } else {
            plain(
                StatusCode::FORBIDDEN,
                "lookout: missing or wrong CSRF token, or a foreign origin\n",
            )
        }
    } else {
        next.run(req).await
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Runs a call into the shared store off the server's thread (the
/// PostgreSQL client blocks).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ReviewError> + Send + 'static,
) -> Result<T, ReviewError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ReviewError::Invalid(format!("the store call failed: {e}"))))
}

/// The response for a review error: 400 for a bad verdict, 409 for a
/// conflict, 503 when the shared store cannot be reached or refused.
fn review_error(e: ReviewError) -> Response {
    let status = match &e {
        ReviewError::Invalid(_) => StatusCode::BAD_REQUEST,
        ReviewError::Conflict(_) => StatusCode::CONFLICT,
        ReviewError::Store { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ReviewError::Db { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    };
    plain(status, &format!("{e}\n"))
}

/// A row from the shared store, with its run's state as this server's
/// checks of the run folder found it.
fn with_run_state(app: &AppState, mut row: EventRow) -> EventRow {
    match app.run(&row.run) {
        Some(r) => {
            row.run_state = r.check.state;
            row.run_problem = r.check.problem.clone();
        }
        None => {
            row.run_state = RunState::Unfinished;
            row.run_problem = format!(
                "its run folder is not under {} on this server",
                app.root.display()
            );
        }
    }
    row
}

async fn session(State(app): State<Arc<AppState>>) -> Response {
    app.refresh();
    let (signatures, sources, runs, n) = match app.store.clone() {
        Some(store) => match blocking(move || store.facets()).await {
            Ok(f) => (f.signatures, f.sources, f.runs, f.events),
            Err(e) => return review_error(e),
        },
        None => {
            let events = app.events.read().expect("events lock");
            let distinct = |f: fn(&EventRow) -> &str| {
                let set: std::collections::BTreeSet<&str> = events.iter().map(f).collect();
                set.into_iter().map(str::to_owned).collect::<Vec<_>>()
            };
            (
                distinct(|e| &e.signature),
                distinct(|e| &e.source),
                app.runs
                    .read()
                    .expect("runs lock")
                    .keys()
                    .cloned()
                    .collect(),
                events.len(),
            )
        }
    };
    Json(json!({
        "csrf": app.csrf,
        "statuses": STATUSES,
        "signatures": signatures,
        "sources": sources,
        "runs": runs,
        "events": n,
    }))
    .into_response()
}

async fn events(State(app): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
    app.refresh();
    let (total, page) = match app.store.clone() {
        Some(store) => match blocking(move || store.list(&q)).await {
            Ok((total, page)) => (
                total,
                page.into_iter().map(|r| with_run_state(&app, r)).collect(),
            ),
            Err(e) => return review_error(e),
        },
        None => list(&app.events.read().expect("events lock"), &q),
    };
    Json(json!({"total": total, "events": page})).into_response()
}

/// The row of event `id` of `run`, and its audit entries.
async fn row_and_audit(
    app: &Arc<AppState>,
    r: &ReviewRun,
    run: &str,
    id: &str,
) -> Result<(Option<EventRow>, Vec<super::db::AuditEntry>), ReviewError> {
    match app.store.clone() {
        Some(store) => {
            let (run, id) = (run.to_owned(), id.to_owned());
            let (row, audit) =
                blocking(move || Ok((store.row(&run, &id)?, store.audit(&run, Some(&id))?)))
                    .await?;
            Ok((row.map(|row| with_run_state(app, row)), audit))
        }
        None => {
            let row = app
                .events
                .read()
                .expect("events lock")
                .iter()
                .find(|e| e.run == run && e.id == id)
                .cloned();
            let db =
                r.db.as_ref()
                    .expect("a run has its database without a store");
            let audit = db.lock().expect("db lock").audit(Some(id))?;
            Ok((row, audit))
        }
    }
}

fn not_found() -> Response {
    plain(StatusCode::NOT_FOUND, "not found\n")
}

async fn event(
    State(app): State<Arc<AppState>>,
    UrlPath((run, id)): UrlPath<(String, String)>,
) -> Response {
    let Some(r) = app.run(&run) else {
        return not_found();
    };
    let rel = format!("events/{id}/event.json");
    if !r.files.contains(&rel) {
        return not_found();
    }
    let Ok(detail) = EventRecord::read(&r.dir.join(&rel)) else {
        return not_found();
    };
    match row_and_audit(&app, &r, &run, &id).await {
        Ok((row, audit)) => Json(json!({
            "row": row,
            "event": detail,
            "audit": audit,
            "run": {
                "id": r.id,
                "model": r.record.model,
                "thresholds": r.record.thresholds,
                "started_at": r.record.started_at,
                "signing": r.record.signing,
            },
        }))
        .into_response(),
        Err(e) => review_error(e),
    }
}

#[derive(Debug, Deserialize)]
struct VerdictBody {
    status: String,
    reviewer: String,
    #[serde(default)]
    note: String,
    /// The status the reviewer saw. When another reviewer changed it in
    /// the meantime, the verdict is refused (409) rather than recorded
    /// over theirs unseen. The UI always sends it.
    #[serde(default)]
    expect: Option<String>,
}

impl VerdictBody {
    /// The verdict on event `id`, given at `at`.
    fn verdict<'a>(&'a self, id: &'a str, at: &'a str) -> NewVerdict<'a> {
        NewVerdict {
            event_id: id,
            status: &self.status,
            reviewer: &self.reviewer,
            note: &self.note,
            at,
            expect: self.expect.as_deref(),
        }
    }
}

async fn verdict(
    State(app): State<Arc<AppState>>,
    UrlPath((run, id)): UrlPath<(String, String)>,
    Json(body): Json<VerdictBody>,
) -> Response {
    let Some(r) = app.run(&run) else {
        return not_found();
    };
    if r.check.state == RunState::Tampered {
        return plain(
            StatusCode::CONFLICT,
            &format!(
                "run {run} does not verify ({}); verdicts on its events are refused, \
                 as they would vouch for evidence that is no longer what was sealed; \
                 `lookout verify {}` names every problem\n",
                r.check.problem,
                r.dir.display()
            ),
        );
    }
    let at = crate::clock::now_rfc3339();
    let recorded = match app.store.clone() {
        Some(store) => {
            let app = app.clone();
            let (run, id) = (run.clone(), id.clone());
            blocking(move || {
                if store.row(&run, &id)?.is_none() {
                    return Ok(None);
                }
                store
                    .record(&run, &body.verdict(&id, &at), &app.signer)
                    .map(Some)
            })
            .await
        }
        None => {
            if !app
                .events
                .read()
                .expect("events lock")
                .iter()
                .any(|e| e.run == run && e.id == id)
            {
                return not_found();
            }
            let verdict = body.verdict(&id, &at);
            let db =
                r.db.as_ref()
                    .expect("a run has its database without a store");
            let recorded = db.lock().expect("db lock").record(&verdict, &app.signer);
            recorded.map(Some)
        }
    };
    match recorded {
        Ok(None) => not_found(),
        Ok(Some(entry)) => {
            if let Some(e) = app
                .events
                .write()
                .expect("events lock")
                .iter_mut()
                .find(|e| e.run == run && e.id == id)
            {
                e.status = entry.to_status.clone();
                e.reviewer = entry.reviewer.clone();
            }
            tracing::info!(run = %run, event = %id, reviewer = %entry.reviewer, "{} → {}", entry.from_status, entry.to_status);
            Json(json!({"audit": entry})).into_response()
        }
        Err(e) => {
            if matches!(e, ReviewError::Conflict(_)) {
                tracing::info!(run = %run, event = %id, "verdict refused: {e}");
            }
            review_error(e)
        }
    }
}

async fn file(
    State(app): State<Arc<AppState>>,
    UrlPath((run, rel)): UrlPath<(String, String)>,
) -> Response {
    // Only what the manifest lists: no traversal, no database, no key.
    let Some(r) = app.run(&run) else {
        return not_found();
    };
    if !r.files.contains(&rel) {
        return not_found();
    }
    let content_type = match rel.rsplit('.').next() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("json" | "geojson") => "application/json",
        _ => "application/octet-stream",
    };
    match std::fs::read(r.dir.join(&rel)) {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Err(_) => not_found(),
    }
}

/// Width of the list's thumbnails, in pixels.
const THUMB_WIDTH: u32 = 192;
/// Thumbnails kept in memory (about 10 kB each) before the cache starts over.
const THUMB_CACHE: usize = 4096;

/// A small JPEG of a listed frame, for the event list: made on first
/// request, off the server's thread, and kept in memory.
async fn thumb(
    State(app): State<Arc<AppState>>,
    UrlPath((run, rel)): UrlPath<(String, String)>,
) -> Response {
    let Some(r) = app.run(&run) else {
        return not_found();
    };
    if !r.files.contains(&rel) || !rel.ends_with(".jpg") {
        return not_found();
    }
    let key = format!("{run}/{rel}");
    if let Some(bytes) = app.thumbs.lock().expect("thumbs lock").get(&key).cloned() {
        return ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response();
    }
    let path = r.dir.join(&rel);
    let made = tokio::task::spawn_blocking(move || -> Option<Vec<u8>> {
        let img = image::open(&path).ok()?.to_rgb8();
        let h = (u64::from(img.height()) * u64::from(THUMB_WIDTH) / u64::from(img.width().max(1)))
            .max(1) as u32;
        let small = image::imageops::thumbnail(&img, THUMB_WIDTH, h);
        crate::evidence::encode_jpeg(&small, 80, &path).ok()
    })
    .await
    .ok()
    .flatten();
    match made {
        Some(bytes) => {
            let mut cache = app.thumbs.lock().expect("thumbs lock");
            if cache.len() >= THUMB_CACHE {
                cache.clear();
            }
            cache.insert(key, bytes.clone());
            ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response()
        }
        None => not_found(),
    }
}

pub fn router(app: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .route("/api/session", get(session))
        .route("/api/events", get(events))
        .route("/api/events/{run}/{id}", get(event))
        .route("/api/events/{run}/{id}/verdict", post(verdict))
        .route("/files/{run}/{*rel}", get(file))
        .route("/thumbs/{run}/{*rel}", get(thumb))
        .fallback(|| async { not_found() })
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Binds `addr` and serves until the process ends. Returns the bound
/// address through `bound` before serving.
pub fn serve(
    app: Arc<AppState>,
    addr: SocketAddr,
    bound: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(ServerError::Runtime)?;
    runtime.block_on(async move {
        let listen_err = |source| ServerError::Listen { addr, source };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(listen_err)?;
        bound(listener.local_addr().map_err(listen_err)?);
        axum::serve(listener, router(app))
            .await
            .map_err(ServerError::Serve)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_with_thousands_of_problems_names_the_first_and_counts_the_rest() {
        let problems: Vec<String> = (0..20_000)
            .map(|i| format!("events/e{i}/event.json: extra (not in the manifest)"))
            .collect();
        let text = first_problems(&problems, Path::new("runs/big"));
        assert!(text.starts_with("events/e0/event.json: extra"), "{text}");
        assert!(text.contains("events/e7/event.json") && !text.contains("events/e8/"));
        assert!(
            text.ends_with("; and 19992 more (lookout verify runs/big lists them all)"),
            "{text}"
        );
        let few = first_problems(&problems[..2], Path::new("r"));
        assert_eq!(few.matches("extra").count(), 2);
        assert!(!few.contains("more"), "{few}");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
