//! The Vectorscan back end: a block-mode database per pattern set, each literal compiled as a
//! `\xNN`-escaped expression (`hs_compile_lit_multi` would be the natural call, but Vectorscan
//! 5.4 rejects literals starting with a NUL byte as "empty"), nocase patterns with
//! `HS_FLAG_CASELESS` so the haystack is scanned as is. Not here: choosing when to use it ([`super::MpmKind::resolve`]).

use std::ffi::{c_char, c_int, c_uint, c_ulonglong, c_void, CStr};
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering;

use hyperscan_sys as ffi;

use super::{
    check_patterns, DiskCache, MpmError, MpmInput, MpmKind, MpmPattern, MpmScratch,
    MultiPatternMatcher,
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
    /// [`HsMatcher::build`] through `disk`: a verified entry is deserialized instead of
    /// compiled; a compiled database is written back (failures to write are counted, not fatal).
    pub fn build_cached(
        patterns: &[MpmPattern<'_>],
        disk: Option<&DiskCache>,
    ) -> Result<HsMatcher, MpmError> {
        let Some(disk) = disk else {
            return HsMatcher::build(patterns);
        };
        check_patterns(patterns)?;
        let (key, path) = entry_of(patterns, disk);
        if let Some(matcher) = HsMatcher::read_entry(patterns, disk, key, &path) {
            return Ok(matcher);
        }
        let matcher = HsMatcher::build(patterns)?;
        if let Err(err) = matcher.write_entry(&disk.dir, &path, key) {
            disk.write_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "Vectorscan cache entry {} not written ({err}); check detect.cache-dir",
                path.display()
            );
        }
        Ok(matcher)
    }

    /// The matcher `disk` holds for `patterns`, if an entry exists and verifies (counted as a
    /// hit; otherwise as a miss, or as rejected and logged).
    pub fn from_cache(patterns: &[MpmPattern<'_>], disk: &DiskCache) -> Option<HsMatcher> {
        let (key, path) = entry_of(patterns, disk);
        HsMatcher::read_entry(patterns, disk, key, &path)
    }

    fn read_entry(
        patterns: &[MpmPattern<'_>],
        disk: &DiskCache,
        key: u128,
        path: &std::path::Path,
    ) -> Option<HsMatcher> {
        match std::fs::read(path) {
            Ok(bytes) => match HsMatcher::from_entry(&bytes, key, patterns) {
                Ok(matcher) => {
                    disk.hits.fetch_add(1, Ordering::Relaxed);
                    // In use: keep it from ageing out (DiskCache::prune). A read-only
                    // directory only loses that.
                    let _ = std::fs::File::options()
                        .append(true)
                        .open(path)
                        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                    return Some(matcher);
                }
                Err(why) => {
                    disk.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        "Vectorscan cache entry {} not used ({why}); compiling again",
                        path.display()
                    );
                }
            },
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                disk.misses.fetch_add(1, Ordering::Relaxed);
            }
            Err(err) => {
                disk.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "Vectorscan cache entry {} unreadable ({err}); compiling again",
                    path.display()
                );
            }
        }
        None
    }

    /// A matcher from a cache entry, when it verifies for `key`.
    fn from_entry(
        entry: &[u8],
        key: u128,
        patterns: &[MpmPattern<'_>],
    ) -> Result<HsMatcher, String> {
        let header = entry.get(..ENTRY_HEADER).ok_or("shorter than its header")?;
        let field = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&header[at..at + 8]);
            u64::from_le_bytes(word)
        };
        if &header[..8] != ENTRY_MAGIC {
            return Err("not an nfips Vectorscan cache entry".into());
        }
        let stored_key = (u128::from(field(8)) << 64) | u128::from(field(16));
        if stored_key != key {
            return Err("made for other patterns".into());
        }
        let payload = &entry[ENTRY_HEADER..];
        if field(24) != payload.len() as u64 {
            return Err(format!(
                "truncated ({} of {} bytes)",
                payload.len(),
                field(24)
            ));
        }
        if field(32) != fnv1a(FNV_OFFSET, payload) {
            return Err("checksum mismatch".into());
        }
        let mut db = ptr::null_mut();
        // SAFETY: payload is a readable byte slice; Vectorscan validates it (magic, version,
        // platform, CRC) and writes a database pointer only on success.
        let rc = unsafe {
            ffi::hs_deserialize_database(payload.as_ptr().cast(), payload.len(), &mut db)
        };
        if rc != ffi::HS_SUCCESS as ffi::hs_error_t {
            return Err(format!(
                "Vectorscan refused it (error {rc}: other version or platform?)"
            ));
        }
        let db = NonNull::new(db).ok_or("Vectorscan returned no database")?;
        let mut db_bytes = 0;
        // SAFETY: db is a valid database.
        unsafe { ffi::hs_database_size(db.as_ptr(), &mut db_bytes) };
        Ok(HsMatcher {
            db,
            ids: patterns.iter().map(|p| p.id).collect(),
            max_len: patterns.iter().map(|p| p.bytes.len()).max().unwrap_or(0),
            db_bytes,
        })
    }

    /// Serialize into `path` (through a temporary file in `dir`, renamed into place).
    fn write_entry(
        &self,
        dir: &std::path::Path,
        path: &std::path::Path,
        key: u128,
    ) -> std::io::Result<()> {
        let mut bytes: *mut c_char = ptr::null_mut();
        let mut length = 0usize;
        // SAFETY: db is valid; on success `bytes` is a malloc'd block of `length` bytes.
        let rc = unsafe { ffi::hs_serialize_database(self.db.as_ptr(), &mut bytes, &mut length) };
        if rc != ffi::HS_SUCCESS as ffi::hs_error_t || bytes.is_null() {
            return Err(std::io::Error::other(format!(
                "serialize failed (error {rc})"
            )));
        }
        let mut entry = Vec::with_capacity(ENTRY_HEADER + length);
        {
            // SAFETY: Vectorscan returned `length` readable bytes at `bytes`.
            let payload = unsafe { std::slice::from_raw_parts(bytes.cast::<u8>(), length) };
            entry.extend_from_slice(ENTRY_MAGIC);
            entry.extend_from_slice(&((key >> 64) as u64).to_le_bytes());
            entry.extend_from_slice(&(key as u64).to_le_bytes());
            entry.extend_from_slice(&(length as u64).to_le_bytes());
            entry.extend_from_slice(&fnv1a(FNV_OFFSET, payload).to_le_bytes());
            entry.extend_from_slice(payload);
        }
        // SAFETY: allocated by Vectorscan's misc allocator (malloc by default), freed once.
        unsafe { free(bytes.cast()) };
        std::fs::create_dir_all(dir)?;
        let temporary = dir.join(format!(
            ".{:032x}.{}.{:?}.tmp",
            key,
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&temporary, &entry)?;
        std::fs::rename(&temporary, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&temporary);
        })
    }

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

extern "C" {
    fn free(ptr: *mut c_void);
}

/// First bytes of a cache entry; the digit is the entry format version.
const ENTRY_MAGIC: &[u8; 8] = b"NFIPSHS1";
/// Magic, key (16), payload length (8), payload checksum (8).
const ENTRY_HEADER: usize = 40;
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The cache key of `patterns` and the path of its entry in `disk`.
fn entry_of(patterns: &[MpmPattern<'_>], disk: &DiskCache) -> (u128, std::path::PathBuf) {
    let key = cache_key(patterns);
    (key, disk.dir.join(format!("{key:032x}.hsdb")))
}

/// The CPU Vectorscan compiles for here: its tuning and feature flags. A database compiled on
/// one CPU deserializes on another of the same family, but runs its code paths (under
/// valgrind, whose CPU lacks AVX-512, the native cache's databases loaded and ran slower).
fn platform() -> [u8; 12] {
    let mut info = ffi::hs_platform_info_t {
        tune: 0,
        cpu_features: 0,
        reserved1: 0,
        reserved2: 0,
    };
    // SAFETY: hs_populate_platform writes one hs_platform_info_t to the valid pointer. On
    // failure the zeroed value stands, which only makes a key that never matches a real one.
    unsafe { ffi::hs_populate_platform(&mut info) };
    let mut out = [0; 12];
    out[..4].copy_from_slice(&info.tune.to_le_bytes());
    out[4..].copy_from_slice(&info.cpu_features.to_le_bytes());
    out
}

/// 128 bits naming a pattern set's database: two differently seeded FNV-1a hashes over the
/// entry format, the Vectorscan version, the CPU it compiles for and every pattern's length,
/// bytes, flags and id.
fn cache_key(patterns: &[MpmPattern<'_>]) -> u128 {
    // SAFETY: hs_version returns a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(ffi::hs_version()) }.to_bytes();
    let platform = platform();
    let mut halves = [FNV_OFFSET, FNV_OFFSET ^ 0x9e37_79b9_7f4a_7c15];
    for (seed, hash) in halves.iter_mut().enumerate() {
        *hash = fnv1a(*hash, &[seed as u8]);
        *hash = fnv1a(*hash, ENTRY_MAGIC);
        *hash = fnv1a(*hash, version);
        *hash = fnv1a(*hash, &platform);
        for p in patterns {
            *hash = fnv1a(*hash, &(p.bytes.len() as u64).to_le_bytes());
            *hash = fnv1a(*hash, p.bytes);
            *hash = fnv1a(*hash, &[u8::from(p.nocase)]);
            *hash = fnv1a(*hash, &p.id.to_le_bytes());
        }
    }
    (u128::from(halves[0]) << 64) | u128::from(halves[1])
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh empty directory under the system temp dir, removed on drop.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("nfips-hs-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn patterns() -> Vec<MpmPattern<'static>> {
        vec![
            MpmPattern {
                bytes: b"evil",
                nocase: true,
                id: 0,
            },
            MpmPattern {
                bytes: b"\x00\x01MZ",
                nocase: false,
                id: 1,
            },
        ]
    }

    fn hits(m: &dyn MultiPatternMatcher, hay: &[u8]) -> Vec<(u32, usize)> {
        let mut proto = MpmScratch::new();
        m.prepare_scratch(&mut proto).unwrap();
        let mut out = Vec::new();
        m.scan(hay, &mut proto, &mut |id, end| out.push((id, end)));
        out.sort_unstable();
        out
    }

    fn entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    const HAY: &[u8] = b"xxEVIL\x00\x01MZ";

    #[test]
    fn second_build_reads_the_entry_and_matches_the_same() {
        let dir = TempDir::new("hit");
        let disk = DiskCache::new(&dir.0);
        let first = HsMatcher::build_cached(&patterns(), Some(&disk)).unwrap();
        let second = HsMatcher::build_cached(&patterns(), Some(&disk)).unwrap();
        assert_eq!(disk.stats().misses, 1);
        assert_eq!(disk.stats().hits, 1);
        assert_eq!(entries(&dir.0).len(), 1);
        assert_eq!(hits(&second, HAY), hits(&first, HAY));
        assert_eq!(hits(&second, HAY), [(0, 6), (1, 10)]);
        assert_eq!(second.max_pattern_len(), 4);
    }

    #[test]
    fn a_deferring_cache_stands_in_the_hash_matcher_until_the_entry_exists() {
        use crate::mpm::build_matcher_cached;
        let dir = TempDir::new("defer");
        let deferring = DiskCache::new(&dir.0).deferring_compiles(true);
        let standin = build_matcher_cached(MpmKind::Hs, &patterns(), Some(&deferring)).unwrap();
        assert_eq!(standin.kind(), MpmKind::Hash);
        assert_eq!(hits(&*standin, HAY), [(0, 6), (1, 10)]);
        assert_eq!(
            (deferring.stats().deferred, deferring.stats().misses),
            (1, 1)
        );
        assert!(entries(&dir.0).is_empty(), "deferring compiles nothing");
        // The background build compiles and stores it; the next deferring load reads it.
        let full = DiskCache::new(&dir.0);
        build_matcher_cached(MpmKind::Hs, &patterns(), Some(&full)).unwrap();
        let deferring = DiskCache::new(&dir.0).deferring_compiles(true);
        let cached = build_matcher_cached(MpmKind::Hs, &patterns(), Some(&deferring)).unwrap();
        assert_eq!(cached.kind(), MpmKind::Hs);
        assert_eq!(hits(&*cached, HAY), [(0, 6), (1, 10)]);
        assert_eq!((deferring.stats().deferred, deferring.stats().hits), (0, 1));
    }

    #[test]
    fn entries_no_load_used_for_the_max_age_are_pruned() {
        use std::time::{Duration, SystemTime};
        let dir = TempDir::new("prune");
        let disk = DiskCache::new(&dir.0);
        let mut other = patterns();
        other[0].id = 7;
        HsMatcher::build_cached(&patterns(), Some(&disk)).unwrap();
        HsMatcher::build_cached(&other, Some(&disk)).unwrap();
        let stray = dir.0.join(".0000.1.ThreadId(1).tmp");
        std::fs::write(&stray, b"interrupted write").unwrap();
        let month_ago = SystemTime::now() - Duration::from_secs(31 * 86_400);
        for path in entries(&dir.0) {
            let file = std::fs::File::options().append(true).open(&path).unwrap();
            file.set_modified(month_ago).unwrap();
        }
        let unrelated = dir.0.join("notes.txt");
        std::fs::write(&unrelated, b"not ours").unwrap();
        // A load that uses the first set refreshes it; the other and the stray file age out.
        let disk = DiskCache::new(&dir.0);
        HsMatcher::build_cached(&patterns(), Some(&disk)).unwrap();
        disk.prune(Duration::from_secs(30 * 86_400));
        assert_eq!((disk.stats().hits, disk.stats().pruned), (1, 2));
        let left = entries(&dir.0);
        assert_eq!(left.len(), 2, "{left:?}");
        assert!(left.contains(&unrelated));
        let disk = DiskCache::new(&dir.0);
        HsMatcher::build_cached(&patterns(), Some(&disk)).unwrap();
        assert_eq!(disk.stats().hits, 1, "the used entry survived");
    }

    #[test]
    fn other_flags_or_ids_are_other_entries() {
        let dir = TempDir::new("keys");
        let disk = DiskCache::new(&dir.0);
        let mut other = patterns();
        other[0].nocase = false;
        let mut renumbered = patterns();
        renumbered[1].id = 7;
        for set in [patterns(), other, renumbered] {
            HsMatcher::build_cached(&set, Some(&disk)).unwrap();
        }
        assert_eq!(disk.stats().misses, 3);
        assert_eq!(entries(&dir.0).len(), 3);
    }

    #[test]
    fn corrupt_or_truncated_entry_is_rejected_counted_and_rewritten() {
        for damage in ["flip", "truncate", "garbage"] {
            let dir = TempDir::new(damage);
            let disk = DiskCache::new(&dir.0);
            HsMatcher::build_cached(&patterns(), Some(&disk)).unwrap();
            let path = entries(&dir.0).pop().unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            match damage {
                "flip" => *bytes.last_mut().unwrap() ^= 0xff,
                "truncate" => bytes.truncate(bytes.len() / 2),
                _ => bytes = b"not a database at all, but long enough for a header".to_vec(),
            }
            std::fs::write(&path, &bytes).unwrap();
            let rebuilt = HsMatcher::build_cached(&patterns(), Some(&disk)).unwrap();
            assert_eq!(disk.stats().rejected, 1, "{damage}");
            assert_eq!(hits(&rebuilt, HAY), [(0, 6), (1, 10)], "{damage}");
            HsMatcher::build_cached(&patterns(), Some(&disk)).unwrap();
            assert_eq!(disk.stats().hits, 1, "{damage}: the entry was rewritten");
        }
    }

    #[test]
    fn unwritable_directory_is_a_counted_write_error_not_a_failure() {
        let dir = TempDir::new("unwritable");
        std::fs::write(&dir.0, b"a file where the directory should be").unwrap();
        let disk = DiskCache::new(dir.0.join("sub"));
        let m = HsMatcher::build_cached(&patterns(), Some(&disk)).unwrap();
        assert_eq!(disk.stats().write_errors, 1);
        assert_eq!(hits(&m, HAY), [(0, 6), (1, 10)]);
        let _ = std::fs::remove_file(&dir.0);
    }
}
