//! A TCP proxy in front of a service that can be told to slow it down: each new connection and
//! each chunk of bytes, either way, waits the current delay before it goes on. Pointed at S3
//! (`AWS_ENDPOINT_URL_S3`), it slows the app's S3 calls and, since presigned URLs name the
//! endpoint, the clients' uploads too; the bytes pass unchanged, so signatures still verify.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running proxy; it stops accepting when dropped (connections already open go on).
pub struct SlowProxy {
    endpoint: String,
    delay: Delay,
    accepting: tokio::task::JoinHandle<()>,
}

impl SlowProxy {
    /// A proxy to `upstream` (`http://host:port`), passing bytes without delay until told.
    pub async fn start(upstream: &str) -> Self {
        let target = upstream
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("an http:// upstream, not {upstream}"))
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let delay = Delay {
            ms: Arc::new(AtomicU64::new(0)),
            applied: Arc::new(AtomicU64::new(0)),
        };
        let shared = delay.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (target, delay) = (target.clone(), shared.clone());
                tokio::spawn(async move {
                    delay.pause().await;
                    if let Ok(server) = TcpStream::connect(&target).await {
                        relay(client, server, delay).await;
                    }
                });
            }
        });
        Self {
            endpoint,
            delay,
            accepting,
        }
    }

    /// `http://127.0.0.1:{port}`
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// From now on, each new connection and each chunk waits `delay` (zero: none).
    pub fn set_delay(&self, delay: Duration) {
        self.delay
            .ms
            .store(u64::try_from(delay.as_millis()).unwrap(), Ordering::SeqCst);
    }

    /// How many connections and chunks have waited so far.
    pub fn delayed(&self) -> u64 {
        self.delay.applied.load(Ordering::SeqCst)
    }
}

/// The current delay, and how many times one was applied.
#[derive(Clone)]
struct Delay {
    ms: Arc<AtomicU64>,
    applied: Arc<AtomicU64>,
}

impl Delay {
    async fn pause(&self) {
        let ms = self.ms.load(Ordering::SeqCst);
        if ms > 0 {
            self.applied.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// Copies both ways until either side closes, each chunk after the delay of its moment.
async fn relay(client: TcpStream, server: TcpStream, delay: Delay) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up_delay = delay.clone();
    let up = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = client_read.read(&mut buffer).await {
            up_delay.pause().await;
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let down = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = server_read.read(&mut buffer).await {
            delay.pause().await;
            if client_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(up, down);
}
