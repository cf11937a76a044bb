//! `image-upload-smoke API_URL`: the whole upload flow against a deployment, each step printed
//! (see `image_upload::smoke`). Signs in with `TOKEN`, or a Cognito user (`COGNITO_CLIENT_ID`,
//! `COGNITO_USERNAME`, `COGNITO_PASSWORD`, `AWS_REGION`), or not at all. Exits non-zero on the
//! first unexpected answer.

use std::process::ExitCode;

use image_upload::config::SmokeSignIn;
use image_upload::smoke::{self, SignIn, Smoke};

#[tokio::main]
async fn main() -> ExitCode {
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
