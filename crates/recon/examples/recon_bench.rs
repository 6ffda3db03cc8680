//! Reconciliation benchmark: N payments against a statement of about N provider rows,
//! with about 1 % exceptions of every class.
//!
//! `cargo run --release -p sanalpos-recon --example recon_bench -- --rows 1000000`
//!
//! Writes the statement (simulator layout) and `ours.csv` / `theirs.csv` to a temp
//! directory (removed at the end unless `--keep`), times parsing and matching, prints
//! peak memory, then times DuckDB (the Python module, `pip install duckdb`) joining the
//! same two files on the provider reference, and reading the statement itself with its
//! columns typed and joining it to the payments, and prints the ratios.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use sanalpos_core::{AuthCode, Kurus, ProviderRef};
use sanalpos_recon::{
    read_statement_from, reconcile, Class, Expected, Last4, Options, OurPayment, PaymentStatus,
    Profile,
};

const HEADER: &str = "İşlem Tarihi;Valör Tarihi;İşlem Tipi;Durum;Referans No;Sipariş No;Provizyon No;Kart No;Kart Sahibi;Taksit;Tutar;Provizyon Tutarı;Komisyon;Net Tutar;Para Birimi\r\n";

struct Line<'a> {
    day: NaiveDate,
    second: u32,
    kind: &'a str,
    status: &'a str,
    reference: String,
    client: String,
    auth: String,
    amount: Kurus,
    commission: Kurus,
}

fn write_line(out: &mut String, l: &Line<'_>) {
    let net = l.amount.checked_sub(l.commission).unwrap_or_default();
    let _ = write!(
        out,
        "{} {:02}:{:02}:{:02};{};{};{};{};{};{};454671******7894;Ayşe Yılmaz;1;{};{};{};{};TRY\r\n",
        l.day.format("%d.%m.%Y"),
        l.second / 3600 % 24,
        l.second / 60 % 60,
        l.second % 60,
        (l.day + Days::new(1)).format("%d.%m.%Y"),
        l.kind,
        l.status,
        l.reference,
        l.client,
        l.auth,
        l.amount.format_tr(),
        l.amount.format_tr(),
        l.commission.format_tr(),
        net.format_tr(),
    );
}

/// Starts the peak (VmHWM) over from the current resident size (Linux 4.0 and later), so
/// the generator's own buffers do not count as the engine's.
fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// DuckDB's figures on the same two CSV files.
struct DuckDb {
    version: String,
    /// The threads it ran with (its default: every core).
    threads: u32,
    count: u64,
    /// `read_csv` of both files and the join, in one query.
    read_join: Duration,
    /// Loading both files into tables.
    load: Duration,
    /// The join of the loaded tables.
    join: Duration,
    /// Reading the same statement we parse, every column we read turned into its type
    /// (times, dates, amounts in Turkish notation, installments), and joining it to
    /// our payments loaded before: the same work as our parse and key 1.
    statement_join: Duration,
}

/// Times inside Python (`time.perf_counter`), so the interpreter's start and the
/// import do not count. The statement's query uses every column it turns into a type,
/// so that DuckDB cannot leave the conversion out.
const DUCKDB_SCRIPT: &str = r#"
import sys, time, duckdb
ours, theirs, statement = (p.replace("'", "''") for p in sys.argv[1:4])
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
threads = con.sql("SELECT current_setting('threads')").fetchall()[0][0]
join = "SELECT count(*) FROM {} o FULL OUTER JOIN {} t ON o.provider_ref = t.provider_ref"
t = time.perf_counter()
n = con.sql(join.format(f"read_csv('{ours}', all_varchar=true)", f"read_csv('{theirs}', all_varchar=true)")).fetchall()[0][0]
read_join = time.perf_counter() - t
t = time.perf_counter()
con.execute(f"CREATE TABLE o AS SELECT * FROM read_csv('{ours}', all_varchar=true)")
con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{theirs}', all_varchar=true)")
load = time.perf_counter() - t
t = time.perf_counter()
m = con.sql(join.format("o", "t")).fetchall()[0][0]
only_join = time.perf_counter() - t
assert n == m, (n, m)
amount = lambda c: f"CAST(replace(replace(\"{c}\", '.', ''), ',', '.') AS DECIMAL(18, 2))"
typed = f"""SELECT "Referans No" AS provider_ref, "Sipariş No" AS client_ref,
  "Provizyon No" AS auth_code, strptime("İşlem Tarihi", '%d.%m.%Y %H:%M:%S') AS time,
  CAST(strptime("Valör Tarihi", '%d.%m.%Y') AS DATE) AS value_date, "İşlem Tipi" AS kind,
  "Durum" AS status, right("Kart No", 4) AS last4, CAST("Taksit" AS INTEGER) AS installments,
  {amount('Tutar')} AS amount, {amount('Provizyon Tutarı')} AS authorized,
  {amount('Komisyon')} AS commission, {amount('Net Tutar')} AS net, "Para Birimi" AS currency
  FROM read_csv('{statement}', delim=';', header=true, all_varchar=true)"""
t = time.perf_counter()
s = con.sql(f"""WITH t AS ({typed}) SELECT count(*), sum(t.amount), sum(t.authorized),
  sum(t.commission), sum(t.net), max(t.time), max(t.value_date), sum(t.installments),
  max(t.kind), max(t.status), max(t.currency), max(t.last4), max(t.client_ref),
  max(t.auth_code) FROM o FULL OUTER JOIN t ON o.provider_ref = t.provider_ref""").fetchall()[0][0]
statement_join = time.perf_counter() - t
assert s == n, (s, n)
print(duckdb.__version__, threads, n, read_join, load, only_join, statement_join)
"#;

/// `Ok(None)` when `python3` or its `duckdb` module is missing.
fn duckdb(dir: &Path) -> Result<Option<DuckDb>, Box<dyn std::error::Error>> {
    let importable = Command::new("python3")
        .args(["-c", "import duckdb"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        return Ok(None);
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(DUCKDB_SCRIPT)
        .arg(dir.join("ours.csv"))
        .arg(dir.join("theirs.csv"))
        .arg(dir.join("statement.csv"))
        .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr)
            .trim()
            .to_owned()
            .into());
    }
    let text = String::from_utf8(out.stdout)?;
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [version, threads, count, read_join, load, join, statement_join] = fields[..] else {
        return Err(format!("unexpected output from the DuckDB script: {text:?}").into());
    };
    let secs = |s: &str| s.parse::<f64>().map(Duration::from_secs_f64);
    Ok(Some(DuckDb {
        version: version.to_owned(),
        threads: threads.parse()?,
        count: count.parse()?,
        read_join: secs(read_join)?,
        load: secs(load)?,
        join: secs(join)?,
        statement_join: secs(statement_join)?,
    }))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(100_000), |v| v.parse())?;
    let dir = std::env::temp_dir().join(format!("sanalpos-recon-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let start_day = NaiveDate::from_ymd_opt(2025, 1, 1).ok_or("date")?;

    // Generate both sides.
    let t = Instant::now();
    let mut ours = Vec::with_capacity(n);
    let statement_path = dir.join("statement.csv");
    let mut statement_file = std::io::BufWriter::new(std::fs::File::create(&statement_path)?);
    let mut statement = String::with_capacity(1 << 20);
    statement.push_str(HEADER);
    let mut ours_csv = String::from("id,provider_ref,client_ref,auth_code,amount,status\n");
    let mut theirs_csv = String::from("provider_ref,client_ref,auth_code,kind,status,amount\n");
    let mut rows = 0usize;
    for i in 0..n {
        if statement.len() > 1 << 19 {
            statement_file.write_all(statement.as_bytes())?;
            statement.clear();
        }
        let class = i % 100;
        let day = start_day + Days::new((i % 365) as u64);
        let reference = format!("IKSIRPF{i:010}");
        let client = format!("C{i:09}");
        let auth = format!("{:06}", (i * 7919) % 1_000_000 + 1);
        let amount = Kurus::from_minor(100 + (i as i64 * 37) % 1_000_000).ok_or("amount")?;
        let commission = amount.percent_bp(249);
        let mut payment = OurPayment {
            id: format!("P{i:010}").as_str().into(),
            provider_ref: Some(ProviderRef::parse(&reference)?),
            auth_code: Some(AuthCode::parse(&auth)?),
            client_ref: Some(client.as_str().into()),
            status: PaymentStatus::Approved,
            amount,
            authorized_amount: Some(amount),
            refunded_amount: Kurus::ZERO,
            last4: Last4::of("7894"),
            business_date: day,
            expected: Some(Expected {
                commission_bp: 249,
                value_days: 1,
            }),
        };
        let mut line = Line {
            day,
            second: (i * 13 % 86_400) as u32,
            kind: "Satış",
            status: "Başarılı",
            reference: reference.clone(),
            client: client.clone(),
            auth,
            amount,
            commission,
        };
        match class {
            0 => line.amount = Kurus::from_minor(amount.minor() + 1).ok_or("amount")?,
            1 => line.status = "Başarısız",
            2 => {
                // Provider only: the payment never reached us.
                write_line(&mut statement, &line);
                rows += 1;
                let _ = writeln!(
                    theirs_csv,
                    "{reference},{client},{},sale,success,{amount}",
                    line.auth
                );
                continue;
            }
            3 => payment.status = PaymentStatus::Cancelled, // cancelled here only
            4 => {
                write_line(&mut statement, &line); // the same row twice
                rows += 1;
                let _ = writeln!(
                    theirs_csv,
                    "{reference},{client},{},sale,success,{amount}",
                    line.auth
                );
            }
            5 => line.reference = String::new(), // matched by auth code
            6 => {
                line.reference = String::new(); // matched by client reference
                line.auth = String::new();
            }
            7 => line.commission = Kurus::from_minor(commission.minor() + 5).ok_or("c")?,
            8 => {
                // System only: the provider has no record.
                ours.push(payment);
                let _ = writeln!(ours_csv, "P{i:010},{reference},{client},,{amount},approved");
                continue;
            }
            9 => {
                // A partial refund on both sides.
                let half = Kurus::from_minor(amount.minor() / 2).ok_or("half")?;
                payment.status = PaymentStatus::PartiallyRefunded;
                payment.refunded_amount = half;
                write_line(&mut statement, &line);
                rows += 1;
                let refund = Line {
                    kind: "Kısmi İade",
                    reference: format!("IKSIRPR{i:010}"),
                    amount: half,
                    commission: Kurus::ZERO,
                    second: line.second,
                    status: "Başarılı",
                    client: client.clone(),
                    auth: line.auth.clone(),
                    day,
                };
                write_line(&mut statement, &refund);
                rows += 1;
                let _ = writeln!(
                    theirs_csv,
                    "{},{client},,partial_refund,success,{half}",
                    refund.reference
                );
                let _ = writeln!(theirs_csv, "{reference},{client},,sale,success,{amount}");
                ours.push(payment);
                let _ = writeln!(
                    ours_csv,
                    "P{i:010},{reference},{client},,{amount},partially_refunded"
                );
                continue;
            }
            _ => {}
        }
        write_line(&mut statement, &line);
        rows += 1;
        let _ = writeln!(
            theirs_csv,
            "{},{client},{},sale,{},{}",
            line.reference,
            line.auth,
            if line.status == "Başarılı" {
                "success"
            } else {
                "error"
            },
            line.amount
        );
        let _ = writeln!(
            ours_csv,
            "P{i:010},{reference},{client},,{amount},{:?}",
            payment.status
        );
        ours.push(payment);
    }
    statement_file.write_all(statement.as_bytes())?;
    statement_file.flush()?;
    drop((statement, statement_file));
    std::fs::File::create(dir.join("ours.csv"))?.write_all(ours_csv.as_bytes())?;
    std::fs::File::create(dir.join("theirs.csv"))?.write_all(theirs_csv.as_bytes())?;
    drop((ours_csv, theirs_csv));
    println!(
        "generated {} payments, {rows} statement rows in {:.2?}",
        ours.len(),
        t.elapsed()
    );

    let generation_peak = peak_memory_kib();
    let reset = reset_peak_memory();

    // Parse.
    let total = Instant::now();
    // Read and parsed together, a block at a time, so the file is never held whole.
    let t = Instant::now();
    let statement =
        read_statement_from(std::fs::File::open(&statement_path)?, &Profile::simulator())?;
    let parse = t.elapsed();
    if let Some(bad) = statement.bad.first() {
        return Err(format!(
            "{} bad rows, first: line {}: {}",
            statement.bad.len(),
            bad.line,
            bad.reason
        )
        .into());
    }
    let theirs = statement.rows;
    println!(
        "read+parse {:.2?} ({} rows, {:.0} rows/s; the file read in blocks, never whole)",
        parse,
        theirs.len(),
        theirs.len() as f64 / parse.as_secs_f64()
    );

    // The peak of parsing, then started over so matching's own peak shows apart (the
    // run's peak is the larger of the two).
    let parse_peak = peak_memory_kib();
    let reset = reset && reset_peak_memory();
    // Match and classify.
    let t = Instant::now();
    let result = reconcile(&ours, &theirs, &Options::default());
    let matching = t.elapsed();
    println!("match+classify {matching:.2?}");
    println!("total (read+parse+match) {:.2?}", total.elapsed());
    for class in Class::ALL {
        let c = result.summary.get(class);
        println!(
            "  {:<16} {:>9} ours {:>16} theirs {:>16} flags c/v {}/{}",
            format!("{class:?}"),
            c.count,
            c.ours,
            c.theirs,
            c.commission_flags,
            c.value_date_flags
        );
    }
    match (parse_peak, peak_memory_kib()) {
        (Some(parse_kib), Some(match_kib)) => println!(
            "peak memory (VmHWM) of read+parse+match {:.1} MiB (parsing: {:.1} MiB; matching: \
             {}; generating both sides before: {:.1} MiB{})",
            parse_kib.max(match_kib) as f64 / 1024.0,
            parse_kib as f64 / 1024.0,
            if reset {
                format!("{:.1} MiB", match_kib as f64 / 1024.0)
            } else {
                "not apart".to_owned()
            },
            generation_peak.unwrap_or(0) as f64 / 1024.0,
            if reset {
                ", not counted"
            } else {
                "; the peak could not be reset, so it counts"
            }
        ),
        _ => println!("peak memory: /proc/self/status not readable"),
    }
    // Everything of the Rust run is gone before DuckDB starts, so its memory and
    // caches do not weigh on the comparison.
    drop((result, theirs, ours));
    let parse_and_match = parse + matching;
    match duckdb(&dir) {
        Ok(Some(d)) => {
            println!(
                "DuckDB {} ({} threads; we use two), FULL OUTER JOIN on provider_ref, {} result rows:",
                d.version, d.threads, d.count
            );
            println!(
                "  read+join from CSV {:.2?}; load {:.2?}, then join of loaded tables {:.2?}",
                d.read_join, d.load, d.join
            );
            println!(
                "  ratio match+classify / DuckDB join: {:.2} ({:.2?} vs {:.2?})",
                matching.as_secs_f64() / d.join.as_secs_f64(),
                matching,
                d.join
            );
            println!(
                "  ratio parse+match+classify / DuckDB read+join: {:.2} ({:.2?} vs {:.2?})",
                parse_and_match.as_secs_f64() / d.read_join.as_secs_f64(),
                parse_and_match,
                d.read_join
            );
            println!("  (below 1 means faster than DuckDB; DuckDB reads the two plain CSVs, we parse the Turkish statement)");
            println!(
                "  the same work: DuckDB reading our statement, its times, dates and amounts typed, and joining it to the loaded payments {:.2?}",
                d.statement_join
            );
            println!(
                "  ratio parse+match+classify / that: {:.2} ({:.2?} vs {:.2?})",
                parse_and_match.as_secs_f64() / d.statement_join.as_secs_f64(),
                parse_and_match,
                d.statement_join
            );
        }
        Ok(None) => println!(
            "DuckDB comparison skipped: the Python module `duckdb` is not importable.\n  Install it with `pip install duckdb` (or `python3 -m pip install duckdb`) and run again."
        ),
        Err(e) => println!("DuckDB comparison failed: {e}"),
    }
    if args.iter().any(|a| a == "--keep") {
        println!("files kept in {}", dir.display());
    } else {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
