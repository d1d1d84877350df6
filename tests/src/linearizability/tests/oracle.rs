//! A brute-force oracle: on small random histories the search must agree
//! with trying every order.

use super::simulation::{Rng, Shape, Simulation};
use super::*;

/// Whether some order of `entries` (one key) is valid, by trying every
/// order: an oracle for the search that shares only the model's step.
fn linearizable_by_brute_force(entries: &[Entry]) -> bool {
    let mut values = Values::default();
    let ops: Vec<KeyOp> = entries
        .iter()
        .enumerate()
        .filter_map(|(id, entry)| KeyOp::new(id, entry, &mut values).ok().flatten())
        .collect();
    let mut placed = vec![false; ops.len()];
    extend_order(&ops, &mut placed, State::Absent)
}

fn extend_order(ops: &[KeyOp], placed: &mut [bool], state: State) -> bool {
    if ops
        .iter()
        .zip(placed.iter())
        .all(|(op, &done)| done || !op.is_known())
    {
        return true;
    }
    for next in 0..ops.len() {
        let call = ops[next].call;
        let must_come_first =
            |(op, &done): (&KeyOp, &bool)| !done && op.deadline.is_some_and(|ret| ret < call);
        if placed[next] || ops.iter().zip(placed.iter()).any(must_come_first) {
            continue;
        }
        if let Some(after) = ops[next].action.step(state) {
            placed[next] = true;
            if extend_order(ops, placed, after) {
                return true;
            }
            placed[next] = false;
        }
    }
    false
}

/// A random small history on key "a", with repeated values and versions.
fn random_small_history(rng: &mut Rng) -> Vec<Entry> {
    (0..1 + rng.index(7))
        .map(|_| {
            let (op, outcome) = random_small_op(rng);
            let call = rng.below(6);
            Entry {
                client: 0,
                key: "a".to_string(),
                op,
                outcome,
                call,
                ret: (!rng.percent(10)).then(|| call + rng.below(4)),
            }
        })
        .collect()
}

fn random_small_op(rng: &mut Rng) -> (Op, Outcome) {
    let names = ["p", "q", "r"];
    let value = names[rng.index(3)];
    let version = 1 + rng.below(4);
    match rng.below(3) {
        0 => {
            let outcomes = [
                Outcome::Created { version },
                Outcome::AlreadyExists,
                Outcome::Unknown,
            ];
            (create(value), outcomes[rng.index(3)].clone())
        }
        1 => {
            let outcomes = [
                Outcome::Updated { version },
                Outcome::Conflict,
                Outcome::NotFound,
                Outcome::Unknown,
            ];
            (
                update(value, 1 + rng.below(4)),
                outcomes[rng.index(4)].clone(),
            )
        }
        _ => {
            let outcomes = [found(names[rng.index(3)], version), Outcome::Absent];
            (Op::Read, outcomes[rng.index(2)].clone())
        }
    }
}

/// A small simulated history on key "a" with one outcome swapped for
/// another operation's (when the kinds match, or half the time anyway).
fn tampered_small_history(rng: &mut Rng, seed: u64) -> Vec<Entry> {
    let shape = Shape {
        clients: 2 + rng.index(3),
        ops_per_client: 1 + rng.index(3),
        keys: 1,
        max_latency: rng.below(4),
        unknown_percent: 20,
    };
    let mut entries = Simulation::run(seed, &shape).entries;
    let (victim, donor) = (rng.index(entries.len()), rng.index(entries.len()));
    if entries[victim].op == entries[donor].op || rng.percent(50) {
        entries[victim].outcome = entries[donor].outcome.clone();
    }
    for entry in &mut entries {
        entry.key = "a".to_string();
    }
    entries
}

#[test]
fn search_agrees_with_brute_force_on_small_histories() {
    let mut rng = Rng::new(3);
    let (mut accepted, mut rejected) = (0, 0);
    for case in 0..4000 {
        let entries = if case % 2 == 0 {
            random_small_history(&mut rng)
        } else {
            tampered_small_history(&mut rng, case)
        };
        let well_formed = entries
            .iter()
            .all(|e| Action::new(&e.op, &e.outcome, &mut Values::default()).is_ok());
        if !well_formed {
            continue;
        }
        let expected = linearizable_by_brute_force(&entries);
        let verdict = History::from_entries(entries.clone()).check(BUDGET);
        assert_eq!(
            verdict.is_linearizable(),
            expected,
            "{entries:#?}\n{verdict}"
        );
        if expected {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    assert!(
        accepted > 500 && rejected > 500,
        "accepted {accepted}, rejected {rejected}"
    );
}
