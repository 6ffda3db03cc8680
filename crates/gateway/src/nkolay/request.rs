//! Request mapping: the form fields of each N Kolay call, signed.
//!
//! Pure functions from our request types to `(name, value)` pairs, so the exact bytes
//! the provider receives can be tested without a network.

use chrono::{DateTime, FixedOffset, NaiveDate};

use sanalpos_core::{Kurus, ProviderRef};

use super::codec::{
    format_amount, format_list_date, format_pre_auth_date, format_rnd, format_trx_date,
};
use super::signing::{hash_v2, SignedRequest};
use super::Credentials;
use crate::types::{ReturnUrls, SaleRequest};

/// Form fields, in the order they are sent.
pub type Form = Vec<(&'static str, String)>;

/// The values of a form's signed fields, in hash order (absent fields are empty).
pub fn signed_values(kind: SignedRequest, form: &Form) -> Vec<String> {
    kind.fields()
        .iter()
        .map(|name| {
            form.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect()
}

fn sign(kind: SignedRequest, mut form: Form, secret_key: &str) -> Form {
    let hash = hash_v2(&signed_values(kind, &form), secret_key);
    form.push(("hashDatav2", hash));
    form
}

/// `transactionType` of a sale.
pub const SALES: &str = "SALES";
/// `transactionType` of a pre-authorisation, and of its release.
pub const PRESALES: &str = "PRESALES";

/// `/Vpos/v1/Payment`, non-3D when `urls` is `None`; a pre-authorisation when
/// `request.pre_auth` is set (signed exactly as a sale).
pub fn payment(
    credentials: &Credentials,
    request: &SaleRequest,
    urls: Option<&ReturnUrls>,
    now: DateTime<FixedOffset>,
) -> Form {
    let card = &request.card;
    let mut form: Form = vec![
        ("sx", credentials.sx.expose().to_owned()),
        ("clientRefCode", request.client_ref.as_str().to_owned()),
        (
            "successUrl",
            urls.map(|u| u.success.clone()).unwrap_or_default(),
        ),
        ("failUrl", urls.map(|u| u.fail.clone()).unwrap_or_default()),
        ("amount", format_amount(request.amount)),
        ("installmentNo", request.installments.to_string()),
        ("cardHolderName", card.holder.clone()),
        ("cardNumber", card.number.expose().to_owned()),
        ("month", format!("{:02}", card.expiry.month())),
        ("year", card.expiry.year().to_string()),
        ("cvv", card.cvv.expose().to_owned()),
        ("use3D", urls.is_some().to_string()),
        (
            "transactionType",
            if request.pre_auth { PRESALES } else { SALES }.to_owned(),
        ),
        ("rnd", format_rnd(now)),
        ("customerKey", String::new()),
        ("environment", "API".to_owned()),
        ("currencyNumber", request.currency.numeric().to_string()),
    ];
    if let Some(description) = &request.description {
        form.push(("description", description.clone()));
    }
    if let Some(ip) = request.cardholder_ip {
        form.push(("cardHolderIP", ip.to_string()));
    }
    sign(
        SignedRequest::Payment,
        form,
        credentials.secret_key.expose(),
    )
}

/// `/Vpos/v1/CompletePayment` (not signed).
pub fn complete(credentials: &Credentials, provider_ref: &ProviderRef) -> Form {
    vec![
        ("sx", credentials.sx.expose().to_owned()),
        ("referenceCode", provider_ref.as_str().to_owned()),
    ]
}

/// `/Vpos/v1/CancelRefundPayment` with `type` = `cancel`, `refund` or `refundp`.
pub fn cancel_refund(
    credentials: &Credentials,
    provider_ref: &ProviderRef,
    kind: &str,
    amount: Kurus,
    sale_date: NaiveDate,
) -> Form {
    let form: Form = vec![
        ("sx", credentials.sx_cancel.expose().to_owned()),
        ("referenceCode", provider_ref.as_str().to_owned()),
        ("type", kind.to_owned()),
        ("amount", format_amount(amount)),
        ("trxDate", format_trx_date(sale_date)),
    ];
    sign(
        SignedRequest::CancelRefund,
        form,
        credentials.secret_key.expose(),
    )
}

/// `/Vpos/Payment/PreAuthorizationAprove`: capture `amount` of the pre-authorisation
/// made on `pre_auth_date`.
pub fn pre_auth_capture(
    credentials: &Credentials,
    provider_ref: &ProviderRef,
    amount: Kurus,
    pre_auth_date: NaiveDate,
) -> Form {
    let form: Form = vec![
        ("sx", credentials.sx.expose().to_owned()),
        ("referenceCode", provider_ref.as_str().to_owned()),
        ("trxDate", format_pre_auth_date(pre_auth_date)),
        ("amount", format_amount(amount)),
    ];
    sign(
        SignedRequest::PreAuthCapture,
        form,
        credentials.secret_key.expose(),
    )
}

/// `/Vpos/Payment/PreAuthorizationCancel`: release the whole pre-authorisation made on
/// `pre_auth_date`. The signed `transactionType` is the released transaction's type,
/// `PRESALES`.
pub fn pre_auth_release(
    credentials: &Credentials,
    provider_ref: &ProviderRef,
    authorized: Kurus,
    pre_auth_date: NaiveDate,
) -> Form {
    let form: Form = vec![
        ("sx", credentials.sx.expose().to_owned()),
        ("referenceCode", provider_ref.as_str().to_owned()),
        ("trxDate", format_pre_auth_date(pre_auth_date)),
        ("amount", format_amount(authorized)),
        ("transactionType", PRESALES.to_owned()),
    ];
    sign(
        SignedRequest::PreAuthRelease,
        form,
        credentials.secret_key.expose(),
    )
}

/// `/Vpos/Payment/PreAuthorizationList` for the days `from..=to` (signed with
/// `sx-list`, the end date before the start date).
pub fn pre_auth_list(credentials: &Credentials, from: NaiveDate, to: NaiveDate) -> Form {
    let form: Form = vec![
        ("sx", credentials.sx_list.expose().to_owned()),
        ("startDate", format_pre_auth_date(from)),
        ("endDate", format_pre_auth_date(to)),
    ];
    sign(
        SignedRequest::PreAuthList,
        form,
        credentials.secret_key.expose(),
    )
}

/// `/Vpos/Payment/PaymentList`, optionally for one client reference.
pub fn payment_list(
    credentials: &Credentials,
    from: NaiveDate,
    to: NaiveDate,
    client_ref: &str,
) -> Form {
    let form: Form = vec![
        ("sx", credentials.sx_list.expose().to_owned()),
        ("startDate", format_list_date(from)),
        ("endDate", format_list_date(to)),
        ("clientRefCode", client_ref.to_owned()),
    ];
    sign(
        SignedRequest::PaymentList,
        form,
        credentials.secret_key.expose(),
    )
}

/// `/Vpos/Payment/PfTransactionReportList`, one page.
pub fn pf_report(
    credentials: &Credentials,
    from: NaiveDate,
    to: NaiveDate,
    page: u32,
    page_size: u32,
) -> Form {
    let form: Form = vec![
        ("sx", credentials.sx_list.expose().to_owned()),
        ("startDate", format_list_date(from)),
        ("endDate", format_list_date(to)),
        ("clientReferenceCode", String::new()),
        ("referenceCode", String::new()),
        ("pageCount", page.to_string()),
        ("pageSize", page_size.to_string()),
    ];
    sign(
        SignedRequest::PfTransactionReportList,
        form,
        credentials.secret_key.expose(),
    )
}

/// `/Vpos/Payment/PaymentInstallments` (not signed).
pub fn installments(credentials: &Credentials, bin: &str, amount: Kurus) -> Form {
    vec![
        ("sx", credentials.sx.expose().to_owned()),
        ("amount", format_amount(amount)),
        ("cardNumber", bin.to_owned()),
        ("iscardvalid", "false".to_owned()),
    ]
}

/// `/Vpos/Payment/GetMerchandInformation`.
pub fn merchant_information(credentials: &Credentials, date: NaiveDate) -> Form {
    let form: Form = vec![
        ("sx", credentials.sx.expose().to_owned()),
        ("date", format_list_date(date)),
    ];
    sign(
        SignedRequest::MerchantInformation,
        form,
        credentials.secret_key.expose(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Card;
    use sanalpos_core::{CardNumber, ClientRef, Currency, Cvv, Expiry, Secret};

    fn credentials() -> Credentials {
        Credentials {
            sx: Secret::new("118591467|blob"),
            sx_list: Secret::new("118591467|blob|list"),
            sx_cancel: Secret::new("118591467|blob|cancel"),
            secret_key: Secret::new("_viH5wUS4HiBmmw9uGybN"),
        }
    }

    fn get<'a>(form: &'a Form, name: &str) -> &'a str {
        form.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap()
    }

    #[test]
    fn payment_form_signs_the_documented_fields() {
        let request = SaleRequest {
            client_ref: ClientRef::parse("att_1").unwrap(),
            amount: Kurus::parse("150").unwrap(),
            currency: Currency::Try,
            installments: 1,
            card: Card {
                number: CardNumber::parse("4546711234567894").unwrap(),
                expiry: Expiry::parse("12", "2026").unwrap(),
                cvv: Cvv::parse("000").unwrap(),
                holder: "Test Kart".into(),
            },
            description: None,
            cardholder_ip: None,
            pre_auth: false,
        };
        let now = NaiveDate::from_ymd_opt(2025, 8, 29)
            .unwrap()
            .and_hms_opt(14, 23, 57)
            .unwrap()
            .and_local_timezone(crate::nkolay::codec::istanbul())
            .unwrap();
        let form = payment(&credentials(), &request, None, now);
        assert_eq!(get(&form, "amount"), "150.00");
        assert_eq!(get(&form, "month"), "12");
        assert_eq!(get(&form, "use3D"), "false");
        assert_eq!(get(&form, "rnd"), "29-08-2025 14:23:57");
        assert_eq!(get(&form, "transactionType"), "SALES");
        let pre_auth = payment(
            &credentials(),
            &SaleRequest {
                pre_auth: true,
                ..request.clone()
            },
            None,
            now,
        );
        assert_eq!(get(&pre_auth, "transactionType"), "PRESALES");
        assert_eq!(get(&pre_auth, "hashDatav2"), get(&form, "hashDatav2"));
        assert_eq!(
            signed_values(SignedRequest::Payment, &form).join("|"),
            "118591467|blob|att_1|150.00|||29-08-2025 14:23:57|"
        );
        let expected = hash_v2(
            &[
                "118591467|blob",
                "att_1",
                "150.00",
                "",
                "",
                "29-08-2025 14:23:57",
                "",
            ],
            "_viH5wUS4HiBmmw9uGybN",
        );
        assert_eq!(get(&form, "hashDatav2"), expected);
    }

    #[test]
    fn golden_vector_through_the_request_builder() {
        // The PaymentList vector of vectors/nkolay.json, built by the client.
        let c = Credentials {
            sx_list: Secret::new("118591467|W8a1JLU8A5Cw+HfadVcO6HiR/GGGxr0NkWr2OGythr8fo0YWdw70cvnI6oKMqvzra3Qu+Wa5u0NRil9gRdJmjocVNd4XciDwfD9+pkVqDErw7/pVZfpcSO+GePg+ZvcqFbOO5A==|3hJpHVF2cqvcCZ4q6F7rcA=="),
            ..credentials()
        };
        let form = payment_list(
            &c,
            NaiveDate::from_ymd_opt(2026, 10, 5).unwrap(),
            NaiveDate::from_ymd_opt(2026, 10, 6).unwrap(),
            "",
        );
        assert_eq!(
            get(&form, "hashDatav2"),
            "3a1yzE1TS1aUrPpcycyWVqUQhhzFb2YomZbw+W/83MD5/VglsBROO8G4cm2BlvEFTQsE/eYyLbV1viqU8sYkaw=="
        );
    }

    #[test]
    fn pre_auth_forms_sign_the_documented_fields() {
        let c = credentials();
        let reference = ProviderRef::parse("IKSIRPF1").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        let capture = pre_auth_capture(&c, &reference, Kurus::parse("60").unwrap(), day);
        assert_eq!(get(&capture, "sx"), "118591467|blob");
        assert_eq!(
            signed_values(SignedRequest::PreAuthCapture, &capture).join("|"),
            "118591467|blob|2026-11-29|60.00|IKSIRPF1"
        );
        let release = pre_auth_release(&c, &reference, Kurus::parse("100").unwrap(), day);
        assert_eq!(
            signed_values(SignedRequest::PreAuthRelease, &release).join("|"),
            "118591467|blob|2026-11-29|100.00|IKSIRPF1|PRESALES"
        );
        let list = pre_auth_list(&c, day, day.succ_opt().unwrap());
        assert_eq!(get(&list, "sx"), "118591467|blob|list");
        assert_eq!(
            signed_values(SignedRequest::PreAuthList, &list).join("|"),
            "118591467|blob|list|2026-11-30|2026-11-29"
        );
    }

    #[test]
    fn cancel_uses_sx_cancel_and_dotted_date() {
        let form = cancel_refund(
            &credentials(),
            &ProviderRef::parse("IKSIRPF1").unwrap(),
            "cancel",
            Kurus::parse("10").unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(),
        );
        assert_eq!(get(&form, "sx"), "118591467|blob|cancel");
        assert_eq!(get(&form, "trxDate"), "2026.11.29");
        assert_eq!(
            signed_values(SignedRequest::CancelRefund, &form).join("|"),
            "118591467|blob|cancel|IKSIRPF1|cancel|10.00|2026.11.29"
        );
    }
}
