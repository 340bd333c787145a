//! The 4-byte big-endian length framing used in both directions.
//!
//! `split_frame` says "need more bytes" with `Ok(None)`, never with an error; a length below 0
//! or above `max` is a [`FrameError`], after which the connection must be closed (ZooKeeper
//! closes without a reply). With the `tokio-codec` feature, [`FrameCodec`] wraps the same logic
//! as a `tokio_util::codec` Decoder/Encoder.

use bytes::{Buf, BufMut, BytesMut};
use std::fmt;

/// A frame length that cannot be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The prefix is negative.
    Negative(i32),
    /// The prefix exceeds the limit.
    TooLarge { len: usize, max: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Negative(n) => write!(f, "negative frame length {n}"),
            FrameError::TooLarge { len, max } => {
                write!(f, "frame length {len} exceeds jute.maxbuffer {max}")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// Reads the length prefix at the front of `buf`, if all 4 bytes are there.
///
/// # Errors
/// [`FrameError`] for a negative length or one above `max`.
pub fn peek_len(buf: &[u8], max: usize) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let n = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    if n < 0 {
        return Err(FrameError::Negative(n));
    }
    let len = n as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(Some(len))
}

/// Splits one whole frame payload (without its prefix) off the front of `buf`, or returns
/// `Ok(None)` (having reserved room for the rest) until the frame is complete.
///
/// # Errors
/// [`FrameError`] for a negative length or one above `max`.
pub fn split_frame(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, FrameError> {
    let Some(len) = peek_len(buf, max)? else {
        return Ok(None);
    };
    if buf.len() < 4 + len {
        buf.reserve(4 + len - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(len)))
}

/// Appends one frame: a length prefix and whatever `body` writes, patched once it is known.
pub fn write_frame(out: &mut BytesMut, body: impl FnOnce(&mut BytesMut)) {
    let start = out.len();
    out.put_i32(0);
    body(out);
    let len = (out.len() - start - 4) as i32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// A `tokio_util::codec` for length-prefixed frames: decodes to payloads, encodes payloads.
#[cfg(feature = "tokio-codec")]
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    max: usize,
}

#[cfg(feature = "tokio-codec")]
mod codec_impl {
    use super::*;

    /// An I/O error or a refused frame.
    #[derive(Debug)]
    pub enum FrameCodecError {
        /// From the transport.
        Io(std::io::Error),
        /// A refused length prefix.
        Frame(FrameError),
    }

    impl fmt::Display for FrameCodecError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                FrameCodecError::Io(e) => e.fmt(f),
                FrameCodecError::Frame(e) => e.fmt(f),
            }
        }
    }

    impl std::error::Error for FrameCodecError {}

    impl From<std::io::Error> for FrameCodecError {
        fn from(e: std::io::Error) -> Self {
            FrameCodecError::Io(e)
        }
    }

    impl FrameCodec {
        /// A codec refusing frames over `max` bytes.
        pub fn new(max: usize) -> Self {
            FrameCodec { max }
        }
    }

    impl tokio_util::codec::Decoder for FrameCodec {
        type Item = BytesMut;
        type Error = FrameCodecError;
        fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameCodecError> {
            split_frame(src, self.max).map_err(FrameCodecError::Frame)
        }
    }

    impl<T: AsRef<[u8]>> tokio_util::codec::Encoder<T> for FrameCodec {
        type Error = FrameCodecError;
        fn encode(&mut self, item: T, dst: &mut BytesMut) -> Result<(), FrameCodecError> {
            let payload = item.as_ref();
            if payload.len() > self.max {
                return Err(FrameCodecError::Frame(FrameError::TooLarge {
                    len: payload.len(),
                    max: self.max,
                }));
            }
            write_frame(dst, |out| out.put_slice(payload));
            Ok(())
        }
    }
}

#[cfg(feature = "tokio-codec")]
pub use codec_impl::FrameCodecError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_frames_wait_for_more_bytes() {
        let mut buf = BytesMut::from(&[0u8, 0, 0][..]);
        assert_eq!(split_frame(&mut buf, 100), Ok(None));
        buf.put_slice(&[3, b'a', b'b']);
        assert_eq!(split_frame(&mut buf, 100), Ok(None));
        buf.put_slice(&[b'c', 0, 0]);
        assert_eq!(
            split_frame(&mut buf, 100).unwrap().unwrap().as_ref(),
            b"abc"
        );
        assert_eq!(buf.as_ref(), &[0, 0]);
    }

    #[test]
    fn bad_lengths_are_refused() {
        let mut buf = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xfe][..]);
        assert_eq!(split_frame(&mut buf, 100), Err(FrameError::Negative(-2)));
        let mut buf = BytesMut::from(&b"ruok"[..]);
        assert!(matches!(
            split_frame(&mut buf, 0xfffff),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn write_frame_patches_the_length() {
        let mut out = BytesMut::new();
        write_frame(&mut out, |o| o.put_slice(b"hello"));
        assert_eq!(out.as_ref(), b"\0\0\0\x05hello");
    }
}
