//! TCP sequence-number comparisons modulo 2^32 (RFC 793 / 1982 serial arithmetic).
//!
//! Not a newtype: segment facts arrive as plain `u32` and every comparison goes through these.

/// `a` is before `b` in sequence space.
#[inline]
pub fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `a` is before or equal to `b`.
#[inline]
pub fn seq_le(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}

/// `a` is after `b`.
#[inline]
pub fn seq_gt(a: u32, b: u32) -> bool {
    seq_lt(b, a)
}

/// `a` is after or equal to `b`.
#[inline]
pub fn seq_ge(a: u32, b: u32) -> bool {
    seq_le(b, a)
}

/// The later of two sequence numbers.
#[inline]
pub(crate) fn seq_max(a: u32, b: u32) -> u32 {
    if seq_gt(a, b) {
        a
    } else {
        b
    }
}

/// The earlier of two sequence numbers.
#[inline]
pub(crate) fn seq_min(a: u32, b: u32) -> u32 {
    if seq_lt(a, b) {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_around_two_to_the_32() {
        assert!(seq_lt(u32::MAX - 10, 5));
        assert!(seq_gt(5, u32::MAX - 10));
        assert!(seq_le(7, 7) && seq_ge(7, 7));
        assert_eq!(seq_max(u32::MAX, 3), 3);
        assert_eq!(seq_min(u32::MAX, 3), u32::MAX);
    }
}
