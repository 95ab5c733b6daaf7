//! The `gateway` mix: traffic closer to what crosses a site's gateway than web sessions alone.
//!
//! Sessions of seven services, each started when its bytes so far are furthest below its
//! share in [`SHARES`] (most bytes encrypted, as on today's links):
//!
//! - **TLS** to port 443: a ClientHello with SNI, the server's ServerHello, Certificate (one
//!   that X.509 parsers accept, naming the SNI, with a random key) and ServerHelloDone, key exchange and
//!   ChangeCipherSpec both ways, then application data records of web-sized objects both ways.
//! - **QUIC-like** UDP 443: an Initial-looking long-header datagram each way, then short-header
//!   datagrams of random bytes, 1200-1350 bytes each, mostly towards the client.
//! - **Bulk** transfers of random data, 256 KiB to 3 MiB, mostly downloads: over TLS to port
//!   443 (a download over HTTPS), or raw to a high port (backups, file sync).
//! - **HTTP/1.1** to port 80: the web generator's sessions.
//! - **SMB2** to port 445: negotiate, a two-round NTLMSSP session setup, tree connect, create,
//!   64 KiB reads of a file of 64 KiB to 1 MiB, close, each with its response.
//! - **SSH** to port 22: version banners both ways, plaintext KEXINIT both ways, then
//!   encrypted-looking packets: key exchange, an interactive session, sometimes a file copy.
//! - **DNS** over UDP 53: A queries for the names the other sessions use, and their answers.
//!
//! The shares hold from a few tens of megabytes on; a smaller budget still holds every
//! service (the smallest shares start first) but its shares follow its few large sessions.
//!
//! Clients are hosts of 198.18.1.0/24 and servers of 198.18.2.0/24; one session in eight uses
//! IPv6 instead (2001:db8:1::/64 clients, 2001:db8:2::/64 servers, 1440-byte segments). Each
//! client host gets each source port once (for the first 64,000 sessions per host), so no two
//! sessions share a 5-tuple. Every TCP session is a whole conversation: handshake, data with
//! ACKs, FIN both ways.
//!
//! Not a model of any real network's mix or timing, and no protocol here is complete: the
//! encrypted parts are random bytes and the SMB2 and QUIC messages carry only their framing
//! and the fields a parser looks at first.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{
    closed, conversation, dns_exchange, object_size, random_bytes, send, web_session, Rng, MSS,
};
use crate::applayer::tls::build::{
    certificate_with_key, client_hello, handshake, name, record, server_flight, tlv, C, CN, O,
};
use crate::craft::{PacketBuilder, TcpConversation};

/// One kind of session of the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Service {
    Tls,
    Quic,
    Bulk,
    Http,
    Smb,
    Ssh,
    Dns,
}

/// Each service's share of the bytes, in percent (they add up to 100).
pub(super) const SHARES: [(Service, u64); 7] = [
    (Service::Tls, 38),
    (Service::Quic, 17),
    (Service::Bulk, 22),
    (Service::Http, 12),
    (Service::Smb, 6),
    (Service::Ssh, 3),
    (Service::Dns, 2),
];

/// TCP segment size over IPv6: 1500-byte packets, as with IPv4's [`MSS`].
const MSS_V6: usize = 1440;
/// Port numbers a session's client host has not used yet: enough for 64,000 sessions.
const CLIENT_PORTS: u64 = 64_000;

/// Server names the TLS sessions ask for and DNS resolves.
const NAMES: &[&str] = &[
    "www.example.com",
    "mail.example.org",
    "login.example.net",
    "cdn.example.com",
    "api.example.org",
    "updates.example.net",
    "video.example.com",
    "files.example.org",
];

/// Where a gateway mix is: sessions started and bytes produced per service.
pub(super) struct Gateway {
    hosts: u64,
    sessions: u64,
    /// Frame bytes produced, by index in [`SHARES`].
    produced: [u64; SHARES.len()],
}

impl Gateway {
    /// A mix whose clients are `flows` hosts (at most 254) of each address family.
    pub(super) fn new(flows: u32) -> Gateway {
        Gateway {
            hosts: u64::from(flows).clamp(1, 254),
            sessions: 0,
            produced: [0; SHARES.len()],
        }
    }

    /// The next session's frames.
    pub(super) fn session(&mut self, rng: &mut Rng) -> Vec<Vec<u8>> {
        let slot = self.next_service();
        let service = SHARES[slot].0;
        let ends = self.endpoints(rng, service);
        let frames = match service {
            Service::Tls => tls_session(rng, ends),
            Service::Quic => quic_session(rng, ends),
            Service::Bulk => bulk_session(rng, ends),
            Service::Http => web_session(rng, ends.client, ends.server, ends.mss),
            Service::Smb => smb_session(rng, ends),
            Service::Ssh => ssh_session(rng, ends),
            Service::Dns => {
                let name = rng.pick(NAMES);
                let answer = Ipv4Addr::new(198, 18, 2, 1 + rng.below(254) as u8);
                dns_exchange(rng, ends.client, ends.server, name, answer)
            }
        };
        self.produced[slot] += frames.iter().map(|f| f.len() as u64).sum::<u64>();
        frames
    }

    /// The service that produced the fewest bytes for its share so far (index in [`SHARES`]),
    /// as weighted fair queueing picks a queue: a small service (DNS) is not held back until
    /// its share of the total outgrows a large one's session. On a tie the smallest share goes
    /// first, so that a small budget still holds every service before the first bulk transfer
    /// takes most of it.
    fn next_service(&self) -> usize {
        (0..SHARES.len())
            .min_by_key(|&i| {
                (
                    u128::from(self.produced[i]) * 100 / u128::from(SHARES[i].1),
                    SHARES[i].1,
                )
            })
            .unwrap_or(0)
    }

    /// Client and server of the next session of `service`.
    fn endpoints(&mut self, rng: &mut Rng, service: Service) -> Ends {
        let session = self.sessions;
        self.sessions += 1;
        let host = 1 + session % self.hosts;
        // Multiplying by a number prime to CLIENT_PORTS is a bijection modulo it: ports look
        // random but a host never reuses one.
        let port = 1024 + ((session / self.hosts) * 40_503 % CLIENT_PORTS) as u16;
        let server_host = match service {
            Service::Dns => 53,
            _ => 1 + rng.below(254),
        };
        let server_port = match service {
            Service::Tls | Service::Quic => 443,
            Service::Bulk if rng.below(2) == 0 => 443,
            Service::Bulk => 10_000 + rng.below(50_000) as u16,
            Service::Http => 80,
            Service::Smb => 445,
            Service::Ssh => 22,
            Service::Dns => 53,
        };
        let (client, server, mss) = if rng.below(8) == 0 {
            let v6 = |net: u16, host: u64| {
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, net, 0, 0, 0, 0, host as u16))
            };
            (v6(1, host), v6(2, server_host), MSS_V6)
        } else {
            let v4 = |net: u8, host: u64| IpAddr::V4(Ipv4Addr::new(198, 18, net, host as u8));
            (v4(1, host), v4(2, server_host), MSS)
        };
        Ends {
            client: SocketAddr::new(client, port),
            server: SocketAddr::new(server, server_port),
            mss,
        }
    }
}

/// A session's two ends and its TCP segment size.
#[derive(Clone, Copy, Debug)]
struct Ends {
    client: SocketAddr,
    server: SocketAddr,
    mss: usize,
}

impl Ends {
    fn conversation(&self) -> TcpConversation {
        let mut conversation = conversation(self.client, self.server);
        conversation.handshake();
        conversation
    }
}

/// Random bytes, `min` plus up to `extra` more.
fn noise(rng: &mut Rng, min: usize, extra: u64) -> Vec<u8> {
    let len = min + rng.below(extra) as usize;
    random_bytes(rng, len)
}

/// TLS application data records carrying `len` bytes (16 KiB records, 17 bytes of TLS 1.3
/// overhead each).
fn application_data(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + len / 16_384 * 22 + 22);
    let mut left = len.max(1);
    while left > 0 {
        let n = left.min(16_384);
        out.extend_from_slice(&record(23, &random_bytes(rng, n + 17)));
        left -= n;
    }
    out
}

/// A certificate for `server_name` with a random 2048-bit RSA key and signature: the layout
/// of a real one, which X.509 parsers (Suricata's too) accept.
fn server_certificate(rng: &mut Rng, server_name: &str) -> Vec<u8> {
    const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 1];
    let issuer = name(&[
        (C, 0x13, "US"),
        (O, 0x13, "Example Trust"),
        (CN, 0x13, "Example TLS CA 1"),
    ]);
    let subject = name(&[(CN, 0x0c, server_name)]);
    // A positive 2048-bit modulus: a zero byte, then a byte with the top bit set.
    let mut modulus = vec![0, 0x80 | rng.next() as u8];
    modulus.extend_from_slice(&random_bytes(rng, 255));
    let key = tlv(0x30, &[tlv(0x02, &modulus), tlv(0x02, &[1, 0, 1])].concat());
    let algorithm = tlv(0x30, &[tlv(0x06, RSA_ENCRYPTION), tlv(0x05, &[])].concat());
    let public_key_info = tlv(
        0x30,
        &[algorithm, tlv(0x03, &[&[0][..], &key].concat())].concat(),
    );
    certificate_with_key(&issuer, &subject, &public_key_info, &random_bytes(rng, 256))
}

/// A TLS 1.2-style handshake as far as the first application data.
fn tls_handshake(rng: &mut Rng, conversation: &mut TcpConversation, mss: usize) {
    let name = rng.pick(NAMES);
    send(conversation, true, &client_hello(Some(name)), mss);
    send(
        conversation,
        false,
        &server_flight(&[&server_certificate(rng, name)]),
        mss,
    );
    // ClientKeyExchange, ChangeCipherSpec, then the encrypted Finished; the server's answer.
    let key_exchange = handshake(16, &[&[32][..], &random_bytes(rng, 32)].concat());
    let client_finish = [
        record(22, &key_exchange),
        record(20, &[1]),
        record(22, &random_bytes(rng, 40)),
    ]
    .concat();
    send(conversation, true, &client_finish, mss);
    let server_finish = [record(20, &[1]), record(22, &random_bytes(rng, 40))].concat();
    send(conversation, false, &server_finish, mss);
}

/// The encrypted close_notify, then FIN both ways.
fn tls_closed(rng: &mut Rng, mut conversation: TcpConversation, mss: usize) -> Vec<Vec<u8>> {
    send(
        &mut conversation,
        true,
        &record(21, &random_bytes(rng, 19)),
        mss,
    );
    closed(conversation)
}

fn tls_session(rng: &mut Rng, ends: Ends) -> Vec<Vec<u8>> {
    let mut conversation = ends.conversation();
    tls_handshake(rng, &mut conversation, ends.mss);
    for _ in 0..1 + rng.below(4) {
        let len = 80 + rng.below(1_200) as usize;
        let request = application_data(rng, len);
        send(&mut conversation, true, &request, ends.mss);
        let len = object_size(rng);
        let response = application_data(rng, len);
        send(&mut conversation, false, &response, ends.mss);
    }
    tls_closed(rng, conversation, ends.mss)
}

/// A long transfer one way (a download three times in four) after a short exchange.
fn bulk_session(rng: &mut Rng, ends: Ends) -> Vec<Vec<u8>> {
    let size = (256 << 10) + rng.below(11 << 18) as usize;
    let upload = rng.below(4) == 0;
    let mut conversation = ends.conversation();
    if ends.server.port() == 443 {
        tls_handshake(rng, &mut conversation, ends.mss);
        let len = 200 + rng.below(600) as usize;
        let request = application_data(rng, len);
        send(&mut conversation, true, &request, ends.mss);
        send(
            &mut conversation,
            upload,
            &application_data(rng, size),
            ends.mss,
        );
        return tls_closed(rng, conversation, ends.mss);
    }
    // A request and its short answer, whichever way the data then goes.
    let request = noise(rng, 32, 200);
    send(&mut conversation, true, &request, ends.mss);
    let answer = noise(rng, 16, 48);
    send(&mut conversation, false, &answer, ends.mss);
    send(
        &mut conversation,
        upload,
        &random_bytes(rng, size),
        ends.mss,
    );
    closed(conversation)
}

/// Datagrams of 1200-1350 bytes, mostly to the client: an Initial-looking long header each
/// way first (version 1, 8-byte connection ids), then short headers.
fn quic_session(rng: &mut Rng, ends: Ends) -> Vec<Vec<u8>> {
    let (client, server) = (ends.client.to_string(), ends.server.to_string());
    let (client_cid, server_cid) = (rng.next().to_be_bytes(), rng.next().to_be_bytes());
    let datagrams = 20 + rng.below(400);
    let mut frames = Vec::with_capacity(datagrams as usize);
    for i in 0..datagrams {
        let to_server = i == 0 || (i > 1 && rng.below(4) == 0);
        let size = 1200 + rng.below(151) as usize;
        let mut payload = Vec::with_capacity(size);
        if i < 2 {
            let (dcid, scid) = if to_server {
                (server_cid, client_cid)
            } else {
                (client_cid, server_cid)
            };
            payload.extend_from_slice(&[0xc3, 0, 0, 0, 1, 8]);
            payload.extend_from_slice(&dcid);
            payload.push(8);
            payload.extend_from_slice(&scid);
            // No token; the rest of the datagram as a 2-byte length.
            payload.push(0);
            payload.extend_from_slice(&(0x4000 | (size - payload.len() - 2) as u16).to_be_bytes());
        } else {
            payload.push(0x40 | (rng.next() & 0x3f) as u8);
            payload.extend_from_slice(if to_server { &server_cid } else { &client_cid });
        }
        let rest = size - payload.len();
        payload.extend_from_slice(&random_bytes(rng, rest));
        let (from, to) = if to_server {
            (&client, &server)
        } else {
            (&server, &client)
        };
        frames.push(
            PacketBuilder::udp(from, to)
                .payload(&payload)
                .link(super::SYNTH_LINK)
                .build(),
        );
    }
    frames
}

/// An SMB2 message behind its NBSS header.
struct Smb2 {
    command: u16,
    response: bool,
    status: u32,
    message_id: u64,
    tree_id: u32,
    session_id: u64,
}

impl Smb2 {
    fn message(&self, body: &[u8]) -> Vec<u8> {
        let len = 64 + body.len();
        let mut out = Vec::with_capacity(4 + len);
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.extend_from_slice(b"\xfeSMB");
        out.extend_from_slice(&64u16.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes()); // credit charge
        out.extend_from_slice(&self.status.to_le_bytes());
        out.extend_from_slice(&self.command.to_le_bytes());
        out.extend_from_slice(&(if self.response { 32u16 } else { 1 }).to_le_bytes());
        out.extend_from_slice(&u32::from(self.response).to_le_bytes()); // flags
        out.extend_from_slice(&0u32.to_le_bytes()); // next command
        out.extend_from_slice(&self.message_id.to_le_bytes());
        out.extend_from_slice(&0xfeffu32.to_le_bytes()); // process id
        out.extend_from_slice(&self.tree_id.to_le_bytes());
        out.extend_from_slice(&self.session_id.to_le_bytes());
        out.extend_from_slice(&[0; 16]); // signature
        out.extend_from_slice(body);
        out
    }
}

/// Little-endian fields, concatenated.
fn le(fields: &[&[u8]]) -> Vec<u8> {
    fields.concat()
}

fn utf16(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// An NTLMSSP message of `kind` (1 negotiate, 2 challenge, 3 authenticate) with a random body.
fn ntlmssp(rng: &mut Rng, kind: u32, len: usize) -> Vec<u8> {
    [
        &b"NTLMSSP\0"[..],
        &kind.to_le_bytes(),
        &random_bytes(rng, len),
    ]
    .concat()
}

fn smb_session(rng: &mut Rng, ends: Ends) -> Vec<Vec<u8>> {
    const NEGOTIATE: u16 = 0;
    const SESSION_SETUP: u16 = 1;
    const TREE_CONNECT: u16 = 3;
    const CREATE: u16 = 5;
    const CLOSE: u16 = 6;
    const READ: u16 = 8;
    const MORE_PROCESSING_REQUIRED: u32 = 0xc000_0016;
    const READ_SIZE: u64 = 64 << 10;

    let mut conversation = ends.conversation();
    let mut header = Smb2 {
        command: NEGOTIATE,
        response: false,
        status: 0,
        message_id: 0,
        tree_id: 0,
        session_id: 0,
    };
    let exchange = |conversation: &mut TcpConversation,
                    header: &mut Smb2,
                    command: u16,
                    request: &[u8],
                    status: u32,
                    response: &[u8]| {
        header.command = command;
        header.response = false;
        header.status = 0;
        send(conversation, true, &header.message(request), ends.mss);
        header.response = true;
        header.status = status;
        send(conversation, false, &header.message(response), ends.mss);
        header.message_id += 1;
    };

    let negotiate = le(&[
        &36u16.to_le_bytes(),
        &4u16.to_le_bytes(), // dialects
        &1u16.to_le_bytes(), // signing enabled
        &[0, 0],
        &0x7fu32.to_le_bytes(),
        &random_bytes(rng, 16), // client guid
        &[0; 8],
        &[0x02, 0x02, 0x10, 0x02, 0x00, 0x03, 0x02, 0x03],
    ]);
    let security_blob = [&[0x60, 0x48][..], &random_bytes(rng, 72)].concat();
    let negotiated = le(&[
        &65u16.to_le_bytes(),
        &1u16.to_le_bytes(),
        &0x0302u16.to_le_bytes(),
        &[0, 0],
        &random_bytes(rng, 16), // server guid
        &0x2fu32.to_le_bytes(),
        &(8u32 << 20).to_le_bytes(), // max transact, read, write
        &(8u32 << 20).to_le_bytes(),
        &(8u32 << 20).to_le_bytes(),
        &random_bytes(rng, 16), // system and boot time
        &0x80u16.to_le_bytes(),
        &(security_blob.len() as u16).to_le_bytes(),
        &[0; 4],
        &security_blob,
    ]);
    exchange(
        &mut conversation,
        &mut header,
        NEGOTIATE,
        &negotiate,
        0,
        &negotiated,
    );

    let setup = |blob: &[u8]| {
        le(&[
            &25u16.to_le_bytes(),
            &[0, 1],
            &1u32.to_le_bytes(),
            &0u32.to_le_bytes(),
            &0x58u16.to_le_bytes(),
            &(blob.len() as u16).to_le_bytes(),
            &0u64.to_le_bytes(),
            blob,
        ])
    };
    let setup_reply = |blob: &[u8]| {
        le(&[
            &9u16.to_le_bytes(),
            &0u16.to_le_bytes(),
            &0x48u16.to_le_bytes(),
            &(blob.len() as u16).to_le_bytes(),
            blob,
        ])
    };
    let (negotiate_blob, challenge) = (ntlmssp(rng, 1, 28), ntlmssp(rng, 2, 180));
    exchange(
        &mut conversation,
        &mut header,
        SESSION_SETUP,
        &setup(&negotiate_blob),
        MORE_PROCESSING_REQUIRED,
        &setup_reply(&challenge),
    );
    header.session_id = rng.next();
    let authenticate = ntlmssp(rng, 3, 340);
    exchange(
        &mut conversation,
        &mut header,
        SESSION_SETUP,
        &setup(&authenticate),
        0,
        &setup_reply(&[]),
    );

    let path = utf16(&format!("\\\\{}\\share", ends.server.ip()));
    let tree = le(&[
        &9u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &0x48u16.to_le_bytes(),
        &(path.len() as u16).to_le_bytes(),
        &path,
    ]);
    let tree_reply = le(&[
        &16u16.to_le_bytes(),
        &[1, 0],
        &[0; 4],
        &[0; 4],
        &0x1f01ffu32.to_le_bytes(),
    ]);
    header.tree_id = 1 + rng.below(0xffff) as u32;
    exchange(
        &mut conversation,
        &mut header,
        TREE_CONNECT,
        &tree,
        0,
        &tree_reply,
    );

    let file_size = (64 << 10) + rng.below(960 << 10);
    let name = utf16(&format!(
        "reports\\q{}-{:04}.xlsx",
        1 + rng.below(4),
        rng.below(10_000)
    ));
    let create = le(&[
        &57u16.to_le_bytes(),
        &[0, 0],
        &2u32.to_le_bytes(), // impersonation
        &[0; 16],
        &0x0012_019fu32.to_le_bytes(), // desired access
        &0u32.to_le_bytes(),
        &7u32.to_le_bytes(), // share access
        &1u32.to_le_bytes(), // open
        &0x40u32.to_le_bytes(),
        &0x78u16.to_le_bytes(),
        &(name.len() as u16).to_le_bytes(),
        &[0; 8],
        &name,
    ]);
    let file_id = random_bytes(rng, 16);
    let created = le(&[
        &89u16.to_le_bytes(),
        &[0, 0],
        &1u32.to_le_bytes(),    // opened
        &random_bytes(rng, 32), // times
        &file_size.next_multiple_of(4096).to_le_bytes(),
        &file_size.to_le_bytes(),
        &0x20u32.to_le_bytes(),
        &[0; 4],
        &file_id,
        &[0; 8],
    ]);
    exchange(&mut conversation, &mut header, CREATE, &create, 0, &created);

    let mut offset = 0;
    while offset < file_size {
        let len = READ_SIZE.min(file_size - offset);
        let read = le(&[
            &49u16.to_le_bytes(),
            &[0x50, 0],
            &(len as u32).to_le_bytes(),
            &offset.to_le_bytes(),
            &file_id,
            &[0; 16],
            &[0],
        ]);
        let data = le(&[
            &17u16.to_le_bytes(),
            &[0x50, 0],
            &(len as u32).to_le_bytes(),
            &[0; 8],
            &random_bytes(rng, len as usize),
        ]);
        exchange(&mut conversation, &mut header, READ, &read, 0, &data);
        offset += len;
    }
    let close = le(&[&24u16.to_le_bytes(), &[0; 6], &file_id]);
    let closed_reply = le(&[&60u16.to_le_bytes(), &[0; 58]]);
    exchange(
        &mut conversation,
        &mut header,
        CLOSE,
        &close,
        0,
        &closed_reply,
    );
    closed(conversation)
}

/// The version banner both OpenSSH ends of the mix send.
const SSH_BANNER: &[u8] = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";

/// A plaintext SSH_MSG_KEXINIT packet with OpenSSH 9.2's algorithm lists.
fn kexinit(rng: &mut Rng) -> Vec<u8> {
    const LISTS: [&str; 10] = [
        "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group16-sha512,ext-info-c",
        "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256",
        "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
        "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
        "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com",
        "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com",
        "none,zlib@openssh.com",
        "none,zlib@openssh.com",
        "",
        "",
    ];
    let mut payload = vec![20];
    payload.extend_from_slice(&random_bytes(rng, 16)); // cookie
    for list in LISTS {
        payload.extend_from_slice(&(list.len() as u32).to_be_bytes());
        payload.extend_from_slice(list.as_bytes());
    }
    payload.extend_from_slice(&[0, 0, 0, 0, 0]); // first_kex_packet_follows, reserved
                                                 // Padding: at least 4 bytes, the packet a multiple of 8.
    let padding = 4 + (8 - (5 + payload.len() + 4) % 8) % 8;
    let mut packet = ((1 + payload.len() + padding) as u32)
        .to_be_bytes()
        .to_vec();
    packet.push(padding as u8);
    packet.extend_from_slice(&payload);
    packet.extend_from_slice(&vec![0; padding]);
    packet
}

fn ssh_session(rng: &mut Rng, ends: Ends) -> Vec<Vec<u8>> {
    let mss = ends.mss;
    let mut conversation = ends.conversation();
    send(&mut conversation, false, SSH_BANNER, mss);
    send(&mut conversation, true, SSH_BANNER, mss);
    send(&mut conversation, true, &kexinit(rng), mss);
    send(&mut conversation, false, &kexinit(rng), mss);
    // Key exchange, host key and signature, NEWKEYS, then authentication: encrypted from here
    // on as far as an observer can tell.
    send(&mut conversation, true, &random_bytes(rng, 48), mss);
    send(&mut conversation, false, &noise(rng, 560, 600), mss);
    for _ in 0..2 + rng.below(3) {
        send(&mut conversation, true, &noise(rng, 64, 400), mss);
        send(&mut conversation, false, &noise(rng, 36, 100), mss);
    }
    // Keystrokes and what they print.
    for _ in 0..10 + rng.below(50) {
        send(&mut conversation, true, &noise(rng, 36, 64), mss);
        send(&mut conversation, false, &noise(rng, 36, 1_400), mss);
    }
    if rng.below(10) < 3 {
        let copy = (64 << 10) + rng.below(960 << 10) as usize;
        send(&mut conversation, false, &random_bytes(rng, copy), mss);
    }
    closed(conversation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_whole() {
        assert_eq!(SHARES.iter().map(|(_, share)| share).sum::<u64>(), 100);
    }

    #[test]
    fn the_service_furthest_below_its_share_comes_next() {
        let mut gateway = Gateway::new(10);
        let next = |gateway: &Gateway| SHARES[gateway.next_service()].0;
        assert_eq!(next(&gateway), Service::Dns, "the smallest share first");
        gateway.produced = [0, 0, 0, 0, 0, 0, 200];
        assert_eq!(next(&gateway), Service::Ssh, "then every other one");
        gateway.produced = [3800, 1700, 2200, 1200, 600, 300, 100];
        assert_eq!(next(&gateway), Service::Dns, "below its share");
        gateway.produced = [3800, 1700, 2200, 1200, 600, 200, 200];
        assert_eq!(next(&gateway), Service::Ssh, "below its share");
        gateway.produced = [3700, 1700, 2200, 1200, 600, 300, 200];
        assert_eq!(next(&gateway), Service::Tls, "below its share");
    }

    #[test]
    fn a_client_host_never_reuses_a_port() {
        let mut gateway = Gateway::new(3);
        let mut rng = Rng(1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3 * CLIENT_PORTS {
            let ends = gateway.endpoints(&mut rng, Service::Http);
            let host = match ends.client.ip() {
                IpAddr::V4(v4) => v4.octets()[3],
                IpAddr::V6(v6) => v6.octets()[15],
            };
            assert!((1..=3).contains(&host));
            assert!(ends.client.port() >= 1024);
            assert!(seen.insert((host, ends.client.port())), "{ends:?}");
        }
    }

    #[test]
    fn kexinit_is_a_whole_ssh_packet() {
        let packet = kexinit(&mut Rng(3));
        let length = u32::from_be_bytes(packet[..4].try_into().unwrap()) as usize;
        assert_eq!(length + 4, packet.len());
        assert_eq!(packet.len() % 8, 0);
        assert!(packet[4] >= 4, "padding");
        assert_eq!(packet[5], 20, "SSH_MSG_KEXINIT");
    }

    #[test]
    fn smb2_messages_carry_their_length_and_magic() {
        let header = Smb2 {
            command: 8,
            response: true,
            status: 0,
            message_id: 9,
            tree_id: 1,
            session_id: 2,
        };
        let message = header.message(&[7; 100]);
        assert_eq!(u32::from_be_bytes(message[..4].try_into().unwrap()), 164);
        assert_eq!(&message[4..8], b"\xfeSMB");
        assert_eq!(u16::from_le_bytes([message[16], message[17]]), 8);
        assert_eq!(message[20] & 1, 1, "server-to-client flag");
    }
}
