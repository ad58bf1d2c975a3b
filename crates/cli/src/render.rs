//! Human-readable text for `certkey list` and `certkey info`.

use std::fmt::Write;

use certkey_core::cert::verify::SignatureCheck;
use certkey_core::inventory::{CertificateEntry, Inventory, TokenReport};
use certkey_core::pkcs11::objects::ObjectKind;
use certkey_core::pkcs11::token::PinState;
use certkey_core::workflow::renew::KeyQuote;
use certkey_protocol::{CertType, RenewalStatus};
use unicode_width::UnicodeWidthStr;

use crate::i18n::{error_text, t, tr, Lang};

/// Pads to a display width (CJK characters count double).
fn pad(s: &str, width: usize) -> String {
    let w = UnicodeWidthStr::width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

/// Renders rows as aligned columns.
fn table(rows: &[Vec<String>], indent: &str) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, s)| pad(s, widths[i]))
            .collect();
        let _ = writeln!(out, "{indent}{}", line.join("  ").trim_end());
    }
    out
}

fn pin_text(lang: Lang, p: &PinState) -> String {
    let mut parts = Vec::new();
    if !p.initialized {
        parts.push(t(lang, "cli-pin-not_set"));
    }
    if p.locked {
        parts.push(t(lang, "cli-pin-locked"));
    } else if p.final_try {
        parts.push(t(lang, "cli-pin-final_try"));
    } else if p.count_low {
        parts.push(t(lang, "cli-pin-count_low"));
    }
    if p.to_be_changed {
        parts.push(t(lang, "cli-pin-to_be_changed"));
    }
    if parts.is_empty() {
        parts.push(t(lang, "cli-pin-ok"));
    }
    format!(
        "{} ({}-{})",
        parts.join(&t(lang, "cli-list-separator")),
        p.min_len,
        p.max_len
    )
}

fn renewal_text(lang: Lang, r: RenewalStatus) -> String {
    t(
        lang,
        match r {
            RenewalStatus::Valid => "cli-renewal-valid",
            RenewalStatus::Renewable => "cli-renewal-renewable",
            RenewalStatus::Expired => "cli-renewal-expired",
            RenewalStatus::NotYetValid => "cli-renewal-not_yet_valid",
        },
    )
}

fn yes_no_unknown(lang: Lang, v: Option<bool>) -> String {
    t(
        lang,
        match v {
            Some(true) => "cli-yes",
            Some(false) => "cli-no",
            None => "cli-after-login",
        },
    )
}

fn type_text(lang: Lang, kind: Option<CertType>) -> String {
    match kind {
        Some(CertType::Organisation) => t(lang, "cert-type-organisation"),
        Some(CertType::OrgPerson) => t(lang, "cert-type-org_person"),
        Some(CertType::Person) => t(lang, "cert-type-person"),
        None => "-".into(),
    }
}

fn signature_text(lang: Lang, s: &Option<SignatureCheck>) -> String {
    match s {
        Some(SignatureCheck::Valid { issuer, .. }) => tr(
            lang,
            "cli-signature-valid",
            &[("issuer", issuer.as_str().into())],
        ),
        Some(SignatureCheck::Invalid { issuer, .. }) => tr(
            lang,
            "cli-signature-invalid",
            &[("issuer", issuer.as_str().into())],
        ),
        Some(SignatureCheck::IssuerNotFound) => t(lang, "cli-signature-issuer_not_found"),
        Some(SignatureCheck::Unsupported { algorithm }) => tr(
            lang,
            "cli-signature-unsupported",
            &[("algorithm", algorithm.as_str().into())],
        ),
        None => "-".into(),
    }
}

fn token_heading(out: &mut String, lang: Lang, tok: &TokenReport) {
    let initialised = tok
        .details
        .flags
        .iter()
        .any(|f| f == "CKF_TOKEN_INITIALIZED");
    let label = if !initialised {
        t(lang, "cli-token-blank")
    } else if tok.details.label.is_empty() {
        "-".into()
    } else {
        tok.details.label.clone()
    };
    let heading = tr(
        lang,
        "cli-token-heading",
        &[
            ("label", label.into()),
            ("serial", tok.details.serial.as_str().into()),
            ("manufacturer", tok.details.manufacturer.as_str().into()),
            ("model", tok.details.model.as_str().into()),
        ],
    );
    let module = tr(
        lang,
        "cli-token-module",
        &[
            ("module", tok.module.as_str().into()),
            ("slot", tok.slot.to_string().into()),
        ],
    );
    let pin = tr(
        lang,
        "cli-token-pin",
        &[("state", pin_text(lang, &tok.details.pin).into())],
    );
    let _ = writeln!(out, "{heading}\n  {module}\n  {pin}");
}

fn cert_rows(lang: Lang, certs: &[CertificateEntry]) -> Vec<Vec<String>> {
    let mut header = vec!["ID".to_string()];
    header.extend(
        [
            "cli-col-subject",
            "cli-col-issuer",
            "cli-col-expires",
            "cli-col-days_left",
            "cli-col-status",
            "cli-col-key",
            "cli-col-private_key",
        ]
        .iter()
        .map(|id| t(lang, id)),
    );
    let mut rows = vec![header];
    for c in certs {
        match &c.info {
            Some(i) => rows.push(vec![
                c.id.clone(),
                i.subject_cn.clone().unwrap_or_else(|| i.subject.clone()),
                i.issuer_cn.clone().unwrap_or_else(|| i.issuer.clone()),
                i.not_after.get(..10).unwrap_or(&i.not_after).to_string(),
                i.days_left.to_string(),
                renewal_text(lang, i.renewal),
                i.key_algorithm.clone(),
                yes_no_unknown(lang, c.has_private_key),
            ]),
            None => rows.push(vec![
                c.id.clone(),
                c.label.clone(),
                t(lang, "cli-unreadable"),
            ]),
        }
    }
    rows
}

fn errors_block(out: &mut String, lang: Lang, inv: &Inventory) {
    if inv.errors.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}", t(lang, "cli-errors-heading"));
    for e in &inv.errors {
        let mut place = Vec::new();
        if let Some(m) = &e.module {
            place.push(m.clone());
        }
        if let Some(s) = e.slot {
            place.push(tr(
                lang,
                "cli-place-slot",
                &[("slot", s.to_string().into())],
            ));
        }
        if let Some(o) = &e.object {
            place.push(tr(
                lang,
                "cli-place-object",
                &[("object", o.as_str().into())],
            ));
        }
        let _ = writeln!(
            out,
            "  [{}] {}",
            place.join(", "),
            error_text(lang, &e.error)
        );
    }
}

/// `certkey list`.
pub fn list(inv: &Inventory, lang: Lang) -> String {
    let mut out = String::new();
    if inv.tokens.is_empty() {
        let _ = writeln!(out, "{}", t(lang, "cli-no-keys"));
    }
    for tok in &inv.tokens {
        token_heading(&mut out, lang, tok);
        if tok.certificates.is_empty() {
            let _ = writeln!(out, "  {}", t(lang, "cli-no-certificates"));
        } else {
            out.push_str(&table(&cert_rows(lang, &tok.certificates), "  "));
        }
        out.push('\n');
    }
    errors_block(&mut out, lang, inv);
    out
}

/// `certkey info`.
pub fn info(inv: &Inventory, lang: Lang) -> String {
    let mut out = String::new();
    if inv.tokens.is_empty() {
        let _ = writeln!(out, "{}", t(lang, "cli-no-keys"));
    }
    for tok in &inv.tokens {
        token_heading(&mut out, lang, tok);
        let d = &tok.details;
        let mut so_pin = Vec::new();
        if d.so_pin.locked {
            so_pin.push(t(lang, "cli-so-pin-locked"));
        }
        if d.so_pin.final_try {
            so_pin.push(t(lang, "cli-so-pin-final_try"));
        }
        so_pin.push(t(
            lang,
            if d.so_pin.count_low {
                "cli-so-pin-count_low"
            } else {
                "cli-pin-ok"
            },
        ));
        let mem = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_else(|| "-".into());
        let rows = vec![
            vec![
                t(lang, "cli-info-vendor"),
                tok.vendor.clone().unwrap_or_else(|| "-".into()),
            ],
            vec![
                t(lang, "cli-info-versions"),
                format!("{} / {}", d.hardware_version, d.firmware_version),
            ],
            vec![t(lang, "cli-info-flags"), d.flags.join(" ")],
            vec![t(lang, "cli-info-so_pin"), so_pin.join(" ")],
            vec![
                t(lang, "cli-info-public_memory"),
                format!(
                    "{} / {}",
                    mem(d.memory.free_public),
                    mem(d.memory.total_public)
                ),
            ],
            vec![
                t(lang, "cli-info-private_memory"),
                format!(
                    "{} / {}",
                    mem(d.memory.free_private),
                    mem(d.memory.total_private)
                ),
            ],
        ];
        out.push_str(&table(&rows, "  "));
        if let Some(mechs) = &tok.mechanisms {
            let names: Vec<&str> = mechs.iter().map(|m| m.name.as_str()).collect();
            let line = tr(
                lang,
                "cli-info-mechanisms",
                &[
                    ("count", mechs.len().into()),
                    ("names", names.join(" ").into()),
                ],
            );
            let _ = writeln!(out, "  {line}");
        }
        for c in &tok.certificates {
            let line = tr(
                lang,
                "cli-info-certificate",
                &[
                    ("id", c.id.as_str().into()),
                    ("label", c.label.as_str().into()),
                ],
            );
            let _ = writeln!(out, "  {line}");
            match &c.info {
                Some(i) => {
                    let field = |id: &str, value: String| vec![t(lang, id), value];
                    let rows = vec![
                        field("cli-field-subject", i.subject.clone()),
                        field("cli-field-issuer", i.issuer.clone()),
                        field("cli-field-serial", i.serial_hex.clone()),
                        field(
                            "cli-field-validity",
                            format!("{} .. {}", i.not_before, i.not_after),
                        ),
                        field(
                            "cli-field-days_left",
                            format!("{} ({})", i.days_left, renewal_text(lang, i.renewal)),
                        ),
                        field("cli-field-type", type_text(lang, i.cert_type_hint)),
                        field("cli-field-key_algorithm", i.key_algorithm.clone()),
                        field(
                            "cli-field-signature_algorithm",
                            i.signature_algorithm.clone(),
                        ),
                        field("cli-field-key_usage", i.key_usage.join(" ")),
                        field("cli-field-extended_usage", i.extended_key_usage.join(" ")),
                        vec!["SHA-256".into(), i.sha256.clone()],
                        vec!["SM3".into(), i.sm3.clone()],
                        field(
                            "cli-field-private_key",
                            yes_no_unknown(lang, c.has_private_key),
                        ),
                        field(
                            "cli-field-signature_check",
                            signature_text(lang, &c.signature_check),
                        ),
                    ];
                    out.push_str(&table(&rows, "    "));
                }
                None => {
                    if let Some(e) = &c.error {
                        let _ = writeln!(out, "    {}", error_text(lang, e));
                    }
                }
            }
        }
        for k in &tok.keys {
            let class = t(
                lang,
                match k.class {
                    ObjectKind::PrivateKey => "cli-object-private_key",
                    ObjectKind::PublicKey => "cli-object-public_key",
                    _ => "cli-object-secret_key",
                },
            );
            let _ = writeln!(
                out,
                "  {class} {} \"{}\" {}",
                k.id,
                k.label,
                k.key_type.as_deref().unwrap_or("-")
            );
        }
        for d in &tok.data_objects {
            let line = tr(
                lang,
                "cli-info-data_object",
                &[
                    ("id", d.id.as_str().into()),
                    ("label", d.label.as_str().into()),
                    (
                        "application",
                        d.application.as_deref().unwrap_or("-").into(),
                    ),
                    (
                        "size",
                        d.size.map_or_else(|| "-".into(), |s| s.to_string()).into(),
                    ),
                ],
            );
            let _ = writeln!(out, "  {line}");
        }
        out.push('\n');
    }
    errors_block(&mut out, lang, inv);
    out
}

/// A price in the minor unit (fen) as an amount of the major unit: `12345` -> `123.45`.
fn amount(minor: u64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// The date of an RFC 3339 time (`2027-03-01`).
fn date(t: time::OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `certkey renew --quote`.
pub fn quote(q: &KeyQuote, lang: Lang) -> String {
    use certkey_protocol::v1::RenewalQuoteState as S;
    let r = &q.quote;
    let mut out = String::new();
    let heading = tr(
        lang,
        "cli-quote-heading",
        &[
            (
                "subject",
                q.subject_cn.as_deref().unwrap_or(&q.subject).into(),
            ),
            ("serial", r.certificate_serial.as_str().into()),
            ("token_serial", q.token_serial.as_str().into()),
            ("cert_type", r.cert_type.as_str().into()),
            ("not_after", date(r.not_after).into()),
            ("days_left", r.days_left.into()),
        ],
    );
    let state = match r.state {
        S::Open => t(lang, "cli-quote-open"),
        S::NotYetOpen => tr(
            lang,
            "cli-quote-not_yet_open",
            &[(
                "opens_at",
                r.opens_at.map(date).unwrap_or_else(|| "-".into()).into(),
            )],
        ),
        S::Expired => t(lang, "cli-quote-expired"),
        S::Revoked => t(lang, "cli-quote-revoked"),
        S::Renewed => t(lang, "cli-quote-renewed"),
    };
    let _ = writeln!(out, "{heading}\n  {state}");
    if matches!(r.state, S::Open | S::NotYetOpen) {
        let _ = writeln!(out, "  {}", t(lang, "cli-quote-terms"));
        let rows: Vec<Vec<String>> = r
            .terms
            .iter()
            .map(|term| {
                vec![
                    tr(lang, "cli-quote-years", &[("years", term.years.into())]),
                    tr(
                        lang,
                        "cli-quote-price",
                        &[
                            ("currency", r.currency.as_str().into()),
                            ("amount", amount(term.price).into()),
                        ],
                    ),
                    tr(
                        lang,
                        "cli-quote-until",
                        &[("not_after", date(term.not_after).into())],
                    ),
                ]
            })
            .collect();
        out.push_str(&table(&rows, "    "));
        let payment = match (r.payment_required, r.paid_years) {
            (false, _) => t(lang, "cli-quote-payment-not_required"),
            (true, Some(years)) => tr(lang, "cli-quote-payment-paid", &[("years", years.into())]),
            (true, None) => t(lang, "cli-quote-payment-missing"),
        };
        let _ = writeln!(out, "  {payment}");
        if let Some(how) = &r.payment_instructions {
            let text = match lang {
                Lang::ZhCn => &how.zh_cn,
                Lang::En => &how.en,
            };
            let line = tr(
                lang,
                "cli-quote-how-to-pay",
                &[("instructions", text.as_str().into())],
            );
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_with_chinese_text() {
        let t = table(
            &[
                vec!["张三".into(), "x".into()],
                vec!["ab".into(), "y".into()],
            ],
            "",
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "张三  x");
        assert_eq!(lines[1], "ab    y");
    }
}
