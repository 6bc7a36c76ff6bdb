#[xiio::test]
#[test]
async fn checks_things() {}

fn main() {}
