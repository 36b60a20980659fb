//! `run.lock`: who is writing a run folder.
//!
//! The process that writes a run holds an exclusive advisory lock
//! (`flock`) on `run.lock` for as long as it lives, and the file names
//! that process (pid, host, start time, command line). The kernel lets go
//! of the lock when the process dies, however it dies, so a run whose
//! `run.json` still says `running` while nobody holds its lock was killed
//! (`kill -9`, a crash, a power cut): it reads as `interrupted`.
//!
//! The lock file is removed when the run is sealed; a run folder that
//! still has one after its writer is gone is what `--resume` continues.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io_err, EvidenceError};

pub const LOCK_FILE: &str = "run.lock";

/// What `run.lock` says about its writer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockInfo {
    pub pid: u32,
    #[serde(default)]
    pub host: String,
    pub since: String,
    #[serde(default)]
    pub command: Vec<String>,
}

/// The lock on a run folder, held while this value lives.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    /// Kept open: closing it would release the lock.
    _file: File,
}

/// Whether a run folder's writer is alive.
#[derive(Debug, Clone, PartialEq)]
pub enum Holder {
    /// A live process holds the lock.
    Alive(Option<LockInfo>),
    /// Nobody holds it: the writer is gone (or never took it).
    Gone,
}

impl RunLock {
    /// Takes the lock of the run folder `dir`, or says who holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock, EvidenceError> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let who = read_info(&path)
                    .map(|i| format!("process {} on {}, since {}", i.pid, i.host, i.since))
                    .unwrap_or_else(|| "another process".into());
                return Err(EvidenceError::Locked {
                    path: dir.to_owned(),
                    who,
                });
            }
            // A file system without locks (some FUSE mounts): the run goes
            // on, but a kill cannot be told from a live run there.
            Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                tracing::warn!(
                    "{}: this file system has no file locks; if the run is killed, it will still read as running",
                    path.display()
                );
            }
            Err(TryLockError::Error(e)) => return Err(io_err(&path)(e)),
        }
        let info = LockInfo {
            pid: std::process::id(),
            host: hostname(),
            since: crate::clock::now_rfc3339(),
            command: std::env::args().collect(),
        };
        let mut bytes = serde_json::to_vec_pretty(&info).expect("lock records serialise");
        bytes.push(b'\n');
        file.set_len(0).map_err(io_err(&path))?;
        file.write_all(&bytes).map_err(io_err(&path))?;
        Ok(RunLock { path, _file: file })
    }

    /// Removes the lock file (the run is sealed) and lets go of the lock.
    pub fn release(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Who holds the lock of the run folder `dir`, if anyone. Checking takes
/// the lock for an instant when it is free.
pub fn holder(dir: &Path) -> Holder {
    let path = dir.join(LOCK_FILE);
    let Ok(file) = File::open(&path) else {
        return Holder::Gone;
    };
    match file.try_lock_shared() {
        Ok(()) => Holder::Gone,
        Err(TryLockError::WouldBlock) => Holder::Alive(read_info(&path)),
        // A file system without locks: the lock file's presence is all
        // there is to go on, and a live writer is the safe reading.
        Err(TryLockError::Error(_)) => Holder::Alive(read_info(&path)),
    }
}

fn read_info(path: &Path) -> Option<LockInfo> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_alive_and_a_released_one_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path()), Holder::Gone);
        let lock = RunLock::acquire(dir.path()).unwrap();
        match holder(dir.path()) {
            Holder::Alive(Some(info)) => assert_eq!(info.pid, std::process::id()),
            other => panic!("expected a live holder, got {other:?}"),
        }
        let second = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(second.contains(&std::process::id().to_string()), "{second}");
        lock.release();
        assert_eq!(holder(dir.path()), Holder::Gone);
        assert!(!dir.path().join(LOCK_FILE).exists());
    }

    #[test]
    fn a_lock_left_by_a_dead_writer_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        {
            let _lock = RunLock::acquire(dir.path()).unwrap();
            // Dropped without release: the file stays, as after a kill.
        }
        assert!(dir.path().join(LOCK_FILE).exists());
        assert_eq!(holder(dir.path()), Holder::Gone);
        // And it can be taken again, as `--resume` does.
        RunLock::acquire(dir.path()).unwrap().release();
    }
}
