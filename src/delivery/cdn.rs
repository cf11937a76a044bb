//! The API's CDN: its settings, and the signer built from its private key at the first signing,
//! so that a process that never lists images (`POST /upload` on a cold start) never reads it.

use tokio::sync::OnceCell;

use super::{KeyError, PrivateKey, UrlSigner};
use crate::aws::AwsError;
use crate::config::{CdnKeySource, CdnSettings};
use crate::domain::CdnOrigin;

/// Why the signing key could not be had. Names where it was looked for, never what is in it.
#[derive(Debug, thiserror::Error)]
pub enum CdnKeyError {
    #[error("reading the CDN signing key from {source_name}")]
    Read {
        source_name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("fetching the CDN signing key from {source_name}")]
    Fetch {
        source_name: String,
        #[source]
        source: AwsError,
    },
    #[error("the CDN signing key in {source_name} has no string value")]
    NotAString { source_name: String },
    #[error("the CDN signing key in {source_name} is unusable")]
    Key {
        source_name: String,
        #[source]
        source: KeyError,
    },
}

/// The configured CDN and, once needed, its signer.
#[derive(Debug)]
pub struct Cdn {
    settings: CdnSettings,
    /// Reads `CDN_PRIVATE_KEY_SECRET`: made into a client at the first signing, never with a key
    /// file.
    secrets: aws_sdk_secretsmanager::Config,
    signer: OnceCell<UrlSigner>,
}

impl Cdn {
    pub fn new(settings: CdnSettings, secrets: aws_sdk_secretsmanager::Config) -> Self {
        Self {
            settings,
            secrets,
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
    /// [`CdnKeyError`] when the key cannot be read or is not a private key CloudFront takes.
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

    /// The private key, read from its file or fetched from its secret.
    async fn private_key(&self) -> Result<PrivateKey, CdnKeyError> {
        let source_name = self.settings.private_key.to_string();
        let pem = match &self.settings.private_key {
            CdnKeySource::File(file) => {
                tokio::fs::read_to_string(file)
                    .await
                    .map_err(|source| CdnKeyError::Read {
                        source_name: source_name.clone(),
                        source,
                    })?
            }
            CdnKeySource::Secret(id) => {
                let secrets = aws_sdk_secretsmanager::Client::from_conf(self.secrets.clone());
                let secret = secrets
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| CdnKeyError::Fetch {
                        source_name: source_name.clone(),
                        source: AwsError::classify("GetSecretValue", e),
                    })?;
                secret
                    .secret_string
                    .ok_or_else(|| CdnKeyError::NotAString {
                        source_name: source_name.clone(),
                    })?
            }
        };
        PrivateKey::from_pem(&pem).map_err(|source| CdnKeyError::Key {
            source_name,
            source,
        })
    }
}
