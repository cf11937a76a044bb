//! The HTTP side: which origins the API's CORS admits (`ALLOWED_ORIGINS`) and where the local
//! server listens (`LISTEN_ADDR`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::env::{ConfigError, Env};

/// `ALLOWED_ORIGINS` when unset: the local server's page, by either name.
pub const ALLOWED_ORIGINS_DEFAULT: [&str; 2] = ["http://localhost:3000", "http://127.0.0.1:3000"];

/// `LISTEN_ADDR` when unset.
pub const LISTEN_ADDR_DEFAULT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 3000);

/// `ALLOWED_ORIGINS`: comma-separated origins, never `*`.
pub(super) fn allowed_origins(env: &Env) -> Result<Vec<String>, ConfigError> {
    env.parse(
        "ALLOWED_ORIGINS",
        ALLOWED_ORIGINS_DEFAULT.map(String::from).to_vec(),
        parse_origins,
    )
}

/// `LISTEN_ADDR`.
pub(super) fn listen_addr(env: &Env) -> Result<SocketAddr, ConfigError> {
    env.parse("LISTEN_ADDR", LISTEN_ADDR_DEFAULT, |v| {
        v.parse()
            .map_err(|_| format!("an address such as {LISTEN_ADDR_DEFAULT}"))
    })
}

fn parse_origins(v: &str) -> Result<Vec<String>, String> {
    let origins: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(String::from)
        .collect();
    for origin in &origins {
        let scheme_ok = origin.starts_with("https://") || origin.starts_with("http://");
        if origin.contains('*') || !scheme_ok || origin.ends_with('/') {
            return Err(format!(
                "`{origin}` is not an origin like https://app.example.com (no `*`, no path)"
            ));
        }
    }
    if origins.is_empty() {
        return Err("no origins given".into());
    }
    Ok(origins)
}
