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

use crate::i18n::{error_text, Lang};

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

    fn t(&self, zh: &str, en: &str) -> String {
        self.lang.t(zh, en).to_string()
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
                reason: self.t(
                    "没有终端可以输入，请设置该环境变量",
                    "no terminal to ask on: set this environment variable",
                ),
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

    fn step_text(&self, step: Step) -> String {
        let (zh, en) = match step {
            Step::ReadToken => ("读取 Key", "reading the key"),
            Step::ContactService => ("联系 CA 服务", "contacting the CA service"),
            Step::CheckCode => ("核验激活码", "checking the activation code"),
            Step::Login => ("登录 Key", "logging in to the key"),
            Step::SetPin => ("设置 PIN 码", "setting the PIN"),
            Step::GenerateKey => ("在 Key 内生成密钥对", "generating the key pair on the key"),
            Step::SignRequest => (
                "在 Key 内签署证书请求",
                "signing the certificate request on the key",
            ),
            Step::RequestCertificate => ("CA 签发证书", "the CA issues the certificate"),
            Step::InstallCertificate => ("写入证书", "writing the certificate"),
            Step::SignSeal => (
                "在 Key 内签署印章申请",
                "signing the seal request on the key",
            ),
            Step::MakeSeal => ("CA 制作电子印章", "the CA makes the electronic seal"),
            Step::WriteSeal => ("写入电子印章", "writing the seal onto the key"),
            Step::Verify => ("检查结果", "checking the result"),
            Step::CleanUp => ("清理", "cleaning up"),
        };
        self.t(zh, en)
    }
}

impl Interaction for Terminal {
    fn step(&self, step: Step, index: usize, total: usize) {
        let text = self.step_text(step);
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
                let kind = crate::render::cert_type_text(self.lang, order.cert_type);
                match self.lang {
                    Lang::ZhCn => format!(
                        "Key {serial} 的待激活订单：持有人 {}，{kind}，有效期 {} 年，密钥算法 {alg}。确认激活？",
                        order.holder, order.years
                    ),
                    Lang::En => format!(
                        "Pending order for key {serial}: holder {}, {kind}, {} year(s), {alg} key. Activate?",
                        order.holder, order.years
                    ),
                }
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
                reason: self.t(
                    "需要确认，但没有终端可以提问：确认无误后加 --yes",
                    "a confirmation is needed and there is no terminal: add --yes when sure",
                ),
            });
        }
        let prompt = self.t("确认请输入 y 并回车：", "type y and Enter to confirm: ");
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
                let prompt = match (self.lang, attempts_left) {
                    (Lang::ZhCn, Some(n)) => format!("请输入 6 位激活码（还可尝试 {n} 次）："),
                    (Lang::ZhCn, None) => "请输入 6 位激活码：".to_string(),
                    (Lang::En, Some(n)) => format!("6-digit activation code ({n} tries left): "),
                    (Lang::En, None) => "6-digit activation code: ".to_string(),
                };
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
                let warn = match (self.lang, final_try, count_low) {
                    (Lang::ZhCn, true, _) => "（最后一次机会）",
                    (Lang::ZhCn, false, true) => "（剩余次数不多）",
                    (Lang::En, true, _) => " (final try)",
                    (Lang::En, false, true) => " (few tries left)",
                    _ => "",
                };
                let prompt = match self.lang {
                    Lang::ZhCn => format!("请输入 Key {serial} 的 PIN 码{warn}："),
                    Lang::En => format!("PIN of key {serial}{warn}: "),
                };
                self.prompt_hidden(&prompt, "CERTKEY_PIN")
            }
            SecretKind::NewPin { min, max } => {
                if let Some(v) = self.env_once("CERTKEY_NEW_PIN")? {
                    return Ok(v);
                }
                if !self.asked_new_pin.replace(true) {
                    self.say(&match self.lang {
                        Lang::ZhCn => format!(
                            "请设置新的 PIN 码：{min} 到 {max} 位，不能全部相同、不能是连续数字或字母、不能是出厂默认 PIN。"
                        ),
                        Lang::En => format!(
                            "Choose a new PIN: {min} to {max} characters, not one repeated character, not a run like 123456, not the factory PIN."
                        ),
                    });
                }
                for _ in 0..3 {
                    let first =
                        self.prompt_hidden(&self.t("新 PIN 码：", "new PIN: "), "CERTKEY_NEW_PIN")?;
                    let again = self.prompt_hidden(
                        &self.t("再次输入新 PIN 码：", "new PIN again: "),
                        "CERTKEY_NEW_PIN",
                    )?;
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
        let text = match notice {
            Notice::Resuming { operation } => match self.lang {
                Lang::ZhCn => format!("上次的{}被中断，现在继续完成。", operation_zh(operation)),
                Lang::En => format!("finishing an interrupted {operation}"),
            },
            Notice::Rejected { error } => error_text(self.lang, error),
            Notice::ExistingSeal { serial } => match self.lang {
                Lang::ZhCn => format!("CA 已为这张证书制作过电子印章（一张证书只有一枚），现将该印章写入 Key {serial}"),
                Lang::En => format!("the CA already made this certificate's seal (one per certificate): writing that seal onto key {serial}"),
            },
            Notice::PinMustChange { serial } => match self.lang {
                Lang::ZhCn => format!("Key {serial} 要求先修改 PIN 码"),
                Lang::En => format!("key {serial} requires a new PIN first"),
            },
            Notice::PinCountLow { serial } => match self.lang {
                Lang::ZhCn => format!("注意：Key {serial} 的 PIN 剩余尝试次数不多了"),
                Lang::En => format!("careful: key {serial} has few PIN tries left"),
            },
        };
        self.say(&text);
    }
}

fn operation_zh(op: &str) -> &'static str {
    match op {
        "activate" => "激活",
        "renew" => "续期",
        "unlock" => "解锁",
        "seal" => "印章写入",
        _ => "操作",
    }
}
