use std::time::Duration;

use serde::Deserialize;

use super::{AllowedTypes, FileName, FileNameError, ImageType, UploadSize};

/// The body of `POST /upload` as the client sent it. Unknown fields are ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadRequest {
    pub file_name: String,
    pub file_type: String,
    /// Kept as a JSON number so that 0, negatives, fractions and out-of-range values each get their
    /// own answer instead of one serde message.
    #[serde(default)]
    pub file_size: Option<serde_json::Number>,
}

/// What a deployment accepts, from configuration.
#[derive(Debug, Clone)]
pub struct UploadPolicy {
    pub allowed_types: AllowedTypes,
    /// The largest upload in bytes (default [`UploadPolicy::DEFAULT_MAX_BYTES`]).
    pub max_bytes: u64,
    /// When set, requests must declare `fileSize`, so every URL has its size signed in.
    pub require_size: bool,
    /// How long an upload URL stays valid (default [`UploadPolicy::DEFAULT_URL_EXPIRY`]).
    pub url_expiry: Duration,
    /// How long a PENDING metadata row lives if no upload arrives (default
    /// [`UploadPolicy::DEFAULT_PENDING_TTL`]).
    pub pending_ttl: Duration,
}

impl UploadPolicy {
    /// The largest upload by default: 10 MiB.
    pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
    /// How long an upload URL stays valid by default: 5 minutes.
    pub const DEFAULT_URL_EXPIRY: Duration = Duration::from_secs(300);
    /// How long an unused PENDING row lives by default: a day.
    pub const DEFAULT_PENDING_TTL: Duration = Duration::from_secs(24 * 60 * 60);
}

impl Default for UploadPolicy {
    fn default() -> Self {
        Self {
            allowed_types: AllowedTypes::default(),
            max_bytes: Self::DEFAULT_MAX_BYTES,
            require_size: false,
            url_expiry: Self::DEFAULT_URL_EXPIRY,
            pending_ttl: Self::DEFAULT_PENDING_TTL,
        }
    }
}

/// An upload request that passed every rule of the [`UploadPolicy`] it was parsed against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    pub file_name: FileName,
    pub image_type: ImageType,
    pub declared_size: Option<UploadSize>,
}

/// Why an upload request was refused. Each variant is the client's to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadRejection {
    #[error(transparent)]
    InvalidFileName(#[from] FileNameError),
    #[error("fileType `{given}` is not accepted; use one of: {allowed}")]
    UnsupportedType { given: String, allowed: String },
    #[error("the extension of fileName does not match fileType {image_type}")]
    ExtensionMismatch { image_type: ImageType },
    #[error("fileSize must be a positive whole number of bytes")]
    InvalidFileSize,
    #[error("fileSize is larger than the maximum of {max} bytes")]
    FileTooLarge { max: u64 },
    #[error("fileSize is required")]
    FileSizeRequired,
    #[error(
        "partSize must be a whole number of bytes from 5 MiB to 5 GiB that cuts fileSize into at most 10000 parts"
    )]
    InvalidPartSize,
}

impl NewUpload {
    /// Applies the policy's rules in the order of the request's fields: name, type, the name's
    /// extension against the type, then size.
    ///
    /// # Errors
    /// The first [`UploadRejection`] that applies.
    pub fn parse(request: &UploadRequest, policy: &UploadPolicy) -> Result<Self, UploadRejection> {
        let file_name = FileName::parse(&request.file_name)?;
        let image_type = policy
            .allowed_types
            .get(&request.file_type)
            .ok_or_else(|| UploadRejection::UnsupportedType {
                given: super::excerpt(&request.file_type, 64).into_owned(),
                allowed: policy
                    .allowed_types
                    .iter()
                    .map(ImageType::mime)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        if !file_name
            .extension()
            .is_some_and(|ext| image_type.accepts_extension(&ext))
        {
            return Err(UploadRejection::ExtensionMismatch { image_type });
        }
        let declared_size = match &request.file_size {
            Some(n) => Some(parse_size(n, policy.max_bytes)?),
            None if policy.require_size => return Err(UploadRejection::FileSizeRequired),
            None => None,
        };
        Ok(Self {
            file_name,
            image_type,
            declared_size,
        })
    }
}

fn parse_size(n: &serde_json::Number, max: u64) -> Result<UploadSize, UploadRejection> {
    if let Some(bytes) = n.as_u64() {
        return match bytes {
            0 => Err(UploadRejection::InvalidFileSize),
            b => UploadSize::within(b, max).ok_or(UploadRejection::FileTooLarge { max }),
        };
    }
    // Integers beyond u64 arrive as floats: they are certainly too large. A whole number written
    // with a fraction or an exponent (`2048.0`, `2e3`) is the same JSON number as `2048`: JSON
    // Schema's `integer` (openapi.yaml) admits it, and some serializers write every number so.
    // Anything else (negative, zero, fractional) is not a byte count.
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f > max as f64 => Err(UploadRejection::FileTooLarge { max }),
        // Whole and at most `max`: `as` is exact here (a whole f64 below 2^64 is an integer).
        Some(f) if f.fract() == 0.0 && f >= 1.0 => {
            UploadSize::within(f as u64, max).ok_or(UploadRejection::InvalidFileSize)
        }
        _ => Err(UploadRejection::InvalidFileSize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request(name: &str, mime: &str, size: Option<&str>) -> UploadRequest {
        UploadRequest {
            file_name: name.into(),
            file_type: mime.into(),
            file_size: size.map(|s| serde_json::from_str(s).unwrap()),
        }
    }

    #[test]
    fn admits_a_well_formed_request() {
        let upload = NewUpload::parse(
            &request("cat.JPEG", "image/jpeg", Some("1024")),
            &UploadPolicy::default(),
        );
        let upload = upload.unwrap();
        assert_eq!(upload.image_type, ImageType::Jpeg);
        assert_eq!(upload.declared_size.map(UploadSize::bytes), Some(1024));
        assert_eq!(upload.file_name.as_ref(), "cat.JPEG");
    }

    #[test]
    fn refuses_each_bad_request_with_its_reason() {
        let policy = UploadPolicy {
            max_bytes: 1000,
            ..UploadPolicy::default()
        };
        let cases: [(UploadRequest, UploadRejection, &str); 9] = [
            (
                request(" ", "image/png", None),
                FileNameError::Empty.into(),
                "blank name",
            ),
            (
                request("a.svg", "image/svg+xml", None),
                UploadRejection::UnsupportedType {
                    given: "image/svg+xml".into(),
                    allowed: "image/jpeg, image/png, image/gif, image/webp, image/heic, image/heif, image/avif".into(),
                },
                "svg",
            ),
            (
                request("a.png", "image/jpeg", None),
                UploadRejection::ExtensionMismatch {
                    image_type: ImageType::Jpeg,
                },
                "png name, jpeg type",
            ),
            (
                request("noext", "image/gif", None),
                UploadRejection::ExtensionMismatch {
                    image_type: ImageType::Gif,
                },
                "no extension",
            ),
            (
                request("a.png", "image/png", Some("0")),
                UploadRejection::InvalidFileSize,
                "zero",
            ),
            (
                request("a.png", "image/png", Some("-5")),
                UploadRejection::InvalidFileSize,
                "negative",
            ),
            (
                request("a.png", "image/png", Some("1.5")),
                UploadRejection::InvalidFileSize,
                "fraction",
            ),
            (
                request("a.png", "image/png", Some("1001")),
                UploadRejection::FileTooLarge { max: 1000 },
                "over max",
            ),
            (
                request("a.png", "image/png", Some("1e30")),
                UploadRejection::FileTooLarge { max: 1000 },
                "beyond u64",
            ),
        ];
        for (req, expected, case) in cases {
            assert_eq!(
                NewUpload::parse(&req, &policy),
                Err(expected),
                "case: {case}"
            );
        }
    }

    /// Regression (schemathesis, `POST /upload` with `"fileSize": 2104141.0`): a whole number
    /// spelled as a float or with an exponent is valid under openapi.yaml's `integer` and was
    /// refused as INVALID_FILE_SIZE.
    #[test]
    fn a_whole_size_in_float_or_exponent_form_is_the_same_size() {
        let policy = UploadPolicy {
            max_bytes: 5000,
            ..UploadPolicy::default()
        };
        for (raw, bytes) in [
            ("2048.0", 2048),
            ("2e3", 2000),
            ("1.0", 1),
            ("5000.0", 5000),
        ] {
            let upload = NewUpload::parse(&request("a.png", "image/png", Some(raw)), &policy);
            assert_eq!(
                upload.map(|u| u.declared_size.map(UploadSize::bytes)),
                Ok(Some(bytes)),
                "{raw}"
            );
        }
        for (raw, expected) in [
            ("0.0", UploadRejection::InvalidFileSize),
            ("-2.0", UploadRejection::InvalidFileSize),
            ("1e-3", UploadRejection::InvalidFileSize),
            ("2048.5", UploadRejection::InvalidFileSize),
            ("5001.0", UploadRejection::FileTooLarge { max: 5000 }),
            ("6e3", UploadRejection::FileTooLarge { max: 5000 }),
        ] {
            let refused = NewUpload::parse(&request("a.png", "image/png", Some(raw)), &policy);
            assert_eq!(refused, Err(expected), "{raw}");
        }
    }

    #[test]
    fn a_policy_can_require_the_size() {
        let policy = UploadPolicy {
            require_size: true,
            ..UploadPolicy::default()
        };
        assert_eq!(
            NewUpload::parse(&request("a.gif", "image/gif", None), &policy),
            Err(UploadRejection::FileSizeRequired)
        );
        assert!(NewUpload::parse(&request("a.gif", "image/gif", Some("7")), &policy).is_ok());
    }

    proptest! {
        #[test]
        fn type_and_extension_must_agree(
            stem in "[a-zA-Z0-9][a-zA-Z0-9 _-]{0,29}",
            name_type in prop::sample::select(ImageType::ALL.to_vec()),
            declared in prop::sample::select(ImageType::ALL.to_vec()),
        ) {
            let req = request(&format!("{stem}.{}", name_type.extension()), declared.mime(), None);
            let parsed = NewUpload::parse(&req, &UploadPolicy::default());
            prop_assert_eq!(parsed.is_ok(), name_type == declared);
        }

        #[test]
        fn sizes_in_range_are_admitted_and_others_refused(size in any::<i64>(), max in 1u64..=u32::MAX as u64) {
            let req = request("a.webp", "image/webp", Some(&size.to_string()));
            let policy = UploadPolicy { max_bytes: max, ..UploadPolicy::default() };
            match NewUpload::parse(&req, &policy) {
                Ok(upload) => prop_assert!(size >= 1 && size as u64 <= max && upload.declared_size.unwrap().bytes() == size as u64),
                Err(UploadRejection::FileTooLarge { .. }) => prop_assert!(size > 0 && size as u64 > max),
                Err(UploadRejection::InvalidFileSize) => prop_assert!(size <= 0),
                Err(other) => prop_assert!(false, "unexpected rejection {other:?}"),
            }
        }
    }
}
