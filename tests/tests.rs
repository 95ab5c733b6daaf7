//! End-to-end tests of the `nfips` binary: one test binary, a module per area.

mod inline;
mod netns;
mod util;
mod replay;
mod suricata_verify;
