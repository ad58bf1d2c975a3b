//! `certkey-ca.toml` in the data directory, with environment overrides.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Name of the config file in the data directory.
pub const FILE: &str = "certkey-ca.toml";

/// TLS certificate and key (PEM).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Certificate chain, PEM.
    pub cert: PathBuf,
    /// Private key, PEM (PKCS#8).
    pub key: PathBuf,
}

/// Per-client-address limits, requests a minute (counted in the database).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// `POST /activation` (code tries).
    pub activation_per_minute: u32,
    /// Renewal challenges and renewals.
    pub renewal_per_minute: u32,
    /// Unlock requests.
    pub unlock_per_minute: u32,
    /// Seal requests.
    pub seal_per_minute: u32,
    /// `POST /activation/lookup`.
    pub lookup_per_minute: u32,
    /// `POST /activation/{id}/certificate`.
    pub certificate_per_minute: u32,
    /// `GET /unlock/{ticket}` (clients poll it) and `POST /unlock/{ticket}/...`.
    pub unlock_ticket_per_minute: u32,
    /// `GET /renewal/quote`.
    pub quote_per_minute: u32,
    /// Any other path outside `/admin` except health, time and cacerts
    /// (`/openapi.json`, unknown paths).
    pub other_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            activation_per_minute: 30,
            renewal_per_minute: 60,
            unlock_per_minute: 20,
            seal_per_minute: 20,
            lookup_per_minute: 30,
            certificate_per_minute: 30,
            unlock_ticket_per_minute: 120,
            quote_per_minute: 60,
            other_per_minute: 60,
        }
    }
}

/// Limits on how requests are served.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// A request not answered within this many seconds gets 503 `request_timeout`.
    pub request_timeout_s: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout_s: 30,
        }
    }
}

/// How long finished rows are kept; the service prunes older ones periodically.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Unlock tickets that are finished (completed, rejected, failed, superseded,
    /// expired) are deleted this many days after their decision.
    pub finished_tickets_days: u32,
    /// Renewal challenges are deleted this many seconds after they expired.
    pub challenges_grace_s: u64,
    /// Rate-limit counters are deleted this many seconds after their window.
    pub rate_limit_rows_s: u64,
    /// Seconds between two prunings by `serve`.
    pub prune_interval_s: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            finished_tickets_days: 90,
            challenges_grace_s: 3600,
            rate_limit_rows_s: 3600,
            prune_interval_s: 600,
        }
    }
}

/// Prices of the renewal terms of one certificate type, in the currency's minor unit
/// (fen for CNY): the first for 1 year, the last for 5 years.
pub type TermPrices = [u64; 5];

/// Renewal prices per certificate type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Prices {
    /// Organisation (机构) certificates.
    pub organisation: TermPrices,
    /// Person in an organisation (机构个人) certificates.
    pub org_person: TermPrices,
    /// Natural person (自然人) certificates.
    pub person: TermPrices,
}

impl Default for Prices {
    fn default() -> Self {
        // 300, 200 and 100 yuan a year.
        let yearly = |fen: u64| [1, 2, 3, 4, 5].map(|y| y * fen);
        Prices {
            organisation: yearly(30_000),
            org_person: yearly(20_000),
            person: yearly(10_000),
        }
    }
}

impl Prices {
    /// The prices of a certificate type.
    pub fn of(&self, cert_type: certkey_protocol::CertType) -> &TermPrices {
        match cert_type {
            certkey_protocol::CertType::Organisation => &self.organisation,
            certkey_protocol::CertType::OrgPerson => &self.org_person,
            certkey_protocol::CertType::Person => &self.person,
        }
    }
}

/// A text of the CA for holders, in both languages of the client.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    /// Simplified Chinese.
    pub zh_cn: String,
    /// English.
    pub en: String,
}

/// Online renewal: what the terms cost and how a holder pays (`GET /renewal/quote`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Renewal {
    /// ISO 4217 code of the prices.
    pub currency: String,
    /// Prices per certificate type and term.
    pub prices: Prices,
    /// How to pay, shown to a holder when `require_renewal_entitlement` is set and no
    /// paid renewal is on record.
    pub payment_instructions: Localized,
}

impl Default for Renewal {
    fn default() -> Self {
        Renewal {
            currency: "CNY".into(),
            prices: Prices::default(),
            payment_instructions: Localized {
                zh_cn: "在线续期需先缴费：请联系签发本证书的 CA 缴纳所选年限的续期费用，CA 为本证书登记已缴年限后，即可在线续期。".into(),
                en: "Online renewal must be paid for first: contact the CA that issued this certificate and pay for the term you choose; once the CA has recorded the paid term for this certificate, renew online.".into(),
            },
        }
    }
}

/// The service configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Plain HTTP only on loopback; anything else needs `tls`.
    pub listen: String,
    /// `sqlite://...` or `postgres://...`; default: `ca.db` in the data directory.
    #[serde(default)]
    pub database_url: Option<String>,
    /// SHA-256 (hex) of the admin bearer token.
    pub admin_token_sha256: String,
    /// TLS for non-loopback listening.
    #[serde(default)]
    pub tls: Option<Tls>,
    /// Renewals need a renewal entitlement granted through the admin API.
    #[serde(default)]
    pub require_renewal_entitlement: bool,
    /// PKCS#11 modules of blank keys that `POST /admin/production` may load.
    #[serde(default)]
    pub production_modules: Vec<PathBuf>,
    /// Reverse proxies (IP addresses or CIDR blocks) whose `X-Forwarded-For` names the
    /// client; from anyone else the header is ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Minutes after its approval during which an unlock ticket hands out the SO PINs
    /// (1 to 1440; default 30).
    #[serde(default = "default_unlock_ticket_minutes")]
    pub unlock_ticket_minutes: u32,
    /// Per-client-address rate limits.
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// Request handling limits.
    #[serde(default)]
    pub limits: Limits,
    /// How long finished rows are kept.
    #[serde(default)]
    pub retention: Retention,
    /// Renewal prices and payment instructions.
    #[serde(default)]
    pub renewal: Renewal,
    /// The P-256 CA keys are on this PKCS#11 token (made by `init --pkcs11-module`).
    #[serde(default)]
    pub pkcs11: Option<crate::hsm::HsmConfig>,
}

/// The default of [`Config::unlock_ticket_minutes`].
pub fn default_unlock_ticket_minutes() -> u32 {
    30
}

impl Config {
    /// Reads the config of a data directory and applies `CERTKEY_CA_LISTEN` and
    /// `CERTKEY_CA_DATABASE_URL` (or `CERTKEY_CA_DATABASE_URL_FILE`).
    pub fn load(data: &Path) -> anyhow::Result<Self> {
        let path = data.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e} (run `certkey-ca init --data {}` first)",
                path.display(),
                data.display()
            )
        })?;
        let mut cfg: Config =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if let Ok(v) = std::env::var("CERTKEY_CA_LISTEN") {
            cfg.listen = v;
        }
        // The URL may hold the database password: a secret, also from a _FILE.
        if let Some(v) = crate::keystore::secret_env("CERTKEY_CA_DATABASE_URL")? {
            cfg.database_url = Some(v.to_string());
        }
        let currency = &cfg.renewal.currency;
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            anyhow::bail!(
                "{}: [renewal] currency must be an ISO 4217 code such as CNY",
                path.display()
            );
        }
        if !(1..=1440).contains(&cfg.unlock_ticket_minutes) {
            anyhow::bail!(
                "{}: unlock_ticket_minutes must be 1 to 1440",
                path.display()
            );
        }
        Ok(cfg)
    }

    /// The database URL, defaulting to the SQLite file in the data directory.
    pub fn database_url(&self, data: &Path) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data.join("ca.db").display()))
    }

    /// The address, refusing plain HTTP off loopback.
    pub fn listen_addr(&self, listen: &str) -> anyhow::Result<SocketAddr> {
        let addr: SocketAddr = listen
            .parse()
            .map_err(|e| anyhow::anyhow!("listen address {listen:?}: {e}"))?;
        if !addr.ip().is_loopback() && self.tls.is_none() {
            anyhow::bail!("{addr} is not loopback: configure [tls] cert and key in {FILE}, plain HTTP is only for loopback");
        }
        Ok(addr)
    }
}
