//! Application-owned call-site arrays (`qb_log_callsites_register`) and the call-site
//! dump (`qb_log_callsites_dump`).
//!
//! A registered section is a caller's array `start..stop` of `struct
//! qb_log_callsite` (entries with line number 0 are unused). Like libqb, every
//! filter is applied to its entries when it is registered and whenever a filter
//! changes, and the custom filter function runs on them; the sections are
//! forgotten at `qb_log_fini()`. The caller keeps the memory valid until then.

use std::ffi::{CStr, c_char};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use super::callsite::Callsite;
use super::filter::{Effect, Filter, SiteView};
use super::os::{self, Stream};

#[derive(Clone, Copy, PartialEq, Eq)]
struct Section {
    start: usize,
    stop: usize,
}

impl Section {
    /// The used call sites of the section.
    fn callsites(self) -> impl Iterator<Item = &'static Callsite> {
        let size = std::mem::size_of::<Callsite>();
        let count = self.stop.saturating_sub(self.start) / size;
        (0..count)
            // SAFETY: the application registered `start..stop` as an array of call
            // sites that stays valid until qb_log_fini(); C writes only fields that
            // are atomics on our side.
            .map(move |i| unsafe { &*((self.start + i * size) as *const Callsite) })
            .filter(|cs| cs.lineno.load(Ordering::Relaxed) > 0)
    }
}

/// Newest first, as libqb lists them.
static SECTIONS: Mutex<Vec<Section>> = Mutex::new(Vec::new());

fn sections() -> Vec<Section> {
    SECTIONS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn text<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        return b"";
    }
    // SAFETY: call-site strings are NUL-terminated and outlive the call site.
    unsafe { CStr::from_ptr(p) }.to_bytes()
}

fn view(cs: &Callsite) -> SiteView<'_> {
    SiteView {
        function: text(cs.function.load(Ordering::Relaxed)),
        filename: text(cs.filename.load(Ordering::Relaxed)),
        format: text(cs.format.load(Ordering::Relaxed)),
        priority: cs.priority.load(Ordering::Relaxed),
    }
}

fn apply(cs: &Callsite, effect: Effect) {
    match effect {
        Effect::None => {}
        Effect::SetTarget(t) => {
            cs.targets.fetch_or(super::bit(t), Ordering::Relaxed);
        }
        Effect::ClearTarget(t) => {
            cs.targets.fetch_and(!super::bit(t), Ordering::Relaxed);
        }
        Effect::SetTags(tags) => cs.tags.store(tags, Ordering::Relaxed),
    }
}

/// `qb_log_callsites_register`: EINVAL for NULL bounds, EEXIST when a section with
/// the same start or stop is already known.
pub fn register(start: *mut Callsite, stop: *mut Callsite) -> Result<(), i32> {
    if start.is_null() || stop.is_null() {
        return Err(libc::EINVAL);
    }
    let section = Section {
        start: start as usize,
        stop: stop as usize,
    };
    {
        // Configuration first, then the section list (the order filter changes use).
        let cfg = super::read();
        let mut list = SECTIONS.lock().unwrap_or_else(|e| e.into_inner());
        if list
            .iter()
            .any(|s| s.start == section.start || s.stop == section.stop)
        {
            return Err(libc::EEXIST);
        }
        list.insert(0, section);
        for cs in section.callsites() {
            let site = view(cs);
            for target in cfg.targets.iter().filter(|t| t.is_enabled()) {
                for rule in target.filters.iter() {
                    apply(cs, rule.effect_on(&site));
                }
            }
            for rule in cfg.tag_filters.iter() {
                apply(cs, rule.effect_on(&site));
            }
        }
    }
    // The custom filter may log or reconfigure: no lock is held here.
    if super::callbacks::has_filter_fn() {
        section.callsites().for_each(super::callbacks::run_filter);
    }
    Ok(())
}

/// Applies a new filter rule to every registered call site (the caller holds the
/// configuration lock).
pub fn apply_rule(rule: &Filter) {
    let list = SECTIONS.lock().unwrap_or_else(|e| e.into_inner());
    for cs in list.iter().flat_map(|s| s.callsites()) {
        apply(cs, rule.effect_on(&view(cs)));
    }
}

/// Runs the custom filter on every registered call site (no lock held).
pub fn run_filter_fn() {
    for cs in sections().into_iter().flat_map(|s| s.callsites()) {
        super::callbacks::run_filter(cs);
    }
}

/// Forgets every section (`qb_log_fini()`).
pub fn clear() {
    SECTIONS.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// `bytes` right-aligned in `width` columns (like printf's `%<width>s`).
fn right(out: &mut Vec<u8>, bytes: &[u8], width: usize) {
    out.extend(std::iter::repeat_n(b' ', width.saturating_sub(bytes.len())));
    out.extend_from_slice(bytes);
}

/// One dump row: file name, line, targets and tags, in libqb's column widths.
fn row(cs: &Callsite) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    right(&mut out, text(cs.filename.load(Ordering::Relaxed)), 12);
    out.push(b' ');
    right(
        &mut out,
        cs.lineno.load(Ordering::Relaxed).to_string().as_bytes(),
        6,
    );
    out.push(b' ');
    right(
        &mut out,
        cs.targets.load(Ordering::Relaxed).to_string().as_bytes(),
        16,
    );
    out.push(b' ');
    right(
        &mut out,
        cs.tags.load(Ordering::Relaxed).to_string().as_bytes(),
        16,
    );
    out
}

fn dump_block(start: usize, stop: usize, sites: impl Iterator<Item = &'static Callsite>) {
    let bounds = format!(" start {:#x} - stop {:#x}", start, stop);
    os::write_stream(Stream::Stdout, bounds.as_bytes());
    os::write_stream(Stream::Stdout, b"filename    lineno targets         tags");
    for cs in sites {
        os::write_stream(Stream::Stdout, &row(cs));
    }
}

/// `qb_log_callsites_dump`: prints every call site to stdout, one block per
/// registered section (newest first) and a last block for the call sites the
/// library created itself (its bounds are those of its first and last entry).
pub fn dump() {
    let list = sections();
    let dynamic: Vec<&'static Callsite> = super::REGISTRY
        .entries()
        .into_iter()
        .map(|e| e.callsite())
        .collect();
    let blocks = list.len() + usize::from(!dynamic.is_empty());
    os::write_stream(
        Stream::Stdout,
        format!("Callsite Database [{blocks}]").as_bytes(),
    );
    os::write_stream(Stream::Stdout, b"---------------------");
    for s in list {
        dump_block(s.start, s.stop, s.callsites());
    }
    if let (Some(first), Some(last)) = (dynamic.first(), dynamic.last()) {
        let start = *first as *const Callsite as usize;
        let stop = *last as *const Callsite as usize + std::mem::size_of::<Callsite>();
        dump_block(
            start,
            stop,
            dynamic
                .into_iter()
                .filter(|cs| cs.lineno.load(Ordering::Relaxed) > 0),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32};

    #[test]
    fn rows_use_libqb_columns() {
        let cs = Callsite {
            function: AtomicPtr::new(c"f".as_ptr() as *mut c_char),
            filename: AtomicPtr::new(c"main.c".as_ptr() as *mut c_char),
            format: AtomicPtr::new(c"x".as_ptr() as *mut c_char),
            priority: AtomicU8::new(6),
            lineno: AtomicU32::new(42),
            targets: AtomicU32::new(3),
            tags: AtomicU32::new(0),
            message_id: AtomicPtr::new(std::ptr::null_mut()),
        };
        assert_eq!(
            row(&cs),
            b"      main.c     42                3                0".to_vec()
        );
    }
}
