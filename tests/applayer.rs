//! App-layer header protocols and buffers end to end: crafted pcaps (TLS, DNS, FTP, SMTP, SMB,
//! SSH on ordinary and unusual ports) through `nfips replay`, checking which sids alert.

use std::collections::BTreeMap;
use std::path::Path;

use nfips_engine::applayer::dns::build::query;
use nfips_engine::applayer::tls::build::{certificate, client_hello, server_flight, C, CN, O};
use nfips_engine::craft::{PacketBuilder, TcpConversation};
use nfips_engine::source::pcap::Timestamp;
use serde_json::Value;

use crate::util::{corpus, nfips, write_pcap};

/// Alert counts by sid of `nfips replay --rules RULES PCAP` (and the replay's stderr).
fn alerts(rules: &str, packets: &[(Timestamp, Vec<u8>)]) -> BTreeMap<u64, usize> {
    let dir = tempfile::tempdir().unwrap();
    let rules_path = dir.path().join("app.rules");
    std::fs::write(&rules_path, rules).unwrap();
    let pcap = dir.path().join("app.pcap");
    write_pcap(&pcap, packets);
    eve_alerts(&rules_path, &pcap, dir.path())
}

fn eve_alerts(rules: &Path, pcap: &Path, dir: &Path) -> BTreeMap<u64, usize> {
    let eve = dir.join("eve.json");
    let out = nfips()
        .arg("replay")
        .arg("--rules")
        .arg(rules)
        .arg(pcap)
        .arg("--eve")
        .arg(&eve)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut by_sid = BTreeMap::new();
    for line in std::fs::read_to_string(&eve).unwrap_or_default().lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        if record["event_type"] == "alert" {
            let sid = record["alert"]["signature_id"].as_u64().unwrap();
            *by_sid.entry(sid).or_default() += 1;
        }
    }
    by_sid
}

fn sids(alerts: &BTreeMap<u64, usize>) -> Vec<u64> {
    alerts.keys().copied().collect()
}

/// A TLS conversation on `server`: ClientHello with `sni`, then the server's flight with a
/// certificate issued by "C=US, O=Evil CA" to "CN=<sni>".
fn tls_conversation(server: &str, sni: &str) -> Vec<(Timestamp, Vec<u8>)> {
    let cert = certificate(&[(C, "US"), (O, "Evil CA")], &[(C, "US"), (CN, sni)]);
    let mut c = TcpConversation::new("10.0.0.1:40000", server);
    c.handshake()
        .client_sends(&client_hello(Some(sni)), &[])
        .server_sends(&server_flight(&[&cert]), &[]);
    c.into_packets()
}

#[test]
fn alert_tls_content_rule_needs_a_tls_flow() {
    let rules = r#"
alert tls any any -> any any (msg:"tls content"; flow:established,to_server; content:"bad.example"; sid:1;)
alert tcp any any -> any any (msg:"tcp content"; flow:established,to_server; content:"bad.example"; sid:2;)
"#;
    let tls = alerts(rules, &tls_conversation("10.0.0.2:8443", "bad.example"));
    assert_eq!(sids(&tls), [1, 2]);
    // The same bytes after a line of another protocol: not TLS, only the tcp rule fires.
    let mut c = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:8443");
    c.handshake()
        .client_sends(b"HELLO friend\r\n", &[])
        .client_sends(&client_hello(Some("bad.example")), &[]);
    let other = alerts(rules, &c.into_packets());
    assert_eq!(sids(&other), [2]);
}

#[test]
fn tls_sni_and_certificate_buffers() {
    let rules = r#"
alert tls any any -> any any (msg:"sni"; tls.sni; content:"bad.example"; isdataat:!1,relative; sid:10;)
alert tls any any -> any any (msg:"sni other"; tls_sni; content:"good.example"; sid:11;)
alert tls any any -> any any (msg:"subject"; tls.cert_subject; content:"C=US, CN=bad.example"; sid:12;)
alert tls any any -> any any (msg:"issuer"; tls_cert_issuer; content:"C=US, O=Evil CA"; isdataat:!1,relative; sid:13;)
alert tls any any -> any any (msg:"issuer not"; tls.cert_issuer; content:"CN=Other"; sid:14;)
"#;
    let found = alerts(rules, &tls_conversation("10.0.0.2:443", "bad.example"));
    assert_eq!(sids(&found), [10, 12, 13]);
    assert!(
        found.values().all(|&n| n == 1),
        "each alerts once: {found:?}"
    );
}

#[test]
fn tls_sni_split_across_segments() {
    let rules =
        r#"alert tls any any -> any any (msg:"sni"; tls.sni; content:"split.example"; sid:20;)"#;
    let mut c = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:993");
    c.handshake()
        .client_sends(&client_hello(Some("split.example")), &[3, 40, 20]);
    assert_eq!(sids(&alerts(rules, &c.into_packets())), [20]);
}

fn udp(src: &str, dst: &str, payload: &[u8], second: u64) -> (Timestamp, Vec<u8>) {
    (
        Timestamp::new(1_700_000_000 + second, 0),
        PacketBuilder::udp(src, dst).payload(payload).build(),
    )
}

#[test]
fn dns_query_over_udp_on_any_port() {
    let rules = r#"
alert dns any any -> any any (msg:"query"; dns.query; content:"evil.example"; nocase; sid:30;)
alert dns any any -> any 53 (msg:"to 53"; content:"|04|EVIL"; sid:31;)
"#;
    let q = query(0x1234, 0x0100, "www.EVIL.example");
    let on_53 = alerts(rules, &[udp("10.0.0.1:5000", "10.0.0.2:53", &q, 0)]);
    assert_eq!(sids(&on_53), [30, 31]);
    let on_5353 = alerts(rules, &[udp("10.0.0.1:5000", "10.0.0.2:5353", &q, 0)]);
    assert_eq!(sids(&on_5353), [30]);
    // A response does not carry a query for dns.query.
    let response = query(0x1234, 0x8180, "www.evil.example");
    let reply = alerts(rules, &[udp("10.0.0.2:53", "10.0.0.1:5000", &response, 0)]);
    assert!(!reply.contains_key(&30));
}

#[test]
fn alert_dns_does_not_fire_on_other_udp() {
    let rules = r#"
alert dns any any -> any any (msg:"dns content"; content:"evil.example"; sid:40;)
alert udp any any -> any any (msg:"udp content"; content:"evil.example"; sid:41;)
"#;
    let packets = [udp(
        "10.0.0.1:5000",
        "10.0.0.2:53",
        b"hi, evil.example here",
        0,
    )];
    assert_eq!(sids(&alerts(rules, &packets)), [41]);
}

#[test]
fn dns_over_tcp() {
    let rules = r#"alert dns any any -> any any (msg:"tcp query"; dns.query; content:"tcp.example"; sid:50;)"#;
    let q = query(7, 0x0100, "tcp.example");
    let framed = [(q.len() as u16).to_be_bytes().to_vec(), q].concat();
    let mut c = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:53");
    c.handshake().client_sends(&framed, &[5]);
    assert_eq!(sids(&alerts(rules, &c.into_packets())), [50]);
}

/// One rule per protocol, each matching "probe" in the client's data.
const PER_PROTOCOL: &str = r#"
alert ftp any any -> any any (msg:"ftp"; flow:to_server; content:"probe"; sid:61;)
alert smtp any any -> any any (msg:"smtp"; flow:to_server; content:"probe"; sid:62;)
alert smb any any -> any any (msg:"smb"; flow:to_server; content:"probe"; sid:63;)
alert ssh any any -> any any (msg:"ssh"; flow:to_server; content:"probe"; sid:64;)
alert tls any any -> any any (msg:"tls"; flow:to_server; content:"probe"; sid:65;)
"#;

fn client_after_banner(banner: &[u8], client: &[u8]) -> Vec<(Timestamp, Vec<u8>)> {
    let mut c = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:2121");
    c.handshake()
        .server_sends(banner, &[])
        .client_sends(client, &[]);
    c.into_packets()
}

#[test]
fn ftp_and_smtp_are_told_apart_by_the_first_command() {
    let ftp = client_after_banner(b"220 files ready\r\n", b"USER probe\r\n");
    assert_eq!(sids(&alerts(PER_PROTOCOL, &ftp)), [61]);
    let smtp = client_after_banner(b"220 mail ESMTP\r\n", b"EHLO probe\r\n");
    assert_eq!(sids(&alerts(PER_PROTOCOL, &smtp)), [62]);
    // Without the banner neither protocol is detected.
    let mut c = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:21");
    c.handshake().client_sends(b"USER probe\r\n", &[]);
    assert!(alerts(PER_PROTOCOL, &c.into_packets()).is_empty());
}

#[test]
fn smb_and_ssh_detected_on_unusual_ports() {
    let smb = [&[0u8, 0, 0, 0x40][..], b"\xfeSMB", &[0; 8], b"probe"].concat();
    let mut c = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:9445");
    c.handshake().client_sends(&smb, &[]);
    assert_eq!(sids(&alerts(PER_PROTOCOL, &c.into_packets())), [63]);
    let mut c = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:2222");
    c.handshake().client_sends(b"SSH-2.0-probe\r\n", &[]);
    assert_eq!(sids(&alerts(PER_PROTOCOL, &c.into_packets())), [64]);
}

#[test]
fn unknown_tcp_matches_no_app_rule() {
    let mut c = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:22");
    c.handshake()
        .client_sends(b"\x01\x02 probe of a private protocol\r\n", &[])
        .server_sends(b"\x03\x04 probe back\r\n", &[]);
    assert!(alerts(PER_PROTOCOL, &c.into_packets()).is_empty());
}

/// The number after `name=` in the replay summary's counters.
fn summary_counter(summary: &str, name: &str) -> u64 {
    summary
        .split_whitespace()
        .find_map(|word| word.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
        .unwrap_or(0)
}

/// The corpus pcaps replayed with ET Open's Suricata rules (checksums not validated: the
/// captures carry offloaded ones; midstream pickup on): no failure but the corpus's one
/// cut-off capture, TLS and DNS found and their handshakes and queries read, and the TLS and
/// DNS rules that alert printed by sid (`--nocapture` shows them).
#[test]
fn corpus_pcaps_with_et_suricata_rules() {
    let Some(corpus) = corpus() else { return };
    let rules_dir = corpus.join("rulesets/et-open-suricata-4.0");
    let dir = tempfile::tempdir().unwrap();
    let eve = dir.path().join("eve.json");
    let out = nfips()
        .args([
            "replay",
            "--set",
            "checksum-validation=no",
            "--set",
            "stream.midstream=true",
        ])
        .arg("--rules")
        .arg(&rules_dir)
        .arg(corpus.join("pcaps/ndpi"))
        .arg(corpus.join("pcaps/suricata-verify"))
        .arg("--eve")
        .arg(&eve)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error:")).collect();
    assert!(
        errors
            .iter()
            .all(|l| l.contains("the file ends inside this record")),
        "{errors:?}"
    );
    for counter in [
        "app.detected_tls",
        "app.tls_sni",
        "app.tls_certificates",
        "app.detected_dns",
        "app.dns_queries",
    ] {
        assert!(
            summary_counter(&stderr, counter) > 0,
            "{counter} is 0:\n{stderr}"
        );
    }
    let app_rule = |line: &str| {
        ["alert tls", "alert dns"]
            .iter()
            .any(|p| line.starts_with(p))
            || [
                "dns_query;",
                "dns.query;",
                "tls_sni;",
                "tls.sni;",
                "tls_cert_",
            ]
            .iter()
            .any(|k| line.contains(k))
    };
    let app_sids: std::collections::HashSet<u64> = std::fs::read_dir(&rules_dir)
        .unwrap()
        .flatten()
        .flat_map(|f| {
            std::fs::read_to_string(f.path())
                .unwrap_or_default()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|l| app_rule(l))
        .filter_map(|l| {
            l.split("sid:")
                .nth(1)?
                .split(';')
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .collect();
    let mut by_sid: BTreeMap<u64, usize> = BTreeMap::new();
    for line in std::fs::read_to_string(&eve).unwrap_or_default().lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        let sid = record["alert"]["signature_id"].as_u64().unwrap_or(0);
        if app_sids.contains(&sid) {
            *by_sid.entry(sid).or_default() += 1;
        }
    }
    println!("tls/dns rule alerts by sid over the corpus pcaps: {by_sid:?}");
}

/// TLS parser state is charged to `stream.memcap` like HTTP state: with no room for it, it
/// is freed and counted, the traffic still passes, nothing panics; with room, it is read.
#[test]
fn tls_parser_state_is_charged_to_the_stream_memcap() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("tls.rules");
    std::fs::write(
        &rules,
        r#"alert tls any any -> any any (msg:"sni"; tls.sni; content:"memcap.example"; sid:30;)"#,
    )
    .unwrap();
    let pcap = dir.path().join("tls.pcap");
    let mut c = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:443");
    // The ClientHello in small segments: the reader buffers it across packets.
    c.handshake()
        .client_sends(&client_hello(Some("memcap.example")), &[20; 12]);
    c.write_pcap(std::fs::File::create(&pcap).unwrap()).unwrap();
    let run = |memcap: &str| {
        let out = nfips()
            .arg("replay")
            .arg("--rules")
            .arg(&rules)
            .args(["--set", &format!("stream.memcap={memcap}")])
            .arg(&pcap)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let roomy = run("64m");
    assert_eq!(summary_counter(&roomy, "app.memcap_released"), 0, "{roomy}");
    assert_eq!(summary_counter(&roomy, "app.tls_sni"), 1, "{roomy}");
    // Room for the session and its 83 stream bytes, not for the TLS reader's state as well.
    let tight = run("900");
    assert_eq!(summary_counter(&tight, "stream.memcap_drops"), 0, "{tight}");
    assert_eq!(
        summary_counter(&tight, "stream.bytes_reassembled"),
        83,
        "{tight}"
    );
    assert_eq!(
        summary_counter(&tight, "stream.attach_refused"),
        1,
        "{tight}"
    );
    assert_eq!(summary_counter(&tight, "app.memcap_released"), 1, "{tight}");
    assert_eq!(summary_counter(&tight, "app.tls_sni"), 0, "{tight}");
}

#[test]
fn bytes_seen_before_the_protocol_was_known_are_scanned_for_its_rules() {
    // The ClientHello's first two bytes arrive alone: the flow is not known to be TLS until
    // the second segment, so the `alert tls` rule's pattern lies wholly in bytes its group
    // never scanned. The view that reveals the protocol is scanned whole.
    let rules = r#"alert tls any any -> any any (msg:"record header"; flow:established,to_server; content:"|16 03|"; depth:2; sid:1;)"#;
    let hello = client_hello(Some("example.com"));
    let mut c = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:443");
    c.handshake().client_sends(&hello, &[2]);
    assert_eq!(sids(&alerts(rules, &c.into_packets())), [1]);
}
