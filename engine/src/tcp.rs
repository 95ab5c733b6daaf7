//! The worker's TCP reassembly: one [`nfips_stream::StreamTable`] per worker, configured from
//! [`Settings`], fed every TCP segment whose checksum is valid (or unchecked), and turned into
//! what the packet path needs: the stream's own verdict (as an EVE drop reason), the view to
//! inspect, `flow:established` and whether the flow can be bypassed.
//!
//! Rules this module keeps for the stream crate:
//! - Segments with a bad checksum never reach it (the worker accepts them uninspected before the
//!   flow lookup: the receiving host discards them, so their bytes must not become stream data).
//! - A packet dropped after its view was inspected drops the rest of the flow (the worker sets
//!   the flow verdict), because the view's bytes are already part of the stream: a
//!   retransmission of them would be recognised as one and get no new view.
//!
//! Stream events are counted by name (`event.stream.*`) and handed to detection as the
//! packet's `stream_events` bits (rules' `stream-event:<name>` and gid 129 preprocessor rules),
//! mapped by name through [`nfips_rules::stream_events`].
//!
//! Not here: detection, outputs, the flow table (see [`crate::worker`]).

use nfips_stream::{
    DropReason, Outcome, Segment, Side, StreamConfig, StreamEvent, StreamTable, StreamView,
    TcpFlags, TcpState,
};

use crate::decode::TcpHeader;
use crate::flow::{Flow, FlowKey, TcpProgress};
use crate::settings::{OverlapPolicy, Settings, StreamBypass, UrgentPolicy};

/// Sessions examined for timeouts per packet (the table stops at the first fresh one).
const EXPIRE_BUDGET: usize = 8;

/// The stream crate's settings from the engine's `stream.*` keys. Session timeouts follow the
/// flow table's TCP timeouts so a flow and its session age together.
pub fn stream_config(settings: &Settings) -> StreamConfig {
    let s = &settings.stream;
    let t = &settings.flow.timeouts;
    let usize_of = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    StreamConfig {
        memcap: s.memcap,
        max_sessions: usize_of(s.max_sessions),
        midstream: s.midstream,
        async_oneside: s.async_oneside,
        max_ooo_packets: usize_of(s.max_ooo_packets),
        max_ooo_bytes: usize_of(s.max_ooo_bytes),
        max_seq_holes: usize_of(s.max_seq_holes),
        overlap_policy: overlap_policy(s.overlap_policy),
        urgent_policy: match s.urgent_policy {
            UrgentPolicy::Drop => nfips_stream::UrgentPolicy::Drop,
            UrgentPolicy::Inline => nfips_stream::UrgentPolicy::Inline,
        },
        window_size: usize_of(s.window_size),
        depth: s.depth,
        truncate_sessions: usize_of(s.truncate_sessions),
        prune_sessions: usize_of(s.prune_sessions),
        embryonic_timeout_us: t.tcp_new.saturating_mul(1_000_000),
        established_timeout_us: t.tcp_established.saturating_mul(1_000_000),
        closed_timeout_us: t.tcp_closed.saturating_mul(1_000_000),
    }
}

/// `first` and `drop` are the same inline: the conflicting copy is dropped.
pub fn overlap_policy(policy: OverlapPolicy) -> nfips_stream::OverlapPolicy {
    match policy {
        OverlapPolicy::First | OverlapPolicy::Drop => nfips_stream::OverlapPolicy::First,
        OverlapPolicy::Last => nfips_stream::OverlapPolicy::Last,
    }
}

/// The EVE `drop.reason` of a stream drop, in Suricata's vocabulary (its stats schema lists
/// `stream_error`, `stream_memcap`, `stream_reassembly`, `stream_urgent`).
pub fn drop_reason(reason: DropReason) -> &'static str {
    match reason {
        DropReason::OutOfWindow
        | DropReason::BadRst
        | DropReason::Paws
        | DropReason::DataAfterClose
        | DropReason::InvalidState => "stream error",
        DropReason::OooPackets
        | DropReason::OooBytes
        | DropReason::SeqHoles
        | DropReason::OverlapConflict
        | DropReason::AckedGap => "stream reassembly",
        DropReason::Urgent => "stream urgent",
        DropReason::Memcap => "stream memcap",
    }
}

/// The flow's coarse TCP progress for a session state (`None`: no session).
fn progress_of(state: Option<TcpState>, before: TcpProgress) -> TcpProgress {
    match state {
        None => before,
        Some(TcpState::SynSent) => TcpProgress::SynSeen,
        Some(TcpState::SynReceived) => TcpProgress::SynAckSeen,
        Some(TcpState::Established | TcpState::Closing) => TcpProgress::Established,
        Some(TcpState::TimeWait | TcpState::Reset) => TcpProgress::Closed,
    }
}

/// What the stream says about one TCP packet.
#[derive(Clone, Copy, Debug)]
pub struct TcpStep<'t> {
    /// The stream drops the packet: EVE drop reason. Nothing of it was inspected as stream
    /// data.
    pub drop: Option<&'static str>,
    /// New contiguous stream data to inspect (with context before it).
    pub view: Option<StreamView<'t>>,
    /// `flow:established` for this packet: the session was established before it (the packet
    /// completing the handshake is not, as in Suricata), or it was picked up midstream.
    pub established: bool,
    /// Both directions reached `stream.depth`: the flow needs no more inspection.
    pub bypass: bool,
    /// The stream events this segment raised, as [`nfips_rules::PacketContext::stream_events`]
    /// bits.
    pub stream_events: u64,
    /// The flow has a stream session after this segment (none: never started, or closed,
    /// timed out or pruned under the memcap).
    pub has_session: bool,
}

/// The rule-language bit of a stream event (through its name; `None` if the rules crate has
/// no name for it, which a test rules out).
pub fn rule_event_bit(event: StreamEvent) -> Option<u8> {
    let name = event.name();
    nfips_rules::stream_events::bit_of(name.strip_prefix("stream.").unwrap_or(name))
}

/// One worker's TCP sessions and their counters.
pub struct TcpStreams {
    table: StreamTable<FlowKey>,
    events: [u64; StreamEvent::ALL.len()],
    /// [`rule_event_bit`] of each event as a mask, computed once.
    event_masks: [u64; StreamEvent::ALL.len()],
    drops: u64,
    bypassed: u64,
    bypass: StreamBypass,
}

impl TcpStreams {
    /// `pattern_span`: the ruleset's longest pattern span (capped by `stream.window-size`).
    pub fn new(settings: &Settings, pattern_span: usize) -> TcpStreams {
        let mut table = StreamTable::new(stream_config(settings));
        table.set_context(pattern_span);
        TcpStreams {
            table,
            events: [0; StreamEvent::ALL.len()],
            event_masks: std::array::from_fn(|i| {
                rule_event_bit(StreamEvent::ALL[i]).map_or(0, |bit| 1u64 << bit)
            }),
            drops: 0,
            bypassed: 0,
            bypass: settings.stream.bypass,
        }
    }

    /// A new ruleset was loaded: keep as much context as its longest pattern needs.
    pub fn set_pattern_span(&mut self, span: usize) {
        self.table.set_context(span);
    }

    /// Forget the session of a flow (e.g. the flow was dropped).
    pub fn remove(&mut self, key: &FlowKey) {
        self.table.remove(key);
    }

    /// Charge an application parser's state of the flow `key` to `stream.memcap` (see
    /// [`StreamTable::attach`]); false when it does not fit or the session is gone: the caller
    /// frees the state.
    pub fn attach(&mut self, key: &FlowKey, bytes: usize) -> bool {
        self.table.attach(key, bytes)
    }

    /// Bytes charged against `stream.memcap`.
    pub fn memory_used(&self) -> u64 {
        self.table.memory_used()
    }

    /// Sessions tracked.
    pub fn sessions(&self) -> usize {
        self.table.len()
    }

    /// Process one segment of `flow` (keyed `key`), updating the flow's TCP progress.
    pub fn segment(
        &mut self,
        key: &FlowKey,
        flow: &mut Flow,
        tcp: &TcpHeader,
        payload: &[u8],
        to_server: bool,
        ts_us: u64,
    ) -> TcpStep<'_> {
        self.table.expire(ts_us, EXPIRE_BUDGET);
        let segment = Segment {
            side: if to_server {
                Side::Initiator
            } else {
                Side::Responder
            },
            seq: tcp.seq,
            ack: tcp.ack,
            flags: TcpFlags(tcp.flags),
            window: tcp.window,
            window_scale: tcp.options.window_scale,
            timestamp: tcp.options.timestamp,
            urgent_pointer: tcp.urgent_pointer,
            payload,
            time_us: ts_us,
        };
        let outcome: Outcome<'_> = self.table.process(key, &segment);
        let mut stream_events = 0;
        for event in outcome.events.iter() {
            self.events[event as usize] += 1;
            stream_events |= self.event_masks[event as usize];
        }
        let before = flow.tcp;
        flow.tcp = progress_of(outcome.state, before);
        let established = matches!(before, TcpProgress::Established | TcpProgress::Closed)
            || (before == TcpProgress::None && flow.tcp == TcpProgress::Established);
        let drop = match outcome.verdict {
            nfips_stream::Verdict::Accept => None,
            nfips_stream::Verdict::Drop(reason) => {
                self.drops += 1;
                Some(drop_reason(reason))
            }
        };
        let past_depth = match self.bypass {
            StreamBypass::First => outcome.depth_reached,
            StreamBypass::Both => outcome.both_depths_reached,
            StreamBypass::No => false,
        };
        let bypass = past_depth && drop.is_none();
        if bypass {
            self.bypassed += 1;
        }
        TcpStep {
            drop,
            view: outcome.view.filter(|_| drop.is_none()),
            established,
            bypass,
            stream_events,
            has_session: outcome.state.is_some(),
        }
    }

    /// Append counters as (prefix, name, value): `stream.<counter>` for the table's
    /// [`nfips_stream::StreamStats`], `stream.drops`, `stream.bypassed`, `stream.memuse`,
    /// `stream.sessions`, and `event.stream.*` per stream event raised.
    pub fn counters(&self, out: &mut Vec<(&'static str, &'static str, u64)>) {
        out.extend(
            self.table
                .stats()
                .iter()
                .map(|(name, value)| ("stream", name, value)),
        );
        out.push(("stream", "drops", self.drops));
        out.push(("stream", "bypassed", self.bypassed));
        out.push(("stream", "memuse", self.table.memory_used()));
        out.push(("stream", "sessions", self.table.len() as u64));
        for event in StreamEvent::ALL {
            let count = self.events[*event as usize];
            if count > 0 {
                out.push(("event", event.name(), count));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_event_has_a_rule_bit_and_its_gid129_sid() {
        for &event in StreamEvent::ALL {
            let bit = rule_event_bit(event);
            assert!(bit.is_some(), "{} has no stream-event name", event.name());
            assert_eq!(
                nfips_rules::stream_events::bit_of_gid129_sid(event.sid()),
                bit,
                "gid 129 sid {} of {}",
                event.sid(),
                event.name()
            );
        }
        let mut bits: Vec<_> = StreamEvent::ALL
            .iter()
            .map(|&e| rule_event_bit(e))
            .collect();
        bits.sort_unstable();
        bits.dedup();
        assert_eq!(bits.len(), StreamEvent::ALL.len(), "two events share a bit");
    }

    #[test]
    fn drop_reasons_use_suricata_words() {
        assert_eq!(drop_reason(DropReason::OutOfWindow), "stream error");
        assert_eq!(
            drop_reason(DropReason::OverlapConflict),
            "stream reassembly"
        );
        assert_eq!(drop_reason(DropReason::Urgent), "stream urgent");
        assert_eq!(drop_reason(DropReason::Memcap), "stream memcap");
    }

    #[test]
    fn config_follows_settings() {
        let mut settings = Settings::default();
        settings.stream.max_ooo_packets = 9;
        settings.stream.overlap_policy = OverlapPolicy::Last;
        settings.flow.timeouts.tcp_new = 7;
        let cfg = stream_config(&settings);
        assert_eq!(cfg.max_ooo_packets, 9);
        assert_eq!(cfg.overlap_policy, nfips_stream::OverlapPolicy::Last);
        assert_eq!(cfg.embryonic_timeout_us, 7_000_000);
        assert_eq!(cfg.window_size, 3000);
    }

    #[test]
    fn closing_session_stays_established_reset_closes() {
        use TcpProgress as P;
        let established = P::Established;
        assert_eq!(
            progress_of(Some(TcpState::Closing), established),
            P::Established
        );
        assert_eq!(progress_of(Some(TcpState::Reset), established), P::Closed);
        assert_eq!(progress_of(None, P::SynSeen), P::SynSeen);
        assert_eq!(
            progress_of(Some(TcpState::SynReceived), P::SynSeen),
            P::SynAckSeen
        );
    }
}
