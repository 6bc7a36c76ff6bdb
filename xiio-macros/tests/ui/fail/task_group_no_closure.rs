#[xiio::main]
async fn main() -> std::io::Result<()> {
    xiio::task_group!(tg => { Ok(()) })?;
    Ok(())
}
