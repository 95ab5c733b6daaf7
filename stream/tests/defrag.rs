//! Behaviour of IP defragmentation: completion, overlaps, tiny fragments, limits, memory.

use nfips_stream::defrag::{DefragConfig, DefragVerdict, Defragmenter, Fragment};
use nfips_stream::OverlapPolicy;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const TCP: u8 = 6;
const UDP: u8 = 17;

fn v4() -> (IpAddr, IpAddr) {
    (
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
    )
}

fn v6() -> (IpAddr, IpAddr) {
    (
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
    )
}

/// Feed one fragment; the outcome as text: `pending`, `complete:<payload>` or `drop(<reason>)`.
#[allow(clippy::too_many_arguments)] // mirrors the fragment's fields
fn feed(
    d: &mut Defragmenter,
    addrs: (IpAddr, IpAddr),
    proto: u8,
    id: u32,
    offset: u32,
    more: bool,
    payload: &[u8],
    time_us: u64,
) -> String {
    let frag = Fragment {
        src: addrs.0,
        dst: addrs.1,
        proto,
        id,
        offset,
        more,
        payload,
        time_us,
    };
    let out = d.process(&frag);
    match out.verdict {
        DefragVerdict::Pending => "pending".into(),
        DefragVerdict::Complete => format!(
            "complete:{}",
            String::from_utf8_lossy(out.datagram.unwrap_or_default())
        ),
        DefragVerdict::Drop(reason) => format!(
            "drop({reason:?}) {}",
            out.event.map(|e| e.name()).unwrap_or("")
        ),
    }
}

/// 24 bytes: a fake 20-byte TCP header then "ATTA", followed by "CK..." fragments.
const FIRST: &[u8] = b"HHHHHHHHHHHHHHHHHHHHATTA";

#[test]
fn two_fragments_in_order_complete_on_the_last() {
    let mut d = Defragmenter::new(DefragConfig::default());
    assert_eq!(feed(&mut d, v4(), TCP, 1, 0, true, FIRST, 1), "pending");
    assert_eq!(
        feed(&mut d, v4(), TCP, 1, 24, false, b"CK", 2),
        "complete:HHHHHHHHHHHHHHHHHHHHATTACK"
    );
    assert_eq!((d.pending(), d.memory_used()), (0, 0));
    assert_eq!(d.stats().datagrams_completed, 1);
}

#[test]
fn reverse_order_completes_on_the_first_fragment() {
    let mut d = Defragmenter::new(DefragConfig::default());
    assert_eq!(feed(&mut d, v4(), TCP, 2, 24, false, b"CK", 1), "pending");
    assert_eq!(
        feed(&mut d, v4(), TCP, 2, 0, true, FIRST, 2),
        "complete:HHHHHHHHHHHHHHHHHHHHATTACK"
    );
}

#[test]
fn hole_keeps_datagram_pending() {
    let mut d = Defragmenter::new(DefragConfig::default());
    assert_eq!(
        feed(&mut d, v4(), UDP, 3, 0, true, b"01234567", 1),
        "pending"
    );
    assert_eq!(feed(&mut d, v4(), UDP, 3, 16, false, b"x", 2), "pending");
    assert_eq!(
        feed(&mut d, v4(), UDP, 3, 8, true, b"89abcdef", 3),
        "complete:0123456789abcdefx"
    );
}

#[test]
fn overlapping_fragment_with_different_data_is_dropped_policy_first() {
    let mut d = Defragmenter::new(DefragConfig::default());
    feed(&mut d, v4(), UDP, 4, 0, true, b"benign..", 1);
    assert_eq!(
        feed(&mut d, v4(), UDP, 4, 0, true, b"ATTACK..", 2),
        "drop(Overlap) defrag.overlap_different_data"
    );
    assert_eq!(
        feed(&mut d, v4(), UDP, 4, 8, false, b"!", 3),
        "complete:benign..!"
    );
    assert_eq!(d.stats().overlap_drops, 1);
}

#[test]
fn overlapping_fragment_policy_last_takes_later_bytes() {
    let mut d = Defragmenter::new(DefragConfig {
        overlap_policy: OverlapPolicy::Last,
        ..DefragConfig::default()
    });
    feed(&mut d, v4(), UDP, 5, 0, true, b"benign..", 1);
    assert_eq!(
        feed(&mut d, v4(), UDP, 5, 0, true, b"ATTACK..", 2),
        "pending"
    );
    assert_eq!(
        feed(&mut d, v4(), UDP, 5, 8, false, b"!", 3),
        "complete:ATTACK..!"
    );
    assert_eq!(d.stats().overlaps, 1);
}

#[test]
fn overlapping_fragment_with_same_data_is_accepted() {
    let mut d = Defragmenter::new(DefragConfig::default());
    feed(&mut d, v4(), UDP, 6, 0, true, b"abcdefgh", 1);
    assert_eq!(
        feed(&mut d, v4(), UDP, 6, 0, true, b"abcdefgh", 2),
        "pending"
    );
    assert_eq!(
        feed(&mut d, v4(), UDP, 6, 8, false, b"i", 3),
        "complete:abcdefghi"
    );
}

#[test]
fn tiny_first_tcp_fragment_is_dropped() {
    let mut d = Defragmenter::new(DefragConfig::default());
    assert_eq!(
        feed(&mut d, v4(), TCP, 7, 0, true, b"HHHHHHHH", 1),
        "drop(TinyFragment) defrag.tiny_fragment"
    );
    assert_eq!(d.stats().tiny_fragment_drops, 1);
}

#[test]
fn fragment_inside_tcp_header_is_dropped() {
    let mut d = Defragmenter::new(DefragConfig::default());
    feed(&mut d, v4(), TCP, 8, 0, true, FIRST, 1);
    assert_eq!(
        feed(&mut d, v4(), TCP, 8, 8, false, b"HHHHHHHHHHHHHHHH", 2),
        "drop(TinyFragment) defrag.tiny_fragment"
    );
}

#[test]
fn small_udp_fragments_are_fine() {
    let mut d = Defragmenter::new(DefragConfig::default());
    assert_eq!(
        feed(&mut d, v4(), UDP, 9, 0, true, b"12345678", 1),
        "pending"
    );
    assert_eq!(
        feed(&mut d, v4(), UDP, 9, 8, false, b"9", 2),
        "complete:123456789"
    );
}

#[test]
fn ipv6_fragments_reassemble_and_tiny_ones_are_dropped() {
    let mut d = Defragmenter::new(DefragConfig::default());
    assert_eq!(
        feed(&mut d, v6(), TCP, 0x1234_5678, 0, true, b"HHHHHHHH", 1),
        "drop(TinyFragment) defrag.tiny_fragment"
    );
    assert_eq!(
        feed(&mut d, v6(), TCP, 0x1234_5678, 0, true, FIRST, 2),
        "pending"
    );
    assert_eq!(
        feed(&mut d, v6(), TCP, 0x1234_5678, 24, false, b"CK", 3),
        "complete:HHHHHHHHHHHHHHHHHHHHATTACK"
    );
}

#[test]
fn same_id_from_other_hosts_is_a_different_datagram() {
    let mut d = Defragmenter::new(DefragConfig::default());
    feed(&mut d, v4(), UDP, 10, 0, true, b"aaaaaaaa", 1);
    assert_eq!(feed(&mut d, v6(), UDP, 10, 8, false, b"b", 2), "pending");
    assert_eq!(d.pending(), 2);
}

#[test]
fn fragment_size_not_multiple_of_eight_is_dropped() {
    let mut d = Defragmenter::new(DefragConfig::default());
    assert_eq!(
        feed(&mut d, v4(), UDP, 11, 0, true, b"1234567", 1),
        "drop(BadSize) defrag.bad_fragment_size"
    );
}

#[test]
fn datagram_larger_than_65535_is_dropped() {
    let mut d = Defragmenter::new(DefragConfig::default());
    assert_eq!(
        feed(&mut d, v4(), UDP, 12, 65_528, false, b"0123456789", 1),
        "drop(TooLarge) defrag.too_large"
    );
}

#[test]
fn fragment_beyond_the_known_end_is_dropped() {
    let mut d = Defragmenter::new(DefragConfig::default());
    feed(&mut d, v4(), UDP, 13, 16, false, b"end", 1);
    assert_eq!(
        feed(&mut d, v4(), UDP, 13, 24, true, b"12345678", 2),
        "drop(TooLarge) defrag.too_large"
    );
}

#[test]
fn too_many_fragments_are_dropped() {
    let mut d = Defragmenter::new(DefragConfig {
        max_fragments: 2,
        ..DefragConfig::default()
    });
    feed(&mut d, v4(), UDP, 14, 0, true, b"aaaaaaaa", 1);
    feed(&mut d, v4(), UDP, 14, 8, true, b"bbbbbbbb", 2);
    assert_eq!(
        feed(&mut d, v4(), UDP, 14, 16, false, b"c", 3),
        "drop(TooManyFragments) defrag.max_fragments"
    );
}

#[test]
fn incomplete_datagrams_time_out() {
    let mut d = Defragmenter::new(DefragConfig::default());
    feed(&mut d, v4(), UDP, 15, 0, true, b"aaaaaaaa", 1);
    assert_eq!(d.expire(29_000_000), 0);
    assert_eq!(d.expire(31_000_000), 1);
    assert_eq!((d.pending(), d.memory_used()), (0, 0));
}

#[test]
fn stale_datagram_is_replaced_by_a_fresh_one() {
    let mut d = Defragmenter::new(DefragConfig::default());
    feed(&mut d, v4(), UDP, 16, 0, true, b"oldoldol", 1);
    assert_eq!(
        feed(&mut d, v4(), UDP, 16, 0, true, b"newnewne", 40_000_000),
        "pending"
    );
    assert_eq!(
        feed(&mut d, v4(), UDP, 16, 8, false, b"w", 40_000_001),
        "complete:newnewnew"
    );
    assert_eq!(d.stats().datagrams_timed_out, 1);
}

#[test]
fn memcap_evicts_oldest_datagrams() {
    let memcap = 20_000;
    let mut d = Defragmenter::new(DefragConfig {
        memcap,
        ..DefragConfig::default()
    });
    for id in 0..50 {
        feed(&mut d, v4(), UDP, id, 0, true, &[b'x'; 1000], id as u64);
        assert!(d.memory_used() <= memcap);
    }
    assert!(d.stats().datagrams_evicted > 0);
    assert!(d.pending() < 50);
    d.expire(u64::MAX);
    assert_eq!(d.memory_used(), 0);
}

#[test]
fn max_datagrams_evicts_oldest() {
    let mut d = Defragmenter::new(DefragConfig {
        max_datagrams: 3,
        ..DefragConfig::default()
    });
    for id in 0..5 {
        feed(&mut d, v4(), UDP, id, 0, true, b"aaaaaaaa", id as u64);
    }
    assert_eq!(d.pending(), 3);
    assert_eq!(d.stats().datagrams_evicted, 2);
    // The newest survived.
    assert_eq!(
        feed(&mut d, v4(), UDP, 4, 8, false, b"b", 10),
        "complete:aaaaaaaab"
    );
}

#[test]
fn stats_display_lists_nonzero_counters() {
    let mut d = Defragmenter::new(DefragConfig::default());
    feed(&mut d, v4(), UDP, 1, 0, true, b"12345678", 1);
    assert_eq!(d.stats().to_string(), "fragments=1 datagrams_started=1");
}
