### certkey --help: what each command and option is for (crates/cli/src/help.rs).
### `cli-help-PATH` describes a command, `cli-help-PATH--ID` one of its options, and
### `cli-help-arg--ID` an option that means the same in every command.

## The headings of the help.
cli-help-heading-usage = Usage:
cli-help-heading-commands = Commands
cli-help-heading-options = Options

## Options that mean the same in every command.
cli-help-arg--modules = PKCS#11 module to load (repeatable), besides the catalog's, the config's and CERTKEY_MODULES
cli-help-arg--no_auto_modules = Do not load the catalog's modules found on this machine
cli-help-arg--ca_bundle = CA certificates (PEM or DER) to check signatures against (repeatable)
cli-help-arg--json = Print one JSON object instead of text
cli-help-arg--lang = Language of the text: zh-CN or en (default: from the locale; zh-CN when Chinese)
cli-help-arg--service = CA service URL for every operation (default: CERTKEY_SERVICE_URL, else the config's service_url, else the CA directory: the CA of the certificate's issuer, for activation the config's default_ca or the CA that has the key's order)
cli-help-arg--service_ca = PEM file of the CA service's TLS root(s), instead of the system's (default: CERTKEY_SERVICE_CA)
cli-help-arg--yes = Answer yes to confirmations
cli-help-arg--help = Print help
cli-help-arg--version = Print the version
cli-help-arg--token = The key: its serial number, or slot:ID or label:TEXT (default: the one key present that the operation applies to)
cli-help-arg--final_try_ok = Allow using the key's final PIN try
cli-help-help = Print this message or the help of the given command

## The commands and their own options.
cli-help-certkey = CertKey 证书助手: certificate USB keys over PKCS#11
cli-help-certkey-list = List every key on every module with its certificates
cli-help-certkey-diagnose = Find out why a key does not work: the computer, USB keys, the smart-card service, the PKCS#11 modules, the keys and what they hold, the CA services and the clock. Prints the findings with what to do; --out writes the report as an HTML page or JSON (personal data masked unless --no-redact)
cli-help-certkey-diagnose--out = Also write the report to FILE: `.html` (a page that opens offline) or `.json`
cli-help-certkey-diagnose--no_redact = Keep personal data (names, ID numbers, phone numbers, e-mail) in the report
cli-help-certkey-diagnose--self_test = Sign and verify a test message on the key named by --token, with its PIN (CERTKEY_PIN, else asked). Never run when the key has one PIN try left
cli-help-certkey-diagnose--token = The key for --self-test: its serial number
cli-help-certkey-diagnose--offline = Do not contact the CA services (no service or clock checks)
cli-help-certkey-diagnose--fix = Offer the fixes CertKey can apply (each asked for first; --yes applies all)
cli-help-certkey-logs = Print the log that the app and this command write (the last lines of both, in time order), or export it into one file for the help-desk
cli-help-certkey-logs--lines = How many of the last lines to print, of the app and of this command together, in time order
cli-help-certkey-logs--export = Write every log file, oldest first, into this one file (for the help-desk; it names keys and certificates' holders: only this user can read it)
cli-help-certkey-logs--path = Only print the log folder
cli-help-certkey-info = Everything about one key or all keys: flags, PIN state, memory, mechanisms, certificates, key and data objects
cli-help-certkey-info--token = Only this key: its serial number, `slot:ID` or `label:TEXT`
cli-help-certkey-info--login = Log in with the user PIN (CERTKEY_PIN, else asked without echo) to see private keys. Needs --token
cli-help-certkey-cert = Certificate operations
cli-help-certkey-cert-export = Write a certificate from a key to stdout or a file (DER, or PEM with --pem)
cli-help-certkey-cert-export--token = Serial number of the key
cli-help-certkey-cert-export--id = CKA_ID of the certificate, hex
cli-help-certkey-cert-export--pem = PEM instead of DER
cli-help-certkey-cert-export--out = Write to this file instead of stdout
cli-help-certkey-activate = Activate a newly delivered key: check its order, trade the 6-digit activation code for the initial PIN, set your own PIN, make the key pair and install the certificate (CERTKEY_ACTIVATION_CODE and CERTKEY_NEW_PIN for automation)
cli-help-certkey-activate--final_try_ok = Allow using the key's final PIN try (when finishing an interrupted run)
cli-help-certkey-renew = Renew the certificate online (while 0 < days left <= 90): a new key pair and certificate on the key; the old ones are removed only once the new ones work
cli-help-certkey-renew--years = The term, 1 to 5 years: valid until the current expiry plus the years (default: the term paid for at the CA, else the order's, normally 1 year)
cli-help-certkey-renew--quote = Only show the CA's quote: whether renewal is open, the price of each term, whether it must be paid for and how (no PIN needed)
cli-help-certkey-seal = The electronic seal of the key's certificate: write (once) and show
cli-help-certkey-seal-write = Have the CA make the electronic seal of the key's certificate from a picture (PNG, JPEG or BMP, at most 4 MiB; the white background becomes transparent) and write it onto the key. One seal per certificate (CERTKEY_PIN for automation)
cli-help-certkey-seal-write--image = The seal picture
cli-help-certkey-seal-write--token = The key: its serial number, or slot:ID or label:TEXT (default: the one key present that holds a certificate)
cli-help-certkey-seal-write--name = The seal's name (default: the organisation for an organisation certificate, else the holder's name)
cli-help-certkey-seal-write--width_mm = Width in mm, 10 to 100 (default: 42 for an organisation, 20 for a person)
cli-help-certkey-seal-write--height_mm = Height in mm, 10 to 100 (default: the width)
cli-help-certkey-seal-show = Show the seals on a key and check them (no PIN needed): the maker's signature, the binding to the certificate, and that the maker's certificate chains to a trusted CA (the CA service's /cacerts, cached for when it is out of reach, and --ca-bundle)
cli-help-certkey-seal-show--token = The key: its serial number, or slot:ID or label:TEXT (default: the one key present that holds a certificate)
cli-help-certkey-seal-show--id = Only the seal of the certificate with this CKA_ID (hex)
cli-help-certkey-seal-show--export = Write the seal's picture to this file (needs exactly one seal)
cli-help-certkey-unlock = Unlock a key whose user PIN is locked, online: the handler (经办人) asks the CA; once approved, you choose a new PIN and the key's admin (SO) PIN is rotated. Run it again (or with --wait) while the request waits for review; attach the materials the CA asks for with --attach
cli-help-certkey-unlock--handler_name = Handler's name (default: the one remembered in the OS keyring)
cli-help-certkey-unlock--handler_id = Handler's identity document number
cli-help-certkey-unlock--handler_phone = Handler's phone number
cli-help-certkey-unlock--remember = Remember the handler in the OS keyring for next time
cli-help-certkey-unlock--status = Only look at a request that waits for review (never send a new one)
cli-help-certkey-unlock--wait = Wait up to this many seconds for the review, asking every 5 seconds
cli-help-certkey-unlock--attach = Attach a scan to the request under review (repeatable): PDF, JPEG or PNG, at most 5 MiB each, at most 5 per request. Without a request yet, one is made first
cli-help-certkey-pin = The user PIN
cli-help-certkey-pin-change = Change the user PIN (CERTKEY_PIN and CERTKEY_NEW_PIN for automation)

## A command line that does not parse (what clap found wrong, in the user's language).
cli-error-unknown-argument = unknown option { $arg }
cli-error-unknown-command = unknown command { $name }
cli-error-option-of-command = { $arg } is an option of { $command }: put it after the command ({ $usage })
cli-error-missing-command = { $name } needs a command: { $commands }
cli-error-number-too-large = { $value } is too large for { $arg }
cli-error-unexpected-argument = unexpected argument { $arg }
cli-error-not-a-number = { $arg } takes a whole number, not { $value }
cli-error-unexpected-value = { $arg } takes no value (got { $value })
cli-error-tip-dashes = Remove the -- before { $name }.
cli-error-value-missing = { $arg } needs a value
cli-error-invalid-value = { $value } is not a value of { $arg }
cli-error-value-refused = { $value } is not a valid value of { $arg } ({ $reason })
cli-error-missing = missing required option: { $arg }
cli-error-conflict = { $arg } cannot be used with { $other }
cli-error-value-range = { $arg } takes a value from { $min } to { $max }, not { $value }
cli-error-repeated = { $arg } can be given only once
cli-error-valid-values = Possible values: { $values }
cli-error-suggested = Did you mean { $suggested }?
cli-error-more = For more information, try --help.
