#[xiio::test(mock_clok)]
async fn checks_things() {}

fn main() {}
