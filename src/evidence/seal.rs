//! Sealing a run: the manifest's chain head, signed with Ed25519.
//!
//! The chain in `manifest.jsonl` makes any change to a file or an entry
//! visible, but anyone can recompute a chain. The seal ties the finished
//! chain to a key: `manifest.sig` holds the number of entries, the last
//! entry's hash, the public key and the signature over
//! `"lookout manifest v1\n{entries}\n{head}"`. `lookout verify` trusts the
//! key on this machine and the keys given with `--trust`, so a run re-signed
//! with another key is caught even when its chain is consistent.
//!
//! The key is made on first use and kept as 64 hex digits (the Ed25519
//! secret seed), with mode 0600 in a 0700 folder. Where it lives, first
//! that is set:
//! 1. the file the command chose ([`choose_key_path`]: `--signing-key FILE`
//!    of `screen` and `watch`, else `[output] signing_key` of the config);
//! 2. `$LOOKOUT_SIGNING_KEY`;
//! 3. `$XDG_CONFIG_HOME/lookout/signing.key`;
//! 4. `~/.config/lookout/signing.key`.
//!
//! When the key cannot be read or made there, the error names the file,
//! why, where its place came from and the three ways to choose another.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::EvidenceError;

/// The file next to `manifest.jsonl` that holds the seal.
pub const SEAL_FILE: &str = "manifest.sig";

/// What `manifest.sig` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seal {
    pub algorithm: String,
    /// Hex of the 32-byte Ed25519 public key.
    pub public_key: String,
    /// Entries in the manifest the seal covers.
    pub entries: u64,
    /// The `hash` of the last of them.
    pub head: String,
    /// Hex of the 64-byte signature over [`message`].
    pub signature: String,
}

/// The bytes a seal signs.
pub fn message(entries: u64, head: &str) -> Vec<u8> {
    format!("lookout manifest v1\n{entries}\n{head}").into_bytes()
}

/// How a user chooses where the signing key lives, for error messages.
pub const KEY_CHOICES: &str = "choose where it lives with --signing-key FILE (screen, watch), \
     `signing_key = \"FILE\"` under [output] in the config, or the environment \
     variable LOOKOUT_SIGNING_KEY, in that order of precedence";

/// The key file chosen by the command, and what chose it (see
/// [`choose_key_path`]). Process-wide, because runs are sealed deep inside
/// the pipeline, which has no other way to be told.
static CHOSEN: Mutex<Option<(PathBuf, &'static str)>> = Mutex::new(None);

/// Sets where this process's signing key lives: `flag` (`--signing-key`)
/// wins over `config` (`[output] signing_key`); both win over the
/// environment. With neither, the environment and the config folder decide
/// as before. Called by commands once, before anything is sealed.
pub fn choose_key_path(flag: Option<&Path>, config: Option<&Path>) {
    let chosen = match (flag, config) {
        (Some(p), _) => Some((p.to_owned(), "--signing-key")),
        (None, Some(p)) => Some((p.to_owned(), "[output] signing_key in the config")),
        (None, None) => None,
    };
    *CHOSEN.lock().unwrap_or_else(|e| e.into_inner()) = chosen;
}

/// Where the signing key lives, and what said so (see the module docs).
pub fn key_location() -> Option<(PathBuf, &'static str)> {
    if let Some(chosen) = CHOSEN.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        return Some(chosen);
    }
    if let Some(p) = std::env::var_os("LOOKOUT_SIGNING_KEY").filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(p), "$LOOKOUT_SIGNING_KEY"));
    }
    if let Some(c) = std::env::var_os("XDG_CONFIG_HOME").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(c).join("lookout").join("signing.key");
        return Some((path, "$XDG_CONFIG_HOME"));
    }
    let home = std::env::var_os("HOME").filter(|p| !p.is_empty())?;
    let path = PathBuf::from(home)
        .join(".config")
        .join("lookout")
        .join("signing.key");
    Some((path, "the home folder ($HOME/.config/lookout)"))
}

/// Where the signing key lives (see the module docs).
pub fn key_path() -> Option<PathBuf> {
    key_location().map(|(path, _)| path)
}

/// The key that seals runs on this machine.
pub struct RunSigner {
    key: SigningKey,
    pub path: PathBuf,
}

fn key_err(path: &Path, message: impl std::fmt::Display) -> EvidenceError {
    EvidenceError::Key {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

/// A key file that cannot be read or made: the error says why, where
/// its place came from, and how to choose another.
fn place_err(path: &Path, origin: &str, what: &str, e: impl std::fmt::Display) -> EvidenceError {
    key_err(
        path,
        format!("{what}: {e} (this place comes from {origin}); {KEY_CHOICES}"),
    )
}

fn parse_key(path: &Path, text: &str) -> Result<SigningKey, EvidenceError> {
    let bytes = hex::decode(text.trim()).map_err(|e| key_err(path, format!("not hex: {e}")))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| key_err(path, "not a 32-byte Ed25519 seed (64 hex digits)"))?;
    Ok(SigningKey::from_bytes(&seed))
}

impl RunSigner {
    /// Loads this machine's key, making it on first use.
    pub fn load_or_create() -> Result<RunSigner, EvidenceError> {
        let (path, origin) = key_location().ok_or_else(|| {
            key_err(
                Path::new("signing.key"),
                format!(
                    "no place for the signing key (neither HOME nor XDG_CONFIG_HOME is set); \
                     {KEY_CHOICES}"
                ),
            )
        })?;
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                warn_if_readable_by_others(&path);
                return Ok(RunSigner {
                    key: parse_key(&path, &text)?,
                    path,
                });
            }
            // Not there yet (or a folder on the way is missing or a file):
            // making it says what is wrong with the place.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) => {}
            Err(e) => return Err(place_err(&path, origin, "cannot read it", e)),
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| key_err(&path, format!("no randomness: {e}")))?;
        let key = SigningKey::from_bytes(&seed);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|e| {
                let what = format!("cannot make its folder {}", dir.display());
                place_err(&path, origin, &what, e)
            })?;
        }
        // Written under a temporary name, then linked into place, which
        // fails if another run made the key meanwhile: then that key wins.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        write_private(&tmp, format!("{}\n", hex::encode(seed)).as_bytes()).map_err(|e| {
            let what = format!("cannot write {}", tmp.display());
            place_err(&path, origin, &what, e)
        })?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                tracing::info!(key = %path.display(), "made a signing key for sealing runs");
                let public = path.with_extension("pub");
                let _ = std::fs::write(
                    public,
                    format!("{}\n", hex::encode(key.verifying_key().to_bytes())),
                );
                Ok(RunSigner { key, path })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| place_err(&path, origin, "cannot read it", e))?;
                Ok(RunSigner {
                    key: parse_key(&path, &text)?,
                    path,
                })
            }
            Err(e) => Err(place_err(&path, origin, "cannot make it", e)),
        }
    }

    /// A signer with a given seed, kept nowhere (for tests and tools).
    pub fn from_seed(seed: [u8; 32]) -> RunSigner {
        RunSigner {
            key: SigningKey::from_bytes(&seed),
            path: PathBuf::new(),
        }
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Hex of the public key.
    pub fn public_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    pub fn seal(&self, entries: u64, head: &str) -> Seal {
        let signature = self.key.sign(&message(entries, head));
        Seal {
            algorithm: "ed25519".into(),
            public_key: self.public_hex(),
            entries,
            head: head.to_owned(),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            if m.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    key = %path.display(),
                    "the signing key can be read by other users; chmod 600 it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Why a public key or a seal does not check.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{given}: {source}")]
    KeyFile {
        given: String,
        source: std::io::Error,
    },
    #[error("{given}: not a public key (64 hex digits) nor a file holding one")]
    NotHex { given: String },
    #[error("{given}: a public key is 32 bytes (64 hex digits)")]
    KeyLength { given: String },
    #[error("{given}: {source}")]
    BadKey {
        given: String,
        source: ed25519_dalek::SignatureError,
    },
    #[error("unknown signature algorithm {0:?}")]
    Algorithm(String),
    #[error("the signature is not 64 bytes of hex")]
    SignatureHex,
    #[error("the signature does not match what it signs")]
    Mismatch,
    #[error(
        "signed by key {0}, which is not trusted here \
         (this machine's key is trusted; add others with --trust KEY)"
    )]
    Untrusted(String),
}

/// Parses a public key given as 64 hex digits, or as a file holding them.
pub fn parse_public_key(given: &str) -> Result<VerifyingKey, SealError> {
    let text = if Path::new(given).is_file() {
        std::fs::read_to_string(given).map_err(|source| SealError::KeyFile {
            given: given.to_owned(),
            source,
        })?
    } else {
        given.to_owned()
    };
    let bytes = hex::decode(text.trim()).map_err(|_| SealError::NotHex {
        given: given.to_owned(),
    })?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| SealError::KeyLength {
        given: given.to_owned(),
    })?;
    VerifyingKey::from_bytes(&bytes).map_err(|source| SealError::BadKey {
        given: given.to_owned(),
        source,
    })
}

/// The public key of this machine's signing key, when it has one.
pub fn own_public_key() -> Option<VerifyingKey> {
    let path = key_path()?;
    let text = std::fs::read_to_string(&path).ok()?;
    parse_key(&path, &text).ok().map(|k| k.verifying_key())
}

/// Checks a seal's signature. Trust in its key is the caller's business.
pub fn check(seal: &Seal) -> Result<VerifyingKey, SealError> {
    if seal.algorithm != "ed25519" {
        return Err(SealError::Algorithm(seal.algorithm.clone()));
    }
    let key = parse_public_key(&seal.public_key)?;
    let sig = hex::decode(&seal.signature)
        .ok()
        .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok())
        .ok_or(SealError::SignatureHex)?;
    key.verify_strict(&message(seal.entries, &seal.head), &sig)
        .map_err(|_| SealError::Mismatch)?;
    Ok(key)
}

/// Checks a seal's signature and that its key is one of `trusted`: the
/// one trust rule for runs, review records and bundles.
pub fn check_trusted(seal: &Seal, trusted: &[VerifyingKey]) -> Result<(), SealError> {
    let key = check(seal)?;
    if trusted.iter().any(|t| t.to_bytes() == key.to_bytes()) {
        Ok(())
    } else {
        Err(SealError::Untrusted(seal.public_key.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_checks_and_fails_when_anything_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k").join("signing.key");
        // Not through load_or_create: tests must not touch the environment
        // other tests read.
        create_private_dir(path.parent().unwrap()).unwrap();
        write_private(&path, hex::encode([7u8; 32]).as_bytes()).unwrap();
        let signer = RunSigner {
            key: parse_key(&path, &std::fs::read_to_string(&path).unwrap()).unwrap(),
            path: path.clone(),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let seal = signer.seal(12, "ab".repeat(32).as_str());
        assert_eq!(
            check(&seal).unwrap().to_bytes(),
            signer.key.verifying_key().to_bytes()
        );
        let mut s = seal.clone();
        s.entries = 11;
        assert!(check(&s).is_err());
        let mut s = seal.clone();
        s.head = "cd".repeat(32);
        assert!(check(&s).is_err());
        let other = SigningKey::from_bytes(&[9u8; 32]);
        let mut s = seal.clone();
        s.public_key = hex::encode(other.verifying_key().to_bytes());
        assert!(check(&s).is_err(), "another key's name on this signature");
        assert_eq!(
            parse_public_key(&seal.public_key).unwrap().to_bytes(),
            signer.key.verifying_key().to_bytes()
        );
        assert!(parse_public_key("abc").is_err());
    }

    #[test]
    fn key_and_trust_errors_name_the_key_and_the_problem() {
        let e = parse_public_key("abc").unwrap_err().to_string();
        assert_eq!(
            e,
            "abc: not a public key (64 hex digits) nor a file holding one"
        );
        let e = parse_public_key("abcd").unwrap_err().to_string();
        assert_eq!(e, "abcd: a public key is 32 bytes (64 hex digits)");
        let signer = RunSigner::from_seed([4u8; 32]);
        let other = RunSigner::from_seed([6u8; 32]).verifying_key();
        let e = check_trusted(&signer.seal(1, "ab"), &[other])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "signed by key {}, which is not trusted here (this machine's key is trusted; add others with --trust KEY)",
                signer.public_hex()
            )
        );
    }
}
