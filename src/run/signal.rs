//! SIGINT and SIGTERM, for every driver.
//!
//! The first signal asks the run to stop: the driver closes what is open,
//! writes its record and seals the run folder (`screen` as `interrupted`,
//! `watch` as its normal end). A second signal exits at once with status
//! 130, leaving the folder as a kill would (`--resume` continues it).
//!
//! The process-wide handler is installed once; each run [`arm`]s it with
//! what to do on the first signal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
static REQUESTED: AtomicBool = AtomicBool::new(false);
type OnStop = Box<dyn Fn() + Send>;
static ON_STOP: Mutex<Option<OnStop>> = Mutex::new(None);

/// Installs the handler if it is not yet, clears an earlier request, and
/// calls `on_stop` (from the handler's thread) on the next first signal.
pub fn arm(on_stop: impl Fn() + Send + 'static) -> Result<(), super::RunError> {
    let installed = INSTALLED.get_or_init(|| {
        ctrlc::set_handler(|| {
            if REQUESTED.swap(true, Ordering::SeqCst) {
                eprintln!("second signal: exiting now; the run folder is left as a kill leaves it (`lookout screen --resume` continues a screen run)");
                std::process::exit(130);
            }
            eprintln!("stopping: closing open events and sealing the run (signal again to exit at once)");
            if let Some(f) = ON_STOP.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                f();
            }
        })
        .map_err(|e| e.to_string())
    });
    if let Err(e) = installed {
        return Err(super::RunError::Signal(e.clone()));
    }
    REQUESTED.store(false, Ordering::SeqCst);
    *ON_STOP.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(on_stop));
    Ok(())
}

/// Whether a signal asked the run to stop since it was armed.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Stops calling the run's `on_stop` (the run is over).
pub fn disarm() {
    *ON_STOP.lock().unwrap_or_else(|e| e.into_inner()) = None;
}
