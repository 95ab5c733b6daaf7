//! Rule tuning without editing vendor files: `threshold.config` (suppress, event_filter /
//! threshold, rate_filter), a disable list and a modify list, plus the packet-time counters that
//! thresholds, detection_filter and rate_filter need.
//!
//! File syntax follows Snort 2.9 / Suricata:
//! ```text
//! suppress gen_id 1, sig_id 2003[, track by_src|by_dst, ip 10.0.0.0/8]
//! event_filter gen_id 1, sig_id 2004, type limit|threshold|both, track by_src|by_dst, count 1, seconds 60
//! rate_filter gen_id 1, sig_id 2005, track by_src|by_dst|by_rule, count 10, seconds 1, new_action drop, timeout 30
//! ```
//! `threshold` is a synonym of `event_filter`; `sig_id 0` means every rule of the generator.
//! Disable lines: `SID`, `GID:SID` or `re:REGEX` (on msg). Modify lines: `drop|reject|sdrop
//! SELECTOR` where SELECTOR is a disable-style selector or `all`; only alert rules change.
//!
//! Not here: the decision of which rule wins a packet (see [`crate::detect`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use nfips_rules::ast::{Action, RejectTarget, Rule, ThresholdKind, Track};
use regex::Regex;

/// `track` of a tuning line; `by_rule` counts all addresses together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackBy {
    Src,
    Dst,
    Rule,
}

impl From<Track> for TrackBy {
    fn from(track: Track) -> Self {
        match track {
            Track::BySrc => TrackBy::Src,
            Track::ByDst => TrackBy::Dst,
        }
    }
}

/// `gen_id G, sig_id S`; `sig_id 0` matches every rule of generator G, `gen_id 0` every rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub gid: u32,
    pub sid: u32,
}

impl RuleRef {
    pub fn matches(&self, gid: u32, sid: u32) -> bool {
        (self.gid == 0 || self.gid == gid) && (self.sid == 0 || self.sid == sid)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppress {
    pub rule: RuleRef,
    /// With `track`: only alerts whose tracked address is in `nets` are suppressed.
    pub track: Option<(TrackBy, Vec<IpNet>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventFilter {
    pub rule: RuleRef,
    pub kind: ThresholdKind,
    pub track: TrackBy,
    pub count: u32,
    pub seconds: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateFilter {
    pub rule: RuleRef,
    pub track: TrackBy,
    pub count: u32,
    pub seconds: u32,
    pub new_action: Action,
    pub timeout: u32,
}

/// A parsed threshold.config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThresholdConfig {
    pub suppress: Vec<Suppress>,
    pub event_filters: Vec<EventFilter>,
    pub rate_filters: Vec<RateFilter>,
}

/// Which rules a disable or modify line names.
#[derive(Clone, Debug)]
pub enum Selector {
    Sid { gid: Option<u32>, sid: u32 },
    MsgRegex(Regex),
    All,
}

impl Selector {
    pub fn matches(&self, rule: &Rule) -> bool {
        match self {
            Selector::Sid { gid, sid } => rule.sid == *sid && gid.is_none_or(|g| g == rule.gid),
            Selector::MsgRegex(re) => re.is_match(&rule.msg),
            Selector::All => true,
        }
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
}

/// Lines without comments and blanks, numbered from 1.
fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let line = line
            .split_once('#')
            .map_or(line, |(before, _)| before)
            .trim();
        (!line.is_empty()).then_some((i + 1, line))
    })
}

fn parse_selector(text: &str, allow_all: bool) -> Result<Selector, String> {
    if let Some(re) = text.strip_prefix("re:") {
        return Regex::new(re)
            .map(Selector::MsgRegex)
            .map_err(|e| format!("bad regex: {e}"));
    }
    if allow_all && text == "all" {
        return Ok(Selector::All);
    }
    let number = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("expected SID, GID:SID or re:REGEX, got {text:?}"))
    };
    match text.split_once(':') {
        Some((gid, sid)) => Ok(Selector::Sid {
            gid: Some(number(gid)?),
            sid: number(sid)?,
        }),
        None => Ok(Selector::Sid {
            gid: None,
            sid: number(text)?,
        }),
    }
}

/// Parse a disable list; errors are `origin:line: message`.
pub fn parse_disable(text: &str, origin: &str) -> Result<Vec<Selector>, String> {
    content_lines(text)
        .map(|(n, line)| parse_selector(line, false).map_err(|e| format!("{origin}:{n}: {e}")))
        .collect()
}

/// Parse a modify list: `drop|sdrop|reject SELECTOR`.
pub fn parse_modify(text: &str, origin: &str) -> Result<Vec<(Action, Selector)>, String> {
    content_lines(text)
        .map(|(n, line)| {
            let err = |e: String| format!("{origin}:{n}: {e}");
            let (action, rest) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| err("expected `drop|sdrop|reject SELECTOR`".into()))?;
            let action = match action {
                "drop" => Action::Drop,
                "sdrop" => Action::Sdrop,
                "reject" => Action::Reject(RejectTarget::Both),
                other => {
                    return Err(err(format!(
                        "unknown action {other:?} (drop, sdrop or reject)"
                    )))
                }
            };
            Ok((action, parse_selector(rest.trim(), true).map_err(err)?))
        })
        .collect()
}

pub fn load_disable(path: &Path) -> Result<Vec<Selector>, String> {
    parse_disable(&read(path)?, &path.display().to_string())
}

pub fn load_modify(path: &Path) -> Result<Vec<(Action, Selector)>, String> {
    parse_modify(&read(path)?, &path.display().to_string())
}

pub fn load_threshold(path: &Path) -> Result<ThresholdConfig, String> {
    parse_threshold(&read(path)?, &path.display().to_string())
}

/// Remove disabled rules; returns how many were removed.
pub fn apply_disable(rules: &mut Vec<Rule>, list: &[Selector]) -> usize {
    let before = rules.len();
    rules.retain(|rule| !list.iter().any(|sel| sel.matches(rule)));
    before - rules.len()
}

/// Turn alert rules named by the list into drop/sdrop/reject; returns how many changed.
pub fn apply_modify(rules: &mut [Rule], list: &[(Action, Selector)]) -> usize {
    let mut changed = 0;
    for rule in rules.iter_mut().filter(|r| r.action == Action::Alert) {
        if let Some((action, _)) = list.iter().find(|(_, sel)| sel.matches(rule)) {
            rule.action = *action;
            changed += 1;
        }
    }
    changed
}

/// Parse threshold.config text; errors are `origin:line: message`.
pub fn parse_threshold(text: &str, origin: &str) -> Result<ThresholdConfig, String> {
    let mut config = ThresholdConfig::default();
    for (n, line) in content_lines(text) {
        parse_threshold_line(line, &mut config).map_err(|e| format!("{origin}:{n}: {e}"))?;
    }
    Ok(config)
}

fn parse_threshold_line(line: &str, config: &mut ThresholdConfig) -> Result<(), String> {
    let (directive, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for part in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, value) = part
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("expected `name value`, got {part:?}"))?;
        if fields.insert(name, value.trim()).is_some() {
            return Err(format!("{name} given twice"));
        }
    }
    let allowed: &[&str] = match directive {
        "suppress" => &["gen_id", "sig_id", "track", "ip"],
        "event_filter" | "threshold" => &["gen_id", "sig_id", "type", "track", "count", "seconds"],
        "rate_filter" => &[
            "gen_id",
            "sig_id",
            "track",
            "count",
            "seconds",
            "new_action",
            "timeout",
            "apply_to",
        ],
        other => {
            return Err(format!(
                "unknown directive {other:?} (suppress, event_filter, threshold, rate_filter)"
            ))
        }
    };
    if let Some(unknown) = fields.keys().find(|k| !allowed.contains(k)) {
        return Err(format!("{directive}: unknown field {unknown:?}"));
    }
    let number = |name: &str| -> Result<u32, String> {
        fields
            .get(name)
            .ok_or_else(|| format!("{directive}: missing {name}"))?
            .parse()
            .map_err(|_| format!("{directive}: {name} must be a number"))
    };
    let track = |allow_rule: bool| -> Result<TrackBy, String> {
        match fields.get("track").copied() {
            Some("by_src") => Ok(TrackBy::Src),
            Some("by_dst") => Ok(TrackBy::Dst),
            Some("by_rule") if allow_rule => Ok(TrackBy::Rule),
            Some(other) => Err(format!("{directive}: bad track {other:?}")),
            None => Err(format!("{directive}: missing track")),
        }
    };
    let rule = RuleRef {
        gid: number("gen_id")?,
        sid: number("sig_id")?,
    };
    match directive {
        "suppress" => {
            let track = match (fields.contains_key("track"), fields.get("ip")) {
                (false, None) => None,
                (true, Some(ip)) => Some((track(false)?, parse_nets(ip)?)),
                _ => return Err("suppress: track and ip go together".into()),
            };
            config.suppress.push(Suppress { rule, track });
        }
        "rate_filter" => {
            let new_action = match fields.get("new_action").copied() {
                Some("drop") => Action::Drop,
                Some("sdrop") => Action::Sdrop,
                Some("reject") => Action::Reject(RejectTarget::Both),
                Some("alert") => Action::Alert,
                Some("pass") => Action::Pass,
                Some(other) => return Err(format!("rate_filter: bad new_action {other:?}")),
                None => return Err("rate_filter: missing new_action".into()),
            };
            config.rate_filters.push(RateFilter {
                rule,
                track: track(true)?,
                count: number("count")?,
                seconds: number("seconds")?,
                new_action,
                timeout: number("timeout")?,
            });
        }
        _ => {
            let kind = match fields.get("type").copied() {
                Some("limit") => ThresholdKind::Limit,
                Some("threshold") => ThresholdKind::Threshold,
                Some("both") => ThresholdKind::Both,
                Some(other) => return Err(format!("{directive}: bad type {other:?}")),
                None => return Err(format!("{directive}: missing type")),
            };
            config.event_filters.push(EventFilter {
                rule,
                kind,
                track: track(false)?,
                count: number("count")?,
                seconds: number("seconds")?,
            });
        }
    }
    Ok(())
}

fn parse_nets(text: &str) -> Result<Vec<IpNet>, String> {
    text.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(str::trim)
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("bad ip {s:?}"))
        })
        .collect()
}

/// Which filter a tracking entry counts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Counter {
    Detection,
    Event,
    Rate,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    start_us: u64,
    count: u32,
    /// rate_filter: the new action applies until this time.
    active_until_us: u64,
}

/// Packet-time counters per (rule, tracked address) for detection_filter, thresholds and
/// rate_filter. Bounded by `tuning.max-entries`; when full, new keys are not tracked (they
/// behave as a first match) and `untracked` counts them.
pub struct Tracker {
    windows: HashMap<(Counter, u32, [u8; 16]), Window>,
    max_entries: usize,
    pub untracked: u64,
}

/// One match of one rule, as the counters see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatchAt {
    /// Index of the rule in its RuleSet.
    pub rule: u32,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Packet time, µs.
    pub now_us: u64,
}

/// The outcome of counting one match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// How many matches (including this one) fell in the current window.
    InWindow(u32),
    Untracked,
}

impl Tracker {
    pub fn new(max_entries: u64) -> Self {
        Tracker {
            windows: HashMap::new(),
            max_entries: max_entries as usize,
            untracked: 0,
        }
    }

    fn key_addr(track: TrackBy, src: IpAddr, dst: IpAddr) -> [u8; 16] {
        let addr = match track {
            TrackBy::Src => src,
            TrackBy::Dst => dst,
            TrackBy::Rule => return [0; 16],
        };
        crate::flow::Endpoint::new(addr, 0).addr
    }

    fn count(
        &mut self,
        counter: Counter,
        at: &MatchAt,
        track: TrackBy,
        seconds: u32,
    ) -> (Count, Option<&mut Window>) {
        let (rule, now_us) = (at.rule, at.now_us);
        let addr = Self::key_addr(track, at.src, at.dst);
        let window_us = u64::from(seconds) * 1_000_000;
        let key = (counter, rule, addr);
        if !self.windows.contains_key(&key) && self.windows.len() >= self.max_entries {
            // Drop entries whose windows are over before giving up on this key.
            self.windows.retain(|_, w| {
                now_us.saturating_sub(w.start_us) < window_us.max(1) || w.active_until_us > now_us
            });
            if self.windows.len() >= self.max_entries {
                self.untracked += 1;
                return (Count::Untracked, None);
            }
        }
        let w = self.windows.entry(key).or_insert(Window {
            start_us: now_us,
            count: 0,
            active_until_us: 0,
        });
        if now_us.saturating_sub(w.start_us) >= window_us {
            w.start_us = now_us;
            w.count = 0;
        }
        w.count = w.count.saturating_add(1);
        (Count::InWindow(w.count), Some(w))
    }

    /// detection_filter: does the rule fire on this match (from the (count+1)-th match in
    /// `seconds`)?
    pub fn detection_filter(
        &mut self,
        at: &MatchAt,
        track: TrackBy,
        count: u32,
        seconds: u32,
    ) -> bool {
        match self.count(Counter::Detection, at, track, seconds).0 {
            Count::InWindow(n) => n > count,
            Count::Untracked => false,
        }
    }

    /// threshold / event_filter: is this match logged?
    pub fn event_filter(&mut self, at: &MatchAt, filter: &EventFilter) -> bool {
        let n = match self
            .count(Counter::Event, at, filter.track, filter.seconds)
            .0
        {
            Count::InWindow(n) => n,
            Count::Untracked => return true,
        };
        let count = filter.count.max(1);
        match filter.kind {
            ThresholdKind::Limit => n <= count,
            ThresholdKind::Threshold => n % count == 0,
            ThresholdKind::Both => n == count,
        }
    }

    /// rate_filter: does `new_action` replace the rule's action for this match?
    pub fn rate_filter(&mut self, at: &MatchAt, filter: &RateFilter) -> bool {
        let (count, window) = self.count(Counter::Rate, at, filter.track, filter.seconds);
        let Some(window) = window else { return false };
        if window.active_until_us > at.now_us {
            return true;
        }
        if matches!(count, Count::InWindow(n) if n > filter.count) {
            window.active_until_us = at.now_us + u64::from(filter.timeout) * 1_000_000;
            return true;
        }
        false
    }

    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
    const SEC: u64 = 1_000_000;

    fn at(rule: u32, src: IpAddr, dst: IpAddr, now_us: u64) -> MatchAt {
        MatchAt {
            rule,
            src,
            dst,
            now_us,
        }
    }

    fn ef(kind: ThresholdKind, track: TrackBy, count: u32, seconds: u32) -> EventFilter {
        EventFilter {
            rule: RuleRef { gid: 1, sid: 1 },
            kind,
            track,
            count,
            seconds,
        }
    }

    #[test]
    fn threshold_config_lines_parse() {
        let c = parse_threshold(
            "# comment\nsuppress gen_id 1, sig_id 5\nsuppress gen_id 1, sig_id 6, track by_src, ip 10.0.0.0/8\n\
             event_filter gen_id 1, sig_id 7, type limit, track by_dst, count 2, seconds 60\n\
             threshold gen_id 1, sig_id 8, type both, track by_src, count 3, seconds 10\n\
             rate_filter gen_id 1, sig_id 9, track by_rule, count 10, seconds 1, new_action drop, timeout 30\n",
            "t.conf",
        )
        .unwrap();
        assert_eq!(c.suppress.len(), 2);
        assert_eq!(c.suppress[1].track.as_ref().unwrap().0, TrackBy::Src);
        assert_eq!(
            c.event_filters[0],
            EventFilter {
                rule: RuleRef { gid: 1, sid: 7 },
                kind: ThresholdKind::Limit,
                track: TrackBy::Dst,
                count: 2,
                seconds: 60
            }
        );
        assert_eq!(c.event_filters[1].kind, ThresholdKind::Both);
        assert_eq!(c.rate_filters[0].new_action, Action::Drop);
        assert_eq!(c.rate_filters[0].timeout, 30);
    }

    #[test]
    fn threshold_errors_name_file_and_line() {
        let err = parse_threshold("suppress gen_id 1, sig_id 1\nevent_filter gen_id 1, sig_id 2, type often, track by_src, count 1, seconds 1\n", "t.conf").unwrap_err();
        assert!(err.starts_with("t.conf:2:"), "{err}");
        assert!(parse_threshold("supress gen_id 1, sig_id 1", "x")
            .unwrap_err()
            .contains("unknown directive"));
        assert!(parse_threshold("suppress gen_id 1", "x")
            .unwrap_err()
            .contains("missing sig_id"));
        assert!(parse_threshold("suppress gen_id 1, sig_id 1, track by_src", "x").is_err());
    }

    #[test]
    fn disable_and_modify_lists_parse_and_report_lines() {
        let d = parse_disable("1234\n1:2345\nre:^ET POLICY\n", "d").unwrap();
        assert_eq!(d.len(), 3);
        assert!(parse_disable("12x\n", "d.conf")
            .unwrap_err()
            .starts_with("d.conf:1:"));
        let m = parse_modify("drop all\nreject 5\n", "m").unwrap();
        assert!(matches!(m[0], (Action::Drop, Selector::All)));
        assert!(parse_modify("block 5\n", "m.conf")
            .unwrap_err()
            .starts_with("m.conf:1:"));
    }

    #[test]
    fn limit_logs_the_first_count_matches_per_window() {
        let mut t = Tracker::new(100);
        let logged: Vec<bool> = (0..4)
            .map(|i| {
                t.event_filter(
                    &at(1, A, B, i),
                    &ef(ThresholdKind::Limit, TrackBy::Src, 2, 60),
                )
            })
            .collect();
        assert_eq!(logged, [true, true, false, false]);
        assert!(t.event_filter(
            &at(1, A, B, 61 * SEC),
            &ef(ThresholdKind::Limit, TrackBy::Src, 2, 60)
        ));
        assert!(
            t.event_filter(
                &at(1, B, A, 3),
                &ef(ThresholdKind::Limit, TrackBy::Src, 2, 60)
            ),
            "other source has its own count"
        );
    }

    #[test]
    fn threshold_logs_every_countth_and_both_once() {
        let mut t = Tracker::new(100);
        let every: Vec<bool> = (0..6)
            .map(|i| {
                t.event_filter(
                    &at(1, A, B, i),
                    &ef(ThresholdKind::Threshold, TrackBy::Src, 3, 60),
                )
            })
            .collect();
        assert_eq!(every, [false, false, true, false, false, true]);
        let once: Vec<bool> = (0..6)
            .map(|i| {
                t.event_filter(
                    &at(2, A, B, i),
                    &ef(ThresholdKind::Both, TrackBy::Dst, 3, 60),
                )
            })
            .collect();
        assert_eq!(once, [false, false, true, false, false, false]);
    }

    #[test]
    fn detection_filter_fires_after_count_in_packet_time() {
        let mut t = Tracker::new(100);
        let fired: Vec<bool> = (0..4)
            .map(|i| t.detection_filter(&at(1, A, B, i * SEC), TrackBy::Src, 2, 10))
            .collect();
        assert_eq!(fired, [false, false, true, true]);
        assert!(
            !t.detection_filter(&at(1, A, B, 20 * SEC), TrackBy::Src, 2, 10),
            "a new window starts over"
        );
    }

    #[test]
    fn rate_filter_switches_action_for_timeout() {
        let mut t = Tracker::new(100);
        let f = RateFilter {
            rule: RuleRef { gid: 1, sid: 1 },
            track: TrackBy::Src,
            count: 2,
            seconds: 1,
            new_action: Action::Drop,
            timeout: 5,
        };
        let hits: Vec<bool> = (0..3).map(|i| t.rate_filter(&at(1, A, B, i), &f)).collect();
        assert_eq!(hits, [false, false, true]);
        assert!(
            t.rate_filter(&at(1, A, B, 4 * SEC), &f),
            "still within the timeout"
        );
        assert!(!t.rate_filter(&at(1, A, B, 10 * SEC), &f));
    }

    #[test]
    fn full_tracker_counts_untracked() {
        let mut t = Tracker::new(1);
        t.detection_filter(&at(1, A, B, 0), TrackBy::Src, 0, 10);
        assert!(!t.detection_filter(&at(1, B, A, 0), TrackBy::Src, 0, 10));
        assert_eq!(t.untracked, 1);
    }
}
