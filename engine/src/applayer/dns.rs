//! DNS: the header sanity check that detects DNS on any port, the first question's name in
//! the dotted form `dns.query` matches (`www.example.com`, no trailing dot, empty for the
//! root), and the 2-byte length framing of DNS over TCP.
//!
//! Not a resolver or a full parser: answers and the other sections are not read; a message is
//! DNS enough when its header is sane (qdcount 1..=16, opcode 0-5) and its first question
//! parses. Nothing here panics on any input.

use std::fmt;

/// The fixed DNS header length.
pub const HEADER_LEN: usize = 12;
/// Longest name in wire form (RFC 1035).
const MAX_NAME_LEN: usize = 255;
/// Compression pointers followed in one name at most.
const MAX_POINTERS: usize = 16;
/// Bytes of a TCP message's start needed to read its first question at most: length prefix,
/// header, the longest name plus one label byte of slack, type and class.
pub const TCP_QUESTION_PREFIX: usize = 2 + HEADER_LEN + MAX_NAME_LEN + 1 + 4;

/// Why a message is not (sane) DNS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// The message ends before the first question does.
    Truncated,
    /// qdcount is 0 or above 16.
    QuestionCount(u16),
    /// Opcode above 5 (reserved).
    Opcode(u8),
    /// A label length with the reserved 0x40/0x80 bits, a label over 63 bytes, a name over 255
    /// bytes, or a compression pointer that does not point backwards.
    BadName,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::Truncated => f.write_str("truncated before the first question ends"),
            DnsError::QuestionCount(n) => write!(f, "question count {n} (1..=16 expected)"),
            DnsError::Opcode(op) => write!(f, "reserved opcode {op}"),
            DnsError::BadName => f.write_str("malformed question name"),
        }
    }
}

/// What [`parse_question`] read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question {
    /// QR bit: a response.
    pub is_response: bool,
    pub qtype: u16,
    /// Bytes from the message start to the end of the first question.
    pub end: usize,
}

/// Checks the header of `msg` (one DNS message, without TCP's length prefix) and reads its
/// first question's name into `name` (cleared first; dotted, no trailing dot).
pub fn parse_question(msg: &[u8], name: &mut Vec<u8>) -> Result<Question, DnsError> {
    name.clear();
    let header = msg.get(..HEADER_LEN).ok_or(DnsError::Truncated)?;
    let flags = u16::from_be_bytes([header[2], header[3]]);
    let opcode = ((flags >> 11) & 0x0f) as u8;
    if opcode > 5 {
        return Err(DnsError::Opcode(opcode));
    }
    let qdcount = u16::from_be_bytes([header[4], header[5]]);
    if !(1..=16).contains(&qdcount) {
        return Err(DnsError::QuestionCount(qdcount));
    }
    let name_end = read_name(msg, HEADER_LEN, name)?;
    let fixed = msg.get(name_end..name_end + 4).ok_or(DnsError::Truncated)?;
    Ok(Question {
        is_response: flags & 0x8000 != 0,
        qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        end: name_end + 4,
    })
}

/// Reads the name at `start`, following backward compression pointers; returns the offset
/// just past the name's encoding at `start`.
fn read_name(msg: &[u8], start: usize, name: &mut Vec<u8>) -> Result<usize, DnsError> {
    let mut at = start;
    let mut end = None;
    let mut pointers = 0;
    let mut wire_len = 0;
    loop {
        let len = *msg.get(at).ok_or(DnsError::Truncated)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Ok(end.unwrap_or(at + 1));
            }
            0x00 => {
                let len = usize::from(len);
                let label = msg.get(at + 1..at + 1 + len).ok_or(DnsError::Truncated)?;
                wire_len += len + 1;
                if wire_len > MAX_NAME_LEN {
                    return Err(DnsError::BadName);
                }
                if !name.is_empty() {
                    name.push(b'.');
                }
                name.extend_from_slice(label);
                at += 1 + len;
            }
            0xc0 => {
                let low = *msg.get(at + 1).ok_or(DnsError::Truncated)?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                pointers += 1;
                if target >= at || pointers > MAX_POINTERS {
                    return Err(DnsError::BadName);
                }
                end.get_or_insert(at + 2);
                at = target;
            }
            _ => return Err(DnsError::BadName),
        }
    }
}

/// DNS over TCP in one direction: finds each message's start from the 2-byte length prefixes
/// and keeps the first [`TCP_QUESTION_PREFIX`] bytes of the current message (bounded), so its
/// question can be read when it spans segments.
#[derive(Debug, Default)]
pub struct DnsTcpDirection {
    /// The current message's first bytes (length prefix included).
    start: Vec<u8>,
    /// Bytes of the current message still to pass over once its question was read.
    skip: usize,
    /// The first bytes were fed (from the stream's start, or lost).
    started: bool,
    /// The stream's start was not seen: message boundaries are unknown, nothing is read.
    midstream: bool,
}

/// What one [`DnsTcpDirection::feed`] call found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFeed {
    /// Messages whose question was read.
    pub messages: u64,
    /// Messages that were not sane DNS.
    pub malformed: u64,
    /// The first query's question (a request) found in this call: its name is in `name`.
    pub query: bool,
}

impl DnsTcpDirection {
    /// Heap bytes held, for the memcap.
    pub fn memory_bytes(&self) -> usize {
        self.start.capacity()
    }

    /// Feeds a packet's data: the first call needs the direction's stream from its first byte
    /// (`from_start`; None: picked up midstream, this direction is never read), later calls
    /// read `new` bytes.
    pub fn start_or_feed(
        &mut self,
        from_start: Option<&[u8]>,
        new: &[u8],
        name: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> TcpFeed {
        if !self.started {
            self.started = true;
            self.midstream = from_start.is_none();
            return from_start.map_or_else(TcpFeed::default, |all| self.feed(all, name, scratch));
        }
        if self.midstream {
            return TcpFeed::default();
        }
        self.feed(new, name, scratch)
    }

    /// Feeds the direction's next stream bytes; the first request's name found is left in
    /// `name`.
    pub fn feed(&mut self, mut input: &[u8], name: &mut Vec<u8>, scratch: &mut Vec<u8>) -> TcpFeed {
        let mut found = TcpFeed::default();
        while !input.is_empty() {
            if self.skip > 0 {
                let passed = self.skip.min(input.len());
                self.skip -= passed;
                input = &input[passed..];
                continue;
            }
            if self.start.len() < 2 {
                let take = (2 - self.start.len()).min(input.len());
                self.start.extend_from_slice(&input[..take]);
                input = &input[take..];
                continue;
            }
            let wanted = 2 + usize::from(u16::from_be_bytes([self.start[0], self.start[1]]));
            let needed = wanted.min(TCP_QUESTION_PREFIX);
            let take = needed.saturating_sub(self.start.len()).min(input.len());
            self.start.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.start.len() < needed {
                continue;
            }
            // The message's start is here: read its question.
            let message = &self.start[2..];
            let target = if found.query {
                &mut *scratch
            } else {
                &mut *name
            };
            match parse_question(message, target) {
                Ok(question) => {
                    found.messages += 1;
                    found.query |= !question.is_response;
                }
                Err(_) => found.malformed += 1,
            }
            self.skip = wanted - self.start.len();
            self.start.clear();
        }
        found
    }
}

/// Builders of DNS messages for tests (engine unit tests and the replay tests) and for the
/// synthetic traffic of [`crate::synth`].
pub mod build {
    /// A DNS message: id, flags, one question for `name` (dotted), type A, class IN.
    pub fn query(id: u16, flags: u16, name: &str) -> Vec<u8> {
        let mut msg = Vec::new();
        msg.extend_from_slice(&id.to_be_bytes());
        msg.extend_from_slice(&flags.to_be_bytes());
        msg.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        for label in name.split('.').filter(|l| !l.is_empty()) {
            msg.push(label.len() as u8);
            msg.extend_from_slice(label.as_bytes());
        }
        msg.extend_from_slice(&[0, 0, 1, 0, 1]);
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::build::query;
    use super::*;

    fn name_of(msg: &[u8]) -> Result<(String, Question), DnsError> {
        let mut name = Vec::new();
        let q = parse_question(msg, &mut name)?;
        Ok((String::from_utf8(name).unwrap(), q))
    }

    #[test]
    fn query_name_is_dotted_without_trailing_dot() {
        let (name, q) = name_of(&query(1, 0x0100, "www.Example.com")).unwrap();
        assert_eq!(name, "www.Example.com");
        assert!(!q.is_response);
        assert_eq!(q.qtype, 1);
        let (root, _) = name_of(&query(1, 0x0100, "")).unwrap();
        assert_eq!(root, "");
    }

    #[test]
    fn response_bit_is_reported() {
        let (_, q) = name_of(&query(1, 0x8180, "a.b")).unwrap();
        assert!(q.is_response);
    }

    #[test]
    fn insane_headers_are_rejected() {
        let mut no_question = query(1, 0x0100, "a.b");
        no_question[5] = 0;
        assert_eq!(name_of(&no_question), Err(DnsError::QuestionCount(0)));
        let mut many = query(1, 0x0100, "a.b");
        many[4] = 1;
        assert_eq!(name_of(&many), Err(DnsError::QuestionCount(257)));
        assert_eq!(name_of(&query(1, 0x3000, "a.b")), Err(DnsError::Opcode(6)));
        assert_eq!(name_of(&[0; 11]), Err(DnsError::Truncated));
    }

    #[test]
    fn bad_labels_are_rejected() {
        let mut reserved_bits = query(1, 0x0100, "a.b");
        reserved_bits[12] = 0x41;
        assert_eq!(name_of(&reserved_bits), Err(DnsError::BadName));
        let mut forward_pointer = query(1, 0x0100, "a.b");
        forward_pointer[12] = 0xc0;
        forward_pointer[13] = 40;
        assert_eq!(name_of(&forward_pointer), Err(DnsError::BadName));
        let long = vec!["a".repeat(63); 5].join(".");
        assert_eq!(name_of(&query(1, 0x0100, &long)), Err(DnsError::BadName));
        let cut = query(1, 0x0100, "abc.def");
        assert_eq!(name_of(&cut[..cut.len() - 5]), Err(DnsError::Truncated));
    }

    #[test]
    fn backward_pointer_is_followed() {
        // Header, then "x" + pointer to a name placed inside the header's count bytes would be
        // odd; point at an earlier label of the same name instead (a loop is cut by the limit).
        let mut msg = query(1, 0x0100, "");
        msg.truncate(HEADER_LEN);
        msg.extend_from_slice(&[1, b'a', 0xc0, 12]);
        assert_eq!(name_of(&msg), Err(DnsError::BadName));
    }

    fn framed(msgs: &[Vec<u8>]) -> Vec<u8> {
        msgs.iter()
            .flat_map(|m| [(m.len() as u16).to_be_bytes().to_vec(), m.clone()].concat())
            .collect()
    }

    #[test]
    fn tcp_messages_split_anywhere_are_found() {
        let stream = framed(&[
            query(1, 0x0100, "one.example"),
            query(2, 0x0100, "two.example"),
        ]);
        for cut in 1..stream.len() {
            let mut dir = DnsTcpDirection::default();
            let (mut name, mut scratch) = (Vec::new(), Vec::new());
            let a = dir.feed(&stream[..cut], &mut name, &mut scratch);
            let first = name.clone();
            let b = dir.feed(&stream[cut..], &mut name, &mut scratch);
            assert_eq!(a.messages + b.messages, 2, "cut {cut}");
            assert_eq!(a.malformed + b.malformed, 0);
            if a.query {
                assert_eq!(first, b"one.example");
            }
            // The first query completed in the second call is the one left in `name`.
            let expected: &[u8] = if a.query {
                b"two.example"
            } else {
                b"one.example"
            };
            assert!(b.query);
            assert_eq!(name, expected, "cut {cut}");
        }
    }

    #[test]
    fn tcp_long_message_is_skipped_past() {
        let mut big = query(1, 0x0100, "big.example");
        big.extend(std::iter::repeat_n(0u8, 1000));
        let stream = framed(&[big, query(2, 0x8180, "reply.example")]);
        let mut dir = DnsTcpDirection::default();
        let (mut name, mut scratch) = (Vec::new(), Vec::new());
        let fed = dir.feed(&stream, &mut name, &mut scratch);
        assert_eq!((fed.messages, fed.malformed, fed.query), (2, 0, true));
        assert_eq!(name, b"big.example");
    }
}
