// `#[xiio::main]` on `async fn main()` without a return type.
use std::cell::Cell;
use std::time::Duration;

#[xiio::main]
async fn main() {
    let done = Cell::new(false);
    xiio::sleep(Duration::from_millis(1)).await;
    done.set(true);
    assert!(done.get());
}
