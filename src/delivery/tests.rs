//! The signer against the checker, and the checker against every way a URL can be wrong, with
//! both kinds of key (ECDSA P-256 and RSA); ECDSA against RFC 6979's own example. The signer
//! against references no one here wrote (AWS's `@aws-sdk/cloudfront-signer` and botocore's
//! `CloudFrontSigner`) is in `tests/e2e/cdn.rs`, where node and the stack's Python are at hand.

use std::time::Duration;

use time::OffsetDateTime;
use time::macros::datetime;

use super::checker::wildcard_match;
use super::*;
use crate::domain::{ImageId, ObjectKey, RenditionFormat, RenditionName};

const KEY_A: &str = include_str!("../../fixtures/keys/cdn-test-a.pem");
const KEY_A_PKCS1: &str = include_str!("../../fixtures/keys/cdn-test-a.pkcs1.pem");
const KEY_A_PUBLIC: &str = include_str!("../../fixtures/keys/cdn-test-a.pub.pem");
const KEY_B: &str = include_str!("../../fixtures/keys/cdn-test-b.pem");
const EC_A: &str = include_str!("../../fixtures/keys/cdn-test-ec-a.pem");
const EC_A_SEC1: &str = include_str!("../../fixtures/keys/cdn-test-ec-a.sec1.pem");
const EC_A_PUBLIC: &str = include_str!("../../fixtures/keys/cdn-test-ec-a.pub.pem");
const EC_B: &str = include_str!("../../fixtures/keys/cdn-test-ec-b.pem");
const P384: &str = include_str!("../../fixtures/keys/cdn-test-p384.pem");

/// The trusted keys of [`checker`]: (private key, its key pair id, another key of its kind).
const KEYS: [(&str, &str, &str); 2] = [
    (EC_A, "KECDSATESTKEYA", EC_B),
    (KEY_A, "K2JCJMDEHXQW5F", KEY_B),
];

const ORIGIN: &str = "https://d111111abcdef8.cloudfront.net";
const NOW: OffsetDateTime = datetime!(2026-12-07 10:20:00 UTC);

fn signer(pem: &str, key_pair_id: &str) -> UrlSigner {
    UrlSigner::new(
        CdnOrigin::parse(ORIGIN).unwrap(),
        key_pair_id.into(),
        PrivateKey::from_pem(pem).unwrap(),
        Duration::from_secs(3600),
    )
}

fn checker() -> SignedUrlChecker {
    SignedUrlChecker::default()
        .trusting("K2JCJMDEHXQW5F", PublicKey::from_pem(KEY_A_PUBLIC).unwrap())
        .trusting("KECDSATESTKEYA", PublicKey::from_pem(EC_A_PUBLIC).unwrap())
}

fn rendition_key(id: ImageId) -> ObjectKey {
    ObjectKey::for_rendition(id, RenditionName::thumbnail(), RenditionFormat::Jpeg, b"x")
}

/// `text` with its character at `at` replaced by another of CloudFront's base64 alphabet.
fn flip_at(text: &str, at: usize) -> String {
    text.char_indices()
        .map(|(i, c)| match (i == at, c) {
            (true, 'A') => 'B',
            (true, _) => 'A',
            (false, c) => c,
        })
        .collect()
}

/// (the URL without its query, the query) of a signed URL.
fn split(url: &str) -> (&str, &str) {
    url.split_once('?').unwrap()
}

#[test]
fn a_signed_url_passes_for_every_object_of_its_image_until_it_expires() {
    for (pem, key_pair_id, _) in KEYS {
        let signer = signer(pem, key_pair_id);
        let id = ImageId::new_random();
        let signed = signer.sign_image(id, NOW);
        // 10:20 is in the window 10:00-11:00: valid until 12:00.
        assert_eq!(signed.expires_at, datetime!(2026-12-07 12:00:00 UTC));
        for key in [
            rendition_key(id),
            ObjectKey::for_original(id, crate::domain::ImageType::Heic),
        ] {
            let url = signer.url(&key, &signed);
            let (base, query) = split(&url);
            assert_eq!(base, format!("{ORIGIN}/{key}"));
            assert_eq!(checker().check(base, query, NOW), Ok(()), "{url}");
            assert_eq!(
                checker().check(base, query, datetime!(2026-12-07 11:59:59 UTC)),
                Ok(())
            );
            assert_eq!(
                checker().check(base, query, datetime!(2026-12-07 12:00:00 UTC)),
                Err(Refusal::Expired)
            );
        }
    }
}

#[test]
fn the_same_image_gets_the_same_url_within_a_window() {
    for (pem, key_pair_id, _) in KEYS {
        let signer = signer(pem, key_pair_id);
        let id = ImageId::new_random();
        let first = signer.sign_image(id, datetime!(2026-12-07 10:00:00 UTC));
        let later = signer.sign_image(id, datetime!(2026-12-07 10:59:59 UTC));
        let next = signer.sign_image(id, datetime!(2026-12-07 11:00:00 UTC));
        assert_eq!(first, later);
        assert_ne!(first.query, next.query);
        assert_eq!(next.expires_at, datetime!(2026-12-07 13:00:00 UTC));
        // Both kinds sign deterministically (RSASSA-PKCS1-v1_5; ECDSA with RFC 6979's nonce): a
        // new signer (a cold start, another instance) signs the same URL.
        let again = self::signer(pem, key_pair_id).sign_image(id, NOW);
        assert_eq!(again, first);
    }
}

#[test]
fn a_key_signs_as_its_other_encodings_do() {
    let id = ImageId::new_random();
    for (other, pkcs8) in [(KEY_A_PKCS1, KEY_A), (EC_A_SEC1, EC_A)] {
        assert_eq!(
            signer(other, "K").sign_image(id, NOW),
            signer(pkcs8, "K").sign_image(id, NOW)
        );
    }
}

#[test]
fn ecdsa_signs_with_rfc_6979s_nonce() {
    // RFC 6979 A.2.5: the P-256 key x and message "sample" with SHA-256 give this (r, s), here
    // DER-encoded (r has its top bit set, so a zero byte leads it).
    let key = PrivateKey::from_pem(include_str!("../../fixtures/keys/rfc6979-p256.pem")).unwrap();
    let expected = concat!(
        "3046022100",
        "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716",
        "022100",
        "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
    );
    let signature: String = key
        .sign(b"sample")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(signature, expected);
    assert!(key.public_key().verifies(b"sample", &key.sign(b"sample")));
}

#[test]
fn a_url_for_another_image_or_prefix_is_refused() {
    let signer = signer(KEY_A, "K2JCJMDEHXQW5F");
    let (id, other) = (ImageId::new_random(), ImageId::new_random());
    let signed = signer.sign_image(id, NOW);
    let url = signer.url(&rendition_key(id), &signed);
    let (_, query) = split(&url);
    let elsewhere = [
        format!("{ORIGIN}/{}", rendition_key(other)),
        format!("https://evil.example/{}", rendition_key(id)),
        format!("{ORIGIN}/{id}"),
    ];
    for base in elsewhere {
        assert_eq!(
            checker().check(&base, query, NOW),
            Err(Refusal::OtherResource),
            "{base}"
        );
    }
}

#[test]
fn tampering_with_any_part_is_refused() {
    for (pem, key_pair_id, _) in KEYS {
        tampering_with_any_part_is_refused_for(pem, key_pair_id);
    }
}

fn tampering_with_any_part_is_refused_for(pem: &str, key_pair_id: &str) {
    let signer = signer(pem, key_pair_id);
    let id = ImageId::new_random();
    let url = signer.url(&rendition_key(id), &signer.sign_image(id, NOW));
    let (base, query) = split(&url);
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    // A policy for all images, signed by nobody: the signature no longer matches.
    let widened = cloudfront_base64(
        signer
            .policy(id, signer.expiry(NOW))
            .replace(&format!("/*/{id}*"), "/*")
            .as_bytes(),
    );
    let later = cloudfront_base64(signer.policy(id, signer.expiry(NOW) + 86_400).as_bytes());
    let signature = param("Signature");
    // The policy in the standard base64 alphabet, which is not CloudFront's: a policy always has
    // one of `-`, `~`, `_` (its JSON's base64 ends in `=`, which CloudFront writes `_`, or has
    // `+`/`/` somewhere).
    let policy = param("Policy");
    let standard_policy = policy.replace('-', "+").replace('~', "/").replace('_', "=");
    assert_ne!(standard_policy, policy);
    let cases = [
        (query.replace(&policy, &widened), Refusal::BadSignature),
        (query.replace(&policy, &later), Refusal::BadSignature),
        // One character of the signature changed: inside RSA's value, inside ECDSA's `r` (past
        // the DER header), so the signature still parses and is a wrong one.
        (
            query.replace(&signature, &flip_at(&signature, 12)),
            Refusal::BadSignature,
        ),
        (query.replace(&policy, &standard_policy), Refusal::Malformed),
        (query.replace(key_pair_id, "KOTHERKEY"), Refusal::UnknownKey),
        (
            query.replace("&Hash-Algorithm=SHA256", ""),
            Refusal::UnsupportedHash,
        ),
        (query.replace("SHA256", "SHA1"), Refusal::UnsupportedHash),
        (format!("{query}&Expires=1"), Refusal::Malformed),
        (format!("{query}&Signature=x"), Refusal::Malformed),
        (String::new(), Refusal::Unsigned),
        (
            query.replace(&format!("&Signature={signature}"), ""),
            Refusal::Unsigned,
        ),
        (query.replace("Policy=", "Policy=%%%"), Refusal::Malformed),
    ];
    for (query, expected) in cases {
        assert_eq!(checker().check(base, &query, NOW), Err(expected), "{query}");
    }
}

/// `signature` (ECDSA's DER `SEQUENCE { r, s }`) with `s` replaced by `n - s`, `n` P-256's order.
fn with_negated_s(signature: &[u8]) -> Vec<u8> {
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];
    let integer = |at: usize| (at + 2, usize::from(signature[at + 1]));
    let (r_at, r_len) = integer(2);
    let (s_at, s_len) = integer(r_at + r_len);
    let mut s = [0u8; 32];
    let digits = &signature[s_at..s_at + s_len];
    let digits = &digits[digits.len().saturating_sub(32)..];
    s[32 - digits.len()..].copy_from_slice(digits);
    let mut negated = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(N[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        negated[i] = (d + if d < 0 { 256 } else { 0 }) as u8;
    }
    let der_integer = |value: &[u8]| {
        let value = &value[value.iter().take_while(|&&b| b == 0).count()..];
        let mut out = vec![0x02];
        let pad = value[0] & 0x80 != 0;
        out.push((value.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(value);
        out
    };
    let body: Vec<u8> = [
        der_integer(&signature[r_at..r_at + r_len]),
        der_integer(&negated),
    ]
    .concat();
    [vec![0x30, body.len() as u8], body].concat()
}

#[test]
fn ecdsas_other_signature_of_the_same_policy_passes_as_on_cloudfront() {
    // (r, n - s) is as valid as (r, s): ECDSA's own malleability, which CloudFront's check has
    // too. It signs nothing new: the policy, its resource and its expiry are the signer's.
    let signer = signer(EC_A, "KECDSATESTKEYA");
    let id = ImageId::new_random();
    let url = signer.url(&rendition_key(id), &signer.sign_image(id, NOW));
    let (base, query) = split(&url);
    let signature = query
        .split('&')
        .find_map(|p| p.strip_prefix("Signature="))
        .unwrap();
    let bytes = cloudfront_base64_decode(signature).unwrap();
    let other = with_negated_s(&bytes);
    assert_ne!(other, bytes);
    let swapped = query.replace(signature, &cloudfront_base64(&other));
    assert_eq!(checker().check(base, &swapped, NOW), Ok(()));
    // With `s` changed by one it is no signature at all.
    let mut wrong = other.clone();
    *wrong.last_mut().unwrap() ^= 1;
    let wrong = query.replace(signature, &cloudfront_base64(&wrong));
    assert_eq!(
        checker().check(base, &wrong, NOW),
        Err(Refusal::BadSignature)
    );
}

#[test]
fn another_keys_signature_is_refused_under_this_keys_id() {
    for (_, key_pair_id, other) in KEYS {
        // A key of the same kind, and one of the other kind.
        for forger in [other, if other == KEY_B { EC_B } else { KEY_B }] {
            let forger = signer(forger, key_pair_id);
            let id = ImageId::new_random();
            let url = forger.url(&rendition_key(id), &forger.sign_image(id, NOW));
            let (base, query) = split(&url);
            assert_eq!(
                checker().check(base, query, NOW),
                Err(Refusal::BadSignature)
            );
        }
    }
}

#[test]
fn a_canned_policy_url_is_checked_against_its_own_url() {
    for (pem, key_pair_id, _) in KEYS {
        a_canned_policy_url_is_checked_against_its_own_url_for(pem, key_pair_id);
    }
}

fn a_canned_policy_url_is_checked_against_its_own_url_for(pem: &str, key_pair_id: &str) {
    // What `aws cloudfront sign` makes for one object: `Expires` instead of `Policy`.
    let key = PrivateKey::from_pem(pem).unwrap();
    let url = format!("{ORIGIN}/renditions/x/thumbnail-0123456789abcdef.jpg");
    let expires = NOW.unix_timestamp() + 60;
    let policy = format!(
        "{{\"Statement\":[{{\"Resource\":\"{url}\",\"Condition\":{{\"DateLessThan\":{{\"AWS:EpochTime\":{expires}}}}}}}]}}"
    );
    let query = format!(
        "Expires={expires}&Signature={}&Key-Pair-Id={key_pair_id}&Hash-Algorithm=SHA256",
        cloudfront_base64(&key.sign(policy.as_bytes()))
    );
    assert_eq!(checker().check(&url, &query, NOW), Ok(()));
    let other = url.replace("thumbnail", "display");
    assert_eq!(
        checker().check(&other, &query, NOW),
        Err(Refusal::BadSignature)
    );
    let later = query.replace(
        &format!("Expires={expires}"),
        &format!("Expires={}", expires + 1),
    );
    assert_eq!(
        checker().check(&url, &later, NOW),
        Err(Refusal::BadSignature)
    );
}

#[test]
fn wildcards_match_as_cloudfront_reads_them() {
    for (pattern, text, expected) in [
        ("https://a/*/id*", "https://a/renditions/id/x.jpg", true),
        ("https://a/*/id*", "https://a/originals/id.png", true),
        ("https://a/*/id*", "https://a/originals/other.png", false),
        ("https://a/*/id*", "https://b/originals/id.png", false),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        ("*", "", true),
        ("a*b*c", "aXXbYYc", true),
        ("a*b*c", "aXXbYY", false),
        ("exact", "exact", true),
        ("exact", "exactly", false),
    ] {
        assert_eq!(
            wildcard_match(pattern, text),
            expected,
            "{pattern} ~ {text}"
        );
    }
    // No blow-up on a hostile pattern.
    let pattern = "*a".repeat(200);
    let text = "a".repeat(5000) + "b";
    assert!(!wildcard_match(&pattern, &text));
}

#[test]
fn origins_are_https_or_loopback_http() {
    for good in [
        "https://d111111abcdef8.cloudfront.net",
        "https://cdn.example.com/",
        "http://127.0.0.1:3000/cdn",
        "http://localhost:3000/cdn",
        "http://[::1]:3000/cdn",
    ] {
        assert!(CdnOrigin::parse(good).is_ok(), "{good}");
    }
    assert_eq!(
        CdnOrigin::parse("https://cdn.example.com/")
            .unwrap()
            .as_str(),
        "https://cdn.example.com"
    );
    for bad in [
        "http://cdn.example.com",
        "http://127.0.0.1.evil.example/cdn",
        "ftp://cdn.example.com",
        "https://",
        "https://cdn.example.com/?x=1",
        "https://cdn.example.com/#x",
        "https://cdn example.com",
        "cdn.example.com",
    ] {
        assert!(CdnOrigin::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_public_half_of_a_private_key_checks_its_signatures() {
    for (pem, public_pem, other, kind) in [
        (EC_A, EC_A_PUBLIC, EC_B, KeyKind::EcdsaP256),
        (KEY_A, KEY_A_PUBLIC, KEY_B, KeyKind::Rsa { bits: 2048 }),
    ] {
        let key = PrivateKey::from_pem(pem).unwrap();
        let public = key.public_key();
        let from_pem = PublicKey::from_pem(public_pem).unwrap();
        assert_eq!((public.kind(), from_pem.kind()), (kind, kind));
        for public in [&public, &from_pem] {
            assert!(public.verifies(b"policy", &key.sign(b"policy")));
            assert!(!public.verifies(b"policy!", &key.sign(b"policy")));
            let other = PrivateKey::from_pem(other).unwrap();
            assert!(!public.verifies(b"policy", &other.sign(b"policy")));
        }
    }
}

#[test]
fn keys_of_other_kinds_or_not_pem_are_refused_without_echoing_them() {
    assert_eq!(
        PrivateKey::from_pem("not a key").unwrap_err(),
        KeyError::NotPem("PRIVATE KEY")
    );
    assert_eq!(
        PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----")
            .unwrap_err(),
        KeyError::BadBase64
    );
    assert_eq!(
        PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
            .unwrap_err(),
        KeyError::Unsupported
    );
    // A curve CloudFront does not take, as PKCS #8 and as SEC 1.
    assert_eq!(
        PrivateKey::from_pem(P384).unwrap_err(),
        KeyError::Unsupported
    );
    assert_eq!(
        PrivateKey::from_pem(include_str!("../../fixtures/keys/cdn-test-p384.sec1.pem"))
            .unwrap_err(),
        KeyError::Unsupported
    );
    // A SEC 1 key that names no curve: a P-256-sized scalar, but of which curve nobody says.
    let unnamed = [
        &[0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x20][..],
        &[0x5a; 32][..],
    ]
    .concat();
    let unnamed = format!(
        "-----BEGIN EC PRIVATE KEY-----\n{}\n-----END EC PRIVATE KEY-----\n",
        {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(unnamed)
        }
    );
    assert_eq!(
        PrivateKey::from_pem(&unnamed).unwrap_err(),
        KeyError::Unsupported
    );
    assert_eq!(
        PublicKey::from_pem(KEY_A).unwrap_err(),
        KeyError::NotPem("PUBLIC KEY")
    );
    assert_eq!(
        format!("{:?}", PrivateKey::from_pem(KEY_A).unwrap()),
        "PrivateKey(RSA 2048 bits)"
    );
    assert_eq!(
        format!("{:?}", PrivateKey::from_pem(EC_A).unwrap()),
        "PrivateKey(ECDSA P-256)"
    );
}

mod key_sources {
    //! Where the API's CDN reads its key: once, at the first signing, from a file or a secret;
    //! a failure names the place, never the key, and is tried again at the next signing.
    use aws_sdk_secretsmanager::operation::get_secret_value::{
        GetSecretValueError, GetSecretValueOutput,
    };
    use aws_sdk_secretsmanager::types::error::ResourceNotFoundException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;
    use crate::config::{CdnKeySource, CdnSettings};

    const SECRET: &str = "images/cdn/private-key-A";

    fn settings(private_key: CdnKeySource) -> CdnSettings {
        CdnSettings {
            origin: CdnOrigin::parse(ORIGIN).unwrap(),
            key_pair_id: "K2JCJMDEHXQW5F".into(),
            private_key,
            window: Duration::from_secs(3600),
        }
    }

    #[tokio::test]
    async fn the_secret_is_fetched_once_at_the_first_signing() {
        let get = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .match_requests(|r| r.secret_id() == Some(SECRET))
            .then_output(|| GetSecretValueOutput::builder().secret_string(KEY_A).build());
        let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [&get]);
        let cdn = Cdn::new(
            settings(CdnKeySource::Secret(SECRET.into())),
            secrets.config().clone(),
        );
        assert_eq!(get.num_calls(), 0, "nothing is read before a URL is signed");

        let id = ImageId::new_random();
        let url = cdn.signer().await.unwrap().sign_image(id, NOW);
        let again = cdn.signer().await.unwrap().sign_image(id, NOW);
        assert_eq!(get.num_calls(), 1, "the key is kept once read");
        assert_eq!(url, again);
        let signed = cdn.signer().await.unwrap().url(&rendition_key(id), &url);
        let (path, query) = split(&signed);
        assert!(checker().check(path, query, NOW).is_ok(), "{signed}");
    }

    #[tokio::test]
    async fn a_failed_fetch_names_the_secret_and_is_tried_again() {
        let missing = mock!(aws_sdk_secretsmanager::Client::get_secret_value).then_error(|| {
            GetSecretValueError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .message("Secrets Manager can't find the specified secret.")
                    .build(),
            )
        });
        let found = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .then_output(|| GetSecretValueOutput::builder().secret_string(KEY_A).build());
        let secrets = mock_client!(
            aws_sdk_secretsmanager,
            RuleMode::Sequential,
            [&missing, &found]
        );
        let cdn = Cdn::new(
            settings(CdnKeySource::Secret(SECRET.into())),
            secrets.config().clone(),
        );

        let err = cdn.signer().await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("fetching the CDN signing key from secret {SECRET}")
        );
        assert!(cdn.signer().await.is_ok(), "the next signing tries again");
        assert_eq!((missing.num_calls(), found.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_secret_that_is_not_a_key_is_refused_without_echoing_it() {
        for (value, expected) in [
            (
                GetSecretValueOutput::builder()
                    .secret_binary(aws_smithy_types::Blob::new(KEY_A.as_bytes()))
                    .build(),
                format!("the CDN signing key in secret {SECRET} has no string value"),
            ),
            (
                GetSecretValueOutput::builder()
                    .secret_string("hunter2-not-a-key")
                    .build(),
                format!("the CDN signing key in secret {SECRET} is unusable"),
            ),
        ] {
            let get = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
                .then_output(move || value.clone());
            let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [&get]);
            let cdn = Cdn::new(
                settings(CdnKeySource::Secret(SECRET.into())),
                secrets.config().clone(),
            );
            let err = cdn.signer().await.unwrap_err();
            let chain = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(": ");
            assert!(chain.starts_with(&expected), "{chain}");
            assert!(!chain.contains("hunter2"), "{chain}");
        }
    }

    #[tokio::test]
    async fn a_key_file_is_read_and_no_secret_is_asked_for() {
        let get = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .then_output(|| GetSecretValueOutput::builder().build());
        let secrets = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [&get]);
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/keys/cdn-test-a.pem");
        let cdn = Cdn::new(
            settings(CdnKeySource::File(file.into())),
            secrets.config().clone(),
        );
        assert!(cdn.signer().await.is_ok());

        let missing = Cdn::new(
            settings(CdnKeySource::File("/nonexistent/cdn.pem".into())),
            secrets.config().clone(),
        );
        assert_eq!(
            missing.signer().await.unwrap_err().to_string(),
            "reading the CDN signing key from file /nonexistent/cdn.pem"
        );
        assert_eq!(get.num_calls(), 0);
    }
}

mod properties {
    //! The checker against whatever a client may send, and the wildcard matcher against a
    //! reference written the obvious way.
    use proptest::prelude::*;

    use super::*;

    /// `*` any run of characters, `?` any one: by recursion over both strings.
    fn reference_match(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|skip| reference_match(rest, &text[skip..])),
            Some((&p, rest)) => text
                .split_first()
                .is_some_and(|(&t, text)| (p == '?' || p == t) && reference_match(rest, text)),
        }
    }

    proptest! {
        #[test]
        fn wildcards_match_as_the_reference_does(
            pattern in "[ab*?]{0,8}",
            text in "[abc]{0,10}",
        ) {
            let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
            prop_assert_eq!(wildcard_match(&pattern, &text), reference_match(&p, &t));
        }

        /// Any query, of the signing parameters' names and CloudFront's alphabet or anything at
        /// all: an answer, never a panic, and never a pass (nothing here holds a key).
        #[test]
        fn no_query_a_client_makes_up_passes_or_panics(
            names in prop::collection::vec(
                prop_oneof![
                    Just("Expires"), Just("Policy"), Just("Signature"), Just("Key-Pair-Id"),
                    Just("Hash-Algorithm"), Just("x"),
                ],
                0..6,
            ),
            values in prop::collection::vec(
                prop_oneof!["[A-Za-z0-9~_-]{0,120}", ".{0,40}", Just("SHA256".to_owned()),
                    Just("KECDSATESTKEYA".to_owned()), Just("K2JCJMDEHXQW5F".to_owned())],
                6,
            ),
            path in "[a-z/]{0,30}",
        ) {
            let query: Vec<String> = names
                .iter()
                .zip(&values)
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            let url = format!("{ORIGIN}/{path}");
            prop_assert!(checker().check(&url, &query.join("&"), NOW).is_err());
        }

        /// A policy a client writes itself, well-formed and covering everything, signed with
        /// bytes of its choosing: refused.
        #[test]
        fn a_made_up_policy_with_made_up_signature_bytes_is_refused(
            signature in prop::collection::vec(any::<u8>(), 0..300),
            key_pair_id in prop_oneof![Just("KECDSATESTKEYA"), Just("K2JCJMDEHXQW5F")],
        ) {
            let policy = format!(
                "{{\"Statement\":[{{\"Resource\":\"{ORIGIN}/*\",\"Condition\":{{\"DateLessThan\":{{\"AWS:EpochTime\":{}}}}}}}]}}",
                NOW.unix_timestamp() + 3600
            );
            let query = format!(
                "Policy={}&Signature={}&Key-Pair-Id={key_pair_id}&Hash-Algorithm=SHA256",
                cloudfront_base64(policy.as_bytes()),
                cloudfront_base64(&signature)
            );
            prop_assert_eq!(
                checker().check(&format!("{ORIGIN}/renditions/x.jpg"), &query, NOW),
                Err(Refusal::BadSignature)
            );
        }
    }
}
