//! Payload evaluation across buffers: a rule's payload options split into one run per buffer
//! they read (the packet, `http_uri`, `file_data` ...), each run evaluated by the ordinary
//! payload evaluator against its own buffer, so depth, offset, distance, within and relative
//! pcre apply within that buffer.
//!
//! A run keeps its options' rule order; the first relative option of a run is relative to the
//! start of its buffer (Snort 2.9 keeps a separate detection cursor per buffer). A rule matches
//! when every run matches; a run whose buffer the transaction lacks fails (as in Suricata, a
//! negated content does not match a missing buffer). `urilen` is a test of the URI buffer's
//! length. byte_extract variables are shared by all runs in their order of first appearance
//! (the parser keeps byte_* options out of HTTP buffers, so they live in the packet run).
//!
//! Rules that read HTTP buffers (or say `alert http`) are kept out of the packet groups and
//! indexed here instead ([`HttpIndex`]): per buffer, a matcher of the `detect.mpm` back end
//! ([`crate::mpm`]) over the fast patterns rules take from that buffer.
//! [`crate::ruleset::RuleSet::detect_app`] scans the buffers an event ([`AppBuffers`]) offers
//! (only those whose rules read a buffer the event updated), keeps the rules whose buffers are
//! all present and one of them updated, and evaluates them with their [`BufferRuns`]. Growing
//! bodies are scanned only in their new bytes, the earlier hits kept per transaction direction
//! in an [`HttpScanMemory`] (so a body is prefiltered about once, not once per packet).
//!
//! Not here: packet groups ([`crate::group`]) or HTTP parsing (the engine).

use std::collections::hash_map::{Entry, HashMap};
use std::sync::Arc;

use crate::addr::AddressBook;
use crate::ast::{Buffer, DetectOption, Rule, UriLen};
use crate::eval::{PayloadEval, PayloadOp, SearcherCache};
use crate::group::{fast_pattern, fast_pattern_content};
use crate::mpm::{
    build_matcher_cached, DiskCache, MpmKind, MpmPattern, MpmScratch, MultiPatternMatcher,
};
use crate::pcre::PcreScratch;

/// The buffers of one HTTP event, as detection reads them: [`Buffer::Packet`] is the packet (or
/// stream) data, the others the transaction's HTTP buffers.
pub trait AppBuffers {
    /// The buffer's bytes, or None when the transaction does not have it (yet).
    fn get(&self, buffer: Buffer) -> Option<&[u8]>;
    /// Whether the buffer became ready or grew with this event: only rules reading at least one
    /// updated buffer are evaluated, so a rule is not re-evaluated on events that change nothing
    /// it reads.
    fn updated(&self, buffer: Buffer) -> bool;
}

/// Pattern hits one growing buffer can remember before its scans fall back to whole-buffer.
pub const REMEMBERED_HITS: usize = 16;

/// Buffers that grow during one message (the bodies): scanned only in their new bytes, with
/// the patterns found earlier remembered in [`HttpScanMemory`].
const GROWING: [Buffer; 2] = [Buffer::FileData, Buffer::HttpClientBody];

/// Per transaction direction (kept by the caller between events, in its per-flow HTTP state):
/// what the HTTP prefilter already scanned of the direction's growing body
/// ([`Buffer::FileData`] or [`Buffer::HttpClientBody`]), so that each body byte is scanned
/// about once instead of at every event. Fixed size (40 bytes); forgotten when an event
/// updates a non-body HTTP buffer (a new message), another body, or a body got shorter.
/// [`crate::ruleset::RuleSet::detect_app`] without memory scans every buffer whole.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpScanMemory {
    /// The matcher whose patterns `hits` numbers, which also names the body remembered
    /// ([`BufferPatterns::source`]); 0 for none.
    source: u16,
    /// More distinct patterns were found than fit: whole-buffer scans until the next message.
    overflowed: bool,
    len: u8,
    /// Bytes of the body already scanned (saturating: beyond, bytes are scanned again).
    scanned: u32,
    /// Pattern ids (of the body's matcher) found in the first `scanned` bytes.
    hits: [u16; REMEMBERED_HITS],
}

impl HttpScanMemory {
    /// Forget everything (a new message, or the caller cannot vouch for continuity).
    pub fn reset(&mut self) {
        *self = HttpScanMemory::default();
    }

    /// Whether this memory holds every pattern of matcher `source` in exactly `len` bytes of
    /// its body: bodies only grow within a message, so the same length is the same bytes.
    fn covers(&self, source: u16, len: usize) -> bool {
        self.source == source && !self.overflowed && self.scanned as usize == len
    }

    fn hits(&self) -> impl Iterator<Item = u32> + '_ {
        self.hits[..usize::from(self.len)]
            .iter()
            .map(|&id| u32::from(id))
    }

    fn remember(&mut self, id: u32) {
        if self.overflowed || self.hits().any(|seen| seen == id) {
            return;
        }
        match (u16::try_from(id), self.hits.get_mut(usize::from(self.len))) {
            (Ok(id), Some(slot)) => {
                *slot = id;
                self.len += 1;
            }
            _ => self.overflowed = true,
        }
    }
}

/// What [`HttpIndex::collect`] did besides naming candidates.
#[derive(Clone, Copy, Debug, Default)]
pub struct CollectOutcome {
    /// Pattern hits, replayed ones included.
    pub hits: u64,
    /// A body had to be scanned whole because its memory overflowed.
    pub whole_rescan: bool,
    /// Bodies the event did not grow whose hits came from a memory instead of a scan.
    pub bodies_reused: u64,
}

/// Buffers updated by (nearly) every event of a message: the packet, and the growing bodies.
const VOLATILE: [Buffer; 3] = [Buffer::Packet, Buffer::FileData, Buffer::HttpClientBody];

/// Which HTTP rules can match an event: per direction and address class pair
/// ([`crate::addr`]) of the event's packet, the HTTP rules whose `flow` direction and addresses
/// can match it, with per buffer a matcher
/// ([`crate::mpm`], the back end of `detect.mpm`) over the fast patterns that those rules take
/// from that buffer (matched ASCII case-insensitively: a superset, the prefilter only has to be
/// sound), and the rules with no fast pattern.
#[derive(Debug, Default)]
pub(crate) struct HttpIndex {
    /// Address class pairs ([`AddressBook::pair_count`]).
    pairs: usize,
    /// Indexed by `to_server as usize * pairs + pair`; cells whose rules are the same share
    /// one. A request's event then never scans a response body for the `to_client` rules
    /// that read it (ET Open's file_data rules, when the bodies are still there at the next
    /// request of a keep-alive connection).
    by_cell: Vec<Arc<HttpPatterns>>,
    /// The runs of each HTTP rule, by rule index (None for packet rules).
    runs: Vec<Option<BufferRuns>>,
}

/// The HTTP rules of one or more (direction, address class pair) cells.
#[derive(Clone, Debug, Default)]
struct HttpPatterns {
    by_buffer: Vec<BufferPatterns>,
    unindexed: Vec<u32>,
}

/// Lowercased fast patterns with the rule each comes from.
type PatternList = Vec<(Vec<u8>, u32)>;

/// A number for a new HTTP matcher, never 0 and distinct from the last 65,535 handed out in
/// this process: a flow's [`HttpScanMemory`] outlives a rule reload, and must not replay its
/// hits through the new rule set's matchers.
fn new_source() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(1);
    loop {
        let source = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if source != 0 {
            return source;
        }
    }
}

/// Compiled HTTP matchers by buffer and distinct pattern list, with their sources.
type HttpMatcherCache = HashMap<(Buffer, Vec<Vec<u8>>), (Arc<dyn MultiPatternMatcher>, u16)>;

#[derive(Clone, Debug)]
struct BufferPatterns {
    buffer: Buffer,
    /// Names the (buffer, pattern list) of `matcher` ([`new_source`]): an [`HttpScanMemory`]
    /// made with one `source` replays its pattern ids only through a matcher of the same
    /// source.
    source: u16,
    matcher: Arc<dyn MultiPatternMatcher>,
    /// Rules of each pattern id.
    rules: Vec<Box<[u32]>>,
    /// Every buffer read by a rule indexed here: an event that updated none of them cannot
    /// make such a rule ready, so the buffer is not scanned then (a body that grows does not
    /// make the headers be scanned again).
    read_by_rules: Box<[Buffer]>,
}

impl HttpIndex {
    /// Matchers are built with the back end `kind` resolves to per buffer (call
    /// [`HttpIndex::prepare_scratch`] before scanning), one set per direction and class pair
    /// of `addrs`.
    pub fn build(
        rules: &[Rule],
        addrs: &AddressBook,
        kind: MpmKind,
        disk: Option<&DiskCache>,
    ) -> HttpIndex {
        let mut searchers = SearcherCache::default();
        let runs: Vec<Option<BufferRuns>> = rules
            .iter()
            .map(|rule| {
                rule.reads_app_buffers()
                    .then(|| BufferRuns::compile_with(&rule.detection, &mut searchers))
            })
            .collect();
        let mut index = HttpIndex {
            pairs: addrs.pair_count(),
            by_cell: Vec::with_capacity(2 * addrs.pair_count()),
            runs,
        };
        let mut shared: HashMap<Vec<u32>, Arc<HttpPatterns>> = HashMap::new();
        let mut matchers = HttpMatcherCache::new();
        for to_server in [false, true] {
            for pair in 0..addrs.pair_count() {
                let members: Vec<u32> = (0..rules.len())
                    .filter(|&r| {
                        index.runs[r].is_some()
                            && rules[r].flow.to_server.is_none_or(|d| d == to_server)
                            && addrs.rule_in_pair(r, pair)
                    })
                    .map(|r| r as u32)
                    .collect();
                let patterns = shared.entry(members).or_insert_with_key(|members| {
                    Arc::new(index.patterns_of(members, rules, kind, disk, &mut matchers))
                });
                index.by_cell.push(Arc::clone(patterns));
            }
        }
        index
    }

    /// The patterns of the HTTP rules `members`.
    fn patterns_of(
        &self,
        members: &[u32],
        rules: &[Rule],
        kind: MpmKind,
        disk: Option<&DiskCache>,
        matchers: &mut HttpMatcherCache,
    ) -> HttpPatterns {
        let mut out = HttpPatterns::default();
        // Per (buffer, whether its rules also read a volatile buffer): (lowercased fast
        // pattern, rule) pairs. Rules that also read the packet or a body become ready at
        // nearly every event, so a stable buffer (URI, headers ...) keeps them in a matcher of
        // their own and its other patterns are scanned only when a buffer their rules read
        // changes (about once per message).
        let mut patterns: Vec<((Buffer, bool), PatternList)> = Vec::new();
        for &r in members {
            let rule = &rules[r as usize];
            let (Some(content), Some((bytes, _))) =
                (fast_pattern_content(rule), fast_pattern(rule))
            else {
                out.unindexed.push(r);
                continue;
            };
            let bytes = bytes.to_ascii_lowercase();
            // A volatile buffer keeps one matcher (a growing body's scan memory is per buffer).
            let volatile = !VOLATILE.contains(&content.buffer)
                && self
                    .runs(r as usize)
                    .is_some_and(|runs| runs.buffers().any(|b| VOLATILE.contains(&b)));
            let key = (content.buffer, volatile);
            match patterns.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push((bytes, r)),
                None => patterns.push((key, vec![(bytes, r)])),
            }
        }
        for ((buffer, _), mut list) in patterns {
            list.sort_unstable();
            let mut distinct: Vec<Vec<u8>> = Vec::new();
            let mut pattern_rules: Vec<Vec<u32>> = Vec::new();
            let mut read_by_rules = vec![buffer];
            for (lower, r) in list {
                if distinct.last() != Some(&lower) {
                    distinct.push(lower);
                    pattern_rules.push(Vec::new());
                }
                if let Some(rules) = pattern_rules.last_mut() {
                    rules.push(r);
                }
                for read in self
                    .runs(r as usize)
                    .into_iter()
                    .flat_map(BufferRuns::buffers)
                {
                    if !read_by_rules.contains(&read) {
                        read_by_rules.push(read);
                    }
                }
            }
            let built = match matchers.entry((buffer, distinct)) {
                Entry::Occupied(known) => Ok(known.get().clone()),
                Entry::Vacant(slot) => {
                    let mpm_patterns: Vec<MpmPattern<'_>> = slot
                        .key()
                        .1
                        .iter()
                        .enumerate()
                        .map(|(id, bytes)| MpmPattern {
                            bytes,
                            nocase: true,
                            id: id as u32,
                        })
                        .collect();
                    build_matcher_cached(kind, &mpm_patterns, disk)
                        .map(|matcher| slot.insert((Arc::from(matcher), new_source())).clone())
                }
            };
            match built {
                Ok((matcher, source)) => out.by_buffer.push(BufferPatterns {
                    buffer,
                    source,
                    matcher,
                    rules: pattern_rules
                        .into_iter()
                        .map(Vec::into_boxed_slice)
                        .collect(),
                    read_by_rules: read_by_rules.into_boxed_slice(),
                }),
                // Its rules are evaluated on every event instead (sound, slower).
                Err(error) => {
                    tracing::warn!("HTTP {buffer} fast patterns not indexed ({error}); their rules are evaluated on every event");
                    out.unindexed.extend(pattern_rules.into_iter().flatten());
                }
            }
        }
        out.unindexed.sort_unstable();
        out
    }

    /// Adds the scratch needs of every matcher to `prototype`. A matcher whose scratch cannot
    /// be prepared is dropped and its rules become candidates of every event (logged).
    pub fn prepare_scratch(&mut self, prototype: &mut MpmScratch) {
        let (mut prepared, mut failed) = (Vec::new(), Vec::new());
        for patterns in self.by_cell.iter().flat_map(|p| p.by_buffer.iter()) {
            if prepared.contains(&patterns.source) || failed.contains(&patterns.source) {
                continue;
            }
            match patterns.matcher.prepare_scratch(prototype) {
                Ok(()) => prepared.push(patterns.source),
                Err(error) => {
                    tracing::warn!("HTTP {} matcher scratch not prepared ({error}); its rules are evaluated on every event", patterns.buffer);
                    failed.push(patterns.source);
                }
            }
        }
        if failed.is_empty() {
            return;
        }
        for slot in &mut self.by_cell {
            if slot.by_buffer.iter().all(|b| !failed.contains(&b.source)) {
                continue;
            }
            let mut patterns = HttpPatterns::clone(slot);
            let (dropped, kept) = std::mem::take(&mut patterns.by_buffer)
                .into_iter()
                .partition::<Vec<_>, _>(|b| failed.contains(&b.source));
            patterns.by_buffer = kept;
            patterns.unindexed.extend(
                dropped
                    .iter()
                    .flat_map(|b| b.rules.iter().flatten().copied()),
            );
            patterns.unindexed.sort_unstable();
            patterns.unindexed.dedup();
            *slot = Arc::new(patterns);
        }
    }

    /// Whether no rule reads HTTP buffers.
    pub fn is_empty(&self) -> bool {
        self.runs.iter().all(Option::is_none)
    }

    /// The runs of rule `r` when it is an HTTP rule.
    pub fn runs(&self, r: usize) -> Option<&BufferRuns> {
        self.runs.get(r).and_then(Option::as_ref)
    }

    /// Calls `candidate` for every rule of the event's cell (its packet's direction and
    /// address class pair) whose fast pattern occurs in its buffer and every rule of it
    /// without one (duplicates possible), skipping buffers whose rules read nothing the event
    /// updated; the caller filters by buffers present and updated. Growing bodies are scanned
    /// from where `memory` (the event direction's) says the last scan ended (less the longest
    /// pattern, so a pattern split across events is found), their earlier hits replayed from
    /// `memory`. A body the event did not grow (the other direction's, or a finished one read
    /// by a rule that also reads an updated buffer) is not scanned again when `memory` or
    /// `other` (the other direction's) already covers all of it.
    pub fn collect(
        &self,
        (to_server, pair): (bool, usize),
        buffers: &dyn AppBuffers,
        memory: &mut HttpScanMemory,
        other: &HttpScanMemory,
        scratch: &mut MpmScratch,
        mut candidate: impl FnMut(u32),
    ) -> CollectOutcome {
        let new_message = Buffer::HTTP
            .iter()
            .any(|&b| !GROWING.contains(&b) && buffers.updated(b));
        if new_message {
            memory.reset();
        }
        let mut outcome = CollectOutcome::default();
        let cell = usize::from(to_server) * self.pairs + pair;
        let Some(index) = self.by_cell.get(cell) else {
            return outcome;
        };
        for patterns in &index.by_buffer {
            let Some(bytes) = buffers.get(patterns.buffer) else {
                continue;
            };
            if !patterns.read_by_rules.iter().any(|&b| buffers.updated(b)) {
                continue;
            }
            let mut report = |id: u32| {
                outcome.hits += 1;
                if let Some(rules) = patterns.rules.get(id as usize) {
                    rules.iter().for_each(|&r| candidate(r));
                }
            };
            // Only a body this event grew is its direction's current body: anything else (the
            // other direction's body, needed by a rule that reads an updated buffer) is
            // scanned whole, unless a memory holds all of it, and leaves the memory alone.
            let remembered = GROWING.contains(&patterns.buffer) && buffers.updated(patterns.buffer);
            if !remembered {
                // Only a body's memory can cover it (memories hold growing buffers only).
                let known = [&*memory, other]
                    .into_iter()
                    .find(|m| m.covers(patterns.source, bytes.len()));
                match known {
                    Some(known) => {
                        outcome.bodies_reused += 1;
                        known.hits().for_each(&mut report);
                    }
                    None => patterns
                        .matcher
                        .scan(bytes, scratch, &mut |id, _| report(id)),
                }
                continue;
            }
            if memory.source != patterns.source || memory.scanned as usize > bytes.len() {
                *memory = HttpScanMemory {
                    source: patterns.source,
                    ..HttpScanMemory::default()
                };
            }
            memory.hits().for_each(&mut report);
            let from = if memory.overflowed {
                outcome.whole_rescan = true;
                0
            } else {
                let overlap = patterns.matcher.max_pattern_len().saturating_sub(1);
                (memory.scanned as usize).saturating_sub(overlap)
            };
            if let Some(fresh) = bytes.get(from..).filter(|f| !f.is_empty()) {
                patterns.matcher.scan(fresh, scratch, &mut |id, _| {
                    memory.remember(id);
                    report(id);
                });
            }
            memory.scanned = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        }
        for &r in &index.unindexed {
            candidate(r);
        }
        outcome
    }
}

/// One buffer's payload options, compiled.
#[derive(Debug)]
struct BufferRun {
    buffer: Buffer,
    ops: Vec<PayloadOp>,
    /// urilen tests of this buffer (`HttpUri` or `HttpRawUri` runs only).
    lengths: Vec<UriLen>,
}

/// A rule's payload options split by buffer. Immutable once compiled; evaluation takes the
/// caller's scratch (variables, pcre match data).
#[derive(Debug, Default)]
pub struct BufferRuns {
    runs: Vec<BufferRun>,
    /// byte_extract variables of the rule. They are numbered in rule order and all live in one
    /// run (the parser keeps a rule's byte_extract options in one buffer), so a run's own
    /// numbering is the rule's.
    vars: usize,
}

impl BufferRuns {
    /// Splits and compiles the payload options of `detection` (header options are ignored).
    pub fn compile(detection: &[DetectOption]) -> BufferRuns {
        Self::compile_with(detection, &mut SearcherCache::default())
    }

    /// [`BufferRuns::compile`] sharing content searchers through `cache`.
    pub(crate) fn compile_with(
        detection: &[DetectOption],
        cache: &mut SearcherCache,
    ) -> BufferRuns {
        let mut order: Vec<Buffer> = Vec::new();
        for option in detection {
            let reads_buffer =
                matches!(option, DetectOption::UriLen(_)) || crate::eval::is_payload_option(option);
            if reads_buffer && !order.contains(&option.buffer()) {
                order.push(option.buffer());
            }
        }
        let mut vars = 0;
        let runs = order
            .into_iter()
            .map(|buffer| {
                let options: Vec<DetectOption> = detection
                    .iter()
                    .filter(|o| o.buffer() == buffer && crate::eval::is_payload_option(o))
                    .cloned()
                    .collect();
                let (ops, run_vars) = PayloadOp::compile_all(&options, None, cache);
                vars += run_vars;
                let lengths = detection
                    .iter()
                    .filter_map(|o| match o {
                        DetectOption::UriLen(u) if o.buffer() == buffer => Some(*u),
                        _ => None,
                    })
                    .collect();
                BufferRun {
                    buffer,
                    ops,
                    lengths,
                }
            })
            .collect();
        BufferRuns { runs, vars }
    }

    /// byte_extract variables the rule needs (the length of `vars` for [`Self::matches`]).
    pub fn vars(&self) -> usize {
        self.vars
    }

    /// Whether every buffer the rule reads is present and at least one was updated.
    pub fn ready(&self, buffers: &dyn AppBuffers) -> bool {
        self.runs
            .iter()
            .all(|run| buffers.get(run.buffer).is_some())
            && self.runs.iter().any(|run| buffers.updated(run.buffer))
    }

    /// The buffers the rule reads.
    pub fn buffers(&self) -> impl Iterator<Item = Buffer> + '_ {
        self.runs.iter().map(|run| run.buffer)
    }

    /// Whether every run matches its buffer as `source` gives it (`None`: the buffer is absent).
    /// `vars` needs at least [`Self::vars`] slots (fewer: no match). Returns (matched, retry
    /// limit hit).
    pub fn matches<'b>(
        &self,
        source: impl Fn(Buffer) -> Option<&'b [u8]>,
        vars: &mut [i64],
        pcre: &mut PcreScratch,
        retry_limit: u32,
    ) -> (bool, bool) {
        let mut retry_limit_hit = false;
        let Some(vars) = vars.get_mut(..self.vars) else {
            // Scratch too small for this rule's variables: no match rather than a panic.
            return (false, retry_limit_hit);
        };
        for run in &self.runs {
            let Some(buf) = source(run.buffer) else {
                return (false, retry_limit_hit);
            };
            if !run.lengths.iter().all(|u| u.cmp.matches(buf.len() as u64)) {
                return (false, retry_limit_hit);
            }
            let mut state = PayloadEval {
                buf,
                vars: &mut *vars,
                pcre: &mut *pcre,
                retries_left: retry_limit,
                retry_limit_hit: false,
                fast_hits: crate::eval::FastHits::UNKNOWN,
            };
            let matched = state.run(&run.ops, 0);
            retry_limit_hit |= state.retry_limit_hit;
            if !matched {
                return (false, retry_limit_hit);
            }
        }
        (true, retry_limit_hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::Rule;
    use crate::load::rules_from_text;

    fn rule(options: &str) -> Rule {
        let text = format!("alert tcp any any -> any any ({options} sid:1;)");
        let mut rules = rules_from_text(&text).unwrap_or_else(|e| panic!("{options}: {e}"));
        rules.remove(0)
    }

    /// Whether the rule's payload matches the given buffers.
    fn matches(options: &str, buffers: &[(Buffer, &[u8])]) -> bool {
        let runs = BufferRuns::compile(&rule(options).detection);
        let mut vars = vec![0; runs.vars()];
        let mut pcre = PcreScratch::new(10_000, 1_000);
        let source = |b: Buffer| buffers.iter().find(|(x, _)| *x == b).map(|(_, v)| *v);
        runs.matches(source, &mut vars, &mut pcre, 1000).0
    }

    #[test]
    fn runs_follow_first_appearance_and_keep_rule_order() {
        let runs = BufferRuns::compile(
            &rule(r#"content:"a"; http_uri; content:"p"; content:"b"; http_uri; distance:0; urilen:>1;"#).detection,
        );
        let buffers: Vec<Buffer> = runs.buffers().collect();
        assert_eq!(buffers, [Buffer::HttpUri, Buffer::Packet]);
        assert_eq!(runs.runs[0].ops.len(), 2);
        assert_eq!(runs.runs[0].lengths.len(), 1);
    }

    #[test]
    fn content_matches_only_in_its_buffer() {
        let options = r#"content:"/admin"; http_uri;"#;
        assert!(matches(options, &[(Buffer::HttpUri, b"/admin.php")]));
        assert!(!matches(
            options,
            &[
                (Buffer::HttpUri, b"/index"),
                (Buffer::Packet, b"GET /admin.php")
            ]
        ));
    }

    #[test]
    fn missing_buffer_fails_even_for_negated_content() {
        assert!(!matches(
            r#"content:!"x"; http_cookie;"#,
            &[(Buffer::HttpUri, b"/")]
        ));
        assert!(matches(
            r#"content:!"x"; http_cookie;"#,
            &[(Buffer::HttpCookie, b"a=b")]
        ));
    }

    #[test]
    fn depth_applies_within_the_buffer() {
        let options = r#"content:"POST"; http_method; depth:4;"#;
        assert!(matches(options, &[(Buffer::HttpMethod, b"POST")]));
        let options = r#"content:"cmd"; http_uri; depth:5;"#;
        assert!(!matches(options, &[(Buffer::HttpUri, b"/x/y/cmd.exe")]));
    }

    #[test]
    fn relative_content_continues_in_its_own_buffer() {
        // "b" within 3 of "a" in the URI; the packet content between does not move the cursor.
        let options =
            r#"content:"a"; http_uri; content:"zzz"; content:"b"; http_uri; distance:0; within:3;"#;
        assert!(matches(
            options,
            &[(Buffer::HttpUri, b"/a-b"), (Buffer::Packet, b"zzz")]
        ));
        assert!(!matches(
            options,
            &[(Buffer::HttpUri, b"/a----b"), (Buffer::Packet, b"zzz")]
        ));
    }

    #[test]
    fn every_run_must_match() {
        let options = r#"content:"GET"; http_method; content:"evil"; http_user_agent;"#;
        assert!(matches(
            options,
            &[
                (Buffer::HttpMethod, b"GET"),
                (Buffer::HttpUserAgent, b"evil/1.0")
            ]
        ));
        assert!(!matches(
            options,
            &[
                (Buffer::HttpMethod, b"GET"),
                (Buffer::HttpUserAgent, b"curl")
            ]
        ));
    }

    #[test]
    fn pcre_flag_reads_its_buffer() {
        assert!(matches(
            r#"pcre:"/^\/x\d+$/U";"#,
            &[(Buffer::HttpUri, b"/x42")]
        ));
        assert!(!matches(
            r#"pcre:"/^\/x\d+$/U";"#,
            &[(Buffer::HttpUri, b"/y42"), (Buffer::Packet, b"/x42")]
        ));
    }

    #[test]
    fn sticky_buffer_with_isdataat() {
        let options = r#"file_data; content:"MZ"; depth:2; isdataat:10,relative;"#;
        assert!(matches(options, &[(Buffer::FileData, b"MZ0123456789ab")]));
        assert!(!matches(options, &[(Buffer::FileData, b"MZ01")]));
    }

    #[test]
    fn urilen_tests_the_uri_length() {
        assert!(matches("urilen:>5;", &[(Buffer::HttpUri, b"/abcdef")]));
        assert!(!matches("urilen:>5;", &[(Buffer::HttpUri, b"/a")]));
        assert!(matches("urilen:2<>4,raw;", &[(Buffer::HttpRawUri, b"/ab")]));
        assert!(
            !matches("urilen:2<>4,raw;", &[(Buffer::HttpUri, b"/ab")]),
            "raw reads the raw URI"
        );
    }

    #[test]
    fn too_few_variable_slots_is_no_match_not_a_panic() {
        let runs =
            BufferRuns::compile(&rule("byte_extract:1,0,n; content:\"x\"; distance:n;").detection);
        assert_eq!(runs.vars(), 1);
        let mut pcre = PcreScratch::new(10_000, 1_000);
        let source = |_: Buffer| Some(&b"\x00x"[..]);
        assert!(!runs.matches(source, &mut [], &mut pcre, 1000).0);
        assert!(runs.matches(source, &mut [0], &mut pcre, 1000).0);
    }

    #[test]
    fn packet_only_rule_is_one_packet_run() {
        let runs = BufferRuns::compile(&rule(r#"content:"x"; pcre:"/y/R";"#).detection);
        assert_eq!(runs.buffers().collect::<Vec<_>>(), [Buffer::Packet]);
        assert!(matches(
            r#"content:"x"; pcre:"/y/R";"#,
            &[(Buffer::Packet, b"xy")]
        ));
    }
}

#[cfg(test)]
mod detect_tests {
    //! [`crate::ruleset::RuleSet::detect_app`]: candidates per buffer, evaluation per buffer.

    use super::*;
    use crate::load::rules_from_text;
    use crate::ruleset::{BufferKind, BuildOptions, FlowBits, PacketContext, RuleSet};

    fn rules(texts: &[&str]) -> RuleSet {
        let parsed = rules_from_text(&texts.join("\n")).unwrap_or_else(|e| panic!("{e}"));
        RuleSet::build(parsed, &BuildOptions::default())
    }

    fn ctx() -> PacketContext {
        PacketContext::for_tests(
            6,
            8080,
            true,
            Some(crate::ast::AppProto::Http),
            BufferKind::Stream,
        )
    }

    /// An HTTP event: buffers present, and which of them the event updated.
    struct Event<'a> {
        buffers: &'a [(Buffer, &'a [u8])],
        updated: &'a [Buffer],
    }

    impl AppBuffers for Event<'_> {
        fn get(&self, buffer: Buffer) -> Option<&[u8]> {
            self.buffers
                .iter()
                .find(|(b, _)| *b == buffer)
                .map(|(_, v)| *v)
        }
        fn updated(&self, buffer: Buffer) -> bool {
            self.updated.contains(&buffer)
        }
    }

    /// sids matching the event.
    fn sids(set: &RuleSet, event: &Event) -> Vec<u32> {
        let mut scratch = set.new_scratch();
        let mut out = Vec::new();
        set.detect_app(
            &ctx(),
            event,
            &mut FlowBits::default(),
            &mut scratch,
            &mut out,
        );
        out.iter().map(|id| set.rule(*id).sid).collect()
    }

    const URI_RULE: &str =
        r#"alert tcp any any -> any any (content:"/admin"; http_uri; nocase; sid:1;)"#;
    const HEADER_RULE: &str = r#"alert tcp any any -> any any (content:"evil"; http_user_agent; content:"POST"; http_method; sid:2;)"#;
    const BODY_RULE: &str =
        r#"alert tcp any any -> any any (file_data; content:"MZ"; depth:2; sid:3;)"#;
    const URILEN_RULE: &str = r#"alert tcp any any -> any any (urilen:>100; sid:4;)"#;

    #[test]
    fn uri_rule_matches_its_buffer_only() {
        let set = rules(&[URI_RULE]);
        let uri = Event {
            buffers: &[(Buffer::HttpUri, b"/ADMIN/x")],
            updated: &[Buffer::HttpUri],
        };
        assert_eq!(sids(&set, &uri), [1]);
        let packet_only = Event {
            buffers: &[(Buffer::Packet, b"GET /admin")],
            updated: &[Buffer::Packet],
        };
        assert!(sids(&set, &packet_only).is_empty());
    }

    #[test]
    fn http_rules_never_match_packets() {
        let set = rules(&[URI_RULE]);
        let mut scratch = set.new_scratch();
        let mut out = Vec::new();
        set.detect(
            &ctx(),
            b"GET /admin HTTP/1.1",
            &mut FlowBits::default(),
            &mut scratch,
            &mut out,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn rule_waits_until_all_its_buffers_are_present() {
        let set = rules(&[HEADER_RULE]);
        let method_only = Event {
            buffers: &[(Buffer::HttpMethod, b"POST")],
            updated: &[Buffer::HttpMethod],
        };
        assert!(sids(&set, &method_only).is_empty());
        let both = Event {
            buffers: &[
                (Buffer::HttpMethod, b"POST"),
                (Buffer::HttpUserAgent, b"evil-bot"),
            ],
            updated: &[Buffer::HttpUserAgent],
        };
        assert_eq!(sids(&set, &both), [2]);
    }

    #[test]
    fn rule_is_not_evaluated_when_none_of_its_buffers_changed() {
        let set = rules(&[URI_RULE]);
        let later = Event {
            buffers: &[(Buffer::HttpUri, b"/admin")],
            updated: &[Buffer::HttpHeader],
        };
        assert!(sids(&set, &later).is_empty());
    }

    #[test]
    fn sticky_file_data_rule_with_depth() {
        let set = rules(&[BODY_RULE]);
        let body = Event {
            buffers: &[(Buffer::FileData, b"MZ\x90\x00")],
            updated: &[Buffer::FileData],
        };
        assert_eq!(sids(&set, &body), [3]);
        let late = Event {
            buffers: &[(Buffer::FileData, b"xxMZ")],
            updated: &[Buffer::FileData],
        };
        assert!(sids(&set, &late).is_empty());
    }

    #[test]
    fn rule_without_fast_pattern_is_a_candidate_when_its_buffer_is_ready() {
        let set = rules(&[URILEN_RULE]);
        let long = vec![b'a'; 150];
        let event = Event {
            buffers: &[(Buffer::HttpUri, &long)],
            updated: &[Buffer::HttpUri],
        };
        assert_eq!(sids(&set, &event), [4]);
        let short = Event {
            buffers: &[(Buffer::HttpUri, b"/a")],
            updated: &[Buffer::HttpUri],
        };
        assert!(sids(&set, &short).is_empty());
    }

    #[test]
    fn header_checks_still_apply() {
        let set = rules(&[r#"alert tcp any any -> any 80 (content:"/admin"; http_uri; sid:5;)"#]);
        let uri = Event {
            buffers: &[(Buffer::HttpUri, b"/admin")],
            updated: &[Buffer::HttpUri],
        };
        assert!(
            sids(&set, &uri).is_empty(),
            "destination port 8080 is not 80"
        );
    }

    #[test]
    fn packet_rules_and_http_rules_live_side_by_side() {
        let set = rules(&[
            URI_RULE,
            r#"alert tcp any any -> any any (content:"admin"; sid:6;)"#,
            BODY_RULE,
        ]);
        let uri = Event {
            buffers: &[(Buffer::HttpUri, b"/admin")],
            updated: &[Buffer::HttpUri],
        };
        assert_eq!(sids(&set, &uri), [1]);
        let mut scratch = set.new_scratch();
        let mut out = Vec::new();
        set.detect(
            &ctx(),
            b"GET /admin",
            &mut FlowBits::default(),
            &mut scratch,
            &mut out,
        );
        assert_eq!(
            out.iter().map(|id| set.rule(*id).sid).collect::<Vec<_>>(),
            [6]
        );
    }
}

#[cfg(test)]
mod growing_tests {
    //! [`HttpScanMemory`]: bodies scanned in their new bytes find what whole scans find.

    use super::detect_tests_support::*;
    use super::*;
    use crate::ruleset::HttpScanMemory;

    const SPLIT_RULE: &str = r#"alert tcp any any -> any any (file_data; content:"evilpayload"; content:"trigger"; distance:0; sid:1;)"#;

    /// sids matching each event in turn, with one memory across the events.
    fn series(rules: &[&str], events: &[Event]) -> Vec<Vec<u32>> {
        let set = rules_of(rules);
        let mut memory = HttpScanMemory::default();
        let mut scratch = set.new_scratch();
        events
            .iter()
            .map(|event| sids_with(&set, event, &mut memory, &mut scratch))
            .collect()
    }

    fn body(bytes: &[u8]) -> Event<'_> {
        Event {
            buffers: vec![(Buffer::FileData, bytes)],
            updated: vec![Buffer::FileData],
        }
    }

    #[test]
    fn memory_is_small_enough_for_every_http_flow() {
        assert!(std::mem::size_of::<HttpScanMemory>() <= 40);
    }

    #[test]
    fn fast_pattern_in_an_earlier_event_still_makes_the_rule_a_candidate() {
        let out = series(
            &[SPLIT_RULE],
            &[
                body(b"xx evilpayload yy"),
                body(b"xx evilpayload yy zz trigger"),
            ],
        );
        assert_eq!(out, [vec![], vec![1]]);
    }

    #[test]
    fn pattern_split_across_events_is_found() {
        let out = series(
            &[SPLIT_RULE],
            &[
                body(b"aaaaaaaaaaevilpay"),
                body(b"aaaaaaaaaaevilpayload trigger"),
            ],
        );
        assert_eq!(out, [vec![], vec![1]]);
    }

    #[test]
    fn a_new_message_forgets_what_the_last_body_scanned() {
        let old = [b'x'; 40];
        let mut new = b"evilpayload trigger".to_vec();
        new.resize(50, b'.');
        let mut next = body(&new);
        next.buffers.push((Buffer::HttpStatCode, b"200"));
        next.updated.push(Buffer::HttpStatCode);
        assert_eq!(
            series(&[SPLIT_RULE], &[body(&old), next]),
            [vec![], vec![1]]
        );
    }

    #[test]
    fn a_shorter_body_is_scanned_from_its_start() {
        let old = [b'x'; 60];
        let mut new = b"evilpayload trigger".to_vec();
        new.resize(50, b'.');
        assert_eq!(
            series(&[SPLIT_RULE], &[body(&old), body(&new)]),
            [vec![], vec![1]]
        );
    }

    #[test]
    fn a_body_the_event_did_not_grow_is_not_scanned_again() {
        // The rule also reads the packet, so every event runs the body's matcher.
        let rule = r#"alert tcp any any -> any any (content:"PKT"; file_data; content:"evilpayload"; fast_pattern; sid:1;)"#;
        let set = rules_of(&[rule]);
        let (mut memory, mut scratch) = (HttpScanMemory::default(), set.new_scratch());
        let grown = Event {
            buffers: vec![
                (Buffer::FileData, b"xx evilpayload"),
                (Buffer::Packet, b"--"),
            ],
            updated: vec![Buffer::FileData, Buffer::Packet],
        };
        assert!(sids_with(&set, &grown, &mut memory, &mut scratch).is_empty());
        let packet_only = |body: &'static [u8]| Event {
            buffers: vec![(Buffer::FileData, body), (Buffer::Packet, b"PKT")],
            updated: vec![Buffer::Packet],
        };
        let event = packet_only(b"xx evilpayload");
        assert_eq!(sids_with(&set, &event, &mut memory, &mut scratch), [1]);
        assert_eq!(scratch.stats().http_bodies_reused, 1);
        // A body the memory does not cover is scanned: here it lacks the pattern.
        let event = packet_only(b"xx evilpay");
        assert!(sids_with(&set, &event, &mut memory, &mut scratch).is_empty());
        assert_eq!(scratch.stats().http_bodies_reused, 1);
    }

    #[test]
    fn a_request_never_scans_the_response_body_for_to_client_rules() {
        let set = rules_of(&[
            r#"alert tcp any any -> any any (flow:to_client; content:"/get"; http_uri; file_data; content:"evilpayload"; fast_pattern; sid:1;)"#,
        ]);
        let mut scratch = set.new_scratch();
        let request = Event {
            buffers: vec![
                (Buffer::HttpUri, b"/get"),
                (Buffer::FileData, b"xx evilpayload"),
            ],
            updated: vec![Buffer::HttpUri],
        };
        let (mut memory, other) = (HttpScanMemory::default(), HttpScanMemory::default());
        let sids = sids_in(
            &set,
            &request_ctx(),
            &request,
            &mut memory,
            &other,
            &mut scratch,
        );
        assert!(sids.is_empty());
        assert_eq!(
            (scratch.stats().candidates, scratch.stats().pattern_hits),
            (0, 0)
        );
        // The response direction still finds it.
        assert_eq!(sids_with(&set, &request, &mut memory, &mut scratch), [1]);
    }

    #[test]
    fn a_memory_made_by_another_address_pairs_matcher_is_not_replayed() {
        // 10.0.0.1 (the client of `ctx()`) is used by two rules: it gets an address class, and
        // the response direction (server -> client) and the request direction (client ->
        // server) get file_data matchers over different pattern lists.
        let set = rules_of(&[
            r#"alert tcp any any -> 10.0.0.1 any (file_data; content:"evilpayload"; sid:1;)"#,
            r#"alert tcp any any -> any any (content:"/get"; http_uri; file_data; content:"evilpayload"; fast_pattern; sid:2;)"#,
            r#"alert tcp any any -> 10.0.0.1 any (file_data; content:"aaaa"; sid:3;)"#,
        ]);
        let mut scratch = set.new_scratch();
        let (mut responses, mut requests) = (HttpScanMemory::default(), HttpScanMemory::default());
        let response = body(b"xx evilpayload");
        assert_eq!(
            sids_with(&set, &response, &mut responses, &mut scratch),
            [1]
        );
        let request = Event {
            buffers: vec![
                (Buffer::HttpUri, b"/get"),
                (Buffer::FileData, b"xx evilpayload"),
            ],
            updated: vec![Buffer::HttpUri],
        };
        let sids = sids_in(
            &set,
            &request_ctx(),
            &request,
            &mut requests,
            &responses,
            &mut scratch,
        );
        assert_eq!(sids, [2]);
        assert_eq!(scratch.stats().http_bodies_reused, 0);
    }

    #[test]
    fn the_other_directions_finished_body_is_taken_from_its_memory() {
        let rule = r#"alert tcp any any -> any any (content:"/get"; http_uri; file_data; content:"evilpayload"; fast_pattern; sid:1;)"#;
        let upload_rule =
            r#"alert tcp any any -> any any (content:"upload"; http_client_body; sid:2;)"#;
        let set = rules_of(&[rule, upload_rule]);
        let mut scratch = set.new_scratch();
        let (mut responses, mut requests) = (HttpScanMemory::default(), HttpScanMemory::default());
        let response = body(b"xx evilpayload");
        assert!(sids_with(&set, &response, &mut responses, &mut scratch).is_empty());
        // A request event: the URI is new, the response body is the other direction's.
        let request = Event {
            buffers: vec![
                (Buffer::HttpUri, b"/get"),
                (Buffer::FileData, b"xx evilpayload"),
            ],
            updated: vec![Buffer::HttpUri],
        };
        let sids = sids_with_other(&set, &request, &mut requests, &responses, &mut scratch);
        assert_eq!(sids, [1]);
        assert_eq!(scratch.stats().http_bodies_reused, 1);
        // A memory of another body of the same length says nothing about this one.
        let mut uploads = HttpScanMemory::default();
        let upload = Event {
            buffers: vec![(Buffer::HttpClientBody, b"xx -----------")],
            updated: vec![Buffer::HttpClientBody],
        };
        sids_with(&set, &upload, &mut uploads, &mut scratch);
        let sids = sids_with_other(&set, &request, &mut requests, &uploads, &mut scratch);
        assert_eq!(sids, [1]);
        assert_eq!(scratch.stats().http_bodies_reused, 1);
    }

    #[test]
    fn more_patterns_than_remembered_fall_back_to_whole_scans() {
        let count = REMEMBERED_HITS + 6;
        let texts: Vec<String> = (0..count)
            .map(|i| {
                format!(
                    r#"alert tcp any any -> any any (file_data; content:"marker{i:03}"; content:"theend"; distance:0; sid:{};)"#,
                    i + 1
                )
            })
            .collect();
        let rules: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut first: Vec<u8> = Vec::new();
        for i in 0..count {
            first.extend_from_slice(format!("marker{i:03} ").as_bytes());
        }
        let mut second = first.clone();
        second.extend_from_slice(b"theend");
        let mut third = second.clone();
        third.extend_from_slice(b" more");
        let out = series(&rules, &[body(&first), body(&second), body(&third)]);
        let all: Vec<u32> = (1..=count as u32).collect();
        assert_eq!(out[0], Vec::<u32>::new());
        assert_eq!(out[1], all);
        assert_eq!(out[2], all);
    }
}

#[cfg(test)]
mod detect_tests_support {
    //! Rule sets and HTTP events for the detection tests.

    use super::*;
    use crate::load::rules_from_text;
    use crate::ruleset::{
        BufferKind, BuildOptions, FlowBits, HttpScanMemory, PacketContext, RuleSet, Scratch,
    };

    pub fn rules_of(texts: &[&str]) -> RuleSet {
        let parsed = rules_from_text(&texts.join("\n")).unwrap_or_else(|e| panic!("{e}"));
        RuleSet::build(parsed, &BuildOptions::default())
    }

    /// An HTTP event: buffers present, and which of them the event updated.
    pub struct Event<'a> {
        pub buffers: Vec<(Buffer, &'a [u8])>,
        pub updated: Vec<Buffer>,
    }

    impl AppBuffers for Event<'_> {
        fn get(&self, buffer: Buffer) -> Option<&[u8]> {
            self.buffers
                .iter()
                .find(|(b, _)| *b == buffer)
                .map(|(_, v)| *v)
        }
        fn updated(&self, buffer: Buffer) -> bool {
            self.updated.contains(&buffer)
        }
    }

    /// A response packet (server 10.0.0.2 to client 10.0.0.1) of an HTTP flow.
    pub fn ctx() -> PacketContext {
        PacketContext::for_tests(
            6,
            80,
            false,
            Some(crate::ast::AppProto::Http),
            BufferKind::Stream,
        )
    }

    /// Sorted sids matching `event`.
    pub fn sids_with(
        set: &RuleSet,
        event: &Event,
        memory: &mut HttpScanMemory,
        scratch: &mut Scratch,
    ) -> Vec<u32> {
        sids_with_other(set, event, memory, &HttpScanMemory::default(), scratch)
    }

    /// A request packet (client 10.0.0.1 to server 10.0.0.2) of an HTTP flow.
    pub fn request_ctx() -> PacketContext {
        PacketContext::for_tests(
            6,
            80,
            true,
            Some(crate::ast::AppProto::Http),
            BufferKind::Stream,
        )
    }

    /// [`sids_with`] with the other direction's memory.
    pub fn sids_with_other(
        set: &RuleSet,
        event: &Event,
        memory: &mut HttpScanMemory,
        other: &HttpScanMemory,
        scratch: &mut Scratch,
    ) -> Vec<u32> {
        sids_in(set, &ctx(), event, memory, other, scratch)
    }

    /// Sorted sids matching `event` of a packet in `ctx`, with both directions' memories.
    pub fn sids_in(
        set: &RuleSet,
        ctx: &PacketContext,
        event: &Event,
        memory: &mut HttpScanMemory,
        other: &HttpScanMemory,
        scratch: &mut Scratch,
    ) -> Vec<u32> {
        let mut out = Vec::new();
        set.detect_app_with_memory(
            ctx,
            event,
            memory,
            other,
            &mut FlowBits::default(),
            scratch,
            &mut out,
        );
        let mut sids: Vec<u32> = out.iter().map(|id| set.rule(*id).sid).collect();
        sids.sort_unstable();
        sids
    }
}
