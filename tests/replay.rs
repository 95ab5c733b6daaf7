//! `nfips replay` end to end.
