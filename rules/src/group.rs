//! Rule groups: which rules a packet can match, found with one Aho-Corasick pass.
//!
//! Rules are split by protocol class (tcp, udp, icmp, other) and, for tcp and udp, by port as
//! Snort does: a rule naming specific destination ports joins those ports' destination groups
//! (a `<>` rule also joins the same ports' source groups); failing that, specific source ports
//! place it in source groups; otherwise it is generic. Generic rules (and `ip` rules) join every
//! group of their class. A packet runs its destination-port group and its source-port group
//! when they exist, else the generic group. Groups with the same rules share one compiled
//! [`Group`].
//!
//! Each group has one automaton over its rules' fast patterns, matched ASCII-case-insensitively
//! with overlapping search: a hit only makes a rule a *candidate* (every option, the fast
//! pattern's content included, is then evaluated in full), so the prefilter only needs to be
//! sound: it must never miss a rule that can match. Not here: evaluation ([`crate::eval`]).

use std::collections::HashMap;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

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
    always: Box<[u32]>,
}

impl Group {
    fn build(members: &[u32], patterns: &[Option<Vec<u8>>]) -> Group {
        let mut by_pattern: HashMap<&[u8], Vec<u32>> = HashMap::new();
        let mut order: Vec<&[u8]> = Vec::new();
        let mut always = Vec::new();
        for &r in members {
            match &patterns[r as usize] {
                Some(p) => {
                    let entry = by_pattern.entry(p.as_slice()).or_default();
                    if entry.is_empty() {
                        order.push(p.as_slice());
                    }
                    entry.push(r);
                }
                None => always.push(r),
            }
        }
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
            always: always.into_boxed_slice(),
        }
    }

    /// Mark every candidate rule of this group for `buf`; `mark` dedupes.
    pub(crate) fn collect(&self, buf: &[u8], mut mark: impl FnMut(u32)) {
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
    /// The groups to run for a packet: at most two.
    pub(crate) fn for_ports(&self, src_port: u16, dst_port: u16) -> [Option<&Group>; 2] {
        let dst = self.by_dst.get(&dst_port).map(|g| &**g);
        let src = self.by_src.get(&src_port).map(|g| &**g);
        if dst.is_none() && src.is_none() {
            [self.generic.as_deref(), None]
        } else {
            [dst, src]
        }
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
            let group = Group::build(m, &patterns);
            stats.groups += 1;
            stats.patterns += group.pattern_rules.len();
            stats.memory_bytes += group.memory_usage();
            Arc::new(group)
        }))
    };
    let mut out: [ClassGroups; CLASSES] = Default::default();
    for class in 0..CLASSES {
        let with_generic = |mut specific: Vec<u32>| {
            specific.extend_from_slice(&generic[class]);
            specific
        };
        let dst: Vec<(u16, Vec<u32>)> = std::mem::take(&mut by_dst[class]).into_iter().collect();
        let src: Vec<(u16, Vec<u32>)> = std::mem::take(&mut by_src[class]).into_iter().collect();
        for (port, members) in dst {
            out[class]
                .by_dst
                .insert(port, intern(with_generic(members)));
        }
        for (port, members) in src {
            out[class]
                .by_src
                .insert(port, intern(with_generic(members)));
        }
        if !generic[class].is_empty() {
            out[class].generic = Some(intern(generic[class].clone()));
        }
    }
    (out, stats)
}
