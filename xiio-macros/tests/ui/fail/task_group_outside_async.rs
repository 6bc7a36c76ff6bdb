fn main() -> std::io::Result<()> {
    xiio::task_group!(|_tg| Ok(()))?;
    Ok(())
}
