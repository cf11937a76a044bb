//! What each Lambda function does in AWS, as IAM sees it: every SDK operation its code calls or
//! presigns, and the action and resource each one needs. This is the one statement of the
//! functions' permissions:
//!
//! - `template.yaml`'s roles must grant exactly these, no more and no less (`tests/template/`
//!   reads the expanded template; `just lint-infra` runs it);
//! - the tests run the service's clients through a [`CallCheck`], which panics on an operation
//!   not declared here (`src/processor/tests.rs`, `tests/api/`), and check that every declared
//!   operation is used, so the declaration can neither fall behind the code nor outgrow it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

use super::OWNER_INDEX;
use crate::domain::ObjectKey;

/// Something a permission is granted on, as the template names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// The image bucket itself (`arn:aws:s3:::bucket`).
    Bucket,
    /// The objects of the bucket under this key prefix (`arn:aws:s3:::bucket/prefix*`).
    Objects(&'static str),
    /// The metadata table.
    Table,
    /// An index of the metadata table.
    Index(&'static str),
    /// The upload notification queue.
    Queue,
    /// The function's own log group.
    LogGroup,
    /// The secrets holding the CDN's private keys (`{stack}/cdn/private-key-*`).
    CdnKeySecrets,
}

/// One IAM action on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Permission {
    /// E.g. `s3:GetObject`.
    pub action: &'static str,
    pub resource: Resource,
}

/// An SDK operation the code calls (or presigns: the URL carries the function's authority).
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// The SDK's service name, as its operation metadata says (`S3`, `DynamoDB`).
    pub service: &'static str,
    /// The operation, e.g. `HeadObject`.
    pub name: &'static str,
    /// Everything IAM checks for it, on what.
    pub needs: &'static [Permission],
}

/// What one function may do: its code's operations, and what Lambda does with its role.
#[derive(Debug)]
pub struct FunctionAccess {
    /// The function's logical id in `template.yaml`.
    pub logical_id: &'static str,
    pub operations: &'static [Operation],
    /// Not calls of our code, but Lambda's own with the function's role: writing its log group,
    /// and for the processor, the event source mapping polling the queue.
    pub platform: &'static [Permission],
}

impl FunctionAccess {
    /// Every permission the function needs, each once.
    pub fn permissions(&self) -> BTreeSet<Permission> {
        self.operations
            .iter()
            .flat_map(|op| op.needs.iter())
            .chain(self.platform)
            .copied()
            .collect()
    }

    /// The declared operation `service`.`name`, if any.
    pub fn operation(&self, service: &str, name: &str) -> Option<&'static Operation> {
        self.operations
            .iter()
            .find(|op| op.service == service && op.name == name)
    }

    /// The declared operations as `Service.Name`.
    pub fn operation_names(&self) -> BTreeSet<String> {
        self.operations
            .iter()
            .map(|op| format!("{}.{}", op.service, op.name))
            .collect()
    }
}

const fn allow(action: &'static str, resource: Resource) -> Permission {
    Permission { action, resource }
}

const UPLOADS: Resource = Resource::Objects(ObjectKey::UPLOADS_PREFIX);
const ORIGINALS: Resource = Resource::Objects(ObjectKey::ORIGINALS_PREFIX);
const THUMBNAILS: Resource = Resource::Objects(ObjectKey::THUMBNAILS_PREFIX);
const RENDITIONS: Resource = Resource::Objects(ObjectKey::RENDITIONS_PREFIX);

const LOGS: &[Permission] = &[
    allow("logs:CreateLogStream", Resource::LogGroup),
    allow("logs:PutLogEvents", Resource::LogGroup),
];

/// Deleting an image's objects: the API on DELETE, the processor on a refused or orphaned upload.
const DELETE_ALL_PREFIXES: &[Permission] = &[
    allow("s3:DeleteObject", UPLOADS),
    allow("s3:DeleteObject", ORIGINALS),
    allow("s3:DeleteObject", THUMBNAILS),
    allow("s3:DeleteObject", RENDITIONS),
];

/// Listing an image's renditions (`renditions/{imageId}/`), to delete every one of them.
const LIST_RENDITIONS: Operation = Operation {
    service: "S3",
    name: "ListObjectsV2",
    needs: &[allow("s3:ListBucket", Resource::Bucket)],
};

/// The API function (`src/api/`): presigns uploads into the inbox and downloads of verified
/// originals and renditions, deletes an image's objects, and reads and writes its rows.
pub const API: FunctionAccess = FunctionAccess {
    logical_id: "ApiFunction",
    operations: &[
        Operation {
            service: "S3",
            name: "PutObject",
            // Presigned only: clients PUT to uploads/, never elsewhere.
            needs: &[allow("s3:PutObject", UPLOADS)],
        },
        // Multipart uploads into the inbox: started, parts presigned, listed, completed and
        // aborted by the API (`src/api/multipart.rs`).
        Operation {
            service: "S3",
            name: "CreateMultipartUpload",
            needs: &[allow("s3:PutObject", UPLOADS)],
        },
        Operation {
            service: "S3",
            name: "UploadPart",
            // Presigned only.
            needs: &[allow("s3:PutObject", UPLOADS)],
        },
        Operation {
            service: "S3",
            name: "ListParts",
            needs: &[allow("s3:ListMultipartUploadParts", UPLOADS)],
        },
        Operation {
            service: "S3",
            name: "CompleteMultipartUpload",
            needs: &[allow("s3:PutObject", UPLOADS)],
        },
        Operation {
            service: "S3",
            name: "AbortMultipartUpload",
            needs: &[allow("s3:AbortMultipartUpload", UPLOADS)],
        },
        Operation {
            service: "S3",
            name: "GetObject",
            // Presigned only: /images serves the verified copy, the renditions, and the
            // thumbnails of images made before renditions.
            needs: &[
                allow("s3:GetObject", ORIGINALS),
                allow("s3:GetObject", THUMBNAILS),
                allow("s3:GetObject", RENDITIONS),
            ],
        },
        Operation {
            service: "S3",
            name: "DeleteObject",
            needs: DELETE_ALL_PREFIXES,
        },
        LIST_RENDITIONS,
        Operation {
            service: "DynamoDB",
            name: "PutItem",
            needs: &[allow("dynamodb:PutItem", Resource::Table)],
        },
        Operation {
            service: "DynamoDB",
            name: "GetItem",
            needs: &[allow("dynamodb:GetItem", Resource::Table)],
        },
        Operation {
            service: "DynamoDB",
            name: "DeleteItem",
            needs: &[allow("dynamodb:DeleteItem", Resource::Table)],
        },
        // Counting an upload in its owner's usage item, and giving a count back.
        Operation {
            service: "DynamoDB",
            name: "UpdateItem",
            needs: &[allow("dynamodb:UpdateItem", Resource::Table)],
        },
        // Deleting a counted image: its row and its owner's usage item in one transaction. IAM
        // checks each item's own action; the transaction has none of its own.
        Operation {
            service: "DynamoDB",
            name: "TransactWriteItems",
            needs: &[
                allow("dynamodb:DeleteItem", Resource::Table),
                allow("dynamodb:UpdateItem", Resource::Table),
            ],
        },
        Operation {
            service: "DynamoDB",
            name: "Query",
            needs: &[allow("dynamodb:Query", Resource::Index(OWNER_INDEX))],
        },
        Operation {
            // `CDN_PRIVATE_KEY_SECRET`, read once, at the first signing. The secret is under the
            // AWS managed key aws/secretsmanager, whose key policy lets Secrets Manager decrypt
            // for any principal of the account: no kms:Decrypt to grant.
            service: "Secrets Manager",
            name: "GetSecretValue",
            needs: &[allow(
                "secretsmanager:GetSecretValue",
                Resource::CdnKeySecrets,
            )],
        },
    ],
    platform: LOGS,
};

/// The processor (`src/processor/`): reads an upload, copies the verified version to
/// `originals/`, writes its renditions, settles its row, and deletes what a row does not allow;
/// reprocessing reads a verified original and replaces a READY row's renditions.
pub const PROCESSOR: FunctionAccess = FunctionAccess {
    logical_id: "ProcessorFunction",
    operations: &[
        Operation {
            service: "S3",
            name: "HeadObject",
            // HeadObject is authorised by s3:GetObject. Without s3:ListBucket S3 answers a
            // missing key with 403 instead of 404, and the processor would retry a deleted
            // upload until the dead-letter queue instead of knowing it is gone. Reprocessing
            // reads the verified original.
            needs: &[
                allow("s3:GetObject", UPLOADS),
                allow("s3:GetObject", ORIGINALS),
                allow("s3:ListBucket", Resource::Bucket),
            ],
        },
        Operation {
            service: "S3",
            name: "GetObject",
            needs: &[
                allow("s3:GetObject", UPLOADS),
                allow("s3:GetObject", ORIGINALS),
                allow("s3:ListBucket", Resource::Bucket),
            ],
        },
        Operation {
            service: "S3",
            name: "CopyObject",
            // Reads the source, writes the destination; NoSuchKey on the source needs ListBucket.
            needs: &[
                allow("s3:GetObject", UPLOADS),
                allow("s3:PutObject", ORIGINALS),
                allow("s3:ListBucket", Resource::Bucket),
            ],
        },
        Operation {
            service: "S3",
            name: "PutObject",
            needs: &[allow("s3:PutObject", RENDITIONS)],
        },
        Operation {
            service: "S3",
            name: "DeleteObject",
            needs: DELETE_ALL_PREFIXES,
        },
        LIST_RENDITIONS,
        Operation {
            service: "DynamoDB",
            name: "GetItem",
            needs: &[allow("dynamodb:GetItem", Resource::Table)],
        },
        Operation {
            service: "DynamoDB",
            name: "UpdateItem",
            needs: &[allow("dynamodb:UpdateItem", Resource::Table)],
        },
        // Settling a counted image: its row and its owner's usage item in one transaction.
        Operation {
            service: "DynamoDB",
            name: "TransactWriteItems",
            needs: &[allow("dynamodb:UpdateItem", Resource::Table)],
        },
    ],
    platform: &[
        LOGS[0],
        LOGS[1],
        allow("sqs:ReceiveMessage", Resource::Queue),
        allow("sqs:DeleteMessage", Resource::Queue),
        allow("sqs:GetQueueAttributes", Resource::Queue),
    ],
};

/// The sweep (`src/sweep.rs`, the processor's binary on a schedule): lists the bucket, reads the
/// rows, deletes what no row allows, removes a READY image whose original is gone (the row with
/// its count), and makes missing renditions from the original as reprocessing does.
pub const SWEEP: FunctionAccess = FunctionAccess {
    logical_id: "SweepFunction",
    operations: &[
        Operation {
            service: "S3",
            name: "ListObjectsV2",
            needs: &[allow("s3:ListBucket", Resource::Bucket)],
        },
        Operation {
            service: "S3",
            name: "HeadObject",
            // Whether an original or a rendition is there; ListBucket makes a missing one 404.
            needs: &[
                allow("s3:GetObject", ORIGINALS),
                allow("s3:GetObject", THUMBNAILS),
                allow("s3:GetObject", RENDITIONS),
                allow("s3:ListBucket", Resource::Bucket),
            ],
        },
        Operation {
            service: "S3",
            name: "GetObject",
            // The verified original, to make missing renditions from.
            needs: &[
                allow("s3:GetObject", ORIGINALS),
                allow("s3:ListBucket", Resource::Bucket),
            ],
        },
        Operation {
            service: "S3",
            name: "PutObject",
            needs: &[allow("s3:PutObject", RENDITIONS)],
        },
        Operation {
            service: "S3",
            name: "DeleteObject",
            needs: DELETE_ALL_PREFIXES,
        },
        Operation {
            service: "DynamoDB",
            name: "BatchGetItem",
            needs: &[allow("dynamodb:BatchGetItem", Resource::Table)],
        },
        Operation {
            service: "DynamoDB",
            name: "GetItem",
            needs: &[allow("dynamodb:GetItem", Resource::Table)],
        },
        Operation {
            service: "DynamoDB",
            name: "Scan",
            needs: &[allow("dynamodb:Scan", Resource::Table)],
        },
        // Pointing a row at renditions made again.
        Operation {
            service: "DynamoDB",
            name: "UpdateItem",
            needs: &[allow("dynamodb:UpdateItem", Resource::Table)],
        },
        // Removing a lost image's row that counts nothing.
        Operation {
            service: "DynamoDB",
            name: "DeleteItem",
            needs: &[allow("dynamodb:DeleteItem", Resource::Table)],
        },
        // Removing a counted lost image's row with its count.
        Operation {
            service: "DynamoDB",
            name: "TransactWriteItems",
            needs: &[
                allow("dynamodb:DeleteItem", Resource::Table),
                allow("dynamodb:UpdateItem", Resource::Table),
            ],
        },
    ],
    platform: LOGS,
};

/// Every function of the template, each with its declared access.
pub const FUNCTIONS: [&FunctionAccess; 3] = [&API, &PROCESSOR, &SWEEP];

/// Records every operation made through the clients it is installed on, and panics on one that
/// its [`FunctionAccess`] does not declare (the deployed role would refuse it). For tests: a
/// panic fails the test that made the call, naming the operation.
#[derive(Debug, Clone)]
pub struct CallCheck {
    access: &'static FunctionAccess,
    calls: Arc<Mutex<BTreeSet<String>>>,
}

impl CallCheck {
    /// A check against `access`, with nothing recorded yet.
    pub fn new(access: &'static FunctionAccess) -> Self {
        Self {
            access,
            calls: Arc::default(),
        }
    }

    /// `s3` with this check installed (a copy; the original is unchanged).
    pub fn on_s3(&self, s3: &aws_sdk_s3::Client) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(s3.config().to_builder().interceptor(self.clone()).build())
    }

    /// `dynamodb` with this check installed.
    pub fn on_dynamodb(&self, dynamodb: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            dynamodb
                .config()
                .to_builder()
                .interceptor(self.clone())
                .build(),
        )
    }

    /// `secrets` (a client's configuration) with this check installed.
    pub fn on_secrets(
        &self,
        secrets: &aws_sdk_secretsmanager::Config,
    ) -> aws_sdk_secretsmanager::Config {
        secrets.to_builder().interceptor(self.clone()).build()
    }

    /// The operations seen so far, as `Service.Name`.
    pub fn calls(&self) -> BTreeSet<String> {
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Intercept for CallCheck {
    fn name(&self) -> &'static str {
        "CallCheck"
    }

    // Not `read_before_execution`: a client's interceptors run that before the operation's
    // configuration (which names the operation) is in the bag. Presigning runs this too.
    fn read_before_serialization(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let metadata = cfg
            .load::<Metadata>()
            .ok_or("CallCheck: an SDK operation without metadata")?;
        let (service, name) = (metadata.service(), metadata.name());
        assert!(
            self.access.operation(service, name).is_some(),
            "{} calls {service}.{name}, which src/aws/permissions.rs does not declare: the \
             deployed role would refuse it. Declare it there (with the IAM actions it needs) and \
             grant it in template.yaml.",
            self.access.logical_id
        );
        self.calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(format!("{service}.{name}"));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_permission_is_a_wildcard() {
        for access in FUNCTIONS {
            for permission in access.permissions() {
                assert!(
                    !permission.action.contains('*'),
                    "{}: {permission:?}",
                    access.logical_id
                );
                if let Resource::Objects(prefix) = permission.resource {
                    assert!(prefix.ends_with('/') && !prefix.contains('*'), "{prefix}");
                }
            }
        }
    }

    #[test]
    fn the_api_never_writes_where_only_verified_bytes_may_be() {
        let writes: Vec<_> = API
            .permissions()
            .into_iter()
            .filter(|p| p.action == "s3:PutObject")
            .map(|p| p.resource)
            .collect();
        assert_eq!(writes, [UPLOADS]);
    }
}
