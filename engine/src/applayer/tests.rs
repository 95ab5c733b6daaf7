//! Detection state and the per-packet entry points of [`super::AppLayer`].

use nfips_rules::ast::{AppProto, Buffer};
use nfips_rules::ruleset::AppBuffers;
use nfips_rules::RuleSet;

use super::dns::build::query;
use super::tls::build::{certificate, client_hello, server_flight, C, CN, O};
use super::*;

fn ruleset(texts: &[&str]) -> RuleSet {
    let rules = nfips_rules::load::rules_from_text(&texts.join("\n")).unwrap();
    RuleSet::build(rules, &Default::default())
}

const TLS_BUFFER_RULES: &[&str] = &[
    r#"alert tls any any -> any any (tls.sni; content:"x"; sid:1;)"#,
    r#"alert dns any any -> any any (dns.query; content:"x"; sid:2;)"#,
];

/// The flow id of the flow under test.
const FLOW: u64 = 7;

fn buffer_rules() -> RuleSet {
    ruleset(TLS_BUFFER_RULES)
}

/// The whole stream so far from offset 0, of which `new` bytes at the end are new.
fn from_start(bytes: &[u8], new: usize) -> StreamData<'_> {
    StreamData {
        bytes,
        new_from: bytes.len() - new,
        stream_offset: 0,
    }
}

#[test]
fn state_byte_codes_every_protocol() {
    for proto in AppProto::ALL {
        let mut state = AppLayerState::default();
        state.found(proto);
        assert_eq!(state.proto(), Some(proto));
        assert!(state.is_decided());
        assert_eq!(state.to_string(), proto.name());
    }
    assert_eq!(std::mem::size_of::<AppLayerState>(), 1);
}

#[test]
fn state_becomes_unknown_when_both_directions_give_up() {
    let mut state = AppLayerState::default();
    assert_eq!(state.to_string(), "probing");
    assert!(!state.give_up(true));
    assert_eq!(state.to_string(), "probing to_server-done");
    assert!(!state.is_decided());
    assert!(state.give_up(false));
    assert!(state.is_decided());
    assert_eq!(state.proto(), None);
    assert_eq!(state.to_string(), "unknown");
}

#[test]
fn tls_detected_and_sni_read_on_the_same_packet() {
    let rules = buffer_rules();
    let mut app = AppLayer::default();
    let mut state = AppLayerState::default();
    let hello = client_hello(Some("bad.example"));
    let update = app.on_tcp(
        &mut state,
        FLOW,
        true,
        from_start(&hello, hello.len()),
        &rules,
    );
    assert_eq!(state.proto(), Some(AppProto::Tls));
    assert!(update.tls_sni && !update.tls_certificate);
    let view = app.view(b"payload", FLOW, update);
    assert_eq!(view.get(Buffer::TlsSni), Some(&b"bad.example"[..]));
    assert!(view.updated(Buffer::TlsSni) && !view.updated(Buffer::TlsCertSubject));
    assert_eq!(view.get(Buffer::HttpUri), None);
    assert_eq!(app.counters.detected[1], 1);
}

#[test]
fn tls_hello_split_over_two_packets() {
    let rules = buffer_rules();
    let mut app = AppLayer::default();
    let mut state = AppLayerState::default();
    let hello = client_hello(Some("split.example"));
    let first = app.on_tcp(&mut state, FLOW, true, from_start(&hello[..3], 3), &rules);
    assert_eq!(state.proto(), None, "3 bytes decide nothing");
    assert!(!first.any());
    // The next view holds the stream from its start, the rest of the hello being new.
    let second = app.on_tcp(
        &mut state,
        FLOW,
        true,
        from_start(&hello, hello.len() - 3),
        &rules,
    );
    assert_eq!(state.proto(), Some(AppProto::Tls));
    assert!(second.tls_sni);
}

#[test]
fn server_certificate_names_on_the_server_packet() {
    let rules = buffer_rules();
    let mut app = AppLayer::default();
    let mut state = AppLayerState::default();
    let hello = client_hello(Some("a.example"));
    app.on_tcp(
        &mut state,
        FLOW,
        true,
        from_start(&hello, hello.len()),
        &rules,
    );
    let cert = certificate(&[(C, "US"), (O, "Evil CA")], &[(CN, "a.example")]);
    let flight = server_flight(&[&cert]);
    let update = app.on_tcp(
        &mut state,
        FLOW,
        false,
        from_start(&flight, flight.len()),
        &rules,
    );
    assert!(update.tls_certificate && !update.tls_sni);
    let view = app.view(&flight, FLOW, update);
    assert_eq!(view.get(Buffer::TlsCertSubject), Some(&b"CN=a.example"[..]));
    assert_eq!(
        view.get(Buffer::TlsCertIssuer),
        Some(&b"C=US, O=Evil CA"[..])
    );
    assert_eq!(app.counters.tls.certificates, 1);
}

#[test]
fn no_parser_state_without_rules_reading_tls() {
    let rules = ruleset(&[r#"alert tls any any -> any any (content:"x"; sid:1;)"#]);
    let mut app = AppLayer::default();
    let mut state = AppLayerState::default();
    let hello = client_hello(Some("a.example"));
    let update = app.on_tcp(
        &mut state,
        FLOW,
        true,
        from_start(&hello, hello.len()),
        &rules,
    );
    assert_eq!(state.proto(), Some(AppProto::Tls));
    assert!(!update.any());
    assert_eq!(app.parser_flows(), 0);
}

#[test]
fn midstream_direction_is_not_probed() {
    let rules = buffer_rules();
    let mut app = AppLayer::default();
    let mut state = AppLayerState::default();
    let hello = client_hello(Some("a.example"));
    let late = StreamData {
        bytes: &hello,
        new_from: 0,
        stream_offset: 1000,
    };
    app.on_tcp(&mut state, FLOW, true, late, &rules);
    assert_eq!(state.proto(), None);
    assert_eq!(app.counters.probe_midstream, 1);
    assert_eq!(state.to_string(), "probing to_server-done");
}

#[test]
fn smtp_after_the_banner() {
    let rules = buffer_rules();
    let mut app = AppLayer::default();
    let mut state = AppLayerState::default();
    let banner = b"220 mail.example ESMTP\r\n";
    app.on_tcp(
        &mut state,
        FLOW,
        false,
        from_start(banner, banner.len()),
        &rules,
    );
    assert_eq!(state.to_string(), "probing to_client-done banner-220");
    let ehlo = b"EHLO me\r\n";
    app.on_tcp(&mut state, FLOW, true, from_start(ehlo, ehlo.len()), &rules);
    assert_eq!(state.proto(), Some(AppProto::Smtp));
}

#[test]
fn unknown_tcp_counts_once() {
    let rules = buffer_rules();
    let mut app = AppLayer::default();
    let mut state = AppLayerState::default();
    for to_server in [true, false, true] {
        let data = b"\x01\x02 some private protocol";
        app.on_tcp(
            &mut state,
            FLOW,
            to_server,
            from_start(data, data.len()),
            &rules,
        );
    }
    assert_eq!(state.to_string(), "unknown");
    assert_eq!(app.counters.unknown, 1);
}

#[test]
fn dns_over_udp_query_and_response() {
    let rules = buffer_rules();
    let mut app = AppLayer::default();
    let mut state = AppLayerState::default();
    let request = query(9, 0x0100, "evil.example");
    let update = app.on_udp(&mut state, true, &request, &rules);
    assert_eq!(state.proto(), Some(AppProto::Dns));
    assert!(update.dns_query);
    assert_eq!(
        app.view(&request, FLOW, update).get(Buffer::DnsQuery),
        Some(&b"evil.example"[..])
    );
    let response = query(9, 0x8180, "evil.example");
    assert!(!app.on_udp(&mut state, false, &response, &rules).dns_query);
    assert!(!app.on_udp(&mut state, true, b"garbage", &rules).any());
    assert_eq!(
        (app.counters.dns_queries, app.counters.dns_malformed),
        (1, 1)
    );
}

#[test]
fn non_dns_udp_is_never_dns() {
    let rules = buffer_rules();
    let mut app = AppLayer::default();
    let mut state = AppLayerState::default();
    app.on_udp(&mut state, true, b"random datagram payload here", &rules);
    // A DNS-looking packet later does not change a direction that already gave up.
    app.on_udp(&mut state, true, &query(1, 0x0100, "a.b"), &rules);
    assert_eq!(state.proto(), None);
    app.on_udp(&mut state, false, &[0xff; 30], &rules);
    assert_eq!(state.to_string(), "unknown");
}

#[test]
fn dns_over_tcp_reads_each_message() {
    let rules = buffer_rules();
    let mut app = AppLayer::default();
    let mut state = AppLayerState::default();
    let msg = query(3, 0x0100, "tcp.example");
    let framed = [(msg.len() as u16).to_be_bytes().to_vec(), msg].concat();
    let update = app.on_tcp(
        &mut state,
        FLOW,
        true,
        from_start(&framed, framed.len()),
        &rules,
    );
    assert_eq!(state.proto(), Some(AppProto::Dns));
    assert!(update.dns_query);
    assert_eq!(
        app.view(&framed, FLOW, update).get(Buffer::DnsQuery),
        Some(&b"tcp.example"[..])
    );
}

#[test]
fn counters_are_reported_by_name() {
    let mut app = AppLayer::default();
    app.counters.detected[1] = 3;
    app.counters.tls.handshake_too_large = 2;
    let mut out = Vec::new();
    app.counters.report(&mut out);
    assert!(out.contains(&("app", "detected_tls", 3)));
    assert!(out.contains(&("app", "tls_handshake_too_large", 2)));
    assert!(out.iter().all(|(prefix, ..)| *prefix == "app"));
}

#[test]
fn parser_table_evicts_the_oldest_flow_and_counts() {
    let rules = buffer_rules();
    let mut app = AppLayer::new(AppLayerSettings {
        max_parser_flows: 2,
        ..AppLayerSettings::default()
    });
    let hello = client_hello(None);
    let mut states = [AppLayerState::default(); 4];
    for flow_id in 1..=3 {
        let state = &mut states[flow_id as usize];
        app.on_tcp(
            state,
            flow_id,
            true,
            from_start(&hello, hello.len()),
            &rules,
        );
    }
    assert_eq!(app.parser_flows(), 2);
    assert_eq!(app.counters.parser_evictions, 1);
    let cert = certificate(&[(CN, "i")], &[(CN, "s")]);
    let flight = server_flight(&[&cert]);
    let server = from_start(&flight, flight.len());
    let kept = app.on_tcp(&mut states[2], 2, false, server, &rules);
    assert!(kept.tls_certificate, "flow 2 kept its state");
    // Flow 1 was evicted: its server flight is not read, nor its handshake read again.
    let evicted = app.on_tcp(&mut states[1], 1, false, server, &rules);
    assert!(!evicted.any());
    assert_eq!(app.parser_flows(), 2);
    assert_eq!(app.counters.tls.client_hellos, 3);
}

#[test]
fn finished_tls_state_is_freed_at_the_next_packet() {
    let rules = buffer_rules();
    let mut app = AppLayer::default();
    let mut state = AppLayerState::default();
    let hello = client_hello(Some("a.example"));
    app.on_tcp(
        &mut state,
        FLOW,
        true,
        from_start(&hello, hello.len()),
        &rules,
    );
    let cert = certificate(&[(CN, "i")], &[(CN, "s")]);
    let flight = server_flight(&[&cert]);
    let update = app.on_tcp(
        &mut state,
        FLOW,
        false,
        from_start(&flight, flight.len()),
        &rules,
    );
    assert!(update.tls_certificate);
    assert_eq!(app.parser_flows(), 1, "kept for this packet's view");
    let data = [&flight[..], b"encrypted"].concat();
    app.on_tcp(&mut state, FLOW, false, from_start(&data, 9), &rules);
    assert_eq!(app.parser_flows(), 0);
    // Later packets (the views still start at the stream's first byte) read nothing again.
    let again = [&hello[..], b"more"].concat();
    let update = app.on_tcp(&mut state, FLOW, true, from_start(&again, 4), &rules);
    assert!(!update.any());
    assert_eq!(app.parser_flows(), 0);
    assert_eq!(app.counters.tls.client_hellos, 1);
}
