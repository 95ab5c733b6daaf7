//! Packet decoding: link layer to a typed, zero-copy [`Packet`] view. (Owned by the ingest
//! helper; the `Packet` fields are the contract with the rest of the engine.)
//!
//! Not a validator of everything on the wire: it extracts what detection, flows and the stream
//! need, counts what it cannot decode by [`DecodeError`] reason, and never panics.
//!
//! The wire formats are read by small hand-written views (bounds-checked reads of big-endian
//! fields) rather than etherparse's slices: the decoder must be lax where hosts are lax (bad TCP
//! options are an anomaly, not a drop), strict where they are strict (an IPv4 header that claims
//! more bytes than were captured), name every reason, and allocate nothing.
//!
//! Entry points:
//! - [`decode`]: the pure function: link type + bytes -> [`Packet`] or [`DecodeError`],
//!   counting into a [`DecodeStats`]; `validate_checksums` says whether to check checksums.
//! - [`Decoder`]: what a worker holds: a [`ChecksumValidator`] (the `auto|yes|no` setting and
//!   Suricata-style auto switching) plus the stats; [`Decoder::decode_checksum_not_ready`] is for
//!   NFQUEUE packets whose checksum the kernel has not computed yet.
//! - [`decode_reassembled`] / [`Decoder::decode_reassembled`]: decode an IP datagram rebuilt by
//!   defrag (raw IP bytes).
//!
//! Fragments (IPv4 with MF or an offset, IPv6 with a non-atomic fragment header) are returned
//! with [`Packet::fragment`] set, [`Transport::Other`] and an empty payload: their data starts at
//! [`Packet::l4_offset`] in [`Packet::ip_bytes`] and is defrag's business. Tunnels (GRE, IP-in-IP,
//! VXLAN) decode as the outer packet; the inner one is counted in [`DecodeStats`] as unsupported.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Link types nfips reads (pcap LINKTYPE_* numbers are mapped by [`LinkType::from_pcap`]).
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
    /// A pcap LINKTYPE nfips does not decode (a pcapng interface may have one); decoding a
    /// packet of it gives [`DecodeError::UnknownLinkType`].
    Unsupported(u32),
}

impl LinkType {
    /// Map a pcap/pcapng LINKTYPE number: Ethernet 1; raw IP 101, 12 and 14 (DLT_RAW on most
    /// systems and on OpenBSD, as old writers stored it); IPv4 228; IPv6 229; Linux SLL 113 and
    /// SLL2 276; BSD null 0 and OpenBSD loop 108.
    pub fn from_pcap(linktype: u32) -> LinkType {
        match linktype {
            1 => LinkType::Ethernet,
            101 | 12 | 14 => LinkType::RawIp,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            0 | 108 => LinkType::Null,
            other => LinkType::Unsupported(other),
        }
    }

    /// The LINKTYPE number a pcap writer stores for this link type.
    pub fn to_pcap(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::RawIp => 101,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::Null => 0,
            LinkType::Unsupported(n) => n,
        }
    }

    pub fn is_supported(self) -> bool {
        !matches!(self, LinkType::Unsupported(_))
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkType::Ethernet => write!(f, "ethernet"),
            LinkType::RawIp => write!(f, "raw-ip"),
            LinkType::Ipv4 => write!(f, "ipv4"),
            LinkType::Ipv6 => write!(f, "ipv6"),
            LinkType::LinuxSll => write!(f, "linux-sll"),
            LinkType::LinuxSll2 => write!(f, "linux-sll2"),
            LinkType::Null => write!(f, "bsd-null"),
            LinkType::Unsupported(n) => write!(f, "unsupported linktype {n}"),
        }
    }
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

/// TCP flag bits as in [`TcpHeader::flags`].
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp(TcpHeader),
    Udp {
        src_port: u16,
        dst_port: u16,
    },
    /// ICMP (proto 1) or ICMPv6 (proto 58); id/seq for echo request/reply only.
    Icmp {
        itype: u8,
        icode: u8,
        id: Option<u16>,
        seq: Option<u16>,
    },
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
    /// The IP header onwards (what NFQUEUE would hand us and what reject/defrag rebuild from),
    /// cut to the length the IP header gives (link-layer padding removed).
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
    /// Offset in `ip_bytes` of the layer-4 header (after IPv4 options / IPv6 extension
    /// headers); for a fragment, of the fragment's data (for IPv6 the 8-byte fragment header
    /// sits just before it).
    pub l4_offset: usize,
    /// Outermost 802.1Q/802.1ad VLAN id, if the frame was tagged.
    pub vlan: Option<u16>,
}

impl Packet<'_> {
    pub fn is_ipv6(&self) -> bool {
        self.src.is_ipv6()
    }

    pub fn tcp(&self) -> Option<&TcpHeader> {
        match &self.transport {
            Transport::Tcp(h) => Some(h),
            _ => None,
        }
    }

    /// (source port, destination port) for TCP and UDP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.transport {
            Transport::Tcp(h) => Some((h.src_port, h.dst_port)),
            Transport::Udp { src_port, dst_port } => Some((src_port, dst_port)),
            _ => None,
        }
    }
}

/// IPv4 option bits in [`Packet::ip_options`], in `IpOpt` order (see
/// `nfips_rules::ruleset::IpFields::options`).
pub mod ip_option_bits {
    pub const RR: u16 = 1 << 0;
    pub const EOL: u16 = 1 << 1;
    pub const NOP: u16 = 1 << 2;
    pub const TS: u16 = 1 << 3;
    pub const SEC: u16 = 1 << 4;
    pub const ESEC: u16 = 1 << 5;
    pub const LSRR: u16 = 1 << 6;
    pub const LSRRE: u16 = 1 << 7;
    pub const SSRR: u16 = 1 << 8;
    pub const SATID: u16 = 1 << 9;
}

/// Fragment bits in [`Packet::fragbits`].
pub mod frag_bits {
    pub const MORE: u8 = 0x1;
    pub const DONT: u8 = 0x2;
    pub const RESERVED: u8 = 0x4;
}

/// Most VLAN tags (802.1Q / 802.1ad / 0x9100) read in front of the IP header; more is
/// [`DecodeError::VlanTooManyTags`].
pub const MAX_VLAN_TAGS: usize = 3;
/// Most IPv6 extension headers walked; more is [`DecodeError::Ipv6TooManyExtHeaders`].
pub const MAX_IPV6_EXT_HEADERS: usize = 16;
/// VXLAN's UDP port: the inner frame is counted as an unsupported tunnel.
pub const VXLAN_PORT: u16 = 4789;

macro_rules! decode_errors {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $msg:literal; )*) => {
        /// Why a packet could not be decoded. Each reason has a stable snake_case [`name`]
        /// (used in stats and EVE) and a counter in [`DecodeStats`].
        ///
        /// [`name`]: DecodeError::name
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum DecodeError {
            $( $(#[$doc])* $variant, )*
        }

        impl DecodeError {
            /// Every reason, in counter order.
            pub const ALL: &'static [DecodeError] = &[$(DecodeError::$variant),*];

            /// Stable snake_case name for stats and EVE.
            pub fn name(self) -> &'static str {
                match self { $(DecodeError::$variant => $name,)* }
            }

            fn message(self) -> &'static str {
                match self { $(DecodeError::$variant => $msg,)* }
            }
        }
    };
}

decode_errors! {
    /// The link type is not one nfips decodes.
    UnknownLinkType => "unknown_link_type", "link type not supported";
    /// Shorter than an Ethernet header.
    EthernetTruncated => "ethernet_truncated", "shorter than an Ethernet header";
    /// A VLAN tag is cut short.
    VlanTruncated => "vlan_truncated", "VLAN tag cut short";
    /// More than [`MAX_VLAN_TAGS`] stacked VLAN tags.
    VlanTooManyTags => "vlan_too_many_tags", "too many stacked VLAN tags";
    /// Shorter than a Linux cooked (SLL) header.
    SllTruncated => "sll_truncated", "shorter than a Linux cooked header";
    /// Shorter than a Linux cooked v2 (SLL2) header.
    Sll2Truncated => "sll2_truncated", "shorter than a Linux cooked v2 header";
    /// Shorter than the 4-byte BSD loopback header.
    NullTruncated => "null_truncated", "shorter than a BSD loopback header";
    /// The BSD loopback address family is neither IPv4 nor IPv6.
    NullUnknownFamily => "null_unknown_family", "BSD loopback family is not IPv4 or IPv6";
    /// Not an IP packet (ARP, LLC, other ethertypes): not malformed, just not ours.
    NonIp => "non_ip", "not an IP packet";
    /// Empty or the IP version nibble is neither 4 nor 6.
    IpUnknownVersion => "ip_unknown_version", "IP version is neither 4 nor 6";
    /// Fewer than 20 bytes of IPv4 header.
    Ipv4Truncated => "ipv4_truncated", "shorter than an IPv4 header";
    /// IHL below 5 or beyond the packet.
    Ipv4BadHeaderLen => "ipv4_bad_header_len", "IPv4 header length is invalid";
    /// Total length smaller than the header length.
    Ipv4BadTotalLen => "ipv4_bad_total_len", "IPv4 total length smaller than its header";
    /// An IPv4 option's length is invalid or runs past the header.
    Ipv4BadOptions => "ipv4_bad_options", "IPv4 options are malformed";
    /// The IP header claims more bytes than were captured or delivered.
    PacketClaimsMoreThanCaptured => "packet_claims_more_than_captured",
        "IP length claims more bytes than the packet has";
    /// Fewer than 40 bytes of IPv6 header.
    Ipv6Truncated => "ipv6_truncated", "shorter than an IPv6 header";
    /// An IPv6 extension header runs past the packet.
    Ipv6ExtHeaderTruncated => "ipv6_ext_header_truncated", "IPv6 extension header cut short";
    /// More than [`MAX_IPV6_EXT_HEADERS`] extension headers.
    Ipv6TooManyExtHeaders => "ipv6_too_many_ext_headers", "too many IPv6 extension headers";
    /// Fewer than 20 bytes of TCP header.
    TcpTruncated => "tcp_truncated", "shorter than a TCP header";
    /// TCP data offset below 5 or beyond the segment.
    TcpBadDataOffset => "tcp_bad_data_offset", "TCP data offset is invalid";
    /// Fewer than 8 bytes of UDP header.
    UdpTruncated => "udp_truncated", "shorter than a UDP header";
    /// UDP length below 8 or beyond the IP payload.
    UdpBadLength => "udp_bad_length", "UDP length is invalid";
    /// Fewer than 8 bytes of ICMP header.
    IcmpTruncated => "icmp_truncated", "shorter than an ICMP header";
    /// Fewer than 8 bytes of ICMPv6 header.
    Icmpv6Truncated => "icmpv6_truncated", "shorter than an ICMPv6 header";
}

impl DecodeError {
    /// False for reasons that are not malformation ([`NonIp`](DecodeError::NonIp),
    /// [`UnknownLinkType`](DecodeError::UnknownLinkType)): the packet is simply not one the
    /// engine inspects.
    pub fn is_malformed(self) -> bool {
        !matches!(self, DecodeError::NonIp | DecodeError::UnknownLinkType)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.name())
    }
}

impl std::error::Error for DecodeError {}

macro_rules! decode_counters {
    ($( $(#[$doc:meta])* $field:ident ),* $(,)?) => {
        /// Counters of one decoder: packets by kind, non-fatal anomalies, and one counter per
        /// [`DecodeError`] reason. [`DecodeStats::iter`] lists them all by name.
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct DecodeStats {
            $( $(#[$doc])* pub $field: u64, )*
            errors: [u64; DecodeError::ALL.len()],
        }

        impl DecodeStats {
            /// Every counter as (name, count): the packet and anomaly counters by field name,
            /// then one per [`DecodeError`] reason by [`DecodeError::name`].
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$( (stringify!($field), self.$field), )*]
                    .into_iter()
                    .chain(DecodeError::ALL.iter().map(|e| (e.name(), self.error_count(*e))))
            }

            /// Add another decoder's counters (one per worker) into this one.
            pub fn merge(&mut self, other: &DecodeStats) {
                $( self.$field += other.$field; )*
                for (mine, theirs) in self.errors.iter_mut().zip(other.errors.iter()) {
                    *mine += *theirs;
                }
            }
        }
    };
}

decode_counters! {
    /// Packets decoded into a [`Packet`].
    decoded,
    /// Packets rejected with a [`DecodeError`] (sum of the per-reason counters).
    errors_total,
    ipv4,
    ipv6,
    tcp,
    udp,
    icmp,
    /// Other IP protocols (and tunnels).
    other_proto,
    /// IPv4 fragments and IPv6 packets with a (non-atomic) fragment header.
    fragments,
    /// Frames with at least one VLAN tag.
    vlan_tagged,
    /// GRE packets: the outer IP decodes, the inner packet is not inspected.
    tunnel_gre_unsupported,
    /// IPv4/IPv6-in-IP: the outer IP decodes, the inner packet is not inspected.
    tunnel_ip_in_ip_unsupported,
    /// VXLAN (UDP 4789): the outer UDP decodes, the inner frame is not inspected.
    tunnel_vxlan_unsupported,
    /// TCP options that are malformed (parsing stops there, the packet still decodes, as hosts
    /// do).
    tcp_bad_options,
    /// Packets whose checksums were validated and found bad.
    checksum_invalid,
    /// Packets whose checksums were not validated.
    checksum_unchecked,
}

impl DecodeStats {
    pub fn error_count(&self, reason: DecodeError) -> u64 {
        self.errors[reason as usize]
    }

    fn count_error(&mut self, reason: DecodeError) {
        self.errors[reason as usize] += 1;
        self.errors_total += 1;
    }

    fn count_packet(&mut self, packet: &Packet<'_>) {
        self.decoded += 1;
        if packet.is_ipv6() {
            self.ipv6 += 1;
        } else {
            self.ipv4 += 1;
        }
        match packet.transport {
            Transport::Tcp(_) => self.tcp += 1,
            Transport::Udp { .. } => self.udp += 1,
            Transport::Icmp { .. } => self.icmp += 1,
            Transport::Other => self.other_proto += 1,
        }
        if packet.fragment.is_some() {
            self.fragments += 1;
        }
        if packet.vlan.is_some() {
            self.vlan_tagged += 1;
        }
        match packet.checksum {
            ChecksumStatus::Invalid => self.checksum_invalid += 1,
            ChecksumStatus::Unchecked => self.checksum_unchecked += 1,
            ChecksumStatus::Valid => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Checksum validation setting and auto mode.

/// The `checksum-validation` setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChecksumMode {
    /// Validate, but stop when the early packets mostly have bad checksums (see
    /// [`ChecksumValidator`]).
    #[default]
    Auto,
    Yes,
    No,
}

impl std::str::FromStr for ChecksumMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(ChecksumMode::Auto),
            "yes" | "true" => Ok(ChecksumMode::Yes),
            "no" | "false" | "none" => Ok(ChecksumMode::No),
            other => Err(format!(
                "checksum-validation: `{other}` is not one of auto, yes, no"
            )),
        }
    }
}

impl fmt::Display for ChecksumMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChecksumMode::Auto => "auto",
            ChecksumMode::Yes => "yes",
            ChecksumMode::No => "no",
        })
    }
}

/// Auto mode looks at this many decoded packets, then decides once (Suricata's pcap mode:
/// `CHECKSUM_SAMPLE_COUNT`).
pub const CHECKSUM_AUTO_SAMPLE_PACKETS: u64 = 1000;
/// Auto mode stops validating when more than this percentage of the sampled packets had bad
/// checksums (Suricata's `CHECKSUM_INVALID_RATIO` of 10): the capture was taken on a host with
/// checksum offload, so its checksums say nothing about what receivers accept.
pub const CHECKSUM_AUTO_MAX_INVALID_PERCENT: u64 = 10;

/// The checksum-validation decision for a stream of packets (one per worker or per pcap).
///
/// In [`ChecksumMode::Auto`] it validates the first [`CHECKSUM_AUTO_SAMPLE_PACKETS`] decoded
/// packets (bad ones are [`ChecksumStatus::Invalid`] like in `yes` mode), then, if more than
/// [`CHECKSUM_AUTO_MAX_INVALID_PERCENT`] % of them were bad, stops validating for good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChecksumValidator {
    mode: ChecksumMode,
    sampled: u64,
    sampled_invalid: u64,
    auto_disabled: bool,
}

impl ChecksumValidator {
    pub fn new(mode: ChecksumMode) -> Self {
        ChecksumValidator {
            mode,
            sampled: 0,
            sampled_invalid: 0,
            auto_disabled: false,
        }
    }

    pub fn mode(&self) -> ChecksumMode {
        self.mode
    }

    /// Whether the next packet's checksums are to be validated.
    pub fn validating(&self) -> bool {
        match self.mode {
            ChecksumMode::Yes => true,
            ChecksumMode::No => false,
            ChecksumMode::Auto => !self.auto_disabled,
        }
    }

    /// True once auto mode has decided to stop validating.
    pub fn auto_disabled(&self) -> bool {
        self.auto_disabled
    }

    /// Feed the result of a validated packet (auto mode's sample).
    pub fn observe(&mut self, status: ChecksumStatus) {
        if self.mode != ChecksumMode::Auto || self.auto_disabled {
            return;
        }
        if self.sampled >= CHECKSUM_AUTO_SAMPLE_PACKETS || status == ChecksumStatus::Unchecked {
            return;
        }
        self.sampled += 1;
        if status == ChecksumStatus::Invalid {
            self.sampled_invalid += 1;
        }
        if self.sampled == CHECKSUM_AUTO_SAMPLE_PACKETS
            && self.sampled_invalid * 100
                > CHECKSUM_AUTO_SAMPLE_PACKETS * CHECKSUM_AUTO_MAX_INVALID_PERCENT
        {
            self.auto_disabled = true;
        }
    }
}

/// A worker's decoder: checksum policy plus counters. Allocation-free per packet.
#[derive(Clone, Debug)]
pub struct Decoder {
    pub stats: DecodeStats,
    pub checksums: ChecksumValidator,
}

impl Decoder {
    pub fn new(mode: ChecksumMode) -> Self {
        Decoder {
            stats: DecodeStats::default(),
            checksums: ChecksumValidator::new(mode),
        }
    }

    /// Decode one packet, validating checksums as the setting (and auto mode) says.
    pub fn decode<'a>(
        &mut self,
        link: LinkType,
        data: &'a [u8],
    ) -> Result<Packet<'a>, DecodeError> {
        let validate = self.checksums.validating();
        let packet = decode(link, data, validate, &mut self.stats)?;
        if validate {
            self.checksums.observe(packet.checksum);
        }
        Ok(packet)
    }

    /// Decode a packet whose checksums the kernel has not computed yet (NFQUEUE
    /// `NFQA_SKB_CSUM_NOTREADY`, i.e. CHECKSUM_PARTIAL, as GSO super-packets are): the packet
    /// is [`ChecksumStatus::Unchecked`] and does not count towards auto mode.
    pub fn decode_checksum_not_ready<'a>(
        &mut self,
        link: LinkType,
        data: &'a [u8],
    ) -> Result<Packet<'a>, DecodeError> {
        decode(link, data, false, &mut self.stats)
    }

    /// Decode an IP datagram rebuilt by defrag (raw IPv4 or IPv6 bytes).
    pub fn decode_reassembled<'a>(
        &mut self,
        ip_bytes: &'a [u8],
    ) -> Result<Packet<'a>, DecodeError> {
        self.decode(LinkType::RawIp, ip_bytes)
    }
}

/// Decode an IP datagram rebuilt by defrag: the same as `decode(LinkType::RawIp, ..)`.
pub fn decode_reassembled<'a>(
    ip_bytes: &'a [u8],
    validate_checksums: bool,
    stats: &mut DecodeStats,
) -> Result<Packet<'a>, DecodeError> {
    decode(LinkType::RawIp, ip_bytes, validate_checksums, stats)
}

/// Decode one packet of `link` type. Counts the outcome in `stats` (by reason on error).
/// With `validate_checksums`, IPv4 header and TCP/UDP/ICMP/ICMPv6 checksums are checked and
/// [`Packet::checksum`] says Valid or Invalid; otherwise it is Unchecked.
pub fn decode<'a>(
    link: LinkType,
    data: &'a [u8],
    validate_checksums: bool,
    stats: &mut DecodeStats,
) -> Result<Packet<'a>, DecodeError> {
    let result = decode_link(link, data, validate_checksums, stats);
    match &result {
        Ok(packet) => stats.count_packet(packet),
        Err(reason) => stats.count_error(*reason),
    }
    result
}

// ---------------------------------------------------------------------------------------------
// Byte readers.

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

const PROTO_ICMP: u8 = 1;
const PROTO_IPIP: u8 = 4;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_IPV6_IN_IP: u8 = 41;
const PROTO_GRE: u8 = 47;
const PROTO_ICMPV6: u8 = 58;

// ---------------------------------------------------------------------------------------------
// Link layer.

#[inline]
fn decode_link<'a>(
    link: LinkType,
    data: &'a [u8],
    validate: bool,
    stats: &mut DecodeStats,
) -> Result<Packet<'a>, DecodeError> {
    match link {
        LinkType::Ethernet => {
            if data.len() < 14 {
                return Err(DecodeError::EthernetTruncated);
            }
            decode_ethertype(be16(data, 12), &data[14..], validate, stats)
        }
        LinkType::RawIp => decode_ip(data, None, validate, stats),
        LinkType::Ipv4 => match data.first() {
            Some(b) if b >> 4 == 4 => decode_ip(data, None, validate, stats),
            _ => Err(DecodeError::IpUnknownVersion),
        },
        LinkType::Ipv6 => match data.first() {
            Some(b) if b >> 4 == 6 => decode_ip(data, None, validate, stats),
            _ => Err(DecodeError::IpUnknownVersion),
        },
        LinkType::LinuxSll => {
            // packet type 2, ARPHRD 2, address length 2, address 8, protocol 2
            if data.len() < 16 {
                return Err(DecodeError::SllTruncated);
            }
            decode_ethertype(be16(data, 14), &data[16..], validate, stats)
        }
        LinkType::LinuxSll2 => {
            // protocol 2, reserved 2, ifindex 4, ARPHRD 2, packet type 1, address length 1, address 8
            if data.len() < 20 {
                return Err(DecodeError::Sll2Truncated);
            }
            decode_ethertype(be16(data, 0), &data[20..], validate, stats)
        }
        LinkType::Null => {
            if data.len() < 4 {
                return Err(DecodeError::NullTruncated);
            }
            let raw = [data[0], data[1], data[2], data[3]];
            let family = |f: u32| match f {
                2 => Some(4u8),
                10 | 24 | 28 | 30 => Some(6u8),
                _ => None,
            };
            let version =
                family(u32::from_le_bytes(raw)).or_else(|| family(u32::from_be_bytes(raw)));
            let ip = &data[4..];
            match version {
                Some(v) if ip.first().is_some_and(|b| b >> 4 == v) => {
                    decode_ip(ip, None, validate, stats)
                }
                Some(_) => Err(DecodeError::IpUnknownVersion),
                None => Err(DecodeError::NullUnknownFamily),
            }
        }
        LinkType::Unsupported(_) => Err(DecodeError::UnknownLinkType),
    }
}

/// Ethertype dispatch with VLAN tags in front (Ethernet, SLL, SLL2).
#[inline]
fn decode_ethertype<'a>(
    mut ethertype: u16,
    mut rest: &'a [u8],
    validate: bool,
    stats: &mut DecodeStats,
) -> Result<Packet<'a>, DecodeError> {
    let mut vlan = None;
    let mut tags = 0;
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        if tags == MAX_VLAN_TAGS {
            return Err(DecodeError::VlanTooManyTags);
        }
        if rest.len() < 4 {
            return Err(DecodeError::VlanTruncated);
        }
        if vlan.is_none() {
            vlan = Some(be16(rest, 0) & 0x0fff);
        }
        ethertype = be16(rest, 2);
        rest = &rest[4..];
        tags += 1;
    }
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => {
            let want = if ethertype == ETHERTYPE_IPV4 { 4 } else { 6 };
            match rest.first() {
                Some(b) if b >> 4 == want => decode_ip(rest, vlan, validate, stats),
                Some(_) => Err(DecodeError::IpUnknownVersion),
                None if want == 4 => Err(DecodeError::Ipv4Truncated),
                None => Err(DecodeError::Ipv6Truncated),
            }
        }
        _ => Err(DecodeError::NonIp),
    }
}

// ---------------------------------------------------------------------------------------------
// Network layer.

#[inline]
fn decode_ip<'a>(
    ip: &'a [u8],
    vlan: Option<u16>,
    validate: bool,
    stats: &mut DecodeStats,
) -> Result<Packet<'a>, DecodeError> {
    match ip.first().map(|b| b >> 4) {
        Some(4) => decode_ipv4(ip, vlan, validate, stats),
        Some(6) => decode_ipv6(ip, vlan, validate, stats),
        _ => Err(DecodeError::IpUnknownVersion),
    }
}

fn ipv4_options(options: &[u8]) -> Result<u16, DecodeError> {
    use ip_option_bits::*;
    let mut bits = 0u16;
    let mut i = 0;
    while i < options.len() {
        let kind = options[i];
        let bit = match kind {
            0x00 => EOL,
            0x01 => NOP,
            0x07 => RR,
            0x44 => TS,
            0x82 => SEC,
            0x85 => ESEC,
            0x83 => LSRR,
            0x84 => LSRRE,
            0x89 => SSRR,
            0x88 => SATID,
            _ => 0,
        };
        bits |= bit;
        match kind {
            0x00 => break, // end of list: the rest is padding
            0x01 => i += 1,
            _ => {
                let len = *options.get(i + 1).ok_or(DecodeError::Ipv4BadOptions)? as usize;
                if len < 2 || i + len > options.len() {
                    return Err(DecodeError::Ipv4BadOptions);
                }
                i += len;
            }
        }
    }
    Ok(bits)
}

#[inline]
fn decode_ipv4<'a>(
    data: &'a [u8],
    vlan: Option<u16>,
    validate: bool,
    stats: &mut DecodeStats,
) -> Result<Packet<'a>, DecodeError> {
    if data.len() < 20 {
        return Err(DecodeError::Ipv4Truncated);
    }
    let header_len = usize::from(data[0] & 0x0f) * 4;
    if header_len < 20 {
        return Err(DecodeError::Ipv4BadHeaderLen);
    }
    let mut total_len = usize::from(be16(data, 2));
    if total_len == 0 && data.len() > usize::from(u16::MAX) {
        // A GSO super-packet over 64 KiB ("BIG TCP" for IPv4) carries total length 0.
        total_len = data.len();
    }
    if total_len < header_len {
        return Err(if header_len > data.len() {
            DecodeError::Ipv4BadHeaderLen
        } else {
            DecodeError::Ipv4BadTotalLen
        });
    }
    if total_len > data.len() {
        return Err(DecodeError::PacketClaimsMoreThanCaptured);
    }
    let ip = &data[..total_len];
    let ip_options = ipv4_options(&ip[20..header_len])?;
    let flags_offset = be16(ip, 6);
    let mut fragbits = 0u8;
    if flags_offset & 0x8000 != 0 {
        fragbits |= frag_bits::RESERVED;
    }
    if flags_offset & 0x4000 != 0 {
        fragbits |= frag_bits::DONT;
    }
    let more = flags_offset & 0x2000 != 0;
    if more {
        fragbits |= frag_bits::MORE;
    }
    let frag_offset = u32::from(flags_offset & 0x1fff) * 8;
    let id = u32::from(be16(ip, 4));
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let proto = ip[9];
    let header_ok = !validate || internet_checksum(&ip[..header_len], 0) == 0;

    let mut packet = Packet {
        ip_bytes: ip,
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        ip_proto: proto,
        ttl: ip[8],
        tos: ip[1],
        ip_id: id,
        ip_options,
        fragbits,
        fragment: None,
        transport: Transport::Other,
        payload: &[],
        checksum: ChecksumStatus::Unchecked,
        l4_offset: header_len,
        vlan,
    };
    if more || frag_offset > 0 {
        packet.fragment = Some(Fragment {
            id,
            offset: frag_offset,
            more,
        });
        packet.checksum = checksum_status(validate, header_ok);
        return Ok(packet);
    }
    let pseudo = Pseudo::V4 {
        src: src.octets(),
        dst: dst.octets(),
    };
    let l4_ok = decode_transport(&mut packet, pseudo, validate, stats)?;
    packet.checksum = checksum_status(validate, header_ok && l4_ok);
    Ok(packet)
}

fn checksum_status(validate: bool, ok: bool) -> ChecksumStatus {
    match (validate, ok) {
        (false, _) => ChecksumStatus::Unchecked,
        (true, true) => ChecksumStatus::Valid,
        (true, false) => ChecksumStatus::Invalid,
    }
}

#[inline]
fn decode_ipv6<'a>(
    data: &'a [u8],
    vlan: Option<u16>,
    validate: bool,
    stats: &mut DecodeStats,
) -> Result<Packet<'a>, DecodeError> {
    if data.len() < 40 {
        return Err(DecodeError::Ipv6Truncated);
    }
    let payload_len = usize::from(be16(data, 4));
    let ip = if payload_len == 0 && data[6] == 0 {
        // A jumbogram (hop-by-hop jumbo option, as GSO "BIG TCP" builds): use what we have.
        data
    } else if 40 + payload_len > data.len() {
        return Err(DecodeError::PacketClaimsMoreThanCaptured);
    } else {
        &data[..40 + payload_len]
    };
    let mut src = [0u8; 16];
    src.copy_from_slice(&ip[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&ip[24..40]);
    let tos = ((be16(ip, 0) >> 4) & 0xff) as u8;

    let mut next = ip[6];
    let mut offset = 40;
    let mut fragment = None;
    let mut fragbits = 0u8;
    let mut ip_id = 0u32;
    let mut headers = 0;
    loop {
        let header_len = match next {
            0 | 43 | 60 | 135 | 139 | 140 => {
                if offset + 2 > ip.len() {
                    return Err(DecodeError::Ipv6ExtHeaderTruncated);
                }
                (usize::from(ip[offset + 1]) + 1) * 8
            }
            51 => {
                if offset + 2 > ip.len() {
                    return Err(DecodeError::Ipv6ExtHeaderTruncated);
                }
                (usize::from(ip[offset + 1]) + 2) * 4
            }
            44 => 8,
            _ => break,
        };
        headers += 1;
        if headers > MAX_IPV6_EXT_HEADERS {
            return Err(DecodeError::Ipv6TooManyExtHeaders);
        }
        if offset + header_len > ip.len() {
            return Err(DecodeError::Ipv6ExtHeaderTruncated);
        }
        let this = next;
        next = ip[offset];
        if this == 44 {
            let offset_flags = be16(ip, offset + 2);
            let frag_offset = u32::from(offset_flags >> 3) * 8;
            let more = offset_flags & 1 != 0;
            let id = be32(ip, offset + 4);
            offset += header_len;
            if frag_offset == 0 && !more {
                // An atomic fragment (RFC 6946): a whole datagram, processed as such.
                ip_id = id;
                continue;
            }
            ip_id = id;
            if more {
                fragbits |= frag_bits::MORE;
            }
            fragment = Some(Fragment {
                id,
                offset: frag_offset,
                more,
            });
            break;
        }
        offset += header_len;
    }

    let mut packet = Packet {
        ip_bytes: ip,
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        ip_proto: next,
        ttl: ip[7],
        tos,
        ip_id,
        ip_options: 0,
        fragbits,
        fragment,
        transport: Transport::Other,
        payload: &[],
        checksum: ChecksumStatus::Unchecked,
        l4_offset: offset,
        vlan,
    };
    if packet.fragment.is_some() {
        return Ok(packet);
    }
    let l4_ok = decode_transport(&mut packet, Pseudo::V6 { src, dst }, validate, stats)?;
    packet.checksum = match packet.transport {
        // Nothing to validate for other protocols over IPv6.
        Transport::Other => ChecksumStatus::Unchecked,
        _ => checksum_status(validate, l4_ok),
    };
    Ok(packet)
}

// ---------------------------------------------------------------------------------------------
// Transport layer.

#[derive(Clone, Copy)]
enum Pseudo {
    V4 { src: [u8; 4], dst: [u8; 4] },
    V6 { src: [u8; 16], dst: [u8; 16] },
}

impl Pseudo {
    /// Ones'-complement partial sum of the pseudo header for `proto` over `len` bytes.
    fn sum(self, proto: u8, len: usize) -> u64 {
        let mut acc = u64::from(proto) + len as u64;
        match self {
            Pseudo::V4 { src, dst } => {
                acc = sum_words(&src, acc);
                acc = sum_words(&dst, acc);
            }
            Pseudo::V6 { src, dst } => {
                acc = sum_words(&src, acc);
                acc = sum_words(&dst, acc);
            }
        }
        acc
    }
}

/// Fills `packet.transport`/`payload` from `ip_bytes[l4_offset..]`; returns whether the
/// layer-4 checksum is good (true when not validating or there is none).
fn decode_transport<'a>(
    packet: &mut Packet<'a>,
    pseudo: Pseudo,
    validate: bool,
    stats: &mut DecodeStats,
) -> Result<bool, DecodeError> {
    let ip: &'a [u8] = packet.ip_bytes;
    let l4 = &ip[packet.l4_offset..];
    let is_v6 = matches!(pseudo, Pseudo::V6 { .. });
    let proto = packet.ip_proto;
    match proto {
        PROTO_TCP => {
            if l4.len() < 20 {
                return Err(DecodeError::TcpTruncated);
            }
            let data_offset = usize::from(l4[12] >> 4) * 4;
            if data_offset < 20 || data_offset > l4.len() {
                return Err(DecodeError::TcpBadDataOffset);
            }
            let (options, options_ok) = tcp_options(&l4[20..data_offset]);
            if !options_ok {
                stats.tcp_bad_options += 1;
            }
            packet.transport = Transport::Tcp(TcpHeader {
                src_port: be16(l4, 0),
                dst_port: be16(l4, 2),
                seq: be32(l4, 4),
                ack: be32(l4, 8),
                flags: l4[13],
                window: be16(l4, 14),
                urgent_pointer: be16(l4, 18),
                options,
            });
            packet.payload = &l4[data_offset..];
            Ok(!validate || internet_checksum(l4, pseudo.sum(proto, l4.len())) == 0)
        }
        PROTO_UDP => {
            if l4.len() < 8 {
                return Err(DecodeError::UdpTruncated);
            }
            let udp_len = usize::from(be16(l4, 4));
            if udp_len < 8 || udp_len > l4.len() {
                return Err(DecodeError::UdpBadLength);
            }
            let udp = &l4[..udp_len];
            let (src_port, dst_port) = (be16(udp, 0), be16(udp, 2));
            packet.transport = Transport::Udp { src_port, dst_port };
            packet.payload = &udp[8..];
            if dst_port == VXLAN_PORT {
                stats.tunnel_vxlan_unsupported += 1;
            }
            let stored = be16(udp, 6);
            Ok(!validate
                || if stored == 0 {
                    // No checksum: allowed over IPv4, forbidden over IPv6 (RFC 8200 8.1).
                    !is_v6
                } else {
                    internet_checksum(udp, pseudo.sum(proto, udp.len())) == 0
                })
        }
        PROTO_ICMP if !is_v6 => {
            if l4.len() < 8 {
                return Err(DecodeError::IcmpTruncated);
            }
            packet.transport = icmp_transport(l4, matches!(l4[0], 0 | 8));
            packet.payload = &l4[8..];
            Ok(!validate || internet_checksum(l4, 0) == 0)
        }
        PROTO_ICMPV6 if is_v6 => {
            if l4.len() < 8 {
                return Err(DecodeError::Icmpv6Truncated);
            }
            packet.transport = icmp_transport(l4, matches!(l4[0], 128 | 129));
            packet.payload = &l4[8..];
            Ok(!validate || internet_checksum(l4, pseudo.sum(proto, l4.len())) == 0)
        }
        _ => {
            match proto {
                PROTO_GRE => stats.tunnel_gre_unsupported += 1,
                PROTO_IPIP | PROTO_IPV6_IN_IP => stats.tunnel_ip_in_ip_unsupported += 1,
                _ => {}
            }
            packet.payload = l4;
            Ok(true)
        }
    }
}

fn icmp_transport(l4: &[u8], echo: bool) -> Transport {
    Transport::Icmp {
        itype: l4[0],
        icode: l4[1],
        id: echo.then(|| be16(l4, 4)),
        seq: echo.then(|| be16(l4, 6)),
    }
}

/// Parse MSS, window scale, SACK-permitted and timestamps. Returns false with what was read so
/// far when an option is malformed (Linux stops parsing there too).
fn tcp_options(mut opts: &[u8]) -> (TcpOptions, bool) {
    let mut out = TcpOptions::default();
    while let Some(&kind) = opts.first() {
        match kind {
            0 => break,
            1 => {
                opts = &opts[1..];
                continue;
            }
            _ => {}
        }
        let Some(&len) = opts.get(1) else {
            return (out, false);
        };
        let len = usize::from(len);
        if len < 2 || len > opts.len() {
            return (out, false);
        }
        let body = &opts[2..len];
        let expected = match kind {
            2 => 2,
            3 => 1,
            4 => 0,
            8 => 8,
            _ => body.len(),
        };
        if body.len() != expected {
            return (out, false);
        }
        match kind {
            2 => out.mss = Some(be16(body, 0)),
            3 => out.window_scale = Some(body[0]),
            4 => out.sack_permitted = true,
            8 => out.timestamp = Some((be32(body, 0), be32(body, 4))),
            _ => {}
        }
        opts = &opts[len..];
    }
    (out, true)
}

// ---------------------------------------------------------------------------------------------
// Internet checksum (RFC 1071).

/// Add `data` as big-endian 16-bit words (odd trailing byte padded with zero) to `acc`. Sums
/// 32-bit words at a time: end-around-carry arithmetic makes that equal to the 16-bit sum.
#[inline]
fn sum_words(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    if rest.len() >= 2 {
        acc += u64::from(u16::from_be_bytes([rest[0], rest[1]]));
    }
    if rest.len() % 2 == 1 {
        acc += u64::from(rest[rest.len() - 1]) << 8;
    }
    acc
}

/// The Internet checksum of `data` plus a partial sum `initial`: 0 when `data` carries a
/// correct checksum field; over data with the field zeroed, the value to store there.
pub fn internet_checksum(data: &[u8], initial: u64) -> u16 {
    let mut sum = sum_words(data, initial);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The checksum to store in a TCP, UDP or ICMPv6 header over IPv4/IPv6 addresses `src`/`dst`
/// (both the same family), computed over `segment` with its checksum field zeroed. Used by
/// [`crate::craft`] and reject.
pub fn transport_checksum(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    let pseudo = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Pseudo::V4 {
            src: s.octets(),
            dst: d.octets(),
        },
        (IpAddr::V6(s), IpAddr::V6(d)) => Pseudo::V6 {
            src: s.octets(),
            dst: d.octets(),
        },
        (IpAddr::V4(s), IpAddr::V6(d)) => Pseudo::V6 {
            src: s.to_ipv6_mapped().octets(),
            dst: d.octets(),
        },
        (IpAddr::V6(s), IpAddr::V4(d)) => Pseudo::V6 {
            src: s.octets(),
            dst: d.to_ipv6_mapped().octets(),
        },
    };
    internet_checksum(segment, pseudo.sum(proto, segment.len()))
}
