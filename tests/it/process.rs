//! Processes: `xiio::process::run_process` and `xiio::process::check_status`, as users write
//! them.
//!
//! Child processes live in real time, so these run on the real clock with
//! slack for a slow, loaded machine.

mod child;

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};

use crate::util;
use crate::util::{ms, run_mock, since};

const GENEROUS: Duration = Duration::from_secs(2);

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    cmd
}

/// A fresh path in the temporary directory, for a child to leave its pid.
fn pid_file() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    std::env::temp_dir().join(format!("xiio-test-{}-{n}.pid", std::process::id()))
}

fn read_pid(path: &Path) -> i32 {
    let text = std::fs::read_to_string(path).expect("the child wrote its pid");
    let _ = std::fs::remove_file(path);
    text.trim().parse().expect("a pid")
}

/// The process is neither running nor a zombie waiting to be reaped.
fn assert_gone(pid: i32) {
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "process {pid} still exists (running or zombie)"
    );
    let pid = Pid::from_raw(pid).unwrap();
    let reaped = waitid(
        WaitId::Pid(pid),
        WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
    );
    assert_eq!(
        reaped.err(),
        Some(Errno::CHILD),
        "no child {pid:?} left to reap"
    );
}

#[test]
fn sh_sleep_then_echo_hello_world_with_piped_stdout() {
    let start = Instant::now();
    let output = xiio::run(xiio::process::run_process(
        sh("sleep 0.1 && echo \"Hello World\"").stdout(Stdio::piped()),
    ))
    .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(output.stdout, b"Hello World\n");
    assert!(output.stderr.is_empty());
    assert!(elapsed >= Duration::from_millis(90), "{elapsed:?}");
    assert!(elapsed < GENEROUS, "{elapsed:?}");
}

#[test]
fn exit_status_is_reported_true_succeeds_false_fails() {
    xiio::run(async {
        let ok = xiio::process::run_process(&mut Command::new("true")).await?;
        assert!(ok.status.success());
        assert!(xiio::process::check_status(ok).is_ok());

        let failed = xiio::process::run_process(&mut Command::new("false")).await?;
        assert_eq!(failed.status.code(), Some(1));
        let err = xiio::process::check_status(failed).unwrap_err();
        assert_eq!(err.to_string(), "process failed with exit status: 1");
        Ok::<_, io::Error>(())
    })
    .unwrap();
}

#[test]
fn check_status_error_has_the_status_the_stderr_and_the_output() {
    let output = xiio::run(xiio::process::run_process(
        sh("echo partial; echo 'something broke' >&2; exit 3")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    ))
    .unwrap();
    let err = xiio::process::check_status(output).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Other);
    assert_eq!(
        err.to_string(),
        "process failed with exit status: 3; stderr: something broke"
    );
    let failure = err
        .into_inner()
        .unwrap()
        .downcast::<xiio::process::ProcessError>()
        .unwrap();
    assert_eq!(failure.status().code(), Some(3));
    assert_eq!(failure.into_output().stdout, b"partial\n");
}

#[test]
fn check_status_shows_only_the_end_of_a_long_stderr() {
    let output = xiio::run(xiio::process::run_process(
        sh("i=0; while [ $i -lt 500 ]; do echo line $i >&2; i=$((i+1)); done; exit 2")
            .stderr(Stdio::piped()),
    ))
    .unwrap();
    let message = xiio::process::check_status(output).unwrap_err().to_string();
    assert!(message.starts_with("process failed with exit status: 2; stderr (end): ..."));
    assert!(message.ends_with("line 499"), "{message}");
    assert!(message.len() < 1200, "{} bytes", message.len());
}

#[test]
fn a_process_killed_by_a_signal_reports_the_signal() {
    let output = xiio::run(xiio::process::run_process(&mut sh("kill -9 $$"))).unwrap();
    assert_eq!(output.status.signal(), Some(9));
    let err = xiio::process::check_status(output).unwrap_err();
    assert!(err.to_string().contains("signal: 9"), "{err}");
}

#[test]
fn cancelling_a_running_process_kills_and_reaps_it() {
    let path = pid_file();
    let start = Instant::now();
    let result = xiio::run(xiio::timeout(
        Duration::from_millis(100),
        xiio::process::run_process(&mut sh(&format!(
            "echo $$ > {}; exec sleep 0.5",
            path.display()
        ))),
    ));
    let elapsed = start.elapsed();
    assert!(result.is_err(), "timed out");
    assert!(elapsed >= Duration::from_millis(90), "{elapsed:?}");
    assert!(elapsed < GENEROUS, "{elapsed:?}");
    // On a very slow machine the child may be terminated before it wrote
    // its pid; the tests below do not depend on that.
    if path.exists() {
        assert_gone(read_pid(&path));
    }
}

/// Waits until the child wrote its pid file (it sets up its traps first).
async fn written(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "the child never started");
        xiio::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs `script` (which first writes its pid to `path`) as a child of a
/// group, cancels it once the pid is written, and returns when it was
/// cancelled; `xiio::run` returns only after the group reaped it.
fn run_and_cancel(path: &Path, script: &str) -> Instant {
    xiio::run(xiio::TaskGroup::scope(async |tg| {
        let child = tg.add_task(async { xiio::process::run_process(&mut sh(script)).await });
        written(path).await;
        child.cancel();
        Ok::<_, io::Error>(Instant::now())
    }))
    .unwrap()
}

#[test]
fn no_zombie_after_a_cancelled_process() {
    let path = pid_file();
    let script = format!("echo $$ > {}; exec sleep 30", path.display());
    let cancelled_at = run_and_cancel(&path, &script);
    // The group waited for the cleanup; SIGTERM ended the child long
    // before its 30 s.
    assert!(cancelled_at.elapsed() < Duration::from_secs(10));
    assert_gone(read_pid(&path));
}

#[test]
fn a_child_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let path = pid_file();
    let script = format!("trap '' TERM; echo $$ > {}; exec sleep 30", path.display());
    let cancelled_at = run_and_cancel(&path, &script);
    let elapsed = cancelled_at.elapsed();
    // SIGTERM is ignored: SIGKILL after 1 s of grace; the group waited.
    assert!(elapsed >= Duration::from_millis(990), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_gone(read_pid(&path));
}

#[test]
fn a_failing_sibling_cancels_the_process_and_the_group_waits_for_the_reap() {
    let path = pid_file();
    let script = format!("echo $$ > {}; exec sleep 30", path.display());
    let result = xiio::run(xiio::TaskGroup::scope(async |tg| {
        tg.add_task(async { xiio::process::run_process(&mut sh(&script)).await.map(drop) });
        tg.add_task(async {
            written(&path).await;
            Err::<(), _>(io::Error::other("sibling failed"))
        });
        Ok(())
    }));
    assert_eq!(result.unwrap_err().to_string(), "sibling failed");
    assert_gone(read_pid(&path));
}

#[test]
fn four_mib_on_stdout_and_stderr_are_captured_without_deadlock() {
    const SIZE: usize = 4 * 1024 * 1024;
    // stderr first: reading stdout to its end before stderr would deadlock.
    let script = format!("head -c {SIZE} /dev/zero >&2; head -c {SIZE} /dev/zero | tr '\\0' x");
    let output = xiio::run(xiio::timeout(
        Duration::from_secs(60),
        xiio::process::run_process(sh(&script).stdout(Stdio::piped()).stderr(Stdio::piped())),
    ))
    .expect("no deadlock")
    .unwrap();
    assert!(output.status.success());
    assert_eq!(output.stderr.len(), SIZE);
    assert_eq!(output.stdout.len(), SIZE);
    assert!(output.stdout.iter().all(|&b| b == b'x'));
}

#[test]
fn stdio_the_caller_did_not_pipe_is_not_captured() {
    let output = xiio::run(xiio::process::run_process(
        sh("echo out; echo err >&2")
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    ))
    .unwrap();
    assert_eq!(output.stdout, b"out\n");
    assert!(output.stderr.is_empty());
}

#[test]
fn a_piped_stdin_is_closed_so_the_child_reads_end_of_file() {
    let output = xiio::run(xiio::timeout(
        Duration::from_secs(10),
        xiio::process::run_process(
            Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
        ),
    ))
    .expect("cat did not wait for input")
    .unwrap();
    assert!(output.status.success());
    assert!(output.stdout.is_empty());
}

#[test]
fn a_command_that_cannot_start_is_an_error() {
    let err = xiio::run(xiio::process::run_process(&mut Command::new(
        "/nonexistent/xiio-no-such-program",
    )))
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn processes_run_in_parallel() {
    let start = Instant::now();
    let outputs = xiio::run(xiio::task::gather((1..=3).map(|n| async move {
        let output =
            xiio::process::run_process(sh(&format!("sleep 0.2; echo {n}")).stdout(Stdio::piped()))
                .await?;
        xiio::process::check_status(output).map(|o| o.stdout)
    })))
    .unwrap();
    assert_eq!(outputs, [b"1\n", b"2\n", b"3\n"]);
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(190), "{elapsed:?}");
    assert!(elapsed < GENEROUS, "{elapsed:?}");
}

#[test]
fn a_process_in_flight_keeps_the_mock_clock_from_jumping() {
    let (result, virtual_elapsed) = xiio::Builder::new().mock_clock(true).run(async {
        let start = xiio::time::now();
        // The child takes 50 ms of real time; the 10 ms timeout is virtual
        // and cannot fire while the child runs.
        let result = xiio::timeout(
            Duration::from_millis(10),
            xiio::process::run_process(&mut sh("sleep 0.05")),
        )
        .await;
        (result, xiio::time::now() - start)
    });
    assert!(result.expect("not timed out").unwrap().status.success());
    assert_eq!(virtual_elapsed, Duration::ZERO);
}

#[test]
#[should_panic(expected = "must be awaited inside xiio::run")]
fn run_process_outside_the_runtime_panics_before_starting_anything() {
    let _ = futures::executor::block_on(xiio::process::run_process(&mut Command::new("true")));
}

#[test]
fn cancelling_a_process_group_leaves_no_survivor() {
    let pid_file = util::TempPath::new("pgid-sleep");
    let script = format!("sleep 30 & echo $! > {}; wait", pid_file.0.display());
    xiio::run(async {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script]).process_group(0);
        let result = xiio::timeout(ms(300), xiio::process::run_process(&mut cmd)).await;
        assert!(result.is_err(), "cancelled");
    });
    // The cleanup ran before xiio::run returned: the group got SIGTERM,
    // then SIGKILL for what was left.
    let sleep_pid: u32 = std::fs::read_to_string(&pid_file.0)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(sleep_pid) {
        assert!(
            Instant::now() < deadline,
            "the group's `sleep` ({sleep_pid}) survived"
        );
        std::thread::sleep(ms(10));
    }
}

/// True if the process runs (exists and is not a zombie awaiting its reap).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[test]
fn a_child_process_polled_once_and_awaited_later_does_not_freeze_the_mock_clock() {
    let elapsed = util::within_10_s(|| {
        run_mock(async {
            let start = xiio::time::now();
            let mut cmd = std::process::Command::new("sleep");
            cmd.arg("0.05");
            let mut child = pin!(xiio::process::run_process(&mut cmd));
            assert!(futures::poll!(child.as_mut()).is_pending()); // spawned
            std::thread::sleep(ms(300)); // it exits meanwhile
            xiio::sleep(ms(100)).await;
            assert!(child.await.unwrap().status.success());
            since(start)
        })
    });
    assert_eq!(elapsed, ms(100));
}
