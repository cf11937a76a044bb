use sha2::{Digest, Sha256};

use super::{ImageId, ImageType, RenditionFormat, RenditionName};

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
    /// The prefix thumbnails were written under before renditions (rows of that time still name
    /// them). No notification listens on it.
    pub const THUMBNAILS_PREFIX: &'static str = "thumbnails/";
    /// The prefix renditions are written under, one folder per image. No notification listens on
    /// it, so writing a rendition cannot trigger the processor again.
    pub const RENDITIONS_PREFIX: &'static str = "renditions/";
    /// Hex digits of the SHA-256 of a rendition's bytes in its key: 64 bits, so two contents of
    /// one rendition of one image never share a key.
    const CONTENT_HASH_DIGITS: usize = 16;

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

    /// `thumbnails/{imageId}.jpg`: where thumbnails were written before renditions.
    pub fn for_legacy_thumbnail(id: ImageId) -> Self {
        Self(format!("{}{id}.jpg", Self::THUMBNAILS_PREFIX))
    }

    /// `renditions/{imageId}/`: the folder of an image's renditions.
    pub fn renditions_folder(id: ImageId) -> String {
        format!("{}{id}/", Self::RENDITIONS_PREFIX)
    }

    /// `renditions/{imageId}/{name}-{hash}.{ext}`, the hash that of `content`: the key changes
    /// when the content does, so what is stored under a key never changes and can be cached for
    /// ever.
    pub fn for_rendition(
        id: ImageId,
        name: RenditionName,
        format: RenditionFormat,
        content: &[u8],
    ) -> Self {
        let digest = Sha256::digest(content);
        let mut hash = String::with_capacity(Self::CONTENT_HASH_DIGITS);
        for byte in &digest[..Self::CONTENT_HASH_DIGITS / 2] {
            hash.push_str(&format!("{byte:02x}"));
        }
        Self(format!(
            "{}{name}-{hash}.{}",
            Self::renditions_folder(id),
            format.extension()
        ))
    }

    /// `key` if it is one [`ObjectKey::for_rendition`] makes for rendition `name` of image `id`
    /// in `format` (a row read back must name nothing else).
    pub fn parse_rendition(
        key: &str,
        id: ImageId,
        name: RenditionName,
        format: RenditionFormat,
    ) -> Option<Self> {
        let rest = key
            .strip_prefix(&Self::renditions_folder(id))?
            .strip_prefix(name.as_str())?
            .strip_prefix('-')?;
        let (hash, ext) = rest.split_once('.')?;
        let valid = hash.len() == Self::CONTENT_HASH_DIGITS
            && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && ext == format.extension();
        valid.then(|| Self(key.to_owned()))
    }

    /// `key` if it is any rendition key [`ObjectKey::for_rendition`] makes for image `id`, or its
    /// thumbnail from before renditions: what a row's superseded renditions may name.
    pub fn parse_image_rendition(key: &str, id: ImageId) -> Option<Self> {
        if key == Self::for_legacy_thumbnail(id).as_ref() {
            return Some(Self(key.to_owned()));
        }
        let file = key.strip_prefix(&Self::renditions_folder(id))?;
        let (name, _) = file.rsplit_once('-')?;
        let name = RenditionName::parse(name)?;
        RenditionFormat::ALL
            .into_iter()
            .find_map(|format| Self::parse_rendition(key, id, name, format))
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

impl ObjectKey {
    /// The prefixes under which this service keeps an image's objects, each followed by the
    /// image's id: what the reconciliation sweep lists.
    pub const IMAGE_PREFIXES: [&'static str; 4] = [
        Self::UPLOADS_PREFIX,
        Self::ORIGINALS_PREFIX,
        Self::THUMBNAILS_PREFIX,
        Self::RENDITIONS_PREFIX,
    ];

    /// The image a key belongs to, if it is exactly a key this service makes for an image: an
    /// upload or an original (`{prefix}{id}.{ext}` of an accepted type), a thumbnail from
    /// before renditions, or a rendition (`renditions/{id}/{name}-{hash}.{ext}`). Anything else
    /// (another prefix, a stray suffix, an id that is not ours) is `None`.
    pub fn image_of(key: &str) -> Option<ImageId> {
        let split = |prefix: &str| {
            let rest = key.strip_prefix(prefix)?;
            let id = ImageId::parse(rest.get(..ImageId::TEXT_LEN)?)?;
            Some((id, rest.get(ImageId::TEXT_LEN..)?))
        };
        let typed = |prefix: &str| {
            let (id, tail) = split(prefix)?;
            let ext = tail.strip_prefix('.')?;
            ImageType::ALL
                .iter()
                .any(|t| t.extension() == ext)
                .then_some(id)
        };
        if key.starts_with(Self::UPLOADS_PREFIX) {
            typed(Self::UPLOADS_PREFIX)
        } else if key.starts_with(Self::ORIGINALS_PREFIX) {
            typed(Self::ORIGINALS_PREFIX)
        } else if key.starts_with(Self::THUMBNAILS_PREFIX) {
            let (id, _) = split(Self::THUMBNAILS_PREFIX)?;
            (key == Self::for_legacy_thumbnail(id).0).then_some(id)
        } else {
            let (id, _) = split(Self::RENDITIONS_PREFIX)?;
            Self::parse_image_rendition(key, id).map(|_| id)
        }
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
    /// `thumbnails/…`: the thumbnail of an image made before renditions, kept while it is READY.
    pub legacy_thumbnail: ObjectKey,
    /// `renditions/{imageId}/`: every rendition, kept while the image is READY.
    pub renditions_folder: String,
}

impl ImageObjectKeys {
    /// The keys of image `id` uploaded as `image_type`.
    pub fn new(id: ImageId, image_type: ImageType) -> Self {
        Self {
            image_id: id,
            upload: ObjectKey::for_upload(id, image_type),
            original: ObjectKey::for_original(id, image_type),
            legacy_thumbnail: ObjectKey::for_legacy_thumbnail(id),
            renditions_folder: ObjectKey::renditions_folder(id),
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
    fn every_key_of_an_image_names_it_and_nothing_else_does() {
        let id = ImageId::new_random();
        let keys = ImageObjectKeys::new(id, ImageType::Png);
        let rendition = ObjectKey::for_rendition(
            id,
            RenditionName::parse("thumbnail").unwrap(),
            RenditionFormat::Jpeg,
            b"pixels",
        );
        for key in [
            keys.upload.as_ref(),
            keys.original.as_ref(),
            keys.legacy_thumbnail.as_ref(),
            rendition.as_ref(),
        ] {
            assert_eq!(ObjectKey::image_of(key), Some(id), "{key}");
        }
        let text = id.to_string();
        for key in [
            format!("uploads/{text}"),
            format!("uploads/{text}/x.jpg"),
            format!("uploads/{text}.png.html"),
            format!("originals/{text}.jpg.bak"),
            format!("originals/{text}.exe"),
            format!("thumbnails/{text}.png"),
            format!("renditions/{text}/notes.txt"),
            format!("renditions/{text}/thumbnail-0123.jpg"),
            format!("renditions/{text}.jpg"),
            format!("originals/{}.jpg", text.to_uppercase()),
            format!("other/{text}.jpg"),
            format!("uploads/x{text}.jpg"),
            "uploads/".to_owned(),
            "renditions/é".to_owned(),
        ] {
            assert_eq!(ObjectKey::image_of(&key), None, "{key}");
        }
    }

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
            ObjectKey::for_legacy_thumbnail(id).as_ref(),
            format!("thumbnails/{id}.jpg")
        );
        let original = ObjectKey::for_original(id, ImageType::Png);
        assert_eq!(original.as_ref(), format!("originals/{id}.png"));
        assert_eq!(ObjectKey::parse_upload(original.as_ref()), None);
    }

    #[test]
    fn a_rendition_key_names_its_image_and_content() {
        let id = ImageId::new_random();
        let name = RenditionName::parse("display").unwrap();
        let jpeg = RenditionFormat::Jpeg;
        let key = ObjectKey::for_rendition(id, name, jpeg, b"abc");
        // SHA-256("abc") starts ba7816bf8f01cfea.
        assert_eq!(
            key.as_ref(),
            format!("renditions/{id}/display-ba7816bf8f01cfea.jpg")
        );
        assert_ne!(ObjectKey::for_rendition(id, name, jpeg, b"abd"), key);
        assert_eq!(
            ObjectKey::parse_rendition(key.as_ref(), id, name, jpeg),
            Some(key.clone())
        );
        let other = ImageId::new_random();
        let thumbnail = RenditionName::thumbnail();
        for wrong in [
            ObjectKey::parse_rendition(key.as_ref(), other, name, jpeg),
            ObjectKey::parse_rendition(key.as_ref(), id, thumbnail, jpeg),
            ObjectKey::parse_rendition(&format!("{key}x"), id, name, jpeg),
            ObjectKey::parse_rendition(
                &format!("renditions/{id}/display-BA7816BF8F01CFEA.jpg"),
                id,
                name,
                jpeg,
            ),
            ObjectKey::parse_rendition(
                &format!("renditions/{id}/display-ba7816bf8f01cfe.jpg"),
                id,
                name,
                jpeg,
            ),
        ] {
            assert_eq!(wrong, None);
        }
    }

    #[test]
    fn a_superseded_rendition_is_any_rendition_of_its_image_or_its_old_thumbnail() {
        let id = ImageId::new_random();
        let key = ObjectKey::for_rendition(
            id,
            RenditionName::parse("large-2").unwrap(),
            RenditionFormat::Jpeg,
            b"abc",
        );
        assert_eq!(
            ObjectKey::parse_image_rendition(key.as_ref(), id),
            Some(key.clone())
        );
        let legacy = ObjectKey::for_legacy_thumbnail(id);
        assert_eq!(
            ObjectKey::parse_image_rendition(legacy.as_ref(), id),
            Some(legacy)
        );
        let other = ImageId::new_random();
        for wrong in [
            key.as_ref().to_owned(),
            format!("renditions/{other}/../{id}/display-ba7816bf8f01cfea.jpg"),
            format!("originals/{other}.jpg"),
            format!("renditions/{other}/Display-ba7816bf8f01cfea.jpg"),
            format!("thumbnails/{other}.png"),
        ] {
            assert_eq!(
                ObjectKey::parse_image_rendition(&wrong, other),
                None,
                "{wrong}"
            );
        }
    }
}
