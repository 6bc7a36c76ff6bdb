//! Child processes: [`run_process`] runs a command to its end without
//! blocking, on a pidfd, and kills and reaps it when cancelled.

mod run;
mod status;

pub use run::run_process;
pub use status::{ProcessError, check_status};
