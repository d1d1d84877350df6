//! A process's resident memory, as Linux reports it in `/proc/<pid>/status` (`VmRSS`).

/// The resident set of process `pid` (this process when `None`), in bytes; `None` when
/// `/proc` cannot tell (the process is gone, or this is not Linux).
pub fn resident_bytes(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_resident_set_and_a_missing_process_none() {
        let own = resident_bytes(None);
        assert!(own.is_some_and(|b| b > 0), "{own:?}");
        assert!(resident_bytes(Some(std::process::id())).is_some());
        assert_eq!(resident_bytes(Some(u32::MAX)), None);
    }
}
