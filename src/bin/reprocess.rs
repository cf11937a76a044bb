//! `reprocess [--rate N] [--max-queued N] [--limit N] [--wait SECONDS]`: brings READY images up to the configured
//! renditions (`RENDITIONS`) through the processor's queue (`QUEUE_URL`), reading `TABLE_NAME`;
//! with a progress bar and a final count (see `image_upload::reprocess`). `just reprocess` runs it
//! against the local stack, `just reprocess deployed` against the deployment in samconfig.toml.
//! Exits 1 when an image was asked for and not made within the wait.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use image_upload::aws::{AwsClients, MetadataTable, Roots};
use image_upload::config::Settings;
use image_upload::reprocess::{self, Options, Progress};
use indicatif::{ProgressBar, ProgressStyle};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("reprocess: {err:#}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> anyhow::Result<ExitCode> {
    let options = options(std::env::args().skip(1))?;
    let settings = Settings::from_env_for_tools()?;
    let queue_url = settings
        .queue_url
        .clone()
        .context("QUEUE_URL is not set: the processor's upload queue")?;
    let wanted = settings.processing.renditions;
    let clients = AwsClients::from_settings(&settings, Roots::System).await;
    let table = MetadataTable::new(clients.dynamodb.clone(), &settings.table_name);
    eprintln!(
        "reprocess: READY images of {} to renditions {wanted}, through {queue_url}, at most {} a second",
        settings.table_name, options.rate
    );
    let bar = ProgressBar::new_spinner();
    let report = reprocess::run(
        &table,
        &clients.sqs,
        &queue_url,
        &wanted,
        options,
        |progress| match progress {
            Progress::Scanning { read, requested } => {
                bar.set_message(format!(
                    "scanning: {read} rows read, {requested} to reprocess"
                ));
                bar.tick();
            }
            Progress::Waiting { done, requested } => {
                if bar.length() != Some(requested as u64) {
                    bar.set_length(requested as u64);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{bar:40} {pos}/{len} reprocessed, {elapsed} ({eta} left)",
                        )
                        .expect("a valid template"),
                    );
                }
                bar.set_position(done as u64);
            }
        },
    )
    .await?;
    bar.finish_and_clear();
    println!(
        "{} READY images: {} already had the renditions, {} asked for, {} made, {} not made",
        report.ready,
        report.up_to_date,
        report.requested.len(),
        report.done,
        report.not_done.len()
    );
    for (id, error) in &report.malformed {
        println!(
            "malformed READY row {}: {error}",
            id.as_deref().unwrap_or("(without an imageId)")
        );
    }
    if !report.malformed.is_empty() {
        println!(
            "{} READY rows could not be read and were left as they are: repair or delete them",
            report.malformed.len()
        );
    }
    for id in &report.not_done {
        println!("not made: {id}");
    }
    if !report.not_done.is_empty() {
        println!(
            "still queued, or refused by the processor (its log says why, by image id); run again to ask again"
        );
    }
    Ok(
        if report.not_done.is_empty() && report.malformed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

fn options(mut args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
    let mut options = Options::default();
    while let Some(flag) = args.next() {
        let mut value = |name: &str| -> anyhow::Result<u64> {
            let raw = args
                .next()
                .with_context(|| format!("{name} needs a number"))?;
            raw.parse()
                .with_context(|| format!("{name} needs a whole number, not {raw:?}"))
        };
        match flag.as_str() {
            "--rate" => {
                options.rate = u32::try_from(value("--rate")?)
                    .ok()
                    .filter(|r| (1..=1000).contains(r))
                    .context("--rate is 1 to 1000 a second")?;
            }
            "--limit" => options.limit = Some(usize::try_from(value("--limit")?)?),
            "--max-queued" => {
                options.max_queued = u32::try_from(value("--max-queued")?)
                    .ok()
                    .filter(|n| *n >= 1)
                    .context("--max-queued is at least 1")?;
            }
            "--wait" => options.wait = Duration::from_secs(value("--wait")?),
            other => bail!(
                "unknown argument {other:?}; usage: reprocess [--rate N (default 20 a second)] \
                 [--max-queued N (default 10)] [--limit N] [--wait SECONDS (default 600)]"
            ),
        }
    }
    Ok(options)
}
