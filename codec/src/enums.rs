//! ZooKeeper's numbered enums with their exact wire values: op codes, error codes, event types,
//! keeper states, create modes, watcher types, add-watch modes and permission bits.
//! Unknown numbers give [`DecodeError::Unknown`] naming the enum.

use crate::error::DecodeError;

/// Declares an `i32`-valued enum with `TryFrom<i32>`, `code()` and `name()`.
macro_rules! int_enum {
    ($(#[$m:meta])* pub enum $name:ident ($what:literal) { $($(#[$vm:meta])* $var:ident = $val:literal => $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $var = $val),* }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var),*];

            /// The wire value.
            pub const fn code(self) -> i32 {
                self as i32
            }

            /// ZooKeeper's name for the value.
            pub const fn name(self) -> &'static str {
                match self { $($name::$var => $text),* }
            }
        }

        impl TryFrom<i32> for $name {
            type Error = DecodeError;
            fn try_from(value: i32) -> Result<Self, DecodeError> {
                match value {
                    $($val => Ok($name::$var),)*
                    _ => Err(DecodeError::Unknown { what: $what, value }),
                }
            }
        }

        impl From<$name> for i32 {
            fn from(v: $name) -> i32 {
                v as i32
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

int_enum! {
    /// Request types (ZooDefs.OpCode).
    pub enum OpCode("opcode") {
        Notification = 0 => "notification",
        Create = 1 => "create",
        Delete = 2 => "delete",
        Exists = 3 => "exists",
        GetData = 4 => "getData",
        SetData = 5 => "setData",
        GetAcl = 6 => "getACL",
        SetAcl = 7 => "setACL",
        GetChildren = 8 => "getChildren",
        Sync = 9 => "sync",
        Ping = 11 => "ping",
        GetChildren2 = 12 => "getChildren2",
        Check = 13 => "check",
        Multi = 14 => "multi",
        Create2 = 15 => "create2",
        Reconfig = 16 => "reconfig",
        CheckWatches = 17 => "checkWatches",
        RemoveWatches = 18 => "removeWatches",
        CreateContainer = 19 => "createContainer",
        DeleteContainer = 20 => "deleteContainer",
        CreateTtl = 21 => "createTTL",
        MultiRead = 22 => "multiRead",
        Auth = 100 => "auth",
        SetWatches = 101 => "setWatches",
        Sasl = 102 => "sasl",
        GetEphemerals = 103 => "getEphemerals",
        GetAllChildrenNumber = 104 => "getAllChildrenNumber",
        SetWatches2 = 105 => "setWatches2",
        AddWatch = 106 => "addWatch",
        WhoAmI = 107 => "whoAmI",
        CreateSession = -10 => "createSession",
        CloseSession = -11 => "closeSession",
        Error = -1 => "error",
    }
}

impl OpCode {
    /// Whether the op changes state and so goes through the log (ZooKeeper's `needCommit`;
    /// sync is included because it is ordered with the session's writes).
    pub const fn is_write(self) -> bool {
        matches!(
            self,
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::DeleteContainer
                | OpCode::SetData
                | OpCode::SetAcl
                | OpCode::Check
                | OpCode::Multi
                | OpCode::Reconfig
                | OpCode::Sync
                | OpCode::CreateSession
                | OpCode::CloseSession
        )
    }
}

int_enum! {
    /// KeeperException.Code values.
    pub enum ErrorCode("error code") {
        Ok = 0 => "OK",
        SystemError = -1 => "SystemError",
        RuntimeInconsistency = -2 => "RuntimeInconsistency",
        DataInconsistency = -3 => "DataInconsistency",
        ConnectionLoss = -4 => "ConnectionLoss",
        MarshallingError = -5 => "MarshallingError",
        Unimplemented = -6 => "Unimplemented",
        OperationTimeout = -7 => "OperationTimeout",
        BadArguments = -8 => "BadArguments",
        UnknownSession = -12 => "UnknownSession",
        NewConfigNoQuorum = -13 => "NewConfigNoQuorum",
        ReconfigInProgress = -14 => "ReconfigInProgress",
        ApiError = -100 => "APIError",
        NoNode = -101 => "NoNode",
        NoAuth = -102 => "NoAuth",
        BadVersion = -103 => "BadVersion",
        NoChildrenForEphemerals = -108 => "NoChildrenForEphemerals",
        NodeExists = -110 => "NodeExists",
        NotEmpty = -111 => "NotEmpty",
        SessionExpired = -112 => "SessionExpired",
        InvalidCallback = -113 => "InvalidCallback",
        InvalidAcl = -114 => "InvalidACL",
        AuthFailed = -115 => "AuthFailed",
        SessionMoved = -118 => "SessionMoved",
        NotReadOnly = -119 => "NotReadOnly",
        EphemeralOnLocalSession = -120 => "EphemeralOnLocalSession",
        NoWatcher = -121 => "NoWatcher",
        RequestTimeout = -122 => "RequestTimeout",
        ReconfigDisabled = -123 => "ReconfigDisabled",
        SessionClosedRequireSaslAuth = -124 => "SessionClosedRequireSaslAuth",
        QuotaExceeded = -125 => "QuotaExceeded",
        ThrottledOp = -127 => "ThrottledOp",
    }
}

int_enum! {
    /// Watcher.Event.EventType.
    pub enum EventType("event type") {
        None = -1 => "None",
        NodeCreated = 1 => "NodeCreated",
        NodeDeleted = 2 => "NodeDeleted",
        NodeDataChanged = 3 => "NodeDataChanged",
        NodeChildrenChanged = 4 => "NodeChildrenChanged",
        DataWatchRemoved = 5 => "DataWatchRemoved",
        ChildWatchRemoved = 6 => "ChildWatchRemoved",
        PersistentWatchRemoved = 7 => "PersistentWatchRemoved",
    }
}

int_enum! {
    /// Watcher.Event.KeeperState.
    pub enum KeeperState("keeper state") {
        Unknown = -1 => "Unknown",
        Disconnected = 0 => "Disconnected",
        NoSyncConnected = 1 => "NoSyncConnected",
        SyncConnected = 3 => "SyncConnected",
        AuthFailed = 4 => "AuthFailed",
        ConnectedReadOnly = 5 => "ConnectedReadOnly",
        SaslAuthenticated = 6 => "SaslAuthenticated",
        Expired = -112 => "Expired",
        Closed = 7 => "Closed",
    }
}

int_enum! {
    /// CreateMode flags as sent in create requests.
    pub enum CreateMode("create mode") {
        Persistent = 0 => "PERSISTENT",
        Ephemeral = 1 => "EPHEMERAL",
        PersistentSequential = 2 => "PERSISTENT_SEQUENTIAL",
        EphemeralSequential = 3 => "EPHEMERAL_SEQUENTIAL",
        Container = 4 => "CONTAINER",
        PersistentWithTtl = 5 => "PERSISTENT_WITH_TTL",
        PersistentSequentialWithTtl = 6 => "PERSISTENT_SEQUENTIAL_WITH_TTL",
    }
}

impl CreateMode {
    /// Sequential modes get a `%010d` suffix.
    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// Modes tied to the creating session.
    pub const fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// Modes that carry a TTL.
    pub const fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

int_enum! {
    /// Watcher.WatcherType, as used by checkWatches and removeWatches.
    pub enum WatcherType("watcher type") {
        Children = 1 => "Children",
        Data = 2 => "Data",
        Any = 3 => "Any",
        Persistent = 4 => "Persistent",
        PersistentRecursive = 5 => "PersistentRecursive",
    }
}

int_enum! {
    /// AddWatchMode.
    pub enum AddWatchMode("add watch mode") {
        Persistent = 0 => "PERSISTENT",
        PersistentRecursive = 1 => "PERSISTENT_RECURSIVE",
    }
}

/// ACL permission bits (ZooDefs.Perms). Stored as a plain `i32` in records because ZooKeeper
/// stores any int a client sends.
pub mod perms {
    /// getData, getChildren, exists.
    pub const READ: i32 = 1;
    /// setData.
    pub const WRITE: i32 = 2;
    /// create children.
    pub const CREATE: i32 = 4;
    /// delete children.
    pub const DELETE: i32 = 8;
    /// setACL.
    pub const ADMIN: i32 = 16;
    /// Everything.
    pub const ALL: i32 = 31;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_and_unknowns_are_named() {
        for op in OpCode::ALL {
            assert_eq!(OpCode::try_from(op.code()), Ok(*op));
        }
        for e in ErrorCode::ALL {
            assert_eq!(ErrorCode::try_from(e.code()), Ok(*e));
        }
        assert_eq!(
            OpCode::try_from(10).unwrap_err().to_string(),
            "unknown opcode 10"
        );
        assert_eq!(
            ErrorCode::try_from(-126).unwrap_err().to_string(),
            "unknown error code -126"
        );
        assert_eq!(
            CreateMode::try_from(7).unwrap_err().to_string(),
            "unknown create mode 7"
        );
    }

    #[test]
    fn exact_numbers() {
        assert_eq!(OpCode::WhoAmI.code(), 107);
        assert_eq!(OpCode::CloseSession.code(), -11);
        assert_eq!(ErrorCode::NoNode.code(), -101);
        assert_eq!(ErrorCode::ThrottledOp.code(), -127);
        assert_eq!(KeeperState::Expired.code(), -112);
        assert_eq!(EventType::NodeChildrenChanged.code(), 4);
    }
}
