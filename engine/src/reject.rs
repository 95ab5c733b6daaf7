//! reject: forge the packets that tear down a rejected connection, and send them.
//!
//! For TCP, a RST to each end, forged from the other end's address, with sequence numbers each
//! end's stack accepts (Linux checks a RST's sequence number exactly against `rcv_nxt`,
//! RFC 5961):
//! - to the packet's sender: `seq` = the packet's `ack` (what the sender expects next); if the
//!   packet carries no ACK (a SYN), `RST|ACK` with `ack` = its `seq` + payload + SYN + FIN, as
//!   Linux's REJECT target does;
//! - to the packet's receiver: the rejected packet is dropped, so the receiver still expects
//!   the packet's own `seq` (or what the stream knows the receiver expects next).
//!
//! For UDP (and other protocols), an ICMP port unreachable to the source (IPv4 type 3 code 3,
//! quoting as much of the packet as fits in 576 bytes; IPv6 type 1 code 4, within 1280 bytes),
//! forged from the packet's destination. The forging functions are pure and write into
//! caller-owned buffers; [`RawSender`] sends through raw sockets (IPv4 `IPPROTO_RAW`, IPv6
//! `IPPROTO_RAW` with the header included). Not here: deciding when to reject (detect).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use etherparse::{icmpv4, icmpv6, Icmpv4Type, Icmpv6Type, PacketBuilder};
pub use nfips_rules::ast::RejectTarget;

use crate::decode::{Packet, Transport};
use crate::worker::RejectRequest;

/// TTL / hop limit of forged packets.
pub const FORGED_TTL: u8 = 64;
/// Largest ICMPv4 error (RFC 1812 4.3.2.3).
pub const ICMPV4_ERROR_MAX: usize = 576;
/// Largest ICMPv6 error (RFC 4443 2.4: the minimum IPv6 MTU).
pub const ICMPV6_ERROR_MAX: usize = 1280;

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;
const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const ICMP_HEADER: usize = 8;

/// One forged packet: where it goes and its bytes from the IP header on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Forged {
    pub destination: Option<IpAddr>,
    pub bytes: Vec<u8>,
}

impl Forged {
    fn clear(&mut self) {
        self.destination = None;
        self.bytes.clear();
    }
}

/// What forging needs to know of the rejected packet: from a decoded [`Packet`] or from the
/// worker's [`RejectRequest`].
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TCP ports, seq, ack and flags; `None` for other protocols.
    pub tcp: Option<TcpFacts>,
    /// Layer-4 payload length.
    pub payload_len: u32,
    /// The packet is an ICMP error (never answered with another error).
    pub icmp_error: bool,
    /// The start of the rejected IP packet, quoted by ICMP unreachables.
    pub quote: &'a [u8],
}

/// The TCP header fields a reset is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpFacts {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
}

impl<'a> Subject<'a> {
    pub fn from_packet(packet: &Packet<'a>) -> Self {
        let tcp = match packet.transport {
            Transport::Tcp(t) => Some(TcpFacts {
                src_port: t.src_port,
                dst_port: t.dst_port,
                seq: t.seq,
                ack: t.ack,
                flags: t.flags,
            }),
            _ => None,
        };
        let icmp_error = match packet.transport {
            Transport::Icmp { itype, .. } => is_icmp_error(packet.src, itype),
            _ => false,
        };
        Subject {
            src: packet.src,
            dst: packet.dst,
            tcp,
            payload_len: packet.payload.len() as u32,
            icmp_error,
            quote: packet.ip_bytes,
        }
    }

    pub fn from_request(request: &'a RejectRequest) -> Self {
        let tcp = (request.ip_proto == 6).then_some(TcpFacts {
            src_port: request.src_port,
            dst_port: request.dst_port,
            seq: request.seq,
            ack: request.ack,
            flags: request.tcp_flags,
        });
        let icmp_error = match request.ip_proto {
            // Unknown type (quote too short) counts as an error: never risk an error storm.
            1 | 58 => {
                quoted_icmp_type(&request.quote).is_none_or(|t| is_icmp_error(request.src, t))
            }
            _ => false,
        };
        Subject {
            src: request.src,
            dst: request.dst,
            tcp,
            payload_len: request.payload_len,
            icmp_error,
            quote: &request.quote,
        }
    }
}

/// The ICMP type of a quoted IPv4 packet, or of an IPv6 packet without extension headers.
fn quoted_icmp_type(ip: &[u8]) -> Option<u8> {
    match ip.first()? >> 4 {
        4 => ip.get(usize::from(ip[0] & 0x0f) * 4).copied(),
        6 if ip.get(6) == Some(&58) => ip.get(IPV6_HEADER).copied(),
        _ => None,
    }
}

/// The RST to the packet's sender (from its destination). `None` for non-TCP or a RST.
pub fn forge_reset_to_sender(subject: &Subject<'_>, out: &mut Forged) -> Option<()> {
    out.clear();
    let tcp = subject.tcp?;
    if tcp.flags & TCP_RST != 0 {
        return None;
    }
    let builder = ip_builder(subject.dst, subject.src)?;
    let mut reset = etherparse::TcpHeader::new(tcp.dst_port, tcp.src_port, 0, 0);
    reset.rst = true;
    if tcp.flags & TCP_ACK != 0 {
        reset.sequence_number = tcp.ack;
    } else {
        let consumed = subject.payload_len
            + u32::from(tcp.flags & TCP_SYN != 0)
            + u32::from(tcp.flags & TCP_FIN != 0);
        reset.ack = true;
        reset.acknowledgment_number = tcp.seq.wrapping_add(consumed);
    }
    builder.tcp_header(reset).write(&mut out.bytes, &[]).ok()?;
    out.destination = Some(subject.src);
    Some(())
}

/// The RST to the packet's receiver (from its source), with `seq` = `receiver_next_seq` or the
/// packet's own `seq`. `None` for non-TCP, a RST, or a SYN without ACK (the receiver has no
/// connection yet).
pub fn forge_reset_to_receiver(
    subject: &Subject<'_>,
    receiver_next_seq: Option<u32>,
    out: &mut Forged,
) -> Option<()> {
    out.clear();
    let tcp = subject.tcp?;
    if tcp.flags & TCP_RST != 0 || tcp.flags & TCP_ACK == 0 {
        return None;
    }
    let builder = ip_builder(subject.src, subject.dst)?;
    let seq = receiver_next_seq.unwrap_or(tcp.seq);
    builder
        .tcp(tcp.src_port, tcp.dst_port, seq, 0)
        .rst()
        .ack(tcp.ack)
        .write(&mut out.bytes, &[])
        .ok()?;
    out.destination = Some(subject.dst);
    Some(())
}

/// The ICMP port unreachable to the packet's sender, quoting the packet. `None` for TCP and
/// for ICMP errors (never answer an error with an error).
pub fn forge_port_unreachable(subject: &Subject<'_>, out: &mut Forged) -> Option<()> {
    out.clear();
    if subject.tcp.is_some() || subject.icmp_error {
        return None;
    }
    let quoted = subject.quote;
    match (subject.dst, subject.src) {
        (IpAddr::V4(from), IpAddr::V4(to)) => {
            let room = ICMPV4_ERROR_MAX - IPV4_HEADER - ICMP_HEADER;
            PacketBuilder::ipv4(from.octets(), to.octets(), FORGED_TTL)
                .icmpv4(Icmpv4Type::DestinationUnreachable(
                    icmpv4::DestUnreachableHeader::Port,
                ))
                .write(&mut out.bytes, &quoted[..quoted.len().min(room)])
                .ok()?;
        }
        (IpAddr::V6(from), IpAddr::V6(to)) => {
            let room = ICMPV6_ERROR_MAX - IPV6_HEADER - ICMP_HEADER;
            PacketBuilder::ipv6(from.octets(), to.octets(), FORGED_TTL)
                .icmpv6(Icmpv6Type::DestinationUnreachable(
                    icmpv6::DestUnreachableCode::Port,
                ))
                .write(&mut out.bytes, &quoted[..quoted.len().min(room)])
                .ok()?;
        }
        _ => return None,
    }
    out.destination = Some(subject.src);
    Some(())
}

fn is_icmp_error(src: IpAddr, itype: u8) -> bool {
    match src {
        // ICMPv4 errors: unreachable, source quench, redirect, time exceeded, parameter problem.
        IpAddr::V4(_) => matches!(itype, 3 | 4 | 5 | 11 | 12),
        // ICMPv6 errors are types 0-127.
        IpAddr::V6(_) => itype < 128,
    }
}

fn ip_builder(
    from: IpAddr,
    to: IpAddr,
) -> Option<etherparse::PacketBuilderStep<etherparse::IpHeaders>> {
    match (from, to) {
        (IpAddr::V4(from), IpAddr::V4(to)) => {
            Some(PacketBuilder::ipv4(from.octets(), to.octets(), FORGED_TTL))
        }
        (IpAddr::V6(from), IpAddr::V6(to)) => {
            Some(PacketBuilder::ipv6(from.octets(), to.octets(), FORGED_TTL))
        }
        _ => None,
    }
}

/// Forges what a reject sends: up to two packets into `out`, returning how many. With
/// `icmp_unreachable` false, non-TCP rejects send nothing (the packet is only dropped).
pub fn forge_reject(
    subject: &Subject<'_>,
    target: RejectTarget,
    receiver_next_seq: Option<u32>,
    icmp_unreachable: bool,
    out: &mut [Forged; 2],
) -> usize {
    let [first, second] = out;
    first.clear();
    second.clear();
    let to_sender = matches!(target, RejectTarget::Both | RejectTarget::Src);
    let to_receiver = matches!(target, RejectTarget::Both | RejectTarget::Dst);
    if subject.tcp.is_some() {
        let mut count = 0;
        if to_sender && forge_reset_to_sender(subject, first).is_some() {
            count += 1;
        }
        if to_receiver {
            let slot = if count == 1 { second } else { first };
            if forge_reset_to_receiver(subject, receiver_next_seq, slot).is_some() {
                count += 1;
            }
        }
        return count;
    }
    // An ICMP unreachable goes to the source only; a `Dst` reject of UDP has nobody to tell.
    usize::from(icmp_unreachable && to_sender && forge_port_unreachable(subject, first).is_some())
}

/// Counters of sent rejects, shared by all workers.
#[derive(Debug, Default)]
pub struct RejectCounters {
    pub tcp_resets_sent: AtomicU64,
    pub icmp_unreachables_sent: AtomicU64,
    pub send_errors: AtomicU64,
}

/// Raw sockets that send forged packets from the gateway (the kernel does not queue them
/// back to us on FORWARD: locally generated packets take the OUTPUT path).
#[derive(Debug)]
pub struct RawSender {
    v4: OwnedFd,
    v6: OwnedFd,
}

fn raw_socket(family: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the result is owned below.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::IPPROTO_RAW,
        )
    };
    if fd < 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EPERM) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "cannot open a raw socket to send rejects: run as root or give the binary CAP_NET_RAW",
            ));
        }
        return Err(error);
    }
    // SAFETY: fd is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl RawSender {
    pub fn open() -> io::Result<Self> {
        let v4 = raw_socket(libc::AF_INET)?;
        let v6 = raw_socket(libc::AF_INET6)?;
        let on: libc::c_int = 1;
        // IPV6_HDRINCL (36) is implied for IPPROTO_RAW on Linux; set it where supported.
        // SAFETY: valid fd and c_int option.
        unsafe {
            libc::setsockopt(
                v6.as_raw_fd(),
                libc::IPPROTO_IPV6,
                36,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        Ok(RawSender { v4, v6 })
    }

    /// Sends one forged packet to its destination.
    pub fn send(&self, forged: &Forged) -> io::Result<()> {
        let destination = forged.destination.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "forged packet has no destination",
            )
        })?;
        let (fd, address) = match destination {
            IpAddr::V4(_) => (self.v4.as_raw_fd(), SocketAddr::new(destination, 0)),
            IpAddr::V6(_) => (self.v6.as_raw_fd(), SocketAddr::new(destination, 0)),
        };
        let (storage, len) = socket_address(address);
        // SAFETY: bytes and storage are valid for their lengths.
        let rc = unsafe {
            libc::sendto(
                fd,
                forged.bytes.as_ptr().cast(),
                forged.bytes.len(),
                0,
                (&storage as *const libc::sockaddr_storage).cast(),
                len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sends each forged packet and counts it.
    pub fn send_all(&self, forged: &[Forged], counters: &RejectCounters) {
        for packet in forged.iter().filter(|f| f.destination.is_some()) {
            match self.send(packet) {
                Ok(()) if is_tcp(&packet.bytes) => {
                    counters.tcp_resets_sent.fetch_add(1, Ordering::Relaxed);
                }
                Ok(()) => {
                    counters
                        .icmp_unreachables_sent
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    counters.send_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

fn is_tcp(ip_bytes: &[u8]) -> bool {
    match ip_bytes.first().map(|b| b >> 4) {
        Some(4) => ip_bytes.get(9) == Some(&6),
        Some(6) => ip_bytes.get(6) == Some(&6),
        _ => false,
    }
}

fn socket_address(address: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; zeroed is valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match address {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            (
                storage,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            (
                storage,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{ChecksumStatus, TcpHeader, TcpOptions};
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn tcp_packet<'a>(
        ip: &'a [u8],
        src: IpAddr,
        dst: IpAddr,
        tcp: TcpHeader,
        payload: &'a [u8],
    ) -> Packet<'a> {
        Packet {
            ip_bytes: ip,
            src,
            dst,
            ip_proto: 6,
            ttl: 64,
            tos: 0,
            ip_id: 0,
            ip_options: 0,
            fragbits: 0,
            fragment: None,
            transport: Transport::Tcp(tcp),
            payload,
            checksum: ChecksumStatus::Valid,
            l4_offset: 0,
            vlan: None,
        }
    }

    fn header(flags: u8, seq: u32, ack: u32) -> TcpHeader {
        TcpHeader {
            src_port: 40000,
            dst_port: 80,
            seq,
            ack,
            flags,
            window: 1000,
            urgent_pointer: 0,
            options: TcpOptions::default(),
        }
    }

    fn v4(a: u8) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, a))
    }

    fn v6(a: u16) -> IpAddr {
        IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, a))
    }

    /// Decodes forged bytes, checks the IP/TCP checksums, returns (src, dst, tcp header).
    fn decode_tcp(bytes: &[u8]) -> (IpAddr, IpAddr, etherparse::TcpHeader) {
        let sliced = SlicedPacket::from_ip(bytes).expect("decodes");
        let (src, dst) = match sliced.net.as_ref().expect("ip") {
            NetSlice::Ipv4(ip) => {
                let header = ip.header().to_header();
                assert_eq!(
                    header.header_checksum,
                    header.calc_header_checksum(),
                    "IPv4 checksum"
                );
                (
                    IpAddr::V4(ip.header().source_addr()),
                    IpAddr::V4(ip.header().destination_addr()),
                )
            }
            NetSlice::Ipv6(ip) => (
                IpAddr::V6(ip.header().source_addr()),
                IpAddr::V6(ip.header().destination_addr()),
            ),
            NetSlice::Arp(_) => panic!("arp"),
        };
        let Some(TransportSlice::Tcp(tcp)) = sliced.transport else {
            panic!("not tcp")
        };
        let header = tcp.to_header();
        let expected = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                header.calc_checksum_ipv4_raw(s.octets(), d.octets(), &[])
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                header.calc_checksum_ipv6_raw(s.octets(), d.octets(), &[])
            }
            _ => panic!("mixed families"),
        };
        assert_eq!(header.checksum, expected.expect("checksum"), "TCP checksum");
        (src, dst, header)
    }

    #[test]
    fn reset_to_sender_uses_its_ack_and_comes_from_the_destination() {
        let packet = tcp_packet(
            &[],
            v4(1),
            v4(2),
            header(TCP_ACK | 0x08, 1000, 5000),
            b"attack",
        );
        let mut out = Forged::default();
        forge_reset_to_sender(&Subject::from_packet(&packet), &mut out).expect("forged");
        assert_eq!(out.destination, Some(v4(1)));
        let (src, dst, tcp) = decode_tcp(&out.bytes);
        assert_eq!((src, dst), (v4(2), v4(1)));
        assert_eq!((tcp.source_port, tcp.destination_port), (80, 40000));
        assert!(tcp.rst && !tcp.ack && !tcp.syn);
        assert_eq!(tcp.sequence_number, 5000);
    }

    #[test]
    fn reset_to_receiver_uses_the_dropped_packets_seq() {
        let packet = tcp_packet(&[], v6(1), v6(2), header(TCP_ACK, 1000, 5000), b"attack");
        let mut out = Forged::default();
        forge_reset_to_receiver(&Subject::from_packet(&packet), None, &mut out).expect("forged");
        assert_eq!(out.destination, Some(v6(2)));
        let (src, dst, tcp) = decode_tcp(&out.bytes);
        assert_eq!((src, dst), (v6(1), v6(2)));
        assert_eq!((tcp.source_port, tcp.destination_port), (40000, 80));
        assert!(tcp.rst && tcp.ack);
        assert_eq!(
            (tcp.sequence_number, tcp.acknowledgment_number),
            (1000, 5000)
        );
        forge_reset_to_receiver(&Subject::from_packet(&packet), Some(777), &mut out)
            .expect("forged");
        assert_eq!(decode_tcp(&out.bytes).2.sequence_number, 777);
    }

    #[test]
    fn reset_to_a_syn_acks_it_and_spares_the_receiver() {
        let packet = tcp_packet(&[], v4(1), v4(2), header(TCP_SYN, 0xffff_ffff, 0), b"");
        let mut out = Forged::default();
        forge_reset_to_sender(&Subject::from_packet(&packet), &mut out).expect("forged");
        let (_, _, tcp) = decode_tcp(&out.bytes);
        assert!(tcp.rst && tcp.ack);
        assert_eq!((tcp.sequence_number, tcp.acknowledgment_number), (0, 0));
        assert!(forge_reset_to_receiver(&Subject::from_packet(&packet), None, &mut out).is_none());
        assert!(out.bytes.is_empty());
    }

    #[test]
    fn no_reset_answers_a_reset() {
        let packet = tcp_packet(&[], v4(1), v4(2), header(TCP_RST | TCP_ACK, 1, 2), b"");
        let mut out = [Forged::default(), Forged::default()];
        assert_eq!(
            forge_reject(
                &Subject::from_packet(&packet),
                RejectTarget::Both,
                None,
                true,
                &mut out
            ),
            0
        );
    }

    #[test]
    fn reject_targets_choose_the_ends() {
        let packet = tcp_packet(&[], v4(1), v4(2), header(TCP_ACK, 10, 20), b"x");
        let mut out = [Forged::default(), Forged::default()];
        assert_eq!(
            forge_reject(
                &Subject::from_packet(&packet),
                RejectTarget::Both,
                None,
                true,
                &mut out
            ),
            2
        );
        assert_eq!(
            (out[0].destination, out[1].destination),
            (Some(v4(1)), Some(v4(2)))
        );
        assert_eq!(
            forge_reject(
                &Subject::from_packet(&packet),
                RejectTarget::Dst,
                None,
                true,
                &mut out
            ),
            1
        );
        assert_eq!(
            (out[0].destination, out[1].destination),
            (Some(v4(2)), None)
        );
        assert_eq!(
            forge_reject(
                &Subject::from_packet(&packet),
                RejectTarget::Src,
                None,
                true,
                &mut out
            ),
            1
        );
        assert_eq!(out[0].destination, Some(v4(1)));
    }

    fn udp_datagram_v4(payload_len: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        PacketBuilder::ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
            .udp(5353, 53)
            .write(&mut bytes, &vec![0xab; payload_len])
            .expect("build");
        bytes
    }

    fn udp_packet(ip: &[u8], src: IpAddr, dst: IpAddr) -> Packet<'_> {
        Packet {
            transport: Transport::Udp {
                src_port: 5353,
                dst_port: 53,
            },
            ip_proto: 17,
            ..tcp_packet(ip, src, dst, header(0, 0, 0), &[])
        }
    }

    #[test]
    fn udp_gets_icmpv4_port_unreachable_quoting_the_datagram() {
        let datagram = udp_datagram_v4(1000);
        let packet = udp_packet(&datagram, v4(1), v4(2));
        let mut out = [Forged::default(), Forged::default()];
        assert_eq!(
            forge_reject(
                &Subject::from_packet(&packet),
                RejectTarget::Both,
                None,
                true,
                &mut out
            ),
            1
        );
        assert_eq!(out[0].destination, Some(v4(1)));
        assert_eq!(out[0].bytes.len(), ICMPV4_ERROR_MAX);
        let sliced = SlicedPacket::from_ip(&out[0].bytes).expect("decodes");
        let Some(TransportSlice::Icmpv4(icmp)) = sliced.transport else {
            panic!("not icmp")
        };
        assert_eq!((icmp.type_u8(), icmp.code_u8()), (3, 3));
        assert_eq!(icmp.payload(), &datagram[..ICMPV4_ERROR_MAX - 28]);
        assert_eq!(
            icmp.header().checksum,
            icmp.icmp_type().calc_checksum(icmp.payload())
        );
        let Some(NetSlice::Ipv4(ip)) = sliced.net else {
            panic!("not ipv4")
        };
        assert_eq!(IpAddr::V4(ip.header().source_addr()), v4(2));
    }

    #[test]
    fn udp_v6_gets_icmpv6_port_unreachable() {
        let mut datagram = Vec::new();
        PacketBuilder::ipv6(
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
        .udp(5353, 53)
        .write(&mut datagram, b"query")
        .expect("build");
        let packet = udp_packet(&datagram, v6(1), v6(2));
        let mut out = Forged::default();
        forge_port_unreachable(&Subject::from_packet(&packet), &mut out).expect("forged");
        let sliced = SlicedPacket::from_ip(&out.bytes).expect("decodes");
        let Some(TransportSlice::Icmpv6(icmp)) = sliced.transport else {
            panic!("not icmpv6")
        };
        assert_eq!((icmp.type_u8(), icmp.code_u8()), (1, 4));
        assert_eq!(icmp.payload(), &datagram[..]);
        let Some(NetSlice::Ipv6(ip)) = sliced.net else {
            panic!("not ipv6")
        };
        let (s, d) = (
            ip.header().source_addr().octets(),
            ip.header().destination_addr().octets(),
        );
        let expected = icmp
            .icmp_type()
            .calc_checksum(s, d, icmp.payload())
            .expect("checksum");
        assert_eq!(icmp.header().checksum, expected);
        assert_eq!(IpAddr::V6(ip.header().destination_addr()), v6(1));
    }

    #[test]
    fn icmp_errors_are_never_answered() {
        let datagram = udp_datagram_v4(10);
        let packet = Packet {
            transport: Transport::Icmp {
                itype: 3,
                icode: 3,
                id: None,
                seq: None,
            },
            ip_proto: 1,
            ..udp_packet(&datagram, v4(1), v4(2))
        };
        let mut out = Forged::default();
        assert!(forge_port_unreachable(&Subject::from_packet(&packet), &mut out).is_none());
        let echo = Packet {
            transport: Transport::Icmp {
                itype: 8,
                icode: 0,
                id: Some(1),
                seq: Some(1),
            },
            ..packet
        };
        assert!(forge_port_unreachable(&Subject::from_packet(&echo), &mut out).is_some());
    }

    #[test]
    fn request_subjects_forge_like_packet_subjects() {
        let datagram = udp_datagram_v4(20);
        let request = RejectRequest {
            target: RejectTarget::Both,
            src: v4(1),
            dst: v4(2),
            ip_proto: 17,
            src_port: 5353,
            dst_port: 53,
            seq: 0,
            ack: 0,
            tcp_flags: 0,
            payload_len: 20,
            quote: datagram.clone(),
        };
        let packet = udp_packet(&datagram, v4(1), v4(2));
        let (mut a, mut b) = (
            [Forged::default(), Forged::default()],
            [Forged::default(), Forged::default()],
        );
        assert_eq!(
            forge_reject(
                &Subject::from_request(&request),
                RejectTarget::Both,
                None,
                true,
                &mut a
            ),
            1
        );
        assert_eq!(
            forge_reject(
                &Subject::from_packet(&packet),
                RejectTarget::Both,
                None,
                true,
                &mut b
            ),
            1
        );
        assert_eq!(a, b);
        assert_eq!(
            forge_reject(
                &Subject::from_request(&request),
                RejectTarget::Both,
                None,
                false,
                &mut a
            ),
            0
        );
        let tcp = RejectRequest {
            ip_proto: 6,
            seq: 10,
            ack: 20,
            tcp_flags: TCP_ACK,
            ..request.clone()
        };
        assert_eq!(
            forge_reject(
                &Subject::from_request(&tcp),
                RejectTarget::Both,
                None,
                true,
                &mut a
            ),
            2
        );
        assert_eq!(decode_tcp(&a[0].bytes).2.sequence_number, 20);
        assert_eq!(decode_tcp(&a[1].bytes).2.sequence_number, 10);
        // An ICMP error (type 3 in the quote) is never answered.
        let mut error = Vec::new();
        PacketBuilder::ipv4([198, 18, 0, 1], [198, 18, 0, 2], 64)
            .icmpv4(Icmpv4Type::DestinationUnreachable(
                icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut error, b"quoted")
            .expect("build");
        let icmp = RejectRequest {
            ip_proto: 1,
            quote: error,
            ..request
        };
        assert!(Subject::from_request(&icmp).icmp_error);
    }

    #[test]
    fn is_tcp_reads_the_protocol_field() {
        let packet = tcp_packet(&[], v4(1), v4(2), header(TCP_ACK, 1, 2), b"");
        let mut out = Forged::default();
        forge_reset_to_sender(&Subject::from_packet(&packet), &mut out).expect("forged");
        assert!(is_tcp(&out.bytes));
        assert!(!is_tcp(&udp_datagram_v4(4)));
        assert!(!is_tcp(&[]));
    }
}
