### Errors of certkey-core, by their stable code (crates/core/src/error.rs).
###
### error-<code> is the message of an error; error-<code>-<value> is used instead when
### a sub-code field (service_code, reason, reason_code, problem) has that value.
### Variables are the error's fields; a field that is absent is "none". A ckr field also
### gives $ckr_hex and $ckr_hint (the ckr-0x<HEX> message). See crates/i18n/src/lib.rs.

error-module_not_found = PKCS#11 module { $path } does not exist
error-module_load_failed = cannot load PKCS#11 module { $path }: { $reason }
error-pkcs11 = { $function } returned { $ckr_name } (0x{ $ckr_hex }){ $ckr_hint ->
        [none] {""}
       *[other] {" "}({ $ckr_hint })
    }
error-module_misbehaved = the PKCS#11 module misbehaved: { $reason }
error-module_not_responding = PKCS#11 module { $module } has not answered for { $seconds } s: pull the key out and put it back, or reinstall the driver
error-module_crashed = PKCS#11 module { $module } crashed{ $signal ->
        [none] { $status ->
            [none] {""}
           *[other] {" "}(exit status { $status })
        }
        [11] {" "}(segmentation fault)
        [6] {" "}(abort)
       *[other] {" "}(signal { $signal })
    }: its keys are not shown; CertKey tries again in { $retry_s } s. If it keeps crashing, update or reinstall the driver
error-module_busy = PKCS#11 module { $module } takes one request at a time and is still busy (another operation on one of its keys, or a slow read): wait until it ends, then try again
error-certificate_invalid = the certificate does not parse: { $reason }
error-token_not_found = no key with serial { $serial } is present
error-token_ambiguous = serial { $serial } is present on several modules: { $modules }; pick one with --no-auto-modules --module
error-several_tokens = several keys fit: { $keys }; name one with --token (its serial, or slot:ID, label:TEXT)
error-ca_unknown = { $issuer ->
        [none] no CA service is configured: set default_ca or the CA directory ([[ca]]) in the config, or name the service with --service
       *[other] no CA service is configured for certificates issued by { $issuer }: add the CA to the CA directory ([[ca]] in the config) or name the service with --service
    }
error-certificate_not_found = no certificate with id { $id } on key { $serial }
error-pin_locked = the PIN of key { $serial } is locked; use online unlock
error-pin_final_try = key { $serial } has one PIN try left and locks after another wrong PIN; add --final-try-ok when sure
error-pin_incorrect = wrong PIN for key { $serial }{ $locked ->
        [true] ; the key is now locked
       *[other] { $final_try ->
            [true] ; one try left
           *[other] { $count_low ->
                [true] ; fewer tries left
               *[other] {""}
            }
        }
    }
error-pin_length = the PIN must have { $min } to { $max } characters
error-invalid_argument = invalid { $name }: { $reason }
error-invalid_argument-image_format = the seal picture must be a PNG, JPEG or BMP file ({ $reason })
error-invalid_argument-image_corrupt = the seal picture is damaged and cannot be decoded ({ $reason })
error-invalid_argument-image_dimensions = the seal picture has too many pixels ({ $reason })
error-invalid_argument-image_too_large = the seal picture file is too large (4 MiB at most) ({ $reason })
error-invalid_argument-image_empty = nothing is left of the seal picture once its white background is removed ({ $reason })
error-invalid_argument-seal_size = the seal must be 10 to 100 mm wide and high ({ $reason })
error-invalid_argument-attachment_type = materials must be PDF, JPEG or PNG files, as their content shows whatever the name says; scan or save them again in one of these formats ({ $reason })
error-invalid_argument-attachment_too_large = a file of materials is at most 5 MiB: scan it at a lower resolution or split it ({ $reason })
error-invalid_argument-attachment_file_name = the file name cannot be used for materials (1 to 128 characters, no control characters) ({ $reason })
error-config_invalid = configuration file { $path } is invalid: { $reason }
error-io = { $path }: { $reason }
error-mechanism_unsupported = key { $serial } does not support { $mechanism }
error-token_signature_invalid = the key's signature does not verify: { $reason }
error-pin_policy = { $rule ->
        [too_short] { pin-rule-too_short }
        [too_long] { pin-rule-too_long }
        [all_same] { pin-rule-all_same }
        [sequence] { pin-rule-sequence }
        [default_pin] { pin-rule-default_pin }
        [same_as_old] { pin-rule-same_as_old }
        [not_printable] { pin-rule-not_printable }
        [mismatch] { pin-rule-mismatch }
       *[other] the new PIN is not acceptable ({ $rule })
    }
error-network = cannot reach the CA service at { $url }: { $reason }; check the network and retry
error-service_response = unexpected answer from the CA service: { $reason }
error-cancelled = cancelled

## The CA service refused (error-service, by the service's code).

error-service = the CA service refused: { $message } ({ $service_code })
error-service-activation_code_invalid = { $attempts_left ->
        [0] wrong activation code; the order is now locked: ask the CA for a new code
        [none] wrong activation code; the order is now locked: ask the CA for a new code
       *[other] wrong activation code; { $attempts_left } tries left
    }
error-service-order_locked = too many wrong codes: the order is locked; ask the CA for a new code
error-service-code_expired = the activation code has expired (valid 30 days); ask the CA for a new one
error-service-order_not_found = the CA has no pending order for this key
error-service-already_activated = this key was already activated
error-service-rate_limited = too many requests; retry in { $retry_after_s ->
        [none] 60
       *[other] { $retry_after_s }
    } s
error-service-renewal_not_open = the certificate has { $days_left ->
        [none] 0
       *[other] { $days_left }
    } days left; online renewal opens 90 days before expiry
error-service-renewal_term_mismatch = { $paid_years ->
        [none] the renewal was paid for another term than the one asked for: the CA renews only the term paid for; choose that one
        [one] the renewal was paid for 1 year, not the term asked for: the CA renews only the term paid for; choose 1 year (with the command line: --years 1)
       *[other] the renewal was paid for { $paid_years } years, not the term asked for: the CA renews only the term paid for; choose { $paid_years } years (with the command line: --years { $paid_years })
    }
error-service-renewal_entitlement_required = the CA renews this certificate only once the renewal is paid for: the renewal quote (certkey renew --quote) shows the prices and how to pay
error-service-invalid_term = the renewal term must be 1 to 5 years
error-service-certificate_expired = the certificate has expired and cannot be renewed online; visit the CA
error-service-certificate_revoked = the certificate is revoked
error-service-seal_exists = this certificate already has its electronic seal; another seal needs another certificate
error-service-invalid_holder = the holder name cannot go into a certificate (at most 64 characters, no control characters): { $message }
error-service-invalid_org = the organisation name cannot go into a certificate (at most 64 characters, no control characters): { $message }
error-service-csr_invalid = the certificate request (CSR) is invalid: unparsable, unsupported key or bad signature
error-service-signing_unavailable = the CA's signing key (HSM) is unavailable right now; retry later
error-service-request_timeout = the CA service took too long to answer; retry later
error-service-internal = internal error of the CA service; retry later or contact the CA
error-service-ticket_not_found = the CA does not know this unlock request (any more): run certkey unlock to ask again

## Not possible in the key's current state (error-not_applicable, by reason).

error-not_applicable = not possible in the key's current state ({ $reason })
error-not_applicable-renewal_not_open = the certificate has { $days_left ->
        [none] 0
       *[other] { $days_left }
    } days left; online renewal opens 90 days before expiry
error-not_applicable-certificate_expired = the certificate has expired and cannot be renewed online; take the key to the CA
error-not_applicable-pin_not_locked = the PIN of this key is not locked; no unlock needed
error-not_applicable-no_certificate = the key holds no certificate
error-not_applicable-journal_damaged = the record of an interrupted operation does not match the key's objects; nothing was removed: contact the CA or support
error-not_applicable-already_activated = this key is already activated
error-not_applicable-seal_exists = this certificate already has its electronic seal (one per certificate)
error-not_applicable-token_memory_full = the key's memory is too full to take the electronic seal
error-not_applicable-so_pin_locked = the key's admin (SO) PIN is locked: online unlock is impossible; contact the CA
error-not_applicable-so_pin_final_try = the key's admin (SO) PIN is at its final try; not risking it online: contact the CA
error-not_applicable-so_pin_mismatch = the admin (SO) PIN the CA has on file does not open this key (stopped trying to protect it): contact the CA, which can restore the previous SO PIN, then run certkey unlock again
error-not_applicable-unlock_ticket_expired = the approval of this unlock request expired before it was used: run certkey unlock again to ask anew
error-not_applicable-unlock_ticket_used = this unlock request was used up but the PIN is still locked: ask again
error-not_applicable-no_pending_unlock = no unlock request waits for this key
error-not_applicable-unlock_not_pending = the CA has already decided this unlock request: no more materials can be attached; run certkey unlock to see the decision
error-not_applicable-attachment_limit = this unlock request already has 5 files of materials, the most it takes: contact the CA if more are needed
error-not_applicable-unlock_other_service = the unlock request of this key was made with another CA service: attach the materials through that service (--service)
error-not_applicable-no_order = no CA of the directory has an order for this key: check that the key and its code come from the same CA, or name the service with --service
error-not_applicable-no_token = no key found: plug one in and retry
error-not_applicable-order_locked = too many wrong codes: the order is locked; ask the CA for a new code
error-not_applicable-code_expired = the activation code has expired (valid 30 days); ask the CA for a new one
error-not_applicable-no_seal = the key holds no electronic seal

## A secret could not be taken from the environment (error-secret_env, by problem).

error-secret_env = { $detail }
error-secret_env-secret_env_conflict = { $var } and { $var }_FILE are both set: set only one (preferably { $var }_FILE)
error-secret_env-secret_file_empty = the file named by { $var }_FILE is empty: { $detail }
error-secret_env-secret_file_unreadable = cannot read the file named by { $var }_FILE: { $detail }
error-secret_env-secret_env_not_unicode = { $var } is not valid UTF-8 text

## What a PKCS#11 return value means for a user: ckr-0x<CKR in upper-case hex>.

ckr-0x32 = the key was removed
ckr-0xE0 = no key in the slot
ckr-0x30 = device error
ckr-0x31 = the key's memory is full
ckr-0xA0 = wrong PIN
ckr-0xA4 = PIN locked
ckr-0xA3 = PIN expired
ckr-0x54 = the driver does not support this
ckr-0x190 = the driver is not initialised
ckr-0x6 = the driver failed
ckr-0x5 = general error in the driver
