//! What `assay fleet` prints for people: aligned tables, UTC times, tags.

use std::collections::BTreeMap;

/// A millisecond timestamp as UTC (`2026-12-06 14:18:34`).
pub(super) fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

pub(super) fn maybe_time(ms: Option<i64>) -> String {
    ms.map(time).unwrap_or_else(|| "-".into())
}

pub(super) fn tags(tags: &BTreeMap<String, String>) -> String {
    tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Rows as aligned columns under upper-case headers.
pub(super) fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
            .collect();
        outln!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_uppercase()).collect());
    for r in rows {
        line(r);
    }
}

/// A page of a list as a table, and how to get the next one.
pub(super) fn paged(headers: &[&str], rows: Vec<Vec<String>>, next: Option<&str>) {
    table(headers, rows);
    if let Some(next) = next {
        eprintln!("more: --after {next}");
    }
}

/// A value as JSON on standard output.
pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<(), super::client::Problem> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| super::client::Problem::Unreachable(format!("cannot print the answer: {e}")))?;
    outln!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_print_in_utc() {
        assert_eq!(super::time(0), "1970-01-01 00:00:00");
        assert_eq!(super::time(1_765_030_714_000), "2025-12-06 14:18:34");
    }
}
