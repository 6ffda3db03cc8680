//! The day's statement as a Turkish bank writes it: CSV with `;` separators, a Turkish
//! header row, Turkish numbers (`1.234,56`), `dd.MM.yyyy HH:mm:ss` dates and CRLF line
//! ends, in UTF-8 or Windows-1254 (what Excel in Türkiye opens by default).

use crate::clock;
use crate::state::{Transaction, TxKind, TxStatus};

/// The header row.
pub const HEADER: &[&str] = &[
    "İşlem Tarihi",
    "Valör Tarihi",
    "İşlem Tipi",
    "Durum",
    "Referans No",
    "Sipariş No",
    "Provizyon No",
    "Kart No",
    "Kart Sahibi",
    "Taksit",
    "Tutar",
    "Provizyon Tutarı",
    "Komisyon",
    "Net Tutar",
    "Para Birimi",
];

/// The text encoding of a statement file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatementEncoding {
    /// UTF-8.
    #[default]
    Utf8,
    /// Windows-1254 (Turkish), e.g. `İ` is byte 0xDD.
    Windows1254,
}

impl StatementEncoding {
    /// From a query value: `utf-8`/`utf8` or `windows-1254`/`cp1254`.
    pub fn parse(text: &str) -> Option<StatementEncoding> {
        match text.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(StatementEncoding::Utf8),
            "windows-1254" | "cp1254" | "win1254" => Some(StatementEncoding::Windows1254),
            _ => None,
        }
    }

    /// The `charset` of the `Content-Type`.
    pub fn charset(self) -> &'static str {
        match self {
            StatementEncoding::Utf8 => "utf-8",
            StatementEncoding::Windows1254 => "windows-1254",
        }
    }
}

/// Quotes a field when it holds the separator, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([';', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn kind_text(tx: &Transaction, sale_amount: Option<sanalpos_core::Kurus>) -> &'static str {
    match tx.kind {
        TxKind::Sales | TxKind::PreSalesCapture => "Satış",
        TxKind::PreSales => "Ön Provizyon",
        TxKind::PreSalesRelease => "Ön Provizyon İptal",
        TxKind::Cancel => "İptal",
        TxKind::RefundP => "Kısmi İade",
        TxKind::Refund => match sale_amount {
            Some(full) if tx.amount < full => "Kısmi İade",
            _ => "İade",
        },
    }
}

fn status_text(status: TxStatus) -> &'static str {
    match status {
        TxStatus::Success => "Başarılı",
        TxStatus::Error => "Başarısız",
        TxStatus::New => "Tamamlanmadı",
    }
}

/// The statement of `rows` (one business day of one merchant, in time order).
/// `sale_amount` gives, for a refund row, its sale's amount, so a `REFUND` of less than
/// the sale reads `Kısmi İade`; pass `|_| None` when unknown. Rows that move no money
/// (a pre-authorisation's block, its release) are left out; its capture is a `Satış`.
pub fn statement_csv<F>(rows: &[&Transaction], sale_amount: F) -> String
where
    F: Fn(&str) -> Option<sanalpos_core::Kurus>,
{
    let mut out = HEADER.join(";");
    out.push_str("\r\n");
    // A pre-authorisation's block and its release move no money: no statement line.
    for tx in rows.iter().filter(|t| t.kind.moves_money()) {
        let sale = tx.sale_reference_code.as_deref().and_then(&sale_amount);
        let net = tx
            .authorization_amount
            .checked_sub(tx.commission)
            .unwrap_or_default();
        let fields = [
            clock::fmt_trx(&tx.created_at),
            tx.valor_date.format("%d.%m.%Y").to_string(),
            kind_text(tx, sale).to_owned(),
            status_text(tx.status).to_owned(),
            tx.reference_code.clone(),
            tx.client_ref.clone(),
            tx.auth_code.clone(),
            tx.masked_pan.as_str().to_owned(),
            tx.card_holder.clone(),
            tx.installments.to_string(),
            tx.amount.format_tr(),
            tx.authorization_amount.format_tr(),
            tx.commission.format_tr(),
            net.format_tr(),
            tx.currency.alpha().to_owned(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(";"));
        out.push_str("\r\n");
    }
    out
}

/// The statement text as bytes in `encoding`. Characters Windows-1254 lacks become
/// numeric character references, as `encoding_rs` does for HTML forms.
pub fn encode_statement(csv: &str, encoding: StatementEncoding) -> Vec<u8> {
    match encoding {
        StatementEncoding::Utf8 => csv.as_bytes().to_vec(),
        StatementEncoding::Windows1254 => {
            let (bytes, _, _) = encoding_rs::WINDOWS_1254.encode(csv);
            bytes.into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_encoding() {
        assert_eq!(csv_field("a;b"), "\"a;b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
        let bytes = encode_statement("İşlem", StatementEncoding::Windows1254);
        assert_eq!(bytes[0], 0xDD);
        assert_eq!(bytes.len(), 5);
        assert_eq!(
            StatementEncoding::parse("Windows-1254"),
            Some(StatementEncoding::Windows1254)
        );
    }

    #[test]
    fn header_only_for_an_empty_day() {
        let csv = statement_csv(&[], |_| None);
        assert!(csv.starts_with("İşlem Tarihi;Valör Tarihi;İşlem Tipi;"));
        assert!(csv.ends_with("Para Birimi\r\n"));
    }
}
