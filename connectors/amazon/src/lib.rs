//! The amazon connector (in progress).
