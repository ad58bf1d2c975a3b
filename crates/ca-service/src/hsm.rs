//! CA keys held in a PKCS#11 module instead of files: `certkey-ca init --pkcs11-module`
//! generates the P-256 root, issuing and seal-maker keys on the token (sensitive, never
//! extractable) and `serve` signs with them through cryptoki.
//!
//! The token is named by its label; the user PIN comes from `CERTKEY_CA_PKCS11_PIN` or
//! the file named by `CERTKEY_CA_PKCS11_PIN_FILE` and is never written anywhere.
//! SM2 needs vendor mechanisms that the reference modules do not share, so only the
//! P-256 hierarchy can live in a module; the SM2 hierarchy stays in sealed key files.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use zeroize::Zeroizing;

use crate::x509::{self, KeyAlg, Signer, X509Error};

/// DER of the named-curve OID prime256v1 (1.2.840.10045.3.1.7).
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// `[pkcs11]` in certkey-ca.toml.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HsmConfig {
    /// The PKCS#11 module (shared library).
    pub module: PathBuf,
    /// Label of the token holding the keys.
    pub token_label: String,
}

fn pin_from_env() -> anyhow::Result<Zeroizing<String>> {
    crate::keystore::secret_env("CERTKEY_CA_PKCS11_PIN")?.ok_or_else(|| {
        anyhow::anyhow!(
            "the CA keys are in a PKCS#11 token: set CERTKEY_CA_PKCS11_PIN_FILE (or CERTKEY_CA_PKCS11_PIN)"
        )
    })
}

/// An open, logged-in token holding CA keys.
pub struct Hsm {
    ctx: Pkcs11,
    slot: Slot,
    label: String,
    /// The session the user logged in on; the login lasts while a session is open.
    login: Option<Mutex<Session>>,
}

impl std::fmt::Debug for Hsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hsm").field("label", &self.label).finish()
    }
}

impl Hsm {
    /// Loads the module, finds the token by label and logs the user in.
    pub fn open(cfg: &HsmConfig) -> anyhow::Result<Self> {
        let pin = pin_from_env()?;
        Self::open_with_pin(&cfg.module, &cfg.token_label, &pin)
    }

    fn open_with_pin(module: &Path, label: &str, pin: &str) -> anyhow::Result<Self> {
        let ctx = Pkcs11::new(module)
            .map_err(|e| anyhow::anyhow!("cannot load PKCS#11 module {}: {e}", module.display()))?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| anyhow::anyhow!("{}: C_Initialize: {e}", module.display()))?;
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| anyhow::anyhow!("{}: C_GetSlotList: {e}", module.display()))?;
        let mut found = None;
        for s in slots {
            if let Ok(info) = ctx.get_token_info(s) {
                if info.label().trim_end() == label {
                    if found.is_some() {
                        anyhow::bail!("{}: two tokens are labelled {label:?}", module.display());
                    }
                    found = Some(s);
                }
            }
        }
        let slot = found
            .ok_or_else(|| anyhow::anyhow!("{}: no token labelled {label:?}", module.display()))?;
        let mut hsm = Hsm {
            ctx,
            slot,
            label: label.to_string(),
            login: None,
        };
        let session = hsm.session()?;
        match session.login(UserType::User, Some(&AuthPin::new(pin.into()))) {
            Ok(()) => {}
            Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::UserAlreadyLoggedIn,
                _,
            )) => {}
            Err(e) => anyhow::bail!("token {label:?}: login failed: {e}"),
        }
        hsm.login = Some(Mutex::new(session));
        Ok(hsm)
    }

    fn session(&self) -> anyhow::Result<Session> {
        self.ctx
            .open_rw_session(self.slot)
            .map_err(|e| anyhow::anyhow!("token {:?}: C_OpenSession: {e}", self.label))
    }

    fn find(
        &self,
        session: &Session,
        class: ObjectClass,
        id: &str,
    ) -> anyhow::Result<Vec<ObjectHandle>> {
        session
            .find_objects(&[
                Attribute::Class(class),
                Attribute::Id(id.as_bytes().to_vec()),
            ])
            .map_err(|e| anyhow::anyhow!("token {:?}: C_FindObjects: {e}", self.label))
    }

    /// Generates a P-256 key pair with CKA_ID `id` (refusing an id already in use).
    pub fn generate(&self, id: &str) -> anyhow::Result<HsmKey> {
        let session = self.session()?;
        if !self
            .find(&session, ObjectClass::PRIVATE_KEY, id)?
            .is_empty()
        {
            anyhow::bail!("token {:?} already holds a key {id:?}", self.label);
        }
        let label = format!("certkey-ca {id}").into_bytes();
        let public = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(P256_PARAMS.to_vec()),
            Attribute::Id(id.as_bytes().to_vec()),
            Attribute::Label(label.clone()),
        ];
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Id(id.as_bytes().to_vec()),
            Attribute::Label(label),
        ];
        session
            .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
            .map_err(|e| anyhow::anyhow!("token {:?}: P-256 key generation: {e}", self.label))?;
        drop(session);
        self.key(id)
    }

    /// The key pair with CKA_ID `id`.
    pub fn key(&self, id: &str) -> anyhow::Result<HsmKey> {
        let session = self.session()?;
        let privs = self.find(&session, ObjectClass::PRIVATE_KEY, id)?;
        let [key] = privs.as_slice() else {
            anyhow::bail!(
                "token {:?}: expected one private key {id:?}, found {}",
                self.label,
                privs.len()
            );
        };
        let kt = session
            .get_attributes(*key, &[AttributeType::KeyType])
            .map_err(|e| anyhow::anyhow!("token {:?}: C_GetAttributeValue: {e}", self.label))?;
        if !kt
            .iter()
            .any(|a| matches!(a, Attribute::KeyType(t) if *t == KeyType::EC))
        {
            anyhow::bail!("token {:?}: key {id:?} is not an EC key", self.label);
        }
        let pubs = self.find(&session, ObjectClass::PUBLIC_KEY, id)?;
        let [public] = pubs.as_slice() else {
            anyhow::bail!(
                "token {:?}: expected one public key {id:?}, found {}",
                self.label,
                pubs.len()
            );
        };
        let attrs = session
            .get_attributes(*public, &[AttributeType::EcParams, AttributeType::EcPoint])
            .map_err(|e| anyhow::anyhow!("token {:?}: C_GetAttributeValue: {e}", self.label))?;
        let mut params = None;
        let mut point = None;
        for a in attrs {
            match a {
                Attribute::EcParams(p) => params = Some(p),
                Attribute::EcPoint(p) => point = Some(p),
                _ => {}
            }
        }
        if params.as_deref() != Some(&P256_PARAMS[..]) {
            anyhow::bail!("token {:?}: key {id:?} is not on P-256", self.label);
        }
        let point = point.ok_or_else(|| {
            anyhow::anyhow!("token {:?}: key {id:?} has no CKA_EC_POINT", self.label)
        })?;
        let point = unwrap_ec_point(&point).ok_or_else(|| {
            anyhow::anyhow!("token {:?}: key {id:?}: malformed CKA_EC_POINT", self.label)
        })?;
        let spki = x509::p256_spki_from_point(&point)?;
        Ok(HsmKey {
            session: Mutex::new(session),
            key: *key,
            spki,
            id: id.to_string(),
        })
    }
}

/// CKA_EC_POINT is a DER OCTET STRING holding the SEC1 point (some modules return the
/// bare point): returns the 65-byte uncompressed point.
fn unwrap_ec_point(v: &[u8]) -> Option<[u8; 65]> {
    let bare = match v {
        [0x04, 65, rest @ ..] if rest.len() == 65 => rest,
        [0x04, 0x81, 65, rest @ ..] if rest.len() == 65 => rest,
        _ if v.len() == 65 => v,
        _ => return None,
    };
    if bare.first() != Some(&0x04) {
        return None;
    }
    bare.try_into().ok()
}

/// A P-256 private key on the token, usable as a CA signer.
pub struct HsmKey {
    session: Mutex<Session>,
    key: ObjectHandle,
    spki: Vec<u8>,
    id: String,
}

impl std::fmt::Debug for HsmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmKey").field("id", &self.id).finish()
    }
}

impl Signer for HsmKey {
    fn alg(&self) -> KeyAlg {
        KeyAlg::P256
    }

    fn spki_der(&self) -> Vec<u8> {
        self.spki.clone()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, X509Error> {
        let digest = sha2::Sha256::digest(msg);
        let session = self
            .session
            .lock()
            .map_err(|_| X509Error::Signing("PKCS#11 session poisoned".into()))?;
        let raw = session
            .sign(&Mechanism::Ecdsa, self.key, &digest)
            .map_err(|e| X509Error::Signing(format!("PKCS#11 {}: {e}", self.id)))?;
        drop(session);
        let sig = p256::ecdsa::Signature::from_slice(&raw)
            .map_err(|_| X509Error::Signing(format!("PKCS#11 {}: malformed signature", self.id)))?;
        Ok(sig.to_der().as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_point_forms() {
        let mut p = [0u8; 65];
        p[0] = 4;
        p[64] = 9;
        let mut wrapped = vec![0x04, 65];
        wrapped.extend_from_slice(&p);
        assert_eq!(unwrap_ec_point(&wrapped), Some(p));
        assert_eq!(unwrap_ec_point(&p), Some(p));
        let mut long = vec![0x04, 0x81, 65];
        long.extend_from_slice(&p);
        assert_eq!(unwrap_ec_point(&long), Some(p));
        assert_eq!(unwrap_ec_point(&wrapped[..40]), None);
        let mut compressed = p;
        compressed[0] = 2;
        assert_eq!(unwrap_ec_point(&compressed), None);
    }
}
