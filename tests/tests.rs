//! End-to-end tests of the `nfips` binary: one test binary, a module per area.

mod addresses;
mod applayer;
mod bench;
mod evasion;
mod http;
mod inline;
mod netns;
mod replay;
mod rules_check;
mod suricata_verify;
mod suricata_verify_stream;
mod util;
