### Text of the certkey command line (crates/cli).

## Results of the commands.

cli-activated = Activated: key { $token_serial } holds the certificate { $subject }, valid until { $not_after } (serial { $certificate_serial }). Keep your new PIN safe.
cli-renewed = Renewed{ $years ->
        [none] {""}
        [one] {" "}for 1 year
       *[other] {" "}for { $years } years
    }: key { $token_serial } holds the new certificate { $subject }, valid until { $not_after } ({ $days_left } days; serial { $new_serial }; the old certificate { $old_serial } was removed from the key).
cli-unlocked = Key { $serial } is unlocked: use your new PIN.
cli-unlock-pending = Unlock request { $ticket } waits for the CA's review; run certkey unlock again (or certkey unlock --status) once approved.
cli-unlock-rejected = The CA rejected unlock request { $ticket }; contact the CA.
cli-unlock-rejected-reason = The CA rejected unlock request { $ticket }: { $reason }
cli-unlock-needs-materials = The CA asks for materials for unlock request { $ticket }: { $note }
    Attach scans with certkey unlock --attach FILE (PDF, JPEG or PNG, at most 5 MiB each, at most 5 files); the request is then reviewed again.
cli-unlock-note = Materials the CA asked for: { $note }
cli-unlock-attachments = Materials sent: { $files }
cli-unlock-attached = Attached { $file_name } ({ $media_type ->
        [pdf] PDF
        [jpeg] JPEG
        [png] PNG
       *[other] { $media_type }
    }, { $size } bytes) to the unlock request.
cli-pin-changed = The PIN of key { $serial } is changed.
cli-seal-written = The electronic seal is on key { $token_serial }: "{ $name }" ({ $width_mm }x{ $height_mm } mm, seal id { $es_id }), bound to the certificate { $certificate_subject } (serial { $certificate_serial }), valid until { $valid_end }.

## certkey renew --quote. $cert_type is a cert-type code; $currency an ISO 4217 code;
## $amount the price in the currency's major unit (100 fen = 1.00 yuan).

cli-quote-heading = Renewal of { $subject } (certificate { $serial }) on key { $token_serial }: { $cert_type ->
        [organisation] { cert-type-organisation }
        [org_person] { cert-type-org_person }
        [person] { cert-type-person }
       *[other] { $cert_type }
    } certificate, valid until { $not_after } ({ $days_left } days left)
cli-quote-open = Online renewal is open now.
cli-quote-not_yet_open = Online renewal opens on { $opens_at }, 90 days before expiry.
cli-quote-expired = The certificate has expired: it cannot be renewed online; renewal is offline business at the CA.
cli-quote-revoked = The certificate is revoked: it cannot be renewed.
cli-quote-renewed = This certificate was already renewed: the new one is renewed in its turn.
cli-quote-terms = Terms (choose one with certkey renew --years N):
cli-quote-years = { $years ->
        [one] 1 year
       *[other] { $years } years
    }
cli-quote-price = { $currency ->
        [CNY] ¥{ $amount }
       *[other] { $amount } { $currency }
    }
cli-quote-until = valid until { $not_after }
cli-quote-payment-not_required = Payment: online renewal needs no payment to the CA beforehand.
cli-quote-payment-paid = Payment: { $years ->
        [one] 1 year is
       *[other] { $years } years are
    } paid for: renew with certkey renew --years { $years }.
cli-quote-payment-missing = Payment: required before renewing, and none is on record at the CA yet.
cli-quote-how-to-pay = How to pay: { $instructions }

## Questions and prompts.

cli-confirm-prompt = type y and Enter to confirm:{" "}
cli-confirm-no-terminal = a confirmation is needed and there is no terminal: add --yes when sure
cli-no-terminal = no terminal to ask on: set this environment variable
cli-new-pin = new PIN:{" "}
cli-new-pin-again = new PIN again:{" "}
cli-pin-prompt = Key PIN:{" "}
cli-handler-all-three = give all three together
cli-remember-failed = could not remember the handler
cli-export-one-seal = the key holds { $count } seals: choose one with --id

## certkey list and certkey info.

cli-no-keys = No keys found.
cli-no-certificates = no certificates
cli-token-blank = (blank key, not initialised)
cli-token-heading = Key { $label }  serial { $serial }  ({ $manufacturer } { $model })
cli-token-module = module { $module }  slot { $slot }
cli-token-pin = PIN: { $state }
cli-list-separator = {", "}
cli-pin-not_set = not set
cli-pin-locked = LOCKED (needs unlocking)
cli-pin-final_try = final try left
cli-pin-count_low = wrong PIN entered, tries reduced
cli-pin-to_be_changed = must be changed
cli-pin-ok = OK
cli-so-pin-locked = locked
cli-so-pin-final_try = final try
cli-so-pin-count_low = count low
cli-renewal-valid = valid
cli-renewal-renewable = renewable
cli-renewal-expired = expired
cli-renewal-not_yet_valid = not yet valid
cli-yes = yes
cli-no = no
cli-after-login = after login
cli-signature-valid = valid ({ $issuer })
cli-signature-invalid = INVALID! ({ $issuer })
cli-signature-issuer_not_found = issuer not available
cli-signature-unsupported = unsupported algorithm { $algorithm }
cli-col-subject = subject
cli-col-issuer = issuer
cli-col-expires = expires
cli-col-days_left = days left
cli-col-status = status
cli-col-key = key
cli-col-private_key = private key
cli-unreadable = (unreadable)
cli-errors-heading = Errors:
cli-place-slot = slot { $slot }
cli-place-object = object { $object }
cli-info-vendor = vendor profile
cli-info-versions = hardware/firmware
cli-info-flags = flags
cli-info-so_pin = SO PIN
cli-info-public_memory = public memory free/total
cli-info-private_memory = private memory free/total
cli-info-mechanisms = mechanisms ({ $count }): { $names }
cli-info-certificate = certificate { $id } "{ $label }"
cli-info-data_object = data object { $id } "{ $label }" { $application } { $size } bytes
cli-field-subject = subject
cli-field-issuer = issuer
cli-field-serial = serial
cli-field-validity = validity
cli-field-days_left = days left
cli-field-type = type
cli-field-key_algorithm = key
cli-field-signature_algorithm = signature
cli-field-key_usage = key usage
cli-field-extended_usage = extended usage
cli-field-private_key = private key
cli-field-signature_check = signature check
cli-object-private_key = private key
cli-object-public_key = public key
cli-object-secret_key = secret key

## certkey seal show.

cli-seals-heading = Electronic seals on key { $serial } ({ $count }):
cli-seal-no-certificate = (no certificate with this id on the key)
cli-seal-unreadable = id { $id }: unreadable seal ({ $reason })
cli-seal-type-organisation = organisation seal
cli-seal-type-personal = personal seal
cli-seal-type-other = type { $type }
cli-seal-pixels = , { $width }x{ $height } px
cli-seal-signature-valid = valid
cli-seal-signature-invalid = INVALID
cli-seal-bound-yes = yes
cli-seal-bound-no = NO
cli-seal-trusted = yes ({ $ca })
cli-seal-untrusted = NO ({ $reason })
cli-seal-not-valid-now = {" "}(not valid now)
cli-seal-title = "{ $name }"  { $kind }, id { $es_id }
cli-seal-format = format       { $form } (version { $version }, vendor { $vid })
cli-seal-validity = valid        { $start } to { $end }{ $not_valid_now }
cli-seal-picture = picture      { $picture_kind }, { $bytes } bytes{ $pixels }, { $width_mm }x{ $height_mm } mm
cli-seal-maker = maker        { $maker } ({ $algorithm })
cli-seal-signature = signature    { $signature }
cli-seal-maker-trusted = maker trusted { $trusted }
cli-seal-bound = bound        { $bound }: id { $id }, { $certificate }
cli-seal-exported = The seal picture is saved in { $path }
cli-untrusted-no_trusted_ca = there is no trusted CA certificate to check it against (see the CA list below)
cli-untrusted-certificate_invalid = the maker's certificate does not parse
cli-untrusted-certificate_not_valid_now = the maker's certificate is not valid now
cli-untrusted-self_issued = the maker's certificate is self-issued, not issued by a CA
cli-untrusted-key_usage = the maker's certificate's key usage does not allow signing
cli-untrusted-issuer_not_trusted = the maker's certificate is not issued by a trusted CA
cli-untrusted-holder_certificate = the maker's certificate is a certificate holder's (client authentication or e-mail protection), not a seal maker's
cli-ca-list-service = CA list: from the CA service { $service } ({ $service_count } certificates), { $bundle_count } from CA bundles
cli-ca-list-cache = CA list: the CA service cannot be used ({ $why }); using its list cached at { $fetched_at } ({ $service_count } certificates), { $bundle_count } from CA bundles
cli-ca-list-none = CA list: none from a CA service ({ $why }{ $cache_note }); { $bundle_count } from CA bundles (give them with --ca-bundle or the config's ca_bundle)
cli-ca-list-no-cache = ; no usable cache: { $reason }

## certkey diagnose
cli-diagnose-written = Report written to { $path }
cli-logs-exported = Log written to { $path } ({ $files ->
    [one] one file
   *[other] { $files } files
}); only you can read it. It names your keys and certificates: send it to the help-desk only.
cli-logs-empty = Nothing logged yet (the log is kept in { $dir }).
cli-diagnose-fix-ask = { $fix } Do it now? [y/N]
cli-diagnose-fix-done = Done: { $fix } To undo: { $undo }
cli-diagnose-fix-failed = Not done: { $fix } ({ $reason })
