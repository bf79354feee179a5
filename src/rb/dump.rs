//! libqb's ring dump (`qb_rb_write_to_file` / `qb_rb_create_from_file`).
//!
//! File layout from the current offset, native-endian u32s:
//! `word_size, write_pt, read_pt, version (1), hash` where
//! `hash = word_size + write_pt + read_pt + version` (wrapping), then the raw
//! data area, `word_size * 4` bytes from word 0.
//!
//! Writing uses nothing but `write(2)`, so it is async-signal-safe (the blackbox
//! is dumped from crash handlers). libqb also prints a "Ringbuffer:" summary to
//! stdout while dumping; we deliberately do not (stdout belongs to the program,
//! and printf is not async-signal-safe).

use std::ffi::CStr;
use std::os::fd::RawFd;
use std::sync::atomic::AtomicU64;

use libc::{EINTR, EINVAL};

use super::chunk::{DataRing, NO_PENDING};
use super::geometry::Geometry;
use super::mapping::{self, Mapping};
use super::semaphore::Notifier;
use super::shared_header::{HEADER_SIZE, SharedHeader};
use super::{FLAG_CREATE, FLAG_NO_SEMAPHORE, Files, RingBuffer};

const VERSION: u32 = 1;
const DUMP_HEADER: usize = 20;

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Writes every byte of `parts` (readable ranges, in order) to `fd` with as
/// few `writev(2)` calls as the kernel allows. Async-signal-safe.
fn writev_all(fd: RawFd, mut parts: [(*const u8, usize); 3]) -> Result<(), i32> {
    let mut first = 0;
    loop {
        while first < parts.len() && parts[first].1 == 0 {
            first += 1;
        }
        if first == parts.len() {
            return Ok(());
        }
        let mut iov = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; 3];
        for (slot, &(p, len)) in iov.iter_mut().zip(&parts[first..]) {
            *slot = libc::iovec {
                iov_base: p as *mut libc::c_void,
                iov_len: len,
            };
        }
        let count = (parts.len() - first) as libc::c_int;
        // SAFETY: each iovec describes a readable range (caller's contract).
        let n = unsafe { libc::writev(fd, iov.as_ptr(), count) };
        if n < 0 {
            match errno() {
                EINTR => continue,
                e => return Err(e),
            }
        }
        if n == 0 {
            return Err(libc::EIO);
        }
        let mut done = n as usize;
        for part in parts[first..].iter_mut() {
            let take = done.min(part.1);
            // SAFETY: take <= the part's length.
            part.0 = unsafe { part.0.add(take) };
            part.1 -= take;
            done -= take;
            if done == 0 {
                break;
            }
        }
    }
}

/// Reads exactly `len` bytes into `p`; EINVAL if the file ends first.
fn read_exact(fd: RawFd, mut p: *mut u8, mut len: usize) -> Result<(), i32> {
    while len > 0 {
        // SAFETY: the caller guarantees [p, p + len) is writable.
        let n = unsafe { libc::read(fd, p.cast(), len) };
        if n < 0 {
            match errno() {
                EINTR => continue,
                e => return Err(e),
            }
        }
        if n == 0 {
            return Err(EINVAL);
        }
        let n = n as usize;
        // SAFETY: n <= len.
        p = unsafe { p.add(n) };
        len -= n;
    }
    Ok(())
}

/// The 20-byte dump header for a ring of `words` with the given positions.
pub fn encode_header(words: u32, w: u32, r: u32) -> [u8; DUMP_HEADER] {
    let hash = words.wrapping_add(w).wrapping_add(r).wrapping_add(VERSION);
    let mut out = [0u8; DUMP_HEADER];
    for (i, v) in [words, w, r, VERSION, hash].into_iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
    }
    out
}

/// Checked contents of a dump header: `(words, write_pt, read_pt)`.
pub fn decode_header(h: &[u8; DUMP_HEADER], file_size: u64) -> Result<(u32, u32, u32), i32> {
    let word = |i: usize| u32::from_ne_bytes([h[i * 4], h[i * 4 + 1], h[i * 4 + 2], h[i * 4 + 3]]);
    let (words, w, r, version, hash) = (word(0), word(1), word(2), word(3), word(4));
    let expect = words.wrapping_add(w).wrapping_add(r).wrapping_add(version);
    if hash != expect || version != VERSION {
        return Err(EINVAL);
    }
    // The data must fit in the file; positions are word indices inside it.
    if words == 0 || words as u64 > file_size / 4 || w >= words || r >= words {
        return Err(EINVAL);
    }
    Ok((words, w, r))
}

impl RingBuffer {
    /// `qb_rb_write_to_file`: header and raw data; returns the bytes written.
    pub fn write_to_file(&self, fd: RawFd) -> Result<usize, i32> {
        self.write_to_file_after(fd, &[])
    }

    /// Like `write_to_file`, with `prefix` written first; everything goes out
    /// in one `writev(2)` (repeated only if the kernel takes less). Returns
    /// the bytes written after `prefix`.
    pub fn write_to_file_after(&self, fd: RawFd, prefix: &[u8]) -> Result<usize, i32> {
        // One load each, so the hash matches what we store.
        let w = self.header.write_pt()?;
        let r = self.header.read_pt()?;
        let head = encode_header(self.geo.words(), w, r);
        // The kernel copies straight from the mapping (a vanished page becomes
        // EFAULT, not a signal).
        let parts: [(*const u8, usize); 3] = [
            (prefix.as_ptr(), prefix.len()),
            (head.as_ptr(), head.len()),
            (self.data.base(), self.geo.bytes()),
        ];
        writev_all(fd, parts)?;
        Ok(DUMP_HEADER + self.geo.bytes())
    }

    /// `qb_rb_create_from_file`: rebuilds a ring from a dump read at `fd`'s
    /// current offset. The ring lives in anonymous memory (no /dev/shm files,
    /// so concurrent readers never collide) and has no semaphore.
    pub fn create_from_file(fd: RawFd) -> Result<RingBuffer, i32> {
        super::guarded::install();
        // SAFETY: zeroed stat is a valid out-buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid out-pointer.
        if unsafe { libc::fstat(fd, &mut st) } != 0 {
            return Err(errno());
        }
        let mut head = [0u8; DUMP_HEADER];
        read_exact(fd, head.as_mut_ptr(), head.len())?;
        let (words, w, r) = decode_header(&head, st.st_size.max(0) as u64)?;
        let data_bytes = words as usize * 4;
        // libqb re-opens with the dumped size minus its slack, i.e. this size
        // rounded up to a page.
        let page = mapping::page_size();
        let bytes = data_bytes.checked_next_multiple_of(page).ok_or(EINVAL)?;
        let geo = Geometry::new(u32::try_from(bytes / 4).map_err(|_| EINVAL)?)?;

        let label = c"qb-create_from_file-header";
        let hdr = mapping::anonymous_file(label, HEADER_SIZE)?;
        let data = mapping::anonymous_file(c"qb-create_from_file-data", bytes)?;
        let hdr_map = Mapping::shared(&hdr, HEADER_SIZE)?;
        let data_map = Mapping::circular(&data, bytes)?;
        // SAFETY: fresh mappings of HEADER_SIZE and 2 * bytes (mirrored).
        let (header, ring) = unsafe {
            (
                SharedHeader::new(hdr_map.base(), 0),
                DataRing::new(data_map.base(), geo),
            )
        };
        read_exact(fd, ring.base(), data_bytes)?;
        header.set_word_size(geo.words())?;
        header.set_write_pt(w)?;
        header.set_read_pt(r)?;
        header.set_ref_count(1)?;
        Ok(RingBuffer {
            header,
            data: ring,
            geo,
            flags: FLAG_CREATE | FLAG_NO_SEMAPHORE,
            notifier: Notifier::None,
            pending: AtomicU64::new(NO_PENDING),
            files: Files {
                hdr_path: CStr::to_owned(label),
                hdr_id: hdr.id,
                data_path: data.path,
                data_id: data.id,
                created: false,
                anonymous: true,
                forced: false,
            },
            _data_map: data_map,
            _hdr_map: hdr_map,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let h = encode_header(1024, 10, 4);
        assert_eq!(decode_header(&h, 20 + 4096), Ok((1024, 10, 4)));
        assert_eq!(&h[12..16], &1u32.to_ne_bytes());
        assert_eq!(&h[16..20], &(1024u32 + 10 + 4 + 1).to_ne_bytes());
    }

    #[test]
    fn corrupt_headers_are_refused() {
        let mut h = encode_header(1024, 10, 4);
        h[16] ^= 1;
        assert_eq!(decode_header(&h, 1 << 20), Err(EINVAL));
        // word_size larger than the file
        assert_eq!(decode_header(&encode_header(1024, 0, 0), 4095), Err(EINVAL));
        // zero-sized ring
        assert_eq!(decode_header(&encode_header(0, 0, 0), 1 << 20), Err(EINVAL));
        // positions outside the ring (libqb compares them with the byte size)
        assert_eq!(
            decode_header(&encode_header(1024, 1024, 0), 1 << 20),
            Err(EINVAL)
        );
        assert_eq!(
            decode_header(&encode_header(1024, 0, 5000), 1 << 20),
            Err(EINVAL)
        );
        // wrong version with a matching hash
        let mut h = encode_header(16, 1, 1);
        h[12..16].copy_from_slice(&2u32.to_ne_bytes());
        h[16..20].copy_from_slice(&(16u32 + 1 + 1 + 2).to_ne_bytes());
        assert_eq!(decode_header(&h, 1 << 20), Err(EINVAL));
    }
}
