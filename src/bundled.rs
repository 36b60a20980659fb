//! Files shipped beside lookout: the demo model, and ONNX Runtime in
//! `.deps/`. They are looked up beside the repository this binary was built
//! from, then beside the executable and each folder above it, so both
//! `cargo run` and an installed copy next to its `models/` and `.deps/` work.

use std::path::{Path, PathBuf};

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
) -> Result<PathBuf, String> {
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
            Err(format!("{said} is not a file; {hint}"))
        };
    }
    bundled.iter().find_map(|rel| find(rel)).ok_or_else(|| {
        format!(
            "not found in {flag}, {env_var} or {}; {hint}",
            bundled.join(", ")
        )
    })
}
