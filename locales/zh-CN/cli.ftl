### Text of the certkey command line (crates/cli).

## Results of the commands.

cli-activated = 激活完成：Key { $token_serial } 的证书 { $subject }，有效期至 { $not_after }（证书序列号 { $certificate_serial }）。请牢记您设置的 PIN 码。
cli-renewed = 续期完成{ $years ->
        [none] {""}
       *[other] （续期 { $years } 年）
    }：Key { $token_serial } 的新证书 { $subject }，有效期至 { $not_after }（还有 { $days_left } 天；证书序列号 { $new_serial }，原证书 { $old_serial } 已从 Key 中删除）。
cli-unlocked = Key { $serial } 已解锁，请使用新设置的 PIN 码。
cli-unlock-pending = 解锁申请 { $ticket } 正在等待 CA 审核；审核通过后再次运行 certkey unlock（或 certkey unlock --status）。
cli-unlock-rejected = CA 拒绝了解锁申请 { $ticket }，请联系 CA 柜台。
cli-unlock-rejected-reason = CA 拒绝了解锁申请 { $ticket }，原因：{ $reason }
cli-unlock-needs-materials = CA 要求为解锁申请 { $ticket } 补充材料：{ $note }
    请用 certkey unlock --attach 文件 上传扫描件（PDF、JPEG 或 PNG，每个不超过 5 MiB，最多 5 个），上传后 CA 会重新审核。
cli-unlock-note = CA 要求的材料：{ $note }
cli-unlock-attachments = 已提交的材料：{ $files }
cli-unlock-attached = 已将 { $file_name }（{ $media_type ->
        [pdf] PDF
        [jpeg] JPEG
        [png] PNG
       *[other] { $media_type }
    }，{ $size } 字节）上传到解锁申请。
cli-pin-changed = Key { $serial } 的 PIN 码已修改。
cli-seal-written = 电子印章已写入 Key { $token_serial }：“{ $name }”（{ $width_mm }×{ $height_mm } 毫米，印章编号 { $es_id }），绑定证书 { $certificate_subject }（序列号 { $certificate_serial }），有效期至 { $valid_end }。

## certkey renew --quote. $cert_type is a cert-type code; $currency an ISO 4217 code;
## $amount the price in the currency's major unit (100 fen = 1.00 yuan).

cli-quote-heading = Key { $token_serial } 上的证书 { $subject }（序列号 { $serial }）：{ $cert_type ->
        [organisation] { cert-type-organisation }
        [org_person] { cert-type-org_person }
        [person] { cert-type-person }
       *[other] { $cert_type }
    }证书，有效期至 { $not_after }（还有 { $days_left } 天）
cli-quote-open = 现在可以在线续期。
cli-quote-not_yet_open = 在线续期将于 { $opens_at }（到期前 90 天）开放。
cli-quote-expired = 证书已过期，不能在线续期，请到 CA 柜台办理。
cli-quote-revoked = 证书已吊销，不能续期。
cli-quote-renewed = 该证书已续期，新证书到期前再续期。
cli-quote-terms = 续期年限（用 certkey renew --years N 选择）：
cli-quote-years = { $years } 年
cli-quote-price = { $currency ->
        [CNY] { $amount } 元
       *[other] { $amount } { $currency }
    }
cli-quote-until = 有效期至 { $not_after }
cli-quote-payment-not_required = 缴费：在线续期无需事先向 CA 缴费。
cli-quote-payment-paid = 缴费：已缴 { $years } 年的续期费用，请用 certkey renew --years { $years } 续期。
cli-quote-payment-missing = 缴费：续期前需先缴费，CA 尚无本证书的缴费记录。
cli-quote-how-to-pay = 缴费方式：{ $instructions }

## Questions and prompts.

cli-confirm-prompt = 确认请输入 y 并回车：
cli-confirm-no-terminal = 需要确认，但没有终端可以提问：确认无误后加 --yes
cli-no-terminal = 没有终端可以输入，请设置该环境变量
cli-new-pin = 新 PIN 码：
cli-new-pin-again = 再次输入新 PIN 码：
cli-pin-prompt = 请输入 Key 的 PIN 码：
cli-handler-all-three = 三项需同时提供
cli-remember-failed = 未能记住经办人
cli-export-one-seal = Key 上有 { $count } 枚印章：请用 --id 选择一枚

## certkey list and certkey info.

cli-no-keys = 未发现 Key。
cli-no-certificates = 没有证书
cli-token-blank = （空白 Key，未初始化）
cli-token-heading = Key { $label }  序列号 { $serial }  ({ $manufacturer } { $model })
cli-token-module = 驱动 { $module }  槽 { $slot }
cli-token-pin = PIN: { $state }
cli-list-separator = ，
cli-pin-not_set = 未设置
cli-pin-locked = 已锁定（需解锁）
cli-pin-final_try = 仅剩最后一次机会
cli-pin-count_low = 曾输错，剩余次数减少
cli-pin-to_be_changed = 需修改
cli-pin-ok = 正常
cli-so-pin-locked = 已锁定
cli-so-pin-final_try = 最后一次机会
cli-so-pin-count_low = 曾输错
cli-renewal-valid = 有效
cli-renewal-renewable = 可续期
cli-renewal-expired = 已过期
cli-renewal-not_yet_valid = 尚未生效
cli-yes = 有
cli-no = 无
cli-after-login = 登录后可见
cli-signature-valid = 签名有效 ({ $issuer })
cli-signature-invalid = 签名无效！ ({ $issuer })
cli-signature-issuer_not_found = 未找到颁发者证书
cli-signature-unsupported = 不支持的算法 { $algorithm }
cli-col-subject = 持有者
cli-col-issuer = 颁发者
cli-col-expires = 到期
cli-col-days_left = 剩余天数
cli-col-status = 状态
cli-col-key = 算法
cli-col-private_key = 私钥
cli-unreadable = （无法读取）
cli-errors-heading = 错误：
cli-place-slot = 槽 { $slot }
cli-place-object = 对象 { $object }
cli-info-vendor = 厂商配置
cli-info-versions = 硬件/固件版本
cli-info-flags = 标志
cli-info-so_pin = 管理员 PIN
cli-info-public_memory = 公有存储 空闲/总量
cli-info-private_memory = 私有存储 空闲/总量
cli-info-mechanisms = 算法机制 ({ $count }): { $names }
cli-info-certificate = 证书 { $id } "{ $label }"
cli-info-data_object = 数据对象 { $id } "{ $label }" { $application } { $size } 字节
cli-field-subject = 持有者
cli-field-issuer = 颁发者
cli-field-serial = 序列号
cli-field-validity = 有效期
cli-field-days_left = 剩余天数
cli-field-type = 证书类型
cli-field-key_algorithm = 密钥算法
cli-field-signature_algorithm = 签名算法
cli-field-key_usage = 密钥用法
cli-field-extended_usage = 扩展用法
cli-field-private_key = 私钥
cli-field-signature_check = 签名校验
cli-object-private_key = 私钥
cli-object-public_key = 公钥
cli-object-secret_key = 对称密钥

## certkey seal show.

cli-seals-heading = Key { $serial } 上的电子印章（{ $count } 枚）：
cli-seal-no-certificate = （Key 上没有此 ID 的证书）
cli-seal-unreadable = ID { $id }：无法读取的印章（{ $reason }）
cli-seal-type-organisation = 单位印章
cli-seal-type-personal = 个人印章
cli-seal-type-other = 类型 { $type }
cli-seal-pixels = ，{ $width }×{ $height } 像素
cli-seal-signature-valid = 有效
cli-seal-signature-invalid = 无效！
cli-seal-bound-yes = 是
cli-seal-bound-no = 否！
cli-seal-trusted = 是（{ $ca }）
cli-seal-untrusted = 否！（{ $reason }）
cli-seal-not-valid-now = （当前不在有效期内）
cli-seal-title = “{ $name }”  { $kind }，编号 { $es_id }
cli-seal-format = 格式        { $form }（版本 { $version }，厂商 { $vid }）
cli-seal-validity = 有效期      { $start } 至 { $end }{ $not_valid_now }
cli-seal-picture = 图像        { $picture_kind }，{ $bytes } 字节{ $pixels }，{ $width_mm }×{ $height_mm } 毫米
cli-seal-maker = 制章者      { $maker }（{ $algorithm }）
cli-seal-signature = 制章签名    { $signature }
cli-seal-maker-trusted = 制章者可信  { $trusted }
cli-seal-bound = 绑定证书    { $bound }：ID { $id }，{ $certificate }
cli-seal-exported = 印章图像已保存到 { $path }
cli-untrusted-no_trusted_ca = 没有任何可信的 CA 证书可供核对（见下方 CA 证书列表）
cli-untrusted-certificate_invalid = 制章者证书无法解析
cli-untrusted-certificate_not_valid_now = 制章者证书当前不在有效期内
cli-untrusted-self_issued = 制章者证书是自签发的，不是由 CA 签发的
cli-untrusted-key_usage = 制章者证书的密钥用法不允许签名
cli-untrusted-issuer_not_trusted = 制章者证书不是由可信 CA 签发的
cli-untrusted-holder_certificate = 制章者证书是证书持有者的证书（用于客户端认证或电子邮件保护），不是 CA 的制章者证书
cli-ca-list-service = CA 证书列表：来自 CA 服务 { $service }（{ $service_count } 张），CA 证书包 { $bundle_count } 张
cli-ca-list-cache = CA 证书列表：CA 服务暂不可用（{ $why }），使用 { $fetched_at } 缓存的列表（{ $service_count } 张），CA 证书包 { $bundle_count } 张
cli-ca-list-none = CA 证书列表：没有来自 CA 服务的列表（{ $why }{ $cache_note }），CA 证书包 { $bundle_count } 张（可用 --ca-bundle 或配置 ca_bundle 指定）
cli-ca-list-no-cache = ；没有可用的缓存：{ $reason }

## certkey diagnose
cli-diagnose-written = 报告已写入 { $path }
cli-logs-exported = 日志已写入 { $path }（共 { $files } 个文件），仅您本人可读。其中含有您的 Key 和证书信息，请只发给服务人员。
cli-logs-empty = 暂无日志（日志保存在 { $dir }）。
cli-diagnose-fix-ask = { $fix } 现在就处理吗？[y/N]
cli-diagnose-fix-done = 已完成：{ $fix } 撤销方法：{ $undo }
cli-diagnose-fix-failed = 未能完成：{ $fix }（{ $reason }）
