//! Evidence integrity through the real binary: a screened sortie is sealed,
//! `lookout verify` accepts it, and names what was tampered with.

use std::path::Path;

use crate::util::{data, lookout, read_json, run_dir, signing_key};

fn screen_sortie(out: &Path) -> std::path::PathBuf {
    let o = lookout(&[
        "screen",
        data("sample-sortie.mp4").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    run_dir(out)
}

fn verify(args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    let o = lookout(&all);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code(), text)
}

#[test]
fn verify_accepts_a_sealed_run_and_names_what_was_changed() {
    let dir = tempfile::tempdir().unwrap();
    let run = screen_sortie(&dir.path().join("runs"));
    let run_s = run.to_str().unwrap();

    // Sealed with the key the tests use, which run.json names.
    let public = signing_key().with_extension("pub");
    let public = std::fs::read_to_string(public).unwrap();
    let run_json = read_json(&run.join("run.json"));
    assert_eq!(run_json["signing"]["public_key"], public.trim());
    let (code, out) = verify(&[run_s]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("OK:") && out.contains(public.trim()), "{out}");

    // One flipped bit in an event's untouched frame.
    let frame = run.join("events/people-in-container-s000-0001/frame.jpg");
    let mut bytes = std::fs::read(&frame).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&frame, &bytes).unwrap();
    let (code, out) = verify(&[run_s]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("events/people-in-container-s000-0001/frame.jpg: modified"),
        "{out}"
    );
    assert!(out.contains("FAILED: 1 problem(s)"), "{out}");
    bytes[mid] ^= 0x10;
    std::fs::write(&frame, &bytes).unwrap();
    assert_eq!(verify(&[run_s]).0, Some(0));

    // A key that is not trusted, then trusted with --trust: the run
    // verifies only on a machine that knows the key.
    let elsewhere = dir.path().join("elsewhere.key");
    let o = crate::util::lookout_command()
        .env("LOOKOUT_SIGNING_KEY", &elsewhere)
        .args(["verify", run_s])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("not trusted here"), "{out}");
    let o = crate::util::lookout_command()
        .env("LOOKOUT_SIGNING_KEY", &elsewhere)
        .args(["verify", run_s, "--trust", public.trim()])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // Not a run folder at all.
    let (code, out) = verify(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("not a run folder"), "{out}");
}
