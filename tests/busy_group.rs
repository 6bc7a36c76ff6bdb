//! A long-running busy group keeps flat memory (DESIGN §4 property 5),
//! also when it holds more ready children than one turn of the run loop
//! polls. Alone in its test binary, so the process's memory is its own.

mod util;

use std::cell::Cell;

use util::Spin;

/// This process's resident memory, in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn a_group_with_more_ready_children_than_a_turn_polls_keeps_flat_memory() {
    xiio::run(async {
        let polls = Cell::new(0);
        xiio::task_group!(|tg| {
            // 300 children that are always ready: more than one turn's
            // budget (256 polls).
            let spinners: Vec<_> = (0..300).map(|_| tg.add_task(Spin(&polls))).collect();
            let mut before = 0;
            while polls.get() < 3_000_000 {
                if before == 0 && polls.get() > 300_000 {
                    before = rss(); // after warm-up
                }
                xiio::yield_now().await;
            }
            let grown = rss().saturating_sub(before);
            // Before the fix: about 8 bytes per child poll, 20 MB here.
            assert!(
                grown < 4 << 20,
                "memory grew by {grown} bytes in 2.7M child polls"
            );
            spinners.iter().for_each(|s| s.cancel());
            Ok::<_, std::io::Error>(())
        })
    })
    .unwrap();
}
