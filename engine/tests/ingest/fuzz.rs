//! Property tests: no input makes the decoder or the readers panic.

use proptest::prelude::*;

use nfips_engine::craft::PacketBuilder;
use nfips_engine::decode::{decode, DecodeStats, LinkType};
use nfips_engine::source::pcap::{PcapReader, PcapSliceReader};

const LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::RawIp,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Unsupported(147),
];

fn decode_all_ways(data: &[u8]) {
    let mut stats = DecodeStats::default();
    for link in LINKS {
        for validate in [false, true] {
            if let Ok(p) = decode(link, data, validate, &mut stats) {
                assert!(p.l4_offset <= p.ip_bytes.len());
                assert!(p.payload.len() <= p.ip_bytes.len());
            }
        }
    }
    assert_eq!(stats.decoded + stats.errors_total, 16);
}

proptest! {
    #[test]
    fn random_bytes_never_panic_the_decoder(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        decode_all_ways(&data);
    }

    #[test]
    fn mutated_real_packets_never_panic_the_decoder(
        which in 0usize..4,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let base = [
            PacketBuilder::tcp("10.0.0.1:1", "10.0.0.2:80").mss(1460).timestamps(1, 2).ipv4_options(&[0x07, 7, 4, 0, 0, 0, 0]).payload(b"GET / HTTP/1.1").vlan(5).build(),
            PacketBuilder::udp("[2001:db8::1]:1", "[2001:db8::2]:53").ipv6_ext_header(0, &[1, 4, 0, 0, 0, 0]).payload(b"dns").ethernet().build(),
            PacketBuilder::icmp_echo("2001:db8::1", "2001:db8::2", 1, 2).ethernet().build(),
            PacketBuilder::udp("[2001:db8::1]:1", "[2001:db8::2]:53").payload(&[1; 40]).ethernet().fragments(&[16]).remove(0),
        ];
        let mut data = base[which].clone();
        for (at, value) in flips {
            let len = data.len();
            data[at % len] = value;
        }
        data.truncate(cut % (data.len() + 1));
        decode_all_ways(&data);
    }

    #[test]
    fn random_records_after_a_valid_header_never_panic_the_readers(
        big_endian in any::<bool>(),
        ng in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = if ng {
            let mut shb = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
            shb.extend_from_slice(&[0xff; 8]);
            shb.extend_from_slice(&[28, 0, 0, 0]);
            shb
        } else if big_endian {
            vec![0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 1]
        } else {
            vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]
        };
        bytes.extend_from_slice(&body);
        if let Ok(reader) = PcapSliceReader::new("fuzz.pcap", &bytes) {
            for record in reader.take(1000).flatten() {
                decode_all_ways(record.data);
            }
        }
        if let Ok(mut reader) = PcapReader::from_reader("fuzz.pcap", std::io::Cursor::new(bytes)) {
            for _ in 0..1000 {
                match reader.next_record() {
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
        }
    }

    #[test]
    fn random_files_never_panic_the_readers(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(reader) = PcapSliceReader::new("fuzz.pcap", &bytes) {
            for _ in reader.take(1000) {}
        }
        let _ = PcapReader::from_reader("fuzz.pcap", std::io::Cursor::new(bytes));
    }
}
