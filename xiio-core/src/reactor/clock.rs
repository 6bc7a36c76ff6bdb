//! The runtime's clock: the real one, or a mock that jumps.

use std::cell::Cell;
use std::time::Instant;

/// Where `xiio::time::now()` reads the time.
///
/// A mock clock stands still while any task can make progress; the mock
/// clock's park strategy (in `xiio::testing`) moves it forward when no task
/// is woken, no fd is ready right now and no outside work is in flight:
/// then it jumps straight to the next deadline.
pub(crate) struct Clock {
    /// The virtual time, or `None` for the real clock.
    mock: Option<Cell<Instant>>,
}

impl Clock {
    /// A real clock, or a mock one starting at the real time now.
    pub(crate) fn new(mock: bool) -> Clock {
        Clock {
            mock: mock.then(|| Cell::new(Instant::now())),
        }
    }

    /// The current time on this clock.
    pub(crate) fn now(&self) -> Instant {
        match &self.mock {
            Some(t) => t.get(),
            None => Instant::now(),
        }
    }

    /// True for a mock clock.
    pub(crate) fn is_mock(&self) -> bool {
        self.mock.is_some()
    }

    /// Moves a mock clock forward to `t` (never backward).
    pub(crate) fn advance_to(&self, t: Instant) {
        if let Some(now) = &self.mock {
            now.set(now.get().max(t));
        }
    }
}
