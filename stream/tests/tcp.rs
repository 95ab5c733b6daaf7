//! Behaviour of the TCP session table: handshake, reassembly, evasions, limits, memcap.
//!
//! Each test drives one session through a small harness and asserts the outcome of a segment
//! as text (`accept view=CONTEXT|NEW events=...`) and the whole session state via `Display`.

use nfips_stream::{
    OverlapPolicy, Segment, Side, StreamConfig, StreamTable, TcpFlags, UrgentPolicy, Verdict,
};

const C: Side = Side::Initiator;
const S: Side = Side::Responder;
const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const FIN: u8 = TcpFlags::FIN;
const RST: u8 = TcpFlags::RST;
const PSH: u8 = TcpFlags::PSH;
const URG: u8 = TcpFlags::URG;
const KEY: u32 = 1;

struct Harness {
    table: StreamTable<u32>,
    now: u64,
    isn: [u32; 2],
    /// Window-scale option each side puts in its SYN.
    wscale: [Option<u8>; 2],
    /// Timestamp each side sends (incremented per segment) when `Some`.
    ts: [Option<u32>; 2],
    window: u16,
}

fn cfg() -> StreamConfig {
    StreamConfig::default()
}

impl Harness {
    fn new(cfg: StreamConfig) -> Self {
        Harness {
            table: StreamTable::new(cfg),
            now: 1_000_000,
            isn: [1000, 5000],
            wscale: [None, None],
            ts: [None, None],
            window: 65535,
        }
    }

    fn seq(&self, side: Side, rel: u32) -> u32 {
        self.isn[side as usize].wrapping_add(rel)
    }

    /// Send a segment with sequence and ack relative to the ISNs; returns the outcome as text.
    fn raw(
        &mut self,
        side: Side,
        rel_seq: u32,
        rel_ack: u32,
        flags: u8,
        payload: &[u8],
        urgent: u16,
    ) -> String {
        self.now += 1000;
        let ts = self.ts[side as usize].map(|t| {
            self.ts[side as usize] = Some(t + 1);
            (t, 0)
        });
        let seg = Segment {
            side,
            seq: self.seq(side, rel_seq),
            ack: if flags & ACK != 0 {
                self.seq(side.other(), rel_ack)
            } else {
                0
            },
            flags: TcpFlags(flags),
            window: self.window,
            window_scale: if flags & SYN != 0 {
                self.wscale[side as usize]
            } else {
                None
            },
            timestamp: ts,
            urgent_pointer: urgent,
            payload,
            time_us: self.now,
        };
        let outcome = self.table.process(&KEY, &seg);
        let mut text = outcome.verdict.to_string();
        if let Some(view) = outcome.view {
            let (old, new) = view.bytes.split_at(view.new_from);
            text += &format!(
                " view={}|{}",
                String::from_utf8_lossy(old),
                String::from_utf8_lossy(new)
            );
        }
        if outcome.depth_reached {
            text += " depth";
        }
        if !outcome.events.is_empty() {
            text += &format!(" events={}", outcome.events);
        }
        text
    }

    fn handshake(&mut self) {
        assert_eq!(self.raw(C, 0, 0, SYN, b"", 0), "accept");
        assert_eq!(self.raw(S, 0, 1, SYN | ACK, b"", 0), "accept");
        assert_eq!(self.raw(C, 1, 1, ACK, b"", 0), "accept");
    }

    /// Data from `side` at relative `rel_seq`, acking everything the other side sent so far.
    fn data(&mut self, side: Side, rel_seq: u32, payload: &[u8]) -> String {
        self.raw(side, rel_seq, 1, ACK | PSH, payload, 0)
    }

    /// A pure ACK from `side` of the other side's data up to relative `rel_ack`.
    fn ack(&mut self, side: Side, rel_ack: u32) -> String {
        self.raw(side, 1, rel_ack, ACK, b"", 0)
    }

    fn state(&self) -> String {
        self.table.describe(&KEY).unwrap_or_else(|| "none".into())
    }

    fn established(cfg: StreamConfig) -> Self {
        let mut h = Harness::new(cfg);
        h.handshake();
        h
    }
}

macro_rules! assert_state {
    ($h:expr, $state:expr) => {
        assert_eq!($h.state(), $state, "stats: {}", $h.table.stats())
    };
}

// ---- handshake and in-order data -------------------------------------------------------------

#[test]
fn three_way_handshake_establishes() {
    let h = Harness::established(cfg());
    assert_state!(
        h,
        "Established C[next=1 buf=1..1 acked=1 win=65536] S[next=1 buf=1..1 acked=1 win=65536]"
    );
    assert_eq!(h.table.stats().sessions_created, 1);
}

#[test]
fn attack_split_in_three_is_seen_when_last_byte_arrives() {
    let mut h = Harness::established(cfg());
    assert_eq!(h.data(C, 1, b"GET /AT"), "accept view=|GET /AT");
    assert_eq!(h.data(C, 8, b"TA"), "accept view=GET /AT|TA");
    assert_eq!(h.data(C, 10, b"CK"), "accept view=GET /ATTA|CK");
    assert_state!(
        h,
        "Established C[next=12 buf=1..12 acked=1 win=65536] S[next=1 buf=1..1 acked=1 win=65536]"
    );
}

#[test]
fn one_byte_segments_each_extend_the_view() {
    let mut h = Harness::established(cfg());
    for (i, byte) in b"ATTACK".iter().enumerate() {
        let out = h.data(C, 1 + i as u32, &[*byte]);
        let expected = format!(
            "accept view={}|{}",
            std::str::from_utf8(&b"ATTACK"[..i]).unwrap(),
            *byte as char
        );
        assert_eq!(out, expected);
    }
}

#[test]
fn context_is_capped_by_set_context() {
    let mut h = Harness::established(cfg());
    h.table.set_context(3);
    h.data(C, 1, b"0123456789");
    assert_eq!(h.data(C, 11, b"ab"), "accept view=789|ab");
}

#[test]
fn view_reports_stream_offset() {
    let mut h = Harness::established(cfg());
    h.table.set_context(2);
    h.data(C, 1, b"hello");
    let seg = Segment {
        side: C,
        seq: h.seq(C, 6),
        ack: h.seq(S, 1),
        flags: TcpFlags(ACK),
        window: 65535,
        window_scale: None,
        timestamp: None,
        urgent_pointer: 0,
        payload: b"world",
        time_us: h.now + 1,
    };
    let out = h.table.process(&KEY, &seg);
    let view = out.view.expect("view");
    assert_eq!(
        (view.stream_offset, view.new_from, view.bytes),
        (3, 2, &b"loworld"[..])
    );
}

// ---- out of order ----------------------------------------------------------------------------

#[test]
fn reverse_order_segments_complete_on_the_first() {
    let mut h = Harness::established(cfg());
    assert_eq!(h.data(C, 5, b"CK"), "accept");
    assert_eq!(h.data(C, 3, b"TA"), "accept");
    assert_state!(h, "Established C[next=1 buf=1..1 ooo=3..5,5..7 acked=1 win=65536] S[next=1 buf=1..1 acked=1 win=65536]");
    assert_eq!(h.data(C, 1, b"AT"), "accept view=|ATTACK");
    assert_state!(
        h,
        "Established C[next=7 buf=1..7 acked=1 win=65536] S[next=1 buf=1..1 acked=1 win=65536]"
    );
    assert_eq!(h.table.stats().out_of_order_queued, 2);
}

#[test]
fn hole_filled_in_the_middle_drains_queue() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"AB");
    h.data(C, 5, b"EF");
    assert_eq!(h.data(C, 3, b"CD"), "accept view=AB|CDEF");
}

#[test]
fn third_hole_is_dropped_and_counted() {
    let mut h = Harness::established(cfg());
    assert_eq!(h.data(C, 3, b"x"), "accept");
    assert_eq!(h.data(C, 5, b"y"), "accept");
    assert_eq!(
        h.data(C, 7, b"z"),
        "drop(seq_holes) events=stream.reassembly_seq_holes_limit"
    );
    assert_eq!(h.table.stats().seq_holes_drops, 1);
}

#[test]
fn sixth_queued_segment_is_dropped_and_counted() {
    let mut h = Harness::established(cfg());
    for i in 0..5 {
        assert_eq!(h.data(C, 10 + i, b"q"), "accept");
    }
    assert_eq!(
        h.data(C, 15, b"q"),
        "drop(ooo_packets) events=stream.reassembly_ooo_packets_limit"
    );
    assert_eq!(h.table.stats().ooo_packets_drops, 1);
    // The sender retransmits in order later: everything completes.
    assert_eq!(h.data(C, 1, b"123456789"), "accept view=|123456789qqqqq");
}

#[test]
fn ooo_bytes_limit_drops_and_counts() {
    let mut h = Harness::established(cfg());
    assert_eq!(h.data(C, 100, &[b'a'; 3000]), "accept");
    assert_eq!(
        h.data(C, 3100, &[b'b'; 2001]),
        "drop(ooo_bytes) events=stream.reassembly_ooo_bytes_limit"
    );
    assert_eq!(h.data(C, 3100, &[b'b'; 2000]), "accept");
    assert_eq!(h.table.stats().ooo_bytes_drops, 1);
}

// ---- overlaps and retransmissions ------------------------------------------------------------

#[test]
fn identical_retransmission_is_recognised() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"hello");
    assert_eq!(
        h.data(C, 1, b"hello"),
        "accept events=stream.pkt_retransmission"
    );
    assert_eq!(h.table.stats().retransmissions, 1);
}

#[test]
fn retransmission_with_different_payload_is_dropped() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"benign");
    assert_eq!(
        h.data(C, 1, b"ATTACK"),
        "drop(overlap_conflict) events=stream.reassembly_overlap_different_data"
    );
    assert_eq!(h.table.stats().overlap_conflicts, 1);
}

#[test]
fn retransmission_extending_the_stream_adds_only_new_bytes() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"abc");
    assert_eq!(h.data(C, 1, b"abcdef"), "accept view=abc|def");
}

#[test]
fn overlap_inspected_then_conflict_is_dropped_under_policy_last_too() {
    let mut h = Harness::established(StreamConfig {
        overlap_policy: OverlapPolicy::Last,
        ..cfg()
    });
    h.data(C, 1, b"benign");
    assert_eq!(
        h.data(C, 4, b"XXXmore"),
        "drop(overlap_conflict) events=stream.reassembly_overlap_different_data"
    );
}

#[test]
fn queued_overlap_policy_first_keeps_first_bytes() {
    let mut h = Harness::established(cfg());
    assert_eq!(h.data(C, 4, b"ign"), "accept");
    assert_eq!(
        h.data(C, 4, b"ACK"),
        "drop(overlap_conflict) events=stream.reassembly_overlap_different_data"
    );
    assert_eq!(h.data(C, 1, b"ben"), "accept view=|benign");
}

#[test]
fn queued_overlap_policy_last_takes_later_bytes() {
    let mut h = Harness::established(StreamConfig {
        overlap_policy: OverlapPolicy::Last,
        ..cfg()
    });
    assert_eq!(h.data(C, 4, b"ign"), "accept");
    assert_eq!(
        h.data(C, 4, b"ACK"),
        "accept events=stream.reassembly_overlap_different_data"
    );
    assert_eq!(h.data(C, 1, b"ATT"), "accept view=|ATTACK");
}

#[test]
fn in_order_segment_across_queued_conflict_policy_first_is_dropped() {
    let mut h = Harness::established(cfg());
    h.data(C, 4, b"ign");
    assert_eq!(
        h.data(C, 1, b"benIGN"),
        "drop(overlap_conflict) events=stream.reassembly_overlap_different_data"
    );
    assert_eq!(h.data(C, 1, b"ben"), "accept view=|benign");
}

#[test]
fn in_order_segment_across_queued_conflict_policy_last_wins() {
    let mut h = Harness::established(StreamConfig {
        overlap_policy: OverlapPolicy::Last,
        ..cfg()
    });
    h.data(C, 4, b"ignX");
    assert_eq!(
        h.data(C, 1, b"benIGN"),
        "accept view=|benIGNX events=stream.reassembly_overlap_different_data"
    );
}

#[test]
fn partial_queued_overlap_with_same_bytes_queues_only_new_part() {
    let mut h = Harness::established(cfg());
    h.data(C, 4, b"def");
    assert_eq!(h.data(C, 5, b"efgh"), "accept");
    assert_state!(h, "Established C[next=1 buf=1..1 ooo=4..7,7..9 acked=1 win=65536] S[next=1 buf=1..1 acked=1 win=65536]");
    assert_eq!(h.data(C, 1, b"abc"), "accept view=|abcdefgh");
}

// ---- windows ---------------------------------------------------------------------------------

#[test]
fn data_beyond_window_is_dropped_never_inspected() {
    let mut h = Harness::new(cfg());
    h.window = 10;
    h.handshake();
    assert_eq!(
        h.data(C, 1, b"0123456789A"),
        "drop(out_of_window) events=stream.pkt_out_of_window"
    );
    assert_eq!(h.data(C, 1, b"0123456789"), "accept view=|0123456789");
    assert_eq!(h.table.stats().out_of_window_drops, 1);
}

#[test]
fn window_moves_with_acks() {
    let mut h = Harness::new(cfg());
    h.window = 4;
    h.handshake();
    assert_eq!(h.data(C, 1, b"abcd"), "accept view=|abcd");
    assert_eq!(
        h.data(C, 5, b"e"),
        "drop(out_of_window) events=stream.pkt_out_of_window"
    );
    h.ack(S, 5);
    assert_eq!(h.data(C, 5, b"efgh"), "accept view=abcd|efgh");
}

#[test]
fn window_scale_applies_when_both_offer_it() {
    let mut h = Harness::new(cfg());
    h.wscale = [Some(2), Some(3)];
    h.window = 100;
    h.handshake();
    // The SYN/ACK window is never scaled: 100 bytes.
    assert_eq!(
        h.data(C, 1, &[b'a'; 101]),
        "drop(out_of_window) events=stream.pkt_out_of_window"
    );
    h.ack(S, 1); // window 100 << 3 = 800
    assert_eq!(
        h.data(C, 1, &[b'a'; 801]),
        "drop(out_of_window) events=stream.pkt_out_of_window"
    );
    assert!(h.data(C, 1, &[b'a'; 800]).starts_with("accept view="));
}

#[test]
fn window_scale_ignored_when_only_one_side_offers_it() {
    let mut h = Harness::new(cfg());
    h.wscale = [Some(2), None];
    h.window = 100;
    h.handshake();
    h.ack(S, 1);
    assert_eq!(
        h.data(C, 1, &[b'a'; 101]),
        "drop(out_of_window) events=stream.pkt_out_of_window"
    );
}

#[test]
fn sequence_numbers_wrap_around_two_to_the_32() {
    let mut h = Harness::new(cfg());
    h.isn = [u32::MAX - 3, u32::MAX - 1];
    h.handshake();
    assert_eq!(h.data(C, 1, b"AT"), "accept view=|AT");
    assert_eq!(h.data(C, 5, b"CK"), "accept");
    assert_eq!(h.data(C, 3, b"TA"), "accept view=AT|TACK");
    assert_eq!(h.data(S, 1, b"ok"), "accept view=|ok");
    assert_state!(
        h,
        "Established C[next=7 buf=1..7 acked=1 win=65536] S[next=3 buf=1..3 acked=1 win=65536]"
    );
}

// ---- resets ----------------------------------------------------------------------------------

#[test]
fn out_of_window_rst_is_dropped_and_session_kept() {
    let mut h = Harness::established(cfg());
    assert_eq!(
        h.raw(C, 100_000, 1, RST, b"", 0),
        "drop(bad_rst) events=stream.rst_out_of_window"
    );
    assert_eq!(h.data(C, 1, b"ATTACK"), "accept view=|ATTACK");
    assert_eq!(h.table.stats().rst_out_of_window, 1);
}

#[test]
fn fake_rst_then_attack_is_still_inspected() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"GET ");
    assert_eq!(
        h.raw(S, 99_999, 5, RST | ACK, b"", 0),
        "drop(bad_rst) events=stream.rst_out_of_window"
    );
    assert_eq!(h.data(C, 5, b"/ATTACK"), "accept view=GET |/ATTACK");
}

#[test]
fn rst_in_window_but_inexact_is_passed_and_session_kept() {
    let mut h = Harness::established(cfg());
    assert_eq!(h.raw(C, 50, 1, RST, b"", 0), "accept");
    assert_eq!(h.table.stats().rst_inexact, 1);
    assert!(h.state().starts_with("Established"));
}

#[test]
fn exact_rst_resets_and_later_data_is_dropped() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"abc");
    assert_eq!(h.raw(S, 1, 4, RST | ACK, b"", 0), "accept");
    assert_state!(
        h,
        "Reset C[next=4 buf=4..4 acked=1 win=65536] S[next=1 buf=1..1 acked=1 win=65536]"
    );
    assert_eq!(
        h.data(C, 4, b"more"),
        "drop(data_after_close) events=stream.data_after_reset"
    );
    assert_eq!(
        h.table.memory_used(),
        StreamTable::<u32>::session_overhead() as u64
    );
}

#[test]
fn rst_answering_syn_closes_embryonic_session() {
    let mut h = Harness::new(cfg());
    h.raw(C, 0, 0, SYN, b"", 0);
    assert_eq!(h.raw(S, 0, 1, RST | ACK, b"", 0), "accept");
    assert!(h.state().starts_with("Reset"));
}

// ---- handshake variants ----------------------------------------------------------------------

#[test]
fn data_on_syn_is_flagged_and_not_placed() {
    let mut h = Harness::new(cfg());
    assert_eq!(
        h.raw(C, 0, 0, SYN, b"ATTACK", 0),
        "accept events=stream.data_on_syn"
    );
    h.raw(S, 0, 1, SYN | ACK, b"", 0);
    h.raw(C, 1, 1, ACK, b"", 0);
    assert_eq!(h.data(C, 1, b"ATTACK"), "accept view=|ATTACK");
}

#[test]
fn syn_on_established_session_is_flagged_and_ignored() {
    let mut h = Harness::established(cfg());
    assert_eq!(
        h.raw(C, 77, 0, SYN, b"", 0),
        "accept events=stream.syn_on_established"
    );
    assert!(h.state().starts_with("Established"));
    assert_eq!(h.table.stats().syn_on_established, 1);
}

#[test]
fn synack_with_wrong_ack_is_dropped() {
    let mut h = Harness::new(cfg());
    h.raw(C, 0, 0, SYN, b"", 0);
    assert_eq!(
        h.raw(S, 0, 7, SYN | ACK, b"", 0),
        "drop(invalid_state) events=stream.3whs_synack_bad_ack"
    );
    assert_state!(h, "SynSent C[next=1 buf=1..1] S[-]");
}

#[test]
fn split_handshake_server_sends_final_ack() {
    let mut h = Harness::new(cfg());
    h.raw(C, 0, 0, SYN, b"", 0);
    assert_eq!(h.raw(S, 0, 0, SYN, b"", 0), "accept events=stream.4whs");
    assert_eq!(h.raw(C, 0, 1, SYN | ACK, b"", 0), "accept");
    assert_eq!(h.raw(S, 1, 1, ACK, b"", 0), "accept");
    assert!(h.state().starts_with("Established"), "{}", h.state());
    assert_eq!(h.data(C, 1, b"hi"), "accept view=|hi");
}

#[test]
fn simultaneous_open_establishes() {
    let mut h = Harness::new(cfg());
    h.raw(C, 0, 0, SYN, b"", 0);
    h.raw(S, 0, 0, SYN, b"", 0);
    h.raw(S, 0, 1, SYN | ACK, b"", 0);
    assert!(h.state().starts_with("Established"), "{}", h.state());
    assert_eq!(h.table.stats().four_way_handshakes, 1);
}

#[test]
fn data_before_handshake_is_dropped() {
    let mut h = Harness::new(cfg());
    h.raw(C, 0, 0, SYN, b"", 0);
    assert_eq!(
        h.data(C, 1, b"x"),
        "drop(invalid_state) events=stream.3whs_data_before_established"
    );
}

#[test]
fn no_session_without_syn_when_midstream_is_off() {
    let mut h = Harness::new(cfg());
    assert_eq!(h.data(C, 1, b"x"), "accept events=stream.no_session");
    assert_eq!(h.state(), "none");
    assert_eq!(h.table.stats().no_session, 1);
}

#[test]
fn midstream_picks_up_from_first_data() {
    let mut h = Harness::new(StreamConfig {
        midstream: true,
        ..cfg()
    });
    assert_eq!(
        h.data(C, 1, b"GET /AT"),
        "accept view=|GET /AT events=stream.midstream_pickup"
    );
    assert_eq!(h.data(S, 1, b"HTTP"), "accept view=|HTTP");
    assert_eq!(h.data(C, 8, b"TACK"), "accept view=GET /AT|TACK");
    assert_eq!(h.table.stats().sessions_midstream, 1);
}

#[test]
fn async_oneside_establishes_from_client_ack() {
    let mut h = Harness::new(StreamConfig {
        async_oneside: true,
        ..cfg()
    });
    h.raw(C, 0, 0, SYN, b"", 0);
    assert_eq!(h.raw(C, 1, 1, ACK, b"", 0), "accept");
    assert_eq!(h.data(C, 1, b"AT"), "accept view=|AT");
    assert_eq!(h.data(C, 3, b"TACK"), "accept view=AT|TACK");
}

#[test]
fn async_off_rejects_ack_without_synack() {
    let mut h = Harness::new(cfg());
    h.raw(C, 0, 0, SYN, b"", 0);
    assert_eq!(
        h.raw(C, 1, 1, ACK, b"", 0),
        "drop(invalid_state) events=stream.3whs_data_before_established"
    );
}

// ---- close and timeouts ----------------------------------------------------------------------

#[test]
fn fin_exchange_reaches_time_wait_and_data_after_is_dropped() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"bye");
    h.raw(C, 4, 1, FIN | ACK, b"", 0);
    h.raw(S, 1, 5, FIN | ACK, b"", 0);
    h.raw(C, 5, 2, ACK, b"", 0);
    assert!(h.state().starts_with("TimeWait"), "{}", h.state());
    assert_eq!(
        h.data(C, 5, b"x"),
        "drop(data_after_close) events=stream.data_on_closed"
    );
}

#[test]
fn time_wait_frees_buffers_and_attached_state() {
    let overhead = StreamTable::<u32>::session_overhead() as u64;
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"request");
    h.raw(S, 1, 8, ACK, b"response", 0);
    assert!(h.table.attach(&KEY, 5000));
    assert!(h.table.memory_used() > overhead + 5000);
    h.raw(C, 8, 9, FIN | ACK, b"", 0);
    h.raw(S, 9, 9, FIN | ACK, b"", 0);
    assert!(h.table.memory_used() > overhead, "not closed yet");
    h.raw(C, 9, 10, ACK, b"", 0);
    assert!(h.state().starts_with("TimeWait"), "{}", h.state());
    assert_eq!(h.table.memory_used(), overhead);
}

#[test]
fn time_wait_after_data_on_the_last_fin_frees_buffers() {
    let overhead = StreamTable::<u32>::session_overhead() as u64;
    let mut h = Harness::established(cfg());
    h.raw(C, 1, 1, FIN | ACK, b"", 0);
    h.raw(S, 1, 2, ACK, b"", 0);
    h.raw(C, 2, 1, ACK, b"", 0);
    assert_eq!(h.raw(S, 1, 2, FIN | ACK, b"tail", 0), "accept view=|tail");
    h.raw(C, 2, 6, ACK, b"", 0);
    assert!(h.state().starts_with("TimeWait"), "{}", h.state());
    assert_eq!(h.table.memory_used(), overhead);
}

#[test]
fn data_beyond_fin_is_dropped() {
    let mut h = Harness::established(cfg());
    h.raw(C, 1, 1, FIN | ACK, b"ab", 0);
    assert_eq!(
        h.data(C, 3, b"cd"),
        "drop(data_after_close) events=stream.data_on_closed"
    );
}

#[test]
fn syn_after_time_wait_starts_a_new_session() {
    let mut h = Harness::established(cfg());
    h.raw(C, 1, 1, FIN | ACK, b"", 0);
    h.raw(S, 1, 2, FIN | ACK, b"", 0);
    h.raw(C, 2, 2, ACK, b"", 0);
    h.isn = [90_000, 7];
    h.handshake();
    assert!(h.state().starts_with("Established"));
    assert_eq!(h.table.len(), 1);
}

#[test]
fn embryonic_session_times_out() {
    let mut h = Harness::new(cfg());
    h.raw(C, 0, 0, SYN, b"", 0);
    assert_eq!(h.table.expire(h.now + 59_000_000, 100), 0);
    assert_eq!(h.table.expire(h.now + 61_000_000, 100), 1);
    assert_eq!(h.state(), "none");
    assert_eq!(h.table.memory_used(), 0);
}

#[test]
fn established_session_outlives_embryonic_timeout() {
    let mut h = Harness::established(cfg());
    assert_eq!(h.table.expire(h.now + 120_000_000, 100), 0);
    assert_eq!(h.table.expire(h.now + 601_000_000, 100), 1);
    assert_eq!(h.table.stats().sessions_timed_out, 1);
}

#[test]
fn segment_after_timeout_sees_a_fresh_table() {
    let mut h = Harness::established(cfg());
    h.now += 700_000_000;
    assert_eq!(h.data(C, 1, b"x"), "accept events=stream.no_session");
    assert_eq!(h.table.stats().sessions_timed_out, 1);
}

// ---- options ---------------------------------------------------------------------------------

#[test]
fn paws_old_timestamp_is_dropped() {
    let mut h = Harness::new(cfg());
    h.ts = [Some(100), Some(900)];
    h.handshake();
    assert!(h.data(C, 1, b"ab").starts_with("accept view"));
    h.ts[0] = Some(50);
    assert_eq!(
        h.data(C, 3, b"cd"),
        "drop(paws) events=stream.pkt_invalid_timestamp"
    );
}

#[test]
fn missing_timestamp_is_flagged() {
    let mut h = Harness::new(cfg());
    h.ts = [Some(100), Some(900)];
    h.handshake();
    h.ts[0] = None;
    assert_eq!(
        h.data(C, 1, b"ab"),
        "accept view=|ab events=stream.timestamp_missing"
    );
}

#[test]
fn urgent_data_is_dropped_by_default() {
    let mut h = Harness::established(cfg());
    assert_eq!(
        h.raw(C, 1, 1, ACK | URG, b"ATXTACK", 3),
        "drop(urgent) events=stream.urgent_data"
    );
    assert_eq!(h.table.stats().urgent_drops, 1);
}

#[test]
fn urgent_data_inline_policy_keeps_byte() {
    let mut h = Harness::established(StreamConfig {
        urgent_policy: UrgentPolicy::Inline,
        ..cfg()
    });
    assert_eq!(
        h.raw(C, 1, 1, ACK | URG, b"ATXTACK", 3),
        "accept view=|ATXTACK events=stream.urgent_data"
    );
}

#[test]
fn urgent_pointer_beyond_payload_is_ordinary_data() {
    let mut h = Harness::established(cfg());
    assert_eq!(h.raw(C, 1, 1, ACK | URG, b"abc", 500), "accept view=|abc");
}

// ---- depth and release -----------------------------------------------------------------------

#[test]
fn depth_ends_inspection_of_a_direction() {
    let mut h = Harness::established(StreamConfig { depth: 10, ..cfg() });
    assert_eq!(h.data(C, 1, b"01234567"), "accept view=|01234567");
    assert_eq!(
        h.data(C, 9, b"89abcdef"),
        "accept view=01234567|89 depth events=stream.reassembly_depth_reached"
    );
    assert_eq!(h.data(C, 17, b"ghij"), "accept");
    assert_eq!(h.table.stats().depth_reached, 1);
}

#[test]
fn acknowledged_data_is_released_while_streaming() {
    let mut h = Harness::established(cfg());
    let chunk = [b'x'; 1000];
    for i in 0..1000u32 {
        let out = h.data(C, 1 + i * 1000, &chunk);
        assert!(out.starts_with("accept view="), "{out}");
        h.ack(S, 1 + (i + 1) * 1000);
    }
    // context (3000) + lazy release chunk; far below the megabyte sent.
    assert!(
        h.table.memory_used() < 64 * 1024,
        "used {}",
        h.table.memory_used()
    );
}

#[test]
fn unacknowledged_data_is_kept_for_retransmission_checks() {
    let mut h = Harness::established(cfg());
    h.table.set_context(4);
    for i in 0..10u32 {
        h.data(C, 1 + i * 1000, &[b'a' + i as u8; 1000]);
    }
    assert_eq!(
        h.data(C, 1, &[b'z'; 10]),
        "drop(overlap_conflict) events=stream.reassembly_overlap_different_data"
    );
}

// ---- memcap, truncation, pruning, session limit ----------------------------------------------

fn start(table: &mut StreamTable<u32>, key: u32, now: u64) {
    let seg = |side, seq, ack, flags, payload: &'static [u8]| Segment {
        side,
        seq,
        ack,
        flags: TcpFlags(flags),
        window: 65535,
        window_scale: None,
        timestamp: None,
        urgent_pointer: 0,
        payload,
        time_us: now,
    };
    table.process(&key, &seg(C, 0, 0, SYN, b""));
    table.process(&key, &seg(S, 0, 1, SYN | ACK, b""));
    table.process(&key, &seg(C, 1, 1, ACK, b""));
}

fn send(
    table: &mut StreamTable<u32>,
    key: u32,
    side: Side,
    seq: u32,
    ack: u32,
    payload: &[u8],
    now: u64,
) -> Verdict {
    let seg = Segment {
        side,
        seq,
        ack,
        flags: TcpFlags(ACK),
        window: 65535,
        window_scale: None,
        timestamp: None,
        urgent_pointer: 0,
        payload,
        time_us: now,
    };
    table.process(&key, &seg).verdict
}

#[test]
fn memcap_truncates_least_recently_used_sessions_first() {
    let overhead = StreamTable::<u32>::session_overhead() as u64;
    let mut table = StreamTable::new(StreamConfig {
        memcap: 4 * overhead + 8192,
        ..cfg()
    });
    table.set_context(100);
    for key in 0..3 {
        start(&mut table, key, 1);
        assert_eq!(
            send(&mut table, key, C, 1, 1, &[b'a'; 1500], 1),
            Verdict::Accept
        );
        // Acked, so truncation may release all but the context.
        send(&mut table, key, S, 1, 1501, b"", 1);
    }
    let before = table.memory_used();
    start(&mut table, 3, 2);
    assert_eq!(
        send(&mut table, 3, C, 1, 1, &[b'b'; 5000], 2),
        Verdict::Accept
    );
    let stats = table.stats().clone();
    // The least recently used session alone gave back enough: all but its 100 context bytes.
    assert_eq!(stats.sessions_truncated, 1, "{stats}");
    assert_eq!(stats.bytes_truncated, 1400, "{stats}");
    assert_eq!(stats.sessions_pruned, 0, "{stats}");
    let client_half = |key| {
        table
            .describe(&key)
            .unwrap_or_default()
            .split(" S[")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        client_half(0),
        "Established C[next=1501 buf=1401..1501 acked=1501 win=67036]"
    );
    assert_eq!(
        client_half(2),
        "Established C[next=1501 buf=1..1501 acked=1501 win=67036]"
    );
    assert!(table.memory_used() <= table.config().memcap);
    assert_eq!(before, 3 * (overhead + 1500));
    table.clear();
    assert_eq!(table.memory_used(), 0);
}

#[test]
fn memcap_prunes_random_sessions_but_never_the_current_one() {
    let overhead = StreamTable::<u32>::session_overhead() as u64;
    let mut table = StreamTable::new(StreamConfig {
        memcap: 10 * overhead + 4096,
        prune_sessions: 2,
        ..cfg()
    });
    for key in 0..10 {
        start(&mut table, key, 1);
    }
    assert_eq!(table.len(), 10);
    start(&mut table, 10, 2);
    // More than the room left, less than the room two pruned sessions give back.
    let payload = vec![b'c'; 4096 + overhead as usize / 2];
    assert_eq!(send(&mut table, 10, C, 1, 1, &payload, 2), Verdict::Accept);
    assert!(table.state(&10).is_some());
    let stats = table.stats().clone();
    assert!(
        stats.sessions_pruned >= 2 && stats.memcap_reached >= 1,
        "{stats}"
    );
    assert!(table.memory_used() <= table.config().memcap);
}

#[test]
fn segment_dropped_when_nothing_can_be_freed() {
    let overhead = StreamTable::<u32>::session_overhead() as u64;
    let mut table = StreamTable::new(StreamConfig {
        memcap: overhead + 1000,
        ..cfg()
    });
    start(&mut table, 0, 1);
    assert_eq!(
        send(&mut table, 0, C, 1, 1, &[b'd'; 2000], 1),
        Verdict::Drop(nfips_stream::DropReason::Memcap)
    );
    assert_eq!(table.stats().memcap_drops, 1);
}

#[test]
fn attached_state_is_charged_to_the_memcap_and_released_with_its_session() {
    let overhead = StreamTable::<u32>::session_overhead() as u64;
    let mut table = StreamTable::new(StreamConfig {
        memcap: 3 * overhead + 3000,
        prune_sessions: 1,
        ..cfg()
    });
    start(&mut table, 0, 1);
    assert!(table.attach(&0, 1000));
    assert_eq!(table.memory_used(), overhead + 1000);
    // Replacing the charge, not adding to it.
    assert!(table.attach(&0, 400));
    assert_eq!(table.memory_used(), overhead + 400);
    assert!(!table.attach(&7, 10), "no such session");
    // Growth past the memcap prunes another session; the attaching one is never pruned.
    start(&mut table, 1, 2);
    assert!(table.attach(&1, 2000));
    assert!(table.attach(&1, 2900));
    assert_eq!(table.stats().sessions_pruned, 1);
    assert!(table.state(&0).is_none() && table.state(&1).is_some());
    assert_eq!(table.memory_used(), overhead + 2900);
    // More than the memcap can ever hold: refused, counted, and the old charge released.
    assert!(!table.attach(&1, 4 * overhead as usize + 3000));
    assert_eq!(table.stats().attach_refused, 1);
    assert_eq!(table.memory_used(), overhead);
    // Closing a session releases what it had attached.
    assert!(table.attach(&1, 500));
    table.remove(&1);
    assert_eq!(table.memory_used(), 0);
}

#[test]
fn max_sessions_prunes_to_admit_new_sessions() {
    let mut table = StreamTable::new(StreamConfig {
        max_sessions: 3,
        prune_sessions: 1,
        ..cfg()
    });
    for key in 0..4 {
        start(&mut table, key, 1);
    }
    assert_eq!(table.len(), 3);
    assert!(table.state(&3).is_some());
    assert_eq!(table.stats().max_sessions_reached, 1);
    assert_eq!(table.stats().sessions_pruned, 1);
}

#[test]
fn clear_returns_memcap_to_zero() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"abc");
    h.data(C, 10, b"queued");
    assert!(h.table.memory_used() > 0);
    h.table.clear();
    assert_eq!((h.table.memory_used(), h.table.len()), (0, 0));
}

#[test]
fn stats_iterate_as_name_value_pairs() {
    let h = Harness::established(cfg());
    let stats = h.table.stats();
    assert!(stats
        .iter()
        .any(|(name, value)| name == "sessions_created" && value == 1));
    assert_eq!(
        stats.iter().find(|(n, _)| *n == "segments").map(|(_, v)| v),
        Some(3)
    );
    // A handshake stores no data: the peak memory is one session's overhead.
    let overhead = StreamTable::<u32>::session_overhead();
    assert_eq!(
        stats.to_string(),
        format!("segments=3 sessions_created=1 memuse_peak={overhead}")
    );
}

// ---- SYN flood -------------------------------------------------------------------------------

/// One million spoofed SYNs.
#[test]
fn syn_flood_from_spoofed_sources_stays_under_memcap() {
    let sources: u32 = 1_000_000;
    let memcap = 4 << 20;
    let mut table = StreamTable::<u64>::new(StreamConfig { memcap, ..cfg() });
    let per_session = StreamTable::<u64>::session_overhead() as u64;
    for source in 0..sources {
        let seg = Segment {
            side: C,
            seq: source.wrapping_mul(2_654_435_761),
            ack: 0,
            flags: TcpFlags(SYN),
            window: 1024,
            window_scale: None,
            timestamp: None,
            urgent_pointer: 0,
            payload: b"",
            time_us: 1_000 + source as u64,
        };
        table.process(&(source as u64), &seg);
        assert!(table.memory_used() <= memcap);
    }
    let stats = table.stats();
    println!("{} sessions live, {stats}", table.len());
    assert!(table.len() as u64 <= memcap / per_session);
    assert!(stats.memuse_peak <= memcap && stats.memuse_peak > memcap - per_session);
    assert_eq!(stats.sessions_created, sources as u64);
    assert_eq!(
        stats.sessions_pruned + table.len() as u64,
        sources as u64,
        "{stats}"
    );
    table.clear();
    assert_eq!(table.memory_used(), 0);
}

#[test]
fn data_without_ack_flag_is_dropped() {
    let mut h = Harness::established(cfg());
    assert_eq!(
        h.raw(C, 1, 1, PSH, b"ATTACK", 0),
        "drop(invalid_state) events=stream.data_without_ack"
    );
    assert_eq!(h.data(C, 1, b"benign"), "accept view=|benign");
}

#[test]
fn spoofed_fin_before_contiguous_end_is_dropped() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"0123456789");
    assert_eq!(
        h.raw(C, 3, 1, FIN | ACK, b"", 0),
        "drop(out_of_window) events=stream.fin_out_of_window"
    );
    assert_eq!(h.data(C, 11, b"more"), "accept view=0123456789|more");
}

#[test]
fn fin_beyond_window_is_dropped() {
    let mut h = Harness::new(cfg());
    h.window = 100;
    h.handshake();
    assert_eq!(
        h.raw(C, 500, 1, FIN | ACK, b"", 0),
        "drop(out_of_window) events=stream.fin_out_of_window"
    );
    assert!(h.state().starts_with("Established"));
}

/// Issue 7's target: an idle TCP session (no buffered data) costs at most 300 bytes, with a
/// 64-bit flow handle or a full 5-tuple as the key.
#[test]
fn idle_session_costs_at_most_300_bytes() {
    type FiveTuple = (std::net::IpAddr, std::net::IpAddr, u16, u16, u8);
    let five_tuple = StreamTable::<FiveTuple>::session_overhead();
    let handle = StreamTable::<u64>::session_overhead();
    println!("session overhead: {handle} bytes (u64 key), {five_tuple} bytes (5-tuple key)");
    assert!(
        five_tuple <= 300 && handle <= 300,
        "{handle} / {five_tuple}"
    );
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"x");
    h.ack(S, 2);
    h.table.set_context(0);
    h.data(C, 2, b"y");
    h.ack(S, 3);
    let overhead = StreamTable::<u32>::session_overhead() as u64;
    assert!(
        h.table.memory_used() <= overhead + 512,
        "{}",
        h.table.memory_used()
    );
}

#[test]
fn fast_open_synack_acknowledging_syn_data_is_accepted() {
    let mut h = Harness::new(cfg());
    assert_eq!(
        h.raw(C, 0, 0, SYN, b"GET /", 0),
        "accept events=stream.data_on_syn"
    );
    assert_eq!(h.raw(S, 0, 6, SYN | ACK, b"", 0), "accept");
    h.raw(C, 6, 1, ACK, b"", 0);
    assert_eq!(h.data(C, 6, b"index"), "accept view=|index");
}

#[test]
fn async_oneside_picks_up_from_synack_of_the_responder() {
    let mut h = Harness::new(StreamConfig {
        async_oneside: true,
        ..cfg()
    });
    assert_eq!(h.raw(S, 0, 1, SYN | ACK, b"", 0), "accept");
    assert_eq!(h.data(S, 1, b"220 ready"), "accept view=|220 ready");
    assert_eq!(h.data(S, 10, b"\r\n"), "accept view=220 ready|\r\n");
}

#[test]
fn window_size_caps_the_context() {
    let mut h = Harness::established(StreamConfig {
        window_size: 2,
        ..cfg()
    });
    h.table.set_context(100);
    h.data(C, 1, b"abcdef");
    assert_eq!(h.data(C, 7, b"gh"), "accept view=ef|gh");
}

#[test]
fn fast_open_server_may_send_data_before_the_final_ack() {
    let mut h = Harness::new(cfg());
    h.raw(C, 0, 0, SYN, b"GET /", 0);
    h.raw(S, 0, 6, SYN | ACK, b"", 0);
    assert_eq!(
        h.raw(S, 1, 6, ACK | PSH, b"HTTP/1.1 200", 0),
        "accept view=|HTTP/1.1 200"
    );
    assert!(h.state().starts_with("Established"), "{}", h.state());
}

#[test]
fn midstream_pickup_from_synack_knows_both_isns() {
    let mut h = Harness::new(StreamConfig {
        midstream: true,
        ..cfg()
    });
    assert_eq!(
        h.raw(S, 0, 1, SYN | ACK, b"", 0),
        "accept events=stream.midstream_pickup"
    );
    h.raw(C, 1, 1, ACK, b"", 0);
    assert_eq!(h.data(C, 1, b"hello"), "accept view=|hello");
    assert_state!(
        h,
        "Established C[next=6 buf=1..6] S[next=1 buf=1..1 acked=1]"
    );
}

// ---- reassembly gaps (data that reached the receiver without passing nfips) -------------------

#[test]
fn acked_gap_makes_queued_data_after_it_inspected() {
    let mut h = Harness::established(cfg());
    assert_eq!(h.data(C, 1, b"AB"), "accept view=|AB");
    // [3, 5) bypassed nfips (fail-open); the receiver got it and acknowledges everything.
    assert_eq!(h.data(C, 5, b"EF"), "accept");
    assert_eq!(h.ack(S, 7), "accept view=|EF events=stream.reassembly_gap");
    assert_state!(
        h,
        "Established C[next=7 buf=5..7 acked=7 win=65542 gap=5] S[next=1 buf=1..1 acked=1 win=65536]"
    );
    let stats = h.table.stats();
    assert_eq!((stats.reassembly_gaps, stats.gap_bytes), (1, 2));
}

#[test]
fn view_after_gap_never_joins_bytes_across_it() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"ATT");
    h.data(C, 6, b"ACK");
    // "ATT" + unseen "xx" + "ACK": a match on "ATTACK" would be a false joining.
    assert_eq!(h.ack(S, 9), "accept view=|ACK events=stream.reassembly_gap");
    assert_eq!(h.data(C, 9, b"!"), "accept view=ACK|!");
}

#[test]
fn data_starting_inside_an_acked_gap_is_dropped() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"ATT");
    h.data(C, 6, b"CK");
    h.ack(S, 8);
    // Whoever sends the hole now: the receiver acknowledged it, so it must not get it.
    assert_eq!(
        h.data(C, 4, b"xA"),
        "drop(acked_gap) events=stream.reassembly_data_in_gap"
    );
    assert_eq!(h.table.stats().gap_data_drops, 1);
    assert_eq!(h.data(C, 8, b"more"), "accept view=CK|more");
}

#[test]
fn ack_beyond_all_seen_data_inside_the_window_declares_a_gap() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"AB");
    assert_eq!(h.ack(S, 11), "accept events=stream.reassembly_gap");
    assert_eq!(h.table.stats().gap_bytes, 8);
    // The sender's next segments continue after the gap instead of queueing forever.
    assert_eq!(h.data(C, 11, b"hello"), "accept view=|hello");
}

#[test]
fn ack_far_beyond_all_seen_data_is_not_trusted() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"AB");
    assert_eq!(h.ack(S, 3 << 29), "accept events=stream.pkt_invalid_ack");
    assert_eq!(h.table.stats().reassembly_gaps, 0);
    assert_eq!(h.data(C, 3, b"CD"), "accept view=AB|CD");
}

#[test]
fn stale_ack_segment_cannot_declare_a_gap() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"AB");
    h.data(C, 5, b"EF");
    h.data(S, 1, b"hi");
    // Sequence number behind what the responder already sent: not in window.
    assert_eq!(h.raw(S, 1, 7, ACK, b"", 0), "accept");
    assert_eq!(h.table.stats().reassembly_gaps, 0);
    assert_eq!(h.data(C, 3, b"CD"), "accept view=AB|CDEF");
}

#[test]
fn window_is_not_enforced_while_a_gap_is_remembered() {
    let mut h = Harness::new(cfg());
    h.window = 4;
    h.handshake();
    h.data(C, 1, b"ab");
    // [3, 5) and the receiver's window updates bypassed nfips; it acknowledges up to 5.
    assert_eq!(h.ack(S, 5), "accept events=stream.reassembly_gap");
    // Beyond the stale window nfips knows (5 + 4): accepted, the real window was larger.
    assert_eq!(h.data(C, 5, b"efghijkl"), "accept view=|efghijkl");
    assert_eq!(h.table.stats().out_of_window_drops, 0);
}

#[test]
fn ack_of_fin_is_not_a_gap() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"AB");
    h.raw(C, 3, 1, FIN | ACK, b"", 0);
    assert_eq!(h.ack(S, 4), "accept");
    assert_eq!(h.table.stats().reassembly_gaps, 0);
}

#[test]
fn full_ooo_queue_is_released_by_an_acked_gap() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"A");
    for i in 0..5 {
        assert_eq!(h.data(C, 10 + i, b"q"), "accept");
    }
    assert_eq!(
        h.data(C, 15, b"q"),
        "drop(ooo_packets) events=stream.reassembly_ooo_packets_limit"
    );
    // The receiver got [2, 10) past nfips and the queued bytes: the queue drains.
    assert_eq!(
        h.ack(S, 15),
        "accept view=|qqqqq events=stream.reassembly_gap"
    );
    assert_eq!(h.data(C, 15, b"q"), "accept view=qqqqq|q");
}

#[test]
fn second_hole_below_the_ack_is_skipped_by_the_next_ack() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"A");
    h.data(C, 4, b"BB");
    h.data(C, 8, b"CC");
    assert_eq!(h.ack(S, 10), "accept view=|BB events=stream.reassembly_gap");
    assert_eq!(h.ack(S, 10), "accept view=|CC events=stream.reassembly_gap");
    let stats = h.table.stats();
    assert_eq!((stats.reassembly_gaps, stats.gap_bytes), (2, 4));
}

#[test]
fn gap_memory_returns_to_zero() {
    let mut h = Harness::established(cfg());
    h.data(C, 1, b"A");
    h.data(C, 4, b"BB");
    h.data(C, 8, b"CC");
    h.ack(S, 10);
    assert!(h.table.memory_used() > 0);
    assert!(h.table.remove(&KEY));
    assert_eq!(h.table.memory_used(), 0);
}
