//! Quota accounting, as ZooKeeper 3.8 keeps it: a node `/zookeeper/quota<P>/zookeeper_limits`
//! marks `P` as a quota root; the server then keeps `/zookeeper/quota<P>/zookeeper_stats` at
//! `count=<nodes under P, P included>,bytes=<their data bytes>` on every create, delete and
//! setData below `P`. The stats node's data changes in place: no version, zxid or watch, and
//! (as in ZooKeeper) approximate_data_size does not follow it. Limits are not enforced
//! (ZooKeeper's enforceQuota defaults to false).

use super::{path, DataTree};
use std::collections::BTreeSet;

pub(super) const QUOTA_ROOT: &str = "/zookeeper/quota";
const LIMITS: &str = "zookeeper_limits";
const STATS: &str = "zookeeper_stats";

/// A change to a stats node, kept so a failed multi can put the old data back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StatsUndo {
    pub path: String,
    pub data: Option<super::Value>,
}

fn stats_path(root: &str) -> String {
    format!("{QUOTA_ROOT}{root}/{STATS}")
}

/// `count=N,bytes=M` → (N, M); other keys are ignored, missing ones read as 0.
fn parse_stats(data: Option<&[u8]>) -> (i64, i64) {
    let text = data
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .unwrap_or_default();
    let mut out = (0, 0);
    for part in text.split(',') {
        match part.split_once('=') {
            Some(("count", v)) => out.0 = v.trim().parse().unwrap_or(0),
            Some(("bytes", v)) => out.1 = v.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    out
}

impl DataTree {
    /// The deepest quota root at or above `p` ("/" never counts, as in ZooKeeper).
    fn quota_root_of(&self, p: &str) -> Option<&str> {
        self.quota_roots
            .iter()
            .filter(|r| {
                r.as_str() != "/"
                    && (p == r.as_str()
                        || (p.starts_with(r.as_str()) && p.as_bytes().get(r.len()) == Some(&b'/')))
            })
            .max_by_key(|r| r.len())
            .map(String::as_str)
    }

    /// Accounts a created, deleted or changed node at `p`. Returns the old stats data when a
    /// stats node changed, for the undo log.
    pub(super) fn quota_account(&mut self, p: &str, bytes: i64, count: i64) -> Option<StatsUndo> {
        if self.quota_roots.is_empty() {
            return None;
        }
        let root = self.quota_root_of(p)?.to_string();
        let sp = stats_path(&root);
        let mut node = self.nodes.get_mut(sp.as_str())?;
        let (c, b) = parse_stats(node.data.as_deref());
        let old = node.data.replace(
            format!("count={},bytes={}", c + count, b + bytes)
                .into_bytes()
                .into(),
        );
        Some(StatsUndo {
            path: sp,
            data: old,
        })
    }

    /// Follows the creation of a node under /zookeeper/quota: a limits node makes a quota
    /// root; a stats node is filled with the subtree's current figures.
    pub(super) fn quota_created(&mut self, full: &str) {
        let Some((parent, name)) = path::split(full) else {
            return;
        };
        let Some(root) = parent.strip_prefix(QUOTA_ROOT) else {
            return;
        };
        match name {
            LIMITS => {
                self.quota_roots.insert(root.to_string());
            }
            STATS => {
                let (count, bytes) = self.subtree_figures(root);
                if let Some(mut n) = self.nodes.get_mut(full) {
                    n.data = Some(format!("count={count},bytes={bytes}").into_bytes().into());
                }
            }
            _ => {}
        }
    }

    /// Follows the deletion of a limits node.
    pub(super) fn quota_deleted(&mut self, full: &str) {
        if let Some((parent, LIMITS)) = path::split(full) {
            if let Some(root) = parent.strip_prefix(QUOTA_ROOT) {
                self.quota_roots.remove(root);
            }
        }
    }

    /// Puts back stats data changed by a rolled-back multi.
    pub(super) fn quota_restore(&mut self, undo: StatsUndo) {
        if let Some(mut n) = self.nodes.get_mut(undo.path.as_str()) {
            n.data = undo.data;
        }
    }

    /// Recomputes the quota roots from the tree (after loading a snapshot or a rollback).
    pub(super) fn rebuild_quota_roots(&mut self) {
        let suffix = format!("/{LIMITS}");
        let mut roots = BTreeSet::new();
        self.nodes.walk(QUOTA_ROOT, |p, _| {
            if let Some(r) = p
                .strip_prefix(QUOTA_ROOT)
                .and_then(|r| r.strip_suffix(suffix.as_str()))
                .filter(|r| r.starts_with('/'))
            {
                roots.insert(r.to_string());
            }
        });
        self.quota_roots = roots;
    }

    /// (nodes, data bytes) of the subtree at `root`, the root included; (0, 0) if absent.
    fn subtree_figures(&self, root: &str) -> (i64, i64) {
        let mut stack = vec![root.to_string()];
        let (mut count, mut bytes) = (0i64, 0i64);
        while let Some(p) = stack.pop() {
            let Some(n) = self.nodes.get(p.as_str()) else {
                continue;
            };
            count += 1;
            bytes += n.data_len() as i64;
            for c in n.children.iter() {
                stack.push(path::join(&p, c));
            }
        }
        (count, bytes)
    }
}
