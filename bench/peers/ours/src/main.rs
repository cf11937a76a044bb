//! Times, on the peer bench's inputs, what the processor does for an upload (`imaging::inspect`:
//! verify, then a 256 px thumbnail as JPEG; and with the default renditions, a 1600 px display
//! rendition and the thumbnail) and the naive path (`image` decodes everything, then `thumbnail`
//! and the same JPEG encode).
//!
//! Usage: `image-upload-bench-peers INPUT_DIR RUNS [FILE...]`. Prints JSON `{"ours": {file: median
//! ms}, "renditions": {...}, "naive": {...}}` on stdout. Naming files times only those, and only ours (for profiling).
//! With `BENCH_PEERS_CLOCK=cpu`, CPU time instead of wall-clock time.
//!
//! An input ours refuses (or panics on: a decoder still being written) is not timed: its entry is
//! `{"error": why}` and the other inputs are timed as usual. `image` is built without HEIC and AVIF
//! decoders, so those inputs have no naive entry.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Instant;

use image::codecs::jpeg::JpegEncoder;
use image_upload::domain::{ImageType, ProcessingPolicy, Renditions};
use image_upload::imaging;

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    let mid = times.len() / 2;
    if times.len() % 2 == 1 {
        times[mid]
    } else {
        (times[mid - 1] + times[mid]) / 2.0
    }
}

/// Milliseconds of CPU time (user and system) the process has used.
fn cpu_ms() -> f64 {
    let mut spec = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `spec` is a valid, writable timespec; the clock id is a constant Linux knows.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut spec) };
    assert_eq!(status, 0, "clock_gettime");
    spec.tv_sec as f64 * 1000.0 + spec.tv_nsec as f64 / 1e6
}

/// The median of `runs` timed calls of `work`, after one untimed: wall-clock time, or CPU time
/// when `cpu` (on a busy machine, what the work itself cost).
fn time(runs: usize, cpu: bool, mut work: impl FnMut()) -> f64 {
    work();
    let times = (0..runs)
        .map(|_| {
            let (start, start_cpu) = (Instant::now(), cpu_ms());
            work();
            if cpu {
                cpu_ms() - start_cpu
            } else {
                start.elapsed().as_secs_f64() * 1000.0
            }
        })
        .collect();
    median(times)
}

fn naive(data: &[u8]) -> Vec<u8> {
    let image = image::load_from_memory(data).expect("the input decodes");
    let small = image.thumbnail(256, 256).to_rgb8();
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(&small)
        .expect("encoding the thumbnail");
    jpeg
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, directory, runs, only @ ..] = args.as_slice() else {
        eprintln!("usage: image-upload-bench-peers INPUT_DIR RUNS [FILE...]");
        std::process::exit(2);
    };
    let directory = Path::new(directory);
    let runs: usize = runs.parse().expect("RUNS is a number");
    let listing: serde_json::Value = serde_json::from_slice(
        &std::fs::read(directory.join("inputs.json")).expect("reading inputs.json"),
    )
    .expect("inputs.json is JSON");
    let cpu = std::env::var("BENCH_PEERS_CLOCK").is_ok_and(|clock| clock == "cpu");
    let policy = ProcessingPolicy {
        renditions: Renditions::thumbnail_only(256),
        ..ProcessingPolicy::default()
    };
    let default_set = ProcessingPolicy::default();
    let mut ours = serde_json::Map::new();
    let mut renditions = serde_json::Map::new();
    let mut naive_times = serde_json::Map::new();
    for entry in listing.as_array().expect("a list of inputs") {
        let file = entry["file"].as_str().expect("a file name");
        if !only.is_empty() && !only.iter().any(|f| f == file) {
            continue;
        }
        // (declared type, whether the naive `image` build decodes it)
        let (image_type, naive_decodes) = match entry["format"].as_str() {
            Some("jpeg") => (ImageType::Jpeg, true),
            Some("png") => (ImageType::Png, true),
            Some("gif") => (ImageType::Gif, true),
            Some("webp") => (ImageType::Webp, true),
            Some("heic") => (ImageType::Heic, false),
            Some("avif") => (ImageType::Avif, false),
            other => panic!("unknown format {other:?}"),
        };
        let data = std::fs::read(directory.join(file)).expect("reading an input");
        // Once untimed, to report a refusal or a panic instead of timing it.
        let attempt = catch_unwind(AssertUnwindSafe(|| {
            imaging::inspect(&data, image_type, &policy)
        }));
        let failure = match attempt {
            Ok(Ok(_)) => None,
            Ok(Err(reason)) => Some(format!("refused, {}", reason.code())),
            Err(panic) => Some(format!(
                "panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)")
            )),
        };
        if let Some(why) = failure {
            eprintln!("bench-peers: ours on {file}: {why}");
            ours.insert(file.into(), serde_json::json!({ "error": why }));
        } else {
            let inspected = time(runs, cpu, || {
                std::hint::black_box(
                    imaging::inspect(&data, image_type, &policy).expect("the input is valid"),
                );
            });
            ours.insert(file.into(), inspected.into());
            let set = time(runs, cpu, || {
                std::hint::black_box(
                    imaging::inspect(&data, image_type, &default_set).expect("the input is valid"),
                );
            });
            renditions.insert(file.into(), set.into());
        }
        if only.is_empty() && naive_decodes {
            let plain = time(runs, cpu, || {
                std::hint::black_box(naive(&data));
            });
            naive_times.insert(file.into(), plain.into());
        }
    }
    let results =
        serde_json::json!({ "ours": ours, "renditions": renditions, "naive": naive_times });
    println!("{results}");
}
