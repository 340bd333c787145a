//! The peer RPC messages on the quorum port, in the same binary style as the log
//! ([`super::super::wire`]): one 4-byte-length frame per message, request then response.
//!
//! | message          | layout                                                            |
//! |------------------|-------------------------------------------------------------------|
//! | request          | byte kind (1 append, 2 vote, 3 snapshot chunk, 4 forward, 5 read index, 6 touch), then the body |
//! | forward          | a follower's client write for the leader to propose: Txn          |
//! | read index       | (empty): the leader's linearizable read point, for sync           |
//! | touch            | int n, n × long session id: sessions with client activity         |
//! | append           | Vote, opt LogId prev, int n, n × Entry, opt LogId commit          |
//! | vote             | Vote, opt LogId last                                              |
//! | snapshot chunk   | Vote, SnapshotMeta, long offset, buffer data, boolean done        |
//! | response         | byte kind (1..3 as the request, 0 error), then the body           |
//! | append response  | byte (0 success, 1 partial + opt LogId, 2 conflict, 3 higher + Vote) |
//! | vote response    | Vote, boolean granted, opt LogId last                             |
//! | snapshot resp.   | Vote                                                              |
//! | forward resp.    | boolean proposed (false: not the leader)                          |
//! | read index resp. | opt LogId                                                         |
//! | touch resp.      | (empty)                                                           |
//! | error            | ustring message                                                   |

use super::super::wire::{
    decode_entry, decode_log_id, decode_membership, decode_txn, decode_txns, encode_entry,
    encode_log_id, encode_membership, encode_txn, encode_txns,
};
use super::super::TypeConfig;
use crate::txn::Txn;
use bytes::{BufMut, BytesMut};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{LogId, SnapshotMeta, StoredMembership, Vote};
use zk_codec::{DecodeError, Jute, Limits};

/// Snapshot chunks and append batches stay well under this.
pub const MAX_FRAME: usize = 64 << 20;

const LIM: Limits = Limits {
    max_buffer: MAX_FRAME,
    extra_size: 0,
};

/// A request from a leader or candidate.
#[derive(Debug)]
pub enum PeerRequest {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<u64>),
    Snapshot(InstallSnapshotRequest<TypeConfig>),
    /// Client writes a follower hands to the leader, in their order.
    Forward(Vec<Txn>),
    ReadIndex,
    Touch(Vec<i64>),
}

/// The answer; `Error` carries the remote Raft error's text.
#[derive(Debug)]
pub enum PeerResponse {
    Append(AppendEntriesResponse<u64>),
    Vote(VoteResponse<u64>),
    Snapshot(InstallSnapshotResponse<u64>),
    Forwarded(bool),
    ReadIndex(Option<LogId<u64>>),
    Touched,
    Error(String),
}

fn put_vote(v: &Vote<u64>, out: &mut BytesMut) {
    out.put_u64(v.leader_id.term);
    out.put_u64(v.leader_id.node_id);
    out.put_u8(u8::from(v.committed));
}

fn get_vote(input: &mut &[u8]) -> Result<Vote<u64>, DecodeError> {
    let term = i64::decode_next(input, LIM)? as u64;
    let node = i64::decode_next(input, LIM)? as u64;
    Ok(if bool::decode_next(input, LIM)? {
        Vote::new_committed(term, node)
    } else {
        Vote::new(term, node)
    })
}

fn put_opt_log_id(id: &Option<LogId<u64>>, out: &mut BytesMut) {
    match id {
        None => out.put_u8(0),
        Some(id) => {
            out.put_u8(1);
            encode_log_id(id, out);
        }
    }
}

fn get_opt_log_id(input: &mut &[u8]) -> Result<Option<LogId<u64>>, DecodeError> {
    Ok(if bool::decode_next(input, LIM)? {
        Some(decode_log_id(input)?)
    } else {
        None
    })
}

fn get_u8(input: &mut &[u8]) -> Result<u8, DecodeError> {
    let (&b, rest) = input.split_first().ok_or(DecodeError::Truncated)?;
    *input = rest;
    Ok(b)
}

fn put_meta(m: &SnapshotMeta<u64, openraft::BasicNode>, out: &mut BytesMut) {
    put_opt_log_id(&m.last_log_id, out);
    put_opt_log_id(m.last_membership.log_id(), out);
    encode_membership(m.last_membership.membership(), out);
    m.snapshot_id.encode(out);
}

fn get_meta(input: &mut &[u8]) -> Result<SnapshotMeta<u64, openraft::BasicNode>, DecodeError> {
    let last_log_id = get_opt_log_id(input)?;
    let membership_log_id = get_opt_log_id(input)?;
    let membership = decode_membership(input)?;
    let snapshot_id = String::decode_next(input, LIM)?;
    Ok(SnapshotMeta {
        last_log_id,
        last_membership: StoredMembership::new(membership_log_id, membership),
        snapshot_id,
    })
}

impl PeerRequest {
    /// Appends the encoding (without the frame length).
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            PeerRequest::Append(r) => {
                out.put_u8(1);
                put_vote(&r.vote, out);
                put_opt_log_id(&r.prev_log_id, out);
                out.put_i32(r.entries.len() as i32);
                for e in &r.entries {
                    // Entries are length-prefixed so a reader can skip to the next one.
                    let at = out.len();
                    out.put_i32(0);
                    encode_entry(e, out);
                    let n = (out.len() - at - 4) as i32;
                    out[at..at + 4].copy_from_slice(&n.to_be_bytes());
                }
                put_opt_log_id(&r.leader_commit, out);
            }
            PeerRequest::Vote(r) => {
                out.put_u8(2);
                put_vote(&r.vote, out);
                put_opt_log_id(&r.last_log_id, out);
            }
            PeerRequest::Snapshot(r) => {
                out.put_u8(3);
                put_vote(&r.vote, out);
                put_meta(&r.meta, out);
                out.put_u64(r.offset);
                out.put_i32(r.data.len() as i32);
                out.put_slice(&r.data);
                out.put_u8(u8::from(r.done));
            }
            PeerRequest::Forward(txns) => match txns.as_slice() {
                [t] => {
                    out.put_u8(4);
                    encode_txn(t, out);
                }
                _ => {
                    out.put_u8(7);
                    encode_txns(txns, out);
                }
            },
            PeerRequest::ReadIndex => out.put_u8(5),
            PeerRequest::Touch(ids) => {
                out.put_u8(6);
                out.put_i32(ids.len() as i32);
                for id in ids {
                    out.put_i64(*id);
                }
            }
        }
    }

    /// Decodes one request.
    ///
    /// # Errors
    /// Malformed input.
    pub fn decode(mut input: &[u8]) -> Result<PeerRequest, DecodeError> {
        let input = &mut input;
        Ok(match get_u8(input)? {
            1 => {
                let vote = get_vote(input)?;
                let prev_log_id = get_opt_log_id(input)?;
                let n = i32::decode_next(input, LIM)?;
                let mut entries =
                    Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(input.len() / 8));
                for _ in 0..n.max(0) {
                    let len = usize::try_from(i32::decode_next(input, LIM)?)
                        .map_err(|_| DecodeError::Invalid("entry length"))?;
                    if input.len() < len {
                        return Err(DecodeError::Truncated);
                    }
                    let (e, rest) = input.split_at(len);
                    entries.push(decode_entry(e)?);
                    *input = rest;
                }
                let leader_commit = get_opt_log_id(input)?;
                PeerRequest::Append(AppendEntriesRequest {
                    vote,
                    prev_log_id,
                    entries,
                    leader_commit,
                })
            }
            2 => PeerRequest::Vote(VoteRequest {
                vote: get_vote(input)?,
                last_log_id: get_opt_log_id(input)?,
            }),
            3 => {
                let vote = get_vote(input)?;
                let meta = get_meta(input)?;
                let offset = i64::decode_next(input, LIM)? as u64;
                let data = <Option<bytes::Bytes>>::decode_next(input, LIM)?
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                let done = bool::decode_next(input, LIM)?;
                PeerRequest::Snapshot(InstallSnapshotRequest {
                    vote,
                    meta,
                    offset,
                    data,
                    done,
                })
            }
            4 => PeerRequest::Forward(vec![decode_txn(input)?]),
            7 => PeerRequest::Forward(decode_txns(input)?),
            5 => PeerRequest::ReadIndex,
            6 => {
                let n = i32::decode_next(input, LIM)?;
                let mut ids =
                    Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(input.len() / 8));
                for _ in 0..n.max(0) {
                    ids.push(i64::decode_next(input, LIM)?);
                }
                PeerRequest::Touch(ids)
            }
            k => {
                return Err(DecodeError::Unknown {
                    what: "peer request kind",
                    value: i32::from(k),
                })
            }
        })
    }
}

impl PeerResponse {
    /// Appends the encoding (without the frame length).
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            PeerResponse::Error(msg) => {
                out.put_u8(0);
                msg.encode(out);
            }
            PeerResponse::Append(r) => {
                out.put_u8(1);
                match r {
                    AppendEntriesResponse::Success => out.put_u8(0),
                    AppendEntriesResponse::PartialSuccess(id) => {
                        out.put_u8(1);
                        put_opt_log_id(id, out);
                    }
                    AppendEntriesResponse::Conflict => out.put_u8(2),
                    AppendEntriesResponse::HigherVote(v) => {
                        out.put_u8(3);
                        put_vote(v, out);
                    }
                }
            }
            PeerResponse::Vote(r) => {
                out.put_u8(2);
                put_vote(&r.vote, out);
                out.put_u8(u8::from(r.vote_granted));
                put_opt_log_id(&r.last_log_id, out);
            }
            PeerResponse::Snapshot(r) => {
                out.put_u8(3);
                put_vote(&r.vote, out);
            }
            PeerResponse::Forwarded(ok) => {
                out.put_u8(4);
                out.put_u8(u8::from(*ok));
            }
            PeerResponse::ReadIndex(id) => {
                out.put_u8(5);
                put_opt_log_id(id, out);
            }
            PeerResponse::Touched => out.put_u8(6),
        }
    }

    /// Decodes one response.
    ///
    /// # Errors
    /// Malformed input.
    pub fn decode(mut input: &[u8]) -> Result<PeerResponse, DecodeError> {
        let input = &mut input;
        Ok(match get_u8(input)? {
            0 => PeerResponse::Error(String::decode_next(input, LIM)?),
            1 => PeerResponse::Append(match get_u8(input)? {
                0 => AppendEntriesResponse::Success,
                1 => AppendEntriesResponse::PartialSuccess(get_opt_log_id(input)?),
                2 => AppendEntriesResponse::Conflict,
                3 => AppendEntriesResponse::HigherVote(get_vote(input)?),
                k => {
                    return Err(DecodeError::Unknown {
                        what: "append response",
                        value: i32::from(k),
                    })
                }
            }),
            2 => PeerResponse::Vote(VoteResponse {
                vote: get_vote(input)?,
                vote_granted: bool::decode_next(input, LIM)?,
                last_log_id: get_opt_log_id(input)?,
            }),
            3 => PeerResponse::Snapshot(InstallSnapshotResponse {
                vote: get_vote(input)?,
            }),
            4 => PeerResponse::Forwarded(bool::decode_next(input, LIM)?),
            5 => PeerResponse::ReadIndex(get_opt_log_id(input)?),
            6 => PeerResponse::Touched,
            k => {
                return Err(DecodeError::Unknown {
                    what: "peer response kind",
                    value: i32::from(k),
                })
            }
        })
    }
}
