//! Property tests: encode then decode is the identity for every record, request and response,
//! and decoding arbitrary bytes never panics.

use crate::arb::Arb;
use crate::jute::{Jute, Limits};
use crate::multi::{MultiRequest, MultiResponse};
use crate::records::*;
use crate::{decode_reply, decode_request, split_frame, OpCode, Request, Response};
use bytes::{BufMut, BytesMut};
use proptest::prelude::*;

fn roundtrip<T: Jute + PartialEq + std::fmt::Debug>(v: &T) -> Result<(), TestCaseError> {
    let bytes = v.to_bytes();
    let back = T::decode(&bytes, Limits::DEFAULT);
    let (rest, back) = back.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    prop_assert!(rest.is_empty(), "left {} bytes", rest.len());
    prop_assert_eq!(&back, v);
    Ok(())
}

macro_rules! roundtrip_tests {
    ($($name:ident: $ty:ty),* $(,)?) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]
            $(#[test] fn $name(v in <$ty as Arb>::arb()) { roundtrip(&v)?; })*
        }
    };
}

roundtrip_tests! {
    request_header: RequestHeader,
    reply_header: ReplyHeader,
    multi_header: MultiHeader,
    watcher_event: WatcherEvent,
    connect_request: ConnectRequest,
    connect_response: ConnectResponse,
    stat: Stat,
    stat_persisted: StatPersisted,
    id: Id,
    acl: Acl,
    create_request: CreateRequest,
    create_ttl_request: CreateTtlRequest,
    create_response: CreateResponse,
    create2_response: Create2Response,
    delete_request: DeleteRequest,
    delete_container_request: DeleteContainerRequest,
    path_watch_request: PathWatchRequest,
    path_request: PathRequest,
    set_data_request: SetDataRequest,
    set_acl_request: SetAclRequest,
    check_version_request: CheckVersionRequest,
    get_ephemerals_request: GetEphemeralsRequest,
    reconfig_request: ReconfigRequest,
    stat_response: StatResponse,
    get_data_response: GetDataResponse,
    get_acl_response: GetAclResponse,
    get_children_response: GetChildrenResponse,
    get_children2_response: GetChildren2Response,
    sync_response: SyncResponse,
    get_all_children_number_response: GetAllChildrenNumberResponse,
    get_ephemerals_response: GetEphemeralsResponse,
    error_response: ErrorResponse,
    set_watches: SetWatches,
    set_watches2: SetWatches2,
    add_watch_request: AddWatchRequest,
    watches_request: WatchesRequest,
    auth_packet: AuthPacket,
    sasl_request: SaslRequest,
    sasl_response: SaslResponse,
    client_info: ClientInfo,
    who_am_i_response: WhoAmIResponse,
    multi_request: MultiRequest,
    multi_response: MultiResponse,
    txn_header: TxnHeader,
    create_txn: CreateTxn,
    create_container_txn: CreateContainerTxn,
    create_ttl_txn: CreateTtlTxn,
    delete_txn: DeleteTxn,
    set_data_txn: SetDataTxn,
    set_acl_txn: SetAclTxn,
    check_version_txn: CheckVersionTxn,
    create_session_txn: CreateSessionTxn,
    close_session_txn: CloseSessionTxn,
    error_txn: ErrorTxn,
    txn: Txn,
    multi_txn: MultiTxn,
    txn_digest: TxnDigest,
}

fn response_for(op: OpCode) -> BoxedStrategy<Response> {
    match op {
        OpCode::Create => CreateResponse::arb().prop_map(Response::Create).boxed(),
        OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
            Create2Response::arb().prop_map(Response::Create2).boxed()
        }
        OpCode::Exists | OpCode::SetData | OpCode::SetAcl => {
            StatResponse::arb().prop_map(Response::Stat).boxed()
        }
        OpCode::GetData | OpCode::Reconfig => {
            GetDataResponse::arb().prop_map(Response::GetData).boxed()
        }
        OpCode::GetAcl => GetAclResponse::arb().prop_map(Response::GetAcl).boxed(),
        OpCode::GetChildren => GetChildrenResponse::arb()
            .prop_map(Response::GetChildren)
            .boxed(),
        OpCode::GetChildren2 => GetChildren2Response::arb()
            .prop_map(Response::GetChildren2)
            .boxed(),
        OpCode::Sync => SyncResponse::arb().prop_map(Response::Sync).boxed(),
        OpCode::Multi | OpCode::MultiRead => MultiResponse::arb().prop_map(Response::Multi).boxed(),
        OpCode::GetAllChildrenNumber => GetAllChildrenNumberResponse::arb()
            .prop_map(Response::GetAllChildrenNumber)
            .boxed(),
        OpCode::GetEphemerals => GetEphemeralsResponse::arb()
            .prop_map(Response::GetEphemerals)
            .boxed(),
        OpCode::WhoAmI => WhoAmIResponse::arb().prop_map(Response::WhoAmI).boxed(),
        OpCode::AddWatch => ErrorResponse::arb().prop_map(Response::Error).boxed(),
        OpCode::Sasl => SaslResponse::arb().prop_map(Response::Sasl).boxed(),
        _ => Just(Response::Empty).boxed(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn every_request_roundtrips_through_its_header(xid in any::<i32>(), req in Request::arb()) {
        let mut payload = RequestHeader { xid, op: req.op().code() }.to_bytes();
        req.encode(&mut payload);
        let (h, back) = decode_request(&payload, Limits::DEFAULT).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(h.xid, xid);
        prop_assert_eq!(back, req);
    }

    #[test]
    fn every_response_roundtrips_given_its_op(
        (op, resp) in proptest::sample::select(OpCode::ALL).prop_flat_map(|op| (Just(op), response_for(op)))
    ) {
        let mut payload = ReplyHeader { xid: 5, zxid: 9, err: 0 }.to_bytes();
        resp.encode(&mut payload);
        let (_, back) = decode_reply(op, &payload, Limits::DEFAULT).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(back, resp);
    }
}

proptest! {
    // Bounded fuzzing inside the test suite: any bytes into every decoder, no panic.
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn garbage_never_panics_the_request_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let _ = decode_request(&bytes, Limits::DEFAULT);
        let _ = ConnectRequest::decode_from(&bytes, Limits::DEFAULT);
        for op in OpCode::ALL {
            let _ = Request::decode(*op, &bytes, Limits::DEFAULT);
            let _ = decode_reply(*op, &bytes, Limits::DEFAULT);
        }
    }

    #[test]
    fn garbage_never_panics_the_frame_decoder(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..16), 0..8)) {
        let mut buf = BytesMut::new();
        for c in chunks {
            buf.put_slice(&c);
            while let Ok(Some(frame)) = split_frame(&mut buf, 64) {
                let _ = decode_request(&frame, Limits::DEFAULT);
            }
        }
    }

    #[test]
    fn mutated_valid_requests_never_panic(req in Request::arb(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut payload = RequestHeader { xid: 1, op: req.op().code() }.to_bytes();
        req.encode(&mut payload);
        for (i, b) in flips {
            let i = i.index(payload.len());
            payload[i] = b;
        }
        let _ = decode_request(&payload, Limits::DEFAULT);
    }
}
