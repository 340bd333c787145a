//! Reads and other requests answered from local state, in the session's order: getData,
//! exists, getChildren(2), getACL, getAllChildrenNumber, getEphemerals, whoAmI, multiRead,
//! sync (standalone: nothing to wait for), ping, setWatches(2), addWatch, checkWatches,
//! removeWatches. Watches are registered under the tree read lock so that no write can slip
//! between the read and its watch.

use crate::replication::AttachedRead;
use crate::shared::Shared;
use crate::sink::{Outbound, Sink};
use crate::tree::DataTree;
use crate::watch::{self, Mode, Table};
use bytes::BytesMut;
use std::sync::Arc;
use std::time::Instant;
use zk_codec::records::*;
use zk_codec::{
    write_frame, ErrorCode, Jute, MultiOp, MultiResponse, OpResult, Request, Response, WatcherType,
};

/// Executes `r` and appends its reply frame (and any catch-up notifications) to `out`.
pub fn execute(
    shared: &Shared,
    sink: &Arc<Sink>,
    h: &RequestHeader,
    r: &Request,
    out: &mut BytesMut,
) {
    let tree = shared.read_tree();
    execute_on(shared, sink, &tree, h, r, out);
}

/// A read the applier runs right after the write it was pipelined behind (`Pending`): its
/// reply fills the slot the connection reserved for it.
pub fn answer_attached(shared: &Shared, tree: &DataTree, a: AttachedRead) {
    let mut out = BytesMut::with_capacity(128);
    execute_on(shared, &a.sink, tree, &a.header, &a.request, &mut out);
    a.sink.push(Outbound::WriteDone {
        xid: a.header.xid,
        frame: out.freeze(),
        close: false,
    });
}

/// Runs a read against `tree` (the caller holds it) and appends the reply frame to `out`.
pub fn execute_on(
    shared: &Shared,
    sink: &Arc<Sink>,
    tree: &DataTree,
    h: &RequestHeader,
    r: &Request,
    out: &mut BytesMut,
) {
    let started = Instant::now();
    let ids = sink.identities();
    let zxid = tree.last_zxid();
    let xid = h.xid;
    let result: Result<Response, ErrorCode> = match r {
        Request::Ping => {
            reply(out, xid::PING, zxid, ErrorCode::Ok, &Response::Empty);
            return;
        }
        Request::GetData(g) => {
            let res = tree.get_data(&g.path, &ids);
            if res.is_ok() && g.watch {
                shared
                    .lock_watches()
                    .add(sink, &g.path, Table::Data, Mode::Standard);
            }
            let before = out.len();
            let err = res.as_ref().err().copied().unwrap_or(ErrorCode::Ok);
            reply_with(out, xid, zxid, err, |o| {
                if let Ok((data, stat)) = &res {
                    // GetDataResponse's encoding, from the lent value.
                    zk_codec::jute::encode_slice(o, *data);
                    stat.encode(o);
                }
            });
            record(shared, sink, r, xid, zxid, started, out.len() - before);
            return;
        }
        Request::Exists(g) => {
            let res = tree.exists(&g.path, &ids);
            if g.watch && matches!(res, Ok(_) | Err(ErrorCode::NoNode)) {
                shared
                    .lock_watches()
                    .add(sink, &g.path, Table::Data, Mode::Standard);
            }
            res.map(|stat| Response::Stat(StatResponse { stat }))
        }
        Request::GetChildren(g) | Request::GetChildren2(g) => {
            let res = tree.children(&g.path, &ids);
            if res.is_ok() && g.watch {
                shared
                    .lock_watches()
                    .add(sink, &g.path, Table::Child, Mode::Standard);
            }
            res.map(|(children, stat)| match r {
                Request::GetChildren(_) => Response::GetChildren(GetChildrenResponse { children }),
                _ => Response::GetChildren2(GetChildren2Response { children, stat }),
            })
        }
        Request::GetAcl(g) => tree
            .get_acl(&g.path, &ids)
            .map(|(acl, stat)| Response::GetAcl(GetAclResponse { acl, stat })),
        Request::GetAllChildrenNumber(g) => {
            tree.all_children_number(&g.path, &ids).map(|total_number| {
                Response::GetAllChildrenNumber(GetAllChildrenNumberResponse { total_number })
            })
        }
        Request::GetEphemerals(g) => Ok(Response::GetEphemerals(GetEphemeralsResponse {
            ephemerals: tree.ephemerals_of(sink.session(), g.prefix_path.as_deref()),
        })),
        Request::WhoAmI => Ok(Response::WhoAmI(WhoAmIResponse {
            client_info: who_am_i(&ids),
        })),
        Request::Sync(s) => Ok(Response::Sync(SyncResponse {
            path: s.path.clone(),
        })),
        Request::MultiRead(m) => multi_read(tree, &ids, &m.ops).map(Response::Multi),
        Request::SetWatches(w) => {
            set_watches(shared, sink, tree, &w.clone().into(), out);
            reply(out, xid, zxid, ErrorCode::Ok, &Response::Empty);
            return;
        }
        Request::SetWatches2(w) => {
            set_watches(shared, sink, tree, w, out);
            reply(out, xid, zxid, ErrorCode::Ok, &Response::Empty);
            return;
        }
        Request::AddWatch(a) => {
            let mut w = shared.lock_watches();
            match a.mode {
                0 => {
                    w.add(sink, &a.path, Table::Data, Mode::Persistent);
                    w.add(sink, &a.path, Table::Child, Mode::Persistent);
                    Ok(Response::Error(ErrorResponse { err: 0 }))
                }
                1 => {
                    // ZooKeeper 3.8 keeps a recursive watch in both tables: removeWatches of
                    // either type finds it (only data-table events fire it, see watch::trigger).
                    w.add(sink, &a.path, Table::Data, Mode::Recursive);
                    w.add(sink, &a.path, Table::Child, Mode::Recursive);
                    Ok(Response::Error(ErrorResponse { err: 0 }))
                }
                _ => Err(ErrorCode::MarshallingError),
            }
        }
        Request::CheckWatches(w) => watches_op(shared, sink.id, w, false),
        Request::RemoveWatches(w) => watches_op(shared, sink.id, w, true),
        _ => Err(ErrorCode::Unimplemented),
    };
    let (err, resp) = match result {
        Ok(resp) => (ErrorCode::Ok, resp),
        Err(e) => (e, Response::Empty),
    };
    let before = out.len();
    reply(out, xid, zxid, err, &resp);
    record(shared, sink, r, xid, zxid, started, out.len() - before);
}

/// A read's latency and reply size in the metrics and the connection's and server's stats.
fn record(
    shared: &Shared,
    sink: &Sink,
    r: &Request,
    xid: i32,
    zxid: i64,
    started: Instant,
    reply_bytes: usize,
) {
    let latency = started.elapsed().as_millis() as i64;
    {
        use crate::ops::metrics::{observe_advanced, observe_namespace, Advanced, Namespace};
        observe_advanced(Advanced::ReadLatency, latency as u64);
        if let Some(path) = request_path(r) {
            observe_namespace(Namespace::Read, path, reply_bytes as u64);
        }
    }
    sink.stats.record(
        crate::ops::lop(r.op()),
        xid,
        zxid,
        crate::clock::now_ms(),
        latency,
    );
    shared.stats.record_latency(latency);
}

/// The znode a request names, for the per-namespace figures.
pub fn request_path(r: &Request) -> Option<&str> {
    Some(match r {
        Request::GetData(g)
        | Request::Exists(g)
        | Request::GetChildren(g)
        | Request::GetChildren2(g) => &g.path,
        Request::GetAcl(g) | Request::GetAllChildrenNumber(g) => &g.path,
        Request::Create(c) | Request::Create2(c) | Request::CreateContainer(c) => &c.path,
        Request::CreateTtl(c) => &c.path,
        Request::Delete(d) => &d.path,
        Request::SetData(s) => &s.path,
        Request::SetAcl(s) => &s.path,
        _ => return None,
    })
}

fn reply(out: &mut BytesMut, xid: i32, zxid: i64, err: ErrorCode, resp: &Response) {
    reply_with(out, xid, zxid, err, |o| resp.encode(o));
}

/// A reply frame whose body (written only when `err` is Ok) `body` encodes.
fn reply_with(
    out: &mut BytesMut,
    xid: i32,
    zxid: i64,
    err: ErrorCode,
    body: impl FnOnce(&mut BytesMut),
) {
    write_frame(out, |o| {
        ReplyHeader {
            xid,
            zxid,
            err: err.code(),
        }
        .encode(o);
        if err == ErrorCode::Ok {
            body(o);
        }
    });
}

fn who_am_i(ids: &[Id]) -> Vec<ClientInfo> {
    ids.iter()
        .map(|i| {
            let user = match i.scheme.as_str() {
                "digest" => i.id.split(':').next().unwrap_or("").to_string(),
                "super" => String::new(),
                _ => i.id.clone(),
            };
            ClientInfo {
                auth_scheme: i.scheme.clone(),
                user,
            }
        })
        .collect()
}

fn set_watches(
    shared: &Shared,
    sink: &Arc<Sink>,
    tree: &crate::tree::DataTree,
    w: &SetWatches2,
    out: &mut BytesMut,
) {
    let events = watch::replay(tree, &mut shared.lock_watches(), sink, w);
    out.extend_from_slice(&events);
}

/// multiRead: each sub-op on its own; any write sub-op fails the whole request.
fn multi_read(
    tree: &crate::tree::DataTree,
    ids: &[Id],
    ops: &[MultiOp],
) -> Result<MultiResponse, ErrorCode> {
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let r = match op {
            MultiOp::GetData(g) => match tree.get_data(&g.path, ids) {
                Ok((data, stat)) => OpResult::GetData(GetDataResponse {
                    data: data.map(bytes::Bytes::copy_from_slice),
                    stat,
                }),
                Err(e) => OpResult::Error(e.code()),
            },
            MultiOp::GetChildren(g) => match tree.children(&g.path, ids) {
                Ok((children, _)) => OpResult::GetChildren(GetChildrenResponse { children }),
                Err(e) => OpResult::Error(e.code()),
            },
            _ => return Err(ErrorCode::MarshallingError),
        };
        results.push(r);
    }
    Ok(MultiResponse { results })
}

/// checkWatches / removeWatches with 3.8's rules (zk-protocol-reference.md §4.4): one mode per
/// path and table; types 4 and 5 are unknown to 3.8; check answers for any connection.
fn watches_op(
    shared: &Shared,
    conn: u64,
    w: &WatchesRequest,
    remove: bool,
) -> Result<Response, ErrorCode> {
    let tables: &[Table] = match WatcherType::try_from(w.watcher_type) {
        Ok(WatcherType::Children) => &[Table::Child],
        Ok(WatcherType::Data) => &[Table::Data],
        Ok(WatcherType::Any) => &[Table::Data, Table::Child],
        _ => return Err(ErrorCode::MarshallingError),
    };
    let mut table = shared.lock_watches();
    let mut found = false;
    for t in tables {
        found |= if remove {
            table.remove(conn, &w.path, *t)
        } else {
            table.anyone_watches(&w.path, *t)
        };
    }
    if found {
        Ok(Response::Empty)
    } else {
        Err(ErrorCode::NoWatcher)
    }
}
