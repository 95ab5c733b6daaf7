//! Packet sources: the only code that touches pcap files and NFQUEUE.
pub mod nfqueue;
pub mod pcap;
