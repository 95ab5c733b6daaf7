//! HTTP inspection end to end: our own HTTP pcaps (written by `engine::craft::TcpConversation`)
//! through `nfips replay`, with the alerts each must raise, by packet. Every buffer, each URI
//! normalisation case, chunked and gzip/deflate bodies, pipelining, the decompression limit,
//! HTTP on any port, drops on the packet that completes the matching part, the memcap.
//!
//! The corpus part replays the HTTP captures of ../shared/corpus/pcaps with the ET Open rules:
//! it must run clean (exit 0, no panic) with the HTTP counters reported.

use std::collections::BTreeSet;
use std::path::Path;

use nfips_engine::craft::http_body::{chunked, gzip, raw_deflate};
use nfips_engine::craft::TcpConversation;
use nfips_engine::source::pcap::Timestamp;
use serde_json::Value;

use crate::util::{corpus, nfips, write_pcap};

const CLIENT: &str = "10.0.0.1:40000";
const SERVER: &str = "10.0.0.2:8080";

/// What a replay gave: EVE records and the summary on stderr.
struct Replay {
    eve: Vec<Value>,
    stderr: String,
}

impl Replay {
    /// (pcap_cnt, sid) of every alert record, in order.
    fn alerts(&self) -> Vec<(u64, u64)> {
        self.eve
            .iter()
            .filter(|r| r["event_type"] == "alert")
            .map(|r| {
                (
                    r["pcap_cnt"].as_u64().unwrap_or(0),
                    r["alert"]["signature_id"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }

    fn sids(&self) -> BTreeSet<u64> {
        self.alerts().into_iter().map(|(_, sid)| sid).collect()
    }

    /// (pcap_cnt, reason) of every drop record.
    fn drops(&self) -> Vec<(u64, String)> {
        self.eve
            .iter()
            .filter(|r| r["event_type"] == "drop")
            .map(|r| {
                (
                    r["pcap_cnt"].as_u64().unwrap_or(0),
                    r["drop"]["reason"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// A counter of the summary (`http.requests=2`), 0 when it did not move.
    fn counter(&self, name: &str) -> u64 {
        self.stderr
            .split_whitespace()
            .find_map(|word| word.strip_prefix(name)?.strip_prefix('='))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    }
}

/// Write the conversation and the rules into a temp dir and replay them.
fn replay(conversation: &TcpConversation, rules: &[String], settings: &[&str]) -> Replay {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("http.pcap");
    conversation
        .write_pcap(std::fs::File::create(&pcap).unwrap())
        .unwrap();
    let rules_path = dir.path().join("http.rules");
    std::fs::write(&rules_path, rules.join("\n") + "\n").unwrap();
    replay_files(&pcap, &rules_path, settings)
}

fn replay_files(pcap: &Path, rules: &Path, settings: &[&str]) -> Replay {
    let dir = tempfile::tempdir().unwrap();
    let eve = dir.path().join("eve.json");
    let mut command = nfips();
    command.arg("replay").arg("--rules").arg(rules);
    for setting in settings {
        command.args(["--set", setting]);
    }
    let output = command.arg("--eve").arg(&eve).arg(pcap).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "replay failed:\n{stderr}");
    assert!(
        stderr.contains(" 0 unsupported, 0 with errors"),
        "every test rule must load:\n{stderr}"
    );
    let eve = std::fs::read_to_string(&eve)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Replay { eve, stderr }
}

/// `alert tcp any any -> any any (OPTIONS sid:SID;)`.
fn alert(sid: u64, options: &str) -> String {
    format!("alert tcp any any -> any any (msg:\"{sid}\"; {options} sid:{sid};)")
}

fn drop_rule(sid: u64, options: &str) -> String {
    format!("drop tcp any any -> any any (msg:\"{sid}\"; {options} sid:{sid};)")
}

fn conversation() -> TcpConversation {
    let mut conversation = TcpConversation::new(CLIENT, SERVER);
    conversation.handshake();
    conversation
}

/// Rules `(sid, options)` that must fire and rules that must not, checked together.
fn assert_fires(run: &Replay, fire: &[(u64, &str)], silent: &[(u64, &str)]) {
    let sids = run.sids();
    for (sid, options) in fire {
        assert!(
            sids.contains(sid),
            "sid {sid} ({options}) did not fire; fired: {sids:?}"
        );
    }
    for (sid, options) in silent {
        assert!(
            !sids.contains(sid),
            "sid {sid} ({options}) fired; fired: {sids:?}"
        );
    }
}

fn rules_of(cases: &[&[(u64, &str)]]) -> Vec<String> {
    cases
        .iter()
        .flat_map(|list| list.iter())
        .map(|(sid, options)| alert(*sid, options))
        .collect()
}

#[test]
fn every_request_buffer_matches_only_its_own_bytes() {
    let mut conversation = conversation();
    conversation.client_sends(
        b"POST /a//b/../c%2e%2ephp?x=%3Cs%3E HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: evil-agent\r\nCookie: s=%41\r\nX-Tag: hdr-value\r\nContent-Length: 9\r\n\r\nbody=data",
        &[],
    );
    let fire: &[(u64, &str)] = &[
        (1, r#"content:"POST"; http_method;"#),
        (2, r#"content:"/a/c..php?x=<s>"; http_uri;"#),
        (3, r#"uricontent:"/a/c..php";"#),
        (
            4,
            r#"content:"/a//b/../c%2e%2ephp?x=%3Cs%3E"; http_raw_uri;"#,
        ),
        (5, r#"content:"hdr-value"; http_header;"#),
        (6, r#"content:"X-Tag: hdr-value|0d 0a|"; http_raw_header;"#),
        (7, r#"content:"s=A"; http_cookie;"#),
        (8, r#"content:"s=%41"; http_raw_cookie;"#),
        (9, r#"content:"body=data"; http_client_body;"#),
        (
            10,
            r#"content:"example.com"; http_host; isdataat:!1,relative;"#,
        ),
        (11, r#"content:"Example.COM:8080"; http_raw_host;"#),
        (12, r#"content:"evil-agent"; http_user_agent;"#),
        (13, r#"http_header_names; content:"|0d 0a|X-Tag|0d 0a|";"#),
        (
            14,
            r#"http_request_line; content:"POST /a//b/../c%2e%2ephp?x=%3Cs%3E HTTP/1.1";"#,
        ),
        (15, r#"http_protocol; content:"HTTP/1.1";"#),
        (16, r#"http.uri; content:"x=<s>";"#),
        (17, r#"http.uri.raw; content:"%3Cs%3E";"#),
        (18, r#"http.method; content:"POST";"#),
        (19, r#"http.header; content:"hdr-value";"#),
        (20, r#"http.header.raw; content:"Cookie: s=%41";"#),
        (21, r#"http.cookie; content:"s=A";"#),
        (22, r#"http.user_agent; content:"evil-agent";"#),
        (23, r#"http.host; content:"example.com";"#),
        (24, r#"http.request_body; content:"body=data";"#),
        (25, r#"http.header_names; content:"User-Agent";"#),
        (26, r#"http.request_line; content:"POST /a//b";"#),
        (27, r#"http.protocol; content:"HTTP/1.1";"#),
        (28, "urilen:15;"),
        (29, "urilen:>10,norm;"),
        (30, r#"pcre:"/c\.\.php\?x=<s>$/U";"#),
        (31, r#"pcre:"/%2e%2ephp/I";"#),
        (32, r#"pcre:"/^X-Tag:\s*hdr-value\r?$/mH";"#),
        (33, r#"pcre:"/^X-Tag: hdr-value\r?$/mD";"#),
        (34, r#"pcre:"/^s=A$/C";"#),
        (35, r#"pcre:"/^s=%41$/K";"#),
        (36, r#"pcre:"/^POST$/M";"#),
        (37, r#"pcre:"/^body=data$/P";"#),
        (
            38,
            r#"content:"/a/"; http_uri; depth:3; content:"php"; http_uri; distance:0; within:9;"#,
        ),
        (
            39,
            r#"content:"EVIL-AGENT"; nocase; http_user_agent; fast_pattern;"#,
        ),
        (40, r#"http.host.raw; content:"Example.COM:8080";"#),
        (41, r#"http.cookie.raw; content:"s=%41";"#),
        (
            42,
            r#"http.start; content:"POST /a//b/"; content:"|0d 0a|Host: Example.COM:8080|0d 0a|";"#,
        ),
    ];
    let silent: &[(u64, &str)] = &[
        // Each value searched in a buffer that does not hold it.
        (101, r#"content:"evil-agent"; http_uri;"#),
        (102, r#"content:"%2e%2e"; http_uri;"#),
        (103, r#"content:"/a/c..php"; http_raw_uri;"#),
        (104, r#"content:"s=%41"; http_header;"#),
        (105, r#"content:"body=data"; http_header;"#),
        (106, r#"content:"POST"; http_uri;"#),
        (107, r#"content:"Example.COM"; http_host;"#),
        (108, r#"content:"hdr-value"; http_client_body;"#),
        (109, "urilen:14;"),
        (110, r#"content:"/c"; http_uri; depth:2;"#),
        (111, r#"content:"EVIL-AGENT"; http_user_agent;"#),
        (
            112,
            r#"content:"example.com"; http_host; content:"POST"; http_client_body;"#,
        ),
    ];
    let run = replay(&conversation, &rules_of(&[fire, silent]), &[]);
    assert_fires(&run, fire, silent);
    assert_eq!(run.counter("http.requests"), 1, "{}", run.stderr);
}

#[test]
fn every_response_buffer_matches_only_its_own_bytes() {
    let mut conversation = conversation();
    conversation.client_sends(b"GET /dl.php HTTP/1.1\r\nHost: h\r\n\r\n", &[]);
    conversation.server_sends(
        b"HTTP/1.1 404 Not Found\r\nSet-Cookie: sess=%41%42\r\nServer: srv-x\r\nContent-Length: 12\r\n\r\n<html>x</ht>",
        &[],
    );
    let fire: &[(u64, &str)] = &[
        (1, r#"content:"404"; http_stat_code;"#),
        (2, r#"content:"Not Found"; http_stat_msg;"#),
        (3, r#"file_data; content:"<html>x</ht>";"#),
        (4, r#"file.data; content:"<html>";"#),
        (5, r#"http.response_body; content:"x</ht>";"#),
        (6, r#"http.stat_code; content:"404";"#),
        (7, r#"http.stat_msg; content:"Not Found";"#),
        (
            8,
            r#"http.response_line; content:"HTTP/1.1 404 Not Found";"#,
        ),
        (9, r#"http_response_line; content:"404 Not";"#),
        (10, r#"content:"sess=AB"; http_cookie;"#),
        (11, r#"content:"sess=%41%42"; http_raw_cookie;"#),
        (12, r#"flow:to_client; content:"srv-x"; http_header;"#),
        (
            13,
            r#"flow:to_client; content:"404"; http_stat_code; content:"/dl.php"; http_uri;"#,
        ),
        (14, r#"pcre:"/^404$/S";"#),
        (15, r#"pcre:"/^Not\s+Found$/Y";"#),
        (16, r#"http.server; content:"srv-x"; isdataat:!1,relative;"#),
        (17, r#"http.content_len; content:"12";"#),
    ];
    let silent: &[(u64, &str)] = &[
        (101, r#"content:"Not Found"; http_stat_code;"#),
        (102, r#"content:"srv-x"; http_stat_msg;"#),
        (103, r#"file_data; content:"Set-Cookie";"#),
        (104, r#"content:"<html>"; http_client_body;"#),
        (105, r#"flow:to_server; content:"404"; http_stat_code;"#),
    ];
    let run = replay(&conversation, &rules_of(&[fire, silent]), &[]);
    assert_fires(&run, fire, silent);
    assert_eq!(run.counter("http.responses"), 1);
}

#[test]
fn uri_normalisation_cases_match_the_normalised_form_and_are_counted() {
    // (request URI, normalised form a rule must find, the raw piece http_raw_uri keeps, counter)
    let cases: &[(&str, &str, &str, &str)] = &[
        ("/%65vil/%70age", "/evil/page", "%65vil", ""),
        ("/x/%u0041dmin", "/x/Admin", "%u0041", "http.uri_percent_u"),
        (
            "/y/%252e%252e/etc",
            "/etc",
            "%252e",
            "http.uri_double_encoding",
        ),
        ("/z/./a/./b", "/z/a/b", "/./", ""),
        ("/q/w/../e", "/q/e", "/../", ""),
        ("/r//s///t", "/r/s/t", "//", ""),
        ("/u\\v\\w", "/u/v/w", "\\", "http.uri_backslash"),
        ("/../../root", "/root", "/../../", "http.uri_above_root"),
        ("/bad%zzesc", "/bad%zzesc", "%zz", "http.uri_bad_escape"),
    ];
    for (index, (uri, normalised, raw, counter)) in cases.iter().enumerate() {
        let mut conversation = conversation();
        conversation.client_sends(format!("GET {uri} HTTP/1.1\r\n\r\n").as_bytes(), &[]);
        let quoted = |s: &str| s.replace('\\', "|5c|");
        let rules = vec![
            alert(
                1,
                &format!(r#"content:"{}"; http_uri;"#, quoted(normalised)),
            ),
            alert(2, &format!(r#"content:"{}"; http_raw_uri;"#, quoted(raw))),
            alert(3, &format!(r#"content:"{}"; http_uri;"#, quoted(raw))),
        ];
        let run = replay(&conversation, &rules, &[]);
        let sids = run.sids();
        assert!(
            sids.contains(&1),
            "case {index} {uri}: normalised {normalised} not found"
        );
        assert!(sids.contains(&2), "case {index} {uri}: raw {raw} not kept");
        if normalised != uri {
            assert!(
                !sids.contains(&3),
                "case {index} {uri}: raw {raw} left in the normalised URI"
            );
        }
        if !counter.is_empty() {
            assert_eq!(run.counter(counter), 1, "case {index} {uri}: {counter}");
        }
    }
}

#[test]
fn chunked_gzip_and_deflate_bodies_are_decoded_for_file_data() {
    // Repetitive, so gzip and deflate really compress it (a stored block would be plain text).
    let page = b"<html><script>var shellcode=unescape('%u9090');</script></html>".repeat(8);
    let page = page.as_slice();
    let bodies: [(&str, Vec<u8>, &str); 3] = [
        (
            "chunked gzip",
            chunked(&gzip(page), 7),
            "Transfer-Encoding: chunked\r\nContent-Encoding: gzip",
        ),
        ("deflate", raw_deflate(page), "Content-Encoding: deflate"),
        (
            "chunked plain",
            chunked(page, 5),
            "Transfer-Encoding: chunked",
        ),
    ];
    for (name, body, headers) in bodies {
        let mut conversation = conversation();
        conversation.client_sends(b"GET / HTTP/1.1\r\n\r\n", &[]);
        let mut response = format!("HTTP/1.1 200 OK\r\n{headers}\r\n").into_bytes();
        if !headers.contains("chunked") {
            response.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        response.extend_from_slice(b"\r\n");
        response.extend_from_slice(&body);
        // Segments cut through the chunk framing and the compressed stream.
        conversation.server_sends(&response, &[30, 9, 9, 9, 9, 9]);
        let rules = vec![
            alert(
                1,
                r#"file_data; content:"shellcode=unescape"; content:"%u9090"; distance:0;"#,
            ),
            // The bytes on the wire: compressed or framed, never the page as one run.
            alert(2, r#"flow:to_client; content:"shellcode=unescape";"#),
        ];
        let run = replay(&conversation, &rules, &[]);
        let sids = run.sids();
        assert!(
            sids.contains(&1),
            "{name}: file_data missed the decoded page"
        );
        if name != "chunked plain" {
            assert!(
                !sids.contains(&2),
                "{name}: the compressed bytes matched as text"
            );
        }
    }
}

#[test]
fn pipelined_requests_and_responses_pair_up() {
    let mut conversation = conversation();
    conversation.client_sends(
        b"GET /ok HTTP/1.1\r\n\r\nHEAD /head HTTP/1.1\r\n\r\nGET /bad HTTP/1.1\r\n\r\n",
        &[],
    );
    // The HEAD response has a Content-Length but no body: the next bytes are a status line.
    conversation.server_sends(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nHTTP/1.1 403 Nope\r\nContent-Length: 4\r\n\r\ndeny",
        &[],
    );
    let rules = vec![
        alert(1, r#"content:"/bad"; http_uri;"#),
        alert(
            2,
            r#"flow:to_client; content:"/bad"; http_uri; content:"403"; http_stat_code;"#,
        ),
        alert(
            3,
            r#"flow:to_client; content:"/ok"; http_uri; content:"403"; http_stat_code;"#,
        ),
        alert(4, r#"file_data; content:"deny";"#),
    ];
    let run = replay(&conversation, &rules, &[]);
    assert_fires(
        &run,
        &[(1, "/bad"), (2, "/bad -> 403"), (4, "deny")],
        &[(3, "/ok -> 403")],
    );
    assert_eq!(run.counter("http.requests"), 3);
    assert_eq!(run.counter("http.responses"), 3);
}

#[test]
fn thousand_to_one_gzip_body_stays_under_the_decompression_limit_and_is_counted() {
    let mut conversation = conversation();
    conversation.client_sends(b"GET /bomb HTTP/1.1\r\n\r\n", &[]);
    let mut plain = b"HEADMARK".to_vec();
    plain.resize(4_000_000, b'A');
    plain.extend_from_slice(b"TAILMARK");
    let body = gzip(&plain);
    assert!(
        body.len() * 1000 <= plain.len(),
        "ratio {} below 1000:1",
        plain.len() / body.len()
    );
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    conversation.server_sends(&response, &[]);
    let rules = vec![
        alert(1, r#"file_data; content:"HEADMARK"; depth:8;"#),
        // Past http.response-body-depth (64 KiB): never decompressed.
        alert(2, r#"file_data; content:"TAILMARK";"#),
    ];
    let run = replay(&conversation, &rules, &[]);
    assert_fires(&run, &[(1, "head")], &[(2, "tail past the limit")]);
    assert_eq!(
        run.counter("http.response_body_depth_reached"),
        1,
        "{}",
        run.stderr
    );
    // The limit is a setting: with 4 bytes kept, "HEADMARK" is cut too.
    let small = replay(&conversation, &rules, &["http.response-body-depth=4"]);
    assert!(small.sids().is_empty());
    assert_eq!(small.counter("http.response_body_depth_reached"), 1);
}

#[test]
fn http_is_found_by_content_on_any_port_and_not_on_port_80_by_port() {
    for server in ["10.0.0.2:80", "10.0.0.2:8080", "10.0.0.2:31337"] {
        let mut conversation = TcpConversation::new(CLIENT, server);
        conversation
            .handshake()
            .client_sends(b"GET /anyport HTTP/1.1\r\n\r\n", &[]);
        let run = replay(
            &conversation,
            &[alert(1, r#"content:"/anyport"; http_uri;"#)],
            &[],
        );
        assert_eq!(run.sids(), BTreeSet::from([1]), "{server}");
    }
    let mut tls_on_80 = TcpConversation::new(CLIENT, "10.0.0.2:80");
    tls_on_80
        .handshake()
        .client_sends(b"\x16\x03\x01\x00\x05GET /x HTTP/1.1\r\n\r\n", &[]);
    let run = replay(&tls_on_80, &[alert(1, r#"content:"/x"; http_uri;"#)], &[]);
    assert!(run.sids().is_empty());
    assert_eq!(run.counter("http.not_http"), 1, "{}", run.stderr);
}

#[test]
fn alert_http_header_protocol_applies_only_where_http_was_found() {
    let mut http = conversation();
    http.client_sends(b"GET /p HTTP/1.1\r\nX: marker\r\n\r\n", &[]);
    let mut other = conversation();
    other.client_sends(b"HELLO marker\r\n", &[]);
    let rule = r#"alert http any any -> any any (msg:"h"; content:"marker"; sid:1;)"#.to_string();
    assert_eq!(
        replay(&http, std::slice::from_ref(&rule), &[]).sids(),
        BTreeSet::from([1])
    );
    assert!(replay(&other, &[rule], &[]).sids().is_empty());
}

#[test]
fn drop_on_uri_or_headers_drops_the_packet_completing_them_not_the_body() {
    let mut conversation = conversation();
    // Packets 1-3 handshake; 4 "GET /e", 5 "vil.php HT", 6 "TP/1.1\r\nX-A", 7 "tk: yes\r\n\r\n",
    // then the body (it never gets there: the flow is dropped).
    conversation.client_sends(
        b"GET /evil.php HTTP/1.1\r\nX-Atk: yes\r\nContent-Length: 5\r\n\r\nhello",
        &[6, 10, 10, 32],
    );
    let uri = drop_rule(1, r#"content:"/evil.php"; http_uri;"#);
    let by_uri = replay(&conversation, &[uri], &[]);
    assert_eq!(by_uri.alerts(), [(6, 1)]);
    assert_eq!(by_uri.drops().first(), Some(&(6, "rules".to_string())));
    let header = drop_rule(2, r#"content:"X-Atk|3a 20|yes"; http_raw_header;"#);
    let by_header = replay(&conversation, &[header], &[]);
    assert_eq!(by_header.alerts(), [(7, 2)]);
    assert_eq!(by_header.drops().first(), Some(&(7, "rules".to_string())));
}

#[test]
fn http_state_is_charged_to_the_stream_memcap() {
    // A header block far larger than the memcap leaves: the parser state cannot be attached,
    // it is freed and counted, the packets still pass and nothing panics.
    let mut conversation = conversation();
    let mut request = b"GET /big HTTP/1.1\r\n".to_vec();
    for i in 0..400 {
        request.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(40)).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    conversation.client_sends(&request, &[1400; 16]);
    let rules = vec![alert(1, r#"content:"/big"; http_uri;"#)];
    let tight = replay(&conversation, &rules, &["stream.memcap=12k"]);
    assert!(
        tight.counter("stream.attach_refused") >= 1,
        "{}",
        tight.stderr
    );
    let roomy = replay(&conversation, &rules, &[]);
    assert_eq!(roomy.counter("stream.attach_refused"), 0);
    assert_eq!(roomy.sids(), BTreeSet::from([1]));
}

#[test]
fn closed_sessions_give_their_http_state_and_buffers_back_to_the_memcap() {
    // Ten sessions one after another, each with a 30 KB body that file_data keeps: the memcap
    // holds two at a time, so the sessions must free everything when they close (not at the
    // closed-state timeout), or later ones are truncated, pruned or refused their HTTP state.
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("sessions.pcap");
    let mut packets = Vec::new();
    let mut response = b"HTTP/1.1 200 OK\r\nContent-Length: 30000\r\n\r\n".to_vec();
    response.extend(std::iter::repeat_n(b'z', 29_996));
    response.extend_from_slice(b"END!");
    for session in 0..10u64 {
        let mut conversation =
            TcpConversation::new(&format!("10.0.0.1:{}", 41_000 + session), SERVER);
        conversation.handshake();
        conversation.client_sends(b"GET /f HTTP/1.1\r\nHost: a\r\n\r\n", &[]);
        conversation.server_sends(&response, &[1400]);
        conversation.close();
        packets.extend(conversation.into_packets().into_iter().map(|(ts, frame)| {
            (
                Timestamp::new(ts.secs + session, u64::from(ts.nanos)),
                frame,
            )
        }));
    }
    write_pcap(&pcap, &packets);
    let rules_path = dir.path().join("http.rules");
    let rule = alert(
        1,
        r#"content:"/f"; http_uri; file_data; content:"END!"; distance:29990;"#,
    );
    std::fs::write(&rules_path, rule + "\n").unwrap();
    let run = replay_files(&pcap, &rules_path, &["stream.memcap=110k"]);
    assert_eq!(run.alerts().len(), 10, "{}", run.stderr);
    for counter in [
        "stream.sessions_pruned",
        "stream.attach_refused",
        "stream.memcap_drops",
    ] {
        assert_eq!(run.counter(counter), 0, "{counter}: {}", run.stderr);
    }
}

#[test]
fn malformed_http_is_counted_never_fatal() {
    let mut conversation = conversation();
    conversation.client_sends(b"GET /a HTTP/1.1\r\nContent-Length: zz\r\n\r\n", &[]);
    conversation.server_sends(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnot-hex\r\n",
        &[],
    );
    let run = replay(
        &conversation,
        &[alert(1, r#"content:"/a"; http_uri;"#)],
        &[],
    );
    assert_eq!(run.sids(), BTreeSet::from([1]));
    assert_eq!(run.counter("http.bad_content_length"), 1, "{}", run.stderr);
    assert_eq!(run.counter("http.bad_chunk_size"), 1, "{}", run.stderr);
}

/// The corpus HTTP captures with all ET Open rules: a clean run, HTTP parsed and counted.
#[test]
fn corpus_http_pcaps_replay_clean_with_et_open() {
    let Some(corpus) = corpus() else { return };
    let rules = corpus.join("rulesets/et-open-snort-2.9.0");
    let pcaps = corpus.join("pcaps/suricata-verify");
    let mut command = nfips();
    command.arg("replay").arg("--rules").arg(&rules).arg(&pcaps);
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let summary = Replay {
        eve: Vec::new(),
        stderr: stderr.clone(),
    };
    assert!(summary.counter("http.requests") > 0, "{stderr}");
    assert!(summary.counter("http.responses") > 0, "{stderr}");
}

#[test]
fn byte_options_read_the_response_body() {
    let mut conversation = conversation();
    conversation.client_sends(b"GET /a.exe HTTP/1.1\r\n\r\n", &[]);
    // "MZ", a little-endian 0x0090, a one-byte length 3 and a 3-byte field, then "PE".
    let body = b"MZ\x90\x00\x03abcPE";
    let mut response =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    response.extend_from_slice(body);
    conversation.server_sends(&response, &[]);
    let fire: &[(u64, &str)] = &[
        (
            1,
            r#"file_data; content:"MZ"; depth:2; byte_test:2,=,144,0,relative,little;"#,
        ),
        (
            2,
            r#"file_data; content:"MZ"; byte_jump:1,2,relative; content:"PE"; within:2;"#,
        ),
        (
            3,
            r#"file_data; byte_extract:1,4,len; content:"PE"; distance:len; within:2;"#,
        ),
    ];
    let silent: &[(u64, &str)] = &[
        (
            101,
            r#"file_data; content:"MZ"; depth:2; byte_test:2,=,144,0,relative;"#,
        ),
        (
            102,
            r#"file_data; content:"MZ"; byte_jump:1,1,relative; content:"PE"; within:2;"#,
        ),
    ];
    let run = replay(&conversation, &rules_of(&[fire, silent]), &[]);
    assert_fires(&run, fire, silent);
}
