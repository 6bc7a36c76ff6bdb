//! hyper 1.x on xiio (`xiio::compat::{HyperIo, HyperTimer, HyperExecutor}`):
//! HTTP/1 and HTTP/2 servers and clients, request bodies larger than a
//! socket buffer, and hyper's timers on the mock clock.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use xiio::compat::{HyperExecutor, HyperIo, HyperTimer};
use xiio::net::{TcpListener, TcpStream};

use crate::util::{ms, run_mock, since};

/// Echoes the request body, prefixed with the protocol version.
async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let version = format!("{:?} ", req.version());
    let body = req.into_body().collect().await?.to_bytes();
    let mut out = version.into_bytes();
    out.extend_from_slice(&body);
    Ok(Response::new(Full::new(Bytes::from(out))))
}

/// 4 MiB: far more than a socket buffer, so both sides must stream.
fn big_body() -> Bytes {
    Bytes::from((0..4 << 20).map(|i| (i % 253) as u8).collect::<Vec<_>>())
}

fn post(body: Bytes) -> Request<Full<Bytes>> {
    Request::post("/echo")
        .header("host", "localhost")
        .body(Full::new(body))
        .unwrap()
}

async fn body_of(response: Response<Incoming>) -> io::Result<Bytes> {
    let collected = response
        .into_body()
        .collect()
        .await
        .map_err(io::Error::other)?;
    Ok(collected.to_bytes())
}

/// A listener and its address.
fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

#[xiio::test]
async fn http1_round_trip_with_a_body_larger_than_a_socket_buffer() -> io::Result<()> {
    let (listener, addr) = listener();
    let body = big_body();
    xiio::task_group!(|tg| {
        tg.add_task(async {
            let (stream, _) = listener.accept().await?;
            hyper::server::conn::http1::Builder::new()
                .serve_connection(HyperIo::new(stream), hyper::service::service_fn(echo))
                .await
                .map_err(io::Error::other)
        });
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        tg.add_task(async move { conn.await.map_err(io::Error::other) });
        for _ in 0..2 {
            // Two requests on one keep-alive connection.
            let response = sender
                .send_request(post(body.clone()))
                .await
                .map_err(io::Error::other)?;
            let got = body_of(response).await?;
            assert_eq!(&got[..9], b"HTTP/1.1 ");
            assert!(got[9..] == body[..], "the 4 MiB came back intact");
        }
        drop(sender);
        Ok::<_, io::Error>(())
    })
}

#[xiio::test]
async fn http2_round_trip_with_concurrent_streams_and_big_bodies() -> io::Result<()> {
    let (listener, addr) = listener();
    let body = big_body();
    xiio::task_group!(|tg| {
        // The server's HTTP/2 streams run as children of this group.
        let executor = HyperExecutor::new(tg);
        tg.add_task(async move {
            let (stream, _) = listener.accept().await?;
            hyper::server::conn::http2::Builder::new(executor)
                .timer(HyperTimer)
                .serve_connection(HyperIo::new(stream), hyper::service::service_fn(echo))
                .await
                .map_err(io::Error::other)
        });
        let stream = TcpStream::connect(addr).await?;
        let (sender, conn) =
            hyper::client::conn::http2::handshake(HyperExecutor::new(tg), HyperIo::new(stream))
                .await
                .map_err(io::Error::other)?;
        tg.add_task(async move { conn.await.map_err(io::Error::other) });
        // Three requests at once, multiplexed on one connection.
        let responses = xiio::task::gather((0..3).map(|_| {
            let mut sender = sender.clone();
            let body = body.clone();
            async move {
                let response = sender
                    .send_request(post(body))
                    .await
                    .map_err(io::Error::other)?;
                body_of(response).await
            }
        }))
        .await?;
        for got in responses {
            assert_eq!(&got[..9], b"HTTP/2.0 ");
            assert!(got[9..] == body[..], "each 4 MiB came back intact");
        }
        drop(sender);
        Ok::<_, io::Error>(())
    })
}

#[test]
fn hypers_header_timeout_runs_on_xiios_mock_clock() {
    // A client that connects and sends nothing: hyper's header read
    // timeout (10 s) closes the connection, in virtual time.
    run_mock(async {
        let (listener, addr) = listener();
        let start = xiio::time::now();
        xiio::task_group!(|tg| {
            tg.add_task(async {
                let (stream, _) = listener.accept().await?;
                let result = hyper::server::conn::http1::Builder::new()
                    .timer(HyperTimer)
                    .header_read_timeout(std::time::Duration::from_secs(10))
                    .serve_connection(HyperIo::new(stream), hyper::service::service_fn(echo))
                    .await;
                assert!(result.is_err(), "the header read timed out");
                Ok::<_, io::Error>(())
            });
            let client = TcpStream::connect(addr).await?;
            let mut buf = [0; 64];
            // The server closes the connection: end-of-file.
            let n = client.read(&mut buf).await?;
            assert_eq!(n, 0);
            assert_eq!(since(start), ms(10_000));
            Ok::<_, io::Error>(())
        })
    })
    .unwrap();
}

#[xiio::test]
async fn an_http1_server_serves_many_clients_in_its_task_group() -> io::Result<()> {
    let (listener, addr) = listener();
    let hello = |_req: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
    };
    xiio::task_group!(|tg| {
        tg.add_task(async {
            xiio::task_group!(|conns| {
                for _ in 0..20 {
                    let (stream, _) = listener.accept().await?;
                    conns.add_task(async move {
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(
                                HyperIo::new(stream),
                                hyper::service::service_fn(hello),
                            )
                            .await
                            .map_err(io::Error::other)
                    });
                }
                Ok::<_, io::Error>(())
            })
        });
        let bodies = xiio::task::gather((0..20).map(|_| async {
            let stream = TcpStream::connect(addr).await?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
                .await
                .map_err(io::Error::other)?;
            xiio::task_group!(|tg| {
                tg.add_task(async move { conn.await.map_err(io::Error::other) });
                let request = Request::get("/").body(Full::<Bytes>::default()).unwrap();
                let response = sender
                    .send_request(request)
                    .await
                    .map_err(io::Error::other)?;
                drop(sender);
                body_of(response).await
            })
        }))
        .await?;
        assert!(bodies.iter().all(|b| b == "hello"));
        Ok::<_, io::Error>(())
    })
}
