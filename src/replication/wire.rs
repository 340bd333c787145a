//! Binary encoding of what openraft persists and (later) sends between peers: log entries
//! (with the txn inside), votes, log ids and memberships. Built on the codec's jute primitives,
//! so the log, the snapshots and the wire share one encoding style (no serde).
//!
//! | record     | layout                                                                   |
//! |------------|--------------------------------------------------------------------------|
//! | LogId      | long term, long node, long index                                         |
//! | Entry      | LogId, byte kind (0 blank, 1 txn, 2 membership, 3 txn batch), then the payload |
//! | Batch      | int count, then count {int length, Txn} (a batch of one is kind 1)      |
//! | Txn        | long session, int cxid, long time, vector<Id> auth, int kind, body        |
//! | txn kind   | -10 createSession {int timeout}; -11 closeSession; -5 malformed; -8 bad arguments; else the |
//! |            | op code followed by the request body as zk-codec encodes it              |
//! | Membership | int configs, each vector<long>; int nodes, each {long id, ustring addr}   |
//! | Vote       | long term, long node, boolean committed                                  |

use super::{TxnBatch, TypeConfig};
use crate::txn::{Txn, TxnOp};
use bytes::{BufMut, BytesMut};
use openraft::{BasicNode, Entry, EntryPayload, LeaderId, LogId, Membership, Vote};
use std::collections::{BTreeMap, BTreeSet};
use zk_codec::records::Id;
use zk_codec::{DecodeError, Jute, Limits, OpCode, Request};

const LIM: Limits = Limits {
    max_buffer: 64 << 20,
    extra_size: 0,
};

fn u64_of(input: &mut &[u8]) -> Result<u64, DecodeError> {
    i64::decode_next(input, LIM).map(|v| v as u64)
}

/// Appends a log id.
pub fn encode_log_id(id: &LogId<u64>, out: &mut BytesMut) {
    out.put_u64(id.leader_id.term);
    out.put_u64(id.leader_id.node_id);
    out.put_u64(id.index);
}

/// Reads a log id.
///
/// # Errors
/// Truncated input.
pub fn decode_log_id(input: &mut &[u8]) -> Result<LogId<u64>, DecodeError> {
    let term = u64_of(input)?;
    let node = u64_of(input)?;
    let index = u64_of(input)?;
    Ok(LogId::new(LeaderId::new(term, node), index))
}

/// Appends a txn.
pub fn encode_txn(t: &Txn, out: &mut BytesMut) {
    t.session.encode(out);
    t.cxid.encode(out);
    t.time_ms.encode(out);
    t.auth.encode(out);
    match &t.op {
        TxnOp::CreateSession { timeout_ms } => {
            OpCode::CreateSession.code().encode(out);
            timeout_ms.encode(out);
        }
        TxnOp::CloseSession => OpCode::CloseSession.code().encode(out),
        TxnOp::Malformed => (-5i32).encode(out),
        TxnOp::BadArguments => (-8i32).encode(out),
        TxnOp::Request(r) => {
            r.op().code().encode(out);
            r.encode(out);
        }
    }
}

/// Reads a txn.
///
/// # Errors
/// Malformed input.
pub fn decode_txn(input: &mut &[u8]) -> Result<Txn, DecodeError> {
    let session = i64::decode_next(input, LIM)?;
    let cxid = i32::decode_next(input, LIM)?;
    let time_ms = i64::decode_next(input, LIM)?;
    let auth = Vec::<Id>::decode_next(input, LIM)?;
    let kind = i32::decode_next(input, LIM)?;
    let op = match kind {
        -10 => TxnOp::CreateSession {
            timeout_ms: i32::decode_next(input, LIM)?,
        },
        -11 => TxnOp::CloseSession,
        -5 => TxnOp::Malformed,
        -8 => TxnOp::BadArguments,
        code => {
            let op = OpCode::try_from(code)?;
            let req = Request::decode(op, input, LIM)?;
            // Request::decode reads a whole body; nothing follows a txn in an entry.
            *input = &[];
            TxnOp::Request(req)
        }
    };
    Ok(Txn {
        session,
        cxid,
        time_ms,
        auth,
        op,
    })
}

/// Appends a membership.
pub fn encode_membership(m: &Membership<u64, BasicNode>, out: &mut BytesMut) {
    let configs = m.get_joint_config();
    (configs.len() as i32).encode(out);
    for c in configs {
        c.iter()
            .map(|n| *n as i64)
            .collect::<Vec<i64>>()
            .encode(out);
    }
    let nodes: Vec<(&u64, &BasicNode)> = m.nodes().collect();
    (nodes.len() as i32).encode(out);
    for (id, n) in nodes {
        (*id as i64).encode(out);
        n.addr.encode(out);
    }
}

/// Reads a membership.
///
/// # Errors
/// Malformed input.
pub fn decode_membership(input: &mut &[u8]) -> Result<Membership<u64, BasicNode>, DecodeError> {
    let mut configs = Vec::new();
    for _ in 0..i32::decode_next(input, LIM)?.max(0) {
        let ids = Vec::<i64>::decode_next(input, LIM)?;
        configs.push(ids.into_iter().map(|i| i as u64).collect::<BTreeSet<u64>>());
    }
    let mut nodes = BTreeMap::new();
    for _ in 0..i32::decode_next(input, LIM)?.max(0) {
        let id = u64_of(input)?;
        nodes.insert(
            id,
            BasicNode {
                addr: String::decode_next(input, LIM)?,
            },
        );
    }
    Ok(Membership::new(configs, nodes))
}

/// Appends a log entry.
pub fn encode_entry(e: &Entry<TypeConfig>, out: &mut BytesMut) {
    encode_log_id(&e.log_id, out);
    match &e.payload {
        EntryPayload::Blank => out.put_u8(0),
        EntryPayload::Normal(TxnBatch(txns)) => match txns.as_slice() {
            [t] => {
                out.put_u8(1);
                encode_txn(t, out);
            }
            _ => {
                out.put_u8(3);
                encode_txns(txns, out);
            }
        },
        EntryPayload::Membership(m) => {
            out.put_u8(2);
            encode_membership(m, out);
        }
    }
}

/// Reads a log entry.
///
/// # Errors
/// Malformed input.
/// Appends a count and the txns, each length-prefixed (a txn's request body runs to the end of
/// its slice). Log entry kind 3 and forwarded write batches.
pub fn encode_txns(txns: &[Txn], out: &mut BytesMut) {
    (txns.len() as i32).encode(out);
    for t in txns {
        let at = out.len();
        out.put_i32(0);
        encode_txn(t, out);
        let len = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
}

/// Reads what [`encode_txns`] wrote.
///
/// # Errors
/// A bad count or length, or a txn that does not decode.
pub fn decode_txns(input: &mut &[u8]) -> Result<Vec<Txn>, DecodeError> {
    let n = i32::decode_next(input, LIM)?;
    // Each txn takes well over 8 bytes: a count beyond that is corruption.
    if n < 0 || n as usize > input.len() / 8 {
        return Err(DecodeError::Unknown {
            what: "txn batch length",
            value: n,
        });
    }
    (0..n)
        .map(|_| {
            let len = i32::decode_next(input, LIM)?;
            let len = usize::try_from(len)
                .ok()
                .filter(|l| *l <= input.len())
                .ok_or(DecodeError::Truncated)?;
            let (mut body, rest) = input.split_at(len);
            *input = rest;
            decode_txn(&mut body)
        })
        .collect()
}

pub fn decode_entry(mut input: &[u8]) -> Result<Entry<TypeConfig>, DecodeError> {
    let input = &mut input;
    let log_id = decode_log_id(input)?;
    let (&kind, rest) = input.split_first().ok_or(DecodeError::Truncated)?;
    *input = rest;
    let payload = match kind {
        0 => EntryPayload::Blank,
        1 => EntryPayload::Normal(TxnBatch::new(vec![decode_txn(input)?])),
        3 => EntryPayload::Normal(TxnBatch::new(decode_txns(input)?)),
        2 => EntryPayload::Membership(decode_membership(input)?),
        k => {
            return Err(DecodeError::Unknown {
                what: "log entry kind",
                value: i32::from(k),
            })
        }
    };
    Ok(Entry { log_id, payload })
}

/// Encodes a vote.
pub fn encode_vote(v: &Vote<u64>) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(17);
    out.put_u64(v.leader_id.term);
    out.put_u64(v.leader_id.node_id);
    v.committed.encode(&mut out);
    out.to_vec()
}

/// Decodes a vote.
///
/// # Errors
/// Malformed input.
pub fn decode_vote(mut input: &[u8]) -> Result<Vote<u64>, DecodeError> {
    let input = &mut input;
    let term = u64_of(input)?;
    let node = u64_of(input)?;
    let committed = bool::decode_next(input, LIM)?;
    Ok(if committed {
        Vote::new_committed(term, node)
    } else {
        Vote::new(term, node)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_codec::records::CreateRequest;

    #[test]
    fn entries_roundtrip() {
        let txn = Txn {
            session: 7,
            cxid: 3,
            time_ms: 99,
            auth: vec![Id::new("ip", "127.0.0.1")],
            op: TxnOp::Request(Request::Create(CreateRequest {
                path: "/a".into(),
                data: None,
                acl: vec![],
                flags: 1,
            })),
        };
        let mut nodes = BTreeMap::new();
        nodes.insert(
            1u64,
            BasicNode {
                addr: "127.0.0.1:2888".into(),
            },
        );
        let entries = vec![
            Entry {
                log_id: LogId::new(LeaderId::new(2, 1), 5),
                payload: EntryPayload::Normal(TxnBatch::new(vec![txn.clone()])),
            },
            Entry {
                log_id: LogId::new(LeaderId::new(2, 1), 6),
                payload: EntryPayload::Normal(TxnBatch::new(vec![txn.clone(), txn])),
            },
            Entry {
                log_id: LogId::new(LeaderId::new(2, 1), 6),
                payload: EntryPayload::Blank,
            },
            Entry {
                log_id: LogId::new(LeaderId::new(2, 1), 7),
                payload: EntryPayload::Membership(Membership::new(
                    vec![BTreeSet::from([1])],
                    nodes,
                )),
            },
        ];
        for e in entries {
            let mut out = BytesMut::new();
            encode_entry(&e, &mut out);
            let back = decode_entry(&out).unwrap();
            assert_eq!(back.log_id, e.log_id);
            assert_eq!(format!("{:?}", back.payload), format!("{:?}", e.payload));
        }
        let v = Vote::new_committed(4, 1);
        assert_eq!(decode_vote(&encode_vote(&v)).unwrap(), v);
    }
}
