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
        (Lang::ZhCn, Error::ModuleNotResponding { module, seconds }) => format!("驱动模块 {module} 已 {seconds} 秒无响应，请拔出 Key 后重新插入，或重新安装该驱动"),
        (Lang::En, Error::ModuleNotResponding { module, seconds }) => format!("PKCS#11 module {module} has not answered for {seconds} s: pull the key out and put it back, or reinstall the driver"),
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
        (Lang::ZhCn, Error::SeveralTokens { keys }) => format!(
            "插入了多个 Key，无法确定要操作哪一个：{}；请用 --token 指定（序列号，或 slot:编号、label:名称）",
            keys.join("；")
        ),
        (Lang::En, Error::SeveralTokens { keys }) => format!(
            "several keys fit: {}; name one with --token (its serial, or slot:ID, label:TEXT)",
            keys.join("; ")
        ),
        (Lang::ZhCn, Error::CaUnknown { issuer: Some(issuer) }) => format!(
            "没有为签发者 {issuer} 配置 CA 服务：请在配置文件的 CA 目录（[[ca]]）中添加该 CA，或用 --service 指定服务地址"
        ),
        (Lang::En, Error::CaUnknown { issuer: Some(issuer) }) => format!(
            "no CA service is configured for certificates issued by {issuer}: add the CA to the CA directory ([[ca]] in the config) or name the service with --service"
        ),
        (Lang::ZhCn, Error::CaUnknown { issuer: None }) => "没有配置 CA 服务：请在配置文件中设置 default_ca 或 CA 目录（[[ca]]），或用 --service 指定服务地址".into(),
        (Lang::En, Error::CaUnknown { issuer: None }) => "no CA service is configured: set default_ca or the CA directory ([[ca]]) in the config, or name the service with --service".into(),
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
        (_, Error::InvalidArgument { name, reason }) if name == "image" || name == "seal size" => {
            image_text(lang, reason)
        }
        (Lang::ZhCn, Error::InvalidArgument { name, reason }) => format!("参数 {name} 无效：{reason}"),
        (Lang::En, Error::InvalidArgument { name, reason }) => format!("invalid {name}: {reason}"),
        (Lang::ZhCn, Error::ConfigInvalid { path, reason }) => format!("配置文件 {path} 有误：{reason}"),
        (Lang::En, Error::ConfigInvalid { path, reason }) => format!("configuration file {path} is invalid: {reason}"),
        (Lang::ZhCn, Error::Io { path, reason }) => format!("读写 {path} 失败：{reason}"),
        (Lang::En, Error::Io { path, reason }) => format!("{path}: {reason}"),
        (Lang::ZhCn, Error::MechanismUnsupported { serial, mechanism }) => format!("Key {serial} 不支持 {mechanism}"),
        (Lang::En, Error::MechanismUnsupported { serial, mechanism }) => format!("key {serial} does not support {mechanism}"),
        (Lang::ZhCn, Error::TokenSignatureInvalid { reason }) => format!("Key 生成的签名无法验证：{reason}"),
        (Lang::En, Error::TokenSignatureInvalid { reason }) => format!("the key's signature does not verify: {reason}"),
        (_, Error::PinPolicy { rule, min, max }) => pin_policy_text(lang, rule, *min, *max),
        (_, Error::Service { service_code, message, attempts_left, retry_after_s, days_left, .. }) => {
            service_text(lang, service_code, message, *attempts_left, *retry_after_s, *days_left)
        }
        (Lang::ZhCn, Error::Network { url, reason }) => format!("无法连接 CA 服务 {url}：{reason}。请检查网络后重试"),
        (Lang::En, Error::Network { url, reason }) => format!("cannot reach the CA service at {url}: {reason}; check the network and retry"),
        (Lang::ZhCn, Error::ServiceResponse { reason }) => format!("CA 服务的应答无法识别：{reason}"),
        (Lang::En, Error::ServiceResponse { reason }) => format!("unexpected answer from the CA service: {reason}"),
        (_, Error::NotApplicable { reason, days_left }) => not_applicable_text(lang, reason, *days_left),
        (_, Error::SecretEnv { problem, var, detail }) => secret_env_text(lang, problem, var, detail),
        (Lang::ZhCn, Error::Cancelled) => "已取消".to_string(),
        (Lang::En, Error::Cancelled) => "cancelled".to_string(),
    }
}

fn pin_policy_text(lang: Lang, rule: &str, min: usize, max: usize) -> String {
    match (lang, rule) {
        (Lang::ZhCn, "too_short" | "too_long") => format!("新 PIN 码长度应为 {min} 到 {max} 位"),
        (Lang::En, "too_short" | "too_long") => {
            format!("the new PIN must have {min} to {max} characters")
        }
        (Lang::ZhCn, "all_same") => "新 PIN 码不能全是同一个字符".into(),
        (Lang::En, "all_same") => "the new PIN cannot be one repeated character".into(),
        (Lang::ZhCn, "sequence") => "新 PIN 码不能是连续递增或递减的字符（如 123456）".into(),
        (Lang::En, "sequence") => {
            "the new PIN cannot be an ascending or descending run (like 123456)".into()
        }
        (Lang::ZhCn, "default_pin") => "新 PIN 码不能是出厂默认 PIN".into(),
        (Lang::En, "default_pin") => "the new PIN cannot be the factory default PIN".into(),
        (Lang::ZhCn, "same_as_old") => "新 PIN 码不能与旧 PIN 码相同".into(),
        (Lang::En, "same_as_old") => "the new PIN must differ from the old one".into(),
        (Lang::ZhCn, "not_printable") => "新 PIN 码只能包含可见的 ASCII 字符".into(),
        (Lang::En, "not_printable") => "the new PIN may only hold visible ASCII characters".into(),
        (Lang::ZhCn, "mismatch") => "两次输入的新 PIN 码不一致".into(),
        (Lang::En, "mismatch") => "the two new PINs differ".into(),
        (Lang::ZhCn, other) => format!("新 PIN 码不符合要求（{other}）"),
        (Lang::En, other) => format!("the new PIN is not acceptable ({other})"),
    }
}

fn service_text(
    lang: Lang,
    code: &str,
    message: &str,
    attempts_left: Option<u32>,
    retry_after_s: Option<u64>,
    days_left: Option<i64>,
) -> String {
    let zh = |s: &str| s.to_string();
    match (lang, code) {
        (Lang::ZhCn, "activation_code_invalid") => match attempts_left {
            Some(0) | None => zh("激活码错误，订单已锁定，请联系 CA 重新获取激活码"),
            Some(n) => format!("激活码错误，还可尝试 {n} 次"),
        },
        (Lang::En, "activation_code_invalid") => match attempts_left {
            Some(0) | None => "wrong activation code; the order is now locked: ask the CA for a new code".into(),
            Some(n) => format!("wrong activation code; {n} tries left"),
        },
        (Lang::ZhCn, "order_locked") => zh("激活码错误次数过多，订单已锁定，请联系 CA 重新获取激活码"),
        (Lang::En, "order_locked") => "too many wrong codes: the order is locked; ask the CA for a new code".into(),
        (Lang::ZhCn, "code_expired") => zh("激活码已过期（有效期 30 天），请联系 CA 重新获取"),
        (Lang::En, "code_expired") => "the activation code has expired (valid 30 days); ask the CA for a new one".into(),
        (Lang::ZhCn, "order_not_found") => zh("CA 没有这把 Key 的待激活订单"),
        (Lang::En, "order_not_found") => "the CA has no pending order for this key".into(),
        (Lang::ZhCn, "already_activated") => zh("这把 Key 已经激活过"),
        (Lang::En, "already_activated") => "this key was already activated".into(),
        (Lang::ZhCn, "rate_limited") => format!("请求过于频繁，请 {} 秒后重试", retry_after_s.unwrap_or(60)),
        (Lang::En, "rate_limited") => format!("too many requests; retry in {} s", retry_after_s.unwrap_or(60)),
        (Lang::ZhCn, "renewal_not_open") => format!("证书还有 {} 天到期，到期前 90 天内才能在线续期", days_left.unwrap_or_default()),
        (Lang::En, "renewal_not_open") => format!("the certificate has {} days left; online renewal opens 90 days before expiry", days_left.unwrap_or_default()),
        (Lang::ZhCn, "certificate_expired") => zh("证书已过期，无法在线续期，请到 CA 柜台办理"),
        (Lang::En, "certificate_expired") => "the certificate has expired and cannot be renewed online; visit the CA".into(),
        (Lang::ZhCn, "certificate_revoked") => zh("证书已吊销"),
        (Lang::En, "certificate_revoked") => "the certificate is revoked".into(),
        (Lang::ZhCn, "seal_exists") => zh("这张证书已经有电子印章；一张证书只能有一枚印章，需要更多印章请申请新证书"),
        (Lang::En, "seal_exists") => "this certificate already has its electronic seal; another seal needs another certificate".into(),
        (Lang::ZhCn, "invalid_holder") => format!("持证人名称无法写入证书（不超过 64 个字符、不含控制字符）：{message}"),
        (Lang::En, "invalid_holder") => format!("the holder name cannot go into a certificate (at most 64 characters, no control characters): {message}"),
        (Lang::ZhCn, "invalid_org") => format!("机构名称无法写入证书（不超过 64 个字符、不含控制字符）：{message}"),
        (Lang::En, "invalid_org") => format!("the organisation name cannot go into a certificate (at most 64 characters, no control characters): {message}"),
        (Lang::ZhCn, "csr_invalid") => zh("证书请求（CSR）无效：无法解析、密钥不受支持或签名不正确"),
        (Lang::En, "csr_invalid") => "the certificate request (CSR) is invalid: unparsable, unsupported key or bad signature".into(),
        (Lang::ZhCn, "signing_unavailable") => zh("CA 的签名密钥（HSM）暂时不可用，请稍后重试"),
        (Lang::En, "signing_unavailable") => "the CA's signing key (HSM) is unavailable right now; retry later".into(),
        (Lang::ZhCn, "request_timeout") => zh("CA 服务处理超时，请稍后重试"),
        (Lang::En, "request_timeout") => "the CA service took too long to answer; retry later".into(),
        (Lang::ZhCn, "internal") => zh("CA 服务内部错误，请稍后重试或联系 CA"),
        (Lang::En, "internal") => "internal error of the CA service; retry later or contact the CA".into(),
        (Lang::ZhCn, _) => format!("CA 服务拒绝了请求：{message}（{code}）"),
        (Lang::En, _) => format!("the CA service refused: {message} ({code})"),
    }
}

/// A refused seal picture or size; `reason` starts with the seal library's stable
/// code (`image_format: ...`), which stays in the text.
fn image_text(lang: Lang, reason: &str) -> String {
    let code = reason.split(':').next().unwrap_or_default();
    let what = match (lang, code) {
        (Lang::ZhCn, "image_format") => "印章图片只能是 PNG、JPEG 或 BMP 格式",
        (Lang::En, "image_format") => "the seal picture must be a PNG, JPEG or BMP file",
        (Lang::ZhCn, "image_corrupt") => "印章图片已损坏，无法解码",
        (Lang::En, "image_corrupt") => "the seal picture is damaged and cannot be decoded",
        (Lang::ZhCn, "image_dimensions") => "印章图片的像素尺寸过大",
        (Lang::En, "image_dimensions") => "the seal picture has too many pixels",
        (Lang::ZhCn, "image_too_large") => "印章图片文件过大（最大 4 MiB）",
        (Lang::En, "image_too_large") => "the seal picture file is too large (4 MiB at most)",
        (Lang::ZhCn, "image_empty") => "去掉白色背景后印章图片是空的",
        (Lang::En, "image_empty") => {
            "nothing is left of the seal picture once its white background is removed"
        }
        (Lang::ZhCn, "seal_size") => "印章尺寸应为 10 到 100 毫米",
        (Lang::En, "seal_size") => "the seal must be 10 to 100 mm wide and high",
        (Lang::ZhCn, _) => "印章图片不可用",
        (Lang::En, _) => "the seal picture cannot be used",
    };
    match lang {
        Lang::ZhCn => format!("{what}（{reason}）"),
        Lang::En => format!("{what} ({reason})"),
    }
}

fn not_applicable_text(lang: Lang, reason: &str, days_left: Option<i64>) -> String {
    let d = days_left.unwrap_or_default();
    match (lang, reason) {
        (Lang::ZhCn, "renewal_not_open") => {
            format!("证书还有 {d} 天到期；到期前 90 天内才能在线续期")
        }
        (Lang::En, "renewal_not_open") => {
            format!("the certificate has {d} days left; online renewal opens 90 days before expiry")
        }
        (Lang::ZhCn, "certificate_expired") => {
            "证书已过期，无法在线续期，请携带 Key 到 CA 柜台办理".into()
        }
        (Lang::En, "certificate_expired") => {
            "the certificate has expired and cannot be renewed online; take the key to the CA"
                .into()
        }
        (Lang::ZhCn, "pin_not_locked") => "这把 Key 的 PIN 码没有锁定，不需要解锁".into(),
        (Lang::En, "pin_not_locked") => {
            "the PIN of this key is not locked; no unlock needed".into()
        }
        (Lang::ZhCn, "no_certificate") => "Key 上没有证书".into(),
        (Lang::En, "no_certificate") => "the key holds no certificate".into(),
        (Lang::ZhCn, "journal_damaged") => {
            "Key 上中断操作的记录与 Key 上的对象不符，为安全起见没有删除任何东西；请联系 CA 或技术支持"
                .into()
        }
        (Lang::En, "journal_damaged") => {
            "the record of an interrupted operation does not match the key's objects; nothing was removed: contact the CA or support"
                .into()
        }
        (Lang::ZhCn, "already_activated") => "这把 Key 已经激活".into(),
        (Lang::En, "already_activated") => "this key is already activated".into(),
        (Lang::ZhCn, "seal_exists") => "这张证书已经有电子印章（一张证书只能有一枚）".into(),
        (Lang::En, "seal_exists") => {
            "this certificate already has its electronic seal (one per certificate)".into()
        }
        (Lang::ZhCn, "token_memory_full") => "Key 的存储空间不足，放不下电子印章".into(),
        (Lang::En, "token_memory_full") => {
            "the key's memory is too full to take the electronic seal".into()
        }
        (Lang::ZhCn, "so_pin_locked") => {
            "这把 Key 的管理员（SO）PIN 已锁定，无法在线解锁，请联系 CA 柜台".into()
        }
        (Lang::En, "so_pin_locked") => {
            "the key's admin (SO) PIN is locked: online unlock is impossible; contact the CA".into()
        }
        (Lang::ZhCn, "so_pin_final_try") => {
            "这把 Key 的管理员（SO）PIN 只剩最后一次机会，为安全起见不再在线尝试，请联系 CA 柜台"
                .into()
        }
        (Lang::En, "so_pin_final_try") => {
            "the key's admin (SO) PIN is at its final try; not risking it online: contact the CA"
                .into()
        }
        (Lang::ZhCn, "so_pin_mismatch") => {
            "CA 记录的管理员（SO）PIN 打不开这把 Key（为保护 Key 已停止尝试）：请联系 CA，由 CA 恢复上一个 SO PIN 后再次运行 certkey unlock"
                .into()
        }
        (Lang::En, "so_pin_mismatch") => {
            "the admin (SO) PIN the CA has on file does not open this key (stopped trying to protect it): contact the CA, which can restore the previous SO PIN, then run certkey unlock again"
                .into()
        }
        (Lang::ZhCn, "unlock_ticket_expired") => {
            "解锁申请的批准已过期（未在有效期内使用）：请再次运行 certkey unlock 重新申请".into()
        }
        (Lang::En, "unlock_ticket_expired") => {
            "the approval of this unlock request expired before it was used: run certkey unlock again to ask anew"
                .into()
        }
        (Lang::ZhCn, "unlock_ticket_used") => {
            "这次解锁申请已经用过，但 PIN 仍然锁定：请重新申请解锁".into()
        }
        (Lang::En, "unlock_ticket_used") => {
            "this unlock request was used up but the PIN is still locked: ask again".into()
        }
        (Lang::ZhCn, "no_pending_unlock") => "这把 Key 没有等待审核的解锁申请".into(),
        (Lang::En, "no_pending_unlock") => "no unlock request waits for this key".into(),
        (Lang::ZhCn, "no_order") => "目录中的 CA 都没有这把 Key 的待激活订单：请确认 Key 和激活码来自同一 CA，或用 --service 指定 CA 服务".into(),
        (Lang::En, "no_order") => "no CA of the directory has an order for this key: check that the key and its code come from the same CA, or name the service with --service".into(),
        (Lang::ZhCn, "no_token") => "没有找到 Key，请插入后重试".into(),
        (Lang::En, "no_token") => "no key found: plug one in and retry".into(),
        (Lang::ZhCn, "order_locked") => {
            "激活码错误次数过多，订单已锁定，请联系 CA 重新获取激活码".into()
        }
        (Lang::En, "order_locked") => {
            "too many wrong codes: the order is locked; ask the CA for a new code".into()
        }
        (Lang::ZhCn, "code_expired") => "激活码已过期（有效期 30 天），请联系 CA 重新获取".into(),
        (Lang::En, "code_expired") => {
            "the activation code has expired (valid 30 days); ask the CA for a new one".into()
        }
        (Lang::ZhCn, "no_seal") => "Key 上没有电子印章".into(),
        (Lang::En, "no_seal") => "the key holds no electronic seal".into(),
        (Lang::ZhCn, other) => format!("当前状态下无法进行此操作（{other}）"),
        (Lang::En, other) => format!("not possible in the key's current state ({other})"),
    }
}

/// Text for a secret that could not be read from `var` / `var_FILE`.
fn secret_env_text(lang: Lang, problem: &str, var: &str, detail: &str) -> String {
    match (lang, problem) {
        (Lang::ZhCn, "secret_env_conflict") => {
            format!("{var} 和 {var}_FILE 同时设置了，请只设置其中一个（推荐 {var}_FILE）")
        }
        (Lang::En, "secret_env_conflict") => {
            format!("{var} and {var}_FILE are both set: set only one (preferably {var}_FILE)")
        }
        (Lang::ZhCn, "secret_file_empty") => format!("{var}_FILE 指向的文件是空的（{detail}）"),
        (Lang::En, "secret_file_empty") => {
            format!("the file named by {var}_FILE is empty: {detail}")
        }
        (Lang::ZhCn, "secret_file_unreadable") => {
            format!("无法读取 {var}_FILE 指向的文件：{detail}")
        }
        (Lang::En, "secret_file_unreadable") => {
            format!("cannot read the file named by {var}_FILE: {detail}")
        }
        (Lang::ZhCn, "secret_env_not_unicode") => format!("{var} 的内容不是有效的 UTF-8 文本"),
        (Lang::En, "secret_env_not_unicode") => format!("{var} is not valid UTF-8 text"),
        (Lang::ZhCn, _) => format!("无法读取 {var}：{detail}"),
        (Lang::En, _) => detail.to_string(),
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
