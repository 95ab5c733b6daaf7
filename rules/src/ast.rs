//! The resolved form of one rule: what the loader produces and the compiler consumes.
//!
//! Everything here is already checked and resolved: variables are expanded, addresses and ports
//! are sets, option arguments are typed, pcre bodies are compiled. Nothing here knows about
//! automatons or packets; see [`crate::ruleset`] for that. Not a lossless syntax tree: the
//! original text is kept in [`Rule::text`] for reports.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

/// What a rule does when it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Alert,
    /// Snort's `log`: recorded like an alert, never changes the verdict.
    Log,
    Pass,
    /// `drop`, and Snort 2.9's `block`.
    Drop,
    /// `sdrop` / `sblock`: drop without an alert record.
    Sdrop,
    /// `reject` (both ends), `rejectsrc`, `rejectdst`, `rejectboth`.
    Reject(RejectTarget),
}

/// Which end(s) a reject sends its reset (or ICMP unreachable) to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectTarget {
    Both,
    Src,
    Dst,
}

/// Header protocol. Application-layer names load as their transport protocol with
/// [`Rule::app_proto`] set (http, tls/ssl, dns, ftp, smtp, smb, ssh); the others are reported
/// unsupported by the loader and never reach a [`Rule`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Ip,
    Tcp,
    Udp,
    Icmp,
    /// TCP or UDP, ports apply (Suricata's `dns`, which runs over both).
    TcpOrUdp,
}

/// The application-layer protocol a rule's header names (`alert tls ...`) and the engine
/// detected on a flow: a rule with one matches only on flows detected as that protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppProto {
    Http,
    /// `tls` and `ssl`.
    Tls,
    Dns,
    Ftp,
    Smtp,
    Smb,
    Ssh,
}

impl AppProto {
    /// Every protocol, in declaration order.
    pub const ALL: [AppProto; 7] = [
        AppProto::Http,
        AppProto::Tls,
        AppProto::Dns,
        AppProto::Ftp,
        AppProto::Smtp,
        AppProto::Smb,
        AppProto::Ssh,
    ];

    /// The protocol of a rule header word (`ssl` is `tls`), with the transport it runs over.
    pub fn from_header_word(word: &str) -> Option<(AppProto, Protocol)> {
        Some(match word {
            "http" => (AppProto::Http, Protocol::Tcp),
            "tls" | "ssl" => (AppProto::Tls, Protocol::Tcp),
            "dns" => (AppProto::Dns, Protocol::TcpOrUdp),
            "ftp" => (AppProto::Ftp, Protocol::Tcp),
            "smtp" => (AppProto::Smtp, Protocol::Tcp),
            "smb" => (AppProto::Smb, Protocol::Tcp),
            "ssh" => (AppProto::Ssh, Protocol::Tcp),
            _ => return None,
        })
    }

    /// Suricata's name (EVE's `app_proto`).
    pub fn name(self) -> &'static str {
        match self {
            AppProto::Http => "http",
            AppProto::Tls => "tls",
            AppProto::Dns => "dns",
            AppProto::Ftp => "ftp",
            AppProto::Smtp => "smtp",
            AppProto::Smb => "smb",
            AppProto::Ssh => "ssh",
        }
    }
}

impl fmt::Display for AppProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An address set with Snort's semantics: an address matches when it is in any `include` net
/// (or `include` is empty, meaning any) and in no `exclude` net. Nested lists and negated lists
/// are flattened into this form by the loader (negating a list flips the sign of its members).
/// The lists are shared: the loader gives every rule that resolves to the same list the same
/// allocation (ET Open with a 40-prefix `$HOME_NET`: 25 MB less).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddrSet {
    pub include: Arc<[IpNet]>,
    pub exclude: Arc<[IpNet]>,
}

impl AddrSet {
    pub fn any() -> Self {
        Self::default()
    }

    pub fn is_any(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        (self.include.is_empty() || self.include.iter().any(|net| net.contains(&addr)))
            && !self.exclude.iter().any(|net| net.contains(&addr))
    }
}

/// A port set with the same include/exclude semantics as [`AddrSet`]; ranges are inclusive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSet {
    pub include: Vec<(u16, u16)>,
    pub exclude: Vec<(u16, u16)>,
}

impl PortSet {
    pub fn any() -> Self {
        Self::default()
    }

    pub fn is_any(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    pub fn contains(&self, port: u16) -> bool {
        let within = |&(lo, hi): &(u16, u16)| lo <= port && port <= hi;
        (self.include.is_empty() || self.include.iter().any(within))
            && !self.exclude.iter().any(within)
    }
}

/// `->` or `<>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    OneWay,
    Both,
}

/// Where a rule came from, for every message about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One loaded, supported rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Where the rule was written (its text is not kept: ~10 MB for ET Open).
    pub origin: Origin,
    pub action: Action,
    pub protocol: Protocol,
    pub src: AddrSet,
    pub src_ports: PortSet,
    pub direction: Direction,
    pub dst: AddrSet,
    pub dst_ports: PortSet,
    /// Defaults: gid 1, rev 1 when absent. A rule without `sid` is an error.
    pub gid: u32,
    pub sid: u32,
    pub rev: u32,
    pub msg: String,
    pub classtype: Option<String>,
    /// `priority:` if given, else the classtype's priority, else 3 (Snort's default).
    pub priority: u32,
    /// `(system, id)`; the strings are shared between rules (see `parse::ParseCache`).
    pub references: Vec<(Arc<str>, Arc<str>)>,
    /// `metadata:` entries (`key value`), shared between rules.
    pub metadata: Vec<Arc<str>>,
    /// Payload and header tests, in rule order (order matters for relative options).
    pub detection: Vec<DetectOption>,
    pub flow: FlowOptions,
    /// Flowbits operations in rule order: checks are tests, set/unset/toggle apply on match.
    pub flowbits: Vec<Flowbits>,
    pub threshold: Option<Threshold>,
    pub detection_filter: Option<DetectionFilter>,
    pub sticky_drop: Option<StickyDrop>,
    /// Header protocol `http`, `tls`, `dns` ... (Suricata): the rule applies only on flows
    /// where that protocol was detected.
    pub app_proto: Option<AppProto>,
}

impl Rule {
    /// Whether the rule is matched by app-layer detection
    /// ([`crate::ruleset::RuleSet::detect_app`]) rather than on packets: it reads an app-layer
    /// buffer (HTTP, `dns.query`, `tls.sni` ...) or says `alert http`.
    pub fn reads_app_buffers(&self) -> bool {
        self.requires_http() || self.first_app_buffer().is_some()
    }

    /// Header protocol `http`.
    pub fn requires_http(&self) -> bool {
        self.app_proto == Some(AppProto::Http)
    }

    /// The first detection option that inspects an HTTP buffer, if any.
    pub fn first_http_buffer(&self) -> Option<Buffer> {
        self.detection
            .iter()
            .map(DetectOption::buffer)
            .find(|b| b.is_http())
    }

    /// The first detection option that inspects any app-layer buffer, if any.
    pub fn first_app_buffer(&self) -> Option<Buffer> {
        self.detection
            .iter()
            .map(DetectOption::buffer)
            .find(|b| *b != Buffer::Packet)
    }

    /// `flowbits:noalert` anywhere in the rule.
    pub fn is_noalert(&self) -> bool {
        self.flowbits
            .iter()
            .any(|fb| fb.command == FlowbitsCommand::NoAlert)
    }
}

/// A byte_extract variable or a literal, as accepted by offset/depth/distance/within and the
/// byte_* options. `Var(i)` is the i-th byte_extract of the rule (0-based, in rule order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    Literal(i64),
    Var(usize),
}

/// A payload or header test.
#[derive(Clone, Debug)]
pub enum DetectOption {
    Content(Content),
    Pcre(Pcre),
    IsDataAt(IsDataAt),
    ByteTest(ByteTest),
    ByteJump(ByteJump),
    ByteExtract(ByteExtract),
    /// Payload size of the packet (never of a reassembled buffer).
    Dsize(IntCmp),
    Flags(TcpFlags),
    Ttl(IntCmp),
    Tos(IntCmp),
    IpId(IntCmp),
    /// IP option present (`ipopts:rr|eol|nop|ts|sec|esec|lsrr|lsrre|ssrr|satid|any`).
    IpOpts(IpOpt),
    Fragbits(Fragbits),
    IpProto(IntCmp),
    SameIp,
    Itype(IntCmp),
    Icode(IntCmp),
    IcmpId(u16),
    IcmpSeq(u16),
    TcpSeq(u32),
    TcpAck(u32),
    /// `window:[!]N`.
    Window {
        value: u16,
        negated: bool,
    },
    /// `urilen`: a test of the HTTP URI buffer's length.
    UriLen(UriLen),
    /// `stream-event:<name>`: the stream tracker raised this anomaly on the packet; the bit of
    /// [`crate::PacketContext::stream_events`] (see [`crate::stream_events`]).
    StreamEvent(u8),
}

impl DetectOption {
    /// The buffer this option inspects ([`Buffer::Packet`] for header tests).
    pub fn buffer(&self) -> Buffer {
        match self {
            DetectOption::Content(c) => c.buffer,
            DetectOption::Pcre(p) => p.buffer,
            DetectOption::IsDataAt(d) => d.buffer,
            DetectOption::ByteTest(b) => b.buffer,
            DetectOption::ByteJump(b) => b.buffer,
            DetectOption::ByteExtract(b) => b.buffer,
            DetectOption::UriLen(u) if u.raw => Buffer::HttpRawUri,
            DetectOption::UriLen(_) => Buffer::HttpUri,
            _ => Buffer::Packet,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastPattern {
    /// Not marked: the compiler may still choose this content (the longest one).
    No,
    Yes,
    /// `fast_pattern:only`: the automaton hit is the whole test.
    Only,
    /// `fast_pattern:offset,length`: this slice of the pattern goes into the automaton.
    Slice {
        offset: usize,
        length: usize,
    },
}

/// `content` with its modifiers.
#[derive(Clone, Debug)]
pub struct Content {
    /// Bytes after `|hex|` and escape decoding.
    pub pattern: Vec<u8>,
    pub negated: bool,
    pub nocase: bool,
    pub rawbytes: bool,
    pub offset: Option<Value>,
    pub depth: Option<Value>,
    pub distance: Option<Value>,
    pub within: Option<Value>,
    pub fast_pattern: FastPattern,
    /// The buffer searched (`http_uri`, a sticky buffer ...); [`Buffer::Packet`] by default.
    pub buffer: Buffer,
}

impl Content {
    /// Distance or within makes a content relative to the previous match.
    pub fn is_relative(&self) -> bool {
        self.distance.is_some() || self.within.is_some()
    }
}

/// The buffer a content, pcre or isdataat inspects: the packet (or stream) payload, or one of the
/// HTTP buffers the engine's HTTP parser fills. Request buffers exist on the to-server side,
/// `HttpResponseLine`, `HttpStatCode`, `HttpStatMsg` and `FileData` on the to-client side; the
/// header, cookie and protocol buffers on both (for responses the cookie is `Set-Cookie`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Buffer {
    #[default]
    Packet,
    HttpMethod,
    HttpUri,
    HttpRawUri,
    HttpRequestLine,
    HttpProtocol,
    HttpHeader,
    HttpRawHeader,
    HttpHeaderNames,
    HttpHost,
    HttpRawHost,
    HttpUserAgent,
    HttpCookie,
    HttpRawCookie,
    HttpClientBody,
    HttpResponseLine,
    HttpStatCode,
    HttpStatMsg,
    /// The response body after dechunking and decompression (`file_data`, `file.data`).
    FileData,
    /// The start line and the raw headers, each line with CRLF, then CRLF (Suricata's).
    HttpStart,
    /// Values of single headers (Suricata's header sticky buffers); a repeated header's values
    /// are joined with `, `.
    HttpAccept,
    HttpAcceptEnc,
    HttpAcceptLang,
    HttpReferer,
    HttpConnection,
    HttpContentType,
    HttpContentLen,
    HttpServer,
    HttpLocation,
    /// The DNS query name, dotted, without the trailing dot (`dns.query`, `dns_query`).
    DnsQuery,
    /// The TLS ClientHello's server name (`tls.sni`, `tls_sni`).
    TlsSni,
    /// The server certificate's subject DN, `C=US, O=..., CN=...` (`tls.cert_subject`).
    TlsCertSubject,
    /// The server certificate's issuer DN (`tls.cert_issuer`).
    TlsCertIssuer,
}

/// Which message of an HTTP transaction fills a [`Buffer`]: a rule inspecting a response may
/// still test the request's URI (the transaction's), as Snort and Suricata allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferSide {
    Request,
    Response,
    /// The message being inspected (headers, cookies ... exist on both); the packet itself.
    Either,
}

/// How a rule may name a buffer besides its sticky-buffer name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LegacyForm {
    /// A content modifier after the content: `content:"x"; http_uri;`.
    Modifier,
    /// A Suricata 4 sticky keyword before the contents: `http_header_names; content:"x";`.
    Sticky,
}

use LegacyForm::{Modifier, Sticky};

/// `(buffer, sticky-buffer name, legacy name, its form, pcre flag or '\0')`.
#[rustfmt::skip]
const BUFFER_NAMES: &[(Buffer, &str, &str, LegacyForm, char)] = &[
    (Buffer::HttpMethod, "http.method", "http_method", Modifier, 'M'),
    (Buffer::HttpUri, "http.uri", "http_uri", Modifier, 'U'),
    (Buffer::HttpRawUri, "http.uri.raw", "http_raw_uri", Modifier, 'I'),
    (Buffer::HttpRequestLine, "http.request_line", "http_request_line", Sticky, '\0'),
    (Buffer::HttpProtocol, "http.protocol", "http_protocol", Sticky, '\0'),
    (Buffer::HttpHeader, "http.header", "http_header", Modifier, 'H'),
    (Buffer::HttpRawHeader, "http.header.raw", "http_raw_header", Modifier, 'D'),
    (Buffer::HttpHeaderNames, "http.header_names", "http_header_names", Sticky, '\0'),
    (Buffer::HttpHost, "http.host", "http_host", Modifier, 'W'),
    (Buffer::HttpRawHost, "http.host.raw", "http_raw_host", Modifier, 'Z'),
    (Buffer::HttpUserAgent, "http.user_agent", "http_user_agent", Modifier, 'V'),
    (Buffer::HttpCookie, "http.cookie", "http_cookie", Modifier, 'C'),
    (Buffer::HttpRawCookie, "http.cookie.raw", "http_raw_cookie", Modifier, 'K'),
    (Buffer::HttpClientBody, "http.request_body", "http_client_body", Modifier, 'P'),
    (Buffer::HttpResponseLine, "http.response_line", "http_response_line", Sticky, '\0'),
    (Buffer::HttpStatCode, "http.stat_code", "http_stat_code", Modifier, 'S'),
    (Buffer::HttpStatMsg, "http.stat_msg", "http_stat_msg", Modifier, 'Y'),
    (Buffer::FileData, "file.data", "http_server_body", Modifier, '\0'),
    (Buffer::HttpStart, "http.start", "http_start", Sticky, '\0'),
    (Buffer::HttpAccept, "http.accept", "http_accept", Sticky, '\0'),
    (Buffer::HttpAcceptEnc, "http.accept_enc", "http_accept_enc", Sticky, '\0'),
    (Buffer::HttpAcceptLang, "http.accept_lang", "http_accept_lang", Sticky, '\0'),
    (Buffer::HttpReferer, "http.referer", "http_referer", Sticky, '\0'),
    (Buffer::HttpConnection, "http.connection", "http_connection", Sticky, '\0'),
    (Buffer::HttpContentType, "http.content_type", "http_content_type", Sticky, '\0'),
    (Buffer::HttpContentLen, "http.content_len", "http_content_len", Sticky, '\0'),
    (Buffer::HttpServer, "http.server", "http_server", Sticky, '\0'),
    (Buffer::HttpLocation, "http.location", "http_location", Sticky, '\0'),
    (Buffer::DnsQuery, "dns.query", "dns_query", Sticky, '\0'),
    (Buffer::TlsSni, "tls.sni", "tls_sni", Sticky, '\0'),
    (Buffer::TlsCertSubject, "tls.cert_subject", "tls_cert_subject", Sticky, '\0'),
    (Buffer::TlsCertIssuer, "tls.cert_issuer", "tls_cert_issuer", Sticky, '\0'),
];

impl Buffer {
    /// Every HTTP buffer, in declaration order.
    pub const HTTP: [Buffer; 28] = [
        Buffer::HttpMethod,
        Buffer::HttpUri,
        Buffer::HttpRawUri,
        Buffer::HttpRequestLine,
        Buffer::HttpProtocol,
        Buffer::HttpHeader,
        Buffer::HttpRawHeader,
        Buffer::HttpHeaderNames,
        Buffer::HttpHost,
        Buffer::HttpRawHost,
        Buffer::HttpUserAgent,
        Buffer::HttpCookie,
        Buffer::HttpRawCookie,
        Buffer::HttpClientBody,
        Buffer::HttpResponseLine,
        Buffer::HttpStatCode,
        Buffer::HttpStatMsg,
        Buffer::FileData,
        Buffer::HttpStart,
        Buffer::HttpAccept,
        Buffer::HttpAcceptEnc,
        Buffer::HttpAcceptLang,
        Buffer::HttpReferer,
        Buffer::HttpConnection,
        Buffer::HttpContentType,
        Buffer::HttpContentLen,
        Buffer::HttpServer,
        Buffer::HttpLocation,
    ];

    /// The app-layer buffers that are not HTTP's.
    pub const OTHER_APP: [Buffer; 4] = [
        Buffer::DnsQuery,
        Buffer::TlsSni,
        Buffer::TlsCertSubject,
        Buffer::TlsCertIssuer,
    ];

    /// An HTTP buffer (filled by the HTTP parser).
    pub fn is_http(self) -> bool {
        self.app_proto() == Some(AppProto::Http)
    }

    /// The protocol whose parser fills this buffer; None for the packet.
    pub fn app_proto(self) -> Option<AppProto> {
        match self {
            Buffer::Packet => None,
            Buffer::DnsQuery => Some(AppProto::Dns),
            Buffer::TlsSni | Buffer::TlsCertSubject | Buffer::TlsCertIssuer => Some(AppProto::Tls),
            _ => Some(AppProto::Http),
        }
    }

    /// Which message of an HTTP transaction fills this buffer.
    pub fn side(self) -> BufferSide {
        match self {
            Buffer::Packet
            | Buffer::HttpProtocol
            | Buffer::HttpHeader
            | Buffer::HttpRawHeader
            | Buffer::HttpHeaderNames
            | Buffer::HttpCookie
            | Buffer::HttpRawCookie
            | Buffer::HttpStart
            | Buffer::HttpConnection
            | Buffer::HttpContentType
            | Buffer::HttpContentLen => BufferSide::Either,
            Buffer::HttpMethod
            | Buffer::HttpUri
            | Buffer::HttpRawUri
            | Buffer::HttpRequestLine
            | Buffer::HttpHost
            | Buffer::HttpRawHost
            | Buffer::HttpUserAgent
            | Buffer::HttpClientBody
            | Buffer::HttpAccept
            | Buffer::HttpAcceptEnc
            | Buffer::HttpAcceptLang
            | Buffer::HttpReferer
            | Buffer::DnsQuery
            | Buffer::TlsSni => BufferSide::Request,
            Buffer::HttpResponseLine
            | Buffer::HttpStatCode
            | Buffer::HttpStatMsg
            | Buffer::FileData
            | Buffer::HttpServer
            | Buffer::HttpLocation
            | Buffer::TlsCertSubject
            | Buffer::TlsCertIssuer => BufferSide::Response,
        }
    }

    fn names(self) -> Option<&'static (Buffer, &'static str, &'static str, LegacyForm, char)> {
        BUFFER_NAMES.iter().find(|(buffer, ..)| *buffer == self)
    }

    /// Suricata's sticky-buffer name (`http.uri`, `file.data`); `pkt_data` for the packet.
    pub fn sticky_name(self) -> &'static str {
        self.names().map_or("pkt_data", |(_, name, ..)| name)
    }

    /// The older keyword naming this buffer (`http_uri`, `http_header_names`); `pkt_data` for
    /// the packet.
    pub fn legacy_name(self) -> &'static str {
        self.names().map_or("pkt_data", |(_, _, name, ..)| name)
    }

    /// The buffer of a sticky-buffer keyword: Suricata's `http.uri` ..., Snort's `file_data`,
    /// and Suricata 4's `http_header_names`, `http_request_line` ... (sticky in that version).
    pub fn from_sticky(keyword: &str) -> Option<Buffer> {
        match keyword {
            "file.data" | "file_data" | "http.response_body" => Some(Buffer::FileData),
            _ => BUFFER_NAMES
                .iter()
                .find(|(_, sticky, legacy, form, _)| {
                    *sticky == keyword || (*form == Sticky && *legacy == keyword)
                })
                .map(|(b, ..)| *b),
        }
    }

    /// The buffer of a content modifier (`http_uri`, `http_client_body` ...).
    pub fn from_modifier(keyword: &str) -> Option<Buffer> {
        BUFFER_NAMES
            .iter()
            .find(|(_, _, legacy, form, _)| *form == Modifier && *legacy == keyword)
            .map(|(b, ..)| *b)
    }

    /// The buffer of a pcre flag (Snort's `U I H D C K M S Y P`, Suricata's `V W Z`).
    pub fn from_pcre_flag(flag: char) -> Option<Buffer> {
        BUFFER_NAMES
            .iter()
            .find(|(.., f)| *f == flag && flag != '\0')
            .map(|(b, ..)| *b)
    }
}

impl fmt::Display for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sticky_name())
    }
}

/// `urilen`: the URI's length compared with a number or range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UriLen {
    pub cmp: IntCmp,
    /// `,raw`: the raw URI's length; the normalised URI's otherwise.
    pub raw: bool,
}

/// A compiled `pcre` option.
#[derive(Clone, Debug)]
pub struct Pcre {
    /// The option's argument as written, e.g. `/foo\d+/Ri`.
    pub source: String,
    /// Compiled with [`crate::pcre::Regex::new`] (pcre2 with JIT and match limits).
    pub regex: Arc<crate::pcre::Regex>,
    pub negated: bool,
    /// `R`: search from the end of the previous match.
    pub relative: bool,
    /// `B`: raw bytes (no effect until normalised buffers exist).
    pub rawbytes: bool,
    /// `O`: ignore configured match limits.
    pub override_limits: bool,
    /// The buffer searched (flags `U I H D C K M S Y P V W Z`, or a sticky buffer).
    pub buffer: Buffer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsDataAt {
    pub offset: Value,
    pub relative: bool,
    pub rawbytes: bool,
    pub negated: bool,
    /// The buffer tested (a sticky buffer, or the previous match's buffer when relative).
    pub buffer: Buffer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    Big,
    Little,
}

/// `string,hex|dec|oct`: the bytes are ASCII digits in this base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberBase {
    Hex,
    Dec,
    Oct,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteTestOp {
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    /// `&`: (value & operand) != 0
    And,
    /// `^`: (value ^ operand) != 0
    Xor,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ByteTest {
    pub bytes: u8,
    pub negated: bool,
    pub op: ByteTestOp,
    pub value: Value,
    pub offset: Value,
    pub relative: bool,
    pub endian: Endian,
    pub string: Option<NumberBase>,
    pub bitmask: Option<u32>,
    /// The buffer read (the sticky buffer in force; the packet otherwise).
    pub buffer: Buffer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ByteJump {
    pub bytes: u8,
    pub offset: Value,
    pub relative: bool,
    pub multiplier: u32,
    pub endian: Endian,
    pub string: Option<NumberBase>,
    pub align: bool,
    pub from_beginning: bool,
    pub from_end: bool,
    pub post_offset: i64,
    pub bitmask: Option<u32>,
    /// The buffer read (the sticky buffer in force; the packet otherwise).
    pub buffer: Buffer,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ByteExtract {
    pub bytes: u8,
    pub offset: i64,
    /// The variable's name; later options refer to it as `Value::Var(index)`.
    pub name: String,
    pub relative: bool,
    pub multiplier: u32,
    pub endian: Endian,
    pub string: Option<NumberBase>,
    pub align: u8,
    pub bitmask: Option<u32>,
    /// The buffer read (the sticky buffer in force; the packet otherwise). All byte_extract
    /// options of a rule read one buffer (their variables are numbered within it).
    pub buffer: Buffer,
}

/// A numeric comparison as used by dsize, ttl, tos, id, ip_proto, itype, icode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntCmp {
    Eq(u64),
    Ne(u64),
    Lt(u64),
    Gt(u64),
    Le(u64),
    Ge(u64),
    /// `a<>b`: strictly between (Snort's dsize/itype semantics).
    Between(u64, u64),
    /// `a<=>b`: inclusive range.
    Within(u64, u64),
}

impl IntCmp {
    pub fn matches(self, v: u64) -> bool {
        match self {
            IntCmp::Eq(x) => v == x,
            IntCmp::Ne(x) => v != x,
            IntCmp::Lt(x) => v < x,
            IntCmp::Gt(x) => v > x,
            IntCmp::Le(x) => v <= x,
            IntCmp::Ge(x) => v >= x,
            IntCmp::Between(a, b) => a < v && v < b,
            IntCmp::Within(a, b) => a <= v && v <= b,
        }
    }
}

/// `flags:[modifier]<flags>[,<mask>]`. Bits use the TCP header layout (FIN=0x01 ... CWR=0x80);
/// Snort's `1`/`C` is CWR and `2`/`E` is ECE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpFlags {
    pub flags: u8,
    pub mask: u8,
    pub mode: FlagsMode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagsMode {
    /// No modifier: exactly these flags (after masking).
    Exact,
    /// `+`: at least these.
    All,
    /// `*`: any of these.
    Any,
    /// `!`: not exactly these.
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpOpt {
    Rr,
    Eol,
    Nop,
    Ts,
    Sec,
    Esec,
    Lsrr,
    Lsrre,
    Ssrr,
    Satid,
    Any,
}

/// `fragbits:[+*!]<MDR>`; bits: M=more fragments (0x1), D=don't fragment (0x2), R=reserved (0x4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragbits {
    pub bits: u8,
    pub mode: FlagsMode,
}

/// `flow:` keywords, merged from all `flow` options of the rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowOptions {
    /// `established` = Some(true), `not_established` = Some(false).
    pub established: Option<bool>,
    pub stateless: bool,
    /// `to_server`/`from_client` = Some(true), `to_client`/`from_server` = Some(false).
    pub to_server: Option<bool>,
    /// `only_stream` = Some(true): reassembled buffers only; `no_stream` = Some(false): packets only.
    pub stream: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowbitsCommand {
    Set,
    Unset,
    Toggle,
    IsSet,
    IsNotSet,
    NoAlert,
}

/// How several names in one flowbits option combine: `a&b` (all) or `a|b` (any; checks only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitsJoin {
    All,
    Any,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flowbits {
    pub command: FlowbitsCommand,
    /// Empty only for `noalert`.
    pub names: Vec<String>,
    pub join: BitsJoin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    BySrc,
    ByDst,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdKind {
    Limit,
    Threshold,
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    pub kind: ThresholdKind,
    pub track: Track,
    pub count: u32,
    pub seconds: u32,
}

/// `detection_filter`: the rule fires only from the (count+1)-th match in `seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DetectionFilter {
    pub track: Track,
    pub count: u32,
    pub seconds: u32,
}

/// Which address a `sticky-drop` blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StickyTarget {
    Src,
    Dst,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StickyDrop {
    pub seconds: u32,
    pub target: StickyTarget,
}
