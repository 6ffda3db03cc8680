//! Webhooks: the company's endpoints (the signing secret shown once, when made), and
//! for each endpoint its deliveries with every try and the answer it got, with a
//! button to send a delivery again.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};

use sanalpos_service::{DeliveryView, ServiceError, WebhookEndpointView, WEBHOOK_EVENTS};

use super::format::when;
use super::i18n::Texts;
use super::layout::{csrf, notice, page, Nav};
use super::session::{Ctx, Perm, UiError};
use crate::AppState;

/// Deliveries listed on an endpoint's page.
const DELIVERY_LIMIT: u32 = 100;

fn delivery_status(t: &Texts, status: &str) -> &'static str {
    match status {
        "delivered" => t.wh_delivered,
        "failed" => t.wh_given_up,
        _ => t.st_pending,
    }
}

async fn endpoints_page(
    state: &AppState,
    ctx: &Ctx,
    created: Option<(&WebhookEndpointView, &str)>,
    message: Option<&str>,
) -> Result<Markup, UiError> {
    let t = ctx.t();
    let endpoints = state
        .service
        .list_webhook_endpoints(ctx.company_id())
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(page(
        ctx,
        t.nav_webhooks,
        Nav::Webhooks,
        html! {
            p.muted { (t.wh_help) }
            @if let Some(text) = message { (notice("error", text)) }
            @if let Some((endpoint, secret)) = created {
                div.notice.ok #new-secret-box {
                    p { (t.wh_secret_once) }
                    p { (endpoint.url) }
                    code #new-secret { (secret) }
                }
            }
            @if endpoints.is_empty() {
                p.muted { (t.no_data) }
            } @else {
                table #endpoints.dense {
                    thead { tr { th { (t.wh_url) } th { (t.wh_events) } th { (t.created_at) } th { (t.actions) } } }
                    tbody {
                        @for e in &endpoints {
                            tr data-id=(e.id) {
                                td { a href=(format!("/ui/webhooks/{}", e.id)) { (e.url) } }
                                td.mono { (e.events.join(", ")) }
                                td { (when(ctx.lang, &e.created_at)) }
                                td {
                                    a href=(format!("/ui/webhooks/{}", e.id)) { (t.wh_deliveries) }
                                    " "
                                    form.inline method="post" action=(format!("/ui/webhooks/{}/delete", e.id)) {
                                        (csrf(ctx))
                                        label.check { input type="checkbox" name="confirm" required; (t.confirm_box) }
                                        button type="submit" { (t.wh_delete) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { (t.wh_new) }
            form #endpoint-form.grid method="post" action="/ui/webhooks" autocomplete="off" {
                (csrf(ctx))
                label { (t.wh_url) input #endpoint-url name="url" type="url" required maxlength="2000" placeholder="https://"; }
                fieldset {
                    legend { (t.wh_events) }
                    @for event in WEBHOOK_EVENTS {
                        label.check { input type="checkbox" name="event" value=(event) checked; span.mono { (event) } }
                    }
                }
                button #endpoint-submit type="submit" { (t.save) }
            }
        },
    ))
}

/// `GET /ui/webhooks`: the company's endpoints and the form for a new one.
pub async fn list(State(state): State<AppState>, ctx: Ctx) -> Result<Markup, UiError> {
    ctx.require(Perm::Admin)?;
    endpoints_page(&state, &ctx, None, None).await
}

/// `POST /ui/webhooks`: the new endpoint's secret is in this answer only (no redirect,
/// not cached).
pub async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Admin)?;
    let url = fields
        .iter()
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let events: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k == "event")
        .map(|(_, v)| v.clone())
        .collect();
    match state
        .service
        .create_webhook_endpoint(ctx.company_id(), &url, &events, &ctx.actor_name())
        .await
    {
        Ok((endpoint, secret)) => {
            Ok(
                endpoints_page(&state, &ctx, Some((&endpoint, secret.as_str())), None)
                    .await?
                    .into_response(),
            )
        }
        Err(ServiceError::Validation { field, message }) => {
            let text = format!("{} ({field}): {message}", ctx.t().err_field);
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                endpoints_page(&state, &ctx, None, Some(&text)).await?,
            )
                .into_response())
        }
        Err(e) => Err(ctx.fail(e)),
    }
}

/// A confirmation box.
#[derive(serde::Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    confirm: Option<String>,
}

/// `POST /ui/webhooks/{id}/delete`: the endpoint goes, with its pending deliveries.
pub async fn delete(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Admin)?;
    if form.confirm.is_none() {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            endpoints_page(&state, &ctx, None, Some(ctx.t().confirm_required)).await?,
        )
            .into_response());
    }
    state
        .service
        .delete_webhook_endpoint(ctx.company_id(), &id, &ctx.actor_name())
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(Redirect::to("/ui/webhooks").into_response())
}

fn delivery_rows(ctx: &Ctx, endpoint_id: &str, d: &DeliveryView) -> Markup {
    let t = ctx.t();
    html! {
        tr id=(d.id) data-id=(d.id) data-status=(d.status) {
            td { (when(ctx.lang, &d.created_at)) }
            td.mono { (d.event_type) }
            td { span class=(format!("badge {}", d.status)) { (delivery_status(t, d.status)) } }
            td.num { (d.tries) }
            td.num { @if let Some(s) = d.last_http_status { (s) } }
            td { @if let Some(at) = &d.next_attempt_at { (when(ctx.lang, at)) } }
            td { @if let Some(at) = &d.delivered_at { (when(ctx.lang, at)) } }
            td {
                form.inline method="post" action=(format!("/ui/webhooks/{endpoint_id}/deliveries/{}/resend", d.id)) {
                    (csrf(ctx))
                    button type="submit" { (t.wh_resend) }
                }
            }
        }
        tr.tries {
            td colspan="8" {
                details {
                    summary { (t.wh_tries) " (" (d.attempts.len()) ") · " span.mono { (d.event_id) } }
                    @if d.attempts.is_empty() {
                        p.muted { (t.no_data) }
                    } @else {
                        table.dense.try-list {
                            thead { tr { th { "#" } th { (t.date_time) } th { (t.wh_http) } th { (t.wh_answer) } th { (t.wh_next_try) } } }
                            tbody {
                                @for a in &d.attempts {
                                    tr {
                                        td.num { (a.try_no) }
                                        td { (when(ctx.lang, &a.started_at)) }
                                        td.num { @if let Some(s) = a.http_status { (s) } }
                                        td {
                                            @if let Some(error) = &a.error { span.error-text { (error) } }
                                            @if let Some(body) = &a.response { pre.answer { (body) } }
                                        }
                                        td { @if let Some(at) = &a.next_attempt_at { (when(ctx.lang, at)) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /ui/webhooks/{id}`: an endpoint's deliveries, newest first, with every try.
pub async fn deliveries(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Markup, UiError> {
    ctx.require(Perm::Admin)?;
    let t = ctx.t();
    let service = &state.service;
    let endpoint = service
        .list_webhook_endpoints(ctx.company_id())
        .await
        .map_err(|e| ctx.fail(e))?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or(UiError::NotFound(ctx.lang))?;
    let deliveries = service
        .list_webhook_deliveries(ctx.company_id(), &id, DELIVERY_LIMIT)
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(page(
        &ctx,
        t.wh_deliveries,
        Nav::Webhooks,
        html! {
            table.kv #endpoint {
                tr { th { (t.wh_url) } td #endpoint-url { (endpoint.url) } }
                tr { th { (t.wh_events) } td.mono { (endpoint.events.join(", ")) } }
                tr { th { (t.created_at) } td { (when(ctx.lang, &endpoint.created_at)) } }
            }
            p.muted { (t.wh_retry_hint) }
            @if deliveries.is_empty() {
                p.muted { (t.no_data) }
            } @else {
                table #deliveries.dense {
                    thead { tr {
                        th { (t.created_at) } th { (t.event_kind) } th { (t.status) } th { (t.wh_tries) }
                        th { (t.wh_http) } th { (t.wh_next_try) } th { (t.wh_delivered_at) } th { (t.actions) }
                    } }
                    tbody { @for d in &deliveries { (delivery_rows(&ctx, &endpoint.id, d)) } }
                }
            }
            p { a href="/ui/webhooks" { (t.back) } }
        },
    ))
}

/// `POST /ui/webhooks/{id}/deliveries/{delivery_id}/resend`: the delivery is due now,
/// with a fresh retry window; the page shows it pending until the worker sends it.
pub async fn resend(
    State(state): State<AppState>,
    ctx: Ctx,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<Response, UiError> {
    ctx.require(Perm::Admin)?;
    state
        .service
        .resend_webhook_delivery(ctx.company_id(), &id, &delivery_id, &ctx.actor_name())
        .await
        .map_err(|e| ctx.fail(e))?;
    Ok(Redirect::to(&format!("/ui/webhooks/{id}")).into_response())
}
