//! Rule addresses compiled out of the hot path: every distinct address set of a rule set as
//! sorted ranges, and *address classes*, a coarse partition of the address space by the sets
//! most rules use (`$HOME_NET`, `$EXTERNAL_NET`, `$HTTP_SERVERS` ...).
//!
//! A packet's source and destination each fall in one class (a binary search over a few
//! boundaries, [`AddressBook::class_of`]). For every set and class the book knows whether the
//! set holds all, none or only some of the class's addresses ([`Coverage`]). That answers most
//! rule address checks with one table lookup, leaves a binary search over the set's own ranges
//! for the rest ([`AddressBook::admits`]), and lets the rule groups ([`crate::group`],
//! [`crate::buffers`]) be split by class pair, so that rules whose addresses cannot match a
//! packet's never become candidates and their patterns stay out of its matchers.
//!
//! The semantics are [`AddrSet::contains`]'s, exactly (the property tests hold the two
//! together): nesting and negation were already flattened by the loader ([`crate::vars`]), an
//! empty include list means any address, and a net only ever holds addresses of its own family.
//! Not here: ports, or which rules go in which group.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::ast::{AddrSet, Direction, Rule};

/// The most address classes a rule set is split into (the upper bound of
/// [`crate::BuildOptions::address_classes`]): rule groups are split per (source, destination)
/// class pair, so the number of pairs, and of matchers to compile, grows with its square.
pub const MAX_ADDRESS_CLASSES: usize = 16;

/// An address class: an index below [`AddressStats::classes`].
pub(crate) type AddrClass = u8;

/// Index of a distinct address set in its [`AddressBook`].
pub(crate) type SetId = u32;

/// How much of one address class an address set holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coverage {
    None,
    Some,
    All,
}

impl Coverage {
    /// The coverage of the union of two parts of a class.
    fn join(self, other: Coverage) -> Coverage {
        if self == other {
            self
        } else {
            Coverage::Some
        }
    }
}

/// An address of one family as an ordered integer.
trait Key: Copy + Ord + std::hash::Hash + std::fmt::Debug + Into<u128> {
    const ZERO: Self;
    const MAX: Self;
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Option<Self>;
}

macro_rules! key {
    ($($t:ty),*) => {$(
        impl Key for $t {
            const ZERO: $t = 0;
            const MAX: $t = <$t>::MAX;
            fn succ(self) -> Option<$t> {
                self.checked_add(1)
            }
            fn pred(self) -> Option<$t> {
                self.checked_sub(1)
            }
        }
    )*};
}

key!(u32, u128);

/// Addresses of one family as inclusive ranges.
///
/// Invariant: sorted, disjoint and never adjacent (`a.1 + 1 < b.0` for consecutive `a`, `b`),
/// so a set covers an interval only when one of its ranges does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Ranges<T>(Box<[(T, T)]>);

impl<T: Key> Ranges<T> {
    fn full() -> Self {
        Ranges(Box::new([(T::ZERO, T::MAX)]))
    }

    /// Any ranges (each `lo <= hi`), normalized to the invariant.
    fn normalized(mut ranges: Vec<(T, T)>) -> Self {
        ranges.sort_unstable();
        let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match out.last_mut() {
                Some(last) if last.1.succ().is_none_or(|next| lo <= next) => {
                    last.1 = last.1.max(hi)
                }
                _ => out.push((lo, hi)),
            }
        }
        Ranges(out.into_boxed_slice())
    }

    /// These addresses without `other`'s.
    fn minus(&self, other: &Ranges<T>) -> Self {
        let mut out = Vec::with_capacity(self.0.len());
        for &(lo, hi) in self.0.iter() {
            let mut rest = Some(lo);
            let first = other.0.partition_point(|&(_, cut_hi)| cut_hi < lo);
            for &(cut_lo, cut_hi) in &other.0[first..] {
                let Some(from) = rest else { break };
                if cut_lo > hi {
                    break;
                }
                if let Some(before) = cut_lo.pred().filter(|&before| before >= from) {
                    out.push((from, before));
                }
                rest = cut_hi.succ().filter(|&after| after <= hi);
            }
            if let Some(from) = rest {
                out.push((from, hi));
            }
        }
        Ranges(out.into_boxed_slice())
    }

    fn contains(&self, key: T) -> bool {
        let i = self.0.partition_point(|&(_, hi)| hi < key);
        self.0.get(i).is_some_and(|&(lo, _)| lo <= key)
    }

    /// How much of `[lo, hi]` these ranges hold, looking from range `from` on: a caller
    /// walking ascending intervals keeps `from` between calls.
    fn coverage_from(&self, from: &mut usize, lo: T, hi: T) -> Coverage {
        while self
            .0
            .get(*from)
            .is_some_and(|&(_, range_hi)| range_hi < lo)
        {
            *from += 1;
        }
        match self.0.get(*from) {
            Some(&(range_lo, range_hi)) if range_lo <= lo && range_hi >= hi => Coverage::All,
            Some(&(range_lo, _)) if range_lo <= hi => Coverage::Some,
            _ => Coverage::None,
        }
    }

    /// Where a range starts and where the gap after it starts.
    fn boundaries(&self) -> impl Iterator<Item = T> + '_ {
        self.0
            .iter()
            .flat_map(|&(lo, hi)| std::iter::once(lo).chain(hi.succ()))
    }

    /// Addresses held, saturating.
    fn size(&self) -> u128 {
        self.0.iter().fold(0u128, |sum, &(lo, hi)| {
            sum.saturating_add((hi.into() - lo.into()).saturating_add(1))
        })
    }
}

fn v4_key(addr: std::net::Ipv4Addr) -> u32 {
    u32::from(addr)
}

fn v6_key(addr: std::net::Ipv6Addr) -> u128 {
    u128::from(addr)
}

/// One address set, both families.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct AddrRanges {
    v4: Ranges<u32>,
    v6: Ranges<u128>,
}

impl AddrRanges {
    /// The addresses [`AddrSet::contains`] accepts.
    fn of(set: &AddrSet) -> AddrRanges {
        let nets = |nets: &[IpNet]| {
            let (mut v4, mut v6) = (Vec::new(), Vec::new());
            for net in nets {
                match net {
                    IpNet::V4(n) => v4.push((v4_key(n.network()), v4_key(n.broadcast()))),
                    IpNet::V6(n) => v6.push((v6_key(n.network()), v6_key(n.broadcast()))),
                }
            }
            AddrRanges {
                v4: Ranges::normalized(v4),
                v6: Ranges::normalized(v6),
            }
        };
        let include = if set.include.is_empty() {
            AddrRanges {
                v4: Ranges::full(),
                v6: Ranges::full(),
            }
        } else {
            nets(&set.include)
        };
        let exclude = nets(&set.exclude);
        AddrRanges {
            v4: include.v4.minus(&exclude.v4),
            v6: include.v6.minus(&exclude.v6),
        }
    }

    fn contains(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.v4.contains(v4_key(a)),
            IpAddr::V6(a) => self.v6.contains(v6_key(a)),
        }
    }

    fn is_full(&self) -> bool {
        self.v4 == Ranges::full() && self.v6 == Ranges::full()
    }

    fn size(&self) -> u128 {
        self.v4.size().saturating_add(self.v6.size())
    }
}

/// A partition of one family's addresses into classes: interval `i` is
/// `[starts[i], starts[i + 1])` (the last one runs to the family's end) and is of class
/// `class[i]`.
///
/// Invariant: `starts[0] == 0`, ascending, and neighbouring intervals differ in class.
#[derive(Clone, Debug)]
struct Partition<T> {
    starts: Box<[T]>,
    class: Box<[AddrClass]>,
}

impl<T: Key> Partition<T> {
    fn whole() -> Self {
        Partition {
            starts: Box::new([T::ZERO]),
            class: Box::new([0]),
        }
    }

    fn class_of(&self, key: T) -> AddrClass {
        // starts[0] == 0, so at least one start is <= key.
        let i = self.starts.partition_point(|&s| s <= key);
        self.class[i.saturating_sub(1)]
    }

    /// The intervals as `(lo, hi, class)`, ascending.
    fn intervals(&self) -> impl Iterator<Item = (T, T, AddrClass)> + '_ {
        self.starts.iter().enumerate().map(|(i, &lo)| {
            let hi = self
                .starts
                .get(i + 1)
                .and_then(|next| next.pred())
                .unwrap_or(T::MAX);
            (lo, hi, self.class[i])
        })
    }

    /// This partition cut by `set`: each interval labelled `(its class, inside set)`, the
    /// labels numbered through `number`, neighbours of one label merged.
    fn refined(
        &self,
        set: &Ranges<T>,
        number: &mut impl FnMut(AddrClass, bool) -> AddrClass,
    ) -> Partition<T> {
        let mut cuts: Vec<T> = self
            .starts
            .iter()
            .copied()
            .chain(set.boundaries())
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut starts = Vec::with_capacity(cuts.len());
        let mut class = Vec::with_capacity(cuts.len());
        for cut in cuts {
            let label = number(self.class_of(cut), set.contains(cut));
            if class.last() != Some(&label) {
                starts.push(cut);
                class.push(label);
            }
        }
        Partition {
            starts: starts.into_boxed_slice(),
            class: class.into_boxed_slice(),
        }
    }

    /// How much of each class `set` holds, joined into `out` (indexed by class; None for a
    /// class this family has no interval of).
    fn coverage(&self, set: &Ranges<T>, out: &mut [Option<Coverage>]) {
        let mut from = 0;
        for (lo, hi, class) in self.intervals() {
            let here = set.coverage_from(&mut from, lo, hi);
            let slot = &mut out[usize::from(class)];
            *slot = Some(slot.map_or(here, |c| c.join(here)));
        }
    }
}

/// What [`AddressBook::build`] made of a rule set's addresses, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddressStats {
    /// Distinct address sets over all rule headers.
    pub sets: usize,
    /// Address classes the address space was split into (1: no split).
    pub classes: usize,
    /// Sets used by enough rules to define classes that were left out because they would
    /// have made more than the allowed number of classes.
    pub sets_over_class_limit: usize,
}

/// A rule set's addresses, compiled. Immutable; built once per rule set.
#[derive(Debug)]
pub(crate) struct AddressBook {
    sets: Vec<AddrRanges>,
    /// Per rule: the sets of its source and destination.
    rule_sets: Vec<[SetId; 2]>,
    /// Whether each rule is `<>`.
    both_ways: Vec<bool>,
    v4: Partition<u32>,
    v6: Partition<u128>,
    classes: usize,
    /// `coverage[set * classes + class]`.
    coverage: Vec<Coverage>,
    stats: AddressStats,
}

impl AddressBook {
    /// Compile the header addresses of `rules` into at most `max_classes` classes (clamped to
    /// 1..=[`MAX_ADDRESS_CLASSES`]). Classes are cut by the sets used by at least 1/64 of the
    /// rules (and by two), most used first; a set that would make more classes than allowed
    /// is skipped, and later ones are still tried.
    pub(crate) fn build(rules: &[Rule], max_classes: usize) -> AddressBook {
        let max_classes = max_classes.clamp(1, MAX_ADDRESS_CLASSES);
        let mut ids: HashMap<AddrRanges, SetId> = HashMap::new();
        let mut sets: Vec<AddrRanges> = Vec::new();
        let mut uses: Vec<usize> = Vec::new();
        let mut rule_sets = Vec::with_capacity(rules.len());
        // The loader hands equal lists out as one allocation: compile each one once.
        let mut seen: HashMap<(*const [IpNet], *const [IpNet]), SetId> = HashMap::new();
        for rule in rules {
            let mut side = |set: &AddrSet| -> SetId {
                let key = (Arc::as_ptr(&set.include), Arc::as_ptr(&set.exclude));
                let id = *seen.entry(key).or_insert_with(|| {
                    let ranges = AddrRanges::of(set);
                    *ids.entry(ranges).or_insert_with_key(|ranges| {
                        sets.push(ranges.clone());
                        uses.push(0);
                        (sets.len() - 1) as SetId
                    })
                });
                uses[id as usize] += 1;
                id
            };
            rule_sets.push([side(&rule.src), side(&rule.dst)]);
        }
        drop(seen);
        drop(ids);

        let min_uses = (rules.len() / 64).max(2);
        let mut order: Vec<SetId> = (0..sets.len() as SetId)
            .filter(|&id| uses[id as usize] >= min_uses && !sets[id as usize].is_full())
            .collect();
        order.sort_by_key(|&id| (std::cmp::Reverse(uses[id as usize]), id));
        let (mut v4, mut v6) = (Partition::<u32>::whole(), Partition::<u128>::whole());
        let mut classes = 1;
        let mut sets_over_class_limit = 0;
        for id in order {
            let set = &sets[id as usize];
            let mut labels: Vec<(AddrClass, bool)> = Vec::new();
            let mut number = |class, inside| {
                let label = (class, inside);
                let at = match labels.iter().position(|&l| l == label) {
                    Some(at) => at,
                    None => {
                        labels.push(label);
                        labels.len() - 1
                    }
                };
                // Past the limit the refinement is thrown away; its numbers do not matter.
                at.min(usize::from(AddrClass::MAX)) as AddrClass
            };
            let (r4, r6) = (
                v4.refined(&set.v4, &mut number),
                v6.refined(&set.v6, &mut number),
            );
            if labels.len() > max_classes {
                sets_over_class_limit += 1;
            } else {
                (v4, v6, classes) = (r4, r6, labels.len());
            }
        }

        let mut coverage = Vec::with_capacity(sets.len() * classes);
        let mut per_class = vec![None; classes];
        for set in &sets {
            per_class.fill(None);
            v4.coverage(&set.v4, &mut per_class);
            v6.coverage(&set.v6, &mut per_class);
            // Every class has an interval in some family.
            coverage.extend(per_class.iter().map(|c| c.unwrap_or(Coverage::None)));
        }
        let stats = AddressStats {
            sets: sets.len(),
            classes,
            sets_over_class_limit,
        };
        AddressBook {
            sets,
            rule_sets,
            both_ways: rules
                .iter()
                .map(|r| r.direction == Direction::Both)
                .collect(),
            v4,
            v6,
            classes,
            coverage,
            stats,
        }
    }

    pub(crate) fn stats(&self) -> AddressStats {
        self.stats
    }

    /// Class pairs (source class, destination class), numbered by [`AddressBook::pair`].
    pub(crate) fn pair_count(&self) -> usize {
        self.classes * self.classes
    }

    /// The number of the pair (source class, destination class).
    pub(crate) fn pair(&self, src: AddrClass, dst: AddrClass) -> usize {
        usize::from(src) * self.classes + usize::from(dst)
    }

    pub(crate) fn class_of(&self, addr: IpAddr) -> AddrClass {
        match addr {
            IpAddr::V4(a) => self.v4.class_of(v4_key(a)),
            IpAddr::V6(a) => self.v6.class_of(v6_key(a)),
        }
    }

    fn coverage(&self, set: SetId, class: AddrClass) -> Coverage {
        self.coverage[set as usize * self.classes + usize::from(class)]
    }

    /// Whether `addr`, of class `class`, is in set `set`.
    fn admits(&self, set: SetId, class: AddrClass, addr: IpAddr) -> bool {
        match self.coverage(set, class) {
            Coverage::All => true,
            Coverage::None => false,
            Coverage::Some => self.sets[set as usize].contains(addr),
        }
    }

    /// Whether rule `r`'s source set holds `src` and its destination set `dst` (given their
    /// classes); `<>` is the caller's business.
    pub(crate) fn rule_admits(
        &self,
        r: usize,
        (src, src_class): (IpAddr, AddrClass),
        (dst, dst_class): (IpAddr, AddrClass),
    ) -> bool {
        let [s, d] = self.rule_sets[r];
        self.admits(s, src_class, src) && self.admits(d, dst_class, dst)
    }

    /// Whether rule `r` can match some packet of class pair `pair` (a `<>` rule either way).
    pub(crate) fn rule_in_pair(&self, r: usize, pair: usize) -> bool {
        let (src, dst) = self.split_pair(pair);
        let [s, d] = self.rule_sets[r];
        let possible =
            |a, b| self.coverage(s, a) != Coverage::None && self.coverage(d, b) != Coverage::None;
        possible(src, dst) || (self.both_ways[r] && possible(dst, src))
    }

    fn split_pair(&self, pair: usize) -> (AddrClass, AddrClass) {
        (
            (pair / self.classes) as AddrClass,
            (pair % self.classes) as AddrClass,
        )
    }

    /// For a rule in pair `pair` whose addresses the pair does not settle: the set to index it
    /// by (a side with an include list, only some of whose class it holds; the smaller such
    /// set). None when no side qualifies: the rule is then a candidate of every packet of the
    /// pair.
    pub(crate) fn index_key(&self, r: usize, rule: &Rule, pair: usize) -> Option<SetId> {
        let (src, dst) = self.split_pair(pair);
        let [s, d] = self.rule_sets[r];
        let sides = [(s, src, &rule.src), (d, dst, &rule.dst)];
        let partial = sides.into_iter().filter(|&(set, class, ast)| {
            !ast.include.is_empty()
                && (self.both_ways[r] || self.coverage(set, class) == Coverage::Some)
        });
        partial
            .map(|(set, _, _)| set)
            .min_by_key(|&set| self.sets[set as usize].size())
    }

    /// The addresses of `set` in the key space of [`index_key_of`].
    pub(crate) fn key_ranges(&self, set: SetId) -> impl Iterator<Item = (u128, u128)> + '_ {
        let ranges = &self.sets[set as usize];
        ranges
            .v4
            .0
            .iter()
            .map(|&(lo, hi)| (v4_index_key(lo), v4_index_key(hi)))
            .chain(ranges.v6.0.iter().copied())
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.sets
            .iter()
            .map(|s| s.v4.0.len() * 8 + s.v6.0.len() * 32 + 32)
            .sum::<usize>()
            + self.rule_sets.len() * 9
            + self.coverage.len()
            + self.v4.starts.len() * 5
            + self.v6.starts.len() * 17
    }
}

fn v4_index_key(key: u32) -> u128 {
    u128::from(std::net::Ipv4Addr::from(key).to_ipv6_mapped())
}

/// An address in the one ordered key space of [`crate::group`]'s address index: IPv4 as
/// IPv4-mapped IPv6.
pub(crate) fn index_key_of(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => v4_index_key(v4_key(a)),
        IpAddr::V6(a) => v6_key(a),
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use proptest::prelude::*;

    use super::*;
    use crate::vars::{parse_addr_expr, VarKind, Vars};

    fn set(vars: &mut Vars, text: &str) -> AddrSet {
        vars.resolve_addr(&parse_addr_expr(text).unwrap()).unwrap()
    }

    /// A rule of sid 1 from `src` to `dst` (`<>` when `both`).
    fn rule(src: AddrSet, dst: AddrSet, both: bool) -> Rule {
        let mut rule = crate::parse::parse_text("alert ip any any -> any any (sid:1;)").unwrap();
        (rule.src, rule.dst) = (src, dst);
        if both {
            rule.direction = Direction::Both;
        }
        rule
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn v4(ranges: &[(u32, u32)]) -> Ranges<u32> {
        Ranges::normalized(ranges.to_vec())
    }

    #[test]
    fn ranges_merge_overlapping_and_adjacent() {
        assert_eq!(
            v4(&[(5, 9), (1, 3), (4, 4), (20, 30), (25, 26)]).0[..],
            [(1, 9), (20, 30)]
        );
        assert_eq!(v4(&[(0, u32::MAX), (7, 8)]).0[..], [(0, u32::MAX)]);
    }

    #[test]
    fn ranges_minus_cuts_holes_and_ends() {
        let whole = v4(&[(10, 20), (30, 40)]);
        assert_eq!(
            whole.minus(&v4(&[(10, 10), (15, 16), (20, 32)])).0[..],
            [(11, 14), (17, 19), (33, 40)]
        );
        assert_eq!(whole.minus(&v4(&[(0, 100)])).0[..], []);
        assert_eq!(
            Ranges::<u32>::full()
                .minus(&v4(&[(0, 0), (u32::MAX, u32::MAX)]))
                .0[..],
            [(1, u32::MAX - 1)]
        );
    }

    #[test]
    fn coverage_of_an_interval() {
        let set = v4(&[(10, 20)]);
        let mut from = 0;
        assert_eq!(set.coverage_from(&mut from, 0, 9), Coverage::None);
        assert_eq!(set.coverage_from(&mut from, 0, 10), Coverage::Some);
        assert_eq!(set.coverage_from(&mut from, 12, 20), Coverage::All);
        assert_eq!(set.coverage_from(&mut from, 15, 25), Coverage::Some);
        assert_eq!(set.coverage_from(&mut from, 21, 30), Coverage::None);
    }

    #[test]
    fn home_net_and_its_negation_make_two_classes() {
        let mut vars = Vars::with_defaults();
        vars.define(VarKind::Ip, "HOME_NET", "[198.18.1.0/24,2001:db8:1::/48]")
            .unwrap();
        let home = set(&mut vars, "$HOME_NET");
        let external = set(&mut vars, "!$HOME_NET");
        let rules: Vec<Rule> = (0..4)
            .map(|_| rule(external.clone(), home.clone(), false))
            .chain([rule(home.clone(), AddrSet::any(), false)])
            .collect();
        let book = AddressBook::build(&rules, 4);
        assert_eq!(book.stats().classes, 2);
        let inside = book.class_of(ip("198.18.1.77"));
        assert_eq!(book.class_of(ip("2001:db8:1::5")), inside);
        let outside = book.class_of(ip("198.18.2.1"));
        assert_ne!(inside, outside);
        assert_eq!(book.class_of(ip("::1")), outside);
        let pair = |s, d| book.pair(s, d);
        // EXTERNAL -> HOME: only outside-to-inside packets.
        assert!(book.rule_in_pair(0, pair(outside, inside)));
        assert!(!book.rule_in_pair(0, pair(inside, inside)));
        assert!(!book.rule_in_pair(0, pair(inside, outside)));
        // HOME -> any: both destinations, no outside source.
        assert!(book.rule_in_pair(4, pair(inside, outside)));
        assert!(!book.rule_in_pair(4, pair(outside, inside)));
    }

    #[test]
    fn one_class_when_splitting_is_off_or_every_set_is_any() {
        let mut vars = Vars::with_defaults();
        let home = set(&mut vars, "10.0.0.0/8");
        let rules = vec![rule(home.clone(), home.clone(), false); 4];
        assert_eq!(AddressBook::build(&rules, 1).stats().classes, 1);
        let any = vec![rule(AddrSet::any(), AddrSet::any(), false); 4];
        assert_eq!(AddressBook::build(&any, 4).stats().classes, 1);
    }

    #[test]
    fn sets_past_the_class_limit_are_skipped_and_counted() {
        let mut vars = Vars::with_defaults();
        let sets: Vec<AddrSet> = ["10.0.0.0/8", "11.0.0.0/8", "12.0.0.0/8"]
            .iter()
            .map(|t| set(&mut vars, t))
            .collect();
        // Two uses each; the first two sets make three classes, the third would make four.
        let rules: Vec<Rule> = sets
            .iter()
            .map(|s| rule(s.clone(), s.clone(), false))
            .collect();
        let book = AddressBook::build(&rules, 3);
        assert_eq!(book.stats().classes, 3);
        assert_eq!(book.stats().sets_over_class_limit, 1);
        // The skipped set is still checked exactly.
        assert!(book.rule_admits(
            2,
            (ip("12.1.1.1"), book.class_of(ip("12.1.1.1"))),
            (ip("12.0.0.9"), book.class_of(ip("12.0.0.9")))
        ));
        assert!(!book.rule_admits(
            2,
            (ip("13.1.1.1"), book.class_of(ip("13.1.1.1"))),
            (ip("12.0.0.9"), book.class_of(ip("12.0.0.9")))
        ));
    }

    #[test]
    fn index_key_is_the_side_the_pair_does_not_settle() {
        let mut vars = Vars::with_defaults();
        vars.define(VarKind::Ip, "HOME_NET", "198.18.1.0/24")
            .unwrap();
        let home = set(&mut vars, "$HOME_NET");
        let reputation = set(&mut vars, "[203.0.113.5,203.0.113.9,192.0.2.0/28]");
        let mut rules = vec![rule(home.clone(), reputation.clone(), false)];
        rules.extend((0..3).map(|_| rule(home.clone(), AddrSet::any(), false)));
        let book = AddressBook::build(&rules, 4);
        let (inside, outside) = (
            book.class_of(ip("198.18.1.1")),
            book.class_of(ip("8.8.8.8")),
        );
        let pair = book.pair(inside, outside);
        let key: Vec<_> = book
            .key_ranges(book.index_key(0, &rules[0], pair).unwrap())
            .collect();
        assert!(key.contains(&(
            index_key_of(ip("203.0.113.5")),
            index_key_of(ip("203.0.113.5"))
        )));
        assert!(!key
            .iter()
            .any(|&(lo, hi)| lo <= index_key_of(ip("198.18.1.1"))
                && index_key_of(ip("198.18.1.1")) <= hi));
        // HOME -> any is settled by the pair: a candidate of every packet of it.
        assert_eq!(book.index_key(1, &rules[1], pair), None);
    }

    const LEAVES: &[&str] = &[
        "10.0.0.0/8",
        "10.1.0.0/16",
        "10.1.2.3",
        "10.1.2.0/31",
        "192.168.0.0/16",
        "0.0.0.0/1",
        "255.255.255.255",
        "2001:db8::/32",
        "2001:db8:1::/48",
        "::1",
        "::ffff:10.1.2.3",
        "::/0",
    ];

    /// An address expression as written in rules and variables: leaves, `$HOME_NET`, lists,
    /// negations, nested.
    fn expression() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            8 => prop::sample::select(LEAVES).prop_map(str::to_string),
            1 => Just("$HOME_NET".to_string()),
            1 => Just("any".to_string()),
        ];
        leaf.prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                inner.prop_map(|e| format!("!{e}")),
            ]
        })
    }

    /// Addresses near every leaf's edges, and a few others.
    fn probes() -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = [
            "0.0.0.0",
            "8.8.8.8",
            "::",
            "::2",
            "ffff::1",
            "::ffff:8.8.8.8",
        ]
        .iter()
        .map(|t| ip(t))
        .collect();
        for leaf in LEAVES {
            let net: IpNet = match leaf.parse() {
                Ok(net) => net,
                Err(_) => IpNet::from(ip(leaf)),
            };
            for edge in [net.network(), net.broadcast()] {
                out.push(edge);
                match edge {
                    IpAddr::V4(a) => {
                        let k = u32::from(a);
                        out.extend(
                            [k.wrapping_sub(1), k.wrapping_add(1)]
                                .map(|k| IpAddr::from(std::net::Ipv4Addr::from(k))),
                        );
                    }
                    IpAddr::V6(a) => {
                        let k = u128::from(a);
                        out.extend(
                            [k.wrapping_sub(1), k.wrapping_add(1)]
                                .map(|k| IpAddr::from(std::net::Ipv6Addr::from(k))),
                        );
                    }
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        /// The compiled lookup answers exactly as the plain evaluator (`AddrSet::contains`) for
        /// every set and address, with any number of classes; class coverage never lies, and a
        /// rule is in the class pair of every packet its addresses match.
        #[test]
        fn compiled_lookup_agrees_with_the_plain_evaluator(
            home in expression(),
            sides in prop::collection::vec((expression(), expression(), any::<bool>(), 1usize..4), 1..8),
            max_classes in 1usize..=MAX_ADDRESS_CLASSES,
            extra in prop::collection::vec(any::<u32>(), 4),
        ) {
            let mut vars = Vars::with_defaults();
            prop_assume!(vars.define(VarKind::Ip, "HOME_NET", &home).is_ok());
            let mut rules = Vec::new();
            for (src, dst, both, copies) in &sides {
                let (Ok(src), Ok(dst)) = (
                    vars.resolve_addr(&parse_addr_expr(src).unwrap()),
                    vars.resolve_addr(&parse_addr_expr(dst).unwrap()),
                ) else {
                    continue;
                };
                // Copies make a set used often enough to cut classes.
                rules.extend((0..*copies).map(|_| rule(src.clone(), dst.clone(), *both)));
            }
            prop_assume!(!rules.is_empty());
            let book = AddressBook::build(&rules, max_classes);
            prop_assert!(book.stats().classes <= max_classes);
            let mut addresses = probes();
            addresses.extend(extra.iter().map(|&k| IpAddr::from(std::net::Ipv4Addr::from(k))));
            for (r, rule) in rules.iter().enumerate() {
                for &a in &addresses {
                    let class = book.class_of(a);
                    for (side, ast) in [(0, &rule.src), (1, &rule.dst)] {
                        let set = book.rule_sets[r][side];
                        prop_assert_eq!(book.admits(set, class, a), ast.contains(a), "{:?} {}", ast, a);
                        match book.coverage(set, class) {
                            Coverage::All => prop_assert!(ast.contains(a)),
                            Coverage::None => prop_assert!(!ast.contains(a)),
                            Coverage::Some => {}
                        }
                    }
                    for &b in &addresses {
                        let pair = book.pair(class, book.class_of(b));
                        let matches = (rule.src.contains(a) && rule.dst.contains(b))
                            || (rule.direction == Direction::Both && rule.src.contains(b) && rule.dst.contains(a));
                        if matches {
                            prop_assert!(book.rule_in_pair(r, pair), "rule {} {:?} -> {:?} misses {} -> {}", r, rule.src, rule.dst, a, b);
                            // An indexed rule is found through one of the two addresses.
                            if let Some(key) = book.index_key(r, rule, pair) {
                                let hit = |x: IpAddr| book.key_ranges(key).any(|(lo, hi)| lo <= index_key_of(x) && index_key_of(x) <= hi);
                                prop_assert!(hit(a) || hit(b));
                            }
                        }
                    }
                }
            }
        }
    }
}
