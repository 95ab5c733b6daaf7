//! The per-worker flow table: bidirectional 5-tuple flows with packet-time timeouts.
//!
//! A flow remembers who started it (the client: its packets go `to_server`), whether it is
//! established (TCP: handshake seen, or picked up midstream; UDP/ICMP/other: packets seen both
//! ways, Suricata's semantics), its flowbits, and its verdict (once dropped, always dropped).
//! The table is keyed with std's `RandomState` (SipHash with random keys): the addresses are
//! attacker-chosen, so an unkeyed hash would let one sender fill a single bucket.
//!
//! Not here: TCP reassembly (the stream crate adds its session to [`Flow`]) and rule matching.

use std::collections::hash_map::{Entry, HashMap};

/// Keyed per table with a random seed (flooders cannot aim at one bucket), and several times
/// faster than SipHash on these 38-byte keys: the flow lookup is on every packet.
use foldhash::fast::RandomState;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use nfips_rules::FlowBits;

use crate::settings::FlowSettings;

/// One end of a flow: address (IPv4 mapped into IPv6) and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: [u8; 16],
    pub port: u16,
}

impl Endpoint {
    pub fn new(addr: IpAddr, port: u16) -> Self {
        let addr = match addr {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        Endpoint { addr, port }
    }

    pub fn ip(&self) -> IpAddr {
        let v6 = Ipv6Addr::from(self.addr);
        v6.to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6))
    }
}

/// Direction-free flow key: the lower endpoint first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub low: Endpoint,
    pub high: Endpoint,
    pub proto: u8,
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and whether `src` is the key's `low` end.
    pub fn of(src: Endpoint, dst: Endpoint, proto: u8) -> (FlowKey, bool) {
        if src <= dst {
            (
                FlowKey {
                    low: src,
                    high: dst,
                    proto,
                },
                true,
            )
        } else {
            (
                FlowKey {
                    low: dst,
                    high: src,
                    proto,
                },
                false,
            )
        }
    }
}

/// The verdict a flow carries for all its later packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlowVerdict {
    #[default]
    None,
    /// A drop or reject rule matched: every later packet is dropped ("flow drop").
    Drop,
    /// A pass rule with flow scope matched: later packets are not inspected.
    Pass,
}

/// Coarse TCP progress for `flow:established` until the stream crate tracks sessions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TcpProgress {
    #[default]
    None,
    SynSeen,
    SynAckSeen,
    Established,
    Closed,
}

impl fmt::Display for TcpProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpProgress::None => "none",
            TcpProgress::SynSeen => "syn",
            TcpProgress::SynAckSeen => "syn-ack",
            TcpProgress::Established => "established",
            TcpProgress::Closed => "closed",
        })
    }
}

/// One flow. Kept small: it lives as long as the connection, idle or not.
#[derive(Debug)]
pub struct Flow {
    /// Unique per worker (worker number in the top bits); EVE's `flow_id`.
    pub id: u64,
    /// The initiator is the key's `low` end.
    pub initiator_is_low: bool,
    /// HTTP parsing of this flow stopped for good (its state was freed under the memcap or
    /// with its stream session); `http` stays `None`.
    pub http_off: bool,
    /// Packet time (µs) of the last packet.
    pub last_seen_us: u64,
    pub packets_to_server: u32,
    pub packets_to_client: u32,
    pub tcp: TcpProgress,
    pub verdict: FlowVerdict,
    pub bits: FlowBits,
    /// HTTP parser state, created at the flow's first stream data when the rules read HTTP
    /// buffers (boxed: most flows never need it).
    pub http: Option<Box<crate::http::HttpState>>,
    /// Slot numbers of the TCP directions' pending stream candidates ([to client, to server];
    /// 0: none), see [`crate::pending`].
    pub stream_pending: [u32; 2],
    /// App-layer protocol detection (one byte), see [`crate::applayer`] (its parser state
    /// lives in the worker's table, keyed by `id`).
    pub app_layer: crate::applayer::AppLayerState,
    // The stream crate adds its TCP session here (boxed, so UDP/ICMP flows stay small).
}

impl Flow {
    /// UDP/ICMP/other: seen both ways. TCP: handshake completed (or picked up midstream).
    pub fn established(&self, proto: u8) -> bool {
        if proto == 6 {
            self.tcp == TcpProgress::Established
        } else {
            self.packets_to_server > 0 && self.packets_to_client > 0
        }
    }
}

/// What [`FlowTable::lookup`] did, for counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    Existing,
    Created,
    /// The old flow under this key had timed out and was replaced.
    Recycled,
}

/// Counters of the flow table (named in [`FlowTable::counters`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowCounters {
    pub created: u64,
    pub timed_out: u64,
    pub emergency_prunes: u64,
    pub evicted: u64,
}

/// The flow table of one worker.
pub struct FlowTable {
    flows: HashMap<FlowKey, Flow, RandomState>,
    settings: FlowSettings,
    next_id: u64,
    last_sweep_us: u64,
    /// Packet time of the last emergency sweep (see [`FlowTable::make_room`]).
    last_emergency_sweep_us: Option<u64>,
    pub counters: FlowCounters,
}

impl FlowTable {
    /// `worker` goes into the top 16 bits of flow ids so ids are unique across workers.
    pub fn new(settings: &FlowSettings, worker: u16) -> Self {
        FlowTable {
            flows: HashMap::with_hasher(RandomState::default()),
            settings: settings.clone(),
            next_id: (u64::from(worker) << 48) | 1,
            last_sweep_us: 0,
            last_emergency_sweep_us: None,
            counters: FlowCounters::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Timeout (seconds) of a flow in its current state.
    fn timeout_secs(&self, key: &FlowKey, flow: &Flow) -> u64 {
        let t = &self.settings.timeouts;
        let established = flow.established(key.proto);
        match key.proto {
            6 => match flow.tcp {
                TcpProgress::Established => t.tcp_established,
                TcpProgress::Closed => t.tcp_closed,
                _ => t.tcp_new,
            },
            17 if established => t.udp_established,
            17 => t.udp_new,
            1 | 58 if established => t.icmp_established,
            1 | 58 => t.icmp_new,
            _ if established => t.other_established,
            _ => t.other_new,
        }
    }

    fn expired(&self, key: &FlowKey, flow: &Flow, now_us: u64, emergency: bool) -> bool {
        let mut timeout = self.timeout_secs(key, flow);
        if emergency {
            timeout = timeout.min(self.settings.timeouts.emergency);
        }
        now_us.saturating_sub(flow.last_seen_us) > timeout.saturating_mul(1_000_000)
    }

    /// Remove flows idle past their timeout (at most once per `flow.sweep-interval` of packet
    /// time). Returns how many were removed.
    pub fn sweep(&mut self, now_us: u64) -> usize {
        if now_us.saturating_sub(self.last_sweep_us)
            < self.settings.sweep_interval.saturating_mul(1_000_000)
        {
            return 0;
        }
        self.last_sweep_us = now_us;
        self.remove_expired(now_us, false)
    }

    fn remove_expired(&mut self, now_us: u64, emergency: bool) -> usize {
        let before = self.flows.len();
        let mut flows = std::mem::take(&mut self.flows);
        flows.retain(|key, flow| !self.expired(key, flow, now_us, emergency));
        self.flows = flows;
        let removed = before - self.flows.len();
        self.counters.timed_out += removed as u64;
        removed
    }

    /// Make room for one flow: expired flows under emergency timeouts first, then a batch of
    /// flows in hash order (random, since the hash is keyed). The emergency sweep walks the
    /// whole table, so it runs at most once per second of packet time: under a flood of new
    /// flows each packet costs a batch eviction, not a table scan.
    fn make_room(&mut self, now_us: u64) {
        self.counters.emergency_prunes += 1;
        let sweep_due = self
            .last_emergency_sweep_us
            .is_none_or(|last| now_us.saturating_sub(last) >= 1_000_000);
        if sweep_due {
            self.last_emergency_sweep_us = Some(now_us);
            if self.remove_expired(now_us, true) > 0 {
                return;
            }
        }
        let batch = self.settings.prune_batch.max(1) as usize;
        // Dropping the iterator after `batch` items keeps the rest (no allocation).
        let evicted = self.flows.extract_if(|_, _| true).take(batch).count();
        self.counters.evicted += evicted as u64;
    }

    /// Find or create the flow of a packet from `src` to `dst`. Returns the flow, whether the
    /// packet goes to the server (from the initiator), and what happened. `sender_is_server`
    /// says, for a packet that creates a flow, that its sender is the server (a SYN-ACK or a
    /// midstream packet from a service port), so the destination is recorded as the initiator.
    pub fn lookup(
        &mut self,
        src: Endpoint,
        dst: Endpoint,
        proto: u8,
        now_us: u64,
        sender_is_server: bool,
    ) -> (&mut Flow, bool, Lookup) {
        let (key, src_is_low) = FlowKey::of(src, dst, proto);
        let mut outcome = Lookup::Existing;
        if let Some(flow) = self.flows.get(&key) {
            if self.expired(&key, flow, now_us, false) {
                self.flows.remove(&key);
                self.counters.timed_out += 1;
                outcome = Lookup::Recycled;
            }
        } else {
            outcome = Lookup::Created;
        }
        if outcome != Lookup::Existing && self.flows.len() as u64 >= self.settings.max_flows.max(1)
        {
            self.make_room(now_us);
        }
        let next_id = &mut self.next_id;
        let counters = &mut self.counters;
        let flow = match self.flows.entry(key) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                counters.created += 1;
                let id = *next_id;
                *next_id += 1;
                e.insert(Flow {
                    id,
                    initiator_is_low: src_is_low != sender_is_server,
                    http_off: false,
                    last_seen_us: now_us,
                    packets_to_server: 0,
                    packets_to_client: 0,
                    tcp: TcpProgress::None,
                    verdict: FlowVerdict::None,
                    bits: FlowBits::default(),
                    http: None,
                    stream_pending: [0; 2],
                    app_layer: Default::default(),
                })
            }
        };
        let to_server = flow.initiator_is_low == src_is_low;
        flow.last_seen_us = flow.last_seen_us.max(now_us);
        if to_server {
            flow.packets_to_server = flow.packets_to_server.saturating_add(1);
        } else {
            flow.packets_to_client = flow.packets_to_client.saturating_add(1);
        }
        (flow, to_server, outcome)
    }

    /// Counters as (name, value) for stats.
    pub fn counters(&self) -> [(&'static str, u64); 5] {
        [
            ("flow_created", self.counters.created),
            ("flow_timed_out", self.counters.timed_out),
            ("flow_emergency_prunes", self.counters.emergency_prunes),
            ("flow_evicted", self.counters.evicted),
            ("flow_active", self.flows.len() as u64),
        ]
    }
}

/// Whether the sender of a flow's first TCP packet is the server: a SYN-ACK, or (picked up
/// midstream) a packet from a service port (< 1024) to an ephemeral one.
pub fn tcp_sender_is_server(flags: u8, src_port: u16, dst_port: u16, midstream: bool) -> bool {
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    match flags & (SYN | ACK) {
        f if f == SYN | ACK => true,
        SYN => false,
        _ => midstream && src_port < 1024 && dst_port >= 1024,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use std::net::Ipv4Addr;

    fn ep(last: u8, port: u16) -> Endpoint {
        Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)), port)
    }

    fn table(max_flows: u64) -> FlowTable {
        let mut s = Settings::default();
        s.flow.max_flows = max_flows;
        s.flow.prune_batch = 1;
        FlowTable::new(&s.flow, 0)
    }

    #[test]
    fn both_directions_share_one_flow_and_the_initiator_is_the_client() {
        let mut t = table(10);
        let (flow, to_server, how) = t.lookup(ep(2, 4000), ep(1, 80), 6, 0, false);
        let id = flow.id;
        assert!(to_server);
        assert_eq!(how, Lookup::Created);
        let (flow, to_server, how) = t.lookup(ep(1, 80), ep(2, 4000), 6, 1, false);
        assert_eq!((flow.id, to_server, how), (id, false, Lookup::Existing));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn syn_ack_first_makes_the_receiver_the_client() {
        let mut t = table(10);
        let server_first = tcp_sender_is_server(0x12, 80, 4000, false);
        let (_, to_server, _) = t.lookup(ep(1, 80), ep(2, 4000), 6, 0, server_first);
        assert!(!to_server);
        let (_, to_server, _) = t.lookup(ep(2, 4000), ep(1, 80), 6, 1, false);
        assert!(to_server);
        assert!(tcp_sender_is_server(0x18, 143, 50000, true));
        assert!(!tcp_sender_is_server(0x18, 143, 50000, false));
        assert!(!tcp_sender_is_server(0x02, 143, 50000, true));
    }

    #[test]
    fn udp_is_established_once_seen_both_ways() {
        let mut t = table(10);
        assert!(!t
            .lookup(ep(1, 53), ep(2, 999), 17, 0, false)
            .0
            .established(17));
        assert!(t
            .lookup(ep(2, 999), ep(1, 53), 17, 0, false)
            .0
            .established(17));
    }

    #[test]
    fn idle_flow_past_its_timeout_is_recycled_in_packet_time() {
        let mut t = table(10);
        let first = t.lookup(ep(1, 1), ep(2, 2), 17, 0, false).0.id;
        let udp_new = Settings::default().flow.timeouts.udp_new;
        let (flow, _, how) = t.lookup(ep(1, 1), ep(2, 2), 17, (udp_new + 1) * 1_000_000, false);
        assert_eq!(how, Lookup::Recycled);
        assert_ne!(flow.id, first);
        assert_eq!(t.counters.timed_out, 1);
    }

    #[test]
    fn full_table_evicts_and_counts() {
        let mut t = table(2);
        t.lookup(ep(1, 1), ep(2, 2), 17, 0, false);
        t.lookup(ep(1, 1), ep(3, 2), 17, 0, false);
        t.lookup(ep(1, 1), ep(4, 2), 17, 0, false);
        assert_eq!(t.len(), 2);
        assert_eq!(t.counters.emergency_prunes, 1);
        assert_eq!(t.counters.evicted, 1);
    }

    #[test]
    fn full_table_prefers_flows_past_the_emergency_timeout() {
        let mut t = table(2);
        t.lookup(ep(1, 1), ep(2, 2), 17, 0, false);
        t.lookup(ep(1, 1), ep(3, 2), 17, 20_000_000, false);
        t.lookup(ep(1, 1), ep(4, 2), 17, 20_000_001, false);
        assert_eq!((t.counters.evicted, t.counters.timed_out), (0, 1));
    }

    #[test]
    fn emergency_sweep_runs_at_most_once_per_second_of_packet_time() {
        // Emergency timeout 10 s.
        let mut t = table(2);
        t.lookup(ep(1, 1), ep(2, 2), 17, 0, false);
        t.lookup(ep(1, 1), ep(3, 2), 17, 100_000, false);
        // Full: the first emergency sweep finds nothing past 10 s and one flow is evicted.
        t.lookup(ep(1, 1), ep(4, 2), 17, 9_500_000, false);
        assert_eq!((t.counters.evicted, t.counters.timed_out), (1, 0));
        // 0.8 s later no sweep is due: another eviction instead of a table walk, although the
        // older flow left (from time 0 or 0.1 s) is now past the emergency timeout.
        t.lookup(ep(1, 1), ep(5, 2), 17, 10_300_000, false);
        assert_eq!((t.counters.evicted, t.counters.timed_out), (2, 0));
        // Over a second after the last sweep, sweeping is due again and finds the idle flows.
        t.lookup(ep(1, 1), ep(6, 2), 17, 20_600_000, false);
        assert_eq!(t.counters.evicted, 2, "{:?}", t.counters);
        assert!(t.counters.timed_out >= 1, "{:?}", t.counters);
        assert!(t.len() <= 2);
    }

    #[test]
    fn sweep_removes_only_expired_flows() {
        let mut t = table(10);
        t.lookup(ep(1, 1), ep(2, 2), 17, 0, false);
        t.lookup(ep(1, 1), ep(3, 2), 17, 40_000_000, false);
        assert_eq!(t.sweep(40_000_000), 1);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn flow_entry_stays_small() {
        assert!(
            std::mem::size_of::<Flow>() <= 56,
            "{}",
            std::mem::size_of::<Flow>()
        );
    }
}
