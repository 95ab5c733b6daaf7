//! End-to-end tests of the `nfips` binary: one test binary, a module per area.

mod inline;
mod netns;
mod replay;
mod rules_check;
mod suricata_verify;
mod util;
