//! Tests of the checker on hand-written histories, and the helpers every test
//! file shares; [`simulation`] runs simulated register workloads and
//! [`oracle`] compares the search with trying every order.

mod oracle;
mod simulation;

use super::model::{Action, KeyOp, State, Values};
use super::*;

const BUDGET: Duration = Duration::from_secs(30);

fn create(value: &str) -> Op {
    Op::Create {
        value: value.to_string(),
    }
}

fn update(value: &str, expected_version: u64) -> Op {
    Op::Update {
        value: value.to_string(),
        expected_version,
    }
}

fn found(value: &str, version: u64) -> Outcome {
    Outcome::Found {
        value: value.to_string(),
        version,
    }
}

/// An operation on key "a" by `client` that returned `outcome`.
fn done(client: usize, op: Op, outcome: Outcome, call: u64, ret: u64) -> Entry {
    Entry {
        client,
        key: "a".to_string(),
        op,
        outcome,
        call,
        ret: Some(ret),
    }
}

/// An operation on key "a" that never returned.
fn lost(client: usize, op: Op, call: u64) -> Entry {
    Entry {
        client,
        key: "a".to_string(),
        op,
        outcome: Outcome::Unknown,
        call,
        ret: None,
    }
}

fn on_key(key: &str, mut entry: Entry) -> Entry {
    entry.key = key.to_string();
    entry
}

fn check(entries: Vec<Entry>) -> Verdict {
    History::from_entries(entries).check(BUDGET)
}

fn assert_linearizable(entries: Vec<Entry>) {
    let verdict = check(entries);
    assert!(verdict.is_linearizable(), "{verdict}");
}

fn assert_violation(entries: Vec<Entry>, key: &str) -> Violation {
    match check(entries) {
        Verdict::Violation(violation) => {
            assert_eq!(violation.key, key, "{violation}");
            violation
        }
        other => panic!("expected a violation on {key:?}, got: {other}"),
    }
}

#[test]
fn sequential_history_is_linearizable() {
    let entries = vec![
        done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
        done(0, Op::Read, found("x", 1), 2, 3),
        done(1, update("y", 1), Outcome::Updated { version: 2 }, 4, 5),
        done(1, update("z", 1), Outcome::Conflict, 6, 7),
        done(0, Op::Read, found("y", 2), 8, 9),
        on_key("b", done(0, Op::Read, Outcome::Absent, 0, 1)),
        on_key("b", done(0, update("q", 3), Outcome::NotFound, 2, 3)),
        on_key(
            "b",
            done(0, create("q"), Outcome::Created { version: 5 }, 4, 5),
        ),
        on_key("b", done(1, create("r"), Outcome::AlreadyExists, 6, 7)),
    ];
    assert_eq!(check(entries), Verdict::Linearizable { ops: 9, keys: 2 });
}

#[test]
fn read_may_see_a_create_before_it_returns() {
    assert_linearizable(vec![
        done(0, create("x"), Outcome::Created { version: 4 }, 0, 10),
        done(1, Op::Read, Outcome::Absent, 1, 3),
        done(2, Op::Read, found("x", 4), 2, 5),
    ]);
}

#[test]
fn concurrent_updates_with_one_expected_version_one_wins() {
    assert_linearizable(vec![
        done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
        done(1, update("y", 1), Outcome::Updated { version: 2 }, 2, 6),
        done(2, update("z", 1), Outcome::Conflict, 3, 5),
        done(0, Op::Read, found("y", 2), 7, 8),
    ]);
}

#[test]
fn unknown_create_revealed_by_a_later_read() {
    assert_linearizable(vec![
        lost(0, create("x"), 0),
        done(1, Op::Read, Outcome::Absent, 1, 2),
        done(1, Op::Read, found("x", 7), 5, 6),
        done(1, update("y", 7), Outcome::Updated { version: 8 }, 7, 8),
    ]);
}

#[test]
fn unknown_write_may_take_effect_after_the_client_gave_up() {
    assert_linearizable(vec![
        done(0, create("x"), Outcome::Unknown, 0, 3),
        done(1, Op::Read, Outcome::Absent, 5, 6),
        done(1, Op::Read, found("x", 9), 10, 11),
    ]);
}

#[test]
fn unknown_update_that_never_took_effect() {
    assert_linearizable(vec![
        done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
        lost(0, update("y", 1), 2),
        done(1, Op::Read, found("x", 1), 3, 4),
        done(1, Op::Read, found("x", 1), 10, 11),
        done(2, update("z", 1), Outcome::Updated { version: 5 }, 20, 21),
        done(1, Op::Read, found("z", 5), 30, 31),
    ]);
}

#[test]
fn unknown_create_cannot_replace_an_existing_object() {
    assert_violation(
        vec![
            done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
            lost(1, create("y"), 2),
            done(0, Op::Read, found("y", 3), 4, 5),
        ],
        "a",
    );
}

#[test]
fn entry_that_never_returned_counts_as_unknown_whatever_its_outcome() {
    let mut never_returned = done(0, create("x"), Outcome::Created { version: 1 }, 0, 0);
    never_returned.ret = None;
    assert_linearizable(vec![never_returned, done(1, Op::Read, found("x", 7), 5, 6)]);
}

#[test]
fn read_with_unknown_outcome_is_dropped() {
    let entries = vec![
        done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
        done(1, Op::Read, Outcome::Unknown, 2, 3),
        lost(1, Op::Read, 4),
    ];
    assert_eq!(check(entries), Verdict::Linearizable { ops: 1, keys: 1 });
}

#[test]
fn stale_read_is_a_violation() {
    let violation = assert_violation(
        vec![
            done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
            done(0, update("y", 1), Outcome::Updated { version: 2 }, 2, 3),
            done(1, Op::Read, found("x", 1), 4, 5),
        ],
        "a",
    );
    let text = violation.to_string();
    assert!(text.contains("key \"a\""), "{text}");
    assert!(text.contains("places 2 operations"), "{text}");
    assert!(text.contains("holding \"y\" at version 2"), "{text}");
    assert!(text.contains("(\"x\" was written by op 0)"), "{text}");
    assert!(
        text.contains(
            "op 2 by client 1, called t=4, returned t=5: read -> found \"x\" at version 1"
        ),
        "{text}"
    );
}

#[test]
fn lost_acknowledged_write_is_a_violation() {
    assert_violation(
        vec![
            on_key(
                "b",
                done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
            ),
            on_key("b", done(1, Op::Read, Outcome::Absent, 2, 3)),
        ],
        "b",
    );
}

#[test]
fn two_updates_with_one_expected_version_both_succeeding_is_a_violation() {
    assert_violation(
        vec![
            done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
            done(1, update("y", 1), Outcome::Updated { version: 2 }, 2, 5),
            done(2, update("z", 1), Outcome::Updated { version: 3 }, 3, 6),
        ],
        "a",
    );
}

#[test]
fn read_of_a_value_never_written_is_a_violation() {
    let violation = assert_violation(
        vec![
            done(0, create("x"), Outcome::Created { version: 1 }, 0, 1),
            done(1, Op::Read, found("ghost", 1), 0, 3),
        ],
        "a",
    );
    assert!(
        violation
            .explanation
            .contains("no operation on this key writes \"ghost\""),
        "{violation}"
    );
}

#[test]
fn version_going_backwards_is_a_violation() {
    assert_violation(
        vec![
            done(0, create("x"), Outcome::Created { version: 5 }, 0, 1),
            done(0, update("y", 5), Outcome::Updated { version: 3 }, 2, 3),
        ],
        "a",
    );
    assert_violation(
        vec![
            done(0, create("x"), Outcome::Created { version: 5 }, 0, 1),
            done(0, update("y", 5), Outcome::Updated { version: 7 }, 2, 3),
            done(1, Op::Read, found("y", 6), 4, 5),
        ],
        "a",
    );
}

#[test]
fn known_versions_are_exact() {
    let created = || done(0, create("x"), Outcome::Created { version: 1 }, 0, 1);
    assert_violation(
        vec![created(), done(1, update("y", 1), Outcome::Conflict, 2, 3)],
        "a",
    );
    assert_violation(
        vec![created(), done(1, update("y", 1), Outcome::NotFound, 2, 3)],
        "a",
    );
    assert_violation(
        vec![done(1, create("y"), Outcome::AlreadyExists, 0, 1)],
        "a",
    );
    assert_violation(
        vec![
            created(),
            done(1, update("y", 1), Outcome::Updated { version: 1 }, 2, 3),
        ],
        "a",
    );
}

#[test]
fn unknown_version_is_bound_by_a_read() {
    assert_violation(
        vec![
            lost(0, create("x"), 0),
            done(1, Op::Read, found("x", 4), 5, 6),
            done(1, Op::Read, found("x", 5), 7, 8),
        ],
        "a",
    );
}

#[test]
fn unknown_version_is_bound_by_an_update() {
    let history = |read: Outcome| {
        vec![
            lost(0, create("x"), 0),
            done(1, update("y", 3), Outcome::Updated { version: 4 }, 5, 6),
            done(1, Op::Read, read, 7, 8),
        ]
    };
    assert_linearizable(history(found("y", 4)));
    assert_violation(history(found("x", 3)), "a");
}

#[test]
fn unknown_update_version_exceeds_the_version_it_replaced() {
    let history = |read: Outcome| {
        vec![
            done(0, create("x"), Outcome::Created { version: 5 }, 0, 1),
            lost(0, update("y", 5), 2),
            done(1, Op::Read, read, 5, 6),
        ]
    };
    assert_linearizable(history(found("y", 6)));
    assert_violation(history(found("y", 5)), "a");
}

#[test]
fn conflict_against_an_unknown_version_is_accepted() {
    assert_linearizable(vec![
        lost(0, create("x"), 0),
        done(1, update("y", 3), Outcome::Conflict, 5, 6),
        done(1, Op::Read, found("x", 3), 7, 8),
    ]);
}

#[test]
fn malformed_entries_are_reported() {
    let violation = assert_violation(
        vec![done(0, Op::Read, Outcome::Created { version: 1 }, 0, 1)],
        "a",
    );
    assert!(
        violation.explanation.contains("cannot return"),
        "{violation}"
    );
    let violation = assert_violation(vec![done(0, Op::Read, Outcome::Absent, 5, 4)], "a");
    assert!(
        violation
            .explanation
            .contains("returned before it was called"),
        "{violation}"
    );
}

#[test]
fn wall_clock_history_reports_times_since_it_began() {
    let history = History::new();
    let create = history.invoke(0, "cm", create("x"));
    history.complete(create, Outcome::Created { version: 1 });
    let read = history.invoke(1, "cm", Op::Read);
    history.complete(read, Outcome::Absent);
    let entries = history.entries();
    assert!(entries[0].ret < Some(entries[1].call), "{entries:?}");
    match history.check(BUDGET) {
        Verdict::Violation(violation) => {
            assert_eq!(violation.key, "cm");
            assert!(
                violation
                    .explanation
                    .contains("Times are since the history began"),
                "{violation}"
            );
            assert!(
                violation.explanation.contains("ms, returned "),
                "{violation}"
            );
        }
        other => panic!("a lost create went unnoticed: {other}"),
    }
}
