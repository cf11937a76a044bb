//! The API's CDN: its settings, and the signer built from its private key at the first signing,
//! so that a process that never lists images (`POST /upload` on a cold start) never reads it.

use tokio::sync::OnceCell;

use super::{KeyError, PrivateKey, UrlSigner};
use crate::config::CdnSettings;
use crate::domain::CdnOrigin;

/// Why the signing key could not be had. Names the file, never what is in it.
#[derive(Debug, thiserror::Error)]
pub enum CdnKeyError {
    #[error("reading the CDN signing key from {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the CDN signing key in {path} is unusable")]
    Key {
        path: String,
        #[source]
        source: KeyError,
    },
}

/// The configured CDN and, once needed, its signer.
#[derive(Debug)]
pub struct Cdn {
    settings: CdnSettings,
    signer: OnceCell<UrlSigner>,
}

impl Cdn {
    pub fn new(settings: CdnSettings) -> Self {
        Self {
            settings,
            signer: OnceCell::new(),
        }
    }

    pub fn origin(&self) -> &CdnOrigin {
        &self.settings.origin
    }

    pub fn key_pair_id(&self) -> &str {
        &self.settings.key_pair_id
    }

    /// The signer, reading the private key the first time. A failed read is tried again at the
    /// next call.
    ///
    /// # Errors
    /// [`CdnKeyError`] when the key cannot be read or is not an RSA private key.
    pub async fn signer(&self) -> Result<&UrlSigner, CdnKeyError> {
        self.signer
            .get_or_try_init(|| async {
                let key = self.private_key().await?;
                Ok(UrlSigner::new(
                    self.settings.origin.clone(),
                    self.settings.key_pair_id.clone(),
                    key,
                    self.settings.window,
                ))
            })
            .await
    }

    /// The private key, read from its file.
    async fn private_key(&self) -> Result<PrivateKey, CdnKeyError> {
        let file = &self.settings.private_key_file;
        let path = file.display().to_string();
        let pem = tokio::fs::read_to_string(file)
            .await
            .map_err(|source| CdnKeyError::Read {
                path: path.clone(),
                source,
            })?;
        PrivateKey::from_pem(&pem).map_err(|source| CdnKeyError::Key { path, source })
    }
}
