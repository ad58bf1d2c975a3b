//! CA private keys at rest: each key file holds the 32-byte scalar sealed with
//! AES-256-GCM under a key derived from the operator's passphrase (PBKDF2-HMAC-SHA256),
//! the file name bound in as associated data so files cannot be swapped.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::x509::{KeyAlg, PrivateKey};

/// Env var holding the passphrase.
pub const ENV_PASSPHRASE: &str = "CERTKEY_CA_PASSPHRASE";
/// Env var naming a file holding the passphrase.
pub const ENV_PASSPHRASE_FILE: &str = "CERTKEY_CA_PASSPHRASE_FILE";
const ITERATIONS: u32 = 100_000;
const MIN_PASSPHRASE: usize = 12;

/// A secret from the environment variable `var` or the file `var_FILE` names (see
/// [`certkey_protocol::secret_from_env`]); an error carries its stable code first,
/// e.g. `secret_file_empty: CERTKEY_CA_PASSPHRASE_FILE: /run/pass is empty`.
pub fn secret_env(var: &str) -> anyhow::Result<Option<Zeroizing<String>>> {
    let secret =
        certkey_protocol::secret_from_env(var).map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
    Ok(secret.map(|s| Zeroizing::new(s.expose().to_string())))
}

/// The operator's passphrase.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// From `CERTKEY_CA_PASSPHRASE_FILE` (the file's content, its line end removed)
    /// or `CERTKEY_CA_PASSPHRASE`; both set is an error.
    pub fn from_env() -> anyhow::Result<Self> {
        let text = secret_env(ENV_PASSPHRASE)?.ok_or_else(|| {
            anyhow::anyhow!("set {ENV_PASSPHRASE_FILE} (or {ENV_PASSPHRASE}): the CA keys are encrypted with it")
        })?;
        Self::new(text)
    }

    /// Checks a passphrase's length.
    pub fn new(text: Zeroizing<String>) -> anyhow::Result<Self> {
        if text.chars().count() < MIN_PASSPHRASE {
            anyhow::bail!("the CA passphrase must have at least {MIN_PASSPHRASE} characters");
        }
        Ok(Passphrase(text))
    }
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    alg: String,
    kdf: String,
    iterations: u32,
    salt: String,
    nonce: String,
    sealed: String,
}

fn derive(pass: &Passphrase, salt: &[u8], iterations: u32) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pass.0.as_bytes(), salt, iterations.max(1), out.as_mut());
    out
}

fn alg_name(a: KeyAlg) -> &'static str {
    match a {
        KeyAlg::Sm2 => "sm2",
        KeyAlg::P256 => "p256",
    }
}

/// Writes `key` as `dir/name.key.json` (mode 0600).
pub fn save(dir: &Path, name: &str, key: &PrivateKey, pass: &Passphrase) -> anyhow::Result<()> {
    seal_bytes(
        dir,
        name,
        alg_name(key.alg()),
        key.to_bytes().as_ref(),
        pass,
    )
}

/// Reads `dir/name.key.json`.
pub fn load(dir: &Path, name: &str, pass: &Passphrase) -> anyhow::Result<PrivateKey> {
    let (alg, secret) = open_bytes(dir, name, pass)?;
    let alg = match alg.as_str() {
        "sm2" => KeyAlg::Sm2,
        "p256" => KeyAlg::P256,
        other => anyhow::bail!("{name}: unknown key algorithm {other}"),
    };
    PrivateKey::from_bytes(alg, &secret).map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

fn seal_bytes(
    dir: &Path,
    name: &str,
    alg: &str,
    secret: &[u8],
    pass: &Passphrase,
) -> anyhow::Result<()> {
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("random: {e}"))?;
    getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("random: {e}"))?;
    let k = derive(pass, &salt, ITERATIONS);
    let cipher = Aes256Gcm::new_from_slice(k.as_ref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let sealed = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: secret,
                aad: name.as_bytes(),
            },
        )
        .map_err(|_| anyhow::anyhow!("sealing {name} failed"))?;
    let file = KeyFile {
        alg: alg.into(),
        kdf: "pbkdf2-hmac-sha256".into(),
        iterations: ITERATIONS,
        salt: hex::encode(salt),
        nonce: hex::encode(nonce),
        sealed: hex::encode(sealed),
    };
    let path = dir.join(format!("{name}.key.json"));
    write_private(&path, &serde_json::to_vec_pretty(&file)?)
}

fn open_bytes(
    dir: &Path,
    name: &str,
    pass: &Passphrase,
) -> anyhow::Result<(String, Zeroizing<Vec<u8>>)> {
    let path = dir.join(format!("{name}.key.json"));
    let bad = |why: &str| anyhow::anyhow!("{}: {why}", path.display());
    let file: KeyFile =
        serde_json::from_slice(&std::fs::read(&path).map_err(|e| bad(&e.to_string()))?)
            .map_err(|e| bad(&e.to_string()))?;
    if file.kdf != "pbkdf2-hmac-sha256" || file.iterations == 0 || file.iterations > 10_000_000 {
        return Err(bad("unsupported key derivation"));
    }
    let salt = hex::decode(&file.salt).map_err(|_| bad("bad salt"))?;
    let nonce = hex::decode(&file.nonce).map_err(|_| bad("bad nonce"))?;
    let sealed = hex::decode(&file.sealed).map_err(|_| bad("bad sealed key"))?;
    let nonce: [u8; 12] = nonce.as_slice().try_into().map_err(|_| bad("bad nonce"))?;
    let k = derive(pass, &salt, file.iterations);
    let cipher = Aes256Gcm::new_from_slice(k.as_ref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let secret = Zeroizing::new(
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &sealed,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| bad("wrong passphrase, or the file was altered"))?,
    );
    Ok((file.alg, secret))
}

/// Makes a random 32-byte secret key and writes it sealed as `dir/name.key.json`.
pub fn create_secret(dir: &Path, name: &str, pass: &Passphrase) -> anyhow::Result<()> {
    // Stored with the same format as a P-256 private key scalar would be, under its own
    // algorithm tag.
    let mut k = Zeroizing::new([0u8; 32]);
    getrandom::fill(k.as_mut()).map_err(|e| anyhow::anyhow!("random: {e}"))?;
    seal_bytes(dir, name, "secret", k.as_ref(), pass)
}

/// Reads a secret made by [`create_secret`].
pub fn load_secret(
    dir: &Path,
    name: &str,
    pass: &Passphrase,
) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let (alg, bytes) = open_bytes(dir, name, pass)?;
    if alg != "secret" || bytes.len() != 32 {
        anyhow::bail!("{name}: not a secret key file");
    }
    let mut k = Zeroizing::new([0u8; 32]);
    k.copy_from_slice(&bytes);
    Ok(k)
}

/// Writes a file readable by its owner only, atomically: a temporary file in the same
/// folder (mode 0600), fsync, rename over the target, fsync the folder. A crash leaves
/// the old file or the new one, never a truncated one.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let err = |e: std::io::Error| anyhow::anyhow!("{}: {e}", path.display());
    {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        // The mode given at creation is masked by the umask; set it explicitly.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
        f.write_all(bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err)?;
    Ok(())
}
