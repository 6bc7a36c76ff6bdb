// An arm is `pattern = future => expression`: here the `pattern =` is
// missing.
#[xiio::main]
async fn main() {
    xiio::select! {
        xiio::sleep(std::time::Duration::from_secs(1)) => (),
    };
}
