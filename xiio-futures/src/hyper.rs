//! What hyper 1.x needs from a runtime, on xiio (feature `hyper`).
//!
//! - [`HyperIo`] wraps any futures-io stream (an xiio
//!   [`TcpStream`](xiio_core::net::TcpStream), a `&TcpStream`, a TLS stream
//!   of futures-rustls...) as `hyper::rt::Read` + `Write`.
//! - [`HyperTimer`] is a `hyper::rt::Timer` on xiio's sleeps (and its
//!   clock: on the mock clock, hyper's timeouts are virtual too).
//! - [`HyperExecutor`] is a `hyper::rt::Executor` that adds hyper's
//!   background futures (HTTP/2 streams) to a
//!   [`TaskGroup`](xiio_core::TaskGroup): they may be `!Send`, and they end
//!   with the group.
//!
//! # Examples
//!
//! An HTTP/1 server and a client request to it, all on xiio:
//!
//! ```
//! use std::convert::Infallible;
//!
//! use http_body_util::{BodyExt, Full};
//! use hyper::body::Bytes;
//! use hyper::{Request, Response};
//! use xiio::compat::HyperIo;
//! use xiio::net::{TcpListener, TcpStream};
//!
//! xiio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     xiio::task_group!(|tg| {
//!         tg.add_task(async {
//!             let (stream, _) = listener.accept().await?;
//!             let hello = hyper::service::service_fn(|_req| async {
//!                 Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
//!             });
//!             hyper::server::conn::http1::Builder::new()
//!                 .serve_connection(HyperIo::new(stream), hello)
//!                 .await
//!                 .map_err(std::io::Error::other)
//!         });
//!         let stream = TcpStream::connect(addr).await?;
//!         let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
//!             .await
//!             .map_err(std::io::Error::other)?;
//!         tg.add_task(async { conn.await.map_err(std::io::Error::other) });
//!         let request = Request::get("/").body(Full::<Bytes>::default()).unwrap();
//!         let response = sender.send_request(request).await.map_err(std::io::Error::other)?;
//!         let body = response.into_body().collect().await.map_err(std::io::Error::other)?;
//!         assert_eq!(body.to_bytes(), "hello");
//!         drop(sender); // ends the client connection, and so the server's
//!         Ok::<_, std::io::Error>(())
//!     })
//! })?;
//! # Ok::<_, std::io::Error>(())
//! ```

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use hyper::rt::ReadBufCursor;
use xiio_core::TaskGroup;
use xiio_core::task::TaskOutput;

/// How much one read takes at most: hyper reads headers and bodies in
/// chunks of this order.
const READ_CHUNK: usize = 16 * 1024;

/// A futures-io stream as hyper's `Read` and `Write`.
///
/// Reads go through a buffer of the wrapper's own (hyper's read buffer
/// may be uninitialized, and filling it directly would need `unsafe`): the
/// bytes are read into it, then copied to hyper with `put_slice`.
#[derive(Debug)]
pub struct HyperIo<T> {
    /// The stream.
    io: T,
    /// Where reads land before hyper gets them; allocated at the first read.
    buf: Vec<u8>,
}

impl<T> HyperIo<T> {
    /// Wraps `io`.
    pub fn new(io: T) -> HyperIo<T> {
        HyperIo {
            io,
            buf: Vec::new(),
        }
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

impl<T: AsyncRead + Unpin> hyper::rt::Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let len = buf.remaining().min(READ_CHUNK);
        if this.buf.len() < len {
            this.buf.resize(len, 0);
        }
        match Pin::new(&mut this.io).poll_read(cx, &mut this.buf[..len]) {
            Poll::Ready(Ok(n)) => {
                buf.put_slice(&this.buf[..n]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for HyperIo<T> {
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

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

/// hyper's timer on xiio: its sleeps are [`xiio::sleep`](xiio_core::sleep)s
/// and its clock is [`xiio::time::now`](xiio_core::time::now), so hyper's timeouts
/// (header read timeout, HTTP/2 keep-alive) follow a mock clock too.
///
/// # Examples
///
/// ```
/// let mut builder = hyper::server::conn::http1::Builder::new();
/// builder
///     .timer(xiio::compat::HyperTimer)
///     .header_read_timeout(std::time::Duration::from_secs(10));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HyperTimer;

impl hyper::rt::Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(xiio_core::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HyperSleep(xiio_core::time::sleep_until(deadline)))
    }

    fn now(&self) -> Instant {
        xiio_core::time::now()
    }
}

/// An xiio sleep as hyper's `Sleep` (`xiio::time::Sleep` holds plain data, so it
/// is `Send` and `Sync` as hyper asks).
struct HyperSleep(xiio_core::time::Sleep);

impl Future for HyperSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

impl hyper::rt::Sleep for HyperSleep {}

/// hyper's executor on xiio: each future hyper hands over (an HTTP/2
/// stream, a connection's background work) becomes a child of `group`.
/// The futures need not be `Send`; they are cancelled with the group.
///
/// # Examples
///
/// ```
/// xiio::run(xiio::TaskGroup::scope(async |tg| {
///     let executor = xiio::compat::HyperExecutor::new(tg);
///     let _builder = hyper::server::conn::http2::Builder::new(executor);
///     Ok::<_, std::io::Error>(())
/// }))?;
/// # Ok::<_, std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct HyperExecutor<'scope, 'env, E> {
    /// Where the futures go.
    group: &'scope TaskGroup<'scope, 'env, E>,
}

impl<'scope, 'env, E> HyperExecutor<'scope, 'env, E> {
    /// An executor that adds futures to `group`.
    pub fn new(group: &'scope TaskGroup<'scope, 'env, E>) -> HyperExecutor<'scope, 'env, E> {
        HyperExecutor { group }
    }
}

impl<E> Clone for HyperExecutor<'_, '_, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for HyperExecutor<'_, '_, E> {}

impl<'scope, 'env, E: 'env, F> hyper::rt::Executor<F> for HyperExecutor<'scope, 'env, E>
where
    F: Future + 'scope,
    F::Output: TaskOutput<E>,
{
    fn execute(&self, fut: F) {
        self.group.add_task(fut);
    }
}
