//! `screen --shard K/N`: the union of the N shard runs of a batch is one
//! unsharded run of it, and a shard killed part-way and run again (as a
//! scheduler retries a task) still gives that union.
//!
//! What must be equal: the event ids, the files under `events/` and their
//! sha256 as the manifests list them, the lines of `events.jsonl` and of
//! `detections.jsonl` (as multisets), and each input's path by source id.
//! What is left out, and why: `run.json` (its run id, times, command and
//! shard record belong to each run), the manifest's `seq` and hash chain
//! (each run chains its own files), `manifest.sig` (each run's seal),
//! `resumes/` (a retried shard's notes) and the order of lines in the logs
//! (a shard screens fewer inputs, so their lines interleave otherwise).
//! Neither `events.jsonl` nor `event.json` holds a run id or a wall-clock
//! time, so they are compared whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::*;

/// What a run (or the union of shard runs) found, to compare.
#[derive(Debug, Default, PartialEq)]
struct Found {
    /// Closed event ids.
    events: Vec<String>,
    /// `events/...` path → sha256, from the manifest.
    evidence: BTreeMap<String, String>,
    /// Lines of events.jsonl, sorted.
    event_lines: Vec<String>,
    /// Lines of detections.jsonl, sorted.
    detections: Vec<String>,
    /// Source id → input path.
    sources: BTreeMap<u64, String>,
}

impl Found {
    /// Adds run `run`; panics on an event, evidence file or source that
    /// another run of the union has too.
    fn add(&mut self, run: &Path) {
        for e in steps(run, "close") {
            let id = e["event_id"].as_str().unwrap().to_owned();
            assert!(
                !self.events.contains(&id),
                "{}: event {id} twice",
                run.display()
            );
            self.events.push(id);
        }
        for entry in jsonl(&run.join("manifest.jsonl")) {
            let path = entry["path"].as_str().unwrap();
            if path.starts_with("events/") {
                let sha = entry["sha256"].as_str().unwrap().to_owned();
                assert!(
                    self.evidence.insert(path.to_owned(), sha).is_none(),
                    "{}: {path} twice",
                    run.display()
                );
            }
        }
        // A shard with no inputs writes no detections.jsonl.
        let lines = |name: &str| -> Vec<String> {
            std::fs::read_to_string(run.join(name))
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect()
        };
        self.event_lines.extend(lines("events.jsonl"));
        self.detections.extend(lines("detections.jsonl"));
        for d in &self.detections {
            let d: serde_json::Value = serde_json::from_str(d).unwrap();
            let (id, path) = (d["source"].as_u64().unwrap(), d["path"].as_str().unwrap());
            let known = self.sources.entry(id).or_insert_with(|| path.to_owned());
            assert_eq!(known, path, "source {id} names two inputs");
        }
        self.events.sort();
        self.event_lines.sort();
        self.detections.sort();
    }

    fn of(runs: &[PathBuf]) -> Found {
        let mut found = Found::default();
        runs.iter().for_each(|r| found.add(r));
        found
    }
}

/// Checks the shard records of `runs`, the N shards of one list of
/// `total` inputs: the same list, every input in exactly one shard.
fn check_shard_records(runs: &[PathBuf], total: usize, by: &str) {
    let n = runs.len();
    let mut indices = Vec::new();
    let mut sums = std::collections::BTreeSet::new();
    for (k, run) in runs.iter().enumerate() {
        let record = read_json(&run.join("run.json"));
        assert_eq!(record["status"], "finished", "{}", run.display());
        let shard = &record["shard"];
        assert_eq!(shard["k"], k);
        assert_eq!(shard["n"], n);
        assert_eq!(shard["by"], by);
        assert_eq!(shard["inputs_total"], total);
        let sources = record["sources"].as_array().map_or(&[][..], Vec::as_slice);
        assert_eq!(shard["inputs"], sources.len());
        indices.extend(sources.iter().map(|s| s["index"].as_u64().unwrap()));
        sums.insert(shard["inputs_sha256"].as_str().unwrap().to_owned());
    }
    indices.sort_unstable();
    assert_eq!(indices, (0..total as u64).collect::<Vec<_>>(), "{runs:?}");
    assert_eq!(sums.len(), 1, "the shards name different lists: {sums:?}");
}

/// A PNG of its own colour and size, with a person for the fixture model
/// (which finds one in any image).
fn write_image(path: &Path, i: u32) {
    image::RgbImage::from_fn(64 + 8 * i, 48 + 4 * i, |x, y| {
        image::Rgb([(x * 3 + i * 40) as u8, (y * 5) as u8, (i * 31) as u8])
    })
    .save(path)
    .unwrap();
}

fn fixture_args(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "-q",
        "screen",
        "--model",
        fixture("yolov8-tiny.onnx").to_str().unwrap(),
        "--classes",
        "person",
        "--save-detections",
    ]
    .map(String::from)
    .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn run_ok(args: &[String]) -> String {
    let o = lookout_command().args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

#[test]
fn the_union_of_n_shards_is_one_unsharded_run_for_n_1_3_and_7() {
    let tmp = tempfile::tempdir().unwrap();
    let batch = tmp.path().join("batch");
    std::fs::create_dir_all(batch.join("day2")).unwrap();
    for i in 0..6 {
        let sub = if i % 2 == 0 { "" } else { "day2/" };
        write_image(&batch.join(format!("{sub}img{i}.png")), i);
    }
    // A video (every frame with a person): an event over many frames and
    // many detection lines.
    std::fs::copy(data("sample-sortie.mp4"), batch.join("day2/sortie.mp4")).unwrap();
    // And a file named on its own, beside the folder.
    let loose = tmp.path().join("loose.png");
    write_image(&loose, 9);
    let inputs = [batch.to_str().unwrap(), loose.to_str().unwrap()];
    let total = 8;

    let out = tmp.path().join("runs");
    let mut args = fixture_args(&inputs);
    args.extend(["--stride", "8", "-o", out.to_str().unwrap()].map(String::from));
    let whole = PathBuf::from(run_ok(
        &[&args[..], &["--run-id".into(), "whole".into()]].concat(),
    ));
    let reference = Found::of(&[whole]);
    assert_eq!(reference.events.len(), total, "{reference:#?}");
    assert_eq!(reference.sources.len(), total);

    for (n, by) in [(1, "hash"), (3, "hash"), (7, "hash"), (3, "index")] {
        let runs: Vec<PathBuf> = (0..n)
            .map(|k| {
                let shard = format!("{k}/{n}");
                let id = format!("{by}-{k}-of-{n}");
                PathBuf::from(run_ok(
                    &[
                        &args[..],
                        &["--shard", &shard, "--shard-by", by, "--run-id", &id].map(String::from),
                    ]
                    .concat(),
                ))
            })
            .collect();
        check_shard_records(&runs, total, by);
        assert_eq!(Found::of(&runs), reference, "{n} shards by {by}");
    }
}

/// Runs `args` until `ready` holds for its run folder `run`, then kills
/// it with SIGKILL.
fn kill_when(args: &[String], run: &Path, what: &str, ready: impl Fn(&Path) -> bool) {
    let mut child = lookout_command()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !ready(run) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the shard ended ({status}) before {what}");
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no {what} in 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_shard_killed_part_way_and_run_again_gives_the_same_union() {
    let _turn = take_turns();
    let tmp = tempfile::tempdir().unwrap();
    let batch = tmp.path().join("batch");
    std::fs::create_dir(&batch).unwrap();
    for name in ["a.mp4", "b.mp4", "c.mp4"] {
        std::fs::copy(data("sample-sortie.mp4"), batch.join(name)).unwrap();
    }
    // By hash, shard 0 of 2 holds b.mp4 and c.mp4 (source ids 1 and 2,
    // its inputs 0 and 1), shard 1 holds a.mp4.
    let owner = |name: &str| lookout::run::shard::owner(name.as_bytes(), 2);
    assert_eq!([owner("a.mp4"), owner("b.mp4"), owner("c.mp4")], [1, 0, 0]);
    let out = tmp.path().join("runs");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = vec!["-q".into(), "screen".into()];
        a.push(batch.display().to_string());
        a.extend(
            [
                "--stride",
                "4",
                "--save-detections",
                "-o",
                out.to_str().unwrap(),
            ]
            .map(String::from),
        );
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let whole = PathBuf::from(run_ok(&args(&["--run-id", "whole"])));
    let reference = Found::of(&[whole]);
    assert!(
        reference.events.len() >= 6,
        "each copy should give a container and a vessel event: {reference:#?}"
    );

    let shard0 = args(&["--shard", "0/2", "--run-id", "s0"]);
    let run0 = out.join("s0");
    // Killed with its first input done and its second part-way.
    kill_when(&shard0, &run0, "the first input finished", |run| {
        std::fs::read(run.join("run.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|r| r["sources"][0]["finished"] == true)
    });
    assert_eq!(read_json(&run0.join("run.json"))["status"], "running");
    let run1 = PathBuf::from(run_ok(&args(&["--shard", "1/2", "--run-id", "s1"])));

    // Another shard's command with this shard's run id is refused, naming
    // the folder, and leaves it as it is.
    let o = lookout(
        &args(&["--shard", "1/2", "--run-id", "s0"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(&run0.display().to_string()) && err.contains("holds shard 0/2"),
        "{err}"
    );
    assert_eq!(read_json(&run0.join("run.json"))["status"], "running");

    // The scheduler's retry: the same command again resumes it.
    assert_eq!(run_ok(&shard0), run0.display().to_string());
    let record = read_json(&run0.join("run.json"));
    assert_eq!(record["status"], "finished");
    assert_eq!(record["resumes"][0]["skipped"], 1, "{record:#}");
    let o = lookout(&["verify", run0.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));

    check_shard_records(&[run0.clone(), run1.clone()], 3, "hash");
    assert_eq!(Found::of(&[run0.clone(), run1]), reference);

    // Once more: it finished, so it is left as it is, and that is no error.
    let before = std::fs::read(run0.join("manifest.sig")).unwrap();
    let o = lookout_command().args(&shard0).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("already finished"), "{}", stderr(&o));
    assert_eq!(std::fs::read(run0.join("manifest.sig")).unwrap(), before);
}
