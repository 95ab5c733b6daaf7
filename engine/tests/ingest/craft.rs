//! Crafting tests: what the builder makes decodes to what was asked for.

use nfips_engine::craft::{PacketBuilder, TcpConversation, CLIENT_ISN, SERVER_ISN};
use nfips_engine::decode::tcp_flags::{ACK, FIN, PSH, RST, SYN};
use nfips_engine::decode::{decode, ChecksumStatus, DecodeStats, LinkType, Packet};
use nfips_engine::source::pcap::PcapSliceReader;

fn decoded(link: LinkType, data: &[u8]) -> Packet<'_> {
    decode(link, data, true, &mut DecodeStats::default()).expect("crafted packets decode")
}

#[test]
fn conversation_handshake_data_and_close_have_consistent_numbers() {
    let mut c = TcpConversation::new("192.168.1.10:40000", "192.168.1.20:80");
    c.handshake()
        .client_sends(b"GET / HTTP/1.0\r\n\r\n", &[3, 5])
        .server_sends(b"HTTP/1.0 200 OK\r\n\r\n", &[])
        .close();
    let packets: Vec<_> = c.packets().iter().map(|(_, bytes)| bytes.clone()).collect();
    let tcp: Vec<_> = packets
        .iter()
        .map(|b| {
            let p = decoded(LinkType::RawIp, b);
            assert_eq!(p.checksum, ChecksumStatus::Valid);
            (*p.tcp().unwrap(), p.payload.to_vec())
        })
        .collect();
    let flags: Vec<u8> = tcp.iter().map(|(h, _)| h.flags).collect();
    assert_eq!(
        flags,
        vec![
            SYN,
            SYN | ACK,
            ACK,
            PSH | ACK,
            PSH | ACK,
            PSH | ACK,
            ACK,
            PSH | ACK,
            ACK,
            FIN | ACK,
            FIN | ACK,
            ACK
        ]
    );
    assert_eq!(tcp[0].0.seq, CLIENT_ISN);
    assert_eq!(tcp[1].0.ack, CLIENT_ISN + 1);
    assert_eq!(tcp[1].0.seq, SERVER_ISN);
    // The three client segments: 3, 5 and the remaining 10 bytes, back to back.
    let segments: Vec<_> = tcp[3..6]
        .iter()
        .map(|(h, data)| (h.seq - CLIENT_ISN - 1, data.len()))
        .collect();
    assert_eq!(segments, vec![(0, 3), (3, 5), (8, 10)]);
    let request: Vec<u8> = tcp[3..6].iter().flat_map(|(_, d)| d.clone()).collect();
    assert_eq!(request, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(
        tcp[6].0.ack,
        CLIENT_ISN + 1 + 18,
        "the server acknowledges everything"
    );
    assert_eq!(
        tcp[9].0.seq,
        CLIENT_ISN + 1 + 18,
        "client FIN follows its data"
    );
    assert_eq!(
        tcp[11].0.ack,
        SERVER_ISN + 1 + 19 + 1,
        "last ACK covers the server FIN"
    );
    assert_eq!(c.client_next_seq(), CLIENT_ISN + 1 + 18 + 1);
    assert_eq!(c.server_next_seq(), SERVER_ISN + 1 + 19 + 1);
}

#[test]
fn conversation_timestamps_increase_and_pcap_round_trips() {
    let mut c =
        TcpConversation::new("[2001:db8::1]:1234", "[2001:db8::2]:443").link(LinkType::Ethernet);
    c.handshake().client_sends(b"hello", &[]).reset();
    let mut file = Vec::new();
    c.write_pcap(&mut file).unwrap();
    let reader = PcapSliceReader::new("conv.pcap", &file).unwrap();
    let records: Vec<_> = reader.map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), c.packets().len());
    assert!(records.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
    let last = decoded(
        records[records.len() - 1].link,
        records[records.len() - 1].data,
    );
    assert_eq!(last.tcp().unwrap().flags, RST | ACK);
    assert!(last.is_ipv6());
}

#[test]
fn hand_made_segment_with_a_bad_checksum() {
    let c = TcpConversation::new("10.0.0.1:1", "10.0.0.2:2");
    let bad = c
        .from_client()
        .payload(b"evil")
        .corrupt_l4_checksum()
        .build();
    assert_eq!(
        decoded(LinkType::RawIp, &bad).checksum,
        ChecksumStatus::Invalid
    );
}

#[test]
fn ipv4_fragments_carry_the_segment() {
    let builder = PacketBuilder::udp("10.0.0.1:1", "10.0.0.2:2")
        .payload(&[9; 50])
        .ip_id(3);
    let segment = builder.build_l4();
    let frags = builder.fragments(&[16, 16]);
    assert_eq!(frags.len(), 3);
    let mut joined = Vec::new();
    for f in &frags {
        let p = decoded(LinkType::RawIp, f);
        let frag = p.fragment.unwrap();
        assert_eq!(frag.offset as usize, joined.len());
        joined.extend_from_slice(&p.ip_bytes[p.l4_offset..]);
    }
    assert_eq!(joined, segment);
}

#[test]
fn every_link_type_frames_decodably() {
    let builder = PacketBuilder::udp("10.0.0.1:1", "10.0.0.2:2").payload(b"x");
    for link in [
        LinkType::Ethernet,
        LinkType::RawIp,
        LinkType::Ipv4,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Null,
    ] {
        let frame = builder.clone().link(link).build();
        assert_eq!(decoded(link, &frame).payload, b"x", "{link}");
    }
}
