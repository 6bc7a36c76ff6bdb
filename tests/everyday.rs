//! The everyday API around task groups: cancelling a whole group,
//! background children, racing, intervals, Ctrl-C, awaiting a promise by
//! value, children that loop for ever, a process group cancelled as a
//! whole, and a thread pool dropped inside the runtime. Timing on the mock
//! clock, with exact virtual durations, except where real threads or
//! processes are involved.

mod util;

use std::cell::Cell;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use util::{Log, ms, run_mock, since};

#[test]
fn a_group_with_a_forever_heartbeat_ends_when_the_body_cancels_it_and_its_cleanup_ran() {
    let log = Log::new();
    let beats = Cell::new(0);
    run_mock(async {
        let start = xiio::now();
        let value = xiio::task_group!(|tg| {
            let heartbeat = {
                let log = log.clone();
                let beats = &beats;
                tg.add_task(xiio::try_finally(
                    async move {
                        loop {
                            xiio::sleep(ms(100)).await;
                            beats.set(beats.get() + 1);
                        }
                    },
                    async move {
                        xiio::sleep(ms(30)).await;
                        log.push("heartbeat stopped");
                    },
                ))
            };
            xiio::sleep(ms(250)).await;
            tg.cancel();
            assert!(heartbeat.is_cancelled());
            Ok::<_, io::Error>("done")
        })
        .unwrap();
        assert_eq!(value, "done");
        assert_eq!(
            since(start),
            ms(280),
            "cancelled at 250 ms, cleanup of 30 ms"
        );
    });
    assert_eq!(beats.get(), 2);
    assert_eq!(log.events(), ["heartbeat stopped"]);
}

#[test]
fn cancel_called_from_a_child_cancels_the_children_but_not_the_body() {
    let log = Log::new();
    run_mock(async {
        let start = xiio::now();
        let value = xiio::task_group!(|tg| {
            let tg2 = tg.clone();
            let log2 = log.clone();
            tg.add_task(async move {
                xiio::sleep(ms(50)).await;
                tg2.cancel();
                log2.push("the caller goes on until its next await");
                xiio::sleep(ms(1)).await;
                log2.push("never: the caller is cancelled too");
            });
            let sleeper = tg.add_task(xiio::sleep(ms(1000)));
            xiio::sleep(ms(200)).await; // the body is not cancelled
            assert!(sleeper.is_cancelled());
            log.push("body done");
            Ok::<_, io::Error>(7)
        })
        .unwrap();
        assert_eq!(value, 7);
        assert_eq!(since(start), ms(200));
    });
    assert_eq!(
        log.events(),
        ["the caller goes on until its next await", "body done"]
    );
}

#[test]
fn background_children_are_cancelled_once_the_body_and_the_other_children_are_done() {
    let log = Log::new();
    run_mock(async {
        let start = xiio::now();
        xiio::task_group!(|tg| {
            let log2 = log.clone();
            tg.add_background(xiio::try_finally(
                std::future::pending::<()>(),
                async move {
                    log2.push("background cleanup");
                },
            ));
            let log3 = log.clone();
            tg.add_task(async move {
                xiio::sleep(ms(300)).await; // a foreground child outlives the body
                log3.push("foreground done");
            });
            xiio::sleep(ms(100)).await;
            Ok::<_, io::Error>(())
        })
        .unwrap();
        assert_eq!(since(start), ms(300));
    });
    assert_eq!(log.events(), ["foreground done", "background cleanup"]);
}

#[test]
fn a_child_that_loops_for_ever_is_a_task_too() {
    // `async { loop { ... } }` has type `!`, which a group accepts.
    run_mock(async {
        let ticks = Cell::new(0);
        xiio::task_group!(|tg| {
            let ticker = tg.add_task(async {
                loop {
                    xiio::sleep(ms(10)).await;
                    ticks.set(ticks.get() + 1);
                }
            });
            xiio::sleep(ms(55)).await;
            ticker.cancel();
            Ok::<_, io::Error>(())
        })
        .unwrap();
        assert_eq!(ticks.get(), 5);
    });
}

#[test]
fn race_of_100_and_300_ms_whose_loser_has_a_50_ms_cleanup_returns_the_winner_at_150_ms() {
    let log = Log::new();
    run_mock(async {
        let start = xiio::now();
        let log2 = log.clone();
        let runners: Vec<std::pin::Pin<Box<dyn Future<Output = u32>>>> = vec![
            Box::pin(async {
                xiio::sleep(ms(100)).await;
                1
            }),
            Box::pin(xiio::try_finally(
                async {
                    xiio::sleep(ms(300)).await;
                    2
                },
                async move {
                    xiio::sleep(ms(50)).await;
                    log2.push("loser cleaned up");
                },
            )),
        ];
        let winner = xiio::race(runners).await;
        assert_eq!(winner, 1);
        assert_eq!(since(start), ms(150));
    });
    assert_eq!(log.events(), ["loser cleaned up"]);
}

#[test]
fn race_ties_go_to_the_first_future() {
    run_mock(async {
        let first = xiio::race(["first", "second"].map(|name| async move {
            xiio::sleep(ms(10)).await;
            name
        }))
        .await;
        assert_eq!(first, "first");
    });
}

#[test]
#[should_panic(expected = "xiio::race needs at least one future")]
fn race_of_nothing_panics() {
    run_mock(xiio::race(Vec::<std::future::Ready<()>>::new()));
}

#[test]
fn interval_ticks_at_each_period() {
    run_mock(async {
        let start = xiio::now();
        let mut interval = xiio::interval(ms(100));
        let mut at = Vec::new();
        for _ in 0..4 {
            at.push(interval.tick().await - start);
        }
        assert_eq!(at, [ms(0), ms(100), ms(200), ms(300)]);
        assert_eq!(since(start), ms(300));
    });
}

#[test]
fn a_slow_consumer_of_an_interval_skips_the_missed_ticks() {
    run_mock(async {
        let start = xiio::now();
        let mut interval = xiio::interval(ms(100));
        interval.tick().await; // 0 ms
        xiio::sleep(ms(250)).await; // missed the ticks at 100 and 200
        let late = interval.tick().await;
        assert_eq!(late - start, ms(100), "the missed tick comes at once");
        assert_eq!(since(start), ms(250));
        let next = interval.tick().await;
        assert_eq!(next - start, ms(300), "then the schedule goes on, no burst");
        assert_eq!(since(start), ms(300));
    });
}

#[test]
fn an_interval_is_a_stream() {
    run_mock(async {
        let start = xiio::now();
        let ticks: Vec<Instant> = xiio::interval(ms(50)).take(3).collect().await;
        let offsets: Vec<Duration> = ticks.iter().map(|t| *t - start).collect();
        assert_eq!(offsets, [ms(0), ms(50), ms(100)]);
    });
}

#[test]
fn ctrl_c_returns_on_sigint() {
    xiio::run(async {
        xiio::task_group!(|tg| {
            // The watcher is polled first, so it subscribes before the kill.
            let watcher = tg.add_task(async { xiio::ctrl_c().await.map(|()| "got it") });
            tg.add_task(async {
                let kill = format!("kill -INT {}", std::process::id());
                xiio::run_process(Command::new("sh").args(["-c", &kill])).await?;
                Ok(())
            });
            let got = (&mut { watcher }).await;
            assert_eq!(got, Some("got it"));
            Ok::<_, io::Error>(())
        })
    })
    .unwrap();
}

#[test]
fn a_promise_is_awaited_by_value() {
    run_mock(async {
        let promise = xiio::Promise::new();
        let setter = promise.clone();
        let value = xiio::task_group!(|tg| {
            tg.add_task(async move {
                xiio::sleep(ms(10)).await;
                setter.set(42).unwrap();
            });
            Ok::<_, io::Error>(promise.await)
        })
        .unwrap();
        assert_eq!(value, 42);
    });
}

#[test]
fn cancelling_a_process_group_leaves_no_survivor() {
    let pid_file = util::TempPath::new("pgid-sleep");
    let script = format!("sleep 30 & echo $! > {}; wait", pid_file.0.display());
    xiio::run(async {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script]).process_group(0);
        let result = xiio::timeout(ms(300), xiio::run_process(&mut cmd)).await;
        assert!(result.is_err(), "cancelled");
    });
    // The cleanup ran before xiio::run returned: the group got SIGTERM,
    // then SIGKILL for what was left.
    let sleep_pid: u32 = std::fs::read_to_string(&pid_file.0)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(sleep_pid) {
        assert!(
            Instant::now() < deadline,
            "the group's `sleep` ({sleep_pid}) survived"
        );
        std::thread::sleep(ms(10));
    }
}

/// True if the process runs (exists and is not a zombie awaiting its reap).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[test]
fn dropping_a_thread_pool_inside_the_runtime_does_not_stall_it() {
    // Real time: a ticker every 10 ms goes on while a dropped pool's job
    // still runs for 300 ms on its worker.
    let gaps = Rc::new(Cell::new(Duration::ZERO));
    xiio::run(async {
        xiio::task_group!(|tg| {
            let ticker = tg.add_task(async {
                let mut last = Instant::now();
                loop {
                    xiio::sleep(ms(10)).await;
                    gaps.set(gaps.get().max(last.elapsed()));
                    last = Instant::now();
                }
            });
            let pool = xiio::ThreadPool::new(1);
            // Started, then no longer awaited: the job goes on on its worker.
            let job = pool.run(|| std::thread::sleep(ms(300)));
            assert!(xiio::timeout(ms(20), job).await.is_err());
            drop(pool);
            xiio::sleep(ms(150)).await;
            ticker.cancel();
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
    assert!(
        gaps.get() < ms(100),
        "the ticker stalled for {:?}",
        gaps.get()
    );
}

#[test]
fn join_of_three_types_returns_a_tuple() {
    run_mock(async {
        let start = xiio::now();
        let name = String::from("xiio"); // borrowed by a future
        let (n, text, flag) = xiio::join!(
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

#[test]
fn join_returns_the_first_error_and_cancels_the_rest_with_their_cleanups() {
    let log = Log::new();
    run_mock(async {
        let start = xiio::now();
        let log2 = log.clone();
        let result: Result<((), u32), &str> = xiio::join!(
            xiio::try_finally(
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
        let start = xiio::now();
        let log2 = log.clone();
        let outcome: String = xiio::select! {
            n = async {
                xiio::sleep(ms(300)).await;
                7u32
            } => format!("number {n}"),
            text = xiio::try_finally(
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

#[test]
fn ten_jobs_of_100_ms_with_a_limit_of_3_take_400_ms() {
    run_mock(async {
        let start = xiio::now();
        let running = Cell::new(0);
        let most = Cell::new(0);
        let jobs = (0..10).map(|i| {
            let (running, most) = (&running, &most);
            async move {
                running.set(running.get() + 1);
                most.set(most.get().max(running.get()));
                xiio::sleep(ms(100)).await;
                running.set(running.get() - 1);
                Ok::<_, io::Error>(i * 2)
            }
        });
        let values = xiio::gather_limit(jobs, 3).await.unwrap();
        assert_eq!(values, (0..10).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(since(start), ms(400));
        assert_eq!(most.get(), 3, "never more than 3 at once");
    });
}

#[test]
fn gather_limit_stops_at_the_first_error() {
    run_mock(async {
        let started = Cell::new(0);
        let jobs = (0..10).map(|i| {
            let started = &started;
            async move {
                started.set(started.get() + 1);
                xiio::sleep(ms(100)).await;
                if i == 4 { Err(i) } else { Ok(i) }
            }
        });
        assert_eq!(xiio::gather_limit(jobs, 2).await, Err(4));
        assert_eq!(started.get(), 6, "jobs 0-5 started; none after the error");
    });
}

#[test]
fn next_finished_gives_children_in_the_order_they_finish() {
    run_mock(async {
        let start = xiio::now();
        xiio::task_group!(|tg| {
            let mut tasks = Vec::new();
            for (i, d) in [300, 100, 200].into_iter().enumerate() {
                tasks.push(tg.add_task(async move {
                    xiio::sleep(ms(d)).await;
                    Ok::<_, io::Error>(i)
                }));
            }
            let mut order = Vec::new();
            while let Some(task) = xiio::next_finished(&mut tasks).await {
                order.push((task.take().unwrap(), since(start)));
            }
            assert_eq!(order, [(1, ms(100)), (2, ms(200)), (0, ms(300))]);
            Ok::<_, io::Error>(())
        })
        .unwrap();
    });
}
