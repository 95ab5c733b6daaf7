//! `nfips replay` end to end: outputs, verdicts, tuning, `--expect`, malformed input.

use std::path::{Path, PathBuf};

use nfips_engine::craft::PacketBuilder;
use nfips_engine::decode::LinkType;
use nfips_engine::source::pcap::{PcapWriter, Timestamp};
use serde_json::Value;

use crate::util::{corpus, nfips};

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("demo")
}

struct Run {
    code: i32,
    stderr: String,
    eve: Vec<Value>,
    fast: String,
}

/// Run `nfips replay ARGS --eve --fast` in a temp dir.
fn replay(args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (eve, fast) = (dir.path().join("eve.json"), dir.path().join("fast.log"));
    let out = nfips()
        .arg("replay")
        .args(args)
        .arg("--eve")
        .arg(&eve)
        .arg("--fast")
        .arg(&fast)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        eve: std::fs::read_to_string(&eve)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad EVE line {l}: {e}")))
            .collect(),
        fast: std::fs::read_to_string(&fast).unwrap_or_default(),
    }
}

/// The replay failed (exit 1) and said `needle` on stderr.
fn assert_fails_with(run: &Run, needle: &str) {
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(needle),
        "stderr lacks {needle:?}:\n{}",
        run.stderr
    );
}

fn demo_args() -> Vec<String> {
    let d = demo();
    vec![
        "--rules".into(),
        d.join("demo.rules").display().to_string(),
        d.join("demo.pcap").display().to_string(),
    ]
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn of_type<'a>(eve: &'a [Value], event_type: &str) -> Vec<&'a Value> {
    eve.iter()
        .filter(|r| r["event_type"] == event_type)
        .collect()
}

fn alerts_for(eve: &[Value], sid: u64) -> Vec<&Value> {
    eve.iter()
        .filter(|r| r["event_type"] == "alert" && r["alert"]["signature_id"] == sid)
        .collect()
}

/// A pcap of raw-IP packets, one second apart from 1,700,000,000 s.
fn write_pcap(dir: &Path, name: &str, packets: &[Vec<u8>]) -> PathBuf {
    let path = dir.join(name);
    let mut writer =
        PcapWriter::new(std::fs::File::create(&path).unwrap(), LinkType::RawIp).unwrap();
    for (i, p) in packets.iter().enumerate() {
        writer
            .write_packet(Timestamp::new(1_700_000_000 + i as u64, 0), p)
            .unwrap();
    }
    writer.finish().unwrap();
    path
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A temp dir with `r.rules` holding `rules` and `one.pcap` holding one UDP packet.
fn one_packet_case(payload: &[u8], rules: &str) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let pcap = write_pcap(dir.path(), "one.pcap", &[udp(payload)]);
    let rules = write(dir.path(), "r.rules", rules);
    (dir, rules, pcap.display().to_string())
}

fn udp(payload: &[u8]) -> Vec<u8> {
    PacketBuilder::udp("10.1.1.1:5000", "10.2.2.2:53")
        .payload(payload)
        .build()
}

#[test]
fn without_arguments_replays_the_bundled_demo_with_a_summary() {
    let out = nfips().arg("replay").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for needle in [
        "bundled demo",
        "packets:",
        "flows:",
        "verdicts:",
        "alerts:",
        "packets/s",
        "Mbit/s",
        "DEMO WEB path traversal",
    ] {
        assert!(
            stderr.contains(needle),
            "summary lacks {needle:?}:\n{stderr}"
        );
    }
}

#[test]
fn demo_drops_the_traversal_and_then_its_flow() {
    let run = replay(&args(&demo_args()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let drops = of_type(&run.eve, "drop");
    let by_rule: Vec<_> = drops
        .iter()
        .filter(|d| d["drop"]["reason"] == "rules" && d["alert"]["signature_id"] == 1000001)
        .collect();
    assert_eq!(by_rule.len(), 1, "{drops:#?}");
    let flow_id = &by_rule[0]["flow_id"];
    let flow_drops = drops
        .iter()
        .filter(|d| d["drop"]["reason"] == "flow drop" && &d["flow_id"] == flow_id)
        .count();
    assert!(
        flow_drops >= 2,
        "later packets of the flow are dropped: {drops:#?}"
    );
    let traversal = alerts_for(&run.eve, 1000001);
    assert_eq!(traversal.len(), 1);
    assert_eq!(traversal[0]["alert"]["action"], "blocked");
}

#[test]
fn reject_is_recorded_not_sent() {
    let run = replay(&args(&demo_args()));
    let rejected: Vec<_> = of_type(&run.eve, "drop")
        .into_iter()
        .filter(|d| d["alert"]["signature_id"] == 1000002)
        .collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["verdict"]["reject"][0], "tcp-reset");
    assert_eq!(rejected[0]["verdict"]["reject-target"], "both");
    assert!(run.stderr.contains("rejected 1"), "{}", run.stderr);
}

#[test]
fn pass_rule_silences_its_flow() {
    let run = replay(&args(&demo_args()));
    let backup = run
        .eve
        .iter()
        .filter(|r| r["src_ip"] == "192.168.1.30" || r["dest_ip"] == "192.168.1.30")
        .count();
    assert_eq!(
        backup, 0,
        "the trusted backup flow must not alert although it carries /etc/passwd"
    );
    assert_eq!(
        alerts_for(&run.eve, 1000004).len(),
        1,
        "only the traversal carries /etc/passwd outside the pass"
    );
}

#[test]
fn eve_alert_and_drop_records_validate_against_suricatas_schema() {
    let Some(corpus) = corpus() else { return };
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(corpus.join("suricata-eve-schema/schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    // The demo (alerts, rule drops, flow drops, a TCP reject), a UDP reject, decode-error drops.
    let mut eve = replay(&args(&demo_args())).eve;
    let (_dir, rules, pcap) = one_packet_case(
        b"attack",
        "reject udp any any -> any any (msg:\"r\"; content:\"attack\"; sid:1;)\n",
    );
    eve.extend(replay(&["--rules", &rules, &pcap]).eve);
    let dir = tempfile::tempdir().unwrap();
    let broken = write_pcap(dir.path(), "bad.pcap", &[Vec::new(), vec![0x45, 0, 0]]);
    eve.extend(
        replay(&[
            "--set",
            "decode-error-verdict=drop",
            &broken.display().to_string(),
        ])
        .eve,
    );
    let checked: Vec<_> = eve
        .iter()
        .filter(|r| r["event_type"] == "alert" || r["event_type"] == "drop")
        .collect();
    assert!(checked.len() >= 20, "{}", checked.len());
    for record in checked {
        let errors: Vec<String> = validator
            .iter_errors(record)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{record}: {errors:?}");
    }
}

#[test]
fn eve_fields_carry_suricatas_names_and_formats() {
    let run = replay(&args(&demo_args()));
    let dns = alerts_for(&run.eve, 1000005);
    assert_eq!(dns.len(), 1);
    let r = dns[0];
    assert_eq!(r["proto"], "UDP");
    assert_eq!(
        (r["src_ip"].as_str(), r["dest_port"].as_u64()),
        (Some("192.168.1.10"), Some(53))
    );
    assert_eq!(r["alert"]["category"], "A Network Trojan was detected");
    assert!(r["pcap_cnt"].as_u64().is_some_and(|n| n > 0));
    let ts = r["timestamp"].as_str().unwrap();
    assert!(
        ts.starts_with("2023-11-14T22:13:24.") && ts.ends_with("+0000") && ts.len() == 31,
        "{ts}"
    );
    let ping = alerts_for(&run.eve, 1000006);
    assert_eq!(ping[0]["proto"], "ICMP");
    assert_eq!(ping[0]["icmp_type"], 8);
}

#[test]
fn fast_log_lines_use_the_dated_snort_format() {
    let run = replay(&args(&demo_args()));
    let line = run
        .fast
        .lines()
        .find(|l| l.contains("[1:1000001:1]"))
        .unwrap_or_else(|| panic!("{}", run.fast));
    let (stamp, rest) = line.split_at(26);
    assert!(
        stamp.starts_with("11/14/2023-22:13:2") && stamp.as_bytes()[19] == b'.',
        "{line}"
    );
    assert_eq!(
        rest,
        "  [Drop] [**] [1:1000001:1] DEMO WEB path traversal to /etc/passwd [**] [Classification: Web Application Attack] [Priority: 1] {TCP} 203.0.113.66:40000 -> 192.168.1.20:80"
    );
    let dns = run
        .fast
        .lines()
        .find(|l| l.contains("[1:1000005:1]"))
        .unwrap();
    assert!(
        !dns.contains("[Drop]") && dns.ends_with("{UDP} 192.168.1.10:53000 -> 192.168.1.1:53"),
        "{dns}"
    );
}

#[test]
fn ids_mode_turns_drops_into_allowed_alerts() {
    let mut a = demo_args();
    a.insert(0, "--ids".into());
    let run = replay(&args(&a));
    assert!(of_type(&run.eve, "drop").is_empty());
    let traversal = alerts_for(&run.eve, 1000001);
    assert_eq!(traversal.len(), 1);
    assert_eq!(traversal[0]["alert"]["action"], "allowed");
    assert!(
        run.stderr.contains("dropped 0 "),
        "nothing is dropped in IDS mode: {}",
        run.stderr
    );
}

#[test]
fn action_order_decides_between_pass_and_drop() {
    let (_dir, rules, pcap) = one_packet_case(b"attack", "drop udp any any -> any any (msg:\"d\"; content:\"attack\"; sid:1;)\npass udp any any -> any any (msg:\"p\"; content:\"attack\"; sid:2;)\nalert udp any any -> any any (msg:\"a\"; content:\"attack\"; sid:3;)\n");
    let default = replay(&["--rules", &rules, &pcap]);
    assert!(
        default.eve.is_empty(),
        "pass first: nothing logged, nothing dropped: {:?}",
        default.eve
    );
    let drop_first = replay(&[
        "--rules",
        &rules,
        "--set",
        "action-order=drop,pass,reject,alert",
        &pcap,
    ]);
    assert_eq!(of_type(&drop_first.eve, "drop").len(), 1);
    assert_eq!(alerts_for(&drop_first.eve, 1).len(), 1);
    assert_eq!(
        alerts_for(&drop_first.eve, 3).len(),
        0,
        "the pass after the drop ends alerting"
    );
    let alert_first = replay(&[
        "--rules",
        &rules,
        "--set",
        "action-order=alert,drop,reject,pass",
        &pcap,
    ]);
    assert_eq!(alerts_for(&alert_first.eve, 3).len(), 1);
    assert_eq!(
        alerts_for(&alert_first.eve, 1)[0]["alert"]["action"],
        "blocked"
    );
}

#[test]
fn sdrop_drops_without_an_alert() {
    let (_dir, rules, pcap) = one_packet_case(
        b"attack",
        "sdrop udp any any -> any any (msg:\"s\"; content:\"attack\"; sid:1;)\n",
    );
    let run = replay(&["--rules", &rules, &pcap]);
    assert!(of_type(&run.eve, "alert").is_empty());
    let drops = of_type(&run.eve, "drop");
    assert_eq!(drops.len(), 1, "the packet is still dropped and counted");
    assert!(
        drops[0].get("alert").is_none(),
        "sdrop names no rule: {}",
        drops[0]
    );
}

#[test]
fn detection_filter_and_threshold_count_in_packet_time() {
    let dir = tempfile::tempdir().unwrap();
    // Six packets one second apart (pcap time), then one 100 s later.
    let mut packets: Vec<Vec<u8>> = (0..6).map(|_| udp(b"probe")).collect();
    let pcap_path = dir.path().join("t.pcap");
    let mut writer =
        PcapWriter::new(std::fs::File::create(&pcap_path).unwrap(), LinkType::RawIp).unwrap();
    for (i, p) in packets.iter().enumerate() {
        writer
            .write_packet(Timestamp::new(1_700_000_000 + i as u64, 0), p)
            .unwrap();
    }
    packets.push(udp(b"probe"));
    writer
        .write_packet(Timestamp::new(1_700_000_100, 0), &packets[6])
        .unwrap();
    writer.finish().unwrap();
    let rules = write(
        dir.path(),
        "r.rules",
        "alert udp any any -> any any (msg:\"df\"; content:\"probe\"; detection_filter:track by_src, count 2, seconds 10; sid:1;)\n\
         alert udp any any -> any any (msg:\"limit\"; content:\"probe\"; threshold:type limit, track by_src, count 1, seconds 60; sid:2;)\n",
    );
    let run = replay(&["--rules", &rules, &pcap_path.display().to_string()]);
    assert_eq!(
        alerts_for(&run.eve, 1).len(),
        4,
        "3rd..6th in the window; the 7th starts a new window"
    );
    assert_eq!(alerts_for(&run.eve, 2).len(), 2, "one per 60 s window");
}

#[test]
fn suppress_disable_and_modify_tune_vendor_rules() {
    let (dir, rules, pcap) = one_packet_case(b"attack", "alert udp any any -> any any (msg:\"ET noisy one\"; content:\"attack\"; sid:1;)\nalert udp any any -> any any (msg:\"two\"; content:\"attack\"; sid:2;)\nalert udp any any -> any any (msg:\"three\"; content:\"attack\"; sid:3;)\n");
    let threshold = write(
        dir.path(),
        "threshold.config",
        "suppress gen_id 1, sig_id 2\n",
    );
    let disable = write(dir.path(), "disable.conf", "re:^ET noisy\n");
    let modify = write(dir.path(), "modify.conf", "drop 3\n");
    let run = replay(&[
        "--rules",
        &rules,
        "--threshold",
        &threshold,
        "--disable",
        &disable,
        "--modify",
        &modify,
        &pcap,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(alerts_for(&run.eve, 1).is_empty(), "disabled");
    assert!(alerts_for(&run.eve, 2).is_empty(), "suppressed");
    assert_eq!(
        alerts_for(&run.eve, 3)[0]["alert"]["action"],
        "blocked",
        "modified to drop"
    );
    assert_eq!(of_type(&run.eve, "drop").len(), 1);
    assert!(
        run.stderr.contains("1 disabled, 1 modified"),
        "{}",
        run.stderr
    );
}

#[test]
fn tuning_file_errors_name_file_and_line() {
    let (dir, rules, pcap) =
        one_packet_case(b"x", "alert udp any any -> any any (msg:\"m\"; sid:1;)\n");
    let threshold = write(
        dir.path(),
        "threshold.config",
        "suppress gen_id 1, sig_id 1\nsuppress gen_id 1\n",
    );
    let run = replay(&["--rules", &rules, "--threshold", &threshold, &pcap]);
    assert_fails_with(&run, "threshold.config:2:");
}

#[test]
fn expect_file_passes_and_fails_with_a_readable_diff() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.json",
        r#"{"alerts": {"1000001": 1, "1000005": 1, "999": 0, "1000007": 3}, "alerts_total": 8}"#,
    );
    let bad = write(
        dir.path(),
        "bad.json",
        r#"{"alerts": {"1000001": 3}, "alerts_total": null}"#,
    );
    let mut a = demo_args();
    a.extend(["--expect".to_string(), good]);
    let run = replay(&args(&a));
    assert_eq!(run.code, 0, "{}", run.stderr);
    a.pop();
    a.push(bad);
    let run = replay(&args(&a));
    assert_fails_with(&run, "sid 1000001: expected 3 alerts, got 1");
}

#[test]
fn set_rejects_unknown_keys() {
    let run = replay(&["--set", "flow.max-flowz=1", "x.pcap"]);
    assert_fails_with(&run, "unknown setting \"flow.max-flowz\"");
}

#[test]
fn not_a_pcap_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "notes.pcap",
        "this is not a capture file at all\n",
    );
    let run = replay(&[&path]);
    assert_fails_with(&run, "notes.pcap");
}

#[test]
fn truncated_pcap_reports_the_record_and_keeps_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(demo().join("demo.pcap")).unwrap();
    let path = dir.path().join("cut.pcap");
    std::fs::write(&path, &full[..full.len() - 10]).unwrap();
    let run = replay(&[
        "--rules",
        &demo().join("demo.rules").display().to_string(),
        &path.display().to_string(),
    ]);
    assert_fails_with(&run, "cut.pcap: record");
    assert!(
        !alerts_for(&run.eve, 1000001).is_empty(),
        "records before the cut were replayed"
    );
}

#[test]
fn zero_length_short_and_lying_packets_are_counted_decode_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut lying = udp(b"hello");
    lying[2] = 0x05; // IPv4 total length: 1300-odd bytes, more than the packet has
    let pcap = write_pcap(
        dir.path(),
        "bad.pcap",
        &[Vec::new(), vec![0x45, 0, 0], lying, udp(b"fine")],
    );
    let run = replay(&[&pcap.display().to_string()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("3 undecodable"), "{}", run.stderr);
    let dropped = replay(&[
        "--set",
        "decode-error-verdict=drop",
        &pcap.display().to_string(),
    ]);
    let drops = of_type(&dropped.eve, "drop");
    assert_eq!(drops.len(), 3);
    assert!(drops.iter().all(|d| d["drop"]["reason"] == "decode error"));
}

#[test]
fn over_long_record_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(demo().join("demo.pcap")).unwrap()[..24].to_vec();
    // One record header claiming 100 MB captured.
    bytes.extend_from_slice(&1_700_000_000u32.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&100_000_000u32.to_le_bytes());
    bytes.extend_from_slice(&100_000_000u32.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 64]);
    let path = dir.path().join("huge.pcap");
    std::fs::write(&path, bytes).unwrap();
    let run = replay(&[&path.display().to_string()]);
    assert_fails_with(&run, "huge.pcap: record 1");
}

#[test]
fn stickydrop_blocks_the_attacker_for_its_time_in_packet_time() {
    let dir = tempfile::tempdir().unwrap();
    let from = |src: &str, payload: &[u8]| {
        PacketBuilder::udp(src, "10.2.2.2:53")
            .payload(payload)
            .build()
    };
    // t=0 attack, t=1 harmless from the attacker (blocked), t=2 another host (fine),
    // t=3..: harmless from the attacker; the block lasts 2 s.
    let packets = [
        from("10.1.1.1:5000", b"attack"),
        from("10.1.1.1:5001", b"hello"),
        from("10.9.9.9:5000", b"hello"),
        from("10.1.1.1:5002", b"hello"),
    ];
    let pcap = write_pcap(dir.path(), "s.pcap", &packets)
        .display()
        .to_string();
    let rules = write(dir.path(), "r.rules", "drop udp any any -> any any (msg:\"sticky\"; content:\"attack\"; sticky-drop:2,src; sid:1;)\n");
    let run = replay(&["--rules", &rules, &pcap]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let reasons: Vec<(u64, String)> = of_type(&run.eve, "drop")
        .iter()
        .map(|d| {
            (
                d["pcap_cnt"].as_u64().unwrap(),
                d["drop"]["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [(1, "rules".to_string()), (2, "stickydrop".to_string())]
    );
}

#[test]
fn stats_records_follow_the_interval_in_packet_time() {
    let dir = tempfile::tempdir().unwrap();
    let packets: Vec<Vec<u8>> = (0..5).map(|_| udp(b"x")).collect();
    let pcap = write_pcap(dir.path(), "s.pcap", &packets)
        .display()
        .to_string();
    let run = replay(&["--set", "output.stats-interval=2", &pcap]);
    let stats = of_type(&run.eve, "stats");
    assert_eq!(stats.len(), 2, "at t=2 and t=4");
    assert_eq!(stats[0]["stats"]["nfips"]["packets"], 3);
}

#[test]
fn udp_reject_asks_for_icmp_unreachable_unless_disabled() {
    let (_dir, rules, pcap) = one_packet_case(
        b"attack",
        "reject udp any any -> any any (msg:\"r\"; content:\"attack\"; sid:1;)\n",
    );
    let run = replay(&["--rules", &rules, &pcap]);
    let drops = of_type(&run.eve, "drop");
    assert_eq!(drops[0]["verdict"]["reject"][0], "icmp-prohib");
    let quiet = replay(&[
        "--rules",
        &rules,
        "--set",
        "reject.icmp-unreachable=false",
        &pcap,
    ]);
    let drops = of_type(&quiet.eve, "drop");
    assert_eq!(drops.len(), 1, "still dropped");
    assert!(drops[0]["verdict"].get("reject").is_none());
}

#[test]
fn config_file_sets_settings_and_names_bad_keys() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "ids.toml",
        "ids = true\n[flow]\nmax-flows = 100\n",
    );
    let mut a = demo_args();
    a.extend(["--config".to_string(), good]);
    let run = replay(&args(&a));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        of_type(&run.eve, "drop").is_empty(),
        "ids = true from the file"
    );
    let bad = write(dir.path(), "bad.toml", "[stream]\nmidstreem = true\n");
    let run = replay(&["--config", &bad, "x.pcap"]);
    assert_fails_with(&run, "bad.toml: key stream.midstreem: unknown setting");
}

#[test]
fn rate_filter_turns_alerts_into_drops_past_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let packets: Vec<Vec<u8>> = (0..4).map(|_| udp(b"login")).collect();
    let path = dir.path().join("r.pcap");
    let mut writer =
        PcapWriter::new(std::fs::File::create(&path).unwrap(), LinkType::RawIp).unwrap();
    for (i, p) in packets.iter().enumerate() {
        writer
            .write_packet(Timestamp::new(1_700_000_000, i as u64 * 1000), p)
            .unwrap();
    }
    writer.finish().unwrap();
    let rules = write(
        dir.path(),
        "r.rules",
        "alert udp any any -> any any (msg:\"login\"; content:\"login\"; sid:7;)\n",
    );
    let threshold = write(
        dir.path(),
        "threshold.config",
        "rate_filter gen_id 1, sig_id 7, track by_src, count 2, seconds 1, new_action drop, timeout 10\n",
    );
    let run = replay(&[
        "--rules",
        &rules,
        "--threshold",
        &threshold,
        &path.display().to_string(),
    ]);
    let actions: Vec<&str> = alerts_for(&run.eve, 7)
        .iter()
        .map(|a| a["alert"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["allowed", "allowed", "blocked"],
        "the 4th packet belongs to the dropped flow"
    );
    let reasons: Vec<&str> = of_type(&run.eve, "drop")
        .iter()
        .map(|d| d["drop"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["rules", "flow drop"]);
}

#[test]
fn full_flow_table_evicts_and_says_so() {
    let mut a = demo_args();
    a.extend(["--set".to_string(), "flow.max-flows=2".to_string()]);
    let run = replay(&args(&a));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("flows:"))
        .unwrap();
    assert!(!line.contains(" 0 evicted"), "{line}");
}

#[test]
fn each_ping_is_its_own_flow_keyed_by_echo_id() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = ("10.1.1.1", "10.2.2.2");
    let packets = [
        PacketBuilder::icmp_echo(a, b, 7, 1)
            .payload(b"ping")
            .build(),
        PacketBuilder::icmp_echo_reply(b, a, 7, 1)
            .payload(b"ping")
            .build(),
        PacketBuilder::icmp_echo(a, b, 8, 1)
            .payload(b"ping")
            .build(),
        PacketBuilder::icmp_echo(a, b, 9, 1)
            .payload(b"ping")
            .build(),
    ];
    let pcap = write_pcap(dir.path(), "ping.pcap", &packets);
    let rules = write(
        dir.path(),
        "r.rules",
        "alert icmp any any -> any any (msg:\"reply in an established ping\"; itype:0; flow:established; sid:1;)\n",
    );
    let run = replay(&["--rules", &rules, pcap.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("flows:      3 created"),
        "{}",
        run.stderr
    );
    let alerts = alerts_for(&run.eve, 1);
    assert_eq!(alerts.len(), 1, "{}", run.stderr);
    assert_eq!(alerts[0]["pcap_cnt"], 2);
}

#[test]
fn matching_limits_are_counted_in_the_summary() {
    // "a" then "c" right after it: the first three "a"s are followed by "b", so the relative
    // content is retried at each later "a"; a retry limit of 1 stops before the fourth.
    let (_dir, rules, pcap) = one_packet_case(
        b"abxabyabzac",
        "alert udp any any -> any any (msg:\"r\"; content:\"a\"; content:\"c\"; within:1; distance:0; sid:1;)\n",
    );
    let limited = replay(&["--rules", &rules, "--set", "rules.retry-limit=1", &pcap]);
    assert!(alerts_for(&limited.eve, 1).is_empty());
    assert!(
        limited.stderr.contains("detect.retry_limit_hits=1"),
        "{}",
        limited.stderr
    );
    let unlimited = replay(&["--rules", &rules, &pcap]);
    assert_eq!(alerts_for(&unlimited.eve, 1).len(), 1);
    assert!(
        !unlimited.stderr.contains("detect.retry_limit_hits"),
        "{}",
        unlimited.stderr
    );
}

/// Compiled Vectorscan databases are cached by default under $XDG_CACHE_HOME/nfips: the
/// second load of the same rules reads them instead of compiling.
#[cfg(feature = "vectorscan")]
#[test]
fn compiled_databases_are_cached_by_default() {
    let cache = tempfile::tempdir().unwrap();
    let rules = tempfile::tempdir().unwrap();
    // Enough distinct patterns for `detect.mpm=auto` to pick Vectorscan.
    let text: String = (0..100)
        .map(|i| {
            format!(
                "alert tcp any any -> any any (msg:\"m\"; content:\"pattern-{i:03}\"; sid:{};)\n",
                i + 1
            )
        })
        .collect();
    let path = write(rules.path(), "many.rules", &text);
    let bench = |extra: &[&str]| {
        let output = nfips()
            .env("XDG_CACHE_HOME", cache.path())
            .args([
                "bench",
                "--synthetic",
                "web",
                "--megabytes",
                "1",
                "--rules",
                &path,
            ])
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr)
    };
    let first = bench(&[]);
    assert!(first.contains("0 hits, 1 misses"), "{first}");
    let second = bench(&[]);
    assert!(second.contains("1 hits, 0 misses"), "{second}");
    let off = bench(&["--set", "detect.cache-dir=off"]);
    assert!(!off.contains("hits"), "{off}");
}
