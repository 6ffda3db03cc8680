//! Reconciliation benchmark: N payments against a statement of about N provider rows,
//! with about 1 % exceptions of every class.
//!
//! `cargo run --release -p sanalpos-recon --example recon_bench -- --rows 1000000`
//!
//! Writes the statement (simulator layout) and `ours.csv` / `theirs.csv` to a temp
//! directory, times parsing and matching, prints peak memory and a DuckDB command that
//! joins the same two files on the provider reference, for comparison.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use sanalpos_core::{AuthCode, Kurus, ProviderRef};
use sanalpos_recon::{
    parse_statement, reconcile, Class, Expected, Options, OurPayment, PaymentStatus, Profile,
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

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
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
            id: format!("P{i:010}"),
            provider_ref: Some(ProviderRef::parse(&reference)?),
            auth_code: Some(AuthCode::parse(&auth)?),
            client_ref: Some(client.clone()),
            status: PaymentStatus::Approved,
            amount,
            authorized_amount: Some(amount),
            refunded_amount: Kurus::ZERO,
            last4: Some("7894".to_owned()),
            created_at: day.and_hms_opt(12, 0, 0).ok_or("time")?,
            business_date: day,
            installments: 1,
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

    // Parse.
    let total = Instant::now();
    let t = Instant::now();
    let bytes = std::fs::read(&statement_path)?;
    let read = t.elapsed();
    let t = Instant::now();
    let theirs = parse_statement(&bytes, &Profile::simulator())?;
    let parse = t.elapsed();
    drop(bytes);
    println!(
        "read {:.2?}, parse {:.2?} ({} rows, {:.0} rows/s)",
        read,
        parse,
        theirs.len(),
        theirs.len() as f64 / parse.as_secs_f64()
    );

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
    match peak_memory_kib() {
        Some(kib) => println!("peak memory (VmHWM) {:.1} MiB", kib as f64 / 1024.0),
        None => println!("peak memory: /proc/self/status not readable"),
    }
    println!("files in {}", dir.display());
    println!(
        "DuckDB join for comparison:\n  duckdb -cmd '.timer on' -c \"SELECT count(*) FROM read_csv('{0}/ours.csv', all_varchar=true) o FULL OUTER JOIN read_csv('{0}/theirs.csv', all_varchar=true) t ON o.provider_ref = t.provider_ref;\"",
        dir.display()
    );
    Ok(())
}
