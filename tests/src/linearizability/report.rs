//! The explanation of a violation: the longest linearizable prefix found, the
//! operations that could not be placed after it and why, and the report of a
//! malformed history.

use super::TimeUnit;
use super::model::{Action, KeyOp, State, Values, Version};
use super::search::Frontier;

/// How many placed operations a report shows.
const PREFIX_SHOWN: usize = 10;
/// How many pending operations a report shows.
const PENDING_SHOWN: usize = 30;

/// Writes a violation's explanation.
pub(super) struct Report<'a> {
    pub(super) key: &'a str,
    pub(super) ops: &'a [KeyOp],
    pub(super) values: &'a Values,
    pub(super) unit: TimeUnit,
}

impl Report<'_> {
    pub(super) fn explain(&self, frontier: &Frontier) -> String {
        let unknown = self.ops.iter().filter(|op| !op.is_known()).count();
        let mut lines = vec![format!(
            "key {:?} is not linearizable: no order of its {} operations ({unknown} with unknown \
             outcome) respects both real time and the object's semantics.",
            self.key,
            self.ops.len()
        )];
        if let TimeUnit::Nanos = self.unit {
            lines.push("Times are since the history began.".to_string());
        }
        lines.extend(self.describe_prefix(frontier));
        lines.extend(self.describe_pending(frontier));
        if let Some(op) = frontier.blocking.and_then(|index| self.ops.get(index)) {
            lines.push(format!(
                "Op {} returned at {} without having taken effect, so one of these had to take \
                 effect first.",
                op.id,
                op.deadline
                    .map_or_else(|| "?".to_string(), |t| self.unit.show(t))
            ));
        }
        lines.join("\n")
    }

    fn describe_prefix(&self, frontier: &Frontier) -> Vec<String> {
        if frontier.prefix.is_empty() {
            return vec![
                "No operation can be placed first (the object starts absent).".to_string(),
            ];
        }
        let shown = frontier.prefix.len().min(PREFIX_SHOWN);
        let mut lines = vec![
            format!(
                "The longest linearizable prefix found places {} operations, leaving the object {}.",
                frontier.prefix.len(),
                self.describe_state(frontier.state)
            ),
            format!("Its last {shown}, in linearization order:"),
        ];
        let tail = frontier.prefix.iter().skip(frontier.prefix.len() - shown);
        lines.extend(tail.map(|&op| format!("  {}", self.describe_op(op))));
        lines
    }

    /// The pending operations with a known outcome, then those with an
    /// unknown outcome that could take effect, each with why it was not
    /// placed; the other unknown ones only by name.
    fn describe_pending(&self, frontier: &Frontier) -> Vec<String> {
        let (listed, inert) = self.sort_pending(frontier);
        let mut lines = vec![
            "Pending then (called before the earliest pending return), and none can be placed \
             next:"
                .to_string(),
        ];
        for &op in listed.iter().take(PENDING_SHOWN) {
            lines.push(format!("  {}", self.describe_op(op)));
            lines.push(format!("      {}", self.why_not(op, frontier.state)));
        }
        if listed.len() > PENDING_SHOWN {
            lines.push(format!("  ... and {} more", listed.len() - PENDING_SHOWN));
        }
        if !inert.is_empty() {
            let mut names: Vec<String> = inert
                .iter()
                .take(PENDING_SHOWN)
                .map(|&op| self.op_name(op))
                .collect();
            if inert.len() > PENDING_SHOWN {
                names.push("...".to_string());
            }
            lines.push(format!(
                "  and {} operations with unknown outcome that cannot take effect here: {}",
                inert.len(),
                names.join(", ")
            ));
        }
        lines
    }

    /// Splits the pending operations into those worth explaining (known
    /// outcome, or unknown but able to take effect) and the rest.
    fn sort_pending(&self, frontier: &Frontier) -> (Vec<usize>, Vec<usize>) {
        let worth_explaining = |op: &usize| {
            self.ops.get(*op).is_some_and(|key_op| {
                key_op.is_known() || key_op.action.step(frontier.state).is_some()
            })
        };
        let (mut listed, inert): (Vec<usize>, Vec<usize>) =
            frontier.pending.iter().partition(|op| worth_explaining(op));
        listed.sort_by_key(|&op| self.ops.get(op).is_some_and(|key_op| !key_op.is_known()));
        (listed, inert)
    }

    fn op_name(&self, op: usize) -> String {
        self.ops
            .get(op)
            .map_or_else(|| format!("#{op}"), |key_op| format!("op {}", key_op.id))
    }

    fn why_not(&self, op: usize, state: State) -> String {
        let Some(key_op) = self.ops.get(op) else {
            return String::new();
        };
        if key_op.action.step(state).is_some() {
            return "could take effect here, but every order after that fails".to_string();
        }
        let mut reason = format!(
            "cannot take effect: the object is {}",
            self.describe_state(state)
        );
        if let Action::ReadFound { value, .. } = key_op.action {
            let name = self.values.name(value);
            match self.values.writer(value) {
                Some(writer) => reason.push_str(&format!(" ({name:?} was written by op {writer})")),
                None => reason.push_str(&format!(" (no operation on this key writes {name:?})")),
            }
        }
        reason
    }

    fn describe_op(&self, op: usize) -> String {
        let Some(key_op) = self.ops.get(op) else {
            return format!("op #{op}?");
        };
        let entry = &key_op.entry;
        let returned = match (entry.ret, key_op.is_known()) {
            (Some(ret), true) => format!("returned {}", self.unit.show(ret)),
            (Some(ret), false) => format!("gave up {}", self.unit.show(ret)),
            (None, _) => "never returned".to_string(),
        };
        format!(
            "op {} by client {}, called {}, {returned}: {} -> {}",
            key_op.id,
            entry.client,
            self.unit.show(entry.call),
            entry.op,
            entry.outcome
        )
    }

    fn describe_state(&self, state: State) -> String {
        match state {
            State::Absent => "absent".to_string(),
            State::Present {
                value,
                version: Version::Known(version),
            } => format!("holding {:?} at version {version}", self.values.name(value)),
            State::Present {
                value,
                version: Version::AtLeast(0),
            } => format!(
                "holding {:?} at an unknown version",
                self.values.name(value)
            ),
            State::Present {
                value,
                version: Version::AtLeast(floor),
            } => format!(
                "holding {:?} at an unknown version (at least {floor})",
                self.values.name(value)
            ),
        }
    }
}

pub(super) fn explain_malformed(key: &str, problems: &[String]) -> String {
    let mut lines = vec![format!("key {key:?} has a malformed history:")];
    lines.extend(problems.iter().map(|problem| format!("  {problem}")));
    lines.join("\n")
}
