//! What happens after an entry is applied: the session table learns about created and closed
//! sessions, and the waiting connection gets its reply. Never waits on a client: replies go
//! through `Sink::push`, which closes a connection whose queue is full instead of blocking.

use super::Waiter;
use crate::shared::Shared;
use crate::sink::Outbound;
use crate::tree::Applied;
use crate::txn::{Txn, TxnOp};
use bytes::BytesMut;
use zk_codec::records::ReplyHeader;
use zk_codec::{write_frame, ErrorCode, Jute};

/// Completes an applied txn: session bookkeeping, then the waiting connection or task (taken
/// from `Pending` by the caller, with the reads queued behind it).
pub fn complete(shared: &Shared, txn: &Txn, zxid: i64, applied: Applied, waiter: Option<Waiter>) {
    let now = crate::clock::now_ms();
    let close = matches!(txn.op, TxnOp::CloseSession);
    match &txn.op {
        TxnOp::CreateSession { timeout_ms } => shared.sessions.track(txn.session, *timeout_ms, now),
        TxnOp::CloseSession => {
            // A client's own closeSession is closed by its writer after the reply; an expired
            // session's connection is closed here, without a reply (ZooKeeper sends nothing).
            if let Some(conn) = shared.sessions.remove(txn.session) {
                let replying =
                    matches!(&waiter, Some(Waiter::Conn { sink, .. }) if sink.id == conn.id);
                if !replying {
                    conn.push(Outbound::Close);
                }
            }
        }
        _ => {}
    }
    match waiter {
        Some(Waiter::Conn { sink, started, op }) => {
            let mut out = BytesMut::with_capacity(64);
            write_frame(&mut out, |o| {
                ReplyHeader {
                    xid: txn.cxid,
                    zxid,
                    err: applied.err.code(),
                }
                .encode(o);
                if applied.err == ErrorCode::Ok {
                    applied.response.encode(o);
                }
            });
            let latency = started.elapsed().as_millis() as i64;
            sink.stats.record(op, txn.cxid, zxid, now, latency);
            shared.stats.record_latency(latency);
            {
                use crate::ops::metrics::{
                    observe_advanced, observe_namespace, Advanced, Namespace,
                };
                observe_advanced(Advanced::UpdateLatency, latency as u64);
                if let crate::txn::TxnOp::Request(r) = &txn.op {
                    if let Some(path) = crate::net::read::request_path(r) {
                        observe_namespace(
                            Namespace::Write,
                            path,
                            out.len().saturating_sub(4) as u64,
                        );
                    }
                }
            }
            sink.push(Outbound::WriteDone {
                xid: txn.cxid,
                frame: out.freeze(),
                close,
            });
        }
        Some(Waiter::Task(tx)) => {
            let _ = tx.send((zxid, applied));
        }
        None => {}
    }
}
