//! Signals: `xiio::signal::subscribe_signals` and `xiio::signal::Signals`, as users write
//! them.
//!
//! Signal dispositions are process-wide and the tests run in parallel
//! threads of one process, so every test uses signals of its own, and no
//! other test sends one to the process.
//! Scenarios that end the process (the default action coming back) run in a
//! child process: this test binary again, running one `#[ignore]`d helper.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::process::{Signal, getpid, kill_process};
use signal_hook::low_level::raise;
use xiio::signal::{
    SIGALRM, SIGHUP, SIGINT, SIGKILL, SIGPIPE, SIGPROF, SIGSEGV, SIGURG, SIGUSR1, SIGUSR2,
    SIGVTALRM, SIGWINCH,
};

const GENEROUS: Duration = Duration::from_secs(2);

/// Set in the child process that runs a helper below.
const CHILD: &str = "XIIO_SIGNALS_TEST_CHILD";

#[test]
fn subscribing_to_sigusr1_and_sending_it_from_a_child_task_after_100ms_wakes_the_subscriber() {
    let start = Instant::now();
    let (signal, elapsed) = xiio::run(xiio::TaskGroup::scope(async |tg| {
        let mut signals = xiio::signal::subscribe_signals(&[SIGUSR1])?;
        tg.add_task(async {
            xiio::sleep(Duration::from_millis(100)).await;
            kill_process(getpid(), Signal::USR1).map_err(io::Error::from)
        });
        let signal = signals.recv().await?;
        Ok::<_, io::Error>((signal, start.elapsed()))
    }))
    .unwrap();
    assert_eq!(signal, SIGUSR1);
    assert!(elapsed >= Duration::from_millis(90), "{elapsed:?}");
    assert!(elapsed < GENEROUS, "{elapsed:?}");
}

#[test]
fn a_signal_that_arrives_again_before_recv_is_reported_once() {
    xiio::run(async {
        let mut signals = xiio::signal::subscribe_signals(&[SIGUSR2])?;
        for _ in 0..3 {
            raise(SIGUSR2)?; // the handler runs before `raise` returns
        }
        assert_eq!(signals.recv().await?, SIGUSR2);
        let again = xiio::timeout(Duration::from_millis(100), signals.recv()).await;
        assert!(again.is_err(), "coalesced into one");
        // Once reported, the next one is reported again.
        raise(SIGUSR2)?;
        assert_eq!(signals.recv().await?, SIGUSR2);
        Ok::<_, io::Error>(())
    })
    .unwrap();
}

#[test]
fn signals_waiting_together_come_in_order_of_signal_number() {
    xiio::run(async {
        let mut signals = xiio::signal::subscribe_signals(&[SIGWINCH, SIGHUP])?;
        raise(SIGWINCH)?;
        raise(SIGHUP)?;
        assert_eq!(signals.recv().await?, SIGHUP);
        assert_eq!(signals.recv().await?, SIGWINCH);
        Ok::<_, io::Error>(())
    })
    .unwrap();
}

#[test]
fn every_subscription_receives_the_signal_and_dropping_one_leaves_the_other() {
    xiio::run(async {
        let mut outer = xiio::signal::subscribe_signals(&[SIGURG])?;
        let mut inner = xiio::signal::subscribe_signals(&[SIGURG, SIGURG])?;
        raise(SIGURG)?;
        assert_eq!(inner.recv().await?, SIGURG);
        assert_eq!(outer.recv().await?, SIGURG);
        drop(inner);
        raise(SIGURG)?;
        assert_eq!(outer.recv().await?, SIGURG);
        drop(outer);
        // And a new subscription works after all were dropped.
        let mut again = xiio::signal::subscribe_signals(&[SIGURG])?;
        raise(SIGURG)?;
        assert_eq!(again.recv().await?, SIGURG);
        Ok::<_, io::Error>(())
    })
    .unwrap();
}

#[test]
fn a_cancelled_recv_loses_no_signal() {
    xiio::run(async {
        let mut signals = xiio::signal::subscribe_signals(&[SIGALRM])?;
        // A recv that waited, then was cancelled.
        let nothing = xiio::timeout(Duration::from_millis(20), signals.recv()).await;
        assert!(nothing.is_err());
        raise(SIGALRM)?;
        let got = xiio::timeout(GENEROUS, signals.recv()).await;
        assert_eq!(got.expect("not lost")?, SIGALRM);
        Ok::<_, io::Error>(())
    })
    .unwrap();
}

#[test]
fn signals_can_be_subscribed_before_the_runtime_starts() {
    let mut signals = xiio::signal::subscribe_signals(&[SIGINT]).unwrap();
    raise(SIGINT).unwrap(); // not the default action: we are subscribed
    let signal = xiio::run(signals.recv()).unwrap();
    assert_eq!(signal, SIGINT);
}

#[test]
fn a_subscription_outlives_a_runtime_and_works_in_the_next() {
    let mut signals = xiio::signal::subscribe_signals(&[SIGPROF]).unwrap();
    xiio::run(async {
        let nothing = xiio::timeout(Duration::from_millis(20), signals.recv()).await;
        assert!(nothing.is_err());
    });
    let signal = xiio::run(xiio::TaskGroup::scope(async |tg| {
        tg.add_task(async {
            xiio::sleep(Duration::from_millis(20)).await;
            raise(SIGPROF) // while the body waits in `recv`
        });
        let signal = xiio::timeout(Duration::from_secs(10), signals.recv()).await;
        signal.map_err(io::Error::from)?
    }));
    assert_eq!(signal.unwrap(), SIGPROF);
}

#[test]
fn signals_that_cannot_be_caught_are_refused() {
    for bad in [SIGKILL, SIGSEGV, 0, -1, 200] {
        let err = xiio::signal::subscribe_signals(&[SIGUSR1, bad]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}");
    }
    let err = xiio::signal::subscribe_signals(&[SIGKILL]).unwrap_err();
    assert!(err.to_string().contains("SIGKILL"), "{err}");
}

#[test]
fn a_handler_registered_before_runs_again_after_drop() {
    // Registered by other code before xiio subscribes.
    let flag = Arc::new(AtomicBool::new(false));
    let id = signal_hook::flag::register(SIGVTALRM, flag.clone()).unwrap();
    xiio::run(async {
        let mut signals = xiio::signal::subscribe_signals(&[SIGVTALRM])?;
        raise(SIGVTALRM)?;
        assert_eq!(signals.recv().await?, SIGVTALRM);
        Ok::<_, io::Error>(())
    })
    .unwrap();
    flag.store(false, Ordering::SeqCst);
    raise(SIGVTALRM).unwrap();
    assert!(flag.load(Ordering::SeqCst), "the earlier handler ran");
    signal_hook::low_level::unregister(id);
}

#[test]
fn an_ignored_signal_stays_ignored_after_drop() {
    // Rust programs start with SIGPIPE ignored.
    assert!(ignored(SIGPIPE), "the test harness ignores SIGPIPE");
    let signals = xiio::signal::subscribe_signals(&[SIGPIPE]).unwrap();
    drop(signals);
    raise(SIGPIPE).unwrap(); // ignored: the process goes on
}

/// The signal is ignored, by `/proc/self/status`.
fn ignored(signal: i32) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let mask = status
        .lines()
        .find_map(|line| line.strip_prefix("SigIgn:"))
        .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
        .unwrap();
    mask & (1 << (signal - 1)) != 0
}

#[test]
fn dropping_the_last_subscription_restores_the_default_action() {
    let output = xiio::run(xiio::process::run_process(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "signal::child_restores_the_default_action",
                "--exact",
                "--ignored",
            ])
            .args(["--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    ))
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("received while subscribed, twice"),
        "the child got through its subscriptions:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // SIGUSR1's default action ends the process.
    assert_eq!(output.status.signal(), Some(SIGUSR1), "{:?}", output.status);
}

/// Runs in a child process (see the test above); does nothing otherwise.
#[test]
#[ignore = "run by dropping_the_last_subscription_restores_the_default_action"]
fn child_restores_the_default_action() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    xiio::run(async {
        let mut signals = xiio::signal::subscribe_signals(&[SIGUSR1])?;
        raise(SIGUSR1)?;
        assert_eq!(signals.recv().await?, SIGUSR1);
        drop(signals);
        // A new subscription takes the default action away again.
        let mut signals = xiio::signal::subscribe_signals(&[SIGUSR1])?;
        raise(SIGUSR1)?;
        assert_eq!(signals.recv().await?, SIGUSR1);
        println!("received while subscribed, twice");
        Ok::<_, io::Error>(())
    })
    .unwrap();
    // All subscriptions are gone: this ends the process.
    raise(SIGUSR1).unwrap();
    println!("still alive after SIGUSR1");
}

#[test]
fn a_subscription_can_move_to_another_thread() {
    fn movable<T: Send>() {}
    movable::<xiio::signal::Signals>();
}

#[test]
fn ctrl_c_returns_on_sigint() {
    xiio::run(async {
        xiio::task_group!(|tg| {
            // The watcher is polled first, so it subscribes before the kill.
            let watcher = tg.add_task(async { xiio::signal::ctrl_c().await.map(|()| "got it") });
            tg.add_task(async {
                let kill = format!("kill -INT {}", std::process::id());
                xiio::process::run_process(Command::new("sh").args(["-c", &kill])).await?;
                Ok(())
            });
            let got = (&mut { watcher }).await;
            assert_eq!(got, Some("got it"));
            Ok::<_, io::Error>(())
        })
    })
    .unwrap();
}
