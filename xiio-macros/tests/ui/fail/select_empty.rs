// select! needs at least one arm.
#[xiio::main]
async fn main() {
    xiio::select! {};
}
