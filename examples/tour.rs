//! A tour of xiio: runs without input and prints what each piece does.
//!
//! ```text
//! cargo run --example tour
//! ```

use std::cell::RefCell;
use std::io;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use xiio::TaskGroup;
use xiio::io::Condition;
use xiio::sync::Promise;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Prints a line prefixed with the time since `start`, rounded to 10 ms.
fn say(start: Instant, what: impl std::fmt::Display) {
    let elapsed = (xiio::time::now() - start).as_millis() / 10 * 10;
    println!("[{elapsed:>4} ms] {what}");
}

#[xiio::main]
async fn main() -> io::Result<()> {
    let start = xiio::time::now();

    println!("\n1. A Condition waits until fds are ready or a deadline passes.");
    let (reader, writer) = io::pipe()?;
    let fired = Condition::new()
        .readable(&reader)
        .deadline_after(ms(50))
        .await?;
    say(
        start,
        format!(
            "empty pipe, 50 ms deadline: deadline passed = {}",
            fired.deadline_passed()
        ),
    );
    xiio::io::write_all(&writer, b"ping").await?;
    let fired = Condition::new()
        .readable(&reader)
        .deadline_after(ms(50))
        .await?;
    say(
        start,
        format!("after a write: readable = {}", fired.is_readable(&reader)),
    );
    let mut buf = [0; 16];
    let n = xiio::io::read(&reader, &mut buf).await?;
    say(
        start,
        format!("read {:?}", String::from_utf8_lossy(&buf[..n])),
    );

    println!("\n2. A task group runs children concurrently; they may borrow locals.");
    let log = RefCell::new(Vec::new());
    let group_start = xiio::time::now();
    xiio::task_group!(|tg| {
        for (name, delay) in [("slow", 100), ("fast", 50)] {
            let log = &log;
            tg.add_task(async move {
                xiio::sleep(ms(delay)).await;
                log.borrow_mut().push(name);
            });
        }
        Ok::<_, io::Error>(())
    })?;
    say(
        start,
        format!(
            "finished in order {:?}, together in {} ms, not 150",
            log.borrow(),
            (xiio::time::now() - group_start).as_millis() / 10 * 10
        ),
    );

    println!("\n3. A promise hands a value from one task to the others.");
    let promise = Promise::new();
    xiio::task_group!(|tg| {
        let setter = promise.clone();
        tg.add_task(async move {
            xiio::sleep(ms(30)).await;
            let _ = setter.set("the answer is 42");
        });
        say(start, format!("waiter got {:?}", promise.wait().await));
        Ok::<_, io::Error>(())
    })?;

    println!("\n4. The first error cancels the others; their cleanups still run.");
    let result: Result<(), String> = TaskGroup::scope(async |tg| {
        tg.add_task(xiio::task::try_finally(
            async {
                xiio::sleep(Duration::from_secs(10)).await;
                say(start, "never printed: this child is cancelled");
            },
            async move {
                say(start, "cleanup starts (it may await)");
                xiio::sleep(ms(20)).await;
                say(start, "cleanup done");
            },
        ));
        tg.add_task(async {
            xiio::sleep(ms(40)).await;
            Err::<(), _>("a child failed".to_string())
        });
        Ok(())
    })
    .await;
    say(
        start,
        format!("group returned {result:?} after the cleanup"),
    );

    println!("\n5. gather keeps the input order; timeout cancels by deadline.");
    let values = xiio::task::gather([60, 20, 40].map(|delay| async move {
        xiio::sleep(ms(delay)).await;
        Ok::<_, io::Error>(delay)
    }))
    .await?;
    say(start, format!("gather: {values:?}"));
    let slow = xiio::timeout(ms(30), xiio::sleep(Duration::from_secs(10))).await;
    say(
        start,
        format!("timeout of a 10 s sleep after 30 ms: {slow:?}"),
    );
    let fast = xiio::timeout(ms(30), async { "in time" }).await;
    say(start, format!("timeout of a quick future: {fast:?}"));

    println!("\n6. try_join! and select! for futures of different types; race and cancel.");
    let (n, text) = xiio::try_join!(
        async {
            xiio::sleep(ms(20)).await;
            Ok::<_, io::Error>(1)
        },
        async { Ok(String::from("two")) },
    )?;
    say(start, format!("try_join!: ({n}, {text:?})"));
    let winner = xiio::select! {
        line = async {
            xiio::sleep(ms(30)).await;
            "a line"
        } => format!("read {line:?}"),
        () = xiio::sleep(ms(10)) => String::from("timed out first"),
    };
    say(start, format!("select!: {winner}"));
    // A heartbeat that would run for ever stops when the work is done.
    let beats = std::cell::Cell::new(0);
    xiio::task_group!(|tg| {
        tg.add_background(async {
            loop {
                xiio::sleep(ms(10)).await;
                beats.set(beats.get() + 1);
            }
        });
        xiio::sleep(ms(35)).await; // the work
        Ok::<_, io::Error>(())
    })?;
    say(
        start,
        format!(
            "a background heartbeat beat {} times, then was cancelled",
            beats.get()
        ),
    );
    let jobs = (0..6).map(|i| async move {
        xiio::sleep(ms(10)).await;
        Ok::<_, io::Error>(i * i)
    });
    let squares = xiio::task::gather_limit(jobs, 2).await?;
    say(start, format!("gather_limit, 2 at a time: {squares:?}"));

    println!(
        "\n7. Futures of other crates (here async-channel) run too, woken from other threads."
    );
    let (tx, rx) = xiio::sync::channel::bounded(1);
    std::thread::spawn(move || {
        std::thread::sleep(ms(20));
        let _ = tx.send_blocking("hello from a std thread");
    });
    say(start, format!("received {:?}", rx.recv().await));

    println!("\n8. Blocking calls run in threads, processes on a pidfd; both are awaited.");
    let (sum, output) = xiio::task_group!(|tg| {
        let sum = tg.add_task(async {
            Ok(xiio::thread::run_blocking(|| {
                std::thread::sleep(ms(50)); // a blocking call
                (1..=1000u64).sum::<u64>()
            })
            .await)
        });
        let mut echo = Command::new("sh");
        echo.args(["-c", "sleep 0.05; echo hello from a child process"])
            .stdout(Stdio::piped());
        let output = xiio::process::run_process(&mut echo).await?;
        Ok::<_, io::Error>((sum, output))
    })?;
    say(
        start,
        format!(
            "thread computed {:?}; child printed {:?}",
            sum.take(),
            String::from_utf8_lossy(&output.stdout).trim()
        ),
    );
    let stuck = xiio::timeout(
        ms(50),
        xiio::process::run_process(Command::new("sleep").arg("10")),
    )
    .await;
    say(
        start,
        format!("a 10 s child under a 50 ms timeout: {stuck:?} (killed and reaped)"),
    );

    Ok(())
}
