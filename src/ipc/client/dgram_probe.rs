//! `qb_ipcc_verify_dgram_max_msg_size`: the largest datagram this host can
//! pass between two unix sockets, found by trying sizes on a socketpair with
//! the buffers raised as the socket transport raises them.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::ipc::sock;

/// One attempt: a datagram of `size` bytes written and read back whole.
fn passes(size: usize, buf: &mut [u8]) -> bool {
    let mut sv = [0 as libc::c_int; 2];
    // SAFETY: valid out-array of two descriptors.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
            sv.as_mut_ptr(),
        )
    } != 0
    {
        return false;
    }
    // SAFETY: we own both fresh descriptors.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) };
    let want = u32::try_from(size).unwrap_or(u32::MAX);
    if sock::raise_buffers(a.as_raw_fd(), want).is_err()
        || sock::raise_buffers(b.as_raw_fd(), want).is_err()
    {
        return false;
    }
    let Some(buf) = buf.get_mut(..size) else {
        return false;
    };
    let (mut wrote, mut read) = (false, false);
    // A few tries absorb EAGAIN/EINTR, as libqb does.
    for _ in 0..3 {
        if !wrote {
            // SAFETY: buffer of `size` bytes.
            let rc = unsafe { libc::write(b.as_raw_fd(), buf.as_ptr().cast(), size) };
            if rc < 0 && matches!(sock::errno(), libc::EAGAIN | libc::EINTR) {
                continue;
            }
            if rc as usize != size || rc < 0 {
                return false;
            }
            wrote = true;
        }
        if !read {
            // SAFETY: buffer of `size` bytes.
            let rc = unsafe { libc::read(a.as_raw_fd(), buf.as_mut_ptr().cast(), size) };
            if rc < 0 && matches!(sock::errno(), libc::EAGAIN | libc::EINTR) {
                continue;
            }
            if rc as usize != size || rc < 0 {
                return false;
            }
            read = true;
        }
        if wrote && read {
            return true;
        }
    }
    false
}

/// `max` if a datagram that big works; otherwise the largest working size
/// found by stepping up from 2048 and halving the step on failure (down to a
/// 512-byte step), or -1 if none works.
pub fn verify_dgram_max_msg_size(max: usize) -> i32 {
    let mut buf = Vec::new();
    if buf.try_reserve_exact(max).is_err() {
        return -1;
    }
    buf.resize(max, 0);
    if passes(max, &mut buf) {
        return i32::try_from(max).unwrap_or(-1);
    }
    let mut last: i64 = -1;
    let mut inc: usize = 2048;
    let mut i = inc;
    while i < max {
        if passes(i, &mut buf) {
            last = i as i64;
        } else if inc >= 512 {
            i -= inc;
            inc /= 2;
        } else {
            break;
        }
        i += inc;
    }
    i32::try_from(last).unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sizes_pass_as_asked() {
        assert_eq!(verify_dgram_max_msg_size(4096), 4096);
    }

    #[test]
    fn too_large_sizes_settle_below_the_request() {
        let got = verify_dgram_max_msg_size(8 << 20);
        assert!(got > 0 && (got as usize) < (8 << 20), "{got}");
        assert_eq!(got % 256, 0);
    }
}
