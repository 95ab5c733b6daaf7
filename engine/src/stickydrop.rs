//! stickydrop: addresses blocked until a deadline, shared by all workers.
//!
//! A rule with `sticky-drop: <seconds>[,src|dst]` blocks an address; every later packet from
//! or to it is dropped before any other work. The table holds at most `stickydrop.max-entries`
//! addresses (default 5000, as Snort_inline); adding one more evicts the entry nearest its
//! expiry (counted). A lookup hashes the address (keyed SipHash: the keys are attacker-chosen)
//! to one of [`SHARDS`] mutex-guarded shards and does one map lookup: no scan of the table.
//! When the table is empty, as it nearly always is, a lookup reads one atomic and takes no
//! lock. Expired entries are removed when met, and by [`StickyDrop::purge_expired`].
//!
//! Time is a parameter ([`Instant`], nanoseconds on any clock the caller picks): packet time in
//! replay, monotonic time inline ([`monotonic_now`]). Optional kernel offload: with
//! `stickydrop.kernel-set`, a background thread also adds each address to the nftables sets
//! `inet nfips sticky4/sticky6` with a timeout, which `nfips firewall` drops before NFQUEUE.
//! Not here: deciding to block (detect).

use std::collections::hash_map::RandomState;
use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// A point in time in nanoseconds on the caller's clock.
pub type Instant = u64;

/// Number of independently locked shards.
pub const SHARDS: usize = 16;
/// `stickydrop.max-entries` default.
pub const DEFAULT_MAX_ENTRIES: usize = 5000;

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC), for the inline daemon.
pub fn monotonic_now() -> Instant {
    // SAFETY: zeroed timespec is valid; clock_gettime fills it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// What [`StickyDrop::block`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    /// A new entry.
    Added,
    /// Already blocked; the deadline moved later.
    Extended,
    /// Already blocked until at least this deadline; nothing changed.
    Unchanged,
    /// A new entry, after evicting the entry nearest its expiry.
    AddedWithEviction,
    /// The table cannot hold any entry (`max-entries` = 0).
    Refused,
}

/// Counters, shared.
#[derive(Debug, Default)]
pub struct StickyCounters {
    /// Packets found blocked.
    pub hits: AtomicU64,
    pub added: AtomicU64,
    pub extended: AtomicU64,
    /// Entries evicted because the table was full.
    pub evicted: AtomicU64,
    /// Entries removed because their deadline passed.
    pub expired: AtomicU64,
    /// Addresses handed to the kernel set / lost because its channel was full / failed.
    pub kernel_set_added: AtomicU64,
    pub kernel_set_dropped: AtomicU64,
    pub kernel_set_errors: AtomicU64,
}

#[derive(Default)]
struct Shard {
    deadlines: HashMap<IpAddr, Instant, RandomState>,
    by_deadline: BTreeSet<(Instant, IpAddr)>,
}

impl Shard {
    fn remove(&mut self, address: IpAddr) {
        if let Some(deadline) = self.deadlines.remove(&address) {
            self.by_deadline.remove(&(deadline, address));
        }
    }

    /// Removes entries whose deadline is at or before `now`; returns how many.
    fn purge(&mut self, now: Instant) -> usize {
        let mut purged = 0;
        while let Some(&(deadline, address)) = self.by_deadline.first() {
            if deadline > now {
                break;
            }
            self.by_deadline.pop_first();
            self.deadlines.remove(&address);
            purged += 1;
        }
        purged
    }
}

/// The shared table of blocked addresses.
pub struct StickyDrop {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    len: AtomicUsize,
    max_entries: usize,
    /// Serialises inserts, so the global size limit holds exactly.
    insert_lock: Mutex<()>,
    kernel_set: Option<crossbeam_channel::Sender<KernelSetRequest>>,
    pub counters: StickyCounters,
}

impl std::fmt::Debug for StickyDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StickyDrop")
            .field("len", &self.len())
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A worker that panicked while holding the lock left a consistent map (every mutation is
    // a single insert/remove pair); keep going.
    shard
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl StickyDrop {
    /// A table for at most `max_entries` addresses.
    pub fn new(max_entries: usize) -> Self {
        let hasher = RandomState::new();
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    deadlines: HashMap::with_hasher(hasher.clone()),
                    by_deadline: BTreeSet::new(),
                })
            })
            .collect();
        StickyDrop {
            shards,
            hasher,
            len: AtomicUsize::new(0),
            max_entries,
            insert_lock: Mutex::new(()),
            kernel_set: None,
            counters: StickyCounters::default(),
        }
    }

    /// Also mirror blocked addresses into the kernel's nftables sets (see module docs).
    pub fn with_kernel_set(mut self, table: KernelSetTable) -> Self {
        self.kernel_set = Some(table.start());
        self
    }

    /// Entries currently held (expired ones count until met or purged).
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    fn shard(&self, address: &IpAddr) -> &Mutex<Shard> {
        let index = self.hasher.hash_one(address) as usize % SHARDS;
        &self.shards[index]
    }

    /// True when `address` is blocked at `now`. An expired entry met here is removed.
    pub fn is_blocked(&self, address: IpAddr, now: Instant) -> bool {
        if self.len.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let mut shard = lock(self.shard(&address));
        match shard.deadlines.get(&address) {
            None => false,
            Some(&deadline) if deadline > now => true,
            Some(_) => {
                shard.remove(address);
                self.len.fetch_sub(1, Ordering::Relaxed);
                self.counters.expired.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// True (and counted as a hit) when either address of a packet is blocked.
    pub fn check_packet(&self, src: IpAddr, dst: IpAddr, now: Instant) -> bool {
        if self.len.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let blocked = self.is_blocked(src, now) || self.is_blocked(dst, now);
        if blocked {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
        }
        blocked
    }

    /// Blocks `address` for `duration` from `now` (a later deadline wins over an earlier one).
    pub fn block(&self, address: IpAddr, duration: Duration, now: Instant) -> BlockOutcome {
        let deadline = now.saturating_add(duration.as_nanos().min(u128::from(u64::MAX)) as u64);
        self.block_until(address, deadline, now, duration.as_secs())
    }

    /// Blocks `address` until `deadline`; entries expired at `now` are purged from its shard
    /// first; `kernel_seconds` is the timeout given to the kernel set, if any.
    pub fn block_until(
        &self,
        address: IpAddr,
        deadline: Instant,
        now: Instant,
        kernel_seconds: u64,
    ) -> BlockOutcome {
        if self.max_entries == 0 {
            return BlockOutcome::Refused;
        }
        let _insert = self.insert_lock.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = {
            let mut shard = lock(self.shard(&address));
            let purged = shard.purge(now);
            if purged > 0 {
                self.len.fetch_sub(purged, Ordering::Relaxed);
                self.counters
                    .expired
                    .fetch_add(purged as u64, Ordering::Relaxed);
            }
            match shard.deadlines.get(&address).copied() {
                Some(old) if old >= deadline => return BlockOutcome::Unchanged,
                Some(old) => {
                    shard.by_deadline.remove(&(old, address));
                    shard.by_deadline.insert((deadline, address));
                    shard.deadlines.insert(address, deadline);
                    self.counters.extended.fetch_add(1, Ordering::Relaxed);
                    BlockOutcome::Extended
                }
                None => BlockOutcome::Added,
            }
        };
        let outcome = if outcome == BlockOutcome::Added {
            let evicted = self.len() >= self.max_entries && self.evict_nearest_expiry();
            let mut shard = lock(self.shard(&address));
            shard.deadlines.insert(address, deadline);
            shard.by_deadline.insert((deadline, address));
            self.len.fetch_add(1, Ordering::Relaxed);
            self.counters.added.fetch_add(1, Ordering::Relaxed);
            if evicted {
                BlockOutcome::AddedWithEviction
            } else {
                BlockOutcome::Added
            }
        } else {
            outcome
        };
        self.mirror_to_kernel(address, kernel_seconds);
        outcome
    }

    /// Evicts the entry with the earliest deadline over all shards (each shard knows its
    /// earliest: O(shards), no scan of the entries).
    fn evict_nearest_expiry(&self) -> bool {
        let mut earliest: Option<(Instant, IpAddr, usize)> = None;
        for (index, shard) in self.shards.iter().enumerate() {
            if let Some(&(deadline, address)) = lock(shard).by_deadline.first() {
                if earliest.is_none_or(|(d, _, _)| deadline < d) {
                    earliest = Some((deadline, address, index));
                }
            }
        }
        let Some((_, address, index)) = earliest else {
            return false;
        };
        lock(&self.shards[index]).remove(address);
        self.len.fetch_sub(1, Ordering::Relaxed);
        self.counters.evicted.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Removes every entry expired at `now`; returns how many. Call it now and then (the
    /// stats tick) so expired entries do not linger in `len`.
    pub fn purge_expired(&self, now: Instant) -> usize {
        let mut total = 0;
        for shard in self.shards.iter() {
            let purged = lock(shard).purge(now);
            total += purged;
        }
        if total > 0 {
            self.len.fetch_sub(total, Ordering::Relaxed);
            self.counters
                .expired
                .fetch_add(total as u64, Ordering::Relaxed);
        }
        total
    }

    fn mirror_to_kernel(&self, address: IpAddr, seconds: u64) {
        let Some(sender) = &self.kernel_set else {
            return;
        };
        let seconds = seconds.max(1);
        if sender
            .try_send(KernelSetRequest { address, seconds })
            .is_ok()
        {
            self.counters
                .kernel_set_added
                .fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters
                .kernel_set_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The packet path's view: time in whole seconds of packet time (wall-clock time inline).
impl crate::worker::StickyCheck for StickyDrop {
    fn is_blocked(&self, addr: IpAddr, now_secs: u64) -> bool {
        let blocked = StickyDrop::is_blocked(self, addr, now_secs.saturating_mul(NANOS_PER_SECOND));
        if blocked {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
        }
        blocked
    }

    fn block(&self, addr: IpAddr, until_secs: u64) {
        let wall_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let deadline = until_secs.saturating_mul(NANOS_PER_SECOND);
        // The worker checked `is_blocked` at the same packet time just before; nothing to purge.
        self.block_until(addr, deadline, 0, until_secs.saturating_sub(wall_now));
    }
}

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// The nftables table holding `sticky4` and `sticky6` (`nfips firewall` creates them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelSetTable {
    /// `family table`, e.g. `inet nfips`.
    pub family_and_table: String,
    /// Requests waiting for `nft` at most (`stickydrop.kernel-set-queue`, default 1024).
    pub queue: usize,
}

impl Default for KernelSetTable {
    fn default() -> Self {
        KernelSetTable {
            family_and_table: "inet nfips".to_string(),
            queue: 1024,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct KernelSetRequest {
    address: IpAddr,
    seconds: u64,
}

/// The `nft` command that adds `address` for `seconds` (`timeout` makes the kernel expire it).
pub fn nft_add_element_args(family_and_table: &str, address: IpAddr, seconds: u64) -> Vec<String> {
    let set = if address.is_ipv4() {
        "sticky4"
    } else {
        "sticky6"
    };
    let mut args = vec!["add".to_string(), "element".to_string()];
    args.extend(family_and_table.split_whitespace().map(str::to_string));
    args.push(set.to_string());
    args.push(format!("{{ {address} timeout {seconds}s }}"));
    args
}

impl KernelSetTable {
    fn start(self) -> crossbeam_channel::Sender<KernelSetRequest> {
        let (sender, receiver) = crossbeam_channel::bounded::<KernelSetRequest>(self.queue.max(1));
        let table = self.family_and_table;
        let spawned = std::thread::Builder::new()
            .name("nfips-nft".to_string())
            .spawn(move || {
                for request in receiver {
                    let args = nft_add_element_args(&table, request.address, request.seconds);
                    match std::process::Command::new("nft").args(&args).output() {
                        Ok(output) if output.status.success() => {}
                        Ok(output) => tracing::warn!(
                        "nft {}: {}; run `nfips firewall --apply` to create the stickydrop sets",
                        args.join(" "),
                        String::from_utf8_lossy(&output.stderr).trim()
                    ),
                        Err(error) => tracing::warn!("cannot run nft ({error}); install nftables"),
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::warn!("cannot start the stickydrop kernel-set thread: {error}");
        }
        sender
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const SECOND: Instant = 1_000_000_000;

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0xc612_0000 + n))
    }

    fn v6(n: u16) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n))
    }

    #[test]
    fn blocked_until_the_deadline_then_released() {
        let table = StickyDrop::new(10);
        assert_eq!(
            table.block(v4(1), Duration::from_secs(3), 100 * SECOND),
            BlockOutcome::Added
        );
        assert!(table.is_blocked(v4(1), 100 * SECOND));
        assert!(table.is_blocked(v4(1), 103 * SECOND - 1));
        assert!(!table.is_blocked(v4(2), 101 * SECOND));
        assert!(!table.is_blocked(v4(1), 103 * SECOND));
        assert_eq!(table.len(), 0);
        assert_eq!(table.counters.expired.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn ipv6_addresses_block_independently() {
        let table = StickyDrop::new(10);
        table.block(v6(1), Duration::from_secs(5), 0);
        assert!(table.is_blocked(v6(1), SECOND));
        assert!(!table.is_blocked(v6(2), SECOND));
        assert!(!table.is_blocked(v4(1), SECOND));
    }

    #[test]
    fn packet_check_matches_source_or_destination_and_counts_hits() {
        let table = StickyDrop::new(10);
        assert!(!table.check_packet(v4(1), v4(2), 0));
        table.block(v4(2), Duration::from_secs(5), 0);
        assert!(table.check_packet(v4(1), v4(2), SECOND));
        assert!(table.check_packet(v4(2), v4(3), SECOND));
        assert!(!table.check_packet(v4(1), v4(3), SECOND));
        assert_eq!(table.counters.hits.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_later_deadline_extends_an_earlier_one_never_shortens() {
        let table = StickyDrop::new(10);
        table.block(v4(1), Duration::from_secs(10), 0);
        assert_eq!(
            table.block(v4(1), Duration::from_secs(2), SECOND),
            BlockOutcome::Unchanged
        );
        assert!(table.is_blocked(v4(1), 9 * SECOND));
        assert_eq!(
            table.block(v4(1), Duration::from_secs(20), SECOND),
            BlockOutcome::Extended
        );
        assert!(table.is_blocked(v4(1), 20 * SECOND));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn full_table_evicts_the_entry_nearest_expiry() {
        let table = StickyDrop::new(3);
        table.block(v4(1), Duration::from_secs(30), 0);
        table.block(v4(2), Duration::from_secs(10), 0);
        table.block(v4(3), Duration::from_secs(20), 0);
        assert_eq!(
            table.block(v6(4), Duration::from_secs(40), 0),
            BlockOutcome::AddedWithEviction
        );
        assert_eq!(table.len(), 3);
        assert!(!table.is_blocked(v4(2), SECOND), "nearest expiry evicted");
        for kept in [v4(1), v4(3), v6(4)] {
            assert!(table.is_blocked(kept, SECOND), "{kept} kept");
        }
        assert_eq!(table.counters.evicted.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn expired_entries_make_room_before_eviction() {
        let table = StickyDrop::new(2);
        table.block(v4(1), Duration::from_secs(1), 0);
        table.block(v4(2), Duration::from_secs(100), 0);
        // v4(1) expired by now; if it shares a shard with v4(3) it is purged on insert,
        // otherwise it is the nearest expiry and evicted: either way v4(2) stays.
        table.block(v4(3), Duration::from_secs(100), 5 * SECOND);
        assert!(table.is_blocked(v4(2), 6 * SECOND));
        assert!(table.is_blocked(v4(3), 6 * SECOND));
        assert!(table.len() <= 2);
    }

    #[test]
    fn purge_removes_only_expired_entries() {
        let table = StickyDrop::new(100);
        for n in 0..50 {
            table.block(v4(n), Duration::from_secs(u64::from(n % 2) * 10 + 1), 0);
        }
        assert_eq!(table.purge_expired(5 * SECOND), 25);
        assert_eq!(table.len(), 25);
        assert!(table.is_blocked(v4(1), 5 * SECOND));
        assert!(!table.is_blocked(v4(0), 5 * SECOND));
    }

    #[test]
    fn zero_capacity_refuses() {
        let table = StickyDrop::new(0);
        assert_eq!(
            table.block(v4(1), Duration::from_secs(1), 0),
            BlockOutcome::Refused
        );
        assert!(!table.is_blocked(v4(1), 0));
    }

    #[test]
    fn size_limit_holds_under_many_inserts() {
        let table = StickyDrop::new(DEFAULT_MAX_ENTRIES);
        for n in 0..(DEFAULT_MAX_ENTRIES as u32 + 500) {
            table.block(v4(n), Duration::from_secs(u64::from(n) + 1), 0);
        }
        assert_eq!(table.len(), DEFAULT_MAX_ENTRIES);
        assert_eq!(table.counters.evicted.load(Ordering::Relaxed), 500);
        // The shortest deadlines went first.
        assert!(!table.is_blocked(v4(499), 0));
        assert!(table.is_blocked(v4(500), 0));
    }

    #[test]
    fn nft_arguments_name_the_family_set() {
        assert_eq!(
            nft_add_element_args("inet nfips", v4(5), 3).join(" "),
            "add element inet nfips sticky4 { 198.18.0.5 timeout 3s }"
        );
        assert_eq!(
            nft_add_element_args("inet nfips", v6(5), 60).join(" "),
            "add element inet nfips sticky6 { 2001:db8::5 timeout 60s }"
        );
    }

    #[test]
    fn packet_path_view_uses_seconds() {
        use crate::worker::StickyCheck;
        let table = StickyDrop::new(10);
        StickyCheck::block(&table, v4(9), 1_000);
        assert!(StickyCheck::is_blocked(&table, v4(9), 999));
        assert!(!StickyCheck::is_blocked(&table, v4(9), 1_000));
        assert_eq!(table.counters.hits.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn monotonic_clock_moves_forward() {
        let a = monotonic_now();
        let b = monotonic_now();
        assert!(a > 0 && b >= a);
    }
}
