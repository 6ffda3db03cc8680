//! Creating, reading and listing payments.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::Datelike;

use sanalpos_core::fields::optional_text;
use sanalpos_core::{
    CardNumber, ClientRef, CustomerRef, Cvv, Expiry, Kurus, OrderRef, ReturnUrl, TextError,
};
use sanalpos_gateway::{Card, Gateway, ReturnUrls, SaleRequest, ThreeDStart};
use sanalpos_store::{
    new_id, new_token, AttemptOutcome, AttemptRecord, AttemptResult, AttemptState, ClaimedBegin,
    FinishAttempt, KeyAnswer, KeyClaim, Operation, PaymentChange, PaymentRecord, PaymentStatus,
    PosHealth, PosRecord,
};

use sanalpos_core::Lang;

use crate::abuse::{BlockReason, Velocity};
use crate::error::ServiceError;
use crate::idempotency::{ClaimedPayment, CreatedOnce, KeyAnswerFn};
use crate::labels::block_message;
use crate::outcome::sale_finish;
use crate::time::business_date;
use crate::types::*;
use crate::PaymentService;

/// The card of a request, parsed. Lives only for the call.
pub(crate) struct ParsedCard {
    pub(crate) card: Card,
}

pub(crate) fn parse_card(input: &CardInput) -> Result<ParsedCard, ServiceError> {
    let number = CardNumber::parse(&input.number)
        .map_err(|_| ServiceError::validation("card.number", "not a valid card number"))?;
    let expiry = Expiry::parse(&input.expiry_month, &input.expiry_year).map_err(|_| {
        ServiceError::validation(
            "card.expiry_month",
            "expiry month 01-12 and year YY or YYYY",
        )
    })?;
    let today = crate::time::istanbul_today();
    if expiry.is_expired_at(today.year() as u16, today.month() as u8) {
        return Err(ServiceError::validation(
            "card.expiry_year",
            "the card has expired",
        ));
    }
    let cvv = Cvv::parse(&input.cvv)
        .map_err(|_| ServiceError::validation("card.cvv", "3 or 4 digits"))?;
    let holder = input.holder.trim();
    if holder.is_empty() || holder.chars().count() > 100 {
        return Err(ServiceError::validation(
            "card.holder",
            "the name on the card, 1 to 100 characters",
        ));
    }
    Ok(ParsedCard {
        card: Card {
            number,
            expiry,
            cvv,
            holder: holder.to_owned(),
        },
    })
}

/// A free-text field of a payment by the one rule ([`optional_text`]), refused as a
/// validation error of `field`.
pub(crate) fn check_text(
    field: &'static str,
    value: &Option<String>,
    max: usize,
) -> Result<Option<String>, ServiceError> {
    optional_text(value.as_deref(), max).map_err(|e| ServiceError::validation(field, e.to_string()))
}

/// The order and customer references of a request, by their types' rules.
pub(crate) fn check_refs(
    order_ref: &Option<String>,
    customer_ref: &Option<String>,
    message: fn(TextError) -> String,
) -> Result<(Option<OrderRef>, Option<CustomerRef>), ServiceError> {
    let order = OrderRef::parse_optional(order_ref.as_deref())
        .map_err(|e| ServiceError::validation("order_ref", message(e)))?;
    let customer = CustomerRef::parse_optional(customer_ref.as_deref())
        .map_err(|e| ServiceError::validation("customer_ref", message(e)))?;
    Ok((order, customer))
}

/// Picks the POS of a payment ([`choose_pos`](crate::pos_choice::choose_pos)) and
/// checks that its installment table offers the count asked for.
pub(crate) async fn choose_pos(
    service: &PaymentService,
    company_id: &str,
    request: &CreatePayment,
) -> Result<PosRecord, ServiceError> {
    let pos = crate::pos_choice::choose_pos(
        service,
        company_id,
        request.pos_id.as_deref(),
        request.currency,
    )
    .await?;
    offers_installments(pos, request)
}

/// The POS when its installment table offers the count asked for.
fn offers_installments(pos: PosRecord, request: &CreatePayment) -> Result<PosRecord, ServiceError> {
    if !pos
        .installments
        .iter()
        .any(|row| row.count == request.installments)
    {
        return Err(ServiceError::validation(
            "installments",
            "the POS's installment table does not offer this count",
        ));
    }
    Ok(pos)
}

pub(crate) fn view(service: &PaymentService, p: &PaymentRecord) -> PaymentView {
    let next_action = match (&p.status, &p.three_d_token) {
        (PaymentStatus::Pending3ds, Some(token))
            if p.three_d_html.is_some() || service.inner.card_forms.holds(token) =>
        {
            Some(NextAction {
                redirect_url: format!(
                    "{}/3d/{token}",
                    service.inner.config.public_base_url.trim_end_matches('/')
                ),
            })
        }
        _ => None,
    };
    PaymentView {
        id: p.id.clone(),
        status: p.status,
        amount: p.amount,
        currency: p.currency,
        installments: p.installments,
        masked_pan: p.masked_pan.clone(),
        auth_code: p.auth_code.clone(),
        provider_ref: p.provider_ref.clone(),
        bank_code: p.bank_code.clone(),
        message: message_of(&p.message_tr, &p.message_en),
        next_action,
        created_at: rfc3339(p.created_at),
        pos_id: p.pos_id.clone(),
        order_ref: p.order_ref.clone(),
        customer_ref: p.customer_ref.clone(),
        description: p.description.clone(),
        channel: p.channel,
        three_d: p.three_d,
        authorized_amount: p.authorized_amount,
        refunded_amount: p.refunded_amount,
        business_date: p.business_date.clone(),
        review_reason: p.review_reason.clone(),
        created_by: p.created_by.clone(),
        updated_at: rfc3339(p.updated_at),
        capture: if p.pre_auth {
            CaptureMode::Manual
        } else {
            CaptureMode::Automatic
        },
        held_amount: p.held_amount,
        hold_until: p.hold_until.map(rfc3339),
        hold_ends_soon: crate::pre_auth::hold_ends_soon(p, service.now_ms()),
    }
}

/// A card scheme as payments store it (`visa`, `mastercard`), `unknown` when unnamed.
pub(crate) fn brand_name(brand: sanalpos_core::CardBrand) -> String {
    serde_json::to_value(brand)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// The provider client of a POS (cached per version).
pub(crate) fn gateway_for(
    service: &PaymentService,
    pos: &PosRecord,
) -> Result<Arc<dyn Gateway>, ServiceError> {
    service.inner.gateways.get(
        &service.inner.crypto,
        pos,
        service.inner.config.provider_timeout,
        service.inner.config.breaker,
    )
}

/// A new attempt record, dispatched now.
pub(crate) fn dispatched(
    payment: &PaymentRecord,
    operation: Operation,
    client_ref: &str,
    amount: Kurus,
    now: i64,
) -> AttemptRecord {
    AttemptRecord {
        id: new_id("att"),
        payment_id: payment.id.clone(),
        company_id: payment.company_id.clone(),
        operation,
        client_ref: client_ref.to_owned(),
        state: AttemptState::Dispatched,
        outcome: None,
        bank_code: None,
        message: None,
        http_status: None,
        latency_ms: None,
        raw: None,
        amount,
        started_at: now,
        finished_at: None,
    }
}

/// Records a finish; the payment as the store left it.
pub(crate) async fn record(
    service: &PaymentService,
    payment: PaymentRecord,
    finish: FinishAttempt,
) -> Result<PaymentRecord, ServiceError> {
    let finished = service.inner.store.finish_attempt(finish).await?;
    match finished.payment {
        Some(now) => Ok(now),
        None => Ok(service
            .inner
            .store
            .get_payment(&payment.company_id, &payment.id)
            .await?),
    }
}

pub(crate) async fn create_payment_once(
    service: &PaymentService,
    caller: &Actor,
    key: &str,
    request: CreatePayment,
    answer: KeyAnswerFn,
) -> Result<CreatedOnce, ServiceError> {
    if let Some(payment) = service
        .inner
        .store
        .payment_for_key(&caller.company_id, key)
        .await?
    {
        return Ok(existed(service, &payment));
    }
    let made = create_payment_for(
        service,
        caller,
        request,
        KeyUse::Held(key),
        None,
        None,
        Some(answer),
    )
    .await;
    match once(service, caller, key, made).await? {
        ClaimedPayment::Done(created) => Ok(*created),
        ClaimedPayment::KeyTaken | ClaimedPayment::OverLimit(_) => Err(ServiceError::Storage(
            "a held key was refused as a claim".into(),
        )),
    }
}

pub(crate) async fn create_payment_claiming(
    service: &PaymentService,
    caller: &SaleCaller,
    claim: &KeyClaim,
    request: CreatePayment,
    answer: KeyAnswerFn,
) -> Result<ClaimedPayment, ServiceError> {
    let actor = caller.caller.actor();
    let made = create_payment_for(
        service,
        &actor,
        request,
        KeyUse::Claim(claim, caller),
        None,
        None,
        Some(answer),
    )
    .await;
    once(service, &actor, &claim.key, made).await
}

fn existed(service: &PaymentService, payment: &PaymentRecord) -> CreatedOnce {
    CreatedOnce {
        payment: view(service, payment),
        existed: true,
        answer_kept: false,
    }
}

/// What a payment made under a key answers: a key that already created a payment (its
/// first request died after sending it) gets that payment as it stands, never a second
/// sale.
async fn once(
    service: &PaymentService,
    caller: &Actor,
    key: &str,
    made: Result<Made, ServiceError>,
) -> Result<ClaimedPayment, ServiceError> {
    match made {
        Err(ServiceError::Conflict {
            code: "idempotency_key_has_payment",
            ..
        }) => match service
            .inner
            .store
            .payment_for_key(&caller.company_id, key)
            .await?
        {
            Some(payment) => Ok(ClaimedPayment::Done(Box::new(existed(service, &payment)))),
            None => Err(ServiceError::Storage(
                "the key's payment disappeared".into(),
            )),
        },
        Err(e) => Err(e),
        Ok(Made::Payment(payment, answer_kept)) => {
            Ok(ClaimedPayment::Done(Box::new(CreatedOnce {
                payment: *payment,
                existed: false,
                answer_kept,
            })))
        }
        Ok(Made::KeyTaken) => Ok(ClaimedPayment::KeyTaken),
        Ok(Made::OverLimit(counts)) => Ok(ClaimedPayment::OverLimit(counts)),
    }
}

pub(crate) async fn create_payment(
    service: &PaymentService,
    caller: &Actor,
    request: CreatePayment,
    key: Option<&str>,
) -> Result<PaymentView, ServiceError> {
    let key = key.map_or(KeyUse::None, KeyUse::Held);
    match create_payment_for(service, caller, request, key, None, None, None).await? {
        Made::Payment(view, _) => Ok(*view),
        Made::KeyTaken | Made::OverLimit(_) => Err(ServiceError::Storage(
            "a payment without a claim was refused as a claim".into(),
        )),
    }
}

/// Makes a payment; with `session_id`, the payment is written together with the claim
/// of that checkout session (which fails when the session cannot be paid). With
/// `blocked` (a locked session), or when a velocity limit refuses the card or the
/// client IP, the attempt is written as `blocked` and the provider never hears of it.
/// With `key` and `answer`, the key's answer is stored in the transaction that records
/// the outcome; the flag says whether it was.
pub(crate) async fn create_payment_for(
    service: &PaymentService,
    caller: &Actor,
    request: CreatePayment,
    key: KeyUse<'_>,
    session_id: Option<&str>,
    blocked: Option<BlockReason>,
    answer: Option<KeyAnswerFn>,
) -> Result<Made, ServiceError> {
    if let CardVaultUse::StoredCard(_) = &request.vault {
        return crate::stored_card_payments::create_stored_card_payment(
            service, caller, request, key, session_id, blocked, answer,
        )
        .await;
    }
    // Validate everything before anything is written.
    if request.amount == Kurus::ZERO {
        return Err(ServiceError::validation("amount", "must be more than zero"));
    }
    if request.installments == 0 {
        return Err(ServiceError::validation(
            "installments",
            "1 for a single payment",
        ));
    }
    let parsed = parse_card(&request.card)?;
    let return_url = if request.three_d {
        let url = request.return_url.as_deref().map(ReturnUrl::parse);
        let Some(Ok(url)) = url else {
            return Err(ServiceError::validation(
                "return_url",
                "3D payments need an absolute http(s) return_url",
            ));
        };
        Some(url)
    } else {
        None
    };
    let (order_ref, customer_ref) =
        check_refs(&request.order_ref, &request.customer_ref, |e| e.to_string())?;
    let description = check_text("description", &request.description, 500)?;
    let card = &parsed.card;
    let card_fingerprint = service.inner.crypto.card_fingerprint(&card.number);
    let client_ip = request.client_ip.map(|ip| ip.to_string());
    // The POS comes from the definitions this instance keeps (no read when they are
    // there); the card's and address's recent declines are read, with the settings
    // epoch that says whether the kept POS and the caller's key still hold. Both at
    // once: a sale waits for one round trip at most.
    let company_id = &caller.company_id;
    let pos_id = request.pos_id.as_deref();
    let (kept_pos, velocity) = tokio::try_join!(
        crate::pos_choice::choose_kept_pos(service, company_id, pos_id, request.currency),
        async {
            match blocked {
                Some(reason) => Ok(Velocity::refused(reason)),
                None => {
                    crate::abuse::velocity(service, &card_fingerprint, client_ip.as_deref()).await
                }
            }
        }
    )?;
    let epoch = confirm_claimant(service, key, &velocity).await?;
    let pos = match kept_pos {
        (chosen, label) if label == epoch => chosen,
        _ => {
            crate::pos_choice::choose_pos_after(
                service,
                company_id,
                pos_id,
                request.currency,
                epoch,
            )
            .await
        }
    };
    let pos = offers_installments(pos?, &request)?;
    let pre_auth = request.capture == CaptureMode::Manual;
    if pre_auth
        && !crate::gateways::protocol_of(&pos.protocol)?
            .info()
            .capabilities
            .pre_auth
    {
        return Err(ServiceError::validation(
            "capture",
            "this POS's provider offers no pre-authorisation; use automatic capture",
        ));
    }
    let save = crate::stored_card_payments::save_request(&request, &pos, customer_ref.as_ref())?;
    let gateway = gateway_for(service, &pos)?;

    let blocked = velocity.blocked;

    let now = service.now_ms();
    let client_ref = ClientRef::generate();
    let payment = PaymentRecord {
        id: new_id("pay"),
        company_id: caller.company_id.clone(),
        pos_id: pos.id.clone(),
        status: if request.three_d {
            PaymentStatus::Pending3ds
        } else {
            PaymentStatus::Processing
        },
        amount: request.amount,
        currency: request.currency,
        installments: request.installments,
        masked_pan: card.number.masked().as_str().to_owned(),
        card_fingerprint,
        card_brand: brand_name(card.number.brand()),
        auth_code: None,
        provider_ref: None,
        bank_code: None,
        message_tr: None,
        message_en: None,
        channel: request.channel,
        order_ref: order_ref.map(String::from),
        customer_ref: customer_ref.map(String::from),
        description: description.clone(),
        three_d: request.three_d,
        return_url: return_url.map(String::from),
        three_d_token: request.three_d.then(new_token),
        three_d_html: None,
        sale_client_ref: client_ref.to_string(),
        authorized_amount: None,
        refunded_amount: Kurus::ZERO,
        business_date: business_date(now).to_string(),
        review_reason: None,
        created_by: caller.name.clone(),
        created_at: now,
        updated_at: now,
        client_ip,
        pre_auth,
        held_amount: pre_auth.then_some(request.amount),
        hold_until: pre_auth.then(|| crate::pre_auth::hold_until(now, pos.pre_auth_hold_days)),
    };
    let operation = if request.three_d {
        Operation::Start3d
    } else {
        Operation::Sale
    };
    let attempt = dispatched(
        &payment,
        operation,
        client_ref.as_str(),
        request.amount,
        service.now_ms(),
    );
    if let Some(reason) = blocked {
        drop(parsed);
        return record_blocked(service, payment, attempt, key, session_id, reason).await;
    }
    let attempt_id = attempt.id.clone();
    let sale = SaleRequest {
        client_ref,
        amount: request.amount,
        currency: request.currency,
        installments: request.installments,
        card: parsed.card,
        description,
        cardholder_ip: request.cardholder_ip,
        pre_auth,
    };
    // The attempt is durable before the provider hears of it.
    if let Some(instead) = begin(service, &payment, attempt, key, session_id).await? {
        return Ok(instead);
    }
    tracing::debug!(payment.id = %payment.id, pos.id = %pos.id, three_d = request.three_d, "payment dispatched");

    let finish = if request.three_d {
        let token = payment.three_d_token.clone().unwrap_or_default();
        let back = format!(
            "{}/3d/{token}/return",
            service.inner.config.public_base_url.trim_end_matches('/')
        );
        let urls = ReturnUrls {
            success: back.clone(),
            fail: back,
        };
        let started = crate::stored_card_payments::start_3d(
            service,
            gateway.as_ref(),
            &payment,
            &sale,
            &urls,
            save,
        )
        .await;
        match started {
            ThreeDStart::Redirect {
                html,
                provider_ref,
                holds_card,
                latency,
            } => {
                let mut change = PaymentChange::to(
                    &payment.id,
                    &[PaymentStatus::Pending3ds],
                    PaymentStatus::Pending3ds,
                );
                if holds_card {
                    service
                        .inner
                        .card_forms
                        .hold(&token, html, service.inner.config.three_d_ttl);
                } else {
                    change.three_d_html = Some(html);
                }
                change.provider_ref = provider_ref;
                FinishAttempt {
                    result: Some(AttemptResult {
                        attempt_id,
                        outcome: AttemptOutcome::Pending,
                        bank_code: None,
                        message: Some("3D started".into()),
                        http_status: Some(200),
                        latency_ms: latency.as_millis() as i64,
                        raw: None,
                        finished_at: service.now_ms(),
                    }),
                    new_attempt: None,
                    events: crate::events::for_change(&change),
                    payment: Some(change),
                    refund: None,
                    audit: Vec::new(),
                    pos_health: Some(PosHealth {
                        company_id: pos.company_id.clone(),
                        pos_id: pos.id.clone(),
                        error: None,
                    }),
                    answer: None,
                }
            }
            ThreeDStart::Finished(response) => sale_finish(
                &payment,
                &attempt_id,
                &caller.name,
                &response,
                &[PaymentStatus::Pending3ds],
                service.now_ms(),
            ),
        }
    } else {
        let response = gateway.sale(&sale).await;
        sale_finish(
            &payment,
            &attempt_id,
            &caller.name,
            &response,
            &[PaymentStatus::Processing],
            service.now_ms(),
        )
    };
    drop(sale);
    record_sale(service, &payment, finish, key, answer).await
}

/// Records how a sale's call ended, with the key's answer in the same transaction when
/// the payment was made under a key; the POS's `last_success_at` is written at most
/// once a second. The payment as the transaction left it.
pub(crate) async fn record_sale(
    service: &PaymentService,
    payment: &PaymentRecord,
    mut finish: FinishAttempt,
    key: KeyUse<'_>,
    answer: Option<KeyAnswerFn>,
) -> Result<Made, ServiceError> {
    let fresh_success = finish.pos_health.as_ref().is_some_and(|h| {
        h.error.is_none() && !service.inner.successes.due(&h.pos_id, service.now_ms())
    });
    if fresh_success {
        finish.pos_health = None;
    }
    if let (Some(key), Some(answer)) = (key.name(), answer) {
        let owner = service.clone();
        finish.answer = Some(KeyAnswer {
            company_id: payment.company_id.clone(),
            key: key.to_owned(),
            render: Arc::new(move |stored| answer(&view(&owner, stored))),
        });
    }
    let finished = service.inner.store.finish_attempt(finish).await?;
    let answered = finished.answered;
    let payment = match finished.payment {
        Some(now) => now,
        None => {
            service
                .inner
                .store
                .get_payment(&payment.company_id, &payment.id)
                .await?
        }
    };
    Ok(Made::Payment(Box::new(view(service, &payment)), answered))
}

/// The idempotency key a payment is made under.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyUse<'a> {
    /// None (the hosted page and the back office's own calls).
    None,
    /// A key the front end claimed before: linked to the payment as it is written.
    Held(&'a str),
    /// A key claimed, and the request counted, in the transaction that writes the
    /// payment; by an API caller taken from the kept keys, to confirm before writing
    /// ([`confirm_claimant`]).
    Claim(&'a KeyClaim, &'a SaleCaller),
}

impl KeyUse<'_> {
    pub(crate) fn name(&self) -> Option<&str> {
        match self {
            KeyUse::None => None,
            KeyUse::Held(key) => Some(key),
            KeyUse::Claim(claim, _) => Some(&claim.key),
        }
    }
}

/// The settings epoch as the decline counts brought it (else read), after confirming
/// with it the API caller of a claimed sale, authenticated before it and before
/// anything is written: a key revoked since it was kept is
/// [`ServiceError::Unauthorized`].
pub(crate) async fn confirm_claimant(
    service: &PaymentService,
    key: KeyUse<'_>,
    velocity: &Velocity,
) -> Result<i64, ServiceError> {
    let epoch = match velocity.settings_epoch {
        Some(epoch) => epoch,
        None => service.inner.store.settings_epoch().await?,
    };
    match key {
        KeyUse::Claim(_, caller) => {
            crate::admin::confirm_sale_caller(service, caller, epoch).await?
        }
        KeyUse::None | KeyUse::Held(_) => service.inner.settings.saw(epoch),
    }
    Ok(epoch)
}

/// What making a payment under a key ended in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Made {
    /// The payment, and whether the key's answer was stored with its outcome.
    Payment(Box<PaymentView>, bool),
    /// The key was not free: nothing was written.
    KeyTaken,
    /// A rate limit was reached: nothing sent, the counts by scope.
    OverLimit(Vec<(String, i64)>),
}

/// Writes the payment and its dispatched attempt, with the session's claim or the
/// key's link (or claim); `Some` with what to answer when the payment was not written.
pub(crate) async fn begin(
    service: &PaymentService,
    payment: &PaymentRecord,
    attempt: AttemptRecord,
    key: KeyUse<'_>,
    session_id: Option<&str>,
) -> Result<Option<Made>, ServiceError> {
    let store = &service.inner.store;
    match (session_id, key) {
        (Some(session_id), _) => {
            store
                .begin_session_payment(session_id, payment.clone(), attempt)
                .await?
        }
        (None, KeyUse::Held(key)) => {
            store
                .begin_keyed_payment(payment.clone(), attempt, key.to_owned())
                .await?
        }
        (None, KeyUse::Claim(claim, _)) => {
            match store
                .begin_claimed_payment(payment.clone(), attempt, claim.clone())
                .await?
            {
                ClaimedBegin::Started => {}
                ClaimedBegin::KeyTaken => return Ok(Some(Made::KeyTaken)),
                ClaimedBegin::OverLimit(counts) => return Ok(Some(Made::OverLimit(counts))),
            }
        }
        (None, KeyUse::None) => store.begin_payment(payment.clone(), attempt).await?,
    }
    Ok(None)
}

/// Writes a refused attempt: the payment as `blocked` with the cardholder's message,
/// its attempt completed at once with the reason; nothing goes to the provider.
pub(crate) async fn record_blocked(
    service: &PaymentService,
    mut payment: PaymentRecord,
    mut attempt: AttemptRecord,
    key: KeyUse<'_>,
    session_id: Option<&str>,
    reason: BlockReason,
) -> Result<Made, ServiceError> {
    payment.status = PaymentStatus::Blocked;
    payment.three_d_token = None;
    payment.message_tr = Some(block_message(Lang::Tr, reason.as_str()).to_owned());
    payment.message_en = Some(block_message(Lang::En, reason.as_str()).to_owned());
    attempt.state = AttemptState::Completed;
    attempt.outcome = Some(AttemptOutcome::Failed);
    attempt.message = Some(format!("blocked: {}", reason.as_str()));
    attempt.latency_ms = Some(0);
    attempt.finished_at = Some(attempt.started_at);
    if let Some(instead) = begin(service, &payment, attempt, key, session_id).await? {
        return Ok(instead);
    }
    service.inner.blocked.count(reason);
    tracing::info!(payment.id = %payment.id, reason = reason.as_str(), "attempt refused before the provider");
    Ok(Made::Payment(Box::new(view(service, &payment)), false))
}

pub(crate) async fn get_payment(
    service: &PaymentService,
    company_id: &str,
    id: &str,
) -> Result<PaymentDetail, ServiceError> {
    let payment = service.inner.store.get_payment(company_id, id).await?;
    let attempts = service.inner.store.list_attempts(id).await?;
    let refunds = service.inner.store.list_refunds(id).await?;
    Ok(PaymentDetail {
        payment: view(service, &payment),
        attempts: attempts.iter().map(AttemptView::from).collect(),
        refunds: refunds.iter().map(RefundView::from).collect(),
    })
}

pub(crate) fn encode_cursor(created_at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{created_at}:{id}"))
}

pub(crate) fn decode_cursor(cursor: &str) -> Option<(i64, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (at, id) = text.split_once(':')?;
    Some((at.parse().ok()?, id.to_owned()))
}

pub(crate) async fn list_payments(
    service: &PaymentService,
    company_id: &str,
    filter: PaymentFilter,
) -> Result<PaymentPage, ServiceError> {
    let limit = filter.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ServiceError::validation("limit", "1 to 200"));
    }
    let after = match &filter.cursor {
        Some(cursor) => Some(
            decode_cursor(cursor)
                .ok_or_else(|| ServiceError::validation("cursor", "not a cursor from this API"))?,
        ),
        None => None,
    };
    let mut query = crate::reports::query_of(&filter)?;
    query.after = after;
    query.limit = limit + 1;
    let mut rows = service
        .inner
        .store
        .list_payments(company_id, &query)
        .await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|p| encode_cursor(p.created_at, &p.id))
    } else {
        None
    };
    Ok(PaymentPage {
        items: rows.iter().map(|p| view(service, p)).collect(),
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let c = encode_cursor(1_700_000_000_123, "pay_abc");
        assert_eq!(
            decode_cursor(&c),
            Some((1_700_000_000_123, "pay_abc".into()))
        );
        assert_eq!(decode_cursor("!!"), None);
    }
}
