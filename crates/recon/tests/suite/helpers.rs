//! Builders shared by the engine tests.
#![allow(clippy::unwrap_used)]

use chrono::{NaiveDate, NaiveDateTime};
use sanalpos_core::{AuthCode, Kurus, MaskedPan, ProviderRef};
use sanalpos_recon::{Last4, OurPayment, PaymentStatus, ProviderRow, RowKind, RowState};

pub fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 8, d).unwrap()
}

pub fn at(d: u32, h: u32, m: u32) -> NaiveDateTime {
    day(d).and_hms_opt(h, m, 0).unwrap()
}

pub fn tl(minor: i64) -> Kurus {
    Kurus::from_minor(minor).unwrap()
}

/// An approved payment of `minor` kuruş on 29 August at noon.
pub fn pay(id: &str, reference: Option<&str>, minor: i64) -> OurPayment {
    OurPayment {
        id: id.into(),
        provider_ref: reference.map(|r| ProviderRef::parse(r).unwrap()),
        auth_code: Some(AuthCode::parse(&format!("A{id}")).unwrap()),
        client_ref: Some(format!("c-{id}").into()),
        status: PaymentStatus::Approved,
        amount: tl(minor),
        authorized_amount: None,
        refunded_amount: Kurus::ZERO,
        last4: Last4::of("7894"),
        business_date: day(29),
        expected: None,
    }
}

/// The provider's successful sale row for `pay(id, reference, minor)`.
pub fn sale(id: &str, reference: Option<&str>, minor: i64) -> ProviderRow {
    ProviderRow {
        provider_ref: reference.map(|r| ProviderRef::parse(r).unwrap()),
        sale_ref: None,
        auth_code: Some(AuthCode::parse(&format!("A{id}")).unwrap()),
        client_ref: Some(format!("c-{id}").into()),
        kind: RowKind::Sale,
        status: RowState::Success,
        amount: tl(minor),
        authorized_amount: None,
        installments: Some(1),
        masked_pan: MaskedPan::parse("454671******7894"),
        time: Some(at(29, 12, 0)),
        value_date: None,
        commission: None,
        currency: None,
        line: None,
    }
}

/// A successful reversal of `kind` of the sale `sale_ref`, with its own reference.
pub fn reversal(
    kind: RowKind,
    own: &str,
    sale_ref: Option<&str>,
    id: &str,
    minor: i64,
) -> ProviderRow {
    ProviderRow {
        provider_ref: Some(ProviderRef::parse(own).unwrap()),
        sale_ref: sale_ref.map(|r| Box::new(ProviderRef::parse(r).unwrap())),
        kind,
        amount: tl(minor),
        ..sale(id, None, minor)
    }
}
