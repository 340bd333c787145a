//! The server's allocator: mimalloc, asked for a plain block whenever the alignment wanted is
//! 8 bytes or less.
//!
//! Why: the `mimalloc` crate hands every request to `mi_malloc_aligned`, and mimalloc 3 serves
//! an aligned request from its size class only when that class's current page has a free block
//! ready; otherwise, unless the class is a power of two, it over-allocates by the alignment,
//! which lands the block in the next class up: a throw-away program allocating a million
//! 156-byte blocks at 8-byte alignment got 192 bytes each (160 from `mi_malloc`), and a server
//! holding a million packed znodes of 156 bytes took 252 bytes of RSS per znode, 221 with this
//! allocator (see the test, which reads `mi_usable_size`). Every mimalloc block is a whole
//! number of words from a 16-byte aligned start, so 8-byte alignment comes with any block; the
//! address is still checked, and one that is not aligned enough is allocated again the aligned
//! way.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// mimalloc as the global allocator (installed by the binary: `#[global_allocator]`).
pub struct Mimalloc;

/// The largest alignment a plain mimalloc block always has.
const PLAIN_ALIGN: usize = 8;

fn aligned(p: *mut c_void, align: usize) -> bool {
    (p as usize) & (align - 1) == 0
}

/// A plain block when that is aligned enough, else an aligned one (`plain`/`aligned`: mimalloc's
/// allocating or zeroing pair).
///
/// # Safety
/// As `GlobalAlloc::alloc`.
unsafe fn allocate(
    layout: Layout,
    plain: unsafe extern "C" fn(usize) -> *mut c_void,
    aligned_fn: unsafe extern "C" fn(usize, usize) -> *mut c_void,
) -> *mut u8 {
    if layout.align() <= PLAIN_ALIGN {
        let p = plain(layout.size());
        if aligned(p, layout.align()) {
            return p.cast();
        }
        mi::mi_free(p);
    }
    aligned_fn(layout.size(), layout.align()).cast()
}

// SAFETY: every block comes from mimalloc with at least the layout's size and alignment (checked
// above 8 bytes or asked for explicitly), and is freed or resized by mimalloc.
unsafe impl GlobalAlloc for Mimalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        allocate(layout, mi::mi_malloc, mi::mi_malloc_aligned)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        allocate(layout, mi::mi_zalloc, mi::mi_zalloc_aligned)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi::mi_free(ptr.cast());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() > PLAIN_ALIGN {
            return mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast();
        }
        let p = mi::mi_realloc(ptr.cast(), new_size);
        if aligned(p, layout.align()) {
            return p.cast();
        }
        // The old block is gone and its bytes are in `p`: move them to an aligned block.
        let q = mi::mi_malloc_aligned(new_size, layout.align());
        if !q.is_null() {
            std::ptr::copy_nonoverlapping(p.cast::<u8>(), q.cast::<u8>(), new_size);
        }
        mi::mi_free(p);
        q.cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block mimalloc hands out for `size` bytes at 8-byte alignment, once a page of that
    /// class has been used up (the case the `mimalloc` crate got wrong).
    fn block_size(size: usize) -> usize {
        let layout = Layout::from_size_align(size, 8).unwrap();
        let blocks: Vec<*mut u8> = (0..20_000)
            .map(|_| unsafe { Mimalloc.alloc(layout) })
            .collect();
        let most = blocks
            .iter()
            .map(|p| unsafe { mi::mi_usable_size(p.cast()) })
            .max()
            .unwrap();
        for p in blocks {
            assert!(aligned(p.cast(), 8));
            unsafe { Mimalloc.dealloc(p, layout) };
        }
        most
    }

    #[test]
    fn an_8_byte_aligned_block_stays_in_its_size_class() {
        assert_eq!(block_size(156), 160);
        assert_eq!(block_size(112), 112);
        assert_eq!(block_size(104), 112);
    }

    #[test]
    fn every_alignment_is_honoured_and_realloc_keeps_the_bytes() {
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in [1, 7, 24, 100, 156, 1000, 70_000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let p = Mimalloc.alloc(layout);
                    assert!(aligned(p.cast(), align), "{size}/{align}");
                    p.write_bytes(0xAB, size);
                    let q = Mimalloc.realloc(p, layout, size * 3);
                    assert!(aligned(q.cast(), align), "realloc {size}/{align}");
                    assert!((0..size).all(|i| *q.add(i) == 0xAB));
                    Mimalloc.dealloc(q, Layout::from_size_align(size * 3, align).unwrap());
                    let z = Mimalloc.alloc_zeroed(layout);
                    assert!(aligned(z.cast(), align));
                    assert!((0..size).all(|i| *z.add(i) == 0));
                    Mimalloc.dealloc(z, layout);
                }
            }
        }
    }
}
