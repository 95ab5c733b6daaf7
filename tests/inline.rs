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

/// Kills the daemon with SIGKILL and waits for the kernel to unbind its queue.
fn kill_daemon(lab: &mut Lab, pid: u32) {
    let mut child = lab.take_child(pid);
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
}

/// A short request/response over a fresh connection: did it get through within `timeout`?
fn small_exchange_works(lab: &Lab, v6: bool, timeout: Duration) -> bool {
    let (port, server) = echo_server(lab, v6, 1, 5, b"pong".to_vec());
    let ok = match connect(lab, server_addr(v6, port), timeout) {
        Ok(mut stream) => {
            stream.set_read_timeout(Some(timeout)).expect("timeout");
            exchange(&mut stream, b"ping!", 4) == b"pong"
        }
        Err(_) => false,
    };
    if !ok {
        // Unblock the server thread's accept with a direct local connection.
        let addr = server_addr(v6, port);
        let _ = lab.in_ns(Node::Server, move || {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1))
                .map(|mut s| std::io::Write::write_all(&mut s, b"ping!"))
        });
    }
    let _ = server.join();
    ok
}

#[test]
fn fail_open_after_sigkill_traffic_flows() {
    let Some(mut lab) = Lab::new("fail_open_after_sigkill_traffic_flows") else {
        return;
    };
    lab.apply_firewall(&[]);
    let daemon = lab.spawn(lab.nfips(Node::Gateway, &["run", "--accept-all", "--queue", "0"]));
    lab.wait_for_queues(&[0], daemon);
    assert!(small_exchange_works(&lab, false, Duration::from_secs(5)));
    kill_daemon(&mut lab, daemon);
    assert!(
        small_exchange_works(&lab, false, Duration::from_secs(5)),
        "v4 blocked after SIGKILL"
    );
    assert!(
        small_exchange_works(&lab, true, Duration::from_secs(5)),
        "v6 blocked after SIGKILL"
    );
}

#[test]
fn fail_closed_after_sigkill_traffic_stops() {
    let Some(mut lab) = Lab::new("fail_closed_after_sigkill_traffic_stops") else {
        return;
    };
    lab.apply_firewall(&["--fail-closed"]);
    let daemon = lab.spawn(lab.nfips(Node::Gateway, &["run", "--accept-all", "--queue", "0"]));
    lab.wait_for_queues(&[0], daemon);
    assert!(small_exchange_works(&lab, false, Duration::from_secs(5)));
    kill_daemon(&mut lab, daemon);
    assert!(
        !small_exchange_works(&lab, false, Duration::from_secs(2)),
        "v4 passed with no reader"
    );
    assert!(
        !small_exchange_works(&lab, true, Duration::from_secs(2)),
        "v6 passed with no reader"
    );
}

#[test]
fn firewall_remove_deletes_exactly_what_apply_added() {
    let Some(lab) = Lab::new("firewall_remove_deletes_exactly_what_apply_added") else {
        return;
    };
    // Rules and user chains of both families, plus the nft tables; sorted, without counters.
    // (iptables-nft leaves its empty base tables behind, so base chains are not compared.)
    let snapshot = |lab: &Lab| {
        let mut lines = Vec::new();
        for program in ["iptables-save", "ip6tables-save"] {
            let out = lab.exec_ok(Node::Gateway, &[program]);
            lines.extend(
                out.lines()
                    .filter(|l| l.starts_with("-A") || l.starts_with(":NFIPS"))
                    .map(|l| format!("{program} {}", l.split(" [").next().unwrap_or(l))),
            );
        }
        let tables = lab.exec_ok(Node::Gateway, &["nft", "list", "tables"]);
        lines.extend(
            tables
                .lines()
                .filter(|l| l.contains("nfips"))
                .map(str::to_string),
        );
        lines.sort();
        lines.join("\n")
    };
    let before = snapshot(&lab);
    lab.apply_firewall(&["--queues", "0:1"]);
    let applied = snapshot(&lab);
    assert!(
        applied.contains("NFQUEUE --queue-balance 0:1 --queue-bypass"),
        "{applied}"
    );
    assert!(applied.contains("inet nfips"));
    lab.apply_firewall(&["--queues", "0:1"]);
    assert_eq!(snapshot(&lab), applied, "a second --apply adds nothing");
    for _ in 0..2 {
        let output = lab
            .nfips(Node::Gateway, &["firewall", "--remove"])
            .output()
            .expect("run");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(snapshot(&lab), before);
    }
}

#[test]
fn second_reader_of_a_queue_gets_one_clear_error() {
    let Some(mut lab) = Lab::new("second_reader_of_a_queue_gets_one_clear_error") else {
        return;
    };
    let daemon = lab.spawn(lab.nfips(Node::Gateway, &["run", "--accept-all", "--queue", "3"]));
    lab.wait_for_queues(&[3], daemon);
    let output = lab
        .nfips(Node::Gateway, &["run", "--accept-all", "--queue", "3"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot bind NFQUEUE 3: another process already reads this queue"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn reader_without_cap_net_admin_gets_one_clear_error() {
    let Some(lab) = Lab::new("reader_without_cap_net_admin_gets_one_clear_error") else {
        return;
    };
    let output = lab
        .command(Node::Gateway, "setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_nfips"))
        .args(["run", "--accept-all", "--queue", "4"])
        .output()
        .expect("run setpriv");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("permission denied; run as root or give the binary CAP_NET_ADMIN"),
        "{stderr}"
    );
}
