//! `certkey-ca`: the reference CA online service of the CertKey protocol.
//!
//! ```text
//! certkey-ca init  --data DIR [--org NAME] [--listen ADDR] [--database-url URL] [--json]
//!                  [--pkcs11-module PATH --pkcs11-token LABEL]
//! certkey-ca serve --data DIR [--listen ADDR] [--database-url URL]
//! certkey-ca openapi
//! certkey-ca produce --data DIR --module PATH [--slot N] --holder NAME --type org|org-person|person
//!            --years N [--days N] --key sm2|p256 --handler-name .. --handler-id .. --handler-phone ..
//!            [--org NAME] [--json]
//! ```
//! The CA keys are encrypted with the passphrase in CERTKEY_CA_PASSPHRASE (or the file
//! named by CERTKEY_CA_PASSPHRASE_FILE); P-256 keys on a PKCS#11 token need its user PIN
//! in CERTKEY_CA_PKCS11_PIN (or the file named by CERTKEY_CA_PKCS11_PIN_FILE).
//! Exit codes: 0 success, 1 failure, 2 usage.

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
        /// Generate the P-256 CA and seal-maker keys on a token of this PKCS#11 module
        /// (PIN in CERTKEY_CA_PKCS11_PIN or CERTKEY_CA_PKCS11_PIN_FILE).
        #[arg(long, requires = "pkcs11_token")]
        pkcs11_module: Option<PathBuf>,
        /// Label of that token.
        #[arg(long, requires = "pkcs11_module")]
        pkcs11_token: Option<String>,
    },
    /// Initialise a blank key over PKCS#11, register its order, print its activation code.
    Produce {
        /// Data directory made by `init`.
        #[arg(long)]
        data: PathBuf,
        /// PKCS#11 module of the key.
        #[arg(long)]
        module: PathBuf,
        /// Index among the slots holding a key (default: the first blank key).
        #[arg(long)]
        slot: Option<usize>,
        /// Holder name (person or organisation).
        #[arg(long)]
        holder: String,
        /// Certificate type.
        #[arg(long = "type", value_parser = ["org", "org-person", "person"])]
        cert_type: String,
        /// Validity in years, 1 to 5.
        #[arg(long, default_value_t = 1)]
        years: u32,
        /// Trial validity in days (for trials and tests), overriding --years.
        #[arg(long)]
        days: Option<u32>,
        /// Key algorithm.
        #[arg(long, value_parser = ["sm2", "p256"])]
        key: String,
        /// Handler (经办人) name.
        #[arg(long)]
        handler_name: String,
        /// Handler identity number.
        #[arg(long)]
        handler_id: String,
        /// Handler phone.
        #[arg(long)]
        handler_phone: String,
        /// Organisation (required for org and org-person).
        #[arg(long)]
        org: Option<String>,
        /// Database URL (overrides the config).
        #[arg(long)]
        database_url: Option<String>,
        /// Print `{"token_serial","order_id","activation_code","code_expires_at"}`.
        #[arg(long)]
        json: bool,
    },
    /// Print the OpenAPI document of the protocol.
    Openapi,
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

struct InitArgs {
    data: PathBuf,
    org: String,
    listen: String,
    database_url: Option<String>,
    json: bool,
    pkcs11: Option<certkey_ca::hsm::HsmConfig>,
}

async fn init(a: InitArgs) -> anyhow::Result<()> {
    let InitArgs {
        data,
        org,
        listen,
        database_url,
        json,
        pkcs11,
    } = a;
    let (data, org, listen) = (data.as_path(), org.as_str(), listen.as_str());
    if data.join(config::FILE).exists() {
        anyhow::bail!("{} already holds a CA", data.display());
    }
    let pass = keystore::Passphrase::from_env()?;
    let hsm = pkcs11
        .as_ref()
        .map(certkey_ca::hsm::Hsm::open)
        .transpose()?;
    std::fs::create_dir_all(data)?;
    ca::init(data, org, &pass, hsm.as_ref())?;
    keystore::create_secret(&data.join("keys"), "data", &pass)?;
    let admin = random_token()?;
    let cfg = config::Config {
        listen: listen.to_string(),
        database_url,
        admin_token_sha256: hex::encode(sha2::Sha256::digest(admin.as_bytes())),
        tls: None,
        require_renewal_entitlement: false,
        production_modules: Vec::new(),
        trusted_proxies: Vec::new(),
        unlock_ticket_minutes: config::default_unlock_ticket_minutes(),
        rate_limits: config::RateLimits::default(),
        limits: config::Limits::default(),
        retention: config::Retention::default(),
        renewal: config::Renewal::default(),
        pkcs11,
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
    let hsm = cfg
        .pkcs11
        .as_ref()
        .map(certkey_ca::hsm::Hsm::open)
        .transpose()?;
    let material = ca::load(data, &pass, hsm)?;
    let data_key = certkey_ca::secrets::DataKey::new(&*keystore::load_secret(
        &data.join("keys"),
        "data",
        &pass,
    )?);
    let trusted_proxies = certkey_ca::limits::TrustedProxies::parse(&cfg.trusted_proxies)
        .map_err(|e| anyhow::anyhow!("trusted_proxies in {}: {e}", config::FILE))?;
    let db = db::Db::connect(&cfg.database_url(data)).await?;
    certkey_ca::prune::spawn(db.clone(), cfg.retention);
    let app = api::router(api::AppState {
        db,
        ca: Arc::new(material),
        data_key: Arc::new(data_key),
        settings: Arc::new(api::Settings {
            admin_token_sha256: cfg.admin_token_sha256.clone(),
            require_renewal_entitlement: cfg.require_renewal_entitlement,
            production_modules: cfg.production_modules.clone(),
            rate_limits: cfg.rate_limits,
            trusted_proxies,
            request_timeout: std::time::Duration::from_secs(cfg.limits.request_timeout_s.max(1)),
            unlock_ticket_minutes: cfg.unlock_ticket_minutes,
            renewal: cfg.renewal.clone(),
        }),
    })
    .into_make_service_with_connect_info::<std::net::SocketAddr>();
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
            let (listener, addr) = bind_listener(addr)?;
            tracing::info!(%addr, "serving over TLS");
            eprintln!("certkey-ca listening on https://{addr}");
            axum_server::from_tcp_rustls(listener, rc)?
                .handle(handle)
                .serve(app)
                .await?;
        }
        None => {
            let (listener, addr) = bind_listener(addr)?;
            tracing::info!(%addr, "serving plain HTTP on loopback");
            eprintln!("certkey-ca listening on http://{addr}");
            axum_server::from_tcp(listener)?
                .handle(handle)
                .serve(app)
                .await?;
        }
    }
    Ok(())
}

/// Binds `addr` before serving, so that the address announced on stderr is the one
/// bound: with port 0 the system picks a free port, and whoever started the service
/// reads it there instead of guessing a free port that someone may take meanwhile.
fn bind_listener(
    addr: std::net::SocketAddr,
) -> anyhow::Result<(std::net::TcpListener, std::net::SocketAddr)> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    Ok((listener, bound))
}

struct ProduceArgs {
    data: PathBuf,
    module: PathBuf,
    slot: Option<usize>,
    database_url: Option<String>,
    json: bool,
    request: certkey_ca::production::ProduceRequest,
}

async fn produce(a: ProduceArgs) -> anyhow::Result<()> {
    let mut cfg = config::Config::load(&a.data)?;
    if a.database_url.is_some() {
        cfg.database_url = a.database_url.clone();
    }
    let pass = keystore::Passphrase::from_env()?;
    let data_key = certkey_ca::secrets::DataKey::new(&*keystore::load_secret(
        &a.data.join("keys"),
        "data",
        &pass,
    )?);
    let db = db::Db::connect(&cfg.database_url(&a.data)).await?;
    let p = certkey_ca::production::produce(&db, &data_key, &a.module, a.slot, &a.request).await?;
    let expires = p
        .code_expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "token_serial": p.token_serial,
                "order_id": p.order_id,
                "activation_code": p.activation_code.as_str(),
                "code_expires_at": expires,
            })
        );
    } else {
        println!("key {} produced, order {}", p.token_serial, p.order_id);
        println!(
            "activation code (shown once): {}  valid until {expires}",
            p.activation_code.as_str()
        );
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
                pkcs11_module,
                pkcs11_token,
            } => {
                let pkcs11 = match (pkcs11_module, pkcs11_token) {
                    (Some(module), Some(token_label)) => Some(certkey_ca::hsm::HsmConfig {
                        module,
                        token_label,
                    }),
                    _ => None,
                };
                init(InitArgs {
                    data,
                    org,
                    listen,
                    database_url,
                    json,
                    pkcs11,
                })
                .await
            }
            Command::Serve {
                data,
                listen,
                database_url,
            } => serve(&data, listen, database_url).await,
            Command::Openapi => {
                println!("{}", certkey_ca::openapi::json());
                Ok(())
            }
            Command::Produce {
                data,
                module,
                slot,
                holder,
                cert_type,
                years,
                days,
                key,
                handler_name,
                handler_id,
                handler_phone,
                org,
                database_url,
                json,
            } => {
                let cert_type = match cert_type.as_str() {
                    "org" => certkey_protocol::CertType::Organisation,
                    "org-person" => certkey_protocol::CertType::OrgPerson,
                    _ => certkey_protocol::CertType::Person,
                };
                let key = if key == "sm2" {
                    certkey_protocol::v1::KeyAlgorithm::Sm2
                } else {
                    certkey_protocol::v1::KeyAlgorithm::P256
                };
                let request = certkey_ca::production::ProduceRequest {
                    holder,
                    org,
                    cert_type,
                    years,
                    days,
                    key,
                    handler: certkey_ca::production::HandlerInfo {
                        name: handler_name,
                        id_number: handler_id,
                        phone: handler_phone,
                    },
                };
                produce(ProduceArgs {
                    data,
                    module,
                    slot,
                    database_url,
                    json,
                    request,
                })
                .await
            }
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
