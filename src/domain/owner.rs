/// Who an image belongs to: the caller's Cognito `sub` claim (from API Gateway's authorizer or a
/// verified ID token), or [`Owner::anonymous`] where anonymous callers are allowed
/// (`ALLOW_ANONYMOUS=true`, the local server's default).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner(String);

impl Owner {
    /// The owner recorded for callers nobody identified, where that is allowed.
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
