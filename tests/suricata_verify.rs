//! Every case of the suricata-verify corpus through `nfips replay`, checked against the case's
//! `expected.json` (exact counts of EVE records matching given fields).
//!
//! Each case's Suricata options map onto settings: IPS mode is the default (`--ids` for IDS
//! cases), `-k none` is `checksum-validation=no`, midstream / async-oneside / action order map
//! to their keys, and `action-scope=suricata` gives Suricata's rule action scope. Variables are
//! Suricata's suricata.yaml defaults.

use std::path::Path;

use serde_json::Value;

use crate::util::{corpus, nfips};

/// Cases that must pass (40 of 41: the stream, defrag and HTTP in the packet path). Raise it as the
/// engine learns.
const REQUIRED_PASSING: usize = 40;

pub(crate) const SURICATA_VARS: &str = "ipvar HOME_NET [192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]\n\
ipvar EXTERNAL_NET !$HOME_NET\nportvar HTTP_PORTS 80\nipvar HTTP_SERVERS $HOME_NET\nipvar SMTP_SERVERS $HOME_NET\n\
ipvar SQL_SERVERS $HOME_NET\nipvar DNS_SERVERS $HOME_NET\nipvar TELNET_SERVERS $HOME_NET\nportvar SHELLCODE_PORTS !80\n\
portvar ORACLE_PORTS 1521\nportvar SSH_PORTS 22\nportvar FILE_DATA_PORTS [$HTTP_PORTS,110,143]\n";

/// The value at a dotted path (`alert.signature_id`) of an EVE record.
fn field<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(record, |v, key| v.get(key))
}

fn matches(record: &Value, wanted: &serde_json::Map<String, Value>) -> bool {
    wanted
        .iter()
        .all(|(path, want)| field(record, path) == Some(want))
}

/// Outcome of one case: Ok when it passed, else why not.
fn run_case(dir: &Path, vars: &Path, scratch: &Path) -> Result<(), String> {
    run_case_ignoring(dir, vars, scratch, &[])
}

/// As [`run_case`], with the named EVE fields left out of every check (fields Suricata writes
/// and nfips does not, such as `payload_printable`).
pub(crate) fn run_case_ignoring(
    dir: &Path,
    vars: &Path,
    scratch: &Path,
    ignored_fields: &[&str],
) -> Result<(), String> {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("expected.json: {e}"))?;
    let text = |key: &str| {
        expected
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let config = &expected["config"];
    let eve = scratch.join(format!(
        "{}.eve.json",
        dir.file_name().and_then(|n| n.to_str()).unwrap_or("case")
    ));
    let mut cmd = nfips();
    cmd.arg("replay")
        .arg("--rules")
        .arg(dir.join(text("rules")))
        .arg("--vars")
        .arg(vars)
        .arg("--eve")
        .arg(&eve);
    cmd.args(["--set", "action-scope=suricata"]);
    if text("mode") == "ids" {
        cmd.arg("--ids");
    }
    if config["checksum_validation"]
        .as_str()
        .is_some_and(|c| c.starts_with("off"))
    {
        cmd.args(["--set", "checksum-validation=no"]);
    }
    if config["midstream"] == Value::Bool(true) {
        cmd.args(["--set", "stream.midstream=true"]);
    }
    if config["async_oneside"] == Value::Bool(true) {
        cmd.args(["--set", "stream.async-oneside=true"]);
    }
    if let Some(order) = config["action_order"].as_array() {
        let order: Vec<&str> = order.iter().filter_map(Value::as_str).collect();
        cmd.arg("--set")
            .arg(format!("action-order={}", order.join(",")));
    }
    if config["urgent_policy"] == "drop" {
        cmd.args(["--set", "stream.urgent-policy=drop"]);
    }
    cmd.arg(dir.join(text("pcap")));
    let output = cmd.output().map_err(|e| format!("cannot run nfips: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "nfips failed: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let records: Vec<Value> = std::fs::read_to_string(&eve)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("bad EVE line {l:?}: {e}")))
        .collect::<Result<_, _>>()?;
    let mut failures = Vec::new();
    for check in expected["checks"].as_array().into_iter().flatten() {
        let want = check["count"].as_u64().unwrap_or(0);
        let Some(filter) = check["match"].as_object() else {
            continue;
        };
        // A check without event_type but with alert fields counts alert records.
        let mut filter = filter.clone();
        filter.retain(|key, _| !ignored_fields.contains(&key.as_str()));
        if !filter.contains_key("event_type") && filter.keys().any(|k| k.starts_with("alert.")) {
            filter.insert("event_type".into(), Value::String("alert".into()));
        }
        let got = records.iter().filter(|r| matches(r, &filter)).count() as u64;
        if got != want {
            failures.push(format!(
                "{} expected {want} got {got}",
                Value::Object(filter.clone())
            ));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

#[test]
fn suricata_verify_cases() {
    let Some(corpus) = corpus() else { return };
    let root = corpus.join("suricata-verify");
    let scratch = tempfile::tempdir().expect("temp dir");
    let vars = scratch.path().join("suricata-vars.conf");
    std::fs::write(&vars, SURICATA_VARS).expect("write vars");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("suricata-verify directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("expected.json").is_file())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases under {}", root.display());
    let mut passed = 0;
    eprintln!("{:<50} result", "suricata-verify case");
    for case in &cases {
        let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        match run_case(case, &vars, scratch.path()) {
            Ok(()) => {
                passed += 1;
                eprintln!("{name:<50} PASS");
            }
            Err(why) => eprintln!("{name:<50} FAIL  {why}"),
        }
    }
    eprintln!(
        "suricata-verify: {passed}/{} passed (required {REQUIRED_PASSING})",
        cases.len()
    );
    assert!(
        passed >= REQUIRED_PASSING,
        "only {passed}/{} suricata-verify cases passed",
        cases.len()
    );
}
