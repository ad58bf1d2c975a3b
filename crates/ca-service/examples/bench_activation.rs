//! Activation benchmark client (run by `scripts/bench-ca`): against a running
//! `certkey-ca serve`, it registers `--count` orders through the admin API and takes each
//! through `POST /activation` (untimed), then times the certificate step — CSR in,
//! certificate signed and recorded — with `--clients` concurrent clients, and prints one
//! JSON line: activations per second and p50/p99 latency.
//!
//! ```text
//! bench_activation --base http://127.0.0.1:PORT/api/v1 --admin TOKEN --alg sm2|p256
//!                  --clients N --count M --csr-dir DIR [--run TAG]
//! ```
//! `DIR` holds DER CSRs of the algorithm (`*.der`), reused round robin (the service does
//! not require distinct keys across orders; the subject comes from the order).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use certkey_protocol::wrap::ClientKey;
use serde_json::{json, Value};

struct Args {
    base: String,
    admin: String,
    alg: String,
    clients: usize,
    count: usize,
    csr_dir: std::path::PathBuf,
    run: String,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        base: String::new(),
        admin: String::new(),
        alg: String::new(),
        clients: 1,
        count: 1000,
        csr_dir: Default::default(),
        run: format!("{}", std::process::id()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it
            .next()
            .ok_or_else(|| anyhow::anyhow!("{k} needs a value"))?;
        match k.as_str() {
            "--base" => a.base = v,
            "--admin" => a.admin = v,
            "--alg" => a.alg = v,
            "--clients" => a.clients = v.parse()?,
            "--count" => a.count = v.parse()?,
            "--csr-dir" => a.csr_dir = v.into(),
            "--run" => a.run = v,
            _ => anyhow::bail!("unknown argument {k}"),
        }
    }
    if a.base.is_empty() || a.admin.is_empty() || !["sm2", "p256"].contains(&a.alg.as_str()) {
        anyhow::bail!("--base, --admin and --alg sm2|p256 are required");
    }
    if a.clients == 0 || a.count == 0 {
        anyhow::bail!("--clients and --count must be positive");
    }
    Ok(a)
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    admin: Option<&str>,
) -> anyhow::Result<Value> {
    let mut r = client.post(url).json(body);
    if let Some(t) = admin {
        r = r.bearer_auth(t);
    }
    let r = r.send().await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        anyhow::bail!("{url}: {status} {v}");
    }
    Ok(v)
}

/// Registers one order and activates it; returns the activation id.
async fn prepare(client: &reqwest::Client, a: &Args, i: usize) -> anyhow::Result<String> {
    let serial = format!("BENCH{}-{i}", a.run);
    let order = post(
        client,
        &format!("{}/admin/orders", a.base),
        &json!({
            "token_serial": serial,
            "holder": format!("测试用户{i}"),
            "cert_type": "person",
            "years": 1,
            "key_algorithm": a.alg,
            "handler": {"name": "李四", "id_number": "110101199001011234", "phone": "13800000000"},
            "so_pin": "SoPin123456",
            "initial_pin": "13572468",
        }),
        Some(&a.admin),
    )
    .await?;
    let code = order["activation_code"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no activation code"))?;
    let key = ClientKey::generate()?;
    let act = post(
        client,
        &format!("{}/activation", a.base),
        &json!({"token_serial": serial, "activation_code": code, "client_key": b64(&key.public_sec1())}),
        None,
    )
    .await?;
    act["activation_id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no activation id"))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    sorted
        .get(i)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Arc::new(parse_args()?);
    let mut csrs = Vec::new();
    for e in std::fs::read_dir(&a.csr_dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "der") {
            csrs.push(b64(&std::fs::read(&p)?));
        }
    }
    if csrs.is_empty() {
        anyhow::bail!("no *.der CSRs in {}", a.csr_dir.display());
    }
    let csrs = Arc::new(csrs);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;

    // Untimed: orders and code checks, 8 at a time.
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (a, client, next) = (a.clone(), client.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= a.count {
                    return anyhow::Ok(ids);
                }
                ids.push(prepare(&client, &a, i).await?);
            }
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await??);
    }
    let ids = Arc::new(ids);

    // Timed: CSR to recorded certificate.
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.clients {
        let (a, client, next, ids, csrs) = (
            a.clone(),
            client.clone(),
            next.clone(),
            ids.clone(),
            csrs.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = ids.get(i) else {
                    return anyhow::Ok(lat);
                };
                let csr = &csrs[i % csrs.len()];
                let t = Instant::now();
                let issued = post(
                    &client,
                    &format!("{}/activation/{id}/certificate", a.base),
                    &json!({"csr": csr}),
                    None,
                )
                .await?;
                lat.push(t.elapsed());
                if !issued["certificate"].is_string() {
                    anyhow::bail!("no certificate in {issued}");
                }
            }
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort();
    println!(
        "{}",
        json!({
            "alg": a.alg,
            "clients": a.clients,
            "count": lat.len(),
            "seconds": secs,
            "per_second": lat.len() as f64 / secs,
            "p50_ms": percentile(&lat, 50.0),
            "p99_ms": percentile(&lat, 99.0),
        })
    );
    Ok(())
}
