//! Rule groups: which rules a packet can match, found with one Aho-Corasick pass.
//!
//! Rules are split by protocol class (tcp, udp, icmp, other) and, for tcp and udp, by port as
//! Snort does: a rule naming specific destination ports joins those ports' destination groups
//! (a `<>` rule also joins the same ports' source groups); failing that, specific source ports
//! place it in source groups; otherwise it is generic (`ip` rules are generic in every class).
//! A packet runs its class's generic group plus its destination-port and source-port groups
//! when they exist. Port groups hold only their port-specific rules, so the big generic
//! automaton is built once per class rather than copied into every port group (that copy cost
//! ~300 MiB and 2 s on ET Open); port groups with the same rules share one compiled [`Group`].
//!
//! Rules without a fast pattern (ET Open has ~2,600 IP-reputation rules of that kind, each with
//! a long address list) are indexed by address when their source (or else destination) is a
//! specific list: a packet makes them candidates only when its source or destination falls in
//! one of those ranges. The rest are candidates in every packet of their group.
//!
//! Each group has one automaton over its rules' fast patterns, matched ASCII-case-insensitively
//! with overlapping search: a hit only makes a rule a *candidate* (every option, the fast
//! pattern's content included, is then evaluated in full), so the prefilter only needs to be
//! sound: it must never miss a rule that can match. Not here: evaluation ([`crate::eval`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use ipnet::IpNet;

use crate::ast::{Content, DetectOption, FastPattern, PortSet, Protocol, Rule};

/// A port set naming more ports than this is treated as "any" for grouping (the header check
/// still applies it exactly). Keeps the number of groups and automatons small.
pub const PORT_GROUP_MAX_PORTS: usize = 512;

/// The bytes a rule contributes to its group's automaton, lowercased; None when the rule has
/// no non-negated content (it is then a candidate in every packet of its group).
pub(crate) fn fast_pattern(rule: &Rule) -> Option<Vec<u8>> {
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
    let c = best?;
    let bytes = match c.fast_pattern {
        FastPattern::Slice { offset, length } => {
            let end = offset.saturating_add(length).min(c.pattern.len());
            match c.pattern.get(offset..end) {
                Some(slice) if !slice.is_empty() => slice,
                _ => &c.pattern[..],
            }
        }
        _ => &c.pattern[..],
    };
    Some(bytes.to_ascii_lowercase())
}

/// One compiled group: its automaton, which rules each pattern stands for, and the rules
/// without a fast pattern.
#[derive(Debug)]
pub(crate) struct Group {
    automaton: Option<AhoCorasick>,
    pattern_rules: Vec<Box<[u32]>>,
    by_address: AddressIndex,
    always: Box<[u32]>,
}

/// An IP address in one ordered space: IPv4 as IPv4-mapped IPv6.
fn addr_key(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn net_range(net: &IpNet) -> (u128, u128) {
    (addr_key(net.network()), addr_key(net.broadcast()))
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
    /// Index `(rule, ranges)`; returns None when it would exceed the entry bound.
    fn build(keyed: &[(u32, Vec<(u128, u128)>)]) -> Option<AddressIndex> {
        let mut starts: Vec<u128> = Vec::new();
        for (_, ranges) in keyed {
            for &(lo, hi) in ranges {
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
        for (rule, ranges) in keyed {
            for &(lo, hi) in ranges {
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
        Some(AddressIndex { starts, offsets, rules })
    }

    fn lookup(&self, addr: IpAddr) -> &[u32] {
        let key = addr_key(addr);
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

impl Group {
    fn build(members: &[u32], patterns: &[Option<Vec<u8>>], rules: &[Rule]) -> Group {
        let mut by_pattern: HashMap<&[u8], Vec<u32>> = HashMap::new();
        let mut order: Vec<&[u8]> = Vec::new();
        let mut always = Vec::new();
        let mut keyed = Vec::new();
        for &r in members {
            match &patterns[r as usize] {
                Some(p) => {
                    let entry = by_pattern.entry(p.as_slice()).or_default();
                    if entry.is_empty() {
                        order.push(p.as_slice());
                    }
                    entry.push(r);
                }
                None => {
                    let rule = &rules[r as usize];
                    let key = [&rule.src, &rule.dst].into_iter().find(|a| !a.include.is_empty());
                    match key {
                        Some(set) => keyed.push((r, set.include.iter().map(net_range).collect())),
                        None => always.push(r),
                    }
                }
            }
        }
        let by_address = match AddressIndex::build(&keyed) {
            Some(index) => index,
            None => {
                tracing::warn!(
                    "address index over {} rules exceeds {ADDRESS_INDEX_MAX_ENTRIES} entries; they are checked on every packet",
                    keyed.len()
                );
                always.extend(keyed.iter().map(|(r, _)| *r));
                always.sort_unstable();
                AddressIndex::default()
            }
        };
        let automaton = if order.is_empty() {
            None
        } else {
            let built = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(true)
                .build(&order);
            match built {
                Ok(ac) => Some(ac),
                Err(err) => {
                    // Only possible past aho-corasick's size limits; fall back to evaluating
                    // every rule of the group (still correct, slower) and say so.
                    tracing::warn!("rule group automaton not built ({err}); its rules are checked on every packet");
                    always.extend(order.iter().flat_map(|p| by_pattern[p].iter().copied()));
                    always.sort_unstable();
                    order.clear();
                    None
                }
            }
        };
        let pattern_rules = order
            .iter()
            .map(|p| by_pattern[p].clone().into_boxed_slice())
            .collect();
        Group {
            automaton,
            pattern_rules,
            by_address,
            always: always.into_boxed_slice(),
        }
    }

    /// Mark every candidate rule of this group for `buf` between `addrs`; `mark` dedupes.
    pub(crate) fn collect(&self, buf: &[u8], addrs: [IpAddr; 2], mut mark: impl FnMut(u32)) {
        for addr in addrs {
            for &r in self.by_address.lookup(addr) {
                mark(r);
            }
        }
        if let Some(ac) = &self.automaton {
            for hit in ac.find_overlapping_iter(buf) {
                for &r in self.pattern_rules[hit.pattern().as_usize()].iter() {
                    mark(r);
                }
            }
        }
        for &r in self.always.iter() {
            mark(r);
        }
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.automaton.as_ref().map_or(0, |ac| ac.memory_usage())
            + self
                .pattern_rules
                .iter()
                .map(|p| p.len() * 4 + 16)
                .sum::<usize>()
            + self.always.len() * 4
            + self.by_address.memory_usage()
    }
}

/// The groups of one protocol class.
#[derive(Debug, Default)]
pub(crate) struct ClassGroups {
    generic: Option<Arc<Group>>,
    by_dst: HashMap<u16, Arc<Group>>,
    by_src: HashMap<u16, Arc<Group>>,
}

impl ClassGroups {
    /// The groups to run for a packet: generic, destination port, source port.
    pub(crate) fn for_ports(&self, src_port: u16, dst_port: u16) -> [Option<&Group>; 3] {
        [
            self.generic.as_deref(),
            self.by_dst.get(&dst_port).map(|g| &**g),
            self.by_src.get(&src_port).map(|g| &**g),
        ]
    }
}

/// Protocol classes: tcp, udp, icmp (1 and 58), everything else.
pub(crate) const CLASSES: usize = 4;

pub(crate) fn class_of_ip_proto(ip_proto: u8) -> usize {
    match ip_proto {
        6 => 0,
        17 => 1,
        1 | 58 => 2,
        _ => 3,
    }
}

fn classes_of(protocol: Protocol) -> &'static [usize] {
    match protocol {
        Protocol::Tcp => &[0],
        Protocol::Udp => &[1],
        Protocol::Icmp => &[2],
        Protocol::Ip => &[0, 1, 2, 3],
    }
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
}

/// Build the groups of every class.
pub(crate) fn build_groups(rules: &[Rule]) -> ([ClassGroups; CLASSES], GroupStats) {
    let patterns: Vec<Option<Vec<u8>>> = rules.iter().map(fast_pattern).collect();
    let mut generic: [Vec<u32>; CLASSES] = Default::default();
    let mut by_dst: [HashMap<u16, Vec<u32>>; CLASSES] = Default::default();
    let mut by_src: [HashMap<u16, Vec<u32>>; CLASSES] = Default::default();
    for (index, rule) in rules.iter().enumerate() {
        let r = index as u32;
        let ported = matches!(rule.protocol, Protocol::Tcp | Protocol::Udp);
        let both = rule.direction == crate::ast::Direction::Both;
        for &class in classes_of(rule.protocol) {
            let dst = ported.then(|| specific_ports(&rule.dst_ports)).flatten();
            let src = ported.then(|| specific_ports(&rule.src_ports)).flatten();
            let (primary, mirror) = match (dst, src) {
                (Some(d), _) => ((&mut by_dst[class], &mut by_src[class]), d),
                (None, Some(s)) => ((&mut by_src[class], &mut by_dst[class]), s),
                (None, None) => {
                    generic[class].push(r);
                    continue;
                }
            };
            let ((first, second), ports) = (primary, mirror);
            for &p in &ports {
                first.entry(p).or_default().push(r);
                if both {
                    second.entry(p).or_default().push(r);
                }
            }
        }
    }

    let mut shared: HashMap<Vec<u32>, Arc<Group>> = HashMap::new();
    let mut stats = GroupStats::default();
    let mut intern = |mut members: Vec<u32>| -> Arc<Group> {
        members.sort_unstable();
        members.dedup();
        Arc::clone(shared.entry(members).or_insert_with_key(|m| {
            let group = Group::build(m, &patterns, rules);
            stats.groups += 1;
            stats.patterns += group.pattern_rules.len();
            stats.memory_bytes += group.memory_usage();
            Arc::new(group)
        }))
    };
    let mut out: [ClassGroups; CLASSES] = Default::default();
    for class in 0..CLASSES {
        let dst: Vec<(u16, Vec<u32>)> = std::mem::take(&mut by_dst[class]).into_iter().collect();
        let src: Vec<(u16, Vec<u32>)> = std::mem::take(&mut by_src[class]).into_iter().collect();
        for (port, members) in dst {
            out[class]
                .by_dst
                .insert(port, intern(members));
        }
        for (port, members) in src {
            out[class]
                .by_src
                .insert(port, intern(members));
        }
        if !generic[class].is_empty() {
            out[class].generic = Some(intern(generic[class].clone()));
        }
    }
    (out, stats)
}
