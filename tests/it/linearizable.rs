//! A linearizability checker (Wing & Gong's search with Lowe's memoisation, as Knossos and
//! Porcupine do) for ZooKeeper registers: one znode per key whose state is (data, version);
//! reads are sync + getData, writes are setData -1, compare-and-set is setData with a version.
//! An operation whose outcome is unknown (connection lost) may have taken effect at any point
//! after its call, or never.

use std::collections::HashSet;

/// A register's state: data and version.
pub type State = (u64, i32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Saw this state.
    Read(State),
    /// setData -1 of `value`; the resulting version if acknowledged.
    Write { value: u64, version: Option<i32> },
    /// setData `value` at version `expect`: Some(Ok(new version)), Some(Err) for BadVersion,
    /// None when unknown.
    Cas {
        expect: i32,
        value: u64,
        outcome: Option<Result<i32, ()>>,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// Microseconds since the run started, taken before sending.
    pub call: u64,
    /// After the reply arrived; None when the outcome is unknown.
    pub ret: Option<u64>,
    pub kind: Kind,
}

/// The register's next state if `op` is consistent with being applied to `s`.
fn step(s: State, op: &Op) -> Option<State> {
    match op.kind {
        Kind::Read(seen) => (seen == s).then_some(s),
        Kind::Write { value, version } => {
            let next = (value, s.1 + 1);
            match version {
                Some(v) if v != next.1 => None,
                _ => Some(next),
            }
        }
        Kind::Cas {
            expect,
            value,
            outcome,
        } => match outcome {
            Some(Ok(v)) => (s.1 == expect && v == s.1 + 1).then_some((value, s.1 + 1)),
            Some(Err(())) => (s.1 != expect).then_some(s),
            None if s.1 == expect => Some((value, s.1 + 1)),
            None => Some(s),
        },
    }
}

/// Whether the history of one register, starting from `init`, is linearizable.
pub fn linearizable(ops: &[Op], init: State) -> bool {
    assert!(
        ops.len() <= 128,
        "one register's history is kept under 128 operations"
    );
    let known: u128 = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.ret.is_some())
        .fold(0, |m, (i, _)| m | (1 << i));
    let mut seen = HashSet::new();
    let mut stack = vec![(0u128, init)];
    while let Some((done, state)) = stack.pop() {
        if done & known == known {
            return true;
        }
        if !seen.insert((done, state)) {
            continue;
        }
        // Any pending op may go next if it was called before the earliest pending return.
        let horizon = ops
            .iter()
            .enumerate()
            .filter(|(i, _)| done & (1 << i) == 0)
            .filter_map(|(_, o)| o.ret)
            .min()
            .unwrap_or(u64::MAX);
        for (i, op) in ops.iter().enumerate() {
            if done & (1 << i) != 0 || op.call > horizon {
                continue;
            }
            if let Some(next) = step(state, op) {
                stack.push((done | (1 << i), next));
            }
        }
    }
    false
}

#[test]
fn the_checker_accepts_and_rejects_what_it_should() {
    let w = |call, ret, value, version| Op {
        call,
        ret: Some(ret),
        kind: Kind::Write {
            value,
            version: Some(version),
        },
    };
    let r = |call, ret, s| Op {
        call,
        ret: Some(ret),
        kind: Kind::Read(s),
    };
    // Concurrent write and read: the read may see either state.
    assert!(linearizable(&[w(0, 10, 1, 1), r(1, 5, (0, 0))], (0, 0)));
    assert!(linearizable(&[w(0, 10, 1, 1), r(1, 5, (1, 1))], (0, 0)));
    // A read after the write returned must see it.
    assert!(!linearizable(&[w(0, 10, 1, 1), r(11, 12, (0, 0))], (0, 0)));
    // A lost write may or may not have happened.
    let lost = Op {
        call: 0,
        ret: None,
        kind: Kind::Write {
            value: 7,
            version: None,
        },
    };
    assert!(linearizable(&[lost, r(5, 6, (0, 0))], (0, 0)));
    assert!(linearizable(
        &[lost, r(5, 6, (7, 1)), r(7, 8, (7, 1))],
        (0, 0)
    ));
    // ...but not both orders at once.
    assert!(!linearizable(
        &[lost, r(5, 6, (7, 1)), r(7, 8, (0, 0))],
        (0, 0)
    ));
    // Compare-and-set: two winners at the same version are impossible.
    let cas = |call, ret, value, outcome| Op {
        call,
        ret: Some(ret),
        kind: Kind::Cas {
            expect: 0,
            value,
            outcome: Some(outcome),
        },
    };
    assert!(!linearizable(
        &[cas(0, 5, 1, Ok(1)), cas(1, 6, 2, Ok(1))],
        (0, 0)
    ));
    assert!(linearizable(
        &[cas(0, 5, 1, Ok(1)), cas(1, 6, 2, Err(()))],
        (0, 0)
    ));
}
