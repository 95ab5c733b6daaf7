//! Outputs: EVE JSON lines (Suricata's field names) and fast.log lines, written by one writer
//! thread fed through a bounded channel.
//!
//! Workers build small [`Record`]s (no strings: the rule is referenced through the shared
//! `Arc<RuleSet>`) and hand them over with [`OutputHandle::send`], which never blocks: when the
//! channel is full the record is counted as lost. The writer serialises into reused buffers.
//!
//! Not here: deciding what to log (see [`crate::worker`]).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use nfips_rules::{RuleId, RuleSet};

/// Addresses, ports and protocol of the packet a record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketMeta {
    /// Packet time, microseconds since the Unix epoch.
    pub ts_us: u64,
    pub flow_id: Option<u64>,
    /// 1-based packet number in replay.
    pub pcap_cnt: Option<u64>,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub ip_proto: u8,
    /// ICMP type and code, for ICMP packets.
    pub icmp: Option<(u8, u8)>,
    /// Length of the IP packet.
    pub len: u32,
    pub ttl: u8,
    pub tos: u8,
    pub ip_id: u32,
    /// TCP flags and seq/ack/window, for TCP.
    pub tcp: Option<(u8, u32, u32, u16)>,
}

/// EVE's `alert.action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertAction {
    Allowed,
    Blocked,
}

impl AlertAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertAction::Allowed => "allowed",
            AlertAction::Blocked => "blocked",
        }
    }
}

/// A rule that matched, as logged.
#[derive(Clone)]
pub struct RuleRef {
    pub rules: Arc<RuleSet>,
    pub id: RuleId,
    pub action: AlertAction,
}

/// Why a packet was dropped (EVE `drop.reason`, Suricata's vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    Rules,
    FlowDrop,
    DecodeError,
    StickyDrop,
    /// "stream ..." reasons come from the stream (e.g. "stream memcap").
    Stream(&'static str),
    Defrag(&'static str),
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Rules => "rules",
            DropReason::FlowDrop => "flow drop",
            DropReason::DecodeError => "decode error",
            DropReason::StickyDrop => "stickydrop",
            DropReason::Stream(r) | DropReason::Defrag(r) => r,
        }
    }
}

/// Which ends a reject answers, as recorded in EVE's `verdict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RejectRecord {
    /// true: TCP reset; false: ICMP unreachable.
    pub tcp_reset: bool,
    /// "to_client", "to_server" or "both" (EVE's reject-target).
    pub target: &'static str,
}

/// One output record.
#[derive(Clone)]
pub enum Record {
    Alert {
        meta: PacketMeta,
        rule: RuleRef,
    },
    Drop {
        meta: PacketMeta,
        reason: DropReason,
        rule: Option<RuleRef>,
        reject: Option<RejectRecord>,
    },
    /// A packet dropped because it could not be decoded (no addresses to log).
    DecodeDrop {
        ts_us: u64,
        pcap_cnt: Option<u64>,
    },
    /// Counters at a point in time, written as EVE `stats` with an `nfips` object of
    /// name -> value (Suricata's schema does not know our counter names).
    Stats {
        ts_us: u64,
        counters: Vec<(String, u64)>,
    },
}

/// Where workers send records. Cheap to clone; never blocks.
#[derive(Clone)]
pub struct OutputHandle {
    tx: Option<Sender<Record>>,
    lost: Arc<AtomicU64>,
}

impl OutputHandle {
    /// A handle that discards everything (no outputs configured).
    pub fn none() -> Self {
        OutputHandle {
            tx: None,
            lost: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A handle feeding `tx` (tests and embedders that read records themselves).
    pub fn for_channel(tx: Sender<Record>) -> Self {
        OutputHandle {
            tx: Some(tx),
            lost: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Whether records are wanted at all (skip building them otherwise).
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    pub fn send(&self, record: Record) {
        if let Some(tx) = &self.tx {
            if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = tx.try_send(record)
            {
                self.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Records lost to a full channel so far.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// Totals of the writer thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterTotals {
    pub eve_records: u64,
    pub fast_lines: u64,
}

/// The writer thread; [`Outputs::finish`] flushes and joins it.
pub struct Outputs {
    handle: OutputHandle,
    thread: Option<JoinHandle<io::Result<WriterTotals>>>,
}

impl Outputs {
    /// Open the files and start the writer. With neither file, no thread is started.
    pub fn start(eve: Option<&Path>, fast: Option<&Path>, capacity: usize) -> io::Result<Outputs> {
        let open = |p: Option<&Path>| -> io::Result<Option<BufWriter<File>>> {
            p.map(|p| {
                File::create(p)
                    .map(|f| BufWriter::with_capacity(1 << 16, f))
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))
            })
            .transpose()
        };
        let (eve, fast) = (open(eve)?, open(fast)?);
        if eve.is_none() && fast.is_none() {
            return Ok(Outputs {
                handle: OutputHandle::none(),
                thread: None,
            });
        }
        let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
        let thread = std::thread::Builder::new()
            .name("nfips-output".into())
            .spawn(move || write_loop(rx, eve, fast))?;
        Ok(Outputs {
            handle: OutputHandle {
                tx: Some(tx),
                lost: Arc::new(AtomicU64::new(0)),
            },
            thread: Some(thread),
        })
    }

    pub fn handle(&self) -> OutputHandle {
        self.handle.clone()
    }

    /// Close the channel (every handle must be dropped by now), flush, join.
    pub fn finish(mut self) -> io::Result<WriterTotals> {
        self.handle.tx = None;
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("output writer panicked"))),
            None => Ok(WriterTotals::default()),
        }
    }

    pub fn lost(&self) -> u64 {
        self.handle.lost()
    }
}

fn write_loop(
    rx: Receiver<Record>,
    mut eve: Option<BufWriter<File>>,
    mut fast: Option<BufWriter<File>>,
) -> io::Result<WriterTotals> {
    let mut totals = WriterTotals::default();
    let mut line = String::with_capacity(1024);
    for record in rx {
        if let Some(out) = eve.as_mut() {
            line.clear();
            eve_line(&record, &mut line);
            line.push('\n');
            out.write_all(line.as_bytes())?;
            totals.eve_records += 1;
        }
        if let Some(out) = fast.as_mut() {
            line.clear();
            if fast_line(&record, &mut line) {
                line.push('\n');
                out.write_all(line.as_bytes())?;
                totals.fast_lines += 1;
            }
        }
    }
    for out in [eve.as_mut(), fast.as_mut()].into_iter().flatten() {
        out.flush()?;
    }
    Ok(totals)
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

struct Clock {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    micros: u64,
}

fn clock(ts_us: u64) -> Clock {
    let secs = ts_us / 1_000_000;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let of_day = secs % 86_400;
    Clock {
        year,
        month,
        day,
        hour: of_day / 3600,
        minute: of_day / 60 % 60,
        second: of_day % 60,
        micros: ts_us % 1_000_000,
    }
}

/// `2026-11-24T05:50:28.123456+0000` (UTC).
pub fn iso_timestamp(ts_us: u64, out: &mut String) {
    let c = clock(ts_us);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+0000",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
    );
}

/// `11/24/2026-05:50:28.123456` (fast.log's dated form, UTC).
pub fn fast_timestamp(ts_us: u64, out: &mut String) {
    let c = clock(ts_us);
    let _ = write!(
        out,
        "{:02}/{:02}/{:04}-{:02}:{:02}:{:02}.{:06}",
        c.month, c.day, c.year, c.hour, c.minute, c.second, c.micros
    );
}

/// EVE's `proto` name.
pub fn proto_name(ip_proto: u8) -> Option<&'static str> {
    Some(match ip_proto {
        1 => "ICMP",
        6 => "TCP",
        17 => "UDP",
        47 => "GRE",
        58 => "IPv6-ICMP",
        132 => "SCTP",
        _ => return None,
    })
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn eve_header(out: &mut String, ts_us: u64, event_type: &str) {
    out.push_str("{\"timestamp\":\"");
    iso_timestamp(ts_us, out);
    out.push_str("\",\"event_type\":");
    json_str(out, event_type);
}

fn eve_packet(out: &mut String, m: &PacketMeta) {
    if let Some(id) = m.flow_id {
        let _ = write!(out, ",\"flow_id\":{id}");
    }
    if let Some(cnt) = m.pcap_cnt {
        let _ = write!(out, ",\"pcap_cnt\":{cnt}");
    }
    let _ = write!(out, ",\"src_ip\":\"{}\"", m.src);
    let has_ports = matches!(m.ip_proto, 6 | 17 | 132);
    if has_ports {
        let _ = write!(out, ",\"src_port\":{}", m.src_port);
    }
    let _ = write!(out, ",\"dest_ip\":\"{}\"", m.dst);
    if has_ports {
        let _ = write!(out, ",\"dest_port\":{}", m.dst_port);
    }
    match proto_name(m.ip_proto) {
        Some(name) => {
            let _ = write!(out, ",\"proto\":\"{name}\"");
        }
        None => {
            let _ = write!(out, ",\"proto\":\"{}\"", m.ip_proto);
        }
    }
    if let Some((itype, icode)) = m.icmp {
        let _ = write!(out, ",\"icmp_type\":{itype},\"icmp_code\":{icode}");
    }
    out.push_str(",\"pkt_src\":\"wire/pcap\"");
}

fn eve_alert(out: &mut String, rule: &RuleRef) {
    let r = rule.rules.rule(rule.id);
    let _ = write!(
        out,
        ",\"alert\":{{\"action\":\"{}\",\"gid\":{},\"signature_id\":{},\"rev\":{},\"signature\":",
        rule.action.as_str(),
        r.gid,
        r.sid,
        r.rev
    );
    json_str(out, &r.msg);
    out.push_str(",\"category\":");
    json_str(
        out,
        r.classtype
            .as_deref()
            .map(classtype_description)
            .unwrap_or(""),
    );
    let _ = write!(out, ",\"severity\":{}}}", r.priority);
}

/// The description Snort's classification.config gives a classtype name (the name itself when
/// unknown); EVE's `alert.category` carries the description.
pub fn classtype_description(name: &str) -> &str {
    CLASSTYPES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(name, |(_, d)| d)
}

const CLASSTYPES: &[(&str, &str)] = &[
    ("not-suspicious", "Not Suspicious Traffic"),
    ("unknown", "Unknown Traffic"),
    ("bad-unknown", "Potentially Bad Traffic"),
    ("attempted-recon", "Attempted Information Leak"),
    ("successful-recon-limited", "Information Leak"),
    (
        "successful-recon-largescale",
        "Large Scale Information Leak",
    ),
    ("attempted-dos", "Attempted Denial of Service"),
    ("successful-dos", "Denial of Service"),
    ("attempted-user", "Attempted User Privilege Gain"),
    ("unsuccessful-user", "Unsuccessful User Privilege Gain"),
    ("successful-user", "Successful User Privilege Gain"),
    ("attempted-admin", "Attempted Administrator Privilege Gain"),
    (
        "successful-admin",
        "Successful Administrator Privilege Gain",
    ),
    ("rpc-portmap-decode", "Decode of an RPC Query"),
    ("shellcode-detect", "Executable code was detected"),
    ("string-detect", "A suspicious string was detected"),
    (
        "suspicious-filename-detect",
        "A suspicious filename was detected",
    ),
    (
        "suspicious-login",
        "An attempted login using a suspicious username was detected",
    ),
    ("system-call-detect", "A system call was detected"),
    ("tcp-connection", "A TCP connection was detected"),
    ("trojan-activity", "A Network Trojan was detected"),
    (
        "unusual-client-port-connection",
        "A client was using an unusual port",
    ),
    ("network-scan", "Detection of a Network Scan"),
    (
        "denial-of-service",
        "Detection of a Denial of Service Attack",
    ),
    (
        "non-standard-protocol",
        "Detection of a non-standard protocol or event",
    ),
    ("protocol-command-decode", "Generic Protocol Command Decode"),
    (
        "web-application-activity",
        "access to a potentially vulnerable web application",
    ),
    ("web-application-attack", "Web Application Attack"),
    ("misc-activity", "Misc activity"),
    ("misc-attack", "Misc Attack"),
    ("icmp-event", "Generic ICMP event"),
    (
        "inappropriate-content",
        "Inappropriate Content was Detected",
    ),
    ("policy-violation", "Potential Corporate Privacy Violation"),
    (
        "default-login-attempt",
        "Attempt to login by a default username and password",
    ),
    (
        "targeted-activity",
        "Targeted Malicious Activity was Detected",
    ),
    ("exploit-kit", "Exploit Kit Activity Detected"),
    (
        "external-ip-check",
        "Device Retrieving External IP Address Detected",
    ),
    ("domain-c2", "Domain Observed Used for C2 Detected"),
    ("pup-activity", "Possibly Unwanted Program Detected"),
    ("credential-theft", "Successful Credential Theft Detected"),
    (
        "social-engineering",
        "Possible Social Engineering Attempted",
    ),
    ("coin-mining", "Crypto Currency Mining Activity Detected"),
    (
        "command-and-control",
        "Malware Command and Control Activity Detected",
    ),
];

/// Append the EVE JSON object of a record (no newline).
pub fn eve_line(record: &Record, out: &mut String) {
    match record {
        Record::Alert { meta, rule } => {
            eve_header(out, meta.ts_us, "alert");
            eve_packet(out, meta);
            eve_alert(out, rule);
        }
        Record::Drop {
            meta,
            reason,
            rule,
            reject,
        } => {
            eve_header(out, meta.ts_us, "drop");
            eve_packet(out, meta);
            let _ = write!(
                out,
                ",\"drop\":{{\"len\":{},\"tos\":{},\"ttl\":{},\"ipid\":{}",
                meta.len, meta.tos, meta.ttl, meta.ip_id
            );
            if let Some((flags, seq, ack, win)) = meta.tcp {
                let _ = write!(
                    out,
                    ",\"tcpseq\":{seq},\"tcpack\":{ack},\"tcpwin\":{win},\"syn\":{},\"ack\":{},\"psh\":{},\"rst\":{},\"urg\":{},\"fin\":{}",
                    flags & 0x02 != 0,
                    flags & 0x10 != 0,
                    flags & 0x08 != 0,
                    flags & 0x04 != 0,
                    flags & 0x20 != 0,
                    flags & 0x01 != 0
                );
            }
            out.push_str(",\"reason\":");
            json_str(out, reason.as_str());
            out.push('}');
            if let Some(rule) = rule {
                eve_alert(out, rule);
            }
            out.push_str(",\"verdict\":{\"action\":\"drop\"");
            if let Some(reject) = reject {
                let _ = write!(
                    out,
                    ",\"reject-target\":\"{}\",\"reject\":[\"{}\"]",
                    reject.target,
                    if reject.tcp_reset {
                        "tcp-reset"
                    } else {
                        "icmp-prohib"
                    }
                );
            }
            out.push('}');
        }
        Record::DecodeDrop { ts_us, pcap_cnt } => {
            eve_header(out, *ts_us, "drop");
            if let Some(cnt) = pcap_cnt {
                let _ = write!(out, ",\"pcap_cnt\":{cnt}");
            }
            out.push_str(
                ",\"drop\":{\"reason\":\"decode error\"},\"verdict\":{\"action\":\"drop\"}",
            );
        }
        Record::Stats { ts_us, counters } => {
            eve_header(out, *ts_us, "stats");
            out.push_str(",\"stats\":{\"nfips\":{");
            for (i, (name, value)) in counters.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_str(out, name);
                let _ = write!(out, ":{value}");
            }
            out.push_str("}}");
        }
    }
    out.push('}');
}

/// Append the fast.log line of a record; false for records fast.log does not show.
pub fn fast_line(record: &Record, out: &mut String) -> bool {
    let (meta, rule, dropped) = match record {
        Record::Alert { meta, rule } => (meta, rule, rule.action == AlertAction::Blocked),
        _ => return false,
    };
    let r = rule.rules.rule(rule.id);
    fast_timestamp(meta.ts_us, out);
    out.push_str("  ");
    if dropped {
        out.push_str("[Drop] ");
    }
    let _ = write!(out, "[**] [{}:{}:{}] {} [**]", r.gid, r.sid, r.rev, r.msg);
    if let Some(class) = r.classtype.as_deref() {
        let _ = write!(out, " [Classification: {}]", classtype_description(class));
    }
    let _ = write!(out, " [Priority: {}] {{", r.priority);
    match proto_name(meta.ip_proto) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "PROTO:{:03}", meta.ip_proto);
        }
    }
    out.push_str("} ");
    let endpoint = |out: &mut String, addr: IpAddr, port: u16| {
        let _ = match (matches!(meta.ip_proto, 6 | 17 | 132), addr) {
            (true, _) => write!(out, "{addr}:{port}"),
            (false, _) => write!(out, "{addr}"),
        };
    };
    endpoint(out, meta.src, meta.src_port);
    out.push_str(" -> ");
    endpoint(out, meta.dst, meta.dst_port);
    true
}

/// The EVE path a `--eve` value names: a directory gets `eve.json` inside it.
pub fn resolve_output_path(path: &Path, file_name: &str) -> PathBuf {
    if path.is_dir() {
        path.join(file_name)
    } else {
        path.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_with_microseconds() {
        let mut s = String::new();
        iso_timestamp(1_700_000_000_123_456, &mut s);
        assert_eq!(s, "2023-11-14T22:13:20.123456+0000");
        s.clear();
        fast_timestamp(951_782_400_000_001, &mut s);
        assert_eq!(s, "02/29/2000-00:00:00.000001");
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\n\u{1}");
        assert_eq!(s, r#""a\"b\\c\n\u0001""#);
        let parsed: String = serde_json::from_str(&s).unwrap();
        assert_eq!(parsed, "a\"b\\c\n\u{1}");
    }

    #[test]
    fn full_channel_counts_lost_records() {
        let (tx, _rx) = crossbeam_channel::bounded(1);
        let handle = OutputHandle {
            tx: Some(tx),
            lost: Arc::new(AtomicU64::new(0)),
        };
        let stats = || Record::Stats {
            ts_us: 0,
            counters: vec![],
        };
        handle.send(stats());
        handle.send(stats());
        assert_eq!(handle.lost(), 1);
    }

    #[test]
    fn proto_names_follow_eve() {
        assert_eq!(proto_name(58), Some("IPv6-ICMP"));
        assert_eq!(proto_name(1), Some("ICMP"));
        assert_eq!(proto_name(250), None);
    }
}
