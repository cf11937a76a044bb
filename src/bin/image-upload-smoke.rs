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
    if std::env::args().nth(1).as_deref() == Some("--print-id-token") {
        return print_id_token().await;
    }
    let mut args = std::env::args().skip(1);
    let (Some(api_url), None) = (args.next(), args.next()) else {
        eprintln!(
            "usage: image-upload-smoke API_URL   (e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod)"
        );
        return ExitCode::from(2);
    };
    let outcome = async {
        let sign_in = SignIn::from(SmokeSignIn::from_env()?);
        let http = smoke::http_client()?;
        Smoke::new(&api_url, sign_in)
            .run(&http, &mut std::io::stdout())
            .await
    }
    .await;
    match outcome {
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("smoke: FAILED at {err}");
            ExitCode::FAILURE
        }
    }
}

/// Signs in as `COGNITO_USERNAME` and prints the ID token.
async fn print_id_token() -> ExitCode {
    let token = async {
        let SignIn::Cognito(user) = SignIn::from(SmokeSignIn::from_env()?) else {
            return Err(SmokeError::Config(
                "--print-id-token needs COGNITO_CLIENT_ID, COGNITO_USERNAME and COGNITO_PASSWORD \
                 (and no TOKEN)"
                    .into(),
            ));
        };
        user.id_token(&smoke::http_client()?).await
    }
    .await;
    match token {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("smoke: FAILED at {err}");
            ExitCode::FAILURE
        }
    }
}
