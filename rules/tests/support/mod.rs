//! Builders for rules and packet contexts in the matcher's tests (the front end's parser is
//! not needed: rules are built as `ast::Rule` values directly).
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use nfips_rules::ast::*;
use nfips_rules::pcre::{PcreFlags, Regex};
use nfips_rules::ruleset::{BufferKind, FlowContext, IcmpFields, IpFields, TcpFields};
use nfips_rules::PacketContext;

/// `alert tcp any any -> any any (sid:<sid>; <options>)`.
pub fn rule(sid: u32, detection: Vec<DetectOption>) -> Rule {
    Rule {
        origin: Origin {
            file: Arc::from("test.rules"),
            line: sid as usize,
        },
        action: Action::Alert,
        protocol: Protocol::Tcp,
        src: AddrSet::any(),
        src_ports: PortSet::any(),
        direction: Direction::OneWay,
        dst: AddrSet::any(),
        dst_ports: PortSet::any(),
        gid: 1,
        sid,
        rev: 1,
        msg: format!("rule {sid}"),
        classtype: None,
        priority: 3,
        references: vec![],
        metadata: vec![],
        detection,
        flow: FlowOptions::default(),
        flowbits: vec![],
        threshold: None,
        detection_filter: None,
        sticky_drop: None,
        app_proto: None,
    }
}

pub fn ports(list: &[(u16, u16)]) -> PortSet {
    PortSet {
        include: list.to_vec(),
        exclude: vec![],
    }
}

/// A plain content.
pub fn content(pattern: &[u8]) -> Content {
    Content {
        pattern: pattern.to_vec(),
        negated: false,
        nocase: false,
        rawbytes: false,
        offset: None,
        depth: None,
        distance: None,
        within: None,
        fast_pattern: FastPattern::No,
        buffer: Buffer::Packet,
    }
}

pub fn lit(v: i64) -> Option<Value> {
    Some(Value::Literal(v))
}

pub fn c(content: Content) -> DetectOption {
    DetectOption::Content(content)
}

pub fn pcre(body: &str, flags: PcreFlags, relative: bool, negated: bool) -> DetectOption {
    DetectOption::Pcre(Pcre {
        source: format!("/{body}/"),
        regex: Arc::new(Regex::new(body, flags).expect("test pcre compiles")),
        negated,
        relative,
        rawbytes: false,
        override_limits: false,
        buffer: Buffer::Packet,
    })
}

pub fn isdataat(offset: i64, relative: bool, negated: bool) -> DetectOption {
    DetectOption::IsDataAt(IsDataAt {
        offset: Value::Literal(offset),
        relative,
        rawbytes: false,
        negated,
        buffer: Buffer::Packet,
    })
}

pub fn byte_test(bytes: u8, op: ByteTestOp, value: i64, offset: i64) -> ByteTest {
    ByteTest {
        bytes,
        negated: false,
        op,
        value: Value::Literal(value),
        offset: Value::Literal(offset),
        relative: false,
        endian: Endian::Big,
        string: None,
        bitmask: None,
        buffer: Buffer::Packet,
    }
}

pub fn byte_jump(bytes: u8, offset: i64) -> ByteJump {
    ByteJump {
        bytes,
        offset: Value::Literal(offset),
        relative: false,
        multiplier: 1,
        endian: Endian::Big,
        string: None,
        align: false,
        from_beginning: false,
        from_end: false,
        post_offset: 0,
        bitmask: None,
        buffer: Buffer::Packet,
    }
}

pub fn byte_extract(bytes: u8, offset: i64, name: &str) -> ByteExtract {
    ByteExtract {
        bytes,
        offset,
        name: name.to_string(),
        relative: false,
        multiplier: 1,
        endian: Endian::Big,
        string: None,
        align: 0,
        bitmask: None,
        buffer: Buffer::Packet,
    }
}

pub fn flowbits(command: FlowbitsCommand, names: &[&str], join: BitsJoin) -> Flowbits {
    Flowbits {
        command,
        names: names.iter().map(|s| s.to_string()).collect(),
        join,
    }
}

/// A TCP packet 10.0.0.1:40000 -> 10.0.0.2:80, established, to the server, ACK set.
pub fn tcp_ctx() -> PacketContext {
    PacketContext {
        ip_proto: 6,
        src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        src_port: 40000,
        dst_port: 80,
        ip: IpFields {
            ttl: 64,
            tos: 0,
            id: 1,
            options: 0,
            fragbits: 0,
        },
        tcp: Some(TcpFields {
            flags: 0x10,
            seq: 1000,
            ack: 2000,
            window: 512,
        }),
        icmp: None,
        flow: FlowContext {
            established: true,
            to_server: true,
            app_proto: None,
        },
        buffer: BufferKind::Packet,
        dsize: 0,
        stream_events: 0,
    }
}

pub fn udp_ctx() -> PacketContext {
    PacketContext {
        ip_proto: 17,
        tcp: None,
        ..tcp_ctx()
    }
}

pub fn icmp_ctx(ip_proto: u8) -> PacketContext {
    PacketContext {
        ip_proto,
        src_port: 0,
        dst_port: 0,
        tcp: None,
        icmp: Some(IcmpFields {
            itype: 8,
            icode: 0,
            id: Some(7),
            seq: Some(1),
        }),
        ..tcp_ctx()
    }
}

/// The matcher back end these tests use: `NFIPS_TEST_MPM=ac|hs|hash|auto` picks one; by default
/// `hs` when the `vectorscan` feature is built (so `--features vectorscan` tests Vectorscan even
/// for small sets, which `auto` would not give it), else `hash`.
#[allow(dead_code)]
pub fn test_mpm() -> nfips_rules::mpm::MpmKind {
    use nfips_rules::mpm::{MpmKind, VECTORSCAN_BUILT};
    match std::env::var("NFIPS_TEST_MPM") {
        Ok(v) => v.parse().unwrap_or_else(|e| panic!("NFIPS_TEST_MPM: {e}")),
        Err(_) if VECTORSCAN_BUILT => MpmKind::Hs,
        Err(_) => MpmKind::Hash,
    }
}

/// Default build options with the matcher back end under test ([`test_mpm`]).
#[allow(dead_code)]
pub fn build_options() -> nfips_rules::BuildOptions {
    nfips_rules::BuildOptions {
        mpm: test_mpm(),
        ..nfips_rules::BuildOptions::default()
    }
}
