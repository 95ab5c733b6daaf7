//! Measure the rules back end on ET Open: load + build time, peak memory, group statistics,
//! and detect() throughput over synthetic web-like traffic.
//!
//! ```text
//! cargo run --release -p nfips-rules --example etopen_bench -- \
//!     /work/shared/corpus/rulesets/et-open-snort-2.9.0 [MEGABYTES [SERVER_PORT [MPM]]]
//! ```
//! MPM is the matcher back end: auto (default), ac or hs (`--features vectorscan`):
//! ```text
//! cargo run --release -p nfips-rules --features vectorscan --example etopen_bench -- DIR 32 80 hs
//! ```
//! The ruleset directory defaults to `$NFIPS_CORPUS/rulesets/et-open-snort-2.9.0`.
//! Not a test: it prints figures and asserts nothing.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Instant;

use nfips_rules::mpm::{MpmKind, VECTORSCAN_BUILT};
use nfips_rules::ruleset::{BufferKind, FlowContext, IpFields, TcpFields};
use nfips_rules::{load_paths, BuildOptions, FlowBits, LoadOptions, PacketContext, RuleSet};

/// Peak resident set size of this process in KiB (Linux), 0 elsewhere.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU seconds this thread has used (user + system), from /proc; wall time is meaningless on
/// a machine shared with other jobs. 0 where /proc is missing.
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "the", "of", "and", "to", "in", "is", "for", "on", "with", "as", "news", "page", "user",
    "login", "search", "product", "image", "content", "script", "style", "window", "document",
    "function", "return", "var", "class", "div", "span", "table", "form", "input", "value",
    "session", "account", "home", "about", "contact", "price", "order", "cart", "data", "json",
];
const PATHS: &[&str] = &[
    "/",
    "/index.html",
    "/images/logo.png",
    "/api/v1/items",
    "/search",
    "/static/app.js",
    "/css/site.css",
    "/login.php",
    "/wp-content/uploads/2024/photo.jpg",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "curl/8.5.0",
];

/// Web-like traffic: requests (to port 80) and HTML/JSON responses (from port 80), each cut
/// into 1460-byte segments. Returns (to_server, bytes) per segment.
fn web_traffic(megabytes: usize) -> Vec<(bool, Vec<u8>)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::new();
    let mut total = 0;
    while total < megabytes << 20 {
        let path = rng.pick(PATHS);
        let request = format!(
            "GET {path}?q={}&id={} HTTP/1.1\r\nHost: www.example{}.com\r\nUser-Agent: {}\r\nAccept: text/html,application/xhtml+xml\r\nAccept-Encoding: gzip, deflate\r\nCookie: session={:x}\r\nConnection: keep-alive\r\n\r\n",
            rng.pick(WORDS), rng.next() % 100000, rng.next() % 50, rng.pick(AGENTS), rng.next()
        );
        let mut body = String::from("<!DOCTYPE html><html><head><title>");
        body.push_str(rng.pick(WORDS));
        body.push_str("</title><script src=\"/static/app.js\"></script></head><body>");
        let paragraphs = 5 + rng.next() % 40;
        for _ in 0..paragraphs {
            body.push_str("<p class=\"");
            body.push_str(rng.pick(WORDS));
            body.push_str("\">");
            for _ in 0..(10 + rng.next() % 60) {
                body.push_str(rng.pick(WORDS));
                body.push(' ');
            }
            body.push_str("</p>\n");
        }
        body.push_str("</body></html>");
        let response = format!(
            "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        for (to_server, message) in [(true, request.into_bytes()), (false, response.into_bytes())] {
            for chunk in message.chunks(1460) {
                total += chunk.len();
                out.push((to_server, chunk.to_vec()));
            }
        }
    }
    out
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| {
        let corpus = std::env::var_os("NFIPS_CORPUS")
            .map(PathBuf::from)
            .unwrap_or_else(|| "../shared/corpus".into());
        corpus.join("rulesets/et-open-snort-2.9.0")
    });
    let megabytes: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    // The server port (80 by default; another port shows the cost of port groups).
    let server_port: u16 = args.next().and_then(|a| a.parse().ok()).unwrap_or(80);
    let mpm: MpmKind = match args.next().map(|a| a.parse()) {
        Some(Ok(kind)) => kind,
        Some(Err(e)) => {
            eprintln!("MPM: {e}");
            std::process::exit(2);
        }
        None => MpmKind::Auto,
    };

    let t0 = Instant::now();
    let report = match load_paths(std::slice::from_ref(&dir), &LoadOptions::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot load {}: {e}", dir.display());
            std::process::exit(1);
        }
    };
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    let loaded = report.rules.len();
    let t1 = Instant::now();
    let options = BuildOptions {
        mpm,
        ..BuildOptions::default()
    };
    let set = RuleSet::build(report.rules, &options);
    let build_ms = t1.elapsed().as_secs_f64() * 1e3;
    let stats = set.group_stats();
    println!(
        "ET Open: {loaded} rules loaded ({} unsupported, {} errors); load {load_ms:.0} ms, build {build_ms:.0} ms, total {:.0} ms",
        report.unsupported.len(),
        report.errors.len(),
        load_ms + build_ms
    );
    println!(
        "matcher {mpm}: {} aho-corasick, {} hash, {} Vectorscan matchers (vectorscan built: {})",
        stats.ac_sets, stats.hash_sets, stats.hs_sets, VECTORSCAN_BUILT
    );
    println!(
        "groups {} (distinct), patterns {}, group memory ~{:.1} MiB, peak RSS after build {:.1} MiB, max_pattern_span {}",
        stats.groups,
        stats.patterns,
        stats.memory_bytes as f64 / (1 << 20) as f64,
        peak_rss_kib() as f64 / 1024.0,
        set.max_pattern_span()
    );

    println!(
        "fast pattern lengths [none, 1, 2, 3, 4, 5+]: {:?}",
        fast_pattern_lengths(&set)
    );
    let traffic = web_traffic(megabytes);
    let bytes: usize = traffic.iter().map(|(_, b)| b.len()).sum();
    let client = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10));
    let server = IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34));
    let base = PacketContext {
        ip_proto: 6,
        src: client,
        dst: server,
        src_port: 51515,
        dst_port: server_port,
        ip: IpFields {
            ttl: 64,
            ..IpFields::default()
        },
        tcp: Some(TcpFields {
            flags: 0x18,
            seq: 1,
            ack: 1,
            window: 65535,
        }),
        icmp: None,
        flow: FlowContext {
            established: true,
            to_server: true,
            app_proto: None,
        },
        buffer: BufferKind::Packet,
        dsize: 0,
        stream_events: 0,
    };
    let mut scratch = set.new_scratch();
    let mut out = Vec::with_capacity(64);
    let mut bits = FlowBits::default();
    let mut alerts = 0usize;
    // Warm-up pass, then the measured pass.
    for pass in 0..2 {
        let t = Instant::now();
        let cpu = thread_cpu_seconds();
        for (to_server, buf) in &traffic {
            let ctx = if *to_server {
                PacketContext {
                    dsize: buf.len(),
                    ..base
                }
            } else {
                PacketContext {
                    src: server,
                    dst: client,
                    src_port: server_port,
                    dst_port: 51515,
                    flow: FlowContext {
                        established: true,
                        to_server: false,
                        app_proto: None,
                    },
                    dsize: buf.len(),
                    ..base
                }
            };
            out.clear();
            set.detect(&ctx, buf, &mut bits, &mut scratch, &mut out);
            alerts += out.len();
        }
        let wall = t.elapsed().as_secs_f64();
        let secs = thread_cpu_seconds() - cpu;
        if pass == 1 {
            println!(
                "detect: {:.1} MiB in {} segments: {:.0} ns/KB, {:.0} MB/s of CPU time (wall {:.2} s; {} matches per pass)",
                bytes as f64 / (1 << 20) as f64,
                traffic.len(),
                secs * 1e9 / (bytes as f64 / 1024.0),
                bytes as f64 / secs / 1e6,
                wall,
                alerts / 2
            );
        }
    }
    let s = scratch.stats();
    println!(
        "per segment: {:.1} automaton hits, {:.1} candidates evaluated; pcre limit hits {}, retry limit hits {}; peak RSS {:.1} MiB",
        s.pattern_hits as f64 / s.buffers as f64,
        s.candidates as f64 / s.buffers as f64,
        s.pcre_limit_hits,
        s.retry_limit_hits,
        peak_rss_kib() as f64 / 1024.0
    );
}

/// Histogram of fast pattern lengths (diagnostic).
#[allow(dead_code)]
fn fast_pattern_lengths(set: &RuleSet) -> [usize; 6] {
    let mut h = [0usize; 6];
    for rule in set.rules() {
        match nfips_rules::group::fast_pattern(rule) {
            None => h[0] += 1,
            Some((p, _)) => h[p.len().min(5)] += 1,
        }
    }
    h
}
