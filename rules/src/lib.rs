//! nfips-rules: the Snort rule language, from text files to an immutable, shareable [`RuleSet`].
//!
//! The loader ([`load`]) reads rule files as Snort 2.9 does (comments, continuations, `include`,
//! `var`/`ipvar`/`portvar`, built-in variable defaults) and resolves each rule into an
//! [`ast::Rule`], reporting syntax errors as `file:line: message` and rules that use keywords the
//! engine cannot honour yet as *unsupported*. The compiler ([`ruleset`]) groups rules by protocol
//! and port, builds one multi-pattern matcher per group over the fast patterns ([`mpm`]: aho-corasick, or
//! Vectorscan with the `vectorscan` feature), and matches a
//! byte buffer plus its packet context with a per-thread [`ruleset::Scratch`].
//!
//! This crate knows nothing of packets, sockets or streams: callers describe a buffer with a
//! [`ruleset::PacketContext`], and apply verdicts, thresholds and stickydrop themselves.

mod addr;
pub mod ast;
pub mod buffers;
pub mod check;
pub mod classification;
mod eval;
pub mod group;
pub mod load;
pub mod mpm;
pub mod parse;
pub mod pcre;
pub mod reference;
pub mod ruleset;
pub mod stream_events;
pub mod vars;

#[cfg(test)]
mod app_tests;

pub use addr::{AddressStats, MAX_ADDRESS_CLASSES};
pub use ast::Rule;
pub use load::{load_paths, Diagnostic, LoadOptions, LoadReport};
pub use ruleset::{BuildOptions, FlowBits, PacketContext, RuleId, RuleSet, Scratch};
