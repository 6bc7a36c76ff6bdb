//! Thread-per-core: xiio's runtime is single-threaded, so to use every
//! core a server runs one `xiio::run` per core, each with its own
//! `SO_REUSEPORT` listener on the same port, and the kernel spreads the
//! connections over them (as glommio and monoio do). Nothing is shared
//! between the cores; each counts its own accepts and returns the count
//! from its thread.
//!
//! The protocol is trivial: the server answers each connection with
//! `core N` and closes it. A built-in load (four client threads, each its
//! own `xiio::run` with eight connections in flight) makes 2,000
//! connections; then the servers are stopped and the program prints how
//! many connections each core accepted, which the clients cross-check
//! with the answers they got.
//!
//! ```text
//! cargo run --example thread_per_core
//! cargo run --example thread_per_core -- 127.0.0.1:7880   # a fixed address
//! ```

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::{io, thread};

use futures::AsyncReadExt;
use xiio::TaskGroup;
use xiio::net::{ListenOptions, TcpListener, TcpStream};
use xiio::sync::channel::Receiver;

/// Connections the load makes in all.
const CONNECTIONS: usize = 2000;
/// Client threads, each with its own runtime.
const CLIENT_THREADS: usize = 4;
/// Connections each client thread keeps in flight.
const IN_FLIGHT: usize = 8;

fn main() -> io::Result<()> {
    let cores = thread::available_parallelism()?.get();
    let addr = std::env::args().nth(1);
    let addr = addr.as_deref().unwrap_or("127.0.0.1:0");

    // One listener per core, all on the same port. They are bound here,
    // before any thread starts: so port 0 works (the first bind picks a
    // free port, the others join it), and every listener is in the
    // `SO_REUSEPORT` group before the first client connects. An xiio
    // listener belongs to one thread (`!Send`), so each moves to its
    // thread as a std listener and is wrapped again there.
    let options = ListenOptions::new().reuse_port(true);
    let first = options.bind(addr)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first.into_std()];
    for _ in 1..cores {
        listeners.push(options.bind(addr)?.into_std());
    }
    println!(
        "{cores} server threads on {addr} (SO_REUSEPORT), \
         {CLIENT_THREADS} client threads making {CONNECTIONS} connections"
    );

    // The stop signal for every server: nothing is ever sent on this
    // channel; dropping `stop`, its only sender, closes it, and each
    // server's pending `recv` returns. An async-channel wakes a task on
    // another thread with a plain `Waker`, which reaches the sleeping
    // runtime (through its `mio::Waker`): no fd and no flag to poll. (A
    // `Condition` on the read end of a pipe that this thread closes would
    // do as well, at the cost of a pipe per server.)
    let (stop, stopped) = xiio::sync::channel::bounded::<()>(1);
    let servers = listeners
        .into_iter()
        .enumerate()
        .map(|(core, listener)| {
            let stopped = stopped.clone();
            thread::Builder::new()
                .name(format!("core-{core}"))
                .spawn(move || xiio::run(server(core, listener, stopped)))
        })
        .collect::<io::Result<Vec<_>>>()?;

    let clients = (0..CLIENT_THREADS)
        .map(|i| {
            // Connections `i * N / T ..(i + 1) * N / T`: even shares.
            let n = (i + 1) * CONNECTIONS / CLIENT_THREADS - i * CONNECTIONS / CLIENT_THREADS;
            thread::Builder::new()
                .name(format!("client-{i}"))
                .spawn(move || xiio::run(load(addr, n, cores)))
        })
        .collect::<io::Result<Vec<_>>>()?;
    // How many answers came from each core, as the clients saw them.
    let mut answered = vec![0; cores];
    for client in clients {
        let seen = client.join().expect("a client thread panicked")?;
        answered.iter_mut().zip(seen).for_each(|(sum, n)| *sum += n);
    }

    drop(stop); // the load is done: stop the servers
    let accepted = servers
        .into_iter()
        .map(|server| server.join().expect("a server thread panicked"))
        .collect::<io::Result<Vec<usize>>>()?;

    for (core, (accepted, answered)) in accepted.iter().zip(&answered).enumerate() {
        println!("core {core}: accepted {accepted:>5} connections");
        assert_eq!(accepted, answered, "core {core}: the clients disagree");
    }
    let total: usize = accepted.iter().sum();
    println!("total:  accepted {total:>5} connections");
    assert_eq!(total, CONNECTIONS);
    Ok(())
}

/// One core's server: answers every connection with `core N` until
/// `stopped` is closed, then waits for the connections still open and
/// returns how many it accepted.
async fn server(
    core: usize,
    listener: std::net::TcpListener,
    stopped: Receiver<()>,
) -> io::Result<usize> {
    let listener = TcpListener::from_std(listener)?;
    let reply = format!("core {core}\n");
    let accepted = Cell::new(0);
    xiio::task_group!(|tg| {
        let accepting = tg.add_task(accept_loop(&listener, &accepted, &reply, tg));
        // `Err(Closed)` once the sender is gone: that is the signal.
        let _ = stopped.recv().await;
        accepting.cancel(); // the group then waits for open connections
        Ok::<_, io::Error>(())
    })?;
    Ok(accepted.get())
}

/// Accepts connections, counting them, and answers each one with `reply`
/// in a child of `connections`.
async fn accept_loop<'s, 'e>(
    listener: &TcpListener,
    accepted: &Cell<usize>,
    reply: &'e str,
    connections: &'s TaskGroup<'s, 'e, io::Error>,
) -> io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        accepted.set(accepted.get() + 1);
        // Each connection is a child, so a slow client holds up nobody;
        // its error ends it alone.
        connections.add_task(async move {
            if let Err(e) = stream.write_all(reply.as_bytes()).await {
                println!("{peer}: {e}");
            }
        });
    }
}

/// One client thread's share of the load: `n` connections, `IN_FLIGHT` at
/// a time. Returns how many answers came from each of the `cores`.
async fn load(addr: SocketAddr, n: usize, cores: usize) -> io::Result<Vec<usize>> {
    let left = &Cell::new(n);
    let seen = &RefCell::new(vec![0; cores]);
    xiio::task::gather((0..IN_FLIGHT).map(|_| async move {
        while left.get() > 0 {
            left.set(left.get() - 1);
            let stream = TcpStream::connect(addr).await?;
            let mut answer = String::new();
            (&stream).read_to_string(&mut answer).await?;
            let core = answer
                .strip_prefix("core ")
                .and_then(|n| n.trim_end().parse::<usize>().ok())
                .filter(|&core| core < cores)
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("answer {answer:?}"))
                })?;
            seen.borrow_mut()[core] += 1;
        }
        Ok::<_, io::Error>(())
    }))
    .await?;
    Ok(seen.take())
}
