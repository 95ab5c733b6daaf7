//! Shared helpers for the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use nfips_engine::decode::LinkType;
use nfips_engine::source::pcap::{PcapWriter, Timestamp};

/// The `nfips` binary built for these tests.
pub fn nfips() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_nfips"))
}

/// Write raw-IP `packets` to a classic pcap at `path`.
pub fn write_pcap(path: &Path, packets: &[(Timestamp, Vec<u8>)]) {
    let mut writer =
        PcapWriter::new(std::fs::File::create(path).unwrap(), LinkType::RawIp).unwrap();
    for (ts, packet) in packets {
        writer.write_packet(*ts, packet).unwrap();
    }
    writer.finish().unwrap();
}

/// The shared corpus: `$NFIPS_CORPUS`, else `../shared/corpus` from the project root. `None`
/// when absent; under `CI=true` a missing corpus is a test failure, elsewhere a loud skip.
pub fn corpus() -> Option<PathBuf> {
    let path = std::env::var_os("NFIPS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if path.is_dir() {
        return Some(path);
    }
    if in_ci() {
        panic!(
            "corpus not found at {} (set NFIPS_CORPUS); required under CI=true",
            path.display()
        );
    }
    eprintln!(
        "SKIPPED: corpus not found at {} (set NFIPS_CORPUS)",
        path.display()
    );
    None
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}
