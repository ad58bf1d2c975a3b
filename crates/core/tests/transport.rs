//! The CA service client's transport cannot be downgraded: redirects are not followed
//! (a service, or whoever answers in its place, cannot send the client elsewhere) and a
//! service on this computer is never reached through a proxy from the environment.
//! Real sockets on loopback; the "servers" are minimal HTTP/1.1 responders.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use certkey_core::service::ServiceClient;
use certkey_core::Error;

/// Listens on loopback and answers every request with `response`; counts connections.
fn responder(response: String) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            // Read the request head; the requests here have no body.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, hits)
}

fn ok_health() -> String {
    let body = r#"{"status":"ok","version":"test"}"#;
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_redirect_is_refused_and_never_followed() {
    let (target, target_hits) = responder(ok_health());
    let (service, service_hits) = responder(format!(
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{target}/api/v1/health\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    ));
    let client = ServiceClient::new(&format!("http://127.0.0.1:{service}"), None).unwrap();
    let err = client.health().unwrap_err();
    assert!(
        matches!(&err, Error::ServiceResponse { reason } if reason.contains("redirect")),
        "{err:?}"
    );
    assert_eq!(service_hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        target_hits.load(Ordering::SeqCst),
        0,
        "the redirect target must never be contacted"
    );
}

#[test]
fn a_service_on_this_computer_bypasses_the_environment_proxy() {
    // A "proxy" that would see the traffic: it answers like the service, so that only
    // the connection counts tell who was asked.
    let (proxy, proxy_hits) = responder(ok_health());
    let (service, service_hits) = responder(ok_health());
    let proxy_url = format!("http://127.0.0.1:{proxy}");
    for var in [
        "ALL_PROXY",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    ] {
        std::env::set_var(var, &proxy_url);
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");
    for host in ["127.0.0.1", "localhost"] {
        let client = ServiceClient::new(&format!("http://{host}:{service}"), None).unwrap();
        assert_eq!(client.health().unwrap().status, "ok");
    }
    assert_eq!(service_hits.load(Ordering::SeqCst), 2);
    assert_eq!(proxy_hits.load(Ordering::SeqCst), 0);
}
