//! The integration tests of xiio, written against the `xiio` crate as a
//! user writes programs, in one test binary with a module per concept.
//!
//! Timing semantics run on the mock clock and assert exact virtual
//! durations; tests that need real threads, processes or signals allow
//! generous slack. Tests that must run in a process of their own (they
//! change per-process limits or signal dispositions, or would hang the
//! suite if the bug they guard against came back) re-run this binary on
//! one `#[ignore]`d test: see `util::assert_ignored_child_passes`.

mod util;

mod compat;
mod examples;
mod fs;
mod io;
mod macros;
mod net;
mod process;
mod signal;
mod task;
mod thread;
mod time;
