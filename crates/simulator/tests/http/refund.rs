//! Cancel, refund and partial refund around the end of day.

use crate::*;

async fn sale(sim: &TestSim, amount: &str) -> String {
    let v = sim.pay(APPROVED_CARD, amount).await;
    assert_eq!(v["RESPONSE_CODE"], "2");
    v["REFERENCE_CODE"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn same_day_cancel_then_cancel_after_end_of_day_fails() {
    let sim = start().await;
    let reference = sale(&sim, "100.00").await;

    // Not the full amount: 13.
    let v = sim.cancel_refund(&reference, "cancel", "50.00").await;
    assert_eq!(v["ERROR_CODE"], "13");
    // Refund before the day is closed: 12 with its own text.
    let v = sim.cancel_refund(&reference, "refund", "100.00").await;
    assert_eq!(v["ERROR_CODE"], "12");
    assert_eq!(
        v["RESPONSE_DATA"],
        "İade işlemi gün sonundan sonra yapılabilir"
    );

    let v = sim.cancel_refund(&reference, "cancel", "100.00").await;
    assert_eq!(v["RESPONSE_CODE"], "2");
    assert_eq!(v["RESPONSE_DATA"], "İşlem başarılı");
    let cancel_ref = v["REFERENCE_CODE"].as_str().unwrap();
    assert!(cancel_ref.starts_with("IKSIRPF") && cancel_ref != reference);
    // Twice: 12.
    assert_eq!(
        sim.cancel_refund(&reference, "cancel", "100.00").await["ERROR_CODE"],
        "12"
    );

    let day = list_date(today());
    let list = sim.payment_list(&day, &day, "").await;
    let rows = list["LIST"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let sale_row = rows
        .iter()
        .find(|r| r["REFERENCE_CODE"] == reference.as_str())
        .unwrap();
    assert_eq!(sale_row["TRANSACTION_TYPE"], "SALES");
    assert_eq!(sale_row["STATUS"], "SUCCESS");
    assert_eq!(sale_row["IS_CANCELLED"], "true");
    let cancel_row = rows
        .iter()
        .find(|r| r["REFERENCE_CODE"] == cancel_ref)
        .unwrap();
    assert_eq!(cancel_row["TRANSACTION_TYPE"], "CANCEL");
    assert_eq!(cancel_row["SALE_REFERENCE_CODE"], reference.as_str());
    assert_eq!(
        cancel_row["CLIENT_REFERENCE_CODE"],
        sale_row["CLIENT_REFERENCE_CODE"]
    );
    assert_eq!(cancel_row["TRANSACTION_AMOUNT"], "100.00");

    // A second sale, then end of day: cancel is refused with 21.
    let other = sale(&sim, "80.00").await;
    let closed = sim.end_of_day().await;
    assert_eq!(
        closed["closed"][0]["merchant_no"],
        sim.merchant.merchant_no.as_str()
    );
    let v = sim.cancel_refund(&other, "cancel", "80.00").await;
    assert_eq!(v["RESPONSE_CODE"], "0");
    assert_eq!(v["ERROR_CODE"], "21");
    assert_eq!(v["RESPONSE_DATA"], "İşlem İptal Edilemedi");
    // The cancelled sale cannot be refunded.
    assert_eq!(
        sim.cancel_refund(&reference, "refund", "1.00").await["ERROR_CODE"],
        "12"
    );
}

#[tokio::test]
async fn refunds_never_exceed_the_sale() {
    let sim = start().await; // partial refund type: refundp
    let reference = sale(&sim, "100.00").await;
    sim.end_of_day().await;

    // Partial with the other type: TYPE01; an unknown type too.
    let v = sim.cancel_refund(&reference, "refund", "40.00").await;
    assert_eq!(v["ERROR_CODE"], "TYPE01");
    assert_eq!(v["RESPONSE_DATA"], "Geçersiz işlem tipi");
    assert_eq!(
        sim.cancel_refund(&reference, "iade", "40.00").await["ERROR_CODE"],
        "TYPE01"
    );
    // More than the sale: 13.
    let v = sim.cancel_refund(&reference, "refundp", "100.01").await;
    assert_eq!(v["ERROR_CODE"], "13");

    let v = sim.cancel_refund(&reference, "refundp", "40.00").await;
    assert_eq!(v["RESPONSE_CODE"], "2");
    // 60.00 remain: 60.01 is too much, 60.00 with `refund` is the full remainder.
    assert_eq!(
        sim.cancel_refund(&reference, "refund", "60.01").await["ERROR_CODE"],
        "13"
    );
    let v = sim.cancel_refund(&reference, "refund", "60.00").await;
    assert_eq!(v["RESPONSE_CODE"], "2");
    assert_eq!(
        sim.cancel_refund(&reference, "refundp", "0.01").await["ERROR_CODE"],
        "13"
    );
    assert_eq!(
        sim.cancel_refund(&reference, "cancel", "100.00").await["ERROR_CODE"],
        "21"
    );

    let rows = sim.transactions().await;
    let kinds: Vec<&str> = rows.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["SALES", "refundp", "REFUND"]);
    assert_eq!(rows[0]["returned_amount"], "100.00");
    assert_eq!(rows[0]["status"], "SUCCESS");
    assert_eq!(rows[1]["sale_reference_code"], reference.as_str());
}

#[tokio::test]
async fn partial_refund_with_refund_type_merchant() {
    let mut merchant = sanalpos_simulator::MerchantConfig::generate();
    merchant.partial_refund_type = sanalpos_simulator::PartialRefundType::Refund;
    let sim = start_with(merchant, |_| {}).await;
    let reference = sale(&sim, "50.00").await;
    sim.end_of_day().await;
    assert_eq!(
        sim.cancel_refund(&reference, "refundp", "10.00").await["ERROR_CODE"],
        "TYPE01"
    );
    assert_eq!(
        sim.cancel_refund(&reference, "refund", "10.00").await["RESPONSE_CODE"],
        "2"
    );
    assert_eq!(
        sim.cancel_refund(&reference, "refund", "40.00").await["RESPONSE_CODE"],
        "2"
    );
    assert_eq!(
        sim.cancel_refund(&reference, "refund", "0.01").await["ERROR_CODE"],
        "13"
    );
}

#[tokio::test]
async fn cancel_request_checks() {
    let sim = start().await;
    let reference = sale(&sim, "10.00").await;
    let today_trx = today().format("%Y.%m.%d").to_string();

    // Wrong date of the sale: not found.
    let v = sim
        .post(
            "/Vpos/v1/CancelRefundPayment",
            &sim.cancel_fields(&reference, "cancel", "10.00", "2001.01.01"),
        )
        .await;
    assert_eq!(v["ERROR_CODE"], "25");
    assert_eq!(v["RESPONSE_DATA"], "İşlem sistemde bulunamadı");
    // Unknown reference: not found.
    let v = sim
        .cancel_refund("IKSIRPF0000000001", "cancel", "10.00")
        .await;
    assert_eq!(v["ERROR_CODE"], "25");
    // Date in the list format: a format error.
    let v = sim
        .post(
            "/Vpos/v1/CancelRefundPayment",
            &sim.cancel_fields(&reference, "cancel", "10.00", &list_date(today())),
        )
        .await;
    assert_eq!(v["ERROR_CODE"], "AB0001");
    assert!(v["RESPONSE_DATA"].as_str().unwrap().contains("trxDate"));
    // Three decimals.
    let v = sim
        .post(
            "/Vpos/v1/CancelRefundPayment",
            &sim.cancel_fields(&reference, "cancel", "10.000", &today_trx),
        )
        .await;
    assert_eq!(v["ERROR_CODE"], "AB0001");
    // The sales sx is not the cancel sx.
    let mut f = sim.cancel_fields(&reference, "cancel", "10.00", &today_trx);
    set(&mut f, "sx", &sim.merchant.sx.clone());
    assert_eq!(
        sim.post("/Vpos/v1/CancelRefundPayment", &f).await["ERROR_CODE"],
        "AUTH001"
    );
    // Hash over another amount.
    let mut f = sim.cancel_fields(&reference, "cancel", "10.00", &today_trx);
    set(&mut f, "amount", "9.00");
    assert!(is_hash_error(
        &sim.post("/Vpos/v1/CancelRefundPayment", &f).await
    ));
    // A declined sale cannot be cancelled.
    let declined = sim.pay("4000000000000051", "10.00").await;
    let v = sim
        .cancel_refund(
            declined["REFERENCE_CODE"].as_str().unwrap(),
            "cancel",
            "10.00",
        )
        .await;
    assert_eq!(v["ERROR_CODE"], "12");
    assert_eq!(sim.transactions().await.len(), 2);
}
