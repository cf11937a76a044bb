//! The HTTP side: which origins the API's CORS admits (`ALLOWED_ORIGINS`), where the local
//! server listens (`LISTEN_ADDR`) and which other host names it answers to (`ALLOWED_HOSTS`).

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

/// Whether a host name (no port; an IPv6 address with or without brackets) is this machine's by
/// definition: `localhost`, a name under `.localhost` (RFC 6761: browsers resolve them to loopback
/// themselves, never through DNS), or a loopback address.
pub fn is_loopback_host(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name.ends_with(".localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether `url` is an `http(s)` URL whose host is `localhost` or a loopback address. Not a name
/// under `.localhost`: a program resolves those through the system's resolver, which may send
/// them anywhere (only browsers keep them on loopback themselves).
pub fn is_loopback_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    // The authority ends at the path, query or fragment; user info (`user@`) is not a host.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") || authority.contains('@')
    {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, port)) if port.is_empty() || port.starts_with(':') => ip,
            _ => return false,
        },
        None => authority.split(':').next().unwrap_or_default(),
    };
    let bare = host.trim_end_matches('.').to_ascii_lowercase();
    bare == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `ALLOWED_HOSTS`: comma-separated host names (or addresses), without ports, lower-cased.
pub(super) fn allowed_hosts(env: &Env) -> Result<Vec<String>, ConfigError> {
    env.parse("ALLOWED_HOSTS", Vec::new(), |v| {
        let hosts: Vec<String> = v
            .split(',')
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        match hosts
            .iter()
            .find(|h| h.contains(['*', '/', ' ', ':']) && h.parse::<std::net::Ipv6Addr>().is_err())
        {
            Some(bad) => Err(format!(
                "`{bad}` is not a host name such as devbox.lan (no port, scheme or `*`)"
            )),
            None => Ok(hosts),
        }
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
