#[xiio::main]
struct Main;

fn main() {}
