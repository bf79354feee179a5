//! libqb's logging core (qblog.h).
//!
//! A log statement in C asks for its call site (`qb_log_callsite_get2`), whose
//! `targets` bitmask says which targets want it; the variadic shim
//! (`src/shim/qblog_va.c`) formats the message with the C library's `vsnprintf` only
//! when some bit is set, then hands the text to [`dispatch`], which lays out one line
//! per target with that target's format and writes it.
//!
//! Module map: [`callsite`] (the C-visible call sites and their registry), [`filter`]
//! (rules deciding targets and tags), [`format`] (line layout), [`targets`] (the 32
//! target slots and their output), [`facility`] (syslog facility names),
//! [`callbacks`] (application callbacks), [`os`] (syslog, stdio, clock).
//!
//! Locking: the configuration (targets, filters) sits behind one `RwLock`; call-site
//! lookups do not touch it unless a call site is new. When both are needed, the
//! configuration lock is taken before the registry's creation mutex.

pub mod blackbox;
pub mod blackbox_msg;
pub mod blackbox_reader;
pub mod callbacks;
pub mod callsite;
pub mod custom;
pub mod dynamic;
pub mod facility;
pub mod fastsite;
pub mod file;
pub mod filter;
pub mod format;
pub mod internal_msg;
pub mod journal;
pub mod os;
pub mod pending;
pub mod sections;
pub mod shim;
pub mod targets;
pub mod thread;

use std::cell::Cell;
use std::ffi::{CStr, c_int};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use callsite::{Callsite, Entry, Registry, SiteKey};
use filter::{Effect, Filter, FilterList, FilterOp, FilterType};
use format::{Line, LineFields, StaticFields};
use targets::{Conf, Extended, TARGET_MAX, Target, TargetState};

pub use format::ABSOLUTE_MAX_LEN;
pub use internal_msg::libqb_msg;

/// Logger configuration guarded by [`CONFIG`].
struct Config {
    targets: Vec<Target>,
    tag_filters: FilterList,
}

static INITED: AtomicBool = AtomicBool::new(false);
static CONFIG: LazyLock<RwLock<Config>> = LazyLock::new(|| {
    RwLock::new(Config {
        targets: (0..TARGET_MAX).map(Target::new).collect(),
        tag_filters: FilterList::default(),
    })
});
static REGISTRY: Registry = Registry::new();

thread_local! {
    /// Set while this thread is inside [`dispatch`]; a nested log call made from
    /// output code is dropped instead of recursing.
    static IN_DISPATCH: Cell<bool> = const { Cell::new(false) };
}

fn read() -> RwLockReadGuard<'static, Config> {
    CONFIG.read().unwrap_or_else(|e| e.into_inner())
}

fn write() -> RwLockWriteGuard<'static, Config> {
    CONFIG.write().unwrap_or_else(|e| e.into_inner())
}

pub fn is_inited() -> bool {
    INITED.load(Ordering::Acquire)
}

/// `qb_log_init`: resets every target, opens syslog as the only enabled target and
/// lets it receive everything up to `priority`.
pub fn init(name: &[u8], facility: i32, priority: u8) {
    let mut cfg = write();
    for target in cfg.targets.iter_mut() {
        target.reset(name, facility);
    }
    cfg.tag_filters.clear();
    REGISTRY.begin_generation();
    let _ = cfg.targets[targets::SYSLOG].configure(Conf::Enabled(true));
    let everything = Filter::new(
        FilterOp::Add,
        FilterType::File,
        b"*",
        libc::LOG_EMERG as u8,
        priority,
        targets::SYSLOG as u32,
    );
    if let Ok(everything) = everything {
        let _ = store_and_apply(&mut cfg, everything);
    }
    INITED.store(true, Ordering::Release);
}

/// `qb_log_fini`: disables every target and drops all filters. Call sites stay
/// allocated (see [`callsite`]) but are recomputed after the next `init`.
pub fn fini() {
    if !INITED.swap(false, Ordering::AcqRel) {
        return;
    }
    // Lines still queued for threaded targets are written before anything closes.
    thread::stop();
    let mut closers = Vec::new();
    {
        let mut cfg = write();
        for target in cfg.targets.iter_mut() {
            closers.extend(dynamic::release_at_fini(target).map(|f| (target.slot, f)));
            target.disable();
            target.filters.clear();
        }
        cfg.tag_filters.clear();
    }
    sections::clear();
    // Custom targets' close callbacks run with no lock held.
    for (slot, fns) in closers {
        fns.close(slot);
    }
}

/// `qb_log_ctl[2]`.
pub fn ctl(target: i32, conf: Conf) -> Result<i32, i32> {
    if !is_inited() {
        return Err(libc::EINVAL);
    }
    let mut cfg = write();
    let t = slot(&cfg, target).ok_or(libc::EBADF)?;
    let closer = dynamic::closer_for(&cfg.targets[t], &conf);
    let result = cfg.targets[t].configure(conf);
    drop(cfg);
    // Disabling a custom target closes it; its callback runs with no lock held.
    if let Some(fns) = closer {
        fns.close(t);
    }
    result
}

/// A used target slot.
fn slot(cfg: &Config, target: i32) -> Option<usize> {
    let t = usize::try_from(target).ok().filter(|&t| t < TARGET_MAX)?;
    (cfg.targets[t].state != TargetState::Unused).then_some(t)
}

/// `qb_log_filter_ctl2`. `target` is a target slot, or the tag value for tag
/// operations.
pub fn filter_ctl(
    target: i32,
    op: FilterOp,
    kind: FilterType,
    text: Option<&[u8]>,
    high: u8,
    low: u8,
) -> Result<(), i32> {
    if !is_inited() {
        return Err(libc::EINVAL);
    }
    let mut cfg = write();
    if !op.is_tag_op() && slot(&cfg, target).is_none() {
        return Err(libc::EBADF);
    }
    let text = text.ok_or(libc::EINVAL)?;
    if low < high {
        return Err(libc::EINVAL);
    }
    let rule = Filter::new(op, kind, text, high, low, target as u32)?;
    store_and_apply(&mut cfg, rule)
}

/// Records `rule` and applies it to every known call site.
fn store_and_apply(cfg: &mut Config, rule: Filter) -> Result<(), i32> {
    let list = if rule.op.is_tag_op() {
        &mut cfg.tag_filters
    } else {
        let t = rule.value as usize;
        &mut cfg.targets.get_mut(t).ok_or(libc::EBADF)?.filters
    };
    list.store(rule.clone())?;
    REGISTRY.for_each(|entry| apply(entry, rule.effect_on(&entry.view())));
    sections::apply_rule(&rule);
    Ok(())
}

fn apply(entry: &Entry, effect: Effect) {
    let cs = entry.callsite();
    match effect {
        Effect::None => {}
        Effect::SetTarget(t) => {
            cs.targets.fetch_or(bit(t), Ordering::Relaxed);
        }
        Effect::ClearTarget(t) => {
            cs.targets.fetch_and(!bit(t), Ordering::Relaxed);
        }
        Effect::SetTags(tags) => cs.tags.store(tags, Ordering::Relaxed),
    }
}

fn bit(t: u32) -> u32 {
    1u32.checked_shl(t).unwrap_or(0)
}

/// `qb_log_filter_fn_set`: installs (or removes) the custom filter and runs it on
/// every existing call site.
pub fn set_filter_fn(f: Option<callbacks::FilterFn>) -> Result<(), i32> {
    if !is_inited() {
        return Err(libc::EINVAL);
    }
    callbacks::set_filter_fn(f);
    if f.is_some() {
        for entry in REGISTRY.entries() {
            callbacks::run_filter(entry.callsite());
        }
        sections::run_filter_fn();
    }
    Ok(())
}

/// `qb_log_callsite_get2`: the call site for `key` (None before `init`). A call site
/// new to this logger gets its targets from the enabled targets' filters and its tags
/// from `key.tags` or, when that is 0, from the tag filters; a known one only takes
/// non-zero `key.tags`. The custom filter runs every time.
pub fn callsite_get(key: &SiteKey) -> Option<&'static Callsite> {
    if !is_inited() {
        return None;
    }
    let found = match REGISTRY.find_current(key) {
        Some(entry) => callsite::Found {
            entry,
            fresh: false,
        },
        // New (to this generation): its targets are computed before any thread
        // can see it (see `Registry::get_or_init`); configuration lock first.
        None => {
            let cfg = read();
            REGISTRY.get_or_init(key, |entry| compute_filters(&cfg, entry, key.tags))
        }
    };
    fastsite::remember(key, found.entry);
    let cs = found.entry.callsite();
    if !found.fresh && key.tags != 0 {
        cs.tags.store(key.tags, Ordering::Relaxed);
    }
    if callbacks::has_filter_fn() {
        callbacks::run_filter(cs);
    }
    Some(cs)
}

/// Sets `entry`'s targets and tags from the filters. Worked out locally and
/// stored once, so a caller holding the call site (C code may cache it) never sees
/// a half-computed mask.
fn compute_filters(cfg: &Config, entry: &Entry, tags: u32) {
    let view = entry.view();
    let (mut mask, mut site_tags) = (0u32, tags);
    let mut fold = |effect| match effect {
        Effect::None => {}
        Effect::SetTarget(t) => mask |= bit(t),
        Effect::ClearTarget(t) => mask &= !bit(t),
        Effect::SetTags(t) => site_tags = t,
    };
    for target in cfg.targets.iter().filter(|t| t.is_enabled()) {
        for rule in target.filters.iter() {
            fold(rule.effect_on(&view));
        }
    }
    if tags == 0 {
        for rule in cfg.tag_filters.iter() {
            fold(rule.effect_on(&view));
        }
    }
    let cs = entry.callsite();
    cs.targets.store(mask, Ordering::Relaxed);
    cs.tags.store(site_tags, Ordering::Relaxed);
}

/// `qb_log_format_set`: `None` restores the default format. Unknown slots are ignored.
pub fn format_set(target: i32, fmt: Option<&[u8]>) {
    let Some(t) = usize::try_from(target).ok().filter(|&t| t < TARGET_MAX) else {
        return;
    };
    let mut cfg = write();
    let target = &mut cfg.targets[t];
    target.format = match fmt {
        Some(fmt) => {
            let hostname = if fmt.contains(&b'H') {
                os::hostname()
            } else {
                Vec::new()
            };
            let fields = StaticFields {
                ident: &target.name,
                pid: std::process::id(),
                hostname: &hostname,
            };
            format::expand_static(fmt, target.line_len(), &fields)
        }
        None => format::DEFAULT_FORMAT.to_vec(),
    };
}

/// What the C side knows about one log call (read from its `struct qb_log_callsite`).
pub struct Record<'a> {
    /// The caller's call site (custom targets and the logging thread get it).
    pub callsite: *mut Callsite,
    pub function: &'a [u8],
    pub filename: &'a [u8],
    pub priority: u8,
    pub lineno: u32,
    pub targets: u32,
    pub tags: u32,
}

/// `qb_log_target_format`: one line laid out with `target`'s format, or None for an
/// invalid slot.
pub fn target_format(
    target: i32,
    rec: &Record,
    timestamp: (i64, i64),
    message: &[u8],
) -> Option<Line> {
    let t = usize::try_from(target).ok().filter(|&t| t < TARGET_MAX)?;
    let tags_text = tags_text_for(rec.tags, |target| target.slot == t);
    let cfg = read();
    let target = &cfg.targets[t];
    let tags = || tags_text;
    let fields = line_fields(rec, timestamp, &tags);
    let mut line = Line::default();
    format::render_line(
        &target.format,
        target.line_len(),
        target.ellipsis,
        &fields,
        message,
        &mut line,
    );
    Some(line)
}

fn line_fields<'a>(
    rec: &Record<'a>,
    timestamp: (i64, i64),
    tags: &'a dyn Fn() -> &'a [u8],
) -> LineFields<'a> {
    LineFields {
        function: rec.function,
        filename: rec.filename,
        lineno: rec.lineno,
        priority: rec.priority,
        tags,
        timestamp,
        local_time: &os::local_time,
    }
}

/// The `%g` text for `tags` when a target chosen by `wanted` shows it, else "".
/// The application's stringifier is called here, before the configuration lock is
/// taken for rendering: it may log or reconfigure the logger (which needs that lock).
fn tags_text_for<'a>(tags: u32, wanted: impl Fn(&Target) -> bool) -> &'a [u8] {
    if !callbacks::has_stringify_fn() {
        return b"";
    }
    let shown = read()
        .targets
        .iter()
        .any(|t| wanted(t) && format::uses_tags(&t.format));
    if shown {
        callbacks::tags_text(tags)
    } else {
        b""
    }
}

/// The longest line any target receiving `targets` accepts (libqb formats the
/// message once, into a buffer that size); None when no enabled target wants it.
fn widest_line(cfg: &Config, targets: u32) -> Option<i32> {
    selected(cfg, targets).map(|t| t.max_line_length).max()
}

/// The enabled targets whose bit is set in `targets`, in slot order. Walks the
/// set bits only: a line usually goes to one or two of the 32 slots.
fn selected(cfg: &Config, targets: u32) -> impl Iterator<Item = &Target> {
    let mut bits = targets;
    std::iter::from_fn(move || {
        while bits != 0 {
            let slot = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            match cfg.targets.get(slot) {
                Some(t) if t.is_enabled() => return Some(t),
                _ => {}
            }
        }
        None
    })
}

/// Sends one formatted message to every enabled target whose bit is set in
/// `rec.targets`. `printed` is what `vsnprintf` wrote (at most
/// `ABSOLUTE_MAX_LEN - 1` bytes) and `full_len` its return value.
pub fn dispatch(rec: &Record, printed: &[u8], full_len: i32) {
    if !is_inited() || IN_DISPATCH.with(|d| d.replace(true)) {
        return;
    }
    let tags = tags_text_for(rec.tags, |t| {
        t.is_enabled() && rec.targets & bit(t.slot as u32) != 0
    });
    let timestamp = os::now();
    let mut later = pending::Pending::new(rec.callsite, false);
    let mut message: &[u8] = b"";
    {
        let cfg = read();
        if let Some(widest) = widest_line(&cfg, rec.targets).filter(|&w| w > 0) {
            message = message_for(printed, full_len, widest);
            send(&cfg, rec, timestamp, message, tags, &mut later);
        }
    }
    if !rec.callsite.is_null() {
        // SAFETY: a non-NULL call site handed to the logger is valid.
        internal_msg::forward(unsafe { &*rec.callsite }, message);
    }
    later.run(timestamp, message);
    IN_DISPATCH.with(|d| d.set(false));
}

/// Writes one message taken from the logging thread's queue to the threaded
/// targets in `targets` (see [`thread`]).
pub(crate) fn write_queued(cs: *mut Callsite, targets: u32, timestamp: (i64, i64), message: &[u8]) {
    if cs.is_null() {
        return;
    }
    let nested = IN_DISPATCH.with(|d| d.replace(true));
    // SAFETY: queued call sites stay valid while the logger lives, and the queue is
    // written before qb_log_fini() returns.
    let mut rec = unsafe { crate::ffi::qblog::record(cs) };
    rec.targets = targets;
    let tags = tags_text_for(rec.tags, |t| {
        t.is_enabled() && targets & bit(t.slot as u32) != 0
    });
    let mut later = pending::Pending::new(cs, true);
    send(&read(), &rec, timestamp, message, tags, &mut later);
    later.run(timestamp, message);
    IN_DISPATCH.with(|d| d.set(nested));
}

/// The message as libqb would have it after formatting into a `widest`-byte buffer:
/// cut to `widest - 1` bytes, a trailing newline dropped when nothing was cut, and
/// ending at the first NUL.
fn message_for(printed: &[u8], full_len: i32, widest: i32) -> &[u8] {
    let Ok(widest) = usize::try_from(widest) else {
        return b"";
    };
    let mut msg = &printed[..printed.len().min(widest.saturating_sub(1))];
    let uncut = usize::try_from(full_len)
        .ok()
        .filter(|&l| l > 0 && l < widest);
    if let Some(len) = uncut
        && printed.get(len - 1) == Some(&b'\n')
    {
        msg = &msg[..msg.len().min(len - 1)];
    }
    let end = find_byte(msg, 0).unwrap_or(msg.len());
    &msg[..end]
}

/// The first `byte` in `hay` (the C library's vectorised `memchr`: messages are
/// scanned on every line).
pub(crate) fn find_byte(hay: &[u8], byte: u8) -> Option<usize> {
    if hay.is_empty() {
        return None;
    }
    // SAFETY: reads only `hay.len()` bytes of a valid slice.
    let p = unsafe { libc::memchr(hay.as_ptr().cast(), c_int::from(byte), hay.len()) };
    (!p.is_null()).then(|| p as usize - hay.as_ptr() as usize)
}

fn send(
    cfg: &Config,
    rec: &Record,
    timestamp: (i64, i64),
    message: &[u8],
    tags_text: &[u8],
    later: &mut pending::Pending,
) {
    let tags = || tags_text;
    let fields = line_fields(rec, timestamp, &tags);
    let mut line = Line::default();
    // Built only when a target shows extended information with a `|`.
    let mut barred: Option<Line> = None;
    for target in selected(cfg, rec.targets) {
        // Threaded and custom targets are served after the lock is released.
        if later.defer(target) {
            continue;
        }
        match targets::extended_view(message, target.extended) {
            Extended::AsIs => later.output(target, &fields, message, &mut line),
            Extended::Cut(at) => later.output(target, &fields, &message[..at], &mut line),
            Extended::Skip => {}
            Extended::Bar(at) => {
                let text = barred.get_or_insert_with(|| Line::with_bar(message, at));
                later.output(target, &fields, text.as_bytes(), &mut line);
            }
        }
    }
}

/// Facility helpers re-exported for the FFI.
pub fn facility_from_name(name: &CStr) -> Result<i32, i32> {
    facility::facility_from_name(name.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_cut_like_a_c_buffer() {
        assert_eq!(message_for(b"hello\n", 6, 512), b"hello");
        // The newline only goes when the whole text fitted.
        assert_eq!(message_for(b"abcd\n", 5, 5), b"abcd");
        assert_eq!(message_for(b"abc\n", 4, 5), b"abc");
        assert_eq!(message_for(b"abcdefgh", 8, 5), b"abcd");
        assert_eq!(message_for(b"ab\0cd", 5, 512), b"ab");
        assert_eq!(message_for(b"abc", 3, -1), b"");
        assert_eq!(message_for(b"abc", -1, 512), b"abc");
    }
}
