//! HTTP/1.x inspection: an incremental parser over reassembled TCP stream bytes that fills the
//! per-transaction buffers Snort's http_inspect and Suricata's HTTP parser give rules
//! (`http_uri`, `http_header`, `file_data` ...).
//!
//! Model: one [`HttpState`] per flow (two halves, one per [`Direction`]), one [`HttpInspector`]
//! per worker (settings, counters, scratch). The engine hands the inspector each direction's newly
//! contiguous stream bytes; [`HttpInspector::feed`] consumes them up to the next point where a
//! buffer became ready (the request line ended, the headers ended, body data arrived, the message
//! ended), reports which buffers in [`HttpEvents`], and returns how many bytes it consumed, so the
//! caller runs detection on exactly the packet that completed the matching part and then feeds
//! the rest. Bytes are never parsed twice; state per flow is bounded by [`HttpSettings`] and every
//! limit and malformation is counted in [`HttpCounters`], never a panic.
//!
//! HTTP is recognised by content on any port: a client direction whose first line parses as a
//! request line, a server direction that starts with `HTTP/`. Anything else stops inspection of
//! that direction (counted as not HTTP). CONNECT tunnels and `101 Switching Protocols` stop
//! inspection of both directions.
//!
//! Not here: reassembly (nfips-stream), matching rules against the buffers (detect), HTTP/2.

mod body;
pub mod normalize;
mod parser;

#[cfg(test)]
mod tests;

use std::fmt;

pub use parser::{HttpState, MAX_ALERTED_RULES};

use normalize::UriScratch;

/// The HTTP buffers are the rule language's: a rule's `http_uri` content reads `Buffer::HttpUri`.
/// Request buffers are filled on the to-server side, response buffers on the to-client side;
/// header, cookie and protocol buffers on both (for responses the cookie is `Set-Cookie`).
pub use nfips_rules::ast::Buffer;
use nfips_rules::ruleset::AppBuffers;

/// Which way bytes travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server: requests.
    ToServer,
    /// Server to client: responses.
    ToClient,
}

impl Direction {
    fn index(self) -> usize {
        self as usize
    }

    /// The other way.
    pub fn opposite(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        })
    }
}

/// A set of [`Buffer`]s as a bit mask.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferSet(u64);

impl BufferSet {
    pub const EMPTY: BufferSet = BufferSet(0);

    pub fn insert(&mut self, buffer: Buffer) {
        self.0 |= 1 << buffer as u64;
    }

    pub fn contains(self, buffer: Buffer) -> bool {
        self.0 & (1 << buffer as u64) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Buffer> {
        Buffer::HTTP.into_iter().filter(move |b| self.contains(*b))
    }
}

impl fmt::Debug for BufferSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// What one [`HttpInspector::feed`] call made ready.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpEvents {
    /// Buffers that became ready or grew; detection should run on them now.
    pub updated: BufferSet,
    /// The message (request or response) ended; its buffers stay readable until the next
    /// message on this direction starts.
    pub message_done: bool,
}

impl HttpEvents {
    pub fn is_empty(&self) -> bool {
        self.updated.is_empty() && !self.message_done
    }

    pub fn clear(&mut self) {
        *self = HttpEvents::default();
    }
}

/// Limits of the HTTP parser. Every limit has a counter in [`HttpCounters`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    /// `http.max-start-line`: longest request or status line; longer stops inspecting the
    /// direction (`start_line_too_long`). Default 8192.
    pub max_start_line: usize,
    /// `http.max-header-bytes`: largest header block; larger stops inspecting the direction
    /// (`headers_too_long`). Default 65536.
    pub max_header_bytes: usize,
    /// `http.request-body-depth`: request body bytes kept for `http_client_body` (Snort's
    /// post_depth as shipped in snort.conf). Default 65495; 0 keeps none.
    pub request_body_depth: usize,
    /// `http.response-body-depth`: response body bytes kept for `file_data`, after dechunking
    /// and decompression (snort.conf's decompress_depth). Default 65535; 0 keeps none.
    pub response_body_depth: usize,
    /// `http.compressed-depth`: compressed response bytes fed to the decompressor (snort.conf's
    /// compress_depth). Default 65535.
    pub compressed_depth: u64,
    /// `http.max-pending-requests`: pipelined requests remembered while their responses are
    /// outstanding (to know a HEAD response has no body). Default 64.
    pub max_pending_requests: usize,
    /// `http.cookie-in-header`: whether `http_header` also holds the Cookie / Set-Cookie
    /// headers. Snort 2.9 takes them out (they are in `http_cookie` only); Suricata keeps them.
    /// Default false (Snort).
    pub cookie_in_header: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_start_line: 8192,
            max_header_bytes: 65536,
            request_body_depth: 65495,
            response_body_depth: 65535,
            compressed_depth: 65535,
            max_pending_requests: 64,
            cookie_in_header: false,
        }
    }
}

macro_rules! http_counters {
    ($($(#[$doc:meta])* $field:ident,)*) => {
        /// Counts of what the HTTP parser saw, per worker: messages, malformations by reason,
        /// normalisation events and limits hit.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct HttpCounters {
            $($(#[$doc])* pub $field: u64,)*
        }

        impl HttpCounters {
            /// Every counter by name, in declaration order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
                [$((stringify!($field), self.$field),)*].into_iter()
            }

            /// Adds another worker's counts.
            pub fn add(&mut self, other: &HttpCounters) {
                $(self.$field += other.$field;)*
            }
        }
    };
}

http_counters! {
    /// Requests whose request line was parsed.
    requests,
    /// Responses whose status line was parsed.
    responses,
    /// Directions whose first bytes were not HTTP; they are not inspected.
    not_http,
    /// A start line after the first that did not parse; the direction stops being inspected.
    bad_start_line,
    /// A request line whose URI contains spaces (kept whole; the protocol is the last field).
    uri_with_space,
    /// A start line whose protocol is not `HTTP/<digit>.<digit>`.
    unknown_protocol,
    /// A status code that is not three digits.
    bad_status_code,
    /// A header line without a colon (kept in the raw header only).
    header_without_colon,
    /// A folded continuation line before any header.
    fold_without_header,
    /// A Content-Length that is not a number; the direction stops being inspected.
    bad_content_length,
    /// Two Content-Length headers with different values (the first is used).
    conflicting_content_length,
    /// Both Transfer-Encoding: chunked and Content-Length (chunked is used).
    chunked_and_content_length,
    /// A Content-Encoding other than gzip or deflate (the body is kept as sent).
    unknown_content_encoding,
    /// Chunk framing errors; the direction stops being inspected.
    bad_chunk_size,
    chunk_size_too_long,
    missing_chunk_end,
    /// URIs that were double percent-encoded.
    uri_double_encoding,
    /// URIs with IIS `%u` escapes.
    uri_percent_u,
    /// URIs with a `%` not starting a valid escape.
    uri_bad_escape,
    /// URIs whose `/../` went above the root.
    uri_above_root,
    /// URIs with backslashes.
    uri_backslash,
    /// Limit hits: start line longer than `max-start-line`.
    start_line_too_long,
    /// Limit hits: header block larger than `max-header-bytes`.
    headers_too_long,
    /// Limit hits: request body longer than `request-body-depth` (the rest is not kept).
    request_body_depth_reached,
    /// Limit hits: response body longer than `response-body-depth` after decompression.
    response_body_depth_reached,
    /// Limit hits: compressed body larger than `compressed-depth`.
    compressed_depth_reached,
    /// Response bodies whose decompression failed (what was decoded before stays).
    decompress_error,
    /// Limit hits: more pipelined requests than `max-pending-requests` outstanding.
    pending_requests_overflow,
    /// CONNECT or protocol upgrades after which inspection stopped.
    tunnels,
}

/// One HTTP event as rule detection reads it ([`nfips_rules::ruleset::RuleSet::detect_app`]):
/// the transaction's buffers as seen from `direction`, which of them the event updated, and the
/// packet's payload as [`Buffer::Packet`] (new data with every event).
pub struct HttpEventView<'a> {
    pub state: &'a HttpState,
    pub direction: Direction,
    pub events: &'a HttpEvents,
    pub packet: &'a [u8],
}

impl AppBuffers for HttpEventView<'_> {
    fn get(&self, buffer: Buffer) -> Option<&[u8]> {
        match buffer {
            Buffer::Packet => Some(self.packet),
            // DNS and TLS buffers are other parsers' (rules reading them are candidates too).
            _ if !buffer.is_http() => None,
            _ => self.state.transaction_buffer(self.direction, buffer),
        }
    }

    fn updated(&self, buffer: Buffer) -> bool {
        buffer == Buffer::Packet || self.events.updated.contains(buffer)
    }
}

/// The per-worker side of HTTP inspection: settings, counters and scratch space.
#[derive(Debug, Default)]
pub struct HttpInspector {
    pub settings: HttpSettings,
    pub counters: HttpCounters,
    scratch: UriScratch,
}

impl HttpInspector {
    pub fn new(settings: HttpSettings) -> Self {
        HttpInspector {
            settings,
            counters: HttpCounters::default(),
            scratch: UriScratch::default(),
        }
    }

    /// Parses `input` (the next stream bytes of `direction`) up to the next event; returns the
    /// number of bytes consumed. Call again with the rest until everything is consumed; `events`
    /// is cleared first and says what became ready.
    pub fn feed(
        &mut self,
        state: &mut HttpState,
        direction: Direction,
        input: &[u8],
        events: &mut HttpEvents,
    ) -> usize {
        events.clear();
        state.feed(self, direction, input, events)
    }

    /// The connection closed in `direction`: a body delimited by the close ends now.
    pub fn finish(&mut self, state: &mut HttpState, direction: Direction, events: &mut HttpEvents) {
        events.clear();
        state.finish(direction, events);
    }
}
