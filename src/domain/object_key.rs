use super::{ImageId, ImageType};

/// An S3 object key this service writes. Built only from an [`ImageId`] and an [`ImageType`], never from
/// anything a client typed, so it cannot escape its prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// The prefix under which clients upload originals (the processor listens on it).
    pub const UPLOADS_PREFIX: &'static str = "uploads/";
    /// The prefix verified originals are copied to. No upload URL is ever signed for it, so what
    /// is there is exactly what the processor verified; it is what `GET /images` serves.
    pub const ORIGINALS_PREFIX: &'static str = "originals/";
    /// The prefix thumbnails are written under. No notification listens on it, so writing a
    /// thumbnail cannot trigger the processor again.
    pub const THUMBNAILS_PREFIX: &'static str = "thumbnails/";

    /// `uploads/{imageId}.{ext}`.
    pub fn for_upload(id: ImageId, image_type: ImageType) -> Self {
        Self(format!(
            "{}{id}.{}",
            Self::UPLOADS_PREFIX,
            image_type.extension()
        ))
    }

    /// `originals/{imageId}.{ext}`: where the verified bytes of an upload are kept.
    pub fn for_original(id: ImageId, image_type: ImageType) -> Self {
        Self(format!(
            "{}{id}.{}",
            Self::ORIGINALS_PREFIX,
            image_type.extension()
        ))
    }

    /// `thumbnails/{imageId}.jpg`: thumbnails are always JPEG.
    pub fn for_thumbnail(id: ImageId) -> Self {
        Self(format!("{}{id}.jpg", Self::THUMBNAILS_PREFIX))
    }

    /// The image an uploaded object's key names, if it is exactly a key [`ObjectKey::for_upload`]
    /// makes. Anything else (another prefix, a stray suffix, an id that is not ours) is `None`.
    pub fn parse_upload(key: &str) -> Option<(ImageId, ImageType)> {
        let (id, ext) = key.strip_prefix(Self::UPLOADS_PREFIX)?.rsplit_once('.')?;
        let id = ImageId::parse(id)?;
        let image_type = ImageType::ALL.into_iter().find(|t| t.extension() == ext)?;
        Some((id, image_type))
    }
}

/// Every object one image can have in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageObjectKeys {
    pub image_id: ImageId,
    /// `uploads/…`: where the client PUTs. Kept after READY (so S3 refuses a second PUT to its
    /// URL) until the bucket's lifecycle rule or a DELETE removes it; emptied on rejection.
    pub upload: ObjectKey,
    /// `originals/…`: the verified copy, kept while the image is READY.
    pub original: ObjectKey,
    /// `thumbnails/…`: kept while the image is READY.
    pub thumbnail: ObjectKey,
}

impl ImageObjectKeys {
    /// The keys of image `id` uploaded as `image_type`.
    pub fn new(id: ImageId, image_type: ImageType) -> Self {
        Self {
            image_id: id,
            upload: ObjectKey::for_upload(id, image_type),
            original: ObjectKey::for_original(id, image_type),
            thumbnail: ObjectKey::for_thumbnail(id),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_key_parses_back_to_its_image() {
        let id = ImageId::new_random();
        for image_type in ImageType::ALL {
            let key = ObjectKey::for_upload(id, image_type);
            assert_eq!(
                ObjectKey::parse_upload(key.as_ref()),
                Some((id, image_type))
            );
        }
    }

    #[test]
    fn keys_this_service_never_makes_do_not_parse() {
        let id = ImageId::new_random();
        for key in [
            format!("thumbnails/{id}.jpg"),
            format!("uploads/{id}.jpeg"),
            format!("uploads/{id}.svg"),
            format!("uploads/{id}.png.html"),
            format!("uploads/x/{id}.png"),
            format!("uploads/{id}"),
            "uploads/not-an-id.png".to_owned(),
        ] {
            assert_eq!(ObjectKey::parse_upload(&key), None, "{key}");
        }
        assert_eq!(
            ObjectKey::for_thumbnail(id).as_ref(),
            format!("thumbnails/{id}.jpg")
        );
        let original = ObjectKey::for_original(id, ImageType::Png);
        assert_eq!(original.as_ref(), format!("originals/{id}.png"));
        assert_eq!(ObjectKey::parse_upload(original.as_ref()), None);
    }
}
