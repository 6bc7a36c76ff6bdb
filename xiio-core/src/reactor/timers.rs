//! The reactor's timers: a hierarchical wheel for deadlines beyond the
//! current millisecond, an ordered set for the rest.
//!
//! - Arming and cancelling a timer in the wheel is O(1): a push onto, or a
//!   swap-remove from, one slot's list. Most timers never fire (timeouts of
//!   work that finished in time), so they never leave the wheel.
//! - The wheel has six levels of 64 slots; a slot of level `l` spans
//!   `64^l` milliseconds. A timer sits at the level of the highest 6-bit
//!   digit in which its millisecond differs from the wheel's current one,
//!   so a lower level always holds earlier timers than a higher one. When
//!   the wheel reaches a slot, its timers move down a level (or more), and
//!   those of the current millisecond move to the ordered set. Each timer
//!   moves at most six times.
//! - The ordered set (`near`, a B-tree by `(deadline, id)`) holds what the
//!   wheel reached. It makes firing exact: a timer fires when the clock
//!   reaches its exact deadline, not its millisecond, and timers with equal
//!   deadlines fire in creation order (ids increase). The mock clock jumps
//!   to exact deadlines from here too. It holds only the timers of the
//!   millisecond at hand (and the few beyond the wheel's two-year reach),
//!   so it stays small.

use std::collections::BTreeMap;
use std::task::Waker;
use std::time::Instant;

use slab::Slab;

use super::{Reactor, ReactorId};

/// Bits of a wheel level: 64 slots per level.
const BITS: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << BITS;
/// Levels: 64^6 ms, about two years, before a timer waits in `near`.
const LEVELS: usize = 6;

/// One timer.
struct TimerEntry {
    /// Its id in this reactor, in creation order (slab keys are reused).
    id: u64,
    /// When it fires.
    deadline: Instant,
    /// Whom to wake when it fires; `None` once it fired.
    waker: Option<Waker>,
    /// Where a pending timer is.
    place: Place,
}

/// Where a pending timer is.
#[derive(Clone, Copy)]
enum Place {
    /// In the ordered set.
    Near,
    /// In a slot of the wheel, at this position of its list.
    Wheel { slot: u16, pos: u32 },
}

/// The timers of one reactor.
pub(super) struct Timers {
    /// Live timers (pending or fired, until their `Timer` is dropped).
    entries: Slab<TimerEntry>,
    /// Millisecond 0 of the wheel.
    origin: Instant,
    /// The wheel's current millisecond: every pending timer of this
    /// millisecond or before is in `near`.
    elapsed: u64,
    /// The slab keys of the timers the wheel reached, by `(deadline, id)`.
    near: BTreeMap<(Instant, u64), usize>,
    /// The wheel: `LEVELS * SLOTS` lists of slab keys.
    slots: Vec<Vec<usize>>,
    /// Per level, a bit per slot whose list is not empty.
    occupied: [u64; LEVELS],
    /// Timers in the wheel.
    in_wheel: usize,
    /// The id of the next timer.
    next_id: u64,
}

impl Timers {
    /// No timers; the wheel starts at `origin`.
    pub(super) fn new(origin: Instant) -> Timers {
        Timers {
            entries: Slab::new(),
            origin,
            elapsed: 0,
            near: BTreeMap::new(),
            slots: (0..LEVELS * SLOTS).map(|_| Vec::new()).collect(),
            occupied: [0; LEVELS],
            in_wheel: 0,
            next_id: 0,
        }
    }

    /// The wheel's millisecond of `t`.
    fn tick(&self, t: Instant) -> u64 {
        // Not `as_millis`: its u128 division cost more than the rest of
        // placing a timer.
        let since = t.saturating_duration_since(self.origin);
        since
            .as_secs()
            .saturating_mul(1000)
            .saturating_add(u64::from(since.subsec_millis()))
    }

    /// Adds a timer that wakes `waker` at `deadline`; its key.
    fn add(&mut self, deadline: Instant, waker: &Waker) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        let index = self.entries.insert(TimerEntry {
            id,
            deadline,
            waker: Some(waker.clone()),
            place: Place::Near,
        });
        self.place(index);
        index
    }

    /// Puts the pending timer at `index` where it belongs now.
    fn place(&mut self, index: usize) {
        let entry = &self.entries[index];
        let tick = self.tick(entry.deadline);
        let level = match tick.checked_sub(self.elapsed) {
            None | Some(0) => LEVELS,
            Some(_) => ((63 - (self.elapsed ^ tick).leading_zeros()) / BITS) as usize,
        };
        if level >= LEVELS {
            // Due this millisecond (or before), or beyond the wheel.
            self.near.insert((entry.deadline, entry.id), index);
            self.entries[index].place = Place::Near;
            return;
        }
        let digit = (tick >> (BITS * level as u32)) as usize % SLOTS;
        let slot = level * SLOTS + digit;
        let list = &mut self.slots[slot];
        let pos = list.len();
        list.push(index);
        self.occupied[level] |= 1 << digit;
        self.in_wheel += 1;
        self.entries[index].place = Place::Wheel {
            slot: slot as u16,
            pos: pos as u32,
        };
    }

    /// Removes a timer (fired or not).
    fn remove(&mut self, key: usize) {
        let entry = self.entries.remove(key);
        if entry.waker.is_some() {
            // Not fired yet: it is in the set or the wheel.
            match entry.place {
                Place::Near => drop(self.near.remove(&(entry.deadline, entry.id))),
                Place::Wheel { slot, pos } => self.unlink(slot as usize, pos as usize),
            }
        }
    }

    /// Takes the timer at `pos` out of the wheel's `slot`.
    fn unlink(&mut self, slot: usize, pos: usize) {
        let list = &mut self.slots[slot];
        list.swap_remove(pos);
        if let Some(&moved) = list.get(pos) {
            self.entries[moved].place = Place::Wheel {
                slot: slot as u16,
                pos: pos as u32,
            };
        }
        if list.is_empty() {
            self.occupied[slot / SLOTS] &= !(1 << (slot % SLOTS));
        }
        self.in_wheel -= 1;
    }

    /// The earliest non-empty slot of the wheel, and the millisecond it
    /// starts at. A lower level is always earlier than a higher one, and
    /// within a level every occupied slot lies after the current digit.
    fn earliest_slot(&self) -> Option<(usize, u64)> {
        let level = self.occupied.iter().position(|&bits| bits != 0)?;
        let digit = self.occupied[level].trailing_zeros() as u64;
        let shift = BITS * level as u32;
        let block = self.elapsed >> (shift + BITS) << (shift + BITS);
        Some((level * SLOTS + digit as usize, block | (digit << shift)))
    }

    /// Moves the wheel on to millisecond `tick`: the timers of every slot
    /// reached go down to where they belong now (the set, for those of
    /// `tick` or before).
    fn advance_to(&mut self, tick: u64) {
        while let Some((slot, start)) = self.earliest_slot() {
            if start > tick {
                break;
            }
            self.elapsed = self.elapsed.max(start);
            let mut list = std::mem::take(&mut self.slots[slot]);
            self.occupied[slot / SLOTS] &= !(1 << (slot % SLOTS));
            self.in_wheel -= list.len();
            // Each lands in a lower level or the set, never in this slot.
            for &index in &list {
                self.place(index);
            }
            list.clear();
            self.slots[slot] = list; // keep its buffer
        }
        self.elapsed = self.elapsed.max(tick);
    }

    /// A time at or before the earliest pending deadline, and after now
    /// once `fire` ran: the earliest deadline if the set has it, else the
    /// start of the wheel's earliest slot (waking there moves the slot's
    /// timers down; at most one early wake per level).
    pub(super) fn next_wakeup(&self) -> Option<Instant> {
        let near = self.near.first_key_value().map(|(k, _)| k.0);
        let wheel = self
            .earliest_slot()
            .map(|(_, start)| self.origin + std::time::Duration::from_millis(start));
        match (near, wheel) {
            (Some(near), Some(wheel)) => Some(near.min(wheel)),
            (near, wheel) => near.or(wheel),
        }
    }

    /// The earliest pending deadline, exactly, for a mock clock about to
    /// jump to it. Moves the wheel on to it (which changes no timer's
    /// deadline or order; the clock's jump follows).
    pub(super) fn next_deadline(&mut self) -> Option<Instant> {
        loop {
            let near = self.near.first_key_value().map(|(k, _)| k.0);
            match (near, self.earliest_slot()) {
                // The slot's timers are all at `start` or later, so the
                // set's first one is earlier than any of them.
                (Some(near), Some((_, start))) if self.tick(near) < start => return Some(near),
                (near, None) => return near,
                (_, Some((_, start))) => self.advance_to(start),
            }
        }
    }

    /// Takes the wakers of the timers due at `now` (in deadline order, then
    /// creation order) into `to_wake`.
    pub(super) fn fire(&mut self, now: Instant, to_wake: &mut Vec<Waker>) {
        self.advance_to(self.tick(now));
        // "Due" includes a deadline equal to now: a sleep of zero is due at
        // once, and a mock clock that jumped to a deadline fires it.
        while let Some(entry) = self.near.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let index = entry.remove();
            // A pending timer in the set has its waker, by construction.
            to_wake.extend(self.entries[index].waker.take());
        }
    }

    /// Live timers, and how many of them are pending.
    pub(super) fn counts(&self) -> (usize, usize) {
        (self.entries.len(), self.near.len() + self.in_wheel)
    }
}

/// A timer in one reactor, which wakes a task at its deadline; removed
/// when dropped.
#[derive(Debug)]
pub(crate) struct Timer {
    /// The reactor it lives in.
    reactor: ReactorId,
    /// Its key in the reactor's timers (32 bits: with the reactor's id,
    /// the handle is one word, and a `Sleep` three).
    key: u32,
}

/// A key of the timers' slab as a handle's key. (A slab of 2^32 timers
/// would take hundreds of gigabytes first.)
fn handle_key(key: usize) -> u32 {
    u32::try_from(key).expect("fewer than 2^32 timers")
}

impl Timer {
    /// A timer in `reactor` that wakes `waker` at `deadline`.
    pub(crate) fn new(reactor: &Reactor, deadline: Instant, waker: &Waker) -> Timer {
        let key = reactor.timers.borrow_mut().add(deadline, waker);
        Timer {
            reactor: reactor.id,
            key: handle_key(key),
        }
    }

    fn key(&self) -> usize {
        self.key as usize
    }

    /// Moves it to `deadline` if it is pending, keeping its waker (the task
    /// that waits on it is woken at the new deadline without polling
    /// again): cancelled and armed anew, in the slab slot just freed. It
    /// fires as if armed now (after the timers of its deadline armed
    /// before). False if it fired or its reactor is gone: there is no
    /// waker to keep, and the next poll makes a new timer.
    pub(crate) fn reset(&mut self, deadline: Instant) -> bool {
        let Some(reactor) = Reactor::of(self.reactor) else {
            return false;
        };
        let mut timers = reactor.timers.borrow_mut();
        let Some(waker) = timers.entries[self.key()].waker.clone() else {
            return false;
        };
        timers.remove(self.key());
        self.key = handle_key(timers.add(deadline, &waker));
        true
    }

    /// True if it lives in `reactor`.
    pub(crate) fn is_in(&self, reactor: &Reactor) -> bool {
        self.reactor == reactor.id
    }

    /// True once it fired (its deadline passed on the reactor's clock; a
    /// woken sleep knows it is done without reading the clock); otherwise
    /// `waker` is the one it wakes. `reactor` is the one it lives in.
    pub(crate) fn fired(&self, reactor: &Reactor, waker: &Waker) -> bool {
        let mut timers = reactor.timers.borrow_mut();
        match &mut timers.entries[self.key()].waker {
            None => true,
            Some(old) => {
                if !old.will_wake(waker) {
                    *old = waker.clone();
                }
                false
            }
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(reactor) = Reactor::of(self.reactor) {
            reactor.timers.borrow_mut().remove(self.key());
        }
    }
}

#[cfg(test)]
mod tests {
    //! The wheel against a model: a sorted set of `(deadline, id)`.

    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};
    use std::task::Wake;
    use std::time::Duration;

    use super::*;

    /// Logs its number when woken.
    struct Recorder(u64, Arc<Mutex<Vec<u64>>>);

    impl Wake for Recorder {
        fn wake(self: Arc<Self>) {
            self.1.lock().unwrap().push(self.0);
        }
    }

    /// xorshift64*, fixed seeds.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
        }
    }

    /// A random span: sub-millisecond to beyond the wheel's two years.
    fn span(rng: &mut Rng) -> Duration {
        let max_nanos: u64 = match rng.below(6) {
            0 => 2_000_000,                // 2 ms
            1 => 100_000_000,              // 100 ms
            2 => 10_000_000_000,           // 10 s
            3 => 36_000_000_000_000,       // 10 h
            4 => 100_000_000_000_000_000,  // 3 years
            _ => 5_000_000 * rng.below(4), // a few equal deadlines
        };
        Duration::from_nanos(rng.below(max_nanos + 1))
    }

    fn run(seed: u64, exact: bool) {
        let mut rng = Rng(seed);
        let origin = Instant::now();
        let mut now = origin;
        let mut timers = Timers::new(origin);
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut model: BTreeSet<(Instant, u64)> = BTreeSet::new();
        let mut live: Vec<(usize, Instant, u64)> = Vec::new();
        let mut to_wake = Vec::new();
        for _ in 0..20_000 {
            match rng.below(10) {
                0..=4 => {
                    let deadline = now + span(&mut rng);
                    let waker = Waker::from(Arc::new(Recorder(0, log.clone())));
                    let key = timers.add(deadline, &waker);
                    // Rewire the waker to log the timer's id.
                    let tag = timers.entries[key].id;
                    timers.entries[key].waker =
                        Some(Waker::from(Arc::new(Recorder(tag, log.clone()))));
                    model.insert((deadline, tag));
                    live.push((key, deadline, tag));
                }
                5..=6 if !live.is_empty() => {
                    let (key, deadline, tag) =
                        live.swap_remove(rng.below(live.len() as u64) as usize);
                    timers.remove(key);
                    model.remove(&(deadline, tag));
                }
                _ => {
                    let first = model.first().map(|&(d, _)| d);
                    assert!(
                        timers
                            .next_wakeup()
                            .is_none_or(|w| first.is_some_and(|d| w <= d))
                    );
                    if exact {
                        assert_eq!(timers.next_deadline(), first);
                        match first {
                            Some(d) => now = d,
                            None => continue,
                        }
                    } else {
                        // As the real clock: wake at the bound, or earlier.
                        let step = match timers.next_wakeup() {
                            Some(w) if rng.below(2) == 0 => w.saturating_duration_since(now),
                            _ => span(&mut rng) / 4,
                        };
                        now += step;
                    }
                    timers.fire(now, &mut to_wake);
                    to_wake.drain(..).for_each(Waker::wake);
                    let due: Vec<_> = model
                        .iter()
                        .take_while(|&&(d, _)| d <= now)
                        .copied()
                        .collect();
                    let fired = std::mem::take(&mut *log.lock().unwrap());
                    assert_eq!(fired, due.iter().map(|&(_, tag)| tag).collect::<Vec<_>>());
                    for item in &due {
                        model.remove(item);
                    }
                    live.retain(|&(key, ..)| {
                        let pending = timers.entries[key].waker.is_some();
                        if !pending {
                            timers.remove(key);
                        }
                        pending
                    });
                    // No wake-up due at once after firing: no busy loop.
                    assert!(timers.next_wakeup().is_none_or(|w| w > now));
                }
            }
            assert_eq!(timers.counts(), (live.len(), model.len()));
        }
    }

    #[test]
    fn the_wheel_fires_exactly_what_the_model_says_on_a_mock_clock() {
        for seed in 1..=5u64 {
            run(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), true);
        }
    }

    #[test]
    fn the_wheel_fires_exactly_what_the_model_says_on_a_stepping_clock() {
        for seed in 1..=5u64 {
            run(seed.wrapping_mul(0x2545_f491_4f6c_dd1d), false);
        }
    }
}
