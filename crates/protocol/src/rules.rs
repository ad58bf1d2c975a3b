//! Business rules that client and service must compute the same way.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Online renewal is allowed while `0 < days_left <= RENEWAL_WINDOW_DAYS`.
pub const RENEWAL_WINDOW_DAYS: i64 = 90;

/// The terms a holder may choose for an online renewal, in years.
pub const RENEWAL_TERM_YEARS: std::ops::RangeInclusive<u32> = 1..=5;

/// Days in a year of validity, as the CA counts them when it issues (and renews).
pub const YEAR_DAYS: i64 = 365;

/// The notAfter of a certificate renewed for `years`: the old notAfter plus `years`
/// times [`YEAR_DAYS`] days (the new validity continues the old one).
pub fn renewed_not_after(old_not_after: OffsetDateTime, years: u32) -> OffsetDateTime {
    old_not_after + time::Duration::days(YEAR_DAYS * i64::from(years))
}

/// When online renewal opens for a certificate expiring at `not_after`: from then on
/// `days_left <= RENEWAL_WINDOW_DAYS`.
pub fn renewal_opens_at(not_after: OffsetDateTime) -> OffsetDateTime {
    not_after - time::Duration::days(RENEWAL_WINDOW_DAYS)
}

const DAY_SECONDS: i64 = 86_400;

/// Whole days a certificate has left, rounded up: a certificate that expires in
/// 12 hours has 1 day left, one that expired a minute ago has 0, and one that
/// expired 36 hours ago has -1. So `days_left <= 0` exactly when it has expired.
pub fn days_left(not_after: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let secs = (not_after - now).whole_seconds();
    if secs > 0 {
        (secs + DAY_SECONDS - 1) / DAY_SECONDS
    } else {
        // Towards zero for the past: -0.5 days is 0, -1.5 days is -1.
        secs / DAY_SECONDS
    }
}

/// Where a certificate stands with respect to online renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RenewalStatus {
    /// Valid and more than 90 days left: nothing to do yet.
    Valid,
    /// Valid with 1 to 90 days left: online renewal is open.
    Renewable,
    /// Past not_after: only the offline route remains.
    Expired,
    /// Before not_before.
    NotYetValid,
}

impl RenewalStatus {
    /// Classifies a validity period at `now`.
    pub fn at(not_before: OffsetDateTime, not_after: OffsetDateTime, now: OffsetDateTime) -> Self {
        if now < not_before {
            return RenewalStatus::NotYetValid;
        }
        if now >= not_after {
            return RenewalStatus::Expired;
        }
        if days_left(not_after, now) <= RENEWAL_WINDOW_DAYS {
            RenewalStatus::Renewable
        } else {
            RenewalStatus::Valid
        }
    }

    /// Stable machine name (`renewable`, `expired`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            RenewalStatus::Valid => "valid",
            RenewalStatus::Renewable => "renewable",
            RenewalStatus::Expired => "expired",
            RenewalStatus::NotYetValid => "not_yet_valid",
        }
    }
}

/// The three certificate types a CA issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CertType {
    /// 机构: the organisation itself; its seal is the unit's official seal.
    Organisation,
    /// 机构个人 / 法人代表: a person acting for an organisation.
    OrgPerson,
    /// 自然人: a natural person.
    Person,
}

impl CertType {
    /// Stable machine name.
    pub fn as_str(self) -> &'static str {
        match self {
            CertType::Organisation => "organisation",
            CertType::OrgPerson => "org_person",
            CertType::Person => "person",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn days_left_rounds_up_while_valid_and_reaches_zero_at_expiry() {
        let now = datetime!(2026-01-01 00:00 UTC);
        assert_eq!(days_left(datetime!(2026-01-01 12:00 UTC), now), 1);
        assert_eq!(days_left(datetime!(2026-01-31 00:00 UTC), now), 30);
        assert_eq!(days_left(datetime!(2026-01-30 23:59:59 UTC), now), 30);
        assert_eq!(days_left(now, now), 0);
        assert_eq!(days_left(datetime!(2025-12-31 12:00 UTC), now), 0);
        assert_eq!(days_left(datetime!(2025-12-30 12:00 UTC), now), -1);
    }

    #[test]
    fn a_renewal_term_adds_whole_years_of_365_days_and_the_window_opens_90_days_ahead() {
        let na = datetime!(2026-03-01 08:00 UTC);
        assert_eq!(renewed_not_after(na, 1), datetime!(2027-03-01 08:00 UTC));
        // 2028 is a leap year: two years of 365 days end a day early by the calendar.
        assert_eq!(renewed_not_after(na, 2), datetime!(2028-02-29 08:00 UTC));
        let opens = renewal_opens_at(na);
        assert_eq!(days_left(na, opens), RENEWAL_WINDOW_DAYS);
        assert_eq!(
            days_left(na, opens - time::Duration::seconds(1)),
            RENEWAL_WINDOW_DAYS + 1
        );
    }

    #[test]
    fn renewal_window_is_one_to_ninety_days() {
        let nb = datetime!(2025-01-01 00:00 UTC);
        let now = datetime!(2026-01-01 00:00 UTC);
        let s = |na| RenewalStatus::at(nb, na, now);
        assert_eq!(s(datetime!(2026-04-01 00:00 UTC)), RenewalStatus::Renewable); // 90 days
        assert_eq!(s(datetime!(2026-04-01 00:00:01 UTC)), RenewalStatus::Valid); // 91 days
        assert_eq!(
            s(datetime!(2026-01-01 00:00:01 UTC)),
            RenewalStatus::Renewable
        );
        assert_eq!(s(now), RenewalStatus::Expired);
        assert_eq!(
            RenewalStatus::at(
                datetime!(2026-02-01 00:00 UTC),
                datetime!(2027-01-01 00:00 UTC),
                now
            ),
            RenewalStatus::NotYetValid
        );
    }
}
