# 桌面应用的界面文字（简体中文）。与 en/app.ftl 的消息 id 必须一一对应。

app-title = 证书助手
app-language = 界面语言
app-language-zh-CN = 中文
app-language-en = English
app-error-unknown = 发生了未预料的错误（{ $code }）。请重试；如果问题持续，请联系服务热线。
app-yes = 是
app-no = 否
app-unknown-until-login = 登录后才能确定
app-list-separator = 、
app-back = 返回
app-back-to-overview = 返回首页
app-cancel = 取消
app-next = 下一步
app-start = 开始
app-try-again = 重试
app-copy = 复制
app-copied = 已复制到剪贴板
app-details = 证书详情
app-progress = 进度
app-working = 正在处理，请不要拔出 Key……

## 首页
app-overview-title = 我的证书 Key
app-looking-for-keys = 正在查找已插入的 Key……
app-no-keys = 没有检测到 Key
app-no-keys-hint = 请把 USB Key 插入电脑，插入后这里会自动显示（已加载 { $modules } 个驱动模块）。
app-module-problem = 驱动模块 { $module } 出现问题：
app-slot-problem = 驱动模块 { $module } 的插槽 { $slot } 中的 Key 无法读取：
app-key-read-problems = 这个 Key 的部分内容未能读取（其余内容照常显示）：
app-key-aria = Key { $serial }
app-vendor-unknown = 未知厂商
app-key-serial = 序列号
app-key-label = 标签
app-free-memory = 剩余空间 { $kib } KB
app-key-blank-help = 这是一个空白 Key（尚未初始化），不能直接使用。证书 Key 由 CA 初始化后寄送。
app-key-no-certificate = 这个 Key 上还没有证书。
app-activation-offer = 这个 Key 有一张待激活的证书：准备好短信或邮件中的 6 位激活码即可激活。
app-activation-unreachable = 暂时无法连接 CA 服务，不能确认这个 Key 是否有待激活的证书。请检查网络；每 15 秒会自动重试。
app-activate = 激活
app-change-pin = 修改 PIN 码

## PIN 状态
app-pin-blank = 未初始化
app-pin-ok = PIN 正常
app-pin-not-set = 尚未设置 PIN
app-pin-count-low = PIN 曾输错，剩余次数不多
app-pin-final-try = 仅剩最后一次机会
app-pin-locked = PIN 已锁定
app-pin-must-change = 需要修改 PIN
app-pin-count-low-help = 这个 Key 最近有 PIN 输错的记录，剩余尝试次数不多。请确认 PIN 后再输入；想不起来时请不要猜，可以申请在线解锁。
app-pin-final-try-help = 只剩最后一次机会：再输错一次 PIN 就会被锁定。如果不确定 PIN，请不要再试，改为申请在线解锁。
app-pin-locked-help = PIN 已被锁定，这个 Key 暂时不能使用。可以在线解锁：经办人信息与上次业务一致时立即通过，否则提交审核（命令行：certkey unlock）。
app-pin-state-now = 当前 PIN 状态：

## 证书
app-cert-type = 证书类型
app-cert-type-organisation = 机构证书
app-cert-type-org_person = 机构个人证书
app-cert-type-person = 个人证书（自然人）
app-cert-type-unknown = 未能识别
app-cert-organisation = 所属机构
app-cert-issuer = 颁发者
app-cert-subject = 证书主题
app-cert-serial = 证书序列号
app-cert-valid-from = 生效日期
app-cert-valid-until = 有效期至
app-cert-key-algorithm = 密钥算法
app-cert-signature-algorithm = 签名算法
app-cert-key-usage = 密钥用途
app-cert-ext-key-usage = 扩展用途
app-cert-private-key = Key 中有对应私钥
app-cert-signature-check = 签名校验
app-cert-seal = 电子印章
app-cert-seal-present = 已写入：{ $name }
app-cert-seal-none = 未写入
app-cert-unreadable = 这张证书无法读取。
app-cert-valid = 还有 { $days } 天到期
app-cert-renewable = { $days } 天后到期，可在线续期
app-cert-expired = 已过期 { $days } 天
app-cert-not-yet-valid = 尚未生效
app-days-left = 剩余 { $days } 天
app-renewal-banner = 证书将在 { $days } 天后到期。到期前 90 天内可以在线续期，续期后证书和印章继续有效（命令行：certkey renew）。
app-expired-banner = 证书已过期，无法在线续期。请带上 Key、有效身份证件（机构证书另需营业执照和经办人授权书）到 CA 营业网点或通过 CA 官网办理“证书更新”，原 Key 可以继续使用。

## 证书详情
app-details-title = 证书详情
app-key-gone = Key { $serial } 已拔出。插回后这里会自动恢复显示。
app-key-section = Key 信息
app-key-manufacturer = 制造商
app-key-model = 型号
app-key-versions = 硬件 / 固件版本
app-key-module = 驱动模块
app-key-pin-length = PIN 长度
app-key-objects = Key 中的对象
app-key-object-counts = 证书 { $certs } 个，密钥 { $keys } 个，数据 { $data } 个
app-export = 导出证书（PEM）
app-exported = 证书已导出到：{ $path }
app-ku-digital_signature = 数字签名
app-ku-non_repudiation = 不可否认
app-ku-key_encipherment = 密钥加密
app-ku-data_encipherment = 数据加密
app-ku-key_agreement = 密钥协商
app-ku-key_cert_sign = 签发证书
app-ku-crl_sign = 签发吊销列表
app-ku-encipher_only = 仅加密
app-ku-decipher_only = 仅解密
app-eku-client_auth = 客户端身份认证
app-eku-server_auth = 服务器身份认证
app-eku-email_protection = 安全电子邮件
app-eku-code_signing = 代码签名
app-eku-time_stamping = 时间戳
app-eku-ocsp_signing = OCSP 签名
app-sigcheck-valid = 已由颁发者验证
app-sigcheck-invalid = 签名无效：证书可能被篡改
app-sigcheck-issuer_not_found = 未找到颁发者证书，无法验证
app-sigcheck-unsupported = 无法验证此算法
app-sigcheck-unknown = 未验证
app-alg-sm2 = SM2（国密）
app-alg-p256 = ECC P-256

## 激活
app-activate-title = 激活 Key { $serial }
app-order-title = 请确认这是您的证书
app-order-intro = CA 为 Key { $serial } 准备了下面这张证书。请核对持有人信息，确认无误后继续。
app-order-holder = 持有人
app-order-years = 有效期
app-years = { $years } 年
app-order-code-expires = 激活码有效期至
app-order-confirm = 是我的，继续
app-order-not-mine = 不是我的
app-code-title = 请输入 6 位激活码
app-code-help = 激活码在 Key 寄出后通过短信或邮件发送，30 天内有效。
app-code-attempts-left = 还可以再试 { $left } 次。
app-code-lock-explained = 多次输错后激活码会被锁定，届时请联系 CA 重新发送激活码。
app-new-pin-title = 设置新的 PIN 码
app-new-pin = 新 PIN 码
app-new-pin-again = 再输入一次
app-new-pin-help = PIN 码用于保护 Key 中的私钥，每次签名和登录都要用到，请牢记，不要告诉他人。
app-pin-mismatch = 两次输入的 PIN 码不一致。
app-activated-title = 激活完成
app-activated-next = 证书已写入 Key，现在可以使用了。请妥善保管 Key 和 PIN 码。
app-show-certificate = 查看证书
app-key-removed-resume = Key 被拔出，操作已暂停，已完成的部分都保存在 Key 中。请把 Key 插回，插回后会自动继续。

## 修改 PIN
app-change-pin-title = 修改 Key { $serial } 的 PIN 码
app-change-pin-intro = 先输入当前 PIN 码，再设置新的 PIN 码。
app-current-pin-title = 请输入当前 PIN 码
app-final-try-title = 最后一次机会
app-final-try-text = Key { $serial } 只剩最后一次 PIN 尝试机会。如果这次输错，PIN 将被锁定，需要在线解锁后才能使用。
app-final-try-stop = 不试了
app-final-try-go = 我确定 PIN 正确，继续
app-pin-changed = PIN 码已修改
app-pin-changed-next = 以后请使用新的 PIN 码。
app-operation-cancelled = 操作已取消，Key 上没有任何改动。

## 设置 PIN 时逐条检查的规则
app-rule-too_short = 至少 { $min } 位
app-rule-too_long = 最多 { $max } 位
app-rule-not_printable = 只用字母、数字和英文符号（不含空格）
app-rule-all_same = 不能全是同一个字符
app-rule-sequence = 不能是连续的字符（如 123456、654321）
