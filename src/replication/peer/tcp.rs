//! openraft's network over TCP on the quorum port: one connection per (leader, target)
//! replication stream, one request in flight on it, reconnected after any error. The server
//! side answers each request by calling the local Raft.

use super::super::{Raft, TypeConfig};
use super::rpc::{PeerRequest, PeerResponse, MAX_FRAME};
use bytes::BytesMut;
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How long a connect may take before the peer counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

async fn read_frame(s: &mut TcpStream) -> io::Result<Vec<u8>> {
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

async fn write_frame(s: &mut TcpStream, body: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    s.write_all(&out).await
}

/// Creates a [`TcpPeer`] per replication target.
#[derive(Debug, Clone, Default)]
pub struct TcpPeers;

impl RaftNetworkFactory<TypeConfig> for TcpPeers {
    type Network = TcpPeer;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> TcpPeer {
        TcpPeer {
            target,
            addr: node.addr.clone(),
            conn: None,
        }
    }
}

/// The client side of one peer link.
#[derive(Debug)]
pub struct TcpPeer {
    target: u64,
    addr: String,
    conn: Option<TcpStream>,
}

type Rpc<T, E> = Result<T, RPCError<u64, BasicNode, E>>;

impl TcpPeer {
    async fn call<E: std::error::Error>(
        &mut self,
        req: PeerRequest,
        ttl: Duration,
    ) -> Rpc<PeerResponse, E> {
        let mut body = BytesMut::new();
        req.encode(&mut body);
        if self.conn.is_none() {
            let s = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.addr))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))
                .and_then(|r| r)
                .map_err(|e| RPCError::Unreachable(Unreachable::new(&e)))?;
            let _ = s.set_nodelay(true);
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

/// Serves peer requests on the quorum port until `stop`.
pub async fn serve(raft: Raft, listener: TcpListener, stop: CancellationToken) {
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
        let stop = stop.clone();
        tokio::spawn(async move {
            loop {
                let frame = tokio::select! {
                    f = read_frame(&mut s) => f,
                    _ = stop.cancelled() => return,
                };
                let Ok(frame) = frame else { return };
                let resp = match PeerRequest::decode(&frame) {
                    Ok(req) => answer(&raft, req).await,
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

async fn answer(raft: &Raft, req: PeerRequest) -> PeerResponse {
    match req {
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
