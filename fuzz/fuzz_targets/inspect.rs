//! The processor's whole check: `imaging::inspect` for every declared type, under small explicit
//! limits, with the stated memory budget asserted.
//!
//! Each input is inspected as each type (most of them stop at the sniff), and with two rendition
//! sets: an 8 px thumbnail, so that even the 64 x 48 fixtures take the 1/8-scale DC path, and that
//! thumbnail with a 64 px rendition made first, so that images narrower than 512 px take
//! `jpeg-decoder`'s scaled fallback and the thumbnail is resized from the larger rendition.
//!
//! Oracle: only the sniffed type can pass (for a HEIF file, any HEIF type: the coding of its
//! primary image decides, so those may also be `TypeMismatch`), and every other is
//! `TypeMismatch`; an accepted image
//! is within the limits (either way up), and each rendition is a JPEG of exactly
//! `thumbnail_dimensions` of it for the rendition's side; and the peak of live heap memory during one `inspect` stays within
//! `ProcessingPolicy::memory_budget(max_pixels)` (4 bytes a pixel + 64 MiB).

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use image_upload::domain::{
    ImageType, ProcessingPolicy, RejectionReason, RenditionName, RenditionSpec, Renditions,
};
use image_upload::imaging::{inspect, sniff, thumbnail_dimensions};
use libfuzzer_sys::fuzz_target;

/// Counts live heap bytes and their high-water mark. libFuzzer's own buffers (the input included)
/// come from C++ `malloc` and are not counted; every Rust allocation, on any thread, is.
struct PeakTracking;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrank(by: usize) {
    LIVE.fetch_sub(by, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters only observe,
// and only successful allocations are counted.
unsafe impl GlobalAlloc for PeakTracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's obligations are passed on as they are.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // Counted as the old block and the new one both live: a moving realloc holds both.
            grew(new_size);
            shrank(layout.size());
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: PeakTracking = PeakTracking;

/// Small limits: 1 MP at most, so a budget overrun is a real overrun, not a large legal image.
fn policy(renditions: Renditions) -> ProcessingPolicy {
    ProcessingPolicy {
        max_bytes: 1024 * 1024,
        max_width: 1024,
        max_height: 1024,
        max_pixels: 1_000_000,
        renditions,
    }
}

/// A thumbnail alone, and a thumbnail with a larger rendition made first.
fn rendition_sets() -> [Renditions; 2] {
    let spec = |name: &str, max_side| RenditionSpec {
        name: RenditionName::parse(name).expect("a valid name"),
        max_side,
    };
    [
        Renditions::thumbnail_only(8),
        Renditions::from_specs(&[spec("thumbnail", 8), spec("display", 64)]).expect("a valid set"),
    ]
}

fuzz_target!(|data: &[u8]| {
    let sniffed = sniff(data);
    for renditions in rendition_sets() {
        let policy = policy(renditions);
        let budget = ProcessingPolicy::memory_budget(policy.max_pixels);
        for declared in ImageType::ALL {
            let before = LIVE.load(Ordering::Relaxed);
            PEAK.store(before, Ordering::Relaxed);
            let verdict = inspect(data, declared, &policy);
            let peak = (PEAK.load(Ordering::Relaxed) - before) as u64;
            assert!(
                peak <= budget,
                "inspect as {declared} took {peak} bytes at its peak, over the budget of {budget}"
            );
            let same_heif_family = sniffed.is_some_and(ImageType::is_heif) && declared.is_heif();
            let admitted = sniffed == Some(declared) || same_heif_family;
            match verdict {
                Err(RejectionReason::TypeMismatch) => {
                    assert!(
                        !admitted || same_heif_family,
                        "{declared} refused its own type"
                    )
                }
                _ if !admitted => {
                    panic!("{declared} passed the sniff of a {sniffed:?}: {verdict:?}")
                }
                Ok(inspected) => {
                    let (w, h) = (inspected.width, inspected.height);
                    assert!(
                        policy.allows_dimensions(w, h) || policy.allows_dimensions(h, w),
                        "accepted {w}x{h}"
                    );
                    assert_eq!(inspected.renditions.len(), renditions.iter().count());
                    for (rendition, spec) in inspected.renditions.iter().zip(renditions.iter()) {
                        assert_eq!(rendition.name, spec.name);
                        assert_eq!(
                            (rendition.width, rendition.height),
                            thumbnail_dimensions(w, h, spec.max_side)
                        );
                        let mut decoder = jpeg_decoder::Decoder::new(&rendition.bytes[..]);
                        decoder.read_info().expect("a rendition is a JPEG");
                        let info = decoder.info().expect("read_info succeeded");
                        assert_eq!(
                            (u32::from(info.width), u32::from(info.height)),
                            (rendition.width, rendition.height)
                        );
                    }
                }
                Err(
                    RejectionReason::Undecodable
                    | RejectionReason::TooManyPixels
                    | RejectionReason::TooLarge
                    | RejectionReason::SizeMismatch,
                ) => {}
            }
        }
    }
});
