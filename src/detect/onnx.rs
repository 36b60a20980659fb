//! ONNX Runtime: finding the shared library, loading a model, running it.
//!
//! This is the only module that touches `ort`. ONNX Runtime is loaded at run
//! time (`ort`'s `load-dynamic`) from, in order: `--ort-lib`, the
//! `ORT_DYLIB_PATH` environment variable, then a `.deps/` folder beside the
//! repository this binary was built from or beside the executable (and its
//! parent folders). `scripts/setup.sh` fills `.deps/` from the PyPI
//! `onnxruntime` wheel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ort::session::Session;
use ort::session::SessionInputValue;
use ort::value::{Tensor, TensorElementType, TensorRef, ValueType};
use serde::{Deserialize, Serialize};

use super::family::{self, Family, ModelSignature, PostProcess, RawOutput, TensorDecl};
use super::{labels, DetectError, Detection, Detector, Layout, Preprocess, Tensorised};

const INSTALL_HINT: &str = "run scripts/setup.sh (it puts the library from the PyPI onnxruntime==1.31.1 wheel into .deps/), \
     or pass --ort-lib PATH, or set ORT_DYLIB_PATH to libonnxruntime.so";

/// Finds the ONNX Runtime shared library; see the module docs for the order.
pub fn find_runtime_library(explicit: Option<&Path>) -> Result<PathBuf, DetectError> {
    crate::bundled::locate(
        explicit,
        "--ort-lib",
        "ORT_DYLIB_PATH",
        &[
            ".deps/libonnxruntime.so",
            ".deps/libonnxruntime.dylib",
            ".deps/onnxruntime.dll",
        ],
        INSTALL_HINT,
    )
    .map_err(DetectError::RuntimeMissing)
}

/// Why ONNX Runtime would not load. Cloned, because the first attempt's
/// result answers every later one.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeLoadError {
    #[error("{0}")]
    Library(Arc<ort::LoadDynamicError>),
    #[error("{0}")]
    Environment(Arc<ort::Error>),
}

static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, RuntimeLoadError>> =
    OnceLock::new();

/// Loads ONNX Runtime once per process. Later calls reuse the first result,
/// whatever path they pass.
fn environment(library: &Path) -> Result<ort::environment::Environment, DetectError> {
    ENVIRONMENT
        .get_or_init(|| {
            let builder =
                ort::init_from(library).map_err(|e| RuntimeLoadError::Library(Arc::new(e)))?;
            builder
                .with_name("lookout")
                .build()
                .map_err(|e| RuntimeLoadError::Environment(Arc::new(e)))
        })
        .clone()
        .map_err(|problem| DetectError::RuntimeLoad {
            path: library.to_owned(),
            problem,
        })
}

/// The execution providers the loaded ONNX Runtime library offers.
pub fn available_providers(ort_lib: Option<&Path>) -> Result<Vec<String>, DetectError> {
    environment(&find_runtime_library(ort_lib)?)?;
    let api = ort::api();
    let mut list: *mut *mut std::ffi::c_char = std::ptr::null_mut();
    let mut n: std::ffi::c_int = 0;
    // SAFETY: the API fills `list` with `n` C strings that we copy and then
    // hand back to ONNX Runtime with ReleaseAvailableProviders.
    unsafe {
        let status = (api.GetAvailableProviders)(&mut list, &mut n);
        if !status.0.is_null() || list.is_null() {
            return Ok(Vec::new());
        }
        let names = (0..n as usize)
            .map(|i| {
                std::ffi::CStr::from_ptr(*list.add(i))
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        let _ = (api.ReleaseAvailableProviders)(list, n);
        Ok(names)
    }
}

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "id")]
pub enum Device {
    #[default]
    Cpu,
    Cuda(i32),
    TensorRt(i32),
}

/// A device name that does not parse; holds the name as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("bad device index in {0:?}")]
    BadIndex(String),
    #[error("unknown device {0:?}; use cpu, cuda[:N] or tensorrt[:N]")]
    Unknown(String),
}

impl std::str::FromStr for Device {
    type Err = DeviceError;
    /// `cpu`, `cuda`, `cuda:1`, `tensorrt`, `tensorrt:0`.
    fn from_str(s: &str) -> Result<Device, DeviceError> {
        let (kind, id) = s.split_once(':').unwrap_or((s, "0"));
        let id: i32 = id
            .parse()
            .map_err(|_| DeviceError::BadIndex(s.to_owned()))?;
        match kind.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(id)),
            "tensorrt" | "trt" => Ok(Device::TensorRt(id)),
            _ => Err(DeviceError::Unknown(s.to_owned())),
        }
    }
}

/// Why the configured device cannot run the model.
#[derive(Debug, thiserror::Error)]
pub enum DeviceStartError {
    #[error("the ONNX Runtime library has no CUDA execution provider; install the onnxruntime-gpu wheel's library (scripts/gpu-check.sh shows how)")]
    NoCuda,
    #[error("the ONNX Runtime library has no TensorRT execution provider; install the onnxruntime-gpu wheel's library and TensorRT")]
    NoTensorRt,
    /// `provider` is `CUDA` or `TensorRT`.
    #[error("cannot start {provider} device {id}: {error}")]
    Start {
        provider: &'static str,
        id: i32,
        error: ort::Error,
    },
    /// `feature` is the cargo feature that adds the device.
    #[error("this build of lookout has no support for {device:?}; rebuild with `cargo build --release --features {feature}`")]
    NotBuilt {
        device: Device,
        feature: &'static str,
    },
}

/// Config overrides of a family's preprocessing; unset parts keep the
/// family's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PreprocessOverride {
    pub resize: Option<super::Resize>,
    pub channels: Option<super::ChannelOrder>,
    /// Multiplier of 0–255 pixel values: 0.00392156862745098 (1/255) or 1.
    pub scale: Option<f32>,
    pub mean: Option<[f32; 3]>,
    pub std: Option<[f32; 3]>,
    pub pad_value: Option<u8>,
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
    /// Skip family detection and decode as this family.
    pub family: Option<Family>,
    pub preprocess: PreprocessOverride,
    pub device: Device,
}

impl OnnxConfig {
    /// A config with defaults for everything but the model.
    pub fn new(model: impl Into<PathBuf>) -> OnnxConfig {
        OnnxConfig {
            model: model.into(),
            labels: None,
            ort_lib: None,
            threads: 0,
            imgsz: None,
            post: PostProcess {
                conf: 0.25,
                iou: 0.5,
                max_det: 300,
            },
            family: None,
            preprocess: PreprocessOverride::default(),
            device: Device::Cpu,
        }
    }
}

/// Everything known about a loaded model, for logs, `run.json` and
/// `lookout inspect`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    /// sha256 of the model file, from the bytes the session was built from.
    pub sha256: String,
    pub family: Family,
    pub family_reason: String,
    pub inputs: Vec<TensorDecl>,
    pub outputs: Vec<TensorDecl>,
    pub metadata: BTreeMap<String, String>,
    pub labels: Vec<String>,
    /// Where the class names came from: `metadata`, a labels file, or
    /// `generated` (`class_N`).
    pub labels_source: String,
    pub preprocess: Preprocess,
    pub max_batch: usize,
    pub device: Device,
}

/// The model's input tensor element type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum InputType {
    F32,
    F16,
    U8,
}

/// An ONNX detection model ready to run.
pub struct OnnxDetector {
    session: Session,
    info: ModelInfo,
    image_input: String,
    input_type: InputType,
    /// Name of an extra `[batch, 2]` int64 input that takes each frame's
    /// `[width, height]` (RT-DETR's `orig_target_sizes`).
    sizes_input: Option<String>,
    post: PostProcess,
    /// Frames whose outputs held NaN or infinite values.
    non_finite: u64,
    /// The input of a batch of several frames, kept between calls.
    batch_buffer: Vec<f32>,
}

/// Which of the `n` images of a batch have a NaN or infinite value in any
/// output. An output whose first axis is the batch is split per image; one
/// without it (a squeezed batch of 1) counts for every image.
pub fn non_finite_images(outs: &[RawOutput], n: usize) -> Vec<bool> {
    let mut bad = vec![false; n];
    for o in outs {
        if n > 0 && o.shape.first() == Some(&n) && o.data.len().is_multiple_of(n) {
            let each = o.data.len() / n;
            for (i, chunk) in o.data.chunks(each.max(1)).enumerate().take(n) {
                bad[i] |= chunk.iter().any(|v| !v.is_finite());
            }
        } else if o.data.iter().any(|v| !v.is_finite()) {
            bad.iter_mut().for_each(|b| *b = true);
        }
    }
    bad
}

fn decl(name: &str, vt: &ValueType) -> TensorDecl {
    match vt {
        ValueType::Tensor {
            ty,
            shape,
            dimension_symbols,
        } => TensorDecl {
            name: name.to_owned(),
            dtype: format!("{ty:?}").to_lowercase(),
            shape: shape.to_vec(),
            symbols: dimension_symbols.iter().cloned().collect(),
        },
        other => TensorDecl {
            name: name.to_owned(),
            dtype: format!("{other:?}"),
            shape: Vec::new(),
            symbols: Vec::new(),
        },
    }
}

fn tensor_type(vt: &ValueType) -> Option<TensorElementType> {
    match vt {
        ValueType::Tensor { ty, .. } => Some(*ty),
        _ => None,
    }
}

fn register_device(
    builder: ort::session::builder::SessionBuilder,
    device: Device,
) -> Result<ort::session::builder::SessionBuilder, DeviceStartError> {
    match device {
        Device::Cpu => Ok(builder),
        #[cfg(feature = "cuda")]
        Device::Cuda(id) => {
            use ort::ep::ExecutionProvider;
            if !ort::ep::CUDA::is_available().unwrap_or(false) {
                return Err(DeviceStartError::NoCuda);
            }
            builder
                .with_execution_providers([ort::ep::CUDA::default()
                    .with_device_id(id)
                    .build()
                    .error_on_failure()])
                .map_err(|error| DeviceStartError::Start {
                    provider: "CUDA",
                    id,
                    error: error.into(),
                })
        }
        #[cfg(feature = "tensorrt")]
        Device::TensorRt(id) => {
            use ort::ep::ExecutionProvider;
            if !ort::ep::TensorRT::is_available().unwrap_or(false) {
                return Err(DeviceStartError::NoTensorRt);
            }
            let cache = tensorrt_cache();
            if let Err(error) = std::fs::create_dir_all(&cache) {
                tracing::warn!(path = %cache.display(), %error, "cannot create the TensorRT engine cache; engines will be built again on every run");
            }
            builder
                .with_execution_providers([ort::ep::TensorRT::default()
                    .with_device_id(id)
                    // Building an engine takes minutes; the cache keeps it
                    // for the next run of the same model on the same GPU.
                    .with_engine_cache(true)
                    .with_engine_cache_path(cache.display())
                    .with_timing_cache(true)
                    .with_timing_cache_path(cache.display())
                    .build()
                    .error_on_failure()])
                .map_err(|error| DeviceStartError::Start {
                    provider: "TensorRT",
                    id,
                    error: error.into(),
                })
        }
        #[allow(unreachable_patterns)]
        other => Err(DeviceStartError::NotBuilt {
            device: other,
            feature: if matches!(other, Device::Cuda(_)) {
                "cuda"
            } else {
                "tensorrt"
            },
        }),
    }
}

/// Where TensorRT keeps the engines and timing caches it builds:
/// `LOOKOUT_TENSORRT_CACHE`, else `$XDG_CACHE_HOME/lookout/tensorrt`, else
/// `~/.cache/lookout/tensorrt`, else a folder in the temporary directory.
#[cfg(feature = "tensorrt")]
fn tensorrt_cache() -> PathBuf {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("LOOKOUT_TENSORRT_CACHE").unwrap_or_else(|| {
        env("XDG_CACHE_HOME")
            .or_else(|| env("HOME").map(|h| h.join(".cache")))
            .unwrap_or_else(std::env::temp_dir)
            .join("lookout")
            .join("tensorrt")
    })
}

impl OnnxDetector {
    /// Loads the model, identifies its family and class names, and prepares
    /// preprocessing. Every failure names the model file.
    pub fn load(config: &OnnxConfig) -> Result<OnnxDetector, DetectError> {
        let path = &config.model;
        let bytes = std::fs::read(path).map_err(|source| DetectError::ModelIo {
            path: path.clone(),
            source,
        })?;
        let env = environment(&find_runtime_library(config.ort_lib.as_deref())?)?;
        let load_err = |error: ort::Error| DetectError::ModelLoad {
            path: path.clone(),
            error,
        };
        let unsupported = |reason: String| DetectError::Unsupported {
            path: path.clone(),
            reason,
        };

        let mut builder = Session::builder(&env).map_err(load_err)?;
        if config.threads > 0 {
            builder = builder
                .with_intra_threads(config.threads)
                .map_err(|e| load_err(e.into()))?;
        }
        // Spinning pool threads would steal the cores that decoding and the
        // evidence writer need between inference calls.
        builder = builder
            .with_inter_threads(1)
            .map_err(|e| load_err(e.into()))?
            .with_intra_op_spinning(false)
            .map_err(|e| load_err(e.into()))?;
        builder =
            register_device(builder, config.device).map_err(|problem| DetectError::Device {
                path: path.clone(),
                problem,
            })?;
        let session = builder.commit_from_memory(&bytes).map_err(load_err)?;

        let inputs: Vec<TensorDecl> = session
            .inputs()
            .iter()
            .map(|i| decl(i.name(), i.dtype()))
            .collect();
        let outputs: Vec<TensorDecl> = session
            .outputs()
            .iter()
            .map(|o| decl(o.name(), o.dtype()))
            .collect();
        let mut metadata = BTreeMap::new();
        if let Ok(m) = session.metadata() {
            for key in m.custom_keys().unwrap_or_default() {
                if let Some(v) = m.custom(&key) {
                    metadata.insert(key, v);
                }
            }
        }
        let metadata_names = metadata
            .get("names")
            .and_then(|t| labels::parse_names_metadata(t));

        // The image input: rank 4 with 3 channels, NCHW or NHWC.
        let image = inputs
            .iter()
            .position(|i| i.shape.len() == 4 && (i.shape[1] == 3 || i.shape[3] == 3))
            .ok_or_else(|| {
                let found: Vec<String> = inputs.iter().map(|i| format!("{} {:?} {}", i.name, i.shape, i.dtype)).collect();
                unsupported(format!("no image input [batch, 3, height, width] or [batch, height, width, 3] among its inputs ({})", found.join(", ")))
            })?;
        let image_decl = inputs[image].clone();
        let layout = if image_decl.shape[1] == 3 {
            Layout::Nchw
        } else {
            Layout::Nhwc
        };
        let input_type = match tensor_type(session.inputs()[image].dtype()) {
            Some(TensorElementType::Float32) => InputType::F32,
            Some(TensorElementType::Float16) => InputType::F16,
            Some(TensorElementType::Uint8) => InputType::U8,
            _ => {
                return Err(unsupported(format!(
                    "its image input {} is {}; expected float32, float16 or uint8",
                    image_decl.name, image_decl.dtype
                )))
            }
        };
        let mut sizes_input = None;
        for (i, d) in inputs.iter().enumerate() {
            if i == image {
                continue;
            }
            if d.name == "orig_target_sizes" || (d.shape.last() == Some(&2) && d.dtype == "int64") {
                sizes_input = Some(d.name.clone());
            } else {
                return Err(unsupported(format!(
                    "it has an extra input {} {:?} {} that lookout does not know how to fill",
                    d.name, d.shape, d.dtype
                )));
            }
        }
        let (h_axis, w_axis) = if layout == Layout::Nchw {
            (2, 3)
        } else {
            (1, 2)
        };
        // A dynamic spatial size runs at --imgsz, else 640, the common export size.
        let dynamic = config.imgsz.unwrap_or(640);
        let input_h = if image_decl.shape[h_axis] > 0 {
            image_decl.shape[h_axis] as u32
        } else {
            dynamic
        };
        let input_w = if image_decl.shape[w_axis] > 0 {
            image_decl.shape[w_axis] as u32
        } else {
            dynamic
        };

        let sig = ModelSignature {
            inputs: inputs.clone(),
            outputs: outputs.clone(),
            metadata: metadata.clone(),
            metadata_classes: metadata_names.as_ref().map(Vec::len),
        };
        let m =
            family::detect_family(&sig, input_w, input_h, config.family).map_err(|problem| {
                DetectError::Family {
                    path: path.clone(),
                    problem,
                }
            })?;

        let (labels, labels_source) = match (&config.labels, metadata_names) {
            (Some(file), _) => (labels::read_labels_file(file)?, file.display().to_string()),
            (None, Some(names)) => (names, "metadata".to_owned()),
            (None, None) => {
                let n = m.num_classes.unwrap_or(0);
                tracing::warn!(model = %path.display(), "model has no class names; using class_N (pass --labels)");
                (
                    (0..n).map(|i| format!("class_{i}")).collect(),
                    "generated".to_owned(),
                )
            }
        };
        if let Some(n) = m.num_classes.filter(|&n| n != labels.len()) {
            return Err(DetectError::Labels {
                path: config.labels.clone().unwrap_or_else(|| path.clone()),
                message: format!("{} class names for a model with {n} classes", labels.len()),
            });
        }

        let mut preprocess = m.family.default_preprocess(input_w, input_h);
        preprocess.layout = layout;
        let o = &config.preprocess;
        preprocess.resize = o.resize.unwrap_or(preprocess.resize);
        preprocess.channels = o.channels.unwrap_or(preprocess.channels);
        preprocess.scale = o.scale.unwrap_or(preprocess.scale);
        preprocess.mean = o.mean.unwrap_or(preprocess.mean);
        preprocess.std = o.std.unwrap_or(preprocess.std);
        preprocess.pad_value = o.pad_value.unwrap_or(preprocess.pad_value);
        if input_type == InputType::U8
            && (preprocess.scale != 1.0
                || preprocess.mean != [0.0; 3]
                || preprocess.std != [1.0; 3])
        {
            return Err(unsupported(
                "its uint8 input takes raw 0–255 pixels; scale, mean and std cannot apply".into(),
            ));
        }

        // Several frames share a call only when the batch axis is dynamic
        // on the way in and on the way out.
        // DETR exports for batch 1 (DEIM, D-FINE deploy scripts) squeeze the
        // batch axis out, `labels [N]`: their dynamic first axis is the
        // queries, not the batch.
        let squeezed = m.family == Family::Detr && outputs.iter().any(|o| o.shape.len() == 1);
        let max_batch = match image_decl.shape[0] {
            n if n > 0 => n as usize,
            _ if !squeezed && outputs.iter().all(|o| o.shape.first() == Some(&-1)) => 64,
            _ => 1,
        };
        let info = ModelInfo {
            path: path.clone(),
            sha256: crate::digest::sha256_hex(&bytes),
            family: m.family,
            family_reason: m.reason,
            inputs,
            outputs,
            metadata,
            labels,
            labels_source,
            preprocess,
            max_batch,
            device: config.device,
        };
        Ok(OnnxDetector {
            session,
            info,
            image_input: image_decl.name,
            input_type,
            sizes_input,
            post: config.post,
            non_finite: 0,
            batch_buffer: Vec::new(),
        })
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Runs the model once on a blank frame, so that ONNX Runtime's first-
    /// call set-up (memory arenas, kernel choices) is not paid by the first
    /// frame of a sortie or the first alert of a feed. A failure is only
    /// logged: the same failure on a real frame is reported with it.
    pub fn warm_up(&mut self) {
        let p = &self.info.preprocess;
        let blank = image::RgbImage::from_pixel(
            p.input_w.max(1),
            p.input_h.max(1),
            image::Rgb([p.pad_value; 3]),
        );
        let tensor = p.run(&blank);
        let non_finite = self.non_finite;
        if let Err(e) = self.detect(std::slice::from_ref(&tensor)) {
            tracing::debug!(model = %self.info.path.display(), error = %e, "warm-up inference failed");
        }
        self.non_finite = non_finite;
    }

    /// Runs the model on a batch and returns every output as f32.
    fn run_raw(&mut self, batch: &[Tensorised]) -> Result<Vec<RawOutput>, InferenceError> {
        let p = &self.info.preprocess;
        let (h, w) = (p.input_h as usize, p.input_w as usize);
        let shape = match p.layout {
            Layout::Nchw => [batch.len(), 3, h, w],
            Layout::Nhwc => [batch.len(), h, w, 3],
        };
        // The model reads a single frame's tensor where it lies; a batch
        // is copied into one buffer, kept for the next call (a fresh one
        // per call is zeroed and faulted in, page by page).
        let data: &[f32] = match batch {
            [one] => &one.data,
            many => {
                self.batch_buffer.clear();
                for t in many {
                    self.batch_buffer.extend_from_slice(&t.data);
                }
                &self.batch_buffer
            }
        };
        let image: SessionInputValue<'_> = match self.input_type {
            InputType::F32 => TensorRef::from_array_view((shape, data))?.into(),
            InputType::F16 => {
                let halves: Vec<half::f16> = data.iter().map(|&v| half::f16::from_f32(v)).collect();
                Tensor::from_array((shape, halves))?.into_dyn().into()
            }
            InputType::U8 => {
                let bytes: Vec<u8> = data
                    .iter()
                    .map(|&v| v.round().clamp(0.0, 255.0) as u8)
                    .collect();
                Tensor::from_array((shape, bytes))?.into_dyn().into()
            }
        };
        let mut inputs: Vec<(String, SessionInputValue<'_>)> =
            vec![(self.image_input.clone(), image)];
        if let Some(name) = &self.sizes_input {
            let sizes: Vec<i64> = batch
                .iter()
                .flat_map(|t| [t.src_w as i64, t.src_h as i64])
                .collect();
            inputs.push((
                name.clone(),
                Tensor::from_array(([batch.len(), 2], sizes))?
                    .into_dyn()
                    .into(),
            ));
        }
        let outputs = self.session.run(inputs)?;
        let mut raw = Vec::new();
        for (name, value) in outputs.iter() {
            raw.push(to_f32(name, &value)?);
        }
        Ok(raw)
    }
}

/// A model run as it is, with one f32 input and f32 outputs: for helper
/// models whose decoding lives elsewhere, such as the face detector of
/// `lookout export --redact` ([`super::face`]).
pub struct RawModel {
    session: Session,
    path: PathBuf,
    input: String,
    /// sha256 of the model file.
    pub sha256: String,
}

impl RawModel {
    /// Loads `path` on the CPU with at most `threads` intra-op threads
    /// (0: ONNX Runtime chooses).
    pub fn load(path: &Path, ort_lib: Option<&Path>, threads: usize) -> Result<Self, DetectError> {
        let bytes = std::fs::read(path).map_err(|source| DetectError::ModelIo {
            path: path.to_owned(),
            source,
        })?;
        let env = environment(&find_runtime_library(ort_lib)?)?;
        let load_err = |error: ort::Error| DetectError::ModelLoad {
            path: path.to_owned(),
            error,
        };
        let mut builder = Session::builder(&env).map_err(load_err)?;
        if threads > 0 {
            builder = builder
                .with_intra_threads(threads)
                .map_err(|e| load_err(e.into()))?;
        }
        let session = builder.commit_from_memory(&bytes).map_err(load_err)?;
        let input = match session.inputs() {
            [one] => one.name().to_owned(),
            many => {
                return Err(DetectError::Unsupported {
                    path: path.to_owned(),
                    reason: format!("expected one input, found {}", many.len()),
                })
            }
        };
        Ok(RawModel {
            session,
            path: path.to_owned(),
            input,
            sha256: crate::digest::sha256_hex(&bytes),
        })
    }

    /// Runs the model on one f32 tensor and returns every output as f32,
    /// in the model's output order.
    pub fn run(&mut self, shape: &[usize], data: Vec<f32>) -> Result<Vec<RawOutput>, DetectError> {
        let fail = |problem: InferenceError| DetectError::Inference {
            path: self.path.clone(),
            problem,
        };
        let tensor = Tensor::from_array((shape.to_vec(), data))
            .map_err(|e| fail(e.into()))?
            .into_dyn();
        let outputs = self
            .session
            .run(vec![(self.input.clone(), tensor)])
            .map_err(|e| fail(e.into()))?;
        let mut raw = Vec::new();
        for (name, value) in outputs.iter() {
            raw.push(to_f32(name, &value).map_err(fail)?);
        }
        Ok(raw)
    }
}

/// What a model declares (inputs, outputs with dynamic dimensions, custom
/// metadata), read without deciding its family: for `lookout inspect` on a
/// model that [`OnnxDetector::load`] refuses.
pub fn read_signature(path: &Path, ort_lib: Option<&Path>) -> Result<ModelSignature, DetectError> {
    let bytes = std::fs::read(path).map_err(|source| DetectError::ModelIo {
        path: path.to_owned(),
        source,
    })?;
    let env = environment(&find_runtime_library(ort_lib)?)?;
    let session = Session::builder(&env)
        .and_then(|mut b| b.commit_from_memory(&bytes))
        .map_err(|error| DetectError::ModelLoad {
            path: path.to_owned(),
            error,
        })?;
    let mut metadata = BTreeMap::new();
    if let Ok(m) = session.metadata() {
        for key in m.custom_keys().unwrap_or_default() {
            if let Some(v) = m.custom(&key) {
                metadata.insert(key, v);
            }
        }
    }
    Ok(ModelSignature {
        inputs: session
            .inputs()
            .iter()
            .map(|i| decl(i.name(), i.dtype()))
            .collect(),
        outputs: session
            .outputs()
            .iter()
            .map(|o| decl(o.name(), o.dtype()))
            .collect(),
        metadata_classes: metadata
            .get("names")
            .and_then(|t| labels::parse_names_metadata(t))
            .map(|n| n.len()),
        metadata,
    })
}

/// Why a batch did not run through the model, or did not decode.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error("{0}")]
    Runtime(ort::Error),
    /// `dtype` is ONNX Runtime's name of the type.
    #[error("output {name} has a type lookout cannot read ({dtype})")]
    OutputType { name: String, dtype: String },
    #[error(transparent)]
    Decode(#[from] family::DecodeError),
}

impl From<ort::Error> for InferenceError {
    fn from(e: ort::Error) -> InferenceError {
        InferenceError::Runtime(e)
    }
}

/// Copies an output tensor of any numeric type into f32.
fn to_f32(name: &str, value: &ort::value::DynValueRef<'_>) -> Result<RawOutput, InferenceError> {
    macro_rules! try_as {
        ($t:ty, $conv:expr) => {
            if let Ok((shape, data)) = value.try_extract_tensor::<$t>() {
                return Ok(RawOutput {
                    name: name.to_owned(),
                    shape: shape.iter().map(|&d| d as usize).collect(),
                    data: data.iter().map($conv).collect(),
                });
            }
        };
    }
    try_as!(f32, |&v| v);
    try_as!(half::f16, |v| v.to_f32());
    try_as!(i64, |&v| v as f32);
    try_as!(i32, |&v| v as f32);
    try_as!(f64, |&v| v as f32);
    try_as!(u8, |&v| f32::from(v));
    try_as!(i8, |&v| f32::from(v));
    Err(InferenceError::OutputType {
        name: name.to_owned(),
        dtype: format!("{:?}", value.dtype()),
    })
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

    fn non_finite_frames(&self) -> u64 {
        self.non_finite
    }

    fn detect(&mut self, batch: &[Tensorised]) -> Result<Vec<Vec<Detection>>, DetectError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let outs = self
            .run_raw(batch)
            .map_err(|problem| DetectError::Inference {
                path: self.info.path.clone(),
                problem,
            })?;
        let bad = non_finite_images(&outs, batch.len())
            .iter()
            .filter(|b| **b)
            .count() as u64;
        if bad > 0 && self.non_finite == 0 {
            tracing::warn!(
                "the model {} gave NaN or infinite outputs; such values give no detections \
                 (the run's summary counts the frames affected)",
                self.info.path.display()
            );
        }
        self.non_finite += bad;
        family::decode_outputs(
            self.info.family,
            &outs,
            batch,
            &self.post,
            self.sizes_input.is_some(),
        )
        .map_err(|e| DetectError::Inference {
            path: self.info.path.clone(),
            problem: e.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_outputs_are_found_per_image() {
        let out = |shape: Vec<usize>, data: Vec<f32>| RawOutput {
            name: "o".into(),
            shape,
            data,
        };
        let batched = out(vec![3, 2], vec![0.0, 1.0, f32::NAN, 2.0, 3.0, 4.0]);
        assert_eq!(non_finite_images(&[batched], 3), vec![false, true, false]);
        let inf = out(vec![3, 1], vec![0.0, 0.0, f32::INFINITY]);
        let fine = out(vec![3, 1], vec![0.0, 0.0, 0.0]);
        assert_eq!(
            non_finite_images(&[fine.clone(), inf], 3),
            vec![false, false, true]
        );
        assert_eq!(non_finite_images(&[fine], 3), vec![false; 3]);
        // No batch axis: the one image is bad.
        let squeezed = out(vec![5], vec![0.0, f32::NEG_INFINITY, 0.0, 0.0, 0.0]);
        assert_eq!(non_finite_images(&[squeezed], 1), vec![true]);
    }
}
