//! Tests of the ingest layer: pcap reading and writing, decoding, packet crafting.
mod corpus;
mod craft;
mod decode;
mod fuzz;
mod pcap;
