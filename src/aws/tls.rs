//! Which certificate authorities the AWS clients trust.
//!
//! The Lambda functions call S3, DynamoDB and SQS at AWS endpoints only, and every AWS endpoint's
//! certificate is issued by Amazon Trust Services. So they trust its five roots, compiled in
//! (`amazon-trust-services-roots.pem`), rather than the system's store: a smaller set of CAs that
//! could vouch for a forged endpoint, and a faster cold start (no reading and parsing of the
//! system's ~150 roots before the first `next`; about 3 ms on Debian, where they are a directory
//! of files, about 1 ms with one bundle file; `just bench-cold-start`). Programs that run on a
//! developer's machine against whatever endpoints it names (the local server, provisioning) keep
//! the system's store, as does the JWKS client of `AUTH_*` token verification (`src/auth/`), which
//! a deployment behind API Gateway's authorizer does not build.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// Amazon Root CA 1 to 4 and Starfield Services Root Certificate Authority - G2, as PEM.
pub const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("amazon-trust-services-roots.pem");

/// The roots of trust of an AWS client's TLS connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Roots {
    /// Amazon Trust Services' roots only (see the module documentation): the Lambda functions.
    AmazonTrustServices,
    /// The system's store, as the SDK's default client: programs on a developer's machine.
    System,
}

impl Roots {
    /// The HTTP client for the SDK to use, or `None` for the SDK's default (the system's store).
    pub fn http_client(self) -> Option<SharedHttpClient> {
        match self {
            Self::AmazonTrustServices => Some(https_client(AMAZON_TRUST_SERVICES_ROOTS)),
            Self::System => None,
        }
    }
}

/// The SDK's default HTTPS client (hyper 1, rustls on aws-lc-rs, proxies from the environment,
/// as `aws-smithy-runtime`'s `default_https_client` builds it) trusting only the certificates in
/// `roots_pem`.
///
/// The PEM is parsed (and a bad one panics, in the SDK) when a client is built with it, at init;
/// `AMAZON_TRUST_SERVICES_ROOTS` is checked by this module's tests.
pub fn https_client(roots_pem: &'static str) -> SharedHttpClient {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(roots_pem.as_bytes());
    // Building a context fails only for bad additional server names, of which there are none.
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a TLS context without additional server names");
    // `build_with_connector_fn` (documented as hidden) is what the SDK's own default client is
    // built with; the public `build_https` would drop the proxy settings of the environment. It
    // caches one connector (and its connection pool) per connector settings, as the default does.
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const TEST_CA: &str = include_str!("../../fixtures/tls/test-ca.pem");
    const SERVER_CHAIN: &str = include_str!("../../fixtures/tls/localhost.pem");
    const SERVER_KEY: &str = include_str!("../../fixtures/tls/localhost.key");

    /// The DER certificates of a PEM bundle.
    fn certificates(pem: &str) -> Vec<Vec<u8>> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .map(|cert| cert.expect("a PEM certificate").to_vec())
            .collect()
    }

    #[test]
    fn the_compiled_in_roots_are_the_five_of_amazon_trust_services() {
        let certs = certificates(AMAZON_TRUST_SERVICES_ROOTS);
        assert_eq!(certs.len(), 5);
        let names = [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ];
        for (cert, name) in certs.iter().zip(names) {
            // The subject's common name is in the DER as its UTF-8 or printable string.
            assert!(
                cert.windows(name.len()).any(|w| w == name.as_bytes()),
                "expected {name}"
            );
            // Each parses as a trust anchor rustls accepts.
            let mut store = rustls::RootCertStore::empty();
            store
                .add(cert.clone().into())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    /// A TLS server on 127.0.0.1 with the test CA's certificate, answering every request with
    /// DynamoDB's reply to ListTables (no tables). Returns its port; it serves until the test ends.
    async fn tls_server() -> u16 {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_slice_iter(SERVER_CHAIN.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("the test chain");
        let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).expect("the test key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("the test certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let port = listener.local_addr().expect("its address").port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A refused handshake ends here; a completed one gets the reply.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let body = br#"{"TableNames":[]}"#;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = tls.write_all(head.as_bytes()).await;
                    let _ = tls.write_all(body).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        port
    }

    type ListTablesResult = Result<
        Vec<String>,
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::list_tables::ListTablesError,
        >,
    >;

    /// ListTables at `https://localhost:port` through `client` (the SDK's default if `None`), with
    /// one attempt.
    async fn list_tables(client: Option<SharedHttpClient>, port: u16) -> ListTablesResult {
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_credential_types::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .endpoint_url(format!("https://localhost:{port}"));
        if let Some(client) = client {
            config = config.http_client(client);
        }
        let output = aws_sdk_dynamodb::Client::from_conf(config.build())
            .list_tables()
            .send()
            .await?;
        Ok(output.table_names.unwrap_or_default())
    }

    /// A call refused at the TLS handshake: the certificate's issuer is not trusted.
    fn assert_refused(result: ListTablesResult) {
        let error =
            result.expect_err("a certificate from outside Amazon Trust Services is refused");
        let chain =
            std::iter::successors(Some(&error as &(dyn std::error::Error + 'static)), |e| {
                e.source()
            })
            .map(|e| format!("{e:?}"))
            .collect::<Vec<_>>()
            .join(" <- ");
        assert!(
            matches!(error, aws_sdk_dynamodb::error::SdkError::DispatchFailure(_)),
            "{chain}"
        );
        assert!(chain.contains("UnknownIssuer"), "{chain}");
    }

    #[tokio::test]
    async fn the_lambda_client_refuses_a_certificate_not_issued_under_amazon_roots() {
        let port = tls_server().await;
        // The same client trusting the test CA gets its answer: the server and the call work.
        let tables = list_tables(Some(https_client(TEST_CA)), port)
            .await
            .expect("the client trusting the test CA completes the call");
        assert!(tables.is_empty());
        // The Lambda functions' client refuses the handshake: the certificate is not under its roots.
        assert_refused(list_tables(Roots::AmazonTrustServices.http_client(), port).await);
    }

    /// Set in the process `the_lambda_client_ignores_the_system_store` starts.
    const CHILD: &str = "IMAGE_UPLOAD_TLS_TEST_CHILD";

    /// The system's store is read once a process (the SDK caches it), so this test runs again in
    /// a process of its own whose store is the test CA alone (`SSL_CERT_FILE`): there the SDK's
    /// default client, as the local programs use it, completes the call, and the Lambda
    /// functions' client still refuses it. So the refusal above comes from the Lambda client's
    /// own roots, not from a store that happens to lack the test CA.
    #[tokio::test]
    async fn the_lambda_client_ignores_the_system_store() {
        if std::env::var_os(CHILD).is_none() {
            let test = "aws::tls::tests::the_lambda_client_ignores_the_system_store";
            let test_ca = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tls/test-ca.pem");
            let no_proxy = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];
            let output = std::process::Command::new(std::env::current_exe().expect("the binary"))
                .args(["--exact", test, "--nocapture"])
                .env(CHILD, "1")
                .env("SSL_CERT_FILE", test_ca)
                .env_remove("SSL_CERT_DIR")
                .envs(no_proxy.map(|name| (name, "")))
                .output()
                .expect("running the test in a process of its own");
            let log = String::from_utf8_lossy(&output.stdout);
            let errors = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{log}{errors}");
            // The child ran the test (not zero tests, by a wrong name).
            assert!(log.contains("1 passed"), "{log}");
            return;
        }
        assert!(Roots::System.http_client().is_none());
        let port = tls_server().await;
        let tables = list_tables(Roots::System.http_client(), port)
            .await
            .expect("the system's store, here the test CA alone, trusts the server");
        assert!(tables.is_empty());
        assert_refused(list_tables(Roots::AmazonTrustServices.http_client(), port).await);
    }
}
