//! The CDN's signing key pair, read from PEM: the private key to sign, the public key (X.509
//! `SubjectPublicKeyInfo`, what CloudFront is given) to check.
//!
//! CloudFront takes two kinds of key for signed URLs, and both are read:
//! - **ECDSA P-256** (what `just deploy` makes): PKCS #8 (`openssl genpkey`) or SEC 1 (`EC PRIVATE
//!   KEY`, `openssl ecparam -genkey`); the signature is ECDSA over SHA-256, DER-encoded, as AWS's
//!   JavaScript signer (`@aws-sdk/cloudfront-signer`) makes it with such a key. Signed with
//!   RFC 6979's deterministic nonce (`p256`), so that every process signs the same policy the same
//!   way, as RSA PKCS #1 v1.5 does; checked with aws-lc-rs.
//! - **RSA**, 2048 to 8192 bits: PKCS #8 or PKCS #1 (`RSA PRIVATE KEY`, `openssl genrsa` before
//!   OpenSSL 3); RSASSA-PKCS1-v1_5 over SHA-256. About 250 µs a signature at 2048 bits.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, KeyPair, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::Signer;
use p256::pkcs8::DecodePrivateKey;

/// The object identifier of the P-256 curve (`prime256v1`, `secp256r1`).
const P256_OID: &str = "1.2.840.10045.3.1.7";

/// Why a key could not be read. Never says anything of the key's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is not PEM (no -----BEGIN {0}----- block)")]
    NotPem(&'static str),
    #[error("the PEM block's base64 does not decode")]
    BadBase64,
    #[error("the key is neither an ECDSA P-256 key nor an RSA key of 2048 to 8192 bits")]
    Unsupported,
}

/// The kind of a CDN key, and so of its signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on P-256 over SHA-256, the signature DER-encoded.
    EcdsaP256,
    /// RSASSA-PKCS1-v1_5 over SHA-256, of a key of this many bits.
    Rsa { bits: usize },
}

enum Pair {
    Ecdsa(Box<SigningKey>),
    Rsa(RsaKeyPair),
}

/// A private key that signs CDN URLs.
pub struct PrivateKey {
    pair: Pair,
    rng: SystemRandom,
}

impl std::fmt::Debug for PrivateKey {
    // The key itself is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind() {
            KeyKind::EcdsaP256 => write!(f, "PrivateKey(ECDSA P-256)"),
            KeyKind::Rsa { bits } => write!(f, "PrivateKey(RSA {bits} bits)"),
        }
    }
}

impl PrivateKey {
    /// The key in `pem`: a `PRIVATE KEY` (PKCS #8) block of an ECDSA P-256 or RSA key, an
    /// `EC PRIVATE KEY` (SEC 1) block of a P-256 key, or an `RSA PRIVATE KEY` (PKCS #1) block.
    ///
    /// # Errors
    /// [`KeyError`] for anything else: another curve or kind, an RSA key outside 2048 to 8192
    /// bits.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pair = if let Some(der) = pem_block(pem, "PRIVATE KEY")? {
            RsaKeyPair::from_pkcs8(&der)
                .map(Pair::Rsa)
                .ok()
                .or_else(|| {
                    SigningKey::from_pkcs8_der(&der)
                        .ok()
                        .map(|key| Pair::Ecdsa(Box::new(key)))
                })
        } else if let Some(der) = pem_block(pem, "EC PRIVATE KEY")? {
            // The curve must be named, and be P-256: a key that names none would be read as
            // P-256 whatever curve it was made on.
            let named_p256 = sec1::EcPrivateKey::try_from(der.as_slice())
                .ok()
                .and_then(|key| key.parameters)
                .and_then(sec1::EcParameters::named_curve)
                .is_some_and(|oid| oid.to_string() == P256_OID);
            named_p256
                .then(|| p256::SecretKey::from_sec1_der(&der).ok())
                .flatten()
                .map(|secret| Pair::Ecdsa(Box::new(SigningKey::from(secret))))
        } else if let Some(der) = pem_block(pem, "RSA PRIVATE KEY")? {
            RsaKeyPair::from_der(&der).map(Pair::Rsa).ok()
        } else {
            return Err(KeyError::NotPem("PRIVATE KEY"));
        }
        .ok_or(KeyError::Unsupported)?;
        Ok(Self {
            pair,
            rng: SystemRandom::new(),
        })
    }

    pub fn kind(&self) -> KeyKind {
        match &self.pair {
            Pair::Ecdsa(_) => KeyKind::EcdsaP256,
            Pair::Rsa(pair) => KeyKind::Rsa {
                bits: pair.public_modulus_len() * 8,
            },
        }
    }

    /// The signature of `message` over SHA-256, as [`KeyKind`] says.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &self.pair {
            Pair::Ecdsa(key) => {
                let signature: p256::ecdsa::DerSignature = key.sign(message);
                signature.as_bytes().to_vec()
            }
            Pair::Rsa(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                // Signing with a valid key into a buffer of the modulus' length does not fail.
                pair.sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
                    .expect("RSA signing with a parsed key");
                signature
            }
        }
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        let (kind, der) = match &self.pair {
            // The uncompressed point (SEC 1).
            Pair::Ecdsa(key) => (
                self.kind(),
                key.verifying_key().to_sec1_point(false).as_bytes().to_vec(),
            ),
            // `RSAPublicKey` (RFC 8017).
            Pair::Rsa(pair) => (self.kind(), pair.public_key().as_ref().to_vec()),
        };
        PublicKey { kind, der }
    }
}

/// A public key that checks CDN URLs. Equality compares encodings: one key read from a private
/// key (the SEC 1 point, `RSAPublicKey`) and from a PEM file (`SubjectPublicKeyInfo`) differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    kind: KeyKind,
    der: Vec<u8>,
}

impl PublicKey {
    /// The key in `pem`'s `PUBLIC KEY` block (X.509 `SubjectPublicKeyInfo`).
    ///
    /// # Errors
    /// [`KeyError`] if there is no such block or it holds a key of another kind.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let der = pem_block(pem, "PUBLIC KEY")?.ok_or(KeyError::NotPem("PUBLIC KEY"))?;
        Self::from_der(der)
    }

    /// The key in `der`: an RSA key (`SubjectPublicKeyInfo` or `RSAPublicKey`) of 2048 to 8192
    /// bits, or a P-256 key (`SubjectPublicKeyInfo` or the SEC 1 point).
    ///
    /// # Errors
    /// [`KeyError::Unsupported`] for anything else.
    pub fn from_der(der: Vec<u8>) -> Result<Self, KeyError> {
        // A signature check against a key that cannot be parsed fails; parse it once here so a
        // bad key is refused when it is read, not on every URL.
        // `RSAPublicKey` (what a private key gives), else `SubjectPublicKeyInfo` (a PEM file).
        let rsa_bits = aws_lc_rs::signature::RsaParameters::public_modulus_len(&der)
            .ok()
            .or_else(|| {
                aws_lc_rs::rsa::PublicEncryptingKey::from_der(&der)
                    .ok()
                    .and_then(|key| u32::try_from(key.key_size_bits()).ok())
            });
        let kind = match rsa_bits {
            Some(bits) if (2048..=8192).contains(&bits) => KeyKind::Rsa {
                bits: bits as usize,
            },
            Some(_) => return Err(KeyError::Unsupported),
            None if ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &der).is_ok() => {
                KeyKind::EcdsaP256
            }
            None => return Err(KeyError::Unsupported),
        };
        Ok(Self { kind, der })
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// Whether `signature` is this key's signature of `message` over SHA-256, as its
    /// [`KeyKind`] says.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let algorithm: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match self.kind {
            KeyKind::EcdsaP256 => &ECDSA_P256_SHA256_ASN1,
            KeyKind::Rsa { .. } => &RSA_PKCS1_2048_8192_SHA256,
        };
        aws_lc_rs::signature::UnparsedPublicKey::new(algorithm, &self.der)
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
