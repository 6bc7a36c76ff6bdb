// `task_group!` with a child that borrows a local, `?` in the body, a typed
// parameter, `move`, and `_`.
use std::cell::Cell;
use std::io;
use std::time::Duration;

async fn read_number(text: &str) -> io::Result<u32> {
    text.parse()
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
}

#[xiio::main(mock_clock)]
async fn main() -> io::Result<()> {
    let start = xiio::time::now();
    let children_done = Cell::new(0);

    // The child runs while the body sleeps; `?` in the body would end the
    // group with its error.
    let number = xiio::task_group!(|tg: &xiio::TaskGroup<'_, '_, io::Error>| {
        tg.add_task(async {
            xiio::sleep(Duration::from_millis(50)).await;
            children_done.set(children_done.get() + 1);
            Ok(())
        });
        let number = read_number("7").await?;
        xiio::sleep(Duration::from_millis(100)).await;
        Ok(number)
    })?;
    assert_eq!(number, 7);
    assert_eq!(children_done.get(), 1);
    assert_eq!(xiio::time::now() - start, Duration::from_millis(100));

    // An error from `?` in the body is the group's result.
    let failed = xiio::task_group!(|tg| -> io::Result<u32> {
        tg.add_task(async {
            xiio::sleep(Duration::from_secs(10)).await;
            children_done.set(children_done.get() + 1);
            Ok(())
        });
        let number = read_number("seven").await?;
        Ok(number)
    });
    assert_eq!(failed.unwrap_err().kind(), io::ErrorKind::InvalidData);
    assert_eq!(children_done.get(), 1, "the child was cancelled");

    // `move` and `_`.
    let owned = String::from("moved in");
    let length = xiio::task_group!(move |_| -> io::Result<usize> { Ok(owned.len()) })?;
    assert_eq!(length, 8);
    Ok(())
}
