//! Runs the HTTP parser over the reassembled TCP streams of pcap files and prints what it saw:
//! requests, responses, malformations and limits by counter, and the time spent.
//!
//! `cargo run --release -p nfips-engine --example http_pcaps -- [--rules RULES_DIR] FILE_OR_DIR...`
//!
//! A measuring tool for the parser on real captures (see [`nfips_engine::http::capture`]); not a
//! replay: no verdicts. Streams start midstream when the capture missed the handshake. With
//! `--rules`, every HTTP event also runs `RuleSet::detect_app` over the rules of that directory
//! that read HTTP buffers (one rule per line, default variables, HTTP inspection on) and the
//! alerts are counted by sid.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use nfips_engine::decode::{Packet, Transport};
use nfips_engine::http::{Direction, HttpEventView};
use nfips_rules::ast::Origin;
use nfips_rules::classification::Classifications;
use nfips_rules::parse::{parse_rule, ParseContext, PcreCache};
use nfips_rules::ruleset::{
    BufferKind, BuildOptions, FlowBits, FlowContext, IpFields, PacketContext, RuleSet, TcpFields,
};
use nfips_rules::vars::Vars;

use nfips_engine::http::capture::HttpCapture;
use nfips_engine::http::{HttpCounters, HttpSettings};
use nfips_engine::source::pcap::PcapReader;

#[derive(Default)]
struct Totals {
    files: usize,
    packets: u64,
    stream_bytes: u64,
    events: u64,
    flows: usize,
    http_flows: usize,
    counters: HttpCounters,
    alerts: BTreeMap<u32, u64>,
}

/// The HTTP rules of every `*.rules` file in `dir`, read one per line.
fn load_http_rules(dir: &Path) -> RuleSet {
    let classes = Classifications::builtin();
    let mut cache = PcreCache::new();
    let mut vars = Vars::with_defaults();
    let mut rules = Vec::new();
    for file in files_with(dir, &["rules"]) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let name: Arc<str> = Arc::from(file.display().to_string());
        for (line, rule_text) in text.lines().enumerate() {
            let rule_text = rule_text.trim();
            if rule_text.is_empty() || rule_text.starts_with('#') {
                continue;
            }
            let mut ctx = ParseContext {
                vars: &mut vars,
                classes: &classes,
                pcre_cache: &mut cache,
            };
            let origin = Origin {
                file: Arc::clone(&name),
                line: line + 1,
            };
            if let Ok(rule) = parse_rule(rule_text, origin, &mut ctx) {
                if rule.reads_app_buffers() {
                    rules.push(rule);
                }
            }
        }
    }
    eprintln!("{} HTTP rules from {}", rules.len(), dir.display());
    RuleSet::build(rules, &BuildOptions::default())
}

/// The rule context of an HTTP event's packet (established TCP; the direction from the view).
fn context(view: &HttpEventView, packet: &Packet) -> PacketContext {
    let (src_port, dst_port, tcp) = match packet.transport {
        Transport::Tcp(tcp) => (
            tcp.src_port,
            tcp.dst_port,
            Some(TcpFields {
                flags: tcp.flags,
                seq: tcp.seq,
                ack: tcp.ack,
                window: tcp.window,
            }),
        ),
        _ => (0, 0, None),
    };
    PacketContext {
        ip_proto: packet.ip_proto,
        src: packet.src,
        dst: packet.dst,
        src_port,
        dst_port,
        ip: IpFields {
            ttl: packet.ttl,
            tos: packet.tos,
            id: packet.ip_id,
            options: packet.ip_options,
            fragbits: packet.fragbits,
        },
        tcp,
        icmp: None,
        flow: FlowContext {
            established: true,
            to_server: view.direction == Direction::ToServer,
            app_proto: Some(nfips_rules::ast::AppProto::Http),
        },
        buffer: BufferKind::Stream,
        dsize: packet.payload.len(),
        stream_events: 0,
    }
}

fn run_file(path: &Path, rules: Option<&RuleSet>, totals: &mut Totals) -> Result<(), String> {
    let mut scratch = rules.map(RuleSet::new_scratch);
    let mut bits = FlowBits::default();
    let mut out = Vec::new();
    let mut reader = PcapReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut capture = HttpCapture::new(HttpSettings::default());
    let mut result = Ok(());
    loop {
        match reader.next_record() {
            Ok(Some(record)) => {
                totals.packets += 1;
                let time = record.timestamp.as_micros();
                capture.packet(record.link, record.data, time, |view, packet, matched| {
                    totals.events += 1;
                    if let (Some(set), Some(scratch)) = (rules, scratch.as_mut()) {
                        out.clear();
                        let ctx = context(view, packet);
                        set.detect_app(&ctx, view, &mut bits, scratch, &mut out);
                        matched.extend(out.iter().map(|id| id.0));
                    }
                });
                if let Some(set) = rules {
                    for &rule in capture.alerts() {
                        *totals
                            .alerts
                            .entry(set.rules()[rule as usize].sid)
                            .or_default() += 1;
                    }
                }
            }
            Ok(None) => break,
            // A cut-off capture: keep what was read, say so.
            Err(error) => {
                result = Err(format!("{}: {error}", path.display()));
                break;
            }
        }
    }
    let (flows, http_flows) = capture.flow_counts();
    totals.files += 1;
    totals.flows += flows;
    totals.http_flows += http_flows;
    totals.stream_bytes += capture.stream_bytes;
    totals.counters.add(&capture.inspector.counters);
    result
}

/// `path` itself, or the files in directory `path` with one of `extensions`, sorted.
fn files_with(path: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| {
        p.extension()
            .is_some_and(|e| extensions.iter().any(|x| e == *x))
    });
    files.sort();
    files
}

fn main() {
    let mut args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let rules = match args.iter().position(|a| a.as_os_str() == "--rules") {
        Some(at) if at + 1 < args.len() => {
            let dir = args.remove(at + 1);
            args.remove(at);
            Some(load_http_rules(&dir))
        }
        _ => None,
    };
    if args.is_empty() {
        eprintln!("usage: http_pcaps [--rules RULES_DIR] FILE_OR_DIR...");
        std::process::exit(2);
    }
    let started = Instant::now();
    let mut totals = Totals::default();
    for file in args.iter().flat_map(|a| files_with(a, &["pcap", "pcapng"])) {
        if let Err(message) = run_file(&file, rules.as_ref(), &mut totals) {
            eprintln!("note: {message}");
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "files {} packets {} flows {} http_flows {} stream_bytes {} events {}",
        totals.files,
        totals.packets,
        totals.flows,
        totals.http_flows,
        totals.stream_bytes,
        totals.events
    );
    println!(
        "seconds {seconds:.3} (read, decode, reassembly and HTTP parsing) = {:.0} MB/s of stream bytes",
        totals.stream_bytes as f64 / seconds / 1e6
    );
    for (name, value) in totals.counters.iter().filter(|(_, v)| *v > 0) {
        println!("  {name} {value}");
    }
    if rules.is_some() {
        let total: u64 = totals.alerts.values().sum();
        println!("alerts {total} from {} sids", totals.alerts.len());
        for (sid, count) in &totals.alerts {
            println!("  sid {sid} {count}");
        }
    }
}
