//! A line-based chat server. The first line a client sends is its name;
//! every line after that goes to all the other clients as `name: line`.
//!
//! Each connection is a task group of two siblings that borrow the same
//! `&TcpStream`: a reader, which reads the client's lines and hands them
//! to the room, and a writer, which sends the client what the others said.
//! No split into owned halves, no `Arc`, no `'static`: the room and the
//! stream are locals that the tasks borrow. A connection ends when its
//! client disconnects.
//!
//! ```text
//! cargo run --example chat                    # on 127.0.0.1:7879
//! cargo run --example chat -- 0.0.0.0:9000    # another address
//! nc 127.0.0.1 7879                           # in two or more terminals
//! ```
//!
//! With `--self-test` it checks itself unattended: it serves on a free
//! port, connects three clients, has them chat, checks that each one
//! received the others' lines (in each sender's order) and none of its
//! own, and exits.
//!
//! ```text
//! cargo run --example chat -- --self-test
//! ```

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use futures::io::BufReader;
use futures::{AsyncBufReadExt, StreamExt};
use xiio::net::{TcpListener, TcpStream};
use xiio::sync::Promise;
use xiio::sync::channel::Sender;

/// How many lines may wait for a client before the server gives up on it.
const QUEUE: usize = 100;
/// How long a client may take to accept a line (when it stopped reading).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

#[xiio::main]
async fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1);
    let self_test = arg.as_deref() == Some("--self-test");
    let addr = match arg {
        _ if self_test => "127.0.0.1:0".to_string(),
        Some(addr) => addr,
        None => "127.0.0.1:7879".to_string(),
    };
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    println!("chat server on {addr}: send your name, then chat");

    let room = Room::default();
    xiio::task_group!(|tg| {
        let server = tg.add_task(serve(&listener, &room));
        if self_test {
            self_test_clients(addr).await?;
            // There is no `TaskGroup::cancel`: the server is stopped by
            // cancelling its task, which ends its connections too.
            server.cancel();
        }
        // Without the self-test the server runs until Ctrl-C.
        Ok::<_, io::Error>(())
    })
}

/// Accepts connections; each one is a child of this group.
///
/// (An accept loop that also survives running out of fds is in
/// `examples/echo.rs`.)
async fn serve(listener: &TcpListener, room: &Room) -> io::Result<()> {
    xiio::task_group!(|tg| {
        loop {
            let (stream, peer) = listener.accept().await?;
            // A connection's error ends that connection, not the server:
            // a child's `Err` would fail the group.
            tg.add_task(async move {
                if let Err(e) = connection(stream, peer, room).await {
                    println!("{peer}: {e}");
                }
            });
        }
    })
}

/// One client: reads its name, then runs a reader and a writer side by
/// side until the client disconnects.
async fn connection(stream: TcpStream, peer: SocketAddr, room: &Room) -> io::Result<()> {
    // One `BufReader` for the whole connection: it may already hold the
    // lines that follow the name.
    let mut lines = BufReader::new(&stream).lines();
    let Some(name) = lines.next().await.transpose()? else {
        return Ok(()); // left before saying a name
    };
    // The writer's queue. Its sender is in the room; leaving the room (when
    // `_membership` is dropped, however this function ends) removes it.
    let (queue, queued) = xiio::sync::channel::bounded(QUEUE);
    let _membership = room.join(peer, &name, queue);
    let welcome = format!("* welcome, {name}; {} here\n", room.len());
    stream.write_all(welcome.as_bytes()).await?;

    xiio::task_group!(|tg| {
        // The reader: the client's lines go to everybody else.
        tg.add_task(async {
            while let Some(line) = lines.next().await {
                let line = format!("{name}: {}", line?);
                println!("{line}");
                room.broadcast(peer, &format!("{line}\n"));
            }
            // The client closed its side. Closing the queue lets the writer
            // send what is still queued, then end.
            queued.close();
            Ok(())
        });
        // The writer: what the others said goes to the client.
        tg.add_task(async {
            while let Ok(line) = queued.recv().await {
                let write = stream.write_all(line.as_bytes());
                match xiio::timeout(WRITE_TIMEOUT, write).await {
                    Ok(written) => written?,
                    Err(_) => {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "stopped reading"));
                    }
                }
            }
            // The queue was closed: by the reader (the client left), or by
            // the room (the client fell behind). Either way the connection
            // is over; shutting the socket down ends the reader's wait too.
            // (It fails only if the connection is already gone.)
            let _ = stream.shutdown(Shutdown::Both);
            Ok(())
        });
        Ok(())
    })
}

/// The clients in the chat, each with the queue its writer sends from.
///
/// Why one bounded async-channel per client: a line goes to every other
/// client, each at its own pace, so each needs a queue of its own (an
/// async-channel delivers a message to *one* receiver, not to all). The
/// reader hands a line over with `try_send`, which never waits, so one
/// slow client cannot stall the room (as an awaiting `send` would), and a
/// client that falls `QUEUE` lines behind is disconnected instead of
/// growing its queue without bound (as an unbounded channel would). The
/// writer just awaits `recv`, which also tells it when the queue is
/// closed; its `WRITE_TIMEOUT` drops a client that stopped reading
/// altogether. The room itself is a `RefCell`: all tasks run on this
/// thread, and none holds the borrow across an await.
#[derive(Default)]
struct Room {
    /// The clients, by address.
    members: RefCell<HashMap<SocketAddr, Member>>,
}

/// A client in the [`Room`].
struct Member {
    name: String,
    /// The lines waiting for its writer.
    queue: Sender<Rc<str>>,
}

impl Room {
    /// Adds a client, tells the others; it leaves when the guard is
    /// dropped.
    fn join<'a>(&'a self, peer: SocketAddr, name: &str, queue: Sender<Rc<str>>) -> Membership<'a> {
        println!("{peer}: {name} joined");
        self.broadcast(peer, &format!("* {name} joined\n"));
        let name = name.to_string();
        self.members
            .borrow_mut()
            .insert(peer, Member { name, queue });
        Membership { room: self, peer }
    }

    /// Queues `line` for every client but `from`.
    fn broadcast(&self, from: SocketAddr, line: &str) {
        // One allocation, shared by all the queues.
        let line: Rc<str> = line.into();
        for (peer, member) in self.members.borrow().iter() {
            if *peer != from && member.queue.try_send(line.clone()).is_err() {
                // Full (or already closed): this client does not keep up.
                // Closing its queue ends its connection (see the writer).
                member.queue.close();
            }
        }
    }

    /// How many clients are in the room.
    fn len(&self) -> usize {
        self.members.borrow().len()
    }
}

/// A client's place in the [`Room`]; dropping it leaves the room.
struct Membership<'a> {
    room: &'a Room,
    peer: SocketAddr,
}

impl Drop for Membership<'_> {
    fn drop(&mut self) {
        let removed = self.room.members.borrow_mut().remove(&self.peer);
        if let Some(Member { name, .. }) = removed {
            println!("{}: {name} left", self.peer);
            self.room.broadcast(self.peer, &format!("* {name} left\n"));
        }
    }
}

/// The self-test: three clients join, then all chat at once.
async fn self_test_clients(addr: SocketAddr) -> io::Result<()> {
    let names = ["alice", "bob", "carol"];
    // Everybody joins before anybody talks, so everybody hears everything.
    let all_in = Barrier::new(names.len());
    xiio::task::gather(names.map(|name| client(addr, name, &names, &all_in))).await?;
    println!("self-test: passed");
    Ok(())
}

/// What `name` says in the self-test.
fn said_by(name: &str) -> [String; 2] {
    [format!("hi, I am {name}"), format!("{name} says bye")]
}

/// A self-test client: joins, says its lines, checks what it hears.
async fn client(addr: SocketAddr, name: &str, names: &[&str], all_in: &Barrier) -> io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    let mut lines = BufReader::new(&stream).lines();
    let mut next_line = async || match lines.next().await {
        Some(line) => line.map(Some),
        None => Ok(None),
    };
    stream.write_all(format!("{name}\n").as_bytes()).await?;
    let welcome = next_line().await?.unwrap_or_default();
    assert!(welcome.starts_with("* welcome"), "{name} got {welcome:?}");
    all_in.wait().await;

    for line in said_by(name) {
        stream.write_all(format!("{line}\n").as_bytes()).await?;
    }
    let others: Vec<&str> = names.iter().copied().filter(|&n| n != name).collect();
    let expected = others.len() * said_by(name).len();
    let mut heard = Vec::new(); // the chat lines, without the `* ...` notices
    while heard.len() < expected {
        let line = next_line().await?.expect("the server hung up early");
        if !line.starts_with("* ") {
            heard.push(line);
        }
    }
    // Leave; the server closes the connection after what is still queued,
    // which may only be notices.
    stream.shutdown(Shutdown::Write)?;
    while let Some(line) = next_line().await? {
        assert!(
            line.starts_with("* "),
            "{name} heard {line:?} after all lines"
        );
    }

    // The senders' lines interleave in any order, but each sender's lines
    // arrive in the order it sent them, and nobody hears itself.
    for other in &others {
        let from_other: Vec<&str> = heard
            .iter()
            .filter_map(|line| line.strip_prefix(&format!("{other}: ")))
            .collect();
        assert_eq!(from_other, said_by(other), "what {name} heard from {other}");
    }
    println!(
        "self-test: {name} heard {} lines from {}, none of its own",
        heard.len(),
        others.join(" and ")
    );
    Ok(())
}

/// Waits until `n` tasks are waiting: a `Promise` that the last one sets.
struct Barrier {
    missing: Cell<usize>,
    open: Promise<()>,
}

impl Barrier {
    fn new(n: usize) -> Barrier {
        Barrier {
            missing: Cell::new(n),
            open: Promise::new(),
        }
    }

    async fn wait(&self) {
        self.missing.set(self.missing.get() - 1);
        if self.missing.get() == 0 {
            let _ = self.open.set(());
        }
        self.open.wait().await
    }
}
