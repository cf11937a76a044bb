use uuid::Uuid;

/// The identity of one uploaded image: a random (version 4) UUID, shown in lower-case hyphenated form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageId(Uuid);

impl ImageId {
    /// The length of an id's text form (`xxxxxxxx-xxxx-4xxx-xxxx-xxxxxxxxxxxx`).
    pub const TEXT_LEN: usize = 36;

    /// A fresh random id.
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }

    /// Parses an id given by a client or found in a key. Only version 4 UUIDs in the form this
    /// service writes (lower-case, hyphenated) are ids of ours, so one image has one spelling.
    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::try_parse(raw)
            .ok()
            .filter(|u| u.get_version_num() == 4)
            .map(Self)
            .filter(|id| id.to_string() == raw)
    }
}

impl std::fmt::Display for ImageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_text_form() {
        let id = ImageId::new_random();
        assert_eq!(ImageId::parse(&id.to_string()), Some(id));
        assert_eq!(ImageId::parse("not-a-uuid"), None);
        assert_eq!(
            ImageId::parse("00000000-0000-1000-8000-000000000000"),
            None,
            "v1 is not ours"
        );
    }
}
