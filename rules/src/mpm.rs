//! Multi-pattern matching: one small trait, [`MultiPatternMatcher`], over the literal fast
//! patterns of a rule group, with interchangeable back ends.
//!
//! A matcher is built once from `(pattern bytes, nocase, id)` triples ([`MpmPattern`]) into an
//! immutable object, and scans a haystack with a per-thread [`MpmScratch`], calling `on_hit(id,
//! end)` for **every** occurrence of every pattern (`end` is the offset one past its last byte),
//! in no particular order, allocating nothing per scan. Case-sensitive patterns are reported only
//! for exact occurrences; `nocase` patterns for ASCII case-insensitive ones.
//!
//! Back ends ([`MpmKind`], the `detect.mpm` setting):
//! - `ac`: the aho-corasick crate. Patterns and haystack are ASCII-lowercased (a lowercased
//!   haystack is faster than its case-insensitive automaton); hits of case-sensitive patterns
//!   are then checked against the raw bytes.
//! - `hash`: our pure-Rust matchers, always built: a filter-and-verify hash ([`hash::HashMatcher`]),
//!   and one vectorised search per pattern for small sets ([`few::FewMatcher`]).
//! - `hs`: Vectorscan/Hyperscan block databases of `\xNN`-escaped literals (as Suricata
//!   builds them; `hs_compile_lit_multi` rejects literals that start with a NUL byte),
//!   `HS_FLAG_CASELESS` for nocase patterns, so the haystack is never lowercased; behind the
//!   cargo feature `vectorscan` (Debian: `libvectorscan-dev` and `pkg-config`). The FFI comes
//!   from `hyperscan-sys`, the raw layer of the `hyperscan` crate: its high-level `Literal`
//!   takes a `String`, which cannot hold binary patterns.
//! - `auto`: `hs` for sets of [`AUTO_HS_MIN_PATTERNS`] patterns or more when `vectorscan` is
//!   built in, `hash` otherwise (see the constant for the measurements behind it).
//!
//! [`DiskCache`] (the `detect.cache-dir` setting) keeps compiled Vectorscan databases between
//! loads; its entries are verified before use, never trusted blindly.
//!
//! Not here: which patterns a rule contributes and what a hit means (see [`crate::group`]).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// One literal to find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpmPattern<'a> {
    pub bytes: &'a [u8],
    /// ASCII case-insensitive.
    pub nocase: bool,
    /// Reported with each hit; need not be unique or dense.
    pub id: u32,
}

/// Which back end builds a pattern set (the `detect.mpm` setting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MpmKind {
    /// Per set: Vectorscan for big sets when built in, `hash` otherwise.
    #[default]
    Auto,
    /// The aho-corasick crate.
    Ac,
    /// Vectorscan (cargo feature `vectorscan`); without it, building falls back to `hash` with a
    /// warning.
    Hs,
    /// Our pure-Rust filter-and-verify matcher ([`hash::HashMatcher`]).
    Hash,
}

impl MpmKind {
    pub const NAMES: &'static str = "auto, ac, hs or hash";

    /// The back end that builds a set of `patterns` patterns.
    pub fn resolve(self, patterns: usize) -> MpmKind {
        match self {
            MpmKind::Auto if VECTORSCAN_BUILT && patterns >= AUTO_HS_MIN_PATTERNS => MpmKind::Hs,
            MpmKind::Auto => MpmKind::Hash,
            MpmKind::Hs if !VECTORSCAN_BUILT => MpmKind::Hash,
            other => other,
        }
    }
}

impl fmt::Display for MpmKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MpmKind::Auto => "auto",
            MpmKind::Ac => "ac",
            MpmKind::Hs => "hs",
            MpmKind::Hash => "hash",
        })
    }
}

impl FromStr for MpmKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(MpmKind::Auto),
            "ac" => Ok(MpmKind::Ac),
            "hs" => Ok(MpmKind::Hs),
            "hash" => Ok(MpmKind::Hash),
            _ => Err(format!("expected {}, got {s:?}", MpmKind::NAMES)),
        }
    }
}

/// Whether the `vectorscan` feature (the `hs` back end) is compiled in.
pub const VECTORSCAN_BUILT: bool = cfg!(feature = "vectorscan");

/// `auto` uses Vectorscan for sets of at least this many patterns (when built in), `hash` for
/// the rest. Measured on ET Open (7,928 rules, synthetic web traffic, one core, `etopen_bench`
/// and `nfips bench`): `ac` 62 MB/s, `hash` ~300 MB/s (2.3 Gbit/s through the engine, rules
/// built in ~60 ms), `hs` for every set of 48+ patterns ~840 MB/s (5.6 Gbit/s) but ~1.2 s of
/// Vectorscan compiles (~0.7 s spread over 2 cores, as the group build does) and 160-250 MB
/// peak RSS while compiling; raising the bound to 400 halved the build time and the detection
/// speed. It was 48 until rule groups were split by address class, which leaves many small
/// sets that still see every byte of busy flows (a 17-pattern port group scanning every web
/// response packet took 12 % of the time under the hash filter). At 16 the sets of 1-15
/// patterns, most of them tiny port groups, keep the pure-Rust matcher (the few-pattern one up
/// to [`few::FEW_PATTERNS_MAX`]) and cost no compile: ET Open with HOME_NET set compiles in
/// 1.1-1.3 s cold either way, where Vectorscan for every set took 3.1 s.
pub const AUTO_HS_MIN_PATTERNS: usize = 16;

/// Why a matcher could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MpmError(pub String);

impl fmt::Display for MpmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MpmError {}

/// The haystack as the scan sees it: the raw bytes, and their ASCII-lowercased copy when some
/// matcher asked for it ([`MultiPatternMatcher::wants_lowered`]); empty otherwise.
#[derive(Clone, Copy, Debug)]
pub struct MpmInput<'a> {
    pub raw: &'a [u8],
    pub lowered: &'a [u8],
}

/// A compiled, immutable multi-pattern matcher.
pub trait MultiPatternMatcher: Send + Sync + fmt::Debug {
    /// The back end that built it (`ac` or `hs`, never `auto`).
    fn kind(&self) -> MpmKind;
    /// Distinct patterns compiled.
    fn pattern_count(&self) -> usize;
    /// Length of the longest pattern.
    fn max_pattern_len(&self) -> usize;
    /// Approximate heap bytes.
    fn memory_usage(&self) -> usize;
    /// Whether [`MultiPatternMatcher::scan_input`] reads `input.lowered`.
    fn wants_lowered(&self) -> bool;
    /// Grow `scratch` so that it can serve this matcher (Vectorscan scratch is sized per
    /// database). Called at build time for a prototype that per-thread scratches clone.
    /// Matchers that keep no per-thread state need nothing.
    fn prepare_scratch(&self, _scratch: &mut MpmScratch) -> Result<(), MpmError> {
        Ok(())
    }
    /// Report every occurrence in `input` as `on_hit(id, end)`. `input.lowered` must be the
    /// lowercased `input.raw` when [`MultiPatternMatcher::wants_lowered`].
    fn scan_input(
        &self,
        input: MpmInput<'_>,
        scratch: &mut MpmScratch,
        on_hit: &mut dyn FnMut(u32, usize),
    );
    /// Report every occurrence in `haystack` (lowercases into the scratch when needed).
    fn scan(&self, haystack: &[u8], scratch: &mut MpmScratch, on_hit: &mut dyn FnMut(u32, usize)) {
        if !self.wants_lowered() {
            return self.scan_input(
                MpmInput {
                    raw: haystack,
                    lowered: &[],
                },
                scratch,
                on_hit,
            );
        }
        let mut lowered = std::mem::take(&mut scratch.lowered);
        lower_into(haystack, &mut lowered);
        self.scan_input(
            MpmInput {
                raw: haystack,
                lowered: &lowered,
            },
            scratch,
            on_hit,
        );
        scratch.lowered = lowered;
    }
}

/// `out` = `bytes` ASCII-lowercased (reusing `out`'s capacity).
pub fn lower_into(bytes: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend(bytes.iter().map(u8::to_ascii_lowercase));
}

/// A directory of compiled Vectorscan databases (the `detect.cache-dir` setting), so that a
/// ruleset loaded again skips the compiles that dominate its load time.
///
/// One file per pattern set, named by a 128-bit hash of the patterns, their flags and ids, the
/// Vectorscan version and this file format; it holds a header (magic, that key, the payload
/// length and checksum) and the `hs_serialize_database` bytes. An entry that does not verify
/// (truncated, corrupt, another version or platform) is never trusted: it is counted in
/// [`DiskCacheStats::rejected`], logged, and replaced by a fresh compile. Writes go to a
/// temporary file renamed into place, so concurrent loaders see whole entries or none.
///
/// A cache that defers compiles ([`DiskCache::deferring_compiles`]) builds the pure-Rust
/// `hash` matcher for every set it does not hold, counted in [`DiskCacheStats::deferred`]: the
/// daemon starts inspecting at once and builds the Vectorscan databases in the background.
#[derive(Debug)]
pub struct DiskCache {
    dir: std::path::PathBuf,
    // Without Vectorscan nothing is compiled, so nothing is deferred.
    #[cfg_attr(not(feature = "vectorscan"), allow(dead_code))]
    defer_compiles: bool,
    hits: AtomicU64,
    misses: AtomicU64,
    rejected: AtomicU64,
    write_errors: AtomicU64,
    deferred: AtomicU64,
    pruned: AtomicU64,
}

/// What a [`DiskCache`] did during one build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskCacheStats {
    /// Databases read from the cache.
    pub hits: u64,
    /// Databases compiled because no entry existed.
    pub misses: u64,
    /// Entries present but not trusted (corrupt, stale, other version): compiled again.
    pub rejected: u64,
    /// Entries that could not be written (the build still succeeded).
    pub write_errors: u64,
    /// Sets not in the cache that got the `hash` matcher instead of a compile, by a cache that
    /// defers compiles.
    pub deferred: u64,
    /// Entries removed by [`DiskCache::prune`].
    pub pruned: u64,
}

impl DiskCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<std::path::PathBuf>) -> DiskCache {
        DiskCache {
            dir: dir.into(),
            defer_compiles: false,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            deferred: AtomicU64::new(0),
            pruned: AtomicU64::new(0),
        }
    }

    /// This cache, building the `hash` matcher instead of compiling a set it does not hold.
    pub fn deferring_compiles(self, defer: bool) -> DiskCache {
        DiskCache {
            defer_compiles: defer,
            ..self
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub fn stats(&self) -> DiskCacheStats {
        DiskCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
            deferred: self.deferred.load(Ordering::Relaxed),
            pruned: self.pruned.load(Ordering::Relaxed),
        }
    }

    /// Removes the entries (and leftover temporary files) no load has used for `max_age`: a
    /// hit refreshes an entry's modification time, so only the databases of rule sets that
    /// are no longer loaded age out, and the directory does not grow with every ruleset
    /// update. Errors only cost disk space (logged).
    pub fn prune(&self, max_age: std::time::Duration) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let now = std::time::SystemTime::now();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !(name.ends_with(".hsdb") || (name.starts_with('.') && name.ends_with(".tmp"))) {
                continue;
            }
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|modified| now.duration_since(modified).ok());
            if age.is_some_and(|age| age > max_age) {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => {
                        self.pruned.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(err) => tracing::warn!(
                        "Vectorscan cache entry {} not removed ({err})",
                        entry.path().display()
                    ),
                }
            }
        }
    }
}

/// Build a matcher with the back end `kind` resolves to for this many patterns. A Vectorscan
/// compile failure falls back to aho-corasick (logged); an error means neither could build.
pub fn build_matcher(
    kind: MpmKind,
    patterns: &[MpmPattern<'_>],
) -> Result<Box<dyn MultiPatternMatcher>, MpmError> {
    build_matcher_cached(kind, patterns, None)
}

/// [`build_matcher`], reading and filling `disk` for Vectorscan databases.
pub fn build_matcher_cached(
    kind: MpmKind,
    patterns: &[MpmPattern<'_>],
    disk: Option<&DiskCache>,
) -> Result<Box<dyn MultiPatternMatcher>, MpmError> {
    #[cfg(not(feature = "vectorscan"))]
    let _ = disk;
    match kind.resolve(patterns.len()) {
        #[cfg(feature = "vectorscan")]
        MpmKind::Hs => match disk {
            Some(disk) if disk.defer_compiles => {
                if let Some(matcher) = hs::HsMatcher::from_cache(patterns, disk) {
                    return Ok(Box::new(matcher));
                }
                disk.deferred.fetch_add(1, Ordering::Relaxed);
                pure_rust(patterns)
            }
            _ => match hs::HsMatcher::build_cached(patterns, disk) {
                Ok(m) => Ok(Box::new(m)),
                Err(err) => {
                    tracing::warn!(
                        "Vectorscan could not compile a pattern set ({err}); using hash"
                    );
                    pure_rust(patterns)
                }
            },
        },
        MpmKind::Ac => Ok(Box::new(AcMatcher::build(patterns, None)?)),
        _ => {
            if kind == MpmKind::Hs && !VECTORSCAN_BUILT {
                tracing::warn!(
                    "detect.mpm=hs but nfips was built without the `vectorscan` feature; using hash"
                );
            }
            pure_rust(patterns)
        }
    }
}

/// The `hash` back end: [`few::FewMatcher`] for a handful of patterns, the hash filter for more.
fn pure_rust(patterns: &[MpmPattern<'_>]) -> Result<Box<dyn MultiPatternMatcher>, MpmError> {
    if patterns.len() <= few::FEW_PATTERNS_MAX {
        Ok(Box::new(few::FewMatcher::build(patterns)?))
    } else {
        Ok(Box::new(hash::HashMatcher::build(patterns)?))
    }
}

fn check_patterns(patterns: &[MpmPattern<'_>]) -> Result<(), MpmError> {
    match patterns.iter().find(|p| p.bytes.is_empty()) {
        Some(p) => Err(MpmError(format!("pattern id {} is empty", p.id))),
        None => Ok(()),
    }
}

/// Per-thread mutable state of every back end. Create one per thread from
/// [`MpmScratch::try_clone`] of a prototype that each matcher prepared.
#[derive(Debug, Default)]
pub struct MpmScratch {
    /// The lowercased haystack, reused between scans.
    pub(crate) lowered: Vec<u8>,
    /// Scans that could not run (Vectorscan scratch missing or too small); they reported every
    /// pattern instead, so no rule was missed.
    pub(crate) failed_scans: u64,
    #[cfg(feature = "vectorscan")]
    hs: hs::HsScratch,
}

impl MpmScratch {
    pub fn new() -> MpmScratch {
        MpmScratch::default()
    }

    /// A scratch ready for every matcher this one was prepared for.
    pub fn try_clone(&self) -> Result<MpmScratch, MpmError> {
        Ok(MpmScratch {
            lowered: Vec::with_capacity(self.lowered.capacity().max(2048)),
            failed_scans: 0,
            #[cfg(feature = "vectorscan")]
            hs: self.hs.try_clone()?,
        })
    }

    /// Scans that fell back to reporting every pattern.
    pub fn failed_scans(&self) -> u64 {
        self.failed_scans
    }
}

/// One automaton pattern stands for one or more caller patterns (same lowercased bytes).
#[derive(Debug)]
struct AcEntry {
    id: u32,
    /// The exact bytes of a case-sensitive pattern, checked at each hit.
    exact: Option<Box<[u8]>>,
}

/// The aho-corasick back end.
#[derive(Debug)]
pub struct AcMatcher {
    automaton: AhoCorasick,
    entries: Vec<Box<[AcEntry]>>,
    max_len: usize,
}

impl AcMatcher {
    /// `kind` forces an automaton kind (None: the crate picks).
    pub fn build(
        patterns: &[MpmPattern<'_>],
        kind: Option<AhoCorasickKind>,
    ) -> Result<AcMatcher, MpmError> {
        check_patterns(patterns)?;
        let mut index: std::collections::HashMap<Vec<u8>, usize> = Default::default();
        let mut lowered: Vec<Vec<u8>> = Vec::new();
        let mut entries: Vec<Vec<AcEntry>> = Vec::new();
        for p in patterns {
            let key = p.bytes.to_ascii_lowercase();
            let slot = *index.entry(key.clone()).or_insert_with(|| {
                lowered.push(key.clone());
                entries.push(Vec::new());
                lowered.len() - 1
            });
            // A case-sensitive pattern with letters can hit the lowered haystack where the raw
            // bytes differ in case: such hits are checked against the raw bytes.
            let has_letters = p.bytes.iter().any(u8::is_ascii_alphabetic);
            let exact = (!p.nocase && has_letters).then(|| p.bytes.into());
            entries[slot].push(AcEntry { id: p.id, exact });
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .kind(kind)
            .build(&lowered)
            .map_err(|e| MpmError(format!("aho-corasick: {e}")))?;
        Ok(AcMatcher {
            automaton,
            entries: entries.into_iter().map(Vec::into_boxed_slice).collect(),
            max_len: patterns.iter().map(|p| p.bytes.len()).max().unwrap_or(0),
        })
    }
}

impl MultiPatternMatcher for AcMatcher {
    fn kind(&self) -> MpmKind {
        MpmKind::Ac
    }
    fn pattern_count(&self) -> usize {
        self.entries.len()
    }
    fn max_pattern_len(&self) -> usize {
        self.max_len
    }
    fn memory_usage(&self) -> usize {
        self.automaton.memory_usage()
            + self
                .entries
                .iter()
                .map(|e| e.len() * std::mem::size_of::<AcEntry>() + 16)
                .sum::<usize>()
    }
    fn wants_lowered(&self) -> bool {
        true
    }
    fn scan_input(
        &self,
        input: MpmInput<'_>,
        _: &mut MpmScratch,
        on_hit: &mut dyn FnMut(u32, usize),
    ) {
        for hit in self.automaton.find_overlapping_iter(input.lowered) {
            let end = hit.end();
            for e in self.entries[hit.pattern().as_usize()].iter() {
                match &e.exact {
                    Some(exact) if input.raw.get(hit.start()..end) != Some(&exact[..]) => {}
                    _ => on_hit(e.id, end),
                }
            }
        }
    }
}

mod few;
pub mod hash;
#[cfg(feature = "vectorscan")]
mod hs;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (id, end) by brute force.
    fn naive(patterns: &[MpmPattern<'_>], hay: &[u8]) -> Vec<(u32, usize)> {
        let mut out = Vec::new();
        for p in patterns {
            for end in p.bytes.len()..=hay.len() {
                let window = &hay[end - p.bytes.len()..end];
                let hit = if p.nocase {
                    window.eq_ignore_ascii_case(p.bytes)
                } else {
                    window == p.bytes
                };
                if hit {
                    out.push((p.id, end));
                }
            }
        }
        out.sort_unstable();
        out
    }

    fn scan_all(m: &dyn MultiPatternMatcher, hay: &[u8]) -> Vec<(u32, usize)> {
        let mut proto = MpmScratch::new();
        m.prepare_scratch(&mut proto).unwrap();
        let mut scratch = proto.try_clone().unwrap();
        let mut out = Vec::new();
        m.scan(hay, &mut scratch, &mut |id, end| out.push((id, end)));
        out.sort_unstable();
        out
    }

    fn pats() -> Vec<MpmPattern<'static>> {
        let p = |bytes: &'static [u8], nocase, id| MpmPattern { bytes, nocase, id };
        vec![
            p(b"abc", false, 1),
            p(b"ABC", true, 2),
            p(b"bc", false, 3),
            p(b"Bc", false, 4),
            p(b"\x00\xff", false, 5),
            p(b"abcabc", true, 6),
            p(b"abc", false, 7),
            // `| 0x20` folds '[' with '{' and '@' with '`': only exact bytes may hit.
            p(b"[x@y", false, 8),
            p(b"[X@Y", true, 9),
            p(b"@", false, 10),
        ]
    }

    fn kinds() -> Vec<MpmKind> {
        let mut k = vec![MpmKind::Ac, MpmKind::Hash];
        if VECTORSCAN_BUILT {
            k.push(MpmKind::Hs);
        }
        k
    }

    #[test]
    fn every_backend_reports_every_occurrence_with_case_rules() {
        let hay = b"xxABCabcaBcabc\x00\xffBc{x`y[x@y[X@y`";
        for kind in kinds() {
            let m = build_matcher(kind, &pats()).unwrap();
            assert_eq!(m.kind(), kind);
            assert_eq!(scan_all(&*m, hay), naive(&pats(), hay), "{kind}");
        }
    }

    proptest::proptest! {
        /// The pure-Rust matchers, few-pattern and hash filter, on overlapping occurrences,
        /// mixed case and the bytes `| 0x20` folds together.
        #[test]
        fn pure_rust_matchers_report_every_occurrence(
            specs in proptest::collection::vec(
                (proptest::collection::vec(proptest::sample::select(&b"aAbB@`[{x\0"[..]), 1..5), proptest::bool::ANY),
                1..14,
            ),
            hay in proptest::collection::vec(proptest::sample::select(&b"aAbB@`[{x\0"[..]), 0..80),
        ) {
            let patterns: Vec<MpmPattern<'_>> = specs
                .iter()
                .enumerate()
                .map(|(id, (bytes, nocase))| MpmPattern { bytes, nocase: *nocase, id: id as u32 })
                .collect();
            let want = naive(&patterns, &hay);
            let hash = hash::HashMatcher::build(&patterns).unwrap();
            proptest::prop_assert_eq!(scan_all(&hash, &hay), want.clone());
            if patterns.len() <= few::FEW_PATTERNS_MAX {
                let few = few::FewMatcher::build(&patterns).unwrap();
                proptest::prop_assert_eq!(scan_all(&few, &hay), want);
            }
        }
    }

    #[test]
    fn small_sets_get_the_few_pattern_matcher() {
        let m = build_matcher(MpmKind::Hash, &pats()[..few::FEW_PATTERNS_MAX]).unwrap();
        let hay = b"xxABCabcaBcabc\x00\xffBc{x`y[x@y[X@y`";
        assert_eq!(
            scan_all(&*m, hay),
            naive(&pats()[..few::FEW_PATTERNS_MAX], hay)
        );
        assert!(m.memory_usage() < hash::HashMatcher::build(&pats()).unwrap().memory_usage());
    }

    #[test]
    fn empty_haystack_and_no_hits_report_nothing() {
        for kind in kinds() {
            let m = build_matcher(kind, &pats()).unwrap();
            assert!(scan_all(&*m, b"").is_empty());
            assert!(scan_all(&*m, b"zzzzzz").is_empty());
        }
    }

    #[test]
    fn empty_pattern_is_an_error() {
        let p = [MpmPattern {
            bytes: b"",
            nocase: false,
            id: 9,
        }];
        for kind in kinds() {
            assert!(build_matcher(kind, &p).is_err());
        }
    }

    #[test]
    fn kind_parses_and_displays() {
        for kind in [MpmKind::Auto, MpmKind::Ac, MpmKind::Hs, MpmKind::Hash] {
            assert_eq!(kind.to_string().parse::<MpmKind>(), Ok(kind));
        }
        assert!("fast".parse::<MpmKind>().is_err());
    }

    #[test]
    fn auto_resolves_by_size_and_feature() {
        assert_eq!(MpmKind::Auto.resolve(1), MpmKind::Hash);
        let big = MpmKind::Auto.resolve(AUTO_HS_MIN_PATTERNS);
        assert_eq!(big == MpmKind::Hs, VECTORSCAN_BUILT);
        assert_eq!(MpmKind::Hs.resolve(1) == MpmKind::Hs, VECTORSCAN_BUILT);
    }

    #[test]
    fn max_pattern_len_is_the_longest() {
        let m = build_matcher(MpmKind::Ac, &pats()).unwrap();
        assert_eq!(m.max_pattern_len(), 6);
        assert_eq!(m.pattern_count(), 6);
    }
}
