//! Readiness in tokio's model: cached per direction, cleared only when an
//! operation says `WouldBlock`; `readable()`/`writable()` report it, and
//! the `try_*` operations make one attempt each.

use std::future::poll_fn;
use std::io;
use std::os::fd::AsFd;
use std::os::linux::net::SocketAddrExt;

use xiio::io::Interest;
use xiio::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};

use crate::util::{ms, since};

/// A Unix stream socket reports `POLLOUT` only while less than a quarter
/// of its send buffer is in use, yet takes writes until it is full. After
/// `writable()`, small writes must go on while the kernel takes them: a
/// readiness check that asked `poll(2)` would call the socket full after
/// about 70 of them and wait for an edge that only a reader can make.
#[xiio::test(mock_clock)]
async fn after_writable_a_unix_stream_takes_small_writes_while_the_kernel_has_room()
-> io::Result<()> {
    let (a, _b) = UnixStream::pair()?;
    let start = xiio::time::now();
    let wrote = xiio::timeout(ms(1000), async {
        for _ in 0..200 {
            a.writable().await?;
            a.write(&[7; 100]).await?;
        }
        Ok::<_, io::Error>(())
    })
    .await;
    assert!(wrote.is_ok(), "a write waited although the kernel had room");
    assert_eq!(since(start), ms(0));
    Ok(())
}

/// The tokio loop: `writable()` and `try_write` until the kernel says
/// full; then `writable()` waits until the peer reads, and only then.
#[xiio::test(mock_clock)]
async fn writable_and_try_write_fill_the_socket_then_wait_for_the_reader() -> io::Result<()> {
    let (a, b) = UnixStream::pair()?;
    let start = xiio::time::now();
    let mut sent = 0;
    loop {
        a.writable().await?;
        match a.try_write(&[7; 4096]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    assert!(sent > 4096, "the kernel took {sent} bytes");
    assert_eq!(since(start), ms(0));
    // Full: writable() now waits for the reader.
    let received = xiio::task_group!(|tg| {
        tg.add_task(async {
            xiio::sleep(ms(30)).await;
            let mut buf = vec![0; sent];
            let mut received = 0;
            while received < sent / 2 {
                received += b.read(&mut buf).await?;
            }
            Ok(received)
        });
        a.writable().await?;
        assert_eq!(since(start), ms(30), "writable when the reader made room");
        Ok::<_, io::Error>(())
    });
    received?;
    assert!(a.try_write(b"more")? > 0);
    Ok(())
}

/// `readable()` and `try_read` on TCP: one wake per arrival, no spinning,
/// and each `try_read` that finds nothing says `WouldBlock` at most once
/// before the loop waits again.
#[xiio::test(mock_clock)]
async fn readable_and_try_read_wake_once_per_arrival_without_spinning() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    let start = xiio::time::now();
    let (mut wakes, mut would_block, mut got) = (0, 0, Vec::new());
    xiio::task_group!(|tg| {
        tg.add_task(async {
            for chunk in [&b"one "[..], b"two"] {
                xiio::sleep(ms(20)).await;
                server.write_all(chunk).await?;
            }
            Ok(())
        });
        while got.len() < 7 {
            client.readable().await?;
            wakes += 1;
            let mut buf = [0; 64];
            match client.try_read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => would_block += 1,
                Err(e) => return Err(e),
            }
        }
        Ok::<_, io::Error>(())
    })?;
    assert_eq!(got, b"one two");
    assert_eq!(since(start), ms(40));
    assert!(
        wakes <= 3 && would_block <= 1,
        "{wakes} wakes, {would_block} WouldBlock"
    );
    Ok(())
}

/// Before the first event, `readable()` asks the kernel: a fresh socket
/// with nothing to read waits, though its first read would just be tried.
#[xiio::test(mock_clock)]
async fn readable_on_a_fresh_socket_waits_for_data() -> io::Result<()> {
    let (a, b) = UnixStream::pair()?;
    let start = xiio::time::now();
    xiio::task_group!(|tg| {
        tg.add_task(async {
            xiio::sleep(ms(25)).await;
            b.write_all(b"x").await
        });
        a.readable().await?;
        assert_eq!(since(start), ms(25));
        assert_eq!(a.try_read(&mut [0; 8])?, 1);
        Ok::<_, io::Error>(())
    })
}

/// The false positive that tokio's model allows, and how the `try_*`
/// operations end it: data taken around xiio leaves the readiness set
/// until an attempt says `WouldBlock`; then `readable()` waits.
#[xiio::test(mock_clock)]
async fn readiness_stays_until_an_attempt_says_would_block() -> io::Result<()> {
    let (a, b) = UnixStream::pair()?;
    b.write_all(b"abc").await?;
    a.readable().await?;
    // Taken behind xiio's back.
    let mut raw: &std::os::unix::net::UnixStream = &a.as_fd().try_clone_to_owned()?.into();
    assert_eq!(io::Read::read(&mut raw, &mut [0; 8])?, 3);
    a.readable().await?; // still ready as xiio knows it
    let err = a.try_read(&mut [0; 8]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    let start = xiio::time::now();
    let waited = xiio::timeout(ms(50), a.readable()).await;
    assert!(
        waited.is_err(),
        "readable() after WouldBlock waits for an edge"
    );
    assert_eq!(since(start), ms(50));
    Ok(())
}

#[xiio::test(mock_clock)]
async fn udp_readable_try_recv_and_poll_forms() -> io::Result<()> {
    let a = UdpSocket::bind("127.0.0.1:0")?;
    let b = UdpSocket::bind("127.0.0.1:0")?;
    b.connect(a.local_addr()?)?;
    let err = a.try_recv_from(&mut [0; 8]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    let start = xiio::time::now();
    xiio::task_group!(|tg| {
        tg.add_task(async {
            xiio::sleep(ms(10)).await;
            b.writable().await?;
            assert_eq!(b.try_send(b"one")?, 3);
            xiio::sleep(ms(10)).await;
            let sent = poll_fn(|cx| b.poll_send(cx, b"two")).await?;
            assert_eq!(sent, 3);
            xiio::sleep(ms(10)).await;
            assert_eq!(b.try_send_to(b"three", a.local_addr()?)?, 5);
            Ok(())
        });
        let mut buf = [0; 16];
        a.readable().await?;
        assert_eq!(since(start), ms(10));
        assert_eq!(a.try_recv_from(&mut buf)?, (3, b.local_addr()?));
        // Still ready as xiio knows it, until an attempt finds nothing.
        poll_fn(|cx| a.poll_recv_ready(cx)).await?;
        assert_eq!(since(start), ms(10));
        let err = a.try_recv_from(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        poll_fn(|cx| a.poll_recv_ready(cx)).await?;
        assert_eq!(since(start), ms(20));
        let (n, from) = poll_fn(|cx| a.poll_recv_from(cx, &mut buf)).await?;
        assert_eq!((&buf[..n], from), (&b"two"[..], b.local_addr()?));
        a.connect(b.local_addr()?)?;
        let n = poll_fn(|cx| a.poll_recv(cx, &mut buf)).await?;
        assert_eq!(&buf[..n], b"three");
        assert_eq!(since(start), ms(30));
        let err = a.try_recv(&mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        Ok::<_, io::Error>(())
    })
}

#[xiio::test(mock_clock)]
async fn unix_datagram_readable_and_try_forms() -> io::Result<()> {
    let (a, b) = UnixDatagram::pair()?;
    let start = xiio::time::now();
    xiio::task_group!(|tg| {
        tg.add_task(async {
            xiio::sleep(ms(15)).await;
            b.writable().await?;
            b.try_send(b"hello")
        });
        let err = a.try_recv(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        a.readable().await?;
        assert_eq!(since(start), ms(15));
        let mut buf = [0; 8];
        let (n, _) = a.try_recv_from(&mut buf)?;
        assert_eq!(&buf[..n], b"hello");
        Ok::<_, io::Error>(())
    })
}

/// tokio's spelling of an abstract name: a path whose first byte is NUL.
#[xiio::test(mock_clock)]
async fn a_path_starting_with_nul_names_the_abstract_namespace() -> io::Result<()> {
    let name = format!("\0xiio-readiness-{}", std::process::id());
    let listener = UnixListener::bind(&name)?;
    let addr = listener.local_addr()?;
    let expected = &name.as_bytes()[1..];
    assert_eq!(addr.as_abstract_name(), Some(expected));
    assert!(!std::path::Path::new(&name[1..]).exists(), "no file made");
    let client = UnixStream::connect(&name).await?;
    let (server, _) = listener.accept().await?;
    client.write_all(b"hi").await?;
    let mut buf = [0; 2];
    server.read(&mut buf).await?;
    assert_eq!(&buf, b"hi");

    let dgram_name = format!("{name}-dgram");
    let receiver = UnixDatagram::bind(&dgram_name)?;
    let sender = UnixDatagram::unbound()?;
    sender.send_to(b"one", &dgram_name).await?;
    sender.writable().await?;
    sender.try_send_to(b"two", &dgram_name)?;
    sender.connect(&dgram_name)?;
    sender.send(b"three").await?;
    for want in [&b"one"[..], b"two", b"three"] {
        let mut buf = [0; 8];
        let n = receiver.recv(&mut buf).await?;
        assert_eq!(&buf[..n], want);
    }
    Ok(())
}

#[test]
#[should_panic(expected = "try_io takes one direction")]
fn try_io_with_both_directions_panics_with_what_to_do() {
    let (reader, _writer) = io::pipe().unwrap();
    let reader = xiio::io::Async::new(reader).unwrap();
    let both = Interest::READABLE | Interest::WRITABLE;
    let _ = reader.try_io(both, |_| Ok(()));
}
