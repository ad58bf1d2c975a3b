//! Activation of a newly delivered key (shared/DESIGN.md, "The CA online protocol"):
//!
//! 1. look up the key's pending order and have the holder confirm it;
//! 2. choose the holder's PIN (checked against the policy before anything changes);
//! 3. the 6-digit code releases the initial PIN, wrapped for this run's ephemeral key;
//! 4. log in with it and set the holder's PIN at once (the holder never sees the
//!    initial PIN);
//! 5. generate the key pair on the key (SM2 or P-256, as the order says);
//! 6. sign the certificate request on the key; the CA issues the certificate;
//! 7. write the certificate beside its key and check it.
//!
//! The journal on the key ([`super::journal`], operation "activate") records the
//! activation id after step 4 and the new key pair's id before step 5 makes it, so a
//! rerun after any interruption logs in with the holder's PIN and carries on; the
//! service answers a repeated certificate request with the same certificate. Before the
//! login only the journal's public hint (stage and activation id) is read, to know
//! which PIN to ask for; the key pair's id is read from the private record after the
//! login, so a planted journal can neither name a key pair to use nor make anything go.
//! Nothing is ever removed by label.

use certkey_protocol::v1::{
    ActivationLookupResponse, ActivationRequest, CertificateRequest, KeyAlgorithm, OrderState,
};
use certkey_protocol::wrap::ClientKey;
use certkey_protocol::Base64;
use cryptoki::session::Session;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::journal::{self, Journal};
use super::pin::{ask_new_pin, login_only, login_user};
use super::token::Token;
use super::{Confirm, Interaction, Notice, Progress, SecretKind, Step, MAX_ASKS};
use crate::pkcs11::ckr;
use crate::pkcs11::keys::{self, KeyAlg, TokenKey};
use crate::service::ServiceClient;
use crate::{csr, Error, Result};

/// Journal operation name.
pub const OPERATION: &str = "activate";

/// What an activation produced.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Activated {
    /// Token serial.
    pub token_serial: String,
    /// CKA_ID of the key pair and certificate, hex.
    pub key_id: String,
    /// The certificate's subject, RFC 4514.
    pub subject: String,
    /// The certificate's serial, hex.
    pub certificate_serial: String,
    /// Expiry, RFC 3339.
    pub not_after: String,
    /// Whether an interrupted earlier run was finished.
    pub resumed: bool,
}

fn key_alg(k: KeyAlgorithm) -> KeyAlg {
    match k {
        KeyAlgorithm::Sm2 => KeyAlg::Sm2,
        KeyAlgorithm::P256 => KeyAlg::P256,
    }
}

fn not_applicable(reason: &str) -> Error {
    Error::NotApplicable {
        reason: reason.into(),
        days_left: None,
    }
}

/// The code, checked for form before it is spent on the service.
fn valid_code(code: &SecretString) -> bool {
    let c = code.expose_secret();
    c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())
}

/// Asks for the code and trades it for the activation id and the initial PIN.
fn check_code(
    ui: &dyn Interaction,
    token: &Token,
    service: &ServiceClient,
) -> Result<(String, SecretString)> {
    let mut attempts_left = None;
    let mut last: Option<Error> = None;
    for _ in 0..MAX_ASKS {
        let code = match ui.secret(&SecretKind::ActivationCode { attempts_left }) {
            Ok(c) => c,
            Err(Error::Cancelled) if last.is_some() => break,
            Err(e) => return Err(e),
        };
        if !valid_code(&code) {
            let e = Error::InvalidArgument {
                name: "activation code".into(),
                reason: "6 digits".into(),
            };
            ui.notice(&Notice::Rejected { error: e.clone() });
            last = Some(e);
            continue;
        }
        let client = ClientKey::generate().map_err(|e| Error::InvalidArgument {
            name: "client key".into(),
            reason: e.to_string(),
        })?;
        let req = ActivationRequest {
            token_serial: token.serial.clone(),
            activation_code: certkey_protocol::Secret::new(code.expose_secret().to_string()),
            client_key: Base64(client.public_sec1().to_vec()),
        };
        match service.activate(&req) {
            Ok(resp) => {
                let pin = client
                    .unwrap(
                        &resp.initial_pin,
                        format!("activation:{}", token.serial).as_bytes(),
                    )
                    .map_err(|e| Error::ServiceResponse {
                        reason: format!("the initial PIN does not unwrap: {e}"),
                    })?;
                let pin = String::from_utf8(pin.to_vec()).map_err(|_| Error::ServiceResponse {
                    reason: "the initial PIN is not text".into(),
                })?;
                return Ok((resp.activation_id, SecretString::from(pin)));
            }
            Err(e @ Error::Service { .. }) => {
                let Error::Service {
                    ref service_code,
                    attempts_left: left,
                    ..
                } = e
                else {
                    return Err(e);
                };
                if service_code != "activation_code_invalid" || left == Some(0) {
                    return Err(e);
                }
                attempts_left = left;
                ui.notice(&Notice::Rejected { error: e.clone() });
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(Error::Cancelled))
}

/// Records the journal. Until a key pair's id is on record, the public hint is the
/// whole record (stage and activation id: which PIN a rerun asks for, nothing a rerun
/// could destroy or use); from then on the private record, which alone names the pair.
fn record(session: &Session, j: &mut Journal) -> Result<()> {
    if j.key_id.is_some() {
        journal::write(session, OPERATION, j)
    } else {
        journal::write_hint(session, OPERATION, j)
    }
}

/// Activates the key: see the module documentation.
pub fn activate(ui: &dyn Interaction, token: &Token, service: &ServiceClient) -> Result<Activated> {
    let mut p = Progress::new(ui, 10);
    p.step(Step::ReadToken)?;
    let session = token.session()?;
    // Only the public hint is visible before the login (see the module documentation).
    let earlier = journal::read_hint(&session, OPERATION)?;

    p.step(Step::ContactService)?;
    let order: ActivationLookupResponse = service.activation_lookup(&token.serial)?;
    let alg = key_alg(order.key_algorithm);
    if alg == KeyAlg::Sm2 && token.sm2.is_none() {
        return Err(Error::MechanismUnsupported {
            serial: token.serial.clone(),
            mechanism: "SM2 (no SM2 profile for this key's vendor in the catalog)".into(),
        });
    }
    let resumed = earlier
        .as_ref()
        .is_some_and(|j| j.stage != "pin_changing" && j.activation_id.is_some());
    let mut j = match earlier {
        Some(j) if resumed => {
            ui.notice(&Notice::Resuming {
                operation: OPERATION.into(),
            });
            p.step(Step::CheckCode)?;
            p.step(Step::Login)?;
            login_user(ui, token, &session, None)?;
            p.step(Step::SetPin)?;
            // The private record, when there is one, is what the run acts on.
            match journal::read(&session, OPERATION)? {
                Some(private) => private,
                // An earlier run finished and was cut while removing its journal (the
                // private record goes first): the certificate is on the key.
                None if order.state == OrderState::Completed => {
                    let cert = super::certs::current(&session, time::OffsetDateTime::now_utc())?;
                    journal::clear(&session, OPERATION)?;
                    let _ = session.logout();
                    return Ok(Activated {
                        token_serial: token.serial.clone(),
                        key_id: hex::encode(&cert.id),
                        subject: cert.info.subject,
                        certificate_serial: cert.info.serial_hex,
                        not_after: cert.info.not_after,
                        resumed: true,
                    });
                }
                None => j,
            }
        }
        earlier => {
            match order.state {
                OrderState::AwaitingActivation | OrderState::AwaitingCsr => {}
                OrderState::Completed => return Err(not_applicable("already_activated")),
                OrderState::Locked => return Err(not_applicable("order_locked")),
                OrderState::Expired => return Err(not_applicable("code_expired")),
            }
            let interrupted_pin_change = earlier.is_some();
            if !ui.confirm(&Confirm::Activate {
                serial: token.serial.clone(),
                order: order.clone(),
            })? {
                return Err(Error::Cancelled);
            }
            // After a cut during C_SetPIN the key may already hold the PIN chosen then:
            // that one is asked for only if the initial PIN turns out to be gone.
            let new_pin = if interrupted_pin_change {
                None
            } else {
                Some(ask_new_pin(ui, token, None)?)
            };
            p.step(Step::CheckCode)?;
            let (activation_id, initial) = check_code(ui, token, service)?;
            p.step(Step::Login)?;
            let mut j = Journal {
                stage: "pin_changing".into(),
                activation_id: Some(activation_id),
                ..Journal::default()
            };
            match login_only(ui, token, &session, Some(&initial)) {
                Ok(_) => {
                    let new_pin = match new_pin {
                        Some(p) => p,
                        None => ask_new_pin(ui, token, None)?,
                    };
                    record(&session, &mut j)?;
                    p.step(Step::SetPin)?;
                    session
                        .set_pin(&initial, &new_pin)
                        .map_err(|e| ckr::convert(e, "C_SetPIN"))?;
                }
                // An earlier run was cut during C_SetPIN and the holder's PIN is set:
                // log in with it (the holder chose it then).
                Err(Error::PinIncorrect { .. }) if interrupted_pin_change => {
                    ui.notice(&Notice::Resuming {
                        operation: OPERATION.into(),
                    });
                    login_only(ui, token, &session, None)?;
                    p.step(Step::SetPin)?;
                }
                Err(e) => return Err(e),
            }
            j.stage = "pin_set".into();
            record(&session, &mut j)?;
            j
        }
    };
    let activation_id = j
        .activation_id
        .clone()
        .ok_or_else(|| not_applicable("journal_without_activation"))?;

    p.step(Step::GenerateKey)?;
    // The new pair's id is on record before the pair is made: a rerun uses that pair,
    // or makes it under that id, and touches no other.
    let id = match j.key_id.as_deref().and_then(|h| hex::decode(h).ok()) {
        Some(id) if !id.is_empty() => id,
        _ => {
            let id = super::certs::unused_id(&session)?;
            j.stage = "key".into();
            j.key_id = Some(hex::encode(&id));
            record(&session, &mut j)?;
            id
        }
    };
    let key: TokenKey = match keys::find(&session, &id)? {
        Some(k) if k.alg == alg => k,
        Some(_) => return Err(not_applicable("journal_damaged")),
        None => {
            // A half-made pair of the recorded id (a cut inside C_GenerateKeyPair).
            if !super::certs::remove_recorded_pair(&session, &id)? {
                return Err(not_applicable("journal_damaged"));
            }
            keys::generate(
                &session,
                &token.serial,
                alg,
                token.sm2.as_ref(),
                &id,
                &format!("CertKey {}", token.serial),
            )?
        }
    };

    p.step(Step::SignRequest)?;
    let csr = csr::build(alg, &key.point, &token.serial, |tbs| {
        keys::sign(&session, &token.serial, &key, token.sm2.as_ref(), tbs)
    })?;

    p.step(Step::RequestCertificate)?;
    let request = CertificateRequest { csr: Base64(csr) };
    let issued = match service.activation_certificate(&activation_id, &request) {
        // The CA reissued the code since (the journal's activation is void): the new
        // code opens a new activation; the holder's PIN is already set.
        Err(Error::Service { service_code, .. })
            if resumed && service_code == "activation_not_found" =>
        {
            let (fresh, _initial) = check_code(ui, token, service)?;
            j.activation_id = Some(fresh.clone());
            record(&session, &mut j)?;
            service.activation_certificate(&fresh, &request)?
        }
        other => other?,
    };
    let der = issued.certificate.0.clone();
    let parsed = crate::cert::parse(&der)?;
    if parsed.cert.public_key().raw != keys::spki_der(alg, &key.point)?.as_slice() {
        return Err(Error::ServiceResponse {
            reason: "the issued certificate is not for the key made on this token".into(),
        });
    }
    let info = crate::cert::CertificateInfo::from_parsed(&parsed, time::OffsetDateTime::now_utc());

    p.step(Step::InstallCertificate)?;
    // A certificate from an interrupted earlier run is replaced.
    for (handle, id, _) in keys::certificates(&session)? {
        if id == key.id {
            keys::destroy(&session, handle)?;
        }
    }
    let label = info
        .subject_cn
        .clone()
        .unwrap_or_else(|| format!("CertKey {}", token.serial));
    keys::write_certificate(&session, &key.id, &label, &der)?;
    super::certs::install_chain(&session, token.vendor.as_ref(), &issued.chain)?;

    p.step(Step::Verify)?;
    let on_token = keys::certificates(&session)?
        .into_iter()
        .any(|(_, id, value)| id == key.id && value == der);
    if !on_token {
        return Err(Error::ModuleMisbehaved {
            reason: "the certificate written to the key does not read back".into(),
        });
    }
    journal::clear_hint_last(&session, OPERATION)?;
    let _ = session.logout();
    Ok(Activated {
        token_serial: token.serial.clone(),
        key_id: hex::encode(&key.id),
        subject: info.subject,
        certificate_serial: info.serial_hex,
        not_after: info.not_after,
        resumed,
    })
}
