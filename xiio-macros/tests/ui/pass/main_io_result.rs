// `#[xiio::main(mock_clock)]` with `io::Result<()>`: the sleep takes no
// real time, and `xiio::time::now()` moves by exactly its duration.
use std::io;
use std::time::Duration;

#[xiio::main(mock_clock)]
pub async fn main() -> io::Result<()> {
    let start = xiio::time::now();
    xiio::sleep(Duration::from_secs(3600)).await;
    assert_eq!(xiio::time::now() - start, Duration::from_secs(3600));
    Ok(())
}
