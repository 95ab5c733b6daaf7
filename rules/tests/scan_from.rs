//! `RuleSet::detect_from`: a stream view whose first `scan_from` bytes were already inspected
//! makes candidates only of fast patterns ending in the new bytes, for every matcher back end,
//! while candidates are still evaluated over the whole buffer.

mod support;

use nfips_rules::ast::*;
use nfips_rules::mpm::{MpmKind, VECTORSCAN_BUILT};
use nfips_rules::{BuildOptions, FlowBits, RuleId, RuleSet};
use support::*;

fn kinds() -> Vec<MpmKind> {
    let mut kinds = vec![MpmKind::Ac, MpmKind::Hash];
    if VECTORSCAN_BUILT {
        kinds.push(MpmKind::Hs);
    }
    kinds
}

fn build(kind: MpmKind, rules: Vec<Rule>) -> RuleSet {
    let options = BuildOptions {
        mpm: kind,
        ..BuildOptions::default()
    };
    RuleSet::build(rules, &options)
}

/// Sids matched by `detect_from(buf, scan_from)`.
fn sids(set: &RuleSet, buf: &[u8], scan_from: usize) -> Vec<u32> {
    let mut scratch = set.new_scratch();
    let mut out = Vec::new();
    let ctx = nfips_rules::PacketContext {
        dsize: buf.len(),
        ..tcp_ctx()
    };
    set.detect_from(
        &ctx,
        buf,
        scan_from,
        &mut FlowBits::default(),
        &mut scratch,
        &mut out,
    );
    out.iter().map(|&id| set.rule(id).sid).collect()
}

#[test]
fn pattern_only_in_old_bytes_is_not_a_candidate() {
    for kind in kinds() {
        let set = build(kind, vec![rule(1, vec![c(content(b"attack"))])]);
        let buf = b"xxattackxxxxxxxx";
        assert_eq!(sids(&set, buf, 0), vec![1], "{kind}");
        assert_eq!(sids(&set, buf, 8), Vec::<u32>::new(), "{kind}");
    }
}

#[test]
fn pattern_straddling_scan_from_is_found() {
    for kind in kinds() {
        let set = build(kind, vec![rule(1, vec![c(content(b"attack"))])]);
        // "attack" spans bytes 2..8; the new data starts at 7 (its last byte).
        assert_eq!(sids(&set, b"xxattackxx", 7), vec![1], "{kind}");
        // ... and at 8 it lies wholly in the old bytes.
        assert_eq!(sids(&set, b"xxattackxx", 8), Vec::<u32>::new(), "{kind}");
    }
}

#[test]
fn short_patterns_follow_the_same_rule() {
    for kind in kinds() {
        let set = build(kind, vec![rule(1, vec![c(content(b"ab"))])]);
        assert_eq!(sids(&set, b"ab--", 1), vec![1], "{kind}");
        assert_eq!(sids(&set, b"ab--", 2), Vec::<u32>::new(), "{kind}");
        assert_eq!(sids(&set, b"--ab", 3), vec![1], "{kind}");
    }
}

#[test]
fn candidates_are_evaluated_over_the_old_bytes_too() {
    for kind in kinds() {
        // The longest content is the fast pattern; the other must be at offset 0 (old data).
        let mut head = content(b"GET");
        head.depth = lit(3);
        let set = build(
            kind,
            vec![rule(1, vec![c(head), c(content(b"/etc/passwd"))])],
        );
        let buf = b"GET /index?f=../../etc/passwd";
        assert_eq!(sids(&set, buf, 10), vec![1], "{kind}");
    }
}

#[test]
fn rules_without_fast_pattern_are_still_evaluated() {
    for kind in kinds() {
        let set = build(
            kind,
            vec![
                rule(1, vec![isdataat(3, false, false)]),
                rule(2, vec![c(content(b"zzzz"))]),
            ],
        );
        assert_eq!(sids(&set, b"0123456789", 9), vec![1], "{kind}");
    }
}

#[test]
fn scan_from_past_the_end_scans_nothing_and_does_not_panic() {
    for kind in kinds() {
        let set = build(kind, vec![rule(1, vec![c(content(b"abcd"))])]);
        assert_eq!(sids(&set, b"abcd", 100), Vec::<u32>::new(), "{kind}");
    }
}

#[test]
fn detect_candidates_lists_the_last_candidates() {
    for kind in kinds() {
        let mut never = content(b"ZZ");
        never.offset = lit(0);
        never.depth = lit(2);
        // Rule 1's fast pattern is present but its other content fails: a candidate that did
        // not match, which a stream caller would keep for the next view.
        let set = build(
            kind,
            vec![
                rule(1, vec![c(content(b"needle")), c(never)]),
                rule(2, vec![c(content(b"absent"))]),
            ],
        );
        let mut scratch = set.new_scratch();
        let mut out = Vec::new();
        let buf = b"a needle here";
        let ctx = nfips_rules::PacketContext {
            dsize: buf.len(),
            ..tcp_ctx()
        };
        set.detect(&ctx, buf, &mut FlowBits::default(), &mut scratch, &mut out);
        assert!(out.is_empty());
        let candidates: Vec<RuleId> = set.detect_candidates(&scratch).collect();
        assert_eq!(candidates, vec![RuleId(0)], "{kind}");
    }
}

/// Sids matched by `detect_from_with(buf, scan, extra)`, and the extras that were candidates
/// only as extras.
fn sids_with(
    set: &RuleSet,
    buf: &[u8],
    scan: std::ops::Range<usize>,
    extra: &[RuleId],
) -> (Vec<u32>, Vec<u32>) {
    let mut scratch = set.new_scratch();
    let mut out = Vec::new();
    let ctx = nfips_rules::PacketContext {
        dsize: buf.len(),
        ..tcp_ctx()
    };
    set.detect_from_with(
        &ctx,
        buf,
        scan,
        extra,
        &mut FlowBits::default(),
        &mut scratch,
        &mut out,
    );
    let extra_only = set
        .detect_extra_only(&scratch)
        .map(|id| set.rule(id).sid)
        .collect();
    (out.iter().map(|&id| set.rule(id).sid).collect(), extra_only)
}

#[test]
fn scan_end_leaves_later_patterns_to_the_extras() {
    for kind in kinds() {
        let set = build(kind, vec![rule(1, vec![c(content(b"attack"))])]);
        let buf = b"xxxxxxxxattack";
        assert_eq!(sids_with(&set, buf, 0..10, &[]), (vec![], vec![]), "{kind}");
        assert_eq!(
            sids_with(&set, buf, 0..buf.len(), &[]),
            (vec![1], vec![]),
            "{kind}"
        );
        // Listed as an extra: evaluated over the whole buffer, and reported as extra-only.
        assert_eq!(
            sids_with(&set, buf, 0..10, &[RuleId(0)]),
            (vec![1], vec![1]),
            "{kind}"
        );
        // Found by the scan too: not extra-only.
        assert_eq!(
            sids_with(&set, buf, 0..buf.len(), &[RuleId(0)]),
            (vec![1], vec![]),
            "{kind}"
        );
    }
}

#[test]
fn fast_pattern_facts() {
    let set = build(
        MpmKind::Hash,
        vec![rule(1, vec![c(content(b"attack"))]), rule(2, vec![])],
    );
    assert!(set.has_fast_pattern(RuleId(0)));
    assert!(!set.has_fast_pattern(RuleId(1)));
    assert!(!set.has_fast_pattern(RuleId(9)));
    assert_eq!(set.max_fast_pattern_len(), 6);
}

/// Candidates of one `detect` over `buf`, by sid.
fn candidates(set: &RuleSet, buf: &[u8]) -> Vec<u32> {
    let mut scratch = set.new_scratch();
    let ctx = nfips_rules::PacketContext {
        dsize: buf.len(),
        ..tcp_ctx()
    };
    set.detect(
        &ctx,
        buf,
        &mut FlowBits::default(),
        &mut scratch,
        &mut Vec::new(),
    );
    let mut sids: Vec<u32> = set
        .detect_candidates(&scratch)
        .map(|id| set.rule(id).sid)
        .collect();
    sids.sort_unstable();
    sids
}

/// A fast pattern whose content has an absolute offset + depth makes its rule a candidate
/// only where the content can match: the same 2-byte pattern deep in a large segment is not
/// evaluated. Without a depth (or when relative) any occurrence still counts.
#[test]
fn fast_pattern_hits_past_the_content_window_make_no_candidate() {
    for kind in kinds() {
        let window = Content {
            offset: Some(Value::Literal(2)),
            depth: Some(Value::Literal(4)),
            ..content(b"\x7c\x9e")
        };
        let open = Content {
            offset: Some(Value::Literal(2)),
            ..content(b"\x7c\x9e")
        };
        let set = build(kind, vec![rule(1, vec![c(window)]), rule(2, vec![c(open)])]);
        let mut deep = vec![b'x'; 4000];
        deep[3000..3002].copy_from_slice(b"\x7c\x9e");
        assert_eq!(candidates(&set, &deep), vec![2], "{kind}");
        assert_eq!(sids(&set, &deep, 0), vec![2], "{kind}");
        let mut near = vec![b'x'; 4000];
        near[4..6].copy_from_slice(b"\x7c\x9e");
        assert_eq!(candidates(&set, &near), vec![1, 2], "{kind}");
        assert_eq!(sids(&set, &near, 0), vec![1, 2], "{kind}");
        // Ending exactly at offset + depth still counts; one byte later does not.
        let mut edge = vec![b'x'; 10];
        edge[4..6].copy_from_slice(b"\x7c\x9e");
        assert_eq!(candidates(&set, &edge), vec![1, 2], "{kind}");
        let mut past = vec![b'x'; 10];
        past[5..7].copy_from_slice(b"\x7c\x9e");
        assert_eq!(candidates(&set, &past), vec![2], "{kind}");
    }
}

/// `content:"xxMAGIC"; fast_pattern:2,5; content:"<digit>"; distance:0; within:1`: the
/// prefilter sees only "MAGIC", whose hits narrow where the first content is searched.
fn magic_then(digit: u8) -> Rule {
    let sliced = Content {
        fast_pattern: FastPattern::Slice {
            offset: 2,
            length: 5,
        },
        ..content(b"xxMAGIC")
    };
    let next = Content {
        distance: lit(0),
        within: lit(1),
        ..content(&[digit])
    };
    rule(1, vec![c(sliced), c(next)])
}

#[test]
fn every_occurrence_between_the_first_and_last_fast_pattern_hit_is_tried() {
    for kind in kinds() {
        let set = build(kind, vec![magic_then(b'1')]);
        // The satisfying occurrence first, in the middle, and last among several.
        for buf in [
            &b"xxMAGIC1 yyMAGIC2 xxMAGIC3"[..],
            b"xxMAGIC2 xxMAGIC1 xxMAGIC3",
            b"xxMAGIC2 xxMAGIC3 xxMAGIC1",
            b"xxMAGIC1",
            // More hits than are remembered one by one.
            b"xxMAGIC2 xxMAGIC3 xxMAGIC4 xxMAGIC5 xxMAGIC1 xxMAGIC6",
        ] {
            assert_eq!(sids(&set, buf, 0), vec![1], "{kind} {buf:?}");
        }
        assert_eq!(
            sids(&set, b"xxMAGIC2 yyMAGIC1", 0),
            Vec::<u32>::new(),
            "{kind}"
        );
    }
}

#[test]
fn an_occurrence_in_the_old_bytes_still_matches_when_a_new_hit_made_the_candidate() {
    for kind in kinds() {
        let set = build(kind, vec![magic_then(b'1')]);
        // Only the second "MAGIC" ends in the new bytes; the matching one is older.
        let buf = b"xxMAGIC1 ---- xxMAGIC2";
        assert_eq!(sids(&set, buf, 10), vec![1], "{kind}");
    }
}

#[test]
fn an_occurrence_after_the_scanned_bytes_still_matches() {
    for kind in kinds() {
        let set = build(kind, vec![magic_then(b'1')]);
        // The scan stops before the last "MAGIC"; the rule is a candidate through the first.
        let buf = b"xxMAGIC2 ---- xxMAGIC1";
        assert_eq!(sids_with(&set, buf, 0..10, &[]).0, vec![1], "{kind}");
    }
}

#[test]
fn carried_packet_hits_are_placed_where_the_packet_lies_in_the_view() {
    for kind in kinds() {
        let set = build(kind, vec![magic_then(b'1')]);
        let ctx = |len: usize| nfips_rules::PacketContext {
            dsize: len,
            ..tcp_ctx()
        };
        // The packet alone matches; so must the view that ends with it, evaluating the rule
        // only as a carried candidate (its scan covers just the bytes crossing into the packet).
        // The old bytes are searched only for a rule the caller says may occur there.
        let rule = [RuleId(0)];
        for (old, packet, maybe_before, matches) in [
            (
                &b"0123456789abcdef "[..],
                &b"xxMAGIC2 xxMAGIC1"[..],
                &[][..],
                true,
            ),
            (b"0123456789abcdef ", b"xxMAGIC2 xxMAGIC1", &rule, true),
            // The match is in the old bytes, the packet's hits elsewhere.
            (b"xxMAGIC1 --------", b"xxMAGIC2 --------", &rule, true),
            // The caller vouched that the old bytes hold no occurrence: they are not searched.
            (b"xxMAGIC1 --------", b"xxMAGIC2 --------", &[], false),
        ] {
            let view = [old, packet].concat();
            let mut scratch = set.new_scratch();
            let mut out = Vec::new();
            let mut bits = FlowBits::default();
            set.detect(
                &ctx(packet.len()),
                packet,
                &mut bits,
                &mut scratch,
                &mut out,
            );
            let candidates: Vec<RuleId> = set.detect_candidates(&scratch).collect();
            assert_eq!(candidates, vec![RuleId(0)], "{kind}");
            set.carry_fast_hits(&mut scratch, old.len(), maybe_before);
            out.clear();
            set.detect_from_with(
                &ctx(view.len()),
                &view,
                old.len()..old.len() + set.max_fast_pattern_len() - 1,
                &candidates,
                &mut bits,
                &mut scratch,
                &mut out,
            );
            let expected = if matches { vec![RuleId(0)] } else { vec![] };
            assert_eq!(out, expected, "{kind} {view:?} {maybe_before:?}");
        }
    }
}
