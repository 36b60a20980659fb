//! Evidence bundles: a zip of chosen events that `lookout verify` checks
//! without the run folder.
//!
//! ```text
//! bundle.zip
//!   bundle.json        which events and which of the manifest's files are included, who exported it, when, redaction
//!   bundle.sig         the exporter's Ed25519 signature over bundle.json
//!   manifest.jsonl     the run's whole manifest (the chain needs every entry)
//!   manifest.sig       the run's seal
//!   run.json           config, model and its sha256, thresholds
//!   events/<id>/...    the chosen events' frames and event.json, untouched
//!   redacted/events/<id>/{frame,annotated}.png
//!                      with --redact, blurred copies instead of the frames
//!   review.json        the run's audit log, verdicts and their signed head
//! ```
//!
//! Files of the run that are not chosen (other events, `events.jsonl`,
//! detections) stay out: a bundle shares only what it must. Their entries
//! remain in the manifest so that the chain and the seal still verify.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::seal::{self, Seal};
use crate::review::db::{AuditEntry, Verdict};

pub const BUNDLE_FILE: &str = "bundle.json";
pub const BUNDLE_SIG: &str = "bundle.sig";
pub const REVIEW_FILE: &str = "review.json";

/// Files a bundle holds beside the manifest's.
pub const BUNDLE_UNLISTED: &[&str] = &[
    "manifest.jsonl",
    seal::SEAL_FILE,
    BUNDLE_FILE,
    BUNDLE_SIG,
    REVIEW_FILE,
];

/// `bundle.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleInfo {
    pub format: String,
    pub version: u32,
    pub run_id: String,
    pub created_at: String,
    /// The events exported, and why they were chosen.
    pub events: Vec<String>,
    pub selection: String,
    /// Manifest paths carried in the zip.
    pub included: Vec<String>,
    /// For a redacted bundle: the blurred copies carried instead of the
    /// frames, and how they were made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction: Option<super::redact::Redaction>,
}

/// `review.json`: the run's review record, whole.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewExport {
    pub audit: Vec<AuditEntry>,
    pub verdicts: BTreeMap<String, Verdict>,
    pub seal: Option<Seal>,
}

/// The bytes the exporter signs: the sha256 of `bundle.json`.
pub fn message(bundle_json: &[u8]) -> Vec<u8> {
    format!("lookout bundle v1\n{}", super::sha256_hex(bundle_json)).into_bytes()
}

/// Checks `bundle.json` and its signature; returns it, or the problems.
pub fn check(
    bundle_json: &str,
    signature: Option<&str>,
    trusted: &[VerifyingKey],
) -> Result<BundleInfo, Vec<String>> {
    let mut problems = Vec::new();
    let info: BundleInfo = serde_json::from_str(bundle_json)
        .map_err(|e| vec![format!("{BUNDLE_FILE}: not a bundle description: {e}")])?;
    match signature.map(serde_json::from_str::<Seal>) {
        None => problems.push(format!("{BUNDLE_SIG}: missing")),
        Some(Err(e)) => problems.push(format!("{BUNDLE_SIG}: not a signature: {e}")),
        Some(Ok(sig)) => {
            let expected = String::from_utf8(message(bundle_json.as_bytes())).expect("ASCII");
            if sig.head != expected {
                problems.push(format!("{BUNDLE_FILE}: changed after it was signed"));
            }
            if let Err(e) = seal::check_trusted(&sig, trusted) {
                problems.push(format!("{BUNDLE_SIG}: {e}"));
            }
        }
    }
    if problems.is_empty() {
        Ok(info)
    } else {
        Err(problems)
    }
}
