//! The runtime-agnostic pieces every runtime's cases share: the same
//! deadlines, idle load, tasks and channels on xiio, tokio and smol.

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::future::{Future, pending, poll_fn};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use async_channel::{Receiver, Sender, bounded};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue, SERVER};
use hyper::{Method, Request, Response, StatusCode};

/// Yields once to the scheduler; xiio's own works on every runtime (it
/// wakes itself).
use xiio::task::yield_now;

use crate::{ECHO_SIZE, IDLE_N, TIMER_WINDOW, TIMERS_N};

/// xorshift64*: a fixed-seed PRNG, so every runtime gets the same deadlines.
struct Rng(u64);

impl Rng {
    /// The generator with the fixed seed.
    fn new() -> Rng {
        Rng(0x9E37_79B9_7F4A_7C15)
    }

    /// The next number.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, window)`, at nanosecond resolution.
    fn below(&mut self, window: Duration) -> Duration {
        Duration::from_nanos(self.next() % window.as_nanos() as u64)
    }
}

/// The timer offsets of the timers case (the same list on every runtime).
pub fn timer_offsets() -> Vec<Duration> {
    let mut rng = Rng::new();
    // A profiler slows the run down so much that every deadline would have
    // passed before its timer is set: it can widen the window.
    let window = std::env::var("XIIO_BENCH_TIMER_WINDOW_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(TIMER_WINDOW, Duration::from_millis);
    (0..TIMERS_N).map(|_| rng.below(window)).collect()
}

/// Offsets of the idle timers of the wake-up case: an hour and a bit from
/// now, all distinct.
pub fn idle_timer_offsets() -> Vec<Duration> {
    let mut rng = Rng::new();
    (0..IDLE_N)
        .map(|_| Duration::from_secs(3600) + rng.below(Duration::from_secs(60)))
        .collect()
}

/// `IDLE_N` fds that never become ready: both ends of `IDLE_N / 2` UNIX
/// socket pairs, each awaited for readability. (Pipes would need two fds per
/// idle one, since a pipe's empty write end is writable.)
fn idle_sockets() -> Vec<UnixStream> {
    (0..IDLE_N / 2)
        .flat_map(|_| {
            let (a, b) = UnixStream::pair().expect("socketpair");
            [a, b]
        })
        .collect()
}

/// The sockets the wake-up case needs for `idle` (none for the other
/// kinds).
pub fn idle_sockets_if(idle: Idle) -> Vec<UnixStream> {
    match idle {
        Idle::Fds => idle_sockets(),
        _ => Vec::new(),
    }
}

/// An hour: the timeout of the timeouts case, which never fires.
pub const HOUR: Duration = Duration::from_secs(3600);

/// The future of the timeouts case: yields once (so the timer is really
/// armed), then gives `i` back.
pub async fn ready_after_yield(i: usize) -> usize {
    yield_now().await;
    i
}

/// The message of the echo case.
pub const MESSAGE: [u8; ECHO_SIZE] = [b'x'; ECHO_SIZE];

/// What the wake-up case keeps idle next to the wake-ups it measures.
#[derive(Clone, Copy)]
pub enum Idle {
    /// Nothing.
    None,
    /// `IDLE_N` pending timers, an hour away, all held by one task.
    Timers,
    /// `IDLE_N` fds awaited for readability, all held by one task.
    Fds,
    /// `IDLE_N` tasks, each awaiting a future that never completes.
    Tasks,
}

/// Polls every future once (so each registers its timer or fd with the
/// runtime), counts itself as started, then never finishes: the futures stay
/// registered and idle until the task is cancelled.
pub async fn hold_idle<F: Future>(futs: Vec<F>, started: Rc<Cell<usize>>) {
    let mut futs: Vec<Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    poll_fn(|cx| {
        for fut in &mut futs {
            // Results are irrelevant: nothing here ever becomes ready.
            let _ = fut.as_mut().poll(cx);
        }
        Poll::Ready(())
    })
    .await;
    started.set(started.get() + 1);
    pending::<()>().await;
}

/// Yields `n` times: the purest measure of a scheduler's wake-poll cycle.
pub async fn yielder(n: usize) {
    for _ in 0..n {
        yield_now().await;
    }
}

/// An idle task: counts itself as started, then waits forever.
pub async fn idle_task(started: Rc<Cell<usize>>) {
    started.set(started.get() + 1);
    pending::<()>().await;
}

/// Waits until `n` idle tasks or holders have started.
pub async fn wait_started(started: &Cell<usize>, n: usize) {
    while started.get() < n {
        yield_now().await;
    }
}

/// One side of the ping-pong: sends `rounds` messages, waiting for each
/// echo. Two wake-ups per round (the ponger's, then ours).
pub async fn pinger(tx: Sender<u32>, rx: Receiver<u32>, rounds: usize) {
    for i in 0..rounds as u32 {
        tx.send(i).await.unwrap();
        let echo = rx.recv().await.unwrap();
        debug_assert_eq!(echo, i);
    }
}

/// The other side: echoes until the pinger hangs up.
pub async fn ponger(rx: Receiver<u32>, tx: Sender<u32>) {
    while let Ok(v) = rx.recv().await {
        tx.send(v).await.unwrap();
    }
}

/// Two channels for a ping-pong: (ping tx, ping rx, pong tx, pong rx).
pub fn channels() -> (Sender<u32>, Receiver<u32>, Sender<u32>, Receiver<u32>) {
    let (ping_tx, ping_rx) = bounded(1);
    let (pong_tx, pong_rx) = bounded(1);
    (ping_tx, ping_rx, pong_tx, pong_rx)
}

/// A one-shot primitive for the one-shot ping-pong: each message travels in
/// a fresh one-shot; the receiver installs the next one for the sender
/// before it replies, so the sender always finds it.
pub trait OneShot: 'static {
    /// The sending end, consumed by one send.
    type Tx;
    /// The receiving end: a future of the one value.
    type Rx: Future<Output = u32>;
    /// A fresh one-shot.
    fn pair() -> (Self::Tx, Self::Rx);
    /// Sends `v` (the receiver is still there).
    fn send(tx: Self::Tx, v: u32);
}

/// The sender's slot of one direction.
type Slot<O> = Rc<RefCell<Option<<O as OneShot>::Tx>>>;

/// Sends `rounds` messages through `to_peer` and awaits each echo.
async fn oneshot_pinger<O: OneShot>(
    to_peer: Slot<O>,
    mut from_peer: O::Rx,
    back: Slot<O>,
    rounds: usize,
) {
    for i in 0..rounds as u32 {
        O::send(to_peer.borrow_mut().take().expect("slot filled"), i);
        let (tx, rx) = O::pair();
        let echo = std::mem::replace(&mut from_peer, rx).await;
        debug_assert_eq!(echo, i);
        *back.borrow_mut() = Some(tx);
    }
}

/// Echoes `rounds` messages.
async fn oneshot_ponger<O: OneShot>(
    mut from_peer: O::Rx,
    back: Slot<O>,
    to_peer: Slot<O>,
    rounds: usize,
) {
    for _ in 0..rounds {
        let (tx, rx) = O::pair();
        let v = std::mem::replace(&mut from_peer, rx).await;
        *back.borrow_mut() = Some(tx);
        O::send(to_peer.borrow_mut().take().expect("slot filled"), v);
    }
}

/// The futures of a one-shot ping-pong of `rounds` round trips.
#[allow(clippy::type_complexity)]
pub fn oneshot_pair<O: OneShot>(
    rounds: usize,
) -> (
    impl Future<Output = ()> + 'static,
    impl Future<Output = ()> + 'static,
) {
    let (ping_tx, ping_rx) = O::pair();
    let (pong_tx, pong_rx) = O::pair();
    let ping_slot: Slot<O> = Rc::new(RefCell::new(Some(ping_tx)));
    let pong_slot: Slot<O> = Rc::new(RefCell::new(Some(pong_tx)));
    (
        oneshot_pinger::<O>(ping_slot.clone(), pong_rx, pong_slot.clone(), rounds),
        oneshot_ponger::<O>(ping_rx, ping_slot, pong_slot, rounds),
    )
}

/// This process's resident set, in bytes (`VmRSS` of /proc/self/status).
pub fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// The child of the memory case on every runtime: counts itself as
/// started, then waits on a timer an hour away.
pub async fn pending_child<S: Future>(started: Rc<Cell<usize>>, sleep: S) {
    started.set(started.get() + 1);
    sleep.await;
}

/// Waits (yielding) until `n` children have started; returns the resident
/// memory growth since `before`, per child.
pub async fn memory_when_started(started: &Cell<usize>, n: usize, before: usize) -> f64 {
    while started.get() < n {
        yield_now().await;
    }
    (resident_bytes().saturating_sub(before)) as f64 / n as f64
}

/// The HTTP case's handler, the same on every runtime: `GET /` gets a 200
/// with "Hello, World!" and two fixed headers (hyper adds `content-length`
/// and `date`); anything else a 404.
pub async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let found = req.method() == Method::GET && req.uri().path() == "/";
    let body = if found { "Hello, World!" } else { "not found" };
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    if !found {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    headers.insert(SERVER, HeaderValue::from_static("bench"));
    Ok(response)
}

/// How much one read of the HTTP case's tokio adapter takes at most: the
/// same as `xiio::compat::HyperIo`'s, which serves xiio and smol.
pub const HYPER_READ_CHUNK: usize = 16 * 1024;
