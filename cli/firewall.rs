//! `nfips firewall`: the iptables/ip6tables (and nftables set) rules that put nfips inline.
//!
//! For IPv4 and IPv6 alike, in this order on the chosen hook:
//! 1. mangle: restore the connection mark into the packet mark (`CONNMARK --restore-mark`);
//! 2. an nftables chain (priority -5, before iptables' filter) drops addresses in the
//!    stickydrop sets `inet nfips sticky4/sticky6` (filled by `stickydrop.kernel-set`);
//! 3. filter: accept connections whose connmark has the bypass bit, then
//!    `-j NFQUEUE --queue-balance A:B --queue-bypass` (no `--queue-bypass` when fail-closed);
//! 4. after the verdict, copy the bypass bit of the packet mark into the connmark (mangle
//!    POSTROUTING; security INPUT for the INPUT hook, which has no POSTROUTING).
//!
//! Every rule lives in a dedicated chain (`NFIPS`, `NFIPS_RESTORE`, `NFIPS_SAVE`, the nft table
//! `inet nfips`) reached by one jump from the base chain, so `--remove` deletes exactly what
//! `--apply` added, and both are idempotent. Not here: any packet handling.

use std::fmt;
use std::process::{Command, ExitCode};

use anyhow::{bail, Context};

/// The default bypass mark: one bit, leaving the others to shaping and routing.
pub const DEFAULT_BYPASS_MARK: Mark = Mark {
    value: 0x1000_0000,
    mask: 0x1000_0000,
};

/// A mark `value/mask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub value: u32,
    pub mask: u32,
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}/{:#x}", self.value, self.mask)
    }
}

fn parse_u32(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("`{text}` is not a 32-bit number (decimal or 0x hex)"))
}

impl std::str::FromStr for Mark {
    type Err = String;

    /// `M/MASK` or `M` (mask = M).
    fn from_str(text: &str) -> Result<Self, String> {
        let (value, mask) = match text.split_once('/') {
            Some((value, mask)) => (parse_u32(value)?, parse_u32(mask)?),
            None => {
                let value = parse_u32(text)?;
                (value, value)
            }
        };
        if mask == 0 || value & !mask != 0 {
            return Err(format!(
                "bypass mark `{text}`: the mask must be non-zero and cover the value (e.g. 0x10000000/0x10000000)"
            ));
        }
        Ok(Mark { value, mask })
    }
}

/// A queue range `A:B` or a single queue `N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueRange {
    pub first: u16,
    pub last: u16,
}

impl QueueRange {
    pub fn numbers(&self) -> impl Iterator<Item = u16> {
        self.first..=self.last
    }
}

impl std::str::FromStr for QueueRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let number = |t: &str| {
            t.trim()
                .parse::<u16>()
                .map_err(|_| format!("`{t}` is not a queue number (0-65535)"))
        };
        let (first, last) = match text.split_once(':') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(text)?, number(text)?),
        };
        if first > last {
            return Err(format!(
                "queue range `{text}`: the first queue must not exceed the last"
            ));
        }
        Ok(QueueRange { first, last })
    }
}

impl fmt::Display for QueueRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.first, self.last)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "UPPER")]
pub enum Hook {
    Forward,
    Input,
    Output,
}

impl Hook {
    fn iptables_chain(self) -> &'static str {
        match self {
            Hook::Forward => "FORWARD",
            Hook::Input => "INPUT",
            Hook::Output => "OUTPUT",
        }
    }

    fn nft_hook(self) -> &'static str {
        match self {
            Hook::Forward => "forward",
            Hook::Input => "input",
            Hook::Output => "output",
        }
    }

    /// Where the connmark is restored: before routing for received packets.
    fn restore_chain(self) -> &'static str {
        match self {
            Hook::Forward | Hook::Input => "PREROUTING",
            Hook::Output => "OUTPUT",
        }
    }

    /// Where the packet mark set by the verdict is saved: after the filter table.
    fn save_table_chain(self) -> (&'static str, &'static str) {
        match self {
            Hook::Forward | Hook::Output => ("mangle", "POSTROUTING"),
            Hook::Input => ("security", "INPUT"),
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// NFQUEUE numbers: `A:B` spreads flows over queues A..=B, `N` uses one queue.
    #[arg(long, default_value = "0:0")]
    queues: QueueRange,
    /// The base chain to hook.
    #[arg(long, value_enum, default_value = "FORWARD")]
    chain: Hook,
    /// The bypass bit(s) in the connection mark: `M/MASK` (other mark bits are left alone).
    #[arg(long, default_value_t = DEFAULT_BYPASS_MARK)]
    bypass_mark: Mark,
    /// Drop traffic when no nfips worker is bound (default: it passes uninspected).
    #[arg(long)]
    fail_closed: bool,
    /// Leave out the nftables stickydrop sets and their drop chain.
    #[arg(long)]
    no_sticky_set: bool,
    /// Install the rules (after removing any earlier nfips rules).
    #[arg(long, conflicts_with = "remove")]
    apply: bool,
    /// Remove the rules `--apply` installed.
    #[arg(long)]
    remove: bool,
}

/// One command of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub argv: Vec<String>,
    /// Removal steps fail harmlessly when there is nothing to remove.
    pub may_fail: bool,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted: Vec<String> = self
            .argv
            .iter()
            .map(|a| {
                if a.chars().any(|c| " {};@".contains(c)) {
                    format!("'{a}'")
                } else {
                    a.clone()
                }
            })
            .collect();
        f.write_str(&quoted.join(" "))
    }
}

fn step(may_fail: bool, program: &str, args: &[&str]) -> Step {
    let mut argv = vec![program.to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    Step { argv, may_fail }
}

const CHAIN_QUEUE: &str = "NFIPS";
const CHAIN_RESTORE: &str = "NFIPS_RESTORE";
const CHAIN_SAVE: &str = "NFIPS_SAVE";

/// The (table, base chain, our chain) jumps, in install order.
fn jumps(hook: Hook) -> [(&'static str, &'static str, &'static str); 3] {
    let (save_table, save_chain) = hook.save_table_chain();
    [
        ("mangle", hook.restore_chain(), CHAIN_RESTORE),
        (save_table, save_chain, CHAIN_SAVE),
        ("filter", hook.iptables_chain(), CHAIN_QUEUE),
    ]
}

/// Steps that remove everything nfips installed, whichever hook it was applied to; each may
/// fail when already absent.
pub fn removal_plan() -> Vec<Step> {
    let mut all_jumps: Vec<_> = [Hook::Forward, Hook::Input, Hook::Output]
        .into_iter()
        .flat_map(jumps)
        .collect();
    all_jumps.sort();
    all_jumps.dedup();
    let mut chains: Vec<_> = all_jumps
        .iter()
        .map(|&(table, _, chain)| (table, chain))
        .collect();
    chains.sort();
    chains.dedup();
    let mut steps = Vec::new();
    for program in ["iptables", "ip6tables"] {
        for &(table, base, chain) in &all_jumps {
            steps.push(step(
                true,
                program,
                &["-w", "-t", table, "-D", base, "-j", chain],
            ));
        }
        for &(table, chain) in &chains {
            steps.push(step(true, program, &["-w", "-t", table, "-F", chain]));
            steps.push(step(true, program, &["-w", "-t", table, "-X", chain]));
        }
    }
    steps.push(step(true, "nft", &["delete", "table", "inet", "nfips"]));
    steps
}

/// Steps that install the rules (run after [`removal_plan`]).
pub fn apply_plan(args: &Args) -> Vec<Step> {
    let mark = args.bypass_mark;
    let value_mask = format!("{:#x}/{:#x}", mark.value, mark.mask);
    let mask = format!("{:#x}", mark.mask);
    let mut steps = Vec::new();
    if !args.no_sticky_set {
        let hook = args.chain.nft_hook();
        steps.push(step(false, "nft", &["add", "table", "inet", "nfips"]));
        for (set, kind) in [("sticky4", "ipv4_addr"), ("sticky6", "ipv6_addr")] {
            let spec = format!("{{ type {kind}; flags timeout; }}");
            steps.push(step(
                false,
                "nft",
                &["add", "set", "inet", "nfips", set, &spec],
            ));
        }
        let spec = format!("{{ type filter hook {hook} priority -5; policy accept; }}");
        steps.push(step(
            false,
            "nft",
            &["add", "chain", "inet", "nfips", "sticky", &spec],
        ));
        for (family, set) in [("ip", "@sticky4"), ("ip6", "@sticky6")] {
            for field in ["saddr", "daddr"] {
                steps.push(step(
                    false,
                    "nft",
                    &[
                        "add", "rule", "inet", "nfips", "sticky", family, field, set, "counter",
                        "drop",
                    ],
                ));
            }
        }
    }
    let (save_table, _) = args.chain.save_table_chain();
    let queue_target: Vec<String> = {
        let mut target = vec!["-j".to_string(), "NFQUEUE".to_string()];
        if args.queues.first == args.queues.last {
            target.extend(["--queue-num".to_string(), args.queues.first.to_string()]);
        } else {
            target.extend(["--queue-balance".to_string(), args.queues.to_string()]);
        }
        if !args.fail_closed {
            target.push("--queue-bypass".to_string());
        }
        target
    };
    for program in ["iptables", "ip6tables"] {
        for (table, _, chain) in jumps(args.chain) {
            steps.push(step(false, program, &["-w", "-t", table, "-N", chain]));
        }
        steps.push(step(
            false,
            program,
            &[
                "-w",
                "-t",
                "mangle",
                "-A",
                CHAIN_RESTORE,
                "-j",
                "CONNMARK",
                "--restore-mark",
                "--nfmask",
                &mask,
                "--ctmask",
                &mask,
            ],
        ));
        steps.push(step(
            false,
            program,
            &[
                "-w",
                "-t",
                save_table,
                "-A",
                CHAIN_SAVE,
                "-m",
                "mark",
                "--mark",
                &value_mask,
                "-j",
                "CONNMARK",
                "--save-mark",
                "--nfmask",
                &mask,
                "--ctmask",
                &mask,
            ],
        ));
        steps.push(step(
            false,
            program,
            &[
                "-w",
                "-t",
                "filter",
                "-A",
                CHAIN_QUEUE,
                "-m",
                "connmark",
                "--mark",
                &value_mask,
                "-j",
                "ACCEPT",
            ],
        ));
        let mut queue_rule = vec!["-w", "-t", "filter", "-A", CHAIN_QUEUE];
        queue_rule.extend(queue_target.iter().map(String::as_str));
        steps.push(step(false, program, &queue_rule));
        for (table, base, chain) in jumps(args.chain) {
            steps.push(step(
                false,
                program,
                &["-w", "-t", table, "-I", base, "1", "-j", chain],
            ));
        }
    }
    steps
}

fn run_step(step: &Step) -> anyhow::Result<()> {
    let output = Command::new(&step.argv[0])
        .args(&step.argv[1..])
        .output()
        .with_context(|| {
            format!(
                "cannot run `{}`; install iptables and nftables",
                step.argv[0]
            )
        })?;
    if output.status.success() || step.may_fail {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let hint = if stderr.contains("Permission denied") || stderr.contains("Operation not permitted")
    {
        "; run as root (CAP_NET_ADMIN)"
    } else if stderr.contains("NFQUEUE") || stderr.contains("No chain/target/match") {
        "; load the kernel modules (xt_NFQUEUE, xt_connmark, xt_CONNMARK, nfnetlink_queue)"
    } else {
        ""
    };
    bail!("`{step}` failed: {}{hint}", stderr.trim())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let removal = removal_plan();
    if args.remove {
        for step in &removal {
            run_step(step)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let plan = apply_plan(&args);
    if args.apply {
        for step in &removal {
            run_step(step)?;
        }
        for step in &plan {
            if let Err(err) = run_step(step) {
                for undo in &removal {
                    let _ = run_step(undo);
                }
                return Err(err.context("the nfips firewall rules were rolled back"));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!("# nfips firewall rules (apply with --apply, remove with --remove)");
    for step in &plan {
        println!("{step}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: Args,
    }

    fn plan_text(argv: &[&str]) -> Vec<String> {
        let mut full = vec!["firewall"];
        full.extend_from_slice(argv);
        let args = Wrapper::try_parse_from(full).expect("args").args;
        apply_plan(&args).iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_plan_queues_forward_with_bypass_for_both_families() {
        let plan = plan_text(&[]);
        for program in ["iptables", "ip6tables"] {
            let queue =
                format!("{program} -w -t filter -A NFIPS -j NFQUEUE --queue-num 0 --queue-bypass");
            assert!(plan.contains(&queue), "{plan:#?}");
            let jump = format!("{program} -w -t filter -I FORWARD 1 -j NFIPS");
            assert!(plan.contains(&jump));
            let restore = format!("{program} -w -t mangle -I PREROUTING 1 -j NFIPS_RESTORE");
            assert!(plan.contains(&restore));
            let save = format!("{program} -w -t mangle -I POSTROUTING 1 -j NFIPS_SAVE");
            assert!(plan.contains(&save));
        }
    }

    #[test]
    fn bypass_accept_comes_before_the_queue_rule() {
        let plan = plan_text(&["--bypass-mark", "0x4/0x4"]);
        let accept = plan
            .iter()
            .position(|s| {
                s == "iptables -w -t filter -A NFIPS -m connmark --mark 0x4/0x4 -j ACCEPT"
            })
            .expect("accept rule");
        let queue = plan
            .iter()
            .position(|s| s.contains("-A NFIPS -j NFQUEUE"))
            .expect("queue rule");
        assert!(accept < queue);
        assert!(plan.contains(
            &"iptables -w -t mangle -A NFIPS_SAVE -m mark --mark 0x4/0x4 -j CONNMARK --save-mark --nfmask 0x4 --ctmask 0x4"
                .to_string()
        ));
        assert!(plan.contains(
            &"iptables -w -t mangle -A NFIPS_RESTORE -j CONNMARK --restore-mark --nfmask 0x4 --ctmask 0x4".to_string()
        ));
    }

    #[test]
    fn queue_range_uses_balance_and_fail_closed_drops_bypass() {
        let plan = plan_text(&["--queues", "2:5", "--fail-closed"]);
        assert!(plan.contains(
            &"iptables -w -t filter -A NFIPS -j NFQUEUE --queue-balance 2:5".to_string()
        ));
        assert!(!plan.iter().any(|s| s.contains("--queue-bypass")));
    }

    #[test]
    fn input_hook_saves_in_security_table() {
        let plan = plan_text(&["--chain", "INPUT"]);
        assert!(plan.contains(&"iptables -w -t security -I INPUT 1 -j NFIPS_SAVE".to_string()));
        assert!(plan.contains(&"iptables -w -t filter -I INPUT 1 -j NFIPS".to_string()));
        assert!(plan.iter().any(|s| s.contains("hook input priority -5")));
    }

    #[test]
    fn sticky_sets_drop_both_directions_unless_disabled() {
        let plan = plan_text(&[]);
        for rule in [
            "nft add rule inet nfips sticky ip saddr '@sticky4' counter drop",
            "nft add rule inet nfips sticky ip daddr '@sticky4' counter drop",
            "nft add rule inet nfips sticky ip6 saddr '@sticky6' counter drop",
            "nft add rule inet nfips sticky ip6 daddr '@sticky6' counter drop",
        ] {
            assert!(
                plan.contains(&rule.to_string()),
                "{rule} missing from {plan:#?}"
            );
        }
        let without = plan_text(&["--no-sticky-set"]);
        assert!(!without.iter().any(|s| s.starts_with("nft")));
    }

    #[test]
    fn removal_undoes_every_jump_and_chain() {
        let applied = plan_text(&["--chain", "OUTPUT"]);
        let removal: Vec<String> = removal_plan().iter().map(|s| s.to_string()).collect();
        for line in applied.iter().filter(|l| l.contains(" -I ")) {
            let delete = line.replace(" -I ", " -D ").replace(" 1 -j ", " -j ");
            assert!(removal.contains(&delete), "{delete} missing");
        }
        for line in applied.iter().filter(|l| l.contains(" -N ")) {
            assert!(removal.contains(&line.replace(" -N ", " -X ")));
        }
        assert!(removal.contains(&"nft delete table inet nfips".to_string()));
        assert!(removal_plan().iter().all(|s| s.may_fail));
    }

    #[test]
    fn marks_parse_and_reject_bad_masks() {
        assert_eq!(
            "0x10/0x30".parse::<Mark>(),
            Ok(Mark {
                value: 0x10,
                mask: 0x30
            })
        );
        assert_eq!("8".parse::<Mark>(), Ok(Mark { value: 8, mask: 8 }));
        assert!("0x10/0x1".parse::<Mark>().is_err());
        assert!("0/0".parse::<Mark>().is_err());
        assert!("x/1".parse::<Mark>().is_err());
    }

    #[test]
    fn queue_ranges_parse() {
        assert_eq!(
            "3".parse::<QueueRange>(),
            Ok(QueueRange { first: 3, last: 3 })
        );
        assert_eq!(
            "0:3".parse::<QueueRange>(),
            Ok(QueueRange { first: 0, last: 3 })
        );
        assert!("4:1".parse::<QueueRange>().is_err());
        assert!("70000".parse::<QueueRange>().is_err());
    }
}
