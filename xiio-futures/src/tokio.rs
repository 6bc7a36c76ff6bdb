//! Crates that need tokio, on xiio (feature `tokio`).
//!
//! - [`TokioIo`] wraps any futures-io stream (an xiio
//!   [`TcpStream`](xiio_core::net::TcpStream)...) as tokio's `AsyncRead` +
//!   `AsyncWrite`, for crates that take tokio streams.
//! - [`with_tokio`] runs a future that needs a tokio context (a reqwest
//!   request, a tonic client, tokio-postgres) inside `xiio::run`: tokio's
//!   reactor and timers run on a helper thread, and the future is polled on
//!   xiio's thread with that runtime entered, so what it makes (a
//!   `tokio::net::TcpStream`, a `tokio::time::Sleep`) registers there and
//!   wakes xiio's task from that thread. xiio's thread never blocks on it.

use std::future::{Future, IntoFuture};
use std::io;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use xiio_core::embed::OutsideWork;

/// A futures-io stream as tokio's `AsyncRead` and `AsyncWrite`.
///
/// # Examples
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use xiio::compat::TokioIo;
///
/// xiio::run(async {
///     let (a, b) = xiio::net::UnixStream::pair()?;
///     let (mut a, mut b) = (TokioIo::new(a), TokioIo::new(b));
///     a.write_all(b"through tokio's traits").await?;
///     a.shutdown().await?;
///     let mut got = String::new();
///     b.read_to_string(&mut got).await?;
///     assert_eq!(got, "through tokio's traits");
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct TokioIo<T> {
    io: T,
}

impl<T> TokioIo<T> {
    /// Wraps `io`.
    pub fn new(io: T) -> TokioIo<T> {
        TokioIo { io }
    }

    /// The stream.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.io
    }
}

impl<T: AsyncRead + Unpin> tokio::io::AsyncRead for TokioIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Safe: the unfilled part is zeroed (once) before it is read into.
        let unfilled = buf.initialize_unfilled();
        match Pin::new(&mut self.get_mut().io).poll_read(cx, unfilled) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> tokio::io::AsyncWrite for TokioIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_close(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }
}

/// The tokio runtime behind [`with_tokio`]: one worker thread, which also
/// drives tokio's reactor and timers; made at the first use.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("xiio-tokio")
            .enable_all()
            .build()
            .expect("xiio::compat::with_tokio could not start a tokio runtime")
    })
}

/// Runs `fut`, which needs a tokio context (tokio's sockets, timers,
/// `tokio::spawn`), inside `xiio::run` (or any executor).
///
/// `fut` is polled on the caller's thread, with a tokio runtime entered:
/// what it makes registers with that runtime's reactor and timers, which a
/// helper thread ("xiio-tokio", one worker) drives and which wake the xiio
/// task from there. Tasks that `fut` spawns run on that worker. Dropping
/// the returned future drops `fut`, as usual.
///
/// Some tokio functions need the context when they are *called*, not only
/// when their future is polled (`tokio::time::sleep`, `tokio::spawn`):
/// call them inside an `async` block, `with_tokio(async { ... })`, as
/// below. An `async fn` of a tokio-only crate (`reqwest::get(url)`) may be
/// passed as it is.
///
/// # Examples
///
/// A tokio socket (which panics outside a tokio context) used from xiio:
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// xiio::run(async {
///     let listener = xiio::net::TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     xiio::task_group!(|tg| {
///         tg.add_task(async {
///             let (stream, _) = listener.accept().await?;
///             stream.write_all(b"hi from xiio").await
///         });
///         let got = xiio::compat::with_tokio(async {
///             let mut stream = tokio::net::TcpStream::connect(addr).await?;
///             let mut got = String::new();
///             stream.read_to_string(&mut got).await?;
///             Ok::<_, std::io::Error>(got)
///         })
///         .await?;
///         assert_eq!(got, "hi from xiio");
///         Ok::<_, std::io::Error>(())
///     })
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub fn with_tokio<F: IntoFuture>(fut: F) -> WithTokio<F::IntoFuture> {
    WithTokio {
        fut: Some(Box::pin(fut.into_future())),
        work: None,
    }
}

/// The future of [`with_tokio`].
///
/// While it waits, it counts as work outside xiio's thread (tokio's
/// helper thread drives its sockets and timers): on the mock clock, time
/// does not jump meanwhile, so an `xiio::timeout` around it measures the
/// real wait (jumping would fire it at once), and the task tree says the
/// task waits on tokio.
#[must_use = "futures do nothing unless awaited"]
pub struct WithTokio<F> {
    /// The future; `None` once dropped.
    fut: Option<Pin<Box<F>>>,
    /// Held from the first `Pending` to the end.
    work: Option<OutsideWork>,
}

impl<F: Future> Future for WithTokio<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let poll = {
            let _tokio = runtime().enter();
            let fut = this.fut.as_mut().expect("polled after drop");
            fut.as_mut().poll(cx)
        };
        match poll {
            Poll::Pending => this
                .work
                .get_or_insert_with(|| OutsideWork::new("work on tokio's helper thread"))
                .pending(),
            Poll::Ready(_) => this.work = None,
        }
        poll
    }
}

impl<F> Drop for WithTokio<F> {
    fn drop(&mut self) {
        // Dropping tokio resources (a socket deregistering) needs the
        // context too.
        let _tokio = runtime().enter();
        drop(self.fut.take());
    }
}
