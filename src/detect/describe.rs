//! A loaded model described for people (`lookout inspect`).

use std::fmt::Write as _;

use super::family::{ModelSignature, TensorDecl};
use super::onnx::ModelInfo;
use super::roles::ClassRoles;

fn dims(d: &TensorDecl) -> String {
    let parts: Vec<String> = d
        .shape
        .iter()
        .enumerate()
        .map(
            |(i, &n)| match (n, d.symbols.get(i).filter(|s| !s.is_empty())) {
                (-1, Some(sym)) => sym.clone(),
                (-1, None) => "?".into(),
                (n, _) => n.to_string(),
            },
        )
        .collect();
    format!("[{}]", parts.join(", "))
}

/// What `lookout inspect` prints: family and why, tensors, classes with
/// their roles, the signatures the model can drive (one line each, from
/// [`crate::signature::drivable`]), preprocessing, batch, metadata and the
/// execution providers.
pub fn describe(
    info: &ModelInfo,
    roles: &ClassRoles,
    signatures: &[String],
    providers: &[String],
) -> String {
    let mut s = String::new();
    let p = &info.preprocess;
    let _ = writeln!(s, "model      {}", info.path.display());
    let _ = writeln!(s, "family     {:?}", info.family);
    let _ = writeln!(s, "  because  {}", info.family_reason);
    let _ = writeln!(s, "inputs");
    for i in &info.inputs {
        let _ = writeln!(s, "  {:<20} {:<8} {}", i.name, i.dtype, dims(i));
    }
    let _ = writeln!(s, "outputs");
    for o in &info.outputs {
        let _ = writeln!(s, "  {:<20} {:<8} {}", o.name, o.dtype, dims(o));
    }
    let _ = writeln!(
        s,
        "classes    {} (from {})",
        info.labels.len(),
        info.labels_source
    );
    let width = info
        .labels
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    for (i, l) in info.labels.iter().enumerate() {
        match roles.role(i) {
            Some((role, from)) => {
                let _ = writeln!(s, "  {i:>4} {l:<width$}  role {role} ({from})");
            }
            None => {
                let _ = writeln!(s, "  {i:>4} {l}");
            }
        }
    }
    let _ = writeln!(s, "signatures");
    for line in signatures {
        let _ = writeln!(s, "  {line}");
    }
    let _ = writeln!(
        s,
        "preprocess {}x{} {:?} {:?} {:?}, scale {}, mean {:?}, std {:?}, pad {}",
        p.input_w, p.input_h, p.resize, p.layout, p.channels, p.scale, p.mean, p.std, p.pad_value
    );
    let _ = writeln!(s, "batch      up to {} frame(s) per call", info.max_batch);
    if !info.metadata.is_empty() {
        let _ = writeln!(s, "metadata");
        for (k, v) in &info.metadata {
            let v = if v.len() > 100 {
                format!("{}…", &v[..v.floor_char_boundary(100)])
            } else {
                v.clone()
            };
            let _ = writeln!(s, "  {k:<12} {v}");
        }
    }
    let _ = writeln!(s, "providers  {}", providers.join(", "));
    s
}

/// What `lookout inspect` prints for a model it refuses: what the model
/// declares, so that the refusal can be read against it.
pub fn describe_rejected(path: &std::path::Path, sig: &ModelSignature) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "model      {}", path.display());
    let _ = writeln!(s, "family     none (see the error below)");
    let _ = writeln!(s, "inputs");
    for i in &sig.inputs {
        let _ = writeln!(s, "  {:<20} {:<8} {}", i.name, i.dtype, dims(i));
    }
    let _ = writeln!(s, "outputs");
    for o in &sig.outputs {
        let _ = writeln!(s, "  {:<20} {:<8} {}", o.name, o.dtype, dims(o));
    }
    if !sig.metadata.is_empty() {
        let _ = writeln!(s, "metadata");
        for (k, v) in &sig.metadata {
            let _ = writeln!(s, "  {k:<12} {}", v.chars().take(100).collect::<String>());
        }
    }
    s
}
