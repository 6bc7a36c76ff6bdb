//! `ReadDir`: the entries of a directory, fetched on the blocking pool in
//! batches.

use std::collections::VecDeque;
use std::fmt;
use std::fs::DirEntry;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::thread::run_blocking;

/// How many entries one job fetches: a job costs two thread hand-offs, so
/// it should do more than one `readdir` step's worth of work.
const BATCH: usize = 32;

/// The entries of a directory, made by [`read_dir`](super::read_dir): a
/// `futures_core::Stream` of `io::Result<std::fs::DirEntry>`, or call
/// [`next_entry`](ReadDir::next_entry).
///
/// Entries are fetched on the blocking pool, 32 at a time, in the
/// order the OS lists them, without `.` and `..`. Both ways of reading are
/// cancel-safe: a fetch interrupted by a cancelled `next_entry` is
/// picked up by the next call, and no entry is lost.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
///
/// xiio::run(async {
///     let mut names = Vec::new();
///     let mut entries = xiio::fs::read_dir(env!("CARGO_MANIFEST_DIR")).await?;
///     while let Some(entry) = entries.next().await {
///         names.push(entry?.file_name());
///     }
///     assert!(names.iter().any(|name| name == "Cargo.toml"));
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct ReadDir(State);

enum State {
    /// No fetch in flight: entries fetched and not yet returned, and the
    /// std iterator, `None` once it is exhausted.
    Idle(VecDeque<io::Result<DirEntry>>, Option<std::fs::ReadDir>),
    /// A fetch on the pool, which owns the iterator meanwhile.
    Busy(Pin<Box<dyn Future<Output = Fetched>>>),
}

/// What a fetch gives back: its batch, and the iterator unless exhausted.
type Fetched = (VecDeque<io::Result<DirEntry>>, Option<std::fs::ReadDir>);

impl ReadDir {
    pub(super) fn new(iter: std::fs::ReadDir) -> ReadDir {
        ReadDir(State::Idle(VecDeque::new(), Some(iter)))
    }

    /// The next entry, or `None` at the end of the directory.
    ///
    /// # Errors
    ///
    /// Those that std's `ReadDir` yields; the entries after an error may
    /// still be read.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry: the poll form of
    /// [`next_entry`](ReadDir::next_entry).
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            match &mut self.0 {
                State::Idle(batch, iter) => {
                    if let Some(entry) = batch.pop_front() {
                        return Poll::Ready(entry.map(Some));
                    }
                    let Some(mut iter) = iter.take() else {
                        return Poll::Ready(Ok(None));
                    };
                    let mut batch = std::mem::take(batch);
                    self.0 = State::Busy(Box::pin(run_blocking(move || {
                        let more = fetch(&mut batch, &mut iter);
                        (batch, more.then_some(iter))
                    })));
                }
                State::Busy(job) => {
                    let (batch, iter) = ready!(job.as_mut().poll(cx));
                    self.0 = State::Idle(batch, iter);
                }
            }
        }
    }
}

/// Moves up to [`BATCH`] entries from `iter` to `batch`, stopping after an
/// error so that it is returned in order; false once `iter` is exhausted.
fn fetch(batch: &mut VecDeque<io::Result<DirEntry>>, iter: &mut std::fs::ReadDir) -> bool {
    for _ in 0..BATCH {
        let Some(entry) = iter.next() else {
            return false;
        };
        let failed = entry.is_err();
        batch.push_back(entry);
        if failed {
            break;
        }
    }
    true
}

impl futures_core::Stream for ReadDir {
    type Item = io::Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_entry(cx).map(Result::transpose)
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let busy = matches!(self.0, State::Busy(_));
        f.debug_struct("ReadDir").field("busy", &busy).finish()
    }
}
