//! Ctrl-C (SIGINT) or SIGTERM asks a task group of workers to shut down
//! cleanly: each worker is cancelled at its current await point, its
//! `try_finally` cleanup runs (and may await), and the program ends once
//! all cleanups are done.
//!
//! To run unattended, the example sends itself SIGINT after 3 seconds
//! (with `kill`, as another process would); press Ctrl-C to stop it
//! sooner.
//!
//! ```text
//! cargo run --example signals
//! ```

use std::io;
use std::process::Command;
use std::time::Duration;

use xiio::signal::{self, SIGINT, SIGTERM};

/// Works in rounds until cancelled; then saves its state, which takes a
/// moment.
async fn worker(id: u32) {
    xiio::task::try_finally(
        async move {
            for round in 1.. {
                xiio::sleep(Duration::from_millis(400 + 150 * u64::from(id))).await;
                println!("worker {id}: round {round} done");
            }
        },
        async move {
            println!("worker {id}: cancelled, saving state...");
            xiio::sleep(Duration::from_millis(200)).await;
            println!("worker {id}: saved");
        },
    )
    .await
}

/// Plays the user who presses Ctrl-C: SIGINT to this process after `delay`.
async fn interrupt_after(delay: Duration) -> io::Result<()> {
    xiio::sleep(delay).await;
    println!("(sending ourselves SIGINT)");
    let kill = format!("kill -INT {}", std::process::id());
    xiio::process::check_status(
        xiio::process::run_process(Command::new("sh").args(["-c", &kill])).await?,
    )?;
    Ok(())
}

#[xiio::main]
async fn main() -> io::Result<()> {
    // Subscribed before the workers start, so no Ctrl-C is missed.
    let mut signals = xiio::signal::subscribe_signals(&[SIGINT, SIGTERM])?;
    println!(
        "pid {}: three workers running; Ctrl-C (or `kill {0}`) stops them",
        std::process::id()
    );
    let received = xiio::task_group!(|tg| -> io::Result<_> {
        let workers: Vec<_> = (1..=3).map(|id| tg.add_task(worker(id))).collect();
        let alarm = tg.add_task(interrupt_after(Duration::from_secs(3)));
        let received = signals.recv().await?;
        println!(
            "received {}: shutting down",
            signal::name(received).unwrap_or("a signal")
        );
        for worker in &workers {
            worker.cancel();
        }
        alarm.cancel();
        Ok(received)
    })?;
    // The group returned only after every cleanup finished.
    println!(
        "all workers stopped cleanly after {}",
        signal::name(received).unwrap_or("?")
    );
    // Dropping `signals` gives SIGINT its default action back: a second
    // Ctrl-C from here on would end the program at once.
    drop(signals);
    Ok(())
}
