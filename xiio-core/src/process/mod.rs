//! Child processes, on a pidfd (Linux): [`spawn`] starts one and gives a
//! [`Child`] with its piped stdio as async streams; [`run_process`] runs
//! one to its end and captures its output. A child whose `Child` is
//! dropped unreaped (cancelled) is terminated and reaped, with its process
//! group if it leads one.

mod child;
mod run;
mod status;

pub use child::{Child, spawn};
pub use run::run_process;
pub use status::{ProcessError, check_status};
