//! One worker thread's whole packet path: decode -> stickydrop -> flow -> detect -> verdict,
//! emitting output records. The inline daemon, replay and the benchmark all drive a [`Worker`]
//! packet by packet, so they give the same verdicts.
//!
//! State shared by all workers lives in [`Shared`] (settings, the detection plan swapped whole
//! on reload, the stickydrop table); everything else (flows, scratch, counters) is per worker
//! and needs no locks.
//!
//! Not here: reading packets or sending verdicts, resets and marks (see [`crate::source`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use nfips_rules::ast::RejectTarget;
use nfips_rules::ruleset::{BufferKind, FlowContext, IcmpFields, IpFields, TcpFields};
use nfips_rules::PacketContext;

use crate::decode::{ChecksumStatus, Decoder, LinkType, Packet, Transport};
use crate::detect::{DetectionPlan, Detector, PacketAction};
use crate::flow::{tcp_sender_is_server, track_tcp, Endpoint, FlowTable, FlowVerdict, TcpProgress};
use crate::output::{
    AlertAction, DropReason, OutputHandle, PacketMeta, Record, RejectRecord, RuleRef,
};
use crate::settings::{DecodeErrorVerdict, Settings};
use crate::stats::WorkerStats;

/// The stickydrop table as the packet path sees it. The inline daemon provides the real,
/// kernel-mirrored table; [`MemoryStickyTable`] serves replay and tests.
pub trait StickyCheck: Send + Sync {
    /// Is `addr` blocked at `now_secs` (packet time)?
    fn is_blocked(&self, addr: IpAddr, now_secs: u64) -> bool;
    /// Block `addr` until `until_secs`.
    fn block(&self, addr: IpAddr, until_secs: u64);
}

/// A bounded in-memory stickydrop table (`stickydrop.max-entries`; when full, the entry that
/// expires first is replaced and `replaced` counts it).
pub struct MemoryStickyTable {
    entries: Mutex<HashMap<IpAddr, u64>>,
    max_entries: usize,
    pub replaced: AtomicU64,
    /// Fast path: no lock while the table has never held anything.
    used: std::sync::atomic::AtomicBool,
}

impl MemoryStickyTable {
    pub fn new(max_entries: u64) -> Self {
        MemoryStickyTable {
            entries: Mutex::new(HashMap::new()),
            max_entries: max_entries.max(1) as usize,
            replaced: AtomicU64::new(0),
            used: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl StickyCheck for MemoryStickyTable {
    fn is_blocked(&self, addr: IpAddr, now_secs: u64) -> bool {
        if !self.used.load(Ordering::Relaxed) {
            return false;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(&addr).is_some_and(|&until| until > now_secs)
    }

    fn block(&self, addr: IpAddr, until_secs: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if !entries.contains_key(&addr) && entries.len() >= self.max_entries {
            if let Some(victim) = entries
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(a, _)| *a)
            {
                entries.remove(&victim);
                self.replaced.fetch_add(1, Ordering::Relaxed);
            }
        }
        let until = entries.entry(addr).or_insert(0);
        *until = (*until).max(until_secs);
        self.used.store(true, Ordering::Relaxed);
    }
}

/// What all workers share.
pub struct Shared {
    pub settings: Settings,
    plan: RwLock<Arc<DetectionPlan>>,
    generation: AtomicU64,
    pub sticky: Arc<dyn StickyCheck>,
}

impl Shared {
    pub fn new(settings: Settings, plan: DetectionPlan, sticky: Arc<dyn StickyCheck>) -> Shared {
        Shared {
            settings,
            plan: RwLock::new(Arc::new(plan)),
            generation: AtomicU64::new(0),
            sticky,
        }
    }

    /// Replace the rules (reload); each worker picks the new plan up at its next packet.
    pub fn swap_plan(&self, plan: DetectionPlan) {
        *self.plan.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(plan);
        self.generation.fetch_add(1, Ordering::Release);
    }

    pub fn plan(&self) -> Arc<DetectionPlan> {
        self.plan.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// One packet as a source hands it over.
#[derive(Clone, Copy, Debug)]
pub struct RawPacket<'a> {
    pub link: LinkType,
    pub data: &'a [u8],
    /// Microseconds since the Unix epoch (pcap time in replay).
    pub ts_us: u64,
    /// 1-based packet number in a pcap.
    pub pcap_cnt: Option<u64>,
    /// The kernel has not filled in the checksum yet (NFQA_SKB_CSUM_NOTREADY, GSO).
    pub kernel_checksum_unchecked: bool,
}

/// What a reject asks the source to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectRequest {
    pub target: RejectTarget,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ip_proto: u8,
    pub src_port: u16,
    pub dst_port: u16,
    /// TCP seq/ack/flags of the rejected packet and its payload length (0 for non-TCP).
    pub seq: u32,
    pub ack: u32,
    pub tcp_flags: u8,
    pub payload_len: u32,
    /// The start of the rejected IP packet (header + 8 bytes at least, up to 548 bytes) for the
    /// ICMP unreachable quote.
    pub quote: Vec<u8>,
}

/// A packet's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub accept: bool,
    pub reject: Option<RejectRequest>,
    /// The flow needs no more inspection (passed): the inline source may mark it to bypass.
    pub bypass: bool,
    /// Block this address for this many seconds (a stickydrop rule matched).
    pub sticky: Option<(IpAddr, u32)>,
}

impl Verdict {
    const ACCEPT: Verdict = Verdict {
        accept: true,
        reject: None,
        bypass: false,
        sticky: None,
    };
    const DROP: Verdict = Verdict {
        accept: false,
        reject: None,
        bypass: false,
        sticky: None,
    };
}

/// One thread's packet path.
pub struct Worker {
    shared: Arc<Shared>,
    outputs: OutputHandle,
    generation: u64,
    decoder: Decoder,
    detector: Detector,
    flows: FlowTable,
    stats: WorkerStats,
    /// Packet time of the next EVE stats record (output.stats-interval).
    next_stats_us: u64,
}

fn meta_of(
    pkt: &Packet<'_>,
    ts_us: u64,
    pcap_cnt: Option<u64>,
    flow_id: Option<u64>,
) -> PacketMeta {
    let (src_port, dst_port) = ports(pkt);
    PacketMeta {
        ts_us,
        flow_id,
        pcap_cnt,
        src: pkt.src,
        dst: pkt.dst,
        src_port,
        dst_port,
        ip_proto: pkt.ip_proto,
        icmp: match pkt.transport {
            Transport::Icmp { itype, icode, .. } => Some((itype, icode)),
            _ => None,
        },
        len: pkt.ip_bytes.len() as u32,
        ttl: pkt.ttl,
        tos: pkt.tos,
        ip_id: pkt.ip_id,
        tcp: match pkt.transport {
            Transport::Tcp(t) => Some((t.flags, t.seq, t.ack, t.window)),
            _ => None,
        },
    }
}

fn ports(pkt: &Packet<'_>) -> (u16, u16) {
    match pkt.transport {
        Transport::Tcp(t) => (t.src_port, t.dst_port),
        Transport::Udp { src_port, dst_port } => (src_port, dst_port),
        _ => (0, 0),
    }
}

/// The rules' view of a decoded packet.
pub fn packet_context(pkt: &Packet<'_>, flow: FlowContext) -> PacketContext {
    let (src_port, dst_port) = ports(pkt);
    PacketContext {
        ip_proto: pkt.ip_proto,
        src: pkt.src,
        dst: pkt.dst,
        src_port,
        dst_port,
        ip: IpFields {
            ttl: pkt.ttl,
            tos: pkt.tos,
            id: pkt.ip_id,
            options: pkt.ip_options,
            fragbits: pkt.fragbits,
        },
        tcp: match pkt.transport {
            Transport::Tcp(t) => Some(TcpFields {
                flags: t.flags,
                seq: t.seq,
                ack: t.ack,
                window: t.window,
            }),
            _ => None,
        },
        icmp: match pkt.transport {
            Transport::Icmp {
                itype,
                icode,
                id,
                seq,
            } => Some(IcmpFields {
                itype,
                icode,
                id,
                seq,
            }),
            _ => None,
        },
        flow,
        buffer: BufferKind::Packet,
        dsize: pkt.payload.len(),
    }
}

impl Worker {
    pub fn new(shared: Arc<Shared>, outputs: OutputHandle) -> Worker {
        Self::with_id(shared, outputs, 0)
    }

    /// `id` distinguishes workers' flow ids.
    pub fn with_id(shared: Arc<Shared>, outputs: OutputHandle, id: u16) -> Worker {
        let plan = shared.plan();
        Worker {
            generation: shared.generation.load(Ordering::Acquire),
            decoder: Decoder::new(shared.settings.checksum_validation),
            detector: Detector::new(plan),
            flows: FlowTable::new(&shared.settings.flow, id),
            stats: WorkerStats::default(),
            next_stats_us: 0,
            shared,
            outputs,
        }
    }

    /// Counters so far (flow counters refreshed).
    pub fn stats(&mut self) -> &WorkerStats {
        let c = self.flows.counters;
        self.stats.flows_created = c.created;
        self.stats.flows_timed_out = c.timed_out;
        self.stats.flow_emergency_prunes = c.emergency_prunes;
        self.stats.flows_evicted = c.evicted;
        self.stats.flows_active = self.flows.len() as u64;
        self.stats.tuning_untracked = self.detector.untracked();
        self.stats.output_lost = self.outputs.lost();
        self.stats.decode_events.clear();
        for &reason in crate::decode::DecodeError::ALL {
            let count = self.decoder.stats.error_count(reason);
            if count > 0 {
                self.stats.decode_event_count(reason.name(), count);
            }
        }
        &self.stats
    }

    /// Decide one packet.
    pub fn process(&mut self, raw: RawPacket<'_>) -> Verdict {
        self.stats.packets += 1;
        self.stats.bytes += raw.data.len() as u64;
        let generation = self.shared.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.generation = generation;
            self.detector.set_plan(self.shared.plan());
        }
        let decoded = if raw.kernel_checksum_unchecked {
            self.decoder.decode_checksum_not_ready(raw.link, raw.data)
        } else {
            self.decoder.decode(raw.link, raw.data)
        };
        let verdict = match decoded {
            Ok(pkt) => self.process_decoded(&pkt, raw.ts_us, raw.pcap_cnt),
            // Not IP (ARP ...) or a link type we do not read: not ours to judge.
            Err(err) if !err.is_malformed() => Verdict::ACCEPT,
            Err(_) => self.decode_failed(raw.ts_us, raw.pcap_cnt),
        };
        if verdict.accept {
            self.stats.accepted += 1;
        } else {
            self.stats.dropped += 1;
        }
        self.maybe_emit_stats(raw.ts_us);
        verdict
    }

    /// An EVE stats record every `output.stats-interval` seconds of packet time.
    fn maybe_emit_stats(&mut self, ts_us: u64) {
        let interval = self.shared.settings.output.stats_interval;
        if interval == 0 || !self.outputs.enabled() || ts_us < self.next_stats_us {
            return;
        }
        let first = self.next_stats_us == 0;
        self.next_stats_us = ts_us + interval.saturating_mul(1_000_000);
        if !first {
            let counters = self.stats().counters();
            self.outputs.send(Record::Stats { ts_us, counters });
        }
    }

    fn decode_failed(&mut self, ts_us: u64, pcap_cnt: Option<u64>) -> Verdict {
        self.stats.decode_errors += 1;
        match self.shared.settings.decode_error_verdict {
            DecodeErrorVerdict::Accept => Verdict::ACCEPT,
            DecodeErrorVerdict::Drop => {
                self.stats.drop_decode += 1;
                self.outputs.send(Record::DecodeDrop { ts_us, pcap_cnt });
                Verdict::DROP
            }
        }
    }

    /// Decide one decoded packet (the part after decode; tests and the bench call it directly).
    pub fn process_decoded(
        &mut self,
        pkt: &Packet<'_>,
        ts_us: u64,
        pcap_cnt: Option<u64>,
    ) -> Verdict {
        let now_secs = ts_us / 1_000_000;
        if self.shared.sticky.is_blocked(pkt.src, now_secs)
            || self.shared.sticky.is_blocked(pkt.dst, now_secs)
        {
            self.stats.drop_stickydrop += 1;
            self.send_drop(pkt, ts_us, pcap_cnt, None, DropReason::StickyDrop, None);
            return Verdict::DROP;
        }
        if pkt.checksum == ChecksumStatus::Invalid {
            // The receiving host would discard it: inspecting it would invite insertion attacks.
            self.stats.checksum_invalid += 1;
            return Verdict::ACCEPT;
        }
        let (src_port, dst_port) = ports(pkt);
        self.flows.sweep(ts_us);
        let settings = &self.shared.settings;
        let midstream = settings.stream.midstream || settings.stream.async_oneside;
        let sender_is_server = match pkt.transport {
            Transport::Tcp(tcp) => tcp_sender_is_server(tcp.flags, src_port, dst_port, midstream),
            _ => false,
        };
        let (flow, to_server, _) = self.flows.lookup(
            Endpoint::new(pkt.src, src_port),
            Endpoint::new(pkt.dst, dst_port),
            pkt.ip_proto,
            ts_us,
            sender_is_server,
        );
        let flow_id = flow.id;
        match flow.verdict {
            FlowVerdict::Drop => {
                self.stats.drop_flow += 1;
                self.send_drop(
                    pkt,
                    ts_us,
                    pcap_cnt,
                    Some(flow_id),
                    DropReason::FlowDrop,
                    None,
                );
                return Verdict::DROP;
            }
            FlowVerdict::Pass => {
                self.stats.passed += 1;
                return Verdict {
                    bypass: true,
                    ..Verdict::ACCEPT
                };
            }
            FlowVerdict::None => {}
        }
        // TCP: the packet that completes the handshake is not yet "established" (Suricata's
        // semantics); a session picked up midstream is established from its first packet.
        let mut established = flow.established(pkt.ip_proto);
        if let Transport::Tcp(tcp) = pkt.transport {
            let before = flow.tcp;
            track_tcp(flow, tcp.flags, to_server, midstream);
            established |= before == TcpProgress::None && flow.tcp == TcpProgress::Established;
        }
        let ctx = packet_context(
            pkt,
            FlowContext {
                established,
                to_server,
            },
        );
        let first_in_direction = if to_server {
            flow.packets_to_server == 1
        } else {
            flow.packets_to_client == 1
        };
        self.detector.inspect(
            &ctx,
            &[(BufferKind::Packet, pkt.payload)],
            &mut flow.bits,
            ts_us,
            first_in_direction,
        );
        let decision = self.detector.decision();
        match decision.action {
            PacketAction::Drop if decision.flow_scope => flow.verdict = FlowVerdict::Drop,
            PacketAction::Pass if decision.flow_scope => flow.verdict = FlowVerdict::Pass,
            _ => {}
        }
        let rules = &self.detector.plan().rules;
        if self.outputs.enabled() && !decision.alerts.is_empty() {
            let meta = meta_of(pkt, ts_us, pcap_cnt, Some(flow_id));
            for &(id, action) in &decision.alerts {
                self.outputs.send(Record::Alert {
                    meta,
                    rule: RuleRef {
                        rules: rules.clone(),
                        id,
                        action,
                    },
                });
            }
        }
        self.stats.alerts += decision.alerts.len() as u64;
        for &(id, _) in &decision.alerts {
            let rule = rules.rule(id);
            *self
                .stats
                .alerts_by_sid
                .entry((rule.gid, rule.sid))
                .or_default() += 1;
        }
        let mut verdict = match decision.action {
            PacketAction::Accept => Verdict::ACCEPT,
            PacketAction::Pass => Verdict {
                bypass: decision.flow_scope,
                ..Verdict::ACCEPT
            },
            PacketAction::Drop => Verdict::DROP,
        };
        if decision.action == PacketAction::Drop {
            self.stats.drop_rules += 1;
            let reject = decision.reject.map(|target| reject_request(pkt, target));
            if let Some(request) = &reject {
                self.stats.rejected += 1;
                let _ = request;
            }
            if let Some((addr, secs)) = decision.sticky {
                self.stats.sticky_requests += 1;
                self.shared.sticky.block(addr, now_secs + u64::from(secs));
                verdict.sticky = Some((addr, secs));
            }
            let rule = decision.deciding_rule.map(|id| RuleRef {
                rules: rules.clone(),
                id,
                action: AlertAction::Blocked,
            });
            let reject_record = reject.as_ref().map(|r| RejectRecord {
                tcp_reset: r.ip_proto == 6,
                target: match r.target {
                    RejectTarget::Both => "both",
                    RejectTarget::Src => "to_client",
                    RejectTarget::Dst => "to_server",
                },
            });
            if self.outputs.enabled() {
                self.outputs.send(Record::Drop {
                    meta: meta_of(pkt, ts_us, pcap_cnt, Some(flow_id)),
                    reason: DropReason::Rules,
                    rule,
                    reject: reject_record,
                });
            }
            verdict.reject = reject;
        }
        verdict
    }

    fn send_drop(
        &self,
        pkt: &Packet<'_>,
        ts_us: u64,
        pcap_cnt: Option<u64>,
        flow_id: Option<u64>,
        reason: DropReason,
        rule: Option<RuleRef>,
    ) {
        if self.outputs.enabled() {
            self.outputs.send(Record::Drop {
                meta: meta_of(pkt, ts_us, pcap_cnt, flow_id),
                reason,
                rule,
                reject: None,
            });
        }
    }
}

fn reject_request(pkt: &Packet<'_>, target: RejectTarget) -> RejectRequest {
    let (src_port, dst_port) = ports(pkt);
    let (seq, ack, tcp_flags) = match pkt.transport {
        Transport::Tcp(t) => (t.seq, t.ack, t.flags),
        _ => (0, 0, 0),
    };
    RejectRequest {
        target,
        src: pkt.src,
        dst: pkt.dst,
        ip_proto: pkt.ip_proto,
        src_port,
        dst_port,
        seq,
        ack,
        tcp_flags,
        payload_len: pkt.payload.len() as u32,
        quote: pkt.ip_bytes[..pkt.ip_bytes.len().min(548)].to_vec(),
    }
}
