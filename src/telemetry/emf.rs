//! The CloudWatch embedded metric format (EMF): a JSON object on one log line, which CloudWatch
//! Logs turns into metrics as it ingests the function's output. See the specification,
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>;
//! `emf_spec.rs` (tests) encodes its rules and checks every line written here against them.
//!
//! A small writer rather than a crate: the crates found either install a global recorder for the
//! `metrics` facade and flush per Lambda invocation (`metrics_cloudwatch_embedded`), which the
//! local server and tests cannot hand a sink of their own, or are a wide-event framework
//! (`metrique`), much more than five metrics need.

use std::io::Write as _;
use std::time::Duration;

/// One value of one metric. The unit follows from the variant, so a line can never pair a
/// duration with `Count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// A number of things (unit `Count`).
    Count(&'static str, u64),
    /// A duration (unit `Milliseconds`, to the microsecond).
    Milliseconds(&'static str, Duration),
}

impl Metric {
    fn name(&self) -> &'static str {
        match self {
            Self::Count(name, _) | Self::Milliseconds(name, _) => name,
        }
    }

    fn unit(&self) -> &'static str {
        match self {
            Self::Count(..) => "Count",
            Self::Milliseconds(..) => "Milliseconds",
        }
    }

    /// Appends the value as a JSON number: counts as integers, durations as milliseconds with
    /// three decimals, written from integers so the text is exact and needs no float formatting.
    fn write_value(&self, out: &mut Vec<u8>) {
        match *self {
            Self::Count(_, n) => write!(out, "{n}"),
            Self::Milliseconds(_, d) => {
                let micros = d.as_micros();
                write!(out, "{}.{:03}", micros / 1000, micros % 1000)
            }
        }
        .expect("writing to a Vec cannot fail");
    }
}

/// The most dimensions a dimension set may name, and the most metrics a directive may list.
pub const MAX_DIMENSIONS_PER_SET: usize = 30;
pub const MAX_METRICS_PER_DIRECTIVE: usize = 100;

/// What one line says: metrics that share their dimensions, plus properties (top-level members
/// CloudWatch keeps in the log event for Logs Insights but does not turn into metrics).
///
/// Names are `&'static str`: every name is chosen in this crate, never taken from input. Values
/// (dimension values, properties, the namespace) are escaped whatever they hold.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub namespace: &'a str,
    pub dimensions: &'a [(&'static str, &'a str)],
    /// One metric per set and per metric: `[["Function"], ["Function", "Reason"]]` makes a
    /// per-function total and a per-function, per-reason series. Every name must be one of
    /// `dimensions`.
    pub dimension_sets: &'a [&'a [&'static str]],
    pub metrics: &'a [Metric],
    pub properties: &'a [(&'static str, &'a str)],
}

impl Record<'_> {
    /// The record as one EMF line, `\n` included, stamped `timestamp_ms` (milliseconds since the
    /// Unix epoch). The line holds no other line break: JSON escapes every control character.
    pub fn to_line(&self, timestamp_ms: u128) -> String {
        debug_assert!(self.is_well_formed(), "{self:?}");
        let mut out = Vec::with_capacity(256);
        write!(
            out,
            r#"{{"_aws":{{"Timestamp":{timestamp_ms},"CloudWatchMetrics":[{{"Namespace":"#
        )
        .expect("writing to a Vec cannot fail");
        push_json_string(&mut out, self.namespace);
        out.extend_from_slice(br#","Dimensions":["#);
        for (i, set) in self.dimension_sets.iter().enumerate() {
            out.extend_from_slice(if i == 0 { b"[" } else { b",[" });
            for (j, name) in set.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                push_json_string(&mut out, name);
            }
            out.push(b']');
        }
        out.extend_from_slice(br#"],"Metrics":["#);
        for (i, metric) in self.metrics.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"Name":"#);
            push_json_string(&mut out, metric.name());
            out.extend_from_slice(br#","Unit":""#);
            out.extend_from_slice(metric.unit().as_bytes());
            out.extend_from_slice(br#""}"#);
        }
        out.extend_from_slice(b"]}]}");
        for (name, value) in self.dimensions.iter().chain(self.properties) {
            out.push(b',');
            push_json_string(&mut out, name);
            out.push(b':');
            push_json_string(&mut out, value);
        }
        for metric in self.metrics {
            out.push(b',');
            push_json_string(&mut out, metric.name());
            out.push(b':');
            metric.write_value(&mut out);
        }
        out.extend_from_slice(b"}\n");
        String::from_utf8(out).expect("JSON text of UTF-8 strings is UTF-8")
    }

    /// The rules a record built in this crate must keep (checked in debug builds): dimension sets
    /// within the limit and naming only present dimensions, no more metrics than allowed, and no
    /// name used twice at the top level.
    fn is_well_formed(&self) -> bool {
        let sets_ok = self.dimension_sets.iter().all(|set| {
            set.len() <= MAX_DIMENSIONS_PER_SET
                && set
                    .iter()
                    .all(|name| self.dimensions.iter().any(|(d, _)| d == name))
        });
        let mut names: Vec<&str> = self
            .dimensions
            .iter()
            .chain(self.properties)
            .map(|(name, _)| *name)
            .chain(self.metrics.iter().map(Metric::name))
            .chain(["_aws"])
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        sets_ok
            && !self.metrics.is_empty()
            && self.metrics.len() <= MAX_METRICS_PER_DIRECTIVE
            && names.len() == count
    }
}

/// Appends `value` as a JSON string. serde_json escapes quotes, backslashes and every control
/// character, so no value can end the line or add members.
fn push_json_string(out: &mut Vec<u8>, value: &str) {
    serde_json::to_writer(out, value).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::super::emf_spec::validate;
    use super::*;

    const NOW_MS: u128 = 1_764_064_800_123;

    #[test]
    fn a_count_line_is_exactly_the_golden_line() {
        let line = Record {
            namespace: "ImageUpload",
            dimensions: &[("Function", "api")],
            dimension_sets: &[&["Function"]],
            metrics: &[Metric::Count("UploadUrlsIssued", 1)],
            properties: &[("imageId", "7f0c1d4e-0b1a-4c7e-9a51-1c2d3e4f5a6b")],
        }
        .to_line(NOW_MS);

        assert_eq!(
            line,
            concat!(
                r#"{"_aws":{"Timestamp":1764064800123,"CloudWatchMetrics":[{"Namespace":"ImageUpload","#,
                r#""Dimensions":[["Function"]],"Metrics":[{"Name":"UploadUrlsIssued","Unit":"Count"}]}]},"#,
                r#""Function":"api","imageId":"7f0c1d4e-0b1a-4c7e-9a51-1c2d3e4f5a6b","UploadUrlsIssued":1}"#,
                "\n"
            )
        );
        validate(&line).unwrap();
    }

    #[test]
    fn two_dimension_sets_and_two_units_are_exactly_the_golden_line() {
        let line = Record {
            namespace: "Team/Images",
            dimensions: &[("Function", "processor"), ("Reason", "NOT_AN_IMAGE")],
            dimension_sets: &[&["Function"], &["Function", "Reason"]],
            metrics: &[
                Metric::Count("UploadsRejected", 1),
                Metric::Milliseconds("ProcessingTime", Duration::from_micros(12_345)),
            ],
            properties: &[],
        }
        .to_line(NOW_MS);

        assert_eq!(
            line,
            concat!(
                r#"{"_aws":{"Timestamp":1764064800123,"CloudWatchMetrics":[{"Namespace":"Team/Images","#,
                r#""Dimensions":[["Function"],["Function","Reason"]],"#,
                r#""Metrics":[{"Name":"UploadsRejected","Unit":"Count"},{"Name":"ProcessingTime","Unit":"Milliseconds"}]}]},"#,
                r#""Function":"processor","Reason":"NOT_AN_IMAGE","UploadsRejected":1,"ProcessingTime":12.345}"#,
                "\n"
            )
        );
        let parsed = validate(&line).unwrap();
        assert_eq!(parsed.number("ProcessingTime"), Some(12.345));
        assert_eq!(parsed.unit("ProcessingTime"), Some("Milliseconds"));
    }

    #[test]
    fn durations_are_milliseconds_to_the_microsecond() {
        let cases = [
            (Duration::ZERO, "0.000"),
            (Duration::from_nanos(999), "0.000"),
            (Duration::from_micros(1), "0.001"),
            (Duration::from_millis(250), "250.000"),
            (Duration::from_secs(61), "61000.000"),
        ];
        for (duration, text) in cases {
            let mut out = Vec::new();
            Metric::Milliseconds("T", duration).write_value(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), text, "{duration:?}");
        }
    }

    #[test]
    fn a_hostile_dimension_value_stays_one_value_on_one_line() {
        let hostile = "x\",\"Function\":\"admin\"}\n{\"_aws\":{}}\r\\\u{1}\u{7f}\u{2028}</script>";
        let line = Record {
            namespace: "ImageUpload",
            dimensions: &[("Function", "processor"), ("Reason", hostile)],
            dimension_sets: &[&["Function", "Reason"]],
            metrics: &[Metric::Count("UploadsRejected", 1)],
            properties: &[("imageId", hostile)],
        }
        .to_line(NOW_MS);

        assert_eq!(line.matches('\n').count(), 1, "{line}");
        assert!(!line.contains('\r'), "{line}");
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["Reason"], hostile);
        assert_eq!(value["imageId"], hostile);
        assert_eq!(value["Function"], "processor");
        assert_eq!(value.as_object().unwrap().len(), 5, "no member was added");
        // The spec's rules hold except that dimension values must be ASCII, which this one is
        // not (U+2028): the values this crate writes are its own codes; escaping is what matters.
        let ascii_hostile = hostile.replace('\u{2028}', "");
        let line = Record {
            namespace: "ImageUpload",
            dimensions: &[("Function", "processor"), ("Reason", &ascii_hostile)],
            dimension_sets: &[&["Function", "Reason"]],
            metrics: &[Metric::Count("UploadsRejected", 1)],
            properties: &[],
        }
        .to_line(NOW_MS);
        assert_eq!(
            validate(&line).unwrap().dimension("Reason"),
            Some(ascii_hostile.as_str())
        );
    }

    #[test]
    fn the_validator_refuses_what_the_spec_forbids() {
        let good = Record {
            namespace: "ImageUpload",
            dimensions: &[("Function", "api")],
            dimension_sets: &[&["Function"]],
            metrics: &[Metric::Count("UploadUrlsIssued", 1)],
            properties: &[],
        }
        .to_line(NOW_MS);
        validate(&good).unwrap();
        let edit = |from: &str, to: &str| {
            assert!(good.contains(from), "{from}");
            good.replacen(from, to, 1)
        };
        let too_many: Vec<String> = (0..31).map(|i| format!("\"D{i}\"")).collect();
        let cases = [
            (edit(r#""_aws""#, r#""aws""#), "no _aws"),
            (edit(r#""Timestamp":1764064800123,"#, ""), "no Timestamp"),
            (edit("1764064800123", "\"now\""), "Timestamp not a number"),
            (
                edit(r#""Namespace":"ImageUpload""#, r#""Namespace":"""#),
                "empty namespace",
            ),
            (
                edit(r#"["Function"]]"#, r#"["Missing"]]"#),
                "dimension not a member",
            ),
            (
                edit(r#""Function":"api""#, r#""Function":7"#),
                "dimension value not a string",
            ),
            (
                edit(r#"[["Function"]]"#, &format!("[[{}]]", too_many.join(","))),
                "a set of 31 dimensions",
            ),
            (
                edit(r#""Unit":"Count""#, r#""Unit":"Counts""#),
                "unknown unit",
            ),
            (
                edit(r#""UploadUrlsIssued":1}"#, r#""UploadUrlsIssued":"1"}"#),
                "value a string",
            ),
            (
                edit(r#","UploadUrlsIssued":1}"#, "}"),
                "metric not a member",
            ),
            (
                edit(
                    r#""UploadUrlsIssued":1}"#,
                    &format!(r#""UploadUrlsIssued":[{}]}}"#, ["1"; 101].join(",")),
                ),
                "101 values",
            ),
            (
                edit(r#""Unit":"Count"}"#, r#""Unit":"Count","Extra":1}"#),
                "extra member",
            ),
            (edit("}\n", "}\n{}\n"), "two lines"),
            (edit("}\n", "}"), "no line end"),
        ];
        for (line, why) in cases {
            assert!(validate(&line).is_err(), "{why}: {line}");
        }
        let arrays = edit(r#""UploadUrlsIssued":1}"#, r#""UploadUrlsIssued":[1,2,3]}"#);
        validate(&arrays).expect("arrays of up to 100 values are allowed");
    }
}
