//! `lookout verify` as a whole: what the run sealed
//! ([`crate::evidence::verify`]), and the review record beside it, which has
//! a chain and a seal of its own: `review.sqlite` in a run folder,
//! `review.json` in a bundle.

use std::path::Path;

use ed25519_dalek::VerifyingKey;

use super::db::{verify_record, ReviewDb, ReviewExport};
use super::pg::PgStore;
use super::store::closed_events;
use crate::evidence::bundle::REVIEW_FILE;
use crate::evidence::record::RunRecord;
use crate::evidence::verify::{self as evidence, Report, Store};

/// Checks the run folder `dir` (see [`evidence::verify_run`]) and its
/// review database, when it has one.
pub fn verify_run(dir: &Path, trusted: &[VerifyingKey]) -> Report {
    let mut report = evidence::verify_run(dir, trusted);
    match ReviewDb::open_existing(dir) {
        Ok(Some(db)) => match db.verify(trusted) {
            Ok(p) => report.problems.extend(p),
            Err(e) => report.problems.push(e.to_string()),
        },
        Ok(None) => {}
        Err(e) => report.problems.push(e.to_string()),
    }
    report
}

/// Checks the run folder `dir` (as [`verify_run`] does, `review.sqlite`
/// included when it has one) with what the shared `store` holds of it:
/// each of its closed events listed once, with its `event.json`'s sha256,
/// nothing it does not have, and the run's audit chain and signed head.
pub fn verify_run_in_store(dir: &Path, store: &PgStore, trusted: &[VerifyingKey]) -> Report {
    let mut report = verify_run(dir, trusted);
    match store_problems(dir, store, trusted) {
        Ok(p) => report.problems.extend(p),
        Err(e) => report.problems.push(e),
    }
    report
}

fn store_problems(
    dir: &Path,
    store: &PgStore,
    trusted: &[VerifyingKey],
) -> Result<Vec<String>, String> {
    let what = format!("review store {}", store.shown());
    let record = RunRecord::read(dir).map_err(|e| e.to_string())?;
    let run_id = &record.run_id;
    let runs = store.runs().map_err(|e| e.to_string())?;
    match runs.iter().find(|r| &r.run_id == run_id) {
        None => return Ok(vec![format!("{what}: has no run {run_id}")]),
        Some(r) if r.started_at != record.started_at => {
            return Ok(vec![format!(
                "{what}: its run {run_id} is another run (started {}, this one {})",
                r.started_at, record.started_at
            )])
        }
        Some(_) => {}
    }
    let mut problems = Vec::new();
    let mut listed = store.run_events(run_id).map_err(|e| e.to_string())?;
    let events = closed_events(dir).map_err(|e| e.to_string())?;
    for e in &events {
        match listed.remove(&e.event_id) {
            None => problems.push(format!(
                "{what}: event {} of the run is missing from it",
                e.event_id
            )),
            Some(sha) if sha != e.sha256 => problems.push(format!(
                "{what}: its event {} differs from the run's event.json (sha256 {sha}, the file {})",
                e.event_id, e.sha256
            )),
            Some(_) => {}
        }
    }
    for id in listed.keys() {
        problems.push(format!(
            "{what}: lists event {id}, which the run does not have"
        ));
    }
    let review = store.export(run_id).map_err(|e| e.to_string())?;
    let verdicts: Vec<_> = review.verdicts.into_iter().collect();
    problems.extend(verify_record(
        &what,
        &review.audit,
        &verdicts,
        review.seal.as_ref(),
        trusted,
    ));
    Ok(problems)
}

/// Checks a bundle made by `lookout export --format bundle` (see
/// [`evidence::verify_bundle`]) and the review record it carries.
pub fn verify_bundle(zip: &Path, trusted: &[VerifyingKey]) -> Report {
    let store = match Store::open_zip(zip) {
        Ok(store) => store,
        Err(e) => {
            return Report {
                problems: vec![format!("cannot read the bundle: {e}")],
                ..Report::default()
            }
        }
    };
    let mut report = evidence::verify_store(&store, trusted);
    report.problems.extend(check_bundled(&store, trusted));
    report
}

/// The problems of a bundle's `review.json`; none when it carries none.
fn check_bundled(store: &Store, trusted: &[VerifyingKey]) -> Vec<String> {
    let Ok(text) = store.read_string(REVIEW_FILE) else {
        return Vec::new();
    };
    match serde_json::from_str::<ReviewExport>(&text) {
        Ok(r) => r.verify(trusted),
        Err(e) => vec![format!("{REVIEW_FILE}: not a review record: {e}")],
    }
}
