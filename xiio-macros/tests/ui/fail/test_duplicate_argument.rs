#[xiio::test(mock_clock, mock_clock)]
async fn checks_things() {}

fn main() {}
