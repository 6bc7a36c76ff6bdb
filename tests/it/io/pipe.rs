//! `xiio::io::read`, `xiio::io::write`, `xiio::io::write_all` on pipes and files.
//!
//! The Python original's tests, Core: "pipe: gather of a read on one end and a write_all
//! on the other returns the bytes and `()`, without waiting":
//! EOF and broken pipes, blocking-mode fds, regular files.

use std::io::{self, Read, Seek, Write};
use std::time::Duration;

use futures::FutureExt;
use futures::future::LocalBoxFuture;
use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
use xiio::TaskGroup;
use xiio::io::Condition;

use crate::util;
use crate::util::{TempPath, is_nonblocking, ms, since};

// ---------------------------------------------------------------------------
// pipe: gather of a read on one end and a write_all on the other returns the
// bytes and `()`, without waiting.
// ---------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
enum Done {
    Read(Vec<u8>),
    Wrote(()),
}

#[xiio::test(mock_clock)]
async fn pipe_gather_of_a_read_and_a_write_all_returns_the_bytes_and_unit_without_waiting()
-> io::Result<()> {
    let (reader, writer) = io::pipe()?;
    let start = xiio::time::now();
    // The read comes first: it finds the pipe empty and must wait for the
    // write, which the reactor reports without any time passing.
    let futs: Vec<LocalBoxFuture<'_, io::Result<Done>>> = vec![
        async {
            let mut buf = [0; 64];
            let n = xiio::io::read(&reader, &mut buf).await?;
            Ok(Done::Read(buf[..n].to_vec()))
        }
        .boxed_local(),
        async {
            Ok(Done::Wrote(
                xiio::io::write_all(&writer, b"hello pipe").await?,
            ))
        }
        .boxed_local(),
    ];
    let done = xiio::task::gather(futs).await?;
    assert_eq!(done, [Done::Read(b"hello pipe".to_vec()), Done::Wrote(())]);
    assert_eq!(since(start), ms(0));
    Ok(())
}

#[xiio::test(mock_clock)]
async fn pipe_group_of_a_read_and_a_write_all_returns_the_bytes_and_unit_without_waiting()
-> io::Result<()> {
    let (reader, writer) = io::pipe()?;
    let start = xiio::time::now();
    let (read, wrote) = TaskGroup::scope(async |tg| {
        let read = tg.add_task(async {
            let mut buf = [0; 64];
            let n = xiio::io::read(&reader, &mut buf).await?;
            Ok(buf[..n].to_vec())
        });
        let wrote = tg.add_task(xiio::io::write_all(&writer, b"hello pipe"));
        Ok::<_, io::Error>((read, wrote))
    })
    .await?;
    assert_eq!(read.take().as_deref(), Some(&b"hello pipe"[..]));
    assert_eq!(wrote.take(), Some(()));
    assert_eq!(since(start), ms(0));
    Ok(())
}

#[xiio::test(mock_clock)]
async fn pipe_write_all_larger_than_the_pipe_buffer_with_a_concurrent_reader() -> io::Result<()> {
    // 1 MiB does not fit in a pipe (64 KiB): write_all must wait for the
    // reader, a sibling on the same thread, without blocking the thread.
    let (reader, writer) = io::pipe()?;
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let start = xiio::time::now();
    let received = TaskGroup::scope(async |tg| {
        let writer = writer; // moved in: dropped (EOF) when the writer is done
        let received = tg.add_task(async {
            let mut received = Vec::new();
            let mut buf = vec![0; 10_000];
            loop {
                let n = xiio::io::read(&reader, &mut buf).await?;
                if n == 0 {
                    return Ok(received);
                }
                received.extend_from_slice(&buf[..n]);
            }
        });
        xiio::io::write_all(&writer, &data).await?;
        Ok::<_, io::Error>(received)
    })
    .await?;
    let received = received.take().expect("the reader's bytes");
    assert_eq!(received.len(), data.len());
    assert!(received == data, "the bytes arrive intact and in order");
    assert_eq!(since(start), ms(0));
    Ok(())
}

#[xiio::test(mock_clock)]
async fn pipe_read_of_up_to_the_buffer_size() -> io::Result<()> {
    let (reader, mut writer) = io::pipe()?;
    writer.write_all(b"abcdef")?;
    let mut buf = [0; 4];
    assert_eq!(xiio::io::read(&reader, &mut buf).await?, 4);
    assert_eq!(&buf, b"abcd");
    assert_eq!(xiio::io::read(&reader, &mut buf).await?, 2);
    assert_eq!(&buf[..2], b"ef");
    assert_eq!(xiio::io::write(&writer, b"xyz").await?, 3);
    assert_eq!(xiio::io::read(&reader, &mut buf).await?, 3);
    assert_eq!(&buf[..3], b"xyz");
    Ok(())
}

#[xiio::test(mock_clock)]
async fn read_and_write_work_on_any_fd_such_as_a_unix_socket_pair() -> io::Result<()> {
    let (a, b) = std::os::unix::net::UnixStream::pair()?;
    let start = xiio::time::now();
    let echoed = TaskGroup::scope(async |tg| {
        // An echo task on one end...
        tg.add_task(async {
            let mut buf = [0; 64];
            let n = xiio::io::read(&b, &mut buf).await?;
            xiio::io::write_all(&b, &buf[..n]).await
        });
        // ... and the body on the other, writing after a pause.
        xiio::sleep(ms(20)).await;
        xiio::io::write_all(&a, b"echo?").await?;
        let mut buf = [0; 64];
        let n = xiio::io::read(&a, &mut buf).await?;
        Ok::<_, io::Error>(buf[..n].to_vec())
    })
    .await?;
    assert_eq!(echoed, b"echo?");
    assert_eq!(since(start), ms(20));
    assert!(!is_nonblocking(&a) && !is_nonblocking(&b));
    Ok(())
}

// ---------------------------------------------------------------------------
// an fd closed while a task waits on it wakes the task with EOF or
// an error.
// ---------------------------------------------------------------------------

#[xiio::test(mock_clock)]
async fn pipe_writer_closed_while_a_task_waits_to_read_wakes_it_with_eof() -> io::Result<()> {
    let (reader, writer) = io::pipe()?;
    let mut writer = Some(writer);
    let start = xiio::time::now();
    let read = TaskGroup::scope(async |tg| {
        let read = tg.add_task(async {
            let mut buf = [0; 16];
            let n = xiio::io::read(&reader, &mut buf).await?;
            Ok((n, since(start)))
        });
        xiio::sleep(ms(100)).await;
        assert!(!read.is_finished(), "the reader waits for data");
        drop(writer.take());
        Ok::<_, io::Error>(read)
    })
    .await?;
    assert_eq!(read.take(), Some((0, ms(100))), "EOF at 100 ms");
    Ok(())
}

#[xiio::test(mock_clock)]
async fn pipe_read_after_the_writer_is_gone_gives_the_rest_then_eof() -> io::Result<()> {
    let (reader, mut writer) = io::pipe()?;
    writer.write_all(b"last words")?;
    drop(writer);
    let mut buf = [0; 64];
    let n = xiio::io::read(&reader, &mut buf).await?;
    assert_eq!(&buf[..n], b"last words");
    assert_eq!(xiio::io::read(&reader, &mut buf).await?, 0);
    assert_eq!(xiio::io::read(&reader, &mut buf).await?, 0, "EOF again");
    // A Condition on it fires as readable (end-of-file).
    let fired = Condition::new()
        .readable(&reader)
        .deadline_after(ms(100))
        .await?;
    assert!(fired.is_readable(&reader));
    Ok(())
}

#[xiio::test(mock_clock)]
async fn pipe_write_to_a_pipe_whose_reader_is_gone_gives_broken_pipe() -> io::Result<()> {
    let (reader, writer) = io::pipe()?;
    drop(reader);
    let error = xiio::io::write(&writer, b"anyone?").await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
    let error = xiio::io::write_all(&writer, b"anyone?").await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
    Ok(())
}

#[xiio::test(mock_clock)]
async fn pipe_reader_closed_while_a_task_waits_to_write_gives_broken_pipe() -> io::Result<()> {
    let (reader, writer) = io::pipe()?;
    let mut reader = Some(reader);
    let start = xiio::time::now();
    let result = TaskGroup::scope(async |tg| {
        // More than the pipe holds: the writer waits for room.
        tg.add_task(async {
            let result = xiio::io::write_all(&writer, &vec![7; 1 << 20]).await;
            assert_eq!(since(start), ms(100));
            result
        });
        xiio::sleep(ms(100)).await;
        drop(reader.take());
        Ok::<_, io::Error>(())
    })
    .await;
    assert_eq!(result.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    assert_eq!(since(start), ms(100));
    Ok(())
}

// ---------------------------------------------------------------------------
// a blocking-mode fd, as std gives it out, is never blocked on and
// keeps its mode.
// ---------------------------------------------------------------------------

#[xiio::test(mock_clock)]
async fn pipe_in_blocking_mode_is_never_blocked_on_and_keeps_its_mode() -> io::Result<()> {
    let (reader, writer) = io::pipe()?;
    assert!(!is_nonblocking(&reader), "std gives out blocking pipes");
    assert!(!is_nonblocking(&writer));
    let start = xiio::time::now();
    let read = TaskGroup::scope(async |tg| {
        // The pipe is empty: a blocking read(2) would hang the thread and
        // the writer below would never run.
        let read = tg.add_task(async {
            let mut buf = [0; 16];
            let n = xiio::io::read(&reader, &mut buf).await?;
            Ok((buf[..n].to_vec(), since(start)))
        });
        xiio::sleep(ms(10)).await;
        // While the reader waits, the fd is in its own (blocking) mode.
        assert!(!is_nonblocking(&reader));
        xiio::io::write_all(&writer, b"wake").await?;
        Ok::<_, io::Error>(read)
    })
    .await?;
    assert_eq!(read.take(), Some((b"wake".to_vec(), ms(10))));
    assert!(!is_nonblocking(&reader), "the read end is blocking again");
    assert!(!is_nonblocking(&writer), "the write end is blocking again");

    // Still blocking for std's own (blocking) I/O after xiio used it.
    let (mut reader, mut writer) = (reader, writer);
    writer.write_all(b"std")?;
    let mut buf = [0; 3];
    reader.read_exact(&mut buf)?;
    assert_eq!(&buf, b"std");
    Ok(())
}

#[xiio::test(mock_clock)]
async fn pipe_in_nonblocking_mode_keeps_its_mode() -> io::Result<()> {
    let (reader, writer) = io::pipe()?;
    for fd in [
        rustix::fd::AsFd::as_fd(&reader),
        rustix::fd::AsFd::as_fd(&writer),
    ] {
        fcntl_setfl(fd, fcntl_getfl(fd)? | OFlags::NONBLOCK)?;
    }
    let got = TaskGroup::scope(async |tg| {
        let got = tg.add_task(async {
            let mut buf = [0; 8];
            let n = xiio::io::read(&reader, &mut buf).await?;
            Ok(buf[..n].to_vec())
        });
        xiio::sleep(ms(5)).await;
        xiio::io::write_all(&writer, b"nb").await?;
        Ok::<_, io::Error>(got)
    })
    .await?;
    assert_eq!(got.take().as_deref(), Some(&b"nb"[..]));
    assert!(is_nonblocking(&reader));
    assert!(is_nonblocking(&writer));
    Ok(())
}

// ---------------------------------------------------------------------------
// regular files, which epoll refuses, work too.
// ---------------------------------------------------------------------------

#[xiio::test(mock_clock)]
async fn regular_file_works_with_read_write_and_condition() -> io::Result<()> {
    let path = TempPath::new("regular-file");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path.0)?;
    let start = xiio::time::now();

    xiio::io::write_all(&file, b"hello ").await?;
    assert_eq!(xiio::io::write(&file, b"file").await?, 4);

    // A Condition on a regular file fires at once, for both interests.
    let fired = Condition::new()
        .readable(&file)
        .writable(&file)
        .deadline_after(Duration::from_secs(1))
        .await?;
    assert!(fired.is_readable(&file));
    assert!(fired.is_writable(&file));
    assert!(!fired.deadline_passed());

    file.rewind()?;
    let mut buf = [0; 64];
    let n = xiio::io::read(&file, &mut buf).await?;
    assert_eq!(&buf[..n], b"hello file");
    assert_eq!(xiio::io::read(&file, &mut buf).await?, 0, "EOF");
    assert_eq!(since(start), ms(0));
    assert!(!is_nonblocking(&file), "the file keeps its mode");
    assert_eq!(std::fs::read(&path.0)?, b"hello file");
    Ok(())
}

#[xiio::test(mock_clock)]
async fn regular_file_read_and_write_in_concurrent_tasks() -> io::Result<()> {
    let path = TempPath::new("concurrent-file");
    std::fs::write(&path.0, b"0123456789")?;
    let file = std::fs::File::open(&path.0)?;
    let out_path = TempPath::new("concurrent-out");
    let out = std::fs::File::create(&out_path.0)?;
    let copied = xiio::task::gather([0, 1].map(|i| {
        let (file, out) = (&file, &out);
        async move {
            if i == 0 {
                let mut buf = [0; 10];
                let n = xiio::io::read(file, &mut buf).await?;
                Ok(n)
            } else {
                xiio::io::write_all(out, b"written").await?;
                Ok::<_, io::Error>(7)
            }
        }
    }))
    .await?;
    assert_eq!(copied, [10, 7]);
    assert_eq!(std::fs::read(&out_path.0)?, b"written");
    Ok(())
}

#[test]
fn a_borrowed_read_carried_to_the_next_runtime_sees_its_data() {
    // Its wait was registered in the first runtime's reactor; the second
    // one once never looked there.
    let got = util::within_10_s(|| {
        let (reader, mut writer) = io::pipe().unwrap();
        let mut buf = [0; 4];
        let mut read = Box::pin(xiio::io::read(&reader, &mut buf));
        xiio::run(async {
            assert!(util::poll_once(&mut read).await.is_pending());
        });
        writer.write_all(b"data").unwrap();
        let got = xiio::run(async { xiio::timeout(ms(1000), read).await });
        format!("{got:?}")
    });
    assert_eq!(got, "Ok(Ok(4))");
}
