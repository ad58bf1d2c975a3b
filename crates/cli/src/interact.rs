//! The terminal side of core's workflows: progress with indicatif, yes/no questions,
//! PINs and codes read without echo — or, for automation, from CERTKEY_PIN,
//! CERTKEY_NEW_PIN, CERTKEY_ACTIVATION_CODE (each also as `*_FILE`, naming a file that
//! holds it) and `--yes`. An answer taken from the
//! environment is never offered twice: asked again, the workflow stops.

use std::cell::{Cell, RefCell};
use std::io::IsTerminal;

use certkey_core::workflow::{Confirm, Interaction, Notice, SecretKind, Step};
use certkey_core::Error;
use indicatif::{ProgressBar, ProgressStyle};
use secrecy::{ExposeSecret, SecretString};

use crate::i18n::{error_text, flag, optional, t, tr, Lang};

/// Answers for a command.
pub struct Terminal {
    lang: Lang,
    yes: bool,
    final_try_ok: bool,
    quiet: bool,
    bar: RefCell<Option<ProgressBar>>,
    used_env: RefCell<Vec<&'static str>>,
    asked_new_pin: Cell<bool>,
}

impl Terminal {
    /// `yes` answers confirmations; `final_try_ok` allows the final PIN try; `quiet`
    /// (JSON output) keeps stderr free of progress lines when it is not a terminal.
    pub fn new(lang: Lang, yes: bool, final_try_ok: bool, quiet: bool) -> Self {
        Terminal {
            lang,
            yes,
            final_try_ok,
            quiet,
            bar: RefCell::new(None),
            used_env: RefCell::new(Vec::new()),
            asked_new_pin: Cell::new(false),
        }
    }

    /// Ends the progress display.
    pub fn finish(&self) {
        if let Some(bar) = self.bar.borrow_mut().take() {
            bar.finish_and_clear();
        }
    }

    fn say(&self, text: &str) {
        match self.bar.borrow().as_ref() {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    /// A secret from `var` or the file `var_FILE` names, once.
    fn env_once(&self, var: &'static str) -> Result<Option<SecretString>, Error> {
        let Some(v) = certkey_protocol::secret_from_env(var)? else {
            return Ok(None);
        };
        let mut used = self.used_env.borrow_mut();
        if used.contains(&var) {
            // The value was refused once; trying it again cannot help.
            return Err(Error::Cancelled);
        }
        used.push(var);
        Ok(Some(SecretString::from(v.expose())))
    }

    fn prompt_hidden(&self, prompt: &str, var: &str) -> Result<SecretString, Error> {
        if !std::io::stdin().is_terminal() {
            return Err(Error::InvalidArgument {
                name: var.to_string(),
                reason: t(self.lang, "cli-no-terminal"),
            });
        }
        let answer = match self.bar.borrow().as_ref() {
            Some(bar) => bar.suspend(|| rpassword::prompt_password(prompt)),
            None => rpassword::prompt_password(prompt),
        };
        answer.map(SecretString::from).map_err(|e| Error::Io {
            path: "<terminal>".into(),
            reason: e.to_string(),
        })
    }
}

impl Interaction for Terminal {
    fn step(&self, step: Step, index: usize, total: usize) {
        let text = t(self.lang, &format!("step-{}", serde_name(&step)));
        let mut bar = self.bar.borrow_mut();
        if std::io::stderr().is_terminal() {
            let b = bar.get_or_insert_with(|| {
                let b = ProgressBar::new(total as u64);
                if let Ok(style) =
                    ProgressStyle::with_template("{bar:24.cyan/blue} {pos}/{len} {msg}")
                {
                    b.set_style(style);
                }
                b
            });
            b.set_length(total as u64);
            b.set_position(index as u64 + 1);
            b.set_message(text);
        } else if !self.quiet {
            eprintln!("[{}/{total}] {text}", index + 1);
        }
    }

    fn confirm(&self, question: &Confirm) -> Result<bool, Error> {
        let text = match question {
            Confirm::Activate { serial, order } => {
                let alg = match order.key_algorithm {
                    certkey_protocol::v1::KeyAlgorithm::Sm2 => "SM2",
                    certkey_protocol::v1::KeyAlgorithm::P256 => "P-256",
                };
                tr(
                    self.lang,
                    "confirm-activate",
                    &[
                        ("serial", serial.as_str().into()),
                        ("holder", order.holder.as_str().into()),
                        ("cert_type", order.cert_type.as_str().into()),
                        ("years", order.years.into()),
                        ("key_algorithm", alg.into()),
                    ],
                )
            }
            // Only --final-try-ok spends the last try; core reports the refusal.
            Confirm::FinalTry { .. } => return Ok(self.final_try_ok),
        };
        self.say(&text);
        if self.yes {
            return Ok(true);
        }
        if !std::io::stdin().is_terminal() {
            return Err(Error::InvalidArgument {
                name: "--yes".into(),
                reason: t(self.lang, "cli-confirm-no-terminal"),
            });
        }
        let prompt = t(self.lang, "cli-confirm-prompt");
        let mut line = String::new();
        match self.bar.borrow().as_ref() {
            Some(bar) => bar.suspend(|| {
                eprint!("{prompt}");
                std::io::stdin().read_line(&mut line)
            }),
            None => {
                eprint!("{prompt}");
                std::io::stdin().read_line(&mut line)
            }
        }
        .map_err(|e| Error::Io {
            path: "<terminal>".into(),
            reason: e.to_string(),
        })?;
        Ok(matches!(line.trim(), "y" | "Y" | "yes" | "是"))
    }

    fn secret(&self, kind: &SecretKind) -> Result<SecretString, Error> {
        match kind {
            SecretKind::ActivationCode { attempts_left } => {
                if let Some(v) = self.env_once("CERTKEY_ACTIVATION_CODE")? {
                    return Ok(v);
                }
                let prompt = tr(
                    self.lang,
                    "secret-activation_code",
                    &[("attempts_left", optional(*attempts_left))],
                );
                self.prompt_hidden(&prompt, "CERTKEY_ACTIVATION_CODE")
            }
            SecretKind::CurrentPin {
                serial,
                count_low,
                final_try,
            } => {
                if let Some(v) = self.env_once("CERTKEY_PIN")? {
                    return Ok(v);
                }
                let prompt = tr(
                    self.lang,
                    "secret-current_pin",
                    &[
                        ("serial", serial.as_str().into()),
                        ("count_low", flag(*count_low)),
                        ("final_try", flag(*final_try)),
                    ],
                );
                self.prompt_hidden(&prompt, "CERTKEY_PIN")
            }
            SecretKind::NewPin { min, max } => {
                if let Some(v) = self.env_once("CERTKEY_NEW_PIN")? {
                    return Ok(v);
                }
                if !self.asked_new_pin.replace(true) {
                    self.say(&tr(
                        self.lang,
                        "secret-new_pin",
                        &[("min", (*min).into()), ("max", (*max).into())],
                    ));
                }
                for _ in 0..3 {
                    let first =
                        self.prompt_hidden(&t(self.lang, "cli-new-pin"), "CERTKEY_NEW_PIN")?;
                    let again =
                        self.prompt_hidden(&t(self.lang, "cli-new-pin-again"), "CERTKEY_NEW_PIN")?;
                    if first.expose_secret() == again.expose_secret() {
                        return Ok(first);
                    }
                    self.say(&error_text(
                        self.lang,
                        &Error::PinPolicy {
                            rule: "mismatch".into(),
                            min: *min,
                            max: *max,
                        },
                    ));
                }
                Err(Error::Cancelled)
            }
        }
    }

    fn notice(&self, notice: &Notice) {
        let lang = self.lang;
        let serial = |id: &str, serial: &str| tr(lang, id, &[("serial", serial.into())]);
        let text = match notice {
            Notice::Resuming { operation } => tr(
                lang,
                "notice-resuming",
                &[("operation", operation.as_str().into())],
            ),
            Notice::Rejected { error } => error_text(lang, error),
            Notice::ExistingSeal { serial: s } => serial("notice-existing_seal", s),
            Notice::PinMustChange { serial: s } => serial("notice-pin_must_change", s),
            Notice::CheckingRequest { serial: s } => serial("notice-checking_request", s),
            Notice::PinCountLow { serial: s } => serial("notice-pin_count_low", s),
        };
        self.say(&text);
    }
}

/// The name a value serialises to (`Step::ReadToken` -> `read_token`): the catalog
/// names the workflow's words as core serialises them.
fn serde_name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
