//! The square connector (in progress).
