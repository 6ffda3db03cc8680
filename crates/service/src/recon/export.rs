//! A run's items as a file, CSV or XLSX, in the reader's language: the same conventions
//! as the payment export (`crate::export`): Turkish `;`-separated CSV with `1.234,56`
//! amounts, English `,`-separated with `1,234.56`, a UTF-8 byte order mark; in XLSX,
//! amounts are numbers and times are Excel date-times (Istanbul wall-clock time).
//!
//! Cards appear only as the masked PAN the provider's row carries.

use chrono::{Datelike, NaiveDateTime, Timelike};
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use sanalpos_core::{Kurus, Lang};
use sanalpos_recon::{Class, ProviderRow};

use sanalpos_store::ItemFilter;

use super::{item_view, ReconItemView};
use crate::error::ServiceError;
use crate::export::{
    excel_amount, excel_time, excel_time_format, neutralize, CsvWriter, ExportFormat,
    EXCEL_AMOUNT_FORMAT,
};
use crate::PaymentService;

/// The column headers of a reconciliation export, in order.
pub fn recon_export_headers(lang: Lang) -> [&'static str; 16] {
    match lang {
        Lang::Tr => [
            "Sınıf",
            "Neden",
            "Bizdeki ödeme",
            "İşlem referansı",
            "Provizyon no",
            "Kart",
            "İşlem tarihi",
            "Bizdeki tutar",
            "Sağlayıcıdaki tutar",
            "Fark",
            "Bizdeki iptal/iade",
            "Sağlayıcıdaki iptal/iade",
            "Karar",
            "Karar nedeni",
            "Karar veren",
            "Karar zamanı",
        ],
        Lang::En => [
            "Class",
            "Reason",
            "Our payment",
            "Provider reference",
            "Auth code",
            "Card",
            "Transaction time",
            "Our amount",
            "Provider amount",
            "Difference",
            "Our cancels/refunds",
            "Provider cancels/refunds",
            "Decision",
            "Decision reason",
            "Decided by",
            "Decided at",
        ],
    }
}

/// A class's name in a language.
pub fn recon_class_label(lang: Lang, class: &str) -> &str {
    match (lang, class) {
        (Lang::Tr, "matched") => "Eşleşti",
        (Lang::Tr, "amount_mismatch") => "Tutar farkı",
        (Lang::Tr, "status_mismatch") => "Durum farkı",
        (Lang::Tr, "provider_only") => "Yalnız sağlayıcıda",
        (Lang::Tr, "system_only") => "Yalnız bizde",
        (Lang::Tr, "duplicate") => "Mükerrer",
        (Lang::En, "matched") => "Matched",
        (Lang::En, "amount_mismatch") => "Amount mismatch",
        (Lang::En, "status_mismatch") => "Status mismatch",
        (Lang::En, "provider_only") => "Provider only",
        (Lang::En, "system_only") => "System only",
        (Lang::En, "duplicate") => "Duplicate",
        (_, other) => other,
    }
}

/// Why an item is in its class, in a language (the engine's name when unknown).
pub fn recon_reason_label(lang: Lang, reason: &str) -> &str {
    let (tr, en) = match reason {
        "agreed" => ("İki taraf uyuşuyor", "Both sides agree"),
        "nothing_moved" => (
            "İki tarafta da para hareketi yok",
            "No money moved on either side",
        ),
        "reversals_agree" => (
            "Dönem dışı satışın iptal/iadeleri uyuşuyor",
            "The cancels/refunds of a sale outside the period agree",
        ),
        "amount_differs" => ("Tutarlar farklı", "The amounts differ"),
        "authorized_amount_differs" => (
            "Vade farklı tutarlar farklı",
            "The charged amounts (with surcharge) differ",
        ),
        "charged_there_only" => (
            "Sağlayıcıda çekilmiş, bizde çekilmemiş",
            "Charged at the provider, not here",
        ),
        "charged_here_only" => (
            "Bizde çekilmiş, sağlayıcıda reddedilmiş ya da tamamlanmamış",
            "Charged here, refused or unfinished at the provider",
        ),
        "uncertain_here" => (
            "Bizde belirsiz; sonucu sağlayıcı biliyor",
            "Uncertain here; the provider has the answer",
        ),
        "cancel_differs" => (
            "Yalnız bir tarafta iptal edilmiş",
            "Cancelled on one side only",
        ),
        "refund_differs" => ("İade toplamları farklı", "The refunded totals differ"),
        "missing_here" => ("Sağlayıcıda var, bizde yok", "At the provider, not here"),
        "reversal_without_sale" => (
            "Satışı bulunamayan iptal/iade",
            "A cancel or refund without its sale",
        ),
        "missing_there" => ("Bizde var, sağlayıcıda yok", "Here, not at the provider"),
        "duplicate_rows" => (
            "Aynı referansla birden çok sağlayıcı satışı",
            "Several provider sales with one reference",
        ),
        "duplicate_payments" => (
            "Aynı sağlayıcı referansıyla birden çok ödememiz",
            "Several of our payments with one provider reference",
        ),
        "duplicate_reversals" => (
            "Aynı iptal/iade iki kez bildirilmiş",
            "The same cancel or refund reported twice",
        ),
        other => (other, other),
    };
    match lang {
        Lang::Tr => tr,
        Lang::En => en,
    }
}

fn resolution_label(lang: Lang, resolution: &str) -> &str {
    match (lang, resolution) {
        (Lang::Tr, "entered") => "Girildi",
        (Lang::Tr, "force_matched") => "Zorla eşleştirildi",
        (Lang::Tr, "dismissed") => "Yoksayıldı",
        (Lang::En, "entered") => "Entered",
        (Lang::En, "force_matched") => "Force-matched",
        (Lang::En, "dismissed") => "Dismissed",
        (_, other) => other,
    }
}

/// The texts of the provider's rows of an item (references, auth codes, cards joined
/// with a space) and the first row's time.
struct RowTexts {
    refs: String,
    auth_codes: String,
    cards: String,
    time: Option<NaiveDateTime>,
}

fn row_texts(rows: &[ProviderRow]) -> RowTexts {
    fn join<'a>(texts: impl Iterator<Item = &'a str>) -> String {
        let mut seen: Vec<&str> = Vec::new();
        for text in texts {
            if !seen.contains(&text) {
                seen.push(text);
            }
        }
        seen.join(" ")
    }
    RowTexts {
        refs: join(
            rows.iter()
                .filter_map(|r| r.provider_ref.as_ref().map(|r| r.as_str())),
        ),
        auth_codes: join(
            rows.iter()
                .filter_map(|r| r.auth_code.as_ref().map(|a| a.as_str())),
        ),
        cards: join(
            rows.iter()
                .filter_map(|r| r.masked_pan.as_ref().map(|m| m.as_str())),
        ),
        time: rows.iter().find_map(|r| r.time),
    }
}

/// `theirs - ours` in kuruş (both are at most `i64::MAX`, so `i128` holds it).
fn difference(item: &ReconItemView) -> i128 {
    i128::from(item.theirs.minor()) - i128::from(item.ours.minor())
}

fn signed_amount(lang: Lang, minor: i128) -> String {
    let abs = i64::try_from(minor.unsigned_abs()).unwrap_or(i64::MAX);
    let text = Kurus::from_minor(abs)
        .map(|k| lang.amount(k))
        .unwrap_or_default();
    if minor < 0 {
        format!("-{text}")
    } else {
        text
    }
}

fn local_time(lang: Lang, t: NaiveDateTime) -> String {
    match lang {
        Lang::Tr => t.format("%d.%m.%Y %H:%M").to_string(),
        Lang::En => t.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// One item's line of the CSV export.
fn csv_row(item: &ReconItemView, lang: Lang) -> [String; 16] {
    let rows = row_texts(&item.provider_rows);
    [
        recon_class_label(lang, item.class.as_str()).to_owned(),
        recon_reason_label(lang, &item.reason).to_owned(),
        item.payment_ids.join(" "),
        neutralize(&rows.refs),
        neutralize(&rows.auth_codes),
        rows.cards,
        rows.time.map(|t| local_time(lang, t)).unwrap_or_default(),
        lang.amount(item.ours),
        lang.amount(item.theirs),
        signed_amount(lang, difference(item)),
        lang.amount(item.ours_reversed),
        lang.amount(item.theirs_reversed),
        item.resolution
            .as_deref()
            .map(|r| resolution_label(lang, r).to_owned())
            .unwrap_or_default(),
        neutralize(item.resolution_reason.as_deref().unwrap_or_default()),
        item.resolved_by.clone().unwrap_or_default(),
        item.resolved_at
            .map(|t| lang.datetime(t))
            .unwrap_or_default(),
    ]
}

fn excel_local(t: NaiveDateTime) -> Result<ExcelDateTime, XlsxError> {
    let seconds = f64::from(t.second());
    ExcelDateTime::from_ymd(
        u16::try_from(t.year()).unwrap_or(1900),
        t.month() as u8,
        t.day() as u8,
    )?
    .and_hms(t.hour() as u16, t.minute() as u8, seconds)
}

/// The XLSX export, an item at a time.
struct RunSheet {
    sheet: Worksheet,
    lang: Lang,
    money: Format,
    time: Format,
    /// Items written so far (the header is row 0).
    items: u32,
}

impl RunSheet {
    fn new(lang: Lang) -> Result<Self, XlsxError> {
        let mut sheet = Worksheet::new();
        sheet.set_name(match lang {
            Lang::Tr => "Mutabakat",
            Lang::En => "Reconciliation",
        })?;
        let bold = Format::new().set_bold();
        for (col, header) in recon_export_headers(lang).iter().enumerate() {
            sheet.write_string_with_format(0, col as u16, *header, &bold)?;
        }
        Ok(Self {
            sheet,
            lang,
            money: Format::new().set_num_format(EXCEL_AMOUNT_FORMAT),
            time: Format::new().set_num_format(excel_time_format(lang)),
            items: 0,
        })
    }

    fn push(&mut self, item: &ReconItemView) -> Result<(), XlsxError> {
        let (lang, sheet) = (self.lang, &mut self.sheet);
        self.items = self.items.saturating_add(1);
        let row = self.items;
        let rows = row_texts(&item.provider_rows);
        let texts = [
            (
                0u16,
                recon_class_label(lang, item.class.as_str()).to_owned(),
            ),
            (1, recon_reason_label(lang, &item.reason).to_owned()),
            (2, item.payment_ids.join(" ")),
            (3, neutralize(&rows.refs)),
            (4, neutralize(&rows.auth_codes)),
            (5, rows.cards.clone()),
            (
                12,
                item.resolution
                    .as_deref()
                    .map(|r| resolution_label(lang, r).to_owned())
                    .unwrap_or_default(),
            ),
            (
                13,
                neutralize(item.resolution_reason.as_deref().unwrap_or_default()),
            ),
            (14, item.resolved_by.clone().unwrap_or_default()),
        ];
        for (col, text) in texts {
            if !text.is_empty() {
                sheet.write_string(row, col, text)?;
            }
        }
        if let Some(t) = rows.time {
            sheet.write_datetime_with_format(row, 6, excel_local(t)?, &self.time)?;
        }
        for (col, amount) in [
            (7u16, item.ours),
            (8, item.theirs),
            (10, item.ours_reversed),
            (11, item.theirs_reversed),
        ] {
            sheet.write_number_with_format(row, col, excel_amount(amount.minor()), &self.money)?;
        }
        // A difference is below 2^63 kuruş in size: the double holds it as the amounts.
        let diff = difference(item);
        let diff_minor = i64::try_from(diff).unwrap_or(if diff < 0 { i64::MIN } else { i64::MAX });
        sheet.write_number_with_format(row, 9, excel_amount(diff_minor), &self.money)?;
        if let Some(at) = item.resolved_at {
            sheet.write_datetime_with_format(row, 15, excel_time(at)?, &self.time)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<u8>, XlsxError> {
        let sheet = &mut self.sheet;
        for (col, width) in [
            (0u16, 18.0),
            (1, 22.0),
            (2, 28.0),
            (3, 26.0),
            (4, 12.0),
            (5, 19.0),
            (6, 17.0),
            (7, 14.0),
            (8, 14.0),
            (9, 14.0),
            (10, 14.0),
            (11, 14.0),
            (12, 18.0),
            (13, 28.0),
            (14, 18.0),
            (15, 17.0),
        ] {
            sheet.set_column_width(col, width)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        sheet.autofilter(0, 0, self.items, 15)?;
        let mut workbook = Workbook::new();
        workbook.push_worksheet(self.sheet);
        workbook.save_to_buffer()
    }
}

/// A run's export being written, an item at a time.
enum RunFile {
    Csv(CsvWriter, Lang),
    Xlsx(Box<RunSheet>),
}

impl RunFile {
    fn push(&mut self, item: &ReconItemView) -> Result<(), XlsxError> {
        match self {
            RunFile::Csv(csv, lang) => {
                csv.line(csv_row(item, *lang).iter().map(String::as_str));
                Ok(())
            }
            RunFile::Xlsx(sheet) => sheet.push(item),
        }
    }

    fn finish(self) -> Result<Vec<u8>, XlsxError> {
        match self {
            RunFile::Csv(csv, _) => Ok(csv.finish()),
            RunFile::Xlsx(sheet) => sheet.finish(),
        }
    }
}

/// Items read from the database at a time while exporting a run.
const EXPORT_PAGE: u32 = 2_000;

impl PaymentService {
    /// A run's items (all, or one class) as a CSV or XLSX file in `lang`, one line per
    /// item with both sides' amounts, the difference and the decision taken.
    pub async fn export_reconciliation(
        &self,
        company_id: &str,
        run_id: &str,
        class: Option<&str>,
        format: ExportFormat,
        lang: Lang,
    ) -> Result<Vec<u8>, ServiceError> {
        let filter = match class {
            None => ItemFilter::All,
            Some(c) => match Class::parse(c) {
                Some(c) => ItemFilter::Class(c.as_str()),
                None => return Err(ServiceError::validation("class", "unknown class")),
            },
        };
        let store = &self.inner.store;
        // The run must be the company's (another's is a 404) before its items are read.
        store.get_recon_run(company_id, run_id).await?;
        let xlsx_error = |e: XlsxError| ServiceError::Storage(format!("xlsx: {e}"));
        let mut file = match format {
            ExportFormat::Csv => {
                RunFile::Csv(CsvWriter::new(lang, &recon_export_headers(lang)), lang)
            }
            ExportFormat::Xlsx => RunFile::Xlsx(Box::new(RunSheet::new(lang).map_err(xlsx_error)?)),
        };
        // A page at a time: a run of 200,000 items is never held whole, only its file.
        let mut after = None;
        loop {
            let page = store
                .recon_items_page(company_id, run_id, filter, after, EXPORT_PAGE)
                .await?;
            after = page.last().map(|item| item.seq);
            let last = page.len() < EXPORT_PAGE as usize;
            for record in page {
                file.push(&item_view(record)?).map_err(xlsx_error)?;
            }
            if last {
                break;
            }
        }
        file.finish().map_err(xlsx_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_keep_their_sign_in_each_language() {
        assert_eq!(signed_amount(Lang::Tr, -123_456), "-1.234,56");
        assert_eq!(signed_amount(Lang::En, 123_456), "1,234.56");
        assert_eq!(signed_amount(Lang::Tr, 0), "0,00");
    }

    #[test]
    fn reasons_in_each_language() {
        assert_eq!(
            recon_reason_label(Lang::Tr, "missing_here"),
            "Sağlayıcıda var, bizde yok"
        );
        assert_eq!(
            recon_reason_label(Lang::En, "missing_there"),
            "Here, not at the provider"
        );
        assert_eq!(recon_reason_label(Lang::Tr, "new_reason"), "new_reason");
    }

    #[test]
    fn provider_rows_are_summarized() {
        let rows: Vec<ProviderRow> = serde_json::from_value(serde_json::json!([
            {"provider_ref": "R1", "auth_code": "A1", "masked_pan": "520019******8608", "time": "2026-11-29T23:59:10",
             "kind": "sale", "status": "success", "amount": "1.00"},
            {"provider_ref": "R2", "auth_code": "A1", "masked_pan": "520019******8608", "time": null,
             "kind": "refund", "status": "success", "amount": "1.00"}
        ]))
        .unwrap();
        let texts = row_texts(&rows);
        assert_eq!(texts.refs, "R1 R2");
        assert_eq!(texts.auth_codes, "A1");
        assert_eq!(texts.cards, "520019******8608");
        assert_eq!(
            texts.time.map(|t| local_time(Lang::Tr, t)).as_deref(),
            Some("29.11.2026 23:59")
        );
    }
}
