//! What a load run measured: every request's latency by step, and every answer that was not
//! the step's success by step, status and code; printed as a table at the end.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// One step of a simulated user's flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Post,
    Put,
    /// From the PUT's answer to the first poll that sees the image READY or REJECTED: the
    /// notification, the queue and the processor, as the user waits for them.
    Settle,
    Poll,
    List,
    Get,
    Delete,
}

impl Step {
    pub const ALL: [Self; 7] = [
        Self::Post,
        Self::Put,
        Self::Settle,
        Self::Poll,
        Self::List,
        Self::Get,
        Self::Delete,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Post => "POST /upload",
            Self::Put => "PUT upload URL (S3)",
            Self::Settle => "PUT to READY/REJECTED seen",
            Self::Poll => "GET /images/{id}, polling",
            Self::List => "GET /images",
            Self::Get => "GET /images/{id}",
            Self::Delete => "DELETE /images/{id}",
        }
    }

    /// Whether the step is one HTTP request (the settle time is a wait over many).
    pub fn is_request(self) -> bool {
        self != Self::Settle
    }
}

/// An answer that was not the step's success: its status (0 when no answer came) and its error
/// code (the API's `error.code`, S3's `<Code>`, or what went wrong on the way).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Failure {
    pub step: Step,
    pub status: u16,
    pub code: String,
}

impl Failure {
    /// A refusal by a per-user limit: the API working as meant, not an error.
    pub fn is_limit(&self) -> bool {
        self.status == 429
    }
}

#[derive(Default)]
struct Measured {
    latencies: BTreeMap<Step, Vec<Duration>>,
    failures: BTreeMap<Failure, usize>,
}

/// Shared by every simulated user of a run.
#[derive(Default)]
pub struct Recorder {
    measured: Mutex<Measured>,
}

impl Recorder {
    /// A request of `step` (or a settle time) that took `latency`, and what failed, if it did.
    pub fn record(&self, step: Step, latency: Duration, failure: Option<(u16, String)>) {
        let mut measured = self.measured.lock().unwrap();
        measured.latencies.entry(step).or_default().push(latency);
        if let Some((status, code)) = failure {
            *measured
                .failures
                .entry(Failure { step, status, code })
                .or_default() += 1;
        }
    }

    /// Everything recorded so far.
    pub fn summary(&self) -> Summary {
        let measured = self.measured.lock().unwrap();
        let steps = Step::ALL
            .into_iter()
            .filter_map(|step| {
                let mut latencies = measured.latencies.get(&step)?.clone();
                latencies.sort_unstable();
                Some(StepSummary::of(step, &latencies))
            })
            .collect();
        Summary {
            steps,
            failures: measured.failures.clone(),
        }
    }
}

/// One step's count and latency percentiles.
#[derive(Debug, Clone)]
pub struct StepSummary {
    pub step: Step,
    pub count: usize,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl StepSummary {
    /// From latencies sorted ascending (at least one).
    fn of(step: Step, sorted: &[Duration]) -> Self {
        Self {
            step,
            count: sorted.len(),
            p50: percentile(sorted, 50),
            p95: percentile(sorted, 95),
            p99: percentile(sorted, 99),
            max: *sorted.last().unwrap(),
        }
    }
}

/// The nearest-rank percentile `p` of `sorted` (ascending, not empty).
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// A run's measurements.
#[derive(Debug, Clone)]
pub struct Summary {
    pub steps: Vec<StepSummary>,
    pub failures: BTreeMap<Failure, usize>,
}

impl Summary {
    pub fn step(&self, step: Step) -> Option<&StepSummary> {
        self.steps.iter().find(|s| s.step == step)
    }

    /// HTTP requests made, of every step.
    pub fn requests(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.step.is_request())
            .map(|s| s.count)
            .sum()
    }

    /// Answers with `status` and `code`, of any step.
    pub fn answered(&self, status: u16, code: &str) -> usize {
        self.failures
            .iter()
            .filter(|(f, _)| f.status == status && f.code == code)
            .map(|(_, n)| n)
            .sum()
    }

    /// The table of steps, then the failures by step, status and code, for a run of `elapsed`.
    pub fn table(&self, elapsed: Duration) -> String {
        let seconds = elapsed.as_secs_f64();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<28} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}",
            "step", "count", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "429"
        );
        for s in &self.steps {
            let (limits, errors) = self.failures.iter().filter(|(f, _)| f.step == s.step).fold(
                (0, 0),
                |(l, e), (f, n)| {
                    if f.is_limit() { (l + n, e) } else { (l, e + n) }
                },
            );
            let _ = writeln!(
                out,
                "{:<28} {:>8} {:>8.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>7} {:>7}",
                s.step.label(),
                s.count,
                s.count as f64 / seconds,
                ms(s.p50),
                ms(s.p95),
                ms(s.p99),
                ms(s.max),
                errors,
                limits,
            );
        }
        let _ = writeln!(
            out,
            "{:<28} {:>8} {:>8.1}",
            "all requests",
            self.requests(),
            self.requests() as f64 / seconds
        );
        if self.failures.is_empty() {
            let _ = writeln!(out, "answers other than success: none");
        } else {
            let _ = writeln!(out, "answers other than success, by step, status and code:");
            for (f, n) in &self.failures {
                let note = if f.is_limit() {
                    " (a per-user limit: counted, not an error)"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "  {:<28} {:>3} {:<32} {:>6}{note}",
                    f.step.label(),
                    f.status,
                    f.code,
                    n
                );
            }
        }
        out
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<Duration> = (1..=200).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 50), Duration::from_millis(100));
        assert_eq!(percentile(&sorted, 95), Duration::from_millis(190));
        assert_eq!(percentile(&sorted, 99), Duration::from_millis(198));
        let one = [Duration::from_millis(7)];
        assert_eq!(percentile(&one, 99), Duration::from_millis(7));
    }
}
