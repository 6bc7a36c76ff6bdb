//! `xiio::process::spawn` and `Child`: a child's stdio as streams while it
//! runs, its exit, and what happens when it is dropped unreaped.

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use xiio::process::spawn;

use super::{alive, assert_gone, pid_file, read_pid, sh};
use crate::util::{ms, run_mock};

/// An interactive child: its first line arrives while it waits for
/// input, so the parent reads it before the child can exit.
#[xiio::test]
async fn output_streams_line_by_line_while_the_child_runs() -> io::Result<()> {
    let mut child = spawn(
        sh("echo ready; read answer; echo got $answer")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    )?;
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().await.transpose()?.as_deref(), Some("ready"));
    assert!(child.try_wait()?.is_none(), "still waiting for its input");
    stdin.write_all(b"42\n").await?;
    assert_eq!(lines.next().await.transpose()?.as_deref(), Some("got 42"));
    // End-of-file once it exited: the parent keeps no write end.
    assert!(lines.next().await.is_none());
    assert!(child.wait().await?.success());
    Ok(())
}

#[xiio::test]
async fn ten_mib_read_while_the_child_writes_never_deadlocks() -> io::Result<()> {
    const SIZE: usize = 10 << 20;
    let mut child = spawn(
        sh(&format!(
            "head -c {SIZE} /dev/zero; head -c {SIZE} /dev/zero >&2"
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()),
    )?;
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let (counted, status) = xiio::try_join!(
        async {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            xiio::try_join!(out.read_to_end(&mut a), err.read_to_end(&mut b))?;
            Ok::<_, io::Error>((a.len(), b.len()))
        },
        child.wait(),
    )?;
    assert_eq!(counted, (SIZE, SIZE));
    assert!(status.success());
    Ok(())
}

#[xiio::test]
async fn wait_closes_stdin_so_a_reader_of_its_input_ends() -> io::Result<()> {
    let mut child = spawn(
        Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    )?;
    let status = xiio::timeout(Duration::from_secs(10), child.wait()).await??;
    assert!(status.success());
    assert_eq!(child.wait().await?, status, "the same status again");
    Ok(())
}

#[xiio::test]
async fn kill_ends_and_reaps_the_child() -> io::Result<()> {
    let mut child = spawn(Command::new("sleep").arg("100"))?;
    let pid = child.id().expect("running") as i32;
    assert!(child.try_wait()?.is_none());
    child.kill().await?;
    assert_eq!(child.try_wait()?.and_then(|s| s.signal()), Some(9));
    assert_eq!(child.id(), None, "reaped: its pid may be reused");
    assert_gone(pid);
    Ok(())
}

#[xiio::test]
async fn wait_with_output_captures_what_was_not_taken() -> io::Result<()> {
    let child = spawn(
        sh("echo out; echo err >&2; exit 3")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    let output = child.wait_with_output().await?;
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        (&output.stdout[..], &output.stderr[..]),
        (&b"out\n"[..], &b"err\n"[..])
    );
    Ok(())
}

/// A timeout around `wait` cancels it; the task's `Child` is dropped with
/// it, which terminates and reaps the child, and its process group,
/// before the runtime returns.
#[test]
fn a_cancelled_wait_terminates_and_reaps_the_child_and_its_group() {
    let pids = pid_file();
    let script = format!("sleep 30 & echo $! > {}; wait", pids.display());
    let child_pid = xiio::run(async {
        let mut cmd = sh(&script);
        cmd.process_group(0);
        let mut child = spawn(&mut cmd).unwrap();
        let pid = child.id().unwrap();
        let waited = xiio::timeout(ms(300), child.wait()).await;
        assert!(waited.is_err(), "cancelled by the timeout");
        pid
    });
    assert_gone(child_pid as i32);
    let sleep_pid = read_pid(&pids) as u32;
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(sleep_pid) {
        assert!(Instant::now() < deadline, "the group's `sleep` survived");
        std::thread::sleep(ms(10));
    }
}

/// Outside the runtime nothing can wait for a grace period: the child is
/// killed and reaped at once, never left behind.
#[test]
fn a_child_dropped_outside_the_runtime_is_killed_and_reaped() {
    let child = xiio::run(async { spawn(Command::new("sleep").arg("100")) }).unwrap();
    let pid = child.id().unwrap() as i32;
    assert!(alive(pid as u32));
    drop(child);
    assert_gone(pid);
}

#[test]
fn the_mock_clock_holds_still_while_a_child_runs() {
    let (waited, elapsed) = run_mock(async {
        let start = xiio::time::now();
        let mut child = spawn(Command::new("sleep").arg("0.05")).unwrap();
        // 10 ms of virtual time cannot pass while the child takes 50 ms of
        // real time.
        let waited = xiio::timeout(ms(10), child.wait()).await;
        (waited, xiio::time::now() - start)
    });
    assert!(waited.expect("not timed out").unwrap().success());
    assert_eq!(elapsed, Duration::ZERO);
}

#[test]
#[should_panic(expected = "inside xiio::run")]
fn spawn_outside_the_runtime_panics_before_starting_anything() {
    let _ = spawn(&mut Command::new("true"));
}
