use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, ReturnValue, TransactWriteItem, Update,
};
use time::format_description::{BorrowedFormatItem, well_known::Rfc3339};
use time::{OffsetDateTime, macros::format_description};

use super::AwsError;
use super::usage::{Written, in_transaction};
use crate::domain::{
    Counted, FileName, ImageId, ImageMetadata, ImageState, ImageType, InFlight, MultipartUpload,
    ObjectKey, Owner, PartPlan, ReadyImage, Rejection, RejectionReason, RenditionFormat,
    RenditionName, StateName, StoredRendition, Superseded, UploadSize,
};

/// The attribute DynamoDB's TTL is set on (epoch seconds): abandoned PENDING rows and REJECTED
/// rows expire by it; READY rows do not have it.
pub const ITEM_TTL_ATTRIBUTE: &str = "pendingExpiry";

/// The table's partition key (a string: the image id).
pub const TABLE_KEY: &str = "imageId";

/// The index the gallery lists by: partition `owner`, sort `createdAt`.
pub const OWNER_INDEX: &str = "byOwner";

/// [`OWNER_INDEX`]'s key: (partition, sort), both strings. Its projection must be ALL: a listing
/// reads whole items from it.
pub const OWNER_INDEX_KEY: (&str, &str) = ("owner", "createdAt");

/// Times are stored with exactly three fractional digits, so that their strings sort as times
/// (RFC 3339 formatting drops trailing zeros: `…:00Z` would sort after `…:00.5Z`).
const STORED_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// The `ImageMetadata` table: one item per image, partition key `imageId`.
#[derive(Clone, Debug)]
pub struct MetadataTable {
    pub(super) client: aws_sdk_dynamodb::Client,
    pub(super) table: String,
}

/// A row's count in its owner's usage while PENDING: its slot in flight ([`InFlight::entry`]).
const QUOTA_SLOT: &str = "quotaSlot";
/// A row's count in its owner's usage once READY: its verified size.
const QUOTA_BYTES: &str = "quotaBytes";

/// What became of a conditional write (a status change, or a delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The row was in the expected status, and the write was applied.
    Applied,
    /// The row was no longer in the expected status (or, for a status change, no longer there):
    /// someone changed it first. Nothing was written.
    Changed,
}

/// Where a page of a listing starts: just after this image (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageKey {
    pub created_at: OffsetDateTime,
    pub image_id: ImageId,
}

/// One page of a scan: the READY rows among those read, the READY rows that could not be read
/// back, and where the next page starts (`None` when the table has been read to its end).
#[derive(Debug)]
pub struct ScanPage {
    pub images: Vec<ImageMetadata>,
    pub malformed: Vec<MalformedRow>,
    pub next: Option<ScanCursor>,
}

/// Where a scan goes on: the key of the last item read, whatever it is. A page may end on an
/// item that is not an image (an owner's usage item), which the filter left out of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanCursor(String);

/// A stored row that is not an [`ImageMetadata`]: its key as stored (`None` if it has none that
/// is a string), and what is wrong with it.
#[derive(Debug)]
pub struct MalformedRow {
    pub image_id: Option<String>,
    pub error: MalformedItem,
}

/// One page of an owner's images, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    pub images: Vec<ImageMetadata>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<PageKey>,
}

impl MetadataTable {
    /// The table named `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Writes a new row, refusing to overwrite one with the same `imageId`.
    ///
    /// # Errors
    /// [`AwsError::Unavailable`] on throttling, timeouts and AWS-side failures; [`AwsError::Failed`]
    /// otherwise (including an existing row with the same id).
    pub async fn insert(&self, record: &ImageMetadata) -> Result<(), AwsError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)))
            .condition_expression("attribute_not_exists(imageId)")
            .send()
            .await
            .map_err(|e| AwsError::classify("writing image metadata", e))?;
        Ok(())
    }

    /// Reads one row (strongly consistent).
    ///
    /// # Errors
    /// [`AwsError`] when the read fails or the stored item is malformed.
    pub async fn get(&self, id: ImageId) -> Result<Option<ImageMetadata>, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(TABLE_KEY, AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| AwsError::classify("reading image metadata", e))?;
        output
            .item()
            .map(|item| {
                ImageMetadata::try_from(item)
                    .map_err(|e| AwsError::failed("reading image metadata", e))
            })
            .transpose()
    }

    /// Reads the rows of `ids` that exist (strongly consistent), 100 to a request, in no
    /// particular order: for operators' tools (`reprocess`).
    ///
    /// # Errors
    /// [`AwsError`] when a read fails or a stored item is malformed.
    pub async fn get_many(&self, ids: &[ImageId]) -> Result<Vec<ImageMetadata>, AwsError> {
        const CONTEXT: &str = "reading image metadata";
        let mut rows = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(100) {
            let keys: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|id| HashMap::from([(TABLE_KEY.to_owned(), s(&id.to_string()))]))
                .collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| AwsError::failed(CONTEXT, e))?,
            );
            // DynamoDB may answer part of a batch and return the rest as unprocessed.
            while let Some(keys) = request.take() {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys)
                    .send()
                    .await
                    .map_err(|e| AwsError::classify(CONTEXT, e))?;
                if let Some(items) = output.responses().and_then(|r| r.get(&self.table)) {
                    for item in items {
                        rows.push(
                            ImageMetadata::try_from(item)
                                .map_err(|e| AwsError::failed(CONTEXT, e))?,
                        );
                    }
                }
                request = output
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .filter(|k| !k.keys().is_empty())
                    .cloned();
                if request.is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        }
        Ok(rows)
    }

    /// Moves a PENDING row to `state` (READY or REJECTED), only if it is still PENDING, so a
    /// redelivered event can neither apply twice nor move a settled row back. A row counted in
    /// its owner's usage moves its count in the same transaction: READY keeps the image at its
    /// verified size, REJECTED gives it back; a slot that lapsed (and was given back) meanwhile
    /// is counted again for a READY image.
    ///
    /// # Errors
    /// [`AwsError`] when the write fails for any reason but the row not being PENDING.
    pub async fn settle(
        &self,
        row: &ImageMetadata,
        state: &ImageState,
    ) -> Result<Transition, AwsError> {
        const CONTEXT: &str = "settling image metadata";
        if state.status() == StateName::Pending {
            return Err(AwsError::failed(
                CONTEXT,
                "a row cannot be settled as PENDING",
            ));
        }
        let slot = match &row.counted {
            Some(Counted::InFlight(slot)) => Some(slot),
            _ => None,
        };
        // The same attributes `to_item` writes for this state, so the two cannot drift apart.
        let mut set = vec!["#status = :status".to_owned()];
        let mut remove = Vec::new();
        let mut values = HashMap::from([
            (":pending".to_owned(), s(StateName::Pending.as_str())),
            (":status".to_owned(), s(state.status().as_str())),
        ]);
        for (name, value) in state_attributes(state) {
            set.push(format!("{name} = :{name}"));
            values.insert(format!(":{name}"), value);
        }
        if state.status() == StateName::Ready {
            remove.push(ITEM_TTL_ATTRIBUTE);
        }
        if slot.is_some() {
            remove.push(QUOTA_SLOT);
            if let ImageState::Ready(ready) = state {
                set.push(format!("{QUOTA_BYTES} = :quotaBytes"));
                values.insert(":quotaBytes".into(), n(ready.size_bytes));
            }
        }
        let mut update = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            update.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let Some(slot) = slot else {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(TABLE_KEY, AttributeValue::S(row.image_id.to_string()))
                .update_expression(update)
                .condition_expression("#status = :pending")
                .expression_attribute_names("#status", "status")
                .set_expression_attribute_values(Some(values))
                .return_values(ReturnValue::None)
                .send()
                .await;
            return transition(result, CONTEXT, |e| {
                matches!(e, UpdateItemError::ConditionalCheckFailedException(_))
            });
        };
        let row_update = Update::builder()
            .table_name(&self.table)
            .key(TABLE_KEY, AttributeValue::S(row.image_id.to_string()))
            .update_expression(update)
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| AwsError::failed(CONTEXT, e))?;
        let row_item = TransactWriteItem::builder().update(row_update).build();
        let held = match state {
            ImageState::Ready(ready) => self.usage_transfer(&row.owner, slot, ready.size_bytes),
            _ => self.usage_release(&row.owner, slot),
        }?;
        match self
            .transact(vec![row_item.clone(), in_transaction(held)], CONTEXT)
            .await?
        {
            Written::Applied => Ok(Transition::Applied),
            Written::RowChanged => Ok(Transition::Changed),
            // The slot lapsed and was given back: a READY image is counted anew; a REJECTED one
            // has nothing left to give back.
            Written::UsageChanged => {
                let mut items = vec![row_item];
                if let ImageState::Ready(ready) = state {
                    items.push(in_transaction(
                        self.usage_recount(&row.owner, ready.size_bytes)?,
                    ));
                }
                match self.transact(items, CONTEXT).await? {
                    Written::Applied => Ok(Transition::Applied),
                    Written::RowChanged | Written::UsageChanged => Ok(Transition::Changed),
                }
            }
        }
    }

    /// Replaces a READY row's renditions with `ready`'s (its renditions, thumbnail key and
    /// processing time), only if the row is still READY and still the one processed at
    /// `processed_at`: a DELETE or another reprocessing that came first wins, and nothing is
    /// written.
    ///
    /// # Errors
    /// [`AwsError`] when the write fails for any reason but that condition.
    pub async fn replace_renditions(
        &self,
        id: ImageId,
        processed_at: OffsetDateTime,
        ready: &ReadyImage,
    ) -> Result<Transition, AwsError> {
        let values = [
            (":thumbnail", s(ready.thumbnail_key.as_ref())),
            (
                ":renditions",
                AttributeValue::L(ready.renditions.iter().map(rendition_item).collect()),
            ),
            (":superseded", superseded_item(&ready.superseded)),
            (":now", s(&format_time(ready.processed_at))),
        ];
        self.update_unchanged_ready(
            id,
            processed_at,
            "SET thumbnailKey = :thumbnail, renditions = :renditions, \
             superseded = :superseded, processedAt = :now",
            values,
            "replacing an image's renditions",
        )
        .await
    }

    /// Replaces a READY row's superseded renditions with `kept`, only if the row is still READY
    /// and processed at `processed_at` (what `kept` was computed from).
    ///
    /// # Errors
    /// [`AwsError`] when the write fails for any reason but that condition.
    pub async fn keep_superseded(
        &self,
        id: ImageId,
        processed_at: OffsetDateTime,
        kept: &[Superseded],
    ) -> Result<Transition, AwsError> {
        self.update_unchanged_ready(
            id,
            processed_at,
            "SET superseded = :superseded",
            [(":superseded", superseded_item(kept))],
            "pruning an image's superseded renditions",
        )
        .await
    }

    /// Applies `update` (with `values`) to a row only if it is still READY and processed at
    /// `processed_at`: the one condition under which reprocessing may change a settled row.
    async fn update_unchanged_ready<const N: usize>(
        &self,
        id: ImageId,
        processed_at: OffsetDateTime,
        update: &str,
        values: [(&str, AttributeValue); N],
        context: &'static str,
    ) -> Result<Transition, AwsError> {
        let values = values
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .chain([
                (":ready".to_owned(), s(StateName::Ready.as_str())),
                (":processed".to_owned(), s(&format_time(processed_at))),
            ])
            .collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(TABLE_KEY, AttributeValue::S(id.to_string()))
            .update_expression(update)
            .condition_expression("#status = :ready AND processedAt = :processed")
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::None)
            .send()
            .await;
        transition(result, context, |e| {
            matches!(e, UpdateItemError::ConditionalCheckFailedException(_))
        })
    }

    /// One page of READY rows, in the table's order, from `start_after` (exclusive). A Scan, which
    /// reads `limit` rows whatever their state: for operators' tools (`reprocess`), never for a
    /// request. A READY row that cannot be read back goes to the page's `malformed`.
    ///
    /// # Errors
    /// [`AwsError`] when the scan fails or DynamoDB answers with a malformed next key.
    pub async fn scan_ready(
        &self,
        limit: u16,
        start_after: Option<ScanCursor>,
    ) -> Result<ScanPage, AwsError> {
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("#status = :ready")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":ready", s(StateName::Ready.as_str()))
            .limit(i32::from(limit.max(1)))
            .consistent_read(true)
            .set_exclusive_start_key(
                start_after.map(|cursor| HashMap::from([(TABLE_KEY.to_owned(), s(&cursor.0))])),
            )
            .send()
            .await
            .map_err(|e| AwsError::classify("scanning image metadata", e))?;
        // One malformed row must not stop a scan of the whole table: it is set aside, named.
        let (mut images, mut malformed) = (Vec::new(), Vec::new());
        for item in output.items() {
            match ImageMetadata::try_from(item) {
                Ok(image) => images.push(image),
                Err(error) => malformed.push(MalformedRow {
                    image_id: item
                        .get(TABLE_KEY)
                        .and_then(|v| v.as_s().ok())
                        .map(|id| id.chars().take(64).collect()),
                    error,
                }),
            }
        }
        let next = match output.last_evaluated_key() {
            None => None,
            Some(key) => Some(ScanCursor(
                key.get(TABLE_KEY)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .ok_or_else(|| {
                        AwsError::failed("scanning image metadata", MalformedItem(TABLE_KEY))
                    })?,
            )),
        };
        Ok(ScanPage {
            images,
            malformed,
            next,
        })
    }

    /// Deletes `row` if it is still as it was read: its owner's, in the same status, and (once
    /// settled) processed at the same time; a row that is already gone counts as deleted. The
    /// condition lets a caller that removed the objects the row allowed notice that the processor
    /// settled or reprocessed the row meanwhile (and may have written more objects), instead of
    /// deleting the row that names them.
    ///
    /// # Errors
    /// [`AwsError`] when the delete fails for any other reason.
    pub async fn delete(&self, row: &ImageMetadata) -> Result<Transition, AwsError> {
        const CONTEXT: &str = "deleting image metadata";
        let processed_at = match &row.state {
            ImageState::Pending => None,
            ImageState::Ready(ready) => Some(ready.processed_at),
            ImageState::Rejected(rejection) => Some(rejection.processed_at),
        };
        // As read: the owner's, in the same status, (once settled) processed at the same time.
        let mut as_read = "#owner = :owner AND #status = :status".to_owned();
        let mut values = HashMap::from([
            (":owner".to_owned(), s(row.owner.as_ref())),
            (":status".to_owned(), s(row.status().as_str())),
        ]);
        if let Some(processed_at) = processed_at {
            as_read.push_str(" AND processedAt = :processed");
            values.insert(":processed".into(), s(&format_time(processed_at)));
        }
        let names = HashMap::from([
            ("#owner".to_owned(), "owner".to_owned()),
            ("#status".to_owned(), "status".to_owned()),
        ]);
        let key = AttributeValue::S(row.image_id.to_string());
        let released = match (&row.state, &row.counted) {
            (ImageState::Ready(_), Some(Counted::Stored { bytes })) => {
                Some(self.usage_drop(&row.owner, *bytes)?)
            }
            (ImageState::Pending, Some(Counted::InFlight(slot))) => {
                Some(self.usage_release(&row.owner, slot)?)
            }
            _ => None,
        };
        // Alone, the delete also succeeds on a row that is already gone (gone counts as deleted).
        let plain = async |condition: String| {
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key(TABLE_KEY, key.clone())
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .send()
                .await;
            transition(result, CONTEXT, |e| {
                matches!(e, DeleteItemError::ConditionalCheckFailedException(_))
            })
        };
        let alone = format!("attribute_not_exists(imageId) OR ({as_read})");
        let Some(released) = released else {
            return plain(alone).await;
        };
        // With the count, the row must be there: a row someone else deleted gave its count back
        // then, and must not give it twice.
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(TABLE_KEY, key.clone())
            .condition_expression(&as_read)
            .set_expression_attribute_names(Some(names.clone()))
            .set_expression_attribute_values(Some(values.clone()))
            .build()
            .map_err(|e| AwsError::failed(CONTEXT, e))?;
        let delete = TransactWriteItem::builder().delete(delete).build();
        match self
            .transact(vec![delete, in_transaction(released)], CONTEXT)
            .await?
        {
            Written::Applied => Ok(Transition::Applied),
            // Gone (then it counts as deleted, its count given back by whoever deleted it), or
            // changed (then this fails as well); or a PENDING image's slot lapsed and was given
            // back already. Either way the row goes alone, if it still may.
            Written::RowChanged | Written::UsageChanged => plain(alone).await,
        }
    }

    /// One page of `owner`'s images, newest first, from the owner index (a Query, never a Scan).
    ///
    /// # Errors
    /// [`AwsError`] when the query fails or an item is malformed.
    pub async fn list_by_owner(
        &self,
        owner: &Owner,
        limit: u16,
        start_after: Option<&PageKey>,
    ) -> Result<Page, AwsError> {
        let limit = usize::from(limit.max(1));
        let start = start_after.map(|key| {
            HashMap::from([
                (TABLE_KEY.to_owned(), s(&key.image_id.to_string())),
                (OWNER_INDEX_KEY.0.to_owned(), s(owner.as_ref())),
                (
                    OWNER_INDEX_KEY.1.to_owned(),
                    s(&format_time(key.created_at)),
                ),
            ])
        });
        // One more than asked for tells whether another page exists, so the last page never
        // comes with a cursor to an empty one.
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(OWNER_INDEX)
            .key_condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner.as_ref()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| AwsError::classify("listing image metadata", e))?;
        let mut images = output
            .items()
            .iter()
            .map(ImageMetadata::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AwsError::failed("listing image metadata", e))?;
        let next = (images.len() > limit).then(|| {
            images.truncate(limit);
            let last = &images[limit - 1];
            PageKey {
                created_at: last.created_at,
                image_id: last.image_id,
            }
        });
        Ok(Page { images, next })
    }
}

/// A conditional write's result: its condition failing (`condition_failed`) is
/// [`Transition::Changed`], an answer rather than an error; any other failure is classified.
fn transition<T, E>(
    result: Result<T, SdkError<E, HttpResponse>>,
    context: &'static str,
    condition_failed: impl Fn(&E) -> bool,
) -> Result<Transition, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(Transition::Applied),
        Err(e) if e.as_service_error().is_some_and(&condition_failed) => Ok(Transition::Changed),
        Err(e) => Err(AwsError::classify(context, e)),
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The DynamoDB item for a row. Optional fields are left out rather than stored as NULL.
pub fn to_item(record: &ImageMetadata) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("imageId".to_owned(), s(&record.image_id.to_string())),
        ("fileName".to_owned(), s(record.file_name.as_ref())),
        ("fileType".to_owned(), s(record.image_type.mime())),
        ("objectKey".to_owned(), s(record.object_key.as_ref())),
        ("bucket".to_owned(), s(&record.bucket)),
        ("owner".to_owned(), s(record.owner.as_ref())),
        ("status".to_owned(), s(record.status().as_str())),
        ("createdAt".to_owned(), s(&format_time(record.created_at))),
    ]);
    if let Some(size) = record.declared_size {
        item.insert("fileSize".into(), n(size.bytes()));
    }
    if let Some(expiry) = record.pending_expiry {
        item.insert(ITEM_TTL_ATTRIBUTE.into(), n(expiry.unix_timestamp()));
    }
    if let Some(multipart) = &record.multipart {
        item.insert("uploadId".into(), s(&multipart.upload_id));
        item.insert("partSize".into(), n(multipart.parts.part_size()));
    }
    match &record.counted {
        Some(Counted::InFlight(slot)) => {
            item.insert(QUOTA_SLOT.into(), s(&slot.entry()));
        }
        Some(Counted::Stored { bytes }) => {
            item.insert(QUOTA_BYTES.into(), n(bytes));
        }
        None => {}
    }
    item.extend(
        state_attributes(&record.state)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value)),
    );
    item
}

/// The attributes a state adds to its row, beyond `status` (none for PENDING).
fn state_attributes(state: &ImageState) -> Vec<(&'static str, AttributeValue)> {
    match state {
        ImageState::Pending => Vec::new(),
        ImageState::Ready(ready) => vec![
            ("width", n(ready.width)),
            ("height", n(ready.height)),
            ("sizeBytes", n(ready.size_bytes)),
            ("originalKey", s(ready.original_key.as_ref())),
            ("uploadEtag", s(&ready.upload_etag)),
            ("thumbnailKey", s(ready.thumbnail_key.as_ref())),
            (
                "renditions",
                AttributeValue::L(ready.renditions.iter().map(rendition_item).collect()),
            ),
            ("superseded", superseded_item(&ready.superseded)),
            ("processedAt", s(&format_time(ready.processed_at))),
        ],
        ImageState::Rejected(rejection) => vec![
            ("rejectionReason", s(rejection.reason.code())),
            ("processedAt", s(&format_time(rejection.processed_at))),
        ],
    }
}

/// A rendition as a map in a READY row's `renditions` list.
fn rendition_item(rendition: &StoredRendition) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("name".to_owned(), s(rendition.name.as_str())),
        ("maxSide".to_owned(), n(rendition.max_side)),
        ("format".to_owned(), s(rendition.format.mime())),
        ("width".to_owned(), n(rendition.width)),
        ("height".to_owned(), n(rendition.height)),
        ("bytes".to_owned(), n(rendition.bytes)),
        ("key".to_owned(), s(rendition.key.as_ref())),
    ]))
}

/// A READY row's `superseded` renditions: each its key and the time it may be deleted.
fn superseded_item(superseded: &[Superseded]) -> AttributeValue {
    AttributeValue::L(
        superseded
            .iter()
            .map(|old| {
                AttributeValue::M(HashMap::from([
                    ("key".to_owned(), s(old.key.as_ref())),
                    ("until".to_owned(), s(&format_time(old.until))),
                ]))
            })
            .collect(),
    )
}

/// A READY row's `superseded` (absent before reprocessing kept any: none), each key a rendition
/// of this image or its thumbnail from before renditions.
fn parse_superseded(
    item: &HashMap<String, AttributeValue>,
    id: ImageId,
) -> Result<Vec<Superseded>, MalformedItem> {
    const NAME: &str = "superseded";
    let Some(list) = item.get(NAME) else {
        return Ok(Vec::new());
    };
    list.as_l()
        .map_err(|_| MalformedItem(NAME))?
        .iter()
        .map(|value| {
            let map = value.as_m().map_err(|_| MalformedItem(NAME))?;
            let text = |field: &str| {
                map.get(field)
                    .and_then(|v| v.as_s().ok())
                    .ok_or(MalformedItem(NAME))
            };
            Ok(Superseded {
                key: ObjectKey::parse_image_rendition(text("key")?, id)
                    .ok_or(MalformedItem(NAME))?,
                until: parse_stored_time(text("until")?).ok_or(MalformedItem(NAME))?,
            })
        })
        .collect()
}

/// A READY row's `renditions` (absent on rows written before renditions: none), each key one
/// the processor makes for this image and rendition.
fn parse_renditions(
    item: &HashMap<String, AttributeValue>,
    id: ImageId,
) -> Result<Vec<StoredRendition>, MalformedItem> {
    const NAME: &str = "renditions";
    let Some(list) = item.get(NAME) else {
        return Ok(Vec::new());
    };
    let list = list.as_l().map_err(|_| MalformedItem(NAME))?;
    list.iter()
        .map(|value| {
            let map = value.as_m().map_err(|_| MalformedItem(NAME))?;
            let text = |field: &str| {
                map.get(field)
                    .and_then(|v| v.as_s().ok())
                    .ok_or(MalformedItem(NAME))
            };
            let number = |field: &str| {
                map.get(field)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or(MalformedItem(NAME))
            };
            let side = |field: &str| u32::try_from(number(field)?).map_err(|_| MalformedItem(NAME));
            let name = RenditionName::parse(text("name")?).ok_or(MalformedItem(NAME))?;
            let format = RenditionFormat::from_mime(text("format")?).ok_or(MalformedItem(NAME))?;
            let key = ObjectKey::parse_rendition(text("key")?, id, name, format)
                .ok_or(MalformedItem(NAME))?;
            Ok(StoredRendition {
                name,
                max_side: side("maxSide")?,
                format,
                width: side("width")?,
                height: side("height")?,
                bytes: number("bytes")?,
                key,
            })
        })
        .collect()
}

/// A time in exactly the stored form (UTC, `Z`, three fractional digits), or `None`. Offsets
/// are refused: a time that only exists as a local time (year 9999 behind UTC) cannot be stored.
pub fn parse_stored_time(text: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(text, STORED_TIME)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// A time as stored: UTC, millisecond precision, fixed width.
pub fn format_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(STORED_TIME)
        .expect("a UTC time within years 0..=9999 always formats")
}

impl AwsError {
    /// Whether the failure is a stored row that could not be read back (rather than AWS
    /// refusing or failing the request).
    pub fn is_malformed_row(&self) -> bool {
        matches!(self, Self::Failed { source, .. } if source.is::<MalformedItem>())
    }
}

/// Why a stored item could not be read back as an [`ImageMetadata`].
#[derive(Debug, thiserror::Error)]
#[error("stored image metadata is malformed: attribute `{0}` is missing or invalid")]
pub struct MalformedItem(&'static str);

impl TryFrom<&HashMap<String, AttributeValue>> for ImageMetadata {
    type Error = MalformedItem;

    fn try_from(item: &HashMap<String, AttributeValue>) -> Result<Self, Self::Error> {
        let s = |name: &'static str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .ok_or(MalformedItem(name))
        };
        let n = |name: &'static str| -> Result<Option<i64>, MalformedItem> {
            item.get(name)
                .map(|v| {
                    v.as_n()
                        .ok()
                        .and_then(|n| n.parse().ok())
                        .ok_or(MalformedItem(name))
                })
                .transpose()
        };
        let required = |name: &'static str| n(name)?.ok_or(MalformedItem(name));
        let number = |name: &'static str| -> Result<u32, MalformedItem> {
            u32::try_from(required(name)?).map_err(|_| MalformedItem(name))
        };
        let time = |name: &'static str| {
            OffsetDateTime::parse(s(name)?, &Rfc3339).map_err(|_| MalformedItem(name))
        };
        let image_id = ImageId::parse(s("imageId")?).ok_or(MalformedItem("imageId"))?;
        let image_type = ImageType::from_mime(s("fileType")?).ok_or(MalformedItem("fileType"))?;
        let object_key = ObjectKey::for_upload(image_id, image_type);
        if s("objectKey")? != object_key.as_ref() {
            return Err(MalformedItem("objectKey"));
        }
        let status = StateName::parse(s("status")?).ok_or(MalformedItem("status"))?;
        let state = match status {
            StateName::Pending => ImageState::Pending,
            StateName::Ready => {
                let renditions = parse_renditions(item, image_id)?;
                // The thumbnail rendition's key, or (on rows written before renditions) the
                // thumbnail's own.
                let thumbnail_key = renditions
                    .iter()
                    .find(|r| r.name.as_str() == RenditionName::THUMBNAIL)
                    .map_or_else(
                        || ObjectKey::for_legacy_thumbnail(image_id),
                        |r| r.key.clone(),
                    );
                if s("thumbnailKey")? != thumbnail_key.as_ref() {
                    return Err(MalformedItem("thumbnailKey"));
                }
                let original_key = ObjectKey::for_original(image_id, image_type);
                if s("originalKey")? != original_key.as_ref() {
                    return Err(MalformedItem("originalKey"));
                }
                ImageState::Ready(ReadyImage {
                    width: number("width")?,
                    height: number("height")?,
                    size_bytes: u64::try_from(required("sizeBytes")?)
                        .map_err(|_| MalformedItem("sizeBytes"))?,
                    original_key,
                    upload_etag: s("uploadEtag")?.clone(),
                    thumbnail_key,
                    renditions,
                    superseded: parse_superseded(item, image_id)?,
                    processed_at: time("processedAt")?,
                })
            }
            StateName::Rejected => ImageState::Rejected(Rejection {
                reason: RejectionReason::parse(s("rejectionReason")?)
                    .ok_or(MalformedItem("rejectionReason"))?,
                processed_at: time("processedAt")?,
            }),
        };
        let declared_size = n("fileSize")?
            .map(|b| {
                u64::try_from(b)
                    .ok()
                    .and_then(|b| UploadSize::within(b, u64::MAX))
            })
            .map(|size| size.ok_or(MalformedItem("fileSize")))
            .transpose()?;
        // A multipart upload has its id, its part size, and a declared size to cut.
        let multipart = match item.get("uploadId") {
            None => None,
            Some(_) => {
                let parts = declared_size
                    .zip(n("partSize")?.and_then(|p| u64::try_from(p).ok()))
                    .and_then(|(size, part_size)| PartPlan::new(size, part_size))
                    .ok_or(MalformedItem("partSize"))?;
                Some(MultipartUpload {
                    upload_id: s("uploadId")?.clone(),
                    parts,
                })
            }
        };
        let counted = match (item.get(QUOTA_SLOT), n(QUOTA_BYTES)?) {
            (Some(_), _) => Some(Counted::InFlight(
                InFlight::parse_entry(s(QUOTA_SLOT)?)
                    .filter(|slot| slot.image_id == image_id)
                    .ok_or(MalformedItem(QUOTA_SLOT))?,
            )),
            (None, Some(bytes)) => Some(Counted::Stored {
                bytes: u64::try_from(bytes).map_err(|_| MalformedItem(QUOTA_BYTES))?,
            }),
            (None, None) => None,
        };
        Ok(Self {
            counted,
            image_id,
            file_name: FileName::parse(s("fileName")?).map_err(|_| MalformedItem("fileName"))?,
            image_type,
            declared_size,
            object_key,
            bucket: s("bucket")?.clone(),
            owner: Owner::from_subject(s("owner")?).ok_or(MalformedItem("owner"))?,
            state,
            created_at: time("createdAt")?,
            pending_expiry: n(ITEM_TTL_ATTRIBUTE)?
                .map(|t| {
                    OffsetDateTime::from_unix_timestamp(t)
                        .map_err(|_| MalformedItem(ITEM_TTL_ATTRIBUTE))
                })
                .transpose()?,
            multipart,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NewUpload, UploadPolicy, UploadRequest};
    use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use time::macros::datetime;

    fn record(size: Option<&str>) -> ImageMetadata {
        let request = UploadRequest {
            file_name: "Été 🌅.png".into(),
            file_type: "image/png".into(),
            file_size: size.map(|s| s.parse().unwrap()),
        };
        let policy = UploadPolicy::default();
        let upload = NewUpload::parse(&request, &policy).unwrap();
        let now = datetime!(2026-11-24 10:00:00.123456 UTC);
        ImageMetadata::pending(
            ImageId::new_random(),
            upload,
            "bucket-a",
            Owner::anonymous(),
            now,
            &policy,
        )
    }

    #[test]
    fn every_item_carries_the_table_and_index_keys_as_strings() {
        // The template declares these attributes as strings (S); an item without them, or with
        // another type, would be refused by the table or missing from the listing index.
        let item = to_item(&record(None));
        for name in [TABLE_KEY, OWNER_INDEX_KEY.0, OWNER_INDEX_KEY.1] {
            assert!(item.get(name).is_some_and(AttributeValue::is_s), "{name}");
        }
    }

    #[test]
    fn a_pending_row_becomes_the_expected_item_and_back() {
        let row = record(Some("2048"));
        let item = to_item(&row);
        assert_eq!(item["imageId"].as_s().unwrap(), &row.image_id.to_string());
        assert_eq!(item["fileName"].as_s().unwrap(), "Été 🌅.png");
        assert_eq!(item["fileType"].as_s().unwrap(), "image/png");
        assert_eq!(item["fileSize"].as_n().unwrap(), "2048");
        assert_eq!(
            item["objectKey"].as_s().unwrap(),
            &format!("uploads/{}.png", row.image_id)
        );
        assert_eq!(item["owner"].as_s().unwrap(), "anonymous");
        assert_eq!(item["status"].as_s().unwrap(), "PENDING");
        assert_eq!(
            item["createdAt"].as_s().unwrap(),
            "2026-11-24T10:00:00.123Z"
        );
        let expected_ttl = datetime!(2026-11-25 10:00:00 UTC).unix_timestamp();
        assert_eq!(
            item[ITEM_TTL_ATTRIBUTE].as_n().unwrap(),
            &expected_ttl.to_string()
        );
        assert_eq!(ImageMetadata::try_from(&item).unwrap(), row);
    }

    #[test]
    fn a_ready_row_names_its_verified_original_and_comes_back() {
        let pending = record(None);
        let keys = pending.object_keys();
        let rendition = |name: &str, max_side: u32, width: u32, height: u32| StoredRendition {
            name: RenditionName::parse(name).unwrap(),
            max_side,
            format: RenditionFormat::Jpeg,
            width,
            height,
            bytes: u64::from(width) * 10,
            key: ObjectKey::for_rendition(
                pending.image_id,
                RenditionName::parse(name).unwrap(),
                RenditionFormat::Jpeg,
                name.as_bytes(),
            ),
        };
        let display = rendition("display", 1600, 1600, 1200);
        let thumbnail = rendition("thumbnail", 256, 256, 192);
        let row = ImageMetadata {
            state: ImageState::Ready(ReadyImage {
                width: 4000,
                height: 3000,
                size_bytes: 4_362_608,
                original_key: keys.original.clone(),
                upload_etag: "\"9b2cf535f27731c974343645a3985328\"".into(),
                thumbnail_key: thumbnail.key.clone(),
                renditions: vec![display, thumbnail.clone()],
                superseded: vec![
                    Superseded {
                        key: rendition("thumbnail", 128, 128, 96).key,
                        until: datetime!(2026-11-26 10:00:01.456 UTC),
                    },
                    Superseded {
                        key: keys.legacy_thumbnail.clone(),
                        until: datetime!(2026-11-26 10:00:01.456 UTC),
                    },
                ],
                processed_at: datetime!(2026-11-24 10:00:01.456 UTC),
            }),
            pending_expiry: None,
            ..pending
        };
        let item = to_item(&row);
        assert_eq!(
            item["originalKey"].as_s().unwrap(),
            &format!("originals/{}.png", row.image_id)
        );
        assert_eq!(
            item["uploadEtag"].as_s().unwrap(),
            "\"9b2cf535f27731c974343645a3985328\""
        );
        assert_eq!(ImageMetadata::try_from(&item).unwrap(), row);

        // A READY row must name exactly the keys the processor writes; anything else is malformed.
        let mut elsewhere = item.clone();
        elsewhere.insert("originalKey".into(), s(keys.upload.as_ref()));
        assert_eq!(
            ImageMetadata::try_from(&elsewhere).unwrap_err().to_string(),
            MalformedItem("originalKey").to_string()
        );
        let mut other_thumbnail = item.clone();
        other_thumbnail.insert("thumbnailKey".into(), s(keys.legacy_thumbnail.as_ref()));
        assert_eq!(
            ImageMetadata::try_from(&other_thumbnail).unwrap_err().0,
            "thumbnailKey"
        );
        let mut other_image = item.clone();
        let stranger = ObjectKey::for_rendition(
            ImageId::new_random(),
            RenditionName::thumbnail(),
            RenditionFormat::Jpeg,
            b"x",
        );
        let mut list = item["renditions"].as_l().unwrap().clone();
        let AttributeValue::M(map) = &mut list[1] else {
            panic!("a map")
        };
        map.insert("key".into(), s(stranger.as_ref()));
        other_image.insert("renditions".into(), AttributeValue::L(list));
        assert_eq!(
            ImageMetadata::try_from(&other_image).unwrap_err().0,
            "renditions"
        );
        // Superseded renditions too are this image's own, or nothing reads the row.
        let mut other_superseded = item.clone();
        let mut list = item["superseded"].as_l().unwrap().clone();
        let AttributeValue::M(map) = &mut list[0] else {
            panic!("a map")
        };
        map.insert("key".into(), s(stranger.as_ref()));
        other_superseded.insert("superseded".into(), AttributeValue::L(list));
        assert_eq!(
            ImageMetadata::try_from(&other_superseded).unwrap_err().0,
            "superseded"
        );
    }

    #[test]
    fn a_ready_row_from_before_renditions_reads_with_its_thumbnail() {
        let pending = record(None);
        let keys = pending.object_keys();
        let mut item = to_item(&pending);
        item.insert("status".into(), s("READY"));
        for (name, value) in [
            ("width", n(64)),
            ("height", n(48)),
            ("sizeBytes", n(1000)),
            ("originalKey", s(keys.original.as_ref())),
            ("uploadEtag", s("\"e\"")),
            ("thumbnailKey", s(keys.legacy_thumbnail.as_ref())),
            ("processedAt", s("2026-11-24T10:00:01.456Z")),
        ] {
            item.insert(name.into(), value);
        }
        let row = ImageMetadata::try_from(&item).unwrap();
        let ImageState::Ready(ready) = row.state else {
            panic!("READY")
        };
        assert_eq!(ready.thumbnail_key, keys.legacy_thumbnail);
        assert!(ready.renditions.is_empty());
    }

    #[test]
    fn an_undeclared_size_is_left_out_not_null() {
        let row = record(None);
        let item = to_item(&row);
        assert!(!item.contains_key("fileSize"));
        assert_eq!(ImageMetadata::try_from(&item).unwrap(), row);
    }

    #[test]
    fn a_multipart_row_keeps_its_upload_id_and_part_size() {
        let mut row = record(Some("10485759"));
        row.multipart = Some(MultipartUpload {
            upload_id: "VXBsb2FkIElE".into(),
            parts: PartPlan::new(row.declared_size.unwrap(), 5 * 1024 * 1024).unwrap(),
        });
        let item = to_item(&row);
        assert_eq!(item["uploadId"].as_s().unwrap(), "VXBsb2FkIElE");
        assert_eq!(item["partSize"].as_n().unwrap(), "5242880");
        let back = ImageMetadata::try_from(&item).unwrap();
        assert_eq!(back.multipart.as_ref().unwrap().parts.count(), 2);
        assert_eq!(back, row);

        // An upload id needs a part size S3 allows, and a declared size to cut.
        let mut bad = item.clone();
        bad.insert("partSize".into(), AttributeValue::N("1024".into()));
        assert_eq!(ImageMetadata::try_from(&bad).unwrap_err().0, "partSize");
        let mut no_size = item.clone();
        no_size.remove("fileSize");
        assert_eq!(ImageMetadata::try_from(&no_size).unwrap_err().0, "partSize");
    }

    #[test]
    fn a_malformed_item_names_the_bad_attribute() {
        let mut item = to_item(&record(None));
        item.insert("status".into(), AttributeValue::S("LOST".into()));
        assert_eq!(ImageMetadata::try_from(&item).unwrap_err().0, "status");
        item.remove("owner");
        assert!(ImageMetadata::try_from(&item).is_err());
    }

    #[tokio::test]
    async fn insert_sends_the_item_with_a_no_overwrite_condition() {
        let row = record(Some("10"));
        let expected = to_item(&row);
        let put = mock!(aws_sdk_dynamodb::Client::put_item)
            .match_requests(move |req| {
                req.table_name() == Some("ImageMetadata")
                    && req.condition_expression() == Some("attribute_not_exists(imageId)")
                    && req.item() == Some(&expected)
            })
            .then_output(|| PutItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&put]);

        MetadataTable::new(client, "ImageMetadata")
            .insert(&row)
            .await
            .unwrap();

        assert_eq!(put.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_existing_id_is_a_failure_not_unavailability() {
        let put = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder().build(),
            )
        });
        let client = mock_client!(aws_sdk_dynamodb, [&put]);

        let err = MetadataTable::new(client, "t")
            .insert(&record(None))
            .await
            .unwrap_err();

        assert!(
            matches!(
                err,
                AwsError::Failed {
                    context: "writing image metadata",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
