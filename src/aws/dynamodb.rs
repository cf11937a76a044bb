use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use super::AwsError;
use crate::domain::{
    FileName, ImageId, ImageMetadata, ImageStatus, ImageType, ObjectKey, Owner, UploadSize,
};

/// The attribute DynamoDB's TTL is set on (epoch seconds): abandoned PENDING rows expire by it.
pub const ITEM_TTL_ATTRIBUTE: &str = "pendingExpiry";

/// The `ImageMetadata` table: one item per image, partition key `imageId`.
#[derive(Clone, Debug)]
pub struct MetadataTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
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
}

/// The DynamoDB item for a row. Optional fields are left out rather than stored as NULL.
pub fn to_item(record: &ImageMetadata) -> HashMap<String, AttributeValue> {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let mut item = HashMap::from([
        ("imageId".to_owned(), s(&record.image_id.to_string())),
        ("fileName".to_owned(), s(record.file_name.as_ref())),
        ("fileType".to_owned(), s(record.image_type.mime())),
        ("objectKey".to_owned(), s(record.object_key.as_ref())),
        ("bucket".to_owned(), s(&record.bucket)),
        ("owner".to_owned(), s(record.owner.as_ref())),
        ("status".to_owned(), s(record.status.as_str())),
        ("createdAt".to_owned(), s(&format_time(record.created_at))),
    ]);
    if let Some(size) = record.declared_size {
        item.insert(
            "fileSize".into(),
            AttributeValue::N(size.bytes().to_string()),
        );
    }
    if let Some(expiry) = record.pending_expiry {
        item.insert(
            ITEM_TTL_ATTRIBUTE.into(),
            AttributeValue::N(expiry.unix_timestamp().to_string()),
        );
    }
    item
}

fn format_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .expect("a UTC time within years 0..=9999 always formats as RFC 3339")
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
        let image_id = ImageId::parse(s("imageId")?).ok_or(MalformedItem("imageId"))?;
        let image_type = ImageType::from_mime(s("fileType")?).ok_or(MalformedItem("fileType"))?;
        let object_key = ObjectKey::for_upload(image_id, image_type);
        if s("objectKey")? != object_key.as_ref() {
            return Err(MalformedItem("objectKey"));
        }
        Ok(Self {
            image_id,
            file_name: FileName::parse(s("fileName")?).map_err(|_| MalformedItem("fileName"))?,
            image_type,
            declared_size: n("fileSize")?
                .map(|b| {
                    u64::try_from(b)
                        .ok()
                        .and_then(|b| UploadSize::within(b, u64::MAX))
                })
                .map(|size| size.ok_or(MalformedItem("fileSize")))
                .transpose()?,
            object_key,
            bucket: s("bucket")?.clone(),
            owner: Owner::from_subject(s("owner")?).ok_or(MalformedItem("owner"))?,
            status: ImageStatus::parse(s("status")?).ok_or(MalformedItem("status"))?,
            created_at: OffsetDateTime::parse(s("createdAt")?, &Rfc3339)
                .map_err(|_| MalformedItem("createdAt"))?,
            pending_expiry: n(ITEM_TTL_ATTRIBUTE)?
                .map(|t| {
                    OffsetDateTime::from_unix_timestamp(t)
                        .map_err(|_| MalformedItem(ITEM_TTL_ATTRIBUTE))
                })
                .transpose()?,
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
    fn an_undeclared_size_is_left_out_not_null() {
        let row = record(None);
        let item = to_item(&row);
        assert!(!item.contains_key("fileSize"));
        assert_eq!(ImageMetadata::try_from(&item).unwrap(), row);
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
