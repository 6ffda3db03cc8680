//! The two queries, ORDERSTATUS and ORDERHISTORY, read into typed values, and what they
//! say about a payment attempt.
//!
//! Both change nothing and may be repeated. Their amounts are in **kuruş** (`101` =
//! 1.01 TL), unlike `Total` everywhere else. ORDERSTATUS describes the order's latest
//! transaction, so after a refund it describes the `Credit`; the sale and every refund
//! are then read from ORDERHISTORY.

use chrono::NaiveDateTime;

use sanalpos_core::{AuthCode, BankCode, Kurus, MaskedPan, Message, ProviderRef};

use super::answer::{provider_text, refusal_class};
use super::codes::{self, ErrorClass};
use super::xml::Cc5Response;
use crate::types::{Approval, Decline, DeclineKind, Inquiry, Outcome, UnknownReason};
use crate::GatewayError;

/// `CHARGE_TYPE_CD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeType {
    /// `S`: sale, pre-authorisation or capture.
    Sale,
    /// `C`: credit (refund).
    Credit,
    /// Anything else, as sent.
    Other(String),
}

impl ChargeType {
    fn parse(text: &str) -> ChargeType {
        match text.trim() {
            "S" => ChargeType::Sale,
            "C" => ChargeType::Credit,
            other => ChargeType::Other(other.to_owned()),
        }
    }
}

/// `TRANS_STAT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransStat {
    /// `A`: authorised, before the end of day (a pre-authorisation stays here).
    Authorised,
    /// `C`: captured / closed.
    Captured,
    /// `S`: sale.
    Sale,
    /// `PN`: pending (a planned recurring payment).
    Pending,
    /// `V` or `CNCL`: voided.
    Voided,
    /// `D` or `ERR`: failed.
    Failed,
    /// `R`: needs a technical reversal.
    NeedsReversal,
    /// Anything else, as sent.
    Other(String),
}

impl TransStat {
    fn parse(text: &str) -> TransStat {
        match text.trim() {
            "A" => TransStat::Authorised,
            "C" => TransStat::Captured,
            "S" => TransStat::Sale,
            "PN" => TransStat::Pending,
            "V" | "CNCL" => TransStat::Voided,
            "D" | "ERR" => TransStat::Failed,
            "R" => TransStat::NeedsReversal,
            other => TransStat::Other(other.to_owned()),
        }
    }

    /// Whether the transaction went through (and has not been voided).
    fn is_done(&self) -> bool {
        matches!(
            self,
            TransStat::Authorised | TransStat::Captured | TransStat::Sale
        )
    }
}

/// One transaction of an order, as both queries describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// `CHARGE_TYPE_CD`.
    pub charge_type: ChargeType,
    /// `TRANS_STAT`.
    pub status: TransStat,
    /// `ORIG_TRANS_AMT`, kuruş.
    pub amount: Option<Kurus>,
    /// `CAPTURE_AMT`, kuruş (empty until captured).
    pub captured: Option<Kurus>,
    /// `AUTH_DTTM`.
    pub auth_time: Option<NaiveDateTime>,
    /// `CAPTURE_DTTM`.
    pub capture_time: Option<NaiveDateTime>,
    /// `VOID_DTTM`.
    pub void_time: Option<NaiveDateTime>,
    /// `HOST_REF_NUM` (RRN).
    pub host_ref: Option<String>,
    /// `AUTH_CODE`.
    pub auth_code: Option<AuthCode>,
    /// `PROC_RET_CD`.
    pub proc_return_code: Option<String>,
    /// `TRANS_ID`.
    pub trans_id: Option<ProviderRef>,
}

impl Transaction {
    fn approved(&self) -> bool {
        self.proc_return_code.as_deref() == Some("00") && self.status.is_done()
    }
}

/// What ORDERSTATUS found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderStatus {
    /// The bank has no record of the order.
    NotFound,
    /// The order's latest transaction, with the masked card when given.
    Found {
        /// The latest transaction.
        latest: Box<Transaction>,
        /// `PAN`, masked.
        masked_pan: Option<MaskedPan>,
    },
}

fn text(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// A kuruş amount (`101`).
pub fn parse_kurus(value: &str) -> Option<Kurus> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<i64>().ok().and_then(Kurus::from_minor)
}

/// `2024-01-03 21:49:44.301`.
pub fn parse_time(value: &str) -> Option<NaiveDateTime> {
    let value = value.trim();
    NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S%.f").ok()
}

/// A refusal of a query: credentials and IP are errors of their own.
fn query_refusal(answer: &Cc5Response) -> GatewayError {
    let detail = provider_text(answer);
    match refusal_class(answer) {
        ErrorClass::Credentials => GatewayError::BadCredentials(detail),
        ErrorClass::IpNotAllowed => GatewayError::IpNotAllowed(detail),
        _ => GatewayError::Rejected(detail),
    }
}

fn is_approved(answer: &Cc5Response) -> bool {
    answer.non_empty("Response") == Some("Approved")
        && answer.non_empty("ProcReturnCode") == Some("00")
}

/// "No record found": a refusal without an `ERRORCODE` that says so, or whose summary
/// names no order.
fn is_not_found(answer: &Cc5Response) -> bool {
    if answer.error_code().is_some() {
        return false;
    }
    let message = answer
        .get("ErrMsg")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let summary_empty = answer
        .extra("ORDERSTATUS")
        .is_some_and(|s| s.starts_with("ORD_ID:\t") || s == "ORD_ID:");
    message.contains("no record found") || summary_empty || answer.extra("TRXCOUNT") == Some("0")
}

/// Reads an ORDERSTATUS answer.
pub fn read_status(answer: &Cc5Response) -> Result<OrderStatus, GatewayError> {
    if !is_approved(answer) {
        return if is_not_found(answer) {
            Ok(OrderStatus::NotFound)
        } else {
            Err(query_refusal(answer))
        };
    }
    let e = |name: &str| answer.extra(name);
    let latest = Transaction {
        charge_type: ChargeType::parse(e("CHARGE_TYPE_CD").unwrap_or_default()),
        status: TransStat::parse(e("TRANS_STAT").unwrap_or_default()),
        amount: e("ORIG_TRANS_AMT").and_then(parse_kurus),
        captured: e("CAPTURE_AMT").and_then(parse_kurus),
        auth_time: e("AUTH_DTTM").and_then(parse_time),
        capture_time: e("CAPTURE_DTTM").and_then(parse_time),
        void_time: e("VOID_DTTM").and_then(parse_time),
        host_ref: text(e("HOST_REF_NUM")),
        auth_code: e("AUTH_CODE").and_then(AuthCode::parse_approval),
        proc_return_code: text(e("PROC_RET_CD")),
        trans_id: e("TRANS_ID")
            .or_else(|| answer.get("TransId"))
            .and_then(|t| ProviderRef::parse(t.trim()).ok()),
    };
    Ok(OrderStatus::Found {
        latest: Box::new(latest),
        masked_pan: e("PAN").and_then(MaskedPan::parse),
    })
}

/// One ORDERHISTORY record: eleven TAB-separated positions.
pub fn parse_history_record(record: &str) -> Option<Transaction> {
    let parts: Vec<&str> = record.split('\t').collect();
    if parts.len() < 11 {
        return None;
    }
    Some(Transaction {
        charge_type: ChargeType::parse(parts[0]),
        status: TransStat::parse(parts[1]),
        amount: parse_kurus(parts[2]),
        captured: parse_kurus(parts[3]),
        auth_time: parse_time(parts[4]),
        capture_time: parse_time(parts[5]),
        void_time: parse_time(parts[6]),
        host_ref: text(Some(parts[7])),
        auth_code: AuthCode::parse_approval(parts[8]),
        proc_return_code: text(Some(parts[9])),
        trans_id: ProviderRef::parse(parts[10].trim()).ok(),
    })
}

/// Reads an ORDERHISTORY answer: the order's transactions, newest first (an unknown
/// order has none).
pub fn read_history(answer: &Cc5Response) -> Result<Vec<Transaction>, GatewayError> {
    if !is_approved(answer) {
        return if is_not_found(answer) {
            Ok(Vec::new())
        } else {
            Err(query_refusal(answer))
        };
    }
    let count: usize = answer
        .extra_non_empty("TRXCOUNT")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut rows = Vec::with_capacity(count);
    for i in 1..=count {
        let record = answer
            .extra(&format!("TRX{i}"))
            .ok_or_else(|| GatewayError::BadAnswer(format!("TRXCOUNT {count} but no TRX{i}")))?;
        let row = parse_history_record(record)
            .ok_or_else(|| GatewayError::BadAnswer(format!("TRX{i} is not 11 positions")))?;
        rows.push(row);
    }
    Ok(rows)
}

/// What the bank's records say about an attempt of `amount`: the sale (latest, or from
/// the history when the latest transaction is a refund), the amount reversed since, and
/// whether it was voided. `history` is needed only when `latest` is not the sale.
pub fn summarize(latest: &Transaction, history: Option<&[Transaction]>, amount: Kurus) -> Inquiry {
    let sale = match (&latest.charge_type, history) {
        (ChargeType::Sale, _) => Some(latest),
        (_, Some(rows)) => rows
            .iter()
            .filter(|r| r.charge_type == ChargeType::Sale)
            .find(|r| r.approved() || r.status == TransStat::Voided)
            .or_else(|| rows.iter().find(|r| r.charge_type == ChargeType::Sale)),
        (_, None) => None,
    };
    let Some(sale) = sale else {
        return Inquiry::Pending;
    };
    let sale_ok = sale.proc_return_code.as_deref() == Some("00");
    match &sale.status {
        TransStat::Failed => return Inquiry::Declined(declined(sale)),
        _ if sale.proc_return_code.is_some() && !sale_ok => {
            return Inquiry::Declined(declined(sale))
        }
        TransStat::Authorised | TransStat::Captured | TransStat::Sale | TransStat::Voided => {}
        TransStat::Pending | TransStat::NeedsReversal | TransStat::Other(_) => {
            return Inquiry::Pending
        }
    }
    let (Some(provider_ref), Some(auth_code)) = (sale.trans_id.clone(), sale.auth_code.clone())
    else {
        return Inquiry::Pending;
    };
    let Some(authorized) = sale.amount.filter(|a| *a >= amount) else {
        // Reported as charged, but for less than asked or without an amount: a person
        // must look.
        return Inquiry::Pending;
    };
    let cancelled = sale.status == TransStat::Voided;
    let reversed = if cancelled {
        sale.captured.unwrap_or(authorized)
    } else {
        history
            .unwrap_or_default()
            .iter()
            .filter(|r| r.charge_type == ChargeType::Credit && r.approved())
            .filter_map(|r| r.amount)
            .fold(Kurus::ZERO, |sum, a| sum.checked_add(a).unwrap_or(sum))
    };
    Inquiry::Approved {
        approval: Approval {
            auth_code: Some(auth_code),
            provider_ref,
            authorized_amount: Some(authorized),
            installments: None,
        },
        reversed,
        cancelled,
        // A sale is captured as it is made; a pre-authorisation shows `CAPTURE_AMT`
        // only once a `PostAuth` took it.
        captured: sale.captured.filter(|_| !cancelled),
    }
}

fn declined(sale: &Transaction) -> Decline {
    let bank_code = sale
        .proc_return_code
        .as_deref()
        .filter(|c| *c != "99" && *c != "00")
        .and_then(BankCode::parse);
    let message = match &bank_code {
        Some(code) => code.message(),
        None => sale
            .proc_return_code
            .as_deref()
            .and_then(codes::proc_return_message)
            .unwrap_or_else(codes::generic),
    };
    Decline {
        kind: DeclineKind::Refused,
        bank_code,
        message,
        provider_text: sale.proc_return_code.clone().unwrap_or_default(),
        provider_ref: sale.trans_id.clone(),
    }
}

/// An inquiry's answer as the outcome of a payment whose callback proved only
/// authentication (`3d_host`): approved or declined as the bank records it; anything
/// else stays unknown.
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
            "authenticated, but the bank has no record of the order".into(),
        )),
        Inquiry::Pending => Outcome::Unknown(UnknownReason::Inconsistent(
            "the bank reports the order as not finished".into(),
        )),
    }
}

/// A message for a status a clerk reads (for tools).
pub fn describe(status: &TransStat) -> Message {
    match status {
        TransStat::Authorised => Message::new("Onaylı (gün sonu bekleniyor)", "Authorised"),
        TransStat::Captured => Message::new("Tamamlandı", "Captured"),
        TransStat::Sale => Message::new("Satış", "Sale"),
        TransStat::Pending => Message::new("Beklemede", "Pending"),
        TransStat::Voided => Message::new("İptal edildi", "Voided"),
        TransStat::Failed => Message::new("Başarısız", "Failed"),
        TransStat::NeedsReversal => Message::new("Teknik iade gerekli", "Needs a reversal"),
        TransStat::Other(s) => Message {
            tr: s.clone(),
            en: s.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_records_split_in_eleven() {
        let row = parse_history_record(
            "S\tV\t101\t101\t2024-01-02 21:52:59.261\t2024-01-02 21:52:59.261\t2024-01-02 21:53:01.297\t400200744059\tP78955\t00\t24002V29G19979",
        )
        .unwrap();
        assert_eq!(row.charge_type, ChargeType::Sale);
        assert_eq!(row.status, TransStat::Voided);
        assert_eq!(row.amount, Kurus::from_minor(101));
        assert_eq!(row.auth_code.unwrap().as_str(), "P78955");
        assert!(row.void_time.is_some());
        assert!(parse_history_record("S\tA").is_none());
        assert_eq!(parse_kurus(""), None);
        assert_eq!(parse_kurus("1.01"), None);
    }

    #[test]
    fn an_amount_below_the_request_is_pending() {
        let row = parse_history_record("S\tC\t100\t100\t\t\t\t1\tP1\t00\tT1").unwrap();
        assert!(matches!(
            summarize(&row, None, Kurus::from_minor(101).unwrap()),
            Inquiry::Pending
        ));
        assert!(matches!(
            summarize(&row, None, Kurus::from_minor(100).unwrap()),
            Inquiry::Approved { .. }
        ));
    }
}
