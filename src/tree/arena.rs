//! Where node records live: packed end to end in 256 KiB chunks, each record named by a 32-bit
//! [`Handle`] (its chunk and its offset in 4-byte units), records too large for a chunk held
//! alone.
//!
//! Why: one allocation per znode costs the allocator's rounding to its size class, a header the
//! allocator cannot use for anything else, and the fragmentation a churning tree leaves behind;
//! a 64-bit pointer per child in the parent's table costs twice a handle. Records here are never
//! changed once written: a write appends a new record and the old one becomes garbage, counted
//! per chunk, so that a chunk mostly garbage can be compacted (its live records copied out by
//! `node_map`, which knows where each one is referenced) and freed. A snapshot's view holds the
//! chunks it reads (`Arc`), so compaction and freeing never pull bytes from under it.
//!
//! Concurrency: only the owner of `&mut Arena` writes, and only past what any reader has been
//! given; readers (the map's own `&self` borrows, and views on other threads taken under the
//! tree's lock) read only records written before they got hold of them. No slice ever spans
//! bytes another thread may write: records are read through raw pointers, and slices are made
//! of a record's own fields only.

use std::alloc::{self, Layout};
use std::ptr::NonNull;
use std::sync::Arc;

/// A record's address.
pub type Handle = u32;

/// The top bit marks a record held alone (the rest is its index in `bigs`).
const BIG: u32 = 1 << 31;
const OFFSET_BITS: u32 = 16;
const UNIT: usize = 4;
/// Bytes per chunk.
pub const CHUNK_BYTES: usize = (1 << OFFSET_BITS) * UNIT;
/// Chunk ids fit in the 15 bits left: 8 GiB of chunked records.
const MAX_CHUNKS: usize = 1 << 15;
/// Records larger than this are held alone, so that a chunk's unused tail stays small.
pub const INLINE_MAX: usize = 16 << 10;
/// A chunk whose live bytes fall under this is compacted.
const COMPACT_BELOW: u32 = (CHUNK_BYTES / 2) as u32;

/// What a chunk's records store their zxids and times relative to (its first record's): the
/// records of one chunk were mostly written within moments of each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Base {
    pub zxid: i64,
    pub time: i64,
}

/// One chunk's memory.
pub struct Chunk {
    ptr: NonNull<u8>,
    base: Base,
}

// SAFETY: the memory is plain bytes owned by the chunk; writes follow the rules in the module
// doc (only past what readers were given, by the one `&mut Arena`).
unsafe impl Send for Chunk {}
// SAFETY: as above.
unsafe impl Sync for Chunk {}

fn chunk_layout() -> Layout {
    Layout::from_size_align(CHUNK_BYTES, 8).expect("chunk layout")
}

impl Chunk {
    fn new(base: Base) -> Chunk {
        let layout = chunk_layout();
        // SAFETY: the layout is not zero-sized.
        let p = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(p) else {
            alloc::handle_alloc_error(layout)
        };
        Chunk { ptr, base }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // SAFETY: allocated in `Chunk::new` with this layout.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), chunk_layout()) }
    }
}

/// A record's first byte and the base its stat is relative to. The pointer stays valid while
/// the `Arena` or `Frozen` it came from is borrowed.
#[derive(Clone, Copy)]
pub struct At {
    pub ptr: *const u8,
    pub base: Base,
}

/// The chunks and lone records at one moment, for reading without the arena (a snapshot's
/// view).
#[derive(Clone, Default)]
pub struct Frozen {
    chunks: Vec<Option<Arc<Chunk>>>,
    bigs: Vec<Option<Arc<[u8]>>>,
}

fn locate(chunks: &[Option<Arc<Chunk>>], bigs: &[Option<Arc<[u8]>>], h: Handle) -> At {
    if h & BIG != 0 {
        let b = bigs[(h & !BIG) as usize]
            .as_ref()
            .expect("handle of a live record");
        At {
            ptr: b.as_ptr(),
            base: Base::default(),
        }
    } else {
        let c = chunks[(h >> OFFSET_BITS) as usize]
            .as_ref()
            .expect("handle of a live chunk");
        let off = (h as usize & ((1 << OFFSET_BITS) - 1)) * UNIT;
        // SAFETY: the offset is inside the chunk (a handle is only made for a written record).
        At {
            ptr: unsafe { c.ptr.as_ptr().add(off) },
            base: c.base,
        }
    }
}

impl Frozen {
    pub fn at(&self, h: Handle) -> At {
        locate(&self.chunks, &self.bigs, h)
    }
}

/// Stores `v` in a free slot of `slots` (one `free` names) or a new one; returns its index.
pub fn fill_slot<T>(slots: &mut Vec<Option<T>>, free: &mut Vec<u32>, v: T) -> u32 {
    match free.pop() {
        Some(i) => {
            slots[i as usize] = Some(v);
            i
        }
        None => {
            slots.push(Some(v));
            (slots.len() - 1) as u32
        }
    }
}

/// The chunk records are appended to.
#[derive(Clone, Copy)]
struct Current {
    id: usize,
    used: usize,
}

/// Every record.
#[derive(Default)]
pub struct Arena {
    chunks: Vec<Option<Arc<Chunk>>>,
    /// Per chunk: bytes of live records, and bytes written.
    live: Vec<u32>,
    used: Vec<u32>,
    free_chunks: Vec<usize>,
    current: Option<Current>,
    bigs: Vec<Option<Arc<[u8]>>>,
    free_bigs: Vec<u32>,
    /// Chunks to compact.
    low: Vec<usize>,
}

impl Arena {
    pub fn at(&self, h: Handle) -> At {
        locate(&self.chunks, &self.bigs, h)
    }

    /// The base records appended to the current chunk are encoded against.
    pub fn current_base(&self) -> Option<Base> {
        self.current
            .map(|c| self.chunks[c.id].as_ref().expect("current chunk").base)
    }

    /// Whether a record of `len` bytes fits in the current chunk.
    pub fn fits(&self, len: usize) -> bool {
        self.current.is_some_and(|c| c.used + len <= CHUNK_BYTES)
    }

    /// Whether `id` is the chunk records are appended to.
    pub fn is_current(&self, id: usize) -> bool {
        self.current.is_some_and(|c| c.id == id)
    }

    /// Stores a record alone.
    ///
    /// # Panics
    /// With 2^31 records held alone.
    pub fn put_alone(&mut self, bytes: &[u8]) -> Handle {
        let i = fill_slot(&mut self.bigs, &mut self.free_bigs, Arc::from(bytes));
        assert!(i < BIG, "too many large znodes");
        i | BIG
    }

    /// Appends a record that [`Arena::fits`] to the current chunk.
    pub fn put_current(&mut self, bytes: &[u8]) -> Handle {
        self.append(bytes)
    }

    /// Starts a new chunk with `base` (the record's own, which it was encoded against) and
    /// appends the record to it.
    ///
    /// # Panics
    /// When 8 GiB of chunks are in use.
    pub fn put_new_chunk(&mut self, bytes: &[u8], base: Base) -> Handle {
        self.retire_current();
        let id = match self.free_chunks.pop() {
            Some(id) => {
                self.chunks[id] = Some(Arc::new(Chunk::new(base)));
                id
            }
            None => {
                assert!(self.chunks.len() < MAX_CHUNKS, "znode store full (8 GiB)");
                self.chunks.push(Some(Arc::new(Chunk::new(base))));
                self.live.push(0);
                self.used.push(0);
                self.chunks.len() - 1
            }
        };
        self.live[id] = 0;
        self.used[id] = 0;
        self.current = Some(Current { id, used: 0 });
        self.append(bytes)
    }

    fn append(&mut self, bytes: &[u8]) -> Handle {
        let cur = self.current.as_mut().expect("a current chunk");
        let chunk = self.chunks[cur.id].as_ref().expect("current chunk");
        debug_assert!(cur.used + bytes.len() <= CHUNK_BYTES);
        // SAFETY: the range is inside the chunk and past every record written so far, so no
        // reader holds it.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                chunk.ptr.as_ptr().add(cur.used),
                bytes.len(),
            );
        }
        let h = ((cur.id as u32) << OFFSET_BITS) | (cur.used / UNIT) as u32;
        let padded = bytes.len().next_multiple_of(UNIT);
        cur.used += padded;
        self.used[cur.id] = cur.used as u32;
        self.live[cur.id] += padded as u32;
        h
    }

    /// Stops appending to the current chunk (frees it if nothing in it is live).
    fn retire_current(&mut self) {
        if let Some(c) = self.current.take() {
            if self.live[c.id] == 0 {
                self.free_chunk(c.id);
            } else {
                self.note_low(c.id);
            }
        }
    }

    /// Queues chunk `id` for compaction if it is mostly garbage.
    fn note_low(&mut self, id: usize) {
        if self.live[id] < COMPACT_BELOW && !self.low.contains(&id) {
            self.low.push(id);
        }
    }

    /// The chunks queued for compaction since the last call.
    pub fn take_low(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.low)
    }

    fn free_chunk(&mut self, id: usize) {
        self.chunks[id] = None;
        self.live[id] = 0;
        self.used[id] = 0;
        self.free_chunks.push(id);
    }

    /// Marks a record of `len` bytes garbage; a chunk left mostly garbage is queued for
    /// compaction ([`Arena::take_low`]), one left empty is freed.
    pub fn kill(&mut self, h: Handle, len: usize) {
        if h & BIG != 0 {
            let i = h & !BIG;
            self.bigs[i as usize] = None;
            self.free_bigs.push(i);
            return;
        }
        let id = (h >> OFFSET_BITS) as usize;
        self.live[id] -= len.next_multiple_of(UNIT) as u32;
        if self.is_current(id) {
            return;
        }
        if self.live[id] == 0 {
            self.free_chunk(id);
        } else {
            self.note_low(id);
        }
    }

    /// The handles of chunk `id`'s records (live and dead), given each record's length.
    pub fn records(&self, id: usize, len_of: impl Fn(At) -> usize) -> Vec<Handle> {
        let mut out = Vec::new();
        let mut off = 0usize;
        let used = self.used[id] as usize;
        while off < used {
            let h = ((id as u32) << OFFSET_BITS) | (off / UNIT) as u32;
            out.push(h);
            off += len_of(self.at(h)).next_multiple_of(UNIT);
        }
        out
    }

    /// Whether chunk `id` is still allocated.
    pub fn has_chunk(&self, id: usize) -> bool {
        self.chunks.get(id).is_some_and(Option::is_some)
    }

    pub fn freeze(&self) -> Frozen {
        Frozen {
            chunks: self.chunks.clone(),
            bigs: self.bigs.clone(),
        }
    }

    /// Bytes held in chunks and lone records (live or not).
    pub fn footprint(&self) -> usize {
        let chunks = self.chunks.iter().flatten().count() * CHUNK_BYTES;
        chunks + self.bigs.iter().flatten().map(|b| b.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_counted_per_chunk_and_mostly_dead_chunks_are_queued_or_freed() {
        let mut a = Arena::default();
        let base = Base::default();
        let rec = [7u8; 998];
        let mut hs = vec![a.put_new_chunk(&rec, base)];
        while a.fits(rec.len()) {
            hs.push(a.put_current(&rec));
        }
        assert_eq!(a.records(0, |_| rec.len()), hs);
        // The chunk being filled is never queued, however much of it dies.
        let most = hs.len() * 3 / 4;
        for &h in &hs[..most] {
            a.kill(h, rec.len());
        }
        assert!(a.take_low().is_empty());
        // Once another chunk takes over, it is.
        let next = a.put_new_chunk(&rec, Base { zxid: 5, time: 6 });
        assert_eq!(a.at(next).base, Base { zxid: 5, time: 6 });
        assert_eq!(a.take_low(), [0]);
        // A view keeps a chunk's bytes after the arena frees it; the id is used again.
        let view = a.freeze();
        for &h in &hs[most..] {
            a.kill(h, rec.len());
        }
        assert!(!a.has_chunk(0));
        // SAFETY: the view holds the chunk, and the record is 998 bytes long.
        let kept = unsafe { std::slice::from_raw_parts(view.at(hs[0]).ptr, rec.len()) };
        assert_eq!(kept, rec);
        let again = a.put_new_chunk(&rec, base);
        assert_eq!(again, 0, "chunk 0, offset 0");
        // Records over the inline limit are held alone.
        let big = vec![1u8; INLINE_MAX + 1];
        let h = a.put_alone(&big);
        assert_ne!(h & BIG, 0);
        // SAFETY: the record is `big.len()` bytes.
        let back = unsafe { std::slice::from_raw_parts(a.at(h).ptr, big.len()) };
        assert_eq!(back, &big[..]);
        a.kill(h, big.len());
        assert_eq!(a.put_alone(b"x"), h, "the slot is used again");
    }
}
