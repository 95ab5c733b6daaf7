//! `nfips replay`: run pcap files through the packet path and report what it decided.
//!
//! With no PCAP argument and no `--rules`, it replays the bundled demo (`demo/demo.pcap` with
//! `demo/demo.rules`; found at `$NFIPS_DEMO`, `/usr/share/nfips/demo`, or the source tree's
//! `demo/`).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use nfips_engine::output::Outputs;
use nfips_engine::replay::{
    demo_dir, expand_pcaps, load_rules, replay, shared_for_replay, ReplayReport,
};
use nfips_engine::settings::Settings;

use crate::common::SettingsArgs;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: SettingsArgs,
    /// threshold.config (suppress, event_filter/threshold, rate_filter).
    #[arg(long)]
    threshold: Option<PathBuf>,
    /// Disable list: SID, GID:SID or re:REGEX per line.
    #[arg(long)]
    disable: Option<PathBuf>,
    /// Modify list: `drop|sdrop|reject SID|GID:SID|re:REGEX|all` per line.
    #[arg(long)]
    modify: Option<PathBuf>,
    /// IDS mode: drop and reject rules only alert.
    #[arg(long)]
    ids: bool,
    /// EVE JSON output file.
    #[arg(long)]
    eve: Option<PathBuf>,
    /// fast.log output file.
    #[arg(long)]
    fast: Option<PathBuf>,
    /// Expected alert counts: JSON {"alerts": {"SID": COUNT}, "alerts_total": N}; exit 1 on mismatch.
    #[arg(long)]
    expect: Option<PathBuf>,
    /// Capture files (pcap or pcapng), or directories of them.
    pcaps: Vec<PathBuf>,
}

fn settings_from(args: &Args) -> anyhow::Result<Settings> {
    let mut settings = args.common.settings()?;
    settings.ids |= args.ids;
    let pick = |flag: &Option<PathBuf>, current: &mut Option<PathBuf>| {
        if flag.is_some() {
            current.clone_from(flag);
        }
    };
    pick(&args.threshold, &mut settings.tuning.threshold_file);
    pick(&args.disable, &mut settings.tuning.disable_file);
    pick(&args.modify, &mut settings.tuning.modify_file);
    pick(&args.eve, &mut settings.output.eve);
    pick(&args.fast, &mut settings.output.fast);
    Ok(settings)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut settings = settings_from(&args)?;
    let mut pcaps = args.pcaps.clone();
    if pcaps.is_empty() {
        if !settings.rules.paths.is_empty() {
            bail!("no PCAP given (the bundled demo runs only without --rules)");
        }
        let dir = demo_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
            .ok_or_else(|| anyhow!("no PCAP given and the bundled demo was not found (set NFIPS_DEMO to its directory)"))?;
        eprintln!("nfips: replaying the bundled demo: {}", dir.display());
        pcaps.push(dir.join("demo.pcap"));
        settings.rules.paths.push(dir.join("demo.rules"));
    }
    let loaded = load_rules(&settings).map_err(|e| anyhow!(e))?;
    let report = &loaded.report;
    for error in report.errors.iter().take(10) {
        eprintln!("nfips: warning: {error}");
    }
    eprintln!(
        "nfips: {} rules loaded, {} unsupported, {} with errors, {} disabled, {} modified",
        loaded.plan.rules.rules().len(),
        report.unsupported.len(),
        report.errors.len(),
        loaded.disabled,
        loaded.modified
    );
    for line in loaded.address_report() {
        eprintln!("nfips: {line}");
    }
    if settings.rules.paths.is_empty() {
        eprintln!("nfips: warning: no --rules given: packets are decoded and tracked, not matched");
    }
    let files = expand_pcaps(&pcaps).map_err(|e| anyhow!(e))?;
    let outputs = Outputs::start(
        settings.output.eve.as_deref(),
        settings.output.fast.as_deref(),
        settings.output.channel_capacity as usize,
    )
    .context("opening outputs")?;
    let total_bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total_bytes);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let shared = shared_for_replay(settings, loaded.plan);
    let result = replay(&files, shared.clone(), outputs.handle(), |bytes| {
        if let Some(bar) = &bar {
            bar.set_position(bytes);
        }
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let totals = outputs.finish().context("writing outputs")?;
    let plan = shared.plan();
    print_summary(&result, &plan.rules, totals.eve_records);
    let mut code = ExitCode::SUCCESS;
    for error in &result.errors {
        eprintln!("nfips: error: {error}");
        code = ExitCode::from(1);
    }
    if let Some(expect) = &args.expect {
        let diff = compare_expectations(expect, &result)?;
        if diff.is_empty() {
            eprintln!("nfips: expectations in {} met", expect.display());
        } else {
            eprintln!("nfips: expectations in {} NOT met:", expect.display());
            for line in diff {
                eprintln!("  {line}");
            }
            code = ExitCode::from(1);
        }
    }
    Ok(code)
}

fn print_summary(report: &ReplayReport, rules: &nfips_rules::RuleSet, eve_records: u64) {
    let s = &report.stats;
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    eprintln!("--- nfips replay summary ---");
    eprintln!("files:      {}", report.files);
    eprintln!("packets:    {}  bytes: {}", s.packets, s.bytes);
    eprintln!(
        "flows:      {} created, {} timed out, {} evicted in {} emergency prunes (flow.max-flows)",
        s.flows_created, s.flows_timed_out, s.flows_evicted, s.flow_emergency_prunes
    );
    eprintln!(
        "verdicts:   accepted {}  dropped {} (rules {}, flow drop {}, stickydrop {}, decode error {}, stream {}, defrag {})  rejected {}  passed {}",
        s.accepted, s.dropped, s.drop_rules, s.drop_flow, s.drop_stickydrop, s.drop_decode, s.drop_stream, s.drop_defrag, s.rejected, s.passed
    );
    // Stream, defrag and HTTP counters that moved (`stream.*`, `defrag.*`, `http.*`, `event.*`).
    let layer: Vec<String> = s
        .layer_counters
        .iter()
        .filter(|(_, name, value)| *value > 0 && *name != "memuse" && *name != "sessions")
        .map(|(prefix, name, value)| format!("{prefix}.{name}={value}"))
        .collect();
    if !layer.is_empty() {
        eprintln!("counters:   {}", layer.join(" "));
    }
    eprintln!("alerts:     {}", s.alerts);
    let mut by_sid: Vec<(&(u32, u32), &u64)> = s.alerts_by_sid.iter().collect();
    by_sid.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for ((gid, sid), count) in by_sid.into_iter().take(20) {
        let msg = rules
            .rules()
            .iter()
            .find(|r| r.gid == *gid && r.sid == *sid)
            .map_or("", |r| r.msg.as_str());
        eprintln!("  {count:>8}  [{gid}:{sid}] {msg}");
    }
    if s.decode_errors > 0 || s.checksum_invalid > 0 {
        eprintln!(
            "decode:     {} undecodable, {} bad checksums (not inspected)",
            s.decode_errors, s.checksum_invalid
        );
    }
    if report.checksums_auto_disabled {
        eprintln!("checksums:  auto mode stopped validating (most early packets had bad checksums: offload)");
    }
    for (name, count) in &s.decode_events {
        eprintln!("  {count:>8}  {name}");
    }
    if s.tuning_untracked > 0 {
        eprintln!(
            "tuning:     {} threshold/detection_filter keys not tracked (tuning.max-entries)",
            s.tuning_untracked
        );
    }
    if report.output_lost > 0 {
        eprintln!(
            "outputs:    {} records lost (output channel full)",
            report.output_lost
        );
    }
    if eve_records > 0 {
        eprintln!("eve:        {eve_records} records");
    }
    eprintln!(
        "elapsed:    {:.3} s  {:.0} packets/s  {:.1} Mbit/s",
        secs,
        s.packets as f64 / secs,
        s.bytes as f64 * 8.0 / secs / 1e6
    );
}

/// Compare `--expect` counts with the replay; one line per mismatch.
pub fn compare_expectations(path: &Path, report: &ReplayReport) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let mut by_sid: BTreeMap<u32, u64> = BTreeMap::new();
    for ((_, sid), count) in &report.stats.alerts_by_sid {
        *by_sid.entry(*sid).or_default() += count;
    }
    let mut diff = Vec::new();
    if let Some(alerts) = value.get("alerts").filter(|v| !v.is_null()) {
        let alerts = alerts.as_object().ok_or_else(|| {
            anyhow!(
                "{}: \"alerts\" must be an object of SID: COUNT",
                path.display()
            )
        })?;
        for (sid, expected) in alerts {
            let sid_num: u32 = sid
                .parse()
                .map_err(|_| anyhow!("{}: alerts key {sid:?} is not a SID", path.display()))?;
            let expected = expected
                .as_u64()
                .ok_or_else(|| anyhow!("{}: alerts[{sid}] must be a count", path.display()))?;
            let got = by_sid.get(&sid_num).copied().unwrap_or(0);
            if got != expected {
                diff.push(format!("sid {sid}: expected {expected} alerts, got {got}"));
            }
        }
    }
    if let Some(total) = value.get("alerts_total").filter(|v| !v.is_null()) {
        let expected = total
            .as_u64()
            .ok_or_else(|| anyhow!("{}: alerts_total must be a count", path.display()))?;
        if report.stats.alerts != expected {
            diff.push(format!(
                "alerts_total: expected {expected}, got {}",
                report.stats.alerts
            ));
        }
    }
    Ok(diff)
}
