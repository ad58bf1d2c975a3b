//! A CA service seen from this computer, step by step: the address (DNS), a TCP
//! connection, the TLS handshake (the certificate's names and expiry, whether it is
//! trusted), the protocol (`/health`), the service's clock (`/time`) and the proxy
//! the environment names. Each step says how far it got, so "the CA is unreachable"
//! becomes which step failed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::service::ServiceClient;

/// How long each network step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(8);

/// What the service probe saw.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServiceInfo {
    /// The service URL as configured.
    pub url: String,
    /// The CA it serves (directory name), if it came from the directory.
    pub ca: Option<String>,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Addresses the name resolved to.
    pub addresses: Vec<String>,
    /// Why the name did not resolve.
    pub dns_error: Option<String>,
    /// The proxy the environment names for this URL (credentials removed), when one
    /// is used.
    pub proxy: Option<String>,
    /// A TCP connection was made (directly; not tried through a proxy).
    pub tcp_connected: Option<bool>,
    /// Why the TCP connection failed.
    pub tcp_error: Option<String>,
    /// TCP connect time, milliseconds.
    pub tcp_ms: Option<u64>,
    /// The TLS certificate's names (subjectAltName DNS names and addresses).
    pub tls_names: Vec<String>,
    /// The TLS certificate's notAfter, RFC 3339.
    pub tls_not_after: Option<String>,
    /// The TLS certificate's issuer.
    pub tls_issuer: Option<String>,
    /// The handshake completed with a trusted certificate for this name.
    pub tls_trusted: Option<bool>,
    /// Why TLS failed.
    pub tls_error: Option<String>,
    /// `/health` answered protocol v1: the service's status.
    pub health: Option<String>,
    /// The service's version from `/health`.
    pub version: Option<String>,
    /// Why `/health` failed (stable code and text).
    pub api_error: Option<String>,
    /// The service's clock minus this computer's, seconds (from `/time`).
    pub clock_skew_s: Option<i64>,
}

/// The host and port of a service URL (already checked by [`crate::service::api_base`]).
fn host_port(url: &str) -> Option<(String, u16, bool)> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let https = scheme == "https";
    let default = if https { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = after.strip_prefix(':').map(str::parse).transpose().ok()?;
        (h.to_string(), port.unwrap_or(default))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), default),
        }
    };
    Some((host, port, https))
}

fn loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The proxy the environment names for `https`/`http` to `host`, without credentials;
/// `None` when none applies (NO_PROXY, or the service is on this computer).
pub fn proxy_for(host: &str, https: bool, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if loopback(host) {
        return None;
    }
    let get = |k: &str| {
        env(k)
            .or_else(|| env(&k.to_ascii_lowercase()))
            .filter(|v| !v.is_empty())
    };
    if let Some(no) = get("NO_PROXY") {
        let h = host.to_ascii_lowercase();
        let skip = no.split(',').map(str::trim).any(|d| {
            let d = d.trim_start_matches('.').to_ascii_lowercase();
            d == "*" || (!d.is_empty() && (h == d || h.ends_with(&format!(".{d}"))))
        });
        if skip {
            return None;
        }
    }
    let raw = if https {
        get("HTTPS_PROXY").or_else(|| get("ALL_PROXY"))
    } else {
        get("HTTP_PROXY").or_else(|| get("ALL_PROXY"))
    }?;
    Some(without_credentials(&raw))
}

/// A proxy URL without its user and password.
fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://{host}"),
            None => url.to_string(),
        },
        None => match url.rsplit_once('@') {
            Some((_, host)) => host.to_string(),
            None => url.to_string(),
        },
    }
}

/// Keeps the server's certificate while the real verifier judges it.
#[derive(Debug)]
struct Capture {
    inner: Arc<dyn ServerCertVerifier>,
    seen: Mutex<Option<Vec<u8>>>,
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(end_entity.to_vec());
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn verifier(tls_roots: Option<&Path>) -> Result<Arc<dyn ServerCertVerifier>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    match tls_roots {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(&pem).flatten() {
                roots.add(c).map_err(|e| e.to_string())?;
            }
            if roots.is_empty() {
                return Err(format!("{}: no PEM certificate", path.display()));
            }
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map(|v| v as Arc<dyn ServerCertVerifier>)
                .map_err(|e| e.to_string())
        }
        None => rustls_platform_verifier::Verifier::new(provider)
            .map(|v| Arc::new(v) as Arc<dyn ServerCertVerifier>)
            .map_err(|e| e.to_string()),
    }
}

/// The TLS handshake on `tcp` for `host`: fills the TLS fields of `info`.
fn tls(info: &mut ServiceInfo, tcp: TcpStream, host: &str, tls_roots: Option<&Path>) {
    let inner = match verifier(tls_roots) {
        Ok(v) => v,
        Err(e) => {
            info.tls_error = Some(e);
            return;
        }
    };
    let capture = Arc::new(Capture {
        inner,
        seen: Mutex::new(None),
    });
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|b| {
        b.dangerous()
            .with_custom_certificate_verifier(capture.clone())
            .with_no_client_auth()
    });
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            info.tls_error = Some(e.to_string());
            return;
        }
    };
    let name = match ServerName::try_from(host.to_string()) {
        Ok(n) => n,
        Err(e) => {
            info.tls_error = Some(e.to_string());
            return;
        }
    };
    let result = rustls::ClientConnection::new(Arc::new(config), name).and_then(|conn| {
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).map_err(|e| {
                // rustls reports its own errors inside the io::Error.
                match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    Some(r) => r.clone(),
                    None => rustls::Error::General(e.to_string()),
                }
            })?;
        }
        stream.conn.send_close_notify();
        let _ = stream.flush();
        let _ = stream.read(&mut [0u8; 1]);
        Ok(())
    });
    let seen = capture.seen.lock().ok().and_then(|s| s.clone());
    if let Some(der) = seen {
        if let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) {
            info.tls_not_after = cert
                .validity()
                .not_after
                .to_datetime()
                .format(&time::format_description::well_known::Rfc3339)
                .ok();
            info.tls_issuer = Some(cert.issuer().to_string());
            if let Ok(Some(san)) = cert.subject_alternative_name() {
                for n in &san.value.general_names {
                    match n {
                        x509_parser::extensions::GeneralName::DNSName(d) => {
                            info.tls_names.push((*d).to_string())
                        }
                        x509_parser::extensions::GeneralName::IPAddress(ip) => {
                            let text = match ip.len() {
                                4 => <[u8; 4]>::try_from(*ip)
                                    .map(|b| std::net::IpAddr::from(b).to_string())
                                    .ok(),
                                16 => <[u8; 16]>::try_from(*ip)
                                    .map(|b| std::net::IpAddr::from(b).to_string())
                                    .ok(),
                                _ => None,
                            };
                            info.tls_names.extend(text);
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    match result {
        Ok(()) => info.tls_trusted = Some(true),
        Err(e) => {
            info.tls_trusted = Some(false);
            info.tls_error = Some(e.to_string());
        }
    }
}

/// Probes the service at `url` (`tls_roots`: PEM roots instead of the system's).
pub fn probe(url: &str, ca: Option<&str>, tls_roots: Option<&Path>) -> ServiceInfo {
    let mut info = ServiceInfo {
        url: url.to_string(),
        ca: ca.map(str::to_string),
        ..ServiceInfo::default()
    };
    if let Err(e) = crate::service::api_base(url) {
        info.api_error = Some(e.to_string());
        return info;
    }
    let Some((host, port, https)) = host_port(url) else {
        info.api_error = Some("the URL names no host".into());
        return info;
    };
    info.host = host.clone();
    info.port = port;
    info.proxy = proxy_for(&host, https, &|k| std::env::var(k).ok());
    let addrs: Vec<SocketAddr> = match (host.as_str(), port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            info.dns_error = Some(e.to_string());
            Vec::new()
        }
    };
    info.addresses = addrs.iter().map(|a| a.ip().to_string()).collect();
    if !addrs.is_empty() && info.proxy.is_none() {
        let start = Instant::now();
        let mut last = None;
        let mut connected = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, STEP_TIMEOUT) {
                Ok(s) => {
                    connected = Some(s);
                    break;
                }
                Err(e) => last = Some(e.to_string()),
            }
        }
        info.tcp_ms = Some(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX));
        info.tcp_connected = Some(connected.is_some());
        info.tcp_error = if connected.is_some() { None } else { last };
        if let (Some(tcp), true) = (connected, https) {
            let _ = tcp.set_read_timeout(Some(STEP_TIMEOUT));
            let _ = tcp.set_write_timeout(Some(STEP_TIMEOUT));
            tls(&mut info, tcp, &host, tls_roots);
        }
    }
    let reachable = info.dns_error.is_none()
        && (info.proxy.is_some() || info.tcp_connected == Some(true))
        && info.tls_trusted != Some(false);
    if reachable {
        match ServiceClient::new(url, tls_roots).and_then(|c| {
            let health = c.health()?;
            let before = OffsetDateTime::now_utc();
            let t = c.time()?;
            let after = OffsetDateTime::now_utc();
            let local: OffsetDateTime = before + (after - before) / 2;
            Ok((health, t, local))
        }) {
            Ok((health, t, local)) => {
                info.health = Some(health.status);
                info.version = Some(health.version).filter(|v| !v.is_empty());
                let skew: time::Duration = t.time - local;
                info.clock_skew_s = Some(skew.whole_seconds());
            }
            Err(e) => info.api_error = Some(format!("{}: {e}", e.code())),
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_and_port() {
        assert_eq!(
            host_port("https://ca.example.cn"),
            Some(("ca.example.cn".into(), 443, true))
        );
        assert_eq!(
            host_port("http://127.0.0.1:8080/x"),
            Some(("127.0.0.1".into(), 8080, false))
        );
        assert_eq!(
            host_port("https://[::1]:9443"),
            Some(("::1".into(), 9443, true))
        );
        assert_eq!(host_port("https://h:notaport"), None);
    }

    #[test]
    fn the_proxy_follows_the_environment_without_credentials() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let with = env(&[("HTTPS_PROXY", "http://user:secret@proxy.corp:3128")]);
        assert_eq!(
            proxy_for("ca.example.cn", true, &with).as_deref(),
            Some("http://proxy.corp:3128")
        );
        assert_eq!(
            proxy_for("127.0.0.1", true, &with),
            None,
            "never for this computer"
        );
        assert_eq!(
            proxy_for("ca.example.cn", false, &with),
            None,
            "http uses HTTP_PROXY"
        );
        let no = env(&[("https_proxy", "proxy:8080"), ("no_proxy", ".example.cn")]);
        assert_eq!(proxy_for("ca.example.cn", true, &no), None);
        assert_eq!(
            proxy_for("other.cn", true, &no).as_deref(),
            Some("proxy:8080")
        );
    }
}
