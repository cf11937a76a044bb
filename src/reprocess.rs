//! Bringing existing images up to the configured renditions (`just reprocess`): an operator's
//! tool, run with the operator's credentials against the local stack or a deployment.
//!
//! 1. Scans the table for READY rows whose renditions are not the configured set
//!    ([`ReadyImage::has_renditions`](crate::domain::ReadyImage::has_renditions)), or that still
//!    name renditions an earlier reprocessing replaced whose keep time is up.
//! 2. Sends the upload queue one reprocessing request per image
//!    ([`reprocess_body`](crate::processor::event::reprocess_body)), at most `rate` a second and
//!    only while the queue holds fewer than `max_queued` messages, so that uploads never wait
//!    behind more than that; the processor makes the renditions from the verified original and
//!    points the row at them, keeping the old ones as superseded until the URLs handed out for
//!    them have expired (and deletes those whose time is up).
//! 3. Waits until every requested row has the set (or `wait` has passed), and reports. A READY
//!    row that cannot be read back stops nothing: it is left as it is and named in the report.
//!
//! Idempotent and resumable: it only ever asks for what differs, and the processor writes
//! nothing for an image already made so. A second run asks for what is left (again for requests
//! still queued from an interrupted run: the processor answers the second of each with nothing
//! to do).

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use time::OffsetDateTime;

use crate::aws::{AwsError, MetadataTable};
use crate::domain::{ImageId, ImageState, Renditions};
use crate::processor::event::reprocess_body;

/// How a run goes.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The most reprocessing requests sent a second (the processor's concurrency bounds the
    /// work itself; this bounds how fast the queue fills).
    pub rate: u32,
    /// Ask for at most this many images (to try a change on a few first); `None`: all.
    pub limit: Option<usize>,
    /// Send only while the queue holds fewer messages than this (uploads' and requests'), so
    /// that a new upload waits behind at most that many.
    pub max_queued: u32,
    /// How long to wait for the requested images to be made; zero: do not wait.
    pub wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rate: 20,
            limit: None,
            max_queued: 10,
            wait: Duration::from_secs(600),
        }
    }
}

/// Where a run is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Rows read so far, and the READY ones among them that need reprocessing.
    Scanning { read: usize, requested: usize },
    /// Requested images made so far, of all requested.
    Waiting { done: usize, requested: usize },
}

/// What a run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// READY images read.
    pub ready: usize,
    /// Of those, already with the configured renditions and nothing superseded to delete.
    pub up_to_date: usize,
    /// Reprocessing requested for these.
    pub requested: Vec<ImageId>,
    /// Of those, made by the end of the wait (or gone: deleted meanwhile).
    pub done: usize,
    /// Requested and not made within the wait (still queued, or refused by the processor:
    /// its log says why).
    pub not_done: Vec<ImageId>,
    /// READY rows that could not be read back (the scan goes on past them): their ids as
    /// stored, at most 64 characters, or `None` for a row without one, and what is wrong.
    pub malformed: Vec<(Option<String>, String)>,
}

/// Runs one pass (see the module's documentation), reporting progress to `progress`.
///
/// # Errors
/// [`AwsError`] when a scan, a send or a read fails (throttling included, after the SDK's
/// retries): what was sent stays sent, and a second run picks up the rest.
pub async fn run(
    table: &MetadataTable,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wanted: &Renditions,
    options: Options,
    mut progress: impl FnMut(Progress),
) -> Result<Report, AwsError> {
    let mut report = Report::default();
    let mut read = 0;
    let mut start = None;
    let mut pending_send = Vec::new();
    let mut pace = Pace::new(options.rate, options.max_queued);
    // Settled: the configured renditions, and nothing superseded whose time was up when the
    // scan began (what a request made since supersedes is not this run's to wait for).
    let started = OffsetDateTime::now_utc();
    let settled = |ready: &crate::domain::ReadyImage| {
        ready.has_renditions(wanted) && !ready.has_expired_superseded(started)
    };
    'scan: loop {
        let page = table.scan_ready(100, start).await?;
        report.malformed.extend(
            page.malformed
                .into_iter()
                .map(|row| (row.image_id, row.error.to_string())),
        );
        for row in &page.images {
            read += 1;
            let ImageState::Ready(ready) = &row.state else {
                continue;
            };
            report.ready += 1;
            if settled(ready) {
                report.up_to_date += 1;
                continue;
            }
            if options.limit == Some(0) {
                break 'scan;
            }
            report.requested.push(row.image_id);
            pending_send.push(row.image_id);
            if pending_send.len() == 10 {
                send(sqs, queue_url, &pending_send, &mut pace).await?;
                pending_send.clear();
            }
            if options.limit == Some(report.requested.len()) {
                break 'scan;
            }
        }
        progress(Progress::Scanning {
            read,
            requested: report.requested.len(),
        });
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    if !pending_send.is_empty() {
        send(sqs, queue_url, &pending_send, &mut pace).await?;
    }

    let deadline = tokio::time::Instant::now() + options.wait;
    let mut waiting: HashSet<ImageId> = report.requested.iter().copied().collect();
    let requested = waiting.len();
    while !waiting.is_empty() {
        let ids: Vec<ImageId> = waiting.iter().copied().collect();
        let rows = table.get_many(&ids).await?;
        let mut still = HashSet::new();
        for row in rows {
            if let ImageState::Ready(ready) = &row.state
                && !settled(ready)
            {
                still.insert(row.image_id);
            }
        }
        // A requested row that is no longer there was deleted meanwhile: nothing left to make.
        waiting = still;
        progress(Progress::Waiting {
            done: requested - waiting.len(),
            requested,
        });
        if waiting.is_empty() || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    report.done = requested - waiting.len();
    report.not_done = report
        .requested
        .iter()
        .filter(|id| waiting.contains(id))
        .copied()
        .collect();
    Ok(report)
}

/// How often the wait reads the rows still waiting (strongly consistent, 100 to a request).
const POLL: Duration = Duration::from_secs(2);

/// Sends one reprocessing request per image in `ids` (at most 10: one SendMessageBatch).
async fn send(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    ids: &[ImageId],
    pace: &mut Pace,
) -> Result<(), AwsError> {
    const CONTEXT: &str = "sending reprocessing requests";
    for chunk in ids.chunks(pace.burst()) {
        pace.wait(chunk.len()).await;
        while queued(sqs, queue_url).await? >= pace.max_queued {
            tokio::time::sleep(POLL).await;
        }
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(reprocess_body(*id))
                    .build()
                    .map_err(|e| AwsError::failed(CONTEXT, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = sqs
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| AwsError::classify(CONTEXT, e))?;
        if let Some(failed) = output.failed().first() {
            return Err(AwsError::failed(
                CONTEXT,
                format!(
                    "{} of {} refused, the first with {}",
                    output.failed().len(),
                    chunk.len(),
                    failed.code()
                ),
            ));
        }
    }
    Ok(())
}

/// The messages in the queue, waiting or being processed (SQS's approximate counts).
async fn queued(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<u32, AwsError> {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let output = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(Name::ApproximateNumberOfMessages)
        .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| AwsError::classify("reading the queue's length", e))?;
    let count = |name: Name| -> u32 {
        output
            .attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(count(Name::ApproximateNumberOfMessages)
        .saturating_add(count(Name::ApproximateNumberOfMessagesNotVisible)))
}

/// At most `rate` messages a second, sent in bursts of at most 10 (SQS's batch), while the
/// queue holds fewer than `max_queued`.
struct Pace {
    rate: u32,
    max_queued: u32,
    next: tokio::time::Instant,
}

impl Pace {
    fn new(rate: u32, max_queued: u32) -> Self {
        Self {
            rate: rate.max(1),
            max_queued: max_queued.max(1),
            next: tokio::time::Instant::now(),
        }
    }

    fn burst(&self) -> usize {
        usize::try_from(self.rate.min(10)).unwrap_or(10)
    }

    /// Waits until `count` more messages may go.
    async fn wait(&mut self, count: usize) {
        tokio::time::sleep_until(self.next).await;
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        self.next = tokio::time::Instant::now()
            + Duration::from_secs(1).mul_f64(f64::from(count) / f64::from(self.rate));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_go_no_faster_than_the_rate() {
        let mut pace = Pace::new(4, 10);
        assert_eq!(pace.burst(), 4);
        let started = tokio::time::Instant::now();
        for _ in 0..3 {
            pace.wait(4).await;
        }
        // 12 messages at 4 a second: the third burst waits for the first two seconds.
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        let mut fast = Pace::new(100, 10);
        assert_eq!(fast.burst(), 10, "SQS sends at most 10 at once");
        let started = tokio::time::Instant::now();
        for _ in 0..10 {
            fast.wait(10).await;
        }
        assert_eq!(started.elapsed(), Duration::from_millis(900));
    }
}
