//! Production: a blank key is initialised over PKCS#11 (label, random SO PIN, random
//! initial user PIN), registered with its enrollment order, and a fresh activation code
//! is made. The database rows are written before the key is touched, so an SO PIN is
//! never set on a key without being on record.

use std::path::Path;

use certkey_protocol::v1::KeyAlgorithm;
use certkey_protocol::CertType;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::db::Db;
use crate::secrets::{random_bytes, random_string, DataKey};

/// Days an activation code stays valid.
pub const CODE_DAYS: i64 = 30;

/// Who brings the key in (经办人); kept for unlock checks.
#[derive(Clone)]
pub struct HandlerInfo {
    /// Name.
    pub name: String,
    /// Identity document number.
    pub id_number: String,
    /// Phone.
    pub phone: String,
}

/// What to produce.
pub struct ProduceRequest {
    /// Holder name (person or organisation).
    pub holder: String,
    /// Organisation, for organisation and org-person certificates.
    pub org: Option<String>,
    /// Certificate type.
    pub cert_type: CertType,
    /// Validity in years (1-5).
    pub years: u32,
    /// Trial validity in days, overriding `years`.
    pub days: Option<u32>,
    /// Key algorithm the key must generate.
    pub key: KeyAlgorithm,
    /// Handler.
    pub handler: HandlerInfo,
}

/// What production returns (the code is shown once and never stored in clear).
pub struct Produced {
    /// The key's serial.
    pub token_serial: String,
    /// The order.
    pub order_id: String,
    /// The 6-digit activation code.
    pub activation_code: Zeroizing<String>,
    /// When the code expires.
    pub code_expires_at: OffsetDateTime,
}

fn check_text(what: &str, v: &str, max: usize) -> anyhow::Result<()> {
    let n = v.chars().count();
    if v.trim().is_empty() || n > max || v.chars().any(char::is_control) {
        anyhow::bail!("{what} must be 1-{max} printable characters");
    }
    Ok(())
}

impl ProduceRequest {
    /// Checks every field.
    pub fn validate(&self) -> anyhow::Result<()> {
        check_text("holder", &self.holder, 64)?;
        match (&self.org, self.cert_type) {
            (None, CertType::Organisation | CertType::OrgPerson) => {
                anyhow::bail!("--org is required for organisation and org-person certificates")
            }
            (Some(o), _) => check_text("org", o, 128)?,
            _ => {}
        }
        if !(1..=5).contains(&self.years) {
            anyhow::bail!("years must be 1 to 5");
        }
        if let Some(d) = self.days {
            if !(1..=3650).contains(&d) {
                anyhow::bail!("days must be 1 to 3650");
            }
        }
        check_text("handler name", &self.handler.name, 64)?;
        let id_ok = (6..=32).contains(&self.handler.id_number.len())
            && self
                .handler
                .id_number
                .chars()
                .all(|c| c.is_ascii_alphanumeric());
        if !id_ok {
            anyhow::bail!("handler id number must be 6-32 letters and digits");
        }
        let phone_ok = (5..=20).contains(&self.handler.phone.len())
            && self
                .handler
                .phone
                .chars()
                .all(|c| c.is_ascii_digit() || c == '+' || c == '-');
        if !phone_ok {
            anyhow::bail!("handler phone must be 5-20 digits");
        }
        Ok(())
    }
}

/// A token label: "<holder> 证书 Key", cut to 32 bytes on a character boundary.
fn label_for(holder: &str) -> String {
    let full = format!("{holder} 证书 Key");
    let mut out = String::new();
    for c in full.chars() {
        if out.len() + c.len_utf8() > 32 {
            break;
        }
        out.push(c);
    }
    out
}

/// A random SO PIN of `len` letters and digits, without look-alike characters.
pub fn random_so_pin(len: usize) -> anyhow::Result<Zeroizing<String>> {
    Ok(Zeroizing::new(random_string(
        b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789",
        len,
    )?))
}

/// A random digit PIN of `len` that is not one repeated digit nor a run.
fn random_pin(len: usize) -> anyhow::Result<Zeroizing<String>> {
    loop {
        let p = Zeroizing::new(random_string(b"0123456789", len)?);
        let b = p.as_bytes();
        let same = b.iter().all(|c| *c == b[0]);
        let up = b.windows(2).all(|w| w[1] == w[0] + 1);
        let down = b.windows(2).all(|w| w[0] == w[1] + 1);
        if !same && !up && !down {
            return Ok(p);
        }
    }
}

/// The database name of a key algorithm.
pub fn key_name(k: KeyAlgorithm) -> &'static str {
    match k {
        KeyAlgorithm::Sm2 => "sm2",
        KeyAlgorithm::P256 => "p256",
    }
}

/// Records an enrollment order with its code (kept only as a salted MAC).
#[allow(clippy::too_many_arguments)]
pub async fn insert_order(
    conn: &mut sqlx::AnyConnection,
    data_key: &DataKey,
    serial: &str,
    req: &ProduceRequest,
    order_id: &str,
    code: &str,
    salt: &[u8],
    expires: OffsetDateTime,
    state: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO orders (id, token_serial, holder, org, cert_type, years, days, key_algorithm, code_salt, code_mac, code_expires_at, attempts, state, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13)",
    )
    .bind(order_id)
    .bind(serial)
    .bind(&req.holder)
    .bind(req.org.clone())
    .bind(req.cert_type.as_str())
    .bind(i64::from(req.years))
    .bind(req.days.map(i64::from))
    .bind(key_name(req.key))
    .bind(salt.to_vec())
    .bind(data_key.code_mac(salt, order_id, code))
    .bind(expires.unix_timestamp())
    .bind(state)
    .bind(OffsetDateTime::now_utc().unix_timestamp())
    .execute(conn)
    .await?;
    Ok(())
}

/// A fresh order id, activation code, code salt and expiry.
pub fn new_order_secrets() -> anyhow::Result<(String, Zeroizing<String>, [u8; 16], OffsetDateTime)>
{
    Ok((
        format!("ord-{}", hex::encode(random_bytes::<8>()?)),
        Zeroizing::new(random_string(b"0123456789", 6)?),
        random_bytes::<16>()?,
        OffsetDateTime::now_utc() + Duration::days(CODE_DAYS),
    ))
}

/// Produces one key: see the module documentation.
pub async fn produce(
    db: &Db,
    data_key: &DataKey,
    module: &Path,
    slot_index: Option<usize>,
    req: &ProduceRequest,
) -> anyhow::Result<Produced> {
    req.validate()?;
    let ctx = Pkcs11::new(module)
        .map_err(|e| anyhow::anyhow!("cannot load {}: {e}", module.display()))?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| anyhow::anyhow!("C_Initialize: {e}"))?;
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| anyhow::anyhow!("C_GetSlotList: {e}"))?;
    let slot = match slot_index {
        Some(i) => *slots
            .get(i)
            .ok_or_else(|| anyhow::anyhow!("no key in slot {i} ({} keys present)", slots.len()))?,
        None => *slots
            .iter()
            .find(|s| {
                ctx.get_token_info(**s)
                    .map(|t| !t.token_initialized())
                    .unwrap_or(false)
            })
            .ok_or_else(|| anyhow::anyhow!("no blank key found on {}", module.display()))?,
    };
    let info = ctx
        .get_token_info(slot)
        .map_err(|e| anyhow::anyhow!("C_GetTokenInfo: {e}"))?;
    if info.token_initialized() {
        anyhow::bail!("the key in that slot is already initialised; production needs a blank key");
    }
    let serial = info.serial_number().trim().to_string();
    if serial.is_empty() {
        anyhow::bail!("the key reports no serial number");
    }
    // The key's PIN length range, with the CA's floor of 6; a key reporting an impossible
    // range is refused rather than guessed at.
    let min = info.min_pin_length().max(6);
    let max = match info.max_pin_length() {
        0 => 16,
        m => m,
    };
    if min > max {
        anyhow::bail!(
            "the key reports PIN lengths {}..{}, which no PIN can meet",
            info.min_pin_length(),
            info.max_pin_length()
        );
    }
    let so_pin = random_so_pin(16.clamp(min, max))?;
    let user_pin = random_pin(8.clamp(min, max))?;
    let (order_id, code, salt, expires) = new_order_secrets()?;
    let now = OffsetDateTime::now_utc();
    let label = label_for(&req.holder);

    // On record first: a key never holds an SO PIN the CA does not have.
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO tokens (serial, label, so_pin, initial_pin, handler_name, handler_id, handler_phone, state, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'producing', $8)",
    )
    .bind(&serial)
    .bind(&label)
    .bind(data_key.seal(so_pin.as_bytes(), &format!("token:{serial}:so"))?)
    .bind(data_key.seal(user_pin.as_bytes(), &format!("token:{serial}:initial"))?)
    .bind(&req.handler.name)
    .bind(&req.handler.id_number)
    .bind(&req.handler.phone)
    .bind(now.unix_timestamp())
    .execute(&mut *tx)
    .await
    .map_err(|e| anyhow::anyhow!("key {serial} cannot be registered (already produced?): {e}"))?;
    insert_order(
        &mut tx,
        data_key,
        &serial,
        req,
        &order_id,
        &code,
        &salt,
        expires,
        "producing",
    )
    .await?;
    tx.commit().await?;

    let initialised = (|| -> anyhow::Result<()> {
        ctx.init_token(slot, &AuthPin::new(so_pin.as_str().into()), &label)
            .map_err(|e| anyhow::anyhow!("C_InitToken: {e}"))?;
        let s = ctx
            .open_rw_session(slot)
            .map_err(|e| anyhow::anyhow!("C_OpenSession: {e}"))?;
        s.login(UserType::So, Some(&AuthPin::new(so_pin.as_str().into())))
            .map_err(|e| anyhow::anyhow!("C_Login (SO): {e}"))?;
        s.init_pin(&AuthPin::new(user_pin.as_str().into()))
            .map_err(|e| anyhow::anyhow!("C_InitPIN: {e}"))?;
        let _ = s.logout();
        Ok(())
    })();
    if let Err(e) = initialised {
        // The key may now hold the recorded SO PIN: keep the token row (marked failed)
        // so the SO PIN is not lost; the order is void.
        sqlx::query("UPDATE tokens SET state = 'failed' WHERE serial = $1")
            .bind(&serial)
            .execute(&db.pool)
            .await?;
        sqlx::query("UPDATE orders SET state = 'void' WHERE id = $1")
            .bind(&order_id)
            .execute(&db.pool)
            .await?;
        db.audit(
            "operator",
            "production_failed",
            &serial,
            &serde_json::json!({"order": order_id, "reason": e.to_string()}),
        )
        .await?;
        return Err(e);
    }
    sqlx::query("UPDATE tokens SET state = 'produced' WHERE serial = $1")
        .bind(&serial)
        .execute(&db.pool)
        .await?;
    sqlx::query("UPDATE orders SET state = 'awaiting_activation' WHERE id = $1")
        .bind(&order_id)
        .execute(&db.pool)
        .await?;
    db.audit(
        "operator",
        "token_produced",
        &serial,
        &serde_json::json!({"order": order_id, "cert_type": req.cert_type.as_str(), "key": key_name(req.key), "years": req.years, "days": req.days}),
    )
    .await?;
    let _ = ctx.finalize();
    Ok(Produced {
        token_serial: serial,
        order_id,
        activation_code: code,
        code_expires_at: expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_fit_32_bytes_without_splitting_characters() {
        assert_eq!(label_for("张三"), "张三 证书 Key");
        let long = label_for("广东省某某某某某有限公司的法人代表");
        assert!(long.len() <= 32);
        assert!(long.is_char_boundary(long.len()));
    }

    #[test]
    fn random_pins_are_not_trivial() {
        for _ in 0..200 {
            let p = random_pin(6).unwrap();
            assert_eq!(p.len(), 6);
            assert_ne!(p.as_str(), "123456");
            assert_ne!(p.as_str(), "000000");
        }
    }
}
