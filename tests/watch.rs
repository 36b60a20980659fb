//! `lookout watch` against real feeds on loopback: the sample sortie played
//! in real time; MPEG-TS over UDP published by the `ffmpeg` command, killed
//! and restarted while lookout watches; and RTSP from Debian's
//! `rtsp-server-perl` (installed by `scripts/setup.sh`), with `ffmpeg`
//! publishing to it, through a restart of the server itself.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::screen::assert_manifest_holds;
use crate::util::*;

fn watch(args: &[&str]) -> Child {
    lookout_command()
        .arg("watch")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running lookout watch")
}

fn finish(child: Child) -> (std::process::Output, String) {
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, err)
}

/// A UDP port nobody listens on now.
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ffmpeg` sending the first `seconds` of the sortie, in real time, as
/// MPEG-TS: over UDP to `port`, or over TCP to whoever connects to `port`.
fn publish(proto: &str, port: u16, seconds: u32) -> Child {
    let to = match proto {
        "udp" => format!("udp://127.0.0.1:{port}?pkt_size=1316"),
        _ => format!("tcp://127.0.0.1:{port}?listen=1"),
    };
    Command::new("ffmpeg")
        .args(["-v", "error", "-re", "-i"])
        .arg(data("sample-sortie.mp4"))
        .args(["-t", &seconds.to_string(), "-c", "copy", "-f", "mpegts"])
        .arg(to)
        .stdin(Stdio::null())
        .spawn()
        .expect("running ffmpeg")
}

/// The body of `GET path` from a local HTTP server.
pub(crate) fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned()
}

/// The value of a metric line `name{feed="feed"...} value`.
fn metric(text: &str, name: &str, feed: &str) -> f64 {
    let prefix = format!("{name}{{feed=\"{feed}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
        .parse()
        .unwrap()
}

/// The run folder's `run.json`, once the watch has written it.
fn wait_for_run_json(out: &Path) -> Value {
    wait_for_run_json_with(out, |_| true)
}

/// The run's `run.json` once it has the metrics server's address.
fn wait_for_metrics(out: &Path) -> String {
    wait_for_run_json_with(out, |v| v["metrics"].is_string())["metrics"]
        .as_str()
        .expect("checked above")
        .to_owned()
}

/// The first `run.json` written under `out` for which `ready` holds: the
/// run writes it at start and again as it goes.
fn wait_for_run_json_with(out: &Path, ready: impl Fn(&Value) -> bool) -> Value {
    let t0 = Instant::now();
    loop {
        if let Some(dir) = std::fs::read_dir(out).ok().and_then(|mut d| d.next()) {
            let p = dir.unwrap().path().join("run.json");
            if let Ok(text) = std::fs::read_to_string(&p) {
                if let Ok(v) = serde_json::from_str::<Value>(&text) {
                    if ready(&v) {
                        return v;
                    }
                }
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no run.json in {}",
            out.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An HTTP receiver on loopback that answers 200 to every POST and keeps
/// the bodies; or, when `hang`, accepts connections and never answers.
fn receiver(hang: bool) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::sync::{Arc, Mutex};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let bodies = got.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            if hang {
                held.push(stream);
                continue;
            }
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let n = stream.read(&mut chunk).unwrap();
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| {
                            let l = l.to_ascii_lowercase();
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break Some(buf[end + 4..end + 4 + len].to_vec());
                    }
                }
            };
            if let Some(body) = body {
                bodies
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got)
}

fn closed(run: &Path) -> Vec<(String, f64, f64, String)> {
    jsonl(&run.join("events.jsonl"))
        .into_iter()
        .filter(|e| e["step"] == "close")
        .map(|e| {
            (
                e["signature"].as_str().unwrap().to_owned(),
                e["start_s"].as_f64().unwrap(),
                e["end_s"].as_f64().unwrap(),
                e["close_reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn realtime_file_without_dropping_matches_screen_while_a_dead_feed_retries() {
    let dir = tempfile::tempdir().unwrap();
    let sortie = data("sample-sortie.mp4");
    let sortie = sortie.to_str().unwrap();
    // What `screen` finds on the clip.
    let screened = dir.path().join("screen");
    let o = lookout(&[
        "screen",
        sortie,
        "--out",
        screened.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let want = closed(&run_dir(&screened));
    assert_eq!(want.len(), 2, "{want:?}");

    // The same clip watched in real time beside a feed that never answers.
    let dead = format!("udp://127.0.0.1:{}", free_udp_port());
    let out = dir.path().join("watch");
    let alerts = dir.path().join("alerts.jsonl");
    let (good, posted) = receiver(false);
    let (hung, _) = receiver(true);
    let child = watch(&[
        "--webhook",
        &good,
        "--webhook",
        &hung,
        &dead,
        sortie,
        "--no-drop",
        "--timeout",
        "1",
        "--duration",
        "33",
        "--alerts",
        alerts.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let (o, err) = finish(child);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let run = run_dir(&out);
    let got = closed(&run);
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.0, w.0);
        assert!(
            (g.1 - w.1).abs() < 0.05 && (g.2 - w.2).abs() < 0.05,
            "{g:?} vs {w:?}"
        );
    }
    let run_json = read_json(&run.join("run.json"));
    let feeds = run_json["feeds"].as_array().unwrap();
    assert_eq!(feeds[1]["frames_processed"], 265, "every frame of the clip");
    assert_eq!(feeds[1]["dropped"], 0);
    assert_eq!(feeds[1]["state"], "ended");
    // The dead feed kept trying, and never held the other one up.
    assert_eq!(feeds[0]["frames_in"], 0);
    assert!(
        feeds[0]["reconnects"].as_u64().unwrap() >= 3,
        "{}",
        feeds[0]
    );
    // An alert for each open and close, the opens with their latency.
    let sent = jsonl(&alerts);
    let opens: Vec<&Value> = sent.iter().filter(|a| a["alert"] == "open").collect();
    assert_eq!(opens.len(), 2, "{sent:?}");
    assert_eq!(sent.iter().filter(|a| a["alert"] == "close").count(), 2);
    for a in opens {
        let ms = a["latency_ms"].as_f64().unwrap();
        assert!((0.0..1000.0).contains(&ms), "{a}");
    }
    // The webhook got the same four alerts; the one that never answers
    // held nothing up (the opens' latency above) and delivered nothing.
    let posted = posted.lock().unwrap().clone();
    assert_eq!(posted.len(), 4, "{posted:?}");
    assert_eq!(posted, sent);
    let hooks = run_json["webhooks"].as_array().unwrap();
    assert_eq!(
        (hooks[0]["sent"].as_u64(), hooks[0]["failed"].as_u64()),
        (Some(4), Some(0))
    );
    assert_eq!(hooks[1]["sent"], 0);
    assert_manifest_holds(&run);
}

#[test]
fn udp_feed_comes_back_after_its_publisher_restarts() {
    feed_comes_back_after_its_publisher_restarts("udp", free_udp_port());
}

#[test]
fn tcp_feed_comes_back_after_its_publisher_restarts() {
    feed_comes_back_after_its_publisher_restarts("tcp", free_tcp_port());
}

fn feed_comes_back_after_its_publisher_restarts(proto: &str, port: u16) {
    let _turn = take_turns();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let child = watch(&[
        &format!("{proto}://127.0.0.1:{port}"),
        "--timeout",
        "2",
        "--lost-grace",
        "1",
        "--duration",
        "24",
        "--metrics",
        "127.0.0.1:0",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let addr = wait_for_metrics(&out);
    assert_eq!(http_get(&addr, "/healthz").trim(), "ok");
    // Five seconds of the port scene (people in a container from 0 s to
    // 6 s), then nothing, then the same again.
    let mut first = publish(proto, port, 5);
    first.wait().unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let text = http_get(&addr, "/metrics");
    let before = metric(&text, "lookout_feed_frames_in_total", "feed0");
    assert!(before > 15.0, "{text}");
    let mut second = publish(proto, port, 5);
    second.wait().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let text = http_get(&addr, "/metrics");
    assert!(
        metric(&text, "lookout_feed_reconnects_total", "feed0") >= 1.0,
        "{text}"
    );
    assert!(
        metric(&text, "lookout_feed_frames_in_total", "feed0") > before + 20.0,
        "{text}"
    );
    let (o, err) = finish(child);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let run = run_dir(&out);
    // The event of the first session closed when the feed was lost; the
    // second session's was recorded too.
    let events = closed(&run);
    assert!(events.len() >= 2, "{events:?}");
    assert_eq!(events[0].0, "people-in-container");
    assert_eq!(events[0].3, "feed lost", "{events:?}");
    assert!(
        events.iter().skip(1).any(|e| e.0 == "people-in-container"),
        "{events:?}"
    );
    assert_manifest_holds(&run);
}

#[cfg(unix)]
#[test]
fn sigterm_in_the_middle_of_an_event_closes_it_and_seals_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let child = watch(&[
        data("sample-sortie.mp4").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    // The containment event opens 1 s in and lasts until 6 s.
    wait_for_run_json(&out);
    wait_for_events(&out, "no event opened", |e| {
        e.iter().any(|e| e["step"] == "open")
    });
    sigterm(&child);
    let (o, err) = finish(child);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let run = run_dir(&out);
    let events = closed(&run);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].3, "shutdown");
    assert!(run
        .join("events/people-in-container-s000-0001/frame.jpg")
        .is_file());
    let run_json = read_json(&run.join("run.json"));
    assert_eq!(run_json["status"], "finished");
    assert_manifest_holds(&run);
}

/// A TCP port nobody listens on now.
pub(crate) fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Debian's `rtsp-server-perl`: clients on `client_port`, publishers
/// (`ffmpeg -f rtsp`) on `source_port`. It sends RTP over UDP only.
fn rtsp_server(client_port: u16, source_port: u16) -> Child {
    let child = Command::new("rtsp-server-perl")
        .args(["--clientport", &client_port.to_string()])
        .args(["--serverport", &source_port.to_string()])
        .args(["--client_listen_address", "127.0.0.1"])
        .args(["--source_listen_address", "127.0.0.1"])
        .args(["--loglevel", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rtsp-server-perl is not installed: run scripts/setup.sh");
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", source_port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the RTSP server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// `ffmpeg` publishing the sortie to the RTSP server, looped, in real time,
/// re-encoded with a keyframe every second as live cameras send them (the
/// file's own keyframes are seconds apart, and a viewer that joins late
/// decodes only from the next one).
fn publish_rtsp(source_port: u16) -> Child {
    Command::new("ffmpeg")
        .args(["-v", "error", "-re", "-stream_loop", "-1", "-i"])
        .arg(data("sample-sortie.mp4"))
        .args([
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ])
        .args(["-g", "10", "-bf", "0", "-f", "rtsp"])
        .arg(format!("rtsp://127.0.0.1:{source_port}/live"))
        .stdin(Stdio::null())
        .spawn()
        .expect("running ffmpeg")
}

#[cfg(unix)]
fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits until `events.jsonl` of the run in `out` satisfies `done`.
fn wait_for_events(out: &Path, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let t0 = Instant::now();
    loop {
        let events = jsonl(&run_dir(out).join("events.jsonl"));
        if done(&events) {
            return events;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{what}: {events:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(unix)]
#[test]
fn rtsp_feed_from_the_config_comes_back_after_the_server_restarts() {
    let _turn = take_turns();
    let dir = tempfile::tempdir().unwrap();
    let (client_port, source_port) = (free_tcp_port(), free_tcp_port());
    let url = format!("rtsp://127.0.0.1:{client_port}/live");
    // The feed comes from the config, with RTP over UDP (all this server
    // offers) and its own setting for one of the default signatures.
    let config = dir.path().join("ops.toml");
    std::fs::write(
        &config,
        format!(
            "[[feed]]\nname = \"harbour\"\nurl = \"{url}\"\nrtsp_transport = \"udp\"\n\
             [feed.override.people-in-container]\nmin_duration = 2.0\n"
        ),
    )
    .unwrap();
    let mut server = rtsp_server(client_port, source_port);
    let out = dir.path().join("runs");
    // Beside it, the same address on the command line, over TCP (the
    // default), which this server refuses: it must not hold up the other.
    let child = watch(&[
        "--config",
        config.to_str().unwrap(),
        "harbour",
        &url,
        "--timeout",
        "2",
        "--lost-grace",
        "1",
        "--metrics",
        "127.0.0.1:0",
        "--out",
        out.to_str().unwrap(),
    ]);
    let addr = wait_for_metrics(&out);
    let mut publisher = publish_rtsp(source_port);
    let opens = |n: usize| move |e: &[Value]| e.iter().filter(|e| e["step"] == "open").count() >= n;
    wait_for_events(&out, "no event opened on the RTSP feed", opens(1));

    // The camera restarts: server and publisher go away, then come back.
    stop(publisher);
    stop(server);
    let lost = wait_for_events(&out, "the open event did not close as lost", |e| {
        e.iter().any(|e| e["close_reason"] == "feed lost")
    });
    let text = http_get(&addr, "/metrics");
    let frames_before = metric(&text, "lookout_feed_frames_in_total", "harbour");
    assert!(frames_before > 20.0, "{text}");
    server = rtsp_server(client_port, source_port);
    publisher = publish_rtsp(source_port);
    wait_for_events(&out, "no event after the restart", opens(2));
    let text = http_get(&addr, "/metrics");
    assert!(
        metric(&text, "lookout_feed_reconnects_total", "harbour") >= 1.0,
        "{text}"
    );
    assert!(
        metric(&text, "lookout_feed_frames_in_total", "harbour") > frames_before,
        "{text}"
    );
    assert!(
        text.contains("lookout_feed_state{feed=\"harbour\",state=\"live\"} 1"),
        "{text}"
    );
    assert_eq!(
        metric(&text, "lookout_feed_frames_in_total", "feed1"),
        0.0,
        "{text}"
    );

    sigterm(&child);
    let (o, err) = finish(child);
    stop(publisher);
    stop(server);
    assert_eq!(o.status.code(), Some(0), "{err}");
    // The TCP attempt failed with a hint at the fix.
    assert!(err.contains("--rtsp-transport udp"), "{err}");

    let run = run_dir(&out);
    let events = closed(&run);
    // The first event closed when the feed was lost; after the restart
    // the looped sortie opened another (which one depends on when the
    // backoff let lookout back in).
    assert!(events.len() >= 2, "{events:?}");
    assert_eq!(events[0].0, "people-in-container");
    assert_eq!(events[0].3, "feed lost", "{lost:?}");
    assert!(events[1].1 > events[0].2, "{events:?}");
    // The feed's own setting is what the evidence records.
    let first = jsonl(&run.join("events.jsonl"))
        .into_iter()
        .find(|e| e["step"] == "close")
        .unwrap();
    let event = read_json(
        &run.join("events")
            .join(first["event_id"].as_str().unwrap())
            .join("event.json"),
    );
    assert_eq!(event["signature_config"]["min_duration"], 2.0, "{event}");
    let run_json = read_json(&run.join("run.json"));
    let feeds = run_json["feeds"].as_array().unwrap();
    assert_eq!(feeds[0]["name"], "harbour");
    assert_eq!(feeds[0]["rtsp_transport"], "udp");
    assert_eq!(feeds[1]["rtsp_transport"], "tcp");
    assert_ne!(
        feeds[0]["signatures"][0]["config_sha256"],
        feeds[1]["signatures"][0]["config_sha256"]
    );
    assert_manifest_holds(&run);
}
