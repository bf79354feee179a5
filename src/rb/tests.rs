//! Ring tests on real /dev/shm files, including a peer that corrupts every
//! shared field we read.

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};

use libc::{EAGAIN, EBADMSG, EINVAL, ENOBUFS, ENOENT, ENOTSUP, ETIMEDOUT};

use super::shared_header::{OFF_DATA_PATH, OFF_HDR_PATH, OFF_READ_PT, OFF_WORD_SIZE, OFF_WRITE_PT};
use super::*;

fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "rbtest-{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn exists(path: &str) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

fn create(tag: &str, size: usize, flags: u32) -> (String, RingBuffer) {
    let name = unique(tag);
    let rb = RingBuffer::open(name.as_bytes(), size, FLAG_CREATE | flags, 0).expect("create");
    (name, rb)
}

/// Writes a u32 into the peer-visible header, as a hostile peer would.
fn poke_header(rb: &RingBuffer, off: usize, v: u32) {
    // SAFETY: test-only write to a 4-aligned field of our own header mapping.
    unsafe { AtomicU32::from_ptr(rb._hdr_map.base().as_ptr().add(off).cast()) }
        .store(v, Ordering::SeqCst);
}

/// Writes a u32 at word `idx` of the data area.
fn poke_data(rb: &RingBuffer, idx: u32, v: u32) {
    assert!(idx < rb.geo.words());
    // SAFETY: in-range word of our own data mapping.
    unsafe { AtomicU32::from_ptr(rb._data_map.base().as_ptr().cast::<u32>().add(idx as usize)) }
        .store(v, Ordering::SeqCst);
}

fn peek_data(rb: &RingBuffer, idx: u32) -> u32 {
    // SAFETY: in-range word of our own data mapping.
    unsafe { AtomicU32::from_ptr(rb._data_map.base().as_ptr().cast::<u32>().add(idx as usize)) }
        .load(Ordering::SeqCst)
}

#[test]
fn create_open_close_lifecycle() {
    let (name, rb) = create("life", 200, FLAG_SHARED_PROCESS);
    let hdr = format!("/dev/shm/qb-{name}-header");
    let data = format!("/dev/shm/qb-{name}-data");
    assert_eq!(rb.name().to_str().unwrap(), hdr);
    assert_eq!(std::fs::metadata(&data).unwrap().len(), 4096);
    assert_eq!(std::fs::metadata(&hdr).unwrap().len(), HEADER_SIZE as u64);
    // A second create of the same name falls back to /tmp, as libqb does,
    // without touching the first ring.
    let second = RingBuffer::open(name.as_bytes(), 200, FLAG_CREATE, 0).unwrap();
    assert_eq!(
        second.name().to_str().unwrap(),
        format!("/tmp/{name}-header")
    );
    drop(second);
    assert!(!exists(&format!("/tmp/{name}-header")));
    let peer = RingBuffer::open(name.as_bytes(), 200, FLAG_SHARED_PROCESS, 0).unwrap();
    assert_eq!(rb.refcount(), Ok(2));
    assert_eq!(peer.write(b"hello").unwrap(), 5);
    let mut buf = [0u8; 16];
    assert_eq!(rb.read(&mut buf, 0).unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
    drop(peer);
    assert_eq!(rb.refcount(), Ok(1));
    assert!(exists(&hdr) && exists(&data));
    drop(rb);
    assert!(!exists(&hdr) && !exists(&data));
}

#[test]
fn fresh_ring_has_libqb_contents() {
    let (_, rb) = create("fresh", 100, 0);
    assert_eq!(rb.header.word_size(), Ok(1024));
    assert_eq!(peek_data(&rb, 0), 5);
    assert_eq!(rb.space_free().unwrap(), 4096);
    assert_eq!(rb.space_used().unwrap(), 0);
    assert_eq!(rb.chunks_used().unwrap(), 0);
}

#[test]
fn opening_a_missing_ring_fails() {
    let name = unique("missing");
    assert_eq!(
        RingBuffer::open(name.as_bytes(), 100, 0, 0).err(),
        Some(ENOENT)
    );
}

#[test]
fn chunk_format_on_the_wire() {
    let (_, rb) = create("wire", 100, 0);
    let p = rb.alloc(10).unwrap();
    assert_eq!(peek_data(&rb, 1), MAGIC_ALLOC);
    // SAFETY: alloc reserved 10 bytes.
    unsafe { std::ptr::copy_nonoverlapping(b"0123456789".as_ptr(), p.as_ptr(), 10) };
    rb.commit(10).unwrap();
    assert_eq!(peek_data(&rb, 0), 10);
    assert_eq!(peek_data(&rb, 1), MAGIC_COMMITTED);
    assert_eq!(rb.header.write_pt(), Ok(5));
    assert_eq!(rb.space_used().unwrap(), 20);
    let (q, len) = rb.peek(0).unwrap().unwrap();
    assert_eq!((q, len), (p, 10));
    rb.reclaim().unwrap();
    assert_eq!(peek_data(&rb, 0), 0);
    assert_eq!(peek_data(&rb, 1), MAGIC_DEAD);
    assert_eq!(rb.header.read_pt(), Ok(5));
    assert_eq!(rb.reclaim(), Err(EINVAL));
}

#[test]
fn full_ring_and_small_buffers() {
    let (_, rb) = create("full", 100, 0);
    let chunk = [7u8; 1000];
    let mut n = 0;
    while rb.write(&chunk).is_ok() {
        n += 1;
    }
    assert_eq!(n, 4);
    assert_eq!(rb.write(&chunk), Err(EAGAIN));
    assert_eq!(rb.alloc(5000).err(), Some(EAGAIN));
    let mut small = [0u8; 10];
    assert_eq!(rb.read(&mut small, 0), Err(ENOBUFS));
    let mut big = [0u8; 1000];
    assert_eq!(rb.read(&mut big, 0), Ok(1000));
    assert_eq!(rb.chunks_used().unwrap(), 3);
}

#[test]
fn commit_longer_than_the_room_is_refused() {
    let (_, rb) = create("commit", 100, 0);
    rb.alloc(8).unwrap();
    assert_eq!(rb.commit(4096), Err(EINVAL));
    assert_eq!(rb.header.write_pt(), Ok(0));
}

#[test]
fn overwrite_drops_the_oldest() {
    let (_, rb) = create("ow", 100, FLAG_OVERWRITE);
    for i in 0..5000u32 {
        rb.write(&i.to_ne_bytes()).unwrap();
    }
    let mut buf = [0u8; 4];
    let mut last = None;
    while let Ok(4) = rb.read(&mut buf, 0) {
        let v = u32::from_ne_bytes(buf);
        if let Some(l) = last {
            assert_eq!(v, l + 1);
        }
        last = Some(v);
    }
    assert_eq!(last, Some(4999));
    assert_eq!(rb.alloc(1 << 20).err(), Some(EINVAL));
}

#[test]
fn no_semaphore_mode() {
    let (_, rb) = create("nosem", 100, FLAG_NO_SEMAPHORE);
    let mut buf = [0u8; 8];
    assert_eq!(rb.read(&mut buf, 0), Err(ETIMEDOUT));
    assert_eq!(rb.read(&mut buf, -1), Err(ETIMEDOUT));
    assert_eq!(rb.peek(0).err(), Some(EBADMSG));
    assert_eq!(rb.chunks_used(), Err(ENOTSUP));
    rb.write(b"abc").unwrap();
    assert_eq!(rb.read(&mut buf, 100), Ok(3));
}

#[test]
fn semaphore_timeouts() {
    let (_, rb) = create("semto", 100, FLAG_SHARED_PROCESS);
    let mut buf = [0u8; 8];
    assert_eq!(rb.read(&mut buf, 0), Err(ETIMEDOUT));
    assert_eq!(rb.read(&mut buf, 20), Err(ETIMEDOUT));
    assert_eq!(rb.peek(10).unwrap(), None);
}

#[test]
fn corrupt_positions_are_bad_messages() {
    let (_, rb) = create("pos", 100, 0);
    rb.write(b"payload").unwrap();
    let mut buf = [0u8; 64];
    poke_header(&rb, OFF_READ_PT, 1024);
    assert_eq!(rb.read(&mut buf, 0), Err(EBADMSG));
    assert_eq!(rb.space_free(), Err(EBADMSG));
    assert_eq!(rb.reclaim(), Err(EBADMSG));
    poke_header(&rb, OFF_READ_PT, u32::MAX);
    assert_eq!(rb.peek(0).err(), Some(EBADMSG));
    poke_header(&rb, OFF_READ_PT, 0);
    poke_header(&rb, OFF_WRITE_PT, 0x4000_0000);
    assert_eq!(rb.write(b"x"), Err(EBADMSG));
    assert_eq!(rb.alloc(1).err(), Some(EBADMSG));
    assert_eq!(rb.read(&mut buf, 0), Err(EBADMSG));
    assert_eq!(rb.space_used(), Err(EBADMSG));
    // Repaired, the chunk is still there: failures gave the semaphore back.
    poke_header(&rb, OFF_WRITE_PT, 4);
    assert_eq!(rb.read(&mut buf, 0), Ok(7));
}

#[test]
fn corrupt_lengths_and_magics_are_bad_messages() {
    let (_, rb) = create("len", 100, 0);
    rb.write(b"12345678").unwrap();
    let mut buf = vec![0u8; 1 << 20];
    for bad in [9, 4096, 0x7fff_ffff, u32::MAX] {
        poke_data(&rb, 0, bad);
        assert_eq!(rb.read(&mut buf, 0), Err(EBADMSG), "len {bad}");
        assert_eq!(rb.peek(0).err(), Some(EBADMSG));
    }
    poke_data(&rb, 0, 8);
    for magic in [MAGIC_ALLOC, MAGIC_DEAD, 0x1234_5678] {
        poke_data(&rb, 1, magic);
        assert_eq!(rb.read(&mut buf, 0), Err(EBADMSG));
    }
    poke_data(&rb, 1, MAGIC_COMMITTED);
    assert_eq!(rb.read(&mut buf, 0), Ok(8));
}

#[test]
fn empty_ring_with_stale_committed_magic_is_not_read() {
    let (_, rb) = create("stale", 100, FLAG_NO_SEMAPHORE);
    // Looks like a chunk, but the write position says nothing was written.
    poke_data(&rb, 0, 4);
    poke_data(&rb, 1, MAGIC_COMMITTED);
    let mut buf = [0u8; 8];
    assert_eq!(rb.read(&mut buf, 0), Err(EBADMSG));
}

#[test]
fn corrupt_word_size_does_not_change_our_geometry() {
    let (name, rb) = create("ws", 100, FLAG_SHARED_PROCESS);
    for bad in [0, 1, 4096, u32::MAX] {
        poke_header(&rb, OFF_WORD_SIZE, bad);
        rb.write(b"abcd").unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(rb.read(&mut buf, 0), Ok(4));
        // Nobody can attach to a ring whose header disagrees with its file.
        assert_eq!(
            RingBuffer::open(name.as_bytes(), 100, FLAG_SHARED_PROCESS, 0).err(),
            Some(EINVAL)
        );
    }
    assert_eq!(rb.geometry().words(), 1024);
}

#[test]
fn attach_checks_file_sizes() {
    let (name, rb) = create("trunc", 100, FLAG_SHARED_PROCESS);
    let data = format!("/dev/shm/qb-{name}-data");
    // Asking for more than the ring holds.
    assert_eq!(
        RingBuffer::open(name.as_bytes(), 8192, FLAG_SHARED_PROCESS, 0).err(),
        Some(EINVAL)
    );
    let f = std::fs::OpenOptions::new().write(true).open(&data).unwrap();
    f.set_len(100).unwrap();
    assert_eq!(
        RingBuffer::open(name.as_bytes(), 100, FLAG_SHARED_PROCESS, 0).err(),
        Some(EINVAL)
    );
    f.set_len(4096).unwrap();
    drop(rb);
}

#[test]
fn peer_written_paths_are_never_unlinked() {
    let canary = format!("/tmp/rbtest-canary-{}", std::process::id());
    std::fs::write(&canary, b"keep").unwrap();
    let (name, rb) = create("paths", 100, 0);
    let bogus = CString::new(canary.clone()).unwrap();
    rb.header.set_path(OFF_HDR_PATH, bogus.as_bytes()).unwrap();
    rb.header.set_path(OFF_DATA_PATH, bogus.as_bytes()).unwrap();
    // No terminator inside the field either.
    // SAFETY: test-only write inside the data_path field of our mapping.
    unsafe { std::ptr::write_bytes(rb._hdr_map.base().as_ptr().add(OFF_DATA_PATH), b'/', 4096) };
    drop(rb);
    assert!(exists(&canary));
    assert!(!exists(&format!("/dev/shm/qb-{name}-header")));
    assert!(!exists(&format!("/dev/shm/qb-{name}-data")));
    std::fs::remove_file(&canary).unwrap();
}

#[test]
fn opener_never_unlinks() {
    let (name, rb) = create("opener", 100, FLAG_SHARED_PROCESS);
    drop(RingBuffer::open(name.as_bytes(), 100, FLAG_SHARED_PROCESS, 0).unwrap());
    assert!(exists(&format!("/dev/shm/qb-{name}-header")));
    drop(rb);
}

#[test]
fn replaced_files_are_left_alone() {
    let (name, rb) = create("replaced", 100, 0);
    let hdr = format!("/dev/shm/qb-{name}-header");
    std::fs::remove_file(&hdr).unwrap();
    std::fs::write(&hdr, b"someone else's").unwrap();
    assert_eq!(rb.chmod(0o640), Err(libc::ESTALE));
    drop(rb);
    assert!(exists(&hdr));
    std::fs::remove_file(&hdr).unwrap();
}

#[test]
fn chmod_and_chown_apply_to_both_files() {
    use std::os::unix::fs::PermissionsExt;
    let (name, rb) = create("mode", 100, 0);
    rb.chmod(0o640).unwrap();
    for s in ["header", "data"] {
        let m = std::fs::metadata(format!("/dev/shm/qb-{name}-{s}")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o640);
    }
    // SAFETY: trivial libc getters.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    rb.chown(uid, gid).unwrap();
}

#[test]
fn user_data_is_shared() {
    let name = unique("ud");
    let rb = RingBuffer::open(name.as_bytes(), 100, FLAG_CREATE | FLAG_SHARED_PROCESS, 8).unwrap();
    let peer = RingBuffer::open(name.as_bytes(), 100, FLAG_SHARED_PROCESS, 8).unwrap();
    rb.user_data_store_u32(4, 7).unwrap();
    assert_eq!(peer.user_data_load_u32(4), Ok(7));
    assert_eq!(rb.user_data_load_u32(6), Err(EINVAL));
    assert_eq!(rb.user_data_load_u32(8), Err(EINVAL));
    peer.write_user_data(0, b"ab").unwrap();
    let mut out = [0u8; 2];
    rb.read_user_data(0, &mut out).unwrap();
    assert_eq!(&out, b"ab");
    assert_eq!(rb.read_user_data(7, &mut out), Err(EINVAL));
}

#[test]
fn dump_and_reload() {
    let (_, rb) = create("dump", 100, FLAG_OVERWRITE);
    for i in 0..300u32 {
        rb.write(&i.to_ne_bytes()).unwrap();
    }
    let path = format!("/tmp/rbtest-dump-{}", std::process::id());
    let f = std::fs::File::create(&path).unwrap();
    assert_eq!(rb.write_to_file(f.as_raw_fd()), Ok(20 + 4096));
    drop(f);
    let f = std::fs::File::open(&path).unwrap();
    let copy = RingBuffer::create_from_file(f.as_raw_fd()).unwrap();
    assert_eq!(copy.header.read_pt(), rb.header.read_pt());
    let mut a = [0u8; 4];
    let mut b = [0u8; 4];
    loop {
        match (rb.read(&mut a, 0), copy.read(&mut b, 0)) {
            (Ok(4), Ok(4)) => assert_eq!(a, b),
            (Err(_), Err(ETIMEDOUT)) => break,
            other => panic!("{other:?}"),
        }
    }
    drop(f);
    // A corrupted dump is refused.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let f = std::fs::File::open(&path).unwrap();
    assert_eq!(
        RingBuffer::create_from_file(f.as_raw_fd()).err(),
        Some(EINVAL)
    );
    // A truncated one too.
    bytes[0] ^= 0x40;
    std::fs::write(&path, &bytes[..1000]).unwrap();
    let f = std::fs::File::open(&path).unwrap();
    assert_eq!(
        RingBuffer::create_from_file(f.as_raw_fd()).err(),
        Some(EINVAL)
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn absolute_names_are_used_as_given() {
    let dir = format!("/tmp/rbtest-dir-{}", std::process::id());
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("{dir}/ring");
    let rb = RingBuffer::open(name.as_bytes(), 10, FLAG_CREATE, 0).unwrap();
    assert!(exists(&format!("{name}-header")) && exists(&format!("{name}-data")));
    drop(rb);
    assert!(!exists(&format!("{name}-header")));
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn symlinks_are_not_followed() {
    let name = unique("sym");
    let target = format!("/tmp/rbtest-symtarget-{}", std::process::id());
    std::fs::write(&target, b"x").unwrap();
    let link = format!("/dev/shm/qb-{name}-header");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    // Open refuses the link; create does not write through it (it falls back).
    assert!(RingBuffer::open(name.as_bytes(), 10, 0, 0).is_err());
    let rb = RingBuffer::open(name.as_bytes(), 10, FLAG_CREATE, 0).unwrap();
    assert_eq!(rb.name().to_str().unwrap(), format!("/tmp/{name}-header"));
    assert_eq!(std::fs::read(&target).unwrap(), b"x");
    drop(rb);
    std::fs::remove_file(&link).unwrap();
    std::fs::remove_file(&target).unwrap();
}

#[test]
fn writer_and_reader_threads() {
    let (_, rb) = create("threads", 4096, FLAG_SHARED_PROCESS);
    let rb = std::sync::Arc::new(rb);
    let w = rb.clone();
    let t = std::thread::spawn(move || {
        for i in 0..20000u32 {
            let v = i.to_ne_bytes();
            while w.write(&v) == Err(EAGAIN) {
                std::thread::yield_now();
            }
        }
    });
    let mut buf = [0u8; 4];
    for i in 0..20000u32 {
        assert_eq!(rb.read(&mut buf, -1), Ok(4));
        assert_eq!(u32::from_ne_bytes(buf), i);
    }
    t.join().unwrap();
}

#[test]
fn truncated_files_give_errors_not_sigbus() {
    for (which, len) in [
        ("data", 0u64),
        ("data", 2048),
        ("header", 0),
        ("header", 4096),
    ] {
        let (name, rb) = create("cut", 4096, FLAG_SHARED_PROCESS);
        let chunk = [9u8; 1000];
        for _ in 0..5 {
            rb.write(&chunk).unwrap();
            let mut b = [0u8; 1000];
            rb.read(&mut b, 0).unwrap();
        }
        rb.write(&chunk).unwrap();
        rb.write(&chunk).unwrap();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/dev/shm/qb-{name}-{which}"))
            .unwrap();
        f.set_len(len).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        for _ in 0..4 {
            match rb.read(&mut buf, 0) {
                Ok(n) => assert!(n <= 1000),
                Err(e) => assert!(e > 0),
            }
            let _ = rb.peek(0);
            let _ = rb.space_free();
            let _ = rb.space_used();
            let _ = rb.chunks_used();
            let _ = rb.write(&chunk);
            let _ = rb.refcount();
            let _ = rb.read_user_data(0, &mut []);
        }
        drop(rb);
        assert!(!exists(&format!("/dev/shm/qb-{name}-header")));
    }
}
