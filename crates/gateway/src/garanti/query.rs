//! The three inquiries, `orderinq`, `orderhistoryinq` and `orderlistinq`, read into
//! typed values, and what they say about a payment attempt.
//!
//! All three change nothing and may be repeated; their amounts are in kuruş. `orderinq`
//! says whether the order's sale went through (`Status` `APPROVED`, `WAITINGPOSTAUTH`);
//! its cancels and refunds are read from `orderhistoryinq`; `orderlistinq` is the
//! reconciliation list of a date range.

use chrono::{NaiveDate, NaiveDateTime};

use sanalpos_core::{
    AuthCode, BankCode, Currency, Kurus, MaskedPan, ProviderRef, ReportRow, RowStatus,
    TransactionKind,
};

use super::answer::{provider_text, refusal_class};
use super::codes::{self, ErrorClass};
use super::xml::{Element, GvpsResponse};
use crate::types::{Approval, Decline, DeclineKind, Inquiry, Outcome, UnknownReason};
use crate::GatewayError;

/// What `orderinq` says of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderStatus {
    /// The bank has no record of the order (`92` / `0110`).
    NotFound,
    /// The order's state.
    Found(Box<OrderInq>),
}

/// `Order/OrderInqResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderInq {
    /// `Status`: `APPROVED`, `WAITINGPOSTAUTH`, …
    pub status: String,
    /// `Code`: the sale's answer code (`00` approved).
    pub code: Option<String>,
    /// `AuthAmount`, kuruş.
    pub auth_amount: Option<Kurus>,
    /// `PreAuthAmount`, kuruş.
    pub pre_auth_amount: Option<Kurus>,
    /// `RetrefNum`.
    pub retref: Option<ProviderRef>,
    /// `AuthCode`.
    pub auth_code: Option<AuthCode>,
    /// `InstallmentCnt` (0 = single).
    pub installments: Option<u8>,
    /// `CardNumberMasked`.
    pub masked_pan: Option<MaskedPan>,
}

/// One `OrderTxn` of `orderhistoryinq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryTxn {
    /// `Type`: `sales`, `preauth`, `postauth`, `void`, `refund`.
    pub kind: String,
    /// `Status`: `00` when it went through.
    pub status: String,
    /// `AuthAmount`, kuruş.
    pub auth_amount: Option<Kurus>,
    /// `PreAuthAmount`, kuruş.
    pub pre_auth_amount: Option<Kurus>,
    /// `RetrefNum`.
    pub retref: Option<ProviderRef>,
    /// `AuthCode`.
    pub auth_code: Option<AuthCode>,
    /// `AuthDate` (`yyyyMMdd`).
    pub auth_date: Option<NaiveDate>,
    /// `Settlement`: whether its day is closed.
    pub settled: bool,
}

impl HistoryTxn {
    fn ok(&self) -> bool {
        self.status == "00"
    }
}

fn text(e: &Element, path: &str) -> Option<String> {
    e.non_empty(path).map(str::to_owned)
}

/// A kuruş amount (`101`); anything but digits is `None`.
pub fn parse_kurus(value: &str) -> Option<Kurus> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<i64>().ok().and_then(Kurus::from_minor)
}

fn kurus(e: &Element, path: &str) -> Option<Kurus> {
    e.get(path).and_then(parse_kurus)
}

fn masked(e: &Element, path: &str) -> Option<MaskedPan> {
    e.non_empty(path).and_then(MaskedPan::parse)
}

/// A refusal of a query: credentials and IP are errors of their own.
fn query_refusal(answer: &GvpsResponse) -> GatewayError {
    let detail = provider_text(answer);
    match refusal_class(answer) {
        ErrorClass::Credentials => GatewayError::BadCredentials(detail),
        ErrorClass::IpNotAllowed => GatewayError::IpNotAllowed(detail),
        _ => GatewayError::Rejected(detail),
    }
}

fn approved(answer: &GvpsResponse) -> bool {
    answer.non_empty("Transaction/Response/Code") == Some("00")
}

fn not_found(answer: &GvpsResponse) -> bool {
    answer.non_empty("Transaction/Response/ReasonCode") == Some(codes::NOT_FOUND)
}

/// Reads an `orderinq` answer.
pub fn read_status(answer: &GvpsResponse) -> Result<OrderStatus, GatewayError> {
    if !approved(answer) {
        return if not_found(answer) {
            Ok(OrderStatus::NotFound)
        } else if answer.non_empty("Transaction/Response/Code").is_none() {
            Err(GatewayError::BadAnswer("an answer without a code".into()))
        } else {
            Err(query_refusal(answer))
        };
    }
    let Some(result) = answer.at("Order/OrderInqResult") else {
        return Err(GatewayError::BadAnswer(
            "approved without OrderInqResult".into(),
        ));
    };
    let status = result.non_empty("Status").unwrap_or_default().to_owned();
    if status.is_empty() && result.non_empty("RetrefNum").is_none() {
        return Ok(OrderStatus::NotFound);
    }
    Ok(OrderStatus::Found(Box::new(OrderInq {
        status,
        code: text(result, "Code"),
        auth_amount: kurus(result, "AuthAmount"),
        pre_auth_amount: kurus(result, "PreAuthAmount"),
        retref: result
            .non_empty("RetrefNum")
            .and_then(|r| ProviderRef::parse(r).ok()),
        auth_code: result.get("AuthCode").and_then(AuthCode::parse_approval),
        installments: result
            .non_empty("InstallmentCnt")
            .and_then(|c| c.parse().ok()),
        masked_pan: masked(result, "CardNumberMasked"),
    })))
}

/// Reads an `orderhistoryinq` answer: the order's transactions in the bank's order
/// (none for an unknown order). One `OrderTxn` comes as an object, several as a list:
/// both read the same.
pub fn read_history(answer: &GvpsResponse) -> Result<Vec<HistoryTxn>, GatewayError> {
    if !approved(answer) {
        return if not_found(answer) {
            Ok(Vec::new())
        } else {
            Err(query_refusal(answer))
        };
    }
    let Some(list) = answer.at("Order/OrderHistInqResult/OrderTxnList") else {
        return Ok(Vec::new());
    };
    Ok(list
        .children_named("OrderTxn")
        .map(|t| HistoryTxn {
            kind: t.non_empty("Type").unwrap_or_default().to_owned(),
            status: t.non_empty("Status").unwrap_or_default().to_owned(),
            auth_amount: kurus(t, "AuthAmount"),
            pre_auth_amount: kurus(t, "PreAuthAmount"),
            retref: t
                .non_empty("RetrefNum")
                .and_then(|r| ProviderRef::parse(r).ok()),
            auth_code: t.get("AuthCode").and_then(AuthCode::parse_approval),
            auth_date: t
                .non_empty("AuthDate")
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok()),
            settled: t.non_empty("Settlement") == Some("Y"),
        })
        .collect())
}

/// What the bank's records say about an attempt of `amount`: the sale, the amount
/// reversed since and whether it was voided. `history` may be empty when the status
/// alone decides.
pub fn summarize(status: &OrderInq, history: &[HistoryTxn], amount: Kurus) -> Inquiry {
    let upper = status.status.to_ascii_uppercase();
    let code_ok = status.code.as_deref().is_none_or(|c| c == "00");
    if !code_ok {
        return Inquiry::Declined(declined(status));
    }
    let authorized = match upper.as_str() {
        // A captured pre-authorisation: what was asked is the pre-authorised amount.
        "APPROVED" => status.auth_amount.max(status.pre_auth_amount),
        "WAITINGPOSTAUTH" => status.pre_auth_amount,
        s if s.contains("VOID") || s.contains("CANCEL") || s.contains("REFUND") => {
            status.auth_amount.or(status.pre_auth_amount)
        }
        s if s.contains("DECLIN") || s.contains("FAIL") => {
            return Inquiry::Declined(declined(status))
        }
        _ => return Inquiry::Pending,
    };
    let (Some(provider_ref), Some(auth_code)) = (status.retref.clone(), status.auth_code.clone())
    else {
        return Inquiry::Pending;
    };
    let Some(authorized) = authorized.filter(|a| *a >= amount) else {
        // Reported as charged, but for less than asked or without an amount: a person
        // must look.
        return Inquiry::Pending;
    };
    let cancelled = history.iter().any(|t| t.kind == "void" && t.ok())
        || upper.contains("VOID")
        || upper.contains("CANCEL");
    let reversed = if cancelled {
        authorized
    } else {
        history
            .iter()
            .filter(|t| t.kind == "refund" && t.ok())
            .filter_map(|t| t.auth_amount)
            .fold(Kurus::ZERO, |sum, a| sum.checked_add(a).unwrap_or(sum))
    };
    Inquiry::Approved {
        approval: Approval {
            auth_code: Some(auth_code),
            provider_ref,
            authorized_amount: Some(authorized),
            installments: status.installments.map(|n| n.max(1)),
        },
        reversed,
        cancelled,
        // This client does not read a capture from the bank's answer.
        captured: None,
    }
}

fn declined(status: &OrderInq) -> Decline {
    let bank_code = status
        .code
        .as_deref()
        .filter(|c| *c != "00" && *c != "99")
        .and_then(BankCode::parse);
    Decline {
        kind: DeclineKind::Refused,
        message: bank_code
            .as_ref()
            .map(BankCode::message)
            .unwrap_or_else(codes::generic),
        bank_code,
        provider_text: format!("orderinq Status {}", status.status),
        provider_ref: status.retref.clone(),
    }
}

/// An inquiry's answer as the outcome of a `3D_PAY` payment whose callback could not be
/// verified: approved or declined as the bank records it; anything else stays unknown.
pub fn as_outcome(inquiry: Inquiry) -> Outcome {
    match inquiry {
        Inquiry::Approved {
            approval,
            cancelled: false,
            ..
        } => Outcome::Approved(approval),
        Inquiry::Approved { .. } => Outcome::Unknown(UnknownReason::Inconsistent(
            "the bank reports the order as already voided".into(),
        )),
        Inquiry::Declined(decline) => Outcome::Declined(decline),
        Inquiry::NotFound => Outcome::Unknown(UnknownReason::Inconsistent(
            "the bank has no record of the order".into(),
        )),
        Inquiry::Pending => Outcome::Unknown(UnknownReason::Inconsistent(
            "the bank reports the order as not finished".into(),
        )),
    }
}

/// One page of `orderlistinq`: its rows and where it stands.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// The rows of this page.
    pub rows: Vec<ReportRow>,
    /// `ActPageNum`.
    pub page: u32,
    /// `TotalPageCount`.
    pub pages: u32,
}

/// `LastTrxDate` in the shapes the bank writes dates in.
fn parse_list_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%d.%m.%Y %H:%M:%S",
        "%Y%m%d %H:%M:%S",
        "%d/%m/%Y %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

/// `CurrencyCode` of a list row: `TL`, `USD`, `EUR` or the numeric code.
fn list_currency(text: &str) -> Option<Currency> {
    match text.trim() {
        "TL" | "TRY" | "YTL" => Some(Currency::Try),
        "USD" | "US" => Some(Currency::Usd),
        "EUR" | "EU" => Some(Currency::Eur),
        other => Currency::from_numeric(other),
    }
}

fn list_row(t: &Element) -> ReportRow {
    let kind = match t.non_empty("TrxType").unwrap_or_default() {
        "Satis" | "Satış" | "On Otorizasyon Kapama" | "Ön Otorizasyon Kapama" => {
            TransactionKind::Sale
        }
        "On Otorizasyon" | "Ön Otorizasyon" => TransactionKind::PreAuth,
        "Iade" | "İade" => TransactionKind::Refund,
        "Iptal" | "İptal" => TransactionKind::Cancel,
        other => TransactionKind::Other(other.to_owned()),
    };
    let status = match t.non_empty("Status").unwrap_or_default() {
        "Basarili" | "Başarılı" => RowStatus::Success,
        "" => RowStatus::Other(String::new()),
        "Basarisiz" | "Başarısız" => RowStatus::Error,
        other => RowStatus::Other(other.to_owned()),
    };
    let amount = kurus(t, "AuthAmount");
    ReportRow {
        provider_ref: t
            .non_empty("RetrefNum")
            .and_then(|r| ProviderRef::parse(r).ok()),
        sale_ref: t
            .non_empty("OrigRetrefNum")
            .and_then(|r| ProviderRef::parse(r).ok()),
        auth_code: t.get("AuthCode").and_then(AuthCode::parse_approval),
        client_ref: text(t, "OrderID"),
        kind,
        status,
        amount,
        authorized_amount: amount,
        installments: match t.non_empty("InstallmentCnt") {
            Some("Pesin" | "Peşin") | None => Some(1),
            Some(n) => n.parse::<u8>().ok().map(|n| n.max(1)),
        },
        masked_pan: masked(t, "CardNumberMasked"),
        time: t.get("LastTrxDate").and_then(parse_list_time),
        value_date: None,
        commission: None,
        currency: t.get("CurrencyCode").and_then(list_currency),
        is_3d: Some(t.non_empty("SafeType").is_some_and(|s| s.contains("3D"))),
    }
}

/// Reads an `orderlistinq` answer.
pub fn read_list(answer: &GvpsResponse) -> Result<ListPage, GatewayError> {
    if !approved(answer) {
        return if not_found(answer) {
            Ok(ListPage::default())
        } else {
            Err(query_refusal(answer))
        };
    }
    let Some(list) = answer.at("Order/OrderListInqResult/OrderTxnList") else {
        return Ok(ListPage::default());
    };
    let number = |name: &str| list.non_empty(name).and_then(|n| n.parse::<u32>().ok());
    Ok(ListPage {
        rows: list.children_named("OrderTxn").map(list_row).collect(),
        page: number("ActPageNum").unwrap_or(1),
        pages: number("TotalPageCount").unwrap_or(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inq(status: &str, amount: i64) -> OrderInq {
        OrderInq {
            status: status.into(),
            code: Some("00".into()),
            auth_amount: Kurus::from_minor(amount),
            pre_auth_amount: Kurus::from_minor(0),
            retref: ProviderRef::parse("300708704369").ok(),
            auth_code: AuthCode::parse_approval("304919"),
            installments: Some(0),
            masked_pan: None,
        }
    }

    #[test]
    fn summaries() {
        let asked = Kurus::from_minor(101).unwrap();
        assert!(
            matches!(summarize(&inq("APPROVED", 101), &[], asked), Inquiry::Approved { reversed, cancelled: false, .. } if reversed == Kurus::ZERO)
        );
        assert!(matches!(
            summarize(&inq("APPROVED", 100), &[], asked),
            Inquiry::Pending
        ));
        let refund = HistoryTxn {
            kind: "refund".into(),
            status: "00".into(),
            auth_amount: Kurus::from_minor(40),
            pre_auth_amount: None,
            retref: None,
            auth_code: None,
            auth_date: None,
            settled: false,
        };
        let Inquiry::Approved { reversed, .. } = summarize(&inq("APPROVED", 101), &[refund], asked)
        else {
            panic!()
        };
        assert_eq!(reversed.minor(), 40);
        let mut bad = inq("", 0);
        bad.code = Some("51".into());
        assert!(matches!(summarize(&bad, &[], asked), Inquiry::Declined(_)));
    }
}
