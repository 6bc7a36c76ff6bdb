//! `subscribe_signals`: Unix signals as values a task awaits.
//!
//! Registration goes through signal-hook, never through a handler of our
//! own: each [`Signals`] is a signal-hook `SignalDelivery` over a Unix
//! socket pair (the self-pipe trick). Its handler sets a per-signal flag and
//! writes a byte to the socket; the reactor waits for the socket to be
//! readable, and `recv` collects the flags.
//!
//! signal-hook never gives a signal back to the OS: once it handled a
//! signal, its handler stays installed, and after the last action is
//! unregistered it still calls a handler that was installed before it, but
//! it does not run the *default* action (a SIGUSR1 would be ignored instead
//! of terminating the process). So the first time xiio subscribes to a
//! signal that is at its default action (read from `/proc/self/status`),
//! it also registers signal-hook's `flag::register_conditional_default`,
//! armed while no xiio subscription to that signal lives. That makes
//! "dropping the last `Signals` restores the previous behaviour" true.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::c_int;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use signal_hook::iterator::backend::SignalDelivery;
use signal_hook::iterator::exfiltrator::SignalOnly;

use crate::reactor::{FdWait, Interest};
use crate::task::context;
use crate::task::trace::Wait;

/// Starts receiving the given signals: the Rust form of the Python
/// original's `subscribe_signals(*sigs)`.
///
/// From the moment this returns until the [`Signals`] is dropped, each of
/// the signals that arrives is reported by [`Signals::recv`], and no longer
/// has its default action (SIGINT no longer ends the process, say).
/// Several subscriptions may cover the same signal: each of them receives
/// it. Handlers that other code installed for it keep running too
/// (signal-hook calls every registered action).
///
/// Dropping the `Signals` restores what was in place before: another
/// subscription still receives the signal, a handler that was installed
/// before (by any library) runs, an ignored signal stays ignored, and a
/// signal that was at its default action gets that default action back
/// (SIGINT ends the process again; xiio arms signal-hook's emulation of
/// the default action for that). One caveat: if other code starts
/// handling such a signal with signal-hook while xiio is subscribed to it,
/// the default action runs as well once xiio's subscriptions are gone.
///
/// This may be called outside `xiio::run` (to subscribe early, before the
/// runtime starts); [`Signals::recv`] is awaited inside it.
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use xiio::signal::SIGUSR1;
///
/// xiio::run(async {
///     let mut signals = xiio::signal::subscribe_signals(&[SIGUSR1])?;
///     // Send ourselves SIGUSR1, as `kill -USR1 <pid>` in a shell would.
///     let kill = format!("kill -USR1 {}", std::process::id());
///     xiio::process::run_process(Command::new("sh").args(["-c", &kill])).await?;
///     assert_eq!(signals.recv().await?, SIGUSR1);
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
///
/// # Errors
///
/// `InvalidInput` for a signal that cannot be caught (SIGKILL, SIGSTOP),
/// that only a faulting instruction raises (SIGSEGV, SIGILL, SIGFPE), or
/// that is not a signal number; the OS error if a socket cannot be made.
pub fn subscribe_signals(signals: &[c_int]) -> io::Result<Signals> {
    let mut wanted = signals.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    for &signal in &wanted {
        check_signal(signal)?;
    }
    let (read, write) = UnixStream::pair()?;
    let delivery = SignalDelivery::with_pipe(read, write, SignalOnly, std::iter::empty::<c_int>())?;
    let mut subscription = Signals {
        waiter: None,
        delivery,
        buffered: VecDeque::new(),
        signals: Vec::with_capacity(wanted.len()),
    };
    for signal in wanted {
        prepare_restore(signal);
        // On error, dropping `subscription` releases the signals added so
        // far.
        subscription.delivery.handle().add_signal(signal)?;
        lock_registry()
            .get_mut(&signal)
            .expect("prepared")
            .acquire();
        subscription.signals.push(signal);
    }
    Ok(subscription)
}

/// Refuses signals that cannot be subscribed to, with a message that says
/// why.
fn check_signal(signal: c_int) -> io::Result<()> {
    // signal-hook's slots end at 128 (Linux has 64 signals).
    if !(1..128).contains(&signal) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("xiio::signal::subscribe_signals: {signal} is not a signal number"),
        ));
    }
    if signal_hook::consts::FORBIDDEN.contains(&signal) {
        let name = super::name(signal).unwrap_or("this signal");
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "xiio::signal::subscribe_signals: {name} cannot be subscribed to: it cannot be caught, \
                 or only a faulting instruction raises it"
            ),
        ));
    }
    Ok(())
}

/// A subscription to some signals, made by [`subscribe_signals`]; await
/// [`recv`](Signals::recv) for each signal that arrives.
///
/// **Coalescing.** A `Signals` keeps one "arrived" flag per signal, as the
/// kernel keeps one "pending" bit: a signal that arrives again before
/// `recv` reported it is merged with it. So `recv` tells that a signal came
/// at least once since it was last reported, not how many times. When
/// several different signals are waiting, `recv` returns them one per call
/// in ascending order of signal number, not of arrival.
///
/// Dropping it ends the subscription and restores what was in place
/// before (see [`subscribe_signals`]); signals not received yet are
/// discarded.
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use xiio::signal::SIGUSR2;
///
/// xiio::run(async {
///     let mut signals = xiio::signal::subscribe_signals(&[SIGUSR2])?;
///     let kill = format!("kill -USR2 {}", std::process::id());
///     for _ in 0..3 {
///         xiio::process::run_process(Command::new("sh").args(["-c", &kill])).await?;
///     }
///     // Three SIGUSR2 before anyone looked: reported once.
///     assert_eq!(signals.recv().await?, SIGUSR2);
///     let again = xiio::timeout(std::time::Duration::from_millis(100), signals.recv()).await;
///     assert!(again.is_err());
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
pub struct Signals {
    /// The wait on the socket's read end while `recv` is pending (in the
    /// runtime that polls it: a `Signals` may outlive one `xiio::run` and
    /// be used in the next). Declared first so it is dropped before the
    /// socket is closed.
    waiter: Option<FdWait>,
    /// signal-hook's registration: the socket pair, the per-signal flags,
    /// and the actions (unregistered when dropped).
    delivery: SignalDelivery<UnixStream, SignalOnly>,
    /// Signals collected from the flags but not returned yet, in order.
    buffered: VecDeque<c_int>,
    /// The signals this subscription counts in the registry.
    signals: Vec<c_int>,
}

impl Signals {
    /// Waits for the next signal and returns its number (compare it with
    /// the constants of [`xiio::signal`](crate::signal)).
    ///
    /// Cancel-safe: dropping a pending `recv` loses no signal; the next
    /// `recv` reports it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::process::Command;
    /// use xiio::signal::{SIGHUP, SIGWINCH};
    ///
    /// xiio::run(async {
    ///     let mut signals = xiio::signal::subscribe_signals(&[SIGHUP, SIGWINCH])?;
    ///     let kill = format!("kill -WINCH {}", std::process::id());
    ///     xiio::process::run_process(Command::new("sh").args(["-c", &kill])).await?;
    ///     match signals.recv().await? {
    ///         SIGHUP => println!("reload the configuration"),
    ///         SIGWINCH => println!("the terminal was resized"),
    ///         other => unreachable!("not subscribed: {other}"),
    ///     }
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The OS error if waiting on the subscription's socket fails (it does
    /// not in practice).
    ///
    /// # Panics
    ///
    /// When polled outside `xiio::run`.
    pub async fn recv(&mut self) -> io::Result<c_int> {
        /// Ends the wait on the socket when `recv` returns or is dropped.
        struct Recv<'a>(&'a mut Signals);
        impl Drop for Recv<'_> {
            fn drop(&mut self) {
                self.0.waiter = None;
            }
        }
        let recv = Recv(self);
        poll_fn(|cx| recv.0.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](Signals::recv), for hand-written futures
    /// and stream adapters: `Ready` with the next signal, or `Pending` with
    /// the task woken when one arrives.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::task::Poll;
    ///
    /// xiio::run(async {
    ///     let mut signals = xiio::signal::subscribe_signals(&[xiio::signal::SIGALRM])?;
    ///     // Nothing has arrived: the first poll is pending.
    ///     let first = poll_fn(|cx| Poll::Ready(signals.poll_recv(cx).is_pending())).await;
    ///     assert!(first);
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// # Ok::<_, std::io::Error>(())
    /// ```
    ///
    /// # Panics
    ///
    /// When called outside `xiio::run`.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<c_int>> {
        loop {
            if let Some(signal) = self.buffered.pop_front() {
                return Poll::Ready(Ok(signal));
            }
            // Empties the socket, then takes the flags: a signal that
            // arrives after this leaves a byte behind and wakes us.
            self.buffered.extend(self.delivery.pending());
            if !self.buffered.is_empty() {
                self.waiter = None;
                continue;
            }
            let fd = self.delivery.get_read().as_raw_fd();
            let reactor = context::reactor();
            match FdWait::poll(&mut self.waiter, &reactor, fd, Interest::READABLE, cx) {
                Poll::Pending => {
                    context::trace_wait(|| Wait::Fd(fd, Interest::READABLE));
                    return Poll::Pending;
                }
                // Readable: look at the flags again, with a fresh wait next
                // time (a registration reports readiness once).
                Poll::Ready(Ok(())) => self.waiter = None,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// Waits for Ctrl-C (SIGINT).
///
/// The subscription starts when the future is first polled and ends when
/// it completes or is dropped (then SIGINT ends the process again, as
/// before). So poll it before the signal may come: start it as a child of
/// a task group, or use [`subscribe_signals`] early for a program that
/// must not miss one.
///
/// # Examples
///
/// ```no_run
/// # xiio::run(async {
/// xiio::task_group!(|tg| {
///     let server = tg.add_task(async { /* serve ... */ });
///     xiio::signal::ctrl_c().await?;
///     println!("shutting down");
///     server.cancel();
///     Ok::<_, std::io::Error>(())
/// })
/// # }).unwrap();
/// ```
///
/// # Errors
///
/// If the subscription cannot be made (no fd left).
pub async fn ctrl_c() -> io::Result<()> {
    let mut signals = subscribe_signals(&[super::SIGINT])?;
    signals.recv().await?;
    Ok(())
}

/// The signals as a `futures_core::Stream` of `io::Result<c_int>`, which
/// never ends: `signals.next().await` with futures' `StreamExt` is
/// [`recv`](Signals::recv).
impl futures_core::Stream for Signals {
    type Item = io::Result<c_int>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_recv(cx).map(Some)
    }
}

impl Drop for Signals {
    /// Releases the signals in the registry (arming the default action
    /// where it was the previous behaviour) before the fields are dropped,
    /// which unregisters signal-hook's actions: a signal that arrives in
    /// between is handled as after the drop, never lost.
    fn drop(&mut self) {
        let mut registry = lock_registry();
        for signal in &self.signals {
            if let Some(entry) = registry.get_mut(signal) {
                entry.release();
            }
        }
    }
}

impl fmt::Debug for Signals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signals")
            .field("signals", &self.signals)
            .field("buffered", &self.buffered)
            .finish()
    }
}

/// What xiio knows about one signal it subscribed to at some point.
struct Entry {
    /// Live [`Signals`] that cover this signal.
    live: usize,
    /// For a signal that was at its default action before xiio first
    /// subscribed to it: the condition of signal-hook's default-action
    /// emulation, true while no subscription lives.
    restore_default: Option<Arc<AtomicBool>>,
}

impl Entry {
    fn acquire(&mut self) {
        self.live += 1;
        if let Some(armed) = &self.restore_default {
            armed.store(false, Ordering::SeqCst);
        }
    }

    fn release(&mut self) {
        self.live -= 1;
        if self.live == 0
            && let Some(armed) = &self.restore_default
        {
            armed.store(true, Ordering::SeqCst);
        }
    }
}

/// Every signal xiio subscribed to in this process (signal dispositions
/// are process-wide).
static REGISTRY: Mutex<BTreeMap<c_int, Entry>> = Mutex::new(BTreeMap::new());

fn lock_registry() -> MutexGuard<'static, BTreeMap<c_int, Entry>> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The first time xiio subscribes to `signal`: records whether it was at
/// its default action and, if so, registers the default-action emulation
/// (armed, so it applies until the subscription is counted).
fn prepare_restore(signal: c_int) {
    let mut registry = lock_registry();
    if registry.contains_key(&signal) {
        return;
    }
    let restore_default = if at_default_action(signal) {
        let armed = Arc::new(AtomicBool::new(true));
        // Fails for signals signal-hook has no name for (real-time ones):
        // they are then ignored after the drop, as with signal-hook alone.
        signal_hook::flag::register_conditional_default(signal, armed.clone())
            .ok()
            .map(|_| armed)
    } else {
        None
    };
    registry.insert(
        signal,
        Entry {
            live: 0,
            restore_default,
        },
    );
}

/// True if `signal` is neither caught nor ignored, by the signal masks of
/// `/proc/self/status` (false if they cannot be read).
fn at_default_action(signal: c_int) -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    let mask = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
    };
    let (Some(ignored), Some(caught)) = (mask("SigIgn:"), mask("SigCgt:")) else {
        return false;
    };
    if !(1..=64).contains(&signal) {
        return false;
    }
    let bit = 1u64 << (signal - 1);
    ignored & bit == 0 && caught & bit == 0
}
