use super::{ImageId, ImageType};

/// An S3 object key this service writes. Built only from an [`ImageId`] and an [`ImageType`], never from
/// anything a client typed, so it cannot escape its prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// The prefix under which clients upload originals (the processor listens on it).
    pub const UPLOADS_PREFIX: &'static str = "uploads/";

    /// `uploads/{imageId}.{ext}`.
    pub fn for_upload(id: ImageId, image_type: ImageType) -> Self {
        Self(format!(
            "{}{id}.{}",
            Self::UPLOADS_PREFIX,
            image_type.extension()
        ))
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
