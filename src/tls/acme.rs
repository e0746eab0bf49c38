//! Getting a certificate from an ACME CA (RFC 8555) for one domain: the
//! account (created once, kept in the data directory), an order, the
//! challenge answered on our own ports (HTTP-01 on the HTTP port, TLS-ALPN-01
//! through the certificate resolver), then the key and chain.

use std::sync::Arc;
use std::time::Duration;

use instant_acme::{
    Account, AuthorizationStatus, CertificateIdentifier, ChallengeType, Identifier, NewAccount, NewOrder,
    OrderStatus, RetryPolicy,
};

use super::pem::{self, Certificate};
use super::port80::Http01;
use super::resolver::Resolver;
use super::storage::Storage;
use super::TlsError;
use crate::config::AcmeChallenge;

/// How long the CA gets to validate, and then to issue.
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(90);

pub struct Acme {
    pub directory: String,
    pub email: String,
    pub challenge: AcmeChallenge,
    /// The HTTP port is bound, so HTTP-01 can be answered.
    pub http_port_open: bool,
    pub http: super::client::AcmeHttp,
    pub storage: Storage,
    pub resolver: Arc<Resolver>,
    pub http01: Arc<Http01>,
    /// Restored or created on first use, then kept.
    pub account: tokio::sync::Mutex<Option<Account>>,
}

/// Why an order failed: before the CA looked at us (the directory is down,
/// the account refused), or in validation (where another challenge may work).
enum Failure {
    Setup(TlsError),
    Validation(TlsError),
}

impl Acme {
    fn builder(&self) -> instant_acme::AccountBuilder {
        Account::builder_with_http(Box::new(self.http.clone()))
    }

    /// The account, restored from the data directory or created (once).
    pub async fn account(&self) -> Result<Account, TlsError> {
        let mut cached = self.account.lock().await;
        if let Some(account) = cached.as_ref() {
            return Ok(account.clone());
        }
        let account = match self.storage.account()? {
            Some(credentials) => self.builder().from_credentials(credentials).await?,
            None => {
                let contact = format!("mailto:{}", self.email);
                let new = NewAccount {
                    contact: &[contact.as_str()],
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                };
                let (account, credentials) =
                    self.builder().create(&new, self.directory.clone(), None).await?;
                self.storage.save_account(&credentials)?;
                tracing::info!(directory = %self.directory, account = account.id(), "ACME account created");
                account
            }
        };
        *cached = Some(account.clone());
        Ok(account)
    }

    /// The challenge types to try, in order.
    fn kinds(&self) -> Vec<ChallengeType> {
        match (self.challenge, self.http_port_open) {
            (AcmeChallenge::Auto, true) => vec![ChallengeType::Http01, ChallengeType::TlsAlpn01],
            (AcmeChallenge::Auto, false) | (AcmeChallenge::TlsAlpn01, _) => vec![ChallengeType::TlsAlpn01],
            (AcmeChallenge::Http01, _) => vec![ChallengeType::Http01],
        }
    }

    /// Orders, validates and stores a certificate for `domain`. With `auto`,
    /// a failed HTTP-01 validation is followed by a TLS-ALPN-01 order.
    pub async fn obtain(
        &self,
        domain: &str,
        replaces: Option<&Certificate>,
    ) -> Result<Certificate, TlsError> {
        let account = self.account().await?;
        let mut errors = Vec::new();
        for kind in self.kinds() {
            match self.order(&account, domain, kind.clone(), replaces).await {
                Ok(cert) => return Ok(cert),
                Err(Failure::Setup(e)) => return Err(e),
                Err(Failure::Validation(e)) => {
                    tracing::info!(domain, challenge = ?kind, error = %e, "ACME validation failed");
                    errors.push(format!("{}: {e}", challenge_name(&kind)));
                }
            }
        }
        Err(TlsError::Acme(errors.join("; ")))
    }

    async fn order(
        &self,
        account: &Account,
        domain: &str,
        kind: ChallengeType,
        replaces: Option<&Certificate>,
    ) -> Result<Certificate, Failure> {
        let identifiers = [Identifier::Dns(domain.to_string())];
        let mut new = NewOrder::new(&identifiers);
        // ARI (RFC 9773): say which certificate this one replaces, where the CA supports it.
        let previous = replaces.and_then(certificate_id);
        if let Some(id) = previous.clone() {
            new = new.replaces(id);
        }
        let mut order = match account.new_order(&new).await {
            Err(instant_acme::Error::Unsupported(_)) if previous.is_some() => {
                account.new_order(&NewOrder::new(&identifiers)).await
            }
            other => other,
        }
        .map_err(|e| Failure::Setup(e.into()))?;
        let mut answers = Answers { acme: self, domain: domain.to_string(), tokens: Vec::new() };
        {
            let mut authorizations = order.authorizations();
            while let Some(authorization) = authorizations.next().await {
                let mut authorization = authorization.map_err(|e| Failure::Setup(e.into()))?;
                match authorization.status {
                    AuthorizationStatus::Pending => {}
                    AuthorizationStatus::Valid => continue,
                    other => {
                        return Err(Failure::Validation(TlsError::Acme(format!(
                            "authorization is {other:?}"
                        ))))
                    }
                }
                let mut challenge = authorization.challenge(kind.clone()).ok_or_else(|| {
                    Failure::Validation(TlsError::Acme(format!(
                        "the CA offers no {} challenge",
                        challenge_name(&kind)
                    )))
                })?;
                let key_authorization = challenge.key_authorization();
                match kind {
                    ChallengeType::Http01 => {
                        self.http01.insert(&challenge.token, key_authorization.as_str());
                        answers.tokens.push(challenge.token.clone());
                    }
                    _ => {
                        let cert = alpn_certificate(domain, key_authorization.digest().as_ref())
                            .map_err(Failure::Validation)?;
                        self.resolver.set_challenge(domain, cert);
                    }
                }
                challenge.set_ready().await.map_err(|e| Failure::Validation(e.into()))?;
            }
        }
        let retries = RetryPolicy::new().timeout(VALIDATION_TIMEOUT);
        let status = order.poll_ready(&retries).await.map_err(|e| Failure::Validation(e.into()))?;
        if status != OrderStatus::Ready {
            return Err(Failure::Validation(TlsError::Acme(validation_error(&mut order).await)));
        }
        let key_pem = order.finalize().await.map_err(|e| Failure::Setup(e.into()))?;
        let chain_pem = order.poll_certificate(&retries).await.map_err(|e| Failure::Setup(e.into()))?;
        let cert = pem::parse(chain_pem.as_bytes(), key_pem.as_bytes()).map_err(|e| {
            Failure::Setup(TlsError::Acme(format!("the CA sent an unusable certificate: {e}")))
        })?;
        self.storage.save_certificate(domain, &key_pem, &chain_pem).map_err(Failure::Setup)?;
        Ok(cert)
    }
}

/// The CA's own words on why validation failed.
async fn validation_error(order: &mut instant_acme::Order) -> String {
    let mut reasons = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authorization)) = authorizations.next().await {
        if let Ok(state) = authorization.refresh().await {
            for challenge in &state.challenges {
                if let Some(error) = &challenge.error {
                    reasons.push(error.to_string());
                }
            }
        }
    }
    if reasons.is_empty() {
        "the CA did not validate the domain".into()
    } else {
        reasons.join("; ")
    }
}

fn challenge_name(kind: &ChallengeType) -> &'static str {
    match kind {
        ChallengeType::Http01 => "HTTP-01",
        ChallengeType::TlsAlpn01 => "TLS-ALPN-01",
        ChallengeType::Dns01 => "DNS-01",
        _ => "other",
    }
}

/// Removes the challenge answers of an order when it is done, however it ends.
struct Answers<'a> {
    acme: &'a Acme,
    domain: String,
    tokens: Vec<String>,
}

impl Drop for Answers<'_> {
    fn drop(&mut self) {
        for token in &self.tokens {
            self.acme.http01.remove(token);
        }
        self.acme.resolver.clear_challenge(&self.domain);
    }
}

/// The self-signed certificate a TLS-ALPN-01 validation expects (RFC 8737):
/// the domain as its only name, and the key authorization's SHA-256 in the
/// critical acmeIdentifier extension.
fn alpn_certificate(domain: &str, digest: &[u8]) -> Result<Arc<rustls::sign::CertifiedKey>, TlsError> {
    let failed =
        |e: &dyn std::fmt::Display| TlsError::Acme(format!("cannot make the challenge certificate: {e}"));
    let key = rcgen::KeyPair::generate().map_err(|e| failed(&e))?;
    let mut params = rcgen::CertificateParams::new(vec![domain.to_string()]).map_err(|e| failed(&e))?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let cert = params.self_signed(&key).map_err(|e| failed(&e))?;
    // Not CertifiedKey::from_der: its consistency check parses the certificate
    // with webpki, which refuses the critical acmeIdentifier extension.
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let signing = pem::provider().key_provider.load_private_key(der).map_err(|e| failed(&e))?;
    Ok(Arc::new(rustls::sign::CertifiedKey::new(vec![cert.der().clone()], signing)))
}

/// The ARI identifier of a certificate (authority key id and serial).
pub fn certificate_id(cert: &Certificate) -> Option<CertificateIdentifier<'static>> {
    let leaf = cert.key.cert.first()?;
    CertificateIdentifier::try_from(leaf).ok().map(CertificateIdentifier::into_owned)
}
