//! Packet decoding: link layer to a typed, zero-copy [`Packet`] view. (Owned by the ingest
//! helper; the `Packet` fields are the contract with the rest of the engine.)
//!
//! Not a validator of everything on the wire: it extracts what detection, flows and the stream
//! need, counts what it cannot decode by [`DecodeError`] reason, and never panics.

use std::net::IpAddr;

/// Link types nfips reads (pcap LINKTYPE_* numbers are mapped by the pcap source).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    Ethernet,
    /// Raw IPv4 or IPv6, version from the first nibble (NFQUEUE hands these).
    RawIp,
    Ipv4,
    Ipv6,
    LinuxSll,
    LinuxSll2,
    /// BSD loopback / null (4-byte address family, either byte order).
    Null,
}

/// TCP options from the header that the stream needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// (TSval, TSecr)
    pub timestamp: Option<(u32, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHeader {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80.
    pub flags: u8,
    pub window: u16,
    pub urgent_pointer: u16,
    pub options: TcpOptions,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp(TcpHeader),
    Udp { src_port: u16, dst_port: u16 },
    /// ICMP (proto 1) or ICMPv6 (proto 58); id/seq for echo request/reply only.
    Icmp { itype: u8, icode: u8, id: Option<u16>, seq: Option<u16> },
    /// Any other IP protocol, or a non-first fragment.
    Other,
}

/// What checksum validation said about this packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumStatus {
    Valid,
    Invalid,
    /// Not checked (validation off, or the kernel said the checksum is not yet computed).
    Unchecked,
}

/// IPv4 fragment information (IPv6 fragment header too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment {
    pub id: u32,
    /// Offset in bytes.
    pub offset: u32,
    pub more: bool,
}

/// A decoded packet, borrowing the bytes it came from.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// The IP header onwards (what NFQUEUE would hand us and what reject/defrag rebuild from).
    pub ip_bytes: &'a [u8],
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Upper-layer protocol after IPv6 extension headers.
    pub ip_proto: u8,
    pub ttl: u8,
    pub tos: u8,
    /// IPv4 id, or the IPv6 fragment id (0 when none).
    pub ip_id: u32,
    /// See `nfips_rules::ruleset::IpFields::options`.
    pub ip_options: u16,
    /// M = 0x1, D = 0x2, R = 0x4.
    pub fragbits: u8,
    pub fragment: Option<Fragment>,
    pub transport: Transport,
    /// Layer-4 payload (empty for fragments, which defrag handles).
    pub payload: &'a [u8],
    pub checksum: ChecksumStatus,
}
