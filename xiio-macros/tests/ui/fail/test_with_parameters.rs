#[xiio::test]
async fn checks_things(n: u32) {}

fn main() {}
