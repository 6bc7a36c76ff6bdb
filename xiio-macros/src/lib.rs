//! Procedural macros of [xiio]: `#[xiio::main]`, `#[xiio::test]`,
//! `task_group!`, `try_join!` and `select!`.
//!
//! Use them through the `xiio` crate (`#[xiio::main]`, not
//! `#[xiio_macros::main]`): the code they write names the runtime as
//! `::xiio::__private::...`, so a program depends on `xiio` alone.
//!
//! # Implementation
//!
//! The entry points below are thin: they hold the user documentation
//! and hand the tokens, as [`proc_macro2::TokenStream`], to a module that
//! does the work and that unit tests can call directly.
//!
//! - `entry` parses the function under `#[xiio::main]` or `#[xiio::test]`,
//!   checks it (async, no parameters, no generics, known arguments) and turns
//!   its body into an `async move` block handed to the runtime's `Builder`.
//! - `task_group` parses `[move] |tg| body` and writes
//!   `TaskGroup::scope(async [move] |tg| body).await`.
//! - `try_join` puts each future in one task group and gives the values as a
//!   tuple; `select` races boxed futures that wrap their outputs in an enum
//!   of one variant per arm, then matches the winner.
//!
//! Wrong input is a compile error spanned on the offending tokens, with a
//! message that says what to write instead. An attribute on a wrong function
//! still emits the function (as it would expand without the mistake), so the
//! rest of the code keeps type-checking and IDEs keep working.
//!
//! The examples run as doc tests through the `xiio` crate, a
//! dev-dependency; the `tests/ui` cases check the compile errors.
//!
//! [xiio]: https://docs.rs/xiio

// The docs show the `#[test]` function that `#[xiio::test]` expands to.
#![allow(clippy::test_attr_in_doctest)]

use proc_macro::TokenStream;

mod entry;
mod select;
mod task_group;
#[cfg(test)]
mod test_util;
mod try_join;

/// Runs `async fn main` on the xiio runtime.
///
/// The function must be `async`, take no parameters and have no generics. It
/// may return any type `main` can return, such as `io::Result<()>` or
/// `Result<(), Box<dyn Error>>`; its attributes and visibility are kept.
///
/// # Arguments
///
/// - `mock_clock`: run on the mock clock, where time stands still while any
///   task can make progress and jumps to the next deadline when none can
///   (see `xiio::Builder::mock_clock`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// #[xiio::main]
/// async fn main() -> std::io::Result<()> {
///     xiio::sleep(Duration::from_millis(10)).await;
///     println!("hello from xiio");
///     Ok(())
/// }
/// ```
///
/// The equivalent code without the macro (with `mock_clock`, it would be
/// `xiio::Builder::new().mock_clock(true).run(...)`):
///
/// ```
/// use std::time::Duration;
///
/// fn main() -> std::io::Result<()> {
///     xiio::run(async move {
///         xiio::sleep(Duration::from_millis(10)).await;
///         println!("hello from xiio");
///         Ok(())
///     })
/// }
/// ```
///
/// # Errors
///
/// A compile error, pointing at the offending tokens, if the function is not
/// `async`, takes parameters or has generics, or if an argument other than a
/// single `mock_clock` is given.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::main(args.into(), item.into()).into()
}

/// Runs an `async fn` test on a fresh xiio runtime.
///
/// The function must be `async`, take no parameters and have no generics. It
/// may return `()` or a `Result` (an `Err` fails the test, as for `#[test]`).
/// Other attributes, such as `#[should_panic]` or `#[ignore]`, are kept; do
/// not add `#[test]` yourself.
///
/// # Arguments
///
/// - `mock_clock`: run on the mock clock, where time stands still while any
///   task can make progress and jumps to the next deadline when none can. A
///   test of timing semantics then asserts exact durations, however slow
///   the machine.
/// - `seed = N`: poll woken tasks in the pseudo-random order that seed `N`
///   gives (`xiio::Builder::seed`), the same at every run.
///
/// Without `seed`, the environment variable `XIIO_SEED` (a number, or
/// `random`) gives every `#[xiio::test]` a seed, to run a whole suite under
/// other interleavings; a test that fails then prints its seed
/// (`xiio: this test ran with seed 42; XIIO_SEED=42 replays it`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// #[xiio::test(mock_clock)]
/// async fn sleep_takes_exactly_its_duration() {
///     let start = xiio::time::now();
///     xiio::sleep(Duration::from_millis(100)).await;
///     assert_eq!(xiio::time::now() - start, Duration::from_millis(100));
/// }
/// ```
///
/// The equivalent code without the macro (without `mock_clock`, the body
/// would be `xiio::run(async move { ... })`):
///
/// ```
/// use std::time::Duration;
///
/// #[test]
/// fn sleep_takes_exactly_its_duration() {
///     xiio::Builder::new()
///         .mock_clock(true)
///         .run(async move {
///             let start = xiio::time::now();
///             xiio::sleep(Duration::from_millis(100)).await;
///             assert_eq!(xiio::time::now() - start, Duration::from_millis(100));
///         })
/// }
/// ```
///
/// # Errors
///
/// The same compile errors as [`macro@main`], and one more if the function
/// already has a `#[test]` attribute.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::test(args.into(), item.into()).into()
}

/// Runs a block with a task group: the Rust spelling of Python's
/// `async with TaskGroup() as tg:`.
///
/// `task_group!(|tg| body)` runs `body` with `tg`, a `&xiio::TaskGroup`
/// whose `add_task` starts children that run while the body runs and may
/// borrow its locals. The macro is an `.await` expression, so it is used
/// inside async code: it ends when the body and every child have finished,
/// and evaluates to the body's `Result<T, E>`. The
/// first `Err` (from the body, for example through `?`, or from a child)
/// cancels every other task and becomes the result.
///
/// The accepted forms are those of a closure with one parameter:
/// `|tg| expr`, `move |tg| expr` (the body takes ownership of the locals it
/// uses), `|_| expr`, a type on the parameter
/// (`|tg: &xiio::TaskGroup<'_, '_, io::Error>|`) or a return type
/// (`|tg| -> io::Result<u32> { ... }`), either of which fixes the error type
/// when nothing else does. Do not write `async`: the macro adds it.
///
/// # Examples
///
/// ```
/// use std::{io, time::Duration};
///
/// #[xiio::main]
/// async fn main() -> io::Result<()> {
///     let name = String::from("child");
///     let (length, total) = xiio::task_group!(|tg| -> io::Result<_> {
///         // The child borrows `name`, a local of the parent.
///         let length = tg.add_task(async {
///             xiio::sleep(Duration::from_millis(10)).await;
///             Ok(name.len())
///         });
///         // The child runs while the body sleeps.
///         xiio::sleep(Duration::from_millis(20)).await;
///         Ok((length, 42))
///     })?;
///     assert_eq!(length.take(), Some(5));
///     assert_eq!(total, 42);
///     Ok(())
/// }
/// ```
///
/// The equivalent code without the macro:
///
/// ```
/// # use std::io;
/// # xiio::run(async {
/// let (length, total) = xiio::TaskGroup::scope(async |tg| -> io::Result<_> {
///     let length = tg.add_task(async { Ok(5) }); // ... the same body ...
///     Ok((length, 42))
/// })
/// .await?;
/// # assert_eq!((length.take(), total), (Some(5), 42));
/// # Ok::<_, io::Error>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// A compile error, pointing at the offending tokens, if the input is not a
/// closure with exactly one parameter, if the closure is already `async`, or
/// if tokens follow the closure.
#[proc_macro]
pub fn task_group(input: TokenStream) -> TokenStream {
    task_group::task_group(input.into()).into()
}

/// Runs futures of different types concurrently in one task group and
/// returns their values as a tuple: the tuple form of
/// `xiio::task::gather`. The first error cancels the rest, as in tokio's
/// and futures' `try_join!`, of the same name; unlike them, the rest's
/// `try_finally` cleanups are awaited.
///
/// Each future returns `Result<T, E>` with the same `E` (or `()`); the
/// macro evaluates to `Result<(T1, T2, ...), E>`. The first error cancels
/// the others (their `try_finally` cleanups are awaited) and is returned.
/// Use it inside an `async` block or function (it awaits).
///
/// # Examples
///
/// ```
/// # use std::io;
/// # xiio::run(async {
/// let (n, text) = xiio::try_join!(
///     async { Ok::<_, io::Error>(1) },
///     async { Ok(String::from("two")) },
/// )?;
/// assert_eq!((n, text.as_str()), (1, "two"));
/// # Ok::<_, io::Error>(())
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// A compile error if no future is given.
#[proc_macro]
pub fn try_join(input: TokenStream) -> TokenStream {
    try_join::try_join(input.into()).into()
}

/// Waits for the first of several futures of different types to finish,
/// cancels the others and awaits their `try_finally` cleanups, then
/// evaluates the winner's arm: `pattern = future => expression`.
///
/// Unlike `futures::select!` and tokio's `select!`, which drop the losers
/// on the spot, nothing a loser started outlives the `select!`: its
/// cleanups have finished when the arm runs. Of futures that finish in the
/// same turn, the first arm wins. Patterns must be irrefutable (`x`, `_`,
/// `(a, b)`); the arms' expressions run in the enclosing function, so `?`
/// and `return` work there. Use it inside an `async` block or function.
///
/// # Examples
///
/// ```
/// # use std::{io, time::Duration};
/// let result: io::Result<()> = xiio::Builder::new().mock_clock(true).run(async {
///     let reply = async {
///         xiio::sleep(Duration::from_secs(10)).await; // a slow peer
///         Ok::<_, io::Error>("pong")
///     };
///     let message = xiio::select! {
///         line = reply => format!("got {}", line?),
///         () = xiio::sleep(Duration::from_secs(5)) => "timed out".to_string(),
///     };
///     assert_eq!(message, "timed out");
///     Ok(())
/// });
/// result.unwrap();
/// ```
///
/// # Errors
///
/// A compile error, at the offending token, for an arm that is not
/// `pattern = future => expression`, and for no arm at all.
#[proc_macro]
pub fn select(input: TokenStream) -> TokenStream {
    select::select(input.into()).into()
}
