//! pcre for rules: pcre2 (8-bit, JIT when available) with match limits set per thread.
//!
//! [`Regex::new`] is the contract with the loader: it compiles a rule's `/.../` body once, at
//! load time. Matching goes through [`PcreScratch`], which each worker thread owns: it holds the
//! pcre2 match data, match contexts carrying the configured limits and a JIT stack, so a match
//! allocates nothing. A match that hits a limit counts as "no match" and is counted in
//! [`PcreScratch::limit_hits`] (rules are attacker-facing: a pathological pattern must not stall
//! a worker). Not here: Snort's option semantics (relative, negation, retries); see
//! [`crate::eval`].

use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::OnceLock;

use pcre2_sys::{
    pcre2_code_8, pcre2_code_free_8, pcre2_compile_8, pcre2_get_error_message_8,
    pcre2_get_ovector_pointer_8, pcre2_jit_compile_8, pcre2_jit_stack_8, pcre2_jit_stack_assign_8,
    pcre2_jit_stack_create_8, pcre2_jit_stack_free_8, pcre2_match_8, pcre2_match_context_8,
    pcre2_match_context_create_8, pcre2_match_context_free_8, pcre2_match_data_8,
    pcre2_match_data_create_8, pcre2_match_data_free_8, pcre2_set_depth_limit_8,
    pcre2_set_match_limit_8, PCRE2_ANCHORED, PCRE2_CASELESS, PCRE2_DOLLAR_ENDONLY, PCRE2_DOTALL,
    PCRE2_ERROR_NOMATCH, PCRE2_EXTENDED, PCRE2_JIT_COMPLETE, PCRE2_MULTILINE, PCRE2_UNGREEDY,
};

/// Compile flags from a rule's `/.../flags` (Snort's i s m x A E G).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PcreFlags {
    pub caseless: bool,
    pub dotall: bool,
    pub multiline: bool,
    pub extended: bool,
    pub anchored: bool,
    pub dollar_endonly: bool,
    pub ungreedy: bool,
}

impl PcreFlags {
    fn compile_options(self) -> u32 {
        let mut options = 0;
        for (on, bit) in [
            (self.caseless, PCRE2_CASELESS),
            (self.dotall, PCRE2_DOTALL),
            (self.multiline, PCRE2_MULTILINE),
            (self.extended, PCRE2_EXTENDED),
            (self.anchored, PCRE2_ANCHORED),
            (self.dollar_endonly, PCRE2_DOLLAR_ENDONLY),
            (self.ungreedy, PCRE2_UNGREEDY),
        ] {
            if on {
                options |= bit;
            }
        }
        options
    }
}

/// A compiled pattern, shareable between threads.
pub struct Regex {
    body: String,
    flags: PcreFlags,
    code: NonNull<pcre2_code_8>,
    /// Whether pcre2's JIT compiled the pattern; JIT compilation happens at the first search
    /// (most rules' patterns never run, and JIT code is ~9 MB for ET Open).
    jit: OnceLock<bool>,
}

// SAFETY: a compiled pcre2 code object is read-only after compilation and pcre2 documents it
// as safe to use from several threads at once. Its one later change, JIT compilation, runs
// inside `OnceLock::get_or_init` before any search: other threads wait for it, no search runs
// while it happens. Per-match state lives in `PcreScratch`, which is never shared.
unsafe impl Send for Regex {}
unsafe impl Sync for Regex {}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Regex")
            .field("body", &self.body)
            .field("flags", &self.flags)
            .field("jit", &self.jit)
            .finish()
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: `code` came from pcre2_compile_8 and is freed exactly once.
        unsafe { pcre2_code_free_8(self.code.as_ptr()) }
    }
}

fn error_message(code: i32) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer and its length are valid; pcre2 writes a NUL-terminated message.
    let n = unsafe { pcre2_get_error_message_8(code, buf.as_mut_ptr(), buf.len()) };
    if n < 0 {
        return format!("pcre2 error {code}");
    }
    String::from_utf8_lossy(&buf[..n as usize]).into_owned()
}

/// The outcome of one search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcreOutcome {
    /// The whole match, as byte offsets into the subject.
    Match {
        start: usize,
        end: usize,
    },
    NoMatch,
    /// The match limit, depth limit or JIT stack was exhausted: treated as no match.
    LimitHit,
}

impl Regex {
    /// Compile `body` (the text between the slashes). The error message says what is wrong.
    pub fn new(body: &str, flags: PcreFlags) -> Result<Regex, String> {
        let mut error_code = 0;
        let mut error_offset = 0usize;
        // SAFETY: pattern pointer and length describe `body`; the out-parameters are valid.
        let code = unsafe {
            pcre2_compile_8(
                body.as_ptr(),
                body.len(),
                flags.compile_options(),
                &mut error_code,
                &mut error_offset,
                ptr::null_mut(),
            )
        };
        let Some(code) = NonNull::new(code) else {
            return Err(format!(
                "pcre /{body}/ does not compile at offset {error_offset}: {}",
                error_message(error_code)
            ));
        };
        Ok(Regex {
            body: body.to_string(),
            flags,
            code,
            jit: OnceLock::new(),
        })
    }

    pub fn body(&self) -> &str {
        &self.body
    }

    pub fn flags(&self) -> PcreFlags {
        self.flags
    }

    /// Whether pcre2's JIT compiled this pattern (compiling it now if no search has yet).
    pub fn is_jit(&self) -> bool {
        *self.jit.get_or_init(|| {
            // SAFETY: `code` is a valid compiled pattern and no search runs on it until this
            // returns (see the Sync impl). A JIT failure (no JIT on this platform, or a pattern
            // too complex for it) leaves the interpreter in use.
            unsafe { pcre2_jit_compile_8(self.code.as_ptr(), PCRE2_JIT_COMPLETE) == 0 }
        })
    }

    /// Search `subject` from byte `start` (earlier bytes are still visible to lookbehind and
    /// `\b`). `ignore_limits` is the rule's `O` flag. Allocates nothing.
    pub fn find_at(
        &self,
        subject: &[u8],
        start: usize,
        ignore_limits: bool,
        scratch: &mut PcreScratch,
    ) -> PcreOutcome {
        if start > subject.len() {
            return PcreOutcome::NoMatch;
        }
        self.is_jit();
        let context = if ignore_limits {
            scratch.unlimited
        } else {
            scratch.limited
        };
        // SAFETY: all pointers are valid for the call: `code` lives as long as self, the
        // subject slice is borrowed, match data and context belong to the scratch.
        let rc = unsafe {
            pcre2_match_8(
                self.code.as_ptr(),
                subject.as_ptr(),
                subject.len(),
                start,
                0,
                scratch.match_data.as_ptr(),
                context.as_ptr(),
            )
        };
        if rc >= 0 {
            // rc == 0 means the ovector (one pair) was too small for the groups: the whole
            // match is still in pair 0.
            // SAFETY: the match data holds at least one pair, set by a successful match.
            let (start, end) = unsafe {
                let ov = pcre2_get_ovector_pointer_8(scratch.match_data.as_ptr());
                (*ov, *ov.add(1))
            };
            return PcreOutcome::Match { start, end };
        }
        if rc == PCRE2_ERROR_NOMATCH {
            return PcreOutcome::NoMatch;
        }
        // Match limit, depth limit, JIT stack limit, heap limit: all resource exhaustion.
        scratch.limit_hits += 1;
        PcreOutcome::LimitHit
    }
}

/// Default size of the JIT stack each scratch owns (pcre2's own default is 32 KiB).
pub const JIT_STACK_MAX_BYTES: usize = 512 * 1024;

/// Per-thread pcre2 state: match data, limit-carrying match contexts and a JIT stack.
pub struct PcreScratch {
    match_data: NonNull<pcre2_match_data_8>,
    limited: NonNull<pcre2_match_context_8>,
    unlimited: NonNull<pcre2_match_context_8>,
    jit_stack: *mut pcre2_jit_stack_8,
    /// Searches that ended because a limit was hit (each counted as no match).
    pub limit_hits: u64,
}

// SAFETY: the scratch owns its pcre2 objects exclusively; moving it to another thread is fine
// (it is not Sync: one thread uses it at a time).
unsafe impl Send for PcreScratch {}

impl fmt::Debug for PcreScratch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcreScratch")
            .field("limit_hits", &self.limit_hits)
            .finish()
    }
}

impl PcreScratch {
    /// `match_limit` and `depth_limit` apply to patterns without `O`.
    ///
    /// # Panics
    /// When pcre2 cannot allocate its small fixed objects (out of memory).
    pub fn new(match_limit: u32, depth_limit: u32) -> PcreScratch {
        // SAFETY: plain pcre2 constructors; null results are checked below.
        unsafe {
            let match_data = NonNull::new(pcre2_match_data_create_8(1, ptr::null_mut()))
                .expect("pcre2 match data allocation");
            let limited = NonNull::new(pcre2_match_context_create_8(ptr::null_mut()))
                .expect("pcre2 match context allocation");
            let unlimited = NonNull::new(pcre2_match_context_create_8(ptr::null_mut()))
                .expect("pcre2 match context allocation");
            pcre2_set_match_limit_8(limited.as_ptr(), match_limit);
            pcre2_set_depth_limit_8(limited.as_ptr(), depth_limit);
            let jit_stack =
                pcre2_jit_stack_create_8(32 * 1024, JIT_STACK_MAX_BYTES, ptr::null_mut());
            if !jit_stack.is_null() {
                for context in [limited, unlimited] {
                    pcre2_jit_stack_assign_8(context.as_ptr(), None, jit_stack.cast());
                }
            }
            PcreScratch {
                match_data,
                limited,
                unlimited,
                jit_stack,
                limit_hits: 0,
            }
        }
    }
}

impl Drop for PcreScratch {
    fn drop(&mut self) {
        // SAFETY: each object was created in `new` and is freed exactly once.
        unsafe {
            pcre2_match_data_free_8(self.match_data.as_ptr());
            pcre2_match_context_free_8(self.limited.as_ptr());
            pcre2_match_context_free_8(self.unlimited.as_ptr());
            if !self.jit_stack.is_null() {
                pcre2_jit_stack_free_8(self.jit_stack);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PcreScratch {
        PcreScratch::new(3500, 1500)
    }

    #[test]
    fn finds_match_from_start_offset() {
        let re = Regex::new("a.c", PcreFlags::default()).unwrap();
        let mut s = scratch();
        assert_eq!(
            re.find_at(b"abcxabc", 0, false, &mut s),
            PcreOutcome::Match { start: 0, end: 3 }
        );
        assert_eq!(
            re.find_at(b"abcxabc", 1, false, &mut s),
            PcreOutcome::Match { start: 4, end: 7 }
        );
        assert_eq!(
            re.find_at(b"abcxabc", 5, false, &mut s),
            PcreOutcome::NoMatch
        );
        assert_eq!(re.find_at(b"abc", 9, false, &mut s), PcreOutcome::NoMatch);
    }

    #[test]
    fn anchored_flag_anchors_at_start_offset() {
        let flags = PcreFlags {
            anchored: true,
            ..Default::default()
        };
        let re = Regex::new("bc", flags).unwrap();
        let mut s = scratch();
        assert_eq!(re.find_at(b"abc", 0, false, &mut s), PcreOutcome::NoMatch);
        assert_eq!(
            re.find_at(b"abc", 1, false, &mut s),
            PcreOutcome::Match { start: 1, end: 3 }
        );
    }

    #[test]
    fn caseless_and_binary_subject() {
        let flags = PcreFlags {
            caseless: true,
            ..Default::default()
        };
        let re = Regex::new(r"\x00HeLLo", flags).unwrap();
        let mut s = scratch();
        assert!(matches!(
            re.find_at(b"\xff\x00hello", 0, false, &mut s),
            PcreOutcome::Match { .. }
        ));
    }

    #[test]
    fn bad_pattern_is_an_error_naming_it() {
        let err = Regex::new("a(b", PcreFlags::default()).unwrap_err();
        assert!(err.contains("a(b"), "{err}");
    }

    #[test]
    fn match_limit_hit_is_counted_and_override_ignores_it() {
        let re = Regex::new("(a+)+$", PcreFlags::default()).unwrap();
        let subject = [b"a".repeat(30), b"b".to_vec()].concat();
        let mut s = PcreScratch::new(1000, 1000);
        assert_eq!(
            re.find_at(&subject, 0, false, &mut s),
            PcreOutcome::LimitHit
        );
        assert_eq!(s.limit_hits, 1);
        let short = [b"a".repeat(12), b"b".to_vec()].concat();
        assert_eq!(re.find_at(&short, 0, true, &mut s), PcreOutcome::NoMatch);
        assert_eq!(s.limit_hits, 1);
    }
}
