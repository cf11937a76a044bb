//! The smoke client's flow (`just smoke`) against the in-process app on the local stack, with
//! real S3 notifications, queue and processor: what users run against AWS, proven here.

use image_upload::smoke::{self, SignIn, Smoke, SmokeError};

use crate::helpers::{spawn_app, spawn_processing_app};

#[tokio::test]
async fn the_smoke_flow_passes_against_a_processing_app() {
    let app = spawn_processing_app().await;
    let http = smoke::http_client().unwrap();
    let mut printed = Vec::new();

    let report = Smoke::new(&format!("{}/", app.address), SignIn::Anonymous)
        .run(&http, &mut printed)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&printed)));

    let steps: Vec<&str> = report.steps.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        steps,
        [
            "GET /usage",
            "POST /upload",
            "PUT upload URL",
            "wait for READY",
            "GET /images",
            "GET /usage again",
            "GET thumbnail",
            "GET original",
            "DELETE image",
            "GET deleted image",
        ]
    );
    let printed = String::from_utf8(printed).unwrap();
    for step in steps {
        assert!(
            printed.contains(&format!(" ms  {step}: ")),
            "{step}:\n{printed}"
        );
    }
    assert!(printed.contains("smoke: passed"), "{printed}");
    assert!(
        app.item(&report.image_id).await.is_none(),
        "the run deletes what it uploaded"
    );
}

#[tokio::test]
async fn an_unprocessed_upload_fails_the_wait_with_the_step_named() {
    // No queue, no processor: the row stays PENDING, and the run must say where it stopped.
    let app = spawn_app().await;
    let http = smoke::http_client().unwrap();

    let err = Smoke::new(&app.address, SignIn::Anonymous)
        .ready_timeout(std::time::Duration::from_secs(1))
        .run(&http, &mut std::io::sink())
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            SmokeError::Check {
                step: "wait for READY",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("still PENDING"), "{err}");
}

#[tokio::test]
async fn a_wrong_api_url_fails_at_the_first_step_with_status_and_body() {
    let app = spawn_app().await;
    let http = smoke::http_client().unwrap();

    let err = Smoke::new(&format!("{}/nowhere", app.address), SignIn::Anonymous)
        .run(&http, &mut std::io::sink())
        .await
        .unwrap_err();

    let SmokeError::Unexpected { step, status, body } = &err else {
        panic!("expected an unexpected answer, got {err}");
    };
    assert_eq!((*step, *status), ("GET /usage", 404));
    assert!(body.contains("NOT_FOUND"), "{body}");
}
