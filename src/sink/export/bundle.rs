//! The bundle: a zip of the chosen events with the run's manifest, seal
//! and review record, which `lookout verify` checks without the run
//! folder (layout in [`crate::evidence::bundle`]). `bundle.json` says
//! which of the manifest's files it carries and is signed with this
//! machine's key; with redaction, blurred copies travel instead of the
//! frames they were made from.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{create_parent, Chosen, ExportError, ReviewedEvent};
use crate::evidence::bundle::{
    self, BundleRecord, BUNDLE_FILE, BUNDLE_FORMAT, BUNDLE_SCHEMA, BUNDLE_SIG, REVIEW_FILE,
};
use crate::evidence::manifest::ManifestEntry;
use crate::evidence::redact::{RedactedFile, Redaction};
use crate::evidence::seal::{RunSigner, SEAL_FILE};
use crate::review::db::ReviewExport;
use crate::sink::{Sink, SinkError};

pub struct BundleSink {
    run: PathBuf,
    run_id: String,
    selection: String,
    review: ReviewExport,
    out: PathBuf,
    manifest: String,
    seal: Vec<u8>,
    /// The manifest's sha256 of each path.
    sealed: BTreeMap<String, String>,
    events: Vec<String>,
    redaction: Option<Redaction>,
    /// The blurred copies, with their bytes.
    copies: Vec<(RedactedFile, Vec<u8>)>,
}

impl BundleSink {
    /// A bundle of events of `chosen`'s run, to the zip `out`. The run
    /// must be sealed. With `redaction` (the redactor's record), events
    /// carry blurred copies of their frames.
    pub fn new(
        chosen: &Chosen,
        redaction: Option<Redaction>,
        out: &Path,
    ) -> Result<BundleSink, ExportError> {
        let run = &chosen.run;
        let manifest = std::fs::read_to_string(run.join("manifest.jsonl")).map_err(|source| {
            ExportError::NoManifest {
                dir: run.clone(),
                source,
            }
        })?;
        let seal = std::fs::read(run.join(SEAL_FILE)).map_err(|source| ExportError::NotSealed {
            dir: run.clone(),
            source,
        })?;
        let sealed = manifest
            .lines()
            .filter_map(|l| serde_json::from_str::<ManifestEntry>(l).ok())
            .map(|e| (e.path, e.sha256))
            .collect();
        Ok(BundleSink {
            run: run.clone(),
            run_id: chosen.run_id.clone(),
            selection: chosen.selection.clone(),
            review: chosen.review.clone(),
            out: out.to_owned(),
            manifest,
            seal,
            sealed,
            events: Vec::new(),
            redaction,
            copies: Vec::new(),
        })
    }

    /// The manifest's files that travel: `run.json` and the chosen events'
    /// files, less those a blurred copy replaces.
    fn included(&self) -> Vec<String> {
        let prefixes: Vec<String> = self
            .events
            .iter()
            .map(|id| format!("events/{id}/"))
            .collect();
        self.sealed
            .keys()
            .filter(|p| *p == "run.json" || prefixes.iter().any(|pre| p.starts_with(pre)))
            .filter(|p| !self.copies.iter().any(|(f, _)| &f.from == *p))
            .cloned()
            .collect()
    }

    fn write_zip(
        &self,
        record: &[u8],
        signature: &[u8],
        included: &[String],
    ) -> Result<(), ExportError> {
        create_parent(&self.out)?;
        let tmp = self.out.with_extension("zip.partial");
        let zip_err = |source| ExportError::Zip {
            path: tmp.clone(),
            source,
        };
        let file = std::fs::File::create(&tmp).map_err(|source| ExportError::Write {
            path: tmp.clone(),
            source,
        })?;
        let mut zip = zip::ZipWriter::new(file);
        let deflate = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        let mut add = |name: &str, bytes: &[u8]| -> Result<(), ExportError> {
            let options = if name.ends_with(".jpg") || name.ends_with(".png") {
                stored
            } else {
                deflate
            };
            zip.start_file(name, options).map_err(zip_err)?;
            zip.write_all(bytes).map_err(|e| zip_err(e.into()))
        };
        add(BUNDLE_FILE, record)?;
        add(BUNDLE_SIG, signature)?;
        add("manifest.jsonl", self.manifest.as_bytes())?;
        add(SEAL_FILE, &self.seal)?;
        let review = serde_json::to_vec_pretty(&self.review).expect("records always serialise");
        add(REVIEW_FILE, &review)?;
        for rel in included {
            let path = self.run.join(rel);
            let bytes =
                std::fs::read(&path).map_err(|source| ExportError::Read { path, source })?;
            add(rel, &bytes)?;
        }
        for (file, png) in &self.copies {
            add(&file.path, png)?;
        }
        zip.finish().map_err(zip_err)?;
        std::fs::rename(&tmp, &self.out).map_err(|source| ExportError::Write {
            path: self.out.clone(),
            source,
        })
    }
}

impl Sink<ReviewedEvent> for BundleSink {
    fn accept(&mut self, e: &ReviewedEvent) -> Result<(), SinkError> {
        self.events.push(e.id().to_owned());
        for copy in &e.redacted {
            let from_sha256 =
                self.sealed
                    .get(&copy.from)
                    .cloned()
                    .ok_or_else(|| ExportError::NotInManifest {
                        dir: self.run.clone(),
                        rel: copy.from.clone(),
                    })?;
            let path = format!(
                "redacted/{}",
                Path::new(&copy.from).with_extension("png").display()
            );
            let file = RedactedFile {
                sha256: crate::digest::sha256_hex(&copy.png),
                path,
                from: copy.from.clone(),
                from_sha256,
                regions: copy.regions.clone(),
            };
            self.copies.push((file, copy.png.clone()));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        let included = self.included();
        let redaction = self.redaction.take().map(|mut r| {
            r.files = self.copies.iter().map(|(f, _)| f.clone()).collect();
            r
        });
        let record = BundleRecord {
            schema: BUNDLE_SCHEMA,
            format: BUNDLE_FORMAT.into(),
            version: 1,
            run_id: self.run_id.clone(),
            created_at: crate::clock::now_rfc3339(),
            events: self.events.clone(),
            selection: self.selection.clone(),
            included: included.clone(),
            redaction,
        };
        let json = record.to_json();
        let signer = RunSigner::load_or_create().map_err(ExportError::from)?;
        let signature =
            serde_json::to_vec_pretty(&bundle::sign(&json, &signer)).expect("seals serialise");
        Ok(self.write_zip(&json, &signature, &included)?)
    }
}
