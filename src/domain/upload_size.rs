/// A declared upload size in bytes: at least 1, at most the configured maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UploadSize(u64);

impl UploadSize {
    /// Accepts `bytes` when it is within `1..=max`; `None` otherwise.
    pub fn within(bytes: u64, max: u64) -> Option<Self> {
        (1..=max).contains(&bytes).then_some(Self(bytes))
    }

    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_one_to_max_inclusive() {
        assert_eq!(UploadSize::within(0, 10), None);
        assert_eq!(UploadSize::within(1, 10).map(UploadSize::bytes), Some(1));
        assert_eq!(UploadSize::within(10, 10).map(UploadSize::bytes), Some(10));
        assert_eq!(UploadSize::within(11, 10), None);
    }
}
