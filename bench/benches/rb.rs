//! In-process write+read and alloc+peek of libqb-rs's ring buffer, the same
//! shape as the qbperf `rb.write_read.*` / `rb.alloc_peek.*` rows: one ring
//! (4 MiB, process-shared semaphore) in /dev/shm, one chunk written then read
//! back per iteration.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use qb::rb::{FLAG_CREATE, FLAG_SHARED_PROCESS, RingBuffer};

fn open_ring(tag: &str) -> RingBuffer {
    let name = format!("rsbench-{}-{tag}", std::process::id());
    RingBuffer::open(
        name.as_bytes(),
        4 << 20,
        FLAG_CREATE | FLAG_SHARED_PROCESS,
        0,
    )
    .expect("create ring")
}

fn write_read(c: &mut Criterion) {
    let rb = open_ring("wr");
    let src = vec![b'x'; 1 << 16];
    let mut dst = vec![0u8; 1 << 16];
    let mut g = c.benchmark_group("rb.write_read");
    for size in [64usize, 4096, 65536] {
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
            b.iter(|| {
                assert_eq!(rb.write(&src[..size]), Ok(size));
                assert_eq!(rb.read(&mut dst, 0), Ok(size));
            })
        });
    }
    g.finish();
}

fn alloc_peek(c: &mut Criterion) {
    let rb = open_ring("ap");
    let src = vec![b'x'; 4096];
    let mut g = c.benchmark_group("rb.alloc_peek");
    for size in [64usize, 4096] {
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
            b.iter(|| {
                let p = rb.alloc(size).expect("alloc");
                // SAFETY: alloc reserved `size` bytes at p.
                unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), p.as_ptr(), size) };
                rb.commit(size).expect("commit");
                let (q, len) = rb.peek(0).expect("peek").expect("a chunk");
                assert_eq!(len, size);
                // SAFETY: peek returned a chunk of `len` bytes at q.
                std::hint::black_box(unsafe { q.as_ptr().add(len - 1).read_volatile() });
                rb.reclaim().expect("reclaim");
            })
        });
    }
    g.finish();
}

criterion_group!(benches, write_read, alloc_peek);
criterion_main!(benches);
