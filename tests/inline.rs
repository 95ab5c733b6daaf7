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

// ---------------------------------------------------------------------------------------------
// The inspecting daemon: `nfips run --rules ...` in the gateway.

const TEST_RULES: &str = r#"
drop tcp any any -> any any (msg:"test drop"; content:"EVIL-DROP"; sid:1001; rev:1;)
reject tcp any any -> any any (msg:"test reject"; content:"EVIL-REJECT"; sid:1002; rev:1;)
reject udp any any -> any any (msg:"test reject udp"; content:"EVIL-UDP"; sid:1003; rev:1;)
drop tcp any any -> any any (msg:"test sticky"; content:"EVIL-STICKY"; sticky-drop:3,src; sid:1004; rev:1;)
pass tcp any any -> any 4242 (msg:"test pass"; sid:1005; rev:1;)
"#;

/// A running `nfips run` in the gateway, with its rules file and EVE output in a temp dir.
struct InlineDaemon {
    pid: u32,
    dir: tempfile::TempDir,
    stderr: std::sync::mpsc::Receiver<String>,
    /// Every stderr line read so far.
    seen: std::sync::Mutex<Vec<String>>,
}

impl InlineDaemon {
    fn start(lab: &mut Lab, rules: &str, queues: &str, extra: &[&str]) -> InlineDaemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules_path = dir.path().join("test.rules");
        std::fs::write(&rules_path, rules).expect("write rules");
        let eve = dir.path().join("eve.json");
        let mut args = vec![
            "run".to_string(),
            "--rules".to_string(),
            rules_path.display().to_string(),
            "--queues".to_string(),
            queues.to_string(),
            "--eve".to_string(),
            eve.display().to_string(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (pid, stderr) = lab.spawn_with_stderr(lab.nfips(Node::Gateway, &argv));
        let daemon = InlineDaemon {
            pid,
            dir,
            stderr,
            seen: std::sync::Mutex::new(Vec::new()),
        };
        daemon.wait_for_line("nfips: inspecting with");
        daemon
    }

    /// Like [`InlineDaemon::start`], returning the stderr lines printed before it was ready.
    fn start_collecting(lab: &mut Lab, rules: &str, queues: &str) -> (InlineDaemon, Vec<String>) {
        let daemon = InlineDaemon::start(lab, rules, queues, &[]);
        let lines = daemon.seen.lock().expect("lines").clone();
        (daemon, lines)
    }

    fn rules_path(&self) -> std::path::PathBuf {
        self.dir.path().join("test.rules")
    }

    /// Waits (bounded) for a stderr line containing `text`.
    fn wait_for_line(&self, text: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    self.seen.lock().expect("lines").push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!("nfips never printed `{text}`"),
            }
        }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: plain system call on a child we started.
        let rc = unsafe { libc::kill(self.pid as i32, signal) };
        assert_eq!(rc, 0, "kill {}", self.pid);
    }

    /// SIGTERM, wait for a clean exit, and return the final EVE stats counters.
    fn stop(self, lab: &mut Lab) -> serde_json::Map<String, serde_json::Value> {
        self.stop_with_eve(lab).0
    }

    /// [`InlineDaemon::stop`], also returning the whole EVE file.
    fn stop_with_eve(self, lab: &mut Lab) -> (serde_json::Map<String, serde_json::Value>, String) {
        self.signal(libc::SIGTERM);
        let mut child = lab.take_child(self.pid);
        let status = child.wait().expect("wait");
        assert!(status.success(), "nfips run exited with {status}");
        let eve = std::fs::read_to_string(self.dir.path().join("eve.json")).expect("eve.json");
        let last_stats = eve
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .rfind(|v| v["event_type"] == "stats")
            .expect("a stats record at exit");
        (
            last_stats["stats"]["nfips"]
                .as_object()
                .expect("nfips counters")
                .clone(),
            eve,
        )
    }
}

fn counter(stats: &serde_json::Map<String, serde_json::Value>, name: &str) -> u64 {
    stats
        .get(name)
        .and_then(|v| v.as_u64())
        .unwrap_or_else(|| panic!("no counter {name}"))
}

/// A server that accepts one connection and returns everything it received before the
/// client closed, the connection failed, or `quiet` passed without data.
/// What a collecting server received, and the error that ended its read (None: clean close).
type Collected = (Vec<u8>, Option<std::io::ErrorKind>);

fn collecting_server(
    lab: &Lab,
    v6: bool,
    port: u16,
    quiet: Duration,
) -> (u16, std::thread::JoinHandle<Collected>) {
    let bind = server_addr(v6, port);
    let listener: std::net::TcpListener = lab.in_ns(Node::Server, move || {
        std::net::TcpListener::bind(bind).expect("bind")
    });
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        use std::io::Read;
        let (mut stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(quiet)).expect("timeout");
        let mut data = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => return (data, None),
                Ok(n) => data.extend_from_slice(&buffer[..n]),
                Err(e) => return (data, Some(e.kind())),
            }
        }
    });
    (port, handle)
}

fn write_slowly(stream: &mut std::net::TcpStream, parts: &[&[u8]]) {
    use std::io::Write;
    stream.set_nodelay(true).expect("nodelay");
    for part in parts {
        let _ = stream.write_all(part);
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn daemon_passes_benign_megabyte_both_ways_v4_and_v6() {
    let Some(mut lab) = Lab::new("daemon_passes_benign_megabyte_both_ways_v4_and_v6") else {
        return;
    };
    lab.apply_firewall(&["--fail-closed"]);
    let daemon = InlineDaemon::start(&mut lab, TEST_RULES, "0", &[]);
    assert_exchange_intact(&lab, false);
    assert_exchange_intact(&lab, true);
    let stats = daemon.stop(&mut lab);
    assert!(counter(&stats, "packets") > 20, "{stats:?}");
    // Benign traffic never matches a rule nor gets its flow blocked. (When the kernel drops
    // queued packets on a loaded machine, the stream may drop a few out-of-order segments past
    // its limits; TCP retransmits them, and the exchange above is still byte-exact.)
    assert_eq!(counter(&stats, "drop_rules"), 0, "{stats:?}");
    assert_eq!(counter(&stats, "drop_flow"), 0, "{stats:?}");
    assert_eq!(counter(&stats, "nfqueue.malformed"), 0);
}

#[test]
fn daemon_drops_attack_and_keeps_the_connection_blocked() {
    let Some(mut lab) = Lab::new("daemon_drops_attack_and_keeps_the_connection_blocked") else {
        return;
    };
    lab.apply_firewall(&["--fail-closed"]);
    let daemon = InlineDaemon::start(&mut lab, TEST_RULES, "0", &[]);
    for v6 in [false, true] {
        let (port, server) = collecting_server(&lab, v6, 0, Duration::from_secs(3));
        let mut stream =
            connect(&lab, server_addr(v6, port), Duration::from_secs(5)).expect("connect");
        write_slowly(
            &mut stream,
            &[b"GET /EVIL-DROP HTTP/1.0\r\n\r\n", b"a harmless follow-up"],
        );
        let (received, _) = server.join().expect("server");
        assert!(
            received.is_empty(),
            "v6={v6}: the server received {:?}",
            String::from_utf8_lossy(&received)
        );
    }
    let stats = daemon.stop(&mut lab);
    assert!(counter(&stats, "drop_rules") >= 2, "{stats:?}");
    assert!(
        counter(&stats, "drop_flow") >= 1,
        "later packets dropped by the flow verdict: {stats:?}"
    );
}

#[test]
fn daemon_reject_resets_both_ends_and_answers_udp_with_unreachable() {
    let Some(mut lab) = Lab::new("daemon_reject_resets_both_ends_and_answers_udp_with_unreachable")
    else {
        return;
    };
    lab.apply_firewall(&["--fail-closed"]);
    let daemon = InlineDaemon::start(&mut lab, TEST_RULES, "0", &[]);
    for v6 in [false, true] {
        let (port, server) = collecting_server(&lab, v6, 0, Duration::from_secs(5));
        let mut stream =
            connect(&lab, server_addr(v6, port), Duration::from_secs(5)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        write_slowly(&mut stream, &[b"hello ", b"EVIL-REJECT"]);
        let mut buffer = [0u8; 16];
        let client_error = std::io::Read::read(&mut stream, &mut buffer)
            .err()
            .map(|e| e.kind());
        assert_eq!(
            client_error,
            Some(std::io::ErrorKind::ConnectionReset),
            "v6={v6}: client side"
        );
        let (received, server_error) = server.join().expect("server");
        assert_eq!(received, b"hello ", "v6={v6}: only the benign part arrived");
        assert_eq!(
            server_error,
            Some(std::io::ErrorKind::ConnectionReset),
            "v6={v6}: server side"
        );
    }
    for v6 in [false, true] {
        let target = server_addr(v6, 5300);
        let socket = lab.in_ns(Node::Client, move || {
            let bind = if v6 { "[::]:0" } else { "0.0.0.0:0" };
            let socket = std::net::UdpSocket::bind(bind).expect("udp bind");
            socket.connect(target).expect("udp connect");
            socket
        });
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        socket.send(b"EVIL-UDP datagram").expect("send");
        let mut buffer = [0u8; 64];
        let error = socket.recv(&mut buffer).err().map(|e| e.kind());
        assert_eq!(
            error,
            Some(std::io::ErrorKind::ConnectionRefused),
            "v6={v6}: UDP unreachable"
        );
    }
    let stats = daemon.stop(&mut lab);
    assert_eq!(counter(&stats, "reject.tcp_resets_sent"), 4, "{stats:?}");
    assert_eq!(
        counter(&stats, "reject.icmp_unreachables_sent"),
        2,
        "{stats:?}"
    );
}

/// Stickydrop for 3 s: right after the trigger a new connection from the client fails; after
/// 3 s it succeeds. With the kernel set, the blocked packets never reach userspace.
fn stickydrop_scenario(test: &str, kernel_set: bool) {
    let Some(mut lab) = Lab::new(test) else {
        return;
    };
    lab.apply_firewall(&["--fail-closed"]);
    let setting = format!("stickydrop.kernel-set={kernel_set}");
    let daemon = InlineDaemon::start(&mut lab, TEST_RULES, "0", &["--set", &setting]);
    let (port, server) = collecting_server(&lab, false, 0, Duration::from_secs(2));
    let mut stream =
        connect(&lab, server_addr(false, port), Duration::from_secs(5)).expect("connect");
    write_slowly(&mut stream, &[b"EVIL-STICKY"]);
    let triggered = std::time::Instant::now();
    assert!(
        !small_exchange_works(&lab, false, Duration::from_secs(1)),
        "a new connection passed while blocked"
    );
    let listed = lab.exec_ok(
        Node::Gateway,
        &["nft", "list", "set", "inet", "nfips", "sticky4"],
    );
    assert_eq!(listed.contains("198.18.1.2"), kernel_set, "{listed}");
    std::thread::sleep(Duration::from_millis(4500).saturating_sub(triggered.elapsed()));
    assert!(
        small_exchange_works(&lab, false, Duration::from_secs(5)),
        "still blocked after 3 s"
    );
    let (received, _) = server.join().expect("server");
    assert!(received.is_empty());
    let stats = daemon.stop(&mut lab);
    assert_eq!(counter(&stats, "stickydrop.added"), 1, "{stats:?}");
    if kernel_set {
        assert_eq!(
            counter(&stats, "stickydrop.kernel_set_added"),
            1,
            "{stats:?}"
        );
        assert_eq!(
            counter(&stats, "drop_stickydrop"),
            0,
            "the kernel dropped them: {stats:?}"
        );
    } else {
        assert!(counter(&stats, "stickydrop.hits") >= 1, "{stats:?}");
        assert!(counter(&stats, "drop_stickydrop") >= 1, "{stats:?}");
    }
}

#[test]
fn daemon_stickydrop_blocks_the_source_for_three_seconds() {
    stickydrop_scenario(
        "daemon_stickydrop_blocks_the_source_for_three_seconds",
        false,
    );
}

#[test]
fn daemon_stickydrop_kernel_set_drops_before_the_queue() {
    stickydrop_scenario("daemon_stickydrop_kernel_set_drops_before_the_queue", true);
}

#[test]
fn daemon_reload_during_transfer_keeps_it_intact_and_applies_the_new_rule() {
    let Some(mut lab) =
        Lab::new("daemon_reload_during_transfer_keeps_it_intact_and_applies_the_new_rule")
    else {
        return;
    };
    lab.apply_firewall(&["--fail-closed"]);
    let daemon = InlineDaemon::start(&mut lab, TEST_RULES, "0", &[]);
    let size = 8 * MIB;
    let request = pattern(size, 7);
    let (port, server) = echo_server(&lab, false, 1, size, b"done".to_vec());
    let mut stream =
        connect(&lab, server_addr(false, port), Duration::from_secs(5)).expect("connect");
    let writer = {
        let mut stream = stream.try_clone().expect("clone");
        let request = request.clone();
        std::thread::spawn(move || {
            for chunk in request.chunks(64 * 1024) {
                std::io::Write::write_all(&mut stream, chunk).expect("write");
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let rules = format!("{TEST_RULES}\ndrop tcp any any -> any any (msg:\"new\"; content:\"EVIL-NEW\"; sid:1010; rev:1;)\n");
    std::fs::write(daemon.rules_path(), rules).expect("rewrite rules");
    daemon.signal(libc::SIGHUP);
    daemon.wait_for_line("nfips: reloaded");
    writer.join().expect("writer");
    let mut reply = [0u8; 4];
    std::io::Read::read_exact(&mut stream, &mut reply).expect("reply");
    assert_eq!(&reply, b"done");
    let received = server.join().expect("server");
    assert!(
        received[0] == request,
        "transfer damaged: {} of {size} bytes",
        received[0].len()
    );
    // The new rule is in force.
    let (port, server) = collecting_server(&lab, false, 0, Duration::from_secs(2));
    let mut stream =
        connect(&lab, server_addr(false, port), Duration::from_secs(5)).expect("connect");
    write_slowly(&mut stream, &[b"EVIL-NEW"]);
    assert!(
        server.join().expect("server").0.is_empty(),
        "the new rule did not drop"
    );
    let stats = daemon.stop(&mut lab);
    assert_eq!(counter(&stats, "reloads"), 1);
    assert_eq!(counter(&stats, "reload_failures"), 0);
}

#[test]
fn daemon_reload_with_a_broken_rule_file_keeps_the_old_rules() {
    let Some(mut lab) = Lab::new("daemon_reload_with_a_broken_rule_file_keeps_the_old_rules")
    else {
        return;
    };
    lab.apply_firewall(&["--fail-closed"]);
    let daemon = InlineDaemon::start(&mut lab, TEST_RULES, "0", &[]);
    std::fs::remove_file(daemon.rules_path()).expect("remove rules");
    daemon.signal(libc::SIGHUP);
    daemon.wait_for_line("reload failed, the previous rules stay in force");
    let (port, server) = collecting_server(&lab, false, 0, Duration::from_secs(2));
    let mut stream =
        connect(&lab, server_addr(false, port), Duration::from_secs(5)).expect("connect");
    write_slowly(&mut stream, &[b"EVIL-DROP"]);
    assert!(
        server.join().expect("server").0.is_empty(),
        "the old drop rule is gone"
    );
    let stats = daemon.stop(&mut lab);
    assert_eq!(counter(&stats, "reload_failures"), 1);
}

#[test]
fn daemon_two_queues_two_workers_all_verdicts_correct() {
    let Some(mut lab) = Lab::new("daemon_two_queues_two_workers_all_verdicts_correct") else {
        return;
    };
    // queue-balance hashes addresses only, with a seed drawn at boot: give the server 24
    // addresses so both queues get flows on any boot (8 left one queue empty, p = 1/128).
    let extra: Vec<String> = (10..34).map(|n| format!("198.18.2.{n}")).collect();
    for address in &extra {
        lab.exec_ok(
            Node::Server,
            &["ip", "addr", "add", &format!("{address}/24"), "dev", "eth0"],
        );
    }
    lab.apply_firewall(&["--fail-closed", "--queues", "0:1"]);
    let daemon = InlineDaemon::start(&mut lab, TEST_RULES, "0:1", &[]);
    let listener: std::net::TcpListener = lab.in_ns(Node::Server, || {
        std::net::TcpListener::bind("0.0.0.0:0").expect("bind")
    });
    let port = listener.local_addr().expect("addr").port();
    let connections = extra.len() * 2;
    let server = std::thread::spawn(move || {
        use std::io::Read;
        let mut received = Vec::new();
        listener.set_nonblocking(false).expect("blocking");
        for _ in 0..connections {
            let (mut stream, _) = listener.accept().expect("accept");
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .expect("timeout");
            let mut data = Vec::new();
            let _ = stream.read_to_end(&mut data);
            received.push(data);
        }
        received
    });
    let mut clients = Vec::new();
    for (index, address) in extra.iter().enumerate() {
        for attack in [false, true] {
            let target: std::net::SocketAddr = format!("{address}:{port}").parse().expect("addr");
            let mut stream = connect(&lab, target, Duration::from_secs(5)).expect("connect");
            clients.push(std::thread::spawn(move || {
                let body = if attack {
                    format!("EVIL-DROP {index}")
                } else {
                    format!("benign {index}")
                };
                write_slowly(&mut stream, &[body.as_bytes()]);
                let _ = stream.shutdown(std::net::Shutdown::Write);
                std::thread::sleep(Duration::from_millis(300));
            }));
        }
    }
    for client in clients {
        client.join().expect("client");
    }
    let received = server.join().expect("server");
    let delivered: Vec<String> = received
        .iter()
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .collect();
    assert_eq!(
        delivered.iter().filter(|d| d.starts_with("benign")).count(),
        extra.len(),
        "{delivered:?}"
    );
    assert!(
        !delivered.iter().any(|d| d.contains("EVIL")),
        "{delivered:?}"
    );
    let stats = daemon.stop(&mut lab);
    assert!(counter(&stats, "worker.0.packets") > 0, "{stats:?}");
    assert!(counter(&stats, "worker.1.packets") > 0, "{stats:?}");
}

/// Sends `request` to a server on `port` in one connection, asserts it arrived intact, and
/// returns the packets the kernel queued to nfips meanwhile.
fn upload_counting_queued(lab: &Lab, port: u16, request: &[u8]) -> u64 {
    let (port, server) = collecting_server(lab, false, port, Duration::from_secs(10));
    let before = queued_so_far(lab);
    let mut stream =
        connect(lab, server_addr(false, port), Duration::from_secs(5)).expect("connect");
    std::io::Write::write_all(&mut stream, request).expect("write");
    drop(stream);
    let (received, error) = server.join().expect("server");
    assert!(
        error.is_none() && received == request,
        "port {port}: transfer damaged ({} bytes)",
        received.len()
    );
    queued_so_far(lab) - before
}

/// Packets the kernel has handed to queue 0 so far in the gateway.
fn queued_so_far(lab: &Lab) -> u64 {
    let text = lab.exec_ok(
        Node::Gateway,
        &["cat", "/proc/net/netfilter/nfnetlink_queue"],
    );
    text.split_whitespace()
        .nth(7)
        .and_then(|f| f.parse().ok())
        .expect("queue 0 stats")
}

#[test]
fn daemon_bypassed_flow_stops_reaching_userspace_and_stays_intact() {
    let Some(mut lab) = Lab::new("daemon_bypassed_flow_stops_reaching_userspace_and_stays_intact")
    else {
        return;
    };
    lab.apply_firewall(&["--fail-closed"]);
    let daemon = InlineDaemon::start(&mut lab, TEST_RULES, "0", &[]);
    let size = 16 * MIB;
    let mut queued = Vec::new();
    for port in [4242u16, 4243] {
        queued.push(upload_counting_queued(&lab, port, &pattern(size, 9)));
    }
    let (bypassed, inspected) = (queued[0], queued[1]);
    eprintln!("queued packets: passed flow {bypassed}, inspected flow {inspected}");
    assert!(
        bypassed < 10,
        "the passed flow kept reaching nfips: {bypassed} packets"
    );
    assert!(
        inspected > 2 * bypassed + 20,
        "the control flow was not queued: {inspected} packets"
    );
    let stats = daemon.stop(&mut lab);
    assert!(counter(&stats, "bypass_marked") >= 1, "{stats:?}");
}

#[test]
fn print_config_shows_effective_settings() {
    let output = crate::util::nfips()
        .args([
            "run",
            "--print-config",
            "--set",
            "queue.maxlen=777",
            "--queues",
            "4:5",
        ])
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("\"queue.maxlen\" = \"777\""), "{text}");
    assert!(text.contains("\"stickydrop.max-entries\""), "{text}");
    assert!(text.contains("\"queue.queues\" = \"4"), "{text}");
}

#[test]
fn daemon_writes_periodic_stats_records() {
    let Some(mut lab) = Lab::new("daemon_writes_periodic_stats_records") else {
        return;
    };
    lab.apply_firewall(&[]);
    let daemon = InlineDaemon::start(
        &mut lab,
        TEST_RULES,
        "0",
        &["--set", "output.stats-interval=1"],
    );
    std::thread::sleep(Duration::from_millis(2500));
    let (stats, text) = daemon.stop_with_eve(&mut lab);
    assert!(
        stats.contains_key("kernel.queue.0.user_dropped"),
        "{stats:?}"
    );
    let records = text
        .lines()
        .filter(|l| l.contains("\"event_type\":\"stats\""))
        .count();
    assert!(
        records >= 3,
        "{records} stats records (2 periodic + 1 at exit expected)"
    );
}

#[test]
fn daemon_without_nfqueue_rule_warns_what_to_do() {
    let Some(mut lab) = Lab::new("daemon_without_nfqueue_rule_warns_what_to_do") else {
        return;
    };
    let (daemon, lines) = InlineDaemon::start_collecting(&mut lab, TEST_RULES, "0");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("no NFQUEUE rule is installed")
                && l.contains("nfips firewall --apply")),
        "{lines:?}"
    );
    daemon.stop(&mut lab);
}

#[test]
fn daemon_drops_content_split_over_three_segments_at_the_third() {
    let Some(mut lab) = Lab::new("daemon_drops_content_split_over_three_segments_at_the_third")
    else {
        return;
    };
    lab.apply_firewall(&["--fail-closed"]);
    let daemon = InlineDaemon::start(&mut lab, TEST_RULES, "0", &[]);
    let (port, server) = collecting_server(&lab, false, 0, Duration::from_secs(3));
    let mut stream =
        connect(&lab, server_addr(false, port), Duration::from_secs(5)).expect("connect");
    // write_slowly sets TCP_NODELAY and pauses between parts, so each part is one segment.
    write_slowly(&mut stream, &[b"GET /EVI", b"L-DR", b"OP HTTP/1.0\r\n\r\n"]);
    let (received, _) = server.join().expect("server");
    assert_eq!(
        received, b"GET /EVIL-DR",
        "the first two parts pass, the third is dropped"
    );
    let stats = daemon.stop(&mut lab);
    assert_eq!(counter(&stats, "drop_rules"), 1, "{stats:?}");
}

#[test]
fn daemon_inspects_at_once_and_switches_to_vectorscan_once_compiled() {
    if !nfips_rules::mpm::VECTORSCAN_BUILT {
        eprintln!("SKIPPED: nfips was built without the vectorscan feature: nothing to defer");
        return;
    }
    let Some(mut lab) =
        Lab::new("daemon_inspects_at_once_and_switches_to_vectorscan_once_compiled")
    else {
        return;
    };
    lab.apply_firewall(&["--fail-closed"]);
    // Enough fast patterns for `detect.mpm=auto` to choose Vectorscan, and an empty cache.
    let mut rules = TEST_RULES.to_string();
    for n in 0..60 {
        rules.push_str(&format!(
            "alert tcp any any -> any any (msg:\"filler {n}\"; content:\"filler-pattern-{n:02}\"; sid:{};)\n",
            5000 + n
        ));
    }
    let cache = tempfile::tempdir().expect("tempdir");
    let cache_setting = format!("detect.cache-dir={}", cache.path().display());
    let daemon = InlineDaemon::start(&mut lab, &rules, "0", &["--set", &cache_setting]);
    daemon.wait_for_line("in the background; the hash matcher stands in");
    daemon.wait_for_line("Vectorscan databases compiled in");
    assert!(
        std::fs::read_dir(cache.path()).expect("cache dir").count() > 0,
        "the background compile filled the cache"
    );
    let (port, server) = collecting_server(&lab, false, 0, Duration::from_secs(3));
    let mut stream =
        connect(&lab, server_addr(false, port), Duration::from_secs(5)).expect("connect");
    write_slowly(&mut stream, &[b"GET /ok", b" EVIL-DROP"]);
    let (received, _) = server.join().expect("server");
    assert_eq!(received, b"GET /ok", "the switched-to plan still drops");
    let stats = daemon.stop(&mut lab);
    assert_eq!(counter(&stats, "reloads"), 1, "{stats:?}");
}

#[test]
fn daemon_bypasses_a_flow_past_the_stream_depth() {
    let Some(mut lab) = Lab::new("daemon_bypasses_a_flow_past_the_stream_depth") else {
        return;
    };
    lab.apply_firewall(&["--fail-closed"]);
    let daemon = InlineDaemon::start(&mut lab, TEST_RULES, "0", &["--set", "stream.depth=65536"]);
    let size = 16 * MIB;
    let queued = upload_counting_queued(&lab, 4300, &pattern(size, 11));
    // 64 KiB of depth is at most a few dozen packets (GSO or not); 16 MiB would be hundreds.
    assert!(
        queued < 120,
        "the flow kept reaching nfips past the depth: {queued} packets"
    );
    let stats = daemon.stop(&mut lab);
    assert!(counter(&stats, "bypass_marked") >= 1, "{stats:?}");
}

#[test]
fn daemon_keeps_reading_through_enobufs() {
    let Some(mut lab) = Lab::new("daemon_keeps_reading_through_enobufs") else {
        return;
    };
    lab.apply_firewall(&[]);
    // A receive buffer far too small for the traffic: the kernel fails deliveries (ENOBUFS)
    // and, with fail-open, accepts those packets; nfips must keep reading.
    let daemon = InlineDaemon::start(&mut lab, TEST_RULES, "0", &["--set", "queue.rcvbuf=4096"]);
    // Overload: a 1 MiB exchange each way overruns the 4 KiB buffer. Most of its packets are
    // accepted by the kernel without reaching nfips, so nfips sees that flow with holes; how
    // far it gets is the stream's business (reassembly gaps), not the reader's.
    let (port, server) = echo_server(&lab, false, 1, MIB, pattern(MIB, 2));
    let mut bulk =
        connect(&lab, server_addr(false, port), Duration::from_secs(5)).expect("connect");
    let _ = exchange(&mut bulk, &pattern(MIB, 1), MIB);
    drop(bulk);
    let _ = server.join();
    // Let the bulk flow's last packets (FINs, retransmissions) drain from the tiny buffer, so
    // the probes below are not failed open by leftovers of the overload.
    std::thread::sleep(Duration::from_secs(1));
    // The reader kept reading: new connections still get their verdicts.
    let (port, server) = collecting_server(&lab, false, 0, Duration::from_secs(3));
    let mut attack =
        connect(&lab, server_addr(false, port), Duration::from_secs(5)).expect("connect");
    write_slowly(&mut attack, &[b"GET /EVIL-DROP HTTP/1.0\r\n\r\n"]);
    let (received, _) = server.join().expect("server");
    assert!(
        received.is_empty(),
        "the attack passed: {:?}",
        String::from_utf8_lossy(&received)
    );
    let (port, server) = echo_server(&lab, false, 1, 4096, pattern(4096, 4));
    let mut benign =
        connect(&lab, server_addr(false, port), Duration::from_secs(5)).expect("connect");
    assert_eq!(
        exchange(&mut benign, &pattern(4096, 3), 4096),
        pattern(4096, 4)
    );
    server.join().expect("server");
    let stats = daemon.stop(&mut lab);
    assert!(counter(&stats, "nfqueue.enobufs") > 0, "{stats:?}");
    assert!(counter(&stats, "drop_rules") >= 1, "{stats:?}");
}

#[test]
fn daemon_sigterm_during_transfer_exits_cleanly_and_traffic_fails_open() {
    let Some(mut lab) =
        Lab::new("daemon_sigterm_during_transfer_exits_cleanly_and_traffic_fails_open")
    else {
        return;
    };
    lab.apply_firewall(&[]);
    let daemon = InlineDaemon::start(&mut lab, TEST_RULES, "0", &[]);
    let size = 8 * MIB;
    let request = pattern(size, 13);
    let (port, server) = echo_server(&lab, false, 1, size, b"done".to_vec());
    let mut stream =
        connect(&lab, server_addr(false, port), Duration::from_secs(5)).expect("connect");
    let writer = {
        let mut stream = stream.try_clone().expect("clone");
        let request = request.clone();
        std::thread::spawn(move || {
            for chunk in request.chunks(64 * 1024) {
                std::io::Write::write_all(&mut stream, chunk).expect("write");
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(400));
    let stats = daemon.stop(&mut lab);
    assert!(counter(&stats, "packets") > 0, "{stats:?}");
    writer.join().expect("writer");
    let mut reply = [0u8; 4];
    std::io::Read::read_exact(&mut stream, &mut reply).expect("reply");
    assert_eq!(&reply, b"done");
    let received = server.join().expect("server");
    assert!(
        received[0] == request,
        "transfer damaged: {} of {size} bytes",
        received[0].len()
    );
}

#[test]
fn daemon_drops_an_encoded_uri_at_the_segment_that_ends_the_request_line() {
    let Some(mut lab) =
        Lab::new("daemon_drops_an_encoded_uri_at_the_segment_that_ends_the_request_line")
    else {
        return;
    };
    lab.apply_firewall(&["--fail-closed"]);
    let rules =
        r#"drop tcp any any -> any any (msg:"uri"; content:"/etc/passwd"; http_uri; sid:2001;)"#;
    let daemon = InlineDaemon::start(&mut lab, rules, "0", &[]);
    let (port, server) = collecting_server(&lab, false, 0, Duration::from_secs(3));
    let mut stream =
        connect(&lab, server_addr(false, port), Duration::from_secs(5)).expect("connect");
    // The raw bytes never hold "/etc/passwd" (%65 is 'e'); the normalised URI does once the
    // request line ends, in the second segment, which is dropped with the rest of the flow.
    write_slowly(
        &mut stream,
        &[b"GET /a/%65tc/pa", b"sswd HTTP/1.1\r\nHost: x\r\n", b"\r\n"],
    );
    let (received, _) = server.join().expect("server");
    assert_eq!(String::from_utf8_lossy(&received), "GET /a/%65tc/pa");
    let stats = daemon.stop(&mut lab);
    assert_eq!(counter(&stats, "drop_rules"), 1, "{stats:?}");
    assert_eq!(counter(&stats, "http.requests"), 1, "{stats:?}");
}
