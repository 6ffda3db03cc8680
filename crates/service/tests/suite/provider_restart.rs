//! A provider restarted in the middle of a call: it has taken the sale when its process
//! goes away, every open connection is cut, new ones are refused while it is down, and
//! it comes back on the same address with its ledger intact (as a real provider's
//! database would be). A proxy in front of the simulator plays the restart.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use crate::helpers::*;
use sanalpos_service::*;
use sanalpos_simulator::MerchantConfig;
use sanalpos_store::testing::for_each_engine;
use sanalpos_store::Crypto;
use tokio::sync::watch;

/// The card the simulator charges at once and answers only after its slow delay.
const SLOW_CARD: &str = "4000000000009011";

/// A TCP proxy that can be stopped (its listener closed, every open connection cut)
/// and started again on the same port.
struct RestartingProxy {
    addr: SocketAddr,
    upstream: String,
    stop: Option<watch::Sender<bool>>,
}

impl RestartingProxy {
    async fn start(upstream: String) -> RestartingProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Some(serve(listener, upstream.clone()));
        RestartingProxy {
            addr,
            upstream,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process dies: connections in flight are cut, new ones refused.
    async fn go_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(true).unwrap();
        }
        // Let the accept loop and the open connections see it.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    /// The process is back on the same address.
    async fn come_back(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.stop = Some(serve(listener, self.upstream.clone()));
    }
}

fn serve(listener: tokio::net::TcpListener, upstream: String) -> watch::Sender<bool> {
    let (stop, stopped) = watch::channel(false);
    let mut accept_stopped = stopped.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((mut inbound, _)) = accepted else { return };
                    let upstream = upstream.clone();
                    let mut cut = stopped.clone();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
                _ = accept_stopped.changed() => return,
            }
        }
    });
    stop
}

#[tokio::test]
async fn a_provider_restarted_mid_call_loses_no_charge_and_charges_nothing_twice() {
    for_each_engine("provider_restarted_mid_call", |store| async move {
        let config = ServiceConfig {
            // Longer than the slow answer (3 s): only the restart can end the call early.
            // The janitor leaves a payment alone for this + 1 s after its last call.
            provider_timeout: Duration::from_secs(4),
            unknown_grace: Duration::from_millis(200),
            ..test_config()
        };
        let service = PaymentService::new(store, Crypto::random(), config);
        let w = world_with(service, "Kesinti Ticaret", MerchantConfig::generate()).await;
        let mut proxy =
            RestartingProxy::start(w.sim.base_url().trim_start_matches("http://").to_owned()).await;
        let pos = second_pos(&w, proxy.url(), "N Kolay (restarting)").await;
        let pay = |number: &'static str, amount: &'static str| {
            let mut p = payment(number, amount);
            p.pos_id = Some(pos.id.clone());
            let (service, actor) = (w.service.clone(), w.actor.clone());
            async move { service.create_payment(&actor, p).await.unwrap() }
        };

        // The sale reaches the provider, which charges it; then the provider restarts
        // before it answers.
        let in_flight = tokio::spawn(pay(SLOW_CARD, "77.00"));
        for _ in 0..100 {
            if !w.ledger().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(w.ledger().len(), 1, "the provider took the sale");
        proxy.go_down().await;
        let cut = in_flight.await.unwrap();
        assert_eq!(cut.status, PaymentStatus::Unknown, "{cut:?}");
        assert!(w.charged(&cut.id).await);

        // While it is down, a sale is refused before anything is sent: provably not
        // charged.
        let refused = pay(APPROVED_CARD, "12.00").await;
        assert_eq!(refused.status, PaymentStatus::Failed, "{refused:?}");
        assert!(!w.charged(&refused.id).await);
        assert_eq!(w.ledger().len(), 1);

        // The janitor's inquiry cannot reach the provider: the payment stays unknown,
        // never failed (the provider did not say it has no such sale).
        let janitor_wait = Duration::from_millis(5_300);
        tokio::time::sleep(janitor_wait).await;
        w.service.run_janitor_once().await.unwrap();
        let detail = w.service.get_payment(&w.company.id, &cut.id).await.unwrap();
        assert_eq!(detail.payment.status, PaymentStatus::Unknown, "{detail:?}");
        assert_eq!(
            detail.attempts.len(),
            2,
            "the inquiry was tried: {detail:?}"
        );

        // Back on the same address: the janitor asks again and finds the charge.
        proxy.come_back().await;
        tokio::time::sleep(janitor_wait).await;
        w.service.run_janitor_once().await.unwrap();
        let detail = w.service.get_payment(&w.company.id, &cut.id).await.unwrap();
        assert_eq!(detail.payment.status, PaymentStatus::Approved, "{detail:?}");
        assert!(detail.payment.auth_code.is_some());

        // Payments go on; the ledger holds each charge once.
        let after = pay(APPROVED_CARD, "13.00").await;
        assert_eq!(after.status, PaymentStatus::Approved, "{after:?}");
        assert_eq!(w.sale_rows(&cut.id).await.len(), 1);
        assert_eq!(w.sale_rows(&after.id).await.len(), 1);
        assert_eq!(w.ledger().len(), 2);
    })
    .await;
}
