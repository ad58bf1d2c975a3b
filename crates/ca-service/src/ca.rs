//! The CA's keys and certificates: an SM2 and a P-256 hierarchy (root + issuing CA),
//! and a seal-maker key for each, made by `certkey-ca init` and loaded by `serve`.

use std::path::Path;

use time::{Duration, OffsetDateTime};

use crate::hsm::Hsm;
use crate::keystore::{self, Passphrase};
use crate::x509::{self, DnAttr, DnSpec, KeyAlg, PrivateKey, Signer, Usage, Validity};

/// A CA key: a sealed file loaded into memory, or a key on a PKCS#11 token.
pub type CaKey = Box<dyn Signer + Send + Sync>;

/// One algorithm's CA material, as `serve` needs it.
pub struct Hierarchy {
    /// Key algorithm.
    pub alg: KeyAlg,
    /// Root certificate, DER.
    pub root_der: Vec<u8>,
    /// Issuing CA certificate, DER.
    pub issuing_der: Vec<u8>,
    /// Issuing CA key.
    pub issuing_key: CaKey,
    /// Seal-maker certificate (issued by the issuing CA), DER.
    pub seal_cert_der: Vec<u8>,
    /// Seal-maker key.
    pub seal_key: CaKey,
}

impl Hierarchy {
    /// The protocol answer for a certificate issued under this hierarchy.
    pub fn issued(&self, der: Vec<u8>) -> certkey_protocol::v1::IssuedCertificate {
        use certkey_protocol::Base64;
        certkey_protocol::v1::IssuedCertificate {
            certificate: Base64(der),
            chain: vec![
                Base64(self.issuing_der.clone()),
                Base64(self.root_der.clone()),
            ],
        }
    }
}

/// Both hierarchies.
pub struct CaMaterial {
    /// SM2 (SM3withSM2).
    pub sm2: Hierarchy,
    /// NIST P-256 (ECDSA-SHA256).
    pub p256: Hierarchy,
    /// The token holding the P-256 keys, when they are not in files (kept open and
    /// logged in for the keys' sessions).
    pub hsm: Option<Hsm>,
}

impl CaMaterial {
    /// The hierarchy of an algorithm.
    pub fn get(&self, alg: KeyAlg) -> &Hierarchy {
        match alg {
            KeyAlg::Sm2 => &self.sm2,
            KeyAlg::P256 => &self.p256,
        }
    }
}

fn tag(alg: KeyAlg) -> &'static str {
    match alg {
        KeyAlg::Sm2 => "sm2",
        KeyAlg::P256 => "p256",
    }
}

fn label(alg: KeyAlg) -> &'static str {
    match alg {
        KeyAlg::Sm2 => "SM2",
        KeyAlg::P256 => "P-256",
    }
}

fn dn(org: &str, cn: String) -> DnSpec {
    DnSpec(vec![
        (DnAttr::C, "CN".into()),
        (DnAttr::O, org.into()),
        (DnAttr::CN, cn),
    ])
}

fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(chunk));
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

/// Reads the one certificate of a PEM file written by [`init`].
fn read_pem(path: &Path) -> anyhow::Result<Vec<u8>> {
    use base64::Engine;
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Where a hierarchy's keys are made: sealed files, or a PKCS#11 token.
struct KeySource<'a> {
    keys: std::path::PathBuf,
    pass: &'a Passphrase,
    hsm: Option<&'a Hsm>,
}

impl KeySource<'_> {
    fn new_key(&self, alg: KeyAlg, name: &str) -> anyhow::Result<CaKey> {
        let id = format!("{}-{name}", tag(alg));
        match self.hsm {
            Some(hsm) if alg == KeyAlg::P256 => Ok(Box::new(hsm.generate(&id)?)),
            _ => {
                let key = PrivateKey::generate(alg)?;
                keystore::save(&self.keys, &id, &key, self.pass)?;
                Ok(Box::new(key))
            }
        }
    }

    fn load_key(&self, alg: KeyAlg, name: &str) -> anyhow::Result<CaKey> {
        let id = format!("{}-{name}", tag(alg));
        match self.hsm {
            Some(hsm) if alg == KeyAlg::P256 => Ok(Box::new(hsm.key(&id)?)),
            _ => Ok(Box::new(keystore::load(&self.keys, &id, self.pass)?)),
        }
    }
}

/// Makes one hierarchy and writes its keys (sealed, unless on a token) and certificates.
fn make(
    data: &Path,
    alg: KeyAlg,
    org: &str,
    src: &KeySource<'_>,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let certs = data.join("certs");
    let t = tag(alg);
    let root_key = src.new_key(alg, "root")?;
    let root = x509::self_signed_ca(
        root_key.as_ref(),
        &dn(org, format!("{org} 根 CA ({})", label(alg))),
        &x509::random_serial()?,
        Validity {
            not_before: now - Duration::minutes(5),
            not_after: now + Duration::days(365 * 20),
        },
        Some(1),
    )?;
    let issuing_key = src.new_key(alg, "issuing")?;
    let issuing = x509::issue_ca(
        &root,
        root_key.as_ref(),
        &dn(org, format!("{org} 签发 CA ({})", label(alg))),
        &issuing_key.spki_der(),
        &x509::random_serial()?,
        Validity {
            not_before: now - Duration::minutes(5),
            not_after: now + Duration::days(365 * 10),
        },
        Some(0),
    )?;
    let seal_key = src.new_key(alg, "seal")?;
    let seal = x509::issue_leaf(
        &issuing,
        issuing_key.as_ref(),
        &dn(org, format!("{org} 电子印章制作 ({})", label(alg))),
        &seal_key.spki_der(),
        &x509::random_serial()?,
        Validity {
            not_before: now - Duration::minutes(5),
            not_after: now + Duration::days(365 * 5),
        },
        Usage::SealMaker,
    )?;
    for (name, der) in [("root", &root), ("issuing", &issuing), ("seal", &seal)] {
        std::fs::write(certs.join(format!("{t}-{name}.pem")), pem(der))?;
    }
    Ok(())
}

/// `certkey-ca init`: both hierarchies in `data/keys` and `data/certs`; with `hsm`, the
/// P-256 keys are generated on that token instead of in files.
pub fn init(data: &Path, org: &str, pass: &Passphrase, hsm: Option<&Hsm>) -> anyhow::Result<()> {
    std::fs::create_dir_all(data.join("keys"))?;
    std::fs::create_dir_all(data.join("certs"))?;
    let now = OffsetDateTime::now_utc();
    let src = KeySource {
        keys: data.join("keys"),
        pass,
        hsm,
    };
    for alg in [KeyAlg::Sm2, KeyAlg::P256] {
        make(data, alg, org, &src, now)?;
    }
    Ok(())
}

fn load_one(data: &Path, alg: KeyAlg, src: &KeySource<'_>) -> anyhow::Result<Hierarchy> {
    let t = tag(alg);
    let cert = |n: &str| read_pem(&data.join("certs").join(format!("{t}-{n}.pem")));
    let h = Hierarchy {
        alg,
        root_der: cert("root")?,
        issuing_der: cert("issuing")?,
        issuing_key: src.load_key(alg, "issuing")?,
        seal_cert_der: cert("seal")?,
        seal_key: src.load_key(alg, "seal")?,
    };
    // The files must belong together: each certificate verifies under its issuer and
    // each key is the one its certificate names.
    x509::verify_cert_signature(&h.issuing_der, &h.root_der)?;
    x509::verify_cert_signature(&h.seal_cert_der, &h.issuing_der)?;
    if h.issuing_key.alg() != alg || h.seal_key.alg() != alg {
        anyhow::bail!("{t}: key algorithm does not match its certificate");
    }
    let probe = b"certkey-ca key check";
    for (key, cert) in [
        (h.issuing_key.as_ref(), &h.issuing_der),
        (h.seal_key.as_ref(), &h.seal_cert_der),
    ] {
        let spki = x509::cert_spki(cert)?;
        x509::verify_signature(&spki, probe, &key.sign(probe)?)
            .map_err(|_| anyhow::anyhow!("{t}: a key file does not match its certificate"))?;
    }
    Ok(h)
}

/// Loads what `serve` needs, checking that keys and certificates belong together.
/// With `hsm`, the P-256 keys are the ones on that token.
pub fn load(data: &Path, pass: &Passphrase, hsm: Option<Hsm>) -> anyhow::Result<CaMaterial> {
    let src = KeySource {
        keys: data.join("keys"),
        pass,
        hsm: hsm.as_ref(),
    };
    let sm2 = load_one(data, KeyAlg::Sm2, &src)?;
    let p256 = load_one(data, KeyAlg::P256, &src)?;
    Ok(CaMaterial { sm2, p256, hsm })
}
