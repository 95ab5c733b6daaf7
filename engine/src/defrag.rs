//! The worker's IP defragmentation: fragments (decode sets [`Packet::fragment`]) go to a
//! per-worker [`nfips_stream::defrag::Defragmenter`]; when one completes its datagram, the
//! datagram is rebuilt as a whole IP packet in a worker-owned scratch buffer (allocation-free
//! after warm-up) for the worker to decode and run through the rest of the packet path.
//!
//! Inline we cannot hold fragments: earlier fragments are accepted, and the verdict on the whole
//! datagram applies to the fragment that completed it (the receiver cannot reassemble without
//! it). Overlapping fragments with different bytes, tiny fragments that split a TCP header and
//! limit overruns are dropped with an EVE reason of Suricata's vocabulary (`defrag error`,
//! `defrag memcap`) and counted.
//!
//! The rebuilt header is the completing fragment's (IPv4: fragment bits and offset cleared,
//! total length and checksum recomputed; IPv6: its fragment header made atomic, RFC 6946,
//! payload length recomputed). IPv4 options that are not copied into later fragments are then
//! absent, which only header rules on such options could notice.
//!
//! Not here: decoding or detection (see [`crate::worker`]).

use nfips_stream::defrag::{DefragConfig, DefragDrop, DefragVerdict, Defragmenter, Fragment};

use crate::decode::{internet_checksum, Packet};
use crate::settings::Settings;
use crate::tcp::overlap_policy;

/// Packet time between sweeps for timed-out datagrams, microseconds.
const EXPIRE_INTERVAL_US: u64 = 1_000_000;

/// What to do with one fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FragStep {
    /// Accept it; its datagram is not complete yet.
    Pending,
    /// Drop it, with this EVE drop reason.
    Drop(&'static str),
    /// It completed its datagram: [`IpDefrag::take_datagram`] holds the whole IP packet.
    Complete,
}

/// One worker's defragmenter and rebuild buffer.
pub struct IpDefrag {
    defrag: Defragmenter,
    datagram: Vec<u8>,
    last_expire_us: u64,
    drops: u64,
    /// A reassembled datagram that was itself a fragment (nested fragment headers).
    nested: u64,
    events: Vec<(&'static str, u64)>,
}

/// The defragmenter's settings from `defrag.*`.
pub fn defrag_config(settings: &Settings) -> DefragConfig {
    let d = &settings.defrag;
    DefragConfig {
        memcap: d.memcap,
        max_fragments: usize::try_from(d.max_fragments).unwrap_or(usize::MAX),
        max_datagrams: usize::try_from(d.max_datagrams).unwrap_or(usize::MAX),
        timeout_us: d.timeout.saturating_mul(1_000_000),
        overlap_policy: overlap_policy(d.overlap_policy),
    }
}

fn drop_reason(reason: DefragDrop) -> &'static str {
    match reason {
        DefragDrop::Memcap => "defrag memcap",
        _ => "defrag error",
    }
}

impl IpDefrag {
    pub fn new(settings: &Settings) -> IpDefrag {
        IpDefrag {
            defrag: Defragmenter::new(defrag_config(settings)),
            datagram: Vec::new(),
            last_expire_us: 0,
            drops: 0,
            nested: 0,
            events: Vec::new(),
        }
    }

    /// Add one fragment (`pkt.fragment` is set). On [`FragStep::Complete`] the rebuilt packet
    /// is ready in [`IpDefrag::take_datagram`].
    pub fn fragment(&mut self, pkt: &Packet<'_>, ts_us: u64) -> FragStep {
        let Some(info) = pkt.fragment else {
            return FragStep::Pending;
        };
        if ts_us.saturating_sub(self.last_expire_us) >= EXPIRE_INTERVAL_US {
            self.last_expire_us = ts_us;
            self.defrag.expire(ts_us);
        }
        let header = &pkt.ip_bytes[..pkt.l4_offset.min(pkt.ip_bytes.len())];
        let outcome = self.defrag.process(&Fragment {
            src: pkt.src,
            dst: pkt.dst,
            proto: pkt.ip_proto,
            id: info.id,
            offset: info.offset,
            more: info.more,
            payload: &pkt.ip_bytes[header.len()..],
            time_us: ts_us,
        });
        if let Some(event) = outcome.event {
            match self
                .events
                .iter_mut()
                .find(|(name, _)| *name == event.name())
            {
                Some((_, count)) => *count += 1,
                None => self.events.push((event.name(), 1)),
            }
        }
        match (outcome.verdict, outcome.datagram) {
            (DefragVerdict::Pending, _) => FragStep::Pending,
            (DefragVerdict::Drop(reason), _) => {
                self.drops += 1;
                FragStep::Drop(drop_reason(reason))
            }
            (DefragVerdict::Complete, Some(payload)) => {
                if rebuild(&mut self.datagram, header, payload, pkt.is_ipv6()) {
                    FragStep::Complete
                } else {
                    self.drops += 1;
                    FragStep::Drop("defrag error")
                }
            }
            (DefragVerdict::Complete, None) => FragStep::Pending,
        }
    }

    /// The rebuilt datagram (give it back with [`IpDefrag::give_back`] to keep its capacity).
    pub fn take_datagram(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.datagram)
    }

    pub fn give_back(&mut self, buffer: Vec<u8>) {
        self.datagram = buffer;
    }

    /// The reassembled datagram was a fragment again: counted, and its EVE drop reason.
    pub fn nested_fragment(&mut self) -> &'static str {
        self.nested += 1;
        self.drops += 1;
        "defrag error"
    }

    /// Bytes charged against `defrag.memcap`.
    pub fn memory_used(&self) -> u64 {
        self.defrag.memory_used()
    }

    /// Append counters as (prefix, name, value): `defrag.<counter>`, `defrag.drops`,
    /// `defrag.nested`, `defrag.memuse`, and `event.defrag.*` per anomaly.
    pub fn counters(&self, out: &mut Vec<(&'static str, &'static str, u64)>) {
        out.extend(
            self.defrag
                .stats()
                .iter()
                .map(|(name, value)| ("defrag", name, value)),
        );
        out.push(("defrag", "drops", self.drops));
        out.push(("defrag", "nested", self.nested));
        out.push(("defrag", "memuse", self.defrag.memory_used()));
        out.extend(
            self.events
                .iter()
                .map(|&(name, count)| ("event", name, count)),
        );
    }
}

/// Write `header` + `payload` into `out` as one unfragmented IP packet. False when the result
/// cannot be expressed (longer than the length fields allow).
fn rebuild(out: &mut Vec<u8>, header: &[u8], payload: &[u8], ipv6: bool) -> bool {
    out.clear();
    out.extend_from_slice(header);
    out.extend_from_slice(payload);
    if ipv6 {
        // The fragment header is the 8 bytes before the data: make it atomic (offset 0, M 0).
        let Some(payload_len) = out.len().checked_sub(40) else {
            return false;
        };
        if header.len() < 48 || payload_len > usize::from(u16::MAX) {
            return false;
        }
        out[4..6].copy_from_slice(&(payload_len as u16).to_be_bytes());
        let frag = header.len() - 8;
        out[frag + 2] = 0;
        out[frag + 3] = 0;
    } else {
        if header.len() < 20 || out.len() > usize::from(u16::MAX) {
            return false;
        }
        let total = out.len() as u16;
        out[2..4].copy_from_slice(&total.to_be_bytes());
        // Keep the reserved and DF bits; clear MF and the offset.
        out[6] &= 0xc0;
        out[7] = 0;
        out[10] = 0;
        out[11] = 0;
        let checksum = internet_checksum(&out[..header.len()], 0);
        out[10..12].copy_from_slice(&checksum.to_be_bytes());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::craft::PacketBuilder;
    use crate::decode::{decode, DecodeStats, LinkType, Transport};

    fn run(frames: &[Vec<u8>]) -> (Vec<FragStep>, IpDefrag) {
        let mut defrag = IpDefrag::new(&Settings::default());
        let mut stats = DecodeStats::default();
        let steps = frames
            .iter()
            .map(|f| {
                let pkt = decode(LinkType::RawIp, f, true, &mut stats).expect("decodes");
                defrag.fragment(&pkt, 0)
            })
            .collect();
        (steps, defrag)
    }

    fn check_rebuilt(builder: PacketBuilder) {
        let whole = builder.build_ip();
        let (steps, mut defrag) = run(&builder.fragments(&[24, 16]));
        assert_eq!(steps.last(), Some(&FragStep::Complete));
        let datagram = defrag.take_datagram();
        let mut stats = DecodeStats::default();
        let pkt = decode(LinkType::RawIp, &datagram, true, &mut stats).expect("rebuilt decodes");
        assert!(pkt.fragment.is_none());
        assert!(matches!(pkt.transport, Transport::Tcp(_)));
        assert_eq!(pkt.checksum, crate::decode::ChecksumStatus::Valid);
        let original = decode(LinkType::RawIp, &whole, true, &mut stats).expect("decodes");
        assert_eq!(pkt.payload, original.payload);
    }

    #[test]
    fn ipv4_fragments_rebuild_a_valid_packet() {
        check_rebuilt(PacketBuilder::tcp("10.0.0.1:1000", "10.0.0.2:80").payload(&[b'x'; 60]));
    }

    #[test]
    fn ipv6_fragments_rebuild_a_valid_packet() {
        check_rebuilt(
            PacketBuilder::tcp("[2001:db8::1]:1000", "[2001:db8::2]:80").payload(&[b'y'; 60]),
        );
    }

    #[test]
    fn overlapping_fragment_with_other_bytes_is_dropped_and_counted() {
        let b = PacketBuilder::tcp("10.0.0.1:1000", "10.0.0.2:80").payload(&[b'a'; 40]);
        let first = b.fragment(0, true, &b.build_l4()[..32]);
        let evil = b.fragment(24, true, &[b'z'; 16]);
        let (steps, defrag) = run(&[first, evil]);
        assert_eq!(
            steps,
            vec![FragStep::Pending, FragStep::Drop("defrag error")]
        );
        let mut counters = Vec::new();
        defrag.counters(&mut counters);
        assert!(counters.contains(&("defrag", "drops", 1)));
        assert!(counters.contains(&("event", "defrag.overlap_different_data", 1)));
    }
}
