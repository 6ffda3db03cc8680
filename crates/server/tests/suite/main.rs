//! The server's integration tests, in one binary: the HTTP API, the hosted checkout,
//! the back office (over HTTP and in a headless browser), webhooks and several
//! instances on one database. `helpers` comes first: its `both_engines!` macro is used
//! by the modules after it.

#[macro_use]
mod helpers;

mod api;
mod checkout;
mod hostile;
mod instances;
mod openapi;
mod payment_filters;
mod pre_auth;
mod recon;
mod statement_profiles;
mod stored_cards;
mod takeover;
mod ui_browser;
mod ui_http;
mod ui_integration;
mod ui_recon;
mod ui_recon_browser;
mod webhooks;
