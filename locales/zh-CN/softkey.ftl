# certkey-softkey trial：已安装的证书助手自带的虚拟 Key。
softkey-trial-on = 试用模式已开启：虚拟 Key { $serial } 已插入（数据保存在 { $dir }）。关闭请运行：certkey-softkey trial off
softkey-trial-off = 试用模式已关闭：虚拟 Key 已拔出。数据仍保留在 { $dir }，下次运行 `certkey-softkey trial on` 时继续使用。
softkey-trial-is-on = 试用模式已开启（虚拟 Key 的数据在 { $dir }）。
softkey-trial-is-off = 试用模式未开启，没有虚拟 Key。开启请运行：certkey-softkey trial on
softkey-trial-not-ours = { $path } 不是由 `certkey-softkey trial on` 写入的，请自行修改或删除。
softkey-trial-usage = `certkey-softkey trial` 只接受 `on` 或 `off`，不接受 { $value }。
softkey-trial-io = 无法使用 { $path }：{ $reason }
