// A child must return `Result<T, E>` (or `()`, or never return): the error
// says so and how to fix it.
#[xiio::main]
async fn main() -> std::io::Result<()> {
    xiio::task_group!(|tg| {
        tg.add_task(async { 42 });
        Ok(())
    })
}
