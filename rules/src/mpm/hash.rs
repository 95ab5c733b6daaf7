//! The `hash` back end: a pure-Rust filter-and-verify matcher in the spirit of Hyperscan's FDR.
//!
//! Every pattern of 4+ bytes is represented by one 4-byte *window* of it (the one made of the
//! rarest bytes by a fixed web-traffic byte ranking); short patterns by their first one or two
//! bytes. Bytes are *folded* (`b | 0x20`, which maps both ASCII cases of a letter together and
//! merges some punctuation pairs: coarser than case folding, so still sound). The scan reads
//! one folded 32-bit word per haystack position and tests a hash of it in a bitset sized to fit
//! L1/L2; only on a set bit does it look the word up in an exact table and compare the
//! candidate patterns' bytes (exactly, or ASCII case-insensitively for nocase). Nothing depends
//! on the previous position, so the loop runs at the CPU's throughput rather than at the
//! latency of a state-transition chain as an automaton does.
//!
//! Not here: choosing when to use it ([`super::MpmKind::resolve`]).

use super::{
    check_patterns, MpmError, MpmInput, MpmKind, MpmPattern, MpmScratch, MultiPatternMatcher,
};

const FOLD4: u32 = 0x2020_2020;
const WINDOW: usize = 4;

/// How common a byte is in web traffic (higher = more common); windows minimise the sum.
pub(super) fn commonness(b: u8) -> u32 {
    match b.to_ascii_lowercase() {
        b' ' | b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' => 9,
        b'h' | b'l' | b'd' | b'c' | b'u' | b'm' | b'p' | b'/' | b'.' | b'=' => 7,
        b'f' | b'g' | b'w' | b'y' | b'b' | b'v' | b'k' | b'-' | b':' | b'"' | b'<' | b'>' => 6,
        b'\r' | b'\n' | b'&' | b'?' | b',' | b';' | b'_' | b'0'..=b'9' => 5,
        b'x' | b'j' | b'q' | b'z' | b'(' | b')' | b'\'' | b'%' | b'\t' | b'#' | b'+' => 3,
        0 => 3,
        0x21..=0x7e => 2,
        _ => 1,
    }
}

fn fold(b: u8) -> u8 {
    b | 0x20
}

/// An open-addressing map from a key to a range of `entries`.
#[derive(Debug, Default)]
struct Table {
    /// (key, start, end); key `u64::MAX` marks an empty slot.
    slots: Vec<(u64, u32, u32)>,
    shift: u32,
}

impl Table {
    fn build(mut keyed: Vec<(u64, Entry)>) -> (Table, Vec<Entry>) {
        keyed.sort_unstable_by_key(|(k, e)| (*k, e.pattern));
        let distinct = keyed.windows(2).filter(|w| w[0].0 != w[1].0).count() + 1;
        let capacity = (distinct * 2).next_power_of_two().max(16);
        let mut table = Table {
            slots: vec![(u64::MAX, 0, 0); capacity],
            shift: 64 - capacity.trailing_zeros(),
        };
        let mut entries = Vec::with_capacity(keyed.len());
        let mut i = 0;
        while i < keyed.len() {
            let key = keyed[i].0;
            let start = entries.len() as u32;
            while i < keyed.len() && keyed[i].0 == key {
                entries.push(keyed[i].1);
                i += 1;
            }
            let mut slot = table.slot(key);
            while table.slots[slot].0 != u64::MAX {
                slot = (slot + 1) & (capacity - 1);
            }
            table.slots[slot] = (key, start, entries.len() as u32);
        }
        (table, entries)
    }

    fn slot(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    #[inline]
    fn get(&self, key: u64) -> Option<(usize, usize)> {
        let mask = self.slots.len() - 1;
        let mut slot = self.slot(key);
        loop {
            let (k, start, end) = self.slots[slot];
            if k == key {
                return Some((start as usize, end as usize));
            }
            if k == u64::MAX {
                return None;
            }
            slot = (slot + 1) & mask;
        }
    }

    fn memory_usage(&self) -> usize {
        self.slots.len() * std::mem::size_of::<(u64, u32, u32)>()
    }
}

/// A pattern to verify where its key was found `offset` bytes into it.
#[derive(Clone, Copy, Debug)]
struct Entry {
    pattern: u32,
    offset: u32,
}

/// Key tags: long windows, 2-byte prefixes, 1-byte patterns.
const TAG_PAIR: u64 = 1 << 40;
const TAG_SINGLE: u64 = 2 << 40;

#[derive(Debug)]
struct Pattern {
    bytes: Box<[u8]>,
    nocase: bool,
    id: u32,
}

/// The `hash` matcher.
#[derive(Debug)]
pub struct HashMatcher {
    patterns: Vec<Pattern>,
    /// Bitset over hashes of folded windows of the long patterns.
    window_bits: Vec<u64>,
    window_shift: u32,
    /// Bitset over folded 2-byte prefixes of 2-3 byte patterns, and every pair starting with
    /// the byte of a 1-byte pattern.
    pair_bits: Vec<u64>,
    has_short: bool,
    /// Bitset over folded single-byte patterns.
    single_bits: [u64; 4],
    has_long: bool,
    table: Table,
    entries: Vec<Entry>,
    max_len: usize,
}

#[inline]
fn test_bit(bits: &[u64], i: usize) -> bool {
    bits[i >> 6] & (1 << (i & 63)) != 0
}

fn set_bit(bits: &mut [u64], i: usize) {
    bits[i >> 6] |= 1 << (i & 63);
}

impl HashMatcher {
    pub fn build(patterns: &[MpmPattern<'_>]) -> Result<HashMatcher, MpmError> {
        check_patterns(patterns)?;
        let long_count = patterns.iter().filter(|p| p.bytes.len() >= WINDOW).count();
        // ~1/128 of the bits set: few false positives, and 2^18 bits (32 KiB) at most.
        let bits_log2 = (long_count * 128)
            .next_power_of_two()
            .trailing_zeros()
            .clamp(10, 18);
        let mut m = HashMatcher {
            patterns: Vec::with_capacity(patterns.len()),
            window_bits: vec![0; (1usize << bits_log2) / 64],
            window_shift: 32 - bits_log2,
            pair_bits: vec![0; 65536 / 64],
            single_bits: [0; 4],
            has_long: long_count > 0,
            has_short: false,
            table: Table::default(),
            entries: Vec::new(),
            max_len: patterns.iter().map(|p| p.bytes.len()).max().unwrap_or(0),
        };
        let mut keyed = Vec::with_capacity(patterns.len());
        for (index, p) in patterns.iter().enumerate() {
            let pattern = index as u32;
            let bytes = p.bytes;
            let key = match bytes.len() {
                1 => {
                    m.has_short = true;
                    let b0 = fold(bytes[0]);
                    set_bit(&mut m.single_bits, usize::from(b0));
                    for b1 in 0..=255u8 {
                        set_bit(&mut m.pair_bits, usize::from(u16::from_le_bytes([b0, b1])));
                    }
                    (TAG_SINGLE | u64::from(b0), 0)
                }
                2 | 3 => {
                    m.has_short = true;
                    let pair = u16::from_le_bytes([fold(bytes[0]), fold(bytes[1])]);
                    set_bit(&mut m.pair_bits, usize::from(pair));
                    (TAG_PAIR | u64::from(pair), 0)
                }
                _ => {
                    let offset = (0..=bytes.len() - WINDOW)
                        .min_by_key(|&o| {
                            bytes[o..o + WINDOW]
                                .iter()
                                .map(|&b| commonness(b))
                                .sum::<u32>()
                        })
                        .unwrap_or(0);
                    let word = window_word(&bytes[offset..offset + WINDOW]);
                    let h = m.window_hash(word);
                    set_bit(&mut m.window_bits, h);
                    (u64::from(word), offset)
                }
            };
            keyed.push((
                key.0,
                Entry {
                    pattern,
                    offset: key.1 as u32,
                },
            ));
            m.patterns.push(Pattern {
                bytes: bytes.into(),
                nocase: p.nocase,
                id: p.id,
            });
        }
        let (table, entries) = Table::build(keyed);
        m.table = table;
        m.entries = entries;
        Ok(m)
    }

    #[inline]
    fn window_hash(&self, folded: u32) -> usize {
        (folded.wrapping_mul(0x9e37_79b1) >> self.window_shift) as usize
    }

    /// Verify the candidates of `key` found at `at` and report the ones present.
    #[inline(never)]
    fn verify(&self, key: u64, at: usize, raw: &[u8], on_hit: &mut dyn FnMut(u32, usize)) {
        let Some((from, to)) = self.table.get(key) else {
            return;
        };
        for e in &self.entries[from..to] {
            let p = &self.patterns[e.pattern as usize];
            let Some(start) = at.checked_sub(e.offset as usize) else {
                continue;
            };
            let end = start + p.bytes.len();
            let Some(window) = raw.get(start..end) else {
                continue;
            };
            let present = if p.nocase {
                window.eq_ignore_ascii_case(&p.bytes)
            } else {
                *window == *p.bytes
            };
            if present {
                on_hit(p.id, end);
            }
        }
    }

    /// Short patterns (1-3 bytes) starting at `i`, whose first two bytes fold to `pair` (the
    /// second byte is 0 past the end of the haystack).
    #[inline(never)]
    fn short_at(&self, raw: &[u8], i: usize, pair: u16, on_hit: &mut dyn FnMut(u32, usize)) {
        let b0 = pair as u8;
        if test_bit(&self.single_bits, usize::from(b0)) {
            self.verify(TAG_SINGLE | u64::from(b0), i, raw, on_hit);
        }
        if i + 1 < raw.len() {
            self.verify(TAG_PAIR | u64::from(pair), i, raw, on_hit);
        }
    }

    /// The scan loop; `SHORT`: the set has 1-3 byte patterns.
    #[inline(always)]
    fn scan_words<const SHORT: bool>(&self, raw: &[u8], on_hit: &mut dyn FnMut(u32, usize)) {
        let mut tail_from = 0;
        for (i, w) in raw.windows(WINDOW).enumerate() {
            let word = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) | FOLD4;
            if test_bit(&self.window_bits, self.window_hash(word)) {
                self.verify(u64::from(word), i, raw, on_hit);
            }
            if SHORT && test_bit(&self.pair_bits, usize::from(word as u16)) {
                self.short_at(raw, i, word as u16, on_hit);
            }
            tail_from = i + 1;
        }
        if SHORT {
            for i in tail_from..raw.len() {
                let next = raw.get(i + 1).map_or(0, |&b| fold(b));
                let pair = u16::from_le_bytes([fold(raw[i]), next]);
                if test_bit(&self.pair_bits, usize::from(pair)) {
                    self.short_at(raw, i, pair, on_hit);
                }
            }
        }
    }
}

/// The folded little-endian word of 4 bytes.
#[inline]
fn window_word(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) | FOLD4
}

impl MultiPatternMatcher for HashMatcher {
    fn kind(&self) -> MpmKind {
        MpmKind::Hash
    }
    fn pattern_count(&self) -> usize {
        self.patterns.len()
    }
    fn max_pattern_len(&self) -> usize {
        self.max_len
    }
    fn memory_usage(&self) -> usize {
        self.window_bits.len() * 8
            + self.pair_bits.len() * 8
            + self.table.memory_usage()
            + self.entries.len() * std::mem::size_of::<Entry>()
            + self
                .patterns
                .iter()
                .map(|p| p.bytes.len() + std::mem::size_of::<Pattern>())
                .sum::<usize>()
    }
    fn wants_lowered(&self) -> bool {
        false
    }
    fn scan_input(
        &self,
        input: MpmInput<'_>,
        _: &mut MpmScratch,
        on_hit: &mut dyn FnMut(u32, usize),
    ) {
        match (self.has_short, self.has_long) {
            (true, _) => self.scan_words::<true>(input.raw, on_hit),
            (false, true) => self.scan_words::<false>(input.raw, on_hit),
            (false, false) => {}
        }
    }
}
