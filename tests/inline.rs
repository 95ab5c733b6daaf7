//! End-to-end tests of the inline daemon in the namespace lab (see `netns`): real sockets
//! from client to server through a gateway that runs `nfips firewall` and `nfips run`.

use std::time::Duration;

use crate::netns::{connect, echo_server, exchange, pattern, server_addr, Lab, Node};

const MIB: usize = 1 << 20;

/// One 1 MiB exchange each way over IPv4 or IPv6; asserts both directions byte-exact.
fn assert_exchange_intact(lab: &Lab, v6: bool) {
    let request = pattern(MIB, 1);
    let reply = pattern(MIB, 2);
    let (port, server) = echo_server(lab, v6, 1, request.len(), reply.clone());
    let mut stream = connect(lab, server_addr(v6, port), Duration::from_secs(5)).expect("connect");
    let got = exchange(&mut stream, &request, reply.len());
    assert!(
        got == reply,
        "reply: {} of {} bytes, equal prefix: {}",
        got.len(),
        reply.len(),
        got == reply[..got.len()]
    );
    let received = server.join().expect("server");
    assert_eq!(received.len(), 1);
    assert!(
        received[0] == request,
        "request: {} of {} bytes",
        received[0].len(),
        request.len()
    );
}

#[test]
fn lab_forwards_without_nfqueue() {
    let Some(lab) = Lab::new("lab_forwards_without_nfqueue") else {
        return;
    };
    assert_exchange_intact(&lab, false);
    assert_exchange_intact(&lab, true);
}

#[test]
fn accept_all_reader_forwards_both_families() {
    let Some(mut lab) = Lab::new("accept_all_reader_forwards_both_families") else {
        return;
    };
    lab.apply_firewall(&["--fail-closed"]);
    let daemon = lab.spawn(lab.nfips(Node::Gateway, &["run", "--accept-all", "--queue", "0"]));
    lab.wait_for_queues(&[0], daemon);
    assert_exchange_intact(&lab, false);
    assert_exchange_intact(&lab, true);
    // With --fail-closed the traffic really went through the reader: its counters moved.
    let stats = lab.exec_ok(
        Node::Gateway,
        &["cat", "/proc/net/netfilter/nfnetlink_queue"],
    );
    let id_sequence: u64 = stats
        .split_whitespace()
        .nth(7)
        .and_then(|f| f.parse().ok())
        .expect("stats");
    assert!(
        id_sequence > 10,
        "queue 0 saw only {id_sequence} packets: {stats}"
    );
}
