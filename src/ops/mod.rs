//! The operations surface: four-letter words, the AdminServer, Prometheus metrics, and the
//! counters behind them.

pub mod admin;
pub mod fourlw;
pub mod metrics;
pub mod prometheus;
pub mod report;
pub mod stats;

/// Java's Double.toString for the small non-negative values ZooKeeper prints (4 decimals).
pub fn java_double(x: f64) -> String {
    let s = format!("{}", (x * 10000.0).round() / 10000.0);
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

use zk_codec::OpCode;

/// ZooKeeper's short op names as `cons` shows them (`lop=`).
pub fn lop(op: OpCode) -> &'static str {
    match op {
        OpCode::Ping => "PING",
        OpCode::CreateSession => "SESS",
        OpCode::Create | OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => "CREA",
        OpCode::Delete | OpCode::DeleteContainer => "DELE",
        OpCode::SetData => "SETD",
        OpCode::GetData => "GETD",
        OpCode::Exists => "EXIS",
        OpCode::GetChildren | OpCode::GetChildren2 => "GETC",
        OpCode::GetAcl => "GETA",
        OpCode::SetAcl => "SETA",
        OpCode::Sync => "SYNC",
        OpCode::Multi => "MULT",
        OpCode::MultiRead => "MLTR",
        OpCode::Check => "CHEC",
        OpCode::SetWatches => "SETW",
        OpCode::SetWatches2 => "STW2",
        OpCode::AddWatch => "ADDW",
        OpCode::CheckWatches => "CHKW",
        OpCode::RemoveWatches => "REMW",
        OpCode::GetEphemerals => "GETE",
        OpCode::GetAllChildrenNumber => "GETACN",
        OpCode::WhoAmI => "HOMI",
        OpCode::Reconfig => "RECO",
        OpCode::CloseSession => "CLOS",
        _ => "NA",
    }
}
