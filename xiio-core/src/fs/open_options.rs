//! `OpenOptions`: how to open a [`File`].

use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::{File, blocking, owned};

/// Options for opening a [`File`]: [`std::fs::OpenOptions`], whose
/// [`open`](OpenOptions::open) runs on the blocking pool.
///
/// The setters are those of std (and tokio's `OpenOptions`); read their
/// documentation there.
///
/// # Examples
///
/// ```
/// use futures::io::AsyncWriteExt;
/// use xiio::fs::OpenOptions;
///
/// xiio::run(async {
///     let path = std::env::temp_dir().join(format!("xiio-doc-options-{}", std::process::id()));
///     let mut log = OpenOptions::new().create(true).append(true).open(&path).await?;
///     log.write_all(b"one line\n").await?;
///     log.flush().await?;
///     assert_eq!(xiio::fs::read(&path).await?, b"one line\n");
///     xiio::fs::remove_file(&path).await
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// Options with every flag off: set at least one of `read`, `write`
    /// and `append`.
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Whether to open for reading.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// Whether to open for writing.
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// Whether every write goes to the end of the file.
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// Whether to empty the file when opening it (needs `write`).
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// Whether to create the file if it does not exist (needs `write` or
    /// `append`).
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// Whether to create the file and fail (`AlreadyExists`) if it exists.
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// The permission bits of a created file, before the umask (`0o666` by
    /// default).
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.0.mode(mode);
        self
    }

    /// Extra `open(2)` flags, such as `O_NOFOLLOW`.
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.0.custom_flags(flags);
        self
    }

    /// Opens the file at `path` with these options, on the blocking pool.
    ///
    /// # Errors
    ///
    /// Those of [`std::fs::OpenOptions::open`].
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let (options, path) = (self.0.clone(), owned(path));
        blocking(move || options.open(path))
            .await
            .map(File::from_std)
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    fn from(options: std::fs::OpenOptions) -> OpenOptions {
        OpenOptions(options)
    }
}
