//! Reading variables: [`Env`] over a lookup (the process environment, or a table in tests),
//! [`ConfigError`], and the parsers every setting shares.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

/// The process environment as a lookup: the one place in `src/` that reads it for a setting
/// (`tests/configuration_docs.rs` checks that). A value that is not UTF-8 counts as unset.
pub(super) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The variables of one program, read through a lookup.
pub(super) struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl<'a> Env<'a> {
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self(lookup)
    }

    /// A variable's value; set-but-blank counts as unset.
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    /// Whether a variable is set to something other than blanks.
    pub(super) fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A variable parsed by `parse` (from its trimmed value), or `default` when it is unset.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable and its value, with `parse`'s reason.
    pub(super) fn parse<T, E: ToString>(
        &self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(value) => {
                parse(value.trim()).map_err(|reason| ConfigError::invalid(name, value, reason))
            }
        }
    }
}

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(Problem);

#[derive(Debug)]
enum Problem {
    /// A variable is set to something unusable (alone, or with the others it must fit).
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    /// Variables that only work together are set in part; the message names them, never their
    /// values (one may be a password).
    Incomplete(String),
}

impl Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid {
                name,
                value,
                reason,
            } => write!(f, "invalid setting {name}={value:?}: {reason}"),
            Self::Incomplete(message) => f.write_str(message),
        }
    }
}

impl ConfigError {
    /// `name` is set to `value`, which cannot be used, for `reason`.
    pub(super) fn invalid(name: &'static str, value: String, reason: impl ToString) -> Self {
        Self(Problem::Invalid {
            name,
            value,
            reason: reason.to_string(),
        })
    }

    /// Some of the variables that go together are set, or one that others need is missing.
    pub(super) fn incomplete(message: String) -> Self {
        Self(Problem::Incomplete(message))
    }
}

/// `true`/`1` or `false`/`0`.
pub(super) fn parse_bool(v: &str) -> Result<bool, &'static str> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("true or false"),
    }
}

/// A whole number in `range`, with a message naming the range otherwise.
pub(super) fn number_within<T>(v: &str, range: RangeInclusive<T>) -> Result<T, String>
where
    T: FromStr + PartialOrd + Display,
{
    v.parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| format!("a whole number from {} to {}", range.start(), range.end()))
}

/// A whole number of seconds in `range`.
pub(super) fn seconds_within(v: &str, range: RangeInclusive<u64>) -> Result<Duration, String> {
    number_within(v, range)
        .map(Duration::from_secs)
        .map_err(|range| format!("{range} (seconds)"))
}

/// A positive whole number of milliseconds.
pub(super) fn millis(v: &str) -> Result<Duration, &'static str> {
    v.parse()
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .ok_or("a positive number of milliseconds")
}

/// `a, b and c` (or `a, b or c`).
pub(super) fn listed(names: &[impl AsRef<str>], conjunction: &str) -> String {
    let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    match names.as_slice() {
        [init @ .., last] if !init.is_empty() => {
            format!("{} {conjunction} {last}", init.join(", "))
        }
        _ => names.concat(),
    }
}

/// The bytes of one mebibyte, for messages about memory.
pub(super) const MIB: u64 = 1024 * 1024;

/// `bytes` as a message shows them: `64 MiB` when whole mebibytes, else `N B`.
pub(super) fn show_bytes(bytes: u64) -> String {
    if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} B")
    }
}

/// A lookup that answers from `vars`, for tests.
#[cfg(test)]
pub(super) fn lookup_in<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
    |name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    }
}
