//! What the template must be for the code it deploys: each check adds one sentence per problem.

use std::collections::BTreeSet;

use image_upload::aws::permissions::{API, FUNCTIONS, FunctionAccess, PROCESSOR, Resource, SWEEP};
use image_upload::aws::{ITEM_TTL_ATTRIBUTE, OWNER_INDEX, OWNER_INDEX_KEY, TABLE_KEY};
use image_upload::config::Settings;
use image_upload::domain::ObjectKey;
use serde_json::{Value, json};

/// Everything wrong with `template`, one sentence each.
pub fn problems(template: &Value) -> Vec<String> {
    let t = Template(template);
    let mut problems = Vec::new();
    t.check_authorizers(&mut problems);
    for access in FUNCTIONS {
        t.check_role(access, &mut problems);
    }
    t.check_queue(&mut problems);
    t.check_notification(&mut problems);
    t.check_table(&mut problems);
    t.check_bucket(&mut problems);
    t.check_environment(&mut problems);
    t.check_cdn(&mut problems);
    for access in FUNCTIONS {
        t.check_settings(access, &mut problems);
    }
    t.check_sweep_schedule(&mut problems);
    problems
}

struct Template<'a>(&'a Value);

/// The secrets `just deploy` stores the CDN's private keys in (infra/cdn-key.sh), and only them.
const CDN_KEY_SECRETS: &str = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${AWS::StackName}/cdn/private-key-*";

/// `{"Fn::GetAtt": [id, "Arn"]}` -> `id`.
fn get_att_arn(v: &Value) -> Option<&str> {
    match v.get("Fn::GetAtt")?.as_array()?.as_slice() {
        [id, attr] if attr == "Arn" => id.as_str(),
        _ => None,
    }
}

/// `{"Ref": id}` -> `id`.
fn reference(v: &Value) -> Option<&str> {
    v.get("Ref")?.as_str()
}

/// A value that is one string or a list of them (IAM's Action and Resource).
fn one_or_many(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// What `v` can be: both values of an `Fn::If` (each expanded again), none for
/// `AWS::NoValue`, else `v` itself.
fn branches(v: &Value) -> Vec<&Value> {
    if reference(v) == Some("AWS::NoValue") {
        return Vec::new();
    }
    match v.get("Fn::If").and_then(Value::as_array).map(Vec::as_slice) {
        Some([_, then, otherwise]) => branches(then)
            .into_iter()
            .chain(branches(otherwise))
            .collect(),
        _ => vec![v],
    }
}

/// `{"Fn::If": [condition, value, {"Ref": "AWS::NoValue"}]}` -> `value`: a property that is
/// there only under a condition.
fn only_if(v: &Value) -> Option<&Value> {
    match v.get("Fn::If")?.as_array()?.as_slice() {
        [_, then, otherwise] if reference(otherwise) == Some("AWS::NoValue") => Some(then),
        _ => None,
    }
}

fn is_true(v: &Value) -> bool {
    v == &json!(true) || v == &json!("true")
}

impl<'a> Template<'a> {
    fn resources(&self) -> impl Iterator<Item = (&'a str, &'a Value)> {
        self.0["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(id, r)| (id.as_str(), r))
    }

    fn of_type(&self, kind: &str) -> Vec<(&'a str, &'a Value)> {
        self.resources()
            .filter(|(_, r)| r["Type"] == kind)
            .collect()
    }

    fn resource(&self, id: &str) -> &'a Value {
        &self.0["Resources"][id]
    }

    fn props(&self, id: &str) -> &'a Value {
        &self.resource(id)["Properties"]
    }

    /// The one resource of `kind` (the template has one bucket, one table).
    fn the_one(&self, kind: &str, problems: &mut Vec<String>) -> Option<&'a str> {
        match self.of_type(kind).as_slice() {
            [(id, _)] => Some(id),
            found => {
                problems.push(format!("expected one {kind}, found {}", found.len()));
                None
            }
        }
    }

    /// The image bucket: the one bucket that is always there (the CDN's log bucket is
    /// conditional).
    fn image_bucket(&self, problems: &mut Vec<String>) -> Option<&'a str> {
        let always: Vec<&str> = self
            .of_type("AWS::S3::Bucket")
            .into_iter()
            .filter(|(_, r)| r["Condition"].is_null())
            .map(|(id, _)| id)
            .collect();
        match always.as_slice() {
            [id] => Some(id),
            found => {
                problems.push(format!(
                    "expected one unconditional AWS::S3::Bucket, found {}",
                    found.len()
                ));
                None
            }
        }
    }

    /// The queue the processor's event source mapping reads.
    fn upload_queue(&self) -> Option<&'a str> {
        self.processor_mapping()
            .and_then(|m| get_att_arn(&m["Properties"]["EventSourceArn"]))
    }

    fn processor_mapping(&self) -> Option<&'a Value> {
        self.of_type("AWS::Lambda::EventSourceMapping")
            .into_iter()
            .map(|(_, m)| m)
            .find(|m| reference(&m["Properties"]["FunctionName"]) == Some(PROCESSOR.logical_id))
    }

    /// A parameter's `MaxValue` when `v` refers to it, else `v` itself as a number.
    fn largest(&self, v: &Value) -> Option<f64> {
        match reference(v) {
            Some(param) => self.0["Parameters"][param]["MaxValue"].as_f64(),
            None => v.as_f64().or_else(|| v.as_str()?.parse().ok()),
        }
    }

    // ------------------------------------------------------------------ the API
    fn check_authorizers(&self, problems: &mut Vec<String>) {
        let apis = self.of_type("AWS::ApiGateway::RestApi");
        if apis.is_empty() {
            problems.push("no REST API in the template".into());
        }
        let mut routes = BTreeSet::new();
        for (api_id, api) in apis {
            let body = &api["Properties"]["Body"];
            let schemes = &body["components"]["securitySchemes"];
            let cognito = |name: &str| {
                let scheme = &schemes[name];
                scheme["x-amazon-apigateway-authtype"] == "cognito_user_pools"
                    && one_or_many(&scheme["x-amazon-apigateway-authorizer"]["providerARNs"])
                        .iter()
                        .any(|arn| {
                            get_att_arn(arn).is_some_and(|id| {
                                self.resource(id)["Type"] == "AWS::Cognito::UserPool"
                            })
                        })
            };
            for (path, methods) in body["paths"].as_object().into_iter().flatten() {
                for (method, operation) in methods.as_object().into_iter().flatten() {
                    let method = method.to_ascii_uppercase();
                    routes.insert(format!("{method} {path}"));
                    if method == "OPTIONS" || method == "PARAMETERS" {
                        continue;
                    }
                    let protected = one_or_many(&operation["security"]).iter().any(|req| {
                        req.as_object()
                            .is_some_and(|names| names.keys().any(|name| cognito(name)))
                    });
                    if !protected {
                        problems.push(format!(
                            "{method} {path} ({api_id}) has no Cognito user pool authorizer"
                        ));
                    }
                }
            }
        }
        for route in [
            "POST /upload",
            "GET /images",
            "GET /images/{imageId}",
            "DELETE /images/{imageId}",
            "OPTIONS /upload",
            "OPTIONS /images",
            "OPTIONS /images/{imageId}",
            "GET /usage",
            "OPTIONS /usage",
        ] {
            if !routes.contains(route) {
                problems.push(format!(
                    "the API has no route {route}, which the service serves"
                ));
            }
        }
        // Methods declared outside the OpenAPI body would escape the check above.
        for (id, method) in self.of_type("AWS::ApiGateway::Method") {
            if method["Properties"]["HttpMethod"] != "OPTIONS"
                && method["Properties"]["AuthorizationType"] != "COGNITO_USER_POOLS"
            {
                problems.push(format!("method {id} has no Cognito user pool authorizer"));
            }
        }
    }

    // ------------------------------------------------------------------ IAM
    fn check_role(&self, access: &FunctionAccess, problems: &mut Vec<String>) {
        let function = access.logical_id;
        if self.resource(function)["Type"] != "AWS::Lambda::Function" {
            problems.push(format!("no function {function}"));
            return;
        }
        let Some(role) = get_att_arn(&self.props(function)["Role"]) else {
            problems.push(format!(
                "{function} has no role of this template (SAM's generated role adds managed policies)"
            ));
            return;
        };
        let role_props = self.props(role);
        if !role_props["ManagedPolicyArns"].is_null() {
            problems.push(format!(
                "{function}'s role {role} has managed policies, which grant beyond the code"
            ));
        }
        // A statement under a condition (`Fn::If`) counts as granted: the check is of what the
        // role can hold, whichever way the template's parameters go.
        let mut statements: Vec<&Value> = one_or_many(&role_props["Policies"])
            .into_iter()
            .flat_map(|p| one_or_many(&p["PolicyDocument"]["Statement"]))
            .flat_map(branches)
            .collect();
        // Policies attached from outside the role count too.
        for kind in ["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"] {
            for (_, policy) in self.of_type(kind) {
                if one_or_many(&policy["Properties"]["Roles"])
                    .iter()
                    .any(|r| reference(r) == Some(role))
                {
                    statements.extend(
                        one_or_many(&policy["Properties"]["PolicyDocument"]["Statement"])
                            .into_iter()
                            .flat_map(branches),
                    );
                }
            }
        }
        let log_group = reference(&self.props(function)["LoggingConfig"]["LogGroup"]);
        let mut granted = BTreeSet::new();
        for statement in statements {
            if statement["Effect"] != "Allow" {
                continue; // a Deny only takes away
            }
            if !statement["NotAction"].is_null() || !statement["NotResource"].is_null() {
                problems.push(format!(
                    "{function}'s role uses NotAction/NotResource: it grants everything else"
                ));
            }
            for action in one_or_many(&statement["Action"]) {
                let action = action.as_str().unwrap_or_default();
                if action.contains('*') || action.is_empty() {
                    problems.push(format!(
                        "{function}'s role grants the wildcard action `{action}`"
                    ));
                    continue;
                }
                for resource in one_or_many(&statement["Resource"]) {
                    match self.classify(resource, log_group) {
                        Some(resource) => {
                            granted.insert((action.to_owned(), resource));
                        }
                        None => problems.push(format!(
                            "{function}'s role grants {action} on {resource}, which is none of \
                             the resources the code uses (or wider than them)"
                        )),
                    }
                }
            }
        }
        let declared: BTreeSet<(String, Resource)> = access
            .permissions()
            .into_iter()
            .map(|p| (p.action.to_owned(), p.resource))
            .collect();
        for (action, resource) in granted.difference(&declared) {
            problems.push(format!(
                "{function}'s role grants {action} on {resource:?}, beyond what its code calls \
                 (src/aws/permissions.rs)"
            ));
        }
        for (action, resource) in declared.difference(&granted) {
            problems.push(format!(
                "{function}'s role lacks {action} on {resource:?}, which its code calls"
            ));
        }
    }

    /// Which declared resource an IAM `Resource` entry is, if exactly one of them.
    fn classify(&self, v: &Value, log_group: Option<&str>) -> Option<Resource> {
        let mut ignored = Vec::new();
        let bucket = self.image_bucket(&mut ignored)?;
        let table = self.the_one("AWS::DynamoDB::Table", &mut ignored)?;
        if let Some(id) = get_att_arn(v) {
            return match id {
                _ if id == bucket => Some(Resource::Bucket),
                _ if id == table => Some(Resource::Table),
                _ if Some(id) == self.upload_queue() => Some(Resource::Queue),
                _ if Some(id) == log_group => Some(Resource::LogGroup),
                _ => None,
            };
        }
        let sub = v.get("Fn::Sub")?.as_str()?;
        if sub == CDN_KEY_SECRETS {
            return Some(Resource::CdnKeySecrets);
        }
        if let Some(rest) = sub.strip_prefix(&format!("${{{bucket}.Arn}}/")) {
            let prefix = rest.strip_suffix('*')?;
            return [
                ObjectKey::UPLOADS_PREFIX,
                ObjectKey::ORIGINALS_PREFIX,
                ObjectKey::THUMBNAILS_PREFIX,
                ObjectKey::RENDITIONS_PREFIX,
            ]
            .into_iter()
            .find(|known| *known == prefix)
            .map(Resource::Objects);
        }
        let index = sub.strip_prefix(&format!("${{{table}.Arn}}/index/"))?;
        (index == OWNER_INDEX).then_some(Resource::Index(OWNER_INDEX))
    }

    // ------------------------------------------------------------------ the queue
    fn check_queue(&self, problems: &mut Vec<String>) {
        let Some(mapping) = self.processor_mapping() else {
            problems.push(format!(
                "no event source mapping feeds {}",
                PROCESSOR.logical_id
            ));
            return;
        };
        let Some(queue) = self.upload_queue() else {
            problems.push("the processor's event source is not a queue of this template".into());
            return;
        };
        let mapping = &mapping["Properties"];
        if !one_or_many(&mapping["FunctionResponseTypes"])
            .contains(&&json!("ReportBatchItemFailures"))
        {
            problems.push(
                "the processor's event source does not report batch item failures: one failed \
                 message would redeliver its whole batch"
                    .into(),
            );
        }
        let function = self.props(PROCESSOR.logical_id);
        let timeout = function["Timeout"].as_f64().unwrap_or(3.0);
        match self.props(queue)["VisibilityTimeout"].as_f64() {
            Some(visibility) if visibility >= 6.0 * timeout => {}
            visibility => problems.push(format!(
                "the upload queue's visibility timeout ({visibility:?} s) is under six times the \
                 processor's timeout ({timeout} s)"
            )),
        }
        // The timeout is reasoned for one round of messages per batch (template.yaml).
        let concurrency = &function["Environment"]["Variables"]["PROCESSOR_CONCURRENCY"];
        if mapping["BatchSize"] != *concurrency {
            problems.push(format!(
                "the batch size ({}) is not PROCESSOR_CONCURRENCY ({concurrency}): a batch would \
                 take more than one round, beyond what the timeout allows for",
                mapping["BatchSize"]
            ));
        }
        // The function's memory must hold the budget of every message in flight.
        match (self.largest(concurrency), function["MemorySize"].as_f64()) {
            (Some(most), Some(memory_mb)) => {
                let settings = Settings::from_lookup(|name| {
                    (name == "PROCESSOR_CONCURRENCY").then(|| most.to_string())
                })
                .expect("the largest PROCESSOR_CONCURRENCY the template allows is valid");
                let needed_mb = settings.processor_memory_needed().div_ceil(1024 * 1024);
                if (memory_mb as u64) < needed_mb {
                    problems.push(format!(
                        "the processor has {memory_mb} MB, but PROCESSOR_CONCURRENCY up to {most} \
                         needs {needed_mb} MB (docs/architecture.md, \"The memory and time budget\")"
                    ));
                }
            }
            _ => {
                problems.push("the processor's memory or concurrency bound is not a number".into())
            }
        }
        let dlq = get_att_arn(&self.props(queue)["RedrivePolicy"]["deadLetterTargetArn"]);
        for id in std::iter::once(queue).chain(dlq) {
            let props = self.props(id);
            if !is_true(&props["SqsManagedSseEnabled"]) && props["KmsMasterKeyId"].is_null() {
                problems.push(format!("queue {id} is not encrypted"));
            }
        }
        if dlq.is_none() {
            problems.push("the upload queue has no dead-letter queue".into());
        }
    }

    fn check_notification(&self, problems: &mut Vec<String>) {
        let Some(bucket) = self.image_bucket(problems) else {
            return;
        };
        let notification = &self.props(bucket)["NotificationConfiguration"];
        let configs = one_or_many(&notification["QueueConfigurations"]);
        if configs.is_empty() {
            problems.push("the bucket notifies no queue of new uploads".into());
        }
        for config in configs {
            let prefixes: Vec<&Value> = one_or_many(&config["Filter"]["S3Key"]["Rules"])
                .into_iter()
                .filter(|rule| rule["Name"] == "prefix")
                .map(|rule| &rule["Value"])
                .collect();
            if prefixes != [&json!(ObjectKey::UPLOADS_PREFIX)] {
                problems.push(format!(
                    "the bucket's notification filters by prefix {prefixes:?}, not `{}`, the \
                     upload inbox the code reads (and the only prefix it may)",
                    ObjectKey::UPLOADS_PREFIX
                ));
            }
            if get_att_arn(&config["Queue"]) != self.upload_queue() {
                problems.push("the bucket notifies a queue the processor does not read".into());
            }
            if !config["Event"]
                .as_str()
                .is_some_and(|e| e.starts_with("s3:ObjectCreated:"))
            {
                problems.push(format!(
                    "the notification is for {}, not ObjectCreated",
                    config["Event"]
                ));
            }
        }
        // Only this bucket, in this account, may send.
        let queue = self.upload_queue();
        let allowed = self
            .of_type("AWS::SQS::QueuePolicy")
            .into_iter()
            .filter(|(_, p)| {
                one_or_many(&p["Properties"]["Queues"])
                    .iter()
                    .any(|q| reference(q) == queue)
            })
            .flat_map(|(_, p)| one_or_many(&p["Properties"]["PolicyDocument"]["Statement"]))
            .filter(|s| s["Effect"] == "Allow")
            .collect::<Vec<_>>();
        let scoped = |s: &&Value| {
            s["Principal"] == json!({"Service": "s3.amazonaws.com"})
                && !s["Condition"]["ArnEquals"]["aws:SourceArn"].is_null()
                && !s["Condition"]["StringEquals"]["aws:SourceAccount"].is_null()
        };
        if allowed.is_empty() || !allowed.iter().all(scoped) {
            problems.push(
                "the upload queue's policy must allow only s3.amazonaws.com, for this bucket \
                 (aws:SourceArn) and account (aws:SourceAccount)"
                    .into(),
            );
        }
    }

    // ------------------------------------------------------------------ the table
    fn check_table(&self, problems: &mut Vec<String>) {
        let Some(table) = self.the_one("AWS::DynamoDB::Table", problems) else {
            return;
        };
        let props = self.props(table);
        if props["KeySchema"] != json!([{"AttributeName": TABLE_KEY, "KeyType": "HASH"}]) {
            problems.push(format!(
                "the table's key is {}, not `{TABLE_KEY}` alone",
                props["KeySchema"]
            ));
        }
        let index = one_or_many(&props["GlobalSecondaryIndexes"])
            .into_iter()
            .find(|i| i["IndexName"] == OWNER_INDEX);
        match index {
            None => problems.push(format!("the table has no index `{OWNER_INDEX}`")),
            Some(index) => {
                let (hash, range) = OWNER_INDEX_KEY;
                if index["KeySchema"]
                    != json!([{"AttributeName": hash, "KeyType": "HASH"},
                              {"AttributeName": range, "KeyType": "RANGE"}])
                {
                    problems.push(format!(
                        "index `{OWNER_INDEX}` is keyed {}, not {hash} then {range}",
                        index["KeySchema"]
                    ));
                }
                if index["Projection"]["ProjectionType"] != "ALL" {
                    problems.push(format!(
                        "index `{OWNER_INDEX}` must project ALL: listings read whole items"
                    ));
                }
            }
        }
        for name in [TABLE_KEY, OWNER_INDEX_KEY.0, OWNER_INDEX_KEY.1] {
            let declared = json!({"AttributeName": name, "AttributeType": "S"});
            if !one_or_many(&props["AttributeDefinitions"]).contains(&&declared) {
                problems.push(format!("attribute `{name}` is not declared as a string"));
            }
        }
        let ttl = &props["TimeToLiveSpecification"];
        if ttl["AttributeName"] != ITEM_TTL_ATTRIBUTE || !is_true(&ttl["Enabled"]) {
            problems.push(format!(
                "the table's TTL is {ttl}, not on `{ITEM_TTL_ATTRIBUTE}`, the attribute the code \
                 writes"
            ));
        }
    }

    // ------------------------------------------------------------------ the bucket
    fn check_bucket(&self, problems: &mut Vec<String>) {
        let Some(bucket) = self.image_bucket(problems) else {
            return;
        };
        let props = self.props(bucket);
        for setting in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            if !is_true(&props["PublicAccessBlockConfiguration"][setting]) {
                problems.push(format!("the bucket's Block Public Access lacks {setting}"));
            }
        }
        if !one_or_many(&props["OwnershipControls"]["Rules"])
            .iter()
            .any(|r| r["ObjectOwnership"] == "BucketOwnerEnforced")
        {
            problems.push("the bucket does not enforce bucket ownership (ACLs off)".into());
        }
        let encrypted =
            one_or_many(&props["BucketEncryption"]["ServerSideEncryptionConfiguration"])
                .iter()
                .any(|c| {
                    ["AES256", "aws:kms", "aws:kms:dsse"].contains(
                        &c["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
                            .as_str()
                            .unwrap_or(""),
                    )
                });
        if !encrypted {
            problems.push("the bucket has no default encryption".into());
        }
        let objects = json!({"Fn::Sub": format!("${{{bucket}.Arn}}/*")});
        let bucket_arn = json!({"Fn::GetAtt": [bucket, "Arn"]});
        let tls_only = self
            .of_type("AWS::S3::BucketPolicy")
            .into_iter()
            .filter(|(_, p)| reference(&p["Properties"]["Bucket"]) == Some(bucket))
            .flat_map(|(_, p)| one_or_many(&p["Properties"]["PolicyDocument"]["Statement"]))
            .any(|s| {
                let resources = one_or_many(&s["Resource"]);
                let secure = &s["Condition"]["Bool"]["aws:SecureTransport"];
                s["Effect"] == "Deny"
                    && s["Principal"] == "*"
                    && (s["Action"] == "s3:*" || s["Action"] == "*")
                    && resources.contains(&&objects)
                    && resources.contains(&&bucket_arn)
                    && (secure == "false" || secure == &json!(false))
            });
        if !tls_only {
            problems.push(
                "no bucket policy denies every request without TLS (aws:SecureTransport false) \
                 on the bucket and its objects"
                    .into(),
            );
        }
    }

    // ------------------------------------------------------------------ the functions
    fn check_environment(&self, problems: &mut Vec<String>) {
        // A function the declarations do not know would escape the role check.
        for (id, _) in self.of_type("AWS::Lambda::Function") {
            if !FUNCTIONS.iter().any(|access| access.logical_id == id) {
                problems.push(format!(
                    "function {id} has no permissions declared in src/aws/permissions.rs"
                ));
            }
        }
        let bucket = self.image_bucket(&mut Vec::new());
        let table = self
            .of_type("AWS::DynamoDB::Table")
            .first()
            .map(|(id, _)| *id);
        for access in FUNCTIONS {
            let env = &self.props(access.logical_id)["Environment"]["Variables"];
            let function = access.logical_id;
            if !env["ALLOW_ANONYMOUS"].is_null() {
                problems.push(format!(
                    "{function} sets ALLOW_ANONYMOUS: behind API Gateway every request must be \
                     someone's"
                ));
            }
            if reference(&env["BUCKET_NAME"]) != bucket {
                problems.push(format!("{function}'s BUCKET_NAME is not the bucket"));
            }
            if reference(&env["TABLE_NAME"]) != table {
                problems.push(format!("{function}'s TABLE_NAME is not the table"));
            }
        }
        let api_env = &self.props(API.logical_id)["Environment"]["Variables"];
        if api_env["REQUIRE_FILE_SIZE"] != "true" {
            problems.push(format!(
                "{}'s REQUIRE_FILE_SIZE is not \"true\": an upload URL without a signed size \
                 takes any PUT up to 5 GiB",
                API.logical_id
            ));
        }
        self.check_app_client(problems);
        // The Cognito authorizer admits a token of any app client of the pool; the API holds
        // the claims to the template's own client.
        let client = self
            .of_type("AWS::Cognito::UserPoolClient")
            .first()
            .map(|(id, _)| *id);
        if client.is_none() || reference(&api_env["AUTHORIZER_CLIENT_ID"]) != client {
            problems.push(format!(
                "{}'s AUTHORIZER_CLIENT_ID is not the user pool's app client",
                API.logical_id
            ));
        }
    }
}

impl<'a> Template<'a> {
    /// The app client's tokens: a refresh token of at most a day (Cognito's default is 30), and
    /// no write access to `email` (what users sign in with).
    fn check_app_client(&self, problems: &mut Vec<String>) {
        for (id, client) in self.of_type("AWS::Cognito::UserPoolClient") {
            let props = &client["Properties"];
            let hours = match props["TokenValidityUnits"]["RefreshToken"].as_str() {
                Some("minutes") => 1.0 / 60.0,
                Some("hours") => 1.0,
                Some("days") | None => 24.0,
                Some(_) => f64::INFINITY,
            };
            let validity = props["RefreshTokenValidity"].as_f64().map(|n| n * hours);
            if !validity.is_some_and(|h| h <= 24.0) {
                problems.push(format!(
                    "{id}'s refresh tokens may live more than a day (RefreshTokenValidity)"
                ));
            }
            let writable = props["WriteAttributes"].as_array();
            if writable.is_none_or(|names| names.iter().any(|n| n == "email")) {
                problems.push(format!(
                    "{id} lets users change their own email (WriteAttributes unset or with email)"
                ));
            }
        }
    }

    /// The CDN, when the template has one: it reads only what is delivered, for this
    /// distribution only; every path needs a URL signed by a key of its group, over HTTPS; the
    /// signing parameters stay out of the cache key; the API signs with a key of that group
    /// and reads it from a secret its role may read.
    fn check_cdn(&self, problems: &mut Vec<String>) {
        let Some(bucket) = self.image_bucket(&mut Vec::new()) else {
            return;
        };
        let distributions = self.of_type("AWS::CloudFront::Distribution");
        let Some((distribution, dist)) = distributions.first().copied() else {
            return;
        };
        if distributions.len() > 1 {
            problems.push(format!(
                "expected one CloudFront distribution, found {}",
                distributions.len()
            ));
        }
        let source_arn = format!(
            "arn:${{AWS::Partition}}:cloudfront::${{AWS::AccountId}}:distribution/${{{distribution}}}"
        );
        let delivered = [
            json!({"Fn::Sub": format!("${{{bucket}.Arn}}/{}*", ObjectKey::ORIGINALS_PREFIX)}),
            json!({"Fn::Sub": format!("${{{bucket}.Arn}}/{}*", ObjectKey::RENDITIONS_PREFIX)}),
        ];
        let cdn_statements: Vec<&Value> = self
            .of_type("AWS::S3::BucketPolicy")
            .into_iter()
            .filter(|(_, p)| reference(&p["Properties"]["Bucket"]) == Some(bucket))
            .flat_map(|(_, p)| one_or_many(&p["Properties"]["PolicyDocument"]["Statement"]))
            .flat_map(branches)
            .filter(|s| s["Effect"] == "Allow")
            .collect();
        if cdn_statements.is_empty() {
            problems.push("the bucket policy does not let the CDN read the bucket".into());
        }
        for statement in cdn_statements {
            let sid = statement["Sid"].as_str().unwrap_or("(no Sid)");
            if statement["Principal"] != json!({"Service": "cloudfront.amazonaws.com"}) {
                problems.push(format!(
                    "bucket policy statement {sid} allows someone other than CloudFront"
                ));
            }
            if statement["Action"] != "s3:GetObject" {
                problems.push(format!(
                    "bucket policy statement {sid} allows {} to the CDN, not s3:GetObject alone",
                    statement["Action"]
                ));
            }
            for resource in one_or_many(&statement["Resource"]) {
                if !delivered.contains(resource) {
                    problems.push(format!(
                        "bucket policy statement {sid} lets the CDN read {resource}, which is not \
                     delivered (only originals/ and renditions/ are)"
                    ));
                }
            }
            let condition = &statement["Condition"]["StringEquals"]["AWS:SourceArn"];
            if condition.get("Fn::Sub").and_then(Value::as_str) != Some(source_arn.as_str()) {
                problems.push(format!(
                    "bucket policy statement {sid} does not admit exactly {distribution} \
                     (AWS:SourceArn)"
                ));
            }
        }

        let config = &dist["Properties"]["DistributionConfig"];
        let origins = one_or_many(&config["Origins"]);
        let bucket_origin = json!({"Fn::GetAtt": [bucket, "RegionalDomainName"]});
        if origins.len() != 1
            || origins[0]["DomainName"] != bucket_origin
            || origins[0]["OriginAccessControlId"].is_null()
        {
            problems.push(format!(
                "{distribution} must have one origin, the image bucket, through an origin access \
                     control"
            ));
        }
        if config["HttpVersion"] != "http2and3" {
            problems.push(format!("{distribution} does not serve HTTP/2 and HTTP/3"));
        }
        let key_group = self
            .of_type("AWS::CloudFront::KeyGroup")
            .first()
            .map(|(id, _)| *id);
        let behaviors = std::iter::once(&config["DefaultCacheBehavior"])
            .chain(one_or_many(&config["CacheBehaviors"]));
        for behavior in behaviors {
            let path = behavior["PathPattern"].as_str().unwrap_or("default");
            if behavior["ViewerProtocolPolicy"] != "https-only" {
                problems.push(format!(
                    "{distribution}'s {path} behavior is not HTTPS only"
                ));
            }
            let trusted: Vec<Option<&str>> = one_or_many(&behavior["TrustedKeyGroups"])
                .into_iter()
                .map(reference)
                .collect();
            if key_group.is_none() || trusted != [key_group] {
                problems.push(format!(
                    "{distribution}'s {path} behavior does not require URLs signed by a key of \
                     the key group"
                ));
            }
            let cache = reference(&behavior["CachePolicyId"]).map(|id| {
                &self.props(id)["CachePolicyConfig"]["ParametersInCacheKeyAndForwardedToOrigin"]
            });
            let keyed_by_query = cache.is_none_or(|c| {
                c["QueryStringsConfig"]["QueryStringBehavior"] != "none"
                    || c["CookiesConfig"]["CookieBehavior"] != "none"
            });
            if keyed_by_query {
                problems.push(format!(
                    "{distribution}'s {path} behavior has no cache policy of the template that \
                     keeps query strings and cookies (the signing parameters) out of the cache key"
                ));
            }
            let headers = reference(&behavior["ResponseHeadersPolicyId"])
                .map(|id| &self.props(id)["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]);
            let secure = headers.is_some_and(|h| {
                h["StrictTransportSecurity"]["AccessControlMaxAgeSec"]
                    .as_u64()
                    .is_some_and(|age| age >= 31_536_000)
                    && h["ContentTypeOptions"]["Override"] == json!(true)
                    && h["FrameOptions"]["FrameOption"] == "DENY"
            });
            if !secure {
                problems.push(format!(
                    "{distribution}'s {path} behavior lacks a response headers policy with HSTS \
                     (a year at least), nosniff and frame-options DENY"
                ));
            }
        }
        for certificate in branches(&config["ViewerCertificate"]) {
            if !certificate["AcmCertificateArn"].is_null()
                && !certificate["MinimumProtocolVersion"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("TLSv1.2_") || v.starts_with("TLSv1.3"))
            {
                problems.push(format!(
                    "{distribution}'s own certificate admits TLS older than 1.2"
                ));
            }
        }

        // The API signs with a key of the group and reads its private half from a secret its
        // role may read.
        let env = &self.props(API.logical_id)["Environment"]["Variables"];
        let group_keys: Vec<&str> = key_group
            .map(|id| one_or_many(&self.props(id)["KeyGroupConfig"]["Items"]))
            .unwrap_or_default()
            .into_iter()
            .flat_map(branches)
            .filter_map(reference)
            .collect();
        let signing_keys: Vec<&str> = only_if(&env["CDN_KEY_PAIR_ID"])
            .map(branches)
            .unwrap_or_default()
            .into_iter()
            .filter_map(reference)
            .collect();
        if signing_keys.is_empty() || signing_keys.iter().any(|k| !group_keys.contains(k)) {
            problems.push(format!(
                "{}'s CDN_KEY_PAIR_ID is not a key of the CDN's key group",
                API.logical_id
            ));
        }
        let secret = only_if(&env["CDN_PRIVATE_KEY_SECRET"])
            .and_then(|v| v.get("Fn::Sub"))
            .and_then(Value::as_str);
        let granted = CDN_KEY_SECRETS
            .strip_prefix(
                "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:",
            )
            .and_then(|name| name.strip_suffix('*'));
        if !secret.zip(granted).is_some_and(|(s, g)| s.starts_with(g)) {
            problems.push(format!(
                "{}'s CDN_PRIVATE_KEY_SECRET is not a secret its role may read ({CDN_KEY_SECRETS})",
                API.logical_id
            ));
        }
    }
}

impl Template<'_> {
    /// The sweep runs on a schedule: one EventBridge rule, enabled, invoking it and nothing else.
    fn check_sweep_schedule(&self, problems: &mut Vec<String>) {
        let rules: Vec<&Value> = self
            .of_type("AWS::Events::Rule")
            .into_iter()
            .map(|(_, rule)| &rule["Properties"])
            .filter(|rule| {
                one_or_many(&rule["Targets"])
                    .iter()
                    .any(|target| get_att_arn(&target["Arn"]) == Some(SWEEP.logical_id))
            })
            .collect();
        match rules.as_slice() {
            [rule] => {
                if rule["ScheduleExpression"].is_null() {
                    problems.push(format!("{}'s rule has no schedule", SWEEP.logical_id));
                }
                if rule["State"] == "DISABLED" {
                    problems.push(format!("{}'s schedule is disabled", SWEEP.logical_id));
                }
                // A retried run would overlap the next one on a short schedule.
                let retries = self
                    .of_type("AWS::Lambda::EventInvokeConfig")
                    .into_iter()
                    .map(|(_, config)| &config["Properties"])
                    .find(|config| reference(&config["FunctionName"]) == Some(SWEEP.logical_id))
                    .map(|config| config["MaximumRetryAttempts"].clone());
                if retries != Some(json!(0)) {
                    problems.push(format!(
                        "{}'s failed runs are retried (MaximumRetryAttempts {retries:?}, not 0)",
                        SWEEP.logical_id
                    ));
                }
            }
            _ => problems.push(format!(
                "{} is invoked by {} EventBridge rules, not one schedule",
                SWEEP.logical_id,
                rules.len()
            )),
        }
    }

    /// Every value a deployment can give a function's environment (each parameter's default and
    /// bounds, or its allowed values) must be one the service starts with: a parameter range
    /// wider than the code's would deploy a function that refuses to start.
    fn check_settings(&self, access: &FunctionAccess, problems: &mut Vec<String>) {
        let function = access.logical_id;
        let props = self.props(function);
        let Some(env) = props["Environment"]["Variables"].as_object() else {
            problems.push(format!("{function} has no environment"));
            return;
        };
        // What Lambda itself sets, which the service reads.
        let lambda = [
            ("AWS_LAMBDA_FUNCTION_NAME".to_owned(), function.to_owned()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
                props["MemorySize"].as_u64().unwrap_or(128).to_string(),
            ),
        ];
        let mut base = std::collections::HashMap::from(lambda);
        let mut choices = Vec::new();
        // Variables set only under a condition (the CDN's): the function must start both
        // without them and with all of them.
        let mut conditional = Vec::new();
        for (name, value) in env {
            if let Some(then) = only_if(value) {
                conditional.push((name.clone(), placeholder(then)));
                continue;
            }
            let param = reference(value).map(|id| &self.0["Parameters"][id]);
            let literal = match value {
                Value::String(text) => Some(text.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            match (literal, param) {
                (Some(text), _) => {
                    base.insert(name.clone(), text);
                }
                (None, Some(param)) if !param.is_null() => {
                    let text = |v: &Value| {
                        v.as_str()
                            .map(str::to_owned)
                            .or_else(|| Some(v.to_string()))
                    };
                    let default = text(&param["Default"]).unwrap_or_default();
                    base.insert(name.clone(), default);
                    for bound in ["MinValue", "MaxValue"] {
                        if !param[bound].is_null() {
                            choices.push((name.clone(), text(&param[bound]).unwrap_or_default()));
                        }
                    }
                    for allowed in one_or_many(&param["AllowedValues"]) {
                        choices.push((name.clone(), text(allowed).unwrap_or_default()));
                    }
                }
                // A resource's name or another intrinsic: any name will do.
                _ => {
                    base.insert(name.clone(), placeholder(value));
                }
            }
        }
        let start = |vars: &std::collections::HashMap<String, String>| {
            let settings = Settings::from_lookup(|name| vars.get(name).cloned())?;
            if function == PROCESSOR.logical_id || function == SWEEP.logical_id {
                settings.check_processor_memory()?;
            }
            Ok::<_, image_upload::config::ConfigError>(())
        };
        if let Err(e) = start(&base) {
            problems.push(format!(
                "{function} refuses to start with the defaults: {e}"
            ));
        }
        if !conditional.is_empty() {
            let mut vars = base.clone();
            vars.extend(conditional.iter().cloned());
            if let Err(e) = start(&vars) {
                let names: Vec<&str> = conditional.iter().map(|(n, _)| n.as_str()).collect();
                problems.push(format!(
                    "{function} refuses to start with its conditional variables ({}) set: {e}",
                    names.join(", ")
                ));
            }
        }
        for (name, value) in choices {
            let mut vars = base.clone();
            vars.insert(name.clone(), value.clone());
            if let Err(e) = start(&vars) {
                problems.push(format!(
                    "{function} refuses to start with {name}={value}, which the template's \
                     parameter allows: {e}"
                ));
            }
        }
    }
}

/// A value CloudFormation could give `v`: the first branch of an `Fn::If`, `Fn::Sub` with every
/// `${...}` replaced, a resource's name for a `Ref`.
fn placeholder(v: &Value) -> String {
    if let Some(text) = v.as_str() {
        return text.to_owned();
    }
    if let Some([_, then, _]) = v.get("Fn::If").and_then(Value::as_array).map(Vec::as_slice) {
        return placeholder(then);
    }
    if let Some(sub) = v.get("Fn::Sub").and_then(Value::as_str) {
        let mut out = String::new();
        let mut rest = sub;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            out.push_str("resourcename");
            rest = rest[start..]
                .find('}')
                .map_or("", |end| &rest[start + end + 1..]);
        }
        out.push_str(rest);
        return out;
    }
    "resourcename".to_owned()
}
