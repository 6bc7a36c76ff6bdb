//! `xiio::io::Condition`: combining conditions and what fulfils them.
//!
//! The Python original's tests, Core: "condition combines" and "condition fulfilled".

use std::future::IntoFuture;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use xiio::TaskGroup;
use xiio::io::{Condition, Interest};

use crate::util;
use crate::util::{ms, since};

// ---------------------------------------------------------------------------
// condition combines: deadlines take the earliest; fd interests on the same
// fd merge (read|write).
// ---------------------------------------------------------------------------

#[test]
fn condition_combines_deadlines_take_the_earliest() {
    let base = Instant::now();
    let late = Condition::new().deadline(base + ms(300));
    let early = Condition::new().deadline(base + ms(100));
    assert_eq!(late.combine(early).get_deadline(), Some(base + ms(100)));

    // The order of the operands does not matter, nor the spelling.
    let c = Condition::new().deadline(base + ms(100)) | Condition::new().deadline(base + ms(300));
    assert_eq!(c.get_deadline(), Some(base + ms(100)));

    // Several deadlines on one condition: the earliest counts.
    let c = Condition::new()
        .deadline(base + ms(50))
        .deadline(base + ms(20))
        .deadline(base + ms(70));
    assert_eq!(c.get_deadline(), Some(base + ms(20)));

    // A condition without a deadline adopts the other's.
    let c = Condition::new() | Condition::new().deadline(base + ms(5));
    assert_eq!(c.get_deadline(), Some(base + ms(5)));
    let c = Condition::new().deadline(base + ms(5)) | Condition::new();
    assert_eq!(c.get_deadline(), Some(base + ms(5)));
    assert_eq!(Condition::new().get_deadline(), None);
}

#[xiio::test(mock_clock)]
async fn condition_combines_deadlines_awaited_fires_at_the_earliest() -> io::Result<()> {
    let start = xiio::time::now();
    let combined =
        Condition::new().deadline_after(ms(300)) | Condition::new().deadline_after(ms(100));
    assert_eq!(combined.get_deadline(), Some(start + ms(100)));
    let fired = combined.await?;
    assert_eq!(since(start), ms(100));
    assert!(fired.deadline_passed());
    assert_eq!(fired.fds().count(), 0);
    Ok(())
}

#[test]
fn condition_combines_interests_on_the_same_fd_merge() -> io::Result<()> {
    let (reader, writer) = io::pipe()?;
    let c = Condition::new().readable(&reader) | Condition::new().writable(&reader);
    assert_eq!(
        c.interest(&reader),
        Some(Interest::READABLE | Interest::WRITABLE)
    );
    assert_eq!(c.interest(&writer), None);

    // The same through `fd`, `combine` and repeated calls; other fds stay
    // separate.
    let c = Condition::new()
        .fd(&reader, Interest::WRITABLE)
        .readable(&writer)
        .combine(Condition::new().fd(&reader, Interest::READABLE))
        .writable(&writer);
    assert_eq!(
        c.interest(&reader),
        Some(Interest::READABLE | Interest::WRITABLE)
    );
    assert_eq!(
        c.interest(&writer),
        Some(Interest::READABLE | Interest::WRITABLE)
    );

    // Merging an interest that is already there changes nothing.
    let c = Condition::new().readable(&reader).readable(&reader);
    assert_eq!(c.interest(&reader), Some(Interest::READABLE));
    Ok(())
}

#[xiio::test(mock_clock)]
async fn condition_combines_merged_interests_fire_as_one_fd() -> io::Result<()> {
    // A socket can be readable and writable at once.
    let (a, mut b) = UnixStream::pair()?;
    let start = xiio::time::now();

    // Without data, the merged condition fires for writing only.
    let fired = (Condition::new().readable(&a) | Condition::new().writable(&a)).await?;
    assert_eq!(fired.readiness(&a), Some(Interest::WRITABLE));
    assert!(fired.is_writable(&a));
    assert!(!fired.is_readable(&a));
    assert_eq!(fired.fds().count(), 1, "one entry for the merged fd");

    // With data, it fires for both, still as one entry.
    b.write_all(b"x")?;
    let fired = (Condition::new().readable(&a) | Condition::new().writable(&a)).await?;
    assert_eq!(
        fired.readiness(&a),
        Some(Interest::READABLE | Interest::WRITABLE)
    );
    assert_eq!(
        fired.fds().collect::<Vec<_>>(),
        [(a.as_raw_fd(), Interest::READABLE | Interest::WRITABLE)]
    );
    assert!(!fired.deadline_passed());
    assert_eq!(since(start), ms(0));
    Ok(())
}

// ---------------------------------------------------------------------------
// condition fulfilled: by a ready fd with the right interest only; not by
// the wrong interest.
// ---------------------------------------------------------------------------

#[xiio::test(mock_clock)]
async fn condition_fulfilled_by_a_ready_fd_with_the_right_interest() -> io::Result<()> {
    let (reader, mut writer) = io::pipe()?;
    writer.write_all(b"x")?;
    let start = xiio::time::now();
    let fired = Condition::new()
        .readable(&reader)
        .deadline_after(ms(100))
        .await?;
    assert_eq!(since(start), ms(0), "a ready fd fires at once");
    assert!(fired.is_readable(&reader));
    assert!(!fired.is_writable(&reader));
    assert!(!fired.deadline_passed());
    assert_eq!(fired.readiness(&reader), Some(Interest::READABLE));
    assert_eq!(fired.readiness(&writer), None);
    assert_eq!(
        fired.fds().collect::<Vec<_>>(),
        [(reader.as_raw_fd(), Interest::READABLE)]
    );

    // An empty pipe's write end is writable.
    let fired = Condition::new().writable(&writer).await?;
    assert!(fired.is_writable(&writer));
    assert_eq!(fired.readiness(&writer), Some(Interest::WRITABLE));
    Ok(())
}

#[xiio::test(mock_clock)]
async fn condition_fulfilled_not_by_the_wrong_interest() -> io::Result<()> {
    let (reader, mut writer) = io::pipe()?;
    writer.write_all(b"x")?;
    // The read end has data and the write end has room, but we ask for the
    // opposite interests: only the deadline fires.
    let start = xiio::time::now();
    let fired = Condition::new()
        .writable(&reader)
        .readable(&writer)
        .deadline_after(ms(100))
        .await?;
    assert_eq!(since(start), ms(100));
    assert!(fired.deadline_passed());
    assert_eq!(fired.fds().count(), 0);
    assert!(!fired.is_readable(&writer));
    assert!(!fired.is_writable(&reader));
    assert_eq!(fired.readiness(&reader), None);
    Ok(())
}

#[xiio::test(mock_clock)]
async fn condition_fulfilled_reports_only_the_interest_that_is_ready() -> io::Result<()> {
    let (reader, mut writer) = io::pipe()?;
    writer.write_all(b"x")?;
    // Asked for both on the read end, which is only ever readable.
    let fired = Condition::new()
        .fd(&reader, Interest::READABLE | Interest::WRITABLE)
        .await?;
    assert_eq!(fired.readiness(&reader), Some(Interest::READABLE));
    assert!(!fired.is_writable(&reader));
    Ok(())
}

#[xiio::test(mock_clock)]
async fn condition_fulfilled_when_an_fd_becomes_ready_later() -> io::Result<()> {
    let (reader, writer) = io::pipe()?;
    let start = xiio::time::now();
    let (fired, elapsed) = TaskGroup::scope(async |tg| {
        tg.add_task(async {
            xiio::sleep(ms(50)).await;
            xiio::io::write_all(&writer, b"late").await
        });
        let fired = Condition::new()
            .readable(&reader)
            .deadline_after(ms(100))
            .await?;
        Ok::<_, io::Error>((fired, since(start)))
    })
    .await?;
    assert_eq!(elapsed, ms(50), "fired by the fd, not the 100 ms deadline");
    assert!(fired.is_readable(&reader));
    assert!(!fired.deadline_passed());
    Ok(())
}

#[xiio::test(mock_clock)]
async fn condition_fulfilled_by_several_fds_at_once() -> io::Result<()> {
    let (r1, mut w1) = io::pipe()?;
    let (r2, mut w2) = io::pipe()?;
    let (r3, _w3) = io::pipe()?;
    w1.write_all(b"1")?;
    w2.write_all(b"2")?;
    let start = xiio::time::now();
    let fired = Condition::new()
        .readable(&r1)
        .readable(&r2)
        .readable(&r3)
        .deadline_after(ms(100))
        .await?;
    assert_eq!(since(start), ms(0));
    assert!(fired.is_readable(&r1));
    assert!(fired.is_readable(&r2));
    assert!(!fired.is_readable(&r3));
    assert!(!fired.deadline_passed());
    let mut fds: Vec<_> = fired.fds().map(|(fd, _)| fd).collect();
    fds.sort();
    let mut expected = vec![r1.as_raw_fd(), r2.as_raw_fd()];
    expected.sort();
    assert_eq!(fds, expected);
    Ok(())
}

// Regression (found by this suite, fixed in dde9678): a Condition whose
// deadline had already passed returned at its first poll with only
// `deadline_passed()`, before the reactor could report the fds it had just
// registered, so the poll(2)-with-zero-timeout idiom ("which of these fds
// is ready now?") always answered "none".
#[xiio::test(mock_clock)]
async fn condition_with_a_passed_deadline_still_reports_fds_ready_now() -> io::Result<()> {
    let (reader, mut writer) = io::pipe()?;
    writer.write_all(b"x")?;
    let fired = Condition::new()
        .readable(&reader)
        .writable(&writer)
        .deadline_after(ms(0))
        .await?;
    assert!(fired.deadline_passed());
    assert!(
        fired.is_readable(&reader),
        "the read end has data right now: {fired:?}"
    );
    assert!(
        fired.is_writable(&writer),
        "the write end has room right now: {fired:?}"
    );
    Ok(())
}

#[xiio::test(mock_clock)]
async fn condition_two_tasks_waiting_on_the_same_fd_both_fire() -> io::Result<()> {
    let (reader, writer) = io::pipe()?;
    let start = xiio::time::now();
    async fn wait(reader: &io::PipeReader, start: Instant) -> io::Result<(bool, Duration)> {
        let fired = Condition::new().readable(reader).await?;
        Ok((fired.is_readable(reader), since(start)))
    }
    let (a, b) = TaskGroup::scope(async |tg| {
        let a = tg.add_task(wait(&reader, start));
        let b = tg.add_task(wait(&reader, start));
        xiio::sleep(ms(30)).await;
        xiio::io::write_all(&writer, b"x").await?;
        Ok((a, b))
    })
    .await?;
    assert_eq!(a.take(), Some((true, ms(30))));
    assert_eq!(b.take(), Some((true, ms(30))));
    Ok(())
}

#[xiio::test(mock_clock)]
async fn condition_cancelled_wait_leaves_the_fd_usable() -> io::Result<()> {
    // A wait dropped by a timeout removes its registration; a later wait on
    // the same fd still fires.
    let (reader, mut writer) = io::pipe()?;
    let start = xiio::time::now();
    let timed_out = xiio::timeout(ms(10), Condition::new().readable(&reader).into_future()).await;
    assert!(timed_out.is_err());
    assert_eq!(since(start), ms(10));
    writer.write_all(b"x")?;
    let fired = Condition::new().readable(&reader).await?;
    assert!(fired.is_readable(&reader));
    assert_eq!(since(start), ms(10));
    Ok(())
}

#[test]
fn a_condition_deadline_carried_to_the_next_runtime_fires_at_its_time() {
    // Its timer was registered in the first runtime; the second one once
    // waited for a wake that could never come.
    util::within_10_s(|| {
        let (reader, _writer) = io::pipe().unwrap();
        let deadline = std::time::Instant::now() + ms(200);
        let mut wait = Box::pin(
            Condition::new()
                .readable(&reader)
                .deadline(deadline)
                .into_future(),
        );
        util::run_mock(async {
            assert!(util::poll_once(&mut wait).await.is_pending());
        });
        xiio::run(async {
            let fired = wait.await.unwrap();
            assert!(fired.deadline_passed());
            assert!(std::time::Instant::now() >= deadline, "fired early");
        });
    });
}
