//! NFQUEUE: the kernel hands us forwarded packets over a `NETLINK_NETFILTER` socket and waits
//! for a verdict on each. This is our own small layer over `libc`.
//!
//! What it does: bind one queue number, ask for whole packets (copy range 0xffff) including
//! GSO super-packets of up to 64 KiB (`NFQA_CFG_F_GSO`, which is worth an order of magnitude in
//! throughput, see DESIGN.md), set the kernel queue length and fail-open, enlarge the receive
//! buffer with `SO_RCVBUFFORCE`, read many packets per system call (`recvmmsg`), parse them
//! without trusting the kernel (malformed messages are counted, never a panic), and answer with
//! verdicts, coalescing runs of consecutive ids that share a verdict into one
//! `NFQNL_MSG_VERDICT_BATCH`. `ENOBUFS` (the kernel could not deliver a packet message to us)
//! is counted and reading goes on. A [`StopHandle`] wakes a blocked reader so it can stop.
//!
//! What it is not: it knows nothing of decoding, rules or flows; the caller's closure decides
//! each verdict. It does not talk to conntrack (this kernel has no `NFQA_CT` glue): a connection
//! mark is set through the packet mark (`NFQA_MARK` with a mask) and copied by firewall rules.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

/// Largest packet the kernel hands us (`copy_range`), also the largest GSO super-packet.
pub const MAX_COPY_RANGE: u32 = 0xffff;
/// Room for the netlink, nfgenmsg and attribute headers around a packet of `MAX_COPY_RANGE`.
const MESSAGE_BUFFER_BYTES: usize = MAX_COPY_RANGE as usize + 4096;

const NLMSG_HDR_LEN: usize = 16;
const NFGENMSG_LEN: usize = 4;
const NLA_HDR_LEN: usize = 4;
const NLA_TYPE_MASK: u16 = 0x3fff;
const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
const NLMSG_NOOP: u16 = libc::NLMSG_NOOP as u16;

const fn nfq_msg_type(msg: libc::c_int) -> u16 {
    ((libc::NFNL_SUBSYS_QUEUE as u16) << 8) | msg as u16
}
const MSG_PACKET: u16 = nfq_msg_type(libc::NFQNL_MSG_PACKET);
const MSG_VERDICT: u16 = nfq_msg_type(libc::NFQNL_MSG_VERDICT);
const MSG_CONFIG: u16 = nfq_msg_type(libc::NFQNL_MSG_CONFIG);
const MSG_VERDICT_BATCH: u16 = nfq_msg_type(libc::NFQNL_MSG_VERDICT_BATCH);

/// How one queue is set up. Defaults match the documented settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// The NFQUEUE number (`--queue-num` / `--queue-balance` in the firewall rule).
    pub queue_num: u16,
    /// Kernel queue length (`nfqueue.max-len`, default 4096): packets waiting for a verdict.
    pub max_len: u32,
    /// `nfqueue.fail-open` (default true): when the kernel queue is full, accept instead of drop.
    pub fail_open: bool,
    /// Receive GSO super-packets whole (`nfqueue.gso`, default true).
    pub gso: bool,
    /// `nfqueue.rcvbuf-bytes` (default 64 MiB): the socket receive buffer, forced.
    pub rcvbuf_bytes: usize,
    /// `nfqueue.batch` (default 64): packet messages read per `recvmmsg`.
    pub batch: usize,
}

impl QueueConfig {
    pub fn new(queue_num: u16) -> Self {
        QueueConfig {
            queue_num,
            max_len: 4096,
            fail_open: true,
            gso: true,
            rcvbuf_bytes: 64 << 20,
            batch: 64,
        }
    }
}

/// Why a queue could not be opened, each with what to do about it.
#[derive(Debug)]
pub enum NfqError {
    /// The kernel refused the bind: no CAP_NET_ADMIN.
    Permission { queue_num: u16 },
    /// Another process already reads this queue.
    Busy { queue_num: u16 },
    /// nfnetlink_queue is not available (module not loaded, or not in this kernel).
    Unsupported(io::Error),
    /// Any other system-call failure, with the call that failed.
    Io {
        call: &'static str,
        error: io::Error,
    },
    /// The kernel answered a configuration request with an error we did not expect.
    Config { what: &'static str, errno: i32 },
}

impl fmt::Display for NfqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NfqError::Permission { queue_num } => write!(
                f,
                "cannot bind NFQUEUE {queue_num}: permission denied; run as root or give the \
                 binary CAP_NET_ADMIN and CAP_NET_RAW (setcap cap_net_admin,cap_net_raw+ep nfips)"
            ),
            NfqError::Busy { queue_num } => write!(
                f,
                "cannot bind NFQUEUE {queue_num}: another process already reads this queue; stop \
                 it (or the other nfips instance) or pick other queue numbers with --queues"
            ),
            NfqError::Unsupported(err) => write!(
                f,
                "cannot open a netfilter netlink socket ({err}); load the kernel module \
                 (modprobe nfnetlink_queue) or use a kernel with NETFILTER_NETLINK_QUEUE"
            ),
            NfqError::Io { call, error } => write!(f, "NFQUEUE: {call} failed: {error}"),
            NfqError::Config { what, errno } => write!(
                f,
                "NFQUEUE: the kernel refused {what}: {}",
                io::Error::from_raw_os_error(*errno)
            ),
        }
    }
}

impl std::error::Error for NfqError {}

/// What the caller decides for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerdictDecision {
    pub accept: bool,
    /// Bits to set in the packet mark: `(value, mask)`; other bits of the existing mark stay.
    pub mark: Option<(u32, u32)>,
}

impl VerdictDecision {
    pub const ACCEPT: VerdictDecision = VerdictDecision {
        accept: true,
        mark: None,
    };
    pub const DROP: VerdictDecision = VerdictDecision {
        accept: false,
        mark: None,
    };
}

/// One packet as the kernel handed it, borrowing the receive buffer.
#[derive(Clone, Copy, Debug)]
pub struct QueuedPacket<'a> {
    /// The kernel's id for the verdict.
    pub id: u32,
    /// Ethertype of the packet (0x0800 IPv4, 0x86dd IPv6), as the kernel gives it.
    pub hw_protocol: u16,
    /// Netfilter hook number (NF_INET_FORWARD = 2 ...).
    pub hook: u8,
    /// The packet mark, when non-zero.
    pub mark: Option<u32>,
    /// Input / output interface index, when known.
    pub indev: Option<u32>,
    pub outdev: Option<u32>,
    /// Length of the packet on the wire when the payload was cut short (`NFQA_CAP_LEN`).
    pub original_len: Option<u32>,
    /// Layer 3 onwards.
    pub payload: &'a [u8],
    /// `NFQA_SKB_CSUMNOTREADY`: the transport checksum is not computed yet (offload); the
    /// engine must treat it as unchecked, not as invalid.
    pub checksum_not_ready: bool,
    /// `NFQA_SKB_GSO`: this is a GSO super-packet, larger than the MTU.
    pub gso: bool,
}

impl QueuedPacket<'_> {
    /// The full mark the packet should carry after applying `decision.mark`.
    fn verdict_mark(&self, decision: VerdictDecision) -> Option<u32> {
        decision
            .mark
            .map(|(value, mask)| (self.mark.unwrap_or(0) & !mask) | (value & mask))
    }
}

/// Counters of one queue. Plain integers: one queue belongs to one thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueCounters {
    pub packets: u64,
    pub bytes: u64,
    pub accepted: u64,
    pub dropped: u64,
    /// Verdict messages sent (single or batch).
    pub verdict_messages: u64,
    /// Batch verdicts among them.
    pub verdict_batches: u64,
    /// `recvmmsg` calls that returned packets.
    pub receive_calls: u64,
    /// The kernel could not deliver messages to us (socket buffer full).
    pub enobufs: u64,
    /// Netlink messages we could not parse (bad length, missing packet header, ...).
    pub malformed: u64,
    /// Messages longer than our buffer (cut by MSG_TRUNC).
    pub truncated: u64,
    /// Error messages from the kernel in answer to verdicts (e.g. unknown id).
    pub kernel_errors: u64,
    /// Packets whose checksum the kernel had not yet computed.
    pub checksum_not_ready: u64,
    /// GSO super-packets.
    pub gso_packets: u64,
    /// Packets that arrived while the queue was being configured: accepted unseen.
    pub setup_accepted: u64,
}

impl QueueCounters {
    /// Adds `other` into `self` (totals over workers).
    pub fn add(&mut self, other: &QueueCounters) {
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.accepted += other.accepted;
        self.dropped += other.dropped;
        self.verdict_messages += other.verdict_messages;
        self.verdict_batches += other.verdict_batches;
        self.receive_calls += other.receive_calls;
        self.enobufs += other.enobufs;
        self.malformed += other.malformed;
        self.truncated += other.truncated;
        self.kernel_errors += other.kernel_errors;
        self.checksum_not_ready += other.checksum_not_ready;
        self.gso_packets += other.gso_packets;
        self.setup_accepted += other.setup_accepted;
    }
}

/// Wakes a reader blocked in [`NfQueue::process`] so it can return [`Batch::Stopped`].
#[derive(Clone, Debug)]
pub struct StopHandle {
    event: Arc<OwnedFd>,
    /// Read on the busy path without a system call; the eventfd wakes an idle reader.
    stopped: Arc<std::sync::atomic::AtomicBool>,
}

impl StopHandle {
    /// A new, unsignalled handle.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain system call; the returned fd is owned below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(StopHandle {
            event: Arc::new(unsafe { OwnedFd::from_raw_fd(fd) }),
            stopped: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
    }

    /// Asks every reader using this handle to stop. Safe to call from a signal-handling thread.
    pub fn stop(&self) {
        self.stopped
            .store(true, std::sync::atomic::Ordering::Release);
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
        unsafe { libc::write(self.event.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// True once [`StopHandle::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::Acquire)
    }

    fn raw_fd(&self) -> RawFd {
        self.event.as_raw_fd()
    }
}

/// What one call of [`NfQueue::process`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch {
    /// This many packets were read and answered.
    Packets(usize),
    /// Nothing arrived within the timeout.
    Idle,
    /// The stop handle was signalled; no packet is left without a verdict.
    Stopped,
}

/// A run of consecutive packet ids sharing one verdict and one mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct VerdictRun {
    first_id: u32,
    last_id: u32,
    accept: bool,
    mark: Option<u32>,
}

/// One bound NFQUEUE.
pub struct NfQueue {
    socket: OwnedFd,
    config: QueueConfig,
    stop: StopHandle,
    seq: u32,
    buffers: Vec<Vec<u8>>,
    lengths: Vec<usize>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
    runs: Vec<VerdictRun>,
    send_buffer: Vec<u8>,
    counters: QueueCounters,
}

// SAFETY: the raw pointers in `iovecs`/`headers` only ever point into `buffers`, which the
// queue owns and which move with it; they are rewritten before every use.
unsafe impl Send for NfQueue {}

impl fmt::Debug for NfQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NfQueue")
            .field("queue_num", &self.config.queue_num)
            .finish()
    }
}

impl NfQueue {
    /// Opens a netlink socket and binds `config.queue_num` with the configured options.
    pub fn open(config: QueueConfig, stop: StopHandle) -> Result<Self, NfqError> {
        // SAFETY: plain system call; the result is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_NETFILTER,
            )
        };
        if fd < 0 {
            return Err(NfqError::Unsupported(io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh descriptor we own.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        let batch = config.batch.clamp(1, 1024);
        let mut queue = NfQueue {
            socket,
            stop,
            seq: 0,
            buffers: (0..batch)
                .map(|_| vec![0u8; MESSAGE_BUFFER_BYTES])
                .collect(),
            lengths: vec![0; batch],
            // SAFETY: iovec and mmsghdr are plain data; zeroed values are filled per receive.
            iovecs: (0..batch).map(|_| unsafe { std::mem::zeroed() }).collect(),
            headers: (0..batch).map(|_| unsafe { std::mem::zeroed() }).collect(),
            runs: Vec::with_capacity(batch),
            send_buffer: Vec::with_capacity(batch * 64),
            counters: QueueCounters::default(),
            config,
        };
        queue.bind_socket()?;
        queue.set_receive_buffer();
        queue.configure()?;
        Ok(queue)
    }

    pub fn queue_num(&self) -> u16 {
        self.config.queue_num
    }

    pub fn counters(&self) -> &QueueCounters {
        &self.counters
    }

    fn bind_socket(&self) -> Result<(), NfqError> {
        // SAFETY: zeroed sockaddr_nl is a valid "any" address (kernel assigns the port id).
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: addr is a valid sockaddr_nl of the given size.
        let rc = unsafe {
            libc::bind(
                self.socket.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(NfqError::Io {
                call: "bind(netlink)",
                error: io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// `SO_RCVBUFFORCE` (needs CAP_NET_ADMIN), falling back to `SO_RCVBUF` (capped by
    /// net.core.rmem_max). The default ~208 KiB makes the kernel drop queued packets.
    fn set_receive_buffer(&self) {
        let size = self.config.rcvbuf_bytes.min(i32::MAX as usize / 2) as libc::c_int;
        for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
            // SAFETY: valid fd and a c_int option value.
            let rc = unsafe {
                libc::setsockopt(
                    self.socket.as_raw_fd(),
                    libc::SOL_SOCKET,
                    option,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc == 0 {
                return;
            }
        }
        tracing::warn!(
            queue = self.config.queue_num,
            "could not enlarge the NFQUEUE receive buffer"
        );
    }

    fn configure(&mut self) -> Result<(), NfqError> {
        let queue_num = self.config.queue_num;
        let mut flags = 0u32;
        if self.config.fail_open {
            flags |= libc::NFQA_CFG_F_FAIL_OPEN as u32;
        }
        if self.config.gso {
            flags |= libc::NFQA_CFG_F_GSO as u32;
        }
        let mask = (libc::NFQA_CFG_F_FAIL_OPEN | libc::NFQA_CFG_F_GSO) as u32;
        let steps: [(&'static str, Vec<u8>); 4] = [
            ("the queue bind", config_cmd(libc::NFQNL_CFG_CMD_BIND as u8)),
            ("copy mode PACKET", config_params(MAX_COPY_RANGE)),
            (
                "the queue length",
                be32_attr(libc::NFQA_CFG_QUEUE_MAXLEN as u16, self.config.max_len),
            ),
            ("the queue flags", flags_attrs(flags, mask)),
        ];
        if kernel_needs_pf_bind() {
            // Before Linux 3.8 a protocol family had to be (re)bound to nfnetlink_queue once;
            // later kernels ignore these commands. Errors here are not fatal.
            for pf in [libc::AF_INET as u16, libc::AF_INET6 as u16] {
                for command in [libc::NFQNL_CFG_CMD_PF_UNBIND, libc::NFQNL_CFG_CMD_PF_BIND] {
                    let mut attrs = vec![0u8; 8];
                    let pf_bytes = pf.to_be_bytes();
                    write_attr(
                        &mut attrs,
                        libc::NFQA_CFG_CMD as u16,
                        &[command as u8, 0, pf_bytes[0], pf_bytes[1]],
                    );
                    let _ = self.request(0, &attrs);
                }
            }
        }
        for (what, attrs) in steps {
            match self.request(queue_num, &attrs)? {
                0 => {}
                // The kernel answers EPERM both without CAP_NET_ADMIN and when another socket
                // holds the queue; the queue list tells them apart.
                errno if errno == libc::EPERM && queue_is_bound(queue_num) => {
                    return Err(NfqError::Busy { queue_num })
                }
                errno if errno == libc::EPERM => return Err(NfqError::Permission { queue_num }),
                errno if errno == libc::EBUSY => return Err(NfqError::Busy { queue_num }),
                errno => return Err(NfqError::Config { what, errno }),
            }
        }
        Ok(())
    }

    /// Sends one configuration request for `queue_num` and returns the kernel's errno (0: ok).
    fn request(&mut self, queue_num: u16, attrs: &[u8]) -> Result<i32, NfqError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut message = Vec::with_capacity(64);
        push_message(
            &mut message,
            MSG_CONFIG,
            (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16,
            seq,
            queue_num,
            attrs,
        );
        self.send(&message).map_err(|error| NfqError::Io {
            call: "send(config)",
            error,
        })?;
        self.wait_ack(seq)
    }

    /// Reads until the ack for `seq`; returns its errno (0 = success). Packets that arrive in
    /// the meantime are accepted unseen and counted (`setup_accepted`).
    fn wait_ack(&mut self, seq: u32) -> Result<i32, NfqError> {
        let mut buffer = vec![0u8; MESSAGE_BUFFER_BYTES];
        loop {
            // SAFETY: buffer is valid for its length.
            let n = unsafe {
                libc::recv(
                    self.socket.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                    0,
                )
            };
            if n < 0 {
                let error = io::Error::last_os_error();
                match error.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ENOBUFS) => {
                        self.counters.enobufs += 1;
                        continue;
                    }
                    _ => {
                        return Err(NfqError::Io {
                            call: "recv(config ack)",
                            error,
                        })
                    }
                }
            }
            let mut answer = None;
            let mut setup_packets = Vec::new();
            for message in NetlinkMessages::new(&buffer[..n as usize]) {
                match message {
                    Ok(msg) if msg.kind == NLMSG_ERROR && msg.seq == seq => {
                        answer = Some(parse_error_code(msg.body).unwrap_or(libc::EPROTO))
                    }
                    Ok(msg) if msg.kind == MSG_PACKET => {
                        if let Some(id) = parse_packet(msg.body).ok().map(|p| p.id) {
                            setup_packets.push(id);
                        }
                    }
                    Ok(_) => {}
                    Err(()) => self.counters.malformed += 1,
                }
            }
            for id in setup_packets {
                self.counters.setup_accepted += 1;
                self.runs.push(VerdictRun {
                    first_id: id,
                    last_id: id,
                    accept: true,
                    mark: None,
                });
            }
            if !self.runs.is_empty() {
                self.flush_runs();
            }
            if let Some(errno) = answer {
                return Ok(errno);
            }
        }
    }

    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        // SAFETY: zeroed sockaddr_nl addresses the kernel (port id 0).
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        loop {
            // SAFETY: bytes and kernel are valid for their lengths.
            let rc = unsafe {
                libc::sendto(
                    self.socket.as_raw_fd(),
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    0,
                    (&kernel as *const libc::sockaddr_nl).cast(),
                    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if rc >= 0 {
                return Ok(());
            }
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EINTR) {
                return Err(error);
            }
        }
    }

    /// Waits up to `timeout_ms` (negative: forever) for packets, hands each to `decide` in
    /// order, and sends the verdicts before returning. Every packet read gets a verdict.
    pub fn process<F>(&mut self, timeout_ms: i32, decide: F) -> io::Result<Batch>
    where
        F: FnMut(&QueuedPacket<'_>) -> VerdictDecision,
    {
        self.process_inner(timeout_ms, true, decide)
    }

    /// After a stop: answers the packets that are already readable, then returns how many.
    /// Bounded (about one kernel queue's worth) so a stop under load cannot last forever;
    /// packets still queued in the kernel when the socket closes are dropped by the kernel
    /// (TCP retransmits them), so call this right before dropping the queue.
    pub fn drain<F>(&mut self, mut decide: F) -> io::Result<usize>
    where
        F: FnMut(&QueuedPacket<'_>) -> VerdictDecision,
    {
        let rounds = self.config.max_len as usize / self.buffers.len().max(1) + 2;
        let mut total = 0;
        for _ in 0..rounds {
            match self.process_inner(0, false, &mut decide)? {
                Batch::Packets(n) => total += n,
                Batch::Idle | Batch::Stopped => break,
            }
        }
        Ok(total)
    }

    fn process_inner<F>(
        &mut self,
        timeout_ms: i32,
        check_stop: bool,
        mut decide: F,
    ) -> io::Result<Batch>
    where
        F: FnMut(&QueuedPacket<'_>) -> VerdictDecision,
    {
        if check_stop && self.stop.is_stopped() {
            return Ok(Batch::Stopped);
        }
        // Busy path: read first, and poll only when nothing is waiting (saves a system call
        // per batch under load).
        let mut received = self.receive_batch()?;
        if received == 0 {
            let mut fds = [
                libc::pollfd {
                    fd: self.socket.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.stop.raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: two valid pollfds.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
            if ready < 0 {
                let error = io::Error::last_os_error();
                return if error.raw_os_error() == Some(libc::EINTR) {
                    Ok(Batch::Idle)
                } else {
                    Err(error)
                };
            }
            if check_stop && fds[1].revents & libc::POLLIN != 0 {
                return Ok(Batch::Stopped);
            }
            // POLLERR: a pending socket error (ENOBUFS) is reported by the receive call.
            if fds[0].revents & (libc::POLLIN | libc::POLLERR) == 0 {
                return Ok(Batch::Idle);
            }
            received = self.receive_batch()?;
        }
        if received == 0 {
            return Ok(Batch::Idle);
        }
        self.counters.receive_calls += 1;
        let mut packets = 0;
        for index in 0..received {
            let length = self.lengths[index];
            let buffer = &self.buffers[index];
            for message in NetlinkMessages::new(&buffer[..length]) {
                let msg = match message {
                    Ok(msg) => msg,
                    Err(()) => {
                        self.counters.malformed += 1;
                        break;
                    }
                };
                match msg.kind {
                    MSG_PACKET => {}
                    NLMSG_ERROR => {
                        if parse_error_code(msg.body) != Some(0) {
                            self.counters.kernel_errors += 1;
                        }
                        continue;
                    }
                    NLMSG_DONE | NLMSG_NOOP => continue,
                    _ => {
                        self.counters.malformed += 1;
                        continue;
                    }
                }
                let packet = match parse_packet(msg.body) {
                    Ok(packet) => packet,
                    Err(()) => {
                        self.counters.malformed += 1;
                        continue;
                    }
                };
                packets += 1;
                self.counters.packets += 1;
                self.counters.bytes += packet.payload.len() as u64;
                self.counters.checksum_not_ready += u64::from(packet.checksum_not_ready);
                self.counters.gso_packets += u64::from(packet.gso);
                let decision = decide(&packet);
                if decision.accept {
                    self.counters.accepted += 1;
                } else {
                    self.counters.dropped += 1;
                }
                push_run(
                    &mut self.runs,
                    packet.id,
                    decision.accept,
                    packet.verdict_mark(decision),
                );
            }
        }
        self.flush_runs();
        Ok(if packets == 0 {
            Batch::Idle
        } else {
            Batch::Packets(packets)
        })
    }

    /// One `recvmmsg` (non-blocking) into the buffers; returns how many messages arrived.
    fn receive_batch(&mut self) -> io::Result<usize> {
        let count = self.buffers.len();
        // Refresh the pointers each call: cheap, and no allocation.
        for ((header, iovec), buffer) in self
            .headers
            .iter_mut()
            .zip(self.iovecs.iter_mut())
            .zip(self.buffers.iter_mut())
        {
            *iovec = libc::iovec {
                iov_base: buffer.as_mut_ptr().cast(),
                iov_len: buffer.len(),
            };
            // SAFETY: msghdr is plain data; zeroed is valid.
            header.msg_hdr = unsafe { std::mem::zeroed() };
            header.msg_hdr.msg_iov = iovec;
            header.msg_hdr.msg_iovlen = 1;
            header.msg_len = 0;
        }
        let headers = &mut self.headers;
        loop {
            // SAFETY: headers point at iovecs that point at our buffers, all alive here.
            let rc = unsafe {
                libc::recvmmsg(
                    self.socket.as_raw_fd(),
                    headers.as_mut_ptr(),
                    count as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if rc >= 0 {
                let received = rc as usize;
                for (index, header) in headers.iter().take(received).enumerate() {
                    if header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                        self.counters.truncated += 1;
                    }
                    self.lengths[index] = (header.msg_len as usize).min(self.buffers[index].len());
                }
                return Ok(received);
            }
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ENOBUFS) => {
                    // The kernel could not deliver some packet messages. It did not queue
                    // those packets: with fail-open it accepted them, otherwise it dropped
                    // them (user_dropped). Nothing waits for us, so reading simply goes on.
                    self.counters.enobufs += 1;
                    continue;
                }
                Some(libc::EAGAIN) => return Ok(0),
                _ => return Err(error),
            }
        }
    }

    /// Sends the collected verdict runs in one `sendto`, one message per run.
    fn flush_runs(&mut self) {
        self.send_buffer.clear();
        let queue_num = self.config.queue_num;
        for run in &self.runs {
            self.seq = self.seq.wrapping_add(1);
            let verdict = if run.accept {
                libc::NF_ACCEPT
            } else {
                libc::NF_DROP
            } as u32;
            let (kind, attr_type) = if run.first_id == run.last_id {
                (MSG_VERDICT, libc::NFQA_VERDICT_HDR as u16)
            } else {
                self.counters.verdict_batches += 1;
                (MSG_VERDICT_BATCH, libc::NFQA_VERDICT_HDR as u16)
            };
            let mut attrs = [0u8; 20];
            let mut len = write_attr(&mut attrs, attr_type, &verdict_hdr(verdict, run.last_id));
            if let Some(mark) = run.mark {
                len += write_attr(
                    &mut attrs[len..],
                    libc::NFQA_MARK as u16,
                    &mark.to_be_bytes(),
                );
            }
            push_message(
                &mut self.send_buffer,
                kind,
                libc::NLM_F_REQUEST as u16,
                self.seq,
                queue_num,
                &attrs[..len],
            );
            self.counters.verdict_messages += 1;
        }
        self.runs.clear();
        if self.send_buffer.is_empty() {
            return;
        }
        if let Err(error) = self.send(&self.send_buffer) {
            // Verdicts lost here leave packets queued; the next batch verdict covers them.
            self.counters.kernel_errors += 1;
            tracing::warn!(queue = queue_num, %error, "sending NFQUEUE verdicts failed");
        }
    }
}

/// Appends `id` to the runs, extending the last run when the verdict and mark are the same
/// and the id is the next one (a batch verdict covers every queued id up to its last id).
fn push_run(runs: &mut Vec<VerdictRun>, id: u32, accept: bool, mark: Option<u32>) {
    if let Some(last) = runs.last_mut() {
        if last.accept == accept && last.mark == mark && last.last_id.wrapping_add(1) == id {
            last.last_id = id;
            return;
        }
    }
    runs.push(VerdictRun {
        first_id: id,
        last_id: id,
        accept,
        mark,
    });
}

fn verdict_hdr(verdict: u32, id: u32) -> [u8; 8] {
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&verdict.to_be_bytes());
    bytes[4..].copy_from_slice(&id.to_be_bytes());
    bytes
}

fn config_cmd(command: u8) -> Vec<u8> {
    // struct nfqnl_msg_config_cmd { u8 command; u8 pad; be16 pf; }
    let mut attrs = vec![0u8; 8];
    let len = write_attr(&mut attrs, libc::NFQA_CFG_CMD as u16, &[command, 0, 0, 0]);
    attrs.truncate(len);
    attrs
}

fn config_params(copy_range: u32) -> Vec<u8> {
    // struct nfqnl_msg_config_params { be32 copy_range; u8 copy_mode; } (packed, 5 bytes)
    let mut body = [0u8; 5];
    body[..4].copy_from_slice(&copy_range.to_be_bytes());
    body[4] = libc::NFQNL_COPY_PACKET as u8;
    let mut attrs = vec![0u8; 12];
    let len = write_attr(&mut attrs, libc::NFQA_CFG_PARAMS as u16, &body);
    attrs.truncate(len);
    attrs
}

fn be32_attr(kind: u16, value: u32) -> Vec<u8> {
    let mut attrs = vec![0u8; 8];
    write_attr(&mut attrs, kind, &value.to_be_bytes());
    attrs
}

fn flags_attrs(flags: u32, mask: u32) -> Vec<u8> {
    let mut attrs = be32_attr(libc::NFQA_CFG_FLAGS as u16, flags);
    attrs.extend_from_slice(&be32_attr(libc::NFQA_CFG_MASK as u16, mask));
    attrs
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Writes one attribute (header, value, zero padding) and returns the bytes used.
fn write_attr(out: &mut [u8], kind: u16, value: &[u8]) -> usize {
    let len = NLA_HDR_LEN + value.len();
    out[..2].copy_from_slice(&(len as u16).to_ne_bytes());
    out[2..4].copy_from_slice(&kind.to_ne_bytes());
    out[4..len].copy_from_slice(value);
    let padded = align4(len);
    out[len..padded].fill(0);
    padded
}

/// Appends one netlink message with an nfgenmsg header for `queue_num` and `attrs`.
fn push_message(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, queue_num: u16, attrs: &[u8]) {
    let len = NLMSG_HDR_LEN + NFGENMSG_LEN + attrs.len();
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.push(libc::AF_UNSPEC as u8);
    out.push(libc::NFNETLINK_V0 as u8);
    out.extend_from_slice(&queue_num.to_be_bytes());
    out.extend_from_slice(attrs);
    out.resize(out.len() + (align4(len) - len), 0);
}

/// One netlink message: its type, sequence number and body (after the 16-byte header).
#[derive(Clone, Copy, Debug)]
struct NetlinkMessage<'a> {
    kind: u16,
    seq: u32,
    body: &'a [u8],
}

/// Iterates the netlink messages in one datagram; yields `Err(())` once on a bad length.
struct NetlinkMessages<'a> {
    rest: &'a [u8],
}

impl<'a> NetlinkMessages<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        NetlinkMessages { rest: bytes }
    }
}

impl<'a> Iterator for NetlinkMessages<'a> {
    type Item = Result<NetlinkMessage<'a>, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let fail = |this: &mut Self| {
            this.rest = &[];
            Some(Err(()))
        };
        if self.rest.len() < NLMSG_HDR_LEN {
            return fail(self);
        }
        let len =
            u32::from_ne_bytes([self.rest[0], self.rest[1], self.rest[2], self.rest[3]]) as usize;
        if len < NLMSG_HDR_LEN || len > self.rest.len() {
            return fail(self);
        }
        let kind = u16::from_ne_bytes([self.rest[4], self.rest[5]]);
        let seq = u32::from_ne_bytes([self.rest[8], self.rest[9], self.rest[10], self.rest[11]]);
        let body = &self.rest[NLMSG_HDR_LEN..len];
        self.rest = self.rest.get(align4(len)..).unwrap_or(&[]);
        Some(Ok(NetlinkMessage { kind, seq, body }))
    }
}

/// The errno in an NLMSG_ERROR body (0 = ack), positive.
fn parse_error_code(body: &[u8]) -> Option<i32> {
    let bytes: [u8; 4] = body.get(..4)?.try_into().ok()?;
    Some(-i32::from_ne_bytes(bytes))
}

/// Iterates the attributes of a message body; stops at the first malformed one.
fn attributes(mut rest: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), ()>> {
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if rest.len() < NLA_HDR_LEN {
            rest = &[];
            return Some(Err(()));
        }
        let len = u16::from_ne_bytes([rest[0], rest[1]]) as usize;
        let kind = u16::from_ne_bytes([rest[2], rest[3]]) & NLA_TYPE_MASK;
        if len < NLA_HDR_LEN || len > rest.len() {
            rest = &[];
            return Some(Err(()));
        }
        let value = &rest[NLA_HDR_LEN..len];
        rest = rest.get(align4(len)..).unwrap_or(&[]);
        Some(Ok((kind, value)))
    })
}

fn be32(value: &[u8]) -> Result<u32, ()> {
    let bytes: [u8; 4] = value.get(..4).ok_or(())?.try_into().map_err(|_| ())?;
    Ok(u32::from_be_bytes(bytes))
}

/// Parses the body of an NFQNL_MSG_PACKET (nfgenmsg + attributes).
fn parse_packet(body: &[u8]) -> Result<QueuedPacket<'_>, ()> {
    let attrs = body.get(NFGENMSG_LEN..).ok_or(())?;
    let mut header = None;
    let mut packet = QueuedPacket {
        id: 0,
        hw_protocol: 0,
        hook: 0,
        mark: None,
        indev: None,
        outdev: None,
        original_len: None,
        payload: &[],
        checksum_not_ready: false,
        gso: false,
    };
    for attr in attributes(attrs) {
        let (kind, value) = attr?;
        match kind as libc::c_int {
            libc::NFQA_PACKET_HDR => {
                if value.len() < 7 {
                    return Err(());
                }
                header = Some((
                    be32(value)?,
                    u16::from_be_bytes([value[4], value[5]]),
                    value[6],
                ));
            }
            libc::NFQA_PAYLOAD => packet.payload = value,
            libc::NFQA_MARK => packet.mark = Some(be32(value)?).filter(|&m| m != 0),
            libc::NFQA_IFINDEX_INDEV => packet.indev = Some(be32(value)?),
            libc::NFQA_IFINDEX_OUTDEV => packet.outdev = Some(be32(value)?),
            libc::NFQA_CAP_LEN => packet.original_len = Some(be32(value)?),
            libc::NFQA_SKB_INFO => {
                let info = be32(value)?;
                packet.checksum_not_ready = info & libc::NFQA_SKB_CSUMNOTREADY as u32 != 0;
                packet.gso = info & libc::NFQA_SKB_GSO as u32 != 0;
            }
            _ => {}
        }
    }
    let (id, hw_protocol, hook) = header.ok_or(())?;
    packet.id = id;
    packet.hw_protocol = hw_protocol;
    packet.hook = hook;
    Ok(packet)
}

/// One line of /proc/net/netfilter/nfnetlink_queue: the kernel's view of a queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelQueueStats {
    pub queue_num: u16,
    pub peer_portid: u32,
    /// Packets waiting for a verdict right now.
    pub queue_total: u32,
    pub copy_mode: u8,
    pub copy_range: u32,
    /// Dropped because the queue was full and fail-open was off.
    pub queue_dropped: u32,
    /// Dropped because the message could not be delivered to us (receive buffer full).
    pub user_dropped: u32,
    /// Last packet id handed out.
    pub id_sequence: u32,
}

/// Parses the text of /proc/net/netfilter/nfnetlink_queue; bad lines are skipped and counted.
/// Fail-open accepts are not exposed by the kernel (they show only as unchanged drop counts).
pub fn parse_kernel_queue_stats(text: &str) -> (Vec<KernelQueueStats>, usize) {
    let mut queues = Vec::new();
    let mut bad_lines = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<u64> = line
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if fields.len() < 8 || fields[0] > u64::from(u16::MAX) {
            bad_lines += 1;
            continue;
        }
        let field = |i: usize| fields[i].min(u64::from(u32::MAX)) as u32;
        queues.push(KernelQueueStats {
            queue_num: fields[0] as u16,
            peer_portid: field(1),
            queue_total: field(2),
            copy_mode: fields[3].min(255) as u8,
            copy_range: field(4),
            queue_dropped: field(5),
            user_dropped: field(6),
            id_sequence: field(7),
        });
    }
    (queues, bad_lines)
}

/// True on kernels older than 3.8 (from `uname -r`), which need the PF bind commands.
fn kernel_needs_pf_bind() -> bool {
    // SAFETY: zeroed utsname is valid; uname fills it.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer.
    if unsafe { libc::uname(&mut name) } != 0 {
        return false;
    }
    let release: String = name
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect();
    release_older_than(&release, (3, 8))
}

/// Compares the leading `major.minor` of a kernel release string with `(major, minor)`.
fn release_older_than(release: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    match (parts.next(), parts.next()) {
        (Some(a), Some(b)) => (a, b) < (major, minor),
        _ => false,
    }
}

/// True when the kernel lists `queue_num` as bound (to any socket) in this namespace.
fn queue_is_bound(queue_num: u16) -> bool {
    read_kernel_queue_stats().is_ok_and(|queues| queues.iter().any(|q| q.queue_num == queue_num))
}

/// Reads the kernel's stats for every bound queue in this network namespace.
pub fn read_kernel_queue_stats() -> io::Result<Vec<KernelQueueStats>> {
    let text = std::fs::read_to_string("/proc/net/netfilter/nfnetlink_queue")?;
    Ok(parse_kernel_queue_stats(&text).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet_message(id: u32, payload: &[u8], extra: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut attrs = vec![0u8; 4096];
        let mut hdr = id.to_be_bytes().to_vec();
        hdr.extend_from_slice(&0x0800u16.to_be_bytes());
        hdr.push(2);
        let mut len = write_attr(&mut attrs, libc::NFQA_PACKET_HDR as u16, &hdr);
        for (kind, value) in extra {
            len += write_attr(&mut attrs[len..], *kind, value);
        }
        len += write_attr(&mut attrs[len..], libc::NFQA_PAYLOAD as u16, payload);
        let mut out = Vec::new();
        push_message(&mut out, MSG_PACKET, 0, 0, 7, &attrs[..len]);
        out
    }

    fn only_message(bytes: &[u8]) -> NetlinkMessage<'_> {
        let messages: Vec<_> = NetlinkMessages::new(bytes).collect();
        assert_eq!(messages.len(), 1);
        messages[0].expect("well-formed")
    }

    #[test]
    fn parses_packet_id_protocol_payload_and_mark() {
        let bytes = packet_message(
            42,
            b"\x45abc",
            &[(
                libc::NFQA_MARK as u16,
                0x00ff_0001u32.to_be_bytes().to_vec(),
            )],
        );
        let msg = only_message(&bytes);
        assert_eq!(msg.kind, MSG_PACKET);
        let packet = parse_packet(msg.body).expect("packet");
        assert_eq!(packet.id, 42);
        assert_eq!(packet.hw_protocol, 0x0800);
        assert_eq!(packet.hook, 2);
        assert_eq!(packet.payload, b"\x45abc");
        assert_eq!(packet.mark, Some(0x00ff_0001));
        assert!(!packet.checksum_not_ready);
    }

    #[test]
    fn skb_info_flags_are_read() {
        let info = (libc::NFQA_SKB_CSUMNOTREADY | libc::NFQA_SKB_GSO) as u32;
        let bytes = packet_message(
            1,
            b"x",
            &[(libc::NFQA_SKB_INFO as u16, info.to_be_bytes().to_vec())],
        );
        let packet = parse_packet(only_message(&bytes).body).expect("packet");
        assert!(packet.checksum_not_ready);
        assert!(packet.gso);
    }

    #[test]
    fn packet_without_header_is_malformed() {
        let mut attrs = vec![0u8; 16];
        let len = write_attr(&mut attrs, libc::NFQA_PAYLOAD as u16, b"abc");
        let mut out = Vec::new();
        push_message(&mut out, MSG_PACKET, 0, 0, 0, &attrs[..len]);
        assert!(parse_packet(only_message(&out).body).is_err());
    }

    #[test]
    fn attribute_longer_than_message_is_malformed() {
        let mut bytes = packet_message(5, b"payload", &[]);
        // Overstate the packet header attribute's length (first attribute after nfgenmsg).
        let at = NLMSG_HDR_LEN + NFGENMSG_LEN;
        bytes[at..at + 2].copy_from_slice(&4000u16.to_ne_bytes());
        assert!(parse_packet(only_message(&bytes).body).is_err());
    }

    #[test]
    fn truncated_and_garbage_datagrams_yield_one_error_and_stop() {
        let bytes = packet_message(5, b"payload", &[]);
        let cut: Vec<_> = NetlinkMessages::new(&bytes[..bytes.len() - 3]).collect();
        assert_eq!(cut.len(), 1);
        assert!(cut[0].is_err());
        let garbage: Vec<_> = NetlinkMessages::new(&[1, 2, 3]).collect();
        assert_eq!(garbage.len(), 1);
        assert!(garbage[0].is_err());
        let zero_len = [0u8; 20];
        let zero: Vec<_> = NetlinkMessages::new(&zero_len).collect();
        assert_eq!(zero.len(), 1);
        assert!(zero[0].is_err());
    }

    #[test]
    fn two_messages_in_one_datagram() {
        let mut bytes = packet_message(1, b"a", &[]);
        bytes.extend_from_slice(&packet_message(2, b"bcdef", &[]));
        let ids: Vec<u32> = NetlinkMessages::new(&bytes)
            .map(|m| parse_packet(m.expect("ok").body).expect("packet").id)
            .collect();
        assert_eq!(ids, vec![1, 2]);
    }

    #[test]
    fn error_message_code_is_positive_errno() {
        assert_eq!(
            parse_error_code(&(-libc::EBUSY).to_ne_bytes()),
            Some(libc::EBUSY)
        );
        assert_eq!(parse_error_code(&0i32.to_ne_bytes()), Some(0));
        assert_eq!(parse_error_code(&[1, 2]), None);
    }

    #[test]
    fn runs_coalesce_consecutive_equal_verdicts() {
        let mut runs = Vec::new();
        for id in 10..15 {
            push_run(&mut runs, id, true, None);
        }
        push_run(&mut runs, 15, false, None);
        push_run(&mut runs, 16, true, None);
        push_run(&mut runs, 17, true, Some(4));
        push_run(&mut runs, 19, true, Some(4));
        assert_eq!(
            runs,
            vec![
                VerdictRun {
                    first_id: 10,
                    last_id: 14,
                    accept: true,
                    mark: None
                },
                VerdictRun {
                    first_id: 15,
                    last_id: 15,
                    accept: false,
                    mark: None
                },
                VerdictRun {
                    first_id: 16,
                    last_id: 16,
                    accept: true,
                    mark: None
                },
                VerdictRun {
                    first_id: 17,
                    last_id: 17,
                    accept: true,
                    mark: Some(4)
                },
                VerdictRun {
                    first_id: 19,
                    last_id: 19,
                    accept: true,
                    mark: Some(4)
                },
            ]
        );
    }

    #[test]
    fn verdict_mark_keeps_other_bits() {
        let bytes = packet_message(
            1,
            b"x",
            &[(
                libc::NFQA_MARK as u16,
                0xabcd_0000u32.to_be_bytes().to_vec(),
            )],
        );
        let packet = parse_packet(only_message(&bytes).body).expect("packet");
        let decision = VerdictDecision {
            accept: true,
            mark: Some((0x1, 0x1)),
        };
        assert_eq!(packet.verdict_mark(decision), Some(0xabcd_0001));
        assert_eq!(packet.verdict_mark(VerdictDecision::ACCEPT), None);
        let clear = VerdictDecision {
            accept: true,
            mark: Some((0, 0xffff_0000)),
        };
        assert_eq!(packet.verdict_mark(clear), Some(0));
    }

    #[test]
    fn built_message_has_nfgenmsg_and_aligned_length() {
        let mut out = Vec::new();
        push_message(
            &mut out,
            MSG_CONFIG,
            1,
            9,
            0x0102,
            &config_params(MAX_COPY_RANGE),
        );
        assert_eq!(out.len() % 4, 0);
        let msg = only_message(&out);
        assert_eq!(msg.kind, MSG_CONFIG);
        assert_eq!(msg.seq, 9);
        assert_eq!(&msg.body[2..4], &[0x01, 0x02]);
        let attrs: Vec<_> = attributes(&msg.body[4..])
            .collect::<Result<_, _>>()
            .expect("attrs");
        assert_eq!(attrs.len(), 1);
        assert_eq!(attrs[0].0, libc::NFQA_CFG_PARAMS as u16);
        assert_eq!(
            attrs[0].1,
            &[0, 0, 0xff, 0xff, libc::NFQNL_COPY_PACKET as u8]
        );
    }

    #[test]
    fn kernel_stats_parse() {
        let text =
            "    0  12345     3 2 65535     7    11      900  1\n    1 0 0 2 65535 0 0 0 1\nbad\n";
        let (queues, bad) = parse_kernel_queue_stats(text);
        assert_eq!(bad, 1);
        assert_eq!(queues.len(), 2);
        assert_eq!(
            queues[0],
            KernelQueueStats {
                queue_num: 0,
                peer_portid: 12345,
                queue_total: 3,
                copy_mode: 2,
                copy_range: 65535,
                queue_dropped: 7,
                user_dropped: 11,
                id_sequence: 900,
            }
        );
        assert_eq!(queues[1].queue_num, 1);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            for message in NetlinkMessages::new(&bytes).flatten() {
                let _ = parse_packet(message.body);
                let _ = parse_error_code(message.body);
            }
        }

        #[test]
        fn corrupted_packet_messages_never_panic(
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            at in 0usize..128,
            value in proptest::num::u8::ANY,
        ) {
            let mut bytes = packet_message(9, &payload, &[]);
            let index = at % bytes.len();
            bytes[index] = value;
            for message in NetlinkMessages::new(&bytes).flatten() {
                if let Ok(packet) = parse_packet(message.body) {
                    proptest::prop_assert!(packet.payload.len() <= bytes.len());
                }
            }
        }
    }

    #[test]
    fn kernel_release_comparison() {
        assert!(release_older_than("3.7.10-foo", (3, 8)));
        assert!(release_older_than("2.6.32", (3, 8)));
        assert!(!release_older_than("3.8.0", (3, 8)));
        assert!(!release_older_than("6.18.44-fc-v595", (3, 8)));
        assert!(!release_older_than("garbage", (3, 8)));
    }

    #[test]
    fn stop_handle_signals() {
        let stop = StopHandle::new().expect("eventfd");
        assert!(!stop.is_stopped());
        stop.clone().stop();
        assert!(stop.is_stopped());
    }
}
