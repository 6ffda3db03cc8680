//! Online Tahsilat (Sanal POS): a person takes a card payment over the phone.
//!
//! The form carries a one-time key rendered with it; the POST runs at most once per key
//! (the database's idempotency table, scoped to the company), so a double click or a
//! reload never charges twice, and answers with a redirect (PRG): to the bank's 3D page,
//! or to the result page.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use sanalpos_core::{Currency, Kurus, Lang};
use sanalpos_service::{
    CaptureMode, CardInput, CardVaultUse, Channel, Claim, CreatePayment, KeyAnswerFn,
    PaymentStatus, PosView, ServiceError, StoredCardState, StoredCardView,
};
use sanalpos_store::new_token;

use super::format::{money, parse_amount, when};
use super::layout::{csrf, notice, page, Nav};
use super::session::{Ctx, Perm, UiError};
use crate::AppState;

/// The collection form as sent (card fields never go back into a page).
#[derive(Deserialize, Default)]
pub struct CollectForm {
    #[serde(default)]
    idem: String,
    #[serde(default)]
    customer_ref: String,
    #[serde(default)]
    order_ref: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    pos_id: String,
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    expiry_month: String,
    #[serde(default)]
    expiry_year: String,
    #[serde(default)]
    cvv: String,
    #[serde(default)]
    holder: String,
    #[serde(default)]
    installments: String,
    #[serde(default)]
    three_d: Option<String>,
    #[serde(default)]
    pre_auth: Option<String>,
    /// The customer's stored card chosen to pay with (`card_…`); empty: the card typed.
    #[serde(default)]
    stored_card: String,
    /// Keep the typed card for the customer (3D only), under `card_alias`.
    #[serde(default)]
    save_card: Option<String>,
    #[serde(default)]
    card_alias: String,
}

/// `GET /ui/collect?customer_ref=…`: the form, with that customer's stored cards.
#[derive(Deserialize, Default)]
pub struct CollectQuery {
    #[serde(default)]
    customer_ref: String,
}

/// The stored cards of a customer not deleted yet (active, and those whose delete the
/// provider has not confirmed), for the form; none when the reference is empty or not a
/// reference (the form's own check says so on submit).
async fn customer_cards(state: &AppState, ctx: &Ctx, customer_ref: &str) -> Vec<StoredCardView> {
    let customer_ref = customer_ref.trim();
    if customer_ref.is_empty() {
        return Vec::new();
    }
    match state
        .service
        .list_stored_cards(ctx.company_id(), customer_ref)
        .await
    {
        Ok(cards) => cards,
        Err(e) => {
            tracing::debug!(error = %e, "stored cards not listed for the form");
            Vec::new()
        }
    }
}

fn active_pos(all: Vec<PosView>) -> Vec<PosView> {
    all.into_iter()
        .filter(sanalpos_service::PaymentService::pos_is_active)
        .collect()
}

/// The company's own currency, the one a clerk means when they type an amount.
///
/// Companies carry no currency setting yet, so every company collects in lira by
/// default; a setting would replace this one function.
fn company_currency(_ctx: &Ctx) -> Currency {
    Currency::Try
}

/// The currency chosen on the form: the one sent back, else the company's when a POS
/// takes it, else the first one offered. Never left to the browser, which would pick
/// the first option (USD sorts before TRY).
fn chosen_currency(previous: &str, home: Currency, offered: &[Currency]) -> Option<Currency> {
    Currency::from_alpha(previous)
        .filter(|c| offered.contains(c))
        .or_else(|| offered.contains(&home).then_some(home))
        .or_else(|| offered.first().copied())
}

fn form_page(
    ctx: &Ctx,
    pos: &[PosView],
    cards: &[StoredCardView],
    previous: &CollectForm,
    error: Option<&str>,
) -> Markup {
    form_page_with(ctx, pos, cards, previous, error, None)
}

/// The form, with a notice above it (`kind`: `ok`, `warn`, `error`).
fn form_page_with(
    ctx: &Ctx,
    pos: &[PosView],
    cards: &[StoredCardView],
    previous: &CollectForm,
    error: Option<&str>,
    note: Option<(&str, String)>,
) -> Markup {
    let t = ctx.t();
    let mut currencies: Vec<Currency> = pos.iter().flat_map(|p| p.currencies.clone()).collect();
    currencies.sort_by_key(|c| c.numeric());
    currencies.dedup();
    if currencies.is_empty() {
        currencies.push(Currency::Try);
    }
    let chosen = chosen_currency(&previous.currency, company_currency(ctx), &currencies);
    let idem = new_token();
    let body = html! {
        @if let Some(error) = error { div.notice.error #form-error role="alert" { (error) } }
        @if let Some((kind, text)) = &note { div #card-notice class=(format!("notice {kind}")) role="status" { (text) } }
        @if pos.is_empty() { (notice("warn", t.err_no_pos)) }
        @if pos.iter().any(|p| p.card_storage) {
            form #cards-lookup.inline method="get" action="/ui/collect" {
                label { (t.stored_cards_of) input #lookup_customer_ref name="customer_ref" value=(previous.customer_ref) maxlength="100"; }
                button #lookup-cards type="submit" { (t.show_stored_cards) }
            }
        }
        @if !cards.is_empty() {
            table.dense #card-list {
                thead { tr { th { (t.card) } th { (t.card_alias) } th { (t.status) } th { } } }
                tbody {
                    @for c in cards {
                        tr data-card=(c.id) {
                            td { (c.masked_pan) @if !c.brand.is_empty() { " · " (c.brand) } }
                            td { (c.alias) }
                            @if c.state == StoredCardState::Active {
                                td { (t.card_active) }
                                td {
                                    form.inline.card-delete method="post" action=(format!("/ui/collect/cards/{}/delete", c.id)) {
                                        (csrf(ctx))
                                        input type="hidden" name="customer_ref" value=(c.customer_ref);
                                        label.check { input.card-delete-confirm type="checkbox" name="confirm"; (t.confirm_box) }
                                        button.card-delete-submit type="submit" { (t.delete_card) }
                                    }
                                }
                            } @else {
                                td.card-deleting { (t.card_deleting) @if let Some(e) = &c.delete_error { " (" (e) ")" } }
                                td { }
                            }
                        }
                    }
                }
            }
        }
        form #collect-form.grid method="post" action="/ui/collect" autocomplete="off" {
            (csrf(ctx))
            input type="hidden" name="idem" value=(idem);
            fieldset {
                legend { (t.customer_ref) " / " (t.order_ref) }
                label { (t.customer_ref) input #customer_ref name="customer_ref" value=(previous.customer_ref) maxlength="100"; }
                label { (t.order_ref) input #order_ref name="order_ref" value=(previous.order_ref) maxlength="100"; }
                label { (t.description) input #description name="description" value=(previous.description) maxlength="500"; }
            }
            fieldset {
                legend { (t.amount) }
                label { (t.amount)
                    span.with-unit {
                        input #amount name="amount" value=(previous.amount) inputmode="decimal" required placeholder=(if ctx.lang == Lang::Tr { "1.234,56" } else { "1,234.56" });
                        span.unit #amount-currency { (chosen.map(Currency::alpha).unwrap_or_default()) }
                    }
                }
                label { (t.currency)
                    select #currency name="currency" {
                        @for c in &currencies {
                            option value=(c.alpha()) selected[chosen == Some(*c)] { (c.alpha()) }
                        }
                    }
                }
                @if pos.len() > 1 {
                    label { (t.pos)
                        select #pos_id name="pos_id" {
                            option value="" { (t.pos_auto) }
                            @for p in pos { option value=(p.id) selected[previous.pos_id == p.id] { (p.name) } }
                        }
                    }
                }
            }
            @if cards.iter().any(|c| c.state == StoredCardState::Active) {
                fieldset #stored-cards {
                    legend { (t.stored_cards) }
                    label.check { input #stored_card_none type="radio" name="stored_card" value="" checked[previous.stored_card.is_empty()]; (t.new_card) }
                    @for c in cards.iter().filter(|c| c.state == StoredCardState::Active) {
                        label.check {
                            input.stored-card type="radio" name="stored_card" value=(c.id) checked[previous.stored_card == c.id];
                            (c.masked_pan) @if !c.brand.is_empty() { " · " (c.brand) } @if !c.alias.is_empty() { " · " (c.alias) }
                        }
                    }
                    p.hint { (t.stored_card_hint) }
                }
            }
            fieldset {
                legend { (t.card) }
                label { (t.card_number) input #card_number name="card_number" inputmode="numeric" autocomplete="off" required[cards.is_empty()] maxlength="23"; }
                label { (t.expiry)
                    span.expiry {
                        input #expiry_month name="expiry_month" inputmode="numeric" maxlength="2" size="2" required[cards.is_empty()] placeholder="MM";
                        " / "
                        input #expiry_year name="expiry_year" inputmode="numeric" maxlength="4" size="4" required[cards.is_empty()] placeholder="YYYY";
                    }
                }
                label { (t.cvv) input #cvv name="cvv" type="password" inputmode="numeric" maxlength="4" size="4" required[cards.is_empty()] autocomplete="off"; }
                label { (t.card_holder) input #holder name="holder" value=(previous.holder) maxlength="100"; }
            }
            fieldset {
                legend { (t.installments) }
                label { (t.installments)
                    select #installments name="installments" data-single=(t.single_payment) {
                        option value="1" { (t.single_payment) }
                    }
                }
                p.hint #installment-hint { (t.installment_hint) }
                label.check { input #three_d type="checkbox" name="three_d" checked[previous.three_d.is_some()]; (t.three_d) }
                @if pos.iter().any(|p| p.card_storage) {
                    label.check { input #save_card type="checkbox" name="save_card" checked[previous.save_card.is_some()]; (t.save_card) }
                    label { (t.card_alias) input #card_alias name="card_alias" value=(previous.card_alias) maxlength="50"; }
                }
                @if pos.iter().any(|p| p.pre_auth) {
                    label.check { input #pre_auth type="checkbox" name="pre_auth" checked[previous.pre_auth.is_some()]; (t.collect_pre_auth) }
                }
            }
            button #collect-submit type="submit" { (t.collect_submit) }
        }
    };
    page(ctx, t.collect_title, Nav::Collect, body)
}

/// `GET /ui/collect`; with `customer_ref`, that customer's stored cards to choose from.
pub async fn form(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<CollectQuery>,
) -> Result<Markup, UiError> {
    ctx.require(Perm::Collect)?;
    let pos = state
        .service
        .list_pos(ctx.company_id())
        .await
        .map_err(|e| ctx.fail(e))?;
    let cards = customer_cards(&state, &ctx, &q.customer_ref).await;
    let previous = CollectForm {
        three_d: None,
        customer_ref: q.customer_ref.trim().to_owned(),
        ..CollectForm::default()
    };
    Ok(form_page(&ctx, &active_pos(pos), &cards, &previous, None))
}

fn request_hash(form: &CollectForm, amount: Kurus) -> String {
    // The card is left out on purpose: a hash of a card number is not stored anywhere.
    let text = json!([
        amount.minor(),
        form.currency,
        form.installments,
        form.three_d.is_some(),
        form.pre_auth.is_some(),
        form.stored_card,
        form.save_card.is_some(),
        form.card_alias,
        form.customer_ref,
        form.order_ref,
        form.description,
        form.pos_id,
    ])
    .to_string();
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn opt(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn error_text(ctx: &Ctx, e: &ServiceError) -> String {
    let t = ctx.t();
    match e {
        ServiceError::Validation { field, message } => match field.as_ref() {
            "amount" => t.amount_invalid.into(),
            "card.number" => t.err_card_number.into(),
            "card.expiry_month" | "card.expiry_year" | "card.expiry" => t.err_expiry.into(),
            "card.cvv" => t.err_cvv.into(),
            "installments" => t.err_installments.into(),
            other => format!("{} ({other}): {message}", t.err_field),
        },
        ServiceError::NoActivePos => t.err_no_pos.into(),
        ServiceError::Conflict { message, .. } | ServiceError::Provider { message, .. } => {
            message.clone()
        }
        _ => t.error_text.into(),
    }
}

fn after_payment(payment_id: &str, next: Option<String>) -> Response {
    match next {
        Some(url) => Redirect::to(&url).into_response(),
        None => Redirect::to(&format!("/ui/payments/{payment_id}/result")).into_response(),
    }
}

/// `POST /ui/collect`.
pub async fn submit(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<CollectForm>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Collect)?;
    let t = ctx.t();
    let service = &state.service;
    let pos = active_pos(
        service
            .list_pos(ctx.company_id())
            .await
            .map_err(|e| ctx.fail(e))?,
    );
    let cards = customer_cards(&state, &ctx, &form.customer_ref).await;
    let retry = |form: &CollectForm, message: &str| -> Response {
        let kept = CollectForm {
            customer_ref: form.customer_ref.clone(),
            order_ref: form.order_ref.clone(),
            description: form.description.clone(),
            amount: form.amount.clone(),
            currency: form.currency.clone(),
            pos_id: form.pos_id.clone(),
            holder: form.holder.clone(),
            three_d: form.three_d.clone(),
            pre_auth: form.pre_auth.clone(),
            stored_card: form.stored_card.clone(),
            save_card: form.save_card.clone(),
            card_alias: form.card_alias.clone(),
            ..CollectForm::default()
        };
        (
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            form_page(&ctx, &pos, &cards, &kept, Some(message)),
        )
            .into_response()
    };
    if form.idem.len() != 64 || !form.idem.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(retry(&form, t.err_form_used));
    }
    let Some(amount) = parse_amount(ctx.lang, &form.amount).filter(|a| a.minor() > 0) else {
        return Ok(retry(&form, t.amount_invalid));
    };
    let Some(currency) = Currency::from_alpha(&form.currency) else {
        return Ok(retry(&form, t.amount_invalid));
    };
    let installments: u8 = form.installments.trim().parse().unwrap_or(1);
    let key = format!("ui:{}", form.idem);
    let hash = request_hash(&form, amount);
    let claim = service
        .claim_idempotency_key(ctx.company_id(), &key, &hash, Vec::new())
        .await
        .map_err(|e| ctx.fail(e))?;
    match claim {
        Claim::Started(_) => {}
        Claim::Replay { body, .. } => {
            return Ok(match KeptAnswer::parse(&body) {
                Some(kept) => Redirect::to(&format!("/ui/payments/{}/result", kept.payment_id))
                    .into_response(),
                None => retry(&form, t.in_progress),
            })
        }
        Claim::Mismatch => return Ok(retry(&form, t.err_form_used)),
        Claim::InProgress => return Ok(retry(&form, t.in_progress)),
    }
    let release = || async {
        if let Err(e) = service
            .release_idempotency_key(ctx.company_id(), &key)
            .await
        {
            tracing::error!(error = %e, "idempotency key not released");
        }
    };
    // Counted once the charge is about to run (a reload answered from its key is not);
    // over the user's limit the key is given back and nothing is sent.
    if let Err(refused) = state.limiter.collect(&ctx.session.user_id).await {
        release().await;
        let message = t
            .collect_rate_limited
            .replace("{limit}", &refused.limit.to_string())
            .replace("{minutes}", &refused.window_secs.div_ceil(60).to_string())
            .replace("{seconds}", &refused.retry_after.to_string());
        let mut response = retry(&form, &message);
        *response.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
        return Ok(response);
    }
    let three_d = form.three_d.is_some();
    let request = CreatePayment {
        amount,
        currency,
        installments,
        card: CardInput {
            number: form.card_number.clone(),
            expiry_month: form.expiry_month.clone(),
            expiry_year: form.expiry_year.clone(),
            cvv: form.cvv.clone(),
            holder: form.holder.clone(),
        },
        vault: if !form.stored_card.trim().is_empty() {
            CardVaultUse::StoredCard(form.stored_card.trim().to_owned())
        } else if form.save_card.is_some() {
            CardVaultUse::SaveCard {
                alias: form.card_alias.trim().to_owned(),
            }
        } else {
            CardVaultUse::None
        },
        three_d,
        capture: if form.pre_auth.is_some() {
            CaptureMode::Manual
        } else {
            CaptureMode::Automatic
        },
        return_url: three_d.then(|| {
            format!(
                "{}/ui/collect/return",
                service.config().public_base_url.trim_end_matches('/')
            )
        }),
        order_ref: opt(&form.order_ref),
        customer_ref: opt(&form.customer_ref),
        description: opt(&form.description),
        pos_id: opt(&form.pos_id),
        channel: Channel::Moto,
        cardholder_ip: None,
        // The staff's own address is not the cardholder's: the per-IP velocity limit
        // does not apply here (the per-card one does).
        client_ip: None,
    };
    // The key is linked to the payment as it is created: a submission that takes the
    // key over after the first one died gets that payment, never a second sale.
    let answer: KeyAnswerFn = Arc::new(|payment| {
        let kept = KeptAnswer {
            payment_id: payment.id.clone(),
        };
        (201, kept.to_json())
    });
    match service
        .create_payment_once(&ctx.actor(), &key, request, answer.clone())
        .await
    {
        Ok(created) => {
            let payment = created.payment;
            if !created.answer_kept {
                let (status, body) = answer(&payment);
                if let Err(e) = service
                    .keep_idempotent_answer(ctx.company_id(), &key, status, &body)
                    .await
                {
                    tracing::error!(error = %e, "idempotency answer not stored");
                }
            }
            Ok(after_payment(
                &payment.id,
                payment.next_action.map(|n| n.redirect_url),
            ))
        }
        Err(e @ ServiceError::Storage(_)) => {
            // Something may have been attempted: keep the key so a retry cannot charge.
            let _ = service
                .keep_idempotent_answer(ctx.company_id(), &key, 500, "{}")
                .await;
            tracing::error!(error = %e, "back office payment failed");
            Err(UiError::Internal(ctx.lang))
        }
        Err(e) => {
            release().await;
            Ok(retry(&form, &error_text(&ctx, &e)))
        }
    }
}

/// What a submitted form's key keeps: the payment it made, which a reload of the same
/// form is shown instead of charging again.
#[derive(Debug, Serialize, Deserialize)]
struct KeptAnswer {
    payment_id: String,
}

impl KeptAnswer {
    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// The kept answer, when it names a payment (a failed submission keeps none).
    fn parse(body: &str) -> Option<KeptAnswer> {
        serde_json::from_str::<KeptAnswer>(body)
            .ok()
            .filter(|k| k.payment_id.starts_with("pay_"))
    }
}

/// Where the 3D round trip comes back.
#[derive(Deserialize)]
pub struct ReturnQuery {
    payment_id: String,
}

/// `GET /ui/collect/return?payment_id=…`: on to the result page.
pub async fn three_d_return(ctx: Ctx, Query(q): Query<ReturnQuery>) -> Result<Response, UiError> {
    ctx.require(Perm::Collect)?;
    if !q.payment_id.starts_with("pay_")
        || !q
            .payment_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(UiError::NotFound(ctx.lang));
    }
    Ok(Redirect::to(&format!("/ui/payments/{}/result", q.payment_id)).into_response())
}

/// The delete form of a stored card.
#[derive(Deserialize)]
pub struct CardDeleteForm {
    #[serde(default)]
    customer_ref: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /ui/collect/cards/{id}/delete`: deletes a customer's stored card at the
/// provider first, behind the confirmation; a delete the provider does not confirm is
/// shown as such (the card cannot pay, and it is tried again in the background).
pub async fn delete_card(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<CardDeleteForm>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Collect)?;
    let t = ctx.t();
    let service = &state.service;
    let message = if form.confirm.is_none() {
        ("error", t.confirm_required.to_owned())
    } else {
        match service
            .delete_stored_card(&ctx.actor(), form.customer_ref.trim(), &id)
            .await
        {
            Ok(card) if card.state == StoredCardState::Deleted => ("ok", t.card_deleted.to_owned()),
            Ok(_) => ("warn", t.card_delete_pending.to_owned()),
            Err(ServiceError::NotFound) => return Err(UiError::NotFound(ctx.lang)),
            Err(ServiceError::Storage(e)) => {
                tracing::error!(error = %e, "stored card delete failed");
                return Err(UiError::Internal(ctx.lang));
            }
            Err(e) => ("error", error_text(&ctx, &e)),
        }
    };
    let pos = active_pos(
        service
            .list_pos(ctx.company_id())
            .await
            .map_err(|e| ctx.fail(e))?,
    );
    let cards = customer_cards(&state, &ctx, &form.customer_ref).await;
    let previous = CollectForm {
        customer_ref: form.customer_ref.trim().to_owned(),
        ..CollectForm::default()
    };
    let page = form_page_with(&ctx, &pos, &cards, &previous, None, Some(message));
    Ok(page.into_response())
}

/// `GET /ui/payments/{id}/result`.
pub async fn result(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Markup, UiError> {
    ctx.require(Perm::ViewPayments)?;
    let t = ctx.t();
    let detail = state
        .service
        .get_payment(ctx.company_id(), &id)
        .await
        .map_err(|e| ctx.fail(e))?;
    let p = &detail.payment;
    let reason = p.message.as_ref().map(|m| match ctx.lang {
        Lang::Tr => m.tr.clone(),
        Lang::En => m.en.clone(),
    });
    let (class, headline) = match p.status {
        PaymentStatus::Approved => ("ok", t.result_approved),
        PaymentStatus::Authorized => ("ok", t.result_authorized),
        PaymentStatus::Declined => ("error", t.result_declined),
        _ => ("warn", t.result_other),
    };
    let body = html! {
        div #result class=(format!("result {class}")) data-status=(p.status.as_str()) {
            h2 #result-headline { (headline) }
            table.kv {
                tr { th { (t.status) } td #result-status { (t.status(p.status)) } }
                tr { th { (t.amount) } td #result-amount data-currency=(p.currency.alpha()) { (money(ctx.lang, p.amount, p.currency)) } }
                @if let Some(authorized) = p.authorized_amount {
                    @if authorized != p.amount { tr { th { (t.total) } td { (money(ctx.lang, authorized, p.currency)) } } }
                }
                tr { th { (t.installments) } td { (p.installments) } }
                tr { th { (t.card) } td { (p.masked_pan) } }
                @if let Some(code) = &p.auth_code { tr { th { (t.auth_code) } td #auth-code { (code) } } }
                @if let Some(r) = &p.provider_ref { tr { th { (t.provider_ref) } td { (r) } } }
                @if let Some(reason) = &reason { tr { th { (t.reason) } td #result-reason { (reason) } } }
                @if let Some(code) = &p.bank_code { tr { th { (t.bank_code) } td { (code) } } }
                tr { th { (t.customer_ref) } td { (p.customer_ref.as_deref().unwrap_or(t.none)) } }
                tr { th { (t.order_ref) } td { (p.order_ref.as_deref().unwrap_or(t.none)) } }
                tr { th { (t.date_time) } td { (when(ctx.lang, &p.created_at)) } }
            }
            p.links {
                @if ctx.can(Perm::Collect) { a #new-payment href="/ui/collect" { (t.new_payment) } " · " }
                a #see-detail href=(format!("/ui/payments/{}", p.id)) { (t.see_detail) }
            }
        }
    };
    Ok(page(&ctx, t.result_title, Nav::Collect, body))
}

/// The installment query of the collection screen.
#[derive(Deserialize)]
pub struct InstallmentQuery {
    bin: String,
    amount: String,
    currency: String,
    #[serde(default)]
    pos_id: String,
}

/// `GET /ui/api/installments?bin=454671&amount=1.234,56&currency=TRY`: the options of
/// this card (count, monthly, total), labelled in the user's language.
pub async fn installments(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<InstallmentQuery>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Collect)?;
    let t = ctx.t();
    let Some(amount) = parse_amount(ctx.lang, &q.amount).filter(|a| a.minor() > 0) else {
        return Ok(Json(json!({ "options": [], "error": t.amount_invalid })).into_response());
    };
    let currency = Currency::from_alpha(&q.currency).unwrap_or(Currency::Try);
    let bin: String = q.bin.chars().filter(char::is_ascii_digit).take(8).collect();
    let pos_id = opt(&q.pos_id);
    match state
        .service
        .installment_choices(ctx.company_id(), pos_id.as_deref(), &bin, amount, currency)
        .await
    {
        Ok(choices) => {
            let options: Vec<_> = choices
                .iter()
                .map(|c| {
                    let label = if c.installments == 1 {
                        format!(
                            "{} — {}",
                            t.single_payment,
                            money(ctx.lang, c.total, currency)
                        )
                    } else if c.surcharge.minor() > 0 {
                        format!(
                            "{} × {} = {} ({} {})",
                            c.installments,
                            money(ctx.lang, c.monthly, currency),
                            money(ctx.lang, c.total, currency),
                            t.surcharge,
                            money(ctx.lang, c.surcharge, currency)
                        )
                    } else {
                        format!(
                            "{} × {} = {}",
                            c.installments,
                            money(ctx.lang, c.monthly, currency),
                            money(ctx.lang, c.total, currency)
                        )
                    };
                    json!({
                        "installments": c.installments,
                        "monthly": c.monthly,
                        "total": c.total,
                        "surcharge": c.surcharge,
                        "label": label,
                    })
                })
                .collect();
            Ok(Json(json!({ "options": options })).into_response())
        }
        Err(e) => Ok(Json(json!({ "options": [], "error": error_text(&ctx, &e) })).into_response()),
    }
}
