### The workflow vocabulary of certkey-core, shared by the CLI and the desktop app:
### steps (step-<Step>), notices (notice-<kind>), confirmations (confirm-<kind>),
### secret prompts (secret-<kind>), PIN policy rules (pin-rule-<rule>) and
### certificate types (cert-type-<type>), named as core serialises them.

## Steps of a workflow.

step-read_token = reading the key
step-contact_service = contacting the CA service
step-check_code = checking the activation code
step-login = logging in to the key
step-set_pin = setting the PIN
step-generate_key = generating the key pair on the key
step-sign_request = signing the certificate request on the key
step-request_certificate = the CA issues the certificate
step-install_certificate = writing the certificate
step-sign_seal = signing the seal request on the key
step-make_seal = the CA makes the electronic seal
step-write_seal = writing the seal onto the key
step-verify = checking the result
step-clean_up = cleaning up

## Notices. $error of notice-rejected is the error's text.

notice-resuming = finishing an interrupted { $operation }
notice-checking_request = checking the unlock request sent earlier for key { $serial } with the CA
notice-rejected = { $error }
notice-pin_count_low = careful: key { $serial } has few PIN tries left
notice-existing_seal = the CA already made this certificate's seal (one per certificate): writing that seal onto key { $serial }
notice-pin_must_change = key { $serial } requires a new PIN first

## Confirmations. $cert_type is a cert-type code; $key_algorithm is SM2 or P-256.

confirm-activate = Pending order for key { $serial }: holder { $holder }, { $cert_type ->
        [organisation] { cert-type-organisation }
        [org_person] { cert-type-org_person }
        [person] { cert-type-person }
       *[other] { $cert_type }
    }, { $years } year(s), { $key_algorithm } key. Activate?
confirm-final_try = Key { $serial } has one PIN try left and locks after another wrong PIN. Try anyway?

## Secret prompts (the CLI shows them as they are, so they end with ": ").

secret-activation_code = { $attempts_left ->
        [none] 6-digit activation code:{" "}
       *[other] 6-digit activation code ({ $attempts_left } tries left):{" "}
    }
secret-current_pin = PIN of key { $serial }{ $final_try ->
        [true] {" "}(final try)
       *[other] { $count_low ->
            [true] {" "}(few tries left)
           *[other] {""}
        }
    }:{" "}
secret-new_pin = Choose a new PIN: { $min } to { $max } characters, not one repeated character, not a run like 123456, not the factory PIN.

## PIN policy rules (pin::check_new_pin), and the two entries of a new PIN differing.

pin-rule-not_printable = the new PIN may only hold visible ASCII characters
pin-rule-too_short = the new PIN must have { $min } to { $max } characters
pin-rule-too_long = the new PIN must have { $min } to { $max } characters
pin-rule-all_same = the new PIN cannot be one repeated character
pin-rule-sequence = the new PIN cannot be an ascending or descending run (like 123456)
pin-rule-default_pin = the new PIN cannot be the factory default PIN
pin-rule-same_as_old = the new PIN must differ from the old one
pin-rule-mismatch = the two new PINs differ

## Certificate types.

cert-type-organisation = organisation
cert-type-org_person = person in organisation
cert-type-person = person
