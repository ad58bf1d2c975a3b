# certkey-softkey trial: the virtual key of an installed CertKey.
softkey-trial-on = Trial mode on: the virtual key { $serial } is plugged in (its data is kept in { $dir }). Turn it off with: certkey-softkey trial off
softkey-trial-off = Trial mode off: the virtual key is pulled out. Its data stays in { $dir } for the next `certkey-softkey trial on`.
softkey-trial-is-on = Trial mode is on (the virtual key's data is in { $dir }).
softkey-trial-is-off = Trial mode is off: no virtual key. Turn it on with: certkey-softkey trial on
softkey-trial-not-ours = { $path } was not written by `certkey-softkey trial on`: edit or remove it yourself.
softkey-trial-usage = `certkey-softkey trial` takes `on` or `off`, not { $value }.
softkey-trial-io = Cannot use { $path }: { $reason }
