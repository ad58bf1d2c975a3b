//! Property tests of the protocol bodies as the service (requests) and the client
//! (answers) read them: every v1 type deserialised with serde_json from arbitrary
//! bytes and from arbitrary JSON objects built from the protocol's own field names
//! (so that many come close to valid), and `Base64` fields from arbitrary strings.
//! The property: never a panic, `Ok` or a serde error; base64 round-trips.
//!
//! `PROPTEST_CASES` sets the number of cases (default 256 here, for CI); run longer
//! with `PROPTEST_CASES=100000 cargo test -p certkey-protocol --test proptest_bodies`.

use certkey_protocol::v1::*;
use certkey_protocol::{AttachmentInfo, AttachmentUpload, Base64, ErrorBody};
use proptest::prelude::*;
use serde_json::Value;

fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The field names of the v1 bodies.
const FIELDS: &[&str] = &[
    "activation_code",
    "activation_id",
    "cert_type",
    "certificate",
    "certificate_serial",
    "certificates",
    "chain",
    "chains",
    "ciphertext",
    "client_key",
    "code_expires_at",
    "csr",
    "ephemeral_key",
    "expires_at",
    "handler",
    "height_mm",
    "holder",
    "id_number",
    "image",
    "initial_pin",
    "key_algorithm",
    "name",
    "new_so_pin",
    "nonce",
    "order_id",
    "phone",
    "proof",
    "request_id",
    "result",
    "seal",
    "signature",
    "so_pin",
    "state",
    "status",
    "ticket",
    "time",
    "token_serial",
    "version",
    "width_mm",
    "years",
    "code",
    "message",
    "error",
    "cert_type",
    "currency",
    "days_left",
    "en",
    "not_after",
    "opens_at",
    "paid_years",
    "payment_instructions",
    "payment_required",
    "price",
    "terms",
    "zh_cn",
    "data",
    "file_name",
    "media_type",
    "size",
    "sha256",
    "uploaded_at",
    "id",
    "note",
    "attachments",
];

/// Strings a body field may hold: base64 of any bytes, enum names, times, anything.
fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..48).prop_map(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(b)
        }),
        prop::sample::select(vec![
            "sm2",
            "p256",
            "completed",
            "awaiting_csr",
            "pending",
            "approved",
            "needs_materials",
            "pending_review",
            "pdf",
            "jpeg",
            "png",
            "succeeded",
            "failed",
            "organisation",
            "org_person",
            "person",
            "open",
            "not_yet_open",
            "CNY",
            "personal",
            "2026-01-01T00:00:00Z",
            "123456",
            "SK0001",
        ])
        .prop_map(str::to_string),
        ".{0,24}",
        "[A-Za-z0-9+/=_-]{0,40}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0u32..200).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..10).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// Deserialises `bytes` and `value` as every v1 type; a success serialises again.
fn read_all(bytes: &[u8], value: &Value) {
    macro_rules! each {
        ($($t:ty),* $(,)?) => {$(
            if let Ok(v) = serde_json::from_slice::<$t>(bytes) {
                serde_json::to_vec(&v).unwrap();
            }
            if let Ok(v) = serde_json::from_value::<$t>(value.clone()) {
                serde_json::to_vec(&v).unwrap();
            }
        )*};
    }
    each!(
        ActivationLookupRequest,
        ActivationRequest,
        CertificateRequest,
        RenewalChallengeRequest,
        RenewalRequest,
        RenewalQuoteQuery,
        UnlockRequest,
        UnlockConfirm,
        SealRequest,
        Health,
        ServerTime,
        CaCerts,
        ActivationLookupResponse,
        ActivationResponse,
        IssuedCertificate,
        RenewalChallenge,
        RenewalQuote,
        UnlockTicket,
        UnlockStatus,
        SealResponse,
        ErrorBody,
        Base64,
        AttachmentUpload,
        AttachmentInfo,
    );
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn bodies_from_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        read_all(&bytes, &Value::Null);
    }

    #[test]
    fn bodies_from_json_of_protocol_fields(value in json()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        read_all(&bytes, &value);
    }

    #[test]
    fn bodies_from_mutated_json(value in json(), cut in any::<prop::sample::Index>(),
                                junk in prop::collection::vec(any::<u8>(), 0..4)) {
        let mut bytes = serde_json::to_vec(&value).unwrap();
        let at = cut.index(bytes.len() + 1);
        bytes.truncate(at);
        bytes.extend(junk);
        read_all(&bytes, &Value::Null);
    }

    #[test]
    fn base64_from_any_string(s in ".{0,64}") {
        let _ = serde_json::from_value::<Base64>(Value::String(s));
    }

    #[test]
    fn base64_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let text = serde_json::to_string(&Base64(bytes.clone())).unwrap();
        let back: Base64 = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back.0, bytes);
    }
}
