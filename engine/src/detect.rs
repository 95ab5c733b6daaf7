//! Detection for one packet: run the RuleSet over the packet's buffers, then apply
//! detection_filter, rate_filter, thresholds, suppressions, `flowbits:noalert`, the action order
//! and IDS mode to get the packet's [`Decision`].
//!
//! A [`DetectionPlan`] (the RuleSet plus per-rule tuning, immutable, shared by all workers and
//! swapped whole on reload) and a per-worker [`Detector`] (scratch space and packet-time
//! counters) follow the builder / immutable object / per-thread scratch pattern. Buffers are
//! passed as a list so the stream can add reassembled data next to the packet payload.
//!
//! Not here: flows, outputs or sending anything (see [`crate::worker`]).

use std::net::IpAddr;
use std::sync::Arc;

use nfips_rules::ast::{Action, AppProto, DetectOption, RejectTarget, StickyTarget};
use nfips_rules::ruleset::{ActionClass, AppBuffers, BufferKind, FlowContext};
use nfips_rules::{FlowBits, PacketContext, RuleId, RuleSet, Scratch};

use crate::http::{
    Direction, HttpCounters, HttpEventView, HttpEvents, HttpInspector, HttpSettings, HttpState,
};
use crate::output::AlertAction;
use crate::pending::PendingSlab;
use crate::settings::{ActionScope, Settings};
use crate::tuning::{
    EventFilter, MatchAt, RateFilter, RuleRef, Suppress, ThresholdConfig, TrackBy, Tracker,
};

/// Per-rule facts computed once per plan.
#[derive(Clone, Debug, Default)]
struct RuleInfo {
    /// Only header tests (Suricata's IP-only): its drop/pass covers the flow in `suricata` scope.
    header_only: bool,
    /// Indices into the plan's suppress list that name this rule.
    suppress: Vec<u32>,
    event_filter: Option<EventFilter>,
    rate_filter: Option<RateFilter>,
}

/// The rules and everything decided about them before any packet: immutable, shared.
pub struct DetectionPlan {
    pub rules: Arc<RuleSet>,
    info: Vec<RuleInfo>,
    suppress: Vec<Suppress>,
    /// Rank of each action class in the configured action order (0 decides first).
    rank: [u8; 4],
    ids: bool,
    scope: ActionScope,
    tracker_entries: u64,
    /// `stream.pending-slots`.
    pending_slots: usize,
    /// `http.*`.
    http: HttpSettings,
}

fn class_index(class: ActionClass) -> usize {
    match class {
        ActionClass::Pass => 0,
        ActionClass::Drop => 1,
        ActionClass::Reject => 2,
        ActionClass::Alert => 3,
    }
}

fn header_only(rule: &nfips_rules::Rule) -> bool {
    rule.flowbits.is_empty()
        && rule.flow == Default::default()
        && rule.detection.iter().all(|opt| {
            matches!(
                opt,
                DetectOption::Ttl(_)
                    | DetectOption::Tos(_)
                    | DetectOption::IpId(_)
                    | DetectOption::IpOpts(_)
                    | DetectOption::Fragbits(_)
                    | DetectOption::IpProto(_)
                    | DetectOption::SameIp
            )
        })
}

impl DetectionPlan {
    /// Combine a built RuleSet with the settings and a parsed threshold.config.
    pub fn new(
        rules: Arc<RuleSet>,
        settings: &Settings,
        thresholds: &ThresholdConfig,
    ) -> DetectionPlan {
        let mut rank = [0u8; 4];
        for (position, class) in settings.action_order.iter().enumerate() {
            rank[class_index(*class)] = position as u8;
        }
        let info = rules
            .rules()
            .iter()
            .map(|rule| {
                let named = |r: &RuleRef| r.matches(rule.gid, rule.sid);
                // threshold.config wins over the rule's own `threshold:` option.
                let event_filter = thresholds
                    .event_filters
                    .iter()
                    .rev()
                    .find(|f| named(&f.rule))
                    .copied()
                    .or_else(|| {
                        rule.threshold.map(|t| EventFilter {
                            rule: RuleRef {
                                gid: rule.gid,
                                sid: rule.sid,
                            },
                            kind: t.kind,
                            track: t.track.into(),
                            count: t.count,
                            seconds: t.seconds,
                        })
                    });
                RuleInfo {
                    header_only: header_only(rule),
                    suppress: thresholds
                        .suppress
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| named(&s.rule))
                        .map(|(i, _)| i as u32)
                        .collect(),
                    event_filter,
                    rate_filter: thresholds
                        .rate_filters
                        .iter()
                        .rev()
                        .find(|f| named(&f.rule))
                        .copied(),
                }
            })
            .collect();
        DetectionPlan {
            rules,
            info,
            suppress: thresholds.suppress.clone(),
            rank,
            ids: settings.ids,
            scope: settings.action_scope,
            tracker_entries: settings.tuning.max_entries,
            pending_slots: usize::try_from(settings.stream.pending_slots).unwrap_or(usize::MAX),
            http: settings.http.clone(),
        }
    }

    fn rank_of(&self, action: Action) -> u8 {
        self.rank[class_index(ActionClass::of(action))]
    }

    fn suppressed(&self, id: RuleId, src: IpAddr, dst: IpAddr) -> bool {
        self.info[id.0 as usize]
            .suppress
            .iter()
            .any(|&i| match &self.suppress[i as usize].track {
                None => true,
                Some((TrackBy::Src, nets)) => nets.iter().any(|n| n.contains(&src)),
                Some((TrackBy::Dst, nets)) => nets.iter().any(|n| n.contains(&dst)),
                Some((TrackBy::Rule, _)) => true,
            })
    }
}

/// What the rules decided about a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketAction {
    /// No deciding rule (alerts may still have been logged).
    Accept,
    /// A pass rule matched first: accept, nothing after it alerts.
    Pass,
    /// A drop, sdrop or reject rule matched first (never in IDS mode).
    Drop,
}

/// The decision for one packet; reused between packets.
#[derive(Clone, Debug)]
pub struct Decision {
    pub action: PacketAction,
    /// The drop or pass also covers the rest of the flow.
    pub flow_scope: bool,
    /// The rule that decided a drop (logged in the drop record).
    pub deciding_rule: Option<RuleId>,
    /// The deciding rule was a reject: which ends get a reset / unreachable.
    pub reject: Option<RejectTarget>,
    /// A stickydrop rule asks to block this address for this many seconds.
    pub sticky: Option<(IpAddr, u32)>,
    /// Alert records to write, in decision order.
    pub alerts: Vec<(RuleId, AlertAction)>,
    /// Rules that matched (before tuning), for counters.
    pub matched: usize,
}

impl Default for Decision {
    fn default() -> Self {
        Decision {
            action: PacketAction::Accept,
            flow_scope: false,
            deciding_rule: None,
            reject: None,
            sticky: None,
            alerts: Vec::new(),
            matched: 0,
        }
    }
}

/// Per-worker detection state.
pub struct Detector {
    plan: Arc<DetectionPlan>,
    scratch: Scratch,
    hits: Vec<(u8, RuleId, Action)>,
    buffer_hits: Vec<RuleId>,
    tracker: Tracker,
    decision: Decision,
    http: HttpInspector,
    http_events: HttpEvents,
    /// Pending stream candidates of this worker's TCP session directions.
    pending: PendingSlab,
    /// Extra candidates of a stream view: its pending ones, then the packet scan's.
    extras: Vec<RuleId>,
}

/// What [`Detector::inspect_tcp`] inspects of a TCP packet: its payload; when the stream made
/// new data contiguous, the stream view (`bytes`, and `new_from`, the index of its first new
/// byte); the HTTP parser input when the rules read HTTP; and the TLS/DNS buffers this packet
/// made ready ([`crate::applayer`]).
pub struct TcpData<'a, 's> {
    pub payload: &'a [u8],
    pub view: Option<(TcpView<'a>, PendingSlot<'s>)>,
    pub http: Option<HttpInput<'a>>,
    pub app: Option<&'a dyn AppBuffers>,
}

/// The HTTP side of a TCP packet for [`Detector::inspect_tcp`]: the flow's parser state, the
/// direction, and the stream bytes this packet made contiguous (parsed once, in order).
pub struct HttpInput<'a> {
    pub state: &'a mut HttpState,
    pub direction: Direction,
    pub new_bytes: &'a [u8],
}

/// A TCP stream view to inspect (see [`nfips_stream::StreamView`]).
#[derive(Clone, Copy, Debug)]
pub struct TcpView<'a> {
    /// Already-inspected context, then the new bytes.
    pub bytes: &'a [u8],
    /// Index in `bytes` of the first new byte.
    pub new_from: usize,
    /// Stream offset of `bytes[0]`.
    pub stream_offset: u64,
}

/// Where a session direction keeps its pending-candidate slot (in its flow).
#[derive(Debug)]
pub struct PendingSlot<'s> {
    pub flow_id: u64,
    pub to_server: bool,
    /// The flow's slot number for this direction (0: no pending candidates).
    pub slot: &'s mut u32,
    /// The flow's application protocol before this packet. When this packet made it known,
    /// the view's older bytes were inspected without that protocol's rules (`alert tls` ...):
    /// the view is scanned whole (counted with the other full-view scans), and the check
    /// that drops matches already reported for the older bytes sees them as they were
    /// inspected, with the protocol they had then.
    pub app_proto_before: Option<AppProto>,
}

impl Detector {
    pub fn new(plan: Arc<DetectionPlan>) -> Detector {
        Detector {
            scratch: plan.rules.new_scratch(),
            tracker: Tracker::new(plan.tracker_entries),
            hits: Vec::new(),
            buffer_hits: Vec::new(),
            decision: Decision::default(),
            http: HttpInspector::new(plan.http.clone()),
            http_events: HttpEvents::default(),
            pending: PendingSlab::new(plan.pending_slots),
            plan,
            extras: Vec::new(),
        }
    }

    pub fn plan(&self) -> &Arc<DetectionPlan> {
        &self.plan
    }

    /// Switch to a new plan (rule reload). Packet-time counters start over.
    pub fn set_plan(&mut self, plan: Arc<DetectionPlan>) {
        if !Arc::ptr_eq(&plan, &self.plan) {
            *self = Detector::new(plan);
        }
    }

    /// Tracking entries that could not be stored (tuning.max-entries reached).
    pub fn untracked(&self) -> u64 {
        self.tracker.untracked
    }

    /// Inspect one packet's buffers (the packet payload, and for TCP later the reassembled
    /// stream) and decide. A rule matching in several buffers counts once.
    ///
    /// `first_in_direction`: this is the flow's first packet in its direction. In `suricata`
    /// action scope, header-only (IP-only) rules are evaluated on those packets only, as
    /// Suricata's IP-only engine does.
    /// `app`: the app-layer buffers (a DNS query ...) this packet made ready, if any.
    pub fn inspect(
        &mut self,
        ctx: &PacketContext,
        buffers: &[(BufferKind, &[u8])],
        app: Option<&dyn AppBuffers>,
        bits: &mut FlowBits,
        now_us: u64,
        first_in_direction: bool,
    ) {
        self.hits.clear();
        for &(kind, bytes) in buffers {
            self.collect(ctx, kind, bytes, bits);
        }
        if let Some(app) = app {
            self.inspect_app(ctx, app, bits);
        }
        self.finish(ctx, now_us, first_in_direction);
    }

    /// Run the app-layer rules over one packet's TLS/DNS buffers. Each buffer is ready on one
    /// packet only, so a rule alerts once per buffer value.
    fn inspect_app(&mut self, ctx: &PacketContext, app: &dyn AppBuffers, bits: &mut FlowBits) {
        self.buffer_hits.clear();
        self.plan
            .rules
            .detect_app(ctx, app, bits, &mut self.scratch, &mut self.buffer_hits);
        self.merge_buffer_hits();
    }

    /// Inspect a TCP packet ([`TcpData`]). A rule that
    /// matches the view only where it also matches the already-inspected part before
    /// `new_from` was reported with an earlier packet and is not counted for this one. With
    /// `http`, the new stream bytes go through the HTTP parser and every HTTP event (URI ready,
    /// headers ready, body data ...) runs the HTTP rules, so a request is dropped on the packet
    /// that completes the matching part; an HTTP rule counts once per HTTP message.
    pub fn inspect_tcp(
        &mut self,
        ctx: &PacketContext,
        data: TcpData<'_, '_>,
        bits: &mut FlowBits,
        now_us: u64,
        first_in_direction: bool,
    ) {
        let TcpData {
            payload,
            view,
            http,
            app,
        } = data;
        self.hits.clear();
        self.collect(ctx, BufferKind::Packet, payload, bits);
        if let Some((view, session)) = view {
            let bytes = view.bytes;
            let new_from = view.new_from.min(bytes.len());
            let packet_hits = self.hits.len();
            let stream_ctx = PacketContext {
                buffer: BufferKind::Stream,
                ..*ctx
            };
            let mut pending = self.pending.begin(
                session.flow_id,
                session.to_server,
                *session.slot,
                view.stream_offset,
            );
            if session.app_proto_before != ctx.flow.app_proto && !pending.full_scan && new_from > 0
            {
                pending.full_scan = true;
                self.pending.full_scans += 1;
            }
            let rules = &*self.plan.rules;
            // The rules a later view may still complete: those with a fast pattern (others
            // are candidates anyway) that can match stream data at all.
            let carried_to_views = |id| rules.has_fast_pattern(id) && rules.inspects_stream(id);
            let scan_from = if pending.full_scan { 0 } else { new_from };
            // The packet's payload is usually exactly the view's new bytes: its scan already
            // found every fast pattern lying wholly in them, so the view needs a scan only of
            // patterns that cross into them from the older bytes.
            self.extras.clear();
            self.extras
                .extend_from_slice(self.pending.pending(&pending));
            let reuse_packet = !pending.full_scan && bytes[new_from..] == *payload;
            let scan_to = if reuse_packet {
                self.extras.extend(
                    rules
                        .detect_candidates(&self.scratch)
                        .filter(|&id| carried_to_views(id)),
                );
                // The older bytes were new in earlier views: the pending rules are the only
                // ones whose fast pattern there can still complete.
                rules.carry_fast_hits(&mut self.scratch, new_from, self.pending.pending(&pending));
                new_from
                    .saturating_add(rules.max_fast_pattern_len().saturating_sub(1))
                    .min(bytes.len())
            } else {
                bytes.len()
            };
            let pending_count = self.pending.pending(&pending).len();
            self.buffer_hits.clear();
            rules.detect_from_with(
                &stream_ctx,
                bytes,
                scan_from..scan_to,
                &self.extras,
                bits,
                &mut self.scratch,
                &mut self.buffer_hits,
            );
            let matched = &self.buffer_hits;
            let scratch = &self.scratch;
            let view_end = view.stream_offset.saturating_add(bytes.len() as u64);
            let next_view_start = view_end.saturating_sub(rules.max_pattern_span() as u64);
            let found_in_packet = &self.extras[pending_count..];
            let unmatched = rules
                .detect_candidates(scratch)
                .filter(|&id| carried_to_views(id) && !matched.contains(&id))
                .map(|id| {
                    if rules.detect_extra_only(scratch).any(|e| e == id)
                        && !found_in_packet.contains(&id)
                    {
                        return (id, None);
                    }
                    // Where the view's or the packet's scan last found its fast pattern; the
                    // view's end when that is unknown (a failed scan).
                    let end = rules
                        .last_fast_pattern_end(scratch, id)
                        .map_or(view_end, |e| view.stream_offset + e as u64);
                    (id, Some(end))
                })
                // Later views re-present at most the ruleset's longest pattern span before
                // their new bytes: a candidate whose pattern ended before that can never
                // complete there. With 64 KB segments most unmatched candidates (a 2-byte
                // pattern hits almost every segment somewhere) are of that kind, and keeping
                // them would overflow the list and force whole-view scans.
                .filter(|&(_, end)| end.is_none_or(|end| end > next_view_start));
            self.pending
                .finish(&pending, unmatched, view_end, session.slot);
            self.merge_buffer_hits();
            let old = &bytes[..new_from];
            if self.hits.len() > packet_hits && !old.is_empty() {
                // Rare (a stream match): the flowbits copy keeps this re-check side-effect free.
                let mut old_bits = bits.clone();
                self.buffer_hits.clear();
                let old_ctx = PacketContext {
                    flow: FlowContext {
                        app_proto: session.app_proto_before,
                        ..stream_ctx.flow
                    },
                    ..stream_ctx
                };
                self.plan.rules.detect(
                    &old_ctx,
                    old,
                    &mut old_bits,
                    &mut self.scratch,
                    &mut self.buffer_hits,
                );
                let seen = &self.buffer_hits;
                let mut index = 0;
                self.hits.retain(|&(_, id, _)| {
                    index += 1;
                    index <= packet_hits || !seen.contains(&id)
                });
            }
        }
        if let Some(input) = http {
            self.inspect_http(ctx, payload, input, bits);
        }
        if let Some(app) = app {
            let stream_ctx = PacketContext {
                buffer: BufferKind::Stream,
                ..*ctx
            };
            self.inspect_app(&stream_ctx, app, bits);
        }
        self.finish(ctx, now_us, first_in_direction);
    }

    /// Feed new stream bytes to the HTTP parser; run the HTTP rules on each event.
    fn inspect_http(
        &mut self,
        ctx: &PacketContext,
        payload: &[u8],
        input: HttpInput,
        bits: &mut FlowBits,
    ) {
        // The HTTP parser found HTTP: `alert http` rules apply.
        let ctx = PacketContext {
            buffer: BufferKind::Stream,
            flow: FlowContext {
                app_proto: Some(AppProto::Http),
                ..ctx.flow
            },
            ..*ctx
        };
        let HttpInput {
            state,
            direction,
            mut new_bytes,
        } = input;
        while !new_bytes.is_empty() {
            let events = &mut self.http_events;
            let used = self.http.feed(state, direction, new_bytes, events);
            new_bytes = new_bytes.get(used..).unwrap_or_default();
            if events.is_empty() {
                continue;
            }
            self.buffer_hits.clear();
            // Copied out and back: the view borrows the state (fixed size, no allocation).
            let mut memory = *state.scan_memory(direction);
            let other = *state.scan_memory(direction.opposite());
            let view = HttpEventView {
                state,
                direction,
                events,
                packet: payload,
            };
            self.plan.rules.detect_app_with_memory(
                &ctx,
                &view,
                &mut memory,
                &other,
                bits,
                &mut self.scratch,
                &mut self.buffer_hits,
            );
            *state.scan_memory(direction) = memory;
            for &id in &self.buffer_hits {
                if state.first_alert(direction, id.0)
                    && !self.hits.iter().any(|&(_, seen, _)| seen == id)
                {
                    self.hits.push((0, id, Action::Alert));
                }
            }
        }
    }

    /// Matching counters of this worker (since the rules were last loaded): limit hits of
    /// `rules.pcre-*-limit` and `rules.retry-limit`, candidates, matches.
    pub fn detect_stats(&self) -> nfips_rules::ruleset::DetectStats {
        self.scratch.stats()
    }

    /// HTTP parser counters of this worker.
    pub fn http_counters(&self) -> &HttpCounters {
        &self.http.counters
    }

    /// Views scanned whole (a pending list overflowed or was evicted, or the flow's
    /// application protocol became known) and pending lists evicted because the worker's slab
    /// was full.
    pub fn pending_counters(&self) -> (u64, u64) {
        (self.pending.full_scans, self.pending.evictions)
    }

    /// Add the rules matching one buffer to `self.hits` (each rule once).
    fn collect(
        &mut self,
        ctx: &PacketContext,
        kind: BufferKind,
        bytes: &[u8],
        bits: &mut FlowBits,
    ) {
        let ctx = PacketContext {
            buffer: kind,
            ..*ctx
        };
        self.buffer_hits.clear();
        self.plan
            .rules
            .detect(&ctx, bytes, bits, &mut self.scratch, &mut self.buffer_hits);
        self.merge_buffer_hits();
    }

    /// Add `self.buffer_hits` to `self.hits` (each rule once).
    fn merge_buffer_hits(&mut self) {
        for &id in &self.buffer_hits {
            if !self.hits.iter().any(|&(_, seen, _)| seen == id) {
                self.hits.push((0, id, Action::Alert));
            }
        }
    }

    fn finish(&mut self, ctx: &PacketContext, now_us: u64, first_in_direction: bool) {
        if self.plan.scope == ActionScope::Suricata && !first_in_direction {
            let info = &self.plan.info;
            self.hits
                .retain(|&(_, id, _)| !info[id.0 as usize].header_only);
        }
        self.decide(ctx.src, ctx.dst, now_us);
    }

    /// The decision of the last [`Detector::inspect`].
    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    /// Apply tuning and the action order to `self.hits`.
    fn decide(&mut self, src: IpAddr, dst: IpAddr, now_us: u64) {
        let plan = &*self.plan;
        let d = &mut self.decision;
        d.action = PacketAction::Accept;
        d.flow_scope = false;
        d.deciding_rule = None;
        d.reject = None;
        d.sticky = None;
        d.alerts.clear();
        d.matched = self.hits.len();
        // detection_filter gates the match itself; rate_filter may replace the action.
        let tracker = &mut self.tracker;
        self.hits.retain_mut(|(rank, id, action)| {
            let rule = plan.rules.rule(*id);
            if let Some(df) = rule.detection_filter {
                if !tracker.detection_filter(
                    &MatchAt {
                        rule: id.0,
                        src,
                        dst,
                        now_us,
                    },
                    df.track.into(),
                    df.count,
                    df.seconds,
                ) {
                    return false;
                }
            }
            *action = rule.action;
            if let Some(rf) = &plan.info[id.0 as usize].rate_filter {
                if tracker.rate_filter(
                    &MatchAt {
                        rule: id.0,
                        src,
                        dst,
                        now_us,
                    },
                    rf,
                ) {
                    *action = rf.new_action;
                }
            }
            *rank = plan.rank_of(*action);
            true
        });
        // Stable: rule order (as the RuleSet returned it) breaks ties within a class.
        self.hits.sort_by_key(|&(rank, _, _)| rank);
        for &(_, id, action) in &self.hits {
            let rule = plan.rules.rule(id);
            let info = &plan.info[id.0 as usize];
            let enforce = !plan.ids;
            let alert_action = match action {
                Action::Pass => {
                    // A pass ranked after a drop keeps the drop but still ends alerting.
                    if d.action == PacketAction::Drop {
                        break;
                    }
                    d.action = PacketAction::Pass;
                    d.flow_scope = info.header_only;
                    break;
                }
                Action::Drop | Action::Sdrop | Action::Reject(_) if enforce => {
                    if d.action == PacketAction::Accept {
                        d.action = PacketAction::Drop;
                        d.deciding_rule = Some(id);
                        d.flow_scope = plan.scope == ActionScope::Flow || info.header_only;
                        if let Action::Reject(target) = action {
                            d.reject = Some(target);
                        }
                    }
                    if let Some(sticky) = rule.sticky_drop {
                        if d.sticky.is_none() {
                            let addr = if sticky.target == StickyTarget::Src {
                                src
                            } else {
                                dst
                            };
                            d.sticky = Some((addr, sticky.seconds));
                        }
                    }
                    AlertAction::Blocked
                }
                _ => AlertAction::Allowed,
            };
            if action == Action::Sdrop || rule.is_noalert() || plan.suppressed(id, src, dst) {
                continue;
            }
            if let Some(f) = &info.event_filter {
                if !tracker.event_filter(
                    &MatchAt {
                        rule: id.0,
                        src,
                        dst,
                        now_us,
                    },
                    f,
                ) {
                    continue;
                }
            }
            d.alerts.push((id, alert_action));
        }
    }
}
