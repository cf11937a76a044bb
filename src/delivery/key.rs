//! The CDN's signing key pair, read from PEM: the private key (PKCS #8, as `openssl genpkey`
//! writes it, or PKCS #1, as `openssl genrsa` did) to sign, the public key (X.509
//! `SubjectPublicKeyInfo`, what CloudFront is given) to check.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    KeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};

/// Why a key could not be read. Never says anything of the key's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is not PEM (no -----BEGIN {0}----- block)")]
    NotPem(&'static str),
    #[error("the PEM block's base64 does not decode")]
    BadBase64,
    #[error("the key is not an RSA key of 2048 to 8192 bits")]
    NotRsa,
}

/// An RSA private key that signs CDN URLs.
pub struct PrivateKey {
    pair: RsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for PrivateKey {
    // The key itself is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({} bits)", self.pair.public_modulus_len() * 8)
    }
}

impl PrivateKey {
    /// The key in `pem`: a `PRIVATE KEY` (PKCS #8) or `RSA PRIVATE KEY` (PKCS #1) block.
    ///
    /// # Errors
    /// [`KeyError`] for anything else, or an RSA key outside 2048 to 8192 bits.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pair = if let Some(der) = pem_block(pem, "PRIVATE KEY")? {
            RsaKeyPair::from_pkcs8(&der)
        } else if let Some(der) = pem_block(pem, "RSA PRIVATE KEY")? {
            RsaKeyPair::from_der(&der)
        } else {
            return Err(KeyError::NotPem("PRIVATE KEY"));
        }
        .map_err(|_| KeyError::NotRsa)?;
        Ok(Self {
            pair,
            rng: SystemRandom::new(),
        })
    }

    /// The RSASSA-PKCS1-v1_5 signature of `message` over SHA-256.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        // Signing with a valid key into a buffer of the modulus' length does not fail.
        self.pair
            .sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
            .expect("RSA signing with a parsed key");
        signature
    }

    /// The public key's `RSAPublicKey` DER (RFC 8017).
    pub fn public_key_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }
}

/// An RSA public key that checks CDN URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    der: Vec<u8>,
}

impl PublicKey {
    /// The key in `pem`'s `PUBLIC KEY` block (X.509 `SubjectPublicKeyInfo`).
    ///
    /// # Errors
    /// [`KeyError`] if there is no such block or it is not an RSA key.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_block(pem, "PUBLIC KEY")?.ok_or(KeyError::NotPem("PUBLIC KEY"))?;
        Self::from_der(der)
    }

    /// The key in `der`: `SubjectPublicKeyInfo` or `RSAPublicKey`.
    ///
    /// # Errors
    /// [`KeyError::NotRsa`] if it is not an RSA key of 2048 to 8192 bits.
    pub fn from_der(der: Vec<u8>) -> Result<Self, KeyError> {
        // A signature check against a key that cannot be parsed fails; parse it once here so a
        // bad key is refused when it is read, not on every URL.
        // `RSAPublicKey` (what a private key gives), else `SubjectPublicKeyInfo` (a PEM file).
        let bits = aws_lc_rs::signature::RsaParameters::public_modulus_len(&der)
            .ok()
            .or_else(|| {
                aws_lc_rs::rsa::PublicEncryptingKey::from_der(&der)
                    .ok()
                    .and_then(|key| u32::try_from(key.key_size_bits()).ok())
            })
            .ok_or(KeyError::NotRsa)?;
        if !(2048..=8192).contains(&bits) {
            return Err(KeyError::NotRsa);
        }
        Ok(Self { der })
    }

    /// Whether `signature` is this key's RSASSA-PKCS1-v1_5 signature of `message` over SHA-256.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.der)
            .verify(message, signature)
            .is_ok()
    }
}

/// The DER of the `-----BEGIN {label}-----` block of `pem`, or `None` if there is none.
fn pem_block(pem: &str, label: &str) -> Result<Option<Vec<u8>>, KeyError> {
    use base64::Engine;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let Some(start) = pem.find(&begin) else {
        return Ok(None);
    };
    let body = &pem[start + begin.len()..];
    let body = &body[..body.find(&end).ok_or(KeyError::BadBase64)?];
    let text: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map(Some)
        .map_err(|_| KeyError::BadBase64)
}
