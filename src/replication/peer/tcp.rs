//! openraft's network over TCP on the quorum port: one connection per (leader, target)
//! replication stream, one request in flight on it, reconnected after any error. The server
//! side answers each request by calling the local Raft.

use super::super::batcher::Batcher;
use super::super::{Raft, TypeConfig};
use super::rpc::{PeerRequest, PeerResponse, MAX_FRAME};
use crate::txn::Txn;
use bytes::BytesMut;
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How long a connect may take before the peer counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// A connection to a peer's quorum port, within [`CONNECT_TIMEOUT`] (a timeout is `TimedOut`),
/// with Nagle off: peer messages are small and each waits for its answer.
pub(super) async fn connect(addr: &str) -> io::Result<TcpStream> {
    let s = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    let _ = s.set_nodelay(true);
    Ok(s)
}

pub(super) async fn read_frame<R: AsyncRead + Unpin>(s: &mut R) -> io::Result<Vec<u8>> {
    let n = s.read_u32().await? as usize;
    if n > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("peer frame of {n} bytes is over the limit"),
        ));
    }
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

pub(super) async fn write_frame<W: AsyncWrite + Unpin>(s: &mut W, body: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    s.write_all(&out).await
}

/// Creates a [`TcpPeer`] per replication target. Addresses come from this server's own
/// zoo.cfg (`server.N` lines) when it names the target, as in ZooKeeper where each server
/// dials the addresses of its own configuration; the membership's address is the fallback.
#[derive(Debug, Clone, Default)]
pub struct TcpPeers {
    pub addrs: Arc<std::collections::BTreeMap<u64, String>>,
    pub health: LinkHealth,
}

/// Which peers' links are broken right now (connect refused, reset, closed, timed out) as seen
/// by this member's last call to each. A leader whose followers' processes die sees it at the
/// next heartbeat, as ZooKeeper's leader sees its LearnerHandler sockets close, instead of
/// waiting syncLimit ticks for acks to age.
#[derive(Debug, Clone, Default)]
pub struct LinkHealth(Arc<std::sync::Mutex<std::collections::HashSet<u64>>>);

impl LinkHealth {
    fn set(&self, target: u64, up: bool) {
        let mut down = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if up {
            down.remove(&target);
        } else {
            down.insert(target);
        }
    }

    /// Whether the last call to `target` failed at the transport level.
    pub fn is_down(&self, target: u64) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&target)
    }
}

impl TcpPeers {
    pub(super) fn addr_of(&self, target: u64, node: &BasicNode) -> String {
        self.addrs
            .get(&target)
            .cloned()
            .unwrap_or_else(|| node.addr.clone())
    }
}

impl RaftNetworkFactory<TypeConfig> for TcpPeers {
    type Network = TcpPeer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> TcpPeer {
        TcpPeer {
            target,
            addr: self.addr_of(target, node),
            conn: None,
            health: self.health.clone(),
        }
    }
}

/// The client side of one peer link.
#[derive(Debug)]
pub struct TcpPeer {
    target: u64,
    addr: String,
    conn: Option<TcpStream>,
    health: LinkHealth,
}

type Rpc<T, E> = Result<T, RPCError<u64, BasicNode, E>>;

impl TcpPeer {
    async fn call<E: std::error::Error>(
        &mut self,
        req: PeerRequest,
        ttl: Duration,
    ) -> Rpc<PeerResponse, E> {
        let mut broken = false;
        let r = self.exchange(req, ttl, &mut broken).await;
        // A slow answer says nothing about the link (members share CPUs under load); the
        // syncLimit rule in `Log::has_quorum` covers silent peers.
        if r.is_ok() || broken {
            self.health.set(self.target, r.is_ok());
        }
        r
    }

    /// One request and its reply; `broken` is set when the failure shows the link itself is
    /// gone (connection refused, reset or closed by the peer), not merely slow.
    async fn exchange<E: std::error::Error>(
        &mut self,
        req: PeerRequest,
        ttl: Duration,
        broken: &mut bool,
    ) -> Rpc<PeerResponse, E> {
        let mut body = BytesMut::new();
        req.encode(&mut body);
        if self.conn.is_none() {
            let s = connect(&self.addr).await.map_err(|e| {
                *broken = is_broken(&e);
                RPCError::Unreachable(Unreachable::new(&e))
            })?;
            self.conn = Some(s);
        }
        let Some(s) = self.conn.as_mut() else {
            return Err(RPCError::Unreachable(Unreachable::new(&io::Error::other(
                "no connection",
            ))));
        };
        let exchange = async {
            write_frame(s, &body).await?;
            read_frame(s).await
        };
        let reply = match tokio::time::timeout(ttl, exchange).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => {
                self.conn = None;
                *broken = is_broken(&e);
                return Err(RPCError::Network(NetworkError::new(&e)));
            }
            Err(_) => {
                self.conn = None;
                return Err(RPCError::Network(NetworkError::new(&io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("peer {} did not answer within {ttl:?}", self.target),
                ))));
            }
        };
        PeerResponse::decode(&reply).map_err(|e| {
            self.conn = None;
            RPCError::Network(NetworkError::new(&io::Error::new(
                io::ErrorKind::InvalidData,
                e.to_string(),
            )))
        })
    }
}

/// Whether an I/O error means the peer's end is gone (its process died or closed the socket),
/// as ZooKeeper's leader sees a LearnerHandler socket close.
fn is_broken(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

fn unexpected<E: std::error::Error>(what: &str, got: PeerResponse) -> RPCError<u64, BasicNode, E> {
    let msg = match got {
        PeerResponse::Error(m) => format!("peer refused {what}: {m}"),
        other => format!("peer answered {what} with {other:?}"),
    };
    RPCError::Network(NetworkError::new(&io::Error::other(msg)))
}

impl RaftNetwork<TypeConfig> for TcpPeer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<AppendEntriesResponse<u64>, RaftError<u64>> {
        match self
            .call(PeerRequest::Append(rpc), option.hard_ttl())
            .await?
        {
            PeerResponse::Append(r) => Ok(r),
            other => Err(unexpected("append", other)),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Rpc<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>> {
        match self
            .call(PeerRequest::Snapshot(rpc), option.hard_ttl())
            .await?
        {
            PeerResponse::Snapshot(r) => Ok(r),
            other => Err(unexpected("snapshot", other)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Rpc<VoteResponse<u64>, RaftError<u64>> {
        match self.call(PeerRequest::Vote(rpc), option.hard_ttl()).await? {
            PeerResponse::Vote(r) => Ok(r),
            other => Err(unexpected("vote", other)),
        }
    }
}

/// Records client activity on sessions (forwarded by followers to the leader).
pub type TouchFn = Arc<dyn Fn(&[i64]) + Send + Sync>;

/// Serves peer requests on the quorum port until `stop`. `id` is this member's id; `touch`
/// records client activity forwarded by followers (the leader expires sessions).
pub async fn serve(
    id: u64,
    raft: Raft,
    touch: TouchFn,
    listener: TcpListener,
    stop: CancellationToken,
) {
    // Writes forwarded by followers get their own queue into the log (group-committed like
    // local ones; each follower link keeps its own order).
    let batcher = Batcher::start(raft.clone());
    loop {
        let (mut s, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "peer accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        let _ = s.set_nodelay(true);
        let raft = raft.clone();
        let batcher = batcher.clone();
        let stop = stop.clone();
        let touch = touch.clone();
        tokio::spawn(async move {
            loop {
                let frame = tokio::select! {
                    f = read_frame(&mut s) => f,
                    _ = stop.cancelled() => return,
                };
                let Ok(frame) = frame else { return };
                let resp = match PeerRequest::decode(&frame) {
                    Ok(req) => answer(id, &raft, &batcher, &*touch, req).await,
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "malformed peer request; closing");
                        return;
                    }
                };
                let mut out = BytesMut::new();
                resp.encode(&mut out);
                if write_frame(&mut s, &out).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn is_leader(id: u64, raft: &Raft) -> bool {
    raft.metrics().borrow().current_leader == Some(id)
}

async fn answer(
    id: u64,
    raft: &Raft,
    batcher: &Batcher,
    touch: &(dyn Fn(&[i64]) + Send + Sync),
    req: PeerRequest,
) -> PeerResponse {
    match req {
        PeerRequest::Forward(txns) => {
            if !is_leader(id, raft) {
                return PeerResponse::Forwarded(false);
            }
            let mut ok = true;
            for mut txn in txns {
                // The leader's clock stamps every entry, forwarded or not.
                txn.time_ms = crate::clock::now_ms();
                ok &= batcher.submit(txn).is_ok();
            }
            PeerResponse::Forwarded(ok)
        }
        PeerRequest::ReadIndex => match raft.get_read_log_id().await {
            Ok((read, _applied)) => PeerResponse::ReadIndex(read),
            Err(e) => PeerResponse::Error(e.to_string()),
        },
        PeerRequest::Touch(ids) => {
            touch(&ids);
            PeerResponse::Touched
        }
        PeerRequest::Append(r) => match raft.append_entries(r).await {
            Ok(x) => PeerResponse::Append(x),
            Err(e) => PeerResponse::Error(e.to_string()),
        },
        PeerRequest::Vote(r) => match raft.vote(r).await {
            Ok(x) => PeerResponse::Vote(x),
            Err(e) => PeerResponse::Error(e.to_string()),
        },
        PeerRequest::Snapshot(r) => match raft.install_snapshot(r).await {
            Ok(x) => PeerResponse::Snapshot(x),
            Err(e) => PeerResponse::Error(e.to_string()),
        },
    }
}

/// Why a request to the leader did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// No leader is known, or the one asked is no longer leader.
    NoLeader,
    /// The leader could not be reached or answered badly.
    Io(String),
}

/// Where the outcome of a forwarded write goes.
pub enum OnForward {
    /// To a waiting proposer.
    Reply(tokio::sync::oneshot::Sender<Result<(), LinkError>>),
    /// Nowhere on success (the reply comes through the applied txn, as on the leader); on
    /// failure the client connection is closed, as ZooKeeper's follower drops its clients when
    /// it loses the leader. Writes queued by a connection already closed are not sent, so a
    /// session's later write never goes through after an earlier one failed.
    CloseOnFailure(CancellationToken),
}

/// Writes waiting to be forwarded, and whether a shipper task is running.
#[derive(Default)]
struct Outbox {
    queue: Vec<(Txn, OnForward)>,
    shipping: bool,
}

/// A follower's link to the current leader for forwarded writes, read indexes and session
/// touches. One request is in flight at a time; the link follows leader changes. Writes that
/// queue while a forward is in flight go together in the next one (one round trip per batch,
/// not per write, as the leader's own batcher does for its log), so a connection can pipeline
/// its writes through a follower.
pub struct LeaderLink {
    raft: Raft,
    peers: TcpPeers,
    conn: tokio::sync::Mutex<Option<(u64, TcpStream)>>,
    outbox: std::sync::Mutex<Outbox>,
}

impl std::fmt::Debug for LeaderLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeaderLink")
    }
}

/// How long a request to the leader may take.
const LINK_TIMEOUT: Duration = Duration::from_secs(5);

impl LeaderLink {
    pub fn new(raft: Raft, peers: TcpPeers) -> LeaderLink {
        LeaderLink {
            raft,
            peers,
            conn: tokio::sync::Mutex::new(None),
            outbox: std::sync::Mutex::new(Outbox::default()),
        }
    }

    /// The state of this member's links to its peers.
    pub fn health(&self) -> &LinkHealth {
        &self.peers.health
    }

    async fn call(&self, req: PeerRequest) -> Result<PeerResponse, LinkError> {
        let (leader, addr) = {
            let m = self.raft.metrics().borrow().clone();
            let leader = m.current_leader.ok_or(LinkError::NoLeader)?;
            let addr = m
                .membership_config
                .membership()
                .get_node(&leader)
                .map(|n| self.peers.addr_of(leader, n))
                .ok_or(LinkError::NoLeader)?;
            (leader, addr)
        };
        let mut body = BytesMut::new();
        req.encode(&mut body);
        let mut guard = self.conn.lock().await;
        if guard.as_ref().is_none_or(|(l, _)| *l != leader) {
            let s = connect(&addr).await.map_err(|e| match e.kind() {
                io::ErrorKind::TimedOut => {
                    LinkError::Io(format!("connecting to leader {leader} timed out"))
                }
                _ => LinkError::Io(e.to_string()),
            })?;
            *guard = Some((leader, s));
        }
        let Some((_, s)) = guard.as_mut() else {
            return Err(LinkError::NoLeader);
        };
        let exchange = async {
            write_frame(s, &body).await?;
            read_frame(s).await
        };
        let reply = match tokio::time::timeout(LINK_TIMEOUT, exchange).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                *guard = None;
                return Err(LinkError::Io(e.to_string()));
            }
            Err(_) => {
                *guard = None;
                return Err(LinkError::Io("leader did not answer in time".into()));
            }
        };
        PeerResponse::decode(&reply).map_err(|e| {
            *guard = None;
            LinkError::Io(e.to_string())
        })
    }

    /// Hands a client write to the leader, which proposes it, and waits for the leader to
    /// take it.
    ///
    /// # Errors
    /// No leader, or it could not be reached.
    pub async fn forward(self: &Arc<Self>, txn: Txn) -> Result<(), LinkError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.enqueue(txn, OnForward::Reply(tx));
        rx.await
            .unwrap_or_else(|_| Err(LinkError::Io("forward abandoned".into())))
    }

    /// Queues a write for the leader without waiting (in call order, so a session's writes
    /// keep their order); a shipper task sends what has queued, batch by batch.
    pub fn enqueue(self: &Arc<Self>, txn: Txn, on: OnForward) {
        let start = {
            let mut q = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
            q.queue.push((txn, on));
            !std::mem::replace(&mut q.shipping, true)
        };
        if start {
            let me = self.clone();
            tokio::spawn(async move { me.ship().await });
        }
    }

    async fn ship(&self) {
        loop {
            let batch = {
                let mut q = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
                if q.queue.is_empty() {
                    // Cleared under the lock: an enqueue either sees a shipper or starts one.
                    q.shipping = false;
                    return;
                }
                std::mem::take(&mut q.queue)
            };
            let mut txns = Vec::with_capacity(batch.len());
            let mut waiters = Vec::with_capacity(batch.len());
            for (txn, on) in batch {
                if let OnForward::CloseOnFailure(closed) = &on {
                    if closed.is_cancelled() {
                        continue;
                    }
                }
                txns.push(txn);
                waiters.push(on);
            }
            if txns.is_empty() {
                continue;
            }
            let outcome = match self.call(PeerRequest::Forward(txns)).await {
                Ok(PeerResponse::Forwarded(true)) => Ok(()),
                Ok(PeerResponse::Forwarded(false)) => Err(LinkError::NoLeader),
                Ok(other) => Err(LinkError::Io(format!("unexpected answer {other:?}"))),
                Err(e) => Err(e),
            };
            if let Err(e) = &outcome {
                tracing::info!(error = ?e, writes = waiters.len(), "forwarding to the leader failed");
            }
            for w in waiters {
                match w {
                    OnForward::Reply(tx) => {
                        let _ = tx.send(outcome.clone());
                    }
                    OnForward::CloseOnFailure(closed) => {
                        if outcome.is_err() {
                            closed.cancel();
                        }
                    }
                }
            }
        }
    }

    /// The leader's linearizable read point (its read index).
    ///
    /// # Errors
    /// No leader, or it could not confirm its leadership.
    pub async fn read_index(&self) -> Result<Option<openraft::LogId<u64>>, LinkError> {
        match self.call(PeerRequest::ReadIndex).await? {
            PeerResponse::ReadIndex(id) => Ok(id),
            PeerResponse::Error(_) => Err(LinkError::NoLeader),
            other => Err(LinkError::Io(format!("unexpected answer {other:?}"))),
        }
    }

    /// Tells the leader these sessions are active.
    ///
    /// # Errors
    /// No leader, or it could not be reached.
    pub async fn touch(&self, sessions: Vec<i64>) -> Result<(), LinkError> {
        match self.call(PeerRequest::Touch(sessions)).await? {
            PeerResponse::Touched => Ok(()),
            other => Err(LinkError::Io(format!("unexpected answer {other:?}"))),
        }
    }
}
