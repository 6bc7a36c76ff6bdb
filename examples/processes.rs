//! Several commands in parallel under one timeout, with their outputs
//! captured; then a command too slow for its timeout, which is terminated
//! and reaped; and a blocking call in a thread meanwhile.
//!
//! ```text
//! cargo run --example processes
//! ```

use std::io;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `sh -c script` with stdout and stderr captured; a non-zero exit
/// status is an error.
async fn sh(script: &str) -> io::Result<String> {
    let output = xiio::process::run_process(
        Command::new("sh")
            .args(["-c", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .await?;
    let output = xiio::process::check_status(output)?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string())
}

#[xiio::main]
async fn main() -> io::Result<()> {
    let start = Instant::now();
    let scripts = [
        "uname -sr",
        "sleep 0.3; echo 'slept 300 ms'",
        "sleep 0.2; echo 'slept 200 ms'",
        "ls / | wc -l | xargs echo 'entries in /:'",
    ];
    // All four run at once: this takes about 300 ms, not 500.
    let outputs =
        xiio::timeout(Duration::from_secs(5), xiio::task::gather(scripts.map(sh))).await??;
    for (script, output) in scripts.iter().zip(&outputs) {
        println!("{script:45} -> {output}");
    }
    println!("all four in {:?}", start.elapsed());

    // A failing command is an error that says why.
    match sh("echo 'disk on fire' >&2; exit 3").await {
        Ok(_) => unreachable!("exit 3 is a failure"),
        Err(e) => println!("failed as expected: {e}"),
    }

    // Too slow: cancelled at the deadline, the child gets SIGTERM and is
    // reaped before `timeout` returns. A blocking call runs in a thread
    // meanwhile, without holding up the runtime.
    let start = Instant::now();
    let (slow, home) = xiio::task_group!(|tg| -> io::Result<_> {
        let slow = tg.add_task(async {
            Ok(xiio::timeout(Duration::from_millis(300), sh("sleep 30")).await)
        });
        let home = tg.add_task(async {
            let home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
            xiio::thread::run_blocking(move || {
                std::fs::read_dir(home).map(|entries| entries.count())
            })
            .await
        });
        Ok((slow, home))
    })?;
    match slow.take() {
        Some(Err(xiio::time::TimeoutError)) => {
            println!("`sleep 30` cancelled after {:?}", start.elapsed())
        }
        other => unreachable!("the timeout fires first: {other:?}"),
    }
    println!(
        "meanwhile, a thread counted {} entries in $HOME",
        home.take().unwrap_or(0)
    );
    Ok(())
}
