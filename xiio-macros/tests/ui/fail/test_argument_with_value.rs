#[xiio::test(mock_clock = true)]
async fn checks_things() {}

fn main() {}
