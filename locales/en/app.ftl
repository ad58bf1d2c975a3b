# The desktop app's text (English). Message ids must match zh-CN/app.ftl one to one.

app-title = CertKey
app-language = Language
app-language-zh-CN = 中文
app-language-en = English
app-error-unknown = Something unexpected went wrong ({ $code }). Try again; if it keeps happening, call the help desk.
app-yes = Yes
app-no = No
app-unknown-until-login = Known after login
app-list-separator = ,{" "}
app-back = Back
app-back-to-overview = Back to my keys
app-cancel = Cancel
app-next = Next
app-start = Start
app-try-again = Try again
app-copy = Copy
app-copied = Copied to the clipboard
app-details = Certificate details
app-progress = Progress
app-working = Working — keep the key plugged in…

## Overview
app-overview-title = My certificate keys
app-looking-for-keys = Looking for keys…
app-no-keys = No key found
app-no-keys-hint = Plug your USB key into this computer; it shows up here by itself ({ $modules } driver modules loaded).
app-module-problem = Driver module { $module } has a problem:
app-slot-problem = The key in slot { $slot } of driver module { $module } cannot be read:
app-key-read-problems = Part of this key could not be read (the rest is shown as usual):
app-key-aria = Key { $serial }
app-vendor-unknown = Unknown vendor
app-key-serial = Serial
app-key-label = Label
app-free-memory = { $kib } KB free
app-key-blank-help = This key is blank (not initialised) and cannot be used as it is. Certificate keys are initialised by the CA before delivery.
app-key-no-certificate = This key holds no certificate yet.
app-activation-offer = A certificate is waiting to be activated on this key: have the 6-digit activation code from the text message or e-mail ready.
app-activation-unreachable = The CA service cannot be reached right now, so whether this key has a certificate waiting to be activated is unknown. Check the network; it is tried again every 15 seconds.
app-activation-unknown = Whether this key has a certificate waiting to be activated could not be checked:
app-activate = Activate
app-change-pin = Change PIN
app-pin-covers-key = The PIN protects every certificate on this key.

## PIN states
app-pin-blank = Not initialised
app-pin-ok = PIN OK
app-pin-not-set = No PIN set yet
app-pin-count-low = Wrong PIN entered before; few tries left
app-pin-final-try = Final try left
app-pin-locked = PIN locked
app-pin-must-change = PIN must be changed
app-pin-count-low-help = A wrong PIN was entered on this key recently and few tries are left. Make sure of the PIN before typing it; if you cannot remember it, do not guess: ask for online unlock.
app-pin-final-try-help = Only one try left: one more wrong PIN locks the key. If you are not sure of the PIN, stop here and ask for online unlock instead.
app-pin-locked-help = The PIN is locked and the key cannot be used for now. Unlock it online: approved at once when the handler's details match your last business with the CA, otherwise after a review (command line: certkey unlock).
app-pin-state-now = PIN state now:

## Certificates
app-cert-type = Certificate type
app-cert-type-organisation = Organisation
app-cert-type-org_person = Person in an organisation
app-cert-type-person = Natural person
app-cert-type-unknown = Not recognised
app-cert-organisation = Organisation
app-cert-issuer = Issuer
app-cert-subject = Subject
app-cert-serial = Certificate serial
app-cert-valid-from = Valid from
app-cert-valid-until = Valid until
app-cert-key-algorithm = Key algorithm
app-cert-signature-algorithm = Signature algorithm
app-cert-key-usage = Key usage
app-cert-ext-key-usage = Extended key usage
app-cert-private-key = Private key on the key
app-cert-signature-check = Signature check
app-cert-seal = Electronic seal
app-cert-seal-present = Written: { $name }
app-cert-seal-none = None
app-cert-seal-invalid = There is a seal object on the key, but it is not valid and is not taken as this certificate's seal ({ $problem }). Details: certkey seal show
app-seal-problem-seal_malformed = not a complete seal
app-seal-problem-signature_invalid = the maker's signature does not verify
app-seal-problem-unknown_critical_extension = it carries a critical extension this app does not know
app-seal-problem-not_bound = it was made for another certificate
app-seal-problem-maker_no_trusted_ca = no trusted CA is configured to check the maker against
app-seal-problem-maker_issuer_not_trusted = the maker was not certified by a trusted CA
app-seal-problem-maker_self_issued = the maker's certificate is self-signed
app-seal-problem-maker_holder_certificate = it was made with a certificate holder's key, not by a CA's seal maker
app-seal-problem-maker_key_usage = the maker's certificate does not allow signing
app-seal-problem-maker_certificate_invalid = the maker's certificate cannot be read
app-seal-problem-seal_not_valid_now = the seal is outside its validity period
app-seal-problem-several_seals = there is more than one seal object for this certificate
app-cert-seal-unchecked = Written: { $name } (its maker could not be checked: no trusted CA is configured)
app-seal-problem-maker_certificate_not_valid_now = the maker's certificate is not valid now
app-seal-problem-unreadable = it cannot be read
app-cert-unreadable = This certificate cannot be read.
app-cert-valid = { $days } days left
app-cert-renewable = Expires in { $days } days: renew online
app-cert-expired = Expired { $days } days ago
app-cert-not-yet-valid = Not valid yet
app-days-left = { $days } days left
app-renewal-banner = This certificate expires in { $days } days. In the last 90 days before expiry it can be renewed online, and the certificate and its seal carry on (command line: certkey renew).
app-expired-banner = This certificate has expired and cannot be renewed online. Bring the key and a valid ID (for an organisation, also its business licence and the handler's authorisation) to a CA service point, or apply for a certificate update on the CA's website; the key itself can be reused.

## Certificate details
app-details-title = Certificate details
app-key-gone = Key { $serial } was pulled out. This page comes back when you plug it in again.
app-key-section = The key
app-key-manufacturer = Manufacturer
app-key-model = Model
app-key-versions = Hardware / firmware version
app-key-module = Driver module
app-key-pin-length = PIN length
app-key-objects = Objects on the key
app-key-object-counts = { $certs } certificates, { $keys } keys, { $data } data objects
app-export = Export certificate (PEM)
app-exported = Certificate exported to { $path }
app-ku-digital_signature = Digital signature
app-ku-non_repudiation = Non-repudiation
app-ku-key_encipherment = Key encipherment
app-ku-data_encipherment = Data encipherment
app-ku-key_agreement = Key agreement
app-ku-key_cert_sign = Certificate signing
app-ku-crl_sign = CRL signing
app-ku-encipher_only = Encipher only
app-ku-decipher_only = Decipher only
app-eku-client_auth = Client authentication
app-eku-server_auth = Server authentication
app-eku-email_protection = E-mail protection
app-eku-code_signing = Code signing
app-eku-time_stamping = Time stamping
app-eku-ocsp_signing = OCSP signing
app-sigcheck-valid = Verified against its issuer
app-sigcheck-invalid = Invalid signature: the certificate may have been tampered with
app-sigcheck-issuer_not_found = Issuer certificate not found: not verified
app-sigcheck-unsupported = This algorithm cannot be verified
app-sigcheck-unknown = Not checked
app-alg-sm2 = SM2 (Chinese national standard)
app-alg-p256 = ECC P-256

## Activation
app-activate-title = Activate key { $serial }
app-order-title = Is this your certificate?
app-order-intro = The CA prepared the certificate below for key { $serial }. Check the holder and go on only if it is yours.
app-order-holder = Holder
app-order-years = Validity
app-years = { $years ->
    [one] 1 year
   *[other] { $years } years
}
app-order-code-expires = Activation code valid until
app-order-confirm = It is mine, go on
app-order-not-mine = It is not mine
app-code-title = Enter the 6-digit activation code
app-code-help = The activation code is sent by text message or e-mail after the key is shipped and is valid for 30 days.
app-code-attempts-left = { $left ->
    [one] 1 try left.
   *[other] { $left } tries left.
}
app-code-lock-explained = After too many wrong codes the activation code locks; the CA can then send a new one.
app-new-pin-title = Set a new PIN
app-new-pin = New PIN
app-new-pin-again = New PIN again
app-new-pin-help = The PIN protects the private key on your key; every signature and login needs it. Remember it and never share it.
app-pin-mismatch = The two PINs differ.
app-activated-title = Activated
app-activated-next = The certificate is on the key and ready to use. Keep the key and its PIN safe.
app-show-certificate = Show the certificate
app-key-removed-resume = The key was pulled out and the operation paused; what was done is kept on the key. Plug it back in and it goes on by itself.

## Change PIN
app-change-pin-title = Change the PIN of key { $serial }
app-change-pin-intro = First the current PIN, then the new one.
app-current-pin-title = Enter the current PIN
app-final-try-title = Final try
app-final-try-text = Key { $serial } has one PIN try left. If this one is wrong the PIN locks, and the key needs online unlock before it can be used again.
app-final-try-stop = Stop here
app-final-try-go = I am sure of the PIN, go on
app-pin-changed = PIN changed
app-pin-changed-next = Use the new PIN from now on.
app-operation-cancelled = Cancelled. Nothing was changed on the key.

## PIN rules checked as the new PIN is typed
app-rule-too_short = At least { $min } characters
app-rule-too_long = At most { $max } characters
app-rule-not_printable = Letters, digits and ASCII symbols only (no spaces)
app-rule-all_same = Not one character repeated
app-rule-sequence = Not a run of characters (like 123456 or 654321)

## Unlock
app-unlock = Unlock online
app-unlock-title = Unlock key { $serial }
app-loading = Loading…
app-unlock-not-locked = The PIN of this key is not locked: there is nothing to unlock.
app-unlock-intro = The CA unlocks the key online. Give the handler's (经办人) details: when they match the handler of your last business with the CA, the unlock is approved at once; otherwise a CA operator reviews the request, which can take a while — you can close the app meanwhile.
app-handler-name = Handler's name
app-handler-id = Handler's ID document number
app-handler-phone = Handler's phone number
app-handler-name-needed = Enter the handler's name (at most 64 characters).
app-handler-id-needed = Enter the handler's ID document number.
app-handler-phone-needed = Enter the handler's phone number.
app-handler-phone-invalid = A phone number has digits only (spaces, dashes and a leading + are allowed).
app-handler-remember = Remember the handler on this computer (in the system keyring)
app-handler-remembered = The handler is remembered on this computer.
app-handler-forget = Forget it
app-handler-remember-failed = The handler could not be remembered (the system keyring refused); the unlock itself is not affected.
app-unlock-send = Send the unlock request
app-unlocked = Key unlocked
app-unlocked-next = Use the new PIN from now on.
app-unlock-pending-title = Waiting for the CA's review
app-unlock-pending = The request (ticket { $ticket }) is being reviewed by the CA.
app-unlock-pending-next = CertKey checks again every 30 seconds while this screen is open, and whenever you come back — even after closing the app. Once approved, you choose the new PIN here.
app-check-again = Check again
app-unlock-rejected-title = Unlock refused
app-unlock-rejected = The CA refused the unlock request (ticket { $ticket }). Contact the CA, or ask again with the right handler's details.
app-unlock-materials-title = The CA asks for materials:
app-unlock-materials-earlier = The CA asked for: { $note }
app-unlock-rejected-reason = The CA's reason:
app-attach-title = Materials for the review
app-attach-none = No file sent yet.
app-attach-drop = Drop scans here (PDF, JPEG or PNG), or choose the files
app-attach-choose = Choose files…
app-attach-sending = Sending { $file }…
app-attach-rules = Each file at most 5 MB, at most { $max } files. They go to the CA only, for this request.
app-attach-full = { $max } files sent: the most the CA takes for one request.
app-attach-refused = { $file } was not sent: { $why }
app-attach-limit = the request already has { $max } files.
app-attach-empty = the file is empty.
app-attach-too-large = the file is larger than 5 MB; scan at a lower resolution or as a PDF.
app-attach-type = only PDF, JPEG and PNG files are taken (this one is none of them, whatever its name says).
app-unlock-ask-again = Ask again

## Seal
app-seal-open = Electronic seal
app-seal-view = View the seal
app-seal-title = Electronic seal
app-seal-for = For the certificate of { $holder } on key { $serial }
app-seal-intro = Pick the picture of the seal (PNG, JPEG or BMP, at most 4 MiB): a scan or photo of the stamp on white paper works. CertKey makes the white background transparent and trims it; the CA then makes the seal, and it is written on the key. Each certificate has exactly one seal.
app-seal-drop = Drop the picture here, or choose a file.
app-seal-choose = Choose a file…
app-seal-picked = Picture: { $file } — drop or choose another to replace it
app-seal-picture-type = That file is not a picture CertKey can use: choose a PNG, JPEG or BMP file.
app-seal-picture-empty = That file is empty.
app-seal-picture-too-big = That picture is larger than 4 MiB: scan it at a lower resolution or save it as JPEG.
app-seal-size-range = The size is a whole number of millimetres from 10 to 100.
app-seal-name = Name on the seal
app-seal-width = Width (mm)
app-seal-height = Height (mm)
app-seal-preview-title = Preview, at its real size
app-seal-preview-facts = “{ $name }”, { $w } × { $h } mm; the picture sent is { $wpx } × { $hpx } pixels, { $kib } KiB.
app-seal-picture-alt = The seal “{ $name }”
app-seal-write = Write the seal on the key
app-seal-written = Seal written
app-seal-show = View the seal
app-seal-size = Size
app-seal-size-mm = { $w } × { $h } mm
app-seal-valid-until = Valid until
app-seal-valid = Valid
app-seal-type = Type
app-seal-type-organisation = Organisation seal
app-seal-type-personal = Personal seal
app-seal-form = Format
app-seal-id = Seal ID
app-seal-check-maker-ok = Made by a seal maker of { $ca }
app-seal-check-maker-bad = The seal maker is not trusted: { $problem }
app-seal-check-signature-ok = The maker's signature verifies
app-seal-check-signature-bad = The maker's signature does not verify
app-seal-check-bound-ok = Bound to this certificate
app-seal-check-bound-bad = Not bound to this certificate
app-seal-one-only = A certificate has one electronic seal, and it cannot be replaced. For another seal you need another certificate (for example a new certificate on another key, from the CA).
app-seal-export = Export the picture
app-seal-exported = Seal picture exported to { $path }

## Renewal
app-renew = Renew online
app-renew-check = Renewal
app-renew-title = Renew the certificate on key { $serial }
app-renew-cert = The certificate of { $holder } is valid until { $until } ({ $days } days left).
app-renew-too-early = Online renewal opens 90 days before expiry, on { $opens }. Come back then: CertKey reminds you when it opens.
app-renew-revoked = This certificate was revoked: it cannot be renewed. Ask the CA for a new certificate.
app-renew-renewed-before = This certificate was renewed already: the new certificate is on the key and is renewed in its own time.
app-renew-term = Term
app-renew-years = { $years ->
        [one] 1 year
       *[other] { $years } years
    }
app-renew-new-until = valid until { $until }
app-renew-payment-title = Payment first
app-renew-payment-generic = This CA renews online only what was paid for: pay the CA for the term you choose, then check again.
app-renew-paid = Paid for { $years ->
        [one] 1 year
       *[other] { $years } years
    }: this term is renewed.
app-renew-seal-note = A new key pair is made on the key and the CA issues the new certificate; your electronic seal, if any, moves to the new certificate. Keep the key plugged in until it is done.
app-renew-start = Renew
app-renewed-title = Certificate renewed
app-renewed-next = The new certificate is in use from now on (with your seal, if you had one); the old one was removed from the key.

## Settings
app-settings = Settings
app-settings-title = Settings
app-settings-ca = CA service
app-settings-service-url = One CA service for every key (optional)
app-settings-service-url-help = Leave empty to let the CA directory below choose the service by each certificate's issuer. Only https is accepted (or http to this computer).
app-settings-ca-name = CA
app-settings-ca-service = Service
app-settings-ca-default = activations
app-settings-ca-none = The CA directory is empty: activations and renewals need a CA service above.
app-settings-modules = PKCS#11 modules
app-settings-auto-on = The drivers CertKey knows (the vendor catalog) are found on this computer by themselves; add a module here only when yours is not found.
app-settings-auto-off = Only the modules listed here are used (auto_modules = false in the config).
app-settings-modules-none = No extra module.
app-settings-module-path = Module file
app-settings-module-add = Add
app-settings-module-pick = Choose a module file…
app-settings-module-remove = Remove
app-settings-module-loaded = loaded
app-settings-module-loading = not checked yet (saved modules are loaded at once)
app-settings-module-not-loaded = not loaded
app-settings-save = Save
app-settings-saved = Saved in { $path }; the settings are in force (the modules loaded again).
app-about = About
app-about-app = CertKey app
app-about-core = certkey-core
app-log = Log
app-log-where = The log folder:
app-log-empty = (nothing logged yet)
app-log-refresh = Refresh
app-log-open = Open the log folder

## Renewal reminders and the tray
app-settings-reminders = Renewal reminders
app-settings-reminders-on = Remind me with a desktop notification when a certificate can be renewed, and again at 30 and at 7 days before it expires
app-settings-tray = Keep running in the tray when the window is closed, so that reminders still come
app-settings-reminders-help = At most one reminder a day. With the tray off, reminders come while the app is open.
app-settings-log-level = How much goes into the log
app-settings-log-level-off = Nothing
app-settings-log-level-error = Failures only
app-settings-log-level-warn = Failures and warnings
app-settings-log-level-info = What CertKey does (default)
app-settings-log-level-debug = Every step, for the help-desk
app-settings-log-level-trace = Everything, with each call to the key's module
app-settings-log-level-help = The log never holds a PIN or an activation code. Raise the level while the help-desk looks into a problem; a day's log is one file per program, and the last 14 of each are kept.
app-settings-log-level-env = CERTKEY_LOG={ $filter } is set for this app: it decides what is logged while it is set, whatever is chosen here.
app-reminder-title-one = A certificate expires in { $days } days
app-reminder-title-many = { $count } certificates expire soon, the first in { $days } days
app-reminder-window = { $holder } (key { $serial }): online renewal is open, { $days } days left (until { $date }).
app-reminder-days = { $holder } (key { $serial }): expires in { $days } days, on { $date }.
app-reminder-how = Open CertKey and choose Renew on the certificate.
app-tray-open = Open CertKey
app-tray-quit = Quit
app-tray-tooltip = CertKey: renewal reminders

## Diagnostics screen (the findings' own text is diag-* in diagnose.ftl)
app-diagnose = Diagnostics
app-diagnose-title = Diagnostics
app-diagnose-intro = Checks this computer, the keys, their drivers and the CA service, and says what to do about each problem it finds. A help desk may ask you for the report.
app-diagnose-network = Check the CA services and the clock (uses the network)
app-diagnose-self-test = Also let a key sign a test message (needs its PIN)
app-diagnose-self-test-key = Key
app-diagnose-self-test-pin = PIN
app-diagnose-self-test-help = The PIN is used once for the test and not kept. The test is never run when the key has only one PIN try left.
app-diagnose-pin-needed = Type the key's PIN for the self-test, or untick it.
app-diagnose-start = Start the check
app-diagnose-again = Check again
app-diagnose-seen = What was looked at
app-diagnose-offline = not checked (no network)
app-diagnose-fix-confirm = CertKey will do what is described above. Go ahead?
app-diagnose-fix-yes = Yes, do it
app-diagnose-fix-done = Done. To undo it: { $undo }
app-diagnose-export = Save the report
app-diagnose-export-help = The report goes into your Downloads folder (your home folder when there is none), readable only by you. Send it to your CA's help desk if they ask.
app-diagnose-personal = Include personal data (names, ID numbers, phone numbers, e-mail)
app-diagnose-save-html = Save as a web page (HTML)
app-diagnose-save-json = Save as JSON
app-diagnose-exported = Report saved to { $path }
