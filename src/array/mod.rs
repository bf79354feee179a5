//! `qb_array`: a growable array of fixed-size, zero-filled elements whose
//! addresses never move.
//!
//! Elements live in "bins" of [`ELEMS_PER_BIN`] elements each. A bin is allocated
//! the first time one of its elements is indexed and is never moved or freed before
//! the array itself, so a pointer handed to C stays valid across [`Array::grow`].
//! Only the table of bin pointers is reallocated when the array grows.
//!
//! The element bytes belong to C: Rust never reads or writes them after zeroing a
//! new bin, it only hands out their addresses (that is why bins are made of
//! `UnsafeCell`s).

use std::cell::UnsafeCell;
use std::sync::{Mutex, MutexGuard};

/// `QB_ARRAY_MAX_INDEX_BITS`: an index has at most this many significant bits.
pub const MAX_INDEX_BITS: u32 = 16;
/// `QB_ARRAY_MAX_ELEMENTS`: the largest `max_elements` an array accepts.
pub const MAX_ELEMENTS: usize = 1 << MAX_INDEX_BITS;

/// The low index bits select the element inside a bin; the rest select the bin.
const ELEM_BITS: u32 = 4;
/// Elements per bin (`qb_array_elems_per_bin_get`).
pub const ELEMS_PER_BIN: usize = 1 << ELEM_BITS;
/// The most bins an array can address.
const MAX_BINS: usize = 1 << (MAX_INDEX_BITS - ELEM_BITS);

/// Called (without any lock held) right after a bin was allocated, with the array
/// (as the C caller knows it) and the number of the new bin. Kept as a raw C
/// function pointer because it is the caller's code.
pub type NewBinCallback = unsafe extern "C" fn(*mut Array, u32);

/// A 16-byte, 16-aligned unit of bin storage: elements get malloc's alignment.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Chunk([u8; 16]);

/// One bin: `ELEMS_PER_BIN * element_size` zeroed bytes owned by C code.
type Bin = Box<[UnsafeCell<Chunk>]>;

struct Layout {
    /// Indices below this are valid (without autogrow).
    max_elements: usize,
    /// Bin table; `None` until the bin is first used.
    bins: Vec<Option<Bin>>,
    new_bin_cb: Option<NewBinCallback>,
}

/// The result of [`Array::index`].
pub struct Indexed {
    /// Address of the element (`element_size` bytes, stable for the array's life).
    pub element: *mut u8,
    /// Set when this call allocated a bin and a callback is installed: the caller
    /// must invoke it (no lock is held by then).
    pub new_bin: Option<(u32, NewBinCallback)>,
}

/// A `qb_array_t`.
pub struct Array {
    element_size: usize,
    /// How far `index` may grow the array past `max_elements` (0 = never).
    autogrow: usize,
    layout: Mutex<Layout>,
}

/// Bins needed to cover `max_elements` (libqb's sizing rule, one spare bin).
fn bins_for(max_elements: usize) -> usize {
    (max_elements / ELEMS_PER_BIN + 1).min(MAX_BINS)
}

/// Grows `bins` to `len` empty entries without aborting on allocation failure.
fn extend_bins(bins: &mut Vec<Option<Bin>>, len: usize) -> Result<(), i32> {
    if len > bins.len() {
        bins.try_reserve_exact(len - bins.len())
            .map_err(|_| libc::ENOMEM)?;
        bins.resize_with(len, || None);
    }
    Ok(())
}

/// A bin of `chunks` zeroed chunks, or ENOMEM. Zeroed by the allocator (calloc):
/// a large bin's pages are only made resident when C touches them, as in libqb.
fn zeroed_bin(chunks: usize) -> Result<Bin, i32> {
    let layout =
        std::alloc::Layout::array::<UnsafeCell<Chunk>>(chunks).map_err(|_| libc::ENOMEM)?;
    if layout.size() == 0 {
        return Ok(Box::default());
    }
    // SAFETY: the layout has a non-zero size.
    let data = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<UnsafeCell<Chunk>>();
    if data.is_null() {
        return Err(libc::ENOMEM);
    }
    // SAFETY: `data` was allocated by the global allocator with the layout of a
    // `[UnsafeCell<Chunk>; chunks]`, and all-zero bytes are a valid `Chunk`.
    Ok(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(data, chunks)) })
}

impl Array {
    /// `qb_array_create_2`: room for `max_elements` elements of `element_size`
    /// bytes; `index` beyond that grows the array when `autogrow` is non-zero.
    pub fn new(max_elements: usize, element_size: usize, autogrow: usize) -> Result<Self, i32> {
        if max_elements > MAX_ELEMENTS || element_size == 0 || autogrow > ELEMS_PER_BIN {
            return Err(libc::EINVAL);
        }
        let mut bins = Vec::new();
        extend_bins(&mut bins, bins_for(max_elements))?;
        Ok(Array {
            element_size,
            autogrow,
            layout: Mutex::new(Layout {
                max_elements,
                bins,
                new_bin_cb: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Layout> {
        // A panic aborts the process, so a poisoned lock cannot be observed; be
        // lenient anyway rather than panic.
        self.layout.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `qb_array_index`: the address of element `idx`, allocating its bin (zeroed)
    /// on first use. `ERANGE` for a negative or out-of-range index.
    pub fn index(&self, idx: i32) -> Result<Indexed, i32> {
        let idx = usize::try_from(idx).map_err(|_| libc::ERANGE)?;
        let needs_grow = idx >= self.lock().max_elements;
        if needs_grow {
            if self.autogrow == 0 {
                return Err(libc::ERANGE);
            }
            self.grow(idx + 1)?;
        }
        let bin_no = idx >> ELEM_BITS;
        let elem = idx & (ELEMS_PER_BIN - 1);
        let bin_bytes = self
            .element_size
            .checked_mul(ELEMS_PER_BIN)
            .ok_or(libc::ENOMEM)?;

        let mut layout = self.lock();
        extend_bins(&mut layout.bins, bin_no + 1)?;
        let mut allocated = false;
        let slot = layout.bins.get_mut(bin_no).ok_or(libc::ERANGE)?;
        if slot.is_none() {
            *slot = Some(zeroed_bin(bin_bytes / std::mem::size_of::<Chunk>())?);
            allocated = true;
        }
        let base = match slot {
            Some(bin) => UnsafeCell::raw_get(bin.as_ptr()).cast::<u8>(),
            None => return Err(libc::ENOMEM),
        };
        // elem < ELEMS_PER_BIN, so the offset stays inside the bin.
        let element = base.wrapping_add(elem * self.element_size);
        let new_bin = match (allocated, layout.new_bin_cb) {
            // bin_no < MAX_BINS, so it fits.
            (true, Some(cb)) => Some((bin_no as u32, cb)),
            _ => None,
        };
        Ok(Indexed { element, new_bin })
    }

    /// `qb_array_grow`: makes indices below `max_elements` valid (never shrinks).
    pub fn grow(&self, max_elements: usize) -> Result<(), i32> {
        if max_elements > MAX_ELEMENTS {
            return Err(libc::EINVAL);
        }
        let mut layout = self.lock();
        if max_elements <= layout.max_elements {
            return Ok(());
        }
        layout.max_elements = max_elements;
        let wanted = bins_for(max_elements);
        if wanted > layout.bins.len() {
            // libqb reserves one bin more than the sizing rule asks for here;
            // kept so `num_bins` reports the same numbers.
            extend_bins(&mut layout.bins, wanted + 1)?;
        }
        Ok(())
    }

    /// `qb_array_num_bins_get`: entries in the bin table (allocated or not).
    pub fn num_bins(&self) -> usize {
        self.lock().bins.len()
    }

    /// `qb_array_elems_per_bin_get`.
    pub fn elems_per_bin(&self) -> usize {
        ELEMS_PER_BIN
    }

    /// `qb_array_new_bin_cb_set` (`None` removes the callback).
    pub fn set_new_bin_callback(&self, cb: Option<NewBinCallback>) {
        self.lock().new_bin_cb = cb;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_sizes() {
        assert_eq!(Array::new(MAX_ELEMENTS + 1, 4, 0).err(), Some(libc::EINVAL));
        assert_eq!(Array::new(10, 0, 0).err(), Some(libc::EINVAL));
        assert_eq!(
            Array::new(10, 4, ELEMS_PER_BIN + 1).err(),
            Some(libc::EINVAL)
        );
        assert!(Array::new(MAX_ELEMENTS, 4, ELEMS_PER_BIN).is_ok());
    }

    #[test]
    fn index_range_and_zeroed_elements() {
        let a = Array::new(10, 24, 0).unwrap();
        assert_eq!(a.index(10).err(), Some(libc::ERANGE));
        assert_eq!(a.index(-1).err(), Some(libc::ERANGE));
        for i in 0..10 {
            let e = a.index(i).unwrap().element;
            // SAFETY: element is 24 valid bytes owned by this test.
            let bytes = unsafe { std::slice::from_raw_parts(e, 24) };
            assert!(bytes.iter().all(|&b| b == 0));
        }
        let e0 = a.index(0).unwrap().element;
        assert_eq!(e0 as usize % 16, 0, "bins are 16-byte aligned");
        let e1 = a.index(1).unwrap().element;
        assert_eq!(e1 as usize - e0 as usize, 24);
    }

    #[test]
    fn impossible_bins_are_enomem() {
        for size in [usize::MAX, usize::MAX / 4, usize::MAX / 32] {
            let a = Array::new(4, size, 0).unwrap();
            assert_eq!(a.index(0).err(), Some(libc::ENOMEM), "element size {size}");
        }
    }

    #[test]
    fn addresses_survive_grow() {
        let a = Array::new(112, 8, 0).unwrap();
        let before = a.index(99).unwrap().element;
        a.grow(1453).unwrap();
        assert!(a.index(1452).is_ok());
        assert_eq!(a.index(1453).err(), Some(libc::ERANGE));
        assert_eq!(a.index(99).unwrap().element, before);
        assert_eq!(a.grow(MAX_ELEMENTS + 1).err(), Some(libc::EINVAL));
        a.grow(MAX_ELEMENTS).unwrap();
        assert!(a.index((MAX_ELEMENTS - 1) as i32).is_ok());
        assert_eq!(a.index(MAX_ELEMENTS as i32).err(), Some(libc::ERANGE));
    }

    #[test]
    fn bin_counts_follow_libqb() {
        let a = Array::new(10, 4, 0).unwrap();
        assert_eq!(a.num_bins(), 1);
        a.grow(100).unwrap();
        assert_eq!(a.num_bins(), 8);
        let b = Array::new(MAX_ELEMENTS, 4, 0).unwrap();
        assert_eq!(b.num_bins(), MAX_BINS);
    }

    #[test]
    fn autogrow_extends_and_reports_new_bins() {
        unsafe extern "C" fn cb(_: *mut Array, _: u32) {}
        let a = Array::new(4, 4, 4).unwrap();
        a.set_new_bin_callback(Some(cb));
        let first = a.index(0).unwrap();
        assert_eq!(first.new_bin.map(|(b, _)| b), Some(0));
        assert!(a.index(1).unwrap().new_bin.is_none());
        let far = a.index(40).unwrap();
        assert_eq!(far.new_bin.map(|(b, _)| b), Some(2));
        assert_eq!(a.index(MAX_ELEMENTS as i32).err(), Some(libc::EINVAL));
    }
}
