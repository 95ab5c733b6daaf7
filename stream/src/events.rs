//! Stream anomalies with stable names and ids, raised per segment as a small bit set.
//!
//! Ids live in Snort's gid 129 (stream) space: where Snort 2.9 has the same anomaly the sid is
//! Snort's, our own start at 100. Names follow Suricata's `stream.*` event style. The engine
//! turns them into alerts; this module does not decide what is alerted or dropped.

use std::fmt;

/// Snort's generator id for stream events.
pub const STREAM_GID: u32 = 129;

macro_rules! events {
    ($($variant:ident = $bit:expr, $sid:expr, $name:expr, $doc:expr;)*) => {
        /// One stream anomaly.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum StreamEvent { $(#[doc = $doc] $variant = $bit,)* }
        impl StreamEvent {
            /// Every event, in id order.
            pub const ALL: &'static [StreamEvent] = &[$(StreamEvent::$variant),*];
            /// Stable name (`stream.*`).
            pub fn name(self) -> &'static str { match self { $(StreamEvent::$variant => $name,)* } }
            /// Signature id under generator [`STREAM_GID`] (129).
            pub fn sid(self) -> u32 { match self { $(StreamEvent::$variant => $sid,)* } }
            pub fn gid(self) -> u32 { STREAM_GID }
        }
    };
}

events! {
    SynOnEstablished = 0, 1, "stream.syn_on_established", "SYN on an established session (ignored, as RFC 5961 stacks do).";
    DataOnSyn = 1, 2, "stream.data_on_syn", "Payload on a SYN (not placed in the stream; Linux discards it without TFO).";
    DataOnClosed = 2, 3, "stream.data_on_closed", "Data on a session in TIME_WAIT or beyond the sender's FIN.";
    PawsFailed = 3, 4, "stream.pkt_invalid_timestamp", "Timestamp older than the last accepted one (PAWS).";
    DataAfterReset = 4, 8, "stream.data_after_reset", "Data after an honoured RST.";
    FourWayHandshake = 5, 13, "stream.4whs", "Simultaneous open / split handshake (SYN answered by SYN).";
    TimestampMissing = 6, 14, "stream.timestamp_missing", "Timestamps negotiated but absent from a segment.";
    RstOutOfWindow = 7, 15, "stream.rst_out_of_window", "RST with a sequence number outside the window (evasion attempt).";
    NoHandshake = 8, 20, "stream.midstream_pickup", "Session picked up without a 3-way handshake.";
    OverlapDifferentData = 9, 100, "stream.reassembly_overlap_different_data", "Overlapping data with different bytes.";
    OutOfWindowData = 10, 101, "stream.pkt_out_of_window", "Data beyond the receiver's advertised window.";
    OooPacketsLimit = 11, 102, "stream.reassembly_ooo_packets_limit", "Out-of-order queue full.";
    OooBytesLimit = 12, 103, "stream.reassembly_ooo_bytes_limit", "Out-of-order bytes limit reached.";
    SeqHolesLimit = 13, 104, "stream.reassembly_seq_holes_limit", "Too many holes in the sequence space.";
    DepthReached = 14, 105, "stream.reassembly_depth_reached", "stream.depth reached: inspection of this direction ended.";
    Memcap = 15, 106, "stream.memcap", "Memcap reached and nothing could be freed for this segment.";
    UrgentData = 16, 107, "stream.urgent_data", "Urgent pointer into the payload (out-of-band byte).";
    InvalidAck = 17, 108, "stream.pkt_invalid_ack", "ACK of data never seen; not trusted.";
    SynAckBadAck = 18, 109, "stream.3whs_synack_bad_ack", "SYN/ACK that does not acknowledge the SYN.";
    SynResendDiffSeq = 19, 110, "stream.3whs_syn_resend_diff_seq", "SYN resent with a different ISN.";
    DataBeforeHandshake = 20, 111, "stream.3whs_data_before_established", "Data or ACK before the handshake completed.";
    NoSession = 21, 112, "stream.no_session", "Segment of no tracked session (no SYN seen, midstream off).";
    SessionLimit = 22, 113, "stream.session_limit", "No session could be created (max_sessions / memcap).";
    Retransmission = 23, 114, "stream.pkt_retransmission", "Retransmission of identical bytes (informational).";
    DataWithoutAck = 24, 11, "stream.data_without_ack", "Data without the ACK flag on a synchronized session (receivers discard it).";
    FinOutOfWindow = 25, 115, "stream.fin_out_of_window", "FIN before the stream's contiguous end or beyond the window.";
    ReassemblyGap = 26, 116, "stream.reassembly_gap", "The receiver acknowledged data nfips never saw (it bypassed nfips): the stream continues after the gap.";
    DataInGap = 27, 117, "stream.reassembly_data_in_gap", "Data starting inside an acknowledged reassembly gap (dropped: the receiver already acknowledged it).";
}

/// A set of [`StreamEvent`]s (no allocation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events(u32);

impl Events {
    pub fn insert(&mut self, event: StreamEvent) {
        self.0 |= 1 << event as u32;
    }
    pub fn contains(self, event: StreamEvent) -> bool {
        self.0 & (1 << event as u32) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = StreamEvent> {
        StreamEvent::ALL
            .iter()
            .copied()
            .filter(move |e| self.contains(*e))
    }
}

impl fmt::Display for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for event in self.iter() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(event.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique() {
        let mut sids: Vec<u32> = StreamEvent::ALL.iter().map(|e| e.sid()).collect();
        sids.sort_unstable();
        sids.dedup();
        assert_eq!(sids.len(), StreamEvent::ALL.len());
        for (bit, event) in StreamEvent::ALL.iter().enumerate() {
            assert_eq!(*event as usize, bit);
        }
    }

    #[test]
    fn set_displays_names() {
        let mut events = Events::default();
        events.insert(StreamEvent::RstOutOfWindow);
        events.insert(StreamEvent::DataOnSyn);
        assert_eq!(
            events.to_string(),
            "stream.data_on_syn,stream.rst_out_of_window"
        );
    }
}
