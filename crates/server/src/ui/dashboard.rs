//! Gösterge paneli: today's collections and approval rate, the last 14 days as a chart
//! (drawn server-side by `plotters` into SVG), decline reasons, payments to review.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{Duration, NaiveDate};
use maud::{html, Markup, PreEscaped};
use plotters::prelude::*;

use sanalpos_core::{Currency, Kurus, Lang};
use sanalpos_service::{PaymentFilter, PaymentStatus};

use super::format::{money, ratio};
use super::layout::{self, Nav};
use super::session::{Ctx, Perm, UiError};
use crate::AppState;

/// What the dashboard shows.
struct Figures {
    today_amount: Kurus,
    today_approved: u64,
    today_declined: u64,
    days: Vec<(NaiveDate, Kurus)>,
    declines: Vec<(String, u64)>,
    review: Vec<(String, String)>,
}

/// The last 14 days of the company, read page by page (at most `MAX_ROWS` payments).
async fn figures(state: &AppState, ctx: &Ctx) -> Result<Figures, UiError> {
    const MAX_ROWS: usize = 20_000;
    let today = sanalpos_service::istanbul_today();
    let first = today - Duration::days(13);
    let from = sanalpos_core::lang::istanbul()
        .from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map(|t| t.with_timezone(&chrono::Utc));
    let mut per_day: BTreeMap<NaiveDate, Kurus> = (0..14)
        .map(|i| (first + Duration::days(i), Kurus::ZERO))
        .collect();
    let mut declines: BTreeMap<String, u64> = BTreeMap::new();
    let mut review = Vec::new();
    let (mut today_amount, mut today_approved, mut today_declined) = (Kurus::ZERO, 0u64, 0u64);
    let mut cursor = None;
    let mut seen = 0usize;
    loop {
        let page = state
            .service
            .list_payments(
                ctx.company_id(),
                PaymentFilter {
                    from,
                    limit: Some(200),
                    cursor: cursor.take(),
                    ..PaymentFilter::default()
                },
            )
            .await
            .map_err(|e| ctx.fail(e))?;
        for p in &page.items {
            let Ok(date) = NaiveDate::parse_from_str(&p.business_date, "%Y-%m-%d") else {
                continue;
            };
            let collected = matches!(
                p.status,
                PaymentStatus::Approved
                    | PaymentStatus::PartiallyRefunded
                    | PaymentStatus::Refunded
            );
            if collected && p.currency == Currency::Try {
                if let Some(sum) = per_day.get_mut(&date) {
                    *sum = sum.checked_add(p.amount).unwrap_or(*sum);
                }
            }
            if date == today {
                if collected {
                    today_approved += 1;
                    if p.currency == Currency::Try {
                        today_amount = today_amount.checked_add(p.amount).unwrap_or(today_amount);
                    }
                }
                if p.status == PaymentStatus::Declined {
                    today_declined += 1;
                }
            }
            if p.status == PaymentStatus::Declined {
                let reason = p
                    .message
                    .as_ref()
                    .map(|m| {
                        if ctx.lang == Lang::Tr {
                            m.tr.clone()
                        } else {
                            m.en.clone()
                        }
                    })
                    .unwrap_or_else(|| p.bank_code.clone().unwrap_or_default());
                *declines.entry(reason).or_default() += 1;
            }
            if let Some(reason) = &p.review_reason {
                review.push((p.id.clone(), reason.clone()));
            }
        }
        seen += page.items.len();
        match page.next_cursor {
            Some(next) if seen < MAX_ROWS => cursor = Some(next),
            _ => break,
        }
    }
    let mut declines: Vec<(String, u64)> = declines.into_iter().collect();
    declines.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(Figures {
        today_amount,
        today_approved,
        today_declined,
        days: per_day.into_iter().collect(),
        declines,
        review,
    })
}

use chrono::TimeZone;

/// The daily collections as an SVG line chart.
fn chart(lang: Lang, days: &[(NaiveDate, Kurus)]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 260)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let max = days
            .iter()
            .map(|(_, k)| k.minor())
            .max()
            .unwrap_or(0)
            .max(100) as f64
            / 100.0;
        let n = days.len().max(1) as i32;
        let labels: Vec<String> = days
            .iter()
            .map(|(d, _)| match lang {
                Lang::Tr => d.format("%d.%m").to_string(),
                Lang::En => d.format("%m-%d").to_string(),
            })
            .collect();
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(28)
            .y_label_area_size(80)
            .build_cartesian_2d(0..(n - 1).max(1), 0f64..max * 1.1)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(days.len())
            .x_label_formatter(&|i| labels.get(*i as usize).cloned().unwrap_or_default())
            .y_label_formatter(&|v| {
                let k = Kurus::from_minor((*v * 100.0).round() as i64).unwrap_or_default();
                lang.amount(k)
            })
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                days.iter()
                    .enumerate()
                    .map(|(i, (_, k))| (i as i32, k.minor() as f64 / 100.0)),
                BLUE.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// `GET /ui/dashboard`.
pub async fn page_handler(state: &AppState, ctx: &Ctx) -> Result<Markup, UiError> {
    ctx.require(Perm::ViewPayments)?;
    let t = ctx.t();
    let f = figures(state, ctx).await?;
    let svg = chart(ctx.lang, &f.days).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "dashboard chart not drawn");
        String::new()
    });
    Ok(layout::page(
        ctx,
        t.nav_dashboard,
        Nav::Dashboard,
        html! {
            div.cards {
                div.card { h2 { (t.today_collections) } p.big #today-amount { (money(ctx.lang, f.today_amount, Currency::Try)) } p { (f.today_approved) " " (t.count) } }
                div.card { h2 { (t.approval_rate) } p.big #approval-rate { (ratio(ctx.lang, f.today_approved, f.today_approved + f.today_declined)) } }
                div.card { h2 { (t.review_waiting) } p.big #review-count { (f.review.len()) } }
            }
            h2 { (t.last_14_days) }
            figure.chart #chart { (PreEscaped(svg)) }
            div.columns {
                section {
                    h2 { (t.decline_reasons) }
                    table.dense #declines {
                        thead { tr { th { (t.reason) } th.num { (t.count) } } }
                        tbody {
                            @for (reason, count) in &f.declines { tr { td { (reason) } td.num { (count) } } }
                            @if f.declines.is_empty() { tr { td colspan="2" { (t.no_data) } } }
                        }
                    }
                }
                section {
                    h2 { (t.review_waiting) }
                    table.dense #review {
                        tbody {
                            @for (id, reason) in &f.review { tr { td { a href=(format!("/ui/payments/{id}")) { (id) } } td { (reason) } } }
                            @if f.review.is_empty() { tr { td { (t.no_data) } } }
                        }
                    }
                }
            }
        },
    ))
}

/// `GET /ui/dashboard`.
pub async fn page(State(state): State<AppState>, ctx: Ctx) -> Result<Markup, UiError> {
    page_handler(&state, &ctx).await
}
