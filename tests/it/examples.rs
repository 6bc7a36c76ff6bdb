//! The network examples, run unattended: each one's self-test (or default
//! mode) must exit 0 and print what shows it worked.
//!
//! `cargo test` builds the examples before it runs the tests, into
//! `target/<profile>/examples/`, next to `target/<profile>/deps/` where this
//! test runs. A test run that did not build them (`cargo test --test
//! examples`), or built them before their source changed, builds them
//! here with `cargo build --example NAME`.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Each example finishes in well under a second; this is for a slow,
/// loaded machine.
const DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn echo_self_test() {
    let out = run_example("echo", &["--self-test"]);
    for line in [
        "received SIGINT: shutting down",
        "stopped accepting; 2 connection(s) open",
        "self-test: a new client is refused",
        "self-test: b echoed during the drain and left",
        "drain deadline passed: cancelling the connections still open",
        "self-test: c was cancelled at the deadline",
        "self-test: passed",
        "all connections closed, exiting",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}");
    }
    assert_eq!(out.matches("closing 127.0.0.1:").count(), 3, "{out}");
    // The drain came before the cancellation.
    let drained = out.find("b echoed during the drain").unwrap();
    let cancelled = out.find("drain deadline passed").unwrap();
    assert!(drained < cancelled, "{out}");
}

/// greet reads its stdin as lines through `xiio::io::stdin()`, and leaves
/// the pipe's mode as it found it (a shared terminal would stay
/// non-blocking after the program, for the shell too).
#[test]
fn greet_reads_stdin_lines_and_leaves_the_pipe_blocking() {
    let (reader, mut writer) = std::io::pipe().unwrap();
    let kept = reader.try_clone().unwrap();
    let mut child = Command::new(example_binary("greet"))
        .stdin(reader)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writer.write_all(b"Grace\nAda\n").unwrap();
    drop(writer);
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    let greeted: Vec<_> = out.lines().filter(|l| l.starts_with("Hello")).collect();
    assert_eq!(greeted, ["Hello, Ada!", "Hello, Grace!"], "{out}");
    let flags = rustix::fs::fcntl_getfl(&kept).unwrap();
    assert!(!flags.contains(rustix::fs::OFlags::NONBLOCK));
}

#[test]
fn chat_self_test() {
    let out = run_example("chat", &["--self-test"]);
    for name in ["alice", "bob", "carol"] {
        let heard = format!("self-test: {name} heard 4 lines");
        assert!(out.contains(&heard), "no {heard:?} in:\n{out}");
        assert!(out.contains(&format!("{name} joined")), "{out}");
        assert!(out.contains(&format!("{name} left")), "{out}");
    }
    assert!(out.contains("self-test: passed"), "{out}");
}

#[test]
fn http_self_test() {
    let out = run_example("http", &["--self-test"]);
    for line in [
        "HTTP/1.1 GET /: hello from xiio over HTTP/1.1",
        "HTTP/1.1 POST /echo: 1048576 bytes back",
        "HTTP/2 GET /: hello from xiio over HTTP/2.0",
        "HTTP/2 POST /echo: 1048576 bytes back",
        "SIGINT: stopping",
        "all connections closed",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}");
    }
    // A handler that panics costs its request a 500, nothing more: the
    // same connection goes on to the echo above.
    for proto in ["HTTP/1.1", "HTTP/2"] {
        let line = format!("{proto} GET /panic: 500 internal error: panicked: index out of bounds");
        assert!(out.contains(&line), "no {line:?} in:\n{out}");
    }
}

/// A client that sends the first 14 bytes of HTTP/2's preface and closes
/// is let go at once: the server neither polls the half-closed socket nor
/// keeps it (it used to peek at the same 14 bytes every millisecond, for
/// ever, with the socket in CLOSE_WAIT, and never exited on Ctrl-C).
#[test]
fn http_lets_go_of_a_client_that_closes_inside_the_preface() {
    let server = Server::start("http", &["--addr", "127.0.0.1:0"]);
    let mut client = std::net::TcpStream::connect(server.addr()).unwrap();
    client
        .write_all(&b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..14])
        .unwrap();
    drop(client);
    server.wait_for_line(|line| line.ends_with("closed before it sent a request"));
    let out = server.interrupt();
    assert!(out.contains("all connections closed"), "{out}");
}

/// A client that connects and sends nothing is timed out like a slow
/// header (it used to be kept for ever).
#[test]
fn http_times_out_a_client_that_sends_nothing() {
    let server = Server::start(
        "http",
        &["--addr", "127.0.0.1:0", "--header-timeout-ms", "200"],
    );
    let mut client = std::net::TcpStream::connect(server.addr()).unwrap();
    server.wait_for_line(|line| line.ends_with("sent no request for 200ms: closing"));
    let mut buf = [0; 1];
    assert_eq!(client.read(&mut buf).unwrap(), 0, "the server closed it");
    server.interrupt();
}

/// Ctrl-C does not wait for a client that has sent nothing: it has no
/// request in flight (it used to block the shutdown until it left).
#[test]
fn http_shutdown_does_not_wait_for_a_silent_client() {
    // A header timeout far beyond the test's deadline: only the shutdown
    // itself can end this connection in time.
    let server = Server::start(
        "http",
        &["--addr", "127.0.0.1:0", "--header-timeout-ms", "600000"],
    );
    let _client = std::net::TcpStream::connect(server.addr()).unwrap();
    server.wait_for_line(|line| line.ends_with(": connected"));
    let out = server.interrupt();
    assert!(out.contains("all connections closed"), "{out}");
}

#[test]
fn proxy_self_test() {
    let out = run_example("proxy", &["--self-test"]);
    for line in [
        "self-test: round trip: 1 MiB sent and echoed at once, byte-exact",
        "self-test: half-close: after shutting down its writing, the client got the \
         upstream's last 1048576 bytes, then end-of-file",
        "self-test: idle timeout: a silent connection was closed after",
        ": closed (idle for 300ms); 5 bytes client→upstream, 5 upstream→client",
        "self-test: idle timeout: a slow download went through whole",
        "self-test: limit: with 2 connections allowed, a third waited until one ended",
        "self-test: peer gone: the upstream answered mid-upload and left",
        "self-test: passed",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}");
    }
    // The upload's direction ended alone: its connection then closed
    // cleanly, having delivered the upstream's 21-byte answer.
    let gone = out
        .lines()
        .find(|line| line.contains("client→upstream ends"));
    let peer = gone.and_then(|line| line.split(": ").next()).unwrap();
    let closed = format!("{peer}: closed (done); ");
    let closed = out.lines().find(|line| line.starts_with(&closed));
    assert!(
        closed.is_some_and(|line| line.ends_with(" 21 upstream→client")),
        "{out}"
    );
}

/// The proxy as a server, in front of an upstream of the test's: a round
/// trip through it with a half-close, then Ctrl-C: it stops accepting and
/// exits cleanly.
#[test]
fn proxy_forwards_then_exits_on_ctrl_c() {
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let to = upstream.local_addr().unwrap().to_string();
    let echo = std::thread::spawn(move || {
        let (mut conn, _) = upstream.accept().unwrap();
        let mut back = conn.try_clone().unwrap();
        std::io::copy(&mut conn, &mut back).unwrap(); // until end-of-file
    });
    let server = Server::start("proxy", &["--listen", "127.0.0.1:0", "--to", &to]);
    let mut client = std::net::TcpStream::connect(server.listening_addr()).unwrap();
    client.write_all(b"hello\n").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut echoed = String::new();
    client.read_to_string(&mut echoed).unwrap();
    assert_eq!(echoed, "hello\n");
    echo.join().unwrap();
    server.wait_for_line(|line| {
        line.ends_with("closed (done); 6 bytes client→upstream, 6 upstream→client")
    });
    let out = server.interrupt();
    for line in [
        "SIGINT: stopping",
        "stopped accepting; 0 connection(s) open",
        "all connections closed, exiting",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}");
    }
}

#[test]
fn supervisor_self_test() {
    let out = run_example("supervisor", &["--self-test"]);
    for line in [
        "self-test: streaming: `tick 1` was shown while its program waited for that",
        "self-test: crash: `exit 3` started 5 times, restarted after 20, 40, 80, 80 ms",
        "self-test: prefixes: `[both] to stdout` and `[both!] to stderr`",
        "self-test: stop: 4 programs stopped and reaped in",
        "self-test: stop: the grandchild `sleep 30` (pid",
        "self-test: passed",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}");
    }
}

/// The supervisor as a program: its program's line shows up while the
/// program still runs (it sleeps for 30 s after it), and Ctrl-C stops the
/// program, then the supervisor, which exits 0.
#[test]
fn supervisor_streams_and_stops_on_ctrl_c() {
    let server = Server::start("supervisor", &["--", "a=echo hello; sleep 30"]);
    server.wait_for_line(|line| line == "[a] hello");
    let out = server.interrupt();
    for line in [
        "received SIGINT",
        "stopping: 1 program(s)",
        "all children stopped",
    ] {
        assert!(out.contains(line), "no {line:?} in:\n{out}");
    }
}

/// An example running as a server: its stdout, line by line, as it comes.
struct Server {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// The lines read so far.
    seen: std::cell::RefCell<Vec<String>>,
}

impl Server {
    /// Starts example `name` with `args`.
    fn start(name: &str, args: &[&str]) -> Server {
        let mut child = Command::new(example_binary(name))
            .args(args)
            .stdin(Stdio::null())
            .env("RUST_BACKTRACE", "0") // the panics they contain are logged, briefly
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the example");
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server {
            child,
            lines,
            seen: Default::default(),
        }
    }

    /// The address from the server's `serving ... on http://ADDR` line.
    fn addr(&self) -> std::net::SocketAddr {
        let line = self.wait_for_line(|line| line.contains(" on http://"));
        line.rsplit("http://").next().unwrap().parse().unwrap()
    }

    /// The address from the server's `listening on ADDR...` line.
    fn listening_addr(&self) -> std::net::SocketAddr {
        let line = self.wait_for_line(|line| line.starts_with("listening on "));
        let rest = &line["listening on ".len()..];
        rest.split([',', ' ']).next().unwrap().parse().unwrap()
    }

    /// Waits for an output line that `matches`, and returns it.
    ///
    /// # Panics
    ///
    /// If none comes within the deadline.
    fn wait_for_line(&self, matches: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let left = DEADLINE.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.borrow_mut().push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no such line within {DEADLINE:?}; the output:\n{}",
                    self.seen.borrow().join("\n")
                ),
            }
        }
    }

    /// Sends SIGINT and waits for the server to exit, successfully: its
    /// whole output.
    fn interrupt(self) -> String {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
        self.wait_for_exit("SIGINT")
    }

    /// Waits for the example to exit, successfully: its whole output.
    ///
    /// # Panics
    ///
    /// If it does not exit within the deadline (`after`: what it was
    /// waiting for), or fails.
    fn wait_for_exit(mut self, after: &str) -> String {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > DEADLINE {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "no exit within {DEADLINE:?} of {after}; the output:\n{}",
                    self.seen.borrow().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut seen = self.seen.take();
        seen.extend(self.lines.iter());
        let out = seen.join("\n");
        assert!(status.success(), "exited with {status}:\n{out}");
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn thread_per_core_load() {
    let out = run_example("thread_per_core", &[]);
    assert!(out.contains("total:  accepted  2000 connections"), "{out}");
    let cores = std::thread::available_parallelism().unwrap().get();
    let per_core = out.lines().filter(|line| line.starts_with("core "));
    assert_eq!(per_core.count(), cores, "one line per core in:\n{out}");
}

/// Runs example `name` with `args`; its stdout, once it exited 0.
fn run_example(name: &str, args: &[&str]) -> String {
    Server::start(name, args).wait_for_exit("its end")
}

/// The path of example `name`'s binary, built if it is missing or older
/// than its source.
fn example_binary(name: &str) -> PathBuf {
    // This test is `<target>/<profile>/deps/examples-<hash>`.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let binary = profile_dir.join("examples").join(name);
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.rs"));
    let modified = |path: &Path| path.metadata().and_then(|m| m.modified()).ok();
    if modified(&binary).is_none() || modified(&binary) < modified(&source) {
        let target_dir = profile_dir.parent().unwrap();
        let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
            "debug" => "dev",
            other => other,
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--example", name, "--profile", profile])
            .arg("--manifest-path")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build --example {name} failed");
    }
    binary
}
