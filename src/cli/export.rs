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

use image::RgbImage;

use crate::detect::face::FaceDetector;
use crate::detect::onnx::OnnxDetector;
use crate::detect::Detector;
use crate::evidence::bundle::{self, BundleInfo, ReviewExport};
use crate::evidence::redact::{self, ModelRef, RedactedFile, Redaction, Region};
use crate::evidence::seal::{RunSigner, SEAL_FILE};
use crate::geom::BBox;
use crate::review::db::ReviewDb;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A zip of the events with their manifest, seal and review record,
    /// which `lookout verify` accepts.
    Bundle,
    /// COCO detection JSON and the frames.
    Coco,
    /// CVAT for images 1.1 XML and the frames.
    Cvat,
    /// Label Studio tasks with predictions, and the frames.
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
    /// Blur, in the exported frames, every face and every person who is
    /// not part of the event. The run keeps its untouched, sealed frames;
    /// the export records what was blurred.
    #[arg(long)]
    pub redact: bool,
    /// The CenterFace model for --redact [default: $LOOKOUT_FACE_MODEL, else
    /// .deps/centerface.onnx from scripts/setup.sh].
    #[arg(long, value_name = "ONNX")]
    pub face_model: Option<PathBuf>,
    /// Least face score blurred by --redact, 0–1: lower blurs more.
    #[arg(long, default_value_t = 0.3, value_name = "SCORE")]
    pub face_threshold: f32,
    /// Classes that --redact blurs when they are not part of the event,
    /// separated by commas.
    #[arg(long, default_value = "person", value_name = "CLASSES")]
    pub redact_classes: String,
    /// The run's detector, for --redact, when it is no longer where
    /// run.json says; its sha256 must be the run's.
    #[arg(long, value_name = "ONNX")]
    pub model: Option<PathBuf>,
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
    let run = &args.run;
    if args.redact && args.format == Format::Geojson {
        bail!("--redact applies to exports that carry frames (bundle, coco, cvat, labelstudio); GeoJSON has none");
    }
    if !(0.0..=1.0).contains(&args.face_threshold) {
        bail!(
            "--face-threshold {} is not between 0 and 1",
            args.face_threshold
        );
    }
    let run_id = run
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let (chosen, review) = choose(run, &args.events)?;
    let mut redactor = if args.redact {
        Some(Redactor::new(run, args)?)
    } else {
        None
    };
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
        Format::Bundle => write_bundle(
            run,
            &run_id,
            &args.events,
            &chosen,
            &review,
            redactor.as_mut(),
            &out,
        )?,
        Format::Geojson => write_geojson(&chosen, &out)?,
        Format::Coco | Format::Cvat | Format::Labelstudio => {
            write_annotations(run, args.format, &chosen, redactor.as_mut(), &out)?
        }
    }
    if let Some(r) = &redactor {
        eprintln!(
            "redacted: {} face(s) and {} bystander(s) blurred in {} event(s)",
            r.faces_blurred,
            r.persons_blurred,
            chosen.len()
        );
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
    redactor: Option<&mut Redactor>,
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
    let sealed: BTreeMap<String, String> = manifest
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| {
            Some((
                e["path"].as_str()?.to_owned(),
                e["sha256"].as_str()?.to_owned(),
            ))
        })
        .collect();
    // With --redact, blurred copies travel instead of the frames.
    let mut copies: Vec<(RedactedFile, Vec<u8>)> = Vec::new();
    let redaction = match redactor {
        Some(r) => {
            for c in chosen {
                for RedactedCopy { from, png, regions } in r.redact_event(run, c, true)? {
                    let from_sha256 = sealed.get(&from).cloned().with_context(|| {
                        format!("{}: {from} is not in the run's manifest", run.display())
                    })?;
                    let path = format!(
                        "redacted/{}",
                        Path::new(&from).with_extension("png").display()
                    );
                    let file = RedactedFile {
                        sha256: crate::evidence::sha256_hex(&png),
                        path,
                        from,
                        from_sha256,
                        regions,
                    };
                    copies.push((file, png));
                }
            }
            Some(r.record(copies.iter().map(|(f, _)| f.clone()).collect()))
        }
        None => None,
    };
    let included: Vec<String> = sealed
        .keys()
        .filter(|p| *p == "run.json" || prefixes.iter().any(|pre| p.starts_with(pre)))
        .filter(|p| !copies.iter().any(|(f, _)| &f.from == *p))
        .cloned()
        .collect();
    let info = BundleInfo {
        format: "lookout-bundle".into(),
        version: 1,
        run_id: run_id.to_owned(),
        created_at: crate::clock::now_rfc3339(),
        events: chosen.iter().map(|c| c.id.clone()).collect(),
        selection: which.to_owned(),
        included: included.clone(),
        redaction,
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
        let options = if name.ends_with(".jpg") || name.ends_with(".png") {
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
    for (file, png) in &copies {
        add(&file.path, png)?;
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
    /// `anchor` or `subject`.
    role: String,
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
                        role: t["role"].as_str().unwrap_or("subject").to_owned(),
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

fn write_annotations(
    run: &Path,
    format: Format,
    chosen: &[Chosen],
    mut redactor: Option<&mut Redactor>,
    out: &Path,
) -> Result<()> {
    let images = out.join("images");
    std::fs::create_dir_all(&images)
        .with_context(|| format!("cannot create {}", images.display()))?;
    let mut labels: Vec<String> = Vec::new();
    let mut per_image = Vec::new();
    let mut redacted = Vec::new();
    for c in chosen {
        let rel = frame_path(c);
        let name = match redactor.as_deref_mut() {
            None => {
                let name = format!("images/{}.jpg", c.id);
                std::fs::copy(run.join(&rel), out.join(&name))
                    .with_context(|| format!("cannot copy {}", run.join(&rel).display()))?;
                name
            }
            Some(r) => {
                // Training needs the plain frame only, not the annotated one.
                let RedactedCopy { from, png, regions } =
                    r.redact_event(run, c, false)?.swap_remove(0);
                let name = format!("images/{}.png", c.id);
                std::fs::write(out.join(&name), &png)
                    .with_context(|| format!("cannot write {}", out.join(&name).display()))?;
                let from_sha256 = crate::evidence::sha256_file(&run.join(&from))
                    .with_context(|| format!("cannot read {}", run.join(&from).display()))?;
                redacted.push(RedactedFile {
                    path: name.clone(),
                    sha256: crate::evidence::sha256_hex(&png),
                    from,
                    from_sha256,
                    regions,
                });
                name
            }
        };
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
    if let Some(r) = redactor {
        let record = serde_json::to_vec_pretty(&r.record(redacted))?;
        std::fs::write(out.join("redaction.json"), record)
            .with_context(|| format!("cannot write {}", out.join("redaction.json").display()))?;
    }
    std::fs::write(out.join(file), bytes)
        .with_context(|| format!("cannot write {}", out.join(file).display()))
}

/// The event's untouched frame, relative to the run folder.
fn frame_path(c: &Chosen) -> String {
    c.event["artefacts"]["frame"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("events/{}/frame.jpg", c.id))
}

/// Finds what `--redact` blurs in each event's frames: faces, with
/// CenterFace, and people who are not the event's, with the run's own
/// detector run again on the frame.
struct Redactor {
    faces: FaceDetector,
    face_threshold: f32,
    detector: OnnxDetector,
    detector_path: PathBuf,
    /// Class ids and names blurred when not in the event.
    classes: Vec<(usize, String)>,
    faces_blurred: usize,
    persons_blurred: usize,
}

impl Redactor {
    fn new(run: &Path, args: &ExportArgs) -> Result<Redactor> {
        let run_json_path = run.join("run.json");
        let run_json: Value = serde_json::from_str(
            &std::fs::read_to_string(&run_json_path)
                .with_context(|| format!("cannot read {}", run_json_path.display()))?,
        )
        .with_context(|| format!("{}: not JSON", run_json_path.display()))?;
        let mut config: crate::config::Config = serde_json::from_value(run_json["config"].clone())
            .with_context(|| {
                format!("{}: cannot read the run's config", run_json_path.display())
            })?;
        // One frame per event: the CPU does, wherever the run ran. A
        // runtime library recorded on another machine may not exist here.
        config.model.device = "cpu".into();
        if config.model.ort_lib.as_ref().is_some_and(|p| !p.is_file()) {
            config.model.ort_lib = None;
        }
        let recorded = run_json["model"]["path"].as_str().map(PathBuf::from);
        let want_sha = run_json["model"]["sha256"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let detector_path = match (&args.model, recorded) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) if p.is_file() => p,
            (None, p) => bail!(
                "--redact runs the run's detector again to find bystanders, but {} is not there; pass --model with the run's model (sha256 {want_sha})",
                p.map_or("its model".into(), |p| p.display().to_string())
            ),
        };
        config.model.path = Some(detector_path.clone());
        let mut loaded = crate::run::Session::load_model(config.clone()).with_context(|| {
            format!("cannot load the run's detector {}", detector_path.display())
        })?;
        if loaded.info.sha256 != want_sha {
            bail!(
                "{}: sha256 {} is not the run's model ({want_sha}); pass --model with the model the run used",
                detector_path.display(),
                loaded.info.sha256
            );
        }
        let detector = loaded.take_detector();
        let labels = detector.labels().to_vec();
        let mut classes = Vec::new();
        for name in args
            .redact_classes
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            match labels.iter().position(|l| l == name) {
                Some(id) => classes.push((id, name.to_owned())),
                None => bail!(
                    "--redact-classes: the run's model has no class {name:?}; its classes: {}",
                    labels.join(", ")
                ),
            }
        }
        let face_path = crate::detect::face::find_model(args.face_model.as_deref())
            .map_err(anyhow::Error::msg)?;
        let faces = FaceDetector::load(&face_path, config.model.ort_lib.as_deref())?;
        Ok(Redactor {
            faces,
            face_threshold: args.face_threshold,
            detector,
            detector_path,
            classes,
            faces_blurred: 0,
            persons_blurred: 0,
        })
    }

    /// The regions to blur in an event's frame.
    fn regions(&mut self, image: &RgbImage, event: &Value) -> Result<Vec<Region>> {
        let mut regions: Vec<Region> = self
            .faces
            .detect(image, self.face_threshold)?
            .into_iter()
            .map(|f| Region::face(f.bbox, f.score))
            .collect();
        let faces = regions.len();
        let (_, _, boxes) = image_boxes(event);
        let as_bbox = |b: &ExportBox| BBox::new(b.x1 as f32, b.y1 as f32, b.x2 as f32, b.y2 as f32);
        let tracks: Vec<BBox> = boxes.iter().map(as_bbox).collect();
        let anchors: Vec<BBox> = boxes
            .iter()
            .filter(|b| b.role == "anchor")
            .map(as_bbox)
            .collect();
        let input = self.detector.preprocess().run(image);
        let found = self.detector.detect(&[input])?.pop().unwrap_or_default();
        for d in found {
            if let Some((_, name)) = self.classes.iter().find(|(id, _)| *id == d.class_id) {
                if !redact::is_part_of_event(&d.bbox, &tracks, &anchors) {
                    regions.push(Region::person(name, d.bbox, d.score));
                }
            }
        }
        self.faces_blurred += faces;
        self.persons_blurred += regions.len() - faces;
        Ok(regions)
    }

    /// Blurred copies of an event's frame and, with `with_annotated`, of its
    /// annotated frame; the frame comes first. The regions are found on
    /// the untouched frame.
    fn redact_event(
        &mut self,
        run: &Path,
        c: &Chosen,
        with_annotated: bool,
    ) -> Result<Vec<RedactedCopy>> {
        let frame_rel = frame_path(c);
        let decode = |rel: &str| -> Result<RgbImage> {
            Ok(image::open(run.join(rel))
                .with_context(|| format!("cannot read {}", run.join(rel).display()))?
                .to_rgb8())
        };
        let frame = decode(&frame_rel)?;
        let regions = self.regions(&frame, &c.event)?;
        let mut out = vec![RedactedCopy {
            from: frame_rel,
            png: png(&redact::apply(&frame, &regions))?,
            regions: regions.clone(),
        }];
        if let Some(rel) = c.event["artefacts"]["annotated"]
            .as_str()
            .filter(|_| with_annotated)
        {
            let annotated = decode(rel)?;
            if annotated.dimensions() != frame.dimensions() {
                bail!(
                    "{}: not the size of the event's frame",
                    run.join(rel).display()
                );
            }
            out.push(RedactedCopy {
                from: rel.to_owned(),
                png: png(&redact::apply(&annotated, &regions))?,
                regions,
            });
        }
        Ok(out)
    }

    fn record(&self, files: Vec<RedactedFile>) -> Redaction {
        Redaction {
            method: redact::METHOD.to_owned(),
            face_model: ModelRef {
                path: self.faces.path.display().to_string(),
                sha256: self.faces.sha256().to_owned(),
            },
            face_threshold: self.face_threshold,
            detector: ModelRef {
                path: self.detector_path.display().to_string(),
                sha256: self.detector.info().sha256.clone(),
            },
            classes: self.classes.iter().map(|(_, n)| n.clone()).collect(),
            files,
        }
    }
}

/// A blurred copy of one of the run's frames, before it is written.
struct RedactedCopy {
    /// The original, relative to the run folder.
    from: String,
    png: Vec<u8>,
    regions: Vec<Region>,
}

/// Lossless, so that a copy differs from its original only where it was
/// blurred.
fn png(image: &RgbImage) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    image.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )?;
    Ok(bytes)
}
