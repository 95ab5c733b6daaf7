//! Rule groups: which rules a packet can match, found with one multi-pattern pass per group.
//!
//! Rules are split by protocol class (tcp, udp, icmp, other), flow direction (a
//! `flow:to_server` rule joins only the to-server side; a rule without one joins both) and
//! address class pair (a rule joins the (source class, destination class) pairs its addresses
//! can match, see [`crate::addr`]). A rule whose header names an application protocol
//! (`alert tls`) joins its protocol's group, scanned only in flows detected as that protocol.
//! The others are split, for tcp and udp, by port as Snort does: a rule naming specific
//! destination ports joins those ports' destination groups (a `<>` rule also joins the same
//! ports' source groups); failing that, specific source ports place it in source groups;
//! otherwise it is generic (`ip` rules are generic in every class). A packet runs its class,
//! direction and class pair's generic group plus its destination-port, source-port and
//! application-protocol groups when they exist. Port groups hold only their
//! port-specific rules, so the big generic automaton is built once rather than copied into
//! every port group (that copy cost ~300 MiB and 2 s on ET Open); port groups with the same
//! rules share one compiled [`Group`].
//!
//! Rules without a fast pattern (ET Open has ~2,600 IP-reputation rules of that kind, each with
//! a long address list) are indexed by address when a side's list is not settled by the
//! group's class pair ([`AddressBook::index_key`]): a packet makes them candidates only when
//! its source or destination falls in one of those ranges. The rest are candidates in every
//! packet of their group.
//!
//! Each group has one matcher ([`crate::mpm`], chosen by `BuildOptions::mpm`) over its rules'
//! fast patterns, each with its own case sensitivity. With `hash` and `hs` the 1-3 byte
//! patterns are in the same matcher (one pass per buffer); with `ac` they stay out of the big
//! automaton (they keep it away from its root state) in a small DFA of their own. Groups whose
//! pattern lists are equal share one compiled matcher. A hit only makes a rule a *candidate*
//! (every option, the fast pattern's content included, is then evaluated in full), so the
//! prefilter only needs to be sound: it must never miss a rule that can match. Hits ending
//! at or before a caller's `scan_from` are ignored and the bytes before
//! `scan_from - (longest pattern - 1)` are not scanned (`RuleSet::detect_from`).
//! Not here: evaluation ([`crate::eval`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use aho_corasick::AhoCorasickKind;

use crate::addr::{self, AddressBook, SetId};
use crate::ast::{AppProto, Content, DetectOption, FastPattern, PortSet, Protocol, Rule, Value};
use crate::mpm::{self, AcMatcher, MpmInput, MpmKind, MpmPattern, MpmScratch, MultiPatternMatcher};

/// A port set naming more ports than this is treated as "any" for grouping (the header check
/// still applies it exactly). Keeps the number of groups and automatons small.
pub const PORT_GROUP_MAX_PORTS: usize = 512;

/// The fast pattern of a rule: the bytes it contributes to its group's matcher and whether
/// they match ASCII case-insensitively; None when the rule has no non-negated content (it is
/// then a candidate in every packet of its group).
pub fn fast_pattern(rule: &Rule) -> Option<(Vec<u8>, bool)> {
    let c = fast_pattern_content(rule)?;
    Some((c.pattern[fast_pattern_range(c)].to_vec(), c.nocase))
}

/// Which bytes of its content a fast pattern is: the `fast_pattern:offset,length` slice when
/// it lies inside the pattern (else the whole pattern), cut to [`MAX_PREFILTER_PATTERN`] bytes.
/// A hit of the fast pattern ending at `end` means the content would start at `end - range.end`.
pub(crate) fn fast_pattern_range(c: &Content) -> std::ops::Range<usize> {
    let range = match c.fast_pattern {
        FastPattern::Slice { offset, length } => {
            let end = offset.saturating_add(length).min(c.pattern.len());
            if offset < end {
                offset..end
            } else {
                0..c.pattern.len()
            }
        }
        _ => 0..c.pattern.len(),
    };
    range.start..range.end.min(range.start + MAX_PREFILTER_PATTERN)
}

/// Fast patterns longer than this contribute only their first bytes to the matcher: a
/// candidate's content is verified in full anyway, 32 bytes are as selective as any longer
/// literal, and the longest pattern sets the overlap every incremental scan (growing HTTP
/// bodies, stream data) re-reads and the size of the compiled databases. A prefix ends no
/// later than the content, so [`fast_pattern_bound`] still holds for it.
pub const MAX_PREFILTER_PATTERN: usize = 32;

/// The content a rule's fast pattern comes from (its `buffer` says which buffer to scan).
pub fn fast_pattern_content(rule: &Rule) -> Option<&Content> {
    let contents = rule.detection.iter().filter_map(|o| match o {
        DetectOption::Content(c) if !c.negated && !c.pattern.is_empty() => Some(c),
        _ => None,
    });
    let mut best: Option<&Content> = None;
    for c in contents {
        if c.fast_pattern != FastPattern::No {
            best = Some(c);
            break;
        }
        if best.is_none_or(|b| c.pattern.len() > b.pattern.len()) {
            best = Some(c);
        }
    }
    best
}

/// Where an occurrence of a rule's fast pattern must end for the rule to match: the end of
/// its content's absolute `offset` + `depth` window. `u32::MAX` when unbounded (a relative
/// content, no depth, or a byte_extract variable). Hits past it are not candidates: a
/// 2-byte pattern anchored near the start of a payload would otherwise make its rule a
/// candidate in nearly every large segment.
pub fn fast_pattern_bound(rule: &Rule) -> u32 {
    let Some(c) = fast_pattern_content(rule) else {
        return u32::MAX;
    };
    let offset = match c.offset {
        None => 0,
        Some(Value::Literal(offset)) => offset,
        Some(Value::Var(_)) => return u32::MAX,
    };
    match c.depth {
        Some(Value::Literal(depth)) if !c.is_relative() => {
            u32::try_from((offset + depth).max(0)).unwrap_or(u32::MAX)
        }
        _ => u32::MAX,
    }
}

/// Fast patterns shorter than this stay out of the main matcher (short patterns keep an
/// automaton away from its root state and hit constantly, which made ET Open's scan several
/// times slower); they get a small aho-corasick DFA of their own (fast, and small for few
/// patterns).
pub const MIN_AUTOMATON_PATTERN: usize = 4;

/// A matcher over distinct fast patterns and the rules each stands for (pattern id = index).
#[derive(Debug)]
struct PatternSet {
    matcher: Arc<dyn MultiPatternMatcher>,
    /// The rules of each pattern id, each with its [`fast_pattern_bound`].
    pattern_rules: Vec<Box<[RuleBound]>>,
}

/// Compiled matchers by their (canonically ordered) pattern list: port groups that differ only
/// in rules without fast patterns, or whose rules share fast patterns, compile once (a
/// Vectorscan compile costs milliseconds per set).
type MatcherCache = HashMap<(Vec<(Vec<u8>, bool)>, bool), Arc<dyn MultiPatternMatcher>>;

/// What group builds share: compiled matchers and address indexes.
#[derive(Default)]
struct BuildCaches {
    matchers: MatcherCache,
    /// By their `(rule, key set)` list; None when over [`ADDRESS_INDEX_MAX_ENTRIES`].
    address_indexes: HashMap<Vec<(u32, SetId)>, Option<Arc<AddressIndex>>>,
}

/// `(pattern bytes, nocase, rule)`.
type Entry<'a> = (&'a [u8], bool, u32);

/// A rule and its [`fast_pattern_bound`].
type RuleBound = (u32, u32);

/// The distinct `(pattern, nocase)` of `entries` in canonical order, so that equal pattern
/// lists get equal ids and share a matcher.
fn canonical_order<'a>(entries: &[Entry<'a>]) -> Vec<(&'a [u8], bool)> {
    let mut order: Vec<(&[u8], bool)> = entries.iter().map(|&(p, nocase, _)| (p, nocase)).collect();
    order.sort_unstable();
    order.dedup();
    order
}

fn cache_key(order: &[(&[u8], bool)], short: bool) -> (Vec<(Vec<u8>, bool)>, bool) {
    let list = order
        .iter()
        .map(|&(b, nocase)| (b.to_vec(), nocase))
        .collect();
    (list, short)
}

/// Patterns numbered by their position (the id [`PatternSet::pattern_rules`] is indexed by).
fn numbered<'a>(order: &[(&'a [u8], bool)]) -> Vec<MpmPattern<'a>> {
    order
        .iter()
        .enumerate()
        .map(|(id, &(bytes, nocase))| MpmPattern {
            bytes,
            nocase,
            id: id as u32,
        })
        .collect()
}

/// Compile, on several threads, the Vectorscan matchers that the groups of `member_lists`
/// will ask for (a Vectorscan compile costs milliseconds per set; aho-corasick and `hash`
/// build in microseconds and are left to the group build). Failures are left out: the group
/// build tries again and falls back.
fn precompile_vectorscan(
    member_lists: &[&[u32]],
    patterns: &[Option<(Vec<u8>, bool)>],
    kind: MpmKind,
    cache: &mut MatcherCache,
    disk: Option<&mpm::DiskCache>,
) {
    if !mpm::VECTORSCAN_BUILT || kind == MpmKind::Ac {
        return;
    }
    let mut keys = Vec::new();
    for members in member_lists {
        let (long, _) = split_patterns(members, patterns, kind);
        let order = canonical_order(&long);
        if !order.is_empty() && kind.resolve(order.len()) == MpmKind::Hs {
            keys.push(cache_key(&order, false));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let built: Vec<Vec<(usize, Arc<dyn MultiPatternMatcher>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(keys.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((list, _)) = keys.get(i) else { break };
                        let order: Vec<(&[u8], bool)> = list
                            .iter()
                            .map(|(b, nocase)| (b.as_slice(), *nocase))
                            .collect();
                        if let Ok(m) = mpm::build_matcher_cached(kind, &numbered(&order), disk) {
                            done.push((i, Arc::from(m)));
                        }
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().filter_map(|w| w.join().ok()).collect()
    });
    let mut keys: Vec<Option<_>> = keys.into_iter().map(Some).collect();
    for (i, matcher) in built.into_iter().flatten() {
        if let Some(key) = keys[i].take() {
            cache.insert(key, matcher);
        }
    }
}

/// The fast-pattern entries of a group's members: (main matcher, short-pattern DFA). Vectorscan
/// and `hash` take short literals in the same matcher (one pass per buffer; a separate short
/// pass measured 3x slower with Vectorscan); aho-corasick gets them in a separate small DFA.
fn split_patterns<'a>(
    members: &[u32],
    patterns: &'a [Option<(Vec<u8>, bool)>],
    kind: MpmKind,
) -> (Vec<Entry<'a>>, Vec<Entry<'a>>) {
    let mut long = Vec::new();
    let mut short = Vec::new();
    for &r in members {
        match &patterns[r as usize] {
            Some((p, nocase)) if p.len() < MIN_AUTOMATON_PATTERN => {
                short.push((p.as_slice(), *nocase, r))
            }
            Some((p, nocase)) => long.push((p.as_slice(), *nocase, r)),
            None => {}
        }
    }
    if kind.resolve(long.len() + short.len()) != MpmKind::Ac {
        long.append(&mut short);
    }
    (long, short)
}

impl PatternSet {
    /// `Ok(None)` for no patterns; `Err(rules)` when no back end can build them (size
    /// limits), so the caller can keep those rules as always-candidates. `short` sets always
    /// use an aho-corasick DFA.
    fn build(
        entries: &[Entry<'_>],
        bounds: &[u32],
        kind: MpmKind,
        short: bool,
        cache: &mut MatcherCache,
    ) -> Result<Option<PatternSet>, Vec<u32>> {
        let mut by_pattern: HashMap<(&[u8], bool), Vec<RuleBound>> = HashMap::new();
        for &(p, nocase, r) in entries {
            let bound = bounds.get(r as usize).copied().unwrap_or(u32::MAX);
            by_pattern.entry((p, nocase)).or_default().push((r, bound));
        }
        let order = canonical_order(entries);
        if order.is_empty() {
            return Ok(None);
        }
        let key = cache_key(&order, short);
        let patterns = numbered(&order);
        let built = if let Some(matcher) = cache.get(&key) {
            Ok(Arc::clone(matcher))
        } else {
            let built = if short {
                AcMatcher::build(&patterns, Some(AhoCorasickKind::DFA))
                    .map(|m| Arc::new(m) as Arc<dyn MultiPatternMatcher>)
            } else {
                mpm::build_matcher(kind, &patterns).map(Arc::from)
            };
            if let Ok(matcher) = &built {
                cache.insert(key, Arc::clone(matcher));
            }
            built
        };
        match built {
            Ok(matcher) => {
                let pattern_rules = order
                    .iter()
                    .map(|p| by_pattern[p].clone().into_boxed_slice())
                    .collect();
                Ok(Some(PatternSet {
                    matcher,
                    pattern_rules,
                }))
            }
            Err(err) => {
                tracing::warn!(
                    "rule group matcher not built ({err}); its rules are checked on every packet"
                );
                Err(entries.iter().map(|&(_, _, r)| r).collect())
            }
        }
    }

    /// Mark the rules of every pattern occurring in `input` and ending after `scan_from`
    /// (overlapping occurrences included) with each occurrence's end; returns the number of
    /// hits. Only the bytes from `scan_from - (longest pattern - 1)` on are scanned.
    fn scan(
        &self,
        input: MpmInput<'_>,
        scan_from: usize,
        scratch: &mut MpmScratch,
        mark: &mut impl FnMut(u32, Option<usize>),
    ) -> u64 {
        let start = scan_from
            .saturating_sub(self.matcher.max_pattern_len().saturating_sub(1))
            .min(input.raw.len());
        let input = MpmInput {
            raw: &input.raw[start..],
            lowered: input.lowered.get(start..).unwrap_or_default(),
        };
        let mut hits = 0;
        let rules = &self.pattern_rules;
        self.matcher.scan_input(input, scratch, &mut |id, end| {
            let end = start + end;
            if end > scan_from {
                hits += 1;
                if let Some(list) = rules.get(id as usize) {
                    for &(r, bound) in list.iter() {
                        if end <= bound as usize {
                            mark(r, Some(end));
                        }
                    }
                }
            }
        });
        hits
    }

    fn memory_usage(&self) -> usize {
        self.matcher.memory_usage()
            + self
                .pattern_rules
                .iter()
                .map(|p| p.len() * 8 + 16)
                .sum::<usize>()
    }
}

#[derive(Debug)]
pub(crate) struct Group {
    /// Fast patterns of [`MIN_AUTOMATON_PATTERN`] bytes or more.
    long: Option<PatternSet>,
    /// Shorter fast patterns.
    short: Option<PatternSet>,
    /// Shared by the groups whose address-indexed rules and keys are the same (ET Open's
    /// IP-reputation rules are `alert ip`, in every slot and class pair).
    by_address: Arc<AddressIndex>,
    always: Box<[u32]>,
    /// Rules without a fast pattern that test `stream-event`: candidates only for packets on
    /// which the stream tracker raised an event (most packets raise none).
    on_stream_events: Box<[u32]>,
}

/// Upper bound on (elementary interval, rule) pairs one address index may hold; past it the
/// rules stay on the always-candidate list (correct, slower).
pub const ADDRESS_INDEX_MAX_ENTRIES: usize = 4_000_000;

/// Rules keyed by address ranges: the ranges are cut into disjoint elementary intervals, each
/// listing the rules whose ranges cover it (CSR layout).
#[derive(Debug, Default)]
struct AddressIndex {
    /// Start of each elementary interval, ascending; interval i is `[starts[i], starts[i+1])`.
    starts: Vec<u128>,
    /// Rules of interval i: `rules[offsets[i]..offsets[i+1]]`.
    offsets: Vec<u32>,
    rules: Vec<u32>,
}

impl AddressIndex {
    /// Index each `(rule, set)` by the set's addresses; None when it would exceed the entry
    /// bound.
    fn build(keyed: &[(u32, SetId)], addrs: &AddressBook) -> Option<AddressIndex> {
        let mut starts: Vec<u128> = Vec::new();
        for &(_, set) in keyed {
            for (lo, hi) in addrs.key_ranges(set) {
                starts.push(lo);
                if let Some(next) = hi.checked_add(1) {
                    starts.push(next);
                }
            }
        }
        starts.sort_unstable();
        starts.dedup();
        let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); starts.len()];
        let mut entries = 0usize;
        for (rule, set) in keyed {
            for (lo, hi) in addrs.key_ranges(*set) {
                let first = starts.partition_point(|&p| p < lo);
                let end = match hi.checked_add(1) {
                    Some(next) => starts.partition_point(|&p| p < next),
                    None => starts.len(),
                };
                entries += end - first;
                if entries > ADDRESS_INDEX_MAX_ENTRIES {
                    return None;
                }
                for bucket in &mut buckets[first..end] {
                    if bucket.last() != Some(rule) {
                        bucket.push(*rule);
                    }
                }
            }
        }
        let mut offsets = Vec::with_capacity(starts.len() + 1);
        let mut rules = Vec::with_capacity(entries);
        offsets.push(0);
        for bucket in buckets {
            rules.extend(bucket);
            offsets.push(rules.len() as u32);
        }
        Some(AddressIndex {
            starts,
            offsets,
            rules,
        })
    }

    fn lookup(&self, addr: IpAddr) -> &[u32] {
        let key = addr::index_key_of(addr);
        let i = self.starts.partition_point(|&p| p <= key);
        if i == 0 {
            return &[];
        }
        let (from, to) = (self.offsets[i - 1] as usize, self.offsets[i] as usize);
        &self.rules[from..to]
    }

    fn memory_usage(&self) -> usize {
        self.starts.len() * 16 + self.offsets.len() * 4 + self.rules.len() * 4
    }
}

/// Whether a rule needs a stream event to match (a `stream-event` option, never negated).
fn tests_stream_event(rule: &Rule) -> bool {
    rule.detection
        .iter()
        .any(|o| matches!(o, DetectOption::StreamEvent(_)))
}

/// What a group is built from besides its members.
struct GroupInput<'a> {
    patterns: &'a [Option<(Vec<u8>, bool)>],
    bounds: &'a [u32],
    rules: &'a [Rule],
    addrs: &'a AddressBook,
    kind: MpmKind,
}

impl Group {
    /// The group of `members` for packets of address class pair `pair`.
    fn build(
        members: &[u32],
        pair: usize,
        input: &GroupInput<'_>,
        caches: &mut BuildCaches,
    ) -> Group {
        let GroupInput {
            patterns,
            bounds,
            rules,
            addrs,
            kind,
        } = *input;
        let (long, short) = split_patterns(members, patterns, kind);
        let mut always = Vec::new();
        let mut keyed = Vec::new();
        let mut on_stream_events = Vec::new();
        for &r in members {
            if patterns[r as usize].is_none() {
                let rule = &rules[r as usize];
                if tests_stream_event(rule) {
                    on_stream_events.push(r);
                    continue;
                }
                match addrs.index_key(r as usize, rule, pair) {
                    Some(set) => keyed.push((r, set)),
                    None => always.push(r),
                }
            }
        }
        let keyed_rules: Vec<u32> = keyed.iter().map(|&(r, _)| r).collect();
        let by_address = match caches.address_indexes.entry(keyed) {
            std::collections::hash_map::Entry::Occupied(known) => known.get().clone(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let built = AddressIndex::build(slot.key(), addrs).map(Arc::new);
                if built.is_none() {
                    tracing::warn!(
                        "address index over {} rules exceeds {ADDRESS_INDEX_MAX_ENTRIES} entries; they are checked on every packet",
                        slot.key().len()
                    );
                }
                slot.insert(built).clone()
            }
        };
        let by_address = by_address.unwrap_or_else(|| {
            // Over the bound: the rules are candidates of every packet instead.
            always.extend(keyed_rules);
            Arc::default()
        });
        let cache = &mut caches.matchers;
        let mut set = |entries: &[Entry<'_>], short| {
            PatternSet::build(entries, bounds, kind, short, cache).unwrap_or_else(|rules| {
                always.extend(rules);
                None
            })
        };
        let long = set(&long, false);
        let short = set(&short, true);
        always.sort_unstable();
        always.dedup();
        Group {
            long,
            short,
            by_address,
            always: always.into_boxed_slice(),
            on_stream_events: on_stream_events.into_boxed_slice(),
        }
    }

    /// Mark every candidate rule of this group for a buffer between `addrs`: rules whose fast
    /// pattern occurs ending after byte `scan_from` (with the end of each such occurrence),
    /// rules indexed by an address in `addrs`, and rules without a fast pattern (those testing
    /// `stream-event` only when `stream_events` is not empty; these two kinds with `None`).
    /// `mark` dedupes. Returns the number of pattern hits.
    pub(crate) fn collect(
        &self,
        input: MpmInput<'_>,
        scan_from: usize,
        scratch: &mut MpmScratch,
        addrs: [IpAddr; 2],
        stream_events: u64,
        mut mark: impl FnMut(u32, Option<usize>),
    ) -> u64 {
        for addr in addrs {
            for &r in self.by_address.lookup(addr) {
                mark(r, None);
            }
        }
        let mut hits = 0;
        for set in self.sets() {
            hits += set.scan(input, scan_from, scratch, &mut mark);
        }
        for &r in self.always.iter() {
            mark(r, None);
        }
        if stream_events != 0 {
            for &r in self.on_stream_events.iter() {
                mark(r, None);
            }
        }
        hits
    }

    fn sets(&self) -> impl Iterator<Item = &PatternSet> {
        [&self.long, &self.short].into_iter().flatten()
    }

    /// Whether a scan of this group reads the lowercased buffer.
    pub(crate) fn wants_lowered(&self) -> bool {
        self.sets().any(|s| s.matcher.wants_lowered())
    }

    /// Length of the longest fast pattern in this group's matchers (0 for none).
    pub(crate) fn max_pattern_len(&self) -> usize {
        self.sets()
            .map(|s| s.matcher.max_pattern_len())
            .max()
            .unwrap_or(0)
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.sets().map(PatternSet::memory_usage).sum::<usize>()
            + (self.always.len() + self.on_stream_events.len()) * 4
            + self.by_address.memory_usage()
    }

    fn pattern_count(&self) -> usize {
        self.sets().map(|p| p.pattern_rules.len()).sum()
    }
}

/// The groups of one protocol class.
#[derive(Debug, Default)]
pub(crate) struct ClassGroups {
    generic: Option<Arc<Group>>,
    by_dst: HashMap<u16, Arc<Group>>,
    by_src: HashMap<u16, Arc<Group>>,
    /// Rules whose header names an application protocol (`alert tls`, `alert dns` ...), by
    /// [`AppProto`] index: they can match only flows detected as that protocol, so only those
    /// flows scan their patterns (ET Open's Suricata flavour has ~1,100 `alert tls` rules, most
    /// of them without a port, which would otherwise be scanned in every TCP packet).
    by_app: [Option<Arc<Group>>; AppProto::ALL.len()],
}

impl ClassGroups {
    /// The groups to run for a packet: generic, destination port, source port, and its flow's
    /// application protocol.
    pub(crate) fn for_packet(
        &self,
        src_port: u16,
        dst_port: u16,
        app_proto: Option<AppProto>,
    ) -> [Option<&Group>; 4] {
        [
            self.generic.as_deref(),
            self.by_dst.get(&dst_port).map(|g| &**g),
            self.by_src.get(&src_port).map(|g| &**g),
            app_proto.and_then(|p| self.by_app[p as usize].as_deref()),
        ]
    }
}

/// Protocol classes (tcp, udp, icmp (1 and 58), everything else) times flow direction (to
/// client, to server): a rule with `flow:to_server` can never match a packet going the other
/// way, so each direction's automaton holds only the rules that can match it (about half of
/// ET Open's patterns each, which scans faster).
pub(crate) const SLOTS: usize = 8;

fn class_of_ip_proto(ip_proto: u8) -> usize {
    match ip_proto {
        6 => 0,
        17 => 1,
        1 | 58 => 2,
        _ => 3,
    }
}

/// The slot of a packet.
pub(crate) fn slot_of(ip_proto: u8, to_server: bool) -> usize {
    class_of_ip_proto(ip_proto) * 2 + usize::from(to_server)
}

/// The slots a rule belongs to.
fn slots_of(rule: &Rule) -> impl Iterator<Item = usize> {
    let classes: &'static [usize] = match rule.protocol {
        Protocol::Tcp => &[0],
        Protocol::Udp => &[1],
        Protocol::Icmp => &[2],
        Protocol::Ip => &[0, 1, 2, 3],
        Protocol::TcpOrUdp => &[0, 1],
    };
    let directions: &'static [usize] = match rule.flow.to_server {
        Some(true) => &[1],
        Some(false) => &[0],
        None => &[0, 1],
    };
    classes
        .iter()
        .flat_map(move |c| directions.iter().map(move |d| c * 2 + d))
}

/// The explicit ports of a set, when it names few enough to group by.
fn specific_ports(set: &PortSet) -> Option<Vec<u16>> {
    if set.include.is_empty() || !set.exclude.is_empty() {
        return None;
    }
    let count: usize = set
        .include
        .iter()
        .map(|&(lo, hi)| usize::from(hi.saturating_sub(lo)) + 1)
        .sum();
    if count > PORT_GROUP_MAX_PORTS {
        return None;
    }
    let mut ports: Vec<u16> = set.include.iter().flat_map(|&(lo, hi)| lo..=hi).collect();
    ports.sort_unstable();
    ports.dedup();
    Some(ports)
}

/// Statistics of the built groups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Distinct compiled groups (automatons shared between ports count once).
    pub groups: usize,
    /// Patterns over all distinct automatons.
    pub patterns: usize,
    /// Approximate heap bytes of automatons and rule lists.
    pub memory_bytes: usize,
    /// Distinct matchers built with aho-corasick (short-pattern DFAs included).
    pub ac_sets: usize,
    /// Distinct matchers built with Vectorscan.
    pub hs_sets: usize,
    /// Distinct matchers built with the pure-Rust `hash` matcher.
    pub hash_sets: usize,
    /// Vectorscan databases read from, compiled for, or rejected by `detect.cache-dir`
    /// (packet groups and HTTP buffers; zero without a cache).
    pub disk_cache: mpm::DiskCacheStats,
    /// How the rules' addresses were compiled and split into classes.
    pub address: addr::AddressStats,
}

/// The packet groups of a rule set: per slot and address class pair, the groups of that
/// slot's rules that can match addresses of the pair.
#[derive(Debug, Default)]
pub(crate) struct PacketGroups {
    /// Class pairs ([`AddressBook::pair_count`]).
    pairs: usize,
    /// Indexed by `slot * pairs + pair`.
    by_slot_pair: Vec<ClassGroups>,
}

impl PacketGroups {
    /// The groups of packets of `slot` whose addresses are of class pair `pair`.
    pub(crate) fn get(&self, slot: usize, pair: usize) -> &ClassGroups {
        &self.by_slot_pair[slot * self.pairs + pair]
    }
}

/// Build the groups of every slot and address class pair with the `kind` matcher back end.
/// Also returns a scratch prototype prepared for every matcher, for [`MpmScratch::try_clone`].
pub(crate) fn build_groups(
    rules: &[Rule],
    addrs: &AddressBook,
    kind: MpmKind,
    disk: Option<&mpm::DiskCache>,
) -> (PacketGroups, GroupStats, MpmScratch) {
    let patterns: Vec<Option<(Vec<u8>, bool)>> = rules.iter().map(fast_pattern).collect();
    let bounds: Vec<u32> = rules.iter().map(fast_pattern_bound).collect();
    let pairs = addrs.pair_count();
    let cells = SLOTS * pairs;
    let mut generic: Vec<Vec<u32>> = vec![Vec::new(); cells];
    let mut by_dst: Vec<HashMap<u16, Vec<u32>>> = vec![HashMap::new(); cells];
    let mut by_src: Vec<HashMap<u16, Vec<u32>>> = vec![HashMap::new(); cells];
    let mut by_app: Vec<[Vec<u32>; AppProto::ALL.len()]> = vec![Default::default(); cells];
    let mut rule_pairs = Vec::with_capacity(pairs);
    for (index, rule) in rules.iter().enumerate() {
        let r = index as u32;
        if rule.reads_app_buffers() {
            // Matched over HTTP buffers by `RuleSet::detect_app`, never over packets.
            continue;
        }
        rule_pairs.clear();
        rule_pairs.extend((0..pairs).filter(|&pair| addrs.rule_in_pair(index, pair)));
        let ported = matches!(
            rule.protocol,
            Protocol::Tcp | Protocol::Udp | Protocol::TcpOrUdp
        );
        let both = rule.direction == crate::ast::Direction::Both;
        let dst = ported.then(|| specific_ports(&rule.dst_ports)).flatten();
        let src = ported.then(|| specific_ports(&rule.src_ports)).flatten();
        for cell in slots_of(rule).flat_map(|slot| rule_pairs.iter().map(move |p| slot * pairs + p))
        {
            if let Some(app) = rule.app_proto {
                // Ports are still checked exactly; few app-layer rules name one.
                by_app[cell][app as usize].push(r);
                continue;
            }
            let (first, second, ports) = match (&dst, &src) {
                (Some(d), _) => (&mut by_dst[cell], &mut by_src[cell], d),
                (None, Some(s)) => (&mut by_src[cell], &mut by_dst[cell], s),
                (None, None) => {
                    generic[cell].push(r);
                    continue;
                }
            };
            for &p in ports {
                first.entry(p).or_default().push(r);
                if both {
                    second.entry(p).or_default().push(r);
                }
            }
        }
    }

    let mut caches = BuildCaches::default();
    let mut member_lists: Vec<Vec<u32>> = (0..cells)
        .flat_map(|cell| {
            by_dst[cell]
                .values()
                .chain(by_src[cell].values())
                .chain(std::iter::once(&generic[cell]))
                .chain(by_app[cell].iter())
                .filter(|m| !m.is_empty())
                .map(|m| {
                    let mut m = m.clone();
                    m.sort_unstable();
                    m.dedup();
                    m
                })
                .collect::<Vec<_>>()
        })
        .collect();
    member_lists.sort_unstable();
    member_lists.dedup();
    let lists: Vec<&[u32]> = member_lists.iter().map(Vec::as_slice).collect();
    precompile_vectorscan(&lists, &patterns, kind, &mut caches.matchers, disk);
    drop(member_lists);
    let input = GroupInput {
        patterns: &patterns,
        bounds: &bounds,
        rules,
        addrs,
        kind,
    };
    // Groups of equal members share one build per pair (their address index depends on it).
    let mut shared: HashMap<(Vec<u32>, usize), Arc<Group>> = HashMap::new();
    let mut stats = GroupStats::default();
    let mut prototype = MpmScratch::new();
    let mut intern = |mut members: Vec<u32>, pair: usize| -> Arc<Group> {
        members.sort_unstable();
        members.dedup();
        Arc::clone(shared.entry((members, pair)).or_insert_with_key(|(m, pair)| {
            let group = Group::build(m, *pair, &input, &mut caches);
            stats.groups += 1;
            stats.patterns += group.pattern_count();
            stats.memory_bytes += group.memory_usage();
            for set in group.sets() {
                if let Err(err) = set.matcher.prepare_scratch(&mut prototype) {
                    tracing::warn!("matcher scratch not prepared ({err}); scans of that group report every pattern");
                }
            }
            Arc::new(group)
        }))
    };
    let mut by_slot_pair: Vec<ClassGroups> = Vec::with_capacity(cells);
    for cell in 0..cells {
        let pair = cell % pairs;
        let mut out = ClassGroups::default();
        for (port, members) in std::mem::take(&mut by_dst[cell]) {
            out.by_dst.insert(port, intern(members, pair));
        }
        for (port, members) in std::mem::take(&mut by_src[cell]) {
            out.by_src.insert(port, intern(members, pair));
        }
        let members = std::mem::take(&mut generic[cell]);
        if !members.is_empty() {
            out.generic = Some(intern(members, pair));
        }
        for (slot, members) in out.by_app.iter_mut().zip(std::mem::take(&mut by_app[cell])) {
            if !members.is_empty() {
                *slot = Some(intern(members, pair));
            }
        }
        by_slot_pair.push(out);
    }
    for matcher in caches.matchers.values() {
        match matcher.kind() {
            MpmKind::Hs => stats.hs_sets += 1,
            MpmKind::Hash => stats.hash_sets += 1,
            _ => stats.ac_sets += 1,
        }
    }
    stats.address = addrs.stats();
    stats.memory_bytes += addrs.memory_usage();
    (
        PacketGroups {
            pairs,
            by_slot_pair,
        },
        stats,
        prototype,
    )
}
