//! TCP streams and listeners, as a user writes them: echo, half-close, big
//! transfers both ways through `&TcpStream`, many connections, resets, and
//! cancellation that leaves nothing behind.

use std::io::{self, ErrorKind};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use futures::StreamExt;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use xiio::net::{TcpListener, TcpStream};

use crate::util;
use crate::util::{ms, run_mock, since};

/// Echoes one connection until the client closes it.
async fn echo(stream: &TcpStream) -> io::Result<()> {
    let mut buf = [0; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

#[xiio::test]
async fn echo_over_loopback() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let client = TcpStream::connect(addr).await?;
    xiio::task_group!(|tg| {
        tg.add_task(async {
            let (conn, peer) = listener.accept().await?;
            assert_eq!(peer, client.local_addr()?);
            echo(&conn).await
        });
        for message in [&b"hello"[..], b"world", &[7; 3000]] {
            client.write_all(message).await?;
            let mut back = vec![0; message.len()];
            client.read_exact_all(&mut back).await?;
            assert_eq!(back, message);
        }
        client.shutdown(Shutdown::Write)?; // ends the echo loop
        Ok::<_, io::Error>(())
    })
}

/// `read` until `buf` is full, for the tests.
trait ReadExactAll {
    async fn read_exact_all(&self, buf: &mut [u8]) -> io::Result<()>;
}

impl ReadExactAll for TcpStream {
    async fn read_exact_all(&self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read(buf).await? {
                0 => return Err(ErrorKind::UnexpectedEof.into()),
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }
}

#[xiio::test]
async fn connected_streams_know_their_addresses() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let client = TcpStream::connect(addr).await?;
    let (server, peer) = listener.accept().await?;
    assert_eq!(client.peer_addr()?, addr);
    assert_eq!(server.local_addr()?, addr);
    assert_eq!(server.peer_addr()?, client.local_addr()?);
    assert_eq!(peer, client.local_addr()?);
    Ok(())
}

#[xiio::test]
async fn half_close_lets_the_peer_read_eof_and_still_answer() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    client.write_all(b"question").await?;
    client.shutdown(Shutdown::Write)?;
    // The server reads the request to its end...
    let mut request = Vec::new();
    (&server).read_to_end(&mut request).await?;
    assert_eq!(request, b"question");
    // ... and the client, whose write half is shut, still reads the answer.
    server.write_all(b"answer").await?;
    drop(server);
    let mut answer = Vec::new();
    (&client).read_to_end(&mut answer).await?;
    assert_eq!(answer, b"answer");
    Ok(())
}

/// 4 MiB of a pattern that differs by position, so a lost or reordered
/// chunk shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

#[xiio::test]
async fn four_mib_both_ways_at_once_through_shared_references() -> io::Result<()> {
    const LEN: usize = 4 << 20;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let a = TcpStream::connect(listener.local_addr()?).await?;
    let (b, _) = listener.accept().await?;
    let (to_b, to_a) = (pattern(LEN, 1), pattern(LEN, 2));
    // Each side writes 4 MiB while it reads the other's 4 MiB: with one
    // task per side this would deadlock once both send buffers are full.
    let (got_a, got_b) = xiio::task_group!(|tg| {
        for (stream, data) in [(&a, &to_b), (&b, &to_a)] {
            tg.add_task(async move {
                let mut writer = stream;
                AsyncWriteExt::write_all(&mut writer, data).await?;
                stream.shutdown(Shutdown::Write)
            });
        }
        let got_a = tg.add_task(async {
            let mut got = Vec::new();
            (&a).read_to_end(&mut got).await?;
            Ok(got)
        });
        let got_b = tg.add_task(async {
            let mut got = Vec::new();
            (&b).read_to_end(&mut got).await?;
            Ok(got)
        });
        Ok::<_, io::Error>((got_a, got_b))
    })?;
    assert!(got_a.take().unwrap() == to_a, "a received b's bytes intact");
    assert!(got_b.take().unwrap() == to_b, "b received a's bytes intact");
    Ok(())
}

#[xiio::test]
async fn a_thousand_concurrent_connections() -> io::Result<()> {
    const N: usize = 1000;
    util::net::raise_fd_limit(2 * N + 200);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let served = std::cell::Cell::new(0);
    xiio::task_group!(|tg| {
        tg.add_task(async {
            xiio::task_group!(|conns| {
                for _ in 0..N {
                    let (stream, _) = listener.accept().await?;
                    let served = &served;
                    conns.add_task(async move {
                        echo(&stream).await?;
                        served.set(served.get() + 1);
                        Ok(())
                    });
                }
                Ok::<_, io::Error>(())
            })
        });
        // All N clients connect first and stay open, so N connections are
        // really open at once, then each sends and checks its echo.
        let clients = xiio::task::gather((0..N).map(|_| TcpStream::connect(addr))).await?;
        xiio::task::gather(clients.iter().enumerate().map(|(i, client)| async move {
            let message = format!("client {i}");
            client.write_all(message.as_bytes()).await?;
            let mut back = vec![0; message.len()];
            client.read_exact_all(&mut back).await?;
            assert_eq!(back, message.as_bytes());
            client.shutdown(Shutdown::Write)
        }))
        .await?;
        Ok::<_, io::Error>(())
    })?;
    assert_eq!(served.get(), N);
    Ok(())
}

#[xiio::test]
async fn incoming_is_a_stream_of_connections() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let clients = [
        TcpStream::connect(addr).await?,
        TcpStream::connect(addr).await?,
    ];
    let mut incoming = listener.incoming();
    for client in &clients {
        let stream = incoming.next().await.expect("never ends")?;
        assert_eq!(stream.peer_addr()?, client.local_addr()?);
    }
    Ok(())
}

#[xiio::test]
async fn peek_leaves_the_data_for_the_next_read() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    client.write_all(b"data").await?;
    let mut buf = [0; 4];
    assert_eq!(server.peek(&mut buf).await?, 4);
    assert_eq!(&buf, b"data");
    let mut again = [0; 4];
    server.read_exact_all(&mut again).await?;
    assert_eq!(&again, b"data");
    Ok(())
}

#[xiio::test]
async fn socket_options_round_trip() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_ttl(42)?;
    assert_eq!(listener.ttl()?, 42);
    let client = TcpStream::connect(listener.local_addr()?).await?;
    client.set_nodelay(true)?;
    assert!(client.nodelay()?);
    client.set_nodelay(false)?;
    assert!(!client.nodelay()?);
    client.set_ttl(7)?;
    assert_eq!(client.ttl()?, 7);
    assert!(client.take_error()?.is_none());
    Ok(())
}

// Regression: only the first of two waiting readers got the reset; the
// kernel gave the second end-of-file, `Ok(0)`, which looks like a clean
// close.
#[xiio::test]
async fn a_reset_reaches_every_waiting_reader_and_every_later_read() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    let readers = xiio::task_group!(|tg| {
        let readers = [(); 2].map(|()| {
            let client = &client;
            tg.add_task(async move {
                let mut buf = [0; 16];
                Ok(client.read(&mut buf).await.map_err(|e| e.kind()))
            })
        });
        xiio::sleep(ms(10)).await; // both wait now
        rustix::net::sockopt::set_socket_linger(&server, Some(Duration::ZERO))?;
        drop(server);
        Ok::<_, io::Error>(readers)
    })?;
    for reader in &readers {
        assert_eq!(reader.take(), Some(Err(ErrorKind::ConnectionReset)));
    }
    let later = client.read(&mut [0; 16]).await;
    assert_eq!(later.unwrap_err().kind(), ErrorKind::ConnectionReset);
    // The futures-io path keeps it too.
    let mut buf = [0; 16];
    let polled = futures::AsyncReadExt::read(&mut &client, &mut buf).await;
    assert_eq!(polled.unwrap_err().kind(), ErrorKind::ConnectionReset);
    Ok(())
}

#[xiio::test]
async fn a_reset_wakes_every_task_waiting_on_the_connection() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    let (read, readable) = xiio::task_group!(|tg| {
        let read = tg.add_task(async {
            let mut buf = [0; 16];
            Ok(client.read(&mut buf).await)
        });
        let readable = tg.add_task(async { Ok(client.readable().await) });
        xiio::sleep(ms(10)).await; // both wait now
        // SO_LINGER 0: closing sends a RST instead of a FIN.
        rustix::net::sockopt::set_socket_linger(&server, Some(Duration::ZERO))?;
        drop(server);
        Ok::<_, io::Error>((read, readable))
    })?;
    let read = read.take().unwrap();
    assert_eq!(read.unwrap_err().kind(), ErrorKind::ConnectionReset);
    assert!(
        readable.take().unwrap().is_ok(),
        "readable() wakes on the reset"
    );
    Ok(())
}

#[xiio::test]
async fn a_closed_connection_gives_eof_to_readers_and_an_error_to_writers() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    drop(server);
    let mut buf = [0; 16];
    assert_eq!(client.read(&mut buf).await?, 0);
    assert_eq!(client.read(&mut buf).await?, 0, "end-of-file stays");
    // The first write may still be accepted by the kernel; the peer's RST
    // then makes a later one fail.
    let mut failed = None;
    for _ in 0..100 {
        if let Err(e) = client.write_all(&[0; 1024]).await {
            failed = Some(e);
            break;
        }
        xiio::sleep(ms(1)).await;
    }
    let kind = failed.expect("writes to a closed peer fail").kind();
    assert!(
        matches!(kind, ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
        "{kind:?}"
    );
    Ok(())
}

#[xiio::test]
async fn connecting_to_a_closed_port_is_refused_and_names_the_address() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = TcpStream::connect(addr).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[test]
fn accept_and_read_wait_on_the_mock_clock_without_advancing_it() {
    run_mock(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let start = xiio::time::now();
        xiio::task_group!(|tg| {
            tg.add_task(async {
                xiio::sleep(ms(100)).await;
                let client = TcpStream::connect(addr).await?;
                xiio::sleep(ms(50)).await;
                client.write_all(b"late").await
            });
            let (server, _) = listener.accept().await?;
            assert_eq!(since(start), ms(100));
            let mut buf = [0; 4];
            server.read_exact_all(&mut buf).await?;
            assert_eq!(since(start), ms(150));
            Ok::<_, io::Error>(())
        })
    })
    .unwrap();
}

#[test]
fn a_cancelled_accept_leaves_the_listener_usable() {
    run_mock(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let start = xiio::time::now();
        assert!(xiio::timeout(ms(100), listener.accept()).await.is_err());
        assert_eq!(since(start), ms(100));
        let client = TcpStream::connect(listener.local_addr()?).await?;
        let (_, peer) = listener.accept().await?;
        assert_eq!(peer, client.local_addr()?);
        Ok::<_, io::Error>(())
    })
    .unwrap();
}

#[xiio::test]
async fn a_cancelled_read_leaves_no_waiter_and_the_stream_works() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    let mut buf = [0; 8];
    assert!(xiio::timeout(ms(10), server.read(&mut buf)).await.is_err());
    client.write_all(b"after").await?;
    let n = server.read(&mut buf).await?;
    assert_eq!(&buf[..n], b"after");
    Ok(())
}

#[xiio::test]
async fn dropped_sockets_leave_no_registration_behind() -> io::Result<()> {
    let before = xiio::testing::registered_fds();
    {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = TcpStream::connect(listener.local_addr()?).await?;
        let (server, _) = listener.accept().await?;
        let mut buf = [0; 8];
        // Waiting registers the sockets...
        assert!(xiio::timeout(ms(5), server.read(&mut buf)).await.is_err());
        assert!(xiio::timeout(ms(5), listener.accept()).await.is_err());
        let registered = xiio::testing::registered_fds();
        use std::os::fd::AsRawFd;
        assert!(registered.contains(&server.as_raw_fd()));
        assert!(registered.contains(&listener.as_raw_fd()));
        drop(client);
    }
    // ... and dropping them deregisters them before their fds close.
    assert_eq!(xiio::testing::registered_fds(), before);
    Ok(())
}

#[xiio::test]
async fn a_cancelled_connect_leaves_no_registration_and_no_socket() -> io::Result<()> {
    let hanging = util::net::HangingListener::new();
    let before = xiio::testing::registered_fds();
    let attempt = xiio::timeout(ms(50), TcpStream::connect(hanging.addr())).await;
    assert!(attempt.is_err(), "the connect hangs until cancelled");
    assert_eq!(xiio::testing::registered_fds(), before);
    assert_eq!(
        util::net::connecting_to(hanging.addr()),
        0,
        "the socket is closed"
    );
    Ok(())
}

#[xiio::test]
async fn std_streams_convert_both_ways() -> io::Result<()> {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr: SocketAddr = std_listener.local_addr()?;
    let listener = TcpListener::from_std(std_listener)?;
    let client = TcpStream::from_std(std::net::TcpStream::connect(addr)?)?;
    let (server, _) = listener.accept().await?;
    client.write_all(b"x").await?;
    let server = server.into_std();
    server.set_nonblocking(false)?;
    let mut byte = [0];
    std::io::Read::read_exact(&mut &server, &mut byte)?;
    assert_eq!(&byte, b"x");
    assert_eq!(listener.into_std().local_addr()?, addr);
    Ok(())
}

#[xiio::test]
async fn futures_io_write_and_close_through_a_reference() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    let mut writer = &client;
    writer.write_all(b"via futures-io").await?;
    writer.close().await?; // a half-close
    let mut got = String::new();
    (&server).read_to_string(&mut got).await?;
    assert_eq!(got, "via futures-io");
    Ok(())
}

#[test]
fn a_short_read_before_the_peers_fin_does_not_hide_the_fin() {
    // A short read usually shows the receive buffer drained, and the next
    // read waits for an edge. But when one edge brought the last data and
    // the FIN together, no edge follows: the next read must return
    // end-of-file at once.
    run_mock(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = TcpStream::connect(listener.local_addr()?).await?;
        let (server, _) = listener.accept().await?;
        xiio::task_group!(|tg| {
            tg.add_task(async move {
                xiio::sleep(ms(10)).await;
                // Data and FIN within one turn: one edge for both.
                server.write_all(b"last words").await?;
                drop(server);
                Ok(())
            });
            client.readable().await?; // registered and waiting
            let start = xiio::time::now();
            let mut buf = [0; 64];
            let n = client.read(&mut buf).await?;
            assert_eq!(&buf[..n], b"last words");
            let eof = xiio::timeout(ms(100), client.read(&mut buf)).await;
            assert_eq!(eof.ok().map(Result::ok), Some(Some(0)), "EOF at once");
            assert_eq!(since(start), ms(0));
            Ok::<_, io::Error>(())
        })
    })
    .unwrap();
}

const RESOLVER_CHILD: &str = "XIIO_TEST_RESOLVER_CHILD";

// Regression: name resolution shared the blocking-work pool with user
// jobs; with that pool full of long jobs, `connect("localhost:…")` waited
// behind them (it timed out after 1 s, where connecting by address took
// 160 µs). Run in a child process: it fills the process-wide pool.
#[test]
fn connecting_by_name_does_not_queue_behind_blocking_work() {
    util::assert_ignored_child_passes(
        RESOLVER_CHILD,
        "net::tcp::child_connect_by_name_with_the_pool_full",
        Duration::from_secs(30),
        "connected by name",
    );
}

/// Runs in a child process (see the test above); does nothing otherwise.
#[test]
#[ignore = "run by connecting_by_name_does_not_queue_behind_blocking_work"]
fn child_connect_by_name_with_the_pool_full() {
    if std::env::var_os(RESOLVER_CHILD).is_none() {
        return;
    }
    xiio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = std::sync::Arc::new(std::sync::Mutex::new(released));
        xiio::task_group!(|tg| {
            // More long jobs than the shared pool has workers (64).
            for _ in 0..100 {
                let released = released.clone();
                tg.add_task(xiio::thread::run_blocking(move || {
                    let _ = released.lock().unwrap().recv();
                }));
            }
            xiio::task::yield_now().await; // the jobs are queued
            let connect = TcpStream::connect(format!("localhost:{port}"));
            let connected = xiio::timeout(Duration::from_secs(10), connect).await;
            // Let the jobs end, whatever happened.
            drop(release);
            let stream = connected.map_err(io::Error::other)??;
            assert_eq!(stream.peer_addr()?.port(), port);
            println!("connected by name");
            Ok::<_, io::Error>(())
        })
    })
    .unwrap();
}

/// The kernel tells a reset to one call only. When that call is a write,
/// the readers must still hear of it: a reset taken for a clean close
/// would pass a truncated transfer off as complete.
#[xiio::test]
async fn a_reset_seen_by_a_write_is_what_later_reads_report() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    server.set_linger(Some(Duration::ZERO))?;
    drop(server); // a RST, not a FIN
    xiio::sleep(ms(20)).await; // it arrives
    let written = client.write(b"into the void").await;
    assert_eq!(written.unwrap_err().kind(), ErrorKind::ConnectionReset);
    let read = client.read(&mut [0; 16]).await;
    assert_eq!(read.unwrap_err().kind(), ErrorKind::ConnectionReset);
    Ok(())
}

#[xiio::test]
async fn set_linger_refuses_a_linger_that_would_block_the_thread() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let err = client.set_linger(Some(Duration::from_secs(1))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("Duration::ZERO"), "{err}");
    assert_eq!(client.linger()?, None);
    client.set_linger(Some(Duration::ZERO))?;
    assert_eq!(client.linger()?, Some(Duration::ZERO));
    Ok(())
}
