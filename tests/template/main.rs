//! The deployed template against the code. Reads `template.yaml`'s expansion to plain
//! CloudFormation (`infra/expand.py`, written by `just lint-infra` to `target/infra/expanded.json`,
//! or the file `IMAGE_UPLOAD_EXPANDED_TEMPLATE` names) and checks what scanners cannot know:
//! every route but `OPTIONS` behind the Cognito authorizer; each role granting exactly what
//! `aws::permissions` declares the code calls; the queue's visibility timeout at least six times
//! the processor's timeout; the notification prefix, table key, index and TTL attribute the code
//! uses; Block Public Access, TLS-only policies and encryption.
//!
//! Not part of `cargo test` (`test = false`): it needs the expansion, which needs the SAM tools;
//! `just lint-infra` runs it. Every check is also run on a broken copy of the template, to prove
//! that it can fail.

mod checks;

use std::path::PathBuf;

use serde_json::{Value, json};

use checks::problems;

/// The expanded template. Panics, saying how to make it, when it is missing: this test never
/// passes without having read the template.
fn expanded() -> Value {
    let path = std::env::var_os("IMAGE_UPLOAD_EXPANDED_TEMPLATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/infra/expanded.json")
        });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. This test reads template.yaml expanded to plain CloudFormation; \
             `just lint-infra` writes it (infra/expand.py) and runs this test.",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

// ---------------------------------------------------------------------- the template as deployed

#[test]
fn the_deployed_template_matches_the_code() {
    let problems = problems(&expanded());
    assert!(
        problems.is_empty(),
        "template.yaml, expanded:\n  {}",
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------- each check can fail

/// The problems of a copy of the template that `break_it` changed; asserts one of them says
/// `expected`.
fn assert_caught(break_it: impl FnOnce(&mut Value), expected: &str) {
    let mut template = expanded();
    break_it(&mut template);
    let problems = problems(&template);
    assert!(
        problems.iter().any(|p| p.contains(expected)),
        "a template broken this way should be reported with `{expected}`; got {problems:#?}"
    );
}

fn api_body(t: &mut Value) -> &mut Value {
    let id = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, r)| r["Type"] == "AWS::ApiGateway::RestApi")
        .map(|(id, _)| id.clone())
        .unwrap();
    &mut t["Resources"][id]["Properties"]["Body"]
}

fn statements<'t>(t: &'t mut Value, role: &str) -> &'t mut Vec<Value> {
    t["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array_mut()
        .unwrap()
}

fn statement<'t>(t: &'t mut Value, role: &str, sid: &str) -> &'t mut Value {
    statements(t, role)
        .iter_mut()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("{role} has no statement {sid}"))
}

#[test]
fn a_route_without_the_authorizer_is_caught() {
    assert_caught(
        |t| api_body(t)["paths"]["/images"]["get"]["security"] = json!([{"NONE": []}]),
        "GET /images (Api) has no Cognito user pool authorizer",
    );
    assert_caught(
        |t| {
            api_body(t)["paths"]["/images/{imageId}"]["delete"]
                .as_object_mut()
                .unwrap()
                .remove("security");
        },
        "DELETE /images/{imageId} (Api) has no Cognito user pool authorizer",
    );
}

#[test]
fn an_authorizer_that_is_not_cognito_is_caught() {
    assert_caught(
        |t| {
            api_body(t)["components"]["securitySchemes"]["CognitoAuthorizer"]["x-amazon-apigateway-authtype"] =
                json!("custom");
        },
        "POST /upload (Api) has no Cognito user pool authorizer",
    );
}

#[test]
fn a_wildcard_action_is_caught() {
    assert_caught(
        |t| statement(t, "ProcessorRole", "ReadUploadsAndOriginals")["Action"] = json!("s3:*"),
        "grants the wildcard action `s3:*`",
    );
}

#[test]
fn an_action_the_code_does_not_call_is_caught() {
    assert_caught(
        |t| {
            statement(t, "ProcessorRole", "SettleRows")["Action"] = json!([
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
                "dynamodb:PutItem"
            ]);
        },
        "ProcessorFunction's role grants dynamodb:PutItem on Table, beyond what its code calls",
    );
}

#[test]
fn a_prefix_the_code_does_not_use_is_caught() {
    // The API writing where only verified bytes may be.
    assert_caught(
        |t| {
            statement(t, "ApiRole", "PresignUploads")["Resource"] =
                json!({"Fn::Sub": "${ImageBucket.Arn}/originals/*"});
        },
        "ApiFunction's role grants s3:PutObject on Objects(\"originals/\"), beyond",
    );
    assert_caught(
        |t| {
            statement(t, "ApiRole", "DeleteImages")["Resource"] =
                json!({"Fn::Sub": "${ImageBucket.Arn}/*"});
        },
        "ApiFunction's role grants s3:DeleteObject on {\"Fn::Sub\":\"${ImageBucket.Arn}/*\"}",
    );
    assert_caught(
        |t| statement(t, "ApiRole", "Rows")["Resource"] = json!("*"),
        "ApiFunction's role grants dynamodb:PutItem on \"*\"",
    );
}

#[test]
fn a_missing_permission_is_caught() {
    assert_caught(
        |t| {
            statements(t, "ProcessorRole").retain(|s| s["Sid"] != "SeeMissingObjects");
        },
        "ProcessorFunction's role lacks s3:ListBucket on Bucket",
    );
}

#[test]
fn a_managed_policy_is_caught() {
    assert_caught(
        |t| {
            t["Resources"]["ApiRole"]["Properties"]["ManagedPolicyArns"] =
                json!(["arn:aws:iam::aws:policy/AmazonS3FullAccess"]);
        },
        "ApiFunction's role ApiRole has managed policies",
    );
}

#[test]
fn a_short_visibility_timeout_is_caught() {
    assert_caught(
        |t| t["Resources"]["UploadQueue"]["Properties"]["VisibilityTimeout"] = json!(359),
        "visibility timeout (Some(359.0) s) is under six times the processor's timeout (60 s)",
    );
    assert_caught(
        |t| t["Resources"]["ProcessorFunction"]["Properties"]["Timeout"] = json!(61),
        "is under six times the processor's timeout (61 s)",
    );
}

#[test]
fn a_processor_too_small_for_its_budget_is_caught() {
    assert_caught(
        |t| t["Resources"]["ProcessorFunction"]["Properties"]["MemorySize"] = json!(512),
        "the processor has 512 MB, but PROCESSOR_CONCURRENCY up to 3 needs 829 MB",
    );
    assert_caught(
        |t| t["Parameters"]["ProcessorConcurrency"]["MaxValue"] = json!(4),
        "PROCESSOR_CONCURRENCY up to 4 needs 1083 MB",
    );
}

#[test]
fn batch_failures_reported_whole_are_caught() {
    assert_caught(
        |t| {
            let mapping = t["Resources"]
                .as_object_mut()
                .unwrap()
                .values_mut()
                .find(|r| r["Type"] == "AWS::Lambda::EventSourceMapping")
                .unwrap();
            mapping["Properties"]
                .as_object_mut()
                .unwrap()
                .remove("FunctionResponseTypes");
        },
        "does not report batch item failures",
    );
}

#[test]
fn a_notification_on_another_prefix_is_caught() {
    assert_caught(
        |t| {
            t["Resources"]["ImageBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
                [0]["Filter"]["S3Key"]["Rules"][0]["Value"] = json!("");
        },
        "the bucket's notification filters by prefix [String(\"\")], not `uploads/`",
    );
}

#[test]
fn a_queue_anyone_may_send_to_is_caught() {
    assert_caught(
        |t| {
            t["Resources"]["UploadQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
                ["Condition"]
                .as_object_mut()
                .unwrap()
                .remove("ArnEquals");
        },
        "must allow only s3.amazonaws.com",
    );
}

#[test]
fn table_keys_index_and_ttl_other_than_the_codes_are_caught() {
    assert_caught(
        |t| {
            t["Resources"]["ImageTable"]["Properties"]["KeySchema"][0]["AttributeName"] =
                json!("id");
        },
        "not `imageId` alone",
    );
    assert_caught(
        |t| {
            t["Resources"]["ImageTable"]["Properties"]["GlobalSecondaryIndexes"][0]["IndexName"] =
                json!("byUser");
        },
        "the table has no index `byOwner`",
    );
    assert_caught(
        |t| {
            t["Resources"]["ImageTable"]["Properties"]["GlobalSecondaryIndexes"][0]["Projection"] =
                json!({"ProjectionType": "KEYS_ONLY"});
        },
        "must project ALL",
    );
    assert_caught(
        |t| {
            t["Resources"]["ImageTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"] =
                json!("expiresAt");
        },
        "not on `pendingExpiry`",
    );
}

#[test]
fn public_access_is_caught() {
    assert_caught(
        |t| {
            t["Resources"]["ImageBucket"]["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] =
                json!(false);
        },
        "Block Public Access lacks RestrictPublicBuckets",
    );
    assert_caught(
        |t| {
            t["Resources"]["ImageBucket"]["Properties"]
                .as_object_mut()
                .unwrap()
                .remove("PublicAccessBlockConfiguration");
        },
        "Block Public Access lacks BlockPublicAcls",
    );
}

#[test]
fn requests_without_tls_are_caught() {
    assert_caught(
        |t| {
            t["Resources"]["ImageBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
                .as_array_mut()
                .unwrap()
                .retain(|s| s["Sid"] != "DenyInsecureTransport");
        },
        "no bucket policy denies every request without TLS",
    );
}

#[test]
fn missing_encryption_is_caught() {
    assert_caught(
        |t| {
            t["Resources"]["ImageBucket"]["Properties"]
                .as_object_mut()
                .unwrap()
                .remove("BucketEncryption");
        },
        "the bucket has no default encryption",
    );
    assert_caught(
        |t| {
            t["Resources"]["UploadDeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] =
                json!(false);
        },
        "queue UploadDeadLetterQueue is not encrypted",
    );
}

#[test]
fn anonymous_access_in_the_deployment_is_caught() {
    assert_caught(
        |t| {
            t["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]["ALLOW_ANONYMOUS"] =
                json!("true");
        },
        "ApiFunction sets ALLOW_ANONYMOUS",
    );
}

#[test]
fn tokens_of_any_app_client_in_the_deployment_are_caught() {
    assert_caught(
        |t| {
            let env = &mut t["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"];
            env.as_object_mut().unwrap().remove("AUTHORIZER_CLIENT_ID");
        },
        "ApiFunction's AUTHORIZER_CLIENT_ID is not the user pool's app client",
    );
}

#[test]
fn a_sweep_without_its_schedule_is_caught() {
    let rule = |t: &Value| {
        t["Resources"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, r)| r["Type"] == "AWS::Events::Rule")
            .map(|(id, _)| id.clone())
            .expect("the sweep's schedule")
    };
    assert_caught(
        |t| {
            let id = rule(t);
            t["Resources"][id]["Properties"]["State"] = "DISABLED".into();
        },
        "SweepFunction's schedule is disabled",
    );
    assert_caught(
        |t| {
            let id = rule(t);
            t["Resources"].as_object_mut().unwrap().remove(&id);
        },
        "SweepFunction is invoked by 0 EventBridge rules",
    );
    assert_caught(
        |t| {
            let id = t["Resources"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(_, r)| r["Type"] == "AWS::Lambda::EventInvokeConfig")
                .map(|(id, _)| id.clone())
                .expect("the sweep's invoke configuration");
            t["Resources"][id]["Properties"]["MaximumRetryAttempts"] = 2.into();
        },
        "SweepFunction's failed runs are retried",
    );
    // Its role is checked as the others are: a scan the code does not need would be caught
    // (`a_missing_permission_is_caught` and the like cover the mechanism).
    assert_caught(
        |t| {
            statement(t, "SweepRole", "ReadAndRepairRows")["Action"]
                .as_array_mut()
                .unwrap()
                .push("dynamodb:Query".into());
        },
        "SweepFunction's role grants dynamodb:Query",
    );
}

#[test]
fn a_function_without_declared_permissions_is_caught() {
    assert_caught(
        |t| t["Resources"]["ThirdFunction"] = t["Resources"]["ApiFunction"].clone(),
        "function ThirdFunction has no permissions declared",
    );
}

#[test]
fn a_parameter_range_wider_than_the_code_accepts_is_caught() {
    assert_caught(
        |t| t["Parameters"]["MaxUploadBytes"]["MaxValue"] = json!(67_108_864),
        "ApiFunction refuses to start with MAX_UPLOAD_BYTES=67108864, which the template's \
         parameter allows",
    );
    assert_caught(
        |t| t["Parameters"]["UploadUrlExpirySeconds"]["MaxValue"] = json!(7200),
        "ApiFunction refuses to start with UPLOAD_URL_EXPIRY_SECONDS=7200",
    );
    assert_caught(
        |t| {
            t["Resources"]["ProcessorFunction"]["Properties"]["Environment"]["Variables"]["MAX_IMAGE_PIXELS"] =
                json!("400000000");
        },
        "ProcessorFunction refuses to start with the defaults: invalid setting \
         AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    );
}

// ---------------------------------------------------------------------- the CDN

fn distribution(t: &mut Value) -> &mut Value {
    &mut t["Resources"]["CdnDistribution"]["Properties"]["DistributionConfig"]
}

fn cdn_read_statement(t: &mut Value) -> &mut Value {
    t["Resources"]["ImageBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find_map(|s| s.get_mut("Fn::If"))
        .map(|branches| &mut branches[1])
        .expect("the CDN's conditional statement in the bucket policy")
}

#[test]
fn a_cdn_that_could_read_the_upload_inbox_or_for_anyone_is_caught() {
    assert_caught(
        |t| {
            cdn_read_statement(t)["Resource"]
                .as_array_mut()
                .unwrap()
                .push(json!({"Fn::Sub": "${ImageBucket.Arn}/uploads/*"}));
        },
        "which is not delivered",
    );
    assert_caught(
        |t| {
            cdn_read_statement(t)
                .as_object_mut()
                .unwrap()
                .remove("Condition");
        },
        "does not admit exactly CdnDistribution",
    );
    assert_caught(
        |t| cdn_read_statement(t)["Principal"] = json!("*"),
        "allows someone other than CloudFront",
    );
}

#[test]
fn a_cdn_serving_unsigned_or_plain_http_or_keyed_by_signature_is_caught() {
    assert_caught(
        |t| {
            distribution(t)["DefaultCacheBehavior"]
                .as_object_mut()
                .unwrap()
                .remove("TrustedKeyGroups");
        },
        "does not require URLs signed",
    );
    assert_caught(
        |t| distribution(t)["DefaultCacheBehavior"]["ViewerProtocolPolicy"] = json!("allow-all"),
        "is not HTTPS only",
    );
    assert_caught(
        |t| {
            t["Resources"]["CdnCachePolicy"]["Properties"]["CachePolicyConfig"]["ParametersInCacheKeyAndForwardedToOrigin"]
                ["QueryStringsConfig"] = json!({"QueryStringBehavior": "all"});
        },
        "keeps query strings and cookies (the signing parameters) out of the cache key",
    );
    assert_caught(
        |t| {
            t["Resources"]["CdnResponseHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
                ["SecurityHeadersConfig"]["FrameOptions"]["FrameOption"] = json!("SAMEORIGIN");
        },
        "lacks a response headers policy with HSTS",
    );
    assert_caught(
        |t| {
            distribution(t)["ViewerCertificate"]["Fn::If"][1]["MinimumProtocolVersion"] =
                json!("TLSv1_2016");
        },
        "admits TLS older than 1.2",
    );
}

#[test]
fn an_api_signing_with_a_key_outside_the_group_or_reading_another_secret_is_caught() {
    assert_caught(
        |t| {
            t["Resources"]["CdnKeyGroup"]["Properties"]["KeyGroupConfig"]["Items"]
                .as_array_mut()
                .unwrap()
                .truncate(1);
        },
        "CDN_KEY_PAIR_ID is not a key of the CDN's key group",
    );
    assert_caught(
        |t| {
            t["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]["CDN_PRIVATE_KEY_SECRET"]
                ["Fn::If"][1] = json!({"Fn::Sub": "other/${AWS::StackName}"});
        },
        "CDN_PRIVATE_KEY_SECRET is not a secret its role may read",
    );
}

/// The template rebuilds each public key's PEM from its parameter (the base64 lines, joined by
/// commas, as infra/cdn-key.sh passes them): the rebuilt PEM is the key's PEM, byte for byte.
#[test]
fn the_public_key_parameter_becomes_the_keys_own_pem() {
    for pem in [
        include_str!("../../fixtures/keys/cdn-test-ec-a.pub.pem"),
        include_str!("../../fixtures/keys/cdn-test-a.pub.pem"),
    ] {
        the_public_key_parameter_becomes_the_keys_own_pem_for(pem);
    }
}

fn the_public_key_parameter_becomes_the_keys_own_pem_for(pem: &str) {
    let parameter = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join(",");
    let template = expanded();
    for key in ["CdnKeyA", "CdnKeyB"] {
        let encoded = &template["Resources"][key]["Properties"]["PublicKeyConfig"]["EncodedKey"];
        assert_eq!(evaluate(encoded, &parameter), pem, "{key}");
    }
    let pattern = template["Parameters"]["CdnPublicKeyA"]["AllowedPattern"]
        .as_str()
        .unwrap();
    assert!(
        regex_lite::Regex::new(pattern)
            .unwrap()
            .is_match(&parameter),
        "{pattern}"
    );
}

/// `Fn::Join`, `Fn::Split` and `Ref` (every `Ref` being `parameter`), as CloudFormation
/// evaluates them.
fn evaluate(v: &Value, parameter: &str) -> String {
    fn list(v: &Value, parameter: &str) -> Vec<String> {
        if let Some([separator, source]) = v
            .get("Fn::Split")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            return evaluate(source, parameter)
                .split(separator.as_str().unwrap())
                .map(str::to_owned)
                .collect();
        }
        v.as_array()
            .unwrap()
            .iter()
            .map(|item| evaluate(item, parameter))
            .collect()
    }
    if let Some(text) = v.as_str() {
        return text.to_owned();
    }
    if v.get("Ref").is_some() {
        return parameter.to_owned();
    }
    let [separator, items] = v["Fn::Join"].as_array().unwrap().as_slice() else {
        panic!("not Fn::Join: {v}");
    };
    list(items, parameter).join(separator.as_str().unwrap())
}

#[test]
fn an_upload_size_left_unsigned_is_caught() {
    assert_caught(
        |t| {
            let env = &mut t["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"];
            env.as_object_mut().unwrap().remove("REQUIRE_FILE_SIZE");
        },
        "ApiFunction's REQUIRE_FILE_SIZE is not \"true\"",
    );
}

#[test]
fn long_lived_refresh_tokens_and_a_writable_email_are_caught() {
    fn client(t: &mut Value) -> &mut Value {
        &mut t["Resources"]["UserPoolClient"]["Properties"]
    }
    assert_caught(
        |t| {
            client(t)
                .as_object_mut()
                .unwrap()
                .remove("RefreshTokenValidity");
        },
        "UserPoolClient's refresh tokens may live more than a day",
    );
    assert_caught(
        |t| client(t)["TokenValidityUnits"]["RefreshToken"] = json!("days"),
        "UserPoolClient's refresh tokens may live more than a day",
    );
    assert_caught(
        |t| client(t)["WriteAttributes"] = json!(["name", "email"]),
        "UserPoolClient lets users change their own email",
    );
    assert_caught(
        |t| {
            client(t).as_object_mut().unwrap().remove("WriteAttributes");
        },
        "UserPoolClient lets users change their own email",
    );
}
