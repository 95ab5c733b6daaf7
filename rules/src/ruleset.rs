//! The compiled, immutable RuleSet and its matcher.
//!
//! [`RuleSet::build`] turns loaded [`Rule`]s into port/protocol groups with one multi-pattern
//! matcher each ([`crate::group`], [`crate::mpm`]) and per-rule compiled options ([`crate::eval`]);
//! [`RuleSet::detect`] matches one buffer with a per-thread [`Scratch`] and allocates nothing
//! after warm-up. Not here: parsing ([`crate::load`]), thresholds, verdicts, outputs (the
//! engine's business), and the slow oracle ([`crate::reference`]).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::addr::{AddrClass, AddressBook};
use crate::ast::{Action, AppProto, DetectOption, FlowbitsCommand, Rule, Value};
pub use crate::buffers::AppBuffers;
use crate::buffers::HttpIndex;
pub use crate::buffers::HttpScanMemory;
use crate::eval::{self, FastHits, PayloadEval, PayloadOp, SeenEnds};
use crate::group::{self, GroupStats, PacketGroups};
use crate::mpm::{DiskCache, MpmInput, MpmKind, MpmScratch};
use crate::pcre::PcreScratch;

/// Index of a rule in [`RuleSet::rules`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u32);

/// The class of an action for verdict ordering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionClass {
    Pass,
    Drop,
    Reject,
    Alert,
}

impl ActionClass {
    pub fn of(action: Action) -> Self {
        match action {
            Action::Pass => ActionClass::Pass,
            Action::Drop | Action::Sdrop => ActionClass::Drop,
            Action::Reject(_) => ActionClass::Reject,
            Action::Alert | Action::Log => ActionClass::Alert,
        }
    }
}

/// Options for [`RuleSet::build`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildOptions {
    /// Order in which matches are returned (and verdicts decided). Default pass, drop, reject,
    /// alert (Suricata's).
    pub action_order: [ActionClass; 4],
    /// pcre2 match limit (pcre2_set_match_limit); rules with `O` ignore it.
    pub pcre_match_limit: u32,
    /// pcre2 depth limit (pcre2_set_depth_limit).
    pub pcre_depth_limit: u32,
    /// Retries (a content or pcre tried again at its next occurrence after a later option
    /// failed) allowed in one rule evaluation; past it the rule does not match and
    /// [`DetectStats::retry_limit_hits`] counts it. Default 1024.
    pub retry_limit: u32,
    /// Upper bound of [`RuleSet::max_pattern_span`], so one rule with a huge offset cannot make
    /// every stream keep that much data. Default 4096.
    pub pattern_span_cap: usize,
    /// Multi-pattern matcher back end for the groups' fast patterns (the `detect.mpm` setting).
    /// Default [`MpmKind::Auto`].
    pub mpm: MpmKind,
    /// Directory of compiled Vectorscan databases reused between loads (the
    /// `detect.cache-dir` setting, see [`crate::mpm::DiskCache`]); None: compile every time.
    pub mpm_cache_dir: Option<std::path::PathBuf>,
    /// Sets whose Vectorscan database is not in `mpm_cache_dir` get the `hash` matcher instead
    /// of a compile (see [`crate::mpm::DiskCache::deferring_compiles`]). Default false.
    pub mpm_defer_compiles: bool,
    /// Entries of `mpm_cache_dir` unused this long are removed after a build
    /// ([`crate::mpm::DiskCache::prune`]); None keeps them. Default None.
    pub mpm_cache_max_age: Option<std::time::Duration>,
    /// Address classes the rule groups are split by (the `detect.address-classes` setting, see
    /// [`crate::addr`]); 1 splits nothing. Default 4, at most
    /// [`crate::addr::MAX_ADDRESS_CLASSES`].
    pub address_classes: usize,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            action_order: [
                ActionClass::Pass,
                ActionClass::Drop,
                ActionClass::Reject,
                ActionClass::Alert,
            ],
            pcre_match_limit: 3500,
            pcre_depth_limit: 1500,
            retry_limit: 1024,
            pattern_span_cap: 4096,
            mpm: MpmKind::Auto,
            mpm_cache_dir: None,
            mpm_defer_compiles: false,
            mpm_cache_max_age: None,
            address_classes: 4,
        }
    }
}

/// Which kind of buffer is being inspected (for `flow:only_stream` / `no_stream`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferKind {
    /// One packet's payload.
    Packet,
    /// Reassembled stream data ending at the current packet's data.
    Stream,
}

/// IP header fields that header options test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpFields {
    pub ttl: u8,
    pub tos: u8,
    pub id: u32,
    /// Bit i set when IPv4 option type i (by `IpOpt` order: rr, eol, nop, ts, sec, esec, lsrr,
    /// lsrre, ssrr, satid) is present.
    pub options: u16,
    /// M = 0x1, D = 0x2, R = 0x4.
    pub fragbits: u8,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFields {
    /// TCP flags byte (FIN 0x01 ... CWR 0x80).
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IcmpFields {
    pub itype: u8,
    pub icode: u8,
    /// Present for echo-style messages only.
    pub id: Option<u16>,
    pub seq: Option<u16>,
}

/// Flow state as seen by `flow:`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowContext {
    /// TCP: the three-way handshake completed (or picked up midstream). UDP/ICMP: packets were
    /// seen both ways.
    pub established: bool,
    /// The packet travels from the flow's initiator to its responder.
    pub to_server: bool,
    /// The flow's detected application-layer protocol (None: not detected, or not one nfips
    /// knows). Rules with a header app protocol match only where it equals theirs.
    pub app_proto: Option<crate::ast::AppProto>,
}

/// Everything about the buffer being matched except its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketContext {
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6 ...).
    pub ip_proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// 0 for protocols without ports.
    pub src_port: u16,
    pub dst_port: u16,
    pub ip: IpFields,
    pub tcp: Option<TcpFields>,
    pub icmp: Option<IcmpFields>,
    pub flow: FlowContext,
    pub buffer: BufferKind,
    /// The packet's own payload length (dsize), whatever buffer is inspected.
    pub dsize: usize,
    /// Stream anomalies raised on this packet: bit i set = the event of bit i in
    /// [`crate::stream_events::STREAM_EVENT_BITS`]. 0 for non-TCP and clean packets.
    pub stream_events: u64,
}

#[cfg(test)]
impl PacketContext {
    /// An established data packet of protocol `ip_proto` (TCP flags PSH|ACK when 6) from
    /// 10.0.0.1 to 10.0.0.2 (`to_server`) or back, the client on port 40000: for unit tests.
    pub(crate) fn for_tests(
        ip_proto: u8,
        server_port: u16,
        to_server: bool,
        app_proto: Option<crate::ast::AppProto>,
        buffer: BufferKind,
    ) -> PacketContext {
        let (client, server) = (
            IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)),
        );
        let ((src, src_port), (dst, dst_port)) = if to_server {
            ((client, 40000), (server, server_port))
        } else {
            ((server, server_port), (client, 40000))
        };
        PacketContext {
            ip_proto,
            src,
            dst,
            src_port,
            dst_port,
            ip: IpFields {
                ttl: 64,
                tos: 0,
                id: 1,
                options: 0,
                fragbits: 0,
            },
            tcp: (ip_proto == 6).then_some(TcpFields {
                flags: 0x18,
                seq: 1,
                ack: 1,
                window: 512,
            }),
            icmp: None,
            flow: FlowContext {
                established: true,
                to_server,
                app_proto,
            },
            buffer,
            dsize: 0,
            stream_events: 0,
        }
    }
}

/// The flowbits of one flow: a bitset indexed by the RuleSet's interned flowbit names. Empty
/// (and allocation-free) until a bit is set, and one pointer wide: every flow carries one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowBits {
    words: thin_vec::ThinVec<u64>,
}

impl FlowBits {
    pub fn is_set(&self, bit: usize) -> bool {
        self.words
            .get(bit / 64)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    pub fn set(&mut self, bit: usize) {
        if self.words.len() <= bit / 64 {
            self.words.resize(bit / 64 + 1, 0);
        }
        self.words[bit / 64] |= 1 << (bit % 64);
    }

    pub fn unset(&mut self, bit: usize) {
        if let Some(w) = self.words.get_mut(bit / 64) {
            *w &= !(1 << (bit % 64));
        }
    }

    pub fn toggle(&mut self, bit: usize) {
        if self.is_set(bit) {
            self.unset(bit)
        } else {
            self.set(bit)
        }
    }
}

/// A rule's options in evaluation form.
#[derive(Debug)]
struct CompiledRule {
    /// Non-payload detection options (pure functions of the packet context).
    header_options: Vec<DetectOption>,
    payload: Vec<PayloadOp>,
    vars: usize,
    /// isset / isnotset checks with interned bit ids.
    bit_checks: Vec<(FlowbitsCommand, crate::ast::BitsJoin, Vec<usize>)>,
    /// set / unset / toggle, applied in order when the rule matches.
    bit_actions: Vec<(FlowbitsCommand, Vec<usize>)>,
}

/// Per-rule facts the packet path asks often, derived once at build.
#[derive(Clone, Copy, Debug, Default)]
struct RuleTraits {
    has_fast_pattern: bool,
    inspects_stream: bool,
}

/// The compiled rules. Immutable, `Send + Sync`; share it behind an `Arc`.
pub struct RuleSet {
    rules: Vec<Rule>,
    compiled: Vec<CompiledRule>,
    /// The rules' header addresses, compiled; the groups are split by its class pairs.
    addrs: AddressBook,
    groups: PacketGroups,
    /// Sort key of each rule for evaluation: flowbit setters first, then rule order.
    eval_key: Vec<u64>,
    /// Sort key of each rule for results: action class rank, then rule order.
    out_key: Vec<u64>,
    flowbits: HashMap<String, usize>,
    options: BuildOptions,
    max_vars: usize,
    max_pattern_span: usize,
    /// Per rule: what [`RuleSet::has_fast_pattern`] and [`RuleSet::inspects_stream`] answer.
    traits: Vec<RuleTraits>,
    /// The longest fast pattern of any rule.
    max_fast_pattern_len: usize,
    group_stats: GroupStats,
    /// Matcher scratch prepared for every group; each [`Scratch`] clones it.
    mpm_prototype: MpmScratch,
    /// Tells this set's scratches from another's.
    id: u64,
    /// The rules that read HTTP buffers, matched by [`RuleSet::detect_app`].
    http: HttpIndex,
    /// Bit `AppProto as u8` set: some rule reads a buffer of that protocol (see
    /// [`RuleSet::reads_app_layer`]).
    app_buffer_protos: u8,
}

/// What a rule's payload options read: one packet/stream buffer, or an HTTP event's buffers.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Packet(&'a [u8]),
    Http(&'a dyn AppBuffers),
}

static NEXT_RULESET_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Counters of one scratch (one worker thread), cumulative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DetectStats {
    /// detect() calls.
    pub buffers: u64,
    /// Rules whose options were evaluated (candidates after the prefilter).
    pub candidates: u64,
    /// Fast-pattern automaton hits (before deduplication).
    pub pattern_hits: u64,
    /// Rules that matched.
    pub matches: u64,
    /// pcre searches stopped by the match/depth limit or JIT stack (counted as no match).
    pub pcre_limit_hits: u64,
    /// Rule evaluations stopped by [`BuildOptions::retry_limit`] (counted as no match).
    pub retry_limit_hits: u64,
    /// Matcher scans that could not run and reported every pattern instead (no rule is missed,
    /// only time is lost); nonzero means a Vectorscan scratch could not be allocated.
    pub mpm_failed_scans: u64,
    /// HTTP events whose growing body was prefiltered whole because more than
    /// [`crate::buffers::REMEMBERED_HITS`] of its patterns had been found (slower, never
    /// missing a rule).
    pub http_body_rescans: u64,
    /// HTTP bodies an event did not grow (read by a rule that also reads an updated buffer)
    /// whose prefilter hits were taken from the scan memory instead of scanning them again.
    pub http_bodies_reused: u64,
}

impl DetectStats {
    /// Every counter by name, for stats output.
    pub fn iter(&self) -> [(&'static str, u64); 9] {
        [
            ("buffers", self.buffers),
            ("candidates", self.candidates),
            ("pattern_hits", self.pattern_hits),
            ("matches", self.matches),
            ("pcre_limit_hits", self.pcre_limit_hits),
            ("retry_limit_hits", self.retry_limit_hits),
            ("mpm_failed_scans", self.mpm_failed_scans),
            ("http_body_rescans", self.http_body_rescans),
            ("http_bodies_reused", self.http_bodies_reused),
        ]
    }
}

/// Per-thread mutable state for matching. Create with [`RuleSet::new_scratch`].
pub struct Scratch {
    /// Epoch at which each rule was last made a candidate.
    seen: Vec<u32>,
    epoch: u32,
    /// Per candidate of the current packet buffer: where its fast pattern was seen.
    fast_hits: Vec<RuleHits>,
    /// The hit ends the current packet buffer's scan reported completely,
    /// `(scan_from, end of the scanned part]`; None when a matcher failed. See [`FastHits`].
    hits_known: Option<(usize, usize)>,
    /// [`RuleSet::carry_fast_hits`]: the last buffer's candidates with their hits, moved to
    /// where that buffer starts in the next one.
    carried: Vec<(u32, RuleHits)>,
    carried_at: Option<usize>,
    candidates: Vec<u32>,
    /// Candidates of the last call that came only from the caller's extra list.
    extra_only: Vec<u32>,
    vars: Vec<i64>,
    pcre: PcreScratch,
    /// The buffer ASCII-lowercased, for matchers that want it.
    lowered: Vec<u8>,
    mpm: MpmScratch,
    /// The [`RuleSet`] this scratch was made for.
    set_id: u64,
    /// The address classes of the current buffer's source and destination, and the
    /// addresses they were found for: successive buffers of one packet or flow direction
    /// (packet, stream view, HTTP events) reuse them.
    addr_classes: (AddrClass, AddrClass),
    classified: Option<(IpAddr, IpAddr)>,
    stats: DetectStats,
}

impl Scratch {
    /// Where candidate `r`'s fast pattern occurs in the current packet buffer.
    fn fast_hits_of(&self, r: usize) -> FastHits {
        let hits = &self.fast_hits[r];
        let Some((scan_from, known_upto)) = self.hits_known.filter(|_| hits.count != u32::MAX)
        else {
            return FastHits::UNKNOWN;
        };
        let known_after = if hits.none_before_scan { 0 } else { scan_from };
        let seen = if hits.count as usize <= SeenEnds::EXACT {
            let len = hits.count as usize;
            let mut ends = hits.ends.map(|e| e as usize);
            ends[..len].sort_unstable();
            SeenEnds::Exact { ends, len }
        } else {
            SeenEnds::Span {
                first: hits.first as usize,
                last: hits.last as usize,
            }
        };
        FastHits {
            known_after,
            known_upto,
            seen,
        }
    }

    /// Cumulative counters of this scratch.
    pub fn stats(&self) -> DetectStats {
        DetectStats {
            pcre_limit_hits: self.pcre.limit_hits,
            mpm_failed_scans: self.mpm.failed_scans(),
            ..self.stats
        }
    }
}

/// The fast-pattern hits of one candidate in the current packet buffer (see [`FastHits`]).
#[derive(Clone, Copy, Debug, Default)]
struct RuleHits {
    /// Hits reported; `u32::MAX` when the rule was a candidate for another reason.
    count: u32,
    /// The first [`SeenEnds::EXACT`] ends, in report order.
    ends: [u32; SeenEnds::EXACT],
    first: u32,
    last: u32,
    /// The bytes before the scan's start hold no occurrence either, as the caller of
    /// [`RuleSet::carry_fast_hits`] vouched: these hits are all there are in the buffer.
    none_before_scan: bool,
}

impl RuleHits {
    const UNKNOWN: RuleHits = RuleHits {
        count: u32::MAX,
        ends: [0; SeenEnds::EXACT],
        first: 0,
        last: 0,
        none_before_scan: false,
    };

    /// Records one more hit ending at `end`; an unknown set stays unknown.
    fn add(&mut self, end: usize) {
        if self.count == u32::MAX {
            return;
        }
        // Buffers are far below 4 GiB; a larger end would only widen the span.
        let end = u32::try_from(end).unwrap_or(u32::MAX);
        if let Some(slot) = self.ends.get_mut(self.count as usize) {
            *slot = end;
        }
        (self.first, self.last) = if self.count == 0 {
            (end, end)
        } else {
            (self.first.min(end), self.last.max(end))
        };
        self.count = self.count.saturating_add(1).min(u32::MAX - 1);
    }

    /// Add `other`'s hits (this one's, if unknown, are replaced).
    fn merge(&mut self, other: &RuleHits) {
        if self.count == u32::MAX {
            *self = *other;
        } else if other.count as usize <= SeenEnds::EXACT {
            for &end in &other.ends[..other.count as usize] {
                self.add(end as usize);
            }
        } else {
            self.add(other.first as usize);
            self.add(other.last as usize);
            self.count = self.count.max(SeenEnds::EXACT as u32 + 1);
        }
    }

    /// The same hits in a buffer where this one starts at `at`.
    fn shifted(&self, at: usize) -> RuleHits {
        let at = u32::try_from(at).unwrap_or(u32::MAX);
        RuleHits {
            ends: self.ends.map(|e| e.saturating_add(at)),
            first: self.first.saturating_add(at),
            last: self.last.saturating_add(at),
            ..*self
        }
    }
}

fn literal_or_zero(value: Option<Value>) -> usize {
    match value {
        Some(Value::Literal(v)) if v > 0 => v as usize,
        _ => 0,
    }
}

/// The bytes one rule's payload options span, where bounded: each content contributes its
/// pattern length, or its depth/within window, plus a positive offset/distance.
fn pattern_span(rule: &Rule) -> usize {
    rule.detection
        .iter()
        .map(|o| match o {
            DetectOption::Content(c) => {
                let window = literal_or_zero(c.depth.or(c.within)).max(c.pattern.len());
                window + literal_or_zero(c.offset.or(c.distance))
            }
            _ => 0,
        })
        .sum()
}

impl RuleSet {
    /// Compile rules. Rule order is kept for ties within an action class.
    pub fn build(rules: Vec<Rule>, options: &BuildOptions) -> RuleSet {
        let mut flowbits: HashMap<String, usize> = HashMap::new();
        let mut intern = |names: &[String]| -> Vec<usize> {
            names
                .iter()
                .map(|n| {
                    let next = flowbits.len();
                    *flowbits.entry(n.clone()).or_insert(next)
                })
                .collect()
        };
        let mut compiled = Vec::with_capacity(rules.len());
        let mut searchers = eval::SearcherCache::default();
        let mut eval_key = Vec::with_capacity(rules.len());
        let mut out_key = Vec::with_capacity(rules.len());
        for (index, rule) in rules.iter().enumerate() {
            // HTTP rules are evaluated through their per-buffer runs (crate::buffers), so their
            // options are not compiled a second time here (ET Open: ~13 MB less); only their
            // byte_extract variables are counted, to size the scratch.
            let (payload, vars) = if rule.reads_app_buffers() {
                let vars = rule
                    .detection
                    .iter()
                    .filter(|o| matches!(o, DetectOption::ByteExtract(_)))
                    .count();
                (Vec::new(), vars)
            } else {
                PayloadOp::compile_all(
                    &rule.detection,
                    group::fast_pattern_content(rule),
                    &mut searchers,
                )
            };
            let header_options = rule
                .detection
                .iter()
                .filter(|o| !eval::is_payload_option(o))
                .cloned()
                .collect();
            let mut bit_checks = Vec::new();
            let mut bit_actions = Vec::new();
            for fb in &rule.flowbits {
                match fb.command {
                    FlowbitsCommand::IsSet | FlowbitsCommand::IsNotSet => {
                        bit_checks.push((fb.command, fb.join, intern(&fb.names)))
                    }
                    FlowbitsCommand::Set | FlowbitsCommand::Unset | FlowbitsCommand::Toggle => {
                        bit_actions.push((fb.command, intern(&fb.names)))
                    }
                    FlowbitsCommand::NoAlert => {}
                }
            }
            eval_key.push((u64::from(eval_tier(rule)) << 32) | index as u64);
            let rank = options
                .action_order
                .iter()
                .position(|&c| c == ActionClass::of(rule.action))
                .unwrap_or(options.action_order.len());
            out_key.push(((rank as u64) << 32) | index as u64);
            compiled.push(CompiledRule {
                header_options,
                payload,
                vars,
                bit_checks,
                bit_actions,
            });
        }
        let disk = options
            .mpm_cache_dir
            .as_ref()
            .map(|dir| DiskCache::new(dir).deferring_compiles(options.mpm_defer_compiles));
        let addrs = AddressBook::build(&rules, options.address_classes);
        // The HTTP matchers compile while the packet groups do (both mostly Vectorscan time).
        let ((groups, mut group_stats, mut mpm_prototype), mut http) =
            std::thread::scope(|scope| {
                let http =
                    scope.spawn(|| HttpIndex::build(&rules, &addrs, options.mpm, disk.as_ref()));
                let groups = group::build_groups(&rules, &addrs, options.mpm, disk.as_ref());
                // A panic there is a bug: surface it as the build's own.
                let http = http
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (groups, http)
            });
        http.prepare_scratch(&mut mpm_prototype);
        if let (Some(disk), Some(max_age)) = (&disk, options.mpm_cache_max_age) {
            disk.prune(max_age);
        }
        group_stats.disk_cache = disk.map(|d| d.stats()).unwrap_or_default();
        let app_buffer_protos = rules
            .iter()
            .flat_map(|rule| {
                let header = rule.requires_http().then_some(AppProto::Http);
                rule.detection
                    .iter()
                    .filter_map(|o| o.buffer().app_proto())
                    .chain(header)
            })
            .fold(0u8, |bits, proto| bits | 1 << proto as u8);
        let max_vars = compiled.iter().map(|c| c.vars).max().unwrap_or(0);
        let fast_pattern_lens: Vec<Option<usize>> = rules
            .iter()
            .map(|r| group::fast_pattern(r).map(|(p, _)| p.len()))
            .collect();
        let max_fast_pattern_len = fast_pattern_lens
            .iter()
            .flatten()
            .copied()
            .max()
            .unwrap_or(0);
        let traits = rules
            .iter()
            .zip(&fast_pattern_lens)
            .map(|(rule, len)| RuleTraits {
                has_fast_pattern: len.is_some(),
                inspects_stream: eval::inspects_stream(rule),
            })
            .collect();
        let max_pattern_span = rules
            .iter()
            .map(pattern_span)
            .max()
            .unwrap_or(0)
            .min(options.pattern_span_cap);
        RuleSet {
            rules,
            compiled,
            addrs,
            groups,
            eval_key,
            out_key,
            flowbits,
            options: options.clone(),
            max_vars,
            max_pattern_span,
            traits,
            max_fast_pattern_len,
            group_stats,
            mpm_prototype,
            id: NEXT_RULESET_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            http,
            app_buffer_protos,
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: RuleId) -> &Rule {
        &self.rules[id.0 as usize]
    }

    /// The options the set was built with.
    pub fn options(&self) -> &BuildOptions {
        &self.options
    }

    /// The bit index of a flowbit name used by any rule (for [`FlowBits`]).
    pub fn flowbit_id(&self, name: &str) -> Option<usize> {
        self.flowbits.get(name).copied()
    }

    /// How many groups and patterns were compiled, and their approximate memory.
    pub fn group_stats(&self) -> GroupStats {
        self.group_stats
    }

    /// The longest span of stream bytes one rule's payload options can need (patterns, offsets,
    /// distances): the stream keeps this much inspected data for patterns split across segments.
    /// Capped by [`BuildOptions::pattern_span_cap`].
    pub fn max_pattern_span(&self) -> usize {
        self.max_pattern_span
    }

    /// The length of the longest fast pattern of any rule (0: none).
    pub fn max_fast_pattern_len(&self) -> usize {
        self.max_fast_pattern_len
    }

    /// Whether the rule has a fast pattern, i.e. is a candidate only where that pattern occurs
    /// (rules without one are candidates of every buffer their group sees).
    pub fn has_fast_pattern(&self, id: RuleId) -> bool {
        self.traits_of(id).has_fast_pattern
    }

    /// Whether the rule can match reassembled stream data ([`BufferKind::Stream`] payloads),
    /// not only packets: false for `flow:no_stream` and `dsize` rules.
    pub fn inspects_stream(&self, id: RuleId) -> bool {
        self.traits_of(id).inspects_stream
    }

    /// An id out of range has neither trait.
    fn traits_of(&self, id: RuleId) -> RuleTraits {
        self.traits.get(id.0 as usize).copied().unwrap_or_default()
    }

    pub fn new_scratch(&self) -> Scratch {
        Scratch {
            seen: vec![0; self.rules.len()],
            epoch: 0,
            fast_hits: vec![RuleHits::UNKNOWN; self.rules.len()],
            hits_known: None,
            carried: Vec::with_capacity(64),
            carried_at: None,
            candidates: Vec::with_capacity(64),
            extra_only: Vec::with_capacity(64),
            vars: vec![0; self.max_vars],
            pcre: PcreScratch::new(self.options.pcre_match_limit, self.options.pcre_depth_limit),
            lowered: Vec::with_capacity(2048),
            mpm: self.mpm_prototype.try_clone().unwrap_or_else(|err| {
                tracing::warn!("matcher scratch not cloned ({err}); scans report every pattern");
                MpmScratch::new()
            }),
            set_id: self.id,
            addr_classes: (0, 0),
            classified: None,
            stats: DetectStats::default(),
        }
    }

    /// Match `buf` in `ctx`. Appends the ids of matching rules to `out` in action order (pass
    /// first by default). Flowbits checks read `bits`; set/unset/toggle of matching rules are
    /// applied to `bits` as each rule matches (setters are evaluated before checkers). Threshold,
    /// detection_filter and noalert are the caller's business.
    pub fn detect(
        &self,
        ctx: &PacketContext,
        buf: &[u8],
        bits: &mut FlowBits,
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) {
        self.detect_from(ctx, buf, 0, bits, scratch, out)
    }

    /// [`RuleSet::detect`] for a buffer whose first `scan_from` bytes were already inspected
    /// (a reassembled stream view that repeats older data before the new bytes): a rule with a
    /// fast pattern is a candidate only when an occurrence of that pattern ends after byte
    /// `scan_from`, and the matchers scan only from `scan_from - (longest pattern - 1)`, so
    /// the repeated bytes cost (almost) nothing. Candidates are evaluated over the whole `buf`
    /// (offsets, distances and pcre see the old bytes too). Rules without a fast pattern are
    /// evaluated as in `detect`.
    ///
    /// What it does not do: a rule whose fast pattern occurs only in the old bytes is not
    /// re-evaluated, even if its other options are satisfied only by the new bytes; a caller
    /// that needs those keeps, per stream, the rules that were candidates of the earlier view
    /// and did not match (see [`RuleSet::detect_candidates`]), and evaluates them again.
    /// `scan_from = 0` is exactly `detect`.
    pub fn detect_from(
        &self,
        ctx: &PacketContext,
        buf: &[u8],
        scan_from: usize,
        bits: &mut FlowBits,
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) {
        self.detect_from_with(ctx, buf, scan_from..buf.len(), &[], bits, scratch, out)
    }

    /// [`RuleSet::detect_from`] that also evaluates the rules in `extra` (deduplicated with the
    /// other candidates, in the same evaluation order): the caller's pending candidates of an
    /// earlier view whose fast pattern lies in the already-inspected bytes. Ids out of range
    /// are ignored. [`RuleSet::detect_extra_only`] tells which extras were not candidates on
    /// their own. `scan.end` limits the fast-pattern scan to occurrences ending at or before
    /// it (a caller that already knows the candidates of the later bytes passes them in
    /// `extra`); `scan.start` is `scan_from`.
    #[allow(clippy::too_many_arguments)]
    pub fn detect_from_with(
        &self,
        ctx: &PacketContext,
        buf: &[u8],
        scan: std::ops::Range<usize>,
        extra: &[RuleId],
        bits: &mut FlowBits,
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) {
        let scanned = &buf[..scan.end.min(buf.len())];
        self.collect_candidates(ctx, scanned, scan.start, extra, scratch);
        self.apply_carried_hits(scratch, buf.len());
        let candidates = std::mem::take(&mut scratch.candidates);
        self.evaluate(&candidates, ctx, Payload::Packet(buf), bits, scratch, out);
        scratch.candidates = candidates;
    }

    /// Match the rules that read HTTP buffers (and `alert http` rules) against one HTTP event:
    /// a rule is a candidate when its fast pattern occurs in its buffer (or it has none), every
    /// buffer it reads is present and at least one of them was updated by the event; its
    /// options are then evaluated, each in its own buffer. `Buffer::Packet` is the packet or
    /// stream data of the event. Results, flowbits and ordering as in [`RuleSet::detect`].
    pub fn detect_app(
        &self,
        ctx: &PacketContext,
        buffers: &dyn AppBuffers,
        bits: &mut FlowBits,
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) {
        let mut memory = HttpScanMemory::default();
        let none = HttpScanMemory::default();
        self.detect_app_with_memory(ctx, buffers, &mut memory, &none, bits, scratch, out);
    }

    /// [`RuleSet::detect_app`] for one of a series of events of a transaction direction:
    /// `memory` (kept by the caller per direction, [`HttpScanMemory::default`] at first) lets
    /// growing bodies be scanned only in their new bytes, and with `other`, the other
    /// direction's memory, a body the event did not grow is not scanned again. Same results
    /// as without them.
    #[allow(clippy::too_many_arguments)]
    pub fn detect_app_with_memory(
        &self,
        ctx: &PacketContext,
        buffers: &dyn AppBuffers,
        memory: &mut HttpScanMemory,
        other: &HttpScanMemory,
        bits: &mut FlowBits,
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) {
        self.start_scan(scratch);
        let pair = self.classify_addresses(ctx, scratch);
        let mut candidates = std::mem::take(&mut scratch.candidates);
        candidates.clear();
        let (seen, epoch) = (&mut scratch.seen, scratch.epoch);
        let outcome = self.http.collect(
            (ctx.flow.to_server, pair),
            buffers,
            memory,
            other,
            &mut scratch.mpm,
            |r| {
                let slot = &mut seen[r as usize];
                if *slot != epoch {
                    *slot = epoch;
                    candidates.push(r);
                }
            },
        );
        scratch.stats.pattern_hits += outcome.hits;
        scratch.stats.http_body_rescans += u64::from(outcome.whole_rescan);
        scratch.stats.http_bodies_reused += outcome.bodies_reused;
        candidates.retain(|&r| {
            self.http
                .runs(r as usize)
                .is_some_and(|runs| runs.ready(buffers))
        });
        candidates.sort_unstable_by_key(|&r| self.eval_key[r as usize]);
        scratch.stats.candidates += candidates.len() as u64;
        self.evaluate(&candidates, ctx, Payload::Http(buffers), bits, scratch, out);
        scratch.candidates = candidates;
    }

    /// Whether any rule reads HTTP buffers (the engine parses HTTP only then).
    pub fn has_app_rules(&self) -> bool {
        !self.http.is_empty()
    }

    /// Whether some rule reads a buffer that `proto`'s parser fills (`http.uri`, `tls.sni`,
    /// `dns.query` ...; for HTTP also `alert http`): the engine parses that protocol only then.
    pub fn reads_app_layer(&self, proto: AppProto) -> bool {
        self.app_buffer_protos & (1 << proto as u8) != 0
    }

    /// Finds the address classes of the buffer's source and destination (kept in `scratch`
    /// for the candidates' header checks) and returns their pair.
    fn classify_addresses(&self, ctx: &PacketContext, scratch: &mut Scratch) -> usize {
        if scratch.classified != Some((ctx.src, ctx.dst)) {
            scratch.addr_classes = (self.addrs.class_of(ctx.src), self.addrs.class_of(ctx.dst));
            scratch.classified = Some((ctx.src, ctx.dst));
        }
        self.addrs
            .pair(scratch.addr_classes.0, scratch.addr_classes.1)
    }

    /// Makes `scratch` fit this set and starts a new candidate epoch.
    fn start_scan(&self, scratch: &mut Scratch) {
        if scratch.seen.len() != self.rules.len() || scratch.set_id != self.id {
            // A scratch from another RuleSet: make it fit rather than index out of bounds.
            *scratch = self.new_scratch();
        }
        scratch.stats.buffers += 1;
        scratch.epoch = scratch.epoch.wrapping_add(1);
        if scratch.epoch == 0 {
            scratch.seen.fill(0);
            scratch.epoch = 1;
        }
    }

    /// The rules of the last call's `extra` list that were candidates only because they were
    /// listed there (no fast-pattern hit in the scanned part, not an always-candidate).
    pub fn detect_extra_only<'s>(&self, scratch: &'s Scratch) -> impl Iterator<Item = RuleId> + 's {
        scratch.extra_only.iter().map(|&r| RuleId(r))
    }

    /// Prepare the next [`RuleSet::detect_from_with`] call, over a buffer whose bytes from `at`
    /// on are exactly the last call's (a stream view whose new bytes are the packet just
    /// inspected) and with `scan.start == at`: the last call's candidates, passed again as
    /// `extra`, keep where their fast patterns occur, so their evaluation is narrowed as
    /// before instead of searching the whole view; and the view's scan, which then needs to
    /// cover only patterns crossing into the new bytes, counts as complete up to its end.
    ///
    /// The bytes before `at` are searched only for the rules in `maybe_before`: the caller
    /// vouches that no other carried candidate's fast pattern ends there. A stream inspector
    /// can: those bytes were new in earlier views, and it keeps (and lists here) each rule
    /// whose occurrence there did not match and can still complete. Without that, every
    /// candidate searched the old bytes again (3 KB per view, ~80 short-pattern ET Open rules
    /// per 64 KB segment of random data). A rule that already matched on an occurrence there
    /// is not searched for a second match combining it with the new bytes, as it would not be
    /// had its pattern not recurred in the packet.
    /// Does nothing when the last call did not scan its whole buffer.
    pub fn carry_fast_hits(&self, scratch: &mut Scratch, at: usize, maybe_before: &[RuleId]) {
        scratch.carried.clear();
        scratch.carried_at = None;
        if !matches!(scratch.hits_known, Some((0, _))) {
            return;
        }
        for &r in &scratch.candidates {
            let hits = scratch.fast_hits[r as usize];
            if hits.count != u32::MAX {
                let none_before_scan = !maybe_before.contains(&RuleId(r));
                scratch.carried.push((
                    r,
                    RuleHits {
                        none_before_scan,
                        ..hits.shifted(at)
                    },
                ));
            }
        }
        scratch.carried_at = Some(at);
    }

    /// Merge [`RuleSet::carry_fast_hits`]'s hits into this call's (after its candidates are
    /// collected); `len`: the length of this call's buffer.
    fn apply_carried_hits(&self, scratch: &mut Scratch, len: usize) {
        let Some(at) = scratch.carried_at.take() else {
            return;
        };
        let Some((known_after, _)) = scratch.hits_known.filter(|&(after, _)| after == at) else {
            return;
        };
        for &(r, carried) in &scratch.carried {
            if scratch.seen[r as usize] == scratch.epoch {
                let hits = &mut scratch.fast_hits[r as usize];
                hits.merge(&carried);
                // This call's own hits lie after `at`: the claim about the bytes before is
                // the carried one.
                hits.none_before_scan = carried.none_before_scan;
            }
        }
        scratch.hits_known = Some((known_after, len));
    }

    /// Where the last occurrence of candidate `id`'s fast pattern that the last
    /// [`RuleSet::detect_from_with`] call on this scratch found ends (an offset into its
    /// buffer); None when the rule was a candidate for another reason (an `extra`, an address
    /// or no fast pattern) or the scan failed.
    pub fn last_fast_pattern_end(&self, scratch: &Scratch, id: RuleId) -> Option<usize> {
        let r = id.0 as usize;
        let hits = scratch.fast_hits.get(r)?;
        (scratch.seen.get(r) == Some(&scratch.epoch)
            && hits.count != u32::MAX
            && scratch.hits_known.is_some())
        .then_some(hits.last as usize)
    }

    /// The candidate rules of the last [`RuleSet::detect`] / [`RuleSet::detect_from`] call on
    /// this scratch, in evaluation order (matched or not).
    pub fn detect_candidates<'s>(&self, scratch: &'s Scratch) -> impl Iterator<Item = RuleId> + 's {
        scratch.candidates.iter().map(|&r| RuleId(r))
    }

    /// Fill `scratch.candidates` (deduplicated, in evaluation order).
    fn collect_candidates(
        &self,
        ctx: &PacketContext,
        buf: &[u8],
        scan_from: usize,
        extra: &[RuleId],
        scratch: &mut Scratch,
    ) {
        self.start_scan(scratch);
        let pair = self.classify_addresses(ctx, scratch);
        let mut candidates = std::mem::take(&mut scratch.candidates);
        candidates.clear();
        let slot = group::slot_of(ctx.ip_proto, ctx.flow.to_server);
        let groups =
            self.groups
                .get(slot, pair)
                .for_packet(ctx.src_port, ctx.dst_port, ctx.flow.app_proto);
        let mut lowered = std::mem::take(&mut scratch.lowered);
        lowered.clear();
        if groups.iter().flatten().any(|g| g.wants_lowered()) {
            // Only the bytes some matcher will scan.
            let longest = groups.iter().flatten().map(|g| g.max_pattern_len()).max();
            let from = scan_from.saturating_sub(longest.unwrap_or(1).saturating_sub(1));
            lowered.resize(from.min(buf.len()), 0);
            lowered.extend(buf.iter().skip(from).map(u8::to_ascii_lowercase));
        }
        let input = MpmInput {
            raw: buf,
            lowered: &lowered,
        };
        let failed_scans = scratch.mpm.failed_scans();
        for group in groups.into_iter().flatten() {
            let (seen, epoch, fast_hits) =
                (&mut scratch.seen, scratch.epoch, &mut scratch.fast_hits);
            scratch.stats.pattern_hits += group.collect(
                input,
                scan_from,
                &mut scratch.mpm,
                [ctx.src, ctx.dst],
                ctx.stream_events,
                |r, end| {
                    let (slot, hits) = (&mut seen[r as usize], &mut fast_hits[r as usize]);
                    if *slot != epoch {
                        *slot = epoch;
                        candidates.push(r);
                        *hits = match end {
                            Some(_) => RuleHits::default(),
                            None => RuleHits::UNKNOWN,
                        };
                    }
                    if let Some(end) = end {
                        hits.add(end);
                    }
                },
            );
        }
        scratch.lowered = lowered;
        // A failed scan reports every pattern at the buffer's end, which says nothing about
        // where the occurrences are.
        scratch.hits_known =
            (scratch.mpm.failed_scans() == failed_scans).then_some((scan_from, buf.len()));
        scratch.extra_only.clear();
        for &RuleId(r) in extra {
            if let Some(slot) = scratch.seen.get_mut(r as usize) {
                if *slot != scratch.epoch {
                    *slot = scratch.epoch;
                    candidates.push(r);
                    scratch.extra_only.push(r);
                    scratch.fast_hits[r as usize] = RuleHits::UNKNOWN;
                }
            }
        }
        candidates.sort_unstable_by_key(|&r| self.eval_key[r as usize]);
        scratch.stats.candidates += candidates.len() as u64;
        scratch.candidates = candidates;
    }

    /// Evaluate `candidates` in order, appending matches to `out` in action order.
    fn evaluate(
        &self,
        candidates: &[u32],
        ctx: &PacketContext,
        payload: Payload,
        bits: &mut FlowBits,
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) {
        let first_out = out.len();
        for &r in candidates {
            if self.rule_matches(r as usize, ctx, payload, bits, scratch) {
                for (command, ids) in &self.compiled[r as usize].bit_actions {
                    eval::apply_bits_action(*command, ids, bits);
                }
                out.push(RuleId(r));
            }
        }
        scratch.stats.matches += (out.len() - first_out) as u64;
        out[first_out..].sort_unstable_by_key(|id| self.out_key[id.0 as usize]);
    }

    fn rule_matches(
        &self,
        r: usize,
        ctx: &PacketContext,
        payload: Payload,
        bits: &FlowBits,
        scratch: &mut Scratch,
    ) -> bool {
        if ctx.buffer == BufferKind::Stream
            && matches!(payload, Payload::Packet(_))
            && !self.traits[r].inspects_stream
        {
            return false;
        }
        let rule = &self.rules[r];
        let compiled = &self.compiled[r];
        let (src, dst) = (
            (ctx.src, scratch.addr_classes.0),
            (ctx.dst, scratch.addr_classes.1),
        );
        let addresses = |reversed| match reversed {
            false => self.addrs.rule_admits(r, src, dst),
            true => self.addrs.rule_admits(r, dst, src),
        };
        if !(eval::header_matches(rule, ctx, addresses)
            && eval::flow_matches(&rule.flow, ctx)
            && compiled
                .header_options
                .iter()
                .all(|o| eval::header_option_matches(o, ctx))
            && compiled
                .bit_checks
                .iter()
                .all(|(command, join, ids)| eval::bits_check_passes(*command, *join, ids, bits)))
        {
            return false;
        }
        let buf = match (payload, self.http.runs(r)) {
            (Payload::Packet(buf), None) => buf,
            (Payload::Http(buffers), Some(runs)) => {
                let (matched, retry_limit_hit) = runs.matches(
                    |b| buffers.get(b),
                    &mut scratch.vars,
                    &mut scratch.pcre,
                    self.options.retry_limit,
                );
                scratch.stats.retry_limit_hits += u64::from(retry_limit_hit && !matched);
                return matched;
            }
            // A packet rule in HTTP detection or an HTTP rule on a packet: never a candidate.
            _ => return false,
        };
        let fast_hits = scratch.fast_hits_of(r);
        let mut state = PayloadEval {
            buf,
            vars: &mut scratch.vars[..compiled.vars],
            pcre: &mut scratch.pcre,
            retries_left: self.options.retry_limit,
            retry_limit_hit: false,
            fast_hits,
        };
        let matched = state.run(&compiled.payload, 0);
        if state.retry_limit_hit && !matched {
            scratch.stats.retry_limit_hits += 1;
        }
        matched
    }
}

/// Evaluation tier of a rule: flowbit setters that check nothing (0) before setters that also
/// check (1) before everything else (2), as Suricata orders flowbits rules.
pub fn eval_tier(rule: &Rule) -> u8 {
    let sets = rule.flowbits.iter().any(|f| {
        matches!(
            f.command,
            FlowbitsCommand::Set | FlowbitsCommand::Unset | FlowbitsCommand::Toggle
        )
    });
    let checks = rule.flowbits.iter().any(|f| {
        matches!(
            f.command,
            FlowbitsCommand::IsSet | FlowbitsCommand::IsNotSet
        )
    });
    match (sets, checks) {
        (true, false) => 0,
        (true, true) => 1,
        _ => 2,
    }
}
