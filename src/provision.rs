//! Creates the bucket and table this service needs, idempotently. Used for the local stack
//! (`provision-local`) and by the e2e tests for their per-test resources. In AWS the deployment's
//! infrastructure code owns these resources instead.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CorsConfiguration, CorsRule, CreateBucketConfiguration,
    PublicAccessBlockConfiguration,
};

use crate::aws::{AwsError, ITEM_TTL_ATTRIBUTE};

/// The index the gallery lists by: partition `owner`, sort `createdAt`.
pub const OWNER_INDEX: &str = "byOwner";

/// Creates `bucket` if missing, blocks all public access, and allows browser PUTs and GETs from
/// `origins` (CORS).
///
/// # Errors
/// [`AwsError`] naming the step that failed.
pub async fn ensure_bucket(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    origins: &[String],
) -> Result<(), AwsError> {
    let region = s3
        .config()
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let location = (region != "us-east-1" && !region.is_empty()).then(|| {
        CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(region.as_str()))
            .build()
    });
    match s3
        .create_bucket()
        .bucket(bucket)
        .set_create_bucket_configuration(location)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.code(),
                Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
            ) => {}
        Err(e) => return Err(AwsError::classify("creating the bucket", e)),
    }
    let block_all = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(block_all)
        .send()
        .await
        .map_err(|e| AwsError::classify("blocking public access to the bucket", e))?;
    let rule = CorsRule::builder()
        .set_allowed_origins(Some(origins.to_vec()))
        .allowed_methods("PUT")
        .allowed_methods("GET")
        .allowed_methods("HEAD")
        .allowed_headers("content-type")
        .expose_headers("ETag")
        .max_age_seconds(600)
        .build()
        .map_err(|e| AwsError::failed("building the bucket's CORS rule", e))?;
    let cors = CorsConfiguration::builder()
        .cors_rules(rule)
        .build()
        .map_err(|e| AwsError::failed("building the bucket's CORS configuration", e))?;
    s3.put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(cors)
        .send()
        .await
        .map_err(|e| AwsError::classify("setting the bucket's CORS rules", e))?;
    Ok(())
}

/// Creates the metadata `table` if missing (on-demand, partition key `imageId`, index
/// [`OWNER_INDEX`]) and turns on TTL for abandoned PENDING rows.
///
/// # Errors
/// [`AwsError`] naming the step that failed.
pub async fn ensure_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), AwsError> {
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .expect("name and type are set")
    };
    let string_attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set")
    };
    let by_owner = GlobalSecondaryIndex::builder()
        .index_name(OWNER_INDEX)
        .key_schema(key("owner", KeyType::Hash))
        .key_schema(key("createdAt", KeyType::Range))
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .expect("name, keys and projection are set");
    let created = dynamodb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("imageId", KeyType::Hash))
        .attribute_definitions(string_attribute("imageId"))
        .attribute_definitions(string_attribute("owner"))
        .attribute_definitions(string_attribute("createdAt"))
        .global_secondary_indexes(by_owner)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.code() == Some("ResourceInUseException") => {}
        Err(e) => return Err(AwsError::classify("creating the metadata table", e)),
    }
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(ITEM_TTL_ATTRIBUTE)
        .build()
        .expect("name and flag are set");
    match dynamodb
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Asking again for the TTL already in force is refused with this message; that is success.
        Err(e) if e.message().is_some_and(|m| m.contains("already enabled")) => Ok(()),
        Err(e) => Err(AwsError::classify("enabling TTL on the metadata table", e)),
    }
}
