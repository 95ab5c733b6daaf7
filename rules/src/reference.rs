//! The slow reference evaluator: one rule against one buffer, with plain loops.
//!
//! It is the oracle the compiled [`crate::RuleSet`] is tested against: no automaton, no
//! grouping, no fast pattern, no precompiled searchers. Contents are found by trying every
//! start position in the buffer and asking whether it lies in the option's window, so the
//! window arithmetic is restated rather than shared. Header, flow and byte-field decoding use
//! the same small primitives as the matcher ([`crate::eval`]). Not for production use: it is
//! quadratic and allocates.
//!
//! Semantics (Snort 2.9) are documented in [`crate::eval`].

use crate::ast::{Content, DetectOption, FastPattern, FlowbitsCommand, Rule};
use crate::eval;
use crate::pcre::{PcreOutcome, PcreScratch};
use crate::ruleset::{BufferKind, FlowBits, PacketContext};

/// Limits the reference applies, mirroring [`crate::BuildOptions`].
#[derive(Clone, Copy, Debug)]
pub struct ReferenceLimits {
    pub retry_limit: u32,
}

/// Whether `rule` matches `buf` in `ctx` with flowbits `bits`. `bit_id` maps flowbit names to
/// bit indexes (e.g. [`crate::RuleSet::flowbit_id`]); names it does not know are never set.
/// Does not apply the rule's flowbit actions.
pub fn rule_matches(
    rule: &Rule,
    ctx: &PacketContext,
    buf: &[u8],
    bits: &FlowBits,
    bit_id: &dyn Fn(&str) -> Option<usize>,
    limits: ReferenceLimits,
    pcre: &mut PcreScratch,
) -> bool {
    let addresses = |reversed| {
        let (src, dst) = match reversed {
            false => (ctx.src, ctx.dst),
            true => (ctx.dst, ctx.src),
        };
        rule.src.contains(src) && rule.dst.contains(dst)
    };
    if !eval::header_matches(rule, ctx, addresses)
        || !eval::flow_matches(&rule.flow, ctx)
        || (ctx.buffer == BufferKind::Stream && !eval::inspects_stream(rule))
    {
        return false;
    }
    for fb in &rule.flowbits {
        let set: Vec<bool> = fb
            .names
            .iter()
            .map(|n| bit_id(n).is_some_and(|id| bits.is_set(id)))
            .collect();
        let pass = match (fb.command, fb.join) {
            (FlowbitsCommand::IsSet, crate::ast::BitsJoin::All) => set.iter().all(|&s| s),
            (FlowbitsCommand::IsSet, crate::ast::BitsJoin::Any) => set.iter().any(|&s| s),
            (FlowbitsCommand::IsNotSet, crate::ast::BitsJoin::All) => set.iter().all(|&s| !s),
            (FlowbitsCommand::IsNotSet, crate::ast::BitsJoin::Any) => set.iter().any(|&s| !s),
            _ => true,
        };
        if !pass {
            return false;
        }
    }
    let vars_needed = rule
        .detection
        .iter()
        .filter(|o| matches!(o, DetectOption::ByteExtract(_)))
        .count();
    let mut walk = Walk {
        buf,
        ctx,
        vars: vec![0; vars_needed],
        pcre,
        retries: 0,
        limit: limits.retry_limit,
        exhausted: false,
    };
    walk.from(&rule.detection, 0, 0)
}

struct Walk<'a> {
    buf: &'a [u8],
    ctx: &'a PacketContext,
    vars: Vec<i64>,
    pcre: &'a mut PcreScratch,
    retries: u32,
    limit: u32,
    exhausted: bool,
}

impl Walk<'_> {
    /// One more retry allowed?
    fn retry(&mut self) -> bool {
        if self.retries >= self.limit {
            self.exhausted = true;
            return false;
        }
        self.retries += 1;
        true
    }

    /// Does position `p` hold `c`'s pattern entirely inside its window for this cursor?
    fn content_at(&self, c: &Content, p: usize, cursor: usize) -> bool {
        let n = c.pattern.len();
        let len = self.buf.len() as i64;
        let (lo, hi) = if c.is_relative() {
            let d = c.distance.map_or(0, |v| eval::resolve(v, &self.vars));
            let lo = cursor as i64 + d;
            let hi = match c.within {
                Some(w) => lo + eval::resolve(w, &self.vars),
                None => len,
            };
            (lo, hi)
        } else {
            let lo = c.offset.map_or(0, |v| eval::resolve(v, &self.vars));
            let hi = match c.depth {
                Some(d) => lo + eval::resolve(d, &self.vars),
                None => len,
            };
            (lo, hi)
        };
        let (lo, hi) = (lo.max(0), hi.min(len));
        let (p, end) = (p as i64, (p + n) as i64);
        if p < lo || end > hi || end > len {
            return false;
        }
        (0..n).all(|i| {
            let (a, b) = (self.buf[p as usize + i], c.pattern[i]);
            if c.nocase {
                a.eq_ignore_ascii_case(&b)
            } else {
                a == b
            }
        })
    }

    /// Whether options `opts[i..]` match from `cursor`.
    fn from(&mut self, opts: &[DetectOption], i: usize, cursor: usize) -> bool {
        if i == opts.len() {
            return true;
        }
        let next = i + 1;
        match &opts[i] {
            DetectOption::Content(c) => {
                let positions: Vec<usize> = (0..=self.buf.len())
                    .filter(|&p| self.content_at(c, p, cursor))
                    .collect();
                if c.negated {
                    return positions.is_empty() && self.from(opts, next, cursor);
                }
                if c.fast_pattern == FastPattern::Only {
                    return !positions.is_empty() && self.from(opts, next, cursor);
                }
                for (k, &p) in positions.iter().enumerate() {
                    if k > 0 && !self.retry() {
                        return false;
                    }
                    if self.from(opts, next, p + c.pattern.len()) {
                        return true;
                    }
                }
                // A final failed attempt after the last occurrence still costs a retry.
                if !positions.is_empty() && !self.retry() {
                    return false;
                }
                false
            }
            DetectOption::Pcre(p) => {
                let offset = if p.relative { cursor } else { 0 };
                let Some(subject) = self.buf.get(offset..) else {
                    return p.negated && self.from(opts, next, cursor);
                };
                let mut search = 0;
                let mut first = None;
                loop {
                    let outcome = p
                        .regex
                        .find_at(subject, search, p.override_limits, self.pcre);
                    let PcreOutcome::Match { start: s, end: e } = outcome else {
                        break;
                    };
                    if p.negated {
                        first = Some(e);
                        break;
                    }
                    if self.from(opts, next, offset + e) {
                        return true;
                    }
                    if p.regex.flags().anchored || !self.retry() {
                        return false;
                    }
                    search = s + 1;
                }
                p.negated && first.is_none() && self.from(opts, next, cursor)
            }
            DetectOption::IsDataAt(d) => {
                eval::is_data_at(d, self.buf.len(), cursor, &self.vars)
                    && self.from(opts, next, cursor)
            }
            DetectOption::ByteTest(t) => {
                let base = if t.relative { cursor } else { 0 };
                eval::byte_test(t, self.buf, base, &self.vars) && self.from(opts, next, cursor)
            }
            DetectOption::ByteJump(j) => {
                let base = if j.relative { cursor } else { 0 };
                match eval::byte_jump(j, self.buf, base, &self.vars) {
                    Some(to) => self.from(opts, next, to),
                    None => false,
                }
            }
            DetectOption::ByteExtract(e) => {
                let index = opts[..i]
                    .iter()
                    .filter(|o| matches!(o, DetectOption::ByteExtract(_)))
                    .count();
                let base = if e.relative { cursor } else { 0 };
                match eval::byte_extract(e, self.buf, base) {
                    Some((value, to)) => {
                        self.vars[index] = value;
                        self.from(opts, next, to)
                    }
                    None => false,
                }
            }
            other => eval::header_option_matches(other, self.ctx) && self.from(opts, next, cursor),
        }
    }
}
