//! Panic containment: `catch_panic` is a boundary a panic does not cross.

use std::cell::Cell;
use std::io;

use xiio::task::{catch_panic, try_finally};

use crate::util::{Log, ms, panic_message, since};

/// The server case: one request's handler panics; its sibling, in flight
/// at that moment, completes, and the panic comes back as a value that
/// carries its message.
#[xiio::test(mock_clock)]
async fn a_panicking_child_behind_catch_panic_leaves_its_sibling_running() {
    let start = xiio::time::now();
    let (crashed, served) = xiio::task_group!(|tg| {
        let crashed = tg.add_task(async {
            Ok(catch_panic(async {
                xiio::sleep(ms(10)).await;
                let empty: Vec<u32> = Vec::new();
                empty[3]
            })
            .await)
        });
        let served = tg.add_task(async {
            xiio::sleep(ms(50)).await; // still in flight at the panic
            Ok("served")
        });
        Ok::<_, io::Error>((crashed, served))
    })
    .unwrap();
    assert_eq!(since(start), ms(50));
    assert_eq!(served.take(), Some("served"));
    let panicked = crashed.take().unwrap().unwrap_err();
    assert!(
        panicked.message().starts_with("index out of bounds"),
        "{panicked}"
    );
    assert_eq!(
        format!("{panicked}"),
        format!("panicked: {}", panicked.message())
    );
    let payload = panicked.into_panic();
    assert!(panic_message(&*payload).starts_with("index out of bounds"));
}

/// Without the boundary the same panic cancels the sibling and reaches the
/// parent: containment is a choice, not the default.
#[test]
fn without_catch_panic_the_panic_cancels_the_sibling_and_reaches_the_parent() {
    let served = Cell::new(false);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::util::run_mock(async {
            xiio::task_group!(|tg| {
                tg.add_task(async {
                    xiio::sleep(ms(10)).await;
                    panic!("a bug in one handler");
                });
                tg.add_task(async {
                    xiio::sleep(ms(50)).await;
                    served.set(true);
                });
                Ok::<_, io::Error>(())
            })
        })
    }));
    let payload = result.unwrap_err();
    assert_eq!(panic_message(&*payload), "a bug in one handler");
    assert!(!served.get());
}

/// A whole group behind the boundary: its children are cancelled, their
/// cleanups run, and only then does the panic come out, as a value.
#[xiio::test(mock_clock)]
async fn a_group_behind_catch_panic_runs_its_cleanups_before_the_panic_is_a_value() {
    let log = Log::new();
    let caught = catch_panic(async {
        xiio::task_group!(|tg| {
            tg.add_task(try_finally(
                async {
                    xiio::sleep(ms(100)).await;
                    Ok::<_, io::Error>(())
                },
                {
                    let log = log.clone();
                    async move {
                        xiio::sleep(ms(5)).await;
                        log.push("cleanup done");
                    }
                },
            ));
            tg.add_task(async {
                xiio::sleep(ms(10)).await;
                panic!("connection handler bug");
            });
            Ok::<_, io::Error>(())
        })
    })
    .await;
    let panicked = caught.unwrap_err();
    assert_eq!(panicked.message(), "connection handler bug");
    assert_eq!(log.events(), ["cleanup done"]);
    // And the runtime goes on.
    xiio::sleep(ms(1)).await;
}

/// A payload that is not a string still comes back, with a placeholder
/// message.
#[xiio::test]
async fn a_payload_that_is_not_a_string_is_kept() {
    let caught = catch_panic(async { std::panic::panic_any(42_u32) }).await;
    let panicked = caught.unwrap_err();
    assert_eq!(panicked.message(), "Box<dyn Any>");
    assert_eq!(panicked.into_panic().downcast_ref::<u32>(), Some(&42));
}

/// The error converts into `io::Error` for handlers that return
/// `io::Result`.
#[xiio::test]
async fn panicked_converts_into_an_io_error() {
    let caught = catch_panic(async { panic!("boom") }).await;
    let err = io::Error::other(caught.unwrap_err());
    assert_eq!(err.to_string(), "panicked: boom");
}
