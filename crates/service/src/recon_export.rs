//! A reconciliation run as a CSV or XLSX file: one row per item, exceptions first, in
//! the reader's language (the same formats as the payment export, see `export.rs`).

use rust_xlsxwriter::{Format, Workbook, XlsxError};
use serde_json::Value;

use sanalpos_core::{Kurus, Lang};

use crate::error::ServiceError;
use crate::export::{
    excel_amount, excel_time, excel_time_format, neutralize, write_csv, ExportFormat,
    EXCEL_AMOUNT_FORMAT,
};
use crate::{PaymentService, ReconItemView};

/// The column headers of a reconciliation export, in order.
pub fn recon_export_headers(lang: Lang) -> [&'static str; 14] {
    match lang {
        Lang::Tr => [
            "Sınıf",
            "Neden",
            "Eşleşme anahtarı",
            "Tahsilatlarımız",
            "Sağlayıcı referansları",
            "Bizdeki tutar",
            "Sağlayıcı tutarı",
            "Fark",
            "Bizdeki iptal/iade",
            "Sağlayıcı iptal/iade",
            "Karar",
            "Karar gerekçesi",
            "Karar veren",
            "Karar zamanı",
        ],
        Lang::En => [
            "Class",
            "Reason",
            "Match key",
            "Our payments",
            "Provider references",
            "Our amount",
            "Their amount",
            "Difference",
            "Our reversals",
            "Their reversals",
            "Resolution",
            "Resolution reason",
            "Resolved by",
            "Resolved at",
        ],
    }
}

/// A reconciliation class as a person reads it.
pub fn class_label(lang: Lang, class: &str) -> String {
    let (tr, en) = match class {
        "matched" => ("Eşleşti", "Matched"),
        "amount_mismatch" => ("Tutar farkı", "Amount mismatch"),
        "status_mismatch" => ("Durum farkı", "Status mismatch"),
        "provider_only" => ("Yalnız sağlayıcıda", "Provider only"),
        "system_only" => ("Yalnız bizde", "Our system only"),
        "duplicate" => ("Mükerrer", "Duplicate"),
        other => (other, other),
    };
    match lang {
        Lang::Tr => tr.to_owned(),
        Lang::En => en.to_owned(),
    }
}

fn resolution_label(lang: Lang, resolution: &str) -> String {
    let (tr, en) = match resolution {
        "entered" => ("Girildi", "Entered"),
        "force_matched" => ("Elle eşleştirildi", "Force-matched"),
        "dismissed" => ("Kapatıldı", "Dismissed"),
        other => (other, other),
    };
    match lang {
        Lang::Tr => tr.to_owned(),
        Lang::En => en.to_owned(),
    }
}

fn provider_refs(rows: &Value) -> String {
    rows.as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r.get("provider_ref").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Ours minus theirs, in kuruş (negative when the provider has more).
fn difference(item: &ReconItemView) -> i64 {
    item.ours.minor() - item.theirs.minor()
}

fn signed(lang: Lang, minor: i64) -> String {
    let abs = Kurus::from_minor(minor.abs()).unwrap_or(Kurus::ZERO);
    if minor < 0 {
        format!("-{}", lang.amount(abs))
    } else {
        lang.amount(abs)
    }
}

/// The texts of an item's row (amount columns included, formatted).
fn texts(lang: Lang, item: &ReconItemView) -> Vec<String> {
    vec![
        class_label(lang, &item.class),
        neutralize(&item.reason),
        neutralize(item.match_key.as_deref().unwrap_or_default()),
        item.payment_ids.join(" "),
        neutralize(&provider_refs(&item.provider_rows)),
        lang.amount(item.ours),
        lang.amount(item.theirs),
        signed(lang, difference(item)),
        lang.amount(item.ours_reversed),
        lang.amount(item.theirs_reversed),
        item.resolution
            .as_deref()
            .map(|r| resolution_label(lang, r))
            .unwrap_or_default(),
        neutralize(item.resolution_reason.as_deref().unwrap_or_default()),
        item.resolved_by.clone().unwrap_or_default(),
        item.resolved_at
            .map(|t| lang.datetime(t))
            .unwrap_or_default(),
    ]
}

fn xlsx(items: &[ReconItemView], lang: Lang) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(match lang {
        Lang::Tr => "Mutabakat",
        Lang::En => "Reconciliation",
    })?;
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format(EXCEL_AMOUNT_FORMAT);
    let time = Format::new().set_num_format(excel_time_format(lang));
    for (col, header) in recon_export_headers(lang).iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, *header, &bold)?;
        sheet.set_column_width(col as u16, 16)?;
    }
    for (i, item) in items.iter().enumerate() {
        let row = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let cells = texts(lang, item);
        for col in [0u16, 1, 2, 3, 4, 10, 11, 12] {
            let text = &cells[usize::from(col)];
            if !text.is_empty() {
                sheet.write_string(row, col, text)?;
            }
        }
        for (col, minor) in [
            (5u16, item.ours.minor()),
            (6, item.theirs.minor()),
            (7, difference(item)),
            (8, item.ours_reversed.minor()),
            (9, item.theirs_reversed.minor()),
        ] {
            sheet.write_number_with_format(row, col, excel_amount(minor), &money)?;
        }
        if let Some(at) = item.resolved_at {
            sheet.write_datetime_with_format(row, 13, excel_time(at)?, &time)?;
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    workbook.save_to_buffer()
}

impl PaymentService {
    /// A run of the company as a CSV or XLSX file in `lang`: one row per item,
    /// exceptions (open ones first) before matched items, each group in run order.
    pub async fn export_reconciliation(
        &self,
        company_id: &str,
        run_id: &str,
        format: ExportFormat,
        lang: Lang,
    ) -> Result<Vec<u8>, ServiceError> {
        let run = self.get_reconciliation(company_id, run_id, None).await?;
        let mut items = run.items;
        // Stable: open exceptions, decided exceptions, matched.
        items.sort_by_key(|i| match (i.class.as_str(), i.resolution.is_some()) {
            ("matched", _) => 2,
            (_, false) => 0,
            (_, true) => 1,
        });
        match format {
            ExportFormat::Csv => {
                let rows: Vec<Vec<String>> = items.iter().map(|i| texts(lang, i)).collect();
                Ok(write_csv(lang, &recon_export_headers(lang), &rows))
            }
            ExportFormat::Xlsx => {
                xlsx(&items, lang).map_err(|e| ServiceError::Storage(format!("xlsx: {e}")))
            }
        }
    }
}
