//! Filters (`qb_log_filter_ctl[2]`): which call sites a target receives, and which
//! tags a call site carries.
//!
//! Each target keeps a list of the filters added to it; a separate list holds the tag
//! filters. A filter matches a call site whose priority lies in `high..=low` (syslog
//! numbering: `high` is the more severe bound) and whose file name / function name
//! equals one of the comma-separated names of `text`, or whose format string contains
//! `text`; the text `"*"` matches everything. The `*_REGEX` types match with the C
//! library's POSIX basic regular expressions (`regcomp` with no flags), like libqb.

use std::ffi::CString;
use std::sync::Arc;

/// `enum qb_log_filter_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterType {
    File,
    Function,
    Format,
    FileRegex,
    FunctionRegex,
    FormatRegex,
}

impl FilterType {
    pub fn from_raw(raw: i32) -> Option<Self> {
        Some(match raw {
            0 => FilterType::File,
            1 => FilterType::Function,
            2 => FilterType::Format,
            3 => FilterType::FileRegex,
            4 => FilterType::FunctionRegex,
            5 => FilterType::FormatRegex,
            _ => return None,
        })
    }

    pub fn is_regex(self) -> bool {
        matches!(
            self,
            FilterType::FileRegex | FilterType::FunctionRegex | FilterType::FormatRegex
        )
    }
}

/// `enum qb_log_filter_conf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterOp {
    Add,
    Remove,
    ClearAll,
    TagSet,
    TagClear,
    TagClearAll,
}

impl FilterOp {
    pub fn from_raw(raw: i32) -> Option<Self> {
        Some(match raw {
            0 => FilterOp::Add,
            1 => FilterOp::Remove,
            2 => FilterOp::ClearAll,
            3 => FilterOp::TagSet,
            4 => FilterOp::TagClear,
            5 => FilterOp::TagClearAll,
            _ => return None,
        })
    }

    /// Target filters live on a target; tag filters in the shared tag list.
    pub fn is_tag_op(self) -> bool {
        matches!(
            self,
            FilterOp::TagSet | FilterOp::TagClear | FilterOp::TagClearAll
        )
    }
}

/// The parts of a call site a filter looks at.
pub struct SiteView<'a> {
    pub function: &'a [u8],
    pub filename: &'a [u8],
    pub format: &'a [u8],
    pub priority: u8,
}

/// A compiled POSIX regular expression (`regcomp(text, 0)`), as libqb uses for the
/// `*_REGEX` filter types.
pub struct Regex {
    pattern: Vec<u8>,
    // Boxed: glibc's regex_t must not move once compiled.
    compiled: Box<libc::regex_t>,
}

// SAFETY: regexec() only reads the compiled pattern (glibc documents it MT-safe), and
// the pattern is never changed after compilation; regfree() runs only in Drop.
unsafe impl Send for Regex {}
// SAFETY: as above.
unsafe impl Sync for Regex {}

impl Regex {
    /// Compiles `pattern` (bytes up to any NUL); EINVAL if the C library rejects it.
    pub fn new(pattern: &[u8]) -> Result<Regex, i32> {
        let end = pattern
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(pattern.len());
        let text = CString::new(&pattern[..end]).map_err(|_| libc::EINVAL)?;
        // SAFETY: an all-zero regex_t is a valid argument for regcomp to fill.
        let mut compiled: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `compiled` is writable and `text` NUL-terminated.
        let rc = unsafe { libc::regcomp(&mut *compiled, text.as_ptr(), 0) };
        if rc != 0 {
            // A failed regcomp leaves nothing to free.
            return Err(libc::EINVAL);
        }
        Ok(Regex {
            pattern: pattern[..end].to_vec(),
            compiled,
        })
    }

    /// True if the expression matches somewhere in `subject` (up to any NUL).
    pub fn is_match(&self, subject: &[u8]) -> bool {
        let end = subject
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(subject.len());
        let mut text = Vec::with_capacity(end + 1);
        text.extend_from_slice(&subject[..end]);
        text.push(0);
        // SAFETY: `compiled` was filled by a successful regcomp; `text` is
        // NUL-terminated; no match offsets are requested.
        unsafe {
            libc::regexec(
                &*self.compiled,
                text.as_ptr().cast(),
                0,
                std::ptr::null_mut(),
                0,
            ) == 0
        }
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: compiled by a successful regcomp and freed exactly once.
        unsafe { libc::regfree(&mut *self.compiled) };
    }
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Regex({:?})", String::from_utf8_lossy(&self.pattern))
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Regex) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for Regex {}

/// One filter rule: what to match, and the operation it performs on a match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub op: FilterOp,
    pub kind: FilterType,
    pub text: Vec<u8>,
    pub high: u8,
    pub low: u8,
    /// Target slot (target filters) or tag value (tag filters).
    pub value: u32,
    /// The compiled `text` of a regex rule that adds (ADD, TAG_SET). Like libqb,
    /// removals of regex rules carry no expression and so only `"*"` matches.
    pub regex: Option<Arc<Regex>>,
}

/// Libqb compares each comma-separated name as a bounded token.
const MAX_TOKEN: usize = 498;

impl Filter {
    /// A rule for `qb_log_filter_ctl2`; compiles the expression of an adding regex
    /// rule (EINVAL when it does not compile).
    pub fn new(
        op: FilterOp,
        kind: FilterType,
        text: &[u8],
        high: u8,
        low: u8,
        value: u32,
    ) -> Result<Filter, i32> {
        let adds = matches!(op, FilterOp::Add | FilterOp::TagSet);
        let regex = if adds && kind.is_regex() {
            Some(Arc::new(Regex::new(text)?))
        } else {
            None
        };
        Ok(Filter {
            op,
            kind,
            text: text.to_vec(),
            high,
            low,
            value,
            regex,
        })
    }

    pub fn matches(&self, site: &SiteView) -> bool {
        matches_site(
            self.kind,
            &self.text,
            self.regex.as_deref(),
            self.high,
            self.low,
            site,
        )
    }

    /// The change this rule makes to a matching site.
    pub fn effect_on(&self, site: &SiteView) -> Effect {
        effect(
            self.op,
            self.kind,
            &self.text,
            self.regex.as_deref(),
            (self.high, self.low),
            self.value,
            site,
        )
    }
}

pub fn matches_site(
    kind: FilterType,
    text: &[u8],
    regex: Option<&Regex>,
    high: u8,
    low: u8,
    site: &SiteView,
) -> bool {
    if site.priority > low || site.priority < high {
        return false;
    }
    if text == b"*" {
        return true;
    }
    match kind {
        FilterType::File | FilterType::Function => {
            let name = if kind == FilterType::File {
                site.filename
            } else {
                site.function
            };
            // A trailing comma does not add an empty name.
            let names = text
                .strip_suffix(b",")
                .filter(|t| !t.is_empty())
                .unwrap_or(text);
            names
                .split(|&b| b == b',')
                .any(|token| &token[..token.len().min(MAX_TOKEN)] == name)
        }
        FilterType::Format => contains(site.format, text),
        // A rule without a compiled expression (a removal) matches nothing.
        FilterType::FileRegex => regex.is_some_and(|r| r.is_match(site.filename)),
        FilterType::FunctionRegex => regex.is_some_and(|r| r.is_match(site.function)),
        FilterType::FormatRegex => regex.is_some_and(|r| r.is_match(site.format)),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// What applying a filter does to one call site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    SetTarget(u32),
    ClearTarget(u32),
    SetTags(u32),
}

/// The effect of the operation `op` (target `value` or tag `value`) on `site`.
/// "Clear all" operations hit every site; the others only matching ones.
pub fn effect(
    op: FilterOp,
    kind: FilterType,
    text: &[u8],
    regex: Option<&Regex>,
    (high, low): (u8, u8),
    value: u32,
    site: &SiteView,
) -> Effect {
    match op {
        FilterOp::ClearAll => return Effect::ClearTarget(value),
        FilterOp::TagClearAll => return Effect::SetTags(0),
        _ => {}
    }
    if !matches_site(kind, text, regex, high, low, site) {
        return Effect::None;
    }
    match op {
        FilterOp::Add => Effect::SetTarget(value),
        FilterOp::Remove => Effect::ClearTarget(value),
        FilterOp::TagSet => Effect::SetTags(value),
        FilterOp::TagClear => Effect::SetTags(0),
        FilterOp::ClearAll | FilterOp::TagClearAll => Effect::None,
    }
}

/// An ordered list of filters (one per target, plus the tag list).
#[derive(Clone, Debug, Default)]
pub struct FilterList {
    filters: Vec<Filter>,
}

impl FilterList {
    pub fn iter(&self) -> impl Iterator<Item = &Filter> {
        self.filters.iter()
    }

    pub fn clear(&mut self) {
        self.filters.clear();
    }

    /// Records `op` in the list: adding refuses an exact duplicate (`EEXIST`);
    /// removing drops the first rule of the same type whose priority range lies
    /// within `high..=low` and whose text is equal (or `text` is `"*"`); clearing
    /// empties the list.
    pub fn store(&mut self, rule: Filter) -> Result<(), i32> {
        match rule.op {
            FilterOp::Add | FilterOp::TagSet => {
                let duplicate = self.filters.iter().any(|f| {
                    f.kind == rule.kind
                        && f.high == rule.high
                        && f.low == rule.low
                        && f.value == rule.value
                        && f.text == rule.text
                });
                if duplicate {
                    return Err(libc::EEXIST);
                }
                self.filters.push(rule);
            }
            FilterOp::Remove | FilterOp::TagClear => {
                let found = self.filters.iter().position(|f| {
                    f.kind == rule.kind
                        && f.low <= rule.low
                        && f.high >= rule.high
                        && (f.text == rule.text || rule.text == b"*")
                });
                if let Some(index) = found {
                    self.filters.remove(index);
                }
            }
            FilterOp::ClearAll | FilterOp::TagClearAll => self.filters.clear(),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(priority: u8) -> SiteView<'static> {
        SiteView {
            function: b"ring_send",
            filename: b"lib/ring.c",
            format: b"sent %d bytes",
            priority,
        }
    }

    fn rule(op: FilterOp, kind: FilterType, text: &str, high: u8, low: u8, value: u32) -> Filter {
        Filter::new(op, kind, text.as_bytes(), high, low, value).unwrap()
    }

    #[test]
    fn regex_rules_use_posix_basic_expressions() {
        let s = site(5);
        let add = |kind, text: &str| rule(FilterOp::Add, kind, text, 0, 7, 4);
        assert!(add(FilterType::FileRegex, "^lib/r").matches(&s));
        assert!(!add(FilterType::FileRegex, "^ring").matches(&s));
        assert!(add(FilterType::FunctionRegex, "ring_s.*d").matches(&s));
        assert!(add(FilterType::FormatRegex, "^sent %d").matches(&s));
        // Basic syntax: `+` is an ordinary character, `\{..\}` an interval.
        assert!(!add(FilterType::FormatRegex, "se+nt").matches(&s));
        assert!(add(FilterType::FormatRegex, "by\\{0,1\\}tes").matches(&s));
        // The priority range still applies.
        assert!(!rule(FilterOp::Add, FilterType::FileRegex, "lib", 0, 4, 4).matches(&s));
        // A removal carries no expression: only "*" matches.
        let remove = rule(FilterOp::Remove, FilterType::FileRegex, "lib", 0, 7, 4);
        assert!(remove.regex.is_none());
        assert!(!remove.matches(&s));
        assert!(rule(FilterOp::Remove, FilterType::FileRegex, "*", 0, 7, 4).matches(&s));
        assert_eq!(
            Filter::new(FilterOp::Add, FilterType::FileRegex, b"a\\{1", 0, 7, 4).err(),
            Some(libc::EINVAL)
        );
        assert_eq!(
            Filter::new(FilterOp::TagSet, FilterType::FormatRegex, b"[", 0, 7, 4).err(),
            Some(libc::EINVAL)
        );
    }

    #[test]
    fn priority_range_is_inclusive() {
        let any = |high, low, p| matches_site(FilterType::File, b"*", None, high, low, &site(p));
        assert!(any(0, 6, 6));
        assert!(any(0, 6, 0));
        assert!(!any(0, 6, 7));
        assert!(any(3, 5, 4));
        assert!(!any(3, 5, 2));
    }

    #[test]
    fn names_are_comma_separated_exact_matches() {
        let m = |kind, text: &str| matches_site(kind, text.as_bytes(), None, 0, 7, &site(5));
        assert!(m(FilterType::File, "lib/ring.c"));
        assert!(m(FilterType::File, "a.c,lib/ring.c,b.c"));
        assert!(!m(FilterType::File, "ring.c"));
        assert!(!m(FilterType::File, "lib/ring"));
        assert!(m(FilterType::Function, "x,ring_send"));
        assert!(!m(FilterType::Function, "ring"));
        assert!(m(FilterType::Format, "bytes"));
        assert!(!m(FilterType::Format, "words"));
        // A regex type without a compiled expression never matches.
        assert!(!m(FilterType::FormatRegex, "bytes"));
    }

    #[test]
    fn effects() {
        let s = site(5);
        let e = |op, text: &str| effect(op, FilterType::File, text.as_bytes(), None, (0, 7), 3, &s);
        assert_eq!(e(FilterOp::Add, "lib/ring.c"), Effect::SetTarget(3));
        assert_eq!(e(FilterOp::Add, "other.c"), Effect::None);
        assert_eq!(e(FilterOp::Remove, "*"), Effect::ClearTarget(3));
        assert_eq!(e(FilterOp::ClearAll, "nothing"), Effect::ClearTarget(3));
        assert_eq!(e(FilterOp::TagSet, "lib/ring.c"), Effect::SetTags(3));
        assert_eq!(e(FilterOp::TagClear, "lib/ring.c"), Effect::SetTags(0));
        assert_eq!(e(FilterOp::TagClearAll, "nothing"), Effect::SetTags(0));
    }

    #[test]
    fn store_add_remove_clear() {
        let mut list = FilterList::default();
        let add = rule(FilterOp::Add, FilterType::File, "a.c", 0, 6, 1);
        assert_eq!(list.store(add.clone()), Ok(()));
        assert_eq!(list.store(add.clone()), Err(libc::EEXIST));
        // A different range or text is a different rule.
        assert_eq!(
            list.store(rule(FilterOp::Add, FilterType::File, "a.c", 0, 7, 1)),
            Ok(())
        );
        assert_eq!(
            list.store(rule(FilterOp::Add, FilterType::Format, "x", 0, 7, 1)),
            Ok(())
        );
        assert_eq!(list.iter().count(), 3);
        // Removal takes the first rule whose range lies within the given one.
        list.store(rule(FilterOp::Remove, FilterType::File, "*", 1, 7, 1))
            .unwrap();
        assert_eq!(list.iter().count(), 3);
        list.store(rule(FilterOp::Remove, FilterType::File, "*", 0, 7, 1))
            .unwrap();
        assert_eq!(list.iter().count(), 2);
        assert_eq!(list.iter().next().map(|f| f.low), Some(7));
        list.store(rule(FilterOp::Remove, FilterType::File, "b.c", 0, 6, 1))
            .unwrap();
        assert_eq!(list.iter().count(), 2);
        list.store(rule(FilterOp::ClearAll, FilterType::File, "", 0, 0, 1))
            .unwrap();
        assert_eq!(list.iter().count(), 0);
    }

    #[test]
    fn raw_values() {
        assert_eq!(FilterType::from_raw(2), Some(FilterType::Format));
        assert_eq!(FilterType::from_raw(6), None);
        assert_eq!(FilterType::from_raw(-1), None);
        assert_eq!(FilterOp::from_raw(5), Some(FilterOp::TagClearAll));
        assert_eq!(FilterOp::from_raw(6), None);
        assert!(FilterType::FileRegex.is_regex());
        assert!(FilterOp::TagSet.is_tag_op());
    }
}
