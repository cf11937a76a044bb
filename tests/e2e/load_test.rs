//! The load test (`just load`; a short run of it in `just test`): simulated users, each a
//! distinct Cognito user signed in with a real ID token, drive the whole flow against the local
//! stack with the processor running (real S3 notifications, a real SQS queue), for a bounded
//! time; then the processor drains its queue and an audit counts what was lost. Each run prints
//! its throughput, its latencies by step (p50, p95, p99), every answer other than success by
//! status and code, and the audit, and fails unless the audit is clean.
//!
//! Four runs: with no fault; with the processor killed mid-batch and started again; with
//! DynamoDB frozen (the app on a DynamoDB Local of its own); with S3 slowed (the app's S3
//! endpoint, and so the presigned URLs, through a proxy that delays every chunk). Each fault
//! starts a quarter into the run and lasts `LOAD_FAULT_SECONDS`.
//!
//! Settings, read from the environment by this harness only (docs/development.md): `LOAD_USERS`
//! (default 4), `LOAD_SECONDS` (12), `LOAD_PACE_MS` (200, the pause between a user's drops),
//! `LOAD_FAULT_SECONDS` (5), `LOAD_S3_DELAY_MS` (100), `LOAD_PROCESSOR_CONCURRENCY` (the
//! service's `PROCESSOR_CONCURRENCY` default). The defaults are the short run: a light
//! load that leaves room for the rest of the e2e suite on a 2-core machine; `just load` sets its
//! own.

mod audit;
mod cpu;
mod report;
mod users;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use image_upload::aws::USAGE_KEY_PREFIX;
use image_upload::config::TokenSettings;

use crate::helpers::{
    PrivateDynamoDb, QUEUE_VISIBILITY, SlowProxy, TestApp, Uploads, endpoints, http_client,
    local_cognito, spawn_verifying,
};
use audit::{Audit, audit, drain, in_flight};
use cpu::CpuClock;
use report::{Recorder, Step, Summary};
use users::{LoadUser, Run, UserLog, run_user};

/// The longest the processor may take to drain its queue after the users stop.
const DRAIN_BOUND: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean() {
    run(Fault::None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_killed_mid_batch() {
    run(Fault::ProcessorKilled).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_frozen() {
    run(Fault::DynamoDbFrozen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_slowed() {
    run(Fault::S3Slowed).await;
}

/// The audit can fail: after a short clean run, one of each loss is made by hand (a READY
/// image's rendition deleted, an object no row allows, a count raised, an accepted image's row
/// deleted, a message dead-lettered) and each is found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_finds_what_was_lost() {
    let (tokens, users) = sign_in(1).await;
    let app = spawn_verifying(
        &tokens,
        &[("MAX_UPLOADS_IN_FLIGHT", "2")],
        Uploads::Processed,
    )
    .await;
    // Three drops: the deck's first file (refused, then deleted), then two READY ones kept.
    let Finished { logs, .. } = Load::start(
        &app,
        users.clone(),
        Duration::from_secs(120),
        3,
        Duration::ZERO,
    )
    .finish()
    .await;
    drain(&app, DRAIN_BOUND).await;
    let clean = audit(&app, &users, &logs).await;
    assert!(clean.is_clean(), "before the sabotage:\n{clean}");
    let kept: Vec<&str> = logs[0]
        .uploads
        .iter()
        .filter(|u| u.seen.as_deref() == Some("READY") && !u.deleted)
        .map(|u| u.image_id.as_str())
        .collect();
    let [first, second, ..] = kept[..] else {
        panic!("two READY images kept are needed, the run kept {kept:?}");
    };

    let rendition = app
        .renditions_stored(first)
        .await
        .pop()
        .expect("a rendition");
    app.s3
        .delete_object()
        .bucket(&app.bucket)
        .key(&rendition)
        .send()
        .await
        .expect("DeleteObject");
    let stray = format!("originals/{}.jpg", uuid::Uuid::new_v4());
    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key(&stray)
        .body(b"stray".to_vec().into())
        .send()
        .await
        .expect("PutObject");
    app.dynamodb
        .update_item()
        .table_name(&app.table)
        .key(
            "imageId",
            AttributeValue::S(format!("{USAGE_KEY_PREFIX}{}", users[0].sub)),
        )
        .update_expression("ADD images :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .send()
        .await
        .expect("UpdateItem");
    app.dynamodb
        .delete_item()
        .table_name(&app.table)
        .key("imageId", AttributeValue::S(second.to_owned()))
        .send()
        .await
        .expect("DeleteItem");
    app.sqs
        .send_message()
        .queue_url(app.dead_letter_url.clone().unwrap())
        .message_body("{}")
        .send()
        .await
        .expect("SendMessage");

    let found = audit(&app, &users, &logs).await;
    let kinds: BTreeSet<&str> = found.findings.keys().copied().collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "READY rows missing an object",
            "objects no row allows",
            "usage items that miscount",
            "GET /usage answers that differ from the rows",
            "accepted uploads whose row is gone, not deleted by their user",
            "messages in the dead-letter queue (processing gave up)",
        ]),
        "{found}"
    );
    let missing = &found.findings["READY rows missing an object"];
    assert_eq!(missing, &[format!("{first}: {rendition}")], "{found}");
    let strays = &found.findings["objects no row allows"];
    assert!(strays.iter().any(|s| s.starts_with(&stray)), "{found}");
    assert!(
        strays
            .iter()
            .any(|s| s.starts_with(&format!("originals/{second}"))),
        "the deleted row's objects: {found}"
    );
}

/// A run's size, from `LOAD_*`.
#[derive(Debug, Clone)]
struct Config {
    users: usize,
    duration: Duration,
    pace: Duration,
    fault: Duration,
    s3_delay: Duration,
    /// The processor's `PROCESSOR_CONCURRENCY`, when not the service's default.
    processor_concurrency: Option<String>,
}

impl Config {
    fn from_env() -> Self {
        fn read(name: &str, default: u64) -> u64 {
            match std::env::var(name) {
                Ok(value) => value
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={value:?} is not a whole number")),
                Err(_) => default,
            }
        }
        let config = Self {
            users: usize::try_from(read("LOAD_USERS", 4)).unwrap(),
            duration: Duration::from_secs(read("LOAD_SECONDS", 12)),
            pace: Duration::from_millis(read("LOAD_PACE_MS", 200)),
            fault: Duration::from_secs(read("LOAD_FAULT_SECONDS", 5)),
            s3_delay: Duration::from_millis(read("LOAD_S3_DELAY_MS", 100)),
            processor_concurrency: std::env::var("LOAD_PROCESSOR_CONCURRENCY").ok(),
        };
        assert!(config.users > 0, "LOAD_USERS must be at least 1");
        assert!(
            config.duration >= Duration::from_secs(2),
            "LOAD_SECONDS must be at least 2"
        );
        config
    }

    /// When the fault starts, from the run's start.
    fn fault_at(&self) -> Duration {
        (self.duration / 4).max(Duration::from_secs(1))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    ProcessorKilled,
    DynamoDbFrozen,
    S3Slowed,
}

/// What a fault did, to report and to check that it happened.
#[derive(Debug)]
enum Injected {
    Nothing,
    /// The processor was killed holding this many messages, and was down for this long.
    Killed {
        messages_held: i64,
        down: Duration,
    },
    Frozen(Duration),
    Slowed {
        delay: Duration,
        chunks: u64,
        lasted: Duration,
    },
}

impl std::fmt::Display for Injected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Nothing => write!(f, "none"),
            Self::Killed {
                messages_held,
                down,
            } => write!(
                f,
                "the processor killed holding {messages_held} messages, started again {:.1} s later",
                down.as_secs_f64()
            ),
            Self::Frozen(lasted) => {
                write!(f, "DynamoDB frozen for {:.1} s", lasted.as_secs_f64())
            }
            Self::Slowed {
                delay,
                chunks,
                lasted,
            } => write!(
                f,
                "S3 slowed by {} ms a connection and a chunk for {:.1} s ({chunks} delayed)",
                delay.as_millis(),
                lasted.as_secs_f64()
            ),
        }
    }
}

/// A run with `fault`, its report printed; panics unless the audit is clean and the run did
/// what it is meant to (every user's uploads settled, the fault happened).
async fn run(fault: Fault) {
    let config = Config::from_env();
    let (tokens, users) = sign_in(config.users).await;

    // A DynamoDB Local of the run's own, which it can freeze; an S3 endpoint it can slow.
    let dynamodb = match fault {
        Fault::DynamoDbFrozen => Some(PrivateDynamoDb::start().await),
        _ => None,
    };
    let proxy = match fault {
        Fault::S3Slowed => {
            let s3 = endpoints().await.s3.clone().expect("S3");
            Some(SlowProxy::start(&s3).await)
        }
        _ => None,
    };
    // Two uploads in flight a user: a drop of three files waits for a slot. The hour's limit is
    // lifted, so a long run is not cut short by it.
    let mut overrides = vec![
        ("MAX_UPLOADS_IN_FLIGHT", "2"),
        ("MAX_UPLOADS_PER_HOUR", "1000000"),
    ];
    if let Some(concurrency) = &config.processor_concurrency {
        overrides.push(("PROCESSOR_CONCURRENCY", concurrency));
    }
    if let Some(dynamodb) = &dynamodb {
        overrides.push(("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.endpoint()));
    }
    if let Some(proxy) = &proxy {
        overrides.push(("AWS_ENDPOINT_URL_S3", proxy.endpoint()));
    }
    let app = spawn_verifying(&tokens, &overrides, Uploads::Processed).await;

    let load = Load::start(&app, users.clone(), config.duration, u64::MAX, config.pace);
    let injected = inject(
        fault,
        &app,
        dynamodb.as_ref(),
        proxy.as_ref(),
        &config,
        load.started,
    )
    .await;
    let finished = load.finish().await;
    let drained = drain(&app, DRAIN_BOUND).await;
    let audit = audit(&app, &users, &finished.logs).await;

    let report = report(&app, fault, &config, &injected, &finished, drained, &audit);
    println!("{report}");
    assert!(audit.is_clean(), "the audit found losses:\n{report}");
    assert_did_work(&users, &finished.logs, &audit, &report);
    assert_fault_happened(&injected, &finished.summary, &report);
}

/// Simulated users at work.
struct Load {
    shared: Arc<Run>,
    running: Vec<tokio::task::JoinHandle<UserLog>>,
    started: Instant,
    cpu: Option<CpuClock>,
}

/// What the users did.
struct Finished {
    logs: Vec<UserLog>,
    summary: Summary,
    /// From the start until the last user finished what they had started.
    elapsed: Duration,
    /// Where the CPU went meanwhile, when it could be read.
    cpu: Option<String>,
}

impl Load {
    /// Sets `users` to work on `app`, each a task of its own, starting drops for `duration`
    /// (at most `max_drops` each) with `pace` between them.
    fn start(
        app: &TestApp,
        users: Arc<Vec<LoadUser>>,
        duration: Duration,
        max_drops: u64,
        pace: Duration,
    ) -> Self {
        let started = Instant::now();
        let shared = Arc::new(Run {
            http: http_client(),
            address: app.address.clone(),
            recorder: Recorder::default(),
            deadline: started + duration,
            max_drops,
            pace,
        });
        let running = (0..users.len())
            .map(|n| {
                let (shared, users) = (shared.clone(), users.clone());
                tokio::spawn(async move { run_user(&shared, &users[n], n).await })
            })
            .collect();
        Self {
            shared,
            running,
            started,
            cpu: CpuClock::now(),
        }
    }

    /// Waits for every user to finish.
    async fn finish(self) -> Finished {
        let mut logs = Vec::new();
        for user in self.running {
            logs.push(user.await.expect("a simulated user panicked"));
        }
        let cpu = self
            .cpu
            .zip(CpuClock::now())
            .map(|(start, end)| start.until(&end));
        Finished {
            logs,
            summary: self.shared.recorder.summary(),
            elapsed: self.started.elapsed(),
            cpu,
        }
    }
}

/// A user pool of the run's own, with `count` users signed in: the token settings the app
/// checks and the users.
async fn sign_in(count: usize) -> (TokenSettings, Arc<Vec<LoadUser>>) {
    let cognito = local_cognito().await;
    let pool = cognito.pool().await;
    let pool = &pool;
    let signed_in = futures_util::future::join_all((0..count).map(|n| async move {
        let name = format!("user{n}");
        let user = pool.user(&name).await;
        let tokens = pool.sign_in(&pool.client_id, &user).await;
        LoadUser {
            name,
            sub: user.sub,
            id_token: tokens.id,
        }
    }))
    .await;
    (pool.tokens.clone(), Arc::new(signed_in))
}

/// Waits for the fault's time, then injects it and ends it `config.fault` later.
async fn inject(
    fault: Fault,
    app: &TestApp,
    dynamodb: Option<&PrivateDynamoDb>,
    proxy: Option<&SlowProxy>,
    config: &Config,
    started: Instant,
) -> Injected {
    tokio::time::sleep_until((started + config.fault_at()).into()).await;
    match fault {
        Fault::None => Injected::Nothing,
        Fault::ProcessorKilled => kill_mid_batch(app, config.fault).await,
        Fault::DynamoDbFrozen => {
            let dynamodb = dynamodb.expect("a DynamoDB of the run's own");
            let frozen = Instant::now();
            dynamodb.freeze().await;
            tokio::time::sleep(config.fault).await;
            dynamodb.thaw().await;
            Injected::Frozen(frozen.elapsed())
        }
        Fault::S3Slowed => {
            let proxy = proxy.expect("a proxy before S3");
            let slowed = Instant::now();
            proxy.set_delay(config.s3_delay);
            tokio::time::sleep(config.fault).await;
            proxy.set_delay(Duration::ZERO);
            Injected::Slowed {
                delay: config.s3_delay,
                chunks: proxy.delayed(),
                lasted: slowed.elapsed(),
            }
        }
    }
}

/// Kills the processor while it holds messages (received, not yet done): waits until it does,
/// kills it, and counts what it left in flight; a kill that caught it between batches is undone
/// at once and tried again. Starts it again `down` after the kill.
async fn kill_mid_batch(app: &TestApp, down: Duration) -> Injected {
    let patience = Instant::now() + Duration::from_secs(20);
    loop {
        while in_flight(app).await == 0 && Instant::now() < patience {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let killed = app.kill_processor().await;
        let killed_at = Instant::now();
        // What the killed processor held stays invisible until the visibility timeout: nobody
        // else is receiving.
        let messages_held = in_flight(app).await;
        if messages_held > 0 || Instant::now() >= patience {
            tokio::time::sleep_until((killed_at + down).into()).await;
            app.start_processor(killed);
            return Injected::Killed {
                messages_held,
                down: killed_at.elapsed(),
            };
        }
        app.start_processor(killed);
    }
}

/// The run's report: what ran, the table, where the CPU went, the audit.
fn report(
    app: &TestApp,
    fault: Fault,
    config: &Config,
    injected: &Injected,
    finished: &Finished,
    drained: Duration,
    audit: &Audit,
) -> String {
    let build = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            // target/{profile}/deps/e2e-…
            let profile = exe.parent()?.parent()?.file_name()?;
            Some(profile.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let build = match build.as_str() {
        "debug" => "debug (the dev profile)".to_owned(),
        other => format!("the `{other}` profile"),
    };
    let when = match fault {
        Fault::None => String::new(),
        _ => format!(", {:.1} s into the run", config.fault_at().as_secs_f64()),
    };
    let elapsed = finished.elapsed;
    format!(
        "== load run {fault:?}: {} users for {} s (all finished {:.1} s after the start), {} ms between a user's drops, build: {build}\n\
         one processor: batches of up to 10 messages, {} at a time; queue visibility timeout {} s\n\
         fault: {injected}{when}\n\
         {}\
         uploads settled per second: {:.1}; the queue drained {:.1} s after the users stopped\n\
         CPU: {}\n\
         {audit}",
        config.users,
        config.duration.as_secs(),
        elapsed.as_secs_f64(),
        config.pace.as_millis(),
        app.settings.processor_concurrency,
        QUEUE_VISIBILITY.as_secs(),
        finished.summary.table(elapsed),
        audit.settled() as f64 / elapsed.as_secs_f64(),
        drained.as_secs_f64(),
        finished.cpu.as_deref().unwrap_or("not measured (no /proc)"),
    )
}

/// The run exercised what it is for: every user had uploads settle, both verdicts and deletes
/// happened.
fn assert_did_work(users: &[LoadUser], logs: &[UserLog], audit: &Audit, report: &str) {
    for (user, log) in users.iter().zip(logs) {
        assert!(
            log.uploads.iter().any(|u| u.accepted && u.seen.is_some()),
            "{} saw none of their uploads settle:\n{report}",
            user.name
        );
    }
    assert!(
        audit.accepted_ready > 0 && audit.accepted_rejected > 0 && audit.deleted_by_users > 0,
        "the run must see uploads READY, REJECTED and deleted:\n{report}"
    );
}

/// The fault did happen: the processor was killed holding messages; DynamoDB's freeze was seen
/// as 503s; S3's delay was applied and seen in the PUTs.
fn assert_fault_happened(injected: &Injected, summary: &Summary, report: &str) {
    match injected {
        Injected::Nothing => {}
        Injected::Killed { messages_held, .. } => assert!(
            *messages_held > 0,
            "the processor was never caught holding messages:\n{report}"
        ),
        Injected::Frozen(_) => assert!(
            summary.answered(503, "SERVICE_UNAVAILABLE") > 0,
            "no request saw the frozen DynamoDB as a 503:\n{report}"
        ),
        Injected::Slowed { delay, chunks, .. } => {
            let slowest_put = summary.step(Step::Put).map_or(Duration::ZERO, |s| s.max);
            assert!(
                *chunks > 0 && slowest_put >= *delay,
                "S3 was not slowed for the users:\n{report}"
            );
        }
    }
}
