//! `nfips bench` end to end: what a figure says about how it was taken, and the generated
//! traffic it can save for other tools.

use std::path::Path;

use serde_json::Value;

use crate::util::nfips;

/// Run `nfips bench ARGS`; its stdout (it must succeed).
fn bench(args: &[&str]) -> String {
    let out = nfips().arg("bench").args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "nfips bench {args:?} failed:\n{stderr}"
    );
    String::from_utf8(out.stdout).unwrap()
}

fn bench_json(args: &[&str]) -> Value {
    let stdout = bench(&[&["--json"], args].concat());
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn vars_file(dir: &Path) -> String {
    let path = dir.join("vars.conf");
    std::fs::write(
        &path,
        "ipvar HOME_NET [198.18.2.0/24]\nipvar EXTERNAL_NET !$HOME_NET\n",
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn figures_name_the_home_and_external_net_they_were_taken_with() {
    let dir = tempfile::tempdir().unwrap();
    let vars = vars_file(dir.path());
    let traffic = ["--synthetic", "web", "--megabytes", "1"];

    let with_vars = bench_json(&[&traffic[..], &["--vars", &vars]].concat());
    assert_eq!(with_vars["home_net"], "[198.18.2.0/24]", "{with_vars}");
    assert_eq!(with_vars["external_net"], "!$HOME_NET", "{with_vars}");
    let text = bench(&[&traffic[..], &["--vars", &vars]].concat());
    assert!(
        text.contains("home_net:     [198.18.2.0/24]\n")
            && text.contains("external_net: !$HOME_NET\n"),
        "{text}"
    );

    let without = bench_json(&traffic);
    assert_eq!(without["home_net"], "any", "{without}");
    assert_eq!(without["external_net"], "any", "{without}");
    let text = bench(&traffic);
    assert!(
        text.contains("home_net:     any\n") && text.contains("external_net: any\n"),
        "{text}"
    );
}

#[test]
fn a_saved_gateway_capture_replays_as_the_traffic_it_was_generated_from() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("gateway.pcap");
    let pcap = pcap.to_str().unwrap();
    let generated = bench_json(&[
        "--synthetic",
        "gateway",
        "--megabytes",
        "8",
        "--write-pcap",
        pcap,
    ]);
    let replayed = bench_json(&[pcap]);
    for key in ["packets", "bytes"] {
        assert_eq!(generated[key], replayed[key], "{key}");
    }
    assert!(generated["bytes"].as_u64().unwrap() >= 8 << 20);

    // Every packet decodes and every TCP session is a clean, whole conversation; rules that
    // read the TLS and DNS buffers make nfips parse every handshake and query.
    let rules = dir.path().join("app.rules");
    std::fs::write(
        &rules,
        "alert tls any any -> any any (msg:\"sni\"; tls.sni; content:\".example.\"; sid:1;)\n\
         alert tls any any -> any any (msg:\"cert\"; tls.cert_subject; content:\"CN=\"; sid:2;)\n\
         alert dns any any -> any any (msg:\"query\"; dns.query; content:\"example\"; sid:3;)\n",
    )
    .unwrap();
    let out = nfips()
        .arg("replay")
        .arg("--rules")
        .arg(&rules)
        .arg(pcap)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("decode error 0, stream 0, defrag 0"),
        "{stderr}"
    );
    let counter = |name: &str| -> u64 {
        stderr
            .split_whitespace()
            .find_map(|word| word.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or(0)
    };
    let created = counter("stream.sessions_created");
    assert!(created > 10, "{stderr}");
    assert_eq!(counter("stream.sessions_closed"), created, "{stderr}");
    for anomaly in [
        "stream.sessions_midstream",
        "stream.no_session",
        "stream.retransmissions",
    ] {
        assert_eq!(counter(anomaly), 0, "{anomaly}: {stderr}");
    }
    // Bulk transfers reach stream.depth; no other stream event may happen.
    let events: Vec<&str> = stderr
        .split_whitespace()
        .filter(|w| {
            w.starts_with("event.") && !w.starts_with("event.stream.reassembly_depth_reached=")
        })
        .collect();
    assert!(events.is_empty(), "{events:?}");
    for proto in ["http", "tls", "dns", "smb", "ssh"] {
        assert!(
            counter(&format!("app.detected_{proto}")) > 0,
            "no {proto} flow detected: {stderr}"
        );
    }
    let tls = counter("app.detected_tls");
    for (name, expected) in [
        ("app.tls_sni", tls),
        ("app.tls_certificates", tls),
        ("app.tls_malformed_records", 0),
        ("app.tls_malformed_handshakes", 0),
        ("app.dns_queries", counter("app.detected_dns")),
        ("app.dns_malformed", 0),
    ] {
        assert_eq!(counter(name), expected, "{name}: {stderr}");
    }
    let alerts: u64 = stderr
        .lines()
        .find_map(|line| {
            line.strip_prefix("alerts:")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no alerts line: {stderr}"));
    assert_eq!(alerts, 2 * tls + counter("app.dns_queries"), "{stderr}");
}

#[test]
fn an_unknown_synthetic_kind_names_the_kinds() {
    let out = nfips()
        .args(["bench", "--synthetic", "lan"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("web, mixed, gateway or synflood"),
        "{stderr}"
    );
}
