//! Helpers for the loaders' golden tests: tiny datasets written into
//! temporary folders, and short constructors for the expected values.

use std::path::{Path, PathBuf};

use crate::eval::{Annotation, Category, Dataset, EvalError, Image};

pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Writes a black image; the format follows the extension.
pub fn write_image(path: &Path, width: u32, height: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::new(width, height).save(path).unwrap();
}

pub fn ann(id: i64, image_id: i64, category_id: i64, bbox: [f64; 4], iscrowd: bool) -> Annotation {
    Annotation {
        id,
        image_id,
        category_id,
        bbox,
        area: bbox[2] * bbox[3],
        iscrowd,
    }
}

pub fn img(id: i64, file_name: &str, width: u32, height: u32) -> Image {
    Image {
        id,
        file_name: file_name.to_owned(),
        width,
        height,
    }
}

pub fn cats(names: &[(i64, &str)]) -> Vec<Category> {
    names
        .iter()
        .map(|(id, name)| Category {
            id: *id,
            name: (*name).to_owned(),
        })
        .collect()
}

pub fn format_message(result: Result<Dataset, EvalError>) -> (PathBuf, String) {
    match result {
        Err(EvalError::Format { path, message }) => (path, message),
        other => panic!("expected a format error, got {other:?}"),
    }
}

pub fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/eval")
        .join(name)
}
