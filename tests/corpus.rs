//! The bad-input corpus (issue 17, "Nothing lost, nothing silent"):
//! `scripts/make_bad_inputs.py` writes broken videos, images, rasters,
//! models, configs, labels, ground truth, telemetry and bundles into a
//! temporary folder, with a manifest of what each file is and what lookout
//! must do with it. This test runs every command on every bad input and
//! bad flag value, and checks for each run:
//!
//! - no panic, no crash signal, no hang (each run is killed after its
//!   timeout, and the case is named);
//! - exit code 2 (an input failed, or the command was refused), or 1 where
//!   `verify` says a bundle does not hold;
//! - a message that names the bad file, or the bad flag or setting;
//! - and, for the batch that screens bad inputs among good ones, that the
//!   good ones are still screened and the run folder verifies.
//!
//! Every problem is collected and reported together, with the case, the
//! command and what it printed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::util::*;

/// One file of the corpus, as the manifest describes it.
#[derive(Debug, Clone, serde::Deserialize)]
struct Entry {
    path: String,
    kind: String,
    expect: String,
    what: String,
    /// Configs: the setting the message must name (else the file).
    #[serde(default)]
    key: Option<String>,
    /// Datasets: the file inside the folder that the message must name.
    #[serde(default)]
    names: Option<String>,
}

impl Entry {
    /// The name a message about this file must contain.
    fn needle(&self) -> String {
        match &self.names {
            Some(inner) => file_name(inner),
            None => file_name(&self.path),
        }
    }
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The corpus, made by the script into a temporary folder.
struct Corpus {
    dir: tempfile::TempDir,
    files: Vec<Entry>,
}

impl Corpus {
    fn make() -> Corpus {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("corpus");
        let o = std::process::Command::new("python3")
            .arg(repo().join("scripts/make_bad_inputs.py"))
            .arg(&root)
            .output()
            .expect("running python3 scripts/make_bad_inputs.py");
        assert!(o.status.success(), "make_bad_inputs.py: {}", stderr(&o));
        let manifest: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let files: Vec<Entry> = serde_json::from_value(manifest["files"].clone()).unwrap();
        for f in &files {
            assert!(root.join(&f.path).exists(), "the manifest lists {}", f.path);
        }
        Corpus { dir, files }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("corpus")
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Where a case writes its output.
    fn out(&self, case: &str) -> PathBuf {
        self.dir.path().join("out").join(case)
    }

    fn of(&self, kind: &str, expect: &str) -> Vec<&Entry> {
        self.files
            .iter()
            .filter(|f| f.kind == kind && f.expect == expect)
            .collect()
    }

    fn bad(&self, kind: &str) -> Vec<&Entry> {
        self.files
            .iter()
            .filter(|f| f.kind == kind && f.expect != "good")
            .collect()
    }
}

/// What a case expects of its run.
#[derive(Debug, Clone)]
enum Expect {
    /// Exit code 2, and one of these texts in stderr.
    Fails(Vec<String>),
    /// Exit code 1 or 2 (verify: a bundle that does not hold is 1), and
    /// the text in stdout or stderr.
    DoesNotHold(String),
    /// Anything but a panic, a crash or a hang; the caller checks more.
    Sound,
}

/// One run of the binary.
struct Case {
    name: String,
    args: Vec<OsString>,
    timeout: Duration,
    expect: Expect,
    /// A screen or watch refused for its flags, config, model or labels
    /// must leave no run folder under its `-o`; one whose input fails once
    /// the run is open may.
    refused: bool,
}

/// What a run did.
struct Ran {
    name: String,
    command: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    timed_out: bool,
    took: Duration,
}

fn case(name: impl Into<String>, args: &[&dyn AsRefOs], expect: Expect) -> Case {
    let args: Vec<OsString> = args.iter().map(|a| a.os()).collect();
    let refused =
        matches!(expect, Expect::Fails(_)) && matches!(args[0].to_str(), Some("screen" | "watch"));
    Case {
        name: name.into(),
        args,
        timeout: Duration::from_secs(60),
        expect,
        refused,
    }
}

/// [`case`] for a run whose input fails once the run is open (so that it
/// may leave a run folder).
fn input_fails(name: impl Into<String>, args: &[&dyn AsRefOs], needles: &[&str]) -> Case {
    Case {
        refused: false,
        ..case(name, args, fails(needles))
    }
}

/// [`case`] from argument lists built elsewhere.
fn case_of(name: String, args: Vec<OsString>, expect: Expect) -> Case {
    let refs: Vec<&dyn AsRefOs> = args.iter().map(|a| a as &dyn AsRefOs).collect();
    case(name, &refs, expect)
}

/// Arguments given as `&str` or as paths.
trait AsRefOs {
    fn os(&self) -> OsString;
}
impl AsRefOs for &str {
    fn os(&self) -> OsString {
        OsString::from(self)
    }
}
impl AsRefOs for String {
    fn os(&self) -> OsString {
        OsString::from(self)
    }
}
impl AsRefOs for OsString {
    fn os(&self) -> OsString {
        self.clone()
    }
}
impl AsRefOs for PathBuf {
    fn os(&self) -> OsString {
        self.clone().into_os_string()
    }
}

fn fails(needles: &[&str]) -> Expect {
    Expect::Fails(needles.iter().map(|s| s.to_string()).collect())
}

/// `name` as a file name.
fn slug(name: &str) -> String {
    name.chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
        .collect()
}

/// Runs the binary for `c`, killing it at its timeout. Output goes to
/// files, so that a chatty child never blocks on a full pipe.
fn run_case(c: &Case, scratch: &Path) -> Ran {
    let slug = slug(&c.name);
    let out_path = scratch.join(format!("{slug}.stdout"));
    let err_path = scratch.join(format!("{slug}.stderr"));
    let start = Instant::now();
    let mut child = lookout_command()
        .args(&c.args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("starting lookout");
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > c.timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    Ran {
        name: c.name.clone(),
        command: format!(
            "lookout {}",
            c.args
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        code: status.code(),
        stdout: read(&out_path),
        stderr: read(&err_path),
        timed_out,
        took: start.elapsed(),
    }
}

/// Runs every case, two at a time (this suite runs on two cores), in the
/// order given.
fn run_all(cases: &[Case], scratch: &Path) -> Vec<Ran> {
    std::fs::create_dir_all(scratch).unwrap();
    let next = Mutex::new(0usize);
    let done = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(c) = cases.get(i) else { break };
                let ran = run_case(c, scratch);
                done.lock().unwrap().push((i, ran));
            });
        }
    });
    let mut done = done.into_inner().unwrap();
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Problems found, each with the case that showed it.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, ran: &Ran, what: impl std::fmt::Display) {
        self.0.push(format!(
            "{}: {what}\n  command: {}\n  exit: {:?}\n  stderr: {}\n  stdout: {}",
            ran.name,
            ran.command,
            ran.code,
            indent(&ran.stderr),
            indent(&ran.stdout)
        ));
    }

    /// No panic, no crash, no hang.
    fn sound(&mut self, ran: &Ran) -> bool {
        if ran.timed_out {
            self.add(ran, format!("still running after {:?}: killed", ran.took));
            return false;
        }
        if ran.code.is_none() {
            self.add(ran, "ended by a signal (a crash)");
            return false;
        }
        for sign in ["panicked at", "RUST_BACKTRACE"] {
            if ran.stderr.contains(sign) || ran.stdout.contains(sign) {
                self.add(ran, "panicked");
                return false;
            }
        }
        true
    }

    fn check(&mut self, ran: &Ran, expect: &Expect) {
        if !self.sound(ran) {
            return;
        }
        match expect {
            Expect::Fails(needles) => {
                if ran.code != Some(2) {
                    self.add(ran, "expected exit code 2");
                } else if !needles.iter().any(|n| ran.stderr.contains(n.as_str())) {
                    self.add(ran, format!("the message names none of {needles:?}"));
                }
            }
            Expect::DoesNotHold(needle) => {
                if !matches!(ran.code, Some(1 | 2)) {
                    self.add(ran, "expected exit code 1 or 2");
                } else if !ran.stdout.contains(needle.as_str())
                    && !ran.stderr.contains(needle.as_str())
                {
                    self.add(ran, format!("the output does not name {needle:?}"));
                }
            }
            Expect::Sound => {}
        }
    }

    fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} problem(s) with bad inputs:\n\n{}",
            self.0.len(),
            self.0.join("\n\n")
        );
    }
}

fn indent(text: &str) -> String {
    let text = text.trim_end();
    if text.is_empty() {
        return "(nothing)".into();
    }
    // Long outputs are cut to their end, where the error is.
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(12);
    lines[from..].join("\n    ")
}

/// The output folder that a refused screen or watch must leave empty.
fn refused_before_running(c: &Case) -> Option<PathBuf> {
    if !c.refused {
        return None;
    }
    let at = c.args.iter().position(|a| a == "-o")?;
    c.args.get(at + 1).map(PathBuf::from)
}

/// Folders (run folders) left under `out`.
fn runs_left(out: &Path) -> usize {
    std::fs::read_dir(out).map_or(0, |d| d.count())
}

#[test]
fn every_command_on_every_bad_input_fails_cleanly_and_names_it() {
    let started = Instant::now();
    let corpus = Corpus::make();
    let mut problems = Problems::default();
    let scratch = corpus.dir.path().join("logs");
    let good_jpg = corpus.path("images/good.jpg");
    let good_clip = corpus.path("video/good-clip.mp4");
    let demo = repo().join("models/lookout-demo.onnx");
    let coco_small = data("eval/coco-small.json");
    let no_predictions = corpus.dir.path().join("no-predictions.json");
    std::fs::write(&no_predictions, "[]").unwrap();

    // 1. One batch: every image, video and raster, good and bad together.
    let media: Vec<&Entry> = corpus
        .files
        .iter()
        .filter(|f| matches!(f.kind.as_str(), "image" | "video" | "raster"))
        .collect();
    let batch_out = corpus.out("batch");
    let mut args: Vec<OsString> = vec!["screen".into()];
    args.extend(media.iter().map(|f| corpus.path(&f.path).into_os_string()));
    // At full rate, so that every frame is decoded and damage anywhere is
    // recorded (adaptive sampling never decodes some damaged frames).
    args.extend(["--sample".into(), "full".into()]);
    args.extend(["-o".into(), batch_out.clone().into_os_string()]);
    let batch = Case {
        name: "screen batch of good and bad media".into(),
        args,
        timeout: Duration::from_secs(90),
        expect: Expect::Sound,
        refused: false,
    };

    // 2. watch: the good clip and every bad video as file feeds.
    let watch_out = corpus.out("watch");
    let mut args: Vec<OsString> = vec!["watch".into(), good_clip.clone().into_os_string()];
    args.extend(
        corpus
            .bad("video")
            .iter()
            .map(|f| corpus.path(&f.path).into_os_string()),
    );
    args.extend(["--duration", "10", "-o"].map(OsString::from));
    args.push(watch_out.clone().into_os_string());
    let watch = Case {
        name: "watch the good clip and the bad videos".into(),
        args,
        timeout: Duration::from_secs(60),
        expect: Expect::Sound,
        refused: false,
    };

    let first = run_all(&[batch, watch], &scratch);
    check_batch(&corpus, &media, &first[0], &batch_out, &mut problems);
    check_watch(&corpus, &first[1], &watch_out, &mut problems);
    let batch_run = std::fs::read_dir(&batch_out)
        .ok()
        .and_then(|mut d| d.next())
        .map(|e| e.unwrap().path());

    // 3. Every other command on every other bad input.
    let mut cases = Vec::new();
    for m in corpus.bad("model") {
        let p = corpus.path(&m.path);
        let n = m.needle();
        let out = corpus.out(&format!("model-{n}"));
        cases.push(case(
            format!("screen -m {n}"),
            &[&"screen", &good_jpg, &"-m", &p, &"-o", &out],
            fails(&[&n]),
        ));
        cases.push(case(
            format!("watch -m {n}"),
            &[
                &"watch",
                &good_clip,
                &"-m",
                &p,
                &"--duration",
                &"5",
                &"-o",
                &out,
            ],
            fails(&[&n]),
        ));
        cases.push(case(
            format!("inspect {n}"),
            &[&"inspect", &p],
            fails(&[&n]),
        ));
        cases.push(case(
            format!("eval --model {n}"),
            &[&"eval", &"--gt", &coco_small, &"--model", &p, &"-o", &out],
            fails(&[&n]),
        ));
    }
    for c in corpus.of("config", "refused") {
        let p = corpus.path(&c.path);
        let n = c.needle();
        let mut needles = vec![n.clone()];
        needles.extend(c.key.clone());
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        let out = corpus.out(&format!("config-{n}"));
        if c.key.as_deref() != Some("listen") {
            // [serve] listen is read by serve alone.
            cases.push(case(
                format!("screen -c {n} ({})", c.what),
                &[&"screen", &good_jpg, &"-c", &p, &"-o", &out],
                fails(&needles),
            ));
            cases.push(case(
                format!("watch -c {n} ({})", c.what),
                &[
                    &"watch",
                    &good_clip,
                    &"-c",
                    &p,
                    &"--duration",
                    &"5",
                    &"-o",
                    &out,
                ],
                fails(&needles),
            ));
        }
        // serve runs until stopped once its config loads: a short timeout.
        let token = "corpus-test-token-0123456789";
        let mut serve = case(
            format!("serve -c {n} ({})", c.what),
            &[
                &"serve",
                &out,
                &"-c",
                &p,
                &"--token",
                &token,
                &"--listen",
                &"127.0.0.1:0",
            ],
            fails(&needles),
        );
        if c.key.as_deref() == Some("listen") {
            // --listen would override the address at fault.
            serve.args.truncate(serve.args.len() - 2);
        }
        serve.timeout = Duration::from_secs(15);
        cases.push(serve);
    }
    for l in corpus.bad("labels") {
        let p = corpus.path(&l.path);
        let n = l.needle();
        let out = corpus.out(&format!("labels-{n}"));
        cases.push(case(
            format!("screen --labels {n} ({})", l.what),
            &[&"screen", &good_jpg, &"--labels", &p, &"-o", &out],
            fails(&[&n]),
        ));
        cases.push(case(
            format!("inspect --labels {n} ({})", l.what),
            &[&"inspect", &demo, &"--labels", &p],
            fails(&[&n]),
        ));
    }
    for g in corpus.bad("gt") {
        let p = corpus.path(&g.path);
        let n = g.needle();
        let out = corpus.out(&format!("gt-{n}"));
        cases.push(case(
            format!("eval --gt {} ({})", g.path, g.what),
            &[
                &"eval",
                &"--gt",
                &p,
                &"--predictions",
                &no_predictions,
                &"-o",
                &out,
            ],
            fails(&[&n]),
        ));
    }
    for r in corpus.bad("predictions") {
        let p = corpus.path(&r.path);
        let n = r.needle();
        let out = corpus.out(&format!("pred-{n}"));
        cases.push(case(
            format!("eval --predictions {n}"),
            &[
                &"eval",
                &"--gt",
                &coco_small,
                &"--predictions",
                &p,
                &"-o",
                &out,
            ],
            fails(&[&n]),
        ));
    }
    if let Some(run) = &batch_run {
        for e in corpus.bad("events_gt") {
            let p = corpus.path(&e.path);
            let n = e.needle();
            let out = corpus.out(&format!("events-{n}"));
            cases.push(case(
                format!("eval --events-gt {n}"),
                &[&"eval", &"--events", run, &"--events-gt", &p, &"-o", &out],
                fails(&[&n]),
            ));
        }
    }
    // telemetry on every telemetry file and every bad video; screen
    // --telemetry with each telemetry file.
    for t in corpus
        .bad("telemetry")
        .into_iter()
        .chain(corpus.bad("video"))
    {
        let p = corpus.path(&t.path);
        let n = t.needle();
        cases.push(case(
            format!("telemetry {}", t.path),
            &[&"telemetry", &p],
            fails(&[&n]),
        ));
        if t.kind == "telemetry" {
            let out = corpus.out(&format!("telemetry-{n}"));
            cases.push(input_fails(
                format!("screen --telemetry {n}"),
                &[&"screen", &good_jpg, &"--telemetry", &p, &"-o", &out],
                &[&n],
            ));
        }
    }
    for b in corpus.bad("bundle") {
        let p = corpus.path(&b.path);
        cases.push(case(
            format!("verify {}", b.path),
            &[&"verify", &p],
            Expect::DoesNotHold(b.needle()),
        ));
    }
    // Folders that are not runs.
    let not_a_run = corpus.path("images");
    cases.push(case(
        "verify a folder that is not a run",
        &[&"verify", &not_a_run],
        fails(&["images"]),
    ));
    let export_out = corpus.out("export.zip");
    cases.push(case(
        "export a folder that is not a run",
        &[
            &"export",
            &not_a_run,
            &"--format",
            &"bundle",
            &"-o",
            &export_out,
        ],
        fails(&["images"]),
    ));
    let out = corpus.out("flags");
    cases.extend(flag_cases(
        &corpus,
        &good_jpg,
        &good_clip,
        &demo,
        &coco_small,
        &out,
    ));
    cases.extend(
        batch_run
            .iter()
            .flat_map(|run| run_flag_cases(run, &corpus.out("run-flags"))),
    );

    let ran = run_all(&cases, &scratch);
    for (c, r) in cases.iter().zip(&ran) {
        problems.check(r, &c.expect);
        if let Some(out) = refused_before_running(c) {
            if runs_left(&out) > 0 {
                problems.add(r, "left a run folder behind after being refused");
            }
        }
    }
    check_serve_over_a_damaged_run(&corpus, &mut problems);
    let slowest = ran
        .iter()
        .chain(&first)
        .max_by_key(|r| r.took)
        .map(|r| format!("{} ({:?})", r.name, r.took));
    eprintln!(
        "corpus: {} runs in {:?}; slowest: {}",
        ran.len() + first.len(),
        started.elapsed(),
        slowest.unwrap_or_default()
    );
    problems.finish();
}

/// The run folder under `out` of a run that must exit 2 because some of
/// its `what` failed, with its record; `None` (with the problem noted)
/// when it crashed or left no run folder.
fn failed_run(
    ran: &Ran,
    out: &Path,
    what: &str,
    problems: &mut Problems,
) -> Option<(PathBuf, serde_json::Value)> {
    if !problems.sound(ran) {
        return None;
    }
    if ran.code != Some(2) {
        problems.add(ran, format!("expected exit code 2: {what} failed"));
    }
    let Some(run) = std::fs::read_dir(out)
        .ok()
        .and_then(|mut d| d.next())
        .map(|e| e.unwrap().path())
    else {
        problems.add(ran, "no run folder");
        return None;
    };
    let record = read_json(&run.join("run.json"));
    Some((run, record))
}

/// The batch of good and bad media: exit 2; every bad file named; the
/// good ones screened; the damage recorded; the run verifies.
fn check_batch(corpus: &Corpus, media: &[&Entry], ran: &Ran, out: &Path, problems: &mut Problems) {
    let Some((run, record)) = failed_run(ran, out, "inputs", problems) else {
        return;
    };
    let sources = record["sources"].as_array().cloned().unwrap_or_default();
    for f in media {
        let path = corpus.path(&f.path);
        let name = f.needle();
        let Some(src) = sources
            .iter()
            .find(|s| s["path"].as_str().map(Path::new) == Some(path.as_path()))
        else {
            problems.add(ran, format!("run.json has no source for {}", f.path));
            continue;
        };
        let frames = src["frames_screened"].as_u64().unwrap_or(0);
        let error = src["error"].as_str();
        match f.expect.as_str() {
            "good" => {
                if frames == 0 || error.is_some() {
                    problems.add(
                        ran,
                        format!("the good input {} was not screened: {src}", f.path),
                    );
                }
            }
            "fails" => {
                if error.is_none() {
                    problems.add(ran, format!("{} ({}) has no error: {src}", f.path, f.what));
                }
                // One line, as the log prints it and a reader greps for it.
                if error.is_some_and(|e| e.contains('\n')) {
                    problems.add(ran, format!("the error of {} spans lines: {src}", f.path));
                }
                if !ran.stderr.contains(&name) {
                    problems.add(ran, format!("stderr does not name {name} ({})", f.what));
                }
            }
            "damaged" => {
                let recorded = error.is_some() || src.get("gaps").is_some();
                if frames == 0 || !recorded {
                    problems.add(
                        ran,
                        format!(
                            "{} ({}) should be screened as far as it decodes, its damage \
                             recorded: {src}",
                            f.path, f.what
                        ),
                    );
                }
                if !ran.stderr.contains(&name) {
                    problems.add(ran, format!("stderr does not name {name} ({})", f.what));
                }
            }
            other => panic!("unknown expectation {other}"),
        }
    }
    check_verifies(ran, &run, problems);
}

fn check_verifies(ran: &Ran, run: &Path, problems: &mut Problems) {
    let v = lookout(&["verify", run.to_str().unwrap()]);
    if v.status.code() != Some(0) {
        problems.add(
            ran,
            format!(
                "its run folder does not verify: {}{}",
                String::from_utf8_lossy(&v.stdout),
                stderr(&v)
            ),
        );
    }
}

/// The watch run: the good feed screened, each bad one failed once with
/// its name, exit 2, and the run verifies.
fn check_watch(corpus: &Corpus, ran: &Ran, out: &Path, problems: &mut Problems) {
    let Some((run, record)) = failed_run(ran, out, "feeds", problems) else {
        return;
    };
    let feeds = record["feeds"].as_array().cloned().unwrap_or_default();
    let feed_named = |name: &str| feeds.iter().find(|f| f.to_string().contains(name)).cloned();
    match feed_named("good-clip.mp4") {
        Some(f) if f["frames_in"].as_u64().unwrap_or(0) > 0 && f["error"].is_null() => {}
        other => problems.add(ran, format!("the good clip was not screened: {other:?}")),
    }
    for v in corpus.bad("video") {
        let name = v.needle();
        match feed_named(&name) {
            Some(f) if v.expect == "fails" && f["error"].is_null() => problems.add(
                ran,
                format!("the feed {name} ({}) has no error: {f}", v.what),
            ),
            Some(f) if f["reconnects"].as_u64().unwrap_or(0) > 0 => {
                problems.add(ran, format!("the file feed {name} was retried: {f}"))
            }
            Some(_) => {}
            None => problems.add(ran, format!("run.json has no feed {name}")),
        }
        if !ran.stderr.contains(&name) {
            problems.add(ran, format!("stderr does not name {name} ({})", v.what));
        }
    }
    check_verifies(ran, &run, problems);
}

/// Bad flag values of every command, each refused with the flag (or the
/// setting it overrides) named.
fn flag_cases(
    corpus: &Corpus,
    jpg: &PathBuf,
    clip: &PathBuf,
    demo: &Path,
    coco: &Path,
    out: &Path,
) -> Vec<Case> {
    let tif = corpus.path("rasters/good.tif");
    let mut cases = Vec::new();
    let screen: &[(&[&str], &[&str])] = &[
        (&["--conf", "2"], &["detect.conf", "--conf"]),
        (&["--conf", "nan"], &["detect.conf", "--conf"]),
        (&["--iou=-0.5"], &["detect.iou", "--iou"]),
        // A negative value after a space is a value, not a flag.
        (&["--iou", "-0.5"], &["detect.iou", "--iou"]),
        (&["--fps", "-1"], &["sampling.fps", "--fps"]),
        (&["--threads", "-1"], &["--threads"]),
        (&["--stride", "0"], &["sampling.stride", "--stride"]),
        (&["--fps", "0"], &["sampling.fps", "--fps"]),
        (&["--fps", "nan"], &["sampling.fps", "--fps"]),
        (&["--fps", "inf"], &["sampling.fps", "--fps"]),
        (&["--fps=-1"], &["sampling.fps", "--fps"]),
        (&["--overlap", "1.5"], &["tile.overlap", "--overlap"]),
        (&["--overlap", "nan"], &["tile.overlap", "--overlap"]),
        (&["--batch", "0"], &["model.batch", "--batch"]),
        (&["--family", "yolov99"], &["yolov99"]),
        (&["--device", "warp-drive"], &["model.device", "warp-drive"]),
        (&["--imgsz", "99999"], &["model.imgsz", "--imgsz"]),
        (&["--tile", "abc"], &["--tile"]),
        (&["--threads=-1"], &["--threads"]),
        (&["--jobs=-1"], &["--jobs"]),
        (&["--classes", "unicorn"], &["unicorn"]),
        (
            &["--ort-lib", "/nonexistent/libonnxruntime.so"],
            &["/nonexistent/libonnxruntime.so"],
        ),
    ];
    for (flags, needles) in screen {
        let mut args: Vec<OsString> = vec!["screen".into(), jpg.clone().into()];
        args.extend(flags.iter().map(OsString::from));
        let name = format!("screen {}", flags.join(" "));
        args.extend(["-o".into(), out.join(slug(&name)).into()]);
        cases.push(case_of(name, args, fails(needles)));
    }
    for (flags, needles) in [
        (
            &["--bands", "0"][..],
            &["raster.bands", "--bands", "band"][..],
        ),
        (&["--bands", "9,9,9"], &["raster.bands", "--bands", "band"]),
    ] {
        let mut args: Vec<OsString> = vec!["screen".into(), tif.clone().into()];
        args.extend(flags.iter().map(OsString::from));
        let name = format!("screen good.tif {}", flags.join(" "));
        args.extend(["-o".into(), out.join(slug(&name)).into()]);
        // Bands are checked against the raster when it opens.
        let mut c = case_of(name, args, fails(needles));
        c.refused = false;
        cases.push(c);
    }
    let watch: &[(&[&str], &[&str])] = &[
        (&["--timeout", "nan"], &["--timeout"]),
        (&["--timeout=-1"], &["--timeout"]),
        (&["--lost-grace", "inf"], &["--lost-grace"]),
        (&["--lost-grace=-3"], &["--lost-grace"]),
        (&["--timeout", "-1"], &["--timeout"]),
        (&["--metrics", "not-an-address"], &["--metrics"]),
        (
            &["--webhook", "ftp://example.invalid/hook"],
            &["ftp://example.invalid/hook"],
        ),
        (&["--rtsp-transport", "pigeon"], &["--rtsp-transport"]),
    ];
    for (flags, needles) in watch {
        let mut args: Vec<OsString> = vec!["watch".into(), clip.clone().into()];
        args.extend(flags.iter().map(OsString::from));
        args.extend(["--duration", "5", "-o"].map(OsString::from));
        let name = format!("watch {}", flags.join(" "));
        args.push(out.join(slug(&name)).into());
        cases.push(case_of(name, args, fails(needles)));
    }
    // Files to write where no file can be: under a file, not a folder.
    let under_a_file = jpg.join("signing.key");
    cases.push(case(
        "screen --signing-key under a file",
        &[
            &"screen",
            jpg,
            &"--signing-key",
            &under_a_file,
            &"-o",
            &out.join("signing-key"),
        ],
        fails(&["signing.key"]),
    ));
    let alerts = jpg.join("alerts.jsonl");
    cases.push(case(
        "watch --alerts under a file",
        &[
            &"watch",
            clip,
            &"--alerts",
            &alerts,
            &"--duration",
            &"5",
            &"-o",
            &out.join("alerts"),
        ],
        fails(&["alerts.jsonl"]),
    ));
    cases.push(case(
        "watch a feed that is no file, URL nor [[feed]] name",
        &[
            &"watch",
            &"no-such-feed",
            &"--duration",
            &"5",
            &"-o",
            &out.join("no-such-feed"),
        ],
        fails(&["no-such-feed"]),
    ));
    let eval_out = out.join("eval");
    let eval: &[(&[&str], &[&str])] = &[
        (&["--max-dets", "0"], &["--max-dets"]),
        (&["--pr-threshold", "nan"], &["--pr-threshold"]),
        (&["--pr-threshold", "2"], &["--pr-threshold"]),
        (&["--map", "=,=,=="], &["--map", "=,=,=="]),
        (&["--gt-format", "voc"], &["voc"]),
    ];
    let preds = corpus.dir.path().join("no-predictions.json");
    for (flags, needles) in eval {
        let mut args: Vec<OsString> = vec![
            "eval".into(),
            "--gt".into(),
            coco.as_os_str().to_owned(),
            "--predictions".into(),
            preds.clone().into(),
        ];
        args.extend(flags.iter().map(OsString::from));
        args.extend(["-o".into(), eval_out.clone().into()]);
        cases.push(case_of(
            format!("eval {}", flags.join(" ")),
            args,
            fails(needles),
        ));
    }
    for (flags, needles) in [
        (&["--imgsz", "0"][..], &["--imgsz", "imgsz"][..]),
        (&["--family", "yolov99"], &["yolov99"]),
    ] {
        let mut args: Vec<OsString> = vec!["inspect".into(), demo.as_os_str().to_owned()];
        args.extend(flags.iter().map(OsString::from));
        cases.push(case_of(
            format!("inspect {}", flags.join(" ")),
            args,
            fails(needles),
        ));
    }
    let serve_root = out.join("serve");
    for (flags, needles) in [
        (&["--token", "short"][..], &["token"][..]),
        (&["--listen", "nowhere"], &["--listen"]),
        (&["--trust", "not-a-key"], &["not-a-key"]),
    ] {
        let mut args: Vec<OsString> = vec!["serve".into(), serve_root.clone().into()];
        args.extend(flags.iter().map(OsString::from));
        if flags[0] != "--listen" {
            args.extend(["--listen", "127.0.0.1:0"].map(OsString::from));
        }
        let mut serve = case_of(format!("serve {}", flags.join(" ")), args, fails(needles));
        serve.timeout = Duration::from_secs(15);
        cases.push(serve);
    }
    cases.push(case(
        "verify --trust not-a-key",
        &[&"verify", &corpus.path("images"), &"--trust", &"not-a-key"],
        fails(&["not-a-key"]),
    ));
    cases.push(case(
        "telemetry a folder",
        &[&"telemetry", &corpus.path("telemetry")],
        fails(&["telemetry"]),
    ));
    cases
}

/// Bad flags of the commands that take a run folder: export and verify.
fn run_flag_cases(run: &Path, out: &Path) -> Vec<Case> {
    let run = run.to_path_buf();
    vec![
        case(
            "export --face-threshold 2",
            &[
                &"export",
                &run,
                &"--format",
                &"bundle",
                &"--face-threshold",
                &"2",
                &"-o",
                &out.join("a.zip"),
            ],
            fails(&["--face-threshold"]),
        ),
        case(
            "export --format pdf",
            &[&"export", &run, &"--format", &"pdf", &"-o", &out.join("b")],
            fails(&["--format", "pdf"]),
        ),
        case(
            "export --events of no such id",
            &[
                &"export",
                &run,
                &"--format",
                &"geojson",
                &"--events",
                &"no-such-event",
                &"-o",
                &out.join("c.geojson"),
            ],
            fails(&["no-such-event"]),
        ),
        case(
            "export --redact with a GeoJSON",
            &[
                &"export",
                &run,
                &"--format",
                &"geojson",
                &"--redact",
                &"-o",
                &out.join("d.geojson"),
            ],
            fails(&["--redact"]),
        ),
        case(
            "export into the run itself",
            &[
                &"export",
                &run,
                &"--format",
                &"coco",
                &"-o",
                &run.join("export"),
            ],
            fails(&["run"]),
        ),
    ]
}

/// serve over a folder holding a damaged run (its manifest is random
/// bytes) and a good one: it starts, answers, names the damaged run, and
/// stops when asked.
fn check_serve_over_a_damaged_run(corpus: &Corpus, problems: &mut Problems) {
    let root = corpus.out("serve-root");
    let damaged = root.join("damaged-run");
    std::fs::create_dir_all(&damaged).unwrap();
    std::fs::write(
        damaged.join("manifest.jsonl"),
        b"\x00\x9fnot json\n{\"seq\":",
    )
    .unwrap();
    std::fs::write(damaged.join("run.json"), b"{\"id\": 3").unwrap();
    let err_path = corpus.dir.path().join("serve.stderr");
    let mut child = lookout_command()
        .args(["serve"])
        .arg(&root)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--token",
            "corpus-test-token-0123456789",
        ])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    // The first line of stdout is the address, printed once listening.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let url = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    // The address line is `http://ADDR/?token=…`; the API takes the token
    // as a bearer token.
    let answered = url.split_once("/?token=").is_some_and(|(base, token)| {
        ureq::get(format!("{base}/api/events"))
            .header("Authorization", format!("Bearer {}", token.trim()))
            .call()
            .is_ok_and(|r| r.status().is_success())
    });
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let status = child.wait().unwrap();
    let ran = Ran {
        name: "serve over a damaged run".into(),
        command: format!("lookout serve {} --listen 127.0.0.1:0", root.display()),
        code: if still_running {
            Some(0)
        } else {
            status.code()
        },
        stdout: url.clone(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
        timed_out: false,
        took: Duration::ZERO,
    };
    if !problems.sound(&ran) {
        return;
    }
    if !still_running || !answered {
        problems.add(
            &ran,
            "did not start and answer over a folder with a damaged run",
        );
    } else if !ran.stderr.contains("damaged-run") {
        problems.add(&ran, "does not name the damaged run");
    }
}

/// A file feed damaged in the middle: as `screen` does in `sources[]`,
/// `watch` records the frames lost in `feeds[].gaps` and
/// `summary.frames_lost`.
#[test]
fn watch_records_the_frames_a_damaged_file_feed_lost() {
    let corpus = Corpus::make();
    let out = corpus.out("watch-gaps");
    let o = lookout_command()
        .arg("watch")
        .arg(corpus.path("video/noise-middle.mp4"))
        .args(["--duration", "10", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("could not be decoded"),
        "{}",
        stderr(&o)
    );
    let run = read_json(&run_dir(&out).join("run.json"));
    let feed = &run["feeds"][0];
    let gaps = feed["gaps"].as_array().cloned().unwrap_or_default();
    assert!(!gaps.is_empty(), "{feed}");
    let lost: u64 = gaps.iter().map(|g| g["frames"].as_u64().unwrap()).sum();
    assert!(lost > 0, "{feed}");
    assert_eq!(
        run["summary"]["frames_lost"].as_u64(),
        Some(lost),
        "{}",
        run["summary"]
    );
}
