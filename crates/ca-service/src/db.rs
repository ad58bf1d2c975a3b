//! Storage through sqlx's Any driver: SQLite by default, PostgreSQL for several
//! stateless instances. Each backend has its own migrations (types differ); queries use
//! `$n` placeholders, which both accept.

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

/// Which database the pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The connection pool.
#[derive(Clone)]
pub struct Db {
    /// The pool.
    pub pool: AnyPool,
    /// Its backend.
    pub backend: Backend,
}

impl Db {
    /// Connects and runs the backend's migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!("database URL must start with sqlite: or postgres:");
        };
        let mut opts = AnyPoolOptions::new().max_connections(match backend {
            // One writer at a time is what SQLite allows anyway.
            Backend::Sqlite => 4,
            Backend::Postgres => 16,
        });
        if backend == Backend::Sqlite {
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 5000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = opts
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Db { pool, backend })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &serde_json::Value,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO audit (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(time::OffsetDateTime::now_utc().unix_timestamp())
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(detail.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// One issued certificate, as recorded.
pub struct NewCertificate<'a> {
    /// Serial, lowercase hex.
    pub serial: &'a str,
    /// The key it was issued for.
    pub token_serial: &'a str,
    /// The order it belongs to.
    pub order_id: &'a str,
    /// `sm2` or `p256`.
    pub key_algorithm: &'a str,
    /// DER.
    pub der: &'a [u8],
    /// Validity, unix seconds.
    pub not_before: i64,
    /// Validity, unix seconds.
    pub not_after: i64,
}

/// Records an issued certificate inside the caller's transaction.
pub async fn insert_certificate(
    conn: &mut sqlx::AnyConnection,
    c: &NewCertificate<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO certificates (serial, token_serial, order_id, key_algorithm, der, not_before, not_after, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(c.serial)
    .bind(c.token_serial)
    .bind(c.order_id)
    .bind(c.key_algorithm)
    .bind(c.der.to_vec())
    .bind(c.not_before)
    .bind(c.not_after)
    .bind(time::OffsetDateTime::now_utc().unix_timestamp())
    .execute(conn)
    .await?;
    Ok(())
}
