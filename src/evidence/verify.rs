//! `lookout verify`: does a run folder still hold exactly what was sealed?
//!
//! Every check runs, whatever fails first, so the report names every file
//! that was modified, is missing or is extra, every manifest entry that was
//! edited, removed or moved, and whether the seal holds and is by a key the
//! caller trusts.
//!
//! The review record beside the evidence has a chain and a seal of its
//! own; `crate::review::verify` checks it on top of this.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ed25519_dalek::VerifyingKey;

use super::bundle::{BundleRecord, BUNDLE_FILE, BUNDLE_SIG, BUNDLE_UNLISTED};
use super::manifest::{chain_hash, ManifestEntry, GENESIS};
use super::record::RunRecord;
use super::seal::{self, Seal, SEAL_FILE};

/// Why a bundle could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("{name}: {source}")]
    Entry {
        name: String,
        source: std::io::Error,
    },
}

/// Where a run's files are: its folder, or a bundle read into memory.
pub enum Store {
    Dir(std::path::PathBuf),
    Zip(BTreeMap<String, Vec<u8>>),
}

impl Store {
    /// Reads a bundle's files (a few events: it fits in memory).
    pub fn open_zip(path: &Path) -> Result<Store, StoreError> {
        let file = std::fs::File::open(path)?;
        let mut zip = zip::ZipArchive::new(file)?;
        let mut files = BTreeMap::new();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i)?;
            if f.is_dir() {
                continue;
            }
            let name = f.name()?.into_owned();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut bytes).map_err(|source| StoreError::Entry {
                name: name.clone(),
                source,
            })?;
            files.insert(name, bytes);
        }
        Ok(Store::Zip(files))
    }

    pub fn is_zip(&self) -> bool {
        matches!(self, Store::Zip(_))
    }

    /// The file `rel` (a '/'-separated path relative to the run), as text.
    pub fn read_string(&self, rel: &str) -> std::io::Result<String> {
        match self {
            Store::Dir(dir) => std::fs::read_to_string(dir.join(rel)),
            Store::Zip(files) => files
                .get(rel)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .ok_or_else(|| std::io::ErrorKind::NotFound.into()),
        }
    }

    fn sha256(&self, rel: &str) -> std::io::Result<String> {
        match self {
            Store::Dir(dir) => super::sha256_file(&dir.join(rel)),
            Store::Zip(files) => files
                .get(rel)
                .map(|b| super::sha256_hex(b))
                .ok_or_else(|| std::io::ErrorKind::NotFound.into()),
        }
    }

    /// Every file, as a '/'-separated path relative to the run.
    fn files(&self) -> Vec<String> {
        match self {
            Store::Dir(dir) => walkdir::WalkDir::new(dir)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|f| f.file_type().is_file())
                .filter_map(|f| {
                    f.path()
                        .strip_prefix(dir)
                        .ok()
                        .map(|r| r.to_string_lossy().replace('\\', "/"))
                })
                .collect(),
            Store::Zip(files) => files.keys().cloned().collect(),
        }
    }
}

fn check_bundle(
    store: &Store,
    text: &str,
    trusted: &[VerifyingKey],
) -> Result<BundleRecord, Vec<String>> {
    let sig = store.read_string(BUNDLE_SIG).ok();
    super::bundle::check(text, sig.as_deref(), trusted)
}

/// The problem with file `rel`, if its sha256 is not `expected`, as
/// `record` (the manifest's, bundle.json's) gives it.
fn check_file(store: &Store, rel: &str, expected: &str, record: &str) -> Option<String> {
    match store.sha256(rel) {
        Ok(sha) if sha == expected => None,
        Ok(_) => Some(format!(
            "{rel}: modified (its sha256 differs from {record})"
        )),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Some(format!("{rel}: missing")),
        Err(err) => Some(format!("{rel}: unreadable: {err}")),
    }
}

/// Files a run folder may hold beside those in the manifest: the writer's
/// lock and its reserved space (while it runs, or left by a kill), the
/// manifest and its seal, and
/// the review database, which has its own chain
/// (checked by `crate::review::verify`).
pub const UNLISTED: &[&str] = &[
    super::lock::LOCK_FILE,
    super::RESERVE_FILE,
    "manifest.jsonl",
    SEAL_FILE,
    "review.sqlite",
    "review.sqlite-wal",
    "review.sqlite-shm",
];

/// The number of a resume's record, `resumes/<n>.json`, else `None`.
pub fn resume_marker(path: &str) -> Option<u32> {
    path.strip_prefix("resumes/")?
        .strip_suffix(".json")?
        .parse()
        .ok()
}

/// What [`verify_run`] and [`verify_bundle`] found.
#[derive(Debug, Default)]
pub struct Report {
    /// One line per problem; empty when everything holds.
    pub problems: Vec<String>,
    /// Entries in the manifest.
    pub entries: usize,
    /// Hex of the key that signed the seal, when the signature is valid.
    pub signed_by: Option<String>,
    /// Blurred copies in a redacted bundle, checked against `bundle.json`.
    pub redacted: usize,
}

impl Report {
    pub fn holds(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the run folder `dir`: its manifest chain, every file, files the
/// manifest does not list, and the seal, which must be by one of `trusted`.
pub fn verify_run(dir: &Path, trusted: &[VerifyingKey]) -> Report {
    verify_store(&Store::Dir(dir.to_owned()), trusted)
}

/// Checks a bundle made by `lookout export --format bundle`: the same
/// checks as a run folder's, over the files it includes, plus the
/// exporter's signature over `bundle.json`.
pub fn verify_bundle(zip: &Path, trusted: &[VerifyingKey]) -> Report {
    match Store::open_zip(zip) {
        Ok(store) => verify_store(&store, trusted),
        Err(e) => Report {
            problems: vec![format!("cannot read the bundle: {e}")],
            ..Report::default()
        },
    }
}

/// The checks of [`verify_run`] and [`verify_bundle`], over `store`.
pub fn verify_store(store: &Store, trusted: &[VerifyingKey]) -> Report {
    let mut report = Report::default();
    let problems = &mut report.problems;
    // A bundle says which of the manifest's files it carries, under the
    // exporter's signature.
    let bundle = match store.read_string(BUNDLE_FILE) {
        Ok(text) if store.is_zip() => match check_bundle(store, &text, trusted) {
            Ok(b) => Some(b),
            Err(p) => {
                problems.extend(p);
                return report;
            }
        },
        _ => None,
    };
    let text = match store.read_string("manifest.jsonl") {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("manifest.jsonl: cannot read it: {e}"));
            return report;
        }
    };

    // The chain. Each entry is checked against its own fields and against
    // the entry numbered before it, wherever that one stands, so a moved
    // line is reported as out of order rather than as a broken chain.
    let mut entries: Vec<(usize, ManifestEntry)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match serde_json::from_str::<ManifestEntry>(line) {
            Ok(e) => entries.push((i + 1, e)),
            Err(err) => problems.push(format!(
                "manifest.jsonl line {}: not an entry: {err}",
                i + 1
            )),
        }
    }
    report.entries = entries.len();
    let mut by_seq: BTreeMap<u64, &ManifestEntry> = BTreeMap::new();
    for (line, e) in &entries {
        if by_seq.insert(e.seq, e).is_some() {
            problems.push(format!(
                "manifest.jsonl line {line}: a second entry numbered {}",
                e.seq
            ));
        }
    }
    for (index, (line, e)) in entries.iter().enumerate() {
        let at = format!("manifest.jsonl line {line}: entry {} ({})", e.seq, e.path);
        if e.seq != index as u64 {
            problems.push(format!("{at} is out of order"));
        }
        if e.hash != chain_hash(e.seq, &e.path, &e.sha256, e.bytes, &e.prev_hash) {
            problems.push(format!(
                "{at} was edited: its hash does not match its fields"
            ));
        }
        let expected_prev = match e.seq {
            0 => Some(GENESIS.to_owned()),
            n => by_seq.get(&(n - 1)).map(|p| p.hash.clone()),
        };
        match expected_prev {
            Some(prev) if prev != e.prev_hash => problems.push(format!(
                "{at} does not follow entry {}: the chain is broken",
                e.seq.saturating_sub(1)
            )),
            Some(_) => {}
            None => problems.push(format!(
                "{at} follows entry {}, which is missing",
                e.seq - 1
            )),
        }
    }

    // The files. A path is listed once, except that a resume
    // (`resumes/<n>.json`) lets the inputs it screens again list their
    // files anew: each file is checked against its latest entry.
    let mut epoch_of: BTreeMap<&str, u32> = BTreeMap::new();
    let mut latest: BTreeMap<&str, &ManifestEntry> = BTreeMap::new();
    let mut epoch = 0u32;
    for (_, e) in &entries {
        if let Some(previous) = epoch_of.insert(&e.path, epoch) {
            if previous == epoch {
                problems.push(format!("{}: listed twice in the manifest", e.path));
                continue;
            }
        }
        if resume_marker(&e.path).is_some() {
            epoch += 1;
        }
        latest.insert(&e.path, e);
    }
    for e in latest.values() {
        if bundle
            .as_ref()
            .is_some_and(|b| !b.included.contains(&e.path))
        {
            continue; // left out of the bundle on purpose
        }
        let rel = Path::new(&e.path);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            problems.push(format!("{}: a path outside the run folder", e.path));
            continue;
        }
        problems.extend(check_file(store, &e.path, &e.sha256, "the manifest's"));
    }
    // A redacted bundle's blurred copies: each as bundle.json says, made
    // from a file the manifest seals.
    let mut copies: BTreeSet<&str> = BTreeSet::new();
    if let Some(redaction) = bundle.as_ref().and_then(|b| b.redaction.as_ref()) {
        report.redacted = redaction.files.len();
        for f in &redaction.files {
            if !f.path.starts_with("redacted/") || f.path.contains("..") {
                problems.push(format!("{}: a redacted copy outside redacted/", f.path));
                continue;
            }
            copies.insert(&f.path);
            let record = format!("{BUNDLE_FILE}'s");
            problems.extend(check_file(store, &f.path, &f.sha256, &record));
            let sealed = entries
                .iter()
                .any(|(_, e)| e.path == f.from && e.sha256 == f.from_sha256);
            if !sealed {
                problems.push(format!(
                    "{}: made from {}, which the manifest does not seal with sha256 {}",
                    f.path, f.from, f.from_sha256
                ));
            }
        }
    }
    let allowed: &[&str] = if bundle.is_some() {
        BUNDLE_UNLISTED
    } else {
        UNLISTED
    };
    for rel in store.files() {
        if !latest.contains_key(rel.as_str())
            && !allowed.contains(&rel.as_str())
            && !copies.contains(rel.as_str())
        {
            problems.push(format!("{rel}: extra (not in the manifest)"));
        }
    }

    // The run's seal.
    let seal_text = match store.read_string(SEAL_FILE) {
        Ok(t) => t,
        Err(_) => {
            problems.push(format!(
                "{SEAL_FILE}: missing: the run was never sealed (interrupted?) or the seal was removed"
            ));
            return report;
        }
    };
    let sealed: Seal = match serde_json::from_str(&seal_text) {
        Ok(s) => s,
        Err(e) => {
            problems.push(format!("{SEAL_FILE}: not a seal: {e}"));
            return report;
        }
    };
    match seal::check_trusted(&sealed, trusted) {
        Ok(()) => report.signed_by = Some(sealed.public_key.clone()),
        Err(e) => report.problems.push(format!("{SEAL_FILE}: {e}")),
    }
    let head = entries.last().map_or(GENESIS, |(_, e)| e.hash.as_str());
    if sealed.entries != entries.len() as u64 {
        report.problems.push(format!(
            "{SEAL_FILE}: it seals {} manifest entries, and the manifest has {}",
            sealed.entries,
            entries.len()
        ));
    } else if sealed.head != head {
        report.problems.push(format!(
            "{SEAL_FILE}: it seals a different chain head than the manifest's last entry"
        ));
    }
    let named = store
        .read_string("run.json")
        .ok()
        .and_then(|t| RunRecord::parse(Path::new("run.json"), t.as_bytes()).ok())
        .and_then(|r| r.signing)
        .map(|s| s.public_key);
    if named.as_deref() != Some(sealed.public_key.as_str()) {
        report.problems.push(format!(
            "{SEAL_FILE}: signed by {}, but run.json names {}",
            sealed.public_key,
            named.as_deref().unwrap_or("no key")
        ));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::seal::RunSigner;
    use crate::evidence::RunWriter;

    /// A sealed run of three artefacts, and the key that sealed it.
    fn sealed_run(out: &Path) -> (std::path::PathBuf, VerifyingKey) {
        let signer = RunSigner::from_seed([3u8; 32]);
        let key = signer.verifying_key();
        let mut w = RunWriter::create_with_signer(out, "r", signer).unwrap();
        w.put("events/e1/frame.jpg", b"pixels of the first event")
            .unwrap();
        w.put("events/e1/event.json", b"{\"id\": 1}").unwrap();
        w.put("events/e2/frame.jpg", b"pixels of the second event")
            .unwrap();
        let dir = w
            .finish(&crate::evidence::record::RunRecord::stub("r"))
            .unwrap();
        (dir, key)
    }

    fn problems(dir: &Path, key: &VerifyingKey) -> Vec<String> {
        verify_run(dir, std::slice::from_ref(key)).problems
    }

    #[test]
    fn a_path_listed_again_holds_only_after_a_resume_record() {
        let tmp = tempfile::tempdir().unwrap();
        let signer = RunSigner::from_seed([3u8; 32]);
        let key = signer.verifying_key();
        let mut w = RunWriter::create_with_signer(tmp.path(), "r", signer).unwrap();
        w.put("events/e1/frame.jpg", b"first attempt").unwrap();
        w.put("events/e1/frame.jpg", b"same epoch").unwrap();
        let dir = w
            .finish(&crate::evidence::record::RunRecord::stub("r"))
            .unwrap();
        let p = problems(&dir, &key);
        assert!(
            p.iter().any(|m| m.contains("listed twice")),
            "a second listing without a resume: {p:?}"
        );

        let tmp = tempfile::tempdir().unwrap();
        let signer = RunSigner::from_seed([3u8; 32]);
        let mut w = RunWriter::create_with_signer(tmp.path(), "r", signer).unwrap();
        w.put("events/e1/frame.jpg", b"first attempt").unwrap();
        w.put("resumes/1.json", b"{}").unwrap();
        w.put("events/e1/frame.jpg", b"screened again").unwrap();
        let dir = w
            .finish(&crate::evidence::record::RunRecord::stub("r"))
            .unwrap();
        assert!(problems(&dir, &key).is_empty());
        // The file is checked against its latest entry.
        std::fs::write(dir.join("events/e1/frame.jpg"), b"first attempt").unwrap();
        let p = problems(&dir, &key);
        assert!(p.iter().any(|m| m.contains("modified")), "{p:?}");
    }

    #[test]
    fn resume_continues_the_chain_and_removes_unlisted_leftovers() {
        let tmp = tempfile::tempdir().unwrap();
        let signer = RunSigner::from_seed([3u8; 32]);
        let key = signer.verifying_key();
        let mut w = RunWriter::create_with_signer(tmp.path(), "r", signer).unwrap();
        w.put("events/e1/frame.jpg", b"kept").unwrap();
        let dir = w.dir().to_owned();
        // A kill: an artefact renamed into place but not listed, half a
        // manifest line, and the writer gone without sealing.
        std::fs::write(dir.join("events/e1/annotated.jpg"), b"unlisted").unwrap();
        let manifest = dir.join("manifest.jsonl");
        let mut m = std::fs::read(&manifest).unwrap();
        m.extend_from_slice(b"{\"seq\":1,\"pa");
        std::fs::write(&manifest, m).unwrap();
        drop(w);

        let signer = RunSigner::from_seed([3u8; 32]);
        let (mut w, found) =
            RunWriter::resume(&dir, signer, &crate::evidence::Withdraw::default()).unwrap();
        assert_eq!(found.resume, 1);
        assert_eq!(found.previous_entries, 1);
        assert_eq!(found.discarded.len(), 1, "{found:?}");
        assert_eq!(found.discarded[0].path, "events/e1/annotated.jpg");
        assert!(!dir.join("events/e1/annotated.jpg").exists());
        w.put("resumes/1.json", b"{}").unwrap();
        w.put("events/e1/annotated.jpg", b"written again").unwrap();
        w.finish(&crate::evidence::record::RunRecord::stub("r"))
            .unwrap();
        let p = problems(&dir, &key);
        assert!(p.is_empty(), "{p:?}");
        assert!(!dir.join(crate::evidence::lock::LOCK_FILE).exists());
    }

    #[test]
    fn a_resume_killed_before_its_record_does_not_reuse_its_number() {
        let tmp = tempfile::tempdir().unwrap();
        let signer = RunSigner::from_seed([3u8; 32]);
        let mut w = RunWriter::create_with_signer(tmp.path(), "r", signer).unwrap();
        w.put("resumes/1/withdrawn/events.jsonl.lines", b"{}\n")
            .unwrap();
        let dir = w.dir().to_owned();
        drop(w); // killed before resumes/1.json
        let (_w, found) = RunWriter::resume(
            &dir,
            RunSigner::from_seed([3u8; 32]),
            &crate::evidence::Withdraw::default(),
        )
        .unwrap();
        assert_eq!(found.resume, 2);
    }

    #[test]
    fn resume_refuses_a_changed_folder_and_a_live_writer() {
        let tmp = tempfile::tempdir().unwrap();
        let signer = RunSigner::from_seed([3u8; 32]);
        let mut w = RunWriter::create_with_signer(tmp.path(), "r", signer).unwrap();
        w.put("events/e1/frame.jpg", b"as written").unwrap();
        let dir = w.dir().to_owned();
        let again = || {
            RunWriter::resume(
                &dir,
                RunSigner::from_seed([3u8; 32]),
                &crate::evidence::Withdraw::default(),
            )
            .map(|_| ())
            .unwrap_err()
            .to_string()
        };
        let live = again();
        assert!(live.contains("is being written by process"), "{live}");
        drop(w);
        std::fs::write(dir.join("events/e1/frame.jpg"), b"edited").unwrap();
        let changed = again();
        assert!(
            changed.contains("events/e1/frame.jpg was changed"),
            "{changed}"
        );
    }

    #[test]
    fn an_untouched_run_holds() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, key) = sealed_run(tmp.path());
        let r = verify_run(&dir, &[key]);
        assert!(r.holds(), "{:?}", r.problems);
        assert_eq!(r.entries, 5, "three artefacts, events.jsonl, run.json");
        assert_eq!(r.signed_by.unwrap(), hex::encode(key.to_bytes()));
    }

    #[test]
    fn a_flipped_byte_a_deleted_file_and_an_extra_one_are_each_named() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, key) = sealed_run(tmp.path());
        let frame = dir.join("events/e1/frame.jpg");
        let mut bytes = std::fs::read(&frame).unwrap();
        bytes[3] ^= 0x01;
        std::fs::write(&frame, bytes).unwrap();
        std::fs::remove_file(dir.join("events/e2/frame.jpg")).unwrap();
        std::fs::write(dir.join("events/e1/planted.jpg"), b"x").unwrap();
        let p = problems(&dir, &key);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            p.iter()
                .any(|m| m.starts_with("events/e1/frame.jpg: modified")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.starts_with("events/e2/frame.jpg: missing")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.starts_with("events/e1/planted.jpg: extra")),
            "{p:?}"
        );
    }

    #[test]
    fn reordered_edited_and_removed_entries_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, key) = sealed_run(tmp.path());
        let path = dir.join("manifest.jsonl");
        let original = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = original.lines().collect();

        // Two lines swapped: both out of order, nothing else.
        let mut swapped = lines.clone();
        swapped.swap(1, 2);
        std::fs::write(&path, swapped.join("\n") + "\n").unwrap();
        let p = problems(&dir, &key);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p.iter().all(|m| m.contains("is out of order")), "{p:?}");
        assert!(
            p[0].contains("line 2: entry 2 (events/e2/frame.jpg)"),
            "{p:?}"
        );

        // An entry's recorded sha256 changed to match a changed file.
        let mut e: ManifestEntry = serde_json::from_str(lines[0]).unwrap();
        std::fs::write(dir.join(&e.path), b"other pixels").unwrap();
        e.sha256 = crate::digest::sha256_hex(b"other pixels");
        let mut edited = lines.clone();
        let edited_line = serde_json::to_string(&e).unwrap();
        edited[0] = &edited_line;
        std::fs::write(&path, edited.join("\n") + "\n").unwrap();
        let p = problems(&dir, &key);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("entry 0 (events/e1/frame.jpg) was edited"),
            "{p:?}"
        );

        // An entry removed with its file: the gap and the seal say so.
        std::fs::write(&path, original.clone()).unwrap();
        std::fs::write(dir.join(&e.path), b"pixels of the first event").unwrap();
        let mut removed = lines.clone();
        removed.remove(1);
        std::fs::remove_file(dir.join("events/e1/event.json")).unwrap();
        std::fs::write(&path, removed.join("\n") + "\n").unwrap();
        let p = problems(&dir, &key);
        assert!(
            p.iter()
                .any(|m| m.contains("follows entry 1, which is missing")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.contains("it seals 5 manifest entries, and the manifest has 4")),
            "{p:?}"
        );
    }

    #[test]
    fn a_run_resealed_with_another_key_is_not_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, key) = sealed_run(tmp.path());
        // Someone re-signs the same chain with their own key, and puts that
        // key in run.json (then the chain must be rebuilt too, which anyone
        // can do): only trust catches it.
        let seal_path = dir.join(SEAL_FILE);
        let old: Seal =
            serde_json::from_str(&std::fs::read_to_string(&seal_path).unwrap()).unwrap();
        let forger = RunSigner::from_seed([8u8; 32]);
        let forged = forger.seal(old.entries, &old.head);
        std::fs::write(&seal_path, serde_json::to_vec(&forged).unwrap()).unwrap();
        let p = problems(&dir, &key);
        assert!(
            p.iter().any(|m| m.contains("which is not trusted here")),
            "{p:?}"
        );
        // Trusting the forger's key instead leaves only the run.json mismatch.
        let p = problems(&dir, &forger.verifying_key());
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("but run.json names"), "{p:?}");
        // A seal with a wrong signature.
        let mut bad = old.clone();
        bad.signature = forged.signature.clone();
        std::fs::write(&seal_path, serde_json::to_vec(&bad).unwrap()).unwrap();
        let p = problems(&dir, &key);
        assert!(p.iter().any(|m| m.contains("does not match")), "{p:?}");
        // No seal at all.
        std::fs::remove_file(&seal_path).unwrap();
        let p = problems(&dir, &key);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("never sealed"), "{p:?}");
    }
}
