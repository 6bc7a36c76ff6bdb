//! Unix signals as values a task awaits: [`subscribe_signals`] and
//! [`ctrl_c`], with the platform's signal numbers and their names, so that
//! a program depends on `xiio` alone.
//!
//! # Examples
//!
//! ```
//! use xiio::signal::{self, SIGINT, SIGTERM};
//!
//! assert_eq!(signal::name(SIGINT), Some("SIGINT"));
//! assert_ne!(SIGINT, SIGTERM);
//! ```

mod subscribe;

use std::ffi::c_int;

pub use signal_hook::consts::signal::*;
pub use subscribe::{Signals, ctrl_c, subscribe_signals};

/// The name of a signal (`"SIGINT"` for [`SIGINT`]), or `None` for a
/// number signal-hook does not know.
///
/// # Examples
///
/// ```
/// assert_eq!(xiio::signal::name(xiio::signal::SIGUSR1), Some("SIGUSR1"));
/// assert_eq!(xiio::signal::name(1000), None);
/// ```
pub fn name(signal: c_int) -> Option<&'static str> {
    signal_hook::low_level::signal_name(signal)
}
