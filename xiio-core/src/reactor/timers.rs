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
//! - A pending timer's deadline and waker travel with it, in the wheel's
//!   lists and the set, so moving and firing timers reads those lists in
//!   order instead of visiting each timer's slab entry (a cache miss each
//!   when timers are many). The slab keeps, per key, only where the timer
//!   is, in two words.
//! - A dropped handle does not know its deadline, so a timer dropped while
//!   in the set stays there, stale, until it is due (within the
//!   millisecond, usually) or until stale timers are half of the set,
//!   which is then swept. Stale timers never fire and are never reported
//!   as the next deadline.

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

/// A pending timer in a slot of the wheel.
struct Pending {
    /// When it fires.
    deadline: Instant,
    /// Its id in this reactor, in creation order (slab keys are reused).
    id: u64,
    /// Its key in the slab.
    key: u32,
    /// Whom to wake when it fires.
    waker: Waker,
}

/// A timer, by key: its id, and where it is.
struct Entry {
    /// As in [`Pending::id`]; tells a stale timer of the set from the
    /// timer that reuses its key.
    id: u64,
    /// Where it is.
    at: At,
}

/// Where a timer is.
#[derive(Clone, Copy, PartialEq)]
enum At {
    /// In a slot of the wheel, at this position of its list.
    Wheel { slot: u16, pos: u32 },
    /// In the ordered set.
    Near,
    /// Nowhere: it fired.
    Fired,
}

// Per timer: a slab entry of two words, and its `Pending`.
const _: () = assert!(std::mem::size_of::<Entry>() <= 16);
const _: () = assert!(std::mem::size_of::<Pending>() <= 48);

/// The timers of one reactor.
pub(super) struct Timers {
    /// Live timers (pending or fired, until their `Timer` is dropped).
    entries: Slab<Entry>,
    /// Millisecond 0 of the wheel.
    origin: Instant,
    /// The wheel's current millisecond: every pending timer of this
    /// millisecond or before is in `near`.
    elapsed: u64,
    /// The timers the wheel reached, by `(deadline, id)`: their keys and
    /// wakers.
    near: BTreeMap<(Instant, u64), (u32, Waker)>,
    /// Timers in `near` that were dropped (see the module docs).
    stale: usize,
    /// The wheel: `LEVELS * SLOTS` lists.
    slots: Vec<Vec<Pending>>,
    /// Per level, a bit per slot whose list is not empty.
    occupied: [u64; LEVELS],
    /// Timers not fired yet.
    pending: usize,
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
            stale: 0,
            slots: (0..LEVELS * SLOTS).map(|_| Vec::new()).collect(),
            occupied: [0; LEVELS],
            pending: 0,
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
    fn add(&mut self, deadline: Instant, waker: &Waker) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        let key = self.entries.insert(Entry { id, at: At::Fired });
        // A slab of 2^32 timers would take hundreds of gigabytes first.
        let key = u32::try_from(key).expect("fewer than 2^32 timers");
        self.pending += 1;
        self.place(Pending {
            deadline,
            id,
            key,
            waker: waker.clone(),
        });
        key
    }

    /// Puts a pending timer where it belongs now.
    fn place(&mut self, timer: Pending) {
        let tick = self.tick(timer.deadline);
        let level = match tick.checked_sub(self.elapsed) {
            None | Some(0) => LEVELS,
            Some(_) => ((63 - (self.elapsed ^ tick).leading_zeros()) / BITS) as usize,
        };
        let entry = &mut self.entries[timer.key as usize];
        if level >= LEVELS {
            // Due this millisecond (or before), or beyond the wheel.
            entry.at = At::Near;
            let key = (timer.deadline, timer.id);
            self.near.insert(key, (timer.key, timer.waker));
            return;
        }
        let digit = (tick >> (BITS * level as u32)) as usize % SLOTS;
        let slot = level * SLOTS + digit;
        let list = &mut self.slots[slot];
        entry.at = At::Wheel {
            slot: slot as u16,
            pos: list.len() as u32,
        };
        list.push(timer);
        self.occupied[level] |= 1 << digit;
    }

    /// Moves `timers`, all due by the wheel's current millisecond, into
    /// the set.
    fn add_to_near(&mut self, timers: &mut Vec<Pending>) {
        let mut batch: BTreeMap<_, _> = timers
            .drain(..)
            .map(|timer| {
                self.entries[timer.key as usize].at = At::Near;
                ((timer.deadline, timer.id), (timer.key, timer.waker))
            })
            .collect();
        // `append` rebuilds both into one tree: worth it for a batch at
        // least as large as the set (the set is usually empty).
        match batch.len() >= self.near.len() {
            true => self.near.append(&mut batch),
            false => self.near.extend(batch),
        }
    }

    /// Removes a timer (fired or not); its waker, if it was pending and
    /// `deadline` (its deadline) was given. Without it, a timer in the set
    /// stays there, stale (see the module docs).
    fn remove(&mut self, key: u32, deadline: Option<Instant>) -> Option<Waker> {
        let entry = self.entries.remove(key as usize);
        if entry.at != At::Fired {
            self.pending -= 1;
        }
        match (entry.at, deadline) {
            (At::Fired, _) => None,
            (At::Wheel { slot, pos }, _) => Some(self.unlink(slot as usize, pos as usize)),
            (At::Near, Some(deadline)) => {
                let near = self.near.remove(&(deadline, entry.id));
                Some(near.expect("a timer in the set is there by its deadline").1)
            }
            (At::Near, None) => {
                self.stale += 1;
                if self.stale * 2 > self.near.len() {
                    self.sweep();
                }
                None
            }
        }
    }

    /// True if the timer of the set with this key and id was dropped.
    fn is_stale(&self, key: u32, id: u64) -> bool {
        self.entries.get(key as usize).is_none_or(|e| e.id != id)
    }

    /// Drops the stale timers of the set.
    fn sweep(&mut self) {
        let mut near = std::mem::take(&mut self.near);
        near.retain(|&(_, id), &mut (key, _)| !self.is_stale(key, id));
        self.near = near;
        self.stale = 0;
    }

    /// Takes the timer at `pos` out of the wheel's `slot`.
    fn unlink(&mut self, slot: usize, pos: usize) -> Waker {
        let list = &mut self.slots[slot];
        let timer = list.swap_remove(pos);
        if let Some(moved) = list.get(pos) {
            self.entries[moved.key as usize].at = At::Wheel {
                slot: slot as u16,
                pos: pos as u32,
            };
        }
        if list.is_empty() {
            self.occupied[slot / SLOTS] &= !(1 << (slot % SLOTS));
        }
        timer.waker
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
            if slot < SLOTS {
                // All of a first-level slot's timers are due in its
                // millisecond: into the set as one sorted batch, cheaper
                // than one insertion each.
                self.add_to_near(&mut list);
            }
            // Each lands in a lower level or the set, never in this slot.
            for timer in list.drain(..) {
                self.place(timer);
            }
            self.slots[slot] = list; // keep its buffer
        }
        self.elapsed = self.elapsed.max(tick);
    }

    /// The first timer of the set that is not stale (stale ones before it
    /// are dropped): its deadline.
    fn first_near(&mut self) -> Option<Instant> {
        while let Some((&(deadline, id), &(key, _))) = self.near.first_key_value() {
            if !self.is_stale(key, id) {
                return Some(deadline);
            }
            self.near.pop_first();
            self.stale -= 1;
        }
        None
    }

    /// A time at or before the earliest pending deadline, and after now
    /// once `fire` ran: the earliest deadline if the set has it, else the
    /// start of the wheel's earliest slot (waking there moves the slot's
    /// timers down; at most one early wake per level).
    pub(super) fn next_wakeup(&mut self) -> Option<Instant> {
        let near = self.first_near();
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
            let near = self.first_near();
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
        while let Some(first) = self.near.first_entry() {
            if first.key().0 > now {
                break;
            }
            let ((_, id), (key, waker)) = first.remove_entry();
            match self.entries.get_mut(key as usize) {
                Some(entry) if entry.id == id => {
                    entry.at = At::Fired;
                    self.pending -= 1;
                    to_wake.push(waker);
                }
                _ => self.stale -= 1,
            }
        }
    }

    /// Live timers, and how many of them are pending.
    pub(super) fn counts(&self) -> (usize, usize) {
        (self.entries.len(), self.pending)
    }
}

/// A timer in one reactor, which wakes a task at its deadline; removed
/// when dropped. Its owner knows its deadline and passes it to the
/// methods that need it.
#[derive(Debug)]
pub(crate) struct Timer {
    /// The reactor it lives in.
    reactor: ReactorId,
    /// Its key in the reactor's timers (32 bits: with the reactor's id,
    /// the handle is one word, and a `Sleep` three).
    key: u32,
}

impl Timer {
    /// A timer in `reactor` that wakes `waker` at `deadline`.
    pub(crate) fn new(reactor: &Reactor, deadline: Instant, waker: &Waker) -> Timer {
        let key = reactor.timers.borrow_mut().add(deadline, waker);
        Timer {
            reactor: reactor.id,
            key,
        }
    }

    /// Moves it from `deadline` to `to` if it is pending, keeping its
    /// waker (the task that waits on it is woken at the new deadline
    /// without polling again): cancelled and armed anew, in the slab slot
    /// just freed. It fires as if armed now (after the timers of its
    /// deadline armed before). False if it fired or its reactor is gone:
    /// there is no waker to keep, and the next poll makes a new timer.
    pub(crate) fn reset(&mut self, deadline: Instant, to: Instant) -> bool {
        let Some(reactor) = Reactor::of(self.reactor) else {
            return false;
        };
        let mut timers = reactor.timers.borrow_mut();
        if timers.entries[self.key as usize].at == At::Fired {
            return false;
        }
        let waker = timers.remove(self.key, Some(deadline));
        self.key = timers.add(to, &waker.expect("a pending timer has its waker"));
        true
    }

    /// True if it lives in `reactor`.
    pub(crate) fn is_in(&self, reactor: &Reactor) -> bool {
        self.reactor == reactor.id
    }

    /// True once it fired (its deadline passed on the reactor's clock; a
    /// woken sleep knows it is done without reading the clock); otherwise
    /// `waker` is the one it wakes. `reactor` is the one it lives in,
    /// `deadline` its deadline.
    pub(crate) fn fired(&self, reactor: &Reactor, deadline: Instant, waker: &Waker) -> bool {
        let mut timers = reactor.timers.borrow_mut();
        let timers = &mut *timers;
        let entry = &timers.entries[self.key as usize];
        let kept = match entry.at {
            At::Fired => return true,
            At::Wheel { slot, pos } => &mut timers.slots[slot as usize][pos as usize].waker,
            At::Near => match timers.near.get_mut(&(deadline, entry.id)) {
                Some((_, kept)) => kept,
                None => unreachable!("a timer in the set is there by its deadline"),
            },
        };
        if !kept.will_wake(waker) {
            *kept = waker.clone();
        }
        false
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(reactor) = Reactor::of(self.reactor) {
            drop(reactor.timers.borrow_mut().remove(self.key, None));
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
        let mut live: Vec<(u32, Instant, u64)> = Vec::new();
        let mut to_wake = Vec::new();
        for _ in 0..20_000 {
            match rng.below(10) {
                0..=4 => {
                    let deadline = now + span(&mut rng);
                    // The waker logs the timer's id.
                    let tag = timers.next_id;
                    let waker = Waker::from(Arc::new(Recorder(tag, log.clone())));
                    let key = timers.add(deadline, &waker);
                    assert_eq!(timers.entries[key as usize].id, tag);
                    model.insert((deadline, tag));
                    live.push((key, deadline, tag));
                }
                5..=6 if !live.is_empty() => {
                    let (key, deadline, tag) =
                        live.swap_remove(rng.below(live.len() as u64) as usize);
                    // As a dropped handle (no deadline: a timer in the
                    // set goes stale), or as a reset one.
                    let known = (rng.below(2) == 0).then_some(deadline);
                    let in_near = timers.entries[key as usize].at == At::Near;
                    let waker = timers.remove(key, known);
                    assert_eq!(waker.is_some(), known.is_some() || !in_near);
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
                        let pending = timers.entries[key as usize].at != At::Fired;
                        if !pending {
                            assert!(timers.remove(key, None).is_none());
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
