//! The CA directory: which CA online service serves which certificates.
//!
//! Entries come from the catalog (`[[ca]]` in the built-in or a user catalog) and from
//! the user's config (`[[ca]]`, same name replaces); each names the issuers whose
//! certificates the CA serves, its service URL and, optionally, the PEM roots of the
//! service's TLS certificate. An operation on a certificate goes to the CA of the
//! certificate's issuer; an activation (no certificate yet) goes to the config's
//! `default_ca`, else to the one CA in the directory that has an order for the key.
//! A service named explicitly (`--service`, `CERTKEY_SERVICE_URL`, the config's
//! `service_url`) wins over the directory. There is no built-in default service: a
//! help-desk PC serving keys of several CAs just lists them.

use std::path::{Path, PathBuf};

use certkey_protocol::v1::OrderState;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::service::{api_base, ServiceClient};
use crate::workflow::token::Token;
use crate::{Error, Result};

/// One CA of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaEntry {
    /// Stable name (`[a-z0-9_-]+`), used by `default_ca`.
    pub name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Chinese display name.
    #[serde(default)]
    pub display_name_zh: String,
    /// Issuer names, RFC 4514 as `certkey info` shows them (`CN=...,O=...,C=CN`), of
    /// the certificates this CA serves.
    #[serde(default)]
    pub issuers: Vec<String>,
    /// The service URL (https, or http to this computer only).
    pub service_url: String,
    /// PEM file with the roots of the service's TLS certificate, instead of the
    /// system's; a relative path is relative to the file that names it.
    #[serde(default)]
    pub tls_roots: Option<String>,
}

impl CaEntry {
    /// Checks the entry; `origin` names the file in errors.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !name_ok {
            return Err(format!("CA name {:?} must be [a-z0-9_-]+", self.name));
        }
        api_base(&self.service_url).map_err(|e| format!("CA {}: {e}", self.name))?;
        Ok(())
    }

    /// Resolves a relative `tls_roots` against the folder of the file that named it.
    pub(crate) fn resolve_paths(&mut self, file: &Path) {
        if let Some(roots) = &self.tls_roots {
            let p = Path::new(roots);
            if p.is_relative() {
                if let Some(dir) = file.parent() {
                    self.tls_roots = Some(dir.join(p).display().to_string());
                }
            }
        }
    }

    /// Whether this CA serves certificates issued by `issuer` (RFC 4514).
    pub fn serves(&self, issuer: &str) -> bool {
        let want = normalise_dn(issuer);
        self.issuers.iter().any(|i| normalise_dn(i) == want)
    }

    /// A client for this CA's service.
    pub fn client(&self) -> Result<ServiceClient> {
        ServiceClient::new(&self.service_url, self.tls_roots.as_deref().map(Path::new))
    }
}

/// Compares DNs as people write them: case and blanks around `,` `=` `+` ignored.
fn normalise_dn(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    let mut pending_space = false;
    for c in dn.trim().chars() {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if matches!(c, ',' | '=' | '+') {
            pending_space = false;
            // Drop the blanks before the separator.
            while out.ends_with(' ') {
                out.pop();
            }
            out.push(c);
            continue;
        }
        if pending_space && !out.is_empty() && !out.ends_with([',', '=', '+']) {
            out.push(' ');
        }
        pending_space = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// An explicitly named service, which wins over the directory.
#[derive(Debug, Clone)]
pub struct Explicit {
    /// Its URL.
    pub url: String,
    /// PEM roots of its TLS certificate.
    pub tls_roots: Option<PathBuf>,
}

/// The CA directory in force.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    entries: Vec<CaEntry>,
    default_ca: Option<String>,
    explicit: Option<Explicit>,
}

impl Directory {
    /// The catalog's entries with the config's merged over them (same name replaces).
    pub fn new(
        catalog: &crate::catalog::Catalog,
        config: &crate::config::Config,
    ) -> Result<Directory> {
        let mut entries: Vec<CaEntry> = catalog.cas().to_vec();
        for e in &config.ca {
            match entries.iter_mut().find(|x| x.name == e.name) {
                Some(slot) => *slot = e.clone(),
                None => entries.push(e.clone()),
            }
        }
        if let Some(d) = &config.default_ca {
            if !entries.iter().any(|e| &e.name == d) {
                return Err(Error::ConfigInvalid {
                    path: config
                        .source
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                    reason: format!("default_ca = {d:?} is not a CA of the directory"),
                });
            }
        }
        Ok(Directory {
            entries,
            default_ca: config.default_ca.clone(),
            explicit: None,
        })
    }

    /// The same directory with an explicitly named service that wins over it.
    pub fn with_explicit(mut self, explicit: Option<Explicit>) -> Directory {
        self.explicit = explicit;
        self
    }

    /// The CAs of the directory.
    pub fn entries(&self) -> &[CaEntry] {
        &self.entries
    }

    /// The explicitly named service, if any.
    pub fn explicit(&self) -> Option<&Explicit> {
        self.explicit.as_ref()
    }

    /// The config's default CA, if it names one.
    pub fn default_entry(&self) -> Option<&CaEntry> {
        let name = self.default_ca.as_ref()?;
        self.entries.iter().find(|e| &e.name == name)
    }

    /// The service for certificates issued by `issuer` (RFC 4514).
    pub fn for_issuer(&self, issuer: &str) -> Result<ServiceClient> {
        if let Some(x) = &self.explicit {
            return ServiceClient::new(&x.url, x.tls_roots.as_deref());
        }
        let serving: Vec<&CaEntry> = self.entries.iter().filter(|e| e.serves(issuer)).collect();
        match serving.as_slice() {
            [one] => one.client(),
            [] => Err(Error::CaUnknown {
                issuer: Some(issuer.to_string()),
            }),
            several => Err(Error::ConfigInvalid {
                path: "CA directory".into(),
                reason: format!(
                    "issuer {issuer} is served by several CAs: {}",
                    several
                        .iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }

    /// The service for the certificates on `token`: the CA of their issuer (public
    /// certificates, no login). Certificates of CAs the directory does not know are
    /// passed over when another one is known.
    pub fn for_token(&self, token: &Token) -> Result<ServiceClient> {
        if let Some(x) = &self.explicit {
            return ServiceClient::new(&x.url, x.tls_roots.as_deref());
        }
        let session = token.session()?;
        let certs =
            crate::workflow::certs::end_entity_certificates(&session, OffsetDateTime::now_utc())?;
        drop(session);
        let mut first_error = None;
        // Longest valid first: after a renewal, the new certificate's CA.
        for c in certs.iter().rev() {
            match self.for_issuer(&c.info.issuer) {
                Ok(s) => return Ok(s),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(Error::NotApplicable {
            reason: "no_certificate".into(),
            days_left: None,
        }))
    }

    /// The service that has an order for the key `token_serial`, for activation:
    /// the explicit service, else the config's `default_ca`, else the one CA of the
    /// directory whose order lookup knows the key.
    pub fn for_activation(&self, token_serial: &str) -> Result<ServiceClient> {
        if let Some(x) = &self.explicit {
            return ServiceClient::new(&x.url, x.tls_roots.as_deref());
        }
        if let Some(d) = &self.default_ca {
            if let Some(e) = self.entries.iter().find(|e| &e.name == d) {
                return e.client();
            }
        }
        match self.entries.as_slice() {
            [] => return Err(Error::CaUnknown { issuer: None }),
            [one] => return one.client(),
            _ => {}
        }
        let mut knowing = Vec::new();
        for e in &self.entries {
            let Ok(client) = e.client() else { continue };
            if client
                .activation_lookup(token_serial)
                .is_ok_and(|o| o.state != OrderState::Completed)
            {
                knowing.push(client);
            }
        }
        match knowing.len() {
            1 => Ok(knowing.remove(0)),
            0 => Err(Error::NotApplicable {
                reason: "no_order".into(),
                days_left: None,
            }),
            _ => Err(Error::ConfigInvalid {
                path: "CA directory".into(),
                reason: format!("several CAs have an order for key {token_serial}"),
            }),
        }
    }

    /// Whether some CA of the directory (or the explicit service) has an open order
    /// for the key: used to tell a new key from others when several are inserted. A CA
    /// that cannot be asked counts as "no".
    pub fn has_order(&self, token_serial: &str) -> bool {
        self.pending_order(token_serial).unwrap_or(false)
    }

    /// Whether some CA has an open order for the key. When none has one and a CA
    /// could not be asked (network, an unexpected answer), that CA's error: the answer
    /// is unknown, not "no".
    pub fn pending_order(&self, token_serial: &str) -> Result<bool> {
        let made: Vec<Result<ServiceClient>> = match &self.explicit {
            Some(x) => vec![ServiceClient::new(&x.url, x.tls_roots.as_deref())],
            None => self.entries.iter().map(CaEntry::client).collect(),
        };
        // An entry that cannot make a client (its own configuration error) is passed
        // over while another can be asked; when none can, the answer is unknown.
        let mut clients = Vec::new();
        let mut broken = None;
        for c in made {
            match c {
                Ok(c) => clients.push(c),
                Err(e) => broken = broken.or(Some(e)),
            }
        }
        if clients.is_empty() {
            return broken.map_or(Ok(false), Err);
        }
        let mut unknown = None;
        for client in clients {
            match client.activation_lookup(token_serial) {
                Ok(o) if o.state != OrderState::Completed => return Ok(true),
                Ok(_) => {}
                // The CA answered: it has no order for this key.
                Err(Error::Service { status, .. }) if status < 500 && status != 429 => {}
                Err(e) => unknown = unknown.or(Some(e)),
            }
        }
        unknown.map_or(Ok(false), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, issuer: &str, url: &str) -> CaEntry {
        CaEntry {
            name: name.into(),
            display_name: String::new(),
            display_name_zh: String::new(),
            issuers: vec![issuer.into()],
            service_url: url.into(),
            tls_roots: None,
        }
    }

    #[test]
    fn an_unreachable_ca_makes_the_order_unknown_not_absent() {
        // A port nothing listens on, on loopback: the connection is refused.
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", free.local_addr().unwrap());
        drop(free);
        let dir = Directory::default().with_explicit(Some(Explicit {
            url,
            tls_roots: None,
        }));
        assert_eq!(dir.pending_order("SK1").unwrap_err().code(), "network");
        assert!(!dir.has_order("SK1"));
    }

    #[test]
    fn dns_compare_as_people_write_them() {
        let e = entry(
            "gdca",
            "CN=GDCA SM2 Issuing CA, O=Global Digital CA,C=CN",
            "https://ca.example.cn",
        );
        assert!(e.serves("cn=gdca sm2 issuing ca,o=global digital ca, c=CN"));
        assert!(e.serves("CN = GDCA  SM2 Issuing CA,O=Global Digital CA,C=CN"));
        assert!(!e.serves("CN=GDCA SM2 Issuing CA 2,O=Global Digital CA,C=CN"));
        assert!(!e.serves("CN=GDCASM2 Issuing CA,O=Global Digital CA,C=CN"));
    }

    #[test]
    fn entries_are_checked() {
        assert!(entry("ok-1", "CN=X", "https://ca.example.cn")
            .validate()
            .is_ok());
        assert!(entry("Bad Name", "CN=X", "https://ca.example.cn")
            .validate()
            .is_err());
        // No plain http to another computer, even from a catalog.
        assert!(entry("x", "CN=X", "http://ca.example.cn")
            .validate()
            .is_err());
    }

    #[test]
    fn the_issuer_picks_the_service_and_unknown_issuers_are_refused() {
        let dir = Directory {
            entries: vec![
                entry("a", "CN=A CA", "https://a.example.cn"),
                entry("b", "CN=B CA", "https://b.example.cn:8443"),
            ],
            default_ca: None,
            explicit: None,
        };
        assert_eq!(
            dir.for_issuer("CN=B CA").unwrap().base(),
            "https://b.example.cn:8443/api/v1"
        );
        assert!(matches!(
            dir.for_issuer("CN=C CA"),
            Err(Error::CaUnknown { issuer: Some(i) }) if i == "CN=C CA"
        ));
        let dir = dir.with_explicit(Some(Explicit {
            url: "http://127.0.0.1:9".into(),
            tls_roots: None,
        }));
        assert_eq!(
            dir.for_issuer("CN=C CA").unwrap().base(),
            "http://127.0.0.1:9/api/v1"
        );
        assert!(matches!(
            Directory::default().for_activation("SK1"),
            Err(Error::CaUnknown { issuer: None })
        ));
    }
}
