//! Cache-line prefetches for walks over every node (a snapshot's encoding). A walk goes by the
//! child tables, whose order is not the records' order in the arena, so it waits on a cache
//! miss for each record unless it asks for the lines of the records a few steps ahead (a
//! snapshot's walk during a create load: a quarter of the server's core in the record reads
//! without).

/// How many nodes ahead of the one being handled their memory is asked for.
pub const AHEAD: usize = 16;

/// Asks for the `lines` cache lines from `p` (64 bytes each); a hint, never a fault.
#[inline(always)]
pub fn lines<T: ?Sized>(p: *const T, lines: usize) {
    #[cfg(target_arch = "x86_64")]
    for k in 0..lines {
        let at = p.cast::<i8>().wrapping_add(k * 64);
        // SAFETY: a prefetch reads nothing architecturally and does not fault, whatever the
        // address; SSE is part of the x86_64 baseline.
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(at) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, lines);
}
