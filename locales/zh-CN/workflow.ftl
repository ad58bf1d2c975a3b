### The workflow vocabulary of certkey-core, shared by the CLI and the desktop app:
### steps (step-<Step>), notices (notice-<kind>), confirmations (confirm-<kind>),
### secret prompts (secret-<kind>), PIN policy rules (pin-rule-<rule>) and
### certificate types (cert-type-<type>), named as core serialises them.

## Steps of a workflow.

step-read_token = 读取 Key
step-contact_service = 联系 CA 服务
step-check_code = 核验激活码
step-login = 登录 Key
step-set_pin = 设置 PIN 码
step-generate_key = 在 Key 内生成密钥对
step-sign_request = 在 Key 内签署证书请求
step-request_certificate = CA 签发证书
step-install_certificate = 写入证书
step-sign_seal = 在 Key 内签署印章申请
step-make_seal = CA 制作电子印章
step-write_seal = 写入电子印章
step-verify = 检查结果
step-clean_up = 清理

## Notices. $error of notice-rejected is the error's text.

notice-resuming = 上次的{ $operation ->
        [activate] 激活
        [renew] 续期
        [unlock] 解锁
        [seal] 印章写入
       *[other] 操作
    }被中断，现在继续完成。
notice-checking_request = 正在向 CA 查询 Key { $serial } 之前提交的解锁申请
notice-rejected = { $error }
notice-pin_count_low = 注意：Key { $serial } 的 PIN 剩余尝试次数不多了
notice-existing_seal = CA 已为这张证书制作过电子印章（一张证书只有一枚），现将该印章写入 Key { $serial }
notice-pin_must_change = Key { $serial } 要求先修改 PIN 码

## Confirmations. $cert_type is a cert-type code; $key_algorithm is SM2 or P-256.

confirm-activate = Key { $serial } 的待激活订单：持有人 { $holder }，{ $cert_type ->
        [organisation] { cert-type-organisation }
        [org_person] { cert-type-org_person }
        [person] { cert-type-person }
       *[other] { $cert_type }
    }，有效期 { $years } 年，密钥算法 { $key_algorithm }。确认激活？
confirm-final_try = Key { $serial } 只剩最后一次 PIN 尝试机会，再错将锁定。仍要尝试吗？

## Secret prompts.

secret-activation_code = { $attempts_left ->
        [none] 请输入 6 位激活码：
       *[other] 请输入 6 位激活码（还可尝试 { $attempts_left } 次）：
    }
secret-current_pin = 请输入 Key { $serial } 的 PIN 码{ $final_try ->
        [true] （最后一次机会）
       *[other] { $count_low ->
            [true] （剩余次数不多）
           *[other] {""}
        }
    }：
secret-new_pin = 请设置新的 PIN 码：{ $min } 到 { $max } 位，不能全部相同、不能是连续数字或字母、不能是出厂默认 PIN。

## PIN policy rules (pin::check_new_pin), and the two entries of a new PIN differing.

pin-rule-not_printable = 新 PIN 码只能包含可见的 ASCII 字符
pin-rule-too_short = 新 PIN 码长度应为 { $min } 到 { $max } 位
pin-rule-too_long = 新 PIN 码长度应为 { $min } 到 { $max } 位
pin-rule-all_same = 新 PIN 码不能全是同一个字符
pin-rule-sequence = 新 PIN 码不能是连续递增或递减的字符（如 123456）
pin-rule-default_pin = 新 PIN 码不能是出厂默认 PIN
pin-rule-same_as_old = 新 PIN 码不能与旧 PIN 码相同
pin-rule-mismatch = 两次输入的新 PIN 码不一致

## Certificate types.

cert-type-organisation = 机构
cert-type-org_person = 机构个人
cert-type-person = 个人
