//! nfips-stream: TCP session tracking and inline reassembly in the style of Snort_inline's
//! stream4inline, and IP defragmentation ([`defrag`]).
//!
//! No packet I/O and no rules: callers hand it decoded segment facts ([`Segment`]) and bytes; it
//! answers with what to do with the segment ([`Verdict`]), the anomalies it saw ([`Events`]) and
//! the stream bytes detection must see ([`StreamView`]).
//!
//! # Who owns the sessions
//!
//! The stream crate owns the session table: [`StreamTable<K>`] maps a key chosen by the engine
//! (its canonical flow key, any `Hash + Eq + Clone` type) to a session in a slab, with an
//! intrusive least-recently-used list through the slab. The table, not the engine, owns sessions
//! because memcap enforcement must act across sessions of one worker: truncation walks sessions
//! LRU first and pruning picks sessions at random, neither may touch the session being processed,
//! and each needs O(1) access to every session's buffers and charge. The index is a hash table of
//! slot numbers (the key is stored once, in the slot) hashed with std's keyed SipHash
//! ([`std::collections::hash_map::RandomState`]), because keys are attacker-chosen tuples.
//! The cost is one extra hash lookup per TCP packet in the engine (its flow table and this one).
//!
//! # Per segment
//!
//! [`StreamTable::process`] takes the key, the [`Segment`] facts (which [`Side`] sent it
//! relative to the engine's flow, seq/ack/flags/window/options, payload, time) and returns an
//! [`Outcome`]: accept or drop with a [`DropReason`], the [`Events`] raised, and when the segment
//! made new data contiguous a [`StreamView`]: the reassembled bytes ending at the new contiguous
//! end and starting the configured context before the first new byte, so a pattern split across
//! segments is seen when its last byte arrives. The view borrows the session's buffer: in-order
//! data is copied once, into that buffer, and inspected data is released as the window moves.
//!
//! A view's bytes are part of the stream from the moment they are returned: if detection drops
//! the packet, the engine must drop the rest of the flow too (nfips flow verdicts do) or
//! [`StreamTable::remove`] the session, otherwise the sender's retransmission of the same bytes
//! would be recognised as a retransmission and passed without a new view. Segments the stream
//! itself drops leave no trace in it.
//!
//! # Gaps
//!
//! Packets can reach the receiver without passing nfips (fail-open NFQUEUE under ENOBUFS, queue
//! bypass during a restart, asymmetric routing). When an in-window ACK from the receiver covers
//! sequence space nfips never saw, those bytes are gone for good: the stream raises
//! `stream.reassembly_gap`, skips the hole, makes queued data after it contiguous and returns a
//! view that starts after the hole (never joined to bytes before it). Data later sent into the
//! gap is dropped ([`DropReason::AckedGap`]), which is what keeps a forged ACK from being an
//! evasion: the real receiver then never gets the hole and never delivers what follows it.
//!
//! # Memory
//!
//! Every buffer byte (by capacity), every queued out-of-order segment (bytes plus
//! [`SEGMENT_OVERHEAD`]) and every session ([`StreamTable::session_overhead`]) is charged against
//! [`StreamConfig::memcap`]; the charge never exceeds it (asserted in debug builds) and is exactly
//! zero when the table is empty. See [`StreamTable`] for truncation and pruning.
//!
//! Not here: which bytes are attacks (rules), packet decoding, checksums (the engine must not
//! hand segments with a bad checksum to the stream: the receiver discards them, so their bytes
//! must not become stream data), verdict delivery.
//!
//! # For the engine
//!
//! - Key the table by the engine's flow key (or a 64-bit flow handle); `Side::Initiator` is the
//!   side the engine calls the client (`to_server`). Pass only TCP segments whose checksum is
//!   valid or unchecked, after defragmentation ([`defrag::Defragmenter`]).
//! - Map the decoded header straight into [`Segment`] (window-scale and timestamp options,
//!   urgent pointer, payload, packet time in microseconds).
//! - Run detection over [`Outcome::view`] when present (stream rules) and apply the stream's
//!   own [`Verdict`] first; raise [`Outcome::events`] as gid 129 events; when
//!   [`Outcome::both_depths_reached`], the flow can be bypassed.
//! - Call [`StreamTable::expire`] from the worker's periodic sweep with a small budget, and
//!   report [`StreamTable::stats`] (name, value pairs).
//!
//! # Example
//!
//! ```
//! use nfips_stream::{Segment, Side, StreamConfig, StreamTable, TcpFlags, Verdict};
//!
//! let mut table = StreamTable::<u64>::new(StreamConfig::default());
//! table.set_context(32); // the ruleset's longest pattern span
//! let seg = |side, seq, ack, flags, payload| Segment {
//!     side, seq, ack, flags: TcpFlags(flags), window: 65535, window_scale: None,
//!     timestamp: None, urgent_pointer: 0, payload, time_us: 0,
//! };
//! let flow = 7; // the engine's flow handle
//! table.process(&flow, &seg(Side::Initiator, 100, 0, TcpFlags::SYN, b""));
//! table.process(&flow, &seg(Side::Responder, 900, 101, TcpFlags::SYN | TcpFlags::ACK, b""));
//! table.process(&flow, &seg(Side::Initiator, 101, 901, TcpFlags::ACK, b""));
//! table.process(&flow, &seg(Side::Initiator, 101, 901, TcpFlags::ACK, b"GET /AT"));
//! let out = table.process(&flow, &seg(Side::Initiator, 108, 901, TcpFlags::ACK, b"TACK"));
//! assert_eq!(out.verdict, Verdict::Accept);
//! let view = out.view.expect("new contiguous data");
//! assert_eq!(view.bytes, b"GET /ATTACK"); // match detection here; drop this packet on a hit
//! assert_eq!(view.new_from, 7);
//! ```

pub mod defrag;
mod events;
mod seq;
mod session;
mod table;

pub use events::{Events, StreamEvent, STREAM_GID};
pub use seq::{seq_ge, seq_gt, seq_le, seq_lt};
pub use session::TcpState;
pub use table::{StreamTable, SEGMENT_OVERHEAD};

use std::fmt;

/// Which end of the engine's flow sent a segment. The engine decides (typically: the sender of
/// the first packet it saw is the initiator); the stream works out the TCP client from the SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Initiator = 0,
    Responder = 1,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Initiator => Side::Responder,
            Side::Responder => Side::Initiator,
        }
    }
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// TCP header flags as on the wire: FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
    pub fn urg(self) -> bool {
        self.0 & Self::URG != 0
    }
}

/// The facts of one TCP segment that the engine has already decoded.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    pub side: Side,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// Raw (unscaled) window field.
    pub window: u16,
    /// Window-scale option (SYN and SYN/ACK only matter).
    pub window_scale: Option<u8>,
    /// Timestamp option (TSval, TSecr).
    pub timestamp: Option<(u32, u32)>,
    pub urgent_pointer: u16,
    pub payload: &'a [u8],
    /// Packet time in microseconds (any epoch, monotonic within a table).
    pub time_us: u64,
}

/// What to do with the segment being processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop(DropReason),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Accept => f.write_str("accept"),
            Verdict::Drop(reason) => write!(f, "drop({reason})"),
        }
    }
}

/// Why the stream asks for a segment to be dropped. Every drop is also counted in [`StreamStats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Data beyond the receiver's advertised (scaled) window.
    OutOfWindow,
    /// Out-of-order queue full (`max_ooo_packets`).
    OooPackets,
    /// Out-of-order bytes limit (`max_ooo_bytes`).
    OooBytes,
    /// Too many holes (`max_seq_holes`).
    SeqHoles,
    /// Overlap with stored or inspected data carrying different bytes.
    OverlapConflict,
    /// RST outside the window (the session is kept).
    BadRst,
    /// Timestamp older than the last one accepted (PAWS): the receiver would drop it too.
    Paws,
    /// Data on a session that was reset, or beyond the sender's FIN.
    DataAfterClose,
    /// A segment that does not fit the handshake (e.g. data before the handshake completed).
    InvalidState,
    /// Segment carries urgent data inside its payload and `urgent_policy` is `Drop`.
    Urgent,
    /// Memcap reached even after truncation and pruning.
    Memcap,
    /// Data starting inside a reassembly gap the receiver acknowledged (it discards it anyway).
    AckedGap,
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::OutOfWindow => "out_of_window",
            DropReason::OooPackets => "ooo_packets",
            DropReason::OooBytes => "ooo_bytes",
            DropReason::SeqHoles => "seq_holes",
            DropReason::OverlapConflict => "overlap_conflict",
            DropReason::BadRst => "bad_rst",
            DropReason::Paws => "paws",
            DropReason::DataAfterClose => "data_after_close",
            DropReason::InvalidState => "invalid_state",
            DropReason::Urgent => "urgent",
            DropReason::Memcap => "memcap",
            DropReason::AckedGap => "acked_gap",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The reassembled bytes detection must look at after a segment made new data contiguous.
#[derive(Clone, Copy, Debug)]
pub struct StreamView<'t> {
    /// Stream bytes: up to `context` bytes already inspected, then all newly contiguous bytes.
    pub bytes: &'t [u8],
    /// Index in `bytes` of the first newly contiguous byte (a match ending before it was already
    /// seen with an earlier segment).
    pub new_from: usize,
    /// Stream offset (bytes since the sender's first data byte) of `bytes[0]`.
    pub stream_offset: u64,
    /// Which side sent these bytes.
    pub side: Side,
}

/// Everything the stream says about one segment.
#[derive(Clone, Copy, Debug)]
pub struct Outcome<'t> {
    pub verdict: Verdict,
    pub events: Events,
    pub view: Option<StreamView<'t>>,
    /// `stream.depth` reached in this segment's direction: inspection of it has ended and the
    /// engine may bypass the flow (both directions: see [`Outcome::both_depths_reached`]).
    pub depth_reached: bool,
    pub both_depths_reached: bool,
    /// The TCP state after the segment (`None`: no session tracked, see `events`).
    pub state: Option<TcpState>,
}

/// What overlapping data with different bytes resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverlapPolicy {
    /// What was stored or inspected first stands; the conflicting segment is dropped (Snort's
    /// `normalize_tcp: ips`). Default.
    First,
    /// Queued (not yet inspected) bytes are replaced by the later segment's bytes. Bytes already
    /// inspected can never be replaced: a conflict with them drops the segment under both
    /// policies, because the receiver already holds them.
    Last,
}

/// What to do with a segment whose urgent pointer points into its own payload. Linux removes
/// that byte from the stream (out-of-band) unless SO_OOBINLINE is set, so a stream view would
/// differ from what the application reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrgentPolicy {
    /// Drop such segments (an `urgent_data` event is raised). Default: urgent data is rare
    /// (telnet, FTP abort) and otherwise an evasion.
    Drop,
    /// Keep the urgent byte in the stream (as SO_OOBINLINE receivers do); only raise the event.
    Inline,
}

/// All settings of the stream, with named defaults.
///
/// Setting names for configuration files: `stream.memcap`, `stream.max-sessions`,
/// `stream.midstream`, `stream.async-oneside`, `stream.max-ooo-packets`, `stream.max-ooo-bytes`,
/// `stream.max-seq-holes`, `stream.overlap-policy` (first | last), `stream.urgent-policy`
/// (drop | inline), `stream.window-size`, `stream.depth`, `stream.truncate-sessions`,
/// `stream.prune-sessions`, `stream.timeout.embryonic`, `stream.timeout.established`,
/// `stream.timeout.closed`.
#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// Bytes charged for all sessions of one table (one worker). Default 32 MiB.
    pub memcap: u64,
    /// Maximum sessions in one table. Default 262,144.
    pub max_sessions: usize,
    /// Pick up sessions from the first data seen (no handshake). Default false (as Suricata).
    pub midstream: bool,
    /// Only one direction is visible (asymmetric routing). Default false.
    pub async_oneside: bool,
    /// Out-of-order segments queued per direction. Default 5 (Snort_inline).
    pub max_ooo_packets: usize,
    /// Out-of-order bytes queued per direction. Default 5000 (Snort_inline).
    pub max_ooo_bytes: usize,
    /// Holes in the sequence space per direction. Default 2 (Snort_inline).
    pub max_seq_holes: usize,
    /// Overlap with different bytes. Default [`OverlapPolicy::First`].
    pub overlap_policy: OverlapPolicy,
    /// Urgent data handling. Default [`UrgentPolicy::Drop`].
    pub urgent_policy: UrgentPolicy,
    /// Cap on the context bytes re-presented before new data (`stream.window-size`). Default
    /// 3000 (Snort_inline). The engine sets the wanted context with
    /// [`StreamTable::set_context`] (its longest pattern span); the smaller one is used.
    pub window_size: usize,
    /// Bytes inspected per direction; 0 is unlimited. Default 1 MiB.
    pub depth: u64,
    /// Sessions truncated (inspected, acknowledged data released) when the memcap is reached,
    /// least recently used first. Default 15.
    pub truncate_sessions: usize,
    /// Sessions pruned at random when truncation did not free enough. Default 5.
    pub prune_sessions: usize,
    /// Timeout of sessions in the handshake, microseconds. Default 60 s.
    pub embryonic_timeout_us: u64,
    /// Timeout of established sessions, microseconds. Default 600 s.
    pub established_timeout_us: u64,
    /// Timeout of closing, TIME_WAIT and reset sessions, microseconds. Default 60 s.
    pub closed_timeout_us: u64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            memcap: 32 << 20,
            max_sessions: 262_144,
            midstream: false,
            async_oneside: false,
            max_ooo_packets: 5,
            max_ooo_bytes: 5000,
            max_seq_holes: 2,
            overlap_policy: OverlapPolicy::First,
            urgent_policy: UrgentPolicy::Drop,
            window_size: 3000,
            depth: 1 << 20,
            truncate_sessions: 15,
            prune_sessions: 5,
            embryonic_timeout_us: 60_000_000,
            established_timeout_us: 600_000_000,
            closed_timeout_us: 60_000_000,
        }
    }
}

macro_rules! stats_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* $field:ident,)* }) => {
        $(#[$m])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $name { $($(#[$fm])* pub $field: u64,)* }
        impl $name {
            /// Every counter as (name, value), in declaration order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$((stringify!($field), self.$field)),*].into_iter()
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut first = true;
                for (name, value) in self.iter().filter(|(_, v)| *v != 0) {
                    if !first { f.write_str(" ")?; }
                    first = false;
                    write!(f, "{name}={value}")?;
                }
                Ok(())
            }
        }
    };
}
pub(crate) use stats_struct;

stats_struct! {
    /// Counters of one [`StreamTable`]. `Display` prints the non-zero ones as `name=value`.
    pub struct StreamStats {
        /// Segments processed.
        segments,
        sessions_created,
        /// Sessions picked up without a handshake (`midstream`).
        sessions_midstream,
        /// Sessions that reached TIME_WAIT, or that the engine removed.
        sessions_closed,
        sessions_timed_out,
        /// Segments of no session (no SYN seen and `midstream` off), passed without reassembly.
        no_session,
        /// `max_sessions` reached when a session was to be created.
        max_sessions_reached,
        /// Sessions not created because neither `max_sessions` nor the memcap allowed it.
        sessions_refused,
        /// Highest memory charged against the memcap at any time (bytes; a gauge, not a count).
        memuse_peak,
        /// Times the memcap was reached.
        memcap_reached,
        sessions_truncated,
        /// Bytes released by truncation.
        bytes_truncated,
        sessions_pruned,
        /// Segments dropped because memory could not be found.
        memcap_drops,
        /// Application-layer state the engine could not attach to a session under the memcap
        /// (the engine frees it and stops parsing that flow).
        attach_refused,
        /// Data bytes made contiguous and handed to detection.
        bytes_reassembled,
        /// Segments that repeated already-seen bytes exactly.
        retransmissions,
        out_of_order_queued,
        out_of_window_drops,
        ooo_packets_drops,
        ooo_bytes_drops,
        seq_holes_drops,
        overlap_conflicts,
        overlap_conflict_drops,
        /// RSTs that closed their session (state Reset).
        rst_honoured,
        /// RSTs in the window but not at the expected sequence: passed (the receiver sends a
        /// challenge ACK), the session is kept.
        rst_inexact,
        rst_out_of_window,
        syn_on_established,
        data_on_syn,
        data_after_close_drops,
        invalid_state_drops,
        paws_drops,
        urgent_data,
        urgent_drops,
        depth_reached,
        four_way_handshakes,
        /// Reassembly gaps: the receiver acknowledged sequence space nfips never saw.
        reassembly_gaps,
        /// Bytes skipped by reassembly gaps (never inspected).
        gap_bytes,
        /// Segments starting inside an acknowledged gap, dropped.
        gap_data_drops,
    }
}
