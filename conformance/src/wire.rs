//! A blocking raw-jute connection with bounded reads: every read has a deadline, and the result
//! says whether a frame came, the peer closed, or time ran out.

use bytes::BytesMut;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use zk_codec::split_frame;

/// What one bounded read produced.
pub enum Read1 {
    Frame(BytesMut),
    Closed,
    Timeout,
}

/// One TCP connection to a server.
pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    pub closed: bool,
}

impl Conn {
    /// Connects over loopback (bounded).
    pub fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: BytesMut::new(),
            closed: false,
        })
    }

    /// Writes bytes; a write error marks the connection closed.
    pub fn send(&mut self, bytes: &[u8]) {
        if self.closed {
            return;
        }
        if self.stream.write_all(bytes).is_err() {
            self.closed = true;
        }
    }

    /// Reads one frame payload, waiting at most `wait`.
    pub fn read(&mut self, wait: Duration) -> Read1 {
        let deadline = Instant::now() + wait;
        loop {
            match split_frame(&mut self.buf, 64 << 20) {
                Ok(Some(f)) => return Read1::Frame(f),
                Ok(None) => {}
                Err(_) => {
                    self.closed = true;
                    return Read1::Closed;
                }
            }
            if self.closed {
                return Read1::Closed;
            }
            let now = Instant::now();
            if now >= deadline {
                return Read1::Timeout;
            }
            let left = (deadline - now).max(Duration::from_millis(1));
            let _ = self.stream.set_read_timeout(Some(left));
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.closed = true,
            }
        }
    }

    /// Reads everything until the peer closes or `wait` passes (for four-letter words).
    pub fn read_all(&mut self, wait: Duration) -> Vec<u8> {
        let deadline = Instant::now() + wait;
        let mut out = std::mem::take(&mut self.buf).to_vec();
        while !self.closed {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let _ = self.stream.set_read_timeout(Some(deadline - now));
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.closed = true,
            }
        }
        out
    }

    /// Closes our side without telling the server anything.
    pub fn drop_socket(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        self.closed = true;
    }
}
