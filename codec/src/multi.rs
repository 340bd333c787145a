//! multi (14) and multiRead (22): a list of sub-ops, each behind a [`MultiHeader`], ended by the
//! terminator `{-1, true, -1}`; the reply mirrors it with one result per sub-op.
//!
//! | direction | per item                                    | terminator      |
//! |-----------|---------------------------------------------|-----------------|
//! | request   | `MultiHeader{type, false, -1}` + sub-request | `{-1, true, -1}` |
//! | reply     | `MultiHeader{type, false, err}` + result body | `{-1, true, -1}` |
//!
//! Error results use type -1 with the code in the header and again in an `ErrorResponse` body.
//! The codec accepts any known sub-op type in either opcode; which ones an opcode allows is the
//! server's rule (a read op in a write multi gives MarshallingError there).

use crate::enums::OpCode;
use crate::error::DecodeError;
use crate::jute::{Jute, Limits, Res};
use crate::records::*;
use bytes::BytesMut;

/// One sub-op of a multi request; the variant fixes the header type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    Create(CreateRequest),
    Create2(CreateRequest),
    CreateContainer(CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetData(PathWatchRequest),
    GetChildren(PathWatchRequest),
}

/// The body of a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    pub ops: Vec<MultiOp>,
}

/// One result of a multi reply; the variant fixes the header type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    Create(CreateResponse),
    Create2(Create2Response),
    Delete,
    SetData(StatResponse),
    Check,
    GetData(GetDataResponse),
    GetChildren(GetChildrenResponse),
    /// A failed (or, after a failure, rolled back) sub-op.
    Error(i32),
}

/// The body of a multi or multiRead reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    pub results: Vec<OpResult>,
}

const TERMINATOR: MultiHeader = MultiHeader {
    op: -1,
    done: true,
    err: -1,
};

impl MultiOp {
    /// The op code written in this sub-op's header.
    pub fn op(&self) -> OpCode {
        match self {
            MultiOp::Create(_) => OpCode::Create,
            MultiOp::Create2(_) => OpCode::Create2,
            MultiOp::CreateContainer(_) => OpCode::CreateContainer,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetData(_) => OpCode::GetData,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
        }
    }

    /// The path the sub-op addresses.
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => &r.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetData(r) | MultiOp::GetChildren(r) => &r.path,
        }
    }

    fn decode_body(op: i32, input: &[u8], lim: Limits) -> Res<'_, MultiOp> {
        fn map<'a, T: Jute>(input: &'a [u8], lim: Limits, f: fn(T) -> MultiOp) -> Res<'a, MultiOp> {
            let (rest, v) = T::decode(input, lim)?;
            Ok((rest, f(v)))
        }
        let op = OpCode::try_from(op).map_err(nom::Err::Failure)?;
        match op {
            OpCode::Create => map(input, lim, MultiOp::Create),
            OpCode::Create2 => map(input, lim, MultiOp::Create2),
            OpCode::CreateContainer => map(input, lim, MultiOp::CreateContainer),
            OpCode::CreateTtl => map(input, lim, MultiOp::CreateTtl),
            OpCode::Delete => map(input, lim, MultiOp::Delete),
            OpCode::SetData => map(input, lim, MultiOp::SetData),
            OpCode::Check => map(input, lim, MultiOp::Check),
            OpCode::GetData => map(input, lim, MultiOp::GetData),
            OpCode::GetChildren => map(input, lim, MultiOp::GetChildren),
            _ => Err(nom::Err::Failure(DecodeError::Unknown {
                what: "multi op type",
                value: op.code(),
            })),
        }
    }

    fn encode_body(&self, out: &mut BytesMut) {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => r.encode(out),
            MultiOp::CreateTtl(r) => r.encode(out),
            MultiOp::Delete(r) => r.encode(out),
            MultiOp::SetData(r) => r.encode(out),
            MultiOp::Check(r) => r.encode(out),
            MultiOp::GetData(r) | MultiOp::GetChildren(r) => r.encode(out),
        }
    }
}

impl Jute for MultiRequest {
    fn decode(mut input: &[u8], lim: Limits) -> Res<'_, Self> {
        let mut ops = Vec::new();
        loop {
            let (rest, h) = MultiHeader::decode(input, lim)?;
            if h.done {
                return Ok((rest, MultiRequest { ops }));
            }
            let (rest, op) = MultiOp::decode_body(h.op, rest, lim)?;
            ops.push(op);
            input = rest;
        }
    }

    fn encode(&self, out: &mut BytesMut) {
        for op in &self.ops {
            MultiHeader {
                op: op.op().code(),
                done: false,
                err: -1,
            }
            .encode(out);
            op.encode_body(out);
        }
        TERMINATOR.encode(out);
    }
}

impl OpResult {
    /// The header type and err of this result.
    fn header(&self) -> MultiHeader {
        let (op, err) = match self {
            OpResult::Create(_) => (OpCode::Create.code(), 0),
            OpResult::Create2(_) => (OpCode::Create2.code(), 0),
            OpResult::Delete => (OpCode::Delete.code(), 0),
            OpResult::SetData(_) => (OpCode::SetData.code(), 0),
            OpResult::Check => (OpCode::Check.code(), 0),
            OpResult::GetData(_) => (OpCode::GetData.code(), 0),
            OpResult::GetChildren(_) => (OpCode::GetChildren.code(), 0),
            OpResult::Error(e) => (OpCode::Error.code(), *e),
        };
        MultiHeader {
            op,
            done: false,
            err,
        }
    }

    fn decode_body<'a>(h: &MultiHeader, input: &'a [u8], lim: Limits) -> Res<'a, OpResult> {
        fn map<'a, T: Jute>(
            input: &'a [u8],
            lim: Limits,
            f: fn(T) -> OpResult,
        ) -> Res<'a, OpResult> {
            let (rest, v) = T::decode(input, lim)?;
            Ok((rest, f(v)))
        }
        let op = OpCode::try_from(h.op).map_err(nom::Err::Failure)?;
        match op {
            OpCode::Create => map(input, lim, OpResult::Create),
            OpCode::Create2 => map(input, lim, OpResult::Create2),
            OpCode::Delete => Ok((input, OpResult::Delete)),
            OpCode::SetData => map(input, lim, OpResult::SetData),
            OpCode::Check => Ok((input, OpResult::Check)),
            OpCode::GetData => map(input, lim, OpResult::GetData),
            OpCode::GetChildren => map(input, lim, OpResult::GetChildren),
            OpCode::Error => map(input, lim, |e: ErrorResponse| OpResult::Error(e.err)),
            _ => Err(nom::Err::Failure(DecodeError::Unknown {
                what: "multi result type",
                value: h.op,
            })),
        }
    }

    fn encode_body(&self, out: &mut BytesMut) {
        match self {
            OpResult::Create(r) => r.encode(out),
            OpResult::Create2(r) => r.encode(out),
            OpResult::SetData(r) => r.encode(out),
            OpResult::GetData(r) => r.encode(out),
            OpResult::GetChildren(r) => r.encode(out),
            OpResult::Error(err) => ErrorResponse { err: *err }.encode(out),
            OpResult::Delete | OpResult::Check => {}
        }
    }
}

impl Jute for MultiResponse {
    fn decode(mut input: &[u8], lim: Limits) -> Res<'_, Self> {
        let mut results = Vec::new();
        loop {
            let (rest, h) = MultiHeader::decode(input, lim)?;
            if h.done {
                return Ok((rest, MultiResponse { results }));
            }
            let (rest, r) = OpResult::decode_body(&h, rest, lim)?;
            results.push(r);
            input = rest;
        }
    }

    fn encode(&self, out: &mut BytesMut) {
        for r in &self.results {
            r.header().encode(out);
            r.encode_body(out);
        }
        TERMINATOR.encode(out);
    }
}

#[cfg(any(test, feature = "arbitrary"))]
mod arb {
    use super::*;
    use crate::arb::Arb;
    use proptest::prelude::*;
    use proptest::strategy::BoxedStrategy;

    impl Arb for MultiOp {
        fn arb() -> BoxedStrategy<Self> {
            prop_oneof![
                CreateRequest::arb().prop_map(MultiOp::Create),
                CreateRequest::arb().prop_map(MultiOp::Create2),
                CreateRequest::arb().prop_map(MultiOp::CreateContainer),
                CreateTtlRequest::arb().prop_map(MultiOp::CreateTtl),
                DeleteRequest::arb().prop_map(MultiOp::Delete),
                SetDataRequest::arb().prop_map(MultiOp::SetData),
                CheckVersionRequest::arb().prop_map(MultiOp::Check),
                PathWatchRequest::arb().prop_map(MultiOp::GetData),
                PathWatchRequest::arb().prop_map(MultiOp::GetChildren),
            ]
            .boxed()
        }
    }

    impl Arb for MultiRequest {
        fn arb() -> BoxedStrategy<Self> {
            Vec::<MultiOp>::arb()
                .prop_map(|ops| MultiRequest { ops })
                .boxed()
        }
    }

    impl Arb for OpResult {
        fn arb() -> BoxedStrategy<Self> {
            prop_oneof![
                CreateResponse::arb().prop_map(OpResult::Create),
                Create2Response::arb().prop_map(OpResult::Create2),
                Just(OpResult::Delete),
                StatResponse::arb().prop_map(OpResult::SetData),
                Just(OpResult::Check),
                GetDataResponse::arb().prop_map(OpResult::GetData),
                GetChildrenResponse::arb().prop_map(OpResult::GetChildren),
                any::<i32>().prop_map(OpResult::Error),
            ]
            .boxed()
        }
    }

    impl Arb for MultiResponse {
        fn arb() -> BoxedStrategy<Self> {
            Vec::<OpResult>::arb()
                .prop_map(|results| MultiResponse { results })
                .boxed()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_multi_is_just_the_terminator() {
        let bytes = MultiRequest::default().to_bytes();
        assert_eq!(
            bytes.as_ref(),
            &[0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(
            MultiRequest::decode_from(&bytes, Limits::DEFAULT),
            Ok(MultiRequest::default())
        );
    }

    #[test]
    fn unknown_sub_op_is_a_clear_error() {
        let mut out = BytesMut::new();
        MultiHeader {
            op: 7,
            done: false,
            err: -1,
        }
        .encode(&mut out);
        assert_eq!(
            MultiRequest::decode_from(&out, Limits::DEFAULT),
            Err(DecodeError::Unknown {
                what: "multi op type",
                value: 7
            })
        );
    }

    #[test]
    fn error_result_carries_code_in_header_and_body() {
        let r = MultiResponse {
            results: vec![OpResult::Error(-101)],
        };
        let b = r.to_bytes();
        assert_eq!(&b[..4], &(-1i32).to_be_bytes());
        assert_eq!(&b[5..9], &(-101i32).to_be_bytes());
        assert_eq!(&b[9..13], &(-101i32).to_be_bytes());
    }
}
