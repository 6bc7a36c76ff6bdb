//! What UDP and Unix datagram sockets share: readiness in tokio's spelling
//! (`readable`, `try_recv`, `poll_recv`...), one macro for both types.
//!
//! A datagram socket reads and writes whole datagrams: one `recv` takes
//! one of possibly several queued, so a short read proves nothing about
//! the queue, and readiness is cleared only by a `WouldBlock`.

/// The readiness methods of a datagram type (with an `io: Async<_>` field
/// whose socket has `send` and `recv`), inside its `impl` block.
macro_rules! datagram_readiness_methods {
    () => {
        /// Waits until a datagram may be received, as xiio knows it:
        /// readiness is cached, set by the reactor's events and cleared
        /// when an operation says `WouldBlock`, so this may return with no
        /// datagram queued (a false positive). Pair it with
        /// [`try_recv`](Self::try_recv), which clears it; see
        /// [`Async::readable`](crate::io::Async::readable).
        ///
        /// # Panics
        ///
        /// When polled outside `xiio::run`.
        pub async fn readable(&self) -> std::io::Result<()> {
            self.io.readable().await
        }

        /// Waits until a datagram may be sent, as xiio knows it; see
        /// [`readable`](Self::readable) and [`try_send`](Self::try_send).
        ///
        /// # Panics
        ///
        /// When polled outside `xiio::run`.
        pub async fn writable(&self) -> std::io::Result<()> {
            self.io.writable().await
        }

        /// The poll form of [`readable`](Self::readable); only the last
        /// task to call it is woken.
        pub fn poll_recv_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.io.poll_readable(cx)
        }

        /// The poll form of [`writable`](Self::writable); only the last
        /// task to call it is woken.
        pub fn poll_send_ready(
            &self,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.io.poll_writable(cx)
        }

        /// Receives a datagram from the connected address once, without
        /// waiting: its length (cut short to `buf`), or `WouldBlock` if
        /// none is queued (which clears the readiness).
        pub fn try_recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.io
                .try_io($crate::io::Interest::READABLE, |s| s.recv(buf))
        }

        /// Sends a datagram to the connected address once, without
        /// waiting: the count sent, or `WouldBlock` if the socket's buffer
        /// is full (which clears the readiness).
        pub fn try_send(&self, buf: &[u8]) -> std::io::Result<usize> {
            self.io
                .try_io($crate::io::Interest::WRITABLE, |s| s.send(buf))
        }

        /// The poll form of `recv`, for poll-based traits; only the last
        /// task to call it is woken.
        pub fn poll_recv(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.io.poll_read_with(cx, |s| s.recv(buf))
        }

        /// The poll form of `send`; only the last task to call it is woken.
        pub fn poll_send(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.io.poll_write_with(cx, |s| s.send(buf))
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

pub(crate) use datagram_readiness_methods;
