//! `race`: the first future to finish wins; the others are cancelled, and
//! their cleanups awaited.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::IntoFuture;

use super::TaskGroup;

/// Runs `futs` concurrently and returns the output of the first to finish.
/// The others are cancelled at their current await point, and `race`
/// returns only once their [`try_finally`](super::try_finally) cleanups
/// have finished: nothing started by a loser outlives the race.
///
/// That is the difference from `futures::select!` and
/// `futures::future::select`, which drop the losers on the spot and do not
/// wait for their cleanups (and tokio's `select!`, which cannot run async
/// cleanups at all). Of futures that finish in the same turn, the first in
/// `futs` order wins.
///
/// # Panics
///
/// If `futs` is empty: a race needs a runner.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// xiio::Builder::new().mock_clock(true).run(async {
///     let start = xiio::time::now();
///     let ms = Duration::from_millis;
///     let winner = xiio::task::race([
///         Box::pin(async {
///             xiio::sleep(ms(100)).await;
///             "fast"
///         }) as std::pin::Pin<Box<dyn Future<Output = &str>>>,
///         Box::pin(xiio::task::try_finally(
///             async {
///                 xiio::sleep(ms(300)).await;
///                 "slow"
///             },
///             async move { xiio::sleep(ms(50)).await }, // the loser's cleanup
///         )),
///     ])
///     .await;
///     assert_eq!(winner, "fast");
///     // The winner at 100 ms, the loser's cleanup awaited: 150 ms.
///     assert_eq!(xiio::time::now() - start, ms(150));
/// });
/// ```
pub async fn race<I>(futs: I) -> <I::Item as IntoFuture>::Output
where
    I: IntoIterator,
    I::Item: IntoFuture,
{
    let winner = RefCell::new(None);
    let mut runners = 0;
    let Ok(()) = TaskGroup::scope(async |tg| {
        for fut in futs {
            let winner = &winner;
            runners += 1;
            tg.add_task(async move {
                let output = fut.await;
                let mut winner = winner.borrow_mut();
                if winner.is_none() {
                    *winner = Some(output);
                    tg.cancel(); // the others, with their cleanups
                }
            });
        }
        Ok::<_, Infallible>(())
    })
    .await;
    assert!(runners > 0, "xiio::task::race needs at least one future");
    winner
        .into_inner()
        .expect("the group ends once a runner has won")
}
