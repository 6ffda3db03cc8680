//! Order ids at PosNet: the XID of a 3D sale is exactly 20 characters, and every later
//! call (`agreement`, `reverse`, `return` by `orderID`) names an order with 24.
//!
//! A 3D sale is known as `TDSC` + its XID; a non-3D sale as its id left-padded with `0`
//! to 24. We send non-3D sales with the 24-character id already, so sale and queries
//! agree whichever form the bank matches. Our references are at most 24 characters for
//! a non-3D sale; for 3D, a reference longer than 20 keeps its last 20 characters (a
//! generated reference is 24 base62 characters, the time then 16 random ones: the last
//! 20 hold all the random ones, about 95 bits).

/// The length of an XID.
pub const XID_LEN: usize = 20;
/// The length of an order id in queries, cancels and refunds.
pub const ORDER_LEN: usize = 24;
/// The prefix of a 3D sale's order id in later calls.
pub const THREE_D_PREFIX: &str = "TDSC";

/// `id` left-padded with `0` to `len`; `None` when it is longer (the bank would cut it).
pub fn pad(id: &str, len: usize) -> Option<String> {
    (id.len() <= len).then(|| format!("{id:0>len$}"))
}

/// The `orderID` of a non-3D sale and of every later call about it.
pub fn plain_order_id(client_ref: &str) -> Option<String> {
    pad(client_ref, ORDER_LEN)
}

/// The XID of a 3D sale: the reference padded to 20, or its last 20 characters.
pub fn xid(client_ref: &str) -> String {
    match pad(client_ref, XID_LEN) {
        Some(padded) => padded,
        None => client_ref[client_ref.len() - XID_LEN..].to_owned(),
    }
}

/// The `orderID` later calls use for a 3D sale: `TDSC` + XID.
pub fn three_d_order_id(client_ref: &str) -> String {
    format!("{THREE_D_PREFIX}{}", xid(client_ref))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding() {
        assert_eq!(xid("2020110828BC"), "000000002020110828BC");
        assert_eq!(three_d_order_id("10"), "TDSC00000000000000000010");
        assert_eq!(plain_order_id("10").unwrap(), "000000000000000000000010");
        assert_eq!(xid("ABCDEFGHIJKLMNOPQRSTUVWX"), "EFGHIJKLMNOPQRSTUVWX");
        assert!(plain_order_id(&"A".repeat(25)).is_none());
    }
}
