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

    pub fn sync(&mut self) -> Result<(), EvidenceError> {
        self.file.sync_all().map_err(io_err(&self.path))
    }
}

/// Checks a manifest's chain and every file it lists against `run_dir`.
/// Returns one message per problem; empty means it all holds.
pub fn verify(run_dir: &Path) -> Vec<String> {
    let path = run_dir.join("manifest.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return vec![format!("cannot read {}: {e}", path.display())],
    };
    let mut problems = Vec::new();
    let mut head = GENESIS.to_owned();
    for (i, line) in text.lines().enumerate() {
        let e: ManifestEntry = match serde_json::from_str(line) {
            Ok(e) => e,
            Err(err) => {
                problems.push(format!("manifest line {}: not an entry: {err}", i + 1));
                continue;
            }
        };
        if e.seq != i as u64
            || e.prev_hash != head
            || e.hash != chain_hash(e.seq, &e.path, &e.sha256, e.bytes, &e.prev_hash)
        {
            problems.push(format!(
                "manifest line {}: chain broken at {}",
                i + 1,
                e.path
            ));
        }
        head = e.hash.clone();
        match super::sha256_file(&run_dir.join(&e.path)) {
            Ok(sha) if sha == e.sha256 => {}
            Ok(_) => problems.push(format!(
                "{}: modified (sha256 differs from the manifest)",
                e.path
            )),
            Err(err) => problems.push(format!("{}: missing or unreadable: {err}", e.path)),
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_detects_changed_files_and_entries() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest::create(&dir.path().join("manifest.jsonl")).unwrap();
        for (name, body) in [("a.txt", "alpha"), ("b.txt", "beta")] {
            std::fs::write(dir.path().join(name), body).unwrap();
            m.append(name, &sha256_hex(body.as_bytes()), body.len() as u64)
                .unwrap();
        }
        m.sync().unwrap();
        assert!(verify(dir.path()).is_empty());

        std::fs::write(dir.path().join("b.txt"), "BETA").unwrap();
        let problems = verify(dir.path());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("b.txt: modified"), "{problems:?}");

        std::fs::write(dir.path().join("b.txt"), "beta").unwrap();
        let text = std::fs::read_to_string(dir.path().join("manifest.jsonl")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(
            dir.path().join("manifest.jsonl"),
            format!("{}\n{}\n", lines[1], lines[0]),
        )
        .unwrap();
        assert!(verify(dir.path())
            .iter()
            .any(|p| p.contains("chain broken")));
    }
}
