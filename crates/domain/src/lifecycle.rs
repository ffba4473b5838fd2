//! KYC decisions and the business relationship (contract section 9): which KYC status may follow
//! which, and how long the records of a closed relationship are kept.

use chrono::{DateTime, Months, Utc};

use crate::client::{truncate_to_micros, Client};
use crate::enums::KycStatus;
use crate::history::{Change, Recorded, StatusChange};
use crate::update::FieldValue;
use crate::values::{Reason, Text};

/// The KYC statuses that may follow `from`: the one table of the contract. The current status
/// is never among them (asking for it again is a no-op, not a transition).
pub const fn kyc_targets(from: KycStatus) -> &'static [KycStatus] {
    use KycStatus as S;
    match from {
        S::NotStarted => &[S::Created],
        S::Created => &[S::Processing, S::Aborted],
        S::Processing => &[S::PendingReview, S::Validated, S::Declined, S::Aborted],
        S::PendingReview => &[S::Processing, S::Validated, S::Declined],
        // Re-verification.
        S::Validated => &[S::Processing],
        // A new application.
        S::Declined | S::Aborted => &[S::Created],
    }
}

/// What asking for KYC status `to` does to a client in status `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KycTransition {
    /// `to` is the current status: nothing changes.
    Unchanged,
    /// `to` follows `from` in the table.
    Allowed,
}

/// A transition the table does not have; `allowed` lists the statuses that may follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the KYC status cannot go from {from} to {to}")]
pub struct InvalidKycTransition {
    pub from: KycStatus,
    pub to: KycStatus,
    pub allowed: &'static [KycStatus],
}

pub fn kyc_transition(
    from: KycStatus,
    to: KycStatus,
) -> Result<KycTransition, InvalidKycTransition> {
    let allowed = kyc_targets(from);
    if from == to {
        Ok(KycTransition::Unchanged)
    } else if allowed.contains(&to) {
        Ok(KycTransition::Allowed)
    } else {
        Err(InvalidKycTransition { from, to, allowed })
    }
}

/// Asking for KYC status `to` with `reason` at `now`: the client's next version with its
/// history entry, or, for its current status, the client untouched (a no-op).
pub fn change_kyc_status(
    current: &Client,
    to: KycStatus,
    reason: &Reason,
    now: DateTime<Utc>,
) -> Result<StatusChange, InvalidKycTransition> {
    let mut client = current.clone();
    let changes = match kyc_transition(current.kyc_status, to)? {
        KycTransition::Unchanged => Vec::new(),
        KycTransition::Allowed => {
            client.kyc_status = to;
            client.version = current.version + 1;
            client.updated_at = truncate_to_micros(now).max(current.updated_at);
            vec![Change {
                field: "kyc_status",
                old: FieldValue::Text(current.kyc_status.as_str().to_owned()),
                new: FieldValue::Text(to.as_str().to_owned()),
            }]
        }
    };
    Ok(StatusChange {
        client,
        changes,
        reason: reason.as_str().to_owned(),
    })
}

/// Closing or reopening a client's relationship: the client's next version (its version and
/// `updated_at` bumped), the relationship after it, and the history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationshipChange {
    pub client: Client,
    pub relationship: Relationship,
    pub changes: Vec<Change>,
    pub reason: String,
}

impl Recorded for RelationshipChange {
    fn client(&self) -> &Client {
        &self.client
    }

    fn changes(&self) -> Vec<Change> {
        self.changes.clone()
    }

    fn reason(&self) -> Option<&str> {
        Some(&self.reason)
    }

    fn is_noop(&self) -> bool {
        false
    }

    fn relationship(&self) -> Option<&Relationship> {
        Some(&self.relationship)
    }
}

fn relationship_change(
    current: &Client,
    before: &Relationship,
    after: impl FnOnce(DateTime<Utc>) -> Result<Relationship, InvalidRelationshipTransition>,
    reason: &Reason,
    now: DateTime<Utc>,
) -> Result<RelationshipChange, InvalidRelationshipTransition> {
    let mut client = current.clone();
    client.version = current.version + 1;
    client.updated_at = truncate_to_micros(now).max(current.updated_at);
    let relationship = after(client.updated_at)?;
    let text = |status: RelationshipStatus| FieldValue::Text(status.as_str().to_owned());
    Ok(RelationshipChange {
        client,
        changes: vec![Change {
            field: "relationship",
            old: text(before.status()),
            new: text(relationship.status()),
        }],
        relationship,
        reason: reason.as_str().to_owned(),
    })
}

/// Ending the relationship with `current` at `now`: its records are kept `years` from then.
pub fn close_relationship(
    current: &Client,
    relationship: &Relationship,
    reason: &Reason,
    years: RetentionYears,
    now: DateTime<Utc>,
) -> Result<RelationshipChange, InvalidRelationshipTransition> {
    relationship_change(
        current,
        relationship,
        |at| relationship.close(at, years),
        reason,
        now,
    )
}

/// Resuming a closed relationship: its end and retention date are cleared.
pub fn reopen_relationship(
    current: &Client,
    relationship: &Relationship,
    reason: &Reason,
    now: DateTime<Utc>,
) -> Result<RelationshipChange, InvalidRelationshipTransition> {
    relationship_change(
        current,
        relationship,
        |_| relationship.reopen(),
        reason,
        now,
    )
}

/// How many calendar years the records of a closed relationship are kept: 1 to 100 (EU AMLD
/// art. 40 and the US CIP rule ask for five).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionYears(u32);

impl RetentionYears {
    pub const DEFAULT: Self = Self(5);
    pub const RANGE: std::ops::RangeInclusive<u32> = 1..=100;

    pub fn new(years: u32) -> Result<Self, String> {
        if Self::RANGE.contains(&years) {
            Ok(Self(years))
        } else {
            Err(format!(
                "must be {} to {} years (got {years})",
                Self::RANGE.start(),
                Self::RANGE.end()
            ))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// The end of retention of a relationship that ended at `ended_at`: the same instant
    /// `self` calendar years later; 29 February becomes 28 February in a year without one.
    pub fn retain_until(self, ended_at: DateTime<Utc>) -> DateTime<Utc> {
        // chrono clamps to the month's last day: 29 February + 1 year is 28 February.
        ended_at
            .checked_add_months(Months::new(self.0 * 12))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// Whether the business relationship with a client runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationshipStatus {
    Active,
    Closed,
}

impl RelationshipStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Closed => "closed",
        }
    }
}

/// The business relationship with a client: from its registration (`started_at`, never changed)
/// to its closing, and until when its records are kept once closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relationship {
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Fixed at closing: a later change of the retention setting does not move it.
    pub retain_until: Option<DateTime<Utc>>,
}

/// Closing a closed relationship, or reopening an active one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the relationship is already {}", .status.as_str())]
pub struct InvalidRelationshipTransition {
    pub status: RelationshipStatus,
}

impl Relationship {
    pub fn active(started_at: DateTime<Utc>) -> Self {
        Self {
            started_at,
            ended_at: None,
            retain_until: None,
        }
    }

    pub fn status(&self) -> RelationshipStatus {
        match self.ended_at {
            None => RelationshipStatus::Active,
            Some(_) => RelationshipStatus::Closed,
        }
    }

    /// The relationship closed at `at`, its records kept for `years`.
    pub fn close(
        self,
        at: DateTime<Utc>,
        years: RetentionYears,
    ) -> Result<Self, InvalidRelationshipTransition> {
        match self.status() {
            RelationshipStatus::Closed => Err(InvalidRelationshipTransition {
                status: RelationshipStatus::Closed,
            }),
            RelationshipStatus::Active => Ok(Self {
                ended_at: Some(at),
                retain_until: Some(years.retain_until(at)),
                ..self
            }),
        }
    }

    /// The relationship running again: its end and retention date cleared.
    pub fn reopen(self) -> Result<Self, InvalidRelationshipTransition> {
        match self.status() {
            RelationshipStatus::Active => Err(InvalidRelationshipTransition {
                status: RelationshipStatus::Active,
            }),
            RelationshipStatus::Closed => Ok(Self::active(self.started_at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;

    use super::*;
    use KycStatus as S;

    /// The contract's table, written out a second time as (from, to) pairs: every pair of the
    /// 7 × 7 is checked against it, so a change to either is caught.
    const CONTRACT: &[(KycStatus, KycStatus)] = &[
        (S::NotStarted, S::Created),
        (S::Created, S::Processing),
        (S::Created, S::Aborted),
        (S::Processing, S::PendingReview),
        (S::Processing, S::Validated),
        (S::Processing, S::Declined),
        (S::Processing, S::Aborted),
        (S::PendingReview, S::Processing),
        (S::PendingReview, S::Validated),
        (S::PendingReview, S::Declined),
        (S::Validated, S::Processing),
        (S::Declined, S::Created),
        (S::Aborted, S::Created),
    ];

    #[test]
    fn every_pair_is_allowed_unchanged_or_refused_as_the_contract_says() {
        let mut allowed = 0;
        for &from in KycStatus::ALL {
            for &to in KycStatus::ALL {
                let result = kyc_transition(from, to);
                if from == to {
                    assert_eq!(result, Ok(KycTransition::Unchanged), "{from} → {to}");
                } else if CONTRACT.contains(&(from, to)) {
                    assert_eq!(result, Ok(KycTransition::Allowed), "{from} → {to}");
                    allowed += 1;
                } else {
                    let refused = result.expect_err("not in the table");
                    let expected: Vec<KycStatus> = CONTRACT
                        .iter()
                        .filter(|(f, _)| *f == from)
                        .map(|(_, t)| *t)
                        .collect();
                    assert_eq!(refused.allowed, expected.as_slice(), "{from} → {to}");
                    assert!(!refused.allowed.contains(&from), "never the current status");
                }
            }
        }
        assert_eq!(allowed, CONTRACT.len());
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn retention_counts_calendar_years_and_29_february_becomes_28() {
        let five = RetentionYears::DEFAULT;
        assert_eq!(
            five.retain_until(at("2026-11-30T10:15:30.123456Z")),
            at("2031-11-30T10:15:30.123456Z")
        );
        let leap = at("2028-02-29T23:59:59.999999Z");
        assert_eq!((leap.month(), leap.day()), (2, 29));
        assert_eq!(five.retain_until(leap), at("2033-02-28T23:59:59.999999Z"));
        // Four years from a leap day is a leap day again.
        let four = RetentionYears::new(4).unwrap();
        assert_eq!(four.retain_until(leap), at("2032-02-29T23:59:59.999999Z"));
    }

    #[test]
    fn retention_is_one_to_a_hundred_years() {
        assert!(RetentionYears::new(0).is_err());
        assert!(RetentionYears::new(101).is_err());
        assert_eq!(RetentionYears::new(1).unwrap().get(), 1);
        assert_eq!(RetentionYears::new(100).unwrap().get(), 100);
    }

    #[test]
    fn a_relationship_closes_once_and_reopens_once() {
        let started = at("2026-01-01T00:00:00Z");
        let active = Relationship::active(started);
        let closed = active
            .close(at("2026-06-01T00:00:00Z"), RetentionYears::DEFAULT)
            .unwrap();
        assert_eq!(closed.status(), RelationshipStatus::Closed);
        assert_eq!(closed.retain_until, Some(at("2031-06-01T00:00:00Z")));
        assert_eq!(closed.started_at, started, "started_at never changes");
        assert_eq!(
            closed.close(at("2026-07-01T00:00:00Z"), RetentionYears::DEFAULT),
            Err(InvalidRelationshipTransition {
                status: RelationshipStatus::Closed
            })
        );
        let reopened = closed.reopen().unwrap();
        assert_eq!(reopened, active, "end and retention cleared");
        assert_eq!(
            reopened.reopen(),
            Err(InvalidRelationshipTransition {
                status: RelationshipStatus::Active
            })
        );
    }
}
