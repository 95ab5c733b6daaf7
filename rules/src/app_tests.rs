//! Tests of the app-layer header protocols (`alert tls`, `alert dns` ...) and the non-HTTP
//! sticky buffers (`dns.query`, `tls.sni`, `tls.cert_subject`, `tls.cert_issuer`): how they
//! parse, and how detection gates them on the flow's detected protocol.

use crate::ast::{AppProto, Buffer, BufferSide, Protocol};
use crate::parse::parse_text as parse;
use crate::ruleset::{AppBuffers, BufferKind, BuildOptions, FlowBits, PacketContext, RuleSet};

fn rules(texts: &[&str]) -> RuleSet {
    let parsed = texts
        .iter()
        .map(|t| parse(t).unwrap_or_else(|e| panic!("{t}: {e:?}")))
        .collect();
    RuleSet::build(parsed, &BuildOptions::default())
}

fn ctx(ip_proto: u8, dst_port: u16, app_proto: Option<AppProto>) -> PacketContext {
    PacketContext::for_tests(ip_proto, dst_port, true, app_proto, BufferKind::Packet)
}

/// sids of `set` matching `payload` as a packet in `ctx`.
fn packet_sids(set: &RuleSet, ctx: &PacketContext, payload: &[u8]) -> Vec<u32> {
    let mut scratch = set.new_scratch();
    let mut out = Vec::new();
    set.detect(
        ctx,
        payload,
        &mut FlowBits::default(),
        &mut scratch,
        &mut out,
    );
    out.iter().map(|id| set.rule(*id).sid).collect()
}

/// One app-layer event: buffers present; every present buffer counts as updated.
struct Event<'a>(&'a [(Buffer, &'a [u8])]);

impl AppBuffers for Event<'_> {
    fn get(&self, buffer: Buffer) -> Option<&[u8]> {
        self.0.iter().find(|(b, _)| *b == buffer).map(|(_, v)| *v)
    }
    fn updated(&self, buffer: Buffer) -> bool {
        self.get(buffer).is_some()
    }
}

fn app_sids(set: &RuleSet, ctx: &PacketContext, event: &Event) -> Vec<u32> {
    let mut scratch = set.new_scratch();
    let mut out = Vec::new();
    set.detect_app(ctx, event, &mut FlowBits::default(), &mut scratch, &mut out);
    out.iter().map(|id| set.rule(*id).sid).collect()
}

#[test]
fn sticky_names_of_the_new_buffers() {
    for (buffer, sticky, legacy) in [
        (Buffer::DnsQuery, "dns.query", "dns_query"),
        (Buffer::TlsSni, "tls.sni", "tls_sni"),
        (
            Buffer::TlsCertSubject,
            "tls.cert_subject",
            "tls_cert_subject",
        ),
        (Buffer::TlsCertIssuer, "tls.cert_issuer", "tls_cert_issuer"),
    ] {
        assert_eq!(Buffer::from_sticky(sticky), Some(buffer));
        assert_eq!(Buffer::from_sticky(legacy), Some(buffer));
        assert_eq!(
            Buffer::from_modifier(legacy),
            None,
            "{legacy} is sticky only"
        );
        assert_eq!(buffer.to_string(), sticky);
        assert!(!buffer.is_http());
        assert!(Buffer::OTHER_APP.contains(&buffer));
    }
    assert_eq!(Buffer::DnsQuery.app_proto(), Some(AppProto::Dns));
    assert_eq!(Buffer::TlsCertIssuer.app_proto(), Some(AppProto::Tls));
    assert_eq!(Buffer::HttpUri.app_proto(), Some(AppProto::Http));
    assert_eq!(Buffer::Packet.app_proto(), None);
    assert_eq!(Buffer::TlsSni.side(), BufferSide::Request);
    assert_eq!(Buffer::TlsCertSubject.side(), BufferSide::Response);
}

#[test]
fn contents_after_a_dns_or_tls_sticky_buffer_search_it() {
    let rule = parse(
        r#"alert dns any any -> any any (msg:"x"; dns_query; content:"evil"; nocase; pkt_data; content:"|01|"; sid:1;)"#,
    )
    .unwrap();
    let buffers: Vec<Buffer> = rule.detection.iter().map(|o| o.buffer()).collect();
    assert_eq!(buffers, [Buffer::DnsQuery, Buffer::Packet]);
    assert!(rule.reads_app_buffers());
    assert_eq!(rule.first_app_buffer(), Some(Buffer::DnsQuery));
    assert_eq!(rule.first_http_buffer(), None);
    assert!(!rule.requires_http());
}

#[test]
fn byte_test_in_a_tls_buffer_reads_it() {
    let rule = parse(r#"alert tls any any -> any any (tls.sni; byte_test:1,>,3,0; sid:1;)"#)
        .expect("loads");
    assert_eq!(rule.first_app_buffer(), Some(Buffer::TlsSni));
}

#[test]
fn tls_packet_rule_needs_a_flow_detected_as_tls() {
    let set = rules(&[r#"alert tls any any -> any any (content:"|55 04 03|"; sid:7;)"#]);
    let payload = b"xx\x55\x04\x03yy";
    assert_eq!(
        packet_sids(&set, &ctx(6, 8443, Some(AppProto::Tls)), payload),
        [7]
    );
    assert!(packet_sids(&set, &ctx(6, 8443, None), payload).is_empty());
    assert!(packet_sids(&set, &ctx(6, 8443, Some(AppProto::Http)), payload).is_empty());
    // tls is TCP only.
    assert!(packet_sids(&set, &ctx(17, 8443, Some(AppProto::Tls)), payload).is_empty());
}

#[test]
fn plain_tcp_rule_ignores_the_app_proto() {
    let set = rules(&[r#"alert tcp any any -> any any (content:"abc"; sid:1;)"#]);
    for app in [None, Some(AppProto::Tls), Some(AppProto::Dns)] {
        assert_eq!(packet_sids(&set, &ctx(6, 1, app), b"abc"), [1]);
    }
}

#[test]
fn dns_rule_runs_over_udp_and_tcp_with_its_ports() {
    let set = rules(&[r#"alert dns any any -> any 53 (content:"|07|example"; sid:5;)"#]);
    let rule = set.rule(crate::RuleId(0));
    assert_eq!(rule.protocol, Protocol::TcpOrUdp);
    let query = b"\x12\x34\x01\x00\x07example\x03com\x00";
    let dns = Some(AppProto::Dns);
    assert_eq!(packet_sids(&set, &ctx(17, 53, dns), query), [5]);
    assert_eq!(packet_sids(&set, &ctx(6, 53, dns), query), [5]);
    assert!(packet_sids(&set, &ctx(17, 5353, dns), query).is_empty());
    assert!(packet_sids(&set, &ctx(1, 53, dns), query).is_empty());
    assert!(packet_sids(&set, &ctx(17, 53, None), query).is_empty());
}

#[test]
fn dns_query_rule_matches_the_query_buffer_on_dns_flows() {
    let set = rules(&[
        r#"alert dns any any -> any any (dns.query; content:"evil.example"; nocase; isdataat:!1,relative; sid:1;)"#,
        r#"alert udp any any -> any any (dns_query; content:"evil"; sid:2;)"#,
    ]);
    let dns = ctx(17, 53, Some(AppProto::Dns));
    // sid 1 is nocase and anchored at the end; sid 2 is case-sensitive.
    let event = Event(&[
        (Buffer::Packet, b"raw"),
        (Buffer::DnsQuery, b"www.EVIL.example"),
    ]);
    assert_eq!(app_sids(&set, &dns, &event), [1]);
    let not_at_end = Event(&[
        (Buffer::Packet, b"raw"),
        (Buffer::DnsQuery, b"EVIL.example.org"),
    ]);
    assert!(app_sids(&set, &dns, &not_at_end).is_empty());
    let upper = Event(&[
        (Buffer::Packet, b"raw"),
        (Buffer::DnsQuery, b"a.evil.example"),
    ]);
    assert_eq!(app_sids(&set, &dns, &upper), [1, 2]);
    // Not a DNS flow: the `alert dns` rule is out, the `alert udp` one still reads the buffer.
    assert_eq!(app_sids(&set, &ctx(17, 53, None), &upper), [2]);
    // No query buffer (a response without one, an HTTP event): nothing.
    assert!(app_sids(&set, &dns, &Event(&[(Buffer::Packet, b"evil.example")])).is_empty());
}

#[test]
fn tls_buffers_are_separate() {
    let set = rules(&[
        r#"alert tls any any -> any any (tls.sni; content:"bad.example"; sid:1;)"#,
        r#"alert tls any any -> any any (tls_cert_subject; content:"CN=bad.example"; sid:2;)"#,
        r#"alert tls any any -> any any (tls.cert_issuer; content:"O=Evil CA"; sid:3;)"#,
    ]);
    let tls = ctx(6, 443, Some(AppProto::Tls));
    let hello = Event(&[(Buffer::Packet, b""), (Buffer::TlsSni, b"bad.example")]);
    assert_eq!(app_sids(&set, &tls, &hello), [1]);
    let cert = Event(&[
        (Buffer::Packet, b""),
        (Buffer::TlsCertSubject, b"C=US, CN=bad.example"),
        (Buffer::TlsCertIssuer, b"C=US, O=Evil CA, CN=x"),
    ]);
    assert_eq!(app_sids(&set, &tls, &cert), [2, 3]);
}

#[test]
fn reads_app_layer_tells_which_parsers_are_needed() {
    let none = rules(&[r#"alert tls any any -> any any (content:"x"; sid:1;)"#]);
    for proto in AppProto::ALL {
        assert!(!none.reads_app_layer(proto), "{proto}");
    }
    let set = rules(&[
        r#"alert tcp any any -> any any (tls.sni; content:"x"; sid:1;)"#,
        r#"alert dns any any -> any any (dns.query; content:"x"; sid:2;)"#,
    ]);
    assert!(set.reads_app_layer(AppProto::Tls));
    assert!(set.reads_app_layer(AppProto::Dns));
    assert!(!set.reads_app_layer(AppProto::Http));
    let http = rules(&[r#"alert http any any -> any any (content:"x"; sid:1;)"#]);
    assert!(http.reads_app_layer(AppProto::Http));
}

#[test]
fn app_proto_names_round_trip() {
    for proto in AppProto::ALL {
        let (parsed, _) = AppProto::from_header_word(proto.name()).unwrap();
        assert_eq!(parsed, proto);
    }
    assert_eq!(
        AppProto::from_header_word("ssl"),
        Some((AppProto::Tls, Protocol::Tcp))
    );
    assert_eq!(AppProto::from_header_word("dcerpc"), None);
}

#[test]
fn app_protocol_rules_are_scanned_only_in_flows_of_their_protocol() {
    let set = rules(&[
        r#"alert tls any any -> any any (content:"|16 03 01|"; content:"evilcert"; sid:1;)"#,
        r#"alert tcp any any -> any any (content:"evilcert"; sid:2;)"#,
    ]);
    let payload = b"\x16\x03\x01 evilcert";
    let scan = |app_proto| {
        let mut scratch = set.new_scratch();
        let mut out = Vec::new();
        set.detect(
            &ctx(6, 443, app_proto),
            payload,
            &mut FlowBits::default(),
            &mut scratch,
            &mut out,
        );
        let sids: Vec<u32> = out.iter().map(|id| set.rule(*id).sid).collect();
        (sids, scratch.stats().candidates)
    };
    // Another protocol's flow (or one not detected yet) never makes the tls rule a candidate.
    assert_eq!(scan(None), (vec![2], 1));
    assert_eq!(scan(Some(AppProto::Ssh)), (vec![2], 1));
    let (mut sids, candidates) = scan(Some(AppProto::Tls));
    sids.sort_unstable();
    assert_eq!((sids, candidates), (vec![1, 2], 2));
}
