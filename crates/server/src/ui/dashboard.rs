//! Gösterge paneli: today's collections and approval rate, the last 14 days as a chart
//! (drawn server-side by `plotters` into SVG), decline reasons, payments to review.

use axum::extract::State;
use chrono::NaiveDate;
use maud::{html, Markup, PreEscaped};
use plotters::prelude::*;

use sanalpos_core::{Currency, Kurus, Lang};

use super::format::{money, percent_bp};
use super::layout::{self, Nav};
use super::session::{Ctx, Perm, UiError};
use crate::AppState;

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
            // Room for the last day's label, centred on the right edge.
            .margin_right(28)
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
pub async fn page(State(state): State<AppState>, ctx: Ctx) -> Result<Markup, UiError> {
    ctx.require(Perm::ViewPayments)?;
    let t = ctx.t();
    let d = state
        .service
        .dashboard(ctx.company_id(), chrono::Utc::now())
        .await
        .map_err(|e| ctx.fail(e))?;
    let days: Vec<(NaiveDate, Kurus)> = d
        .last_14_days
        .iter()
        .map(|day| (day.date, day.approved_amount))
        .collect();
    let svg = chart(ctx.lang, &days).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "dashboard chart not drawn");
        String::new()
    });
    let rate = d
        .approval_rate_bp
        .map(|bp| match ctx.lang {
            Lang::Tr => format!("%{}", percent_bp(ctx.lang, bp)),
            Lang::En => format!("{}%", percent_bp(ctx.lang, bp)),
        })
        .unwrap_or_else(|| t.none.to_owned());
    Ok(layout::page(
        &ctx,
        t.nav_dashboard,
        Nav::Dashboard,
        html! {
            @if d.holds_ending_soon > 0 {
                div.notice.warn #holds-ending role="alert" {
                    (t.holds_ending.replace("{n}", &d.holds_ending_soon.to_string())) " "
                    a href="/ui/payments?status=authorized" { (t.see_holds) }
                }
            }
            div.cards {
                div.card {
                    h2 { (t.today_collections) }
                    @for c in &d.today {
                        p.big.today-amount data-currency=(c.currency.alpha()) { (money(ctx.lang, c.approved_amount, c.currency)) }
                        p { (c.approved_count) " " (t.count) }
                    }
                    @if d.today.is_empty() { p.big.today-amount { (money(ctx.lang, Kurus::ZERO, Currency::Try)) } }
                }
                div.card { h2 { (t.approval_rate) } p.big #approval-rate { (rate) } p { (d.today_attempted) " " (t.count) } }
                div.card { h2 { (t.review_waiting) } p.big #review-count { (d.review_count) } }
            div.card { h2 { (t.recon_exceptions) } p.big #recon-exceptions { (d.recon_exceptions) } }
                div.card { h2 { (t.blocked_today) } p.big #blocked-today { a href="/ui/payments?status=blocked" { (d.blocked_today) } } }
            }
            h2 { (t.last_14_days) " (TL)" }
            figure.chart #chart { (PreEscaped(svg)) }
            section {
                h2 { (t.decline_reasons) }
                table.dense #declines {
                    thead { tr { th { (t.bank_code) } th { (t.reason) } th.num { (t.count) } } }
                    tbody {
                        @for r in &d.decline_reasons {
                            tr { td { (r.code) } td { (if ctx.lang == Lang::Tr { &r.message_tr } else { &r.message_en }) } td.num { (r.count) } }
                        }
                        @if d.decline_reasons.is_empty() { tr { td colspan="3" { (t.no_data) } } }
                    }
                }
            }
        },
    ))
}
