//! Compile-time tests of the macros: `ui/pass` cases build and run,
//! `ui/fail` cases must fail with the error in their `.stderr` snapshot.
//!
//! After changing a message, regenerate the snapshots with
//! `TRYBUILD=overwrite cargo test --test macros_ui` and read the diff.

#[test]
fn macros_ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
