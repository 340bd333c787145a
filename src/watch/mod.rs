//! Watches: who hears about which change. Local to this server, never replicated; a client that
//! reconnects restores them with setWatches (see `replay`).
//!
//! Two tables as in ZooKeeper 3.8's WatchManager: the data table (getData/exists watches,
//! persistent watches, persistent-recursive watches) and the child table (getChildren watches,
//! persistent watches). Each (connection, path) has one mode per table, as in 3.8: registering
//! a one-shot watch on a path with a persistent one makes it one-shot again (ZOOKEEPER-4466).
//!
//! Lock order: the tree lock, then this table's lock (see `shared`). Events are encoded once and
//! pushed to each interested connection's queue; one notification per (connection, event).

mod replay;

pub use replay::replay;

use crate::sink::{ConnId, Outbound, Sink};
use crate::tree::Event;
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use zk_codec::records::{xid, Id, ReplyHeader, WatcherEvent};
use zk_codec::{perms, write_frame, EventType, Jute, KeeperState};

/// How a watch behaves when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Removed when it fires.
    Standard,
    /// Stays; fires for the path itself.
    Persistent,
    /// Stays; fires for the path and every descendant (data table only).
    Recursive,
}

/// Which table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Data,
    Child,
}

#[derive(Debug, Default)]
struct PathTable {
    by_path: HashMap<String, HashMap<ConnId, Mode>>,
    recursive: usize,
}

impl PathTable {
    fn add(&mut self, path: &str, conn: ConnId, mode: Mode) {
        let old = self
            .by_path
            .entry(path.to_string())
            .or_default()
            .insert(conn, mode);
        if old == Some(Mode::Recursive) {
            self.recursive -= 1;
        }
        if mode == Mode::Recursive {
            self.recursive += 1;
        }
    }

    fn remove(&mut self, path: &str, conn: ConnId) -> bool {
        let Some(set) = self.by_path.get_mut(path) else {
            return false;
        };
        let removed = set.remove(&conn);
        if removed == Some(Mode::Recursive) {
            self.recursive -= 1;
        }
        if set.is_empty() {
            self.by_path.remove(path);
        }
        removed.is_some()
    }

    fn has(&self, path: &str, conn: ConnId) -> bool {
        self.by_path
            .get(path)
            .is_some_and(|s| s.contains_key(&conn))
    }

    /// Collects who fires for `path` and removes fired one-shot watches (WatchManager.triggerWatch).
    fn trigger(&mut self, path: &str, kind: EventType, out: &mut HashSet<ConnId>) {
        let mut at = Some(path);
        let mut is_self = true;
        while let Some(p) = at {
            if let Some(set) = self.by_path.get_mut(p) {
                set.retain(|conn, mode| match mode {
                    Mode::Recursive => {
                        if kind != EventType::NodeChildrenChanged {
                            out.insert(*conn);
                        }
                        true
                    }
                    _ if !is_self => true,
                    Mode::Persistent => {
                        out.insert(*conn);
                        true
                    }
                    Mode::Standard => {
                        out.insert(*conn);
                        false
                    }
                });
                if set.is_empty() {
                    self.by_path.remove(p);
                }
            }
            if self.recursive == 0 {
                break;
            }
            at = parent(p);
            is_self = false;
        }
    }
}

fn parent(p: &str) -> Option<&str> {
    match p.rfind('/') {
        Some(0) if p.len() > 1 => Some("/"),
        Some(0) | None => None,
        Some(i) => Some(&p[..i]),
    }
}

/// Every watch of this server.
#[derive(Debug, Default)]
pub struct WatchTable {
    data: PathTable,
    child: PathTable,
    sinks: HashMap<ConnId, Arc<Sink>>,
    paths_by_conn: HashMap<ConnId, HashSet<String>>,
}

/// The encoded notification frame for `kind` on `path` (header zxid -1, as up to 3.8).
pub fn notification(kind: EventType, path: &str) -> Bytes {
    let mut out = bytes::BytesMut::with_capacity(32 + path.len());
    write_frame(&mut out, |o| {
        ReplyHeader {
            xid: xid::NOTIFICATION,
            zxid: -1,
            err: 0,
        }
        .encode(o);
        WatcherEvent {
            event_type: kind.code(),
            state: KeeperState::SyncConnected.code(),
            path: path.to_string(),
        }
        .encode(o);
    });
    out.freeze()
}

impl WatchTable {
    /// Registers a watch of `sink` on `path`.
    pub fn add(&mut self, sink: &Arc<Sink>, path: &str, table: Table, mode: Mode) {
        self.sinks.entry(sink.id).or_insert_with(|| sink.clone());
        self.paths_by_conn
            .entry(sink.id)
            .or_default()
            .insert(path.to_string());
        match table {
            Table::Data => self.data.add(path, sink.id, mode),
            Table::Child => self.child.add(path, sink.id, mode),
        }
    }

    /// removeWatches: drops the connection's watch in `table`; whether one was there.
    pub fn remove(&mut self, conn: ConnId, path: &str, table: Table) -> bool {
        match table {
            Table::Data => self.data.remove(path, conn),
            Table::Child => self.child.remove(path, conn),
        }
    }

    /// Whether `conn` watches `path` in `table`.
    pub fn has(&self, conn: ConnId, path: &str, table: Table) -> bool {
        match table {
            Table::Data => self.data.has(path, conn),
            Table::Child => self.child.has(path, conn),
        }
    }

    /// Whether any connection watches `path` in `table` (3.8's checkWatches answer).
    pub fn anyone_watches(&self, path: &str, table: Table) -> bool {
        match table {
            Table::Data => self.data.by_path.contains_key(path),
            Table::Child => self.child.by_path.contains_key(path),
        }
    }

    /// Forgets every watch of a closed connection.
    pub fn drop_conn(&mut self, conn: ConnId) {
        self.sinks.remove(&conn);
        for p in self.paths_by_conn.remove(&conn).unwrap_or_default() {
            self.data.remove(&p, conn);
            self.child.remove(&p, conn);
        }
    }

    /// Fires the watches an applied change triggers, pushing one notification to each
    /// connection that may read the node (ACL check on delivery, CVE-2024-23944).
    pub fn fire(&mut self, ev: &Event) {
        let mut fired = HashSet::new();
        match ev.kind {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                self.data.trigger(&ev.path, ev.kind, &mut fired)
            }
            EventType::NodeChildrenChanged => self.child.trigger(&ev.path, ev.kind, &mut fired),
            EventType::NodeDeleted => {
                self.data.trigger(&ev.path, ev.kind, &mut fired);
                self.child.trigger(&ev.path, ev.kind, &mut fired);
            }
            _ => {}
        }
        if fired.is_empty() {
            return;
        }
        use crate::ops::metrics::{observe, Basic};
        let metric = match ev.kind {
            EventType::NodeCreated => Basic::NodeCreatedWatchCount,
            EventType::NodeDeleted => Basic::NodeDeletedWatchCount,
            EventType::NodeDataChanged => Basic::NodeChangedWatchCount,
            _ => Basic::NodeChildrenWatchCount,
        };
        observe(metric, fired.len() as u64);
        let frame = notification(ev.kind, &ev.path);
        for conn in fired {
            let Some(sink) = self.sinks.get(&conn) else {
                continue;
            };
            let ids: Vec<Id> = sink.identities();
            if !crate::tree::acl_allows(&ev.acl, perms::READ, &ids) {
                continue;
            }
            sink.push(Outbound::Immediate(frame.clone()));
        }
    }

    /// Watch counts: (connections, data paths, data watches, all watches).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let data_watches: usize = self.data.by_path.values().map(HashMap::len).sum();
        let child_watches: usize = self.child.by_path.values().map(HashMap::len).sum();
        let conns: HashSet<ConnId> = self
            .data
            .by_path
            .values()
            .flat_map(|s| s.keys().copied())
            .collect();
        (
            conns.len(),
            self.data.by_path.len(),
            data_watches,
            data_watches + child_watches,
        )
    }

    /// Data watches grouped by connection (wchc) and by path (wchp), sorted.
    pub fn data_watches(&self) -> Vec<(String, Vec<ConnId>)> {
        let mut v: Vec<(String, Vec<ConnId>)> = self
            .data
            .by_path
            .iter()
            .map(|(p, s)| {
                let mut c: Vec<ConnId> = s.keys().copied().collect();
                c.sort_unstable();
                (p.clone(), c)
            })
            .collect();
        v.sort();
        v
    }

    /// The sink of a watching connection.
    pub fn sink(&self, conn: ConnId) -> Option<&Arc<Sink>> {
        self.sinks.get(&conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(id: ConnId) -> (Arc<Sink>, tokio::sync::mpsc::Receiver<Outbound>) {
        Sink::new(id, "127.0.0.1:1".parse().unwrap())
    }

    fn ev(kind: EventType, path: &str) -> Event {
        Event {
            kind,
            path: path.into(),
            acl: zk_codec::records::Acl::open_unsafe().into(),
        }
    }

    fn drain(rx: &mut tokio::sync::mpsc::Receiver<Outbound>) -> usize {
        let mut n = 0;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        n
    }

    #[test]
    fn one_shot_fires_once_persistent_stays() {
        let mut w = WatchTable::default();
        let (a, mut ra) = sink(1);
        let (b, mut rb) = sink(2);
        w.add(&a, "/x", Table::Data, Mode::Standard);
        w.add(&b, "/x", Table::Data, Mode::Persistent);
        w.fire(&ev(EventType::NodeDataChanged, "/x"));
        w.fire(&ev(EventType::NodeDataChanged, "/x"));
        assert_eq!((drain(&mut ra), drain(&mut rb)), (1, 2));
    }

    #[test]
    fn recursive_matches_descendants_but_not_child_events() {
        let mut w = WatchTable::default();
        let (a, mut ra) = sink(1);
        w.add(&a, "/a", Table::Data, Mode::Recursive);
        w.fire(&ev(EventType::NodeCreated, "/a/b/c"));
        w.fire(&ev(EventType::NodeChildrenChanged, "/a/b"));
        w.fire(&ev(EventType::NodeCreated, "/ab"));
        assert_eq!(drain(&mut ra), 1);
        w.add(&a, "/", Table::Data, Mode::Recursive);
        w.fire(&ev(EventType::NodeDataChanged, "/q"));
        assert_eq!(drain(&mut ra), 1);
    }

    #[test]
    fn delete_notifies_a_connection_once_across_tables() {
        let mut w = WatchTable::default();
        let (a, mut ra) = sink(1);
        w.add(&a, "/x", Table::Data, Mode::Standard);
        w.add(&a, "/x", Table::Child, Mode::Standard);
        w.fire(&ev(EventType::NodeDeleted, "/x"));
        assert_eq!(drain(&mut ra), 1);
        assert!(!w.has(1, "/x", Table::Child));
    }

    #[test]
    fn events_are_filtered_by_read_acl() {
        let mut w = WatchTable::default();
        let (a, mut ra) = sink(1);
        w.add(&a, "/x", Table::Data, Mode::Standard);
        let mut e = ev(EventType::NodeDataChanged, "/x");
        e.acl = vec![zk_codec::records::Acl {
            perms: perms::READ,
            id: Id::new("digest", "u:h"),
        }]
        .into();
        w.fire(&e);
        assert_eq!(drain(&mut ra), 0);
    }
}
