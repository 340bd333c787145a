//! The writer task: drains the connection's queue in order, runs reads when no earlier write is
//! outstanding, and writes replies in batches (one syscall for everything queued so far).

use super::read;
use crate::shared::Shared;
use crate::sink::{Outbound, Sink};
use bytes::BytesMut;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use zk_codec::records::RequestHeader;
use zk_codec::Request;

/// Flush once this much output is buffered even if more messages are waiting.
const FLUSH_AT: usize = 256 * 1024;

/// A place in the reply order.
enum Slot {
    /// A write awaiting its reply (then `Some(frame)`, and `close` after closeSession).
    Write {
        xid: i32,
        done: Option<(bytes::Bytes, bool)>,
    },
    Read(RequestHeader, Request),
    Ready(bytes::Bytes),
}

struct State {
    slots: VecDeque<Slot>,
    out: BytesMut,
    frames: u64,
    /// Reply sizes in this batch: (last, min, max); min is i64::MAX when none.
    sizes: (i64, i64, i64),
}

/// Runs until the queue closes, a `Close` arrives, or the connection is cancelled.
pub async fn run(
    shared: Arc<Shared>,
    sink: Arc<Sink>,
    mut rx: mpsc::Receiver<Outbound>,
    mut wr: OwnedWriteHalf,
) {
    let mut st = State {
        slots: VecDeque::new(),
        out: BytesMut::with_capacity(8192),
        frames: 0,
        sizes: (0, i64::MAX, 0),
    };
    'outer: loop {
        let msg = tokio::select! {
            biased;
            m = rx.recv() => m,
            _ = sink.closed.cancelled() => None,
        };
        let Some(msg) = msg else { break };
        let mut close = handle(&shared, &sink, &mut st, msg);
        while !close && st.out.len() < FLUSH_AT {
            match rx.try_recv() {
                Ok(m) => close = handle(&shared, &sink, &mut st, m),
                Err(_) => break,
            }
        }
        if !st.out.is_empty() {
            if let Err(e) = wr.write_all(&st.out).await {
                tracing::debug!(peer = %sink.peer, error = %e, "write failed");
                break 'outer;
            }
            crate::idle_poll::touch();
            sink.stats.sent.fetch_add(st.frames, Ordering::Relaxed);
            shared
                .stats
                .packets_sent
                .fetch_add(st.frames, Ordering::Relaxed);
            let (last, min, max) = st.sizes;
            if min != i64::MAX {
                shared.stats.record_response_sizes(last, min, max);
            }
            crate::ops::metrics::count(
                crate::ops::metrics::Counter::ResponseBytes,
                st.out.len() as u64,
            );
            st.out.clear();
            st.frames = 0;
            st.sizes = (0, i64::MAX, 0);
        }
        if close {
            break;
        }
    }
    let _ = wr.shutdown().await;
    sink.closed.cancel();
}

/// Handles one message; true when the connection must close after flushing.
fn handle(shared: &Shared, sink: &Arc<Sink>, st: &mut State, msg: Outbound) -> bool {
    match msg {
        Outbound::Immediate(frame) => emit(st, &frame),
        Outbound::Read(h, r) if st.slots.is_empty() => run_read(shared, sink, st, h, r),
        Outbound::Read(h, r) => st.slots.push_back(Slot::Read(h, r)),
        Outbound::Ordered(frame) if st.slots.is_empty() => emit(st, &frame),
        Outbound::Ordered(frame) => st.slots.push_back(Slot::Ready(frame)),
        Outbound::WriteSlot { xid } => st.slots.push_back(Slot::Write { xid, done: None }),
        Outbound::WriteDone { xid, frame, close } => {
            // Writes complete in log order, but a sync completes on its own schedule, so the
            // reply is parked in its slot and sent when everything before it has been.
            let slot = st
                .slots
                .iter_mut()
                .find(|s| matches!(s, Slot::Write { xid: x, done: None } if *x == xid));
            match slot {
                Some(Slot::Write { done, .. }) => *done = Some((frame, close)),
                _ => {
                    tracing::debug!(peer = %sink.peer, xid, "reply for a write this connection is not waiting for")
                }
            }
            return drain_ready(shared, sink, st);
        }
        Outbound::Close => return true,
    }
    false
}

fn emit(st: &mut State, frame: &[u8]) {
    st.out.extend_from_slice(frame);
    st.frames += 1;
    note_size(st, frame.len());
}

/// Reply size as ZooKeeper counts it: the serialized reply without the length prefix.
fn note_size(st: &mut State, frame_len: usize) {
    let n = frame_len.saturating_sub(4) as i64;
    st.sizes = (n, st.sizes.1.min(n), st.sizes.2.max(n));
}

fn run_read(shared: &Shared, sink: &Arc<Sink>, st: &mut State, h: RequestHeader, r: Request) {
    let before = st.out.len();
    read::execute(shared, sink, &h, &r, &mut st.out);
    if st.out.len() > before {
        st.frames += 1;
        let n = st.out.len() - before;
        note_size(st, n);
    }
}

/// Sends every reply at the front of the order that is ready, running the reads that were
/// waiting; stops at the first write still in flight. True when a closeSession reply went out.
fn drain_ready(shared: &Shared, sink: &Arc<Sink>, st: &mut State) -> bool {
    while let Some(slot) = st.slots.front() {
        if matches!(slot, Slot::Write { done: None, .. }) {
            break;
        }
        match st.slots.pop_front() {
            Some(Slot::Read(h, r)) => run_read(shared, sink, st, h, r),
            Some(Slot::Ready(frame)) => emit(st, &frame),
            Some(Slot::Write {
                done: Some((frame, close)),
                ..
            }) => {
                emit(st, &frame);
                if close {
                    return true;
                }
            }
            _ => break,
        }
    }
    false
}
