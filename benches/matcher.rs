//! The multi-pattern matcher alone, per back end: every distinct fast pattern of 4+ bytes of a
//! corpus ruleset (ET Open, Snort community) in one matcher, scanning 1 MiB of synthetic web
//! traffic frame by frame (the engine's generator, headers included).
//!
//! ```text
//! NFIPS_CORPUS=/work/shared/corpus cargo bench --features vectorscan --bench matcher
//! ```
//! Without the corpus it says SKIPPED and measures nothing. Per-group figures (what a packet
//! really scans) come from `nfips bench` and the rules crate's `etopen_bench` example.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nfips_engine::synth::{self, SynthOptions};
use nfips_rules::group::{fast_pattern, MIN_AUTOMATON_PATTERN};
use nfips_rules::mpm::{build_matcher, MpmKind, MpmPattern, MpmScratch, VECTORSCAN_BUILT};
use nfips_rules::{load_paths, LoadOptions};

fn corpus() -> Option<PathBuf> {
    let path = std::env::var_os("NFIPS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if path.is_dir() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: corpus not found at {} (set NFIPS_CORPUS); matcher benches measure nothing",
            path.display()
        );
        None
    }
}

/// Distinct (bytes, nocase) fast patterns of 4+ bytes of a ruleset directory.
fn ruleset_patterns(dir: &std::path::Path) -> Vec<(Vec<u8>, bool)> {
    let report = match load_paths(&[dir.to_path_buf()], &LoadOptions::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("SKIPPED: cannot load {}: {e}", dir.display());
            return Vec::new();
        }
    };
    let mut patterns: Vec<(Vec<u8>, bool)> = report
        .rules
        .iter()
        .filter_map(fast_pattern)
        .filter(|(p, _)| p.len() >= MIN_AUTOMATON_PATTERN)
        .collect();
    patterns.sort_unstable();
    patterns.dedup();
    patterns
}

/// About 1 MiB of synthetic web frames.
fn web_frames() -> Vec<Vec<u8>> {
    let options = SynthOptions {
        bytes: 1 << 20,
        ..SynthOptions::default()
    };
    let mut frames = Vec::new();
    synth::generate(&options, |_, frame| frames.push(frame.to_vec()));
    frames
}

fn bench_matchers(c: &mut Criterion) {
    let Some(corpus) = corpus() else { return };
    let frames = web_frames();
    let bytes: usize = frames.iter().map(Vec::len).sum();
    let mut kinds = vec![MpmKind::Ac, MpmKind::Hash];
    if VECTORSCAN_BUILT {
        kinds.push(MpmKind::Hs);
    } else {
        eprintln!("SKIPPED: hs back end (build with --features vectorscan)");
    }
    for ruleset in ["et-open-snort-2.9.0", "snort-community"] {
        let owned = ruleset_patterns(&corpus.join("rulesets").join(ruleset));
        if owned.is_empty() {
            continue;
        }
        let patterns: Vec<MpmPattern<'_>> = owned
            .iter()
            .enumerate()
            .map(|(id, (bytes, nocase))| MpmPattern {
                bytes,
                nocase: *nocase,
                id: id as u32,
            })
            .collect();
        let mut group = c.benchmark_group(format!("matcher/{ruleset}/{}-patterns", patterns.len()));
        group.throughput(Throughput::Bytes(bytes as u64));
        group.sample_size(10);
        for &kind in &kinds {
            let matcher = match build_matcher(kind, &patterns) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("SKIPPED: {kind} could not build {ruleset}: {e}");
                    continue;
                }
            };
            let mut prototype = MpmScratch::new();
            if let Err(e) = matcher.prepare_scratch(&mut prototype) {
                eprintln!("SKIPPED: {kind} scratch for {ruleset}: {e}");
                continue;
            }
            let mut scratch = prototype.try_clone().expect("scratch clone");
            group.bench_function(format!("{kind}/scan-1MiB"), |b| {
                b.iter(|| {
                    let mut hits = 0u64;
                    for frame in &frames {
                        matcher.scan(frame, &mut scratch, &mut |_, _| hits += 1);
                    }
                    hits
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_matchers);
criterion_main!(benches);
