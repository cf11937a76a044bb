/// Who an image belongs to: the caller's `sub` claim from the API Gateway authorizer, or
/// [`Owner::anonymous`] when the route has no authorizer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner(String);

impl Owner {
    /// The owner recorded when no authorizer identified the caller.
    pub fn anonymous() -> Self {
        Self("anonymous".into())
    }

    /// An owner from an authorizer's `sub` claim: non-empty, at most 256 bytes, no control characters.
    pub fn from_subject(sub: &str) -> Option<Self> {
        let ok = !sub.is_empty() && sub.len() <= 256 && !sub.chars().any(char::is_control);
        ok.then(|| Self(sub.to_owned()))
    }
}

impl AsRef<str> for Owner {
    fn as_ref(&self) -> &str {
        &self.0
    }
}
