//! One rule's text -> a resolved [`ast::Rule`], or why not: an error message or the keyword that
//! makes it unsupported.
//!
//! Follows Snort 2.9's reading of the header and of every option it lists in issue 2 (content
//! and its modifiers, pcre, byte_*, flow, flowbits, thresholds, header tests, stickydrop).
//! Options are processed in order; the first unsupported keyword stops the rule (it is never
//! half-applied). Not a file reader: lines, continuations, includes and variables definitions
//! live in [`crate::load`]; the variable grammar in [`crate::vars`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::ast::{self, *};
use crate::classification::Classifications;
use crate::pcre::{PcreFlags, Regex};
use crate::vars::{parse_addr_expr, parse_port_expr, Vars};

/// Why a rule did not load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Malformed: the message names the option or field.
    Error(String),
    /// Uses a keyword (or protocol) the engine cannot honour yet.
    Unsupported(String),
}

/// A rejected rule: why, and its sid when one could be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub why: Rejection,
    pub sid: Option<u32>,
}

/// What rules of one load share: compiled pcre bodies, and the strings rules repeat
/// (metadata entries, reference systems: ET Open repeats most of them thousands of times).
#[derive(Default)]
pub struct ParseCache {
    pcre: HashMap<(String, u16), Arc<Regex>>,
    strings: HashSet<Arc<str>>,
}

impl ParseCache {
    fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(known) = self.strings.get(text) {
            return Arc::clone(known);
        }
        let interned: Arc<str> = Arc::from(text);
        self.strings.insert(Arc::clone(&interned));
        interned
    }
}

/// What parsing needs besides the text.
pub struct ParseContext<'a> {
    pub vars: &'a mut Vars,
    pub classes: &'a Classifications,
    pub cache: &'a mut ParseCache,
}

/// Header protocols of application layers (Suricata) and pseudo-protocols.
#[rustfmt::skip]
const APP_LAYER_PROTOCOLS: &[&str] = &[
    "http", "http1", "http2", "ftp", "ftp-data", "tls", "ssl", "smb", "dcerpc", "dns", "ssh",
    "smtp", "imap", "pop3", "msn", "modbus", "dnp3", "enip", "cip", "nfs", "ntp", "tftp",
    "ikev2", "ike", "krb5", "dhcp", "snmp", "sip", "rfb", "mqtt", "rdp", "telnet",
    "bittorrent-dht", "quic", "pgsql", "websocket", "ldap", "doh2", "tcp-pkt", "tcp-stream",
    "udp-pkt", "pkthdr", "ipv4", "ipv6", "ip4", "ip6", "icmpv4", "icmpv6", "icmp6", "sctp",
    "irc", "jabber", "nntp",
];

/// Parse one rule (continuations already joined; `text` starts with the action).
pub fn parse_rule(text: &str, origin: Origin, ctx: &mut ParseContext) -> Result<Rule, Rejected> {
    let text = text.trim();
    let (header, body) = split_rule(text).map_err(|m| Rejected {
        why: Rejection::Error(m),
        sid: None,
    })?;
    let options = split_options(body).map_err(|m| Rejected {
        why: Rejection::Error(m),
        sid: None,
    })?;
    let sid = find_sid(&options);
    let known_sid = sid.as_ref().and_then(|s| s.as_ref().ok().copied());
    let reject = |why: Rejection| Rejected {
        why,
        sid: known_sid,
    };
    let sid_value = match sid {
        None => return Err(reject(Rejection::Error("rule has no sid".to_string()))),
        Some(Err(message)) => return Err(reject(Rejection::Error(message))),
        Some(Ok(sid)) => sid,
    };
    let preprocessor = preprocessor_event(header, &options, sid_value).map_err(reject)?;
    let header = match preprocessor {
        Some(_) => {
            let action = header.trim();
            parse_header(&format!("{action} tcp any any -> any any"), ctx.vars)
        }
        None => parse_header(header, ctx.vars),
    }
    .map_err(reject)?;
    let mut builder = RuleBuilder::new(header, sid_value);
    if let Some(bit) = preprocessor {
        builder.detection.push(DetectOption::StreamEvent(bit));
    }
    for (keyword, arg) in &options {
        builder
            .option(keyword, arg.as_deref(), ctx)
            .map_err(reject)?;
    }
    builder.finish(origin, ctx.classes).map_err(reject)
}

/// Split `header (options)`.
fn split_rule(text: &str) -> Result<(&str, &str), String> {
    let Some(open) = text.find('(') else {
        return Err("missing option list: a rule ends with `(msg:...; sid:...;)`".to_string());
    };
    let Some(close) = text.rfind(')') else {
        return Err("option list not closed: missing `)` at the end of the rule".to_string());
    };
    if close < open || !text[close + 1..].trim().is_empty() {
        return Err(format!(
            "text after the option list (column {}): a rule must end with `)`",
            close + 2
        ));
    }
    Ok((&text[..open], &text[open + 1..close]))
}

/// A raw option: keyword and the text after its first `:`.
type RawOption = (String, Option<String>);

/// Split the option list on `;` not escaped with `\`, as Snort 2.9 does (quotes do not protect
/// a `;`: Snort splits first, so a pcre may contain a bare `"`).
fn split_options(body: &str) -> Result<Vec<RawOption>, String> {
    let mut options = Vec::new();
    let mut start = 0;
    // The byte after a backslash is skipped, escaped or not.
    let mut skip_until = 0;
    for index in memchr::memchr2_iter(b';', b'\\', body.as_bytes()) {
        if index < skip_until {
            continue;
        }
        if body.as_bytes()[index] == b'\\' {
            skip_until = index + 2;
            continue;
        }
        push_option(&body[start..index], &mut options)?;
        start = index + 1;
    }
    if !body[start..].trim().is_empty() {
        return Err(format!(
            "option `{}` is not terminated with `;`",
            body[start..].trim()
        ));
    }
    Ok(options)
}

fn push_option(piece: &str, options: &mut Vec<RawOption>) -> Result<(), String> {
    let piece = piece.trim();
    if piece.is_empty() {
        return Ok(());
    }
    let (keyword, arg) = match piece.split_once(':') {
        Some((keyword, arg)) => (keyword.trim(), Some(arg.trim().to_string())),
        None => (piece, None),
    };
    if keyword.is_empty() || keyword.contains(char::is_whitespace) {
        return Err(format!(
            "bad option `{piece}`: expected `keyword[:arguments];`"
        ));
    }
    options.push((keyword.to_ascii_lowercase(), arg));
    Ok(())
}

/// The sid, found first so every later message can carry it.
fn find_sid(options: &[RawOption]) -> Option<Result<u32, String>> {
    let (_, arg) = options.iter().rev().find(|(keyword, _)| keyword == "sid")?;
    Some(parse_u32_arg("sid", arg.as_deref()))
}

struct Header {
    action: Action,
    protocol: Protocol,
    /// Header protocol `http`, `tls`, `dns` ...
    app_proto: Option<AppProto>,
    src: AddrSet,
    src_ports: PortSet,
    direction: Direction,
    dst: AddrSet,
    dst_ports: PortSet,
}

/// Split the header on whitespace outside `[...]`.
fn header_tokens(header: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut depth = 0usize;
    let mut start = None;
    for (index, c) in header.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c.is_whitespace() && depth == 0 {
            if let Some(s) = start.take() {
                tokens.push(&header[s..index]);
            }
        } else if start.is_none() {
            start = Some(index);
        }
    }
    if let Some(s) = start {
        tokens.push(&header[s..]);
    }
    tokens
}

fn parse_action(word: &str) -> Result<Action, Rejection> {
    Ok(match word {
        "alert" => Action::Alert,
        "log" => Action::Log,
        "pass" => Action::Pass,
        "drop" | "block" => Action::Drop,
        "sdrop" | "sblock" => Action::Sdrop,
        "reject" | "rejectboth" => Action::Reject(RejectTarget::Both),
        "rejectsrc" => Action::Reject(RejectTarget::Src),
        "rejectdst" => Action::Reject(RejectTarget::Dst),
        "activate" | "dynamic" => return Err(Rejection::Unsupported(word.to_string())),
        _ => return Err(Rejection::Error(format!("unknown rule action `{word}`"))),
    })
}

fn parse_header(header: &str, vars: &mut Vars) -> Result<Header, Rejection> {
    let tokens = header_tokens(header);
    let [action, protocol, src, src_ports, direction, dst, dst_ports] = tokens.as_slice() else {
        return Err(Rejection::Error(format!(
            "header `{}` has {} fields; expected `action proto src_addr src_port -> dst_addr dst_port`",
            header.trim(),
            tokens.len()
        )));
    };
    let action = parse_action(action)?;
    let lower = protocol.to_ascii_lowercase();
    let app_proto = AppProto::from_header_word(&lower);
    let protocol = match lower.as_str() {
        "ip" => Protocol::Ip,
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "icmp" => Protocol::Icmp,
        // Suricata's `http`, `tls`, `dns` ...: their transport, on flows where the engine
        // detected that protocol.
        _ if app_proto.is_some() => app_proto.map_or(Protocol::Tcp, |(_, transport)| transport),
        p if APP_LAYER_PROTOCOLS.contains(&p) => return Err(Rejection::Unsupported(lower)),
        _ => {
            return Err(Rejection::Error(format!(
                "unknown protocol `{protocol}` (ip, tcp, udp or icmp)"
            )))
        }
    };
    let direction = match *direction {
        "->" => Direction::OneWay,
        "<>" => Direction::Both,
        other => {
            return Err(Rejection::Error(format!(
                "bad direction `{other}` (-> or <>)"
            )))
        }
    };
    let mut addr = |field: &str, text: &str| -> Result<AddrSet, Rejection> {
        let expr = parse_addr_expr(text).map_err(|m| Rejection::Error(format!("{field}: {m}")))?;
        vars.resolve_addr(&expr)
            .map_err(|m| Rejection::Error(format!("{field} `{text}`: {m}")))
    };
    let src = addr("source address", src)?;
    let dst = addr("destination address", dst)?;
    let mut ports = |field: &str, text: &str| -> Result<PortSet, Rejection> {
        let expr = parse_port_expr(text).map_err(|m| Rejection::Error(format!("{field}: {m}")))?;
        vars.resolve_ports(&expr)
            .map_err(|m| Rejection::Error(format!("{field} `{text}`: {m}")))
    };
    let src_ports = ports("source port", src_ports)?;
    let dst_ports = ports("destination port", dst_ports)?;
    Ok(Header {
        action,
        protocol,
        app_proto: app_proto.map(|(app, _)| app),
        src,
        src_ports,
        direction,
        dst,
        dst_ports,
    })
}

fn err<T>(message: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection::Error(message.into()))
}

fn unsupported<T>(keyword: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection::Unsupported(keyword.into()))
}

/// Snort 2.9 preprocessor rules have no header (`alert ( msg:...; sid:N; gid:G; )`). Returns
/// the stream event bit of a gid 129 one nfips raises, `None` for an ordinary rule; other
/// generators and sids are unsupported (named with gid and sid).
fn preprocessor_event(
    header: &str,
    options: &[RawOption],
    sid: u32,
) -> Result<Option<u8>, Rejection> {
    if header.split_whitespace().count() != 1 {
        return Ok(None);
    }
    let gid = options
        .iter()
        .find(|(keyword, _)| keyword == "gid")
        .map(|(keyword, arg)| parse_u32_arg(keyword, arg.as_deref()))
        .transpose()
        .map_err(Rejection::Error)?;
    match gid {
        Some(crate::stream_events::STREAM_GID) => {
            match crate::stream_events::bit_of_gid129_sid(sid) {
                Some(bit) => Ok(Some(bit)),
                None => unsupported(format!("preprocessor rule gid:129 sid:{sid}")),
            }
        }
        Some(gid) => unsupported(format!("preprocessor rule gid:{gid}")),
        None => err("rule header missing: only Snort preprocessor rules (gid:129) may omit it"),
    }
}

/// `stream-event:<name>` → its bit. A Suricata event nfips never raises is unsupported; an
/// unknown name is an error naming it.
fn parse_stream_event(text: &str) -> Result<u8, Rejection> {
    let name = text.trim();
    if let Some(bit) = crate::stream_events::bit_of(name) {
        return Ok(bit);
    }
    if crate::stream_events::is_suricata_only(name) {
        return unsupported(format!("stream-event:{name}"));
    }
    err(format!(
        "stream-event: unknown event '{name}' (known: {})",
        crate::stream_events::STREAM_EVENT_BITS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The rule being assembled from its options.
struct RuleBuilder {
    header: Header,
    sid: u32,
    gid: u32,
    rev: u32,
    msg: String,
    classtype: Option<String>,
    priority: Option<u32>,
    references: Vec<(Arc<str>, Arc<str>)>,
    metadata: Vec<Arc<str>>,
    detection: Vec<DetectOption>,
    /// Index in `detection` of the content that modifiers attach to.
    last_content: Option<usize>,
    byte_extract_names: Vec<String>,
    flow: FlowOptions,
    flow_seen: bool,
    flowbits: Vec<Flowbits>,
    threshold: Option<Threshold>,
    detection_filter: Option<DetectionFilter>,
    sticky_drop: Option<StickyDrop>,
    /// The sticky buffer in force (`file_data`, `http.uri` ...; `pkt_data` resets it).
    sticky: Buffer,
}

impl RuleBuilder {
    fn new(header: Header, sid: u32) -> Self {
        RuleBuilder {
            sticky: Buffer::Packet,
            header,
            sid,
            gid: 1,
            rev: 1,
            msg: String::new(),
            classtype: None,
            priority: None,
            references: Vec::new(),
            metadata: Vec::new(),
            detection: Vec::new(),
            last_content: None,
            byte_extract_names: Vec::new(),
            flow: FlowOptions::default(),
            flow_seen: false,
            flowbits: Vec::new(),
            threshold: None,
            detection_filter: None,
            sticky_drop: None,
        }
    }

    fn option(
        &mut self,
        keyword: &str,
        arg: Option<&str>,
        ctx: &mut ParseContext,
    ) -> Result<(), Rejection> {
        let need = |arg: Option<&str>| -> Result<String, Rejection> {
            match arg {
                Some(a) if !a.is_empty() => Ok(a.to_string()),
                _ => err(format!("{keyword}: needs an argument")),
            }
        };
        let none = |arg: Option<&str>| -> Result<(), Rejection> {
            match arg {
                Some(a) if !a.is_empty() => {
                    err(format!("{keyword}: takes no argument (got `{a}`)"))
                }
                _ => Ok(()),
            }
        };
        match keyword {
            "msg" => self.msg = unquote(&need(arg)?, keyword)?,
            "sid" => {}
            "gid" => self.gid = parse_u32_arg(keyword, arg).map_err(Rejection::Error)?,
            "rev" => self.rev = parse_u32_arg(keyword, arg).map_err(Rejection::Error)?,
            "priority" => {
                self.priority = Some(parse_u32_arg(keyword, arg).map_err(Rejection::Error)?)
            }
            "classtype" => {
                let name = need(arg)?;
                if ctx.classes.get(&name).is_none() {
                    return err(format!(
                        "classtype: unknown class `{name}` (define it in a classification.config given with --classification)"
                    ));
                }
                self.classtype = Some(name);
            }
            "reference" => {
                let value = need(arg)?;
                let Some((system, id)) = value.split_once(',') else {
                    return err(format!("reference: `{value}` needs `system,id`"));
                };
                let entry = (ctx.cache.intern(system.trim()), ctx.cache.intern(id.trim()));
                self.references.push(entry);
            }
            "metadata" => {
                let value = need(arg)?;
                let entries = value.split(',').map(str::trim).filter(|s| !s.is_empty());
                for entry in entries {
                    self.metadata.push(ctx.cache.intern(entry));
                }
            }
            "content" => self.content(&need(arg)?)?,
            "nocase" => {
                none(arg)?;
                self.modify(keyword, |c| {
                    c.nocase = true;
                    Ok(())
                })?
            }
            "rawbytes" => {
                none(arg)?;
                self.modify(keyword, |c| {
                    c.rawbytes = true;
                    Ok(())
                })?
            }
            "depth" | "offset" | "distance" | "within" => {
                let value = self.value(keyword, &need(arg)?)?;
                self.position(keyword, value)?
            }
            "fast_pattern" => self.fast_pattern(arg)?,
            "pcre" => self.pcre(&need(arg)?, ctx)?,
            "isdataat" => self.isdataat(&need(arg)?)?,
            "byte_test" => self.byte_test(&need(arg)?)?,
            "byte_jump" => self.byte_jump(&need(arg)?)?,
            "byte_extract" => self.byte_extract(&need(arg)?)?,
            "dsize" => self
                .detection
                .push(DetectOption::Dsize(parse_dsize(&need(arg)?)?)),
            "flags" => self
                .detection
                .push(DetectOption::Flags(parse_flags(&need(arg)?)?)),
            "flow" => self.flow(&need(arg)?)?,
            "flowbits" => self.flowbits(&need(arg)?)?,
            "threshold" => {
                if self.threshold.is_some() {
                    return err("threshold: only one threshold per rule");
                }
                self.threshold = Some(parse_threshold(&need(arg)?)?)
            }
            "detection_filter" => {
                if self.detection_filter.is_some() {
                    return err("detection_filter: only one per rule");
                }
                self.detection_filter = Some(parse_detection_filter(&need(arg)?)?)
            }
            "ttl" => self
                .detection
                .push(DetectOption::Ttl(parse_ttl(&need(arg)?)?)),
            "tos" => self.detection.push(DetectOption::Tos(parse_cmp(
                keyword,
                &need(arg)?,
                255,
                &TOS_FORMS,
            )?)),
            "id" => self.detection.push(DetectOption::IpId(parse_cmp(
                keyword,
                &need(arg)?,
                u16::MAX as u64,
                &ID_FORMS,
            )?)),
            "ipopts" => self
                .detection
                .push(DetectOption::IpOpts(parse_ipopts(&need(arg)?)?)),
            "fragbits" => self
                .detection
                .push(DetectOption::Fragbits(parse_fragbits(&need(arg)?)?)),
            "ip_proto" => self
                .detection
                .push(DetectOption::IpProto(parse_ip_proto(&need(arg)?)?)),
            "sameip" => {
                none(arg)?;
                self.detection.push(DetectOption::SameIp)
            }
            "itype" => self.detection.push(DetectOption::Itype(parse_cmp(
                keyword,
                &need(arg)?,
                255,
                &ICMP_FORMS,
            )?)),
            "icode" => self.detection.push(DetectOption::Icode(parse_cmp(
                keyword,
                &need(arg)?,
                255,
                &ICMP_FORMS,
            )?)),
            "icmp_id" => self.detection.push(DetectOption::IcmpId(parse_int(
                keyword,
                &need(arg)?,
                0,
                u16::MAX as i64,
            )? as u16)),
            "icmp_seq" => self.detection.push(DetectOption::IcmpSeq(parse_int(
                keyword,
                &need(arg)?,
                0,
                u16::MAX as i64,
            )? as u16)),
            "seq" => self.detection.push(DetectOption::TcpSeq(parse_int(
                keyword,
                &need(arg)?,
                0,
                u32::MAX as i64,
            )? as u32)),
            "ack" => self.detection.push(DetectOption::TcpAck(parse_int(
                keyword,
                &need(arg)?,
                0,
                u32::MAX as i64,
            )? as u32)),
            "window" => {
                let text = need(arg)?;
                let (negated, number) = match text.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, text.as_str()),
                };
                let value = parse_int(keyword, number, 0, u16::MAX as i64)? as u16;
                self.detection.push(DetectOption::Window { value, negated })
            }
            "stream-event" => {
                let event = parse_stream_event(&need(arg)?)?;
                self.detection.push(DetectOption::StreamEvent(event))
            }
            "sticky-drop" | "stickydrop" => self.sticky_drop(arg)?,
            // pkt_data returns to the packet buffer.
            "pkt_data" => {
                none(arg)?;
                self.sticky = Buffer::Packet;
            }
            "uricontent" => {
                self.content(&need(arg)?)?;
                self.set_content_buffer(keyword, Buffer::HttpUri)?
            }
            "urilen" => {
                let urilen = parse_urilen(&need(arg)?)?;
                self.detection.push(DetectOption::UriLen(urilen))
            }
            // Snort's file_data takes an optional `mime` argument Snort 2.9 ignores for HTTP.
            "file_data" => self.sticky = Buffer::FileData,
            k if Buffer::from_modifier(k).is_some() => {
                none(arg)?;
                let buffer = Buffer::from_modifier(k).unwrap_or_default();
                self.set_content_buffer(keyword, buffer)?
            }
            k if Buffer::from_sticky(k).is_some() => {
                none(arg)?;
                self.sticky = Buffer::from_sticky(k).unwrap_or_default()
            }
            // Everything else needs a buffer, decoder or state the engine lacks (Suricata sticky
            // buffers such as tls.version, ja3.hash, ssl_state, dce_*, asn1, base64_*, tag,
            // ...) or is unknown: unsupported, by name.
            other => return unsupported(other),
        }
        Ok(())
    }

    fn content(&mut self, arg: &str) -> Result<(), Rejection> {
        let (negated, rest) = match arg.strip_prefix('!') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, arg),
        };
        let pattern = decode_content(rest)?;
        self.detection.push(DetectOption::Content(Content {
            pattern,
            negated,
            nocase: false,
            rawbytes: false,
            offset: None,
            depth: None,
            distance: None,
            within: None,
            fast_pattern: FastPattern::No,
            buffer: self.sticky,
        }));
        self.last_content = Some(self.detection.len() - 1);
        Ok(())
    }

    /// A content modifier naming a buffer (`http_uri` ...): the last content searches it.
    fn set_content_buffer(&mut self, keyword: &str, buffer: Buffer) -> Result<(), Rejection> {
        self.modify(keyword, |c| match c.buffer {
            Buffer::Packet => {
                c.buffer = buffer;
                Ok(())
            }
            same if same == buffer => Ok(()),
            other => err(format!(
                "{keyword}: the content already searches {} (one buffer per content)",
                other.legacy_name()
            )),
        })
    }

    /// The buffer of the last content or pcre (what a relative option continues in).
    fn previous_buffer(&self) -> Buffer {
        self.detection
            .iter()
            .rev()
            .find_map(|option| match option {
                DetectOption::Content(c) => Some(c.buffer),
                DetectOption::Pcre(p) => Some(p.buffer),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The buffer a byte_* or isdataat option reads: the sticky buffer, else the previous
    /// match's buffer when relative.
    fn option_buffer(&self, relative: bool) -> Buffer {
        match self.sticky {
            Buffer::Packet if relative => self.previous_buffer(),
            sticky => sticky,
        }
    }

    /// The buffer a byte_test/byte_jump/byte_extract reads ([`Self::option_buffer`]). The
    /// byte_extract variables of a rule are numbered within one buffer's options, so extracting
    /// from two buffers in one rule is unsupported rather than misnumbered.
    fn byte_option_buffer(&self, keyword: &str, relative: bool) -> Result<Buffer, Rejection> {
        let buffer = self.option_buffer(relative);
        let extracts_elsewhere = keyword == "byte_extract"
            && self
                .detection
                .iter()
                .any(|option| matches!(option, DetectOption::ByteExtract(e) if e.buffer != buffer));
        if extracts_elsewhere {
            return unsupported("byte_extract in two buffers");
        }
        Ok(buffer)
    }

    fn modify(
        &mut self,
        keyword: &str,
        change: impl FnOnce(&mut Content) -> Result<(), Rejection>,
    ) -> Result<(), Rejection> {
        let content = self
            .last_content
            .and_then(|i| self.detection.get_mut(i))
            .and_then(|option| match option {
                DetectOption::Content(c) => Some(c),
                _ => None,
            });
        match content {
            Some(content) => change(content),
            None => err(format!("{keyword}: no preceding content to modify")),
        }
    }

    /// A literal or a byte_extract variable.
    fn value(&self, keyword: &str, text: &str) -> Result<Value, Rejection> {
        let text = text.trim();
        if let Ok(n) = parse_number(text) {
            return Ok(Value::Literal(n));
        }
        match self
            .byte_extract_names
            .iter()
            .rposition(|name| name == text)
        {
            Some(index) => Ok(Value::Var(index)),
            None => err(format!(
                "{keyword}: `{text}` is neither a number nor a byte_extract variable"
            )),
        }
    }

    fn position(&mut self, keyword: &str, value: Value) -> Result<(), Rejection> {
        let (min, max) = match keyword {
            "depth" | "within" => (1, 65535),
            _ => (-65535, 65535),
        };
        if let Value::Literal(n) = value {
            if n < min || n > max {
                return err(format!("{keyword}: {n} is out of range ({min} to {max})"));
            }
        }
        self.modify(keyword, |c| {
            let absolute = c.depth.is_some() || c.offset.is_some();
            let relative = c.distance.is_some() || c.within.is_some();
            let slot = match keyword {
                "depth" => &mut c.depth,
                "offset" => &mut c.offset,
                "distance" => &mut c.distance,
                _ => &mut c.within,
            };
            if slot.is_some() {
                return err(format!("{keyword}: given twice for one content"));
            }
            *slot = Some(value);
            let now_relative = matches!(keyword, "distance" | "within");
            if (now_relative && absolute) || (!now_relative && relative) {
                return err(format!(
                    "{keyword}: depth/offset and distance/within cannot be mixed on one content"
                ));
            }
            if let (Value::Literal(n), "depth" | "within") = (value, keyword) {
                if (n as usize) < c.pattern.len() {
                    return err(format!(
                        "{keyword}: {n} is less than the content's length {}",
                        c.pattern.len()
                    ));
                }
            }
            Ok(())
        })
    }

    fn fast_pattern(&mut self, arg: Option<&str>) -> Result<(), Rejection> {
        let already = self.detection.iter().enumerate().any(|(i, o)| {
            Some(i) != self.last_content
                && matches!(o, DetectOption::Content(c) if c.fast_pattern != FastPattern::No)
        });
        if already {
            return err("fast_pattern: only one content per rule may be the fast pattern");
        }
        let kind = match arg.map(str::trim) {
            None | Some("") => FastPattern::Yes,
            Some(only) if only.eq_ignore_ascii_case("only") => FastPattern::Only,
            Some(text) => {
                let Some((offset, length)) = text.split_once(',') else {
                    return err(format!(
                        "fast_pattern: `{text}` (expected only or offset,length)"
                    ));
                };
                let offset = parse_int("fast_pattern offset", offset, 0, 65535)? as usize;
                let length = parse_int("fast_pattern length", length, 1, 65535)? as usize;
                FastPattern::Slice { offset, length }
            }
        };
        self.modify("fast_pattern", |c| {
            if c.fast_pattern != FastPattern::No {
                return err("fast_pattern: given twice for one content");
            }
            if let FastPattern::Slice { offset, length } = kind {
                if offset + length > c.pattern.len() {
                    return err(format!(
                        "fast_pattern: {offset},{length} goes past the content's length {}",
                        c.pattern.len()
                    ));
                }
            }
            c.fast_pattern = kind;
            Ok(())
        })
    }

    fn pcre(&mut self, arg: &str, ctx: &mut ParseContext) -> Result<(), Rejection> {
        let (negated, quoted) = match arg.strip_prefix('!') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, arg),
        };
        let inner = quoted
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .filter(|_| quoted.len() >= 2)
            .ok_or_else(|| {
                Rejection::Error(format!("pcre: `{arg}` must be quoted: \"/regex/flags\""))
            })?;
        let (body, flag_text) = split_pcre(inner)?;
        let mut flags = PcreFlags::default();
        let (mut relative, mut rawbytes, mut override_limits) = (false, false, false);
        let mut buffer = None;
        for flag in flag_text.chars() {
            match flag {
                'i' => flags.caseless = true,
                's' => flags.dotall = true,
                'm' => flags.multiline = true,
                'x' => flags.extended = true,
                'A' => flags.anchored = true,
                'E' => flags.dollar_endonly = true,
                'G' => flags.ungreedy = true,
                'R' => relative = true,
                'B' => rawbytes = true,
                'O' => override_limits = true,
                // Snort's HTTP buffer flags, and Suricata's (V W Z Q).
                flag if Buffer::from_pcre_flag(flag).is_some() => {
                    let flagged = Buffer::from_pcre_flag(flag).unwrap_or_default();
                    if buffer.is_some_and(|b| b != flagged) {
                        return err(format!("pcre: flags of two buffers in `{inner}`"));
                    }
                    buffer = Some(flagged);
                }
                'Q' => return unsupported(format!("pcre/{flag}")),
                other => return err(format!("pcre: unknown flag `{other}` in `{inner}`")),
            }
        }
        let key = (body.to_string(), pcre_flags_key(flags));
        let regex = match ctx.cache.pcre.get(&key) {
            Some(regex) => regex.clone(),
            None => {
                let regex = Arc::new(
                    Regex::new(body, flags)
                        .map_err(|m| Rejection::Error(format!("pcre `{inner}`: {m}")))?,
                );
                ctx.cache.pcre.insert(key, regex.clone());
                regex
            }
        };
        self.detection.push(DetectOption::Pcre(ast::Pcre {
            source: inner.to_string(),
            regex,
            negated,
            relative,
            rawbytes,
            override_limits,
            buffer: buffer.unwrap_or(self.sticky),
        }));
        Ok(())
    }

    fn isdataat(&mut self, arg: &str) -> Result<(), Rejection> {
        let mut parts = arg.split(',').map(str::trim);
        let first = parts.next().unwrap_or_default();
        let (negated, number) = match first.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, first),
        };
        let offset = self.value("isdataat", number)?;
        if let Value::Literal(n) = offset {
            if !(0..=65535).contains(&n) {
                return err(format!("isdataat: {n} is out of range (0 to 65535)"));
            }
        }
        let (mut relative, mut rawbytes) = (false, false);
        for part in parts {
            match part {
                "relative" => relative = true,
                "rawbytes" => rawbytes = true,
                other => return err(format!("isdataat: unknown argument `{other}`")),
            }
        }
        let buffer = self.option_buffer(relative);
        self.detection.push(DetectOption::IsDataAt(IsDataAt {
            offset,
            relative,
            rawbytes,
            negated,
            buffer,
        }));
        Ok(())
    }

    fn byte_test(&mut self, arg: &str) -> Result<(), Rejection> {
        let parts: Vec<&str> = arg.split(',').map(str::trim).collect();
        if parts.len() < 4 {
            return err(format!(
                "byte_test: `{arg}` needs bytes, operator, value, offset"
            ));
        }
        let (negated, op_text) = match parts[1].strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, parts[1]),
        };
        let op = match op_text {
            "<" => ByteTestOp::Lt,
            ">" => ByteTestOp::Gt,
            "<=" => ByteTestOp::Le,
            ">=" => ByteTestOp::Ge,
            "=" => ByteTestOp::Eq,
            "" if negated => ByteTestOp::Eq,
            "&" => ByteTestOp::And,
            "^" => ByteTestOp::Xor,
            other => {
                return err(format!(
                    "byte_test: unknown operator `{other}` (< > <= >= = & ^, optionally with !)"
                ))
            }
        };
        // Snort reads the value with strtoul base 0: 0x.. is hex, a leading 0 is octal.
        let value = if parts[2].starts_with(|c: char| c.is_ascii_digit()) {
            match parse_c_number(parts[2]) {
                Some(n) => Value::Literal(n),
                None => return err(format!("byte_test: bad value `{}`", parts[2])),
            }
        } else {
            self.value("byte_test value", parts[2])?
        };
        if let Value::Literal(n) = value {
            if !(0..=u32::MAX as i64).contains(&n) {
                return err(format!("byte_test: value {n} does not fit 32 bits"));
            }
        }
        let offset = self.offset_value("byte_test", parts[3])?;
        let extra = ByteArgs::parse("byte_test", &parts[4..], &[])?;
        let bytes = check_bytes("byte_test", parts[0], extra.string.is_some())?;
        let buffer = self.byte_option_buffer("byte_test", extra.relative)?;
        self.detection.push(DetectOption::ByteTest(ByteTest {
            buffer,
            bytes,
            negated,
            op,
            value,
            offset,
            relative: extra.relative,
            endian: extra.endian,
            string: extra.string,
            bitmask: extra.bitmask,
        }));
        Ok(())
    }

    fn offset_value(&self, keyword: &str, text: &str) -> Result<Value, Rejection> {
        let offset = self.value(&format!("{keyword} offset"), text)?;
        if let Value::Literal(n) = offset {
            if !(-65535..=65535).contains(&n) {
                return err(format!(
                    "{keyword}: offset {n} is out of range (-65535 to 65535)"
                ));
            }
        }
        Ok(offset)
    }

    fn byte_jump(&mut self, arg: &str) -> Result<(), Rejection> {
        let parts: Vec<&str> = arg.split(',').map(str::trim).collect();
        if parts.len() < 2 {
            return err(format!("byte_jump: `{arg}` needs bytes, offset"));
        }
        let offset = self.offset_value("byte_jump", parts[1])?;
        let extra = ByteArgs::parse(
            "byte_jump",
            &parts[2..],
            &[
                "multiplier",
                "align",
                "from_beginning",
                "from_end",
                "post_offset",
            ],
        )?;
        let bytes = check_bytes("byte_jump", parts[0], extra.string.is_some())?;
        if extra.from_beginning && extra.from_end {
            return err("byte_jump: from_beginning and from_end cannot be combined");
        }
        let buffer = self.byte_option_buffer("byte_jump", extra.relative)?;
        self.detection.push(DetectOption::ByteJump(ByteJump {
            buffer,
            bytes,
            offset,
            relative: extra.relative,
            multiplier: extra.multiplier.unwrap_or(1),
            endian: extra.endian,
            string: extra.string,
            align: extra.align.is_some(),
            from_beginning: extra.from_beginning,
            from_end: extra.from_end,
            post_offset: extra.post_offset,
            bitmask: extra.bitmask,
        }));
        Ok(())
    }

    fn byte_extract(&mut self, arg: &str) -> Result<(), Rejection> {
        let parts: Vec<&str> = arg.split(',').map(str::trim).collect();
        if parts.len() < 3 {
            return err(format!("byte_extract: `{arg}` needs bytes, offset, name"));
        }
        let offset = parse_int("byte_extract offset", parts[1], -65535, 65535)?;
        let name = parts[2];
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit() || c == '-')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        if !valid {
            return err(format!("byte_extract: bad variable name `{name}`"));
        }
        let extra = ByteArgs::parse("byte_extract", &parts[3..], &["multiplier", "align_n"])?;
        let bytes = check_bytes("byte_extract", parts[0], extra.string.is_some())?;
        let buffer = self.byte_option_buffer("byte_extract", extra.relative)?;
        self.detection.push(DetectOption::ByteExtract(ByteExtract {
            buffer,
            bytes,
            offset,
            name: name.to_string(),
            relative: extra.relative,
            multiplier: extra.multiplier.unwrap_or(1),
            endian: extra.endian,
            string: extra.string,
            align: extra.align.unwrap_or(0),
            bitmask: extra.bitmask,
        }));
        self.byte_extract_names.push(name.to_string());
        Ok(())
    }

    fn flow(&mut self, arg: &str) -> Result<(), Rejection> {
        self.flow_seen = true;
        let flow = &mut self.flow;
        for word in arg.split(',').map(str::trim) {
            let (slot, value) = match word {
                "established" => (&mut flow.established, true),
                "not_established" => (&mut flow.established, false),
                "to_server" | "from_client" => (&mut flow.to_server, true),
                "to_client" | "from_server" => (&mut flow.to_server, false),
                "only_stream" => (&mut flow.stream, true),
                "no_stream" => (&mut flow.stream, false),
                "stateless" => {
                    flow.stateless = true;
                    continue;
                }
                "no_frag" | "only_frag" => return unsupported(format!("flow:{word}")),
                other => return err(format!("flow: unknown argument `{other}`")),
            };
            if slot.is_some_and(|old| old != value) {
                return err(format!(
                    "flow: `{word}` contradicts an earlier flow argument"
                ));
            }
            *slot = Some(value);
        }
        if flow.stateless && flow.to_server.is_some() {
            return err("flow: stateless cannot be combined with a direction");
        }
        if flow.stateless && flow.established.is_some() {
            return err("flow: stateless cannot be combined with established/not_established");
        }
        Ok(())
    }

    fn flowbits(&mut self, arg: &str) -> Result<(), Rejection> {
        let parts: Vec<&str> = arg.split(',').map(str::trim).collect();
        let command = match parts[0] {
            "set" => FlowbitsCommand::Set,
            "unset" => FlowbitsCommand::Unset,
            "toggle" => FlowbitsCommand::Toggle,
            "isset" => FlowbitsCommand::IsSet,
            "isnotset" => FlowbitsCommand::IsNotSet,
            "noalert" => FlowbitsCommand::NoAlert,
            // Group operations (exclusive set, reset of a group) need group bookkeeping.
            "reset" | "setx" => return unsupported(format!("flowbits:{}", parts[0])),
            other => return err(format!("flowbits: unknown command `{other}`")),
        };
        if command == FlowbitsCommand::NoAlert {
            if parts.len() > 1 {
                return err("flowbits: noalert takes no bit names");
            }
            self.flowbits.push(Flowbits {
                command,
                names: Vec::new(),
                join: BitsJoin::All,
            });
            return Ok(());
        }
        if parts.len() < 2 || parts[1].is_empty() {
            return err(format!("flowbits: {} needs a bit name", parts[0]));
        }
        if parts.len() > 3 {
            return err(format!(
                "flowbits: `{arg}` has too many arguments (command,bits[,group])"
            ));
        }
        let names_text = parts[1];
        // `isset,any,group` / `isnotset,all,group` test a whole group.
        if parts.len() == 3 && matches!(names_text, "any" | "all") {
            return unsupported(format!("flowbits:{names_text}"));
        }
        let (join, separator) = match (names_text.contains('&'), names_text.contains('|')) {
            (true, true) => return err("flowbits: `&` and `|` cannot be mixed"),
            (false, true) => (BitsJoin::Any, '|'),
            _ => (BitsJoin::All, '&'),
        };
        if join == BitsJoin::Any
            && !matches!(command, FlowbitsCommand::IsSet | FlowbitsCommand::IsNotSet)
        {
            return err(format!(
                "flowbits: `|` is only allowed with isset/isnotset, not {}",
                parts[0]
            ));
        }
        let mut names = Vec::new();
        for name in names_text.split(separator).map(str::trim) {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !valid {
                return err(format!("flowbits: bad bit name `{name}`"));
            }
            names.push(name.to_string());
        }
        self.flowbits.push(Flowbits {
            command,
            names,
            join,
        });
        Ok(())
    }

    fn sticky_drop(&mut self, arg: Option<&str>) -> Result<(), Rejection> {
        let Some(arg) = arg.filter(|a| !a.is_empty()) else {
            return err("sticky-drop: needs <seconds>[,src|dst]");
        };
        let mut parts = arg.split(',').map(str::trim);
        let seconds = parse_int(
            "sticky-drop seconds",
            parts.next().unwrap_or_default(),
            1,
            u32::MAX as i64,
        )? as u32;
        let target = match parts.next() {
            None | Some("src") | Some("by_src") => StickyTarget::Src,
            Some("dst") | Some("by_dst") => StickyTarget::Dst,
            Some(other) => return err(format!("sticky-drop: `{other}` (expected src or dst)")),
        };
        if let Some(extra) = parts.next() {
            return err(format!("sticky-drop: unexpected `{extra}`"));
        }
        self.sticky_drop = Some(StickyDrop { seconds, target });
        Ok(())
    }

    fn finish(self, origin: Origin, classes: &Classifications) -> Result<Rule, Rejection> {
        // Snort checks these once the whole rule is read (modifiers may follow fast_pattern).
        for option in &self.detection {
            let DetectOption::Content(c) = option else {
                continue;
            };
            let nonzero = |v: Option<Value>| v.is_some_and(|v| v != Value::Literal(0));
            let positioned = c.is_relative() || nonzero(c.offset) || nonzero(c.depth);
            match c.fast_pattern {
                FastPattern::No => {}
                FastPattern::Only if c.negated => {
                    return err("fast_pattern:only cannot be used on a negated content")
                }
                FastPattern::Only if positioned => {
                    return err(
                        "fast_pattern:only content cannot be relative or have a non-zero offset/depth",
                    )
                }
                _ if c.negated && positioned => {
                    return err(
                        "fast_pattern cannot be used on a negated content that is relative or has a non-zero offset/depth",
                    )
                }
                _ => {}
            }
        }
        let priority = self
            .priority
            .or_else(|| {
                self.classtype
                    .as_ref()
                    .and_then(|c| classes.get(c))
                    .map(|c| c.priority)
            })
            .unwrap_or(3);
        let header = self.header;
        Ok(Rule {
            origin,
            action: header.action,
            protocol: header.protocol,
            src: header.src,
            src_ports: header.src_ports,
            direction: header.direction,
            dst: header.dst,
            dst_ports: header.dst_ports,
            gid: self.gid,
            sid: self.sid,
            rev: self.rev,
            msg: self.msg,
            classtype: self.classtype,
            priority,
            references: self.references,
            metadata: self.metadata,
            detection: {
                let mut detection = self.detection;
                detection.shrink_to_fit();
                detection
            },
            flow: self.flow,
            flowbits: self.flowbits,
            threshold: self.threshold,
            detection_filter: self.detection_filter,
            sticky_drop: self.sticky_drop,
            app_proto: header.app_proto,
        })
    }
}

/// Trailing arguments shared by byte_test, byte_jump and byte_extract.
#[derive(Default)]
struct ByteArgs {
    relative: bool,
    endian: Option<Endian>,
    bitmask: Option<u32>,
    multiplier: Option<u32>,
    align: Option<u8>,
    from_beginning: bool,
    from_end: bool,
    post_offset: i64,
}

struct ParsedByteArgs {
    relative: bool,
    endian: Endian,
    string: Option<NumberBase>,
    bitmask: Option<u32>,
    multiplier: Option<u32>,
    align: Option<u8>,
    from_beginning: bool,
    from_end: bool,
    post_offset: i64,
}

impl ByteArgs {
    /// `allowed` names the option-specific arguments (`align_n` = byte_extract's `align N`).
    fn parse(keyword: &str, parts: &[&str], allowed: &[&str]) -> Result<ParsedByteArgs, Rejection> {
        let mut args = ByteArgs::default();
        let mut is_string = false;
        let mut base = None;
        for part in parts {
            let mut words = part.split_whitespace();
            // Snort compares these names case-insensitively.
            let word = words.next().unwrap_or_default().to_ascii_lowercase();
            let param = words.next();
            if words.next().is_some() {
                return err(format!("{keyword}: bad argument `{part}`"));
            }
            let allows = |name: &str| allowed.contains(&name);
            let set_endian = |args: &mut ByteArgs, e: Endian| {
                if args.endian.is_some_and(|old| old != e) {
                    return err(format!("{keyword}: big and little cannot both be given"));
                }
                args.endian = Some(e);
                Ok(())
            };
            match (word.as_str(), param) {
                ("relative", None) => args.relative = true,
                ("big", None) => set_endian(&mut args, Endian::Big)?,
                ("little", None) => set_endian(&mut args, Endian::Little)?,
                ("string", None) => is_string = true,
                ("hex", None) => base = Some(NumberBase::Hex),
                ("dec", None) => base = Some(NumberBase::Dec),
                ("oct", None) => base = Some(NumberBase::Oct),
                ("dce", None) => return unsupported(format!("{keyword}:dce")),
                ("bitmask", Some(mask)) => {
                    let mask = parse_number(mask)
                        .ok()
                        .filter(|m| (0..=u32::MAX as i64).contains(m))
                        .ok_or_else(|| {
                            Rejection::Error(format!("{keyword}: bad bitmask `{mask}`"))
                        })?;
                    args.bitmask = Some(mask as u32);
                }
                ("multiplier", Some(n)) if allows("multiplier") => {
                    args.multiplier =
                        Some(parse_int(&format!("{keyword} multiplier"), n, 1, 65535)? as u32)
                }
                ("align", None) if allows("align") => args.align = Some(4),
                ("align", Some(n)) if allows("align_n") => {
                    let n = parse_int(&format!("{keyword} align"), n, 0, 4)?;
                    if n != 2 && n != 4 {
                        return err(format!("{keyword}: align must be 2 or 4"));
                    }
                    args.align = Some(n as u8)
                }
                ("from_beginning", None) if allows("from_beginning") => args.from_beginning = true,
                ("from_end", None) if allows("from_end") => args.from_end = true,
                ("post_offset", Some(n)) if allows("post_offset") => {
                    args.post_offset = match parse_number(n) {
                        Ok(v) if (-65535..=65535).contains(&v) => v,
                        Ok(v) => return err(format!("{keyword}: post_offset {v} is out of range")),
                        Err(_) => return unsupported(format!("{keyword}:post_offset variable")),
                    }
                }
                _ => return err(format!("{keyword}: unknown argument `{part}`")),
            }
        }
        let string = match (is_string, base) {
            (true, base) => Some(base.unwrap_or(NumberBase::Dec)),
            (false, None) => None,
            (false, Some(_)) => return err(format!("{keyword}: hex/dec/oct need `string`")),
        };
        Ok(ParsedByteArgs {
            relative: args.relative,
            endian: args.endian.unwrap_or(Endian::Big),
            string,
            bitmask: args.bitmask,
            multiplier: args.multiplier,
            align: args.align,
            from_beginning: args.from_beginning,
            from_end: args.from_end,
            post_offset: args.post_offset,
        })
    }
}

/// Bytes to convert: 1-4 in binary, 1-10 as a string (Snort's limits).
/// The byte count of byte_test/byte_jump/byte_extract: 1-10 for a string; 1-8 binary bytes
/// (Snort takes 1-4, Suricata up to 8: values are 64-bit here); byte_jump also takes 0
/// (Suricata's: the jump is only its offsets).
fn check_bytes(keyword: &str, text: &str, string: bool) -> Result<u8, Rejection> {
    let min = if keyword == "byte_jump" && !string {
        0
    } else {
        1
    };
    let max = if string { 10 } else { 8 };
    let n = parse_int(&format!("{keyword} bytes"), text, min, max)?;
    Ok(n as u8)
}

/// Decimal or 0x-hex integer with an optional sign.
pub fn parse_number(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i64::from_str_radix(hex, 16),
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse(),
        None => return Err(format!("`{text}` is not a number")),
    }
    .map_err(|_| format!("`{text}` is not a number"))?;
    Ok(if negative { -value } else { value })
}

/// An unsigned number as C's strtoul(.., 0) reads it: `0x` hex, leading `0` octal, else decimal.
fn parse_c_number(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok();
    }
    if text.len() > 1 && text.starts_with('0') {
        return i64::from_str_radix(&text[1..], 8).ok();
    }
    text.parse::<u64>().ok().and_then(|n| i64::try_from(n).ok())
}

fn parse_int(keyword: &str, text: &str, min: i64, max: i64) -> Result<i64, Rejection> {
    let n = parse_number(text).map_err(|m| Rejection::Error(format!("{keyword}: {m}")))?;
    if n < min || n > max {
        return err(format!("{keyword}: {n} is out of range ({min} to {max})"));
    }
    Ok(n)
}

fn parse_u32_arg(keyword: &str, arg: Option<&str>) -> Result<u32, String> {
    let text = arg.unwrap_or_default().trim();
    text.parse::<u32>()
        .map_err(|_| format!("{keyword}: `{text}` is not a number (0 to 4294967295)"))
}

fn pcre_flags_key(f: PcreFlags) -> u16 {
    [
        f.caseless,
        f.dotall,
        f.multiline,
        f.extended,
        f.anchored,
        f.dollar_endonly,
        f.ungreedy,
    ]
    .iter()
    .enumerate()
    .fold(0, |key, (bit, on)| key | ((*on as u16) << bit))
}

/// `/body/flags` or `m<delim>body<delim>flags`.
fn split_pcre(inner: &str) -> Result<(&str, &str), Rejection> {
    let (delimiter, rest) = if let Some(rest) = inner.strip_prefix('/') {
        ('/', rest)
    } else if let Some(rest) = inner.strip_prefix('m') {
        let mut chars = rest.chars();
        match chars.next() {
            Some(d) if !d.is_alphanumeric() && !d.is_whitespace() && d != '\\' => {
                (d, chars.as_str())
            }
            _ => return err(format!("pcre: `{inner}` must look like /regex/flags")),
        }
    } else {
        return err(format!("pcre: `{inner}` must look like /regex/flags"));
    };
    let Some(end) = rest.rfind(delimiter) else {
        return err(format!("pcre: `{inner}` has no closing `{delimiter}`"));
    };
    if end == 0 {
        return err(format!("pcre: `{inner}` has an empty regex"));
    }
    Ok((&rest[..end], &rest[end + delimiter.len_utf8()..]))
}

/// A quoted string argument (msg); quotes optional, `\x` unescaped.
fn unquote(text: &str, keyword: &str) -> Result<String, Rejection> {
    let inner = match text.strip_prefix('"') {
        Some(rest) => rest
            .strip_suffix('"')
            .filter(|_| text.len() >= 2)
            .ok_or_else(|| Rejection::Error(format!("{keyword}: missing closing quote")))?,
        None => text,
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// A content string: `"text|41 42|\"more"` -> bytes.
pub fn decode_content(quoted: &str) -> Result<Vec<u8>, Rejection> {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .filter(|_| quoted.len() >= 2)
        .ok_or_else(|| Rejection::Error(format!("content: `{quoted}` must be in double quotes")))?;
    let mut out = Vec::with_capacity(inner.len());
    let mut hex_mode = false;
    let mut hex_digits = 0usize;
    let mut high_nibble: Option<u8> = None;
    let mut bytes = inner.bytes().enumerate();
    while let Some((index, byte)) = bytes.next() {
        let column = index + 1;
        if hex_mode {
            match byte {
                b'|' => {
                    if hex_digits == 0 || high_nibble.is_some() {
                        return err(format!(
                            "content: |hex| section ending at column {column} needs an even, non-zero number of hex digits"
                        ));
                    }
                    hex_mode = false;
                }
                // Snort skips spaces between hex digits, even inside a byte.
                b' ' => {}
                b if b.is_ascii_hexdigit() => {
                    hex_digits += 1;
                    let nibble = (b as char).to_digit(16).unwrap_or(0) as u8;
                    match high_nibble.take() {
                        Some(high) => out.push(high << 4 | nibble),
                        None => high_nibble = Some(nibble),
                    }
                }
                other => {
                    return err(format!(
                        "content: byte 0x{other:02X} at column {column} is not a hex digit inside |...|"
                    ))
                }
            }
            continue;
        }
        match byte {
            b'|' => {
                hex_mode = true;
                hex_digits = 0;
            }
            b'\\' => match bytes.next() {
                Some((_, escaped @ (b'"' | b';' | b'\\' | b':'))) => out.push(escaped),
                Some((_, other)) => {
                    return err(format!(
                        "content: bad escape `\\{}` at column {column} (only \\\" \\; \\\\ \\: are escapes; write other bytes as |hex|)",
                        other as char
                    ))
                }
                None => return err("content: ends with a lone backslash"),
            },
            b'"' => {
                return err(format!(
                    "content: unescaped `\"` at column {column} (write \\\")"
                ))
            }
            // Snort's printable range; anything else must be written as |hex|.
            0x1f..=0x7e => out.push(byte),
            other => {
                return err(format!(
                    "content: byte 0x{other:02X} at column {column} is not printable ASCII; write it as |{other:02X}|"
                ))
            }
        }
    }
    if hex_mode {
        return err(format!("content: unterminated |hex| section in `{inner}`"));
    }
    if out.is_empty() {
        return err("content: empty pattern");
    }
    Ok(out)
}

/// Builds a comparison from its number.
type MakeCmp = fn(u64) -> IntCmp;

/// Which comparison forms a keyword accepts (Snort's parsers differ per keyword), and how to
/// say so in an error.
struct CmpForms {
    accepts: fn(IntCmp) -> bool,
    described: &'static str,
}

const TOS_FORMS: CmpForms = CmpForms {
    accepts: |c| matches!(c, IntCmp::Eq(_) | IntCmp::Ne(_)),
    described: "N or !N",
};
const ID_FORMS: CmpForms = CmpForms {
    accepts: |c| matches!(c, IntCmp::Eq(_)),
    described: "N",
};
const ICMP_FORMS: CmpForms = CmpForms {
    accepts: |c| {
        matches!(
            c,
            IntCmp::Eq(_) | IntCmp::Lt(_) | IntCmp::Gt(_) | IntCmp::Between(..)
        )
    },
    described: "N, <N, >N or a<>b",
};
const TTL_FORMS: CmpForms = CmpForms {
    accepts: |c| !matches!(c, IntCmp::Ne(_) | IntCmp::Between(..)),
    described: "N, <N, >N, <=N, >=N, a-b, -b or a-",
};

/// `N`, `!N`, `<N`, `>N`, `<=N`, `>=N`, `=N`, `N<>M` (exclusive), limited to `forms`.
fn parse_cmp(keyword: &str, text: &str, max: u64, forms: &CmpForms) -> Result<IntCmp, Rejection> {
    let text = text.trim();
    let number = |t: &str| -> Result<u64, Rejection> {
        Ok(parse_int(keyword, t.trim(), 0, max as i64)? as u64)
    };
    let cmp = match text.split_once("<>") {
        Some((a, b)) if !a.trim().is_empty() => {
            let (a, b) = (number(a)?, number(b)?);
            if a >= b {
                return err(format!(
                    "{keyword}: {a}<>{b}: the low bound must be less than the high"
                ));
            }
            IntCmp::Between(a, b)
        }
        _ => {
            let ops: [(&str, MakeCmp); 6] = [
                ("<=", IntCmp::Le),
                (">=", IntCmp::Ge),
                ("<", IntCmp::Lt),
                (">", IntCmp::Gt),
                ("!", IntCmp::Ne),
                ("=", IntCmp::Eq),
            ];
            match ops
                .iter()
                .find_map(|(prefix, make)| Some((text.strip_prefix(prefix)?, make)))
            {
                Some((rest, make)) => make(number(rest)?),
                None => IntCmp::Eq(number(text)?),
            }
        }
    };
    if !(forms.accepts)(cmp) {
        return err(format!(
            "{keyword}: `{text}` is not accepted (expected {})",
            forms.described
        ));
    }
    Ok(cmp)
}

/// dsize as Snort 2.9 reads it: `N`, `<N`, `>N`, or `a<>b` (inclusive on both ends).
fn parse_dsize(text: &str) -> Result<IntCmp, Rejection> {
    let text = text.trim();
    let number =
        |t: &str| -> Result<u64, Rejection> { Ok(parse_int("dsize", t.trim(), 0, 65535)? as u64) };
    if let Some((a, b)) = text.split_once("<>") {
        let (a, b) = (number(a)?, number(b)?);
        if a > b {
            return err(format!("dsize: {a}<>{b}: the low bound is above the high"));
        }
        return Ok(IntCmp::Within(a, b));
    }
    if let Some(rest) = text.strip_prefix('<') {
        return Ok(IntCmp::Lt(number(rest)?));
    }
    if let Some(rest) = text.strip_prefix('>') {
        return Ok(IntCmp::Gt(number(rest)?));
    }
    Ok(IntCmp::Eq(number(text)?))
}

/// urilen as Snort 2.9 and Suricata read it: `n`, `<n`, `>n`, `a<>b` (exclusive), `a<=>b`
/// (inclusive), then an optional `,norm` (default) or `,raw`.
fn parse_urilen(text: &str) -> Result<UriLen, Rejection> {
    let (range, raw) = match text.split_once(',') {
        None => (text.trim(), false),
        Some((range, form)) => match form.trim() {
            "norm" => (range.trim(), false),
            "raw" => (range.trim(), true),
            other => return err(format!("urilen: `{other}` (expected norm or raw)")),
        },
    };
    let number =
        |t: &str| -> Result<u64, Rejection> { Ok(parse_int("urilen", t.trim(), 0, 65535)? as u64) };
    let cmp = if let Some((a, b)) = range.split_once("<=>") {
        IntCmp::Within(number(a)?, number(b)?)
    } else if let Some((a, b)) = range.split_once("<>") {
        IntCmp::Between(number(a)?, number(b)?)
    } else if let Some(rest) = range.strip_prefix('<') {
        IntCmp::Lt(number(rest)?)
    } else if let Some(rest) = range.strip_prefix('>') {
        IntCmp::Gt(number(rest)?)
    } else {
        IntCmp::Eq(number(range)?)
    };
    if let IntCmp::Within(a, b) | IntCmp::Between(a, b) = cmp {
        if a > b {
            return err(format!("urilen: {range}: the low bound is above the high"));
        }
    }
    Ok(UriLen { cmp, raw })
}

/// ttl: the comparison forms plus Snort's ranges `a-b`, `-b`, `a-`.
fn parse_ttl(text: &str) -> Result<IntCmp, Rejection> {
    let text = text.trim();
    if let Some((a, b)) = text.split_once('-') {
        let bound = |t: &str| -> Result<Option<u64>, Rejection> {
            let t = t.trim();
            if t.is_empty() {
                Ok(None)
            } else {
                Ok(Some(parse_int("ttl", t, 0, 255)? as u64))
            }
        };
        return match (bound(a)?, bound(b)?) {
            (Some(a), Some(b)) if a <= b => Ok(IntCmp::Within(a, b)),
            (Some(a), Some(b)) => err(format!("ttl: range {a}-{b} is empty")),
            (None, Some(b)) => Ok(IntCmp::Le(b)),
            (Some(a), None) => Ok(IntCmp::Ge(a)),
            (None, None) => err("ttl: `-` needs a bound"),
        };
    }
    parse_cmp("ttl", text, 255, &TTL_FORMS)
}

/// `flags:[+*!]<FSRPAUCE0 12>[,<mask>]`; modifiers may appear anywhere in the first part.
fn parse_flags(text: &str) -> Result<TcpFlags, Rejection> {
    let (flag_text, mask_text) = match text.split_once(',') {
        Some((f, m)) => (f.trim(), Some(m.trim())),
        None => (text.trim(), None),
    };
    let mut flags = 0u8;
    let mut mode = FlagsMode::Exact;
    let mut zero = false;
    for c in flag_text.chars() {
        match c {
            '+' | '*' | '!' => {
                if mode != FlagsMode::Exact {
                    return err(format!("flags: more than one modifier in `{flag_text}`"));
                }
                mode = match c {
                    '+' => FlagsMode::All,
                    '*' => FlagsMode::Any,
                    _ => FlagsMode::Not,
                };
            }
            '0' => zero = true,
            ' ' => {}
            c => {
                flags |= tcp_flag_bit(c)
                    .ok_or_else(|| Rejection::Error(format!("flags: unknown flag `{c}`")))?
            }
        }
    }
    if zero && flags != 0 {
        return err("flags: 0 (no flags) cannot be combined with other flags");
    }
    if !zero && flags == 0 {
        return err(format!("flags: `{text}` names no flags"));
    }
    let mut ignored = 0u8;
    if let Some(mask_text) = mask_text {
        for c in mask_text.chars().filter(|c| !c.is_whitespace()) {
            ignored |= tcp_flag_bit(c)
                .ok_or_else(|| Rejection::Error(format!("flags: unknown mask flag `{c}`")))?;
        }
    }
    Ok(TcpFlags {
        flags,
        mask: !ignored,
        mode,
    })
}

fn tcp_flag_bit(c: char) -> Option<u8> {
    Some(match c.to_ascii_uppercase() {
        'F' => 0x01,
        'S' => 0x02,
        'R' => 0x04,
        'P' => 0x08,
        'A' => 0x10,
        'U' => 0x20,
        'E' | '2' => 0x40,
        'C' | '1' => 0x80,
        _ => return None,
    })
}

fn parse_fragbits(text: &str) -> Result<Fragbits, Rejection> {
    let mut bits = 0u8;
    let mut mode = FlagsMode::Exact;
    for c in text.trim().chars() {
        match c {
            '+' => mode = FlagsMode::All,
            '*' => mode = FlagsMode::Any,
            '!' => mode = FlagsMode::Not,
            'M' | 'm' => bits |= 0x1,
            'D' | 'd' => bits |= 0x2,
            'R' | 'r' => bits |= 0x4,
            ' ' => {}
            other => {
                return err(format!(
                    "fragbits: unknown bit `{other}` (M, D, R with + * !)"
                ))
            }
        }
    }
    if bits == 0 {
        return err(format!("fragbits: `{text}` names no bits"));
    }
    Ok(Fragbits { bits, mode })
}

fn parse_ipopts(text: &str) -> Result<IpOpt, Rejection> {
    Ok(match text.trim() {
        "rr" => IpOpt::Rr,
        "eol" => IpOpt::Eol,
        "nop" => IpOpt::Nop,
        "ts" => IpOpt::Ts,
        "sec" => IpOpt::Sec,
        "esec" => IpOpt::Esec,
        "lsrr" => IpOpt::Lsrr,
        "lsrre" => IpOpt::Lsrre,
        "ssrr" => IpOpt::Ssrr,
        "satid" => IpOpt::Satid,
        "any" => IpOpt::Any,
        other => return err(format!("ipopts: unknown option `{other}`")),
    })
}

/// IP protocol names Snort resolves through /etc/protocols.
#[rustfmt::skip]
const IP_PROTOCOL_NAMES: &[(&str, u64)] = &[
    ("ip", 0), ("hopopt", 0), ("icmp", 1), ("igmp", 2), ("ggp", 3), ("ipencap", 4), ("ipip", 4),
    ("st", 5), ("tcp", 6), ("egp", 8), ("igp", 9), ("pup", 12), ("udp", 17), ("hmp", 20),
    ("xns-idp", 22), ("rdp", 27), ("iso-tp4", 29), ("dccp", 33), ("xtp", 36), ("ddp", 37),
    ("idpr-cmtp", 38), ("ipv6", 41), ("ipv6-route", 43), ("ipv6-frag", 44), ("idrp", 45),
    ("rsvp", 46), ("gre", 47), ("esp", 50), ("ah", 51), ("skip", 57), ("ipv6-icmp", 58),
    ("icmp6", 58), ("ipv6-nonxt", 59), ("ipv6-opts", 60), ("rspf", 73), ("vmtp", 81),
    ("eigrp", 88), ("ospf", 89), ("ax.25", 93), ("ipip-old", 94), ("etherip", 97), ("encap", 98),
    ("pim", 103), ("ipcomp", 108), ("vrrp", 112), ("l2tp", 115), ("isis", 124), ("sctp", 132),
    ("fc", 133), ("mobility-header", 135), ("udplite", 136), ("mpls-in-ip", 137), ("manet", 138),
    ("hip", 139), ("shim6", 140), ("wesp", 141), ("rohc", 142),
];

fn parse_ip_proto(text: &str) -> Result<IntCmp, Rejection> {
    let text = text.trim();
    let (prefix, name) = match text.chars().next() {
        Some(c @ ('!' | '<' | '>')) => (Some(c), text[1..].trim()),
        _ => (None, text),
    };
    let number = match IP_PROTOCOL_NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some((_, n)) => *n,
        None => parse_int("ip_proto", name, 0, 255)? as u64,
    };
    Ok(match prefix {
        Some('!') => IntCmp::Ne(number),
        Some('<') => IntCmp::Lt(number),
        Some('>') => IntCmp::Gt(number),
        _ => IntCmp::Eq(number),
    })
}

fn parse_track(value: &str, keyword: &str) -> Result<Track, Rejection> {
    match value {
        "by_src" => Ok(Track::BySrc),
        "by_dst" => Ok(Track::ByDst),
        other => err(format!("{keyword}: track `{other}` (by_src or by_dst)")),
    }
}

/// `name value` pairs separated by commas, each name once.
fn key_values<'a>(
    keyword: &str,
    text: &'a str,
    names: &[&str],
) -> Result<HashMap<&'a str, &'a str>, Rejection> {
    let mut out = HashMap::new();
    for part in text.split(',').map(str::trim) {
        let mut words = part.split_whitespace();
        let (Some(name), Some(value), None) = (words.next(), words.next(), words.next()) else {
            return err(format!(
                "{keyword}: bad argument `{part}` (expected `name value`)"
            ));
        };
        if !names.contains(&name) {
            return err(format!("{keyword}: unknown argument `{name}`"));
        }
        if out.insert(name, value).is_some() {
            return err(format!("{keyword}: `{name}` given twice"));
        }
    }
    for name in names {
        if !out.contains_key(name) {
            return err(format!("{keyword}: missing `{name}`"));
        }
    }
    Ok(out)
}

fn parse_threshold(text: &str) -> Result<Threshold, Rejection> {
    let kv = key_values("threshold", text, &["type", "track", "count", "seconds"])?;
    let kind = match kv["type"] {
        "limit" => ThresholdKind::Limit,
        "threshold" => ThresholdKind::Threshold,
        "both" => ThresholdKind::Both,
        other => {
            return err(format!(
                "threshold: type `{other}` (limit, threshold or both)"
            ))
        }
    };
    Ok(Threshold {
        kind,
        track: parse_track(kv["track"], "threshold")?,
        count: parse_int("threshold count", kv["count"], 1, u32::MAX as i64)? as u32,
        seconds: parse_int("threshold seconds", kv["seconds"], 1, u32::MAX as i64)? as u32,
    })
}

fn parse_detection_filter(text: &str) -> Result<DetectionFilter, Rejection> {
    let kv = key_values("detection_filter", text, &["track", "count", "seconds"])?;
    Ok(DetectionFilter {
        track: parse_track(kv["track"], "detection_filter")?,
        count: parse_int("detection_filter count", kv["count"], 1, u32::MAX as i64)? as u32,
        seconds: parse_int(
            "detection_filter seconds",
            kv["seconds"],
            1,
            u32::MAX as i64,
        )? as u32,
    })
}

/// One rule's text parsed on its own with the built-in classifications, for the parser's
/// unit tests: the rule, or why not.
#[cfg(test)]
pub(crate) fn parse_with(vars: &mut Vars, text: &str) -> Result<Rule, Rejection> {
    let classes = Classifications::builtin();
    let mut cache = ParseCache::default();
    let mut ctx = ParseContext {
        vars,
        classes: &classes,
        cache: &mut cache,
    };
    let origin = Origin {
        file: Arc::from("t.rules"),
        line: 1,
    };
    parse_rule(text, origin, &mut ctx).map_err(|r| r.why)
}

/// [`parse_with`] the default variables.
#[cfg(test)]
pub(crate) fn parse_text(text: &str) -> Result<Rule, Rejection> {
    parse_with(&mut Vars::with_defaults(), text)
}

#[cfg(test)]
mod tests {
    use super::parse_text as parse;
    use super::*;

    /// A tcp rule with these options and sid:1.
    fn opts(options: &str) -> String {
        format!("alert tcp any any -> any any ({options} sid:1;)")
    }

    fn ok(options: &str) -> Rule {
        match parse(&opts(options)) {
            Ok(rule) => rule,
            Err(why) => panic!("`{options}`: {why:?}"),
        }
    }

    fn error(options: &str) -> String {
        match parse(&opts(options)) {
            Err(Rejection::Error(message)) => message,
            other => panic!("`{options}`: expected an error, got {other:?}"),
        }
    }

    fn unsupported_keyword(text: &str) -> String {
        match parse(text) {
            Err(Rejection::Unsupported(keyword)) => keyword,
            other => panic!("`{text}`: expected unsupported, got {other:?}"),
        }
    }

    fn contents(rule: &Rule) -> Vec<&Content> {
        rule.detection
            .iter()
            .filter_map(|o| match o {
                DetectOption::Content(c) => Some(c),
                _ => None,
            })
            .collect()
    }

    fn first_content(options: &str) -> Content {
        contents(&ok(options))[0].clone()
    }

    /// Each option text is an error whose message contains the needle.
    fn assert_errors(cases: &[(&str, &str)]) {
        for (options, needle) in cases {
            let message = error(options);
            assert!(
                message.contains(needle),
                "`{options}`: `{message}` lacks `{needle}`"
            );
        }
    }

    /// The single detection option of this variant that `options` parse to.
    macro_rules! only {
        ($variant:ident, $options:expr) => {
            match only_detection(&$options) {
                DetectOption::$variant(inner) => inner,
                other => panic!("{}: {other:?}", $options),
            }
        };
    }

    fn only_detection(options: &str) -> DetectOption {
        let rule = ok(options);
        assert_eq!(rule.detection.len(), 1, "{options}");
        rule.detection[0].clone()
    }

    // ---- header ----

    #[test]
    fn minimal_rule_defaults() {
        let rule = ok("");
        assert_eq!((rule.gid, rule.sid, rule.rev, rule.priority), (1, 1, 1, 3));
        assert_eq!(rule.action, Action::Alert);
        assert_eq!(rule.protocol, Protocol::Tcp);
        assert!(rule.src.is_any() && rule.dst_ports.is_any());
        assert_eq!(rule.direction, Direction::OneWay);
    }

    #[test]
    fn actions() {
        let cases = [
            ("alert", Action::Alert),
            ("log", Action::Log),
            ("pass", Action::Pass),
            ("drop", Action::Drop),
            ("block", Action::Drop),
            ("sdrop", Action::Sdrop),
            ("sblock", Action::Sdrop),
            ("reject", Action::Reject(RejectTarget::Both)),
            ("rejectboth", Action::Reject(RejectTarget::Both)),
            ("rejectsrc", Action::Reject(RejectTarget::Src)),
            ("rejectdst", Action::Reject(RejectTarget::Dst)),
        ];
        for (word, action) in cases {
            let rule = parse(&format!("{word} tcp any any -> any any (sid:1;)")).unwrap();
            assert_eq!(rule.action, action, "{word}");
        }
        assert!(
            matches!(parse("alart tcp any any -> any any (sid:1;)"), Err(Rejection::Error(m)) if m.contains("alart"))
        );
    }

    #[test]
    fn protocols() {
        for (word, protocol) in [
            ("ip", Protocol::Ip),
            ("tcp", Protocol::Tcp),
            ("udp", Protocol::Udp),
            ("icmp", Protocol::Icmp),
        ] {
            let rule = parse(&format!("alert {word} any any -> any any (sid:1;)")).unwrap();
            assert_eq!(rule.protocol, protocol);
            assert_eq!(rule.app_proto, None);
        }
        for (word, protocol, app) in [
            ("http", Protocol::Tcp, AppProto::Http),
            ("tls", Protocol::Tcp, AppProto::Tls),
            ("ssl", Protocol::Tcp, AppProto::Tls),
            ("TLS", Protocol::Tcp, AppProto::Tls),
            ("dns", Protocol::TcpOrUdp, AppProto::Dns),
            ("ftp", Protocol::Tcp, AppProto::Ftp),
            ("smtp", Protocol::Tcp, AppProto::Smtp),
            ("smb", Protocol::Tcp, AppProto::Smb),
            ("ssh", Protocol::Tcp, AppProto::Ssh),
        ] {
            let rule = parse(&format!("alert {word} any any -> any 53 (sid:1;)")).unwrap();
            assert_eq!(
                (rule.protocol, rule.app_proto),
                (protocol, Some(app)),
                "{word}"
            );
            assert!(rule.dst_ports.contains(53) && !rule.dst_ports.contains(54));
        }
        for app in ["dcerpc", "ftp-data", "imap", "krb5", "dhcp"] {
            assert_eq!(
                unsupported_keyword(&format!("alert {app} any any -> any any (sid:1;)")),
                app
            );
        }
        assert!(
            matches!(parse("alert foo any any -> any any (sid:1;)"), Err(Rejection::Error(m)) if m.contains("unknown protocol"))
        );
    }

    #[test]
    fn bidirectional_and_bad_direction() {
        let rule = parse("alert tcp any any <> any any (sid:1;)").unwrap();
        assert_eq!(rule.direction, Direction::Both);
        assert!(
            matches!(parse("alert tcp any any <- any any (sid:1;)"), Err(Rejection::Error(m)) if m.contains("direction"))
        );
    }

    #[test]
    fn header_with_variables_lists_and_negation() {
        let rule = parse(
            "alert tcp [10.0.0.0/8, !10.1.0.0/16] ![80,443] -> $EXTERNAL_NET $HTTP_PORTS (sid:1;)",
        )
        .unwrap();
        assert!(rule.src.contains("10.2.3.4".parse().unwrap()));
        assert!(!rule.src.contains("10.1.3.4".parse().unwrap()));
        assert!(!rule.src_ports.contains(80) && rule.src_ports.contains(81));
        assert!(rule.dst_ports.contains(8080) && !rule.dst_ports.contains(22));
    }

    #[test]
    fn header_errors_name_the_field() {
        let bad = |text: &str, needle: &str| match parse(text) {
            Err(Rejection::Error(m)) => assert!(m.contains(needle), "{text}: {m}"),
            other => panic!("{text}: {other:?}"),
        };
        bad("alert tcp !any any -> any any (sid:1;)", "source address");
        bad(
            "alert tcp any any -> $NOPE any (sid:1;)",
            "undefined variable $NOPE",
        );
        bad("alert tcp any 70000 -> any any (sid:1;)", "source port");
        bad("alert tcp any any -> any 10:5 (sid:1;)", "destination port");
        bad("alert tcp any any -> any (sid:1;)", "fields");
        bad("alert tcp any any -> any any sid:1;", "missing option list");
        bad(
            "alert tcp any any -> any any (sid:1;) x",
            "after the option list",
        );
    }

    #[test]
    fn rule_without_sid_is_an_error() {
        assert!(
            matches!(parse("alert tcp any any -> any any (msg:\"x\";)"), Err(Rejection::Error(m)) if m.contains("no sid"))
        );
        assert!(
            matches!(parse("alert tcp any any -> any any (sid:x;)"), Err(Rejection::Error(m)) if m.contains("sid"))
        );
    }

    #[test]
    fn unterminated_last_option_is_an_error() {
        assert!(
            matches!(parse("alert tcp any any -> any any (sid:1; msg:\"x\")"), Err(Rejection::Error(m)) if m.contains("not terminated"))
        );
    }

    // ---- general options ----

    #[test]
    fn msg_gid_rev_priority_reference_metadata() {
        let rule = ok(
            r#"msg:"say \"hi\"\; ok"; gid:3; rev:7; priority:1; reference:url,example.com/a,b; metadata:former_category X, updated_at 2017;"#,
        );
        assert_eq!(rule.msg, "say \"hi\"; ok");
        assert_eq!((rule.gid, rule.rev, rule.priority), (3, 7, 1));
        assert_eq!(
            rule.references,
            vec![(Arc::from("url"), Arc::from("example.com/a,b"))]
        );
        assert_eq!(
            rule.metadata,
            vec![Arc::from("former_category X"), Arc::from("updated_at 2017")]
        );
    }

    #[test]
    fn classtype_sets_priority_unless_given() {
        let rule = ok("classtype:trojan-activity;");
        assert_eq!(
            (rule.classtype.as_deref(), rule.priority),
            (Some("trojan-activity"), 1)
        );
        assert_eq!(ok("classtype:trojan-activity; priority:4;").priority, 4);
        assert!(error("classtype:no-such-class;").contains("no-such-class"));
        assert!(error("reference:nocomma;").contains("reference"));
    }

    // ---- content ----

    #[test]
    fn content_hex_and_escapes() {
        assert_eq!(first_content(r#"content:"a|41 42|b";"#).pattern, b"aABb");
        assert_eq!(first_content(r#"content:"|4142|";"#).pattern, b"AB");
        assert_eq!(
            first_content(r#"content:"x\"y\;z\\w\:v";"#).pattern,
            b"x\"y;z\\w:v"
        );
        assert_eq!(first_content(r#"content:"|4 1|";"#).pattern, b"A");
        assert_eq!(first_content(r#"content:"|00|";"#).pattern, [0u8]);
    }

    #[test]
    fn content_errors() {
        assert_errors(&[
            (r#"content:"|4|";"#, "even, non-zero"),
            (r#"content:"|4G|";"#, "not a hex digit"),
            (r#"content:"|41";"#, "unterminated"),
            (r#"content:"";"#, "empty"),
            (r#"content:abc;"#, "double quotes"),
            (r#"content:"a"b";"#, "unescaped"),
            (r#"content:"a\bc";"#, "bad escape"),
            (r#"content:"||";"#, "non-zero"),
            ("content:\"caf\u{e9}\";", "|C3|"),
            ("content:\"a\tb\";", "|09|"),
        ]);
    }

    #[test]
    fn content_negation() {
        let c = first_content(r#"content:!"abc";"#);
        assert!(c.negated);
        assert_eq!(c.pattern, b"abc");
        assert!(first_content(r#"content: ! "abc";"#).negated);
    }

    #[test]
    fn content_modifiers_attach_to_the_last_content() {
        let rule = ok(r#"content:"one"; content:"two"; nocase; rawbytes; offset:2; depth:10;"#);
        let c = contents(&rule);
        assert!(!c[0].nocase && c[0].offset.is_none());
        assert!(c[1].nocase && c[1].rawbytes);
        assert_eq!(
            (c[1].offset, c[1].depth),
            (Some(Value::Literal(2)), Some(Value::Literal(10)))
        );
        let c = first_content(r#"content:"abc"; distance:-2; within:5;"#);
        assert_eq!(
            (c.distance, c.within),
            (Some(Value::Literal(-2)), Some(Value::Literal(5)))
        );
        assert!(c.is_relative());
    }

    #[test]
    fn modifiers_skip_over_other_options() {
        let rule = ok(r#"content:"abc"; pcre:"/x/"; nocase;"#);
        assert!(contents(&rule)[0].nocase);
    }

    #[test]
    fn modifier_without_content_is_an_error() {
        for m in [
            "nocase;",
            "rawbytes;",
            "depth:4;",
            "offset:1;",
            "distance:0;",
            "within:4;",
            "fast_pattern;",
        ] {
            assert!(error(m).contains("no preceding content"), "{m}");
        }
    }

    #[test]
    fn absolute_and_relative_cannot_mix() {
        assert!(error(r#"content:"abc"; depth:5; distance:1;"#).contains("cannot be mixed"));
        assert!(error(r#"content:"abc"; within:5; offset:1;"#).contains("cannot be mixed"));
        // On different contents they can.
        ok(r#"content:"abc"; depth:5; content:"d"; distance:1;"#);
    }

    #[test]
    fn depth_and_within_bounds() {
        assert_errors(&[
            (r#"content:"abcdef"; depth:3;"#, "less than"),
            (r#"content:"abcdef"; within:3;"#, "less than"),
            (r#"content:"a"; depth:0;"#, "out of range"),
            (r#"content:"a"; offset:70000;"#, "out of range"),
            (r#"content:"a"; depth:4; depth:5;"#, "twice"),
            (r#"content:"a"; depth:x;"#, "byte_extract"),
        ]);
    }

    #[test]
    fn fast_pattern_forms() {
        assert_eq!(
            first_content(r#"content:"abcd"; fast_pattern;"#).fast_pattern,
            FastPattern::Yes
        );
        assert_eq!(
            first_content(r#"content:"abcd"; fast_pattern:only;"#).fast_pattern,
            FastPattern::Only
        );
        assert_eq!(
            first_content(r#"content:"abcd"; fast_pattern:1,2;"#).fast_pattern,
            FastPattern::Slice {
                offset: 1,
                length: 2
            }
        );
        assert_eq!(
            first_content(r#"content:"abcd";"#).fast_pattern,
            FastPattern::No
        );
    }

    #[test]
    fn fast_pattern_errors() {
        assert_errors(&[
            (r#"content:"abcd"; fast_pattern:3,2;"#, "past"),
            (
                r#"content:"ab"; fast_pattern; content:"cd"; fast_pattern;"#,
                "only one",
            ),
            (r#"content:!"abcd"; fast_pattern:only;"#, "negated"),
            (
                r#"content:"abcd"; fast_pattern:only; depth:4;"#,
                "fast_pattern:only",
            ),
            (
                r#"content:"abcd"; fast_pattern:only; distance:0;"#,
                "relative",
            ),
            (r#"content:!"abcd"; fast_pattern; offset:2;"#, "negated"),
            (r#"content:"abcd"; fast_pattern:x;"#, "fast_pattern"),
        ]);
    }

    #[test]
    fn fast_pattern_allowed_forms_follow_snort() {
        // offset:0 is not a position; a plain negated fast pattern is allowed; "only" is
        // case-insensitive.
        ok(r#"content:"abcd"; fast_pattern:only; offset:0;"#);
        ok(r#"content:!"abcd"; fast_pattern;"#);
        ok(r#"content:"abcd"; fast_pattern:ONLY;"#);
        ok(r#"content:"abcd"; fast_pattern; distance:2;"#);
    }

    // ---- byte_extract variables ----

    #[test]
    fn byte_extract_variables_resolve_to_indexes() {
        let rule = ok(
            r#"content:"x"; byte_extract:1,0,len,relative; byte_extract:2,1,off; content:"y"; distance:off; within:len; byte_test:1,>,len,off; byte_jump:1,off; isdataat:len,relative;"#,
        );
        let c = contents(&rule);
        assert_eq!(
            (c[1].distance, c[1].within),
            (Some(Value::Var(1)), Some(Value::Var(0)))
        );
        let test = rule.detection.iter().find_map(|o| match o {
            DetectOption::ByteTest(t) => Some(t.clone()),
            _ => None,
        });
        let test = test.unwrap();
        assert_eq!((test.value, test.offset), (Value::Var(0), Value::Var(1)));
        assert!(rule
            .detection
            .iter()
            .any(|o| matches!(o, DetectOption::ByteJump(j) if j.offset == Value::Var(1))));
        assert!(rule
            .detection
            .iter()
            .any(|o| matches!(o, DetectOption::IsDataAt(i) if i.offset == Value::Var(0))));
    }

    #[test]
    fn byte_extract_variable_must_be_defined_first() {
        assert!(error(r#"content:"x"; depth:len; byte_extract:1,0,len;"#).contains("`len`"));
    }

    #[test]
    fn byte_extract_arguments() {
        let e = only!(
            ByteExtract,
            "byte_extract:4,-2,v,relative,multiplier 2,little,align 4,bitmask 0xff00;"
        );
        assert_eq!(
            (e.bytes, e.offset, e.name.as_str(), e.multiplier, e.align),
            (4, -2, "v", 2, 4)
        );
        assert!(e.relative && e.endian == Endian::Little && e.bitmask == Some(0xff00));
        let e = only!(ByteExtract, "byte_extract:3,0,v,string,hex;");
        assert_eq!(e.string, Some(NumberBase::Hex));
        assert_errors(&[
            ("byte_extract:9,0,v;", "bytes"),
            ("byte_extract:11,0,v,string;", "bytes"),
            ("byte_extract:1,0,1v;", "name"),
            ("byte_extract:1,0,v,align 3;", "align"),
            ("byte_extract:1,0;", "needs"),
        ]);
        assert_eq!(
            unsupported_keyword(&opts("byte_extract:1,0,v,dce;")),
            "byte_extract:dce"
        );
    }

    // ---- byte_test / byte_jump ----

    #[test]
    fn byte_test_operators() {
        let cases = [
            ("<", ByteTestOp::Lt, false),
            (">", ByteTestOp::Gt, false),
            ("<=", ByteTestOp::Le, false),
            (">=", ByteTestOp::Ge, false),
            ("=", ByteTestOp::Eq, false),
            ("&", ByteTestOp::And, false),
            ("^", ByteTestOp::Xor, false),
            ("!", ByteTestOp::Eq, true),
            ("!&", ByteTestOp::And, true),
            ("!=", ByteTestOp::Eq, true),
        ];
        for (text, op, negated) in cases {
            let t = only!(ByteTest, &format!("byte_test:2,{text},0x10,4;"));
            assert_eq!(
                (t.op, t.negated, t.value),
                (op, negated, Value::Literal(16)),
                "{text}"
            );
        }
        assert!(error("byte_test:2,~,1,0;").contains("operator"));
    }

    #[test]
    fn byte_test_arguments() {
        let t = only!(
            ByteTest,
            "byte_test:4,>,1000,-3,relative,little,bitmask 0x0f;"
        );
        assert_eq!(
            (t.bytes, t.offset, t.endian, t.bitmask),
            (4, Value::Literal(-3), Endian::Little, Some(0x0f))
        );
        assert!(t.relative);
        let t = only!(ByteTest, "byte_test:10,=,1234,0,string,dec;");
        assert_eq!((t.bytes, t.string), (10, Some(NumberBase::Dec)));
        let t = only!(ByteTest, "byte_test:3,=,7,0,string,oct;");
        assert_eq!(t.string, Some(NumberBase::Oct));
        let t = only!(ByteTest, "byte_test:1,=,010,0,RELATIVE,Little;");
        assert_eq!(
            t.value,
            Value::Literal(8),
            "a leading 0 is octal, as strtoul reads it"
        );
        assert!(t.relative && t.endian == Endian::Little);
        assert_errors(&[
            ("byte_test:9,=,1,0;", "bytes"),
            ("byte_test:1,=,1,0,hex;", "string"),
            ("byte_test:1,=,1,0,big,little;", "big"),
            ("byte_test:1,=,09,0;", "09"),
            ("byte_test:1,=,1;", "needs"),
            ("byte_test:1,=,1,0,wat;", "wat"),
        ]);
        assert_eq!(
            unsupported_keyword(&opts("byte_test:1,=,1,0,dce;")),
            "byte_test:dce"
        );
    }

    #[test]
    fn byte_jump_arguments() {
        let j = only!(ByteJump, "byte_jump:4,12,relative,multiplier 2,little,align,from_beginning,post_offset -4,bitmask 0xff;");
        assert_eq!(
            (j.bytes, j.offset, j.multiplier, j.post_offset),
            (4, Value::Literal(12), 2, -4)
        );
        assert!(
            j.relative && j.align && j.from_beginning && !j.from_end && j.endian == Endian::Little
        );
        let j = only!(ByteJump, "byte_jump:2,0,string,hex,from_end;");
        assert!(j.from_end && j.string == Some(NumberBase::Hex) && j.multiplier == 1);
        // Suricata's forms: a jump of only its offsets, and 8-byte extractions.
        let j = only!(ByteJump, "byte_jump:0,0,relative,post_offset -7;");
        assert_eq!((j.bytes, j.post_offset), (0, -7));
        assert_eq!(only!(ByteExtract, "byte_extract:8,0,v;").bytes, 8);
        assert_errors(&[
            ("byte_jump:0,0,string,dec;", "out of range"),
            ("byte_test:0,=,1,0;", "out of range"),
        ]);
        assert_errors(&[
            ("byte_jump:2,0,from_beginning,from_end;", "from_end"),
            ("byte_jump:2;", "needs"),
            ("byte_jump:2,0,multiplier 0;", "multiplier"),
        ]);
    }

    // ---- pcre ----

    #[test]
    fn pcre_flags() {
        let p = only!(Pcre, r#"pcre:"/a.b/ismxAEGRBO";"#);
        let f = p.regex.flags();
        assert!(
            f.caseless
                && f.dotall
                && f.multiline
                && f.extended
                && f.anchored
                && f.dollar_endonly
                && f.ungreedy
        );
        assert!(p.relative && p.rawbytes && p.override_limits && !p.negated);
        assert_eq!(p.regex.body(), "a.b");
        assert_eq!(p.source, "/a.b/ismxAEGRBO");
    }

    #[test]
    fn pcre_negation_and_delimiters() {
        let p = only!(Pcre, r#"pcre:!"/x/";"#);
        assert!(p.negated);
        let p = only!(Pcre, r#"pcre:"m#a/b#i";"#);
        assert_eq!(p.regex.body(), "a/b");
        // A bare `"` inside the regex is fine: Snort takes the text between the outer quotes.
        let p = only!(Pcre, r#"pcre:"/a"b/";"#);
        assert_eq!(p.regex.body(), "a\"b");
    }

    #[test]
    fn pcre_errors() {
        assert_errors(&[
            (r#"pcre:"/x/z";"#, "unknown flag"),
            (r#"pcre:/x/;"#, "quoted"),
            (r#"pcre:"x";"#, "/regex/"),
            (r#"pcre:"/x";"#, "closing"),
            (r#"pcre:"//i";"#, "empty"),
        ]);
    }

    #[test]
    fn pcre_that_does_not_compile_is_an_error() {
        let message = error(r#"pcre:"/a(b/";"#);
        assert!(message.starts_with("pcre `/a(b/`:"), "{message}");
    }

    #[test]
    fn pcre_bodies_are_compiled_once() {
        let classes = Classifications::builtin();
        let mut cache = ParseCache::default();
        let mut vars = Vars::with_defaults();
        let mut regexes = Vec::new();
        for sid in 1..=2 {
            let mut ctx = ParseContext {
                vars: &mut vars,
                classes: &classes,
                cache: &mut cache,
            };
            let text = format!(r#"alert tcp any any -> any any (pcre:"/same/i"; sid:{sid};)"#);
            let rule = parse_rule(
                &text,
                Origin {
                    file: Arc::from("t"),
                    line: 1,
                },
                &mut ctx,
            )
            .unwrap();
            let DetectOption::Pcre(p) = &rule.detection[0] else {
                panic!()
            };
            regexes.push(p.regex.clone());
        }
        assert!(Arc::ptr_eq(&regexes[0], &regexes[1]));
        assert_eq!(cache.pcre.len(), 1);
    }

    // ---- isdataat ----

    #[test]
    fn isdataat_forms() {
        let i = only!(IsDataAt, "isdataat:!10,relative,rawbytes;");
        assert_eq!(
            i,
            IsDataAt {
                offset: Value::Literal(10),
                relative: true,
                rawbytes: true,
                negated: true,
                buffer: Buffer::Packet,
            }
        );
        assert!(error("isdataat:1,sideways;").contains("sideways"));
        assert!(error("isdataat:70000;").contains("range"));
    }

    // ---- header tests ----

    #[test]
    fn dsize_forms_follow_snort() {
        let dsize = |t: &str| only!(Dsize, format!("dsize:{t};"));
        assert_eq!(dsize("300"), IntCmp::Eq(300));
        assert_eq!(dsize("<6"), IntCmp::Lt(6));
        assert_eq!(dsize(">0"), IntCmp::Gt(0));
        // Snort 2.9's dsize range includes both ends.
        assert_eq!(dsize("300<>400"), IntCmp::Within(300, 400));
        assert!(IntCmp::Within(300, 400).matches(300) && IntCmp::Within(300, 400).matches(400));
        assert_errors(&[
            ("dsize:400<>300;", "dsize"),
            ("dsize:!5;", "dsize"),
            ("dsize:70000;", "range"),
        ]);
    }

    /// Each option text parses to exactly this one test (compared by Debug form).
    fn assert_detections(cases: &[(&str, DetectOption)]) {
        for (text, expected) in cases {
            assert_eq!(
                format!("{:?}", only_detection(text)),
                format!("{expected:?}"),
                "{text}"
            );
        }
    }

    #[test]
    fn itype_icode_ranges_are_exclusive() {
        assert_detections(&[
            ("itype:5<>10;", DetectOption::Itype(IntCmp::Between(5, 10))),
            ("icode:>3;", DetectOption::Icode(IntCmp::Gt(3))),
            ("itype:8;", DetectOption::Itype(IntCmp::Eq(8))),
            ("icode:<2;", DetectOption::Icode(IntCmp::Lt(2))),
        ]);
        assert_errors(&[
            ("itype:300;", "range"),
            ("itype:!3;", "not accepted"),
            ("icode:<=3;", "not accepted"),
            ("itype:10<>5;", "low bound"),
        ]);
    }

    #[test]
    fn ttl_tos_id() {
        assert_detections(&[
            ("ttl:<5;", DetectOption::Ttl(IntCmp::Lt(5))),
            ("ttl:>=64;", DetectOption::Ttl(IntCmp::Ge(64))),
            ("ttl:3-5;", DetectOption::Ttl(IntCmp::Within(3, 5))),
            ("ttl:-5;", DetectOption::Ttl(IntCmp::Le(5))),
            ("ttl:5-;", DetectOption::Ttl(IntCmp::Ge(5))),
            ("tos:!4;", DetectOption::Tos(IntCmp::Ne(4))),
            ("id:31337;", DetectOption::IpId(IntCmp::Eq(31337))),
        ]);
        assert_errors(&[
            ("ttl:256;", "range"),
            ("ttl:!5;", "not accepted"),
            ("tos:<5;", "not accepted"),
            ("id:>5;", "not accepted"),
            ("ttl:5-3;", "empty"),
        ]);
    }

    #[test]
    fn flags_forms() {
        let flags = |t: &str| only!(Flags, format!("flags:{t};"));
        assert_eq!(
            flags("SA"),
            TcpFlags {
                flags: 0x12,
                mask: 0xff,
                mode: FlagsMode::Exact
            }
        );
        assert_eq!(flags("S+").mode, FlagsMode::All);
        assert_eq!(flags("+S").mode, FlagsMode::All);
        assert_eq!(flags("*SF").mode, FlagsMode::Any);
        assert_eq!(flags("!R").mode, FlagsMode::Not);
        assert_eq!(
            flags("S,12"),
            TcpFlags {
                flags: 0x02,
                mask: 0x3f,
                mode: FlagsMode::Exact
            }
        );
        assert_eq!(flags("CE").flags, 0xc0);
        assert_eq!(flags("0").flags, 0);
        assert_eq!(flags("FSRPAU").flags, 0x3f);
        assert_errors(&[
            ("flags:X;", "unknown flag"),
            ("flags:0S;", "0"),
            ("flags:+*S;", "modifier"),
        ]);
    }

    #[test]
    fn fragbits_ipopts_ip_proto_sameip() {
        let frag = |bits, mode| DetectOption::Fragbits(Fragbits { bits, mode });
        assert_detections(&[
            ("fragbits:M+;", frag(1, FlagsMode::All)),
            ("fragbits:!D;", frag(2, FlagsMode::Not)),
            ("fragbits:*MD;", frag(3, FlagsMode::Any)),
            ("fragbits:MDR;", frag(7, FlagsMode::Exact)),
            ("ipopts:lsrr;", DetectOption::IpOpts(IpOpt::Lsrr)),
            ("ipopts:any;", DetectOption::IpOpts(IpOpt::Any)),
            ("ip_proto:igmp;", DetectOption::IpProto(IntCmp::Eq(2))),
            ("ip_proto:tcp;", DetectOption::IpProto(IntCmp::Eq(6))),
            ("ip_proto:!17;", DetectOption::IpProto(IntCmp::Ne(17))),
            ("ip_proto:>50;", DetectOption::IpProto(IntCmp::Gt(50))),
            ("sameip;", DetectOption::SameIp),
        ]);
        assert_errors(&[
            ("fragbits:X;", "fragbits"),
            ("ipopts:foo;", "ipopts"),
            ("ip_proto:nosuch;", "ip_proto"),
            ("sameip:1;", "no argument"),
        ]);
    }

    #[test]
    fn icmp_and_tcp_numbers() {
        assert_detections(&[
            ("icmp_id:77;", DetectOption::IcmpId(77)),
            ("icmp_seq:0;", DetectOption::IcmpSeq(0)),
            ("seq:4294967295;", DetectOption::TcpSeq(u32::MAX)),
            ("ack:0;", DetectOption::TcpAck(0)),
            (
                "window:!55808;",
                DetectOption::Window {
                    value: 55808,
                    negated: true,
                },
            ),
            (
                "window:1024;",
                DetectOption::Window {
                    value: 1024,
                    negated: false,
                },
            ),
        ]);
        assert_errors(&[
            ("icmp_id:70000;", "range"),
            ("seq:abc;", "number"),
            ("ack;", "argument"),
        ]);
    }

    #[test]
    fn flow_keywords() {
        let f = ok("flow:established,to_server; flow:only_stream;").flow;
        assert_eq!(
            f,
            FlowOptions {
                established: Some(true),
                stateless: false,
                to_server: Some(true),
                stream: Some(true)
            }
        );
        let f = ok("flow:not_established,from_server,no_stream;").flow;
        assert_eq!(
            f,
            FlowOptions {
                established: Some(false),
                stateless: false,
                to_server: Some(false),
                stream: Some(false)
            }
        );
        assert_eq!(ok("flow:from_client;").flow.to_server, Some(true));
        assert!(ok("flow:stateless;").flow.stateless);
        assert_eq!(ok("flow:to_client;").flow.to_server, Some(false));
        assert!(error("flow:to_server,to_client;").contains("contradicts"));
        assert!(error("flow:stateless,to_server;").contains("stateless"));
        assert!(error("flow:established; flow:stateless;").contains("stateless"));
        assert!(error("flow:sideways;").contains("sideways"));
        assert_eq!(
            unsupported_keyword(&opts("flow:established,only_frag;")),
            "flow:only_frag"
        );
        assert_eq!(unsupported_keyword(&opts("flow:no_frag;")), "flow:no_frag");
    }

    #[test]
    fn flowbits_commands_and_groups() {
        let rule = ok("flowbits:set,a&b; flowbits:isset,c|d; flowbits:isnotset,e; flowbits:unset,f,grp; flowbits:toggle,g; flowbits:noalert;");
        let fb = &rule.flowbits;
        assert_eq!(
            fb[0],
            Flowbits {
                command: FlowbitsCommand::Set,
                names: vec!["a".into(), "b".into()],
                join: BitsJoin::All
            }
        );
        assert_eq!(
            fb[1],
            Flowbits {
                command: FlowbitsCommand::IsSet,
                names: vec!["c".into(), "d".into()],
                join: BitsJoin::Any
            }
        );
        assert_eq!(fb[2].command, FlowbitsCommand::IsNotSet);
        assert_eq!(
            (fb[3].command, fb[3].names.clone()),
            (FlowbitsCommand::Unset, vec!["f".to_string()])
        );
        assert_eq!(fb[4].command, FlowbitsCommand::Toggle);
        assert!(rule.is_noalert());
    }

    #[test]
    fn flowbits_group_operations_are_unsupported() {
        for (options, keyword) in [
            ("flowbits:setx,a,g;", "flowbits:setx"),
            ("flowbits:reset,g;", "flowbits:reset"),
            ("flowbits:isset,any,g;", "flowbits:any"),
            ("flowbits:isnotset,all,g;", "flowbits:all"),
        ] {
            assert_eq!(unsupported_keyword(&opts(options)), keyword);
        }
    }

    #[test]
    fn flowbits_errors() {
        assert_errors(&[
            ("flowbits:set;", "bit name"),
            ("flowbits:set,a|b;", "only allowed"),
            ("flowbits:isset,a|b&c;", "mixed"),
            ("flowbits:noalert,x;", "noalert"),
            ("flowbits:frob,x;", "frob"),
            ("flowbits:set,a b;", "bad bit name"),
        ]);
    }

    // ---- threshold, detection_filter, sticky-drop ----

    #[test]
    fn threshold_forms() {
        let t = ok("threshold: type limit, track by_src, count 1, seconds 60;")
            .threshold
            .unwrap();
        assert_eq!(
            t,
            Threshold {
                kind: ThresholdKind::Limit,
                track: Track::BySrc,
                count: 1,
                seconds: 60
            }
        );
        let t = ok("threshold:seconds 5,count 10,track by_dst,type both;")
            .threshold
            .unwrap();
        assert_eq!((t.kind, t.track), (ThresholdKind::Both, Track::ByDst));
        assert_eq!(
            ok("threshold:type threshold,track by_src,count 3,seconds 1;")
                .threshold
                .unwrap()
                .kind,
            ThresholdKind::Threshold
        );
        assert_errors(&[
            ("threshold:type limit,track by_src,count 1;", "seconds"),
            (
                "threshold:type often,track by_src,count 1,seconds 1;",
                "often",
            ),
            (
                "threshold:type limit,track by_me,count 1,seconds 1;",
                "by_me",
            ),
        ]);
        assert!(
            error("threshold:type limit,type limit,track by_src,count 1,seconds 1;")
                .contains("twice")
        );
        assert!(error("threshold:type limit,track by_src,count x,seconds 1;").contains("count"));
    }

    #[test]
    fn detection_filter_forms() {
        let d = ok("detection_filter:track by_dst, count 30, seconds 10;")
            .detection_filter
            .unwrap();
        assert_eq!(
            d,
            DetectionFilter {
                track: Track::ByDst,
                count: 30,
                seconds: 10
            }
        );
        assert!(error("detection_filter:track by_dst,count 30;").contains("seconds"));
        assert!(
            error("detection_filter:type limit,track by_dst,count 30,seconds 1;").contains("type")
        );
    }

    #[test]
    fn sticky_drop_forms() {
        assert_eq!(
            ok("sticky-drop:300;").sticky_drop,
            Some(StickyDrop {
                seconds: 300,
                target: StickyTarget::Src
            })
        );
        assert_eq!(
            ok("sticky-drop: 60, dst;").sticky_drop,
            Some(StickyDrop {
                seconds: 60,
                target: StickyTarget::Dst
            })
        );
        assert_eq!(
            ok("stickydrop:10,src;").sticky_drop,
            Some(StickyDrop {
                seconds: 10,
                target: StickyTarget::Src
            })
        );
        assert_errors(&[
            ("sticky-drop;", "seconds"),
            ("sticky-drop:10,both;", "both"),
            ("sticky-drop:0;", "range"),
        ]);
    }

    // ---- stream-event ----

    fn stream_events(rule: &Rule) -> Vec<u8> {
        rule.detection
            .iter()
            .filter_map(|o| match o {
                DetectOption::StreamEvent(bit) => Some(*bit),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn stream_event_names_map_to_their_bit() {
        let rule = ok("stream-event:reassembly_overlap_different_data;");
        assert_eq!(stream_events(&rule), vec![9]);
        let rule = ok("stream-event:pkt_invalid_timestamp; stream-event:est_packet_out_of_window;");
        assert_eq!(stream_events(&rule), vec![3, 10]);
    }

    #[test]
    fn stream_event_unknown_name_is_an_error_naming_it() {
        let message = error("stream-event:no_such_anomaly;");
        assert!(message.contains("no_such_anomaly"), "{message}");
        assert!(error("stream-event;").contains("stream-event"));
    }

    #[test]
    fn stream_event_suricata_name_nfips_never_raises_is_unsupported() {
        assert_eq!(
            unsupported_keyword(&opts("stream-event:reassembly_no_segment;")),
            "stream-event:reassembly_no_segment"
        );
    }

    #[test]
    fn gid129_preprocessor_rule_becomes_a_tcp_stream_event_rule() {
        let rule = parse(r#"alert ( msg:"STREAM5_SYN_ON_EST"; sid:1; gid:129; rev:1; )"#)
            .expect("gid 129 sid 1 loads");
        assert_eq!(rule.gid, 129);
        assert_eq!(rule.protocol, Protocol::Tcp);
        assert_eq!(stream_events(&rule), vec![0]);
        let rule = parse("drop ( msg:\"overlap\"; sid:100; gid:129; )").expect("sid 100 loads");
        assert_eq!(rule.action, Action::Drop);
        assert_eq!(stream_events(&rule), vec![9]);
    }

    #[test]
    fn preprocessor_rules_nfips_cannot_raise_are_unsupported() {
        assert_eq!(
            unsupported_keyword(r#"alert ( msg:"STREAM5_WINDOW_SLAM"; sid:19; gid:129; )"#),
            "preprocessor rule gid:129 sid:19"
        );
        assert_eq!(
            unsupported_keyword(r#"alert ( msg:"DECODE_BAD"; sid:1; gid:116; )"#),
            "preprocessor rule gid:116"
        );
        assert!(matches!(
            parse(r#"alert ( msg:"x"; sid:1; )"#),
            Err(Rejection::Error(m)) if m.contains("header")
        ));
    }

    // ---- unsupported ----

    #[test]
    fn unsupported_keywords_are_named() {
        let cases = [
            (r#"tls.version:1.2;"#, "tls.version"),
            (r#"tls_cert_notbefore:>2015;"#, "tls_cert_notbefore"),
            ("ja3_hash;", "ja3_hash"),
            ("ssl_state:client_hello;", "ssl_state"),
            ("dce_iface:1234;", "dce_iface"),
            ("asn1:oversize_length 10000;", "asn1"),
            ("base64_decode;", "base64_decode"),
            ("frobnicate:1;", "frobnicate"),
        ];
        for (options, keyword) in cases {
            assert_eq!(unsupported_keyword(&opts(options)), keyword, "{options}");
        }
    }

    #[test]
    fn unsupported_stops_before_later_modifiers() {
        // nocase after the unsupported keyword is not read (it would be an error here).
        assert_eq!(
            unsupported_keyword(&opts(r#"asn1:oversize_length 10; nocase;"#)),
            "asn1"
        );
    }

    #[test]
    fn pkt_data_is_a_no_op() {
        let rule = ok(r#"pkt_data; content:"x";"#);
        assert_eq!(rule.detection.len(), 1);
    }

    #[test]
    fn error_before_unsupported_is_an_error() {
        assert!(error(r#"nocase; content:"x"; http_uri;"#).contains("nocase"));
    }

    #[test]
    fn escaped_semicolons_do_not_split_options() {
        let rule = ok(r#"content:"a\;b"; pcre:"/c\;d/";"#);
        assert_eq!(contents(&rule)[0].pattern, b"a;b");
    }

    #[test]
    fn keyword_case_is_ignored() {
        assert!(contents(&ok(r#"Content:"x"; NOCASE;"#))[0].nocase);
    }

    #[test]
    fn parse_number_forms() {
        assert_eq!(parse_number("0x1F"), Ok(31));
        assert_eq!(parse_number("-12"), Ok(-12));
        assert_eq!(parse_number("+3"), Ok(3));
        assert!(parse_number("1a").is_err());
        assert!(parse_number("").is_err());
    }

    // ---- robustness: bad input never panics ----

    const KEYWORDS: &[&str] = &[
        "msg",
        "content",
        "nocase",
        "depth",
        "offset",
        "distance",
        "within",
        "fast_pattern",
        "pcre",
        "isdataat",
        "byte_test",
        "byte_jump",
        "byte_extract",
        "dsize",
        "flags",
        "flow",
        "flowbits",
        "threshold",
        "detection_filter",
        "ttl",
        "tos",
        "id",
        "ipopts",
        "fragbits",
        "ip_proto",
        "itype",
        "icode",
        "icmp_id",
        "icmp_seq",
        "seq",
        "ack",
        "window",
        "sticky-drop",
        "classtype",
        "reference",
        "priority",
        "gid",
        "rev",
        "metadata",
    ];

    proptest::proptest! {
        #[test]
        fn arbitrary_rule_text_never_panics(text in "[ -~]{0,160}") {
            let _ = parse(&text);
        }

        #[test]
        fn arbitrary_option_arguments_never_panic(
            picks in proptest::collection::vec((0..KEYWORDS.len(), "[a-z0-9_ ,.:!<>=&|^*+\"/\\\\$-]{0,24}"), 1..5)
        ) {
            let options: String = picks
                .iter()
                .map(|(k, arg)| format!("{}:{arg}; ", KEYWORDS[*k]))
                .collect();
            let _ = parse(&opts(&format!("content:\"abcdef\"; {options}")));
        }

        #[test]
        fn arbitrary_headers_never_panic(
            src in "[!\\[\\]$a-zA-Z0-9_.:/, ]{1,30}",
            port in "[!\\[\\]$a-zA-Z0-9_:, ]{1,20}",
        ) {
            let _ = parse(&format!("alert tcp {src} {port} -> any any (sid:1;)"));
        }
    }
}

#[cfg(test)]
#[path = "parse_http_tests.rs"]
mod http_tests;
