//! A minimal local Lambda Runtime API that times functions' cold starts from outside, as Lambda
//! sees them (`just bench-cold-start`).
//!
//! For every run it starts a fresh process with `AWS_LAMBDA_RUNTIME_API` pointing at a server of
//! its own and the environment a deployment gives, and records:
//! - init: from just before the process is spawned to its first `GET .../invocation/next`;
//! - first invocation: from the first event handed out to its `POST .../response`;
//! - warm invocations: the same for the events after it (median and p99 over all runs);
//! - peak RSS: `VmHWM` of `/proc/PID/status`, read once the process waits for its next event.
//!
//! One untimed round of every function comes first, each serving `WARM_UP_EVENTS` events: it warms
//! the local emulators (DynamoDB Local's JIT, LocalStack's handlers) and the page cache, so that
//! the first invocation times the function rather than an emulator's first requests (a deployed
//! function calls a DynamoDB that is always warm). Without it, the first upload of a run took 157 ms
//! (2026-11-26, `ea786a2`).
//! The functions are interleaved run by run, so that a busy moment of the machine falls on all of
//! them. Each function process is pinned to one CPU (`--cpu`), the harness and the local AWS stack
//! stay off it. Only the standard library: the harness must not share a line of code (or an HTTP
//! stack) with what it measures.
//!
//! Usage:
//!   cold-start-bench [--runs N] [--warm N] [--cpu N] [--json PATH] [--logs DIR]
//!       --event FILE [--event FILE ...]        API Gateway events: the first is the first
//!                                              invocation, the warm ones cycle through all
//!       --api 'LABEL=PROGRAM [ARGS]' ...       functions served every event (the first is the
//!                                              reference of the ratio column)
//!       --init-only 'LABEL=PROGRAM [ARGS]' ... functions timed to their first `next` only
//!       [--logs DIR]                           the functions' output, appended to DIR/LABEL.log
//!   A command may start with `NAME=VALUE` words, set in that function's environment only.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const API_PREFIX: &str = "/2018-06-01/runtime";
/// Events each function serves in the untimed warm-up round (see the module documentation).
const WARM_UP_EVENTS: usize = 300;
/// How long a function may take for anything (init, one invocation) before the run fails.
const PATIENCE: Duration = Duration::from_secs(30);

fn main() {
    if let Err(message) = run(std::env::args().skip(1).collect()) {
        eprintln!("cold-start-bench: {message}");
        std::process::exit(1);
    }
}

/// One function under test: a label and the command that starts it.
#[derive(Clone, Debug)]
struct Function {
    label: String,
    /// `NAME=VALUE` words before the program, as env(1) takes them (e.g. a function's memory).
    env: Vec<(String, String)>,
    program: String,
    args: Vec<String>,
    serves_events: bool,
}

impl Function {
    fn parse(spec: &str, serves_events: bool) -> Result<Self, String> {
        let (label, command) = spec
            .split_once('=')
            .ok_or_else(|| format!("{spec:?}: expected LABEL=PROGRAM [ARGS]"))?;
        let mut words = command.split_whitespace().map(str::to_owned).peekable();
        let mut env = Vec::new();
        while let Some((name, value)) = words.peek().and_then(|w| w.split_once('=')) {
            env.push((name.to_owned(), value.to_owned()));
            words.next();
        }
        let program = words
            .next()
            .ok_or_else(|| format!("{spec:?}: no program"))?;
        Ok(Self {
            label: label.to_owned(),
            env,
            program,
            args: words.collect(),
            serves_events,
        })
    }
}

#[derive(Debug)]
struct Options {
    runs: usize,
    warm: usize,
    cpu: Option<usize>,
    json: Option<String>,
    logs: Option<String>,
    events: Vec<String>,
    functions: Vec<Function>,
}

fn parse_options(args: Vec<String>) -> Result<Options, String> {
    let mut options = Options {
        runs: 10,
        warm: 50,
        cpu: None,
        json: None,
        logs: None,
        events: Vec::new(),
        functions: Vec::new(),
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{v:?}: {e}"));
        match flag.as_str() {
            "--runs" => options.runs = number(value()?)?.max(1),
            "--warm" => options.warm = number(value()?)?,
            "--cpu" => options.cpu = Some(number(value()?)?),
            "--json" => options.json = Some(value()?),
            "--logs" => options.logs = Some(value()?),
            "--event" => {
                let path = value()?;
                options.events.push(
                    std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?,
                );
            }
            "--api" => options.functions.push(Function::parse(&value()?, true)?),
            "--init-only" => options.functions.push(Function::parse(&value()?, false)?),
            other => {
                return Err(format!(
                    "unknown argument {other:?} (see the source's header)"
                ));
            }
        }
    }
    if options.events.is_empty() && options.functions.iter().any(|f| f.serves_events) {
        return Err("--api needs at least one --event".into());
    }
    Ok(options)
}

/// What one run of one function measured.
#[derive(Debug, Default)]
struct Sample {
    init: Duration,
    first: Option<Duration>,
    warm: Vec<Duration>,
    peak_rss_kib: u64,
}

fn run(args: Vec<String>) -> Result<(), String> {
    let options = parse_options(args)?;
    let mut samples: HashMap<String, Vec<Sample>> = HashMap::new();
    // Round 0 is the untimed warm-up (see the module documentation).
    for round in 0..=options.runs {
        for function in &options.functions {
            // `measure` serves the first event and then `warm` more.
            let warm = if round == 0 {
                WARM_UP_EVENTS - 1
            } else {
                options.warm
            };
            let sample = measure(function, &options, warm)
                .map_err(|e| format!("{} (run {round}): {e}", function.label))?;
            if round == 0 {
                continue;
            }
            samples
                .entry(function.label.clone())
                .or_default()
                .push(sample);
        }
        if round == 0 {
            eprint!("\rcold-start-bench: warm-up round done ");
        } else {
            eprint!("\rcold-start-bench: run {round}/{} ", options.runs);
        }
    }
    eprintln!();
    let report = Report::new(&options, &samples);
    print!("{}", report.markdown());
    if let Some(path) = &options.json {
        std::fs::write(path, report.json()).map_err(|e| format!("writing {path}: {e}"))?;
    }
    Ok(())
}

/// One request from the function, with the way back to it.
struct Exchange {
    method: String,
    path: String,
    body: Vec<u8>,
    received: Instant,
    reply: Sender<Response>,
}

struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    fn accepted() -> Self {
        Self {
            status: 202,
            headers: Vec::new(),
            body: br#"{"status":"OK"}"#.to_vec(),
        }
    }
}

/// One cold start: spawn, wait for `next`, serve the first event and `warm` more, read the peak RSS, stop.
fn measure(function: &Function, options: &Options, warm: usize) -> Result<Sample, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("binding: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let (requests, inbox) = mpsc::channel();
    std::thread::spawn(move || accept(listener, requests));

    let mut command = Command::new(&function.program);
    command
        .args(&function.args)
        .envs(lambda_environment(&function.label))
        .envs(function.env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .stdin(Stdio::null());
    if let Some(dir) = &options.logs {
        let path = format!("{dir}/{}.log", file_name(&function.label));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("opening {path}: {e}"))?;
        let copy = log.try_clone().map_err(|e| e.to_string())?;
        command.stdout(log).stderr(copy);
    } else {
        command.stdout(Stdio::null()).stderr(Stdio::null());
    }
    if let Some(cpu) = options.cpu {
        pin_to_cpu(&mut command, cpu);
    }
    let started = Instant::now();
    let child = command
        .spawn()
        .map_err(|e| format!("starting {}: {e}", function.program))?;
    let mut child = Running(child);

    let mut sample = Sample::default();
    let mut next = expect_next(&inbox, &mut child.0)?;
    sample.init = next.received - started;
    if function.serves_events {
        for invocation in 0..=warm {
            let event = &options.events[invocation % options.events.len()];
            let request_id = format!("cold-start-{invocation}");
            let handed_out = Instant::now();
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                + Duration::from_secs(29);
            let _ = next.reply.send(Response {
                status: 200,
                headers: vec![
                    ("Lambda-Runtime-Aws-Request-Id", request_id.clone()),
                    ("Lambda-Runtime-Deadline-Ms", deadline.as_millis().to_string()),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        format!(
                            "arn:aws:lambda:us-east-1:123456789012:function:{}",
                            function.label
                        ),
                    ),
                    (
                        "Lambda-Runtime-Trace-Id",
                        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
                            .into(),
                    ),
                ],
                body: event.as_bytes().to_vec(),
            });
            let answer = receive(&inbox, &mut child.0)?;
            let expected = format!("{API_PREFIX}/invocation/{request_id}/response");
            if answer.method != "POST" || answer.path != expected {
                return Err(format!(
                    "expected POST {expected}, got {} {}: {}",
                    answer.method,
                    answer.path,
                    String::from_utf8_lossy(&answer.body)
                ));
            }
            let took = answer.received - handed_out;
            let _ = answer.reply.send(Response::accepted());
            check_status(&answer.body)?;
            if invocation == 0 {
                sample.first = Some(took);
            } else {
                sample.warm.push(took);
            }
            next = expect_next(&inbox, &mut child.0)?;
        }
    }
    // Waiting for its next event: nothing more will be allocated.
    sample.peak_rss_kib = peak_rss_kib(child.0.id())?;
    drop(next);
    Ok(sample)
}

/// Kills the function when the run ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a deployed function finds in its environment besides its own variables (which the recipe
/// exports: table, bucket, endpoints of the local stack, credentials).
fn lambda_environment(label: &str) -> Vec<(&'static str, String)> {
    let name = file_name(label);
    vec![
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/26/[$LATEST]cold-start".into(),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".into()),
        ("LAMBDA_TASK_ROOT", "/var/task".into()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".into()),
        ("_HANDLER", "bootstrap".into()),
        ("TZ", ":UTC".into()),
        ("LANG", "en_US.UTF-8".into()),
    ]
}

/// `label` with only ASCII letters, digits and dashes: a function name, a file name.
fn file_name(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// `sched_setaffinity` in the child before it execs, so the function runs on `cpu` only.
fn pin_to_cpu(command: &mut Command, cpu: usize) {
    use std::os::unix::process::CommandExt;
    unsafe extern "C" {
        fn sched_setaffinity(pid: i32, size: usize, mask: *const u64) -> i32;
    }
    let mut mask = [0u64; 16];
    mask[cpu / 64 % 16] = 1 << (cpu % 64);
    // SAFETY: between fork and exec only the async-signal-safe system call runs, on a mask that
    // lives in this closure.
    unsafe {
        command.pre_exec(move || {
            if sched_setaffinity(0, std::mem::size_of_val(&mask), mask.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn peak_rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading /proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/PID/status".to_owned())
}

/// The function's next request, which must be `GET .../invocation/next`.
fn expect_next(inbox: &Receiver<Exchange>, child: &mut Child) -> Result<Exchange, String> {
    let request = receive(inbox, child)?;
    if request.method == "GET" && request.path == format!("{API_PREFIX}/invocation/next") {
        return Ok(request);
    }
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let _ = request.reply.send(Response::accepted());
    Err(format!(
        "expected GET .../invocation/next, got {} {}: {body}",
        request.method, request.path
    ))
}

/// The function's next request, or why none came.
fn receive(inbox: &Receiver<Exchange>, child: &mut Child) -> Result<Exchange, String> {
    let waited = Instant::now();
    loop {
        match inbox.recv_timeout(Duration::from_millis(50)) {
            Ok(request) => return Ok(request),
            Err(RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("the function exited ({status})"));
                }
                if waited.elapsed() > PATIENCE {
                    return Err(format!("no request from the function in {PATIENCE:?}"));
                }
            }
            Err(RecvTimeoutError::Disconnected) => return Err("the server stopped".into()),
        }
    }
}

/// An API Gateway proxy response must be a 2xx: a bench of error responses measures nothing.
fn check_status(body: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(body);
    let status = text
        .find("\"statusCode\"")
        .map(|at| &text[at + "\"statusCode\"".len()..])
        .and_then(|rest| {
            let digits: String = rest
                .trim_start_matches([':', ' '])
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u16>().ok()
        });
    match status {
        Some(200..=299) => Ok(()),
        _ => Err(format!("the function answered {text}")),
    }
}

fn accept(listener: TcpListener, requests: Sender<Exchange>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { return };
        let requests = requests.clone();
        std::thread::spawn(move || {
            let _ = serve(stream, &requests);
        });
    }
}

/// HTTP/1.1 with keep-alive, one request at a time: what the runtime clients send.
fn serve(stream: TcpStream, requests: &Sender<Exchange>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut words = line.split_whitespace();
        let (Some(method), Some(path)) = (words.next(), words.next()) else {
            return Ok(());
        };
        let (method, path) = (method.to_owned(), path.to_owned());
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.eq_ignore_ascii_case("chunked");
                }
            }
        }
        let body = if chunked {
            read_chunked(&mut reader)?
        } else {
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            body
        };
        let received = Instant::now();
        let (reply, answer) = mpsc::channel();
        if requests
            .send(Exchange {
                method,
                path,
                body,
                received,
                reply,
            })
            .is_err()
        {
            return Ok(());
        }
        let Ok(response) = answer.recv() else {
            return Ok(());
        };
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            response.status,
            if response.status == 200 {
                "OK"
            } else {
                "Accepted"
            },
            response.body.len()
        );
        for (name, value) in &response.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        writer.write_all(head.as_bytes())?;
        writer.write_all(&response.body)?;
        writer.flush()?;
    }
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let mut chunk = vec![0; size + 2]; // the chunk and its CRLF
        reader.read_exact(&mut chunk)?;
        if size == 0 {
            return Ok(body); // (trailers are not sent by the runtime clients)
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// The figures of one function over all its runs.
struct Row {
    label: String,
    init: Duration,
    first: Option<Duration>,
    warm_median: Option<Duration>,
    warm_p99: Option<Duration>,
    peak_rss_kib: u64,
    peak_rss_kib_max: u64,
    runs: usize,
    warm_count: usize,
}

struct Report {
    rows: Vec<Row>,
    cpu: Option<usize>,
}

impl Report {
    fn new(options: &Options, samples: &HashMap<String, Vec<Sample>>) -> Self {
        let rows = options
            .functions
            .iter()
            .map(|function| {
                let runs = &samples[&function.label];
                let mut warm: Vec<Duration> =
                    runs.iter().flat_map(|s| s.warm.iter().copied()).collect();
                warm.sort();
                Row {
                    label: function.label.clone(),
                    init: median(runs.iter().map(|s| s.init).collect()).unwrap_or_default(),
                    first: median(runs.iter().filter_map(|s| s.first).collect()),
                    warm_median: percentile(&warm, 50),
                    warm_p99: percentile(&warm, 99),
                    peak_rss_kib: median(runs.iter().map(|s| s.peak_rss_kib).collect())
                        .unwrap_or_default(),
                    peak_rss_kib_max: runs.iter().map(|s| s.peak_rss_kib).max().unwrap_or(0),
                    runs: runs.len(),
                    warm_count: warm.len(),
                }
            })
            .collect();
        Self {
            rows,
            cpu: options.cpu,
        }
    }

    fn markdown(&self) -> String {
        let reference = self.rows.iter().find(|r| r.first.is_some());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nMedians of {} cold starts per function (after one untimed round){}; warm: median and p99 of all warm invocations.\n",
            self.rows.first().map_or(0, |r| r.runs),
            self.cpu
                .map(|c| format!(", each process pinned to CPU {c}"))
                .unwrap_or_default()
        );
        out.push_str("| function | init | first invocation | init + first | warm median | warm p99 | peak RSS | init + first vs first row |\n");
        out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for row in &self.rows {
            let total = row.first.map(|f| row.init + f);
            let ratio = match (total, reference.and_then(|r| r.first.map(|f| r.init + f))) {
                (Some(total), Some(base)) if !base.is_zero() => {
                    format!("{:.1}x", total.as_secs_f64() / base.as_secs_f64())
                }
                _ => "".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {:.1} MiB{} | {} |",
                row.label,
                ms(Some(row.init)),
                ms(row.first),
                ms(total),
                ms(row.warm_median),
                ms(row.warm_p99),
                row.peak_rss_kib as f64 / 1024.0,
                if row.peak_rss_kib_max > row.peak_rss_kib {
                    format!(" (max {:.1})", row.peak_rss_kib_max as f64 / 1024.0)
                } else {
                    String::new()
                },
                ratio
            );
        }
        out
    }

    fn json(&self) -> String {
        let us = |d: Option<Duration>| d.map_or("null".into(), |d| d.as_micros().to_string());
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|r| {
                format!(
                    r#"{{"function":"{}","runs":{},"warm_invocations":{},"init_us":{},"first_invocation_us":{},"warm_median_us":{},"warm_p99_us":{},"peak_rss_kib":{},"peak_rss_kib_max":{}}}"#,
                    r.label.replace('"', "'"),
                    r.runs,
                    r.warm_count,
                    us(Some(r.init)),
                    us(r.first),
                    us(r.warm_median),
                    us(r.warm_p99),
                    r.peak_rss_kib,
                    r.peak_rss_kib_max
                )
            })
            .collect();
        format!("[\n  {}\n]\n", rows.join(",\n  "))
    }
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
}

fn median<T: Ord + Copy>(mut values: Vec<T>) -> Option<T> {
    values.sort();
    values.get(values.len() / 2).copied()
}

/// Nearest-rank percentile of sorted `values`.
fn percentile(values: &[Duration], p: usize) -> Option<Duration> {
    if values.is_empty() {
        return None;
    }
    let rank = (p * values.len()).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}
