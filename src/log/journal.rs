//! The systemd journal output of the syslog target (`QB_LOG_CONF_USE_JOURNAL`).
//!
//! Entries are sent with the journal's native protocol, without libsystemd: one
//! datagram to `/run/systemd/journal/socket` holding `FIELD=value` lines (a value
//! containing a newline is sent in the binary form: name, newline, 64-bit
//! little-endian length, value, newline). The fields are the ones libqb hands to
//! `sd_journal_send()`: `MESSAGE_ID` (when the call site has one), `PRIORITY`,
//! `CODE_LINE`, `CODE_FILE`, `CODE_FUNC`, `SYSLOG_IDENTIFIER` and `MESSAGE`.
//!
//! Where no journal runs (the socket is missing or nobody listens), turning the
//! option on fails with EOPNOTSUPP and the target keeps using syslog, which is what a
//! libqb built without journal support answers. Should the journal go away later, a
//! line that cannot be sent is given to syslog instead of being lost.

use std::ffi::{CStr, c_char};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;

use super::callsite::Callsite;
use super::format::{Line, LineFields};
use super::os;
use super::targets::{self, SYSLOG, Target};

pub const SOCKET_PATH: &CStr = c"/run/systemd/journal/socket";

/// The connected journal socket (None until the option is turned on).
static SOCKET: Mutex<Option<OwnedFd>> = Mutex::new(None);

fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// A datagram socket connected to `path` (fails unless someone is bound there).
pub fn connect(path: &CStr) -> Result<OwnedFd, i32> {
    let bytes = path.to_bytes();
    // SAFETY: an all-zero sockaddr_un is valid; the path is copied in below.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() {
        return Err(libc::ENAMETOOLONG);
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, &src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = src as c_char;
    }
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    // SAFETY: `addr` is a valid sockaddr_un of at least `len` bytes.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(last_errno());
    }
    Ok(fd)
}

/// Appends one field in the native protocol's text or binary form.
fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    if value.contains(&b'\n') {
        out.push(b'\n');
        out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    } else {
        out.push(b'=');
    }
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// What one journal entry says.
pub struct Entry<'a> {
    pub message_id: Option<&'a [u8]>,
    pub priority: i32,
    pub lineno: u32,
    pub file: &'a [u8],
    pub function: &'a [u8],
    pub ident: &'a [u8],
    pub message: &'a [u8],
}

/// The datagram for `entry`, fields in libqb's order.
pub fn encode(entry: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(entry.message.len() + 160);
    if let Some(id) = entry.message_id {
        push_field(&mut out, b"MESSAGE_ID", id);
    }
    push_field(&mut out, b"PRIORITY", entry.priority.to_string().as_bytes());
    push_field(&mut out, b"CODE_LINE", entry.lineno.to_string().as_bytes());
    push_field(&mut out, b"CODE_FILE", entry.file);
    push_field(&mut out, b"CODE_FUNC", entry.function);
    let ident_end = entry
        .ident
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(entry.ident.len());
    push_field(&mut out, b"SYSLOG_IDENTIFIER", &entry.ident[..ident_end]);
    push_field(&mut out, b"MESSAGE", entry.message);
    out
}

fn send_on(fd: &OwnedFd, datagram: &[u8]) -> Result<(), i32> {
    loop {
        // SAFETY: a valid buffer on our own connected socket.
        let n = unsafe {
            libc::send(
                fd.as_raw_fd(),
                datagram.as_ptr().cast(),
                datagram.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n >= 0 {
            return Ok(());
        }
        let errno = last_errno();
        if errno != libc::EINTR {
            return Err(errno);
        }
    }
}

/// Sends one datagram, reconnecting once if the journal restarted.
fn send(datagram: &[u8]) -> Result<(), i32> {
    let mut socket = SOCKET.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(fd) = socket.as_ref()
        && send_on(fd, datagram).is_ok()
    {
        return Ok(());
    }
    let fd = connect(SOCKET_PATH)?;
    let sent = send_on(&fd, datagram);
    *socket = Some(fd);
    sent
}

/// `QB_LOG_CONF_USE_JOURNAL` for `target`: only the syslog target takes it (EINVAL
/// otherwise); turning it on needs a running journal (EOPNOTSUPP otherwise, and
/// syslog stays in use). Like libqb, the syslog connection is closed while the
/// journal is used and reopened when it is turned off.
pub fn configure(target: &mut Target, on: i32) -> Result<i32, i32> {
    if target.slot != SYSLOG {
        return Err(libc::EINVAL);
    }
    if on != 0 {
        let fd = connect(SOCKET_PATH).map_err(|_| libc::EOPNOTSUPP)?;
        *SOCKET.lock().unwrap_or_else(|e| e.into_inner()) = Some(fd);
        target.use_journal = true;
        os::syslog_close();
    } else {
        target.use_journal = false;
        os::syslog_open(&target.name, target.facility);
    }
    Ok(0)
}

/// Bytes of a C string field of `cs` ("" for NULL).
fn cs_text<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        return b"";
    }
    // SAFETY: call-site strings are NUL-terminated and live as long as the call site.
    unsafe { CStr::from_ptr(p) }.to_bytes()
}

/// Writes one message of the syslog target to the journal (syslog if that fails),
/// after the same priority handling and layout as the syslog output.
pub fn write(
    target: &Target,
    cs: Option<&Callsite>,
    fields: &LineFields,
    text: &[u8],
    line: &mut Line,
) {
    let Some(priority) = targets::syslog_priority(fields.priority, target.priority_bump) else {
        return;
    };
    super::pending::render(target, fields, text, line);
    let message_id = cs.and_then(|cs| {
        let id = cs.message_id.load(std::sync::atomic::Ordering::Relaxed);
        (!id.is_null()).then(|| cs_text(id))
    });
    let message = line.as_bytes();
    let end = message
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(message.len());
    let datagram = encode(&Entry {
        message_id,
        priority,
        lineno: fields.lineno,
        file: fields.filename,
        function: fields.function,
        ident: &target.name,
        message: &message[..end],
    });
    if send(&datagram).is_err()
        && let Ok(text) = CStr::from_bytes_until_nul(line.as_bytes_with_nul())
    {
        os::syslog_write(priority, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    #[test]
    fn fields_in_libqb_order() {
        let entry = Entry {
            message_id: Some(b"f77379a8490b408bbe5f6940505a777b"),
            priority: 3,
            lineno: 42,
            file: b"main.c",
            function: b"start",
            ident: b"app\0junk",
            message: b"[error] hello",
        };
        assert_eq!(
            encode(&entry),
            b"MESSAGE_ID=f77379a8490b408bbe5f6940505a777b\nPRIORITY=3\nCODE_LINE=42\n\
              CODE_FILE=main.c\nCODE_FUNC=start\nSYSLOG_IDENTIFIER=app\nMESSAGE=[error] hello\n"
        );
        let plain = Entry {
            message_id: None,
            message: b"two\nlines",
            ..entry
        };
        let bytes = encode(&plain);
        assert!(bytes.starts_with(b"PRIORITY=3\n"));
        let mut tail = b"MESSAGE\n".to_vec();
        tail.extend_from_slice(&9u64.to_le_bytes());
        tail.extend_from_slice(b"two\nlines\n");
        assert!(bytes.ends_with(&tail));
    }

    #[test]
    fn connect_needs_a_listener() {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("qbrs-journal-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let cpath = CString::new(path.to_str().unwrap()).unwrap();
        assert!(connect(&cpath).is_err());
        let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let fd = connect(&cpath).unwrap();
        send_on(&fd, b"PRIORITY=6\nMESSAGE=hi\n").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"PRIORITY=6\nMESSAGE=hi\n");
        let _ = std::fs::remove_file(&path);
    }
}
