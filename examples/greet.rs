//! The README's usage example: read two names from stdin, then greet both
//! concurrently, each after a sleep proportional to its length, all under a
//! 10 s timeout.
//!
//! ```text
//! printf 'Ada\nGrace\n' | cargo run --example greet
//! ```
//!
//! Standard input and output are xiio's futures-io streams: reading waits
//! on the reactor, not the thread, and the terminal or pipe is never
//! switched to non-blocking mode (which would outlive the program, as the
//! shell shares it).

use std::io;
use std::time::Duration;

use futures::StreamExt;
use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Greets `name` after 100 ms per letter.
async fn greet(name: &str) -> io::Result<()> {
    xiio::sleep(Duration::from_millis(100) * name.len() as u32).await;
    let line = format!("Hello, {name}!\n");
    xiio::io::stdout().write_all(line.as_bytes()).await
}

#[xiio::main]
async fn main() -> io::Result<()> {
    let mut stdout = xiio::io::stdout();
    let mut lines = BufReader::new(xiio::io::stdin()).lines();
    xiio::timeout(Duration::from_secs(10), async {
        stdout.write_all(b"Your name?\n").await?;
        let first = lines.next().await.transpose()?.unwrap_or_default();
        stdout.write_all(b"And your friend's?\n").await?;
        let second = lines.next().await.transpose()?.unwrap_or_default();
        // The shorter name is greeted first, although it was read second.
        xiio::task::gather([greet(first.trim()), greet(second.trim())]).await?;
        Ok(())
    })
    .await?
}
