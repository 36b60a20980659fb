//! The shared PostgreSQL review store, against a real PostgreSQL server
//! (started by [`crate::util::postgres`]): workers writing events into it,
//! `verify` checking runs against it, `store import`, and reviewers on two
//! `serve` processes deciding on the same events.

use std::path::Path;

use crate::review::{csrf, http, screen_sortie, serve_with};
use crate::util::{data, lookout, lookout_command, postgres, stderr};

fn sql(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

/// `lookout` with `args`: exit code and stdout + stderr.
fn lk(args: &[&str]) -> (Option<i32>, String) {
    let o = lookout(args);
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    (o.status.code(), text)
}

/// `lookout screen` of the sample sortie into `out`/`run_id`, writing its
/// events into the store at `url`.
fn screen_into(out: &Path, run_id: &str, url: &str) -> std::process::Output {
    lookout(&[
        "screen",
        data("sample-sortie.mp4").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--run-id",
        run_id,
        "--store",
        url,
        "--quiet",
    ])
}

/// The events of `run_id` in the store: event id → sha256.
fn stored(url: &str, run_id: &str) -> Vec<(String, String)> {
    sql(url)
        .query(
            "SELECT event_id, sha256 FROM lookout.events WHERE run_id = $1 ORDER BY event_id",
            &[&run_id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// The closed events of a run folder: event id → sha256 of its event.json.
fn in_folder(run: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = crate::util::closed_events(run)
        .iter()
        .map(|e| {
            let id = e["event_id"].as_str().unwrap().to_owned();
            let bytes = std::fs::read(run.join("events").join(&id).join("event.json")).unwrap();
            (id, lookout::digest::sha256_hex(&bytes))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_worker_writes_its_events_into_postgres_and_verify_checks_the_run_against_it() {
    let url = postgres();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    // The test server trusts loopback and ignores passwords: one is given
    // to see that run.json, which travels as evidence, keeps it out.
    let with_password = url.replacen("lookout@", "lookout:pw-not-recorded@", 1);
    assert_ne!(with_password, url);
    let o = screen_into(&out, "sortie-1", &with_password);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = out.join("sortie-1");
    let record = std::fs::read_to_string(run.join("run.json")).unwrap();
    assert!(!record.contains("pw-not-recorded"), "{record}");
    assert!(
        record.contains("lookout:***@"),
        "the command line, redacted"
    );
    // No review.sqlite: the review record lives in the store.
    assert!(!run.join("review.sqlite").exists());
    let events = in_folder(&run);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(stored(&url, "sortie-1"), events);
    let run_s = run.to_str().unwrap();
    let (code, text) = lk(&["verify", run_s, "--store", &url]);
    assert_eq!(code, Some(0), "{text}");

    // The store is the review record: what is changed in it is named.
    let mut db = sql(&url);
    db.execute(
        "UPDATE lookout.events SET sha256 = 'x' WHERE event_id = $1",
        &[&events[0].0],
    )
    .unwrap();
    db.execute(
        "DELETE FROM lookout.events WHERE event_id = $1",
        &[&events[1].0],
    )
    .unwrap();
    let (code, text) = lk(&["verify", run_s, "--store", &url]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "its event {} differs from the run's event.json",
            events[0].0
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "event {} of the run is missing from it",
            events[1].0
        )),
        "{text}"
    );
    // `store import` puts the folder's truth back.
    let (code, text) = lk(&["store", "import", run_s, "--store", &url]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("2 event(s), 2 new or changed, 0 removed"),
        "{text}"
    );
    assert_eq!(lk(&["verify", run_s, "--store", &url]).0, Some(0));

    // Another run may not take the same id in the same store.
    let o = screen_into(&dir.path().join("elsewhere"), "sortie-1", &url);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("already has a run sortie-1")
            && stderr(&o).contains("distinct run ids"),
        "{}",
        stderr(&o)
    );
    // A bad store is named, without its password.
    let (code, text) = lk(&[
        "verify",
        run_s,
        "--store",
        "postgres://ana:secret@127.0.0.1:1/none",
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("postgres://ana:***@127.0.0.1:1/none") && text.contains("cannot connect"),
        "{text}"
    );
    assert!(!text.contains("secret"), "{text}");
}

#[test]
fn store_import_brings_a_reviewed_sqlite_run_in_once_and_refuses_a_second_chain() {
    let url = postgres();
    let dir = tempfile::tempdir().unwrap();
    let run = screen_sortie(&dir.path().join("runs"));
    let run_s = run.to_str().unwrap();
    let run_id = run.file_name().unwrap().to_str().unwrap().to_owned();
    let signer = crate::util::test_signer();
    let mut review = lookout::review::db::ReviewDb::open(&run).unwrap();
    for (event, status) in [
        ("people-in-container-s000-0001", "confirmed"),
        ("overcrowded-vessel-s000-0002", "rejected"),
        ("people-in-container-s000-0001", "escalated"),
    ] {
        review
            .record(
                &lookout::review::db::NewVerdict {
                    event_id: event,
                    status,
                    reviewer: "ana",
                    note: "",
                    at: "2026-12-07T08:00:00Z",
                    expect: None,
                },
                &signer,
            )
            .unwrap();
    }
    drop(review);

    let (code, text) = lk(&["store", "import", run_s, "--store", &url]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("3 audit entries"), "{text}");
    let (code, text) = lk(&["verify", run_s, "--store", &url]);
    assert_eq!(code, Some(0), "{text}");
    let statuses: Vec<(String, String)> = sql(&url)
        .query(
            "SELECT event_id, status FROM lookout.verdicts WHERE run_id = $1 ORDER BY event_id",
            &[&run_id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        statuses,
        [
            ("overcrowded-vessel-s000-0002".into(), "rejected".into()),
            ("people-in-container-s000-0001".into(), "escalated".into())
        ]
    );
    // Again: nothing changes.
    let (code, text) = lk(&["store", "import", run_s, "--store", &url]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("0 new or changed") && text.contains("already there"),
        "{text}"
    );
    // A verdict given in review.sqlite after the import would fork the
    // chain: refused, and the store keeps its record.
    lookout::review::db::ReviewDb::open(&run)
        .unwrap()
        .record(
            &lookout::review::db::NewVerdict {
                event_id: "overcrowded-vessel-s000-0002",
                status: "confirmed",
                reviewer: "ben",
                note: "",
                at: "2026-12-07T09:00:00Z",
                expect: None,
            },
            &signer,
        )
        .unwrap();
    let (code, text) = lk(&["store", "import", run_s, "--store", &url]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("two audit chains cannot be merged"), "{text}");
    assert_eq!(lk(&["verify", run_s, "--store", &url]).0, Some(0));
    // Not a run folder: named, and the others go on.
    let (code, text) = lk(&[
        "store",
        "import",
        dir.path().to_str().unwrap(),
        "--store",
        &url,
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("not a run folder"), "{text}");
    // No store given.
    let (code, text) = lk(&["store", "migrate"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("no PostgreSQL store given"), "{text}");
}

/// POSTs a verdict; returns the status code and the response.
fn decide(base: &str, token: &str, run: &str, event: &str, body: &str) -> (u16, String) {
    let auth = [("Authorization", format!("Bearer {token}"))];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let csrf = csrf(base, &auth);
    let mut headers = auth.clone();
    headers.push(("X-CSRF-Token", &csrf));
    headers.push(("Content-Type", "application/json"));
    http(
        base,
        "POST",
        &format!("/api/events/{run}/{event}/verdict"),
        &headers,
        body,
    )
}

#[test]
fn two_reviewers_on_two_servers_decide_the_same_event_and_one_verdict_wins() {
    let url = postgres();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let o = screen_into(&out, "shared", &url);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let token = "a-token-for-two-servers";
    let (mut a, base_a) = serve_with(&out, token, &["--store", &url]);
    let (mut b, base_b) = serve_with(&out, token, &["--store", &url]);
    let event = "people-in-container-s000-0001";

    // Both saw the event as new, and decide at the same moment.
    let race = |ea: &str, eb: &str| {
        std::thread::scope(|s| {
            let ta = s.spawn(|| decide(&base_a, token, "shared", event, ea));
            let tb = s.spawn(|| decide(&base_b, token, "shared", event, eb));
            (ta.join().unwrap(), tb.join().unwrap())
        })
    };
    let ((ca, ta), (cb, tb)) = race(
        r#"{"status": "confirmed", "reviewer": "ana", "expect": "new"}"#,
        r#"{"status": "rejected", "reviewer": "ben", "expect": "new"}"#,
    );
    let mut codes = [ca, cb];
    codes.sort();
    assert_eq!(codes, [200, 409], "{ta}\n{tb}");
    let (winner, loser_text) = if ca == 200 { ("ana", tb) } else { ("ben", ta) };
    assert!(
        loser_text.contains("another reviewer decided first")
            && loser_text.contains(&format!("by {winner}")),
        "{loser_text}"
    );
    let won = if winner == "ana" {
        "confirmed"
    } else {
        "rejected"
    };

    // Each server lists the verdict, whichever recorded it.
    for base in [&base_a, &base_b] {
        let (code, list) = http(
            base,
            "GET",
            "/api/events?run=shared",
            &[("Authorization", &format!("Bearer {token}"))],
            "",
        );
        assert_eq!(code, 200, "{list}");
        let body: serde_json::Value =
            serde_json::from_str(list.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["total"], 2, "{body}");
        let row = body["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == event)
            .unwrap();
        assert_eq!(
            (row["status"].as_str(), row["reviewer"].as_str()),
            (Some(won), Some(winner))
        );
        assert_eq!(row["run_state"], "verified", "{row}");
    }

    // Many verdicts at once through both servers, each on the status it
    // last saw: every one that is recorded extends one chain.
    let other = "overcrowded-vessel-s000-0002";
    let recorded = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for i in 0..12 {
            let base = if i % 2 == 0 { &base_a } else { &base_b };
            let recorded = &recorded;
            s.spawn(move || {
                let status = ["confirmed", "rejected", "escalated"][i % 3];
                let body = format!(r#"{{"status": "{status}", "reviewer": "r{i}"}}"#);
                let (code, text) = decide(base, token, "shared", other, &body);
                assert_eq!(code, 200, "{text}");
                recorded.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
    });
    assert_eq!(recorded.into_inner(), 12);
    let seqs: Vec<i64> = sql(&url)
        .query(
            "SELECT seq FROM lookout.audit WHERE run_id = 'shared' ORDER BY seq",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seqs, (0..13).collect::<Vec<i64>>());
    a.kill().unwrap();
    b.kill().unwrap();
    let _ = (a.wait(), b.wait());
    let (code, text) = lk(&[
        "verify",
        out.join("shared").to_str().unwrap(),
        "--store",
        &url,
    ]);
    assert_eq!(code, Some(0), "{text}");

    // Export takes the verdicts from the store; the bundle carries the
    // store's audit chain and verifies on its own.
    let run = out.join("shared");
    let bundle = dir.path().join("decided.zip");
    let (code, text) = lk(&[
        "export",
        run.to_str().unwrap(),
        "--format",
        "bundle",
        "--events",
        &format!("{event},{other}"),
        "-o",
        bundle.to_str().unwrap(),
        "--store",
        &url,
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("exported 2 event(s)"), "{text}");
    let (code, text) = lk(&["verify", bundle.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{text}");
    let review: serde_json::Value =
        serde_json::from_slice(&crate::review::zip_file(&bundle, "review.json")).unwrap();
    assert_eq!(review["audit"].as_array().unwrap().len(), 13, "{review}");
    assert_eq!(review["verdicts"][event]["status"], won, "{review}");
    // Without the store, the run folder has no verdicts to export.
    let (code, text) = lk(&[
        "export",
        run.to_str().unwrap(),
        "--format",
        "bundle",
        "-o",
        dir.path().join("none.zip").to_str().unwrap(),
    ]);
    assert_ne!(code, Some(0), "{text}");
}

#[test]
fn workers_write_at_once_and_one_killed_mid_run_resumes_without_loss_or_doubles() {
    let _turn = crate::util::take_turns();
    let url = postgres();
    // Prepared ahead, as an operator would: the workers then only write.
    let (code, text) = lk(&["store", "migrate", "--store", &url]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("applied migration 1 (review store)"),
        "{text}"
    );
    let (_, text) = lk(&["store", "migrate", "--store", &url]);
    assert!(text.contains("schema version 1, up to date"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let spawn = |id: &str| {
        lookout_command()
            .args([
                "screen",
                data("sample-sortie.mp4").to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--run-id",
                id,
                "--store",
                &url,
                "--quiet",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut workers: Vec<_> = ["w0", "w1", "w2"]
        .iter()
        .map(|id| (id, spawn(id)))
        .collect();
    let mut victim = spawn("victim");
    // Killed once its first event is in the store, before its second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let n = stored(&url, "victim").len();
        if n >= 1 {
            assert_eq!(n, 1, "the victim finished before it could be killed");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no event of the victim reached the store"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    victim.kill().unwrap();
    victim.wait().unwrap();
    for (id, w) in &mut workers {
        let o = w.wait().unwrap();
        assert!(o.success(), "worker {id}");
    }
    // The retry: the same run resumed.
    let victim_dir = out.join("victim");
    let o = lookout(&[
        "screen",
        "--resume",
        victim_dir.to_str().unwrap(),
        "--store",
        &url,
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for id in ["w0", "w1", "w2", "victim"] {
        let run = out.join(id);
        let events = in_folder(&run);
        assert_eq!(events.len(), 2, "{id}: {events:?}");
        assert_eq!(stored(&url, id), events, "{id}");
        let (code, text) = run_verify(&run, &url);
        assert_eq!(code, Some(0), "{id}: {text}");
    }
}

fn run_verify(dir: &Path, url: &str) -> (Option<i32>, String) {
    lk(&["verify", dir.to_str().unwrap(), "--store", url])
}

#[test]
fn the_store_speaks_tls_when_its_url_asks_and_checks_whom_it_talks_to() {
    let url = postgres();
    let ca = crate::util::postgres_ca();
    let tls = format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display());
    let (code, text) = lk(&["store", "migrate", "--store", &tls]);
    assert_eq!(code, Some(0), "{text}");
    // The server's own view of the connection (pg_stat_ssl).
    assert!(text.contains("connected with TLS"), "{text}");
    let (code, text) = lk(&["store", "migrate", "--store", &url]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("connected without TLS"), "{text}");

    // A worker, a verify and an export over TLS.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let o = screen_into(&out, "over-tls", &tls);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = out.join("over-tls");
    assert_eq!(stored(&url, "over-tls"), in_folder(&run));
    let (code, text) = lk(&["verify", run.to_str().unwrap(), "--store", &tls]);
    assert_eq!(code, Some(0), "{text}");

    // A certificate from an authority lookout was not given, and a host
    // name the certificate does not name: refused, and said why.
    let (code, text) = lk(&[
        "store",
        "migrate",
        "--store",
        &format!("{url}?sslmode=require"),
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("UnknownIssuer") && text.contains("sslrootcert=FILE"),
        "{text}"
    );
    let by_name = tls.replacen("127.0.0.1", "localhost", 1);
    let (code, text) = lk(&["store", "migrate", "--store", &by_name]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("not valid for name \"localhost\""), "{text}");
    let (code, text) = lk(&[
        "store",
        "migrate",
        "--store",
        &format!("{url}?sslmode=allow"),
    ]);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("sslmode=allow"), "{text}");
}

#[test]
fn a_watched_feed_writes_its_events_into_the_store_as_they_close() {
    let url = postgres();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("live");
    // The sample sortie as a file feed, played at its own rate to its end.
    let o = lookout(&[
        "watch",
        data("sample-sortie.mp4").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--run-id",
        "ops-room",
        "--store",
        &url,
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run = out.join("ops-room");
    let events = in_folder(&run);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(stored(&url, "ops-room"), events);
    let mode: String = sql(&url)
        .query_one(
            "SELECT mode FROM lookout.runs WHERE run_id = 'ops-room'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(mode, "watch");
    let (code, text) = lk(&["verify", run.to_str().unwrap(), "--store", &url]);
    assert_eq!(code, Some(0), "{text}");
}
