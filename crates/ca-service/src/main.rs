//! `certkey-ca`: the reference CA online service of the CertKey protocol.
//!
//! ```text
//! certkey-ca init  --data DIR [--org NAME] [--listen ADDR] [--database-url URL] [--json]
//! certkey-ca serve --data DIR [--listen ADDR] [--database-url URL]
//! ```
//! The CA keys are encrypted with the passphrase in CERTKEY_CA_PASSPHRASE (or the file
//! named by CERTKEY_CA_PASSPHRASE_FILE). Exit codes: 0 success, 1 failure, 2 usage.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use certkey_ca::{api, ca, config, db, keystore};
use clap::{Parser, Subcommand};
use sha2::Digest;

#[derive(Parser)]
#[command(
    name = "certkey-ca",
    version,
    about = "CertKey reference CA online service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the CA: SM2 and P-256 hierarchies and seal-maker keys, config, database.
    Init {
        /// Data directory (created; must not hold a CA yet).
        #[arg(long)]
        data: PathBuf,
        /// Organisation name in the CA certificates.
        #[arg(long, default_value = "CertKey 参考 CA")]
        org: String,
        /// Address `serve` listens on.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: String,
        /// Database URL (default: SQLite file ca.db in the data directory).
        #[arg(long)]
        database_url: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the protocol.
    Serve {
        /// Data directory made by `init`.
        #[arg(long)]
        data: PathBuf,
        /// Address to listen on (overrides the config and CERTKEY_CA_LISTEN).
        #[arg(long)]
        listen: Option<String>,
        /// Database URL (overrides the config and CERTKEY_CA_DATABASE_URL).
        #[arg(long)]
        database_url: Option<String>,
    },
}

fn random_token() -> anyhow::Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("random: {e}"))?;
    Ok(hex::encode(b))
}

async fn init(
    data: &Path,
    org: &str,
    listen: &str,
    database_url: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    if data.join(config::FILE).exists() {
        anyhow::bail!("{} already holds a CA", data.display());
    }
    let pass = keystore::Passphrase::from_env()?;
    std::fs::create_dir_all(data)?;
    ca::init(data, org, &pass)?;
    let admin = random_token()?;
    let cfg = config::Config {
        listen: listen.to_string(),
        database_url,
        admin_token_sha256: hex::encode(sha2::Sha256::digest(admin.as_bytes())),
        tls: None,
        require_renewal_entitlement: false,
    };
    keystore::write_private(
        &data.join(config::FILE),
        toml::to_string_pretty(&cfg)?.as_bytes(),
    )?;
    let db = db::Db::connect(&cfg.database_url(data)).await?;
    db.audit(
        "operator",
        "ca_initialised",
        org,
        &serde_json::json!({"data": data.display().to_string()}),
    )
    .await?;
    if json {
        println!(
            "{}",
            serde_json::json!({"data": data.display().to_string(), "admin_token": admin})
        );
    } else {
        println!("CA created in {}", data.display());
        println!("admin token (shown once, keep it safe): {admin}");
    }
    Ok(())
}

async fn serve(
    data: &Path,
    listen: Option<String>,
    database_url: Option<String>,
) -> anyhow::Result<()> {
    let mut cfg = config::Config::load(data)?;
    if database_url.is_some() {
        cfg.database_url = database_url;
    }
    let listen = listen.unwrap_or_else(|| cfg.listen.clone());
    let addr = cfg.listen_addr(&listen)?;
    let pass = keystore::Passphrase::from_env()?;
    let material = ca::load(data, &pass)?;
    let db = db::Db::connect(&cfg.database_url(data)).await?;
    let app = api::router(api::AppState {
        db,
        ca: Arc::new(material),
    });
    let handle = axum_server::Handle::new();
    let shutdown = handle.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        shutdown.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    match &cfg.tls {
        Some(tls) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let rc = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                .await
                .map_err(|e| anyhow::anyhow!("TLS certificate or key: {e}"))?;
            tracing::info!(%addr, "serving over TLS");
            eprintln!("certkey-ca listening on https://{addr}");
            axum_server::bind_rustls(addr, rc)
                .handle(handle)
                .serve(app.into_make_service())
                .await?;
        }
        None => {
            tracing::info!(%addr, "serving plain HTTP on loopback");
            eprintln!("certkey-ca listening on http://{addr}");
            axum_server::bind(addr)
                .handle(handle)
                .serve(app.into_make_service())
                .await?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CERTKEY_CA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("certkey-ca: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Init {
                data,
                org,
                listen,
                database_url,
                json,
            } => init(&data, &org, &listen, database_url, json).await,
            Command::Serve {
                data,
                listen,
                database_url,
            } => serve(&data, listen, database_url).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("certkey-ca: {e:#}");
            ExitCode::FAILURE
        }
    }
}
