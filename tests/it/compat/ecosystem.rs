//! Crates nobody here wrote, used on xiio as their docs say: futures-util
//! combinators and `io::copy`, `BufReader::lines`, async-channel and
//! async-lock across many children and a std thread, a websocket echo with
//! async-tungstenite, a TLS echo with futures-rustls (a certificate made
//! by rcgen in the test), and `Signals` as a `Stream`.

use std::io;
use std::sync::Arc;

use futures::StreamExt;
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use xiio::net::{TcpListener, TcpStream, UnixStream};

use crate::util::ms;

#[xiio::test]
async fn futures_io_copy_between_two_connections() -> io::Result<()> {
    let (a, b) = UnixStream::pair()?;
    let (c, d) = UnixStream::pair()?;
    let data: Vec<u8> = (0..1 << 20).map(|i| i as u8).collect();
    let (copied, got) = xiio::task_group!(|tg| {
        tg.add_task(async {
            a.write_all(&data).await?;
            a.shutdown(std::net::Shutdown::Write)
        });
        // b -> c, as a proxy would.
        let copied = tg.add_task(async {
            let n = futures::io::copy(&b, &mut &c).await?;
            c.shutdown(std::net::Shutdown::Write)?;
            Ok(n)
        });
        let got = tg.add_task(async {
            let mut got = Vec::new();
            (&d).read_to_end(&mut got).await?;
            Ok(got)
        });
        Ok::<_, io::Error>((copied, got))
    })?;
    assert_eq!(copied.take(), Some(data.len() as u64));
    assert!(got.take().unwrap() == data);
    Ok(())
}

#[xiio::test(mock_clock)]
async fn futures_util_combinators_on_xiio_futures() {
    let start = xiio::time::now();
    // join: both run, the total is the longer.
    let (a, b) = futures::future::join(
        async {
            xiio::sleep(ms(100)).await;
            1
        },
        async {
            xiio::sleep(ms(50)).await;
            2
        },
    )
    .await;
    assert_eq!((a, b), (1, 2));
    assert_eq!(xiio::time::now() - start, ms(100));
    // select: the first wins (the loser is dropped, without awaiting
    // cleanups: xiio's own tools do that).
    let (slow, fast) = (
        std::pin::pin!(xiio::sleep(ms(30))),
        std::pin::pin!(xiio::sleep(ms(10))),
    );
    let winner = futures::future::select(slow, fast).await;
    assert!(matches!(winner, futures::future::Either::Right(_)));
    assert_eq!(xiio::time::now() - start, ms(110));
    // A stream of xiio futures, buffered two at a time.
    let done: Vec<u64> = futures::stream::iter([30, 10, 20])
        .map(|d| async move {
            xiio::sleep(ms(d)).await;
            d
        })
        .buffered(2)
        .collect()
        .await;
    assert_eq!(done, [30, 10, 20]);
    assert_eq!(xiio::time::now() - start, ms(160));
}

#[xiio::test]
async fn buf_reader_lines_over_a_pipe() -> io::Result<()> {
    let (reader, mut writer) = std::io::pipe()?;
    let writer_thread = std::thread::spawn(move || {
        use std::io::Write;
        for i in 0..100 {
            writeln!(writer, "line {i}").unwrap();
        }
    });
    let lines: Vec<String> = BufReader::new(xiio::io::Async::new(reader)?)
        .lines()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<io::Result<_>>()?;
    writer_thread.join().unwrap();
    assert_eq!(lines.len(), 100);
    assert_eq!(lines[99], "line 99");
    Ok(())
}

#[xiio::test]
async fn incoming_connections_through_stream_combinators() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let clients = xiio::task::gather((0..3).map(|_| TcpStream::connect(addr))).await?;
    let accepted: Vec<_> = listener.incoming().take(3).collect().await;
    assert_eq!(accepted.len(), 3);
    for stream in accepted {
        let stream = stream?;
        assert!(
            clients
                .iter()
                .any(|c| c.local_addr().unwrap() == stream.peer_addr().unwrap())
        );
    }
    Ok(())
}

#[xiio::test]
async fn async_channel_and_async_lock_across_1000_children_and_a_std_thread() -> io::Result<()> {
    const N: u64 = 1000;
    let (tx, rx) = async_channel::unbounded::<u64>();
    let total = async_lock::Mutex::new(0u64);
    let received = async_lock::Mutex::new(0u64);
    // A std thread sends N numbers, blocking, from outside the runtime.
    let sender = std::thread::spawn(move || {
        for i in 1..=N {
            tx.send_blocking(i).unwrap();
        }
    });
    xiio::task_group!(|tg| {
        for _ in 0..N {
            tg.add_task(async {
                let value = rx.recv().await.map_err(io::Error::other)?;
                // Hold the lock across an await: others queue behind it.
                let mut total = total.lock().await;
                xiio::task::yield_now().await;
                *total += value;
                *received.lock().await += 1;
                Ok(())
            });
        }
        Ok::<_, io::Error>(())
    })?;
    sender.join().unwrap();
    assert_eq!(*received.lock().await, N);
    assert_eq!(*total.lock().await, N * (N + 1) / 2);
    Ok(())
}

#[xiio::test]
async fn websocket_echo_with_async_tungstenite() -> io::Result<()> {
    use async_tungstenite::tungstenite::Message;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    xiio::task_group!(|tg| {
        tg.add_task(async {
            let (stream, _) = listener.accept().await?;
            let mut ws = async_tungstenite::accept_async(stream)
                .await
                .map_err(io::Error::other)?;
            while let Some(message) = ws.next().await {
                let message = message.map_err(io::Error::other)?;
                if message.is_text() || message.is_binary() {
                    ws.send(message).await.map_err(io::Error::other)?;
                }
            }
            Ok(())
        });
        let stream = TcpStream::connect(addr).await?;
        let (mut ws, _response) = async_tungstenite::client_async(format!("ws://{addr}/"), stream)
            .await
            .map_err(io::Error::other)?;
        ws.send(Message::text("hello"))
            .await
            .map_err(io::Error::other)?;
        let big = vec![7u8; 1 << 20];
        ws.send(Message::binary(big.clone()))
            .await
            .map_err(io::Error::other)?;
        let first = ws.next().await.unwrap().map_err(io::Error::other)?;
        assert_eq!(first.to_text().map_err(io::Error::other)?, "hello");
        let second = ws.next().await.unwrap().map_err(io::Error::other)?;
        assert!(second.into_data() == big);
        ws.close(None).await.map_err(io::Error::other)?;
        Ok::<_, io::Error>(())
    })
}

#[xiio::test]
async fn tls_echo_with_futures_rustls_and_an_rcgen_certificate() -> io::Result<()> {
    use futures_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    use futures_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
    use futures_rustls::{TlsAcceptor, TlsConnector};

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let server_config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client_config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let data: Vec<u8> = (0..1 << 20).map(|i| (i % 199) as u8).collect();
    xiio::task_group!(|tg| {
        tg.add_task(async {
            let (stream, _) = listener.accept().await?;
            let tls = TlsAcceptor::from(Arc::new(server_config))
                .accept(stream)
                .await?;
            let (reader, mut writer) = tls.split();
            futures::io::copy(reader, &mut writer).await?; // echo until EOF
            writer.close().await
        });
        let stream = TcpStream::connect(addr).await?;
        let server_name = ServerName::try_from("localhost").unwrap();
        let tls = TlsConnector::from(Arc::new(client_config))
            .connect(server_name, stream)
            .await?;
        let (mut reader, mut writer) = tls.split();
        let (sent, got) = xiio::task_group!(|both| {
            let sent = both.add_task(async {
                writer.write_all(&data).await?;
                writer.close().await?; // close_notify, then the server's EOF
                Ok(())
            });
            let got = both.add_task(async {
                let mut got = Vec::new();
                reader.read_to_end(&mut got).await?;
                Ok(got)
            });
            Ok::<_, io::Error>((sent, got))
        })?;
        assert!(sent.is_finished());
        assert!(got.take().unwrap() == data, "1 MiB through TLS and back");
        Ok::<_, io::Error>(())
    })
}

#[xiio::test]
async fn signals_are_a_stream() -> io::Result<()> {
    let mut signals = xiio::signal::subscribe_signals(&[xiio::signal::SIGUSR2])?;
    let kill = format!("kill -USR2 {}", std::process::id());
    xiio::process::run_process(std::process::Command::new("sh").args(["-c", &kill])).await?;
    let signal = signals.next().await.expect("never ends")?;
    assert_eq!(signal, xiio::signal::SIGUSR2);
    Ok(())
}
