//! Pending stream candidates: what lets a TCP stream view be scanned for fast patterns only in
//! its new bytes without missing a rule whose fast pattern arrived in an earlier segment and
//! whose other options complete only now (fast pattern in segment 1, the rest in segment 2).
//!
//! Per session direction, a [`PendingList`] keeps the rules with a fast pattern that were
//! candidates of an earlier view and did not match, each with the stream offset where that
//! view ended (its fast-pattern hit lies before it). The next view evaluates them again with
//! its own candidates; an entry leaves when the view window starts at or after its end. When a
//! list would overflow, the direction falls back to full-view scans until the dropped entries
//! are out of the window (counted). Lists live in a per-worker [`PendingSlab`] of fixed
//! capacity, so an idle session holds only a slot number in its flow; a full slab evicts
//! round-robin, and the evicted direction gets one full-view scan (counted).
//!
//! Not here: detection itself (see [`crate::detect`]), reassembly (nfips-stream).

use nfips_rules::RuleId;

/// Pending candidates one session direction can keep before it falls back to full scans.
pub const PENDING_PER_DIRECTION: usize = 16;

/// One session direction's pending candidates.
#[derive(Clone, Copy, Debug)]
pub struct PendingList {
    /// The flow id and direction that own the slot; `None`: free.
    owner: Option<(u64, bool)>,
    /// Views starting before this stream offset need a full scan (entries were dropped).
    full_until: u64,
    len: u8,
    rules: [RuleId; PENDING_PER_DIRECTION],
    /// Stream offset of the end of the view whose scan last found the rule's fast pattern.
    ends: [u64; PENDING_PER_DIRECTION],
}

impl PendingList {
    const EMPTY: PendingList = PendingList {
        owner: None,
        full_until: 0,
        len: 0,
        rules: [RuleId(0); PENDING_PER_DIRECTION],
        ends: [0; PENDING_PER_DIRECTION],
    };

    /// The pending rules.
    pub fn rules(&self) -> &[RuleId] {
        &self.rules[..self.len as usize]
    }

    fn end_of(&self, id: RuleId) -> Option<u64> {
        self.rules()
            .iter()
            .position(|&r| r == id)
            .map(|i| self.ends[i])
    }
}

/// How one view is to be scanned.
#[derive(Clone, Copy, Debug)]
pub struct ViewPlan {
    /// Scan the whole view (pending state incomplete).
    pub full_scan: bool,
    /// The flow id and direction.
    owner: (u64, bool),
}

/// Per-worker storage of pending lists.
pub struct PendingSlab {
    lists: Vec<PendingList>,
    free: Vec<u32>,
    capacity: usize,
    clock: usize,
    /// The list of the direction being inspected (copied out, rebuilt, stored back).
    current: PendingList,
    /// Views scanned whole because a pending list overflowed or was evicted.
    pub full_scans: u64,
    /// Pending lists evicted because the slab was full.
    pub evictions: u64,
}

impl PendingSlab {
    /// `capacity`: `stream.pending-slots` (at least 1).
    pub fn new(capacity: usize) -> PendingSlab {
        let capacity = capacity.clamp(1, u32::MAX as usize - 1);
        // Reserved up to the default; a larger setting grows while the worker warms up.
        let reserve = capacity.min(4096);
        PendingSlab {
            lists: Vec::with_capacity(reserve),
            free: Vec::with_capacity(reserve),
            capacity,
            clock: 0,
            current: PendingList::EMPTY,
            full_scans: 0,
            evictions: 0,
        }
    }

    /// Load the pending list of a direction (`slot`: the flow's slot number, 0 = none) for a
    /// view starting at `view_start`; entries out of the window are dropped.
    pub fn begin(&mut self, flow_id: u64, to_server: bool, slot: u32, view_start: u64) -> ViewPlan {
        let owner = (flow_id, to_server);
        let mut full_scan = false;
        self.current = PendingList::EMPTY;
        if slot != 0 {
            match self.lists.get((slot - 1) as usize) {
                Some(list) if list.owner == Some(owner) => self.current = *list,
                // Evicted (or never stored): what it held is unknown.
                _ => full_scan = true,
            }
        }
        let list = &mut self.current;
        if list.full_until > view_start {
            full_scan = true;
        } else {
            list.full_until = 0;
        }
        let mut kept = 0;
        for i in 0..list.len as usize {
            if list.ends[i] > view_start {
                list.rules[kept] = list.rules[i];
                list.ends[kept] = list.ends[i];
                kept += 1;
            }
        }
        list.len = kept as u8;
        if full_scan {
            self.full_scans += 1;
        }
        ViewPlan { full_scan, owner }
    }

    /// The rules to evaluate again with this view (none on a full scan).
    pub fn pending(&self, plan: &ViewPlan) -> &[RuleId] {
        if plan.full_scan {
            &[]
        } else {
            self.current.rules()
        }
    }

    /// Rebuild the list from this view's candidates: `unmatched` yields each candidate with a
    /// fast pattern that did not match, with the stream offset where the last occurrence of
    /// its fast pattern found with this view ends, or None when it was a candidate only as a
    /// pending entry (then it keeps its old end); an entry leaves at the first view that starts
    /// at or after its end. `view_end`: stream offset after the view. Stores the list in the
    /// slab and updates the flow's `slot`.
    pub fn finish(
        &mut self,
        plan: &ViewPlan,
        unmatched: impl Iterator<Item = (RuleId, Option<u64>)>,
        view_end: u64,
        slot: &mut u32,
    ) {
        let old = self.current;
        let mut next = PendingList {
            owner: Some(plan.owner),
            full_until: if plan.full_scan { 0 } else { old.full_until },
            ..PendingList::EMPTY
        };
        for (id, found_end) in unmatched {
            let end = found_end.unwrap_or_else(|| old.end_of(id).unwrap_or(view_end));
            let n = next.len as usize;
            if n == PENDING_PER_DIRECTION {
                // Dropped entries lie before view_end: scan whole views until they are gone.
                next.full_until = view_end;
                break;
            }
            next.rules[n] = id;
            next.ends[n] = end;
            next.len += 1;
        }
        let needed = next.len > 0 || next.full_until > 0;
        let owned = *slot != 0
            && self
                .lists
                .get((*slot - 1) as usize)
                .is_some_and(|l| l.owner == Some(plan.owner));
        if !needed {
            if owned {
                self.lists[(*slot - 1) as usize].owner = None;
                self.free.push(*slot - 1);
            }
            *slot = 0;
            return;
        }
        let index = if owned {
            (*slot - 1) as usize
        } else if let Some(index) = self.free.pop() {
            index as usize
        } else if self.lists.len() < self.capacity {
            self.lists.push(PendingList::EMPTY);
            self.lists.len() - 1
        } else {
            self.evictions += 1;
            self.clock = (self.clock + 1) % self.lists.len();
            self.clock
        };
        self.lists[index] = next;
        *slot = index as u32 + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` candidates whose fast patterns end at `end`.
    fn ids(n: u32, end: u64) -> impl Iterator<Item = (RuleId, Option<u64>)> {
        (0..n).map(move |r| (RuleId(r), Some(end)))
    }

    #[test]
    fn unmatched_candidates_stay_pending_until_their_view_leaves_the_window() {
        let mut slab = PendingSlab::new(4);
        let mut slot = 0;
        let plan = slab.begin(7, true, slot, 0);
        assert!(!plan.full_scan);
        slab.finish(&plan, ids(2, 100), 100, &mut slot);
        assert_ne!(slot, 0);
        let plan = slab.begin(7, true, slot, 99);
        assert_eq!(slab.pending(&plan), &[RuleId(0), RuleId(1)]);
        // Still pending only (not found again): keeps its old end.
        slab.finish(&plan, [(RuleId(1), None)].into_iter(), 150, &mut slot);
        let plan = slab.begin(7, true, slot, 100);
        assert!(slab.pending(&plan).is_empty());
        assert!(!plan.full_scan);
    }

    #[test]
    fn a_candidate_whose_pattern_left_the_window_is_not_kept() {
        let mut slab = PendingSlab::new(4);
        let mut slot = 0;
        let plan = slab.begin(7, true, slot, 0);
        let found = [(RuleId(0), Some(40)), (RuleId(1), Some(90))];
        slab.finish(&plan, found.into_iter(), 100, &mut slot);
        // The next view re-presents bytes 60.. : only the second occurrence is in it.
        let plan = slab.begin(7, true, slot, 60);
        assert_eq!(slab.pending(&plan), &[RuleId(1)]);
    }

    #[test]
    fn a_found_again_candidate_takes_the_new_end() {
        let mut slab = PendingSlab::new(4);
        let mut slot = 0;
        let plan = slab.begin(7, true, slot, 0);
        slab.finish(&plan, ids(1, 100), 100, &mut slot);
        let plan = slab.begin(7, true, slot, 50);
        slab.finish(&plan, [(RuleId(0), Some(150))].into_iter(), 150, &mut slot);
        let plan = slab.begin(7, true, slot, 120);
        assert_eq!(slab.pending(&plan), &[RuleId(0)]);
    }

    #[test]
    fn an_empty_list_frees_the_slot() {
        let mut slab = PendingSlab::new(4);
        let mut slot = 0;
        let plan = slab.begin(7, true, slot, 0);
        slab.finish(&plan, ids(1, 100), 100, &mut slot);
        let plan = slab.begin(7, true, slot, 10);
        slab.finish(&plan, ids(0, 110), 110, &mut slot);
        assert_eq!(slot, 0);
        let plan = slab.begin(7, true, slot, 20);
        assert!(!plan.full_scan);
        assert_eq!(slab.full_scans, 0);
    }

    #[test]
    fn overflow_scans_whole_views_until_the_dropped_entries_leave() {
        let mut slab = PendingSlab::new(4);
        let mut slot = 0;
        let plan = slab.begin(7, true, slot, 0);
        slab.finish(
            &plan,
            ids(PENDING_PER_DIRECTION as u32 + 1, 100),
            100,
            &mut slot,
        );
        let plan = slab.begin(7, true, slot, 60);
        assert!(plan.full_scan);
        assert!(slab.pending(&plan).is_empty());
        // The full scan found nothing pending: back to incremental scans.
        slab.finish(&plan, ids(0, 160), 160, &mut slot);
        let plan = slab.begin(7, true, slot, 100);
        assert!(!plan.full_scan);
        assert_eq!(slab.full_scans, 1);
    }

    #[test]
    fn an_evicted_list_costs_its_direction_one_full_scan() {
        let mut slab = PendingSlab::new(1);
        let (mut first, mut second) = (0, 0);
        let plan = slab.begin(1, true, first, 0);
        slab.finish(&plan, ids(1, 100), 100, &mut first);
        let plan = slab.begin(2, false, second, 0);
        slab.finish(&plan, ids(1, 100), 100, &mut second);
        assert_eq!(slab.evictions, 1);
        let plan = slab.begin(1, true, first, 50);
        assert!(plan.full_scan);
        assert_eq!(slab.full_scans, 1);
        let plan = slab.begin(2, false, second, 50);
        assert!(!plan.full_scan);
        assert_eq!(slab.pending(&plan), &[RuleId(0)]);
    }
}
