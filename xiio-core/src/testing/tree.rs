//! The live task tree: the tracer that follows every group, its body and
//! its children, and what each waits on, for [`task_tree`](super::task_tree)
//! and the mock clock's hang report.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::panic::Location;
use std::time::Instant;

use crate::task::trace::{Kind, Tracer, Wait};

/// The key of a group's body among its tasks.
const BODY: usize = usize::MAX;

/// A tracer that keeps the tree.
#[derive(Default)]
pub(crate) struct TaskTree {
    state: RefCell<Tree>,
}

/// The tree.
#[derive(Default)]
struct Tree {
    /// The live groups, by id (ids increase in creation order).
    groups: BTreeMap<u64, Group>,
    /// The tasks being polled, innermost last: a group made now is a child
    /// of the last one, and a wait reported now is the last one's.
    polling: Vec<(u64, usize)>,
    /// The id of the next group.
    next_id: u64,
}

/// What the tree knows of one group.
struct Group {
    /// The task that made it, if inside another group.
    parent: Option<(u64, usize)>,
    /// Its body (key `BODY`) and children, by key.
    tasks: BTreeMap<usize, TaskInfo>,
}

/// What the tree knows of one task.
struct TaskInfo {
    /// What it is.
    kind: Kind,
    /// Where it was added.
    at: Option<&'static Location<'static>>,
    /// Whether it was polled yet.
    polled: bool,
    /// What it waits on, as its last poll reported.
    waits: Vec<Wait>,
}

impl Tracer for TaskTree {
    fn group_started(&self) -> u64 {
        let mut tree = self.state.borrow_mut();
        tree.next_id += 1;
        let id = tree.next_id;
        let parent = tree.polling.last().copied();
        let tasks = BTreeMap::new();
        tree.groups.insert(id, Group { parent, tasks });
        id
    }

    fn group_ended(&self, group: u64) {
        self.state.borrow_mut().groups.remove(&group);
    }

    fn task_added(
        &self,
        group: u64,
        key: usize,
        kind: Kind,
        at: Option<&'static Location<'static>>,
    ) {
        let mut tree = self.state.borrow_mut();
        if let Some(group) = tree.groups.get_mut(&group) {
            let (polled, waits) = (false, Vec::new());
            let task = TaskInfo {
                kind,
                at,
                polled,
                waits,
            };
            group.tasks.insert(key, task);
        }
    }

    fn task_ended(&self, group: u64, key: usize) {
        if let Some(group) = self.state.borrow_mut().groups.get_mut(&group) {
            group.tasks.remove(&key);
        }
    }

    fn polling(&self, group: u64, key: usize) {
        let mut tree = self.state.borrow_mut();
        tree.polling.push((group, key));
        if let Some(task) = tree.task(group, key) {
            task.polled = true;
            task.waits.clear();
        }
    }

    fn polled(&self) {
        self.state.borrow_mut().polling.pop();
    }

    fn report(&self, now: Instant) -> String {
        self.render(now)
    }

    fn waits(&self, wait: Wait) {
        let mut tree = self.state.borrow_mut();
        let Some(&(group, key)) = tree.polling.last() else {
            return;
        };
        if let Some(task) = tree.task(group, key)
            && !task.waits.contains(&wait)
        {
            task.waits.push(wait);
        }
    }
}

impl Tree {
    fn task(&mut self, group: u64, key: usize) -> Option<&mut TaskInfo> {
        self.groups.get_mut(&group)?.tasks.get_mut(&key)
    }
}

impl TaskTree {
    /// The tree as text: each group, its body and its children (a nested
    /// group under the task that made it), where each task was added and
    /// what it waits on, with deadlines measured from `now`.
    fn render(&self, now: Instant) -> String {
        let tree = self.state.borrow();
        let mut out = String::new();
        if tree.groups.is_empty() {
            out.push_str("no task group is live\n");
        }
        let top = |group: &Group| {
            group
                .parent
                .is_none_or(|(p, _)| !tree.groups.contains_key(&p))
        };
        for (&id, _) in tree.groups.iter().filter(|(_, g)| top(g)) {
            tree.write_group(&mut out, id, 0, now);
        }
        out
    }
}

impl Tree {
    fn write_group(&self, out: &mut String, id: u64, depth: usize, now: Instant) {
        let indent = "  ".repeat(depth);
        let group = &self.groups[&id];
        let _ = writeln!(out, "{indent}group #{id}");
        // The body first, then the children in key order.
        let body = group.tasks.get(&BODY).map(|task| (BODY, task));
        let children = group.tasks.iter().filter(|(k, _)| **k != BODY);
        for (key, task) in body.into_iter().chain(children.map(|(k, t)| (*k, t))) {
            let name = match task.kind {
                Kind::Body => "body".to_string(),
                Kind::Task => format!("task {key}"),
                Kind::Background => format!("background task {key}"),
                Kind::Cleanup => format!("cleanup {key}"),
            };
            let at = match (task.kind, task.at) {
                (Kind::Body, Some(at)) => format!(" (group made at {at})"),
                (_, Some(at)) => format!(" (added at {at})"),
                (_, None) => String::new(),
            };
            let nested: Vec<u64> = self
                .groups
                .iter()
                .filter(|(_, g)| g.parent == Some((id, key)))
                .map(|(&nested, _)| nested)
                .collect();
            let what = match () {
                _ if self.polling.contains(&(id, key)) => "running".to_string(),
                _ if !task.waits.is_empty() => {
                    let waits: Vec<_> = task.waits.iter().map(|w| describe(w, now)).collect();
                    format!("waits on {}", waits.join(", "))
                }
                _ if !nested.is_empty() => "runs the group below".to_string(),
                _ if !task.polled => "not started yet".to_string(),
                _ => "woken by something else (a promise, a channel, a task...)".to_string(),
            };
            let _ = writeln!(out, "{indent}  {name}{at}: {what}");
            for nested in nested {
                self.write_group(out, nested, depth + 2, now);
            }
        }
    }
}

/// One wait, in words.
fn describe(wait: &Wait, now: Instant) -> String {
    match *wait {
        Wait::Timer(at) => match at.checked_duration_since(now) {
            Some(left) if !left.is_zero() => format!("a timer due in {left:?}"),
            _ => "a timer due now".to_string(),
        },
        Wait::Never => "a timer beyond the clock's range (for ever)".to_string(),
        Wait::Fd(fd, interest) => {
            let what = match (interest.is_readable(), interest.is_writable()) {
                (true, true) => "readable or writable",
                (true, false) => "readable",
                _ => "writable",
            };
            format!("fd {fd} to be {what}")
        }
        Wait::Outside(what) => what.to_string(),
    }
}
