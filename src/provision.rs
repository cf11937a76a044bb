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

pub use crate::aws::OWNER_INDEX;
use crate::aws::{AwsError, ITEM_TTL_ATTRIBUTE};

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
        // Signed into every upload URL, so a browser's PUT sends it too (one URL, one object).
        .allowed_headers("if-none-match")
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

/// A queue of upload notifications, with its dead-letter queue.
#[derive(Debug, Clone)]
pub struct UploadQueue {
    pub url: String,
    pub arn: String,
    pub dead_letter_url: String,
}

/// Creates the queue `name` (and `{name}-dlq`, which gets a message after `max_receives` failed
/// deliveries) if missing. `visibility` is how long a received message stays hidden: longer than
/// the processor takes, since a failed message comes back after it.
///
/// # Errors
/// [`AwsError`] naming the step that failed.
pub async fn ensure_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    visibility: std::time::Duration,
    max_receives: u32,
) -> Result<UploadQueue, AwsError> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let dead_letter_url = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(A::MessageRetentionPeriod, (14 * 24 * 3600).to_string())
        .send()
        .await
        .map_err(|e| AwsError::classify("creating the dead-letter queue", e))?
        .queue_url
        .unwrap_or_default();
    let dead_letter_arn = queue_arn(sqs, &dead_letter_url).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dead_letter_arn,
        "maxReceiveCount": max_receives,
    });
    let url = sqs
        .create_queue()
        .queue_name(name)
        .attributes(A::VisibilityTimeout, visibility.as_secs().to_string())
        .attributes(A::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(|e| AwsError::classify("creating the upload queue", e))?
        .queue_url
        .unwrap_or_default();
    let arn = queue_arn(sqs, &url).await?;
    Ok(UploadQueue {
        url,
        arn,
        dead_letter_url,
    })
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, AwsError> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::QueueArn)
        .send()
        .await
        .map_err(|e| AwsError::classify("reading a queue's ARN", e))?
        .attributes
        .and_then(|mut attributes| attributes.remove(&A::QueueArn))
        .ok_or_else(|| AwsError::failed("reading a queue's ARN", "the queue has no ARN"))
}

/// Sends every object created under `uploads/` in `bucket` to the queue `queue_arn` (and nothing
/// else: thumbnails are written under another prefix, so the processor cannot trigger itself).
///
/// # Errors
/// [`AwsError`] when the notification configuration is refused.
pub async fn ensure_upload_notifications(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    queue_arn: &str,
) -> Result<(), AwsError> {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    let uploads_only = NotificationConfigurationFilter::builder()
        .key(
            S3KeyFilter::builder()
                .filter_rules(
                    FilterRule::builder()
                        .name(FilterRuleName::Prefix)
                        .value(crate::domain::ObjectKey::UPLOADS_PREFIX)
                        .build(),
                )
                .build(),
        )
        .build();
    let queue = QueueConfiguration::builder()
        .id("image-uploads")
        .queue_arn(queue_arn)
        .events(Event::S3ObjectCreated)
        .filter(uploads_only)
        .build()
        .map_err(|e| AwsError::failed("building the upload notification", e))?;
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(queue)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::classify("sending upload notifications to the queue", e))?;
    Ok(())
}

/// The `iss` claim of a Cognito user pool's tokens. Emulators use it too (moto does), though
/// they serve their keys elsewhere: see [`jwks_url`].
pub fn cognito_issuer(region: &str, pool_id: &str) -> String {
    format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}")
}

/// Where a user pool's signing keys are, under the Cognito endpoint `endpoint` (AWS's issuer URL,
/// or an emulator's address).
pub fn jwks_url(endpoint: &str, pool_id: &str) -> String {
    format!(
        "{}/{pool_id}/.well-known/jwks.json",
        endpoint.trim_end_matches('/')
    )
}

/// Creates the user pool `name` if no pool has that name: users sign in with their e-mail
/// address, and passwords need 12 characters with upper and lower case letters and a digit.
/// Returns the pool id.
///
/// # Errors
/// [`AwsError`] naming the step that failed.
pub async fn ensure_user_pool(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    name: &str,
) -> Result<String, AwsError> {
    use aws_sdk_cognitoidentityprovider::types::{
        PasswordPolicyType, UserPoolPolicyType, UsernameAttributeType, VerifiedAttributeType,
    };
    let pools: Vec<_> = cognito
        .list_user_pools()
        .max_results(60)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AwsError::classify("listing user pools", e))?;
    if let Some(id) = pools
        .into_iter()
        .find(|pool| pool.name() == Some(name))
        .and_then(|pool| pool.id)
    {
        return Ok(id);
    }
    let password_policy = PasswordPolicyType::builder()
        .minimum_length(12)
        .require_uppercase(true)
        .require_lowercase(true)
        .require_numbers(true)
        .require_symbols(false)
        .temporary_password_validity_days(7)
        .build();
    cognito
        .create_user_pool()
        .pool_name(name)
        .username_attributes(UsernameAttributeType::Email)
        .auto_verified_attributes(VerifiedAttributeType::Email)
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(password_policy)
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::classify("creating the user pool", e))?
        .user_pool
        .and_then(|pool| pool.id)
        .ok_or_else(|| AwsError::failed("creating the user pool", "the answer has no pool id"))
}

/// Creates the app client `name` in `pool_id` if the pool has none of that name: no secret (a
/// browser or CLI cannot keep one), sign-in with USER_PASSWORD_AUTH or SRP, refresh tokens.
/// Returns the client id, which is the `aud` of its ID tokens.
///
/// # Errors
/// [`AwsError`] naming the step that failed.
pub async fn ensure_app_client(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    pool_id: &str,
    name: &str,
) -> Result<String, AwsError> {
    use aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType as Flow;
    let clients: Vec<_> = cognito
        .list_user_pool_clients()
        .user_pool_id(pool_id)
        .max_results(60)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AwsError::classify("listing the pool's app clients", e))?;
    if let Some(id) = clients
        .into_iter()
        .find(|client| client.client_name() == Some(name))
        .and_then(|client| client.client_id)
    {
        return Ok(id);
    }
    cognito
        .create_user_pool_client()
        .user_pool_id(pool_id)
        .client_name(name)
        .generate_secret(false)
        .explicit_auth_flows(Flow::AllowUserPasswordAuth)
        .explicit_auth_flows(Flow::AllowUserSrpAuth)
        .explicit_auth_flows(Flow::AllowRefreshTokenAuth)
        .prevent_user_existence_errors(
            aws_sdk_cognitoidentityprovider::types::PreventUserExistenceErrorTypes::Enabled,
        )
        .send()
        .await
        .map_err(|e| AwsError::classify("creating the app client", e))?
        .user_pool_client
        .and_then(|client| client.client_id)
        .ok_or_else(|| AwsError::failed("creating the app client", "the answer has no client id"))
}

/// Creates the user `email` in `pool_id` if missing (verified e-mail, no invitation message) and
/// sets `password` as its permanent password, so it can sign in at once. Returns the user's `sub`.
///
/// # Errors
/// [`AwsError`] naming the step that failed (a password the pool's policy refuses, too).
pub async fn ensure_user(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    pool_id: &str,
    email: &str,
    password: &str,
) -> Result<String, AwsError> {
    use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
    let attribute = |name: &str, value: &str| {
        AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .expect("the name is set")
    };
    let created = cognito
        .admin_create_user()
        .user_pool_id(pool_id)
        .username(email)
        .user_attributes(attribute("email", email))
        .user_attributes(attribute("email_verified", "true"))
        .message_action(MessageActionType::Suppress)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.code() == Some("UsernameExistsException") => {}
        Err(e) => return Err(AwsError::classify("creating the user", e)),
    }
    cognito
        .admin_set_user_password()
        .user_pool_id(pool_id)
        .username(email)
        .password(password)
        .permanent(true)
        .send()
        .await
        .map_err(|e| AwsError::classify("setting the user's password", e))?;
    cognito
        .admin_get_user()
        .user_pool_id(pool_id)
        .username(email)
        .send()
        .await
        .map_err(|e| AwsError::classify("reading the user", e))?
        .user_attributes()
        .iter()
        .find(|attribute| attribute.name() == "sub")
        .and_then(|attribute| attribute.value.clone())
        .ok_or_else(|| AwsError::failed("reading the user", "the user has no sub"))
}
