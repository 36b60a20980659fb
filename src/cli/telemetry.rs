//! `lookout telemetry FILE…`: what lookout reads from drone telemetry, to
//! check before a run. A summary per file, or with `--json` one JSON
//! object per record (the keys of [`crate::telemetry::FIELD_NAMES`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Exit;
use crate::telemetry::{self, Record, Telemetry};

#[derive(Debug, Args)]
pub struct TelemetryArgs {
    /// MPEG-TS video with KLV (MISB ST 0601 or EG 0104), raw .klv/.bin,
    /// DJI .SRT, DJI stills (.jpg), or CSV/GPX flight logs.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// One JSON object per record on stdout, full precision.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &TelemetryArgs) -> Result<Exit> {
    match print(args) {
        // A reader that stops early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::default()),
        Err(e) => Err(e.into()),
        Ok(exit) => Ok(exit),
    }
}

fn print(args: &TelemetryArgs) -> std::io::Result<Exit> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut errors = 0;
    for file in &args.files {
        match telemetry::read(file) {
            Ok(t) => {
                if args.json {
                    for r in &t.records {
                        serde_json::to_writer(&mut out, r)?;
                        out.write_all(b"\n")?;
                    }
                } else {
                    write!(out, "{}", summary(&file.display().to_string(), &t))?;
                }
                for w in &t.warnings {
                    tracing::warn!("{}: {w}", file.display());
                }
            }
            Err(e) => {
                tracing::error!("{e}");
                errors += 1;
            }
        }
    }
    out.flush()?;
    Ok(Exit { errors, one: false })
}

/// The text summary of one file's telemetry.
pub fn summary(name: &str, t: &Telemetry) -> String {
    let mut s = format!("{name}\n");
    let formats: BTreeMap<&str, usize> = t.records.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.source.map_or("?", |f| f.name())).or_default() += 1;
        m
    });
    let formats: Vec<String> = formats.iter().map(|(f, n)| format!("{f} {n}")).collect();
    s += &format!(
        "  records:           {} ({})\n  packets:           {}\n  checksum failures: {}\n  skipped:           {}\n",
        t.records.len(),
        if formats.is_empty() { "none".into() } else { formats.join(", ") },
        t.packets,
        t.checksum_failures,
        t.skipped
    );
    let times: Vec<f64> = t.records.iter().filter_map(|r| r.t_s).collect();
    if let (Some(a), Some(b)) = (
        times.iter().copied().reduce(f64::min),
        times.iter().copied().reduce(f64::max),
    ) {
        s += &format!("  media time:        {a:.3} s to {b:.3} s\n");
    }
    let utc: Vec<_> = t.records.iter().filter_map(|r| r.utc).collect();
    if let (Some(a), Some(b)) = (utc.iter().min(), utc.iter().max()) {
        s += &format!("  UTC:               {} to {}\n", a.iso(), b.iso());
    }
    let mut fields: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &t.records {
        for f in r.fields() {
            *fields.entry(f).or_default() += 1;
        }
    }
    let order = |name: &str| telemetry::FIELD_NAMES.iter().position(|n| *n == name);
    let mut present: Vec<(&str, usize)> = fields.into_iter().collect();
    present.sort_by_key(|(n, _)| order(n));
    let listed: Vec<String> = present
        .iter()
        .map(|(n, c)| {
            if *c == t.records.len() {
                (*n).to_owned()
            } else {
                format!("{n} ({c})")
            }
        })
        .collect();
    s += &format!("  fields:            {}\n", listed.join(", "));
    if let Some(first) = t.records.iter().find(|r| r.has_position()) {
        s += &format!("  first position:    {}\n", position(first));
    }
    for w in &t.warnings {
        s += &format!("  warning:           {w}\n");
    }
    s
}

fn position(r: &Record) -> String {
    match (r.lat.or(r.frame_center_lat), r.lon.or(r.frame_center_lon)) {
        (Some(lat), Some(lon)) => format!("{lat:.6}, {lon:.6}"),
        _ => "corners only".into(),
    }
}
