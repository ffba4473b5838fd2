//! What the change history records: for each version, the fields that changed, with their old and
//! new values.

use serde::Serialize;

use crate::client::Client;
use crate::update::{FieldChange, FieldValue};
use crate::values::{as_str, Text};

/// One field of one history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: &'static str,
    pub old: FieldValue,
    pub new: FieldValue,
}

impl From<&FieldChange> for Change {
    fn from(change: &FieldChange) -> Self {
        Change {
            field: change.field.name(),
            old: change.old.clone(),
            new: change.new.clone(),
        }
    }
}

/// A decided change of a client: the client as it will be stored (the stored one, untouched,
/// when nothing changes) and what its history entry records.
pub trait Recorded {
    fn client(&self) -> &Client;
    /// The entry's changes; none for a no-op.
    fn changes(&self) -> Vec<Change>;
    /// Why, for changes that give a reason.
    fn reason(&self) -> Option<&str>;
    fn is_noop(&self) -> bool;
    /// The relationship after the change, when the change is one of the relationship's.
    fn relationship(&self) -> Option<&crate::lifecycle::Relationship> {
        None
    }
}

impl Recorded for crate::update::UpdatePlan {
    fn client(&self) -> &Client {
        &self.client
    }

    fn changes(&self) -> Vec<Change> {
        update_changes(&self.changes)
    }

    fn reason(&self) -> Option<&str> {
        None
    }

    fn is_noop(&self) -> bool {
        self.changes.is_empty()
    }
}

/// A change of status (a KYC decision) with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub client: Client,
    pub changes: Vec<Change>,
    pub reason: String,
}

impl Recorded for StatusChange {
    fn client(&self) -> &Client {
        &self.client
    }

    fn changes(&self) -> Vec<Change> {
        self.changes.clone()
    }

    fn reason(&self) -> Option<&str> {
        (!self.changes.is_empty()).then_some(self.reason.as_str())
    }

    fn is_noop(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The changes of an update, in field order.
pub fn update_changes(changes: &[FieldChange]) -> Vec<Change> {
    changes.iter().map(Change::from).collect()
}

/// The first entry of a client: every field that has a value, from `null`.
pub fn registration_changes(client: &Client) -> Vec<Change> {
    let text = |s: &str| FieldValue::Text(s.to_owned());
    macro_rules! optional {
        ($value:expr) => {
            FieldValue::from(as_str($value))
        };
    }
    let fields: [(&'static str, FieldValue); 29] = [
        ("first_name", text(client.first_name.as_str())),
        ("middle_name", optional!(&client.middle_name)),
        ("last_name", text(client.last_name.as_str())),
        (
            "date_of_birth",
            FieldValue::Text(client.date_of_birth.to_string()),
        ),
        ("gender", text(client.gender.as_str())),
        ("nationality", text(client.nationality.as_str())),
        ("birth_country", text(client.birth_country.as_str())),
        (
            "country_of_tax_residence",
            text(client.country_of_tax_residence.as_str()),
        ),
        ("email", text(client.email.as_str())),
        ("second_email", optional!(&client.second_email)),
        (
            "mobile_phone_number",
            optional!(&client.mobile_phone_number),
        ),
        (
            "second_mobile_phone_number",
            optional!(&client.second_mobile_phone_number),
        ),
        ("address", text(client.address.as_str())),
        ("city", text(client.city.as_str())),
        ("postcode", text(client.postcode.as_str())),
        ("state_province", optional!(&client.state_province)),
        ("country_code", text(client.country_code.as_str())),
        ("planned_income", optional!(&client.planned_income)),
        (
            "planned_expenditure",
            optional!(&client.planned_expenditure),
        ),
        ("kyc_level", text(client.kyc_level.as_str())),
        ("kyc_status", text(client.kyc_status.as_str())),
        ("kyc_note", optional!(&client.kyc_note)),
        (
            "external_client_code",
            optional!(&client.external_client_code),
        ),
        ("risk_level", text(client.risk_level.as_str())),
        ("is_blacklisted", FieldValue::Bool(client.is_blacklisted)),
        (
            "blacklisted_comment",
            optional!(&client.blacklisted_comment),
        ),
        ("blocked", FieldValue::Bool(client.blocked)),
        (
            "organization_id",
            FieldValue::Integer(client.organization_id.into()),
        ),
        ("id", FieldValue::Text(client.id.to_string())),
    ];
    fields
        .into_iter()
        .filter(|(_, value)| *value != FieldValue::Null)
        .map(|(field, new)| Change {
            field,
            old: FieldValue::Null,
            new,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::register::tests::valid;

    #[test]
    fn registration_records_every_field_with_a_value_from_null() {
        let client = valid().into_client(Uuid::now_v7(), 1, Utc::now());
        let changes = registration_changes(&client);
        assert!(changes
            .iter()
            .all(|c| c.old == FieldValue::Null && c.new != FieldValue::Null));
        let fields: Vec<&str> = changes.iter().map(|c| c.field).collect();
        assert!(
            fields.contains(&"email")
                && fields.contains(&"kyc_status")
                && fields.contains(&"blocked")
        );
        assert!(!fields.contains(&"middle_name"), "no value, no entry");
        let organization = changes.iter().find(|c| c.field == "organization_id");
        assert_eq!(
            organization.map(|c| &c.new),
            Some(&FieldValue::Integer(1)),
            "as the API shows it"
        );
    }
}
