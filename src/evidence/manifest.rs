//! `manifest.jsonl`: an append-only hash chain over a run's artefacts.
//!
//! Each line is `{"seq", "path", "sha256", "bytes", "prev_hash", "hash"}`.
//! `hash` is the sha256 of the text `"{seq}\n{path}\n{sha256}\n{bytes}\n{prev_hash}"`;
//! the first entry's `prev_hash` is 64 zeros. Changing, dropping or
//! reordering any entry breaks every hash after it, and each `sha256` pins
//! the artefact's bytes.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io_err, sha256_hex, EvidenceError};

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
    path: PathBuf,
    file: File,
    seq: u64,
    head: String,
}

impl Manifest {
    pub fn create(path: &Path) -> Result<Manifest, EvidenceError> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(path)
            .map_err(io_err(path))?;
        Ok(Manifest {
            path: path.to_owned(),
            file,
            seq: 0,
            head: GENESIS.to_owned(),
        })
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
        let mut line = serde_json::to_vec(&entry).expect("manifest entries always serialise");
        line.push(b'\n');
        self.file.write_all(&line).map_err(io_err(&self.path))?;
        self.seq += 1;
        Ok(())
    }

    /// Entries so far and the last one's hash.
    pub fn head(&self) -> (u64, &str) {
        (self.seq, &self.head)
    }

    pub fn sync(&mut self) -> Result<(), EvidenceError> {
        self.file.sync_all().map_err(io_err(&self.path))
    }
}
