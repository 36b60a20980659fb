//! Ground-truth loaders: COCO JSON, YOLO txt folders and VisDrone-DET txt,
//! each read into one COCO-shaped [`Dataset`].
//!
//! [`load`] picks the loader from an explicit format name or from the path;
//! [`load_coco`], [`load_yolo`] and [`load_visdrone`] read one format each.
//! Every loader either returns a complete, consistent dataset (every
//! annotation points at a known image and category, every number is finite,
//! no box has a negative size) or fails with an error that names the file,
//! and for text formats the line, at fault. Nothing that counts in the
//! evaluation is dropped or invented silently: whatever a loader drops or
//! fills in is counted in [`Dataset::notes`] so the report can show it.
//!
//! # Choosing a loader ([`load`])
//!
//! With a format name (`coco`, `yolo` or `visdrone`, any case) that loader
//! runs. Without one the path decides:
//!
//! | path                                              | format   |
//! |---------------------------------------------------|----------|
//! | a `*.json` file                                   | COCO     |
//! | a `*.yaml` / `*.yml` file                         | YOLO     |
//! | a folder with `annotations/` (not holding JSON)   | VisDrone |
//! | a folder with `labels/`, or with a `data.yaml`    | YOLO     |
//! | that names a split                                |          |
//!
//! Anything else is an error that lists these layouts. A folder whose
//! `annotations/` holds JSON files is a COCO download; the error asks for
//! the JSON file itself.
//!
//! Each format's rules are in its own file: [`coco_json`], [`yolo`] and
//! [`visdrone`].
//!
//! # Maintainers
//!
//! The golden tests beside each loader write tiny datasets into temporary
//! folders (PNG/JPEG images made with the `image` crate) and compare every
//! field of the result; `tests/data/eval/coco-small.json` is the COCO
//! golden file. Keep the notes' wording stable: the report prints them.

mod coco_json;
#[cfg(test)]
mod testing;
mod visdrone;
mod yolo;

use std::path::{Path, PathBuf};

use super::{Dataset, EvalError};

pub use coco_json::load_coco;
pub use visdrone::{load_visdrone, VISDRONE_CATEGORIES};
pub use yolo::load_yolo;

/// Image extensions the YOLO and VisDrone loaders pick up (the same set
/// `lookout screen` takes from folders).
const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "tif", "tiff", "webp", "bmp"];

fn format_err(path: &Path, message: impl Into<String>) -> EvalError {
    EvalError::Format {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EvalError + '_ {
    move |source| EvalError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_text(path: &Path) -> Result<String, EvalError> {
    std::fs::read_to_string(path).map_err(io_err(path))
}

/// Reads a text file that may be absent: `Ok(None)` when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>, EvalError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// `"1 box"` / `"3 boxes"`.
fn count(n: usize, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// `base` joined with `rel`, without `.` components (`path: .` is common).
fn join_clean(base: &Path, rel: &str) -> PathBuf {
    let mut out = base.to_owned();
    for part in Path::new(rel).components() {
        if part != std::path::Component::CurDir {
            out.push(part);
        }
    }
    out
}

fn lower_extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

fn is_image(path: &Path) -> bool {
    lower_extension(path).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}

/// Width and height from the image header (the format is sniffed, so a
/// wrong extension does not matter).
fn image_size(path: &Path) -> Result<(u32, u32), EvalError> {
    let reader = image::ImageReader::open(path)
        .map_err(io_err(path))?
        .with_guessed_format()
        .map_err(io_err(path))?;
    reader
        .into_dimensions()
        .map_err(|e| format_err(path, format!("cannot read the image size: {e}")))
}

/// `path` relative to `root` with `/` separators, or the whole path when it
/// is not under `root`.
fn relative_name(path: &Path, root: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => path.to_string_lossy().into_owned(),
    }
}

/// The folder a file lives in, `.` for a bare file name.
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Image files under `dir`, recursively, following links.
fn walk_images(dir: &Path) -> Result<Vec<PathBuf>, EvalError> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(true) {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_owned();
            EvalError::Io {
                path,
                source: e.into(),
            }
        })?;
        if entry.file_type().is_file() && is_image(entry.path()) {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

/// Reads ground truth in `format` (`"coco"`, `"yolo"` or `"visdrone"`, any
/// case), or guesses the format from `path` when `format` is `None`; see the
/// module docs for the rules.
pub fn load(path: &Path, format: Option<&str>) -> Result<Dataset, EvalError> {
    if let Some(format) = format {
        return match format.trim().to_ascii_lowercase().as_str() {
            "coco" => load_coco(path),
            "yolo" => load_yolo(path),
            "visdrone" => load_visdrone(path),
            other => Err(EvalError::Invalid(format!(
                "unknown ground-truth format `{other}`: expected coco, yolo or visdrone"
            ))),
        };
    }
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    if meta.is_file() {
        return match lower_extension(path).as_deref() {
            Some("json") => load_coco(path),
            Some("yaml" | "yml") => load_yolo(path),
            _ => Err(unknown_layout(path, "")),
        };
    }
    let annotations = path.join("annotations");
    if annotations.is_dir() {
        if folder_has_extension(&annotations, "json")? {
            return Err(unknown_layout(
                path,
                "its annotations/ folder holds JSON files; for COCO, give the JSON file itself",
            ));
        }
        return load_visdrone(path);
    }
    if path.join("labels").is_dir() || yolo::yolo_yaml_in(path).is_some() {
        return load_yolo(path);
    }
    Err(unknown_layout(path, ""))
}

fn folder_has_extension(dir: &Path, ext: &str) -> Result<bool, EvalError> {
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        if lower_extension(&entry.path()).as_deref() == Some(ext) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn unknown_layout(path: &Path, why: &str) -> EvalError {
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" ({why})")
    };
    format_err(
        path,
        format!(
            "cannot tell the ground-truth format{why}. Accepted layouts:\n  \
             - COCO: an instances JSON file (*.json)\n  \
             - YOLO: a data.yaml (*.yaml, *.yml), or a folder with images/ and labels/ \
             plus classes.txt, obj.names or data.yaml\n  \
             - VisDrone-DET: a split folder with images/ and annotations/\n\
             or name the format explicitly (coco, yolo, visdrone)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn load_rejects_unknown_layouts_and_names() {
        let dir = tempfile::tempdir().unwrap();
        let (path, message) = format_message(load(dir.path(), None));
        assert_eq!(path, dir.path());
        assert!(message.starts_with("cannot tell the ground-truth format. Accepted layouts:"));
        for layout in ["COCO:", "YOLO:", "VisDrone-DET:"] {
            assert!(message.contains(layout), "{message}");
        }
        write(&dir.path().join("annotations/instances_val.json"), "{}");
        let (_, message) = format_message(load(dir.path(), None));
        assert!(message.contains("give the JSON file itself"), "{message}");
        let txt = dir.path().join("gt.txt");
        write(&txt, "");
        assert!(matches!(load(&txt, None), Err(EvalError::Format { .. })));
        match load(dir.path(), Some("voc")) {
            Err(EvalError::Invalid(m)) => assert_eq!(
                m,
                "unknown ground-truth format `voc`: expected coco, yolo or visdrone"
            ),
            other => panic!("{other:?}"),
        }
    }
}
