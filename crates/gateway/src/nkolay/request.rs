//! Request mapping: the form fields of each N Kolay call, signed.
//!
//! Pure functions from our request types to `(name, value)` pairs, so the exact bytes
//! the provider receives can be tested without a network.

use std::net::IpAddr;

use chrono::{DateTime, FixedOffset, NaiveDate};

use sanalpos_core::{Currency, Kurus, ProviderRef};

use super::codec::{
    format_amount, format_list_date, format_pre_auth_date, format_rnd, format_trx_date,
};
use super::signing::{hash_v2, SignedRequest};
use super::Credentials;
use crate::types::{Card, ReturnUrls, SaleRequest, SaveCard, StoredCardId, StoredCardSale};

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
    payment_saving_card(credentials, request, urls, None, now)
}

/// `/Vpos/v1/Payment` with card data, asking the vault to keep the card for
/// `save.customer_key` once the sale is approved (`csCustomerKey`, `csAutoSave=true`,
/// `csCardAlias`). The hash is the sale's: its `customerKey` slot stays empty, as the
/// card being paid with is not a stored one yet.
pub fn payment_saving_card(
    credentials: &Credentials,
    request: &SaleRequest,
    urls: Option<&ReturnUrls>,
    save: Option<&SaveCard>,
    now: DateTime<FixedOffset>,
) -> Form {
    let card = &request.card;
    let payer: Form = vec![
        ("cardHolderName", card.holder.clone()),
        ("cardNumber", card.number.expose().to_owned()),
        ("month", format!("{:02}", card.expiry.month())),
        ("year", card.expiry.year().to_string()),
        ("cvv", card.cvv.expose().to_owned()),
    ];
    let terms = Terms {
        client_ref: request.client_ref.as_str(),
        amount: request.amount,
        installments: request.installments,
        currency: request.currency,
        description: request.description.as_deref(),
        cardholder_ip: request.cardholder_ip,
        pre_auth: request.pre_auth,
    };
    let mut extra: Form = Vec::new();
    if let Some(save) = save {
        extra.push(("csCustomerKey", save.customer_key.clone()));
        extra.push(("csAutoSave", "true".to_owned()));
        extra.push(("csCardAlias", save.alias.clone()));
    }
    payment_form(credentials, &terms, payer, String::new(), extra, urls, now)
}

/// `/Vpos/v1/Payment` charged to a stored card (non-3D): `csCustomerKey` and
/// `csTranId` or `csToken` instead of the card fields, signed as a sale whose
/// `customerKey` is the `csCustomerKey`.
pub fn stored_card_payment(
    credentials: &Credentials,
    request: &StoredCardSale,
    now: DateTime<FixedOffset>,
) -> Form {
    let stored = &request.stored_card;
    let mut payer: Form = vec![("csCustomerKey", stored.customer_key.clone())];
    match &stored.card {
        StoredCardId::TranId(id) => payer.push(("csTranId", id.clone())),
        StoredCardId::Token(token) => payer.push(("csToken", token.clone())),
    }
    let terms = Terms {
        client_ref: request.client_ref.as_str(),
        amount: request.amount,
        installments: request.installments,
        currency: request.currency,
        description: request.description.as_deref(),
        cardholder_ip: request.cardholder_ip,
        pre_auth: false,
    };
    payment_form(
        credentials,
        &terms,
        payer,
        stored.customer_key.clone(),
        Vec::new(),
        None,
        now,
    )
}

/// What a payment is about, whatever pays for it.
struct Terms<'a> {
    client_ref: &'a str,
    amount: Kurus,
    installments: u8,
    currency: Currency,
    description: Option<&'a str>,
    cardholder_ip: Option<IpAddr>,
    pre_auth: bool,
}

/// The payment form: the terms, then the payer's fields (card data or a stored card),
/// then `extra`, signed with `customer_key` in the hash's last slot.
fn payment_form(
    credentials: &Credentials,
    terms: &Terms<'_>,
    payer: Form,
    customer_key: String,
    extra: Form,
    urls: Option<&ReturnUrls>,
    now: DateTime<FixedOffset>,
) -> Form {
    let mut form: Form = vec![
        ("sx", credentials.sx.expose().to_owned()),
        ("clientRefCode", terms.client_ref.to_owned()),
        (
            "successUrl",
            urls.map(|u| u.success.clone()).unwrap_or_default(),
        ),
        ("failUrl", urls.map(|u| u.fail.clone()).unwrap_or_default()),
        ("amount", format_amount(terms.amount)),
        ("installmentNo", terms.installments.to_string()),
    ];
    form.extend(payer);
    form.extend([
        ("use3D", urls.is_some().to_string()),
        (
            "transactionType",
            if terms.pre_auth { PRESALES } else { SALES }.to_owned(),
        ),
        ("rnd", format_rnd(now)),
        ("customerKey", customer_key),
        ("environment", "API".to_owned()),
        ("currencyNumber", terms.currency.numeric().to_string()),
    ]);
    form.extend(extra);
    if let Some(description) = terms.description {
        form.push(("description", description.to_owned()));
    }
    if let Some(ip) = terms.cardholder_ip {
        form.push(("cardHolderIP", ip.to_string()));
    }
    sign(
        SignedRequest::Payment,
        form,
        credentials.secret_key.expose(),
    )
}

/// `/Vpos/Payment/CardStorageCardRegister`: keep `card` in the vault for
/// `customer_key`, under `alias`. Signed `sx|cardNumber|cvv`. Only the signed fields are
/// documented; the others carry the payment's names (`cardHolderName`, `month`, `year`)
/// and the vault's (`customerKey`, and `cardAlias` for what the list calls
/// `CARD_ALIACE`).
pub fn card_register(
    credentials: &Credentials,
    customer_key: &str,
    card: &Card,
    alias: &str,
) -> Form {
    let form: Form = vec![
        ("sx", credentials.sx.expose().to_owned()),
        ("customerKey", customer_key.to_owned()),
        ("cardHolderName", card.holder.clone()),
        ("cardNumber", card.number.expose().to_owned()),
        ("month", format!("{:02}", card.expiry.month())),
        ("year", card.expiry.year().to_string()),
        ("cvv", card.cvv.expose().to_owned()),
        ("cardAlias", alias.to_owned()),
    ];
    sign(
        SignedRequest::CardRegister,
        form,
        credentials.secret_key.expose(),
    )
}

/// `/Vpos/Payment/CardStorageCardList`: the cards of `customer_key`. Signed
/// `sx|customerKey`.
pub fn card_list(credentials: &Credentials, customer_key: &str) -> Form {
    let form: Form = vec![
        ("sx", credentials.sx.expose().to_owned()),
        ("customerKey", customer_key.to_owned()),
    ];
    sign(
        SignedRequest::CardList,
        form,
        credentials.secret_key.expose(),
    )
}

/// `/Vpos/Payment/CardStorageCardDelete`: remove one card of `customer_key`. Signed
/// `sx|customerKey|tranId|token`.
pub fn card_delete(
    credentials: &Credentials,
    customer_key: &str,
    tran_id: &str,
    token: &str,
) -> Form {
    let form: Form = vec![
        ("sx", credentials.sx.expose().to_owned()),
        ("customerKey", customer_key.to_owned()),
        ("tranId", tran_id.to_owned()),
        ("token", token.to_owned()),
    ];
    sign(
        SignedRequest::CardDelete,
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

    /// The documented formula, written out: Base64(SHA-512(text + "|" + secret)).
    fn documented(text: &str, secret: &str) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        let digest = sha2::Sha512::digest(format!("{text}|{secret}").as_bytes());
        base64::engine::general_purpose::STANDARD.encode(digest)
    }

    fn card() -> Card {
        Card {
            number: CardNumber::parse("4546711234567894").unwrap(),
            expiry: Expiry::parse("12", "2030").unwrap(),
            cvv: Cvv::parse("000").unwrap(),
            holder: "Test Kart".into(),
        }
    }

    #[test]
    fn card_vault_forms_sign_the_documented_fields() {
        let c = credentials();
        let secret = "_viH5wUS4HiBmmw9uGybN";
        let register = card_register(&c, "cust-1", &card(), "İş kartım");
        assert_eq!(get(&register, "customerKey"), "cust-1");
        assert_eq!(get(&register, "cardAlias"), "İş kartım");
        assert_eq!(
            get(&register, "hashDatav2"),
            documented("118591467|blob|4546711234567894|000", secret)
        );
        let list = card_list(&c, "cust-1");
        assert_eq!(
            get(&list, "hashDatav2"),
            documented("118591467|blob|cust-1", secret)
        );
        let delete = card_delete(&c, "cust-1", "i1", "t1");
        assert_eq!(
            get(&delete, "hashDatav2"),
            documented("118591467|blob|cust-1|i1|t1", secret)
        );
    }

    #[test]
    fn stored_card_payment_sends_no_card_and_signs_the_customer_key() {
        let now = NaiveDate::from_ymd_opt(2026, 12, 4)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
            .and_local_timezone(crate::nkolay::codec::istanbul())
            .unwrap();
        let request = StoredCardSale {
            client_ref: ClientRef::parse("att_2").unwrap(),
            amount: Kurus::parse("25").unwrap(),
            currency: Currency::Try,
            installments: 1,
            stored_card: crate::types::StoredCardRef {
                customer_key: "cust-1".into(),
                card: StoredCardId::Token("t1".into()),
            },
            description: None,
            cardholder_ip: None,
        };
        let form = stored_card_payment(&credentials(), &request, now);
        for name in [
            "cardNumber",
            "cvv",
            "month",
            "year",
            "cardHolderName",
            "csTranId",
        ] {
            assert!(form.iter().all(|(k, _)| *k != name), "{name} is sent");
        }
        assert_eq!(get(&form, "csCustomerKey"), "cust-1");
        assert_eq!(get(&form, "csToken"), "t1");
        assert_eq!(get(&form, "customerKey"), "cust-1");
        assert_eq!(
            get(&form, "hashDatav2"),
            documented(
                "118591467|blob|att_2|25.00|||04-12-2026 10:00:00|cust-1",
                "_viH5wUS4HiBmmw9uGybN"
            )
        );
        let by_id = StoredCardSale {
            stored_card: crate::types::StoredCardRef {
                customer_key: "cust-1".into(),
                card: StoredCardId::TranId("i1".into()),
            },
            ..request
        };
        let form = stored_card_payment(&credentials(), &by_id, now);
        assert_eq!(get(&form, "csTranId"), "i1");
        assert!(form.iter().all(|(k, _)| *k != "csToken"));
    }

    #[test]
    fn a_3d_sale_can_ask_to_keep_its_card() {
        let now = NaiveDate::from_ymd_opt(2026, 12, 4)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
            .and_local_timezone(crate::nkolay::codec::istanbul())
            .unwrap();
        let request = SaleRequest {
            client_ref: ClientRef::parse("att_3").unwrap(),
            amount: Kurus::parse("10").unwrap(),
            currency: Currency::Try,
            installments: 1,
            card: card(),
            description: None,
            cardholder_ip: None,
            pre_auth: false,
        };
        let urls = ReturnUrls {
            success: "https://shop.example/ok".into(),
            fail: "https://shop.example/fail".into(),
        };
        let save = SaveCard {
            customer_key: "cust-1".into(),
            alias: "Kartım".into(),
        };
        let form = payment_saving_card(&credentials(), &request, Some(&urls), Some(&save), now);
        assert_eq!(get(&form, "csCustomerKey"), "cust-1");
        assert_eq!(get(&form, "csAutoSave"), "true");
        assert_eq!(get(&form, "csCardAlias"), "Kartım");
        assert_eq!(get(&form, "customerKey"), "");
        let plain = payment(&credentials(), &request, Some(&urls), now);
        assert_eq!(get(&plain, "hashDatav2"), get(&form, "hashDatav2"));
        assert!(plain.iter().all(|(k, _)| !k.starts_with("cs")));
    }
}
