//! The `fsync` workload: the disk's floor under one durable write, measured without a server.
//! Each op appends `size` bytes to a file allocated up front (as rzk's log segments are) and
//! fdatasyncs it, so a server's write latency can be read against it in the same run. The CPU
//! is kept from idling during the fsync as rzk's log writer keeps it (`idle_poll`, started by
//! `bench::run` with `--idle-poll-micros`), so the floor is the one rzk's writes actually stand
//! on.

use super::stats::Stats;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The file's allocated size: far more than a run appends at a few thousand ops/s.
const ALLOCATED: u64 = 64 << 20;

/// Appends and fdatasyncs `size`-byte records in `dir` for `warmup`, then records each one's
/// latency for `duration`. The file is removed afterwards.
///
/// # Errors
/// The file cannot be created, written or synced.
pub fn fsync(
    dir: &Path,
    size: usize,
    warmup: Duration,
    duration: Duration,
) -> std::io::Result<Stats> {
    let path = dir.join(format!("rzk-bench-fsync-{}", std::process::id()));
    let result = run(&path, size, warmup, duration);
    let _ = std::fs::remove_file(&path);
    result
}

fn run(path: &Path, size: usize, warmup: Duration, duration: Duration) -> std::io::Result<Stats> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)?;
    crate::storage::wal::allocate(&f, 0, ALLOCATED);
    f.sync_all()?;
    let record = vec![b'x'; size.max(1)];
    let mut stats = Stats::default();
    let mut written = 0u64;
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    loop {
        let began = Instant::now();
        if began >= end {
            break;
        }
        if written + record.len() as u64 > ALLOCATED {
            use std::io::Seek;
            f.seek(std::io::SeekFrom::Start(0))?;
            written = 0;
        }
        f.write_all(&record)?;
        crate::idle_poll::touch();
        f.sync_data()?;
        written += record.len() as u64;
        if began >= measure_from {
            stats.record(0, began.elapsed());
        }
    }
    Ok(stats)
}
