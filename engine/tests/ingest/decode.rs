//! Decoder tests: every link type, VLAN/QinQ, IPv4 options, IPv6 extension headers, TCP
//! options, each decode error reason, checksums and auto mode.

use std::net::IpAddr;

use nfips_engine::craft::PacketBuilder;
use nfips_engine::decode::tcp_flags::{ACK, PSH, SYN};
use nfips_engine::decode::{
    decode, decode_reassembled, frag_bits, ip_option_bits, ChecksumMode, ChecksumStatus,
    DecodeError, DecodeStats, Decoder, Fragment, LinkType, Packet, TcpOptions, Transport,
    CHECKSUM_AUTO_SAMPLE_PACKETS,
};

fn ok(link: LinkType, data: &[u8]) -> Packet<'_> {
    let mut stats = DecodeStats::default();
    match decode(link, data, true, &mut stats) {
        Ok(packet) => packet,
        Err(e) => panic!("decode failed: {e}"),
    }
}

fn err(link: LinkType, data: &[u8]) -> DecodeError {
    let mut stats = DecodeStats::default();
    let Err(e) = decode(link, data, true, &mut stats) else {
        panic!("decode should fail");
    };
    assert_eq!(stats.error_count(e), 1, "the reason is counted");
    assert_eq!(stats.errors_total, 1);
    e
}

fn web_request() -> PacketBuilder {
    PacketBuilder::tcp("10.0.0.1:40000", "10.0.0.2:80")
        .flags(PSH | ACK)
        .seq(7)
        .ack(9)
        .payload(b"GET /")
}

fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

// ----- link types -----

fn assert_web_request(p: &Packet<'_>) {
    assert_eq!(p.src, addr("10.0.0.1"));
    assert_eq!(p.dst, addr("10.0.0.2"));
    assert_eq!(p.ports(), Some((40000, 80)));
    assert_eq!(p.payload, b"GET /");
    assert_eq!(p.checksum, ChecksumStatus::Valid);
}

#[test]
fn decodes_raw_ipv4() {
    assert_web_request(&ok(LinkType::RawIp, &web_request().build()));
}

#[test]
fn decodes_ethernet() {
    let frame = web_request().ethernet().build();
    let p = ok(LinkType::Ethernet, &frame);
    assert_web_request(&p);
    assert_eq!(p.ip_bytes, &frame[14..]);
    assert_eq!(p.vlan, None);
}

#[test]
fn decodes_linux_sll() {
    assert_web_request(&ok(
        LinkType::LinuxSll,
        &web_request().link(LinkType::LinuxSll).build(),
    ));
}

#[test]
fn decodes_linux_sll2() {
    assert_web_request(&ok(
        LinkType::LinuxSll2,
        &web_request().link(LinkType::LinuxSll2).build(),
    ));
}

#[test]
fn decodes_bsd_null_in_either_byte_order() {
    let frame = web_request().link(LinkType::Null).build();
    assert_web_request(&ok(LinkType::Null, &frame));
    let mut big_endian = frame.clone();
    big_endian[..4].copy_from_slice(&2u32.to_be_bytes());
    assert_web_request(&ok(LinkType::Null, &big_endian));
}

#[test]
fn decodes_bsd_null_ipv6_families() {
    let packet = PacketBuilder::udp("[2001:db8::1]:53", "[2001:db8::2]:53")
        .payload(b"q")
        .link(LinkType::Null);
    for family in [10u32, 24, 28, 30] {
        let mut frame = packet.build();
        frame[..4].copy_from_slice(&family.to_le_bytes());
        assert!(ok(LinkType::Null, &frame).is_ipv6(), "family {family}");
    }
}

#[test]
fn ipv4_and_ipv6_link_types_check_the_version() {
    let v4 = web_request().build();
    assert_web_request(&ok(LinkType::Ipv4, &v4));
    assert_eq!(err(LinkType::Ipv6, &v4), DecodeError::IpUnknownVersion);
    let v6 = PacketBuilder::udp("[::1]:1", "[::2]:2").build();
    assert!(ok(LinkType::Ipv6, &v6).is_ipv6());
    assert_eq!(err(LinkType::Ipv4, &v6), DecodeError::IpUnknownVersion);
}

#[test]
fn pcap_linktype_numbers_map_both_ways() {
    for (number, link) in [
        (1, LinkType::Ethernet),
        (101, LinkType::RawIp),
        (12, LinkType::RawIp),
        (14, LinkType::RawIp),
        (228, LinkType::Ipv4),
        (229, LinkType::Ipv6),
        (113, LinkType::LinuxSll),
        (276, LinkType::LinuxSll2),
        (0, LinkType::Null),
        (108, LinkType::Null),
    ] {
        assert_eq!(LinkType::from_pcap(number), link, "linktype {number}");
        assert_eq!(LinkType::from_pcap(link.to_pcap()), link);
    }
    assert_eq!(LinkType::from_pcap(147), LinkType::Unsupported(147));
}

// ----- VLAN -----

#[test]
fn decodes_one_vlan_tag() {
    let frame = web_request().vlan(100).build();
    assert_eq!(&frame[12..14], &[0x81, 0x00]);
    let p = ok(LinkType::Ethernet, &frame);
    assert_web_request(&p);
    assert_eq!(p.vlan, Some(100));
}

#[test]
fn decodes_qinq_and_reports_the_outer_vlan() {
    let frame = web_request().vlan(200).vlan(300).build();
    assert_eq!(&frame[12..14], &[0x88, 0xa8]);
    let p = ok(LinkType::Ethernet, &frame);
    assert_web_request(&p);
    assert_eq!(p.vlan, Some(200));
}

#[test]
fn decodes_vlan_in_linux_sll() {
    let bytes = web_request().link(LinkType::LinuxSll).vlan(7).build();
    let p = ok(LinkType::LinuxSll, &bytes);
    assert_web_request(&p);
    assert_eq!(p.vlan, Some(7));
}

#[test]
fn too_many_vlan_tags_is_an_error() {
    let frame = web_request().vlan(1).vlan(2).vlan(3).vlan(4).build();
    assert_eq!(
        err(LinkType::Ethernet, &frame),
        DecodeError::VlanTooManyTags
    );
}

#[test]
fn truncated_vlan_tag_is_an_error() {
    let frame = web_request().vlan(1).build();
    assert_eq!(
        err(LinkType::Ethernet, &frame[..16]),
        DecodeError::VlanTruncated
    );
}

// ----- IPv4 -----

#[test]
fn ipv4_header_fields() {
    let bytes = web_request()
        .ttl(3)
        .tos(0x10)
        .ip_id(0xbeef)
        .dont_fragment()
        .build();
    let p = ok(LinkType::RawIp, &bytes);
    assert_eq!((p.ttl, p.tos, p.ip_id, p.ip_proto), (3, 0x10, 0xbeef, 6));
    assert_eq!(p.fragbits, frag_bits::DONT);
    assert_eq!(p.fragment, None);
    assert_eq!(p.l4_offset, 20);
}

#[test]
fn reserved_bit_sets_fragbit_r() {
    let bytes = web_request().reserved_bit().build();
    let p = ok(LinkType::RawIp, &bytes);
    assert_eq!(p.fragbits, frag_bits::RESERVED);
}

#[test]
fn ipv4_options_set_their_bits() {
    use ip_option_bits::*;
    let cases: [(&[u8], u16); 10] = [
        (&[0x07, 7, 4, 0, 0, 0, 0], RR),
        (&[0x01, 0x00], NOP | EOL),
        (&[0x44, 8, 5, 0, 0, 0, 0, 0], TS),
        (&[0x82, 3, 0], SEC),
        (&[0x85, 3, 0], ESEC),
        (&[0x83, 7, 4, 0, 0, 0, 0], LSRR),
        (&[0x84, 3, 0], LSRRE),
        (&[0x89, 7, 4, 0, 0, 0, 0], SSRR),
        (&[0x88, 4, 0, 1], SATID),
        (&[0x01, 0x07, 3, 0], NOP | RR),
    ];
    for (options, bits) in cases {
        let packet = web_request().ipv4_options(options).build();
        let p = ok(LinkType::RawIp, &packet);
        // The builder pads to 4 bytes with zeros, which are end-of-list options.
        let padding = if options.len() % 4 == 0 { 0 } else { EOL };
        assert_eq!(p.ip_options, bits | padding, "options {options:02x?}");
        assert_eq!(p.payload, b"GET /", "payload after options {options:02x?}");
        assert_eq!(p.l4_offset, 20 + options.len().div_ceil(4) * 4);
    }
}

#[test]
fn unknown_ipv4_option_sets_no_bit() {
    let bytes = web_request().ipv4_options(&[0x94, 4, 0, 0]).build();
    let p = ok(LinkType::RawIp, &bytes);
    assert_eq!(p.ip_options, 0);
}

#[test]
fn ipv4_option_with_bad_length_is_an_error() {
    let packet = web_request().ipv4_options(&[0x07, 9, 4, 0]).build();
    assert_eq!(err(LinkType::RawIp, &packet), DecodeError::Ipv4BadOptions);
    let packet = web_request().ipv4_options(&[0x07, 1, 0, 0]).build();
    assert_eq!(err(LinkType::RawIp, &packet), DecodeError::Ipv4BadOptions);
}

#[test]
fn ethernet_padding_is_cut_by_the_ip_length() {
    let mut frame = PacketBuilder::udp("10.0.0.1:1", "10.0.0.2:2")
        .payload(b"x")
        .ethernet()
        .build();
    let ip_len = frame.len() - 14;
    frame.extend_from_slice(&[0u8; 20]);
    let p = ok(LinkType::Ethernet, &frame);
    assert_eq!(p.ip_bytes.len(), ip_len);
    assert_eq!(p.payload, b"x");
}

#[test]
fn ipv4_first_fragment_goes_to_defrag() {
    let frags = web_request()
        .payload(&[b'a'; 40])
        .ip_id(77)
        .fragments(&[24]);
    assert_eq!(frags.len(), 2);
    let first = ok(LinkType::RawIp, &frags[0]);
    assert_eq!(
        first.fragment,
        Some(Fragment {
            id: 77,
            offset: 0,
            more: true
        })
    );
    assert_eq!(first.fragbits, frag_bits::MORE);
    assert_eq!(first.transport, Transport::Other);
    assert!(first.payload.is_empty());
    assert_eq!(first.ip_bytes.len() - first.l4_offset, 24);
    let last = ok(LinkType::RawIp, &frags[1]);
    assert_eq!(
        last.fragment,
        Some(Fragment {
            id: 77,
            offset: 24,
            more: false
        })
    );
    assert_eq!(
        last.checksum,
        ChecksumStatus::Valid,
        "the IPv4 header checksum is checked"
    );
}

#[test]
fn reassembled_datagram_decodes_as_raw_ip() {
    let whole = web_request().build_ip();
    let mut stats = DecodeStats::default();
    let p = decode_reassembled(&whole, true, &mut stats).unwrap();
    assert_web_request(&p);
    let mut decoder = Decoder::new(ChecksumMode::Yes);
    assert_web_request(&decoder.decode_reassembled(&whole).unwrap());
}

#[test]
fn ipv4_shorter_than_its_header_is_truncated() {
    assert_eq!(
        err(LinkType::RawIp, &web_request().build()[..19]),
        DecodeError::Ipv4Truncated
    );
}

#[test]
fn ipv4_ihl_below_five_is_a_bad_header_length() {
    let mut packet = web_request().build();
    packet[0] = 0x44;
    assert_eq!(err(LinkType::RawIp, &packet), DecodeError::Ipv4BadHeaderLen);
}

#[test]
fn ipv4_ihl_beyond_the_packet_is_a_bad_header_length() {
    let mut packet = PacketBuilder::ip("10.0.0.1", "10.0.0.2", 99).build();
    packet[0] = 0x4f; // 60 bytes of header in a 20-byte packet whose total length says 20
    assert_eq!(err(LinkType::RawIp, &packet), DecodeError::Ipv4BadHeaderLen);
}

#[test]
fn ipv4_total_length_below_header_is_bad() {
    let mut packet = web_request().build();
    packet[2..4].copy_from_slice(&10u16.to_be_bytes());
    assert_eq!(err(LinkType::RawIp, &packet), DecodeError::Ipv4BadTotalLen);
}

#[test]
fn ip_length_beyond_the_captured_bytes_is_reported() {
    let packet = web_request().build();
    assert_eq!(
        err(LinkType::RawIp, &packet[..packet.len() - 1]),
        DecodeError::PacketClaimsMoreThanCaptured
    );
    let v6 = PacketBuilder::udp("[::1]:1", "[::2]:2")
        .payload(b"abc")
        .build();
    assert_eq!(
        err(LinkType::RawIp, &v6[..v6.len() - 1]),
        DecodeError::PacketClaimsMoreThanCaptured
    );
}

#[test]
fn ipv4_gso_super_packet_with_zero_total_length_uses_the_delivered_length() {
    let mut packet = web_request().payload(&vec![b'a'; 70_000]).build();
    packet[2..4].copy_from_slice(&[0, 0]);
    let mut stats = DecodeStats::default();
    let p = decode(LinkType::RawIp, &packet, false, &mut stats).unwrap();
    assert_eq!(p.payload.len(), 70_000);
    let mut small = web_request().build();
    small[2..4].copy_from_slice(&[0, 0]);
    assert_eq!(err(LinkType::RawIp, &small), DecodeError::Ipv4BadTotalLen);
}

// ----- IPv6 -----

#[test]
fn ipv6_header_fields() {
    let bytes = PacketBuilder::tcp("[2001:db8::1]:1", "[2001:db8::2]:2")
        .ttl(9)
        .tos(0xb8)
        .build();
    let p = ok(LinkType::RawIp, &bytes);
    assert_eq!((p.ttl, p.tos, p.ip_proto, p.ip_id), (9, 0xb8, 6, 0));
    assert_eq!(p.src, addr("2001:db8::1"));
    assert_eq!(p.checksum, ChecksumStatus::Valid);
}

#[test]
fn ipv6_extension_headers_are_walked() {
    let packet = PacketBuilder::udp("[2001:db8::1]:5000", "[2001:db8::2]:53")
        .payload(b"query")
        .ipv6_ext_header(0, &[1, 4, 0, 0, 0, 0])
        .ipv6_ext_header(43, &[0, 0, 0, 0, 0, 0])
        .ipv6_ext_header(51, &[0; 14])
        .ipv6_ext_header(60, &[1, 4, 0, 0, 0, 0])
        .build();
    let p = ok(LinkType::RawIp, &packet);
    assert_eq!(p.ip_proto, 17);
    assert_eq!(p.ports(), Some((5000, 53)));
    assert_eq!(p.payload, b"query");
    assert_eq!(p.l4_offset, 40 + 8 + 8 + 16 + 8);
    assert_eq!(p.checksum, ChecksumStatus::Valid);
}

#[test]
fn ipv6_fragment_header_goes_to_defrag() {
    let frags = PacketBuilder::udp("[2001:db8::1]:1", "[2001:db8::2]:2")
        .payload(&[7; 30])
        .ip_id(0x1234_5678)
        .fragments(&[16]);
    let first = ok(LinkType::RawIp, &frags[0]);
    assert_eq!(
        first.fragment,
        Some(Fragment {
            id: 0x1234_5678,
            offset: 0,
            more: true
        })
    );
    assert_eq!(first.ip_id, 0x1234_5678);
    assert_eq!(first.fragbits, frag_bits::MORE);
    assert_eq!(first.ip_proto, 17);
    assert_eq!(first.l4_offset, 48);
    assert_eq!(first.transport, Transport::Other);
    let last = ok(LinkType::RawIp, &frags[1]);
    assert_eq!(
        last.fragment,
        Some(Fragment {
            id: 0x1234_5678,
            offset: 16,
            more: false
        })
    );
}

#[test]
fn ipv6_atomic_fragment_is_a_whole_packet() {
    let frag = PacketBuilder::udp("[2001:db8::1]:1", "[2001:db8::2]:2")
        .payload(b"hi")
        .ip_id(5)
        .fragment(0, false, &[]);
    // build an atomic fragment carrying the whole UDP datagram
    let builder = PacketBuilder::udp("[2001:db8::1]:1", "[2001:db8::2]:2")
        .payload(b"hi")
        .ip_id(5);
    let atomic = builder.fragment(0, false, &builder.build_l4());
    assert!(frag.len() < atomic.len());
    let p = ok(LinkType::RawIp, &atomic);
    assert_eq!(p.fragment, None);
    assert_eq!(p.payload, b"hi");
    assert_eq!(p.ip_id, 5);
}

#[test]
fn ipv6_shorter_than_its_header_is_truncated() {
    let packet = PacketBuilder::udp("[::1]:1", "[::2]:2").build();
    assert_eq!(
        err(LinkType::RawIp, &packet[..39]),
        DecodeError::Ipv6Truncated
    );
}

#[test]
fn ipv6_extension_header_past_the_end_is_truncated() {
    let mut packet = PacketBuilder::udp("[::1]:1", "[::2]:2")
        .ipv6_ext_header(60, &[1, 4, 0, 0, 0, 0])
        .build();
    packet[41] = 200; // length of the destination options header
    assert_eq!(
        err(LinkType::RawIp, &packet),
        DecodeError::Ipv6ExtHeaderTruncated
    );
}

#[test]
fn too_many_ipv6_extension_headers_is_an_error() {
    let mut builder = PacketBuilder::udp("[::1]:1", "[::2]:2");
    for _ in 0..17 {
        builder = builder.ipv6_ext_header(60, &[1, 4, 0, 0, 0, 0]);
    }
    assert_eq!(
        err(LinkType::RawIp, &builder.build()),
        DecodeError::Ipv6TooManyExtHeaders
    );
}

// ----- TCP -----

#[test]
fn tcp_header_and_options() {
    let packet = PacketBuilder::tcp("10.0.0.1:1", "10.0.0.2:2")
        .flags(SYN)
        .seq(0xdead_beef)
        .ack(3)
        .window(1024)
        .urgent_pointer(5)
        .mss(1460)
        .window_scale(7)
        .sack_permitted()
        .timestamps(11, 22)
        .build();
    let p = ok(LinkType::RawIp, &packet);
    let tcp = p.tcp().copied().unwrap();
    assert_eq!(
        (tcp.src_port, tcp.dst_port, tcp.seq, tcp.ack),
        (1, 2, 0xdead_beef, 3)
    );
    assert_eq!((tcp.flags, tcp.window, tcp.urgent_pointer), (SYN, 1024, 5));
    assert_eq!(
        tcp.options,
        TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamp: Some((11, 22))
        }
    );
    assert!(p.payload.is_empty());
}

#[test]
fn malformed_tcp_options_are_counted_and_the_packet_decodes() {
    let packet = web_request()
        .mss(1400)
        .tcp_options_raw(&[2, 9, 0, 0])
        .build();
    let mut stats = DecodeStats::default();
    let p = decode(LinkType::RawIp, &packet, true, &mut stats).unwrap();
    assert_eq!(
        p.tcp().unwrap().options.mss,
        Some(1400),
        "options before the bad one are kept"
    );
    assert_eq!(p.payload, b"GET /");
    assert_eq!(stats.tcp_bad_options, 1);
}

#[test]
fn tcp_shorter_than_its_header_is_truncated() {
    let packet = PacketBuilder::ip("10.0.0.1", "10.0.0.2", 6)
        .payload(&[0; 19])
        .build();
    assert_eq!(err(LinkType::RawIp, &packet), DecodeError::TcpTruncated);
}

#[test]
fn tcp_data_offset_below_five_or_past_the_segment_is_bad() {
    for offset_byte in [0x40u8, 0xf0] {
        let mut packet = web_request().build();
        packet[20 + 12] = offset_byte;
        assert_eq!(
            err(LinkType::RawIp, &packet),
            DecodeError::TcpBadDataOffset,
            "{offset_byte:#x}"
        );
    }
}

// ----- UDP, ICMP -----

#[test]
fn udp_ports_and_payload() {
    let bytes = PacketBuilder::udp("10.0.0.1:5353", "10.0.0.2:53")
        .payload(b"dns")
        .build();
    let p = ok(LinkType::RawIp, &bytes);
    assert_eq!(
        p.transport,
        Transport::Udp {
            src_port: 5353,
            dst_port: 53
        }
    );
    assert_eq!(p.payload, b"dns");
}

#[test]
fn udp_truncated_and_bad_length() {
    let packet = PacketBuilder::ip("10.0.0.1", "10.0.0.2", 17)
        .payload(&[0; 7])
        .build();
    assert_eq!(err(LinkType::RawIp, &packet), DecodeError::UdpTruncated);
    for length in [7u16, 100] {
        let mut packet = PacketBuilder::udp("10.0.0.1:1", "10.0.0.2:2")
            .payload(b"abc")
            .build();
        packet[24..26].copy_from_slice(&length.to_be_bytes());
        assert_eq!(
            err(LinkType::RawIp, &packet),
            DecodeError::UdpBadLength,
            "length {length}"
        );
    }
}

#[test]
fn vxlan_is_counted_as_an_unsupported_tunnel() {
    let packet = PacketBuilder::udp("10.0.0.1:1", "10.0.0.2:4789")
        .payload(&[8, 0, 0, 0, 0, 0, 1, 0])
        .build();
    let mut stats = DecodeStats::default();
    let p = decode(LinkType::RawIp, &packet, true, &mut stats).unwrap();
    assert_eq!(p.ports(), Some((1, 4789)));
    assert_eq!(stats.tunnel_vxlan_unsupported, 1);
}

#[test]
fn gre_and_ip_in_ip_decode_as_the_outer_packet() {
    let mut stats = DecodeStats::default();
    for proto in [47u8, 4, 41] {
        let packet = PacketBuilder::ip("10.0.0.1", "10.0.0.2", proto)
            .payload(&[0; 24])
            .build();
        let p = decode(LinkType::RawIp, &packet, true, &mut stats).unwrap();
        assert_eq!((p.ip_proto, p.transport), (proto, Transport::Other));
        assert_eq!(p.payload.len(), 24);
    }
    assert_eq!(stats.tunnel_gre_unsupported, 1);
    assert_eq!(stats.tunnel_ip_in_ip_unsupported, 2);
}

#[test]
fn icmp_echo_has_id_and_seq() {
    let bytes = PacketBuilder::icmp_echo("10.0.0.1", "10.0.0.2", 42, 7)
        .payload(b"ping")
        .build();
    let p = ok(LinkType::RawIp, &bytes);
    assert_eq!(
        p.transport,
        Transport::Icmp {
            itype: 8,
            icode: 0,
            id: Some(42),
            seq: Some(7)
        }
    );
    assert_eq!(p.payload, b"ping");
    assert_eq!(p.checksum, ChecksumStatus::Valid);
}

#[test]
fn icmp_unreachable_has_no_id() {
    let bytes = PacketBuilder::icmp("10.0.0.1", "10.0.0.2", 3, 3).build();
    let p = ok(LinkType::RawIp, &bytes);
    assert_eq!(
        p.transport,
        Transport::Icmp {
            itype: 3,
            icode: 3,
            id: None,
            seq: None
        }
    );
}

#[test]
fn icmpv6_echo_has_id_and_seq() {
    let bytes = PacketBuilder::icmp_echo("2001:db8::1", "2001:db8::2", 1, 2).build();
    let p = ok(LinkType::RawIp, &bytes);
    assert_eq!(p.ip_proto, 58);
    assert_eq!(
        p.transport,
        Transport::Icmp {
            itype: 128,
            icode: 0,
            id: Some(1),
            seq: Some(2)
        }
    );
    assert_eq!(p.checksum, ChecksumStatus::Valid);
}

#[test]
fn icmp_and_icmpv6_truncated() {
    let v4 = PacketBuilder::ip("10.0.0.1", "10.0.0.2", 1)
        .payload(&[8, 0, 0])
        .build();
    assert_eq!(err(LinkType::RawIp, &v4), DecodeError::IcmpTruncated);
    let v6 = PacketBuilder::ip("::1", "::2", 58)
        .payload(&[128, 0, 0])
        .build();
    assert_eq!(err(LinkType::RawIp, &v6), DecodeError::Icmpv6Truncated);
}

// ----- link-level errors -----

#[test]
fn link_level_truncations() {
    assert_eq!(
        err(LinkType::Ethernet, &[0; 13]),
        DecodeError::EthernetTruncated
    );
    assert_eq!(err(LinkType::Ethernet, &[]), DecodeError::EthernetTruncated);
    assert_eq!(err(LinkType::LinuxSll, &[0; 15]), DecodeError::SllTruncated);
    assert_eq!(
        err(LinkType::LinuxSll2, &[0; 19]),
        DecodeError::Sll2Truncated
    );
    assert_eq!(err(LinkType::Null, &[2, 0, 0]), DecodeError::NullTruncated);
}

#[test]
fn null_with_unknown_family() {
    assert_eq!(
        err(LinkType::Null, &[99, 0, 0, 0, 0x45]),
        DecodeError::NullUnknownFamily
    );
}

#[test]
fn non_ip_ethertype_is_not_malformed() {
    let mut frame = web_request().ethernet().build();
    frame[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    let e = err(LinkType::Ethernet, &frame);
    assert_eq!(e, DecodeError::NonIp);
    assert!(!e.is_malformed());
}

#[test]
fn unknown_ip_version_and_link_type() {
    assert_eq!(
        err(LinkType::RawIp, &[0x50; 40]),
        DecodeError::IpUnknownVersion
    );
    assert_eq!(err(LinkType::RawIp, &[]), DecodeError::IpUnknownVersion);
    let mut frame = web_request().ethernet().build();
    frame[14] = 0x65; // ethertype says IPv4, version nibble says 6
    assert_eq!(
        err(LinkType::Ethernet, &frame),
        DecodeError::IpUnknownVersion
    );
    assert_eq!(
        err(LinkType::Unsupported(147), &[0; 60]),
        DecodeError::UnknownLinkType
    );
}

#[test]
fn decode_error_names_are_unique_snake_case() {
    let mut names: Vec<_> = DecodeError::ALL.iter().map(|e| e.name()).collect();
    assert!(names.iter().all(|n| n
        .chars()
        .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())));
    names.sort();
    names.dedup();
    assert_eq!(names.len(), DecodeError::ALL.len());
    assert!(DecodeError::PacketClaimsMoreThanCaptured
        .to_string()
        .contains("packet_claims_more_than_captured"));
}

#[test]
fn stats_iterate_every_counter_by_name() {
    let mut stats = DecodeStats::default();
    let _ = decode(LinkType::RawIp, &web_request().build(), true, &mut stats);
    let _ = decode(LinkType::RawIp, &[0x45], true, &mut stats);
    let counts: Vec<_> = stats.iter().collect();
    assert!(counts.contains(&("decoded", 1)));
    assert!(counts.contains(&("tcp", 1)));
    assert!(counts.contains(&("ipv4_truncated", 1)));
    assert!(counts.contains(&("errors_total", 1)));
    let mut merged = stats.clone();
    merged.merge(&stats);
    assert_eq!(merged.error_count(DecodeError::Ipv4Truncated), 2);
    assert_eq!(merged.decoded, 2);
}

// ----- checksums -----

#[test]
fn bad_ip_checksum_is_invalid() {
    let bytes = web_request().corrupt_ip_checksum().build();
    let p = ok(LinkType::RawIp, &bytes);
    assert_eq!(p.checksum, ChecksumStatus::Invalid);
}

#[test]
fn bad_transport_checksums_are_invalid() {
    let packets = [
        web_request(),
        PacketBuilder::tcp("[2001:db8::1]:1", "[2001:db8::2]:2").payload(b"x"),
        PacketBuilder::udp("10.0.0.1:1", "10.0.0.2:2").payload(b"x"),
        PacketBuilder::udp("[2001:db8::1]:1", "[2001:db8::2]:2").payload(b"x"),
        PacketBuilder::icmp_echo("10.0.0.1", "10.0.0.2", 1, 1),
        PacketBuilder::icmp_echo("2001:db8::1", "2001:db8::2", 1, 1),
    ];
    for builder in packets {
        assert_eq!(
            ok(LinkType::RawIp, &builder.build()).checksum,
            ChecksumStatus::Valid,
            "{builder:?}"
        );
        let bad = builder.clone().corrupt_l4_checksum().build();
        assert_eq!(
            ok(LinkType::RawIp, &bad).checksum,
            ChecksumStatus::Invalid,
            "{builder:?}"
        );
    }
}

#[test]
fn udp_zero_checksum_is_valid_over_ipv4_only() {
    let mut v4 = PacketBuilder::udp("10.0.0.1:1", "10.0.0.2:2")
        .payload(b"x")
        .build();
    v4[26..28].copy_from_slice(&[0, 0]);
    assert_eq!(ok(LinkType::RawIp, &v4).checksum, ChecksumStatus::Valid);
    let mut v6 = PacketBuilder::udp("[::1]:1", "[::2]:2")
        .payload(b"x")
        .build();
    v6[46..48].copy_from_slice(&[0, 0]);
    assert_eq!(ok(LinkType::RawIp, &v6).checksum, ChecksumStatus::Invalid);
}

#[test]
fn without_validation_checksums_are_unchecked() {
    let mut stats = DecodeStats::default();
    let bad = web_request().corrupt_l4_checksum().build();
    let p = decode(LinkType::RawIp, &bad, false, &mut stats).unwrap();
    assert_eq!(p.checksum, ChecksumStatus::Unchecked);
    assert_eq!(stats.checksum_unchecked, 1);
}

#[test]
fn checksum_modes_yes_and_no() {
    let bad = web_request().corrupt_l4_checksum().build();
    assert_eq!(
        Decoder::new(ChecksumMode::Yes)
            .decode(LinkType::RawIp, &bad)
            .unwrap()
            .checksum,
        ChecksumStatus::Invalid
    );
    assert_eq!(
        Decoder::new(ChecksumMode::No)
            .decode(LinkType::RawIp, &bad)
            .unwrap()
            .checksum,
        ChecksumStatus::Unchecked
    );
    assert_eq!("auto".parse::<ChecksumMode>(), Ok(ChecksumMode::Auto));
    assert!("maybe".parse::<ChecksumMode>().is_err());
}

#[test]
fn auto_mode_stops_validating_a_capture_with_mostly_bad_checksums() {
    let bad = web_request().corrupt_l4_checksum().build();
    let mut decoder = Decoder::new(ChecksumMode::Auto);
    for _ in 0..CHECKSUM_AUTO_SAMPLE_PACKETS {
        assert_eq!(
            decoder.decode(LinkType::RawIp, &bad).unwrap().checksum,
            ChecksumStatus::Invalid
        );
    }
    assert!(decoder.checksums.auto_disabled());
    assert_eq!(
        decoder.decode(LinkType::RawIp, &bad).unwrap().checksum,
        ChecksumStatus::Unchecked
    );
}

#[test]
fn auto_mode_keeps_validating_a_capture_with_few_bad_checksums() {
    let good = web_request().build();
    let bad = web_request().corrupt_l4_checksum().build();
    let mut decoder = Decoder::new(ChecksumMode::Auto);
    for i in 0..CHECKSUM_AUTO_SAMPLE_PACKETS {
        let packet = if i % 20 == 0 { &bad } else { &good };
        decoder.decode(LinkType::RawIp, packet).unwrap();
    }
    assert!(!decoder.checksums.auto_disabled());
    assert_eq!(
        decoder.decode(LinkType::RawIp, &bad).unwrap().checksum,
        ChecksumStatus::Invalid
    );
}

#[test]
fn checksum_not_ready_is_unchecked_without_disabling_validation() {
    let bad = web_request().corrupt_l4_checksum().build();
    let mut decoder = Decoder::new(ChecksumMode::Auto);
    for _ in 0..2 * CHECKSUM_AUTO_SAMPLE_PACKETS {
        let p = decoder
            .decode_checksum_not_ready(LinkType::RawIp, &bad)
            .unwrap();
        assert_eq!(p.checksum, ChecksumStatus::Unchecked);
    }
    assert!(decoder.checksums.validating());
    assert_eq!(
        decoder.decode(LinkType::RawIp, &bad).unwrap().checksum,
        ChecksumStatus::Invalid
    );
}
