//! `nfips rules check`: the report over a [`LoadReport`], as text and as one JSON object.
use crate::load::LoadReport;

/// Render the `--json` object (fields: files, rules_total, loaded, unsupported, errors,
/// duplicates, unsupported_keywords, load_ms, per-file counts).
pub fn json_report(report: &LoadReport, load_ms: u64) -> serde_json::Value {
    let _ = (report, load_ms);
    serde_json::json!({})
}

/// Render the human report.
pub fn text_report(report: &LoadReport, load_ms: u64) -> String {
    let _ = (report, load_ms);
    String::new()
}
