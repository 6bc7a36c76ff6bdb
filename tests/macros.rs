//! The macros at run time, through the facade, as users write them.

use std::cell::Cell;
use std::io;
use std::time::Duration;

#[xiio::test]
async fn test_runs_an_async_body() {
    let ran = Cell::new(false);
    xiio::sleep(Duration::from_millis(1)).await;
    ran.set(true);
    assert!(ran.get());
}

#[xiio::test]
async fn test_returns_a_result() -> io::Result<()> {
    xiio::sleep(Duration::from_millis(1)).await;
    Ok(())
}

#[xiio::test]
#[should_panic(expected = "other attributes are kept")]
async fn test_keeps_should_panic() {
    xiio::sleep(Duration::from_millis(1)).await;
    panic!("other attributes are kept");
}

#[xiio::test(mock_clock)]
async fn mock_clock_advances_exactly_by_the_sleep() {
    let start = xiio::now();
    xiio::sleep(Duration::from_millis(100)).await;
    assert_eq!(xiio::now() - start, Duration::from_millis(100));
}

#[xiio::test(mock_clock)]
async fn task_group_borrows_a_local() -> io::Result<()> {
    let names = vec![String::from("ada"), String::from("grace")];
    let finished = Cell::new(0);

    let total = xiio::task_group!(|tg| -> io::Result<usize> {
        for name in &names {
            let finished = &finished;
            tg.add_task(async move {
                xiio::sleep(Duration::from_millis(10)).await;
                finished.set(finished.get() + name.len());
                Ok(())
            });
        }
        Ok(names.len())
    })?;

    // The group ended after both children: each borrowed `names` and
    // `finished`, locals of the test.
    assert_eq!(total, 2);
    assert_eq!(finished.get(), "ada".len() + "grace".len());
    Ok(())
}

fn stop() -> Result<(), &'static str> {
    Err("stop")
}

#[xiio::test(mock_clock)]
async fn task_group_question_mark_ends_the_group() {
    let child_finished = Cell::new(false);
    let result = xiio::task_group!(|tg| -> Result<(), &'static str> {
        tg.add_task(async {
            xiio::sleep(Duration::from_secs(1)).await;
            child_finished.set(true);
            Ok(())
        });
        xiio::sleep(Duration::from_millis(10)).await;
        stop()?;
        Ok(())
    });
    assert_eq!(result, Err("stop"));
    assert!(!child_finished.get(), "the child was cancelled");
}
