//! `redrive [--limit N]`: moves the messages of the dead-letter queue (`DEAD_LETTER_QUEUE_URL`)
//! back to the upload queue (`QUEUE_URL`), once the fault that parked them is fixed (see
//! `image_upload::redrive`). `just redrive` runs it against the local stack, `just redrive
//! deployed` against the deployment in samconfig.toml. Exits 1 when a message was not moved (the
//! upload queue refused it, or it could not be deleted from the dead letters): run again.

use std::process::ExitCode;

use anyhow::{Context, bail};
use image_upload::aws::{AwsClients, Roots};
use image_upload::config::Settings;
use image_upload::redrive::redrive;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("redrive: {err:#}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> anyhow::Result<ExitCode> {
    let limit = match std::env::args().skip(1).collect::<Vec<_>>().as_slice() {
        [] => None,
        [flag, n] if flag == "--limit" => Some(n.parse().context("--limit takes a number")?),
        other => bail!("unknown arguments {other:?}; usage: redrive [--limit N]"),
    };
    let settings = Settings::from_env_for_tools()?;
    let queue = settings
        .queue_url
        .clone()
        .context("QUEUE_URL is not set: the processor's upload queue")?;
    let dead_letters = settings
        .dead_letter_queue_url
        .clone()
        .context("DEAD_LETTER_QUEUE_URL is not set: the upload queue's dead-letter queue")?;
    let clients = AwsClients::from_settings(&settings, Roots::System).await;
    eprintln!("redrive: {dead_letters} -> {queue}");
    let done = redrive(&clients.sqs, &dead_letters, &queue, limit).await?;
    println!(
        "redrive: {} message(s) moved back to the upload queue",
        done.moved
    );
    if done.left_behind > 0 {
        println!(
            "redrive: {} message(s) sent but not deleted from the dead-letter queue: they come back there; run again (the processor takes the duplicates)",
            done.left_behind
        );
    }
    if done.refused > 0 {
        println!(
            "redrive: {} message(s) refused by the upload queue: still in the dead-letter queue; run again",
            done.refused
        );
    }
    if !done.complete() {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
