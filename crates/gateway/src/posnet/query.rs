//! `agreement`: what the bank's records say about an order.
//!
//! The answer lists the order's transactions: the first is the sale (`state` `Sale`, or
//! `Auth` for a pre-authorisation not yet captured), then its cancel (`Reverse`) and
//! refunds (`Return`), each with `txnStatus` `1` when it went through. Here `amount` is a
//! decimal with a comma (`1,16`), unlike everywhere else.

use sanalpos_core::{AuthCode, Kurus, ProviderRef};

use super::answer::provider_text;
use super::codes;
use super::xml::{Element, PosnetResponse};
use crate::types::{Approval, Decline, DeclineKind, Inquiry};
use crate::GatewayError;

/// One transaction of an `agreement` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// `orderID`.
    pub order_id: String,
    /// `state`: `Sale`, `Auth`, `Capt`, `Reverse`, `Return`.
    pub state: String,
    /// Whether `txnStatus` is `1`.
    pub ok: bool,
    /// `amount`, read from its comma decimal.
    pub amount: Option<Kurus>,
    /// `authCode`.
    pub auth_code: Option<AuthCode>,
    /// `hostlogkey`.
    pub host_log_key: Option<ProviderRef>,
}

/// What an `agreement` answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The bank has no such order (`0123`).
    NotFound,
    /// The order's transactions, the sale first.
    Found(Vec<Txn>),
}

/// `1,16` → 116 kuruş (also `1.234,56`).
pub fn parse_amount(text: &str) -> Option<Kurus> {
    Kurus::parse_tr(text.trim()).ok()
}

fn txn(element: &Element) -> Txn {
    let text = |name: &str| element.non_empty(name);
    Txn {
        order_id: text("orderID").unwrap_or_default().to_owned(),
        state: text("state").unwrap_or_default().to_owned(),
        ok: text("txnStatus") == Some("1"),
        amount: text("amount").and_then(parse_amount),
        auth_code: text("authCode").and_then(AuthCode::parse_approval),
        host_log_key: text("hostlogkey").and_then(|k| ProviderRef::parse(k).ok()),
    }
}

/// Reads an `agreement` answer.
pub fn read(answer: &PosnetResponse) -> Result<Status, GatewayError> {
    match (answer.non_empty("approved"), answer.non_empty("respCode")) {
        (Some("1"), _) => {
            let txns: Vec<Txn> = answer
                .root()
                .at("transactions")
                .map(|t| t.children_named("transaction").map(txn).collect())
                .unwrap_or_default();
            if txns.is_empty() {
                Ok(Status::NotFound)
            } else {
                Ok(Status::Found(txns))
            }
        }
        (Some("0"), Some(codes::NOT_FOUND)) => Ok(Status::NotFound),
        (Some("0"), Some(code)) => {
            let text = provider_text(answer);
            match codes::classify(code, &text) {
                codes::ErrorClass::IpNotAllowed => Err(GatewayError::IpNotAllowed(format!(
                    "{} (bank: {text})",
                    codes::message(codes::IP_NOT_ALLOWED, "").en
                ))),
                codes::ErrorClass::Credentials => Err(GatewayError::BadCredentials(text)),
                _ => Err(GatewayError::Rejected(text)),
            }
        }
        _ => Err(GatewayError::BadAnswer(
            "agreement answer without approved".into(),
        )),
    }
}

/// What the transactions say about an attempt of `amount`.
pub fn summarize(txns: &[Txn], amount: Kurus) -> Inquiry {
    let Some(sale) = txns.first() else {
        return Inquiry::NotFound;
    };
    if !sale.ok {
        return Inquiry::Declined(Decline {
            kind: DeclineKind::Refused,
            bank_code: None,
            message: codes::generic(),
            provider_text: format!("agreement state {} not completed", sale.state),
            provider_ref: sale.host_log_key.clone(),
        });
    }
    let (Some(provider_ref), Some(auth_code)) = (sale.host_log_key.clone(), sale.auth_code.clone())
    else {
        return Inquiry::Pending;
    };
    let Some(authorized) = sale.amount.filter(|a| *a >= amount) else {
        return Inquiry::Pending;
    };
    fn done<'a>(txns: &'a [Txn], state: &'a str) -> impl Iterator<Item = &'a Txn> {
        txns.iter()
            .skip(1)
            .filter(move |t| t.ok && t.state.eq_ignore_ascii_case(state))
    }
    let cancelled = done(txns, "Reverse").next().is_some();
    let reversed = if cancelled {
        authorized
    } else {
        done(txns, "Return")
            .filter_map(|t| t.amount)
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
        // This client does not read a capture from the bank's answer.
        captured: None,
    }
}
