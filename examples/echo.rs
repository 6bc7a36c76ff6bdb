//! A TCP echo server whose connections live in the listener's task group,
//! with a graceful shutdown: on Ctrl-C (SIGINT) or SIGTERM it stops
//! accepting, gives the open connections 5 s to finish (a connection
//! finishes when its client closes it), then cancels those still open.
//! Each connection's `try_finally` cleanup says goodbye to a client it
//! cancels and logs `closing <peer>`; the program exits once every cleanup
//! is done.
//!
//! ```text
//! cargo run --example echo                    # on 127.0.0.1:7878
//! cargo run --example echo -- 0.0.0.0:9000    # another address
//! nc 127.0.0.1 7878                           # in another terminal
//! ```
//!
//! With `--self-test` it checks itself unattended: it serves on a free
//! port, connects three clients of its own (in the same task group),
//! echoes some lines, sends itself SIGINT, and shows one client finishing
//! during the drain and the idle one being cancelled at the (shortened,
//! 200 ms) drain deadline.
//!
//! ```text
//! cargo run --example echo -- --self-test
//! ```

use std::cell::Cell;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use futures::AsyncReadExt;
use xiio::TaskGroup;
use xiio::net::{TcpListener, TcpStream};
use xiio::signal::{self, SIGINT, SIGTERM};
use xiio::sync::Promise;
use xiio::task::catch_panic;

/// What a cancelled connection's client reads before the server closes it.
const GOODBYE: &str = "server shutting down, bye\n";

#[xiio::main]
async fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1);
    let self_test = arg.as_deref() == Some("--self-test");
    let (addr, drain) = match &arg {
        _ if self_test => ("127.0.0.1:0".to_string(), Duration::from_millis(200)),
        Some(addr) => (addr.clone(), Duration::from_secs(5)),
        None => ("127.0.0.1:7878".to_string(), Duration::from_secs(5)),
    };

    // Subscribed before anything else, so no Ctrl-C is missed.
    let mut signals = xiio::signal::subscribe_signals(&[SIGINT, SIGTERM])?;
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    println!("listening on {addr} (pid {})", std::process::id());

    // Set when the server is to stop accepting.
    let stop = Promise::new();
    xiio::task_group!(|tg| {
        let mut server = tg.add_task(serve(listener, &stop));
        if self_test {
            tg.add_task(self_test_clients(addr, &stop));
        }

        let received = signals.recv().await?;
        // From here on a second Ctrl-C ends the program at once, as usual.
        drop(signals);
        let name = signal::name(received).unwrap_or("a signal");
        println!("received {name}: shutting down, {drain:?} for open connections");

        // The shutdown: stop accepting, give the open connections `drain`
        // to finish, cancel those still open. The group returns once their
        // cleanups are done.
        stop.set(()).expect("set once");
        if xiio::timeout(drain, &mut server).await.is_err() {
            println!("drain deadline passed: cancelling the connections still open");
            server.cancel();
        }
        Ok::<_, io::Error>(())
    })?;
    println!("all connections closed, exiting");
    Ok(())
}

/// Serves `listener` until `stop` is set, then waits for the open
/// connections to finish.
///
/// The connections are children of this function's task group, so it
/// returns only when every one of them has finished, and cancelling it
/// cancels them all (with their cleanups): the group *is* the set of open
/// connections, with no list of them to keep.
async fn serve(listener: TcpListener, stop: &Promise<()>) -> io::Result<()> {
    xiio::task_group!(|tg| {
        let accepting = tg.add_task(accept_loop(listener, tg));
        stop.wait().await;
        // Cancelling the accept loop drops the listener, which it owns:
        // new clients are refused instead of waiting in the kernel's queue.
        accepting.cancel();
        // `- 1`: the accept loop is still a child until the group drops it.
        println!("stopped accepting; {} connection(s) open", tg.len() - 1);
        Ok(()) // the group now waits for the connections
    })
}

/// Accepts connections and adds each one to the group `tg`.
async fn accept_loop(listener: TcpListener, tg: &TaskGroup<'_, '_, io::Error>) -> io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                println!("{peer}: connected");
                // A connection's error, or a panic in its code, ends that
                // connection only: were it returned (or let through), it
                // would fail the group and cancel every other connection.
                tg.add_task(async move {
                    match catch_panic(connection(stream, peer)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => println!("{peer}: {e}"),
                        Err(panicked) => println!("{peer}: a bug: {panicked}"),
                    }
                });
            }
            // Out of fds (ENFILE 23, EMFILE 24): the open connections will
            // free some; try again in a moment.
            Err(e) if matches!(e.raw_os_error(), Some(23 | 24)) => {
                println!("accept: {e}; pausing");
                xiio::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Echoes until the client closes the connection; when cancelled first,
/// says goodbye. Either way logs `closing <peer>`.
async fn connection(stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
    // The cleanup may outlive this task (it runs after a cancellation), so
    // it must own what it uses: it shares the stream through an `Rc`.
    let stream = Rc::new(stream);
    let client_closed = Rc::new(Cell::new(false));
    let cleanup = {
        let (stream, client_closed) = (stream.clone(), client_closed.clone());
        async move {
            if !client_closed.get() {
                // Cancelled (or failed). The goodbye is best effort: a
                // client that does not read must not hold up the shutdown.
                let bye = stream.write_all(GOODBYE.as_bytes());
                let _ = xiio::timeout(Duration::from_millis(100), bye).await;
            }
            println!("closing {peer}");
        }
    };
    xiio::task::try_finally(
        async {
            echo(&stream).await?;
            client_closed.set(true);
            Ok(())
        },
        cleanup,
    )
    .await
}

/// Writes back what it reads, until end-of-file.
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

/// The self-test's clients: `a` leaves before the shutdown, `b` during the
/// drain, and `c` stays idle until the server cancels it. Sends SIGINT to
/// this process in between, as `kill` from a shell would.
async fn self_test_clients(addr: SocketAddr, stop: &Promise<()>) -> io::Result<()> {
    let a = TcpStream::connect(addr).await?;
    let b = TcpStream::connect(addr).await?;
    let c = TcpStream::connect(addr).await?;
    let port = |client: &TcpStream| client.local_addr().map(|addr| addr.port());
    println!(
        "self-test: clients a, b, c on ports {}, {}, {}",
        port(&a)?,
        port(&b)?,
        port(&c)?
    );
    for (client, line) in [
        (&a, "hello from a\n"),
        (&b, "hello from b\n"),
        (&c, "c here\n"),
    ] {
        assert_eq!(roundtrip(client, line).await?, line);
    }
    // `a` closes its side; the server closes the connection in turn.
    a.shutdown(Shutdown::Write)?;
    assert_eq!(read_to_end(&a).await?, "");
    println!("self-test: a echoed and left");

    println!("self-test: sending SIGINT");
    let kill = format!("kill -INT {}", std::process::id());
    xiio::process::check_status(
        xiio::process::run_process(Command::new("sh").args(["-c", &kill])).await?,
    )?;
    stop.wait().await;
    // The server's group cancels its accept loop at its next turn.
    xiio::sleep(Duration::from_millis(20)).await;
    let refused = TcpStream::connect(addr).await.map_err(|e| e.kind());
    assert_eq!(refused.err(), Some(io::ErrorKind::ConnectionRefused));
    println!("self-test: a new client is refused");

    // `b` is still served during the drain, then leaves in time.
    let line = "b, during the drain\n";
    assert_eq!(roundtrip(&b, line).await?, line);
    b.shutdown(Shutdown::Write)?;
    assert_eq!(read_to_end(&b).await?, "");
    println!("self-test: b echoed during the drain and left");

    // `c` said nothing more: cancelled at the deadline, it gets a goodbye.
    assert_eq!(read_to_end(&c).await?, GOODBYE);
    println!("self-test: c was cancelled at the deadline and told {GOODBYE:?}");
    println!("self-test: passed");
    Ok(())
}

/// Sends `line` and reads back as many bytes.
async fn roundtrip(mut stream: &TcpStream, line: &str) -> io::Result<String> {
    stream.write_all(line.as_bytes()).await?;
    let mut buf = vec![0; line.len()];
    stream.read_exact(&mut buf).await?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Reads until the server closes the connection.
async fn read_to_end(mut stream: &TcpStream) -> io::Result<String> {
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    Ok(text)
}
