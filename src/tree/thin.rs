//! Byte and string buffers behind one thin pointer, their length in front of their bytes.
//!
//! Why: a znode's entry holds its path and its value; as `Box<str>` and `Box<[u8]>` each is a
//! 16-byte fat pointer, and the two together took the entry from 96 to 112 bytes, i.e. with
//! its reference counts into mimalloc's 128-byte class instead of the 112-byte one (16 bytes a
//! znode). The 4-byte length moves into the allocation, where it costs nothing for the usual
//! sizes (a 100-byte value is a 112-byte block either way, a path of up to 20 bytes a 24-byte
//! one).

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// An immutable byte buffer of at most `u32::MAX` bytes, 8 bytes wide (and `Option` of it too).
pub struct ThinBytes(NonNull<u8>);

// SAFETY: ThinBytes owns its allocation and hands out only shared access to it, as Box<[u8]>.
unsafe impl Send for ThinBytes {}
// SAFETY: as above; no interior mutability.
unsafe impl Sync for ThinBytes {}

const HEADER: usize = std::mem::size_of::<u32>();

fn layout(len: usize) -> Layout {
    Layout::from_size_align(HEADER + len, std::mem::align_of::<u32>()).expect("buffer size")
}

impl ThinBytes {
    /// Copies `bytes`.
    ///
    /// # Panics
    /// Past 4 GiB (a znode value is bounded by jute.maxbuffer far below that).
    pub fn new(bytes: &[u8]) -> ThinBytes {
        let len = u32::try_from(bytes.len()).expect("buffer over 4 GiB");
        let layout = layout(bytes.len());
        // SAFETY: the layout is never zero-sized (it holds the header); the header is written
        // at the allocation's start, which is aligned for u32, and the bytes after it fit the
        // size asked for.
        unsafe {
            let p = alloc::alloc(layout);
            let Some(p) = NonNull::new(p) else {
                alloc::handle_alloc_error(layout)
            };
            p.as_ptr().cast::<u32>().write(len);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.as_ptr().add(HEADER), bytes.len());
            ThinBytes(p)
        }
    }

    pub fn len(&self) -> usize {
        // SAFETY: written by `new` and never changed.
        unsafe { self.0.as_ptr().cast::<u32>().read() as usize }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `new` copied `len` bytes right after the header; they live as long as self.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().add(HEADER), self.len()) }
    }
}

impl Drop for ThinBytes {
    fn drop(&mut self) {
        // SAFETY: allocated by `new` with this very layout.
        unsafe { alloc::dealloc(self.0.as_ptr(), layout(self.len())) }
    }
}

impl std::ops::Deref for ThinBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for ThinBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Clone for ThinBytes {
    fn clone(&self) -> ThinBytes {
        ThinBytes::new(self)
    }
}

impl PartialEq for ThinBytes {
    fn eq(&self, other: &ThinBytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for ThinBytes {}

impl std::fmt::Debug for ThinBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl Default for ThinBytes {
    fn default() -> ThinBytes {
        ThinBytes::new(&[])
    }
}

impl From<&[u8]> for ThinBytes {
    fn from(bytes: &[u8]) -> ThinBytes {
        ThinBytes::new(bytes)
    }
}

impl From<Vec<u8>> for ThinBytes {
    fn from(bytes: Vec<u8>) -> ThinBytes {
        ThinBytes::new(&bytes)
    }
}

/// An immutable string behind one thin pointer.
#[derive(Clone, PartialEq, Eq)]
pub struct ThinStr(ThinBytes);

impl ThinStr {
    pub fn as_str(&self) -> &str {
        // SAFETY: only ever built from a &str.
        unsafe { std::str::from_utf8_unchecked(self.0.as_slice()) }
    }
}

impl From<&str> for ThinStr {
    fn from(s: &str) -> ThinStr {
        ThinStr(ThinBytes::new(s.as_bytes()))
    }
}

impl std::ops::Deref for ThinStr {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for ThinStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for ThinStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_of_any_length_round_trip_and_stay_thin() {
        assert_eq!(std::mem::size_of::<ThinBytes>(), 8);
        assert_eq!(std::mem::size_of::<Option<ThinBytes>>(), 8);
        assert_eq!(std::mem::size_of::<ThinStr>(), 8);
        for len in [0usize, 1, 3, 4, 5, 100, 4096, 1 << 20] {
            let v: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let t = ThinBytes::from(&v[..]);
            assert_eq!(t.len(), len);
            assert_eq!(t.is_empty(), len == 0);
            assert_eq!(&*t, &v[..]);
            let c = t.clone();
            drop(t);
            assert_eq!(c.as_slice(), &v[..]);
            assert_eq!(c, ThinBytes::from(v));
        }
        let s = ThinStr::from("/a/ünïcode");
        assert_eq!(&*s, "/a/ünïcode");
        assert_eq!(s.clone(), s);
        assert_eq!(format!("{s} {s:?}"), "/a/ünïcode \"/a/ünïcode\"");
        assert_ne!(ThinStr::from("/a"), ThinStr::from("/b"));
    }
}
