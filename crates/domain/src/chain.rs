//! The hash chain of a client's history (contract section 9): each entry's `hash` is the SHA-256
//! of the previous entry's hash and the entry's canonical encoding, so that a row changed,
//! removed or inserted behind the API's back no longer matches.
//!
//! The encoding is defined byte for byte in `docs/API-DESIGN.md` ("The history's hash chain"),
//! so that anyone holding the history can recompute it. It never changes: a new encoding
//! would have a new format tag. The worked example of that page is a test below.
//!
//! A value is one of:
//! - `n`: null;
//! - `t` or `f`: true or false;
//! - `i<decimal>;`: an integer, e.g. `i42;`, `i-7;`;
//! - `s<byte length>:<UTF-8 bytes>`: a string, e.g. `s5:Paris`;
//! - `l<count>:` followed by that many values: a list.
//!
//! An entry is, in this order: the format tag `s22:clients-api/history/v1`, the client id (the
//! lower-case hyphenated UUID, as a string), the organization id, the version, `recorded_at`
//! (RFC 3339 UTC with six fractional digits, as the API shows it), the actor's key id (string or
//! null), the actor's name, the request id (string or null), the changes (a list of lists of
//! three values: the field's name, the old value, the new value) and the reason (string or null).

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::update::FieldValue;

/// The `hash` that version 1 chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Names this encoding; part of every entry's bytes.
pub const FORMAT: &str = "clients-api/history/v1";

/// One field's change, as the history shows it.
#[derive(Debug, Clone, Copy)]
pub struct EntryChange<'a> {
    pub field: &'a str,
    pub old: &'a FieldValue,
    pub new: &'a FieldValue,
}

/// What an entry's hash covers.
#[derive(Debug, Clone)]
pub struct EntryContent<'a> {
    pub client_id: Uuid,
    pub organization_id: i32,
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
    pub actor_key_id: Option<&'a str>,
    pub actor_name: &'a str,
    pub request_id: Option<&'a str>,
    pub changes: Vec<EntryChange<'a>>,
    pub reason: Option<&'a str>,
}

fn string(out: &mut Vec<u8>, value: &str) {
    let _ = write!(Bytes(out), "s{}:", value.len());
    out.extend_from_slice(value.as_bytes());
}

fn optional(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => string(out, value),
        None => out.push(b'n'),
    }
}

fn integer(out: &mut Vec<u8>, value: i64) {
    let _ = write!(Bytes(out), "i{value};");
}

fn value(out: &mut Vec<u8>, value: &FieldValue) {
    match value {
        FieldValue::Null => out.push(b'n'),
        FieldValue::Bool(true) => out.push(b't'),
        FieldValue::Bool(false) => out.push(b'f'),
        FieldValue::Integer(n) => integer(out, *n),
        FieldValue::Text(text) => string(out, text),
    }
}

/// `fmt::Write` into a byte buffer.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl EntryContent<'_> {
    /// The canonical encoding: the bytes the hash covers after the previous hash.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        string(&mut out, FORMAT);
        string(&mut out, &self.client_id.hyphenated().to_string());
        integer(&mut out, self.organization_id.into());
        integer(&mut out, self.version);
        string(
            &mut out,
            &self
                .recorded_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
        );
        optional(&mut out, self.actor_key_id);
        string(&mut out, self.actor_name);
        optional(&mut out, self.request_id);
        let _ = write!(Bytes(&mut out), "l{}:", self.changes.len());
        for change in &self.changes {
            out.extend_from_slice(b"l3:");
            string(&mut out, change.field);
            value(&mut out, change.old);
            value(&mut out, change.new);
        }
        optional(&mut out, self.reason);
        out
    }

    /// The entry's hash: lower-case hex SHA-256 of `previous` (the previous entry's hash, or
    /// [`GENESIS`] for version 1, as 64 ASCII characters) followed by [`Self::encode`].
    pub fn hash(&self, previous: &str) -> String {
        let mut sha = Sha256::new();
        sha.update(previous.as_bytes());
        sha.update(self.encode());
        sha.finalize()
            .iter()
            .fold(String::with_capacity(64), |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            })
    }
}

/// The first version of a client's history whose entry does not hold: `entries` are the stored
/// `(version, content, hash)` in version order (`content` is `None` for an entry that cannot
/// be read), and `current` the client's version. A version is reported when its content or hash
/// does not match, when it is not the one that should follow (a gap, a duplicate), when the
/// history stops before `current`, or when it goes beyond it.
pub fn first_invalid_version<'a>(
    entries: impl IntoIterator<Item = (i64, Option<EntryContent<'a>>, &'a str)>,
    current: i64,
) -> Option<i64> {
    let mut previous = GENESIS.to_owned();
    let mut expected = 1;
    for (version, content, hash) in entries {
        let holds = version == expected
            && content.is_some_and(|c| c.version == version && c.hash(&previous) == hash);
        if !holds {
            return Some(expected.min(version));
        }
        previous = hash.to_owned();
        expected += 1;
    }
    let last = expected - 1;
    if last < current {
        // The history stops early: the last entries were removed.
        Some(expected)
    } else if last > current {
        // Entries beyond the client's version were added.
        Some(current + 1)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of docs/API-DESIGN.md: if this fails, the page or the code changed,
    /// and hashes already handed to partners would no longer verify.
    #[test]
    fn the_documented_example_encodes_and_hashes_as_the_page_says() {
        let (old, new) = (
            FieldValue::Text("Paris".into()),
            FieldValue::Text("Lyon".into()),
        );
        let entry = EntryContent {
            client_id: "0193a5b2-7c1e-7d3a-9f10-2b6c1d7e8f90".parse().unwrap(),
            organization_id: 1,
            version: 2,
            recorded_at: DateTime::parse_from_rfc3339("2026-11-24T10:20:00.000001Z")
                .unwrap()
                .to_utc(),
            actor_key_id: Some("0193a5b2-0000-7000-8000-000000000001"),
            actor_name: "partner CRM",
            request_id: Some("req-42"),
            changes: vec![EntryChange {
                field: "city",
                old: &old,
                new: &new,
            }],
            reason: None,
        };
        assert_eq!(
            String::from_utf8(entry.encode()).unwrap(),
            "s22:clients-api/history/v1s36:0193a5b2-7c1e-7d3a-9f10-2b6c1d7e8f90i1;i2;\
             s27:2026-11-24T10:20:00.000001Zs36:0193a5b2-0000-7000-8000-000000000001\
             s11:partner CRMs6:req-42l1:l3:s4:citys5:Pariss4:Lyonn"
        );
        let previous = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(entry.hash(previous), DOCUMENTED_HASH);
    }

    const DOCUMENTED_HASH: &str =
        "c6798023e222709fc41e7ba91a2786e88262ff0d4896cbeba6a5acc3ae90e523";

    fn entry(version: i64) -> EntryContent<'static> {
        EntryContent {
            client_id: Uuid::nil(),
            organization_id: 7,
            version,
            recorded_at: DateTime::UNIX_EPOCH,
            actor_key_id: None,
            actor_name: "unauthenticated",
            request_id: None,
            changes: Vec::new(),
            reason: Some("documents received"),
        }
    }

    fn chain(n: i64) -> Vec<(EntryContent<'static>, String)> {
        let mut previous = GENESIS.to_owned();
        (1..=n)
            .map(|v| {
                let e = entry(v);
                let hash = e.hash(&previous);
                previous = hash.clone();
                (e, hash)
            })
            .collect()
    }

    fn check(entries: &[(EntryContent<'static>, String)], current: i64) -> Option<i64> {
        first_invalid_version(
            entries
                .iter()
                .map(|(e, h)| (e.version, Some(e.clone()), h.as_str())),
            current,
        )
    }

    #[test]
    fn a_clean_chain_verifies_and_each_kind_of_tampering_names_its_version() {
        let clean = chain(4);
        assert_eq!(check(&clean, 4), None);

        let mut altered = clean.clone();
        altered[2].0.actor_name = "someone else";
        assert_eq!(check(&altered, 4), Some(3), "content changed");

        let mut rehashed = clean.clone();
        rehashed[1].1 = "0".repeat(64);
        assert_eq!(check(&rehashed, 4), Some(2), "hash changed");

        let mut removed = clean.clone();
        removed.remove(1);
        assert_eq!(check(&removed, 4), Some(2), "a gap");

        let mut last_removed = clean.clone();
        last_removed.pop();
        assert_eq!(check(&last_removed, 4), Some(4), "the last entry removed");

        let mut inserted = clean.clone();
        let copy = inserted[1].clone();
        inserted.insert(2, copy);
        assert_eq!(check(&inserted, 4), Some(2), "version 2 twice");

        let mut appended = clean.clone();
        appended.extend(chain(5).pop());
        assert_eq!(check(&appended, 4), Some(5), "an entry beyond the version");

        // Every content field is covered.
        let mut reason = clean.clone();
        reason[0].0.reason = None;
        assert_eq!(check(&reason, 4), Some(1));

        // An entry that cannot be read.
        let unreadable = clean
            .iter()
            .map(|(e, h)| (e.version, (e.version != 2).then(|| e.clone()), h.as_str()));
        assert_eq!(first_invalid_version(unreadable, 4), Some(2));
    }
}
