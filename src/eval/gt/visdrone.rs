//! VisDrone-DET ground truth ([`load_visdrone`]).
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

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

use super::{
    count, format_err, image_size, io_err, is_image, lower_extension, read_optional, relative_name,
};
use crate::eval::{Annotation, Category, Dataset, EvalError, Image};

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

#[cfg(test)]
mod tests {
    use super::super::load;
    use super::super::testing::*;
    use super::*;

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

    mod props {
        use super::*;
        use crate::telemetry::fuzz;
        use proptest::prelude::*;

        const PIECES: &[&str] = &[
            ",", ", ", "\n", "\r\n", "0", "1", "2", "11", "12", "684", "8", "-3", "0.5", "1e3", "x",
        ];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any annotation text: rows with sizes, scores and categories
            /// the toolkit knows, or an error naming the file and a line.
            #[test]
            fn annotation_files_give_valid_rows_or_name_the_line(text in fuzz::text_of(PIECES)) {
                let path = Path::new("annotations/x.txt");
                match parse_visdrone(path, &text) {
                    Ok(rows) => {
                        for r in rows {
                            prop_assert!(r.bbox.iter().all(|v| v.is_finite()));
                            prop_assert!(r.bbox[2] >= 0.0 && r.bbox[3] >= 0.0);
                            prop_assert!(r.category <= 11);
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
            fn damaged_annotation_files_never_panic(
                text in fuzz::mutated_text("684,8,273,116,0,0,0,0\n406,119,265,70,1,1,0,0\n")
            ) {
                let _ = parse_visdrone(Path::new("x.txt"), &text);
            }

            /// The ignored-region mask over any regions and image size.
            #[test]
            fn ignore_masks_take_any_regions(
                regions in prop::collection::vec(
                    prop::array::uniform4(prop_oneof![-50.0..200.0f64, Just(f64::MAX), Just(-0.0)]),
                    0..5,
                ),
                w in 1u32..120, h in 1u32..120,
                b in prop::array::uniform4(-50.0..200.0f64),
            ) {
                let mask = IgnoreMask::new(&regions, w, h);
                let _ = mask.covers_half([b[0], b[1], b[2].abs(), b[3].abs()]);
            }
        }
    }
}
