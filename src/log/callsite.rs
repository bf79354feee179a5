//! Call sites (`struct qb_log_callsite`) and the registry that hands them out.
//!
//! Every `qb_log()` line asks for its call site on each execution, so a repeated
//! lookup must be cheap: the registry is a fixed table of buckets (chosen by line
//! number) holding append-only chains of entries. A lookup walks a chain with plain
//! atomic loads (no lock, no allocation); only creating an entry takes the registry's
//! mutex. Entries are never freed: C callers keep the pointers (libqb promises they
//! stay valid while the logger lives) and mutate `priority`, `tags` and `targets`.
//! After `qb_log_fini()` + `qb_log_init()` an entry is reused but treated as new (its
//! filters are recomputed), which is what a fresh libqb call site would look like.

use std::ffi::{CStr, CString, c_char};
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use super::filter::SiteView;

/// `struct qb_log_callsite` exactly as C sees it (48 bytes, 8-aligned). Every field
/// C may write is atomic, so Rust can read it while C code changes it. The string
/// pointers refer to the strings owned by the registry entry.
#[repr(C, align(8))]
pub struct Callsite {
    pub function: AtomicPtr<c_char>,
    pub filename: AtomicPtr<c_char>,
    pub format: AtomicPtr<c_char>,
    pub priority: AtomicU8,
    pub lineno: AtomicU32,
    pub targets: AtomicU32,
    pub tags: AtomicU32,
    pub message_id: AtomicPtr<c_char>,
}

const _: () = {
    assert!(size_of::<Callsite>() == 48);
    assert!(align_of::<Callsite>() == 8);
    assert!(std::mem::offset_of!(Callsite, priority) == 24);
    assert!(std::mem::offset_of!(Callsite, lineno) == 28);
    assert!(std::mem::offset_of!(Callsite, targets) == 32);
    assert!(std::mem::offset_of!(Callsite, tags) == 36);
    assert!(std::mem::offset_of!(Callsite, message_id) == 40);
};

impl Callsite {
    /// Pointer handed to C; C writes only through the atomic fields.
    pub fn as_c_ptr(&self) -> *mut Callsite {
        self as *const Callsite as *mut Callsite
    }
}

/// One registered call site with the strings its C struct points to.
pub struct Entry {
    cs: Callsite,
    function: CString,
    filename: CString,
    format: CString,
    _message_id: Option<CString>,
    lineno: u32,
    /// Logger generation (see [`Registry::begin_generation`]) the entry's filter
    /// state belongs to.
    generation: AtomicU64,
    /// Mix of the last caller pointer pair [`super::fastsite`] examined for this
    /// entry (0: none yet).
    checked_pointers: AtomicU64,
    next: OnceLock<&'static Entry>,
}

impl Entry {
    pub fn callsite(&self) -> &Callsite {
        &self.cs
    }

    /// What filters look at: the stored strings and the current priority.
    pub fn view(&self) -> SiteView<'_> {
        SiteView {
            function: self.function.to_bytes(),
            filename: self.filename.to_bytes(),
            format: self.format.to_bytes(),
            priority: self.cs.priority.load(Ordering::Relaxed),
        }
    }

    /// Records that `(format, filename)` is being examined for caching; false when
    /// it was already the last pair examined.
    pub fn note_pointers(&self, format: usize, filename: usize) -> bool {
        let mixed = (format as u64).rotate_left(32) ^ (filename as u64) | 1;
        if self.checked_pointers.load(Ordering::Relaxed) == mixed {
            return false;
        }
        self.checked_pointers.store(mixed, Ordering::Relaxed);
        true
    }

    fn is(&self, lineno: u32, priority: u8, filename: &CStr, format: &CStr) -> bool {
        self.lineno == lineno
            && self.cs.priority.load(Ordering::Relaxed) == priority
            && self.filename.as_c_str() == filename
            && self.format.as_c_str() == format
    }
}

/// What identifies (and initialises) a call site.
pub struct SiteKey<'a> {
    pub message_id: Option<&'a CStr>,
    pub function: &'a CStr,
    pub filename: &'a CStr,
    pub format: &'a CStr,
    pub priority: u8,
    pub lineno: u32,
    pub tags: u32,
}

/// Result of a lookup: the entry, and whether it is new to the current generation
/// (so the caller must compute its filter state).
pub struct Found {
    pub entry: &'static Entry,
    pub fresh: bool,
}

const BUCKETS: usize = 4096;

pub struct Registry {
    buckets: [OnceLock<&'static Entry>; BUCKETS],
    generation: AtomicU64,
    /// Every entry, for applying filters; also serialises creation.
    all: Mutex<Vec<&'static Entry>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    pub const fn new() -> Self {
        Registry {
            buckets: [const { OnceLock::new() }; BUCKETS],
            generation: AtomicU64::new(1),
            all: Mutex::new(Vec::new()),
        }
    }

    /// Starts a new logger lifetime: every entry will be reported fresh once more.
    pub fn begin_generation(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether `entry`'s filter state belongs to the current logger generation.
    #[inline]
    pub fn is_current(&self, entry: &Entry) -> bool {
        entry.generation.load(Ordering::Acquire) == self.generation.load(Ordering::Acquire)
    }

    fn find(&self, key: &SiteKey) -> Option<&'static Entry> {
        let mut next = self.buckets[bucket_index(key.lineno)].get();
        while let Some(entry) = next {
            if entry.is(key.lineno, key.priority, key.filename, key.format) {
                return Some(entry);
            }
            next = entry.next.get();
        }
        None
    }

    /// Looks `key` up, creating the entry if needed, with no filter state to set up
    /// (see [`Registry::get_or_init`]).
    pub fn get_or_create(&self, key: &SiteKey) -> Found {
        self.get_or_init(key, |_| {})
    }

    /// The entry for `key` if it exists and its filter state belongs to the current
    /// generation: the lock-free hit path.
    pub fn find_current(&self, key: &SiteKey) -> Option<&'static Entry> {
        self.find(key).filter(|e| self.is_current(e))
    }

    /// Looks `key` up, creating the entry if needed. When the entry is new, or new
    /// to the current generation, `init` sets up its filter state and only then is
    /// the entry marked current (and, when new, linked into its bucket); `fresh`
    /// says `init` ran, which happens exactly once per entry and generation.
    ///
    /// Why in that order: any thread that finds a current entry (here or through
    /// [`super::fastsite`]) uses its `targets` straight away. Marking it current
    /// before `init` finished let a racing thread read `targets == 0` and drop
    /// its lines for as long as the initialising thread stayed descheduled, often
    /// thousands of lines on a loaded machine. `init` runs under the creation
    /// mutex, so a racing thread waits for it there; the caller must take the
    /// configuration lock `init` needs *before* calling this (lock order:
    /// configuration, then registry).
    pub fn get_or_init(&self, key: &SiteKey, init: impl FnOnce(&'static Entry)) -> Found {
        if let Some(entry) = self.find_current(key) {
            return Found {
                entry,
                fresh: false,
            };
        }
        let mut all = self.all.lock().unwrap_or_else(|e| e.into_inner());
        let generation = self.generation.load(Ordering::Acquire);
        // Another thread may have created or initialised it meanwhile.
        if let Some(entry) = self.find(key) {
            if entry.generation.load(Ordering::Acquire) == generation {
                return Found {
                    entry,
                    fresh: false,
                };
            }
            init(entry);
            entry.generation.store(generation, Ordering::Release);
            return Found { entry, fresh: true };
        }
        // Generation 0 is never current: the entry is unusable until `init` ran.
        let entry = new_entry(key, 0);
        init(entry);
        entry.generation.store(generation, Ordering::Release);
        let mut slot = &self.buckets[bucket_index(key.lineno)];
        loop {
            match slot.get() {
                Some(existing) => slot = &existing.next,
                None => {
                    // Creation is serialised by `all`, so the tail is still empty.
                    let _ = slot.set(entry);
                    break;
                }
            }
        }
        all.push(entry);
        Found { entry, fresh: true }
    }

    /// A snapshot of every entry (filters are applied to all of them).
    pub fn entries(&self) -> Vec<&'static Entry> {
        self.all.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs `f` on every entry while creation is blocked.
    pub fn for_each(&self, mut f: impl FnMut(&'static Entry)) {
        let all = self.all.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().for_each(|&e| f(e));
    }
}

fn bucket_index(lineno: u32) -> usize {
    // Fibonacci hashing spreads consecutive line numbers over the table.
    (lineno.wrapping_mul(0x9E37_79B9) >> 20) as usize % BUCKETS
}

fn new_entry(key: &SiteKey, generation: u64) -> &'static Entry {
    let function = key.function.to_owned();
    let filename = key.filename.to_owned();
    let format = key.format.to_owned();
    let message_id = key.message_id.map(CStr::to_owned);
    let ptr = |s: &CString| AtomicPtr::new(s.as_ptr() as *mut c_char);
    let entry = Entry {
        cs: Callsite {
            function: ptr(&function),
            filename: ptr(&filename),
            format: ptr(&format),
            priority: AtomicU8::new(key.priority),
            lineno: AtomicU32::new(key.lineno),
            targets: AtomicU32::new(0),
            tags: AtomicU32::new(key.tags),
            message_id: AtomicPtr::new(
                message_id
                    .as_ref()
                    .map_or(std::ptr::null_mut(), |s| s.as_ptr() as *mut c_char),
            ),
        },
        function,
        filename,
        format,
        _message_id: message_id,
        lineno: key.lineno,
        generation: AtomicU64::new(generation),
        checked_pointers: AtomicU64::new(0),
        next: OnceLock::new(),
    };
    // Deliberately immortal: C holds these pointers (see the module comment).
    Box::leak(Box::new(entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key<'a>(format: &'a CStr, priority: u8, lineno: u32) -> SiteKey<'a> {
        SiteKey {
            message_id: None,
            function: c"f",
            filename: c"file.c",
            format,
            priority,
            lineno,
            tags: 0,
        }
    }

    #[test]
    fn same_key_same_callsite() {
        let reg: &'static Registry = Box::leak(Box::new(Registry::new()));
        let a = reg.get_or_create(&key(c"hello %d", 6, 10));
        assert!(a.fresh);
        let b = reg.get_or_create(&key(c"hello %d", 6, 10));
        assert!(!b.fresh);
        assert!(std::ptr::eq(a.entry, b.entry));
        // Function and tags are not part of the key.
        let mut k = key(c"hello %d", 6, 10);
        k.function = c"other";
        k.tags = 9;
        assert!(std::ptr::eq(reg.get_or_create(&k).entry, a.entry));
        // Priority, line, file and format are.
        for other in [
            key(c"hello %d", 5, 10),
            key(c"hello %d", 6, 11),
            key(c"bye", 6, 10),
        ] {
            assert!(!std::ptr::eq(reg.get_or_create(&other).entry, a.entry));
        }
        let mut k = key(c"hello %d", 6, 10);
        k.filename = c"other.c";
        assert!(!std::ptr::eq(reg.get_or_create(&k).entry, a.entry));
        assert_eq!(reg.entries().len(), 5);
    }

    #[test]
    fn strings_are_copied_and_exposed_to_c() {
        let reg: &'static Registry = Box::leak(Box::new(Registry::new()));
        let format = CString::new("temp %s").unwrap();
        let mut k = key(&format, 3, 77);
        k.message_id = Some(c"0123abcd");
        k.tags = 5;
        let entry = reg.get_or_create(&k).entry;
        drop(format);
        let cs = entry.callsite();
        // SAFETY: the pointers refer to the entry's own CStrings.
        let text = |p: &AtomicPtr<c_char>| unsafe { CStr::from_ptr(p.load(Ordering::Relaxed)) };
        assert_eq!(text(&cs.format), c"temp %s");
        assert_eq!(text(&cs.filename), c"file.c");
        assert_eq!(text(&cs.message_id), c"0123abcd");
        assert_eq!(cs.tags.load(Ordering::Relaxed), 5);
        assert_eq!(cs.lineno.load(Ordering::Relaxed), 77);
        assert_eq!(entry.view().format, b"temp %s");
    }

    #[test]
    fn new_generation_reports_entries_fresh_once() {
        let reg: &'static Registry = Box::leak(Box::new(Registry::new()));
        let first = reg.get_or_create(&key(c"x", 1, 1));
        assert!(first.fresh);
        reg.begin_generation();
        assert!(reg.get_or_create(&key(c"x", 1, 1)).fresh);
        assert!(!reg.get_or_create(&key(c"x", 1, 1)).fresh);
    }

    #[test]
    fn racing_lookup_waits_for_initialisation() {
        use std::sync::mpsc;
        let reg: &'static Registry = Box::leak(Box::new(Registry::new()));
        let (inside_tx, inside_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let creator = std::thread::spawn(move || {
            reg.get_or_init(&key(c"race", 6, 9), |e| {
                inside_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                e.callsite().targets.store(0x10, Ordering::Relaxed);
            })
            .fresh
        });
        inside_rx.recv().unwrap();
        // The creator is inside `init`: a second lookup must not hand out the
        // entry before its targets are set.
        let racer = std::thread::spawn(move || {
            let found = reg.get_or_init(&key(c"race", 6, 9), |_| panic!("initialised twice"));
            (
                found.fresh,
                found.entry.callsite().targets.load(Ordering::Relaxed),
            )
        });
        assert!(reg.find_current(&key(c"race", 6, 9)).is_none());
        release_tx.send(()).unwrap();
        assert!(creator.join().unwrap());
        assert_eq!(racer.join().unwrap(), (false, 0x10));
        // A new generation initialises the entry once more before using it.
        reg.begin_generation();
        assert!(reg.find_current(&key(c"race", 6, 9)).is_none());
        let again = reg.get_or_init(&key(c"race", 6, 9), |e| {
            e.callsite().targets.store(0x20, Ordering::Relaxed);
        });
        assert!(again.fresh);
        assert!(reg.find_current(&key(c"race", 6, 9)).is_some());
        assert_eq!(again.entry.callsite().targets.load(Ordering::Relaxed), 0x20);
    }

    #[test]
    fn many_sites_on_one_line_chain() {
        let reg: &'static Registry = Box::leak(Box::new(Registry::new()));
        let formats: Vec<CString> = (0..50)
            .map(|i| CString::new(format!("f{i}")).unwrap())
            .collect();
        let ptrs: Vec<_> = formats
            .iter()
            .map(|f| reg.get_or_create(&key(f, 6, 42)).entry as *const Entry)
            .collect();
        for (f, p) in formats.iter().zip(&ptrs) {
            assert!(std::ptr::eq(reg.get_or_create(&key(f, 6, 42)).entry, *p));
        }
    }
}
