//! The handshake: ConnectRequest and ConnectResponse, each with an optional trailing readOnly
//! byte. Old clients (and samuel/go-zookeeper) omit it (44-byte request); the server answers in
//! the same form (36 bytes without, 37 with).

use crate::jute::{Jute, Limits, Res};
use bytes::{Bytes, BytesMut};

/// First frame a client sends (no RequestHeader).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    /// `None` when the client did not send the byte.
    pub read_only: Option<bool>,
}

/// The server's answer to a ConnectRequest (no ReplyHeader).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    /// Negotiated timeout in ms; 0 tells the client its session is invalid or expired.
    pub timeout: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    /// Present exactly when the request had it.
    pub read_only: Option<bool>,
}

fn optional_bool(input: &[u8], lim: Limits) -> Res<'_, Option<bool>> {
    if input.is_empty() {
        return Ok((input, None));
    }
    let (rest, b) = bool::decode(input, lim)?;
    Ok((rest, Some(b)))
}

impl Jute for ConnectRequest {
    fn decode(input: &[u8], lim: Limits) -> Res<'_, Self> {
        let (input, protocol_version) = i32::decode(input, lim)?;
        let (input, last_zxid_seen) = i64::decode(input, lim)?;
        let (input, timeout) = i32::decode(input, lim)?;
        let (input, session_id) = i64::decode(input, lim)?;
        let (input, passwd) = Bytes::decode(input, lim)?;
        let (input, read_only) = optional_bool(input, lim)?;
        let req = ConnectRequest {
            protocol_version,
            last_zxid_seen,
            timeout,
            session_id,
            passwd,
            read_only,
        };
        Ok((input, req))
    }

    fn encode(&self, out: &mut BytesMut) {
        self.protocol_version.encode(out);
        self.last_zxid_seen.encode(out);
        self.timeout.encode(out);
        self.session_id.encode(out);
        self.passwd.encode(out);
        if let Some(b) = self.read_only {
            b.encode(out);
        }
    }
}

impl Jute for ConnectResponse {
    fn decode(input: &[u8], lim: Limits) -> Res<'_, Self> {
        let (input, protocol_version) = i32::decode(input, lim)?;
        let (input, timeout) = i32::decode(input, lim)?;
        let (input, session_id) = i64::decode(input, lim)?;
        let (input, passwd) = Bytes::decode(input, lim)?;
        let (input, read_only) = optional_bool(input, lim)?;
        Ok((
            input,
            ConnectResponse {
                protocol_version,
                timeout,
                session_id,
                passwd,
                read_only,
            },
        ))
    }

    fn encode(&self, out: &mut BytesMut) {
        self.protocol_version.encode(out);
        self.timeout.encode(out);
        self.session_id.encode(out);
        self.passwd.encode(out);
        if let Some(b) = self.read_only {
            b.encode(out);
        }
    }
}

#[cfg(any(test, feature = "arbitrary"))]
mod arb {
    use super::*;
    use crate::arb::Arb;
    use proptest::prelude::*;
    use proptest::strategy::BoxedStrategy;

    impl Arb for ConnectRequest {
        fn arb() -> BoxedStrategy<Self> {
            (
                any::<i32>(),
                any::<i64>(),
                any::<i32>(),
                any::<i64>(),
                Bytes::arb(),
                any::<Option<bool>>(),
            )
                .prop_map(
                    |(protocol_version, last_zxid_seen, timeout, session_id, passwd, read_only)| {
                        ConnectRequest {
                            protocol_version,
                            last_zxid_seen,
                            timeout,
                            session_id,
                            passwd,
                            read_only,
                        }
                    },
                )
                .boxed()
        }
    }

    impl Arb for ConnectResponse {
        fn arb() -> BoxedStrategy<Self> {
            (
                any::<i32>(),
                any::<i32>(),
                any::<i64>(),
                Bytes::arb(),
                any::<Option<bool>>(),
            )
                .prop_map(
                    |(protocol_version, timeout, session_id, passwd, read_only)| ConnectResponse {
                        protocol_version,
                        timeout,
                        session_id,
                        passwd,
                        read_only,
                    },
                )
                .boxed()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_byte_is_optional_and_echoed_only_when_sent() {
        let mut req = ConnectRequest {
            passwd: Bytes::from(vec![0; 16]),
            ..Default::default()
        };
        assert_eq!(req.to_bytes().len(), 44);
        req.read_only = Some(false);
        let bytes = req.to_bytes();
        assert_eq!(bytes.len(), 45);
        assert_eq!(
            ConnectRequest::decode_from(&bytes, Limits::DEFAULT),
            Ok(req)
        );
        let resp = ConnectResponse {
            passwd: Bytes::from(vec![0; 16]),
            ..Default::default()
        };
        assert_eq!(resp.to_bytes().len(), 36);
    }
}
