#[xiio::main]
fn main() {
    println!("no async");
}
