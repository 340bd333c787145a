//! Reading whole frames off a socket with a deadline.

use bytes::BytesMut;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use zk_codec::{split_frame, FrameError};

/// Why a connection stopped reading.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection.
    Eof,
    /// No complete frame within the deadline.
    Idle,
    Io(std::io::Error),
    Frame(FrameError),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Eof => f.write_str("closed by client"),
            ReadError::Idle => f.write_str("idle timeout"),
            ReadError::Io(e) => write!(f, "I/O error: {e}"),
            ReadError::Frame(e) => e.fmt(f),
        }
    }
}

/// Reads until `buf` holds at least `n` bytes.
pub async fn fill(
    rd: &mut OwnedReadHalf,
    buf: &mut BytesMut,
    n: usize,
    idle: Duration,
) -> Result<(), ReadError> {
    while buf.len() < n {
        buf.reserve(4096);
        match tokio::time::timeout(idle, rd.read_buf(buf)).await {
            Err(_) => return Err(ReadError::Idle),
            Ok(Err(e)) => return Err(ReadError::Io(e)),
            Ok(Ok(0)) => return Err(ReadError::Eof),
            Ok(Ok(_)) => {}
        }
    }
    Ok(())
}

/// Reads one frame payload; a frame must complete within `idle` of the previous bytes.
pub async fn read_frame(
    rd: &mut OwnedReadHalf,
    buf: &mut BytesMut,
    max: usize,
    idle: Duration,
) -> Result<BytesMut, ReadError> {
    loop {
        if let Some(frame) = split_frame(buf, max).map_err(ReadError::Frame)? {
            return Ok(frame);
        }
        buf.reserve(4096);
        match tokio::time::timeout(idle, rd.read_buf(buf)).await {
            Err(_) => return Err(ReadError::Idle),
            Ok(Err(e)) => return Err(ReadError::Io(e)),
            Ok(Ok(0)) => return Err(ReadError::Eof),
            Ok(Ok(_)) => {}
        }
    }
}
