/// A display name for an uploaded image: at most 255 bytes of UTF-8 as sent, 1 or more once trimmed
/// of white space at both ends, no control characters.
///
/// It is only ever shown back to users; it never becomes part of an object key, so path separators,
/// dots and any other Unicode are harmless and kept exactly as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

/// Why a file name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileNameError {
    #[error("fileName must not be empty")]
    Empty,
    #[error("fileName must be at most {max} bytes, got {len}")]
    TooLong { len: usize, max: usize },
    #[error("fileName must not contain control characters")]
    ControlCharacter,
}

impl FileName {
    /// The longest name accepted, in bytes of UTF-8 as sent (white space at the edges counts:
    /// the API description's `maxLength` bounds the name as sent, and so does the service).
    pub const MAX_BYTES: usize = 255;

    /// Checks the length as sent, trims surrounding white space and checks the rest.
    ///
    /// # Errors
    /// [`FileNameError`] when the name is longer than [`Self::MAX_BYTES`], empty once trimmed,
    /// or contains a control character (C0, DEL or C1).
    pub fn parse(raw: &str) -> Result<Self, FileNameError> {
        if raw.len() > Self::MAX_BYTES {
            return Err(FileNameError::TooLong {
                len: raw.len(),
                max: Self::MAX_BYTES,
            });
        }
        let name = raw.trim();
        if name.is_empty() {
            return Err(FileNameError::Empty);
        }
        if name.chars().any(char::is_control) {
            return Err(FileNameError::ControlCharacter);
        }
        Ok(Self(name.to_owned()))
    }

    /// The extension after the last dot, lower-cased; `None` when there is no dot or nothing after it.
    pub fn extension(&self) -> Option<String> {
        let (stem, ext) = self.0.rsplit_once('.')?;
        (!ext.is_empty() && !stem.is_empty()).then(|| ext.to_lowercase())
    }
}

impl AsRef<str> for FileName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_each_bad_name_with_its_reason() {
        let cases = [
            ("", FileNameError::Empty, "empty"),
            ("   \t ", FileNameError::Empty, "only white space"),
            ("a\u{0}.jpg", FileNameError::ControlCharacter, "NUL"),
            ("a\n.jpg", FileNameError::ControlCharacter, "newline inside"),
            ("a\u{7f}.jpg", FileNameError::ControlCharacter, "DEL"),
            (
                "a\u{85}.jpg",
                FileNameError::ControlCharacter,
                "C1 next line",
            ),
            (
                &"x".repeat(256),
                FileNameError::TooLong { len: 256, max: 255 },
                "256 bytes",
            ),
            (
                &format!("{}a.jpg", "\u{3000}".repeat(100)),
                FileNameError::TooLong { len: 305, max: 255 },
                "five bytes of name behind 300 bytes of ideographic spaces",
            ),
            (
                &format!("a.jpg{}", " ".repeat(251)),
                FileNameError::TooLong { len: 256, max: 255 },
                "trailing spaces count",
            ),
        ];
        for (raw, expected, case) in cases {
            assert_eq!(FileName::parse(raw), Err(expected), "case: {case}");
        }
    }

    #[test]
    fn keeps_unicode_exactly_and_trims_only_the_edges() {
        let name = FileName::parse("  фото 📷 été.JPG ").unwrap();
        assert_eq!(name.as_ref(), "фото 📷 été.JPG");
        assert_eq!(name.extension().as_deref(), Some("jpg"));
    }

    #[test]
    fn counts_the_limit_in_bytes_not_characters() {
        let at_limit = "é".repeat(127) + ".j"; // 254 + 2 bytes = 256
        assert!(matches!(
            FileName::parse(&at_limit),
            Err(FileNameError::TooLong { len: 256, .. })
        ));
        let exactly_255 = "é".repeat(125) + "x.jpg"; // 250 + 5 bytes, 130 characters
        assert_eq!(
            FileName::parse(&exactly_255).map(|n| n.as_ref().len()),
            Ok(255)
        );
    }

    #[test]
    fn extension_needs_a_stem_and_a_suffix() {
        let ext = |raw: &str| FileName::parse(raw).unwrap().extension();
        assert_eq!(ext("photo"), None);
        assert_eq!(ext("photo."), None);
        assert_eq!(ext(".png"), None);
        assert_eq!(ext("a.tar.PNG").as_deref(), Some("png"));
    }

    proptest! {
        #[test]
        fn any_name_with_a_control_character_is_refused(
            prefix in "[a-z]{1,20}", control in prop::char::range('\u{0}', '\u{1f}'), suffix in "[a-z]{1,20}"
        ) {
            let raw = format!("{prefix}{control}{suffix}");
            prop_assert!(FileName::parse(&raw).is_err());
        }

        #[test]
        fn any_name_over_the_limit_is_refused(name in "[^\\p{Cc}\\s]{256,400}") {
            prop_assume!(name.len() > FileName::MAX_BYTES);
            let too_long = matches!(FileName::parse(&name), Err(FileNameError::TooLong { .. }));
            prop_assert!(too_long, "a {}-byte name was not refused as too long", name.len());
        }

        #[test]
        fn any_accepted_name_round_trips_trimmed(name in "\\PC{1,80}") {
            if let Ok(parsed) = FileName::parse(&name) {
                prop_assert_eq!(parsed.as_ref(), name.trim());
            }
        }
    }
}
