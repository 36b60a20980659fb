//! COCO instances JSON ground truth ([`load_coco`]).
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

use std::fmt;
use std::path::Path;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use super::{count, format_err, image_size, io_err, parent_dir};
use crate::eval::{Annotation, Category, Dataset, EvalError, IdSet, Image};

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
    bbox: BoxField,
    area: Option<f64>,
    iscrowd: Option<CrowdFlag>,
}

/// A `bbox` as read: its first four numbers and how many it had, so that
/// the error can name the count, with no vector per annotation.
struct BoxField {
    values: [f64; 4],
    len: usize,
}

impl<'de> Deserialize<'de> for BoxField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Numbers;
        impl<'de> Visitor<'de> for Numbers {
            type Value = BoxField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of numbers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BoxField, A::Error> {
                let mut bbox = BoxField {
                    values: [0.0; 4],
                    len: 0,
                };
                while let Some(v) = seq.next_element::<f64>()? {
                    if let Some(slot) = bbox.values.get_mut(bbox.len) {
                        *slot = v;
                    }
                    bbox.len += 1;
                }
                Ok(bbox)
            }
        }
        deserializer.deserialize_seq(Numbers)
    }
}

/// `iscrowd` as written by different tools: `0`/`1` or `false`/`true`.
enum CrowdFlag {
    Bool(bool),
    Number(f64),
}

// By hand rather than `#[serde(untagged)]`, which buffers every value and
// builds an error for each variant that does not fit: a tenth of the time
// of loading a large file went there.
impl<'de> Deserialize<'de> for CrowdFlag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Flag;
        impl<'de> Visitor<'de> for Flag {
            type Value = CrowdFlag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("0, 1, false or true")
            }
            fn visit_bool<E>(self, v: bool) -> Result<CrowdFlag, E> {
                Ok(CrowdFlag::Bool(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<CrowdFlag, E> {
                Ok(CrowdFlag::Number(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<CrowdFlag, E> {
                Ok(CrowdFlag::Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<CrowdFlag, E> {
                Ok(CrowdFlag::Number(v))
            }
        }
        deserializer.deserialize_any(Flag)
    }
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
    let mut image_ids = IdSet::with_capacity_and_hasher(file.images.len(), Default::default());
    for im in file.images {
        if !image_ids.insert(im.id) {
            return Err(fail(format!("duplicate image id {}", im.id)));
        }
        let width = im
            .width
            .map(|v| pixel_count(path, v, im.id, "width"))
            .transpose()?;
        let height = im
            .height
            .map(|v| pixel_count(path, v, im.id, "height"))
            .transpose()?;
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
    let mut category_ids =
        IdSet::with_capacity_and_hasher(file.categories.len(), Default::default());
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
    let mut annotation_ids =
        IdSet::with_capacity_and_hasher(file.annotations.len(), Default::default());
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
        if a.bbox.len != 4 {
            return Err(fail(format!(
                "annotation {id}: bbox must be 4 numbers [x, y, width, height], found {}",
                a.bbox.len
            )));
        }
        let bbox = a.bbox.values;
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
/// Errors name the file `path`.
fn pixel_count(path: &Path, v: f64, image_id: i64, what: &str) -> Result<u32, EvalError> {
    if !v.is_finite() {
        Err(format_err(
            path,
            format!("image {image_id}: {what} is not finite"),
        ))
    } else if v < 0.0 {
        Err(format_err(
            path,
            format!("image {image_id} has a negative {what} ({v})"),
        ))
    } else if v.fract() != 0.0 || v > f64::from(u32::MAX) {
        Err(format_err(
            path,
            format!("image {image_id}: {what} {v} is not a whole number of pixels"),
        ))
    } else {
        Ok(v as u32)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::load;
    use super::super::testing::*;
    use super::*;

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

    mod props {
        use std::collections::HashSet;

        use super::*;
        use crate::telemetry::fuzz;
        use proptest::prelude::*;

        /// A COCO-shaped value with odd ids, sizes and boxes.
        fn coco_like() -> impl Strategy<Value = serde_json::Value> {
            let number = prop_oneof![
                Just(serde_json::json!(0)),
                Just(serde_json::json!(-1)),
                Just(serde_json::json!(1.5)),
                Just(serde_json::json!(1e300)),
                Just(serde_json::json!(4294967296u64)),
                (0..5i64).prop_map(|n| serde_json::json!(n)),
                (0.0..100.0f64).prop_map(|f| serde_json::json!(f)),
                Just(serde_json::json!("1")),
                Just(serde_json::Value::Null),
            ];
            let image = (0..4i64, number.clone(), number.clone()).prop_map(|(id, w, h)| {
                serde_json::json!({"id": id, "file_name": format!("{id}.png"), "width": w, "height": h})
            });
            let category =
                (0..4i64).prop_map(|id| serde_json::json!({"id": id, "name": format!("c{id}")}));
            let annotation = (
                0..6i64,
                0..5i64,
                0..5i64,
                prop::collection::vec(number.clone(), 0..6),
                proptest::option::of(number.clone()),
                proptest::option::of(number),
            )
                .prop_map(|(id, image_id, category_id, bbox, area, iscrowd)| {
                    let mut a = serde_json::json!({
                        "id": id, "image_id": image_id, "category_id": category_id, "bbox": bbox,
                    });
                    if let Some(v) = area {
                        a["area"] = v;
                    }
                    if let Some(v) = iscrowd {
                        a["iscrowd"] = v;
                    }
                    a
                });
            (
                prop::collection::vec(image, 0..4),
                prop::collection::vec(category, 0..4),
                prop::collection::vec(annotation, 0..6),
            )
                .prop_map(|(images, categories, annotations)| {
                    serde_json::json!({"images": images, "categories": categories, "annotations": annotations})
                })
        }

        /// What the module promises of a dataset it returns: every
        /// annotation points at a known image and category, every number is
        /// finite, no box or area is negative.
        fn consistent(path: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
            std::fs::write(path, bytes).unwrap();
            match load_coco(path) {
                Ok(d) => {
                    let images: HashSet<i64> = d.images.iter().map(|i| i.id).collect();
                    let cats: HashSet<i64> = d.categories.iter().map(|c| c.id).collect();
                    for a in &d.annotations {
                        prop_assert!(images.contains(&a.image_id) && cats.contains(&a.category_id));
                        prop_assert!(a.bbox.iter().all(|v| v.is_finite()));
                        prop_assert!(a.bbox[2] >= 0.0 && a.bbox[3] >= 0.0);
                        prop_assert!(a.area.is_finite() && a.area >= 0.0);
                    }
                }
                Err(EvalError::Format { path: p, .. } | EvalError::Io { path: p, .. }) => {
                    prop_assert_eq!(p, path);
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn coco_like_files_load_consistently_or_name_the_file(v in coco_like()) {
                let dir = tempfile::tempdir().unwrap();
                consistent(&dir.path().join("gt.json"), v.to_string().as_bytes())?;
            }

            #[test]
            fn damaged_coco_files_load_consistently_or_name_the_file(
                bytes in fuzz::mutated(std::fs::read(golden("coco-small.json")).unwrap())
            ) {
                let dir = tempfile::tempdir().unwrap();
                consistent(&dir.path().join("gt.json"), &bytes)?;
            }
        }
    }
}
