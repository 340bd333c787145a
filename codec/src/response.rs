//! [`Response`]: the reply bodies. A body's shape depends on the op of the request it answers,
//! so decoding takes that op; on `err != 0` only the header is sent (multi excepted).

use crate::enums::OpCode;
use crate::error::{from_nom, DecodeError};
use crate::jute::{Jute, Limits};
use crate::multi::MultiResponse;
use crate::records::*;
use bytes::BytesMut;

/// A reply body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// No body: delete, sync-less acks, setWatches, checkWatches, removeWatches, ping, auth,
    /// closeSession, and every error reply.
    Empty,
    Create(CreateResponse),
    Create2(Create2Response),
    /// exists, setData, setACL.
    Stat(StatResponse),
    /// getData and reconfig.
    GetData(GetDataResponse),
    GetAcl(GetAclResponse),
    GetChildren(GetChildrenResponse),
    GetChildren2(GetChildren2Response),
    Sync(SyncResponse),
    Multi(MultiResponse),
    GetAllChildrenNumber(GetAllChildrenNumberResponse),
    GetEphemerals(GetEphemeralsResponse),
    WhoAmI(WhoAmIResponse),
    /// addWatch replies with a 4-byte zero.
    Error(ErrorResponse),
    Sasl(SaslResponse),
}

impl Response {
    /// Decodes the body of a successful reply to a request of type `op`.
    ///
    /// # Errors
    /// [`DecodeError`] on malformed input.
    pub fn decode(op: OpCode, body: &[u8], lim: Limits) -> Result<Response, DecodeError> {
        fn map<T: Jute>(
            body: &[u8],
            lim: Limits,
            f: fn(T) -> Response,
        ) -> Result<Response, DecodeError> {
            T::decode_from(body, lim).map(f)
        }
        match op {
            OpCode::Create => map(body, lim, Response::Create),
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                map(body, lim, Response::Create2)
            }
            OpCode::Exists | OpCode::SetData | OpCode::SetAcl => map(body, lim, Response::Stat),
            OpCode::GetData | OpCode::Reconfig => map(body, lim, Response::GetData),
            OpCode::GetAcl => map(body, lim, Response::GetAcl),
            OpCode::GetChildren => map(body, lim, Response::GetChildren),
            OpCode::GetChildren2 => map(body, lim, Response::GetChildren2),
            OpCode::Sync => map(body, lim, Response::Sync),
            OpCode::Multi | OpCode::MultiRead => map(body, lim, Response::Multi),
            OpCode::GetAllChildrenNumber => map(body, lim, Response::GetAllChildrenNumber),
            OpCode::GetEphemerals => map(body, lim, Response::GetEphemerals),
            OpCode::WhoAmI => map(body, lim, Response::WhoAmI),
            OpCode::AddWatch => map(body, lim, Response::Error),
            OpCode::Sasl => map(body, lim, Response::Sasl),
            _ => Ok(Response::Empty),
        }
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Response::Empty => {}
            Response::Create(r) => r.encode(out),
            Response::Create2(r) => r.encode(out),
            Response::Stat(r) => r.encode(out),
            Response::GetData(r) => r.encode(out),
            Response::GetAcl(r) => r.encode(out),
            Response::GetChildren(r) => r.encode(out),
            Response::GetChildren2(r) => r.encode(out),
            Response::Sync(r) => r.encode(out),
            Response::Multi(r) => r.encode(out),
            Response::GetAllChildrenNumber(r) => r.encode(out),
            Response::GetEphemerals(r) => r.encode(out),
            Response::WhoAmI(r) => r.encode(out),
            Response::Error(r) => r.encode(out),
            Response::Sasl(r) => r.encode(out),
        }
    }
}

/// Decodes a reply payload given the op of the request it answers: the header, then the body
/// when the header says success (or the op is multi, whose failures are in the body).
///
/// # Errors
/// [`DecodeError`] on malformed input.
pub fn decode_reply(
    op: OpCode,
    payload: &[u8],
    lim: Limits,
) -> Result<(ReplyHeader, Response), DecodeError> {
    let (body, header) = ReplyHeader::decode(payload, lim).map_err(from_nom)?;
    let has_body = header.err == 0 && header.xid != crate::records::xid::NOTIFICATION;
    let resp = if has_body {
        Response::decode(op, body, lim)?
    } else {
        Response::Empty
    };
    Ok((header, resp))
}
