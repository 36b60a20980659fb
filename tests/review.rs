//! Evidence integrity through the real binary: a screened sortie is sealed,
//! `lookout verify` accepts it, and names what was tampered with.

use std::path::Path;

use crate::util::{data, lookout, read_json, run_dir, signing_key, test_signer};

pub(crate) fn screen_sortie(out: &Path) -> std::path::PathBuf {
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

/// `lookout serve` on `runs`, on a free port, with `token`; returns the
/// child and the base address.
fn serve(runs: &Path, token: &str) -> (std::process::Child, String) {
    serve_with(runs, token, &[])
}

/// As [`serve`], with more arguments.
pub(crate) fn serve_with(
    runs: &Path,
    token: &str,
    extra: &[&str],
) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = crate::util::lookout_command()
        .args([
            "serve",
            runs.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--token",
            token,
        ])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().split("/?token=").next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    (child, base)
}

/// A raw HTTP request, so that paths reach the server exactly as written.
pub(crate) fn http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).unwrap();
    let out = String::from_utf8_lossy(&bytes).into_owned();
    let code = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out)
}

#[test]
fn the_review_server_wants_its_token_serves_only_evidence_and_records_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let run = screen_sortie(&runs);
    let token = "a-test-token-of-some-length";
    let (mut child, base) = serve(&runs, token);
    let auth = format!("Bearer {token}");
    let ok = [("Authorization", auth.as_str())];

    // No token, a wrong one, a wrong cookie: 401 everywhere.
    for path in ["/", "/api/events", "/app.js", "/files/x/events.jsonl"] {
        assert_eq!(http(&base, "GET", path, &[], "").0, 401, "{path}");
    }
    assert_eq!(
        http(
            &base,
            "GET",
            "/api/events",
            &[("Authorization", "Bearer wrong-token-of-some-length")],
            ""
        )
        .0,
        401
    );
    assert_eq!(
        http(
            &base,
            "GET",
            "/api/events",
            &[("Cookie", "lookout_token=nope")],
            ""
        )
        .0,
        401
    );
    // The printed address sets the cookie, which then works.
    let (code, head) = http(&base, "GET", &format!("/?token={token}"), &[], "");
    assert_eq!(code, 303);
    assert!(head.contains("HttpOnly; SameSite=Strict"), "{head}");
    let cookie = format!("lookout_token={token}");
    let (code, page) = http(&base, "GET", "/", &[("Cookie", &cookie)], "");
    assert_eq!(code, 200);
    for h in [
        "content-security-policy: default-src 'none'",
        "x-content-type-options: nosniff",
        "x-frame-options: DENY",
    ] {
        assert!(page.to_lowercase().contains(&h.to_lowercase()), "{h}");
    }

    // Only files the manifest lists: traversal, the database and the key
    // are all 404.
    let run_id = run.file_name().unwrap().to_str().unwrap();
    let frame = format!("/files/{run_id}/events/people-in-container-s000-0001/frame.jpg");
    let (code, full) = http(&base, "GET", &frame, &ok, "");
    assert_eq!(code, 200);
    // The list's thumbnails are small copies, under the same rule.
    let (code, small) = http(&base, "GET", &frame.replace("/files/", "/thumbs/"), &ok, "");
    assert_eq!(code, 200);
    assert!(
        small.len() * 5 < full.len(),
        "{} vs {}",
        small.len(),
        full.len()
    );
    assert_eq!(
        http(
            &base,
            "GET",
            &format!("/thumbs/{run_id}/review.sqlite"),
            &ok,
            ""
        )
        .0,
        404
    );
    assert_eq!(
        http(
            &base,
            "GET",
            &format!("/thumbs/{run_id}/../../etc/passwd"),
            &ok,
            ""
        )
        .0,
        404
    );
    for path in [
        format!("/files/{run_id}/../../etc/passwd"),
        format!("/files/{run_id}/%2e%2e/%2e%2e/etc/passwd"),
        format!("/files/{run_id}/..%2f..%2fetc%2fpasswd"),
        format!("/files/{run_id}/review.sqlite"),
        format!("/files/{run_id}/manifest.sig"),
        "/files/../runs/x".to_owned(),
        "/files/%2e%2e/etc/passwd".to_owned(),
        format!("/files/{run_id}//etc/passwd"),
    ] {
        assert_eq!(http(&base, "GET", &path, &ok, "").0, 404, "{path}");
    }

    // A verdict needs the CSRF token; then it is stored with its audit row.
    let (_, session) = http(&base, "GET", "/api/session", &ok, "");
    let csrf = session
        .split("\"csrf\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let target = format!("/api/events/{run_id}/overcrowded-vessel-s000-0002/verdict");
    let body = r#"{"status": "rejected", "reviewer": "ana", "note": "fishing crew"}"#;
    let json = ("Content-Type", "application/json");
    assert_eq!(http(&base, "POST", &target, &[ok[0], json], body).0, 403);
    assert_eq!(
        http(
            &base,
            "POST",
            &target,
            &[
                ok[0],
                json,
                ("X-CSRF-Token", &csrf),
                ("Origin", "http://evil.example")
            ],
            body
        )
        .0,
        403
    );
    let (code, reply) = http(
        &base,
        "POST",
        &target,
        &[ok[0], json, ("X-CSRF-Token", &csrf)],
        body,
    );
    assert_eq!(code, 200, "{reply}");
    let missing = format!("/api/events/{run_id}/no-such-event/verdict");
    assert_eq!(
        http(
            &base,
            "POST",
            &missing,
            &[ok[0], json, ("X-CSRF-Token", &csrf)],
            body
        )
        .0,
        404
    );
    // A run that finishes while the server runs shows up in the list.
    let (_, before) = http(&base, "GET", "/api/events?limit=1", &ok, "");
    assert!(before.contains("\"total\":2"), "{before}");
    let o = lookout(&[
        "screen",
        data("sample-sortie.mp4").to_str().unwrap(),
        "--out",
        runs.to_str().unwrap(),
        "--run-id",
        "later",
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (_, after) = http(&base, "GET", "/api/events?run=later", &ok, "");
    assert!(
        after.contains("\"total\":2") && after.contains("\"run\":\"later\""),
        "{after}"
    );
    let (_, all) = http(&base, "GET", "/api/events?limit=1", &ok, "");
    assert!(all.contains("\"total\":4"), "{all}");
    let _ = child.kill();
    let _ = child.wait();

    let db = rusqlite::Connection::open(run.join("review.sqlite")).unwrap();
    let (status, reviewer, note): (String, String, String) = db
        .query_row("SELECT status, reviewer, note FROM verdict WHERE event_id = 'overcrowded-vessel-s000-0002'", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(
        (status.as_str(), reviewer.as_str(), note.as_str()),
        ("rejected", "ana", "fishing crew")
    );
    let audit: i64 = db
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    assert_eq!(audit, 1);
    let (code, out) = verify(&[run.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");

    // A verdict edited behind the server's back is named by verify.
    db.execute("UPDATE verdict SET status = 'confirmed'", [])
        .unwrap();
    drop(db);
    let (code, out) = verify(&[run.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("the verdict on overcrowded-vessel-s000-0002 (confirmed) was edited"),
        "{out}"
    );
}

/// End to end in headless Chromium (Debian's `chromium` and
/// `chromium-driver`, installed by `scripts/setup.sh`): open the review
/// page with the printed address, open the first event with the keyboard,
/// write a note, confirm with `c`, and find the verdict and its audit row
/// in the run's review database.
#[test]
fn a_reviewer_confirms_an_event_with_the_keyboard_in_chromium() {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    use fantoccini::key::Key;
    use fantoccini::{ClientBuilder, Locator};

    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let run = screen_sortie(&runs);
    let token = "browser-test-token-0123456789";
    let (mut server, base) = serve(&runs, token);
    let run_id = run.file_name().unwrap().to_str().unwrap().to_owned();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut driver = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromium-driver is not installed: run scripts/setup.sh");
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t0.elapsed().as_secs() < 30, "chromedriver did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let profile = dir.path().join("chromium-profile");
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut caps = serde_json::Map::new();
            caps.insert(
                "goog:chromeOptions".into(),
                serde_json::json!({"args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.display()),
                ]}),
            );
            let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
                .expect("a Chromium session");
            let steps = async {
                let press = |k: char| {
                    KeyActions::new("keyboard".into())
                        .then(KeyAction::Down { value: k })
                        .then(KeyAction::Up { value: k })
                };
                c.goto(&format!("{base}/?token={token}")).await?;
                c.wait()
                    .for_element(Locator::Css("#event-list tbody tr"))
                    .await?;
                c.find(Locator::Id("reviewer"))
                    .await?
                    .send_keys("Ana Analyst")
                    .await?;
                c.perform_actions(press(Key::Escape.into())).await?;
                c.perform_actions(press(Key::Enter.into())).await?;
                let title = c.wait().for_element(Locator::Id("event-title")).await?;
                let t0 = std::time::Instant::now();
                while !title
                    .text()
                    .await?
                    .contains("people-in-container-s000-0001")
                {
                    assert!(t0.elapsed().as_secs() < 20, "the event did not open");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                c.perform_actions(press('n')).await?;
                c.find(Locator::Id("note"))
                    .await?
                    .send_keys("eleven people in the box")
                    .await?;
                c.perform_actions(press(Key::Escape.into())).await?;
                c.perform_actions(press('c')).await?;
                let message = c.find(Locator::Id("message")).await?;
                let t0 = std::time::Instant::now();
                while !message.text().await?.contains("new → confirmed") {
                    assert!(
                        t0.elapsed().as_secs() < 20,
                        "no verdict: {:?}",
                        message.text().await
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                // Triage moved on to the next event.
                let t0 = std::time::Instant::now();
                while !title.text().await?.contains("overcrowded-vessel-s000-0002") {
                    assert!(t0.elapsed().as_secs() < 20, "did not move on");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                // Another reviewer decides the open event first (another
                // tab, or another serve on the same store). This reviewer's
                // verdict is refused with the other's named, and the page
                // shows the event as it now is.
                let auth = ("Authorization", format!("Bearer {token}"));
                let auth = [(auth.0, auth.1.as_str())];
                let csrf = csrf(&base, &auth);
                let (code, reply) = http(
                    &base,
                    "POST",
                    &format!("/api/events/{run_id}/overcrowded-vessel-s000-0002/verdict"),
                    &[
                        auth[0],
                        ("Content-Type", "application/json"),
                        ("X-CSRF-Token", &csrf),
                    ],
                    r#"{"status": "escalated", "reviewer": "Ben Other", "expect": "new"}"#,
                );
                assert_eq!(code, 200, "{reply}");
                c.perform_actions(press('r')).await?;
                let t0 = std::time::Instant::now();
                while !message
                    .text()
                    .await?
                    .contains("another reviewer decided first")
                {
                    assert!(
                        t0.elapsed().as_secs() < 20,
                        "no conflict shown: {:?}",
                        message.text().await
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                let audit = c.find(Locator::Id("audit")).await?.text().await?;
                assert!(audit.contains("Ben Other: new → escalated"), "{audit}");
                Ok::<_, fantoccini::error::CmdError>(())
            }
            .await;
            let _ = c.close().await;
            steps
        });
    let _ = server.kill();
    let _ = server.wait();
    let _ = driver.kill();
    let _ = driver.wait();
    result.unwrap();

    let db = rusqlite::Connection::open(run.join("review.sqlite")).unwrap();
    let verdict: (String, String, String) = db
        .query_row(
            "SELECT status, reviewer, note FROM verdict WHERE event_id = 'people-in-container-s000-0001'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        verdict,
        (
            "confirmed".into(),
            "Ana Analyst".into(),
            "eleven people in the box".into()
        )
    );
    let audit: Vec<(String, String, String)> = db
        .prepare("SELECT event_id, from_status, to_status FROM audit ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        audit,
        [
            (
                "people-in-container-s000-0001".into(),
                "new".into(),
                "confirmed".into()
            ),
            (
                "overcrowded-vessel-s000-0002".into(),
                "new".into(),
                "escalated".into()
            )
        ]
    );
    let (code, out) = verify(&[run.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
}

/// Rewrites a zip with `change` applied to each (name, bytes).
fn rewrite_zip(path: &Path, change: impl Fn(&str, &mut Vec<u8>)) {
    let mut files = Vec::new();
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut bytes).unwrap();
        change(&name, &mut bytes);
        files.push((name, bytes));
    }
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in files {
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut w, &bytes).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn exports_of_reviewed_events_verify_and_tampered_bundles_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = screen_sortie(&dir.path().join("runs"));
    let run_s = run.to_str().unwrap();
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();

    // Nothing reviewed yet: the default (confirmed) selection is empty.
    let o = lookout(&["export", run_s, "--format", "bundle", "-o", &out("b.zip")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no events are confirmed"));

    confirm_first_event(&run);

    // The bundle carries the confirmed event only, and verifies.
    let o = lookout(&["export", run_s, "--format", "bundle", "-o", &out("b.zip")]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let names: Vec<String> = zip::ZipArchive::new(std::fs::File::open(out("b.zip")).unwrap())
        .unwrap()
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n == "events/people-in-container-s000-0001/frame.jpg"),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.contains("overcrowded-vessel") || n == "events.jsonl"),
        "{names:?}"
    );
    let (code, text) = verify(&[&out("b.zip")]);
    assert_eq!(code, Some(0), "{text}");

    // One flipped byte in the bundled frame.
    std::fs::copy(out("b.zip"), out("flipped.zip")).unwrap();
    rewrite_zip(Path::new(&out("flipped.zip")), |name, bytes| {
        if name.ends_with("people-in-container-s000-0001/frame.jpg") {
            bytes[1000] ^= 0x04;
        }
    });
    let (code, text) = verify(&[&out("flipped.zip")]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("events/people-in-container-s000-0001/frame.jpg: modified"),
        "{text}"
    );

    // An edited verdict in the bundle's review record.
    std::fs::copy(out("b.zip"), out("verdict.zip")).unwrap();
    rewrite_zip(Path::new(&out("verdict.zip")), |name, bytes| {
        if name == "review.json" {
            let t = String::from_utf8(bytes.clone()).unwrap();
            *bytes = t
                .replace("\"status\": \"confirmed\"", "\"status\": \"rejected\"")
                .into_bytes();
        }
    });
    let (code, text) = verify(&[&out("verdict.zip")]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("verdict on people-in-container-s000-0001 (rejected) was edited"),
        "{text}"
    );

    // The same bundle re-signed with another key.
    std::fs::copy(out("b.zip"), out("resigned.zip")).unwrap();
    let forger = lookout::evidence::seal::RunSigner::from_seed([42u8; 32]);
    rewrite_zip(Path::new(&out("resigned.zip")), |name, bytes| {
        if name == "manifest.sig" || name == "bundle.sig" {
            let s: lookout::evidence::seal::Seal = serde_json::from_slice(bytes).unwrap();
            *bytes = serde_json::to_vec(&forger.seal(s.entries, &s.head)).unwrap();
        }
    });
    let (code, text) = verify(&[&out("resigned.zip")]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("bundle.sig: signed by key") && text.contains("not trusted here"),
        "{text}"
    );

    // Annotations for retraining, from every event.
    for (format, file) in [
        ("coco", "annotations.json"),
        ("cvat", "annotations.xml"),
        ("labelstudio", "tasks.json"),
    ] {
        let o = lookout(&[
            "export",
            run_s,
            "--format",
            format,
            "--events",
            "all",
            "-o",
            &out(format),
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(dir.path().join(format).join(file).is_file());
        assert!(dir
            .path()
            .join(format)
            .join("images/overcrowded-vessel-s000-0002.jpg")
            .is_file());
    }
    let coco = read_json(&dir.path().join("coco/annotations.json"));
    assert_eq!(coco["images"].as_array().unwrap().len(), 2);
    let event = read_json(&run.join("events/people-in-container-s000-0001/event.json"));
    let boxes = event["best_frame"]["tracks"].as_array().unwrap();
    let first: Vec<&serde_json::Value> = coco["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["image_id"] == 1)
        .collect();
    assert_eq!(first.len(), boxes.len());
    let b = boxes[0]["box"].as_array().unwrap();
    let a = first[0]["bbox"].as_array().unwrap();
    assert!((a[0].as_f64().unwrap() - b[0].as_f64().unwrap()).abs() < 1e-6);
    assert!(
        (a[2].as_f64().unwrap() - (b[2].as_f64().unwrap() - b[0].as_f64().unwrap())).abs() < 1e-6
    );
    let ls = read_json(&dir.path().join("labelstudio/tasks.json"));
    let x = ls[0]["predictions"][0]["result"][0]["value"]["x"]
        .as_f64()
        .unwrap();
    assert!((x - b[0].as_f64().unwrap() / 1280.0 * 100.0).abs() < 1e-6);

    // The sortie is video: no positions, so no GeoJSON, and a clear reason.
    let o = lookout(&[
        "export",
        run_s,
        "--format",
        "geojson",
        "--events",
        "all",
        "-o",
        &out("e.geojson"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has a position"));

    // The run itself is untouched by all this.
    let (code, text) = verify(&[run_s]);
    assert_eq!(code, Some(0), "{text}");
}

/// Reads one file of a zip.
pub(crate) fn zip_file(path: &Path, name: &str) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut f = zip.by_name(name).unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut f, &mut bytes).unwrap();
    bytes
}

#[test]
fn a_redacted_export_differs_from_the_run_only_inside_its_regions() {
    let dir = tempfile::tempdir().unwrap();
    let run = screen_sortie(&dir.path().join("runs"));
    let run_s = run.to_str().unwrap();
    let out = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();

    // The sortie has no faces and no person outside an event, so containers
    // stand in for bystanders: every container that is not an event's anchor
    // is blurred, which gives many regions to check.
    let o = lookout(&[
        "export",
        run_s,
        "--format",
        "bundle",
        "--events",
        "all",
        "--redact",
        "--redact-classes",
        "person,container",
        "-o",
        &out("r.zip"),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("redacted: "), "{stderr}");
    let zip_path = Path::new(&out("r.zip")).to_owned();
    let (code, text) = verify(&[&out("r.zip")]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("4 redacted copies"), "{text}");

    let names: Vec<String> = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap())
        .unwrap()
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.ends_with(".jpg")),
        "no untouched frame leaves with --redact: {names:?}"
    );
    let info: lookout::evidence::bundle::BundleRecord =
        serde_json::from_slice(&zip_file(&zip_path, "bundle.json")).unwrap();
    let redaction = info.redaction.expect("bundle.json records the redaction");
    assert_eq!(redaction.classes, ["person", "container"]);
    assert_eq!(redaction.files.len(), 4);

    let mut regions_seen = 0;
    for f in &redaction.files {
        let copy = image::load_from_memory(&zip_file(&zip_path, &f.path))
            .unwrap()
            .to_rgb8();
        let original = image::open(run.join(&f.from)).unwrap().to_rgb8();
        assert_eq!(copy.dimensions(), original.dimensions());
        let mut changed = vec![0usize; f.regions.len()];
        for (x, y, p) in original.enumerate_pixels() {
            let same = copy.get_pixel(x, y) == p;
            let owners: Vec<usize> = (0..f.regions.len())
                .filter(|&i| f.regions[i].contains(x, y))
                .collect();
            assert!(
                !owners.is_empty() || same,
                "{}: pixel ({x}, {y}) changed outside every region",
                f.path
            );
            for i in owners {
                changed[i] += usize::from(!same);
            }
        }
        for (i, n) in changed.iter().enumerate() {
            assert!(*n > 0, "{}: region {i} was not blurred", f.path);
        }
        regions_seen += f.regions.len();
    }
    assert!(regions_seen >= 4, "{regions_seen} regions");

    // A blurred copy changed after export is named.
    std::fs::copy(&zip_path, out("tampered.zip")).unwrap();
    let target = redaction.files[0].path.clone();
    rewrite_zip(Path::new(&out("tampered.zip")), |name, bytes| {
        if name == target {
            let n = bytes.len();
            bytes[n / 2] ^= 0x01;
        }
    });
    let (code, text) = verify(&[&out("tampered.zip")]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&format!("{target}: modified")), "{text}");

    // Training exports carry redacted PNGs and say so.
    let o = lookout(&[
        "export",
        run_s,
        "--format",
        "coco",
        "--events",
        "all",
        "--redact",
        "-o",
        &out("coco"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let coco = read_json(&dir.path().join("coco/annotations.json"));
    for img in coco["images"].as_array().unwrap() {
        let name = img["file_name"].as_str().unwrap();
        assert!(name.ends_with(".png"), "{name}");
        assert!(dir.path().join("coco").join(name).is_file());
    }
    let record = read_json(&dir.path().join("coco/redaction.json"));
    assert_eq!(record["files"].as_array().unwrap().len(), 2);
    assert_eq!(record["face_model"]["sha256"].as_str().unwrap().len(), 64);

    // GeoJSON has no frames to redact.
    let o = lookout(&[
        "export", run_s, "--format", "geojson", "--events", "all", "--redact",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("GeoJSON has none"));

    // The originals in the run stay as sealed.
    let (code, text) = verify(&[run_s]);
    assert_eq!(code, Some(0), "{text}");
}

/// `lookout screen` of one small image into `runs`, with `env` set (and
/// neither `LOOKOUT_SIGNING_KEY` nor `XDG_CONFIG_HOME` unless given).
fn screen_with_key(
    image: &Path,
    runs: &Path,
    extra: &[&str],
    env: &[(&str, &Path)],
) -> std::process::Output {
    let mut c = crate::util::lookout_command();
    c.env_remove("LOOKOUT_SIGNING_KEY")
        .env_remove("XDG_CONFIG_HOME")
        .args(["screen", image.to_str().unwrap(), "--quiet", "--out"])
        .arg(runs)
        .args(extra);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn the_signing_key_goes_where_flag_config_or_environment_say_and_errors_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("still.png");
    crate::util::write_png(&image, 64, 48);
    // A home folder that cannot be made, even by root: its parent is a file.
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let home = blocker.join("home");

    let runs = dir.path().join("runs");
    let o = screen_with_key(&image, &runs, &[], &[("HOME", &home)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let wanted = home.join(".config/lookout/signing.key");
    for part in [
        wanted.to_str().unwrap(),
        "$HOME",
        "--signing-key FILE",
        "signing_key = \"FILE\"",
        "[output]",
        "LOOKOUT_SIGNING_KEY",
    ] {
        assert!(err.contains(part), "{part:?} not in: {err}");
    }
    assert!(!runs.exists() || run_count(&runs) == 0, "nothing screened");

    // --signing-key wins over the config, which wins over the environment.
    let flag_key = dir.path().join("flag/signing.key");
    let config_key = dir.path().join("config/signing.key");
    let env_key = dir.path().join("env/signing.key");
    let config = dir.path().join("lookout.toml");
    std::fs::write(
        &config,
        format!(
            "[output]\nsigning_key = {:?}\n",
            config_key.to_str().unwrap()
        ),
    )
    .unwrap();
    let public = |key: &Path| {
        std::fs::read_to_string(key.with_extension("pub"))
            .unwrap_or_else(|e| panic!("{}: {e}", key.display()))
            .trim()
            .to_owned()
    };
    let signed_by = |run: &Path| {
        read_json(&run.join("run.json"))["signing"]["public_key"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let env = [("HOME", home.as_path()), ("LOOKOUT_SIGNING_KEY", &env_key)];
    let cfg = ["--config", config.to_str().unwrap()];
    let mut flag_args = cfg.to_vec();
    flag_args.extend(["--signing-key", flag_key.to_str().unwrap()]);
    for (name, args, key) in [
        ("flag", flag_args.as_slice(), &flag_key),
        ("config", cfg.as_slice(), &config_key),
        ("env", &[][..], &env_key),
    ] {
        let runs = dir.path().join(format!("runs-{name}"));
        let o = screen_with_key(&image, &runs, args, &env);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: {}",
            crate::util::stderr(&o)
        );
        assert!(key.is_file(), "{name}: {} was made", key.display());
        let run = run_dir(&runs);
        assert_eq!(signed_by(&run), public(key), "{name}");
        let (code, text) = verify_with_key(&run, key);
        assert_eq!(code, Some(0), "{name}: {text}");
    }
    assert!(!home.exists());
}

fn run_count(runs: &Path) -> usize {
    std::fs::read_dir(runs).map_or(0, |d| d.count())
}

/// `lookout verify run`, trusting `key` as this machine's key.
fn verify_with_key(run: &Path, key: &Path) -> (Option<i32>, String) {
    let o = crate::util::lookout_command()
        .env("LOOKOUT_SIGNING_KEY", key)
        .arg("verify")
        .arg(run)
        .output()
        .unwrap();
    (
        o.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// Copies the run folder `from` to `to` (which must not exist).
fn copy_run(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_run(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Confirms the sortie's first event in the run's review record.
fn confirm_first_event(run: &Path) {
    let mut db = lookout::review::db::ReviewDb::open(run).unwrap();
    db.record(
        &lookout::review::db::NewVerdict {
            event_id: "people-in-container-s000-0001",
            status: "confirmed",
            reviewer: "ana",
            note: "",
            at: "2026-11-28T10:00:00Z",
            expect: None,
        },
        &test_signer(),
    )
    .unwrap();
}

#[test]
fn export_refuses_a_run_that_does_not_verify_and_a_place_inside_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = screen_sortie(&dir.path().join("runs"));
    confirm_first_event(&run);
    let run_s = run.to_str().unwrap();

    // Inside the run folder: through a folder that does not exist yet,
    // through `..`, as the folder itself, and by default from within it.
    let inside = [
        run.join("exports/b.zip"),
        run.join("no/such/../b.zip"),
        dir.path().join("runs/x/..").join(run.file_name().unwrap()),
        run.clone(),
    ];
    for out in &inside {
        let o = crate::util::lookout_command()
            .args(["export", run_s, "--format", "bundle", "-o"])
            .arg(out)
            .output()
            .unwrap();
        let err = crate::util::stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", out.display());
        assert!(
            err.contains("inside the run folder") && err.contains("break the run's seal"),
            "{}: {err}",
            out.display()
        );
    }
    let o = crate::util::lookout_command()
        .current_dir(run.join("events"))
        .args(["export", "..", "--format", "coco", "--events", "all"])
        .output()
        .unwrap();
    let err = crate::util::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("inside the run folder"), "{err}");
    let (code, text) = verify(&[run_s]);
    assert_eq!(code, Some(0), "the run is untouched: {text}");
    assert!(!run.join("exports").exists() && !run.join("no").exists());

    // Beside the run, through a `..` that leaves it: allowed.
    let beside = run.join("../beside.zip");
    let o = crate::util::lookout_command()
        .args(["export", run_s, "--format", "bundle", "-o"])
        .arg(&beside)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", crate::util::stderr(&o));
    assert_eq!(verify(&[beside.to_str().unwrap()]).0, Some(0));

    // One flipped bit in a sealed frame: refused, the file named, nothing
    // written, whatever the format.
    let frame = run.join("events/people-in-container-s000-0001/frame.jpg");
    let mut bytes = std::fs::read(&frame).unwrap();
    bytes[500] ^= 0x02;
    std::fs::write(&frame, &bytes).unwrap();
    for (format, name) in [("bundle", "t.zip"), ("coco", "t-coco")] {
        let out = dir.path().join(name);
        let o = crate::util::lookout_command()
            .args(["export", run_s, "--format", format, "-o"])
            .arg(&out)
            .output()
            .unwrap();
        let err = crate::util::stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{format}: {err}");
        assert!(
            err.contains("the run does not verify, so nothing was exported")
                && err.contains("events/people-in-container-s000-0001/frame.jpg: modified"),
            "{format}: {err}"
        );
        assert!(!out.exists(), "{format}: nothing written");
    }
    bytes[500] ^= 0x02;
    std::fs::write(&frame, &bytes).unwrap();

    // A run that was never sealed (killed): refused, and says so.
    std::fs::rename(run.join("manifest.sig"), dir.path().join("sig")).unwrap();
    let out = dir.path().join("k.zip");
    let o = crate::util::lookout_command()
        .args(["export", run_s, "--format", "bundle", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let err = crate::util::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("manifest.sig: missing"), "{err}");
    assert!(!out.exists());
}

/// The CSRF token of the server at `base`.
pub(crate) fn csrf(base: &str, auth: &[(&str, &str)]) -> String {
    let (_, session) = http(base, "GET", "/api/session", auth, "");
    session
        .split("\"csrf\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn serve_starts_before_any_run_and_marks_tampered_and_unfinished_runs() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let token = "a-test-token-of-some-length";
    // No runs folder at all yet: the server starts and lists nothing.
    let (mut child, base) = serve(&runs, token);
    let auth = format!("Bearer {token}");
    let ok = [("Authorization", auth.as_str())];
    let (code, empty) = http(&base, "GET", "/api/events", &ok, "");
    assert_eq!(code, 200, "{empty}");
    assert!(empty.contains("\"total\":0"), "{empty}");
    assert_eq!(http(&base, "GET", "/", &ok, "").0, 200);

    // Three runs appear, each whole (moved in): one as sealed, one with a
    // changed frame, one killed before it was sealed.
    let staging = dir.path().join("staging");
    let good = screen_sortie(&staging.join("good"));
    copy_run(&good, &staging.join("tampered"));
    let frame = staging.join("tampered/events/people-in-container-s000-0001/frame.jpg");
    let mut bytes = std::fs::read(&frame).unwrap();
    bytes[700] ^= 0x08;
    std::fs::write(&frame, &bytes).unwrap();
    copy_run(&good, &staging.join("killed"));
    let killed = staging.join("killed");
    std::fs::remove_file(killed.join("manifest.sig")).unwrap();
    let run_json = std::fs::read_to_string(killed.join("run.json")).unwrap();
    let mut record: serde_json::Value = serde_json::from_str(&run_json).unwrap();
    record["status"] = "running".into();
    std::fs::write(killed.join("run.json"), record.to_string()).unwrap();
    std::fs::create_dir_all(&runs).unwrap();
    std::fs::rename(&good, runs.join("good")).unwrap();
    std::fs::rename(staging.join("tampered"), runs.join("tampered")).unwrap();
    std::fs::rename(&killed, runs.join("killed")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let (_, list) = http(&base, "GET", "/api/events?run=good", &ok, "");
    assert!(
        list.contains("\"total\":2") && list.contains("\"run_state\":\"verified\""),
        "{list}"
    );
    let (_, list) = http(&base, "GET", "/api/events?run=tampered", &ok, "");
    assert!(
        list.contains("\"total\":2")
            && list.contains("\"run_state\":\"tampered\"")
            && list.contains("events/people-in-container-s000-0001/frame.jpg: modified")
            && !list.contains("\"run_state\":\"verified\""),
        "{list}"
    );
    let (_, list) = http(&base, "GET", "/api/events?run=killed", &ok, "");
    assert!(
        list.contains("\"total\":2")
            && list.contains("\"run_state\":\"unfinished\"")
            && list.contains("not sealed")
            && list.contains("interrupted (its process is gone"),
        "{list}"
    );
    let (_, ui) = http(&base, "GET", "/app.js", &ok, "");
    assert!(
        ui.contains("run_state") && ui.contains("badge run-"),
        "the list shows it"
    );

    // Verdicts: refused on the tampered run, recorded on the others.
    let csrf = csrf(&base, &ok);
    let json = ("Content-Type", "application/json");
    let body = r#"{"status": "confirmed", "reviewer": "ana"}"#;
    let post = |run: &str| {
        let target = format!("/api/events/{run}/people-in-container-s000-0001/verdict");
        http(
            &base,
            "POST",
            &target,
            &[ok[0], json, ("X-CSRF-Token", &csrf)],
            body,
        )
    };
    let (code, reply) = post("tampered");
    assert_eq!(code, 409, "{reply}");
    assert!(
        reply.contains("run tampered does not verify") && reply.contains("frame.jpg: modified"),
        "{reply}"
    );
    assert_eq!(post("good").0, 200);
    assert_eq!(post("killed").0, 200);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(verify(&[runs.join("good").to_str().unwrap()]).0, Some(0));
}
