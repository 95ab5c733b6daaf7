//! Evaluation of one compiled rule: header, flow, flowbits checks and the payload options with
//! Snort 2.9's semantics (cursor, relative windows, retries).
//!
//! Payload semantics, shared by every content-like option:
//! - The cursor ("doe pointer") starts at 0. A matching content or pcre moves it to the end of
//!   its match; byte_jump moves it to its target; byte_extract moves it past the bytes it read.
//!   byte_test, isdataat and negated options never move it.
//! - content window: absolute `[offset, offset+depth)`, relative
//!   `[cursor+distance, cursor+distance+within)`; missing ends are the buffer's ends; both ends
//!   are clamped into the buffer (a negative distance may reach back to byte 0). The whole
//!   pattern must lie inside the window.
//! - Retry: when a later option fails, a non-negated content is tried again at its next
//!   occurrence in the same window (starting one byte after the previous start), and a
//!   non-negated, non-anchored pcre is searched again from one byte after its previous start.
//! - A relative pcre (`R`) searches the buffer from the cursor on, as its own subject: `^` and
//!   the `A` flag anchor at the cursor.
//!   Every retry of one rule evaluation spends one unit of the retry budget
//!   (`BuildOptions::retry_limit`); when it is spent, the rule does not match and
//!   `DetectStats::retry_limit_hits` counts it.
//! - `fast_pattern:only`: the pattern's presence is the whole test; as in Snort the content is
//!   not evaluated as an option, so it neither moves the cursor nor is retried.
//! - isdataat:N: true when byte `base+N` exists (base = cursor if relative, else 0).
//! - byte_test/byte_jump/byte_extract read at `base+offset`; a read outside the buffer fails the
//!   option (negation does not apply to a failed read).
//!
//! Not here: choosing which rules to evaluate (see [`crate::group`]) and result ordering (see
//! [`crate::ruleset`]).

use std::collections::HashMap;
use std::sync::Arc;

use memchr::memmem;

use crate::ast::{
    BitsJoin, ByteExtract, ByteJump, ByteTest, ByteTestOp, Content, DetectOption, Endian,
    FastPattern, FlagsMode, FlowOptions, FlowbitsCommand, IpOpt, IsDataAt, NumberBase, Protocol,
    Rule, Value,
};
use crate::pcre::{PcreOutcome, PcreScratch, Regex};
use crate::ruleset::{BufferKind, FlowBits, PacketContext};

/// Whether a header protocol accepts a packet's IP protocol number.
pub(crate) fn protocol_matches(protocol: Protocol, ip_proto: u8) -> bool {
    match protocol {
        Protocol::Ip => true,
        Protocol::Tcp => ip_proto == 6,
        Protocol::Udp => ip_proto == 17,
        Protocol::Icmp => ip_proto == 1 || ip_proto == 58,
        Protocol::TcpOrUdp => ip_proto == 6 || ip_proto == 17,
    }
}

/// Protocol, app-layer protocol, addresses and ports; `<>` also tries the packet reversed.
/// Ports only count for tcp and udp rules (Snort ignores them for ip and icmp). A rule naming an
/// app-layer protocol (`alert tls`) matches only on flows detected as that protocol.
/// `addresses(reversed)` says whether the rule's source set holds the packet's source and its
/// destination set the destination (each the other when `reversed`): the compiled matcher and
/// the reference answer it in their own ways.
pub(crate) fn header_matches(
    rule: &Rule,
    ctx: &PacketContext,
    addresses: impl Fn(bool) -> bool,
) -> bool {
    if !protocol_matches(rule.protocol, ctx.ip_proto)
        || (rule.app_proto.is_some() && rule.app_proto != ctx.flow.app_proto)
    {
        return false;
    }
    let ports = matches!(
        rule.protocol,
        Protocol::Tcp | Protocol::Udp | Protocol::TcpOrUdp
    );
    let one_way = |reversed, sport, dport| {
        (!ports || (rule.src_ports.contains(sport) && rule.dst_ports.contains(dport)))
            && addresses(reversed)
    };
    one_way(false, ctx.src_port, ctx.dst_port)
        || (rule.direction == crate::ast::Direction::Both
            && one_way(true, ctx.dst_port, ctx.src_port))
}

/// Whether a rule can match reassembled stream data, not only single packets: not with
/// `flow:no_stream`, and not with `dsize`, which measures a packet (Snort: "fake packet dsizes
/// are always wrong"; Suricata inspects `dsize` rules on packets only).
pub(crate) fn inspects_stream(rule: &Rule) -> bool {
    rule.flow.stream != Some(false)
        && !rule
            .detection
            .iter()
            .any(|o| matches!(o, DetectOption::Dsize(_)))
}

/// `flow:` keywords against the flow state and buffer kind.
pub(crate) fn flow_matches(flow: &FlowOptions, ctx: &PacketContext) -> bool {
    flow.established
        .is_none_or(|want| ctx.flow.established == want)
        && flow.to_server.is_none_or(|want| ctx.flow.to_server == want)
        && flow
            .stream
            .is_none_or(|want| (ctx.buffer == BufferKind::Stream) == want)
}

/// Snort's flag modes over already-masked bits.
fn flag_mode_matches(mode: FlagsMode, have: u8, want: u8) -> bool {
    match mode {
        FlagsMode::Exact => have == want,
        FlagsMode::All => have & want == want,
        FlagsMode::Any => have & want != 0,
        FlagsMode::Not => have & want == 0,
    }
}

fn ip_option_bit(opt: IpOpt) -> Option<u16> {
    let index = match opt {
        IpOpt::Rr => 0,
        IpOpt::Eol => 1,
        IpOpt::Nop => 2,
        IpOpt::Ts => 3,
        IpOpt::Sec => 4,
        IpOpt::Esec => 5,
        IpOpt::Lsrr => 6,
        IpOpt::Lsrre => 7,
        IpOpt::Ssrr => 8,
        IpOpt::Satid => 9,
        IpOpt::Any => return None,
    };
    Some(1 << index)
}

/// A non-payload option (a pure function of the packet context). Payload options return true.
pub(crate) fn header_option_matches(option: &DetectOption, ctx: &PacketContext) -> bool {
    let tcp = ctx.tcp;
    let icmp = ctx.icmp;
    match option {
        DetectOption::Dsize(cmp) => cmp.matches(ctx.dsize as u64),
        DetectOption::Flags(f) => {
            tcp.is_some_and(|t| flag_mode_matches(f.mode, t.flags & f.mask, f.flags))
        }
        DetectOption::Ttl(cmp) => cmp.matches(ctx.ip.ttl.into()),
        DetectOption::Tos(cmp) => cmp.matches(ctx.ip.tos.into()),
        DetectOption::IpId(cmp) => cmp.matches(ctx.ip.id.into()),
        DetectOption::IpOpts(opt) => match ip_option_bit(*opt) {
            Some(bit) => ctx.ip.options & bit != 0,
            None => ctx.ip.options != 0,
        },
        DetectOption::Fragbits(f) => flag_mode_matches(f.mode, ctx.ip.fragbits, f.bits),
        DetectOption::IpProto(cmp) => cmp.matches(ctx.ip_proto.into()),
        DetectOption::SameIp => ctx.src == ctx.dst,
        DetectOption::Itype(cmp) => icmp.is_some_and(|i| cmp.matches(i.itype.into())),
        DetectOption::Icode(cmp) => icmp.is_some_and(|i| cmp.matches(i.icode.into())),
        DetectOption::IcmpId(id) => icmp.is_some_and(|i| i.id == Some(*id)),
        DetectOption::IcmpSeq(seq) => icmp.is_some_and(|i| i.seq == Some(*seq)),
        DetectOption::TcpSeq(seq) => tcp.is_some_and(|t| t.seq == *seq),
        DetectOption::TcpAck(ack) => tcp.is_some_and(|t| t.ack == *ack),
        DetectOption::Window { value, negated } => {
            tcp.is_some_and(|t| (t.window == *value) != *negated)
        }
        DetectOption::Content(_)
        | DetectOption::Pcre(_)
        | DetectOption::IsDataAt(_)
        | DetectOption::ByteTest(_)
        | DetectOption::ByteJump(_)
        | DetectOption::ByteExtract(_) => true,
        // An HTTP buffer test: rules with one load only when the engine evaluates HTTP buffers.
        DetectOption::UriLen(_) => true,
        DetectOption::StreamEvent(bit) => ctx.stream_events & (1u64 << bit) != 0,
    }
}

/// Whether an option reads the payload (and so takes part in cursor/retry evaluation).
pub(crate) fn is_payload_option(option: &DetectOption) -> bool {
    matches!(
        option,
        DetectOption::Content(_)
            | DetectOption::Pcre(_)
            | DetectOption::IsDataAt(_)
            | DetectOption::ByteTest(_)
            | DetectOption::ByteJump(_)
            | DetectOption::ByteExtract(_)
    )
}

/// A flowbits check (isset / isnotset) over interned bit ids.
pub(crate) fn bits_check_passes(
    command: FlowbitsCommand,
    join: BitsJoin,
    ids: &[usize],
    bits: &FlowBits,
) -> bool {
    let want_set = match command {
        FlowbitsCommand::IsSet => true,
        FlowbitsCommand::IsNotSet => false,
        _ => return true,
    };
    let ok = |&id: &usize| bits.is_set(id) == want_set;
    match join {
        BitsJoin::All => ids.iter().all(ok),
        BitsJoin::Any => ids.iter().any(ok),
    }
}

/// Apply a matched rule's set / unset / toggle to `bits`.
pub(crate) fn apply_bits_action(command: FlowbitsCommand, ids: &[usize], bits: &mut FlowBits) {
    for &id in ids {
        match command {
            FlowbitsCommand::Set => bits.set(id),
            FlowbitsCommand::Unset => bits.unset(id),
            FlowbitsCommand::Toggle => bits.toggle(id),
            FlowbitsCommand::IsSet | FlowbitsCommand::IsNotSet | FlowbitsCommand::NoAlert => {}
        }
    }
}

/// A literal or the current value of a byte_extract variable.
pub(crate) fn resolve(value: Value, vars: &[i64]) -> i64 {
    match value {
        Value::Literal(v) => v,
        Value::Var(i) => vars.get(i).copied().unwrap_or(0),
    }
}

/// Read a byte_* field of `bytes` bytes at `pos`: binary (1..=8 bytes, `endian`) or ASCII
/// digits in `string`'s base (at least one digit). Returns the value and how many bytes the
/// value used (all of them for binary, the digits for strings).
pub(crate) fn read_number(
    buf: &[u8],
    pos: i64,
    bytes: u8,
    endian: Endian,
    string: Option<NumberBase>,
) -> Option<(u64, usize)> {
    let start = usize::try_from(pos).ok()?;
    let end = start.checked_add(bytes as usize)?;
    let field = buf.get(start..end)?;
    if field.is_empty() {
        // Zero bytes (Suricata's `byte_jump:0,...`): value 0, nothing read; only the offsets move.
        return Some((0, 0));
    }
    match string {
        None => {
            if field.len() > 8 {
                return None;
            }
            let fold = |acc: u64, &b: &u8| (acc << 8) | u64::from(b);
            let value = match endian {
                Endian::Big => field.iter().fold(0, fold),
                Endian::Little => field.iter().rev().fold(0, fold),
            };
            Some((value, field.len()))
        }
        Some(base) => {
            let radix = match base {
                NumberBase::Hex => 16,
                NumberBase::Dec => 10,
                NumberBase::Oct => 8,
            };
            let digits = field
                .iter()
                .take_while(|b| (**b as char).is_digit(radix))
                .count();
            if digits == 0 {
                return None;
            }
            let mut value: u64 = 0;
            for &b in &field[..digits] {
                let digit = (b as char).to_digit(radix)?;
                value = value
                    .checked_mul(u64::from(radix))?
                    .checked_add(u64::from(digit))?;
            }
            Some((value, digits))
        }
    }
}

/// Snort 2.9's bitmask: keep the masked bits and shift them down to bit 0.
pub(crate) fn apply_bitmask(value: u64, mask: Option<u32>) -> u64 {
    match mask {
        Some(m) if m != 0 => (value & u64::from(m)) >> m.trailing_zeros(),
        _ => value,
    }
}

/// The comparison of byte_test (before negation).
pub(crate) fn byte_test_holds(op: ByteTestOp, value: u64, operand: i64) -> bool {
    let operand = operand as u64;
    match op {
        ByteTestOp::Lt => value < operand,
        ByteTestOp::Gt => value > operand,
        ByteTestOp::Le => value <= operand,
        ByteTestOp::Ge => value >= operand,
        ByteTestOp::Eq => value == operand,
        ByteTestOp::And => value & operand != 0,
        ByteTestOp::Xor => value ^ operand != 0,
    }
}

/// byte_test at `base` (0 or the cursor). None when the read fails.
pub(crate) fn byte_test(t: &ByteTest, buf: &[u8], base: usize, vars: &[i64]) -> bool {
    let pos = base as i64 + resolve(t.offset, vars);
    match read_number(buf, pos, t.bytes, t.endian, t.string) {
        Some((raw, _)) => {
            let value = apply_bitmask(raw, t.bitmask);
            byte_test_holds(t.op, value, resolve(t.value, vars)) != t.negated
        }
        None => false,
    }
}

/// byte_jump from `base`: the new cursor, or None when the read fails or the target is
/// outside `[0, len]`.
pub(crate) fn byte_jump(j: &ByteJump, buf: &[u8], base: usize, vars: &[i64]) -> Option<usize> {
    let pos = base as i64 + resolve(j.offset, vars);
    let (raw, used) = read_number(buf, pos, j.bytes, j.endian, j.string)?;
    let mut jump = (apply_bitmask(raw, j.bitmask) as i128) * i128::from(j.multiplier.max(1));
    if j.align {
        jump = (jump + 3) & !3;
    }
    let from = if j.from_beginning {
        0
    } else if j.from_end {
        buf.len() as i128
    } else {
        pos as i128 + used as i128
    };
    let target = from + jump + i128::from(j.post_offset);
    usize::try_from(target).ok().filter(|&t| t <= buf.len())
}

/// byte_extract from `base`: the value to store and the new cursor.
pub(crate) fn byte_extract(e: &ByteExtract, buf: &[u8], base: usize) -> Option<(i64, usize)> {
    let pos = base as i64 + e.offset;
    let (raw, used) = read_number(buf, pos, e.bytes, e.endian, e.string)?;
    let mut value = apply_bitmask(raw, e.bitmask).saturating_mul(u64::from(e.multiplier.max(1)));
    if e.align == 2 || e.align == 4 {
        let align = u64::from(e.align);
        value = value.div_ceil(align) * align;
    }
    Some((value as i64, pos as usize + used))
}

/// isdataat (with its negation).
pub(crate) fn is_data_at(d: &IsDataAt, len: usize, cursor: usize, vars: &[i64]) -> bool {
    let base = if d.relative { cursor as i64 } else { 0 };
    let pos = base + resolve(d.offset, vars);
    (pos >= 0 && (pos as usize) < len) != d.negated
}

/// A content compiled for searching.
#[derive(Debug)]
pub(crate) struct ContentOp {
    searcher: Searcher,
    /// The content's modifiers; its pattern lives in `searcher` (emptied here: one copy).
    spec: Content,
    /// For the rule's fast-pattern content: where in the content its prefilter pattern ends
    /// ([`crate::group::fast_pattern_range`]), so the prefilter's hits tell where the content
    /// can occur ([`FastHits`]).
    prefilter_end: Option<usize>,
}

/// How a content is searched. Shared between the identical contents of a rule set through a
/// [`SearcherCache`]: ET Open has ~50,000 contents but ~20,000 distinct ones, and a compiled
/// `memmem::Finder` is ~300 bytes.
#[derive(Clone, Debug)]
enum Searcher {
    Exact(Arc<memmem::Finder<'static>>),
    /// The lowercased needle ([`find_nocase`] needs no compiled searcher).
    NoCase(Arc<[u8]>),
}

/// The searchers compiled so far while building one rule set (per building thread).
#[derive(Debug, Default)]
pub(crate) struct SearcherCache(HashMap<(Box<[u8]>, bool), Searcher>);

impl SearcherCache {
    fn searcher(&mut self, pattern: &[u8], nocase: bool) -> Searcher {
        if let Some(found) = self.0.get(&(Box::from(pattern), nocase)) {
            return found.clone();
        }
        let searcher = if nocase {
            Searcher::NoCase(Arc::from(pattern.to_ascii_lowercase()))
        } else {
            Searcher::Exact(Arc::new(memmem::Finder::new(pattern).into_owned()))
        };
        self.0
            .insert((Box::from(pattern), nocase), searcher.clone());
        searcher
    }
}

impl ContentOp {
    fn new(spec: &Content, is_fast_pattern: bool, cache: &mut SearcherCache) -> ContentOp {
        let searcher = cache.searcher(&spec.pattern, spec.nocase);
        let prefilter_end = is_fast_pattern.then(|| crate::group::fast_pattern_range(spec).end);
        let spec = Content {
            pattern: Vec::new(),
            ..spec.clone()
        };
        ContentOp {
            searcher,
            spec,
            prefilter_end,
        }
    }

    /// The pattern's length.
    fn len(&self) -> usize {
        match &self.searcher {
            Searcher::Exact(finder) => finder.needle().len(),
            Searcher::NoCase(needle) => needle.len(),
        }
    }

    /// The search window `[lo, hi)` clamped into the buffer.
    fn window(&self, len: usize, cursor: usize, vars: &[i64]) -> (usize, usize) {
        let c = &self.spec;
        let (start, end) = if c.is_relative() {
            let start = cursor as i64 + c.distance.map_or(0, |v| resolve(v, vars));
            (start, c.within.map(|w| start + resolve(w, vars)))
        } else {
            let start = c.offset.map_or(0, |v| resolve(v, vars));
            (start, c.depth.map(|d| start + resolve(d, vars)))
        };
        let clamp = |v: i64| v.clamp(0, len as i64) as usize;
        (clamp(start), end.map_or(len, clamp))
    }

    /// [`ContentOp::find`] for the rule's fast-pattern content, skipping the stretches where
    /// the prefilter saw no occurrence of its fast pattern (see [`FastHits`]). For a short
    /// fast pattern in a large buffer this turns a scan of the whole buffer per candidate rule
    /// (and per retry) into a look at the few places the one multi-pattern pass found.
    fn find_narrowed(&self, buf: &[u8], from: usize, hi: usize, hits: &FastHits) -> Option<usize> {
        let Some(end_in_content) = self.prefilter_end else {
            return self.find(buf, from, hi);
        };
        hits.possible_starts(end_in_content)
            .find_map(|(first, last)| {
                let lo = from.max(first);
                let hi = hi.min(last.saturating_add(self.len()));
                if lo < hi {
                    self.find(buf, lo, hi)
                } else {
                    None
                }
            })
    }

    /// First occurrence starting at or after `from` that ends by `hi`.
    fn find(&self, buf: &[u8], from: usize, hi: usize) -> Option<usize> {
        let hay = buf.get(from..hi)?;
        let found = match &self.searcher {
            Searcher::Exact(finder) => finder.find(hay),
            Searcher::NoCase(needle) => find_nocase(hay, needle),
        };
        found.map(|p| p + from)
    }
}

/// ASCII case-insensitive search for an already lowercased needle.
fn find_nocase(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0);
    };
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut at = 0;
    while at <= last_start {
        let p = at + memchr::memchr2(first, first.to_ascii_uppercase(), &hay[at..=last_start])?;
        if hay[p + 1..p + needle.len()].eq_ignore_ascii_case(rest) {
            return Some(p);
        }
        at = p + 1;
    }
    None
}

/// A payload option ready to evaluate.
#[derive(Debug)]
pub(crate) enum PayloadOp {
    Content(Box<ContentOp>),
    Pcre {
        regex: Arc<Regex>,
        negated: bool,
        relative: bool,
        override_limits: bool,
    },
    IsDataAt(IsDataAt),
    ByteTest(ByteTest),
    ByteJump(ByteJump),
    ByteExtract {
        spec: ByteExtract,
        var: usize,
    },
}

impl PayloadOp {
    /// Compile the payload options of `options`, in order. `fast` is the rule's fast-pattern
    /// content (one of `options`), whose search the prefilter's hits may narrow. Returns the
    /// ops and the number of byte_extract variables.
    pub(crate) fn compile_all(
        options: &[DetectOption],
        fast: Option<&Content>,
        cache: &mut SearcherCache,
    ) -> (Vec<PayloadOp>, usize) {
        let mut ops = Vec::new();
        let mut vars = 0;
        for option in options {
            let op = match option {
                DetectOption::Content(c) => {
                    let is_fast = fast.is_some_and(|f| std::ptr::eq(f, c));
                    PayloadOp::Content(Box::new(ContentOp::new(c, is_fast, cache)))
                }
                DetectOption::Pcre(p) => PayloadOp::Pcre {
                    regex: Arc::clone(&p.regex),
                    negated: p.negated,
                    relative: p.relative,
                    override_limits: p.override_limits,
                },
                DetectOption::IsDataAt(d) => PayloadOp::IsDataAt(d.clone()),
                DetectOption::ByteTest(t) => PayloadOp::ByteTest(t.clone()),
                DetectOption::ByteJump(j) => PayloadOp::ByteJump(j.clone()),
                DetectOption::ByteExtract(e) => {
                    vars += 1;
                    PayloadOp::ByteExtract {
                        spec: e.clone(),
                        var: vars - 1,
                    }
                }
                _ => continue,
            };
            ops.push(op);
        }
        ops.shrink_to_fit();
        (ops, vars)
    }
}

/// Mutable state of one rule's payload evaluation.
pub(crate) struct PayloadEval<'a> {
    pub buf: &'a [u8],
    pub vars: &'a mut [i64],
    pub pcre: &'a mut PcreScratch,
    /// Retries left for this rule evaluation.
    pub retries_left: u32,
    /// Set when the budget ran out.
    pub retry_limit_hit: bool,
    /// Where the prefilter saw the rule's fast pattern in `buf`.
    pub fast_hits: FastHits,
}

/// What the prefilter's pass over a buffer says about where a rule's fast pattern occurs:
/// every occurrence whose end lies in `(known_after, known_upto]` was reported, at the ends in
/// `seen`. Occurrences ending elsewhere (bytes a stream view already inspected, or bytes after
/// the scanned part) are unknown and may be anywhere.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FastHits {
    pub known_after: usize,
    pub known_upto: usize,
    pub seen: SeenEnds,
}

/// The reported ends of a fast pattern's occurrences.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SeenEnds {
    /// All of them, ascending (the first `len`).
    Exact {
        ends: [usize; SeenEnds::EXACT],
        len: usize,
    },
    /// More than [`SeenEnds::EXACT`]: only the first and last are kept.
    Span { first: usize, last: usize },
}

impl SeenEnds {
    /// Hits remembered one by one per candidate; past that, the span between the first and
    /// the last. A 2-byte pattern occurs about once in 64 KB of random bytes.
    pub(crate) const EXACT: usize = 4;
}

impl FastHits {
    /// Nothing known: every position is possible.
    pub(crate) const UNKNOWN: FastHits = FastHits {
        known_after: usize::MAX,
        known_upto: usize::MAX,
        seen: SeenEnds::Exact {
            ends: [0; SeenEnds::EXACT],
            len: 0,
        },
    };

    /// The inclusive ranges, ascending, where a content whose fast pattern ends
    /// `end_in_content` bytes into it can start.
    fn possible_starts(&self, end_in_content: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let start = move |end: usize| end.saturating_sub(end_in_content);
        let before = self
            .known_after
            .checked_sub(end_in_content)
            .map(|last| (0, last));
        let (exact, span): (&[usize], _) = match &self.seen {
            SeenEnds::Exact { ends, len } => (&ends[..*len], None),
            SeenEnds::Span { first, last } => (&[], Some((start(*first), start(*last)))),
        };
        let after =
            (self.known_upto != usize::MAX).then(|| (start(self.known_upto + 1), usize::MAX));
        before
            .into_iter()
            .chain(exact.iter().map(move |&e| (start(e), start(e))))
            .chain(span)
            .chain(after)
    }
}

impl PayloadEval<'_> {
    fn take_retry(&mut self) -> bool {
        if self.retries_left == 0 {
            self.retry_limit_hit = true;
            return false;
        }
        self.retries_left -= 1;
        true
    }

    /// Whether `ops` match from `cursor`, backtracking into contents and pcres as Snort does.
    pub(crate) fn run(&mut self, ops: &[PayloadOp], cursor: usize) -> bool {
        let Some((op, rest)) = ops.split_first() else {
            return true;
        };
        let len = self.buf.len();
        match op {
            PayloadOp::Content(c) => {
                let (lo, hi) = c.window(len, cursor, self.vars);
                if c.spec.negated {
                    return c.find(self.buf, lo, hi).is_none() && self.run(rest, cursor);
                }
                if c.spec.fast_pattern == FastPattern::Only {
                    return c.find_narrowed(self.buf, lo, hi, &self.fast_hits).is_some()
                        && self.run(rest, cursor);
                }
                let mut from = lo;
                while let Some(pos) = c.find_narrowed(self.buf, from, hi, &self.fast_hits) {
                    if self.run(rest, pos + c.len()) {
                        return true;
                    }
                    if !self.take_retry() {
                        return false;
                    }
                    from = pos + 1;
                }
                false
            }
            PayloadOp::Pcre {
                regex,
                negated,
                relative,
                override_limits,
            } => {
                // Snort hands a relative pcre the buffer from the cursor on, so `^` and `A`
                // anchor at the cursor and lookbehind cannot see earlier bytes.
                let base = if *relative { cursor } else { 0 };
                let subject = self.buf.get(base..).unwrap_or_default();
                if *negated {
                    let found = matches!(
                        regex.find_at(subject, 0, *override_limits, self.pcre),
                        PcreOutcome::Match { .. }
                    );
                    return !found && self.run(rest, cursor);
                }
                let mut from = 0;
                while let PcreOutcome::Match { start: s, end: e } =
                    regex.find_at(subject, from, *override_limits, self.pcre)
                {
                    if self.run(rest, base + e) {
                        return true;
                    }
                    if regex.flags().anchored || !self.take_retry() {
                        return false;
                    }
                    from = s + 1;
                }
                false
            }
            PayloadOp::IsDataAt(d) => {
                is_data_at(d, len, cursor, self.vars) && self.run(rest, cursor)
            }
            PayloadOp::ByteTest(t) => {
                let base = if t.relative { cursor } else { 0 };
                byte_test(t, self.buf, base, self.vars) && self.run(rest, cursor)
            }
            PayloadOp::ByteJump(j) => {
                let base = if j.relative { cursor } else { 0 };
                match byte_jump(j, self.buf, base, self.vars) {
                    Some(next) => self.run(rest, next),
                    None => false,
                }
            }
            PayloadOp::ByteExtract { spec, var } => {
                let base = if spec.relative { cursor } else { 0 };
                match byte_extract(spec, self.buf, base) {
                    Some((value, next)) => {
                        if let Some(slot) = self.vars.get_mut(*var) {
                            *slot = value;
                        }
                        self.run(rest, next)
                    }
                    None => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_nocase_matches_any_case_only_whole_needle() {
        assert_eq!(find_nocase(b"xxAbCd", b"abc"), Some(2));
        assert_eq!(find_nocase(b"ab", b"abc"), None);
        assert_eq!(find_nocase(b"aBx abC", b"abc"), Some(4));
    }

    #[test]
    fn read_number_binary_and_string() {
        assert_eq!(
            read_number(b"\x01\x02", 0, 2, Endian::Big, None),
            Some((0x0102, 2))
        );
        assert_eq!(
            read_number(b"\x01\x02", 0, 2, Endian::Little, None),
            Some((0x0201, 2))
        );
        assert_eq!(read_number(b"\x01\x02", 1, 2, Endian::Big, None), None);
        assert_eq!(
            read_number(b"12x4", 0, 4, Endian::Big, Some(NumberBase::Dec)),
            Some((12, 2))
        );
        assert_eq!(
            read_number(b"ff", 0, 2, Endian::Big, Some(NumberBase::Hex)),
            Some((255, 2))
        );
        assert_eq!(
            read_number(b"78", 0, 2, Endian::Big, Some(NumberBase::Oct)),
            Some((7, 1))
        );
        assert_eq!(
            read_number(b"x1", 0, 2, Endian::Big, Some(NumberBase::Dec)),
            None
        );
        assert_eq!(read_number(b"1", -1, 1, Endian::Big, None), None);
    }

    #[test]
    fn bitmask_shifts_down() {
        assert_eq!(apply_bitmask(0xabcd, Some(0x0ff0)), 0xbc);
        assert_eq!(apply_bitmask(0xabcd, None), 0xabcd);
    }
}
