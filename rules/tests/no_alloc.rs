//! detect() allocates nothing after warm-up: a counting global allocator watches a loop of
//! detect calls over rules that exercise every option kind.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use nfips_rules::ast::*;
use nfips_rules::pcre::PcreFlags;
use nfips_rules::{FlowBits, PacketContext, RuleSet};
use support::*;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn rules() -> Vec<Rule> {
    let mut setter = rule(1, vec![c(content(b"login"))]);
    setter.flowbits = vec![flowbits(
        FlowbitsCommand::Set,
        &["logged_in"],
        BitsJoin::All,
    )];
    let mut checker = rule(2, vec![c(content(b"admin"))]);
    checker.flowbits = vec![flowbits(
        FlowbitsCommand::IsSet,
        &["logged_in"],
        BitsJoin::All,
    )];
    let mut reputation = rule(3, vec![]);
    reputation.src = AddrSet {
        include: ["10.0.0.0/24".parse().unwrap()].into(),
        exclude: [].into(),
    };
    vec![
        setter,
        checker,
        reputation,
        rule(
            4,
            vec![
                c(content(b"GET")),
                pcre(r"\s+/\w+", PcreFlags::default(), true, false),
            ],
        ),
        rule(
            5,
            vec![
                DetectOption::ByteExtract(byte_extract(1, 0, "n")),
                c(Content {
                    offset: Some(Value::Var(0)),
                    ..content(b"abc")
                }),
                isdataat(2, true, false),
                DetectOption::ByteJump(ByteJump {
                    relative: true,
                    ..byte_jump(1, 0)
                }),
                DetectOption::ByteTest(byte_test(1, ByteTestOp::Gt, 1, 0)),
            ],
        ),
        rule(
            6,
            vec![
                c(content(b"a")),
                c(Content {
                    within: lit(1),
                    ..content(b"b")
                }),
            ],
        ),
        rule(
            7,
            vec![
                c(Content {
                    nocase: true,
                    ..content(b"xyzzy")
                }),
                DetectOption::Dsize(IntCmp::Gt(3)),
            ],
        ),
    ]
}

#[test]
fn detect_does_not_allocate_after_warm_up() {
    let set = RuleSet::build(rules(), &build_options());
    let mut scratch = set.new_scratch();
    let mut out = Vec::with_capacity(16);
    let mut bits = FlowBits::default();
    let buffers: [&[u8]; 4] = [
        b"GET /index login admin xyzzy aaaab",
        b"\x05..abc..\x01..GET   /x",
        b"nothing to see here",
        b"",
    ];
    let ctx = tcp_ctx();
    let mut run = |out: &mut Vec<_>, bits: &mut FlowBits| {
        for buf in buffers {
            out.clear();
            let ctx = PacketContext {
                dsize: buf.len(),
                ..ctx
            };
            set.detect(&ctx, buf, bits, &mut scratch, out);
        }
    };
    run(&mut out, &mut bits);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..50 {
        run(&mut out, &mut bits);
    }
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    assert_eq!(
        after - before,
        0,
        "detect allocated {} times after warm-up",
        after - before
    );
    assert!(
        scratch.stats().matches > 0,
        "the loop must actually match rules"
    );
}
