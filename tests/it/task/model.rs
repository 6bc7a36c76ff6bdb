//! Property tests: random trees of task groups whose children sleep,
//! succeed, fail, panic, time out, hold `try_finally` cleanups that sleep,
//! and hold groups of their own, run on the mock clock and compared with a
//! model of what xiio promises:
//!
//! - the outcome (value, first error, or first panic) is the one the model
//!   predicts: the first failure in virtual time, except that a panic held
//!   by a cancelled `try_finally` (or a cancelled failing group) wins over
//!   an error: no panic is ever lost;
//! - the virtual time the run takes is what the schedule implies (children
//!   overlap, cancellation waits for cleanups, timeouts cut at deadlines);
//! - every cleanup whose `try_finally` started ran exactly once, and none
//!   was still running (or ran at all) after the tree's group returned.
//!
//! Every duration in a tree is a distinct power of two (ms), so no two
//! events of a run happen at the same virtual instant: the order of events
//! is fixed by the schedule alone, and each case also runs under seeded
//! scheduling and must give the same result. The cases come from a fixed
//! generator (a xorshift with fixed seeds), so CI runs the same 300 trees
//! every time; a failing case prints its seed and tree.

use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Duration;

use crate::util::{Log, Rng};

/// One node of a tree.
#[derive(Clone, Debug)]
enum Node {
    /// Sleeps, then succeeds.
    Sleep(u64),
    /// Sleeps, then returns an error with this id.
    Fail(u64, u32),
    /// Sleeps, then panics with this id.
    Panic(u64, u32),
    /// A `try_finally` whose cleanup sleeps this long.
    Cleanup(Box<Node>, u64),
    /// A timeout of this long around the node; a timeout is not a failure.
    Timeout(u64, Box<Node>),
    /// A task group whose children are these nodes.
    Group(Vec<Node>),
}

/// How a node ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Err(u32),
    Panic(u32),
}

impl Outcome {
    fn failed(self) -> bool {
        self != Outcome::Ok
    }
}

// ---------------------------------------------------------------------------
// The model.
// ---------------------------------------------------------------------------

/// When `node`, started at `start` and never cancelled, ends, and how.
fn run_model(node: &Node, start: u64) -> (u64, Outcome) {
    match node {
        Node::Sleep(d) => (start + d, Outcome::Ok),
        Node::Fail(d, id) => (start + d, Outcome::Err(*id)),
        Node::Panic(d, id) => (start + d, Outcome::Panic(*id)),
        // The cleanup runs after the body however it ended (a panic goes
        // on once the cleanup is done).
        Node::Cleanup(body, c) => {
            let (end, outcome) = run_model(body, start);
            (end + c, outcome)
        }
        Node::Timeout(d, body) => {
            let deadline = start + d;
            let (end, outcome) = run_model(body, start);
            if end < deadline {
                (end, outcome)
            } else {
                // Cut at the deadline: not a failure, unless the body
                // held a panic, which goes on once its cleanups are done.
                let (end, panic) = cancel_model(body, start, deadline);
                (end, panic.map_or(Outcome::Ok, Outcome::Panic))
            }
        }
        Node::Group(children) => {
            let ends: Vec<_> = children.iter().map(|c| run_model(c, start)).collect();
            match ends
                .iter()
                .filter(|(_, o)| o.failed())
                .min_by_key(|(e, _)| *e)
            {
                None => (
                    ends.iter().map(|(e, _)| *e).max().unwrap_or(start),
                    Outcome::Ok,
                ),
                Some(&(failed_at, outcome)) => {
                    // The others are cancelled at that moment (in the order
                    // they were added); the group waits for their cleanups.
                    // A panic one of them held wins over an error.
                    let cancelled: Vec<_> = children
                        .iter()
                        .zip(&ends)
                        .filter(|(_, (e, _))| *e > failed_at)
                        .map(|(c, _)| cancel_model(c, start, failed_at))
                        .collect();
                    let end = cancelled.iter().map(|(e, _)| *e).fold(failed_at, u64::max);
                    let held = cancelled.iter().find_map(|(_, panic)| *panic);
                    match (outcome, held) {
                        (Outcome::Err(_), Some(panic)) => (end, Outcome::Panic(panic)),
                        _ => (end, outcome),
                    }
                }
            }
        }
    }
}

/// When the cleanups of `node`, started at `start` and cancelled at `t`
/// (before it ended), are all done, and the first panic the cancellation
/// passes on: one that a `try_finally` held while its cleanup ran, or that
/// a failing group held while it waited for its cleanups.
fn cancel_model(node: &Node, start: u64, t: u64) -> (u64, Option<u32>) {
    match node {
        Node::Sleep(_) | Node::Fail(..) | Node::Panic(..) => (t, None),
        Node::Cleanup(body, c) => {
            let (body_end, outcome) = run_model(body, start);
            if t < body_end {
                // The body's own cleanups and this one run side by side.
                let (end, panic) = cancel_model(body, start, t);
                (end.max(t + c), panic)
            } else {
                // Already cleaning up: it goes on, and a panic of the body
                // that it held goes on too.
                let panic = match outcome {
                    Outcome::Panic(id) => Some(id),
                    _ => None,
                };
                (body_end + c, panic)
            }
        }
        Node::Timeout(d, body) => {
            let deadline = start + d;
            let (body_end, _) = run_model(body, start);
            if t < deadline.min(body_end) {
                cancel_model(body, start, t)
            } else {
                cancel_model(body, start, deadline) // fired: its cleanups go on
            }
        }
        Node::Group(children) => {
            let ends: Vec<_> = children.iter().map(|c| run_model(c, start)).collect();
            let failure = ends
                .iter()
                .filter(|(_, o)| o.failed())
                .map(|(e, _)| *e)
                .min();
            match failure {
                // Already cancelling its children: their cleanups go on, and
                // the panic it fails with goes on too.
                Some(failed_at) if failed_at <= t => match run_model(node, start) {
                    (end, Outcome::Panic(id)) => (end, Some(id)),
                    (end, _) => (end, None),
                },
                _ => {
                    let cancelled: Vec<_> = children
                        .iter()
                        .zip(&ends)
                        .filter(|(_, (e, _))| *e > t)
                        .map(|(c, _)| cancel_model(c, start, t))
                        .collect();
                    let end = cancelled.iter().map(|(e, _)| *e).fold(t, u64::max);
                    (end, cancelled.iter().find_map(|(_, panic)| *panic))
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The real thing.
// ---------------------------------------------------------------------------

type Boxed<'a> = Pin<Box<dyn Future<Output = Result<(), u32>> + 'a>>;

/// Runs `node` on xiio, logging each cleanup's start and end.
fn run(node: &Node, log: &Log) -> Boxed<'static> {
    let ms = Duration::from_millis;
    let log = log.clone();
    match node.clone() {
        Node::Sleep(d) => Box::pin(async move {
            xiio::sleep(ms(d)).await;
            Ok(())
        }),
        Node::Fail(d, id) => Box::pin(async move {
            xiio::sleep(ms(d)).await;
            Err(id)
        }),
        Node::Panic(d, id) => Box::pin(async move {
            xiio::sleep(ms(d)).await;
            std::panic::panic_any(id)
        }),
        Node::Cleanup(body, c) => {
            let body = run(&body, &log);
            Box::pin(async move {
                let (started, cleanup_log) = (log.clone(), log.clone());
                xiio::task::try_finally(
                    async move {
                        started.push("try_finally started");
                        body.await
                    },
                    async move {
                        cleanup_log.push("cleanup started");
                        xiio::sleep(ms(c)).await;
                        cleanup_log.push("cleanup ended");
                    },
                )
                .await
            })
        }
        Node::Timeout(d, body) => {
            let body = run(&body, &log);
            Box::pin(async move { xiio::timeout(ms(d), body).await.unwrap_or(Ok(())) })
        }
        Node::Group(children) => {
            let children: Vec<_> = children.iter().map(|c| run(c, &log)).collect();
            Box::pin(async move {
                xiio::TaskGroup::scope(async |tg| {
                    for child in children {
                        tg.add_task(child);
                    }
                    Ok(())
                })
                .await
            })
        }
    }
}

/// Runs the tree on the mock clock (with a seed, if given): its outcome,
/// its virtual duration in ms, and the log.
fn run_real(tree: &Node, seed: Option<u64>) -> (Outcome, u64, Log) {
    let log = Log::new();
    let fut = run(tree, &log);
    let mut builder = xiio::Builder::new().mock_clock(true);
    if let Some(seed) = seed {
        builder = builder.seed(seed);
    }
    builder.run(async {
        let start = xiio::time::now();
        // A panic of the tree comes out of it after every cleanup (the
        // group resumes it then): caught here, its time is known too.
        let result = futures::FutureExt::catch_unwind(AssertUnwindSafe(fut)).await;
        let elapsed = (xiio::time::now() - start).as_millis() as u64;
        // Anything logged after this ran after its group returned.
        log.push("tree returned");
        let outcome = match result {
            Ok(Ok(())) => Outcome::Ok,
            Ok(Err(id)) => Outcome::Err(id),
            Err(payload) => {
                Outcome::Panic(*payload.downcast::<u32>().expect("a panic of the tree"))
            }
        };
        (outcome, elapsed, log)
    })
}

// ---------------------------------------------------------------------------
// Random trees.
// ---------------------------------------------------------------------------

/// Hands out distinct powers of two, so that no two sums of durations on
/// different paths are equal.
struct Durations {
    free: Vec<u64>,
}

impl Durations {
    fn new(rng: &mut Rng) -> Durations {
        let mut free: Vec<u64> = (0..24).map(|k| 1 << k).collect();
        for i in (1..free.len()).rev() {
            free.swap(i, rng.below(i as u64 + 1) as usize);
        }
        Durations { free }
    }

    fn next(&mut self) -> u64 {
        self.free.pop().expect("at most 24 durations in a tree")
    }
}

fn gen_node(rng: &mut Rng, durations: &mut Durations, depth: u32, next_id: &mut u32) -> Node {
    if durations.free.len() < 6 {
        return Node::Sleep(durations.next());
    }
    let leaf = depth >= 3 || rng.below(3) == 0;
    let mut id = || {
        *next_id += 1;
        *next_id
    };
    if leaf {
        return match rng.below(6) {
            0..=2 => Node::Sleep(durations.next()),
            3..=4 => Node::Fail(durations.next(), id()),
            _ => Node::Panic(durations.next(), id()),
        };
    }
    match rng.below(3) {
        0 => {
            let body = gen_node(rng, durations, depth + 1, next_id);
            Node::Cleanup(Box::new(body), durations.next())
        }
        1 => {
            let body = gen_node(rng, durations, depth + 1, next_id);
            Node::Timeout(durations.next(), Box::new(body))
        }
        _ => {
            let n = 1 + rng.below(4);
            Node::Group(
                (0..n)
                    .map(|_| gen_node(rng, durations, depth + 1, next_id))
                    .collect(),
            )
        }
    }
}

fn gen_tree(seed: u64) -> Node {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut durations = Durations::new(&mut rng);
    let mut next_id = 0;
    let n = 1 + rng.below(4);
    Node::Group(
        (0..n)
            .map(|_| gen_node(&mut rng, &mut durations, 1, &mut next_id))
            .collect(),
    )
}

// ---------------------------------------------------------------------------
// The property.
// ---------------------------------------------------------------------------

#[test]
fn random_group_trees_behave_as_the_model_says() {
    // The panics of the trees are expected: keep them off the output.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if info.payload().downcast_ref::<u32>().is_none() {
            eprintln!("{info}");
        }
    }));
    let mut failures = Vec::new();
    for case in 0..300 {
        let tree = gen_tree(case);
        let (model_end, model_outcome) = run_model(&tree, 0);
        for seed in [None, Some(case), Some(case + 1000)] {
            let (outcome, elapsed, log) = run_real(&tree, seed);
            let events = log.events();
            let count = |e: &str| events.iter().filter(|x| *x == e).count();
            let started = count("try_finally started");
            let cleanups = (count("cleanup started"), count("cleanup ended"));
            let mut problems = Vec::new();
            if outcome != model_outcome {
                problems.push(format!("outcome {outcome:?}, model {model_outcome:?}"));
            }
            if elapsed != model_end {
                problems.push(format!("took {elapsed} ms, model {model_end} ms"));
            }
            if events.last().map(String::as_str) != Some("tree returned") {
                problems.push(format!("something ran after the tree returned: {events:?}"));
            }
            if cleanups != (started, started) {
                problems.push(format!(
                    "{started} try_finally started, cleanups started/ended {cleanups:?}"
                ));
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "case {case}, seed {seed:?}: {problems:?}\n  {tree:?}"
                ));
            }
        }
    }
    std::panic::set_hook(hook);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_trees_cover_every_kind_of_node_and_outcome() {
    // A property that only ever saw small, successful trees would prove
    // little: count what the 300 cases contain.
    fn walk(node: &Node, counts: &mut [usize; 6]) {
        match node {
            Node::Sleep(_) => counts[0] += 1,
            Node::Fail(..) => counts[1] += 1,
            Node::Panic(..) => counts[2] += 1,
            Node::Cleanup(body, _) => {
                counts[3] += 1;
                walk(body, counts);
            }
            Node::Timeout(_, body) => {
                counts[4] += 1;
                walk(body, counts);
            }
            Node::Group(children) => {
                counts[5] += 1;
                children.iter().for_each(|c| walk(c, counts));
            }
        }
    }
    let mut counts = [0; 6];
    let mut outcomes = [0; 3];
    for case in 0..300 {
        let tree = gen_tree(case);
        walk(&tree, &mut counts);
        outcomes[match run_model(&tree, 0).1 {
            Outcome::Ok => 0,
            Outcome::Err(_) => 1,
            Outcome::Panic(_) => 2,
        }] += 1;
    }
    assert!(counts.iter().all(|&n| n >= 50), "nodes by kind: {counts:?}");
    assert!(outcomes.iter().all(|&n| n >= 30), "outcomes: {outcomes:?}");
}
