//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Tests that keep both cores busy for many seconds (`tests/resume.rs`)
/// and tests that need the machine to keep up with real time (a publisher
/// restarting under `watch`) take turns: on a 2-core machine the first
/// would starve the second of frames.
pub fn take_turns() -> std::sync::MutexGuard<'static, ()> {
    static TURNS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURNS.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python of `.deps/pyeval`, with the reference evaluators and the
/// scene generator's packages.
pub fn pyeval() -> PathBuf {
    let python = repo().join(".deps/pyeval/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup.sh (scripts/test.sh does)",
        python.display()
    );
    python
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

pub fn data(name: &str) -> PathBuf {
    repo().join("tests/data").join(name)
}

/// Where the tests' runs keep their signing key, instead of the user's
/// config folder.
pub fn signing_key() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("lookout-test-signing.key")
}

/// The tests' signing key, as the binary uses it (made by the first run).
pub fn test_signer() -> lookout::evidence::seal::RunSigner {
    let key = std::fs::read_to_string(signing_key()).unwrap();
    let seed: [u8; 32] = hex::decode(key.trim()).unwrap().try_into().unwrap();
    lookout::evidence::seal::RunSigner::from_seed(seed)
}

/// The real binary, with the tests' signing key.
pub fn lookout_command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lookout"));
    c.env_remove("RUST_LOG")
        .env_remove("LOOKOUT_STORE")
        .env("LOOKOUT_SIGNING_KEY", signing_key());
    c
}

/// Runs the real binary with `args`, returning its output.
pub fn lookout(args: &[&str]) -> Output {
    lookout_command()
        .args(args)
        .output()
        .expect("running lookout")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Screens `inputs` with the fixture model, returning the exit code and
/// stderr.
pub fn screen_inputs(inputs: &[&Path], out: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args: Vec<String> = vec!["screen".into()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    args.extend([
        "--model".into(),
        fixture("yolov8-tiny.onnx").display().to_string(),
        "--classes".into(),
        "person".into(),
        "--out".into(),
        out.display().to_string(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = lookout(&args.iter().map(String::as_str).collect::<Vec<_>>());
    (o.status.code(), stderr(&o))
}

/// The single run folder under `out`.
pub fn run_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        dirs.len(),
        1,
        "expected one run folder in {}: {dirs:?}",
        out.display()
    );
    dirs.into_iter().next().unwrap()
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Writes a solid-colour PNG.
pub fn write_png(path: &Path, w: u32, h: u32) {
    image::RgbImage::from_pixel(w, h, image::Rgb([90, 120, 150]))
        .save(path)
        .unwrap();
}

/// The `event.json` of every event that closed in the run, in close order.
pub fn closed_events(run: &Path) -> Vec<serde_json::Value> {
    jsonl(&run.join("events.jsonl"))
        .into_iter()
        .filter(|e| e["step"] == "close")
        .map(|e| read_json(&run.join(e["artefacts"]["event"].as_str().unwrap())))
        .collect()
}

/// Lines of `events.jsonl` for one lifecycle step.
pub fn steps(run: &Path, step: &str) -> Vec<serde_json::Value> {
    jsonl(&run.join("events.jsonl"))
        .into_iter()
        .filter(|e| e["step"] == step)
        .collect()
}

/// A PNG that is only a header declaring `width` x `height` RGB pixels
/// (IHDR with a correct CRC), a token IDAT and IEND: enough for a decoder
/// to read the size, far too little to hold the pixels.
pub fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    // A stored (uncompressed) zlib stream of one zero byte.
    chunk(
        &mut out,
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x01, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x01, 0x00, 0x01,
        ],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// CRC-32 (IEEE), as PNG chunks carry.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The test server's URL and the certificate authority of its TLS
/// certificate (`DIR/tls/ca.pem` of `scripts/pg-local.sh`; with
/// `LOOKOUT_TEST_PG`, `LOOKOUT_TEST_PG_CA`), started on first use.
fn test_server() -> &'static (String, Option<PathBuf>) {
    use std::sync::OnceLock;
    static SERVER: OnceLock<(String, Option<PathBuf>)> = OnceLock::new();
    static WATCHDOG: std::sync::Mutex<Option<std::process::Child>> = std::sync::Mutex::new(None);
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("LOOKOUT_TEST_PG") {
            let ca = std::env::var_os("LOOKOUT_TEST_PG_CA").map(PathBuf::from);
            return (url, ca);
        }
        let script = repo().join("scripts/pg-local.sh");
        let dir = std::env::temp_dir().join(format!("lookout-test-pg-{}", std::process::id()));
        let o = Command::new(&script)
            .args(["start", dir.to_str().unwrap()])
            .output()
            .expect("running scripts/pg-local.sh");
        assert!(
            o.status.success(),
            "cannot start PostgreSQL for the tests (scripts/setup.sh installs it): {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "read _; exec {} stop {}",
                script.display(),
                dir.display()
            ))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting the PostgreSQL watchdog");
        *WATCHDOG.lock().unwrap() = Some(child);
        let url = String::from_utf8(o.stdout).unwrap().trim().to_owned();
        let ca = dir.join("tls/ca.pem");
        (url, ca.is_file().then_some(ca))
    })
}

/// The PEM file of the certificate authority that signed the test
/// server's TLS certificate, for `sslrootcert=`.
pub fn postgres_ca() -> PathBuf {
    test_server().1.clone().expect(
        "the test PostgreSQL serves no TLS: scripts/pg-local.sh needs openssl \
         (scripts/setup.sh installs it); with LOOKOUT_TEST_PG, set LOOKOUT_TEST_PG_CA",
    )
}

/// A new, empty PostgreSQL database for one test, on a server that the
/// first call starts (`scripts/pg-local.sh`: Debian's PostgreSQL as an
/// unprivileged user, on a free loopback port, in a folder of its own)
/// and that stops when the test binary exits: a watchdog shell waits on a
/// pipe that only this process holds, and stops the server when it closes.
/// `LOOKOUT_TEST_PG` (a URL) uses a server of your own instead.
pub fn postgres() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let base = &test_server().0;
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let mut admin = postgres::Client::connect(base, postgres::NoTls)
        .expect("connecting to the test PostgreSQL");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("creating a test database");
    let (prefix, _) = base.rsplit_once('/').expect("a URL with a database");
    format!("{prefix}/{name}")
}
