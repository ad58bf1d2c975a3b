//! The CLI's side of the one message catalog (certkey-i18n, `locales/`): the `--lang`
//! values and short helpers. Core errors are translated by their stable code.

use certkey_core::Error;
pub use certkey_i18n::{flag, optional, Arg, Catalog, Lang};

/// The values of `--lang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LangArg {
    // 简体中文 (no doc comment: clap would show it, in one language, in the help).
    #[value(name = "zh-CN", alias = "zh", alias = "zh_CN")]
    ZhCn,
    // English.
    #[value(name = "en", alias = "en-US")]
    En,
}

impl From<LangArg> for Lang {
    fn from(l: LangArg) -> Lang {
        match l {
            LangArg::ZhCn => Lang::ZhCn,
            LangArg::En => Lang::En,
        }
    }
}

/// The text of message `id`, which takes no variables.
pub fn t(lang: Lang, id: &str) -> String {
    Catalog::text(lang, id, &[])
}

/// The text of message `id` with `args`.
pub fn tr(lang: Lang, id: &str, args: &[Arg]) -> String {
    Catalog::text(lang, id, args)
}

/// A user-facing sentence for a core error.
pub fn error_text(lang: Lang, e: &Error) -> String {
    Catalog::error(lang, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of every variant of core's `Error`, optional fields both set and
    /// absent, and every sub-code the CLI has a specific message for.
    fn every_error() -> Vec<Error> {
        let s = |v: &str| v.to_string();
        let service = |code: &str, full: bool| Error::Service {
            status: 400,
            service_code: s(code),
            message: s("refused"),
            attempts_left: full.then_some(2),
            retry_after_s: full.then_some(30),
            days_left: full.then_some(40),
            paid_years: full.then_some(3),
            existing_seal: None,
        };
        let mut all = vec![
            Error::ModuleNotFound { path: s("/m.so") },
            Error::ModuleNotResponding {
                module: s("/m.so"),
                seconds: 4,
            },
            Error::ModuleBusy { module: s("/m.so") },
            Error::ModuleCrashed {
                module: s("/m.so"),
                signal: Some(11),
                status: None,
                retry_s: 5,
            },
            Error::ModuleCrashed {
                module: s("/m.so"),
                signal: None,
                status: Some(3),
                retry_s: 60,
            },
            Error::ModuleLoadFailed {
                path: s("/m.so"),
                reason: s("bad ELF"),
            },
            Error::Pkcs11 {
                function: s("C_Login"),
                ckr: 0xA0,
                ckr_name: s("CKR_PIN_INCORRECT"),
            },
            Error::Pkcs11 {
                function: s("C_Login"),
                ckr: 0x9999,
                ckr_name: s("CKR_VENDOR"),
            },
            Error::ModuleMisbehaved { reason: s("x") },
            Error::CertificateInvalid { reason: s("x") },
            Error::TokenNotFound { serial: s("S1") },
            Error::TokenAmbiguous {
                serial: s("S1"),
                modules: vec![s("/a.so"), s("/b.so")],
            },
            Error::SeveralTokens {
                keys: vec![s("S1"), s("S2")],
            },
            Error::CaUnknown {
                issuer: Some(s("CN=CA")),
            },
            Error::CaUnknown { issuer: None },
            Error::CertificateNotFound {
                serial: s("S1"),
                id: s("01"),
            },
            Error::PinLocked { serial: s("S1") },
            Error::PinFinalTry { serial: s("S1") },
            Error::PinIncorrect {
                serial: s("S1"),
                count_low: true,
                final_try: false,
                locked: false,
            },
            Error::PinLength { min: 6, max: 16 },
            Error::InvalidArgument {
                name: s("--id"),
                reason: s("empty"),
            },
            Error::ConfigInvalid {
                path: s("/c.toml"),
                reason: s("x"),
            },
            Error::Io {
                path: s("/f"),
                reason: s("denied"),
            },
            Error::MechanismUnsupported {
                serial: s("S1"),
                mechanism: s("SM2"),
            },
            Error::TokenSignatureInvalid { reason: s("x") },
            Error::Network {
                url: s("https://ca"),
                reason: s("timeout"),
            },
            Error::ServiceResponse { reason: s("x") },
            Error::NotApplicable {
                reason: s("something_new"),
                days_left: None,
            },
            Error::SecretEnv {
                problem: s("something_new"),
                var: s("CERTKEY_PIN"),
                detail: s("x"),
            },
            Error::Cancelled,
        ];
        for rule in [
            "not_printable",
            "too_short",
            "too_long",
            "all_same",
            "sequence",
            "default_pin",
            "same_as_old",
            "mismatch",
            "other",
        ] {
            all.push(Error::PinPolicy {
                rule: s(rule),
                min: 6,
                max: 16,
            });
        }
        for code in [
            "activation_code_invalid",
            "rate_limited",
            "renewal_not_open",
            "seal_exists",
            "invalid_holder",
            "renewal_term_mismatch",
            "renewal_entitlement_required",
            "invalid_term",
            "ticket_not_found",
            "something_new",
        ] {
            all.push(service(code, true));
            all.push(service(code, false));
        }
        for reason in [
            "renewal_not_open",
            "no_seal",
            "so_pin_mismatch",
            "unlock_not_pending",
            "attachment_limit",
            "unlock_other_service",
        ] {
            for days_left in [Some(40), None] {
                all.push(Error::NotApplicable {
                    reason: s(reason),
                    days_left,
                });
            }
        }
        for code in [
            "image_format",
            "seal_size",
            "image_too_large",
            "attachment_type",
            "attachment_too_large",
            "attachment_file_name",
        ] {
            all.push(Error::InvalidArgument {
                name: s("image"),
                reason: format!("{code}: x"),
            });
        }
        all
    }

    /// Numbers the variants; without a wildcard arm, a new variant does not compile
    /// until it is numbered here, and then the test wants a value of it.
    fn variant(e: &Error) -> usize {
        match e {
            Error::ModuleNotFound { .. } => 0,
            Error::ModuleLoadFailed { .. } => 1,
            Error::Pkcs11 { .. } => 2,
            Error::ModuleMisbehaved { .. } => 3,
            Error::CertificateInvalid { .. } => 4,
            Error::TokenNotFound { .. } => 5,
            Error::TokenAmbiguous { .. } => 6,
            Error::SeveralTokens { .. } => 7,
            Error::CaUnknown { .. } => 8,
            Error::CertificateNotFound { .. } => 9,
            Error::PinLocked { .. } => 10,
            Error::PinFinalTry { .. } => 11,
            Error::PinIncorrect { .. } => 12,
            Error::PinLength { .. } => 13,
            Error::InvalidArgument { .. } => 14,
            Error::ConfigInvalid { .. } => 15,
            Error::Io { .. } => 16,
            Error::MechanismUnsupported { .. } => 17,
            Error::TokenSignatureInvalid { .. } => 18,
            Error::PinPolicy { .. } => 19,
            Error::Service { .. } => 20,
            Error::Network { .. } => 21,
            Error::ServiceResponse { .. } => 22,
            Error::NotApplicable { .. } => 23,
            Error::SecretEnv { .. } => 24,
            Error::Cancelled => 25,
            Error::ModuleNotResponding { .. } => 26,
            Error::ModuleBusy { .. } => 27,
            Error::ModuleCrashed { .. } => 28,
        }
    }
    const VARIANTS: usize = 29;

    #[test]
    fn every_core_error_has_a_message_in_both_languages_that_formats_cleanly() {
        let errors = every_error();
        let seen: std::collections::BTreeSet<usize> = errors.iter().map(variant).collect();
        assert_eq!(seen.len(), VARIANTS, "every_error() misses a variant");
        for e in &errors {
            for lang in Lang::ALL {
                let id = format!("error-{}", e.code());
                assert!(Catalog::has(lang, &id), "{}: no {id}", lang.code());
                if let Err(p) = Catalog::try_error(lang, e) {
                    panic!("{e:?}: {p}");
                }
            }
        }
    }

    #[test]
    fn every_workflow_step_has_a_message_in_both_languages() {
        use certkey_core::workflow::Step;
        let steps = [
            Step::ReadToken,
            Step::ContactService,
            Step::CheckCode,
            Step::Login,
            Step::SetPin,
            Step::GenerateKey,
            Step::SignRequest,
            Step::RequestCertificate,
            Step::InstallCertificate,
            Step::SignSeal,
            Step::MakeSeal,
            Step::WriteSeal,
            Step::Verify,
            Step::CleanUp,
        ];
        // Without a wildcard arm, a new step does not compile until it is listed here.
        for step in steps {
            match step {
                Step::ReadToken
                | Step::ContactService
                | Step::CheckCode
                | Step::Login
                | Step::SetPin
                | Step::GenerateKey
                | Step::SignRequest
                | Step::RequestCertificate
                | Step::InstallCertificate
                | Step::SignSeal
                | Step::MakeSeal
                | Step::WriteSeal
                | Step::Verify
                | Step::CleanUp => {}
            }
            let name = serde_json::to_value(step).unwrap_or_default();
            let id = format!("step-{}", name.as_str().unwrap_or_default());
            for lang in Lang::ALL {
                assert!(
                    Catalog::try_text(lang, &id, &[]).is_ok(),
                    "{}: {id}",
                    lang.code()
                );
            }
        }
    }

    #[test]
    fn pkcs11_errors_explain_common_codes() {
        let e = Error::Pkcs11 {
            function: "C_Login".into(),
            ckr: 0xA4,
            ckr_name: "CKR_PIN_LOCKED".into(),
        };
        assert_eq!(
            error_text(Lang::ZhCn, &e),
            "C_Login 返回 CKR_PIN_LOCKED (0xA4) (PIN 码已锁定)"
        );
        assert_eq!(
            error_text(Lang::En, &e),
            "C_Login returned CKR_PIN_LOCKED (0xA4) (PIN locked)"
        );
    }

    #[test]
    fn module_errors_name_the_path_in_both_languages() {
        let e = Error::ModuleNotFound {
            path: "/x/lib.so".into(),
        };
        assert!(error_text(Lang::ZhCn, &e).contains("/x/lib.so"));
        assert!(error_text(Lang::En, &e).contains("/x/lib.so"));
    }
}
