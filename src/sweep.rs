//! Reconciling the bucket with the table: the sweep. It finds what no request and no event will
//! ever reach again, and repairs it.
//!
//! | found | how it happens | repair |
//! |---|---|---|
//! | [`Problem::Orphaned`]: objects of an image with no row | the processor copied an upload and then failed on every delivery (the message went to the dead-letter queue) until the PENDING row expired; a delete stopped between the objects and the row | the objects are deleted |
//! | [`Problem::NotAllowed`]: objects the row's state does not allow | a REJECTED image's delete failed; renditions of a reprocessing that never pointed the row at them | the objects are deleted |
//! | [`Problem::Lost`]: a READY row without its verified original | the original was deleted by hand, or a delete stopped between the objects and the row | what is left of the image goes, then the row, its count given back |
//! | [`Problem::RenditionsMissing`]: a READY row naming renditions the bucket lacks | deleted by hand | they are made again from the original ([`Processor::restore`]) |
//!
//! A PENDING image's objects are left alone: it may be uploading or in processing; when its row
//! expires, what is left is an orphan. An object younger than the grace period is never deleted
//! as an orphan or as not allowed, so that nothing written between a listing and a read can be
//! taken for debris; a lost image goes whole, whatever the age of what is left of it (nothing of
//! it can be served or made again). Keys under the service's prefixes that are not exactly of its
//! shapes ([`ObjectKey::image_of`]) were not written by it: they are counted, and left.
//!
//! **How it reads.** The four prefixes are listed side by side, a page of each at a time: each
//! lists in key order and every key of an image starts with the prefix and its id, so an image's
//! objects come together at the heads of the listings (an image that came twice, or out of
//! order, stops the run). A hundred images' rows are read at once (a consistent
//! `BatchGetItem`); then the table is scanned for READY rows with no object at all. A run holds a
//! page of each listing, a hundred images, the ids of the images seen (about 40 bytes each: 40
//! MB for a million images) and the findings with their objects.
//!
//! **How it repairs.** Only once everything is read: more lost images than [`LOST_UNATTENDED`]
//! (or 1 % of the READY rows), or more orphaned ones than [`ORPHANED_UNATTENDED`] (or 10 % of the
//! images listed), are not repaired but reported as failed, since that is what originals deleted
//! in bulk or a table of another deployment look like; a person repairs them with `--force`.
//! Rows that name another bucket than the one listed stop the run. Before each repair the row is
//! read again and the finding judged again, so that an image settled, reprocessed or deleted
//! meanwhile is not repaired by a stale reading.
//!
//! The scheduled function repairs; by hand (`just sweep`) the default is a dry run, a report of
//! what a repair would do.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

use time::OffsetDateTime;

use crate::aws::{AwsClients, AwsError, ImageObjects, Listed, MetadataTable, Transition};
use crate::config::Settings;
use crate::domain::{ImageId, ImageMetadata, ImageState, ObjectKey, ReadyImage, StateName};
use crate::processor::{Outcome, Processor};

/// Objects younger than this are never deleted by a sweep (`--grace` overrides it by hand). An
/// hour is far longer than any step between a row's write and its objects' (seconds), and far
/// shorter than the time debris would otherwise stay.
pub const GRACE_DEFAULT: Duration = Duration::from_secs(3600);

/// Images judged together: their rows are read in one `BatchGetItem`.
const BATCH: usize = 100;

/// A run repairs lost images unattended only up to this many, or 1 % of the READY rows if more:
/// beyond it, the same finding for many images at once says "the originals were deleted in
/// bulk" or "this is not the deployment's table", and the repair would delete every such row.
pub const LOST_UNATTENDED: usize = 10;

/// A run deletes orphans unattended only for up to this many images, or 10 % of the images
/// listed if more: a table that is not the bucket's makes every image an orphan.
pub const ORPHANED_UNATTENDED: usize = 100;

/// How a run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Repair what is found; `false`: only report it.
    pub repair: bool,
    /// Objects younger than this are spared.
    pub grace: Duration,
    /// Repair even more lost or orphaned images than a run repairs unattended
    /// ([`LOST_UNATTENDED`], [`ORPHANED_UNATTENDED`]); by hand, once a person has looked.
    pub force: bool,
}

impl Options {
    /// The scheduled function's: repair, sparing what is younger than [`GRACE_DEFAULT`], within
    /// the unattended bounds.
    pub const SCHEDULED: Self = Self {
        repair: true,
        grace: GRACE_DEFAULT,
        force: false,
    };
}

/// What is wrong with one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Problem {
    /// Objects of an image that has no row.
    Orphaned,
    /// Objects that the image's row, in this state, does not allow.
    NotAllowed(StateName),
    /// A READY row whose verified original is not in the bucket.
    Lost,
    /// A READY row naming renditions that are not in the bucket (its original is).
    RenditionsMissing,
}

impl Problem {
    /// A short name, for the report and the logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Orphaned => "orphaned objects",
            Self::NotAllowed(StateName::Ready) => "objects a READY row does not name",
            Self::NotAllowed(StateName::Rejected) => "objects of a REJECTED image",
            Self::NotAllowed(StateName::Pending) => "objects a PENDING row does not allow",
            Self::Lost => "READY row without its original",
            Self::RenditionsMissing => "READY row missing renditions",
        }
    }
}

/// One prefix's listing, a page at a time.
struct Listing {
    prefix: &'static str,
    page: VecDeque<Listed>,
    /// The next page's token; `None` once started: the listing is done.
    next: Option<String>,
    started: bool,
}

impl Listing {
    fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            page: VecDeque::new(),
            next: None,
            started: false,
        }
    }

    /// The next object, reading the next page when this one is used up.
    async fn peek(&mut self, objects: &ImageObjects) -> Result<Option<&Listed>, AwsError> {
        while self.page.is_empty() && (!self.started || self.next.is_some()) {
            let page = objects.list(self.prefix, self.next.take()).await?;
            self.started = true;
            self.page.extend(page.objects);
            self.next = page.next;
        }
        Ok(self.page.front())
    }

    fn pop(&mut self) -> Option<Listed> {
        self.page.pop_front()
    }
}

/// What became of a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// A dry run: nothing was changed.
    NotTried,
    /// Repaired.
    Done,
    /// Read again before or during the repair, the image no longer had the problem (settled,
    /// reprocessed, or deleted meanwhile): nothing more was repaired.
    Moot,
    /// The repair failed (S3 or DynamoDB, an original that cannot be made into renditions), or
    /// was refused as more than a run repairs unattended; the next sweep finds it again.
    Failed(String),
}

/// One image's problem, the keys it concerns, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub image_id: ImageId,
    pub problem: Problem,
    /// For objects to delete, those objects; for a lost image, what is left of it; for missing
    /// renditions, the keys the row names and the bucket lacks.
    pub keys: Vec<String>,
    pub repair: Repair,
}

/// What a run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Objects listed under the service's prefixes.
    pub objects: usize,
    /// Images those objects belong to.
    pub images: usize,
    /// READY rows scanned.
    pub ready_rows: usize,
    /// Objects that would have been found wanting, spared because they are younger than the grace.
    pub recent: usize,
    /// Keys under the service's prefixes that are not of its shape: not its own, left alone
    /// (sorted).
    pub foreign: Vec<String>,
    /// Rows that could not be read back, named by their key (sorted): left alone, and so are
    /// their images' objects.
    pub malformed: Vec<String>,
    /// Every problem found, by image id.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Findings whose repair failed.
    pub fn failed(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| matches!(f.repair, Repair::Failed(_)))
            .count()
    }

    /// The report in a few numbers (what the scheduled function returns and logs), each
    /// finding being logged on its own as it is found.
    pub fn summary(&self) -> serde_json::Value {
        let found: BTreeMap<&str, usize> = self
            .counts()
            .into_iter()
            .map(|(problem, n)| (problem.as_str(), n))
            .collect();
        let repaired = self
            .findings
            .iter()
            .filter(|f| f.repair == Repair::Done)
            .count();
        serde_json::json!({
            "objects": self.objects,
            "images": self.images,
            "readyRows": self.ready_rows,
            "recent": self.recent,
            "foreign": self.foreign.len(),
            "malformed": self.malformed.len(),
            "found": found,
            "repaired": repaired,
            "failed": self.failed(),
        })
    }

    /// How many findings of each problem.
    pub fn counts(&self) -> BTreeMap<Problem, usize> {
        let mut counts = BTreeMap::new();
        for finding in &self.findings {
            *counts.entry(finding.problem).or_default() += 1;
        }
        counts
    }
}

/// Everything a sweep needs. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Sweeper {
    objects: ImageObjects,
    table: MetadataTable,
    /// Makes missing renditions again.
    processor: Processor,
}

impl Sweeper {
    /// The sweeper of the configured bucket and table.
    pub fn new(clients: &AwsClients, settings: &Settings) -> Self {
        Self::from_parts(
            ImageObjects::new(clients.s3.clone(), &settings.bucket_name),
            MetadataTable::new(clients.dynamodb.clone(), &settings.table_name),
            Processor::new(clients, settings),
        )
    }

    /// A sweeper from its parts (the processor on the same bucket and table).
    pub fn from_parts(objects: ImageObjects, table: MetadataTable, processor: Processor) -> Self {
        Self {
            objects,
            table,
            processor,
        }
    }

    /// Lists the bucket, reads the rows, reports what is wrong and (with `options.repair`)
    /// repairs it. `now` less the grace is the age an object must have to be deleted.
    ///
    /// # Errors
    /// [`AwsError`] when listing, reading or scanning fails, or when the rows name another
    /// bucket than the one listed (a failed repair is a finding's [`Repair::Failed`], and the run
    /// goes on).
    pub async fn run(&self, options: Options, now: OffsetDateTime) -> Result<Report, AwsError> {
        let cutoff = now - time::Duration::try_from(options.grace).unwrap_or(time::Duration::MAX);
        let mut report = Report::default();
        let mut found: Vec<(Finding, Vec<Listed>)> = Vec::new();
        let mut seen: HashSet<ImageId> = HashSet::new();
        let mut listings = ObjectKey::IMAGE_PREFIXES.map(Listing::new);
        let mut batch: Vec<(ImageId, Vec<Listed>)> = Vec::with_capacity(BATCH);
        let mut last: Option<ImageId> = None;
        while let Some((id, listed)) = self.next_image(&mut listings, &mut report).await? {
            // Each image comes once, in id order; anything else means the listing is not what
            // the merge assumes, and nothing may be judged on it.
            if last.is_some_and(|last| last >= id) {
                return Err(AwsError::failed(
                    "listing the bucket",
                    format!("image {id} came after {last:?}: the listing is not in key order"),
                ));
            }
            last = Some(id);
            seen.insert(id);
            batch.push((id, listed));
            if batch.len() == BATCH {
                let judged = self
                    .judge_batch(std::mem::take(&mut batch), cutoff, &mut report)
                    .await?;
                found.extend(judged);
            }
        }
        found.extend(self.judge_batch(batch, cutoff, &mut report).await?);
        found.extend(self.ready_rows_without_objects(&seen, &mut report).await?);

        let refusals = if options.force {
            BTreeMap::new()
        } else {
            unattended_refusals(&found, &report)
        };
        for (mut finding, listed) in found {
            if options.repair && finding.repair == Repair::NotTried {
                finding.repair = match refusals.get(&finding.problem) {
                    Some(refusal) => Repair::Failed(refusal.clone()),
                    // On the heap: making renditions is a deep future, and the sweep's is deep
                    // already.
                    None => match Box::pin(self.repair(&finding, &listed, cutoff)).await {
                        Ok(repair) => repair,
                        Err(err) => Repair::Failed(
                            [err.to_string(), crate::telemetry::cause_chain(&err)]
                                .join(": ")
                                .trim_end_matches(": ")
                                .to_owned(),
                        ),
                    },
                };
            }
            log(&finding);
            report.findings.push(finding);
        }
        report.foreign.sort();
        // A READY row found unreadable by its image's read and again by the scan is one row.
        report.malformed.sort();
        report.malformed.dedup();
        tracing::info!(summary = %report.summary(), "sweep done");
        Ok(report)
    }

    /// The next image (in id order) with every object it has under the four prefixes; keys that
    /// are not of the service's shape go to the report as they pass.
    async fn next_image(
        &self,
        listings: &mut [Listing; 4],
        report: &mut Report,
    ) -> Result<Option<(ImageId, Vec<Listed>)>, AwsError> {
        let mut first: Option<ImageId> = None;
        for listing in listings.iter_mut() {
            while let Some(head) = listing.peek(&self.objects).await? {
                match ObjectKey::image_of(&head.key) {
                    Some(id) => {
                        first = Some(first.map_or(id, |f| f.min(id)));
                        break;
                    }
                    None => {
                        let key = listing.pop().map(|l| l.key).unwrap_or_default();
                        report.objects += 1;
                        report.foreign.push(key);
                    }
                }
            }
        }
        let Some(id) = first else {
            return Ok(None);
        };
        // Each prefix lists in key order, and every key of an image starts with the prefix and
        // its id: its objects are at the heads of the listings, and so is anything else that
        // starts the same way (a key of another shape), which is foreign.
        let mut listed = Vec::new();
        for listing in listings.iter_mut() {
            let start = format!("{}{id}", listing.prefix);
            while let Some(head) = listing.peek(&self.objects).await? {
                if !head.key.starts_with(&start) {
                    break;
                }
                let Some(object) = listing.pop() else { break };
                if ObjectKey::image_of(&object.key) == Some(id) {
                    listed.push(object);
                } else {
                    report.objects += 1;
                    report.foreign.push(object.key);
                }
            }
        }
        report.objects += listed.len();
        report.images += 1;
        Ok(Some((id, listed)))
    }

    /// Judges a batch of images against their rows (read together).
    async fn judge_batch(
        &self,
        batch: Vec<(ImageId, Vec<Listed>)>,
        cutoff: OffsetDateTime,
        report: &mut Report,
    ) -> Result<Vec<(Finding, Vec<Listed>)>, AwsError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<ImageId> = batch.iter().map(|(id, _)| *id).collect();
        let mut unreadable = HashSet::new();
        let rows = match self.table.get_many(&ids).await {
            Ok(rows) => rows,
            // A row that cannot be read back fails its whole batch: read the batch one row at a
            // time, and leave the images whose row cannot be read as they are.
            Err(err) if err.is_malformed_row() => {
                let mut rows = Vec::new();
                for id in &ids {
                    match self.table.get(*id).await {
                        Ok(row) => rows.extend(row),
                        Err(err) if err.is_malformed_row() => {
                            unreadable.insert(*id);
                            report.malformed.push(id.to_string());
                        }
                        Err(err) => return Err(err),
                    }
                }
                rows
            }
            Err(err) => return Err(err),
        };
        // Rows name the bucket their objects are in: rows of another bucket (a wrong
        // BUCKET_NAME or TABLE_NAME) would make every object here look like debris.
        if let Some(row) = rows.iter().find(|row| row.bucket != self.objects.bucket()) {
            return Err(AwsError::failed(
                "reading image metadata",
                format!(
                    "row {} is of bucket {:?}, not of the bucket listed, {:?}: the sweep's \
                     BUCKET_NAME and TABLE_NAME are not one deployment's",
                    row.image_id,
                    row.bucket,
                    self.objects.bucket()
                ),
            ));
        }
        let rows: BTreeMap<ImageId, ImageMetadata> =
            rows.into_iter().map(|row| (row.image_id, row)).collect();
        let mut found = Vec::new();
        for (id, listed) in batch.into_iter().filter(|(id, _)| !unreadable.contains(id)) {
            let judged = judge(id, rows.get(&id), &listed, cutoff);
            report.recent += judged.recent;
            found.extend(judged.findings.into_iter().map(|f| (f, listed.clone())));
        }
        Ok(found)
    }

    /// READY rows none of whose objects were listed: lost images (confirmed by a HEAD of the
    /// original, since an image may have become READY after its prefix was listed).
    async fn ready_rows_without_objects(
        &self,
        seen: &HashSet<ImageId>,
        report: &mut Report,
    ) -> Result<Vec<(Finding, Vec<Listed>)>, AwsError> {
        let mut found = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.table.scan_ready(1000, cursor).await?;
            report.ready_rows += page.images.len();
            report.malformed.extend(
                page.malformed
                    .into_iter()
                    .map(|row| row.image_id.unwrap_or_default()),
            );
            for row in page.images {
                if seen.contains(&row.image_id) {
                    continue;
                }
                let ImageState::Ready(ready) = &row.state else {
                    continue;
                };
                let mut finding = Finding {
                    image_id: row.image_id,
                    problem: Problem::Lost,
                    keys: Vec::new(),
                    repair: Repair::NotTried,
                };
                match self.objects.head(ready.original_key.as_ref()).await {
                    Ok(Some(_)) => continue,
                    Ok(None) => {}
                    // Not known to be lost: named, and looked at again by the next run.
                    Err(err) => finding.repair = Repair::Failed(err.to_string()),
                }
                found.push((finding, Vec::new()));
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(found),
            }
        }
    }

    /// Reads the row again, judges again, and repairs what is still wrong.
    async fn repair(
        &self,
        finding: &Finding,
        listed: &[Listed],
        cutoff: OffsetDateTime,
    ) -> Result<Repair, AwsError> {
        let id = finding.image_id;
        let row = self.table.get(id).await?;
        match finding.problem {
            Problem::Orphaned | Problem::NotAllowed(_) => {
                // Only what the row as it is now still does not allow.
                let again = judge(id, row.as_ref(), listed, cutoff);
                let unwanted: Vec<&str> = again
                    .findings
                    .iter()
                    .filter(|f| matches!(f.problem, Problem::Orphaned | Problem::NotAllowed(_)))
                    .flat_map(|f| f.keys.iter().map(String::as_str))
                    .filter(|key| finding.keys.iter().any(|k| k == key))
                    .collect();
                if unwanted.is_empty() {
                    return Ok(Repair::Moot);
                }
                futures_util::future::try_join_all(
                    unwanted.into_iter().map(|key| self.objects.delete(key)),
                )
                .await?;
                Ok(Repair::Done)
            }
            Problem::Lost => {
                let Some(row) = row else {
                    return Ok(Repair::Moot);
                };
                let ImageState::Ready(ready) = &row.state else {
                    return Ok(Repair::Moot);
                };
                if self
                    .objects
                    .head(ready.original_key.as_ref())
                    .await?
                    .is_some()
                {
                    return Ok(Repair::Moot);
                }
                // As a DELETE does: the objects, then the row if it is still as read (its count
                // given back with it).
                let keys = row.object_keys();
                futures_util::try_join!(
                    self.objects.delete(keys.upload.as_ref()),
                    self.objects.delete(keys.original.as_ref()),
                    self.objects.delete(keys.legacy_thumbnail.as_ref()),
                    self.objects.delete_folder(&keys.renditions_folder),
                )?;
                Ok(match self.table.delete(&row).await? {
                    Transition::Applied => Repair::Done,
                    Transition::Changed => Repair::Moot,
                })
            }
            Problem::RenditionsMissing => {
                let Some(ImageMetadata {
                    state: ImageState::Ready(ready),
                    ..
                }) = row
                else {
                    return Ok(Repair::Moot);
                };
                let mut missing = false;
                for key in current_renditions(&ready) {
                    missing |= self.objects.head(key.as_ref()).await?.is_none();
                }
                if !missing {
                    return Ok(Repair::Moot);
                }
                let outcome = self
                    .processor
                    .restore(id)
                    .await
                    .map_err(|err| AwsError::failed("making missing renditions again", err))?;
                if outcome == Outcome::Reprocessed {
                    return Ok(Repair::Done);
                }
                // Not made: the row changed meanwhile, or its original cannot be read or is
                // refused under today's limits (the processor's log says which).
                Ok(match self.table.get(id).await? {
                    Some(ImageMetadata {
                        state: ImageState::Ready(_),
                        ..
                    }) => Repair::Failed(
                        "the renditions were not made again: the original is gone or refused \
                         under the current limits (the processor's log line for this image says \
                         which)"
                            .into(),
                    ),
                    _ => Repair::Moot,
                })
            }
        }
    }
}

/// Logs a finding and what became of it.
fn log(finding: &Finding) {
    match &finding.repair {
        Repair::Failed(error) => tracing::error!(
            image_id = %finding.image_id,
            problem = finding.problem.as_str(),
            keys = ?finding.keys,
            error,
            "sweep: not repaired; the next sweep finds it again"
        ),
        repair => tracing::warn!(
            image_id = %finding.image_id,
            problem = finding.problem.as_str(),
            keys = ?finding.keys,
            ?repair,
            "sweep: found"
        ),
    }
}

/// The problems found for more images than a run repairs unattended, each with why it is not
/// repaired.
fn unattended_refusals(
    found: &[(Finding, Vec<Listed>)],
    report: &Report,
) -> BTreeMap<Problem, String> {
    let count = |problem: Problem| found.iter().filter(|(f, _)| f.problem == problem).count();
    let bounds = [
        (
            Problem::Lost,
            LOST_UNATTENDED.max(report.ready_rows / 100),
            "READY rows without their original",
        ),
        (
            Problem::Orphaned,
            ORPHANED_UNATTENDED.max(report.images / 10),
            "images without a row",
        ),
    ];
    bounds
        .into_iter()
        .filter_map(|(problem, bound, what)| {
            let n = count(problem);
            (n > bound).then(|| {
                (
                    problem,
                    format!(
                        "not repaired: {n} {what} found, more than the {bound} a sweep \
                         repairs unattended. Objects deleted in bulk, or a BUCKET_NAME and \
                         TABLE_NAME of two deployments, look like this: check, then repair by \
                         hand with `just sweep deployed --repair --force`"
                    ),
                )
            })
        })
        .collect()
}

/// What judging one image found, and how many of its objects were spared as recent.
#[derive(Debug, Default, PartialEq, Eq)]
struct Judged {
    findings: Vec<Finding>,
    recent: usize,
}

/// The problems of image `id`, given its row (`None`: no row) and its listed objects. Objects
/// modified after `cutoff` (or at an unknown time) are never found unwanted, only counted.
fn judge(
    id: ImageId,
    row: Option<&ImageMetadata>,
    listed: &[Listed],
    cutoff: OffsetDateTime,
) -> Judged {
    let old = |l: &Listed| l.last_modified.is_some_and(|t| t <= cutoff);
    let finding = |problem, keys: Vec<String>| Finding {
        image_id: id,
        problem,
        keys,
        repair: Repair::NotTried,
    };
    let mut judged = Judged::default();
    let unwanted = |allowed: &dyn Fn(&str) -> bool, judged: &mut Judged| -> Vec<String> {
        let mut keys = Vec::new();
        for l in listed.iter().filter(|l| !allowed(&l.key)) {
            if old(l) {
                keys.push(l.key.clone());
            } else {
                judged.recent += 1;
            }
        }
        keys
    };
    let Some(row) = row else {
        let keys = unwanted(&|_| false, &mut judged);
        if !keys.is_empty() {
            judged.findings.push(finding(Problem::Orphaned, keys));
        }
        return judged;
    };
    match &row.state {
        // Uploading, or in processing: when the row expires, what is left is an orphan.
        ImageState::Pending => {}
        ImageState::Rejected(_) => {
            let keys = unwanted(&|_| false, &mut judged);
            if !keys.is_empty() {
                judged
                    .findings
                    .push(finding(Problem::NotAllowed(StateName::Rejected), keys));
            }
        }
        ImageState::Ready(ready) => {
            let has = |key: &ObjectKey| listed.iter().any(|l| l.key == key.as_ref());
            if !has(&ready.original_key) {
                // Nothing of it can be served or made again: all of it goes.
                let keys = listed.iter().map(|l| l.key.clone()).collect();
                judged.findings.push(finding(Problem::Lost, keys));
                return judged;
            }
            let allowed = |key: &str| {
                key == row.object_key.as_ref()
                    || key == ready.original_key.as_ref()
                    || current_renditions(ready).any(|k| k.as_ref() == key)
                    || ready.superseded.iter().any(|s| s.key.as_ref() == key)
            };
            let keys = unwanted(&allowed, &mut judged);
            if !keys.is_empty() {
                judged
                    .findings
                    .push(finding(Problem::NotAllowed(StateName::Ready), keys));
            }
            let missing: Vec<String> = current_renditions(ready)
                .filter(|key| !has(key))
                .map(ToString::to_string)
                .collect();
            if !missing.is_empty() {
                judged
                    .findings
                    .push(finding(Problem::RenditionsMissing, missing));
            }
        }
    }
    judged
}

/// The renditions a READY row serves: every recorded one, and its thumbnail (the only one on
/// rows written before renditions were recorded).
fn current_renditions(ready: &ReadyImage) -> impl Iterator<Item = &ObjectKey> {
    let legacy = ready
        .renditions
        .iter()
        .all(|r| r.key != ready.thumbnail_key)
        .then_some(&ready.thumbnail_key);
    ready.renditions.iter().map(|r| &r.key).chain(legacy)
}

#[cfg(test)]
mod tests;
