//! The odoo connector (in progress).
