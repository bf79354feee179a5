//! Calling C variadic functions with a list of arguments built at run
//! time. Rust can call a variadic function only with a fixed argument
//! list, so every call passes the same 8 doubles and 32 64-bit integers.
//! On x86_64 (System V) `va_arg` takes integer-class arguments (int,
//! long, pointers) in order from the general-purpose registers and then
//! the stack, 8 bytes each (an `int` is the low half of its slot), and
//! doubles from the vector registers: with at most 8 doubles consumed,
//! the two sequences are independent, so the callee sees exactly the
//! argument list the format describes.

use std::ffi::CString;

use super::Input;
use crate::log::blackbox_msg::{self, Message};
use crate::log::shim::qbrs_serialize_test;

pub const GP: usize = 32;
pub const FP: usize = 8;
/// The serializer's own limit (`QB_LOG_ABSOLUTE_MAX_LEN`).
const CAP_MAX: usize = crate::log::ABSOLUTE_MAX_LEN;

/// What the serializer stores for one conversion.
#[derive(Clone, Copy)]
enum Item {
    Bytes(usize),
    /// A string argument of this length (stored with its NUL).
    Str(usize),
}

#[derive(Default)]
struct Call {
    fmt: Vec<u8>,
    gp: Vec<u64>,
    fp: Vec<f64>,
    strings: Vec<CString>,
    items: Vec<Item>,
    /// Every construct has the same meaning for printf and for the
    /// blackbox (no precision, no libqb-only conversion).
    printf_equivalent: bool,
}

impl Call {
    fn gp_full(&self) -> bool {
        self.gp.len() >= GP
    }

    fn int(&mut self, v: u64, stored: usize) {
        self.gp.push(v);
        self.items.push(Item::Bytes(stored));
    }
}

const FLAGS: &[u8] = b"#- +'I0";
const INT_CONV: &[u8] = b"diouxX";
const FLOAT_CONV: &[u8] = b"eEfFgGaA";
const MODIFIERS: [(&str, usize); 10] = [
    ("", 4),
    ("h", 4),
    ("hh", 4),
    ("l", 8),
    ("ll", 8),
    ("z", 8),
    ("t", 8),
    ("j", 8),
    ("q", 8),
    ("L", 8),
];

fn number(inp: &mut Input, limit: u16) -> u16 {
    inp.u16() % limit
}

/// Input encoding: after the record capacity (u16, in `run`), a mode byte
/// (even: printf-equivalent constructs only), then tokens. A byte < 96 is
/// literal text of `byte % 16 + 1` bytes; any other starts a directive:
/// conversion selector (u8 % 16: 0-5 integer, 6-7 floating, 8 `c`, 9-11
/// `s`, 12 `p`, 13 `C`, 14 no-argument letter, 15 `%`), flags bitmap (u8,
/// `#- +'I0`), width (u8 % 4: 1 digits u16, 2 `*` with an i32), in the free
/// mode a precision (u8 % 4: 1 digits u16, 2 `.*` with an i32, 3 bare
/// `.`), then the conversion's own bytes: modifier selector and u64 value
/// (integers), letter selector and f64 bits (floating), one byte (`c`),
/// length (u8 % 48; 47 = NULL) and bytes (`s`), u64 (`p`). In the strict
/// mode selector 15 is a bare `%%` with no further bytes.
fn build(inp: &mut Input) -> Call {
    let strict = inp.u8() & 1 == 0;
    let mut c = Call {
        printf_equivalent: strict,
        ..Call::default()
    };
    let field_limit: u16 = if strict { 600 } else { u16::MAX };
    while !inp.is_empty() && c.fmt.len() < 1500 {
        let t = inp.u8();
        if t < 96 {
            // Literal text: never '%' or NUL; BEL ('\a', QB_XC) only when
            // the format need not mean the same to printf.
            for &b in inp.bytes(usize::from(t % 16) + 1) {
                let b = match b {
                    0 | b'%' => b'a',
                    b'\x07' if strict => b'b',
                    b => b,
                };
                c.fmt.push(b);
            }
            continue;
        }
        let conv = inp.u8() % 16;
        if c.gp_full() {
            break;
        }
        c.fmt.push(b'%');
        if conv == 15 && strict {
            // "%%": stores one '%' byte.
            c.fmt.push(b'%');
            c.items.push(Item::Bytes(1));
            continue;
        }
        let flags = inp.u8();
        for (i, &f) in FLAGS.iter().enumerate() {
            if flags & (1 << i) != 0 {
                c.fmt.push(f);
            }
        }
        match inp.u8() % 4 {
            1 => {
                let w = number(inp, field_limit);
                if w != 0 {
                    c.fmt.extend_from_slice(w.to_string().as_bytes());
                }
            }
            2 => {
                c.fmt.push(b'*');
                let w = inp.u32() as i32;
                let w = if strict { w % 600 } else { w };
                c.int(w as i64 as u64, 4);
            }
            _ => {}
        }
        if !strict {
            match inp.u8() % 4 {
                1 => {
                    c.fmt.push(b'.');
                    let p = number(inp, field_limit);
                    c.fmt.extend_from_slice(p.to_string().as_bytes());
                }
                2 if !c.gp_full() => {
                    c.fmt.extend_from_slice(b".*");
                    let p = inp.u32() as i32;
                    c.int(p as i64 as u64, 4);
                }
                3 => c.fmt.push(b'.'),
                _ => {}
            }
        }
        if c.gp_full() {
            // No room for another argument: end the directive without one.
            c.fmt.push(b'm');
            c.printf_equivalent = false;
            break;
        }
        match conv {
            0..=5 => {
                let (m, size) = MODIFIERS[usize::from(inp.u8()) % MODIFIERS.len()];
                c.fmt.extend_from_slice(m.as_bytes());
                c.fmt.push(INT_CONV[usize::from(conv)]);
                let v = inp.u64();
                c.int(v, size);
            }
            6 | 7 if c.fp.len() < FP => {
                c.fmt
                    .push(FLOAT_CONV[usize::from(inp.u8()) % FLOAT_CONV.len()]);
                c.fp.push(f64::from_bits(inp.u64()));
                c.items.push(Item::Bytes(8));
            }
            8 => {
                c.fmt.push(b'c');
                let v = u64::from(inp.u8());
                c.int(v, 1);
            }
            9..=11 => {
                c.fmt.push(b's');
                let n = usize::from(inp.u8() % 48);
                let s: Vec<u8> = inp
                    .bytes(n)
                    .iter()
                    .map(|&b| if b == 0 { b'z' } else { b })
                    .collect();
                if n == 47 {
                    // A NULL string: stored as "(null)".
                    c.gp.push(0);
                    c.items.push(Item::Str(6));
                } else {
                    let s = CString::new(s).unwrap_or_default();
                    c.gp.push(s.as_ptr() as u64);
                    c.items.push(Item::Str(s.as_bytes().len()));
                    c.strings.push(s);
                }
            }
            12 => {
                c.fmt.push(b'p');
                let v = inp.u64();
                c.int(v, 8);
            }
            13 if !strict => {
                // libqb-only readings: C takes an int, S a string.
                c.fmt.push(b'C');
                let v = u64::from(inp.u8());
                c.int(v, 1);
            }
            14 if !strict => {
                // Conversions that take no argument (%m, %n, ...).
                c.fmt.push(b"mnyk"[usize::from(inp.u8() % 4)]);
            }
            15 => {
                c.fmt.push(b'%');
                c.items.push(Item::Bytes(1));
            }
            _ => {
                c.fmt.push(b'd');
                let v = inp.u64();
                c.int(v, 4);
            }
        }
    }
    c
}

/// Calls `f` with the format and the full fixed argument list.
macro_rules! call_with_args {
    ($f:expr, $($lead:expr),* ; $call:expr) => {{
        let mut g = [0u64; GP];
        let mut d = [0f64; FP];
        g[..$call.gp.len()].copy_from_slice(&$call.gp);
        d[..$call.fp.len()].copy_from_slice(&$call.fp);
        $f(
            $($lead,)*
            d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
            g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7],
            g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15],
            g[16], g[17], g[18], g[19], g[20], g[21], g[22], g[23],
            g[24], g[25], g[26], g[27], g[28], g[29], g[30], g[31],
        )
    }};
}

/// The length the serializer must report: the format copy and every
/// stored argument in turn, or `cap` once something does not fit (a
/// string must leave at least one byte after its NUL).
fn expected_len(c: &Call, cap: usize) -> usize {
    if cap == 0 {
        return 0;
    }
    let mut at = c.fmt.len() + 1;
    if at >= cap {
        return cap;
    }
    for item in &c.items {
        let room = cap - at;
        match *item {
            Item::Bytes(n) if n <= room => at += n,
            Item::Str(n) if n + 2 <= room => at += n + 1,
            _ => return cap,
        }
    }
    at
}

/// What the reader shows of a formatted text (see `Message::printable`).
fn shown(text: &[u8]) -> &[u8] {
    let mut end = text.len();
    while end > 1 && matches!(text[end - 1], b'\n' | 0) {
        end -= 1;
    }
    let text = &text[..end];
    &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())]
}

pub fn run(data: &[u8]) {
    let mut inp = Input::new(data);
    let cap = usize::from(inp.u16()) % (CAP_MAX + 1);
    let c = build(&mut inp);
    let Ok(fmt) = CString::new(c.fmt.clone()) else {
        unreachable!("the format has no NUL by construction");
    };
    let plannable = c.items.len() <= 24;
    let mut by_scan = vec![0u8; cap];
    let mut by_plan = vec![0u8; cap];
    // SAFETY: `fmt` is NUL-terminated, the buffers hold `cap` bytes and
    // the arguments match the format (see the module comment).
    let scan_len = unsafe {
        call_with_args!(qbrs_serialize_test, 0, by_scan.as_mut_ptr().cast(), cap, fmt.as_ptr(); c)
    };
    // SAFETY: as above.
    let plan_len = unsafe {
        call_with_args!(qbrs_serialize_test, 1, by_plan.as_mut_ptr().cast(), cap, fmt.as_ptr(); c)
    };
    assert!(scan_len <= cap, "record of {scan_len} bytes in {cap}");
    if plannable {
        assert_eq!(plan_len, scan_len, "plan and walk disagree on the length");
        if scan_len < cap {
            assert_eq!(
                by_plan[..plan_len],
                by_scan[..scan_len],
                "plan and walk differ"
            );
        }
    }
    if c.printf_equivalent {
        assert_eq!(scan_len, expected_len(&c, cap), "record length");
    }
    let record = &by_scan[..scan_len];
    let mut msg = Message::default();
    blackbox_msg::deserialize(record, &mut msg);
    assert!(msg.printable().len() < 512);
    if !c.printf_equivalent || scan_len >= cap || cap == 0 {
        return;
    }
    assert_eq!(&record[..fmt.as_bytes().len()], fmt.as_bytes());
    let mut text = vec![0u8; 512];
    // SAFETY: as above, with snprintf's three leading arguments.
    let n = unsafe {
        call_with_args!(libc::snprintf, text.as_mut_ptr().cast(), text.len(), fmt.as_ptr(); c)
    };
    let Ok(n) = usize::try_from(n) else {
        return;
    };
    let full = &text[..n.min(511)];
    assert_eq!(
        String::from_utf8_lossy(msg.printable()),
        String::from_utf8_lossy(shown(full)),
        "blackbox text differs from printf for {:?}",
        String::from_utf8_lossy(fmt.as_bytes())
    );
    assert_eq!(msg.printable(), shown(full));
}
