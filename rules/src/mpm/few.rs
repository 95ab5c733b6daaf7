//! The `hash` back end's matcher for a handful of patterns: each literal searched on its own
//! with memchr's vectorised routines, every occurrence reported (overlapping ones too).
//!
//! A rule group split by port and address class often keeps one to a few fast patterns, and
//! its matcher may still scan every byte of a busy flow (response bodies, bulk segments). A
//! filter-and-verify scan ([`super::hash::HashMatcher`]) costs a hash and a bit test per byte
//! whatever the set's size; a few vectorised single-pattern searches skip most bytes instead
//! (ET Open on synthetic web traffic: such sets were a third of the scan time under the hash
//! matcher). Case-sensitive patterns, and case-insensitive ones without ASCII letters, use
//! `memmem`; case-insensitive patterns with letters look for their rarest byte (both cases of
//! it when it is a letter) with `memchr`/`memchr2` and compare the whole pattern there.
//!
//! Not here: choosing when to use it ([`super::build_matcher`]).

use memchr::memmem;

use super::hash::commonness;
use super::{
    check_patterns, MpmError, MpmInput, MpmKind, MpmPattern, MpmScratch, MultiPatternMatcher,
};

/// Sets of at most this many patterns get a [`FewMatcher`] instead of the hash filter: each
/// pattern is one more pass over the haystack.
pub const FEW_PATTERNS_MAX: usize = 8;

/// How one pattern is looked for.
#[derive(Debug)]
enum Search {
    /// The exact bytes (case-sensitive, or nothing to fold).
    Exact(Box<memmem::Finder<'static>>),
    /// The byte at `offset` of the pattern (`other` is its other ASCII case, for a letter),
    /// then the whole pattern ASCII case-insensitively.
    Anchored {
        offset: usize,
        byte: u8,
        other: Option<u8>,
    },
}

#[derive(Debug)]
struct Pattern {
    bytes: Box<[u8]>,
    id: u32,
    search: Search,
}

/// A matcher over a few patterns; see the module documentation.
#[derive(Debug)]
pub struct FewMatcher {
    patterns: Vec<Pattern>,
    max_len: usize,
}

impl FewMatcher {
    pub fn build(patterns: &[MpmPattern<'_>]) -> Result<FewMatcher, MpmError> {
        check_patterns(patterns)?;
        let max_len = patterns.iter().map(|p| p.bytes.len()).max().unwrap_or(0);
        let patterns = patterns
            .iter()
            .map(|p| {
                let folds = p.nocase && p.bytes.iter().any(u8::is_ascii_alphabetic);
                let search = if folds {
                    // Prefer a byte without case (one memchr), then the rarest.
                    let offset = (0..p.bytes.len())
                        .min_by_key(|&i| {
                            let b = p.bytes[i];
                            (commonness(b), b.is_ascii_alphabetic())
                        })
                        .unwrap_or(0);
                    let byte = p.bytes[offset];
                    let other = byte.is_ascii_alphabetic().then_some(byte ^ 0x20);
                    Search::Anchored {
                        offset,
                        byte,
                        other,
                    }
                } else {
                    Search::Exact(Box::new(memmem::Finder::new(p.bytes).into_owned()))
                };
                Pattern {
                    bytes: p.bytes.into(),
                    id: p.id,
                    search,
                }
            })
            .collect();
        Ok(FewMatcher { patterns, max_len })
    }
}

impl Pattern {
    /// Report every occurrence in `hay` (overlapping ones included) by its end.
    fn scan(&self, hay: &[u8], on_hit: &mut dyn FnMut(u32, usize)) {
        let len = self.bytes.len();
        let mut from = 0;
        match &self.search {
            Search::Exact(finder) => {
                while let Some(at) = hay.get(from..).and_then(|rest| finder.find(rest)) {
                    let start = from + at;
                    on_hit(self.id, start + len);
                    from = start + 1;
                }
            }
            &Search::Anchored {
                offset,
                byte,
                other,
            } => {
                let find = |rest: &[u8]| match other {
                    Some(other) => memchr::memchr2(byte, other, rest),
                    None => memchr::memchr(byte, rest),
                };
                while let Some(at) = hay.get(from..).and_then(find).map(|i| from + i) {
                    let start = at.saturating_sub(offset);
                    if at >= offset
                        && hay
                            .get(start..start + len)
                            .is_some_and(|w| w.eq_ignore_ascii_case(&self.bytes))
                    {
                        on_hit(self.id, start + len);
                    }
                    from = at + 1;
                }
            }
        }
    }
}

impl MultiPatternMatcher for FewMatcher {
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
        self.patterns
            .iter()
            .map(|p| 2 * p.bytes.len() + std::mem::size_of::<Pattern>())
            .sum()
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
        for pattern in &self.patterns {
            pattern.scan(input.raw, on_hit);
        }
    }
}
