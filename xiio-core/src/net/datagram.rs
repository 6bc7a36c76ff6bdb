//! What UDP and Unix datagram sockets share: readiness in tokio's spelling
//! (`readable`, `try_recv`, `poll_recv`...), one macro for both types.
//!
//! A datagram socket reads and writes whole datagrams: one `recv` takes
//! one of possibly several queued, so a short read proves nothing about
//! the queue, and readiness is cleared only by a `WouldBlock`.

/// The readiness methods of a datagram type (with an `io: Async<_>` field
/// whose socket has `send`, `recv` and `recv_from` giving a `$addr`),
/// inside its `impl` block.
macro_rules! datagram_readiness_methods {
    ($addr:ty) => {
        $crate::net::readiness::readiness_methods!(
            try_recv,
            try_send,
            poll_recv_ready,
            poll_send_ready
        );

        /// Receives a datagram from the connected address once, without
        /// waiting: its length (cut short to `buf`), or `WouldBlock` if
        /// none is queued (which clears the readiness).
        pub fn try_recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.io
                .try_io($crate::io::Interest::READABLE, |s| s.recv(buf))
        }

        /// Receives a datagram once, without waiting: its length and where
        /// it came from, or `WouldBlock` if none is queued (which clears
        /// the readiness).
        pub fn try_recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, $addr)> {
            self.io
                .try_io($crate::io::Interest::READABLE, |s| s.recv_from(buf))
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

        /// The poll form of `recv_from`; only the last task to call it is
        /// woken.
        pub fn poll_recv_from(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<std::io::Result<(usize, $addr)>> {
            self.io.poll_read_with(cx, |s| s.recv_from(buf))
        }

        /// The poll form of `send`; only the last task to call it is woken.
        pub fn poll_send(
            &self,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.io.poll_write_with(cx, |s| s.send(buf))
        }
    };
}

pub(crate) use datagram_readiness_methods;
