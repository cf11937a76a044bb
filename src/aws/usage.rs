//! Each owner's usage item, in the metadata table beside the images' rows under the key
//! `usage#{owner}` (image ids are UUIDs, which have no `#`; the item has no `owner` or
//! `createdAt`, so the owner index never lists it).
//!
//! - Starting an upload counts it with one conditional update of the item, which refuses when a
//!   limit would be broken ([`MetadataTable::charge`]): concurrent requests are serialized by
//!   DynamoDB on the one item, so no read decides anything.
//! - The upload's slot (`inFlight`, a string set of [`InFlight::entry`]) holds one image and its
//!   bytes until the row settles, is deleted, or the slot lapses. Settling and deleting change the
//!   row and the item in one transaction, the item's part conditional on the slot still being
//!   there, so a count is given back exactly once.
//! - A lapsed slot is given back by the next upload its owner starts, when the limits would
//!   refuse it otherwise: no stream and no sweep is needed for an abandoned upload's count.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use time::OffsetDateTime;

use super::{AwsError, MetadataTable, TABLE_KEY};
use crate::domain::{InFlight, Owner, QuotaPolicy, QuotaRefusal, Usage, hour_of};

/// The prefix of the usage items' keys.
pub const USAGE_KEY_PREFIX: &str = "usage#";

/// How often a write that lost a race on the usage item is tried before giving up (503).
const ATTEMPTS: u32 = 10;

/// What became of a new upload's count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Counted: the upload may start.
    Admitted,
    /// Not counted: a limit would be broken.
    Refused(QuotaRefusal),
}

/// `update` as an item of a transaction.
pub(super) fn in_transaction(update: Update) -> TransactWriteItem {
    TransactWriteItem::builder().update(update).build()
}

/// What became of a transaction of a row and its owner's usage item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Written {
    Applied,
    /// The row's condition failed (the first item): nothing was written.
    RowChanged,
    /// The usage item's condition failed (the second item): nothing was written.
    UsageChanged,
}

fn usage_key(owner: &Owner) -> AttributeValue {
    AttributeValue::S(format!("{USAGE_KEY_PREFIX}{}", owner.as_ref()))
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The item's attribute names, as placeholders (`bytes` and `hour` are reserved words).
fn names() -> HashMap<String, String> {
    [
        ("#images", "images"),
        ("#bytes", "bytes"),
        ("#inFlight", "inFlight"),
        ("#hour", "hour"),
        ("#started", "startedInHour"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A failed charge attempt.
enum ChargeFailure {
    /// A condition failed; the item as it was, when DynamoDB returned it.
    Condition(Option<HashMap<String, AttributeValue>>),
    /// Another write on the item was in progress.
    Conflict,
    Aws(AwsError),
}

impl MetadataTable {
    /// Counts a new upload (`slot`) against its owner's limits at `now`, in one conditional
    /// update of the usage item; refused, nothing is written. When the item's conditions fail,
    /// its old value says why: a limit (refused, with the reason), a new hour (the hour's count
    /// restarts), or slots that have lapsed (given back, then tried again).
    ///
    /// # Errors
    /// [`AwsError`] when DynamoDB fails, or the item kept changing under every attempt.
    pub async fn charge(
        &self,
        owner: &Owner,
        slot: &InFlight,
        policy: &QuotaPolicy,
        now: OffsetDateTime,
    ) -> Result<Admission, AwsError> {
        if slot.bytes > policy.max_bytes {
            return Ok(Admission::Refused(QuotaRefusal::Bytes {
                max: policy.max_bytes,
            }));
        }
        let mut hour = hour_of(now);
        let mut same_hour = true;
        for attempt in 0..ATTEMPTS {
            let old = match self
                .charge_once(owner, slot, policy, &hour, same_hour)
                .await
            {
                Ok(()) => return Ok(Admission::Admitted),
                Err(ChargeFailure::Aws(error)) => return Err(error),
                Err(ChargeFailure::Conflict) => {
                    backoff(attempt).await;
                    continue;
                }
                Err(ChargeFailure::Condition(old)) => old,
            };
            let usage = match old {
                Some(item) => parse_usage(&item)?,
                None => self.usage(owner).await?,
            };
            if usage.in_flight.contains(slot) {
                // An earlier attempt of this charge landed after all.
                return Ok(Admission::Admitted);
            }
            if let Some(refusal) = usage.refusal(slot.bytes, policy, now) {
                return Ok(Admission::Refused(refusal));
            }
            for lapsed in usage.lapsed(now) {
                self.release_slot(owner, lapsed).await?;
            }
            // An hour never goes back: when another instance's clock already turned it, this
            // upload counts in that hour.
            if let Some(stored) = usage.hour.as_ref().filter(|stored| **stored > hour) {
                hour = stored.clone();
            }
            same_hour = usage.hour.as_deref() == Some(hour.as_str());
        }
        Err(AwsError::unavailable(
            "counting an upload in its owner's usage",
            "the usage item changed under every attempt",
        ))
    }

    async fn charge_once(
        &self,
        owner: &Owner,
        slot: &InFlight,
        policy: &QuotaPolicy,
        hour: &str,
        same_hour: bool,
    ) -> Result<(), ChargeFailure> {
        let mut values = HashMap::from([
            (":zero".to_owned(), n(0)),
            (":one".to_owned(), n(1)),
            (":bytes".to_owned(), n(slot.bytes)),
            (":maxImages".to_owned(), n(policy.max_images)),
            (":room".to_owned(), n(policy.max_bytes - slot.bytes)),
            (":maxInFlight".to_owned(), n(policy.max_in_flight)),
            (":hour".to_owned(), AttributeValue::S(hour.to_owned())),
            (":slot".to_owned(), AttributeValue::Ss(vec![slot.entry()])),
            (":entry".to_owned(), AttributeValue::S(slot.entry())),
        ]);
        // Not already counted: an attempt the SDK retries after a timeout may have landed.
        let mut condition = "(attribute_not_exists(#images) OR #images < :maxImages) \
             AND (attribute_not_exists(#bytes) OR #bytes <= :room) \
             AND (attribute_not_exists(#inFlight) OR (size(#inFlight) < :maxInFlight \
             AND NOT contains(#inFlight, :entry)))"
            .to_owned();
        let started = if same_hour {
            values.insert(":maxHour".into(), n(policy.max_per_hour));
            condition.push_str(" AND #hour = :hour AND #started < :maxHour");
            "#started = #started + :one"
        } else {
            // Only forward: a request whose clock read the hour before (another instance's)
            // cannot turn a newer hour back and restart its count.
            condition.push_str(" AND (attribute_not_exists(#hour) OR #hour < :hour)");
            "#hour = :hour, #started = :one"
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(TABLE_KEY, usage_key(owner))
            .update_expression(format!(
                "SET #images = if_not_exists(#images, :zero) + :one, \
                 #bytes = if_not_exists(#bytes, :zero) + :bytes, {started} \
                 ADD #inFlight :slot"
            ))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names()))
            .set_expression_attribute_values(Some(values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Err(ChargeFailure::Condition(failed.item().cloned()))
                }
                Some(e) if e.code() == Some("TransactionConflictException") => {
                    Err(ChargeFailure::Conflict)
                }
                _ => Err(ChargeFailure::Aws(AwsError::classify(
                    "counting an upload in its owner's usage",
                    error,
                ))),
            },
        }
    }

    /// Gives back `slot` (one image and its bytes) if its owner's usage still holds it: for an
    /// upload whose row was never written, or a slot that lapsed. Whether it was still held.
    ///
    /// # Errors
    /// [`AwsError`] when DynamoDB fails.
    pub async fn release_slot(&self, owner: &Owner, slot: &InFlight) -> Result<bool, AwsError> {
        const CONTEXT: &str = "giving back an upload's count";
        let update = self.usage_release(owner, slot)?;
        for attempt in 0..ATTEMPTS {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(TABLE_KEY, usage_key(owner))
                .update_expression(update.update_expression())
                .set_condition_expression(update.condition_expression().map(str::to_owned))
                .set_expression_attribute_names(update.expression_attribute_names().cloned())
                .set_expression_attribute_values(update.expression_attribute_values().cloned())
                .send()
                .await;
            match result {
                Ok(_) => return Ok(true),
                Err(error) => match error.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(_)) => return Ok(false),
                    Some(e) if e.code() == Some("TransactionConflictException") => {
                        backoff(attempt).await;
                    }
                    _ => return Err(AwsError::classify(CONTEXT, error)),
                },
            }
        }
        Err(AwsError::unavailable(
            CONTEXT,
            "the usage item changed under every attempt",
        ))
    }

    /// An owner's usage item (strongly consistent); the empty usage when there is none.
    ///
    /// # Errors
    /// [`AwsError`] when the read fails or the item is malformed.
    pub async fn usage(&self, owner: &Owner) -> Result<Usage, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(TABLE_KEY, usage_key(owner))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::classify("reading an owner's usage", e))?;
        output.item().map_or(Ok(Usage::default()), parse_usage)
    }

    /// The usage item's part of settling a PENDING row READY: the slot becomes the image at its
    /// verified size. Conditional on the slot.
    pub(super) fn usage_transfer(
        &self,
        owner: &Owner,
        slot: &InFlight,
        size: u64,
    ) -> Result<Update, AwsError> {
        let delta = i128::from(size) - i128::from(slot.bytes);
        self.usage_item(
            owner,
            "SET #bytes = #bytes + :delta DELETE #inFlight :slot",
            Some("contains(#inFlight, :entry)"),
            [
                (":delta", n(delta)),
                (":slot", AttributeValue::Ss(vec![slot.entry()])),
                (":entry", AttributeValue::S(slot.entry())),
            ],
        )
    }

    /// The usage item's part of giving back a slot (a REJECTED or deleted PENDING image, a
    /// lapsed slot). Conditional on the slot.
    pub(super) fn usage_release(&self, owner: &Owner, slot: &InFlight) -> Result<Update, AwsError> {
        self.usage_item(
            owner,
            "SET #images = #images - :one, #bytes = #bytes - :bytes DELETE #inFlight :slot",
            Some("contains(#inFlight, :entry)"),
            [
                (":one", n(1)),
                (":bytes", n(slot.bytes)),
                (":slot", AttributeValue::Ss(vec![slot.entry()])),
                (":entry", AttributeValue::S(slot.entry())),
            ],
        )
    }

    /// The usage item's part of settling READY an image whose slot lapsed: counted anew, even
    /// over a limit (the upload is there).
    pub(super) fn usage_recount(&self, owner: &Owner, size: u64) -> Result<Update, AwsError> {
        self.usage_item(
            owner,
            "SET #images = if_not_exists(#images, :zero) + :one, \
             #bytes = if_not_exists(#bytes, :zero) + :bytes",
            None,
            [(":zero", n(0)), (":one", n(1)), (":bytes", n(size))],
        )
    }

    /// The usage item's part of deleting a READY image of `bytes`. The row's own condition makes
    /// it happen once.
    pub(super) fn usage_drop(&self, owner: &Owner, bytes: u64) -> Result<Update, AwsError> {
        self.usage_item(
            owner,
            "SET #images = #images - :one, #bytes = #bytes - :bytes",
            None,
            [(":one", n(1)), (":bytes", n(bytes))],
        )
    }

    fn usage_item<const N: usize>(
        &self,
        owner: &Owner,
        update: &str,
        condition: Option<&str>,
        values: [(&str, AttributeValue); N],
    ) -> Result<Update, AwsError> {
        // Only the placeholders this expression uses: DynamoDB refuses unused ones.
        let text = format!("{update} {}", condition.unwrap_or_default());
        let names = names()
            .into_iter()
            .filter(|(placeholder, _)| {
                text.split(|c: char| !(c.is_alphanumeric() || c == '#'))
                    .any(|word| word == placeholder)
            })
            .collect();
        Update::builder()
            .table_name(&self.table)
            .key(TABLE_KEY, usage_key(owner))
            .update_expression(update)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(
                values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            ))
            .build()
            .map_err(|e| AwsError::failed("writing an owner's usage", e))
    }

    /// Writes `items` (a row's, then its owner's usage item's) in one transaction, trying again
    /// while another write on them is in progress.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        context: &'static str,
    ) -> Result<Written, AwsError> {
        for attempt in 0..ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(Written::Applied),
                Err(error) => error,
            };
            let conflict = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let codes: Vec<&str> = cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|reason| reason.code().unwrap_or("None"))
                        .collect();
                    match codes.as_slice() {
                        ["ConditionalCheckFailed", ..] => return Ok(Written::RowChanged),
                        [_, "ConditionalCheckFailed", ..] => return Ok(Written::UsageChanged),
                        codes => codes.contains(&"TransactionConflict"),
                    }
                }
                Some(e) => e.code() == Some("TransactionConflictException"),
                None => false,
            };
            if !conflict {
                return Err(AwsError::classify(context, error));
            }
            backoff(attempt).await;
        }
        Err(AwsError::unavailable(
            context,
            "the row or its owner's usage changed under every attempt",
        ))
    }
}

/// Waits before another attempt on a contended item: up to 10 ms doubling with each attempt (to
/// 320 ms), at a random point of that window so that contenders spread out.
async fn backoff(attempt: u32) {
    use std::hash::{BuildHasher, RandomState};
    let window = 10u64 << attempt.min(5);
    let random = RandomState::new().hash_one(attempt);
    tokio::time::sleep(Duration::from_millis(1 + random % window)).await;
}

/// A usage item as stored. Counts below zero (which no sequence of these writes makes) read as
/// zero rather than failing every upload of the owner.
fn parse_usage(item: &HashMap<String, AttributeValue>) -> Result<Usage, AwsError> {
    let malformed = |name: &str| {
        AwsError::failed(
            "reading an owner's usage",
            format!("the usage item's `{name}` is malformed"),
        )
    };
    let count = |name: &str| -> Result<u64, AwsError> {
        match item.get(name) {
            None => Ok(0),
            Some(value) => value
                .as_n()
                .ok()
                .and_then(|n| n.parse::<i64>().ok())
                .map(|n| u64::try_from(n).unwrap_or(0))
                .ok_or_else(|| malformed(name)),
        }
    };
    let in_flight = match item.get("inFlight") {
        None => Vec::new(),
        Some(value) => value
            .as_ss()
            .map_err(|_| malformed("inFlight"))?
            .iter()
            .map(|entry| InFlight::parse_entry(entry).ok_or_else(|| malformed("inFlight")))
            .collect::<Result<_, _>>()?,
    };
    let hour = match item.get("hour") {
        None => None,
        Some(value) => Some(value.as_s().map_err(|_| malformed("hour"))?.clone()),
    };
    Ok(Usage {
        images: count("images")?,
        bytes: count("bytes")?,
        in_flight,
        hour,
        started_in_hour: u32::try_from(count("startedInHour")?).unwrap_or(u32::MAX),
    })
}
