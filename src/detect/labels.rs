//! Class names: read from a model's metadata or from a labels file, and
//! YOLO `data.yaml` dataset descriptions.
//!
//! Ultralytics exports store `names` as a Python dict literal,
//! `{0: 'person', 1: 'bicycle'}`; other exporters write JSON objects or lists.
//! A labels file is either one name per line or a YOLO `data.yaml` with a
//! `names:` list or map. [`DataYaml`] is the one reader of `data.yaml` in
//! lookout: `--labels` uses its names, and `lookout eval` its splits too.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

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

/// Reads a labels file: one name per line, or a YOLO `data.yaml` (by its
/// `.yaml`/`.yml` extension) whose `names` number the classes 0..n.
pub fn read_labels_file(path: &Path) -> Result<Vec<String>, DetectError> {
    let err = |message: String| DetectError::Labels {
        path: path.to_owned(),
        message,
    };
    let is_yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let names = if is_yaml {
        DataYaml::read(path)
            .and_then(|yaml| yaml.dense_names())
            .map_err(|e| match e {
                DataYamlError::Read { source, .. } => err(source.to_string()),
                DataYamlError::Invalid { problem, .. } => err(problem.to_string()),
            })?
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
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

/// A YOLO dataset description (`data.yaml`), as Ultralytics and Roboflow
/// write it. Keys lookout does not use (`download:`, `roboflow:`, …) are
/// ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct DataYaml {
    /// The file this was read from, which errors name; empty when parsed
    /// from text.
    #[serde(skip)]
    pub file: PathBuf,
    /// `path:`, the dataset root as written: relative to the file's folder
    /// unless absolute. `None` when absent, null or empty.
    #[serde(deserialize_with = "non_empty_path")]
    pub path: Option<String>,
    /// `train:` split entries: folders, `.txt` image lists, or a list of them.
    #[serde(deserialize_with = "split_entries")]
    pub train: Vec<String>,
    /// `val:` split entries.
    #[serde(deserialize_with = "split_entries")]
    pub val: Vec<String>,
    /// `test:` split entries.
    #[serde(deserialize_with = "split_entries")]
    pub test: Vec<String>,
    /// `names:` class index to name. A list numbers its items from 0; a map
    /// (`{0: a, 1: b}` or a block of `0: a` lines) keeps its keys, gaps too.
    /// `None` when absent; [`DataYaml::names`] makes that an error.
    #[serde(deserialize_with = "class_names")]
    pub names: Option<BTreeMap<usize, String>>,
    /// `nc:`, the class count, when given. Not checked against `names`.
    pub nc: Option<u64>,
}

/// Why a `data.yaml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DataYamlError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {problem}", path.display())]
    Invalid {
        path: PathBuf,
        problem: DataYamlProblem,
    },
}

/// What is wrong inside a `data.yaml`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataYamlProblem {
    /// Not YAML, or a key holds the wrong kind of value; the text says
    /// where (line and column).
    #[error("not a valid data.yaml: {0}")]
    Syntax(String),
    #[error("no `names:` list or map found")]
    NoNames,
    #[error("`names` must number the classes 0..{count} without gaps; found ids {ids}")]
    Gaps { count: usize, ids: String },
}

impl DataYaml {
    /// Parses the text of a `data.yaml`; [`DataYaml::file`] is left empty.
    pub fn parse(text: &str) -> Result<DataYaml, DataYamlProblem> {
        serde_saphyr::from_str::<DataYaml>(text)
            .map_err(|e| DataYamlProblem::Syntax(e.without_snippet().to_string()))
    }

    /// Reads and parses `file`.
    pub fn read(file: &Path) -> Result<DataYaml, DataYamlError> {
        let text = std::fs::read_to_string(file).map_err(|source| DataYamlError::Read {
            path: file.to_owned(),
            source,
        })?;
        let mut yaml = DataYaml::parse(&text).map_err(|problem| DataYamlError::Invalid {
            path: file.to_owned(),
            problem,
        })?;
        yaml.file = file.to_owned();
        Ok(yaml)
    }

    /// The split an evaluation reads: the first of `val`, `test` and
    /// `train` that has entries, with its key.
    pub fn eval_split(&self) -> Option<(&'static str, &[String])> {
        [
            ("val", &self.val),
            ("test", &self.test),
            ("train", &self.train),
        ]
        .into_iter()
        .find(|(_, entries)| !entries.is_empty())
        .map(|(key, entries)| (key, entries.as_slice()))
    }

    /// `names`, or an error naming the file when it has none.
    pub fn names(&self) -> Result<&BTreeMap<usize, String>, DataYamlError> {
        self.names
            .as_ref()
            .filter(|names| !names.is_empty())
            .ok_or_else(|| self.invalid(DataYamlProblem::NoNames))
    }

    /// `names` as a list, requiring the ids to be exactly 0..n, as a
    /// detector's class ids are.
    pub fn dense_names(&self) -> Result<Vec<String>, DataYamlError> {
        let names = self.names()?;
        match dense(names.clone()) {
            Some(list) => Ok(list),
            None => {
                let ids: Vec<String> = names.keys().map(usize::to_string).collect();
                Err(self.invalid(DataYamlProblem::Gaps {
                    count: names.len(),
                    ids: ids.join(", "),
                }))
            }
        }
    }

    fn invalid(&self, problem: DataYamlProblem) -> DataYamlError {
        DataYamlError::Invalid {
            path: self.file.clone(),
            problem,
        }
    }
}

/// Any YAML scalar as its text: `1`, `yes` and `1.0` stay as written where
/// the deserializer offers the text, and become their printed value where
/// it offers only the parsed one.
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_string(TextVisitor)
    }
}

struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a name or path")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
        Ok(Text(v.to_owned()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
}

fn non_empty_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let path = Option::<Text>::deserialize(d)?;
    Ok(path.map(|t| t.0).filter(|p| !p.is_empty()))
}

/// A split: one entry, a list of entries, or null; empty strings dropped.
fn split_entries<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a path or a list of paths")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_owned()])
        }

        fn visit_unit<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }

        fn visit_none<E: de::Error>(self) -> Result<Vec<String>, E> {
            Ok(Vec::new())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(Text(entry)) = seq.next_element()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    let entries = d.deserialize_any(Entries)?;
    Ok(entries.into_iter().filter(|e| !e.is_empty()).collect())
}

/// `names`: a list, or a map from whole non-negative ids; null is absent.
fn class_names<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<usize, String>>, D::Error> {
    struct Names;
    impl<'de> Visitor<'de> for Names {
        type Value = Option<BTreeMap<usize, String>>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of class names or a map from class id to name")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(Text(name)) = seq.next_element()? {
                out.insert(out.len(), name);
            }
            Ok(Some(out))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((Text(key), Text(name))) = map.next_entry()? {
                let id = key.trim().parse::<usize>().map_err(|_| {
                    de::Error::custom(format!(
                        "class id `{key}` in `names` is not a whole non-negative number"
                    ))
                })?;
                out.insert(id, name);
            }
            Ok(Some(out))
        }
    }
    d.deserialize_any(Names)
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

    fn parse_data_yaml_names(text: &str) -> Option<Vec<String>> {
        DataYaml::parse(text).ok()?.dense_names().ok()
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

    fn names(text: &str) -> Vec<(usize, String)> {
        DataYaml::parse(text)
            .unwrap()
            .names()
            .unwrap()
            .iter()
            .map(|(id, name)| (*id, name.clone()))
            .collect()
    }

    fn pv() -> Vec<(usize, String)> {
        vec![(0, "person".into()), (1, "vessel".into())]
    }

    #[test]
    fn data_yaml_names_in_the_forms_found_in_the_wild() {
        // Flow list, block list (indented or not), flow map, block map.
        assert_eq!(names("names: [person, 'vessel']  # two\n"), pv());
        assert_eq!(names("names:\n  - person\n  - \"vessel\"\n"), pv());
        assert_eq!(names("names:\n- person\n- vessel\nval: b\n"), pv());
        assert_eq!(names("names: {0: person, 1: \"vessel\"}\n"), pv());
        assert_eq!(
            names("names:\n  0: person\n  1: 'vessel' # boats\ntrain: a\n"),
            pv()
        );
        // A flow list over several lines, quoted keys, a map with gaps.
        assert_eq!(names("names: [person,\n  vessel]\n"), pv());
        assert_eq!(names("names: {'0': person, \"1\": vessel}\n"), pv());
        assert_eq!(
            names("names: {0: a, 2: c}\n"),
            vec![(0, "a".into()), (2, "c".into())],
            "map gaps are kept as ids"
        );
        // Quoted names with colons, commas, `#` and escaped quotes.
        assert_eq!(
            names("names:\n  0: \"traffic: light\"\n  1: 'a, b # c'\n  2: 'it''s'\n"),
            vec![
                (0, "traffic: light".into()),
                (1, "a, b # c".into()),
                (2, "it's".into())
            ]
        );
        // Numbers and YAML 1.1 booleans as names stay as written.
        assert_eq!(
            names("names: [1, 2.50, yes]\n"),
            vec![(0, "1".into()), (1, "2.50".into()), (2, "yes".into())]
        );
    }

    #[test]
    fn data_yaml_fields_as_ultralytics_and_roboflow_write_them() {
        let text = "# COCO8\n\
                    path: ../datasets/coco8  # dataset root\n\
                    train: images/train\n\
                    val: [images/val, extra.txt]\n\
                    test:  # none\n\
                    nc: 2\n\
                    names:\n  0: person\n  1: vessel\n\
                    download: |\n  from pathlib import Path\n  print('a: b')\n\
                    roboflow:\n  workspace: w\n  version: 3\n";
        let yaml = DataYaml::parse(text).unwrap();
        assert_eq!(yaml.path.as_deref(), Some("../datasets/coco8"));
        assert_eq!(yaml.train, vec!["images/train"]);
        assert_eq!(yaml.val, vec!["images/val", "extra.txt"]);
        assert!(yaml.test.is_empty());
        assert_eq!(yaml.nc, Some(2));
        assert_eq!(
            yaml.eval_split(),
            Some((
                "val",
                &["images/val".to_owned(), "extra.txt".to_owned()][..]
            ))
        );
        assert_eq!(yaml.dense_names().unwrap(), vec!["person", "vessel"]);

        // `path: .`, an empty `path:` and a missing one are all kept as given
        // or absent; the first split with entries is the one evaluated.
        let yaml = DataYaml::parse("path: .\ntrain: t\nnames: [a]\n").unwrap();
        assert_eq!(yaml.path.as_deref(), Some("."));
        assert_eq!(yaml.eval_split(), Some(("train", &["t".to_owned()][..])));
        for text in [
            "path:\nnames: [a]\n",
            "path: ''\nnames: [a]\n",
            "names: [a]\n",
        ] {
            let yaml = DataYaml::parse(text).unwrap();
            assert_eq!(yaml.path, None, "{text}");
            assert_eq!(yaml.eval_split(), None, "{text}");
        }
        let yaml = DataYaml::parse("val: ''\ntest: [a, b]\nnames: [a]\n").unwrap();
        assert_eq!(yaml.eval_split().map(|s| s.0), Some("test"));
    }

    #[test]
    fn data_yaml_errors_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data.yaml");
        let problem = |text: &str| -> (String, DataYamlProblem) {
            std::fs::write(&file, text).unwrap();
            let err = DataYaml::read(&file)
                .and_then(|y| y.dense_names())
                .unwrap_err();
            let message = err.to_string();
            match err {
                DataYamlError::Invalid { path, problem } => {
                    assert_eq!(path, file);
                    (message, problem)
                }
                other => panic!("{other:?}"),
            }
        };

        let (message, p) = problem("names: [a, b\n");
        assert_eq!(
            message,
            format!(
                "{}: not a valid data.yaml: unclosed bracket '[' at line 1, column 8",
                file.display()
            )
        );
        assert!(matches!(p, DataYamlProblem::Syntax(_)));

        let (message, p) = problem("nc: 2\nval: images\n");
        assert_eq!(p, DataYamlProblem::NoNames);
        assert_eq!(
            message,
            format!("{}: no `names:` list or map found", file.display())
        );
        assert_eq!(problem("names:\nval: x\n").1, DataYamlProblem::NoNames);
        assert_eq!(problem("names: []\n").1, DataYamlProblem::NoNames);

        let (message, _) = problem("names: {0: a, 2: c}\n");
        assert!(
            message.ends_with("`names` must number the classes 0..2 without gaps; found ids 0, 2"),
            "{message}"
        );
        for (text, want) in [
            (
                "names: {-1: a}\n",
                "class id `-1` in `names` is not a whole non-negative number",
            ),
            (
                "names: a\n",
                "expected a list of class names or a map from class id to name",
            ),
            ("names: [a]\nnames: [b]\n", "duplicate mapping key: names"),
            ("names: {0: a, 0: b}\n", "duplicate mapping key: 0"),
            ("nc: two\nnames: [a]\n", "invalid u64"),
        ] {
            let (message, p) = problem(text);
            assert!(matches!(p, DataYamlProblem::Syntax(_)), "{text}");
            assert!(message.contains(want), "{text}: {message}");
            assert!(message.contains(" at line "), "{text}: {message}");
        }

        let missing = dir.path().join("nope.yaml");
        match DataYaml::read(&missing) {
            Err(e @ DataYamlError::Read { .. }) => {
                assert!(e
                    .to_string()
                    .starts_with(&format!("cannot read {}: ", missing.display())))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn labels_file_reads_data_yaml_and_keeps_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        let yaml = dir.path().join("data.yaml");
        std::fs::write(&yaml, "names:\n  - person\n  - \"traffic: light\"\n").unwrap();
        assert_eq!(
            read_labels_file(&yaml).unwrap(),
            vec!["person", "traffic: light"]
        );
        std::fs::write(&yaml, "nc: 1\n").unwrap();
        assert_eq!(
            read_labels_file(&yaml).unwrap_err().to_string(),
            format!(
                "cannot read labels {}: no `names:` list or map found",
                yaml.display()
            )
        );
        let txt = dir.path().join("labels.txt");
        std::fs::write(&txt, "person\n\n boat \n").unwrap();
        assert_eq!(read_labels_file(&txt).unwrap(), vec!["person", "boat"]);
        std::fs::write(&txt, "\n").unwrap();
        assert!(read_labels_file(&txt)
            .unwrap_err()
            .to_string()
            .ends_with("the file lists no class names"));
    }

    /// The old hand-written reader's cases, through [`DataYaml`].
    #[test]
    fn yaml_names_forms() {
        let names_from_yaml = |text: &str| -> Option<BTreeMap<i64, String>> {
            let yaml = DataYaml::parse(text).ok()?;
            let names = yaml.names().ok()?;
            Some(names.iter().map(|(k, v)| (*k as i64, v.clone())).collect())
        };
        let yaml_entries = |text: &str, key: &str| -> Option<Vec<String>> {
            let yaml = DataYaml::parse(text).ok()?;
            let entries = match key {
                "train" => yaml.train,
                "val" => yaml.val,
                "test" => yaml.test,
                _ => unreachable!(),
            };
            (!entries.is_empty()).then_some(entries)
        };
        let yaml_scalar = |text: &str, key: &str| -> Option<String> {
            assert_eq!(key, "path");
            DataYaml::parse(text).ok()?.path
        };
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

    mod props {
        use super::*;
        use crate::telemetry::fuzz;
        use proptest::prelude::*;

        const NAMES_PIECES: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            ":",
            ",",
            " ",
            "'",
            "\"",
            "0",
            "1",
            "2",
            "10",
            "-1",
            "person",
            "traffic light",
            "é",
            "\\",
            "null",
            "true",
        ];

        const YAML: &str =
            "path: ../datasets/coco8\ntrain: images/train\nval: [images/val, more/val]\n\
            test:\nnc: 3\nnames:\n  0: person\n  1: 'traffic light'\n  2: \"boat\"\n\
            roboflow:\n  workspace: x\n";

        const YAML_PIECES: &[&str] = &[
            "\n",
            "  ",
            "- ",
            ": ",
            "names",
            "nc",
            "path",
            "train",
            "val",
            "test",
            "[",
            "]",
            "{",
            "}",
            ",",
            "'",
            "\"",
            "#",
            "&a",
            "*a",
            "!!str",
            "|",
            ">",
            "~",
            "null",
            "0",
            "1",
            "2",
            "person",
            "images/val",
        ];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// A `names` value of any shape: names, or `None`, never a panic.
            #[test]
            fn any_names_metadata_parses_or_not(text in fuzz::text_of(NAMES_PIECES)) {
                let _ = parse_names_metadata(&text);
            }

            /// Ultralytics' dict in any key order gives the names by id.
            #[test]
            fn an_ultralytics_dict_in_any_order_gives_names_by_id(
                names in prop::collection::vec("[a-z][a-z ]{0,8}", 1..12),
                order in any::<u64>(),
                double in any::<bool>(),
            ) {
                let mut ids: Vec<usize> = (0..names.len()).collect();
                // A fixed shuffle from the drawn seed.
                let mut x = order | 1;
                for i in (1..ids.len()).rev() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    ids.swap(i, (x % (i as u64 + 1)) as usize);
                }
                let q = if double { '"' } else { '\'' };
                let body: Vec<String> = ids.iter().map(|&i| format!("{i}: {q}{}{q}", names[i])).collect();
                let text = format!("{{{}}}", body.join(", "));
                prop_assert_eq!(parse_names_metadata(&text), Some(names), "{}", text);
            }

            #[test]
            fn any_data_yaml_parses_or_names_its_problem(text in fuzz::text_of(YAML_PIECES)) {
                if let Ok(yaml) = DataYaml::parse(&text) {
                    if let Ok(list) = yaml.dense_names() {
                        prop_assert_eq!(list.len(), yaml.names.as_ref().map_or(0, BTreeMap::len));
                    }
                    let _ = yaml.eval_split();
                }
            }

            #[test]
            fn a_damaged_data_yaml_parses_or_names_its_problem(text in fuzz::mutated_text(YAML)) {
                if let Ok(yaml) = DataYaml::parse(&text) {
                    let _ = yaml.dense_names();
                    let _ = yaml.eval_split();
                }
            }
        }
    }
}
