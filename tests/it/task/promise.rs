//! `xiio::sync::Promise`: one task sets a value, any number await it.
//!
//! The Python original's tests, Core: "promise: awaiting a set value returns it; a
//! promise carrying an error gives the error; awaiting an unset promise
//! waits until it is set."

use std::io;
use std::rc::Rc;

use xiio::TaskGroup;
use xiio::sync::Promise;

use crate::util::{ms, run_mock, since};

#[xiio::test(mock_clock)]
async fn promise_awaiting_a_set_value_returns_it() {
    let promise = Promise::new();
    assert!(!promise.is_set());
    assert_eq!(promise.get(), None);
    promise.set(42).unwrap();
    assert!(promise.is_set());
    let start = xiio::time::now();
    assert_eq!(promise.wait().await, 42);
    // Awaiting again, or through `wait`, gives the value again (a clone).
    assert_eq!(promise.wait().await, 42);
    assert_eq!(promise.wait().await, 42);
    assert_eq!(promise.get(), Some(42));
    assert_eq!(since(start), ms(0), "a set promise does not wait");
}

#[xiio::test(mock_clock)]
async fn promise_carrying_an_error_gives_the_error() {
    let promise: Promise<Result<u32, Rc<io::Error>>> = Promise::new();
    promise
        .set(Err(Rc::new(io::Error::other("disk on fire"))))
        .unwrap();
    let error = promise.wait().await.unwrap_err();
    assert_eq!(error.to_string(), "disk on fire");
    assert_eq!(error.kind(), io::ErrorKind::Other);
}

#[xiio::test(mock_clock)]
async fn promise_carrying_an_error_set_later_fails_the_awaiting_body() {
    let promise: Promise<Result<u32, Rc<io::Error>>> = Promise::new();
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |tg| {
        tg.add_task(async {
            xiio::sleep(ms(100)).await;
            promise
                .set(Err(Rc::new(io::Error::other("late failure"))))
                .unwrap();
        });
        let value = promise.wait().await?;
        Ok::<_, Rc<io::Error>>(value)
    })
    .await;
    assert_eq!(result.unwrap_err().to_string(), "late failure");
    assert_eq!(since(start), ms(100));
}

#[xiio::test(mock_clock)]
async fn promise_awaiting_an_unset_promise_waits_until_it_is_set() {
    let promise = Promise::new();
    let start = xiio::time::now();
    let (value, elapsed, others) = TaskGroup::scope(async |tg| {
        let setter = promise.clone();
        tg.add_task(async move {
            xiio::sleep(ms(100)).await;
            setter.set("ready").unwrap();
        });
        // Other waiters, in children, get the value at the same moment.
        let others: Vec<_> = (0..3)
            .map(|_| {
                tg.add_task(async {
                    let value = promise.wait().await;
                    Ok((value, since(start)))
                })
            })
            .collect();
        let value = promise.wait().await;
        Ok::<_, ()>((value, since(start), others))
    })
    .await
    .unwrap();
    assert_eq!(value, "ready");
    assert_eq!(elapsed, ms(100));
    for other in others {
        assert_eq!(other.take(), Some(("ready", ms(100))));
    }
}

#[test]
fn promise_set_twice_gives_the_value_back() {
    let promise = Promise::new();
    assert_eq!(promise.set(String::from("first")), Ok(()));
    assert_eq!(
        promise.set(String::from("second")),
        Err(String::from("second"))
    );
    assert_eq!(promise.get().as_deref(), Some("first"));
}

#[test]
fn promise_clones_share_the_value() {
    let promise = Promise::new();
    let clone = promise.clone();
    clone.set(5).unwrap();
    assert!(promise.is_set());
    assert_eq!(promise.get(), Some(5));
    assert_eq!(promise.set(6), Err(6), "a clone set it already");
}

#[xiio::test(mock_clock)]
async fn promise_waiter_cancelled_before_the_set_does_not_disturb_the_others() {
    let promise = Promise::new();
    let start = xiio::time::now();
    let (timed_out, value) = TaskGroup::scope(async |tg| {
        // This waiter gives up after 10 ms (it is dropped).
        let timed_out = tg.add_task(async { Ok(xiio::timeout(ms(10), promise.wait()).await) });
        let setter = promise.clone();
        tg.add_task(async move {
            xiio::sleep(ms(50)).await;
            setter.set(7).unwrap();
        });
        let value = promise.wait().await;
        Ok::<_, ()>((timed_out, (value, since(start))))
    })
    .await
    .unwrap();
    assert_eq!(timed_out.take(), Some(Err(xiio::time::TimeoutError)));
    assert_eq!(value, (7, ms(50)));
}

#[test]
fn promise_is_an_ordinary_future_on_other_executors() {
    // A promise needs no xiio reactor: it runs on futures' executor too.
    let promise = Promise::new();
    promise.set(3).unwrap();
    assert_eq!(futures::executor::block_on(promise.wait()), 3);
}

#[test]
fn a_clone_of_a_promise_waits_for_the_value_set_through_another() {
    run_mock(async {
        let promise = xiio::sync::Promise::new();
        let setter = promise.clone();
        let value = xiio::task_group!(|tg| {
            tg.add_task(async move {
                xiio::sleep(ms(10)).await;
                setter.set(42).unwrap();
            });
            Ok::<_, io::Error>(promise.wait().await)
        })
        .unwrap();
        assert_eq!(value, 42);
    });
}
