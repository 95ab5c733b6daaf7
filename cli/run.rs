//! `nfips run`: the inline daemon. One thread per NFQUEUE number reads packets, asks the
//! engine for a verdict and answers the kernel.
//!
//! `--accept-all` (hidden) skips the engine and accepts every packet: the floor of any NFQUEUE
//! IPS, used by the inline benchmark. Not here: packet handling itself (engine::worker).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, Context};
use nfips_engine::source::nfqueue::{
    read_kernel_queue_stats, Batch, NfQueue, QueueConfig, QueueCounters, StopHandle,
    VerdictDecision,
};

use crate::firewall::QueueRange;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// NFQUEUE numbers to read: `A:B` (one worker per queue) or `N`; repeatable.
    #[arg(long = "queues", alias = "queue")]
    queues: Vec<QueueRange>,
    /// Accept every packet without inspecting it (benchmark floor).
    #[arg(long, hide = true)]
    accept_all: bool,
}

/// Signals that ask the daemon to stop or reload, as flags a watcher thread polls.
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

fn queue_numbers(ranges: &[QueueRange]) -> Vec<u16> {
    let mut numbers: Vec<u16> = if ranges.is_empty() {
        vec![0]
    } else {
        ranges.iter().flat_map(|r| r.numbers()).collect()
    };
    numbers.sort_unstable();
    numbers.dedup();
    numbers
}

/// Opens every queue first, so a privilege or busy-queue error stops the daemon before it
/// takes any packet.
fn open_queues(numbers: &[u16], stop: &StopHandle) -> anyhow::Result<Vec<NfQueue>> {
    numbers
        .iter()
        .map(|&n| NfQueue::open(QueueConfig::new(n), stop.clone()).map_err(|e| anyhow!("{e}")))
        .collect()
}

fn accept_all(
    queues: Vec<NfQueue>,
    stop: StopHandle,
    signals: Signals,
) -> anyhow::Result<ExitCode> {
    let workers: Vec<_> = queues
        .into_iter()
        .map(|mut queue| {
            thread::Builder::new()
                .name(format!("nfq{}", queue.queue_num()))
                .spawn(move || -> std::io::Result<QueueCounters> {
                    loop {
                        match queue.process(1000, |_| VerdictDecision::ACCEPT)? {
                            Batch::Stopped => break,
                            Batch::Packets(_) | Batch::Idle => {}
                        }
                    }
                    queue.drain(|_| VerdictDecision::ACCEPT)?;
                    Ok(queue.counters().clone())
                })
                .map_err(|e| anyhow!("cannot start a worker thread: {e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    eprintln!(
        "nfips: accepting every packet on {} queue(s); SIGTERM stops",
        workers.len()
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
    let kernel = read_kernel_queue_stats().unwrap_or_default();
    eprintln!(
        "nfips: {} packets, {} bytes, {} gso, {} verdict messages ({} batches), {} enobufs, {} malformed; kernel: {:?}",
        total.packets,
        total.bytes,
        total.gso_packets,
        total.verdict_messages,
        total.verdict_batches,
        total.enobufs,
        total.malformed,
        kernel
    );
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let numbers = queue_numbers(&args.queues);
    let signals = install_signals()?;
    let stop = StopHandle::new().context("creating the stop eventfd")?;
    let queues = open_queues(&numbers, &stop)?;
    if args.accept_all {
        return accept_all(queues, stop, signals);
    }
    Err(anyhow!(
        "the inspecting daemon is not built yet; use --accept-all"
    ))
}
