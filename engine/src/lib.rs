//! nfips-engine: the packet path shared by the inline daemon, replay and the benchmark.
//!
//! ```text
//! source (nfqueue | pcap) -> decode -> stickydrop -> flow -> stream (TCP) -> detect -> verdict
//!                                                                  \-> outputs (alerts, stats)
//! ```
//!
//! Only [`source`] touches NFQUEUE, pcap files or raw sockets; everything else is a pure
//! function of the packets it is given, so replay computes exactly the verdicts the daemon gives.
//! Not here: the rule language ([`nfips_rules`]) and TCP reassembly ([`nfips_stream`]).

pub mod applayer;
pub mod bench;
pub mod craft;
pub mod decode;
pub mod defrag;
pub mod detect;
pub mod flow;
pub mod http;
pub mod output;
pub mod pending;
pub mod reject;
pub mod replay;
pub mod settings;
pub mod source;
pub mod stats;
pub mod stickydrop;
pub mod synth;
pub mod tcp;
pub mod tuning;
pub mod worker;
