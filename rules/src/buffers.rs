//! Payload evaluation across buffers: a rule's payload options split into one run per buffer
//! they read (the packet, `http_uri`, `file_data` ...), each run evaluated by the ordinary
//! payload evaluator against its own buffer, so depth, offset, distance, within and relative
//! pcre apply within that buffer.
//!
//! A run keeps its options' rule order; the first relative option of a run is relative to the
//! start of its buffer (Snort 2.9 keeps a separate detection cursor per buffer). A rule matches
//! when every run matches; a run whose buffer the transaction lacks fails (as in Suricata, a
//! negated content does not match a missing buffer). `urilen` is a test of the URI buffer's
//! length. byte_extract variables are shared by all runs in their order of first appearance
//! (the parser keeps byte_* options out of HTTP buffers, so they live in the packet run).
//!
//! Not here: finding candidate rules (groups and fast patterns) or HTTP parsing.

use crate::ast::{Buffer, DetectOption, UriLen};
use crate::eval::{PayloadEval, PayloadOp};
use crate::pcre::PcreScratch;

/// One buffer's payload options, compiled.
#[derive(Debug)]
struct BufferRun {
    buffer: Buffer,
    ops: Vec<PayloadOp>,
    /// urilen tests of this buffer (`HttpUri` or `HttpRawUri` runs only).
    lengths: Vec<UriLen>,
}

/// A rule's payload options split by buffer. Immutable once compiled; evaluation takes the
/// caller's scratch (variables, pcre match data).
#[derive(Debug, Default)]
pub struct BufferRuns {
    runs: Vec<BufferRun>,
    /// byte_extract variables of the rule. They are numbered in rule order and all live in one
    /// run (the parser keeps byte_* options in the packet), so a run's own numbering is the
    /// rule's.
    vars: usize,
}

impl BufferRuns {
    /// Splits and compiles the payload options of `detection` (header options are ignored).
    pub fn compile(detection: &[DetectOption]) -> BufferRuns {
        let mut order: Vec<Buffer> = Vec::new();
        for option in detection {
            let reads_buffer =
                matches!(option, DetectOption::UriLen(_)) || crate::eval::is_payload_option(option);
            if reads_buffer && !order.contains(&option.buffer()) {
                order.push(option.buffer());
            }
        }
        let mut vars = 0;
        let runs = order
            .into_iter()
            .map(|buffer| {
                let options: Vec<DetectOption> = detection
                    .iter()
                    .filter(|o| o.buffer() == buffer && crate::eval::is_payload_option(o))
                    .cloned()
                    .collect();
                let (ops, run_vars) = PayloadOp::compile_all(&options);
                vars += run_vars;
                let lengths = detection
                    .iter()
                    .filter_map(|o| match o {
                        DetectOption::UriLen(u) if o.buffer() == buffer => Some(*u),
                        _ => None,
                    })
                    .collect();
                BufferRun {
                    buffer,
                    ops,
                    lengths,
                }
            })
            .collect();
        BufferRuns { runs, vars }
    }

    /// byte_extract variables the rule needs (the length of `vars` for [`Self::matches`]).
    pub fn vars(&self) -> usize {
        self.vars
    }

    /// The buffers the rule reads.
    pub fn buffers(&self) -> impl Iterator<Item = Buffer> + '_ {
        self.runs.iter().map(|run| run.buffer)
    }

    /// Whether every run matches its buffer as `source` gives it (`None`: the buffer is absent).
    /// `vars` needs at least [`Self::vars`] slots (fewer: no match). Returns (matched, retry
    /// limit hit).
    pub fn matches<'b>(
        &self,
        source: impl Fn(Buffer) -> Option<&'b [u8]>,
        vars: &mut [i64],
        pcre: &mut PcreScratch,
        retry_limit: u32,
    ) -> (bool, bool) {
        let mut retry_limit_hit = false;
        let Some(vars) = vars.get_mut(..self.vars) else {
            // Scratch too small for this rule's variables: no match rather than a panic.
            return (false, retry_limit_hit);
        };
        for run in &self.runs {
            let Some(buf) = source(run.buffer) else {
                return (false, retry_limit_hit);
            };
            if !run.lengths.iter().all(|u| u.cmp.matches(buf.len() as u64)) {
                return (false, retry_limit_hit);
            }
            let mut state = PayloadEval {
                buf,
                vars: &mut *vars,
                pcre: &mut *pcre,
                retries_left: retry_limit,
                retry_limit_hit: false,
            };
            let matched = state.run(&run.ops, 0);
            retry_limit_hit |= state.retry_limit_hit;
            if !matched {
                return (false, retry_limit_hit);
            }
        }
        (true, retry_limit_hit)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ast::{Origin, Rule};
    use crate::classification::Classifications;
    use crate::parse::{parse_rule_with, ParseContext, PcreCache};
    use crate::vars::Vars;

    fn rule(options: &str) -> Rule {
        let classes = Classifications::builtin();
        let mut cache = PcreCache::new();
        let mut vars = Vars::with_defaults();
        let mut ctx = ParseContext {
            vars: &mut vars,
            classes: &classes,
            pcre_cache: &mut cache,
        };
        let text = format!("alert tcp any any -> any any ({options} sid:1;)");
        let origin = Origin {
            file: Arc::from("t.rules"),
            line: 1,
        };
        parse_rule_with(&text, origin, &mut ctx, true)
            .unwrap_or_else(|e| panic!("{options}: {e:?}"))
    }

    /// Whether the rule's payload matches the given buffers.
    fn matches(options: &str, buffers: &[(Buffer, &[u8])]) -> bool {
        let runs = BufferRuns::compile(&rule(options).detection);
        let mut vars = vec![0; runs.vars()];
        let mut pcre = PcreScratch::new(10_000, 1_000);
        let source = |b: Buffer| buffers.iter().find(|(x, _)| *x == b).map(|(_, v)| *v);
        runs.matches(source, &mut vars, &mut pcre, 1000).0
    }

    #[test]
    fn runs_follow_first_appearance_and_keep_rule_order() {
        let runs = BufferRuns::compile(
            &rule(r#"content:"a"; http_uri; content:"p"; content:"b"; http_uri; distance:0; urilen:>1;"#).detection,
        );
        let buffers: Vec<Buffer> = runs.buffers().collect();
        assert_eq!(buffers, [Buffer::HttpUri, Buffer::Packet]);
        assert_eq!(runs.runs[0].ops.len(), 2);
        assert_eq!(runs.runs[0].lengths.len(), 1);
    }

    #[test]
    fn content_matches_only_in_its_buffer() {
        let options = r#"content:"/admin"; http_uri;"#;
        assert!(matches(options, &[(Buffer::HttpUri, b"/admin.php")]));
        assert!(!matches(
            options,
            &[
                (Buffer::HttpUri, b"/index"),
                (Buffer::Packet, b"GET /admin.php")
            ]
        ));
    }

    #[test]
    fn missing_buffer_fails_even_for_negated_content() {
        assert!(!matches(
            r#"content:!"x"; http_cookie;"#,
            &[(Buffer::HttpUri, b"/")]
        ));
        assert!(matches(
            r#"content:!"x"; http_cookie;"#,
            &[(Buffer::HttpCookie, b"a=b")]
        ));
    }

    #[test]
    fn depth_applies_within_the_buffer() {
        let options = r#"content:"POST"; http_method; depth:4;"#;
        assert!(matches(options, &[(Buffer::HttpMethod, b"POST")]));
        let options = r#"content:"cmd"; http_uri; depth:5;"#;
        assert!(!matches(options, &[(Buffer::HttpUri, b"/x/y/cmd.exe")]));
    }

    #[test]
    fn relative_content_continues_in_its_own_buffer() {
        // "b" within 3 of "a" in the URI; the packet content between does not move the cursor.
        let options =
            r#"content:"a"; http_uri; content:"zzz"; content:"b"; http_uri; distance:0; within:3;"#;
        assert!(matches(
            options,
            &[(Buffer::HttpUri, b"/a-b"), (Buffer::Packet, b"zzz")]
        ));
        assert!(!matches(
            options,
            &[(Buffer::HttpUri, b"/a----b"), (Buffer::Packet, b"zzz")]
        ));
    }

    #[test]
    fn every_run_must_match() {
        let options = r#"content:"GET"; http_method; content:"evil"; http_user_agent;"#;
        assert!(matches(
            options,
            &[
                (Buffer::HttpMethod, b"GET"),
                (Buffer::HttpUserAgent, b"evil/1.0")
            ]
        ));
        assert!(!matches(
            options,
            &[
                (Buffer::HttpMethod, b"GET"),
                (Buffer::HttpUserAgent, b"curl")
            ]
        ));
    }

    #[test]
    fn pcre_flag_reads_its_buffer() {
        assert!(matches(
            r#"pcre:"/^\/x\d+$/U";"#,
            &[(Buffer::HttpUri, b"/x42")]
        ));
        assert!(!matches(
            r#"pcre:"/^\/x\d+$/U";"#,
            &[(Buffer::HttpUri, b"/y42"), (Buffer::Packet, b"/x42")]
        ));
    }

    #[test]
    fn sticky_buffer_with_isdataat() {
        let options = r#"file_data; content:"MZ"; depth:2; isdataat:10,relative;"#;
        assert!(matches(options, &[(Buffer::FileData, b"MZ0123456789ab")]));
        assert!(!matches(options, &[(Buffer::FileData, b"MZ01")]));
    }

    #[test]
    fn urilen_tests_the_uri_length() {
        assert!(matches("urilen:>5;", &[(Buffer::HttpUri, b"/abcdef")]));
        assert!(!matches("urilen:>5;", &[(Buffer::HttpUri, b"/a")]));
        assert!(matches("urilen:2<>4,raw;", &[(Buffer::HttpRawUri, b"/ab")]));
        assert!(
            !matches("urilen:2<>4,raw;", &[(Buffer::HttpUri, b"/ab")]),
            "raw reads the raw URI"
        );
    }

    #[test]
    fn too_few_variable_slots_is_no_match_not_a_panic() {
        let runs =
            BufferRuns::compile(&rule("byte_extract:1,0,n; content:\"x\"; distance:n;").detection);
        assert_eq!(runs.vars(), 1);
        let mut pcre = PcreScratch::new(10_000, 1_000);
        let source = |_: Buffer| Some(&b"\x00x"[..]);
        assert!(!runs.matches(source, &mut [], &mut pcre, 1000).0);
        assert!(runs.matches(source, &mut [0], &mut pcre, 1000).0);
    }

    #[test]
    fn packet_only_rule_is_one_packet_run() {
        let runs = BufferRuns::compile(&rule(r#"content:"x"; pcre:"/y/R";"#).detection);
        assert_eq!(runs.buffers().collect::<Vec<_>>(), [Buffer::Packet]);
        assert!(matches(
            r#"content:"x"; pcre:"/y/R";"#,
            &[(Buffer::Packet, b"xy")]
        ));
    }
}
