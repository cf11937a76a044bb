//! The S3 object keys an SQS message announces.

use aws_lambda_events::event::s3::S3Event;
use serde::Deserialize;

/// Why a message body could not be read as S3 event notifications.
#[derive(Debug, thiserror::Error)]
#[error("the message is not an S3 event notification: {0}")]
pub struct MalformedMessage(#[from] serde_json::Error);

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
    fn a_body_that_is_not_an_s3_event_is_malformed() {
        for body in ["", "not json", "{\"Records\": 3}", "{}"] {
            assert!(created_keys(body).is_err(), "{body:?}");
        }
    }
}
