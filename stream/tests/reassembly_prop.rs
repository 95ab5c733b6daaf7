//! Property: reassembly is faithful. Segments carry bytes that are a function of their stream
//! offset; whatever the order, overlaps, retransmissions, ACKs and sequence wraparound, every
//! view holds exactly the bytes of its offsets, and once the sender fills the stream in order
//! every byte has been made contiguous exactly once.

use nfips_stream::{Segment, Side, StreamConfig, StreamTable, TcpFlags, Verdict};
use proptest::prelude::*;

fn byte_at(offset: u64) -> u8 {
    (offset % 251) as u8
}

fn segment(side: Side, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Segment<'_> {
    Segment {
        side,
        seq,
        ack,
        flags: TcpFlags(flags),
        window: 65535,
        window_scale: None,
        timestamp: None,
        urgent_pointer: 0,
        payload,
        time_us: 1,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn views_hold_the_bytes_of_their_offsets(
        isn in prop_oneof![Just(u32::MAX - 3000), any::<u32>()],
        segments in proptest::collection::vec((0u32..20_000, 1u32..1500, any::<bool>()), 1..80),
        context in 0usize..300,
    ) {
        let (c, s) = (Side::Initiator, Side::Responder);
        let mut table = StreamTable::<u8>::new(StreamConfig::default());
        table.set_context(context);
        table.process(&0, &segment(c, isn, 0, TcpFlags::SYN, b""));
        table.process(&0, &segment(s, 77, isn.wrapping_add(1), TcpFlags::SYN | TcpFlags::ACK, b""));
        table.process(&0, &segment(c, isn.wrapping_add(1), 78, TcpFlags::ACK, b""));
        let data: Vec<u8> = (0..25_000u64).map(byte_at).collect();
        let mut contiguous = 0u64;
        let check = |table: &mut StreamTable<u8>, contiguous: &mut u64, offset: u32, len: u32| -> Result<(), TestCaseError> {
            let payload = &data[offset as usize..(offset + len) as usize];
            let seq = isn.wrapping_add(1).wrapping_add(offset);
            let out = table.process(&0, &segment(c, seq, 78, TcpFlags::ACK, payload));
            if let Some(view) = out.view {
                prop_assert_eq!(out.verdict, Verdict::Accept);
                for (i, b) in view.bytes.iter().enumerate() {
                    prop_assert_eq!(*b, byte_at(view.stream_offset + i as u64), "offset {}", view.stream_offset + i as u64);
                }
                prop_assert!(view.new_from <= context);
                let end = view.stream_offset + view.bytes.len() as u64;
                prop_assert_eq!(end - (view.bytes.len() - view.new_from) as u64, *contiguous, "view does not start at the old end");
                *contiguous = end;
            }
            Ok(())
        };
        let mut max_end = 0;
        for (offset, len, ack) in segments {
            check(&mut table, &mut contiguous, offset, len)?;
            max_end = max_end.max(offset + len);
            if ack {
                let acked = isn.wrapping_add(1).wrapping_add(contiguous as u32);
                table.process(&0, &segment(s, 78, acked, TcpFlags::ACK, b""));
            }
        }
        // The sender now retransmits everything in order.
        let mut offset = 0;
        while offset < max_end {
            let len = 1000.min(max_end - offset);
            check(&mut table, &mut contiguous, offset, len)?;
            offset += len;
        }
        prop_assert_eq!(contiguous, max_end as u64);
        prop_assert_eq!(table.stats().bytes_reassembled, max_end as u64, "{}", table.stats());
        prop_assert_eq!(table.stats().overlap_conflicts, 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary header values never panic and never break the memcap; the table drains to zero.
    #[test]
    fn arbitrary_segments_never_panic(
        segs in proptest::collection::vec(
            (0u8..3, any::<bool>(), any::<u32>(), any::<u32>(), any::<u8>(), any::<u16>(),
             proptest::option::of(any::<u8>()), proptest::option::of(any::<(u32, u32)>()), any::<u16>(),
             0usize..600, 0u64..100_000_000),
            1..120),
        midstream in any::<bool>(),
        async_oneside in any::<bool>(),
    ) {
        let memcap = 20_000;
        let cfg = StreamConfig { memcap, midstream, async_oneside, ..StreamConfig::default() };
        let mut table = StreamTable::<u8>::new(cfg);
        let payload = [0x41u8; 600];
        let mut now = 0;
        for (key, responder, seq, ack, flags, window, wscale, ts, urg, len, advance) in segs {
            now += advance;
            let seg = Segment {
                side: if responder { Side::Responder } else { Side::Initiator },
                seq, ack, flags: TcpFlags(flags), window, window_scale: wscale, timestamp: ts,
                urgent_pointer: urg, payload: &payload[..len], time_us: now,
            };
            let out = table.process(&key, &seg);
            if let Some(view) = out.view {
                prop_assert!(view.new_from <= view.bytes.len());
            }
            prop_assert!(table.memory_used() <= memcap);
            table.expire(now, 2);
        }
        table.clear();
        prop_assert_eq!(table.memory_used(), 0);
    }
}
