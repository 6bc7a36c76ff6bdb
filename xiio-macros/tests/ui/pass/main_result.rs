// `#[xiio::main]` keeps the return type, and `?` works in the body.
use std::error::Error;
use std::time::Duration;

async fn parse_after_a_nap(text: &str) -> Result<u32, std::num::ParseIntError> {
    xiio::sleep(Duration::from_millis(1)).await;
    text.parse()
}

#[xiio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let n = parse_after_a_nap("42").await?;
    assert_eq!(n, 42);
    Ok(())
}
