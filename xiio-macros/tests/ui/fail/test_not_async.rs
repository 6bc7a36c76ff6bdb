#[xiio::test]
fn checks_things() {}

fn main() {}
