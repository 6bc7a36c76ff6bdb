//! `File`: an open file, read and written on the blocking pool through a
//! buffer, one job at a time.

use std::fmt;
use std::fs::{Metadata, Permissions};
use std::future::poll_fn;
use std::io::{self, Seek, SeekFrom};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use super::OpenOptions;
use super::job::{Buf, Job, Op, seek_by};

/// An open file, read, written and sought without blocking the runtime:
/// `futures_io::AsyncRead`, `AsyncWrite` and `AsyncSeek` (use them through
/// `futures::io`'s extension traits).
///
/// # Why a thread pool
///
/// A regular file is always "ready" to epoll, so a read that must wait for
/// the disk would block the runtime's thread; as tokio and async-fs do,
/// every operation runs on xiio's blocking pool
/// ([`run_blocking`](crate::thread::run_blocking)) instead (io_uring, which
/// could do without threads, is out of scope). While an operation is in
/// flight, a mock clock ([`Builder::mock_clock`](crate::Builder::mock_clock))
/// holds still: file work takes no virtual time.
///
/// # Buffering
///
/// One operation runs at a time, in the order they were asked for. A read
/// reads up to 64 KiB ahead and serves later reads from that buffer; a
/// write copies up to 64 KiB into the buffer, starts writing it in the
/// background and returns at once, so **flush** (or close) to learn that
/// the bytes reached the file: the error of a background write is returned
/// by the next operation (read, write, seek, flush, close, or any method
/// here but [`into_std`](File::into_std)), never dropped. Seeking first finishes the write in flight and
/// counts the read-ahead bytes not yet returned, so positions are those of
/// an unbuffered file. Dropping a `File` does not lose a write in flight:
/// it completes on the pool (unreported, as with std's `BufWriter`).
///
/// A `File` is tied to its thread (`!Send`); move a `std::fs::File` between
/// threads with [`into_std`](File::into_std) and
/// [`from_std`](File::from_std).
///
/// # Examples
///
/// ```
/// use std::io::SeekFrom;
///
/// use futures::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
/// use xiio::fs::File;
///
/// xiio::run(async {
///     let path = std::env::temp_dir().join(format!("xiio-doc-file-{}", std::process::id()));
///     let mut file = File::options().read(true).write(true).create(true).open(&path).await?;
///     file.write_all(b"hello, file").await?;
///     file.seek(SeekFrom::Start(7)).await?; // writes what is buffered first
///     let mut rest = String::new();
///     file.read_to_string(&mut rest).await?;
///     assert_eq!(rest, "file");
///     xiio::fs::remove_file(&path).await
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct File {
    /// The file. Its only other owner is the job in flight, if any (a
    /// finished job has dropped its clone before its future is ready).
    std: Arc<std::fs::File>,
    /// Bytes read ahead and not yet returned: the std file's position is
    /// `buf.unread()` bytes past the logical one. Empty while a job is in
    /// flight, which owns the buffer then; never holds unwritten bytes.
    buf: Buf,
    /// The operation in flight.
    job: Option<Job>,
}

impl File {
    /// Opens the file at `path` for reading: [`std::fs::File::open`] on the
    /// blocking pool.
    ///
    /// # Errors
    ///
    /// Those of `std::fs::File::open` (`NotFound`, `PermissionDenied`, ...).
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens the file at `path` for writing, created if missing and emptied
    /// if not: [`std::fs::File::create`] on the blocking pool.
    ///
    /// # Errors
    ///
    /// Those of `std::fs::File::create`.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        options.open(path).await
    }

    /// Creates the file at `path` for reading and writing; fails with
    /// `AlreadyExists` if it exists: [`std::fs::File::create_new`].
    ///
    /// # Errors
    ///
    /// Those of `std::fs::File::create_new`.
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create_new(true);
        options.open(path).await
    }

    /// Options to open a file with, [`OpenOptions::new`].
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open std file; reads and writes start at its position.
    pub fn from_std(std: std::fs::File) -> File {
        File {
            std: Arc::new(std),
            buf: Buf::default(),
            job: None,
        }
    }

    /// The file's metadata, after the write in flight (so its length counts
    /// the bytes written).
    ///
    /// # Errors
    ///
    /// That of a background write not reported yet, or those of
    /// [`std::fs::File::metadata`].
    pub async fn metadata(&mut self) -> io::Result<Metadata> {
        match self.run(|std, _| Op::Metadata(std.metadata())).await? {
            Op::Metadata(result) => result,
            _ => unreachable!("`run` returns what its own job did"),
        }
    }

    /// Truncates or extends the file to `size` bytes; the position does not
    /// change: [`std::fs::File::set_len`].
    ///
    /// # Errors
    ///
    /// That of a background write not reported yet, or those of `set_len`.
    pub async fn set_len(&mut self, size: u64) -> io::Result<()> {
        self.other(move |std, buf| {
            // The read-ahead may lie past the new end: read it again.
            let back = buf.back();
            buf.discard();
            seek_by(std, back).and_then(|()| std.set_len(size))
        })
        .await
    }

    /// Writes what is buffered, then flushes the file's data and metadata
    /// to the device: [`std::fs::File::sync_all`].
    ///
    /// # Errors
    ///
    /// That of a background write not reported yet, or those of `sync_all`.
    pub async fn sync_all(&mut self) -> io::Result<()> {
        self.other(|std, _| std.sync_all()).await
    }

    /// Writes what is buffered, then flushes the file's data to the device:
    /// [`std::fs::File::sync_data`].
    ///
    /// # Errors
    ///
    /// That of a background write not reported yet, or those of `sync_data`.
    pub async fn sync_data(&mut self) -> io::Result<()> {
        self.other(|std, _| std.sync_data()).await
    }

    /// Changes the file's permissions: [`std::fs::File::set_permissions`].
    ///
    /// # Errors
    ///
    /// That of a background write not reported yet, or those of
    /// `set_permissions`.
    pub async fn set_permissions(&mut self, perm: Permissions) -> io::Result<()> {
        self.other(move |std, _| std.set_permissions(perm)).await
    }

    /// The std file, once the operation in flight is over, positioned where
    /// this file's reads and writes would go on.
    ///
    /// An error of the last background write is dropped here: flush first
    /// to see it.
    pub async fn into_std(mut self) -> std::fs::File {
        let _ = self
            .run(|std, buf| {
                let back = buf.back();
                buf.discard();
                // Fails only on an unseekable file, whose read-ahead is lost.
                Op::Other(seek_by(std, back))
            })
            .await;
        self.try_into_std()
            .unwrap_or_else(|_| unreachable!("no job in flight, no read-ahead"))
    }

    /// The std file, at once: `Err(self)` if an operation is in flight or
    /// read-ahead bytes are not returned yet (the std file's position is
    /// past them). [`into_std`](File::into_std) waits instead.
    pub fn try_into_std(self) -> Result<std::fs::File, File> {
        if self.job.is_some() || self.buf.unread() > 0 {
            return Err(self);
        }
        // No job in flight: no other owner of `std` (see `File::std`).
        Arc::try_unwrap(self.std).map_err(|std| File {
            std,
            buf: Buf::default(),
            job: None,
        })
    }

    /// Puts `f` in flight with the buffer. Every job starts here, after the
    /// previous one is over: one at a time, in order.
    fn start(&mut self, f: impl FnOnce(&std::fs::File, &mut Buf) -> Op + Send + 'static) {
        let buf = std::mem::take(&mut self.buf);
        self.job = Some(Job::new(self.std.clone(), buf, f));
    }

    /// Waits for the job in flight, if any: what it did, or `None` if
    /// nothing was in flight. The file is idle once this is ready.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<Option<Op>> {
        let Some(job) = &mut self.job else {
            return Poll::Ready(None);
        };
        let (op, buf) = ready!(job.poll(cx));
        (self.job, self.buf) = (None, buf);
        Poll::Ready(Some(op))
    }

    /// [`poll_idle`](File::poll_idle), reporting a failed write. Other
    /// results found here belong to calls that were cancelled.
    fn poll_complete(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(self.poll_idle(cx)) {
            Some(Op::Write(Err(e))) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }

    /// Runs `f` as the next job and returns what it did. Cancelled, the job
    /// stays in flight and the next operation waits for it.
    async fn run(
        &mut self,
        f: impl FnOnce(&std::fs::File, &mut Buf) -> Op + Send + 'static,
    ) -> io::Result<Op> {
        poll_fn(|cx| self.poll_complete(cx)).await?;
        self.start(f);
        match poll_fn(|cx| self.poll_idle(cx)).await {
            Some(op) => Ok(op),
            None => unreachable!("the job started above is in flight"),
        }
    }

    /// [`run`](File::run) for a call that returns nothing.
    async fn other(
        &mut self,
        f: impl FnOnce(&std::fs::File, &mut Buf) -> io::Result<()> + Send + 'static,
    ) -> io::Result<()> {
        match self.run(move |std, buf| Op::Other(f(std, buf))).await? {
            Op::Other(result) => result,
            _ => unreachable!("`run` returns what its own job did"),
        }
    }
}

impl From<std::fs::File> for File {
    fn from(std: std::fs::File) -> File {
        File::from_std(std)
    }
}

impl futures_io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match ready!(this.poll_idle(cx)) {
                // A read (this one, or one cancelled) filled the buffer;
                // empty, it is the end of the file.
                Some(Op::Read(result)) => {
                    return Poll::Ready(result.map(|()| this.buf.copy_to(dst)));
                }
                Some(Op::Write(Err(e))) => return Poll::Ready(Err(e)),
                _ => {}
            }
            if this.buf.unread() > 0 || dst.is_empty() {
                return Poll::Ready(Ok(this.buf.copy_to(dst)));
            }
            this.start(|std, buf| Op::Read(buf.fill_from(std)));
        }
    }
}

impl futures_io::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_complete(cx))?;
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let buf = std::mem::take(&mut this.buf);
        let (job, n) = Job::write(this.std.clone(), buf, src);
        this.job = Some(job);
        // Polled once so that the job is queued now, not at the next call.
        match this.poll_complete(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(n)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_complete(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl futures_io::AsyncSeek for File {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        loop {
            match ready!(this.poll_idle(cx)) {
                // The seek this call started on an earlier poll: futures-io
                // polls again with the same `pos` until it is ready. (The
                // one misreading: a seek cancelled midway, then another.)
                Some(Op::Seek(result)) => return Poll::Ready(result),
                Some(Op::Write(Err(e))) => return Poll::Ready(Err(e)),
                _ => {}
            }
            let pos = match pos {
                SeekFrom::Current(offset) => match offset.checked_add(this.buf.back()) {
                    Some(offset) => SeekFrom::Current(offset),
                    None => return Poll::Ready(Err(io::ErrorKind::InvalidInput.into())),
                },
                pos => pos,
            };
            this.start(move |mut std, buf| {
                buf.discard();
                Op::Seek(std.seek(pos))
            });
        }
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("std", &self.std)
            .field("busy", &self.job.is_some())
            .finish()
    }
}
