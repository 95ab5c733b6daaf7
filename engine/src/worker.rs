//! One worker thread's whole packet path: decode -> stickydrop -> flow -> detect -> verdict,
//! emitting output records. The inline daemon, replay and the benchmark all drive a [`Worker`]
//! packet by packet, so they give the same verdicts.
//!
//! State shared by all workers lives in [`Shared`] (settings, the detection plan swapped whole
//! on reload, the stickydrop table); everything else (flows, scratch, counters) is per worker
//! and needs no locks.
//!
//! Not here: reading packets or sending verdicts, resets and marks (see [`crate::source`]).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use nfips_rules::ast::{AppProto, RejectTarget};
use nfips_rules::ruleset::{BufferKind, FlowContext, IcmpFields, IpFields, TcpFields};
use nfips_rules::PacketContext;

use crate::applayer::{AppLayer, AppUpdate, StreamData};
use crate::decode::{ChecksumStatus, Decoder, LinkType, Packet, Transport};
use crate::defrag::{FragStep, IpDefrag};
use crate::detect::{
    DetectionPlan, Detector, HttpInput, PacketAction, PendingSlot, TcpData, TcpView,
};
use crate::flow::{tcp_sender_is_server, Endpoint, FlowKey, FlowTable, FlowVerdict, TcpProgress};
use crate::http::Direction;
use crate::output::{
    AlertAction, DropReason, OutputHandle, PacketMeta, Record, RejectRecord, RuleRef,
};
use crate::settings::{DecodeErrorVerdict, Settings};
use crate::stats::WorkerStats;
use crate::tcp::TcpStreams;

/// The stickydrop table as the packet path sees it. The inline daemon provides the real,
/// table, [`crate::stickydrop::StickyDrop`], serves the daemon, replay and tests alike.
pub trait StickyCheck: Send + Sync {
    /// Is `addr` blocked at `now_secs` (packet time)?
    fn is_blocked(&self, addr: IpAddr, now_secs: u64) -> bool;
    /// Block `addr` until `until_secs`.
    fn block(&self, addr: IpAddr, until_secs: u64);
}

/// Stream, defrag, detection, HTTP and app-layer counters (about 150 names) a worker reports.
const LAYER_COUNTERS_CAPACITY: usize = 256;

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
        self.swap_plan_unless_changed_since(None, plan);
    }

    /// [`Shared::swap_plan`]; with `generation`, only if no plan was swapped in since
    /// [`Shared::plan_generation`] returned it (a background build must not undo a reload that
    /// finished first). Whether it swapped.
    pub fn swap_plan_unless_changed_since(
        &self,
        generation: Option<u64>,
        plan: DetectionPlan,
    ) -> bool {
        let mut current = self.plan.write().unwrap_or_else(|e| e.into_inner());
        if generation.is_some_and(|g| g != self.generation.load(Ordering::Acquire)) {
            return false;
        }
        *current = Arc::new(plan);
        self.generation.fetch_add(1, Ordering::Release);
        true
    }

    /// Changes with every swapped plan.
    pub fn plan_generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
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
    /// TCP reassembly (see [`crate::tcp`]).
    tcp: TcpStreams,
    /// IP defragmentation (see [`crate::defrag`]).
    defrag: IpDefrag,
    /// App-layer protocol detection, TLS and DNS buffers (see [`crate::applayer`]).
    applayer: AppLayer,
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

/// The ports of a packet's flow key: its ports, and for ICMP echo the echo identifier on both
/// ends, so each ping (request and reply) is its own flow as in Suricata, not every ICMP
/// packet between two hosts one flow.
fn flow_ports(pkt: &Packet<'_>) -> (u16, u16) {
    match pkt.transport {
        Transport::Icmp { id: Some(id), .. } => (id, id),
        _ => ports(pkt),
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
        stream_events: 0,
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
            tcp: TcpStreams::new(&shared.settings, plan.rules.max_pattern_span()),
            defrag: IpDefrag::new(&shared.settings),
            applayer: AppLayer::new(shared.settings.app.clone()),
            detector: Detector::new(plan),
            flows: FlowTable::new(&shared.settings.flow, id),
            stats: WorkerStats {
                // Room for every stream and defrag counter: refreshing them never allocates.
                layer_counters: Vec::with_capacity(LAYER_COUNTERS_CAPACITY),
                ..WorkerStats::default()
            },
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
        self.stats.layer_counters.clear();
        self.tcp.counters(&mut self.stats.layer_counters);
        let (full_scans, evictions) = self.detector.pending_counters();
        self.stats.layer_counters.extend([
            ("stream", "view_full_scans", full_scans),
            ("stream", "pending_evictions", evictions),
        ]);
        self.defrag.counters(&mut self.stats.layer_counters);
        self.stats.layer_counters.extend(
            self.detector
                .detect_stats()
                .iter()
                .map(|(name, value)| ("detect", name, value)),
        );
        self.stats.layer_counters.extend(
            self.detector
                .http_counters()
                .iter()
                .map(|(name, value)| ("http", name, value)),
        );
        self.applayer
            .counters
            .report(&mut self.stats.layer_counters);
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

    /// Checksum validation in `auto` mode has stopped (the capture's checksums were offloaded).
    pub fn checksums_auto_disabled(&self) -> bool {
        self.decoder.checksums.auto_disabled()
    }

    /// Decide one packet.
    pub fn process(&mut self, raw: RawPacket<'_>) -> Verdict {
        self.stats.packets += 1;
        self.stats.bytes += raw.data.len() as u64;
        let generation = self.shared.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.generation = generation;
            self.detector.set_plan(self.shared.plan());
            self.tcp
                .set_pattern_span(self.detector.plan().rules.max_pattern_span());
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

    /// Decide one decoded packet: everything after decode. [`Worker::process`] calls it and
    /// counts packets, bytes and verdicts; callers that decode themselves count their own.
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
        if pkt.fragment.is_some() {
            return self.process_fragment(pkt, ts_us, pcap_cnt);
        }
        let (src_port, dst_port) = flow_ports(pkt);
        self.flows.sweep(ts_us);
        let settings = &self.shared.settings;
        let midstream = settings.stream.midstream || settings.stream.async_oneside;
        let sender_is_server = match pkt.transport {
            Transport::Tcp(tcp) => tcp_sender_is_server(tcp.flags, src_port, dst_port, midstream),
            _ => false,
        };
        let (src, dst) = (
            Endpoint::new(pkt.src, src_port),
            Endpoint::new(pkt.dst, dst_port),
        );
        let (flow, to_server, _) =
            self.flows
                .lookup(src, dst, pkt.ip_proto, ts_us, sender_is_server);
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
        let mut view = None;
        let mut bypass = false;
        let mut stream_drop = None;
        let mut stream_events = 0;
        let tcp_key = matches!(pkt.transport, Transport::Tcp(_))
            .then(|| FlowKey::of(src, dst, pkt.ip_proto).0);
        // The flow's stream session is gone or closed after this packet (see below).
        let mut session_over = false;
        if let (Transport::Tcp(tcp), Some(key)) = (&pkt.transport, &tcp_key) {
            let step = self
                .tcp
                .segment(key, flow, tcp, pkt.payload, to_server, ts_us);
            // A segment the stream drops is still inspected as a packet (alerts), never as
            // stream data, and dropped whatever the rules say.
            stream_drop = step.drop;
            stream_events = step.stream_events;
            if !step.has_session && flow.http.is_some() {
                // Pruned or timed out: HTTP parsing cannot resume midstream.
                flow.http_off = true;
            }
            // Gone (pruned, timed out) or closed (both FINs acknowledged, a RST honoured): no
            // more stream data will be parsed, and the session freed its buffers and the
            // charge attached to it.
            session_over = !step.has_session || flow.tcp == TcpProgress::Closed;
            established = step.established;
            view = step.view.map(|v| TcpView {
                bytes: v.bytes,
                new_from: v.new_from,
                stream_offset: v.stream_offset,
            });
            if step.bypass {
                // Both directions reached stream.depth: the rest of the flow is not inspected.
                flow.verdict = FlowVerdict::Pass;
                bypass = true;
            }
        }
        // App-layer detection first, so the packet that reveals the protocol is inspected
        // with it.
        let rules = &self.detector.plan().rules;
        let app_before = flow.app_layer.proto();
        let app_update = match (&pkt.transport, view) {
            (Transport::Tcp(_), Some(v)) => self.applayer.on_tcp(
                &mut flow.app_layer,
                flow.id,
                to_server,
                StreamData {
                    bytes: v.bytes,
                    new_from: v.new_from,
                    stream_offset: v.stream_offset,
                },
                rules,
            ),
            (Transport::Udp { .. }, _) => {
                self.applayer
                    .on_udp(&mut flow.app_layer, to_server, pkt.payload, rules)
            }
            _ => AppUpdate::default(),
        };
        let app_proto = flow.app_layer.proto();
        let ctx = PacketContext {
            stream_events,
            ..packet_context(
                pkt,
                FlowContext {
                    established,
                    to_server,
                    app_proto,
                },
            )
        };
        let first_in_direction = if to_server {
            flow.packets_to_server == 1
        } else {
            flow.packets_to_client == 1
        };
        if pkt.ip_proto == 6 {
            // HTTP is parsed from the new stream bytes, only when some rule reads HTTP.
            let new_bytes = view.map_or(&[][..], |v| v.bytes.get(v.new_from..).unwrap_or_default());
            // Not for flows detected as another protocol.
            let wants_http = !new_bytes.is_empty()
                && !flow.http_off
                && matches!(app_proto, None | Some(AppProto::Http))
                && self.detector.plan().rules.reads_app_layer(AppProto::Http);
            let http = wants_http.then(|| HttpInput {
                state: flow.http.get_or_insert_with(Box::default),
                direction: if to_server {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                },
                new_bytes,
            });
            let flow_id = flow.id;
            let slot = &mut flow.stream_pending[usize::from(to_server)];
            let view = view.map(|view| {
                let session = PendingSlot {
                    flow_id,
                    to_server,
                    slot,
                    app_proto_before: app_before,
                };
                (view, session)
            });
            let app_view = self.applayer.view(pkt.payload, flow_id, app_update);
            let data = TcpData {
                payload: pkt.payload,
                view,
                http,
                app: app_update
                    .any()
                    .then_some(&app_view as &dyn nfips_rules::ruleset::AppBuffers),
            };
            self.detector
                .inspect_tcp(&ctx, data, &mut flow.bits, ts_us, first_in_direction);
        } else {
            let app_view = self.applayer.view(pkt.payload, flow_id, app_update);
            self.detector.inspect(
                &ctx,
                &[(BufferKind::Packet, pkt.payload)],
                app_update
                    .any()
                    .then_some(&app_view as &dyn nfips_rules::ruleset::AppBuffers),
                &mut flow.bits,
                ts_us,
                first_in_direction,
            );
        }
        let decision = self.detector.decision();
        let new_stream_data = view.is_some();
        match decision.action {
            // The view's bytes are stream data now: only dropping the flow keeps a
            // retransmission of them (no new view) from passing.
            PacketAction::Drop if decision.flow_scope || new_stream_data => {
                flow.verdict = FlowVerdict::Drop
            }
            PacketAction::Pass if decision.flow_scope => flow.verdict = FlowVerdict::Pass,
            _ => {}
        }
        if let (Some(key), FlowVerdict::Drop | FlowVerdict::Pass) = (&tcp_key, flow.verdict) {
            // No later packet of this flow reaches the stream: free its session now.
            self.tcp.remove(key);
            session_over = true;
        }
        // Application parser state (HTTP in the flow, TLS/DNS in the app layer) is charged to
        // stream.memcap through the flow's session: it goes when the session goes, and when no
        // room is found for it (counted: stream.attach_refused). It changes only when new
        // stream data was parsed.
        if session_over {
            flow.http = None;
            if flow.app_layer.parser_created() {
                self.applayer.forget(flow_id);
            }
        } else if let (Some(key), true) = (&tcp_key, new_stream_data) {
            if let Some(state) = flow.http.as_deref_mut() {
                if let Some(bytes) = state.charge_due() {
                    if !self.tcp.attach(key, bytes) {
                        flow.http = None;
                        flow.http_off = true;
                    }
                }
            } else if flow.app_layer.parser_created() {
                if let Some(bytes) = self.applayer.charge_due(flow_id) {
                    if !self.tcp.attach(key, bytes) {
                        self.applayer.release(flow_id);
                    }
                }
            }
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
        verdict.bypass |= bypass && verdict.accept;
        if let Some(reason) = stream_drop.filter(|_| decision.action != PacketAction::Drop) {
            self.stats.drop_stream += 1;
            self.send_drop(
                pkt,
                ts_us,
                pcap_cnt,
                Some(flow_id),
                DropReason::Stream(reason),
                None,
            );
            return Verdict::DROP;
        }
        if decision.action == PacketAction::Drop {
            self.stats.drop_rules += 1;
            // Non-TCP rejects answer with ICMP unreachable only when `reject.icmp-unreachable`.
            let answerable = pkt.ip_proto == 6 || self.shared.settings.reject.icmp_unreachable;
            let reject = decision
                .reject
                .filter(|_| answerable)
                .map(|target| reject_request(pkt, target));
            if reject.is_some() {
                self.stats.rejected += 1;
            }
            if let Some((addr, secs)) = decision.sticky {
                self.stats.sticky_requests += 1;
                self.shared.sticky.block(addr, now_secs + u64::from(secs));
                verdict.sticky = Some((addr, secs));
            }
            // The drop record names the deciding rule, unless it was an sdrop (silent).
            let rule = decision
                .deciding_rule
                .filter(|&id| rules.rule(id).action != nfips_rules::ast::Action::Sdrop)
                .map(|id| RuleRef {
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

    /// A fragment: defragment it. The datagram it completes goes through the path in its
    /// place (the verdict is this fragment's); earlier fragments are accepted.
    fn process_fragment(&mut self, pkt: &Packet<'_>, ts_us: u64, pcap_cnt: Option<u64>) -> Verdict {
        match self.defrag.fragment(pkt, ts_us) {
            FragStep::Pending => Verdict::ACCEPT,
            FragStep::Drop(reason) => {
                self.stats.drop_defrag += 1;
                self.send_drop(pkt, ts_us, pcap_cnt, None, DropReason::Defrag(reason), None);
                Verdict::DROP
            }
            FragStep::Complete => {
                let datagram = self.defrag.take_datagram();
                let verdict = match self.decoder.decode_reassembled(&datagram) {
                    Ok(whole) if whole.fragment.is_none() => {
                        self.process_decoded(&whole, ts_us, pcap_cnt)
                    }
                    Ok(_) => {
                        let reason = self.defrag.nested_fragment();
                        self.stats.drop_defrag += 1;
                        self.send_drop(
                            pkt,
                            ts_us,
                            pcap_cnt,
                            None,
                            DropReason::Defrag(reason),
                            None,
                        );
                        Verdict::DROP
                    }
                    Err(_) => self.decode_failed(ts_us, pcap_cnt),
                };
                self.defrag.give_back(datagram);
                verdict
            }
        }
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

#[cfg(test)]
mod tests {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    use super::*;
    use crate::craft::{PacketBuilder, TcpConversation};
    use crate::replay::{load_rules, shared_for_replay};

    /// Counts this thread's allocations, so the packet path can be shown to allocate nothing
    /// after warm-up while other tests run on other threads.
    struct CountingAllocator;

    thread_local! {
        static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    }

    unsafe impl GlobalAlloc for CountingAllocator {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            ALLOCATIONS.with(|a| a.set(a.get() + 1));
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: CountingAllocator = CountingAllocator;

    fn allocations() -> u64 {
        ALLOCATIONS.with(Cell::get)
    }

    fn worker_with_rules(rules: &str, outputs: OutputHandle) -> (Worker, tempfile_dir::Dir) {
        let dir = tempfile_dir::Dir::new();
        let path = dir.path.join("t.rules");
        std::fs::write(&path, rules).unwrap();
        let mut settings = Settings::default();
        settings.rules.paths.push(path);
        settings.checksum_validation = crate::decode::ChecksumMode::No;
        let loaded = load_rules(&settings).unwrap();
        assert!(
            loaded.report.errors.is_empty(),
            "{:?}",
            loaded.report.errors
        );
        (
            Worker::new(shared_for_replay(settings, loaded.plan), outputs),
            dir,
        )
    }

    mod tempfile_dir {
        pub struct Dir {
            pub path: std::path::PathBuf,
        }
        impl Dir {
            pub fn new() -> Dir {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let path =
                    std::env::temp_dir().join(format!("nfips-worker-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&path).unwrap();
                Dir { path }
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.path);
            }
        }
    }

    fn raw(data: &[u8], ts_us: u64) -> RawPacket<'_> {
        RawPacket {
            link: LinkType::RawIp,
            data,
            ts_us,
            pcap_cnt: None,
            kernel_checksum_unchecked: false,
        }
    }

    #[test]
    fn packet_path_allocates_nothing_after_warm_up() {
        let (tx, rx) = crossbeam_channel::bounded(1 << 16);
        let outputs = OutputHandle::for_channel(tx);
        let (mut worker, _dir) = worker_with_rules(
            "alert tcp any any -> any 80 (msg:\"get\"; content:\"GET\"; sid:1;)\n\
             alert udp any any -> any 53 (msg:\"dns\"; content:\"evil\"; sid:2;)\n\
             alert tcp any any -> any any (msg:\"flow\"; flow:established,to_server; content:\"Host\"; sid:3;)\n",
            outputs,
        );
        let mut web = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:80");
        web.handshake()
            .client_sends(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &[])
            .server_sends(b"HTTP/1.1 200 OK\r\n\r\n", &[]);
        let dns = PacketBuilder::udp("10.0.0.1:5353", "10.0.0.3:53")
            .payload(b"\x00\x01evil")
            .build();
        let mut packets: Vec<Vec<u8>> = web.into_packets().into_iter().map(|(_, p)| p).collect();
        packets.push(dns);
        let mut ts = 1_700_000_000_000_000u64;
        for _ in 0..3 {
            for p in &packets {
                ts += 1000;
                worker.process(raw(p, ts));
            }
        }
        let probe = allocations();
        drop(std::hint::black_box(vec![1u8]));
        assert!(
            allocations() > probe,
            "the counting allocator sees this thread's allocations"
        );
        let before = allocations();
        let alerts_before = worker.stats().alerts;
        for _ in 0..50 {
            for p in &packets {
                ts += 1000;
                worker.process(raw(p, ts));
            }
        }
        let alerts = worker.stats().alerts - alerts_before;
        assert!(alerts >= 150, "the rules matched: {alerts}");
        assert_eq!(
            allocations() - before,
            0,
            "allocations on the packet path after warm-up"
        );
        drop(rx);
    }

    #[test]
    fn dropped_flow_drops_later_packets_with_reason_flow_drop() {
        let (tx, rx) = crossbeam_channel::bounded(64);
        let (mut worker, _dir) = worker_with_rules(
            "drop udp any any -> any any (msg:\"bad\"; content:\"bad\"; sid:1;)\n",
            OutputHandle::for_channel(tx),
        );
        let bad = PacketBuilder::udp("10.0.0.1:1000", "10.0.0.2:53")
            .payload(b"bad")
            .build();
        let good = PacketBuilder::udp("10.0.0.2:53", "10.0.0.1:1000")
            .payload(b"good")
            .build();
        assert!(!worker.process(raw(&bad, 1)).accept);
        assert!(
            !worker.process(raw(&good, 2)).accept,
            "the reply belongs to the dropped flow"
        );
        let reasons: Vec<&str> = rx
            .try_iter()
            .filter_map(|r| match r {
                Record::Drop { reason, .. } => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(reasons, ["rules", "flow drop"]);
        assert_eq!(
            (worker.stats().drop_rules, worker.stats().drop_flow),
            (1, 1)
        );
    }

    #[test]
    fn ids_mode_never_drops() {
        let (mut worker, _dir) = {
            let dir = tempfile_dir::Dir::new();
            let path = dir.path.join("t.rules");
            std::fs::write(
                &path,
                "drop udp any any -> any any (msg:\"bad\"; content:\"bad\"; sid:1;)\n",
            )
            .unwrap();
            let mut settings = Settings::default();
            settings.rules.paths.push(path);
            settings.ids = true;
            let loaded = load_rules(&settings).unwrap();
            (
                Worker::new(
                    shared_for_replay(settings, loaded.plan),
                    OutputHandle::none(),
                ),
                dir,
            )
        };
        let bad = PacketBuilder::udp("10.0.0.1:1000", "10.0.0.2:53")
            .payload(b"bad")
            .build();
        assert!(worker.process(raw(&bad, 1)).accept);
        assert!(worker.process(raw(&bad, 2)).accept);
        assert_eq!(worker.stats().alerts, 2);
    }

    #[test]
    fn reload_swaps_the_rules_at_the_next_packet() {
        let (mut worker, _dir) = worker_with_rules(
            "alert udp any any -> any any (msg:\"a\"; content:\"x\"; sid:1;)\n",
            OutputHandle::none(),
        );
        let pkt = PacketBuilder::udp("10.0.0.1:1000", "10.0.0.2:53")
            .payload(b"x")
            .build();
        worker.process(raw(&pkt, 1));
        assert_eq!(worker.stats().alerts, 1);
        let empty = DetectionPlan::new(
            Arc::new(nfips_rules::RuleSet::build(Vec::new(), &Default::default())),
            &Settings::default(),
            &Default::default(),
        );
        worker.shared.swap_plan(empty);
        worker.process(raw(&pkt, 2));
        assert_eq!(worker.stats().alerts, 1, "no rules after the reload");
    }
}
