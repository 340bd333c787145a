//! `DataTree::apply`: the only way the tree changes. Each write op checks its preconditions in
//! ZooKeeper's order (zk-protocol-reference.md §2.3; PrepRequestProcessor) against the committed
//! tree, then mutates it and reports the watch events it fires. A failed write changes nothing
//! but still used its zxid, as ZooKeeper's error txns do. A multi records an undo log so that a
//! failing sub-op rolls back the ones before it.

use super::hash_order::EPHEMERALS_INITIAL_LOG2;
use super::{acl, path, AclList, DataTree, Kind, Node, CONTAINER_OWNER, MAX_TTL, TTL_MARK};
use crate::txn::{Txn, TxnOp};
use zk_codec::records::*;
use zk_codec::{
    perms, CreateMode, ErrorCode, EventType, MultiOp, MultiResponse, OpCode, OpResult, Request,
    Response,
};

/// A watch trigger: what happened, where, and the ACL that decides who may hear of it (the
/// node's own, or the parent's for NodeChildrenChanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    pub path: String,
    pub acl: AclList,
}

/// What applying one entry produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The reply header's err.
    pub err: ErrorCode,
    /// The reply body (Empty on error).
    pub response: Response,
    /// Watch triggers, in the order ZooKeeper fires them.
    pub events: Vec<Event>,
}

/// One reversible step of a multi.
enum Undo {
    Created {
        path: String,
        parent_cversion: i32,
        parent_pzxid: i64,
        parent_cap: u8,
    },
    Deleted {
        path: String,
        node: Node,
        parent_pzxid: i64,
    },
    Changed {
        path: String,
        node: Node,
    },
    QuotaStats(super::quota::StatsUndo),
}

/// Per-entry context: the stamp, the caller, and what the ops produced.
struct Cx<'a> {
    zxid: i64,
    time: i64,
    session: i64,
    ids: &'a [Id],
    events: Vec<Event>,
    undo: Option<Vec<Undo>>,
}

type OpResultOf<T> = Result<T, ErrorCode>;

impl DataTree {
    /// Applies one log entry at `zxid`.
    pub fn apply(&mut self, txn: &Txn, zxid: i64) -> Applied {
        self.last_zxid = zxid;
        let mut cx = Cx {
            zxid,
            time: txn.time_ms,
            session: txn.session,
            ids: &txn.auth,
            events: Vec::new(),
            undo: None,
        };
        let result = match &txn.op {
            TxnOp::CreateSession { timeout_ms } => {
                self.sessions.insert(txn.session, *timeout_ms);
                Ok(Response::Empty)
            }
            TxnOp::CloseSession => {
                self.close_session(&mut cx);
                Ok(Response::Empty)
            }
            TxnOp::Request(req) => self.apply_request(&mut cx, req),
            TxnOp::Malformed => Err(ErrorCode::MarshallingError),
            TxnOp::BadArguments => Err(ErrorCode::BadArguments),
        };
        match result {
            Ok(response) => Applied {
                err: ErrorCode::Ok,
                response,
                events: cx.events,
            },
            Err(err) => Applied {
                err,
                response: Response::Empty,
                events: Vec::new(),
            },
        }
    }

    fn apply_request(&mut self, cx: &mut Cx<'_>, req: &Request) -> OpResultOf<Response> {
        // Housekeeping entries (session 0) come from the server itself.
        let session_ok = cx.session == 0 || self.sessions.contains_key(&cx.session);
        let check_session = || {
            if session_ok {
                Ok(())
            } else {
                Err(ErrorCode::SessionExpired)
            }
        };
        match req {
            Request::Create(r) => {
                let (p, _) = self.create(cx, OpCode::Create, r, -1, session_ok)?;
                Ok(Response::Create(CreateResponse { path: p }))
            }
            Request::Create2(r) | Request::CreateContainer(r) => {
                let op = req.op();
                let (path, stat) = self.create(cx, op, r, -1, session_ok)?;
                Ok(Response::Create2(Create2Response { path, stat }))
            }
            Request::CreateTtl(r) => {
                let c = CreateRequest {
                    path: r.path.clone(),
                    data: r.data.clone(),
                    acl: r.acl.clone(),
                    flags: r.flags,
                };
                let (path, stat) = self.create(cx, OpCode::CreateTtl, &c, r.ttl, session_ok)?;
                Ok(Response::Create2(Create2Response { path, stat }))
            }
            Request::Delete(r) => {
                check_session()?;
                self.delete(cx, &r.path, r.version)?;
                Ok(Response::Empty)
            }
            Request::DeleteContainer(r) => {
                check_session()?;
                self.delete_container(cx, &r.path)?;
                Ok(Response::Empty)
            }
            Request::SetData(r) => {
                check_session()?;
                let stat = self.set_data(cx, &r.path, r.data.as_deref(), r.version)?;
                Ok(Response::Stat(StatResponse { stat }))
            }
            Request::SetAcl(r) => {
                check_session()?;
                let stat = self.set_acl(cx, &r.path, &r.acl, r.version)?;
                Ok(Response::Stat(StatResponse { stat }))
            }
            Request::Multi(m) => {
                check_session()?;
                self.multi(cx, &m.ops, session_ok).map(Response::Multi)
            }
            Request::Reconfig(_) => {
                check_session()?;
                // Standalone: disabled (-123) unless reconfigEnabled, then unimplemented (-6).
                Err(if self.opts.reconfig_enabled {
                    ErrorCode::Unimplemented
                } else {
                    ErrorCode::ReconfigDisabled
                })
            }
            _ => Err(ErrorCode::Unimplemented),
        }
    }

    fn create(
        &mut self,
        cx: &mut Cx<'_>,
        op: OpCode,
        r: &CreateRequest,
        ttl: i64,
        session_ok: bool,
    ) -> OpResultOf<(String, Stat)> {
        let mode = CreateMode::try_from(r.flags).map_err(|_| ErrorCode::BadArguments)?;
        if mode.is_ttl() && !self.opts.extended_types {
            return Err(ErrorCode::Unimplemented);
        }
        let ttl_ok = if mode.is_ttl() {
            ttl > 0 && ttl <= MAX_TTL
        } else {
            ttl < 0
        };
        if !ttl_ok {
            return Err(ErrorCode::BadArguments);
        }
        if !session_ok {
            return Err(ErrorCode::SessionExpired);
        }
        let requested = &r.path;
        let slash = requested.rfind('/').ok_or(ErrorCode::BadArguments)?;
        if requested.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        let acl = acl::fixup(&r.acl, cx.ids).ok_or(ErrorCode::InvalidAcl)?;
        let parent_path = if slash == 0 { "/" } else { &requested[..slash] };
        let parent = self.nodes.get(parent_path).ok_or(ErrorCode::NoNode)?;
        if !self.allowed(&parent, perms::CREATE, cx.ids) {
            return Err(ErrorCode::NoAuth);
        }
        let parent_cversion = parent.stat.cversion;
        let full = if mode.is_sequential() {
            format!("{requested}{parent_cversion:010}")
        } else {
            requested.clone()
        };
        path::validate(&full).map_err(|_| ErrorCode::BadArguments)?;
        if self.nodes.contains_key(full.as_str()) {
            return Err(ErrorCode::NodeExists);
        }
        if let Kind::Ephemeral(_) = self.kind_of(parent.stat.ephemeral_owner) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let owner = if op == OpCode::CreateContainer {
            CONTAINER_OWNER
        } else if mode.is_ttl() {
            TTL_MARK | ttl
        } else if mode.is_ephemeral() {
            cx.session
        } else {
            0
        };
        let acl = self.intern(acl);
        let stat = StatPersisted {
            czxid: cx.zxid,
            mzxid: cx.zxid,
            ctime: cx.time,
            mtime: cx.time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: cx.zxid,
        };
        let data = r.data.as_deref();
        let answer = self.stat_from(&stat, data.map_or(0, <[u8]>::len), 0);
        self.insert_node(&full, data, &acl, &stat, cx, parent_cversion + 1);
        Ok((full, answer))
    }

    /// Links a new node under its (existing) parent and fires its events.
    fn insert_node(
        &mut self,
        full: &str,
        data: Option<&[u8]>,
        node_acl: &AclList,
        stat: &StatPersisted,
        cx: &mut Cx<'_>,
        new_parent_cversion: i32,
    ) {
        // Invariant: callers checked that the parent exists and the node does not.
        let (parent_path, _) = path::split(full).expect("created paths contain a slash");
        let bytes = data.map_or(0, <[u8]>::len);
        self.index_kind(full, stat.ephemeral_owner, true);
        self.data_size += (full.len() + bytes) as u64;
        // Only a multi's undo log needs the parent's Java table size from before the create.
        let parent_cap = match cx.undo {
            Some(_) => self
                .nodes
                .get(parent_path)
                .map_or(0, |p| p.children.cap_log2()),
            None => 0,
        };
        self.nodes
            .create(full, data, node_acl, stat)
            .expect("parent and absence checked by caller");
        let parent_acl = self
            .nodes
            .update(parent_path, |parent| {
                if let Some(u) = cx.undo.as_mut() {
                    u.push(Undo::Created {
                        path: full.to_string(),
                        parent_cversion: parent.stat.cversion,
                        parent_pzxid: parent.stat.pzxid,
                        parent_cap,
                    });
                }
                parent.stat.cversion = new_parent_cversion;
                parent.stat.pzxid = cx.zxid;
                parent.acl.clone()
            })
            .expect("parent checked by caller");
        let mut bytes = bytes as i64;
        if full.starts_with(super::quota::QUOTA_ROOT) {
            // Creating a stats node fills in its data.
            self.quota_created(full);
            bytes = self.nodes.get(full).map_or(0, |n| n.data_len()) as i64;
        }
        if let Some(q) = self.quota_account(full, bytes, 1) {
            if let Some(u) = cx.undo.as_mut() {
                u.push(Undo::QuotaStats(q));
            }
        }
        cx.events.push(Event {
            kind: EventType::NodeCreated,
            path: full.to_string(),
            acl: node_acl.clone(),
        });
        cx.events.push(Event {
            kind: EventType::NodeChildrenChanged,
            path: parent_path.to_string(),
            acl: parent_acl,
        });
    }

    /// Adds or removes `path` from the ephemeral, container and TTL indexes.
    pub(super) fn index_kind(&mut self, path: &str, owner: i64, add: bool) {
        match self.kind_of(owner) {
            Kind::Persistent => {}
            Kind::Ephemeral(s) => {
                if add {
                    self.ephemerals
                        .entry(s)
                        .or_default()
                        .insert(path, EPHEMERALS_INITIAL_LOG2);
                } else if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(path);
                }
            }
            Kind::Container => {
                if add {
                    self.containers.insert(path.to_string());
                } else {
                    self.containers.remove(path);
                }
            }
            Kind::Ttl(_) => {
                if add {
                    self.ttls.insert(path.to_string());
                } else {
                    self.ttls.remove(path);
                }
            }
        }
    }

    fn delete(&mut self, cx: &mut Cx<'_>, target: &str, version: i32) -> OpResultOf<()> {
        let (parent_path, _) = path::split(target).ok_or(ErrorCode::BadArguments)?;
        if target.contains('\0')
            || matches!(
                target,
                "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
            )
        {
            return Err(ErrorCode::BadArguments);
        }
        let parent_path = if target.rfind('/') == Some(0) {
            "/"
        } else {
            parent_path
        };
        let parent = self.nodes.get(parent_path).ok_or(ErrorCode::NoNode)?;
        if !self.allowed(&parent, perms::DELETE, cx.ids) {
            return Err(ErrorCode::NoAuth);
        }
        let node = self.nodes.get(target).ok_or(ErrorCode::NoNode)?;
        if version != -1 && version != node.stat.version {
            return Err(ErrorCode::BadVersion);
        }
        if !node.children.is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        self.remove_node(cx, target);
        Ok(())
    }

    fn delete_container(&mut self, cx: &mut Cx<'_>, target: &str) -> OpResultOf<()> {
        path::split(target).ok_or(ErrorCode::BadArguments)?;
        let node = self.nodes.get(target).ok_or(ErrorCode::NoNode)?;
        if !node.children.is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        if let Kind::Ephemeral(_) = self.kind_of(node.stat.ephemeral_owner) {
            return Err(ErrorCode::BadVersion);
        }
        self.remove_node(cx, target);
        Ok(())
    }

    /// Unlinks a childless node and fires NodeDeleted and the parent's NodeChildrenChanged.
    fn remove_node(&mut self, cx: &mut Cx<'_>, target: &str) {
        // Invariant: callers checked that the node exists and has a parent.
        let node = self.nodes.remove(target).expect("checked by caller");
        let (parent_path, _) = path::split(target).expect("checked by caller");
        self.index_kind(target, node.stat.ephemeral_owner, false);
        self.data_size = self
            .data_size
            .saturating_sub((target.len() + node.data_len()) as u64);
        let (parent_pzxid, parent_acl) = self
            .nodes
            .update(parent_path, |parent| {
                let parent_pzxid = parent.stat.pzxid;
                parent.stat.pzxid = parent.stat.pzxid.max(cx.zxid);
                (parent_pzxid, parent.acl.clone())
            })
            .expect("parent of an existing node");
        if target.starts_with(super::quota::QUOTA_ROOT) {
            self.quota_deleted(target);
        }
        let bytes = node.data_len() as i64;
        if let Some(q) = self.quota_account(target, -bytes, -1) {
            if let Some(u) = cx.undo.as_mut() {
                u.push(Undo::QuotaStats(q));
            }
        }
        cx.events.push(Event {
            kind: EventType::NodeDeleted,
            path: target.to_string(),
            acl: node.acl.clone(),
        });
        cx.events.push(Event {
            kind: EventType::NodeChildrenChanged,
            path: parent_path.to_string(),
            acl: parent_acl,
        });
        if let Some(u) = cx.undo.as_mut() {
            u.push(Undo::Deleted {
                path: target.to_string(),
                node,
                parent_pzxid,
            });
        }
    }

    fn set_data(
        &mut self,
        cx: &mut Cx<'_>,
        target: &str,
        data: Option<&[u8]>,
        version: i32,
    ) -> OpResultOf<Stat> {
        path::validate(target).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.nodes.get(target).ok_or(ErrorCode::NoNode)?;
        if !self.allowed(&node, perms::WRITE, cx.ids) {
            return Err(ErrorCode::NoAuth);
        }
        if version != -1 && version != node.stat.version {
            return Err(ErrorCode::BadVersion);
        }
        let new_len = data.map_or(0, <[u8]>::len) as u64;
        let old_len = node.data_len() as u64;
        if let Some(u) = cx.undo.as_mut() {
            u.push(Undo::Changed {
                path: target.to_string(),
                node: node.to_node(),
            });
        }
        let mut stat = node.stat.clone();
        stat.version = stat.version.wrapping_add(1);
        stat.mzxid = cx.zxid;
        stat.mtime = cx.time;
        let acl = node.acl.clone();
        self.nodes.set_data(target, data, &stat);
        self.data_size = (self.data_size + new_len).saturating_sub(old_len);
        if let Some(q) = self.quota_account(target, new_len as i64 - old_len as i64, 0) {
            if let Some(u) = cx.undo.as_mut() {
                u.push(Undo::QuotaStats(q));
            }
        }
        cx.events.push(Event {
            kind: EventType::NodeDataChanged,
            path: target.to_string(),
            acl,
        });
        let node = self.nodes.get(target).expect("just written");
        Ok(self.stat_of(&node))
    }

    fn set_acl(
        &mut self,
        cx: &mut Cx<'_>,
        target: &str,
        requested: &[Acl],
        version: i32,
    ) -> OpResultOf<Stat> {
        path::validate(target).map_err(|_| ErrorCode::BadArguments)?;
        let acl = acl::fixup(requested, cx.ids).ok_or(ErrorCode::InvalidAcl)?;
        let node = self.nodes.get(target).ok_or(ErrorCode::NoNode)?;
        if !self.allowed(&node, perms::ADMIN, cx.ids) {
            return Err(ErrorCode::NoAuth);
        }
        if version != -1 && version != node.stat.aversion {
            return Err(ErrorCode::BadVersion);
        }
        let acl = self.intern(acl);
        {
            let mut node = self.nodes.get_mut(target).expect("checked above");
            if let Some(u) = cx.undo.as_mut() {
                u.push(Undo::Changed {
                    path: target.to_string(),
                    node: node.clone(),
                });
            }
            node.acl = acl;
            node.stat.aversion = node.stat.aversion.wrapping_add(1);
        }
        let node = self.nodes.get(target).expect("just written");
        Ok(self.stat_of(&node))
    }

    fn check_version(&self, cx: &Cx<'_>, target: &str, version: i32) -> OpResultOf<()> {
        path::validate(target).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.nodes.get(target).ok_or(ErrorCode::NoNode)?;
        if !self.allowed(&node, perms::READ, cx.ids) {
            return Err(ErrorCode::NoAuth);
        }
        if version != -1 && version != node.stat.version {
            return Err(ErrorCode::BadVersion);
        }
        Ok(())
    }

    /// A write multi: all sub-ops or none. A failure answers err 0 with one error result per
    /// sub-op: 0 before the failing one, its code, then RuntimeInconsistency.
    fn multi(
        &mut self,
        cx: &mut Cx<'_>,
        ops: &[MultiOp],
        session_ok: bool,
    ) -> OpResultOf<MultiResponse> {
        if ops
            .iter()
            .any(|op| matches!(op, MultiOp::GetData(_) | MultiOp::GetChildren(_)))
        {
            return Err(ErrorCode::MarshallingError);
        }
        cx.undo = Some(Vec::new());
        let mut results = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            if ttl_flags_without_ttl(op) {
                // 3.8 turns such a sub-op into a createTTL without a TTL record and fails the
                // whole request when it reaches it (an error txn, MarshallingError).
                let undo = cx.undo.take().unwrap_or_default();
                self.roll_back(undo);
                cx.events.clear();
                return Err(ErrorCode::MarshallingError);
            }
            match self.multi_op(cx, op, session_ok) {
                Ok(r) => results.push(r),
                Err(code) => {
                    let undo = cx.undo.take().unwrap_or_default();
                    self.roll_back(undo);
                    cx.events.clear();
                    let results = (0..ops.len())
                        .map(|j| {
                            OpResult::Error(match j.cmp(&i) {
                                std::cmp::Ordering::Less => 0,
                                std::cmp::Ordering::Equal => code.code(),
                                std::cmp::Ordering::Greater => {
                                    ErrorCode::RuntimeInconsistency.code()
                                }
                            })
                        })
                        .collect();
                    return Ok(MultiResponse { results });
                }
            }
        }
        cx.undo = None;
        Ok(MultiResponse { results })
    }

    fn multi_op(
        &mut self,
        cx: &mut Cx<'_>,
        op: &MultiOp,
        session_ok: bool,
    ) -> OpResultOf<OpResult> {
        match op {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => {
                self.multi_create(cx, r, -1, session_ok)
            }
            MultiOp::CreateTtl(r) => {
                let c = CreateRequest {
                    path: r.path.clone(),
                    data: r.data.clone(),
                    acl: r.acl.clone(),
                    flags: r.flags,
                };
                self.multi_create(cx, &c, r.ttl, session_ok)
            }
            MultiOp::Delete(r) => self
                .delete(cx, &r.path, r.version)
                .map(|_| OpResult::Delete),
            MultiOp::SetData(r) => self
                .set_data(cx, &r.path, r.data.as_deref(), r.version)
                .map(|stat| OpResult::SetData(StatResponse { stat })),
            MultiOp::Check(r) => self
                .check_version(cx, &r.path, r.version)
                .map(|_| OpResult::Check),
            MultiOp::GetData(_) | MultiOp::GetChildren(_) => Err(ErrorCode::MarshallingError),
        }
    }

    /// Up to 3.8 the server picks a sub-op's create type from its flags, whatever the header
    /// said: container flag → createContainer, TTL flags → createTTL, otherwise create (so a
    /// create2 sub-op answers with the path only).
    fn multi_create(
        &mut self,
        cx: &mut Cx<'_>,
        r: &CreateRequest,
        ttl: i64,
        session_ok: bool,
    ) -> OpResultOf<OpResult> {
        let op = match CreateMode::try_from(r.flags) {
            Ok(CreateMode::Container) => OpCode::CreateContainer,
            Ok(m) if m.is_ttl() => OpCode::CreateTtl,
            _ => OpCode::Create,
        };
        let (path, stat) = self.create(
            cx,
            op,
            r,
            if op == OpCode::CreateTtl { ttl } else { -1 },
            session_ok,
        )?;
        Ok(if op == OpCode::Create {
            OpResult::Create(CreateResponse { path })
        } else {
            OpResult::Create2(Create2Response { path, stat })
        })
    }

    fn roll_back(&mut self, undo: Vec<Undo>) {
        let quota_touched = undo.iter().any(|u| match u {
            Undo::Created { path, .. } | Undo::Deleted { path, .. } => {
                path.starts_with(super::quota::QUOTA_ROOT)
            }
            _ => false,
        });
        for step in undo.into_iter().rev() {
            match step {
                Undo::QuotaStats(q) => self.quota_restore(q),
                Undo::Created {
                    path,
                    parent_cversion,
                    parent_pzxid,
                    parent_cap,
                } => {
                    if let Some(node) = self.nodes.remove(path.as_str()) {
                        self.index_kind(&path, node.stat.ephemeral_owner, false);
                        self.data_size = self
                            .data_size
                            .saturating_sub((path.len() + node.data_len()) as u64);
                    }
                    if let Some(pp) = parent_of(&path) {
                        self.nodes.set_child_cap(pp, parent_cap);
                        self.nodes.update(pp, |p| {
                            p.stat.cversion = parent_cversion;
                            p.stat.pzxid = parent_pzxid;
                        });
                    }
                }
                Undo::Deleted {
                    path,
                    node,
                    parent_pzxid,
                } => {
                    self.index_kind(&path, node.stat.ephemeral_owner, true);
                    self.data_size += (path.len() + node.data_len()) as u64;
                    // Rolled back in reverse, so the parent is there again.
                    let _ = self.nodes.restore(&path, node);
                    if let Some(pp) = parent_of(&path) {
                        self.nodes.update(pp, |p| p.stat.pzxid = parent_pzxid);
                    }
                }
                Undo::Changed { path, node } => {
                    if let Some(mut n) = self.nodes.get_mut(path.as_str()) {
                        let old = n.data_len() as u64;
                        let new = node.data_len() as u64;
                        self.data_size = (self.data_size + new).saturating_sub(old);
                        *n = node;
                    }
                }
            }
        }
        if quota_touched {
            self.rebuild_quota_roots();
        }
    }

    /// Deletes every ephemeral of the session under this entry's zxid and forgets the session.
    fn close_session(&mut self, cx: &mut Cx<'_>) {
        let paths: Vec<String> = self
            .ephemerals
            .get(&cx.session)
            .map(|s| s.iter().map(str::to_string).collect())
            .unwrap_or_default();
        for p in paths {
            if self
                .nodes
                .get(p.as_str())
                .is_some_and(|n| n.children.is_empty())
            {
                self.remove_node(cx, &p);
            }
        }
        self.ephemerals.remove(&cx.session);
        self.sessions.remove(&cx.session);
    }
}

/// A create, create2 or createContainer sub-op whose flags ask for a TTL node.
fn ttl_flags_without_ttl(op: &MultiOp) -> bool {
    match op {
        MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => {
            CreateMode::try_from(r.flags).is_ok_and(|m| m.is_ttl())
        }
        _ => false,
    }
}

/// The parent's path of a node's.
fn parent_of(p: &str) -> Option<&str> {
    path::split(p).map(|(parent, _)| parent)
}
