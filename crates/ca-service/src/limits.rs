//! What every request goes through before its handler: the client address (from
//! `X-Forwarded-For` only when the TCP peer is a trusted proxy), the per-address rate
//! limit of the endpoint (counted in the database, so that several instances share
//! it), a timeout, and a panic guard that answers JSON instead of dropping the
//! connection.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::{AppState, Failure};

/// One trusted proxy: an address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    net: IpAddr,
    prefix: u8,
}

impl Block {
    fn parse(s: &str) -> Result<Block, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: prefix length must be 0-{max}"))?,
        };
        Ok(Block {
            net: net.to_canonical(),
            prefix,
        })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
            if prefix == 0 {
                0
            } else {
                bits >> (width - prefix)
            }
        }
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(u32::from(n).into(), 32, self.prefix)
                    == masked(u32::from(a).into(), 32, self.prefix)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                masked(u128::from(n), 128, self.prefix) == masked(u128::from(a), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// The `trusted_proxies` setting, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Block>);

impl TrustedProxies {
    /// Parses IP addresses and CIDR blocks (`10.0.0.0/8`, `::1`).
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        entries
            .iter()
            .map(|e| Block::parse(e))
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|b| b.contains(ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then the
    /// right-most `X-Forwarded-For` address that is not itself a trusted proxy (the
    /// left part of the header is whatever the client sent, so only what trusted
    /// proxies appended counts). An unreadable entry stops the walk at the last
    /// trusted hop.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        let entries = forwarded_for
            .iter()
            .flat_map(|h| h.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for entry in entries.iter().rev() {
            let Ok(ip) = entry.parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// Which rate limit counts a request; `None` for the admin API (behind its token) and
/// health, time and cacerts. Endpoints whose handler counts its own limit
/// (activation, renewal, unlock request, seal) are `None` here too: the handler sees
/// the client address this layer put in `ConnectInfo`.
fn bucket(
    method: &Method,
    path: &str,
    limits: &crate::config::RateLimits,
) -> Option<(&'static str, u32)> {
    let Some(rest) = path.strip_prefix(certkey_protocol::v1::PREFIX) else {
        return Some(("other", limits.other_per_minute));
    };
    // Split exactly as routed: "/seal/" is not "/seal" (it is a 404, counted as other).
    let parts: Vec<&str> = rest.strip_prefix('/').unwrap_or(rest).split('/').collect();
    match (method, parts.as_slice()) {
        (_, ["admin", ..]) => None,
        (&Method::GET, ["health" | "time" | "cacerts"]) => None,
        (&Method::POST, ["activation"])
        | (&Method::POST, ["renewal" | "unlock" | "seal"])
        | (&Method::POST, ["renewal", "challenge"]) => None,
        (&Method::POST, ["activation", "lookup"]) => Some(("lookup", limits.lookup_per_minute)),
        (&Method::GET, ["renewal", "quote"]) => Some(("quote", limits.quote_per_minute)),
        (&Method::POST, ["activation", _, "certificate"]) => {
            Some(("certificate", limits.certificate_per_minute))
        }
        (_, ["unlock", _, ..]) => Some(("unlock_ticket", limits.unlock_ticket_per_minute)),
        _ => Some(("other", limits.other_per_minute)),
    }
}

/// Resolves the client address (handlers then read it from `ConnectInfo`) and counts
/// the request against its endpoint's limit.
pub async fn client_and_rate_limit(
    State(st): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, Failure> {
    let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() else {
        return Err(crate::api::internal("no peer address on the connection"));
    };
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let client = st.settings.trusted_proxies.client(peer.ip(), &forwarded);
    if let Some((name, limit)) = bucket(req.method(), req.uri().path(), &st.settings.rate_limits) {
        crate::activation::rate_limit(&st, &format!("{name}:{client}"), i64::from(limit)).await?;
    }
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(client, peer.port())));
    Ok(next.run(req).await)
}

/// Answers 503 `request_timeout` when the handler takes longer than `limit`. Work that
/// must finish (production) runs in its own task and is not cut short.
async fn run_with_timeout(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            tracing::warn!(seconds = limit.as_secs(), "request timed out");
            let mut f = Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                "the request took too long; retry later",
            );
            f.body_mut().retry_after_s = Some(limit.as_secs().max(1));
            f.into_response()
        }
    }
}

/// The answer to a handler that panicked: JSON 500 `internal`; the panic is logged and
/// the worker goes on serving.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %what, "handler panicked");
    Failure::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error; the request was not completed",
    )
    .into_response()
}

/// The panic guard and timeout around `router` (kept apart so that tests can wrap a
/// router of their own).
pub fn harden(router: axum::Router, timeout: Duration) -> axum::Router {
    router
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| run_with_timeout(timeout, req, next),
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let t = TrustedProxies::parse(&["10.0.0.0/8".into(), "::1".into()]).unwrap();
        // Not a proxy: the header is ignored.
        assert_eq!(t.client(ip("203.0.113.9"), &["1.2.3.4"]), ip("203.0.113.9"));
        // A proxy: the right-most address that is not a proxy.
        assert_eq!(
            t.client(ip("10.1.2.3"), &["6.6.6.6, 198.51.100.7, 10.9.9.9"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            t.client(ip("::1"), &["6.6.6.6", "198.51.100.7"]),
            ip("198.51.100.7")
        );
        // A proxy without the header, or with garbage: the proxy itself.
        assert_eq!(t.client(ip("10.1.2.3"), &[]), ip("10.1.2.3"));
        assert_eq!(t.client(ip("10.1.2.3"), &["junk"]), ip("10.1.2.3"));
        // IPv4-mapped peers are the same address.
        assert_eq!(
            t.client(ip("::ffff:10.0.0.1"), &["192.0.2.1"]),
            ip("192.0.2.1")
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.example".into()]).is_err());
        assert!(TrustedProxies::parse(&["0.0.0.0/0".into()])
            .unwrap()
            .trusts(ip("8.8.8.8")));
    }

    #[test]
    fn every_unauthenticated_endpoint_has_a_bucket() {
        let l = crate::config::RateLimits::default();
        let b = |m: Method, p: &str| bucket(&m, &format!("/api/v1{p}"), &l).map(|b| b.0);
        assert_eq!(b(Method::POST, "/activation/lookup"), Some("lookup"));
        assert_eq!(
            b(Method::POST, "/activation/act-1/certificate"),
            Some("certificate")
        );
        assert_eq!(b(Method::GET, "/unlock/t-1"), Some("unlock_ticket"));
        assert_eq!(
            b(Method::POST, "/unlock/t-1/confirm"),
            Some("unlock_ticket")
        );
        assert_eq!(
            b(Method::POST, "/unlock/t-1/attachments"),
            Some("unlock_ticket")
        );
        assert_eq!(b(Method::GET, "/renewal/quote"), Some("quote"));
        assert_eq!(b(Method::GET, "/openapi.json"), Some("other"));
        assert_eq!(b(Method::GET, "/admin/audit"), None);
        assert_eq!(b(Method::GET, "/health"), None);
        // Counted by their handlers.
        assert_eq!(b(Method::POST, "/activation"), None);
        assert_eq!(b(Method::POST, "/seal"), None);
        assert_eq!(b(Method::POST, "/seal/"), Some("other"));
        assert_eq!(b(Method::GET, "/nowhere"), Some("other"));
    }

    async fn body_json(r: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    // The real router has no handler that panics or hangs on purpose, so the layer
    // stack the router uses (`harden`) is tried on handlers that do.
    #[tokio::test]
    async fn a_panicking_handler_gets_json_500_and_the_service_keeps_serving() {
        let app = harden(
            axum::Router::new()
                .route(
                    "/boom",
                    get(|| async {
                        if std::hint::black_box(true) {
                            panic!("boom");
                        }
                        "unreachable"
                    }),
                )
                .route("/ok", get(|| async { "ok" })),
            Duration::from_secs(5),
        );
        let r = app
            .clone()
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body_json(r).await["error"]["code"], "internal");
        let r = app
            .oneshot(Request::get("/ok").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_hanging_handler_gets_json_503_request_timeout() {
        let app = harden(
            axum::Router::new().route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    "late"
                }),
            ),
            Duration::from_millis(200),
        );
        let start = std::time::Instant::now();
        let r = app
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let v = body_json(r).await;
        assert_eq!(v["error"]["code"], "request_timeout");
        assert_eq!(v["error"]["retry_after_s"], 1);
    }
}
