//! The Vectorscan back end: a block-mode database per pattern set, each literal compiled as a
//! `\xNN`-escaped expression (`hs_compile_lit_multi` would be the natural call, but Vectorscan
//! 5.4 rejects literals starting with a NUL byte as "empty"), nocase patterns with
//! `HS_FLAG_CASELESS` so the haystack is scanned as is. Not here: choosing when to use it ([`super::MpmKind::resolve`]).

use std::ffi::{c_char, c_int, c_uint, c_ulonglong, c_void, CStr};
use std::ptr::{self, NonNull};

use hyperscan_sys as ffi;

use super::{
    check_patterns, MpmError, MpmInput, MpmKind, MpmPattern, MpmScratch, MultiPatternMatcher,
};

/// A compiled database. Vectorscan databases are immutable and may be scanned from many
/// threads at once (each with its own scratch).
#[derive(Debug)]
pub struct HsMatcher {
    db: NonNull<ffi::hs_database_t>,
    /// Every pattern id, for the fallback of a scan that cannot run.
    ids: Box<[u32]>,
    max_len: usize,
    db_bytes: usize,
}

// SAFETY: the database is read-only after compilation; Vectorscan documents concurrent scans of
// one database with distinct scratches as safe.
unsafe impl Send for HsMatcher {}
unsafe impl Sync for HsMatcher {}

impl Drop for HsMatcher {
    fn drop(&mut self) {
        // SAFETY: db came from hs_compile_lit_multi and is freed once.
        unsafe { ffi::hs_free_database(self.db.as_ptr()) };
    }
}

fn hs_error(what: &str, code: ffi::hs_error_t) -> MpmError {
    MpmError(format!("Vectorscan {what} failed (error {code})"))
}

impl HsMatcher {
    pub fn build(patterns: &[MpmPattern<'_>]) -> Result<HsMatcher, MpmError> {
        check_patterns(patterns)?;
        if patterns.is_empty() {
            return Err(MpmError("Vectorscan needs at least one pattern".into()));
        }
        let count = c_uint::try_from(patterns.len())
            .map_err(|_| MpmError("too many patterns for Vectorscan".into()))?;
        let escaped: Vec<Vec<u8>> = patterns.iter().map(|p| escape(p.bytes)).collect();
        let exprs: Vec<*const c_char> = escaped.iter().map(|e| e.as_ptr().cast()).collect();
        let lens: Vec<usize> = patterns.iter().map(|p| p.bytes.len()).collect();
        let flags: Vec<c_uint> = patterns
            .iter()
            .map(|p| if p.nocase { ffi::HS_FLAG_CASELESS } else { 0 })
            .collect();
        let ids: Vec<c_uint> = patterns.iter().map(|p| p.id).collect();
        let mut db = ptr::null_mut();
        let mut error = ptr::null_mut();
        // SAFETY: the three arrays have `count` elements and outlive the call, each expression
        // is NUL-terminated; out-pointers are valid.
        let rc = unsafe {
            ffi::hs_compile_multi(
                exprs.as_ptr(),
                flags.as_ptr(),
                ids.as_ptr(),
                count,
                ffi::HS_MODE_BLOCK,
                ptr::null(),
                &mut db,
                &mut error,
            )
        };
        if rc != ffi::HS_SUCCESS as ffi::hs_error_t {
            let message = if error.is_null() {
                format!("error {rc}")
            } else {
                // SAFETY: a compile error holds a NUL-terminated message; freed right after.
                unsafe {
                    let text = CStr::from_ptr((*error).message)
                        .to_string_lossy()
                        .into_owned();
                    ffi::hs_free_compile_error(error);
                    text
                }
            };
            return Err(MpmError(format!("Vectorscan compile: {message}")));
        }
        let db =
            NonNull::new(db).ok_or_else(|| MpmError("Vectorscan returned no database".into()))?;
        let mut db_bytes = 0;
        // SAFETY: db is a valid database.
        unsafe { ffi::hs_database_size(db.as_ptr(), &mut db_bytes) };
        Ok(HsMatcher {
            db,
            ids: ids.into_boxed_slice(),
            max_len: lens.iter().copied().max().unwrap_or(0),
            db_bytes,
        })
    }
}

/// `bytes` as a NUL-terminated expression matching exactly them: every byte as `\xNN`.
fn escape(bytes: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 4 + 1);
    for &b in bytes {
        out.extend_from_slice(&[
            b'\\',
            b'x',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 15)],
        ]);
    }
    out.push(0);
    out
}

/// Context handed through `hs_scan` to [`on_match`].
struct Context<'a> {
    on_hit: &'a mut dyn FnMut(u32, usize),
}

unsafe extern "C" fn on_match(
    id: c_uint,
    _from: c_ulonglong,
    to: c_ulonglong,
    _flags: c_uint,
    context: *mut c_void,
) -> c_int {
    // SAFETY: `context` is the `Context` that `scan_input` passed and keeps alive.
    let context = unsafe { &mut *context.cast::<Context<'_>>() };
    (context.on_hit)(id, to as usize);
    0
}

impl MultiPatternMatcher for HsMatcher {
    fn kind(&self) -> MpmKind {
        MpmKind::Hs
    }
    fn pattern_count(&self) -> usize {
        self.ids.len()
    }
    fn max_pattern_len(&self) -> usize {
        self.max_len
    }
    fn memory_usage(&self) -> usize {
        self.db_bytes + self.ids.len() * 4
    }
    fn wants_lowered(&self) -> bool {
        false
    }
    fn prepare_scratch(&self, scratch: &mut MpmScratch) -> Result<(), MpmError> {
        let mut raw = scratch.hs.0;
        // SAFETY: raw is null or a scratch from hs_alloc_scratch; it is grown in place.
        let rc = unsafe { ffi::hs_alloc_scratch(self.db.as_ptr(), &mut raw) };
        scratch.hs.0 = raw;
        if rc != ffi::HS_SUCCESS as ffi::hs_error_t {
            return Err(hs_error("scratch allocation", rc));
        }
        Ok(())
    }
    fn scan_input(
        &self,
        input: MpmInput<'_>,
        scratch: &mut MpmScratch,
        on_hit: &mut dyn FnMut(u32, usize),
    ) {
        let rc = match c_uint::try_from(input.raw.len()) {
            Ok(len) if !scratch.hs.0.is_null() => {
                let mut context = Context {
                    on_hit: &mut *on_hit,
                };
                // SAFETY: db and scratch are valid, the scratch is exclusively ours (&mut), the
                // data pointer/length describe `input.raw`, and `context` outlives the call.
                unsafe {
                    ffi::hs_scan(
                        self.db.as_ptr(),
                        input.raw.as_ptr().cast(),
                        len,
                        0,
                        scratch.hs.0,
                        Some(on_match),
                        (&mut context as *mut Context<'_>).cast(),
                    )
                }
            }
            _ => ffi::HS_INVALID,
        };
        if rc != ffi::HS_SUCCESS as ffi::hs_error_t {
            // A scan that cannot run (scratch never prepared for this database) must not hide
            // rules: report every pattern as present at the end of the input.
            scratch.failed_scans += 1;
            for &id in self.ids.iter() {
                on_hit(id, input.raw.len());
            }
        }
    }
}

/// A Vectorscan scratch (null until a database prepared it).
#[derive(Debug)]
pub struct HsScratch(*mut ffi::hs_scratch_t);

impl Default for HsScratch {
    fn default() -> Self {
        HsScratch(ptr::null_mut())
    }
}

// SAFETY: a scratch is used for scanning only through `&mut MpmScratch` (one thread at a time);
// through `&self` it is only read by hs_clone_scratch, which copies it.
unsafe impl Send for HsScratch {}
unsafe impl Sync for HsScratch {}

impl HsScratch {
    pub fn try_clone(&self) -> Result<HsScratch, MpmError> {
        if self.0.is_null() {
            return Ok(HsScratch::default());
        }
        let mut copy = ptr::null_mut();
        // SAFETY: self.0 is a valid scratch; copy receives a new one.
        let rc = unsafe { ffi::hs_clone_scratch(self.0, &mut copy) };
        if rc != ffi::HS_SUCCESS as ffi::hs_error_t {
            return Err(hs_error("scratch clone", rc));
        }
        Ok(HsScratch(copy))
    }
}

impl Drop for HsScratch {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: allocated by hs_alloc_scratch or hs_clone_scratch, freed once.
            unsafe { ffi::hs_free_scratch(self.0) };
        }
    }
}
