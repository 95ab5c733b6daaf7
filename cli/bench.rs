//! `nfips bench`: throughput of the packet path over captures or synthetic traffic held in
//! memory, with N workers fed by a flow hash, K iterations.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use nfips_engine::bench::{peak_rss_kb, rss_kb, run, PacketArena};
use nfips_engine::replay::{expand_pcaps, load_rules, shared_for_replay};
use nfips_engine::source::pcap::PcapWriter;
use nfips_engine::synth::{generate, SynthKind, SynthOptions, SYNTH_LINK};

use crate::common::SettingsArgs;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: SettingsArgs,
    /// Worker threads (packets are split by a symmetric flow hash).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Times the whole traffic is run (fresh workers each time).
    #[arg(long, default_value_t = 1)]
    iterations: u32,
    /// Print one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Generate traffic instead of reading captures: web, mixed, gateway or synflood.
    #[arg(long)]
    synthetic: Option<SynthKind>,
    /// Synthetic: client flows (web, mixed; gateway: client hosts, at most 254 per address
    /// family) or spoofed sources (synflood).
    #[arg(long, default_value_t = 1000)]
    flows: u32,
    /// Synthetic: megabytes of traffic (web, mixed, gateway).
    #[arg(long, default_value_t = 64)]
    megabytes: u64,
    /// Synthetic: random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Synthetic: also write the generated traffic to this pcap file.
    #[arg(long)]
    write_pcap: Option<PathBuf>,
    /// Capture files or directories of them.
    pcaps: Vec<PathBuf>,
}

pub fn run_command(args: Args) -> anyhow::Result<ExitCode> {
    let settings = args.common.settings()?;
    // Rule load is measured on its own, as `nfips rules check` does.
    let load_started = Instant::now();
    let loaded = load_rules(&settings).map_err(|e| anyhow!(e))?;
    let load_ms = load_started.elapsed().as_millis() as u64;
    let load_rss = rss_kb();
    let rule_count = loaded.plan.rules.rules().len();
    // A figure depends on the networks as much as on the rules: say which ones it ran with.
    let (home_net, external_net) = (loaded.report.home_net, loaded.report.external_net);
    let disk_cache = loaded.plan.rules.group_stats().disk_cache;

    let mut arena = PacketArena::default();
    match (args.synthetic, args.pcaps.is_empty()) {
        (Some(_), false) => bail!("give either --synthetic or capture files, not both"),
        (None, true) => {
            bail!("nothing to run: give capture files or --synthetic web|mixed|gateway|synflood")
        }
        (Some(kind), true) => {
            let options = SynthOptions {
                kind,
                flows: args.flows,
                bytes: args.megabytes << 20,
                seed: args.seed,
                ..Default::default()
            };
            let mut writer = match &args.write_pcap {
                Some(path) => Some(PcapWriter::new(
                    std::io::BufWriter::new(
                        std::fs::File::create(path)
                            .with_context(|| format!("creating {}", path.display()))?,
                    ),
                    SYNTH_LINK,
                )?),
                None => None,
            };
            let mut write_error = None;
            generate(&options, |ts, frame| {
                arena.push(ts, SYNTH_LINK, frame);
                if let Some(w) = writer.as_mut() {
                    if let Err(e) = w.write_packet(ts, frame) {
                        write_error.get_or_insert(e);
                    }
                }
            });
            if let Some(e) = write_error {
                bail!(
                    "writing {}: {e}",
                    args.write_pcap
                        .as_deref()
                        .unwrap_or_else(|| "?".as_ref())
                        .display()
                );
            }
            if let Some(w) = writer {
                w.finish()?;
            }
        }
        (None, false) => {
            for file in expand_pcaps(&args.pcaps).map_err(|e| anyhow!(e))? {
                arena.load_pcap(&file).map_err(|e| anyhow!(e))?;
            }
        }
    }

    let shared = shared_for_replay(settings, loaded.plan);
    let report = run(&arena, &shared, args.workers, args.iterations);
    let alerts = report.last_iteration.alerts;
    let peak_rss = peak_rss_kb();
    if args.json {
        let value = serde_json::json!({
            "packets": report.packets,
            "bytes": report.bytes,
            "seconds": report.seconds(),
            "pps": report.packets_per_second(),
            "gbps": report.gbit_per_second(),
            "ns_per_packet": report.ns_per_packet(),
            "alerts": alerts,
            "load_ms": load_ms,
            "rules": rule_count,
            "home_net": home_net,
            "external_net": external_net,
            "mpm_cache": {
                "hits": disk_cache.hits,
                "misses": disk_cache.misses,
                "rejected": disk_cache.rejected,
                "write_errors": disk_cache.write_errors,
                "pruned": disk_cache.pruned,
            },
            "peak_rss_kb": peak_rss,
            "load_rss_kb": load_rss,
            "workers": args.workers,
            "iterations": args.iterations,
            "per_worker_packets": report.per_worker_packets,
            "cpu_seconds": report.cpu_seconds(),
            "gbps_per_cpu": report.gbit_per_cpu_second(),
        });
        println!("{value}");
    } else {
        println!(
            "packets:      {} ({} per iteration)",
            report.packets,
            arena.len()
        );
        println!("bytes:        {}", report.bytes);
        println!("seconds:      {:.3}", report.seconds());
        println!(
            "rate:         {:.0} packets/s  {:.3} Gbit/s  {:.0} ns/packet",
            report.packets_per_second(),
            report.gbit_per_second(),
            report.ns_per_packet()
        );
        let total = report.per_worker_packets.iter().sum::<u64>().max(1) as f64;
        let shares: Vec<String> = report
            .per_worker_packets
            .iter()
            .map(|&n| format!("{:.1}%", n as f64 * 100.0 / total))
            .collect();
        println!(
            "workers:      {} (share {})",
            args.workers,
            shares.join(" ")
        );
        println!(
            "cpu:          {:.3} s of worker CPU  {:.3} Gbit/s per CPU-second",
            report.cpu_seconds(),
            report.gbit_per_cpu_second()
        );
        println!("alerts:       {alerts} (last iteration)");
        println!("rules:        {rule_count} loaded in {load_ms} ms, {load_rss} KiB resident after loading");
        println!("home_net:     {home_net}");
        println!("external_net: {external_net}");
        if disk_cache != Default::default() {
            println!(
                "mpm cache:    {} hits, {} misses, {} rejected, {} write errors, {} pruned",
                disk_cache.hits,
                disk_cache.misses,
                disk_cache.rejected,
                disk_cache.write_errors,
                disk_cache.pruned
            );
        }
        let stats = &report.last_iteration;
        let counter = |prefix: &str, name: &str| {
            stats
                .layer_counters
                .iter()
                .filter(|(p, n, _)| *p == prefix && *n == name)
                .map(|(_, _, v)| *v)
                .sum::<u64>()
        };
        println!(
            "memory:       stream peak {} of stream.memcap {} bytes per worker (summed over workers); {} sessions pruned, {} flows evicted",
            counter("stream", "memuse_peak"),
            shared.settings.stream.memcap,
            counter("stream", "sessions_pruned"),
            stats.flows_evicted
        );
        println!("peak rss:     {peak_rss} KiB");
    }
    Ok(ExitCode::SUCCESS)
}
