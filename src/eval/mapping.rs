//! Class mapping between a model's classes and a dataset's categories.
//!
//! `--map "person=pedestrian,person=people,vessel=boat"`: each pair is
//! `MODEL=DATASET`. Several dataset classes may map to one model class
//! (their objects are then one class), `NAME=` drops a model class (its
//! predictions are not scored) and `=NAME` a dataset class (its objects are
//! not scored). A model class without a pair maps to the dataset class of
//! the same name. Whatever is left unmapped on either side is reported with
//! its counts, never silently ignored. Scoring happens in the model's
//! classes.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{Category, Dataset, EvalError, Prediction};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassMap {
    pub pairs: Vec<(String, String)>,
    pub drop_model: Vec<String>,
    pub drop_dataset: Vec<String>,
}

impl ClassMap {
    pub fn parse(text: &str) -> Result<ClassMap, EvalError> {
        let mut map = ClassMap::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((model, dataset)) = item.split_once('=') else {
                return Err(EvalError::Invalid(format!(
                    "--map: {item:?} is not MODEL=DATASET (NAME= or =NAME drops a class)"
                )));
            };
            match (model.trim(), dataset.trim()) {
                ("", "") => {
                    return Err(EvalError::Invalid(format!(
                        "--map: {item:?} names no class"
                    )))
                }
                (m, "") => map.drop_model.push(m.to_owned()),
                ("", d) => map.drop_dataset.push(d.to_owned()),
                (m, d) => map.pairs.push((m.to_owned(), d.to_owned())),
            }
        }
        Ok(map)
    }

    /// Rewrites ground truth and predictions into the model's classes.
    /// `model` lists the prediction side's (id, name). Returns the new
    /// dataset and predictions, and a report of the mapping.
    pub fn apply(
        &self,
        gt: &Dataset,
        model: &[(i64, String)],
        preds: Vec<Prediction>,
    ) -> Result<(Dataset, Vec<Prediction>, Value), EvalError> {
        let model_names: Vec<&str> = model.iter().map(|(_, n)| n.as_str()).collect();
        let dataset_names: Vec<&str> = gt.categories.iter().map(|c| c.name.as_str()).collect();
        for name in self.pairs.iter().map(|p| &p.0).chain(&self.drop_model) {
            if !model_names.contains(&name.as_str()) {
                return Err(EvalError::Invalid(format!(
                    "--map: the model has no class {name:?}; its classes are: {}",
                    model_names.join(", ")
                )));
            }
        }
        for name in self.pairs.iter().map(|p| &p.1).chain(&self.drop_dataset) {
            if !dataset_names.contains(&name.as_str()) {
                return Err(EvalError::Invalid(format!(
                    "--map: the dataset has no class {name:?}; its classes are: {}",
                    dataset_names.join(", ")
                )));
            }
        }
        // Evaluation classes, in the model's order.
        let mut classes: Vec<(String, Vec<String>)> = Vec::new();
        let mut unmapped_model = Vec::new();
        for (_, name) in model {
            if self.drop_model.contains(name) {
                continue;
            }
            let mut targets: Vec<String> = self
                .pairs
                .iter()
                .filter(|p| &p.0 == name)
                .map(|p| p.1.clone())
                .collect();
            if targets.is_empty()
                && dataset_names.contains(&name.as_str())
                && !self.drop_dataset.contains(name)
                && !self.pairs.iter().any(|p| &p.1 == name)
            {
                targets.push(name.clone());
            }
            if targets.is_empty() {
                unmapped_model.push(name.clone());
            } else {
                classes.push((name.clone(), targets));
            }
        }
        if classes.is_empty() {
            return Err(EvalError::Invalid(format!(
                "no model class maps to a dataset class; the model's classes are: {}; the dataset's: {}. Use --map MODEL=DATASET,...",
                model_names.join(", "),
                dataset_names.join(", ")
            )));
        }
        let dataset_to_eval: BTreeMap<i64, i64> = gt
            .categories
            .iter()
            .filter_map(|c| {
                classes
                    .iter()
                    .position(|(_, t)| t.contains(&c.name))
                    .map(|k| (c.id, k as i64 + 1))
            })
            .collect();
        let model_to_eval: BTreeMap<i64, i64> = model
            .iter()
            .filter_map(|(id, n)| {
                classes
                    .iter()
                    .position(|(m, _)| m == n)
                    .map(|k| (*id, k as i64 + 1))
            })
            .collect();
        let mut out = gt.clone();
        out.categories = classes
            .iter()
            .enumerate()
            .map(|(k, (name, _))| Category {
                id: k as i64 + 1,
                name: name.clone(),
            })
            .collect();
        let mut unmapped_dataset: BTreeMap<String, usize> = BTreeMap::new();
        let mut dropped_dataset = 0usize;
        out.annotations = gt
            .annotations
            .iter()
            .filter_map(|a| match dataset_to_eval.get(&a.category_id) {
                Some(&id) => Some(super::Annotation {
                    category_id: id,
                    ..a.clone()
                }),
                None => {
                    let name = gt
                        .categories
                        .iter()
                        .find(|c| c.id == a.category_id)
                        .map_or_else(|| a.category_id.to_string(), |c| c.name.clone());
                    if self.drop_dataset.contains(&name) {
                        dropped_dataset += 1;
                    } else {
                        *unmapped_dataset.entry(name).or_default() += 1;
                    }
                    None
                }
            })
            .collect();
        let mut unmapped_preds: BTreeMap<String, usize> = BTreeMap::new();
        let mut dropped_preds = 0usize;
        let preds: Vec<Prediction> = preds
            .into_iter()
            .filter_map(|p| match model_to_eval.get(&p.category_id) {
                Some(&id) => Some(Prediction {
                    category_id: id,
                    ..p
                }),
                None => {
                    let name = model
                        .iter()
                        .find(|(id, _)| *id == p.category_id)
                        .map_or_else(|| p.category_id.to_string(), |(_, n)| n.clone());
                    if self.drop_model.contains(&name) {
                        dropped_preds += 1;
                    } else {
                        *unmapped_preds.entry(name).or_default() += 1;
                    }
                    None
                }
            })
            .collect();
        for (name, n) in &unmapped_dataset {
            tracing::warn!(
                "dataset class {name:?} ({n} objects) maps to no model class and is not scored"
            );
        }
        for (name, n) in &unmapped_preds {
            tracing::warn!(
                "model class {name:?} ({n} predictions) maps to no dataset class and is not scored"
            );
        }
        let report = json!({
            "classes": classes.iter().map(|(m, d)| json!({"name": m, "dataset": d})).collect::<Vec<_>>(),
            "unmapped_dataset_classes": unmapped_dataset,
            "unmapped_model_classes": unmapped_preds,
            "unmapped_model_classes_without_predictions": unmapped_model.iter().filter(|n| !unmapped_preds.contains_key(*n)).collect::<Vec<_>>(),
            "dropped": {"model": self.drop_model, "dataset": self.drop_dataset, "objects": dropped_dataset, "predictions": dropped_preds},
        });
        Ok((out, preds, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{Annotation, Image};

    #[test]
    fn many_to_one_drop_and_unmapped_are_reported() {
        let cat = |id, name: &str| Category {
            id,
            name: name.into(),
        };
        let ann = |id, category_id| Annotation {
            id,
            image_id: 1,
            category_id,
            bbox: [0.0, 0.0, 10.0, 10.0],
            area: 100.0,
            iscrowd: false,
        };
        let gt = Dataset {
            images: vec![Image {
                id: 1,
                file_name: "a.jpg".into(),
                width: 10,
                height: 10,
            }],
            categories: vec![
                cat(1, "pedestrian"),
                cat(2, "people"),
                cat(3, "boat"),
                cat(4, "tricycle"),
                cat(5, "bus"),
            ],
            annotations: vec![ann(1, 1), ann(2, 2), ann(3, 3), ann(4, 4), ann(5, 5)],
            ..Default::default()
        };
        let model: Vec<(i64, String)> = ["person", "vessel", "car"]
            .iter()
            .enumerate()
            .map(|(i, n)| (i as i64, n.to_string()))
            .collect();
        let pred = |c| Prediction {
            image_id: 1,
            category_id: c,
            bbox: [0.0, 0.0, 10.0, 10.0],
            score: 0.5,
        };
        let map =
            ClassMap::parse("person=pedestrian, person=people,vessel=boat,=tricycle").unwrap();
        let (g, p, report) = map
            .apply(&gt, &model, vec![pred(0), pred(1), pred(2)])
            .unwrap();
        let names: Vec<&str> = g.categories.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["person", "vessel"]);
        let ids: Vec<i64> = g.annotations.iter().map(|a| a.category_id).collect();
        assert_eq!(ids, vec![1, 1, 2], "pedestrian and people are one class");
        assert_eq!(p.len(), 2);
        assert_eq!(report["unmapped_dataset_classes"]["bus"], 1);
        assert_eq!(report["unmapped_model_classes"]["car"], 1);
        assert_eq!(report["dropped"]["objects"], 1);
        let err = ClassMap::parse("persn=people")
            .unwrap()
            .apply(&gt, &model, vec![])
            .unwrap_err();
        assert!(err.to_string().contains("persn"), "{err}");
        assert!(ClassMap::parse("person").is_err());
    }
}
