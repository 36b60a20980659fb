//! Class roles: what a model's classes mean to the signatures.
//!
//! Signatures name **roles**, not class names, so that one rule works with
//! any model: a COCO model calls a boat `boat`, xView `Maritime Vessel`,
//! DOTA `ship`, and all of them are the role `vessel`. A built-in table maps
//! the class names of the common datasets to roles ([`DATASETS`]); the
//! config's `[roles]` table adds or overrides mappings; anything else has
//! no role (a car is not where people are hidden, so it has none).
//!
//! Class names are matched after [`normalize`]: case, spaces, hyphens and
//! underscores are ignored, so `Large-Vehicle`, `large_vehicle` and
//! `large vehicle` are one name.
//!
//! A name in a signature's class list (`subjects`, `vessels`, ...) is a
//! role or one of the model's class names; [`ClassRoles::resolve`] turns it
//! into class ids.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// What a class is to the signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A person: pedestrian, swimmer, people in a group.
    Person,
    /// A boat or ship small enough that a head count means something.
    Vessel,
    /// A vehicle with an open bed or cargo deck people can ride in
    /// (pickup, truck, flatbed); not cars, buses or closed vans.
    Vehicle,
    /// A shipping or cargo container.
    Container,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Person, Role::Vessel, Role::Vehicle, Role::Container];

    /// The name configs and signatures use: `person`, `vessel`, ...
    pub fn name(self) -> &'static str {
        match self {
            Role::Person => "person",
            Role::Vessel => "vessel",
            Role::Vehicle => "vehicle",
            Role::Container => "container",
        }
    }

    /// The role a name stands for, matched as class names are (see
    /// [`normalize`]).
    pub fn parse(name: &str) -> Option<Role> {
        let n = normalize(name);
        Role::ALL.into_iter().find(|r| r.name() == n)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A class name as roles match it: lower case, without spaces, hyphens or
/// underscores (`Maritime Vessel` → `maritimevessel`).
pub fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// One dataset's class names that have a role. Classes not listed have
/// none.
pub struct Dataset {
    pub name: &'static str,
    pub classes: &'static [(&'static str, Role)],
}

use Role::{Container, Person, Vehicle, Vessel};

/// The built-in table, as the README documents it. A class name that
/// appears in several datasets has the same role in each (a unit test
/// holds the table to that).
pub const DATASETS: &[Dataset] = &[
    Dataset {
        name: "lookout demo model",
        classes: &[
            ("person", Person),
            ("vessel", Vessel),
            ("container", Container),
            ("vehicle", Vehicle),
        ],
    },
    Dataset {
        name: "COCO",
        classes: &[("person", Person), ("boat", Vessel), ("truck", Vehicle)],
    },
    Dataset {
        name: "VisDrone",
        classes: &[
            ("pedestrian", Person),
            ("people", Person),
            ("truck", Vehicle),
        ],
    },
    Dataset {
        name: "SeaDronesSee",
        classes: &[
            ("swimmer", Person),
            ("floater", Person),
            ("swimmer on boat", Person),
            ("floater on boat", Person),
            ("boat", Vessel),
            ("jetski", Vessel),
        ],
    },
    Dataset {
        name: "xView",
        classes: &[
            ("Maritime Vessel", Vessel),
            ("Motorboat", Vessel),
            ("Sailboat", Vessel),
            ("Fishing Vessel", Vessel),
            ("Yacht", Vessel),
            ("Tugboat", Vessel),
            ("Barge", Vessel),
            ("Pickup Truck", Vehicle),
            ("Truck", Vehicle),
            ("Cargo Truck", Vehicle),
            ("Utility Truck", Vehicle),
            ("Truck w/Flatbed", Vehicle),
            ("Dump Truck", Vehicle),
            ("Haul Truck", Vehicle),
            ("Shipping Container", Container),
        ],
    },
    Dataset {
        name: "DOTA",
        classes: &[("ship", Vessel), ("large-vehicle", Vehicle)],
    },
];

/// Where a class's role comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleSource {
    /// The config's `[roles]` table.
    Config,
    /// The built-in table, with the datasets that list the name.
    Builtin(Vec<&'static str>),
}

impl fmt::Display for RoleSource {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            RoleSource::Config => f.write_str("[roles] in the config"),
            RoleSource::Builtin(sets) => write!(f, "{}", sets.join(", ")),
        }
    }
}

/// A `[roles]` value that is no role.
#[derive(Debug, thiserror::Error)]
#[error("roles.{class:?} = {value:?} is not a role; use person, vessel, vehicle, container, or \"none\" to take a class's role away")]
pub struct RoleError {
    pub class: String,
    pub value: String,
}

/// The built-in table with the config's `[roles]` overrides on top.
#[derive(Debug, Clone, Default)]
pub struct RoleTable {
    /// Normalized class name → role (`None`: no role), from `[roles]`.
    overrides: BTreeMap<String, Option<Role>>,
}

impl RoleTable {
    /// The built-in table alone.
    pub fn builtin() -> RoleTable {
        RoleTable::default()
    }

    /// The built-in table with `[roles]` on top: class name → role name,
    /// or `"none"` for no role.
    pub fn with_overrides(config: &BTreeMap<String, String>) -> Result<RoleTable, RoleError> {
        let mut overrides = BTreeMap::new();
        for (class, value) in config {
            let role = if normalize(value) == "none" {
                None
            } else {
                Some(Role::parse(value).ok_or_else(|| RoleError {
                    class: class.clone(),
                    value: value.clone(),
                })?)
            };
            overrides.insert(normalize(class), role);
        }
        Ok(RoleTable { overrides })
    }

    /// The role of class `name` and where it comes from; `None` when it
    /// has none.
    pub fn role_of(&self, name: &str) -> Option<(Role, RoleSource)> {
        let n = normalize(name);
        if let Some(over) = self.overrides.get(&n) {
            return over.map(|r| (r, RoleSource::Config));
        }
        let mut role = None;
        let mut sets = Vec::new();
        for set in DATASETS {
            if let Some(&(_, r)) = set.classes.iter().find(|(c, _)| normalize(c) == n) {
                role = Some(r);
                sets.push(set.name);
            }
        }
        role.map(|r| (r, RoleSource::Builtin(sets)))
    }
}

/// A model's classes with their roles: what signature class lists are
/// resolved against.
#[derive(Debug, Clone)]
pub struct ClassRoles {
    labels: Vec<String>,
    roles: Vec<Option<(Role, RoleSource)>>,
}

impl ClassRoles {
    pub fn new(labels: &[String], table: &RoleTable) -> ClassRoles {
        ClassRoles {
            labels: labels.to_vec(),
            roles: labels.iter().map(|l| table.role_of(l)).collect(),
        }
    }

    /// The model's class names, by id.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The role of class `id`, with where it comes from.
    pub fn role(&self, id: usize) -> Option<&(Role, RoleSource)> {
        self.roles.get(id).and_then(Option::as_ref)
    }

    /// The classes that have `role`.
    pub fn with_role(&self, role: Role) -> Vec<usize> {
        (0..self.labels.len())
            .filter(|&i| self.role(i).map(|(r, _)| *r) == Some(role))
            .collect()
    }

    /// The class ids a name in a signature's list stands for: the class of
    /// that name (exactly, else after [`normalize`]) and, when the name is
    /// a role, every class with that role. Empty when it names nothing the
    /// model has.
    pub fn resolve(&self, name: &str) -> Vec<usize> {
        let mut ids: Vec<usize> = match self.labels.iter().position(|l| l == name) {
            Some(i) => vec![i],
            None => {
                let n = normalize(name);
                (0..self.labels.len())
                    .filter(|&i| normalize(&self.labels[i]) == n)
                    .collect()
            }
        };
        if let Some(role) = Role::parse(name) {
            ids.extend(self.with_role(role));
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Class name → role name, for the run record.
    pub fn record(&self) -> BTreeMap<String, String> {
        self.labels
            .iter()
            .zip(&self.roles)
            .filter_map(|(l, r)| r.as_ref().map(|(r, _)| (l.clone(), r.name().to_owned())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn normalizing_ignores_case_spaces_hyphens_and_underscores() {
        for n in [
            "Large-Vehicle",
            "large_vehicle",
            "large vehicle",
            "LARGEVEHICLE",
        ] {
            assert_eq!(normalize(n), "largevehicle");
        }
        assert_eq!(normalize("Truck w/Flatbed"), "truckw/flatbed");
        assert_eq!(Role::parse("Vessel"), Some(Role::Vessel));
        assert_eq!(Role::parse("boat"), None);
    }

    #[test]
    fn a_name_in_several_datasets_has_one_role() {
        let mut seen: BTreeMap<String, (Role, &str)> = BTreeMap::new();
        for set in DATASETS {
            for &(class, role) in set.classes {
                if let Some((other, from)) = seen.insert(normalize(class), (role, set.name)) {
                    assert_eq!(
                        other, role,
                        "{class} is {other} in {from}, {role} in {}",
                        set.name
                    );
                }
            }
        }
    }

    #[test]
    fn common_datasets_map_to_roles() {
        let t = RoleTable::builtin();
        let role = |n: &str| t.role_of(n).map(|(r, _)| r);
        assert_eq!(role("boat"), Some(Role::Vessel));
        assert_eq!(role("Maritime Vessel"), Some(Role::Vessel));
        assert_eq!(role("maritime_vessel"), Some(Role::Vessel));
        assert_eq!(role("ship"), Some(Role::Vessel));
        assert_eq!(role("truck"), Some(Role::Vehicle));
        assert_eq!(role("large-vehicle"), Some(Role::Vehicle));
        assert_eq!(role("pedestrian"), Some(Role::Person));
        assert_eq!(role("people"), Some(Role::Person));
        assert_eq!(role("swimmer"), Some(Role::Person));
        assert_eq!(role("Shipping container"), Some(Role::Container));
        assert_eq!(role("car"), None);
        assert_eq!(role("bus"), None);
        let (_, from) = t.role_of("truck").unwrap();
        assert_eq!(from, RoleSource::Builtin(vec!["COCO", "VisDrone", "xView"]));
    }

    #[test]
    fn the_config_adds_and_overrides_roles() {
        let config: BTreeMap<String, String> =
            [("Dinghy", "vessel"), ("truck", "none"), ("car", "Vehicle")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let t = RoleTable::with_overrides(&config).unwrap();
        assert_eq!(
            t.role_of("dinghy"),
            Some((Role::Vessel, RoleSource::Config))
        );
        assert_eq!(t.role_of("Truck"), None);
        assert_eq!(t.role_of("car"), Some((Role::Vehicle, RoleSource::Config)));
        assert_eq!(t.role_of("boat").map(|(r, _)| r), Some(Role::Vessel));
        let bad: BTreeMap<String, String> = [("raft".to_string(), "boat".to_string())].into();
        let err = RoleTable::with_overrides(&bad).unwrap_err().to_string();
        assert!(
            err.contains("\"raft\"") && err.contains("\"boat\" is not a role"),
            "{err}"
        );
    }

    #[test]
    fn a_name_resolves_to_its_class_and_to_the_classes_of_its_role() {
        let coco = ClassRoles::new(
            &names(&["person", "car", "boat", "truck", "Person"]),
            &RoleTable::builtin(),
        );
        assert_eq!(coco.resolve("vessel"), vec![2]);
        assert_eq!(coco.resolve("vehicle"), vec![3]);
        assert_eq!(coco.resolve("container"), Vec::<usize>::new());
        // The exact name first; a role adds the classes it maps.
        assert_eq!(coco.resolve("person"), vec![0, 4]);
        assert_eq!(coco.resolve("car"), vec![1]);
        assert_eq!(coco.resolve("CAR"), vec![1]);
        assert_eq!(coco.resolve("bicycle"), Vec::<usize>::new());
        let record = coco.record();
        assert_eq!(record.get("boat").map(String::as_str), Some("vessel"));
        assert!(!record.contains_key("car"));
    }
}
