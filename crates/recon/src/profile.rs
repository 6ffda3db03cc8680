//! How one statement layout maps onto [`crate::ProviderRow`]: which header is which
//! field, how dates and numbers are written, and what the type and status texts mean.
//! Serializable, so a mapping a person made once is saved per POS and reused.

use serde::{Deserialize, Serialize};

use crate::row::{RowKind, RowState};

/// A field of [`crate::ProviderRow`] a statement column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = StatementField)]
pub enum Field {
    /// The provider's reference of the row.
    ProviderRef,
    /// The sale's reference, on cancel and refund rows.
    SaleRef,
    /// The authorization (provision) code.
    AuthCode,
    /// Our reference (order number / `clientRefCode`).
    ClientRef,
    /// Sale, cancel, refund, partial refund: mapped through [`Profile::kinds`].
    Kind,
    /// Success, error, new: mapped through [`Profile::statuses`].
    Status,
    /// The transaction amount. Required.
    Amount,
    /// What the cardholder was charged.
    AuthorizedAmount,
    /// Installment count.
    Installments,
    /// The masked card number.
    MaskedPan,
    /// Transaction date and time (or only the date).
    Time,
    /// The value date (valör).
    ValueDate,
    /// The provider's commission.
    Commission,
    /// The currency, alpha (`TRY`, `TL`) or numeric (`949`).
    Currency,
}

/// One column of the mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = StatementColumn)]
pub struct Column {
    /// The header text, compared without surrounding spaces and without regard to case.
    pub header: String,
    /// The field it fills.
    pub field: Field,
}

/// How amounts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NumberStyle {
    /// `1.234,56` (Turkish, what Excel in Türkiye writes).
    #[default]
    Turkish,
    /// `1234.56`.
    Dot,
}

/// A statement layout. Columns not in the mapping are ignored; a mapped column missing
/// from the file's header stops the import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = StatementProfileBody)]
pub struct Profile {
    /// A name a person recognizes (`N Kolay simulator`, `Bank X daily`), unique per POS.
    #[schema(min_length = 1)]
    pub name: String,
    /// Header to field.
    #[schema(min_items = 1)]
    pub columns: Vec<Column>,
    /// How amounts are written: `turkish` (`1.234,56`) or `dot` (`1234.56`).
    pub numbers: NumberStyle,
    /// `chrono` formats tried in order for date-time columns; a date-only format is
    /// accepted too and means midnight.
    pub time_formats: Vec<String>,
    /// `chrono` formats tried in order for the value date.
    pub date_formats: Vec<String>,
    /// Type text to kind, compared without regard to case: `[text, kind]` pairs, the kind
    /// `sale`, `cancel`, `refund` or `partial_refund`.
    #[schema(value_type = Vec<Vec<String>>)]
    pub kinds: Vec<(String, RowKind)>,
    /// Status text to status, compared without regard to case. When the profile maps
    /// no status column, every row counts as a success (a statement of settled money).
    /// `[text, status]` pairs, the status `success`, `error` or `new`.
    #[schema(value_type = Vec<Vec<String>>)]
    pub statuses: Vec<(String, RowState)>,
}

/// `dd.MM.yyyy HH:mm:ss`, the Turkish statement and report format.
pub const TR_DATE_TIME: &str = "%d.%m.%Y %H:%M:%S";
/// `dd.MM.yyyy`.
pub const TR_DATE: &str = "%d.%m.%Y";

impl Profile {
    /// The built-in profile of the simulator's statement (see the simulator's
    /// `statement.rs`): `;`-separated, Turkish headers, numbers and dates.
    pub fn simulator() -> Profile {
        let columns = [
            ("İşlem Tarihi", Field::Time),
            ("Valör Tarihi", Field::ValueDate),
            ("İşlem Tipi", Field::Kind),
            ("Durum", Field::Status),
            ("Referans No", Field::ProviderRef),
            ("Sipariş No", Field::ClientRef),
            ("Provizyon No", Field::AuthCode),
            ("Kart No", Field::MaskedPan),
            ("Taksit", Field::Installments),
            ("Tutar", Field::Amount),
            ("Provizyon Tutarı", Field::AuthorizedAmount),
            ("Komisyon", Field::Commission),
            ("Para Birimi", Field::Currency),
        ];
        Profile {
            name: "N Kolay simulator".to_owned(),
            columns: columns
                .into_iter()
                .map(|(header, field)| Column {
                    header: header.to_owned(),
                    field,
                })
                .collect(),
            numbers: NumberStyle::Turkish,
            time_formats: vec![TR_DATE_TIME.to_owned(), TR_DATE.to_owned()],
            date_formats: vec![TR_DATE.to_owned(), "%Y%m%d".to_owned()],
            kinds: vec![
                ("Satış".to_owned(), RowKind::Sale),
                ("İptal".to_owned(), RowKind::Cancel),
                ("İade".to_owned(), RowKind::Refund),
                ("Kısmi İade".to_owned(), RowKind::PartialRefund),
                ("SALES".to_owned(), RowKind::Sale),
                ("CANCEL".to_owned(), RowKind::Cancel),
                ("REFUND".to_owned(), RowKind::Refund),
                ("REFUNDP".to_owned(), RowKind::PartialRefund),
            ],
            statuses: vec![
                ("Başarılı".to_owned(), RowState::Success),
                ("Başarısız".to_owned(), RowState::Error),
                ("Tamamlanmadı".to_owned(), RowState::New),
                ("SUCCESS".to_owned(), RowState::Success),
                ("ERROR".to_owned(), RowState::Error),
                ("NEW".to_owned(), RowState::New),
            ],
        }
    }
}

impl Profile {
    /// Whether a person's mapping can read a statement: a name, at least the amount
    /// column, headers that are neither empty nor repeated, each field mapped once,
    /// formats `chrono` understands, and non-empty type and status texts. The first
    /// problem, in English, otherwise.
    pub fn check(&self) -> Result<(), String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err("name: 1 to 100 characters".to_owned());
        }
        if self.columns.len() > 64 {
            return Err("columns: at most 64".to_owned());
        }
        if !self.columns.iter().any(|c| c.field == Field::Amount) {
            return Err("columns: the amount column must be mapped".to_owned());
        }
        let mut headers = std::collections::HashSet::new();
        let mut fields = std::collections::HashSet::new();
        for column in &self.columns {
            let header = column.header.trim();
            if header.is_empty() || header.chars().count() > 100 {
                return Err("columns: every header 1 to 100 characters".to_owned());
            }
            if !headers.insert(fold(header)) {
                return Err(format!("columns: header {header:?} is mapped twice"));
            }
            if !fields.insert(column.field) {
                return Err(format!("columns: field {:?} is mapped twice", column.field));
            }
        }
        for (what, formats) in [
            ("time_formats", &self.time_formats),
            ("date_formats", &self.date_formats),
        ] {
            if formats.len() > 16 {
                return Err(format!("{what}: at most 16"));
            }
            for format in formats {
                let bad = format.trim().is_empty()
                    || format.len() > 64
                    || chrono::format::StrftimeItems::new(format)
                        .any(|item| matches!(item, chrono::format::Item::Error));
                if bad {
                    return Err(format!("{what}: {format:?} is not a date format"));
                }
            }
        }
        if fields.contains(&Field::Time) && self.time_formats.is_empty() {
            return Err("time_formats: needed for the time column".to_owned());
        }
        if fields.contains(&Field::ValueDate) && self.date_formats.is_empty() {
            return Err("date_formats: needed for the value date column".to_owned());
        }
        if fields.contains(&Field::Kind) && self.kinds.is_empty() {
            return Err("kinds: needed for the transaction type column".to_owned());
        }
        if fields.contains(&Field::Status) && self.statuses.is_empty() {
            return Err("statuses: needed for the status column".to_owned());
        }
        let texts = self
            .kinds
            .iter()
            .map(|(t, _)| t)
            .chain(self.statuses.iter().map(|(t, _)| t));
        for text in texts {
            if text.trim().is_empty() || text.chars().count() > 100 {
                return Err("kinds and statuses: every text 1 to 100 characters".to_owned());
            }
        }
        Ok(())
    }
}

/// Folds case the same way for headers, types and statuses, Turkish dotted capitals
/// included (`İ` and `i` compare equal), so `İPTAL`, `İptal` and `iptal` are one text.
pub(crate) fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        match c {
            'İ' | 'I' | 'ı' => out.push('i'),
            other => out.extend(other.to_lowercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_simulator_profile_passes_its_own_check_and_broken_ones_do_not() {
        assert_eq!(Profile::simulator().check(), Ok(()));
        let mut p = Profile::simulator();
        p.columns.retain(|c| c.field != Field::Amount);
        assert!(p.check().unwrap_err().contains("amount"));
        let mut p = Profile::simulator();
        p.columns[1].header = " işlem tarihi ".into();
        assert!(p.check().unwrap_err().contains("twice"));
        let mut p = Profile::simulator();
        p.time_formats = vec!["%d.%m.%Y %Q".into()];
        assert!(p.check().unwrap_err().contains("time_formats"));
        let mut p = Profile::simulator();
        p.name = "  ".into();
        assert!(p.check().is_err());
    }

    #[test]
    fn folding_handles_turkish_capitals() {
        assert_eq!(fold(" İPTAL "), fold("iptal"));
        assert_eq!(fold("KISMİ İADE"), fold("Kısmi İade"));
        assert_eq!(fold("Referans No"), "referans no");
    }
}
