//! An HTTP server on xiio with hyper 1.x: HTTP/1.1 and HTTP/2 (cleartext,
//! "prior knowledge") on one port, every connection a child of the
//! server's task group, and a graceful shutdown on Ctrl-C (SIGINT) or
//! SIGTERM: stop accepting, let each connection finish the requests in
//! flight, then exit. No tokio runtime anywhere: xiio's sockets, timers and
//! task groups are what hyper runs on (`xiio::compat::{HyperIo, HyperTimer,
//! HyperExecutor}`, feature `hyper`).
//!
//! ```text
//! cargo run --example http                    # http://127.0.0.1:8080
//! curl http://127.0.0.1:8080/                 # HTTP/1.1
//! curl --http2-prior-knowledge http://127.0.0.1:8080/
//! curl --data-binary @Cargo.toml http://127.0.0.1:8080/echo
//! ```
//!
//! With `--self-test` it serves on a free port, makes requests to itself
//! over HTTP/1.1 and HTTP/2 (including a 1 MiB body each way, larger than a
//! socket buffer), then sends itself SIGINT and shuts down:
//!
//! ```text
//! cargo run --example http -- --self-test
//! ```

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::process::Command;
use std::time::Duration;

use futures::future::{Either, select};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use xiio::TaskGroup;
use xiio::compat::{HyperExecutor, HyperIo, HyperTimer};
use xiio::net::{TcpListener, TcpStream};
use xiio::signal::{self, SIGINT, SIGTERM};
use xiio::sync::Promise;

/// The first bytes of an HTTP/2 connection (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[xiio::main]
async fn main() -> io::Result<()> {
    let self_test = std::env::args().nth(1).as_deref() == Some("--self-test");
    // Subscribed first, so that no Ctrl-C is missed.
    let mut signals = xiio::signal::subscribe_signals(&[SIGINT, SIGTERM])?;
    let listener = TcpListener::bind(if self_test {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:8080"
    })?;
    let addr = listener.local_addr()?;
    println!("serving HTTP/1.1 and HTTP/2 on http://{addr}");

    // Set when the server stops accepting and its connections wind down.
    let stop = Promise::new();
    xiio::task_group!(|tg| {
        tg.add_task(accept_loop(&listener, &stop, tg));
        if self_test {
            tg.add_task(requests_to_self(addr));
        }
        let signal = signals.recv().await?;
        println!(
            "{}: stopping; open connections finish their requests",
            signal::name(signal).unwrap_or("signal")
        );
        drop(signals); // a second Ctrl-C ends the program at once
        let _ = stop.set(());
        Ok::<_, io::Error>(())
    })?;
    println!("all connections closed");
    Ok(())
}

/// Accepts connections until `stop` is set; each is a child of `tg`.
async fn accept_loop<'s, 'e>(
    listener: &'e TcpListener,
    stop: &'e Promise<()>,
    tg: &'s TaskGroup<'s, 'e, io::Error>,
) -> io::Result<()> {
    loop {
        let accepted = match select(pin!(listener.accept()), pin!(stop.wait())).await {
            Either::Left((accepted, _)) => accepted,
            Either::Right(_) => return Ok(()), // stop accepting
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and the like: back off instead of failing the server.
                eprintln!("accept: {e}");
                xiio::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let executor = HyperExecutor::new(tg);
        tg.add_task(async move {
            // A failed connection (a client that reset it) is logged, not
            // returned: an error would cancel every other connection.
            if let Err(e) = serve(stream, stop, executor).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

/// Serves one connection, in the protocol its first bytes announce.
async fn serve(
    stream: TcpStream,
    stop: &Promise<()>,
    executor: HyperExecutor<'_, '_, io::Error>,
) -> io::Result<()> {
    let service = hyper::service::service_fn(handle);
    if is_http2(&stream).await? {
        let conn = hyper::server::conn::http2::Builder::new(executor)
            .timer(HyperTimer)
            .serve_connection(HyperIo::new(stream), service);
        until_stopped(conn, stop, |conn| conn.graceful_shutdown()).await
    } else {
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(HyperTimer)
            .header_read_timeout(Duration::from_secs(10))
            .serve_connection(HyperIo::new(stream), service);
        until_stopped(conn, stop, |conn| conn.graceful_shutdown()).await
    }
}

/// Whether a connection starts with HTTP/2's preface: peeks at its first
/// bytes without taking them from the socket, so hyper reads them again.
async fn is_http2(stream: &TcpStream) -> io::Result<bool> {
    let mut buf = [0; PREFACE.len()];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 || buf[..n] != PREFACE[..n] {
            return Ok(false);
        }
        if n == PREFACE.len() {
            return Ok(true);
        }
        // Only part of the preface is there (clients send it in one
        // write, so this is rare): look again in a moment.
        xiio::sleep(Duration::from_millis(1)).await;
    }
}

/// Drives a hyper connection; once `stop` is set, asks it to shut down
/// gracefully (finish the requests in flight, take no new ones) and drives
/// it to its end.
async fn until_stopped<C>(conn: C, stop: &Promise<()>, shutdown: fn(Pin<&mut C>)) -> io::Result<()>
where
    C: Future<Output = Result<(), hyper::Error>>,
{
    let mut conn = pin!(conn);
    let mut stopped = pin!(stop.wait());
    let mut shutting_down = false;
    poll_fn(|cx| {
        if !shutting_down && stopped.as_mut().poll(cx).is_ready() {
            shutting_down = true;
            shutdown(conn.as_mut());
        }
        conn.as_mut().poll(cx)
    })
    .await
    .map_err(io::Error::other)
}

/// The application: `GET /` greets, `POST /echo` sends the body back.
async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let response = match (req.method(), req.uri().path()) {
        (&Method::GET, "/") => Response::new(Full::new(Bytes::from(format!(
            "hello from xiio over {:?}\n",
            req.version()
        )))),
        (&Method::POST, "/echo") => {
            let body = req.into_body().collect().await?.to_bytes();
            Response::new(Full::new(body))
        }
        _ => {
            let mut response = Response::new(Full::new(Bytes::from("not found\n")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    };
    Ok(response)
}

/// The self-test: requests to the server over both protocols, then
/// SIGINT to ourselves.
async fn requests_to_self(addr: SocketAddr) -> io::Result<()> {
    let big = Bytes::from(vec![b'x'; 1 << 20]);
    xiio::task_group!(|tg| {
        // HTTP/1.1: the connection's driver is a child; the requests go
        // through `sender`.
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        tg.add_task(async move { conn.await.map_err(io::Error::other) });
        let greeting = request(&mut sender, Request::get("/"), Bytes::new()).await?;
        print!("HTTP/1.1 GET /: {greeting}");
        let echoed = request(&mut sender, Request::post("/echo"), big.clone()).await?;
        assert_eq!(echoed.len(), big.len());
        println!("HTTP/1.1 POST /echo: {} bytes back", echoed.len());
        drop(sender); // ends this client connection
        Ok::<_, io::Error>(())
    })?;
    xiio::task_group!(|tg| {
        // HTTP/2 needs an executor for its streams: the group.
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(HyperExecutor::new(tg), HyperIo::new(stream))
                .await
                .map_err(io::Error::other)?;
        tg.add_task(async move { conn.await.map_err(io::Error::other) });
        let greeting = request(&mut sender, Request::get("/"), Bytes::new()).await?;
        print!("HTTP/2 GET /: {greeting}");
        let echoed = request(&mut sender, Request::post("/echo"), big.clone()).await?;
        assert_eq!(echoed.len(), big.len());
        println!("HTTP/2 POST /echo: {} bytes back", echoed.len());
        drop(sender);
        Ok::<_, io::Error>(())
    })?;
    let kill = format!("kill -INT {}", std::process::id());
    xiio::process::run_process(Command::new("sh").args(["-c", &kill])).await?;
    Ok(())
}

/// A sender of requests, HTTP/1 or HTTP/2.
trait Sender {
    async fn send(&mut self, req: Request<Full<Bytes>>) -> hyper::Result<Response<Incoming>>;
}

impl Sender for hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    async fn send(&mut self, req: Request<Full<Bytes>>) -> hyper::Result<Response<Incoming>> {
        self.send_request(req).await
    }
}

impl Sender for hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    async fn send(&mut self, req: Request<Full<Bytes>>) -> hyper::Result<Response<Incoming>> {
        self.send_request(req).await
    }
}

/// Sends one request and collects the response's body as text.
async fn request(
    sender: &mut impl Sender,
    builder: hyper::http::request::Builder,
    body: Bytes,
) -> io::Result<String> {
    let req = builder
        .header("host", "localhost")
        .body(Full::new(body))
        .map_err(io::Error::other)?;
    let response = sender.send(req).await.map_err(io::Error::other)?;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(io::Error::other)?;
    Ok(String::from_utf8_lossy(&body.to_bytes()).into_owned())
}
