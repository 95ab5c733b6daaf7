//! `nfips rules check` end to end: the corpus rule sets, exit codes, the JSON shape, --strict,
//! include and --vars.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::{corpus, nfips};

fn check(args: &[&str]) -> Output {
    nfips()
        .args(["rules", "check"])
        .args(args)
        .output()
        .expect("run nfips")
}

fn json_of(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout}"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

const GOOD: &str =
    "alert tcp $EXTERNAL_NET any -> $HOME_NET 80 (msg:\"x\"; content:\"abc\"; sid:1;)\n";
const HTTP: &str = "alert tcp any any -> any any (content:\"a\"; http_uri; sid:2;)\n";
const BROKEN: &str = "alert tcp any any -> any any (depth:4; sid:3;)\n";

/// Rules in the corpus that are errors on purpose, with why (see the module doc of this test).
const KNOWN_CORPUS_ERRORS: &[(&str, &str)] = &[
    // `!$SMTP_SERVERS` / `!$HOME_NET` / `![$SMTP_SERVERS,$DNS_SERVERS]` negate the whole address
    // space while HOME_NET is `any` (the default): Snort rejects `!any`.
    ("emerging-dns.rules", "matches no address"),
    ("emerging-policy.rules", "matches no address"),
    // classtype Bitcoin-event is defined in no classification.config we ship (Snort: unknown
    // ClassType).
    ("emerging-policy.rules", "Bitcoin-event"),
];

/// Every corpus file: every active rule counted as loaded/unsupported/error, errors only the
/// known malformed ones, and rules_total matches a count of the uncommented rule lines.
#[test]
fn corpus_rulesets_load() {
    let Some(corpus) = corpus() else { return };
    let sets = [
        "et-open-snort-2.9.0",
        "et-open-suricata-4.0",
        "snort-community",
    ];
    for set in sets {
        let dir = corpus.join("rulesets").join(set);
        let output = check(&["--json", s(&dir)]);
        let json = json_of(&output);
        let total = json["rules_total"].as_u64().unwrap();
        let sum = json["loaded"].as_u64().unwrap()
            + json["unsupported"].as_u64().unwrap()
            + json["errors"].as_u64().unwrap();
        assert_eq!(total, sum, "{set}");
        let active = count_active_rules(&dir);
        assert_eq!(total, active, "{set}: every active rule is counted");
        assert!(json["loaded"].as_u64().unwrap() > 0, "{set}");
        // Text mode names each error; all must be known.
        let text = String::from_utf8_lossy(&check(&[s(&dir)]).stdout).into_owned();
        let error_lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(".rules:") && !l.contains("duplicate"))
            .collect();
        assert_eq!(
            error_lines.len() as u64,
            json["errors"].as_u64().unwrap(),
            "{set}"
        );
        for line in error_lines {
            let known = KNOWN_CORPUS_ERRORS
                .iter()
                .any(|(file, needle)| line.contains(file) && line.contains(needle));
            assert!(known, "{set}: unexpected error: {line}");
        }
        let code = output.status.code();
        assert_eq!(code, Some(if json["errors"] == 0 { 0 } else { 1 }), "{set}");
    }
}

/// The ET Open snort flavour loads at least the ~7,900 rules that use only supported keywords.
#[test]
fn et_open_loads_its_non_http_rules() {
    let Some(corpus) = corpus() else { return };
    let dir = corpus.join("rulesets/et-open-snort-2.9.0");
    let json = json_of(&check(&["--json", s(&dir)]));
    assert!(json["loaded"].as_u64().unwrap() >= 7900, "{json}");
    assert!(json["unsupported_keywords"]["http_uri"].as_u64().unwrap() > 1000);
}

/// Lines that are rules and not commented out: start with an action word.
fn count_active_rules(dir: &Path) -> u64 {
    let actions = [
        "alert",
        "log",
        "pass",
        "drop",
        "sdrop",
        "reject",
        "rejectsrc",
        "rejectdst",
        "rejectboth",
        "block",
        "sblock",
    ];
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rules") {
            let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
            count += text
                .lines()
                .filter(|l| {
                    l.split_whitespace()
                        .next()
                        .is_some_and(|w| actions.contains(&w))
                })
                .count() as u64;
        }
    }
    count
}

#[test]
fn exit_zero_without_errors_and_unsupported_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "a.rules", &format!("{GOOD}{HTTP}"));
    let output = check(&["--json", s(&path)]);
    assert_eq!(output.status.code(), Some(0));
    let json = json_of(&output);
    assert_eq!(
        (
            json["loaded"].as_u64(),
            json["unsupported"].as_u64(),
            json["errors"].as_u64()
        ),
        (Some(1), Some(1), Some(0))
    );
    assert_eq!(
        json["unsupported_keywords"],
        serde_json::json!({"http_uri": 1})
    );
}

#[test]
fn exit_one_with_errors_and_text_names_file_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "a.rules", &format!("{GOOD}{BROKEN}"));
    let output = check(&[s(&path)]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(&format!(
            "{}:2: depth: no preceding content",
            path.display()
        )),
        "{text}"
    );
}

#[test]
fn exit_two_on_bad_usage() {
    assert_eq!(check(&[]).status.code(), Some(2));
    assert_eq!(check(&["--no-such-flag", "x.rules"]).status.code(), Some(2));
    let output = check(&["/nonexistent/dir/x.rules"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/dir/x.rules"));
}

#[test]
fn json_is_one_object_with_the_issue_fields() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.rules", &format!("{GOOD}{HTTP}{BROKEN}"));
    write(
        dir.path(),
        "b.rules",
        "alert tcp any any -> any any (msg:\"dup\"; sid:1;)\n",
    );
    let output = check(&["--json", s(dir.path())]);
    let json = json_of(&output);
    for field in [
        "files",
        "rules_total",
        "loaded",
        "unsupported",
        "errors",
        "duplicates",
        "unsupported_keywords",
        "load_ms",
        "per_file",
    ] {
        assert!(json.get(field).is_some(), "missing {field}: {json}");
    }
    assert_eq!(json["files"], 2);
    assert_eq!(json["rules_total"], 4);
    assert_eq!(json["loaded"], 2);
    assert_eq!(json["duplicates"], 1);
    assert_eq!(json["per_file"].as_array().unwrap().len(), 2);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn strict_turns_unsupported_into_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "a.rules", &format!("{GOOD}{HTTP}"));
    let output = check(&["--strict", "--json", s(&path)]);
    assert_eq!(output.status.code(), Some(1));
    let json = json_of(&output);
    assert_eq!(
        (json["unsupported"].as_u64(), json["errors"].as_u64()),
        (Some(0), Some(1))
    );
}

#[test]
fn include_loads_the_included_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("more")).unwrap();
    write(dir.path(), "more/inner.rules", HTTP);
    let top = write(
        dir.path(),
        "top.conf",
        &format!("include more/inner.rules\n{GOOD}"),
    );
    let json = json_of(&check(&["--json", s(&top)]));
    assert_eq!(
        (
            json["files"].as_u64(),
            json["loaded"].as_u64(),
            json["unsupported"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
}

#[test]
fn vars_file_defines_variables() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(
        dir.path(),
        "a.rules",
        "alert tcp $MY_NET any -> any $MY_PORTS (sid:1;)\n",
    );
    let without = check(&["--json", s(&rules)]);
    assert_eq!(
        without.status.code(),
        Some(1),
        "undefined variables are errors"
    );
    let vars = write(
        dir.path(),
        "vars.conf",
        "ipvar MY_NET [10.0.0.0/8]\nportvar MY_PORTS 8080\n",
    );
    let with = check(&["--json", "--vars", s(&vars), s(&rules)]);
    assert_eq!(with.status.code(), Some(0));
    assert_eq!(json_of(&with)["loaded"], 1);
}

#[test]
fn classification_file_option() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(
        dir.path(),
        "a.rules",
        "alert tcp any any -> any any (classtype:site-class; sid:1;)\n",
    );
    assert_eq!(check(&[s(&rules)]).status.code(), Some(1));
    let classes = write(
        dir.path(),
        "classification.config",
        "config classification: site-class,Site,2\n",
    );
    assert_eq!(
        check(&["--classification", s(&classes), s(&rules)])
            .status
            .code(),
        Some(0)
    );
}
