//! The applier task: takes entries in log order, applies them, fires watches and completes the
//! waiters. It never waits on a client: replies and events go through `Sink::push`, which closes
//! a connection whose queue is full instead of blocking.

use super::Waiter;
use crate::shared::Shared;
use crate::sink::Outbound;
use crate::tree::Applied;
use crate::txn::{Txn, TxnOp};
use bytes::BytesMut;
use std::sync::Arc;
use tokio::sync::mpsc;
use zk_codec::records::ReplyHeader;
use zk_codec::{write_frame, ErrorCode, Jute};

/// Entries applied per lock acquisition at most.
const BATCH: usize = 256;

/// Runs until every proposer is gone.
pub async fn run_applier(shared: Arc<Shared>, mut rx: mpsc::Receiver<Txn>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let mut done = Vec::with_capacity(batch.len());
        {
            let mut tree = shared.write_tree();
            let mut watches = shared.lock_watches();
            for txn in batch.drain(..) {
                let zxid = tree.last_zxid() + 1;
                let applied = tree.apply(&txn, zxid);
                for ev in &applied.events {
                    watches.fire(ev);
                }
                done.push((txn, zxid, applied));
            }
        }
        for (txn, zxid, applied) in done {
            complete(&shared, &txn, zxid, applied);
        }
    }
    tracing::debug!("applier stopped");
}

fn complete(shared: &Shared, txn: &Txn, zxid: i64, applied: Applied) {
    let now = crate::clock::now_ms();
    let waiter = shared.pending.take(txn.session, txn.cxid);
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
            sink.push(Outbound::WriteDone {
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
