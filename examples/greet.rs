//! The README's usage example: read two names from stdin, then greet both
//! concurrently, each after a sleep proportional to its length, all under a
//! 10 s timeout.
//!
//! ```text
//! printf 'Ada\nGrace\n' | cargo run --example greet
//! ```

use std::io;
use std::time::Duration;

/// Reads one line from stdin (without its newline), `None` at end of input.
async fn read_line(pending: &mut Vec<u8>) -> io::Result<Option<String>> {
    loop {
        if let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            return Ok(Some(String::from_utf8_lossy(&line).trim().to_string()));
        }
        let mut buf = [0; 1024];
        match xiio::io::read(io::stdin(), &mut buf).await? {
            0 if pending.is_empty() => return Ok(None),
            0 => {
                return Ok(Some(
                    String::from_utf8_lossy(&std::mem::take(pending))
                        .trim()
                        .to_string(),
                ));
            }
            n => pending.extend_from_slice(&buf[..n]),
        }
    }
}

/// Greets `name` after 100 ms per letter.
async fn greet(name: &str) -> io::Result<()> {
    xiio::sleep(Duration::from_millis(100) * name.len() as u32).await;
    println!("Hello, {name}!");
    Ok(())
}

#[xiio::main]
async fn main() -> io::Result<()> {
    xiio::timeout(Duration::from_secs(10), async {
        let mut pending = Vec::new();
        println!("Your name?");
        let first = read_line(&mut pending).await?.unwrap_or_default();
        println!("And your friend's?");
        let second = read_line(&mut pending).await?.unwrap_or_default();
        // The shorter name is greeted first, although it was read second.
        xiio::task::gather([greet(&first), greet(&second)]).await?;
        Ok(())
    })
    .await?
}
