//! Any JSON that deserializes as a Shopify REST order maps to a canonical
//! order or a clear error, never a panic; amounts stay exact.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(order) = serde_json::from_slice::<chansync_shopify::rest::RestOrder>(data) else {
        return;
    };
    if let Ok(mut o) = chansync_shopify::normalize::from_rest(&order) {
        let before = (o.total, o.subtotal);
        o.canonicalize_amounts();
        assert_eq!(
            (o.total, o.subtotal),
            before,
            "canonical amounts keep their value"
        );
        let _ = serde_json::to_vec(&o).expect("a canonical order serializes");
    }
});
