//! Synthetic traffic for the benchmark: web sessions, a web/DNS/ICMP mix, a gateway's mix of
//! protocols ([`gateway`]), and a SYN flood.
//!
//! Deterministic for a seed, so a figure can be reproduced and the same traffic written to a
//! pcap (`nfips bench --write-pcap`) and fed to other tools. Web sessions are whole TCP
//! conversations (handshake, a request with realistic headers, a text or binary response split
//! into MSS-sized segments with ACKs, FIN), interleaved so that many flows are live at once as on
//! a real link. Not a traffic model of any particular network, and not for the packet path: it
//! allocates freely.

mod gateway;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::applayer::dns;
use crate::craft::{PacketBuilder, TcpConversation};
use crate::decode::LinkType;
use crate::source::pcap::Timestamp;

/// Which traffic to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthKind {
    /// HTTP/1.1 sessions only.
    Web,
    /// Web sessions with DNS queries/answers over UDP and ICMP echo between them.
    Mixed,
    /// A gateway's mix: TLS, QUIC-like UDP 443 and bulk transfers carry most bytes, then HTTP,
    /// SMB2, SSH and DNS; IPv4 and some IPv6 (see [`gateway`]).
    Gateway,
    /// SYNs from `flows` distinct spoofed sources to one server, nothing else.
    SynFlood,
}

impl std::str::FromStr for SynthKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "web" => Ok(SynthKind::Web),
            "mixed" => Ok(SynthKind::Mixed),
            "gateway" => Ok(SynthKind::Gateway),
            "synflood" => Ok(SynthKind::SynFlood),
            other => Err(format!(
                "unknown synthetic traffic `{other}` (use web, mixed, gateway or synflood)"
            )),
        }
    }
}

/// What to generate and how much.
#[derive(Clone, Debug)]
pub struct SynthOptions {
    pub kind: SynthKind,
    /// Web: distinct client flows (reused round robin when the byte budget needs more
    /// sessions). Gateway: client hosts (at most 254 per address family). SYN flood: distinct
    /// sources.
    pub flows: u32,
    /// Stop once this many bytes of frames were generated (web, mixed and gateway).
    pub bytes: u64,
    pub seed: u64,
    /// Sessions in progress at once (their packets interleave).
    pub concurrency: usize,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            kind: SynthKind::Web,
            flows: 1000,
            bytes: 64 << 20,
            seed: 1,
            concurrency: 64,
        }
    }
}

/// Link type of generated frames.
pub const SYNTH_LINK: LinkType = LinkType::Ethernet;
/// Time between consecutive generated packets.
const PACKET_GAP_MICROS: u64 = 5;
const START_SECONDS: u64 = 1_700_000_000;

/// SplitMix64: tiny, fast and good enough to vary sizes and bytes reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "curl/8.5.0",
    "Debian APT-HTTP/1.3 (2.6.1)",
];
const HOSTS: &[&str] = &[
    "www.example.com",
    "cdn.example.net",
    "api.example.org",
    "static.example.com",
    "news.example.com",
];
const PATHS: &[&str] = &[
    "/",
    "/index.html",
    "/static/app.js",
    "/images/logo.png",
    "/api/v1/items",
    "/search",
    "/news/2024/article",
    "/css/site.css",
    "/downloads/file.tar.gz",
];
const WORDS: &[&str] = &[
    "the",
    "network",
    "gateway",
    "packet",
    "stream",
    "server",
    "client",
    "session",
    "window",
    "data",
    "user",
    "content",
    "page",
    "search",
    "result",
    "system",
    "update",
    "version",
    "release",
    "security",
    "policy",
    "http",
    "<div class=\"item\">",
    "</div>",
    "<p>",
    "</p>",
    "<a href=\"/news\">",
    "</a>",
    "\n",
    "function",
    "return",
    "var",
];

fn request(rng: &mut Rng) -> Vec<u8> {
    let path = rng.pick(PATHS);
    let query = if rng.below(3) == 0 {
        format!(
            "?q={}&page={}",
            rng.pick(WORDS).trim_matches(|c: char| !c.is_alphanumeric()),
            rng.below(50)
        )
    } else {
        String::new()
    };
    format!(
        "GET {path}{query} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\nCookie: session={:016x}; theme=light\r\nConnection: keep-alive\r\n\r\n",
        rng.pick(HOSTS),
        rng.pick(USER_AGENTS),
        rng.next()
    )
    .into_bytes()
}

/// `len` bytes that look like compressed or encrypted data.
fn random_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len.next_multiple_of(8));
    while out.len() < len {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The size of a web object: mostly small, some large, as on the web.
fn object_size(rng: &mut Rng) -> usize {
    (match rng.below(10) {
        0..=5 => 500 + rng.below(8_000),
        6..=8 => 8_000 + rng.below(40_000),
        _ => 48_000 + rng.below(200_000),
    }) as usize
}

fn response(rng: &mut Rng) -> Vec<u8> {
    let size = object_size(rng);
    let text = rng.below(2) == 0;
    let body = if text {
        let mut body = Vec::with_capacity(size);
        while body.len() < size {
            body.extend_from_slice(rng.pick(WORDS).as_bytes());
            body.push(b' ');
        }
        body.truncate(size);
        body
    } else {
        random_bytes(rng, size)
    };
    let kind = if text {
        "text/html; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\nServer: nginx/1.24.0\r\nContent-Type: {kind}\r\nContent-Length: {size}\r\nCache-Control: max-age=3600\r\nConnection: keep-alive\r\n\r\n"
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

fn client_addr(index: u32) -> Ipv4Addr {
    // 198.18.0.0/15, the benchmarking range (RFC 2544).
    Ipv4Addr::from(0xC612_0000 | (index & 0x1_ffff))
}

const SERVER: Ipv4Addr = Ipv4Addr::new(198, 19, 255, 1);
const DNS_SERVER: Ipv4Addr = Ipv4Addr::new(198, 19, 255, 53);
const MSS: usize = 1460;

/// A client port for a session: random, from 1024 up.
fn ephemeral_port(rng: &mut Rng) -> u16 {
    1024 + rng.below(60_000) as u16
}

/// A TCP conversation in [`SYNTH_LINK`] frames.
fn conversation(client: SocketAddr, server: SocketAddr) -> TcpConversation {
    TcpConversation::new(&client.to_string(), &server.to_string()).link(SYNTH_LINK)
}

/// `data` from one side in segments of `mss` bytes, the other side ACKing every second
/// segment as delayed ACKs do.
fn send(conversation: &mut TcpConversation, from_client: bool, data: &[u8], mss: usize) {
    for chunk in data.chunks(2 * mss) {
        if from_client {
            conversation.client_sends(chunk, &[mss]);
        } else {
            conversation.server_sends(chunk, &[mss]);
        }
    }
}

/// The conversation closed (FIN both ways), as frames.
fn closed(mut conversation: TcpConversation) -> Vec<Vec<u8>> {
    conversation.close();
    conversation
        .into_packets()
        .into_iter()
        .map(|(_, frame)| frame)
        .collect()
}

/// An HTTP/1.1 session of one to three requests and their responses, `mss`-byte segments.
fn web_session(rng: &mut Rng, client: SocketAddr, server: SocketAddr, mss: usize) -> Vec<Vec<u8>> {
    let mut conversation = conversation(client, server);
    conversation.handshake();
    for _ in 0..1 + rng.below(3) {
        send(&mut conversation, true, &request(rng), mss);
        send(&mut conversation, false, &response(rng), mss);
    }
    closed(conversation)
}

/// A DNS query for `name` (type A) and its answer, `answer`.
fn dns_exchange(
    rng: &mut Rng,
    client: SocketAddr,
    server: SocketAddr,
    name: &str,
    answer: Ipv4Addr,
) -> Vec<Vec<u8>> {
    let (client, server) = (client.to_string(), server.to_string());
    let id = rng.below(65_536) as u16;
    let query = dns::build::query(id, 0x0100, name);
    let mut reply = query.clone();
    reply[2] = 0x81;
    reply[3] = 0x80;
    reply[7] = 1;
    reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
    reply.extend_from_slice(&answer.octets());
    vec![
        PacketBuilder::udp(&client, &server)
            .payload(&query)
            .link(SYNTH_LINK)
            .build(),
        PacketBuilder::udp(&server, &client)
            .payload(&reply)
            .link(SYNTH_LINK)
            .build(),
    ]
}

fn ping(rng: &mut Rng, index: u32) -> Vec<Vec<u8>> {
    let (client, server) = (client_addr(index).to_string(), SERVER.to_string());
    let (id, seq) = (rng.below(65_536) as u16, rng.below(65_536) as u16);
    let payload = [0x5au8; 56];
    vec![
        PacketBuilder::icmp_echo(&client, &server, id, seq)
            .payload(&payload)
            .link(SYNTH_LINK)
            .build(),
        PacketBuilder::icmp(&server, &client, 0, 0)
            .payload(&payload)
            .link(SYNTH_LINK)
            .build(),
    ]
}

/// Generate traffic and hand each frame (link type [`SYNTH_LINK`]) with its timestamp to `sink`.
/// Returns the number of packets generated.
pub fn generate(options: &SynthOptions, mut sink: impl FnMut(Timestamp, &[u8])) -> u64 {
    let mut rng = Rng(options.seed);
    let mut clock = START_SECONDS * 1_000_000;
    let mut count = 0u64;
    let mut emit = |frame: &[u8]| {
        clock += PACKET_GAP_MICROS;
        count += 1;
        sink(Timestamp::from_micros(clock), frame);
    };
    if options.kind == SynthKind::SynFlood {
        let server = SocketAddr::new(IpAddr::V4(SERVER), 80);
        for index in 0..options.flows {
            // Distinct sources scattered over 10.0.0.0/8: multiplying by an odd constant is a
            // bijection modulo 2^24, so the first 16 M indexes never repeat.
            let source =
                Ipv4Addr::from(0x0a00_0000 | (index.wrapping_mul(0x9e37_79b1) & 0x00ff_ffff));
            let client = SocketAddr::new(IpAddr::V4(source), 1024 + (rng.below(60_000) as u16));
            let syn = PacketBuilder::tcp_between(client, server)
                .flags(crate::decode::tcp_flags::SYN)
                .seq(rng.next() as u32)
                .mss(1460)
                .link(SYNTH_LINK)
                .build();
            emit(&syn);
        }
        return count;
    }
    let concurrency = options.concurrency.max(1);
    let mut live: Vec<std::collections::VecDeque<Vec<u8>>> = Vec::with_capacity(concurrency);
    let mut produced = 0u64;
    let mut session = 0u32;
    let mut gateway = gateway::Gateway::new(options.flows);
    loop {
        while live.len() < concurrency && produced < options.bytes {
            let index = session % options.flows.max(1);
            session = session.wrapping_add(1);
            let packets = if options.kind == SynthKind::Gateway {
                gateway.session(&mut rng)
            } else {
                let client = IpAddr::V4(client_addr(index));
                let port = ephemeral_port(&mut rng);
                let server = SocketAddr::new(IpAddr::V4(SERVER), 80);
                let mut packets = web_session(&mut rng, SocketAddr::new(client, port), server, MSS);
                if options.kind == SynthKind::Mixed {
                    let port = ephemeral_port(&mut rng);
                    packets.extend(dns_exchange(
                        &mut rng,
                        SocketAddr::new(client, port),
                        SocketAddr::new(IpAddr::V4(DNS_SERVER), 53),
                        "www.example.com",
                        Ipv4Addr::new(198, 19, 1, 1),
                    ));
                    if rng.below(2) == 0 {
                        packets.extend(ping(&mut rng, index));
                    }
                }
                packets
            };
            produced += packets.iter().map(|p| p.len() as u64).sum::<u64>();
            live.push(packets.into());
        }
        if live.is_empty() {
            return count;
        }
        let slot = rng.below(live.len() as u64) as usize;
        match live[slot].pop_front() {
            Some(frame) => emit(&frame),
            None => {
                live.swap_remove(slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, DecodeStats, Transport};

    fn collect(options: &SynthOptions) -> Vec<(Timestamp, Vec<u8>)> {
        let mut out = Vec::new();
        generate(options, |ts, frame| out.push((ts, frame.to_vec())));
        out
    }

    #[test]
    fn same_seed_same_traffic_other_seed_other_traffic() {
        for kind in [SynthKind::Web, SynthKind::Mixed, SynthKind::Gateway] {
            let options = SynthOptions {
                kind,
                bytes: 200_000,
                ..Default::default()
            };
            let traffic = collect(&options);
            assert_eq!(traffic, collect(&options), "{kind:?}");
            assert_ne!(
                traffic,
                collect(&SynthOptions { seed: 2, ..options }),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn web_traffic_decodes_with_valid_checksums_and_reaches_the_byte_budget() {
        let options = SynthOptions {
            bytes: 300_000,
            ..Default::default()
        };
        let packets = collect(&options);
        let total: u64 = packets.iter().map(|(_, p)| p.len() as u64).sum();
        assert!(total >= options.bytes, "{total} bytes");
        let mut stats = DecodeStats::default();
        let mut syns = 0;
        let mut times = packets.iter().map(|(ts, _)| ts.as_micros());
        let mut last = times.next().unwrap();
        for t in times {
            assert!(t > last, "timestamps must increase");
            last = t;
        }
        for (_, frame) in &packets {
            let packet = decode(SYNTH_LINK, frame, true, &mut stats).expect("decodes");
            assert_eq!(packet.checksum, crate::decode::ChecksumStatus::Valid);
            if let Transport::Tcp(tcp) = packet.transport {
                if tcp.flags == crate::decode::tcp_flags::SYN {
                    syns += 1;
                }
            }
        }
        assert!(syns >= 2, "several sessions start");
    }

    #[test]
    fn syn_flood_uses_distinct_sources() {
        let options = SynthOptions {
            kind: SynthKind::SynFlood,
            flows: 5000,
            ..Default::default()
        };
        let packets = collect(&options);
        assert_eq!(packets.len(), 5000);
        let mut stats = DecodeStats::default();
        let sources: std::collections::HashSet<IpAddr> = packets
            .iter()
            .map(|(_, f)| decode(SYNTH_LINK, f, true, &mut stats).unwrap().src)
            .collect();
        assert_eq!(sources.len(), 5000);
    }

    #[test]
    fn mixed_traffic_has_udp_and_icmp() {
        let options = SynthOptions {
            kind: SynthKind::Mixed,
            bytes: 200_000,
            ..Default::default()
        };
        let mut stats = DecodeStats::default();
        let protos: std::collections::HashSet<u8> = collect(&options)
            .iter()
            .map(|(_, f)| decode(SYNTH_LINK, f, true, &mut stats).unwrap().ip_proto)
            .collect();
        assert!(
            protos.contains(&6) && protos.contains(&17) && protos.contains(&1),
            "{protos:?}"
        );
    }

    /// A flow as its client opened it: (client, server) with ports, and the IP protocol.
    type FlowKey = (SocketAddr, SocketAddr, u8);

    /// Flows of a gateway mix by their opening packet (a SYN, or a UDP datagram from a
    /// client), with the frame bytes of each flow.
    fn gateway_flows(packets: &[(Timestamp, Vec<u8>)]) -> std::collections::HashMap<FlowKey, u64> {
        let mut stats = DecodeStats::default();
        let mut flows: std::collections::HashMap<FlowKey, u64> = Default::default();
        for (_, frame) in packets {
            let packet = decode(SYNTH_LINK, frame, true, &mut stats).expect("decodes");
            assert_eq!(packet.checksum, crate::decode::ChecksumStatus::Valid);
            let (sport, dport, opens) = match packet.transport {
                Transport::Tcp(tcp) => (
                    tcp.src_port,
                    tcp.dst_port,
                    tcp.flags == crate::decode::tcp_flags::SYN,
                ),
                Transport::Udp { src_port, dst_port } => (src_port, dst_port, true),
                other => panic!("neither TCP nor UDP: {other:?}"),
            };
            let (src, dst) = (
                SocketAddr::new(packet.src, sport),
                SocketAddr::new(packet.dst, dport),
            );
            let key = if is_client(packet.src) {
                (src, dst, packet.ip_proto)
            } else {
                (dst, src, packet.ip_proto)
            };
            if opens && is_client(packet.src) {
                let fresh = !flows.contains_key(&key);
                // A UDP flow's every datagram from the client "opens" it; a SYN must be new.
                assert!(fresh || key.2 == 17, "5-tuple reused: {key:?}");
                flows.entry(key).or_insert(0);
            }
            *flows
                .get_mut(&key)
                .unwrap_or_else(|| panic!("packet before its flow opened: {key:?}")) +=
                frame.len() as u64;
        }
        flows
    }

    /// Clients are in 198.18.1.0/24 and 2001:db8:1::/64, servers in 198.18.2.0/24 and
    /// 2001:db8:2::/64.
    fn is_client(addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(v4) => match v4.octets() {
                [198, 18, 1, _] => true,
                [198, 18, 2, _] => false,
                _ => panic!("{addr} in neither /24"),
            },
            IpAddr::V6(v6) => match v6.segments() {
                [0x2001, 0xdb8, 1, 0, ..] => true,
                [0x2001, 0xdb8, 2, 0, ..] => false,
                _ => panic!("{addr} in neither /64"),
            },
        }
    }

    #[test]
    fn gateway_mix_has_every_service_in_its_share_over_ipv4_and_ipv6() {
        let options = SynthOptions {
            kind: SynthKind::Gateway,
            bytes: 32 << 20,
            ..Default::default()
        };
        let packets = collect(&options);
        let flows = gateway_flows(&packets);
        let total: u64 = flows.values().sum();
        assert!(total >= options.bytes);
        let share = |udp: bool, ports: &dyn Fn(u16) -> bool| {
            let bytes: u64 = flows
                .iter()
                .filter(|((_, server, proto), _)| (*proto == 17) == udp && ports(server.port()))
                .map(|(_, bytes)| bytes)
                .sum();
            bytes as f64 * 100.0 / total as f64
        };
        let tls = share(false, &|p| p == 443);
        let quic = share(true, &|p| p == 443);
        let high = share(false, &|p| p >= 10_000);
        let http = share(false, &|p| p == 80);
        let (smb, ssh, dns) = (
            share(false, &|p| p == 445),
            share(false, &|p| p == 22),
            share(true, &|p| p == 53),
        );
        let shares = format!(
            "tls {tls:.1} quic {quic:.1} high {high:.1} http {http:.1} smb {smb:.1} ssh {ssh:.1} dns {dns:.1}"
        );
        assert!(
            (tls + high + http + smb + ssh + quic + dns - 100.0).abs() < 0.01,
            "{shares}"
        );
        assert!(
            tls + quic + high >= 65.0,
            "most bytes encrypted or bulk: {shares}"
        );
        assert!((14.0..=20.0).contains(&quic), "{shares}");
        assert!((9.0..=15.0).contains(&http), "{shares}");
        assert!((4.0..=10.0).contains(&smb), "{shares}");
        assert!((2.0..=6.0).contains(&ssh), "{shares}");
        assert!((1.0..=3.0).contains(&dns), "{shares}");
        assert!(high > 0.0, "{shares}");
        let v6 = flows
            .keys()
            .filter(|(client, _, _)| client.is_ipv6())
            .count();
        assert!(
            v6 * 16 > flows.len() && v6 * 5 < flows.len(),
            "{v6} of {} flows over IPv6",
            flows.len()
        );
    }

    #[test]
    fn gateway_mix_replays_cleanly_and_each_service_is_detected() {
        use crate::bench::{run, PacketArena};
        use crate::replay::{load_rules, shared_for_replay};
        use crate::settings::Settings;

        let options = SynthOptions {
            kind: SynthKind::Gateway,
            bytes: 8 << 20,
            seed: 5,
            ..Default::default()
        };
        let packets = collect(&options);
        let flows = gateway_flows(&packets);
        let count = |proto: u8, port: &dyn Fn(u16) -> bool| {
            flows
                .keys()
                .filter(|(_, server, p)| *p == proto && port(server.port()))
                .count() as u64
        };
        let mut arena = PacketArena::default();
        for (ts, frame) in &packets {
            arena.push(*ts, SYNTH_LINK, frame);
        }
        let settings = Settings::default();
        let plan = load_rules(&settings).expect("no rules load").plan;
        let stats = run(&arena, &shared_for_replay(settings, plan), 1, 1).last_iteration;
        assert_eq!(stats.packets, packets.len() as u64);
        assert_eq!(
            (stats.decode_errors, stats.checksum_invalid, stats.dropped),
            (0, 0, 0),
            "{:?}",
            stats.decode_events
        );
        let counter = |prefix: &str, name: &str| {
            stats
                .layer_counters
                .iter()
                .find(|(p, n, _)| *p == prefix && *n == name)
                .map_or(0, |(_, _, v)| *v)
        };
        let tcp_flows = flows.keys().filter(|(_, _, proto)| *proto == 6).count() as u64;
        assert_eq!(counter("stream", "sessions_created"), tcp_flows);
        assert_eq!(counter("stream", "sessions_closed"), tcp_flows);
        let anomalies: Vec<_> = stats
            .layer_counters
            .iter()
            .filter(|(prefix, name, value)| {
                *value > 0
                    && ((*prefix == "event" && *name != "stream.reassembly_depth_reached")
                        || (*prefix == "stream"
                            && !matches!(
                                *name,
                                "segments"
                                    | "sessions_created"
                                    | "sessions_closed"
                                    | "memuse_peak"
                                    | "memuse"
                                    | "sessions"
                                    | "bytes_reassembled"
                                    | "depth_reached"
                                    | "bypassed"
                                    | "view_full_scans"
                            )))
            })
            .collect();
        assert!(anomalies.is_empty(), "{anomalies:?}");
        let expected = [
            ("detected_tls", count(6, &|p| p == 443)),
            ("detected_http", count(6, &|p| p == 80)),
            ("detected_smb", count(6, &|p| p == 445)),
            ("detected_ssh", count(6, &|p| p == 22)),
            ("detected_dns", count(17, &|p| p == 53)),
            // QUIC and raw bulk transfers are no protocol nfips detects.
            (
                "unknown",
                count(17, &|p| p == 443) + count(6, &|p| p >= 10_000),
            ),
        ];
        for (name, flows) in expected {
            assert!(flows > 0, "no flow for {name}");
            assert_eq!(counter("app", name), flows, "app.{name}");
        }
    }
}
