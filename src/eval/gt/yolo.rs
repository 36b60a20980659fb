//! YOLO ground truth: Ultralytics `data.yaml` files and `images/` +
//! `labels/` folders ([`load_yolo`]).
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
//! The YAML is read by [`DataYaml`]. `names:` in it may be a list (`[a, b]`
//! or `- a` lines) or a map (`{0: a, 1: b}` or `0: a` lines, quoted or not).
//! A `data.yaml` in a folder that is not valid YAML, or has no `names`, is
//! an error naming it. Category ids are the
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

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::{
    count, format_err, image_size, io_err, join_clean, lower_extension, parent_dir, read_optional,
    read_text, relative_name, walk_images,
};
use crate::detect::labels::DataYaml;
use crate::eval::{Annotation, Category, Dataset, EvalError, Image};

/// Slack on the 0–1 range of YOLO coordinates, for rounding in exporters.
const YOLO_RANGE_TOLERANCE: f64 = 1e-6;

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

/// The `data.yaml`/`data.yml` in `dir` that describes the dataset: one
/// that names a split, or one that cannot be read as a `data.yaml` at all,
/// so that its error is the one reported.
pub(super) fn yolo_yaml_in(dir: &Path) -> Option<PathBuf> {
    ["data.yaml", "data.yml"]
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .find(|p| DataYaml::read(p).map_or(true, |yaml| yaml.eval_split().is_some()))
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
                class_ids(DataYaml::read(&file)?.names()?)
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
    let data = DataYaml::read(yaml)?;
    let names = class_ids(data.names()?);
    let yaml_dir = parent_dir(yaml);
    let root = match &data.path {
        Some(p) => join_clean(&yaml_dir, p),
        None => yaml_dir.clone(),
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
    let (split, entries) = data
        .eval_split()
        .ok_or_else(|| format_err(yaml, "no `val:`, `test:` or `train:` entry"))?;

    let mut images = Vec::new();
    let mut folders = Vec::new();
    for entry in entries {
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

/// `names` with the YOLO class indices as category ids.
fn class_ids(names: &BTreeMap<usize, String>) -> BTreeMap<i64, String> {
    names
        .iter()
        .map(|(id, name)| (*id as i64, name.clone()))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::super::load;
    use super::super::testing::*;
    use super::*;

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
    fn yolo_bad_data_yaml_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let yaml = root.join("data.yaml");
        write_image(&root.join("images/val/a.png"), 10, 10);

        // Malformed YAML in a folder: its error, not "not a YOLO dataset".
        write(&yaml, "val: images/val\nnames: [a, b\n");
        for result in [load_yolo(root), load(root, None), load_yolo(&yaml)] {
            let (path, message) = format_message(result);
            assert_eq!(path, yaml);
            assert_eq!(
                message,
                "not a valid data.yaml: unclosed bracket '[' at line 2, column 8"
            );
        }

        // A split but no names.
        write(&yaml, "path: .\nval: images/val\nnc: 2\n");
        let (path, message) = format_message(load_yolo(root));
        assert_eq!(path, yaml);
        assert_eq!(message, "no `names:` list or map found");
        let err = load(&yaml, None).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{}: no `names:` list or map found", yaml.display())
        );

        // `path:` naming a folder that is not there.
        write(&yaml, "path: ../elsewhere\nval: images/val\nnames: [a]\n");
        let (_, message) = format_message(load_yolo(&yaml));
        assert!(message.starts_with("dataset root "), "{message}");
        assert!(message.contains("elsewhere"), "{message}");
    }

    mod props {
        use super::*;
        use crate::telemetry::fuzz;
        use proptest::prelude::*;

        const PIECES: &[&str] = &[
            " ", "  ", "\t", "\n", "\r\n", "0", "1", "2", "0.5", "0.25", "1.0", "1.000001", "-0.1",
            "1e-7", "person", "#",
        ];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any label text: boxes of known classes inside the image (within
            /// the tolerance), or an error naming the file and a line.
            #[test]
            fn label_files_give_known_classes_in_range_or_name_the_line(text in fuzz::text_of(PIECES)) {
                let names: BTreeMap<i64, String> = [(0, "a".to_owned()), (1, "b".to_owned())].into();
                let mut stats = YoloStats::default();
                let path = Path::new("labels/x.txt");
                match parse_yolo_labels(path, &text, &names, &mut stats) {
                    Ok(boxes) => {
                        for (class, b) in boxes {
                            prop_assert!(names.contains_key(&class));
                            let t = YOLO_RANGE_TOLERANCE * 2.0;
                            prop_assert!(b.iter().all(|v| v.is_finite()));
                            prop_assert!(b[0] <= b[2] + t && b[1] <= b[3] + t, "{:?}", b);
                            prop_assert!(b.iter().all(|v| (-0.5 - t..=1.5 + t).contains(v)), "{:?}", b);
                        }
                    }
                    Err(EvalError::Format { path: p, message }) => {
                        prop_assert_eq!(p, path);
                        prop_assert!(message.starts_with("line "), "{}", message);
                    }
                    Err(e) => prop_assert!(false, "{e}"),
                }
            }

            #[test]
            fn damaged_label_files_never_panic(
                text in fuzz::mutated_text("0 0.5 0.5 0.2 0.2\n1 0.1 0.1 0.3 0.1 0.3 0.3\n0 0.9 0.9 0.1 0.1 0.8\n")
            ) {
                let names: BTreeMap<i64, String> = [(0, "a".to_owned()), (1, "b".to_owned())].into();
                let _ = parse_yolo_labels(Path::new("x.txt"), &text, &names, &mut YoloStats::default());
            }
        }
    }
}
