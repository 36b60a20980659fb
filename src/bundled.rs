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
