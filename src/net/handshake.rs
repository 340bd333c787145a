//! The handshake (zk-protocol-reference.md §1.2): a new session goes through the log as a
//! createSession entry; a reconnect kicks the session's current connection, then checks the
//! password and liveness. Refusals answer `{timeout 0, session 0, zero password}` and close, or
//! close without a reply when the client has seen a newer zxid than ours.

use super::conn::Reason;
use super::framing::read_frame;
use crate::replication::Waiter;
use crate::session::password;
use crate::shared::Shared;
use crate::sink::{Outbound, Sink};
use crate::txn::{Txn, TxnOp};
use bytes::{Bytes, BytesMut};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::oneshot;
use zk_codec::records::{ConnectRequest, ConnectResponse};
use zk_codec::{write_frame, Jute, Limits};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(10_000);

fn response_frame(r: &ConnectResponse) -> Bytes {
    let mut out = BytesMut::with_capacity(48);
    write_frame(&mut out, |o| r.encode(o));
    out.freeze()
}

/// Runs the handshake; `Ok(negotiated timeout)` once the session is bound to `sink`.
///
/// # Errors
/// The reason the connection must close (the reply, if any, is already queued).
pub async fn run(
    shared: &Arc<Shared>,
    sink: &Arc<Sink>,
    rd: &mut OwnedReadHalf,
    buf: &mut BytesMut,
) -> Result<i32, Reason> {
    let frame = read_frame(rd, buf, shared.config.max_buffer, HANDSHAKE_TIMEOUT)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let req = ConnectRequest::decode_from(&frame, Limits::DEFAULT)
        .map_err(|e| format!("garbage handshake: {e}"))?;
    if shared.log().is_ensemble()
        && !shared
            .log()
            .has_quorum(crate::ensemble::quorum_grace_ms(shared))
    {
        return Err("not serving: this server has no quorum".into());
    }
    let last = shared.last_zxid();
    if req.last_zxid_seen > last {
        return Err(format!(
            "client has seen zxid 0x{:x}, ahead of our 0x{last:x}; it must try another server",
            req.last_zxid_seen
        ));
    }
    let timeout = shared.config.negotiate_timeout(req.timeout);
    let (session, passwd) = if req.session_id == 0 {
        let id = shared.sessions.next_id();
        create_session(shared, id, timeout).await?;
        (id, password::for_session(id))
    } else {
        let id = req.session_id;
        if let Some(old) = shared.sessions.detach(id) {
            old.closed.cancel();
        }
        let expected = password::for_session(id);
        let valid = req.passwd.as_ref() == expected
            && shared.read_tree().has_session(id)
            && shared.sessions.is_live(id);
        if !valid {
            let r = ConnectResponse {
                passwd: Bytes::from_static(&[0; 16]),
                read_only: req.read_only.map(|_| false),
                ..Default::default()
            };
            let _ = sink.send(Outbound::Immediate(response_frame(&r))).await;
            return Err(format!("session 0x{id:x} expired or invalid"));
        }
        shared.sessions.set_timeout(id, timeout);
        shared.sessions.touch(id, crate::clock::now_ms());
        (id, expected)
    };
    sink.session.store(session, Ordering::Relaxed);
    if let Some(old) = shared.sessions.bind(session, sink.clone()) {
        if old.id != sink.id {
            old.closed.cancel();
        }
    }
    let r = ConnectResponse {
        protocol_version: 0,
        timeout,
        session_id: session,
        passwd: Bytes::copy_from_slice(&passwd),
        read_only: req.read_only.map(|_| false),
    };
    sink.send(Outbound::Immediate(response_frame(&r)))
        .await
        .map_err(|_| Reason::from("closed during handshake"))?;
    tracing::debug!(peer = %sink.peer, session = format_args!("0x{session:x}"), timeout, "session established");
    Ok(timeout)
}

async fn create_session(shared: &Arc<Shared>, id: i64, timeout: i32) -> Result<(), Reason> {
    let (tx, rx) = oneshot::channel();
    shared.pending.register(id, 0, Waiter::Task(tx));
    let txn = Txn {
        session: id,
        cxid: 0,
        time_ms: 0,
        auth: Vec::new(),
        op: TxnOp::CreateSession {
            timeout_ms: timeout,
        },
    };
    shared
        .log()
        .propose(txn)
        .await
        .map_err(|_| Reason::from("shutting down"))?;
    rx.await.map_err(|_| Reason::from("shutting down"))?;
    tracing::info!(
        session = format_args!("0x{id:x}"),
        timeout,
        "session created"
    );
    Ok(())
}
