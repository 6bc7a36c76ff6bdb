//! Seeded scheduling: `Builder::seed(N)` polls woken tasks in
//! a pseudo-random but reproducible order, so a test can run under many
//! interleavings and a failing seed replays exactly.

use std::cell::RefCell;
use std::process::Command;

use crate::util;

/// Code with an order-dependent bug: it assumes that the child that fills
/// the slot runs before the one that reads it, which holds in the default
/// order (the order of `add_task`) and fails in others.
fn reader_after_writer(seed: Option<u64>) -> Result<u32, &'static str> {
    let mut builder = xiio::Builder::new();
    if let Some(seed) = seed {
        builder = builder.seed(seed);
    }
    builder.run(async {
        let slot = RefCell::new(None);
        let (_, read) = xiio::task_group!(|tg| {
            let write = tg.add_task(async {
                *slot.borrow_mut() = Some(7);
            });
            let read = tg.add_task(async { slot.borrow().ok_or("read before the write") });
            Ok::<_, &str>((write, read))
        })?;
        Ok(read.take().unwrap())
    })
}

#[test]
fn seeds_find_an_order_dependent_bug_that_the_default_order_hides() {
    assert_eq!(
        reader_after_writer(None),
        Ok(7),
        "the default order hides it"
    );
    let failing: Vec<u64> = (0..64)
        .filter(|&seed| reader_after_writer(Some(seed)).is_err())
        .collect();
    assert!(!failing.is_empty(), "some seed finds the bug");
    assert!(failing.len() < 64, "some seeds keep the default order");
    // A failing seed replays exactly, every time.
    for &seed in &failing {
        assert_eq!(
            reader_after_writer(Some(seed)),
            Err("read before the write")
        );
    }
}

/// The order in which five children that finish at once ran.
async fn order_of_five() -> Vec<u32> {
    let order = RefCell::new(Vec::new());
    xiio::task_group!(|tg| {
        for i in 0..5 {
            let order = &order;
            tg.add_task(async move { order.borrow_mut().push(i) });
        }
        Ok::<_, ()>(())
    })
    .unwrap();
    order.into_inner()
}

#[xiio::test(seed = 12345)]
async fn a_test_can_pin_its_seed() {
    let order = order_of_five().await;
    // The same seed on a runtime of its own (another thread: runtimes do
    // not nest) gives the same order.
    let again = std::thread::spawn(|| xiio::Builder::new().seed(12345).run(order_of_five()))
        .join()
        .unwrap();
    assert_eq!(order, again);
}

#[test]
fn xiio_seed_runs_every_test_with_a_seed_and_a_failure_prints_it() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["task::seeded::failing_under_a_seed", "--exact", "--ignored"])
        .env("XIIO_SEED", "4242")
        .output()
        .unwrap();
    assert!(!output.status.success(), "the child test fails on purpose");
    // The harness shows a failed test's captured output with its failure.
    let all = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    assert!(
        all.contains("xiio: this test ran with seed 4242; XIIO_SEED=4242 replays it"),
        "{all}"
    );
}

#[xiio::test]
#[ignore = "run by xiio_seed_runs_every_test_..., in a child process with XIIO_SEED set; it fails on purpose"]
async fn failing_under_a_seed() {
    util::panic_with("failing on purpose");
}
