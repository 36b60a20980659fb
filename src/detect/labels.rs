//! Class names: read from a model's metadata or from a labels file.
//!
//! Ultralytics exports store `names` as a Python dict literal,
//! `{0: 'person', 1: 'bicycle'}`; other exporters write JSON objects or lists.
//! A labels file is either one name per line or a YOLO `data.yaml` with a
//! `names:` list or map.

use std::collections::BTreeMap;
use std::path::Path;

use super::DetectError;

/// Parses the `names` metadata value of a model. Returns `None` when the
/// text is in no form we know, so the caller can fall back and warn.
pub fn parse_names_metadata(text: &str) -> Option<Vec<String>> {
    let text = text.trim();
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        return from_json(&value);
    }
    parse_python_dict(text)
}

fn from_json(value: &serde_json::Value) -> Option<Vec<String>> {
    match value {
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect(),
        serde_json::Value::Object(map) => {
            let mut by_id = BTreeMap::new();
            for (k, v) in map {
                by_id.insert(k.trim().parse::<usize>().ok()?, v.as_str()?.to_owned());
            }
            dense(by_id)
        }
        _ => None,
    }
}

/// Parses `{0: 'person', 1: "traffic light"}`.
fn parse_python_dict(text: &str) -> Option<Vec<String>> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut by_id = BTreeMap::new();
    let mut rest = inner.trim_start();
    while !rest.is_empty() {
        let colon = rest.find(':')?;
        let id: usize = rest[..colon].trim().parse().ok()?;
        rest = rest[colon + 1..].trim_start();
        let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let end = rest[1..].find(quote)? + 1;
        by_id.insert(id, rest[1..end].to_owned());
        rest = rest[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    dense(by_id)
}

/// Turns an id→name map into a list, requiring ids 0..n with no gaps.
fn dense(by_id: BTreeMap<usize, String>) -> Option<Vec<String>> {
    let names: Vec<String> = by_id.values().cloned().collect();
    by_id
        .keys()
        .enumerate()
        .all(|(i, k)| i == *k)
        .then_some(names)
}

/// Reads a labels file: one name per line, or a YOLO `data.yaml`.
pub fn read_labels_file(path: &Path) -> Result<Vec<String>, DetectError> {
    let err = |message: String| DetectError::Labels {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let is_yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let names = if is_yaml {
        parse_data_yaml_names(&text).ok_or_else(|| err("no `names:` list or map found".into()))?
    } else {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if names.is_empty() {
        return Err(err("the file lists no class names".into()));
    }
    Ok(names)
}

/// Extracts `names` from a YOLO `data.yaml`: `names: [a, b]`, a block list
/// (`- a`) or a block map (`0: a`).
fn parse_data_yaml_names(text: &str) -> Option<Vec<String>> {
    let unquote = |s: &str| s.trim().trim_matches(|c| c == '\'' || c == '"').to_owned();
    let mut lines = text.lines().skip_while(|l| !l.starts_with("names:"));
    let first = lines.next()?["names:".len()..].trim();
    if let Some(inline) = first.strip_prefix('[') {
        let inline = inline.split('#').next()?.trim().strip_suffix(']')?;
        return Some(
            inline
                .split(',')
                .map(unquote)
                .filter(|s| !s.is_empty())
                .collect(),
        );
    }
    if first.starts_with('{') {
        return parse_python_dict(first);
    }
    let mut by_id = BTreeMap::new();
    let mut list = Vec::new();
    for line in
        lines.take_while(|l| l.starts_with(' ') || l.starts_with('\t') || l.trim().is_empty())
    {
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(item) = line.strip_prefix("- ") {
            list.push(unquote(item));
        } else if let Some((k, v)) = line.split_once(':') {
            by_id.insert(k.trim().parse::<usize>().ok()?, unquote(v));
        }
    }
    if !list.is_empty() {
        Some(list)
    } else {
        dense(by_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ultralytics_dict_and_json() {
        assert_eq!(
            parse_names_metadata("{0: 'person', 1: \"traffic light\"}").unwrap(),
            vec!["person", "traffic light"]
        );
        assert_eq!(
            parse_names_metadata(r#"{"0": "a", "1": "b"}"#).unwrap(),
            vec!["a", "b"]
        );
        assert_eq!(
            parse_names_metadata(r#"["a", "b"]"#).unwrap(),
            vec!["a", "b"]
        );
        assert_eq!(
            parse_names_metadata("{0: 'a', 2: 'c'}"),
            None,
            "gaps in ids are rejected"
        );
    }

    #[test]
    fn parses_data_yaml_forms() {
        let inline = "path: x\nnames: ['person', vessel]\n";
        assert_eq!(
            parse_data_yaml_names(inline).unwrap(),
            vec!["person", "vessel"]
        );
        let map = "nc: 2\nnames:\n  0: person\n  1: 'vessel'\ntrain: a\n";
        assert_eq!(
            parse_data_yaml_names(map).unwrap(),
            vec!["person", "vessel"]
        );
        let list = "names:\n  - person\n  - vessel\n";
        assert_eq!(
            parse_data_yaml_names(list).unwrap(),
            vec!["person", "vessel"]
        );
    }
}
