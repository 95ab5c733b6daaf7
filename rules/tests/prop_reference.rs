//! Property test: the compiled RuleSet (groups, automaton prefilter, compiled options,
//! ordering, flowbits) agrees with the slow reference evaluator on random rules, buffers and
//! packet contexts. Small alphabets make matches, retries and near-misses common.
//! Runs once per matcher back end (aho-corasick, hash; Vectorscan with `--features vectorscan`).
//! Cases: 2,000 per back end by default; set PROPTEST_CASES to change.

mod support;

use std::sync::{Arc, LazyLock};

use nfips_rules::ast::*;
use nfips_rules::mpm::{MpmKind, VECTORSCAN_BUILT};
use nfips_rules::pcre::{PcreFlags, PcreScratch, Regex};
use nfips_rules::reference::{self, ReferenceLimits};
use nfips_rules::ruleset::{eval_tier, ActionClass, BufferKind, FlowContext, TcpFields};
use nfips_rules::{BuildOptions, FlowBits, PacketContext, RuleId, RuleSet};
use proptest::prelude::*;
use support::*;

const ALPHABET: &[u8] = b"abAB\x01\x02";
const BITS: &[&str] = &["x", "y"];
const PORTS: &[u16] = &[53, 80, 81, 1000];

/// Precompiled so that cases stay fast in debug builds.
static REGEXES: LazyLock<Vec<(Arc<Regex>, &'static str)>> = LazyLock::new(|| {
    let list: [(&str, PcreFlags); 6] = [
        ("ab", PcreFlags::default()),
        ("a+b", PcreFlags::default()),
        (
            "b",
            PcreFlags {
                caseless: true,
                ..Default::default()
            },
        ),
        ("^a", PcreFlags::default()),
        (
            "a.",
            PcreFlags {
                anchored: true,
                ..Default::default()
            },
        ),
        ("[\\x01\\x02]b?", PcreFlags::default()),
    ];
    list.iter()
        .map(|&(body, flags)| (Arc::new(Regex::new(body, flags).unwrap()), body))
        .collect()
});

/// Mostly `a` and `b`, so that overlapping and repeated occurrences are common.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![4 => Just(b'a'), 3 => Just(b'b'), 1 => prop::sample::select(ALPHABET)]
}

fn pattern() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(byte(), 1..6)
}

fn small() -> impl Strategy<Value = i64> {
    0i64..8
}

fn content_option() -> impl Strategy<Value = DetectOption> {
    let fast = prop_oneof![
        6 => Just(FastPattern::No),
        1 => Just(FastPattern::Yes),
        1 => Just(FastPattern::Only),
        1 => (0usize..2, 1usize..3).prop_map(|(offset, length)| FastPattern::Slice { offset, length }),
    ];
    (
        pattern(),
        any::<bool>(),
        prop::bool::weighted(0.2),
        0u8..4,
        (small(), small(), -4i64..4, small()),
        fast,
    )
        .prop_map(
            |(pattern, nocase, negated, shape, (off, dep, dist, within), fast)| {
                let n = pattern.len() as i64;
                let mut c = content(&pattern);
                c.nocase = nocase;
                c.negated = negated;
                match shape {
                    0 => {}
                    1 => {
                        c.offset = lit(off);
                        c.depth = lit(dep + n);
                    }
                    2 => {
                        c.distance = lit(dist);
                    }
                    _ => {
                        c.distance = lit(dist);
                        c.within = lit(within + n);
                    }
                }
                // fast_pattern only applies to plain non-negated contents, as the parser enforces.
                if !negated && shape == 0 {
                    c.fast_pattern = fast;
                }
                DetectOption::Content(c)
            },
        )
}

fn payload_option() -> impl Strategy<Value = DetectOption> {
    let number = (
        prop::sample::select(&[1u8, 2][..]),
        any::<bool>(),
        prop::option::of(Just(NumberBase::Dec)),
    );
    prop_oneof![
        6 => content_option(),
        1 => (-1i64..6, any::<bool>(), any::<bool>()).prop_map(|(o, rel, neg)| isdataat(o, rel, neg)),
        1 => (0..REGEXES.len(), any::<bool>(), prop::bool::weighted(0.2)).prop_map(|(i, rel, neg)| {
            let (regex, body) = &REGEXES[i];
            DetectOption::Pcre(Pcre {
                source: format!("/{body}/"),
                regex: Arc::clone(regex),
                negated: neg,
                relative: rel,
                rawbytes: false,
                override_limits: false,
                buffer: Buffer::Packet,
            })
        }),
        1 => (number.clone(), 0u8..7, 0i64..300, -1i64..4, any::<bool>(), any::<bool>())
            .prop_map(|((bytes, little, string), op, value, offset, rel, neg)| {
                let ops = [ByteTestOp::Lt, ByteTestOp::Gt, ByteTestOp::Le, ByteTestOp::Ge, ByteTestOp::Eq, ByteTestOp::And, ByteTestOp::Xor];
                let mut t = byte_test(bytes, ops[op as usize], value, offset);
                t.endian = if little { Endian::Little } else { Endian::Big };
                t.string = string;
                t.relative = rel;
                t.negated = neg;
                DetectOption::ByteTest(t)
            }),
        1 => (number.clone(), 0i64..3, any::<bool>(), 0u8..4, 1u32..3, -2i64..3, prop::option::of(Just(0x0fu32)))
            .prop_map(|((bytes, little, string), offset, rel, mode, multiplier, post_offset, bitmask)| {
                let mut j = byte_jump(bytes, offset);
                j.endian = if little { Endian::Little } else { Endian::Big };
                j.string = string;
                j.relative = rel;
                j.align = mode == 1;
                j.from_beginning = mode == 2;
                j.from_end = mode == 3;
                j.multiplier = multiplier;
                j.post_offset = post_offset;
                j.bitmask = bitmask;
                DetectOption::ByteJump(j)
            }),
        1 => (number, 0i64..3, any::<bool>(), prop::sample::select(&[0u8, 2, 4][..]))
            .prop_map(|((bytes, little, string), offset, rel, align)| {
                let mut e = byte_extract(bytes, offset, "v");
                e.endian = if little { Endian::Little } else { Endian::Big };
                e.string = string;
                e.relative = rel;
                e.align = align;
                DetectOption::ByteExtract(e)
            }),
    ]
}

/// Later options may use the first byte_extract's variable as a value.
fn wire_variables(options: &mut [DetectOption], use_var: &[bool]) {
    let mut extracted = false;
    for (i, option) in options.iter_mut().enumerate() {
        let want = use_var.get(i).copied().unwrap_or(false);
        match option {
            DetectOption::ByteExtract(_) => extracted = true,
            DetectOption::Content(c) if extracted && want => {
                if c.is_relative() {
                    c.distance = Some(Value::Var(0));
                } else {
                    c.offset = Some(Value::Var(0));
                }
            }
            DetectOption::IsDataAt(d) if extracted && want => d.offset = Value::Var(0),
            _ => {}
        }
    }
    // Only the first byte_extract is referenced; rename the rest to keep names unique.
    let mut k = 0;
    for option in options.iter_mut() {
        if let DetectOption::ByteExtract(e) = option {
            e.name = format!("v{k}");
            k += 1;
        }
    }
}

fn port_set() -> impl Strategy<Value = PortSet> {
    prop_oneof![
        3 => Just(PortSet::any()),
        2 => prop::sample::subsequence(PORTS, 1..3).prop_map(|ps| ports(&ps.iter().map(|&p| (p, p)).collect::<Vec<_>>())),
        1 => Just(PortSet { include: vec![], exclude: vec![(80, 80)] }),
    ]
}

fn addr_set() -> impl Strategy<Value = AddrSet> {
    let nets = &[
        "10.0.0.0/24",
        "10.0.0.1/32",
        "10.0.0.2/31",
        "192.168.0.0/16",
        "::1/128",
        "10.0.0.0/8",
    ][..];
    let pick = move || {
        prop::sample::subsequence(nets, 0..3)
            .prop_map(|v| v.iter().map(|n| n.parse().unwrap()).collect::<Vec<_>>())
    };
    prop_oneof![
        3 => Just(AddrSet::any()),
        2 => (pick(), pick()).prop_map(|(include, exclude)| AddrSet { include: include.into(), exclude: exclude.into() }),
    ]
}

fn address() -> impl Strategy<Value = std::net::IpAddr> {
    prop::sample::select(
        &[
            "10.0.0.1",
            "10.0.0.2",
            "10.0.0.3",
            "10.9.9.9",
            "192.168.5.5",
            "::1",
            "2001:db8::1",
        ][..],
    )
    .prop_map(|a| a.parse().unwrap())
}

fn flowbits_ops() -> impl Strategy<Value = Vec<Flowbits>> {
    let command = prop::sample::select(
        &[
            FlowbitsCommand::Set,
            FlowbitsCommand::Unset,
            FlowbitsCommand::Toggle,
            FlowbitsCommand::IsSet,
            FlowbitsCommand::IsNotSet,
        ][..],
    );
    let one = (
        command,
        prop::sample::subsequence(BITS, 1..3),
        any::<bool>(),
    )
        .prop_map(|(command, names, all)| {
            flowbits(
                command,
                &names,
                if all { BitsJoin::All } else { BitsJoin::Any },
            )
        });
    prop::collection::vec(one, 0..3)
}

fn random_rule() -> impl Strategy<Value = Rule> {
    let actions = prop::sample::select(
        &[
            Action::Alert,
            Action::Drop,
            Action::Pass,
            Action::Reject(RejectTarget::Both),
            Action::Log,
        ][..],
    );
    let protocols = prop::sample::select(
        &[
            Protocol::Tcp,
            Protocol::Tcp,
            Protocol::Udp,
            Protocol::Ip,
            Protocol::Icmp,
        ][..],
    );
    (
        prop::collection::vec(payload_option(), 0..5),
        prop::collection::vec(prop::bool::weighted(0.3), 5),
        actions,
        protocols,
        (
            port_set(),
            port_set(),
            any::<bool>(),
            addr_set(),
            addr_set(),
        ),
        flowbits_ops(),
        prop::option::of(prop_oneof![
            Just(DetectOption::Dsize(IntCmp::Lt(6))),
            Just(DetectOption::Flags(TcpFlags {
                flags: 0x10,
                mask: 0xff,
                mode: FlagsMode::All
            }))
        ]),
        (
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
        ),
    )
        .prop_map(
            |(
                mut options,
                use_var,
                action,
                protocol,
                (sp, dp, both, src, dst),
                flowbits,
                header,
                (est, stream, to_server),
            )| {
                wire_variables(&mut options, &use_var);
                options.extend(header);
                let mut r = rule(0, options);
                r.action = action;
                r.protocol = protocol;
                r.src = src;
                r.dst = dst;
                r.src_ports = sp;
                r.dst_ports = dp;
                r.direction = if both {
                    Direction::Both
                } else {
                    Direction::OneWay
                };
                r.flowbits = flowbits;
                r.flow.established = est;
                r.flow.stream = stream;
                r.flow.to_server = to_server;
                r
            },
        )
}

fn random_ctx() -> impl Strategy<Value = PacketContext> {
    (
        prop::sample::select(&[6u8, 6, 17, 1, 58, 47][..]),
        prop::sample::select(PORTS),
        prop::sample::select(PORTS),
        any::<bool>(),
        any::<bool>(),
        any::<u8>(),
        (address(), address(), any::<bool>()),
    )
        .prop_map(
            |(proto, sp, dp, established, stream, flags, (src, dst, to_server))| {
                let base = match proto {
                    6 => tcp_ctx(),
                    17 => udp_ctx(),
                    _ => PacketContext {
                        ip_proto: proto,
                        ..icmp_ctx(proto)
                    },
                };
                let ported = proto == 6 || proto == 17;
                PacketContext {
                    src,
                    dst,
                    src_port: if ported { sp } else { 0 },
                    dst_port: if ported { dp } else { 0 },
                    tcp: base.tcp.map(|t| TcpFields { flags, ..t }),
                    flow: FlowContext {
                        established,
                        to_server,
                        app_proto: None,
                    },
                    buffer: if stream {
                        BufferKind::Stream
                    } else {
                        BufferKind::Packet
                    },
                    ..base
                }
            },
        )
}

/// What the compiled matcher must produce, computed from the reference evaluator: rules in
/// evaluation order (flowbit setters first), actions applied as rules match, results in
/// action order.
fn oracle(
    set: &RuleSet,
    ctx: &PacketContext,
    buf: &[u8],
    bits: &mut FlowBits,
    pcre: &mut PcreScratch,
) -> Vec<u32> {
    let rules = set.rules();
    let mut order: Vec<usize> = (0..rules.len()).collect();
    order.sort_by_key(|&i| (eval_tier(&rules[i]), i));
    let limits = ReferenceLimits {
        retry_limit: set.options().retry_limit,
    };
    let mut matched = Vec::new();
    for i in order {
        let r = &rules[i];
        if reference::rule_matches(r, ctx, buf, bits, &|n| set.flowbit_id(n), limits, pcre) {
            for fb in &r.flowbits {
                for name in &fb.names {
                    let id = set.flowbit_id(name).unwrap();
                    match fb.command {
                        FlowbitsCommand::Set => bits.set(id),
                        FlowbitsCommand::Unset => bits.unset(id),
                        FlowbitsCommand::Toggle => bits.toggle(id),
                        _ => {}
                    }
                }
            }
            matched.push(i);
        }
    }
    let order = set.options().action_order;
    matched.sort_by_key(|&i| {
        (
            order
                .iter()
                .position(|&c| c == ActionClass::of(rules[i].action)),
            i,
        )
    });
    matched.into_iter().map(|i| i as u32).collect()
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// One case: build with back end `mpm`, match every packet, compare with the oracle.
fn check_case(
    mpm: MpmKind,
    rules: Vec<Rule>,
    packets: &[(Vec<u8>, PacketContext)],
    initial_bits: &[bool],
    retry_limit: u32,
    address_classes: usize,
) -> Result<(), TestCaseError> {
    let rules: Vec<Rule> = rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| Rule {
            sid: i as u32 + 1,
            ..r
        })
        .collect();
    let options = BuildOptions {
        retry_limit,
        mpm,
        address_classes,
        ..BuildOptions::default()
    };
    let set = RuleSet::build(rules, &options);
    let mut scratch = set.new_scratch();
    let mut pcre = PcreScratch::new(options.pcre_match_limit, options.pcre_depth_limit);
    let mut bits = FlowBits::default();
    let mut expected_bits = FlowBits::default();
    for (name, on) in BITS.iter().zip(initial_bits) {
        if let (Some(id), true) = (set.flowbit_id(name), on) {
            bits.set(id);
            expected_bits.set(id);
        }
    }
    let mut out = Vec::new();
    for (buf, ctx) in packets {
        let ctx = PacketContext {
            dsize: buf.len(),
            ..*ctx
        };
        out.clear();
        set.detect(&ctx, buf, &mut bits, &mut scratch, &mut out);
        let got: Vec<u32> = out.iter().map(|&RuleId(r)| r).collect();
        let want = oracle(&set, &ctx, buf, &mut expected_bits, &mut pcre);
        prop_assert_eq!(&got, &want, "buffer {:?} ctx {:?} mpm {}", buf, ctx, mpm);
        prop_assert_eq!(&bits, &expected_bits);
    }
    prop_assert_eq!(scratch.stats().mpm_failed_scans, 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn compiled_matcher_agrees_with_reference_ac(
        rules in prop::collection::vec(random_rule(), 1..6),
        packets in prop::collection::vec((prop::collection::vec(byte(), 0..24), random_ctx()), 1..6),
        initial_bits in prop::collection::vec(any::<bool>(), BITS.len()),
        retry_limit in prop_oneof![4 => Just(1024u32), 1 => 0u32..4],
        address_classes in 1usize..=4,
    ) {
        check_case(MpmKind::Ac, rules, &packets, &initial_bits, retry_limit, address_classes)?;
    }

    #[test]
    fn compiled_matcher_agrees_with_reference_hash(
        rules in prop::collection::vec(random_rule(), 1..6),
        packets in prop::collection::vec((prop::collection::vec(byte(), 0..24), random_ctx()), 1..6),
        initial_bits in prop::collection::vec(any::<bool>(), BITS.len()),
        retry_limit in prop_oneof![4 => Just(1024u32), 1 => 0u32..4],
        address_classes in 1usize..=4,
    ) {
        check_case(MpmKind::Hash, rules, &packets, &initial_bits, retry_limit, address_classes)?;
    }

    /// The same with Vectorscan (skipped, loudly, without the `vectorscan` feature).
    #[test]
    fn compiled_matcher_agrees_with_reference_hs(
        rules in prop::collection::vec(random_rule(), 1..6),
        packets in prop::collection::vec((prop::collection::vec(byte(), 0..24), random_ctx()), 1..6),
        initial_bits in prop::collection::vec(any::<bool>(), BITS.len()),
        retry_limit in prop_oneof![4 => Just(1024u32), 1 => 0u32..4],
        address_classes in 1usize..=4,
    ) {
        if !VECTORSCAN_BUILT {
            return Ok(());
        }
        check_case(MpmKind::Hs, rules, &packets, &initial_bits, retry_limit, address_classes)?;
    }
}

#[test]
fn vectorscan_backend_is_covered() {
    if !VECTORSCAN_BUILT {
        eprintln!(
            "SKIPPED: the hs back end is not built; run with --features vectorscan to test it"
        );
    }
}
