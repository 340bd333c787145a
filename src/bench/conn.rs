//! One raw ZooKeeper session over TCP for the load generator: handshake, framed requests with
//! increasing xids, and replies read in order (notifications are handed out separately).
//!
//! The connection is split into a [`ConnWriter`] and a [`ConnReader`] so that one task can keep
//! requests outstanding while it reads replies (ZooKeeper answers a session's requests in order).

use super::BenchError;
use bytes::{Bytes, BytesMut};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use zk_codec::records::{ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader};
use zk_codec::{decode_reply, split_frame, write_frame, Jute, Limits, OpCode, Request, Response};

/// How long any single reply may take before the run is declared broken.
pub const REPLY_DEADLINE: Duration = Duration::from_secs(30);
/// Largest frame accepted from the server (large getChildren replies included).
const MAX_FRAME: usize = 64 << 20;
/// The session timeout asked for, in milliseconds.
pub const SESSION_TIMEOUT_MS: i32 = 30_000;

/// Request side of a session.
pub struct ConnWriter {
    wr: OwnedWriteHalf,
    xid: i32,
    out: BytesMut,
}

/// Reply side of a session.
pub struct ConnReader {
    rd: OwnedReadHalf,
    buf: BytesMut,
}

/// A connected session.
pub struct Conn {
    /// Request side.
    pub w: ConnWriter,
    /// Reply side.
    pub r: ConnReader,
    /// The session id the server gave.
    pub session: i64,
}

/// The `i`-th server of a connect string (`host:port[,host:port...]`), round robin: sessions
/// spread over an ensemble's members as ZooKeeper clients spread over a connect string.
pub fn nth_server(servers: &str, i: usize) -> &str {
    let list: Vec<&str> = servers.split(',').filter(|s| !s.is_empty()).collect();
    if list.is_empty() {
        servers
    } else {
        list[i % list.len()]
    }
}

impl Conn {
    /// Connects (to the first server of a connect string) and completes the handshake for a
    /// new session.
    ///
    /// # Errors
    /// I/O failures, a closed connection or a refused session.
    pub async fn open(addr: &str) -> Result<Conn, BenchError> {
        let stream = TcpStream::connect(nth_server(addr, 0)).await?;
        stream.set_nodelay(true)?;
        let (rd, wr) = stream.into_split();
        let mut c = Conn {
            w: ConnWriter {
                wr,
                xid: 0,
                out: BytesMut::with_capacity(64 << 10),
            },
            r: ConnReader {
                rd,
                buf: BytesMut::with_capacity(64 << 10),
            },
            session: 0,
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: SESSION_TIMEOUT_MS,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
        };
        write_frame(&mut c.w.out, |o| req.encode(o));
        c.w.flush().await?;
        let frame = c.r.frame().await?;
        let resp = ConnectResponse::decode_from(&frame, Limits::DEFAULT)
            .map_err(|e| BenchError::Protocol(format!("handshake reply: {e}")))?;
        if resp.timeout <= 0 {
            return Err(BenchError::Protocol("session refused".into()));
        }
        c.session = resp.session_id;
        Ok(c)
    }

    /// Sends one request and waits for its reply (notifications are skipped).
    ///
    /// # Errors
    /// I/O failures, a closed connection, or a malformed reply.
    pub async fn call(&mut self, req: &Request) -> Result<(ReplyHeader, Response), BenchError> {
        self.w.push(req);
        self.w.flush().await?;
        loop {
            let f = self.r.frame().await?;
            let (h, resp) = decode_reply(req.op(), &f, Limits::DEFAULT)
                .map_err(|e| BenchError::Protocol(format!("reply: {e}")))?;
            if h.xid != zk_codec::records::xid::NOTIFICATION {
                return Ok((h, resp));
            }
        }
    }

    /// Closes the session politely (closeSession, then the socket), ignoring failures.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(REPLY_DEADLINE, self.call(&Request::CloseSession)).await;
    }
}

impl ConnWriter {
    /// Encodes `req` with the next xid into the output buffer (not sent until [`flush`]).
    ///
    /// [`flush`]: ConnWriter::flush
    pub fn push(&mut self, req: &Request) {
        self.xid += 1;
        let xid = match req {
            Request::Ping => zk_codec::records::xid::PING,
            _ => self.xid,
        };
        write_frame(&mut self.out, |o| {
            RequestHeader {
                xid,
                op: req.op().code(),
            }
            .encode(o);
            req.encode(o);
        });
    }

    /// Writes everything pushed so far.
    ///
    /// # Errors
    /// I/O failures.
    pub async fn flush(&mut self) -> Result<(), BenchError> {
        if !self.out.is_empty() {
            self.wr.write_all(&self.out).await?;
            self.out.clear();
            crate::idle_poll::touch();
        }
        Ok(())
    }
}

impl ConnReader {
    /// The next frame payload, within [`REPLY_DEADLINE`].
    ///
    /// # Errors
    /// I/O failure, EOF, a bad frame or the deadline.
    pub async fn frame(&mut self) -> Result<BytesMut, BenchError> {
        let fut = async {
            loop {
                match split_frame(&mut self.buf, MAX_FRAME) {
                    Ok(Some(f)) => return Ok(f),
                    Ok(None) => {}
                    Err(e) => return Err(BenchError::Protocol(format!("frame: {e}"))),
                }
                if self.rd.read_buf(&mut self.buf).await? == 0 {
                    return Err(BenchError::Closed);
                }
                crate::idle_poll::touch();
            }
        };
        tokio::time::timeout(REPLY_DEADLINE, fut)
            .await
            .map_err(|_| BenchError::Protocol("no reply within 30 s".into()))?
    }

    /// The next reply header that is not a notification or ping, and its frame; for multi
    /// replies the error is the first failed sub-op's.
    ///
    /// # Errors
    /// As [`frame`](ConnReader::frame), or a malformed reply.
    pub async fn reply(&mut self, op: OpCode) -> Result<ReplyHeader, BenchError> {
        loop {
            let f = self.frame().await?;
            let mut h = ReplyHeader::decode_from(&f, Limits::DEFAULT)
                .map_err(|e| BenchError::Protocol(format!("reply header: {e}")))?;
            if h.xid == zk_codec::records::xid::NOTIFICATION
                || h.xid == zk_codec::records::xid::PING
            {
                continue;
            }
            if op == OpCode::Multi && h.err == 0 {
                if let Ok((_, Response::Multi(m))) = decode_reply(op, &f, Limits::DEFAULT) {
                    h.err = first_multi_error(&m);
                }
            }
            return Ok(h);
        }
    }
}

fn first_multi_error(m: &zk_codec::MultiResponse) -> i32 {
    m.results
        .iter()
        .find_map(|r| match r {
            zk_codec::OpResult::Error(e) if *e != 0 => Some(*e),
            _ => None,
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sessions_go_round_the_connect_string() {
        let s = "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3";
        let picked: Vec<&str> = (0..4).map(|i| super::nth_server(s, i)).collect();
        assert_eq!(
            picked,
            ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:1"]
        );
        assert_eq!(super::nth_server("127.0.0.1:9", 5), "127.0.0.1:9");
    }
}
