//! `nfips run`: the inline daemon. One thread per NFQUEUE number reads packets, asks its
//! engine [`Worker`] for a verdict, sends resets for rejects, marks bypassed flows and answers
//! the kernel. The main thread watches signals: SIGHUP reloads the rules (compiled here, off
//! the packet path, then swapped in whole; on error the old rules stay), SIGTERM/SIGINT stop
//! (every packet read gets its verdict, outputs are flushed, exit 0). EVE `stats` records are
//! written every `output.stats-interval` seconds and once at exit.
//!
//! `--accept-all` (hidden) skips the engine and accepts every packet: the floor of any NFQUEUE
//! IPS, used by the inline benchmark. Not here: packet handling itself (engine::worker).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use nfips_engine::decode::LinkType;
use nfips_engine::output::{resolve_output_path, OutputHandle, Outputs, Record};
use nfips_engine::reject::{forge_reject, Forged, RawSender, RejectCounters, Subject};
use nfips_engine::replay::{load_rules, load_rules_deferring};
use nfips_engine::settings::Settings;
use nfips_engine::source::nfqueue::{
    read_kernel_queue_stats, Batch, KernelQueueStats, NfQueue, QueueConfig, QueueCounters,
    QueuedPacket, StopHandle, VerdictDecision,
};
use nfips_engine::stats::WorkerStats;
use nfips_engine::stickydrop::{KernelSetTable, StickyDrop};
use nfips_engine::worker::{RawPacket, Shared, StickyCheck, Worker};

use crate::common::SettingsArgs;
use crate::firewall::QueueRange;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    common: SettingsArgs,
    /// NFQUEUE numbers to read: `A:B` (one worker per queue) or `N`; repeatable; replaces
    /// `queue.queues`.
    #[arg(long = "queues", alias = "queue")]
    queues: Vec<QueueRange>,
    /// EVE JSON output file (or a directory to put eve.json in).
    #[arg(long)]
    eve: Option<PathBuf>,
    /// Print the effective settings (with their descriptions) and exit.
    #[arg(long)]
    print_config: bool,
    /// Accept every packet without inspecting it (benchmark floor).
    #[arg(long, hide = true)]
    accept_all: bool,
}

/// Signals that ask the daemon to stop or reload, as flags the main thread polls.
struct Signals {
    stop: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
}

fn install_signals() -> anyhow::Result<Signals> {
    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload))
        .context("installing signal handlers")?;
    Ok(Signals { stop, reload })
}

/// Settings from defaults, then `--config`, then flags.
fn effective_settings(args: &Args) -> anyhow::Result<Settings> {
    let mut settings = args.common.settings()?;
    if !args.queues.is_empty() {
        let mut numbers: Vec<u16> = args.queues.iter().flat_map(|r| r.numbers()).collect();
        numbers.sort_unstable();
        numbers.dedup();
        settings.queue.queues = numbers;
    }
    if let Some(eve) = &args.eve {
        settings.output.eve = Some(resolve_output_path(eve, "eve.json"));
    }
    if settings.queue.queues.is_empty() {
        bail!("no NFQUEUE number to read: give --queues or set queue.queues");
    }
    Ok(settings)
}

fn queue_config(settings: &Settings, queue_num: u16) -> QueueConfig {
    QueueConfig {
        max_len: settings.queue.maxlen.min(u64::from(u32::MAX)) as u32,
        fail_open: settings.queue.fail_open,
        rcvbuf_bytes: settings.queue.rcvbuf.min(1 << 30) as usize,
        ..QueueConfig::new(queue_num)
    }
}

/// Opens every queue first, so a privilege or busy-queue error stops the daemon before it
/// takes any packet.
fn open_queues(settings: &Settings, stop: &StopHandle) -> anyhow::Result<Vec<NfQueue>> {
    settings
        .queue
        .queues
        .iter()
        .map(|&n| {
            NfQueue::open(queue_config(settings, n), stop.clone()).map_err(|e| anyhow!("{e}"))
        })
        .collect()
}

/// Warns (once, on stderr) when neither iptables nor ip6tables has an NFQUEUE rule.
fn warn_without_nfqueue_rule() {
    let has_rule = ["iptables-save", "ip6tables-save"].iter().any(|program| {
        std::process::Command::new(program)
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("NFQUEUE"))
    });
    if !has_rule {
        eprintln!(
            "nfips: warning: no NFQUEUE rule is installed, so no packet will reach nfips; \
             run `nfips firewall --apply` (see `nfips firewall` for the rules)"
        );
    }
}

/// Wall-clock microseconds: packet time inline (EVE timestamps, flow timeouts, stickydrop).
fn wall_clock_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Counters owned by the daemon rather than by one worker.
#[derive(Default)]
struct DaemonCounters {
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    bypass_marked: AtomicU64,
    rejects_rate_limited: AtomicU64,
}

/// What every worker thread shares.
struct Daemon {
    shared: Arc<Shared>,
    sticky: Arc<StickyDrop>,
    sender: RawSender,
    rejects: RejectCounters,
    counters: DaemonCounters,
    bypass_mark: u32,
    reject_per_second: u64,
    icmp_unreachable: bool,
}

/// The latest counters of one worker, published now and then for the stats records.
#[derive(Clone, Default)]
struct Snapshot {
    queue_num: u16,
    worker: WorkerStats,
    queue: QueueCounters,
}

/// At most `limit` rejects per second per worker (0 = unlimited).
struct RejectLimiter {
    limit: u64,
    second: u64,
    used: u64,
}

impl RejectLimiter {
    fn allow(&mut self, now_us: u64) -> bool {
        if self.limit == 0 {
            return true;
        }
        let second = now_us / 1_000_000;
        if second != self.second {
            self.second = second;
            self.used = 0;
        }
        self.used += 1;
        self.used <= self.limit
    }
}

/// One worker's packet handling: engine verdict, rejects, bypass mark.
struct PacketHandler {
    worker: Worker,
    daemon: Arc<Daemon>,
    forged: [Forged; 2],
    limiter: RejectLimiter,
}

impl PacketHandler {
    fn decide(&mut self, packet: &QueuedPacket<'_>) -> VerdictDecision {
        let now_us = wall_clock_us();
        let verdict = self.worker.process(RawPacket {
            link: LinkType::RawIp,
            data: packet.payload,
            ts_us: now_us,
            pcap_cnt: None,
            kernel_checksum_unchecked: packet.checksum_not_ready,
        });
        if let Some(request) = &verdict.reject {
            if self.limiter.allow(now_us) {
                let count = forge_reject(
                    &Subject::from_request(request),
                    request.target,
                    None,
                    self.daemon.icmp_unreachable,
                    &mut self.forged,
                );
                self.daemon
                    .sender
                    .send_all(&self.forged[..count], &self.daemon.rejects);
            } else {
                self.daemon
                    .counters
                    .rejects_rate_limited
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        let mark = (verdict.accept && verdict.bypass).then(|| {
            self.daemon
                .counters
                .bypass_marked
                .fetch_add(1, Ordering::Relaxed);
            (self.daemon.bypass_mark, self.daemon.bypass_mark)
        });
        VerdictDecision {
            accept: verdict.accept,
            mark,
        }
    }
}

const PUBLISH_EVERY: Duration = Duration::from_millis(500);

fn worker_loop(
    mut queue: NfQueue,
    mut handler: PacketHandler,
    slot: Arc<Mutex<Snapshot>>,
) -> std::io::Result<()> {
    let mut published = Instant::now();
    let publish = |queue: &NfQueue, handler: &mut PacketHandler| {
        let mut snapshot = slot.lock().unwrap_or_else(|p| p.into_inner());
        snapshot.worker = handler.worker.stats().clone();
        snapshot.queue = queue.counters().clone();
    };
    loop {
        let batch = queue.process(200, |packet| handler.decide(packet))?;
        if batch == Batch::Stopped {
            break;
        }
        if published.elapsed() >= PUBLISH_EVERY {
            publish(&queue, &mut handler);
            published = Instant::now();
        }
    }
    queue.drain(|packet| handler.decide(packet))?;
    publish(&queue, &mut handler);
    Ok(())
}

fn queue_counter_pairs(counters: &QueueCounters) -> [(&'static str, u64); 14] {
    [
        ("packets", counters.packets),
        ("bytes", counters.bytes),
        ("accepted", counters.accepted),
        ("dropped", counters.dropped),
        ("verdict_messages", counters.verdict_messages),
        ("verdict_batches", counters.verdict_batches),
        ("receive_calls", counters.receive_calls),
        ("enobufs", counters.enobufs),
        ("malformed", counters.malformed),
        ("truncated", counters.truncated),
        ("kernel_errors", counters.kernel_errors),
        ("checksum_not_ready", counters.checksum_not_ready),
        ("gso_packets", counters.gso_packets),
        ("setup_accepted", counters.setup_accepted),
    ]
}

/// Every counter, totals first, then per worker, then the kernel's per-queue numbers.
fn stats_counters(
    daemon: &Daemon,
    snapshots: &[Snapshot],
    kernel: &[KernelQueueStats],
    output_lost: u64,
) -> Vec<(String, u64)> {
    let mut total = WorkerStats::default();
    let mut total_queue = QueueCounters::default();
    for snapshot in snapshots {
        total.merge(&snapshot.worker);
        total_queue.add(&snapshot.queue);
    }
    let mut out = total.counters();
    for (name, value) in queue_counter_pairs(&total_queue) {
        out.push((format!("nfqueue.{name}"), value));
    }
    let relaxed = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let sticky = &daemon.sticky.counters;
    let daemon_counters = [
        (
            "reject.tcp_resets_sent",
            relaxed(&daemon.rejects.tcp_resets_sent),
        ),
        (
            "reject.icmp_unreachables_sent",
            relaxed(&daemon.rejects.icmp_unreachables_sent),
        ),
        ("reject.send_errors", relaxed(&daemon.rejects.send_errors)),
        (
            "reject.rate_limited",
            relaxed(&daemon.counters.rejects_rate_limited),
        ),
        ("bypass_marked", relaxed(&daemon.counters.bypass_marked)),
        ("reloads", relaxed(&daemon.counters.reloads)),
        ("reload_failures", relaxed(&daemon.counters.reload_failures)),
        ("output_lost", output_lost),
        ("stickydrop.entries", daemon.sticky.len() as u64),
        ("stickydrop.hits", relaxed(&sticky.hits)),
        ("stickydrop.added", relaxed(&sticky.added)),
        ("stickydrop.extended", relaxed(&sticky.extended)),
        ("stickydrop.evicted", relaxed(&sticky.evicted)),
        ("stickydrop.expired", relaxed(&sticky.expired)),
        (
            "stickydrop.kernel_set_added",
            relaxed(&sticky.kernel_set_added),
        ),
        (
            "stickydrop.kernel_set_dropped",
            relaxed(&sticky.kernel_set_dropped),
        ),
    ];
    out.extend(
        daemon_counters
            .into_iter()
            .map(|(name, value)| (name.to_string(), value)),
    );
    for snapshot in snapshots {
        let prefix = format!("worker.{}", snapshot.queue_num);
        for (name, value) in snapshot.worker.counters() {
            out.push((format!("{prefix}.{name}"), value));
        }
        for (name, value) in queue_counter_pairs(&snapshot.queue) {
            out.push((format!("{prefix}.nfqueue.{name}"), value));
        }
    }
    for queue in kernel {
        let prefix = format!("kernel.queue.{}", queue.queue_num);
        out.push((
            format!("{prefix}.queue_total"),
            u64::from(queue.queue_total),
        ));
        out.push((
            format!("{prefix}.queue_dropped"),
            u64::from(queue.queue_dropped),
        ));
        out.push((
            format!("{prefix}.user_dropped"),
            u64::from(queue.user_dropped),
        ));
        out.push((
            format!("{prefix}.id_sequence"),
            u64::from(queue.id_sequence),
        ));
    }
    out
}

fn snapshots(slots: &[Arc<Mutex<Snapshot>>]) -> Vec<Snapshot> {
    slots
        .iter()
        .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).clone())
        .collect()
}

fn reload(daemon: &Daemon, settings: &Settings) {
    let started = Instant::now();
    match load_and_swap(daemon, settings, None) {
        Ok((rules, _)) => eprintln!(
            "nfips: reloaded {rules} rules in {} ms",
            started.elapsed().as_millis()
        ),
        Err(err) => eprintln!("nfips: reload failed, the previous rules stay in force: {err}"),
    }
}

/// Loads the rules and swaps them in, counting a reload (or a failed one); with `generation`,
/// only if no plan was swapped in since [`Shared::plan_generation`] returned it. Returns the
/// number of rules and whether they were swapped in.
fn load_and_swap(
    daemon: &Daemon,
    settings: &Settings,
    generation: Option<u64>,
) -> Result<(usize, bool), String> {
    let loaded = load_rules(settings).inspect_err(|_| {
        daemon
            .counters
            .reload_failures
            .fetch_add(1, Ordering::Relaxed);
    })?;
    let rules = loaded.plan.rules.rules().len();
    let swapped = daemon
        .shared
        .swap_plan_unless_changed_since(generation, loaded.plan);
    if swapped {
        daemon.counters.reloads.fetch_add(1, Ordering::Relaxed);
    }
    Ok((rules, swapped))
}

/// `detect.fast-start`: the daemon inspects with the hash matcher standing in for `deferred`
/// Vectorscan databases; build the full plan (compiling them into the cache) on a thread of
/// its own and swap it in, unless a reload replaced the plan meanwhile.
fn compile_in_background(daemon: &Arc<Daemon>, settings: &Settings, deferred: u64) {
    eprintln!(
        "nfips: compiling {deferred} Vectorscan databases in the background; the hash matcher stands in until then"
    );
    let generation = daemon.shared.plan_generation();
    let (daemon, settings) = (Arc::clone(daemon), settings.clone());
    let spawned = thread::Builder::new()
        .name("nfips-compile".into())
        .spawn(move || {
            let started = Instant::now();
            match load_and_swap(&daemon, &settings, Some(generation)) {
                Ok((_, true)) => eprintln!(
                    "nfips: Vectorscan databases compiled in {} ms and in use",
                    started.elapsed().as_millis()
                ),
                Ok((_, false)) => eprintln!(
                    "nfips: background compile finished after a reload; the reloaded rules stay"
                ),
                Err(err) => {
                    eprintln!("nfips: background compile failed, the hash matcher stays: {err}")
                }
            }
        });
    if let Err(err) = spawned {
        eprintln!("nfips: cannot start the background compile ({err}); the hash matcher stays");
    }
}

fn sticky_table(settings: &Settings) -> StickyDrop {
    let table = StickyDrop::new(settings.stickydrop.max_entries.min(usize::MAX as u64) as usize);
    match settings.stickydrop.kernel_set.trim() {
        "" | "false" | "no" => table,
        "true" | "yes" => table.with_kernel_set(KernelSetTable::default()),
        family_and_table => table.with_kernel_set(KernelSetTable {
            family_and_table: family_and_table.to_string(),
            ..KernelSetTable::default()
        }),
    }
}

fn inspect(settings: Settings, signals: Signals) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let loaded =
        load_rules_deferring(&settings, settings.detect.fast_start).map_err(|e| anyhow!("{e}"))?;
    let rule_count = loaded.plan.rules.rules().len();
    let deferred = loaded.deferred_compiles();
    for line in loaded.address_report() {
        eprintln!("nfips: {line}");
    }
    let sticky = Arc::new(sticky_table(&settings));
    let sticky_check: Arc<dyn StickyCheck> = sticky.clone();
    let outputs = Outputs::start(
        settings.output.eve.as_deref(),
        settings.output.fast.as_deref(),
        settings.output.channel_capacity.min(1 << 24) as usize,
    )
    .context("opening the outputs")?;
    let sender = RawSender::open()?;
    let stop = StopHandle::new().context("creating the stop eventfd")?;
    let queues = open_queues(&settings, &stop)?;
    warn_without_nfqueue_rule();
    let daemon = Arc::new(Daemon {
        shared: Arc::new(Shared::new(settings.clone(), loaded.plan, sticky_check)),
        sticky,
        sender,
        rejects: RejectCounters::default(),
        counters: DaemonCounters::default(),
        bypass_mark: settings.queue.bypass_mark,
        reject_per_second: settings.reject.max_per_second,
        icmp_unreachable: settings.reject.icmp_unreachable,
    });
    let mut slots = Vec::new();
    let mut threads = Vec::new();
    for (index, queue) in queues.into_iter().enumerate() {
        let slot = Arc::new(Mutex::new(Snapshot {
            queue_num: queue.queue_num(),
            ..Snapshot::default()
        }));
        slots.push(Arc::clone(&slot));
        let daemon = Arc::clone(&daemon);
        let output: OutputHandle = outputs.handle();
        let thread = thread::Builder::new()
            .name(format!("nfq{}", queue.queue_num()))
            .spawn(move || {
                let handler = PacketHandler {
                    worker: Worker::with_id(Arc::clone(&daemon.shared), output, index as u16),
                    limiter: RejectLimiter {
                        limit: daemon.reject_per_second,
                        second: 0,
                        used: 0,
                    },
                    daemon,
                    forged: [Forged::default(), Forged::default()],
                };
                worker_loop(queue, handler, slot)
            })
            .map_err(|e| anyhow!("cannot start a worker thread: {e}"))?;
        threads.push(thread);
    }
    eprintln!(
        "nfips: inspecting with {rule_count} rules on queue(s) {:?} (ready in {} ms)",
        settings.queue.queues,
        started.elapsed().as_millis()
    );
    if deferred > 0 {
        compile_in_background(&daemon, &settings, deferred);
    }
    let stats_output = outputs.handle();
    let interval = Duration::from_secs(settings.output.stats_interval);
    let mut last_stats = Instant::now();
    while !signals.stop.load(Ordering::Relaxed) {
        if signals.reload.swap(false, Ordering::Relaxed) {
            reload(&daemon, &settings);
        }
        if !interval.is_zero() && last_stats.elapsed() >= interval {
            // Stickydrop deadlines are on the packet clock: wall-clock time inline.
            daemon
                .sticky
                .purge_expired(wall_clock_us().saturating_mul(1000));
            let kernel = read_kernel_queue_stats().unwrap_or_default();
            let counters = stats_counters(&daemon, &snapshots(&slots), &kernel, outputs.lost());
            stats_output.send(Record::Stats {
                ts_us: wall_clock_us(),
                counters,
            });
            last_stats = Instant::now();
        }
        if threads.iter().any(|t| t.is_finished()) {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    // The kernel forgets a queue once its socket closes: read its counters first.
    let kernel = read_kernel_queue_stats().unwrap_or_default();
    stop.stop();
    let mut failure = None;
    for thread in threads {
        match thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(err)) => failure = Some(anyhow!("reading NFQUEUE failed: {err}")),
            Err(_) => failure = Some(anyhow!("a worker thread panicked")),
        }
    }
    let final_snapshots = snapshots(&slots);
    let counters = stats_counters(&daemon, &final_snapshots, &kernel, outputs.lost());
    stats_output.send(Record::Stats {
        ts_us: wall_clock_us(),
        counters: counters.clone(),
    });
    drop(stats_output);
    let totals = outputs.finish().context("flushing the outputs")?;
    let get = |name: &str| {
        counters
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    };
    eprintln!(
        "nfips: stopped: {} packets, {} dropped, {} alerts, {} resets sent, {} EVE records",
        get("packets"),
        get("dropped"),
        get("alerts"),
        get("reject.tcp_resets_sent"),
        totals.eve_records
    );
    match failure {
        Some(err) => Err(err),
        None => Ok(ExitCode::SUCCESS),
    }
}

fn accept_all(settings: &Settings, signals: Signals) -> anyhow::Result<ExitCode> {
    let stop = StopHandle::new().context("creating the stop eventfd")?;
    let queues = open_queues(settings, &stop)?;
    let workers: Vec<_> = queues
        .into_iter()
        .map(|mut queue| {
            thread::Builder::new()
                .name(format!("nfq{}", queue.queue_num()))
                .spawn(move || -> std::io::Result<QueueCounters> {
                    while queue.process(1000, |_| VerdictDecision::ACCEPT)? != Batch::Stopped {}
                    queue.drain(|_| VerdictDecision::ACCEPT)?;
                    Ok(queue.counters().clone())
                })
                .map_err(|e| anyhow!("cannot start a worker thread: {e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    eprintln!(
        "nfips: accepting every packet on queue(s) {:?}; SIGTERM stops",
        settings.queue.queues
    );
    while !signals.stop.load(Ordering::Relaxed) {
        signals.reload.store(false, Ordering::Relaxed);
        thread::sleep(Duration::from_millis(100));
    }
    stop.stop();
    let mut total = QueueCounters::default();
    for worker in workers {
        let counters = worker
            .join()
            .map_err(|_| anyhow!("a worker thread panicked"))?
            .context("reading NFQUEUE")?;
        total.add(&counters);
    }
    let summary: Vec<String> = queue_counter_pairs(&total)
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    eprintln!("nfips: stopped: {}", summary.join(" "));
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = effective_settings(&args)?;
    if args.print_config {
        print!("{}", settings.to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    let signals = install_signals()?;
    if args.accept_all {
        return accept_all(&settings, signals);
    }
    if settings.rules.paths.is_empty() {
        bail!("no rules to inspect with: give --rules FILE|DIR or set rules.paths in --config");
    }
    inspect(settings, signals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: Args,
    }

    fn settings_from(argv: &[&str]) -> anyhow::Result<Settings> {
        let mut full = vec!["run"];
        full.extend_from_slice(argv);
        effective_settings(&Wrapper::try_parse_from(full).expect("args").args)
    }

    #[test]
    fn flags_override_settings() {
        let settings = settings_from(&[
            "--queues",
            "2:3",
            "--queue",
            "7",
            "--set",
            "queue.maxlen=99",
            "--rules",
            "a.rules",
        ])
        .expect("settings");
        assert_eq!(settings.queue.queues, vec![2, 3, 7]);
        assert_eq!(settings.queue.maxlen, 99);
        assert_eq!(settings.rules.paths, vec![PathBuf::from("a.rules")]);
        let config = queue_config(&settings, 3);
        assert_eq!((config.queue_num, config.max_len), (3, 99));
    }

    #[test]
    fn config_file_then_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("nfips.toml");
        std::fs::write(&config, "[queue]\nmaxlen = 123\nqueues = [4, 5]\n").expect("write");
        let path = config.display().to_string();
        let settings = settings_from(&["--config", &path]).expect("settings");
        assert_eq!(
            (settings.queue.maxlen, settings.queue.queues.clone()),
            (123, vec![4, 5])
        );
        let settings =
            settings_from(&["--config", &path, "--set", "queue.maxlen=7", "--queue", "9"])
                .expect("settings");
        assert_eq!((settings.queue.maxlen, settings.queue.queues), (7, vec![9]));
        std::fs::write(&config, "[queue]\nnonsense = 1\n").expect("write");
        let err = settings_from(&["--config", &path]).expect_err("unknown key");
        assert!(
            err.to_string().contains("nfips.toml") && err.to_string().contains("nonsense"),
            "{err}"
        );
    }

    #[test]
    fn bad_set_names_the_key() {
        let err = settings_from(&["--set", "queue.nonsense=1"]).expect_err("unknown key");
        assert!(err.to_string().contains("queue.nonsense"), "{err}");
    }

    #[test]
    fn reject_limiter_allows_the_limit_per_second() {
        let mut limiter = RejectLimiter {
            limit: 2,
            second: 0,
            used: 0,
        };
        let allowed: Vec<bool> = [10, 20, 30]
            .iter()
            .map(|&us| limiter.allow(5_000_000 + us))
            .collect();
        assert_eq!(allowed, vec![true, true, false]);
        assert!(limiter.allow(6_000_000));
        let mut unlimited = RejectLimiter {
            limit: 0,
            second: 0,
            used: 0,
        };
        assert!((0..100).all(|n| unlimited.allow(n)));
    }
}
