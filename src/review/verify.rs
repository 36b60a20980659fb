//! `lookout verify` as a whole: what the run sealed
//! ([`crate::evidence::verify`]), and the review record beside it, which has
//! a chain and a seal of its own: `review.sqlite` in a run folder,
//! `review.json` in a bundle.

use std::path::Path;

use ed25519_dalek::VerifyingKey;

use super::db::{ReviewDb, ReviewExport};
use crate::evidence::bundle::REVIEW_FILE;
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
