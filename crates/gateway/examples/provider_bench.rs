//! Provider-layer benchmark: signing and verification throughput, and client-to-simulator
//! round trips per second on loopback.
//!
//! Run: `cargo run --release -p sanalpos-gateway --example provider_bench [-- --sales N]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use sanalpos_core::{CardNumber, ClientRef, Currency, Cvv, Expiry, Kurus, Secret};
use sanalpos_gateway::nkolay::answer::payment_outcome;
use sanalpos_gateway::nkolay::codec::Answer;
use sanalpos_gateway::nkolay::signing::{hash_v2, sign_answer, verify_answer, AnswerHashVariant};
use sanalpos_gateway::nkolay::{Credentials, NkolayConfig, NkolayGateway};
use sanalpos_gateway::{Card, Gateway, Outcome, SaleRequest};
use sanalpos_simulator::cards::DEMO_CARD;
use sanalpos_simulator::{spawn, MerchantConfig, SimConfig};

const SECRET: &str = "_viH5wUS4HiBmmw9uGybN";

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn bench<F: FnMut()>(name: &str, count: u64, mut f: F) {
    // Warm up, then measure.
    for _ in 0..count / 10 {
        f();
    }
    let started = Instant::now();
    for _ in 0..count {
        f();
    }
    let elapsed = started.elapsed();
    println!(
        "{name:<44} {:>12.0} /s   ({:.2} µs each)",
        per_second(count, elapsed),
        elapsed.as_secs_f64() * 1e6 / count as f64
    );
}

fn answer_fields() -> Vec<(&'static str, String)> {
    let mut fields: Vec<(&str, String)> = vec![
        ("RESPONSE_CODE", "2".into()),
        ("RESPONSE_DATA", "İşlem başarılı".into()),
        ("MERCHANT_NO", "400123456".into()),
        ("REFERENCE_CODE", "IKSIRPF0000000001".into()),
        ("AUTH_CODE", "654321".into()),
        ("USE_3D", "false".into()),
        ("RND", "29-11-2026 10:00:00".into()),
        ("INSTALLMENT", "1".into()),
        ("AUTHORIZATION_AMOUNT", "150.00".into()),
        ("CURRENCY_CODE", "949".into()),
    ];
    let hash = sign_answer(
        |k| {
            fields
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.as_str())
        },
        SECRET,
        AnswerHashVariant::WithCurrency,
    );
    fields.push(("hashDataV2", hash));
    fields
}

fn sale(n: u64) -> SaleRequest {
    SaleRequest {
        client_ref: ClientRef::parse(&format!("bench-{n}")).expect("valid reference"),
        amount: Kurus::parse("150.00").expect("valid amount"),
        currency: Currency::Try,
        installments: 1,
        card: Card {
            number: CardNumber::parse(DEMO_CARD.number).expect("test card"),
            expiry: Expiry::parse(DEMO_CARD.expiry_month, DEMO_CARD.expiry_year).expect("expiry"),
            cvv: Cvv::parse(DEMO_CARD.cvv).expect("cvv"),
            holder: "Bench".into(),
        },
        description: None,
        cardholder_ip: None,
        pre_auth: false,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

#[tokio::main]
async fn main() {
    let sales: u64 = std::env::args()
        .skip_while(|a| a != "--sales")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(4000);

    println!("== signing and verification (one core) ==");
    let sx = "118591467|W8a1JLU8A5Cw+HfadVcO6HiR/GGGxr0NkWr2OGythr8fo0YWdw70cvnI6oKMqvzra3Qu+Wa5u0NRil9gRdJmjocVNd4XciDwfD9+pkVqDErw7/pVZfpcSO+GePg+ZvcqFbOO5A==";
    bench("sign a Payment request (hashDatav2)", 200_000, || {
        black_box(hash_v2(
            &[
                sx,
                "client-ref-1",
                "150.00",
                "",
                "",
                "29-11-2026 10:00:00",
                "",
            ],
            black_box(SECRET),
        ));
    });
    let fields = answer_fields();
    bench("verify an answer hash (both variants)", 200_000, || {
        let get = |k: &str| {
            fields
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.as_str())
        };
        black_box(verify_answer(get, black_box(SECRET)).is_ok());
    });
    let body = serde_json::to_string(
        &fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone())))
            .collect::<serde_json::Map<_, _>>(),
    )
    .expect("serializable");
    let amount = Kurus::parse("150.00").expect("valid amount");
    bench("parse answer + verify + success rule", 100_000, || {
        let answer = Answer::parse(black_box(&body)).expect("parses");
        black_box(matches!(
            payment_outcome(&answer, SECRET, amount),
            Outcome::Approved(_)
        ));
    });

    println!("\n== client to simulator over loopback HTTP ==");
    let merchant = MerchantConfig::generate();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let sim = spawn(
        SimConfig {
            merchants: vec![merchant.clone()],
            test_mode: false,
            slow_answer_delay: Duration::from_secs(40),
        },
        listener,
    )
    .await
    .expect("simulator starts");
    let credentials = Credentials {
        sx: Secret::new(merchant.sx.clone()),
        sx_list: Secret::new(merchant.sx_list.clone()),
        sx_cancel: Secret::new(merchant.sx_cancel.clone()),
        secret_key: Secret::new(merchant.secret_key.clone()),
    };
    let gateway =
        NkolayGateway::new(NkolayConfig::new(sim.base_url(), credentials)).expect("client builds");

    // Sequential: one request at a time, latency per call.
    let sequential = sales / 4;
    let mut latencies = Vec::with_capacity(sequential as usize);
    let started = Instant::now();
    for n in 0..sequential {
        let response = gateway.sale(&sale(n)).await;
        assert!(
            matches!(response.outcome, Outcome::Approved(_)),
            "{:?}",
            response.outcome
        );
        latencies.push(response.latency);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    println!(
        "{:<44} {:>12.0} /s   (p50 {:.2} ms, p99 {:.2} ms, {sequential} sales)",
        "non-3D sale, sequential",
        per_second(sequential, elapsed),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );

    // Concurrent: 16 callers sharing one client (connection pool).
    let callers = 16u64;
    let per_caller = sales / callers;
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let gateway = gateway.clone();
            tokio::spawn(async move {
                for n in 0..per_caller {
                    let response = gateway.sale(&sale(1_000_000 + c * per_caller + n)).await;
                    assert!(matches!(response.outcome, Outcome::Approved(_)));
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("caller finished");
    }
    let elapsed = started.elapsed();
    println!(
        "{:<44} {:>12.0} /s   ({} sales, {callers} callers)",
        "non-3D sale, concurrent",
        per_second(callers * per_caller, elapsed),
        callers * per_caller
    );
    sim.shutdown().await;
}
