//! `image-upload-smoke API_URL`: the whole upload flow against a deployment, each step printed
//! (see `image_upload::smoke`). Signs in with `TOKEN`, or a Cognito user (`COGNITO_CLIENT_ID`,
//! `COGNITO_USERNAME`, `COGNITO_PASSWORD`, `AWS_REGION`), or not at all. Exits non-zero on the
//! first unexpected answer.
//!
//! `image-upload-smoke --print-id-token`: signs in as the Cognito user only, and prints the ID
//! token (what `just test-api-description` sends).

use std::process::ExitCode;

use image_upload::config::SmokeSignIn;
use image_upload::smoke::{self, SignIn, Smoke, SmokeError};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.as_slice() {
        [flag] if flag == "--print-id-token" => id_token().await.map(|token| println!("{token}")),
        [api_url] if !api_url.starts_with('-') => smoke(api_url).await,
        _ => {
            eprintln!(
                "usage: image-upload-smoke API_URL   (e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod)\n       \
                 image-upload-smoke --print-id-token"
            );
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("smoke: FAILED at {err}");
            ExitCode::FAILURE
        }
    }
}

/// The whole flow against `api_url`.
async fn smoke(api_url: &str) -> Result<(), SmokeError> {
    let sign_in = SignIn::from(SmokeSignIn::from_env()?);
    let http = smoke::http_client()?;
    Smoke::new(api_url, sign_in)
        .run(&http, &mut std::io::stdout())
        .await
        .map(|_| ())
}

/// The ID token of `COGNITO_USERNAME`, signed in.
async fn id_token() -> Result<String, SmokeError> {
    let SignIn::Cognito(user) = SignIn::from(SmokeSignIn::from_env()?) else {
        return Err(SmokeError::Config(
            "--print-id-token needs COGNITO_CLIENT_ID, COGNITO_USERNAME and COGNITO_PASSWORD \
             (and no TOKEN)"
                .into(),
        ));
    };
    user.id_token(&smoke::http_client()?).await
}
