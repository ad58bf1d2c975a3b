//! The OpenAPI 3.1 document of protocol v1, generated from the protocol types and the
//! handlers' annotations, served at `/api/v1/openapi.json` and committed as
//! `crates/ca-service/openapi.json` (a test keeps the two identical).

use certkey_protocol::v1::*;
use certkey_protocol::{
    ApiError, AttachmentInfo, AttachmentType, AttachmentUpload, Base64, CertType, ErrorBody,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Answers every operation may give whatever its handler: 500 `internal` (a panic),
/// 503 (`request_timeout`, `unavailable`), and 429 `rate_limited` outside the admin API
/// and health, time and cacerts.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in doc.paths.paths.iter_mut() {
            let limited = !path.contains("/admin/")
                && !["/health", "/time", "/cacerts"]
                    .iter()
                    .any(|p| path.ends_with(p));
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let r = &mut op.responses.responses;
                if limited {
                    r.entry("429".into())
                        .or_insert_with(|| error("rate_limited (retry_after_s)").into());
                }
                r.entry("500".into())
                    .or_insert_with(|| error("internal: the request failed unexpectedly").into());
                r.entry("503".into()).or_insert_with(|| {
                    error("request_timeout (retry_after_s) or unavailable: retry later").into()
                });
            }
        }
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "CertKey CA online protocol",
        version = "1",
        description = "JSON over HTTPS under /api/v1. Binary values are standard padded base64 (DER); times RFC 3339 UTC. Errors are {\"error\": {\"code\", \"message\", ...}} with a 4xx status for bad input. Secrets (initial user PIN, SO PINs) travel wrapped for the client's ephemeral P-256 key: see certkey-protocol's wrap module."
    ),
    paths(
        crate::api::health,
        crate::api::server_time,
        crate::api::cacerts,
        crate::activation::lookup,
        crate::activation::activate,
        crate::activation::certificate,
        crate::renewal::challenge,
        crate::renewal::renew,
        crate::renewal::quote,
        crate::unlock::request,
        crate::unlock::status,
        crate::unlock::confirm,
        crate::attachments::upload,
        crate::seal::make,
        crate::admin::revoke,
        crate::admin::entitle,
        crate::admin::reissue_code,
        crate::admin::audit,
        crate::admin::create_order,
        crate::admin::production,
        crate::admin::approve_unlock,
        crate::admin::reject_unlock,
        crate::attachments::request_materials,
        crate::attachments::admin_list,
        crate::attachments::admin_fetch,
        crate::unlock::restore_previous_so_pin,
    ),
    components(schemas(
        Base64, ErrorBody, ApiError, CertType, Health, ServerTime, CaCerts, CaChain, KeyAlgorithm, OrderState,
        ActivationLookupRequest, ActivationLookupResponse, ActivationRequest, WrappedSecret, ActivationResponse,
        CertificateRequest, IssuedCertificate, RenewalChallengeRequest, RenewalChallenge, RenewalRequest, Handler,
        RenewalQuote, RenewalQuoteState, RenewalTerm, LocalizedText,
        UnlockRequest, UnlockState, UnlockTicket, UnlockStatus, UnlockResult, UnlockConfirm, SealRequest, SealResponse,
        AttachmentUpload, AttachmentInfo, AttachmentType,
        crate::admin::OrderRequest, crate::admin::ProductionRequest, crate::admin::EntitlementRequest,
        crate::admin::RejectRequest, crate::attachments::MaterialsRequest
    )),
    modifiers(&AdminToken, &CommonResponses)
)]
pub struct ApiDoc;

/// The document as pretty JSON (what is committed).
pub fn json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_document_is_the_generated_one() {
        let committed = include_str!("../openapi.json");
        let generated = super::json();
        if committed.trim() != generated.trim() {
            // Regenerate with: cargo run -p certkey-ca -- openapi > crates/ca-service/openapi.json
            panic!("crates/ca-service/openapi.json is stale: regenerate it with `cargo run -p certkey-ca -- openapi > crates/ca-service/openapi.json`");
        }
        assert!(generated.contains("/api/v1/activation/{activation_id}/certificate"));
        assert!(generated.contains("\"format\": \"byte\""));
        assert!(generated.contains("/api/v1/renewal/quote"));
        assert!(generated.contains("renewal_term_mismatch"));
        assert!(generated.contains("/api/v1/unlock/{ticket}/attachments"));
        assert!(generated.contains("needs_materials"));
    }
}
