## Diagnostics (certkey diagnose and the app's Diagnostics screen). Each finding
## has a message diag-CODE and a fix diag-CODE-fix; their variables are the finding's
## params.

diag-title = CertKey diagnostic report
diag-generated = Made { $time } by { $version }
diag-redacted = Personal data (names, ID numbers, phone numbers, e-mail) is masked in this report.
diag-not-redacted = This report shows personal data (names, ID numbers, phone numbers, e-mail): share it only with your CA's help desk.
diag-summary = { $critical } critical, { $errors ->
        [one] 1 error
       *[other] { $errors } errors
    }, { $warnings ->
        [one] 1 warning
       *[other] { $warnings } warnings
    }, { $infos ->
        [one] 1 note
       *[other] { $infos } notes
    }
diag-none = No problem found.
diag-severity-critical = Critical
diag-severity-error = Error
diag-severity-warning = Warning
diag-severity-info = Note
diag-fix-label = What to do
diag-colon = :{" "}
diag-fix-offered = CertKey can do this for you
diag-fix-offered-note = {" "}(CertKey can do this for you)
diag-section-findings = Findings
diag-section-system = This computer
diag-section-usb = USB devices
diag-section-pcsc = Smart-card service
diag-section-modules = PKCS#11 modules
diag-section-tokens = Keys
diag-section-services = CA services
diag-section-trace = Recent PKCS#11 calls
diag-section-probe-errors = Checks that could not run
diag-field-os = Operating system
diag-field-arch = Architecture
diag-field-app = App version
diag-field-core = Core version
diag-field-locale = Locale
diag-field-time-zone = Time zone
diag-field-admin = Administrator
diag-field-running = Running
diag-field-socket = Socket
diag-field-path = Path
diag-field-source = Found through
diag-field-loaded = Loaded
diag-field-library = Library
diag-field-error = Error
diag-field-serial = Serial
diag-field-label = Label
diag-field-vendor = Vendor
diag-field-pin = PIN state
diag-field-certificates = Certificates
diag-field-seal = Seal
diag-field-url = URL
diag-field-addresses = Addresses
diag-field-tls = TLS certificate
diag-field-version = Version
diag-field-clock = Clock difference
diag-field-proxy = Proxy
diag-field-function = Function
diag-field-result = Result
diag-field-time = Time (ms)
diag-yes = yes
diag-no = no
diag-unknown = unknown
diag-progress-system = Looking at this computer
diag-progress-usb = Listing USB devices
diag-progress-pcsc = Checking the smart-card service
diag-progress-module = Checking the PKCS#11 modules and keys
diag-progress-service = Checking the CA services and the clock
diag-progress-findings = Putting the findings together

diag-module_missing = The PKCS#11 module { $module } does not exist.
diag-module_missing-fix = Install the key's driver again, or remove the module from the settings.
diag-module_wrong_arch = The PKCS#11 module { $module } is built for { $arch }, but this computer runs { $expected }.
diag-module_wrong_arch-fix = Install the key vendor's driver for { $expected } (a 32-bit driver cannot be used by a 64-bit program).
diag-module_load_failed = The PKCS#11 module { $module } cannot be loaded: { $reason }
diag-module_load_failed-fix = Install the key's driver again; if a library it needs is missing, the reason above names it.
diag-module_init_failed = The PKCS#11 module { $module } refused to start: { $function } returned { $ckr }.
diag-module_init_failed-fix = Restart the computer or reinstall the key's driver; another program may hold the module.
diag-module_not_responding = The PKCS#11 module { $module } did not answer within { $seconds } seconds.
diag-module_not_responding-fix = Pull the key out and insert it again; if it keeps hanging, reinstall the vendor's driver.
diag-module_error = The PKCS#11 module { $module } answered with an error: { $reason }
diag-module_error-fix = Reinstall the key's driver if the key does not work.
diag-no_module = No PKCS#11 module could be loaded, so no key can be read.
diag-no_module-fix = Install the driver of your key's vendor, or add its module in Settings.
diag-no_token = No key is inserted (checked { $modules } modules).
diag-no_token-fix = Insert the key; if it is inserted, try another USB port.
diag-usb_key_without_module = A { $vendor_name_zh } key ({ $product }, USB { $usb_id }) is plugged in, but no module of that vendor is installed.
diag-usb_key_without_module-fix = Install { $vendor_name }'s driver (its PKCS#11 module: { $modules }), then insert the key again.
diag-usb_key_skf_only = A { $vendor_name_zh } key ({ $product }, USB { $usb_id }) is plugged in; this vendor ships only an SKF library, which CertKey cannot use.
diag-usb_key_skf_only-fix = Use the CA's own client for this key, or ask the CA for a key with a PKCS#11 driver.
diag-usb_no_access = The { $vendor_name_zh } key at USB { $usb_id } is plugged in, but this user may not use it.
diag-usb_no_access-fix = Allow the logged-in user to use the vendor's keys (a udev rule; administrator rights).
diag-module_not_registered = The module { $module } is not registered with p11-kit: other programs (browsers) will not see its keys.
diag-module_not_registered-fix = Register the module with p11-kit for this user.
diag-pcsc_not_running = The smart-card service (pcscd) is not running, but { $devices } smart-card device(s) are plugged in.
diag-pcsc_not_running-fix = Start the smart-card service (administrator rights).
diag-token_claimed_twice = Key { $serial } is claimed by two modules: { $modules }.
diag-token_claimed_twice-fix = Two drivers fight over one key: remove the one that is not the key vendor's.
diag-token_not_initialized = Key { $serial } is blank: it holds no certificate yet.
diag-token_not_initialized-fix = A new key is activated with the 6-digit code the CA sent you.
diag-pin_locked = The PIN of key { $serial } is locked.
diag-pin_locked-fix = Use online unlock; do not try the old PIN again.
diag-pin_final_try = Key { $serial } has one PIN try left: a wrong PIN now locks it.
diag-pin_final_try-fix = Stop guessing. If you are not sure of the PIN, use online unlock.
diag-pin_count_low = A wrong PIN was entered on key { $serial } since its last success.
diag-pin_count_low-fix = Type the PIN carefully; the key locks after a few more wrong tries.
diag-pin_to_be_changed = Key { $serial } requires a new PIN before it can be used.
diag-pin_to_be_changed-fix = Change the PIN.
diag-so_pin_locked = The administrator PIN of key { $serial } is locked; it cannot be unlocked online.
diag-so_pin_locked-fix = Take the key to the CA.
diag-sm2_mechanism_missing = Key { $serial } holds an SM2 certificate, but its module lists none of the SM2 signing mechanisms of its vendor profile ({ $vendor }).
diag-sm2_mechanism_missing-fix = Install the vendor's current driver; an old or generic one may not sign with SM2.
diag-cert_unreadable = A certificate on key { $serial } (id { $id }) cannot be read.
diag-cert_unreadable-fix = The key may be damaged; ask the CA.
diag-cert_expired = The certificate of { $holder } on key { $serial } expired on { $not_after }.
diag-cert_expired-fix = An expired certificate cannot be renewed online: take your documents to the CA.
diag-cert_not_yet_valid = The certificate of { $holder } on key { $serial } is valid only from { $not_before }.
diag-cert_not_yet_valid-fix = Check this computer's date and time.
diag-cert_renewal_window = The certificate of { $holder } on key { $serial } expires in { $days } days ({ $not_after }).
diag-cert_renewal_window-fix = Renew it online now.
diag-cert_without_key = The certificate of { $holder } on key { $serial } (id { $id }) has no private key beside it.
diag-cert_without_key-fix = The key cannot sign with this certificate; ask the CA.
diag-cert_untrusted = The certificate of { $holder } on key { $serial } does not chain to a CA this computer trusts ({ $reason }).
diag-cert_untrusted-fix = Add the CA's certificates in Settings (CA bundle), or ask the CA which chain to install.
diag-seal_invalid = The electronic seal on key { $serial } does not verify ({ $reason }).
diag-seal_invalid-fix = Write the seal again from the Seal screen, or ask the CA.
diag-service_proxy = The CA service { $url } is reached through the proxy { $proxy }.
diag-service_proxy-fix = If the service cannot be reached, check the proxy settings.
diag-service_dns = The CA service's name { $host } does not resolve: { $reason }
diag-service_dns-fix = Check the network connection and DNS settings.
diag-service_unreachable = The CA service { $host }:{ $port } cannot be reached: { $reason }
diag-service_unreachable-fix = Check the network, the firewall and the proxy; if they are fine, the service may be down.
diag-service_tls = The CA service { $url } does not prove its identity: { $reason }
diag-service_tls-fix = Check this computer's date; if it is right, do not go on and tell the CA (the connection may be intercepted).
diag-service_api = The CA service { $url } does not answer as expected: { $reason }
diag-service_api-fix = Check the service address in Settings; the service may be being maintained.
diag-clock_skew = This computer's clock is { $minutes } minutes { $direction ->
        [behind] behind
       *[ahead] ahead of
    } the clock of the CA service { $url }.
diag-clock_skew-fix = Set the date and time automatically (network time).
diag-self_test_ok = Key { $serial } signed a test message and the signature matches its certificate.
diag-self_test_ok-fix = Nothing to do.
diag-self_test_refused_final_try = The self-test was not run: key { $serial } has one PIN try left.
diag-self_test_refused_final_try-fix = Use online unlock if you are not sure of the PIN.
diag-self_test_failed = The self-test on key { $serial } failed ({ $reason }).
diag-self_test_failed-fix = If the PIN was right, the key may be damaged; ask the CA.
diag-probe_failed = The check "{ $probe }" could not run: { $reason }
diag-probe_failed-fix = The other checks are complete; send this report to the help desk.
