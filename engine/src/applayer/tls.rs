//! TLS handshake inspection from the reassembled stream: the ClientHello's server name
//! (`tls.sni`) and the server's first certificate's subject and issuer (`tls.cert_subject`,
//! `tls.cert_issuer`).
//!
//! Each direction runs a record reader from the first byte of its stream: handshake records
//! feed a handshake-message buffer bounded by `app.tls.max-handshake-bytes` (records and
//! messages may span TCP segments and each other); the Certificate message is read as soon as
//! its first certificate is complete, the rest of the chain is passed over unbuffered. A
//! direction stops at ChangeCipherSpec or application data (encrypted from there), at a record
//! that is not TLS, or at the limit; its buffer is freed then.
//!
//! Not here: decryption, TLS 1.3's encrypted certificates, JA3, version or validity checks.

use super::der;

/// Handshake message types read.
const CLIENT_HELLO: u8 = 1;
const CERTIFICATE: u8 = 11;
/// Record content types.
const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
/// Largest record body TLS allows (2^14 plus expansion).
const MAX_RECORD_LEN: usize = 16384 + 2048;
/// The ClientHello extension carrying the server name.
const SERVER_NAME_EXTENSION: u16 = 0;

/// Counters of TLS inspection (per worker).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlsCounters {
    pub client_hellos: u64,
    pub sni: u64,
    pub certificates: u64,
    /// A record header that is not TLS in a flow detected as TLS: that direction stops.
    pub malformed_records: u64,
    /// Handshake messages that do not parse (ClientHello, Certificate, DER).
    pub malformed_handshakes: u64,
    /// Limit hits: a handshake message longer than `app.tls.max-handshake-bytes` (that
    /// direction stops; a Certificate message counts only when its first certificate is).
    pub handshake_too_large: u64,
    /// Directions whose stream start was not seen (picked up midstream): not parsed.
    pub midstream: u64,
}

/// Where one direction's reader is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Phase {
    #[default]
    NotStarted,
    Records,
    /// Encrypted, not TLS, over the limit, or everything wanted was read.
    Done,
}

#[derive(Debug, Default)]
struct Direction {
    phase: Phase,
    header: [u8; 5],
    header_len: u8,
    record_type: u8,
    record_left: usize,
    /// Handshake bytes not yet consumed (bounded).
    handshake: Vec<u8>,
    /// Handshake bytes to pass over (the rest of a Certificate message already read).
    skip: usize,
}

/// What one [`TlsFlow::feed`] made available.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlsUpdate {
    pub sni: bool,
    pub certificate: bool,
}

/// A TLS flow's handshake state and what it found. Created when a flow is detected as TLS and
/// some rule reads a TLS buffer.
#[derive(Debug, Default)]
pub struct TlsFlow {
    /// [to client, to server].
    directions: [Direction; 2],
    sni: Option<Vec<u8>>,
    subject: Option<Vec<u8>>,
    issuer: Option<Vec<u8>>,
}

impl TlsFlow {
    /// The ClientHello's server name, once seen.
    pub fn sni(&self) -> Option<&[u8]> {
        self.sni.as_deref()
    }

    /// The server's first certificate's subject, once seen.
    pub fn cert_subject(&self) -> Option<&[u8]> {
        self.subject.as_deref()
    }

    /// The server's first certificate's issuer, once seen.
    pub fn cert_issuer(&self) -> Option<&[u8]> {
        self.issuer.as_deref()
    }

    /// Heap bytes held (handshake buffers and the names read), for the memcap.
    pub fn memory_bytes(&self) -> usize {
        let names = [&self.sni, &self.subject, &self.issuer];
        self.directions
            .iter()
            .map(|d| d.handshake.capacity())
            .sum::<usize>()
            + names
                .iter()
                .map(|n| n.as_ref().map_or(0, Vec::capacity))
                .sum::<usize>()
    }

    /// Both directions stopped (handshakes read, encrypted, or given up): nothing more to read.
    pub fn is_finished(&self) -> bool {
        self.directions.iter().all(|d| d.phase == Phase::Done)
    }

    /// Whether `to_server`'s reader has not started yet (it must start at the stream's first
    /// byte: see [`TlsFlow::start`]).
    pub fn needs_start(&self, to_server: bool) -> bool {
        self.directions[usize::from(to_server)].phase == Phase::NotStarted
    }

    /// Starts `to_server`'s reader with the stream from its first byte, or marks it
    /// midstream (counted) when `from_start` is None.
    pub fn start(
        &mut self,
        to_server: bool,
        from_start: Option<&[u8]>,
        max_handshake: usize,
        counters: &mut TlsCounters,
    ) -> TlsUpdate {
        let direction = &mut self.directions[usize::from(to_server)];
        match from_start {
            Some(bytes) => {
                direction.phase = Phase::Records;
                self.feed(to_server, bytes, max_handshake, counters)
            }
            None => {
                direction.phase = Phase::Done;
                counters.midstream += 1;
                TlsUpdate::default()
            }
        }
    }

    /// Feeds the next stream bytes of a started direction.
    pub fn feed(
        &mut self,
        to_server: bool,
        mut input: &[u8],
        max_handshake: usize,
        counters: &mut TlsCounters,
    ) -> TlsUpdate {
        let mut update = TlsUpdate::default();
        while !input.is_empty() {
            let direction = &mut self.directions[usize::from(to_server)];
            if direction.phase != Phase::Records {
                break;
            }
            if direction.record_left == 0 {
                let have = usize::from(direction.header_len);
                let take = (5 - have).min(input.len());
                direction.header[have..have + take].copy_from_slice(&input[..take]);
                direction.header_len += take as u8;
                input = &input[take..];
                if direction.header_len < 5 {
                    break;
                }
                direction.header_len = 0;
                let [kind, major, minor, len_hi, len_lo] = direction.header;
                let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
                if !(20..=24).contains(&kind)
                    || major != 3
                    || minor > 4
                    || len == 0
                    || len > MAX_RECORD_LEN
                {
                    counters.malformed_records += 1;
                    direction.stop();
                    break;
                }
                if kind == CHANGE_CIPHER_SPEC || kind == APPLICATION_DATA {
                    direction.stop();
                    break;
                }
                direction.record_type = kind;
                direction.record_left = len;
                continue;
            }
            let take = direction.record_left.min(input.len());
            let body = &input[..take];
            input = &input[take..];
            direction.record_left -= take;
            if direction.record_type == HANDSHAKE {
                self.handshake_bytes(to_server, body, max_handshake, counters, &mut update);
            }
        }
        if self.sni.is_some() && self.subject.is_some() {
            // Everything the rules read is known: stop buffering.
            self.directions.iter_mut().for_each(Direction::stop);
        }
        update
    }

    fn handshake_bytes(
        &mut self,
        to_server: bool,
        mut body: &[u8],
        max_handshake: usize,
        counters: &mut TlsCounters,
        update: &mut TlsUpdate,
    ) {
        let direction = &mut self.directions[usize::from(to_server)];
        let passed = direction.skip.min(body.len());
        direction.skip -= passed;
        body = &body[passed..];
        if body.is_empty() {
            return;
        }
        if direction.handshake.len() + body.len() > max_handshake {
            counters.handshake_too_large += 1;
            direction.stop();
            return;
        }
        direction.handshake.extend_from_slice(body);
        loop {
            let direction = &mut self.directions[usize::from(to_server)];
            let Some(&[kind, a, b, c]) = direction.handshake.get(..4) else {
                return;
            };
            let total = 4 + (usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c));
            let available = direction.handshake.len().min(total);
            if kind == CERTIFICATE && !to_server && self.subject.is_none() {
                let message = &direction.handshake[4..available];
                match first_certificate(message) {
                    Some(Ok(cert)) => {
                        match store_names(cert, &mut self.subject, &mut self.issuer) {
                            Ok(()) => {
                                counters.certificates += 1;
                                update.certificate = true;
                            }
                            Err(_) => counters.malformed_handshakes += 1,
                        }
                        let direction = &mut self.directions[usize::from(to_server)];
                        direction.skip = total - available;
                        direction.handshake.drain(..available);
                        continue;
                    }
                    Some(Err(())) => {
                        counters.malformed_handshakes += 1;
                        direction.stop();
                        return;
                    }
                    None => {}
                }
            }
            if direction.handshake.len() < total {
                if total > max_handshake {
                    counters.handshake_too_large += 1;
                    direction.stop();
                }
                return;
            }
            if kind == CLIENT_HELLO && to_server {
                counters.client_hellos += 1;
                match client_hello_sni(&direction.handshake[4..total]) {
                    Ok(Some(name)) => {
                        counters.sni += 1;
                        self.sni = Some(name.to_vec());
                        update.sni = true;
                    }
                    Ok(None) => {}
                    Err(()) => counters.malformed_handshakes += 1,
                }
            }
            self.directions[usize::from(to_server)]
                .handshake
                .drain(..total);
        }
    }
}

impl Direction {
    fn stop(&mut self) {
        self.phase = Phase::Done;
        self.handshake = Vec::new();
        self.skip = 0;
    }
}

/// The first certificate of a (TLS 1.0-1.2) Certificate message body: None while it is not
/// complete yet, Err when the lengths are inconsistent.
fn first_certificate(message: &[u8]) -> Option<Result<&[u8], ()>> {
    let list_len = u24(message.get(..3)?);
    let cert_len = u24(message.get(3..6)?);
    if cert_len == 0 || cert_len + 3 > list_len {
        return Some(Err(()));
    }
    message.get(6..6 + cert_len).map(Ok)
}

fn u24(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take(3)
        .fold(0, |acc, &b| (acc << 8) | usize::from(b))
}

fn store_names(
    cert: &[u8],
    subject: &mut Option<Vec<u8>>,
    issuer: &mut Option<Vec<u8>>,
) -> Result<(), der::DerError> {
    let names = der::cert_names(cert)?;
    let mut formatted_subject = Vec::new();
    let mut formatted_issuer = Vec::new();
    der::format_name(names.subject, &mut formatted_subject)?;
    der::format_name(names.issuer, &mut formatted_issuer)?;
    *subject = Some(formatted_subject);
    *issuer = Some(formatted_issuer);
    Ok(())
}

/// A bounds-checked reader over a handshake message.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ()> {
        if self.0.len() < n {
            return Err(());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<usize, ()> {
        Ok(usize::from(self.take(1)?[0]))
    }

    fn u16(&mut self) -> Result<usize, ()> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
}

/// The host name of the ClientHello's server_name extension (Ok(None): no such extension).
fn client_hello_sni(body: &[u8]) -> Result<Option<&[u8]>, ()> {
    let mut r = Reader(body);
    r.take(2 + 32)?; // version, random
    let session = r.u8()?;
    r.take(session)?;
    let suites = r.u16()?;
    r.take(suites)?;
    let compression = r.u8()?;
    r.take(compression)?;
    if r.0.is_empty() {
        return Ok(None); // no extensions
    }
    let extensions_len = r.u16()?;
    let mut extensions = Reader(r.take(extensions_len)?);
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let len = extensions.u16()?;
        let data = extensions.take(len)?;
        if kind as u16 != SERVER_NAME_EXTENSION {
            continue;
        }
        let mut names = Reader(data);
        let list_len = names.u16()?;
        let mut list = Reader(names.take(list_len)?);
        while !list.0.is_empty() {
            let name_type = list.u8()?;
            let name_len = list.u16()?;
            let name = list.take(name_len)?;
            if name_type == 0 {
                return Ok(Some(name));
            }
        }
        return Ok(None);
    }
    Ok(None)
}

/// Builders of TLS handshake bytes for tests (engine unit tests and the replay tests) and for
/// the synthetic traffic of [`crate::synth`].
pub mod build {
    /// A TLS 1.2 record of `kind` around `body`.
    pub fn record(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind, 3, 3];
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    /// A handshake message of `kind` around `body`.
    pub fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
        let len = body.len() as u32;
        let mut out = vec![kind, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        out.extend_from_slice(body);
        out
    }

    /// A ClientHello body with one cipher suite and, if given, a server_name extension.
    pub fn client_hello_body(sni: Option<&str>) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0x42; 32]);
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one suite
        body.extend_from_slice(&[1, 0]); // null compression
        let mut extensions = Vec::new();
        // An unrelated extension first (supported_groups).
        extensions.extend_from_slice(&[0, 10, 0, 4, 0, 2, 0, 29]);
        if let Some(name) = sni {
            let name = name.as_bytes();
            let entry_len = 3 + name.len();
            extensions.extend_from_slice(&[0, 0]);
            extensions.extend_from_slice(&((entry_len + 2) as u16).to_be_bytes());
            extensions.extend_from_slice(&(entry_len as u16).to_be_bytes());
            extensions.push(0);
            extensions.extend_from_slice(&(name.len() as u16).to_be_bytes());
            extensions.extend_from_slice(name);
        }
        body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
        body.extend_from_slice(&extensions);
        body
    }

    /// A ClientHello record.
    pub fn client_hello(sni: Option<&str>) -> Vec<u8> {
        record(22, &handshake(1, &client_hello_body(sni)))
    }

    /// A Certificate message body carrying `certs` (DER each).
    pub fn certificate_body(certs: &[&[u8]]) -> Vec<u8> {
        let list: Vec<u8> = certs
            .iter()
            .flat_map(|c| {
                let len = c.len() as u32;
                [
                    vec![(len >> 16) as u8, (len >> 8) as u8, len as u8],
                    c.to_vec(),
                ]
                .concat()
            })
            .collect();
        let len = list.len() as u32;
        [vec![(len >> 16) as u8, (len >> 8) as u8, len as u8], list].concat()
    }

    /// The server's flight: ServerHello, Certificate (with `certs`), ServerHelloDone, as one
    /// handshake record.
    pub fn server_flight(certs: &[&[u8]]) -> Vec<u8> {
        let mut hello = vec![3, 3];
        hello.extend_from_slice(&[0x24; 32]);
        hello.extend_from_slice(&[0, 0x13, 0x01, 0]);
        let messages = [
            handshake(2, &hello),
            handshake(11, &certificate_body(certs)),
            handshake(14, &[]),
        ]
        .concat();
        record(22, &messages)
    }

    /// One DER tag-length-value (definite length).
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(content);
        out
    }

    /// A DER Name of single-attribute RDNs: (OID content octets, string tag, value).
    pub fn name(attributes: &[(&[u8], u8, &str)]) -> Vec<u8> {
        let rdns: Vec<u8> = attributes
            .iter()
            .flat_map(|(oid, tag, value)| {
                let attribute = [tlv(0x06, oid), tlv(*tag, value.as_bytes())].concat();
                tlv(0x31, &tlv(0x30, &attribute))
            })
            .collect();
        tlv(0x30, &rdns)
    }

    /// A structurally complete v3 certificate with the given DER issuer and subject Names
    /// (see [`super::der`] for the layout it is read with).
    pub fn certificate_with_names(issuer: &[u8], subject: &[u8]) -> Vec<u8> {
        let public_key_info = tlv(0x30, &tlv(0x03, &[0, 1, 2, 3]));
        certificate_with_key(issuer, subject, &public_key_info, &[7, 7])
    }

    /// [`certificate_with_names`] with the given DER SubjectPublicKeyInfo and signature bytes
    /// (a certificate that full X.509 parsers such as Suricata's accept needs a real-looking
    /// SubjectPublicKeyInfo: an AlgorithmIdentifier, then the key as a BIT STRING).
    pub fn certificate_with_key(
        issuer: &[u8],
        subject: &[u8],
        public_key_info: &[u8],
        signature: &[u8],
    ) -> Vec<u8> {
        let algorithm = tlv(
            0x30,
            &tlv(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 11]),
        );
        let validity = tlv(
            0x30,
            &[tlv(0x17, b"250101000000Z"), tlv(0x17, b"350101000000Z")].concat(),
        );
        let tbs = tlv(
            0x30,
            &[
                tlv(0xa0, &tlv(0x02, &[2])),
                tlv(0x02, &[0x10, 0x01]),
                algorithm.clone(),
                issuer.to_vec(),
                validity,
                subject.to_vec(),
                public_key_info.to_vec(),
            ]
            .concat(),
        );
        let signature = tlv(0x03, &[&[0][..], signature].concat());
        tlv(0x30, &[tbs, algorithm, signature].concat())
    }

    /// A certificate whose issuer and subject are (OID, value) attributes, one per RDN,
    /// UTF8String values.
    pub fn certificate(issuer: &[(&[u8], &str)], subject: &[(&[u8], &str)]) -> Vec<u8> {
        let utf8 = |attributes: &[(&[u8], &str)]| {
            let typed: Vec<(&[u8], u8, &str)> =
                attributes.iter().map(|&(oid, v)| (oid, 0x0c, v)).collect();
            name(&typed)
        };
        certificate_with_names(&utf8(issuer), &utf8(subject))
    }

    /// OIDs (content octets) of the common name attributes.
    pub const CN: &[u8] = &[0x55, 0x04, 0x03];
    pub const C: &[u8] = &[0x55, 0x04, 0x06];
    pub const O: &[u8] = &[0x55, 0x04, 0x0a];
    pub const ST: &[u8] = &[0x55, 0x04, 0x08];
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    const LIMIT: usize = 16384;

    fn started(to_server: bool, bytes: &[u8]) -> (TlsFlow, TlsUpdate, TlsCounters) {
        let mut flow = TlsFlow::default();
        let mut counters = TlsCounters::default();
        let update = flow.start(to_server, Some(bytes), LIMIT, &mut counters);
        (flow, update, counters)
    }

    fn cert() -> Vec<u8> {
        certificate(
            &[(C, "US"), (O, "Evil CA"), (CN, "Evil Root")],
            &[(C, "US"), (CN, "bad.example")],
        )
    }

    #[test]
    fn sni_from_one_client_hello() {
        let (flow, update, counters) = started(true, &client_hello(Some("bad.example")));
        assert!(update.sni);
        assert_eq!(flow.sni(), Some(&b"bad.example"[..]));
        assert_eq!((counters.client_hellos, counters.sni), (1, 1));
    }

    #[test]
    fn client_hello_without_sni() {
        let (flow, update, counters) = started(true, &client_hello(None));
        assert!(!update.sni);
        assert_eq!(flow.sni(), None);
        assert_eq!((counters.client_hellos, counters.sni), (1, 0));
    }

    #[test]
    fn sni_split_at_every_byte() {
        let hello = client_hello(Some("split.example"));
        for cut in 1..hello.len() {
            let (mut flow, first, mut counters) = started(true, &hello[..cut]);
            let second = flow.feed(true, &hello[cut..], LIMIT, &mut counters);
            assert!(!first.sni && second.sni, "cut {cut}");
            assert_eq!(flow.sni(), Some(&b"split.example"[..]));
        }
    }

    #[test]
    fn handshake_message_across_two_records() {
        let message = handshake(1, &client_hello_body(Some("two.records")));
        let (a, b) = message.split_at(20);
        let bytes = [record(22, a), record(22, b)].concat();
        let (flow, update, _) = started(true, &bytes);
        assert!(update.sni);
        assert_eq!(flow.sni(), Some(&b"two.records"[..]));
    }

    #[test]
    fn certificate_subject_and_issuer() {
        let cert = cert();
        let (flow, update, counters) = started(false, &server_flight(&[&cert, &cert]));
        assert!(update.certificate);
        assert_eq!(flow.cert_subject(), Some(&b"C=US, CN=bad.example"[..]));
        assert_eq!(
            flow.cert_issuer(),
            Some(&b"C=US, O=Evil CA, CN=Evil Root"[..])
        );
        assert_eq!(counters.certificates, 1);
    }

    #[test]
    fn first_certificate_is_read_before_the_chain_ends() {
        let cert = cert();
        let flight = server_flight(&[&cert, &[0x55; 3000]]);
        // Everything up to the first certificate's end and a bit of the second.
        let cut = flight.len() - 2500;
        let (mut flow, update, mut counters) = started(false, &flight[..cut]);
        assert!(update.certificate);
        // The rest passes over without buffering or errors.
        let rest = flow.feed(false, &flight[cut..], 1024, &mut counters);
        assert_eq!(rest, TlsUpdate::default());
        assert_eq!(counters.handshake_too_large + counters.malformed_records, 0);
    }

    #[test]
    fn oversized_handshake_message_is_counted_and_stops() {
        let hello = client_hello(Some("x.example"));
        let mut flow = TlsFlow::default();
        let mut counters = TlsCounters::default();
        let update = flow.start(true, Some(&hello), 40, &mut counters);
        assert!(!update.sni);
        assert_eq!(counters.handshake_too_large, 1);
        assert!(!flow.needs_start(true));
    }

    #[test]
    fn not_tls_record_is_malformed() {
        let (flow, update, counters) = started(true, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(update, TlsUpdate::default());
        assert_eq!(counters.malformed_records, 1);
        assert_eq!(flow.sni(), None);
    }

    #[test]
    fn change_cipher_spec_ends_the_direction() {
        let bytes = [record(20, &[1]), client_hello(Some("late.example"))].concat();
        let (flow, update, counters) = started(true, &bytes);
        assert!(!update.sni);
        assert_eq!(flow.sni(), None);
        assert_eq!(counters.malformed_records, 0);
    }

    #[test]
    fn truncated_client_hello_is_malformed_not_a_panic() {
        let body = client_hello_body(Some("x.example"));
        for cut in 0..body.len() - 1 {
            let (_, _, counters) = started(true, &record(22, &handshake(1, &body[..cut])));
            assert_eq!(counters.client_hellos, 1);
            assert!(counters.malformed_handshakes <= 1);
        }
    }

    #[test]
    fn midstream_direction_is_counted() {
        let mut flow = TlsFlow::default();
        let mut counters = TlsCounters::default();
        flow.start(false, None, LIMIT, &mut counters);
        assert_eq!(counters.midstream, 1);
        assert!(!flow.needs_start(false) && flow.needs_start(true));
    }

    #[test]
    fn bad_certificate_lengths_are_malformed() {
        let flight = record(22, &handshake(11, &[0, 0, 4, 0, 0, 9, 1, 2]));
        let (flow, update, counters) = started(false, &flight);
        assert!(!update.certificate);
        assert_eq!(counters.malformed_handshakes, 1);
        assert_eq!(flow.cert_subject(), None);
    }
}
