//! `POST /upload` and `POST /upload/multipart` bodies: JSON bytes -> `UploadRequest` ->
//! `NewUpload::parse`, and -> `MultipartRequest` -> `NewMultipartUpload::parse`, with the default
//! policy.
//!
//! Oracle: an accepted upload's parts say the same as the request (the name round-trips through
//! `FileName::parse`, the type is the one the MIME names and its extension agrees with the name's,
//! the size is the number sent and within the policy, the object key parses back), and every
//! refusal is the one its rule gives when checked on its own. A multipart upload is the same upload
//! with its size required, and its parts add up to the size within S3's rules.

#![no_main]

use image_upload::domain::{
    FileName, ImageId, ImageType, MAX_PART_BYTES, MAX_PARTS, MIN_PART_BYTES, MultipartRequest,
    NewMultipartUpload, NewUpload, ObjectKey, UploadPolicy, UploadRejection, UploadRequest,
    excerpt,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<UploadRequest>(data) else {
        return;
    };
    let policy = UploadPolicy::default();
    match NewUpload::parse(&request, &policy) {
        Ok(upload) => check_accepted(&request, &policy, &upload),
        Err(rejection) => check_refused(&request, &policy, &rejection),
    }
    if let Ok(multipart) = serde_json::from_slice::<MultipartRequest>(data) {
        check_multipart(&multipart, &policy);
    }
});

fn check_multipart(request: &MultipartRequest, policy: &UploadPolicy) {
    // The same rules as a single upload's, with the size required...
    let sized = UploadPolicy {
        require_size: true,
        ..policy.clone()
    };
    let single = NewUpload::parse(&request.upload, &sized);
    match (NewMultipartUpload::parse(request, policy), single) {
        (Ok(multipart), Ok(upload)) => {
            check_accepted(&request.upload, &sized, &multipart.upload);
            assert_eq!(multipart.upload, upload);
            // ...and parts that add up to it, within S3's rules.
            let plan = multipart.parts;
            let size = upload.declared_size.expect("the size is required").bytes();
            assert_eq!(plan.size().bytes(), size);
            assert!((MIN_PART_BYTES..=MAX_PART_BYTES).contains(&plan.part_size()));
            match &request.part_size {
                None => assert_eq!(plan.part_size(), MIN_PART_BYTES),
                Some(sent) => assert_eq!(sent.as_f64(), Some(plan.part_size() as f64)),
            }
            let count = plan.count();
            assert!((1..=MAX_PARTS).contains(&count));
            let total: u64 = (1..=count).map(|n| plan.part_len(n).expect("a part")).sum();
            assert_eq!(total, size);
            assert_eq!(plan.part_len(0), None);
            assert_eq!(plan.part_len(count + 1), None);
        }
        (Err(UploadRejection::InvalidPartSize), Ok(_)) => {
            // Only the part size is wrong: not a whole number in S3's range, or too many parts.
            let sent = request.part_size.as_ref().expect("a part size was sent");
            if let Some(bytes) = sent.as_f64().filter(|f| f.fract() == 0.0) {
                let size = request.upload.file_size.as_ref().and_then(|n| n.as_f64());
                let too_many = size.is_some_and(|s| (s / bytes).ceil() > f64::from(MAX_PARTS));
                assert!(
                    !(MIN_PART_BYTES as f64..=MAX_PART_BYTES as f64).contains(&bytes) || too_many,
                    "{bytes} refused"
                );
            }
        }
        (Err(multipart), Err(single)) => assert_eq!(multipart, single),
        (multipart, single) => panic!("multipart {multipart:?}, single {single:?}"),
    }
}

fn check_accepted(request: &UploadRequest, policy: &UploadPolicy, upload: &NewUpload) {
    let name = upload.file_name.as_ref();
    assert_eq!(
        name,
        request.file_name.trim(),
        "the name is the trimmed request"
    );
    assert_eq!(
        FileName::parse(name).as_ref(),
        Ok(&upload.file_name),
        "an accepted name parses to itself"
    );
    assert!(!name.is_empty() && request.file_name.len() <= FileName::MAX_BYTES);
    assert!(!name.chars().any(char::is_control));

    let image_type = upload.image_type;
    assert_eq!(ImageType::from_mime(&request.file_type), Some(image_type));
    assert_eq!(
        policy.allowed_types.get(image_type.mime()),
        Some(image_type)
    );
    assert_eq!(ImageType::from_mime(image_type.mime()), Some(image_type));
    let extension = upload
        .file_name
        .extension()
        .expect("an accepted name has an extension");
    assert!(image_type.accepts_extension(&extension));
    assert!(image_type.accepts_extension(image_type.extension()));
    assert_eq!(extension, extension.to_lowercase());

    match (&request.file_size, upload.declared_size) {
        (None, None) => assert!(!policy.require_size),
        (Some(sent), Some(size)) => {
            // The same number, however it was spelled (`2048`, `2048.0`, `2.048e3`).
            assert_eq!(sent.as_f64(), Some(size.bytes() as f64));
            assert!((1..=policy.max_bytes).contains(&size.bytes()));
        }
        (sent, kept) => panic!("size sent {sent:?} but kept {kept:?}"),
    }

    // The key of an accepted upload names the same type when it is read back.
    let id = ImageId::parse("6f1c2a9e-3b4d-4c5e-8f70-1a2b3c4d5e6f").expect("a v4 id");
    let key = ObjectKey::for_upload(id, image_type);
    assert_eq!(
        ObjectKey::parse_upload(key.as_ref()),
        Some((id, image_type))
    );
}

fn check_refused(request: &UploadRequest, policy: &UploadPolicy, rejection: &UploadRejection) {
    // Every refusal is shown to the client: its message must render.
    assert!(!rejection.to_string().is_empty());
    match rejection {
        UploadRejection::InvalidFileName(err) => {
            assert_eq!(FileName::parse(&request.file_name).as_ref(), Err(err));
        }
        UploadRejection::UnsupportedType { given, .. } => {
            // What the message quotes of the type: all of it, or its first 64 bytes and `…`.
            assert_eq!(given, &excerpt(&request.file_type, 64));
            assert_eq!(policy.allowed_types.get(&request.file_type), None);
        }
        UploadRejection::ExtensionMismatch { image_type } => {
            assert_eq!(
                policy.allowed_types.get(&request.file_type),
                Some(*image_type)
            );
            let name = FileName::parse(&request.file_name).expect("the name rule passed");
            assert!(
                !name
                    .extension()
                    .is_some_and(|ext| image_type.accepts_extension(&ext))
            );
        }
        UploadRejection::InvalidFileSize => {
            let sent = request.file_size.as_ref().expect("a size was sent");
            assert!(sent.as_u64().is_none_or(|n| n == 0));
            assert!(sent.as_f64().is_none_or(|f| f.fract() != 0.0 || f < 1.0));
        }
        UploadRejection::FileTooLarge { max } => {
            assert_eq!(*max, policy.max_bytes);
            let sent = request.file_size.as_ref().expect("a size was sent");
            match sent.as_u64() {
                Some(n) => assert!(n > *max),
                None => assert!(sent.as_f64().is_some_and(|f| f > *max as f64)),
            }
        }
        UploadRejection::FileSizeRequired => {
            assert!(policy.require_size && request.file_size.is_none());
        }
        UploadRejection::InvalidPartSize => panic!("only a multipart upload has parts"),
    }
}
