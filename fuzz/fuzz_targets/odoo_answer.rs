//! Any bytes as an answer from Odoo, through everything the connector does
//! with one (`chansync_odoo::fuzzing::odoo_answer`): the JSON-RPC envelope
//! and its errors, JSON-2 error bodies, version info, record field readers,
//! the stock tally, shipment building and the saved shipment cursor. Never
//! panics; the stock tally covers every SKU in every warehouse and every
//! shipment names at least one line with a positive quantity.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| chansync_odoo::fuzzing::odoo_answer(data));
