//! Behaviour tests as data: each `tests/behaviour/*.toml` describes a
//! synthetic stream of detections (objects moving between keyframes, hidden
//! for a while, flickering) and the exact event steps it must produce.
//! Detections go through the real tracker, signatures and event builder
//! ([`lookout::stream::Stream`]), configured with the same `[[signature]]`
//! and `[track]` tables as `lookout.toml`.
//!
//! File format:
//!
//! ```toml
//! description = "what the case shows"
//! labels = ["person", "vessel", "container", "vehicle"]
//! fps = 10.0
//! duration_s = 5.0
//! [track]                      # optional tracker overrides
//! [[signature]]                # as in lookout.toml
//! [[object]]
//! class = "person"
//! score = 0.9                  # default 0.9
//! keys = [[0.0, x1, y1, x2, y2], [5.0, x1, y1, x2, y2]]  # linear between keys
//! hidden = [[2.0, 2.5]]        # not detected for t in [a, b)
//! drop_every = 2               # also missed in every 2nd frame (flicker)
//! [[expect]]                   # every step, in order; nothing else may happen
//! step = "open"                # open, update or close
//! signature = "name"
//! at_s = 1.0                   # the frame that emitted the step
//! count = 3                    # optional checks: count, start_s, end_s,
//! close_reason = "..."         # close_reason, group
//! ```

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use lookout::detect::roles::{ClassRoles, RoleTable};
use lookout::detect::Detection;
use lookout::event::{EventUpdate, Step};
use lookout::frame::{Frame, FrameMeta};
use lookout::geom::BBox;
use lookout::signature::SignatureConfig;
use lookout::stream::Stream;
use lookout::track::TrackerConfig;

use crate::util::repo;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    labels: Vec<String>,
    fps: f64,
    duration_s: f64,
    #[serde(default)]
    track: TrackerConfig,
    signature: Vec<SignatureConfig>,
    object: Vec<Object>,
    #[serde(default)]
    expect: Vec<Expect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Object {
    class: String,
    #[serde(default = "default_score")]
    score: f32,
    keys: Vec<[f64; 5]>,
    #[serde(default)]
    hidden: Vec<[f64; 2]>,
    drop_every: Option<u64>,
}

fn default_score() -> f32 {
    0.9
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    step: String,
    signature: String,
    at_s: f64,
    count: Option<usize>,
    start_s: Option<f64>,
    end_s: Option<f64>,
    close_reason: Option<String>,
    group: Option<String>,
}

impl Object {
    /// The box at time `t`, if the object is detected in frame `k` at `t`.
    fn at(&self, k: u64, t: f64) -> Option<BBox> {
        let (first, last) = (self.keys.first()?, self.keys.last()?);
        if t < first[0] - 1e-9 || t > last[0] + 1e-9 {
            return None;
        }
        if self
            .hidden
            .iter()
            .any(|&[a, b]| t >= a - 1e-9 && t < b - 1e-9)
        {
            return None;
        }
        if self.drop_every.is_some_and(|n| k % n == n - 1) {
            return None;
        }
        let seg = self
            .keys
            .windows(2)
            .find(|w| t <= w[1][0] + 1e-9)
            .unwrap_or(&self.keys[self.keys.len() - 1..]);
        let (a, b) = (seg[0], seg[seg.len() - 1]);
        let f = if b[0] > a[0] {
            ((t - a[0]) / (b[0] - a[0])).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let lerp = |i: usize| (a[i] + (b[i] - a[i]) * f) as f32;
        Some(BBox::new(lerp(1), lerp(2), lerp(3), lerp(4)))
    }
}

fn describe(u: &EventUpdate) -> String {
    format!(
        "{:?} {} at {:.2} count {} start {:?} end {:?} group {} {:?}",
        u.step,
        u.event.signature,
        u.at.pts_s.unwrap_or(f64::NAN),
        u.event.count,
        u.event.start_s,
        u.event.last_s,
        u.event.group,
        u.event.close_reason
    )
}

fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Case = toml::from_str(&text).map_err(|e| format!("parse: {e}"))?;
    assert!(!case.description.is_empty());
    let roles = ClassRoles::new(&case.labels, &RoleTable::builtin());
    let signatures = case
        .signature
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.build(&format!("signature[{i}]"), &roles, 0.3)
                .map(|built| (built, s.timing()))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let class_ids: Vec<usize> = case
        .object
        .iter()
        .map(|o| {
            case.labels
                .iter()
                .position(|l| *l == o.class)
                .unwrap_or_else(|| panic!("unknown class {}", o.class))
        })
        .collect();
    let mut stream = Stream::new(0, &case.track, signatures);
    let image = Arc::new(image::RgbImage::new(1, 1));
    let mut updates = Vec::new();
    let frames = (case.duration_s * case.fps).round() as u64;
    for k in 0..frames {
        let t = k as f64 / case.fps;
        let detections: Vec<Detection> = case
            .object
            .iter()
            .zip(&class_ids)
            .filter_map(|(o, &class_id)| {
                o.at(k, t).map(|bbox| Detection {
                    class_id,
                    score: o.score,
                    bbox,
                })
            })
            .collect();
        let frame = Frame {
            meta: FrameMeta {
                source_id: 0,
                seq: k,
                frame_index: k,
                pts_s: Some(t),
                width: 1280,
                height: 720,
                gsd_m_per_px: None,
                ground: None,
                unplaced: None,
                probe: false,
            },
            image: image.clone(),
            scene: None,
            window: None,
        };
        updates.extend(stream.observe(&frame, &detections).updates);
    }
    updates.extend(stream.finish("end of input"));

    let got: Vec<String> = updates.iter().map(describe).collect();
    let fail = |why: String| Err(format!("{why}\n  got:\n    {}", got.join("\n    ")));
    if updates.len() != case.expect.len() {
        return fail(format!(
            "expected {} steps, got {}",
            case.expect.len(),
            updates.len()
        ));
    }
    let half_frame = 0.5 / case.fps;
    let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < half_frame);
    for (i, (u, e)) in updates.iter().zip(&case.expect).enumerate() {
        let step = match u.step {
            Step::Open => "open",
            Step::Update => "update",
            Step::Close => "close",
        };
        let mut wrong = Vec::new();
        if step != e.step {
            wrong.push(format!("step {step} != {}", e.step));
        }
        if u.event.signature != e.signature {
            wrong.push(format!(
                "signature {} != {}",
                u.event.signature, e.signature
            ));
        }
        if !near(u.at.pts_s, e.at_s) {
            wrong.push(format!("at {:?} != {}", u.at.pts_s, e.at_s));
        }
        if e.count.is_some_and(|c| c != u.event.count) {
            wrong.push(format!("count {} != {:?}", u.event.count, e.count));
        }
        if e.start_s.is_some_and(|s| !near(u.event.start_s, s)) {
            wrong.push(format!("start {:?} != {:?}", u.event.start_s, e.start_s));
        }
        if e.end_s.is_some_and(|s| !near(u.event.last_s, s)) {
            wrong.push(format!("end {:?} != {:?}", u.event.last_s, e.end_s));
        }
        if e.close_reason.is_some() && u.event.close_reason != e.close_reason {
            wrong.push(format!(
                "close_reason {:?} != {:?}",
                u.event.close_reason, e.close_reason
            ));
        }
        if e.group.as_ref().is_some_and(|g| *g != u.event.group) {
            wrong.push(format!("group {} != {:?}", u.event.group, e.group));
        }
        if !wrong.is_empty() {
            return fail(format!("step {i}: {}", wrong.join(", ")));
        }
    }
    Ok(())
}

#[test]
fn behaviour_cases_produce_exactly_the_expected_events() {
    let dir = repo().join("tests/behaviour");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "cases in {}: {files:?}", dir.display());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            run_case(f)
                .err()
                .map(|e| format!("{}: {e}", f.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}
