//! IPv4 and IPv6 defragmentation: fragment facts in, the reassembled datagram payload out when
//! the last missing fragment arrives, so the verdict on the whole datagram applies to the
//! fragment that completed it.
//!
//! Pure: no headers are parsed or rebuilt here. The engine passes what it decoded (addresses,
//! protocol, id, byte offset, more-fragments, the fragment's payload) and rebuilds a packet from
//! the first fragment's header and the payload returned. Bounded by a memcap, fragments per
//! datagram, datagrams pending and a timeout; every limit and anomaly is counted.

use crate::stats_struct;
use crate::OverlapPolicy;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

/// Largest reassembled payload (the IPv4 total length field, and IPv6 without jumbograms).
pub const MAX_DATAGRAM: u32 = 65_535;

/// Bytes charged per pending datagram on top of its buffer.
pub const DATAGRAM_OVERHEAD: usize =
    std::mem::size_of::<Datagram>() + std::mem::size_of::<Key>() + 16;

const TCP: u8 = 6;
const TCP_HEADER_MIN: u32 = 20;

/// Defragmentation settings with named defaults.
#[derive(Clone, Debug)]
pub struct DefragConfig {
    /// Bytes for pending datagrams of one worker. Default 4 MiB.
    pub memcap: u64,
    /// Fragments per datagram. Default 64 (a 64 KiB datagram over a 1280-byte MTU needs 52).
    pub max_fragments: usize,
    /// Datagrams pending at once. Default 4096.
    pub max_datagrams: usize,
    /// A datagram incomplete after this long is discarded, microseconds. Default 30 s (Linux).
    pub timeout_us: u64,
    /// Overlapping fragments with different bytes. Default first (the conflicting fragment is
    /// dropped); `Last` lets the later bytes replace the earlier ones.
    pub overlap_policy: OverlapPolicy,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            memcap: 4 << 20,
            max_fragments: 64,
            max_datagrams: 4096,
            timeout_us: 30_000_000,
            overlap_policy: OverlapPolicy::First,
        }
    }
}

/// What the engine decoded of one fragment.
#[derive(Clone, Copy, Debug)]
pub struct Fragment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Upper-layer protocol (IPv4 protocol field; the fragment header's next header for IPv6).
    pub proto: u8,
    /// IPv4 identification or IPv6 fragment id.
    pub id: u32,
    /// Offset in bytes (the header's offset field times 8).
    pub offset: u32,
    pub more: bool,
    /// The fragment's data after the IP header (and IPv6 fragment header).
    pub payload: &'a [u8],
    pub time_us: u64,
}

/// Why a fragment is dropped. Each is also an anomaly [`DefragEvent`] and a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefragDrop {
    Overlap,
    TinyFragment,
    TooManyFragments,
    TooLarge,
    BadSize,
    Memcap,
}

/// What to do with one fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefragVerdict {
    /// Pass the fragment; its datagram is not complete yet.
    Pending,
    /// This fragment completed the datagram: inspect it, and apply the verdict to this fragment.
    Complete,
    Drop(DefragDrop),
}

/// Defragmentation anomalies (Snort's frag3 generator 123 where it has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefragEvent {
    OverlapDifferentData,
    TinyFragment,
    TooManyFragments,
    TooLarge,
    BadSize,
    Memcap,
}

impl DefragEvent {
    pub fn name(self) -> &'static str {
        match self {
            DefragEvent::OverlapDifferentData => "defrag.overlap_different_data",
            DefragEvent::TinyFragment => "defrag.tiny_fragment",
            DefragEvent::TooManyFragments => "defrag.max_fragments",
            DefragEvent::TooLarge => "defrag.too_large",
            DefragEvent::BadSize => "defrag.bad_fragment_size",
            DefragEvent::Memcap => "defrag.memcap",
        }
    }
    /// Signature id under generator 123.
    pub fn sid(self) -> u32 {
        match self {
            DefragEvent::OverlapDifferentData => 8,
            DefragEvent::TinyFragment => 13,
            DefragEvent::TooManyFragments => 12,
            DefragEvent::TooLarge => 4,
            DefragEvent::BadSize => 6,
            DefragEvent::Memcap => 100,
        }
    }
    fn for_drop(reason: DefragDrop) -> DefragEvent {
        match reason {
            DefragDrop::Overlap => DefragEvent::OverlapDifferentData,
            DefragDrop::TinyFragment => DefragEvent::TinyFragment,
            DefragDrop::TooManyFragments => DefragEvent::TooManyFragments,
            DefragDrop::TooLarge => DefragEvent::TooLarge,
            DefragDrop::BadSize => DefragEvent::BadSize,
            DefragDrop::Memcap => DefragEvent::Memcap,
        }
    }
}

impl fmt::Display for DefragEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The result of one fragment.
#[derive(Clone, Copy, Debug)]
pub struct DefragOutcome<'d> {
    pub verdict: DefragVerdict,
    pub event: Option<DefragEvent>,
    /// The reassembled payload when `verdict` is `Complete`.
    pub datagram: Option<&'d [u8]>,
}

stats_struct! {
    /// Defragmentation counters.
    pub struct DefragStats {
        fragments,
        datagrams_started,
        datagrams_completed,
        datagrams_timed_out,
        /// Pending datagrams evicted (oldest first) to stay under the memcap or max_datagrams.
        datagrams_evicted,
        overlaps,
        overlap_drops,
        tiny_fragment_drops,
        too_many_fragments_drops,
        too_large_drops,
        bad_size_drops,
        memcap_drops,
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    id: u32,
}

struct Datagram {
    buf: Vec<u8>,
    /// Covered byte ranges, sorted and merged.
    ranges: Vec<(u32, u32)>,
    /// Length once the last fragment arrived.
    total: Option<u32>,
    fragments: usize,
    first_us: u64,
}

impl Datagram {
    fn charged(&self) -> usize {
        self.buf.capacity()
            + self.ranges.capacity() * std::mem::size_of::<(u32, u32)>()
            + DATAGRAM_OVERHEAD
    }
    fn complete(&self) -> bool {
        matches!((self.total, self.ranges.as_slice()), (Some(total), [(0, end)]) if *end == total)
    }
}

/// Pending datagrams of one worker.
pub struct Defragmenter {
    cfg: DefragConfig,
    pending: HashMap<Key, Datagram, RandomState>,
    used: u64,
    /// The last completed datagram (returned by reference, reused next time).
    done: Vec<u8>,
    stats: DefragStats,
}

impl Defragmenter {
    pub fn new(cfg: DefragConfig) -> Self {
        Defragmenter {
            cfg,
            pending: HashMap::with_hasher(RandomState::new()),
            used: 0,
            done: Vec::new(),
            stats: DefragStats::default(),
        }
    }

    pub fn stats(&self) -> &DefragStats {
        &self.stats
    }

    /// Bytes charged against the memcap.
    pub fn memory_used(&self) -> u64 {
        self.used
    }

    /// Datagrams pending.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Add one fragment.
    pub fn process(&mut self, frag: &Fragment) -> DefragOutcome<'_> {
        self.stats.fragments += 1;
        match self.insert(frag) {
            Ok(false) => DefragOutcome {
                verdict: DefragVerdict::Pending,
                event: None,
                datagram: None,
            },
            Ok(true) => DefragOutcome {
                verdict: DefragVerdict::Complete,
                event: None,
                datagram: Some(&self.done),
            },
            Err((reason, event)) => DefragOutcome {
                verdict: DefragVerdict::Drop(reason),
                event: Some(event),
                datagram: None,
            },
        }
    }

    fn fail(&mut self, reason: DefragDrop) -> Result<bool, (DefragDrop, DefragEvent)> {
        let counter = match reason {
            DefragDrop::Overlap => &mut self.stats.overlap_drops,
            DefragDrop::TinyFragment => &mut self.stats.tiny_fragment_drops,
            DefragDrop::TooManyFragments => &mut self.stats.too_many_fragments_drops,
            DefragDrop::TooLarge => &mut self.stats.too_large_drops,
            DefragDrop::BadSize => &mut self.stats.bad_size_drops,
            DefragDrop::Memcap => &mut self.stats.memcap_drops,
        };
        *counter += 1;
        Err((reason, DefragEvent::for_drop(reason)))
    }

    /// Returns Ok(true) when the datagram is complete (its payload is then in `self.done`).
    fn insert(&mut self, frag: &Fragment) -> Result<bool, (DefragDrop, DefragEvent)> {
        let len = frag.payload.len() as u32;
        let start = frag.offset;
        let end = start.saturating_add(len);
        if end > MAX_DATAGRAM {
            return self.fail(DefragDrop::TooLarge);
        }
        if len == 0 || (frag.more && len & 7 != 0) {
            return self.fail(DefragDrop::BadSize);
        }
        // A first fragment too short for a TCP header, or a later one landing inside it.
        if frag.proto == TCP
            && ((start == 0 && frag.more && len < TCP_HEADER_MIN)
                || (start > 0 && start < TCP_HEADER_MIN))
        {
            return self.fail(DefragDrop::TinyFragment);
        }
        let key = Key {
            src: frag.src,
            dst: frag.dst,
            proto: frag.proto,
            id: frag.id,
        };
        if let Some(datagram) = self.pending.get(&key) {
            if frag.time_us > datagram.first_us.saturating_add(self.cfg.timeout_us) {
                self.stats.datagrams_timed_out += 1;
                self.remove(&key);
            }
        }
        if !self.pending.contains_key(&key) {
            if self.pending.len() >= self.cfg.max_datagrams {
                self.evict_oldest(None);
            }
            if !self.make_room(DATAGRAM_OVERHEAD, None) {
                return self.fail(DefragDrop::Memcap);
            }
            self.used += DATAGRAM_OVERHEAD as u64;
            self.stats.datagrams_started += 1;
            let datagram = Datagram {
                buf: Vec::new(),
                ranges: Vec::new(),
                total: None,
                fragments: 0,
                first_us: frag.time_us,
            };
            self.pending.insert(key.clone(), datagram);
        }
        let policy = self.cfg.overlap_policy;
        let max_fragments = self.cfg.max_fragments;
        // Checks that need the datagram but change nothing.
        let (grow, conflict) = {
            let Some(datagram) = self.pending.get(&key) else {
                return self.fail(DefragDrop::Memcap);
            };
            if datagram.fragments >= max_fragments {
                return self.fail(DefragDrop::TooManyFragments);
            }
            let bad_total = match (datagram.total, frag.more) {
                (Some(total), true) => end > total,
                (Some(total), false) => end != total,
                (None, false) => datagram.ranges.last().is_some_and(|&(_, e)| e > end),
                (None, true) => false,
            };
            if bad_total {
                return self.fail(DefragDrop::TooLarge);
            }
            let mut conflict = false;
            for &(a, b) in &datagram.ranges {
                let (from, to) = (a.max(start), b.min(end));
                if from < to {
                    conflict |= datagram.buf[from as usize..to as usize]
                        != frag.payload[(from - start) as usize..(to - start) as usize];
                }
            }
            // Buffer growth (reserved exactly below) and the ranges vector doubling.
            let grow = (end as usize).saturating_sub(datagram.buf.capacity())
                + (datagram.ranges.capacity() + 4) * std::mem::size_of::<(u32, u32)>();
            (grow, conflict)
        };
        if conflict {
            self.stats.overlaps += 1;
            if policy == OverlapPolicy::First {
                return self.fail(DefragDrop::Overlap);
            }
        }
        if !self.make_room(grow, Some(&key)) {
            return self.fail(DefragDrop::Memcap);
        }
        let Some(datagram) = self.pending.get_mut(&key) else {
            return self.fail(DefragDrop::Memcap);
        };
        let before = datagram.charged();
        if datagram.buf.len() < end as usize {
            datagram
                .buf
                .reserve_exact(end as usize - datagram.buf.len());
            datagram.buf.resize(end as usize, 0);
        }
        datagram.buf[start as usize..end as usize].copy_from_slice(frag.payload);
        datagram.fragments += 1;
        if !frag.more {
            datagram.total = Some(end);
        }
        // Merge [start, end) into the sorted ranges.
        let mut merged = (start, end);
        datagram.ranges.retain(|&(a, b)| {
            if b < merged.0 || a > merged.1 {
                true
            } else {
                merged = (merged.0.min(a), merged.1.max(b));
                false
            }
        });
        let at = datagram
            .ranges
            .iter()
            .position(|&(a, _)| a > merged.0)
            .unwrap_or(datagram.ranges.len());
        datagram.ranges.insert(at, merged);
        let after = datagram.charged();
        self.used = self.used + after as u64 - before as u64;
        debug_assert!(self.used <= self.cfg.memcap, "defrag memcap exceeded");
        if !datagram.complete() {
            return Ok(false);
        }
        if let Some(datagram) = self.remove(&key) {
            self.done = datagram.buf;
        }
        self.stats.datagrams_completed += 1;
        Ok(true)
    }

    fn remove(&mut self, key: &Key) -> Option<Datagram> {
        let datagram = self.pending.remove(key)?;
        self.used -= datagram.charged() as u64;
        Some(datagram)
    }

    fn evict_oldest(&mut self, protect: Option<&Key>) -> bool {
        let oldest = self
            .pending
            .iter()
            .filter(|(key, _)| Some(*key) != protect)
            .min_by_key(|(_, d)| d.first_us)
            .map(|(key, _)| key.clone());
        match oldest {
            Some(key) => {
                self.remove(&key);
                self.stats.datagrams_evicted += 1;
                true
            }
            None => false,
        }
    }

    fn make_room(&mut self, need: usize, protect: Option<&Key>) -> bool {
        while self.used + need as u64 > self.cfg.memcap {
            if !self.evict_oldest(protect) {
                return false;
            }
        }
        true
    }

    /// Discard every pending datagram and the last completed one. The memcap counter is then
    /// exactly zero.
    pub fn clear(&mut self) {
        self.pending = HashMap::with_hasher(self.pending.hasher().clone());
        self.done = Vec::new();
        self.used = 0;
    }

    /// Discard datagrams older than the timeout. Returns how many.
    pub fn expire(&mut self, now_us: u64) -> usize {
        let timeout = self.cfg.timeout_us;
        let before = self.pending.len();
        let mut freed = 0;
        self.pending.retain(|_, d| {
            let keep = now_us <= d.first_us.saturating_add(timeout);
            if !keep {
                freed += d.charged() as u64;
            }
            keep
        });
        self.used -= freed;
        let expired = before - self.pending.len();
        self.stats.datagrams_timed_out += expired as u64;
        expired
    }
}
