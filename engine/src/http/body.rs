//! HTTP message bodies: how long they are (Content-Length, chunked, until close), dechunking, and
//! gzip/deflate decompression into a depth-limited buffer.
//!
//! [`BodyFramer`] is the incremental state machine that says which input bytes are body data and
//! when the body ends; [`BodySink`] stores decoded body bytes up to a depth, decompressing through
//! flate2 when the message says `Content-Encoding: gzip` or `deflate`. Both are fed arbitrary
//! pieces of the stream and keep only small fixed state besides the stored body.
//!
//! Not here: headers (the message parser decides the framing and encoding and hands them in).

use std::io::Write;

use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};

/// How the end of a body is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body (requests without length, HEAD responses, 1xx/204/304).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (responses without length).
    UntilClose,
}

/// Where a chunked body's parser is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkState {
    /// Reading hex digits of a chunk size (`digits` seen so far).
    Size { size: u64, digits: u8 },
    /// After the size: whitespace, then an optional `;extension`, up to the line end.
    SizeLineRest { size: u64, in_extension: bool },
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// After chunk data: expecting CRLF (or bare LF).
    DataEnd { seen_cr: bool },
    /// After the last (zero) chunk: trailer lines; `line_empty` while the current line is empty.
    Trailer { line_empty: bool },
}

/// Why a body could not be framed; the direction stops being parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FramingError {
    /// A chunk size line held something other than hex digits and an extension.
    BadChunkSize,
    /// A chunk size had more than 15 hex digits.
    ChunkSizeTooLong,
    /// Chunk data was not followed by CRLF.
    MissingChunkEnd,
}

/// The result of one [`BodyFramer::step`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Input bytes consumed.
    pub consumed: usize,
    /// Of those, the body data bytes: `input[data_start..data_start + data_len]`.
    pub data_start: usize,
    pub data_len: usize,
    /// The body ended within the consumed bytes.
    pub done: bool,
}

/// Incremental body framing: separates body data from chunk framing and finds the body's end.
#[derive(Clone, Copy, Debug)]
pub struct BodyFramer {
    framing: Framing,
    remaining: u64,
    chunk: ChunkState,
}

impl BodyFramer {
    pub fn new(framing: Framing) -> Self {
        let remaining = match framing {
            Framing::Length(length) => length,
            _ => 0,
        };
        BodyFramer {
            framing,
            remaining,
            chunk: ChunkState::Size { size: 0, digits: 0 },
        }
    }

    #[cfg(test)]
    pub fn is_done(&self) -> bool {
        match self.framing {
            Framing::None => true,
            Framing::Length(_) => self.remaining == 0,
            Framing::Chunked | Framing::UntilClose => false,
        }
    }

    /// Consumes input up to the end of the next run of body data (or the body's end).
    pub fn step(&mut self, input: &[u8]) -> Result<Step, FramingError> {
        match self.framing {
            Framing::None => Ok(Step {
                consumed: 0,
                data_start: 0,
                data_len: 0,
                done: true,
            }),
            Framing::UntilClose => Ok(Step {
                consumed: input.len(),
                data_start: 0,
                data_len: input.len(),
                done: false,
            }),
            Framing::Length(_) => {
                let take = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                self.remaining -= take as u64;
                Ok(Step {
                    consumed: take,
                    data_start: 0,
                    data_len: take,
                    done: self.remaining == 0,
                })
            }
            Framing::Chunked => self.step_chunked(input),
        }
    }

    fn step_chunked(&mut self, input: &[u8]) -> Result<Step, FramingError> {
        let mut at = 0;
        while at < input.len() {
            let byte = input[at];
            match self.chunk {
                ChunkState::Size { size, digits } => match hex_digit(byte) {
                    Some(value) => {
                        if digits >= 15 {
                            return Err(FramingError::ChunkSizeTooLong);
                        }
                        self.chunk = ChunkState::Size {
                            size: size << 4 | value,
                            digits: digits + 1,
                        };
                        at += 1;
                    }
                    None if digits == 0 && (byte == b' ' || byte == b'\t') => at += 1,
                    None if digits == 0 => return Err(FramingError::BadChunkSize),
                    None => {
                        self.chunk = ChunkState::SizeLineRest {
                            size,
                            in_extension: false,
                        }
                    }
                },
                ChunkState::SizeLineRest { size, in_extension } => {
                    at += 1;
                    match byte {
                        b'\n' if size == 0 => self.chunk = ChunkState::Trailer { line_empty: true },
                        b'\n' => self.chunk = ChunkState::Data(size),
                        b';' => {
                            self.chunk = ChunkState::SizeLineRest {
                                size,
                                in_extension: true,
                            }
                        }
                        b'\r' | b' ' | b'\t' => {}
                        _ if in_extension => {}
                        _ => return Err(FramingError::BadChunkSize),
                    }
                }
                ChunkState::Data(left) => {
                    let take = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - at);
                    let left = left - take as u64;
                    self.chunk = if left == 0 {
                        ChunkState::DataEnd { seen_cr: false }
                    } else {
                        ChunkState::Data(left)
                    };
                    return Ok(Step {
                        consumed: at + take,
                        data_start: at,
                        data_len: take,
                        done: false,
                    });
                }
                ChunkState::DataEnd { seen_cr } => {
                    at += 1;
                    match byte {
                        b'\r' if !seen_cr => self.chunk = ChunkState::DataEnd { seen_cr: true },
                        b'\n' => self.chunk = ChunkState::Size { size: 0, digits: 0 },
                        _ => return Err(FramingError::MissingChunkEnd),
                    }
                }
                ChunkState::Trailer { line_empty } => {
                    at += 1;
                    match byte {
                        b'\n' if line_empty => {
                            return Ok(Step {
                                consumed: at,
                                data_start: at,
                                data_len: 0,
                                done: true,
                            });
                        }
                        b'\n' => self.chunk = ChunkState::Trailer { line_empty: true },
                        b'\r' => {}
                        _ => self.chunk = ChunkState::Trailer { line_empty: false },
                    }
                }
            }
        }
        Ok(Step {
            consumed: at,
            data_start: at,
            data_len: 0,
            done: false,
        })
    }
}

fn hex_digit(byte: u8) -> Option<u64> {
    (byte as char).to_digit(16).map(u64::from)
}

/// `Content-Encoding` of a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    /// `deflate`: zlib-wrapped as the RFC says, or raw deflate as some servers send (detected).
    Deflate,
}

/// A `Write` target that keeps at most `limit` bytes and then refuses, which stops the decoder.
#[derive(Debug, Default)]
pub struct Capped {
    pub bytes: Vec<u8>,
    limit: usize,
    pub full: bool,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = self.limit.saturating_sub(self.bytes.len());
        if room == 0 && !data.is_empty() {
            self.full = true;
            return Err(std::io::Error::other("decompression limit"));
        }
        let take = room.min(data.len());
        self.bytes.extend_from_slice(&data[..take]);
        Ok(take)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a flate2 decompressor holds besides its output, estimated from the sources of flate2
/// 1.1 and miniz_oxide: a 32 KiB window plus the inflate tables, and flate2's 32 KiB output buffer.
const DECODER_STATE_BYTES: usize = 80 * 1024;

enum Decoder {
    Gzip(GzDecoder<Capped>),
    Zlib(ZlibDecoder<Capped>),
    Raw(DeflateDecoder<Capped>),
}

impl Decoder {
    fn sink(&self) -> &Capped {
        match self {
            Decoder::Gzip(d) => d.get_ref(),
            Decoder::Zlib(d) => d.get_ref(),
            Decoder::Raw(d) => d.get_ref(),
        }
    }

    /// Decompresses `data` and flushes, so every byte decodable so far is in the sink.
    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Decoder::Gzip(d) => d.write_all(data).and_then(|()| d.flush()),
            Decoder::Zlib(d) => d.write_all(data).and_then(|()| d.flush()),
            Decoder::Raw(d) => d.write_all(data).and_then(|()| d.flush()),
        }
    }

    fn into_sink(self) -> Capped {
        // finish() would try to flush the rest; the bytes stored so far are what we keep.
        match self {
            Decoder::Gzip(mut d) => std::mem::take(d.get_mut()),
            Decoder::Zlib(mut d) => std::mem::take(d.get_mut()),
            Decoder::Raw(mut d) => std::mem::take(d.get_mut()),
        }
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decoder::Gzip(_) => "Decoder::Gzip",
            Decoder::Zlib(_) => "Decoder::Zlib",
            Decoder::Raw(_) => "Decoder::Raw",
        })
    }
}

/// What happened to a piece of body data given to [`BodySink::push`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Decoded bytes were added to the stored body.
    pub grew: bool,
    /// The stored body reached its depth on this push (the first time only).
    pub depth_reached: bool,
    /// Decompression failed on this push (the first time only); the stored bytes stay.
    pub decompress_error: bool,
    /// The compressed input limit was reached on this push (the first time only).
    pub compressed_limit_reached: bool,
}

/// The decoded body of one message, stored up to `depth` bytes.
#[derive(Debug, Default)]
pub struct BodySink {
    /// The stored body when not decompressing (reused across messages).
    plain: Capped,
    decoder: Option<Decoder>,
    encoding: Option<Encoding>,
    /// Compressed bytes still accepted.
    compressed_left: u64,
    /// Set once the body stops growing (depth, error, or compressed limit).
    stopped: bool,
}

impl BodySink {
    /// Starts a new body: forgets the previous one, keeps its buffer's capacity.
    pub fn start(&mut self, encoding: Encoding, depth: usize, compressed_depth: u64) {
        if let Some(decoder) = self.decoder.take() {
            self.plain = decoder.into_sink();
        }
        self.plain.bytes.clear();
        self.plain.limit = depth;
        self.plain.full = false;
        self.encoding = Some(encoding);
        self.compressed_left = compressed_depth;
        self.stopped = depth == 0;
    }

    /// The message announced `length` body bytes: an uncompressed body gets its buffer (up to
    /// the depth) in one allocation instead of growing by doubling, copy after copy.
    pub fn expect(&mut self, length: u64) {
        if self.encoding == Some(Encoding::Identity) {
            let wanted = usize::try_from(length)
                .unwrap_or(usize::MAX)
                .min(self.plain.limit);
            self.plain.bytes.reserve_exact(wanted);
        }
    }

    /// The decoded body stored so far.
    pub fn bytes(&self) -> &[u8] {
        match &self.decoder {
            Some(decoder) => &decoder.sink().bytes,
            None => &self.plain.bytes,
        }
    }

    /// Bytes held (buffer capacity, plus an estimate of a decompressor's state), for memory
    /// accounting.
    pub fn capacity(&self) -> usize {
        self.plain.bytes.capacity()
            + self
                .decoder
                .as_ref()
                .map_or(0, |d| d.sink().bytes.capacity() + DECODER_STATE_BYTES)
    }

    /// The body ended: frees the decompressor (its state is large) and keeps the decoded bytes.
    pub fn end(&mut self) {
        if let Some(decoder) = self.decoder.take() {
            self.plain = decoder.into_sink();
        }
        self.stopped = true;
    }

    /// Forgets the stored body and frees its buffer.
    pub fn release(&mut self) {
        *self = BodySink::default();
    }

    /// Adds body data (after dechunking).
    pub fn push(&mut self, data: &[u8]) -> PushOutcome {
        let mut outcome = PushOutcome::default();
        if self.stopped || data.is_empty() {
            return outcome;
        }
        let before = self.bytes().len();
        match self.encoding {
            Some(Encoding::Identity) | None => {
                // Writing into a Capped never fails; a full buffer only stops further growth.
                let _ = self.plain.write(data);
                if self.plain.bytes.len() == self.plain.limit {
                    self.stopped = true;
                    outcome.depth_reached = true;
                }
            }
            Some(encoding) => {
                let take = usize::try_from(self.compressed_left)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                self.compressed_left -= take as u64;
                let decoder = self.decoder.get_or_insert_with(|| {
                    let sink = std::mem::take(&mut self.plain);
                    match encoding {
                        Encoding::Gzip => Decoder::Gzip(GzDecoder::new(sink)),
                        _ if looks_like_zlib(data) => Decoder::Zlib(ZlibDecoder::new(sink)),
                        _ => Decoder::Raw(DeflateDecoder::new(sink)),
                    }
                });
                if decoder.write_all(&data[..take]).is_err() {
                    self.stopped = true;
                    if decoder.sink().full {
                        outcome.depth_reached = true;
                    } else {
                        outcome.decompress_error = true;
                    }
                } else if self.compressed_left == 0 {
                    self.stopped = true;
                    outcome.compressed_limit_reached = true;
                }
            }
        }
        outcome.grew = self.bytes().len() > before;
        if self.stopped {
            // Nothing more will be decoded: free the decompressor now, not at the body's end.
            self.end();
        }
        outcome
    }
}

/// A zlib stream starts with a CMF/FLG pair: deflate method 8 and a header checksum of 0 mod 31.
fn looks_like_zlib(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::craft::http_body::{gzip, raw_deflate, zlib};

    /// Frames `input` fed in pieces of `piece` bytes; returns (data, done, error).
    fn frame(
        framing: Framing,
        input: &[u8],
        piece: usize,
    ) -> (Vec<u8>, bool, Option<FramingError>) {
        let mut framer = BodyFramer::new(framing);
        let mut data = Vec::new();
        for chunk in input.chunks(piece.max(1)) {
            let mut at = 0;
            while at < chunk.len() {
                match framer.step(&chunk[at..]) {
                    Ok(step) => {
                        data.extend_from_slice(&chunk[at + step.data_start..][..step.data_len]);
                        at += step.consumed;
                        if step.done {
                            return (data, true, None);
                        }
                        if step.consumed == 0 {
                            break;
                        }
                    }
                    Err(error) => return (data, false, Some(error)),
                }
            }
        }
        (data, framer.is_done(), None)
    }

    #[test]
    fn content_length_body_ends_after_length() {
        let (data, done, _) = frame(Framing::Length(5), b"helloGET", 100);
        assert_eq!(data, b"hello");
        assert!(done);
    }

    #[test]
    fn chunked_body_is_dechunked() {
        let input = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\nNEXT";
        for piece in [1, 2, 3, 7, 100] {
            let (data, done, error) = frame(Framing::Chunked, input, piece);
            assert_eq!(data, b"hello world", "piece {piece}");
            assert!(done && error.is_none());
        }
    }

    #[test]
    fn chunked_body_with_trailers_ends_after_blank_line() {
        let (data, done, _) = frame(Framing::Chunked, b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", 4);
        assert_eq!(data, b"abc");
        assert!(done);
    }

    #[test]
    fn chunked_body_accepts_bare_lf() {
        let (data, done, _) = frame(Framing::Chunked, b"3\nabc\n0\n\n", 1);
        assert_eq!(data, b"abc");
        assert!(done);
    }

    #[test]
    fn bad_chunk_size_is_an_error() {
        assert_eq!(
            frame(Framing::Chunked, b"zz\r\n", 10).2,
            Some(FramingError::BadChunkSize)
        );
    }

    #[test]
    fn junk_after_chunk_size_is_an_error() {
        assert_eq!(
            frame(Framing::Chunked, b"5x\r\n", 10).2,
            Some(FramingError::BadChunkSize)
        );
    }

    #[test]
    fn huge_chunk_size_is_an_error() {
        let error = frame(Framing::Chunked, b"1234567890abcdef0\r\n", 10).2;
        assert_eq!(error, Some(FramingError::ChunkSizeTooLong));
    }

    #[test]
    fn missing_chunk_end_is_an_error() {
        let error = frame(Framing::Chunked, b"3\r\nabcX", 10).2;
        assert_eq!(error, Some(FramingError::MissingChunkEnd));
    }

    #[test]
    fn until_close_never_ends() {
        let (data, done, _) = frame(Framing::UntilClose, b"abc", 2);
        assert_eq!(data, b"abc");
        assert!(!done);
    }

    fn sink_with(encoding: Encoding, depth: usize, pieces: &[&[u8]]) -> (Vec<u8>, PushOutcome) {
        let mut sink = BodySink::default();
        sink.start(encoding, depth, u64::MAX);
        let mut total = PushOutcome::default();
        for piece in pieces {
            let outcome = sink.push(piece);
            total.depth_reached |= outcome.depth_reached;
            total.decompress_error |= outcome.decompress_error;
        }
        (sink.bytes().to_vec(), total)
    }

    #[test]
    fn identity_body_stops_at_depth() {
        let (bytes, outcome) = sink_with(Encoding::Identity, 4, &[b"ab", b"cdef"]);
        assert_eq!(bytes, b"abcd");
        assert!(outcome.depth_reached);
    }

    #[test]
    fn gzip_body_is_decompressed_across_pieces() {
        let compressed = gzip(b"hello compressed world");
        let pieces: Vec<&[u8]> = compressed.chunks(3).collect();
        let (bytes, outcome) = sink_with(Encoding::Gzip, 1000, &pieces);
        assert_eq!(bytes, b"hello compressed world");
        assert!(!outcome.depth_reached && !outcome.decompress_error);
    }

    #[test]
    fn deflate_body_zlib_and_raw_are_both_decompressed() {
        let (bytes, _) = sink_with(Encoding::Deflate, 1000, &[&zlib(b"zlib body")]);
        assert_eq!(bytes, b"zlib body");
        let (bytes, _) = sink_with(Encoding::Deflate, 1000, &[&raw_deflate(b"raw body")]);
        assert_eq!(bytes, b"raw body");
    }

    #[test]
    fn thousand_to_one_bomb_stops_at_depth() {
        let compressed = gzip(&vec![b'A'; 10_000_000]);
        assert!(
            compressed.len() * 500 < 10_000_000,
            "the test body must compress over 500:1"
        );
        let mut sink = BodySink::default();
        sink.start(Encoding::Gzip, 65_535, u64::MAX);
        let outcome = sink.push(&compressed);
        assert_eq!(sink.bytes().len(), 65_535);
        assert!(
            sink.capacity() < 65_535 + DECODER_STATE_BYTES,
            "decompressor freed at the limit"
        );
        assert!(outcome.depth_reached);
    }

    #[test]
    fn corrupt_gzip_is_an_error_and_keeps_nothing_bogus() {
        let (bytes, outcome) =
            sink_with(Encoding::Gzip, 1000, &[b"\x1f\x8b\x08\x00garbagegarbage"]);
        assert!(outcome.decompress_error);
        assert!(bytes.len() < 1000);
    }

    #[test]
    fn compressed_depth_limits_input() {
        let compressed = gzip(b"0123456789");
        let mut sink = BodySink::default();
        sink.start(Encoding::Gzip, 1000, 5);
        let outcome = sink.push(&compressed);
        assert!(outcome.compressed_limit_reached);
        assert!(sink.bytes().len() < 10);
    }

    #[test]
    fn capacity_counts_the_decoder() {
        let mut sink = BodySink::default();
        sink.start(Encoding::Gzip, 100, u64::MAX);
        sink.push(&gzip(b"x"));
        assert_eq!(sink.bytes(), b"x");
        assert!(
            sink.capacity() >= DECODER_STATE_BYTES,
            "{}",
            sink.capacity()
        );
        sink.end();
        assert_eq!(sink.bytes(), b"x");
        assert!(sink.capacity() < DECODER_STATE_BYTES);
        sink.release();
        assert_eq!(sink.capacity(), 0);
    }

    #[test]
    fn an_announced_length_allocates_once_up_to_the_depth() {
        let mut sink = BodySink::default();
        sink.start(Encoding::Identity, 4096, u64::MAX);
        sink.expect(3000);
        let reserved = sink.capacity();
        assert!((3000..4096).contains(&reserved), "{reserved}");
        sink.push(&[b'a'; 3000]);
        assert_eq!(sink.capacity(), reserved, "no regrowth");
        // A huge announced length reserves no more than the depth.
        sink.start(Encoding::Identity, 4096, u64::MAX);
        sink.expect(u64::MAX);
        assert!(sink.capacity() < 8192, "{}", sink.capacity());
        // Compressed bodies are not sized by their compressed length.
        let mut compressed = BodySink::default();
        compressed.start(Encoding::Gzip, 4096, u64::MAX);
        compressed.expect(3000);
        assert_eq!(compressed.capacity(), 0);
    }

    #[test]
    fn sink_is_reused_for_the_next_body() {
        let mut sink = BodySink::default();
        sink.start(Encoding::Gzip, 100, u64::MAX);
        sink.push(&gzip(b"first"));
        sink.start(Encoding::Identity, 100, u64::MAX);
        sink.push(b"second");
        assert_eq!(sink.bytes(), b"second");
    }
}
