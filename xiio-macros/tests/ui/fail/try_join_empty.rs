// try_join! needs at least one future.
#[xiio::main]
async fn main() -> std::io::Result<()> {
    let () = xiio::try_join!()?;
    Ok(())
}
