//! The HEIF container parser and item rules: `imaging::heif::layout`, no decoding.
//!
//! Oracle: no panic; the heap memory live at the peak stays within 64 KiB plus 16 bytes per input
//! byte (nothing is allocated from a declared count); and a layout it accepts keeps the rules it
//! claims: at most `MAX_TILES` tiles, `rows` x `columns` of them, each referenced once, covering the
//! output size with no wholly-unused row or column, an alpha plane of the image's size, and the
//! data of every tile stored in the file lying inside the input.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use image_upload::imaging::heif::layout;
use libfuzzer_sys::fuzz_target;

struct PeakTracking;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counters only observe.
unsafe impl GlobalAlloc for PeakTracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's obligations are passed on as they are.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: PeakTracking = PeakTracking;

/// The most tiles a grid may have (`imaging::heif`'s `MAX_TILES`).
const MAX_TILES: usize = 1024;

fuzz_target!(|data: &[u8]| {
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = layout(data);
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert!(
        peak <= 64 * 1024 + 16 * data.len(),
        "{peak} bytes at the peak for {} input bytes",
        data.len()
    );
    let Ok(found) = result else { return };
    let count = found.tile_ids.len();
    assert!(count <= MAX_TILES);
    assert_eq!(
        count as u64,
        u64::from(found.rows) * u64::from(found.columns)
    );
    for (i, id) in found.tile_ids.iter().enumerate() {
        assert!(!found.tile_ids[..i].contains(id), "tile {id} twice");
    }
    let covers = |tile: u32, n: u32, side: u32| {
        let (tile, n, side) = (u64::from(tile), u64::from(n), u64::from(side));
        side > 0 && tile * n >= side && tile * (n - 1) < side
    };
    assert!(
        covers(found.tile_width, found.columns, found.width),
        "{found:?}"
    );
    assert!(
        covers(found.tile_height, found.rows, found.height),
        "{found:?}"
    );
    if let Some(alpha) = found.alpha {
        assert_eq!(alpha, (found.width, found.height));
    }
    for (start, end) in found.tile_data.iter().flatten() {
        assert!(
            start <= end && *end <= data.len(),
            "tile data {start}..{end} outside the input"
        );
    }
});
