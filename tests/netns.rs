//! The network-namespace lab for the inline tests: client -- gateway -- server.
//!
//! Each [`Lab`] builds its own three namespaces with unique names (tests run in parallel),
//! two veth pairs, addresses from 198.18.0.0/15 and 2001:db8::/32 (DAD off), forwarding on
//! in the gateway, and deletes it all on drop (also when the test panics). Sockets are
//! created inside a namespace by a thread that has entered it ([`Lab::in_ns`]); they stay
//! in that namespace wherever they are used. Not here: any nfips-specific assertion.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::util;

/// The three namespaces of a lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Client,
    Gateway,
    Server,
}

pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 2);
pub const SERVER_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 2);
pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
pub const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2);

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

pub struct Lab {
    names: [String; 3],
    children: Vec<Child>,
}

fn run_checked(args: &[&str]) -> Result<(), String> {
    let output = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", args[0]))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Lab {
    /// Builds a lab, or `None` (loudly) when this machine cannot: not root, no `ip netns`.
    /// Under CI=true that is a test failure instead.
    pub fn new(test: &str) -> Option<Lab> {
        let serial = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let tag = format!("nfips{}x{}", std::process::id(), serial);
        let mut lab = Lab {
            names: [format!("{tag}c"), format!("{tag}g"), format!("{tag}s")],
            children: Vec::new(),
        };
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let built = if root {
            lab.build()
        } else {
            Err("not running as root".to_string())
        };
        match built {
            Ok(()) => Some(lab),
            Err(why) if util::in_ci() => {
                panic!("{test}: cannot build the namespace lab under CI: {why}")
            }
            Err(why) => {
                eprintln!("SKIPPED {test}: cannot build the namespace lab ({why}); run as root");
                None
            }
        }
    }

    fn build(&mut self) -> Result<(), String> {
        let [c, g, s] = self.names.clone();
        for name in [&c, &g, &s] {
            run_checked(&["ip", "netns", "add", name])?;
            run_checked(&["ip", "-n", name, "link", "set", "lo", "up"])?;
        }
        run_checked(&[
            "ip", "-n", &g, "link", "add", "gc", "type", "veth", "peer", "name", "eth0", "netns",
            &c,
        ])?;
        run_checked(&[
            "ip", "-n", &g, "link", "add", "gs", "type", "veth", "peer", "name", "eth0", "netns",
            &s,
        ])?;
        let plan: [(&str, &str, &str, &str); 4] = [
            (&c, "eth0", "198.18.1.2/24", "2001:db8:1::2/64"),
            (&g, "gc", "198.18.1.1/24", "2001:db8:1::1/64"),
            (&g, "gs", "198.18.2.1/24", "2001:db8:2::1/64"),
            (&s, "eth0", "198.18.2.2/24", "2001:db8:2::2/64"),
        ];
        for (ns, dev, v4, v6) in plan {
            run_checked(&["ip", "-n", ns, "addr", "add", v4, "dev", dev])?;
            run_checked(&["ip", "-n", ns, "addr", "add", v6, "dev", dev, "nodad"])?;
            run_checked(&["ip", "-n", ns, "link", "set", dev, "up"])?;
        }
        for (ns, v4, v6) in [
            (&c, "198.18.1.1", "2001:db8:1::1"),
            (&s, "198.18.2.1", "2001:db8:2::1"),
        ] {
            run_checked(&["ip", "-n", ns, "route", "add", "default", "via", v4])?;
            run_checked(&["ip", "-n", ns, "-6", "route", "add", "default", "via", v6])?;
        }
        run_checked(&[
            "ip",
            "netns",
            "exec",
            &g,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
        ])?;
        Ok(())
    }

    pub fn ns_name(&self, node: Node) -> &str {
        &self.names[node as usize]
    }

    /// A command that runs `program` inside `node`.
    pub fn command(&self, node: Node, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", self.ns_name(node), program]);
        command
    }

    /// Runs `args` in `node` and returns its output (not checked).
    pub fn exec(&self, node: Node, args: &[&str]) -> Output {
        self.command(node, args[0])
            .args(&args[1..])
            .output()
            .expect("run ip netns exec")
    }

    /// Runs `args` in `node` and panics with its stderr when it fails.
    pub fn exec_ok(&self, node: Node, args: &[&str]) -> String {
        let output = self.exec(node, args);
        assert!(
            output.status.success(),
            "`{}` in {node:?} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The `nfips` binary in `node` with `args`.
    pub fn nfips(&self, node: Node, args: &[&str]) -> Command {
        let mut command = self.command(node, env!("CARGO_BIN_EXE_nfips"));
        command.args(args);
        command
    }

    /// Starts `command` and kills it when the lab is dropped; returns its pid.
    pub fn spawn(&mut self, mut command: Command) -> u32 {
        let child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Starts `command` (killed when the lab is dropped) and forwards its stderr lines to the
    /// returned channel; returns its pid too.
    pub fn spawn_with_stderr(
        &mut self,
        mut command: Command,
    ) -> (u32, std::sync::mpsc::Receiver<String>) {
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().expect("stderr");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                eprintln!("[nfips] {line}");
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let pid = child.id();
        self.children.push(child);
        (pid, receiver)
    }

    /// Takes back a spawned child (to wait for it and read its output).
    pub fn take_child(&mut self, pid: u32) -> Child {
        let index = self
            .children
            .iter()
            .position(|c| c.id() == pid)
            .expect("known child");
        self.children.swap_remove(index)
    }

    /// Runs `f` on a thread that has entered `node`'s network namespace; sockets it makes
    /// stay in that namespace.
    pub fn in_ns<T: Send + 'static>(
        &self,
        node: Node,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let path = format!("/var/run/netns/{}", self.ns_name(node));
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open netns");
            // SAFETY: a valid namespace fd; affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("namespace thread")
    }

    /// Waits until the gateway's kernel shows `queues` bound to a reader.
    pub fn wait_for_queues(&self, queues: &[u16], pid: u32) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.exec(
                Node::Gateway,
                &["cat", "/proc/net/netfilter/nfnetlink_queue"],
            );
            let text = String::from_utf8_lossy(&text.stdout).into_owned();
            let bound: Vec<u16> = text
                .lines()
                .filter_map(|l| l.split_whitespace().next()?.parse().ok())
                .collect();
            if queues.iter().all(|q| bound.contains(q)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nfips (pid {pid}) did not bind queues {queues:?}: {text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Applies `nfips firewall --apply` in the gateway with extra `args`.
    pub fn apply_firewall(&self, args: &[&str]) {
        let mut full = vec!["firewall", "--apply"];
        full.extend_from_slice(args);
        let output = self
            .nfips(Node::Gateway, &full)
            .output()
            .expect("run nfips firewall");
        assert!(
            output.status.success(),
            "nfips firewall --apply: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

pub fn server_addr(v6: bool, port: u16) -> SocketAddr {
    let ip = if v6 {
        IpAddr::V6(SERVER_V6)
    } else {
        IpAddr::V4(SERVER_V4)
    };
    SocketAddr::new(ip, port)
}

/// A deterministic test payload of `len` bytes.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

/// A TCP server in `Node::Server` that, per connection, reads `expect_len` bytes and answers
/// with `reply`; returns the listener's port and a handle yielding what each accepted
/// connection received (in accept order).
pub fn echo_server(
    lab: &Lab,
    v6: bool,
    connections: usize,
    expect_len: usize,
    reply: Vec<u8>,
) -> (u16, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let bind = server_addr(v6, 0);
    let listener: TcpListener =
        lab.in_ns(Node::Server, move || TcpListener::bind(bind).expect("bind"));
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let mut received = Vec::new();
        for _ in 0..connections {
            let (mut stream, _) = match listener.accept() {
                Ok(pair) => pair,
                Err(_) => break,
            };
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .expect("timeout");
            let mut data = vec![0u8; expect_len];
            let mut got = 0;
            while got < expect_len {
                match stream.read(&mut data[got..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
            data.truncate(got);
            if got == expect_len {
                let _ = stream.write_all(&reply);
            }
            received.push(data);
        }
        received
    });
    (port, handle)
}

/// Connects from `Node::Client` with a bounded timeout.
pub fn connect(lab: &Lab, addr: SocketAddr, timeout: Duration) -> std::io::Result<TcpStream> {
    let stream = lab.in_ns(Node::Client, move || {
        TcpStream::connect_timeout(&addr, timeout)
    })?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.set_write_timeout(Some(Duration::from_secs(20)))?;
    Ok(stream)
}

/// Sends `request` and reads exactly `reply_len` bytes back (or what came before an error).
pub fn exchange(stream: &mut TcpStream, request: &[u8], reply_len: usize) -> Vec<u8> {
    let mut reply = vec![0u8; reply_len];
    let writer = {
        let mut clone = stream.try_clone().expect("clone");
        let request = request.to_vec();
        std::thread::spawn(move || clone.write_all(&request))
    };
    let mut got = 0;
    while got < reply_len {
        match stream.read(&mut reply[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    let _ = writer.join();
    reply.truncate(got);
    reply
}
