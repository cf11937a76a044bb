//! What the functions tell CloudWatch: logs through `tracing` (JSON lines for CloudWatch,
//! readable lines in a terminal) and metrics in the embedded metric format ([`metrics`]).

pub mod emf;
#[cfg(test)]
pub(crate) mod emf_spec;
pub mod metrics;

pub use metrics::{Function, Metrics};

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` overrides the default filter (`info`, with the
/// AWS SDK's own chatter at `warn`). A second call is a no-op.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn,aws_sdk=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let _already_set = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.compact().try_init(),
    };
}

/// `outer: inner: innermost`: an error's causes, for log lines.
pub fn cause_chain(err: &dyn std::error::Error) -> String {
    let mut chain = Vec::new();
    let mut next = err.source();
    while let Some(cause) = next {
        chain.push(cause.to_string());
        next = cause.source();
    }
    chain.join(": ")
}
