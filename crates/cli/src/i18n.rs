//! zh-CN and English text for everything the CLI prints. Core errors are translated
//! by their stable code.

use certkey_core::Error;

/// Output language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// 简体中文.
    #[value(name = "zh-CN", alias = "zh", alias = "zh_CN")]
    ZhCn,
    /// English.
    #[value(name = "en", alias = "en-US")]
    En,
}

impl Lang {
    /// From the locale environment (LC_ALL, LC_MESSAGES, LANG): Chinese gives zh-CN,
    /// anything else English.
    pub fn from_env() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(v) = std::env::var(var) {
                if !v.is_empty() {
                    return if v.to_ascii_lowercase().starts_with("zh") {
                        Lang::ZhCn
                    } else {
                        Lang::En
                    };
                }
            }
        }
        Lang::En
    }

    /// Picks the text for this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::ZhCn => zh,
            Lang::En => en,
        }
    }
}

/// What a CKR means for a user, where it is worth saying more than its name.
fn ckr_hint(lang: Lang, ckr: u64) -> Option<&'static str> {
    Some(match ckr {
        0x32 => lang.t("设备已拔出", "the key was removed"),
        0xE0 => lang.t("未插入设备", "no key in the slot"),
        0x30 => lang.t("设备错误", "device error"),
        0x31 => lang.t("设备存储空间不足", "the key's memory is full"),
        0xA0 => lang.t("PIN 码错误", "wrong PIN"),
        0xA4 => lang.t("PIN 码已锁定", "PIN locked"),
        0xA3 => lang.t("PIN 码已过期", "PIN expired"),
        0x54 => lang.t("驱动不支持此功能", "the driver does not support this"),
        0x190 => lang.t("驱动未初始化", "the driver is not initialised"),
        0x6 => lang.t("驱动内部错误", "the driver failed"),
        0x5 => lang.t("驱动一般错误", "general error in the driver"),
        _ => return None,
    })
}

/// A user-facing sentence for a core error.
pub fn error_text(lang: Lang, e: &Error) -> String {
    match (lang, e) {
        (Lang::ZhCn, Error::ModuleNotFound { path }) => format!("找不到 PKCS#11 驱动模块 {path}（文件不存在）"),
        (Lang::En, Error::ModuleNotFound { path }) => format!("PKCS#11 module {path} does not exist"),
        (Lang::ZhCn, Error::ModuleLoadFailed { path, reason }) => format!("无法加载 PKCS#11 驱动模块 {path}：{reason}"),
        (Lang::En, Error::ModuleLoadFailed { path, reason }) => format!("cannot load PKCS#11 module {path}: {reason}"),
        (_, Error::Pkcs11 { function, ckr, ckr_name }) => {
            let hint = ckr_hint(lang, *ckr).map(|h| format!(" ({h})")).unwrap_or_default();
            match lang {
                Lang::ZhCn => format!("{function} 返回 {ckr_name} (0x{ckr:X}){hint}"),
                Lang::En => format!("{function} returned {ckr_name} (0x{ckr:X}){hint}"),
            }
        }
        (Lang::ZhCn, Error::ModuleMisbehaved { reason }) => format!("驱动模块行为异常：{reason}"),
        (Lang::En, Error::ModuleMisbehaved { reason }) => format!("the PKCS#11 module misbehaved: {reason}"),
        (Lang::ZhCn, Error::CertificateInvalid { reason }) => format!("证书无法解析：{reason}"),
        (Lang::En, Error::CertificateInvalid { reason }) => format!("the certificate does not parse: {reason}"),
        (Lang::ZhCn, Error::TokenNotFound { serial }) => format!("未找到序列号为 {serial} 的 Key，请确认已插入"),
        (Lang::En, Error::TokenNotFound { serial }) => format!("no key with serial {serial} is present"),
        (Lang::ZhCn, Error::TokenAmbiguous { serial, modules }) => format!(
            "序列号 {serial} 同时出现在多个驱动中：{}；请用 --no-auto-modules --module 指定一个",
            modules.join(", ")
        ),
        (Lang::En, Error::TokenAmbiguous { serial, modules }) => format!(
            "serial {serial} is present on several modules: {}; pick one with --no-auto-modules --module",
            modules.join(", ")
        ),
        (Lang::ZhCn, Error::CertificateNotFound { serial, id }) => format!("Key {serial} 上没有 ID 为 {id} 的证书"),
        (Lang::En, Error::CertificateNotFound { serial, id }) => format!("no certificate with id {id} on key {serial}"),
        (Lang::ZhCn, Error::PinLocked { serial }) => format!("Key {serial} 的 PIN 码已锁定，请使用在线解锁"),
        (Lang::En, Error::PinLocked { serial }) => format!("the PIN of key {serial} is locked; use online unlock"),
        (Lang::ZhCn, Error::PinFinalTry { serial }) => format!(
            "Key {serial} 只剩最后一次 PIN 尝试机会，再错将锁定；确认无误后加 --final-try-ok 重试"
        ),
        (Lang::En, Error::PinFinalTry { serial }) => format!(
            "key {serial} has one PIN try left and locks after another wrong PIN; add --final-try-ok when sure"
        ),
        (Lang::ZhCn, Error::PinIncorrect { serial, count_low, final_try, locked }) => {
            let state = if *locked {
                "，Key 已锁定"
            } else if *final_try {
                "，仅剩最后一次机会"
            } else if *count_low {
                "，剩余尝试次数已减少"
            } else {
                ""
            };
            format!("Key {serial} 的 PIN 码错误{state}")
        }
        (Lang::En, Error::PinIncorrect { serial, count_low, final_try, locked }) => {
            let state = if *locked {
                "; the key is now locked"
            } else if *final_try {
                "; one try left"
            } else if *count_low {
                "; fewer tries left"
            } else {
                ""
            };
            format!("wrong PIN for key {serial}{state}")
        }
        (Lang::ZhCn, Error::PinLength { min, max }) => format!("PIN 码长度应为 {min} 到 {max} 位"),
        (Lang::En, Error::PinLength { min, max }) => format!("the PIN must have {min} to {max} characters"),
        (Lang::ZhCn, Error::InvalidArgument { name, reason }) => format!("参数 {name} 无效：{reason}"),
        (Lang::En, Error::InvalidArgument { name, reason }) => format!("invalid {name}: {reason}"),
        (Lang::ZhCn, Error::ConfigInvalid { path, reason }) => format!("配置文件 {path} 有误：{reason}"),
        (Lang::En, Error::ConfigInvalid { path, reason }) => format!("configuration file {path} is invalid: {reason}"),
        (Lang::ZhCn, Error::Io { path, reason }) => format!("读写 {path} 失败：{reason}"),
        (Lang::En, Error::Io { path, reason }) => format!("{path}: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_errors_name_the_path_in_both_languages() {
        let e = Error::ModuleNotFound {
            path: "/x/lib.so".into(),
        };
        assert!(error_text(Lang::ZhCn, &e).contains("/x/lib.so"));
        assert!(error_text(Lang::En, &e).contains("/x/lib.so"));
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
}
