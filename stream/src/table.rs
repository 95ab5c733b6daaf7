//! The session table of one worker: lookup by the engine's key, LRU order, timeouts, and the
//! memcap policy (truncate least recently used sessions, then prune random ones).
//!
//! Not here: what happens inside a session ([`crate::session`]).

pub use crate::session::SEGMENT_OVERHEAD;
use crate::session::{Budget, Env, SegmentResult, Session};
use crate::{Outcome, Segment, StreamConfig, StreamEvent, StreamStats, StreamView, TcpState};
/// Keyed per table with a random seed, and much faster than SipHash (one lookup per segment).
use foldhash::fast::RandomState;
use hashbrown::HashTable;
use std::hash::{BuildHasher, Hash};

const NIL: u32 = u32::MAX;

/// Largest payload accepted in one segment (GSO super-segments are at most 64 KiB).
const MAX_PAYLOAD: usize = 1 << 24;

struct Slot<K> {
    key: Option<K>,
    session: Session,
    /// Towards the most recently used end.
    newer: u32,
    /// Towards the least recently used end.
    older: u32,
}

/// All TCP sessions of one worker.
///
/// Memcap policy: before any allocation the needed bytes are checked against
/// [`StreamConfig::memcap`]. When they do not fit, the table truncates (releases inspected,
/// acknowledged data beyond the context of) up to `truncate_sessions` sessions taken from the
/// least recently used end; if that is not enough it prunes `prune_sessions` sessions picked at
/// random. The session being processed is never truncated or pruned; if room still cannot be
/// found the segment is dropped ([`crate::DropReason::Memcap`]). Each step is counted in
/// [`StreamStats`].
pub struct StreamTable<K> {
    cfg: StreamConfig,
    context: usize,
    /// Slot indices, hashed by their slot's key (the key is stored once, in the slot).
    map: HashTable<u32>,
    hasher: RandomState,
    slots: Vec<Slot<K>>,
    free: Vec<u32>,
    newest: u32,
    oldest: u32,
    used: u64,
    live: usize,
    rng: u64,
    stats: StreamStats,
    /// Spare out-of-order buffers (see `session::recycle`).
    pool: Vec<Vec<u8>>,
}

impl<K: Hash + Eq + Clone> StreamTable<K> {
    pub fn new(cfg: StreamConfig) -> Self {
        let hasher = RandomState::default();
        let rng = hasher.hash_one(0x5eed_u64) | 1;
        StreamTable {
            context: cfg.window_size,
            cfg,
            map: HashTable::new(),
            hasher,
            slots: Vec::new(),
            free: Vec::new(),
            newest: NIL,
            oldest: NIL,
            used: 0,
            live: 0,
            rng,
            stats: StreamStats::default(),
            pool: Vec::new(),
        }
    }

    /// Bytes re-presented before new data in each view: the ruleset's longest pattern span,
    /// capped by [`StreamConfig::window_size`].
    pub fn set_context(&mut self, bytes: usize) {
        self.context = bytes.min(self.cfg.window_size);
    }

    pub fn config(&self) -> &StreamConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }

    /// Bytes currently charged against the memcap.
    pub fn memory_used(&self) -> u64 {
        self.used
    }

    /// Sessions tracked.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Bytes charged per session: its slot, its hash-table entry (index and control byte,
    /// rounded up for the table's spare capacity), and the heap headers (length and capacity)
    /// of the two directions' out-of-order queues (thin vectors), which exist once a
    /// direction queues a segment.
    pub fn session_overhead() -> usize {
        std::mem::size_of::<Slot<K>>() + 8 + 2 * 2 * std::mem::size_of::<usize>()
    }

    /// The slot index of `key`'s session.
    fn find(&self, key: &K) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        self.map
            .find(hash, |&i| slots[i as usize].key.as_ref() == Some(key))
            .copied()
    }

    pub fn state(&self, key: &K) -> Option<TcpState> {
        self.find(key).map(|i| self.slots[i as usize].session.state)
    }

    /// The session as text (`State C[...] S[...]`), for tests and debugging.
    pub fn describe(&self, key: &K) -> Option<String> {
        self.find(key)
            .map(|i| self.slots[i as usize].session.to_string())
    }

    /// Process one segment of the session `key`.
    pub fn process(&mut self, key: &K, seg: &Segment) -> Outcome<'_> {
        self.stats.segments += 1;
        let mut result = SegmentResult::new();
        if seg.payload.len() > MAX_PAYLOAD {
            // Sequence arithmetic needs segments far below 2^31 bytes; no real packet is close.
            self.stats.invalid_state_drops += 1;
            result.verdict = crate::Verdict::Drop(crate::DropReason::InvalidState);
            return Outcome {
                verdict: result.verdict,
                events: result.events,
                view: None,
                depth_reached: false,
                both_depths_reached: false,
                state: self.state(key),
            };
        }
        let mut existing = self.find(key);
        if let Some(index) = existing {
            let session = &self.slots[index as usize].session;
            if seg.time_us
                > session
                    .last_us
                    .saturating_add(session.timeout_us(&self.cfg))
            {
                self.stats.sessions_timed_out += 1;
                self.close(index);
                existing = None;
            } else if seg.flags.syn() && !seg.flags.ack() && session.reusable() {
                self.close(index);
                existing = None;
            }
        }
        let index = match existing {
            Some(index) => {
                self.touch(index);
                let need = self.slots[index as usize].session.estimate(seg);
                if need > 0 {
                    self.make_room(need, index);
                }
                let (mut env, slots) = self.env();
                slots[index as usize]
                    .session
                    .process(seg, &mut env, &mut result);
                index
            }
            None => match self.create(key, seg, &mut result) {
                Some(index) => index,
                None => {
                    return Outcome {
                        verdict: result.verdict,
                        events: result.events,
                        view: None,
                        depth_reached: false,
                        both_depths_reached: false,
                        state: None,
                    }
                }
            },
        };
        debug_assert!(
            self.used <= self.cfg.memcap,
            "memcap exceeded: {} > {}",
            self.used,
            self.cfg.memcap
        );
        self.stats.memuse_peak = self.stats.memuse_peak.max(self.used);
        let session = &self.slots[index as usize].session;
        let view = result.view.map(|spec| StreamView {
            bytes: &session.buffer(spec.side)[spec.start..spec.end],
            new_from: spec.new_from,
            stream_offset: spec.offset,
            side: spec.side,
        });
        Outcome {
            verdict: result.verdict,
            events: result.events,
            view,
            depth_reached: result.depth_reached,
            both_depths_reached: session.both_depths_reached(),
            state: Some(session.state),
        }
    }

    fn env(&mut self) -> (Env<'_, '_>, &mut Vec<Slot<K>>) {
        (
            Env {
                cfg: &self.cfg,
                context: self.context,
                budget: Budget {
                    used: &mut self.used,
                    cap: self.cfg.memcap,
                },
                stats: &mut self.stats,
                pool: &mut self.pool,
            },
            &mut self.slots,
        )
    }

    /// A new session for `seg`, or `None` when it starts none (counted, event set).
    fn create(&mut self, key: &K, seg: &Segment, result: &mut SegmentResult) -> Option<u32> {
        let syn = seg.flags.syn() && !seg.flags.ack() && !seg.flags.rst();
        // A SYN/ACK first: the responder's side alone (async) or a missed SYN (midstream).
        let synack_pickup = (self.cfg.async_oneside || self.cfg.midstream)
            && seg.flags.syn()
            && seg.flags.ack()
            && !seg.flags.rst();
        let pick_up = self.cfg.midstream && !seg.flags.rst();
        if !syn && !synack_pickup && !pick_up {
            self.stats.no_session += 1;
            result.events.insert(StreamEvent::NoSession);
            return None;
        }
        if self.live >= self.cfg.max_sessions {
            self.stats.max_sessions_reached += 1;
            self.prune(NIL);
        }
        let overhead = Self::session_overhead();
        if self.live >= self.cfg.max_sessions || !self.make_room(overhead, NIL) {
            self.stats.sessions_refused += 1;
            result.events.insert(StreamEvent::SessionLimit);
            return None;
        }
        self.used += overhead as u64;
        let session = if syn {
            let (mut env, _) = self.env();
            Session::from_syn(seg, &mut env, result)
        } else if synack_pickup {
            if !self.cfg.async_oneside {
                self.stats.sessions_midstream += 1;
                result.events.insert(StreamEvent::NoHandshake);
            }
            let (mut env, _) = self.env();
            Session::from_synack(seg, &mut env, result)
        } else {
            self.stats.sessions_midstream += 1;
            result.events.insert(StreamEvent::NoHandshake);
            Session::midstream(seg)
        };
        self.stats.sessions_created += 1;
        let slot = Slot {
            key: Some(key.clone()),
            session,
            newer: NIL,
            older: NIL,
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index as usize] = slot;
                index
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        let hash = self.hasher.hash_one(key);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.map.insert_unique(hash, index, |&i| {
            slots[i as usize]
                .key
                .as_ref()
                .map_or(0, |k| hasher.hash_one(k))
        });
        self.live += 1;
        self.link_newest(index);
        if !syn && !synack_pickup {
            let need = self.slots[index as usize].session.estimate(seg);
            if need > 0 {
                self.make_room(need, index);
            }
            let (mut env, slots) = self.env();
            slots[index as usize].session.process(seg, &mut env, result);
        }
        Some(index)
    }

    /// Find `need` bytes under the memcap without touching `protect`. True when they fit.
    fn make_room(&mut self, need: usize, protect: u32) -> bool {
        let fits = |used: u64, cfg: &StreamConfig| used + need as u64 <= cfg.memcap;
        if fits(self.used, &self.cfg) {
            return true;
        }
        self.stats.memcap_reached += 1;
        let mut index = self.oldest;
        let mut examined = 0;
        while index != NIL && examined < self.cfg.truncate_sessions {
            let newer = self.slots[index as usize].newer;
            if index != protect {
                examined += 1;
                let (mut env, slots) = self.env();
                let freed = slots[index as usize].session.truncate(&mut env);
                if freed > 0 {
                    self.stats.sessions_truncated += 1;
                    self.stats.bytes_truncated += freed as u64;
                }
                if fits(self.used, &self.cfg) {
                    return true;
                }
            }
            index = newer;
        }
        self.prune(protect);
        fits(self.used, &self.cfg)
    }

    /// Prune `prune_sessions` sessions chosen at random, never `protect`.
    fn prune(&mut self, protect: u32) {
        let mut pruned = 0;
        let mut attempts = 0;
        while pruned < self.cfg.prune_sessions && self.live > usize::from(protect != NIL) {
            attempts += 1;
            if attempts > 64 * self.cfg.prune_sessions.max(1) {
                break;
            }
            // xorshift64*: cheap, seeded from the keyed hasher, not guessable from outside.
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let pick =
                (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as usize % self.slots.len();
            let index = pick as u32;
            if index == protect || self.slots[pick].key.is_none() {
                continue;
            }
            self.close(index);
            self.stats.sessions_pruned += 1;
            pruned += 1;
        }
    }

    /// Remove a session and release everything it holds.
    fn close(&mut self, index: u32) {
        let overhead = Self::session_overhead() as u64;
        let slot = &mut self.slots[index as usize];
        let Some(key) = slot.key.take() else { return };
        let mut budget = Budget {
            used: &mut self.used,
            cap: self.cfg.memcap,
        };
        slot.session.free_all(&mut budget);
        debug_assert_eq!(slot.session.charged(), 0);
        self.used -= overhead;
        let hash = self.hasher.hash_one(&key);
        if let Ok(entry) = self.map.find_entry(hash, |&i| i == index) {
            entry.remove();
        }
        self.unlink(index);
        self.free.push(index);
        self.live -= 1;
    }

    /// Charge `bytes` that the caller keeps for `key`'s session outside the stream (an
    /// application-layer parser's state) to the memcap, replacing the previous charge, so one
    /// budget bounds everything a session costs. Growth makes room as segment data does
    /// (truncating, then pruning other sessions). Returns false, with the charge released
    /// (counted: `attach_refused`), when the session does not exist or no room was found: the
    /// caller must then free that state.
    pub fn attach(&mut self, key: &K, bytes: usize) -> bool {
        let Some(index) = self.find(key) else {
            return false;
        };
        let old = self.slots[index as usize].session.attached();
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        let fits = bytes as usize <= old || self.make_room(bytes as usize - old, index);
        let kept = if fits { bytes } else { 0 };
        let mut budget = Budget {
            used: &mut self.used,
            cap: self.cfg.memcap,
        };
        self.slots[index as usize]
            .session
            .set_attached(kept, &mut budget);
        debug_assert!(self.used <= self.cfg.memcap, "memcap exceeded by attach");
        self.stats.memuse_peak = self.stats.memuse_peak.max(self.used);
        if !fits {
            self.stats.attach_refused += 1;
        }
        fits
    }

    /// Forget a session (the engine closed or rejected the flow).
    pub fn remove(&mut self, key: &K) -> bool {
        match self.find(key) {
            Some(index) => {
                self.close(index);
                self.stats.sessions_closed += 1;
                true
            }
            None => false,
        }
    }

    /// Close sessions idle past their state's timeout, examining at most `max` sessions from
    /// the least recently used end. Returns how many were closed.
    pub fn expire(&mut self, now_us: u64, max: usize) -> usize {
        let shortest = self
            .cfg
            .embryonic_timeout_us
            .min(self.cfg.established_timeout_us)
            .min(self.cfg.closed_timeout_us);
        let mut closed = 0;
        let mut index = self.oldest;
        let mut examined = 0;
        while index != NIL && examined < max {
            examined += 1;
            let slot = &self.slots[index as usize];
            let newer = slot.newer;
            let last = slot.session.last_us;
            if now_us <= last.saturating_add(shortest) {
                break; // every newer session is fresher still
            }
            if now_us > last.saturating_add(slot.session.timeout_us(&self.cfg)) {
                self.close(index);
                self.stats.sessions_timed_out += 1;
                closed += 1;
            }
            index = newer;
        }
        closed
    }

    /// Close every session. The memcap counter is then exactly zero.
    pub fn clear(&mut self) {
        let mut index = self.oldest;
        while index != NIL {
            let newer = self.slots[index as usize].newer;
            self.close(index);
            index = newer;
        }
        debug_assert_eq!(self.used, 0);
    }

    /// Give back the table's own spare capacity (slots, free list, map, spare out-of-order
    /// buffers) when it is empty.
    pub fn shrink_to_fit(&mut self) {
        self.pool = Vec::new();
        if self.live == 0 {
            self.slots = Vec::new();
            self.free = Vec::new();
            self.map = HashTable::new();
        }
    }

    fn touch(&mut self, index: u32) {
        if self.newest != index {
            self.unlink(index);
            self.link_newest(index);
        }
    }

    fn link_newest(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        slot.newer = NIL;
        slot.older = self.newest;
        if self.newest != NIL {
            self.slots[self.newest as usize].newer = index;
        }
        self.newest = index;
        if self.oldest == NIL {
            self.oldest = index;
        }
    }

    fn unlink(&mut self, index: u32) {
        let (newer, older) = {
            let slot = &self.slots[index as usize];
            (slot.newer, slot.older)
        };
        if newer != NIL {
            self.slots[newer as usize].older = older;
        } else {
            self.newest = older;
        }
        if older != NIL {
            self.slots[older as usize].newer = newer;
        } else {
            self.oldest = newer;
        }
    }
}
