//! Scoring signature events against event ground truth.
//!
//! Ground truth has the format the scene generator writes
//! (`tests/data/sample-sortie.events.json`): per event a `signature`, a
//! `start_s` and an exclusive `end_s`. Found events come from a `lookout
//! screen` run folder: each closed event's kind, start and end (the last
//! frame where it held), and the time its `open` line was written.
//!
//! - A found event **matches** a true one when the signature kind agrees
//!   and the spans overlap; matching is one-to-one, largest overlap first.
//! - **Precision** is matched found events over found events, **recall**
//!   matched true events over true events.
//! - **Time to first flag** is, per matched true event, the time of the
//!   earliest `open` among the found events overlapping it, minus the true
//!   start.
//! - **False events per hour** divides the unmatched found events by the
//!   hours of video screened.

use std::path::Path;

use serde::Serialize;

use super::EvalError;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    pub signature: String,
    pub start_s: f64,
    /// Exclusive for ground truth; the last frame's time for found events.
    pub end_s: f64,
    /// When the event was first reported (found events only).
    pub opened_s: Option<f64>,
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventScore {
    pub truth: usize,
    pub found: usize,
    pub matched: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Per matched true event, seconds from its start to the first open.
    pub time_to_first_flag_s: Vec<f64>,
    pub mean_time_to_first_flag_s: Option<f64>,
    pub false_events: usize,
    pub video_hours: f64,
    pub false_events_per_hour: f64,
    /// (true index, found index) pairs.
    pub pairs: Vec<(usize, usize)>,
    pub missed: Vec<Span>,
    pub false_alarms: Vec<Span>,
}

fn overlap(t: &Span, f: &Span) -> f64 {
    // Found spans end at their last frame: treat the end as inclusive.
    (t.end_s.min(f.end_s) - t.start_s.max(f.start_s)).max(0.0)
}

fn overlaps(t: &Span, f: &Span) -> bool {
    t.signature == f.signature && f.start_s < t.end_s && f.end_s >= t.start_s
}

/// Scores `found` against `truth` over `video_s` seconds of video.
pub fn score(truth: &[Span], found: &[Span], video_s: f64) -> EventScore {
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (ti, t) in truth.iter().enumerate() {
        for (fi, f) in found.iter().enumerate() {
            if overlaps(t, f) {
                pairs.push((overlap(t, f), ti, fi));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let (mut t_used, mut f_used) = (vec![false; truth.len()], vec![false; found.len()]);
    let mut matched = Vec::new();
    for (_, ti, fi) in pairs {
        if !t_used[ti] && !f_used[fi] {
            t_used[ti] = true;
            f_used[fi] = true;
            matched.push((ti, fi));
        }
    }
    matched.sort_unstable();
    let time_to_first_flag_s: Vec<f64> = matched
        .iter()
        .map(|&(ti, _)| {
            let t = &truth[ti];
            found
                .iter()
                .filter(|f| overlaps(t, f))
                .map(|f| f.opened_s.unwrap_or(f.start_s))
                .fold(f64::INFINITY, f64::min)
                - t.start_s
        })
        .collect();
    let m = matched.len();
    let precision = if found.is_empty() {
        0.0
    } else {
        m as f64 / found.len() as f64
    };
    let recall = if truth.is_empty() {
        0.0
    } else {
        m as f64 / truth.len() as f64
    };
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    let false_events = found.len() - m;
    let video_hours = video_s / 3600.0;
    EventScore {
        truth: truth.len(),
        found: found.len(),
        matched: m,
        precision,
        recall,
        f1,
        mean_time_to_first_flag_s: (!time_to_first_flag_s.is_empty())
            .then(|| time_to_first_flag_s.iter().sum::<f64>() / time_to_first_flag_s.len() as f64),
        time_to_first_flag_s,
        false_events,
        video_hours,
        false_events_per_hour: if video_hours > 0.0 {
            false_events as f64 / video_hours
        } else {
            0.0
        },
        pairs: matched,
        missed: truth
            .iter()
            .zip(&t_used)
            .filter(|(_, &u)| !u)
            .map(|(t, _)| t.clone())
            .collect(),
        false_alarms: found
            .iter()
            .zip(&f_used)
            .filter(|(_, &u)| !u)
            .map(|(f, _)| f.clone())
            .collect(),
    }
}

fn read(path: &Path) -> Result<serde_json::Value, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| EvalError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Reads event ground truth. Returns the spans and the video's file name,
/// when the file names one.
pub fn load_truth(path: &Path) -> Result<(Vec<Span>, Option<String>), EvalError> {
    let v = read(path)?;
    let bad = |message: String| EvalError::Format {
        path: path.to_owned(),
        message,
    };
    let events = v["events"]
        .as_array()
        .ok_or_else(|| bad("no \"events\" list".into()))?;
    let spans = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let num = |k: &str| {
                e[k].as_f64()
                    .ok_or_else(|| bad(format!("events[{i}].{k} is not a number")))
            };
            Ok(Span {
                signature: e["signature"]
                    .as_str()
                    .ok_or_else(|| bad(format!("events[{i}].signature is not a string")))?
                    .to_owned(),
                start_s: num("start_s")?,
                end_s: num("end_s")?,
                opened_s: None,
                id: None,
            })
        })
        .collect::<Result<Vec<_>, EvalError>>()?;
    Ok((spans, v["video"].as_str().map(str::to_owned)))
}

/// Reads the closed events of a `lookout screen` run folder, keeping those
/// of the source whose file name is `video` when given. Returns the spans
/// and the seconds of video screened.
pub fn load_run(run: &Path, video: Option<&str>) -> Result<(Vec<Span>, f64), EvalError> {
    use crate::evidence::record::{EventLine, RecordError, RunRecord, Step};
    let record_error = |e: RecordError| match e {
        RecordError::Io { path, source } => EvalError::Io { path, source },
        other => EvalError::Format {
            path: run.to_owned(),
            message: other.to_string(),
        },
    };
    let run_json = RunRecord::read(run).map_err(record_error)?;
    let keep = |path: &Path| video.is_none_or(|v| path.file_name().is_some_and(|n| n == v));
    let video_s: f64 = run_json
        .sources
        .iter()
        .filter(|s| keep(&s.path))
        .filter_map(|s| s.duration_s())
        .sum();
    let mut opened: std::collections::HashMap<String, f64> = Default::default();
    let mut spans = Vec::new();
    for line in EventLine::read_all(run).map_err(record_error)? {
        let e = &line.event;
        if !keep(&e.source.path) {
            continue;
        }
        match line.step {
            Step::Open => {
                if let Some(t) = line.at.pts_s {
                    opened.insert(e.event_id.clone(), t);
                }
            }
            Step::Close => spans.push(Span {
                signature: e.kind.clone(),
                start_s: e.start_s.unwrap_or(0.0),
                end_s: line.end_s.unwrap_or(0.0),
                opened_s: opened.get(&e.event_id).copied(),
                id: Some(e.event_id.clone()),
            }),
            Step::Update => {}
        }
    }
    Ok((spans, video_s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(sig: &str, a: f64, b: f64, opened: Option<f64>) -> Span {
        Span {
            signature: sig.into(),
            start_s: a,
            end_s: b,
            opened_s: opened,
            id: None,
        }
    }

    #[test]
    fn hand_made_spans_give_known_answers() {
        let truth = vec![
            span("containment", 0.0, 6.0, None),
            span("overcrowding", 10.0, 15.5, None),
            span("containment", 100.0, 110.0, None),
        ];
        let found = vec![
            // Matches the first, opened 1.0 s in.
            span("containment", 0.0, 5.9, Some(1.0)),
            // A second, shorter piece of the same true event: a false event.
            span("containment", 4.0, 5.0, Some(4.5)),
            // Right span, wrong signature: no match for the vessel.
            span("containment", 10.5, 15.0, Some(11.5)),
            // Matches the third, opened 2.5 s after its start.
            span("containment", 101.0, 109.0, Some(102.5)),
        ];
        let s = score(&truth, &found, 1800.0);
        assert_eq!((s.truth, s.found, s.matched), (3, 4, 2));
        assert!((s.precision - 0.5).abs() < 1e-12);
        assert!((s.recall - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.time_to_first_flag_s, vec![1.0, 2.5]);
        assert_eq!(s.false_events, 2);
        assert!(
            (s.false_events_per_hour - 4.0).abs() < 1e-12,
            "2 in half an hour"
        );
        assert_eq!(s.missed.len(), 1);
        assert_eq!(s.missed[0].signature, "overcrowding");
        assert_eq!(s.pairs, vec![(0, 0), (2, 3)]);
    }

    #[test]
    fn nothing_found_and_nothing_true() {
        let s = score(&[], &[], 3600.0);
        assert_eq!(
            (s.precision, s.recall, s.false_events_per_hour),
            (0.0, 0.0, 0.0)
        );
        let s = score(&[span("zone", 0.0, 1.0, None)], &[], 3600.0);
        assert_eq!(s.recall, 0.0);
        assert_eq!(s.mean_time_to_first_flag_s, None);
    }
}
