//! The benchmark harness behind `nfips bench`: packets held in memory, split over N workers by
//! a symmetric flow hash (as `--queue-balance` would split them over queues), run through the
//! very [`Worker`] that replay and the inline daemon use, K times.
//!
//! Loading (pcap reading or synthetic generation) and partitioning happen before the clock
//! starts; each iteration starts from fresh workers so every iteration sees the same traffic the
//! same way. Not a test: nothing here asserts a speed.

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::decode::DecodeStats;
use crate::decode::{decode, LinkType, Packet, Transport};
use crate::output::OutputHandle;
use crate::source::pcap::{PcapReader, Timestamp};
use crate::stats::WorkerStats;
use crate::worker::{RawPacket, Shared, Worker};

/// Packets in one contiguous buffer: no allocation per packet while benchmarking.
#[derive(Default)]
pub struct PacketArena {
    bytes: Vec<u8>,
    packets: Vec<ArenaPacket>,
}

#[derive(Clone, Copy)]
struct ArenaPacket {
    ts_us: u64,
    link: LinkType,
    start: usize,
    len: usize,
}

impl PacketArena {
    pub fn push(&mut self, ts: Timestamp, link: LinkType, data: &[u8]) {
        self.packets.push(ArenaPacket {
            ts_us: ts.as_micros(),
            link,
            start: self.bytes.len(),
            len: data.len(),
        });
        self.bytes.extend_from_slice(data);
    }

    /// Append every packet of a pcap or pcapng file. A read error names the file and record.
    pub fn load_pcap(&mut self, path: &Path) -> Result<(), String> {
        let mut reader = PcapReader::open(path).map_err(|e| e.to_string())?;
        while let Some(record) = reader.next_record().map_err(|e| e.to_string())? {
            self.push(record.timestamp, record.link, record.data);
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.packets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Total bytes of all packets.
    pub fn bytes(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn raw(&self, index: usize) -> RawPacket<'_> {
        let p = self.packets[index];
        RawPacket {
            link: p.link,
            data: &self.bytes[p.start..p.start + p.len],
            ts_us: p.ts_us,
            pcap_cnt: Some(index as u64 + 1),
            kernel_checksum_unchecked: false,
        }
    }

    /// Packet indexes per worker: both directions of a flow go to the same worker, as the
    /// kernel's queue balancing would send them (here by the whole 5-tuple, not only addresses,
    /// so a single host pair does not pin everything to one worker).
    pub fn partition(&self, workers: usize) -> Vec<Vec<u32>> {
        let workers = workers.max(1);
        let mut out = vec![Vec::new(); workers];
        let hasher = std::hash::RandomState::new();
        let mut stats = DecodeStats::default();
        for index in 0..self.packets.len() {
            let raw = self.raw(index);
            let slot = match decode(raw.link, raw.data, false, &mut stats) {
                Ok(packet) => (symmetric_flow_hash(&packet, &hasher) % workers as u64) as usize,
                Err(_) => 0,
            };
            out[slot].push(index as u32);
        }
        out
    }
}

/// A hash of the 5-tuple that is the same in both directions.
fn symmetric_flow_hash(packet: &Packet<'_>, hasher: &impl BuildHasher) -> u64 {
    let (sport, dport) = match packet.transport {
        Transport::Tcp(tcp) => (tcp.src_port, tcp.dst_port),
        Transport::Udp { src_port, dst_port } => (src_port, dst_port),
        _ => (0, 0),
    };
    let (a, b) = ((packet.src, sport), (packet.dst, dport));
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    let mut h = hasher.build_hasher();
    for (addr, port) in [low, high] {
        match addr {
            IpAddr::V4(v4) => h.write(&v4.octets()),
            IpAddr::V6(v6) => h.write(&v6.octets()),
        }
        h.write_u16(port);
    }
    h.write_u8(packet.ip_proto);
    h.finish()
}

/// What one benchmark run measured.
#[derive(Debug, Default)]
pub struct BenchReport {
    pub packets: u64,
    pub bytes: u64,
    /// Wall time of the processing only, summed over iterations.
    pub elapsed: Duration,
    /// Packets each worker processed (all iterations).
    pub per_worker_packets: Vec<u64>,
    /// CPU time each worker thread used (all iterations): on a machine shared with other work
    /// the wall clock says how much CPU we got, this says what the packets cost.
    pub per_worker_cpu: Vec<Duration>,
    /// Totals of the last iteration (alerts equal replay's over the same traffic).
    pub last_iteration: WorkerStats,
}

impl BenchReport {
    pub fn seconds(&self) -> f64 {
        self.elapsed.as_secs_f64()
    }

    pub fn packets_per_second(&self) -> f64 {
        self.packets as f64 / self.seconds().max(1e-9)
    }

    pub fn gbit_per_second(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.seconds().max(1e-9) / 1e9
    }

    pub fn ns_per_packet(&self) -> f64 {
        self.seconds() * 1e9 / (self.packets as f64).max(1.0)
    }

    /// CPU seconds of all workers.
    pub fn cpu_seconds(&self) -> f64 {
        self.per_worker_cpu.iter().map(Duration::as_secs_f64).sum()
    }

    /// Throughput per CPU-second of worker time: what one fully available core would carry
    /// (two workers scale perfectly when this stays equal to one worker's).
    pub fn gbit_per_cpu_second(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.cpu_seconds().max(1e-9) / 1e9
    }
}

/// CPU time the calling thread has used so far (zero where the clock is unavailable).
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// One worker's share of the packets through the packet path: what a benchmark measures.
/// Never inlined, so that it has a symbol of its own: `benches/callgrind.sh` counts the
/// instructions of this function only (`--toggle-collect`), not rule loading or setup.
#[inline(never)]
pub fn run_worker(worker: &mut Worker, arena: &PacketArena, part: &[u32]) {
    for &index in part {
        std::hint::black_box(worker.process(arena.raw(index as usize)));
    }
}

/// Run `arena` through `workers` fresh workers `iterations` times.
pub fn run(
    arena: &PacketArena,
    shared: &Arc<Shared>,
    workers: usize,
    iterations: u32,
) -> BenchReport {
    let parts = arena.partition(workers);
    let mut report = BenchReport {
        per_worker_packets: vec![0; parts.len()],
        per_worker_cpu: vec![Duration::ZERO; parts.len()],
        ..Default::default()
    };
    for _ in 0..iterations.max(1) {
        // Workers (flow tables, matcher scratch) are built before the clock starts: the
        // figure is the packet path, not the setup.
        let workers: Vec<Worker> = (0..parts.len())
            .map(|id| Worker::with_id(shared.clone(), OutputHandle::none(), id as u16))
            .collect();
        let started = Instant::now();
        let stats: Vec<(WorkerStats, Duration)> = std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .iter()
                .zip(workers)
                .map(|(part, mut worker)| {
                    scope.spawn(move || {
                        let cpu_started = thread_cpu_time();
                        run_worker(&mut worker, arena, part);
                        let cpu = thread_cpu_time().saturating_sub(cpu_started);
                        (worker.stats().clone(), cpu)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("benchmark worker panicked"))
                .collect()
        });
        report.elapsed += started.elapsed();
        let mut total = WorkerStats::default();
        for (id, (s, cpu)) in stats.iter().enumerate() {
            report.per_worker_packets[id] += s.packets;
            report.per_worker_cpu[id] += *cpu;
            total.merge(s);
        }
        report.packets += total.packets;
        report.bytes += total.bytes;
        report.last_iteration = total;
    }
    report
}

/// Peak resident set size of this process in KiB (VmHWM), 0 where unknown.
pub fn peak_rss_kb() -> u64 {
    status_kb("VmHWM:")
}

/// Resident set size of this process now in KiB (VmRSS), 0 where unknown.
pub fn rss_kb() -> u64 {
    status_kb("VmRSS:")
}

/// A `/proc/self/status` field in kB.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(field)?
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::craft::TcpConversation;

    fn arena_of(conversations: &[TcpConversation]) -> PacketArena {
        let mut arena = PacketArena::default();
        for c in conversations {
            for (ts, data) in c.packets() {
                arena.push(*ts, LinkType::RawIp, data);
            }
        }
        arena
    }

    #[test]
    fn both_directions_of_a_flow_go_to_the_same_worker_and_flows_spread() {
        let conversations: Vec<TcpConversation> = (0..64)
            .map(|i| {
                let mut c = TcpConversation::new(
                    &format!("198.18.0.{}:{}", i + 1, 40000 + i),
                    "198.19.0.1:80",
                );
                c.handshake()
                    .client_sends(b"hello", &[])
                    .server_sends(b"world", &[])
                    .close();
                c
            })
            .collect();
        let arena = arena_of(&conversations);
        let parts = arena.partition(2);
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), arena.len());
        let per_flow = conversations[0].packets().len();
        for part in &parts {
            assert!(!part.is_empty(), "64 flows must land on both workers");
            // Packets were pushed flow by flow, so a flow's packets are consecutive indexes;
            // a worker holds whole flows only.
            let mut flows: std::collections::BTreeMap<u32, usize> = Default::default();
            for &i in part {
                *flows.entry(i / per_flow as u32).or_default() += 1;
            }
            assert!(
                flows.values().all(|&n| n == per_flow),
                "a flow was split: {flows:?}"
            );
        }
    }

    #[test]
    fn peak_rss_is_read_on_linux() {
        assert!(peak_rss_kb() > 0);
        assert!(rss_kb() > 0 && rss_kb() <= peak_rss_kb());
    }
}
