//! Criterion benchmarks of the packet path's stages: decode, TCP reassembly (in order and with
//! 10 % out of order), and the whole engine per packet over synthetic web traffic (no rules, the
//! bundled demo rules, and the ET Open corpus when it is present).
//!
//! `cargo bench --bench pipeline`. Throughput is reported in bytes, so criterion prints MB/s or
//! GB/s. The matcher alone is in `benches/matcher.rs`.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use nfips_engine::bench::PacketArena;
use nfips_engine::decode::{decode, DecodeStats};
use nfips_engine::replay::{load_rules, shared_for_replay};
use nfips_engine::settings::Settings;
use nfips_engine::synth::{generate, SynthOptions, SYNTH_LINK};
use nfips_stream::{Segment, Side, StreamConfig, StreamTable, TcpFlags};

fn synthetic_web(megabytes: u64) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let options = SynthOptions {
        bytes: megabytes << 20,
        ..Default::default()
    };
    generate(&options, |_, frame| frames.push(frame.to_vec()));
    frames
}

fn bench_decode(c: &mut Criterion) {
    let frames = synthetic_web(8);
    let bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(bytes));
    for validate in [false, true] {
        let name = if validate {
            "web, checksums validated"
        } else {
            "web, no checksums"
        };
        group.bench_function(name, |b| {
            let mut stats = DecodeStats::default();
            b.iter(|| {
                for frame in &frames {
                    let _ = black_box(decode(SYNTH_LINK, frame, validate, &mut stats));
                }
            })
        });
    }
    group.finish();
}

const SEGMENT: usize = 1460;
const SEGMENTS: u32 = 2000;

fn segment(side: Side, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Segment<'_> {
    Segment {
        side,
        seq,
        ack,
        flags: TcpFlags(flags),
        window: 65535,
        window_scale: Some(7),
        timestamp: None,
        urgent_pointer: 0,
        payload,
        time_us: 1,
    }
}

/// One session: handshake, then `SEGMENTS` data segments, every `swap_every`-th pair swapped,
/// the receiver acknowledging every second segment.
fn reassemble(payload: &[u8], swap_every: Option<u32>) -> usize {
    let mut table = StreamTable::<u32>::new(StreamConfig {
        depth: 0,
        ..StreamConfig::default()
    });
    table.set_context(64);
    let (client, server) = (Side::Initiator, Side::Responder);
    table.process(&0, &segment(client, 0, 0, TcpFlags::SYN, b""));
    table.process(
        &0,
        &segment(server, 0, 1, TcpFlags::SYN | TcpFlags::ACK, b""),
    );
    table.process(&0, &segment(client, 1, 1, TcpFlags::ACK, b""));
    let mut viewed = 0;
    let mut i = 0;
    while i < SEGMENTS {
        let swap = swap_every.is_some_and(|n| i % n == 0) && i + 1 < SEGMENTS;
        let order: &[u32] = if swap { &[i + 1, i] } else { &[i] };
        for &k in order {
            let seq = 1 + k * SEGMENT as u32;
            let out = table.process(
                &0,
                &segment(client, seq, 1, TcpFlags::ACK | TcpFlags::PSH, payload),
            );
            viewed += out.view.map_or(0, |v| v.bytes.len());
        }
        i += order.len() as u32;
        if i % 2 == 0 || swap {
            table.process(
                &0,
                &segment(server, 1, 1 + i * SEGMENT as u32, TcpFlags::ACK, b""),
            );
        }
    }
    viewed
}

fn bench_reassembly(c: &mut Criterion) {
    let payload: Vec<u8> = (0..SEGMENT).map(|i| (i % 251) as u8).collect();
    let mut group = c.benchmark_group("reassembly");
    group.throughput(Throughput::Bytes(SEGMENT as u64 * u64::from(SEGMENTS)));
    group.bench_function("in order, 1460-byte segments", |b| {
        b.iter(|| black_box(reassemble(&payload, None)))
    });
    group.bench_function("10% out of order", |b| {
        b.iter(|| black_box(reassemble(&payload, Some(10))))
    });
    group.finish();
}

fn corpus_et_open() -> Option<PathBuf> {
    let root = std::env::var_os("NFIPS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    let dir = root.join("rulesets/et-open-snort-2.9.0");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED engine/ET Open: corpus not found at {} (set NFIPS_CORPUS)",
            root.display()
        );
        None
    }
}

fn bench_engine(c: &mut Criterion) {
    let mut arena = PacketArena::default();
    let options = SynthOptions {
        bytes: 16 << 20,
        ..Default::default()
    };
    generate(&options, |ts, frame| arena.push(ts, SYNTH_LINK, frame));
    let mut rule_sets: Vec<(&str, Vec<PathBuf>)> = vec![
        ("no rules", vec![]),
        (
            "demo rules",
            vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo/demo.rules")],
        ),
    ];
    if let Some(et) = corpus_et_open() {
        rule_sets.push(("ET Open", vec![et]));
    }
    let mut group = c.benchmark_group("engine per packet, synthetic web");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(arena.bytes()));
    for (name, paths) in rule_sets {
        let mut settings = Settings::default();
        settings
            .set("checksum-validation", "no")
            .expect("a documented key");
        settings.rules.paths = paths;
        let loaded = load_rules(&settings).expect("rules load");
        let shared = shared_for_replay(settings, loaded.plan);
        group.bench_function(name, |b| {
            b.iter_batched(
                || Arc::clone(&shared),
                |shared| nfips_engine::bench::run(&arena, &shared, 1, 1),
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode, bench_reassembly, bench_engine);
criterion_main!(benches);
