//! The Wing & Gong search over one key's operations: the event list, the
//! depth-first search with backtracking and its cache of explored states, and
//! the frontier it reports when no order works.

use std::collections::HashSet;
use std::time::Instant;

use super::model::{KeyOp, State};

/// A set of operations, by their index in the key's sorted operations.
#[derive(Clone, Debug)]
struct Bitset {
    words: Vec<u64>,
}

/// A compact, canonical copy of a [`Bitset`]: leading all-ones words are
/// counted and trailing zero words dropped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Fingerprint {
    full_words: usize,
    rest: Box<[u64]>,
}

impl Bitset {
    fn with_len(bits: usize) -> Self {
        Self {
            words: vec![0; bits.div_ceil(64)],
        }
    }

    fn set(&mut self, bit: usize) {
        if let Some(word) = self.words.get_mut(bit / 64) {
            *word |= 1 << (bit % 64);
        }
    }

    fn clear(&mut self, bit: usize) {
        if let Some(word) = self.words.get_mut(bit / 64) {
            *word &= !(1 << (bit % 64));
        }
    }

    fn fingerprint(&self) -> Fingerprint {
        let full_words = self.words.iter().take_while(|&&w| w == u64::MAX).count();
        let end = self
            .words
            .iter()
            .rposition(|&w| w != 0)
            .map_or(full_words, |last| (last + 1).max(full_words));
        Fingerprint {
            full_words,
            rest: self.words.get(full_words..end).unwrap_or_default().into(),
        }
    }
}

/// A node of the event list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Head,
    Call(usize),
    Return(usize),
    Tail,
}

const HEAD: usize = 0;

/// The Wing & Gong list of call and return events in time order, from which
/// placed operations are unlinked and relinked on backtracking.
struct EventList {
    events: Vec<Event>,
    next: Vec<usize>,
    prev: Vec<usize>,
    call_node: Vec<usize>,
    return_node: Vec<Option<usize>>,
}

impl EventList {
    /// At equal times calls come before returns, so touching operations
    /// count as concurrent.
    fn new(ops: &[KeyOp]) -> Self {
        // (time, is a return, operation): calls sort first at equal times.
        let mut timed = Vec::with_capacity(ops.len() * 2);
        for (index, op) in ops.iter().enumerate() {
            timed.push((op.call, false, index));
            if let Some(ret) = op.deadline {
                timed.push((ret, true, index));
            }
        }
        timed.sort_unstable();
        let mut events = vec![Event::Head];
        let mut call_node = vec![0; ops.len()];
        let mut return_node = vec![None; ops.len()];
        for (_, is_return, index) in timed {
            let node = events.len();
            if is_return {
                return_node[index] = Some(node);
                events.push(Event::Return(index));
            } else {
                call_node[index] = node;
                events.push(Event::Call(index));
            }
        }
        events.push(Event::Tail);
        let count = events.len();
        Self {
            events,
            next: (1..=count).collect(),
            prev: (0..count).map(|node| node.saturating_sub(1)).collect(),
            call_node,
            return_node,
        }
    }

    fn event(&self, node: usize) -> Event {
        self.events.get(node).copied().unwrap_or(Event::Tail)
    }

    fn first(&self) -> usize {
        self.next[HEAD]
    }

    fn after(&self, node: usize) -> usize {
        self.next[node]
    }

    fn after_call(&self, op: usize) -> usize {
        self.next[self.call_node[op]]
    }

    fn unlink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = next;
        self.prev[next] = prev;
    }

    fn relink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = node;
        self.prev[next] = node;
    }

    fn lift(&mut self, op: usize) {
        self.unlink(self.call_node[op]);
        if let Some(ret) = self.return_node[op] {
            self.unlink(ret);
        }
    }

    /// Undoes [`EventList::lift`]; lifts must be undone in reverse order.
    fn unlift(&mut self, op: usize) {
        if let Some(ret) = self.return_node[op] {
            self.relink(ret);
        }
        self.relink(self.call_node[op]);
    }

    /// The operations that may be placed next (those called before the
    /// earliest pending return), and the operation of that return.
    fn pending(&self) -> (Vec<usize>, Option<usize>) {
        let mut ops = Vec::new();
        let mut node = self.first();
        loop {
            match self.event(node) {
                Event::Call(op) => ops.push(op),
                Event::Return(op) => return (ops, Some(op)),
                Event::Head | Event::Tail => return (ops, None),
            }
            node = self.after(node);
        }
    }
}

/// A placed operation and what to restore on backtracking.
struct Frame {
    op: usize,
    before: State,
    /// Placed without a choice point (it left the state unchanged).
    forced: bool,
}

/// Where the deepest branch of the search got stuck.
pub(super) struct Frontier {
    /// Placed operations, in linearization order.
    pub(super) prefix: Vec<usize>,
    pub(super) state: State,
    pub(super) pending: Vec<usize>,
    pub(super) blocking: Option<usize>,
}

pub(super) enum SearchEnd {
    Linearizable,
    Stuck(Frontier),
    OutOfBudget,
}

/// What trying the state-preserving operations did.
enum Sweep {
    Placed,
    /// One was valid but its placement was already explored: this whole
    /// state fails.
    DeadEnd,
    Nothing,
}

/// How many search steps run between deadline checks.
const STEPS_PER_DEADLINE_CHECK: u64 = 1024;

/// The depth-first search over one key's operations.
pub(super) struct Search<'a> {
    ops: &'a [KeyOp],
    list: EventList,
    state: State,
    placed: Bitset,
    stack: Vec<Frame>,
    explored: HashSet<(Fingerprint, State)>,
    unplaced_known: usize,
    steps: u64,
    deepest: Option<Frontier>,
}

impl<'a> Search<'a> {
    pub(super) fn new(ops: &'a [KeyOp]) -> Self {
        Self {
            ops,
            list: EventList::new(ops),
            state: State::Absent,
            placed: Bitset::with_len(ops.len()),
            stack: Vec::new(),
            explored: HashSet::new(),
            unplaced_known: ops.iter().filter(|op| op.is_known()).count(),
            steps: 0,
            deepest: None,
        }
    }

    /// Searches until every known operation is placed, no order remains, or
    /// the deadline (if any) passes.
    pub(super) fn run(mut self, deadline: Option<Instant>) -> SearchEnd {
        let mut resume_at = None;
        loop {
            if self.out_of_time(deadline) {
                return SearchEnd::OutOfBudget;
            }
            let advanced = match resume_at.take() {
                Some(node) => self.place_state_changing(node),
                None => {
                    if self.unplaced_known == 0 {
                        return SearchEnd::Linearizable;
                    }
                    match self.place_state_preserving() {
                        Sweep::Placed => true,
                        Sweep::DeadEnd => false,
                        Sweep::Nothing => self.place_state_changing(self.list.first()),
                    }
                }
            };
            if !advanced {
                match self.backtrack() {
                    Some(node) => resume_at = Some(node),
                    None => return SearchEnd::Stuck(self.take_deepest()),
                }
            }
        }
    }

    fn out_of_time(&mut self, deadline: Option<Instant>) -> bool {
        self.steps += 1;
        self.steps.is_multiple_of(STEPS_PER_DEADLINE_CHECK)
            && deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Places the first pending operation that is valid now and leaves the
    /// state unchanged. Placing it now loses nothing: it can be moved to the
    /// front of any successful order of the remaining operations.
    fn place_state_preserving(&mut self) -> Sweep {
        let mut node = self.list.first();
        while let Event::Call(op) = self.list.event(node) {
            if self.ops[op].action.step(self.state) == Some(self.state) {
                return if self.place(op, self.state, true) {
                    Sweep::Placed
                } else {
                    Sweep::DeadEnd
                };
            }
            node = self.list.after(node);
        }
        Sweep::Nothing
    }

    /// Places the first pending operation from `node` on that is valid now
    /// and leads to an unexplored state; false if there is none.
    fn place_state_changing(&mut self, mut node: usize) -> bool {
        while let Event::Call(op) = self.list.event(node) {
            if let Some(next) = self.ops[op].action.step(self.state)
                && self.place(op, next, false)
            {
                return true;
            }
            node = self.list.after(node);
        }
        false
    }

    /// Places `op`, moving to `next`, unless that was already explored.
    fn place(&mut self, op: usize, next: State, forced: bool) -> bool {
        self.placed.set(op);
        if !self.explored.insert((self.placed.fingerprint(), next)) {
            self.placed.clear(op);
            return false;
        }
        self.stack.push(Frame {
            op,
            before: self.state,
            forced,
        });
        self.state = next;
        self.list.lift(op);
        if self.ops[op].is_known() {
            self.unplaced_known -= 1;
        }
        true
    }

    /// Undoes placements back to the latest choice point, returning the node
    /// to resume scanning from, or `None` if no choice is left.
    fn backtrack(&mut self) -> Option<usize> {
        self.remember_if_deepest();
        while let Some(frame) = self.stack.pop() {
            self.list.unlift(frame.op);
            self.placed.clear(frame.op);
            self.state = frame.before;
            if self.ops[frame.op].is_known() {
                self.unplaced_known += 1;
            }
            if !frame.forced {
                return Some(self.list.after_call(frame.op));
            }
        }
        None
    }

    fn remember_if_deepest(&mut self) {
        if self
            .deepest
            .as_ref()
            .is_some_and(|deepest| deepest.prefix.len() >= self.stack.len())
        {
            return;
        }
        self.deepest = Some(self.frontier());
    }

    fn frontier(&self) -> Frontier {
        let (pending, blocking) = self.list.pending();
        Frontier {
            prefix: self.stack.iter().map(|frame| frame.op).collect(),
            state: self.state,
            pending,
            blocking,
        }
    }

    fn take_deepest(&mut self) -> Frontier {
        self.deepest.take().unwrap_or_else(|| self.frontier())
    }
}
