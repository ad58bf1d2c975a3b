### certkey --help：每个命令和选项的说明（crates/cli/src/help.rs）。
### `cli-help-PATH` 说明一个命令，`cli-help-PATH--ID` 说明它的一个选项，
### `cli-help-arg--ID` 说明在所有命令中含义相同的选项。

## 帮助中的标题。
cli-help-heading-usage = 用法:
cli-help-heading-commands = 命令
cli-help-heading-options = 选项

## 在所有命令中含义相同的选项。
cli-help-arg--modules = 要加载的 PKCS#11 模块（可重复），在厂商目录、配置和 CERTKEY_MODULES 中的驱动模块之外
cli-help-arg--no_auto_modules = 不加载在本机找到的厂商目录中的驱动模块
cli-help-arg--ca_bundle = 用于验证签名的 CA 证书（PEM 或 DER，可重复）
cli-help-arg--json = 输出一个 JSON 对象，而不是普通文本
cli-help-arg--lang = 输出语言：zh-CN 或 en（默认按系统区域设置；中文环境为 zh-CN）
cli-help-arg--service = 所有操作使用的 CA 服务地址（默认：CERTKEY_SERVICE_URL，其次是配置中的 service_url，再其次按 CA 目录：证书颁发者的 CA；激活时为配置中的 default_ca 或持有该 Key 订单的 CA）
cli-help-arg--service_ca = CA 服务 TLS 根证书的 PEM 文件，代替系统的根证书（默认：CERTKEY_SERVICE_CA）
cli-help-arg--yes = 对所有确认回答“是”
cli-help-arg--help = 显示帮助
cli-help-arg--version = 显示版本
cli-help-arg--token = 要操作的 Key：序列号，或 slot:ID、label:文字（默认：已插入的、适用于这项操作的唯一一个 Key）
cli-help-arg--final_try_ok = 允许使用 Key 最后一次 PIN 码尝试机会
cli-help-help = 显示这段帮助，或指定命令的帮助

## 命令及其选项。
cli-help-certkey = CertKey 证书助手：通过 PKCS#11 使用证书 USB Key
cli-help-certkey-list = 列出所有模块上的所有 Key 及其证书
cli-help-certkey-diagnose = 找出 Key 不能用的原因：本机、USB Key、智能卡服务、PKCS#11 模块、Key 及其中的内容、CA 服务和时钟。列出发现的问题和处理办法；--out 把报告写成 HTML 网页或 JSON（除非使用 --no-redact，个人信息会被遮盖）
cli-help-certkey-diagnose--out = 同时把报告写入文件：`.html`（离线即可打开的网页）或 `.json`
cli-help-certkey-diagnose--no_redact = 在报告中保留个人信息（姓名、证件号码、手机号码、电子邮箱）
cli-help-certkey-diagnose--self_test = 用 PIN 码（CERTKEY_PIN，否则询问）让 --token 指定的 Key 签名并验证一条测试消息。Key 只剩最后一次 PIN 码尝试机会时不会进行
cli-help-certkey-diagnose--token = 自检（--self-test）使用的 Key：序列号
cli-help-certkey-diagnose--offline = 不连接 CA 服务（不检查服务和时钟）
cli-help-certkey-diagnose--fix = 逐项询问后执行证书助手能完成的修复（--yes 全部执行）
cli-help-certkey-logs = 显示证书助手应用和本命令写下的日志（两者最后的若干行，按时间排列），或导出为一个文件交给技术支持
cli-help-certkey-logs--lines = 显示最后多少行（应用和本命令合计，按时间排列）
cli-help-certkey-logs--export = 把所有日志文件按从旧到新写入这一个文件（交给技术支持；其中有 Key 和证书持有者的名称：只有当前用户可以读取）
cli-help-certkey-logs--path = 只显示日志所在的文件夹
cli-help-certkey-info = 一个或所有 Key 的全部信息：标志、PIN 码状态、存储空间、算法机制、证书、密钥和数据对象
cli-help-certkey-info--token = 只显示这个 Key：序列号、`slot:ID` 或 `label:文字`
cli-help-certkey-info--login = 使用用户 PIN 码登录（CERTKEY_PIN，否则不回显地询问）以查看私钥。需要 --token
cli-help-certkey-cert = 证书操作
cli-help-certkey-cert-export = 把 Key 中的一张证书写到标准输出或文件（DER；使用 --pem 时为 PEM）
cli-help-certkey-cert-export--token = Key 的序列号
cli-help-certkey-cert-export--id = 证书的 CKA_ID（十六进制）
cli-help-certkey-cert-export--pem = 使用 PEM 而不是 DER
cli-help-certkey-cert-export--out = 写入这个文件，而不是标准输出
cli-help-certkey-activate = 激活新收到的 Key：核对订单，用 6 位激活码换取初始 PIN 码，设置您自己的 PIN 码，生成密钥对并安装证书（自动化时使用 CERTKEY_ACTIVATION_CODE 和 CERTKEY_NEW_PIN）
cli-help-certkey-activate--final_try_ok = 允许使用 Key 最后一次 PIN 码尝试机会（完成一次中断的激活时）
cli-help-certkey-renew = 在线续期证书（剩余天数大于 0 且不超过 90 天时）：在 Key 上生成新的密钥对和证书；新的可以使用后才删除旧的
cli-help-certkey-renew--years = 续期年限，1 到 5 年：有效期为当前到期日加上这些年（默认：在 CA 已付费的年限，否则为订单的年限，通常 1 年）
cli-help-certkey-renew--quote = 只显示 CA 的报价：现在能否续期、各年限的价格、是否需要付费以及如何付费（不需要 PIN 码）
cli-help-certkey-seal = Key 中证书的电子印章：写入（仅一次）和查看
cli-help-certkey-seal-write = 由 CA 用一张图片（PNG、JPEG 或 BMP，不超过 4 MiB；白色背景会变为透明）为 Key 中的证书制作电子印章并写入 Key。每张证书只有一个印章（自动化时使用 CERTKEY_PIN）
cli-help-certkey-seal-write--image = 印章图片
cli-help-certkey-seal-write--token = 要操作的 Key：序列号，或 slot:ID、label:文字（默认：已插入的、有证书的唯一一个 Key）
cli-help-certkey-seal-write--name = 印章名称（默认：机构证书为机构名称，其他为持有者姓名）
cli-help-certkey-seal-write--width_mm = 宽度（毫米），10 到 100（默认：机构 42，个人 20）
cli-help-certkey-seal-write--height_mm = 高度（毫米），10 到 100（默认：与宽度相同）
cli-help-certkey-seal-show = 查看并检查 Key 中的印章（不需要 PIN 码）：制章者的签名、与证书的绑定，以及制章者证书能否链接到受信任的 CA（CA 服务的 /cacerts，连不上时使用缓存，以及 --ca-bundle）
cli-help-certkey-seal-show--token = 要操作的 Key：序列号，或 slot:ID、label:文字（默认：已插入的、有证书的唯一一个 Key）
cli-help-certkey-seal-show--id = 只看 CKA_ID 为此值（十六进制）的证书的印章
cli-help-certkey-seal-show--export = 把印章图片写入这个文件（Key 中须正好有一个印章）
cli-help-certkey-unlock = 在线解锁用户 PIN 码已锁定的 Key：由经办人向 CA 申请；通过后由您设置新 PIN 码，并更换 Key 的管理员（SO）PIN 码。申请等待审核期间可再次运行（或使用 --wait）；用 --attach 提交 CA 要求的材料
cli-help-certkey-unlock--handler_name = 经办人姓名（默认：系统钥匙串中记住的经办人）
cli-help-certkey-unlock--handler_id = 经办人证件号码
cli-help-certkey-unlock--handler_phone = 经办人手机号码
cli-help-certkey-unlock--remember = 在系统钥匙串中记住经办人，下次使用
cli-help-certkey-unlock--status = 只查看等待审核的申请（不会发出新的申请）
cli-help-certkey-unlock--wait = 最多等待审核的秒数，每 5 秒查询一次
cli-help-certkey-unlock--attach = 为审核中的申请附上扫描件（可重复）：PDF、JPEG 或 PNG，每个不超过 5 MiB，每个申请最多 5 个。还没有申请时会先发出申请
cli-help-certkey-pin = 用户 PIN 码
cli-help-certkey-pin-change = 修改用户 PIN 码（自动化时使用 CERTKEY_PIN 和 CERTKEY_NEW_PIN）

## 无法解析的命令行（clap 发现的问题，以用户的语言显示）。
cli-error-unknown-argument = 没有这个选项：{ $arg }
cli-error-unknown-command = 没有这个命令：{ $name }
cli-error-option-of-command = { $arg } 是 { $command } 的选项，要写在命令后面（{ $usage }）
cli-error-missing-command = { $name } 后面要跟一个命令：{ $commands }
cli-error-number-too-large = { $value } 对 { $arg } 来说太大了
cli-error-unexpected-argument = 多余的参数：{ $arg }
cli-error-not-a-number = { $arg } 的值应为整数，不能是 { $value }
cli-error-unexpected-value = { $arg } 不接受值（多了 { $value }）
cli-error-tip-dashes = 请去掉 { $name } 前面的 --。
cli-error-value-missing = { $arg } 需要一个值
cli-error-invalid-value = { $value } 不是 { $arg } 可用的值
cli-error-value-refused = { $value } 不是 { $arg } 的有效值（{ $reason }）
cli-error-missing = 缺少必需的选项：{ $arg }
cli-error-conflict = { $arg } 不能与 { $other } 同时使用
cli-error-value-range = { $arg } 的值要在 { $min } 到 { $max } 之间，{ $value } 不在其中
cli-error-repeated = { $arg } 只能指定一次
cli-error-valid-values = 可用的值：{ $values }
cli-error-suggested = 您是不是要输入 { $suggested }？
cli-error-more = 使用 --help 查看更多说明。
