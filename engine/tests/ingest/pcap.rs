//! Capture file tests: classic pcap in both byte orders and both resolutions, pcapng with
//! several interfaces, the writer round trip, and every way a file can be broken.

use std::io::{Cursor, Read};

use nfips_engine::craft::PacketBuilder;
use nfips_engine::decode::{ChecksumMode, DecodeError, Decoder, LinkType};
use nfips_engine::source::pcap::{
    PcapErrorKind, PcapReadError, PcapReader, PcapSliceReader, PcapWriter, Timestamp,
    MAX_RECORD_LEN,
};

/// One record as the tests see it: (number, timestamp, link, data, original length).
type Seen = (u64, Timestamp, LinkType, Vec<u8>, u32);

/// Read everything with the streaming reader: the records and the error that ended reading.
fn read_stream(
    name: &str,
    bytes: Vec<u8>,
) -> Result<(Vec<Seen>, Option<PcapReadError>), PcapReadError> {
    read_from(PcapReader::from_reader(name, Cursor::new(bytes))?)
}

fn read_from(mut reader: PcapReader) -> Result<(Vec<Seen>, Option<PcapReadError>), PcapReadError> {
    let mut seen = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(r)) => seen.push((
                r.number,
                r.timestamp,
                r.link,
                r.data.to_vec(),
                r.original_len,
            )),
            Ok(None) => return Ok((seen, None)),
            Err(e) => return Ok((seen, Some(e))),
        }
    }
}

/// The same with the in-memory reader.
fn read_slice(
    name: &str,
    bytes: &[u8],
) -> Result<(Vec<Seen>, Option<PcapReadError>), PcapReadError> {
    let reader = PcapSliceReader::new(name, bytes)?;
    let mut seen = Vec::new();
    for item in reader {
        match item {
            Ok(r) => seen.push((
                r.number,
                r.timestamp,
                r.link,
                r.data.to_vec(),
                r.original_len,
            )),
            Err(e) => return Ok((seen, Some(e))),
        }
    }
    Ok((seen, None))
}

/// Both readers must agree; returns the streaming reader's view.
fn read_both(bytes: Vec<u8>) -> (Vec<Seen>, Option<PcapReadError>) {
    let slice = read_slice("test.pcap", &bytes);
    let stream = read_stream("test.pcap", bytes);
    assert_eq!(stream, slice, "streaming and in-memory readers agree");
    stream.expect("header reads")
}

struct Classic {
    big_endian: bool,
    bytes: Vec<u8>,
}

impl Classic {
    fn new(big_endian: bool, nanos: bool, linktype: u32) -> Classic {
        let mut c = Classic {
            big_endian,
            bytes: Vec::new(),
        };
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        c.u32(magic);
        c.u16(2);
        c.u16(4);
        c.u32(0);
        c.u32(0);
        c.u32(65535);
        c.u32(linktype);
        c
    }
    fn u16(&mut self, v: u16) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend_from_slice(&b);
    }
    fn u32(&mut self, v: u32) {
        let b = if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.bytes.extend_from_slice(&b);
    }
    fn record(mut self, secs: u32, frac: u32, data: &[u8], original_len: u32) -> Classic {
        self.u32(secs);
        self.u32(frac);
        self.u32(data.len() as u32);
        self.u32(original_len);
        self.bytes.extend_from_slice(data);
        self
    }
    fn with_snaplen(mut self, snaplen: u32) -> Classic {
        let b = if self.big_endian {
            snaplen.to_be_bytes()
        } else {
            snaplen.to_le_bytes()
        };
        self.bytes[16..20].copy_from_slice(&b);
        self
    }
}

fn frame() -> Vec<u8> {
    PacketBuilder::tcp("10.0.0.1:1000", "10.0.0.2:80")
        .payload(b"hello")
        .ethernet()
        .build()
}

#[test]
fn classic_little_endian_microseconds() {
    let data = frame();
    let file = Classic::new(false, false, 1).record(100, 250_000, &data, data.len() as u32);
    let (seen, error) = read_both(file.bytes);
    assert_eq!(error, None);
    assert_eq!(
        seen,
        vec![(
            1,
            Timestamp::new(100, 250_000_000),
            LinkType::Ethernet,
            data.clone(),
            data.len() as u32
        )]
    );
}

#[test]
fn classic_big_endian_microseconds() {
    let data = frame();
    let file = Classic::new(true, false, 1)
        .record(7, 1, &data, 99)
        .record(8, 2, &data, 99);
    let (seen, error) = read_both(file.bytes);
    assert_eq!(error, None);
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1],
        (2, Timestamp::new(8, 2_000), LinkType::Ethernet, data, 99)
    );
}

#[test]
fn classic_nanosecond_both_byte_orders() {
    for big_endian in [false, true] {
        let file = Classic::new(big_endian, true, 101).record(5, 123_456_789, &[0x45; 4], 4);
        let (seen, _) = read_both(file.bytes);
        assert_eq!(
            seen[0].1,
            Timestamp::new(5, 123_456_789),
            "big endian {big_endian}"
        );
        assert_eq!(seen[0].2, LinkType::RawIp);
    }
}

#[test]
fn classic_link_types_are_mapped() {
    for (linktype, link) in [
        (1, LinkType::Ethernet),
        (12, LinkType::RawIp),
        (14, LinkType::RawIp),
        (113, LinkType::LinuxSll),
        (276, LinkType::LinuxSll2),
        (108, LinkType::Null),
        (228, LinkType::Ipv4),
        (229, LinkType::Ipv6),
        (0, LinkType::Null),
    ] {
        let file = Classic::new(false, false, linktype).record(1, 0, &[1, 2], 2);
        let reader = PcapReader::from_reader("x.pcap", Cursor::new(file.bytes)).unwrap();
        assert_eq!(reader.link_type(), Some(link), "linktype {linktype}");
    }
}

#[test]
fn classic_unsupported_link_type_fails_at_open_naming_the_file() {
    let file = Classic::new(false, false, 147).record(1, 0, &[1, 2], 2);
    let e = PcapReader::from_reader("usb.pcap", Cursor::new(file.bytes.clone()))
        .err()
        .unwrap();
    assert_eq!(e.kind, PcapErrorKind::UnsupportedLinkType(147));
    assert!(e.to_string().starts_with("usb.pcap: "), "{e}");
    assert_eq!(
        PcapSliceReader::new("usb.pcap", &file.bytes)
            .err()
            .unwrap()
            .kind,
        PcapErrorKind::UnsupportedLinkType(147)
    );
}

#[test]
fn writer_round_trip() {
    let packets = [
        frame(),
        PacketBuilder::udp("10.0.0.3:53", "10.0.0.4:53")
            .payload(b"q")
            .ethernet()
            .build(),
    ];
    let mut writer = PcapWriter::new(Vec::new(), LinkType::Ethernet).unwrap();
    writer
        .write_packet(Timestamp::from_micros(1_700_000_000_123_456), &packets[0])
        .unwrap();
    writer
        .write_packet_snapped(Timestamp::new(1_700_000_001, 5_000), &packets[1][..20], 500)
        .unwrap();
    let bytes = writer.finish().unwrap();
    let (seen, error) = read_both(bytes);
    assert_eq!(error, None);
    assert_eq!(
        seen[0],
        (
            1,
            Timestamp::from_micros(1_700_000_000_123_456),
            LinkType::Ethernet,
            packets[0].clone(),
            packets[0].len() as u32
        )
    );
    assert_eq!(
        seen[1],
        (
            2,
            Timestamp::new(1_700_000_001, 5_000),
            LinkType::Ethernet,
            packets[1][..20].to_vec(),
            500
        )
    );
}

#[test]
fn round_trip_through_a_file_and_decode() {
    let path = std::env::temp_dir().join(format!(
        "nfips-ingest-{}-roundtrip.pcap",
        std::process::id()
    ));
    let data = frame();
    nfips_engine::source::pcap::write_pcap_file(
        &path,
        LinkType::Ethernet,
        [(Timestamp::new(1, 0), &data[..])],
    )
    .unwrap();
    let mut reader = PcapReader::open(&path).unwrap();
    let record = reader.next_record().unwrap().unwrap();
    let packet = Decoder::new(ChecksumMode::Yes)
        .decode(record.link, record.data)
        .unwrap();
    assert_eq!(packet.payload, b"hello");
    assert!(reader.next_record().unwrap().is_none());
    assert_eq!(reader.stats().records, 1);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn missing_file_error_names_it() {
    let e = PcapReader::open("/nonexistent/dir/x.pcap").err().unwrap();
    assert!(matches!(e.kind, PcapErrorKind::Io(_)));
    assert!(e.to_string().contains("/nonexistent/dir/x.pcap"), "{e}");
}

#[test]
fn truncated_last_record_is_an_error_after_the_good_records() {
    let data = frame();
    let file = Classic::new(false, false, 1)
        .record(1, 0, &data, 60)
        .record(2, 0, &data, 60);
    let cut = file.bytes.len() - 10;
    let second_offset = 24 + 16 + data.len() as u64;
    let (seen, error) = read_both(file.bytes[..cut].to_vec());
    assert_eq!(seen.len(), 1, "the complete record is read");
    let error = error.expect("a truncation error");
    assert_eq!(error.kind, PcapErrorKind::TruncatedRecord);
    assert_eq!((error.record, error.offset), (2, second_offset));
    assert_eq!(error.to_string().split(':').next(), Some("test.pcap"));
    assert!(
        error.to_string().contains("record 2 at byte offset"),
        "{error}"
    );
}

#[test]
fn truncated_record_header_is_an_error() {
    let file = Classic::new(false, false, 1).record(1, 0, &[1; 10], 10);
    let mut bytes = file.bytes;
    bytes.extend_from_slice(&[0; 7]);
    let (seen, error) = read_both(bytes);
    assert_eq!(seen.len(), 1);
    assert_eq!(error.unwrap().kind, PcapErrorKind::TruncatedRecord);
}

#[test]
fn not_a_pcap_and_empty_and_short_header() {
    let text =
        b"GET / HTTP/1.1\r\nHost: example\r\n\r\n and some more text to be long enough".to_vec();
    assert_eq!(
        PcapReader::from_reader("notes.txt", Cursor::new(text.clone()))
            .err()
            .unwrap()
            .kind,
        PcapErrorKind::NotAPcap
    );
    assert_eq!(
        PcapSliceReader::new("notes.txt", &text).err().unwrap().kind,
        PcapErrorKind::NotAPcap
    );
    assert_eq!(
        PcapReader::from_reader("e.pcap", Cursor::new(Vec::new()))
            .err()
            .unwrap()
            .kind,
        PcapErrorKind::Empty
    );
    assert_eq!(
        PcapSliceReader::new("e.pcap", &[]).err().unwrap().kind,
        PcapErrorKind::Empty
    );
    let header = Classic::new(false, false, 1).bytes;
    let e = PcapReader::from_reader("h.pcap", Cursor::new(header[..10].to_vec()))
        .err()
        .unwrap();
    assert_eq!(e.kind, PcapErrorKind::TruncatedHeader);
    assert_eq!(
        PcapSliceReader::new("h.pcap", &header[..10])
            .err()
            .unwrap()
            .kind,
        PcapErrorKind::TruncatedHeader
    );
    assert!(e.to_string().contains("h.pcap"));
}

#[test]
fn zero_length_record_is_yielded_and_counted() {
    let file = Classic::new(false, false, 1)
        .record(1, 0, &[], 0)
        .record(2, 0, &frame(), 60);
    let (seen, error) = read_both(file.bytes.clone());
    assert_eq!(error, None);
    assert_eq!(seen.len(), 2);
    assert!(seen[0].3.is_empty());
    assert_eq!(seen[1].0, 2, "numbering counts the empty record");
    let mut reader = PcapReader::from_reader("z.pcap", Cursor::new(file.bytes)).unwrap();
    let mut decoder = Decoder::new(ChecksumMode::No);
    while let Some(record) = reader.next_record().unwrap() {
        let _ = decoder.decode(record.link, record.data);
    }
    assert_eq!(reader.stats().zero_length, 1);
    assert_eq!(decoder.stats.error_count(DecodeError::EthernetTruncated), 1);
}

#[test]
fn record_longer_than_the_snaplen_is_counted() {
    let data = frame();
    let file =
        Classic::new(false, false, 1)
            .with_snaplen(20)
            .record(1, 0, &data, data.len() as u32);
    let bytes = file.bytes;
    let (seen, error) = read_both(bytes.clone());
    assert_eq!((seen.len(), error), (1, None));
    let mut reader = PcapReader::from_reader("s.pcap", Cursor::new(bytes.clone())).unwrap();
    while reader.next_record().unwrap().is_some() {}
    assert_eq!(reader.stats().over_snaplen, 1);
    let mut slice = PcapSliceReader::new("s.pcap", &bytes).unwrap();
    assert!(slice.next().is_some());
    assert_eq!(slice.stats().over_snaplen, 1);
}

#[test]
fn snapped_record_is_counted() {
    let file = Classic::new(false, false, 1).record(1, 0, &frame()[..30], 1500);
    let mut reader = PcapReader::from_reader("s.pcap", Cursor::new(file.bytes)).unwrap();
    let record = reader.next_record().unwrap().unwrap();
    assert_eq!((record.data.len(), record.original_len), (30, 1500));
    assert_eq!(reader.stats().snapped, 1);
}

#[test]
fn record_longer_than_the_limit_is_an_error() {
    let mut file = Classic::new(false, false, 1).record(1, 0, &[0; 8], 8);
    // A record header claiming 1 GB.
    file.u32(2);
    file.u32(0);
    file.u32(1 << 30);
    file.u32(1 << 30);
    file.bytes.extend_from_slice(&[0; 64]);
    let (seen, error) = read_both(file.bytes);
    assert_eq!(seen.len(), 1);
    let error = error.unwrap();
    assert_eq!(
        error.kind,
        PcapErrorKind::RecordTooLong {
            len: 1 << 30,
            limit: MAX_RECORD_LEN as u64
        }
    );
    assert_eq!(error.record, 2);
}

#[test]
fn reading_through_a_trickling_reader_gives_the_same_records() {
    /// Hands out at most 7 bytes per read, to exercise refills across record boundaries.
    struct Trickle(Cursor<Vec<u8>>);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7);
            self.0.read(&mut buf[..n])
        }
    }
    let mut file = Classic::new(false, false, 1);
    for i in 0..50u32 {
        let data = PacketBuilder::udp("10.0.0.1:1", "10.0.0.2:2")
            .payload(&vec![i as u8; i as usize])
            .ethernet()
            .build();
        file = file.record(i, 0, &data, data.len() as u32);
    }
    let expected = read_slice("t.pcap", &file.bytes).unwrap();
    let reader = PcapReader::from_reader("t.pcap", Trickle(Cursor::new(file.bytes))).unwrap();
    assert_eq!(read_from(reader).unwrap(), expected);
    assert_eq!(expected.0.len(), 50);
}

// ----- pcapng -----

struct Ng {
    big_endian: bool,
    bytes: Vec<u8>,
}

impl Ng {
    fn new(big_endian: bool) -> Ng {
        let mut ng = Ng {
            big_endian,
            bytes: Vec::new(),
        };
        ng.section();
        ng
    }
    fn word(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn half(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, block_type: u32, body: &[u8]) {
        let mut padded = body.to_vec();
        padded.resize(padded.len().next_multiple_of(4), 0);
        let total = 12 + padded.len() as u32;
        let (t, l) = (self.word(block_type), self.word(total));
        self.bytes.extend_from_slice(&t);
        self.bytes.extend_from_slice(&l);
        self.bytes.extend_from_slice(&padded);
        self.bytes.extend_from_slice(&l);
    }
    fn section(&mut self) -> &mut Ng {
        let mut body = Vec::new();
        body.extend_from_slice(&self.word(0x1a2b_3c4d));
        body.extend_from_slice(&self.half(1));
        body.extend_from_slice(&self.half(0));
        body.extend_from_slice(&[0xff; 8]);
        self.block(0x0a0d_0d0a, &body);
        self
    }
    /// An interface; `tsresol` as the if_tsresol option (None: default microseconds).
    fn interface(&mut self, linktype: u16, tsresol: Option<u8>) -> &mut Ng {
        let mut body = Vec::new();
        body.extend_from_slice(&self.half(linktype));
        body.extend_from_slice(&self.half(0));
        body.extend_from_slice(&self.word(0));
        if let Some(resol) = tsresol {
            body.extend_from_slice(&self.half(9));
            body.extend_from_slice(&self.half(1));
            body.extend_from_slice(&[resol, 0, 0, 0]);
            body.extend_from_slice(&self.half(0));
            body.extend_from_slice(&self.half(0));
        }
        self.block(1, &body);
        self
    }
    fn packet(&mut self, interface: u32, ticks: u64, data: &[u8]) -> &mut Ng {
        let mut body = Vec::new();
        body.extend_from_slice(&self.word(interface));
        body.extend_from_slice(&self.word((ticks >> 32) as u32));
        body.extend_from_slice(&self.word(ticks as u32));
        body.extend_from_slice(&self.word(data.len() as u32));
        body.extend_from_slice(&self.word(data.len() as u32));
        body.extend_from_slice(data);
        self.block(6, &body);
        self
    }
    /// A packet block with a comment option after the (padded) packet data.
    fn packet_with_comment(&mut self, interface: u32, data: &[u8], comment: &[u8]) -> &mut Ng {
        let mut body = Vec::new();
        for word in [interface, 0, 1, data.len() as u32, data.len() as u32] {
            body.extend_from_slice(&self.word(word));
        }
        body.extend_from_slice(data);
        body.resize(body.len().next_multiple_of(4), 0);
        body.extend_from_slice(&self.half(1));
        body.extend_from_slice(&self.half(comment.len() as u16));
        body.extend_from_slice(comment);
        body.resize(body.len().next_multiple_of(4), 0);
        body.extend_from_slice(&[0; 4]); // opt_endofopt
        self.block(6, &body);
        self
    }
    fn simple_packet(&mut self, data: &[u8]) -> &mut Ng {
        let mut body = self.word(data.len() as u32).to_vec();
        body.extend_from_slice(data);
        self.block(3, &body);
        self
    }
    fn statistics(&mut self) -> &mut Ng {
        let body = [self.word(0), self.word(0), self.word(0)].concat();
        self.block(5, &body);
        self
    }
}

#[test]
fn pcapng_several_interfaces_and_resolutions_both_byte_orders() {
    let ethernet = frame();
    let raw = PacketBuilder::udp("10.0.0.1:1", "10.0.0.2:2").build();
    for big_endian in [false, true] {
        let mut ng = Ng::new(big_endian);
        ng.interface(1, None)
            .interface(101, Some(9))
            .packet(0, 1_000_000_123_456, &ethernet)
            .statistics()
            .packet(1, 2_000_000_000_000_000_001, &raw)
            .simple_packet(&ethernet);
        let (seen, error) = read_both(ng.bytes.clone());
        assert_eq!(error, None, "big endian {big_endian}");
        assert_eq!(seen.len(), 3);
        assert_eq!(
            seen[0],
            (
                1,
                Timestamp::new(1_000_000, 123_456_000),
                LinkType::Ethernet,
                ethernet.clone(),
                ethernet.len() as u32
            )
        );
        assert_eq!(
            seen[1],
            (
                2,
                Timestamp::new(2_000_000_000, 1),
                LinkType::RawIp,
                raw.clone(),
                raw.len() as u32
            )
        );
        assert_eq!(
            seen[2].2,
            LinkType::Ethernet,
            "a simple packet is on interface 0"
        );
        assert_eq!(seen[2].3, ethernet);
        let mut reader = PcapReader::from_reader("n.pcapng", Cursor::new(ng.bytes)).unwrap();
        while reader.next_record().unwrap().is_some() {}
        assert_eq!(reader.stats().other_blocks, 1);
    }
}

#[test]
fn pcapng_new_section_resets_interfaces_and_may_switch_byte_order() {
    let mut first = Ng::new(false);
    first.interface(1, None).packet(0, 5, &frame());
    let mut second = Ng::new(true);
    second.interface(101, None).packet(0, 6, &[0x45, 0]);
    let mut bytes = first.bytes;
    bytes.extend_from_slice(&second.bytes);
    let (seen, error) = read_both(bytes);
    assert_eq!(error, None);
    assert_eq!(
        seen.iter().map(|s| s.2).collect::<Vec<_>>(),
        vec![LinkType::Ethernet, LinkType::RawIp]
    );
}

#[test]
fn pcapng_unsupported_interface_link_type_is_yielded_and_counted() {
    let mut ng = Ng::new(false);
    ng.interface(147, None)
        .interface(1, None)
        .packet(0, 1, &[1, 2, 3])
        .packet(1, 2, &frame());
    let mut reader = PcapReader::from_reader("u.pcapng", Cursor::new(ng.bytes)).unwrap();
    let mut decoder = Decoder::new(ChecksumMode::No);
    let mut links = Vec::new();
    while let Some(record) = reader.next_record().unwrap() {
        links.push(record.link);
        let _ = decoder.decode(record.link, record.data);
    }
    assert_eq!(links, vec![LinkType::Unsupported(147), LinkType::Ethernet]);
    assert_eq!(reader.stats().unsupported_link, 1);
    assert_eq!(decoder.stats.error_count(DecodeError::UnknownLinkType), 1);
    assert_eq!(decoder.stats.decoded, 1);
}

#[test]
fn pcapng_packet_on_an_undeclared_interface_is_an_error() {
    let mut ng = Ng::new(false);
    ng.interface(1, None).packet(3, 1, &frame());
    let (seen, error) = read_both(ng.bytes);
    assert!(seen.is_empty());
    let error = error.unwrap();
    assert_eq!(error.kind, PcapErrorKind::UnknownInterface(3));
    assert_eq!(error.record, 1);
}

#[test]
fn pcapng_truncated_block_is_an_error() {
    let mut ng = Ng::new(false);
    ng.interface(1, None)
        .packet(0, 1, &frame())
        .packet(0, 2, &frame());
    let cut = ng.bytes.len() - 9;
    let (seen, error) = read_both(ng.bytes[..cut].to_vec());
    assert_eq!(seen.len(), 1);
    assert_eq!(error.unwrap().kind, PcapErrorKind::TruncatedRecord);
}

#[test]
fn pcapng_with_a_bad_block_length_is_malformed() {
    let mut ng = Ng::new(false);
    ng.interface(1, None).packet(0, 1, &frame());
    let len = ng.bytes.len();
    ng.bytes[len - 4..].copy_from_slice(&[9, 9, 0, 0]); // trailing length differs
    let (_, error) = read_both(ng.bytes);
    assert!(matches!(error.unwrap().kind, PcapErrorKind::Malformed(_)));
}

#[test]
fn timestamp_conversions() {
    let t = Timestamp::new(10, 1_500_000_000);
    assert_eq!((t.secs, t.nanos), (11, 500_000_000));
    assert_eq!(Timestamp::from_micros(3_000_042).as_micros(), 3_000_042);
    assert_eq!(Timestamp::new(1, 2_345).subsec_micros(), 2);
    assert_eq!(t.to_string(), "11.500000000");
}

#[test]
fn pcapng_block_larger_than_the_read_buffer_grows_it() {
    let mut ng = Ng::new(false);
    ng.interface(1, None);
    let custom = vec![0u8; 3 * 1024 * 1024];
    ng.block(0x0000_0bad, &custom);
    ng.packet(0, 1, &frame());
    let (seen, error) = read_both(ng.bytes);
    assert_eq!(error, None);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].3, frame());
}

#[test]
fn pcapng_block_beyond_the_block_limit_is_an_error() {
    let mut ng = Ng::new(false);
    ng.interface(1, None);
    let mut bytes = ng.bytes;
    bytes.extend_from_slice(&0x0000_0badu32.to_le_bytes());
    bytes.extend_from_slice(&(1u32 << 30).to_le_bytes());
    bytes.extend_from_slice(&[0; 32]);
    let (_, error) = read_both(bytes);
    assert!(
        matches!(error.unwrap().kind, PcapErrorKind::RecordTooLong { len, .. } if len == 1 << 30)
    );
}

#[test]
fn pcapng_packet_options_do_not_change_the_packet() {
    let data = PacketBuilder::udp("10.0.0.1:1", "10.0.0.2:2")
        .payload(b"odd")
        .ethernet()
        .build();
    for big_endian in [false, true] {
        let mut ng = Ng::new(big_endian);
        ng.interface(1, None)
            .packet_with_comment(0, &data, b"a comment")
            .packet(0, 2, &data);
        let (seen, error) = read_both(ng.bytes);
        assert_eq!(error, None);
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].3, data);
        assert_eq!(seen[0].1, Timestamp::new(0, 1_000));
        assert_eq!(seen[1].3, data);
    }
}
