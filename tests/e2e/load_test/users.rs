//! A simulated user: signed in as themselves, they drop one file at a time, every fourth time
//! three at once, and for each file: `POST /upload`, `PUT` to the URL, poll `GET /images/{id}`
//! until it is READY or REJECTED, `GET` it once more, and delete every third; then they list
//! their images. Every request is timed and every answer other than success counted; what each
//! upload became is kept for the audit.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::report::{Recorder, Step};

/// How long a user waits for an upload to settle before giving up on it (the audit then finds
/// it unsettled, if it still is).
const SETTLE_BOUND: Duration = Duration::from_secs(60);
/// How often a user asks whether an upload has settled.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// How long a user keeps retrying a DELETE that failed (a 5xx: the API says a retry finishes
/// the job).
const DELETE_BOUND: Duration = Duration::from_secs(60);
/// How many times a file is offered after a 429 for uploads in flight, each after one of the
/// user's uploads ends (as the page does), or the `Retry-After`, whichever comes first.
const POST_ATTEMPTS: usize = 3;

/// What the processor must make of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    Rejected(&'static str),
}

/// A file users upload.
#[derive(Debug)]
pub struct Sample {
    pub name: &'static str,
    pub mime: &'static str,
    pub ext: &'static str,
    pub bytes: Vec<u8>,
    pub verdict: Verdict,
}

/// The order a user uploads the samples in (indices into [`samples`]), over and over, each user
/// from a place of their own: one file in five is refused, the first of the deck among them, so
/// that even a short run sees both verdicts. The last is the 12 MP photo.
const DECK: [usize; 15] = [7, 0, 1, 3, 5, 8, 0, 2, 4, 3, 9, 0, 5, 1, 6];

/// The sample at `place` in the deck. An unoptimised build deals the 1200 x 900 JPEG for the
/// 12 MP photo: the processor's own decoder, unoptimised, takes seconds over it, which makes the
/// short run in `just test` long without proving anything more.
fn dealt(place: usize) -> &'static Sample {
    let index = match DECK[place % DECK.len()] {
        PHOTO_12_MP if cfg!(debug_assertions) => PHOTO_1200_X_900,
        index => index,
    };
    &samples()[index]
}

const PHOTO_1200_X_900: usize = 5;
const PHOTO_12_MP: usize = 6;

/// Every few uploads a user deletes the one that just settled (the first of them included), so
/// the audit sees deleted images and kept ones.
const DELETE_EVERY: usize = 3;

/// The files, good and bad, each with what it must become.
pub fn samples() -> &'static [Sample] {
    static SAMPLES: OnceLock<Vec<Sample>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let jpeg = include_bytes!("../../../fixtures/images/sunset-64x48.jpg");
        let png = include_bytes!("../../../fixtures/images/sunset-64x48.png");
        let sample = |name, mime, ext, bytes: &[u8], verdict| Sample {
            name,
            mime,
            ext,
            bytes: bytes.to_vec(),
            verdict,
        };
        vec![
            sample("small JPEG", "image/jpeg", "jpg", jpeg, Verdict::Ready),
            sample("small PNG", "image/png", "png", png, Verdict::Ready),
            sample(
                "small GIF",
                "image/gif",
                "gif",
                include_bytes!("../../../fixtures/images/sunset-64x48.gif"),
                Verdict::Ready,
            ),
            sample(
                "small WebP",
                "image/webp",
                "webp",
                include_bytes!("../../../fixtures/images/sunset-64x48.webp"),
                Verdict::Ready,
            ),
            sample(
                "rotated JPEG (EXIF)",
                "image/jpeg",
                "jpg",
                include_bytes!("../../../fixtures/images/portrait-exif-rotated.jpg"),
                Verdict::Ready,
            ),
            sample(
                "1200 x 900 JPEG",
                "image/jpeg",
                "jpg",
                &photo(),
                Verdict::Ready,
            ),
            sample(
                "4000 x 3000 progressive JPEG",
                "image/jpeg",
                "jpg",
                include_bytes!("../../../fixtures/images/progressive-420-4000x3000.jpg"),
                Verdict::Ready,
            ),
            sample(
                "truncated JPEG",
                "image/jpeg",
                "jpg",
                &jpeg[..jpeg.len() / 2],
                Verdict::Rejected("UNDECODABLE"),
            ),
            sample(
                "PNG declared as JPEG",
                "image/jpeg",
                "jpg",
                png,
                Verdict::Rejected("TYPE_MISMATCH"),
            ),
            sample(
                "100000 x 100000 PNG",
                "image/png",
                "png",
                include_bytes!("../../../fixtures/images/bomb-100000x100000.png"),
                Verdict::Rejected("TOO_MANY_PIXELS"),
            ),
        ]
    })
}

/// A 1200 x 900 JPEG (a display rendition's work), made here so the fixture folder stays small.
fn photo() -> Vec<u8> {
    let pixels = image::RgbImage::from_fn(1200, 900, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x * y) % 256) as u8])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&pixels)
        .unwrap();
    jpeg
}

/// A signed-in user.
pub struct LoadUser {
    pub name: String,
    /// Their Cognito `sub`: the owner of what they upload.
    pub sub: String,
    pub id_token: String,
}

/// How a `POST /upload` was answered, and the UTC hours (as the usage item names them) it was
/// sent and answered in.
#[derive(Debug, Clone)]
pub struct PostOutcome {
    pub answer: PostAnswer,
    pub sent_in: String,
    pub answered_in: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostAnswer {
    /// 200: an image id and an upload URL.
    Admitted,
    /// A 4xx: nothing counted.
    Refused,
    /// A 5xx or no answer: the upload may or may not have been counted, its row written.
    Failed,
}

/// An image the API gave the user, and what the user saw become of it.
#[derive(Debug, Clone)]
pub struct Upload {
    pub image_id: String,
    pub sample: &'static Sample,
    /// S3 answered the PUT with 200.
    pub accepted: bool,
    /// What the user saw it settle as: `READY`, or `REJECTED` and the reason (`None`: never
    /// seen settled).
    pub seen: Option<String>,
    /// A DELETE of it was answered 204.
    pub deleted: bool,
}

/// Everything one user did that the audit needs.
#[derive(Debug, Default)]
pub struct UserLog {
    pub posts: Vec<PostOutcome>,
    pub uploads: Vec<Upload>,
}

/// What every user of a run shares.
pub struct Run {
    pub http: reqwest::Client,
    /// The app's `http://127.0.0.1:{port}`.
    pub address: String,
    pub recorder: Recorder,
    /// No drop starts after this,
    pub deadline: Instant,
    /// nor after a user's this many drops.
    pub max_drops: u64,
    /// The pause between a user's drops.
    pub pace: Duration,
}

/// One user's state while they run.
struct Session<'a> {
    run: &'a Run,
    user: &'a LoadUser,
    /// Wakes the user's files waiting for a slot when one of their uploads ends.
    ended: Notify,
    log: std::sync::Mutex<UserLog>,
}

/// Runs `user` (the `nth` of the run) until the run's deadline, finishing what they started;
/// their log.
pub async fn run_user(run: &Run, user: &LoadUser, nth: usize) -> UserLog {
    let session = Session {
        run,
        user,
        ended: Notify::new(),
        log: std::sync::Mutex::new(UserLog::default()),
    };
    let mut uploads = 0usize;
    let mut drops = 0u64;
    while Instant::now() < run.deadline && drops < run.max_drops {
        drops += 1;
        // Every fourth drop is three files at once: with two uploads in flight allowed, the
        // third waits for a slot.
        let files = if drops.is_multiple_of(4) { 3 } else { 1 };
        let chosen: Vec<(&'static Sample, bool)> = (0..files)
            .map(|_| {
                let sample = dealt(nth * 4 + uploads);
                let delete = uploads.is_multiple_of(DELETE_EVERY);
                uploads += 1;
                (sample, delete)
            })
            .collect();
        futures_util::future::join_all(
            chosen
                .into_iter()
                .enumerate()
                .map(|(n, (sample, delete))| session.upload(sample, delete, drops, n)),
        )
        .await;
        session.list().await;
        tokio::time::sleep(run.pace).await;
    }
    session.log.into_inner().unwrap()
}

impl Session<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.run.address)
    }

    /// One file's whole flow; `delete` whether the user deletes it once it has settled.
    async fn upload(&self, sample: &'static Sample, delete: bool, drop: u64, n: usize) {
        let Some(upload) = self.post(sample, drop, n).await else {
            return;
        };
        let image_id = upload["imageId"].as_str().unwrap().to_owned();
        let mut record = Upload {
            image_id: image_id.clone(),
            sample,
            accepted: false,
            seen: None,
            deleted: false,
        };
        record.accepted = self.put(&upload, sample).await;
        if record.accepted {
            record.seen = self.settle(&image_id).await;
            self.get(&image_id).await;
            if delete {
                record.deleted = self.delete(&image_id).await;
            }
        } else {
            // As the page does with an upload it gives up on: the image goes, and its count.
            record.deleted = self.delete(&image_id).await;
        }
        self.ended.notify_waiters();
        self.log.lock().unwrap().uploads.push(record);
    }

    /// `POST /upload` for `sample`, offered again after a 429 for uploads in flight once one of
    /// the user's uploads ends; the answer's body when admitted.
    async fn post(&self, sample: &'static Sample, drop: u64, n: usize) -> Option<Value> {
        let body = json!({
            "fileName": format!("{}-{drop}-{n}.{}", self.user.name, sample.ext),
            "fileType": sample.mime,
            "fileSize": sample.bytes.len(),
        });
        for _ in 0..POST_ATTEMPTS {
            // Listening before asking, so an upload that ends meanwhile is not missed.
            let ended = self.ended.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            let sent_in = hour_now();
            let started = Instant::now();
            let answer = self
                .run
                .http
                .post(self.url("/upload"))
                .bearer_auth(&self.user.id_token)
                .json(&body)
                .send()
                .await;
            let (status, retry_after, reply) = match answer {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                    (status, retry_after, response.text().await)
                }
                Err(e) => (0, None, Err(e)),
            };
            let latency = started.elapsed();
            let outcome = |answer| PostOutcome {
                answer,
                sent_in: sent_in.clone(),
                answered_in: hour_now(),
            };
            match (status, reply) {
                (200, Ok(text)) => {
                    self.run.recorder.record(Step::Post, latency, None);
                    self.log
                        .lock()
                        .unwrap()
                        .posts
                        .push(outcome(PostAnswer::Admitted));
                    return Some(serde_json::from_str(&text).expect("a JSON upload"));
                }
                (_, Ok(text)) => {
                    let code = api_code(&text);
                    let answer = if status >= 500 {
                        PostAnswer::Failed
                    } else {
                        PostAnswer::Refused
                    };
                    self.run
                        .recorder
                        .record(Step::Post, latency, Some((status, code.clone())));
                    self.log.lock().unwrap().posts.push(outcome(answer));
                    if code != "TOO_MANY_UPLOADS_IN_FLIGHT" {
                        tokio::time::sleep(POLL_EVERY).await;
                        return None;
                    }
                    let wait = Duration::from_secs(retry_after.unwrap_or(5));
                    let _ = tokio::time::timeout(wait, ended).await;
                }
                (_, Err(e)) => {
                    self.run
                        .recorder
                        .record(Step::Post, latency, Some((status, transport(&e))));
                    self.log
                        .lock()
                        .unwrap()
                        .posts
                        .push(outcome(PostAnswer::Failed));
                    tokio::time::sleep(POLL_EVERY).await;
                    return None;
                }
            }
        }
        None
    }

    /// PUTs the sample's bytes to the upload URL with the headers the API gave; whether S3
    /// answered 200.
    async fn put(&self, upload: &Value, sample: &Sample) -> bool {
        let mut request = self
            .run
            .http
            .put(upload["uploadUrl"].as_str().unwrap())
            .body(sample.bytes.clone());
        for (name, value) in upload["headers"].as_object().unwrap() {
            request = request.header(name, value.as_str().unwrap());
        }
        let started = Instant::now();
        let answer = request.send().await;
        let failure = match answer {
            Ok(response) if response.status() == 200 => None,
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                Some((status, s3_code(&text)))
            }
            Err(e) => Some((0, transport(&e))),
        };
        let accepted = failure.is_none();
        self.run
            .recorder
            .record(Step::Put, started.elapsed(), failure);
        accepted
    }

    /// Polls the image until it is READY or REJECTED (recording the wait), for at most
    /// [`SETTLE_BOUND`]; the status seen last, when it settled.
    async fn settle(&self, image_id: &str) -> Option<String> {
        let started = Instant::now();
        while started.elapsed() < SETTLE_BOUND {
            if let Some(image) = self.fetch(Step::Poll, image_id).await {
                let status = image["status"].as_str().unwrap_or_default();
                if status != "PENDING" {
                    self.run
                        .recorder
                        .record(Step::Settle, started.elapsed(), None);
                    return Some(match image["rejectionReason"].as_str() {
                        Some(reason) => format!("{status} {reason}"),
                        None => status.to_owned(),
                    });
                }
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        self.run.recorder.record(
            Step::Settle,
            started.elapsed(),
            Some((0, "NOT_SETTLED_IN_TIME".into())),
        );
        None
    }

    /// `GET /images/{id}` as `step`; the image when answered 200.
    async fn fetch(&self, step: Step, image_id: &str) -> Option<Value> {
        let started = Instant::now();
        let answer = self
            .run
            .http
            .get(self.url(&format!("/images/{image_id}")))
            .bearer_auth(&self.user.id_token)
            .send()
            .await;
        let (image, failure) = json_answer(answer, 200).await;
        self.run.recorder.record(step, started.elapsed(), failure);
        image
    }

    async fn get(&self, image_id: &str) {
        self.fetch(Step::Get, image_id).await;
    }

    /// The user's first page of images.
    async fn list(&self) {
        let started = Instant::now();
        let answer = self
            .run
            .http
            .get(self.url("/images?limit=20"))
            .bearer_auth(&self.user.id_token)
            .send()
            .await;
        let (_, failure) = json_answer(answer, 200).await;
        self.run
            .recorder
            .record(Step::List, started.elapsed(), failure);
    }

    /// Deletes the image, retrying a failed DELETE for up to [`DELETE_BOUND`]; whether it was
    /// answered 204.
    async fn delete(&self, image_id: &str) -> bool {
        let began = Instant::now();
        loop {
            let started = Instant::now();
            let answer = self
                .run
                .http
                .delete(self.url(&format!("/images/{image_id}")))
                .bearer_auth(&self.user.id_token)
                .send()
                .await;
            let (_, failure) = json_answer(answer, 204).await;
            let done = failure.is_none();
            let retry = failure
                .as_ref()
                .is_some_and(|(status, _)| *status == 0 || *status >= 500);
            self.run
                .recorder
                .record(Step::Delete, started.elapsed(), failure);
            if done || !retry || began.elapsed() > DELETE_BOUND {
                return done;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The JSON body of an answer with `expected` status, or what failed.
async fn json_answer(
    answer: reqwest::Result<reqwest::Response>,
    expected: u16,
) -> (Option<Value>, Option<(u16, String)>) {
    match answer {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.text().await {
                Ok(text) if status == expected => (
                    Some(serde_json::from_str(&text).unwrap_or(Value::Null)),
                    None,
                ),
                Ok(text) => (None, Some((status, api_code(&text)))),
                Err(e) => (None, Some((status, transport(&e)))),
            }
        }
        Err(e) => (None, Some((0, transport(&e)))),
    }
}

/// The API's `error.code`.
fn api_code(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "NO_ERROR_CODE".into())
}

/// S3's `<Code>`.
fn s3_code(body: &str) -> String {
    body.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map_or_else(|| "NO_ERROR_CODE".into(), |(code, _)| code.to_owned())
}

/// What went wrong on the way, for a request without an answer.
fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "TIMED_OUT".into()
    } else if e.is_connect() {
        "NOT_CONNECTED".into()
    } else {
        "CONNECTION_FAILED".into()
    }
}

fn hour_now() -> String {
    image_upload::domain::hour_of(OffsetDateTime::now_utc())
}
