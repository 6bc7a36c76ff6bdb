//! Files and directories: the functions of `std::fs` as async fns, a
//! [`File`] that implements futures-io's `AsyncRead`, `AsyncWrite` and
//! `AsyncSeek`, and a [`ReadDir`] stream.
//!
//! Every call runs on xiio's blocking pool
//! ([`run_blocking`](crate::thread::run_blocking)), as in tokio and
//! async-fs: a regular file is always "ready" to epoll, so a read or write
//! that waits for the disk would block the runtime's thread; io_uring,
//! which could do better, is out of scope. Each function is the std
//! function of the same name, with the same errors, run on the pool. While
//! a call is in flight, a mock clock ([`Builder::mock_clock`]) holds still:
//! file work takes no virtual time, so a timeout around it does not fire
//! because the clock jumped while the file work ran.
//!
//! [`Builder::mock_clock`]: crate::Builder::mock_clock
//!
//! # Examples
//!
//! ```
//! use xiio::fs;
//!
//! xiio::run(async {
//!     let dir = std::env::temp_dir().join(format!("xiio-doc-fs-{}", std::process::id()));
//!     fs::create_dir_all(&dir).await?;
//!     fs::write(dir.join("greeting.txt"), "hello").await?;
//!     assert_eq!(fs::read_to_string(dir.join("greeting.txt")).await?, "hello");
//!
//!     let mut entries = fs::read_dir(&dir).await?;
//!     while let Some(entry) = entries.next_entry().await? {
//!         assert_eq!(entry.file_name(), "greeting.txt");
//!     }
//!     fs::remove_dir_all(&dir).await
//! })?;
//! # Ok::<_, std::io::Error>(())
//! ```

mod file;
mod job;
mod open_options;
mod read_dir;

use std::fs::{Metadata, Permissions};
use std::io;
use std::path::{Path, PathBuf};

pub use file::File;
pub use open_options::OpenOptions;
pub use read_dir::ReadDir;

/// Runs `f` on the blocking pool: the body of every function here. `f`
/// owns what it uses (paths as `PathBuf`s), since the job may outlive a
/// cancelled caller.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    crate::thread::run_blocking(f).await
}

/// `path` as an owned path, to move into a job.
fn owned(path: impl AsRef<Path>) -> PathBuf {
    path.as_ref().to_owned()
}

/// Reads the whole file at `path` into a vector: [`std::fs::read`].
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = owned(path);
    blocking(move || std::fs::read(path)).await
}

/// Reads the whole file at `path` into a string:
/// [`std::fs::read_to_string`]. Invalid UTF-8 is an `InvalidData` error.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = owned(path);
    blocking(move || std::fs::read_to_string(path)).await
}

/// Writes `contents` as the whole content of the file at `path`, creating
/// it if needed: [`std::fs::write`]. `contents` is copied, since the write
/// runs on another thread.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let (path, contents) = (owned(path), contents.as_ref().to_owned());
    blocking(move || std::fs::write(path, contents)).await
}

/// The metadata of the file at `path`, following symbolic links:
/// [`std::fs::metadata`].
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = owned(path);
    blocking(move || std::fs::metadata(path)).await
}

/// The metadata of `path` itself, not following a symbolic link:
/// [`std::fs::symlink_metadata`].
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = owned(path);
    blocking(move || std::fs::symlink_metadata(path)).await
}

/// The entries of the directory at `path`, as a [`ReadDir`] stream:
/// [`std::fs::read_dir`].
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = owned(path);
    blocking(move || std::fs::read_dir(path))
        .await
        .map(ReadDir::new)
}

/// Creates the directory `path`; its parent must exist:
/// [`std::fs::create_dir`].
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    blocking(move || std::fs::create_dir(path)).await
}

/// Creates the directory `path` and any missing parents; succeeds if it
/// exists already: [`std::fs::create_dir_all`].
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    blocking(move || std::fs::create_dir_all(path)).await
}

/// Removes the file (or symbolic link) `path`: [`std::fs::remove_file`].
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    blocking(move || std::fs::remove_file(path)).await
}

/// Removes the empty directory `path`: [`std::fs::remove_dir`].
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    blocking(move || std::fs::remove_dir(path)).await
}

/// Removes the directory `path` with everything in it:
/// [`std::fs::remove_dir_all`].
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = owned(path);
    blocking(move || std::fs::remove_dir_all(path)).await
}

/// Renames `from` to `to`, replacing `to` if it is a file:
/// [`std::fs::rename`].
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (owned(from), owned(to));
    blocking(move || std::fs::rename(from, to)).await
}

/// Copies the content and permissions of the file `from` to `to`, and
/// returns the number of bytes copied: [`std::fs::copy`].
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (owned(from), owned(to));
    blocking(move || std::fs::copy(from, to)).await
}

/// The absolute form of `path`, with every symbolic link resolved:
/// [`std::fs::canonicalize`].
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = owned(path);
    blocking(move || std::fs::canonicalize(path)).await
}

/// Makes `link` a new hard link to the file `original`:
/// [`std::fs::hard_link`].
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (owned(original), owned(link));
    blocking(move || std::fs::hard_link(original, link)).await
}

/// The target of the symbolic link `path`: [`std::fs::read_link`].
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = owned(path);
    blocking(move || std::fs::read_link(path)).await
}

/// Sets the permissions of the file `path`: [`std::fs::set_permissions`].
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    let path = owned(path);
    blocking(move || std::fs::set_permissions(path, perm)).await
}

/// Whether `path` exists (following symbolic links): `Ok(false)` if it
/// does not, an error if that cannot be told (a parent is not searchable):
/// [`std::fs::exists`], which tokio calls `try_exists`.
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = owned(path);
    blocking(move || std::fs::exists(path)).await
}
