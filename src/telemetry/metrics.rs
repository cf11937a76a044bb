//! The service's CloudWatch metrics, one EMF line each (see `emf`), written to stdout where
//! CloudWatch Logs picks them up. The handle is passed in (in `AppState`, in `Processor`), so tests
//! hand the code an in-memory sink and read back exactly what it wrote.

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::emf::{Metric, Record};
use crate::config::{MetricsNamespace, MetricsSettings};
use crate::domain::{ImageId, RejectionReason};

/// Which function writes a line: the value of the `Function` dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// The HTTP API.
    Api,
    /// The upload processor.
    Processor,
}

impl Function {
    /// The dimension value: `api` or `processor`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Processor => "processor",
        }
    }
}

const BY_FUNCTION: &[&[&str]] = &[&["Function"]];
const BY_FUNCTION_AND_REASON: &[&[&str]] = &[&["Function"], &["Function", "Reason"]];

/// Where metric lines go. Cheap to clone; a disabled handle formats nothing.
#[derive(Clone, Debug, Default)]
pub struct Metrics(Option<Arc<Emitter>>);

#[derive(Debug)]
struct Emitter {
    namespace: MetricsNamespace,
    function: Function,
    sink: Sink,
}

#[derive(Debug)]
enum Sink {
    Stdout,
    Memory(Mutex<Vec<String>>),
}

impl Metrics {
    /// No metrics: every call returns at once.
    pub fn off() -> Self {
        Self(None)
    }

    /// Lines on stdout when `settings.enabled`, else [`Metrics::off`].
    pub fn from_settings(settings: &MetricsSettings, function: Function) -> Self {
        if !settings.enabled {
            return Self::off();
        }
        Self::with_sink(settings.namespace.clone(), function, Sink::Stdout)
    }

    /// Lines kept in memory, read back with [`Metrics::lines`] (tests; anything that wants to look
    /// at what would have been written).
    pub fn in_memory(namespace: MetricsNamespace, function: Function) -> Self {
        Self::with_sink(namespace, function, Sink::Memory(Mutex::default()))
    }

    fn with_sink(namespace: MetricsNamespace, function: Function, sink: Sink) -> Self {
        Self(Some(Arc::new(Emitter {
            namespace,
            function,
            sink,
        })))
    }

    /// The lines an in-memory handle has written, each with its `\n`; empty for the others.
    pub fn lines(&self) -> Vec<String> {
        match self.0.as_deref() {
            Some(Emitter {
                sink: Sink::Memory(lines),
                ..
            }) => lines.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            _ => Vec::new(),
        }
    }

    /// `UploadUrlsIssued` = 1: the API handed out an upload URL (its row is written).
    pub fn upload_url_issued(&self, image_id: ImageId) {
        self.emit(
            BY_FUNCTION,
            None,
            &[Metric::Count("UploadUrlsIssued", 1)],
            image_id,
        );
    }

    /// `UploadsRefusedByLimit` = 1 by `Function`, and by `Function` and `Reason` (the API's error
    /// code): a per-user limit refused an upload URL (`image_id` is the one it would have had).
    pub fn upload_refused_by_limit(&self, image_id: ImageId, code: &str) {
        self.emit(
            BY_FUNCTION_AND_REASON,
            Some(code),
            &[Metric::Count("UploadsRefusedByLimit", 1)],
            image_id,
        );
    }

    /// `UploadsReady` = 1 and `ThumbnailTime`: an upload was verified and its row is READY.
    /// `thumbnail_time` is decoding, reducing and encoding the thumbnail (one pass).
    pub fn upload_ready(&self, image_id: ImageId, thumbnail_time: Duration) {
        self.emit(
            BY_FUNCTION,
            None,
            &[
                Metric::Count("UploadsReady", 1),
                Metric::Milliseconds("ThumbnailTime", thumbnail_time),
            ],
            image_id,
        );
    }

    /// `UploadsRejected` = 1 by `Function`, and by `Function` and `Reason` (the code the row
    /// stores): an upload was refused and its row is REJECTED.
    pub fn upload_rejected(&self, image_id: ImageId, reason: RejectionReason) {
        self.emit(
            BY_FUNCTION_AND_REASON,
            Some(reason.code()),
            &[Metric::Count("UploadsRejected", 1)],
            image_id,
        );
    }

    /// `ProcessingTime`: how long one queue message took, whatever became of it.
    pub fn message_processed(&self, processing_time: Duration) {
        let Some(emitter) = self.0.as_deref() else {
            return;
        };
        emitter.write(&Record {
            namespace: emitter.namespace.as_ref(),
            dimensions: &[("Function", emitter.function.as_str())],
            dimension_sets: BY_FUNCTION,
            metrics: &[Metric::Milliseconds("ProcessingTime", processing_time)],
            properties: &[],
        });
    }

    fn emit(
        &self,
        dimension_sets: &[&[&'static str]],
        reason: Option<&str>,
        metrics: &[Metric],
        image_id: ImageId,
    ) {
        let Some(emitter) = self.0.as_deref() else {
            return;
        };
        let function = ("Function", emitter.function.as_str());
        let with_reason;
        let dimensions: &[(&'static str, &str)] = match reason {
            Some(reason) => {
                with_reason = [function, ("Reason", reason)];
                &with_reason
            }
            None => std::slice::from_ref(&function),
        };
        let image_id = image_id.to_string();
        emitter.write(&Record {
            namespace: emitter.namespace.as_ref(),
            dimensions,
            dimension_sets,
            metrics,
            properties: &[("imageId", &image_id)],
        });
    }
}

impl Emitter {
    fn write(&self, record: &Record<'_>) {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let line = record.to_line(now_ms);
        match &self.sink {
            // One `write_all` on the locked handle: the tracing subscriber writes each log line the
            // same way, so a metric line never lands in the middle of a log line. A failed write
            // is dropped: stdout is also where an error would be logged.
            Sink::Stdout => {
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            Sink::Memory(lines) => lines.lock().unwrap_or_else(|e| e.into_inner()).push(line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::emf_spec::validate;
    use super::*;

    fn memory(function: Function) -> Metrics {
        Metrics::in_memory(MetricsNamespace::default(), function)
    }

    #[test]
    fn each_metric_is_one_valid_line_with_the_contracts_names() {
        let metrics = memory(Function::Processor);
        let id = ImageId::new_random();

        metrics.upload_ready(id, Duration::from_micros(4_250));
        metrics.upload_rejected(id, RejectionReason::TypeMismatch);
        metrics.message_processed(Duration::from_millis(31));

        let lines: Vec<_> = metrics
            .lines()
            .iter()
            .map(|l| validate(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        let [ready, rejected, processed] = &lines[..] else {
            unreachable!()
        };
        assert_eq!(ready.metric_names(), ["UploadsReady", "ThumbnailTime"]);
        assert_eq!(ready.number("UploadsReady"), Some(1.0));
        assert_eq!(ready.unit("UploadsReady"), Some("Count"));
        assert_eq!(ready.number("ThumbnailTime"), Some(4.25));
        assert_eq!(ready.unit("ThumbnailTime"), Some("Milliseconds"));
        assert_eq!(ready.dimension_sets(), [["Function"]]);
        assert_eq!(ready.dimension("Function"), Some("processor"));
        assert_eq!(ready.dimension("imageId"), Some(id.to_string().as_str()));
        assert_eq!(rejected.metric_names(), ["UploadsRejected"]);
        assert_eq!(
            rejected.dimension_sets(),
            [vec!["Function"], vec!["Function", "Reason"]]
        );
        assert_eq!(rejected.dimension("Reason"), Some("TYPE_MISMATCH"));
        assert_eq!(processed.metric_names(), ["ProcessingTime"]);
        assert_eq!(processed.number("ProcessingTime"), Some(31.0));
        for line in &lines {
            assert_eq!(line.directives[0].namespace, "ImageUpload");
        }
    }

    #[test]
    fn the_api_counts_issued_urls() {
        let metrics = memory(Function::Api);
        metrics.upload_url_issued(ImageId::new_random());
        let line = validate(&metrics.lines()[0]).unwrap();
        assert_eq!(line.metric_names(), ["UploadUrlsIssued"]);
        assert_eq!(line.dimension("Function"), Some("api"));
    }

    #[test]
    fn disabled_metrics_write_nothing() {
        let settings = MetricsSettings {
            namespace: MetricsNamespace::default(),
            enabled: false,
        };
        let metrics = Metrics::from_settings(&settings, Function::Api);
        metrics.upload_url_issued(ImageId::new_random());
        assert!(metrics.0.is_none());
        assert!(metrics.lines().is_empty());
    }
}
