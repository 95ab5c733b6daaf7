//! Runs the HTTP parser over the reassembled TCP streams of pcap files and prints what it saw:
//! requests, responses, malformations and limits by counter, and the time spent parsing.
//!
//! `cargo run -p nfips-engine --example http_pcaps -- FILE_OR_DIR...`
//!
//! A measuring tool for the parser on real captures (the engine's packet path wires HTTP into
//! detection itself); not a replay: no rules, no verdicts. Streams start midstream when the
//! capture missed the handshake.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nfips_engine::decode::{decode, DecodeStats, Transport};
use nfips_engine::http::{
    Direction, HttpCounters, HttpEvents, HttpInspector, HttpSettings, HttpState,
};
use nfips_engine::source::pcap::PcapReader;
use nfips_stream::{Segment, Side, StreamConfig, StreamTable, TcpFlags};

/// A flow's key with the two ends in a canonical order, and which end sent this packet.
type FlowKey = (IpAddr, u16, IpAddr, u16);

fn canonical(src: (IpAddr, u16), dst: (IpAddr, u16)) -> (FlowKey, bool) {
    if src <= dst {
        ((src.0, src.1, dst.0, dst.1), true)
    } else {
        ((dst.0, dst.1, src.0, src.1), false)
    }
}

#[derive(Default)]
struct Totals {
    files: usize,
    packets: u64,
    tcp_payload_bytes: u64,
    http_bytes: u64,
    events: u64,
    parse_time: Duration,
    counters: HttpCounters,
    flows: usize,
    http_flows: usize,
}

/// Per flow: which canonical end initiated (`true` = the first end), and the HTTP state.
struct Flow {
    initiator_is_first: bool,
    http: HttpState,
}

fn run_file(path: &Path, totals: &mut Totals) -> Result<(), String> {
    let mut reader = PcapReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let config = StreamConfig {
        midstream: true,
        async_oneside: true,
        ..StreamConfig::default()
    };
    let mut streams = StreamTable::<FlowKey>::new(config);
    let mut flows: HashMap<FlowKey, Flow> = HashMap::new();
    let mut inspector = HttpInspector::new(HttpSettings::default());
    let mut stats = DecodeStats::default();
    let mut events = HttpEvents::default();
    while let Some(record) = reader
        .next_record()
        .map_err(|e| format!("{}: {e}", path.display()))?
    {
        totals.packets += 1;
        let Ok(packet) = decode(record.link, record.data, false, &mut stats) else {
            continue;
        };
        let Transport::Tcp(tcp) = packet.transport else {
            continue;
        };
        totals.tcp_payload_bytes += packet.payload.len() as u64;
        let (key, from_first) = canonical((packet.src, tcp.src_port), (packet.dst, tcp.dst_port));
        let flow = flows.entry(key).or_insert_with(|| Flow {
            // The sender of a SYN without ACK, else of the first packet seen, initiated.
            initiator_is_first: from_first,
            http: HttpState::default(),
        });
        let side = if from_first == flow.initiator_is_first {
            Side::Initiator
        } else {
            Side::Responder
        };
        let segment = Segment {
            side,
            seq: tcp.seq,
            ack: tcp.ack,
            flags: TcpFlags(tcp.flags),
            window: tcp.window,
            window_scale: tcp.options.window_scale,
            timestamp: tcp.options.timestamp,
            urgent_pointer: tcp.urgent_pointer,
            payload: packet.payload,
            time_us: record.timestamp.as_micros(),
        };
        let outcome = streams.process(&key, &segment);
        let direction = match side {
            Side::Initiator => Direction::ToServer,
            Side::Responder => Direction::ToClient,
        };
        let started = Instant::now();
        if let Some(view) = outcome.view {
            let mut fresh = &view.bytes[view.new_from..];
            totals.http_bytes += fresh.len() as u64;
            while !fresh.is_empty() {
                let used = inspector.feed(&mut flow.http, direction, fresh, &mut events);
                totals.events += u64::from(!events.is_empty());
                fresh = &fresh[used..];
            }
        }
        if tcp.flags & (TcpFlags::FIN | TcpFlags::RST) != 0 {
            inspector.finish(&mut flow.http, direction, &mut events);
        }
        totals.parse_time += started.elapsed();
    }
    totals.files += 1;
    totals.flows += flows.len();
    totals.http_flows += flows.values().filter(|f| f.http.is_http()).count();
    totals.counters.add(&inspector.counters);
    Ok(())
}

fn pcaps(path: &Path) -> Vec<PathBuf> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"));
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    }
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args.is_empty() {
        eprintln!("usage: http_pcaps FILE_OR_DIR...");
        std::process::exit(2);
    }
    let mut totals = Totals::default();
    for file in args.iter().flat_map(|a| pcaps(a)) {
        if let Err(message) = run_file(&file, &mut totals) {
            eprintln!("skipped {message}");
        }
    }
    println!(
        "files {} packets {} flows {} http_flows {} tcp_payload_bytes {} stream_bytes_parsed {} events {}",
        totals.files,
        totals.packets,
        totals.flows,
        totals.http_flows,
        totals.tcp_payload_bytes,
        totals.http_bytes,
        totals.events
    );
    println!(
        "parse_time_ms {:.1}",
        totals.parse_time.as_secs_f64() * 1000.0
    );
    for (name, value) in totals.counters.iter().filter(|(_, v)| *v > 0) {
        println!("  {name} {value}");
    }
}
