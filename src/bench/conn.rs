//! One raw ZooKeeper session over TCP for the load generator: handshake, framed requests with
//! increasing xids, and replies read in order (notifications are handed out separately).
//!
//! The connection is split into a [`ConnWriter`] and a [`ConnReader`] so that one task can keep
//! requests outstanding while it reads replies (ZooKeeper answers a session's requests in order).

use super::BenchError;
use bytes::{Bytes, BytesMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
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
    /// Frames in `out` not yet written.
    pushed: u64,
    /// Frames written to the socket, for the reader's polling.
    sent: Arc<AtomicU64>,
}

/// Reply side of a session.
pub struct ConnReader {
    rd: OwnedReadHalf,
    buf: BytesMut,
    /// Frames read (replies and notifications alike).
    frames: u64,
    /// The writer's count of frames written.
    sent: Arc<AtomicU64>,
    /// How long to poll the socket for an awaited reply before sleeping ([`ConnReader::busy_poll`]).
    poll_for: Duration,
    /// Reads that polling got (tests).
    polled: u64,
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
        let sent = Arc::new(AtomicU64::new(0));
        let mut c = Conn {
            w: ConnWriter {
                wr,
                xid: 0,
                out: BytesMut::with_capacity(64 << 10),
                pushed: 0,
                sent: sent.clone(),
            },
            r: ConnReader {
                rd,
                buf: BytesMut::with_capacity(64 << 10),
                frames: 0,
                sent,
                poll_for: Duration::ZERO,
                polled: 0,
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
        c.w.pushed += 1;
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
        self.pushed += 1;
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
            self.sent
                .fetch_add(std::mem::take(&mut self.pushed), Ordering::Relaxed);
            crate::idle_poll::touch();
        }
        Ok(())
    }
}

impl ConnReader {
    /// Makes the reader poll its socket for up to `d` for a reply it awaits (one already
    /// written) before it sleeps in epoll (zero: never). Then the server's reply wakes no
    /// sleeping thread here: its send skips the wake-up (an inter-processor interrupt, ~8 µs
    /// of the server's `send` on this VM), and the reply is read without the generator's own
    /// wake-up, so a lone session's latency is the server's. For a session that has its
    /// thread to itself only: the poll holds the thread.
    pub fn busy_poll(&mut self, d: Duration) {
        self.poll_for = d;
    }

    /// The next frame payload, within [`REPLY_DEADLINE`].
    ///
    /// # Errors
    /// I/O failure, EOF, a bad frame or the deadline.
    pub async fn frame(&mut self) -> Result<BytesMut, BenchError> {
        let fut = async {
            loop {
                match split_frame(&mut self.buf, MAX_FRAME) {
                    Ok(Some(f)) => {
                        self.frames += 1;
                        return Ok(f);
                    }
                    Ok(None) => {}
                    Err(e) => return Err(BenchError::Protocol(format!("frame: {e}"))),
                }
                if self.sent.load(Ordering::Relaxed) > self.frames && self.poll_socket()? {
                    continue;
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

    /// Reads whatever arrives within the poll window without sleeping; true if anything did.
    /// (A non-blocking `recv` on the socket itself: tokio's `try_read` answers from its
    /// readiness cache, which nothing refreshes while this thread polls.)
    fn poll_socket(&mut self) -> Result<bool, BenchError> {
        if self.poll_for.is_zero() {
            return Ok(false);
        }
        let fd = std::os::fd::AsRawFd::as_raw_fd(self.rd.as_ref());
        let until = Instant::now() + self.poll_for;
        self.buf.reserve(16 << 10);
        loop {
            let spare = self.buf.spare_capacity_mut();
            // SAFETY: recv writes at most `spare.len()` bytes into the buffer's spare capacity,
            // and only the bytes it reports written are marked initialised.
            let n = unsafe {
                libc::recv(
                    fd,
                    spare.as_mut_ptr().cast(),
                    spare.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n > 0 {
                unsafe { self.buf.set_len(self.buf.len() + n as usize) };
                self.polled += 1;
                crate::idle_poll::touch();
                return Ok(true);
            }
            if n == 0 {
                return Err(BenchError::Closed);
            }
            let e = std::io::Error::last_os_error();
            if !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
            ) {
                return Err(e.into());
            }
            if Instant::now() >= until {
                return Ok(false);
            }
            std::hint::spin_loop();
        }
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
    use super::*;
    use std::io::{Read, Write};

    /// A server that answers the handshake, then each request `delay` after it arrives, then
    /// sends one frame nobody asked for.
    fn fake_server(requests: usize, delay: Duration) -> (String, std::thread::JoinHandle<()>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let read_frame = |s: &mut std::net::TcpStream| {
                let mut len = [0u8; 4];
                s.read_exact(&mut len).unwrap();
                let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                s.read_exact(&mut body).unwrap();
                body
            };
            let send = |s: &mut std::net::TcpStream, f: &dyn Fn(&mut BytesMut)| {
                let mut out = BytesMut::new();
                write_frame(&mut out, f);
                s.write_all(&out).unwrap();
            };
            read_frame(&mut s);
            send(&mut s, &|o| {
                ConnectResponse {
                    timeout: 30_000,
                    session_id: 7,
                    passwd: Bytes::from_static(&[0; 16]),
                    ..Default::default()
                }
                .encode(o)
            });
            for _ in 0..requests {
                let req = read_frame(&mut s);
                let xid = i32::from_be_bytes(req[..4].try_into().unwrap());
                std::thread::sleep(delay);
                // NoNode: a reply without a body.
                send(&mut s, &|o| {
                    ReplyHeader {
                        xid,
                        zxid: 1,
                        err: -101,
                    }
                    .encode(o)
                });
            }
            send(&mut s, &|o| {
                ReplyHeader {
                    xid: -1,
                    zxid: 1,
                    err: 0,
                }
                .encode(o)
            });
            let _ = read_frame(&mut s);
        });
        (addr, h)
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_lone_session_polls_for_the_reply_it_awaits_and_only_for_that() {
        let (addr, server) = fake_server(3, Duration::from_millis(5));
        run(async {
            let mut c = Conn::open(&addr).await.unwrap();
            assert_eq!(c.session, 7);
            assert_eq!(c.r.polled, 0, "off by default");
            c.r.busy_poll(Duration::from_secs(5));
            for _ in 0..3 {
                let (h, _) = c.call(&Request::Exists(Default::default())).await.unwrap();
                assert_eq!(h.err, -101);
            }
            // Each reply came 5 ms after its request, inside the window: read by polling.
            assert_eq!(c.r.polled, 3);
            // Nothing awaited: the unsolicited frame is read by sleeping in epoll, not polled.
            let f = c.r.frame().await.unwrap();
            assert_eq!(i32::from_be_bytes(f[..4].try_into().unwrap()), -1);
            assert_eq!(c.r.polled, 3);
            c.w.push(&Request::Ping);
            c.w.flush().await.unwrap();
        });
        server.join().unwrap();
    }

    #[test]
    fn a_reply_later_than_the_window_is_still_read() {
        let (addr, server) = fake_server(1, Duration::from_millis(50));
        run(async {
            let mut c = Conn::open(&addr).await.unwrap();
            c.r.busy_poll(Duration::from_micros(200));
            let (h, _) = c.call(&Request::Exists(Default::default())).await.unwrap();
            assert_eq!(h.err, -101);
            assert_eq!(c.r.polled, 0, "the poll gave up and the reader slept");
            c.r.frame().await.unwrap();
            c.w.push(&Request::Ping);
            c.w.flush().await.unwrap();
        });
        server.join().unwrap();
    }

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
