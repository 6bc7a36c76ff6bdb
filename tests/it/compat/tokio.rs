//! Crates that need tokio, on xiio: `xiio::compat::with_tokio` (a tokio
//! context for a future polled by xiio) and `TokioIo` (tokio's io traits
//! for xiio streams). The tokio-only client is reqwest, fetching from an
//! xiio-served hyper server over loopback while xiio's thread keeps
//! running its own tasks.

use std::cell::Cell;
use std::convert::Infallible;
use std::io;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xiio::compat::{HyperIo, TokioIo, with_tokio};
use xiio::net::{TcpListener, UnixStream};

use crate::util::ms;

#[xiio::test]
async fn reqwest_fetches_from_an_xiio_hyper_server() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let ticks = Cell::new(0);
    let served = |req: Request<Incoming>| async move {
        let body = format!("served by xiio to {}", req.uri().path());
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
    };
    xiio::task_group!(|tg| {
        let server = tg.add_task(async {
            loop {
                let (stream, _) = listener.accept().await?;
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(HyperIo::new(stream), hyper::service::service_fn(served))
                    .await
                    .map_err(io::Error::other)?;
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        });
        // xiio's own work goes on while reqwest waits on tokio's reactor.
        let ticker = tg.add_task(async {
            loop {
                xiio::sleep(ms(1)).await;
                ticks.set(ticks.get() + 1);
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        });
        let body = with_tokio(async {
            // Give the ticker time to tick while tokio's timer runs.
            tokio::time::sleep(ms(20)).await;
            let response = reqwest::get(format!("http://{addr}/hello")).await?;
            assert!(response.status().is_success());
            response.text().await
        })
        .await
        .map_err(io::Error::other)?;
        assert_eq!(body, "served by xiio to /hello");
        assert!(
            ticks.get() >= 5,
            "xiio's thread was not blocked: {} ticks",
            ticks.get()
        );
        server.cancel();
        ticker.cancel();
        Ok::<_, io::Error>(())
    })
}

#[xiio::test]
async fn tokio_timers_and_sockets_inside_xiio_run() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    xiio::task_group!(|tg| {
        tg.add_task(async {
            let (stream, _) = listener.accept().await?;
            let mut buf = [0; 5];
            let n = stream.read(&mut buf).await?;
            stream.write_all(&buf[..n]).await
        });
        let echoed = with_tokio(async {
            let mut stream = tokio::net::TcpStream::connect(addr).await?;
            stream.write_all(b"tokio").await?;
            let mut buf = [0; 5];
            stream.read_exact(&mut buf).await?;
            Ok::<_, io::Error>(buf)
        })
        .await?;
        assert_eq!(&echoed, b"tokio");
        Ok::<_, io::Error>(())
    })
}

#[xiio::test]
async fn tokio_spawn_inside_with_tokio_runs_on_the_tokio_worker() -> io::Result<()> {
    let value = with_tokio(async {
        let task = tokio::spawn(async {
            tokio::time::sleep(ms(10)).await;
            std::thread::current().name().map(str::to_owned)
        });
        task.await.unwrap()
    })
    .await;
    assert_eq!(value.as_deref(), Some("xiio-tokio"));
    Ok(())
}

#[xiio::test]
async fn tokio_io_traits_for_xiio_streams() -> io::Result<()> {
    let (a, b) = UnixStream::pair()?;
    let (mut a, mut b) = (TokioIo::new(a), TokioIo::new(b));
    let data: Vec<u8> = (0..1 << 20).map(|i| i as u8).collect();
    xiio::task_group!(|tg| {
        tg.add_task(async {
            a.write_all(&data).await?;
            a.shutdown().await
        });
        let mut got = Vec::new();
        tokio::io::copy(&mut b, &mut got).await?;
        assert!(got == data);
        Ok::<_, io::Error>(())
    })
}

/// Dropping the `with_tokio` future (here by an xiio timeout) drops the
/// tokio future inside it. On the real clock: on the mock clock, time
/// stands still while tokio works for the task, so the timeout would
/// fire only after tokio's hour.
#[xiio::test]
async fn dropping_with_tokio_cancels_the_tokio_future() {
    let (dropped, tokio_side_gone) = tokio::sync::oneshot::channel::<()>();
    let start = std::time::Instant::now();
    // A tokio sleep of an hour, cancelled by xiio's timeout. (The sleep is
    // made inside: tokio::time::sleep needs the context as soon as it is
    // called, not only when polled.)
    let hour = std::time::Duration::from_secs(3600);
    let result = xiio::timeout(
        ms(50),
        with_tokio(async move {
            let _dropped = dropped; // closes the channel when dropped
            tokio::time::sleep(hour).await
        }),
    )
    .await;
    assert!(result.is_err());
    assert!(start.elapsed() >= ms(50));
    assert!(
        tokio_side_gone.await.is_err(),
        "the tokio future was dropped"
    );
}

// Regression: on the mock clock, time jumped while tokio's thread worked
// for the task, so a timeout around `with_tokio` fired at once (a reqwest
// call inside `timeout(1 s)` timed out after about 2 ms of real time,
// every time). Work inside `with_tokio` is outside work: the clock stands
// still until it is done.
#[xiio::test(mock_clock)]
async fn on_the_mock_clock_a_timeout_around_with_tokio_waits_for_tokios_work() {
    let start = xiio::time::now();
    let result = xiio::timeout(
        ms(1000),
        with_tokio(async {
            tokio::time::sleep(ms(30)).await; // 30 ms of real time
            5
        }),
    )
    .await;
    assert_eq!(result.ok(), Some(5));
    assert!(crate::util::since(start) < ms(1000));
}

/// The issue's own case: a reqwest call through `with_tokio` inside a
/// timeout, on the mock clock, to a server that takes real time to answer.
#[xiio::test(mock_clock)]
async fn on_the_mock_clock_reqwest_inside_a_timeout_gets_its_answer() -> io::Result<()> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || -> io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        let mut request = [0; 1024];
        let _ = stream.read(&mut request)?;
        std::thread::sleep(std::time::Duration::from_millis(20));
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
    });
    let fetch = with_tokio(async move {
        let response = reqwest::get(format!("http://{addr}/")).await?;
        response.text().await
    });
    let body = xiio::timeout(ms(1000), fetch)
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)?;
    assert_eq!(body, "hello");
    server.join().unwrap()
}

/// The task tree says what a task inside `with_tokio` waits on.
#[xiio::test(mock_clock)]
async fn the_task_tree_says_a_task_waits_on_tokio() {
    xiio::task_group!(|tg| {
        tg.add_task(with_tokio(async {
            tokio::time::sleep(ms(30)).await;
        }));
        xiio::task::yield_now().await; // the child starts and waits
        let tree = xiio::testing::task_tree();
        assert!(tree.contains("work on tokio's helper thread"), "{tree}");
        Ok::<_, ()>(())
    })
    .unwrap();
}
