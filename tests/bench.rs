//! `nfips bench` end to end: what a figure says about how it was taken.

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
