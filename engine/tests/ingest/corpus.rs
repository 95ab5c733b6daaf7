//! Read and decode every capture of the shared corpus: no panics, counts reported.

use std::path::{Path, PathBuf};

use nfips_engine::decode::{ChecksumMode, Decoder};
use nfips_engine::source::pcap::{PcapReader, PcapSliceReader};

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

/// Wall-clock and this thread's CPU time: on a shared machine the CPU time says what the
/// code costs, the wall clock what other processes left of the machine.
struct Clock {
    wall: std::time::Instant,
    cpu: f64,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            wall: std::time::Instant::now(),
            cpu: thread_cpu_secs(),
        }
    }

    /// (wall seconds, CPU seconds) since start.
    fn elapsed(&self) -> (f64, f64) {
        (
            self.wall.elapsed().as_secs_f64(),
            thread_cpu_secs() - self.cpu,
        )
    }
}

fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to the valid pointer it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Every pcap/pcapng file of the corpus's capture folders, sorted; `None` when the corpus is
/// absent (skipped).
fn corpus_captures() -> Option<Vec<PathBuf>> {
    let root = corpus()?;
    let mut files = Vec::new();
    for sub in ["pcaps", "suricata-verify", "suricata-verify-stream"] {
        captures(&root.join(sub), &mut files);
    }
    files.sort();
    assert!(!files.is_empty(), "no captures under {}", root.display());
    Some(files)
}

#[test]
fn every_corpus_capture_reads_and_decodes_without_panic() {
    let Some(files) = corpus_captures() else {
        return;
    };
    // One decoder per file in auto checksum mode, as replay runs them; counters summed.
    let mut decoder = Decoder::new(ChecksumMode::Auto);
    let (mut records, mut read_errors, mut auto_disabled) = (0u64, 0u64, 0u64);
    let mut bad_checksums = Vec::new();
    for file in &files {
        let mut file_decoder = Decoder::new(ChecksumMode::Auto);
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
                    let _ = file_decoder.decode(record.link, record.data);
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("read error: {e}");
                    read_errors += 1;
                    break;
                }
            }
        }
        if file_decoder.stats.checksum_invalid > 0 {
            bad_checksums.push((
                file_decoder.stats.checksum_invalid,
                file_decoder.stats.decoded,
                file,
            ));
        }
        decoder.stats.merge(&file_decoder.stats);
        auto_disabled += u64::from(file_decoder.checksums.auto_disabled());
    }
    eprintln!(
        "files {} records {records} read errors {read_errors}; checksum auto mode stopped \
         validating in {auto_disabled} files",
        files.len()
    );
    bad_checksums.sort();
    for (invalid, decoded, file) in bad_checksums.iter().rev() {
        eprintln!(
            "  {invalid} of {decoded} packets with bad checksums: {}",
            file.display()
        );
    }
    for (name, count) in decoder.stats.iter().filter(|(_, c)| *c > 0) {
        eprintln!("  {name}: {count}");
    }
    assert_eq!(records, decoder.stats.decoded + decoder.stats.errors_total);
    assert!(
        decoder.stats.decoded > records / 2,
        "most corpus packets decode"
    );
}

/// The in-memory reader yields the same records as the streaming one for every file, and
/// this prints the read+decode rate over the corpus held in memory (run with `--release` for
/// a meaningful figure; nothing is asserted about time).
#[test]
fn in_memory_reader_agrees_with_streaming_reader_and_rate_is_reported() {
    let Some(files) = corpus_captures() else {
        return;
    };
    let contents: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| {
            (
                f.display().to_string(),
                std::fs::read(f).expect("corpus file readable"),
            )
        })
        .collect();
    for (name, bytes) in &contents {
        let mut stream = match PcapReader::open(name) {
            Ok(reader) => reader,
            Err(e) => {
                assert_eq!(
                    PcapSliceReader::new(name, bytes).err().map(|e| e.kind),
                    Some(e.kind)
                );
                continue;
            }
        };
        let slice = PcapSliceReader::new(name, bytes).expect("header reads in memory too");
        for item in slice {
            match (item, stream.next_record()) {
                (Ok(a), Ok(Some(b))) => assert_eq!(
                    (a.number, a.timestamp, a.link, a.data, a.original_len),
                    (b.number, b.timestamp, b.link, b.data, b.original_len)
                ),
                (Err(a), Err(b)) => assert_eq!(a, b),
                (a, b) => panic!(
                    "{name}: readers disagree: {:?} vs {:?}",
                    a.map(|r| r.number),
                    b.map(|r| r.map(|r| r.number))
                ),
            }
        }
        assert!(
            matches!(stream.next_record(), Ok(None)),
            "{name}: streaming reader has more"
        );
    }
    // The first pass warms caches and is not reported.
    for (pass, mode) in [ChecksumMode::No, ChecksumMode::No, ChecksumMode::Yes]
        .into_iter()
        .enumerate()
    {
        let mut decoder = Decoder::new(mode);
        let (mut packets, mut bytes) = (0u64, 0u64);
        let started = Clock::start();
        // Enough rounds in a release build for a stable figure; one in debug builds.
        let rounds = if cfg!(debug_assertions) { 1 } else { 40 };
        for _round in 0..rounds {
            for (name, data) in &contents {
                let Ok(reader) = PcapSliceReader::new(name, data) else {
                    continue;
                };
                for record in reader.flatten() {
                    packets += 1;
                    bytes += record.data.len() as u64;
                    let _ = decoder.decode(record.link, record.data);
                }
            }
        }
        let (secs, cpu_secs) = started.elapsed();
        assert_eq!(decoder.stats.decoded + decoder.stats.errors_total, packets);
        if pass == 0 {
            continue;
        }
        eprintln!(
            "read+decode in memory, checksum-validation={mode}: {packets} packets, {:.1} MB in \
             {secs:.3} s = {:.2} Mpkt/s, {:.0} MB/s; per CPU second of this thread {:.2} Mpkt/s",
            bytes as f64 / 1e6,
            packets as f64 / secs / 1e6,
            bytes as f64 / secs / 1e6,
            packets as f64 / cpu_secs / 1e6
        );
    }
    // The same through the streaming reader (files from the page cache).
    let mut decoder = Decoder::new(ChecksumMode::No);
    let (mut packets, mut bytes) = (0u64, 0u64);
    let started = Clock::start();
    let rounds = if cfg!(debug_assertions) { 1 } else { 10 };
    for _round in 0..rounds {
        for file in &files {
            let Ok(mut reader) = PcapReader::open(file) else {
                continue;
            };
            while let Ok(Some(record)) = reader.next_record() {
                packets += 1;
                bytes += record.data.len() as u64;
                let _ = decoder.decode(record.link, record.data);
            }
        }
    }
    let (secs, cpu_secs) = started.elapsed();
    eprintln!(
        "read+decode streamed from files, checksum-validation=no: {packets} packets in {secs:.3} s \
         = {:.2} Mpkt/s, {:.0} MB/s; per CPU second of this thread {:.2} Mpkt/s",
        packets as f64 / secs / 1e6,
        bytes as f64 / secs / 1e6,
        packets as f64 / cpu_secs / 1e6
    );
}
