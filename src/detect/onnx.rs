//! ONNX Runtime: finding the shared library, loading a model, running it.
//!
//! This is the only module that touches `ort`. ONNX Runtime is loaded at run
//! time (`ort`'s `load-dynamic`) from, in order: `--ort-lib`, the
//! `ORT_DYLIB_PATH` environment variable, then a `.deps/` folder beside the
//! repository this binary was built from or beside the executable (and its
//! parent folders). `scripts/setup.sh` fills `.deps/` from the PyPI
//! `onnxruntime` wheel.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};
use serde::Serialize;

use super::family::{self, Family, ModelSignature, PostProcess};
use super::{labels, DetectError, Detection, Detector, Preprocess, Tensorised};

const INSTALL_HINT: &str = "run scripts/setup.sh (it puts the library from the PyPI onnxruntime==1.31.1 wheel into .deps/), \
     or pass --ort-lib PATH, or set ORT_DYLIB_PATH to libonnxruntime.so";

/// Finds the ONNX Runtime shared library; see the module docs for the order.
pub fn find_runtime_library(explicit: Option<&Path>) -> Result<PathBuf, DetectError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_owned())
        } else {
            Err(DetectError::RuntimeMissing(format!("--ort-lib {} is not a file; {INSTALL_HINT}", p.display())))
        };
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(DetectError::RuntimeMissing(format!("ORT_DYLIB_PATH={} is not a file; {INSTALL_HINT}", p.display())))
        };
    }
    for name in [".deps/libonnxruntime.so", ".deps/libonnxruntime.dylib", ".deps/onnxruntime.dll"] {
        if let Some(p) = crate::bundled::find(name) {
            return Ok(p);
        }
    }
    Err(DetectError::RuntimeMissing(format!("not found in --ort-lib, ORT_DYLIB_PATH or .deps/; {INSTALL_HINT}")))
}

static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// Loads ONNX Runtime once per process. Later calls reuse the first result,
/// whatever path they pass.
fn environment(library: &Path) -> Result<ort::environment::Environment, DetectError> {
    ENVIRONMENT
        .get_or_init(|| {
            let builder = ort::init_from(library).map_err(|e| e.to_string())?;
            builder.with_name("lookout").build().map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|message| DetectError::RuntimeLoad { path: library.to_owned(), message })
}

/// How to build a detector.
#[derive(Debug, Clone)]
pub struct OnnxConfig {
    pub model: PathBuf,
    pub labels: Option<PathBuf>,
    pub ort_lib: Option<PathBuf>,
    /// Intra-op threads; 0 lets ONNX Runtime choose.
    pub threads: usize,
    /// Input size for a model whose height and width are dynamic; 640 when
    /// unset. A fixed-size model ignores it.
    pub imgsz: Option<u32>,
    pub post: PostProcess,
}

/// Everything known about a loaded model, for logs, `run.json` and
/// `lookout inspect`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub family: Family,
    pub family_reason: String,
    pub input_name: String,
    pub input_shape: Vec<i64>,
    pub input_dtype: String,
    pub outputs: Vec<(String, Vec<i64>, String)>,
    pub labels: Vec<String>,
    /// Where the class names came from: `metadata`, a labels file, or
    /// `generated` (`class_N`).
    pub labels_source: String,
    pub preprocess: Preprocess,
    pub max_batch: usize,
}

/// An ONNX detection model ready to run.
pub struct OnnxDetector {
    session: Session,
    info: ModelInfo,
    input_f16: bool,
    post: PostProcess,
}

fn tensor_parts(vt: &ValueType) -> Option<(TensorElementType, Vec<i64>)> {
    match vt {
        ValueType::Tensor { ty, shape, .. } => Some((*ty, shape.to_vec())),
        _ => None,
    }
}

fn dtype_name(ty: TensorElementType) -> String {
    format!("{ty:?}").to_lowercase()
}

impl OnnxDetector {
    /// Loads the model, identifies its family and class names, and prepares
    /// preprocessing. Every failure names the model file.
    pub fn load(config: &OnnxConfig) -> Result<OnnxDetector, DetectError> {
        let path = &config.model;
        let bytes = std::fs::read(path).map_err(|source| DetectError::ModelIo { path: path.clone(), source })?;
        let env = environment(&find_runtime_library(config.ort_lib.as_deref())?)?;
        let load_err = |message: String| DetectError::ModelLoad { path: path.clone(), message };
        let unsupported = |reason: String| DetectError::Unsupported { path: path.clone(), reason };

        let mut builder = Session::builder(&env).map_err(|e| load_err(e.to_string()))?;
        if config.threads > 0 {
            builder = builder.with_intra_threads(config.threads).map_err(|e| load_err(e.to_string()))?;
        }
        // Spinning pool threads would steal the cores that decoding and the
        // evidence writer need between inference calls.
        let session = builder
            .with_inter_threads(1)
            .map_err(|e| load_err(e.to_string()))?
            .with_intra_op_spinning(false)
            .map_err(|e| load_err(e.to_string()))?
            .commit_from_memory(&bytes)
            .map_err(|e| load_err(e.to_string()))?;

        let [input] = session.inputs() else {
            return Err(unsupported(format!("it has {} inputs; a detector takes one image input", session.inputs().len())));
        };
        let (in_ty, in_shape) =
            tensor_parts(input.dtype()).ok_or_else(|| unsupported("its input is not a tensor".into()))?;
        if in_shape.len() != 4 || in_shape[1] != 3 {
            return Err(unsupported(format!("its input {} has shape {in_shape:?}; expected [batch, 3, height, width]", input.name())));
        }
        if !matches!(in_ty, TensorElementType::Float32 | TensorElementType::Float16) {
            return Err(unsupported(format!("its input is {}; expected float32 or float16", dtype_name(in_ty))));
        }
        // A dynamic spatial size runs at --imgsz, else 640, the common export size.
        let dynamic = config.imgsz.unwrap_or(640);
        let input_h = if in_shape[2] > 0 { in_shape[2] as u32 } else { dynamic };
        let input_w = if in_shape[3] > 0 { in_shape[3] as u32 } else { dynamic };
        let mut outputs = Vec::new();
        for o in session.outputs() {
            let (ty, shape) = tensor_parts(o.dtype())
                .ok_or_else(|| unsupported(format!("its output {} is not a tensor", o.name())))?;
            outputs.push((o.name().to_owned(), shape, dtype_name(ty)));
        }

        let metadata_names = session
            .metadata()
            .ok()
            .and_then(|m| m.custom("names"))
            .and_then(|text| labels::parse_names_metadata(&text));
        let sig = ModelSignature {
            input_shape: in_shape.clone(),
            outputs: outputs.iter().map(|(n, s, _)| (n.clone(), s.clone())).collect(),
            metadata_classes: metadata_names.as_ref().map(Vec::len),
        };
        let m = family::detect_family(&sig, input_w, input_h).map_err(unsupported)?;

        let (labels, labels_source) = match (&config.labels, metadata_names) {
            (Some(file), _) => (labels::read_labels_file(file)?, file.display().to_string()),
            (None, Some(names)) => (names, "metadata".to_owned()),
            (None, None) => {
                tracing::warn!(model = %path.display(), "model has no class names; using class_N (pass --labels)");
                ((0..m.num_classes).map(|i| format!("class_{i}")).collect(), "generated".to_owned())
            }
        };
        if labels.len() != m.num_classes {
            return Err(DetectError::Labels {
                path: config.labels.clone().unwrap_or_else(|| path.clone()),
                message: format!("{} class names for a model with {} classes", labels.len(), m.num_classes),
            });
        }

        let max_batch = match in_shape[0] {
            n if n > 0 => n as usize,
            _ => 64,
        };
        let info = ModelInfo {
            path: path.clone(),
            family: m.family,
            family_reason: m.reason,
            input_name: input.name().to_owned(),
            input_shape: in_shape,
            input_dtype: dtype_name(in_ty),
            outputs,
            labels,
            labels_source,
            preprocess: m.family.default_preprocess(input_w, input_h),
            max_batch,
        };
        Ok(OnnxDetector { session, info, input_f16: in_ty == TensorElementType::Float16, post: config.post })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Runs the model on a batch and returns the raw output and its shape.
    fn run_raw(&mut self, batch: &[Tensorised]) -> Result<(Vec<f32>, Vec<usize>), String> {
        let p = &self.info.preprocess;
        let shape = [batch.len(), 3, p.input_h as usize, p.input_w as usize];
        let mut data = Vec::with_capacity(shape.iter().product());
        for t in batch {
            data.extend_from_slice(&t.chw);
        }
        let input = if self.input_f16 {
            let halves: Vec<half::f16> = data.iter().map(|&v| half::f16::from_f32(v)).collect();
            Tensor::from_array((shape, halves)).map_err(|e| e.to_string())?.into_dyn()
        } else {
            Tensor::from_array((shape, data)).map_err(|e| e.to_string())?.into_dyn()
        };
        let name = self.info.input_name.clone();
        let outputs = self.session.run(ort::inputs![name => input]).map_err(|e| e.to_string())?;
        let (_, value) = outputs.iter().next().ok_or("the model returned no output")?;
        if let Ok((shape, data)) = value.try_extract_tensor::<f32>() {
            return Ok((data.to_vec(), shape.iter().map(|&d| d as usize).collect()));
        }
        let (shape, data) = value.try_extract_tensor::<half::f16>().map_err(|e| e.to_string())?;
        Ok((data.iter().map(|v| v.to_f32()).collect(), shape.iter().map(|&d| d as usize).collect()))
    }
}

impl Detector for OnnxDetector {
    fn preprocess(&self) -> &Preprocess {
        &self.info.preprocess
    }

    fn labels(&self) -> &[String] {
        &self.info.labels
    }

    fn max_batch(&self) -> usize {
        self.info.max_batch
    }

    fn detect(&mut self, batch: &[Tensorised]) -> Result<Vec<Vec<Detection>>, DetectError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let (data, shape) = self
            .run_raw(batch)
            .map_err(|message| DetectError::Inference { path: self.info.path.clone(), message })?;
        if shape.len() != 3 || shape[0] != batch.len() {
            return Err(DetectError::Inference {
                path: self.info.path.clone(),
                message: format!("output shape {shape:?} does not match a batch of {}", batch.len()),
            });
        }
        Ok(family::decode_outputs(self.info.family, &data, &shape, batch, &self.post))
    }
}
