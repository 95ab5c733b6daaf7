//! Reassembly throughput: in-order 1460-byte segments, and a mix with 10 % out of order.
//!
//! A plain timing harness (no criterion): `cargo bench -p nfips-stream --bench reassembly`.
//! 64 sessions interleaved, the receiver ACKs every second segment (its ACKs are processed
//! too), every data segment's view is touched. Prints Gbit/s of TCP payload.

use nfips_stream::{Segment, Side, StreamConfig, StreamTable, TcpFlags, Verdict};
use std::hint::black_box;
use std::time::Instant;

const SESSIONS: u32 = 64;
const SEGMENT: usize = 1460;
const SEGMENTS_PER_SESSION: u32 = 4000;

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

/// Returns payload bytes per second and the share of segments queued out of order.
fn run(out_of_order_every: Option<u32>) -> (f64, f64) {
    // Unlimited depth: measure reassembly of every byte, not the bypass after 1 MiB.
    let mut table = StreamTable::<u32>::new(StreamConfig {
        depth: 0,
        ..StreamConfig::default()
    });
    table.set_context(64);
    let payload: Vec<u8> = (0..SEGMENT).map(|i| (i % 251) as u8).collect();
    let (c, s) = (Side::Initiator, Side::Responder);
    for key in 0..SESSIONS {
        table.process(&key, &segment(c, 0, 0, TcpFlags::SYN, b""));
        table.process(&key, &segment(s, 0, 1, TcpFlags::SYN | TcpFlags::ACK, b""));
        table.process(&key, &segment(c, 1, 1, TcpFlags::ACK, b""));
    }
    let data = TcpFlags::ACK | TcpFlags::PSH;
    let mut bytes = 0u64;
    let mut viewed = 0usize;
    let start = Instant::now();
    let mut i = 0;
    while i < SEGMENTS_PER_SESSION {
        // With reordering, every `n`-th pair is sent swapped: one segment in `n` arrives early.
        let swap = out_of_order_every.is_some_and(|n| i % n == 0) && i + 1 < SEGMENTS_PER_SESSION;
        let order: &[u32] = if swap { &[i + 1, i] } else { &[i] };
        for key in 0..SESSIONS {
            for &k in order {
                let seq = 1 + k * SEGMENT as u32;
                let out = table.process(&key, &segment(c, seq, 1, data, &payload));
                debug_assert_eq!(out.verdict, Verdict::Accept);
                if let Some(view) = out.view {
                    viewed += view.bytes.len();
                }
                bytes += SEGMENT as u64;
            }
            let acked = i + order.len() as u32;
            if acked & 1 == 0 || swap {
                table.process(
                    &key,
                    &segment(s, 1, 1 + acked * SEGMENT as u32, TcpFlags::ACK, b""),
                );
            }
        }
        i += order.len() as u32;
    }
    let elapsed = start.elapsed().as_secs_f64();
    black_box(viewed);
    let stats = table.stats();
    assert_eq!(stats.out_of_window_drops + stats.memcap_drops, 0, "{stats}");
    assert_eq!(stats.bytes_reassembled, bytes, "{stats}");
    (
        bytes as f64 / elapsed,
        stats.out_of_order_queued as f64 / (bytes / SEGMENT as u64) as f64,
    )
}

fn main() {
    for (name, mode) in [("in-order", None), ("10% out-of-order", Some(10))] {
        let runs: Vec<(f64, f64)> = (0..3).map(|_| run(mode)).collect();
        let rate = runs.iter().map(|r| r.0).fold(0.0, f64::max);
        println!(
            "{name:>18}: {:.2} Gbit/s ({:.0} MB/s) of payload, 1460-byte segments, {:.1} % queued out of order",
            rate * 8.0 / 1e9,
            rate / 1e6,
            runs[0].1 * 100.0
        );
    }
    println!(
        "session overhead charged: {} bytes (u32 key)",
        StreamTable::<u32>::session_overhead()
    );
}
