//! Renditions: the images the processor makes from every accepted upload (a thumbnail, a display
//! size, ...), as configured, and what a READY row records of each one it wrote.

use super::ObjectKey;

/// The longest name a rendition may have.
const MAX_NAME_LEN: usize = 16;

/// A rendition's name: 1 to 16 of `a-z`, `0-9` and `-`, starting with a letter. It appears in
/// object keys and in the API, so nothing else is allowed in it. `Copy`, so that the policy that
/// holds the configured set stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RenditionName {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
}

impl RenditionName {
    /// The rendition every configured set has: what `thumbnailUrl` and the gallery show.
    pub const THUMBNAIL: &'static str = "thumbnail";

    /// `raw` as a name, if it is one.
    pub fn parse(raw: &str) -> Option<Self> {
        let valid = raw.len() <= MAX_NAME_LEN
            && raw.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return None;
        }
        let mut bytes = [0; MAX_NAME_LEN];
        bytes[..raw.len()].copy_from_slice(raw.as_bytes());
        Some(Self {
            bytes,
            len: raw.len() as u8,
        })
    }

    /// The name of the thumbnail rendition.
    pub const fn thumbnail() -> Self {
        Self {
            bytes: *b"thumbnail\0\0\0\0\0\0\0",
            len: 9,
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII was ever copied in.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Debug for RenditionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl std::fmt::Display for RenditionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One configured rendition: its name and the longest side it may have (never enlarged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenditionSpec {
    pub name: RenditionName,
    pub max_side: u32,
}

/// The configured renditions (`RENDITIONS`): one to [`Renditions::MAX`], with distinct names and
/// sides, always one named `thumbnail`; kept largest first, the order they are made in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Renditions {
    specs: [RenditionSpec; Self::MAX],
    len: usize,
}

impl Renditions {
    /// The most renditions one image may have.
    pub const MAX: usize = 6;
    /// The sides a rendition may have, in pixels.
    pub const SIDES: std::ops::RangeInclusive<u32> = 16..=4096;
    /// The default set, as the setting spells it.
    pub const DEFAULT: &'static str = "thumbnail:256,display:1600";

    /// Parses the setting: `name:side` pairs separated by commas, e.g. `thumbnail:256,display:1600`.
    ///
    /// # Errors
    /// A sentence saying what is wrong, for the configuration error.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut specs = Vec::new();
        for pair in raw.split(',') {
            let (name, side) = pair
                .trim()
                .split_once(':')
                .ok_or_else(|| format!("`{}` is not `name:side`", truncated(pair.trim())))?;
            let name = RenditionName::parse(name.trim()).ok_or_else(|| {
                format!(
                    "`{}` is not a name: 1 to {MAX_NAME_LEN} of a-z, 0-9 and -, starting with a letter",
                    truncated(name.trim())
                )
            })?;
            let max_side = side
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|s| Self::SIDES.contains(s))
                .ok_or_else(|| {
                    format!(
                        "the side of `{name}` must be a whole number from {} to {}",
                        Self::SIDES.start(),
                        Self::SIDES.end()
                    )
                })?;
            specs.push(RenditionSpec { name, max_side });
        }
        Self::from_specs(&specs)
    }

    /// The set of `specs`.
    ///
    /// # Errors
    /// As [`Renditions::parse`].
    pub fn from_specs(specs: &[RenditionSpec]) -> Result<Self, String> {
        if specs.is_empty() || specs.len() > Self::MAX {
            return Err(format!("from 1 to {} renditions", Self::MAX));
        }
        let mut sorted = specs.to_vec();
        sorted.sort_by_key(|s| std::cmp::Reverse(s.max_side));
        for pair in sorted.windows(2) {
            if pair[0].max_side == pair[1].max_side {
                return Err(format!(
                    "`{}` and `{}` have the same side",
                    pair[0].name, pair[1].name
                ));
            }
        }
        for (i, spec) in sorted.iter().enumerate() {
            if sorted[..i].iter().any(|other| other.name == spec.name) {
                return Err(format!("`{}` is named twice", spec.name));
            }
        }
        if !sorted
            .iter()
            .any(|s| s.name.as_str() == RenditionName::THUMBNAIL)
        {
            return Err(format!(
                "one rendition must be named `{}`",
                RenditionName::THUMBNAIL
            ));
        }
        let mut set = Self {
            specs: [sorted[0]; Self::MAX],
            len: sorted.len(),
        };
        set.specs[..sorted.len()].copy_from_slice(&sorted);
        Ok(set)
    }

    /// A set of the thumbnail alone, `side` pixels (at least 1; tests and fuzzing go below
    /// [`Renditions::SIDES`], which bounds what can be configured).
    pub const fn thumbnail_only(side: u32) -> Self {
        let spec = RenditionSpec {
            name: RenditionName::thumbnail(),
            max_side: if side == 0 { 1 } else { side },
        };
        Self {
            specs: [spec; Self::MAX],
            len: 1,
        }
    }

    /// The renditions, largest first.
    pub fn iter(&self) -> impl Iterator<Item = &RenditionSpec> {
        self.specs[..self.len].iter()
    }

    /// The longest side any rendition may have: what a decoder must reach.
    pub fn largest_side(&self) -> u32 {
        self.specs[0].max_side
    }
}

impl Default for Renditions {
    fn default() -> Self {
        Self::parse(Self::DEFAULT).expect("the default set is valid")
    }
}

impl std::fmt::Debug for Renditions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Renditions({self})")
    }
}

/// As the setting spells it, largest first.
impl std::fmt::Display for Renditions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, spec) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}:{}", spec.name, spec.max_side)?;
        }
        Ok(())
    }
}

/// The first 40 characters of what a configuration error quotes back.
fn truncated(text: &str) -> String {
    text.chars().take(40).collect()
}

/// The formats renditions are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RenditionFormat {
    Jpeg,
}

impl RenditionFormat {
    /// Every format renditions are written in.
    pub const ALL: [Self; 1] = [Self::Jpeg];

    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
        }
    }

    pub fn from_mime(mime: &str) -> Option<Self> {
        (mime == "image/jpeg").then_some(Self::Jpeg)
    }
}

/// A rendition the processor wrote, as its READY row records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRendition {
    pub name: RenditionName,
    /// The side it was made for (the configured `max_side`): what tells a rendition made under
    /// another configuration.
    pub max_side: u32,
    pub format: RenditionFormat,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    /// `renditions/{imageId}/{name}-{hash of its bytes}.{ext}`: a new content gets a new key, so
    /// the object can be cached for ever.
    pub key: ObjectKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_parses_largest_first_and_prints_back() {
        let set = Renditions::parse(" display:1600 , thumbnail:256,large:2560").unwrap();
        assert_eq!(set.to_string(), "large:2560,display:1600,thumbnail:256");
        assert_eq!(set.largest_side(), 2560);
        assert_eq!(Renditions::parse(&set.to_string()).unwrap(), set);
        assert_eq!(
            Renditions::default().to_string(),
            "display:1600,thumbnail:256"
        );
    }

    #[test]
    fn a_bad_set_is_refused_with_its_reason() {
        for (raw, reason) in [
            ("", "not `name:side`"),
            ("display:1600", "named `thumbnail`"),
            ("thumbnail:256,thumbnail:512", "named twice"),
            ("thumbnail:256,display:256", "the same side"),
            ("thumbnail:15", "from 16 to 4096"),
            ("thumbnail:4097", "from 16 to 4096"),
            ("thumbnail:-1", "from 16 to 4096"),
            ("Thumbnail:256", "not a name"),
            ("thumbnail:256,../x:300", "not a name"),
            ("thumbnail:256,a234567890123456x:300", "not a name"),
            (
                "thumbnail:16,a:17,b:18,c:19,d:20,e:21,f:22",
                "from 1 to 6 renditions",
            ),
        ] {
            let err = Renditions::parse(raw).unwrap_err();
            assert!(err.contains(reason), "{raw}: {err}");
        }
    }

    #[test]
    fn names_are_what_keys_and_urls_can_carry() {
        assert_eq!(
            RenditionName::parse(RenditionName::THUMBNAIL),
            Some(RenditionName::thumbnail())
        );
        for good in ["thumbnail", "a", "display-2x", "a234567890123456"] {
            assert_eq!(RenditionName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "2x",
            "-a",
            "a_b",
            "a.b",
            "a/b",
            "É",
            "a234567890123456x",
        ] {
            assert_eq!(RenditionName::parse(bad), None, "{bad}");
        }
    }
}
