//! nfips-stream: TCP session tracking and inline reassembly in the style of Snort_inline's
//! stream4inline, and IP defragmentation.
//!
//! No packet I/O and no rules: callers hand it decoded segment facts and bytes; it answers with
//! what to do with the segment and the stream bytes detection must see.
