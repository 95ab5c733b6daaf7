//! Read and decode every capture of the shared corpus: no panics, counts reported.

use std::path::{Path, PathBuf};

use nfips_engine::decode::{ChecksumMode, Decoder};
use nfips_engine::source::pcap::PcapReader;

/// The shared corpus: `$NFIPS_CORPUS`, else `../shared/corpus` from the workspace root.
fn corpus() -> Option<PathBuf> {
    let path = std::env::var_os("NFIPS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    if path.is_dir() {
        return Some(path);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "corpus not found at {} (set NFIPS_CORPUS); required under CI=true",
        path.display()
    );
    eprintln!(
        "SKIPPED: corpus not found at {} (set NFIPS_CORPUS)",
        path.display()
    );
    None
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            captures(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "pcap" || e == "pcapng")
        {
            out.push(path);
        }
    }
}

#[test]
fn every_corpus_capture_reads_and_decodes_without_panic() {
    let Some(root) = corpus() else { return };
    let mut files = Vec::new();
    for sub in ["pcaps", "suricata-verify", "suricata-verify-stream"] {
        captures(&root.join(sub), &mut files);
    }
    files.sort();
    assert!(!files.is_empty(), "no captures under {}", root.display());
    let mut decoder = Decoder::new(ChecksumMode::No);
    let (mut records, mut read_errors) = (0u64, 0u64);
    for file in &files {
        let mut reader = match PcapReader::open(file) {
            Ok(reader) => reader,
            Err(e) => {
                eprintln!("read error: {e}");
                read_errors += 1;
                continue;
            }
        };
        loop {
            match reader.next_record() {
                Ok(Some(record)) => {
                    records += 1;
                    let _ = decoder.decode(record.link, record.data);
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("read error: {e}");
                    read_errors += 1;
                    break;
                }
            }
        }
    }
    eprintln!(
        "files {} records {records} read errors {read_errors}",
        files.len()
    );
    for (name, count) in decoder.stats.iter().filter(|(_, c)| *c > 0) {
        eprintln!("  {name}: {count}");
    }
    assert_eq!(records, decoder.stats.decoded + decoder.stats.errors_total);
    assert!(
        decoder.stats.decoded > records / 2,
        "most corpus packets decode"
    );
}
