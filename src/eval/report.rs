//! The evaluation report: its typed sections, their Markdown and HTML
//! renderings, and the writer of `report.json`, `report.md` and
//! `report.html`.
//!
//! Rendering is pure: a [`Report`] in, a `String` out. The HTML page is
//! made from the Markdown (tables, headings, notes) with the
//! precision-recall chart inlined as SVG, so it needs no outside assets.
//! `report.json` keeps the detector's headline figures at its top level too,
//! where scripts look for them.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

use super::classes::{ClassMetrics, Confusion};
use super::coco::Stats;
use super::events::EventScore;

/// Keys of the detector section that `report.json` repeats at its top level.
const TOP_LEVEL_KEYS: [&str; 5] = [
    "coco",
    "per_class",
    "confusion",
    "max_dets",
    "ap_at_max_dets",
];

/// A whole report: the detector section, the event section, or both.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub detector: Option<DetectorReport>,
    pub events: Option<EventsReport>,
}

/// What the ground truth held, as loaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroundTruthSummary {
    pub path: PathBuf,
    pub images: usize,
    pub annotations: usize,
    pub categories: usize,
    /// How the source format was mapped ([`super::Dataset::notes`]).
    pub notes: Vec<String>,
    /// Images that no screened frame stood for (a video shorter than its
    /// labels, frames that failed to decode); their objects count as misses.
    pub images_without_frame: usize,
}

/// A detector scored against ground truth. Field order is `report.json`'s.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectorReport {
    pub ground_truth: GroundTruthSummary,
    /// Where the predictions came from: the model run, or the results file.
    pub source: Value,
    /// Number of predictions scored.
    pub predictions: usize,
    /// The class mapping applied, or null.
    pub class_mapping: Value,
    pub max_dets: [usize; 3],
    pub coco: Stats,
    /// Why some COCO figures read -1, when the detection cap is not 100.
    pub coco_note: Option<String>,
    pub ap_at_max_dets: f64,
    pub per_class: Vec<ClassMetrics>,
    pub confusion: Confusion,
    /// The score at which per-class precision, recall and F1 are given.
    pub score_threshold: f64,
    pub seconds: f64,
    /// What costs AP, by error type ([`super::tide`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<super::tide::Breakdown>,
}

/// Signature events of a run scored against event ground truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventsReport {
    pub run: PathBuf,
    pub ground_truth: PathBuf,
    pub score: EventScore,
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot create report folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode report {path}: {source}")]
    Encode {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Write(#[from] crate::evidence::EvidenceError),
}

/// A figure with four decimals, or `-` for pycocotools' -1 ("no data").
pub fn fmt(v: f64) -> String {
    if v < 0.0 {
        "-".into()
    } else {
        format!("{v:.4}")
    }
}

/// `v`, or `fallback` where `report.json` would hold null (NaN, infinity).
fn finite_or(v: f64, fallback: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        fallback
    }
}

/// A number as `report.json` writes it.
fn json_number(v: f64) -> String {
    Value::from(v).to_string()
}

impl Report {
    /// The contents of `report.json`.
    pub fn to_json(&self) -> Result<Value, serde_json::Error> {
        let mut report = json!({"tool": {"name": "lookout", "version": env!("CARGO_PKG_VERSION")}});
        if let Some(detector) = &self.detector {
            report["detector"] = serde_json::to_value(detector)?;
        }
        if let Some(events) = &self.events {
            report["events"] = serde_json::to_value(events)?;
        }
        if let Some(d) = report.get("detector").cloned() {
            for key in TOP_LEVEL_KEYS {
                report[key] = d[key].clone();
            }
        }
        Ok(report)
    }

    /// The contents of `report.md`.
    pub fn markdown(&self) -> String {
        let mut md = String::from("# lookout eval report\n\n");
        if let Some(detector) = &self.detector {
            md.push_str(&detector_markdown(detector));
        }
        if let Some(events) = &self.events {
            md.push_str(&events_markdown(events));
        }
        md
    }
}

/// The detector section of `report.md`: ground truth and notes, the COCO
/// stats, per-class figures and the confusion matrix.
pub fn detector_markdown(report: &DetectorReport) -> String {
    let gt = &report.ground_truth;
    let mut s = String::new();
    s.push_str(&format!(
        "Ground truth: `{}` ({} images, {} annotations). Predictions: {}. Detection cap per image: {}.\n\n",
        gt.path.display(),
        gt.images,
        gt.annotations,
        report.predictions,
        report.max_dets[2],
    ));
    if gt.images_without_frame > 0 {
        s.push_str(&format!(
            "- **{} of the {} ground-truth images had no screened frame** (a video shorter than its labels, or frames that failed to decode); their objects count as misses.\n",
            gt.images_without_frame, gt.images
        ));
    }
    for note in &gt.notes {
        s.push_str(&format!("- {note}\n"));
    }
    if let Some(note) = &report.coco_note {
        s.push_str(&format!("- {note}\n"));
    }
    s.push_str("\n## COCO (equal to pycocotools)\n\n| stat | value |\n|---|---|\n");
    for (name, v) in Stats::NAMES.iter().zip(report.coco.values()) {
        s.push_str(&format!("| {name} | {} |\n", fmt(v)));
    }
    s.push_str(&format!(
        "\n## Per class (precision, recall, F1 at score {})\n\n| class | objects | AP | AP50 | P | R | F1 | best F1 (at score) |\n|---|---|---|---|---|---|---|---|\n",
        json_number(report.score_threshold)
    ));
    for c in &report.per_class {
        let at = &c.at_threshold;
        let best = match &c.best_f1 {
            None => "-".to_string(),
            Some(b) => format!(
                "{} ({:.3})",
                fmt(finite_or(b.f1, -1.0)),
                finite_or(b.threshold, 0.0)
            ),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            c.name,
            c.objects,
            fmt(finite_or(c.ap, -1.0)),
            fmt(finite_or(c.ap50, -1.0)),
            fmt(finite_or(at.precision, 0.0)),
            fmt(finite_or(at.recall, 0.0)),
            fmt(finite_or(at.f1, 0.0)),
            best
        ));
    }
    let labels = &report.confusion.labels;
    s.push_str("\n## Confusion matrix (rows: predicted, columns: true; IoU 0.5)\n\n| |");
    for l in labels {
        s.push_str(&format!(" {l} |"));
    }
    s.push_str("\n|---|");
    s.push_str(&"---|".repeat(labels.len()));
    s.push('\n');
    for (row, l) in report.confusion.matrix.iter().zip(labels) {
        s.push_str(&format!("| **{l}** |"));
        for v in row {
            s.push_str(&format!(" {v} |"));
        }
        s.push('\n');
    }
    s.push_str("\n![Precision-recall curves](pr_curves.png)\n");
    if let Some(errors) = &report.errors {
        s.push_str(&super::tide::markdown(errors));
    }
    s
}

/// The signature-event section of `report.md`.
pub fn events_markdown(report: &EventsReport) -> String {
    let s = &report.score;
    let mut md = format!(
        "\n## Signature events\n\nRun `{}` against `{}`.\n\n| figure | value |\n|---|---|\n",
        report.run.display(),
        report.ground_truth.display()
    );
    for (k, v) in [
        ("true events", s.truth.to_string()),
        ("found events", s.found.to_string()),
        ("matched", s.matched.to_string()),
        ("precision", format!("{:.4}", s.precision)),
        ("recall", format!("{:.4}", s.recall)),
        ("F1", format!("{:.4}", s.f1)),
        (
            "mean time to first flag (s)",
            s.mean_time_to_first_flag_s
                .map_or("-".into(), |t| format!("{t:.2}")),
        ),
        (
            "false events per hour",
            format!("{:.2}", s.false_events_per_hour),
        ),
        ("video hours", format!("{:.4}", s.video_hours)),
    ] {
        md.push_str(&format!("| {k} | {v} |\n"));
    }
    md
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A self-contained HTML page from report Markdown: the tables rendered,
/// the image line replaced by `svg` inlined, no outside assets.
pub fn html(md: &str, svg: &str) -> String {
    let mut body = String::new();
    let mut in_table = false;
    for line in md.lines() {
        if line.starts_with('|') {
            if line.starts_with("|---") {
                continue;
            }
            if !in_table {
                body.push_str("<table>\n");
                in_table = true;
            }
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            body.push_str("<tr>");
            for c in cells {
                body.push_str(&format!("<td>{}</td>", escape(&c.replace("**", ""))));
            }
            body.push_str("</tr>\n");
            continue;
        }
        if in_table {
            body.push_str("</table>\n");
            in_table = false;
        }
        if let Some(h) = line.strip_prefix("## ") {
            body.push_str(&format!("<h2>{}</h2>\n", escape(h)));
        } else if let Some(h) = line.strip_prefix("# ") {
            body.push_str(&format!("<h1>{}</h1>\n", escape(h)));
        } else if line.starts_with("![") {
            body.push_str(svg);
        } else if let Some((text, href)) = line
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(')'))
            .and_then(|l| l.split_once("]("))
        {
            body.push_str(&format!(
                "<p><a href=\"{}\">{}</a></p>\n",
                escape(href).replace('"', "&quot;"),
                escape(text)
            ));
        } else if let Some(item) = line.strip_prefix("- ") {
            body.push_str(&format!("<p>• {}</p>\n", escape(item)));
        } else if !line.is_empty() {
            body.push_str(&format!("<p>{}</p>\n", escape(line)));
        }
    }
    if in_table {
        body.push_str("</table>\n");
    }
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>lookout eval report</title>\n<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}table{{border-collapse:collapse;margin:1em 0}}td{{border:1px solid #ccc;padding:2px 8px;text-align:right}}td:first-child{{text-align:left}}</style></head><body>\n{body}</body></html>\n"
    )
}

/// Writes `report.json`, `report.md` and `report.html` (with `svg`, the
/// precision-recall chart, inlined) into `dir`, creating it if needed.
/// Each file is replaced atomically.
pub fn write(dir: &Path, report: &Report, svg: &str) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_owned(),
        source,
    })?;
    let json_path = dir.join("report.json");
    let json = report
        .to_json()
        .and_then(|v| serde_json::to_vec_pretty(&v))
        .map_err(|source| ReportError::Encode {
            path: json_path.clone(),
            source,
        })?;
    let md = report.markdown();
    crate::evidence::write_atomic(&json_path, &json)?;
    crate::evidence::write_atomic(&dir.join("report.md"), md.as_bytes())?;
    crate::evidence::write_atomic(&dir.join("report.html"), html(&md, svg).as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::classes::OperatingPoint;

    fn point(threshold: f64, precision: f64, recall: f64, f1: f64) -> OperatingPoint {
        OperatingPoint {
            threshold,
            precision,
            recall,
            f1,
            true_positives: 1,
            false_positives: 0,
        }
    }

    fn detector() -> DetectorReport {
        let stats = Stats {
            ap: 0.5,
            ap50: 1.0,
            ap75: -1.0,
            aps: 0.25,
            apm: -1.0,
            apl: 0.125,
            ar1: 0.5,
            ar10: 0.5,
            ar100: 0.5,
            ars: -1.0,
            arm: -1.0,
            arl: 0.5,
        };
        DetectorReport {
            ground_truth: GroundTruthSummary {
                path: PathBuf::from("gt/a&b.json"),
                images: 2,
                images_without_frame: 0,
                annotations: 3,
                categories: 2,
                notes: vec!["1 annotation had no area; used box area".into()],
            },
            source: json!({"predictions": "p.json"}),
            predictions: 4,
            class_mapping: Value::Null,
            max_dets: [1, 10, 100],
            coco: stats,
            coco_note: None,
            ap_at_max_dets: 0.5,
            per_class: vec![
                ClassMetrics {
                    id: 1,
                    name: "person".into(),
                    objects: 2,
                    detections: 3,
                    ap: 0.5,
                    ap50: 1.0,
                    at_threshold: point(0.3, 0.75, 1.0, 0.857142),
                    best_f1: Some(point(0.9, 1.0, 1.0, 1.0)),
                },
                ClassMetrics {
                    id: 3,
                    name: "boat".into(),
                    objects: 1,
                    detections: 0,
                    ap: -1.0,
                    ap50: -1.0,
                    at_threshold: point(0.3, 0.0, 0.0, 0.0),
                    best_f1: None,
                },
            ],
            confusion: Confusion {
                labels: vec!["person".into(), "boat".into(), "background".into()],
                matrix: vec![vec![2, 0, 1], vec![0, 0, 0], vec![0, 1, 0]],
                iou: 0.5,
                threshold: 0.3,
            },
            score_threshold: 0.3,
            seconds: 0.01,
            errors: None,
        }
    }

    #[test]
    fn detector_markdown_tables() {
        let md = detector_markdown(&detector());
        let want = "Ground truth: `gt/a&b.json` (2 images, 3 annotations). Predictions: 4. Detection cap per image: 100.\n\n\
- 1 annotation had no area; used box area\n\
\n## COCO (equal to pycocotools)\n\n| stat | value |\n|---|---|\n\
| AP | 0.5000 |\n| AP50 | 1.0000 |\n| AP75 | - |\n| APs | 0.2500 |\n| APm | - |\n| APl | 0.1250 |\n\
| AR1 | 0.5000 |\n| AR10 | 0.5000 |\n| AR100 | 0.5000 |\n| ARs | - |\n| ARm | - |\n| ARl | 0.5000 |\n\
\n## Per class (precision, recall, F1 at score 0.3)\n\n\
| class | objects | AP | AP50 | P | R | F1 | best F1 (at score) |\n|---|---|---|---|---|---|---|---|\n\
| person | 2 | 0.5000 | 1.0000 | 0.7500 | 1.0000 | 0.8571 | 1.0000 (0.900) |\n\
| boat | 1 | - | - | 0.0000 | 0.0000 | 0.0000 | - |\n\
\n## Confusion matrix (rows: predicted, columns: true; IoU 0.5)\n\n\
| | person | boat | background |\n|---|---|---|---|\n\
| **person** | 2 | 0 | 1 |\n| **boat** | 0 | 0 | 0 |\n| **background** | 0 | 1 | 0 |\n\
\n![Precision-recall curves](pr_curves.png)\n";
        assert_eq!(md, want);
    }

    #[test]
    fn score_threshold_is_written_as_in_report_json() {
        let mut d = detector();
        d.score_threshold = 1.0;
        d.coco_note = Some("AP is -1 as in pycocotools".into());
        let md = detector_markdown(&d);
        assert!(md.contains("F1 at score 1.0)"), "{md}");
        assert!(
            md.contains("- AP is -1 as in pycocotools\n\n## COCO"),
            "{md}"
        );
    }

    #[test]
    fn html_renders_tables_headings_notes_and_inlines_the_chart() {
        let md =
            "# T\n\nA <b> & c.\n- note\n\n| x | y |\n|---|---|\n| **r** | 1 |\n\n![c](c.png)\n";
        let page = html(md, "<svg/>");
        let body = page.split("<body>\n").nth(1).unwrap();
        assert_eq!(
            body,
            "<h1>T</h1>\n<p>A &lt;b&gt; &amp; c.</p>\n<p>• note</p>\n<table>\n\
             <tr><td>x</td><td>y</td></tr>\n<tr><td>r</td><td>1</td></tr>\n</table>\n\
             <svg/></body></html>\n"
        );
        assert!(page.starts_with("<!doctype html>\n<html><head><meta charset=\"utf-8\">"));
    }

    #[test]
    fn report_json_repeats_the_headline_figures_at_the_top() {
        let report = Report {
            detector: Some(detector()),
            events: None,
        };
        let v = report.to_json().unwrap();
        assert_eq!(v["tool"]["name"], "lookout");
        for key in TOP_LEVEL_KEYS {
            assert_eq!(v[key], v["detector"][key], "{key}");
        }
        assert_eq!(v["coco"]["AP50"], 1.0);
        assert_eq!(v["detector"]["coco_note"], Value::Null);
        assert_eq!(v["detector"]["ground_truth"]["path"], "gt/a&b.json");
        assert!(v.get("events").is_none());
        assert!(report
            .markdown()
            .starts_with("# lookout eval report\n\nGround truth:"));
    }

    #[test]
    fn write_puts_three_files_in_a_new_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a/b");
        let report = Report {
            detector: Some(detector()),
            events: None,
        };
        write(&out, &report, "<svg/>").unwrap();
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert_eq!(md, report.markdown());
        let html_page = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert_eq!(html_page, html(&md, "<svg/>"));
        let json: Value =
            serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
        assert_eq!(json, report.to_json().unwrap());

        let blocked = dir.path().join("file");
        std::fs::write(&blocked, "").unwrap();
        let err = write(&blocked.join("sub"), &report, "").unwrap_err();
        assert!(matches!(err, ReportError::CreateDir { .. }), "{err}");
        assert!(err.to_string().contains("sub"), "{err}");
    }
}
