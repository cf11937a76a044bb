//! The rules of an upload. Every type here is valid once constructed; nothing downstream re-checks it.

mod cdn_origin;
mod file_name;
mod image;
mod image_id;
mod image_type;
mod multipart;
mod new_upload;
mod object_key;
mod owner;
mod processing;
mod quota;
mod rendition;
mod upload_size;

pub use cdn_origin::CdnOrigin;
pub use file_name::{FileName, FileNameError};
pub use image::{ImageMetadata, MultipartUpload};
pub use image_id::ImageId;
pub use image_type::{AllowedTypes, ImageType};
pub use multipart::{
    MAX_PART_BYTES, MAX_PARTS, MIN_PART_BYTES, MultipartRequest, NewMultipartUpload, PartPlan,
};
pub use new_upload::{NewUpload, UploadPolicy, UploadRejection, UploadRequest};
pub use object_key::{ImageObjectKeys, ObjectKey};
pub use owner::Owner;
pub use processing::{
    BUDGET_BYTES_PER_PIXEL, BUDGET_FIXED_BYTES, ImageState, ProcessingPolicy, ReadyImage,
    Rejection, RejectionReason, StateName, Superseded,
};
pub use quota::{Counted, InFlight, QuotaPolicy, QuotaRefusal, Usage, UsageNow, hour_of};
pub use rendition::{RenditionFormat, RenditionName, RenditionSpec, Renditions, StoredRendition};
pub use upload_size::UploadSize;

/// `text` as it may be echoed back in an error message or a log line: whole if it has at most
/// `max_bytes` bytes, else its longest prefix that fits with a closing `…`, cut on a character
/// boundary. Client input is echoed only through this, so a 64 KiB field makes a short answer.
pub fn excerpt(text: &str, max_bytes: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max_bytes {
        return text.into();
    }
    let mut end = max_bytes.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn an_excerpt_fits_its_bound_on_a_character_boundary() {
        assert_eq!(excerpt("short", 10), "short");
        assert_eq!(excerpt("0123456789", 10), "0123456789");
        assert_eq!(excerpt("0123456789x", 10), "0123456…");
        // 'é' is two bytes: a cut through it falls before it.
        assert_eq!(excerpt("abcdeéfghij", 10), "abcdeé…");
        assert_eq!(excerpt("abcdefééé", 10), "abcdef…");
        for max in 3..40 {
            let cut = excerpt("ééééééééééééééééééé", max);
            assert!(cut.len() <= max, "{max}: {cut}");
        }
    }
}
