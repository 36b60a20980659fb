//! Integration tests, all in one binary (as ripgrep does): model fixtures
//! through the library, and the real `lookout` binary on temporary folders.
//!
//! They need ONNX Runtime; `scripts/test.sh` installs it into `.deps/`.

mod util;

mod behaviour;
mod corpus;
mod deploy;
mod detect;
mod eval;
mod inspect;
mod raster;
mod reliability;
mod resume;
mod review;
mod run;
mod sampling;
mod screen;
mod shard;
mod sortie;
mod store;
mod telemetry;
mod watch;
