//! Reading and writing capture files: classic pcap (either byte order, microsecond or
//! nanosecond timestamps) and pcapng (several sections and interfaces, each with its own link
//! type and timestamp resolution), over `pcap-parser`.
//!
//! - [`PcapReader`] streams a file through one reusable buffer: no allocation per packet.
//!   [`PcapReader::next_record`] lends a [`Record`] until the next call.
//! - [`PcapSliceReader`] iterates over a capture already in memory (the benchmark reads whole
//!   files first), yielding records that borrow the slice.
//! - [`PcapWriter`] writes classic little-endian microsecond pcap (tests, `nfips bench
//!   --write-pcap`, the bundled demo).
//!
//! Every packet record is yielded, in file order and numbered from 1 like Suricata's
//! `pcap_cnt`, including zero-length records and records on interfaces of unsupported link
//! types (decode then counts them); odd but readable records are counted in [`ReadStats`].
//! What cannot be read (not a capture, a cut-off last record, a record longer than
//! [`MAX_RECORD_LEN`], a classic pcap of an unsupported link type) ends reading with one
//! [`PcapReadError`] naming the file, the record number and its byte offset. Records read
//! before the error stay valid: replay reports the error and its summary.
//!
//! Not here: decoding the packet bytes ([`crate::decode`]), or live capture.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};

use crate::decode::LinkType;

/// Longest packet record accepted (libpcap's `MAXIMUM_SNAPLEN`); a longer one means a corrupt
/// file and ends reading with [`PcapErrorKind::RecordTooLong`].
pub const MAX_RECORD_LEN: usize = 262_144;
/// Smallest initial read buffer (for short files).
pub const MIN_READ_BUFFER_SIZE: usize = 64 * 1024;
/// Longest pcapng block of any kind (name resolution, statistics ...) accepted.
pub const MAX_BLOCK_LEN: usize = 16 * 1024 * 1024;
/// Initial size of [`PcapReader`]'s read buffer; it grows (up to [`MAX_BLOCK_LEN`]) only for
/// a larger pcapng block.
pub const READ_BUFFER_SIZE: usize = 1024 * 1024;
/// Snaplen written by [`PcapWriter`].
pub const WRITER_SNAPLEN: u32 = MAX_RECORD_LEN as u32;

const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// A capture timestamp with nanosecond precision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub secs: u64,
    /// Always below 1,000,000,000.
    pub nanos: u32,
}

impl Timestamp {
    /// From seconds and nanoseconds; nanoseconds of a second or more carry into `secs`.
    pub fn new(secs: u64, nanos: u64) -> Timestamp {
        Timestamp {
            secs: secs.saturating_add(nanos / 1_000_000_000),
            nanos: (nanos % 1_000_000_000) as u32,
        }
    }

    pub fn from_micros(micros: u64) -> Timestamp {
        Timestamp::new(micros / 1_000_000, (micros % 1_000_000) * 1000)
    }

    /// Microseconds since the epoch.
    pub fn as_micros(self) -> u64 {
        self.secs
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(self.nanos / 1000))
    }

    /// The microseconds within the second.
    pub fn subsec_micros(self) -> u32 {
        self.nanos / 1000
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.secs, self.nanos)
    }
}

/// One packet record of a capture file.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// 1-based number among the file's packet records (Suricata's `pcap_cnt`).
    pub number: u64,
    /// Byte offset of the record (or pcapng block) in the file.
    pub offset: u64,
    pub timestamp: Timestamp,
    pub link: LinkType,
    /// The captured bytes (may be fewer than `original_len`).
    pub data: &'a [u8],
    /// The packet's length on the wire.
    pub original_len: u32,
}

/// Counters of one file's records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Packet records yielded.
    pub records: u64,
    /// Captured bytes yielded.
    pub bytes: u64,
    /// Records with no captured bytes (yielded; decode counts them as truncated).
    pub zero_length: u64,
    /// Records captured shorter than the packet was (snaplen cut).
    pub snapped: u64,
    /// Records longer than the file's or interface's snaplen (yielded as they are).
    pub over_snaplen: u64,
    /// Records on a pcapng interface of a link type nfips does not decode.
    pub unsupported_link: u64,
    /// pcapng blocks that carry no packet (statistics, name resolution ...), skipped.
    pub other_blocks: u64,
}

impl ReadStats {
    /// Every counter as (name, count).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("records", self.records),
            ("bytes", self.bytes),
            ("zero_length", self.zero_length),
            ("snapped", self.snapped),
            ("over_snaplen", self.over_snaplen),
            ("unsupported_link", self.unsupported_link),
            ("other_blocks", self.other_blocks),
        ]
        .into_iter()
    }
}

/// Why a capture could not be read (further).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PcapErrorKind {
    /// Opening or reading failed.
    Io(String),
    Empty,
    /// Neither a pcap nor a pcapng header.
    NotAPcap,
    /// The file ends inside its header.
    TruncatedHeader,
    /// The file ends inside a record (a cut-off capture).
    TruncatedRecord,
    /// A record claims more bytes than [`MAX_RECORD_LEN`] (or a block more than
    /// [`MAX_BLOCK_LEN`]).
    RecordTooLong {
        len: u64,
        limit: u64,
    },
    /// A classic pcap of a link type nfips does not decode.
    UnsupportedLinkType(u32),
    /// A pcapng packet names an interface that no interface block described.
    UnknownInterface(u32),
    /// A pcapng interface gives a timestamp resolution that cannot be represented.
    BadTimestampResolution(u8),
    /// The structure is invalid (bad block length, bad magic ...).
    Malformed(String),
}

impl fmt::Display for PcapErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcapErrorKind::Io(e) => write!(f, "cannot read: {e}"),
            PcapErrorKind::Empty => write!(f, "the file is empty; expected a pcap or pcapng capture"),
            PcapErrorKind::NotAPcap => {
                write!(f, "not a pcap or pcapng file (unknown magic number); give a capture file")
            }
            PcapErrorKind::TruncatedHeader => write!(f, "the file ends inside its pcap header"),
            PcapErrorKind::TruncatedRecord => write!(
                f,
                "the file ends inside this record (a cut-off capture); the records before it were read"
            ),
            PcapErrorKind::RecordTooLong { len, limit } => write!(
                f,
                "the record claims {len} bytes, more than the limit of {limit}; the file is corrupt"
            ),
            PcapErrorKind::UnsupportedLinkType(n) => write!(
                f,
                "link type {n} is not supported (supported: 1 ethernet, 101/12/14 raw IP, 228 IPv4, \
                 229 IPv6, 113 Linux SLL, 276 SLL2, 0/108 BSD loopback)"
            ),
            PcapErrorKind::UnknownInterface(id) => {
                write!(f, "the packet names interface {id}, which no interface block describes")
            }
            PcapErrorKind::BadTimestampResolution(r) => {
                write!(f, "interface timestamp resolution {r:#x} is invalid")
            }
            PcapErrorKind::Malformed(why) => write!(f, "malformed capture: {why}"),
        }
    }
}

/// A capture read error: which file, where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcapReadError {
    pub file: String,
    /// Number of the packet record being read (1-based; 0 for the file header).
    pub record: u64,
    /// Byte offset in the file of the record or block being read.
    pub offset: u64,
    pub kind: PcapErrorKind,
}

impl fmt::Display for PcapReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.record == 0 {
            write!(
                f,
                "{}: at byte offset {}: {}",
                self.file, self.offset, self.kind
            )
        } else {
            write!(
                f,
                "{}: record {} at byte offset {}: {}",
                self.file, self.record, self.offset, self.kind
            )
        }
    }
}

impl std::error::Error for PcapReadError {}

// ---------------------------------------------------------------------------------------------
// Format state shared by the streaming and in-memory readers.

#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second.
    resolution: u64,
    offset_secs: i64,
    snaplen: u32,
}

#[derive(Debug)]
enum Format {
    /// Before the first header.
    Unknown,
    Legacy {
        link: LinkType,
        nanos: bool,
        snaplen: u32,
        big_endian: bool,
    },
    Ng {
        interfaces: Vec<Interface>,
        big_endian: bool,
    },
}

/// A packet found in a block, with its data borrowed from the block.
struct Found<'b> {
    timestamp: Timestamp,
    link: LinkType,
    data: &'b [u8],
    original_len: u32,
}

struct FormatState {
    format: Format,
    stats: ReadStats,
    max_record_len: usize,
    last_timestamp: Timestamp,
}

impl FormatState {
    fn new() -> Self {
        FormatState {
            format: Format::Unknown,
            stats: ReadStats::default(),
            max_record_len: MAX_RECORD_LEN,
            last_timestamp: Timestamp::default(),
        }
    }

    /// Before parsing the next record: its total length if the header is there, so an absurd
    /// length is reported instead of growing the buffer.
    fn check_next_len(&self, data: &[u8]) -> Result<(), PcapErrorKind> {
        let word = |at: usize, big: bool| -> Option<u64> {
            let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
            Some(u64::from(if big {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }))
        };
        match self.format {
            Format::Legacy { big_endian, .. } => match word(8, big_endian) {
                Some(caplen) if caplen > self.max_record_len as u64 => {
                    Err(PcapErrorKind::RecordTooLong {
                        len: caplen,
                        limit: self.max_record_len as u64,
                    })
                }
                _ => Ok(()),
            },
            // A section header may switch byte order: its length is checked by the parser.
            Format::Ng { .. } if data.starts_with(&SHB_MAGIC) => Ok(()),
            Format::Ng { big_endian, .. } => match word(4, big_endian) {
                Some(len) if len > MAX_BLOCK_LEN as u64 => Err(PcapErrorKind::RecordTooLong {
                    len,
                    limit: MAX_BLOCK_LEN as u64,
                }),
                _ => Ok(()),
            },
            Format::Unknown => Ok(()),
        }
    }

    fn on_block<'b>(
        &mut self,
        block: &PcapBlockOwned<'b>,
    ) -> Result<Option<Found<'b>>, PcapErrorKind> {
        match block {
            PcapBlockOwned::LegacyHeader(header) => {
                let linktype = (header.network.0 as u32) & 0xffff;
                let link = LinkType::from_pcap(linktype);
                if !link.is_supported() {
                    return Err(PcapErrorKind::UnsupportedLinkType(linktype));
                }
                self.format = Format::Legacy {
                    link,
                    nanos: header.is_nanosecond_precision(),
                    snaplen: header.snaplen,
                    big_endian: header.is_bigendian(),
                };
                Ok(None)
            }
            PcapBlockOwned::Legacy(frame) => {
                let Format::Legacy {
                    link,
                    nanos,
                    snaplen,
                    ..
                } = self.format
                else {
                    return Err(PcapErrorKind::Malformed(
                        "packet record before the pcap header".into(),
                    ));
                };
                let fraction = u64::from(frame.ts_usec);
                let timestamp = Timestamp::new(
                    u64::from(frame.ts_sec),
                    if nanos { fraction } else { fraction * 1000 },
                );
                let data: &'b [u8] = frame.data;
                self.found(timestamp, link, data, frame.origlen, snaplen)
                    .map(Some)
            }
            PcapBlockOwned::NG(block) => self.on_ng_block(block),
        }
    }

    fn on_ng_block<'b>(&mut self, block: &Block<'b>) -> Result<Option<Found<'b>>, PcapErrorKind> {
        match block {
            Block::SectionHeader(shb) => {
                self.format = Format::Ng {
                    interfaces: Vec::new(),
                    big_endian: shb.big_endian(),
                };
                Ok(None)
            }
            Block::InterfaceDescription(idb) => {
                let Format::Ng { interfaces, .. } = &mut self.format else {
                    return Err(PcapErrorKind::Malformed(
                        "interface block outside a section".into(),
                    ));
                };
                let resolution = idb
                    .ts_resolution()
                    .filter(|r| *r > 0)
                    .ok_or(PcapErrorKind::BadTimestampResolution(idb.if_tsresol))?;
                interfaces.push(Interface {
                    link: LinkType::from_pcap(u32::from(idb.linktype.0 as u16)),
                    resolution,
                    offset_secs: idb.ts_offset(),
                    snaplen: idb.snaplen,
                });
                Ok(None)
            }
            Block::EnhancedPacket(epb) => {
                let padded: &'b [u8] = epb.data;
                let data = &padded[..(epb.caplen as usize).min(padded.len())];
                let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                self.enhanced_packet(epb.if_id, ticks, data, epb.origlen)
                    .map(Some)
            }
            Block::SimplePacket(spb) => {
                let iface = self.interface(0)?;
                let padded: &'b [u8] = spb.data;
                let data = &padded[..(spb.origlen as usize).min(padded.len())];
                let timestamp = self.last_timestamp;
                self.found(timestamp, iface.link, data, spb.origlen, iface.snaplen)
                    .map(Some)
            }
            _ => {
                self.stats.other_blocks += 1;
                Ok(None)
            }
        }
    }

    /// An enhanced packet block's packet on interface `if_id` at `ticks` of its resolution.
    fn enhanced_packet<'b>(
        &mut self,
        if_id: u32,
        ticks: u64,
        data: &'b [u8],
        original_len: u32,
    ) -> Result<Found<'b>, PcapErrorKind> {
        let iface = self.interface(if_id)?;
        let secs = (ticks / iface.resolution).saturating_add_signed(iface.offset_secs);
        let frac =
            u128::from(ticks % iface.resolution) * 1_000_000_000 / u128::from(iface.resolution);
        let timestamp = Timestamp::new(secs, frac as u64);
        self.found(timestamp, iface.link, data, original_len, iface.snaplen)
    }

    /// The common case read without pcap-parser, which collects a block's options into a
    /// `Vec` (an allocation per packet when packets carry options): a complete, well-formed
    /// enhanced packet block at the start of `data`. Returns its size and packet; `None` for
    /// anything else, which pcap-parser then reads (and reports if malformed).
    fn fast_enhanced_packet<'b>(
        &mut self,
        data: &'b [u8],
    ) -> Option<Result<(usize, Found<'b>), PcapErrorKind>> {
        const EPB_TYPE: u32 = 6;
        const EPB_HEADER: usize = 28;
        let Format::Ng { big_endian, .. } = self.format else {
            return None;
        };
        let word = |at: usize| -> Option<u32> {
            let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
            Some(if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            })
        };
        if word(0)? != EPB_TYPE {
            return None;
        }
        let block_len = word(4)? as usize;
        let caplen = word(20)? as usize;
        let well_formed = block_len & 3 == 0
            && block_len <= data.len()
            && EPB_HEADER + caplen + 4 <= block_len
            && word(block_len - 4)? as usize == block_len;
        if !well_formed {
            return None;
        }
        let ticks = (u64::from(word(12)?) << 32) | u64::from(word(16)?);
        let packet = &data[EPB_HEADER..EPB_HEADER + caplen];
        Some(
            self.enhanced_packet(word(8)?, ticks, packet, word(24)?)
                .map(|found| (block_len, found)),
        )
    }

    fn interface(&self, id: u32) -> Result<Interface, PcapErrorKind> {
        match &self.format {
            Format::Ng { interfaces, .. } => interfaces
                .get(id as usize)
                .copied()
                .ok_or(PcapErrorKind::UnknownInterface(id)),
            _ => Err(PcapErrorKind::UnknownInterface(id)),
        }
    }

    fn found<'b>(
        &mut self,
        timestamp: Timestamp,
        link: LinkType,
        data: &'b [u8],
        original_len: u32,
        snaplen: u32,
    ) -> Result<Found<'b>, PcapErrorKind> {
        if data.len() > self.max_record_len {
            return Err(PcapErrorKind::RecordTooLong {
                len: data.len() as u64,
                limit: self.max_record_len as u64,
            });
        }
        let stats = &mut self.stats;
        stats.records += 1;
        stats.bytes += data.len() as u64;
        stats.zero_length += u64::from(data.is_empty());
        stats.snapped += u64::from((original_len as usize) > data.len());
        stats.over_snaplen += u64::from(snaplen > 0 && data.len() > snaplen as usize);
        stats.unsupported_link += u64::from(!link.is_supported());
        self.last_timestamp = timestamp;
        Ok(Found {
            timestamp,
            link,
            data,
            original_len,
        })
    }

    /// An error about the record being read, which starts at byte `offset` of file `name`.
    fn error(&self, name: &str, offset: u64, kind: PcapErrorKind) -> PcapReadError {
        PcapReadError {
            file: name.to_string(),
            record: self.stats.records + 1,
            offset,
            kind,
        }
    }

    fn link_type(&self) -> Option<LinkType> {
        match &self.format {
            Format::Legacy { link, .. } => Some(*link),
            Format::Ng { interfaces, .. } => interfaces.first().map(|i| i.link),
            Format::Unknown => None,
        }
    }
}

/// A short description of a pcap-parser error (never its input bytes).
fn describe(error: &PcapError<&[u8]>) -> String {
    match error {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("invalid block or record structure ({kind:?})")
        }
        other => format!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Streaming reader.

/// Streams a pcap or pcapng file through one buffer. See the module documentation.
pub struct PcapReader {
    inner: Box<dyn PcapReaderIterator + Send>,
    state: FormatState,
    name: String,
    /// Size of the block lent out by the last `next_record`, consumed at the next call.
    pending_consume: usize,
    capacity: usize,
    finished: bool,
}

/// Fills each read as far as the source allows: pcap-parser looks for the whole file header
/// in its first read, and pipes or sockets may hand out less.
struct FullReads<R>(R);

impl<R: Read> Read for FullReads<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.0.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if filled == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(filled)
    }
}

enum Step {
    Packet {
        size: usize,
        start: usize,
        len: usize,
        timestamp: Timestamp,
        link: LinkType,
        original_len: u32,
    },
    Skip(usize),
    Refill,
    Grow,
    Eof,
    Fail(PcapErrorKind),
}

impl PcapReader {
    /// Open a capture file and read its header.
    pub fn open(path: impl AsRef<Path>) -> Result<PcapReader, PcapReadError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| PcapReadError {
            file: name.clone(),
            record: 0,
            offset: 0,
            kind: PcapErrorKind::Io(e.to_string()),
        })?;
        // A small file gets a buffer of its size: zeroing 1 MiB per file costs more than
        // reading a short capture. The buffer still grows for a larger block.
        let capacity = file.metadata().map_or(READ_BUFFER_SIZE, |m| {
            usize::try_from(m.len())
                .unwrap_or(usize::MAX)
                .saturating_add(64)
                .clamp(MIN_READ_BUFFER_SIZE, READ_BUFFER_SIZE)
        });
        PcapReader::with_capacity(name, file, capacity)
    }

    /// Read a capture from any reader; `name` is used in errors.
    pub fn from_reader(
        name: impl Into<String>,
        reader: impl Read + Send + 'static,
    ) -> Result<PcapReader, PcapReadError> {
        PcapReader::with_capacity(name.into(), reader, READ_BUFFER_SIZE)
    }

    fn with_capacity(
        name: String,
        reader: impl Read + Send + 'static,
        capacity: usize,
    ) -> Result<PcapReader, PcapReadError> {
        let fail = |kind| PcapReadError {
            file: name.clone(),
            record: 0,
            offset: 0,
            kind,
        };
        let inner = match pcap_parser::create_reader(capacity, FullReads(reader)) {
            Ok(inner) => inner,
            Err(PcapError::Eof) => return Err(fail(PcapErrorKind::Empty)),
            Err(PcapError::Incomplete(_)) => return Err(fail(PcapErrorKind::TruncatedHeader)),
            Err(PcapError::HeaderNotRecognized) => return Err(fail(PcapErrorKind::NotAPcap)),
            Err(PcapError::ReadError) => return Err(fail(PcapErrorKind::Io("read failed".into()))),
            Err(e) => return Err(fail(PcapErrorKind::Malformed(describe(&e)))),
        };
        let mut reader = PcapReader {
            inner,
            state: FormatState::new(),
            name,
            pending_consume: 0,
            capacity,
            finished: false,
        };
        // The first block is the pcap header or the pcapng section header: read it now so an
        // unsupported link type fails at open.
        match reader.step() {
            Step::Skip(size) => reader.inner.consume_noshift(size),
            Step::Fail(kind) => return Err(reader.error(kind)),
            _ => return Err(reader.error(PcapErrorKind::TruncatedHeader)),
        }
        Ok(reader)
    }

    /// Limit on one record's length (default [`MAX_RECORD_LEN`]).
    pub fn with_max_record_len(mut self, limit: usize) -> PcapReader {
        self.state.max_record_len = limit;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn stats(&self) -> &ReadStats {
        &self.state.stats
    }

    /// The link type of a classic pcap, or of a pcapng's first interface seen so far.
    pub fn link_type(&self) -> Option<LinkType> {
        self.state.link_type()
    }

    fn error(&self, kind: PcapErrorKind) -> PcapReadError {
        self.state
            .error(&self.name, self.inner.consumed() as u64, kind)
    }

    fn step(&mut self) -> Step {
        let data = self.inner.data();
        if let Err(kind) = self.state.check_next_len(data) {
            return Step::Fail(kind);
        }
        let base = data.as_ptr() as usize;
        if let Some(fast) = self.state.fast_enhanced_packet(data) {
            return match fast {
                Ok((size, found)) => Step::Packet {
                    size,
                    start: found.data.as_ptr() as usize - base,
                    len: found.data.len(),
                    timestamp: found.timestamp,
                    link: found.link,
                    original_len: found.original_len,
                },
                Err(kind) => Step::Fail(kind),
            };
        }
        match self.inner.next() {
            Ok((size, block)) => match self.state.on_block(&block) {
                Ok(Some(found)) => match (found.data.as_ptr() as usize).checked_sub(base) {
                    Some(start) => Step::Packet {
                        size,
                        start,
                        len: found.data.len(),
                        timestamp: found.timestamp,
                        link: found.link,
                        original_len: found.original_len,
                    },
                    None => Step::Fail(PcapErrorKind::Malformed(
                        "record outside the read buffer".into(),
                    )),
                },
                Ok(None) => Step::Skip(size),
                Err(kind) => Step::Fail(kind),
            },
            Err(PcapError::Eof) => Step::Eof,
            Err(PcapError::Incomplete(_)) => Step::Refill,
            Err(PcapError::BufferTooSmall) => Step::Grow,
            Err(PcapError::UnexpectedEof) => Step::Fail(PcapErrorKind::TruncatedRecord),
            Err(PcapError::ReadError) => Step::Fail(PcapErrorKind::Io("read failed".into())),
            Err(e) => Step::Fail(PcapErrorKind::Malformed(describe(&e))),
        }
    }

    /// The next packet record, `Ok(None)` at the end of the file. The record borrows the
    /// reader's buffer until the next call. After an error, further calls return `Ok(None)`.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, PcapReadError> {
        if self.pending_consume > 0 {
            self.inner.consume_noshift(self.pending_consume);
            self.pending_consume = 0;
        }
        while !self.finished {
            let offset = self.inner.consumed() as u64;
            match self.step() {
                Step::Packet {
                    size,
                    start,
                    len,
                    timestamp,
                    link,
                    original_len,
                } => {
                    self.pending_consume = size;
                    let data = self
                        .inner
                        .data()
                        .get(start..start + len)
                        .unwrap_or_default();
                    return Ok(Some(Record {
                        number: self.state.stats.records,
                        offset,
                        timestamp,
                        link,
                        data,
                        original_len,
                    }));
                }
                Step::Skip(size) => self.inner.consume_noshift(size),
                Step::Refill => {
                    if self.inner.refill().is_err() {
                        self.finished = true;
                        return Err(self.error(PcapErrorKind::Io("read failed".into())));
                    }
                }
                Step::Grow => {
                    let wanted = self.capacity.saturating_mul(2);
                    if wanted > MAX_BLOCK_LEN * 2 || !self.inner.grow(wanted) {
                        self.finished = true;
                        let limit = MAX_BLOCK_LEN as u64;
                        return Err(self.error(PcapErrorKind::RecordTooLong {
                            len: wanted as u64,
                            limit,
                        }));
                    }
                    self.capacity = wanted;
                }
                Step::Eof => self.finished = true,
                Step::Fail(kind) => {
                    self.finished = true;
                    return Err(self.error(kind));
                }
            }
        }
        Ok(None)
    }
}

// ---------------------------------------------------------------------------------------------
// In-memory reader.

/// Iterates over a capture held in memory; records borrow the slice. Stops after the first
/// error. See the module documentation.
pub struct PcapSliceReader<'a> {
    bytes: &'a [u8],
    position: usize,
    state: FormatState,
    name: String,
    finished: bool,
}

type ParseResult<'a> = Result<(&'a [u8], PcapBlockOwned<'a>), nom_err::Err<PcapError<&'a [u8]>>>;

mod nom_err {
    pub use pcap_parser::nom::Err;
}

impl<'a> PcapSliceReader<'a> {
    /// Read the header of the capture in `bytes`; `name` is used in errors.
    pub fn new(
        name: impl Into<String>,
        bytes: &'a [u8],
    ) -> Result<PcapSliceReader<'a>, PcapReadError> {
        let mut reader = PcapSliceReader {
            bytes,
            position: 0,
            state: FormatState::new(),
            name: name.into(),
            finished: false,
        };
        if bytes.is_empty() {
            return Err(reader.error(PcapErrorKind::Empty));
        }
        let header = if pcap_parser::parse_sectionheaderblock(bytes).is_ok() {
            pcap_parser::parse_block_le(bytes).map(|(rest, b)| (rest, PcapBlockOwned::NG(b)))
        } else {
            match pcap_parser::parse_pcap_header(bytes) {
                Ok((rest, h)) => Ok((rest, PcapBlockOwned::LegacyHeader(h))),
                Err(nom_err::Err::Incomplete(_)) => {
                    return Err(reader.error(PcapErrorKind::TruncatedHeader))
                }
                Err(_) => return Err(reader.error(PcapErrorKind::NotAPcap)),
            }
        };
        match reader.accept(header) {
            Ok(None) => Ok(reader),
            Ok(Some(_)) => Err(reader.error(PcapErrorKind::Malformed("no header".into()))),
            Err(kind) => Err(reader.error(kind)),
        }
    }

    pub fn stats(&self) -> &ReadStats {
        &self.state.stats
    }

    pub fn link_type(&self) -> Option<LinkType> {
        self.state.link_type()
    }

    fn error(&self, kind: PcapErrorKind) -> PcapReadError {
        self.state.error(&self.name, self.position as u64, kind)
    }

    fn accept(&mut self, parsed: ParseResult<'a>) -> Result<Option<Found<'a>>, PcapErrorKind> {
        match parsed {
            Ok((rest, block)) => {
                let found = self.state.on_block(&block)?;
                self.position = self.bytes.len() - rest.len();
                Ok(found)
            }
            Err(nom_err::Err::Incomplete(_)) => Err(PcapErrorKind::TruncatedRecord),
            Err(nom_err::Err::Error(e) | nom_err::Err::Failure(e)) => {
                Err(PcapErrorKind::Malformed(describe(&e)))
            }
        }
    }

    fn parse_next(&self) -> ParseResult<'a> {
        let input = &self.bytes[self.position..];
        match self.state.format {
            Format::Legacy {
                big_endian: false, ..
            } => pcap_parser::parse_pcap_frame(input).map(|(r, b)| (r, PcapBlockOwned::Legacy(b))),
            Format::Legacy {
                big_endian: true, ..
            } => {
                pcap_parser::parse_pcap_frame_be(input).map(|(r, b)| (r, PcapBlockOwned::Legacy(b)))
            }
            Format::Ng {
                big_endian: true, ..
            } => pcap_parser::parse_block_be(input).map(|(r, b)| (r, PcapBlockOwned::NG(b))),
            _ => pcap_parser::parse_block_le(input).map(|(r, b)| (r, PcapBlockOwned::NG(b))),
        }
    }
}

impl<'a> Iterator for PcapSliceReader<'a> {
    type Item = Result<Record<'a>, PcapReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.finished && self.position < self.bytes.len() {
            let offset = self.position as u64;
            let rest: &'a [u8] = &self.bytes[self.position..];
            let result = match self.state.check_next_len(rest) {
                Ok(()) => match self.state.fast_enhanced_packet(rest) {
                    Some(Ok((size, found))) => {
                        self.position += size;
                        Ok(Some(found))
                    }
                    Some(Err(kind)) => Err(kind),
                    None => self.accept(self.parse_next()),
                },
                Err(kind) => Err(kind),
            };
            match result {
                Ok(Some(found)) => {
                    return Some(Ok(Record {
                        number: self.state.stats.records,
                        offset,
                        timestamp: found.timestamp,
                        link: found.link,
                        data: found.data,
                        original_len: found.original_len,
                    }));
                }
                Ok(None) => {}
                Err(kind) => {
                    self.finished = true;
                    return Some(Err(self.error(kind)));
                }
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Writer.

/// Writes a classic pcap: little-endian, microsecond timestamps, one link type.
pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Write the file header for `link` (snaplen [`WRITER_SNAPLEN`]).
    pub fn new(mut out: W, link: LinkType) -> io::Result<PcapWriter<W>> {
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes());
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        header[16..20].copy_from_slice(&WRITER_SNAPLEN.to_le_bytes());
        header[20..24].copy_from_slice(&link.to_pcap().to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out })
    }

    /// Write one whole packet.
    pub fn write_packet(&mut self, timestamp: Timestamp, data: &[u8]) -> io::Result<()> {
        self.write_packet_snapped(timestamp, data, data.len() as u32)
    }

    /// Write a packet captured shorter than its `original_len` on the wire.
    pub fn write_packet_snapped(
        &mut self,
        timestamp: Timestamp,
        data: &[u8],
        original_len: u32,
    ) -> io::Result<()> {
        let caplen = u32::try_from(data.len())
            .ok()
            .filter(|len| *len <= WRITER_SNAPLEN)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "packet longer than the snaplen",
                )
            })?;
        let mut header = [0u8; 16];
        header[0..4].copy_from_slice(&(timestamp.secs as u32).to_le_bytes());
        header[4..8].copy_from_slice(&timestamp.subsec_micros().to_le_bytes());
        header[8..12].copy_from_slice(&caplen.to_le_bytes());
        header[12..16].copy_from_slice(&original_len.max(caplen).to_le_bytes());
        self.out.write_all(&header)?;
        self.out.write_all(data)
    }

    /// Flush and return the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Write `packets` (timestamp, bytes) of one link type to a new pcap file at `path`.
pub fn write_pcap_file<'p>(
    path: impl AsRef<Path>,
    link: LinkType,
    packets: impl IntoIterator<Item = (Timestamp, &'p [u8])>,
) -> io::Result<()> {
    let file = io::BufWriter::new(File::create(path)?);
    let mut writer = PcapWriter::new(file, link)?;
    for (timestamp, data) in packets {
        writer.write_packet(timestamp, data)?;
    }
    writer.finish()?.into_inner().map_err(|e| e.into_error())?;
    Ok(())
}
