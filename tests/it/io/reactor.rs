//! The reactor's cost does not grow with what is idle: one wake-up among
//! 10,000 idle timers and 10,000 idle fds polls one task and takes one
//! turn.

use std::cell::Cell;
use std::io::{self, PipeReader, PipeWriter};
use std::time::Duration;

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use xiio::TaskGroup;

use crate::util::{Log, counted, ms, since};

const IDLE_TIMERS: usize = 10_000;

/// Idle pipes; each read end is waited on twice, through the original fd
/// and a duplicate, so 10,000 registered fds.
const IDLE_PIPES: usize = 5_000;

const HOUR: Duration = Duration::from_secs(3600);

/// Makes room for `needed` fds, raising the soft limit up to the hard one.
fn allow_fds(needed: u64) {
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(u64::MAX);
    if current >= needed {
        return;
    }
    let maximum = limit.maximum.unwrap_or(u64::MAX);
    assert!(
        maximum >= needed,
        "this test needs {needed} fds, the hard limit is {maximum}"
    );
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(needed),
            maximum: limit.maximum,
        },
    )
    .expect("raise RLIMIT_NOFILE");
}

/// Counts live tasks: +1 when created, -1 when dropped.
struct Live<'a>(&'a Cell<i64>);

impl<'a> Live<'a> {
    fn new(count: &'a Cell<i64>) -> Live<'a> {
        count.set(count.get() + 1);
        Live(count)
    }
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

#[xiio::test(mock_clock)]
async fn one_wake_up_among_10000_idle_timers_and_10000_idle_fds() -> io::Result<()> {
    allow_fds((IDLE_PIPES * 3 + 1_000) as u64);
    let idle_pipes: Vec<(PipeReader, PipeReader, PipeWriter)> = (0..IDLE_PIPES)
        .map(|_| {
            let (reader, writer) = io::pipe()?;
            let dup = reader.try_clone()?;
            Ok((reader, dup, writer))
        })
        .collect::<io::Result<_>>()?;
    let (active_reader, active_writer) = io::pipe()?;
    let fd_polls: Vec<Cell<u64>> = (0..2 * IDLE_PIPES).map(|_| Cell::new(0)).collect();
    let timer_polls: Vec<Cell<u64>> = (0..IDLE_TIMERS).map(|_| Cell::new(0)).collect();
    let total = |polls: &[Cell<u64>]| polls.iter().map(Cell::get).sum::<u64>();
    let live = Cell::new(0);
    let log = Log::new();
    let start = xiio::time::now();

    let result = TaskGroup::scope(async |tg| {
        let log = &log;
        let live = &live;
        for (i, (reader, dup, _)) in idle_pipes.iter().enumerate() {
            for (j, fd) in [reader, dup].into_iter().enumerate() {
                tg.add_task(counted(&fd_polls[2 * i + j], async move {
                    let _live = Live::new(live);
                    let mut buf = [0; 16];
                    let n = xiio::io::read(fd, &mut buf).await?;
                    log.push(format!(
                        "idle pipe {i} read {:?} at {:?}",
                        String::from_utf8_lossy(&buf[..n]),
                        since(start)
                    ));
                    Ok(())
                }));
            }
        }
        for (i, polls) in timer_polls.iter().enumerate() {
            // Deadlines spread over 100 s from 1 h on, in no particular
            // order, none due during the test.
            let delay = HOUR + ms((i as u64 * 7_919) % 100_000);
            tg.add_task(counted(polls, async move {
                let _live = Live::new(live);
                xiio::sleep(delay).await;
                log.push(format!("idle timer {i} fired"));
                Ok(())
            }));
        }
        let reader = tg.add_task(async {
            let mut buf = [0; 16];
            let n = xiio::io::read(&active_reader, &mut buf).await?;
            log.push(format!(
                "active pipe read {:?} at {:?}",
                String::from_utf8_lossy(&buf[..n]),
                since(start)
            ));
            Ok(())
        });
        let timer = tg.add_task(async {
            xiio::sleep(ms(5)).await;
            log.push(format!("active timer fired at {:?}", since(start)));
            Ok(())
        });

        // Everyone waits now, each polled once.
        xiio::sleep(ms(1)).await;
        assert_eq!(live.get(), (2 * IDLE_PIPES + IDLE_TIMERS) as i64);
        assert_eq!(tg.len(), 2 * IDLE_PIPES + IDLE_TIMERS + 2);
        assert_eq!(total(&fd_polls), 2 * IDLE_PIPES as u64);
        assert_eq!(total(&timer_polls), IDLE_TIMERS as u64);

        // One fd wake-up.
        xiio::io::write_all(&active_writer, b"ping").await?;
        (&mut { reader }).await;
        assert_eq!(log.events(), ["active pipe read \"ping\" at 1ms"]);

        // One timer wake-up.
        (&mut { timer }).await;
        assert_eq!(log.events()[1], "active timer fired at 5ms");
        assert_eq!(since(start), ms(5));

        // Nobody idle was polled.
        assert_eq!(total(&fd_polls), 2 * IDLE_PIPES as u64);
        assert_eq!(total(&timer_polls), IDLE_TIMERS as u64);
        assert_eq!(tg.len(), 2 * IDLE_PIPES + IDLE_TIMERS);

        // One wake-up of an idle pipe: its two fds (the read end and its
        // duplicate) wake their two tasks, each polled once; one of them
        // gets the bytes, the other finds the pipe empty and waits again.
        xiio::io::write_all(&idle_pipes[1234].2, b"pong").await?;
        xiio::sleep(ms(1)).await;
        assert_eq!(fd_polls[2 * 1234].get(), 2);
        assert_eq!(fd_polls[2 * 1234 + 1].get(), 2);
        assert_eq!(total(&fd_polls), 2 * IDLE_PIPES as u64 + 2);
        assert_eq!(total(&timer_polls), IDLE_TIMERS as u64);
        assert_eq!(log.events().len(), 3);
        assert_eq!(log.events()[2], "idle pipe 1234 read \"pong\" at 5ms");
        assert_eq!(tg.len(), 2 * IDLE_PIPES + IDLE_TIMERS - 1);

        // Cancel the lot.
        Err::<(), _>(io::Error::other("stop"))
    })
    .await;
    assert_eq!(result.unwrap_err().to_string(), "stop");
    assert_eq!(live.get(), 0, "every idle task was dropped");
    assert_eq!(log.events().len(), 3, "no idle task ran");

    // The reactor forgot them all and still works.
    let start = xiio::time::now();
    xiio::sleep(ms(10)).await;
    assert_eq!(since(start), ms(10));
    let (reader, writer) = io::pipe()?;
    xiio::io::write_all(&writer, b"after").await?;
    let mut buf = [0; 8];
    let n = xiio::io::read(&reader, &mut buf).await?;
    assert_eq!(&buf[..n], b"after");
    Ok(())
}
