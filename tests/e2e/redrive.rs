//! `just redrive`'s work against LocalStack's SQS: dead letters go back to the upload queue, each
//! once, as many as asked.

use std::collections::BTreeSet;

use image_upload::redrive::{Redriven, redrive};

use crate::helpers::{TestApp, Uploads, spawn};

/// Every body the queue holds now (received and deleted).
async fn drain(app: &TestApp, queue: &str) -> BTreeSet<String> {
    let mut bodies = BTreeSet::new();
    loop {
        let received = app
            .sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        if received.messages().is_empty() {
            return bodies;
        }
        for message in received.messages() {
            bodies.insert(message.body().unwrap().to_owned());
            app.sqs
                .delete_message()
                .queue_url(queue)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .expect("DeleteMessage");
        }
    }
}

#[tokio::test]
async fn dead_letters_go_back_to_the_upload_queue_once_each_and_only_as_many_as_asked() {
    // The queue without a processor: what arrives there stays to be looked at.
    let app = spawn(&[], Uploads::Queued).await;
    let queue = app.queue_url.clone().expect("a queue");
    let dead_letters = format!("{queue}-dlq");
    // S3's test event, sent when the bucket's notifications were set up: not a dead letter.
    drain(&app, &queue).await;
    let bodies: BTreeSet<String> = (0..13).map(|n| format!(r#"{{"parked":{n}}}"#)).collect();
    for body in &bodies {
        app.sqs
            .send_message()
            .queue_url(&dead_letters)
            .message_body(body)
            .send()
            .await
            .expect("SendMessage");
    }

    let first = redrive(&app.sqs, &dead_letters, &queue, Some(4))
        .await
        .unwrap();
    let rest = redrive(&app.sqs, &dead_letters, &queue, None)
        .await
        .unwrap();

    let moved = |moved| Redriven {
        moved,
        left_behind: 0,
        refused: 0,
    };
    assert_eq!(first, moved(4));
    assert_eq!(rest, moved(9));
    assert_eq!(drain(&app, &queue).await, bodies, "each once, none lost");
    assert_eq!(drain(&app, &dead_letters).await, BTreeSet::new());
    assert_eq!(
        redrive(&app.sqs, &dead_letters, &queue, None)
            .await
            .unwrap(),
        Redriven::default(),
        "nothing left to move"
    );
}
