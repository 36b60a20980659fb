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
//! # COCO ([`load_coco`])
//!
//! A COCO *instances* file: an object with `images`, `categories` and
//! (optionally) `annotations`. Unknown fields anywhere (`info`, `licenses`,
//! `segmentation`, `supercategory`, …) are ignored. Images, categories and
//! annotations keep their ids and file order.
//!
//! - `iscrowd` may be missing (false), `0`/`1`, or `false`/`true`.
//! - `area` may be missing: the box area `w * h` is used and a note says how
//!   many annotations needed it.
//! - An image without `width`/`height` gets them from its file's header,
//!   looked up under the image root.
//! - `image_root` is the JSON file's folder.
//! - Errors: an annotation naming an unknown image or category id;
//!   duplicate image, category or annotation ids; a negative image or box
//!   width/height, or a negative area; an image size that is not a whole
//!   number; a box that is not four numbers; a non-finite number; a
//!   top-level list (a COCO *results* file, i.e. detections).
//!
//! # YOLO ([`load_yolo`])
//!
//! `path` is one of:
//!
//! - an Ultralytics `data.yaml`. `path:` is the dataset root (relative to
//!   the YAML's folder; the YAML's folder when absent). The images are those
//!   of the first split present among `val:`, `test:` and `train:`, in that
//!   order. A split is a folder (walked recursively), a `.txt` file listing
//!   one image path per line (relative lines are taken from the list's
//!   folder), or a list of those. As in Ultralytics, a split path is taken
//!   from the root, and one starting with `../` that does not exist there is
//!   tried again without the `../` (Roboflow exports rely on this).
//! - a folder holding a `data.yaml` (or `data.yml`) that names a split: as
//!   above.
//! - a folder holding `images/` and `labels/`; all images under `images/`
//!   (recursively) are taken. Class names come from the first of
//!   `classes.txt`, `obj.names`, `data.yaml`, `data.yml` found in the folder,
//!   then in its parent (so `valid/` of a Roboflow export finds the
//!   export's `data.yaml`).
//!
//! `names:` in a YAML may be a list (`[a, b]` or `- a` lines) or a map
//! (`{0: a, 1: b}` or `0: a` lines, quoted or not). Category ids are the
//! YOLO class indices (0-based), names from that list or map; with a map,
//! ids are its keys, so gaps are kept.
//!
//! For each image `…/images/…/x.jpg` the label file is the same path with
//! the last `images` folder replaced by `labels` and the extension by `.txt`
//! (Ultralytics' rule; an image path without an `images` folder looks for
//! `x.txt` beside the image). A missing or empty label file means an image
//! with no objects; a note counts the missing ones. Each non-empty line is
//! whitespace-separated numbers, `class` then coordinates normalised to
//! 0–1:
//!
//! - 5 numbers: `class cx cy w h`.
//! - an odd count of 7 or more: `class x1 y1 x2 y2 …`, a segmentation
//!   polygon; its bounding box is used, as Ultralytics does.
//! - an even count of 6 or more: a box followed by extra columns (for
//!   example a confidence), which are ignored and counted in a note.
//!
//! Lines that repeat an earlier line of the same file exactly (after
//! conversion to pixels) are dropped and counted, as Ultralytics does.
//! Ultralytics decides "polygon or box" once per file (a file with any line
//! longer than 6 columns is all polygons) and rejects 6-column lines; here
//! each line decides for itself. Errors name the label file and line: fewer
//! than 5 numbers, a non-number, a class that is not a whole non-negative
//! number, a class index missing from the names, a coordinate outside 0–1
//! (1e-6 tolerance; Ultralytics would skip the whole image instead). Label
//! files without an image are not read.
//!
//! Images are numbered 1..N in sorted path order; `file_name` is relative to
//! the image root (the split folder when the split is one folder, otherwise
//! the dataset root). Sizes come from the image headers (EXIF orientation is
//! not applied, matching how `lookout screen` reads images). Boxes are
//! `x = (cx - w/2) * width`, `y = (cy - h/2) * height`, `w * width`,
//! `h * height`; `area` is the pixel box area; `iscrowd` is false;
//! annotations are numbered 1..M in image, then line, order.
//!
//! # VisDrone-DET ([`load_visdrone`])
//!
//! `path` is a split folder holding `images/` and `annotations/`, with
//! `annotations/NAME.txt` for `images/NAME.jpg` (any image extension).
//! Each line is
//! `bbox_left,bbox_top,bbox_width,bbox_height,score,object_category,truncation,occlusion`
//! (a trailing comma is allowed; truncation and occlusion are optional and
//! unused, as in the official toolkit). Categories 1..10 keep their ids:
//! pedestrian, people, bicycle, car, van, truck, tricycle, awning-tricycle,
//! bus, motor ([`VISDRONE_CATEGORIES`]).
//!
//! The official DET toolkit (`VisDrone/VisDrone2018-DET-toolkit`, MATLAB:
//! `evalDET.m` → `utils/saveAnnoRes.m` → `utils/dropObjectsInIgr.m`,
//! `utils/calcAccuracy.m`, `utils/evalRes.m`, `utils/compOas.m`; the Python
//! port `tjiiv-cprg/visdrone-det-toolkit-python` does the same) evaluates
//! ground truth as follows, and this loader maps each step to COCO:
//!
//! 1. **Ignored regions (category 0).** The toolkit paints all ignored
//!    regions of an image into one pixel mask and then *drops* every
//!    ground-truth object and every detection that has at least half of its
//!    (rounded) box inside the mask, before any matching.
//!    - Ground truth: this loader does exactly the same, with the toolkit's
//!      pixel arithmetic (1-based pixels, region rows `y..=y+h` and columns
//!      `x..=x+w` clipped to the image, coordinates rounded and clamped to
//!      at least 1, object kept when `inside / (w * h) < 0.5`). Dropped
//!      objects are counted in a note.
//!    - Detections cannot be dropped by a loader, so each ignored region
//!      becomes ten `iscrowd = true` annotations, one per category 1..10,
//!      with the region's box. COCO matching then ignores a detection that
//!      matches no real object and has at least the IoU threshold of its own
//!      area inside the region (for a crowd region COCO's IoU is
//!      `intersection / detection area`). Differences from the toolkit: the
//!      toolkit's cut is 50% of the detection inside the *union* of the
//!      regions at every IoU threshold, COCO's is the threshold (0.50–0.95)
//!      inside *one* region; and the toolkit drops such a detection even
//!      when it would have matched a real object.
//! 2. **Score 0.** In ground truth the score column is 1 for boxes that are
//!    evaluated and 0 for boxes to ignore. The toolkit turns score 0 into an
//!    "ignore" box of the same class (`evalRes.m`: a detection may match any
//!    part of it, `intersection / detection area` against the threshold,
//!    real boxes are preferred, any number of detections may match, and
//!    those detections are neither true nor false positives). That is
//!    exactly COCO's crowd rule, so score-0 boxes of categories 1..10 become
//!    `iscrowd = true` annotations of their own category. One toolkit quirk
//!    is not reproduced: it counts ignore boxes in the recall denominator
//!    (`numel(gtMatch)`); COCO does not. Scores other than 0 and 1 are an
//!    error (they suggest a detection file was given as ground truth).
//! 3. **Others (category 11).** The toolkit evaluates only classes 1..10,
//!    so an "others" box is neither an object to find nor an ignored
//!    region: a class 1..10 detection on it is a false positive. This
//!    loader follows it and drops "others" boxes (counted in a note). (The
//!    VisDrone *video/MOT* toolkits' `dropObjects.m` treats 11 like 0; the
//!    DET toolkit does not.)
//!
//! An image without an annotation file has no objects, and an annotation
//! file without an image is skipped; notes count both. Images are numbered
//! 1..N in file-name order; sizes come from the image headers. `area` is
//! the box area; annotations are numbered 1..M in image, then line, order
//! (an ignored region yields ten consecutive ids). Errors name the file and
//! line: fewer than 6 or more than 8 fields, a non-number, a negative
//! width or height, a category outside 0..11, a score other than 0 or 1.
//!
//! # Maintainers
//!
//! The golden tests at the bottom write tiny datasets into temporary
//! folders (PNG/JPEG images made with the `image` crate) and compare every
//! field of the result; `tests/data/eval/coco-small.json` is the COCO
//! golden file. Keep the notes' wording stable: the report prints them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Annotation, Category, Dataset, EvalError, Image};

/// The VisDrone-DET object categories, ids 1..=10 in this order.
pub const VISDRONE_CATEGORIES: [&str; 10] = [
    "pedestrian",
    "people",
    "bicycle",
    "car",
    "van",
    "truck",
    "tricycle",
    "awning-tricycle",
    "bus",
    "motor",
];

/// Image extensions the YOLO and VisDrone loaders pick up (the same set
/// `lookout screen` takes from folders).
const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "tif", "tiff", "webp", "bmp"];

/// Slack on the 0–1 range of YOLO coordinates, for rounding in exporters.
const YOLO_RANGE_TOLERANCE: f64 = 1e-6;

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

// ---------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------

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
    if path.join("labels").is_dir() || yolo_yaml_in(path).is_some() {
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

// ---------------------------------------------------------------------------
// COCO
// ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct CocoFile {
    images: Vec<CocoImage>,
    categories: Vec<CocoCategory>,
    #[serde(default)]
    annotations: Vec<CocoAnnotation>,
}

#[derive(Deserialize)]
struct CocoImage {
    id: i64,
    file_name: String,
    width: Option<f64>,
    height: Option<f64>,
}

#[derive(Deserialize)]
struct CocoCategory {
    id: i64,
    name: String,
}

#[derive(Deserialize)]
struct CocoAnnotation {
    id: i64,
    image_id: i64,
    category_id: i64,
    bbox: Vec<f64>,
    area: Option<f64>,
    iscrowd: Option<CrowdFlag>,
}

/// `iscrowd` as written by different tools: `0`/`1` or `false`/`true`.
#[derive(Deserialize)]
#[serde(untagged)]
enum CrowdFlag {
    Bool(bool),
    Number(f64),
}

/// Reads a COCO instances JSON file; see the module docs.
pub fn load_coco(path: &Path) -> Result<Dataset, EvalError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(format_err(
            path,
            "this is a JSON list, as in a COCO results (detections) file; ground truth must \
             be a COCO instances object with images, categories and annotations",
        ));
    }
    let file: CocoFile = serde_json::from_slice(&bytes)
        .map_err(|e| format_err(path, format!("not a COCO instances file: {e}")))?;
    let root = parent_dir(path);
    let fail = |message: String| format_err(path, message);

    let mut images = Vec::with_capacity(file.images.len());
    let mut image_ids = HashSet::new();
    for im in file.images {
        if !image_ids.insert(im.id) {
            return Err(fail(format!("duplicate image id {}", im.id)));
        }
        let width = im
            .width
            .map(|v| pixel_count(v, im.id, "width"))
            .transpose()
            .map_err(&fail)?;
        let height = im
            .height
            .map(|v| pixel_count(v, im.id, "height"))
            .transpose()
            .map_err(&fail)?;
        let (width, height) = match (width, height) {
            (Some(w), Some(h)) => (w, h),
            _ => {
                let file_path = root.join(&im.file_name);
                image_size(&file_path).map_err(|e| {
                    fail(format!(
                        "image {} has no width/height and its file cannot be read: {e}",
                        im.id
                    ))
                })?
            }
        };
        images.push(Image {
            id: im.id,
            file_name: im.file_name,
            width,
            height,
        });
    }

    let mut categories = Vec::with_capacity(file.categories.len());
    let mut category_ids = HashSet::new();
    for c in file.categories {
        if !category_ids.insert(c.id) {
            return Err(fail(format!("duplicate category id {}", c.id)));
        }
        categories.push(Category {
            id: c.id,
            name: c.name,
        });
    }

    let mut annotations = Vec::with_capacity(file.annotations.len());
    let mut annotation_ids = HashSet::new();
    let mut missing_area = 0;
    for a in file.annotations {
        let id = a.id;
        if !annotation_ids.insert(id) {
            return Err(fail(format!("duplicate annotation id {id}")));
        }
        if !image_ids.contains(&a.image_id) {
            return Err(fail(format!(
                "annotation {id} refers to unknown image id {}",
                a.image_id
            )));
        }
        if !category_ids.contains(&a.category_id) {
            return Err(fail(format!(
                "annotation {id} refers to unknown category id {}",
                a.category_id
            )));
        }
        let bbox: [f64; 4] = a.bbox.as_slice().try_into().map_err(|_| {
            fail(format!(
                "annotation {id}: bbox must be 4 numbers [x, y, width, height], found {}",
                a.bbox.len()
            ))
        })?;
        if bbox.iter().any(|v| !v.is_finite()) {
            return Err(fail(format!(
                "annotation {id}: bbox has a non-finite number"
            )));
        }
        if bbox[2] < 0.0 || bbox[3] < 0.0 {
            return Err(fail(format!(
                "annotation {id}: bbox has a negative width or height ({}, {})",
                bbox[2], bbox[3]
            )));
        }
        let area = match a.area {
            Some(area) if !area.is_finite() => {
                return Err(fail(format!("annotation {id}: area is not finite")))
            }
            Some(area) if area < 0.0 => {
                return Err(fail(format!("annotation {id}: negative area {area}")))
            }
            Some(area) => area,
            None => {
                missing_area += 1;
                bbox[2] * bbox[3]
            }
        };
        let iscrowd = match a.iscrowd {
            None => false,
            Some(CrowdFlag::Bool(b)) => b,
            Some(CrowdFlag::Number(0.0)) => false,
            Some(CrowdFlag::Number(1.0)) => true,
            Some(CrowdFlag::Number(n)) => {
                return Err(fail(format!(
                    "annotation {id}: iscrowd must be 0 or 1, found {n}"
                )))
            }
        };
        annotations.push(Annotation {
            id,
            image_id: a.image_id,
            category_id: a.category_id,
            bbox,
            area,
            iscrowd,
        });
    }

    let mut notes = Vec::new();
    if missing_area > 0 {
        notes.push(format!(
            "{} had no area; used box area",
            count(missing_area, "annotation", "annotations")
        ));
    }
    Ok(Dataset {
        images,
        categories,
        annotations,
        image_root: Some(root),
        notes,
    })
}

/// Checks a COCO image width or height: finite, non-negative, whole.
fn pixel_count(v: f64, image_id: i64, what: &str) -> Result<u32, String> {
    if !v.is_finite() {
        Err(format!("image {image_id}: {what} is not finite"))
    } else if v < 0.0 {
        Err(format!("image {image_id} has a negative {what} ({v})"))
    } else if v.fract() != 0.0 || v > f64::from(u32::MAX) {
        Err(format!(
            "image {image_id}: {what} {v} is not a whole number of pixels"
        ))
    } else {
        Ok(v as u32)
    }
}

// ---------------------------------------------------------------------------
// YOLO
// ---------------------------------------------------------------------------

/// Reads a YOLO dataset from a `data.yaml` or a folder; see the module docs.
pub fn load_yolo(path: &Path) -> Result<Dataset, EvalError> {
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    if meta.is_file() {
        return load_yolo_yaml(path);
    }
    if let Some(yaml) = yolo_yaml_in(path) {
        return load_yolo_yaml(&yaml);
    }
    let images_dir = path.join("images");
    let labels_dir = path.join("labels");
    if !images_dir.is_dir() || !labels_dir.is_dir() {
        return Err(format_err(
            path,
            "not a YOLO dataset: expected images/ and labels/ folders (plus classes.txt, \
             obj.names or data.yaml), or a data.yaml naming a val:, test: or train: split",
        ));
    }
    let (names, names_file) = find_names_file(path)?;
    let notes = vec![format!("class names from {}", names_file.display())];
    let images = walk_images(&images_dir)?;
    build_yolo(&images_dir, images, names, notes)
}

/// A `data.yaml`/`data.yml` in `dir` that names a split, if any.
fn yolo_yaml_in(dir: &Path) -> Option<PathBuf> {
    ["data.yaml", "data.yml"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| {
            std::fs::read_to_string(p).is_ok_and(|text| {
                ["val", "test", "train"]
                    .iter()
                    .any(|k| yaml_entries(&text, k).is_some())
            })
        })
}

/// The class names of a YOLO folder: the first names file found in the
/// folder, then in its parent.
fn find_names_file(dir: &Path) -> Result<(BTreeMap<i64, String>, PathBuf), EvalError> {
    const CANDIDATES: [&str; 4] = ["classes.txt", "obj.names", "data.yaml", "data.yml"];
    let folders = std::iter::once(dir).chain(dir.parent().filter(|p| !p.as_os_str().is_empty()));
    for folder in folders {
        for name in CANDIDATES {
            let file = folder.join(name);
            if !file.is_file() {
                continue;
            }
            let names = if name.starts_with("data.") {
                let text = read_text(&file)?;
                names_from_yaml(&text)
                    .ok_or_else(|| format_err(&file, "no `names:` list or map found"))?
            } else {
                crate::detect::labels::read_labels_file(&file)
                    .map_err(|e| format_err(&file, e.to_string()))?
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| (i as i64, n))
                    .collect()
            };
            return Ok((names, file));
        }
    }
    Err(format_err(
        dir,
        format!(
            "no class names: looked for {} in this folder and its parent",
            CANDIDATES.join(", ")
        ),
    ))
}

fn load_yolo_yaml(yaml: &Path) -> Result<Dataset, EvalError> {
    let text = read_text(yaml)?;
    let names =
        names_from_yaml(&text).ok_or_else(|| format_err(yaml, "no `names:` list or map found"))?;
    let yaml_dir = parent_dir(yaml);
    let root = match yaml_scalar(&text, "path") {
        Some(p) if !p.is_empty() => join_clean(&yaml_dir, &p),
        _ => yaml_dir.clone(),
    };
    if !root.is_dir() {
        return Err(format_err(
            yaml,
            format!(
                "dataset root {} (from `path:`, taken relative to this file's folder) is not a folder",
                root.display()
            ),
        ));
    }
    let (split, entries) = ["val", "test", "train"]
        .iter()
        .find_map(|k| yaml_entries(&text, k).map(|e| (*k, e)))
        .ok_or_else(|| format_err(yaml, "no `val:`, `test:` or `train:` entry"))?;

    let mut images = Vec::new();
    let mut folders = Vec::new();
    for entry in &entries {
        let mut resolved = join_clean(&root, entry);
        if !resolved.exists() {
            if let Some(rest) = entry.strip_prefix("../") {
                resolved = join_clean(&root, rest);
            }
        }
        if resolved.is_dir() {
            images.extend(walk_images(&resolved)?);
            folders.push(resolved);
        } else if resolved.is_file() && lower_extension(&resolved).as_deref() == Some("txt") {
            let list_dir = parent_dir(&resolved);
            for line in read_text(&resolved)?.lines().map(str::trim) {
                if line.is_empty() {
                    continue;
                }
                let line = line.strip_prefix("./").unwrap_or(line);
                images.push(list_dir.join(line));
            }
        } else {
            return Err(format_err(
                yaml,
                format!(
                    "`{split}: {entry}` is neither a folder nor a .txt image list ({} does not exist)",
                    resolved.display()
                ),
            ));
        }
    }
    let image_root = match (folders.len(), entries.len()) {
        (1, 1) => folders.pop().unwrap_or_else(|| root.clone()),
        _ => root,
    };
    let notes = vec![format!(
        "images from the `{split}` split of {}",
        yaml.display()
    )];
    build_yolo(&image_root, images, names, notes)
}

/// Counters for the notes of a YOLO load.
#[derive(Default)]
struct YoloStats {
    missing_labels: usize,
    polygons: usize,
    extra_columns: usize,
    duplicates: usize,
}

fn build_yolo(
    root: &Path,
    mut image_paths: Vec<PathBuf>,
    names: BTreeMap<i64, String>,
    mut notes: Vec<String>,
) -> Result<Dataset, EvalError> {
    image_paths.sort();
    image_paths.dedup();
    let mut stats = YoloStats::default();
    let mut images = Vec::with_capacity(image_paths.len());
    let mut annotations = Vec::new();
    for (index, image_path) in image_paths.iter().enumerate() {
        let image_id = index as i64 + 1;
        let (width, height) = image_size(image_path)?;
        images.push(Image {
            id: image_id,
            file_name: relative_name(image_path, root),
            width,
            height,
        });
        let label_path = yolo_label_path(image_path);
        let Some(text) = read_optional(&label_path)? else {
            stats.missing_labels += 1;
            continue;
        };
        let boxes = parse_yolo_labels(&label_path, &text, &names, &mut stats)?;
        let mut seen = HashSet::new();
        for (class, [x0, y0, x1, y1]) in boxes {
            let (w, h) = (f64::from(width), f64::from(height));
            let bbox = [x0 * w, y0 * h, (x1 - x0) * w, (y1 - y0) * h];
            if !seen.insert((class, bbox.map(f64::to_bits))) {
                stats.duplicates += 1;
                continue;
            }
            annotations.push(Annotation {
                id: annotations.len() as i64 + 1,
                image_id,
                category_id: class,
                bbox,
                area: bbox[2] * bbox[3],
                iscrowd: false,
            });
        }
    }
    if stats.missing_labels > 0 {
        notes.push(format!(
            "{} had no label file; treated as having no objects",
            count(stats.missing_labels, "image", "images")
        ));
    }
    if stats.polygons > 0 {
        notes.push(format!(
            "{} had a segmentation polygon; used its bounding box",
            count(stats.polygons, "label line", "label lines")
        ));
    }
    if stats.extra_columns > 0 {
        notes.push(format!(
            "{} had extra columns after the box (e.g. a confidence); ignored them",
            count(stats.extra_columns, "label line", "label lines")
        ));
    }
    if stats.duplicates > 0 {
        notes.push(format!(
            "{} repeated an earlier line of the same file; dropped, as Ultralytics does",
            count(stats.duplicates, "label line", "label lines")
        ));
    }
    Ok(Dataset {
        images,
        categories: names
            .into_iter()
            .map(|(id, name)| Category { id, name })
            .collect(),
        annotations,
        image_root: Some(root.to_owned()),
        notes,
    })
}

/// Ultralytics' `img2label_paths`: the last `images` folder of the path
/// becomes `labels`, the extension `.txt`.
fn yolo_label_path(image: &Path) -> PathBuf {
    let parts: Vec<_> = image.components().collect();
    let folders = parts.len().saturating_sub(1);
    let swap = parts[..folders]
        .iter()
        .rposition(|c| c.as_os_str() == "images");
    let mut out = PathBuf::new();
    for (i, part) in parts.iter().enumerate() {
        if Some(i) == swap {
            out.push("labels");
        } else {
            out.push(part);
        }
    }
    out.set_extension("txt");
    out
}

/// Parses one YOLO label file into `(class, [x0, y0, x1, y1])` boxes in
/// normalised coordinates.
fn parse_yolo_labels(
    path: &Path,
    text: &str,
    names: &BTreeMap<i64, String>,
    stats: &mut YoloStats,
) -> Result<Vec<(i64, [f64; 4])>, EvalError> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let fail = |message: String| format_err(path, format!("line {line_no}: {message}"));
        let mut values = Vec::new();
        for token in line.split_whitespace() {
            match token.parse::<f64>() {
                Ok(v) if v.is_finite() => values.push(v),
                _ => return Err(fail(format!("`{token}` is not a finite number"))),
            }
        }
        if values.is_empty() {
            continue;
        }
        if values.len() < 5 {
            return Err(fail(format!(
                "expected `class cx cy w h` (or a polygon), found {} values",
                values.len()
            )));
        }
        let class = values[0];
        if class < 0.0 || class.fract() != 0.0 || class > i64::MAX as f64 {
            return Err(fail(format!(
                "class `{class}` is not a whole non-negative number"
            )));
        }
        let class = class as i64;
        if !names.contains_key(&class) {
            return Err(fail(format!(
                "class index {class} is not in the names list ({})",
                count(names.len(), "name", "names")
            )));
        }
        let coords = &values[1..];
        let in_range = |v: &f64| (-YOLO_RANGE_TOLERANCE..=1.0 + YOLO_RANGE_TOLERANCE).contains(v);
        let bounds = if values.len() >= 7 && values.len() % 2 == 1 {
            stats.polygons += 1;
            if !coords.iter().all(in_range) {
                return Err(fail("polygon coordinates must be normalised to 0-1".into()));
            }
            let xs = coords.iter().step_by(2);
            let ys = coords.iter().skip(1).step_by(2);
            let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
            let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
            [x0, y0, x1, y1]
        } else {
            if values.len() > 5 {
                stats.extra_columns += 1;
            }
            let [cx, cy, w, h] = [coords[0], coords[1], coords[2], coords[3]];
            if ![cx, cy, w, h].iter().all(in_range) {
                return Err(fail(
                    "box values `cx cy w h` must be normalised to 0-1".into(),
                ));
            }
            [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]
        };
        out.push((class, bounds));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// A little YAML: top-level keys of an Ultralytics data.yaml
// ---------------------------------------------------------------------------

/// A top-level YAML value, as far as data.yaml files need.
#[derive(Debug, PartialEq)]
enum YamlValue {
    Scalar(String),
    List(Vec<String>),
    Map(Vec<(String, String)>),
}

/// Drops a `#` comment that is outside quotes and starts the line or
/// follows whitespace.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && prev_space => return &line[..i],
            None => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('\'') && s.ends_with('\'') {
        s[1..s.len() - 1].replace("''", "'")
    } else if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        s[1..s.len() - 1].to_owned()
    } else {
        s.to_owned()
    }
}

/// Splits a flow collection's inside on commas outside quotes.
fn split_flow(inner: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quote = None;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == ',' => {
                out.push(&inner[start..i]);
                start = i + 1;
            }
            None => {}
        }
    }
    out.push(&inner[start..]);
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

fn split_pair(item: &str) -> Option<(String, String)> {
    let (k, v) = item.split_once(':')?;
    Some((unquote(k), unquote(v)))
}

/// The value of top-level `key`: an inline scalar, `[a, b]`, `{k: v}`
/// (both may span lines), or an indented block of `- item` or `k: v`
/// lines. `None` when the key is absent or has no value.
fn yaml_value(text: &str, key: &str) -> Option<YamlValue> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| {
        l.strip_prefix(key)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    let rest = strip_comment(&lines[start][key.len() + 1..]).trim();
    if let Some(open) = rest.chars().next().filter(|c| *c == '[' || *c == '{') {
        let close = if open == '[' { ']' } else { '}' };
        let mut flow = rest.to_owned();
        let mut next = start + 1;
        while !flow.ends_with(close) && next < lines.len() {
            flow.push(' ');
            flow.push_str(strip_comment(lines[next]).trim());
            next += 1;
        }
        let inner = flow.strip_prefix(open)?.strip_suffix(close)?;
        let items = split_flow(inner);
        return Some(if open == '[' {
            YamlValue::List(items.into_iter().map(unquote).collect())
        } else {
            YamlValue::Map(items.into_iter().map(split_pair).collect::<Option<_>>()?)
        });
    }
    if !rest.is_empty() {
        return Some(YamlValue::Scalar(unquote(rest)));
    }
    let mut list = Vec::new();
    let mut map = Vec::new();
    for line in &lines[start + 1..] {
        let content = strip_comment(line).trim();
        if content.is_empty() {
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if !indented && !content.starts_with('-') {
            break;
        }
        if let Some(item) = content.strip_prefix('-') {
            list.push(unquote(item));
        } else {
            map.push(split_pair(content)?);
        }
    }
    match (list.is_empty(), map.is_empty()) {
        (false, true) => Some(YamlValue::List(list)),
        (true, false) => Some(YamlValue::Map(map)),
        _ => None,
    }
}

fn yaml_scalar(text: &str, key: &str) -> Option<String> {
    match yaml_value(text, key)? {
        YamlValue::Scalar(s) => Some(s),
        _ => None,
    }
}

/// A split entry (`val:` …): one path or a list of paths; `None` if absent
/// or empty.
fn yaml_entries(text: &str, key: &str) -> Option<Vec<String>> {
    let entries = match yaml_value(text, key)? {
        YamlValue::Scalar(s) if !s.is_empty() && s != "null" && s != "~" => vec![s],
        YamlValue::List(items) if !items.is_empty() => items,
        _ => return None,
    };
    Some(entries)
}

/// `names:` of a data.yaml as class index → name.
fn names_from_yaml(text: &str) -> Option<BTreeMap<i64, String>> {
    let names: BTreeMap<i64, String> = match yaml_value(text, "names")? {
        YamlValue::List(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, n)| (i as i64, n))
            .collect(),
        YamlValue::Map(pairs) => pairs
            .into_iter()
            .map(|(k, v)| Some((k.trim().parse::<i64>().ok().filter(|k| *k >= 0)?, v)))
            .collect::<Option<_>>()?,
        YamlValue::Scalar(_) => return None,
    };
    (!names.is_empty()).then_some(names)
}

// ---------------------------------------------------------------------------
// VisDrone-DET
// ---------------------------------------------------------------------------

/// One line of a VisDrone annotation file.
struct VisDroneRow {
    bbox: [f64; 4],
    /// The score column: false for 0 (ignore this box).
    evaluated: bool,
    category: u8,
}

/// Reads a VisDrone-DET split folder; see the module docs for how ignored
/// regions, "others" and score-0 boxes are mapped.
pub fn load_visdrone(path: &Path) -> Result<Dataset, EvalError> {
    let images_dir = path.join("images");
    let annotations_dir = path.join("annotations");
    if !images_dir.is_dir() || !annotations_dir.is_dir() {
        return Err(format_err(
            path,
            "not a VisDrone-DET split: expected images/ and annotations/ folders",
        ));
    }
    let mut image_paths = Vec::new();
    for entry in std::fs::read_dir(&images_dir).map_err(io_err(&images_dir))? {
        let p = entry.map_err(io_err(&images_dir))?.path();
        if p.is_file() && is_image(&p) {
            image_paths.push(p);
        }
    }
    image_paths.sort();
    let mut stems: HashMap<OsString, &Path> = HashMap::new();
    for p in &image_paths {
        let stem = p.file_stem().unwrap_or_default().to_owned();
        if let Some(other) = stems.insert(stem, p) {
            return Err(format_err(
                p,
                format!(
                    "{} has the same name; cannot tell which image annotations/{}.txt belongs to",
                    other.display(),
                    p.file_stem().unwrap_or_default().to_string_lossy()
                ),
            ));
        }
    }
    let mut orphans = 0;
    for entry in std::fs::read_dir(&annotations_dir).map_err(io_err(&annotations_dir))? {
        let p = entry.map_err(io_err(&annotations_dir))?.path();
        if lower_extension(&p).as_deref() == Some("txt")
            && !stems.contains_key(p.file_stem().unwrap_or_default())
        {
            orphans += 1;
        }
    }

    let categories: Vec<Category> = VISDRONE_CATEGORIES
        .iter()
        .enumerate()
        .map(|(i, name)| Category {
            id: i as i64 + 1,
            name: (*name).to_owned(),
        })
        .collect();
    let mut images = Vec::with_capacity(image_paths.len());
    let mut annotations = Vec::new();
    let (mut missing, mut regions, mut in_regions, mut others, mut ignored) = (0, 0, 0, 0, 0);
    for (index, image_path) in image_paths.iter().enumerate() {
        let image_id = index as i64 + 1;
        let (width, height) = image_size(image_path)?;
        images.push(Image {
            id: image_id,
            file_name: relative_name(image_path, &images_dir),
            width,
            height,
        });
        let mut name = image_path.file_stem().unwrap_or_default().to_owned();
        name.push(".txt");
        let annotation_path = annotations_dir.join(name);
        let Some(text) = read_optional(&annotation_path)? else {
            missing += 1;
            continue;
        };
        let rows = parse_visdrone(&annotation_path, &text)?;
        let region_boxes: Vec<[f64; 4]> = rows
            .iter()
            .filter(|r| r.category == 0)
            .map(|r| r.bbox)
            .collect();
        let mask =
            (!region_boxes.is_empty()).then(|| IgnoreMask::new(&region_boxes, width, height));
        let mut push = |category_id: i64, bbox: [f64; 4], iscrowd: bool| {
            annotations.push(Annotation {
                id: annotations.len() as i64 + 1,
                image_id,
                category_id,
                bbox,
                area: bbox[2] * bbox[3],
                iscrowd,
            });
        };
        for row in rows {
            match row.category {
                0 => {
                    regions += 1;
                    for category in 1..=VISDRONE_CATEGORIES.len() as i64 {
                        push(category, row.bbox, true);
                    }
                }
                11 => others += 1,
                category => {
                    if mask.as_ref().is_some_and(|m| m.covers_half(row.bbox)) {
                        in_regions += 1;
                        continue;
                    }
                    if !row.evaluated {
                        ignored += 1;
                    }
                    push(i64::from(category), row.bbox, !row.evaluated);
                }
            }
        }
    }

    let mut notes = vec![
        "VisDrone-DET mapped as its official toolkit evaluates it: categories 1-10 kept; \
         ignored regions (0) and score-0 boxes became COCO crowd regions, others (11) dropped"
            .to_owned(),
    ];
    if regions > 0 {
        notes.push(format!(
            "turned {} (category 0) into crowd regions in each of the 10 categories, so \
             detections inside them are neither true nor false positives",
            count(regions, "ignored region", "ignored regions")
        ));
    }
    if in_regions > 0 {
        notes.push(format!(
            "dropped {} lying at least half inside ignored regions, as the VisDrone DET toolkit does",
            count(in_regions, "box", "boxes")
        ));
    }
    if ignored > 0 {
        notes.push(format!(
            "turned {} with score 0 (\"ignore\" in VisDrone ground truth) into crowd regions of \
             the same category",
            count(ignored, "box", "boxes")
        ));
    }
    if others > 0 {
        notes.push(format!(
            "dropped {} (category 11): the VisDrone DET toolkit evaluates only categories 1-10, \
             so detections on them are false positives",
            count(others, "\"others\" box", "\"others\" boxes")
        ));
    }
    if missing > 0 {
        notes.push(format!(
            "{} had no annotation file; treated as having no objects",
            count(missing, "image", "images")
        ));
    }
    if orphans > 0 {
        notes.push(format!(
            "skipped {} that had no image",
            count(orphans, "annotation file", "annotation files")
        ));
    }
    Ok(Dataset {
        images,
        categories,
        annotations,
        image_root: Some(images_dir),
        notes,
    })
}

fn parse_visdrone(path: &Path, text: &str) -> Result<Vec<VisDroneRow>, EvalError> {
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fail = |message: String| format_err(path, format!("line {}: {message}", index + 1));
        let mut fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.last() == Some(&"") {
            fields.pop();
        }
        if !(6..=8).contains(&fields.len()) {
            return Err(fail(format!(
                "expected 8 comma-separated fields (bbox_left,bbox_top,bbox_width,bbox_height,\
                 score,object_category,truncation,occlusion), found {}",
                fields.len()
            )));
        }
        let mut values = [0.0; 8];
        for (value, field) in values.iter_mut().zip(&fields) {
            *value = match field.parse::<f64>() {
                Ok(v) if v.is_finite() => v,
                _ => return Err(fail(format!("`{field}` is not a finite number"))),
            };
        }
        let bbox = [values[0], values[1], values[2], values[3]];
        if bbox[2] < 0.0 || bbox[3] < 0.0 {
            return Err(fail(format!(
                "negative box width or height ({}, {})",
                bbox[2], bbox[3]
            )));
        }
        let evaluated = match values[4] {
            1.0 => true,
            0.0 => false,
            s => {
                return Err(fail(format!(
                    "score must be 0 (ignore) or 1 in ground truth, found {s}; \
                     is this a detection file?"
                )))
            }
        };
        let category = values[5];
        if !(0.0..=11.0).contains(&category) || category.fract() != 0.0 {
            return Err(fail(format!(
                "object_category must be a whole number 0-11, found {category}"
            )));
        }
        rows.push(VisDroneRow {
            bbox,
            evaluated,
            category: category as u8,
        });
    }
    Ok(rows)
}

/// The VisDrone DET toolkit's ignored-region mask (`dropObjectsInIgr.m`),
/// as an inclusive integral image over 1-based pixels.
struct IgnoreMask {
    width: usize,
    height: usize,
    /// `(height + 1) x (width + 1)`; entry `(y, x)` counts masked pixels in
    /// rows `1..=y` and columns `1..=x`.
    integral: Vec<u32>,
}

impl IgnoreMask {
    fn new(regions: &[[f64; 4]], width: u32, height: u32) -> Self {
        let (w, h) = (width as usize, height as usize);
        let mut mask = vec![false; (h + 1) * (w + 1)];
        for region in regions {
            // igrMap(y : min(H, y+h), x : min(W, x+w)) = 1, with
            // igrRegion = max(1, region) (rounded here, as the MOT
            // toolkit does, since pixel indices must be whole).
            let [x, y, rw, rh] = region.map(|v| v.round().max(1.0));
            let x1 = (x + rw).min(w as f64);
            let y1 = (y + rh).min(h as f64);
            let (x, y, x1, y1) = (x as usize, y as usize, x1 as usize, y1 as usize);
            for row in y..=y1 {
                for col in x..=x1 {
                    mask[row * (w + 1) + col] = true;
                }
            }
        }
        let mut integral = vec![0u32; (h + 1) * (w + 1)];
        for row in 1..=h {
            let mut run = 0;
            for col in 1..=w {
                run += u32::from(mask[row * (w + 1) + col]);
                integral[row * (w + 1) + col] = integral[(row - 1) * (w + 1) + col] + run;
            }
        }
        IgnoreMask {
            width: w,
            height: h,
            integral,
        }
    }

    fn at(&self, y: usize, x: usize) -> f64 {
        f64::from(self.integral[y * (self.width + 1) + x])
    }

    /// The toolkit's test for dropping a box: at least half of it, in its
    /// pixel arithmetic, lies inside the mask.
    fn covers_half(&self, bbox: [f64; 4]) -> bool {
        if self.width == 0 || self.height == 0 {
            return false;
        }
        let (w, h) = (self.width as f64, self.height as f64);
        let [x, y, bw, bh] = bbox.map(|v| v.round().max(1.0));
        let x = x.min(w).max(1.0);
        let y = y.min(h).max(1.0);
        let x1 = (x + bw).min(w);
        let y1 = (y + bh).min(h).max(1.0);
        let (xi, yi, x1i, y1i) = (x as usize, y as usize, x1 as usize, y1 as usize);
        let inside = self.at(yi, xi) + self.at(y1i, x1i) - self.at(yi, x1i) - self.at(y1i, xi);
        inside / (bw * bh) >= 0.5
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// Writes a black image; the format follows the extension.
    fn write_image(path: &Path, width: u32, height: u32) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::new(width, height).save(path).unwrap();
    }

    fn ann(id: i64, image_id: i64, category_id: i64, bbox: [f64; 4], iscrowd: bool) -> Annotation {
        Annotation {
            id,
            image_id,
            category_id,
            bbox,
            area: bbox[2] * bbox[3],
            iscrowd,
        }
    }

    fn img(id: i64, file_name: &str, width: u32, height: u32) -> Image {
        Image {
            id,
            file_name: file_name.to_owned(),
            width,
            height,
        }
    }

    fn cats(names: &[(i64, &str)]) -> Vec<Category> {
        names
            .iter()
            .map(|(id, name)| Category {
                id: *id,
                name: (*name).to_owned(),
            })
            .collect()
    }

    fn format_message(result: Result<Dataset, EvalError>) -> (PathBuf, String) {
        match result {
            Err(EvalError::Format { path, message }) => (path, message),
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    fn golden(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/eval")
            .join(name)
    }

    // --- COCO -------------------------------------------------------------

    #[test]
    fn coco_golden_file() {
        let path = golden("coco-small.json");
        let ds = load_coco(&path).unwrap();
        let expected = Dataset {
            images: vec![img(7, "a.jpg", 100, 80), img(9, "sub/b.jpg", 640, 480)],
            categories: cats(&[(1, "person"), (3, "boat")]),
            annotations: vec![
                Annotation {
                    id: 10,
                    image_id: 7,
                    category_id: 1,
                    bbox: [10.0, 20.0, 30.0, 40.0],
                    area: 950.5,
                    iscrowd: false,
                },
                Annotation {
                    id: 11,
                    image_id: 7,
                    category_id: 3,
                    bbox: [0.5, 1.5, 4.0, 2.5],
                    area: 10.0,
                    iscrowd: false,
                },
                Annotation {
                    id: 12,
                    image_id: 9,
                    category_id: 1,
                    bbox: [100.0, 100.0, 50.0, 60.0],
                    area: 2500.0,
                    iscrowd: true,
                },
                Annotation {
                    id: 13,
                    image_id: 9,
                    category_id: 3,
                    bbox: [5.0, 6.0, 7.0, 8.0],
                    area: 40.0,
                    iscrowd: true,
                },
                Annotation {
                    id: 14,
                    image_id: 9,
                    category_id: 3,
                    bbox: [1.0, 2.0, 3.0, 4.0],
                    area: 12.0,
                    iscrowd: false,
                },
            ],
            image_root: Some(golden("")),
            notes: vec!["1 annotation had no area; used box area".into()],
        };
        assert_eq!(ds, expected);
        // The path-guessing entry point gives the same.
        assert_eq!(load(&path, None).unwrap(), expected);
        assert_eq!(load(&path, Some("COCO")).unwrap(), expected);
    }

    #[test]
    fn coco_sample_sortie_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample-sortie.coco.json");
        let ds = load_coco(&path).unwrap();
        assert_eq!(ds.images.len(), 265);
        assert_eq!(ds.annotations.len(), 9942);
        assert_eq!(
            ds.categories,
            cats(&[
                (1, "person"),
                (2, "vessel"),
                (3, "container"),
                (4, "vehicle")
            ])
        );
        assert_eq!(ds.images[0], img(0, "frame_000000.jpg", 1280, 720));
        assert_eq!(
            ds.annotations[0],
            Annotation {
                id: 1,
                image_id: 0,
                category_id: 3,
                bbox: [755.0, 260.0, 42.48, 103.18],
                area: 4383.09,
                iscrowd: false,
            }
        );
        assert!(ds.notes.is_empty());
    }

    #[test]
    fn coco_missing_size_read_from_image() {
        let dir = tempfile::tempdir().unwrap();
        write_image(&dir.path().join("pics/x.png"), 100, 80);
        let json = dir.path().join("gt.json");
        write(
            &json,
            r#"{"images":[{"id":1,"file_name":"pics/x.png"}],"categories":[{"id":1,"name":"a"}]}"#,
        );
        let ds = load_coco(&json).unwrap();
        assert_eq!(ds.images, vec![img(1, "pics/x.png", 100, 80)]);
        assert!(ds.annotations.is_empty());
        assert_eq!(ds.image_root.as_deref(), Some(dir.path()));
    }

    #[test]
    fn coco_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("gt.json");
        let images = r#""images":[{"id":1,"file_name":"a.jpg","width":10,"height":10}]"#;
        let categories = r#""categories":[{"id":1,"name":"a"}]"#;
        let cases: &[(String, &str)] = &[
            (
                format!(
                    r#"{{{images},{categories},"annotations":[{{"id":1,"image_id":2,"category_id":1,"bbox":[0,0,1,1]}}]}}"#
                ),
                "annotation 1 refers to unknown image id 2",
            ),
            (
                format!(
                    r#"{{{images},{categories},"annotations":[{{"id":1,"image_id":1,"category_id":5,"bbox":[0,0,1,1]}}]}}"#
                ),
                "annotation 1 refers to unknown category id 5",
            ),
            (
                format!(
                    r#"{{"images":[{{"id":1,"file_name":"a","width":10,"height":10}},{{"id":1,"file_name":"b","width":10,"height":10}}],{categories}}}"#
                ),
                "duplicate image id 1",
            ),
            (
                format!(
                    r#"{{"images":[{{"id":1,"file_name":"a","width":-10,"height":10}}],{categories}}}"#
                ),
                "image 1 has a negative width (-10)",
            ),
            (
                format!(
                    r#"{{{images},{categories},"annotations":[{{"id":4,"image_id":1,"category_id":1,"bbox":[0,0,-1,1]}}]}}"#
                ),
                "annotation 4: bbox has a negative width or height (-1, 1)",
            ),
            (
                format!(
                    r#"{{{images},{categories},"annotations":[{{"id":4,"image_id":1,"category_id":1,"bbox":[0,0,1,1],"iscrowd":2}}]}}"#
                ),
                "annotation 4: iscrowd must be 0 or 1, found 2",
            ),
            (
                format!(
                    r#"{{{images},{categories},"annotations":[{{"id":4,"image_id":1,"category_id":1,"bbox":[0,0,1]}}]}}"#
                ),
                "annotation 4: bbox must be 4 numbers [x, y, width, height], found 3",
            ),
            (
                r#"[{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":0.9}]"#.to_owned(),
                "this is a JSON list, as in a COCO results (detections) file; ground truth must be a COCO instances object with images, categories and annotations",
            ),
        ];
        for (text, want) in cases {
            write(&json, text);
            let (path, message) = format_message(load_coco(&json));
            assert_eq!(path, json);
            assert_eq!(&message, want, "for {text}");
        }
        // Numbers JSON cannot hold as finite f64 are rejected by the parser.
        write(
            &json,
            &format!(
                r#"{{{images},{categories},"annotations":[{{"id":4,"image_id":1,"category_id":1,"bbox":[0,0,1e400,1]}}]}}"#
            ),
        );
        let (_, message) = format_message(load_coco(&json));
        assert!(
            message.starts_with("not a COCO instances file:"),
            "{message}"
        );
        // A missing file is an I/O error naming it.
        let missing = dir.path().join("nope.json");
        match load_coco(&missing) {
            Err(EvalError::Io { path, .. }) => assert_eq!(path, missing),
            other => panic!("{other:?}"),
        }
    }

    // --- YOLO -------------------------------------------------------------

    #[test]
    fn yolo_data_yaml_inline_map_names_val_split() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            &root.join("data.yaml"),
            "# a dataset\npath: .  # root\ntrain: images/train\nval: images/val\ntest:  # none\n\
             names: {0: person, 1: 'boat'}\n",
        );
        write_image(&root.join("images/val/b.png"), 100, 80);
        write_image(&root.join("images/val/a.png"), 100, 80);
        write_image(&root.join("images/val/sub/c.png"), 50, 40);
        write_image(&root.join("images/train/z.png"), 10, 10);
        write(&root.join("labels/train/z.txt"), "0 0.5 0.5 1 1\n");
        // a: a box, a polygon, a duplicate of the box, a blank line.
        write(
            &root.join("labels/val/a.txt"),
            "0 0.5 0.5 0.25 0.5\n1 0.125 0.25 0.375 0.25 0.375 0.75 0.25 0.625\n\n\
             0 0.5 0.5 0.25 0.5\n",
        );
        // b has no label file; c has a confidence column.
        write(
            &root.join("labels/val/sub/c.txt"),
            "1 0.5 0.5 0.5 0.5 0.9\n",
        );

        let yaml = root.join("data.yaml");
        let ds = load_yolo(&yaml).unwrap();
        let expected = Dataset {
            images: vec![
                img(1, "a.png", 100, 80),
                img(2, "b.png", 100, 80),
                img(3, "sub/c.png", 50, 40),
            ],
            categories: cats(&[(0, "person"), (1, "boat")]),
            annotations: vec![
                ann(1, 1, 0, [37.5, 20.0, 25.0, 40.0], false),
                ann(2, 1, 1, [12.5, 20.0, 25.0, 40.0], false),
                ann(3, 3, 1, [12.5, 10.0, 25.0, 20.0], false),
            ],
            image_root: Some(root.join("images/val")),
            notes: vec![
                format!("images from the `val` split of {}", yaml.display()),
                "1 image had no label file; treated as having no objects".into(),
                "1 label line had a segmentation polygon; used its bounding box".into(),
                "1 label line had extra columns after the box (e.g. a confidence); ignored them"
                    .into(),
                "1 label line repeated an earlier line of the same file; dropped, as Ultralytics does"
                    .into(),
            ],
        };
        assert_eq!(ds, expected);
        assert_eq!(ds.annotations[0].area, 1000.0);
        // The folder holding the data.yaml, and path guessing, give the same.
        assert_eq!(load_yolo(root).unwrap(), expected);
        assert_eq!(load(&yaml, None).unwrap(), expected);
        assert_eq!(load(root, None).unwrap(), expected);
    }

    #[test]
    fn yolo_roboflow_yaml_block_list_names_and_parent_dir_split() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            &root.join("data.yaml"),
            "train: ../train/images\nval: ../valid/images\n\nnc: 2\nnames:\n  - person\n  - \"boat\"\n",
        );
        write_image(&root.join("valid/images/x.jpg"), 100, 80);
        write(&root.join("valid/labels/x.txt"), "1 0.25 0.75 0.5 0.5\n");
        let ds = load_yolo(&root.join("data.yaml")).unwrap();
        assert_eq!(ds.images, vec![img(1, "x.jpg", 100, 80)]);
        assert_eq!(ds.categories, cats(&[(0, "person"), (1, "boat")]));
        assert_eq!(
            ds.annotations,
            vec![ann(1, 1, 1, [0.0, 40.0, 50.0, 40.0], false)]
        );
        assert_eq!(ds.image_root, Some(root.join("valid/images")));

        // The split folder alone finds its names in the parent's data.yaml.
        let split = root.join("valid");
        let ds2 = load(&split, None).unwrap();
        assert_eq!(ds2.images, ds.images);
        assert_eq!(ds2.annotations, ds.annotations);
        assert_eq!(ds2.categories, ds.categories);
        assert_eq!(ds2.image_root, Some(split.join("images")));
        assert_eq!(
            ds2.notes,
            vec![format!(
                "class names from {}",
                root.join("data.yaml").display()
            )]
        );
    }

    #[test]
    fn yolo_folder_with_classes_txt_and_list_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(&root.join("classes.txt"), "person\nboat\n\n");
        write_image(&root.join("images/p.png"), 100, 80);
        write(&root.join("labels/p.txt"), "0 0.5 0.5 1 1\n");
        let ds = load_yolo(root).unwrap();
        assert_eq!(
            ds,
            Dataset {
                images: vec![img(1, "p.png", 100, 80)],
                categories: cats(&[(0, "person"), (1, "boat")]),
                annotations: vec![ann(1, 1, 0, [0.0, 0.0, 100.0, 80.0], false)],
                image_root: Some(root.join("images")),
                notes: vec![format!(
                    "class names from {}",
                    root.join("classes.txt").display()
                )],
            }
        );

        // data.yaml with only an inline names list (no split): names only.
        std::fs::remove_file(root.join("classes.txt")).unwrap();
        write(
            &root.join("data.yaml"),
            "names: ['person', boat, \"x, y\"]\n",
        );
        let ds = load_yolo(root).unwrap();
        assert_eq!(
            ds.categories,
            cats(&[(0, "person"), (1, "boat"), (2, "x, y")])
        );
    }

    #[test]
    fn yolo_bad_class_index_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(&root.join("obj.names"), "person\nboat\n");
        write_image(&root.join("images/p.png"), 100, 80);
        let label = root.join("labels/p.txt");
        write(&label, "0 0.5 0.5 0.1 0.1\n2 0.5 0.5 0.1 0.1\n");
        let (path, message) = format_message(load_yolo(root));
        assert_eq!(path, label);
        assert_eq!(
            message,
            "line 2: class index 2 is not in the names list (2 names)"
        );
        let err = load_yolo(root).unwrap_err().to_string();
        assert!(err.contains("p.txt: line 2:"), "{err}");

        for (text, want) in [
            (
                "0 0.5 0.5 0.1\n",
                "line 1: expected `class cx cy w h` (or a polygon), found 4 values",
            ),
            ("0 0.5 x 0.1 0.1\n", "line 1: `x` is not a finite number"),
            (
                "-1 0.5 0.5 0.1 0.1\n",
                "line 1: class `-1` is not a whole non-negative number",
            ),
            (
                "0.5 0.5 0.5 0.1 0.1\n",
                "line 1: class `0.5` is not a whole non-negative number",
            ),
            (
                "\n0 0.5 0.5 1.5 0.1\n",
                "line 2: box values `cx cy w h` must be normalised to 0-1",
            ),
            (
                "0 0.1 0.1 0.2 0.1 2 0.2\n",
                "line 1: polygon coordinates must be normalised to 0-1",
            ),
        ] {
            write(&label, text);
            let (path, message) = format_message(load_yolo(root));
            assert_eq!(path, label);
            assert_eq!(message, want);
        }
    }

    #[test]
    fn yolo_label_path_rule() {
        assert_eq!(
            yolo_label_path(Path::new("/d/images/val/images/x.v1.jpg")),
            PathBuf::from("/d/images/val/labels/x.v1.txt")
        );
        assert_eq!(
            yolo_label_path(Path::new("/d/pics/x.png")),
            PathBuf::from("/d/pics/x.txt")
        );
        assert_eq!(
            yolo_label_path(Path::new("/d/images/images.png")),
            PathBuf::from("/d/labels/images.txt")
        );
    }

    #[test]
    fn yaml_names_forms() {
        let names = |text: &str| -> Vec<(i64, String)> {
            names_from_yaml(text).unwrap().into_iter().collect()
        };
        let pv = vec![(0, "person".to_owned()), (1, "vessel".to_owned())];
        assert_eq!(names("names: [person, 'vessel']  # two\n"), pv);
        assert_eq!(names("names: {0: person, 1: \"vessel\"}\n"), pv);
        assert_eq!(
            names("names:\n  0: person\n  1: 'vessel' # boats\ntrain: a\n"),
            pv
        );
        assert_eq!(names("names:\n- person\n- vessel\nval: b\n"), pv);
        assert_eq!(names("names: [person,\n  vessel]\n"), pv);
        assert_eq!(
            names("names: {0: a, 2: c}\n"),
            vec![(0, "a".to_owned()), (2, "c".to_owned())],
            "map gaps are kept as ids"
        );
        assert_eq!(names("names: ['it''s']\n"), vec![(0, "it's".to_owned())]);
        assert_eq!(names_from_yaml("nc: 2\n"), None);
        assert_eq!(names_from_yaml("names:\nval: x\n"), None);
        assert_eq!(
            yaml_entries("val: [a, b]\n", "val"),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(yaml_entries("validation: a\nval:\n", "val"), None);
        assert_eq!(
            yaml_scalar("path: '../d' # root\n", "path"),
            Some("../d".into())
        );
    }

    // --- VisDrone ---------------------------------------------------------

    #[test]
    fn visdrone_golden() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_image(&root.join("images/0000001_a.jpg"), 100, 80);
        write_image(&root.join("images/0000002_b.jpg"), 64, 48);
        write(
            &root.join("annotations/0000001_a.txt"),
            "60,40,30,30,0,0,0,0\n\
             65,45,10,10,1,1,0,0\n\
             10,10,20,10,1,4,0,0,\n\
             30,20,8,6,0,2,0,1\n\
             5,50,12,12,1,11,0,0\n\
             50,35,20,20,1,5,0,0\n\
             49,40,20,20,1,6,1,2\n",
        );
        // 0000002_b has no annotation file; 0000003_c has no image.
        write(&root.join("annotations/0000003_c.txt"), "1,1,5,5,1,1,0,0\n");

        let ds = load_visdrone(root).unwrap();
        let region = [60.0, 40.0, 30.0, 30.0];
        let mut annotations: Vec<Annotation> =
            (1..=10).map(|c| ann(c, 1, c, region, true)).collect();
        annotations.extend([
            ann(11, 1, 4, [10.0, 10.0, 20.0, 10.0], false),
            ann(12, 1, 2, [30.0, 20.0, 8.0, 6.0], true),
            // 11 x 16 of its 20 x 20 pixels are in the region: 44% < 50%, kept.
            ann(13, 1, 5, [50.0, 35.0, 20.0, 20.0], false),
        ]);
        let expected = Dataset {
            images: vec![img(1, "0000001_a.jpg", 100, 80), img(2, "0000002_b.jpg", 64, 48)],
            categories: cats(&[
                (1, "pedestrian"),
                (2, "people"),
                (3, "bicycle"),
                (4, "car"),
                (5, "van"),
                (6, "truck"),
                (7, "tricycle"),
                (8, "awning-tricycle"),
                (9, "bus"),
                (10, "motor"),
            ]),
            annotations,
            image_root: Some(root.join("images")),
            notes: vec![
                "VisDrone-DET mapped as its official toolkit evaluates it: categories 1-10 kept; \
                 ignored regions (0) and score-0 boxes became COCO crowd regions, others (11) dropped"
                    .into(),
                "turned 1 ignored region (category 0) into crowd regions in each of the 10 \
                 categories, so detections inside them are neither true nor false positives"
                    .into(),
                "dropped 2 boxes lying at least half inside ignored regions, as the VisDrone DET \
                 toolkit does"
                    .into(),
                "turned 1 box with score 0 (\"ignore\" in VisDrone ground truth) into crowd regions \
                 of the same category"
                    .into(),
                "dropped 1 \"others\" box (category 11): the VisDrone DET toolkit evaluates only \
                 categories 1-10, so detections on them are false positives"
                    .into(),
                "1 image had no annotation file; treated as having no objects".into(),
                "skipped 1 annotation file that had no image".into(),
            ],
        };
        assert_eq!(ds, expected);
        assert_eq!(load(root, None).unwrap(), expected);
        assert_eq!(load(root, Some("visdrone")).unwrap(), expected);
    }

    #[test]
    fn visdrone_mask_matches_toolkit_arithmetic() {
        // Region (1-based) rows 40..=70, cols 60..=90 on a 100 x 80 image.
        let mask = IgnoreMask::new(&[[60.0, 40.0, 30.0, 30.0]], 100, 80);
        assert_eq!(mask.at(80, 100), 31.0 * 31.0);
        // Box pixels are rows (y, y+h], cols (x, x+w].
        assert!(mask.covers_half([65.0, 45.0, 10.0, 10.0]));
        assert!(!mask.covers_half([50.0, 35.0, 20.0, 20.0])); // 176/400
        assert!(!mask.covers_half([50.0, 35.0, 21.0, 21.0])); // 12 * 17 = 204 of 441
                                                              // Exactly half (10 x 20 of 20 x 20) is dropped; just under is kept.
        assert!(mask.covers_half([49.0, 40.0, 20.0, 20.0]));
        assert!(!mask.covers_half([48.0, 40.0, 20.0, 20.0]));
        // Clipped at the image edge, as the toolkit clips.
        let edge = IgnoreMask::new(&[[90.0, 70.0, 50.0, 50.0]], 100, 80);
        assert_eq!(edge.at(80, 100), 11.0 * 11.0);
    }

    #[test]
    fn visdrone_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_image(&root.join("images/a.jpg"), 20, 20);
        let file = root.join("annotations/a.txt");
        for (text, want) in [
            ("1,1,5,5,1\n", "line 1: expected 8 comma-separated fields (bbox_left,bbox_top,bbox_width,bbox_height,score,object_category,truncation,occlusion), found 5"),
            ("1,1,5,5,1,1,0,0\n1,1,-5,5,1,1,0,0\n", "line 2: negative box width or height (-5, 5)"),
            ("1,1,5,5,0.87,1,-1,-1\n", "line 1: score must be 0 (ignore) or 1 in ground truth, found 0.87; is this a detection file?"),
            ("1,1,5,5,1,12,0,0\n", "line 1: object_category must be a whole number 0-11, found 12"),
            ("1,1,five,5,1,1,0,0\n", "line 1: `five` is not a finite number"),
        ] {
            write(&file, text);
            let (path, message) = format_message(load_visdrone(root));
            assert_eq!(path, file);
            assert_eq!(message, want);
        }
    }

    // --- Dispatch ---------------------------------------------------------

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
