//! End-to-end matcher tests written as rule text (the front end's parser, then the compiled
//! RuleSet, cross-checked with the reference evaluator): the Snort 2.9 manual's examples.

mod support;

use std::sync::Arc;

use nfips_rules::ast::{Origin, Rule};
use nfips_rules::classification::Classifications;
use nfips_rules::parse::{parse_rule, ParseCache, ParseContext};
use nfips_rules::pcre::PcreScratch;
use nfips_rules::reference::{self, ReferenceLimits};
use nfips_rules::vars::Vars;
use nfips_rules::{BuildOptions, FlowBits, PacketContext, RuleId, RuleSet};
use support::tcp_ctx;

fn parse(text: &str) -> Rule {
    let mut vars = Vars::with_defaults();
    let classes = Classifications::builtin();
    let mut cache = ParseCache::default();
    let mut ctx = ParseContext {
        vars: &mut vars,
        classes: &classes,
        cache: &mut cache,
    };
    let origin = Origin {
        file: Arc::from("test.rules"),
        line: 1,
    };
    match parse_rule(text, origin, &mut ctx) {
        Ok(rule) => rule,
        Err(e) => panic!("test rule does not parse: {text}: {:?}", e.why),
    }
}

/// Whether `text` matches `buf` in a TCP packet to port 80; the reference must agree.
fn fires(text: &str, buf: &[u8]) -> bool {
    fires_with_events(text, buf, 0)
}

/// [`fires`] on a packet that raised the stream events `stream_events`.
fn fires_with_events(text: &str, buf: &[u8], stream_events: u64) -> bool {
    let set = RuleSet::build(vec![parse(text)], &BuildOptions::default());
    let ctx = PacketContext {
        dsize: buf.len(),
        stream_events,
        ..tcp_ctx()
    };
    let mut scratch = set.new_scratch();
    let mut out = Vec::new();
    set.detect(&ctx, buf, &mut FlowBits::default(), &mut scratch, &mut out);
    let compiled = out == vec![RuleId(0)];
    let mut pcre = PcreScratch::new(3500, 1500);
    let limits = ReferenceLimits {
        retry_limit: BuildOptions::default().retry_limit,
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
        "matcher and reference disagree: {text} on {buf:?}"
    );
    compiled
}

#[test]
fn manual_content_mixed_hex() {
    let r = r#"alert tcp any any -> any any (msg:"x"; content:"|00 01 86 a5|"; sid:1;)"#;
    assert!(fires(r, b"\x00\x01\x86\xa5"));
    assert!(!fires(r, b"\x00\x01\x86"));
}

#[test]
fn manual_content_negated_and_nocase() {
    let r = r#"alert tcp any any -> any 80 (content:!"GET"; sid:1;)"#;
    assert!(fires(r, b"POST /"));
    assert!(!fires(r, b"GET /"));
    let r = r#"alert tcp any any -> any 21 (msg:"FTP ROOT"; content:"USER root"; nocase; sid:2;)"#;
    let ftp = |buf: &[u8]| {
        let set = RuleSet::build(vec![parse(r)], &BuildOptions::default());
        let ctx = PacketContext {
            dst_port: 21,
            dsize: buf.len(),
            ..tcp_ctx()
        };
        let mut out = Vec::new();
        set.detect(
            &ctx,
            buf,
            &mut FlowBits::default(),
            &mut set.new_scratch(),
            &mut out,
        );
        !out.is_empty()
    };
    assert!(ftp(b"user ROOT\r\n"));
    assert!(!ftp(b"user admin\r\n"));
}

#[test]
fn manual_offset_depth() {
    let r = r#"alert tcp any any -> any 80 (content:"cgi-bin/phf"; offset:4; depth:20; sid:1;)"#;
    assert!(fires(r, b"GET /cgi-bin/phf?"));
    assert!(!fires(r, b"cgi-bin/phf"));
}

#[test]
fn manual_distance_within() {
    let r = r#"alert tcp any any -> any any (content:"ABC"; content:"DEF"; distance:1; sid:1;)"#;
    assert!(fires(r, b"ABC DEF"));
    assert!(!fires(r, b"ABCDEF"));
    let r = r#"alert tcp any any -> any any (content:"ABC"; content:"EFG"; within:10; sid:1;)"#;
    assert!(fires(r, b"ABC...EFG"));
    assert!(!fires(r, b"ABC.........EFG"));
}

#[test]
fn manual_isdataat_relative_with_negated_content() {
    let r = r#"alert tcp any any -> any any (content:"PASS"; isdataat:50,relative; content:!"|0a|"; within:50; sid:1;)"#;
    let long = [b"PASS ".as_slice(), &[b'A'; 60]].concat();
    assert!(fires(r, &long));
    let with_newline = [b"PASS ".as_slice(), &[b'A'; 20], b"\n", &[b'A'; 40]].concat();
    assert!(!fires(r, &with_newline));
    assert!(!fires(r, b"PASS short"));
}

#[test]
fn manual_pcre_relative_and_caseless() {
    let r = r#"alert tcp any any -> any 80 (content:"/foo.php?id="; pcre:"/\/foo.php?id=[0-9]{1,10}/iU"; sid:1;)"#;
    // The U flag needs the URI buffer: the parser reports the rule unsupported, it never
    // reaches the matcher. Use the raw-payload form instead.
    let _ = r;
    let r = r#"alert tcp any any -> any 80 (content:"id="; pcre:"/^[0-9]{1,10}(&|$)/R"; sid:1;)"#;
    assert!(fires(r, b"GET /foo.php?id=1234&x=1"));
    assert!(!fires(r, b"GET /foo.php?id=abc"));
    let r = r#"alert tcp any any -> any 80 (pcre:"/select.+from/i"; sid:1;)"#;
    assert!(fires(r, b"SELECT a FROM b"));
}

#[test]
fn manual_byte_test_examples() {
    let r = r#"alert udp any any -> any 1234 (byte_test:4,=,1234,0,string,dec; sid:1;)"#;
    let fire_udp = |text: &str, buf: &[u8]| {
        let set = RuleSet::build(vec![parse(text)], &BuildOptions::default());
        let ctx = PacketContext {
            dst_port: 1234,
            dsize: buf.len(),
            ..support::udp_ctx()
        };
        let mut out = Vec::new();
        set.detect(
            &ctx,
            buf,
            &mut FlowBits::default(),
            &mut set.new_scratch(),
            &mut out,
        );
        !out.is_empty()
    };
    assert!(fire_udp(r, b"1234 is the number"));
    assert!(!fire_udp(r, b"1235 is the number"));
    let r = r#"alert udp any any -> any 1234 (byte_test:8,=,0xdeadbeef,0,string,hex; sid:1;)"#;
    assert!(fire_udp(r, b"DEADBEEF"));
    let r = r#"alert tcp any any -> any any (content:"|00 00 00 07|"; byte_test:4,>,1000,20,relative; sid:1;)"#;
    let mut buf = vec![0u8, 0, 0, 7];
    buf.extend_from_slice(&[0; 20]);
    buf.extend_from_slice(&2000u32.to_be_bytes());
    assert!(fires(r, &buf));
    buf.truncate(24);
    buf.extend_from_slice(&10u32.to_be_bytes());
    assert!(!fires(r, &buf));
}

#[test]
fn manual_byte_jump_and_extract() {
    let r = r#"alert tcp any any -> any any (content:"|00 01|"; byte_jump:2,0,relative; content:"END"; within:3; sid:1;)"#;
    assert!(fires(r, b"\x00\x01\x00\x04abcdEND"));
    assert!(!fires(r, b"\x00\x01\x00\x03abcdEND"));
    let r = r#"alert tcp any any -> any any (byte_extract:1,0,str_offset; byte_extract:1,1,str_depth; content:"bad stuff"; offset:str_offset; depth:str_depth; sid:1;)"#;
    assert!(fires(r, b"\x03\x0c.bad stuff.."));
    assert!(!fires(r, b"\x04\x0c.bad stuff.."));
}

#[test]
fn manual_flags_and_dsize() {
    let r = r#"alert tcp any any -> any any (flags:SF,12; sid:1;)"#;
    let set = RuleSet::build(vec![parse(r)], &BuildOptions::default());
    let mut ctx = tcp_ctx();
    ctx.tcp = Some(nfips_rules::ruleset::TcpFields {
        flags: 0x03 | 0xc0,
        seq: 0,
        ack: 0,
        window: 0,
    });
    let mut out = Vec::new();
    set.detect(
        &ctx,
        b"",
        &mut FlowBits::default(),
        &mut set.new_scratch(),
        &mut out,
    );
    assert_eq!(
        out,
        vec![RuleId(0)],
        "SYN+FIN with the reserved bits ignored"
    );
    ctx.tcp = Some(nfips_rules::ruleset::TcpFields {
        flags: 0x13,
        seq: 0,
        ack: 0,
        window: 0,
    });
    out.clear();
    set.detect(
        &ctx,
        b"",
        &mut FlowBits::default(),
        &mut set.new_scratch(),
        &mut out,
    );
    assert!(out.is_empty(), "ACK is not ignored");
    let r = r#"alert tcp any any -> any any (dsize:300<>400; sid:1;)"#;
    assert!(fires(r, &[b'a'; 350]));
    assert!(!fires(r, &[b'a'; 299]));
    assert!(!fires(r, &[b'a'; 401]));
}

fn event_bit(name: &str) -> u64 {
    match nfips_rules::stream_events::bit_of(name) {
        Some(bit) => 1 << bit,
        None => panic!("{name} has no bit"),
    }
}

#[test]
fn stream_event_rule_fires_only_with_its_event() {
    let r = r#"drop tcp any any -> any any (msg:"overlap"; stream-event:reassembly_overlap_different_data; sid:1;)"#;
    let overlap = event_bit("reassembly_overlap_different_data");
    let paws = event_bit("pkt_invalid_timestamp");
    assert!(fires_with_events(r, b"", overlap));
    assert!(fires_with_events(r, b"data", overlap | paws));
    assert!(!fires_with_events(r, b"data", paws));
    assert!(!fires_with_events(r, b"data", 0));
}

#[test]
fn stream_event_combines_with_content_and_header_options() {
    let r = r#"alert tcp any any -> any 80 (stream-event:pkt_invalid_timestamp; content:"GET"; dsize:>2; sid:1;)"#;
    let paws = event_bit("pkt_invalid_timestamp");
    assert!(fires_with_events(r, b"GET /", paws));
    assert!(!fires_with_events(r, b"POST /", paws));
    assert!(!fires_with_events(r, b"GET /", 0));
}

#[test]
fn gid129_preprocessor_rule_fires_on_its_event() {
    let r = r#"alert ( msg:"STREAM5_BAD_TIMESTAMP"; sid:4; gid:129; rev:1; )"#;
    assert!(fires_with_events(
        r,
        b"x",
        event_bit("pkt_invalid_timestamp")
    ));
    assert!(!fires_with_events(r, b"x", event_bit("midstream_pickup")));
}

#[test]
fn stream_event_rule_is_a_candidate_only_on_packets_with_events() {
    let set = RuleSet::build(
        vec![parse(
            r#"drop tcp any any -> any any (stream-event:reassembly_overlap_different_data; sid:1;)"#,
        )],
        &BuildOptions::default(),
    );
    let mut scratch = set.new_scratch();
    let mut out = Vec::new();
    let mut detect = |stream_events: u64, scratch: &mut nfips_rules::Scratch| {
        let ctx = PacketContext {
            stream_events,
            ..tcp_ctx()
        };
        out.clear();
        set.detect(&ctx, b"x", &mut FlowBits::default(), scratch, &mut out);
        out.len()
    };
    assert_eq!(detect(0, &mut scratch), 0);
    assert_eq!(
        scratch.stats().candidates,
        0,
        "evaluated on a packet without events"
    );
    let paws = event_bit("pkt_invalid_timestamp");
    assert_eq!(detect(paws, &mut scratch), 0);
    assert_eq!(scratch.stats().candidates, 1);
    assert_eq!(
        detect(event_bit("reassembly_overlap_different_data"), &mut scratch),
        1
    );
}
