//! Panic containment: a boundary where a panic becomes an error value.

use std::any::Any;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Mutex;
use std::task::Poll;

/// Runs `fut`, and turns a panic in it into `Err(Panicked)`: a boundary
/// that a panic does not cross.
///
/// Inside a task group a panic is a bug that cancels every other task and
/// is resumed in the parent once the cleanups ran: right for tasks that
/// cooperate on one result, fatal for a server, where one request that
/// panics must not end every other connection. Wrap each connection (or
/// request) in `catch_panic` instead: its panic ends only that future, and
/// comes back as a value with the payload's message, to log or answer
/// with (tokio contains every spawned task's panic this way, whether you
/// want it or not; xiio makes it a choice at the boundary you name).
///
/// Nothing is lost silently: the panic hook prints the panic as usual, the
/// payload is in the returned [`Panicked`], and the `try_finally` cleanups
/// inside `fut` still run (those left unfinished by the unwind run in the
/// enclosing group). Only what `fut` owns is dropped; state it shared with
/// others (a `RefCell` it was mutating) may be half-updated, as after any
/// caught panic.
///
/// # Examples
///
/// ```
/// use xiio::task::catch_panic;
///
/// xiio::run(async {
///     let requests = ["/", "/crash", "/about"];
///     let answers = xiio::task_group!(|tg| {
///         let tasks: Vec<_> = requests
///             .iter()
///             .map(|path| {
///                 tg.add_task(async move {
///                     let handled = catch_panic(async move {
///                         if *path == "/crash" {
///                             let empty: Vec<u8> = Vec::new();
///                             return empty[0]; // a bug in one handler
///                         }
///                         path.len() as u8
///                     });
///                     Ok(match handled.await {
///                         Ok(len) => format!("200 {len}"),
///                         Err(panicked) => format!("500 {}", panicked.message()),
///                     })
///                 })
///             })
///             .collect();
///         xiio::task::yield_now().await;
///         Ok::<_, ()>(tasks)
///     })
///     .unwrap();
///     let answers: Vec<_> = answers.iter().map(|t| t.take().unwrap()).collect();
///     assert_eq!(answers[0], "200 1");
///     assert!(answers[1].starts_with("500 index out of bounds"), "{}", answers[1]);
///     assert_eq!(answers[2], "200 6");
/// });
/// ```
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps one more copy of `fut`"
)]
pub fn catch_panic<F: Future>(fut: F) -> impl Future<Output = Result<F::Output, Panicked>> {
    async move {
        let mut fut = pin!(fut);
        poll_fn(
            |cx| match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
                Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
                Ok(Poll::Pending) => Poll::Pending,
                Err(payload) => Poll::Ready(Err(Panicked::new(payload))),
            },
        )
        .await
    }
}

/// A panic caught by [`catch_panic`]: its message, and the payload itself.
///
/// An error (`Send + Sync`), so it converts into `io::Error` with
/// `io::Error::other` and crosses threads; to let the panic go on after
/// all, `std::panic::resume_unwind(panicked.into_panic())`.
pub struct Panicked {
    /// The payload's message (`"Box<dyn Any>"` if it has none).
    message: String,
    /// The payload, as `panic!` made it. (In a `Mutex` only so that the
    /// error is `Sync`: a payload is just `Send`.)
    payload: Mutex<Box<dyn Any + Send>>,
}

impl Panicked {
    /// Wraps a caught panic's payload.
    pub(crate) fn new(payload: Box<dyn Any + Send>) -> Panicked {
        let message = match (
            payload.downcast_ref::<&str>(),
            payload.downcast_ref::<String>(),
        ) {
            (Some(message), _) => message.to_string(),
            (_, Some(message)) => message.clone(),
            _ => "Box<dyn Any>".to_string(),
        };
        Panicked {
            message,
            payload: Mutex::new(payload),
        }
    }

    /// The panic's message: what `panic!` (or the failed `assert!`, index,
    /// `unwrap`) said.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The payload, as `panic!` made it: to inspect, or to resume the
    /// panic with `std::panic::resume_unwind`.
    pub fn into_panic(self) -> Box<dyn Any + Send> {
        self.payload
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Panicked")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "panicked: {}", self.message)
    }
}

impl std::error::Error for Panicked {}
