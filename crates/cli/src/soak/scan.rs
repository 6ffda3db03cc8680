//! The secrets scan: after a run, no card number, no CVV and no POS credential may be
//! found in any file the run left (database, WAL, logs) or in any row of a PostgreSQL
//! database.
//!
//! Card numbers and credentials are searched as exact bytes (and, in PostgreSQL rows, as
//! the hex a `bytea` column would show). A CVV is only three digits, which any binary file
//! holds by chance, so it is searched where it would be written: within a few bytes after
//! the word `cvv` or `cvc` in any letter case.
//!
//! A scan that reads nothing proves nothing: each scan also counts a marker that must be
//! there (a masked PAN the run stored), and the caller checks it.

use std::path::{Path, PathBuf};

/// What to look for, each with a label that names it without showing it.
#[derive(Debug, Clone, Default)]
pub struct Needles {
    /// Exact byte strings (card numbers, credentials, API keys) with their labels.
    pub exact: Vec<(String, String)>,
    /// CVVs, searched after the word `cvv`/`cvc`.
    pub cvvs: Vec<String>,
    /// A string that must appear somewhere (a masked PAN the run stored), proving the
    /// scan read the data it is meant to read.
    pub marker: Option<String>,
}

impl Needles {
    /// Adds a card: its number (labelled by its masked form) and its CVV.
    pub fn card(&mut self, number: &str, cvv: &str) {
        let label = format!("card number {}", mask(number));
        if !self.exact.iter().any(|(l, _)| *l == label) {
            self.exact.push((label, number.to_owned()));
        }
        if !self.cvvs.iter().any(|c| c == cvv) {
            self.cvvs.push(cvv.to_owned());
        }
    }

    /// Adds a secret under a label such as `POS secret key`.
    pub fn secret(&mut self, label: &str, value: &str) {
        self.exact.push((label.to_owned(), value.to_owned()));
    }
}

/// First six and last four digits.
pub fn mask(number: &str) -> String {
    if number.len() < 10 {
        return "*".repeat(number.len());
    }
    format!(
        "{}{}{}",
        &number[..6],
        "*".repeat(number.len() - 10),
        &number[number.len() - 4..]
    )
}

/// What one scan found.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    /// Files (or tables) read.
    pub sources: usize,
    /// Bytes read.
    pub bytes: u64,
    /// Sources in which the marker was found.
    pub marker_hits: usize,
    /// `"<source>: <label>"` for every needle found.
    pub findings: Vec<String>,
}

impl ScanReport {
    fn add(&mut self, other: ScanReport) {
        self.sources += other.sources;
        self.bytes += other.bytes;
        self.marker_hits += other.marker_hits;
        self.findings.extend(other.findings);
    }
}

/// Whether `cvv` follows the word `cvv` or `cvc` within 16 bytes, as a whole number.
/// `lower` is the text in lower case.
fn cvv_near_label(lower: &str, cvv: &str) -> bool {
    let bytes = lower.as_bytes();
    for label in ["cvv", "cvc"] {
        for (pos, _) in lower.match_indices(label) {
            let start = pos + label.len();
            let end = (start + 16).min(bytes.len());
            let window = &bytes[start..end];
            let n = cvv.len();
            let mut i = 0;
            while i + n <= window.len() {
                let before_ok = i == 0 || !window[i - 1].is_ascii_digit();
                let after_ok = i + n == window.len() || !window[i + n].is_ascii_digit();
                if before_ok && after_ok && &window[i..i + n] == cvv.as_bytes() {
                    return true;
                }
                i += 1;
            }
        }
    }
    false
}

/// Scans one blob of bytes named `source`. The needles are ASCII, so searching the
/// bytes read as (lossy) UTF-8 finds exactly what a byte search would.
pub fn scan_bytes(source: &str, bytes: &[u8], needles: &Needles, with_hex: bool) -> ScanReport {
    let mut report = ScanReport {
        sources: 1,
        bytes: bytes.len() as u64,
        ..ScanReport::default()
    };
    let text = String::from_utf8_lossy(bytes);
    for (label, needle) in &needles.exact {
        let found = (!needle.is_empty() && text.contains(needle.as_str()))
            || (with_hex && !needle.is_empty() && text.contains(hex::encode(needle).as_str()));
        if found {
            report.findings.push(format!("{source}: {label}"));
        }
    }
    let lower = text.to_ascii_lowercase();
    for cvv in &needles.cvvs {
        if cvv_near_label(&lower, cvv) {
            report
                .findings
                .push(format!("{source}: a CVV next to its label"));
        }
    }
    if let Some(marker) = &needles.marker {
        if text.contains(marker.as_str()) {
            report.marker_hits += 1;
        }
    }
    report
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files_under(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Scans every file under `dir` (database, WAL, shared memory, logs, key files).
pub fn scan_dir(dir: &Path, needles: &Needles) -> Result<ScanReport, String> {
    let mut files = Vec::new();
    files_under(dir, &mut files).map_err(|e| format!("{}: {e}", dir.display()))?;
    files.sort();
    let mut report = ScanReport::default();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let name = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .display()
            .to_string();
        report.add(scan_bytes(&name, &bytes, needles, false));
    }
    Ok(report)
}

/// Scans every row of every table of the PostgreSQL database at `url`, each row as
/// PostgreSQL prints it (`bytea` as hex, hence the hex search).
pub async fn scan_postgres(url: &str, needles: &Needles) -> Result<ScanReport, String> {
    use sqlx::Connection as _;
    sanalpos_store::install_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .map_err(|e| format!("PostgreSQL: {e}"))?;
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(|e| format!("PostgreSQL tables: {e}"))?;
    let mut report = ScanReport::default();
    for (table,) in tables {
        let quoted = table.replace('"', "\"\"");
        let rows: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT CAST(t AS TEXT) FROM \"{quoted}\" t"))
                .fetch_all(&mut conn)
                .await
                .map_err(|e| format!("PostgreSQL table {table}: {e}"))?;
        let mut text = String::new();
        for (row,) in rows {
            text.push_str(&row);
            text.push('\n');
        }
        report.add(scan_bytes(
            &format!("table {table}"),
            text.as_bytes(),
            needles,
            true,
        ));
    }
    let _ = conn.close().await;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_must_and_only_that() {
        let mut needles = Needles::default();
        needles.card("4000000000009011", "417");
        needles.secret("POS secret key", "s3cr3tK3y");
        needles.marker = Some("400000******9011".into());
        let clean = scan_bytes(
            "a",
            b"pan 400000******9011 amount 417.00 code 417",
            &needles,
            false,
        );
        assert!(clean.findings.is_empty(), "{:?}", clean.findings);
        assert_eq!(clean.marker_hits, 1);
        let leaks = scan_bytes(
            "b",
            b"{\"number\":\"4000000000009011\",\"CVV\": \"417\"} s3cr3tK3y",
            &needles,
            false,
        );
        assert_eq!(leaks.findings.len(), 3, "{:?}", leaks.findings);
        assert!(leaks.findings[0].contains("400000******9011"));
        assert!(!leaks
            .findings
            .iter()
            .any(|f| f.contains("4000000000009011")));
        let in_hex = scan_bytes("c", hex::encode("s3cr3tK3y").as_bytes(), &needles, true);
        assert_eq!(in_hex.findings, vec!["c: POS secret key".to_owned()]);
        assert!(!cvv_near_label("cvv=4170", "417"));
        assert!(cvv_near_label("cvc2: 417;", "417"));
    }
}
