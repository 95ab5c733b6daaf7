//! Replay: run pcap files through the same [`Worker`] the inline daemon uses and report what it
//! decided. Also loads rules into a [`DetectionPlan`] (shared with the daemon) and builds the
//! bundled demo capture.
//!
//! Reject requests are not sent: they appear in the outputs (EVE `verdict.reject`) and counters.
//!
//! Not here: argument parsing, the printed summary or progress bars (see `cli/replay.rs`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nfips_rules::{load_paths, BuildOptions, LoadOptions, LoadReport, RuleSet};

use crate::craft::{PacketBuilder, TcpConversation};
use crate::decode::{tcp_flags, LinkType};
use crate::detect::DetectionPlan;
use crate::output::OutputHandle;
use crate::settings::Settings;
use crate::source::pcap::{PcapReader, PcapWriter, Timestamp};
use crate::stats::WorkerStats;
use crate::stickydrop::StickyDrop;
use crate::tuning;
use crate::worker::{RawPacket, Shared, StickyCheck, Worker};

/// Rules loaded and compiled, with what the load reported.
pub struct LoadedRules {
    pub plan: DetectionPlan,
    pub report: LoadReport,
    pub disabled: usize,
    pub modified: usize,
}

impl LoadedRules {
    /// Vectorscan databases that [`load_rules_deferring`] left to a later load (their sets
    /// use the hash matcher meanwhile).
    pub fn deferred_compiles(&self) -> u64 {
        self.plan.rules.group_stats().disk_cache.deferred
    }

    /// Lines for the operator about the rules' addresses: the HOME_NET and EXTERNAL_NET they
    /// were loaded with and the address classes their groups were split into, then warnings
    /// (HOME_NET left at `any`, sets that did not get a class of their own).
    pub fn address_report(&self) -> Vec<String> {
        let stats = self.plan.rules.group_stats().address;
        let mut lines = vec![format!(
            "HOME_NET {}, EXTERNAL_NET {}: {} address classes over {} distinct address sets",
            self.report.home_net, self.report.external_net, stats.classes, stats.sets
        )];
        if self.report.home_net == "any" && !self.plan.rules.rules().is_empty() {
            lines.push(
                "warning: HOME_NET is any, so rules cannot tell your network from others; \
                 define it (`ipvar HOME_NET [...]` in a --vars file)"
                    .to_string(),
            );
        }
        if stats.sets_over_class_limit > 0 {
            lines.push(format!(
                "warning: {} address sets used by many rules got no class of their own \
                 (detect.address-classes); their rules are checked address by address",
                stats.sets_over_class_limit
            ));
        }
        lines
    }
}

/// Load `settings.rules` (paths, vars, classification), apply the disable and modify lists and
/// threshold.config, and build the plan. Errors name the file (and line).
pub fn load_rules(settings: &Settings) -> Result<LoadedRules, String> {
    load_rules_deferring(settings, false)
}

/// [`load_rules`]; with `defer_compiles`, packet groups and HTTP buffers whose Vectorscan
/// database is not in `detect.cache-dir` get the hash matcher instead of a compile (see
/// [`LoadedRules::deferred_compiles`]).
pub fn load_rules_deferring(
    settings: &Settings,
    defer_compiles: bool,
) -> Result<LoadedRules, String> {
    keep_large_buffers_out_of_the_heap();
    let options = LoadOptions {
        vars_files: settings.rules.vars.clone(),
        classification_file: settings.rules.classification.clone(),
        strict: false,
    };
    let mut report = load_paths(&settings.rules.paths, &options).map_err(|e| e.to_string())?;
    let mut rules = std::mem::take(&mut report.rules);
    let disabled = match &settings.tuning.disable_file {
        Some(path) => tuning::apply_disable(&mut rules, &tuning::load_disable(path)?),
        None => 0,
    };
    let modified = match &settings.tuning.modify_file {
        Some(path) => tuning::apply_modify(&mut rules, &tuning::load_modify(path)?),
        None => 0,
    };
    let thresholds = match &settings.tuning.threshold_file {
        Some(path) => tuning::load_threshold(path)?,
        None => Default::default(),
    };
    let build = BuildOptions {
        action_order: settings.action_order,
        pcre_match_limit: settings.rules.pcre_match_limit.min(u64::from(u32::MAX)) as u32,
        pcre_depth_limit: settings.rules.pcre_depth_limit.min(u64::from(u32::MAX)) as u32,
        retry_limit: settings.rules.retry_limit.min(u64::from(u32::MAX)) as u32,
        pattern_span_cap: settings.rules.pattern_span_cap as usize,
        mpm: settings.detect.mpm,
        mpm_cache_dir: settings.detect.cache_dir.resolve(),
        mpm_defer_compiles: defer_compiles,
        address_classes: settings.detect.address_classes.0,
        mpm_cache_max_age: (settings.detect.cache_max_age_days > 0).then(|| {
            Duration::from_secs(settings.detect.cache_max_age_days.saturating_mul(86_400))
        }),
    };
    let ruleset = Arc::new(RuleSet::build(rules, &build));
    let plan = DetectionPlan::new(ruleset, settings, &thresholds);
    return_freed_heap();
    Ok(LoadedRules {
        plan,
        report,
        disabled,
        modified,
    })
}

/// Loading reads cache entries and builds tables of up to a few MB that live only briefly.
/// glibc raises its mmap threshold after the first such buffer is freed, so later ones come
/// from the heap and leave it fragmented (~5 MB more peak resident memory for ET Open);
/// fixing the threshold at its initial 128 KiB keeps them in their own mappings.
fn keep_large_buffers_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator tunable; any value is valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Gives the heap pages that loading freed (rule text, parse and compile temporaries) back to
/// the kernel. glibc keeps freed memory for reuse; after loading ET Open that is ~9 MB of
/// resident memory no packet will ever need.
fn return_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of glibc's heap to the kernel; it touches
    // no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Capture files named by `paths`: files as given, directories expanded to their `*.pcap`,
/// `*.pcapng` and `*.cap` files sorted by name.
pub fn expand_pcaps(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries =
                std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(
                            p.extension().and_then(|e| e.to_str()),
                            Some("pcap" | "pcapng" | "cap")
                        )
                })
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(format!(
                    "{}: no *.pcap, *.pcapng or *.cap files in this directory",
                    path.display()
                ));
            }
            out.extend(files);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct ReplayReport {
    pub stats: WorkerStats,
    pub files: usize,
    /// Read errors (file: record N at byte offset O: reason); replay went on with the next file.
    pub errors: Vec<String>,
    /// Reject requests recorded (not sent).
    pub reject_requests: u64,
    /// Records lost to a full output channel.
    pub output_lost: u64,
    /// `checksum-validation=auto` stopped validating (the capture has offloaded checksums).
    pub checksums_auto_disabled: bool,
    pub elapsed: Duration,
}

/// Replay `files` in order through one worker. `progress` is called with the bytes read so far
/// every few thousand packets.
pub fn replay(
    files: &[PathBuf],
    shared: Arc<Shared>,
    outputs: OutputHandle,
    mut progress: impl FnMut(u64),
) -> ReplayReport {
    let started = Instant::now();
    let mut worker = Worker::new(shared, outputs.clone());
    let mut report = ReplayReport::default();
    let mut bytes_read = 0u64;
    for file in files {
        report.files += 1;
        let mut reader = match PcapReader::open(file) {
            Ok(reader) => reader,
            Err(err) => {
                report.errors.push(err.to_string());
                continue;
            }
        };
        loop {
            let record = match reader.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(err) => {
                    report.errors.push(err.to_string());
                    break;
                }
            };
            bytes_read += record.data.len() as u64;
            let verdict = worker.process(RawPacket {
                link: record.link,
                data: record.data,
                ts_us: record.timestamp.as_micros(),
                pcap_cnt: Some(record.number),
                kernel_checksum_unchecked: false,
            });
            if verdict.reject.is_some() {
                report.reject_requests += 1;
            }
            if record.number % 4096 == 0 {
                progress(bytes_read);
            }
        }
    }
    progress(bytes_read);
    report.checksums_auto_disabled = worker.checksums_auto_disabled();
    report.stats = worker.stats().clone();
    report.output_lost = outputs.lost();
    report.elapsed = started.elapsed();
    report
}

/// Shared state for a replay: the plan plus an in-memory stickydrop table.
pub fn shared_for_replay(settings: Settings, plan: DetectionPlan) -> Arc<Shared> {
    let sticky: Arc<dyn StickyCheck> =
        Arc::new(StickyDrop::new(settings.stickydrop.max_entries as usize));
    Arc::new(Shared::new(settings, plan, sticky))
}

/// The rules of the bundled demo (also checked in as `demo/demo.rules`).
pub const DEMO_RULES: &str = include_str!("../../demo/demo.rules");

fn ip(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// The demo capture: a small gateway's traffic with a few attacks, built by our own packet
/// crafter (deterministic: same bytes on every run; `demo/demo.pcap` is checked against it).
pub fn demo_pcap() -> Vec<u8> {
    let mut packets: Vec<(Timestamp, Vec<u8>)> = Vec::new();
    let mut add = |offset_secs: u64, conversation: TcpConversation| {
        for (ts, data) in conversation.into_packets() {
            packets.push((
                Timestamp::from_micros(ts.as_micros() + offset_secs * 1_000_000),
                data,
            ));
        }
    };
    // 1. An ordinary web page.
    let mut web =
        TcpConversation::new("192.168.1.10:51000", "93.184.216.34:80").link(LinkType::Ethernet);
    web.handshake()
        .client_sends(
            b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5\r\n\r\n",
            &[],
        )
        .server_sends(
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello world\n",
            &[],
        )
        .close();
    add(0, web);
    // 2. A path traversal attempt: dropped, and the rest of the connection with it.
    let mut traversal =
        TcpConversation::new("203.0.113.66:40000", "192.168.1.20:80").link(LinkType::Ethernet);
    traversal
        .handshake()
        .client_sends(
            b"GET /cgi-bin/../../../../etc/passwd HTTP/1.1\r\nHost: intranet\r\n\r\n",
            &[],
        )
        .client_sends(b"GET /again HTTP/1.1\r\n\r\n", &[])
        .close();
    add(1, traversal);
    // 3. A telnet login as root: rejected (resets to both ends).
    let mut telnet =
        TcpConversation::new("203.0.113.67:40001", "192.168.1.21:23").link(LinkType::Ethernet);
    telnet.handshake().client_sends(b"root\r\n", &[]);
    add(2, telnet);
    // 4. A backup host the admin trusts: passed, although it carries a matching string.
    let mut backup =
        TcpConversation::new("192.168.1.30:52000", "192.168.1.40:873").link(LinkType::Ethernet);
    backup
        .handshake()
        .client_sends(b"@RSYNCD: 31.0 /etc/passwd\n", &[])
        .close();
    add(3, backup);
    // 5. A DNS query for a known-bad domain (alert only), and a ping.
    let dns_query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04evil\x07example\x03com\x00\x00\x01\x00\x01";
    let dns = PacketBuilder::udp("192.168.1.10:53000", "192.168.1.1:53")
        .payload(dns_query)
        .link(LinkType::Ethernet);
    packets.push((Timestamp::new(1_700_000_004, 0), dns.build()));
    let ping = PacketBuilder::icmp_echo("192.168.1.10", "198.51.100.1", 7, 1)
        .payload(b"abcdefgh")
        .link(LinkType::Ethernet);
    packets.push((Timestamp::new(1_700_000_004, 500_000), ping.build()));
    // 6. A SYN scan from one address: a detection_filter rule drops from the 5th probe on.
    for (i, port) in [21u16, 22, 25, 110, 143, 445, 3389].iter().enumerate() {
        let probe = PacketBuilder::tcp_between(
            std::net::SocketAddr::new(ip("198.51.100.99"), 61000),
            std::net::SocketAddr::new(ip("192.168.1.20"), *port),
        )
        .flags(tcp_flags::SYN)
        .seq(1000)
        .link(LinkType::Ethernet);
        packets.push((
            Timestamp::new(1_700_000_005, i as u64 * 1000),
            probe.build(),
        ));
    }
    packets.sort_by_key(|(ts, _)| *ts);
    let mut out = Vec::new();
    if let Ok(mut writer) = PcapWriter::new(&mut out, LinkType::Ethernet) {
        for (ts, data) in &packets {
            // Writing to a Vec cannot fail.
            let _ = writer.write_packet(*ts, data);
        }
        let _ = writer.finish();
    }
    out
}

/// Where the bundled demo lives: `$NFIPS_DEMO`, else `/usr/share/nfips/demo` when installed,
/// else `demo/` in the source tree this binary was built from.
pub fn demo_dir(source_root: &Path) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("NFIPS_DEMO").map(PathBuf::from),
        Some(PathBuf::from("/usr/share/nfips/demo")),
        Some(source_root.join("demo")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| dir.join("demo.pcap").is_file() && dir.join("demo.rules").is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_pcap_is_deterministic_and_readable() {
        let a = demo_pcap();
        assert_eq!(a, demo_pcap());
        let mut reader = PcapReader::from_reader("demo", std::io::Cursor::new(a)).unwrap();
        let mut n = 0;
        while reader.next_record().unwrap().is_some() {
            n += 1;
        }
        assert!(n > 30, "{n}");
    }

    #[test]
    fn checked_in_demo_pcap_matches_the_generator() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/demo.pcap");
        if std::env::var_os("NFIPS_REGENERATE_DEMO").is_some() {
            std::fs::write(&path, demo_pcap()).unwrap();
        }
        let checked_in =
            std::fs::read(&path).expect("demo/demo.pcap (regenerate with NFIPS_REGENERATE_DEMO=1)");
        assert!(
            checked_in == demo_pcap(),
            "demo/demo.pcap differs from demo_pcap(): regenerate with NFIPS_REGENERATE_DEMO=1"
        );
    }

    #[test]
    fn expand_pcaps_lists_captures_of_a_directory_sorted() {
        let dir = std::env::temp_dir().join(format!("nfips-expand-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["b.pcap", "a.pcapng", "notes.txt"] {
            std::fs::write(dir.join(name), b"").unwrap();
        }
        let files = expand_pcaps(std::slice::from_ref(&dir)).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["a.pcapng", "b.pcap"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
