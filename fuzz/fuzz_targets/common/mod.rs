//! Checks shared by the order-mapping targets.

use chansync_sdk::model::ChannelOrder;

/// A mapped order is already canonical (canonicalizing again changes no
/// amount, not even its scale) and survives a JSON round trip unchanged.
pub fn check_mapped(o: &ChannelOrder) {
    let json = serde_json::to_string(o).expect("a canonical order serializes");
    let mut again = o.clone();
    again.canonicalize_amounts();
    assert_eq!(&again, o, "canonical amounts keep their value");
    assert_eq!(
        serde_json::to_string(&again).expect("serializes"),
        json,
        "a mapped order's amounts are already canonical"
    );
    let back: ChannelOrder = serde_json::from_str(&json).expect("a serialized order reads back");
    assert_eq!(&back, o, "an order survives its JSON round trip");
}
