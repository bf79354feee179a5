//! The hot path of `qb_log_callsite_get2`: a pointer-keyed cache in front of the
//! call-site registry.
//!
//! Every `qb_log()` statement, enabled or not, asks for its call site each time it
//! runs. The registry ([`super::callsite`]) identifies a site by the *contents* of
//! its format and file name (libqb's semantics), which costs string compares. The
//! `qb_log()` macro always passes the same two string literals, so this cache keys
//! the answer by the caller's *pointers* (plus line and priority): a repeated
//! lookup is a hash, one atomic load and four integer compares. No lock, no
//! allocation, no string compare.
//!
//! Pointer equality only implies equal contents when the memory cannot change, so
//! a pointer pair is cached only when both strings live in a read-only segment of a
//! loaded ELF object (string literals do; heap or stack strings passed to
//! `qb_log_from_external_source` do not, and keep using the registry lookup).
//! Different pointers carrying equal strings still resolve, through the registry,
//! to the same call site; each pointer pair gets its own cache slot.
//!
//! Known limit: if a library is unloaded and another one is later mapped at the
//! same address with a log statement at the very same line, priority and string
//! addresses, the old cache slot would answer for it. Libraries that unload log
//! statements are rare, and libqb's own call-site sections have the same hazard.
//!
//! The table is fixed-size and append-only: slots are never freed or reused, so a
//! reader can never see a slot change under it. When the probe window around a
//! key's hash is full, that key is simply not cached.

use std::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use super::callsite::{Callsite, Entry, SiteKey};

/// Slots in the table (a power of two). Large daemons have a few thousand log
/// statements; the table is zero-filled memory the OS only maps when touched.
const SLOT_BITS: u32 = 13;
const SLOTS: usize = 1 << SLOT_BITS;
/// How far from its home slot a key may be stored.
const PROBES: usize = 16;

/// One cached answer. Pointers are kept as integers: they are only compared.
struct Slot {
    format: usize,
    filename: usize,
    line_prio: u64,
    entry: &'static Entry,
}

static TABLE: [OnceLock<Slot>; SLOTS] = [const { OnceLock::new() }; SLOTS];

fn line_prio(lineno: u32, priority: u8) -> u64 {
    (u64::from(lineno) << 8) | u64::from(priority)
}

#[inline(always)]
fn home(format: usize, filename: usize, line_prio: u64) -> usize {
    const MUL: u64 = 0x9E37_79B9_7F4A_7C15;
    let mixed = (format as u64) ^ (filename as u64).rotate_left(29) ^ line_prio.wrapping_mul(MUL);
    (mixed.wrapping_mul(MUL) >> (64 - SLOT_BITS)) as usize
}

#[inline(always)]
fn find(format: usize, filename: usize, line_prio: u64) -> Option<&'static Entry> {
    let start = home(format, filename, line_prio);
    for i in 0..PROBES {
        let slot = TABLE[(start + i) & (SLOTS - 1)].get()?;
        if slot.format == format && slot.filename == filename && slot.line_prio == line_prio {
            return Some(slot.entry);
        }
    }
    None
}

/// The hit path of `qb_log_callsite_get2`. None means "not answered here": the
/// caller takes the full path (which also handles "logger not initialised" and a
/// call site that is new to the current logger generation).
#[inline(always)]
pub fn lookup(
    format: *const c_char,
    filename: *const c_char,
    priority: u8,
    lineno: u32,
    tags: u32,
) -> Option<&'static Callsite> {
    if !super::is_inited() {
        return None;
    }
    let entry = find(
        format as usize,
        filename as usize,
        line_prio(lineno, priority),
    )?;
    if !super::REGISTRY.is_current(entry) {
        return None;
    }
    let cs = entry.callsite();
    // Like libqb: a known site only takes non-zero tags. Compare first so the
    // shared line is not dirtied on every call.
    if tags != 0 && cs.tags.load(Ordering::Relaxed) != tags {
        cs.tags.store(tags, Ordering::Relaxed);
    }
    if super::callbacks::has_filter_fn() {
        super::callbacks::run_filter(cs);
    }
    Some(cs)
}

/// Called by the full path after resolving `key` to `entry`: caches the caller's
/// pointer pair when it is safe to (see the module comment).
pub fn remember(key: &SiteKey, entry: &'static Entry) {
    let format = key.format.as_ptr() as usize;
    let filename = key.filename.as_ptr() as usize;
    // Each entry notes the last pointer pair it checked, so a caller whose strings
    // are not cacheable does not pay for the segment walk on every call.
    if !entry.note_pointers(format, filename) {
        return;
    }
    if !is_read_only(format) || !is_read_only(filename) {
        return;
    }
    insert(format, filename, line_prio(key.lineno, key.priority), entry);
}

fn insert(format: usize, filename: usize, line_prio: u64, entry: &'static Entry) {
    let start = home(format, filename, line_prio);
    for i in 0..PROBES {
        let cell = &TABLE[(start + i) & (SLOTS - 1)];
        let slot = cell.get_or_init(|| Slot {
            format,
            filename,
            line_prio,
            entry,
        });
        if slot.format == format && slot.filename == filename && slot.line_prio == line_prio {
            return;
        }
    }
}

/// Whether `addr` lies in a loaded ELF object's segment that is mapped without
/// write permission (text, read-only data).
fn is_read_only(addr: usize) -> bool {
    struct Search {
        addr: usize,
        found: bool,
    }
    unsafe extern "C" fn visit(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        data: *mut c_void,
    ) -> c_int {
        // SAFETY: the loader passes a valid `info` for the duration of the call, and
        // `data` is the `Search` handed to dl_iterate_phdr below.
        let (info, search) = unsafe { (&*info, &mut *data.cast::<Search>()) };
        if info.dlpi_phdr.is_null() {
            return 0;
        }
        // SAFETY: `dlpi_phdr` points to `dlpi_phnum` program headers.
        let headers =
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
        let base = info.dlpi_addr as usize;
        for ph in headers {
            if ph.p_type != libc::PT_LOAD || ph.p_flags & libc::PF_W != 0 {
                continue;
            }
            let start = base.wrapping_add(ph.p_vaddr as usize);
            let end = start.wrapping_add(ph.p_memsz as usize);
            if (start..end).contains(&search.addr) {
                search.found = true;
                return 1;
            }
        }
        0
    }
    if addr == 0 {
        return false;
    }
    let mut search = Search { addr, found: false };
    // SAFETY: `visit` matches the callback type and only uses `search` during the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&raw mut search).cast::<c_void>()) };
    search.found
}

#[cfg(test)]
mod tests {
    use super::*;

    static LITERAL: &std::ffi::CStr = c"a literal";

    #[test]
    fn literals_are_read_only_heap_is_not() {
        assert!(is_read_only(LITERAL.as_ptr() as usize));
        let heap = std::ffi::CString::new("on the heap").unwrap();
        assert!(!is_read_only(heap.as_ptr() as usize));
        let mut stack = *b"stack\0";
        assert!(!is_read_only(stack.as_mut_ptr() as usize));
        assert!(!is_read_only(0));
    }

    #[test]
    fn cached_by_pointers_line_and_priority() {
        use super::super::callsite::Registry;
        let reg: &'static Registry = Box::leak(Box::new(Registry::new()));
        let key = SiteKey {
            message_id: None,
            function: c"f",
            filename: c"fastsite_test.c",
            format: c"cached %d",
            priority: 6,
            lineno: 4242,
            tags: 0,
        };
        let entry = reg.get_or_create(&key).entry;
        let (fmt, file) = (key.format.as_ptr() as usize, key.filename.as_ptr() as usize);
        assert!(find(fmt, file, line_prio(4242, 6)).is_none());
        remember(&key, entry);
        assert!(std::ptr::eq(
            find(fmt, file, line_prio(4242, 6)).unwrap(),
            entry
        ));
        assert!(find(fmt, file, line_prio(4242, 5)).is_none());
        assert!(find(fmt, file, line_prio(4243, 6)).is_none());
        assert!(find(fmt + 1, file, line_prio(4242, 6)).is_none());
        // Equal strings at other (heap) addresses are not cached.
        let heap_fmt = std::ffi::CString::new("cached %d").unwrap();
        let heap_key = SiteKey {
            format: &heap_fmt,
            ..key
        };
        remember(&heap_key, entry);
        assert!(find(heap_fmt.as_ptr() as usize, file, line_prio(4242, 6)).is_none());
    }

    #[test]
    fn full_windows_are_not_cached() {
        use super::super::callsite::Registry;
        let reg: &'static Registry = Box::leak(Box::new(Registry::new()));
        let key = SiteKey {
            message_id: None,
            function: c"f",
            filename: c"window.c",
            format: c"w",
            priority: 1,
            lineno: 1,
            tags: 0,
        };
        let entry = reg.get_or_create(&key).entry;
        // Fake read-only pointers: entries never dereference them. Many keys that
        // differ only in line number still all resolve or are skipped, never wrong.
        for line in 0..(PROBES as u32 * 4) {
            insert(0x7000, 0x8000, line_prio(line, 1), entry);
        }
        for line in 0..(PROBES as u32 * 4) {
            if let Some(found) = find(0x7000, 0x8000, line_prio(line, 1)) {
                assert!(std::ptr::eq(found, entry));
            }
        }
    }

    #[test]
    fn keys_spread_and_pack() {
        assert_ne!(line_prio(1, 2), line_prio(2, 1));
        assert!(home(0x1000, 0x2000, 5) < SLOTS);
    }
}
