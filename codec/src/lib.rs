//! zk-codec: ZooKeeper's jute encoding, every client-protocol and transaction-log record, the
//! op codes and error codes, and the 4-byte length framing. Bytes in, typed records out: no I/O,
//! no tokio (the optional `tokio-codec` feature adds a `tokio_util::codec` wrapper), no logging.
//!
//! - [`jute`]: the primitives and the [`Jute`] trait every record implements (decode with nom,
//!   encode into `BytesMut`). Records are declared once with [`record!`], so each has exactly
//!   one encoder and one decoder.
//! - [`records`]: the records, one module per family.
//! - [`Request`] / [`Response`]: bodies by op code; [`decode_request`] / [`decode_reply`] for
//!   whole payloads. [`multi`] holds the multi encoding.
//! - [`frame`]: `split_frame` / `write_frame`, and `FrameCodec` with the feature.
//! - [`enums`]: [`OpCode`], [`ErrorCode`], [`EventType`], [`KeeperState`], [`CreateMode`],
//!   [`WatcherType`], [`AddWatchMode`], [`perms`].
//! - [`fourlw`]: four-letter-word detection.
//!
//! Error policy: malformed input is a [`DecodeError`] (or [`FrameError`]), never a panic, and no
//! allocation is sized from an untrusted length beyond the bytes actually present.
//!
//! ```
//! use zk_codec::{Jute, Limits, records::*, decode_request, Request};
//! let mut payload = RequestHeader { xid: 1, op: 4 }.to_bytes();
//! PathWatchRequest { path: "/a".into(), watch: true }.encode(&mut payload);
//! let (h, req) = decode_request(&payload, Limits::DEFAULT).unwrap();
//! assert_eq!(h.xid, 1);
//! assert!(matches!(req, Request::GetData(r) if r.path == "/a" && r.watch));
//! ```

#[cfg(any(test, feature = "arbitrary"))]
pub mod arb;
pub mod enums;
pub mod error;
pub mod fourlw;
pub mod frame;
pub mod jute;
pub mod multi;
pub mod records;
pub mod request;
pub mod response;

pub use enums::{
    perms, AddWatchMode, CreateMode, ErrorCode, EventType, KeeperState, OpCode, WatcherType,
};
pub use error::DecodeError;
pub use frame::{split_frame, write_frame, FrameError};
pub use jute::{Jute, Limits};
pub use multi::{MultiOp, MultiRequest, MultiResponse, OpResult};
pub use request::{decode_request, Request};
pub use response::{decode_reply, Response};

#[cfg(feature = "tokio-codec")]
pub use frame::{FrameCodec, FrameCodecError};

#[cfg(test)]
mod roundtrip;
