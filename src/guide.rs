//! How xiio works: one child's life, from `add_task` to its last poll, in
//! doc tests that run.
//!
//! This module holds no items. It retells the design step by step, as the
//! Python original's history does: a future polled by hand, a run loop, a
//! reactor, task groups, wakes from other threads, sockets, cancellation,
//! the tools for tests, and the ways to limit and pass values. Along the way it names the files a reader
//! follows in `xiio-core`, whose modules form layers that import downward
//! only:
//!
//! ```text
//! testing/   the mock clock (a park strategy), the task tree (a tracer)
//! rt/        run, Builder, the run loop; on_executor
//! time/ io/ fs/ net/ process/ signal/ thread/ sync/    leaf futures, system APIs
//! task/      groups, children, the ready queue and its policy, cancellation,
//!            the thread-local context
//! reactor/   mio's Poll, the fd table, the timers, the notifier, the clock
//! ```
//!
//! # 1. A future, polled by hand
//!
//! A future does nothing until polled; polled, it either is done or says
//! `Pending` after arranging for its waker to be woken when it can go on.
//! xiio runs every standard future, so any of them can be polled by hand:
//!
//! ```
//! use std::future::Future;
//! use std::pin::pin;
//! use std::task::{Context, Poll, Waker};
//!
//! let mut ready = pin!(async { 6 * 7 });
//! let mut cx = Context::from_waker(Waker::noop());
//! assert_eq!(ready.as_mut().poll(&mut cx), Poll::Ready(42));
//! ```
//!
//! An xiio leaf future (a sleep, a read) needs a runtime to register
//! with: polled outside one, it panics and says what to do.
//!
//! ```should_panic
//! # use std::future::Future;
//! # use std::pin::pin;
//! # use std::task::{Context, Waker};
//! let mut sleep = pin!(xiio::sleep(std::time::Duration::from_millis(10)));
//! let mut cx = Context::from_waker(Waker::noop());
//! let _ = sleep.as_mut().poll(&mut cx); // must be awaited inside xiio::run
//! ```
//!
//! # 2. The run loop
//!
//! [`xiio::run`](crate::run) makes a runtime for this thread (a reactor,
//! entered in the thread-local context), wraps the future in a root task
//! group, and loops (`rt/run.rs`, `block_on`): poll the root; then *park*
//! until something wakes it: an fd event, a due timer, a wake from another
//! thread. Parking is an `epoll_wait` until the next deadline on the real
//! clock, and a jump to the next deadline on the mock clock
//! (`testing/mock_clock.rs`). Between two polls the reactor is always
//! looked at, and each poll gets a budget of task polls, so tasks that keep
//! waking each other cannot starve I/O. Within one poll of one task, a
//! second budget counts the operations that complete without waiting (an
//! I/O call on an always-ready fd, a wait on a promise already set): after
//! 128 the operation returns `Pending` with the task woken, and the run
//! loop looks at fds and timers before the task goes on, so a loop of such
//! operations cannot starve its siblings, timers or a `timeout` around it
//! (`poll_op` in `task/queue.rs`, called by the leaf futures).
//!
//! ```
//! use std::time::Duration;
//!
//! let value = xiio::Builder::new().mock_clock(true).run(async {
//!     let start = xiio::time::now();
//!     xiio::sleep(Duration::from_secs(3600)).await; // no real time passes
//!     xiio::time::now() - start
//! });
//! assert_eq!(value, Duration::from_secs(3600));
//! ```
//!
//! # 3. The reactor
//!
//! `reactor/` knows nothing of tasks: it holds the fds and timers of one
//! runtime and wakes plain `Waker`s. A [`sleep`](crate::sleep) registers a
//! timer at its first poll (`time/sleep.rs` → `reactor/timers.rs`); the
//! turn that finds it due wakes its waker. Every registration names the
//! reactor it was made in, and nothing else says which runtime it belongs
//! to: a future carried from one `xiio::run` to the next registers anew
//! there instead of firing early or waiting for ever.
//!
//! ```
//! use std::time::Duration;
//!
//! let mut sleep = Box::pin(xiio::sleep(Duration::from_millis(50)));
//! let deadline = sleep.deadline().unwrap();
//! // Polled once in a first runtime, awaited in a second one:
//! xiio::run(async {
//!     let waker = std::task::Waker::noop();
//!     let _ = sleep.as_mut().poll(&mut std::task::Context::from_waker(waker));
//! });
//! xiio::run(async {
//!     sleep.await;
//!     assert!(std::time::Instant::now() >= deadline);
//! });
//! ```
//!
//! # 4. A task group, and one child's first poll
//!
//! A [`TaskGroup`](crate::TaskGroup) owns its children; the handle is lent
//! to the body as `&TaskGroup`, which children may capture, and which
//! cannot leave the scope. Trace a child from `add_task` to its first
//! poll; the poll itself passes through three files (`drive.rs`,
//! `queue.rs`, `child.rs`):
//!
//! 1. `task/group.rs`, `TaskGroup::add_task`: the future is wrapped by
//!    `child::run` (`task/child.rs`) to report its end into the state it
//!    shares with the returned [`Task`](crate::Task); the group stores it
//!    in a slab slot and queues the slot's key (`GroupQueue::push` in
//!    `task/queue.rs`), which wakes the group's parent unless it was woken
//!    already or is polling the group right now.
//! 2. The parent polls the group's future, `Drive::poll`
//!    (`task/drive.rs`): `begin_poll` takes the queued keys (`queue.rs`,
//!    in the order they were woken, or shuffled by a seed), and for each
//!    key, while the poll budget lasts (`take_budget`, `queue.rs`),
//!    `poll_child` takes the child out of its slot (so that it can add
//!    siblings meanwhile), gives it a waker (a spare one, or a new
//!    `ChildWaker` from `queue.rs`) and polls it inside `catch_unwind`.
//! 3. The wrapper (`child.rs`) returns at once if the child's `Task` asked
//!    for its cancellation, and otherwise polls the user's future; when
//!    that ends, it puts the value into the `Task` handle and the group
//!    drops the child at once (`end_child`, `drive.rs`); if it waits, it
//!    goes back into its slot until its waker queues its key again.
//!
//! ```
//! use std::time::Duration;
//!
//! xiio::Builder::new().mock_clock(true).run(async {
//!     let greeting = String::from("hello");
//!     let (len, shout) = xiio::task_group!(|tg| {
//!         // Both children borrow `greeting`; each starts at the body's
//!         // next await.
//!         let len = tg.add_task(async { Ok(greeting.len()) });
//!         let shout = tg.add_task(async {
//!             xiio::sleep(Duration::from_millis(10)).await;
//!             Ok(greeting.to_uppercase())
//!         });
//!         Ok::<_, ()>((len, shout))
//!     })
//!     .unwrap();
//!     assert_eq!((len.take(), shout.take()), (Some(5), Some("HELLO".into())));
//! });
//! ```
//!
//! # 5. A wake from another thread
//!
//! Wakers are `Send + Sync`, so a thread or another crate's channel can
//! wake a task. Trace it:
//!
//! 1. `ChildWaker::wake_by_ref` (`task/queue.rs`) sees it is not on the
//!    group's thread: it locks the queue's remote half, pushes the key,
//!    and wakes the group's parent, and so on up to the root's waker.
//! 2. The root's waker is the `Notifier` (`reactor/notifier.rs`): it sets
//!    its flag and, as the runtime sleeps in `epoll_wait`, writes the
//!    reactor's eventfd.
//! 3. `Reactor::turn` (`reactor/mod.rs`) returns; the run loop
//!    (`rt/run.rs`) takes the notifier's flag and polls the root.
//! 4. The group's `Drive::poll` (`task/drive.rs`) takes the remote keys
//!    in `begin_poll` and polls the child.
//!
//! ```
//! let got = xiio::run(async {
//!     let (tx, rx) = futures::channel::oneshot::channel();
//!     let thread = std::thread::spawn(move || tx.send("from a thread").unwrap());
//!     let got = rx.await.unwrap();
//!     thread.join().unwrap();
//!     got
//! });
//! assert_eq!(got, "from a thread");
//! ```
//!
//! # 6. A TCP read, from `WouldBlock` to its wake-up
//!
//! A socket is an [`Async`](crate::io::Async): made non-blocking and
//! registered with epoll once, edge-triggered, with its readiness kept per
//! direction in the reactor's fd table. Trace a read that must wait:
//!
//! 1. `TcpStream::read` (`net/tcp_stream.rs`) calls `stream::read`
//!    (`net/stream.rs`), which calls `Async::read_with`; `Async::poll_io`
//!    (`io/async_fd.rs`) runs `read(2)` while the read direction is ready.
//!    From here on, four files. It says `WouldBlock`, which clears the
//!    readiness (`Source::clear`, `reactor/source.rs`), and the task's
//!    waker goes into the direction's entry in the fd table
//!    (`Source::poll_ready`, or `SourceWait::poll` when several tasks
//!    wait on one fd, `source.rs`).
//! 2. Data arrives: `Reactor::turn` (`reactor/mod.rs`) gets the event, and
//!    `FdTable::dispatch` (`reactor/fds.rs`) finds the fd's entry by
//!    number, marks the direction ready and collects its wakers, which the
//!    turn wakes once the table is released.
//! 3. The task runs again: `poll_io` (`async_fd.rs`) finds the direction
//!    ready and reads the data: one `read(2)`, no `epoll_ctl`.
//!
//! ```
//! use xiio::net::{TcpListener, TcpStream};
//!
//! xiio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     xiio::task_group!(|tg| {
//!         tg.add_task(async {
//!             let (stream, _) = listener.accept().await?;
//!             let mut buf = [0; 5];
//!             let n = stream.read(&mut buf).await?; // waits for the client
//!             assert_eq!(&buf[..n], b"hello");
//!             Ok(())
//!         });
//!         let stream = TcpStream::connect(addr).await?;
//!         xiio::task::yield_now().await; // the reader says WouldBlock first
//!         stream.write_all(b"hello").await
//!     })
//! })?;
//! # Ok::<_, std::io::Error>(())
//! ```
//!
//! # 7. Cancellation, and the cleanups it leaves
//!
//! Cancelling a task is dropping its future at its current await point.
//! `Drop` cannot await, so a [`try_finally`](crate::task::try_finally)
//! dropped before its cleanup finished leaves the cleanup in the innermost
//! *sink*: that of the group (or timeout) polling or dropping it. Every
//! way of cancelling (a group's first failure, `cancel`, `Task::cancel`,
//! the end of background children, a dropped group, a timeout's deadline,
//! a dropped `on_executor` future) goes through one function,
//! `cancel` in `task/cancel.rs`; a group runs what its sink collects as
//! shielded children, and returns only after them. A panic is never lost:
//! one raised by a `Drop`, or held by a `try_finally` whose cleanup was
//! running, or by a group waiting for its cleanups, goes to the sink too,
//! and the first one wins over any error.
//!
//! ```
//! use std::time::Duration;
//!
//! xiio::Builder::new().mock_clock(true).run(async {
//!     let start = xiio::time::now();
//!     let result = xiio::task_group!(|tg| {
//!         tg.add_task(xiio::task::try_finally(
//!             xiio::sleep(Duration::from_secs(60)),
//!             async { xiio::sleep(Duration::from_millis(30)).await }, // the cleanup
//!         ));
//!         xiio::sleep(Duration::from_millis(10)).await;
//!         Err::<(), _>("the body fails") // cancels the child
//!     });
//!     assert_eq!(result, Err("the body fails"));
//!     // The group returned after the cleanup: 10 + 30 ms.
//!     assert_eq!(xiio::time::now() - start, Duration::from_millis(40));
//! });
//! ```
//!
//! # 8. Panics: let them through, or contain them
//!
//! A panic is a bug. Inside a group of tasks that cooperate on one result,
//! the right answer to a bug is to stop them all: the first panic cancels
//! every other task, waits for the cleanups, and is resumed in the parent,
//! so nothing goes on computing from a broken state. That is the default.
//!
//! A server is the other case: its connections do not cooperate, and one
//! request that hits a bug must not end every other. Put a boundary there
//! with [`catch_panic`](crate::task::catch_panic): the panic ends only the
//! future inside it (its cleanups still run) and comes out as an error
//! value, [`Panicked`](crate::task::Panicked), with the panic's message,
//! to log or to answer with a 500. Put it where a unit of work is
//! independent of its siblings (per connection, per request, per job), and
//! nowhere else: each boundary is a place where a bug is survived instead
//! of fixed. The panic hook still prints every panic, so none is lost
//! silently.
//!
//! ```
//! xiio::run(async {
//!     let served = xiio::task_group!(|tg| {
//!         for request in ["/", "/bug", "/"] {
//!             tg.add_task(async move {
//!                 let handled = xiio::task::catch_panic(async move {
//!                     assert_ne!(request, "/bug", "a bug in the handler");
//!                     "200"
//!                 });
//!                 match handled.await {
//!                     Ok(status) => println!("{request}: {status}"),
//!                     Err(panicked) => println!("{request}: 500 ({panicked})"),
//!                 }
//!             });
//!         }
//!         Ok::<_, ()>("every request answered")
//!     });
//!     assert_eq!(served, Ok("every request answered"));
//! });
//! ```
//!
//! # 9. Which way to run several futures
//!
//! - One value from each, in order, the first error cancelling the rest:
//!   [`gather`](crate::task::gather) (any number of one type) or
//!   [`try_join!`](crate::try_join) (a few of different types).
//! - The first to finish, the others cancelled and their cleanups
//!   awaited: [`race`](crate::task::race), or [`select!`](crate::select)
//!   with an arm per future.
//! - Children that come and go while the body runs (a server's
//!   connections), each with its own handle: a
//!   [`task_group!`](crate::task_group); their values in the order they
//!   finish: a [`TaskSet`](crate::task::TaskSet).
//! - At most N at a time: [`gather_limit`](crate::task::gather_limit).
//!
//! ```
//! xiio::run(async {
//!     let (n, s) = xiio::try_join!(async { Ok::<_, ()>(1) }, async { Ok("two") })?;
//!     let all = xiio::task::gather([1, 2, 3].map(|n| async move { Ok::<_, ()>(n * 10) })).await?;
//!     assert_eq!((n, s, all), (1, "two", vec![10, 20, 30]));
//!     Ok::<_, ()>(())
//! })
//! .unwrap();
//! ```
//!
//! # 10. Tests: the mock clock, seeds, the task tree
//!
//! On the mock clock, time stands still while any task can run and jumps
//! to the next deadline when none can, so timing tests assert exact
//! virtual durations. A seed polls woken tasks in a reproducible
//! pseudo-random order. The task tree says what each task waits on, and
//! where it was added; a mock clock with nothing left to wait for panics
//! with it instead of hanging. These tools plug into the runtime through
//! two hooks: the run loop's park strategy and a tracer the groups report
//! to.
//!
//! ```
//! use std::time::Duration;
//!
//! xiio::Builder::new().mock_clock(true).seed(7).run(async {
//!     xiio::task_group!(|tg| {
//!         tg.add_task(xiio::sleep(Duration::from_millis(100)));
//!         xiio::task::yield_now().await; // the child starts and waits
//!         let tree = xiio::testing::task_tree();
//!         assert!(tree.contains("waits on a timer due in 100ms"), "{tree}");
//!         Ok::<_, ()>(())
//!     })
//! })
//! .unwrap();
//! ```
//!
//! # 11. Limiting and passing values: semaphores and channels
//!
//! Everything for sharing, limiting and sending is in
//! [`sync`](crate::sync): xiio's [`Promise`](crate::sync::Promise), and
//! the runtime-agnostic crates the ecosystem trusts, re-exported
//! (`async-lock`'s [`Semaphore`](crate::sync::Semaphore) and locks,
//! `async-channel` as [`sync::channel`](crate::sync::channel)). They wake
//! tasks through plain wakers, so they need nothing from the runtime.
//!
//! An accept loop that serves at most 2 connections at a time: the permit
//! is taken *before* `accept`, so clients beyond the limit wait in the
//! kernel's backlog rather than in memory, and it is held by the
//! connection's child until that child ends.
//!
//! ```
//! use xiio::net::{TcpListener, TcpStream};
//! use xiio::sync::Semaphore;
//!
//! xiio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     let limit = Semaphore::new(2);
//!     xiio::task_group!(|tg| {
//!         tg.add_task(async {
//!             // A server loops for ever; this one serves the 5 clients below.
//!             for _ in 0..5 {
//!                 let permit = limit.acquire().await;
//!                 let (stream, _) = listener.accept().await?;
//!                 tg.add_task(async move {
//!                     let _permit = permit; // released when this ends
//!                     stream.write_all(b"hello").await
//!                 });
//!             }
//!             Ok(())
//!         });
//!         for _ in 0..5 {
//!             let client = TcpStream::connect(addr).await?;
//!             let mut buf = [0; 5];
//!             client.read(&mut buf).await?;
//!             assert_eq!(&buf, b"hello");
//!         }
//!         Ok::<_, std::io::Error>(())
//!     })
//! })?;
//! # Ok::<_, std::io::Error>(())
//! ```
//!
//! A pipeline of three stages joined by bounded channels: each stage is a
//! child, a full channel makes the stage before it wait (backpressure),
//! and dropping a sender closes its channel, which ends the next stage's
//! loop in turn.
//!
//! ```
//! use xiio::sync::channel;
//!
//! xiio::run(async {
//!     let (numbers, numbers_rx) = channel::bounded(8);
//!     let (squares, squares_rx) = channel::bounded(8);
//!     let total = xiio::task_group!(|tg| {
//!         tg.add_task(async move {
//!             for n in 1..=10u64 {
//!                 numbers.send(n).await.map_err(|_| "closed")?;
//!             }
//!             Ok(())
//!         });
//!         tg.add_task(async move {
//!             while let Ok(n) = numbers_rx.recv().await {
//!                 squares.send(n * n).await.map_err(|_| "closed")?;
//!             }
//!             Ok(())
//!         });
//!         let total = tg.add_task(async move {
//!             let mut total = 0;
//!             while let Ok(square) = squares_rx.recv().await {
//!                 total += square;
//!             }
//!             Ok(total)
//!         });
//!         Ok::<_, &str>(total)
//!     })?;
//!     assert_eq!(total.take(), Some(385));
//!     Ok::<_, &str>(())
//! })?;
//! # Ok::<_, &str>(())
//! ```
