//! `Job`: one operation of a [`File`](super::File) on the blocking pool,
//! and the `Buf` it carries there and back.

use std::fs::Metadata;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use crate::thread::{run_blocking, run_detached};

/// The most one job reads ahead, and the most one write takes: enough to
/// make the two thread hand-offs of a job cheap per byte.
pub(super) const MAX_BUF: usize = 64 * 1024;

/// What a finished job did.
pub(super) enum Op {
    /// Filled the buffer (left empty at the end of the file).
    Read(io::Result<()>),
    /// Wrote the buffer.
    Write(io::Result<()>),
    /// Moved to the position.
    Seek(io::Result<u64>),
    /// Read the metadata.
    Metadata(io::Result<Metadata>),
    /// Ran another call (`set_len`, `sync_all`, ...).
    Other(io::Result<()>),
}

/// A buffer of bytes read ahead (from `pos` on) or about to be written.
#[derive(Default)]
pub(super) struct Buf {
    bytes: Vec<u8>,
    pos: usize,
}

impl Buf {
    /// The bytes read ahead and not yet returned.
    pub(super) fn unread(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The seek that undoes the read-ahead: minus the unread bytes.
    pub(super) fn back(&self) -> i64 {
        // At most MAX_BUF: no overflow.
        -(self.unread() as i64)
    }

    pub(super) fn discard(&mut self) {
        self.bytes.clear();
        self.pos = 0;
    }

    /// Moves as many unread bytes as fit into `dst`.
    pub(super) fn copy_to(&mut self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(self.unread());
        dst[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        n
    }

    /// Replaces the content with up to `MAX_BUF` bytes read from `file`.
    pub(super) fn fill_from(&mut self, mut file: &std::fs::File) -> io::Result<()> {
        self.bytes.resize(MAX_BUF, 0);
        self.pos = 0;
        let read = loop {
            match file.read(&mut self.bytes) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                read => break read,
            }
        };
        self.bytes.truncate(*read.as_ref().unwrap_or(&0));
        read.map(drop)
    }
}

/// Moves `file`'s position by `offset` bytes, if that is not 0.
pub(super) fn seek_by(mut file: &std::fs::File, offset: i64) -> io::Result<()> {
    if offset != 0 {
        file.seek(SeekFrom::Current(offset))?;
    }
    Ok(())
}

/// An operation in flight on the pool; it owns the buffer meanwhile.
pub(super) struct Job {
    /// What the job did, and the buffer back.
    future: Pin<Box<dyn Future<Output = (Op, Buf)>>>,
    /// A write until a worker takes it. Dropping a `run_blocking` future
    /// whose job has not started skips the job, so `Drop for Job` queues
    /// the write again, detached, if no worker has taken it.
    write: Option<Arc<Mutex<Option<WriteJob>>>>,
}

impl Job {
    /// Runs `f` on `file` and `buf`.
    pub(super) fn new(
        file: Arc<std::fs::File>,
        mut buf: Buf,
        f: impl FnOnce(&std::fs::File, &mut Buf) -> Op + Send + 'static,
    ) -> Job {
        Job {
            future: Box::pin(run_blocking(move || (f(&file, &mut buf), buf))),
            write: None,
        }
    }

    /// Undoes the read-ahead of `buf`, then writes `src` (up to `MAX_BUF`
    /// bytes, copied into `buf`): the job and how many bytes it took.
    pub(super) fn write(file: Arc<std::fs::File>, mut buf: Buf, src: &[u8]) -> (Job, usize) {
        let back = buf.back();
        buf.discard();
        let n = src.len().min(MAX_BUF);
        buf.bytes.extend_from_slice(&src[..n]);
        let write = Arc::new(Mutex::new(Some(WriteJob { file, back, buf })));
        let work = write.clone();
        let future = Box::pin(run_blocking(move || match take(&work) {
            Some(write) => write.run(),
            // `Drop for Job` took the write; nobody polls this any more.
            None => (Op::Write(Ok(())), Buf::default()),
        }));
        let write = Some(write);
        (Job { future, write }, n)
    }

    /// Polls for what the job did and its buffer.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<(Op, Buf)> {
        self.future.as_mut().poll(cx)
    }
}

impl Drop for Job {
    /// Queues again, detached, a write no worker has taken (a taken one
    /// runs to its end on its worker).
    fn drop(&mut self) {
        let Some(write) = self.write.take() else {
            return;
        };
        if write
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
        {
            return; // taken: done, or running
        }
        let work = write.clone();
        let queued = run_detached(move || {
            if let Some(write) = take(&work) {
                write.run();
            }
        });
        if queued.is_err() {
            // No thread to write on: blocking here beats losing the bytes.
            if let Some(write) = take(&write) {
                write.run();
            }
        }
    }
}

/// A write as the pool runs it.
struct WriteJob {
    file: Arc<std::fs::File>,
    /// The seek that undoes the read-ahead, done first.
    back: i64,
    buf: Buf,
}

impl WriteJob {
    fn run(self) -> (Op, Buf) {
        let WriteJob {
            file,
            back,
            mut buf,
        } = self;
        let result = seek_by(&file, back).and_then(|()| (&*file).write_all(&buf.bytes));
        buf.discard();
        (Op::Write(result), buf)
    }
}

/// Takes a write out of its cell, for whoever runs it. The lock is
/// released before the write runs, so `Drop for Job` never waits for one.
fn take(cell: &Mutex<Option<WriteJob>>) -> Option<WriteJob> {
    cell.lock().unwrap_or_else(PoisonError::into_inner).take()
}
