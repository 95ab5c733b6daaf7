//! Protocol detection by content, on any port, as Suricata's probing parsers do: each probe
//! looks at the first bytes of one direction's stream (or one UDP payload) and says the
//! protocol, that it needs more bytes, or that it is not its protocol.
//!
//! - TLS: a handshake record `16 03 00..04` with a sane length whose first message is a
//!   ClientHello (to the server) or ServerHello (to the client); SSLv2 ClientHello.
//! - SSH: `SSH-`. SMB: an NBSS session message header, then `\xffSMB`, `\xfeSMB` or `\xfdSMB`.
//! - HTTP: a request method and a space, or `HTTP/1.` from the server.
//! - FTP and SMTP: the server's `220` banner, then the client's first command (USER, PASS,
//!   AUTH ... for FTP; EHLO, HELO, MAIL for SMTP). Without a banner neither is detected.
//! - DNS: a sane header and first question ([`super::dns`]); over TCP behind its 2-byte length.
//!
//! Every probe decides within its own fixed number of bytes (at most
//! [`super::dns::TCP_QUESTION_PREFIX`]), so probing needs no limit of its own.
//! Not here: per-flow state (see [`super::AppLayerState`]) or parsing beyond detection.

use nfips_rules::ast::AppProto;

use super::dns;

/// What a probe says about a direction's first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Found(AppProto),
    /// The server's `220 ` / `220-` greeting (FTP or SMTP; the client's command decides).
    Banner,
    /// The bytes so far are a prefix of something a probe would accept.
    NeedMore,
    /// No probe accepts these bytes.
    No,
}

/// How one probe judges `data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Yes,
    More,
    No,
}

/// Whether `data` starts with `pattern` (ASCII case-insensitively when `nocase`): Yes, More
/// when `data` is a shorter prefix of it, No otherwise.
fn starts(data: &[u8], pattern: &[u8], nocase: bool) -> Verdict {
    let n = data.len().min(pattern.len());
    let same = if nocase {
        data[..n].eq_ignore_ascii_case(&pattern[..n])
    } else {
        data[..n] == pattern[..n]
    };
    match (same, n == pattern.len()) {
        (false, _) => Verdict::No,
        (true, true) => Verdict::Yes,
        (true, false) => Verdict::More,
    }
}

/// The first of `patterns` that `data` starts with; More if it is a prefix of any.
fn starts_any(data: &[u8], patterns: &[&[u8]], nocase: bool) -> Verdict {
    let mut verdict = Verdict::No;
    for pattern in patterns {
        match starts(data, pattern, nocase) {
            Verdict::Yes => return Verdict::Yes,
            Verdict::More => verdict = Verdict::More,
            Verdict::No => {}
        }
    }
    verdict
}

fn tls(data: &[u8], to_server: bool) -> Verdict {
    let hello = if to_server { 1 } else { 2 };
    match data {
        [0x16, 0x03, minor, hi, lo, kind, ..] => {
            let len = u16::from_be_bytes([*hi, *lo]);
            if *minor <= 4 && (4..=16384 + 2048).contains(&len) && *kind == hello {
                Verdict::Yes
            } else {
                Verdict::No
            }
        }
        [0x16] | [0x16, 0x03] => Verdict::More,
        [0x16, 0x03, minor, ..] if *minor <= 4 => Verdict::More,
        _ if to_server => sslv2_client_hello(data),
        _ => Verdict::No,
    }
}

/// SSLv2-framed ClientHello (2-byte header with the high bit set), offering SSL 2, SSL 3 or TLS.
fn sslv2_client_hello(data: &[u8]) -> Verdict {
    match data {
        [hi, lo, 0x01, major, minor, ..] if hi & 0x80 != 0 => {
            let len = usize::from(u16::from_be_bytes([hi & 0x7f, *lo]));
            let version_ok = (*major, *minor) == (0, 2) || (*major == 3 && *minor <= 4);
            if len >= 9 && version_ok {
                Verdict::Yes
            } else {
                Verdict::No
            }
        }
        [hi] | [hi, _] if hi & 0x80 != 0 => Verdict::More,
        [hi, _, 0x01, ..] if hi & 0x80 != 0 => Verdict::More,
        _ => Verdict::No,
    }
}

fn smb(data: &[u8]) -> Verdict {
    // NBSS: type 0 (session message), 7 reserved bits of flags, 17-bit length.
    match data {
        [0x00, flags, ..] if flags & 0xfe != 0 => Verdict::No,
        [0x00, _, _, _, rest @ ..] => {
            starts_any(rest, &[b"\xffSMB", b"\xfeSMB", b"\xfdSMB"], false)
        }
        [0x00, ..] => Verdict::More,
        _ => Verdict::No,
    }
}

const HTTP_METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"CONNECT ",
    b"TRACE ",
    b"PATCH ",
    b"PROPFIND ",
];

const FTP_COMMANDS: &[&[u8]] = &[
    b"USER", b"PASS", b"AUTH", b"ACCT", b"FEAT", b"SYST", b"OPTS", b"PORT", b"PASV", b"EPSV",
    b"EPRT", b"TYPE",
];

const SMTP_COMMANDS: &[&[u8]] = &[b"EHLO", b"HELO", b"MAIL"];

/// A client command: 4 letters from `commands`, then a space or a line end.
fn command(data: &[u8], commands: &[&[u8]]) -> Verdict {
    match starts_any(data, commands, true) {
        Verdict::Yes => match data.get(4) {
            Some(b' ' | b'\r' | b'\n') => Verdict::Yes,
            Some(_) => Verdict::No,
            None => Verdict::More,
        },
        other => other,
    }
}

fn dns_over_tcp(data: &[u8], name: &mut Vec<u8>) -> Verdict {
    let Some(prefix) = data.get(..2) else {
        return Verdict::More;
    };
    let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
    if len < dns::HEADER_LEN + 5 {
        return Verdict::No;
    }
    let message = &data[2..data.len().min(2 + len)];
    // Judge what the header shows so far: random bytes fail here long before a question.
    if let Some(flags) = message.get(2) {
        if (flags >> 3) & 0x0f > 5 {
            return Verdict::No;
        }
    }
    if let Some(count) = message.get(4..6) {
        if !(1..=16).contains(&u16::from_be_bytes([count[0], count[1]])) {
            return Verdict::No;
        }
    }
    match dns::parse_question(message, name) {
        Ok(question) if question.end <= len => Verdict::Yes,
        Ok(_) => Verdict::No,
        Err(dns::DnsError::Truncated) if message.len() < len => Verdict::More,
        Err(_) => Verdict::No,
    }
}

/// Probes the first bytes of a TCP direction's stream. `banner_seen`: the server already sent
/// a `220` greeting. `name` is scratch space for the DNS probe.
pub fn probe_tcp(data: &[u8], to_server: bool, banner_seen: bool, name: &mut Vec<u8>) -> Probe {
    let mut probes: [(AppProto, Verdict); 6] = [
        (AppProto::Tls, tls(data, to_server)),
        (AppProto::Ssh, starts(data, b"SSH-", false)),
        (AppProto::Smb, smb(data)),
        (
            AppProto::Http,
            if to_server {
                starts_any(data, HTTP_METHODS, false)
            } else {
                starts(data, b"HTTP/1.", false)
            },
        ),
        (AppProto::Dns, dns_over_tcp(data, name)),
        (AppProto::Ftp, Verdict::No),
    ];
    let mut banner = Verdict::No;
    if to_server && banner_seen {
        probes[5] = (AppProto::Ftp, command(data, FTP_COMMANDS));
        if let Verdict::Yes | Verdict::More = command(data, SMTP_COMMANDS) {
            probes[5] = (AppProto::Smtp, command(data, SMTP_COMMANDS));
        }
    } else if !to_server {
        banner = match starts(data, b"220", false) {
            Verdict::Yes => match data.get(3) {
                Some(b' ' | b'-') => Verdict::Yes,
                Some(_) => Verdict::No,
                None => Verdict::More,
            },
            other => other,
        };
    }
    if let Some((proto, _)) = probes.iter().find(|(_, v)| *v == Verdict::Yes) {
        return Probe::Found(*proto);
    }
    if banner == Verdict::Yes {
        return Probe::Banner;
    }
    if banner == Verdict::More || probes.iter().any(|(_, v)| *v == Verdict::More) {
        return Probe::NeedMore;
    }
    Probe::No
}

/// Whether one UDP payload is a DNS message (sane header, first question parses). `name` is
/// scratch space.
pub fn probe_udp(payload: &[u8], name: &mut Vec<u8>) -> bool {
    dns::parse_question(payload, name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::super::tls::build::{client_hello, server_flight};
    use super::*;

    fn tcp(data: &[u8], to_server: bool, banner: bool) -> Probe {
        probe_tcp(data, to_server, banner, &mut Vec::new())
    }

    #[test]
    fn tls_client_and_server_hello() {
        assert_eq!(
            tcp(&client_hello(Some("a")), true, false),
            Probe::Found(AppProto::Tls)
        );
        assert_eq!(
            tcp(&server_flight(&[]), false, false),
            Probe::Found(AppProto::Tls)
        );
        // A ServerHello sent by the client is not a client's first message.
        assert_eq!(tcp(&server_flight(&[]), true, false), Probe::No);
    }

    #[test]
    fn tls_prefixes_need_more() {
        let hello = client_hello(Some("a"));
        for cut in 1..6 {
            assert_eq!(
                tcp(&hello[..cut], true, false),
                Probe::NeedMore,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn tls_with_a_bad_version_or_length_is_not_tls() {
        let mut bad_version = client_hello(Some("a"));
        bad_version[2] = 9;
        assert_eq!(tcp(&bad_version, true, false), Probe::No);
        let mut zero_length = client_hello(Some("a"));
        zero_length[3] = 0;
        zero_length[4] = 0;
        assert_eq!(tcp(&zero_length, true, false), Probe::No);
    }

    #[test]
    fn sslv2_client_hello() {
        let hello = [0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15];
        assert_eq!(tcp(&hello, true, false), Probe::Found(AppProto::Tls));
        let longer = [&hello[..], &[0; 8]].concat();
        assert_eq!(
            tcp(&longer, false, false),
            Probe::No,
            "SSLv2 is a client's hello"
        );
        assert_eq!(tcp(&hello[..2], true, false), Probe::NeedMore);
    }

    #[test]
    fn ssh_both_ways() {
        assert_eq!(
            tcp(b"SSH-2.0-OpenSSH_9.6\r\n", true, false),
            Probe::Found(AppProto::Ssh)
        );
        assert_eq!(
            tcp(b"SSH-2.0-x\r\n", false, false),
            Probe::Found(AppProto::Ssh)
        );
        assert_eq!(tcp(b"SS", true, false), Probe::NeedMore);
        assert_eq!(tcp(b"SSX-2.0-not ssh at all", true, false), Probe::No);
    }

    #[test]
    fn smb_versions_behind_nbss() {
        for magic in [&b"\xffSMB"[..], b"\xfeSMB", b"\xfdSMB"] {
            let packet = [&[0, 0, 0, 0x45][..], magic, &[0x72; 8]].concat();
            assert_eq!(tcp(&packet, true, false), Probe::Found(AppProto::Smb));
        }
        assert_eq!(
            tcp(&[0, 0, 0, 0x45, 0xff, b'S'], true, false),
            Probe::NeedMore
        );
        assert_eq!(
            tcp(b"\x00\x00\x00\x45\xffXYZ\xff\xff\xff\xff", true, false),
            Probe::No
        );
        assert_eq!(
            tcp(b"\x00\x80\x00\x45\xffSMB\xff\xff\xff\xff", true, false),
            Probe::No
        );
    }

    #[test]
    fn http_request_and_response() {
        assert_eq!(
            tcp(b"GET / HTTP/1.1\r\n", true, false),
            Probe::Found(AppProto::Http)
        );
        assert_eq!(
            tcp(b"HTTP/1.1 200 OK\r\n", false, false),
            Probe::Found(AppProto::Http)
        );
        assert_eq!(tcp(b"GE", true, false), Probe::NeedMore);
        assert_eq!(tcp(b"GETX / HTTP/1.1\r\n", true, false), Probe::No);
    }

    #[test]
    fn ftp_and_smtp_need_the_banner() {
        assert_eq!(
            tcp(b"220 ftp.example FTP ready\r\n", false, false),
            Probe::Banner
        );
        assert_eq!(tcp(b"220-mail ESMTP\r\n", false, false), Probe::Banner);
        assert_eq!(tcp(b"22", false, false), Probe::NeedMore);
        assert_eq!(tcp(b"220x not a banner\r\n", false, false), Probe::No);
        assert_eq!(
            tcp(b"USER anonymous\r\n", true, true),
            Probe::Found(AppProto::Ftp)
        );
        assert_eq!(
            tcp(b"auth tls\r\n", true, true),
            Probe::Found(AppProto::Ftp)
        );
        assert_eq!(
            tcp(b"EHLO client.example\r\n", true, true),
            Probe::Found(AppProto::Smtp)
        );
        assert_eq!(tcp(b"HELO x\r\n", true, true), Probe::Found(AppProto::Smtp));
        assert_eq!(tcp(b"USER anonymous\r\n", true, false), Probe::No);
        assert_eq!(tcp(b"EHLO x\r\n", true, false), Probe::No);
        assert_eq!(tcp(b"USERX anonymous\r\n", true, true), Probe::No);
        assert_eq!(tcp(b"EHL", true, true), Probe::NeedMore);
    }

    #[test]
    fn dns_over_tcp_behind_its_length() {
        let query = super::super::dns::build::query(7, 0x0100, "www.example.com");
        let framed = [(query.len() as u16).to_be_bytes().to_vec(), query].concat();
        assert_eq!(tcp(&framed, true, false), Probe::Found(AppProto::Dns));
        assert_eq!(tcp(&framed[..20], true, false), Probe::NeedMore);
        let mut wrong_length = framed.clone();
        wrong_length[1] = 14;
        assert_eq!(tcp(&wrong_length, true, false), Probe::No);
    }

    #[test]
    fn random_bytes_are_nothing() {
        assert_eq!(
            tcp(b"\x01\x02hello world, not a protocol", true, false),
            Probe::No
        );
        assert_eq!(
            tcp(b"\x01\x02hello world, not a protocol", false, false),
            Probe::No
        );
    }

    #[test]
    fn udp_dns_and_not_dns() {
        let mut name = Vec::new();
        let query = super::super::dns::build::query(7, 0x0100, "a.example");
        assert!(probe_udp(&query, &mut name));
        assert_eq!(name, b"a.example");
        assert!(!probe_udp(b"hello there, random datagram", &mut name));
        assert!(!probe_udp(&[0u8; 40], &mut name));
    }
}
