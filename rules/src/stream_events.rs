//! The `stream-event:<name>` vocabulary: which stream anomaly names a rule may test and which
//! bit of [`crate::PacketContext::stream_events`] each one reads.
//!
//! The rules crate knows no packets or TCP: the engine maps its stream tracker's events to these
//! bits by name ([`bit_of`]). Names are those of Suricata's `stream-events.rules` where Suricata
//! has the same anomaly (aliases share a bit), otherwise nfips' own `stream.*` names without the
//! prefix. Suricata names nfips does not raise are *unsupported* (the rule loads nowhere, counted),
//! anything else is an error. Not for: deciding what is alerted or dropped.

/// `(name, bit)`: every accepted name. Bits are 0..64; the first name of a bit is canonical.
pub const STREAM_EVENT_BITS: &[(&str, u8)] = &[
    ("syn_on_established", 0),
    ("est_syn_resend", 0),
    ("est_syn_resend_diff_seq", 0),
    ("data_on_syn", 1),
    ("data_on_closed", 2),
    ("pkt_invalid_timestamp", 3),
    ("data_after_reset", 4),
    ("4whs", 5),
    ("timestamp_missing", 6),
    ("rst_out_of_window", 7),
    ("midstream_pickup", 8),
    ("reassembly_overlap_different_data", 9),
    ("pkt_out_of_window", 10),
    ("est_packet_out_of_window", 10),
    ("reassembly_ooo_packets_limit", 11),
    ("reassembly_ooo_bytes_limit", 12),
    ("reassembly_seq_holes_limit", 13),
    ("reassembly_depth_reached", 14),
    ("memcap", 15),
    ("reassembly_memcap", 15),
    ("urgent_data", 16),
    ("pkt_invalid_ack", 17),
    ("3whs_synack_bad_ack", 18),
    ("3whs_synack_with_wrong_ack", 18),
    ("3whs_syn_resend_diff_seq", 19),
    ("3whs_syn_resend_diff_seq_on_syn_recv", 19),
    ("3whs_data_before_established", 20),
    ("no_session", 21),
    ("session_limit", 22),
    ("pkt_retransmission", 23),
    ("data_without_ack", 24),
    ("fin_out_of_window", 25),
    ("reassembly_gap", 26),
    ("reassembly_seq_gap", 26),
    ("reassembly_data_in_gap", 27),
];

/// `(sid, bit)`: Snort 2.9 preprocessor rules of generator 129 (stream) that nfips raises, by
/// sid (Snort's where Snort has the anomaly, nfips' own from 100). Other gid 129 sids are
/// unsupported.
pub const GID129_SIDS: &[(u32, u8)] = &[
    (1, 0),
    (2, 1),
    (3, 2),
    (4, 3),
    (8, 4),
    (13, 5),
    (14, 6),
    (15, 7),
    (20, 8),
    (100, 9),
    (101, 10),
    (102, 11),
    (103, 12),
    (104, 13),
    (105, 14),
    (106, 15),
    (107, 16),
    (108, 17),
    (109, 18),
    (110, 19),
    (111, 20),
    (112, 21),
    (113, 22),
    (114, 23),
    (11, 24),
    (115, 25),
    (116, 26),
    (117, 27),
];

/// Generator id of Snort's stream preprocessor rules.
pub const STREAM_GID: u32 = 129;

/// The bit of a gid 129 sid nfips raises.
pub fn bit_of_gid129_sid(sid: u32) -> Option<u8> {
    GID129_SIDS
        .iter()
        .find(|&&(s, _)| s == sid)
        .map(|&(_, bit)| bit)
}

/// Suricata stream-event names nfips' stream tracker does not raise: a rule using one is
/// unsupported rather than malformed.
pub const SURICATA_ONLY_EVENTS: &[&str] = &[
    "3whs_ack_in_wrong_dir",
    "3whs_async_wrong_seq",
    "3whs_right_seq_wrong_ack_evasion",
    "3whs_synack_in_wrong_direction",
    "3whs_synack_resend_with_different_ack",
    "3whs_synack_resend_with_diff_seq",
    "3whs_synack_toserver_on_syn_recv",
    "3whs_synack_flood",
    "3whs_syn_toclient_on_syn_recv",
    "3whs_wrong_seq_wrong_ack",
    "3whs_ack_data_inject",
    "4whs_synack_with_wrong_ack",
    "4whs_synack_with_wrong_syn",
    "4whs_wrong_seq",
    "4whs_invalid_ack",
    "4whs_syn_flood",
    "closewait_ack_out_of_window",
    "closewait_fin_out_of_window",
    "closewait_pkt_before_last_ack",
    "closewait_invalid_ack",
    "closing_ack_wrong_seq",
    "closing_invalid_ack",
    "est_pkt_before_last_ack",
    "est_synack_resend",
    "est_synack_resend_with_different_ack",
    "est_synack_resend_with_diff_seq",
    "est_synack_toserver",
    "est_syn_toclient",
    "est_invalid_ack",
    "fin_invalid_ack",
    "fin1_ack_wrong_seq",
    "fin1_fin_wrong_seq",
    "fin1_invalid_ack",
    "fin2_ack_wrong_seq",
    "fin2_fin_wrong_seq",
    "fin2_invalid_ack",
    "fin_but_no_session",
    "lastack_ack_wrong_seq",
    "lastack_invalid_ack",
    "rst_but_no_session",
    "timewait_ack_wrong_seq",
    "timewait_invalid_ack",
    "shutdown_syn_resend",
    "pkt_broken_ack",
    "rst_invalid_ack",
    "pkt_spurious_retransmission",
    "pkt_bad_window_update",
    "suspected_rst_inject",
    "wrong_thread",
    "reassembly_segment_before_base_seq",
    "reassembly_no_segment",
    "reassembly_overlap_different_data_and_more",
    "reassembly_insert_memcap",
    "reassembly_insert_limit",
    "reassembly_insert_invalid",
    "reassembly_urgent_oob_limit_reached",
];

/// The bit of a `stream-event` name (case-insensitive; an optional `stream.` prefix is allowed).
pub fn bit_of(name: &str) -> Option<u8> {
    let name = name.trim();
    let name = name.strip_prefix("stream.").unwrap_or(name);
    STREAM_EVENT_BITS
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|&(_, bit)| bit)
}

/// The canonical name of a bit (for Display and diagnostics).
pub fn name_of(bit: u8) -> Option<&'static str> {
    STREAM_EVENT_BITS
        .iter()
        .find(|&&(_, b)| b == bit)
        .map(|&(name, _)| name)
}

/// Whether Suricata knows `name` although nfips never raises it.
pub fn is_suricata_only(name: &str) -> bool {
    let name = name.trim();
    let name = name.strip_prefix("stream.").unwrap_or(name);
    SURICATA_ONLY_EVENTS
        .iter()
        .any(|known| known.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_fit_the_context_bitset() {
        assert!(STREAM_EVENT_BITS.iter().all(|&(_, bit)| bit < 64));
    }

    #[test]
    fn names_are_unique_and_not_also_suricata_only() {
        for (i, (name, _)) in STREAM_EVENT_BITS.iter().enumerate() {
            assert!(
                STREAM_EVENT_BITS[..i]
                    .iter()
                    .all(|(other, _)| other != name),
                "{name} twice"
            );
            assert!(
                !is_suricata_only(name),
                "{name} is both raised and Suricata-only"
            );
        }
    }

    #[test]
    fn every_bit_has_a_name_and_one_gid129_sid() {
        for &(sid, bit) in GID129_SIDS {
            assert!(name_of(bit).is_some(), "sid {sid}");
            assert_eq!(GID129_SIDS.iter().filter(|&&(_, b)| b == bit).count(), 1);
        }
        for &(_, bit) in STREAM_EVENT_BITS {
            assert!(GID129_SIDS.iter().any(|&(_, b)| b == bit), "bit {bit}");
        }
    }

    #[test]
    fn lookup_accepts_prefix_and_case() {
        assert_eq!(bit_of("reassembly_overlap_different_data"), Some(9));
        assert_eq!(bit_of("stream.Reassembly_Overlap_Different_Data"), Some(9));
        assert_eq!(
            bit_of("est_packet_out_of_window"),
            bit_of("pkt_out_of_window")
        );
        assert_eq!(bit_of("no_such_event"), None);
        assert_eq!(name_of(10), Some("pkt_out_of_window"));
        assert!(is_suricata_only("reassembly_no_segment"));
        assert_eq!(bit_of("reassembly_seq_gap"), bit_of("reassembly_gap"));
        assert!(!is_suricata_only("no_such_event"));
    }
}
