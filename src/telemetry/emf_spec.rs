//! The rules of the CloudWatch embedded metric format, as a checker for tests: every line the
//! service writes is held to them. From the specification
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>)
//! and the limits the AWS EMF client libraries enforce (name and value lengths, ASCII dimensions,
//! the namespace's characters).
//!
//! Test code only: compiled into the library's unit tests and, through `#[path]`, into the API
//! tests (`tests/api/main.rs`), so both hold lines to the same rules.

use serde_json::{Map, Value};

/// Units the specification allows.
pub const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

const MAX_DIMENSIONS_PER_SET: usize = 30;
const MAX_METRICS_PER_DIRECTIVE: usize = 100;
const MAX_VALUES_PER_METRIC: usize = 100;
const MAX_NAMESPACE_LEN: usize = 255;
const MAX_DIMENSION_NAME_LEN: usize = 250;
const MAX_DIMENSION_VALUE_LEN: usize = 1024;
const MAX_METRIC_NAME_LEN: usize = 1024;

/// One directive of a valid line.
#[derive(Debug, Clone)]
pub struct Directive {
    pub namespace: String,
    pub dimension_sets: Vec<Vec<String>>,
    /// Each metric's name and unit.
    pub metrics: Vec<(String, Option<String>)>,
}

/// A line that keeps every rule.
#[derive(Debug, Clone)]
pub struct EmfLine {
    pub root: Map<String, Value>,
    pub directives: Vec<Directive>,
}

impl EmfLine {
    /// The names of the metrics the line defines, in order.
    pub fn metric_names(&self) -> Vec<&str> {
        self.directives
            .iter()
            .flat_map(|d| d.metrics.iter().map(|(name, _)| name.as_str()))
            .collect()
    }

    /// A metric's value, when it is a single number.
    pub fn number(&self, name: &str) -> Option<f64> {
        self.metric_names().contains(&name).then_some(())?;
        self.root.get(name)?.as_f64()
    }

    /// A metric's unit.
    pub fn unit(&self, name: &str) -> Option<&str> {
        self.directives
            .iter()
            .flat_map(|d| &d.metrics)
            .find(|(n, _)| n == name)?
            .1
            .as_deref()
    }

    /// A top-level string member: a dimension's value, or a property.
    pub fn dimension(&self, name: &str) -> Option<&str> {
        self.root.get(name)?.as_str()
    }

    /// Every directive's dimension sets, flattened.
    pub fn dimension_sets(&self) -> Vec<Vec<&str>> {
        self.directives
            .iter()
            .flat_map(|d| &d.dimension_sets)
            .map(|set| set.iter().map(String::as_str).collect())
            .collect()
    }
}

/// Checks one log line (as written, its `\n` included) against the specification.
///
/// # Errors
/// The first rule the line breaks.
pub fn validate(line: &str) -> Result<EmfLine, String> {
    let json = line
        .strip_suffix('\n')
        .ok_or("a line ends with \\n (one write, one log event)")?;
    if json.contains(['\n', '\r']) {
        return Err("one JSON object on one line".into());
    }
    let root: Map<String, Value> = match serde_json::from_str(json) {
        Ok(Value::Object(root)) => root,
        Ok(_) => return Err("the root node is a JSON object".into()),
        Err(e) => return Err(format!("not JSON, or data around the object: {e}")),
    };
    let aws = object(root.get("_aws"), "_aws")?;
    only_members(aws, &["Timestamp", "CloudWatchMetrics"], "_aws")?;
    let timestamp = aws
        .get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("_aws.Timestamp is a whole number of milliseconds since the epoch")?;
    // 2020-01-01 to 2100-01-01: a timestamp in seconds, or in microseconds, is a bug.
    if !(1_577_836_800_000..4_102_444_800_000).contains(&timestamp) {
        return Err(format!(
            "_aws.Timestamp {timestamp} is not epoch milliseconds"
        ));
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics is an array")?;
    if directives.is_empty() {
        return Err("_aws.CloudWatchMetrics holds a directive".into());
    }
    let directives = directives
        .iter()
        .map(|d| directive(d, &root))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EmfLine { root, directives })
}

fn directive(value: &Value, root: &Map<String, Value>) -> Result<Directive, String> {
    let d = object(Some(value), "a MetricDirective")?;
    only_members(
        d,
        &["Namespace", "Dimensions", "Metrics"],
        "a MetricDirective",
    )?;
    let namespace = d
        .get("Namespace")
        .and_then(Value::as_str)
        .ok_or("Namespace is a string")?;
    let namespace_chars = |c: char| c.is_ascii_alphanumeric() || ".-_/#:".contains(c);
    if namespace.is_empty()
        || namespace.len() > MAX_NAMESPACE_LEN
        || !namespace.chars().all(namespace_chars)
    {
        return Err(format!("namespace {namespace:?}"));
    }
    let mut dimension_sets = Vec::new();
    for set in d
        .get("Dimensions")
        .and_then(Value::as_array)
        .ok_or("Dimensions is an array of DimensionSets")?
    {
        let set = set.as_array().ok_or("a DimensionSet is an array")?;
        if set.len() > MAX_DIMENSIONS_PER_SET {
            return Err(format!("a DimensionSet of {} dimensions", set.len()));
        }
        let mut names = Vec::new();
        for name in set {
            let name = name.as_str().ok_or("a dimension name is a string")?;
            if name.is_empty()
                || name.len() > MAX_DIMENSION_NAME_LEN
                || !name.is_ascii()
                || name.starts_with(':')
            {
                return Err(format!("dimension name {name:?}"));
            }
            let value = root
                .get(name)
                .ok_or(format!("dimension {name} is a member of the root node"))?
                .as_str()
                .ok_or(format!("dimension {name}'s value is a string"))?;
            if value.trim().is_empty() || value.len() > MAX_DIMENSION_VALUE_LEN || !value.is_ascii()
            {
                return Err(format!("dimension {name}'s value {value:?}"));
            }
            names.push(name.to_owned());
        }
        dimension_sets.push(names);
    }
    let definitions = d
        .get("Metrics")
        .and_then(Value::as_array)
        .ok_or("Metrics is an array")?;
    if definitions.len() > MAX_METRICS_PER_DIRECTIVE {
        return Err(format!("{} metrics in one directive", definitions.len()));
    }
    let mut metrics = Vec::new();
    for definition in definitions {
        let m = object(Some(definition), "a MetricDefinition")?;
        only_members(
            m,
            &["Name", "Unit", "StorageResolution"],
            "a MetricDefinition",
        )?;
        let name = m
            .get("Name")
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty() && n.len() <= MAX_METRIC_NAME_LEN)
            .ok_or("a metric's Name is a string of 1 to 1024 characters")?;
        let unit = match m.get("Unit") {
            None => None,
            Some(unit) => Some(
                unit.as_str()
                    .filter(|u| UNITS.contains(u))
                    .ok_or(format!("{name}'s Unit {unit} is one the spec lists"))?
                    .to_owned(),
            ),
        };
        if let Some(resolution) = m.get("StorageResolution")
            && resolution.as_u64() != Some(1)
            && resolution.as_u64() != Some(60)
        {
            return Err(format!("{name}'s StorageResolution is 1 or 60"));
        }
        match root.get(name) {
            Some(Value::Number(_)) => {}
            Some(Value::Array(values))
                if values.len() <= MAX_VALUES_PER_METRIC && values.iter().all(Value::is_number) => {
            }
            Some(other) => {
                return Err(format!(
                    "{name}'s value is a number or up to 100 numbers, not {other}"
                ));
            }
            None => return Err(format!("metric {name} is a member of the root node")),
        }
        metrics.push((name.to_owned(), unit));
    }
    Ok(Directive {
        namespace: namespace.to_owned(),
        dimension_sets,
        metrics,
    })
}

fn object<'a>(value: Option<&'a Value>, what: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .and_then(Value::as_object)
        .ok_or(format!("{what} is an object"))
}

fn only_members(object: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), String> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(extra) => Err(format!("{what} has no member {extra:?}")),
        None => Ok(()),
    }
}
