//! The readiness methods every socket type has, in tokio's spelling: one
//! macro, so that streams and datagram sockets say the same thing.
//!
//! Readiness is cached per direction by the socket's `Async`: set by the
//! reactor's events, cleared only when an operation says `WouldBlock`.
//! `readable()`/`writable()` report it (a false positive is possible: data
//! taken around xiio), and the `try_*` operations clear it, so a loop of
//! the two never spins and never waits while the kernel has data or room.

/// `readable`, `writable`, their poll forms (named `$poll_read` and
/// `$poll_write`, as tokio names them for the type) and `try_io`, for a
/// type with an `io: Async<_>` field whose one-attempt operations are
/// `$try_read` and `$try_write`; inside its `impl` block.
macro_rules! readiness_methods {
    ($try_read:ident, $try_write:ident, $poll_read:ident, $poll_write:ident) => {
        /// Waits until the socket is readable (data, end-of-file or an
        /// error) as xiio knows it: readiness is cached, set by the
        /// reactor's events and cleared when an operation says
        /// `WouldBlock`, so this may return with nothing to read (a false
        /// positive). Pair it with
        #[doc = concat!("[`", stringify!($try_read), "`](Self::", stringify!($try_read), "),")]
        /// whose `WouldBlock` clears it; see
        /// [`Async::readable`](crate::io::Async::readable).
        ///
        /// # Panics
        ///
        /// When polled outside `xiio::run`.
        pub async fn readable(&self) -> std::io::Result<()> {
            self.io.readable().await
        }

        /// Waits until the socket is writable as xiio knows it; see
        /// [`readable`](Self::readable) and
        #[doc = concat!("[`", stringify!($try_write), "`](Self::", stringify!($try_write), ").")]
        ///
        /// # Panics
        ///
        /// When polled outside `xiio::run`.
        pub async fn writable(&self) -> std::io::Result<()> {
            self.io.writable().await
        }

        /// The poll form of [`readable`](Self::readable); only the last
        /// task to call it is woken.
        pub fn $poll_read(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.io.poll_readable(cx)
        }

        /// The poll form of [`writable`](Self::writable); only the last
        /// task to call it is woken.
        pub fn $poll_write(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.io.poll_writable(cx)
        }

        /// Runs `op`, one non-blocking operation on the socket, if it is
        /// ready for `interest` as xiio knows it; see
        /// [`Async::try_io`](crate::io::Async::try_io).
        ///
        /// # Panics
        ///
        /// If `interest` is not exactly one direction.
        pub fn try_io<R>(
            &self,
            interest: $crate::io::Interest,
            op: impl FnOnce() -> std::io::Result<R>,
        ) -> std::io::Result<R> {
            self.io.try_io(interest, |_| op())
        }
    };
}

pub(crate) use readiness_methods;
