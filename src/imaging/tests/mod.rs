//! Tests of `imaging` as a whole: the memory budget measured per format and per hostile file,
//! every fuzz finding pinned to its verdict, and the direction of its imports.

mod fuzz_regressions;
mod layout;
mod memory_budget;
