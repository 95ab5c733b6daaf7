//! Building packets for tests and the benchmark: a small `Repr`-style builder
//! ([`PacketBuilder`]) for IPv4/IPv6 + TCP/UDP/ICMP/ICMPv6/any protocol, raw or in Ethernet
//! (with VLAN tags) or another link type, IPv4 fragments and IPv6 fragment headers, correct
//! checksums by default and switches to corrupt them; and [`TcpConversation`], which writes
//! whole TCP conversations (handshake, data split at given segment sizes, close).
//!
//! ```
//! use nfips_engine::craft::{PacketBuilder, TcpConversation};
//! use nfips_engine::decode::tcp_flags::{ACK, PSH};
//!
//! let frame = PacketBuilder::tcp("10.0.0.1:40000", "10.0.0.2:80")
//!     .flags(PSH | ACK)
//!     .seq(1000)
//!     .payload(b"GET / HTTP/1.0\r\n\r\n")
//!     .ethernet()
//!     .build();
//! let mut conversation = TcpConversation::new("10.0.0.1:40000", "10.0.0.2:80");
//! conversation.handshake().client_sends(b"GET / HTTP/1.0\r\n\r\n", &[4, 100]).close();
//! // handshake, two data segments (4 bytes, then the other 14) and the ACK, FIN/FIN/ACK
//! assert_eq!(conversation.packets().len(), 3 + 2 + 1 + 3);
//! ```
//!
//! Not for the packet path: it allocates freely. Addresses given as strings must parse (test
//! inputs); a bad one panics with the string in the message.

use std::net::{IpAddr, SocketAddr};

use crate::decode::{internet_checksum, tcp_flags, transport_checksum, LinkType};
use crate::source::pcap::{PcapWriter, Timestamp};

/// Ethernet addresses used in crafted frames.
pub const CRAFT_SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const CRAFT_DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// TTL / hop limit of crafted packets unless set.
pub const CRAFT_DEFAULT_TTL: u8 = 64;
/// TCP window of crafted packets unless set.
pub const CRAFT_DEFAULT_WINDOW: u16 = 65535;

fn socket(addr: &str) -> SocketAddr {
    addr.parse()
        .unwrap_or_else(|_| panic!("craft: `{addr}` is not an address:port"))
}

fn ip(addr: &str) -> IpAddr {
    addr.parse()
        .unwrap_or_else(|_| panic!("craft: `{addr}` is not an IP address"))
}

/// The layer-4 part of a crafted packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum L4Repr {
    Tcp(TcpRepr),
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    /// ICMP or ICMPv6 (by the address family); `rest` is the 4 bytes after the checksum
    /// (id and sequence for echo).
    Icmp {
        itype: u8,
        icode: u8,
        rest: [u8; 4],
    },
    /// Any protocol: the payload follows the IP header as it is.
    Raw {
        proto: u8,
    },
}

/// A TCP header to build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub urgent_pointer: u16,
    /// Raw option bytes (padded with zeros, i.e. end-of-list, to 4 bytes when built).
    pub options: Vec<u8>,
}

/// Builds one packet. Start with [`tcp`](PacketBuilder::tcp), [`udp`](PacketBuilder::udp),
/// [`icmp_echo`](PacketBuilder::icmp_echo), [`icmp`](PacketBuilder::icmp) or
/// [`ip`](PacketBuilder::ip); finish with [`build`](PacketBuilder::build) (in the chosen link
/// type, raw IP by default) or [`fragments`](PacketBuilder::fragments).
#[derive(Clone, Debug)]
pub struct PacketBuilder {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub tos: u8,
    /// IPv4 identification (low 16 bits), or the IPv6 fragment id.
    pub ip_id: u32,
    pub dont_fragment: bool,
    pub reserved_bit: bool,
    /// Raw IPv4 option bytes (padded with EOL to 4 bytes).
    pub ipv4_options: Vec<u8>,
    /// IPv6 extension headers as (header type, body after next-header and length bytes);
    /// bodies are padded to the header's unit.
    pub ipv6_ext_headers: Vec<(u8, Vec<u8>)>,
    pub l4: L4Repr,
    pub payload: Vec<u8>,
    pub link: LinkType,
    pub vlans: Vec<u16>,
    pub bad_ip_checksum: bool,
    pub bad_l4_checksum: bool,
}

impl PacketBuilder {
    fn new(src: IpAddr, dst: IpAddr, l4: L4Repr) -> PacketBuilder {
        PacketBuilder {
            src,
            dst,
            ttl: CRAFT_DEFAULT_TTL,
            tos: 0,
            ip_id: 1,
            dont_fragment: false,
            reserved_bit: false,
            ipv4_options: Vec::new(),
            ipv6_ext_headers: Vec::new(),
            l4,
            payload: Vec::new(),
            link: LinkType::RawIp,
            vlans: Vec::new(),
            bad_ip_checksum: false,
            bad_l4_checksum: false,
        }
    }

    /// A TCP packet (flags ACK, seq/ack 0, window [`CRAFT_DEFAULT_WINDOW`]).
    pub fn tcp(src: &str, dst: &str) -> PacketBuilder {
        let (s, d) = (socket(src), socket(dst));
        PacketBuilder::tcp_between(s, d)
    }

    pub fn tcp_between(src: SocketAddr, dst: SocketAddr) -> PacketBuilder {
        let tcp = TcpRepr {
            src_port: src.port(),
            dst_port: dst.port(),
            seq: 0,
            ack: 0,
            flags: tcp_flags::ACK,
            window: CRAFT_DEFAULT_WINDOW,
            urgent_pointer: 0,
            options: Vec::new(),
        };
        PacketBuilder::new(src.ip(), dst.ip(), L4Repr::Tcp(tcp))
    }

    pub fn udp(src: &str, dst: &str) -> PacketBuilder {
        let (s, d) = (socket(src), socket(dst));
        PacketBuilder::new(
            s.ip(),
            d.ip(),
            L4Repr::Udp {
                src_port: s.port(),
                dst_port: d.port(),
            },
        )
    }

    /// An ICMP (IPv4) or ICMPv6 echo request with `id` and `seq`.
    pub fn icmp_echo(src: &str, dst: &str, id: u16, seq: u16) -> PacketBuilder {
        Self::echo(src, dst, id, seq, [8, 128])
    }

    /// The echo reply to [`icmp_echo`](Self::icmp_echo).
    pub fn icmp_echo_reply(src: &str, dst: &str, id: u16, seq: u16) -> PacketBuilder {
        Self::echo(src, dst, id, seq, [0, 129])
    }

    /// An echo message of type `types[0]` (IPv4) or `types[1]` (IPv6).
    fn echo(src: &str, dst: &str, id: u16, seq: u16, types: [u8; 2]) -> PacketBuilder {
        let (s, d) = (ip(src), ip(dst));
        let itype = types[usize::from(s.is_ipv6())];
        let [a, b] = id.to_be_bytes();
        let [c, e] = seq.to_be_bytes();
        PacketBuilder::new(
            s,
            d,
            L4Repr::Icmp {
                itype,
                icode: 0,
                rest: [a, b, c, e],
            },
        )
    }

    /// Any ICMP/ICMPv6 message (the 4 bytes after the checksum are zero).
    pub fn icmp(src: &str, dst: &str, itype: u8, icode: u8) -> PacketBuilder {
        PacketBuilder::new(
            ip(src),
            ip(dst),
            L4Repr::Icmp {
                itype,
                icode,
                rest: [0; 4],
            },
        )
    }

    /// An IP packet of protocol `proto` whose payload is given by [`payload`](Self::payload).
    pub fn ip(src: &str, dst: &str, proto: u8) -> PacketBuilder {
        PacketBuilder::new(ip(src), ip(dst), L4Repr::Raw { proto })
    }

    fn tcp_mut(&mut self) -> &mut TcpRepr {
        match &mut self.l4 {
            L4Repr::Tcp(tcp) => tcp,
            other => panic!("craft: TCP setter on a non-TCP packet ({other:?})"),
        }
    }

    pub fn flags(mut self, flags: u8) -> Self {
        self.tcp_mut().flags = flags;
        self
    }
    pub fn seq(mut self, seq: u32) -> Self {
        self.tcp_mut().seq = seq;
        self
    }
    pub fn ack(mut self, ack: u32) -> Self {
        self.tcp_mut().ack = ack;
        self
    }
    pub fn window(mut self, window: u16) -> Self {
        self.tcp_mut().window = window;
        self
    }
    pub fn urgent_pointer(mut self, pointer: u16) -> Self {
        self.tcp_mut().urgent_pointer = pointer;
        self
    }
    /// Append an MSS option.
    pub fn mss(mut self, mss: u16) -> Self {
        let [a, b] = mss.to_be_bytes();
        self.tcp_mut().options.extend_from_slice(&[2, 4, a, b]);
        self
    }
    /// Append a window-scale option.
    pub fn window_scale(mut self, shift: u8) -> Self {
        self.tcp_mut().options.extend_from_slice(&[1, 3, 3, shift]);
        self
    }
    /// Append a SACK-permitted option.
    pub fn sack_permitted(mut self) -> Self {
        self.tcp_mut().options.extend_from_slice(&[1, 1, 4, 2]);
        self
    }
    /// Append a timestamps option.
    pub fn timestamps(mut self, tsval: u32, tsecr: u32) -> Self {
        let options = &mut self.tcp_mut().options;
        options.extend_from_slice(&[1, 1, 8, 10]);
        options.extend_from_slice(&tsval.to_be_bytes());
        options.extend_from_slice(&tsecr.to_be_bytes());
        self
    }
    /// Append raw TCP option bytes (for malformed options).
    pub fn tcp_options_raw(mut self, bytes: &[u8]) -> Self {
        self.tcp_mut().options.extend_from_slice(bytes);
        self
    }

    pub fn payload(mut self, payload: &[u8]) -> Self {
        self.payload = payload.to_vec();
        self
    }
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = ttl;
        self
    }
    pub fn tos(mut self, tos: u8) -> Self {
        self.tos = tos;
        self
    }
    pub fn ip_id(mut self, id: u32) -> Self {
        self.ip_id = id;
        self
    }
    pub fn dont_fragment(mut self) -> Self {
        self.dont_fragment = true;
        self
    }
    pub fn reserved_bit(mut self) -> Self {
        self.reserved_bit = true;
        self
    }
    /// Append raw IPv4 option bytes, e.g. `[0x07, 7, 4, 0, 0, 0, 0]` for record-route.
    pub fn ipv4_options(mut self, bytes: &[u8]) -> Self {
        self.ipv4_options.extend_from_slice(bytes);
        self
    }
    /// Append an IPv6 extension header: 0 hop-by-hop, 43 routing, 60 destination options,
    /// 51 AH (a fragment header comes from [`fragments`](Self::fragments) instead).
    pub fn ipv6_ext_header(mut self, header_type: u8, body: &[u8]) -> Self {
        self.ipv6_ext_headers.push((header_type, body.to_vec()));
        self
    }
    /// Frame the packet in Ethernet.
    pub fn ethernet(self) -> Self {
        self.link(LinkType::Ethernet)
    }
    /// Frame the packet in this link type.
    pub fn link(mut self, link: LinkType) -> Self {
        self.link = link;
        self
    }
    /// Add a VLAN tag (Ethernet/SLL only); the first is the outermost, and with two or more
    /// the outer ones are 802.1ad.
    pub fn vlan(mut self, id: u16) -> Self {
        self.vlans.push(id);
        if self.link == LinkType::RawIp {
            self.link = LinkType::Ethernet;
        }
        self
    }
    /// Store a wrong IPv4 header checksum.
    pub fn corrupt_ip_checksum(mut self) -> Self {
        self.bad_ip_checksum = true;
        self
    }
    /// Store a wrong TCP/UDP/ICMP checksum.
    pub fn corrupt_l4_checksum(mut self) -> Self {
        self.bad_l4_checksum = true;
        self
    }

    fn proto(&self) -> u8 {
        match &self.l4 {
            L4Repr::Tcp(_) => 6,
            L4Repr::Udp { .. } => 17,
            L4Repr::Icmp { .. } if self.src.is_ipv6() => 58,
            L4Repr::Icmp { .. } => 1,
            L4Repr::Raw { proto } => *proto,
        }
    }

    /// The layer-4 header and payload with its checksum.
    pub fn build_l4(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(60 + self.payload.len());
        let checksum_at = match &self.l4 {
            L4Repr::Tcp(tcp) => {
                let mut options = tcp.options.clone();
                options.resize(options.len().next_multiple_of(4), 0);
                let data_offset = ((20 + options.len()) / 4) as u8;
                out.extend_from_slice(&tcp.src_port.to_be_bytes());
                out.extend_from_slice(&tcp.dst_port.to_be_bytes());
                out.extend_from_slice(&tcp.seq.to_be_bytes());
                out.extend_from_slice(&tcp.ack.to_be_bytes());
                out.extend_from_slice(&[data_offset << 4, tcp.flags]);
                out.extend_from_slice(&tcp.window.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&tcp.urgent_pointer.to_be_bytes());
                out.extend_from_slice(&options);
                Some(16)
            }
            L4Repr::Udp { src_port, dst_port } => {
                out.extend_from_slice(&src_port.to_be_bytes());
                out.extend_from_slice(&dst_port.to_be_bytes());
                out.extend_from_slice(&((8 + self.payload.len()) as u16).to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                Some(6)
            }
            L4Repr::Icmp { itype, icode, rest } => {
                out.extend_from_slice(&[*itype, *icode, 0, 0]);
                out.extend_from_slice(rest);
                Some(2)
            }
            L4Repr::Raw { .. } => None,
        };
        out.extend_from_slice(&self.payload);
        if let Some(at) = checksum_at {
            let proto = self.proto();
            let mut sum = if proto == 1 {
                internet_checksum(&out, 0)
            } else {
                transport_checksum(self.src, self.dst, proto, &out)
            };
            if proto == 17 && sum == 0 {
                sum = 0xffff;
            }
            if self.bad_l4_checksum {
                sum = !sum;
                if sum == 0 && proto == 17 {
                    sum = 1;
                }
            }
            out[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        }
        out
    }

    /// The IP packet (header onwards).
    pub fn build_ip(&self) -> Vec<u8> {
        let l4 = self.build_l4();
        self.ip_packet(self.proto(), &l4, None)
    }

    /// The packet framed in the chosen link type.
    pub fn build(&self) -> Vec<u8> {
        self.frame(&self.build_ip())
    }

    /// Split the layer-4 bytes (header and payload) into IP fragments of the given sizes (all
    /// but the last a multiple of 8; the remainder, if any, forms a last fragment) and frame
    /// each. IPv6 fragments carry a fragment header with id [`ip_id`](Self::ip_id).
    pub fn fragments(&self, sizes: &[usize]) -> Vec<Vec<u8>> {
        let l4 = self.build_l4();
        let mut out = Vec::new();
        let mut offset = 0;
        let mut sizes = sizes.iter().copied().peekable();
        while offset < l4.len() {
            let size = sizes
                .next()
                .unwrap_or(l4.len() - offset)
                .min(l4.len() - offset);
            let end = offset + size;
            let more = end < l4.len();
            out.push(self.fragment(offset as u32, more, &l4[offset..end]));
            offset = end;
            if size == 0 {
                break;
            }
        }
        out
    }

    /// One framed IP fragment at byte `offset` (a multiple of 8) carrying `data` (any bytes:
    /// overlaps and conflicting data are the caller's choice).
    pub fn fragment(&self, offset: u32, more: bool, data: &[u8]) -> Vec<u8> {
        self.frame(&self.ip_packet(self.proto(), data, Some((offset, more))))
    }

    fn ip_packet(&self, proto: u8, body: &[u8], fragment: Option<(u32, bool)>) -> Vec<u8> {
        match (self.src, self.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let mut options = self.ipv4_options.clone();
                options.resize(options.len().next_multiple_of(4), 0);
                let header_len = 20 + options.len();
                let total = header_len + body.len();
                let (offset, more) = fragment.unwrap_or((0, false));
                let mut flags_offset = ((offset / 8) & 0x1fff) as u16;
                if more {
                    flags_offset |= 0x2000;
                }
                if self.dont_fragment {
                    flags_offset |= 0x4000;
                }
                if self.reserved_bit {
                    flags_offset |= 0x8000;
                }
                let mut out = Vec::with_capacity(total);
                out.extend_from_slice(&[0x40 | (header_len / 4) as u8, self.tos]);
                out.extend_from_slice(&(total as u16).to_be_bytes());
                out.extend_from_slice(&(self.ip_id as u16).to_be_bytes());
                out.extend_from_slice(&flags_offset.to_be_bytes());
                out.extend_from_slice(&[self.ttl, proto, 0, 0]);
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
                out.extend_from_slice(&options);
                let mut sum = internet_checksum(&out, 0);
                if self.bad_ip_checksum {
                    sum = !sum;
                }
                out[10..12].copy_from_slice(&sum.to_be_bytes());
                out.extend_from_slice(body);
                out
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let mut headers: Vec<(u8, Vec<u8>)> = self.ipv6_ext_headers.clone();
                if let Some((offset, more)) = fragment {
                    let mut body = Vec::with_capacity(6);
                    body.extend_from_slice(
                        &(((offset / 8) << 3) as u16 | u16::from(more)).to_be_bytes(),
                    );
                    body.extend_from_slice(&self.ip_id.to_be_bytes());
                    headers.push((44, body));
                }
                let mut ext = Vec::new();
                for (i, (kind, body)) in headers.iter().enumerate() {
                    let next = headers.get(i + 1).map_or(proto, |h| h.0);
                    let unit = if *kind == 51 { 4 } else { 8 };
                    let mut padded = body.clone();
                    while (padded.len() + 2) % unit != 0 || padded.len() + 2 < 8 {
                        padded.push(0);
                    }
                    let len_field = if *kind == 51 {
                        (padded.len() + 2) / 4 - 2
                    } else if *kind == 44 {
                        0
                    } else {
                        (padded.len() + 2) / 8 - 1
                    };
                    ext.push(next);
                    ext.push(len_field as u8);
                    ext.extend_from_slice(&padded);
                }
                let first = headers.first().map_or(proto, |h| h.0);
                let payload_len = ext.len() + body.len();
                let mut out = Vec::with_capacity(40 + payload_len);
                let word = (6u32 << 28) | (u32::from(self.tos) << 20);
                out.extend_from_slice(&word.to_be_bytes());
                out.extend_from_slice(&(payload_len as u16).to_be_bytes());
                out.extend_from_slice(&[first, self.ttl]);
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
                out.extend_from_slice(&ext);
                out.extend_from_slice(body);
                out
            }
            _ => panic!(
                "craft: source {} and destination {} differ in family",
                self.src, self.dst
            ),
        }
    }

    /// Frame IP bytes in [`link`](Self::link).
    pub fn frame(&self, ip: &[u8]) -> Vec<u8> {
        let ethertype: u16 = if ip.first().is_some_and(|b| b >> 4 == 6) {
            0x86dd
        } else {
            0x0800
        };
        // The type field(s): outer type, then each tag's TCI and next type.
        let mut chain = Vec::with_capacity(2 + 4 * self.vlans.len());
        tag_chain(&mut chain, &self.vlans, ethertype);
        let mut out = Vec::with_capacity(ip.len() + 32);
        match self.link {
            LinkType::Ethernet => {
                out.extend_from_slice(&CRAFT_DST_MAC);
                out.extend_from_slice(&CRAFT_SRC_MAC);
                out.extend_from_slice(&chain);
            }
            LinkType::LinuxSll => {
                // packet type 0 (to us), ARPHRD_ETHER, address length 6, address, protocol
                out.extend_from_slice(&[0, 0, 0, 1, 0, 6]);
                out.extend_from_slice(&CRAFT_SRC_MAC);
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&chain);
            }
            LinkType::LinuxSll2 => {
                // protocol, reserved, ifindex 1, ARPHRD_ETHER, packet type 0, address length 6
                out.extend_from_slice(&chain[..2]);
                out.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6]);
                out.extend_from_slice(&CRAFT_SRC_MAC);
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&chain[2..]);
            }
            LinkType::Null => {
                let family: u32 = if ethertype == 0x86dd { 24 } else { 2 };
                out.extend_from_slice(&family.to_le_bytes());
            }
            LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6 | LinkType::Unsupported(_) => {}
        }
        out.extend_from_slice(ip);
        out
    }
}

/// Write the type field(s): the first tag's TPID (802.1ad for all but the innermost tag),
/// each tag's TCI and next type, and finally `ethertype`.
fn tag_chain(out: &mut Vec<u8>, vlans: &[u16], ethertype: u16) {
    for (i, vlan) in vlans.iter().enumerate() {
        let tpid: u16 = if i + 1 < vlans.len() { 0x88a8 } else { 0x8100 };
        out.extend_from_slice(&tpid.to_be_bytes());
        out.extend_from_slice(&(vlan & 0x0fff).to_be_bytes());
    }
    out.extend_from_slice(&ethertype.to_be_bytes());
}

/// Default initial sequence numbers of [`TcpConversation`].
pub const CLIENT_ISN: u32 = 1_000;
pub const SERVER_ISN: u32 = 5_000;
/// Time between consecutive packets of a [`TcpConversation`].
pub const CONVERSATION_STEP_MICROS: u64 = 1_000;

/// A TCP conversation written packet by packet, with sequence and acknowledgement numbers
/// kept right. Each method appends packets; [`packets`](Self::packets) gives them framed in
/// the chosen link type with timestamps [`CONVERSATION_STEP_MICROS`] apart.
#[derive(Clone, Debug)]
pub struct TcpConversation {
    client: SocketAddr,
    server: SocketAddr,
    /// Next sequence number each side sends.
    client_next: u32,
    server_next: u32,
    link: LinkType,
    time: Timestamp,
    packets: Vec<(Timestamp, Vec<u8>)>,
}

impl TcpConversation {
    /// A conversation between `client` and `server` ("addr:port"), raw IP, starting at time
    /// 1,700,000,000 s, ISNs [`CLIENT_ISN`] and [`SERVER_ISN`].
    pub fn new(client: &str, server: &str) -> TcpConversation {
        TcpConversation {
            client: socket(client),
            server: socket(server),
            client_next: CLIENT_ISN,
            server_next: SERVER_ISN,
            link: LinkType::RawIp,
            time: Timestamp::new(1_700_000_000, 0),
            packets: Vec::new(),
        }
    }

    pub fn link(mut self, link: LinkType) -> Self {
        self.link = link;
        self
    }

    /// Set both initial sequence numbers (before the handshake).
    pub fn isn(mut self, client: u32, server: u32) -> Self {
        self.client_next = client;
        self.server_next = server;
        self
    }

    pub fn client_next_seq(&self) -> u32 {
        self.client_next
    }

    pub fn server_next_seq(&self) -> u32 {
        self.server_next
    }

    /// A builder for a client-to-server packet with the current seq/ack and ACK set, for
    /// hand-made segments (overlaps, bad checksums ...); add it with [`push`](Self::push).
    pub fn from_client(&self) -> PacketBuilder {
        PacketBuilder::tcp_between(self.client, self.server)
            .seq(self.client_next)
            .ack(self.server_next)
            .link(self.link)
    }

    /// As [`from_client`](Self::from_client), server to client.
    pub fn from_server(&self) -> PacketBuilder {
        PacketBuilder::tcp_between(self.server, self.client)
            .seq(self.server_next)
            .ack(self.client_next)
            .link(self.link)
    }

    /// Append a hand-made packet (sequence numbers are not advanced).
    pub fn push(&mut self, packet: &PacketBuilder) -> &mut Self {
        self.time = Timestamp::from_micros(self.time.as_micros() + CONVERSATION_STEP_MICROS);
        self.packets.push((self.time, packet.build()));
        self
    }

    /// SYN, SYN-ACK, ACK (with MSS 1460 on the SYNs).
    pub fn handshake(&mut self) -> &mut Self {
        let syn = self.from_client().flags(tcp_flags::SYN).ack(0).mss(1460);
        self.push(&syn);
        self.client_next = self.client_next.wrapping_add(1);
        let syn_ack = self
            .from_server()
            .flags(tcp_flags::SYN | tcp_flags::ACK)
            .mss(1460);
        self.push(&syn_ack);
        self.server_next = self.server_next.wrapping_add(1);
        let ack = self.from_client();
        self.push(&ack)
    }

    fn send(&mut self, from_client: bool, data: &[u8], sizes: &[usize]) -> &mut Self {
        let mut rest = data;
        let mut sizes = sizes.iter().copied();
        while !rest.is_empty() {
            let size = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
            let (segment, tail) = rest.split_at(size);
            let builder = if from_client {
                self.from_client()
            } else {
                self.from_server()
            };
            self.push(
                &builder
                    .flags(tcp_flags::PSH | tcp_flags::ACK)
                    .payload(segment),
            );
            let next = if from_client {
                &mut self.client_next
            } else {
                &mut self.server_next
            };
            *next = next.wrapping_add(size as u32);
            rest = tail;
        }
        let ack = if from_client {
            self.from_server()
        } else {
            self.from_client()
        };
        self.push(&ack)
    }

    /// The client sends `data` in segments of the given sizes (the rest in one last segment),
    /// then the server acknowledges it.
    pub fn client_sends(&mut self, data: &[u8], sizes: &[usize]) -> &mut Self {
        self.send(true, data, sizes)
    }

    /// As [`client_sends`](Self::client_sends), from the server.
    pub fn server_sends(&mut self, data: &[u8], sizes: &[usize]) -> &mut Self {
        self.send(false, data, sizes)
    }

    /// Client FIN, server FIN-ACK, client ACK.
    pub fn close(&mut self) -> &mut Self {
        let fin = self.from_client().flags(tcp_flags::FIN | tcp_flags::ACK);
        self.push(&fin);
        self.client_next = self.client_next.wrapping_add(1);
        let fin_ack = self.from_server().flags(tcp_flags::FIN | tcp_flags::ACK);
        self.push(&fin_ack);
        self.server_next = self.server_next.wrapping_add(1);
        let ack = self.from_client();
        self.push(&ack)
    }

    /// Client RST.
    pub fn reset(&mut self) -> &mut Self {
        let rst = self.from_client().flags(tcp_flags::RST | tcp_flags::ACK);
        self.push(&rst)
    }

    pub fn packets(&self) -> &[(Timestamp, Vec<u8>)] {
        &self.packets
    }

    pub fn into_packets(self) -> Vec<(Timestamp, Vec<u8>)> {
        self.packets
    }

    /// Write the packets as a classic pcap.
    pub fn write_pcap(&self, out: impl std::io::Write) -> std::io::Result<()> {
        let mut writer = PcapWriter::new(out, self.link)?;
        for (timestamp, data) in &self.packets {
            writer.write_packet(*timestamp, data)?;
        }
        writer.finish().map(|_| ())
    }
}

/// HTTP message bodies as servers encode them, for crafted conversations: compressed with
/// gzip, zlib (what `Content-Encoding: deflate` usually carries) or raw deflate, and chunked.
pub mod http_body {
    use std::io::Write;

    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use flate2::Compression;

    fn finish<W: Write>(
        mut encoder: W,
        data: &[u8],
        end: impl FnOnce(W) -> std::io::Result<Vec<u8>>,
    ) -> Vec<u8> {
        encoder
            .write_all(data)
            .and_then(|()| end(encoder))
            .expect("compressing into memory cannot fail")
    }

    pub fn gzip(data: &[u8]) -> Vec<u8> {
        finish(
            GzEncoder::new(Vec::new(), Compression::default()),
            data,
            GzEncoder::finish,
        )
    }

    pub fn zlib(data: &[u8]) -> Vec<u8> {
        finish(
            ZlibEncoder::new(Vec::new(), Compression::default()),
            data,
            ZlibEncoder::finish,
        )
    }

    pub fn raw_deflate(data: &[u8]) -> Vec<u8> {
        finish(
            DeflateEncoder::new(Vec::new(), Compression::default()),
            data,
            DeflateEncoder::finish,
        )
    }

    /// `body` in chunks of `chunk` bytes, then the last chunk.
    pub fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in body.chunks(chunk.max(1)) {
            out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }
}
