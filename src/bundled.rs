//! Files shipped beside lookout: the demo model, and ONNX Runtime in
//! `.deps/`. They are looked up beside the repository this binary was built
//! from, then beside the executable and each folder above it, so both
//! `cargo run` and an installed copy next to its `models/` and `.deps/` work.

use std::path::{Path, PathBuf};

/// Why [`locate`] found no file. Every message ends with the caller's hint.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LocateError {
    /// The flag or variable names something that is not a file; `given`
    /// says which, e.g. `--ort-lib /opt/ort.so`.
    #[error("{given} is not a file; {hint}")]
    NotAFile { given: String, hint: String },
    #[error("not found in {flag}, {env_var} or {bundled}; {hint}")]
    NotFound {
        flag: String,
        env_var: String,
        /// The bundled paths looked at, comma-separated.
        bundled: String,
        hint: String,
    },
}

/// The first existing file at `rel` under any of the bundle roots.
pub fn find(rel: &str) -> Option<PathBuf> {
    let mut roots = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR"))];
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_owned));
    }
    roots.into_iter().map(|r| r.join(rel)).find(|p| p.is_file())
}

/// A file given by a flag, else by an environment variable, else the first
/// of `bundled` found beside lookout. A flag or variable that names no file
/// is an error rather than a reason to look further; every error ends with
/// `hint`.
pub fn locate(
    explicit: Option<&Path>,
    flag: &str,
    env_var: &str,
    bundled: &[&str],
    hint: &str,
) -> Result<PathBuf, LocateError> {
    let given = explicit.map(|p| (p.to_owned(), format!("{flag} {}", p.display())));
    let from_env = || {
        std::env::var_os(env_var)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .map(|p| {
                let said = format!("{env_var}={}", p.display());
                (p, said)
            })
    };
    if let Some((p, said)) = given.or_else(from_env) {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(LocateError::NotAFile {
                given: said,
                hint: hint.to_owned(),
            })
        };
    }
    bundled
        .iter()
        .find_map(|rel| find(rel))
        .ok_or_else(|| LocateError::NotFound {
            flag: flag.to_owned(),
            env_var: env_var.to_owned(),
            bundled: bundled.join(", "),
            hint: hint.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_path_that_is_no_file_is_an_error_naming_the_flag() {
        let err = locate(
            Some(Path::new("/no/such/lib.so")),
            "--ort-lib",
            "LOOKOUT_TEST_UNSET_VARIABLE",
            &[],
            "see the README",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "--ort-lib /no/such/lib.so is not a file; see the README"
        );
        let err = locate(
            None,
            "--face-model",
            "LOOKOUT_TEST_UNSET_VARIABLE",
            &["no/such/a.onnx", "no/such/b.onnx"],
            "run setup",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "not found in --face-model, LOOKOUT_TEST_UNSET_VARIABLE or no/such/a.onnx, no/such/b.onnx; run setup"
        );
    }
}
