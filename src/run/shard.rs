//! `screen --shard K/N`: one of N deterministic parts of a batch, so that a
//! scheduler (a Slurm job array, a Kubernetes Indexed Job) screens a batch
//! on many machines with no scheduler of lookout's own.
//!
//! Every shard lists the whole batch as an unsharded run would (the
//! inputs in the order given, folders walked in name order), then keeps
//! its part:
//!
//! - `hash` (the default): rendezvous (highest-random-weight) hashing of
//!   each input's key (see [`key`]). An input goes to the shard `k` whose
//!   sha256 of `key, 0x00, k as u64 big-endian` is highest. Adding inputs
//!   moves none of the others; going from N to N+1 shards moves about one
//!   input in N+1, each to the new shard.
//! - `index`: round-robin on the input's position in the whole list (the
//!   input at position i goes to shard i mod N), which evens out runs of
//!   long or short inputs but moves most inputs when the list changes.
//!
//! Each input keeps its position in the whole list as its source id, so
//! event ids, evidence and detections are the same as an unsharded run's,
//! and the union of the N shard runs is that run.

use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::RunError;
use crate::evidence::record::ShardRecord;
use crate::source::{Found, Input};

/// `--shard K/N`: part K (from 0) of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let junk = || format!("`{s}` is not K/N (part K of N, K from 0 to N-1, e.g. 0/4)");
        let (k, n) = s.split_once('/').ok_or_else(junk)?;
        let (k, n): (usize, usize) = (
            k.trim().parse().map_err(|_| junk())?,
            n.trim().parse().map_err(|_| junk())?,
        );
        if n == 0 {
            return Err(format!("`{s}`: N must be at least 1"));
        }
        if k >= n {
            return Err(format!(
                "`{s}`: K counts from 0, so with N = {n} it is 0 to {} \
                 (Slurm's SLURM_ARRAY_TASK_ID with --array=0-{}, Kubernetes' JOB_COMPLETION_INDEX)",
                n - 1,
                n - 1
            ));
        }
        Ok(Shard { k, n })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// `--shard-by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ShardBy {
    #[default]
    Hash,
    Index,
}

impl ShardBy {
    pub fn name(self) -> &'static str {
        match self {
            ShardBy::Hash => "hash",
            ShardBy::Index => "index",
        }
    }
}

/// How a sharded run picks its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSpec {
    pub shard: Shard,
    pub by: ShardBy,
    /// `--shard-root`: keys are paths relative to it.
    pub root: Option<PathBuf>,
}

/// A shard's part of the whole list.
#[derive(Debug, Clone)]
pub struct Plan {
    /// What `run.json` records.
    pub record: ShardRecord,
    /// The shard's inputs, each with its index in the whole list.
    pub picked: Vec<(usize, Input)>,
}

/// The key of an input, as bytes: its path relative to `root` when given,
/// else relative to the folder it was found in, else (a file named
/// directly) its file name; path components joined by `/`.
pub fn key(found: &Found, paths: &[PathBuf], root: Option<&Path>) -> Result<Vec<u8>, RunError> {
    let path = &found.input.path;
    let rel: PathBuf = match root {
        Some(root) => relative(path, root).ok_or_else(|| RunError::Option {
            flag: "--shard-root",
            message: format!(
                "{} is not under {}: every input of a sharded run must be, as its key is its path relative to it",
                path.display(),
                root.display()
            ),
        })?,
        None if found.in_folder => path
            .strip_prefix(&paths[found.arg])
            .map(Path::to_owned)
            .unwrap_or_else(|_| path.clone()),
        None => path.file_name().map(PathBuf::from).unwrap_or_default(),
    };
    let mut out = Vec::new();
    for c in rel.components() {
        if let Component::Normal(part) = c {
            if !out.is_empty() {
                out.push(b'/');
            }
            out.extend_from_slice(part.as_encoded_bytes());
        }
    }
    Ok(out)
}

/// `path` relative to `root`, both made absolute as they are written (no
/// `..` left), else with their links resolved.
fn relative(path: &Path, root: &Path) -> Option<PathBuf> {
    let plain = |p: &Path| {
        std::path::absolute(p)
            .ok()
            .filter(|a| !a.components().any(|c| c == Component::ParentDir))
    };
    if let (Some(p), Some(r)) = (plain(path), plain(root)) {
        if let Ok(rel) = p.strip_prefix(&r) {
            return Some(rel.to_owned());
        }
    }
    let (p, r) = (path.canonicalize().ok()?, root.canonicalize().ok()?);
    p.strip_prefix(&r).ok().map(Path::to_owned)
}

/// The shard, of `n`, that owns `key` by rendezvous hashing: the one with
/// the highest sha256 of the key, a 0 byte, and the shard's number as 8
/// bytes big-endian (ties, which sha256 does not give, to the lower).
pub fn owner(key: &[u8], n: usize) -> usize {
    let mut best = 0;
    let mut best_weight = [0u8; 32];
    for k in 0..n {
        let mut h = Sha256::new();
        h.update(key);
        h.update([0u8]);
        h.update((k as u64).to_be_bytes());
        let weight: [u8; 32] = h.finalize().into();
        if k == 0 || weight > best_weight {
            best = k;
            best_weight = weight;
        }
    }
    best
}

/// The sha256 of the whole list: every key, in the list's order, each
/// followed by a 0 byte.
pub fn list_sha256(keys: &[Vec<u8>]) -> String {
    let mut h = Sha256::new();
    for key in keys {
        h.update(key);
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// The part of the whole list `found` (from `paths`) that shard `spec`
/// screens.
pub fn plan(spec: &ShardSpec, paths: &[PathBuf], found: Vec<Found>) -> Result<Plan, RunError> {
    let keys = found
        .iter()
        .map(|f| key(f, paths, spec.root.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    let Shard { k, n } = spec.shard;
    let picked: Vec<(usize, Input)> = found
        .into_iter()
        .enumerate()
        .filter(|(i, _)| match spec.by {
            ShardBy::Hash => owner(&keys[*i], n) == k,
            ShardBy::Index => i % n == k,
        })
        .map(|(i, f)| (i, f.input))
        .collect();
    Ok(Plan {
        record: ShardRecord {
            k,
            n,
            by: spec.by.name().to_owned(),
            root: spec.root.clone(),
            inputs_total: keys.len(),
            inputs_sha256: list_sha256(&keys),
            inputs: picked.len(),
        },
        picked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_of_n_is_parsed_and_bad_values_say_why() {
        assert_eq!("2/7".parse::<Shard>(), Ok(Shard { k: 2, n: 7 }));
        assert_eq!("0/1".parse::<Shard>(), Ok(Shard { k: 0, n: 1 }));
        let e = "3/3".parse::<Shard>().unwrap_err();
        assert!(e.contains("0 to 2"), "{e}");
        let e = "0/0".parse::<Shard>().unwrap_err();
        assert!(e.contains("at least 1"), "{e}");
        for junk in ["", "3", "a/b", "1/-2", "-1/3", "1/2/3", "1.0/2"] {
            let e = junk.parse::<Shard>().unwrap_err();
            assert!(e.contains("is not K/N"), "{junk}: {e}");
        }
    }

    fn keys(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| format!("sorties/day{}/clip{i:04}.mp4", i % 7).into_bytes())
            .collect()
    }

    #[test]
    fn rendezvous_spreads_keys_and_moves_few_when_n_changes() {
        let keys = keys(4000);
        let before: Vec<usize> = keys.iter().map(|k| owner(k, 4)).collect();
        let mut counts = [0usize; 4];
        before.iter().for_each(|&s| counts[s] += 1);
        for c in counts {
            assert!((850..1150).contains(&c), "uneven split: {counts:?}");
        }
        // Five shards: only keys that go to the new shard move (about 1 in 5).
        let after: Vec<usize> = keys.iter().map(|k| owner(k, 5)).collect();
        let moved: Vec<usize> = (0..keys.len()).filter(|&i| before[i] != after[i]).collect();
        assert!(moved.iter().all(|&i| after[i] == 4));
        assert!(
            (650..950).contains(&moved.len()),
            "{} of 4000 moved",
            moved.len()
        );
        // One shard owns everything.
        assert!(keys.iter().all(|k| owner(k, 1) == 0));
    }

    /// A fixed value (Python's hashlib gives the same), so that a change to
    /// the weight, which would move the inputs of every batch already
    /// split, fails here.
    #[test]
    fn the_weight_is_stable() {
        let owners: Vec<usize> = keys(12).iter().map(|k| owner(k, 5)).collect();
        assert_eq!(owners, vec![0, 1, 0, 2, 4, 4, 3, 1, 4, 0, 3, 4]);
        assert_eq!(
            list_sha256(&[b"a".to_vec(), b"b".to_vec()]),
            crate::digest::sha256_hex(b"a\0b\0")
        );
    }

    fn found(dir: &Path, names: &[&str]) -> (Vec<PathBuf>, Vec<Found>) {
        for n in names.iter().chain(&["loose.jpg"]) {
            let p = dir.join(n);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"x").unwrap();
        }
        let paths = vec![dir.join("batch"), dir.join("loose.jpg")];
        let (found, errors) = crate::source::discover_under(&paths);
        assert!(errors.is_empty(), "{errors:?}");
        (paths, found)
    }

    #[test]
    fn keys_are_relative_to_the_folder_or_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let (paths, found) = found(tmp.path(), &["batch/a.jpg", "batch/sub/b.mp4"]);
        let text = |root: Option<&Path>| -> Vec<String> {
            found
                .iter()
                .map(|f| String::from_utf8(key(f, &paths, root).unwrap()).unwrap())
                .collect()
        };
        assert_eq!(text(None), vec!["a.jpg", "sub/b.mp4", "loose.jpg"]);
        assert_eq!(
            text(Some(tmp.path())),
            vec!["batch/a.jpg", "batch/sub/b.mp4", "loose.jpg"]
        );
        let e = key(&found[2], &paths, Some(&tmp.path().join("batch"))).unwrap_err();
        assert!(e.to_string().contains("loose.jpg is not under"), "{e}");
    }

    #[test]
    fn shards_partition_the_list_and_adding_inputs_moves_none() {
        let tmp = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..30).map(|i| format!("batch/{i:02}.jpg")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (paths, all) = found(tmp.path(), &names[..20]);
        for by in [ShardBy::Hash, ShardBy::Index] {
            let mut seen = Vec::new();
            let mut sums = std::collections::BTreeSet::new();
            for k in 0..3 {
                let spec = ShardSpec {
                    shard: Shard { k, n: 3 },
                    by,
                    root: None,
                };
                let p = plan(&spec, &paths, all.clone()).unwrap();
                assert_eq!(p.record.inputs_total, 21);
                assert_eq!(p.record.inputs, p.picked.len());
                sums.insert(p.record.inputs_sha256);
                seen.extend(p.picked.iter().map(|(i, _)| *i));
            }
            seen.sort_unstable();
            assert_eq!(seen, (0..21).collect::<Vec<_>>(), "{by:?}");
            assert_eq!(sums.len(), 1);
        }
        // Ten more inputs: by hash, every earlier input stays in its shard.
        let owner_of = |found: &[Found], paths: &[PathBuf]| -> Vec<(PathBuf, usize)> {
            (0..3)
                .flat_map(|k| {
                    let spec = ShardSpec {
                        shard: Shard { k, n: 3 },
                        by: ShardBy::Hash,
                        root: None,
                    };
                    plan(&spec, paths, found.to_vec())
                        .unwrap()
                        .picked
                        .into_iter()
                        .map(move |(_, i)| (i.path, k))
                })
                .collect()
        };
        let before = owner_of(&all, &paths);
        let (paths, more) = found(tmp.path(), &names[20..]);
        let after = owner_of(&more, &paths);
        for (path, k) in before {
            assert!(
                after.contains(&(path.clone(), k)),
                "{} moved",
                path.display()
            );
        }
    }
}
