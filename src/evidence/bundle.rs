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
//!
//! This module owns the layout and `bundle.json` ([`BundleRecord`]); the
//! writer is `crate::sink::export::bundle`, and `review.json` is the
//! review layer's (`crate::review::db::ReviewExport`, checked by
//! `crate::review::verify`).

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use super::redact::Redaction;
use super::seal::{self, Seal};

pub const BUNDLE_FILE: &str = "bundle.json";
pub const BUNDLE_SIG: &str = "bundle.sig";
/// The run's review record, as the review layer writes it.
pub const REVIEW_FILE: &str = "review.json";

/// What `bundle.json`'s `format` says.
pub const BUNDLE_FORMAT: &str = "lookout-bundle";

/// Layout of `bundle.json`. 1: the first numbered layout (adds `schema`;
/// bundles written before it read as schema 0, and are otherwise the same).
pub const BUNDLE_SCHEMA: u32 = 1;

/// Files a bundle holds beside the manifest's.
pub const BUNDLE_UNLISTED: &[&str] = &[
    "manifest.jsonl",
    seal::SEAL_FILE,
    BUNDLE_FILE,
    BUNDLE_SIG,
    REVIEW_FILE,
];

/// `bundle.json`: what a bundle holds, under the exporter's signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleRecord {
    /// 0 for bundles written before the layout was numbered.
    #[serde(default)]
    pub schema: u32,
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The zip's layout, as the signed message names it (`lookout bundle
    /// v1`); always 1.
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
    pub redaction: Option<Redaction>,
}

impl BundleRecord {
    /// `bundle.json`'s bytes, as they are signed.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("records always serialise")
    }
}

/// The bytes the exporter signs: the sha256 of `bundle.json`.
pub fn message(bundle_json: &[u8]) -> Vec<u8> {
    format!("lookout bundle v1\n{}", super::sha256_hex(bundle_json)).into_bytes()
}

/// The exporter's seal over `bundle.json` (`bundle.sig`).
pub fn sign(bundle_json: &[u8], signer: &seal::RunSigner) -> Seal {
    let message = String::from_utf8(message(bundle_json)).expect("ASCII");
    signer.seal(0, &message)
}

/// Checks `bundle.json` and its signature; returns it, or the problems.
pub fn check(
    bundle_json: &str,
    signature: Option<&str>,
    trusted: &[VerifyingKey],
) -> Result<BundleRecord, Vec<String>> {
    let mut problems = Vec::new();
    let info: BundleRecord = serde_json::from_str(bundle_json)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `bundle.json` as lookout wrote it before the layout was numbered.
    const WRITTEN_BEFORE: &str = r#"{
  "format": "lookout-bundle",
  "version": 1,
  "run_id": "20261128T100000Z",
  "created_at": "2026-11-28T10:05:00.123456789Z",
  "events": ["people-in-container-s000-0001"],
  "selection": "confirmed",
  "included": ["events/people-in-container-s000-0001/event.json", "run.json"]
}"#;

    #[test]
    fn a_bundle_written_before_schemas_reads_and_verifies() {
        let signer = seal::RunSigner::from_seed([5u8; 32]);
        let sig = serde_json::to_string(&sign(WRITTEN_BEFORE.as_bytes(), &signer)).unwrap();
        let record = check(WRITTEN_BEFORE, Some(&sig), &[signer.verifying_key()]).unwrap();
        assert_eq!(record.schema, 0);
        assert_eq!(record.version, 1);
        assert_eq!(record.events, ["people-in-container-s000-0001"]);
        assert!(record.redaction.is_none());
        let back: BundleRecord = serde_json::from_slice(&record.to_json()).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn an_edited_or_unsigned_bundle_is_named() {
        let signer = seal::RunSigner::from_seed([5u8; 32]);
        let sig = serde_json::to_string(&sign(WRITTEN_BEFORE.as_bytes(), &signer)).unwrap();
        let edited = WRITTEN_BEFORE.replace("confirmed", "all");
        let p = check(&edited, Some(&sig), &[signer.verifying_key()]).unwrap_err();
        assert_eq!(p, ["bundle.json: changed after it was signed"]);
        let p = check(WRITTEN_BEFORE, None, &[signer.verifying_key()]).unwrap_err();
        assert_eq!(p, ["bundle.sig: missing"]);
    }
}
