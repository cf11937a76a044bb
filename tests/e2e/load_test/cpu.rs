//! Where a run's CPU went, from Linux's `/proc`: how busy the whole machine was, and how much of
//! it this process took (the API, the processor and the simulated users; the rest is the local
//! stack and whatever else runs). Both counters are in the kernel's clock ticks.

use std::time::Instant;

/// The counters at one moment.
#[derive(Debug, Clone, Copy)]
pub struct CpuClock {
    busy: u64,
    total: u64,
    own: u64,
    at: Instant,
}

impl CpuClock {
    /// Now; `None` where `/proc` cannot be read.
    pub fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?;
        // user nice system idle iowait irq softirq steal …
        let total: u64 = ticks.iter().take(8).sum();
        let idle = ticks.get(3)? + ticks.get(4)?;
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<&str> = own[own.rfind(')')? + 2..].split_whitespace().collect();
        let own = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Self {
            busy: total - idle,
            total,
            own,
            at: Instant::now(),
        })
    }

    /// What was used from `self` to `later`, in words.
    pub fn until(&self, later: &Self) -> String {
        let total = later.total.saturating_sub(self.total).max(1) as f64;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        format!(
            "the machine {:.0} % busy ({cores} cores) over {:.1} s; this process (API, processor, users) {:.0} % of it",
            100.0 * later.busy.saturating_sub(self.busy) as f64 / total,
            later.at.duration_since(self.at).as_secs_f64(),
            100.0 * later.own.saturating_sub(self.own) as f64 / total,
        )
    }
}
