//! The evasion suite: TCP segmentation, ordering, overlap, window, RST, checksum, SYN-data and
//! urgent-data tricks, and IP fragment tricks, each written as a pcap with `engine::craft`,
//! replayed through the real `nfips replay --eve` with one drop rule for the attack string, and
//! checked packet by packet: the verdict of EVERY packet (accept, or the EVE drop reason) is
//! asserted. Each TCP case runs over IPv4 and over IPv6.
//!
//! Action scope is the default (`flow`): once a rule drops a packet, the rest of its flow is
//! dropped ("flow drop").

use std::path::Path;

use nfips_engine::craft::{PacketBuilder, TcpConversation};
use nfips_engine::decode::tcp_flags::{ACK, PSH, RST, SYN, URG};
use nfips_engine::decode::LinkType;
use nfips_engine::source::pcap::{PcapWriter, Timestamp};
use serde_json::Value;

use crate::util::nfips;

/// The attack the rule looks for.
const ATTACK: &[u8] = b"GET /EVILPAYLOAD HTTP/1.0\r\n";
const RULES: &str =
    "drop tcp any any -> any any (msg:\"attack\"; content:\"EVILPAYLOAD\"; sid:1;)\n";

const V4: (&str, &str) = ("10.0.0.1:40000", "10.0.0.2:80");
const V6: (&str, &str) = ("[2001:db8::1]:40000", "[2001:db8::2]:80");

/// A verdict as EVE tells it: "accept" (no drop record) or the drop reason.
const ACCEPT: &str = "accept";
const RULE_DROP: &str = "rules";
const FLOW_DROP: &str = "flow drop";

/// Replay `packets` (raw IP) with `settings` and return each packet's verdict, in order.
fn verdicts(packets: &[Vec<u8>], settings: &[&str]) -> Vec<String> {
    verdicts_with_rules(RULES, packets, settings)
}

/// [`verdicts`] with other rules.
fn verdicts_with_rules(rule_text: &str, packets: &[Vec<u8>], settings: &[&str]) -> Vec<String> {
    verdicts_of(&replay_eve(packets, rule_text, settings), packets.len())
}

/// Replay `packets` (raw IP) with the rule text `rules` and `settings`: the EVE records.
fn replay_eve(packets: &[Vec<u8>], rules_text: &str, settings: &[&str]) -> Vec<Value> {
    replay_eve_and_log(packets, rules_text, settings).0
}

/// [`replay_eve`], and what nfips printed on stderr (its counters).
fn replay_eve_and_log(
    packets: &[Vec<u8>],
    rules_text: &str,
    settings: &[&str],
) -> (Vec<Value>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let pcap = dir.path().join("case.pcap");
    write_pcap(&pcap, packets);
    let rules = dir.path().join("case.rules");
    std::fs::write(&rules, rules_text).expect("write rules");
    let eve = dir.path().join("eve.json");
    let mut cmd = nfips();
    cmd.arg("replay")
        .arg("--rules")
        .arg(&rules)
        .arg("--eve")
        .arg(&eve);
    for setting in settings {
        cmd.args(["--set", setting]);
    }
    let out = cmd.arg(&pcap).output().expect("run nfips");
    assert!(
        out.status.success(),
        "nfips replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = std::fs::read_to_string(&eve)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("EVE line is JSON"))
        .collect();
    (records, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Each of `count` packets' verdict from the EVE drop records.
fn verdicts_of(records: &[Value], count: usize) -> Vec<String> {
    let mut result = vec![ACCEPT.to_string(); count];
    for record in records {
        if record["event_type"] != "drop" {
            continue;
        }
        let n = record["pcap_cnt"]
            .as_u64()
            .expect("drop record has pcap_cnt") as usize;
        let reason = record["drop"]["reason"].as_str().unwrap_or("?");
        assert_eq!(result[n - 1], ACCEPT, "two drop records for packet {n}");
        result[n - 1] = reason.to_string();
    }
    result
}

fn write_pcap(path: &Path, packets: &[Vec<u8>]) {
    let file = std::fs::File::create(path).expect("create pcap");
    let mut writer = PcapWriter::new(file, LinkType::RawIp).expect("pcap header");
    for (i, packet) in packets.iter().enumerate() {
        writer
            .write_packet(
                Timestamp::from_micros(1_700_000_000_000_000 + i as u64 * 1000),
                packet,
            )
            .expect("write packet");
    }
    writer.finish().expect("finish pcap");
}

fn assert_verdicts(packets: &[Vec<u8>], settings: &[&str], expected: &[&str]) {
    let got = verdicts(packets, settings);
    assert_eq!(
        got, expected,
        "verdict of every packet (1-based pcap order)"
    );
}

/// A conversation after its handshake (3 packets), with a data segment builder.
struct Case {
    conv: TcpConversation,
    /// Client sequence number of the first data byte.
    base: u32,
    packets: Vec<Vec<u8>>,
}

impl Case {
    fn new((client, server): (&str, &str)) -> Case {
        let mut conv = TcpConversation::new(client, server);
        conv.handshake();
        let base = conv.client_next_seq();
        let packets = conv.packets().iter().map(|(_, p)| p.clone()).collect();
        Case {
            conv,
            base,
            packets,
        }
    }

    /// A client data segment at `offset` bytes into the stream.
    fn data(&self, offset: usize, bytes: &[u8]) -> PacketBuilder {
        self.conv
            .from_client()
            .seq(self.base.wrapping_add(offset as u32))
            .flags(PSH | ACK)
            .payload(bytes)
    }

    fn push(&mut self, packet: PacketBuilder) -> &mut Self {
        self.packets.push(packet.build());
        self
    }

    /// Append an already framed packet (a fragment).
    fn push_raw(&mut self, packet: Vec<u8>) -> &mut Self {
        self.packets.push(packet);
        self
    }

    /// The server acknowledges everything up to `offset` of the client's stream.
    fn ack_to(&mut self, offset: usize) -> &mut Self {
        let ack = self
            .conv
            .from_server()
            .ack(self.base.wrapping_add(offset as u32));
        self.push(ack)
    }

    fn packets(&self) -> Vec<Vec<u8>> {
        self.packets.clone()
    }
}

/// Three accepted handshake packets, then `rest`.
fn after_handshake(rest: &[&'static str]) -> Vec<&'static str> {
    let mut v = vec![ACCEPT; 3];
    v.extend_from_slice(rest);
    v
}

fn split_in_three(addrs: (&str, &str)) {
    let mut conv = TcpConversation::new(addrs.0, addrs.1);
    // "GET /EVI" | "LPAYLO" | "AD HTTP/1.0\r\n" then the server's ACK.
    conv.handshake().client_sends(ATTACK, &[8, 6]);
    let packets: Vec<Vec<u8>> = conv.packets().iter().map(|(_, p)| p.clone()).collect();
    assert_verdicts(
        &packets,
        &[],
        &after_handshake(&[ACCEPT, ACCEPT, RULE_DROP, FLOW_DROP]),
    );
}

fn one_byte_segments(addrs: (&str, &str)) {
    let mut conv = TcpConversation::new(addrs.0, addrs.1);
    conv.handshake().client_sends(ATTACK, &[1; 64]);
    let packets: Vec<Vec<u8>> = conv.packets().iter().map(|(_, p)| p.clone()).collect();
    // The 16th byte ('D' of EVILPAYLOAD) completes the attack.
    let completing = ATTACK
        .windows(11)
        .position(|w| w == b"EVILPAYLOAD")
        .unwrap()
        + 11;
    let mut expected = vec![ACCEPT; 3 + completing - 1];
    expected.push(RULE_DROP);
    expected.resize(packets.len(), FLOW_DROP);
    assert_verdicts(&packets, &[], &expected);
}

fn reverse_order(addrs: (&str, &str)) {
    let mut case = Case::new(addrs);
    let (a, b, c) = (&ATTACK[..8], &ATTACK[8..14], &ATTACK[14..]);
    let (late, middle, first) = (case.data(14, c), case.data(8, b), case.data(0, a));
    case.push(late)
        .push(middle)
        .push(first)
        .ack_to(ATTACK.len());
    // The first segment fills the last hole: it is the one dropped.
    assert_verdicts(
        &case.packets(),
        &[],
        &after_handshake(&[ACCEPT, ACCEPT, RULE_DROP, FLOW_DROP]),
    );
}

fn overlap_benign_first_then_attack(addrs: (&str, &str)) {
    let mut case = Case::new(addrs);
    // "GET /EVI" then benign "LXAYLOAD" (GET /EVILXAYLOAD), then a partially overlapping
    // segment carrying "EVILPAYLOAD" from offset 5: it conflicts with inspected bytes.
    let first = case.data(0, &ATTACK[..8]);
    let benign = case.data(8, b"LXAYLOAD");
    let attack = case.data(5, &ATTACK[5..20]);
    case.push(first).push(benign).push(attack);
    // The attack segment itself holds the whole attack string: the packet match decides (the
    // stream would drop it for the conflict anyway).
    assert_verdicts(
        &case.packets(),
        &[],
        &after_handshake(&[ACCEPT, ACCEPT, RULE_DROP]),
    );
}

fn overlap_benign_first_then_attack_tail(addrs: (&str, &str)) {
    let mut case = Case::new(addrs);
    // The conflicting segment carries only the tail ("LPAYLOAD"), so only the stream can see
    // the attack in it: the stream's overlap policy drops it.
    let first = case.data(0, &ATTACK[..8]);
    let benign = case.data(8, b"LXAYLOAD");
    let attack = case.data(8, b"LPAYLOAD");
    case.push(first).push(benign).push(attack);
    assert_verdicts(
        &case.packets(),
        &[],
        &after_handshake(&[ACCEPT, ACCEPT, "stream reassembly"]),
    );
}

fn overlap_attack_first_then_benign(addrs: (&str, &str)) {
    let mut case = Case::new(addrs);
    let first = case.data(0, &ATTACK[..8]);
    let attack = case.data(8, b"LPAYLOAD");
    let benign = case.data(8, b"LXAYLOAD");
    case.push(first).push(attack).push(benign);
    assert_verdicts(
        &case.packets(),
        &[],
        &after_handshake(&[ACCEPT, RULE_DROP, FLOW_DROP]),
    );
}

fn retransmission_with_other_payload(addrs: (&str, &str)) {
    let mut case = Case::new(addrs);
    // The server acknowledges the benign bytes, then the "retransmission" brings the attack.
    let first = case.data(0, &ATTACK[..8]);
    let benign = case.data(8, b"LXAYLOAD");
    let retransmission = case.data(8, b"LPAYLOAD");
    case.push(first)
        .push(benign)
        .ack_to(16)
        .push(retransmission);
    // Already-acknowledged bytes with different content: the host keeps what it has; the
    // stream drops the copy (never a rule match: it is not inspected as stream data).
    assert_verdicts(
        &case.packets(),
        &[],
        &after_handshake(&[ACCEPT, ACCEPT, ACCEPT, "stream reassembly"]),
    );
}

fn out_of_window(addrs: (&str, &str)) {
    let mut conv = TcpConversation::new(addrs.0, addrs.1);
    // The server advertises a 10-byte window.
    let syn = conv.from_client().flags(SYN).ack(0).mss(1460);
    conv.push(&syn);
    let client_isn = conv.client_next_seq();
    let synack = conv
        .from_server()
        .flags(SYN | ACK)
        .ack(client_isn + 1)
        .window(10);
    conv.push(&synack);
    let base = client_isn + 1;
    let server_seq = conv.server_next_seq() + 1;
    let client = |seq: u32, payload: &[u8]| {
        conv.from_client()
            .seq(seq)
            .ack(server_seq)
            .flags(PSH | ACK)
            .payload(payload)
    };
    let (ack, first, beyond, again) = (
        conv.from_client().seq(base).ack(server_seq),
        client(base, &ATTACK[..8]),
        client(base + 8, b"LPAYLOAD"),
        client(base + 8, b"LPAYLOAD"),
    );
    let window_update = conv
        .from_server()
        .seq(server_seq)
        .ack(base + 8)
        .window(65535);
    conv.push(&ack)
        .push(&first)
        .push(&beyond)
        .push(&window_update)
        .push(&again);
    let packets: Vec<Vec<u8>> = conv.packets().iter().map(|(_, p)| p.clone()).collect();
    // Beyond the window: dropped by the stream, never inspected as stream data (else it would
    // be a rule drop). Sent again inside the window, it completes the attack.
    assert_verdicts(
        &packets,
        &[],
        &after_handshake(&[ACCEPT, "stream error", ACCEPT, RULE_DROP]),
    );
}

fn fake_gap_then_hole_filled_with_attack(addrs: (&str, &str)) {
    let mut case = Case::new(addrs);
    // "GET /EVI", then "LOAD HTTP/1.0\r\n" after a 4-byte hole, then an ACK claiming the
    // receiver got everything (the stream declares a gap and inspects the tail alone), then
    // the hole "LPAY" which would complete "EVILPAYLOAD" at the receiver: the stream drops it
    // as data inside an acknowledged gap, so the receiver never assembles the attack.
    let first = case.data(0, &ATTACK[..8]);
    let tail = case.data(12, &ATTACK[12..]);
    let hole = case.data(8, &ATTACK[8..12]);
    case.push(first).push(tail).ack_to(ATTACK.len()).push(hole);
    assert_verdicts(
        &case.packets(),
        &[],
        &after_handshake(&[ACCEPT, ACCEPT, ACCEPT, "stream reassembly"]),
    );
}

fn fake_rst_then_attack(addrs: (&str, &str)) {
    let mut case = Case::new(addrs);
    let first = case.data(0, &ATTACK[..8]);
    let rst = case
        .conv
        .from_client()
        .seq(case.base.wrapping_add(1_000_000))
        .flags(RST | ACK);
    let attack = case.data(8, b"LPAYLOAD");
    case.push(first).push(rst).push(attack);
    assert_verdicts(
        &case.packets(),
        &[],
        &after_handshake(&[ACCEPT, "stream error", RULE_DROP]),
    );
}

fn bad_checksum_attack_then_benign(addrs: (&str, &str)) {
    let mut case = Case::new(addrs);
    let first = case.data(0, &ATTACK[..8]);
    let attack = case.data(8, b"LPAYLOAD").corrupt_l4_checksum();
    let benign = case.data(8, b"LXAYLOAD");
    case.push(first).push(attack).push(benign);
    // The host discards the bad segment: it is accepted uninspected and never becomes stream
    // data, so the benign bytes at the same sequence pass (no overlap conflict).
    assert_verdicts(
        &case.packets(),
        &["checksum-validation=yes"],
        &after_handshake(&[ACCEPT, ACCEPT, ACCEPT]),
    );
}

fn data_on_syn(addrs: (&str, &str)) {
    // The SYN's data is not stream data (no TFO): "GET /EVI" on the SYN plus "LPAYLOAD" after
    // the handshake never forms the attack at the receiver.
    let mut conv = TcpConversation::new(addrs.0, addrs.1);
    let isn = conv.client_next_seq();
    let syn = conv.from_client().flags(SYN).ack(0).payload(&ATTACK[..8]);
    conv.push(&syn);
    let synack = conv.from_server().flags(SYN | ACK).ack(isn + 1);
    conv.push(&synack);
    let server_seq = conv.server_next_seq() + 1;
    let ack = conv.from_client().seq(isn + 1).ack(server_seq);
    let tail = conv
        .from_client()
        .seq(isn + 1)
        .ack(server_seq)
        .flags(PSH | ACK)
        .payload(b"LPAYLOAD");
    let whole = conv
        .from_client()
        .seq(isn + 9)
        .ack(server_seq)
        .flags(PSH | ACK)
        .payload(b"xx EVILPAYLOAD");
    conv.push(&ack).push(&tail).push(&whole);
    let packets: Vec<Vec<u8>> = conv.packets().iter().map(|(_, p)| p.clone()).collect();
    assert_verdicts(&packets, &[], &[ACCEPT, ACCEPT, ACCEPT, ACCEPT, RULE_DROP]);
}

fn data_on_syn_carrying_the_attack(addrs: (&str, &str)) {
    let mut conv = TcpConversation::new(addrs.0, addrs.1);
    let syn = conv.from_client().flags(SYN).ack(0).payload(ATTACK);
    conv.push(&syn);
    let packets: Vec<Vec<u8>> = conv.packets().iter().map(|(_, p)| p.clone()).collect();
    assert_verdicts(&packets, &[], &[RULE_DROP]);
}

fn urgent_data(addrs: (&str, &str)) {
    let mut case = Case::new(addrs);
    // "GET /EVI" + urgent 'x' + "LPAYLOAD": Linux takes the 'x' out of band, so the
    // application reads "GET /EVILPAYLOAD". The default urgent policy drops the segment.
    let segment = case
        .data(0, b"GET /EVIxLPAYLOAD")
        .flags(PSH | ACK | URG)
        .urgent_pointer(9);
    case.push(segment);
    assert_verdicts(&case.packets(), &[], &after_handshake(&["stream urgent"]));
}

fn overlapping_fragments(addrs: (&str, &str)) {
    let mut case = Case::new(addrs);
    let segment = case.data(0, ATTACK).ip_id(77);
    let l4 = segment.build_l4();
    let head = segment.fragment(0, true, &l4[..32]);
    let evil = segment.fragment(24, true, &[b'Z'; 16]);
    let tail = segment.fragment(32, false, &l4[32..]);
    case.push_raw(head).push_raw(evil).push_raw(tail);
    // The conflicting fragment is dropped; the datagram completed by the real tail carries the
    // attack and that last fragment is dropped by the rule.
    assert_verdicts(
        &case.packets(),
        &[],
        &after_handshake(&[ACCEPT, "defrag error", RULE_DROP]),
    );
}

fn tiny_fragments(addrs: (&str, &str)) {
    let mut case = Case::new(addrs);
    let segment = case.data(0, ATTACK).ip_id(78);
    // 8-byte fragments split the TCP header: the first three land inside it.
    let fragments = segment.fragments(&[8; 8]);
    let count = fragments.len();
    for fragment in fragments {
        case.push_raw(fragment);
    }
    let mut expected = after_handshake(&["defrag error"; 3]);
    expected.resize(3 + count, ACCEPT);
    // The datagram never completes (its head was dropped): the attack never reaches detection
    // or the host.
    assert_verdicts(&case.packets(), &[], &expected);
}

fn depth_reached_both_ways_bypasses_the_flow(addrs: (&str, &str)) {
    let mut conv = TcpConversation::new(addrs.0, addrs.1);
    // 16 bytes each way reach stream.depth=16 in both directions: the flow is bypassed (the
    // inline source marks it), so even a whole attack in one later packet is not inspected.
    conv.handshake()
        .client_sends(b"GET /index.html ", &[])
        .server_sends(b"HTTP/1.0 200 OK ", &[])
        .client_sends(ATTACK, &[]);
    let packets: Vec<Vec<u8>> = conv.packets().iter().map(|(_, p)| p.clone()).collect();
    assert_verdicts(
        &packets,
        &["stream.depth=16"],
        &after_handshake(&[ACCEPT; 6]),
    );
    // Without the depth limit the same packet is dropped.
    assert_verdicts(
        &packets,
        &[],
        &after_handshake(&[ACCEPT, ACCEPT, ACCEPT, ACCEPT, RULE_DROP, FLOW_DROP]),
    );
}

fn fin_after_one_direction_reached_depth_passes(addrs: (&str, &str)) {
    // An upload past stream.depth one way only: the stream stops tracking that direction, and
    // its FIN must still pass (a dropped FIN stalls the connection: the inline lab found it).
    let mut conv = TcpConversation::new(addrs.0, addrs.1);
    // 100,000 bytes (more than the 65,535-byte window the handshake advertised), acknowledged
    // at the end: the FIN lies beyond anything the stream still knows of that direction.
    conv.handshake()
        .client_sends(&[b'u'; 100_000], &[10_000; 10])
        .close();
    let packets: Vec<Vec<u8>> = conv.packets().iter().map(|(_, p)| p.clone()).collect();
    assert_verdicts(&packets, &["stream.depth=16"], &vec![ACCEPT; packets.len()]);
}

/// A rule whose fast pattern and relative remainder can arrive in different segments.
const SPLIT_RULE: &str = "drop tcp any any -> any any (msg:\"split\"; content:\"EVILPAYLOAD\"; fast_pattern; content:\"ROOTKIT\"; distance:0; within:40; sid:2;)\n";

/// Client segments (stream offset, bytes) pushed in order after the handshake, each followed
/// by nothing: the verdicts of the data packets.
fn split_rule_verdicts(
    addrs: (&str, &str),
    rules: &str,
    segments: &[(usize, &[u8])],
) -> Vec<String> {
    let mut case = Case::new(addrs);
    for &(offset, bytes) in segments {
        let packet = case.data(offset, bytes);
        case.push(packet);
    }
    verdicts_with_rules(rules, &case.packets(), &[])[3..].to_vec()
}

fn fast_pattern_in_first_segment_remainder_in_second(addrs: (&str, &str)) {
    // Segment 1 holds the fast pattern but not the rest: no match. Segment 2 completes the
    // rule only together with segment 1's bytes: it is the one dropped.
    let got = split_rule_verdicts(
        addrs,
        SPLIT_RULE,
        &[
            (0, b"GET /EVILPAYLOAD"),
            (16, b" ROOTKIT\r\n"),
            (26, b"more"),
        ],
    );
    assert_eq!(got, [ACCEPT, RULE_DROP, FLOW_DROP]);
}

fn dsize_rules_inspect_packets_not_the_reassembled_stream(addrs: (&str, &str)) {
    // `dsize` measures a packet, so (as in Snort and Suricata) a rule with it matches single
    // packets only: split over two segments it is not found; whole in one packet it is.
    let rule = SPLIT_RULE.replace("sid:2;", "dsize:>5; sid:2;");
    let split = [(0, &b"GET /EVILPAYLOAD"[..]), (16, b" ROOTKIT\r\n")];
    assert_eq!(split_rule_verdicts(addrs, &rule, &split), [ACCEPT, ACCEPT]);
    let whole = [(0, &b"GET /EVILPAYLOAD ROOTKIT\r\n"[..])];
    assert_eq!(split_rule_verdicts(addrs, &rule, &whole), [RULE_DROP]);
}

fn fast_pattern_then_filler_then_remainder(addrs: (&str, &str)) {
    // The rule stays pending over a view that does not complete it.
    let got = split_rule_verdicts(
        addrs,
        SPLIT_RULE,
        &[(0, b"EVILPAYLOAD"), (11, b"0123456789"), (21, b"ROOTKIT")],
    );
    assert_eq!(got, [ACCEPT, ACCEPT, RULE_DROP]);
}

fn pending_rule_whose_pattern_recurs_completes_with_the_older_occurrence(addrs: (&str, &str)) {
    // Segment 2 completes the rule only with segment 1's fast pattern, and holds a later
    // occurrence of its own (with no remainder after it). The view must still search the
    // older bytes for this rule: it is pending, so its pattern there may complete now.
    let got = split_rule_verdicts(
        addrs,
        SPLIT_RULE,
        &[
            (0, b"GET /EVILPAYLOAD"),
            (
                16,
                b" ROOTKIT ------------------------------------------------ EVILPAYLOAD",
            ),
        ],
    );
    assert_eq!(got, [ACCEPT, RULE_DROP]);
}

fn fast_pattern_near_the_end_of_the_window(addrs: (&str, &str)) {
    // The fast pattern is among the oldest bytes the third view still holds (the stream keeps
    // the rule's 51-byte span): the remainder 29 bytes later still completes the rule.
    let filler = [b'x'; 40];
    let gap = [b'y'; 29];
    let got = split_rule_verdicts(
        addrs,
        SPLIT_RULE,
        &[
            (0, &filler),
            (40, b"EVILPAYLOAD"),
            (51, &gap),
            (80, b"ROOTKIT"),
        ],
    );
    assert_eq!(got, [ACCEPT, ACCEPT, ACCEPT, RULE_DROP]);
    // 41 bytes later the remainder is out of `within` reach: nothing to drop.
    let gap = [b'y'; 41];
    let got = split_rule_verdicts(
        addrs,
        SPLIT_RULE,
        &[
            (0, &filler),
            (40, b"EVILPAYLOAD"),
            (51, &gap),
            (92, b"ROOTKIT"),
        ],
    );
    assert_eq!(got, [ACCEPT, ACCEPT, ACCEPT, ACCEPT]);
}

/// 40 rules `FASTPATnn ... TAILnn` (within 20 bytes), and a segment with all their fast
/// patterns.
fn forty_split_rules() -> (String, Vec<u8>) {
    let mut rules = String::new();
    let mut first = Vec::new();
    for n in 0..40 {
        rules.push_str(&format!(
            "drop tcp any any -> any any (msg:\"m{n}\"; content:\"FASTPAT{n:02}\"; fast_pattern; content:\"TAIL{n:02}\"; distance:0; within:20; sid:{};)\n",
            100 + n
        ));
        first.extend_from_slice(format!("FASTPAT{n:02}").as_bytes());
    }
    (rules, first)
}

fn many_pending_candidates_fall_back_to_full_scans(addrs: (&str, &str)) {
    // More rules wait for their remainder than a direction keeps pending: the overflow falls
    // back to scanning whole views, and the last rule's remainder is still found.
    let (rules, first) = forty_split_rules();
    let last = first.len();
    let got = split_rule_verdicts(addrs, &rules, &[(0, &first), (last, b" TAIL39")]);
    assert_eq!(got, [ACCEPT, RULE_DROP]);
}

fn candidates_out_of_the_next_views_reach_are_not_kept_pending(addrs: (&str, &str)) {
    // The 40 fast patterns lie far before the end of their segment: later views re-present
    // only the rules' 29-byte span, so none of them can complete there and they must not fill
    // the pending list (which would force whole-view scans). The one fast pattern repeated
    // near the end still completes with the next segment.
    let (rules, mut first) = forty_split_rules();
    first.extend_from_slice(&[b'x'; 300]);
    first.extend_from_slice(b"FASTPAT39");
    let mut case = Case::new(addrs);
    for (offset, bytes) in [(0, &first[..]), (first.len(), b" TAIL39")] {
        let packet = case.data(offset, bytes);
        case.push(packet);
    }
    let packets = case.packets();
    let (records, log) = replay_eve_and_log(&packets, &rules, &[]);
    assert_eq!(
        verdicts_of(&records, packets.len())[3..],
        [ACCEPT, RULE_DROP]
    );
    assert!(
        !log.contains("stream.view_full_scans="),
        "no view needed a whole scan: {log}"
    );
}

fn an_out_of_order_gso_sized_segment_waits_for_the_hole(addrs: (&str, &str)) {
    // A 20 KB segment (one GSO segment from NFQUEUE) arrives before the one it follows, as
    // after a loss upstream: it is queued and passed, so the receiver can ask for the missing
    // bytes at once, and the attack split across the two is found when the hole fills.
    let mut missing = vec![b'm'; 20_000];
    missing.extend_from_slice(b"EVILPAYLOAD");
    let mut later = b" ROOTKIT".to_vec();
    later.extend_from_slice(&[b'l'; 20_000]);
    let got = split_rule_verdicts(
        addrs,
        SPLIT_RULE,
        &[
            (0, b"GET / HTTP/1.0\r\n"),
            (16 + missing.len(), &later),
            (16, &missing),
        ],
    );
    assert_eq!(got, [ACCEPT, ACCEPT, RULE_DROP]);
}

fn evicted_pending_list_falls_back_to_a_full_scan(addrs: (&str, &str)) {
    // One pending slot for two sessions: the second session's pending rule evicts the first's,
    // whose next view is then scanned whole, and the remainder is still found in both.
    let other = if addrs.0.starts_with('[') {
        ("[2001:db8::3]:40001", "[2001:db8::2]:80")
    } else {
        ("10.0.0.3:40001", "10.0.0.2:80")
    };
    let (mut first, second) = (Case::new(addrs), Case::new(other));
    let mut packets = first.packets();
    packets.extend(second.packets());
    let steps = [
        first.data(0, b"GET /EVILPAYLOAD"),
        second.data(0, b"GET /EVILPAYLOAD"),
        first.data(16, b" ROOTKIT"),
        second.data(16, b" ROOTKIT"),
    ];
    for step in steps {
        first.push(step);
    }
    packets.extend(first.packets()[3..].iter().cloned());
    let got = verdicts_with_rules(SPLIT_RULE, &packets, &["stream.pending-slots=1"]);
    assert_eq!(got[6..], [ACCEPT, ACCEPT, RULE_DROP, RULE_DROP]);
}

macro_rules! both_families {
    ($($case:ident),* $(,)?) => {
        mod ipv4 {
            $( #[test] fn $case() { super::$case(super::V4); } )*
        }
        mod ipv6 {
            $( #[test] fn $case() { super::$case(super::V6); } )*
        }
    };
}

/// (pcap_cnt, sid) of every EVE alert record.
fn alerts_of(records: &[Value]) -> Vec<(u64, u64)> {
    records
        .iter()
        .filter(|r| r["event_type"] == "alert")
        .map(|r| {
            let n = r["pcap_cnt"].as_u64().expect("alert record has pcap_cnt");
            let sid = r["alert"]["signature_id"]
                .as_u64()
                .expect("alert has a sid");
            (n, sid)
        })
        .collect()
}

/// `first` then a conflicting copy of the same bytes ("LXAYLOAD" then "LPAYLOAD" at offset 8):
/// the 6th packet overlaps with different data.
fn overlap_with_different_data(addrs: (&str, &str)) -> Vec<Vec<u8>> {
    let mut case = Case::new(addrs);
    let first = case.data(0, &ATTACK[..8]);
    let benign = case.data(8, b"LXAYLOAD");
    let conflicting = case.data(8, b"LPAYLOAD");
    case.push(first).push(benign).push(conflicting);
    case.packets()
}

fn stream_event_overlap_rule(action: &str) -> String {
    format!(
        "{action} tcp any any -> any any (msg:\"overlap\"; \
         stream-event:reassembly_overlap_different_data; sid:1;)\n"
    )
}

fn stream_event_drop_rule_drops_the_overlapping_packet(addrs: (&str, &str)) {
    let packets = overlap_with_different_data(addrs);
    let records = replay_eve(&packets, &stream_event_overlap_rule("drop"), &[]);
    assert_eq!(
        alerts_of(&records),
        vec![(6, 1)],
        "the overlap alerts, nothing else"
    );
    assert_eq!(
        verdicts_of(&records, packets.len()),
        after_handshake(&[ACCEPT, ACCEPT, RULE_DROP]),
        "the rule, not the stream, drops the overlapping packet"
    );
}

fn stream_event_alert_rule_alerts_and_the_policy_decides(addrs: (&str, &str)) {
    let packets = overlap_with_different_data(addrs);
    let records = replay_eve(&packets, &stream_event_overlap_rule("alert"), &[]);
    assert_eq!(alerts_of(&records), vec![(6, 1)]);
    // Overlap policy `first` (default): the stream drops the conflicting copy.
    assert_eq!(
        verdicts_of(&records, packets.len()),
        after_handshake(&[ACCEPT, ACCEPT, "stream reassembly"])
    );
}

fn stream_event_rule_stays_quiet_without_the_event(addrs: (&str, &str)) {
    // The same bytes sent once: no overlap, no alert, nothing dropped.
    let mut case = Case::new(addrs);
    let first = case.data(0, &ATTACK[..8]);
    let benign = case.data(8, b"LXAYLOAD");
    case.push(first).push(benign);
    let packets = case.packets();
    let records = replay_eve(&packets, &stream_event_overlap_rule("drop"), &[]);
    assert_eq!(alerts_of(&records), vec![]);
    assert_eq!(
        verdicts_of(&records, packets.len()),
        vec![ACCEPT; packets.len()]
    );
}

fn gid129_preprocessor_rule_drops_the_overlapping_packet(addrs: (&str, &str)) {
    let packets = overlap_with_different_data(addrs);
    let rules = "drop ( msg:\"STREAM overlap\"; sid:100; gid:129; rev:1; )\n";
    let records = replay_eve(&packets, rules, &[]);
    assert_eq!(alerts_of(&records), vec![(6, 100)]);
    assert_eq!(
        verdicts_of(&records, packets.len()),
        after_handshake(&[ACCEPT, ACCEPT, RULE_DROP])
    );
}

both_families!(
    stream_event_drop_rule_drops_the_overlapping_packet,
    stream_event_alert_rule_alerts_and_the_policy_decides,
    stream_event_rule_stays_quiet_without_the_event,
    gid129_preprocessor_rule_drops_the_overlapping_packet,
    split_in_three,
    one_byte_segments,
    reverse_order,
    overlap_benign_first_then_attack,
    overlap_benign_first_then_attack_tail,
    overlap_attack_first_then_benign,
    retransmission_with_other_payload,
    out_of_window,
    fake_rst_then_attack,
    fake_gap_then_hole_filled_with_attack,
    bad_checksum_attack_then_benign,
    data_on_syn,
    data_on_syn_carrying_the_attack,
    urgent_data,
    overlapping_fragments,
    tiny_fragments,
    depth_reached_both_ways_bypasses_the_flow,
    fin_after_one_direction_reached_depth_passes,
    fast_pattern_in_first_segment_remainder_in_second,
    dsize_rules_inspect_packets_not_the_reassembled_stream,
    fast_pattern_then_filler_then_remainder,
    fast_pattern_near_the_end_of_the_window,
    pending_rule_whose_pattern_recurs_completes_with_the_older_occurrence,
    many_pending_candidates_fall_back_to_full_scans,
    candidates_out_of_the_next_views_reach_are_not_kept_pending,
    an_out_of_order_gso_sized_segment_waits_for_the_hole,
    evicted_pending_list_falls_back_to_a_full_scan,
);
