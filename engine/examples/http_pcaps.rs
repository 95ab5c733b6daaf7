//! Runs the HTTP parser over the reassembled TCP streams of pcap files and prints what it saw:
//! requests, responses, malformations and limits by counter, and the time spent.
//!
//! `cargo run --release -p nfips-engine --example http_pcaps -- FILE_OR_DIR...`
//!
//! A measuring tool for the parser on real captures (see [`nfips_engine::http::capture`]); not a
//! replay: no rules, no verdicts. Streams start midstream when the capture missed the handshake.

use std::path::{Path, PathBuf};
use std::time::Instant;

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
}

fn run_file(path: &Path, totals: &mut Totals) -> Result<(), String> {
    let mut reader = PcapReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut capture = HttpCapture::new(HttpSettings::default());
    let mut result = Ok(());
    loop {
        match reader.next_record() {
            Ok(Some(record)) => {
                totals.packets += 1;
                let time = record.timestamp.as_micros();
                capture.packet(record.link, record.data, time, |_| totals.events += 1);
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

fn pcaps(path: &Path) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"));
    files.sort();
    files
}

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args.is_empty() {
        eprintln!("usage: http_pcaps FILE_OR_DIR...");
        std::process::exit(2);
    }
    let started = Instant::now();
    let mut totals = Totals::default();
    for file in args.iter().flat_map(|a| pcaps(a)) {
        if let Err(message) = run_file(&file, &mut totals) {
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
}
