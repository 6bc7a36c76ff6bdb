//! Regressions: runtime bugs found by this suite, one test each, named after
//! the behaviour that broke.

mod util;

use std::cell::Cell;
use std::convert::Infallible;
use std::time::Duration;

use xiio::TaskGroup;

use util::{ms, since, yield_now};

/// A watchdog far beyond any test: on the mock clock, a lost wake-up makes
/// time jump here instead of hanging the test.
const WATCHDOG: Duration = Duration::from_secs(3600);

// Regression: a poll budget that ended a group's poll in the middle of its
// woken keys once lost the leftover keys' positions on the next poll ("index
// out of bounds", or skipped children: lost wake-ups).
#[xiio::test(mock_clock)]
async fn a_group_with_more_ready_children_than_one_turn_polls_all_of_them() {
    // More children ready at the same moment than the run loop polls in one
    // turn: the rest must be polled in the next turns, none skipped.
    const N: u64 = 1_000;
    let polled = Cell::new(0u64);
    let start = xiio::now();
    let sum = xiio::timeout(
        WATCHDOG,
        TaskGroup::scope(async |tg| {
            let tasks: Vec<_> = (0..N)
                .map(|i| {
                    let polled = &polled;
                    tg.add_task(async move {
                        polled.set(polled.get() + 1);
                        yield_now().await;
                        Ok(i)
                    })
                })
                .collect();
            Ok::<_, Infallible>(tasks)
        }),
    )
    .await
    .expect("no wake-up was lost")
    .unwrap()
    .iter()
    .map(|t| t.take().unwrap())
    .sum::<u64>();
    assert_eq!(sum, N * (N - 1) / 2);
    assert_eq!(polled.get(), N);
    assert_eq!(since(start), ms(0));
}

// Regression: the same, with the budget spent inside nested groups.
#[xiio::test(mock_clock)]
async fn nested_groups_with_more_ready_children_than_one_turn_poll_all_of_them() {
    let done = Cell::new(0u32);
    let start = xiio::now();
    xiio::timeout(
        WATCHDOG,
        TaskGroup::scope(async |outer| {
            for _ in 0..10 {
                let done = &done;
                outer.add_task(async move {
                    TaskGroup::scope(async |inner| {
                        for _ in 0..300 {
                            inner.add_task(async move {
                                yield_now().await;
                                xiio::sleep(ms(1)).await;
                                yield_now().await;
                                done.set(done.get() + 1);
                            });
                        }
                        Ok::<_, Infallible>(())
                    })
                    .await
                });
            }
            Ok::<_, Infallible>(())
        }),
    )
    .await
    .expect("no wake-up was lost")
    .unwrap();
    assert_eq!(done.get(), 3_000);
    assert_eq!(since(start), ms(1));
}
