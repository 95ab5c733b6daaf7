//! `nfips rules check`: the report over a [`LoadReport`], as text and as one JSON object.
//!
//! Pure rendering: no loading and no exit-code policy (the CLI decides that from
//! [`LoadReport::errors`]).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::load::LoadReport;

/// Totals over a report; `rules_total = loaded + unsupported + errors`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totals {
    pub files: usize,
    pub loaded: usize,
    pub unsupported: usize,
    pub errors: usize,
    pub duplicates: usize,
    pub warnings: usize,
}

impl Totals {
    pub fn of(report: &LoadReport) -> Self {
        Totals {
            files: report.files.len(),
            loaded: report.files.iter().map(|f| f.loaded).sum(),
            unsupported: report.unsupported.len(),
            errors: report.errors.len(),
            duplicates: report.duplicates.len(),
            warnings: report.warnings.len(),
        }
    }

    pub fn rules_total(&self) -> usize {
        self.loaded + self.unsupported + self.errors
    }
}

/// How many unsupported rules each keyword kept out.
pub fn keyword_histogram(report: &LoadReport) -> BTreeMap<&str, usize> {
    let mut histogram = BTreeMap::new();
    for unsupported in &report.unsupported {
        *histogram.entry(unsupported.keyword.as_str()).or_insert(0) += 1;
    }
    histogram
}

/// Render the `--json` object (fields: files, rules_total, loaded, unsupported, errors,
/// duplicates, unsupported_keywords, load_ms, per_file). Skipped snort.conf directives are in
/// the text report only.
pub fn json_report(report: &LoadReport, load_ms: u64) -> serde_json::Value {
    let totals = Totals::of(report);
    let per_file: Vec<serde_json::Value> = report
        .files
        .iter()
        .map(|f| {
            serde_json::json!({
                "path": f.path, "loaded": f.loaded, "unsupported": f.unsupported, "errors": f.errors,
            })
        })
        .collect();
    serde_json::json!({
        "files": totals.files,
        "rules_total": totals.rules_total(),
        "loaded": totals.loaded,
        "unsupported": totals.unsupported,
        "errors": totals.errors,
        "duplicates": totals.duplicates,
        "unsupported_keywords": keyword_histogram(report),
        "load_ms": load_ms,
        "per_file": per_file,
    })
}

/// Render the human report.
pub fn text_report(report: &LoadReport, load_ms: u64) -> String {
    let totals = Totals::of(report);
    let mut out = String::new();
    for error in &report.errors {
        let _ = writeln!(out, "{error}");
    }
    for duplicate in &report.duplicates {
        let _ = writeln!(out, "{duplicate}");
    }
    let _ = writeln!(
        out,
        "{:>8} {:>11} {:>6}  file",
        "loaded", "unsupported", "errors"
    );
    for file in &report.files {
        let _ = writeln!(
            out,
            "{:>8} {:>11} {:>6}  {}",
            file.loaded, file.unsupported, file.errors, file.path
        );
    }
    let histogram = keyword_histogram(report);
    if !histogram.is_empty() {
        let mut by_count: Vec<(&str, usize)> = histogram.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let _ = writeln!(out, "unsupported keywords (rules):");
        for (keyword, count) in by_count {
            let _ = writeln!(out, "{count:>8}  {keyword}");
        }
    }
    let _ = writeln!(
        out,
        "{} files, {} rules: {} loaded, {} unsupported, {} errors, {} duplicates, {} skipped directives; {} ms",
        totals.files,
        totals.rules_total(),
        totals.loaded,
        totals.unsupported,
        totals.errors,
        totals.duplicates,
        totals.warnings,
        load_ms
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Diagnostic, FileReport, Unsupported};

    fn sample() -> LoadReport {
        let diag = |line, message: &str| Diagnostic {
            file: "a.rules".into(),
            line,
            message: message.into(),
        };
        let unsupported = |line, keyword: &str| Unsupported {
            file: "a.rules".into(),
            line,
            sid: Some(line as u32),
            keyword: keyword.into(),
        };
        LoadReport {
            rules: Vec::new(),
            files: vec![
                FileReport {
                    path: "a.rules".into(),
                    loaded: 2,
                    unsupported: 3,
                    errors: 1,
                },
                FileReport {
                    path: "b.rules".into(),
                    loaded: 4,
                    unsupported: 0,
                    errors: 0,
                },
            ],
            errors: vec![diag(7, "nocase: no preceding content to modify")],
            unsupported: vec![
                unsupported(1, "http_uri"),
                unsupported(2, "http_uri"),
                unsupported(3, "pcre/U"),
            ],
            duplicates: vec![diag(9, "duplicate gid:sid 1:5")],
            warnings: vec![diag(1, "config skipped")],
            ..Default::default()
        }
    }

    #[test]
    fn json_has_the_issue_fields_and_consistent_totals() {
        let json = json_report(&sample(), 12);
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "duplicates",
                "errors",
                "files",
                "load_ms",
                "loaded",
                "per_file",
                "rules_total",
                "unsupported",
                "unsupported_keywords"
            ]
        );
        assert_eq!(json["files"], 2);
        assert_eq!(json["loaded"], 6);
        assert_eq!(json["unsupported"], 3);
        assert_eq!(json["errors"], 1);
        assert_eq!(json["rules_total"], 10);
        assert_eq!(json["duplicates"], 1);
        assert_eq!(json["load_ms"], 12);
        assert_eq!(
            json["unsupported_keywords"],
            serde_json::json!({"http_uri": 2, "pcre/U": 1})
        );
        assert_eq!(
            json["per_file"][0],
            serde_json::json!({"path": "a.rules", "loaded": 2, "unsupported": 3, "errors": 1})
        );
    }

    #[test]
    fn text_lists_errors_files_and_keywords() {
        let text = text_report(&sample(), 12);
        assert!(text.contains("a.rules:7: nocase: no preceding content to modify\n"));
        assert!(text.contains("a.rules:9: duplicate gid:sid 1:5\n"));
        assert!(text
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["2", "3", "1", "a.rules"]));
        let http = text.find("http_uri").unwrap();
        let pcre = text.find("pcre/U").unwrap();
        assert!(http < pcre, "keywords sorted by count");
        assert!(text.contains("2 files, 10 rules: 6 loaded, 3 unsupported, 1 errors, 1 duplicates, 1 skipped directives; 12 ms"));
    }
}
