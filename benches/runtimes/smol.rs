//! The cases on smol: `LocalExecutor` on async-io.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Instant;

use smol::{Async, LocalExecutor, Timer};
use xiio::compat::HyperIo;

use crate::common::{
    HOUR, Idle, MESSAGE, OneShot, channels, hello, hold_idle, idle_sockets_if, idle_task,
    idle_timer_offsets, memory_when_started, oneshot_pair, pending_child, pinger, ponger,
    ready_after_yield, resident_bytes, timer_offsets, wait_started, yielder,
};
use crate::http::Proto;
use crate::{
    ECHO_SIZE, IDLE_N, MEMORY_N, Meter, PINGPONG_WAKEUPS, Runtime, SPAWN_N, Sample, TIMEOUTS_N,
    WAKEUP_WAKEUPS, YIELDS,
};

/// smol: a `LocalExecutor` driven by `smol::block_on` (async-io's reactor
/// and `smol::Timer`).
pub struct Smol;

/// smol has no one-shot of its own: `futures::channel::oneshot`.
struct FuturesShot;

impl OneShot for FuturesShot {
    type Tx = futures::channel::oneshot::Sender<u32>;
    type Rx = Pin<Box<dyn Future<Output = u32>>>;
    fn pair() -> (Self::Tx, Self::Rx) {
        let (tx, rx) = futures::channel::oneshot::channel();
        (tx, Box::pin(async move { rx.await.unwrap() }))
    }
    fn send(tx: Self::Tx, v: u32) {
        tx.send(v).unwrap();
    }
}

/// hyper's executor on a `LocalExecutor`: HTTP/2 streams are spawned on it
/// and detached (they need not be `Send`).
#[derive(Clone)]
struct SmolExecutor(Rc<LocalExecutor<'static>>);

impl<F> hyper::rt::Executor<F> for SmolExecutor
where
    F: Future + 'static,
{
    fn execute(&self, fut: F) {
        self.0.spawn(fut).detach();
    }
}

impl Runtime for Smol {
    fn name(&self) -> &'static str {
        "smol"
    }

    fn spawn(&self) -> Sample {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let meter = Meter::start();
            let tasks: Vec<_> = (0..SPAWN_N).map(|_| ex.spawn(async {})).collect();
            for task in tasks {
                task.await;
            }
            meter.stop()
        }))
    }

    fn timers(&self) -> Sample {
        let offsets = timer_offsets();
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let meter = Meter::start();
            let tasks: Vec<_> = offsets
                .iter()
                .map(|&offset| ex.spawn(Timer::at(meter.wall + offset)))
                .collect();
            for task in tasks {
                task.await;
            }
            meter.stop()
        }))
    }

    /// smol has no timeout function: the usual `or` of the future and a
    /// timer (futures-lite), which arms and drops the timer the same way.
    fn timeouts(&self) -> Sample {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let meter = Meter::start();
            let tasks: Vec<_> = (0..TIMEOUTS_N)
                .map(|i| {
                    ex.spawn(async move {
                        let value =
                            smol::future::or(async { Some(ready_after_yield(i).await) }, async {
                                Timer::after(HOUR).await;
                                None
                            })
                            .await;
                        std::hint::black_box(value);
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
            meter.stop()
        }))
    }

    fn memory(&self) -> f64 {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let started = Rc::new(Cell::new(0));
            let before = resident_bytes();
            let tasks: Vec<_> = (0..MEMORY_N)
                .map(|_| {
                    ex.spawn(pending_child(started.clone(), async {
                        Timer::after(HOUR).await;
                    }))
                })
                .collect();
            let per_child = memory_when_started(&started, MEMORY_N, before).await;
            drop(tasks);
            per_child
        }))
    }

    fn pingpong(&self) -> Sample {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let (ping_tx, ping_rx, pong_tx, pong_rx) = channels();
            let meter = Meter::start();
            let a = ex.spawn(ponger(ping_rx, pong_tx));
            let b = ex.spawn(pinger(ping_tx, pong_rx, PINGPONG_WAKEUPS / 2));
            a.await;
            b.await;
            meter.stop()
        }))
    }

    fn yields(&self) -> Sample {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let meter = Meter::start();
            ex.spawn(yielder(YIELDS)).await;
            meter.stop()
        }))
    }

    fn oneshot(&self) -> Sample {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let (a, b) = oneshot_pair::<FuturesShot>(PINGPONG_WAKEUPS / 2);
            let meter = Meter::start();
            let b = ex.spawn(b);
            let a = ex.spawn(a);
            a.await;
            b.await;
            meter.stop()
        }))
    }

    /// The echo case on smol: async-net streams, one task per connection end.
    fn echo(&self, conns: usize, messages: usize) -> Sample {
        use smol::io::{AsyncReadExt, AsyncWriteExt};
        use smol::net::{TcpListener, TcpStream};
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
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
            let mut tasks = Vec::new();
            for mut server in servers {
                tasks.push(ex.spawn(async move {
                    let mut buf = [0; 4096];
                    loop {
                        let n = server.read(&mut buf).await.unwrap();
                        if n == 0 {
                            return;
                        }
                        server.write_all(&buf[..n]).await.unwrap();
                    }
                }));
            }
            for mut client in clients {
                tasks.push(ex.spawn(async move {
                    let mut buf = [0; 4096];
                    for _ in 0..rounds {
                        client.write_all(&MESSAGE).await.unwrap();
                        let mut got = 0;
                        while got < ECHO_SIZE {
                            got += client.read(&mut buf[got..]).await.unwrap();
                        }
                    }
                    client.shutdown(std::net::Shutdown::Write).unwrap();
                }));
            }
            for task in tasks {
                task.await;
            }
            meter.stop()
        }))
    }

    fn wakeup(&self, idle: Idle) -> Sample {
        let sockets = idle_sockets_if(idle);
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(async {
            let started = Rc::new(Cell::new(0));
            let mut idlers = Vec::new();
            let n = match idle {
                Idle::None => 0,
                Idle::Timers => {
                    let now = Instant::now();
                    let sleeps = idle_timer_offsets()
                        .into_iter()
                        .map(|d| Timer::at(now + d))
                        .collect();
                    idlers.push(ex.spawn(hold_idle(sleeps, started.clone())));
                    1
                }
                Idle::Fds => {
                    let started = started.clone();
                    idlers.push(ex.spawn(async move {
                        let fds: Vec<_> = sockets
                            .into_iter()
                            .map(|s| Async::new(s).unwrap())
                            .collect();
                        let waits = fds.iter().map(|fd| fd.readable()).collect();
                        hold_idle(waits, started).await;
                    }));
                    1
                }
                Idle::Tasks => {
                    for _ in 0..IDLE_N {
                        idlers.push(ex.spawn(idle_task(started.clone())));
                    }
                    IDLE_N
                }
            };
            wait_started(&started, n).await;
            let (ping_tx, ping_rx, pong_tx, pong_rx) = channels();
            let meter = Meter::start();
            let a = ex.spawn(ponger(ping_rx, pong_tx));
            let b = ex.spawn(pinger(ping_tx, pong_rx, WAKEUP_WAKEUPS / 2));
            a.await;
            b.await;
            let elapsed = meter.stop();
            drop(idlers); // cancels them
            elapsed
        }))
    }

    /// The HTTP server: an accept loop on a `LocalExecutor`, each
    /// connection a detached task, async-net's streams.
    fn http_server(&self, listener: std::net::TcpListener, proto: Proto) {
        use hyper::server::conn::{http1, http2};
        let ex = Rc::new(LocalExecutor::new());
        smol::block_on(ex.run(async {
            let listener = smol::net::TcpListener::try_from(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.expect("accept");
                stream.set_nodelay(true).unwrap();
                let io = HyperIo::new(stream);
                let service = hyper::service::service_fn(hello);
                let executor = SmolExecutor(ex.clone());
                ex.spawn(async move {
                    // A client that leaves is no error of the server's.
                    let _ = match proto {
                        Proto::Http1 => http1::Builder::new().serve_connection(io, service).await,
                        Proto::Http2 => {
                            http2::Builder::new(executor)
                                .serve_connection(io, service)
                                .await
                        }
                    };
                })
                .detach();
            }
        }))
    }
}
