//! Snapshot files: `<dir>/snapshot-<term 20 digits>-<index 20 digits>`, written to a temp file,
//! fsynced, renamed, directory fsynced. Layout: `magic "RZKS" | u32 version 1 | payload |
//! u32 crc32c(payload)`. The newest file whose checksum verifies wins; older ones are kept up
//! to a retention count so that a corrupt newest snapshot can fall back to an older one.

use super::{sync_dir, Op, StorageError, Subject};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"RZKS";
const VERSION: u32 = 1;

/// A snapshot file's identity: the log position it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SnapshotId {
    pub term: u64,
    pub index: u64,
}

fn path_of(dir: &Path, id: SnapshotId) -> PathBuf {
    dir.join(format!("snapshot-{:020}-{:020}", id.term, id.index))
}

/// Every snapshot file in `dir`, newest (highest index) first.
pub fn list(dir: &Path) -> Vec<SnapshotId> {
    let mut v: Vec<SnapshotId> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let rest = name.strip_prefix("snapshot-")?;
                    let (t, i) = rest.split_once('-')?;
                    Some(SnapshotId {
                        term: t.parse().ok()?,
                        index: i.parse().ok()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort_by(|a, b| b.index.cmp(&a.index).then(b.term.cmp(&a.term)));
    v
}

/// Durably writes a snapshot.
///
/// # Errors
/// Any I/O failure.
pub fn write(dir: &Path, id: SnapshotId, payload: &[u8]) -> Result<PathBuf, StorageError> {
    write_with(dir, id, |w| w.write_all(payload)).map(|(path, _)| path)
}

/// Durably writes a snapshot whose payload `fill` streams into the writer it is given (so the
/// payload never has to be held in memory whole); returns the path and the payload's length.
///
/// # Errors
/// Any I/O failure, including those `fill` returns.
pub fn write_with(
    dir: &Path,
    id: SnapshotId,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(PathBuf, u64), StorageError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StorageError::new(Subject::Dir(dir.to_path_buf()), Op::Open, e))?;
    let path = path_of(dir, id);
    let tmp = path.with_extension("tmp");
    let err = |op| {
        let p = path.clone();
        move |e| StorageError::new(Subject::Snapshot(p), op, e)
    };
    let mut f = DirectWriter::create(&tmp).map_err(err(Op::Open))?;
    f.write_all(MAGIC).map_err(err(Op::Write))?;
    f.write_all(&VERSION.to_be_bytes())
        .map_err(err(Op::Write))?;
    let mut payload = Checksummed {
        inner: &mut f,
        crc: 0,
        len: 0,
    };
    fill(&mut payload).map_err(err(Op::Write))?;
    let (crc, len) = (payload.crc, payload.len);
    f.write_all(&crc.to_be_bytes()).map_err(err(Op::Write))?;
    let f = f.finish().map_err(err(Op::Write))?;
    f.sync_all().map_err(err(Op::Sync))?;
    std::fs::rename(&tmp, &path).map_err(err(Op::Rename))?;
    sync_dir(dir)?;
    Ok((path, len))
}

/// Alignment of O_DIRECT buffers, lengths and file offsets (a page; covers any block size).
const ALIGN: usize = 4096;
/// Bytes gathered before each write.
const WRITE_SIZE: usize = 4 << 20;

/// The snapshot file, written around the page cache (O_DIRECT) where the filesystem allows it.
/// Buffered, the kernel's copy of every snapshot byte into fresh page-cache pages was the
/// largest single cost of a create-heavy load (15% of the server's CPU, on the CPU that serves
/// clients); a snapshot is read back only at start-up. Where O_DIRECT is refused (tmpfs, some
/// network filesystems) the same writes go through the page cache.
struct DirectWriter {
    file: std::fs::File,
    /// `WRITE_SIZE + ALIGN` bytes; the data starts at `at`, the first aligned address.
    buf: Vec<u8>,
    at: usize,
    filled: usize,
    /// Bytes handed to the file so far, padding excluded.
    written: u64,
    direct: bool,
}

impl DirectWriter {
    fn create(path: &Path) -> std::io::Result<Self> {
        let open = |flags| {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .custom_flags(flags)
                .open(path)
        };
        let (file, direct) = match open(O_DIRECT) {
            Ok(f) => (f, O_DIRECT != 0),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => (open(0)?, false),
            Err(e) => return Err(e),
        };
        let buf = vec![0u8; WRITE_SIZE + ALIGN];
        let at = buf.as_ptr().align_offset(ALIGN);
        Ok(DirectWriter {
            file,
            buf,
            at,
            filled: 0,
            written: 0,
            direct,
        })
    }

    /// Writes the gathered bytes, zero-padded to `ALIGN` when direct.
    fn flush_buf(&mut self) -> std::io::Result<()> {
        let len = if self.direct {
            self.filled.next_multiple_of(ALIGN)
        } else {
            self.filled
        };
        self.buf[self.at + self.filled..self.at + len].fill(0);
        let block = &self.buf[self.at..self.at + len];
        match self.file.write_all(block) {
            Err(e)
                if self.direct && e.raw_os_error() == Some(libc::EINVAL) && self.written == 0 =>
            {
                // Accepted at open, refused at write: go through the page cache instead.
                self.direct = false;
                clear_direct(&self.file)?;
                self.file
                    .write_all(&self.buf[self.at..self.at + self.filled])?;
            }
            r => r?,
        }
        self.written += self.filled as u64;
        self.filled = 0;
        Ok(())
    }

    /// Writes what is left and cuts the padding off; the caller syncs.
    fn finish(mut self) -> std::io::Result<std::fs::File> {
        if self.filled > 0 {
            self.flush_buf()?;
        }
        if self.direct {
            self.file.set_len(self.written)?;
        }
        Ok(self.file)
    }
}

impl Write for DirectWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(WRITE_SIZE - self.filled);
        let start = self.at + self.filled;
        self.buf[start..start + n].copy_from_slice(&data[..n]);
        self.filled += n;
        if self.filled == WRITE_SIZE {
            self.flush_buf()?;
        }
        Ok(n)
    }

    /// Nothing: a direct write must be whole aligned blocks, so the tail waits for `finish`.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(target_os = "linux")]
const O_DIRECT: i32 = libc::O_DIRECT;
#[cfg(not(target_os = "linux"))]
const O_DIRECT: i32 = 0;

/// Turns O_DIRECT off on an open file.
fn clear_direct(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function borrows; F_GETFL/F_SETFL touch only flags.
    let ok = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags & !O_DIRECT) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A writer that keeps the crc32c and length of what passes through it.
struct Checksummed<W> {
    inner: W,
    crc: u32,
    len: u64,
}

impl<W: Write> Write for Checksummed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A verified snapshot file, mapped into memory: its pages are the page cache's, so loading a
/// snapshot of hundreds of megabytes neither copies it nor touches as much fresh memory.
pub struct Payload(memmap2::Mmap);

impl std::ops::Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0[8..self.0.len() - 4]
    }
}

/// Reads and verifies a snapshot's payload.
///
/// # Errors
/// Unreadable, wrong magic or version, or a checksum mismatch.
pub fn read(dir: &Path, id: SnapshotId) -> Result<Payload, StorageError> {
    let path = path_of(dir, id);
    let err = |op| {
        let p = path.clone();
        move |e| StorageError::new(Subject::Snapshot(p), op, e)
    };
    let file = std::fs::File::open(&path).map_err(err(Op::Read))?;
    if file.metadata().map_err(err(Op::Read))?.len() < 12 {
        return Err(StorageError::corrupt(Subject::Snapshot(path), "bad header"));
    }
    // SAFETY: snapshot files are written under a temporary name and renamed into place, never
    // changed afterwards (a purge may unlink one, which leaves the mapping intact).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(err(Op::Read))?;
    let _ = map.advise(memmap2::Advice::Sequential);
    if &map[..4] != MAGIC || map[4..8] != VERSION.to_be_bytes() {
        return Err(StorageError::corrupt(Subject::Snapshot(path), "bad header"));
    }
    let payload = Payload(map);
    let crc = &payload.0[payload.0.len() - 4..];
    if crc32c::crc32c(&payload).to_be_bytes() != crc {
        return Err(StorageError::corrupt(
            Subject::Snapshot(path),
            "checksum mismatch",
        ));
    }
    Ok(payload)
}

/// Removes what a crash left of snapshots being written (`snapshot-*.tmp`), returning how many:
/// each is up to a whole snapshot's size and is never read. Call before any snapshot is written
/// (at start-up), since a write in progress looks the same.
pub fn remove_partial(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("snapshot-") && name.ends_with(".tmp")
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// Removes all but the `keep` newest snapshots.
pub fn retain(dir: &Path, keep: usize) {
    for id in list(dir).into_iter().skip(keep.max(1)) {
        let _ = std::fs::remove_file(path_of(dir, id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_snapshots_are_removed_and_whole_ones_kept() {
        let d = std::env::temp_dir().join(format!("rzk-snap-partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let id = |index| SnapshotId { term: 1, index };
        write(&d, id(5), b"whole").unwrap();
        let partial = path_of(&d, id(9)).with_extension("tmp");
        std::fs::write(&partial, b"RZKS").unwrap();
        std::fs::write(d.join("unrelated.tmp"), b"").unwrap();
        assert_eq!(list(&d), [id(5)], "a partial snapshot is never listed");
        assert_eq!(remove_partial(&d), 1);
        assert!(!partial.exists() && d.join("unrelated.tmp").exists());
        assert_eq!(&*read(&d, id(5)).unwrap(), b"whole");
        assert_eq!(remove_partial(&d), 0);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn payloads_of_any_length_round_trip() {
        let d = std::env::temp_dir().join(format!("rzk-snap-len-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for (i, len) in [
            0,
            1,
            ALIGN - 12,
            ALIGN - 11,
            WRITE_SIZE - 8,
            WRITE_SIZE + 3 * ALIGN + 5,
        ]
        .into_iter()
        .enumerate()
        {
            let payload: Vec<u8> = (0..len).map(|k| (k * 7 + i) as u8).collect();
            let id = SnapshotId {
                term: 1,
                index: i as u64,
            };
            // Streamed in uneven pieces, as the encoder does.
            let (path, n) = write_with(&d, id, |w| {
                for piece in payload.chunks(1_000_003) {
                    w.write_all(piece)?;
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(n, len as u64);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), len as u64 + 12);
            assert_eq!(&*read(&d, id).unwrap(), &payload[..], "{len} bytes");
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_refused_direct_write_goes_through_the_page_cache() {
        let d = std::env::temp_dir().join(format!("rzk-snap-einval-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("f");
        let mut w = DirectWriter::create(&p).unwrap();
        // A misaligned buffer is what a filesystem that takes the flag but not the write sees.
        w.at += 1;
        let data: Vec<u8> = (0..WRITE_SIZE + 100).map(|k| k as u8).collect();
        w.write_all(&data).unwrap();
        assert!(!w.direct || O_DIRECT == 0);
        w.finish().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), data);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn newest_valid_wins_and_corruption_is_detected() {
        let d = std::env::temp_dir().join(format!("rzk-snap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let a = SnapshotId { term: 1, index: 10 };
        let b = SnapshotId { term: 2, index: 20 };
        write(&d, a, b"old").unwrap();
        write(&d, b, b"new").unwrap();
        assert_eq!(list(&d), vec![b, a]);
        assert_eq!(&*read(&d, b).unwrap(), b"new");
        let p = path_of(&d, b);
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[9] ^= 1;
        std::fs::write(&p, bytes).unwrap();
        assert!(read(&d, b).is_err());
        assert_eq!(&*read(&d, a).unwrap(), b"old");
        retain(&d, 1);
        assert_eq!(list(&d), vec![b]);
    }
}
