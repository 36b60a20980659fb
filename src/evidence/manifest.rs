//! `manifest.jsonl`: an append-only hash chain over a run's artefacts.
//!
//! Each line is `{"seq", "path", "sha256", "bytes", "prev_hash", "hash"}`.
//! `hash` is the sha256 of the text `"{seq}\n{path}\n{sha256}\n{bytes}\n{prev_hash}"`;
//! the first entry's `prev_hash` is 64 zeros. Changing, dropping or
//! reordering any entry breaks every hash after it, and each `sha256` pins
//! the artefact's bytes.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{sha256_hex, AppendLog, EvidenceError};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub seq: u64,
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
    pub prev_hash: String,
    pub hash: String,
}

/// The chain hash of an entry given its fields.
pub fn chain_hash(seq: u64, path: &str, sha256: &str, bytes: u64, prev_hash: &str) -> String {
    sha256_hex(format!("{seq}\n{path}\n{sha256}\n{bytes}\n{prev_hash}").as_bytes())
}

pub struct Manifest {
    log: AppendLog,
    seq: u64,
    head: String,
}

impl Manifest {
    pub fn create(path: &Path) -> Result<Manifest, EvidenceError> {
        Ok(Manifest {
            log: AppendLog::create(path)?,
            seq: 0,
            head: GENESIS.to_owned(),
        })
    }

    /// Opens the manifest of a run that stopped, to go on with its chain: a
    /// last line cut short by a kill is dropped, and every entry must
    /// follow the one before it. Returns the manifest and its entries.
    pub fn reopen(path: &Path) -> Result<(Manifest, Vec<ManifestEntry>), EvidenceError> {
        let (log, bytes) = AppendLog::reopen(path)?;
        let bad = |message: String| EvidenceError::Resume {
            path: path.to_owned(),
            message,
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut entries = Vec::new();
        let mut head = GENESIS.to_owned();
        for (i, line) in text.lines().enumerate() {
            let e: ManifestEntry = serde_json::from_str(line)
                .map_err(|err| bad(format!("line {} is not an entry: {err}", i + 1)))?;
            if e.seq != i as u64
                || e.prev_hash != head
                || e.hash != chain_hash(e.seq, &e.path, &e.sha256, e.bytes, &e.prev_hash)
            {
                return Err(bad(format!(
                    "the chain is broken at entry {} ({}): the run folder was changed after it was written",
                    i, e.path
                )));
            }
            head = e.hash.clone();
            entries.push(e);
        }
        Ok((
            Manifest {
                log,
                seq: entries.len() as u64,
                head,
            },
            entries,
        ))
    }

    /// Appends an entry for an artefact already written, and flushes it.
    pub fn append(&mut self, rel: &str, sha256: &str, bytes: u64) -> Result<(), EvidenceError> {
        let hash = chain_hash(self.seq, rel, sha256, bytes, &self.head);
        let entry = ManifestEntry {
            seq: self.seq,
            path: rel.to_owned(),
            sha256: sha256.to_owned(),
            bytes,
            prev_hash: std::mem::replace(&mut self.head, hash.clone()),
            hash,
        };
        let line = serde_json::to_vec(&entry).expect("manifest entries always serialise");
        if let Err(e) = self.log.append(&line) {
            self.head = entry.prev_hash;
            return Err(e);
        }
        self.seq += 1;
        Ok(())
    }

    /// Entries so far and the last one's hash.
    pub fn head(&self) -> (u64, &str) {
        (self.seq, &self.head)
    }

    pub fn sync(&mut self) -> Result<(), EvidenceError> {
        self.log.sync()
    }
}
