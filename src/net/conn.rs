//! One connection: four-letter-word sniffing, the handshake, then the reader loop that decodes
//! requests and queues them in order (see the `net` module doc). Any malformed frame or header
//! ends this connection only, with one log line.

use super::framing::{fill, read_frame, ReadError};
use super::{auth, handshake, writer};
use crate::ops::metrics::{self, Counter};
use crate::replication::{AttachedRead, Waiter};
use crate::shared::Shared;
use crate::sink::{Outbound, Sink};
use crate::txn::{Txn, TxnOp};
use bytes::{Bytes, BytesMut};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use zk_codec::records::{ReplyHeader, RequestHeader};
use zk_codec::{write_frame, ErrorCode, Jute, Limits, OpCode, Request};

/// ZooKeeper's zookeeper.nio.sessionlessCnxnTimeout: a handshake must arrive within this.
const SESSIONLESS_TIMEOUT: Duration = Duration::from_millis(10_000);

/// An encoded reply with only a header.
pub fn header_only(xid: i32, zxid: i64, err: ErrorCode) -> Bytes {
    let mut out = BytesMut::with_capacity(20);
    write_frame(&mut out, |o| {
        ReplyHeader {
            xid,
            zxid,
            err: err.code(),
        }
        .encode(o)
    });
    out.freeze()
}

/// Serves one accepted connection to the end.
pub async fn run(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let mut buf = BytesMut::with_capacity(4096);
    if let Err(e) = fill(&mut rd, &mut buf, 4, SESSIONLESS_TIMEOUT).await {
        tracing::debug!(peer = %peer, reason = %e, "connection closed before the handshake");
        return;
    }
    if let Some(word) = zk_codec::fourlw::sniff([buf[0], buf[1], buf[2], buf[3]]) {
        crate::ops::fourlw::serve(&shared, word, rd, wr, buf).await;
        return;
    }
    metrics::count(Counter::ConnectionRequestCount, 1);
    tracing::info!(peer = %peer, "connection opened");
    let (sink, rx) = Sink::new(shared.next_conn_id(), peer);
    sink.stats
        .established_ms
        .store(crate::clock::now_ms(), Ordering::Relaxed);
    shared.lock_conns().insert(sink.id, sink.clone());
    let writer = tokio::spawn(writer::run(shared.clone(), sink.clone(), rx, wr));
    let reason = match handshake::run(&shared, &sink, &mut rd, &mut buf).await {
        Ok(timeout) => read_loop(&shared, &sink, &mut rd, &mut buf, timeout).await,
        Err(reason) => {
            metrics::count(Counter::UnsuccessfulHandshake, 1);
            reason
        }
    };
    tracing::info!(peer = %peer, session = format_args!("0x{:x}", sink.session()), reason = %reason, "connection closed");
    // Let the writer flush what is queued (e.g. a closeSession reply), then stop it.
    let _ = sink.send(Outbound::Close).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
    sink.closed.cancel();
    shared.sessions.unbind(sink.session(), sink.id);
    shared.lock_watches().drop_conn(sink.id);
    shared.lock_conns().remove(&sink.id);
}

/// Why the reader stopped.
pub type Reason = String;

async fn read_loop(
    shared: &Arc<Shared>,
    sink: &Arc<Sink>,
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    buf: &mut BytesMut,
    timeout_ms: i32,
) -> Reason {
    let idle = Duration::from_millis(timeout_ms.max(1) as u64);
    let lim = Limits {
        max_buffer: shared.config.max_buffer,
        ..Limits::DEFAULT
    };
    loop {
        let frame = tokio::select! {
            f = read_frame(rd, buf, shared.config.max_buffer, idle) => f,
            _ = sink.closed.cancelled() => return "closed by server".into(),
        };
        let frame = match frame {
            Ok(f) => f,
            Err(ReadError::Frame(e)) => return format!("bad frame: {e}"),
            Err(e) => return e.to_string(),
        };
        crate::idle_poll::touch();
        sink.stats.received.fetch_add(1, Ordering::Relaxed);
        metrics::count(Counter::BytesReceivedCount, frame.len() as u64 + 4);
        shared
            .stats
            .packets_received
            .fetch_add(1, Ordering::Relaxed);
        let session = sink.session();
        shared.sessions.touch(session, crate::clock::now_ms());
        let Ok((body, header)) = RequestHeader::decode(&frame, lim) else {
            return "malformed request header".into();
        };
        // Opcodes 0 (notification) and -1 (error) name no request: answered as unknown ones.
        let known = OpCode::try_from(header.op)
            .ok()
            .filter(|op| !matches!(op, OpCode::Notification | OpCode::Error));
        let Some(op) = known else {
            let _ = sink
                .send(Outbound::Ordered(header_only(
                    header.xid,
                    -1,
                    ErrorCode::Unimplemented,
                )))
                .await;
            return format!("unknown opcode {}", header.op);
        };
        let req = Request::decode(op, body, lim);
        if let Some(reason) = dispatch(shared, sink, header, op, req).await {
            return reason;
        }
    }
}

/// Queues one request; `Some(reason)` ends the connection.
async fn dispatch(
    shared: &Arc<Shared>,
    sink: &Arc<Sink>,
    header: RequestHeader,
    op: OpCode,
    req: Result<Request, zk_codec::DecodeError>,
) -> Option<Reason> {
    let session = sink.session();
    let gone = || Some(Reason::from("connection closed by server"));
    match (op, req) {
        (OpCode::Auth, Ok(Request::Auth(a))) => {
            let ok = auth::add(shared, sink, &a);
            let err = if ok {
                ErrorCode::Ok
            } else {
                ErrorCode::AuthFailed
            };
            sink.send(Outbound::Immediate(header_only(header.xid, 0, err)))
                .await
                .ok()?;
            if !ok {
                metrics::count(Counter::AuthFailedCount, 1);
                return Some(format!("auth failed for scheme {}", a.scheme));
            }
            None
        }
        (OpCode::Sasl, _) => {
            // Without SASL configured ZooKeeper 3.8 answers OK with a null token (zxid 0) and
            // keeps the connection; the client then goes on without SASL.
            let mut out = BytesMut::with_capacity(24);
            write_frame(&mut out, |o| {
                ReplyHeader {
                    xid: header.xid,
                    zxid: 0,
                    err: 0,
                }
                .encode(o);
                (-1i32).encode(o);
            });
            sink.send(Outbound::Ordered(out.freeze())).await.ok()?;
            None
        }
        (OpCode::Check, _) => {
            // Standalone check (13) is broken in ZooKeeper 3.5–3.9; 3.10 answers -6 and closes.
            sink.send(Outbound::Ordered(header_only(
                header.xid,
                -1,
                ErrorCode::Unimplemented,
            )))
            .await
            .ok()?;
            Some("check outside multi".into())
        }
        (op, req) if op.is_write() && op != OpCode::Sync => {
            if !shared.sessions.is_live(session) {
                let zxid = shared.last_zxid();
                sink.send(Outbound::Ordered(header_only(
                    header.xid,
                    zxid,
                    ErrorCode::SessionExpired,
                )))
                .await
                .ok()?;
                return None;
            }
            let txn_op = match req {
                // deleteContainer is the container reaper's own request: ZooKeeper 3.8 refuses
                // it from clients with BadArguments (an error txn, so it consumes a zxid).
                _ if op == OpCode::DeleteContainer => TxnOp::BadArguments,
                Ok(Request::CloseSession) => {
                    shared.sessions.mark_closing(session);
                    TxnOp::CloseSession
                }
                Ok(r) => TxnOp::Request(r),
                Err(e) => {
                    tracing::info!(peer = %sink.peer, op = %op, error = %e, "malformed request body");
                    TxnOp::Malformed
                }
            };
            sink.send(Outbound::WriteSlot { xid: header.xid })
                .await
                .ok()?;
            let waiter = Waiter::Conn {
                sink: sink.clone(),
                started: Instant::now(),
                op: crate::ops::lop(op),
            };
            shared.pending.register(session, header.xid, waiter);
            let txn = Txn {
                session,
                cxid: header.xid,
                time_ms: 0,
                auth: sink.identities(),
                op: txn_op,
            };
            if shared.log().submit(txn, &sink.closed).is_err() {
                return gone();
            }
            None
        }
        (OpCode::Sync, Ok(Request::Sync(r))) => {
            // Ordered after this session's earlier writes (its slot), answered once the read
            // point is confirmed and applied here.
            sink.send(Outbound::WriteSlot { xid: header.xid })
                .await
                .ok()?;
            let (shared, sink) = (shared.clone(), sink.clone());
            tokio::spawn(async move {
                let err = match shared.log().sync_point().await {
                    Ok(()) => ErrorCode::Ok,
                    Err(_) => ErrorCode::ConnectionLoss,
                };
                if err != ErrorCode::Ok {
                    sink.closed.cancel();
                    return;
                }
                let mut out = BytesMut::with_capacity(32 + r.path.len());
                write_frame(&mut out, |o| {
                    ReplyHeader {
                        xid: header.xid,
                        zxid: shared.last_zxid(),
                        err: err.code(),
                    }
                    .encode(o);
                    zk_codec::records::SyncResponse { path: r.path }.encode(o);
                });
                sink.push(Outbound::WriteDone {
                    xid: header.xid,
                    frame: out.freeze(),
                    close: false,
                });
            });
            None
        }
        (_, Ok(r)) if header.xid > 0 && shared.pending.has_write_in_flight(session, sink.id) => {
            // Pipelined behind this session's write: the applier answers it right after that
            // write, before the session's next one (a log entry carries many txns).
            sink.send(Outbound::WriteSlot { xid: header.xid })
                .await
                .ok()?;
            let read = AttachedRead {
                sink: sink.clone(),
                header,
                request: r,
            };
            if let Err(read) = shared.pending.attach_read(session, read) {
                // Applied meanwhile; the session's next write is not proposed yet.
                let tree = shared.read_tree();
                crate::net::read::answer_attached(shared, &tree, *read);
            }
            None
        }
        (_, Ok(r)) => {
            sink.send(Outbound::Read(header, r)).await.ok()?;
            None
        }
        (op, Err(e)) => {
            tracing::info!(peer = %sink.peer, op = %op, error = %e, "malformed request body");
            let zxid = shared.last_zxid();
            sink.send(Outbound::Ordered(header_only(
                header.xid,
                zxid,
                ErrorCode::MarshallingError,
            )))
            .await
            .ok()?;
            None
        }
    }
}
