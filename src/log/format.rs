//! Target line formats (`qb_log_format_set`) and the line renderer.
//!
//! A target's format is processed twice, like libqb does:
//! - once when it is set ([`expand_static`]): `%N` (ident), `%P` (pid) and `%H`
//!   (hostname) are replaced for good; every other `%` directive is kept verbatim;
//! - once per log line ([`render_line`]): `%n` function, `%f` file name, `%l` line,
//!   `%p` priority name, `%t`/`%T` local time (without/with milliseconds), `%b` the
//!   message, `%g` tags text; any other directive renders as nothing.
//!
//! A directive may carry a width: `%12x` pads on the right and cuts at 12 bytes,
//! `%-12x` pads on the left (libqb's "right align") and cuts at 12 bytes. The whole
//! line never exceeds `max_len - 1` bytes; `ellipsis` marks a line that was cut.

use std::mem::MaybeUninit;

/// Format every target starts with.
pub const DEFAULT_FORMAT: &[u8] = b"[%p] %b";

/// Longest line a target may be configured for (`QB_LOG_ABSOLUTE_MAX_LEN`).
pub const ABSOLUTE_MAX_LEN: usize = 4096;

/// Names printed by `%p`, indexed by syslog priority; anything above `LOG_TRACE`
/// prints as "trace".
const PRIORITY_NAMES: [&[u8]; 9] = [
    b"emerg", b"alert", b"crit", b"error", b"warning", b"notice", b"info", b"debug", b"trace",
];

const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

pub fn priority_name(priority: u8) -> &'static [u8] {
    PRIORITY_NAMES[usize::from(priority).min(PRIORITY_NAMES.len() - 1)]
}

/// A fixed-capacity output line (with room for a C terminator): rendering never
/// allocates. The buffer is left uninitialised (zeroing 4 KiB per log line would
/// cost more than laying the line out); only `buf[..len]` is ever read.
pub struct Line {
    buf: [MaybeUninit<u8>; ABSOLUTE_MAX_LEN + 1],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Line {
            buf: [const { MaybeUninit::uninit() }; ABSOLUTE_MAX_LEN + 1],
            len: 0,
        }
    }
}

impl Line {
    pub fn as_bytes(&self) -> &[u8] {
        let written = &self.buf[..self.len];
        // SAFETY: every byte below `len` was written (the only writers are
        // `put`, `push_bytes` and `fill_tail`, which advance `len` only over
        // what they wrote), and MaybeUninit<u8> has u8's layout.
        unsafe { std::slice::from_raw_parts(written.as_ptr().cast::<u8>(), written.len()) }
    }

    /// The line followed by a NUL, for C consumers.
    pub fn as_bytes_with_nul(&mut self) -> &[u8] {
        self.buf[self.len] = MaybeUninit::new(0);
        let written = &self.buf[..=self.len];
        // SAFETY: as in `as_bytes`, plus the terminator just written.
        unsafe { std::slice::from_raw_parts(written.as_ptr().cast::<u8>(), written.len()) }
    }

    /// A copy of `message` (cut to the line capacity) with the byte at `at`
    /// replaced by `|`: how a target showing extended information prints the
    /// `QB_XS` marker. Lives on the stack, so no per-line allocation.
    pub fn with_bar(message: &[u8], at: usize) -> Line {
        let mut line = Line::default();
        line.push_bytes(message);
        if at < line.len {
            line.buf[at] = MaybeUninit::new(b'|');
        }
        line
    }

    fn push(&mut self, byte: u8) {
        if self.len < ABSOLUTE_MAX_LEN {
            self.buf[self.len] = MaybeUninit::new(byte);
            self.len += 1;
        }
    }

    /// Appends as much of `bytes` as fits.
    fn push_bytes(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(ABSOLUTE_MAX_LEN - self.len);
        for (dst, &b) in self.buf[self.len..self.len + n].iter_mut().zip(bytes) {
            *dst = MaybeUninit::new(b);
        }
        self.len += n;
    }

    /// Appends `n` copies of `byte` (as many as fit).
    fn push_repeated(&mut self, byte: u8, n: usize) {
        let n = n.min(ABSOLUTE_MAX_LEN - self.len);
        self.buf[self.len..self.len + n].fill(MaybeUninit::new(byte));
        self.len += n;
    }

    /// Overwrites the last `n` bytes (at most the whole line) with `byte`.
    fn fill_tail(&mut self, byte: u8, n: usize) {
        let start = self.len.saturating_sub(n);
        self.buf[start..self.len].fill(MaybeUninit::new(byte));
    }

    /// Appends `src` as one directive: cut to `width` (0 = natural length) and to
    /// `room - 1` bytes, then padded with spaces to that width. Returns the bytes added.
    fn push_field(&mut self, src: &[u8], width: usize, pad_left: bool, room: usize) -> usize {
        if room <= 1 {
            return 0;
        }
        let width = if width == 0 { src.len() } else { width }.min(room - 1);
        let text = &src[..src.len().min(width)];
        let pad = width - text.len();
        if pad_left {
            self.push_repeated(b' ', pad);
            self.push_bytes(text);
        } else {
            self.push_bytes(text);
            self.push_repeated(b' ', pad);
        }
        width
    }
}

/// One parsed `%` directive.
struct Directive {
    pad_left: bool,
    width: usize,
    /// The conversion character; `None` when the format ends after the `%`.
    conv: Option<u8>,
    /// Index just past the directive.
    end: usize,
}

fn parse_directive(fmt: &[u8], percent: usize) -> Directive {
    let mut i = percent + 1;
    let pad_left = fmt.get(i) == Some(&b'-');
    if pad_left {
        i += 1;
    }
    let mut width: usize = 0;
    while let Some(d) = fmt.get(i).filter(|c| c.is_ascii_digit()) {
        // Absurd widths are cut by the line length anyway.
        width = width
            .saturating_mul(10)
            .saturating_add(usize::from(d - b'0'));
        i += 1;
    }
    let conv = fmt.get(i).copied();
    Directive {
        pad_left,
        width,
        conv,
        end: (i + 1).min(fmt.len()),
    }
}

/// Whether `fmt` has a `%g` (tags text) directive.
pub fn uses_tags(fmt: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&c) = fmt.get(i) {
        if c != b'%' {
            i += 1;
            continue;
        }
        let d = parse_directive(fmt, i);
        if d.conv == Some(b'g') {
            return true;
        }
        if d.conv.is_none() {
            break;
        }
        i = d.end;
    }
    false
}

/// What a directive expands to.
enum Field<'a> {
    Text(&'a [u8]),
    Number(u64),
    /// Keep the directive's own text (static expansion of per-line directives).
    Verbatim,
}

/// The shared expansion loop. Returns the line and whether the length limit stopped it.
fn expand<'a>(
    fmt: &[u8],
    max_len: usize,
    line: &mut Line,
    mut resolve: impl FnMut(Option<u8>, &mut Line, usize, &Directive) -> Option<Field<'a>>,
) -> bool {
    line.len = 0;
    // A limit below 2 leaves no room for even one byte plus the terminator.
    let max_len = max_len.min(ABSOLUTE_MAX_LEN);
    if max_len < 2 {
        return true;
    }
    let mut i = 0;
    while let Some(&c) = fmt.get(i) {
        if c != b'%' {
            // Copy the literal run up to the next directive, as far as the line
            // limit allows (libqb stops at `max_len - 1` bytes).
            let run = fmt[i..]
                .iter()
                .position(|&b| b == b'%')
                .unwrap_or(fmt.len() - i);
            let fits = run.min((max_len - 1).saturating_sub(line.len));
            line.push_bytes(&fmt[i..i + fits]);
            i += fits.max(1);
            if fits == 0 {
                return true;
            }
        } else {
            let d = parse_directive(fmt, i);
            let room = max_len - line.len;
            match resolve(d.conv, line, room, &d) {
                Some(Field::Text(text)) => {
                    line.push_field(text, d.width, d.pad_left, room);
                }
                Some(Field::Number(n)) => {
                    let mut digits = [0u8; 20];
                    let text = decimal(n, &mut digits);
                    line.push_field(text, d.width, d.pad_left, room);
                }
                Some(Field::Verbatim) => {
                    let text = &fmt[i..d.end];
                    line.push_field(text, text.len(), false, room);
                }
                None => {} // already written by `resolve`
            }
            // A directive cut short by the end of the format ends the loop too,
            // after the length check below (libqb's ellipsis depends on it).
            i = d.end;
        }
        if line.len >= max_len - 1 {
            return true;
        }
    }
    false
}

fn decimal(mut n: u64, out: &mut [u8; 20]) -> &[u8] {
    let mut start = out.len();
    loop {
        start -= 1;
        out[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &out[start..]
}

/// Values fixed when a format is set.
pub struct StaticFields<'a> {
    pub ident: &'a [u8],
    pub pid: u32,
    pub hostname: &'a [u8],
}

/// Set-time expansion of `%N`, `%P`, `%H`; other directives stay as written.
pub fn expand_static(fmt: &[u8], max_len: usize, fields: &StaticFields) -> Vec<u8> {
    let mut line = Line::default();
    expand(fmt, max_len, &mut line, |conv, _, _, _| {
        Some(match conv {
            Some(b'N') => Field::Text(fields.ident),
            Some(b'P') => Field::Number(u64::from(fields.pid)),
            Some(b'H') => Field::Text(fields.hostname),
            _ => Field::Verbatim,
        })
    });
    line.as_bytes().to_vec()
}

/// Broken-down local time, as `%t`/`%T` print it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalTime {
    /// 0 = January.
    pub month: u8,
    pub mday: u8,
    pub hour: u8,
    pub min: u8,
    pub sec: u8,
}

/// Everything a line may show besides the message.
pub struct LineFields<'a> {
    pub function: &'a [u8],
    pub filename: &'a [u8],
    pub lineno: u32,
    pub priority: u8,
    /// Text for `%g` (the user's tags-stringify result).
    pub tags: &'a dyn Fn() -> &'a [u8],
    /// Seconds and nanoseconds since the epoch.
    pub timestamp: (i64, i64),
    /// Converts epoch seconds to local time (only called for `%t`/`%T`).
    pub local_time: &'a dyn Fn(i64) -> LocalTime,
}

/// Per-line rendering of a target format (already statically expanded).
pub fn render_line(
    fmt: &[u8],
    max_len: usize,
    ellipsis: bool,
    fields: &LineFields,
    message: &[u8],
    line: &mut Line,
) {
    let truncated = expand(fmt, max_len, line, |conv, line, room, d| {
        Some(match conv {
            Some(b'n') => Field::Text(fields.function),
            // Stock libqb (as Debian builds it) prints the file name as given.
            Some(b'f') => Field::Text(fields.filename),
            Some(b'l') => Field::Number(u64::from(fields.lineno)),
            Some(b'p') => Field::Text(priority_name(fields.priority)),
            Some(b'b') => Field::Text(message),
            Some(b'g') => Field::Text((fields.tags)()),
            Some(c @ (b't' | b'T')) => {
                let mut stamp = [0u8; 19];
                let len = time_text(fields, c == b'T', &mut stamp);
                line.push_field(&stamp[..len], d.width, d.pad_left, room);
                return None;
            }
            _ => Field::Text(b""),
        })
    });
    // A message's own trailing newline never reaches the output.
    if line.as_bytes().last() == Some(&b'\n') {
        line.len -= 1;
        if truncated && ellipsis {
            line.push(b'.');
        }
    }
    if truncated && ellipsis {
        line.fill_tail(b'.', 3);
    }
}

/// "Mon DD HH:MM:SS", plus ".mmm" for `%T` (written by hand: no allocation).
fn time_text(fields: &LineFields, millis: bool, out: &mut [u8; 19]) -> usize {
    let (sec, nsec) = fields.timestamp;
    let tm = (fields.local_time)(sec);
    let month = MONTHS[usize::from(tm.month).min(11)];
    out[..3].copy_from_slice(month);
    let parts = [
        (b' ', tm.mday),
        (b' ', tm.hour),
        (b':', tm.min),
        (b':', tm.sec),
    ];
    for (k, (sep, value)) in parts.into_iter().enumerate() {
        let at = 3 + 3 * k;
        out[at] = sep;
        out[at + 1] = b'0' + (value / 10) % 10;
        out[at + 2] = b'0' + value % 10;
    }
    if !millis {
        return 15;
    }
    let ms = (nsec.max(0) / 1_000_000).min(999) as u16;
    out[15] = b'.';
    out[16] = b'0' + (ms / 100) as u8;
    out[17] = b'0' + (ms / 10 % 10) as u8;
    out[18] = b'0' + (ms % 10) as u8;
    19
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(tags: &'a dyn Fn() -> &'a [u8]) -> LineFields<'a> {
        LineFields {
            function: b"do_work",
            filename: b"src/dir/worker.c",
            lineno: 96,
            priority: 4,
            tags,
            timestamp: (1_000, 7_654_321),
            local_time: &|_| LocalTime {
                month: 1,
                mday: 3,
                hour: 4,
                min: 5,
                sec: 6,
            },
        }
    }

    fn render(fmt: &[u8], max: usize, ellipsis: bool, msg: &[u8]) -> String {
        let tags = || &b"TAG"[..];
        let mut line = Line::default();
        render_line(fmt, max, ellipsis, &fields(&tags), msg, &mut line);
        String::from_utf8(line.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn default_format_shows_priority_and_message() {
        assert_eq!(
            render(DEFAULT_FORMAT, 512, false, b"hello"),
            "[warning] hello"
        );
    }

    #[test]
    fn every_per_line_directive() {
        assert_eq!(
            render(b"%n|%f|%l|%p|%g|%b", 512, false, b"m"),
            "do_work|src/dir/worker.c|96|warning|TAG|m"
        );
        assert_eq!(render(b"%t", 512, false, b""), "Feb 03 04:05:06");
        assert_eq!(render(b"%T", 512, false, b""), "Feb 03 04:05:06.007");
        // Unknown directives, "%%" included, render as nothing.
        assert_eq!(render(b"a%qb%%c", 512, false, b""), "abc");
    }

    #[test]
    fn widths_pad_and_cut() {
        assert_eq!(render(b"[%10p]", 512, false, b""), "[warning   ]");
        assert_eq!(render(b"[%-10p]", 512, false, b""), "[   warning]");
        assert_eq!(render(b"[%3p]", 512, false, b""), "[war]");
        assert_eq!(render(b"[%-3p]", 512, false, b""), "[war]");
        assert_eq!(render(b"%5l|", 512, false, b""), "96   |");
    }

    #[test]
    fn line_length_limit_and_ellipsis() {
        let msg = [b'x'; 100];
        assert_eq!(render(b"%b", 11, false, &msg), "xxxxxxxxxx");
        assert_eq!(render(b"%b", 11, true, &msg), "xxxxxxx...");
        assert_eq!(render(b"abcdefghijklmnop", 6, true, b""), "ab...");
        // Short lines are untouched by the ellipsis option.
        assert_eq!(render(b"%b", 11, true, b"short"), "short");
    }

    #[test]
    fn trailing_newline_is_dropped() {
        assert_eq!(render(b"%b", 512, false, b"two\n"), "two");
        assert_eq!(render(b"%b\n", 512, false, b"x"), "x");
    }

    #[test]
    fn static_expansion_keeps_per_line_directives() {
        let f = StaticFields {
            ident: b"myapp",
            pid: 4242,
            hostname: b"node1",
        };
        assert_eq!(
            expand_static(b"%N[%P] %H %-5p %b", 512, &f),
            b"myapp[4242] node1 %-5p %b"
        );
        assert_eq!(expand_static(b"%3N|%-7P|", 512, &f), b"mya|   4242|");
        assert_eq!(expand_static(b"%%", 512, &f), b"%%");
        assert_eq!(expand_static(b"ab%", 512, &f), b"ab%");
    }

    #[test]
    fn tags_directive_detection() {
        assert!(uses_tags(b"%g"));
        assert!(uses_tags(b"[%-12g] %b"));
        assert!(!uses_tags(b"%b g %p"));
        assert!(!uses_tags(b"%%g"), "%% is a directive of its own");
        assert!(!uses_tags(b"%"));
        assert!(!uses_tags(b""));
    }

    #[test]
    fn bar_replaces_the_marker() {
        assert_eq!(
            Line::with_bar(b"short\x07long", 5).as_bytes(),
            b"short|long"
        );
        assert_eq!(Line::with_bar(b"abc", 7).as_bytes(), b"abc");
        let long = [b'x'; ABSOLUTE_MAX_LEN + 10];
        assert_eq!(Line::with_bar(&long, 0).as_bytes().len(), ABSOLUTE_MAX_LEN);
    }

    #[test]
    fn priority_names() {
        assert_eq!(priority_name(0), b"emerg");
        assert_eq!(priority_name(3), b"error");
        assert_eq!(priority_name(8), b"trace");
        assert_eq!(priority_name(200), b"trace");
    }
}
