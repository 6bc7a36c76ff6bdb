// A type error in the body is reported on the user's code.
#[xiio::main]
async fn main() -> std::io::Result<()> {
    42
}
