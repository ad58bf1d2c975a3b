//! The CA online service client: protocol v1 of shared/DESIGN.md over HTTPS (plain
//! HTTP only for a loopback address), blocking, with timeouts. Every service error
//! becomes [`Error::Service`] with the service's own code and fields; an unreachable
//! service is [`Error::Network`]; an answer that is not protocol v1 is
//! [`Error::ServiceResponse`].

use std::path::Path;
use std::time::Duration;

use certkey_protocol::v1::{
    self, ActivationLookupRequest, ActivationLookupResponse, ActivationRequest, ActivationResponse,
    CaCerts, CertificateRequest, IssuedCertificate, RenewalChallenge, RenewalChallengeRequest,
    RenewalQuote, RenewalRequest, SealRequest, SealResponse, UnlockConfirm, UnlockRequest,
    UnlockStatus, UnlockTicket,
};
use certkey_protocol::{AttachmentInfo, AttachmentUpload, ErrorBody};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Error, Result};

/// Largest answer read from the service (certificates and seals are far smaller).
const MAX_ANSWER: u64 = 4 << 20;

/// A client for one CA service.
#[derive(Clone)]
pub struct ServiceClient {
    base: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceClient")
            .field("base", &self.base)
            .finish()
    }
}

fn invalid_url(url: &str, reason: &str) -> Error {
    Error::InvalidArgument {
        name: "service URL".into(),
        reason: format!("{url}: {reason}"),
    }
}

/// Checks a service URL: `https://host[:port][/path]`, or `http://` to a loopback
/// address only. Returns the API base (`.../api/v1`).
pub fn api_base(url: &str) -> Result<String> {
    Ok(checked(url)?.0)
}

/// [`api_base`], and whether the host is this computer (loopback).
fn checked(url: &str) -> Result<(String, bool)> {
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid_url(url, "expected https://host[:port]"))?;
    if rest.is_empty() || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid_url(url, "no host"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // No user info, no backslashes: the host checked must be the host connected to.
    if authority.is_empty() || authority.contains(['@', '\\']) {
        return Err(invalid_url(url, "expected https://host[:port]"));
    }
    let host = host_of(authority);
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match scheme {
        "https" => {}
        "http" => {
            if !loopback {
                return Err(invalid_url(
                    url,
                    "plain http is only allowed to this computer (127.0.0.1, ::1, localhost); use https",
                ));
            }
        }
        _ => {
            return Err(invalid_url(
                url,
                "the scheme must be https (or http to 127.0.0.1)",
            ))
        }
    }
    let base = if url.ends_with(v1::PREFIX) {
        url.to_string()
    } else {
        format!("{url}{}", v1::PREFIX)
    };
    Ok((base, loopback))
}

/// The host of `host[:port]` or `[v6]:port`.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    authority.split(':').next().unwrap_or_default()
}

impl ServiceClient {
    /// A client for the service at `url` (see [`api_base`]). `ca_file` (PEM) replaces
    /// the system's trusted roots for TLS, for a CA service with its own TLS CA.
    ///
    /// No downgrade: redirects are never followed (a 3xx answer is an error), an https
    /// service is spoken to over https only, and a service on this computer is never
    /// reached through a proxy (a proxy from the environment would see its traffic).
    pub fn new(url: &str, ca_file: Option<&Path>) -> Result<Self> {
        use ureq::tls::{Certificate, RootCerts, TlsConfig};
        let (base, loopback) = checked(url)?;
        let https = base.starts_with("https://");
        let roots = match ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
                let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
                    .filter_map(|item| match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                        _ => None,
                    })
                    .collect();
                if certs.is_empty() {
                    return Err(Error::ConfigInvalid {
                        path: path.display().to_string(),
                        reason: "no PEM certificate in the file".into(),
                    });
                }
                RootCerts::new_with_certs(&certs)
            }
            None => RootCerts::PlatformVerifier,
        };
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .max_redirects(0)
            .https_only(https)
            .proxy(if loopback {
                None
            } else {
                ureq::Proxy::try_from_env()
            })
            .user_agent(concat!("certkey/", env!("CARGO_PKG_VERSION")))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build();
        Ok(ServiceClient {
            base,
            agent: config.into(),
        })
    }

    /// The API base URL (`.../api/v1`).
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn answer<T: DeserializeOwned>(
        &self,
        url: &str,
        result: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T> {
        let mut resp = result.map_err(|e| Error::Network {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| Error::Network {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&body).map_err(|e| Error::ServiceResponse {
                reason: format!("{url}: {e}"),
            });
        }
        if (300..400).contains(&status) {
            let to = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?")
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>();
            return Err(Error::ServiceResponse {
                reason: format!(
                    "{url}: the service redirects to {to} (HTTP {status}); redirects are not followed: configure the service's final address"
                ),
            });
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(ErrorBody { error }) => Err(Error::Service {
                status,
                service_code: error.code,
                message: error.message,
                attempts_left: error.attempts_left,
                retry_after_s: error.retry_after_s,
                days_left: error.days_left,
                paid_years: error.paid_years.and_then(|y| u8::try_from(y).ok()),
                existing_seal: error.seal.map(|b| b.0),
            }),
            Err(_) => Err(Error::ServiceResponse {
                reason: format!("{url}: HTTP {status} without a protocol error body"),
            }),
        }
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let url = self.url(path);
        let r = self.agent.get(&url).call();
        self.answer(&url, r)
    }

    fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let url = self.url(path);
        let json = serde_json::to_vec(body).map_err(|e| Error::InvalidArgument {
            name: "request".into(),
            reason: e.to_string(),
        })?;
        let r = self
            .agent
            .post(&url)
            .header("content-type", "application/json")
            .send(&json[..]);
        self.answer(&url, r)
    }

    /// The API base URL (`.../api/v1`) this client speaks to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /health`.
    pub fn health(&self) -> Result<v1::Health> {
        self.get("/health")
    }

    /// `GET /time`.
    pub fn time(&self) -> Result<v1::ServerTime> {
        self.get("/time")
    }

    /// `GET /cacerts`.
    pub fn cacerts(&self) -> Result<CaCerts> {
        self.get("/cacerts")
    }

    /// `POST /activation/lookup`.
    pub fn activation_lookup(&self, token_serial: &str) -> Result<ActivationLookupResponse> {
        self.post(
            "/activation/lookup",
            &ActivationLookupRequest {
                token_serial: token_serial.into(),
            },
        )
    }

    /// `POST /activation`.
    pub fn activate(&self, req: &ActivationRequest) -> Result<ActivationResponse> {
        self.post("/activation", req)
    }

    /// `POST /activation/{id}/certificate`.
    pub fn activation_certificate(
        &self,
        activation_id: &str,
        req: &CertificateRequest,
    ) -> Result<IssuedCertificate> {
        if activation_id.is_empty()
            || activation_id.len() > 64
            || !activation_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::ServiceResponse {
                reason: "malformed activation id".into(),
            });
        }
        self.post(&format!("/activation/{activation_id}/certificate"), req)
    }

    /// `POST /renewal/challenge`.
    pub fn renewal_challenge(&self, certificate_serial: &str) -> Result<RenewalChallenge> {
        self.post(
            "/renewal/challenge",
            &RenewalChallengeRequest {
                certificate_serial: certificate_serial.into(),
            },
        )
    }

    /// `POST /renewal`.
    pub fn renew(&self, req: &RenewalRequest) -> Result<IssuedCertificate> {
        self.post("/renewal", req)
    }

    /// `GET /renewal/quote`: whether the certificate (serial, hex) can be renewed
    /// online now, the price of each term, and whether payment is required and on
    /// record. Public information: no PIN, no proof.
    pub fn renewal_quote(&self, certificate_serial: &str) -> Result<RenewalQuote> {
        if certificate_serial.is_empty()
            || certificate_serial.len() > 40
            || !certificate_serial.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(Error::InvalidArgument {
                name: "certificate serial".into(),
                reason: "hexadecimal, at most 20 bytes".into(),
            });
        }
        self.get(&format!(
            "/renewal/quote?certificate_serial={}",
            certificate_serial.to_ascii_lowercase()
        ))
    }

    /// `POST /unlock`.
    pub fn unlock(&self, req: &UnlockRequest) -> Result<UnlockTicket> {
        self.post("/unlock", req)
    }

    fn ticket_path(ticket: &str) -> Result<String> {
        if ticket.is_empty()
            || ticket.len() > 64
            || !ticket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::InvalidArgument {
                name: "ticket".into(),
                reason: "letters, digits, - and _ only".into(),
            });
        }
        Ok(format!("/unlock/{ticket}"))
    }

    /// `GET /unlock/{ticket}`.
    pub fn unlock_status(&self, ticket: &str) -> Result<UnlockStatus> {
        self.get(&Self::ticket_path(ticket)?)
    }

    /// `POST /unlock/{ticket}/attachments`: one scan for a request under review.
    pub fn unlock_attachment(
        &self,
        ticket: &str,
        upload: &AttachmentUpload,
    ) -> Result<AttachmentInfo> {
        self.post(
            &format!("{}/attachments", Self::ticket_path(ticket)?),
            upload,
        )
    }

    /// `POST /unlock/{ticket}/confirm`.
    pub fn unlock_confirm(&self, ticket: &str, req: &UnlockConfirm) -> Result<serde_json::Value> {
        self.post(&format!("{}/confirm", Self::ticket_path(ticket)?), req)
    }

    /// `POST /seal`.
    pub fn seal(&self, req: &SealRequest) -> Result<SealResponse> {
        self.post("/seal", req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert_eq!(
            api_base("https://ca.example.cn").unwrap(),
            "https://ca.example.cn/api/v1"
        );
        assert_eq!(
            api_base("https://ca.example.cn:8443/api/v1/").unwrap(),
            "https://ca.example.cn:8443/api/v1"
        );
        assert_eq!(
            api_base("http://127.0.0.1:8443").unwrap(),
            "http://127.0.0.1:8443/api/v1"
        );
        assert!(api_base("http://[::1]:8443").is_ok());
        assert!(api_base("http://localhost").is_ok());
        for bad in [
            "http://ca.example.cn",
            "http://127.0.0.1.evil.cn",
            "ftp://127.0.0.1",
            "ca.example.cn",
            "https://",
            "https://a b",
            "http://evil.example?@127.0.0.1",
            "http://evil.example#@127.0.0.1",
            "http://user@127.0.0.1",
            "http://evil.example\\@127.0.0.1",
        ] {
            assert!(
                matches!(api_base(bad), Err(Error::InvalidArgument { .. })),
                "{bad}"
            );
        }
    }
}
