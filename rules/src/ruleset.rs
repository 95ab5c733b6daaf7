//! The compiled, immutable RuleSet and its matcher. (Owned by the rules back end; API fixed.)

use std::net::IpAddr;

use crate::ast::{Action, Rule};

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
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Order in which matches are returned (and verdicts decided). Default pass, drop, reject,
    /// alert (Suricata's).
    pub action_order: [ActionClass; 4],
    /// pcre2 match limit (pcre2_set_match_limit); rules with `O` ignore it.
    pub pcre_match_limit: u32,
    /// pcre2 depth limit (pcre2_set_depth_limit).
    pub pcre_depth_limit: u32,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            action_order: [ActionClass::Pass, ActionClass::Drop, ActionClass::Reject, ActionClass::Alert],
            pcre_match_limit: 3500,
            pcre_depth_limit: 1500,
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
}

/// The flowbits of one flow: a bitset indexed by the RuleSet's interned flowbit names. Empty
/// (and allocation-free) until a bit is set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowBits {
    words: Vec<u64>,
}

impl FlowBits {
    pub fn is_set(&self, bit: usize) -> bool {
        self.words.get(bit / 64).is_some_and(|w| w & (1 << (bit % 64)) != 0)
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

/// The compiled rules. Immutable, `Send + Sync`; share it behind an `Arc`.
pub struct RuleSet {
    rules: Vec<Rule>,
}

/// Per-thread mutable state for matching. Create with [`RuleSet::new_scratch`].
pub struct Scratch {}

impl RuleSet {
    /// Compile rules. Rule order is kept for ties within an action class.
    pub fn build(rules: Vec<Rule>, options: &BuildOptions) -> RuleSet {
        let _ = options;
        RuleSet { rules }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: RuleId) -> &Rule {
        &self.rules[id.0 as usize]
    }

    /// The longest span of stream bytes one rule's payload options can need (patterns, offsets,
    /// distances): the stream keeps this much inspected data for patterns split across segments.
    pub fn max_pattern_span(&self) -> usize {
        0
    }

    pub fn new_scratch(&self) -> Scratch {
        Scratch {}
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
        let _ = (ctx, buf, bits, scratch, out);
    }
}
