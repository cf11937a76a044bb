//! What an SQS message asks of the processor: the objects an S3 notification announces, or the
//! renditions of one image to be made again (`reprocess`); and what the processor's binary is
//! invoked with ([`Invocation`]).

use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::SqsEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ImageId;

/// Why a message body could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the message is neither an S3 event notification nor a reprocessing request: {0}")]
pub struct MalformedMessage(#[from] serde_json::Error);

/// What the processor's binary is invoked with: it is two functions, each with its own role and
/// timeout (`template.yaml`).
#[derive(Debug)]
pub enum Invocation {
    /// A batch of the upload queue's messages (the processor function).
    Batch(SqsEvent),
    /// EventBridge's scheduled event (the sweep function): reconcile the bucket with the table.
    Schedule,
}

/// An invocation the binary does not serve.
#[derive(Debug, thiserror::Error)]
#[error("the invocation is neither an SQS batch nor EventBridge's scheduled event: {0}")]
pub struct UnknownInvocation(String);

impl Invocation {
    /// What `payload` is.
    ///
    /// # Errors
    /// [`UnknownInvocation`] for anything but an SQS batch or a scheduled event.
    pub fn read(payload: Value) -> Result<Self, UnknownInvocation> {
        let field = |name: &str| payload.get(name).and_then(Value::as_str);
        if field("source") == Some("aws.events") && field("detail-type") == Some("Scheduled Event")
        {
            return Ok(Self::Schedule);
        }
        if payload.get("Records").is_some_and(Value::is_array) {
            return serde_json::from_value(payload)
                .map(Self::Batch)
                .map_err(|e| UnknownInvocation(e.to_string()));
        }
        Err(UnknownInvocation(
            "no Records, and no scheduled event's source and detail-type".into(),
        ))
    }
}

/// The work one message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// Verify these uploaded objects (their decoded keys; none for S3's test event).
    Created(Vec<String>),
    /// Make this READY image's renditions again, from its verified original, if they are not
    /// the configured set.
    Reprocess(ImageId),
}

/// The body of a reprocessing request: `{"reprocess":{"imageId":"..."}}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReprocessBody {
    reprocess: ReprocessRequest,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ReprocessRequest {
    image_id: String,
}

/// The message body that asks the processor to reprocess `id` (what `reprocess` sends).
pub fn reprocess_body(id: ImageId) -> String {
    serde_json::to_string(&ReprocessBody {
        reprocess: ReprocessRequest {
            image_id: id.to_string(),
        },
    })
    .expect("a reprocessing request serializes")
}

/// What `body` asks for.
///
/// # Errors
/// [`MalformedMessage`] when it is none of an S3 event notification, S3's test event, or a
/// reprocessing request for a well-formed image id.
pub fn read(body: &str) -> Result<Work, MalformedMessage> {
    if let Ok(request) = serde_json::from_str::<ReprocessBody>(body) {
        return match ImageId::parse(&request.reprocess.image_id) {
            Some(id) => Ok(Work::Reprocess(id)),
            None => Err(MalformedMessage(serde::de::Error::custom(
                "a reprocessing request for something that is not an image id",
            ))),
        };
    }
    created_keys(body).map(Work::Created)
}

/// S3 sends this once to a new notification destination; it announces no object.
#[derive(Deserialize)]
struct TestEvent {
    #[serde(rename = "Event")]
    event: String,
}

/// The (decoded) keys of the objects created, as announced by one SQS message body.
///
/// The S3 test event yields no keys. Events other than `ObjectCreated:*` are skipped.
///
/// # Errors
/// [`MalformedMessage`] when the body is neither an S3 event notification nor S3's test event.
pub fn created_keys(body: &str) -> Result<Vec<String>, MalformedMessage> {
    if let Ok(test) = serde_json::from_str::<TestEvent>(body)
        && test.event == "s3:TestEvent"
    {
        return Ok(Vec::new());
    }
    let event: S3Event = serde_json::from_str(body)?;
    Ok(event
        .records
        .into_iter()
        .filter(|r| {
            r.event_name
                .as_deref()
                .is_some_and(|name| name.starts_with("ObjectCreated:"))
        })
        .filter_map(|r| r.s3.object.key)
        .map(|key| decode_key(&key))
        .collect())
}

/// Keys in S3 event notifications are form-encoded: `+` is a space and everything else that is
/// not plain ASCII is percent-encoded (UTF-8).
pub fn decode_key(encoded: &str) -> String {
    let spaced = encoded.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUT: &str = include_str!("../../fixtures/events/s3-put-notification.json");
    const TEST_EVENT: &str = include_str!("../../fixtures/events/s3-test-event.json");
    const SCHEDULED: &str = include_str!("../../fixtures/events/eventbridge-scheduled-event.json");

    #[test]
    fn the_binary_tells_a_queue_batch_from_the_schedule() {
        let scheduled: Value = serde_json::from_str(SCHEDULED).unwrap();
        assert!(matches!(
            Invocation::read(scheduled.clone()),
            Ok(Invocation::Schedule)
        ));
        let batch = serde_json::json!({"Records": [{
            "messageId": "m-1",
            "body": PUT,
            "eventSource": "aws:sqs",
        }]});
        let Ok(Invocation::Batch(batch)) = Invocation::read(batch) else {
            panic!("an SQS batch");
        };
        assert_eq!(batch.records[0].message_id.as_deref(), Some("m-1"));
        // Anything else is refused, not taken for an empty batch or a schedule.
        let mut other_rule = scheduled.clone();
        other_rule["detail-type"] = "Object Created".into();
        let mut other_source = scheduled;
        other_source["source"] = "aws.s3".into();
        for payload in [
            serde_json::json!({}),
            serde_json::json!({"Records": {}}),
            serde_json::json!({"Records": [{"messageId": 7}]}),
            other_rule,
            other_source,
        ] {
            assert!(Invocation::read(payload.clone()).is_err(), "{payload}");
        }
    }

    #[test]
    fn keys_are_url_decoded_with_plus_as_space() {
        assert_eq!(
            decode_key("uploads/holiday+photo%2B1+%C3%A9t%C3%A9.png"),
            "uploads/holiday photo+1 été.png"
        );
        assert_eq!(decode_key("uploads/plain.jpg"), "uploads/plain.jpg");
    }

    #[test]
    fn an_s3_notification_gives_its_created_keys_decoded() {
        assert_eq!(
            created_keys(PUT).unwrap(),
            [
                "uploads/3f1e2c4a-8b6d-4e2f-9a1b-2c3d4e5f6a7b.jpg",
                "uploads/holiday photo+1 été.png"
            ]
        );
    }

    #[test]
    fn the_s3_test_event_announces_nothing() {
        assert!(created_keys(TEST_EVENT).unwrap().is_empty());
    }

    #[test]
    fn other_event_types_are_skipped() {
        let removed = PUT.replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert!(created_keys(&removed).unwrap().is_empty());
    }

    #[test]
    fn a_reprocessing_request_names_one_image() {
        let id = ImageId::new_random();
        let body = reprocess_body(id);
        assert_eq!(body, format!("{{\"reprocess\":{{\"imageId\":\"{id}\"}}}}"));
        assert_eq!(read(&body).unwrap(), Work::Reprocess(id));
        assert_eq!(
            read(PUT).unwrap(),
            Work::Created(created_keys(PUT).unwrap())
        );
        for bad in [
            r#"{"reprocess":{"imageId":"../../etc"}}"#,
            r#"{"reprocess":{"imageId":"3F1E2C4A-8B6D-4E2F-9A1B-2C3D4E5F6A7B","x":1}}"#,
            r#"{"reprocess":{}}"#,
            r#"{"reprocess":"3f1e2c4a-8b6d-4e2f-9a1b-2c3d4e5f6a7b"}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_body_that_is_not_an_s3_event_is_malformed() {
        for body in ["", "not json", "{\"Records\": 3}", "{}"] {
            assert!(created_keys(body).is_err(), "{body:?}");
            assert!(read(body).is_err(), "{body:?}");
        }
    }
}
