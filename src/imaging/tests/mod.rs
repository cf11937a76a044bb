//! Tests of `imaging` as a whole: the memory budget measured per format and per hostile file,
//! and every fuzz finding pinned to its verdict.

mod fuzz_regressions;
mod memory_budget;
