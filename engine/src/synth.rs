//! Synthetic traffic for the benchmark: web sessions, a web/DNS/ICMP mix, and a SYN flood.
//!
//! Deterministic for a seed, so a figure can be reproduced and the same traffic written to a
//! pcap (`nfips bench --write-pcap`) and fed to other tools. Web sessions are whole TCP
//! conversations (handshake, a request with realistic headers, a text or binary response split
//! into MSS-sized segments with ACKs, FIN), interleaved so that many flows are live at once as on
//! a real link. Not a traffic model of any particular network, and not for the packet path: it
//! allocates freely.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

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
    /// SYNs from `flows` distinct spoofed sources to one server, nothing else.
    SynFlood,
}

impl std::str::FromStr for SynthKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "web" => Ok(SynthKind::Web),
            "mixed" => Ok(SynthKind::Mixed),
            "synflood" => Ok(SynthKind::SynFlood),
            other => Err(format!(
                "unknown synthetic traffic `{other}` (use web, mixed or synflood)"
            )),
        }
    }
}

/// What to generate and how much.
#[derive(Clone, Debug)]
pub struct SynthOptions {
    pub kind: SynthKind,
    /// Web: distinct client flows (reused round robin when the byte budget needs more
    /// sessions). SYN flood: distinct sources.
    pub flows: u32,
    /// Stop once this many bytes of frames were generated (web and mixed).
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

fn response(rng: &mut Rng) -> Vec<u8> {
    // Mostly small objects, some large ones, as on the web.
    let size = match rng.below(10) {
        0..=5 => 500 + rng.below(8_000),
        6..=8 => 8_000 + rng.below(40_000),
        _ => 48_000 + rng.below(200_000),
    } as usize;
    let text = rng.below(2) == 0;
    let mut body = Vec::with_capacity(size);
    if text {
        while body.len() < size {
            body.extend_from_slice(rng.pick(WORDS).as_bytes());
            body.push(b' ');
        }
    } else {
        while body.len() < size {
            body.extend_from_slice(&rng.next().to_le_bytes());
        }
    }
    body.truncate(size);
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

fn web_session(rng: &mut Rng, index: u32) -> Vec<Vec<u8>> {
    let client = SocketAddr::new(
        IpAddr::V4(client_addr(index)),
        1024 + (rng.below(60_000) as u16),
    );
    let server = SocketAddr::new(IpAddr::V4(SERVER), 80);
    let mut conversation =
        TcpConversation::new(&client.to_string(), &server.to_string()).link(SYNTH_LINK);
    conversation.handshake();
    for _ in 0..1 + rng.below(3) {
        conversation.client_sends(&request(rng), &[]);
        let reply = response(rng);
        // ACK every second segment, as delayed ACKs do.
        for chunk in reply.chunks(2 * MSS) {
            conversation.server_sends(chunk, &[MSS]);
        }
    }
    conversation.close();
    conversation
        .into_packets()
        .into_iter()
        .map(|(_, frame)| frame)
        .collect()
}

fn dns_exchange(rng: &mut Rng, index: u32) -> Vec<Vec<u8>> {
    let client = format!("{}:{}", client_addr(index), 1024 + rng.below(60_000));
    let server = format!("{DNS_SERVER}:53");
    let id = rng.below(65_536) as u16;
    let name: &[u8] = b"\x03www\x07example\x03com\x00";
    let mut query = id.to_be_bytes().to_vec();
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    query.extend_from_slice(name);
    query.extend_from_slice(&[0, 1, 0, 1]);
    let mut answer = query.clone();
    answer[2] = 0x81;
    answer[3] = 0x80;
    answer[7] = 1;
    answer.extend_from_slice(&[
        0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 198, 19, 1, 1,
    ]);
    vec![
        PacketBuilder::udp(&client, &server)
            .payload(&query)
            .link(SYNTH_LINK)
            .build(),
        PacketBuilder::udp(&server, &client)
            .payload(&answer)
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
    loop {
        while live.len() < concurrency && produced < options.bytes {
            let index = session % options.flows.max(1);
            session = session.wrapping_add(1);
            let mut packets = web_session(&mut rng, index);
            if options.kind == SynthKind::Mixed {
                packets.extend(dns_exchange(&mut rng, index));
                if rng.below(2) == 0 {
                    packets.extend(ping(&mut rng, index));
                }
            }
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
        let options = SynthOptions {
            bytes: 200_000,
            ..Default::default()
        };
        assert_eq!(collect(&options), collect(&options));
        assert_ne!(
            collect(&options),
            collect(&SynthOptions { seed: 2, ..options })
        );
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
}
