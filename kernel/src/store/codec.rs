//! Byte layouts the store owns: an object record (revision, then JSON) and a
//! snapshot (length-prefixed key/record pairs).

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
    fn round_trips() {
        let rec = encode_object(42, b"{}");
        assert_eq!(decode_object(&rec), Some((42, &b"{}"[..])));
        assert_eq!(decode_object(b"short"), None);
        let snap = write_snapshot([(&b"a"[..], &rec[..]), (&b"bb"[..], &b""[..])].into_iter());
        let back = read_snapshot(&snap);
        assert_eq!(
            back,
            Some(vec![(&b"a"[..], &rec[..]), (&b"bb"[..], &b""[..])])
        );
        assert_eq!(read_snapshot(&snap[..snap.len() - 1]), None);
    }
}
