//! The live task tree: every group, its body and its children, and what
//! each waits on, for a hang that explains itself and for
//! [`task_tree`](crate::task_tree) on demand.
//!
//! Groups borrow their environment (`TaskGroup<'env, E>`), so a registry
//! that outlives them cannot hold them. Each group keeps instead a small
//! `'static` record: its parent (the group and child that were being
//! polled when it was made) and, per child, its kind and the address of its
//! waker. The reactor holds clones of those wakers in its timers and fd
//! waits, so matching `Waker::data()` against the addresses tells what each
//! task waits on. The records are kept only while the runtime keeps a tree
//! (on the mock clock, or with `Builder::task_tree(true)`): otherwise a
//! group pays one branch per child.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt::Write;
use std::rc::{Rc, Weak};

use slab::Slab;

thread_local! {
    /// Whether the runtime on this thread keeps a tree.
    static ON: Cell<bool> = const { Cell::new(false) };
    /// The records of the live groups on this thread, in creation order
    /// (slab keys are reused, hence the id in each record).
    static GROUPS: RefCell<Slab<Weak<Record>>> = const { RefCell::new(Slab::new()) };
    /// The group and child being polled, innermost last: a group made now
    /// is a child of the top one.
    static POLLING: RefCell<Vec<(u64, usize)>> = const { RefCell::new(Vec::new()) };
    /// Ids of groups, in creation order.
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

/// The key of a group's body among its children.
pub(crate) const BODY: usize = usize::MAX;

/// Turns the tree on or off for the runtime starting on this thread.
pub(crate) fn set_on(on: bool) {
    ON.with(|flag| flag.set(on));
}

/// What the tree knows of one group.
pub(crate) struct Record {
    /// The group's id, in creation order.
    id: u64,
    /// The group and child that made it, if inside another group.
    parent: Option<(u64, usize)>,
    /// Its key in `GROUPS`.
    key: Cell<usize>,
    /// Per child key: its kind and its waker's address (0 until it has one).
    children: RefCell<Vec<Option<(&'static str, usize)>>>,
}

impl Record {
    /// A record for a new group, if the tree is on.
    pub(crate) fn new() -> Option<Rc<Record>> {
        if !ON.with(Cell::get) {
            return None;
        }
        let id = NEXT_ID.with(|next| next.replace(next.get() + 1));
        let parent = POLLING.with(|polling| polling.borrow().last().copied());
        let record = Rc::new(Record {
            id,
            parent,
            key: Cell::new(0),
            children: RefCell::new(Vec::new()),
        });
        let key = GROUPS.with(|groups| groups.borrow_mut().insert(Rc::downgrade(&record)));
        record.key.set(key);
        Some(record)
    }

    /// Records a child (`BODY` for the body) of a kind, with its waker's
    /// address if it has one yet.
    pub(crate) fn set_child(&self, key: usize, kind: &'static str, waker: usize) {
        let index = if key == BODY { 0 } else { key + 1 };
        let mut children = self.children.borrow_mut();
        if children.len() <= index {
            children.resize(index + 1, None);
        }
        children[index] = Some((kind, waker));
    }

    /// Records the waker of a child once it is made.
    pub(crate) fn set_waker(&self, key: usize, waker: usize) {
        let index = if key == BODY { 0 } else { key + 1 };
        if let Some(Some((_, address))) = self.children.borrow_mut().get_mut(index) {
            *address = waker;
        }
    }

    /// Forgets a child that ended.
    pub(crate) fn remove_child(&self, key: usize) {
        let index = if key == BODY { 0 } else { key + 1 };
        if let Some(slot) = self.children.borrow_mut().get_mut(index) {
            *slot = None;
        }
    }

    /// Marks `key` of this group as the one being polled until the guard
    /// is dropped.
    pub(crate) fn polling(&self, key: usize) -> Polling {
        POLLING.with(|polling| polling.borrow_mut().push((self.id, key)));
        Polling(())
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        let _ = GROUPS.try_with(|groups| groups.borrow_mut().try_remove(self.key.get()));
    }
}

/// Pops the polled child when dropped (also while unwinding).
pub(crate) struct Polling(());

impl Drop for Polling {
    fn drop(&mut self) {
        let _ = POLLING.try_with(|polling| polling.borrow_mut().pop());
    }
}

/// Writes the tree: each group, its body and its children, indented under
/// the child that made them, with what each waits on (`waits` maps a
/// waker's address to the waits the reactor has for it).
pub(crate) fn report(waits: &HashMap<usize, Vec<String>>) -> String {
    let groups: Vec<Rc<Record>> = GROUPS.with(|groups| {
        let groups = groups.borrow();
        let mut live: Vec<_> = groups.iter().filter_map(|(_, g)| g.upgrade()).collect();
        live.sort_by_key(|g| g.id);
        live
    });
    let mut out = String::new();
    if groups.is_empty() {
        out.push_str("no task group is live (the tree is kept on the mock clock, or with Builder::task_tree)\n");
        return out;
    }
    let ids: Vec<u64> = groups.iter().map(|g| g.id).collect();
    for group in groups
        .iter()
        .filter(|g| g.parent.is_none_or(|(p, _)| !ids.contains(&p)))
    {
        write_group(&mut out, group, &groups, waits, 0);
    }
    out
}

fn write_group(
    out: &mut String,
    group: &Record,
    groups: &[Rc<Record>],
    waits: &HashMap<usize, Vec<String>>,
    depth: usize,
) {
    let indent = "  ".repeat(depth);
    let _ = writeln!(out, "{indent}group #{}", group.id);
    let children = group.children.borrow().clone();
    for (index, child) in children.iter().enumerate() {
        let Some((kind, waker)) = *child else {
            continue;
        };
        let key = if index == 0 { BODY } else { index - 1 };
        let name = if key == BODY {
            "body".to_string()
        } else {
            format!("{kind} {key}")
        };
        let running = POLLING.with(|polling| polling.borrow().contains(&(group.id, key)));
        let what = match waits.get(&waker) {
            _ if running => "running".to_string(),
            Some(waits) => format!("waits on {}", waits.join(", ")),
            None if waker == 0 => "not started yet".to_string(),
            None => "woken by something else (a promise, a channel, a child...)".to_string(),
        };
        let _ = writeln!(out, "{indent}  {name}: {what}");
        for nested in groups.iter().filter(|g| g.parent == Some((group.id, key))) {
            write_group(out, nested, groups, waits, depth + 2);
        }
    }
}
