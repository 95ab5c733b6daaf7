//! Address-aware rule groups change speed, never results: real captures replayed with a full
//! real rule set and HOME_NET set give the same verdicts and alerts whether the rule groups
//! are split by address class or not (`detect.address-classes=1`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{corpus, nfips};

/// Suricata's default HOME_NET: the corpus captures use private addresses on both sides.
const VARS: &str = "ipvar HOME_NET [192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]\n\
                    ipvar EXTERNAL_NET !$HOME_NET\n";

/// One replay: (stderr, the verdict and alert summary lines of stdout, the alerts as sorted
/// `timestamp sid src -> dst action` lines).
fn replay(
    rules: &Path,
    vars: &Path,
    pcaps: &[PathBuf],
    classes: &str,
    eve: &Path,
) -> (String, String, Vec<String>) {
    let out = nfips()
        .arg("replay")
        .args(["--rules".as_ref(), rules.as_os_str()])
        .args(["--vars".as_ref(), vars.as_os_str()])
        .args(["--set", &format!("detect.address-classes={classes}")])
        .args(["--eve".as_ref(), eve.as_os_str()])
        .args(pcaps)
        .output()
        .expect("run nfips replay");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // One corpus capture is cut off: replay reads what it has, then says so and fails.
    assert!(
        out.status.success() || stderr.contains("a cut-off capture"),
        "nfips replay failed: {stderr}"
    );
    let summary = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("elapsed:"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut alerts: Vec<String> = std::fs::read_to_string(eve)
        .expect("read EVE")
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("EVE line is JSON"))
        .filter(|r| r["event_type"] == "alert")
        .map(|r| {
            format!(
                "{} {} {}:{} -> {}:{} {}",
                r["timestamp"],
                r["alert"]["signature_id"],
                r["src_ip"],
                r["src_port"],
                r["dest_ip"],
                r["dest_port"],
                r["alert"]["action"]
            )
        })
        .collect();
    alerts.sort();
    (stderr, summary, alerts)
}

#[test]
fn address_classes_change_no_verdict_or_alert_on_the_corpus_captures() {
    let Some(corpus) = corpus() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let vars = dir.path().join("vars.conf");
    std::fs::write(&vars, VARS).expect("write vars");
    let pcaps = ["ndpi", "suricata-verify"].map(|d| corpus.join("pcaps").join(d));
    for flavour in ["et-open-snort-2.9.0", "et-open-suricata-4.0"] {
        let rules = corpus.join("rulesets").join(flavour);
        let (split_log, split, split_alerts) =
            replay(&rules, &vars, &pcaps, "4", &dir.path().join("split.json"));
        let (_, whole, whole_alerts) =
            replay(&rules, &vars, &pcaps, "1", &dir.path().join("whole.json"));
        assert!(
            split_log.contains("2 address classes"),
            "{flavour}: HOME_NET did not split the groups: {split_log}"
        );
        assert!(
            split_alerts.len() > 10,
            "{flavour}: too few alerts to compare ({})",
            split_alerts.len()
        );
        assert_eq!(split, whole, "{flavour}: verdicts differ");
        assert_eq!(split_alerts, whole_alerts, "{flavour}: alerts differ");
    }
}
