//! Session passwords exactly as ZooKeeper makes them: `java.util.Random(sessionId ^ 0xB3415C00)`
//! then `nextBytes(16)` (zk-protocol-reference.md §7.2), so that sessions issued by a Java
//! server keep working after a migration.

const MULTIPLIER: i64 = 0x5DEECE66D;
const MASK: i64 = (1 << 48) - 1;

/// java.util.Random's 48-bit linear congruential generator.
struct JavaRandom(i64);

impl JavaRandom {
    fn new(seed: i64) -> JavaRandom {
        JavaRandom((seed ^ MULTIPLIER) & MASK)
    }

    fn next_int(&mut self) -> i32 {
        self.0 = (self.0.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        (self.0 >> 16) as i32
    }

    fn next_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(4) {
            let mut r = self.next_int();
            for b in chunk {
                *b = r as u8;
                r >>= 8;
            }
        }
    }
}

/// The 16-byte password of a session.
pub fn for_session(session_id: i64) -> [u8; 16] {
    let mut out = [0u8; 16];
    JavaRandom::new(session_id ^ 0xB341_5C00).next_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_util_random() {
        // new java.util.Random(42).nextInt() == -1170105035 (a well-known value).
        assert_eq!(JavaRandom::new(42).next_int(), -1170105035);
        let mut r = JavaRandom::new(42);
        let mut b = [0u8; 4];
        r.next_bytes(&mut b);
        assert_eq!(i32::from_le_bytes(b), -1170105035);
    }
}
