//! Files: `xiio::fs`'s functions, `File` and `ReadDir`, as users write them.
//!
//! Each test works in a fresh directory of its own under the temp dir,
//! removed at the end. Most run on the real clock (the work is on real
//! threads); the mock clock tests check that file work holds it still.

use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader};
use xiio::fs::{self, File, OpenOptions};

use crate::util::{ms, since};

/// A fresh directory for one test, removed (with its content) when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("xiio-fs-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path); // left by a crashed run
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `len` bytes that differ from their neighbours, so that a misplaced
/// chunk shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Waits (real time, at most 10 s) until the file at `path` holds
/// `expected`.
async fn until_content_is(path: &Path, expected: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read(path).ok().as_deref() != Some(expected) {
        assert!(
            Instant::now() < deadline,
            "the write never reached the disk"
        );
        xiio::sleep(ms(1)).await;
    }
}

#[xiio::test]
async fn write_then_read_back() -> io::Result<()> {
    let dir = TempDir::new("write_then_read_back");
    let path = dir.join("data");
    fs::write(&path, b"some bytes").await?;
    assert_eq!(fs::read(&path).await?, b"some bytes");
    assert_eq!(fs::read_to_string(&path).await?, "some bytes");
    Ok(())
}

#[xiio::test]
async fn read_to_string_of_invalid_utf8_is_invalid_data() -> io::Result<()> {
    let dir = TempDir::new("read_to_string_invalid");
    let path = dir.join("latin1");
    fs::write(&path, [b'c', b'a', b'f', 0xe9]).await?;
    let err = fs::read_to_string(&path).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    Ok(())
}

#[xiio::test]
async fn reading_a_missing_file_is_not_found() {
    let dir = TempDir::new("missing");
    let err = fs::read(dir.join("nothing here")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let err = File::open(dir.join("nothing here")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(!fs::try_exists(dir.join("nothing here")).await.unwrap());
}

#[xiio::test]
async fn read_dir_lists_exactly_the_entries_created_over_several_batches() -> io::Result<()> {
    let dir = TempDir::new("read_dir");
    let sub = dir.join("a/b/c");
    fs::create_dir_all(&sub).await?;
    let mut expected: Vec<String> = (0..100).map(|i| format!("file-{i:03}")).collect();
    for name in &expected {
        fs::write(sub.join(name), name).await?;
    }
    fs::create_dir(sub.join("subdir")).await?;
    expected.push("subdir".into());

    let mut names = Vec::new();
    let mut entries = fs::read_dir(&sub).await?;
    while let Some(entry) = entries.next_entry().await? {
        names.push(entry.file_name().into_string().unwrap());
    }
    assert_eq!(entries.next_entry().await?.map(|e| e.path()), None);
    names.sort();
    assert_eq!(names, expected);

    // The same through `Stream`.
    let count = fs::read_dir(&sub).await?.count().await;
    assert_eq!(count, 101);
    Ok(())
}

#[xiio::test]
async fn remove_dir_all_removes_the_tree() -> io::Result<()> {
    let dir = TempDir::new("remove_dir_all");
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join("x/y")).await?;
    fs::write(tree.join("x/y/leaf"), "leaf").await?;
    fs::write(tree.join("top"), "top").await?;
    assert_eq!(
        fs::remove_dir(&tree).await.unwrap_err().kind(),
        io::ErrorKind::DirectoryNotEmpty
    );
    fs::remove_dir_all(&tree).await?;
    assert!(!fs::try_exists(&tree).await?);
    Ok(())
}

#[xiio::test]
async fn rename_moves_a_file() -> io::Result<()> {
    let dir = TempDir::new("rename");
    fs::write(dir.join("old"), "content").await?;
    fs::rename(dir.join("old"), dir.join("new")).await?;
    assert!(!fs::try_exists(dir.join("old")).await?);
    assert_eq!(fs::read(dir.join("new")).await?, b"content");
    Ok(())
}

#[xiio::test]
async fn copy_copies_the_content_and_returns_its_length() -> io::Result<()> {
    let dir = TempDir::new("copy");
    let data = pattern(100_000);
    fs::write(dir.join("from"), &data).await?;
    assert_eq!(fs::copy(dir.join("from"), dir.join("to")).await?, 100_000);
    assert_eq!(fs::read(dir.join("to")).await?, data);
    assert_eq!(fs::read(dir.join("from")).await?, data);
    Ok(())
}

#[xiio::test]
async fn metadata_and_links() -> io::Result<()> {
    let dir = TempDir::new("metadata");
    let path = dir.join("file");
    fs::write(&path, pattern(12_345)).await?;
    let meta = fs::metadata(&path).await?;
    assert!(meta.is_file());
    assert_eq!(meta.len(), 12_345);
    assert!(fs::metadata(&dir.0).await?.is_dir());

    std::os::unix::fs::symlink(&path, dir.join("link"))?;
    assert!(fs::symlink_metadata(dir.join("link")).await?.is_symlink());
    assert_eq!(fs::read_link(dir.join("link")).await?, path);
    assert_eq!(
        fs::canonicalize(dir.join("link")).await?,
        std::fs::canonicalize(&path)?
    );
    fs::hard_link(&path, dir.join("hard")).await?;
    assert_eq!(fs::metadata(dir.join("hard")).await?.len(), 12_345);
    fs::remove_file(dir.join("hard")).await?;
    assert!(!fs::try_exists(dir.join("hard")).await?);

    let mut perm = meta.permissions();
    perm.set_readonly(true);
    fs::set_permissions(&path, perm).await?;
    assert!(fs::metadata(&path).await?.permissions().readonly());
    Ok(())
}

#[xiio::test]
async fn file_write_all_1_mb_in_chunks_then_read_to_end_is_byte_exact() -> io::Result<()> {
    let dir = TempDir::new("one_mb");
    let path = dir.join("big");
    let data = pattern(1 << 20);
    let mut file = File::create(&path).await?;
    for chunk in data.chunks(10_000) {
        file.write_all(chunk).await?;
    }
    file.flush().await?;
    assert_eq!(file.metadata().await?.len(), 1 << 20);
    drop(file);

    let mut back = Vec::new();
    File::open(&path).await?.read_to_end(&mut back).await?;
    assert!(back == data, "the bytes read back differ");
    Ok(())
}

#[xiio::test]
async fn seek_after_a_partial_read_lands_at_the_logical_position() -> io::Result<()> {
    let dir = TempDir::new("seek_after_read");
    let path = dir.join("digits");
    fs::write(&path, "0123456789").await?;
    let mut file = File::open(&path).await?;
    let mut three = [0; 3];
    file.read_exact(&mut three).await?; // the file read all 10 bytes ahead
    assert_eq!(&three, b"012");
    assert_eq!(file.seek(SeekFrom::Current(0)).await?, 3);
    let mut rest = String::new();
    file.read_to_string(&mut rest).await?;
    assert_eq!(rest, "3456789");

    assert_eq!(file.seek(SeekFrom::Start(1)).await?, 1);
    file.read_exact(&mut three).await?;
    assert_eq!(&three, b"123");
    assert_eq!(file.seek(SeekFrom::Current(-2)).await?, 2);
    file.read_exact(&mut three).await?;
    assert_eq!(&three, b"234");
    assert_eq!(file.seek(SeekFrom::End(-1)).await?, 9);
    Ok(())
}

#[xiio::test]
async fn a_write_after_a_partial_read_lands_at_the_logical_position() -> io::Result<()> {
    let dir = TempDir::new("write_after_read");
    let path = dir.join("digits");
    fs::write(&path, "0123456789").await?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .await?;
    let mut two = [0; 2];
    file.read_exact(&mut two).await?;
    file.write_all(b"ab").await?;
    file.read_exact(&mut two).await?;
    assert_eq!(&two, b"45");
    file.flush().await?;
    assert_eq!(fs::read_to_string(&path).await?, "01ab456789");
    Ok(())
}

#[xiio::test]
async fn seek_after_unflushed_writes_writes_them_first() -> io::Result<()> {
    let dir = TempDir::new("seek_after_write");
    let path = dir.join("file");
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .open(&path)
        .await?;
    file.write_all(b"hello").await?;
    file.write_all(b" world").await?;
    assert_eq!(file.seek(SeekFrom::Current(0)).await?, 11);
    assert_eq!(file.seek(SeekFrom::Start(6)).await?, 6);
    let mut word = String::new();
    file.read_to_string(&mut word).await?;
    assert_eq!(word, "world");
    assert_eq!(std::fs::read(&path)?, b"hello world");
    Ok(())
}

#[xiio::test]
async fn buf_reader_lines_reads_lines() -> io::Result<()> {
    let dir = TempDir::new("lines");
    let path = dir.join("text");
    let text: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
    fs::write(&path, &text).await?;
    let mut lines = BufReader::new(File::open(&path).await?).lines();
    let mut n = 0;
    while let Some(line) = lines.next().await {
        assert_eq!(line?, format!("line {n}"));
        n += 1;
    }
    assert_eq!(n, 10_000);
    Ok(())
}

#[xiio::test]
async fn a_failed_background_write_is_reported() -> io::Result<()> {
    let dir = TempDir::new("failed_write");
    let path = dir.join("read-only");
    fs::write(&path, "original").await?;
    let mut file = File::open(&path).await?; // opened for reading only
    let written = async {
        file.write_all(b"data").await?;
        file.flush().await
    };
    let err = written.await.unwrap_err();
    assert_eq!(err.raw_os_error(), Some(9), "EBADF: {err}");
    // Reported once; the file is usable again.
    file.flush().await?;
    let mut content = String::new();
    file.read_to_string(&mut content).await?;
    assert_eq!(content, "original");
    Ok(())
}

#[xiio::test]
async fn set_len_truncates_and_drops_the_read_ahead_past_the_end() -> io::Result<()> {
    let dir = TempDir::new("set_len");
    let path = dir.join("file");
    fs::write(&path, "0123456789").await?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .await?;
    let mut two = [0; 2];
    file.read_exact(&mut two).await?;
    file.set_len(4).await?;
    let mut rest = String::new();
    file.read_to_string(&mut rest).await?;
    assert_eq!(rest, "23");
    file.sync_all().await?;
    file.sync_data().await?;
    assert_eq!(file.metadata().await?.len(), 4);

    // Back to std where the reads left off.
    file.seek(SeekFrom::Start(1)).await?;
    file.read_exact(&mut [0; 1]).await?;
    let mut std = file.into_std().await;
    let mut rest = String::new();
    io::Read::read_to_string(&mut std, &mut rest)?;
    assert_eq!(rest, "23");
    Ok(())
}

#[xiio::test]
async fn a_dropped_file_still_writes_its_buffered_bytes() -> io::Result<()> {
    let dir = TempDir::new("dropped");
    let path = dir.join("file");
    let data = pattern(200_000);
    let mut file = File::create(&path).await?;
    file.write_all(&data).await?; // the last 64 KiB or less still in flight
    drop(file);
    until_content_is(&path, &data).await;
    Ok(())
}

#[xiio::test]
async fn a_dropped_file_whose_write_had_not_started_still_writes_it() -> io::Result<()> {
    // Every worker of the shared pool (64) is held, so the write is queued
    // and not started when the file is dropped: the case where dropping
    // the job's future would skip it.
    let dir = TempDir::new("dropped_queued");
    let path = dir.join("file");
    let mut file = File::create(&path).await?;
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let running = Arc::new(AtomicUsize::new(0));
    xiio::task_group!(|tg| {
        for _ in 0..64 {
            let (gate, running) = (gate.clone(), running.clone());
            tg.add_task(xiio::thread::run_blocking(move || {
                running.fetch_add(1, Ordering::SeqCst);
                let (open, opened) = &*gate;
                let open = opened.wait_while(open.lock().unwrap(), |open| !*open);
                drop(open);
            }));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while running.load(Ordering::SeqCst) < 64 {
            assert!(
                Instant::now() < deadline,
                "the pool's workers never all started"
            );
            xiio::sleep(ms(1)).await;
        }
        file.write_all(b"queued bytes").await?;
        drop(file);
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        Ok::<_, io::Error>(())
    })?;
    until_content_is(&path, b"queued bytes").await;
    Ok(())
}

#[xiio::test(mock_clock)]
async fn the_mock_clock_holds_still_across_file_work() -> io::Result<()> {
    let dir = TempDir::new("mock_still");
    let path = dir.join("big");
    fs::write(&path, pattern(4 << 20)).await?;
    let start = xiio::time::now();
    xiio::task_group!(|tg| {
        // A sleeper the clock would jump to if it did not hold.
        tg.add_task(xiio::sleep(ms(1)));
        let data = fs::read(&path).await?;
        assert_eq!(data.len(), 4 << 20);
        let mut file = File::open(&path).await?;
        file.read_exact(&mut [0; 100_000]).await?;
        assert_eq!(since(start), Duration::ZERO);
        Ok::<_, io::Error>(())
    })?;
    assert_eq!(since(start), ms(1));
    Ok(())
}

#[xiio::test(mock_clock)]
async fn a_timeout_around_a_big_read_lets_it_finish() -> io::Result<()> {
    let dir = TempDir::new("mock_timeout");
    let path = dir.join("big");
    fs::write(&path, pattern(8 << 20)).await?;
    let start = xiio::time::now();
    let data = xiio::timeout(ms(1), fs::read(&path)).await??;
    assert_eq!(data.len(), 8 << 20);
    assert_eq!(since(start), Duration::ZERO);
    Ok(())
}
