//! `sweep [--repair [--force]] [--grace SECONDS]`: reconciles the bucket (`BUCKET_NAME`) with the table
//! (`TABLE_NAME`) as the scheduled sweep function does (see `image_upload::sweep`), and prints
//! every finding and what became of it. A dry run unless `--repair`; `--force` repairs more lost
//! or orphaned images than a scheduled run repairs unattended. `just sweep` runs it against
//! the local stack, `just sweep deployed` against the deployment in samconfig.toml. Exits 1 when
//! a repair failed (the next run finds it again).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use image_upload::aws::{AwsClients, Roots};
use image_upload::config::Settings;
use image_upload::sweep::{GRACE_DEFAULT, Options, Repair, Sweeper};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("sweep: {err:#}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> anyhow::Result<ExitCode> {
    let options = options(std::env::args().skip(1))?;
    let settings = Settings::from_env_for_tools()?;
    let clients = AwsClients::from_settings(&settings, Roots::System).await;
    eprintln!(
        "sweep: bucket {} against table {}, sparing objects younger than {} s{}",
        settings.bucket_name,
        settings.table_name,
        options.grace.as_secs(),
        if options.repair {
            ", repairing"
        } else {
            " (a dry run: --repair repairs)"
        }
    );
    let report = Sweeper::new(&clients, &settings)
        .run(options, time::OffsetDateTime::now_utc())
        .await?;
    for finding in &report.findings {
        let repair = match &finding.repair {
            Repair::NotTried => "not repaired (dry run)".to_owned(),
            Repair::Done => "repaired".to_owned(),
            Repair::Moot => "no longer so when read again: left".to_owned(),
            Repair::Failed(error) => format!("repair FAILED: {error}"),
        };
        println!(
            "{} {}: {repair}",
            finding.image_id,
            finding.problem.as_str()
        );
        for key in &finding.keys {
            println!("    {key}");
        }
    }
    for key in &report.foreign {
        println!("not of this service's shape, left alone: {key}");
    }
    for id in &report.malformed {
        println!("a row that could not be read back, left alone: {id:?}");
    }
    println!(
        "{} objects of {} images, {} READY rows: {} findings, {} objects spared as recent",
        report.objects,
        report.images,
        report.ready_rows,
        report.findings.len(),
        report.recent
    );
    for (problem, n) in report.counts() {
        println!("  {n} {}", problem.as_str());
    }
    Ok(if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn options(mut args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
    let mut options = Options {
        repair: false,
        grace: GRACE_DEFAULT,
        force: false,
    };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--repair" => options.repair = true,
            "--force" => options.force = true,
            "--grace" => {
                let raw = args.next().context("--grace needs a number of seconds")?;
                options.grace = Duration::from_secs(
                    raw.parse()
                        .with_context(|| format!("--grace needs whole seconds, not {raw:?}"))?,
                );
            }
            other => bail!(
                "unknown argument {other:?}; usage: sweep [--repair [--force]] [--grace SECONDS (default {})]",
                GRACE_DEFAULT.as_secs()
            ),
        }
    }
    if options.force && !options.repair {
        bail!("--force goes with --repair");
    }
    Ok(options)
}
