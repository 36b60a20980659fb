//! The deployment files under `scripts/deploy/`. The Kubernetes manifests
//! cannot be applied here: they are parsed (every document of every
//! `*.yaml`) and checked to hang together as a cluster would need them. The
//! Slurm array script runs under bash with a Slurm task's variables and a
//! stand-in `lookout` that records its arguments.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::*;

/// One document of a manifest file.
struct Doc {
    file: String,
    value: Value,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
    fn at(&self) -> String {
        format!("{}: {} {}", self.file, self.kind(), self.name())
    }
}

fn kubernetes_dir() -> PathBuf {
    repo().join("scripts/deploy/kubernetes")
}

/// Every document of every `*.yaml` in `dir`, in file name order.
fn read_manifests(dir: &Path) -> Vec<Doc> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let values: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: not valid YAML: {e}", path.display()));
        assert!(!values.is_empty(), "{}: no documents", path.display());
        docs.extend(values.into_iter().map(|value| Doc {
            file: file.clone(),
            value,
        }));
    }
    docs
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| match s {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The value after `flag` in a command line.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

/// The `$(NAME)` references of a Kubernetes argument.
fn references(arg: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(start) = rest.find("$(") {
        let Some(len) = rest[start + 2..].find(')') else {
            break;
        };
        out.push(&rest[start + 2..start + 2 + len]);
        rest = &rest[start + 2 + len..];
    }
    out
}

/// The pod spec of a Job or Deployment.
fn pod_spec(doc: &Doc) -> Option<&Value> {
    matches!(
        doc.kind(),
        "Job" | "Deployment" | "StatefulSet" | "DaemonSet"
    )
    .then(|| &doc.value["spec"]["template"]["spec"])
}

fn containers(pod: &Value) -> Vec<&Value> {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|k| pod[*k].as_array().into_iter().flatten())
        .collect()
}

fn env_entry<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
}

/// Whether `path` lies in a volume mount of `container` (read-only or not,
/// as `writable` asks), and that mount's volume.
fn mount_of<'a>(pod: &'a Value, container: &Value, path: &str) -> Option<(&'a Value, bool)> {
    let mounts = container["volumeMounts"].as_array()?;
    let mount = mounts
        .iter()
        .filter(|m| {
            let at = m["mountPath"].as_str().unwrap_or("");
            path == at || path.starts_with(&format!("{}/", at.trim_end_matches('/')))
        })
        .max_by_key(|m| m["mountPath"].as_str().unwrap_or("").len())?;
    let read_only = mount["readOnly"].as_bool().unwrap_or(false);
    let volume = pod["volumes"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == mount["name"])?;
    Some((volume, !read_only))
}

/// Everything wrong with a set of manifests; empty when they hang together.
fn problems(docs: &[Doc]) -> Vec<String> {
    let mut out = Vec::new();
    let mut secrets: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut claims = BTreeSet::new();
    let mut services = BTreeMap::new();
    for doc in docs {
        if doc.value["apiVersion"].as_str().is_none()
            || doc.kind().is_empty()
            || doc.name().is_empty()
        {
            out.push(format!(
                "{}: a document without apiVersion, kind or metadata.name",
                doc.file
            ));
        }
        match doc.kind() {
            "Secret" => {
                let keys = ["stringData", "data"]
                    .iter()
                    .filter_map(|k| doc.value[*k].as_object())
                    .flat_map(|m| m.keys().cloned())
                    .collect();
                secrets.insert(doc.name(), keys);
            }
            "PersistentVolumeClaim" => {
                if !strings(&doc.value["spec"]["accessModes"])
                    .contains(&"ReadWriteMany".to_string())
                {
                    out.push(format!(
                        "{}: not ReadWriteMany, so pods on several nodes cannot share it",
                        doc.at()
                    ));
                }
                claims.insert(doc.name());
            }
            "Service" => {
                services.insert(doc.name(), doc);
            }
            _ => {}
        }
    }

    // Every reference from a pod resolves within the manifests.
    for doc in docs {
        let Some(pod) = pod_spec(doc) else { continue };
        let volumes: Vec<&Value> = pod["volumes"].as_array().into_iter().flatten().collect();
        for v in &volumes {
            if let Some(secret) = v["secret"]["secretName"].as_str() {
                match secrets.get(secret) {
                    None => out.push(format!(
                        "{}: volume {} uses Secret {secret}, which no manifest defines",
                        doc.at(),
                        v["name"]
                    )),
                    Some(keys) => {
                        for item in v["secret"]["items"].as_array().into_iter().flatten() {
                            let key = item["key"].as_str().unwrap_or("");
                            if !keys.contains(key) {
                                out.push(format!("{}: Secret {secret} has no key {key}", doc.at()));
                            }
                        }
                    }
                }
            }
            if let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() {
                if !claims.contains(claim) {
                    out.push(format!(
                        "{}: volume {} claims {claim}, which no manifest defines",
                        doc.at(),
                        v["name"]
                    ));
                }
            }
        }
        for c in containers(pod) {
            for m in c["volumeMounts"].as_array().into_iter().flatten() {
                if !volumes.iter().any(|v| v["name"] == m["name"]) {
                    out.push(format!(
                        "{}: container {} mounts volume {}, which the pod lacks",
                        doc.at(),
                        c["name"],
                        m["name"]
                    ));
                }
            }
            for e in c["env"].as_array().into_iter().flatten() {
                let r = &e["valueFrom"]["secretKeyRef"];
                if let (Some(secret), Some(key)) = (r["name"].as_str(), r["key"].as_str()) {
                    if !secrets.get(secret).is_some_and(|k| k.contains(key)) {
                        out.push(format!("{}: env {} reads key {key} of Secret {secret}, which no manifest defines", doc.at(), e["name"]));
                    }
                }
            }
            // $(NAME) in arguments expands only from the container's env
            // (and JOB_COMPLETION_INDEX, which an Indexed Job adds).
            for arg in strings(&c["command"])
                .iter()
                .chain(strings(&c["args"]).iter())
            {
                for name in references(arg) {
                    if name != "JOB_COMPLETION_INDEX" && env_entry(c, name).is_none() {
                        out.push(format!(
                            "{}: argument {arg:?} uses $({name}), which the container's env lacks",
                            doc.at()
                        ));
                    }
                }
            }
            if let Some(key) = env_entry(c, "LOOKOUT_SIGNING_KEY").and_then(|e| e["value"].as_str())
            {
                match mount_of(pod, c, key) {
                    Some((v, _)) if v["secret"].is_object() => {}
                    _ => out.push(format!(
                        "{}: LOOKOUT_SIGNING_KEY {key} is not in a mounted Secret",
                        doc.at()
                    )),
                }
            }
            if let Some(e) = env_entry(c, "LOOKOUT_STORE") {
                if !e["valueFrom"]["secretKeyRef"].is_object() {
                    out.push(format!(
                        "{}: LOOKOUT_STORE must come from a Secret (it holds a password)",
                        doc.at()
                    ));
                }
            }
        }
    }

    // The store URL names a Service of the manifests that points outside.
    let url = docs
        .iter()
        .find(|d| d.kind() == "Secret" && d.name() == "lookout-store")
        .and_then(|d| d.value["stringData"]["url"].as_str());
    match url {
        None => out.push("no Secret lookout-store with stringData.url (the review store)".into()),
        Some(url) => {
            let host = url
                .strip_prefix("postgres://")
                .or_else(|| url.strip_prefix("postgresql://"))
                .map(|rest| rest.split('/').next().unwrap_or(""))
                .map(|auth| auth.rsplit('@').next().unwrap_or(""))
                .map(|hp| hp.split(':').next().unwrap_or(""))
                .unwrap_or("");
            match services.get(host) {
                None => out.push(format!(
                    "the store URL's host {host:?} is no Service of the manifests"
                )),
                Some(s) => {
                    let spec = &s.value["spec"];
                    let external =
                        spec["type"] == "ExternalName" && spec["externalName"].is_string();
                    let selectorless = spec["selector"].is_null() && spec["ports"].is_array();
                    if !external && !selectorless {
                        out.push(format!(
                            "{}: PostgreSQL runs outside: ExternalName, or no selector",
                            s.at()
                        ));
                    }
                }
            }
        }
    }

    // The screening Job: Indexed, one shard per index, the same N.
    let screen_jobs: Vec<&Doc> = docs
        .iter()
        .filter(|d| d.kind() == "Job")
        .filter(|d| {
            pod_spec(d).is_some_and(|p| {
                containers(p)
                    .iter()
                    .any(|c| strings(&c["args"]).first().is_some_and(|a| a == "screen"))
            })
        })
        .collect();
    if screen_jobs.len() != 1 {
        out.push(format!(
            "{} Jobs run `lookout screen`, not one",
            screen_jobs.len()
        ));
    }
    for job in screen_jobs {
        let spec = &job.value["spec"];
        if spec["completionMode"] != "Indexed" {
            out.push(format!(
                "{}: completionMode is {}, not Indexed",
                job.at(),
                spec["completionMode"]
            ));
        }
        let n = spec["completions"].as_u64().unwrap_or(0);
        let parallelism = spec["parallelism"].as_u64().unwrap_or(0);
        if n == 0 || parallelism == 0 || parallelism > n {
            out.push(format!("{}: completions {n} and parallelism {parallelism}: both from 1, parallelism at most completions", job.at()));
        }
        if spec["backoffLimitPerIndex"].as_u64().unwrap_or(0) == 0 {
            out.push(format!(
                "{}: no backoffLimitPerIndex, so a failed index is not retried",
                job.at()
            ));
        }
        let pod = pod_spec(job).unwrap();
        if pod["restartPolicy"] != "Never" {
            out.push(format!(
                "{}: restartPolicy must be Never with backoffLimitPerIndex",
                job.at()
            ));
        }
        let c = containers(pod)
            .into_iter()
            .find(|c| strings(&c["args"]).first().is_some_and(|a| a == "screen"))
            .unwrap();
        let args = strings(&c["args"]);
        let shard = flag_value(&args, "--shard").unwrap_or("");
        if shard != format!("$(JOB_COMPLETION_INDEX)/{n}") {
            out.push(format!(
                "{}: --shard {shard:?}, not $(JOB_COMPLETION_INDEX)/{n} (N = completions)",
                job.at()
            ));
        }
        let run_id = flag_value(&args, "--run-id").unwrap_or("");
        if !run_id.contains("$(JOB_COMPLETION_INDEX)") || !run_id.ends_with(&format!("-of-{n}")) {
            out.push(format!(
                "{}: --run-id {run_id:?} must hold the index and end in -of-{n}",
                job.at()
            ));
        }
        // The run id must be the same on every try of an index: from the
        // Job, never from the pod (its name and uid change on each try).
        for name in references(run_id) {
            let Some(e) = env_entry(c, name) else {
                continue;
            };
            let field = e["valueFrom"]["fieldRef"]["fieldPath"]
                .as_str()
                .unwrap_or("");
            if !field.is_empty() && !field.contains("job-name") {
                out.push(format!(
                    "{}: --run-id uses $({name}) = {field}, which changes between tries",
                    job.at()
                ));
            }
        }
        match flag_value(&args, "--out").or_else(|| flag_value(&args, "-o")) {
            None => out.push(format!("{}: no --out", job.at())),
            Some(dir) => match mount_of(pod, c, dir) {
                Some((v, true)) if v["persistentVolumeClaim"].is_object() => {}
                _ => out.push(format!(
                    "{}: --out {dir} is not on a writable shared volume",
                    job.at()
                )),
            },
        }
        let inputs: Vec<&String> = args[1..]
            .iter()
            .take_while(|a| !a.starts_with('-'))
            .collect();
        if inputs.is_empty() {
            out.push(format!("{}: no inputs before the flags", job.at()));
        }
        for input in inputs {
            if !mount_of(pod, c, input).is_some_and(|(v, _)| v["persistentVolumeClaim"].is_object())
            {
                out.push(format!(
                    "{}: input {input} is not on the shared volume",
                    job.at()
                ));
            }
        }
    }

    // The review server: serve, on a non-loopback address, behind a Service.
    let serves: Vec<&Doc> = docs.iter().filter(|d| d.kind() == "Deployment").collect();
    if serves.len() != 1 {
        out.push(format!(
            "{} Deployments, not one for `lookout serve`",
            serves.len()
        ));
    }
    for d in serves {
        let pod = pod_spec(d).unwrap();
        let Some(c) = containers(pod).into_iter().next() else {
            out.push(format!("{}: no container", d.at()));
            continue;
        };
        let args = strings(&c["args"]);
        if args.first().map(String::as_str) != Some("serve") {
            out.push(format!(
                "{}: the container runs {:?}, not serve",
                d.at(),
                args.first()
            ));
        }
        let listen = flag_value(&args, "--listen").and_then(|a| a.parse::<SocketAddr>().ok());
        match listen {
            None => out.push(format!(
                "{}: no --listen ADDR:PORT (serve listens on loopback by default)",
                d.at()
            )),
            Some(a) if a.ip().is_loopback() => out.push(format!(
                "{}: --listen {a} is loopback: unreachable from the Service",
                d.at()
            )),
            Some(a) => {
                let ports: Vec<&Value> = c["ports"].as_array().into_iter().flatten().collect();
                if !ports
                    .iter()
                    .any(|p| p["containerPort"].as_u64() == Some(a.port() as u64))
                {
                    out.push(format!(
                        "{}: --listen port {} is not a containerPort",
                        d.at(),
                        a.port()
                    ));
                }
            }
        }
        let token = flag_value(&args, "--token").unwrap_or("");
        let from_secret = references(token)
            .iter()
            .any(|n| env_entry(c, n).is_some_and(|e| e["valueFrom"]["secretKeyRef"].is_object()));
        if !from_secret {
            out.push(format!(
                "{}: --token {token:?} does not come from a Secret",
                d.at()
            ));
        }
        let runs = args.get(1).map(String::as_str).unwrap_or("");
        if !mount_of(pod, c, runs)
            .is_some_and(|(v, writable)| v["persistentVolumeClaim"].is_object() && !writable)
        {
            out.push(format!(
                "{}: the runs {runs} are not on the shared volume, read-only",
                d.at()
            ));
        }
        let labels = &d.value["spec"]["template"]["metadata"]["labels"];
        let selected = services.values().find(|s| {
            s.value["spec"]["selector"]
                .as_object()
                .is_some_and(|sel| !sel.is_empty() && sel.iter().all(|(k, v)| &labels[k] == v))
        });
        match selected {
            None => out.push(format!("{}: no Service selects its pods", d.at())),
            Some(s) => {
                let names: Vec<&Value> = c["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| &p["name"])
                    .collect();
                for p in s.value["spec"]["ports"].as_array().into_iter().flatten() {
                    let target = &p["targetPort"];
                    let known = match target {
                        Value::String(_) => names.contains(&target),
                        Value::Number(n) => {
                            listen.is_some_and(|a| n.as_u64() == Some(a.port() as u64))
                        }
                        _ => false,
                    };
                    if !known {
                        out.push(format!(
                            "{}: targetPort {target} is no port of {}",
                            s.at(),
                            d.name()
                        ));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_kubernetes_manifests_parse_and_hang_together() {
    let docs = read_manifests(&kubernetes_dir());
    let kinds: BTreeSet<&str> = docs.iter().map(Doc::kind).collect();
    for kind in [
        "Job",
        "Deployment",
        "Service",
        "Secret",
        "PersistentVolumeClaim",
    ] {
        assert!(
            kinds.contains(kind),
            "no {kind} in {}: {kinds:?}",
            kubernetes_dir().display()
        );
    }
    let found = problems(&docs);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// Each way of breaking the manifests is caught: the checks can fail.
#[test]
fn broken_kubernetes_manifests_are_caught() {
    fn screen_args(docs: &mut [Doc]) -> &mut Vec<Value> {
        let job = docs
            .iter_mut()
            .find(|d| d.kind() == "Job" && d.name().starts_with("lookout-screen"))
            .unwrap();
        job.value["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array_mut()
            .unwrap()
    }
    type Break = fn(&mut Vec<Doc>);
    let breaks: [(&str, Break, &str); 9] = [
        (
            "not Indexed",
            |d| {
                let job = d
                    .iter_mut()
                    .find(|d| d.name().starts_with("lookout-screen"))
                    .unwrap();
                job.value["spec"]["completionMode"] = "NonIndexed".into();
            },
            "not Indexed",
        ),
        (
            "another N in --shard",
            |d| {
                let args = screen_args(d);
                let at = args.iter().position(|a| a == "--shard").unwrap();
                args[at + 1] = "$(JOB_COMPLETION_INDEX)/8".into();
            },
            "--shard",
        ),
        (
            "completions changed alone",
            |d| {
                let job = d
                    .iter_mut()
                    .find(|d| d.name().starts_with("lookout-screen"))
                    .unwrap();
                job.value["spec"]["completions"] = 9.into();
            },
            "not $(JOB_COMPLETION_INDEX)/9",
        ),
        (
            "a run id that changes per try",
            |d| {
                let job = d
                    .iter_mut()
                    .find(|d| d.name().starts_with("lookout-screen"))
                    .unwrap();
                let env = job.value["spec"]["template"]["spec"]["containers"][0]["env"]
                    .as_array_mut()
                    .unwrap();
                let batch = env.iter_mut().find(|e| e["name"] == "BATCH").unwrap();
                batch["valueFrom"]["fieldRef"]["fieldPath"] = "metadata.name".into();
            },
            "changes between tries",
        ),
        (
            "serve on loopback",
            |d| {
                let dep = d.iter_mut().find(|d| d.kind() == "Deployment").unwrap();
                let args = dep.value["spec"]["template"]["spec"]["containers"][0]["args"]
                    .as_array_mut()
                    .unwrap();
                let at = args.iter().position(|a| a == "--listen").unwrap();
                args[at + 1] = "127.0.0.1:8600".into();
            },
            "loopback",
        ),
        (
            "a Secret missing",
            |d| d.retain(|d| d.name() != "lookout-serve-token"),
            "lookout-serve-token",
        ),
        (
            "the volume claim missing",
            |d| d.retain(|d| d.kind() != "PersistentVolumeClaim"),
            "claims lookout-data",
        ),
        (
            "the PostgreSQL Service missing",
            |d| d.retain(|d| d.name() != "lookout-postgres"),
            "no Service",
        ),
        (
            "the serve Service selecting nothing",
            |d| {
                let svc = d
                    .iter_mut()
                    .find(|d| d.kind() == "Service" && d.name() == "lookout-serve")
                    .unwrap();
                svc.value["spec"]["selector"]["app.kubernetes.io/component"] = "web".into();
            },
            "no Service selects",
        ),
    ];
    for (what, apply, expect) in breaks {
        let mut docs = read_manifests(&kubernetes_dir());
        apply(&mut docs);
        let found = problems(&docs);
        assert!(
            found.iter().any(|p| p.contains(expect)),
            "{what}: no problem mentioning {expect:?} among {found:#?}"
        );
    }
}

#[test]
fn a_manifest_that_is_not_yaml_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "kind: Job\n  spec: [unclosed\n",
    )
    .unwrap();
    let read = std::panic::catch_unwind(|| read_manifests(dir.path()));
    assert!(read.is_err(), "bad.yaml parsed");
}

/// Runs `scripts/deploy/slurm/screen-array.sh ARGS` with these variables
/// and a `lookout` that writes its arguments, one a line, to a file.
/// Returns the exit status, stderr and the arguments lookout got.
fn array_task(env: &[(&str, &str)], args: &[&str]) -> (i32, String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("lookout");
    let record = dir.path().join("args.txt");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\necho \"LOOKOUT_SIGNING_KEY=$LOOKOUT_SIGNING_KEY\" >> '{}'\n",
            record.display(),
            record.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts/deploy/slurm/screen-array.sh"))
        .args(args)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
        .env("HOME", dir.path())
        .env("SLURM_SUBMIT_DIR", dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    let got = std::fs::read_to_string(&record)
        .map(|t| {
            t.lines()
                .map(|l| l.replace(&dir.path().display().to_string(), "HOME"))
                .collect()
        })
        .unwrap_or_default();
    (o.status.code().unwrap_or(-1), stderr(&o), got)
}

#[test]
fn the_slurm_array_script_takes_the_shard_from_the_array_task() {
    let task = [
        ("SLURM_ARRAY_TASK_ID", "3"),
        ("SLURM_ARRAY_TASK_COUNT", "7"),
        ("SLURM_ARRAY_JOB_ID", "1234"),
    ];
    let (code, err, got) = array_task(&task, &["/shared/sorties"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        got,
        [
            "screen",
            "/shared/sorties",
            "--shard",
            "3/7",
            "--run-id",
            "1234-shard-3-of-7",
            "--out",
            "HOME/runs",
            "LOOKOUT_SIGNING_KEY=HOME/.config/lookout/signing.key",
        ]
    );

    // Everything from the environment.
    let mut env = task.to_vec();
    env.extend([
        ("SLURM_ARRAY_TASK_ID", "0"),
        ("LOOKOUT_INPUTS", "/a /b/c.mp4"),
        ("LOOKOUT_OUT", "/shared/runs"),
        ("LOOKOUT_MODEL", "/m.onnx"),
        ("LOOKOUT_CONFIG", "/l.toml"),
        ("LOOKOUT_SHARD_BY", "index"),
        ("LOOKOUT_SIGNING_KEY", "/shared/key"),
        ("LOOKOUT_ARGS", "--stride 2  --save-detections"),
    ]);
    let (code, err, got) = array_task(&env, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        got.join(" "),
        "screen /a /b/c.mp4 --shard 0/7 --run-id 1234-shard-0-of-7 --out /shared/runs \
         --model /m.onnx --config /l.toml --shard-by index --stride 2 --save-detections \
         LOOKOUT_SIGNING_KEY=/shared/key"
    );

    // One task submitted again by hand: --array=3 makes a 1-task array
    // of a new job; the original job id and N keep its run id.
    let again = [
        ("SLURM_ARRAY_TASK_ID", "3"),
        ("SLURM_ARRAY_TASK_COUNT", "1"),
        ("SLURM_ARRAY_JOB_ID", "5678"),
        ("LOOKOUT_RUN_JOB", "1234"),
        ("LOOKOUT_SHARDS", "7"),
    ];
    let (code, err, got) = array_task(&again, &["/shared/sorties"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        got[2..6],
        ["--shard", "3/7", "--run-id", "1234-shard-3-of-7"]
    );
}

#[test]
fn the_slurm_array_script_refuses_what_is_not_a_shard() {
    // Without LOOKOUT_SHARDS, --array=3 alone is task 3 of 1.
    let (code, err, got) = array_task(
        &[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "1"),
            ("SLURM_ARRAY_JOB_ID", "5678"),
        ],
        &["/shared/sorties"],
    );
    assert_eq!(code, 64);
    assert!(
        err.contains("--array=0-0") && err.contains("LOOKOUT_SHARDS"),
        "{err}"
    );
    assert!(got.is_empty());

    let (code, err, _) = array_task(&[], &["/shared/sorties"]);
    assert_eq!(code, 64);
    assert!(err.contains("not a Slurm array task"), "{err}");

    let task = [
        ("SLURM_ARRAY_TASK_ID", "0"),
        ("SLURM_ARRAY_TASK_COUNT", "2"),
        ("SLURM_ARRAY_JOB_ID", "9"),
    ];
    let (code, err, _) = array_task(&task, &[]);
    assert_eq!(code, 64);
    assert!(err.contains("no inputs"), "{err}");
}
