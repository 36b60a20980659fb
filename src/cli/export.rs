//! `lookout export`: reviewed events out of a run, as a verifiable bundle,
//! as training annotations (COCO, CVAT, Label Studio), or as GeoJSON.
//!
//! The run folder is never written to: it stays as sealed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use crate::evidence::bundle::{self, BundleInfo, ReviewExport};
use crate::evidence::seal::{RunSigner, SEAL_FILE};
use crate::review::db::ReviewDb;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A zip of the events with their manifest, seal and review record,
    /// which `lookout verify` accepts.
    Bundle,
    /// COCO detection JSON and the untouched frames.
    Coco,
    /// CVAT for images 1.1 XML and the untouched frames.
    Cvat,
    /// Label Studio tasks with predictions, and the untouched frames.
    Labelstudio,
    /// Events with their positions (georeferenced runs only).
    Geojson,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The run folder.
    #[arg(value_name = "RUN_DIR")]
    pub run: PathBuf,
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Format,
    /// Which events: a status (confirmed, escalated, rejected, new), `all`,
    /// or event ids separated by commas.
    #[arg(long, default_value = "confirmed", value_name = "WHICH")]
    pub events: String,
    /// Where to write: a .zip for bundles, a .geojson file, a folder for the
    /// annotation formats [default: exports/<run>-<format> in the current folder].
    #[arg(short, long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Blur faces and bystanders in the exported frames (not built yet).
    #[arg(long)]
    pub redact: bool,
}

/// A chosen event: its id and its `event.json`.
struct Chosen {
    id: String,
    event: Value,
}

fn choose(run: &Path, which: &str) -> Result<(Vec<Chosen>, ReviewExport)> {
    let review = match ReviewDb::open_existing(run)? {
        Some(db) => ReviewExport {
            audit: db.audit(None)?,
            verdicts: db.verdicts()?.into_iter().collect(),
            seal: db.seal()?,
        },
        None => ReviewExport {
            audit: Vec::new(),
            verdicts: BTreeMap::new(),
            seal: None,
        },
    };
    let text = std::fs::read_to_string(run.join("events.jsonl"))
        .with_context(|| format!("{}: not a run folder", run.display()))?;
    let ids: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["step"] == "close")
        .filter_map(|e| e["event_id"].as_str().map(str::to_owned))
        .collect();
    let status = |id: &str| {
        review
            .verdicts
            .get(id)
            .map_or("new", |v| v.status.as_str())
            .to_owned()
    };
    let chosen_ids: Vec<String> = match which {
        "all" => ids,
        s if crate::review::db::STATUSES.contains(&s) => {
            ids.into_iter().filter(|id| status(id) == s).collect()
        }
        list => {
            let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
            for w in &wanted {
                if !ids.iter().any(|i| i == w) {
                    bail!("{}: no closed event {w:?}", run.display());
                }
            }
            ids.into_iter()
                .filter(|i| wanted.contains(&i.as_str()))
                .collect()
        }
    };
    if chosen_ids.is_empty() {
        bail!(
            "{}: no events are {which}; review them with `lookout serve`, or choose --events all",
            run.display()
        );
    }
    let chosen = chosen_ids
        .into_iter()
        .map(|id| {
            let path = run.join("events").join(&id).join("event.json");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Ok(Chosen {
                event: serde_json::from_str(&text)
                    .with_context(|| format!("{}: not JSON", path.display()))?,
                id,
            })
        })
        .collect::<Result<_>>()?;
    Ok((chosen, review))
}

pub fn run(args: &ExportArgs) -> Result<()> {
    if args.redact {
        bail!("--redact is not built yet: exports carry the untouched frames");
    }
    let run = &args.run;
    let run_id = run
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let (chosen, review) = choose(run, &args.events)?;
    let ext = match args.format {
        Format::Bundle => ".zip",
        Format::Geojson => ".geojson",
        _ => "",
    };
    let name = format!("{:?}", args.format).to_lowercase();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("exports").join(format!("{run_id}-{name}{ext}")));
    match args.format {
        Format::Bundle => write_bundle(run, &run_id, &args.events, &chosen, &review, &out)?,
        Format::Geojson => write_geojson(&chosen, &out)?,
        Format::Coco | Format::Cvat | Format::Labelstudio => {
            write_annotations(run, args.format, &chosen, &out)?
        }
    }
    eprintln!("exported {} event(s) to {}", chosen.len(), out.display());
    println!("{}", out.display());
    Ok(())
}

fn create_parent(path: &Path) -> Result<()> {
    if let Some(p) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))?;
    }
    Ok(())
}

fn write_bundle(
    run: &Path,
    run_id: &str,
    which: &str,
    chosen: &[Chosen],
    review: &ReviewExport,
    out: &Path,
) -> Result<()> {
    let manifest = std::fs::read_to_string(run.join("manifest.jsonl"))
        .with_context(|| format!("{}: no manifest", run.display()))?;
    let seal = std::fs::read(run.join(SEAL_FILE)).with_context(|| {
        format!(
            "{}: the run is not sealed (interrupted?), so it cannot be bundled",
            run.display()
        )
    })?;
    let prefixes: Vec<String> = chosen.iter().map(|c| format!("events/{}/", c.id)).collect();
    let included: Vec<String> = manifest
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e["path"].as_str().map(str::to_owned))
        .filter(|p| p == "run.json" || prefixes.iter().any(|pre| p.starts_with(pre)))
        .collect();
    let info = BundleInfo {
        format: "lookout-bundle".into(),
        version: 1,
        run_id: run_id.to_owned(),
        created_at: super::screen::now_rfc3339(),
        events: chosen.iter().map(|c| c.id.clone()).collect(),
        selection: which.to_owned(),
        included: included.clone(),
    };
    let info_json = serde_json::to_vec_pretty(&info)?;
    let signer = RunSigner::load_or_create()?;
    let sig = signer.seal(0, &String::from_utf8(bundle::message(&info_json))?);

    create_parent(out)?;
    let tmp = out.with_extension("zip.partial");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let deflate = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut add = |name: &str, bytes: &[u8]| -> Result<()> {
        let options = if name.ends_with(".jpg") {
            stored
        } else {
            deflate
        };
        zip.start_file(name, options)?;
        zip.write_all(bytes)?;
        Ok(())
    };
    add(bundle::BUNDLE_FILE, &info_json)?;
    add(bundle::BUNDLE_SIG, &serde_json::to_vec_pretty(&sig)?)?;
    add("manifest.jsonl", manifest.as_bytes())?;
    add(SEAL_FILE, &seal)?;
    add(bundle::REVIEW_FILE, &serde_json::to_vec_pretty(review)?)?;
    for rel in &included {
        let bytes = std::fs::read(run.join(rel))
            .with_context(|| format!("cannot read {}", run.join(rel).display()))?;
        add(rel, &bytes)?;
    }
    zip.finish()?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

fn write_geojson(chosen: &[Chosen], out: &Path) -> Result<()> {
    let mut features = Vec::new();
    let mut unplaced = 0;
    for c in chosen {
        let geo = &c.event["geo"];
        if geo.is_null() {
            unplaced += 1;
            continue;
        }
        features.push(json!({
            "type": "Feature",
            "geometry": geo["footprint"],
            "properties": {
                "event_id": c.id,
                "signature": c.event["signature"],
                "kind": c.event["kind"],
                "count": c.event["count"],
                "peak_count": c.event["peak_count"],
                "reason": c.event["reason"],
                "lon": geo["lon"],
                "lat": geo["lat"],
            },
        }));
    }
    if features.is_empty() {
        bail!(
            "none of the {} chosen events has a position (only georeferenced rasters place events)",
            chosen.len()
        );
    }
    if unplaced > 0 {
        tracing::warn!("{unplaced} event(s) without a position left out of the GeoJSON");
    }
    create_parent(out)?;
    let doc = json!({"type": "FeatureCollection", "features": features});
    std::fs::write(out, serde_json::to_vec_pretty(&doc)?)
        .with_context(|| format!("cannot write {}", out.display()))
}

/// One box of an exported image, in that image's pixels.
struct ExportBox {
    class: String,
    score: f64,
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
}

/// The untouched frame's size and its boxes. A raster event's frame is a
/// crop of the scene, possibly reduced: boxes are moved into it.
fn image_boxes(event: &Value) -> (u32, u32, Vec<ExportBox>) {
    let best = &event["best_frame"];
    let crop = &best["crop"];
    let (dx, dy, s) = if crop.is_null() {
        (0.0, 0.0, 1.0)
    } else {
        (
            crop["x"].as_f64().unwrap_or(0.0),
            crop["y"].as_f64().unwrap_or(0.0),
            crop["scale"].as_f64().unwrap_or(1.0),
        )
    };
    let (w, h) = if crop.is_null() {
        (
            best["width"].as_u64().unwrap_or(0) as u32,
            best["height"].as_u64().unwrap_or(0) as u32,
        )
    } else {
        let side = |k: &str| (crop[k].as_f64().unwrap_or(0.0) / s).round().max(1.0) as u32;
        (side("width"), side("height"))
    };
    let boxes = best["tracks"]
        .as_array()
        .map(|tracks| {
            tracks
                .iter()
                .filter_map(|t| {
                    let b = t["box"].as_array()?;
                    let v = |i: usize| b.get(i).and_then(Value::as_f64);
                    Some(ExportBox {
                        class: t["class"].as_str().unwrap_or("object").to_owned(),
                        score: t["score"].as_f64().unwrap_or(0.0),
                        x1: ((v(0)? - dx) / s).clamp(0.0, w as f64),
                        y1: ((v(1)? - dy) / s).clamp(0.0, h as f64),
                        x2: ((v(2)? - dx) / s).clamp(0.0, w as f64),
                        y2: ((v(3)? - dy) / s).clamp(0.0, h as f64),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    (w, h, boxes)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn write_annotations(run: &Path, format: Format, chosen: &[Chosen], out: &Path) -> Result<()> {
    let images = out.join("images");
    std::fs::create_dir_all(&images)
        .with_context(|| format!("cannot create {}", images.display()))?;
    let mut labels: Vec<String> = Vec::new();
    let mut per_image = Vec::new();
    for c in chosen {
        let rel = c.event["artefacts"]["frame"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("events/{}/frame.jpg", c.id));
        let name = format!("images/{}.jpg", c.id);
        std::fs::copy(run.join(&rel), out.join(&name))
            .with_context(|| format!("cannot copy {}", run.join(&rel).display()))?;
        let (w, h, boxes) = image_boxes(&c.event);
        for b in &boxes {
            if !labels.contains(&b.class) {
                labels.push(b.class.clone());
            }
        }
        per_image.push((c, name, w, h, boxes));
    }
    let model_sha = chosen[0].event["model"]["sha256"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (file, bytes) = match format {
        Format::Coco => {
            let mut annotations = Vec::new();
            let mut imgs = Vec::new();
            for (i, (c, name, w, h, boxes)) in per_image.iter().enumerate() {
                imgs.push(json!({"id": i + 1, "file_name": name, "width": w, "height": h, "lookout_event": c.id}));
                for b in boxes {
                    let (bw, bh) = (b.x2 - b.x1, b.y2 - b.y1);
                    annotations.push(json!({
                        "id": annotations.len() + 1,
                        "image_id": i + 1,
                        "category_id": labels.iter().position(|l| *l == b.class).unwrap_or(0) + 1,
                        "bbox": [b.x1, b.y1, bw, bh],
                        "area": bw * bh,
                        "iscrowd": 0,
                        "score": b.score,
                    }));
                }
            }
            let categories: Vec<Value> = labels
                .iter()
                .enumerate()
                .map(|(i, l)| json!({"id": i + 1, "name": l}))
                .collect();
            let doc = json!({
                "info": {"description": "lookout export: reviewed events", "model_sha256": model_sha},
                "images": imgs, "annotations": annotations, "categories": categories,
            });
            ("annotations.json", serde_json::to_vec_pretty(&doc)?)
        }
        Format::Cvat => {
            let mut x = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<annotations>\n  <version>1.1</version>\n  <meta><task><labels>\n");
            for l in &labels {
                x.push_str(&format!("    <label><name>{}</name><attributes><attribute><name>score</name><input_type>number</input_type></attribute></attributes></label>\n", xml_escape(l)));
            }
            x.push_str("  </labels></task></meta>\n");
            for (i, (_, name, w, h, boxes)) in per_image.iter().enumerate() {
                x.push_str(&format!(
                    "  <image id=\"{i}\" name=\"{}\" width=\"{w}\" height=\"{h}\">\n",
                    xml_escape(name)
                ));
                for b in boxes {
                    x.push_str(&format!(
                        "    <box label=\"{}\" source=\"auto\" occluded=\"0\" xtl=\"{:.2}\" ytl=\"{:.2}\" xbr=\"{:.2}\" ybr=\"{:.2}\" z_order=\"0\"><attribute name=\"score\">{:.4}</attribute></box>\n",
                        xml_escape(&b.class), b.x1, b.y1, b.x2, b.y2, b.score
                    ));
                }
                x.push_str("  </image>\n");
            }
            x.push_str("</annotations>\n");
            ("annotations.xml", x.into_bytes())
        }
        Format::Labelstudio => {
            let tasks: Vec<Value> = per_image
                .iter()
                .map(|(c, name, w, h, boxes)| {
                    let (wf, hf) = (f64::from((*w).max(1)), f64::from((*h).max(1)));
                    let result: Vec<Value> = boxes
                        .iter()
                        .enumerate()
                        .map(|(k, b)| json!({
                            "id": format!("{}-{k}", c.id),
                            "type": "rectanglelabels", "from_name": "label", "to_name": "image",
                            "original_width": w, "original_height": h, "image_rotation": 0,
                            "value": {
                                "x": b.x1 / wf * 100.0, "y": b.y1 / hf * 100.0,
                                "width": (b.x2 - b.x1) / wf * 100.0, "height": (b.y2 - b.y1) / hf * 100.0,
                                "rotation": 0, "rectanglelabels": [b.class],
                            },
                            "score": b.score,
                        }))
                        .collect();
                    let mean = boxes.iter().map(|b| b.score).sum::<f64>() / boxes.len().max(1) as f64;
                    json!({
                        "data": {"image": name, "lookout_event": c.id},
                        "predictions": [{"model_version": model_sha, "score": mean, "result": result}],
                    })
                })
                .collect();
            ("tasks.json", serde_json::to_vec_pretty(&tasks)?)
        }
        Format::Bundle | Format::Geojson => unreachable!("written elsewhere"),
    };
    std::fs::write(out.join(file), bytes)
        .with_context(|| format!("cannot write {}", out.join(file).display()))
}
