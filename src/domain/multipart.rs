//! Multipart uploads: how a declared size is cut into parts, within S3's rules.

use serde::Deserialize;

use super::{NewUpload, UploadPolicy, UploadRejection, UploadRequest, UploadSize};

/// The smallest part S3 accepts, except the last: 5 MiB.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// The largest part S3 accepts: 5 GiB.
pub const MAX_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// The most parts one upload may have.
pub const MAX_PARTS: u32 = 10_000;

/// The body of `POST /upload/multipart`: an upload request (whose `fileSize` is required here)
/// and the part size the client will cut the file into.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MultipartRequest {
    #[serde(flatten)]
    pub upload: UploadRequest,
    /// Defaults to [`MIN_PART_BYTES`].
    #[serde(default)]
    pub part_size: Option<serde_json::Number>,
}

/// A multipart upload request that passed the upload policy, with the plan of its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMultipartUpload {
    pub upload: NewUpload,
    pub parts: PartPlan,
}

impl NewMultipartUpload {
    /// The upload policy's rules, then the size's (required) and the part size's.
    ///
    /// # Errors
    /// The first [`UploadRejection`] that applies.
    pub fn parse(
        request: &MultipartRequest,
        policy: &UploadPolicy,
    ) -> Result<Self, UploadRejection> {
        let policy = UploadPolicy {
            require_size: true,
            ..policy.clone()
        };
        let upload = NewUpload::parse(&request.upload, &policy)?;
        let size = upload
            .declared_size
            .ok_or(UploadRejection::FileSizeRequired)?;
        let part_size = match &request.part_size {
            None => MIN_PART_BYTES,
            Some(n) => whole_bytes(n).ok_or(UploadRejection::InvalidPartSize)?,
        };
        let parts = PartPlan::new(size, part_size).ok_or(UploadRejection::InvalidPartSize)?;
        Ok(Self { upload, parts })
    }
}

/// `n` as a whole number, however JSON writes it: `5242880`, `5242880.0` and `5.24288e6` are the
/// same JSON number, and JSON Schema's `integer` (openapi.yaml) admits each.
fn whole_bytes(n: &serde_json::Number) -> Option<u64> {
    n.as_u64().or_else(|| {
        n.as_f64()
            // Whole and below 2^64: `as` is exact.
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < u64::MAX as f64)
            .map(|f| f as u64)
    })
}

/// How an upload of a declared size is cut: every part `part_size` bytes but the last, which
/// holds the rest. Within S3's rules by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    size: UploadSize,
    part_size: u64,
}

impl PartPlan {
    /// The plan for `size` in parts of `part_size`, if S3 allows it: a part size of
    /// [`MIN_PART_BYTES`] to [`MAX_PART_BYTES`], and at most [`MAX_PARTS`] parts.
    pub fn new(size: UploadSize, part_size: u64) -> Option<Self> {
        let plan = Self { size, part_size };
        ((MIN_PART_BYTES..=MAX_PART_BYTES).contains(&part_size) && plan.count() <= MAX_PARTS)
            .then_some(plan)
    }

    /// The declared size, which the parts add up to.
    pub fn size(self) -> UploadSize {
        self.size
    }

    /// The size of every part but the last.
    pub fn part_size(self) -> u64 {
        self.part_size
    }

    /// How many parts there are.
    pub fn count(self) -> u32 {
        u32::try_from(self.size.bytes().div_ceil(self.part_size)).unwrap_or(u32::MAX)
    }

    /// The length of part `number` (from 1), or `None` when the plan has no such part.
    pub fn part_len(self, number: u32) -> Option<u64> {
        let count = self.count();
        match number {
            n if n == 0 || n > count => None,
            n if n < count => Some(self.part_size),
            _ => Some(self.size.bytes() - u64::from(count - 1) * self.part_size),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn size(bytes: u64) -> UploadSize {
        UploadSize::within(bytes, u64::MAX).unwrap()
    }

    #[test]
    fn parts_are_the_part_size_but_the_last_which_holds_the_rest() {
        let plan = PartPlan::new(size(12 * MIB + 1), 5 * MIB).unwrap();
        assert_eq!(plan.count(), 3);
        assert_eq!(plan.part_len(0), None);
        assert_eq!(plan.part_len(1), Some(5 * MIB));
        assert_eq!(plan.part_len(2), Some(5 * MIB));
        assert_eq!(plan.part_len(3), Some(2 * MIB + 1));
        assert_eq!(plan.part_len(4), None);
    }

    #[test]
    fn a_file_smaller_than_a_part_is_one_part() {
        let plan = PartPlan::new(size(1), MIN_PART_BYTES).unwrap();
        assert_eq!(plan.count(), 1);
        assert_eq!(plan.part_len(1), Some(1));
    }

    #[test]
    fn s3s_part_rules_are_kept() {
        assert_eq!(PartPlan::new(size(MIB), MIN_PART_BYTES - 1), None);
        assert_eq!(PartPlan::new(size(MIB), MAX_PART_BYTES + 1), None);
        let most = u64::from(MAX_PARTS) * MIN_PART_BYTES;
        assert_eq!(
            PartPlan::new(size(most), MIN_PART_BYTES).unwrap().count(),
            MAX_PARTS
        );
        assert_eq!(PartPlan::new(size(most + 1), MIN_PART_BYTES), None);
    }

    fn request(size: Option<&str>, part_size: Option<&str>) -> MultipartRequest {
        let mut body = serde_json::json!({"fileName": "a.jpg", "fileType": "image/jpeg"});
        if let Some(s) = size {
            body["fileSize"] = serde_json::from_str(s).unwrap();
        }
        if let Some(p) = part_size {
            body["partSize"] = serde_json::from_str(p).unwrap();
        }
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn the_size_is_required_and_the_part_size_checked() {
        let policy = UploadPolicy {
            max_bytes: 32 * MIB,
            ..UploadPolicy::default()
        };
        let parse = |s, p| NewMultipartUpload::parse(&request(s, p), &policy);
        assert_eq!(parse(None, None), Err(UploadRejection::FileSizeRequired));
        assert_eq!(
            parse(Some("33554433"), None),
            Err(UploadRejection::FileTooLarge { max: 32 * MIB })
        );
        for bad in ["5242879", "-5242880", "5242880.5", "\"5242880\"", "1e30"] {
            let body = serde_json::json!({
                "fileName": "a.jpg", "fileType": "image/jpeg", "fileSize": 1000,
                "partSize": serde_json::from_str::<serde_json::Value>(bad).unwrap(),
            });
            match serde_json::from_value::<MultipartRequest>(body) {
                Ok(r) => assert_eq!(
                    NewMultipartUpload::parse(&r, &policy),
                    Err(UploadRejection::InvalidPartSize),
                    "{bad}"
                ),
                Err(_) => assert!(bad.starts_with('"'), "{bad}"),
            }
        }
        let ok = parse(Some("20000000"), None).unwrap();
        assert_eq!(ok.parts.part_size(), MIN_PART_BYTES);
        assert_eq!(ok.parts.count(), 4);
        assert_eq!(ok.upload.declared_size, Some(size(20_000_000)));
        let custom = parse(Some("20000000"), Some("8388608")).unwrap();
        assert_eq!(custom.parts.count(), 3);
        for same in ["5242880.0", "5.24288e6"] {
            let written = parse(Some("20000000"), Some(same)).unwrap();
            assert_eq!(written.parts.part_size(), MIN_PART_BYTES, "{same}");
        }
    }

    proptest! {
        #[test]
        fn the_parts_add_up_to_the_size_and_follow_s3s_rules(
            bytes in 1u64..=64 * 1024 * MIB,
            part_size in MIN_PART_BYTES..=MAX_PART_BYTES,
        ) {
            if let Some(plan) = PartPlan::new(size(bytes), part_size) {
                let lens: Vec<u64> = (1..=plan.count()).map(|n| plan.part_len(n).unwrap()).collect();
                prop_assert_eq!(lens.iter().sum::<u64>(), bytes);
                prop_assert!(lens.len() <= MAX_PARTS as usize);
                prop_assert!(lens.iter().all(|&l| l >= 1 && l <= part_size));
                prop_assert!(lens[..lens.len() - 1].iter().all(|&l| l == part_size));
                prop_assert_eq!(plan.part_len(plan.count() + 1), None);
            } else {
                prop_assert!(bytes.div_ceil(part_size) > u64::from(MAX_PARTS));
            }
        }
    }
}
