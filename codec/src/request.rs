//! [`Request`]: one variant per op code, decoded from a body once the [`RequestHeader`] has
//! named the op. The handshake (ConnectRequest) has no header and is decoded on its own.

use crate::enums::OpCode;
use crate::error::{from_nom, DecodeError};
use crate::jute::{Jute, Limits};
use crate::multi::MultiRequest;
use crate::records::*;
use bytes::BytesMut;

/// Declares the request enum from (variant, body type, op code) rows, so that decode, encode and
/// `op()` cannot disagree.
macro_rules! requests {
    (body { $($var:ident($ty:ty) = $op:ident),* $(,)? } empty { $($evar:ident = $eop:ident),* $(,)? }) => {
        /// A decoded request body.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Request {
            $($var($ty),)*
            $($evar,)*
        }

        impl Request {
            /// Decodes the body of a request whose header named `op`. Trailing bytes are ignored.
            ///
            /// # Errors
            /// [`DecodeError`] if the body is malformed, or if `op` has no client request form.
            pub fn decode(op: OpCode, body: &[u8], lim: Limits) -> Result<Request, DecodeError> {
                match op {
                    $(OpCode::$op => <$ty>::decode(body, lim).map(|(_, r)| Request::$var(r)).map_err(from_nom),)*
                    $(OpCode::$eop => Ok(Request::$evar),)*
                    _ => Err(DecodeError::Unknown { what: "request opcode", value: op.code() }),
                }
            }

            /// The op code this request is sent with.
            pub fn op(&self) -> OpCode {
                match self {
                    $(Request::$var(_) => OpCode::$op,)*
                    $(Request::$evar => OpCode::$eop,)*
                }
            }

            /// Appends the body (without header).
            pub fn encode(&self, out: &mut BytesMut) {
                match self {
                    $(Request::$var(r) => r.encode(out),)*
                    $(Request::$evar => {})*
                }
            }
        }

        #[cfg(any(test, feature = "arbitrary"))]
        impl crate::arb::Arb for Request {
            fn arb() -> proptest::strategy::BoxedStrategy<Self> {
                use proptest::prelude::*;
                let all: Vec<BoxedStrategy<Request>> = vec![
                    $(<$ty as crate::arb::Arb>::arb().prop_map(Request::$var).boxed(),)*
                    $(Just(Request::$evar).boxed(),)*
                ];
                proptest::strategy::Union::new(all).boxed()
            }
        }
    };
}

requests! {
    body {
        Create(CreateRequest) = Create,
        Create2(CreateRequest) = Create2,
        CreateContainer(CreateRequest) = CreateContainer,
        CreateTtl(CreateTtlRequest) = CreateTtl,
        Delete(DeleteRequest) = Delete,
        DeleteContainer(DeleteContainerRequest) = DeleteContainer,
        Exists(PathWatchRequest) = Exists,
        GetData(PathWatchRequest) = GetData,
        SetData(SetDataRequest) = SetData,
        GetAcl(PathRequest) = GetAcl,
        SetAcl(SetAclRequest) = SetAcl,
        GetChildren(PathWatchRequest) = GetChildren,
        GetChildren2(PathWatchRequest) = GetChildren2,
        Sync(PathRequest) = Sync,
        Check(CheckVersionRequest) = Check,
        Multi(MultiRequest) = Multi,
        MultiRead(MultiRequest) = MultiRead,
        Reconfig(ReconfigRequest) = Reconfig,
        CheckWatches(WatchesRequest) = CheckWatches,
        RemoveWatches(WatchesRequest) = RemoveWatches,
        AddWatch(AddWatchRequest) = AddWatch,
        GetEphemerals(GetEphemeralsRequest) = GetEphemerals,
        GetAllChildrenNumber(PathRequest) = GetAllChildrenNumber,
        SetWatches(SetWatches) = SetWatches,
        SetWatches2(SetWatches2) = SetWatches2,
        Auth(AuthPacket) = Auth,
        Sasl(SaslRequest) = Sasl,
    }
    empty {
        Ping = Ping,
        CloseSession = CloseSession,
        WhoAmI = WhoAmI,
    }
}

/// Decodes a whole request frame payload: header, then body.
///
/// # Errors
/// `Err((header, e))` when the header was read but the op is unknown or the body is malformed,
/// so that the caller can still answer that xid; `Err((None, e))` if even the header is bad.
pub fn decode_request(
    payload: &[u8],
    lim: Limits,
) -> Result<(RequestHeader, Request), (Option<RequestHeader>, DecodeError)> {
    let (body, header) = RequestHeader::decode(payload, lim).map_err(|e| (None, from_nom(e)))?;
    let op = OpCode::try_from(header.op).map_err(|e| (Some(header.clone()), e))?;
    let req = Request::decode(op, body, lim).map_err(|e| (Some(header.clone()), e))?;
    Ok((header, req))
}
