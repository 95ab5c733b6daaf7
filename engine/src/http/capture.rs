//! The HTTP parser over captured packets: decode, TCP reassembly (nfips-stream), then
//! [`HttpInspector::feed`] on each direction's newly contiguous bytes, reporting every event with
//! the packet that caused it. For tests and the `http_pcaps` tool.
//!
//! Not the packet path: no rules, no verdicts, no flow table limits (the worker wires HTTP into
//! detection itself); flows are keyed by their address/port pair, the sender of the first packet
//! seen is the client, and streams may start midstream.

use std::collections::HashMap;
use std::net::IpAddr;

use nfips_stream::{Segment, Side, StreamConfig, StreamTable, TcpFlags};

use super::{Direction, HttpEventView, HttpEvents, HttpInspector, HttpSettings, HttpState};
use crate::decode::{decode, DecodeStats, LinkType, Packet, Transport};

/// Both ends of a flow in canonical (sorted) order.
type FlowKey = (IpAddr, u16, IpAddr, u16);

/// One flow: which canonical end is the client, and its HTTP state.
struct CaptureFlow {
    client_is_first: bool,
    http: HttpState,
}

/// Runs the HTTP parser over the TCP streams of a sequence of packets.
pub struct HttpCapture {
    pub inspector: HttpInspector,
    pub decode_stats: DecodeStats,
    /// Stream bytes handed to the parser.
    pub stream_bytes: u64,
    streams: StreamTable<FlowKey>,
    flows: HashMap<FlowKey, CaptureFlow>,
    events: HttpEvents,
    /// Rules the last packet's events reported, each once per HTTP message.
    alerts: Vec<u32>,
    matched: Vec<u32>,
}

impl HttpCapture {
    pub fn new(settings: HttpSettings) -> Self {
        let config = StreamConfig {
            midstream: true,
            async_oneside: true,
            ..StreamConfig::default()
        };
        HttpCapture {
            inspector: HttpInspector::new(settings),
            decode_stats: DecodeStats::default(),
            stream_bytes: 0,
            streams: StreamTable::new(config),
            flows: HashMap::new(),
            events: HttpEvents::default(),
            alerts: Vec::new(),
            matched: Vec::new(),
        }
    }

    /// Flows seen, and how many of them were found to be HTTP.
    pub fn flow_counts(&self) -> (usize, usize) {
        (
            self.flows.len(),
            self.flows.values().filter(|f| f.http.is_http()).count(),
        )
    }

    /// Rule ids reported by the last [`Self::packet`]'s events, each at most once per HTTP
    /// message ([`HttpState::first_alert`]), in order.
    pub fn alerts(&self) -> &[u32] {
        &self.alerts
    }

    /// Feeds one captured frame; `on_event` sees every HTTP event it caused, in order, as the
    /// view detection reads (the flow's HTTP state, whose buffers hold what the event announces,
    /// and the packet's payload), with the decoded packet, and pushes the ids of the rules that
    /// matched; those that did not already alert on the message land in [`Self::alerts`].
    pub fn packet(
        &mut self,
        link: LinkType,
        frame: &[u8],
        time_us: u64,
        mut on_event: impl FnMut(&HttpEventView, &Packet, &mut Vec<u32>),
    ) {
        self.alerts.clear();
        let Ok(packet) = decode(link, frame, false, &mut self.decode_stats) else {
            return;
        };
        let Transport::Tcp(tcp) = packet.transport else {
            return;
        };
        let src = (packet.src, tcp.src_port);
        let dst = (packet.dst, tcp.dst_port);
        let (key, from_first) = if src <= dst {
            ((src.0, src.1, dst.0, dst.1), true)
        } else {
            ((dst.0, dst.1, src.0, src.1), false)
        };
        let flow = self.flows.entry(key).or_insert_with(|| CaptureFlow {
            client_is_first: from_first,
            http: HttpState::default(),
        });
        let (side, direction) = if from_first == flow.client_is_first {
            (Side::Initiator, Direction::ToServer)
        } else {
            (Side::Responder, Direction::ToClient)
        };
        let segment = Segment {
            side,
            seq: tcp.seq,
            ack: tcp.ack,
            flags: TcpFlags(tcp.flags),
            window: tcp.window,
            window_scale: tcp.options.window_scale,
            timestamp: tcp.options.timestamp,
            urgent_pointer: tcp.urgent_pointer,
            payload: packet.payload,
            time_us,
        };
        let outcome = self.streams.process(&key, &segment);
        let events = &mut self.events;
        if let Some(view) = outcome.view {
            let mut fresh = view.bytes.get(view.new_from..).unwrap_or_default();
            self.stream_bytes += fresh.len() as u64;
            while !fresh.is_empty() {
                let used = self
                    .inspector
                    .feed(&mut flow.http, direction, fresh, events);
                if !events.is_empty() {
                    self.matched.clear();
                    on_event(
                        &HttpEventView {
                            state: &flow.http,
                            direction,
                            events,
                            packet: packet.payload,
                        },
                        &packet,
                        &mut self.matched,
                    );
                    for &rule in &self.matched {
                        if flow.http.first_alert(direction, rule) {
                            self.alerts.push(rule);
                        }
                    }
                }
                fresh = fresh.get(used..).unwrap_or_default();
            }
        }
        if tcp.flags & (TcpFlags::FIN | TcpFlags::RST) != 0 {
            self.inspector.finish(&mut flow.http, direction, events);
            if !events.is_empty() {
                self.matched.clear();
                on_event(
                    &HttpEventView {
                        state: &flow.http,
                        direction,
                        events,
                        packet: packet.payload,
                    },
                    &packet,
                    &mut self.matched,
                );
                for &rule in &self.matched {
                    if flow.http.first_alert(direction, rule) {
                        self.alerts.push(rule);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! HTTP conversations written as pcaps by [`TcpConversation`], read back and parsed: which
    //! packet completes each buffer, and the buffers' contents.

    use std::io::Write;

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;
    use crate::craft::TcpConversation;
    use crate::http::Buffer;
    use crate::source::pcap::PcapReader;

    /// A buffer as an event announced it: packet number (1-based record), direction, contents.
    #[derive(Debug)]
    struct Seen {
        packet: u64,
        direction: Direction,
        buffer: Buffer,
        value: String,
    }

    /// Writes the conversation as a pcap, reads it back and parses it.
    fn run(conversation: &TcpConversation, settings: HttpSettings) -> (Vec<Seen>, HttpCapture) {
        let mut pcap = Vec::new();
        conversation
            .write_pcap(&mut pcap)
            .expect("pcap written to memory");
        let mut reader =
            PcapReader::from_reader("test.pcap", std::io::Cursor::new(pcap)).expect("pcap reads");
        let mut capture = HttpCapture::new(settings);
        let mut seen = Vec::new();
        while let Some(record) = reader.next_record().expect("record reads") {
            let number = record.number;
            capture.packet(
                record.link,
                record.data,
                record.timestamp.as_micros(),
                |view, _, _| {
                    for buffer in view.events.updated.iter() {
                        let value = view
                            .state
                            .buffer(view.direction, buffer)
                            .unwrap_or_default();
                        seen.push(Seen {
                            packet: number,
                            direction: view.direction,
                            buffer,
                            value: String::from_utf8_lossy(value).into_owned(),
                        });
                    }
                },
            );
        }
        (seen, capture)
    }

    /// The last value announced for `buffer`, and the packet that first announced it.
    fn get(seen: &[Seen], buffer: Buffer) -> (u64, &str) {
        let first = seen
            .iter()
            .find(|s| s.buffer == buffer)
            .unwrap_or_else(|| panic!("{buffer} never ready"));
        let last = seen
            .iter()
            .rev()
            .find(|s| s.buffer == buffer)
            .map_or("", |s| s.value.as_str());
        (first.packet, last)
    }

    fn conversation() -> TcpConversation {
        let mut conversation = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:8080");
        conversation.handshake();
        conversation
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).expect("gzip to memory");
        encoder.finish().expect("gzip to memory")
    }

    #[test]
    fn uri_is_ready_on_the_packet_that_ends_the_request_line() {
        let mut conversation = conversation();
        // Packets 1-3 handshake; 4 "GET /", 5 "evil HTTP/", 6 "1.1\r\nHost:", 7 the rest.
        conversation.client_sends(
            b"GET /evil HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n",
            &[5, 10, 10],
        );
        let (seen, _) = run(&conversation, HttpSettings::default());
        assert_eq!(get(&seen, Buffer::HttpUri), (6, "/evil"));
        assert_eq!(get(&seen, Buffer::HttpHeader), (7, "Host: 10.0.0.2\r\n"));
    }

    #[test]
    fn every_request_buffer_from_a_pcap() {
        let mut conversation = conversation();
        conversation.client_sends(
            b"POST /a//b/../c%2e%2ephp?x=%3Cs%3E HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: evil-agent\r\nCookie: s=%41\r\nContent-Length: 4\r\n\r\nbody",
            &[],
        );
        let (seen, capture) = run(&conversation, HttpSettings::default());
        assert_eq!(get(&seen, Buffer::HttpMethod).1, "POST");
        assert_eq!(get(&seen, Buffer::HttpUri).1, "/a/c..php?x=<s>");
        assert_eq!(
            get(&seen, Buffer::HttpRawUri).1,
            "/a//b/../c%2e%2ephp?x=%3Cs%3E"
        );
        assert_eq!(get(&seen, Buffer::HttpProtocol).1, "HTTP/1.1");
        assert_eq!(get(&seen, Buffer::HttpHost).1, "example.com");
        assert_eq!(get(&seen, Buffer::HttpRawHost).1, "Example.COM:8080");
        assert_eq!(get(&seen, Buffer::HttpUserAgent).1, "evil-agent");
        assert_eq!(get(&seen, Buffer::HttpCookie).1, "s=A");
        assert_eq!(get(&seen, Buffer::HttpRawCookie).1, "s=%41");
        assert_eq!(get(&seen, Buffer::HttpClientBody).1, "body");
        assert!(seen.iter().all(|s| s.direction == Direction::ToServer));
        assert_eq!(capture.flow_counts(), (1, 1));
    }

    #[test]
    fn chunked_gzip_response_from_a_pcap() {
        let mut conversation = conversation();
        conversation.client_sends(b"GET / HTTP/1.1\r\n\r\n", &[]);
        let body = gzip(b"<html>exploit kit landing</html>");
        let mut response =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
                .to_vec();
        for piece in body.chunks(10) {
            response.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            response.extend_from_slice(piece);
            response.extend_from_slice(b"\r\n");
        }
        response.extend_from_slice(b"0\r\n\r\n");
        conversation.server_sends(&response, &[30, 7, 7, 7]);
        let (seen, _) = run(&conversation, HttpSettings::default());
        assert_eq!(get(&seen, Buffer::HttpStatCode).1, "200");
        assert_eq!(get(&seen, Buffer::HttpStatMsg).1, "OK");
        assert_eq!(
            get(&seen, Buffer::FileData).1,
            "<html>exploit kit landing</html>"
        );
        assert!(seen
            .iter()
            .filter(|s| s.buffer == Buffer::FileData)
            .all(|s| s.direction == Direction::ToClient));
    }

    #[test]
    fn pipelined_requests_from_a_pcap() {
        let mut conversation = conversation();
        conversation.client_sends(
            b"GET /first HTTP/1.1\r\n\r\nGET /second HTTP/1.1\r\n\r\n",
            &[],
        );
        conversation.server_sends(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 No\r\nContent-Length: 1\r\n\r\nb", &[]);
        let (seen, capture) = run(&conversation, HttpSettings::default());
        let uris: Vec<&str> = seen
            .iter()
            .filter(|s| s.buffer == Buffer::HttpUri)
            .map(|s| s.value.as_str())
            .collect();
        assert_eq!(uris, ["/first", "/second"]);
        let codes: Vec<&str> = seen
            .iter()
            .filter(|s| s.buffer == Buffer::HttpStatCode)
            .map(|s| s.value.as_str())
            .collect();
        assert_eq!(codes, ["200", "404"]);
        assert_eq!(
            (
                capture.inspector.counters.requests,
                capture.inspector.counters.responses
            ),
            (2, 2)
        );
    }

    #[test]
    fn thousand_to_one_body_from_a_pcap_is_capped_and_counted() {
        let mut conversation = conversation();
        conversation.client_sends(b"GET /bomb HTTP/1.1\r\n\r\n", &[]);
        let body = gzip(&vec![b'A'; 2_000_000]);
        assert!(body.len() * 1000 <= 2_000_000, "ratio below 1000:1");
        let mut response = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        response.extend_from_slice(&body);
        conversation.server_sends(&response, &[]);
        let (seen, capture) = run(&conversation, HttpSettings::default());
        assert_eq!(
            get(&seen, Buffer::FileData).1.len(),
            HttpSettings::default().response_body_depth
        );
        assert_eq!(capture.inspector.counters.response_body_depth_reached, 1);
    }

    #[test]
    fn ipv6_conversation_is_parsed() {
        let mut conversation = TcpConversation::new("[2001:db8::1]:40000", "[2001:db8::2]:80");
        conversation
            .handshake()
            .client_sends(b"GET /v6 HTTP/1.1\r\n\r\n", &[3])
            .close();
        let (seen, _) = run(&conversation, HttpSettings::default());
        assert_eq!(get(&seen, Buffer::HttpUri).1, "/v6");
    }

    #[test]
    fn response_until_close_ends_with_the_fin() {
        let mut conversation = conversation();
        conversation.client_sends(b"GET / HTTP/1.0\r\n\r\n", &[]);
        conversation.server_sends(b"HTTP/1.0 200 OK\r\n\r\nno length", &[]);
        conversation.close();
        let (seen, capture) = run(&conversation, HttpSettings::default());
        assert_eq!(get(&seen, Buffer::FileData).1, "no length");
        assert_eq!(capture.inspector.counters.responses, 1);
    }

    #[test]
    fn non_http_on_port_80_is_counted_not_parsed() {
        let mut conversation = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:80");
        conversation
            .handshake()
            .client_sends(b"\x16\x03\x01\x00\x05hello", &[]);
        let (seen, capture) = run(&conversation, HttpSettings::default());
        assert!(seen.is_empty());
        assert_eq!(capture.inspector.counters.not_http, 1);
        assert_eq!(capture.flow_counts(), (1, 0));
    }
}

#[cfg(test)]
pub(crate) mod detection_tests {
    //! Crafted HTTP pcaps through the parser and [`RuleSet::detect_app`]: which rule alerts on
    //! which packet.

    use std::io::Write;
    use std::sync::Arc;

    use flate2::write::GzEncoder;
    use flate2::Compression;
    use nfips_rules::ast::Origin;
    use nfips_rules::classification::Classifications;
    use nfips_rules::parse::{parse_rule, ParseContext, PcreCache};
    use nfips_rules::ruleset::{
        BufferKind, BuildOptions, FlowBits, FlowContext, IpFields, PacketContext, RuleSet,
        TcpFields,
    };
    use nfips_rules::vars::Vars;

    use super::*;
    use crate::craft::TcpConversation;
    use crate::source::pcap::PcapReader;

    const CLIENT: &str = "10.0.0.1:40000";
    const SERVER: &str = "10.0.0.2:8080";

    pub(crate) fn ruleset(texts: &[&str]) -> RuleSet {
        let classes = Classifications::builtin();
        let mut cache = PcreCache::new();
        let mut vars = Vars::with_defaults();
        let mut ctx = ParseContext {
            vars: &mut vars,
            classes: &classes,
            pcre_cache: &mut cache,
        };
        let rules = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let origin = Origin {
                    file: Arc::from("http.rules"),
                    line: i + 1,
                };
                parse_rule(text, origin, &mut ctx).unwrap_or_else(|e| panic!("{text}: {e:?}"))
            })
            .collect();
        RuleSet::build(rules, &BuildOptions::default())
    }

    /// The context of a packet of the crafted flow in `direction`.
    fn context(direction: Direction) -> PacketContext {
        let client: std::net::SocketAddr = CLIENT.parse().expect("client address");
        let server: std::net::SocketAddr = SERVER.parse().expect("server address");
        let (src, dst) = match direction {
            Direction::ToServer => (client, server),
            Direction::ToClient => (server, client),
        };
        PacketContext {
            ip_proto: 6,
            src: src.ip(),
            dst: dst.ip(),
            src_port: src.port(),
            dst_port: dst.port(),
            ip: IpFields {
                ttl: 64,
                tos: 0,
                id: 0,
                options: 0,
                fragbits: 0,
            },
            tcp: Some(TcpFields {
                flags: 0x18,
                seq: 0,
                ack: 0,
                window: 65535,
            }),
            icmp: None,
            flow: FlowContext {
                established: true,
                to_server: direction == Direction::ToServer,
                app_proto: Some(nfips_rules::ast::AppProto::Http),
            },
            buffer: BufferKind::Stream,
            dsize: 0,
            stream_events: 0,
        }
    }

    /// (packet number, sid) of every alert, in order.
    fn alerts(conversation: &TcpConversation, rules: &[&str]) -> Vec<(u64, u32)> {
        let set = ruleset(rules);
        let mut scratch = set.new_scratch();
        let mut bits = FlowBits::default();
        let mut pcap = Vec::new();
        conversation
            .write_pcap(&mut pcap)
            .expect("pcap written to memory");
        let mut reader =
            PcapReader::from_reader("http.pcap", std::io::Cursor::new(pcap)).expect("pcap reads");
        let mut capture = HttpCapture::new(HttpSettings::default());
        let mut found = Vec::new();
        let mut out = Vec::new();
        while let Some(record) = reader.next_record().expect("record reads") {
            let number = record.number;
            capture.packet(
                record.link,
                record.data,
                record.timestamp.as_micros(),
                |view, _, matched| {
                    out.clear();
                    let ctx = context(view.direction);
                    set.detect_app(&ctx, view, &mut bits, &mut scratch, &mut out);
                    matched.extend(out.iter().map(|id| id.0));
                },
            );
            let rules = set.rules();
            found.extend(
                capture
                    .alerts()
                    .iter()
                    .map(|&r| (number, rules[r as usize].sid)),
            );
        }
        found
    }

    fn conversation() -> TcpConversation {
        let mut conversation = TcpConversation::new(CLIENT, SERVER);
        conversation.handshake();
        conversation
    }

    fn rule(options: &str) -> String {
        format!("drop tcp any any -> any any ({options})")
    }

    #[test]
    fn uri_rule_fires_on_the_packet_completing_the_request_line() {
        let mut conversation = conversation();
        // 4 "GET /", 5 "evil.php H", 6 "TTP/1.1\r\nH", 7 the rest of the headers.
        conversation.client_sends(b"GET /evil.php HTTP/1.1\r\nHost: x\r\n\r\n", &[5, 10, 10]);
        let uri = rule(r#"content:"/evil.php"; http_uri; sid:1;"#);
        let host = rule(r#"content:"x"; http_host; sid:2;"#);
        assert_eq!(alerts(&conversation, &[&uri, &host]), [(6, 1), (7, 2)]);
    }

    #[test]
    fn normalised_uri_matches_and_raw_uri_keeps_the_encoding() {
        let mut conversation = conversation();
        conversation.client_sends(b"GET /a/..//%65tc\\passwd HTTP/1.1\r\n\r\n", &[]);
        let normalised = rule(r#"content:"/etc/passwd"; http_uri; sid:1;"#);
        let raw_decoded = rule(r#"content:"/etc/passwd"; http_raw_uri; sid:2;"#);
        let raw = rule(r#"content:"%65tc"; http_raw_uri; sid:3;"#);
        assert_eq!(
            alerts(&conversation, &[&normalised, &raw_decoded, &raw]),
            [(4, 1), (4, 3)]
        );
    }

    #[test]
    fn file_data_rule_sees_the_decompressed_chunked_body() {
        let mut conversation = conversation();
        conversation.client_sends(b"GET / HTTP/1.1\r\n\r\n", &[]);
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder
            .write_all(b"<html><script>var shellcode=1;</script>")
            .expect("gzip");
        let body = encoder.finish().expect("gzip");
        let mut response =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
                .to_vec();
        response.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        response.extend_from_slice(&body);
        response.extend_from_slice(b"\r\n0\r\n\r\n");
        conversation.server_sends(&response, &[]);
        let file_data = rule(r#"file_data; content:"shellcode"; sid:1;"#);
        let packet = rule(r#"content:"shellcode"; sid:2;"#);
        let found = alerts(&conversation, &[&file_data, &packet]);
        assert!(found.iter().any(|&(_, sid)| sid == 1), "{found:?}");
        assert!(
            found.iter().all(|&(_, sid)| sid != 2),
            "the packet bytes are compressed: {found:?}"
        );
    }

    #[test]
    fn pipelined_requests_alert_on_the_second_only() {
        let mut conversation = conversation();
        conversation.client_sends(b"GET /ok HTTP/1.1\r\n\r\nGET /bad HTTP/1.1\r\n\r\n", &[]);
        let bad = rule(r#"content:"/bad"; http_uri; sid:7;"#);
        assert_eq!(alerts(&conversation, &[&bad]), [(4, 7)]);
    }

    #[test]
    fn response_rules_see_status_cookie_and_the_requests_uri() {
        let mut conversation = conversation();
        conversation.client_sends(b"GET /dl.php HTTP/1.1\r\n\r\n", &[]);
        conversation.server_sends(
            b"HTTP/1.1 404 Not Found\r\nSet-Cookie: sess=%41%42\r\nContent-Length: 0\r\n\r\n",
            &[],
        );
        let status = rule(
            r#"flow:to_client; content:"404"; http_stat_code; content:"/dl.php"; http_uri; sid:1;"#,
        );
        let cookie = rule(r#"content:"sess=AB"; http_cookie; sid:2;"#);
        let message = rule(r#"pcre:"/^Not\s+Found$/Y"; sid:3;"#);
        let found = alerts(&conversation, &[&status, &cookie, &message]);
        let sids: Vec<u32> = found.iter().map(|&(_, sid)| sid).collect();
        // The status line completes first (sids 1 and 3), the headers then (sid 2).
        assert_eq!(sids, [1, 3, 2]);
        assert!(found.iter().all(|&(packet, _)| packet == 6), "{found:?}");
    }

    #[test]
    fn body_rule_alerts_once_per_message_as_the_body_grows() {
        let mut conversation = conversation();
        conversation.client_sends(
            b"GET /a.exe HTTP/1.1\r\n\r\nGET /b.exe HTTP/1.1\r\n\r\n",
            &[],
        );
        // Packet 6: the 39 header bytes and "M"; 7: "Z\x90\x00a" (the match), 8 and 9 more
        // body; 9 also starts the second response, whose body "MZ" arrives in packet 10.
        conversation.server_sends(
            b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nMZ\x90\x00abcdefghHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nMZ",
            &[40, 4, 4, 4],
        );
        let exe = rule(r#"file_data; content:"MZ"; depth:2; sid:9;"#);
        assert_eq!(alerts(&conversation, &[&exe]), [(7, 9), (10, 9)]);
    }

    #[test]
    fn uri_content_in_the_body_does_not_alert() {
        let mut conversation = conversation();
        conversation.client_sends(
            b"POST /form HTTP/1.1\r\nContent-Length: 8\r\n\r\n/evil.js",
            &[],
        );
        let uri = rule(r#"content:"/evil.js"; http_uri; sid:1;"#);
        let body = rule(r#"content:"/evil.js"; http_client_body; sid:2;"#);
        assert_eq!(alerts(&conversation, &[&uri, &body]), [(4, 2)]);
    }
}

#[cfg(test)]
mod detector_tests {
    //! The packet path's HTTP step: [`crate::detect::Detector::inspect_tcp`] with an
    //! [`crate::detect::HttpInput`] drops the packet that completes the matching part.

    use std::sync::Arc;

    use nfips_rules::ast::Origin;
    use nfips_rules::classification::Classifications;
    use nfips_rules::parse::{parse_rule, ParseContext, PcreCache};
    use nfips_rules::ruleset::{
        BufferKind, BuildOptions, FlowBits, FlowContext, IpFields, PacketContext, RuleSet,
        TcpFields,
    };
    use nfips_rules::vars::Vars;

    use crate::detect::{
        DetectionPlan, Detector, HttpInput, PacketAction, PendingSlot, TcpData, TcpView,
    };
    use crate::http::{Direction, HttpState};
    use crate::settings::Settings;
    use crate::tuning::ThresholdConfig;

    fn detector(texts: &[&str]) -> Detector {
        let classes = Classifications::builtin();
        let mut cache = PcreCache::new();
        let mut vars = Vars::with_defaults();
        let mut ctx = ParseContext {
            vars: &mut vars,
            classes: &classes,
            pcre_cache: &mut cache,
        };
        let rules = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let origin = Origin {
                    file: Arc::from("http.rules"),
                    line: i + 1,
                };
                parse_rule(text, origin, &mut ctx).unwrap_or_else(|e| panic!("{text}: {e:?}"))
            })
            .collect();
        let set = Arc::new(RuleSet::build(rules, &BuildOptions::default()));
        let plan = DetectionPlan::new(set, &Settings::default(), &ThresholdConfig::default());
        Detector::new(Arc::new(plan))
    }

    fn ctx() -> PacketContext {
        PacketContext {
            ip_proto: 6,
            src: "10.0.0.1".parse().expect("address"),
            dst: "10.0.0.2".parse().expect("address"),
            src_port: 40000,
            dst_port: 80,
            ip: IpFields {
                ttl: 64,
                tos: 0,
                id: 0,
                options: 0,
                fragbits: 0,
            },
            tcp: Some(TcpFields {
                flags: 0x18,
                seq: 0,
                ack: 0,
                window: 65535,
            }),
            icmp: None,
            flow: FlowContext {
                established: true,
                to_server: true,
                app_proto: Some(nfips_rules::ast::AppProto::Http),
            },
            buffer: BufferKind::Packet,
            dsize: 0,
            stream_events: 0,
        }
    }

    /// The action for each segment of a request sent in `segments`.
    fn actions(detector: &mut Detector, segments: &[&[u8]]) -> Vec<PacketAction> {
        let mut state = HttpState::default();
        let mut bits = FlowBits::default();
        let mut stream = Vec::new();
        let mut pending_slot = 0u32;
        segments
            .iter()
            .map(|segment| {
                let new_from = stream.len();
                stream.extend_from_slice(segment);
                let http = HttpInput {
                    state: &mut state,
                    direction: Direction::ToServer,
                    new_bytes: segment,
                };
                let data = TcpData {
                    payload: segment,
                    view: Some((
                        TcpView {
                            bytes: &stream,
                            new_from,
                            stream_offset: 0,
                        },
                        PendingSlot {
                            flow_id: 1,
                            to_server: true,
                            slot: &mut pending_slot,
                        },
                    )),
                    http: Some(http),
                    app: None,
                };
                detector.inspect_tcp(&ctx(), data, &mut bits, 0, false);
                detector.decision().action
            })
            .collect()
    }

    #[test]
    fn drop_rule_drops_the_segment_that_ends_the_uri() {
        let mut detector =
            detector(&[r#"drop tcp any any -> any 80 (content:"/cmd.exe"; http_uri; sid:1;)"#]);
        let got = actions(
            &mut detector,
            &[
                b"GET /scripts/..%2f",
                b"cmd.exe HTTP/1.1\r\n",
                b"Host: x\r\n\r\n",
            ],
        );
        assert_eq!(
            got,
            [
                PacketAction::Accept,
                PacketAction::Drop,
                PacketAction::Accept
            ]
        );
        assert_eq!(detector.http_counters().requests, 1);
    }

    #[test]
    fn header_rule_drops_the_segment_that_ends_the_headers() {
        let mut detector = detector(&[
            r#"drop tcp any any -> any 80 (content:"sqlmap"; http_user_agent; sid:2;)"#,
        ]);
        let got = actions(
            &mut detector,
            &[b"GET / HTTP/1.1\r\nUser-Agent: sqlmap/1.0\r\n", b"\r\n"],
        );
        assert_eq!(got, [PacketAction::Accept, PacketAction::Drop]);
    }
}
