//! The cases on tokio: a current-thread runtime, `LocalSet`, `spawn_local`.

use std::cell::Cell;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use hyper::rt::ReadBufCursor;

use tokio::task::{JoinSet, LocalSet};

use crate::common::{
    HOUR, HYPER_READ_CHUNK, Idle, MESSAGE, OneShot, channels, hello, hold_idle, idle_sockets_if,
    idle_task, idle_timer_offsets, memory_when_started, oneshot_pair, pending_child, pinger,
    ponger, ready_after_yield, resident_bytes, timer_offsets, wait_started, yielder,
};
use crate::http::Proto;
use crate::{
    ECHO_SIZE, IDLE_N, MEMORY_N, Meter, PINGPONG_WAKEUPS, Runtime, SPAWN_N, Sample, TIMEOUTS_N,
    WAKEUP_WAKEUPS, YIELDS,
};

/// tokio: a current-thread runtime with a `LocalSet` and
/// `JoinSet::spawn_local`.
pub struct Tokio;

/// Runs `fut` to completion on a fresh current-thread runtime (timers
/// and I/O enabled), inside a `LocalSet`.
fn block_on<F: Future>(fut: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    LocalSet::new().block_on(&rt, fut)
}

/// tokio's one-shot: `tokio::sync::oneshot`.
struct TokioShot;

impl OneShot for TokioShot {
    type Tx = tokio::sync::oneshot::Sender<u32>;
    type Rx = Pin<Box<dyn Future<Output = u32>>>;
    fn pair() -> (Self::Tx, Self::Rx) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (tx, Box::pin(async move { rx.await.unwrap() }))
    }
    fn send(tx: Self::Tx, v: u32) {
        tx.send(v).unwrap();
    }
}

/// A tokio stream as hyper's `Read` and `Write`, the way
/// `xiio::compat::HyperIo` does it for futures-io streams (and without
/// `unsafe`, unlike hyper-util's `TokioIo`): reads land in a buffer of the
/// adapter's own, then are copied to hyper with `put_slice`.
struct TokioIo<T> {
    /// The stream.
    io: T,
    /// Where reads land; allocated at the first read.
    buf: Vec<u8>,
}

impl<T> TokioIo<T> {
    /// Wraps `io`.
    fn new(io: T) -> TokioIo<T> {
        TokioIo {
            io,
            buf: Vec::new(),
        }
    }
}

impl<T: tokio::io::AsyncRead + Unpin> hyper::rt::Read for TokioIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let len = buf.remaining().min(HYPER_READ_CHUNK);
        if this.buf.len() < len {
            this.buf.resize(len, 0);
        }
        let mut read = tokio::io::ReadBuf::new(&mut this.buf[..len]);
        match Pin::new(&mut this.io).poll_read(cx, &mut read) {
            Poll::Ready(Ok(())) => {
                buf.put_slice(read.filled());
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> hyper::rt::Write for TokioIo<T> {
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
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

/// hyper's executor on tokio's `LocalSet`: HTTP/2 streams are
/// `spawn_local`ed (they need not be `Send`).
#[derive(Clone, Copy)]
struct LocalExecutor;

impl<F> hyper::rt::Executor<F> for LocalExecutor
where
    F: Future + 'static,
{
    fn execute(&self, fut: F) {
        tokio::task::spawn_local(fut);
    }
}

impl Runtime for Tokio {
    fn name(&self) -> &'static str {
        "tokio"
    }

    fn spawn(&self) -> Sample {
        block_on(async {
            let meter = Meter::start();
            let mut set = JoinSet::new();
            for _ in 0..SPAWN_N {
                set.spawn_local(async {});
            }
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    fn timers(&self) -> Sample {
        let offsets = timer_offsets();
        block_on(async {
            let meter = Meter::start();
            let base = tokio::time::Instant::from_std(meter.wall);
            let mut set = JoinSet::new();
            for &offset in &offsets {
                set.spawn_local(tokio::time::sleep_until(base + offset));
            }
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    fn timeouts(&self) -> Sample {
        block_on(async {
            let meter = Meter::start();
            let mut set = JoinSet::new();
            for i in 0..TIMEOUTS_N {
                set.spawn_local(async move {
                    let value = tokio::time::timeout(HOUR, ready_after_yield(i)).await;
                    std::hint::black_box(value.ok());
                });
            }
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    fn memory(&self) -> f64 {
        block_on(async {
            let started = Rc::new(Cell::new(0));
            let before = resident_bytes();
            let mut set = JoinSet::new();
            for _ in 0..MEMORY_N {
                set.spawn_local(pending_child(started.clone(), tokio::time::sleep(HOUR)));
            }
            let per_child = memory_when_started(&started, MEMORY_N, before).await;
            set.shutdown().await;
            per_child
        })
    }

    fn pingpong(&self) -> Sample {
        block_on(async {
            let (ping_tx, ping_rx, pong_tx, pong_rx) = channels();
            let meter = Meter::start();
            let mut set = JoinSet::new();
            set.spawn_local(ponger(ping_rx, pong_tx));
            set.spawn_local(pinger(ping_tx, pong_rx, PINGPONG_WAKEUPS / 2));
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    fn yields(&self) -> Sample {
        block_on(async {
            let meter = Meter::start();
            let mut set = JoinSet::new();
            set.spawn_local(yielder(YIELDS));
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    fn oneshot(&self) -> Sample {
        block_on(async {
            let (a, b) = oneshot_pair::<TokioShot>(PINGPONG_WAKEUPS / 2);
            let meter = Meter::start();
            let mut set = JoinSet::new();
            set.spawn_local(b);
            set.spawn_local(a);
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    /// The echo case on tokio: one task per connection end, as tokio users
    /// write it.
    fn echo(&self, conns: usize, messages: usize) -> Sample {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::{TcpListener, TcpStream};
        block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let mut clients = Vec::new();
            let mut servers = Vec::new();
            for _ in 0..conns {
                clients.push(TcpStream::connect(addr).await.unwrap());
                servers.push(listener.accept().await.unwrap().0);
            }
            for stream in clients.iter().chain(&servers) {
                stream.set_nodelay(true).unwrap();
            }
            let rounds = messages / conns;
            let meter = Meter::start();
            let mut set = JoinSet::new();
            for mut server in servers {
                set.spawn_local(async move {
                    let mut buf = [0; 4096];
                    loop {
                        let n = server.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        server.write_all(&buf[..n]).await.unwrap();
                    }
                });
            }
            for mut client in clients {
                set.spawn_local(async move {
                    let mut buf = [0; 4096];
                    for _ in 0..rounds {
                        client.write_all(&MESSAGE).await.unwrap();
                        let mut got = 0;
                        while got < ECHO_SIZE {
                            got += client.read(&mut buf[got..]).await.unwrap();
                        }
                    }
                    client.shutdown().await.unwrap();
                });
            }
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            meter.stop()
        })
    }

    fn wakeup(&self, idle: Idle) -> Sample {
        let sockets = idle_sockets_if(idle);
        block_on(async move {
            let started = Rc::new(Cell::new(0));
            let mut idlers = JoinSet::new();
            let n = match idle {
                Idle::None => 0,
                Idle::Timers => {
                    let now = tokio::time::Instant::now();
                    let sleeps = idle_timer_offsets()
                        .into_iter()
                        .map(|d| tokio::time::sleep_until(now + d))
                        .collect();
                    idlers.spawn_local(hold_idle(sleeps, started.clone()));
                    1
                }
                Idle::Fds => {
                    let started = started.clone();
                    idlers.spawn_local(async move {
                        let fds: Vec<_> = sockets
                            .into_iter()
                            .map(|s| {
                                s.set_nonblocking(true).unwrap();
                                tokio::net::UnixStream::from_std(s).unwrap()
                            })
                            .collect();
                        let waits = fds.iter().map(|fd| fd.readable()).collect();
                        hold_idle(waits, started).await;
                    });
                    1
                }
                Idle::Tasks => {
                    for _ in 0..IDLE_N {
                        idlers.spawn_local(idle_task(started.clone()));
                    }
                    IDLE_N
                }
            };
            wait_started(&started, n).await;
            let (ping_tx, ping_rx, pong_tx, pong_rx) = channels();
            let meter = Meter::start();
            let mut set = JoinSet::new();
            set.spawn_local(ponger(ping_rx, pong_tx));
            set.spawn_local(pinger(ping_tx, pong_rx, WAKEUP_WAKEUPS / 2));
            while let Some(done) = set.join_next().await {
                done.unwrap();
            }
            let elapsed = meter.stop();
            idlers.abort_all();
            while idlers.join_next().await.is_some() {}
            elapsed
        })
    }

    /// The HTTP server: an accept loop, each connection `spawn_local`ed, as
    /// tokio users write it (hyper-util's `TokioIo` would do the same
    /// reads and writes).
    fn http_server(&self, listener: std::net::TcpListener, proto: Proto) {
        use hyper::server::conn::{http1, http2};
        block_on(async {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.expect("accept");
                stream.set_nodelay(true).unwrap();
                let io = TokioIo::new(stream);
                let service = hyper::service::service_fn(hello);
                tokio::task::spawn_local(async move {
                    // A client that leaves is no error of the server's.
                    let _ = match proto {
                        Proto::Http1 => http1::Builder::new().serve_connection(io, service).await,
                        Proto::Http2 => {
                            http2::Builder::new(LocalExecutor)
                                .serve_connection(io, service)
                                .await
                        }
                    };
                });
            }
        })
    }
}
