//! Small durable values (the Raft vote, the commit point): written to a temp file, fsynced,
//! renamed over the old one, directory fsynced. Content: `u32 crc32c | payload`.

use super::{sync_dir, Op, StorageError, Subject};
use std::io::Write;
use std::path::Path;

/// Durably replaces `path` with `payload`.
///
/// # Errors
/// Any I/O failure; the caller must stop the node.
pub fn write(path: &Path, payload: &[u8]) -> Result<(), StorageError> {
    let tmp = path.with_extension("tmp");
    let err = |op| move |e| StorageError::new(Subject::Meta(path.to_path_buf()), op, e);
    let mut f = std::fs::File::create(&tmp).map_err(err(Op::Open))?;
    f.write_all(&crc32c::crc32c(payload).to_be_bytes())
        .map_err(err(Op::Write))?;
    f.write_all(payload).map_err(err(Op::Write))?;
    f.sync_all().map_err(err(Op::Sync))?;
    std::fs::rename(&tmp, path).map_err(err(Op::Rename))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Reads a value written by [`write`]; `None` if the file does not exist.
///
/// # Errors
/// The file is unreadable or its checksum does not match.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>, StorageError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StorageError::new(
                Subject::Meta(path.to_path_buf()),
                Op::Read,
                e,
            ))
        }
    };
    if bytes.len() < 4 || crc32c::crc32c(&bytes[4..]).to_be_bytes() != bytes[..4] {
        return Err(StorageError::corrupt(
            Subject::Meta(path.to_path_buf()),
            "checksum mismatch",
        ));
    }
    Ok(Some(bytes[4..].to_vec()))
}
