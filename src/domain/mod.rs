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
pub use rendition::{RenditionFormat, RenditionName, RenditionSpec, Renditions, StoredRendition};
pub use upload_size::UploadSize;
