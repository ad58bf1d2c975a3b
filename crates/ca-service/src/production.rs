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
use crate::x509::DnAttr;

/// Days an activation code stays valid.
pub const CODE_DAYS: i64 = 30;

/// Who brings the key in (经办人); kept for unlock checks. The protocol's handler.
pub type HandlerInfo = certkey_protocol::v1::Handler;

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

fn check_text(what: &str, v: &str, max: usize) -> Result<(), ProduceError> {
    let n = v.chars().count();
    if v.trim().is_empty() || n > max || v.chars().any(char::is_control) {
        return Err(perr(
            "invalid_order",
            format!("{what} must be 1-{max} printable characters"),
        ));
    }
    Ok(())
}

/// A value that goes into the certificate's subject, checked by the very function
/// issuance applies; the error code names the field (`invalid_holder`, `invalid_org`).
fn check_dn(code: &'static str, what: &str, attr: DnAttr, v: &str) -> Result<(), ProduceError> {
    attr.check_value(v)
        .map_err(|e| perr(code, format!("{what} cannot go into a certificate: {e}")))
}

impl ProduceRequest {
    /// Checks every field, the names with the limits issuance applies, so that an order
    /// that could never be issued is refused before anything is written.
    pub fn validate(&self) -> Result<(), ProduceError> {
        check_dn("invalid_holder", "holder", DnAttr::CN, &self.holder)?;
        match (&self.org, self.cert_type) {
            (None, CertType::Organisation | CertType::OrgPerson) => {
                return Err(perr(
                    "invalid_org",
                    "org is required for organisation and org-person certificates",
                ))
            }
            (Some(o), _) => check_dn("invalid_org", "org", DnAttr::O, o)?,
            _ => {}
        }
        let bad = |m: &str| Err(perr("invalid_order", m));
        if !(1..=5).contains(&self.years) {
            return bad("years must be 1 to 5");
        }
        if let Some(d) = self.days {
            if !(1..=3650).contains(&d) {
                return bad("days must be 1 to 3650");
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
            return bad("handler id number must be 6-32 letters and digits");
        }
        let phone_ok = (5..=20).contains(&self.handler.phone.len())
            && self
                .handler
                .phone
                .chars()
                .all(|c| c.is_ascii_digit() || c == '+' || c == '-');
        if !phone_ok {
            return bad("handler phone must be 5-20 digits");
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

/// Why production failed, with a stable code (the admin API's error code).
#[derive(Debug, thiserror::Error)]
#[error("{message} ({code})")]
pub struct ProduceError {
    /// `invalid_order`, `invalid_holder`, `invalid_org`, `module_error`, `key_not_found`, `key_not_blank`,
    /// `already_produced`, `token_error` or `internal`.
    pub code: &'static str,
    /// What went wrong.
    pub message: String,
}

fn perr(code: &'static str, message: impl Into<String>) -> ProduceError {
    ProduceError {
        code,
        message: message.into(),
    }
}

fn internal(e: impl std::fmt::Display) -> ProduceError {
    perr("internal", e.to_string())
}

/// A loaded, initialised module, finalised however production ends (so that the next
/// production in the same process can initialise it again).
struct Module(Pkcs11);

impl std::ops::Deref for Module {
    type Target = Pkcs11;
    fn deref(&self) -> &Pkcs11 {
        &self.0
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        let _ = self.0.clone().finalize();
    }
}

/// Produces one key: see the module documentation. A key whose earlier production
/// failed after it was touched can be produced again: its recorded SO PIN is used to
/// re-initialise it.
pub async fn produce(
    db: &Db,
    data_key: &DataKey,
    module: &Path,
    slot_index: Option<usize>,
    req: &ProduceRequest,
) -> Result<Produced, ProduceError> {
    req.validate()?;
    let m = module.display();
    let ctx =
        Pkcs11::new(module).map_err(|e| perr("module_error", format!("cannot load {m}: {e}")))?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| perr("module_error", format!("{m}: C_Initialize: {e}")))?;
    let ctx = Module(ctx);
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| perr("module_error", format!("{m}: C_GetSlotList: {e}")))?;
    let slot = match slot_index {
        Some(i) => *slots.get(i).ok_or_else(|| {
            perr(
                "key_not_found",
                format!("no key in slot {i} ({} keys present)", slots.len()),
            )
        })?,
        None => *slots
            .iter()
            .find(|s| {
                ctx.get_token_info(**s)
                    .map(|t| !t.token_initialized())
                    .unwrap_or(false)
            })
            .ok_or_else(|| perr("key_not_found", format!("no blank key found on {m}")))?,
    };
    let info = ctx
        .get_token_info(slot)
        .map_err(|e| perr("token_error", format!("C_GetTokenInfo: {e}")))?;
    let serial = info.serial_number().trim().to_string();
    if serial.is_empty() || serial.len() > 64 || !serial.chars().all(|c| c.is_ascii_graphic()) {
        return Err(perr(
            "token_error",
            "the key reports no usable serial number",
        ));
    }
    let previous = sqlx::query("SELECT state, so_pin, created_at FROM tokens WHERE serial = $1")
        .bind(&serial)
        .fetch_optional(&db.pool)
        .await
        .map_err(internal)?;
    // A retry after a failed production, or one cut short while `producing` (the
    // process was killed before or after C_InitToken): the key is blank or holds the
    // recorded SO PIN, so initialising it with that SO PIN is safe either way.
    let mut claimed_at = None;
    let retry_so_pin = match previous {
        None => None,
        Some(row) => {
            use sqlx::Row;
            let state: String = row.try_get(0).map_err(internal)?;
            claimed_at = Some(row.try_get::<i64, _>(2).map_err(internal)?);
            if state != "failed" && state != "producing" {
                return Err(perr(
                    "already_produced",
                    format!("key {serial} was already produced"),
                ));
            }
            let sealed: Vec<u8> = row.try_get(1).map_err(internal)?;
            let pin = data_key
                .open(&sealed, &format!("token:{serial}:so"))
                .map_err(internal)?;
            Some(Zeroizing::new(
                String::from_utf8(pin.to_vec()).map_err(internal)?,
            ))
        }
    };
    if info.token_initialized() && retry_so_pin.is_none() {
        return Err(perr(
            "key_not_blank",
            "the key in that slot is already initialised; production needs a blank key",
        ));
    }
    // The key's PIN length range, with the CA's floor of 6; a key reporting an impossible
    // range is refused rather than guessed at.
    let min = info.min_pin_length().max(6);
    let max = match info.max_pin_length() {
        0 => 16,
        m => m,
    };
    if min > max {
        return Err(perr(
            "token_error",
            format!(
                "the key reports PIN lengths {}..{}, which no PIN can meet",
                info.min_pin_length(),
                info.max_pin_length()
            ),
        ));
    }
    let retry = retry_so_pin.is_some();
    let so_pin = match retry_so_pin {
        Some(p) => p,
        None => random_so_pin(16.clamp(min, max)).map_err(internal)?,
    };
    let user_pin = random_pin(8.clamp(min, max)).map_err(internal)?;
    let (order_id, code, salt, expires) = new_order_secrets().map_err(internal)?;
    let now = OffsetDateTime::now_utc();
    let label = label_for(&req.holder);

    // On record first: a key never holds an SO PIN the CA does not have.
    let sealed_so = data_key
        .seal(so_pin.as_bytes(), &format!("token:{serial}:so"))
        .map_err(internal)?;
    let sealed_user = data_key
        .seal(user_pin.as_bytes(), &format!("token:{serial}:initial"))
        .map_err(internal)?;
    let mut tx = db.pool.begin().await.map_err(internal)?;
    // The retry takes the row over only as it was read (state and time), so two
    // retries cannot both proceed, and a production still running elsewhere notices
    // at its end that it was superseded.
    let sql = if retry {
        "UPDATE tokens SET label = $2, so_pin = $3, initial_pin = $4, handler_name = $5, handler_id = $6, handler_phone = $7, state = 'producing', created_at = $8 \
         WHERE serial = $1 AND state IN ('failed', 'producing') AND created_at = $9"
    } else {
        "INSERT INTO tokens (serial, label, so_pin, initial_pin, handler_name, handler_id, handler_phone, state, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'producing', $8)"
    };
    // The row's time identifies this production; a takeover always moves it on.
    let stamp = match claimed_at {
        Some(t) if retry => now.unix_timestamp().max(t + 1),
        _ => now.unix_timestamp(),
    };
    let mut q = sqlx::query(sql)
        .bind(&serial)
        .bind(&label)
        .bind(sealed_so)
        .bind(sealed_user)
        .bind(&req.handler.name)
        .bind(&req.handler.id_number)
        .bind(&req.handler.phone)
        .bind(stamp);
    if retry {
        q = q.bind(claimed_at.unwrap_or_default());
    }
    let done = q.execute(&mut *tx).await;
    match done {
        Ok(r) if r.rows_affected() == 1 => {}
        // Another producer got there first.
        _ => {
            return Err(perr(
                "already_produced",
                format!("key {serial} is being or was already produced"),
            ))
        }
    }
    if retry {
        // The order of a production cut short while `producing` was never offered.
        sqlx::query(
            "UPDATE orders SET state = 'void' WHERE token_serial = $1 AND state = 'producing'",
        )
        .bind(&serial)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    }
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
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;

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
        // so the SO PIN is not lost and a retry can re-initialise; the order is void.
        sqlx::query("UPDATE tokens SET state = 'failed' WHERE serial = $1 AND state = 'producing' AND created_at = $2")
            .bind(&serial)
            .bind(stamp)
            .execute(&db.pool)
            .await
            .map_err(internal)?;
        sqlx::query("UPDATE orders SET state = 'void' WHERE id = $1")
            .bind(&order_id)
            .execute(&db.pool)
            .await
            .map_err(internal)?;
        db.audit(
            "operator",
            "production_failed",
            &serial,
            &serde_json::json!({"order": order_id, "reason": e.to_string()}),
        )
        .await
        .map_err(internal)?;
        return Err(perr(
            "token_error",
            format!("key {serial}: {e} (production can be retried on the same key)"),
        ));
    }
    let mut tx = db.pool.begin().await.map_err(internal)?;
    let finished = sqlx::query("UPDATE tokens SET state = 'produced' WHERE serial = $1 AND state = 'producing' AND created_at = $2")
        .bind(&serial)
        .bind(stamp)
        .execute(&mut *tx)
        .await
        .map_err(internal)?
        .rows_affected();
    let offered = sqlx::query(
        "UPDATE orders SET state = 'awaiting_activation' WHERE id = $1 AND state = 'producing'",
    )
    .bind(&order_id)
    .execute(&mut *tx)
    .await
    .map_err(internal)?
    .rows_affected();
    if finished != 1 || offered != 1 {
        return Err(perr(
            "already_produced",
            format!("key {serial}: another production took it over meanwhile"),
        ));
    }
    tx.commit().await.map_err(internal)?;
    db.audit(
        "operator",
        "token_produced",
        &serial,
        &serde_json::json!({"order": order_id, "cert_type": req.cert_type.as_str(), "key": key_name(req.key), "years": req.years, "days": req.days}),
    )
    .await
    .map_err(internal)?;
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
