//! setWatches / setWatches2 on reconnect: re-register the client's watches, or fire at once the
//! events it missed while away (zk-protocol-reference.md §4.5). Catch-up events are not ACL
//! filtered, and a watch that fired is not re-registered (it was one-shot).

use super::{notification, Mode, Table, WatchTable};
use crate::sink::Sink;
use crate::tree::DataTree;
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use zk_codec::records::SetWatches2;
use zk_codec::EventType;

/// Applies a setWatches request for `sink`; returns the catch-up notification frames, which
/// the caller sends before the reply.
pub fn replay(
    tree: &DataTree,
    watches: &mut WatchTable,
    sink: &Arc<Sink>,
    req: &SetWatches2,
) -> Bytes {
    let rel = req.relative_zxid;
    let mut out = BytesMut::new();
    let mut emit = |kind: EventType, path: &str| out.extend_from_slice(&notification(kind, path));
    for p in &req.data_watches {
        match tree.node(p) {
            None => emit(EventType::NodeDeleted, p),
            Some(n) if n.stat.mzxid > rel => emit(EventType::NodeDataChanged, p),
            Some(_) => watches.add(sink, p, Table::Data, Mode::Standard),
        }
    }
    for p in &req.exist_watches {
        match tree.node(p) {
            Some(_) => emit(EventType::NodeCreated, p),
            None => watches.add(sink, p, Table::Data, Mode::Standard),
        }
    }
    for p in &req.child_watches {
        match tree.node(p) {
            None => emit(EventType::NodeDeleted, p),
            Some(n) if n.stat.pzxid > rel => emit(EventType::NodeChildrenChanged, p),
            Some(_) => watches.add(sink, p, Table::Child, Mode::Standard),
        }
    }
    for p in &req.persistent_watches {
        watches.add(sink, p, Table::Data, Mode::Persistent);
        watches.add(sink, p, Table::Child, Mode::Persistent);
    }
    for p in &req.persistent_recursive_watches {
        watches.add(sink, p, Table::Data, Mode::Recursive);
    }
    out.freeze()
}
