//! Turning a serialized blackbox message back into text.
//!
//! The message is the printf format (NUL-terminated) followed by the raw
//! argument values, packed by src/shim/qblog_serialize.c (which documents the
//! layout). Each conversion is formatted by the C library's `snprintf` with
//! exactly one argument of the right C type, so the text equals what the
//! original `printf` would have produced. Nothing from the file reaches
//! `snprintf` unchecked: the per-conversion format is rebuilt from an allowed
//! set of characters, widths and precisions are capped, `%n` cannot occur, and
//! string arguments always end inside our own buffer.
//!
//! Like libqb's reader the text is cut to `QB_LOG_MAX_LEN - 1` bytes.

use std::ffi::{c_char, c_int, c_longlong, c_void};

/// libqb's reader formats into a `QB_LOG_MAX_LEN` buffer.
const TEXT_CAP: usize = 512;
/// Widths and precisions above this cannot change the visible text (it is cut
/// at `TEXT_CAP`), but a huge one makes `snprintf` pad for seconds.
const MAX_FIELD: u64 = 4096;
/// Per-conversion format buffer.
const SPEC_CAP: usize = 48;

/// Formatted message text (at most `TEXT_CAP - 1` bytes).
pub struct Message {
    buf: [u8; TEXT_CAP],
    len: usize,
}

impl Default for Message {
    fn default() -> Self {
        Message {
            buf: [0; TEXT_CAP],
            len: 0,
        }
    }
}

impl Message {
    fn room(&self) -> usize {
        TEXT_CAP - 1 - self.len
    }

    fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.room());
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// What libqb's reader prints: trailing newlines removed (never the first
    /// byte), then the text up to its first NUL.
    pub fn printable(&self) -> &[u8] {
        let mut end = self.len;
        while end > 1 && matches!(self.buf[end - 1], b'\n' | 0) {
            end -= 1;
        }
        let text = &self.buf[..end];
        &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())]
    }

    /// Appends one `snprintf` conversion of `arg` with the NUL-terminated `spec`.
    fn format(&mut self, spec: &[u8], arg: Arg) {
        debug_assert_eq!(spec.last(), Some(&0));
        let room = self.room();
        // SAFETY: the buffer has room + 1 writable bytes from `len`; `spec` is a
        // NUL-terminated conversion built by `Spec` whose type matches `arg`;
        // string arguments point into a NUL-terminated buffer.
        let n = unsafe {
            let dst = self.buf.as_mut_ptr().add(self.len).cast::<c_char>();
            let fmt = spec.as_ptr().cast::<c_char>();
            match arg {
                Arg::Int(v) => libc::snprintf(dst, room + 1, fmt, v),
                Arg::Long(v) => libc::snprintf(dst, room + 1, fmt, v),
                Arg::Double(v) => libc::snprintf(dst, room + 1, fmt, v),
                Arg::Str(p) => libc::snprintf(dst, room + 1, fmt, p),
                Arg::Ptr(p) => libc::snprintf(dst, room + 1, fmt, p),
            }
        };
        if let Ok(n) = usize::try_from(n) {
            self.len += n.min(room);
        }
    }
}

enum Arg {
    Int(c_int),
    Long(c_longlong),
    Double(f64),
    Str(*const c_char),
    Ptr(*const c_void),
}

/// The serialized values following the format.
struct Values<'a> {
    data: &'a [u8],
    at: usize,
}

impl Values<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let s = self.data.get(self.at..self.at.checked_add(N)?)?;
        self.at += N;
        s.try_into().ok()
    }

    fn int(&mut self) -> Option<i32> {
        self.take::<4>().map(i32::from_ne_bytes)
    }

    fn long(&mut self) -> Option<i64> {
        self.take::<8>().map(i64::from_ne_bytes)
    }

    /// A string argument: its bytes up to the NUL (the buffer always has one).
    fn string(&mut self) -> Option<*const c_char> {
        let rest = self.data.get(self.at..)?;
        let len = rest.iter().position(|&b| b == 0)?;
        let p = rest.as_ptr().cast::<c_char>();
        self.at += len + 1;
        Some(p)
    }
}

/// One conversion being rebuilt: `%`, flags, width, precision.
struct Spec {
    buf: [u8; SPEC_CAP],
    len: usize,
}

impl Spec {
    fn new() -> Self {
        let mut s = Spec {
            buf: [0; SPEC_CAP],
            len: 0,
        };
        s.push(b'%');
        s
    }

    /// Appends if there is room (keeping 4 bytes for modifiers, conversion and
    /// NUL); repeated flags are harmless to drop.
    fn push(&mut self, c: u8) {
        if self.len < SPEC_CAP - 4 {
            self.buf[self.len] = c;
            self.len += 1;
        }
    }

    fn number(&mut self, v: i64) {
        let v = v.clamp(-(MAX_FIELD as i64), MAX_FIELD as i64);
        for c in v.to_string().bytes() {
            self.push(c);
        }
    }

    /// Finishes with the length modifier and conversion: a NUL-terminated spec.
    fn finish(&mut self, modifier: &[u8], conv: u8) -> &[u8] {
        for &c in modifier.iter().chain([conv, 0].iter()) {
            self.buf[self.len] = c;
            self.len += 1;
        }
        &self.buf[..self.len]
    }
}

/// Integer size and C modifier collected while parsing a directive.
#[derive(Clone, Copy)]
enum Width {
    Int,
    Short,
    Char,
    Long,
    LongDouble,
}

/// Formats the serialized message `msg` into `out`.
pub fn deserialize(msg: &[u8], out: &mut Message) {
    out.len = 0;
    // A private copy that always ends with a NUL, so every string argument
    // (and the format) ends inside it.
    let mut copy = [0u8; super::ABSOLUTE_MAX_LEN + 1];
    let n = msg.len().min(super::ABSOLUTE_MAX_LEN);
    copy[..n].copy_from_slice(&msg[..n]);
    let buf = &copy[..=n];
    let fmt_len = buf.iter().position(|&b| b == 0).unwrap_or(n);
    let fmt = &buf[..fmt_len];
    let mut values = Values {
        data: buf,
        at: fmt_len + 1,
    };
    let mut i = 0;
    while i < fmt.len() {
        // A full text cannot change any more. Stopping here also bounds the
        // work: each later wide conversion would still make snprintf produce
        // all its padding into the full buffer (milliseconds per record).
        if out.room() == 0 {
            return;
        }
        let Some(rel) = fmt[i..].iter().position(|&b| b == b'%') else {
            out.push(&fmt[i..]);
            return;
        };
        out.push(&fmt[i..i + rel]);
        i += rel + 1;
        match directive(fmt, &mut i, &mut values, out) {
            Some(()) => {}
            // The values ran out: the record is damaged; keep what we have.
            None => return,
        }
    }
}

/// Parses the directive after a `%` at `fmt[*i..]` and formats it. Unknown
/// conversions print nothing and scanning resumes at the unknown character.
fn directive(fmt: &[u8], i: &mut usize, values: &mut Values, out: &mut Message) -> Option<()> {
    let mut spec = Spec::new();
    let mut width = Width::Int;
    loop {
        let Some(&c) = fmt.get(*i) else {
            return Some(());
        };
        match c {
            b'#' | b'-' | b' ' | b'+' | b'\'' | b'I' | b'.' => spec.push(c),
            b'0'..=b'9' => {
                // Leading zeros are flags; the number that follows is capped.
                if c == b'0' {
                    spec.push(c);
                } else {
                    let mut v: u64 = 0;
                    while let Some(&d) = fmt.get(*i).filter(|d| d.is_ascii_digit()) {
                        v = v.saturating_mul(10).saturating_add(u64::from(d - b'0'));
                        *i += 1;
                    }
                    spec.number(v.min(MAX_FIELD) as i64);
                    continue;
                }
            }
            b'*' => {
                let v = i64::from(values.int()?);
                // printf reads a negative `.*` as "no precision".
                if v < 0 && spec.len > 1 && spec.buf[spec.len - 1] == b'.' {
                    spec.len -= 1;
                } else {
                    spec.number(v);
                }
            }
            b'l' | b'z' | b't' | b'j' | b'q' => width = Width::Long,
            b'L' => width = Width::LongDouble,
            b'h' => {
                width = match width {
                    Width::Short => Width::Char,
                    _ => Width::Short,
                }
            }
            _ => break,
        }
        *i += 1;
    }
    let conv = fmt[*i];
    match conv {
        b'd' | b'i' | b'o' | b'u' | b'x' | b'X' => {
            let arg = match width {
                Width::Long | Width::LongDouble => Arg::Long(values.long()?),
                _ => Arg::Int(values.int()?),
            };
            let modifier: &[u8] = match width {
                Width::Long | Width::LongDouble => b"ll",
                Width::Short => b"h",
                Width::Char => b"hh",
                Width::Int => b"",
            };
            out.format(spec.finish(modifier, conv), arg);
        }
        b'e' | b'E' | b'f' | b'F' | b'g' | b'G' | b'a' | b'A' => {
            let v = f64::from_ne_bytes(values.take::<8>()?);
            out.format(spec.finish(b"", conv), Arg::Double(v));
        }
        b'c' | b'C' => {
            let [v] = values.take::<1>()?;
            out.format(spec.finish(b"", b'c'), Arg::Int(c_int::from(v)));
        }
        b's' | b'S' => {
            let p = values.string()?;
            out.format(spec.finish(b"", b's'), Arg::Str(p));
        }
        b'p' => {
            let v = values.long()?;
            out.format(
                spec.finish(b"", b'p'),
                Arg::Ptr(v as usize as *const c_void),
            );
        }
        b'%' => {
            out.push(b"%");
            // Both libqb and we store a '%' byte for "%%".
            if values.data.get(values.at) == Some(&b'%') {
                values.at += 1;
            }
        }
        // Not a conversion libqb serializes: printed as text from here.
        _ => return Some(()),
    }
    *i += 1;
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ser(fmt: &str, args: &[&[u8]]) -> Vec<u8> {
        let mut v = fmt.as_bytes().to_vec();
        v.push(0);
        for a in args {
            v.extend_from_slice(a);
        }
        v
    }

    fn text(msg: &[u8]) -> String {
        let mut m = Message::default();
        deserialize(msg, &mut m);
        String::from_utf8_lossy(m.printable()).into_owned()
    }

    #[test]
    fn conversions() {
        let i = 42i32.to_ne_bytes();
        let l = (-5i64).to_ne_bytes();
        let d = 1.5f64.to_ne_bytes();
        assert_eq!(text(&ser("a %d b", &[&i])), "a 42 b");
        assert_eq!(text(&ser("%05d|%-4d|%x", &[&i, &i, &i])), "00042|42  |2a");
        assert_eq!(
            text(&ser("%ld %lld %zu", &[&l, &l, &l])),
            "-5 -5 18446744073709551611"
        );
        assert_eq!(text(&ser("%.2f %g", &[&d, &d])), "1.50 1.5");
        assert_eq!(
            text(&ser("%s|%.2s|%5s", &[b"abc\0", b"xy\0", b"q\0"])),
            "abc|xy|    q"
        );
        assert_eq!(text(&ser("%c%c", &[b"h", b"i"])), "hi");
        assert_eq!(text(&ser("%*d", &[&3i32.to_ne_bytes(), &i])), " 42");
        assert_eq!(text(&ser("%p", &[&0u64.to_ne_bytes()])), "(nil)");
        assert_eq!(text(&ser("100%% %d%%", &[b"%", &i, b"%"])), "100% 42%");
        assert_eq!(text(&ser("%hd", &[&70000i32.to_ne_bytes()])), "4464");
        assert_eq!(text(&ser("%m and %n", &[])), "m and n");
        assert_eq!(text(&ser("trail\n\n", &[])), "trail");
        assert_eq!(text(&ser("\n", &[])), "\n");
    }

    #[test]
    fn hostile_input_is_bounded() {
        // Missing values, huge widths, unterminated strings, no NUL at all.
        assert_eq!(text(&ser("x %d y", &[&[1, 2]])), "x ");
        let wide = text(&ser("%999999999d", &[&1i32.to_ne_bytes()]));
        assert_eq!(wide.len(), TEXT_CAP - 1);
        assert_eq!(text(b"%s\0abc"), "abc");
        assert_eq!(text(b"no nul at all"), "no nul at all");
        assert_eq!(text(&ser("%.*s", &[&(-7i32).to_ne_bytes(), b"z\0"])), "z");
        let long_flags = format!("%{}d", "-".repeat(200));
        assert_eq!(text(&ser(&long_flags, &[&1i32.to_ne_bytes()])), "1");
        let big = "x".repeat(5000);
        assert_eq!(text(big.as_bytes()).len(), TEXT_CAP - 1);
    }
}
