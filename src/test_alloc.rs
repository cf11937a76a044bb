//! A counting allocator for the unit tests, with two views:
//!
//! - [`bytes_allocated_by`]: how many bytes one closure allocated on its own thread, so a test can
//!   show that a refusal happened before any large allocation.
//! - [`peak_live_bytes_during`]: the most heap memory that was live at once while a closure ran,
//!   counted on every thread of the process. Decoders may hand work to threads of their own
//!   (`jpeg-decoder` starts one per colour component for larger images), so a thread-local count
//!   would miss their allocations and miscount buffers freed on another thread than the one that
//!   allocated them. A process-wide count is only exact when nothing else runs in the process, so
//!   it is only switched on in a process started by [`in_own_process`], which runs one test alone.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

/// Whether this process counts live bytes on every thread (only a process running one test).
static PROCESS_WIDE: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since counting started. Signed: memory allocated before
/// counting started may be freed while it runs.
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The highest `LIVE` since the last reset.
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn isize_of(bytes: usize) -> isize {
    isize::try_from(bytes).unwrap_or(isize::MAX)
}

fn count_alloc(bytes: usize) {
    if PROCESS_WIDE.load(Ordering::Relaxed) {
        let live = LIVE.fetch_add(isize_of(bytes), Ordering::SeqCst) + isize_of(bytes);
        PEAK.fetch_max(live, Ordering::SeqCst);
    }
}

fn count_dealloc(bytes: usize) {
    if PROCESS_WIDE.load(Ordering::Relaxed) {
        LIVE.fetch_sub(isize_of(bytes), Ordering::SeqCst);
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|n| n.set(n.get().saturating_add(layout.size())));
        count_alloc(layout.size());
        // SAFETY: the caller's obligations are passed on as they are.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|n| n.set(n.get().saturating_add(layout.size())));
        count_alloc(layout.size());
        // SAFETY: as above. Zeroed memory the system maps lazily still counts in full: a buffer
        // is charged when it is asked for, not when it is touched.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count_dealloc(layout.size());
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATED.try_with(|n| n.set(n.get().saturating_add(new_size)));
        // Growing is charged as "allocate the new block, then free the old one": a reallocation
        // that has to move holds both for a moment, and the peak should not depend on whether it
        // moved. Shrinking is charged as the difference: the system allocator shrinks in place
        // (glibc trims heap chunks and `mremap`s mapped ones), it never copies to shrink.
        if new_size > layout.size() {
            count_alloc(new_size);
            count_dealloc(layout.size());
        } else {
            count_dealloc(layout.size() - new_size);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// The bytes `f` allocated on the calling thread (reallocations count their new size).
pub fn bytes_allocated_by(f: impl FnOnce()) -> usize {
    let before = ALLOCATED.with(Cell::get);
    f();
    ALLOCATED.with(Cell::get) - before
}

/// The environment variable that tells a re-run test binary which test it runs alone.
const ALONE_VAR: &str = "IMAGE_UPLOAD_TEST_ALONE";

/// Runs the test named `test_path` (its full path in this crate, e.g.
/// `imaging::tests::memory_budget::png_16_bit`) alone in a fresh process of this test binary, and
/// returns whether the caller *is* that process.
///
/// Called first thing in a test: the outer call starts the child, waits for it, fails if it
/// failed, echoes its report lines (from `memory |` on) and returns `false`, so the
/// outer test returns at once; in the child it switches process-wide counting on and returns
/// `true`, and the test body runs there.
pub fn in_own_process(test_path: &str) -> bool {
    if std::env::var(ALONE_VAR).as_deref() == Ok(test_path) {
        PROCESS_WIDE.store(true, Ordering::SeqCst);
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(exe)
        .args([test_path, "--exact", "--nocapture", "--test-threads=1"])
        .env(ALONE_VAR, test_path)
        .output()
        .expect("re-running the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{test_path} failed in its own process:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "{test_path} did not run in its own process (is the name its full path?):\n{stdout}"
    );
    // The child's harness prints `test <name> ... ` before the test's own output, on one line.
    for line in stdout
        .lines()
        .filter_map(|l| l.find("memory |").map(|at| &l[at..]))
    {
        println!("{line}");
    }
    false
}

/// Runs `f` and returns its result with the most heap bytes that were live at once while it ran,
/// above those live when it started, counted on every thread of the process.
///
/// # Panics
/// Outside a process started by [`in_own_process`], where other tests' allocations would be
/// counted too.
pub fn peak_live_bytes_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    assert!(
        PROCESS_WIDE.load(Ordering::SeqCst),
        "peak_live_bytes_during needs a process of its own: call in_own_process first"
    );
    let start = LIVE.load(Ordering::SeqCst);
    PEAK.store(start, Ordering::SeqCst);
    let result = f();
    let peak = PEAK.load(Ordering::SeqCst);
    (result, usize::try_from(peak - start).unwrap_or(0))
}
