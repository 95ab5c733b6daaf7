//! Table tests of the compiled matcher: every content modifier and relative option, drawn from
//! the Snort 2.9 manual's examples, plus grouping, ordering and flowbits. Each single-rule case
//! is also run through the reference evaluator, which must agree.

mod support;

use nfips_rules::ast::*;
use nfips_rules::pcre::{PcreFlags, PcreScratch};
use nfips_rules::reference::{self, ReferenceLimits};
use nfips_rules::ruleset::{ActionClass, BufferKind};
use nfips_rules::{BuildOptions, FlowBits, PacketContext, RuleId, RuleSet};
use support::*;

fn detect_ids(set: &RuleSet, ctx: &PacketContext, buf: &[u8], bits: &mut FlowBits) -> Vec<u32> {
    let mut scratch = set.new_scratch();
    let mut out = Vec::new();
    set.detect(ctx, buf, bits, &mut scratch, &mut out);
    out.into_iter().map(|RuleId(r)| r).collect()
}

/// Whether a one-rule set matches `buf` in `ctx`; asserts the reference agrees.
fn matches_in(options: Vec<DetectOption>, ctx: &PacketContext, buf: &[u8]) -> bool {
    let set = RuleSet::build(vec![rule(1, options)], &build_options());
    let ctx = PacketContext {
        dsize: buf.len(),
        ..*ctx
    };
    let compiled = !detect_ids(&set, &ctx, buf, &mut FlowBits::default()).is_empty();
    let mut pcre = PcreScratch::new(3500, 1500);
    let limits = ReferenceLimits {
        retry_limit: build_options().retry_limit,
    };
    let oracle = reference::rule_matches(
        &set.rules()[0],
        &ctx,
        buf,
        &FlowBits::default(),
        &|n| set.flowbit_id(n),
        limits,
        &mut pcre,
    );
    assert_eq!(
        compiled, oracle,
        "compiled matcher and reference disagree on {buf:?}"
    );
    compiled
}

fn matches(options: Vec<DetectOption>, buf: &[u8]) -> bool {
    matches_in(options, &tcp_ctx(), buf)
}

// ---- content and its modifiers ----

#[test]
fn content_is_case_sensitive_by_default() {
    assert!(matches(vec![c(content(b"ABC"))], b"xxABCxx"));
    assert!(!matches(vec![c(content(b"ABC"))], b"xxabcxx"));
}

#[test]
fn content_nocase_ignores_case() {
    let nocase = Content {
        nocase: true,
        ..content(b"ABC")
    };
    assert!(matches(vec![c(nocase.clone())], b"xxaBcxx"));
    assert!(!matches(vec![c(nocase)], b"xxabxcx"));
}

#[test]
fn content_hex_bytes_match_binary() {
    assert!(matches(
        vec![c(content(b"\x00\x01\x86\xa5"))],
        b"\xff\x00\x01\x86\xa5"
    ));
}

#[test]
fn content_negated_requires_absence() {
    let not_abc = Content {
        negated: true,
        ..content(b"ABC")
    };
    assert!(matches(vec![c(not_abc.clone())], b"xyz"));
    assert!(!matches(vec![c(not_abc)], b"xABC"));
}

#[test]
fn offset_and_depth_bound_the_search() {
    // Manual: content:"cgi-bin/phf"; offset:4; depth:20;
    let phf = Content {
        offset: lit(4),
        depth: lit(20),
        ..content(b"cgi-bin/phf")
    };
    assert!(matches(vec![c(phf.clone())], b"GET /cgi-bin/phf HTTP/1.0"));
    assert!(
        !matches(vec![c(phf.clone())], b"GE/cgi-bin/phf"),
        "starts before offset 4"
    );
    assert!(
        !matches(vec![c(phf)], b"GET /aaaaaaaaaa/cgi-bin/phf"),
        "ends past offset+depth"
    );
}

#[test]
fn depth_alone_counts_from_start() {
    let abc = Content {
        depth: lit(3),
        ..content(b"ABC")
    };
    assert!(matches(vec![c(abc.clone())], b"ABCxx"));
    assert!(!matches(vec![c(abc)], b"xABC"));
}

#[test]
fn offset_past_end_cannot_match() {
    let abc = Content {
        offset: lit(10),
        ..content(b"ABC")
    };
    assert!(!matches(vec![c(abc)], b"ABCABC"));
}

#[test]
fn distance_skips_bytes_after_previous_match() {
    // Manual: content:"ABC"; content:"DEF"; distance:1;
    let def = Content {
        distance: lit(1),
        ..content(b"DEF")
    };
    assert!(matches(
        vec![c(content(b"ABC")), c(def.clone())],
        b"ABCxDEF"
    ));
    assert!(!matches(vec![c(content(b"ABC")), c(def)], b"ABCDEF"));
}

#[test]
fn within_limits_bytes_after_previous_match() {
    // Manual: content:"ABC"; content:"EFG"; within:10;
    let efg = Content {
        within: lit(10),
        ..content(b"EFG")
    };
    assert!(matches(
        vec![c(content(b"ABC")), c(efg.clone())],
        b"ABCxxxxxxxEFG"
    ));
    assert!(!matches(
        vec![c(content(b"ABC")), c(efg)],
        b"ABCxxxxxxxxEFG"
    ));
}

#[test]
fn distance_and_within_window_starts_at_distance() {
    let efg = Content {
        distance: lit(2),
        within: lit(3),
        ..content(b"EFG")
    };
    assert!(matches(
        vec![c(content(b"ABC")), c(efg.clone())],
        b"ABCxxEFG"
    ));
    assert!(!matches(
        vec![c(content(b"ABC")), c(efg.clone())],
        b"ABCxEFG"
    ));
    assert!(!matches(vec![c(content(b"ABC")), c(efg)], b"ABCxxxEFG"));
}

#[test]
fn negative_distance_looks_back() {
    let bc = Content {
        distance: lit(-2),
        within: lit(2),
        ..content(b"BC")
    };
    assert!(matches(vec![c(content(b"ABC")), c(bc)], b"xABC"));
}

#[test]
fn relative_content_retries_earlier_match() {
    // The first "a" is followed by "x"; the second by "b": Snort tries "a" again.
    let b = Content {
        within: lit(1),
        ..content(b"b")
    };
    assert!(matches(vec![c(content(b"a")), c(b)], b"axab"));
}

#[test]
fn retry_walks_a_three_content_chain() {
    let second = Content {
        distance: lit(0),
        within: lit(2),
        ..content(b"12")
    };
    let third = Content {
        distance: lit(0),
        within: lit(1),
        ..content(b"!")
    };
    let opts = vec![c(content(b"ab")), c(second), c(third)];
    assert!(matches(opts.clone(), b"ab12 ab1 ab12!"));
    assert!(!matches(opts, b"ab12 ab1 ab12?"));
}

#[test]
fn negated_relative_content_checks_window_after_match() {
    // Manual-style: content:"PASS"; content:!"|0a|"; within:5;
    let no_nl = Content {
        negated: true,
        within: lit(5),
        ..content(b"\n")
    };
    assert!(matches(
        vec![c(content(b"PASS")), c(no_nl.clone())],
        b"PASS abcdefg\n"
    ));
    assert!(!matches(vec![c(content(b"PASS")), c(no_nl)], b"PASS a\n"));
}

#[test]
fn retry_limit_stops_backtracking_and_is_counted() {
    let b = Content {
        within: lit(1),
        ..content(b"b")
    };
    let options = BuildOptions {
        retry_limit: 2,
        ..build_options()
    };
    let set = RuleSet::build(vec![rule(1, vec![c(content(b"a")), c(b)])], &options);
    let mut scratch = set.new_scratch();
    let mut out = Vec::new();
    let ctx = tcp_ctx();
    set.detect(
        &ctx,
        b"axaxaxab",
        &mut FlowBits::default(),
        &mut scratch,
        &mut out,
    );
    assert!(out.is_empty(), "the fourth 'a' needs three retries");
    assert_eq!(scratch.stats().retry_limit_hits, 1);
    set.detect(
        &ctx,
        b"axaxab",
        &mut FlowBits::default(),
        &mut scratch,
        &mut out,
    );
    assert_eq!(out, vec![RuleId(0)]);
}

// ---- fast_pattern ----

#[test]
fn fast_pattern_only_content_matches_anywhere() {
    let only = Content {
        fast_pattern: FastPattern::Only,
        ..content(b"evil")
    };
    assert!(matches(vec![c(only.clone())], b"an evil thing"));
    assert!(!matches(vec![c(only)], b"an good thing"));
}

#[test]
fn fast_pattern_only_content_does_not_move_the_cursor() {
    let only = Content {
        fast_pattern: FastPattern::Only,
        ..content(b"zzzz")
    };
    let next = Content {
        distance: lit(0),
        within: lit(2),
        ..content(b"ab")
    };
    // "ab" must be within 2 bytes of the start (the cursor stayed at 0), not after "zzzz".
    assert!(matches(vec![c(only.clone()), c(next.clone())], b"ab..zzzz"));
    assert!(!matches(vec![c(only), c(next)], b"..zzzzab"));
}

#[test]
fn fast_pattern_slice_still_requires_whole_content() {
    let sliced = Content {
        fast_pattern: FastPattern::Slice {
            offset: 0,
            length: 3,
        },
        ..content(b"abcdef")
    };
    assert!(matches(vec![c(sliced.clone())], b"xxabcdefxx"));
    assert!(!matches(vec![c(sliced)], b"xxabcxx"));
}

#[test]
fn long_content_prefiltered_by_its_prefix_still_requires_whole_content() {
    let prefix = nfips_rules::group::MAX_PREFILTER_PATTERN;
    let long: Vec<u8> = (0..prefix + 28).map(|i| b'A' + (i % 26) as u8).collect();
    let anchored = Content {
        depth: Some(Value::Literal(long.len() as i64 + 4)),
        ..content(&long)
    };
    let mut payload = b"xx".to_vec();
    payload.extend_from_slice(&long);
    assert!(matches(vec![c(anchored.clone())], &payload));
    // The prefilter's prefix alone makes the rule a candidate, never a match.
    payload.truncate(2 + prefix + 8);
    assert!(!matches(vec![c(anchored)], &payload));
}

#[test]
fn case_sensitive_content_is_verified_after_caseless_prefilter() {
    assert!(!matches(vec![c(content(b"Evil"))], b"EVIL"));
}

// ---- isdataat ----

#[test]
fn isdataat_absolute_and_relative() {
    assert!(matches(vec![isdataat(3, false, false)], b"abcd"));
    assert!(!matches(vec![isdataat(4, false, false)], b"abcd"));
    // Manual: content:"PASS"; isdataat:50,relative;
    let opts = |n| vec![c(content(b"PASS")), isdataat(n, true, false)];
    assert!(matches(opts(2), b"PASS abc"));
    assert!(!matches(opts(4), b"PASS abc"));
}

#[test]
fn isdataat_negated_means_no_more_data() {
    let opts = vec![c(content(b"END")), isdataat(0, true, true)];
    assert!(matches(opts.clone(), b"xxEND"));
    assert!(!matches(opts, b"xxENDx"));
}

// ---- pcre ----

#[test]
fn pcre_matches_anywhere_and_relative_anchors_at_cursor() {
    assert!(matches(
        vec![pcre("fo+bar", PcreFlags::default(), false, false)],
        b"xxfooobar"
    ));
    let rel = vec![
        c(content(b"bar")),
        pcre(
            "^foo",
            PcreFlags {
                multiline: false,
                ..Default::default()
            },
            true,
            false,
        ),
    ];
    assert!(matches(rel.clone(), b"xbarfoo"), "^ anchors at the cursor");
    assert!(!matches(rel, b"foobar foo"));
    let rel_anchored = vec![
        c(content(b"bar")),
        pcre(
            "foo",
            PcreFlags {
                anchored: true,
                ..Default::default()
            },
            true,
            false,
        ),
    ];
    assert!(matches(rel_anchored.clone(), b"xbarfoo"));
    assert!(!matches(rel_anchored, b"xbar foo"));
}

#[test]
fn pcre_relative_starts_at_cursor() {
    let opts = vec![
        c(content(b"user")),
        pcre(r"\s+admin", PcreFlags::default(), true, false),
    ];
    assert!(matches(opts.clone(), b"user  admin"));
    assert!(!matches(opts, b"admin user"));
}

#[test]
fn pcre_negated_requires_no_match() {
    let opts = vec![pcre(
        "secret",
        PcreFlags {
            caseless: true,
            ..Default::default()
        },
        false,
        true,
    )];
    assert!(matches(opts.clone(), b"public"));
    assert!(!matches(opts, b"SeCrEt"));
}

#[test]
fn pcre_is_retried_like_content() {
    let next = Content {
        within: lit(1),
        ..content(b"!")
    };
    let opts = vec![pcre("a[0-9]", PcreFlags::default(), false, false), c(next)];
    assert!(matches(opts, b"a1 a2!"));
}

// ---- byte_test / byte_jump / byte_extract ----

#[test]
fn byte_test_string_decimal_manual_examples() {
    // Manual: byte_test:4,=,1234,0,string,dec; byte_test:10,=,1234567890,0,string,dec;
    let dec = |n, v| ByteTest {
        string: Some(NumberBase::Dec),
        ..byte_test(n, ByteTestOp::Eq, v, 0)
    };
    assert!(matches(
        vec![DetectOption::ByteTest(dec(4, 1234))],
        b"1234abcd"
    ));
    assert!(matches(
        vec![DetectOption::ByteTest(dec(10, 1234567890))],
        b"1234567890"
    ));
    assert!(!matches(
        vec![DetectOption::ByteTest(dec(4, 1234))],
        b"1235"
    ));
    let hex = ByteTest {
        string: Some(NumberBase::Hex),
        ..byte_test(8, ByteTestOp::Eq, 0xdeadbeef, 0)
    };
    assert!(matches(vec![DetectOption::ByteTest(hex)], b"deadbeef"));
}

#[test]
fn byte_test_binary_endianness_and_ops() {
    let be_again = || byte_test(2, ByteTestOp::Gt, 0x0100, 1);
    let be = be_again();
    assert!(matches(
        vec![DetectOption::ByteTest(be.clone())],
        b"\x00\x01\x01"
    ));
    assert!(!matches(
        vec![DetectOption::ByteTest(be.clone())],
        b"\x00\x01\x00"
    ));
    let le = ByteTest {
        endian: Endian::Little,
        ..be
    };
    assert!(
        !matches(vec![DetectOption::ByteTest(be_again())], b"\x00\x00\x02"),
        "0x0002 BE"
    );
    assert!(
        matches(vec![DetectOption::ByteTest(le)], b"\x00\x00\x02"),
        "0x0200 LE"
    );
    let and = byte_test(1, ByteTestOp::And, 0x80, 0);
    assert!(matches(vec![DetectOption::ByteTest(and.clone())], b"\x81"));
    assert!(!matches(vec![DetectOption::ByteTest(and)], b"\x7f"));
}

#[test]
fn byte_test_negation_and_out_of_bounds() {
    let not_eq = ByteTest {
        negated: true,
        ..byte_test(1, ByteTestOp::Eq, 5, 0)
    };
    assert!(matches(
        vec![DetectOption::ByteTest(not_eq.clone())],
        b"\x06"
    ));
    assert!(!matches(
        vec![DetectOption::ByteTest(not_eq.clone())],
        b"\x05"
    ));
    assert!(
        !matches(vec![DetectOption::ByteTest(not_eq)], b""),
        "a failed read never matches"
    );
}

#[test]
fn byte_test_relative_reads_at_cursor_and_bitmask() {
    let t = ByteTest {
        relative: true,
        bitmask: Some(0xf0),
        ..byte_test(1, ByteTestOp::Eq, 0xa, 0)
    };
    assert!(matches(
        vec![c(content(b"LEN")), DetectOption::ByteTest(t.clone())],
        b"LEN\xa3"
    ));
    assert!(!matches(
        vec![c(content(b"LEN")), DetectOption::ByteTest(t)],
        b"\xa3LEN\x03"
    ));
}

#[test]
fn byte_jump_moves_cursor_for_relative_content() {
    // Length-prefixed field: jump over 3 bytes, then "OK" must follow immediately.
    let jump = ByteJump {
        relative: true,
        ..byte_jump(1, 0)
    };
    let ok = Content {
        within: lit(2),
        ..content(b"OK")
    };
    let opts = vec![c(content(b"HDR")), DetectOption::ByteJump(jump), c(ok)];
    assert!(matches(opts.clone(), b"HDR\x03abcOK"));
    assert!(!matches(opts, b"HDR\x02abcOK"));
}

#[test]
fn byte_jump_align_multiplier_post_offset_and_bounds() {
    // Manual: byte_jump:4,12,relative,align; value 5 aligns to 8.
    let aligned = ByteJump {
        align: true,
        ..byte_jump(1, 0)
    };
    let here = |n| isdataat(n, true, false);
    assert!(matches(
        vec![DetectOption::ByteJump(aligned.clone()), here(0)],
        b"\x05.........X"
    ));
    let mult = ByteJump {
        multiplier: 2,
        post_offset: -1,
        ..byte_jump(1, 0)
    };
    let x = Content {
        within: lit(1),
        ..content(b"X")
    };
    assert!(matches(
        vec![DetectOption::ByteJump(mult), c(x)],
        b"\x02...X"
    ));
    let too_far = byte_jump(1, 0);
    assert!(!matches(vec![DetectOption::ByteJump(too_far)], b"\x09ab"));
}

#[test]
fn byte_jump_from_beginning_and_from_end() {
    let begin = ByteJump {
        from_beginning: true,
        ..byte_jump(1, 2)
    };
    let at1 = Content {
        within: lit(1),
        ..content(b"Z")
    };
    assert!(matches(
        vec![DetectOption::ByteJump(begin), c(at1.clone())],
        b"aZ\x01"
    ));
    let end = ByteJump {
        from_end: true,
        endian: Endian::Big,
        ..byte_jump(1, 0)
    };
    // value 0 from the end: the cursor sits at the end, nothing after it.
    assert!(matches(
        vec![DetectOption::ByteJump(end), isdataat(0, true, true)],
        b"\x00abc"
    ));
}

#[test]
fn byte_jump_string_counts_digits_read() {
    let j = ByteJump {
        string: Some(NumberBase::Dec),
        relative: true,
        ..byte_jump(4, 0)
    };
    let x = Content {
        within: lit(1),
        ..content(b"X")
    };
    // "2" is one digit: jump from after it by 2.
    assert!(matches(
        vec![c(content(b"L=")), DetectOption::ByteJump(j), c(x)],
        b"L=2 .Xzzz"
    ));
}

#[test]
fn byte_extract_feeds_offset_and_depth() {
    // Manual: byte_extract:1,0,str_offset; byte_extract:1,1,str_depth;
    //         content:"bad stuff"; offset:str_offset; depth:str_depth;
    let bad = Content {
        offset: Some(Value::Var(0)),
        depth: Some(Value::Var(1)),
        ..content(b"bad stuff")
    };
    let opts = vec![
        DetectOption::ByteExtract(byte_extract(1, 0, "str_offset")),
        DetectOption::ByteExtract(byte_extract(1, 1, "str_depth")),
        c(bad),
    ];
    assert!(matches(opts.clone(), b"\x04\x0ax.bad stuff"));
    assert!(
        !matches(opts.clone(), b"\x05\x0ax.bad stuff"),
        "offset 5 is past the pattern start"
    );
    assert!(
        !matches(opts, b"\x04\x08x.bad stuff"),
        "depth 8 is shorter than the pattern"
    );
}

#[test]
fn byte_extract_relative_moves_cursor_and_feeds_within() {
    let e = ByteExtract {
        relative: true,
        ..byte_extract(1, 0, "len")
    };
    let tail = Content {
        within: Some(Value::Var(0)),
        ..content(b"END")
    };
    let opts = vec![c(content(b"S")), DetectOption::ByteExtract(e), c(tail)];
    assert!(matches(opts.clone(), b"S\x05abEND"));
    assert!(!matches(opts, b"S\x04abcEND"));
}

#[test]
fn byte_extract_multiplier_and_align() {
    let e = ByteExtract {
        multiplier: 3,
        align: 4,
        ..byte_extract(1, 0, "n")
    };
    let dat = DetectOption::IsDataAt(IsDataAt {
        offset: Value::Var(0),
        relative: false,
        rawbytes: false,
        negated: false,
        buffer: Buffer::Packet,
    });
    // 1*3 = 3, aligned to 4: byte 4 must exist.
    assert!(matches(
        vec![DetectOption::ByteExtract(e.clone()), dat.clone()],
        b"\x01abcd"
    ));
    assert!(!matches(
        vec![DetectOption::ByteExtract(e), dat],
        b"\x01abc"
    ));
}

// ---- header options ----

#[test]
fn dsize_uses_packet_payload_size() {
    assert!(matches(vec![DetectOption::Dsize(IntCmp::Gt(3))], b"abcd"));
    assert!(!matches(
        vec![DetectOption::Dsize(IntCmp::Between(4, 10))],
        b"abcd"
    ));
}

#[test]
fn tcp_flags_modes() {
    let syn_ack = PacketContext {
        tcp: Some(nfips_rules::ruleset::TcpFields {
            flags: 0x12,
            seq: 0,
            ack: 0,
            window: 0,
        }),
        ..tcp_ctx()
    };
    let flags = |flags, mask, mode| vec![DetectOption::Flags(TcpFlags { flags, mask, mode })];
    // `mask` holds the bits compared (the parser stores `!ignored`).
    assert!(matches_in(
        flags(0x12, 0xff, FlagsMode::Exact),
        &syn_ack,
        b""
    ));
    assert!(!matches_in(
        flags(0x02, 0xff, FlagsMode::Exact),
        &syn_ack,
        b""
    ));
    assert!(
        matches_in(flags(0x02, !0x10, FlagsMode::Exact), &syn_ack, b""),
        "ACK ignored by mask"
    );
    assert!(matches_in(flags(0x02, 0xff, FlagsMode::All), &syn_ack, b""));
    assert!(matches_in(flags(0x03, 0xff, FlagsMode::Any), &syn_ack, b""));
    assert!(matches_in(flags(0x01, 0xff, FlagsMode::Not), &syn_ack, b""));
    assert!(!matches_in(
        flags(0x02, 0xff, FlagsMode::Not),
        &syn_ack,
        b""
    ));
    assert!(
        !matches_in(flags(0x12, 0xff, FlagsMode::Exact), &udp_ctx(), b""),
        "no TCP header"
    );
}

#[test]
fn ip_and_tcp_header_fields() {
    let ctx = tcp_ctx();
    assert!(matches_in(
        vec![DetectOption::Ttl(IntCmp::Eq(64))],
        &ctx,
        b""
    ));
    assert!(!matches_in(
        vec![DetectOption::Ttl(IntCmp::Lt(64))],
        &ctx,
        b""
    ));
    assert!(matches_in(
        vec![DetectOption::TcpSeq(1000), DetectOption::TcpAck(2000)],
        &ctx,
        b""
    ));
    assert!(matches_in(
        vec![DetectOption::Window {
            value: 512,
            negated: false
        }],
        &ctx,
        b""
    ));
    assert!(matches_in(
        vec![DetectOption::Window {
            value: 511,
            negated: true
        }],
        &ctx,
        b""
    ));
    assert!(!matches_in(vec![DetectOption::SameIp], &ctx, b""));
    assert!(matches_in(
        vec![DetectOption::IpProto(IntCmp::Eq(6))],
        &ctx,
        b""
    ));
    let frag = PacketContext {
        ip: nfips_rules::ruleset::IpFields {
            fragbits: 0x2,
            options: 1 << 3,
            ..ctx.ip
        },
        ..ctx
    };
    assert!(matches_in(
        vec![DetectOption::Fragbits(Fragbits {
            bits: 0x2,
            mode: FlagsMode::Exact
        })],
        &frag,
        b""
    ));
    assert!(matches_in(
        vec![DetectOption::IpOpts(IpOpt::Ts)],
        &frag,
        b""
    ));
    assert!(!matches_in(
        vec![DetectOption::IpOpts(IpOpt::Rr)],
        &frag,
        b""
    ));
    assert!(matches_in(
        vec![DetectOption::IpOpts(IpOpt::Any)],
        &frag,
        b""
    ));
}

#[test]
fn icmp_rules_match_icmp_and_icmpv6() {
    let mut r = rule(
        1,
        vec![DetectOption::Itype(IntCmp::Eq(8)), DetectOption::IcmpId(7)],
    );
    r.protocol = Protocol::Icmp;
    let set = RuleSet::build(vec![r], &build_options());
    assert_eq!(
        detect_ids(&set, &icmp_ctx(1), b"", &mut FlowBits::default()),
        vec![0]
    );
    assert_eq!(
        detect_ids(&set, &icmp_ctx(58), b"", &mut FlowBits::default()),
        vec![0]
    );
    assert!(detect_ids(&set, &tcp_ctx(), b"", &mut FlowBits::default()).is_empty());
}

// ---- flow ----

#[test]
fn flow_options_check_state_direction_and_buffer() {
    let mut r = rule(1, vec![c(content(b"x"))]);
    r.flow = FlowOptions {
        established: Some(true),
        stateless: false,
        to_server: Some(true),
        stream: Some(true),
    };
    let set = RuleSet::build(vec![r], &build_options());
    let stream = PacketContext {
        buffer: BufferKind::Stream,
        ..tcp_ctx()
    };
    assert_eq!(
        detect_ids(&set, &stream, b"x", &mut FlowBits::default()),
        vec![0]
    );
    assert!(
        detect_ids(&set, &tcp_ctx(), b"x", &mut FlowBits::default()).is_empty(),
        "only_stream"
    );
    let to_client = PacketContext {
        flow: nfips_rules::ruleset::FlowContext {
            established: true,
            to_server: false,
            app_proto: None,
        },
        ..stream
    };
    assert!(detect_ids(&set, &to_client, b"x", &mut FlowBits::default()).is_empty());
    let new = PacketContext {
        flow: nfips_rules::ruleset::FlowContext {
            established: false,
            to_server: true,
            app_proto: None,
        },
        ..stream
    };
    assert!(detect_ids(&set, &new, b"x", &mut FlowBits::default()).is_empty());
}

// ---- header: addresses, ports, direction, groups ----

#[test]
fn port_groups_route_by_destination_then_source() {
    let mut web = rule(1, vec![c(content(b"GET"))]);
    web.dst_ports = ports(&[(80, 80), (8080, 8080)]);
    let mut from_dns = rule(2, vec![c(content(b"GET"))]);
    from_dns.src_ports = ports(&[(53, 53)]);
    let any = rule(3, vec![c(content(b"GET"))]);
    let set = RuleSet::build(vec![web, from_dns, any], &build_options());
    assert_eq!(
        detect_ids(&set, &tcp_ctx(), b"GET /", &mut FlowBits::default()),
        vec![0, 2]
    );
    let from_53 = PacketContext {
        src_port: 53,
        dst_port: 9999,
        ..tcp_ctx()
    };
    assert_eq!(
        detect_ids(&set, &from_53, b"GET /", &mut FlowBits::default()),
        vec![1, 2]
    );
    let both = PacketContext {
        src_port: 53,
        dst_port: 8080,
        ..tcp_ctx()
    };
    assert_eq!(
        detect_ids(&set, &both, b"GET /", &mut FlowBits::default()),
        vec![0, 1, 2]
    );
    let other = PacketContext {
        src_port: 1,
        dst_port: 2,
        ..tcp_ctx()
    };
    assert_eq!(
        detect_ids(&set, &other, b"GET /", &mut FlowBits::default()),
        vec![2]
    );
}

#[test]
fn bidirectional_rule_matches_reversed_packet() {
    let mut r = rule(1, vec![c(content(b"hi"))]);
    r.dst_ports = ports(&[(80, 80)]);
    r.direction = Direction::Both;
    let set = RuleSet::build(vec![r], &build_options());
    let reply = PacketContext {
        src_port: 80,
        dst_port: 40000,
        ..tcp_ctx()
    };
    assert_eq!(
        detect_ids(&set, &reply, b"hi", &mut FlowBits::default()),
        vec![0]
    );
    let neither = PacketContext {
        src_port: 81,
        dst_port: 40000,
        ..tcp_ctx()
    };
    assert!(detect_ids(&set, &neither, b"hi", &mut FlowBits::default()).is_empty());
}

#[test]
fn ip_rules_match_every_protocol_and_addresses_filter() {
    let mut r = rule(1, vec![c(content(b"zz"))]);
    r.protocol = Protocol::Ip;
    r.dst = AddrSet {
        include: ["10.0.0.0/24".parse().unwrap()].into(),
        exclude: ["10.0.0.9/32".parse().unwrap()].into(),
    };
    let set = RuleSet::build(vec![r], &build_options());
    assert_eq!(
        detect_ids(&set, &udp_ctx(), b"zz", &mut FlowBits::default()),
        vec![0]
    );
    assert_eq!(
        detect_ids(&set, &icmp_ctx(1), b"zz", &mut FlowBits::default()),
        vec![0]
    );
    let excluded = PacketContext {
        dst: "10.0.0.9".parse().unwrap(),
        ..tcp_ctx()
    };
    assert!(detect_ids(&set, &excluded, b"zz", &mut FlowBits::default()).is_empty());
}

#[test]
fn udp_rule_ignores_tcp_packets() {
    let mut r = rule(1, vec![c(content(b"q"))]);
    r.protocol = Protocol::Udp;
    let set = RuleSet::build(vec![r], &build_options());
    assert!(detect_ids(&set, &tcp_ctx(), b"q", &mut FlowBits::default()).is_empty());
    assert_eq!(
        detect_ids(&set, &udp_ctx(), b"q", &mut FlowBits::default()),
        vec![0]
    );
}

// ---- ordering and flowbits ----

#[test]
fn results_follow_action_order_then_rule_order() {
    let mut rules: Vec<Rule> = [
        Action::Alert,
        Action::Drop,
        Action::Pass,
        Action::Alert,
        Action::Reject(RejectTarget::Both),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, a)| Rule {
        action: a,
        ..rule(i as u32 + 1, vec![c(content(b"x"))])
    })
    .collect();
    rules.push(rule(9, vec![c(content(b"nomatch"))]));
    let set = RuleSet::build(rules.clone(), &build_options());
    assert_eq!(
        detect_ids(&set, &tcp_ctx(), b"x", &mut FlowBits::default()),
        vec![2, 1, 4, 0, 3]
    );
    let alert_first = BuildOptions {
        action_order: [
            ActionClass::Alert,
            ActionClass::Pass,
            ActionClass::Drop,
            ActionClass::Reject,
        ],
        ..build_options()
    };
    let set = RuleSet::build(rules, &alert_first);
    assert_eq!(
        detect_ids(&set, &tcp_ctx(), b"x", &mut FlowBits::default()),
        vec![0, 3, 2, 1, 4]
    );
}

#[test]
fn flowbit_setter_is_evaluated_before_checker_in_same_buffer() {
    let mut checker = rule(1, vec![c(content(b"B"))]);
    checker.flowbits = vec![flowbits(FlowbitsCommand::IsSet, &["seen"], BitsJoin::All)];
    let mut setter = rule(2, vec![c(content(b"A"))]);
    setter.flowbits = vec![
        flowbits(FlowbitsCommand::Set, &["seen"], BitsJoin::All),
        flowbits(FlowbitsCommand::NoAlert, &[], BitsJoin::All),
    ];
    let set = RuleSet::build(vec![checker, setter], &build_options());
    let mut bits = FlowBits::default();
    assert!(detect_ids(&set, &tcp_ctx(), b"B", &mut bits).is_empty());
    assert_eq!(detect_ids(&set, &tcp_ctx(), b"AB", &mut bits), vec![0, 1]);
    let seen = set.flowbit_id("seen").expect("interned");
    assert!(bits.is_set(seen));
    assert_eq!(
        detect_ids(&set, &tcp_ctx(), b"B", &mut bits),
        vec![0],
        "bit persists in the flow"
    );
}

#[test]
fn flowbits_and_or_groups_unset_and_toggle() {
    let mut all = rule(1, vec![]);
    all.flowbits = vec![flowbits(FlowbitsCommand::IsSet, &["a", "b"], BitsJoin::All)];
    let mut any = rule(2, vec![]);
    any.flowbits = vec![flowbits(FlowbitsCommand::IsSet, &["a", "b"], BitsJoin::Any)];
    let mut none = rule(3, vec![]);
    none.flowbits = vec![flowbits(
        FlowbitsCommand::IsNotSet,
        &["a", "b"],
        BitsJoin::All,
    )];
    let mut flip = rule(4, vec![c(content(b"T"))]);
    flip.flowbits = vec![
        flowbits(FlowbitsCommand::Toggle, &["a"], BitsJoin::All),
        flowbits(FlowbitsCommand::Unset, &["b"], BitsJoin::All),
    ];
    let set = RuleSet::build(vec![all, any, none, flip], &build_options());
    let (a, b) = (set.flowbit_id("a").unwrap(), set.flowbit_id("b").unwrap());
    let mut bits = FlowBits::default();
    assert_eq!(detect_ids(&set, &tcp_ctx(), b"", &mut bits), vec![2]);
    bits.set(a);
    assert_eq!(detect_ids(&set, &tcp_ctx(), b"", &mut bits), vec![1]);
    bits.set(b);
    assert_eq!(detect_ids(&set, &tcp_ctx(), b"", &mut bits), vec![0, 1]);
    // The toggler runs first (tier 0): a and b both cleared before the checks.
    assert_eq!(detect_ids(&set, &tcp_ctx(), b"T", &mut bits), vec![2, 3]);
    assert!(!bits.is_set(a) && !bits.is_set(b));
}

// ---- RuleSet facts ----

#[test]
fn max_pattern_span_covers_offsets_and_windows_and_is_capped() {
    let a = Content {
        offset: lit(10),
        depth: lit(20),
        ..content(b"abc")
    };
    let b = Content {
        distance: lit(5),
        within: lit(8),
        ..content(b"de")
    };
    let set = RuleSet::build(
        vec![
            rule(1, vec![c(a.clone()), c(b)]),
            rule(2, vec![c(content(b"xyz"))]),
        ],
        &build_options(),
    );
    assert_eq!(set.max_pattern_span(), 30 + 13);
    let capped = BuildOptions {
        pattern_span_cap: 16,
        ..build_options()
    };
    assert_eq!(
        RuleSet::build(vec![rule(1, vec![c(a)])], &capped).max_pattern_span(),
        16
    );
}

#[test]
fn identical_port_groups_share_one_automaton() {
    let mut rules = Vec::new();
    for (i, p) in [80u16, 81, 82].into_iter().enumerate() {
        let mut r = rule(i as u32 + 1, vec![c(content(b"same"))]);
        r.dst_ports = ports(&[(80, 82)]);
        let _ = p;
        rules.push(r);
    }
    rules.push(rule(9, vec![c(content(b"generic"))]));
    let set = RuleSet::build(rules, &build_options());
    // One group for ports 80-82 (shared), one generic.
    assert_eq!(set.group_stats().groups, 2);
}

#[test]
fn detect_appends_after_existing_results() {
    let set = RuleSet::build(vec![rule(1, vec![c(content(b"x"))])], &build_options());
    let mut scratch = set.new_scratch();
    let mut out = vec![RuleId(77)];
    set.detect(
        &tcp_ctx(),
        b"x",
        &mut FlowBits::default(),
        &mut scratch,
        &mut out,
    );
    assert_eq!(out, vec![RuleId(77), RuleId(0)]);
    assert_eq!(scratch.stats().matches, 1);
}

#[test]
fn overlapping_fast_patterns_all_make_candidates() {
    let rules = vec![
        rule(1, vec![c(content(b"abcd"))]),
        rule(2, vec![c(content(b"bcde"))]),
        rule(3, vec![c(content(b"cdef"))]),
        rule(4, vec![c(content(b"abcdefg"))]),
    ];
    let set = RuleSet::build(rules, &build_options());
    assert_eq!(
        detect_ids(&set, &tcp_ctx(), b"xabcdefgx", &mut FlowBits::default()),
        vec![0, 1, 2, 3]
    );
}

#[test]
fn short_fast_patterns_are_found_by_their_own_automaton() {
    let rules = vec![
        rule(1, vec![c(content(b"q"))]),
        rule(
            2,
            vec![c(Content {
                nocase: true,
                ..content(b"zY")
            })],
        ),
        rule(3, vec![c(content(b"mn!"))]),
    ];
    let set = RuleSet::build(rules, &build_options());
    // One scratch for all buffers: nothing may leak from one buffer to the next.
    let mut scratch = set.new_scratch();
    let mut run = |buf: &[u8]| {
        let mut out = Vec::new();
        set.detect(
            &tcp_ctx(),
            buf,
            &mut FlowBits::default(),
            &mut scratch,
            &mut out,
        );
        out.into_iter().map(|RuleId(r)| r).collect::<Vec<u32>>()
    };
    assert_eq!(run(b"..Zy..q..mn!"), vec![0, 1, 2]);
    assert_eq!(run(b"..Z.y..mn?"), Vec::<u32>::new());
    assert_eq!(run(b"mn!"), vec![2]);
    assert_eq!(run(b"q"), vec![0]);
}

#[test]
fn byte_jump_of_zero_bytes_moves_by_post_offset() {
    // suricata-verify bug-4623: byte_jump:0,0,relative,post_offset -7 steps back 7 bytes.
    let back = ByteJump {
        relative: true,
        post_offset: -3,
        ..byte_jump(0, 0)
    };
    let anchored = PcreFlags {
        anchored: true,
        ..Default::default()
    };
    let opts = vec![
        c(content(b"wxyz")),
        DetectOption::ByteJump(back),
        pcre("xyz", anchored, true, false),
    ];
    assert!(matches(opts.clone(), b"..wxyz"));
    assert!(!matches(opts, b"..wxyq"));
}

#[test]
fn ruleset_is_shareable_and_scratch_movable() {
    fn shareable<T: Send + Sync>() {}
    fn movable<T: Send>() {}
    shareable::<RuleSet>();
    movable::<nfips_rules::Scratch>();
}

#[test]
fn pcre_limit_hit_counts_as_no_match_and_is_counted() {
    let options = BuildOptions {
        pcre_match_limit: 1000,
        ..build_options()
    };
    let catastrophic = pcre("(a+)+$", PcreFlags::default(), false, false);
    let set = RuleSet::build(vec![rule(1, vec![catastrophic])], &options);
    let mut scratch = set.new_scratch();
    let mut out = Vec::new();
    let buf = [b"a".repeat(30), b"b".to_vec()].concat();
    set.detect(
        &tcp_ctx(),
        &buf,
        &mut FlowBits::default(),
        &mut scratch,
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(scratch.stats().pcre_limit_hits, 1);
}

#[test]
fn pcre_override_flag_ignores_the_limit() {
    let options = BuildOptions {
        pcre_match_limit: 1000,
        ..build_options()
    };
    let DetectOption::Pcre(mut p) = pcre("(a+)+b", PcreFlags::default(), false, false) else {
        unreachable!()
    };
    p.override_limits = true;
    let set = RuleSet::build(vec![rule(1, vec![DetectOption::Pcre(p)])], &options);
    let mut scratch = set.new_scratch();
    let mut out = Vec::new();
    let buf = [b"a".repeat(16), b"b".to_vec()].concat();
    set.detect(
        &tcp_ctx(),
        &buf,
        &mut FlowBits::default(),
        &mut scratch,
        &mut out,
    );
    assert_eq!(out, vec![RuleId(0)]);
    assert_eq!(scratch.stats().pcre_limit_hits, 0);
}

#[test]
fn rules_without_fast_pattern_are_indexed_by_address() {
    let mut bad_host = rule(1, vec![]);
    bad_host.protocol = Protocol::Ip;
    bad_host.src = AddrSet {
        include: [
            "10.0.0.1/32".parse().unwrap(),
            "192.0.2.0/24".parse().unwrap(),
        ]
        .into(),
        exclude: [].into(),
    };
    bad_host.direction = Direction::Both;
    let set = RuleSet::build(vec![bad_host], &build_options());
    assert_eq!(
        detect_ids(&set, &tcp_ctx(), b"", &mut FlowBits::default()),
        vec![0]
    );
    let reply = PacketContext {
        src: tcp_ctx().dst,
        dst: "192.0.2.77".parse().unwrap(),
        ..tcp_ctx()
    };
    assert_eq!(
        detect_ids(&set, &reply, b"", &mut FlowBits::default()),
        vec![0],
        "<> reversed"
    );
    let other = PacketContext {
        src: "10.0.0.5".parse().unwrap(),
        ..tcp_ctx()
    };
    assert!(detect_ids(&set, &other, b"", &mut FlowBits::default()).is_empty());
}
