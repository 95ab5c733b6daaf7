//! One TCP session: the handshake state machine and, per direction, the reassembly buffer and
//! the bounded out-of-order queue.
//!
//! Not here: finding sessions, the memcap policy across sessions, timeouts ([`crate::table`]).
//! A session charges every byte it allocates to a [`Budget`] and never allocates past it.

use crate::seq::{seq_ge, seq_gt, seq_le, seq_lt, seq_max, seq_min};
use crate::{
    DropReason, Events, OverlapPolicy, Segment, Side, StreamConfig, StreamEvent, StreamStats,
    UrgentPolicy, Verdict,
};
use std::fmt;

use thin_vec::ThinVec;

/// Bytes charged per queued out-of-order segment on top of its payload.
pub const SEGMENT_OVERHEAD: usize = std::mem::size_of::<OooSegment>() + 16;

/// Dead (released) bytes at the front of a buffer that trigger compaction, together with "at
/// least as many dead bytes as live ones" (which bounds the memmove to one copy per byte).
const RELEASE_CHUNK: u32 = 4096;

/// Smallest buffer allocation.
const MIN_BUFFER: usize = 512;

/// The session's TCP state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpState {
    /// SYN seen from the client.
    SynSent,
    /// SYN/ACK (or, in a simultaneous open, the other SYN) seen.
    SynReceived,
    Established,
    /// At least one FIN seen.
    Closing,
    /// Both FINs acknowledged.
    TimeWait,
    /// An in-window RST was honoured.
    Reset,
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpState::SynSent => "SynSent",
            TcpState::SynReceived => "SynReceived",
            TcpState::Established => "Established",
            TcpState::Closing => "Closing",
            TcpState::TimeWait => "TimeWait",
            TcpState::Reset => "Reset",
        })
    }
}

/// The memcap account shared by the sessions of one table.
pub(crate) struct Budget<'a> {
    pub used: &'a mut u64,
    pub cap: u64,
}

impl Budget<'_> {
    fn try_charge(&mut self, bytes: usize) -> bool {
        if *self.used + bytes as u64 > self.cap {
            return false;
        }
        *self.used += bytes as u64;
        true
    }
    fn release(&mut self, bytes: usize) {
        debug_assert!(*self.used >= bytes as u64, "memcap account underflow");
        *self.used -= bytes as u64;
    }
}

/// A queued out-of-order piece of data.
pub(crate) struct OooSegment {
    seq: u32,
    data: Vec<u8>,
}

impl OooSegment {
    fn end(&self) -> u32 {
        self.seq.wrapping_add(self.data.len() as u32)
    }
}

// Half-stream flags.
const KNOWN: u16 = 1; // `next` is valid
const ACKED: u16 = 2; // `acked` is valid
const WINDOW: u16 = 4; // `window_end` is valid
const FIN: u16 = 8;
const FIN_ACKED: u16 = 16;
const DEPTH: u16 = 32; // stream.depth reached: nothing stored any more
const OFFERED_WSCALE: u16 = 64;
const OFFERED_TS: u16 = 128;
const GAP: u16 = 256; // `gap_end` is valid: a reassembly gap was declared

/// How far `next` may move past `gap_end` before the gap is forgotten (sequence comparisons
/// are only meaningful within half the sequence space).
const GAP_MEMORY: u32 = 1 << 30;

/// The data one side sends, as reassembled on its way to the other side.
#[derive(Default)]
pub(crate) struct Half {
    /// Bytes `[base, next)`; capacity is what is charged. A plain `Vec`: appending is one
    /// copy (a `ThinVec` pushes byte by byte).
    buf: Vec<u8>,
    base: u32,
    /// Contiguous end: the receiver's next expected sequence number.
    next: u32,
    isn: u32,
    /// Highest acknowledgement from the receiver.
    acked: u32,
    /// Right edge of the receiver's advertised window (largest seen).
    window_end: u32,
    /// Highest sequence end accepted from this side.
    max_end: u32,
    fin_seq: u32,
    ts_recent: u32,
    /// Bytes made contiguous so far (stream offset of `next`).
    delivered: u64,
    /// Thin (one pointer inline, nothing allocated while empty): most sessions never queue,
    /// and an idle session's size is what a flood of them costs.
    ooo: ThinVec<OooSegment>,
    ooo_bytes: u32,
    /// End of the last reassembly gap: the receiver acknowledged `[.., gap_end)` although
    /// nfips never saw all of it, so data starting before it is never placed again.
    gap_end: u32,
    /// Shift applied to windows this side advertises.
    wscale: u8,
    flags: u16,
}

impl Half {
    fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
    fn start_at(&mut self, isn: u32, next: u32) {
        self.isn = isn;
        self.next = next;
        self.base = next;
        self.max_end = next;
        self.flags |= KNOWN;
    }
    fn charged(&self) -> usize {
        self.buf.capacity()
            + self
                .ooo
                .iter()
                .map(|s| s.data.len() + SEGMENT_OVERHEAD)
                .sum::<usize>()
    }

    /// Release inspected bytes no longer needed: keep `context` bytes before `next` and, when
    /// the receiver's ACKs are known, everything it has not acknowledged (retransmissions are
    /// compared against it). `force` compacts now and gives back spare capacity. Returns the
    /// bytes freed from the budget.
    fn release(
        &mut self,
        context: usize,
        no_acks: bool,
        force: bool,
        budget: &mut Budget,
    ) -> usize {
        let live_from = if self.has(ACKED) {
            seq_min(self.acked, self.next)
        } else if no_acks {
            self.next
        } else {
            self.base
        };
        let context_from = self.next.wrapping_sub(context.min(self.buf.len()) as u32);
        let keep_from = seq_max(seq_min(live_from, context_from), self.base);
        let dead = keep_from.wrapping_sub(self.base);
        let live = self.buf.len() as u32 - dead;
        if dead > 0 && (force || (dead >= RELEASE_CHUNK && dead >= live)) {
            self.buf.drain(..dead as usize);
            self.base = keep_from;
        }
        if !force {
            return 0;
        }
        let before = self.buf.capacity();
        if self.buf.is_empty() {
            self.buf = Vec::new();
        } else {
            self.buf.shrink_to_fit();
        }
        let freed = before - self.buf.capacity();
        budget.release(freed);
        freed
    }

    /// Make room for `extra` more bytes, charging the budget first.
    fn grow(&mut self, extra: usize, budget: &mut Budget) -> bool {
        let need = self.buf.len() + extra;
        let cap = self.buf.capacity();
        if need <= cap {
            return true;
        }
        let wanted = need
            .max(cap.saturating_mul(2).min(cap + (64 << 10)))
            .max(MIN_BUFFER);
        let target = if budget.try_charge(wanted - cap) {
            wanted
        } else if budget.try_charge(need - cap) {
            need
        } else {
            return false;
        };
        self.buf.reserve_exact(target - self.buf.len());
        let actual = self.buf.capacity();
        if actual > target {
            // The allocator rounded up: account for it (a few bytes at most).
            *budget.used += (actual - target) as u64;
        }
        true
    }

    /// Free everything (close, prune, RST, depth). Returns the bytes freed.
    fn free_all(&mut self, budget: &mut Budget) -> usize {
        let freed = self.charged();
        self.buf = Vec::new();
        self.ooo = ThinVec::new();
        self.ooo_bytes = 0;
        self.base = self.next;
        budget.release(freed);
        freed
    }

    /// Walk the queued segments over `[start, start + bytes.len())`: report whether any queued
    /// byte differs, and the uncovered pieces (at most one more than the queue length).
    fn overlay(&self, start: u32, bytes: &[u8], pieces: &mut Pieces) -> bool {
        let end = start.wrapping_add(bytes.len() as u32);
        let mut cursor = start;
        let mut conflict = false;
        for queued in &self.ooo {
            if seq_le(queued.end(), cursor) {
                continue;
            }
            if seq_ge(queued.seq, end) {
                break;
            }
            if seq_gt(queued.seq, cursor) {
                pieces.push(cursor, queued.seq);
            }
            let from = seq_max(cursor, queued.seq);
            let to = seq_min(end, queued.end());
            let new = &bytes[from.wrapping_sub(start) as usize..to.wrapping_sub(start) as usize];
            let old = &queued.data
                [from.wrapping_sub(queued.seq) as usize..to.wrapping_sub(queued.seq) as usize];
            conflict |= new != old;
            cursor = to;
        }
        if seq_lt(cursor, end) {
            pieces.push(cursor, end);
        }
        conflict
    }

    /// Holes in the sequence space if `pieces` were queued too.
    fn holes_with(&self, pieces: &Pieces) -> usize {
        let mut holes = 0;
        let mut cursor = self.next;
        let mut queued = self.ooo.iter().map(|s| (s.seq, s.end())).peekable();
        let mut new = pieces.iter().peekable();
        loop {
            let take_queued = match (queued.peek(), new.peek()) {
                (Some(q), Some(n)) => seq_lt(q.0, n.0),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let (from, to) = if take_queued {
                queued.next()
            } else {
                new.next()
            }
            .unwrap_or((0, 0));
            if seq_gt(from, cursor) {
                holes += 1;
            }
            cursor = seq_max(cursor, to);
        }
        holes
    }
}

/// Uncovered sequence ranges of a segment (no allocation).
pub(crate) struct Pieces {
    ranges: [(u32, u32); 16],
    len: usize,
}

impl Pieces {
    fn new() -> Self {
        Pieces {
            ranges: [(0, 0); 16],
            len: 0,
        }
    }
    fn push(&mut self, from: u32, to: u32) {
        if self.len < self.ranges.len() {
            self.ranges[self.len] = (from, to);
        }
        self.len += 1;
    }
    fn iter(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.ranges[..self.len.min(self.ranges.len())]
            .iter()
            .copied()
    }
    fn bytes(&self) -> usize {
        self.iter().map(|(a, b)| b.wrapping_sub(a) as usize).sum()
    }
}

/// Where the view of newly contiguous data lies in the sender's buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ViewSpec {
    pub side: Side,
    pub start: usize,
    pub new_from: usize,
    pub end: usize,
    pub offset: u64,
}

/// The result of one segment, before the table turns the view into a slice.
pub(crate) struct SegmentResult {
    pub verdict: Verdict,
    pub events: Events,
    pub view: Option<ViewSpec>,
    pub depth_reached: bool,
}

impl SegmentResult {
    pub fn new() -> Self {
        SegmentResult {
            verdict: Verdict::Accept,
            events: Events::default(),
            view: None,
            depth_reached: false,
        }
    }
    fn drop(&mut self, reason: DropReason, event: Option<StreamEvent>) {
        self.verdict = Verdict::Drop(reason);
        if let Some(event) = event {
            self.events.insert(event);
        }
    }
}

/// What a segment is processed with besides the session.
pub(crate) struct Env<'a, 'b> {
    pub cfg: &'a StreamConfig,
    /// Context bytes re-presented before new data.
    pub context: usize,
    pub budget: Budget<'b>,
    pub stats: &'a mut StreamStats,
    /// Spare out-of-order buffers of the table, reused so queueing does not allocate per
    /// segment after warm-up.
    pub pool: &'a mut Vec<Vec<u8>>,
}

/// Spare out-of-order buffers kept per table, and the largest one kept. Not charged to the
/// memcap (at most 1 MiB per table); [`crate::StreamTable::shrink_to_fit`] frees them.
const POOL_BUFFERS: usize = 64;
const POOL_BUFFER_MAX: usize = 16 << 10;

fn recycle(pool: &mut Vec<Vec<u8>>, buffer: Vec<u8>) {
    if pool.len() < POOL_BUFFERS && buffer.capacity() <= POOL_BUFFER_MAX {
        pool.push(buffer);
    }
}

// Session flags.
const TIMESTAMPS: u8 = 1;
const WINDOW_SCALING: u8 = 2;
/// Picked up midstream: the window scale is unknown, so windows are not enforced.
const MIDSTREAM: u8 = 4;

/// One TCP session.
pub(crate) struct Session {
    half: [Half; 2],
    pub last_us: u64,
    pub state: TcpState,
    /// The side that sent the SYN (or the first segment, midstream).
    client: Side,
    flags: u8,
    /// Bytes the caller keeps for this session outside the stream (an application parser's
    /// state), charged to the same memcap: see [`crate::StreamTable::attach`].
    attached: u32,
}

impl Session {
    /// A session started by a SYN from `seg.side`.
    pub fn from_syn(seg: &Segment, env: &mut Env, result: &mut SegmentResult) -> Session {
        let mut session = Session::empty(seg.side, seg.time_us, TcpState::SynSent);
        session.syn(seg, env, result);
        session
    }

    /// A session started by a SYN/ACK (`async_oneside`, or `midstream` after a missed SYN):
    /// the client's ISN is the acknowledgement minus one.
    pub fn from_synack(seg: &Segment, env: &mut Env, result: &mut SegmentResult) -> Session {
        let client = seg.side.other();
        let mut session = Session::empty(client, seg.time_us, TcpState::Established);
        session.half[client.index()].start_at(seg.ack.wrapping_sub(1), seg.ack);
        session.syn(seg, env, result);
        session.negotiate();
        // The client's window-scale option was not seen: windows are not enforced.
        session.flags |= MIDSTREAM;
        session
    }

    /// A session picked up from a non-SYN segment (`midstream`).
    pub fn midstream(seg: &Segment) -> Session {
        let mut session = Session::empty(seg.side, seg.time_us, TcpState::Established);
        session.flags |= MIDSTREAM;
        session
    }

    fn empty(client: Side, now: u64, state: TcpState) -> Session {
        Session {
            half: [Half::default(), Half::default()],
            last_us: now,
            state,
            client,
            flags: 0,
            attached: 0,
        }
    }

    /// Bytes this session holds beyond its fixed overhead (attached bytes included).
    pub fn charged(&self) -> usize {
        self.half[0].charged() + self.half[1].charged() + self.attached as usize
    }

    pub fn attached(&self) -> usize {
        self.attached as usize
    }

    /// Replace the attached charge (the table has made room for any growth).
    pub fn set_attached(&mut self, bytes: u32, budget: &mut Budget) {
        budget.release(self.attached as usize);
        *budget.used += u64::from(bytes);
        self.attached = bytes;
    }

    pub fn buffer(&self, side: Side) -> &[u8] {
        &self.half[side.index()].buf
    }

    pub fn timeout_us(&self, cfg: &StreamConfig) -> u64 {
        match self.state {
            TcpState::SynSent | TcpState::SynReceived => cfg.embryonic_timeout_us,
            TcpState::Established | TcpState::Closing => cfg.established_timeout_us,
            TcpState::TimeWait | TcpState::Reset => cfg.closed_timeout_us,
        }
    }

    /// A SYN without ACK may start a new session over this one (port reuse).
    pub fn reusable(&self) -> bool {
        matches!(self.state, TcpState::TimeWait | TcpState::Reset)
    }

    pub fn both_depths_reached(&self) -> bool {
        self.half[0].has(DEPTH) && self.half[1].has(DEPTH)
    }

    /// An upper bound of the bytes processing `seg` may charge.
    pub fn estimate(&self, seg: &Segment) -> usize {
        let half = &self.half[seg.side.index()];
        let len = seg.payload.len();
        if len == 0 {
            return 0;
        }
        let need = half.buf.len() + len + half.ooo_bytes as usize;
        let grow = need.saturating_sub(half.buf.capacity());
        grow.max(len + (half.ooo.len() + 1) * SEGMENT_OVERHEAD)
    }

    /// Release inspected, acknowledged data beyond the context of both directions (memcap
    /// truncation). Returns the bytes freed.
    pub fn truncate(&mut self, env: &mut Env) -> usize {
        let no_acks = env.cfg.async_oneside;
        let mut freed = 0;
        for half in &mut self.half {
            freed += if half.has(DEPTH) {
                half.free_all(&mut env.budget)
            } else {
                half.release(env.context, no_acks, true, &mut env.budget)
            };
        }
        freed
    }

    /// Free every buffer and the attached charge (the session is closed or pruned).
    pub fn free_all(&mut self, budget: &mut Budget) {
        for half in &mut self.half {
            half.free_all(budget);
        }
        self.set_attached(0, budget);
    }

    pub fn process(&mut self, seg: &Segment, env: &mut Env, result: &mut SegmentResult) {
        self.last_us = seg.time_us;
        let has_data = !seg.payload.is_empty();
        match self.state {
            TcpState::Reset => {
                if has_data {
                    env.stats.data_after_close_drops += 1;
                    result.drop(
                        DropReason::DataAfterClose,
                        Some(StreamEvent::DataAfterReset),
                    );
                }
                return;
            }
            TcpState::TimeWait => {
                self.free_all(&mut env.budget);
                if has_data {
                    env.stats.data_after_close_drops += 1;
                    result.drop(DropReason::DataAfterClose, Some(StreamEvent::DataOnClosed));
                }
                return;
            }
            TcpState::SynSent | TcpState::SynReceived => {
                if !self.handshake(seg, env, result) {
                    return;
                }
            }
            TcpState::Established | TcpState::Closing => {}
        }
        self.established(seg, env, result);
    }

    /// Record a SYN (or SYN/ACK) from `seg.side`: ISN, options, data-on-SYN.
    fn syn(&mut self, seg: &Segment, env: &mut Env, result: &mut SegmentResult) {
        let half = &mut self.half[seg.side.index()];
        half.flags = 0;
        half.start_at(seg.seq, seg.seq.wrapping_add(1));
        if let Some(scale) = seg.window_scale {
            half.flags |= OFFERED_WSCALE;
            half.wscale = scale.min(14);
        }
        if let Some((tsval, _)) = seg.timestamp {
            half.flags |= OFFERED_TS;
            half.ts_recent = tsval;
        }
        if !seg.payload.is_empty() {
            env.stats.data_on_syn += 1;
            result.events.insert(StreamEvent::DataOnSyn);
            // Remember where it ends: a TCP Fast Open server acknowledges it.
            half.max_end = half.next.wrapping_add(seg.payload.len() as u32);
        }
    }

    /// Both SYNs seen: settle window scaling and timestamps.
    fn negotiate(&mut self) {
        let [a, b] = &mut self.half;
        if a.has(OFFERED_WSCALE) && b.has(OFFERED_WSCALE) {
            self.flags |= WINDOW_SCALING;
        } else {
            a.wscale = 0;
            b.wscale = 0;
        }
        if a.has(OFFERED_TS) && b.has(OFFERED_TS) {
            self.flags |= TIMESTAMPS;
        }
    }

    /// The handshake states. Returns true when the segment completed the handshake and its
    /// remainder (data, FIN, ACK) is processed as on an established session.
    fn handshake(&mut self, seg: &Segment, env: &mut Env, result: &mut SegmentResult) -> bool {
        let from_client = seg.side == self.client;
        let server = self.client.other();
        let flags = seg.flags;
        let client_isn = self.half[self.client.index()].isn;
        if flags.rst() {
            // In SYN-SENT a RST is acceptable if it acknowledges the SYN (RFC 793).
            let valid = if from_client {
                seg.seq == self.half[self.client.index()].next
            } else if self.state == TcpState::SynSent {
                flags.ack() && seg.ack == client_isn.wrapping_add(1)
            } else {
                seg.seq == self.half[server.index()].next
            };
            self.honour_rst(valid, env, result);
            return false;
        }
        match (self.state, from_client) {
            (TcpState::SynSent, true) => {
                if flags.syn() && !flags.ack() {
                    if seg.seq != client_isn {
                        result.events.insert(StreamEvent::SynResendDiffSeq);
                    }
                    self.syn(seg, env, result);
                    return false;
                }
                if flags.ack() && env.cfg.async_oneside {
                    // The SYN/ACK went another way: trust the client's ACK.
                    let half = &mut self.half[server.index()];
                    half.start_at(seg.ack.wrapping_sub(1), seg.ack);
                    self.negotiate();
                    self.state = TcpState::Established;
                    return true;
                }
                self.invalid(env, result)
            }
            (TcpState::SynSent, false) => {
                if flags.syn() && flags.ack() {
                    let client = &mut self.half[self.client.index()];
                    let fast_open = client.max_end != client.next && seg.ack == client.max_end;
                    if seg.ack != client_isn.wrapping_add(1) && !fast_open {
                        result.drop(DropReason::InvalidState, Some(StreamEvent::SynAckBadAck));
                        env.stats.invalid_state_drops += 1;
                        return false;
                    }
                    if fast_open {
                        // The server took the SYN's data (TFO): the stream continues after it.
                        // Those bytes were inspected only as a packet (data_on_syn event).
                        client.start_at(client.isn, seg.ack);
                    }
                    self.syn(seg, env, result);
                    self.negotiate();
                    self.ack(seg, env, result);
                    self.state = TcpState::SynReceived;
                    return false;
                }
                if flags.syn() {
                    // Simultaneous open or split handshake: SYN answered by SYN.
                    env.stats.four_way_handshakes += 1;
                    result.events.insert(StreamEvent::FourWayHandshake);
                    self.syn(seg, env, result);
                    self.negotiate();
                    self.state = TcpState::SynReceived;
                    return false;
                }
                self.invalid(env, result)
            }
            (TcpState::SynReceived, _) => {
                // The other side's SYN: completes with an ACK of that SYN from either side
                // (a split handshake has the server send the final ACK).
                // Acknowledging the peer's SYN, and for a TCP Fast Open client its SYN's data.
                let peer = &self.half[seg.side.other().index()];
                let acks_peer_syn = flags.ack()
                    && peer.has(KNOWN)
                    && seq_gt(seg.ack, peer.isn)
                    && seq_le(seg.ack, seq_max(peer.max_end, peer.next));
                if flags.syn() {
                    let own = &self.half[seg.side.index()];
                    if own.has(KNOWN) && seg.seq == own.isn {
                        // Retransmitted SYN or SYN/ACK, or the SYN/ACK of a simultaneous open.
                        if acks_peer_syn && !flags.fin() {
                            self.ack(seg, env, result);
                            self.state = TcpState::Established;
                        }
                        return false;
                    }
                    if !own.has(KNOWN) {
                        self.syn(seg, env, result);
                        self.negotiate();
                        return false;
                    }
                    result.events.insert(StreamEvent::SynResendDiffSeq);
                    self.syn(seg, env, result);
                    self.negotiate();
                    return false;
                }
                if acks_peer_syn {
                    self.state = TcpState::Established;
                    return true;
                }
                if flags.ack() {
                    result.events.insert(StreamEvent::InvalidAck);
                }
                self.invalid(env, result)
            }
            _ => true,
        }
    }

    fn invalid(&mut self, env: &mut Env, result: &mut SegmentResult) -> bool {
        env.stats.invalid_state_drops += 1;
        result.drop(
            DropReason::InvalidState,
            Some(StreamEvent::DataBeforeHandshake),
        );
        false
    }

    fn honour_rst(&mut self, valid: bool, env: &mut Env, result: &mut SegmentResult) {
        if valid {
            env.stats.rst_honoured += 1;
            self.state = TcpState::Reset;
            self.free_all(&mut env.budget);
        } else {
            env.stats.rst_out_of_window += 1;
            result.drop(DropReason::BadRst, Some(StreamEvent::RstOutOfWindow));
        }
    }

    /// A RST on a synchronized session: honoured at the expected sequence number (or after the
    /// sender's FIN), passed without effect elsewhere in the window (the receiver answers with a
    /// challenge ACK, RFC 5961), dropped outside it.
    fn rst(&mut self, seg: &Segment, env: &mut Env, result: &mut SegmentResult) {
        let half = &self.half[seg.side.index()];
        if !half.has(KNOWN) {
            self.honour_rst(true, env, result);
            return;
        }
        let after_fin = half.has(FIN) && seg.seq == half.fin_seq.wrapping_add(1);
        if seg.seq == half.next || after_fin {
            self.honour_rst(true, env, result);
            return;
        }
        let window_end = if half.has(WINDOW) {
            half.window_end
        } else {
            half.next.wrapping_add(65535)
        };
        if seq_gt(seg.seq, half.next) && seq_lt(seg.seq, window_end) {
            env.stats.rst_inexact += 1;
            return;
        }
        self.honour_rst(false, env, result);
    }

    fn established(&mut self, seg: &Segment, env: &mut Env, result: &mut SegmentResult) {
        let side = seg.side.index();
        if !self.half[side].has(KNOWN) {
            // First segment seen from this side (midstream, or the invisible side of async).
            let isn = seg.seq.wrapping_sub(1);
            self.half[side].start_at(isn, seg.seq);
        }
        if seg.flags.rst() {
            self.rst(seg, env, result);
            return;
        }
        if seg.flags.syn() {
            let half = &self.half[side];
            if seg.seq != half.isn {
                env.stats.syn_on_established += 1;
                result.events.insert(StreamEvent::SynOnEstablished);
            }
            return;
        }
        if self.flags & TIMESTAMPS != 0 {
            match seg.timestamp {
                None => result.events.insert(StreamEvent::TimestampMissing),
                Some((tsval, _)) if seq_lt(tsval, self.half[side].ts_recent) => {
                    env.stats.paws_drops += 1;
                    result.drop(DropReason::Paws, Some(StreamEvent::PawsFailed));
                    return;
                }
                Some(_) => {}
            }
        }
        if seg.flags.urg()
            && seg.urgent_pointer > 0
            && seg.urgent_pointer as usize <= seg.payload.len()
        {
            env.stats.urgent_data += 1;
            result.events.insert(StreamEvent::UrgentData);
            if env.cfg.urgent_policy == UrgentPolicy::Drop {
                env.stats.urgent_drops += 1;
                result.drop(DropReason::Urgent, None);
                return;
            }
        }
        if !seg.payload.is_empty() && !seg.flags.ack() {
            env.stats.invalid_state_drops += 1;
            result.drop(DropReason::InvalidState, Some(StreamEvent::DataWithoutAck));
            return;
        }
        if seg.flags.fin() && !self.fin_acceptable(seg) {
            env.stats.out_of_window_drops += 1;
            result.drop(DropReason::OutOfWindow, Some(StreamEvent::FinOutOfWindow));
            return;
        }
        let next_before = self.half[side].next;
        if !seg.payload.is_empty() && !self.data(seg, env, result) {
            return;
        }
        let half = &mut self.half[side];
        if let (true, Some((tsval, _))) = (self.flags & TIMESTAMPS != 0, seg.timestamp) {
            if seq_le(seg.seq, next_before) && seq_gt(tsval, half.ts_recent) {
                half.ts_recent = tsval;
            }
        }
        if seg.flags.fin() && !half.has(FIN) {
            half.fin_seq = seg.seq.wrapping_add(seg.payload.len() as u32);
            half.flags |= FIN;
            half.max_end = seq_max(half.max_end, half.fin_seq);
            self.state = TcpState::Closing;
        }
        if seg.flags.ack() {
            self.ack(seg, env, result);
        }
        if self.half[0].has(FIN_ACKED) && self.half[1].has(FIN_ACKED) {
            self.state = TcpState::TimeWait;
            env.stats.sessions_closed += 1;
            // TimeWait accepts no data: the buffers and attached state are dead weight until
            // the closed timeout. A segment whose new data is still to be presented keeps them
            // until the session's next segment.
            if result.view.is_none() {
                self.free_all(&mut env.budget);
            }
        }
    }

    /// A FIN must not end the stream before bytes already made contiguous (a spoofed FIN would
    /// then cut off the sender's real data) nor beyond the receiver's window.
    fn fin_acceptable(&self, seg: &Segment) -> bool {
        let half = &self.half[seg.side.index()];
        let fin_seq = seg.seq.wrapping_add(seg.payload.len() as u32);
        if half.has(FIN) {
            return true; // retransmitted FIN; the first one stands
        }
        if half.has(DEPTH) {
            // Past stream.depth this direction is no longer tracked (data is accepted as it
            // comes), so its sequence space cannot judge the FIN either.
            return true;
        }
        seq_ge(fin_seq, half.next) && !(half.has(WINDOW) && seq_gt(fin_seq, half.window_end))
    }

    /// The ACK and window of `seg` describe the other side's data.
    ///
    /// An ACK beyond every byte nfips saw of that data means the receiver got bytes that
    /// bypassed nfips (fail-open NFQUEUE, queue bypass during a restart, asymmetric routing).
    /// It is trusted only when it is plausible (see [`Session::gap_ack_trusted`]); then the
    /// unseen sequence space becomes a reassembly gap ([`Session::gap`]).
    fn ack(&mut self, seg: &Segment, env: &mut Env, result: &mut SegmentResult) {
        let scale = if self.flags & WINDOW_SCALING != 0 && !seg.flags.syn() {
            self.half[seg.side.index()].wscale
        } else {
            0
        };
        let midstream = self.flags & MIDSTREAM != 0;
        let trusted = self.gap_ack_trusted(seg);
        let data = &mut self.half[seg.side.other().index()];
        if !data.has(KNOWN) {
            return;
        }
        let fin = if data.has(FIN) { 1 } else { 0 };
        let limit = seq_max(data.max_end, data.next).wrapping_add(fin);
        if seq_gt(seg.ack, limit) {
            // Beyond every byte seen: only from an in-window ACK, and only within sane sequence
            // distance. Not bounded by the window nfips knows: the receiver's window updates
            // bypass nfips too, and an ACK refused here would never update the window again
            // (the sender's data beyond it would be dropped forever).
            let plausible = trusted
                && !midstream
                && !data.has(FIN)
                && !data.has(DEPTH)
                && seg.ack.wrapping_sub(data.next) < GAP_MEMORY;
            if !plausible {
                result.events.insert(StreamEvent::InvalidAck);
                return;
            }
            data.max_end = seg.ack;
        }
        if !data.has(ACKED) || seq_gt(seg.ack, data.acked) {
            data.acked = seg.ack;
            data.flags |= ACKED;
        }
        if data.has(FIN) && seq_gt(data.acked, data.fin_seq) {
            data.flags |= FIN_ACKED;
        }
        if !midstream {
            let right = seg.ack.wrapping_add((seg.window as u32) << scale);
            if !data.has(WINDOW) || seq_gt(right, data.window_end) {
                data.window_end = right;
                data.flags |= WINDOW;
            }
        }
        // The FIN's sequence number is acknowledged but carries no byte.
        let acked_data = if data.has(FIN) && seq_gt(data.acked, data.fin_seq) {
            data.fin_seq
        } else {
            data.acked
        };
        // One view per segment: a gap found while this segment made its own data contiguous
        // is declared with the receiver's next segment (the condition persists).
        if trusted
            && !env.cfg.async_oneside
            && !data.has(DEPTH)
            && seq_gt(acked_data, data.next)
            && result.view.is_none()
        {
            self.gap(seg.side.other(), acked_data, env, result);
        }
    }

    /// Whether an ACK in `seg` may declare a reassembly gap in the other side's data: the
    /// segment itself must be in its sender's window (not older than what it already sent, not
    /// beyond what its peer allows).
    ///
    /// Why a fake gap is not a cheap evasion: a blind attacker cannot forge an in-window ACK
    /// (it needs both sequence numbers and the window). An attacker that owns the connection
    /// can, but the bytes nfips never saw then never reach the real receiver through nfips:
    /// data starting inside a declared gap is dropped for good ([`DropReason::AckedGap`]; a real
    /// receiver that acknowledged it discards it anyway, so honest traffic loses nothing), so
    /// the receiver never fills the hole and never delivers anything after it to its
    /// application. What follows the gap is inspected in a fresh view, never joined to bytes
    /// before it, exactly as the receiver (if the gap is real) holds them: two separate pieces.
    fn gap_ack_trusted(&self, seg: &Segment) -> bool {
        let own = &self.half[seg.side.index()];
        if !own.has(KNOWN) || !seg.flags.ack() {
            return false;
        }
        let end = seg.seq.wrapping_add(seg.payload.len() as u32);
        seq_ge(end, own.next) && !(own.has(WINDOW) && seq_gt(seg.seq, own.window_end))
    }

    /// The receiver acknowledged `[next, acked)` but nfips never saw all of it: those bytes are
    /// gone for good. Skip the first hole, make what is queued after it contiguous and give
    /// detection a view that starts after the hole. Further holes below `acked` are skipped by
    /// the receiver's next segments (the buffer would otherwise join data across them).
    fn gap(&mut self, side: Side, acked: u32, env: &mut Env, result: &mut SegmentResult) {
        let half = &mut self.half[side.index()];
        let hole_end = match half.ooo.first() {
            Some(queued) if seq_lt(queued.seq, acked) => queued.seq,
            _ => acked,
        };
        let hole = hole_end.wrapping_sub(half.next);
        env.stats.reassembly_gaps += 1;
        env.stats.gap_bytes += hole as u64;
        result.events.insert(StreamEvent::ReassemblyGap);
        // Nothing before the gap is re-presented with what follows it; what was inspected
        // before it is acknowledged (it lies below `acked`), so it is no longer needed.
        half.buf.clear();
        half.next = hole_end;
        half.base = hole_end;
        half.delivered += hole as u64;
        half.gap_end = hole_end;
        half.flags |= GAP;
        half.max_end = seq_max(half.max_end, hole_end);
        self.advance(side, &[], hole_end, env, result);
        if matches!(result.view, Some(view) if view.start == view.end) {
            result.view = None;
        }
    }

    /// Place the payload. Returns false when the segment is dropped.
    fn data(&mut self, seg: &Segment, env: &mut Env, result: &mut SegmentResult) -> bool {
        let side = seg.side.index();
        let half = &mut self.half[side];
        let payload = seg.payload;
        let seq = seg.seq;
        let end = seq.wrapping_add(payload.len() as u32);
        if half.has(DEPTH) {
            if !half.buf.is_empty() || !half.ooo.is_empty() {
                half.free_all(&mut env.budget);
            }
            return true;
        }
        if half.has(GAP) && half.next.wrapping_sub(half.gap_end) > GAP_MEMORY {
            half.flags &= !GAP;
        }
        if half.has(GAP) && seq_lt(seq, half.gap_end) {
            // The receiver acknowledged this sequence space without nfips seeing all of it
            // (see `gap_ack_trusted` for why this must not be placed).
            env.stats.gap_data_drops += 1;
            result.drop(DropReason::AckedGap, Some(StreamEvent::DataInGap));
            return false;
        }
        if half.has(FIN) && seq_gt(end, half.fin_seq) {
            env.stats.data_after_close_drops += 1;
            result.drop(DropReason::DataAfterClose, Some(StreamEvent::DataOnClosed));
            return false;
        }
        // After a gap the receiver's window updates may be among the packets that bypassed
        // nfips (fail-open, queue overflow): the window nfips knows is stale and enforcing it
        // would stall the connection, so it is not enforced until the gap is forgotten.
        if half.has(WINDOW) && !half.has(GAP) && seq_gt(end, half.window_end) {
            env.stats.out_of_window_drops += 1;
            result.drop(DropReason::OutOfWindow, Some(StreamEvent::OutOfWindowData));
            return false;
        }
        let next = half.next;
        if seq_lt(seq, next) {
            let from = seq_max(seq, half.base);
            let to = seq_min(end, next);
            if seq_lt(from, to) {
                let new = &payload[from.wrapping_sub(seq) as usize..to.wrapping_sub(seq) as usize];
                let old = &half.buf
                    [from.wrapping_sub(half.base) as usize..to.wrapping_sub(half.base) as usize];
                if new != old {
                    // Inspected bytes stand under both policies: the receiver holds them.
                    env.stats.overlap_conflicts += 1;
                    env.stats.overlap_conflict_drops += 1;
                    result.drop(
                        DropReason::OverlapConflict,
                        Some(StreamEvent::OverlapDifferentData),
                    );
                    return false;
                }
            }
            if seq_le(end, next) {
                env.stats.retransmissions += 1;
                result.events.insert(StreamEvent::Retransmission);
                return true;
            }
        }
        if seq_gt(seq, next) {
            return self.queue(seg, env, result);
        }
        self.in_order(seg, env, result)
    }

    /// Data at or across `next`: append, then drain what the queue made contiguous.
    fn in_order(&mut self, seg: &Segment, env: &mut Env, result: &mut SegmentResult) -> bool {
        let half = &mut self.half[seg.side.index()];
        let tail = &seg.payload[half.next.wrapping_sub(seg.seq) as usize..];
        let mut pieces = Pieces::new();
        if half.overlay(half.next, tail, &mut pieces) {
            env.stats.overlap_conflicts += 1;
            result.events.insert(StreamEvent::OverlapDifferentData);
            if env.cfg.overlap_policy == OverlapPolicy::First {
                env.stats.overlap_conflict_drops += 1;
                result.drop(DropReason::OverlapConflict, None);
                return false;
            }
        }
        let seg_end = seg.seq.wrapping_add(seg.payload.len() as u32);
        self.advance(seg.side, tail, seg_end, env, result)
    }

    /// Append `tail` (starting at `next`) and drain what the queue made contiguous, then
    /// describe the newly contiguous bytes as the view. `seg_end` is the end of the sequence
    /// space the caller covered.
    fn advance(
        &mut self,
        side: Side,
        tail: &[u8],
        seg_end: u32,
        env: &mut Env,
        result: &mut SegmentResult,
    ) -> bool {
        let no_acks = env.cfg.async_oneside;
        let half = &mut self.half[side.index()];
        // How far the stream becomes contiguous.
        let mut new_end = half.next.wrapping_add(tail.len() as u32);
        for queued in &half.ooo {
            if seq_gt(queued.seq, new_end) {
                break;
            }
            new_end = seq_max(new_end, queued.end());
        }
        let mut new_bytes = new_end.wrapping_sub(half.next) as u64;
        let mut depth_hit = false;
        if env.cfg.depth > 0 && half.delivered + new_bytes >= env.cfg.depth {
            new_bytes = env.cfg.depth.saturating_sub(half.delivered);
            depth_hit = true;
        }
        half.release(env.context, no_acks, false, &mut env.budget);
        if !half.grow(new_bytes as usize, &mut env.budget) {
            env.stats.memcap_drops += 1;
            result.drop(DropReason::Memcap, Some(StreamEvent::Memcap));
            return false;
        }
        let old_next = half.next;
        let limit = old_next.wrapping_add(new_bytes as u32);
        let take = tail.len().min(new_bytes as usize);
        half.buf.extend_from_slice(&tail[..take]);
        half.next = half.next.wrapping_add(take as u32);
        // Drain the queue into the buffer.
        let mut drained = 0;
        for queued in &half.ooo {
            if seq_gt(queued.seq, half.next) {
                break; // still a hole
            }
            if seq_gt(queued.end(), half.next) {
                if !seq_lt(half.next, limit) {
                    break; // depth reached; freed below
                }
                let from = half.next.wrapping_sub(queued.seq) as usize;
                let to = seq_min(queued.end(), limit).wrapping_sub(queued.seq) as usize;
                half.buf.extend_from_slice(&queued.data[from..to]);
                half.next = half.next.wrapping_add((to - from) as u32);
            }
            drained += 1;
        }
        if depth_hit {
            drained = half.ooo.len();
        }
        for queued in half.ooo.drain(..drained) {
            half.ooo_bytes -= queued.data.len() as u32;
            env.budget.release(queued.data.len() + SEGMENT_OVERHEAD);
            recycle(env.pool, queued.data);
        }
        if half.ooo.is_empty() && half.ooo.capacity() > 0 {
            // Idle sessions hold nothing beyond their buffer.
            half.ooo = ThinVec::new();
        }
        half.max_end = seq_max(half.max_end, seq_max(half.next, seg_end));
        let added = half.next.wrapping_sub(old_next) as usize;
        half.delivered += added as u64;
        env.stats.bytes_reassembled += added as u64;
        let len = half.buf.len();
        let new_from_index = len - added;
        let context = env.context.min(env.cfg.window_size).min(new_from_index);
        result.view = Some(ViewSpec {
            side,
            start: new_from_index - context,
            new_from: context,
            end: len,
            offset: half.delivered - (added + context) as u64,
        });
        if depth_hit {
            half.flags |= DEPTH;
            env.stats.depth_reached += 1;
            result.depth_reached = true;
            result.events.insert(StreamEvent::DepthReached);
        }
        true
    }

    /// Data beyond `next`: queue it within the limits.
    fn queue(&mut self, seg: &Segment, env: &mut Env, result: &mut SegmentResult) -> bool {
        let cfg = env.cfg;
        let half = &mut self.half[seg.side.index()];
        let mut pieces = Pieces::new();
        let conflict = half.overlay(seg.seq, seg.payload, &mut pieces);
        if conflict {
            env.stats.overlap_conflicts += 1;
            result.events.insert(StreamEvent::OverlapDifferentData);
            if cfg.overlap_policy == OverlapPolicy::First {
                env.stats.overlap_conflict_drops += 1;
                result.drop(DropReason::OverlapConflict, None);
                return false;
            }
        }
        if pieces.len == 0 && !conflict {
            env.stats.retransmissions += 1;
            result.events.insert(StreamEvent::Retransmission);
            return true;
        }
        let (reason, event) = if half.ooo.len() + pieces.len > cfg.max_ooo_packets
            || pieces.len > pieces.ranges.len()
        {
            env.stats.ooo_packets_drops += 1;
            (DropReason::OooPackets, StreamEvent::OooPacketsLimit)
        } else if half.ooo_bytes as usize + pieces.bytes() > cfg.max_ooo_bytes {
            env.stats.ooo_bytes_drops += 1;
            (DropReason::OooBytes, StreamEvent::OooBytesLimit)
        } else if half.holes_with(&pieces) > cfg.max_seq_holes {
            env.stats.seq_holes_drops += 1;
            (DropReason::SeqHoles, StreamEvent::SeqHolesLimit)
        } else {
            let charge = pieces.bytes() + pieces.len * SEGMENT_OVERHEAD;
            if !env.budget.try_charge(charge) {
                env.stats.memcap_drops += 1;
                (DropReason::Memcap, StreamEvent::Memcap)
            } else {
                if conflict {
                    // Policy last: the later bytes replace the queued ones.
                    let end = seg.seq.wrapping_add(seg.payload.len() as u32);
                    for queued in &mut half.ooo {
                        let from = seq_max(seg.seq, queued.seq);
                        let to = seq_min(end, queued.end());
                        if seq_lt(from, to) {
                            let dst = from.wrapping_sub(queued.seq) as usize
                                ..to.wrapping_sub(queued.seq) as usize;
                            let src = from.wrapping_sub(seg.seq) as usize
                                ..to.wrapping_sub(seg.seq) as usize;
                            queued.data[dst].copy_from_slice(&seg.payload[src]);
                        }
                    }
                }
                for (from, to) in pieces.iter() {
                    let mut data = env.pool.pop().unwrap_or_default();
                    data.clear();
                    data.extend_from_slice(
                        &seg.payload[from.wrapping_sub(seg.seq) as usize
                            ..to.wrapping_sub(seg.seq) as usize],
                    );
                    half.ooo_bytes += data.len() as u32;
                    let at = half
                        .ooo
                        .iter()
                        .position(|q| seq_gt(q.seq, from))
                        .unwrap_or(half.ooo.len());
                    half.ooo.insert(at, OooSegment { seq: from, data });
                    half.max_end = seq_max(half.max_end, to);
                }
                env.stats.out_of_order_queued += 1;
                return true;
            }
        };
        result.drop(reason, Some(event));
        false
    }
}

fn fmt_half(f: &mut fmt::Formatter<'_>, name: &str, half: &Half) -> fmt::Result {
    if !half.has(KNOWN) {
        return write!(f, "{name}[-]");
    }
    let rel = |seq: u32| seq.wrapping_sub(half.isn);
    write!(
        f,
        "{name}[next={} buf={}..{}",
        rel(half.next),
        rel(half.base),
        rel(half.next)
    )?;
    if !half.ooo.is_empty() {
        f.write_str(" ooo=")?;
        for (i, queued) in half.ooo.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}..{}", rel(queued.seq), rel(queued.end()))?;
        }
    }
    if half.has(ACKED) {
        write!(f, " acked={}", rel(half.acked))?;
    }
    if half.has(WINDOW) {
        write!(f, " win={}", rel(half.window_end))?;
    }
    if half.has(FIN) {
        write!(f, " fin={}", rel(half.fin_seq))?;
    }
    if half.has(DEPTH) {
        f.write_str(" depth")?;
    }
    if half.has(GAP) {
        write!(f, " gap={}", rel(half.gap_end))?;
    }
    f.write_str("]")
}

impl fmt::Display for Session {
    /// `State C[...] S[...]`: client then server half, sequence numbers relative to each ISN.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.state)?;
        fmt_half(f, "C", &self.half[self.client.index()])?;
        f.write_str(" ")?;
        fmt_half(f, "S", &self.half[self.client.other().index()])
    }
}
