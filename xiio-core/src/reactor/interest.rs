//! Readiness interest in an fd: readable, writable, or both.

use std::fmt;
use std::ops::BitOr;

/// What a task waits for on an fd, and what a
/// [`Condition`](crate::io::Condition)
/// reports as fired.
///
/// # Examples
///
/// ```
/// use xiio::io::Interest;
///
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert!(!Interest::READABLE.is_writable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interest(u8);

impl Interest {
    /// The fd has data to read, or reached end-of-file, or has an error.
    pub const READABLE: Interest = Interest(1);
    /// The fd accepts a write, or its peer is gone, or it has an error.
    pub const WRITABLE: Interest = Interest(2);
    /// Nothing (used internally for "not fired").
    pub(crate) const NONE: Interest = Interest(0);

    /// True if this includes [`Interest::READABLE`].
    pub fn is_readable(self) -> bool {
        self.0 & 1 != 0
    }

    /// True if this includes [`Interest::WRITABLE`].
    pub fn is_writable(self) -> bool {
        self.0 & 2 != 0
    }

    /// True if this is neither readable nor writable.
    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The part of `self` that is also in `other`.
    pub(crate) fn and(self, other: Interest) -> Interest {
        Interest(self.0 & other.0)
    }

    /// The same interest for mio.
    pub(crate) fn to_mio(self) -> mio::Interest {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => mio::Interest::READABLE | mio::Interest::WRITABLE,
            (false, true) => mio::Interest::WRITABLE,
            _ => mio::Interest::READABLE,
        }
    }
}

impl BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            (false, true) => f.write_str("WRITABLE"),
            (false, false) => f.write_str("NONE"),
        }
    }
}
