//! The cases on xiio: `xiio::run`, children in `xiio::task_group!`.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

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

/// xiio: `xiio::run` with `xiio::task_group!` / `TaskGroup::add_task`.
pub struct Xiio;

/// xiio's one-shot: a `Promise`, awaited through a clone.
struct PromiseShot;

impl OneShot for PromiseShot {
    type Tx = xiio::sync::Promise<u32>;
    type Rx = Pin<Box<dyn Future<Output = u32>>>;
    fn pair() -> (Self::Tx, Self::Rx) {
        let promise = xiio::sync::Promise::new();
        let rx = promise.clone();
        (promise, Box::pin(async move { rx.wait().await }))
    }
    fn send(tx: Self::Tx, v: u32) {
        tx.set(v).unwrap();
    }
}

impl Runtime for Xiio {
    fn name(&self) -> &'static str {
        "xiio"
    }

    fn spawn(&self) -> Sample {
        xiio::run(async {
            let meter = Meter::start();
            xiio::task_group!(|tg| {
                for _ in 0..SPAWN_N {
                    tg.add_task(async {});
                }
                Ok::<_, ()>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    fn timers(&self) -> Sample {
        let offsets = timer_offsets();
        xiio::run(async {
            let meter = Meter::start();
            xiio::task_group!(|tg| {
                for &offset in &offsets {
                    tg.add_task(xiio::time::sleep_until(meter.wall + offset));
                }
                Ok::<_, ()>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    /// The timeouts case: 100k children, each a future that finishes at once
    /// inside a 1 h timeout (the timer is armed and cancelled).
    fn timeouts(&self) -> Sample {
        xiio::run(async {
            let meter = Meter::start();
            xiio::task_group!(|tg| {
                for i in 0..TIMEOUTS_N {
                    tg.add_task(async move {
                        let value = xiio::timeout(HOUR, ready_after_yield(i)).await;
                        std::hint::black_box(value.ok());
                    });
                }
                Ok::<_, ()>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    fn memory(&self) -> f64 {
        xiio::run(async {
            let started = Rc::new(Cell::new(0));
            let before = resident_bytes();
            xiio::task_group!(|tg| {
                for _ in 0..MEMORY_N {
                    tg.add_task(pending_child(started.clone(), xiio::sleep(HOUR)));
                }
                let per_child = memory_when_started(&started, MEMORY_N, before).await;
                tg.cancel();
                Ok::<_, ()>(per_child)
            })
            .unwrap()
        })
    }

    fn pingpong(&self) -> Sample {
        xiio::run(async {
            let (ping_tx, ping_rx, pong_tx, pong_rx) = channels();
            let meter = Meter::start();
            xiio::task_group!(|tg| {
                tg.add_task(ponger(ping_rx, pong_tx));
                tg.add_task(pinger(ping_tx, pong_rx, PINGPONG_WAKEUPS / 2));
                Ok::<_, ()>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    fn yields(&self) -> Sample {
        xiio::run(async {
            let meter = Meter::start();
            xiio::task_group!(|tg| {
                tg.add_task(yielder(YIELDS));
                Ok::<_, ()>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    fn oneshot(&self) -> Sample {
        xiio::run(async {
            let (a, b) = oneshot_pair::<PromiseShot>(PINGPONG_WAKEUPS / 2);
            let meter = Meter::start();
            xiio::task_group!(|tg| {
                tg.add_task(b);
                tg.add_task(a);
                Ok::<_, ()>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    /// The echo case: `conns` connections over loopback, each echoing its
    /// share of `messages`; client and server ends in this one runtime. Both
    /// ends read into a buffer larger than a message, as a peer that does
    /// not know the message size would, on every runtime alike.
    fn echo(&self, conns: usize, messages: usize) -> Sample {
        use xiio::net::{TcpListener, TcpStream};
        xiio::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
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
            xiio::task_group!(|tg| {
                for server in &servers {
                    tg.add_task(async move {
                        let mut buf = [0; 4096];
                        loop {
                            let n = server.read(&mut buf).await?;
                            if n == 0 {
                                return Ok(());
                            }
                            server.write_all(&buf[..n]).await?;
                        }
                    });
                }
                for client in &clients {
                    tg.add_task(async move {
                        let mut buf = [0; 4096];
                        for _ in 0..rounds {
                            client.write_all(&MESSAGE).await?;
                            let mut got = 0;
                            while got < ECHO_SIZE {
                                got += client.read(&mut buf[got..]).await?;
                            }
                        }
                        client.shutdown(std::net::Shutdown::Write)
                    });
                }
                Ok::<_, std::io::Error>(())
            })
            .unwrap();
            meter.stop()
        })
    }

    fn wakeup(&self, idle: Idle) -> Sample {
        xiio::run(async {
            let started = Rc::new(Cell::new(0));
            let sockets = idle_sockets_if(idle);
            xiio::task_group!(|tg| {
                let mut idlers = Vec::new();
                let n = match idle {
                    Idle::None => 0,
                    Idle::Timers => {
                        let now = xiio::time::now();
                        let sleeps = idle_timer_offsets()
                            .into_iter()
                            .map(|d| xiio::time::sleep_until(now + d))
                            .collect();
                        idlers.push(tg.add_task(hold_idle(sleeps, started.clone())));
                        1
                    }
                    Idle::Fds => {
                        let waits = sockets
                            .iter()
                            .map(|s| {
                                std::future::IntoFuture::into_future(
                                    xiio::io::Condition::new().readable(s),
                                )
                            })
                            .collect();
                        idlers.push(tg.add_task(hold_idle(waits, started.clone())));
                        1
                    }
                    Idle::Tasks => {
                        for _ in 0..IDLE_N {
                            idlers.push(tg.add_task(idle_task(started.clone())));
                        }
                        IDLE_N
                    }
                };
                wait_started(&started, n).await;
                let (ping_tx, ping_rx, pong_tx, pong_rx) = channels();
                let meter = Meter::start();
                xiio::task_group!(|inner| {
                    inner.add_task(ponger(ping_rx, pong_tx));
                    inner.add_task(pinger(ping_tx, pong_rx, WAKEUP_WAKEUPS / 2));
                    Ok::<_, ()>(())
                })?;
                let elapsed = meter.stop();
                for idler in &idlers {
                    idler.cancel();
                }
                Ok::<_, ()>(elapsed)
            })
            .unwrap()
        })
    }

    /// The HTTP server: as `examples/http.rs` serves (without its protocol
    /// sniffing, timeouts and graceful shutdown): an accept loop in a task
    /// group, each connection a child, HTTP/2 streams children too
    /// (`HyperExecutor`). Serves until the process is killed.
    fn http_server(&self, listener: std::net::TcpListener, proto: Proto) {
        use hyper::server::conn::{http1, http2};
        use xiio::compat::{HyperExecutor, HyperIo};
        let served = xiio::run(xiio::TaskGroup::scope(async |tg| -> std::io::Result<()> {
            let listener = xiio::net::TcpListener::from_std(listener)?;
            loop {
                let (stream, _) = listener.accept().await?;
                stream.set_nodelay(true)?;
                let io = HyperIo::new(stream);
                let service = hyper::service::service_fn(hello);
                match proto {
                    Proto::Http1 => tg.add_task(async move {
                        // A client that leaves is no error of the server's.
                        let _ = http1::Builder::new().serve_connection(io, service).await;
                    }),
                    Proto::Http2 => {
                        let executor = HyperExecutor::new(tg);
                        tg.add_task(async move {
                            let _ = http2::Builder::new(executor)
                                .serve_connection(io, service)
                                .await;
                        })
                    }
                };
            }
        }));
        served.expect("xiio HTTP server");
    }
}
