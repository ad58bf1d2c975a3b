//! The CA certificates a seal maker's certificate must chain to: the CA service's
//! `GET /cacerts`, kept on disk in the state directory (`<state_dir>/cacerts/<host>.json`)
//! so that a service out of reach still leaves a recent list, plus the configured CA
//! bundles (`--ca-bundle`, config `ca_bundle`, `CERTKEY_CA_BUNDLE`).
//!
//! The service is asked every time it is given; only when that fails is the cache
//! used, and only when it is younger than [`CACHE_MAX_AGE`]. The answer says where
//! the list came from and why the service was not used, so the user is told.

use std::path::{Path, PathBuf};

use certkey_protocol::v1::CaCerts;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::service::ServiceClient;
use crate::{Error, Result};

/// How old a cached CA list may be and still be used when the service is out of reach.
pub const CACHE_MAX_AGE: Duration = Duration::days(30);
/// Largest cache file read.
const MAX_CACHE_FILE: u64 = 1 << 20;
/// Most certificates taken from one CA list.
const MAX_CERTIFICATES: usize = 64;

/// Where the service's CA list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaListSource {
    /// Fetched from the service now.
    Service,
    /// The service could not be used; the cached list was.
    Cache,
    /// No list from a service: only the bundles count.
    None,
}

/// The CA certificates trusted for this run, and where they came from.
#[derive(Debug, Clone, Serialize)]
pub struct CaList {
    /// The trusted CA certificates, DER (service list first, then bundles).
    #[serde(skip)]
    pub certificates: Vec<Vec<u8>>,
    /// Where the service's list came from.
    pub source: CaListSource,
    /// The service's API base URL, when there is a service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// When the service's list was fetched (now, or when cached), RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<String>,
    /// Why the service's list was not fetched now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_error: Option<Error>,
    /// Why the cache was not used, when it was looked at and refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_error: Option<String>,
    /// Certificates from the service's list.
    pub service_certificates: usize,
    /// Certificates from the CA bundles.
    pub bundle_certificates: usize,
}

/// The cache file's content.
#[derive(Debug, Serialize, Deserialize)]
struct Cached {
    url: String,
    fetched_at: String,
    cacerts: CaCerts,
}

/// The cache file of a service: its host and port, with every other character `_`.
pub fn cache_file(state_dir: &Path, base_url: &str) -> PathBuf {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let name: String = authority
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    state_dir.join("cacerts").join(format!("{name}.json"))
}

/// The DER certificates of a CA list that parse and are CA certificates; at most
/// [`MAX_CERTIFICATES`].
fn certificates_of(list: &CaCerts) -> Vec<Vec<u8>> {
    list.chains
        .iter()
        .flat_map(|c| c.certificates.iter())
        .filter(|b| {
            crate::cert::parse(&b.0)
                .is_ok_and(|p| matches!(p.cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca))
        })
        .take(MAX_CERTIFICATES)
        .map(|b| b.0.clone())
        .collect()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Writes the cache (a temporary file renamed over the old one). A cache that cannot
/// be written only costs the offline fallback: the error is logged, not returned.
fn store(path: &Path, url: &str, list: &CaCerts, now: OffsetDateTime) {
    let body = Cached {
        url: url.into(),
        fetched_at: rfc3339(now),
        cacerts: list.clone(),
    };
    let result = (|| -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_vec_pretty(&body).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        tracing::warn!("cannot write the CA list cache {}: {e}", path.display());
    }
}

/// Reads the cache of `url`: its list and when it was fetched, refused when it is
/// for another URL, older than [`CACHE_MAX_AGE`] or from the future.
fn load_cache(
    path: &Path,
    url: &str,
    now: OffsetDateTime,
) -> std::result::Result<(CaCerts, OffsetDateTime), String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut data = Vec::new();
    file.take(MAX_CACHE_FILE + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if data.len() as u64 > MAX_CACHE_FILE {
        return Err(format!("{}: too large", path.display()));
    }
    let cached: Cached =
        serde_json::from_slice(&data).map_err(|e| format!("{}: {e}", path.display()))?;
    if cached.url != url {
        return Err(format!("{}: for another service", path.display()));
    }
    let at = OffsetDateTime::parse(&cached.fetched_at, &Rfc3339)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if at > now + Duration::days(1) {
        return Err(format!(
            "{}: fetched in the future ({})",
            path.display(),
            cached.fetched_at
        ));
    }
    if now - at > CACHE_MAX_AGE {
        return Err(format!(
            "{}: fetched {}, more than {} days ago",
            path.display(),
            cached.fetched_at,
            CACHE_MAX_AGE.whole_days()
        ));
    }
    Ok((cached.cacerts, at))
}

/// The CA list for this run: the service's `/cacerts` (fetched now and cached under
/// `state_dir`, else the cache when the service cannot be used), then `bundle`.
/// `service` is the CA service of the key, or why there is none.
pub fn load(
    service: std::result::Result<&ServiceClient, Error>,
    bundle: &[Vec<u8>],
    state_dir: Option<&Path>,
    now: OffsetDateTime,
) -> CaList {
    let mut out = CaList {
        certificates: Vec::new(),
        source: CaListSource::None,
        service: None,
        fetched_at: None,
        service_error: None,
        cache_error: None,
        service_certificates: 0,
        bundle_certificates: bundle.len(),
    };
    match service {
        Err(e) => out.service_error = Some(e),
        Ok(client) => {
            let url = client.base_url().to_string();
            let cache = state_dir.map(|d| cache_file(d, &url));
            out.service = Some(url.clone());
            match client.cacerts() {
                Ok(list) => {
                    out.certificates = certificates_of(&list);
                    out.source = CaListSource::Service;
                    out.fetched_at = Some(rfc3339(now));
                    if let Some(path) = &cache {
                        store(path, &url, &list, now);
                    }
                }
                Err(e) => {
                    out.service_error = Some(e);
                    match cache.as_deref().map(|p| load_cache(p, &url, now)) {
                        Some(Ok((list, at))) => {
                            out.certificates = certificates_of(&list);
                            out.source = CaListSource::Cache;
                            out.fetched_at = Some(rfc3339(at));
                        }
                        Some(Err(why)) => out.cache_error = Some(why),
                        None => out.cache_error = Some("no state directory".into()),
                    }
                }
            }
        }
    }
    out.service_certificates = out.certificates.len();
    out.certificates.extend(bundle.iter().cloned());
    out
}

/// The service's CA list, fetched now (and cached under `state_dir` when given): what
/// the seal writer checks the maker of a new seal against.
pub fn fetch(
    client: &ServiceClient,
    state_dir: Option<&Path>,
    now: OffsetDateTime,
) -> Result<Vec<Vec<u8>>> {
    let list = client.cacerts()?;
    if let Some(d) = state_dir {
        store(
            &cache_file(d, client.base_url()),
            client.base_url(),
            &list,
            now,
        );
    }
    Ok(certificates_of(&list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names_keep_host_and_port_only() {
        let d = Path::new("/s");
        assert_eq!(
            cache_file(d, "http://127.0.0.1:8080/api/v1"),
            Path::new("/s/cacerts/127.0.0.1_8080.json")
        );
        assert_eq!(
            cache_file(d, "https://ca.example.cn/x/../api/v1"),
            Path::new("/s/cacerts/ca.example.cn.json")
        );
        assert_eq!(
            cache_file(d, "https://[::1]:9/api/v1"),
            Path::new("/s/cacerts/___1__9.json")
        );
    }

    #[test]
    fn old_future_foreign_and_broken_caches_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let now = OffsetDateTime::now_utc();
        let list = CaCerts { chains: Vec::new() };
        store(&path, "u", &list, now - Duration::days(31));
        assert!(load_cache(&path, "u", now)
            .unwrap_err()
            .contains("days ago"));
        store(&path, "u", &list, now + Duration::days(2));
        assert!(load_cache(&path, "u", now).unwrap_err().contains("future"));
        store(&path, "u", &list, now - Duration::days(29));
        assert!(load_cache(&path, "other", now)
            .unwrap_err()
            .contains("another"));
        assert!(load_cache(&path, "u", now).is_ok());
        std::fs::write(&path, b"{not json").unwrap();
        assert!(load_cache(&path, "u", now).is_err());
    }
}
