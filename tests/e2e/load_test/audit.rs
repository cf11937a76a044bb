//! After a run: wait (bounded) until the processor has drained its queue, then count what was
//! lost. Every READY row has its verified original and every rendition it names; no object lacks
//! a row that allows it (a REJECTED or deleted image keeps nothing, a PENDING one only its
//! upload, never an unprocessed one after the drain); every upload S3 accepted ended READY or
//! REJECTED as its file deserves, or was deleted by its user, whose row is then gone; every
//! user's usage item counts exactly their rows, and `GET /usage` says so too; the hour's count
//! is within what the users started; no message went to the dead-letter queue.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use image_upload::aws::USAGE_KEY_PREFIX;
use image_upload::domain::{ImageMetadata, ImageState};
use serde_json::Value;

use super::users::{LoadUser, PostAnswer, UserLog, Verdict};
use crate::helpers::{TestApp, held_by, number};

type Item = HashMap<String, AttributeValue>;

/// How many findings of each kind the audit prints in full.
const SHOWN: usize = 5;

/// Messages in the upload queue (waiting, in flight or delayed) and in its dead-letter queue.
pub async fn queued(app: &TestApp) -> (i64, i64) {
    let count = |url: String, names: &'static [QueueAttributeName]| async move {
        let attributes = app
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes
            .unwrap_or_default();
        names
            .iter()
            .map(|name| {
                attributes
                    .get(name)
                    .map_or(0, |n| n.parse::<i64>().unwrap())
            })
            .sum::<i64>()
    };
    const ALL: &[QueueAttributeName] = &[
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
    ];
    let queue = count(app.queue_url.clone().expect("a queue"), ALL).await;
    let dead = count(
        app.dead_letter_url.clone().expect("a dead-letter queue"),
        ALL,
    )
    .await;
    (queue, dead)
}

/// Messages the processor has received and not yet finished (deleted or let go).
pub async fn in_flight(app: &TestApp) -> i64 {
    let attributes = app
        .sqs
        .get_queue_attributes()
        .queue_url(app.queue_url.clone().expect("a queue"))
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .unwrap_or_default();
    attributes
        .get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .map_or(0, |n| n.parse().unwrap())
}

/// Waits until the upload queue has been empty for two looks in a row, at most `bound`; how
/// long that took.
pub async fn drain(app: &TestApp, bound: Duration) -> Duration {
    let started = Instant::now();
    let mut empty_looks = 0;
    while started.elapsed() < bound {
        let (queue, _) = queued(app).await;
        empty_looks = if queue == 0 { empty_looks + 1 } else { 0 };
        if empty_looks == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    started.elapsed()
}

/// What the audit found: counts of what it checked, and every violation.
#[derive(Debug, Default)]
pub struct Audit {
    pub rows_by_status: BTreeMap<String, usize>,
    pub objects: usize,
    pub ready_objects_checked: usize,
    pub handed_out: usize,
    pub accepted: usize,
    pub accepted_ready: usize,
    pub accepted_rejected: usize,
    pub deleted_by_users: usize,
    pub put_failed: usize,
    /// Rows whose id no user was given (their `POST /upload` failed), each still PENDING with no
    /// upload: written after the API had answered 5xx.
    pub rows_never_handed_out: usize,
    /// Slots whose row was never written, from `POST`s that failed: they lapse at their time
    /// (decision 0027), and count until then.
    pub lapsing_slots: usize,
    pub usage_items_checked: usize,
    pub queue_left: i64,
    pub dead_letters: i64,
    pub findings: BTreeMap<&'static str, Vec<String>>,
}

impl Audit {
    fn find(&mut self, kind: &'static str, detail: String) {
        self.findings.entry(kind).or_default().push(detail);
    }

    /// Whether nothing was lost or miscounted.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// How many uploads the users saw settle READY or REJECTED, deleted ones included.
    pub fn settled(&self) -> usize {
        self.accepted_ready + self.accepted_rejected
    }
}

/// The audit of `app` after a run of `users` whose logs are `logs`.
pub async fn audit(app: &TestApp, users: &[LoadUser], logs: &[UserLog]) -> Audit {
    let mut audit = Audit::default();
    let (queue_left, dead_letters) = queued(app).await;
    audit.queue_left = queue_left;
    audit.dead_letters = dead_letters;
    if queue_left > 0 {
        audit.find(
            "messages still in the upload queue after the drain",
            format!("{queue_left}"),
        );
    }
    if dead_letters > 0 {
        audit.find(
            "messages in the dead-letter queue (processing gave up)",
            format!("{dead_letters}"),
        );
    }

    let (usage_items, rows): (Vec<Item>, Vec<Item>) = app
        .all_items()
        .await
        .into_iter()
        .partition(|item| text(item, "imageId").starts_with(USAGE_KEY_PREFIX));
    let objects = all_objects(app).await;
    audit.objects = objects.len();
    let rows_by_id: HashMap<String, &Item> =
        rows.iter().map(|row| (text(row, "imageId"), row)).collect();
    for row in &rows {
        *audit.rows_by_status.entry(text(row, "status")).or_default() += 1;
    }

    // What each row allows in the bucket, read as the service reads rows.
    let mut allowed: HashMap<String, HashSet<String>> = HashMap::new();
    for row in &rows {
        let id = text(row, "imageId");
        let image = match ImageMetadata::try_from(row) {
            Ok(image) => image,
            Err(e) => {
                audit.find("rows the service cannot read", format!("{id}: {e}"));
                continue;
            }
        };
        let keys = allowed.entry(id.clone()).or_default();
        match &image.state {
            ImageState::Pending => {
                keys.insert(image.object_key.as_ref().to_owned());
                if objects.contains(image.object_key.as_ref()) {
                    audit.find(
                        "PENDING rows whose upload is in the bucket after the drain (never processed)",
                        id.clone(),
                    );
                }
            }
            ImageState::Ready(ready) => {
                let mut needed: BTreeSet<&str> =
                    [ready.original_key.as_ref(), ready.thumbnail_key.as_ref()].into();
                needed.extend(ready.renditions.iter().map(|r| r.key.as_ref()));
                for key in needed {
                    audit.ready_objects_checked += 1;
                    if !objects.contains(key) {
                        audit.find("READY rows missing an object", format!("{id}: {key}"));
                    }
                    keys.insert(key.to_owned());
                }
                keys.insert(image.object_key.as_ref().to_owned());
                keys.extend(ready.superseded.iter().map(|s| s.key.as_ref().to_owned()));
            }
            ImageState::Rejected(_) => {}
        }
    }
    for key in &objects {
        let id = image_id_of(key);
        let permitted = id
            .as_ref()
            .and_then(|id| allowed.get(id))
            .is_some_and(|keys| keys.contains(key));
        if !permitted {
            let row = id
                .as_ref()
                .and_then(|id| rows_by_id.get(id))
                .map_or("no row".to_owned(), |row| text(row, "status"));
            audit.find("objects no row allows", format!("{key} (its image: {row})"));
        }
    }

    // What the users were given, and saw.
    let mut handed_out: HashMap<&str, usize> = HashMap::new();
    for (n, log) in logs.iter().enumerate() {
        for upload in &log.uploads {
            audit.handed_out += 1;
            handed_out.insert(&upload.image_id, n);
            let row = rows_by_id.get(&upload.image_id);
            let id = &upload.image_id;
            if !upload.accepted {
                audit.put_failed += 1;
                if upload.deleted && row.is_some() {
                    audit.find("deleted images that still have a row", id.clone());
                }
                continue;
            }
            audit.accepted += 1;
            let deserved = match upload.sample.verdict {
                Verdict::Ready => "READY".to_owned(),
                Verdict::Rejected(reason) => format!("REJECTED {reason}"),
            };
            match upload.seen.as_deref() {
                Some("READY") => audit.accepted_ready += 1,
                Some(seen) if seen.starts_with("REJECTED") => audit.accepted_rejected += 1,
                _ => {}
            }
            if let Some(seen) = &upload.seen
                && *seen != deserved
            {
                audit.find(
                    "uploads settled with the wrong verdict",
                    format!("{id} ({}): seen {seen}, not {deserved}", upload.sample.name),
                );
            }
            if upload.deleted {
                audit.deleted_by_users += 1;
                if row.is_some() {
                    audit.find("deleted images that still have a row", id.clone());
                }
                continue;
            }
            let Some(row) = row else {
                audit.find(
                    "accepted uploads whose row is gone, not deleted by their user",
                    id.clone(),
                );
                continue;
            };
            let found = match text(row, "status").as_str() {
                "READY" => "READY".to_owned(),
                "REJECTED" => format!("REJECTED {}", text(row, "rejectionReason")),
                status => {
                    audit.find(
                        "accepted uploads never settled (lost)",
                        format!("{id} ({}): {status}", upload.sample.name),
                    );
                    continue;
                }
            };
            if found != deserved {
                audit.find(
                    "uploads settled with the wrong verdict",
                    format!("{id} ({}): {found}, not {deserved}", upload.sample.name),
                );
            } else if upload.seen.as_ref().is_some_and(|seen| *seen != found) {
                audit.find(
                    "images whose status changed after they settled",
                    format!("{id}: seen {:?}, now {found}", upload.seen),
                );
            }
        }
    }
    let failed_posts: Vec<usize> = logs
        .iter()
        .map(|log| {
            log.posts
                .iter()
                .filter(|p| p.answer == PostAnswer::Failed)
                .count()
        })
        .collect();
    let owners: HashMap<&str, usize> = users
        .iter()
        .enumerate()
        .map(|(n, user)| (user.sub.as_str(), n))
        .collect();
    // Rows no user was given: their POST failed (the row landed after the API gave up on it).
    let mut unknown_ids: Vec<HashSet<String>> = vec![HashSet::new(); users.len()];
    for row in &rows {
        let id = text(row, "imageId");
        if handed_out.contains_key(id.as_str()) {
            continue;
        }
        let owner = owners.get(text(row, "owner").as_str()).copied();
        let pending = text(row, "status") == "PENDING";
        match owner {
            Some(n) if pending => {
                audit.rows_never_handed_out += 1;
                unknown_ids[n].insert(id);
            }
            _ => audit.find(
                "rows no user was given that are not PENDING, or of no user",
                format!("{id}: {}", text(row, "status")),
            ),
        }
    }

    // Each user's usage item against their rows, and what GET /usage tells them.
    let usage_by_owner: HashMap<String, &Item> = usage_items
        .iter()
        .map(|item| {
            let key = text(item, "imageId");
            (key[USAGE_KEY_PREFIX.len()..].to_owned(), item)
        })
        .collect();
    for (n, user) in users.iter().enumerate() {
        let own: Vec<Item> = rows
            .iter()
            .filter(|row| text(row, "owner") == user.sub)
            .cloned()
            .collect();
        let Some(usage) = usage_by_owner.get(&user.sub) else {
            if !own.is_empty() {
                audit.find("users with rows and no usage item", user.name.clone());
            }
            continue;
        };
        audit.usage_items_checked += 1;
        let held = match held_by(&own, usage) {
            Ok(held) => held,
            Err(e) => {
                audit.find("usage items that miscount", format!("{}: {e}", user.name));
                continue;
            }
        };
        let (mut images, mut bytes) = (held.images, held.bytes);
        for slot in &held.orphan_slots {
            let id = slot.image_id.to_string();
            if handed_out.contains_key(id.as_str()) || rows_by_id.contains_key(&id) {
                audit.find(
                    "slots counted without their PENDING row",
                    format!("{}: {}", user.name, slot.entry()),
                );
            } else {
                audit.lapsing_slots += 1;
                unknown_ids[n].insert(id);
                images += 1;
                bytes += i64::try_from(slot.bytes).unwrap();
            }
        }
        let counted = (number(usage, "images"), number(usage, "bytes"));
        if counted != (images, bytes) {
            audit.find(
                "usage items that miscount",
                format!(
                    "{}: the item counts {counted:?} (images, bytes), the rows and lapsing slots hold {:?}",
                    user.name,
                    (images, bytes)
                ),
            );
        }
        if unknown_ids[n].len() > failed_posts[n] {
            audit.find(
                "more rows and slots no user was given than POSTs that failed",
                format!(
                    "{}: {} of them, {} POSTs failed",
                    user.name,
                    unknown_ids[n].len(),
                    failed_posts[n]
                ),
            );
        }
        let in_flight = usize::try_from(held.in_flight).unwrap() + held.orphan_slots.len();
        hour_count(&mut audit, user, &logs[n], usage);
        usage_answer(&mut audit, app, user, (images, bytes, in_flight)).await;
    }
    audit
}

/// The usage item's count of uploads started this hour against the user's `POST`s: at least
/// those admitted within the hour, at most those that may have been counted in it.
fn hour_count(audit: &mut Audit, user: &LoadUser, log: &UserLog, usage: &Item) {
    let hour = usage.get("hour").and_then(|v| v.as_s().ok());
    let started = number(usage, "startedInHour");
    let (mut least, mut most) = (0, 0);
    for post in &log.posts {
        let within = |h: &String| Some(h) == hour;
        if post.answer == PostAnswer::Admitted && within(&post.sent_in) && within(&post.answered_in)
        {
            least += 1;
        }
        if post.answer != PostAnswer::Refused
            && (within(&post.sent_in) || within(&post.answered_in))
        {
            most += 1;
        }
    }
    if !(least..=most).contains(&started) {
        audit.find(
            "hour counts outside what the user started",
            format!(
                "{}: {started} started in {hour:?}, the user had {least} to {most}",
                user.name
            ),
        );
    }
}

/// `GET /usage` as `user` against what their usage item holds: images, bytes, slots in flight.
async fn usage_answer(
    audit: &mut Audit,
    app: &TestApp,
    user: &LoadUser,
    (images, bytes, in_flight): (i64, i64, usize),
) {
    let response = app
        .http
        .get(format!("{}/usage", app.address))
        .bearer_auth(&user.id_token)
        .send()
        .await
        .expect("GET /usage");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let seen = (
        body["images"].as_i64(),
        body["bytes"].as_i64(),
        body["uploadsInFlight"].as_u64(),
    );
    let expected = (Some(images), Some(bytes), Some(in_flight as u64));
    if status != 200 || seen != expected {
        audit.find(
            "GET /usage answers that differ from the rows",
            format!(
                "{}: {status} {seen:?} (images, bytes, in flight), the rows hold {expected:?}",
                user.name
            ),
        );
    }
}

/// Every key in the app's bucket.
async fn all_objects(app: &TestApp) -> HashSet<String> {
    let mut keys = HashSet::new();
    let mut pages = app
        .s3
        .list_objects_v2()
        .bucket(&app.bucket)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.expect("ListObjectsV2");
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    keys
}

/// The image id an object's key names (`uploads/{id}.{ext}`, `originals/{id}.{ext}`,
/// `renditions/{id}/…`, `thumbnails/{id}.jpg`), if it names one.
fn image_id_of(key: &str) -> Option<String> {
    let (_, rest) = key.split_once('/')?;
    let id = rest.get(..36)?;
    image_upload::domain::ImageId::parse(id).map(|id| id.to_string())
}

fn text(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

impl fmt::Display for Audit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut statuses: Vec<String> = self
            .rows_by_status
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect();
        if statuses.is_empty() {
            statuses.push("none".into());
        }
        writeln!(
            f,
            "audit: {} rows ({}), {} objects, {} usage items",
            self.rows_by_status.values().sum::<usize>(),
            statuses.join(", "),
            self.objects,
            self.usage_items_checked
        )?;
        writeln!(
            f,
            "  {} uploads handed out; {} accepted by S3: {} seen READY, {} seen REJECTED, {} deleted by their users; {} PUTs failed",
            self.handed_out,
            self.accepted,
            self.accepted_ready,
            self.accepted_rejected,
            self.deleted_by_users,
            self.put_failed
        )?;
        writeln!(
            f,
            "  {} objects of READY rows checked; {} rows and {} lapsing slots from POSTs answered 5xx; {} messages left in the queue, {} dead letters",
            self.ready_objects_checked,
            self.rows_never_handed_out,
            self.lapsing_slots,
            self.queue_left,
            self.dead_letters
        )?;
        if self.is_clean() {
            return writeln!(
                f,
                "  nothing lost: every READY row has its objects, no object lacks its row, every count matches"
            );
        }
        for (kind, details) in &self.findings {
            writeln!(f, "  FOUND {} {kind}:", details.len())?;
            for detail in details.iter().take(SHOWN) {
                writeln!(f, "    {detail}")?;
            }
            if details.len() > SHOWN {
                writeln!(f, "    … and {} more", details.len() - SHOWN)?;
            }
        }
        Ok(())
    }
}
