//! Test harness: a real `certkey-ca` process on a loopback port, over SQLite or a real
//! PostgreSQL server that the harness starts in a temporary directory and stops.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

mod announce;
pub use announce::{serve_announced, ANY_PORT};

pub const PASSPHRASE: &str = "correct horse battery staple";

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// A PostgreSQL server of its own, in a temporary directory, on a loopback port.
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
}

fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed by the test command (apt-get install postgresql)")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL server with initdb")
}

/// Runs a PostgreSQL tool, as user `postgres` when we are root (the server refuses root).
fn pg(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let exe = bin.join(tool);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

impl Postgres {
    /// initdb + pg_ctl start on a free port, trust auth on loopback only.
    pub fn start() -> Postgres {
        let bin = pg_bin();
        // A folder of its own (removed on drop), whatever runs beside it.
        let dir = tempfile::Builder::new()
            .prefix("certkey-pg-")
            .tempdir()
            .expect("pg dir")
            .keep();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown")
                .success();
            assert!(ok, "chown the PostgreSQL directory");
        }
        let data = dir.join("data");
        let d = data.to_str().expect("utf-8 path");
        let out = pg(
            &bin,
            "initdb",
            &[
                "-D",
                d,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = dir.join("log");
        // PostgreSQL takes no port 0: a port that was free a moment ago may be taken
        // when it binds (by another test's connection), so another one is tried then.
        let mut attempts = 0;
        let port = loop {
            attempts += 1;
            let port = free_port();
            // The log of this attempt only: pg_ctl appends to it.
            let _ = std::fs::remove_file(&log);
            let opts = format!(
                "-h 127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=200",
                dir.display()
            );
            let out = pg(
                &bin,
                "pg_ctl",
                &[
                    "-D",
                    d,
                    "-o",
                    &opts,
                    "-l",
                    log.to_str().expect("utf-8"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            );
            if out.status.success() {
                break port;
            }
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                attempts < 5 && said.contains("could not bind"),
                "pg_ctl start: {}{said}",
                String::from_utf8_lossy(&out.stderr),
            );
        };
        let pgsql = Postgres { dir, bin, port };
        let out = pg(
            &pgsql.bin,
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "postgres",
                "certkey",
            ],
        );
        assert!(
            out.status.success(),
            "createdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pgsql
    }

    /// Connection URL of the `certkey` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/certkey", self.port)
    }

    /// Runs one SQL statement on the `certkey` database (psql), which must succeed.
    pub fn sql(&self, statement: &str) {
        let port = self.port.to_string();
        let out = pg(
            &self.bin,
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "certkey",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                statement,
            ],
        );
        assert!(
            out.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = pg(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How a test service is made: extra `init` arguments and environment for both
/// `init` and `serve`.
#[derive(Default)]
pub struct Options<'a> {
    pub init_args: &'a [&'a str],
    pub env: &'a [(&'a str, &'a str)],
}

/// `certkey-ca init` in a fresh data directory; returns the admin token.
pub fn init(data: &Path, database_url: Option<&str>) -> String {
    init_with(data, database_url, &Options::default())
}

/// [`init`] with extra arguments and environment.
pub fn init_with(data: &Path, database_url: Option<&str>, opts: &Options<'_>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certkey-ca"));
    cmd.args(["init", "--json", "--data"])
        .arg(data)
        .args(opts.init_args)
        .envs(opts.env.iter().copied())
        .env("CERTKEY_CA_PASSPHRASE", PASSPHRASE);
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let out = cmd.output().expect("run certkey-ca init");
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("init --json");
    v["admin_token"].as_str().expect("admin token").to_string()
}

/// A running service.
pub struct Service {
    child: Child,
    pub base: String,
    pub data: tempfile::TempDir,
    pub admin: String,
}

impl Service {
    /// init + serve on a free loopback port; waits until /health answers.
    pub fn start(database_url: Option<&str>) -> Service {
        Service::start_configured(database_url, &|t| t)
    }

    /// Like [`Service::start`], with certkey-ca.toml edited by `edit` before serving.
    pub fn start_configured(
        database_url: Option<&str>,
        edit: &dyn Fn(String) -> String,
    ) -> Service {
        Service::start_with(database_url, &Options::default(), edit)
    }

    /// Like [`Service::start_configured`], with extra init arguments and environment.
    pub fn start_with(
        database_url: Option<&str>,
        opts: &Options<'_>,
        edit: &dyn Fn(String) -> String,
    ) -> Service {
        let data = tempfile::tempdir().expect("data dir");
        let admin = init_with(data.path(), database_url, opts);
        let path = data.path().join("certkey-ca.toml");
        let text = std::fs::read_to_string(&path).expect("config");
        std::fs::write(&path, edit(text)).expect("config");
        let (child, port) = serve_announced(
            Command::new(env!("CARGO_BIN_EXE_certkey-ca"))
                .args(["serve", "--data"])
                .arg(data.path())
                .args(["--listen", ANY_PORT])
                .envs(opts.env.iter().copied())
                .env("CERTKEY_CA_PASSPHRASE", PASSPHRASE)
                .env("CERTKEY_CA_LOG", "warn")
                .stdout(Stdio::null()),
            "certkey-ca serve",
        );
        let svc = Service {
            child,
            base: format!("http://127.0.0.1:{port}/api/v1"),
            data,
            admin,
        };
        svc
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    /// Runs one SQL statement on the service's database: PostgreSQL when `pg` is given,
    /// else its SQLite file (the sqlite3 tool). A test's crafted change, such as a
    /// certificate that has expired.
    pub fn sql(&self, pg: Option<&Postgres>, statement: &str) {
        if let Some(pg) = pg {
            return pg.sql(statement);
        }
        let out = Command::new("sqlite3")
            .arg(self.data.path().join("ca.db"))
            .arg(statement)
            .output()
            .expect("sqlite3 (installed by the test command)");
        assert!(
            out.status.success(),
            "sqlite3: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Tiny blocking HTTP for tests (reqwest's blocking client needs a feature we avoid).
pub mod reqwest {
    /// Status of a GET.
    pub fn blocking_get(url: &str) -> Result<u16, String> {
        let rt = tokio_rt();
        rt.block_on(async {
            ::reqwest::get(url)
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| e.to_string())
        })
    }

    /// A current-thread runtime for one call.
    pub fn tokio_rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }
}

/// Runs openssl and returns (success, stdout+stderr).
pub fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The SM2 user id option for OpenSSL.
pub const DISTID: &str = "distid:1234567812345678";

/// The softkey module the workspace build puts beside certkey-ca.
pub fn softkey() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_certkey-ca")).with_file_name("libcertkey_softkey.so");
    assert!(
        p.exists(),
        "{} is missing: build the workspace first",
        p.display()
    );
    p
}

/// Standard padded base64.
pub fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Decodes a base64 JSON string.
pub fn unb64(v: &serde_json::Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("base64 string"))
        .expect("base64")
}

/// A DER certificate as PEM.
pub fn pem(der: &[u8]) -> String {
    let b = b64(der);
    let lines: Vec<String> = b
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// One HTTP request with an optional JSON body and bearer token: (status, JSON body).
pub fn call(
    method: ::reqwest::Method,
    url: &str,
    body: Option<&serde_json::Value>,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    reqwest::tokio_rt().block_on(async {
        let mut r = ::reqwest::Client::new().request(method, url);
        if let Some(b) = body {
            r = r.json(b);
        }
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        let r = r.send().await.expect("request");
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(serde_json::Value::Null))
    })
}

/// POST a JSON body.
pub fn post(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    call(::reqwest::Method::POST, url, Some(body), None)
}

/// `certkey-ca produce --json` on a fresh softkey store with the standard handler;
/// `args` name the holder, type, key and validity. Returns the store and the output.
pub fn produce(
    svc: &Service,
    db_url: Option<&str>,
    args: &[&str],
) -> (tempfile::TempDir, serde_json::Value) {
    let store = tempfile::tempdir().expect("store");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certkey-ca"));
    cmd.args(["produce", "--json", "--data"])
        .arg(svc.data.path())
        .arg("--module")
        .arg(softkey())
        .args([
            "--handler-name",
            "李四",
            "--handler-id",
            "110101199001011234",
            "--handler-phone",
            "13800000000",
        ])
        .args(args)
        .env("CERTKEY_CA_PASSPHRASE", PASSPHRASE)
        .env("CERTKEY_SOFTKEY_DIR", store.path());
    if let Some(u) = db_url {
        cmd.args(["--database-url", u]);
    }
    let out = cmd.output().expect("run certkey-ca produce");
    assert!(
        out.status.success(),
        "produce: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("produce --json");
    (store, v)
}
