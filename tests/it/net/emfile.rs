//! A listener under `EMFILE`: `accept` returns the error, the runtime does
//! not spin on the listener that stays readable, and accepting works again
//! as soon as an fd is free, without waiting for a new connection.
//!
//! The fd limit is per process, so the test lowers it in a child process:
//! the parent re-runs this test binary on the `#[ignore]`d child test.

use std::io;
use std::process::Command;
use std::time::{Duration, Instant};

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use rustix::time::{ClockId, clock_gettime};
use xiio::net::TcpListener;

/// `EMFILE`: the process has no fd left.
const EMFILE: i32 = 24;

#[test]
fn accept_under_emfile_returns_the_error_and_recovers_without_spinning() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "net::emfile::emfile_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("XIIO_EMFILE_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the child failed:\n{stdout}\n{stderr}"
    );
}

/// CPU time this process used so far.
fn cpu_time() -> Duration {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The highest fd number open in this process.
fn highest_fd() -> i32 {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .max()
        .unwrap()
}

#[test]
#[ignore = "run by accept_under_emfile_..., in a child process whose fd limit it lowers"]
fn emfile_child() {
    if std::env::var_os("XIIO_EMFILE_CHILD").is_none() {
        return; // run by hand with --ignored: nothing to do outside the child
    }
    xiio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        // Connections the kernel completes and queues for accept.
        let _clients: Vec<_> = (0..3)
            .map(|_| std::net::TcpStream::connect(addr))
            .collect::<io::Result<_>>()?;
        // RLIMIT_NOFILE bounds fd numbers: with the limit just above the
        // highest open fd, and every free number below it taken, no new fd
        // can be made.
        let limit = getrlimit(Resource::Nofile);
        let lowered = (highest_fd() + 1) as u64;
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(lowered),
                maximum: limit.maximum,
            },
        )?;
        let mut fillers = Vec::new();
        while let Ok(file) = std::fs::File::open("/dev/null") {
            fillers.push(file);
        }

        // accept says so, with the OS error.
        let err = listener.accept().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(EMFILE), "{err}");

        // The usual back-off: try again every 50 ms. The listener stays
        // readable all along (three connections wait in its queue), and
        // the runtime must not spin on it meanwhile.
        let (start, cpu_start) = (Instant::now(), cpu_time());
        let mut attempts = 0;
        while start.elapsed() < Duration::from_millis(300) {
            // Retried at once (the readiness stays), not after a new edge.
            let accept = xiio::timeout(Duration::from_secs(5), listener.accept());
            let err = accept
                .await
                .expect("accept under EMFILE hangs")
                .unwrap_err();
            assert_eq!(err.raw_os_error(), Some(EMFILE), "{err}");
            attempts += 1;
            xiio::sleep(Duration::from_millis(50)).await;
        }
        let cpu = cpu_time() - cpu_start;
        assert!(
            (4..=8).contains(&attempts),
            "{attempts} attempts in 300 ms of back-off"
        );
        assert!(
            cpu < Duration::from_millis(100),
            "{cpu:?} of CPU in 300 ms: spinning"
        );

        // An fd frees up: the next accept takes a queued connection at
        // once; no new connection (no new edge) is needed.
        drop(fillers.pop());
        let (stream, _) = xiio::timeout(Duration::from_secs(5), listener.accept()).await??;
        drop(stream);
        setrlimit(Resource::Nofile, limit)?;
        Ok::<_, io::Error>(())
    })
    .unwrap();
}
