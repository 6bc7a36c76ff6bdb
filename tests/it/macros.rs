//! The macros at run time, through the facade, as users write them,
//! among them the test that README.md's "Testing with the mock clock"
//! shows.

use std::cell::Cell;
use std::io;
use std::time::Duration;

use crate::util::{Log, ms, run_mock, since};

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
    let start = xiio::time::now();
    xiio::sleep(Duration::from_millis(100)).await;
    assert_eq!(xiio::time::now() - start, Duration::from_millis(100));
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

#[xiio::test(mock_clock)]
async fn sleeps_overlap() {
    let start = xiio::time::now();
    xiio::task::gather([100, 100].map(|ms| async move {
        xiio::sleep(Duration::from_millis(ms)).await;
        Ok::<_, ()>(())
    }))
    .await
    .unwrap();
    assert_eq!(xiio::time::now() - start, Duration::from_millis(100));
}

#[test]
fn join_of_three_types_returns_a_tuple() {
    run_mock(async {
        let start = xiio::time::now();
        let name = String::from("xiio"); // borrowed by a future
        let (n, text, flag) = xiio::try_join!(
            async {
                xiio::sleep(ms(100)).await;
                Ok::<_, io::Error>(1u8)
            },
            async {
                xiio::sleep(ms(50)).await;
                Ok(format!("{name}!"))
            },
            async { Ok(true) },
        )
        .unwrap();
        assert_eq!((n, text.as_str(), flag), (1, "xiio!", true));
        assert_eq!(since(start), ms(100), "they ran concurrently");
    });
}

/// As with `futures::try_join!`, a temporary in an argument lives until
/// the join has ended (found writing examples/supervisor.rs: E0716).
#[test]
fn join_arguments_may_borrow_temporaries() {
    async fn len(text: &str) -> Result<usize, io::Error> {
        xiio::sleep(ms(10)).await;
        Ok(text.len())
    }
    let lens =
        run_mock(async { xiio::try_join!(len(&format!("{}", 123)), len(&String::from("four"))) });
    assert_eq!(lens.unwrap(), (3, 4));
}

#[test]
fn join_returns_the_first_error_and_cancels_the_rest_with_their_cleanups() {
    let log = Log::new();
    run_mock(async {
        let start = xiio::time::now();
        let log2 = log.clone();
        let result: Result<((), u32), &str> = xiio::try_join!(
            xiio::task::try_finally(
                async {
                    xiio::sleep(ms(1000)).await;
                    Ok(())
                },
                async move {
                    xiio::sleep(ms(20)).await;
                    log2.push("cleanup");
                }
            ),
            async {
                xiio::sleep(ms(100)).await;
                Err("failed at 100 ms")
            },
        );
        assert_eq!(result, Err("failed at 100 ms"));
        assert_eq!(since(start), ms(120));
    });
    assert_eq!(log.events(), ["cleanup"]);
}

#[test]
fn select_of_three_types_runs_the_winners_arm_after_the_losers_cleanups() {
    let log = Log::new();
    run_mock(async {
        let start = xiio::time::now();
        let log2 = log.clone();
        let outcome: String = xiio::select! {
            n = async {
                xiio::sleep(ms(300)).await;
                7u32
            } => format!("number {n}"),
            text = xiio::task::try_finally(
                async {
                    xiio::sleep(ms(200)).await;
                    "text"
                },
                async move {
                    xiio::sleep(ms(50)).await;
                    log2.push("loser cleaned up");
                }
            ) => format!("text {text}"),
            () = xiio::sleep(ms(100)) => {
                log.push("arm runs");
                String::from("timeout")
            },
        };
        assert_eq!(outcome, "timeout");
        // The winner at 100 ms; the 200 ms loser's cleanup of 50 ms ran
        // first.
        assert_eq!(since(start), ms(150));
    });
    assert_eq!(log.events(), ["loser cleaned up", "arm runs"]);
}

#[test]
fn select_arm_bindings_have_their_types_inside_the_arm() {
    // A method call on the binding, and `?` followed by one, need the
    // binding's type while the arm is checked (with the futures boxed by an
    // `as` cast they had none yet: "type annotations needed").
    fn run() -> std::io::Result<String> {
        run_mock(async {
            let reply = async { Ok::<_, std::io::Error>("pong") };
            let text = xiio::select! {
                line = reply => line?.to_uppercase(),
                () = xiio::sleep(ms(10)) => String::from("timed out"),
            };
            let length = xiio::select! {
                text = async { String::from("four") } => text.len(),
                () = xiio::sleep(ms(10)) => 0,
            };
            Ok(format!("{text} {length}"))
        })
    }
    assert_eq!(run().unwrap(), "PONG 4");
}

#[test]
fn select_arms_may_use_question_mark_and_return() {
    fn run() -> Result<u32, String> {
        run_mock(async {
            let value = xiio::select! {
                r = async { Err::<u32, _>(String::from("boom")) } => r?,
                () = xiio::sleep(ms(10)) => return Ok(0),
            };
            Ok(value)
        })
    }
    assert_eq!(run(), Err(String::from("boom")));
}
