//! Per-worker counters: plain integers updated on the packet path, read as (name, value) pairs
//! for summaries and EVE stats records, and added up across workers.
//!
//! Not here: rates or timing (the caller divides by its own clock).

use std::collections::HashMap;

/// Counters of one worker. Every limit the packet path can hit has one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    pub packets: u64,
    pub bytes: u64,
    pub accepted: u64,
    pub dropped: u64,
    /// Dropped packets that also asked for resets / unreachables.
    pub rejected: u64,
    /// Packets accepted because their flow was passed (or bypassed).
    pub passed: u64,
    pub alerts: u64,
    pub drop_rules: u64,
    pub drop_flow: u64,
    pub drop_decode: u64,
    pub drop_stickydrop: u64,
    /// Packets the TCP stream dropped (out of window, overlap conflict, limits ...).
    pub drop_stream: u64,
    /// Fragments dropped by defragmentation (overlaps, tiny fragments, limits).
    pub drop_defrag: u64,
    pub sticky_requests: u64,
    /// Packets with a bad checksum: never inspected.
    pub checksum_invalid: u64,
    /// Packets that could not be decoded (see `decode_events`).
    pub decode_errors: u64,
    /// Decode events by reason.
    pub decode_events: Vec<(&'static str, u64)>,
    pub flows_created: u64,
    pub flows_timed_out: u64,
    pub flow_emergency_prunes: u64,
    pub flows_evicted: u64,
    pub flows_active: u64,
    /// Threshold/detection_filter/rate_filter keys not tracked (tuning.max-entries reached).
    pub tuning_untracked: u64,
    /// Output records lost to a full channel (shared by all workers of one output).
    pub output_lost: u64,
    /// Stream, defrag and HTTP counters as (prefix, name, value), reported as `prefix.name`
    /// (`stream.*`, `defrag.*`, `http.*`, `event.stream.*`, `event.defrag.*`).
    pub layer_counters: Vec<(&'static str, &'static str, u64)>,
    /// Alert records per (gid, sid).
    pub alerts_by_sid: HashMap<(u32, u32), u64>,
}

impl WorkerStats {
    pub fn decode_event(&mut self, reason: &'static str) {
        self.decode_event_count(reason, 1);
    }

    pub fn decode_event_count(&mut self, reason: &'static str, count: u64) {
        match self
            .decode_events
            .iter_mut()
            .find(|(name, _)| *name == reason)
        {
            Some((_, total)) => *total += count,
            None => self.decode_events.push((reason, count)),
        }
    }

    /// Every scalar counter as (name, value), decode events as `decode.<reason>`.
    pub fn counters(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = [
            ("packets", self.packets),
            ("bytes", self.bytes),
            ("accepted", self.accepted),
            ("dropped", self.dropped),
            ("rejected", self.rejected),
            ("passed", self.passed),
            ("alerts", self.alerts),
            ("drop_rules", self.drop_rules),
            ("drop_flow", self.drop_flow),
            ("drop_decode", self.drop_decode),
            ("drop_stickydrop", self.drop_stickydrop),
            ("drop_stream", self.drop_stream),
            ("drop_defrag", self.drop_defrag),
            ("sticky_requests", self.sticky_requests),
            ("checksum_invalid", self.checksum_invalid),
            ("decode_errors", self.decode_errors),
            ("flows_created", self.flows_created),
            ("flows_timed_out", self.flows_timed_out),
            ("flow_emergency_prunes", self.flow_emergency_prunes),
            ("flows_evicted", self.flows_evicted),
            ("flows_active", self.flows_active),
            ("tuning_untracked", self.tuning_untracked),
            ("output_lost", self.output_lost),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
        out.extend(
            self.decode_events
                .iter()
                .map(|(name, value)| (format!("decode.{name}"), *value)),
        );
        out.extend(
            self.layer_counters
                .iter()
                .map(|(prefix, name, value)| (format!("{prefix}.{name}"), *value)),
        );
        out
    }

    /// Add another worker's counters to these.
    pub fn merge(&mut self, other: &WorkerStats) {
        macro_rules! add {
            ($($field:ident),*) => { $( self.$field += other.$field; )* };
        }
        add!(
            packets,
            bytes,
            accepted,
            dropped,
            rejected,
            passed,
            alerts,
            drop_rules,
            drop_flow,
            drop_decode,
            drop_stickydrop,
            drop_stream,
            drop_defrag,
            sticky_requests,
            checksum_invalid,
            decode_errors,
            flows_created,
            flows_timed_out,
            flow_emergency_prunes,
            flows_evicted,
            flows_active,
            tuning_untracked
        );
        // One output channel is shared: its loss count is the same number in every worker.
        self.output_lost = self.output_lost.max(other.output_lost);
        for &(prefix, name, count) in &other.layer_counters {
            match self
                .layer_counters
                .iter_mut()
                .find(|(p, n, _)| *p == prefix && *n == name)
            {
                Some((_, _, total)) => *total += count,
                None => self.layer_counters.push((prefix, name, count)),
            }
        }
        for &(name, count) in &other.decode_events {
            self.decode_event_count(name, count);
        }
        for (key, count) in &other.alerts_by_sid {
            *self.alerts_by_sid.entry(*key).or_default() += count;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counters_and_events() {
        let mut a = WorkerStats {
            packets: 2,
            ..Default::default()
        };
        a.decode_event("truncated");
        let mut b = WorkerStats {
            packets: 3,
            ..Default::default()
        };
        b.decode_event("truncated");
        b.decode_event("truncated");
        b.decode_event("bad-version");
        b.alerts_by_sid.insert((1, 5), 4);
        a.merge(&b);
        assert_eq!(a.packets, 5);
        assert_eq!(a.decode_events, vec![("truncated", 3), ("bad-version", 1)]);
        assert_eq!(a.alerts_by_sid[&(1, 5)], 4);
        assert!(a.counters().contains(&("decode.truncated".to_string(), 3)));
    }
}
