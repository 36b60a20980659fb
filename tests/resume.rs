//! Runs that do not finish: SIGINT, `kill -9` at several points and a full
//! disk, each followed by `screen --resume`, which must give the events of
//! an uninterrupted run, no more and no fewer, in a run folder that
//! verifies, with the resume recorded in its manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::util::*;

/// Two copies of the sample sortie (a container event and a vessel event
/// each), every fourth frame: long enough to be stopped part-way, short
/// enough not to starve the real-time `watch` tests running beside it.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    ["first.mp4", "second.mp4"]
        .iter()
        .map(|name| {
            let p = dir.join(name);
            std::fs::copy(data("sample-sortie.mp4"), &p).unwrap();
            p
        })
        .collect()
}

fn screen_args(inputs: &[PathBuf], out: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["-q".into(), "screen".into()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend(["--stride", "4", "--run-id", "r", "-o"].map(String::from));
    args.push(out.display().to_string());
    args
}

fn spawn(args: &[String]) -> Child {
    lookout_command()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running lookout screen")
}

/// What identifies a closed event, whichever attempt wrote it.
type EventKey = (u64, u64, u64, String, u64);

/// The closed events of a run by id; panics on an id closed twice.
fn events(run: &Path) -> BTreeMap<String, EventKey> {
    let mut out = BTreeMap::new();
    for e in steps(run, "close") {
        let id = e["event_id"].as_str().unwrap().to_owned();
        let key = (
            e["start_frame"].as_u64().unwrap(),
            e["last_frame"].as_u64().unwrap(),
            e["peak_count"].as_u64().unwrap(),
            e["close_reason"].as_str().unwrap().to_owned(),
            e["source"]["id"].as_u64().unwrap(),
        );
        assert!(
            out.insert(id.clone(), key).is_none(),
            "{}: event {id} closed twice",
            run.display()
        );
    }
    out
}

/// The events of the uninterrupted run, made once for every test here.
fn reference() -> &'static BTreeMap<String, EventKey> {
    static REFERENCE: OnceLock<BTreeMap<String, EventKey>> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let inputs = inputs(tmp.path());
        let out = tmp.path().join("runs");
        let o = lookout_command()
            .args(screen_args(&inputs, &out))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let events = events(&out.join("r"));
        assert!(
            events.len() >= 4,
            "each copy should give a container and a vessel event: {events:?}"
        );
        events
    })
}

/// Polls every few milliseconds until `ready` holds, for at most a minute.
fn wait_for(child: &mut Child, what: &str, ready: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !ready() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before {what}");
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no {what} in 60 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn run_json(run: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(run.join("run.json")).ok()?).ok()
}

fn first_input_finished(run: &Path) -> bool {
    run_json(run).is_some_and(|r| r["sources"][0]["finished"] == true)
}

/// `verify`'s output for `run`, asserting that the files hold.
fn verify_holds(run: &Path) -> String {
    let o = lookout(&["verify", run.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "verify failed:\n{text}{}", stderr(&o));
    text
}

/// Resumes `run` and checks the result against the uninterrupted run.
fn resume_and_compare(run: &Path) -> serde_json::Value {
    let o = lookout(&["-q", "screen", "--resume", run.to_str().unwrap()]);
    assert!(o.status.success(), "resume failed: {}", stderr(&o));
    assert_eq!(&events(run), reference(), "{}", run.display());
    let text = verify_holds(run);
    assert!(text.contains("run finished"), "{text}");
    let record = read_json(&run.join("run.json"));
    assert_eq!(record["status"], "finished");
    let resumes = record["resumes"].as_array().unwrap();
    let last = resumes.last().expect("the resume is in run.json");
    let note = last["record"].as_str().unwrap();
    let listed = jsonl(&run.join("manifest.jsonl"))
        .iter()
        .any(|e| e["path"] == note);
    assert!(listed, "{note} is not in the manifest");
    assert!(!run.join("run.lock").exists(), "the lock outlived the run");
    read_json(&run.join(note))
}

#[test]
fn sigint_seals_the_run_as_interrupted_and_resume_skips_what_finished() {
    let _turn = take_turns();
    let tmp = tempfile::tempdir().unwrap();
    let inputs = inputs(tmp.path());
    let out = tmp.path().join("runs");
    let run = out.join("r");
    let mut child = spawn(&screen_args(&inputs, &out));
    wait_for(&mut child, "the first input finished", || {
        first_input_finished(&run)
    });
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(
        err.contains("--resume"),
        "the message says what to do: {err}"
    );
    let record = read_json(&run.join("run.json"));
    assert_eq!(record["status"], "interrupted", "{record:#}");
    assert_eq!(record["summary"]["stopped_by"], "signal");
    // Sealed: what it found before it stopped holds, and says so; an
    // export of it warns with its status.
    let text = verify_holds(&run);
    assert!(text.contains("run interrupted"), "{text}");
    let bundle = tmp.path().join("interrupted.zip");
    let o = lookout(&[
        "export",
        run.to_str().unwrap(),
        "--format",
        "bundle",
        "--events",
        "all",
        "-o",
        bundle.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the run is interrupted") && stderr(&o).contains("--resume"),
        "{}",
        stderr(&o)
    );
    assert!(bundle.is_file());

    let note = resume_and_compare(&run);
    assert_eq!(note["previous_status"], "interrupted");
    let skipped = note["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "the finished input is skipped: {note:#}");
    assert!(skipped[0].as_str().unwrap().ends_with("first.mp4"));
    assert!(note["found"]["previous_seal"].is_object(), "{note:#}");
}

#[test]
fn kill_9_at_several_points_then_resume_gives_the_events_of_an_uninterrupted_run() {
    let _turn = take_turns();
    type Point = fn(&Path) -> bool;
    let points: [(&str, Point); 3] = [
        // Mid-decode of the second input, the first one done.
        ("mid-decode", first_input_finished),
        // An event open and not yet closed.
        ("mid-event", |run| {
            let Ok(text) = std::fs::read_to_string(run.join("events.jsonl")) else {
                return false;
            };
            let lines: Vec<serde_json::Value> = text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            lines.iter().any(|l| {
                l["step"] == "open"
                    && !lines
                        .iter()
                        .any(|c| c["step"] == "close" && c["event_id"] == l["event_id"])
            })
        }),
        // The first evidence frames being written.
        ("mid-evidence", |run| {
            std::fs::read_dir(run.join("events")).is_ok_and(|mut d| d.next().is_some())
        }),
    ];
    for (name, point) in points {
        let tmp = tempfile::tempdir().unwrap();
        let inputs = inputs(tmp.path());
        let out = tmp.path().join("runs");
        let run = out.join("r");
        let mut child = spawn(&screen_args(&inputs, &out));
        wait_for(&mut child, name, || point(&run));
        child.kill().unwrap();
        child.wait().unwrap();

        // The record still says running; nobody holds the lock, so it
        // reads as interrupted, and the unsealed folder does not verify.
        assert_eq!(read_json(&run.join("run.json"))["status"], "running");
        let o = lookout(&["verify", run.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(!o.status.success(), "{name}: an unsealed run verified");
        assert!(text.contains("run interrupted"), "{name}: {text}");

        let note = resume_and_compare(&run);
        assert_eq!(note["previous_status"], "interrupted", "{name}");
    }
}

#[test]
fn a_full_disk_fails_the_run_cleanly_and_resume_finishes_it_once_space_is_freed() {
    let _turn = take_turns();
    if !is_root() {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let inputs = inputs(tmp.path());
    let mnt = tmp.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let _mount = Tmpfs::mount(&mnt, "16m");
    // Leave room for the reserve and a little evidence, no more.
    let filler = mnt.join("filler");
    let free = free_bytes(&mnt);
    let room = lookout::evidence::RESERVE_BYTES as u64 + 300 * 1024;
    std::fs::write(&filler, vec![1u8; (free - room) as usize]).unwrap();

    let out = mnt.join("runs");
    let run = out.join("r");
    let o = lookout_command()
        .args(screen_args(&inputs, &out))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("the disk is full"), "{err}");
    let record = read_json(&run.join("run.json"));
    assert_eq!(record["status"], "failed", "{record:#}");
    assert!(
        record["summary"]["error"]
            .as_str()
            .unwrap()
            .contains("No space left"),
        "{record:#}"
    );
    let leftovers: Vec<_> = walk(&run)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Sealed over what was complete: every listed file is whole.
    let text = verify_holds(&run);
    assert!(text.contains("run failed"), "{text}");

    std::fs::remove_file(&filler).unwrap();
    let note = resume_and_compare(&run);
    assert_eq!(note["previous_status"], "failed");
}

#[test]
fn resume_refuses_a_finished_run_and_flags_that_change_what_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("plain.png");
    write_png(&image, 64, 48);
    let out = tmp.path().join("runs");
    let o = lookout(&[
        "-q",
        "screen",
        image.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--run-id",
        "r",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run = out.join("r");
    let o = lookout(&["screen", "--resume", run.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("it finished"), "{}", stderr(&o));
    let o = lookout(&["screen", "--resume", run.to_str().unwrap(), "--conf", "0.1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("leave out --conf"), "{}", stderr(&o));
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_bytes(dir: &Path) -> u64 {
    let o = std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        let s = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(s.success(), "mount -t tmpfs on {} failed", dir.display());
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}
