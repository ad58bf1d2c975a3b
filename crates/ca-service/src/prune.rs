//! Pruning of rows that are no longer needed: expired renewal challenges, old
//! rate-limit counters and finished unlock tickets past their retention. Each is one
//! DELETE on timestamps, so several instances may prune at once; the audit log keeps
//! the history.

use time::OffsetDateTime;

use crate::config::Retention;
use crate::db::Db;

/// How many rows one pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Renewal challenges.
    pub challenges: u64,
    /// Rate-limit counters.
    pub rate_limits: u64,
    /// Unlock tickets.
    pub tickets: u64,
}

/// Deletes what `retention` no longer keeps, as of now.
pub async fn prune(db: &Db, retention: &Retention) -> Result<Pruned, sqlx::Error> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let secs = |s: u64| i64::try_from(s).unwrap_or(i64::MAX / 2);
    let challenges = sqlx::query("DELETE FROM challenges WHERE expires_at < $1")
        .bind(now - secs(retention.challenges_grace_s))
        .execute(&db.pool)
        .await?
        .rows_affected();
    // A counter's window starts at window_start and lasts a minute.
    let rate_limits = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
        .bind(now - 60 - secs(retention.rate_limit_rows_s))
        .execute(&db.pool)
        .await?
        .rows_affected();
    // Only tickets that can no longer change: pending (under review or waiting for
    // materials) and approved ones stay, whatever their age (an approved ticket holds
    // the SO PIN being rotated to). A ticket's attachments go with it (ON DELETE
    // CASCADE).
    let tickets = sqlx::query(
        "DELETE FROM unlock_tickets WHERE state NOT IN ('pending_review', 'needs_materials', 'approved') \
         AND COALESCE(decided_at, created_at) < $1",
    )
    .bind(now - i64::from(retention.finished_tickets_days) * 86_400)
    .execute(&db.pool)
    .await?
    .rows_affected();
    Ok(Pruned {
        challenges,
        rate_limits,
        tickets,
    })
}

/// Prunes every `prune_interval_s` seconds (the first time at once) for as long as the
/// process runs.
pub fn spawn(db: Db, retention: Retention) {
    let every = std::time::Duration::from_secs(retention.prune_interval_s.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match prune(&db, &retention).await {
                Ok(p) if p != Pruned::default() => tracing::info!(?p, "pruned old rows"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning failed"),
            }
        }
    });
}
