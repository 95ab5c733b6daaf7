//! App-layer protocols besides HTTP's own parser: which protocol a flow speaks (detected by
//! content on any port, kept in one byte per flow, [`AppLayerState`]) and the buffers of
//! `tls.sni`, `tls.cert_subject`, `tls.cert_issuer` and `dns.query`.
//!
//! The worker calls [`AppLayer::on_tcp`] with each TCP packet's stream view and
//! [`AppLayer::on_udp`] with each UDP payload before detection: they update the flow's
//! protocol (so `alert tls` rules see it on the very packet that revealed it) and, when some
//! rule reads that protocol's buffers, parse them and return which buffers this packet made
//! ready; [`AppEventView`] shows them to [`nfips_rules::RuleSet::detect_app`].
//!
//! Parser state ([`AppFlow`]) exists only for flows detected as TLS or DNS over TCP while rules
//! read their buffers. It lives in a per-worker table keyed by flow id (not in the flow, which
//! stays small), bounded by `app.max-parser-flows` (the oldest entry is evicted, counted) and
//! `app.tls.max-handshake-bytes`; a TLS entry is freed at the flow's first packet after its
//! handshake was read.
//!
//! Not here: HTTP parsing ([`crate::http`]), rule evaluation, or anything that needs
//! decryption.

pub mod der;
pub mod dns;
pub mod probe;
pub mod tls;

use std::collections::{HashMap, VecDeque};
use std::fmt;

use nfips_rules::ast::{AppProto, Buffer};
use nfips_rules::ruleset::AppBuffers;
use nfips_rules::RuleSet;

use self::probe::Probe;
use self::tls::{TlsCounters, TlsFlow};

/// A flow's app-layer detection in one byte: the protocol once known, else which directions
/// were probed without result and whether the server sent a `220` banner.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AppLayerState(u8);

const PROTO_MASK: u8 = 0x0f;
/// Protocol code: no probe accepted either direction.
const UNKNOWN: u8 = 0x0f;
const TO_CLIENT_DONE: u8 = 0x10;
const TO_SERVER_DONE: u8 = 0x20;
const BANNER_220: u8 = 0x40;
/// The flow got parser state once: when the worker's table no longer has it (read to the end,
/// or evicted), it is not created again (that would read the handshake twice).
const PARSER_CREATED: u8 = 0x80;

impl AppLayerState {
    /// The detected protocol.
    pub fn proto(self) -> Option<AppProto> {
        match self.0 & PROTO_MASK {
            0 | UNKNOWN => None,
            code => AppProto::ALL.get(usize::from(code - 1)).copied(),
        }
    }

    /// Detection is over: a protocol was found, or no probe can find one any more.
    pub fn is_decided(self) -> bool {
        self.0 & PROTO_MASK != 0
    }

    fn found(&mut self, proto: AppProto) {
        let code = AppProto::ALL
            .iter()
            .position(|&p| p == proto)
            .map_or(UNKNOWN, |i| i as u8 + 1);
        self.0 = (self.0 & !PROTO_MASK) | code;
    }

    fn done_bit(to_server: bool) -> u8 {
        if to_server {
            TO_SERVER_DONE
        } else {
            TO_CLIENT_DONE
        }
    }

    fn direction_done(self, to_server: bool) -> bool {
        self.0 & Self::done_bit(to_server) != 0
    }

    /// No probe accepts this direction; when the other is done too, the flow is unknown.
    /// Returns true when that made the flow unknown.
    fn give_up(&mut self, to_server: bool) -> bool {
        self.0 |= Self::done_bit(to_server);
        if self.0 & (TO_CLIENT_DONE | TO_SERVER_DONE) == TO_CLIENT_DONE | TO_SERVER_DONE {
            self.0 = (self.0 & !PROTO_MASK) | UNKNOWN;
            return true;
        }
        false
    }

    fn banner_seen(self) -> bool {
        self.0 & BANNER_220 != 0
    }

    /// Parser state was created for this flow (it is never created twice).
    pub fn parser_created(self) -> bool {
        self.0 & PARSER_CREATED != 0
    }
}

impl fmt::Display for AppLayerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.proto(), self.0 & PROTO_MASK) {
            (Some(proto), _) => write!(f, "{proto}"),
            (None, UNKNOWN) => f.write_str("unknown"),
            (None, _) => {
                f.write_str("probing")?;
                for (bit, name) in [
                    (TO_SERVER_DONE, " to_server-done"),
                    (TO_CLIENT_DONE, " to_client-done"),
                    (BANNER_220, " banner-220"),
                ] {
                    if self.0 & bit != 0 {
                        f.write_str(name)?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for AppLayerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `app.*` settings (defaults in [`crate::settings::Settings::default`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppLayerSettings {
    /// `app.tls.max-handshake-bytes`: handshake bytes buffered per TLS flow direction.
    pub tls_max_handshake_bytes: u64,
    /// `app.max-parser-flows`: flows per worker with TLS / DNS-over-TCP parser state.
    pub max_parser_flows: u64,
}

impl Default for AppLayerSettings {
    fn default() -> Self {
        crate::settings::Settings::default().app
    }
}

/// Per-flow parser state of a detected protocol whose buffers rules read (boxed in the flow).
#[derive(Debug)]
pub enum AppFlow {
    Tls(TlsFlow),
    /// DNS over TCP: [to client, to server].
    DnsTcp([dns::DnsTcpDirection; 2]),
}

/// Counters of detection and of the TLS and DNS parsers (per worker).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppCounters {
    /// Flows detected, by protocol (index of [`AppProto::ALL`]).
    pub detected: [u64; 7],
    /// Flows where no probe matched either direction.
    pub unknown: u64,
    /// Directions that could not be probed: their stream start was no longer in view.
    pub probe_midstream: u64,
    pub tls: TlsCounters,
    /// DNS requests whose query name was read (UDP packets and TCP messages).
    pub dns_queries: u64,
    /// Packets or TCP messages of DNS flows that are not sane DNS.
    pub dns_malformed: u64,
    /// Limit hits: parser state evicted because `app.max-parser-flows` flows had some.
    pub parser_evictions: u64,
    /// Parser state freed because `stream.memcap` had no room for it (see
    /// [`AppLayer::charge_due`]); that flow's TLS/DNS buffers are no longer read.
    pub memcap_released: u64,
}

impl AppCounters {
    /// Appends `("app", name, value)` for every counter.
    pub fn report(&self, out: &mut Vec<(&'static str, &'static str, u64)>) {
        const DETECTED: [&str; 7] = [
            "detected_http",
            "detected_tls",
            "detected_dns",
            "detected_ftp",
            "detected_smtp",
            "detected_smb",
            "detected_ssh",
        ];
        for (name, count) in DETECTED.iter().zip(self.detected) {
            out.push(("app", name, count));
        }
        let t = &self.tls;
        out.extend([
            ("app", "unknown", self.unknown),
            ("app", "probe_midstream", self.probe_midstream),
            ("app", "tls_client_hellos", t.client_hellos),
            ("app", "tls_sni", t.sni),
            ("app", "tls_certificates", t.certificates),
            ("app", "tls_malformed_records", t.malformed_records),
            ("app", "tls_malformed_handshakes", t.malformed_handshakes),
            ("app", "tls_handshake_too_large", t.handshake_too_large),
            ("app", "tls_midstream", t.midstream),
            ("app", "dns_queries", self.dns_queries),
            ("app", "dns_malformed", self.dns_malformed),
            ("app", "parser_evictions", self.parser_evictions),
            ("app", "memcap_released", self.memcap_released),
        ]);
    }

    fn count_detected(&mut self, proto: AppProto) {
        if let Some(i) = AppProto::ALL.iter().position(|&p| p == proto) {
            self.detected[i] += 1;
        }
    }
}

/// Which app-layer buffers one packet made ready.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppUpdate {
    pub dns_query: bool,
    pub tls_sni: bool,
    pub tls_certificate: bool,
}

impl AppUpdate {
    pub fn any(self) -> bool {
        self.dns_query || self.tls_sni || self.tls_certificate
    }
}

/// A TCP packet's stream data as [`AppLayer::on_tcp`] reads it.
#[derive(Clone, Copy, Debug)]
pub struct StreamData<'a> {
    /// Already-inspected context, then the new bytes.
    pub bytes: &'a [u8],
    /// Index in `bytes` of the first new byte.
    pub new_from: usize,
    /// Stream offset of `bytes[0]` (0: `bytes` starts at the direction's first byte).
    pub stream_offset: u64,
}

/// The per-worker side: settings, counters, the parser table, scratch for query names.
#[derive(Debug, Default)]
pub struct AppLayer {
    pub settings: AppLayerSettings,
    pub counters: AppCounters,
    /// Parser state by flow id.
    parsers: HashMap<u64, AppFlow>,
    /// Bytes last charged to `stream.memcap` for each flow's parser state (see
    /// [`AppLayer::charge_due`]).
    charged: HashMap<u64, usize>,
    /// Flow ids in the order their parser state was created (may hold ids already removed),
    /// for eviction.
    created: VecDeque<u64>,
    /// The current packet's DNS query name.
    query: Vec<u8>,
    /// Further query names of the same packet (not inspected; see `on_tcp`).
    spare: Vec<u8>,
}

impl AppLayer {
    pub fn new(settings: AppLayerSettings) -> AppLayer {
        AppLayer {
            settings,
            counters: AppCounters::default(),
            parsers: HashMap::new(),
            charged: HashMap::new(),
            created: VecDeque::new(),
            query: Vec::with_capacity(256),
            spare: Vec::with_capacity(256),
        }
    }

    /// Flows with parser state now.
    pub fn parser_flows(&self) -> usize {
        self.parsers.len()
    }

    /// Before `flow_id` gets parser state: evicts the oldest entries while the table is full
    /// (counted) and records the new id's creation order.
    fn make_room(&mut self, flow_id: u64) {
        if self.parsers.contains_key(&flow_id) {
            return;
        }
        let max = usize::try_from(self.settings.max_parser_flows)
            .unwrap_or(usize::MAX)
            .max(1);
        while self.parsers.len() >= max {
            let Some(old) = self.created.pop_front() else {
                break;
            };
            // An evicted parser's charge stays with its stream session until that closes
            // (conservative: never under-counted).
            self.charged.remove(&old);
            if self.parsers.remove(&old).is_some() {
                self.counters.parser_evictions += 1;
            }
        }
        if self.created.len() >= 2 * max {
            // Forget the ids of entries freed since: the queue stays proportional to the table.
            let parsers = &self.parsers;
            self.created.retain(|id| parsers.contains_key(id));
        }
        self.created.push_back(flow_id);
    }

    /// The bytes to charge to `stream.memcap` for `flow_id`'s parser state when they changed
    /// since the last call (0 once the state is gone), else None. The worker attaches them to
    /// the flow's stream session, as it does HTTP state.
    pub fn charge_due(&mut self, flow_id: u64) -> Option<usize> {
        let now = self.parsers.get(&flow_id).map_or(0, |parser| {
            std::mem::size_of::<AppFlow>()
                + match parser {
                    AppFlow::Tls(tls) => tls.memory_bytes(),
                    AppFlow::DnsTcp(directions) => {
                        directions.iter().map(|d| d.memory_bytes()).sum()
                    }
                }
        });
        let before = self.charged.get(&flow_id).copied().unwrap_or(0);
        if now == before {
            return None;
        }
        if now == 0 {
            self.charged.remove(&flow_id);
        } else {
            self.charged.insert(flow_id, now);
        }
        Some(now)
    }

    /// Free `flow_id`'s parser state: the memcap had no room for it (counted). The flow's
    /// state byte keeps it from being created again.
    pub fn release(&mut self, flow_id: u64) {
        if self.forget(flow_id) {
            self.counters.memcap_released += 1;
        }
    }

    /// Free `flow_id`'s parser state (its session closed). Returns whether it had any.
    pub fn forget(&mut self, flow_id: u64) -> bool {
        self.charged.remove(&flow_id);
        self.parsers.remove(&flow_id).is_some()
    }

    fn max_handshake(&self) -> usize {
        usize::try_from(self.settings.tls_max_handshake_bytes).unwrap_or(usize::MAX)
    }

    /// Probes and parses one TCP packet's new stream data in `to_server`'s direction.
    pub fn on_tcp(
        &mut self,
        state: &mut AppLayerState,
        flow_id: u64,
        to_server: bool,
        data: StreamData<'_>,
        rules: &RuleSet,
    ) -> AppUpdate {
        let mut update = AppUpdate::default();
        let new_from = data.new_from.min(data.bytes.len());
        if !state.is_decided() && !state.direction_done(to_server) {
            if data.stream_offset != 0 {
                self.counters.probe_midstream += 1;
                self.give_up(state, to_server);
            } else {
                match probe::probe_tcp(data.bytes, to_server, state.banner_seen(), &mut self.query)
                {
                    Probe::Found(proto) => {
                        state.found(proto);
                        self.counters.count_detected(proto);
                    }
                    Probe::Banner => {
                        state.0 |= BANNER_220;
                        self.give_up(state, to_server);
                    }
                    Probe::NeedMore => {}
                    Probe::No => self.give_up(state, to_server),
                }
            }
        }
        let Some(proto @ (AppProto::Tls | AppProto::Dns)) = state.proto() else {
            return update;
        };
        if !rules.reads_app_layer(proto) {
            return update;
        }
        if let Some(AppFlow::Tls(tls)) = self.parsers.get(&flow_id) {
            if tls.is_finished() {
                // Read on an earlier packet (its view is gone): nothing more to parse.
                self.parsers.remove(&flow_id);
                return update;
            }
        }
        if state.parser_created() && !self.parsers.contains_key(&flow_id) {
            return update;
        }
        state.0 |= PARSER_CREATED;
        let max = self.max_handshake();
        self.make_room(flow_id);
        let parser = self.parsers.entry(flow_id).or_insert_with(|| match proto {
            AppProto::Tls => AppFlow::Tls(TlsFlow::default()),
            _ => AppFlow::DnsTcp(Default::default()),
        });
        // A direction's parser starts at its stream's first byte: the whole view when it
        // starts there, else the direction was picked up midstream.
        let from_start = (data.stream_offset == 0).then_some(data.bytes);
        match parser {
            AppFlow::Tls(tls) => {
                let found = if tls.needs_start(to_server) {
                    tls.start(to_server, from_start, max, &mut self.counters.tls)
                } else {
                    tls.feed(
                        to_server,
                        &data.bytes[new_from..],
                        max,
                        &mut self.counters.tls,
                    )
                };
                update.tls_sni = found.sni;
                update.tls_certificate = found.certificate;
            }
            AppFlow::DnsTcp(directions) => {
                let fed = directions[usize::from(to_server)].start_or_feed(
                    from_start,
                    &data.bytes[new_from..],
                    &mut self.query,
                    &mut self.spare,
                );
                self.counters.dns_queries += fed.messages;
                self.counters.dns_malformed += fed.malformed;
                update.dns_query = fed.query;
            }
        }
        update
    }

    /// Probes (while undecided) and parses one UDP payload.
    pub fn on_udp(
        &mut self,
        state: &mut AppLayerState,
        to_server: bool,
        payload: &[u8],
        rules: &RuleSet,
    ) -> AppUpdate {
        if !state.is_decided() && !state.direction_done(to_server) {
            if probe::probe_udp(payload, &mut self.query) {
                state.found(AppProto::Dns);
                self.counters.count_detected(AppProto::Dns);
            } else {
                self.give_up(state, to_server);
            }
        }
        let mut update = AppUpdate::default();
        if state.proto() == Some(AppProto::Dns) && rules.reads_app_layer(AppProto::Dns) {
            match dns::parse_question(payload, &mut self.query) {
                Ok(question) => {
                    self.counters.dns_queries += u64::from(!question.is_response);
                    update.dns_query = !question.is_response;
                }
                Err(_) => self.counters.dns_malformed += 1,
            }
        }
        update
    }

    fn give_up(&mut self, state: &mut AppLayerState, to_server: bool) {
        if state.give_up(to_server) {
            self.counters.unknown += 1;
        }
    }

    /// The view detection reads for a packet of `flow_id` whose [`AppUpdate`] is `update`.
    pub fn view<'a>(
        &'a self,
        packet: &'a [u8],
        flow_id: u64,
        update: AppUpdate,
    ) -> AppEventView<'a> {
        AppEventView {
            packet,
            dns_query: update.dns_query.then_some(self.query.as_slice()),
            tls: match self.parsers.get(&flow_id) {
                Some(AppFlow::Tls(tls)) => Some(tls),
                _ => None,
            },
            update,
        }
    }
}

/// One packet's app-layer buffers as rule detection reads them: the packet payload, the DNS
/// query name it carried, the flow's TLS names; only those this packet made ready count as
/// updated, so each alerts once.
#[derive(Clone, Copy, Debug)]
pub struct AppEventView<'a> {
    pub packet: &'a [u8],
    pub dns_query: Option<&'a [u8]>,
    pub tls: Option<&'a TlsFlow>,
    pub update: AppUpdate,
}

impl AppBuffers for AppEventView<'_> {
    fn get(&self, buffer: Buffer) -> Option<&[u8]> {
        match buffer {
            Buffer::Packet => Some(self.packet),
            Buffer::DnsQuery => self.dns_query,
            Buffer::TlsSni => self.tls.and_then(TlsFlow::sni),
            Buffer::TlsCertSubject => self.tls.and_then(TlsFlow::cert_subject),
            Buffer::TlsCertIssuer => self.tls.and_then(TlsFlow::cert_issuer),
            _ => None,
        }
    }

    fn updated(&self, buffer: Buffer) -> bool {
        match buffer {
            Buffer::Packet => true,
            Buffer::DnsQuery => self.update.dns_query,
            Buffer::TlsSni => self.update.tls_sni,
            Buffer::TlsCertSubject | Buffer::TlsCertIssuer => self.update.tls_certificate,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
