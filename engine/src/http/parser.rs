//! The per-flow HTTP/1.x state machine: start line, headers, body, per direction.
//!
//! Each direction (a [`Half`]) moves through [`Phase`]s as bytes arrive; lines are collected in a
//! bounded scratch buffer, so a line split over many segments is parsed once, when its end
//! arrives. Buffers are reused across messages (cleared, not freed).
//!
//! Not here: URI normalisation (normalize), body framing and decompression (body).

use std::collections::VecDeque;
use std::fmt;

use super::body::{BodyFramer, BodySink, Encoding, Framing, FramingError};
use super::normalize::{normalize_host, normalize_uri, percent_decode_append, UriFlags};
use super::{Buffer, BufferSet, Direction, HttpCounters, HttpEvents, HttpInspector};
use nfips_rules::ast::BufferSide;

/// Rules remembered per message by [`HttpState::first_alert`].
pub const MAX_ALERTED_RULES: usize = 64;

/// Buffers are indexed by `Buffer as usize`; `Buffer::Packet` (0) is never stored here.
const BUFFER_COUNT: usize = Buffer::HTTP.len() + 1;

/// Why a direction is no longer parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Its first bytes were not HTTP.
    NotHttp,
    /// A later message could not be parsed; where the next message starts is unknown.
    Desync,
    /// A limit was hit (start line or header block too long).
    Limit,
    /// CONNECT or an upgrade: the rest is another protocol.
    Tunnel,
}

/// Where a direction's parser is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Nothing parsed yet: the first line decides whether this is HTTP.
    Detect,
    /// Between messages or inside a start line.
    StartLine,
    /// Inside the header block.
    Headers,
    /// Inside a body.
    Body,
    /// Not parsed any more.
    Stopped(StopReason),
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Detect => f.write_str("detect"),
            Phase::StartLine => f.write_str("start-line"),
            Phase::Headers => f.write_str("headers"),
            Phase::Body => f.write_str("body"),
            Phase::Stopped(reason) => write!(f, "stopped({reason:?})"),
        }
    }
}

/// What a request implies for its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestKind {
    Head,
    Connect,
    Other,
}

/// Facts from the headers that decide how the body is read.
#[derive(Clone, Copy, Debug, Default)]
struct BodyFacts {
    content_length: Option<u64>,
    chunked: bool,
    encoding: Option<Encoding>,
    /// A Content-Length that is not a number: where the body ends is unknown.
    bad_length: bool,
}

/// One direction's parser and its current message's buffers.
#[derive(Debug)]
struct Half {
    direction: Direction,
    phase: Phase,
    /// The line being collected (start line or one header line), without its `\n`.
    line: Vec<u8>,
    /// Buffers of the current message, indexed by `Buffer as usize` (bodies live in `body`).
    buffers: [Vec<u8>; BUFFER_COUNT],
    present: BufferSet,
    /// The header being collected (it may continue on folded lines).
    pending_name: Vec<u8>,
    pending_value: Vec<u8>,
    has_pending: bool,
    facts: BodyFacts,
    /// The status code of the current response (0 for requests).
    status: u16,
    framer: BodyFramer,
    body: BodySink,
    /// Rules (by the caller's id) that already alerted on the current message.
    alerted: Vec<u32>,
}

impl Half {
    fn new(direction: Direction) -> Self {
        Half {
            direction,
            phase: Phase::Detect,
            line: Vec::new(),
            buffers: std::array::from_fn(|_| Vec::new()),
            present: BufferSet::EMPTY,
            pending_name: Vec::new(),
            pending_value: Vec::new(),
            has_pending: false,
            facts: BodyFacts::default(),
            status: 0,
            framer: BodyFramer::new(Framing::None),
            body: BodySink::default(),
            alerted: Vec::new(),
        }
    }

    fn body_buffer(&self) -> Buffer {
        match self.direction {
            Direction::ToServer => Buffer::HttpClientBody,
            Direction::ToClient => Buffer::FileData,
        }
    }

    fn buffer(&self, buffer: Buffer) -> Option<&[u8]> {
        if !self.present.contains(buffer) {
            None
        } else if buffer == self.body_buffer() {
            Some(self.body.bytes())
        } else {
            Some(&self.buffers[buffer as usize])
        }
    }

    fn set(&mut self, buffer: Buffer, value: &[u8], events: &mut HttpEvents) {
        let stored = &mut self.buffers[buffer as usize];
        stored.clear();
        stored.extend_from_slice(value);
        self.present.insert(buffer);
        events.updated.insert(buffer);
    }

    fn buffer_mut(&mut self, buffer: Buffer) -> &mut Vec<u8> {
        self.present.insert(buffer);
        &mut self.buffers[buffer as usize]
    }

    /// Forgets the previous message's buffers (keeping their capacity).
    fn start_message(&mut self) {
        for buffer in self.present.iter() {
            self.buffers[buffer as usize].clear();
        }
        self.present = BufferSet::EMPTY;
        self.alerted.clear();
        self.has_pending = false;
        self.facts = BodyFacts::default();
        self.status = 0;
    }

    /// Stops parsing this direction and frees what it holds. The current message's buffers
    /// are kept when events about them are being reported (a tunnel's response, headers with a
    /// bad Content-Length) and freed otherwise.
    fn stop(&mut self, reason: StopReason) {
        self.stop_keeping_buffers(reason);
        self.buffers = std::array::from_fn(|_| Vec::new());
        self.present = BufferSet::EMPTY;
    }

    fn stop_keeping_buffers(&mut self, reason: StopReason) {
        self.phase = Phase::Stopped(reason);
        self.line = Vec::new();
        self.pending_name = Vec::new();
        self.pending_value = Vec::new();
        self.body.release();
    }

    fn memory_bytes(&self) -> usize {
        self.line.capacity()
            + self.buffers.iter().map(Vec::capacity).sum::<usize>()
            + self.pending_name.capacity()
            + self.pending_value.capacity()
            + self.body.capacity()
            + self.alerted.capacity() * std::mem::size_of::<u32>()
    }
}

/// The HTTP state of one flow: a parser per direction and the requests awaiting responses.
#[derive(Debug)]
pub struct HttpState {
    halves: [Half; 2],
    pending: VecDeque<RequestKind>,
    /// Per direction: what the rules' prefilter already scanned of the growing body.
    scan_memory: [nfips_rules::ruleset::HttpScanMemory; 2],
    /// Bytes last charged to the stream memcap for this state (see [`HttpState::charge_due`]).
    charged: usize,
}

impl Default for HttpState {
    fn default() -> Self {
        HttpState {
            halves: [
                Half::new(Direction::ToServer),
                Half::new(Direction::ToClient),
            ],
            pending: VecDeque::new(),
            scan_memory: Default::default(),
            charged: 0,
        }
    }
}

impl HttpState {
    /// The prefilter memory of `direction` (see `RuleSet::detect_http_with_memory`).
    pub fn scan_memory(
        &mut self,
        direction: Direction,
    ) -> &mut nfips_rules::ruleset::HttpScanMemory {
        &mut self.scan_memory[direction.index()]
    }

    /// The current message's buffer in `direction`, if the message has it.
    pub fn buffer(&self, direction: Direction, buffer: Buffer) -> Option<&[u8]> {
        self.halves[direction.index()].buffer(buffer)
    }

    /// The buffer a rule sees when inspecting traffic in `direction`: request-only buffers
    /// (URI, method, host ...) come from the transaction's request and response-only ones
    /// (status, file data ...) from its response, whichever direction is inspected; buffers both
    /// messages have (headers, cookies ...) come from the message in `direction`.
    pub fn transaction_buffer(&self, direction: Direction, buffer: Buffer) -> Option<&[u8]> {
        let source = match buffer.side() {
            BufferSide::Request => Direction::ToServer,
            BufferSide::Response => Direction::ToClient,
            BufferSide::Either => direction,
        };
        self.buffer(source, buffer)
    }

    /// Records that `rule` matched the current message in `direction`; true the first time, so
    /// a rule alerts once per message although its buffers grow over several events (a body).
    /// At most [`MAX_ALERTED_RULES`] rules are remembered per message; beyond, repeats pass.
    pub fn first_alert(&mut self, direction: Direction, rule: u32) -> bool {
        let alerted = &mut self.halves[direction.index()].alerted;
        if alerted.contains(&rule) {
            return false;
        }
        if alerted.len() < MAX_ALERTED_RULES {
            alerted.push(rule);
        }
        true
    }

    /// Which buffers the current message in `direction` has.
    pub fn present(&self, direction: Direction) -> BufferSet {
        self.halves[direction.index()].present
    }

    /// Where the parser of `direction` is.
    pub fn phase(&self, direction: Direction) -> Phase {
        self.halves[direction.index()].phase
    }

    /// True once either direction has parsed a start line.
    pub fn is_http(&self) -> bool {
        self.halves.iter().any(|half| {
            !matches!(
                half.phase,
                Phase::Detect | Phase::Stopped(StopReason::NotHttp)
            )
        })
    }

    /// Heap bytes this flow's HTTP state holds, for the memcap.
    pub fn memory_bytes(&self) -> usize {
        self.halves.iter().map(Half::memory_bytes).sum::<usize>()
            + self.pending.capacity() * std::mem::size_of::<RequestKind>()
    }

    /// The bytes to charge to the memcap (the boxed state itself and its heap) when they
    /// changed since the last call: buffers change by capacity, so most packets cost no memcap
    /// update.
    pub fn charge_due(&mut self) -> Option<usize> {
        let bytes = std::mem::size_of::<HttpState>() + self.memory_bytes();
        (bytes != self.charged).then(|| {
            self.charged = bytes;
            bytes
        })
    }

    pub(super) fn finish(&mut self, direction: Direction, events: &mut HttpEvents) {
        let half = &mut self.halves[direction.index()];
        if half.phase == Phase::Body {
            half.body.end();
            half.phase = Phase::StartLine;
            events.message_done = true;
        }
    }

    pub(super) fn feed(
        &mut self,
        inspector: &mut HttpInspector,
        direction: Direction,
        input: &[u8],
        events: &mut HttpEvents,
    ) -> usize {
        let mut at = 0;
        while at < input.len() && events.is_empty() {
            let phase = self.halves[direction.index()].phase;
            at += match phase {
                Phase::Stopped(_) => input.len() - at,
                Phase::Detect | Phase::StartLine => {
                    self.start_line(inspector, direction, &input[at..], events)
                }
                Phase::Headers => self.headers(inspector, direction, &input[at..], events),
                Phase::Body => self.body(inspector, direction, &input[at..], events),
            };
        }
        at
    }

    /// Collects the start line; returns bytes consumed.
    fn start_line(
        &mut self,
        inspector: &mut HttpInspector,
        direction: Direction,
        input: &[u8],
        events: &mut HttpEvents,
    ) -> usize {
        let half = &mut self.halves[direction.index()];
        let counters = &mut inspector.counters;
        let mut at = 0;
        // Empty lines between messages are tolerated (RFC 9112 2.2).
        if half.line.is_empty() && half.phase == Phase::StartLine {
            at = input
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(input.len());
        }
        let rest = &input[at..];
        let (piece, complete) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (&rest[..end], true),
            None => (rest, false),
        };
        let consumed = at + piece.len() + usize::from(complete);
        if half.line.len() + piece.len() > inspector.settings.max_start_line {
            counters.start_line_too_long += 1;
            half.stop(StopReason::Limit);
            return consumed;
        }
        half.line.extend_from_slice(piece);
        if half.phase == Phase::Detect && !looks_like_start(direction, &half.line) {
            counters.not_http += 1;
            half.stop(StopReason::NotHttp);
            return consumed;
        }
        if complete {
            self.parse_start_line(inspector, direction, events);
        }
        consumed
    }

    fn parse_start_line(
        &mut self,
        inspector: &mut HttpInspector,
        direction: Direction,
        events: &mut HttpEvents,
    ) {
        let half = &mut self.halves[direction.index()];
        let mut line = std::mem::take(&mut half.line);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let first = half.phase == Phase::Detect;
        half.start_message();
        let parsed = match direction {
            Direction::ToServer => self.parse_request_line(inspector, &line, first, events),
            Direction::ToClient => self.parse_status_line(inspector, &line, events),
        };
        let half = &mut self.halves[direction.index()];
        line.clear();
        half.line = line;
        if !parsed {
            if first {
                inspector.counters.not_http += 1;
                half.stop(StopReason::NotHttp);
            } else {
                inspector.counters.bad_start_line += 1;
                half.stop(StopReason::Desync);
            }
        }
    }

    /// Parses a request line; the first of a flow must name an HTTP version (or be an HTTP/0.9
    /// `GET /path`), so that other line protocols (`USER bob`, `EHLO x`) are not taken for HTTP.
    fn parse_request_line(
        &mut self,
        inspector: &mut HttpInspector,
        line: &[u8],
        first: bool,
        events: &mut HttpEvents,
    ) -> bool {
        // Method, then protocol as the last field, and the URI is everything between: servers
        // that accept a space in the URI exist, so `GET /a b HTTP/1.1` must not make the flow
        // "not HTTP" and blind the HTTP rules (libhtp parses it the same way).
        let is_space = |b: &u8| *b == b' ' || *b == b'\t';
        let line = line.trim_ascii();
        let Some(method_end) = line.iter().position(is_space) else {
            return false;
        };
        let method = &line[..method_end];
        let rest = line[method_end..].trim_ascii_start();
        let (uri, protocol) = match rest.iter().rposition(is_space) {
            Some(split) => (rest[..split].trim_ascii_end(), Some(&rest[split + 1..])),
            None => (rest, None),
        };
        if !method.iter().all(|&b| is_token(b)) {
            return false;
        }
        let uri_has_space = uri.iter().any(is_space);
        let plausible = match protocol {
            Some(protocol) => is_http_version(protocol),
            None => method == b"GET" && uri.starts_with(b"/"),
        };
        if first && !plausible {
            return false;
        }
        let counters = &mut inspector.counters;
        counters.requests += 1;
        counters.uri_with_space += u64::from(uri_has_space);
        let kind = match method {
            b"HEAD" => RequestKind::Head,
            b"CONNECT" => RequestKind::Connect,
            _ => RequestKind::Other,
        };
        if self.pending.len() >= inspector.settings.max_pending_requests {
            counters.pending_requests_overflow += 1;
            self.pending.pop_front();
        }
        self.pending.push_back(kind);

        let half = &mut self.halves[Direction::ToServer.index()];
        half.set(Buffer::HttpRequestLine, line, events);
        half.set(Buffer::HttpMethod, method, events);
        half.set(Buffer::HttpRawUri, uri, events);
        let flags = normalize_uri(
            uri,
            half.buffer_mut(Buffer::HttpUri),
            &mut inspector.scratch,
        );
        events.updated.insert(Buffer::HttpUri);
        count_uri_flags(counters, flags);
        match protocol {
            Some(protocol) => {
                if !is_http_version(protocol) {
                    counters.unknown_protocol += 1;
                }
                half.set(Buffer::HttpProtocol, protocol, events);
                half.phase = Phase::Headers;
            }
            // HTTP/0.9: a simple request has no headers and no body.
            None => {
                half.phase = Phase::StartLine;
                events.message_done = true;
            }
        }
        true
    }

    fn parse_status_line(
        &mut self,
        inspector: &mut HttpInspector,
        line: &[u8],
        events: &mut HttpEvents,
    ) -> bool {
        let Some(protocol_end) = line.iter().position(|&b| b == b' ' || b == b'\t') else {
            return false;
        };
        let protocol = &line[..protocol_end];
        if !protocol.starts_with(b"HTTP/") {
            return false;
        }
        let rest = line[protocol_end..].trim_ascii_start();
        let code_end = rest
            .iter()
            .position(|&b| b == b' ' || b == b'\t')
            .unwrap_or(rest.len());
        let code = &rest[..code_end];
        let message = rest[code_end..].trim_ascii_start();
        let counters = &mut inspector.counters;
        counters.responses += 1;
        if !is_http_version(protocol) {
            counters.unknown_protocol += 1;
        }
        let status = match code {
            [a, b, c] if code.iter().all(u8::is_ascii_digit) => {
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
            }
            _ => {
                counters.bad_status_code += 1;
                0
            }
        };
        let half = &mut self.halves[Direction::ToClient.index()];
        half.status = status;
        half.set(Buffer::HttpResponseLine, line, events);
        half.set(Buffer::HttpProtocol, protocol, events);
        half.set(Buffer::HttpStatCode, code, events);
        half.set(Buffer::HttpStatMsg, message, events);
        half.phase = Phase::Headers;
        true
    }

    /// Collects header lines up to the blank line; returns bytes consumed.
    fn headers(
        &mut self,
        inspector: &mut HttpInspector,
        direction: Direction,
        input: &[u8],
        events: &mut HttpEvents,
    ) -> usize {
        let half = &mut self.halves[direction.index()];
        let mut at = 0;
        while at < input.len() {
            let rest = &input[at..];
            let (piece, complete) = match rest.iter().position(|&b| b == b'\n') {
                Some(end) => (&rest[..end], true),
                None => (rest, false),
            };
            at += piece.len() + usize::from(complete);
            let raw_len = half.buffers[Buffer::HttpRawHeader as usize].len();
            if raw_len + half.line.len() + piece.len() > inspector.settings.max_header_bytes {
                inspector.counters.headers_too_long += 1;
                half.stop(StopReason::Limit);
                return at;
            }
            half.line.extend_from_slice(piece);
            if !complete {
                break;
            }
            let mut line = std::mem::take(&mut half.line);
            let content = line.strip_suffix(b"\r").unwrap_or(&line);
            if content.is_empty() {
                line.clear();
                half.line = line;
                self.end_of_headers(inspector, direction, events);
                return at;
            }
            let raw = half.buffer_mut(Buffer::HttpRawHeader);
            raw.extend_from_slice(&line);
            raw.push(b'\n');
            header_line(half, inspector, content);
            line.clear();
            half.line = line;
        }
        at
    }

    fn end_of_headers(
        &mut self,
        inspector: &mut HttpInspector,
        direction: Direction,
        events: &mut HttpEvents,
    ) {
        let half = &mut self.halves[direction.index()];
        if half.has_pending {
            finish_pending(half, inspector);
        }
        let settings = &inspector.settings;
        let counters = &mut inspector.counters;
        let names = half.buffer_mut(Buffer::HttpHeaderNames);
        if names.is_empty() {
            names.extend_from_slice(b"\r\n");
        }
        names.extend_from_slice(b"\r\n");
        let start_line = match direction {
            Direction::ToServer => Buffer::HttpRequestLine,
            Direction::ToClient => Buffer::HttpResponseLine,
        };
        let mut start = std::mem::take(half.buffer_mut(Buffer::HttpStart));
        start.clear();
        start.extend_from_slice(&half.buffers[start_line as usize]);
        start.extend_from_slice(b"\r\n");
        start.extend_from_slice(&half.buffers[Buffer::HttpRawHeader as usize]);
        start.extend_from_slice(b"\r\n");
        *half.buffer_mut(Buffer::HttpStart) = start;
        half.present.insert(Buffer::HttpHeader);
        half.present.insert(Buffer::HttpRawHeader);
        for buffer in half.present.iter() {
            if !matches!(
                buffer,
                Buffer::HttpMethod
                    | Buffer::HttpUri
                    | Buffer::HttpRawUri
                    | Buffer::HttpRequestLine
                    | Buffer::HttpProtocol
                    | Buffer::HttpResponseLine
                    | Buffer::HttpStatCode
                    | Buffer::HttpStatMsg
            ) {
                events.updated.insert(buffer);
            }
        }

        let facts = half.facts;
        if facts.bad_length {
            half.stop_keeping_buffers(StopReason::Desync);
            return;
        }
        if facts.chunked && facts.content_length.is_some() {
            counters.chunked_and_content_length += 1;
        }
        let length_framing = match (facts.chunked, facts.content_length) {
            (true, _) => Framing::Chunked,
            (false, Some(0)) | (false, None) => Framing::None,
            (false, Some(length)) => Framing::Length(length),
        };
        let (framing, encoding, depth) = match direction {
            Direction::ToServer => (
                length_framing,
                Encoding::Identity,
                settings.request_body_depth,
            ),
            Direction::ToClient => {
                let status = half.status;
                let request = if status >= 200 || status == 0 {
                    self.pending.pop_front()
                } else {
                    None
                };
                if status == 101
                    || (request == Some(RequestKind::Connect) && (200..300).contains(&status))
                {
                    counters.tunnels += 1;
                    events.message_done = true;
                    for half in &mut self.halves {
                        half.stop_keeping_buffers(StopReason::Tunnel);
                    }
                    return;
                }
                let no_body = (100..200).contains(&status)
                    || status == 204
                    || status == 304
                    || request == Some(RequestKind::Head);
                let framing = match length_framing {
                    _ if no_body => Framing::None,
                    Framing::None if facts.content_length.is_none() => Framing::UntilClose,
                    framing => framing,
                };
                (
                    framing,
                    facts.encoding.unwrap_or(Encoding::Identity),
                    settings.response_body_depth,
                )
            }
        };
        let half = &mut self.halves[direction.index()];
        half.framer = BodyFramer::new(framing);
        if framing == Framing::None {
            half.phase = Phase::StartLine;
            events.message_done = true;
        } else {
            half.body.start(encoding, depth, settings.compressed_depth);
            if let Framing::Length(length) = framing {
                half.body.expect(length);
            }
            half.present.insert(half.body_buffer());
            half.phase = Phase::Body;
        }
    }

    /// Feeds body bytes; returns bytes consumed.
    fn body(
        &mut self,
        inspector: &mut HttpInspector,
        direction: Direction,
        input: &[u8],
        events: &mut HttpEvents,
    ) -> usize {
        let half = &mut self.halves[direction.index()];
        let counters = &mut inspector.counters;
        let step = match half.framer.step(input) {
            Ok(step) => step,
            Err(error) => {
                match error {
                    FramingError::BadChunkSize => counters.bad_chunk_size += 1,
                    FramingError::ChunkSizeTooLong => counters.chunk_size_too_long += 1,
                    FramingError::MissingChunkEnd => counters.missing_chunk_end += 1,
                }
                half.stop(StopReason::Desync);
                return input.len();
            }
        };
        let outcome = half.body.push(&input[step.data_start..][..step.data_len]);
        if outcome.grew {
            events.updated.insert(half.body_buffer());
        }
        if outcome.depth_reached {
            match direction {
                Direction::ToServer => counters.request_body_depth_reached += 1,
                Direction::ToClient => counters.response_body_depth_reached += 1,
            }
        }
        counters.decompress_error += u64::from(outcome.decompress_error);
        counters.compressed_depth_reached += u64::from(outcome.compressed_limit_reached);
        if step.done {
            half.body.end();
            half.phase = Phase::StartLine;
            events.message_done = true;
        }
        step.consumed
    }
}

/// Headers whose value is a buffer of its own (Suricata's header sticky buffers).
const HEADER_VALUE_BUFFERS: &[(&str, Buffer)] = &[
    ("accept", Buffer::HttpAccept),
    ("accept-encoding", Buffer::HttpAcceptEnc),
    ("accept-language", Buffer::HttpAcceptLang),
    ("referer", Buffer::HttpReferer),
    ("connection", Buffer::HttpConnection),
    ("content-type", Buffer::HttpContentType),
    ("content-length", Buffer::HttpContentLen),
    ("server", Buffer::HttpServer),
    ("location", Buffer::HttpLocation),
];

/// Handles one complete header line (without line ending) of `half`.
fn header_line(half: &mut Half, inspector: &mut HttpInspector, content: &[u8]) {
    if content.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        if half.has_pending {
            half.pending_value.push(b' ');
            half.pending_value.extend_from_slice(content.trim_ascii());
        } else {
            inspector.counters.fold_without_header += 1;
        }
        return;
    }
    if half.has_pending {
        finish_pending(half, inspector);
    }
    let Some(colon) = content.iter().position(|&b| b == b':') else {
        inspector.counters.header_without_colon += 1;
        return;
    };
    half.pending_name.clear();
    half.pending_name
        .extend_from_slice(content[..colon].trim_ascii());
    half.pending_value.clear();
    half.pending_value
        .extend_from_slice(content[colon + 1..].trim_ascii());
    half.has_pending = true;
}

/// Files the pending header into the message's buffers.
fn finish_pending(half: &mut Half, inspector: &mut HttpInspector) {
    let counters = &mut inspector.counters;
    half.has_pending = false;
    let name = std::mem::take(&mut half.pending_name);
    let value = std::mem::take(&mut half.pending_value);
    let names = half.buffer_mut(Buffer::HttpHeaderNames);
    if names.is_empty() {
        names.extend_from_slice(b"\r\n");
    }
    names.extend_from_slice(&name);
    names.extend_from_slice(b"\r\n");

    let cookie_name: &[u8] = match half.direction {
        Direction::ToServer => b"cookie",
        Direction::ToClient => b"set-cookie",
    };
    let is_cookie = name.eq_ignore_ascii_case(cookie_name);
    if is_cookie {
        let raw = half.buffer_mut(Buffer::HttpRawCookie);
        if !raw.is_empty() {
            raw.extend_from_slice(b"; ");
        }
        raw.extend_from_slice(&value);
        let decoded = half.buffer_mut(Buffer::HttpCookie);
        if !decoded.is_empty() {
            decoded.extend_from_slice(b"; ");
        }
        percent_decode_append(&value, decoded, &mut inspector.scratch);
    }
    if !is_cookie || inspector.settings.cookie_in_header {
        let header = half.buffer_mut(Buffer::HttpHeader);
        header.extend_from_slice(&name);
        header.extend_from_slice(b": ");
        header.extend_from_slice(&value);
        header.extend_from_slice(b"\r\n");
    }

    if let Some((_, buffer)) = HEADER_VALUE_BUFFERS
        .iter()
        .find(|(header, _)| name.eq_ignore_ascii_case(header.as_bytes()))
    {
        let stored = half.buffer_mut(*buffer);
        if !stored.is_empty() {
            stored.extend_from_slice(b", ");
        }
        stored.extend_from_slice(&value);
    }
    if name.eq_ignore_ascii_case(b"host") && !half.present.contains(Buffer::HttpRawHost) {
        half.buffer_mut(Buffer::HttpRawHost)
            .extend_from_slice(&value);
        let mut host = std::mem::take(half.buffer_mut(Buffer::HttpHost));
        normalize_host(&value, &mut host);
        *half.buffer_mut(Buffer::HttpHost) = host;
    } else if name.eq_ignore_ascii_case(b"user-agent")
        && !half.present.contains(Buffer::HttpUserAgent)
    {
        half.buffer_mut(Buffer::HttpUserAgent)
            .extend_from_slice(&value);
    } else if name.eq_ignore_ascii_case(b"content-length") {
        match parse_decimal(&value) {
            Some(length) => match half.facts.content_length {
                Some(previous) if previous != length => counters.conflicting_content_length += 1,
                Some(_) => {}
                None => half.facts.content_length = Some(length),
            },
            None => {
                counters.bad_content_length += 1;
                half.facts.bad_length = true;
            }
        }
    } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
        let last = value
            .rsplit(|&b| b == b',')
            .next()
            .unwrap_or(&[])
            .trim_ascii();
        half.facts.chunked = last.eq_ignore_ascii_case(b"chunked");
    } else if name.eq_ignore_ascii_case(b"content-encoding") {
        let coding = value.trim_ascii();
        half.facts.encoding = Some(
            if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
                Encoding::Gzip
            } else if coding.eq_ignore_ascii_case(b"deflate") {
                Encoding::Deflate
            } else {
                if !coding.eq_ignore_ascii_case(b"identity") {
                    counters.unknown_content_encoding += 1;
                }
                Encoding::Identity
            },
        );
    }
    half.pending_name = name;
    half.pending_value = value;
}

fn count_uri_flags(counters: &mut HttpCounters, flags: UriFlags) {
    counters.uri_double_encoding += u64::from(flags.double_encoded);
    counters.uri_percent_u += u64::from(flags.percent_u);
    counters.uri_bad_escape += u64::from(flags.bad_escape);
    counters.uri_above_root += u64::from(flags.above_root);
    counters.uri_backslash += u64::from(flags.backslash);
}

fn parse_decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        value
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')),
    )
}

/// RFC 9110 token characters (method names, header names).
fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn is_http_version(protocol: &[u8]) -> bool {
    matches!(protocol, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
        if major.is_ascii_digit() && minor.is_ascii_digit())
}

/// Longest method accepted while deciding whether a flow is HTTP.
const MAX_METHOD_LEN: usize = 32;

/// While the first line of a direction arrives: could it still be an HTTP start line?
fn looks_like_start(direction: Direction, line: &[u8]) -> bool {
    match direction {
        Direction::ToServer => {
            let method_len = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
            method_len <= MAX_METHOD_LEN
                && line[..method_len].iter().all(|&b| is_token(b))
                && (method_len > 0 || line.is_empty())
        }
        Direction::ToClient => {
            let prefix = b"HTTP/";
            let common = line.len().min(prefix.len());
            line[..common] == prefix[..common]
        }
    }
}
