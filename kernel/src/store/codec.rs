//! Byte layouts the store owns: a Raft log entry (a format byte, then postcard), an
//! object record (revision, then JSON) and a snapshot (length-prefixed key/record pairs).

use serde_json::Value;

use super::types::Entry;
use crate::object::meta;

/// The first byte of a log entry in postcard. Logs written before it are JSON, which
/// starts with `{`, and are still read.
const ENTRY_POSTCARD: u8 = 1;

/// A log entry as stored: [`ENTRY_POSTCARD`], then the entry in postcard. Objects in it
/// are copied as they are, where JSON would escape every quote in them.
pub fn encode_entry(entry: &Entry) -> Result<Vec<u8>, postcard::Error> {
    let mut out = vec![ENTRY_POSTCARD];
    postcard::to_io(entry, &mut out)?;
    Ok(out)
}

/// A stored log entry, in either format.
pub fn decode_entry(bytes: &[u8]) -> Result<Entry, String> {
    match bytes.split_first() {
        Some((&ENTRY_POSTCARD, rest)) => postcard::from_bytes(rest).map_err(|e| e.to_string()),
        Some((b'{', _)) => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
        Some((first, _)) => Err(format!("unknown log entry format {first}")),
        None => Err("empty log entry".into()),
    }
}

/// `revision` (8 bytes, big-endian) followed by the object's JSON.
pub fn encode_object(revision: u64, json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + json.len());
    out.extend_from_slice(&revision.to_be_bytes());
    out.extend_from_slice(json);
    out
}

/// The revision and JSON of a stored record; `None` if it is too short.
pub fn decode_object(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, json) = bytes.split_at_checked(8)?;
    Some((u64::from_be_bytes(head.try_into().ok()?), json))
}

/// The object a record holds, with `metadata.resourceVersion` set to the record's revision.
/// A record keeps the JSON its write carried, as it was proposed: the resourceVersion in it,
/// if any, is the one its writer read, and the header's revision is the object's own.
pub fn read_object(record: &[u8]) -> Result<(u64, Value), String> {
    let (revision, json) = decode_object(record).ok_or("object record shorter than its header")?;
    let mut object: Value =
        serde_json::from_slice(json).map_err(|e| format!("stored object is not JSON: {e}"))?;
    stamp(&mut object, revision);
    Ok((revision, object))
}

/// Sets `obj`'s `metadata.resourceVersion` to `revision`.
pub fn stamp(obj: &mut Value, revision: u64) {
    meta::meta_mut(obj).insert(
        "resourceVersion".into(),
        Value::String(revision.to_string()),
    );
}

/// A snapshot: for each record, u32 key length, key, u32 value length, value.
pub fn write_snapshot<'a>(records: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in records {
        for part in [k, v] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

/// The records of a snapshot; `None` if it is truncated or malformed.
pub fn read_snapshot(mut data: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    fn take<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
        let (len, rest) = data.split_at_checked(4)?;
        let len = u32::from_be_bytes(len.try_into().ok()?) as usize;
        let (part, rest) = rest.split_at_checked(len)?;
        *data = rest;
        Some(part)
    }
    let mut out = Vec::new();
    while !data.is_empty() {
        let k = take(&mut data)?;
        let v = take(&mut data)?;
        out.push((k, v));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_entries_round_trip_and_older_json_entries_are_read() {
        use super::super::types::{Command, LogId, Proposal};
        use openraft::{CommittedLeaderId, EntryPayload};
        let entry = Entry {
            log_id: LogId::new(CommittedLeaderId::new(3, 1), 42),
            payload: EntryPayload::Normal(Proposal(vec![Command::Create {
                key: "/registry/v1/configmaps/default/a".into(),
                object: r#"{"data":{"k":"\"quoted\""}}"#.into(),
            }])),
        };
        let stored = encode_entry(&entry).expect("an entry encodes");
        assert_eq!(stored[0], ENTRY_POSTCARD);
        assert_eq!(decode_entry(&stored), Ok(entry.clone()));
        let json = serde_json::to_vec(&entry).expect("an entry encodes as JSON");
        assert_eq!(decode_entry(&json), Ok(entry));
        assert!(decode_entry(&[]).is_err());
        assert!(decode_entry(&[9, 1, 2]).is_err_and(|e| e.contains("format 9")));
        assert!(decode_entry(&stored[..stored.len() - 3]).is_err());
    }

    #[test]
    fn round_trips() {
        let rec = encode_object(42, b"{}");
        assert_eq!(decode_object(&rec), Some((42, &b"{}"[..])));
        assert_eq!(decode_object(b"short"), None);
        let stale = encode_object(7, br#"{"metadata":{"name":"a","resourceVersion":"3"}}"#);
        assert_eq!(
            read_object(&stale),
            Ok((
                7,
                serde_json::json!({"metadata": {"name": "a", "resourceVersion": "7"}})
            ))
        );
        assert!(read_object(b"short").is_err());
        assert!(read_object(&encode_object(1, b"{")).is_err());
        let snap = write_snapshot([(&b"a"[..], &rec[..]), (&b"bb"[..], &b""[..])].into_iter());
        let back = read_snapshot(&snap);
        assert_eq!(
            back,
            Some(vec![(&b"a"[..], &rec[..]), (&b"bb"[..], &b""[..])])
        );
        assert_eq!(read_snapshot(&snap[..snap.len() - 1]), None);
    }
}
