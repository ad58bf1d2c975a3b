### Errors of certkey-core, by their stable code (crates/core/src/error.rs).
###
### error-<code> is the message of an error; error-<code>-<value> is used instead when
### a sub-code field (service_code, reason, reason_code, problem) has that value.
### Variables are the error's fields; a field that is absent is "none". A ckr field also
### gives $ckr_hex and $ckr_hint (the ckr-0x<HEX> message). See crates/i18n/src/lib.rs.

error-module_not_found = 找不到 PKCS#11 驱动模块 { $path }（文件不存在）
error-module_load_failed = 无法加载 PKCS#11 驱动模块 { $path }：{ $reason }
error-pkcs11 = { $function } 返回 { $ckr_name } (0x{ $ckr_hex }){ $ckr_hint ->
        [none] {""}
       *[other] {" "}({ $ckr_hint })
    }
error-module_misbehaved = 驱动模块行为异常：{ $reason }
error-module_not_responding = 驱动模块 { $module } 已 { $seconds } 秒无响应，请拔出 Key 后重新插入，或重新安装该驱动
error-module_crashed = 驱动模块 { $module } 崩溃了{ $signal ->
        [none] { $status ->
            [none] {""}
           *[other] （退出状态 { $status }）
        }
        [11] （段错误）
        [6] （异常终止）
       *[other] （信号 { $signal }）
    }，暂不显示其上的 Key；{ $retry_s } 秒后自动重试。若反复崩溃，请更新或重新安装该驱动
error-module_busy = 驱动模块 { $module } 一次只能处理一项请求，目前仍在忙（同一驱动下的另一项业务，或读取较慢）：请等它结束后再试
error-certificate_invalid = 证书无法解析：{ $reason }
error-token_not_found = 未找到序列号为 { $serial } 的 Key，请确认已插入
error-token_ambiguous = 序列号 { $serial } 同时出现在多个驱动中：{ $modules }；请用 --no-auto-modules --module 指定一个
error-several_tokens = 插入了多个 Key，无法确定要操作哪一个：{ $keys }；请用 --token 指定（序列号，或 slot:编号、label:名称）
error-ca_unknown = { $issuer ->
        [none] 没有配置 CA 服务：请在配置文件中设置 default_ca 或 CA 目录（[[ca]]），或用 --service 指定服务地址
       *[other] 没有为签发者 { $issuer } 配置 CA 服务：请在配置文件的 CA 目录（[[ca]]）中添加该 CA，或用 --service 指定服务地址
    }
error-certificate_not_found = Key { $serial } 上没有 ID 为 { $id } 的证书
error-pin_locked = Key { $serial } 的 PIN 码已锁定，请使用在线解锁
error-pin_final_try = Key { $serial } 只剩最后一次 PIN 尝试机会，再错将锁定；确认无误后加 --final-try-ok 重试
error-pin_incorrect = Key { $serial } 的 PIN 码错误{ $locked ->
        [true] ，Key 已锁定
       *[other] { $final_try ->
            [true] ，仅剩最后一次机会
           *[other] { $count_low ->
                [true] ，剩余尝试次数已减少
               *[other] {""}
            }
        }
    }
error-pin_length = PIN 码长度应为 { $min } 到 { $max } 位
error-invalid_argument = 参数 { $name } 无效：{ $reason }
error-invalid_argument-image_format = 印章图片只能是 PNG、JPEG 或 BMP 格式（{ $reason }）
error-invalid_argument-image_corrupt = 印章图片已损坏，无法解码（{ $reason }）
error-invalid_argument-image_dimensions = 印章图片的像素尺寸过大（{ $reason }）
error-invalid_argument-image_too_large = 印章图片文件过大（最大 4 MiB）（{ $reason }）
error-invalid_argument-image_empty = 去掉白色背景后印章图片是空的（{ $reason }）
error-invalid_argument-seal_size = 印章尺寸应为 10 到 100 毫米（{ $reason }）
error-invalid_argument-attachment_type = 材料只能是 PDF、JPEG 或 PNG 文件（按文件内容判断，与文件名无关），请重新扫描或另存为这几种格式（{ $reason }）
error-invalid_argument-attachment_too_large = 每个材料文件不能超过 5 MiB，请降低扫描分辨率或拆分后再上传（{ $reason }）
error-invalid_argument-attachment_file_name = 材料的文件名不可用（1 到 128 个字符，不能含控制字符）（{ $reason }）
error-config_invalid = 配置文件 { $path } 有误：{ $reason }
error-io = 读写 { $path } 失败：{ $reason }
error-mechanism_unsupported = Key { $serial } 不支持 { $mechanism }
error-token_signature_invalid = Key 生成的签名无法验证：{ $reason }
error-pin_policy = { $rule ->
        [too_short] { pin-rule-too_short }
        [too_long] { pin-rule-too_long }
        [all_same] { pin-rule-all_same }
        [sequence] { pin-rule-sequence }
        [default_pin] { pin-rule-default_pin }
        [same_as_old] { pin-rule-same_as_old }
        [not_printable] { pin-rule-not_printable }
        [mismatch] { pin-rule-mismatch }
       *[other] 新 PIN 码不符合要求（{ $rule }）
    }
error-network = 无法连接 CA 服务 { $url }：{ $reason }。请检查网络后重试
error-service_response = CA 服务的应答无法识别：{ $reason }
error-cancelled = 已取消

## The CA service refused (error-service, by the service's code).

error-service = CA 服务拒绝了请求：{ $message }（{ $service_code }）
error-service-activation_code_invalid = { $attempts_left ->
        [0] 激活码错误，订单已锁定，请联系 CA 重新获取激活码
        [none] 激活码错误，订单已锁定，请联系 CA 重新获取激活码
       *[other] 激活码错误，还可尝试 { $attempts_left } 次
    }
error-service-order_locked = 激活码错误次数过多，订单已锁定，请联系 CA 重新获取激活码
error-service-code_expired = 激活码已过期（有效期 30 天），请联系 CA 重新获取
error-service-order_not_found = CA 没有这把 Key 的待激活订单
error-service-already_activated = 这把 Key 已经激活过
error-service-rate_limited = 请求过于频繁，请 { $retry_after_s ->
        [none] 60
       *[other] { $retry_after_s }
    } 秒后重试
error-service-renewal_not_open = 证书还有 { $days_left ->
        [none] 0
       *[other] { $days_left }
    } 天到期，到期前 90 天内才能在线续期
error-service-renewal_term_mismatch = { $paid_years ->
        [none] 已缴费的续期年限与所选年限不符：CA 只按已缴年限续期，请选择该年限
       *[other] 已缴费的续期年限是 { $paid_years } 年，与所选年限不符：CA 只按已缴年限续期，请选择 { $paid_years } 年（命令行：--years { $paid_years }）
    }
error-service-renewal_entitlement_required = 该证书需先缴纳续期费用才能续期：续期报价（certkey renew --quote）列出价格和缴费方式
error-service-invalid_term = 续期年限须为 1 至 5 年
error-service-certificate_expired = 证书已过期，无法在线续期，请到 CA 柜台办理
error-service-certificate_revoked = 证书已吊销
error-service-seal_exists = 这张证书已经有电子印章；一张证书只能有一枚印章，需要更多印章请申请新证书
error-service-invalid_holder = 持证人名称无法写入证书（不超过 64 个字符、不含控制字符）：{ $message }
error-service-invalid_org = 机构名称无法写入证书（不超过 64 个字符、不含控制字符）：{ $message }
error-service-csr_invalid = 证书请求（CSR）无效：无法解析、密钥不受支持或签名不正确
error-service-signing_unavailable = CA 的签名密钥（HSM）暂时不可用，请稍后重试
error-service-request_timeout = CA 服务处理超时，请稍后重试
error-service-internal = CA 服务内部错误，请稍后重试或联系 CA
error-service-ticket_not_found = CA 查不到这次解锁申请（可能已失效），请再次运行 certkey unlock 重新申请

## Not possible in the key's current state (error-not_applicable, by reason).

error-not_applicable = 当前状态下无法进行此操作（{ $reason }）
error-not_applicable-renewal_not_open = 证书还有 { $days_left ->
        [none] 0
       *[other] { $days_left }
    } 天到期；到期前 90 天内才能在线续期
error-not_applicable-certificate_expired = 证书已过期，无法在线续期，请携带 Key 到 CA 柜台办理
error-not_applicable-pin_not_locked = 这把 Key 的 PIN 码没有锁定，不需要解锁
error-not_applicable-no_certificate = Key 上没有证书
error-not_applicable-journal_damaged = Key 上中断操作的记录与 Key 上的对象不符，为安全起见没有删除任何东西；请联系 CA 或技术支持
error-not_applicable-already_activated = 这把 Key 已经激活
error-not_applicable-seal_exists = 这张证书已经有电子印章（一张证书只能有一枚）
error-not_applicable-token_memory_full = Key 的存储空间不足，放不下电子印章
error-not_applicable-so_pin_locked = 这把 Key 的管理员（SO）PIN 已锁定，无法在线解锁，请联系 CA 柜台
error-not_applicable-so_pin_final_try = 这把 Key 的管理员（SO）PIN 只剩最后一次机会，为安全起见不再在线尝试，请联系 CA 柜台
error-not_applicable-so_pin_mismatch = CA 记录的管理员（SO）PIN 打不开这把 Key（为保护 Key 已停止尝试）：请联系 CA，由 CA 恢复上一个 SO PIN 后再次运行 certkey unlock
error-not_applicable-unlock_ticket_expired = 解锁申请的批准已过期（未在有效期内使用）：请再次运行 certkey unlock 重新申请
error-not_applicable-unlock_ticket_used = 这次解锁申请已经用过，但 PIN 仍然锁定：请重新申请解锁
error-not_applicable-no_pending_unlock = 这把 Key 没有等待审核的解锁申请
error-not_applicable-unlock_not_pending = CA 已经处理了这次解锁申请，不能再补充材料；请运行 certkey unlock 查看结果
error-not_applicable-attachment_limit = 这次解锁申请已经上传了 5 个材料文件，已达上限；如还需补充，请联系 CA
error-not_applicable-unlock_other_service = 这把 Key 的解锁申请是向另一个 CA 服务提交的，请通过该服务（--service）上传材料
error-not_applicable-no_order = 目录中的 CA 都没有这把 Key 的待激活订单：请确认 Key 和激活码来自同一 CA，或用 --service 指定 CA 服务
error-not_applicable-no_token = 没有找到 Key，请插入后重试
error-not_applicable-order_locked = 激活码错误次数过多，订单已锁定，请联系 CA 重新获取激活码
error-not_applicable-code_expired = 激活码已过期（有效期 30 天），请联系 CA 重新获取
error-not_applicable-no_seal = Key 上没有电子印章

## A secret could not be taken from the environment (error-secret_env, by problem).

error-secret_env = 无法读取 { $var }：{ $detail }
error-secret_env-secret_env_conflict = { $var } 和 { $var }_FILE 同时设置了，请只设置其中一个（推荐 { $var }_FILE）
error-secret_env-secret_file_empty = { $var }_FILE 指向的文件是空的（{ $detail }）
error-secret_env-secret_file_unreadable = 无法读取 { $var }_FILE 指向的文件：{ $detail }
error-secret_env-secret_env_not_unicode = { $var } 的内容不是有效的 UTF-8 文本

## What a PKCS#11 return value means for a user: ckr-0x<CKR in upper-case hex>.

ckr-0x32 = 设备已拔出
ckr-0xE0 = 未插入设备
ckr-0x30 = 设备错误
ckr-0x31 = 设备存储空间不足
ckr-0xA0 = PIN 码错误
ckr-0xA4 = PIN 码已锁定
ckr-0xA3 = PIN 码已过期
ckr-0x54 = 驱动不支持此功能
ckr-0x190 = 驱动未初始化
ckr-0x6 = 驱动内部错误
ckr-0x5 = 驱动一般错误
